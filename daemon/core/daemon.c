// SPDX-License-Identifier: MIT
/*
 * virqd's event loop: one epoll set for the control socket and its clients, the BPF ring
 * buffer, the metrics HTTP server, a sampling timerfd and a signalfd. Signals are only
 * ever seen as signalfd reads in the loop, never in a handler.
 */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "../ctl/ctl.h"
#include "virq/metrics.h"
#include "virq/trace.h"
#include "virq/vmm.h"

/* Epoll sources of the loop itself. */
struct loop_src {
	struct virq_evsrc src;
	struct virqd *d;
};
static struct loop_src sig_src, timer_src, ring_src, http_src, jobs_src;

uint64_t virqd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *virqd_state(struct virqd *d)
{
	if (d->stop)
		snprintf(d->state, sizeof(d->state), "stopping");
	else if (!d->kvm_ok && !d->bpf_ok)
		snprintf(d->state, sizeof(d->state), "degraded (no KVM, no BPF)");
	else if (!d->kvm_ok)
		snprintf(d->state, sizeof(d->state), "degraded (observe-only)");
	else if (!d->bpf_ok)
		snprintf(d->state, sizeof(d->state), "degraded (vmm-only)");
	else
		snprintf(d->state, sizeof(d->state), "running");
	return d->state;
}

static void notify_status(struct virqd *d)
{
	sd_notifyf(0, "STATUS=%s; %u VM(s); kvm: %s; bpf: %s", virqd_state(d), d->nr_vms,
		   d->kvm_ok ? "yes" : d->kvm_why, d->bpf_ok ? "attached" : d->bpf_why);
}

static int epoll_add(struct virqd *d, struct loop_src *s, int fd,
		     void (*ready)(struct virq_evsrc *, uint32_t))
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->src };

	s->src.fd = fd;
	s->src.ready = ready;
	s->d = d;
	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static void sig_ready(struct virq_evsrc *src, uint32_t events)
{
	struct virqd *d = ((struct loop_src *)src)->d;
	struct signalfd_siginfo si;
	char err[VIRQ_CONF_ERR_MAX];

	while (read(src->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			virq_log(LOG_NOTICE, "signal %d: shutting down", (int)si.ssi_signo);
			d->stop = true;
			break;
		case SIGHUP:
			if (virqd_reload(d, err, sizeof(err)))
				virq_log(LOG_ERR,
					 "reload failed, keeping the old configuration: %s", err);
			else
				virq_log(LOG_NOTICE, "configuration reloaded");
			notify_status(d);
			break;
		default:
			break;
		}
	}
}

static void timer_ready(struct virq_evsrc *src, uint32_t events)
{
	struct virqd *d = ((struct loop_src *)src)->d;
	uint64_t exp = 0;

	if (read(src->fd, &exp, sizeof(exp)) != (ssize_t)sizeof(exp) || !exp)
		return;
	d->cnt.ticks++;
	d->cnt.ticks_missed += exp - 1;
	virqd_jobs_reap(&d->jobs); /* also here: a worker's wakeup is never a single point */
	virqd_vms_poll(d);
	virqd_trace_sync(d);
	virqd_sample(d);
}

static void jobs_ready(struct virq_evsrc *src, uint32_t events)
{
	virqd_jobs_reap(&((struct loop_src *)src)->d->jobs);
}

static void ring_ready(struct virq_evsrc *src, uint32_t events)
{
	virqd_trace_ring_ready(((struct loop_src *)src)->d);
}

static void http_ready(struct virq_evsrc *src, uint32_t events)
{
	struct virqd *d = ((struct loop_src *)src)->d;

	virq_metrics_http_dispatch(d->http);
}

static int set_timer(struct virqd *d)
{
	struct itimerspec its = { 0 };

	its.it_interval.tv_sec = d->cfg.sample_ms / 1000;
	its.it_interval.tv_nsec = (long)(d->cfg.sample_ms % 1000) * 1000000L;
	its.it_value = its.it_interval;
	return timerfd_settime(d->timerfd, 0, &its, NULL) ? -errno : 0;
}

/* Resolves the socket group; "" = root only. */
static int resolve_group(const char *name, gid_t *out, char *err, size_t errlen)
{
	struct group *g;

	if (!name || !*name) {
		*out = (gid_t)-1;
		return 0;
	}
	errno = 0;
	g = getgrnam(name);
	if (!g) {
		char *end;
		unsigned long n = strtoul(name, &end, 10);

		if (*end == '\0' && end != name) {
			*out = (gid_t)n;
			return 0;
		}
		snprintf(err, errlen, "unknown group '%s'", name);
		return -ENOENT;
	}
	*out = g->gr_gid;
	return 0;
}

/* The file, then the command line over it. */
static int load_config(const struct virqd_overrides *ov, struct virq_config *cfg, char *err,
		       size_t errlen)
{
	int r;

	virq_config_defaults(cfg);
	r = virq_config_load(cfg, ov->config_path ? ov->config_path : VIRQ_CONF_DEFAULT_PATH,
			     !ov->config_explicit, err, errlen);
	if (r)
		return r;
	if (ov->socket_path)
		snprintf(cfg->socket_path, sizeof(cfg->socket_path), "%s", ov->socket_path);
	if (ov->metrics_addr)
		snprintf(cfg->metrics_addr, sizeof(cfg->metrics_addr), "%s",
			 strcmp(ov->metrics_addr, "off") ? ov->metrics_addr : "");
	if (ov->socket_group)
		snprintf(cfg->socket_group, sizeof(cfg->socket_group), "%s", ov->socket_group);
	if (ov->no_bpf)
		cfg->bpf = false;
	if (ov->no_kvm)
		cfg->kvm = false;
	if (ov->log_level >= 0)
		cfg->log_level = ov->log_level;
	return 0;
}

/* "host:port" or "[v6]:port". */
static int metrics_initialise(struct virqd *d)
{
	struct virq_metrics_http_config hc = { 0 };
	char host[64];
	uint16_t port;
	int r;

	if (!d->cfg.metrics_addr[0]) {
		snprintf(d->metrics_why, sizeof(d->metrics_why), "disabled by configuration");
		return 0;
	}
	/* The file was checked by the parser; --metrics was not. */
	if (virq_config_parse_hostport(d->cfg.metrics_addr, host, sizeof(host), &port))
		return -EINVAL;
	hc.addr = host;
	hc.port = port;
	/* Room for a few scrapers and dashboards; a local user holding every slot with idle
	 * connections delays a scrape by at most the idle timeout (then they are closed). */
	hc.max_connections = 64;
	hc.timeout_s = 5;
	d->http = virq_metrics_http_new(&hc);
	if (!d->http) {
		snprintf(d->metrics_why, sizeof(d->metrics_why), "cannot listen on %s: %s",
			 d->cfg.metrics_addr, strerror(errno));
		virq_log(LOG_WARNING, "metrics: %s", d->metrics_why);
		return 0; /* degrade: metrics off, the daemon still serves its socket */
	}
	r = epoll_add(d, &http_src, virq_metrics_http_fd(d->http), http_ready);
	if (r) {
		virq_metrics_http_free(d->http);
		d->http = NULL;
		return r;
	}
	d->metrics_ok = true;
	snprintf(d->metrics_why, sizeof(d->metrics_why), "listening on %s (port %u)",
		 d->cfg.metrics_addr, virq_metrics_http_port(d->http));
	return 0;
}

int virqd_initialise(struct virqd *d, const struct virqd_overrides *ov)
{
	char err[VIRQ_CONF_ERR_MAX] = "";
	struct virq_ctl_opts co = { 0 };
	sigset_t mask;
	int r;

	memset(d, 0, sizeof(*d));
	d->epfd = d->sigfd = d->timerfd = d->jobs.efd = -1;
	d->ov = *ov;
	d->next_vm_id = 1;
	d->start_mono_ns = virqd_now_ns();
	d->start_unix = (double)time(NULL);

	virq_log_init("virqd", ov->log_level >= 0 ? ov->log_level : LOG_INFO);
	r = load_config(ov, &d->cfg, err, sizeof(err));
	if (r) {
		virq_log(LOG_ERR, "configuration: %s", err);
		return r;
	}
	virq_log_set_level(d->cfg.log_level);
	virq_ratelimit_init(&d->anomaly_rl, d->cfg.anomaly_log_per_min, 60ull * 1000000000ull);
	r = resolve_group(d->cfg.socket_group, &d->gid, err, sizeof(err));
	if (r) {
		virq_log(LOG_ERR, "configuration: socket_group: %s", err);
		return r;
	}

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		return -errno;
	/* Signals become epoll events; block them first so none is lost in between. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sigfd < 0 || epoll_add(d, &sig_src, d->sigfd, sig_ready))
		return -errno;
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->timerfd < 0 || set_timer(d) || epoll_add(d, &timer_src, d->timerfd, timer_ready))
		return -errno;
	r = virqd_jobs_init(&d->jobs, d->cfg.max_scenarios);
	if (r || epoll_add(d, &jobs_src, d->jobs.efd, jobs_ready)) {
		virq_log(LOG_ERR, "worker jobs: %s", strerror(r ? -r : errno));
		return r ? r : -errno;
	}

	/* VMM: degrade to observe-only without /dev/kvm. */
	if (!d->cfg.kvm)
		snprintf(d->kvm_why, sizeof(d->kvm_why), "disabled by configuration");
	else
		d->kvm_ok = virq_vmm_available(d->kvm_why, sizeof(d->kvm_why));
	if (!d->kvm_ok)
		virq_log(LOG_WARNING, "VMM unavailable (%s): observe-only", d->kvm_why);

	/* Tracer: degrade to VMM-only without BPF. */
	virqd_trace_initialise(d);
	if (d->trace) {
		int fd = virq_trace_ring_fd(d->trace);

		if (fd >= 0 && epoll_add(d, &ring_src, fd, ring_ready))
			virq_log(LOG_WARNING, "trace: ring buffer not pollable: %s",
				 strerror(errno));
	}

	r = metrics_initialise(d);
	if (r) {
		virq_log(LOG_ERR, "metrics address '%s' invalid", d->cfg.metrics_addr);
		return r;
	}

	co.path = d->cfg.socket_path;
	co.mode = d->cfg.socket_mode;
	co.gid = d->gid;
	co.max_clients = d->cfg.max_clients;
	co.out_max = d->cfg.client_queue_bytes;
	co.max_per_uid = d->cfg.max_clients_per_uid;
	co.idle_timeout_ms = d->cfg.client_idle_timeout_s * 1000u;
	co.line_timeout_ms = d->cfg.client_line_timeout_s * 1000u;
	co.handler = virqd_handle;
	co.handler_ctx = d;
	d->ctl = virq_ctl_create(&co, d->epfd, err, sizeof(err));
	if (!d->ctl) {
		r = -errno;
		virq_log(LOG_ERR, "control socket: %s", err);
		return r;
	}
	virqd_sample(d);
	virq_log(LOG_NOTICE, "listening on %s; %s; kvm: %s; bpf: %s", d->cfg.socket_path,
		 virqd_state(d), d->kvm_ok ? "available" : d->kvm_why,
		 d->bpf_ok ? "attached" : d->bpf_why);
	sd_notify(0, "READY=1");
	notify_status(d);
	return 0;
}

int virqd_run(struct virqd *d)
{
	struct epoll_event evs[64];

	while (!d->stop) {
		int timeout = d->http ? virq_metrics_http_timeout_ms(d->http) : -1;
		int n = epoll_wait(d->epfd, evs, 64, timeout);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			virq_log(LOG_CRIT, "epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct virq_evsrc *s = evs[i].data.ptr;

			s->ready(s, evs[i].events);
		}
		if (n == 0 && d->http)
			virq_metrics_http_dispatch(d->http);
		virq_ctl_reap(d->ctl);
	}
	return 0;
}

int virqd_reload(struct virqd *d, char *err, size_t errlen)
{
	struct virq_config nc;
	gid_t gid;
	int r;

	d->cnt.reloads++;
	r = load_config(&d->ov, &nc, err, errlen);
	if (!r)
		r = resolve_group(nc.socket_group, &gid, err, errlen);
	if (r) {
		d->cnt.reload_errors++;
		return -EINVAL;
	}
	if (strcmp(nc.socket_path, d->cfg.socket_path))
		virq_log(LOG_WARNING, "reload: socket path change needs a restart (keeping %s)",
			 d->cfg.socket_path);
	if (strcmp(nc.metrics_addr, d->cfg.metrics_addr))
		virq_log(LOG_WARNING, "reload: metrics address change needs a restart");
	if (nc.bpf != d->cfg.bpf || nc.kvm != d->cfg.kvm || nc.bpf_kprobes != d->cfg.bpf_kprobes ||
	    nc.bpf_latency_sample != d->cfg.bpf_latency_sample)
		virq_log(LOG_WARNING,
			 "reload: bpf/bpf_kprobes/bpf_latency_sample/kvm changes need a restart");
	snprintf(nc.socket_path, sizeof(nc.socket_path), "%s", d->cfg.socket_path);
	snprintf(nc.metrics_addr, sizeof(nc.metrics_addr), "%s", d->cfg.metrics_addr);
	nc.bpf = d->cfg.bpf;
	nc.bpf_kprobes = d->cfg.bpf_kprobes;
	nc.bpf_latency_sample = d->cfg.bpf_latency_sample;
	nc.kvm = d->cfg.kvm;
	r = virq_ctl_set_access(d->ctl, nc.socket_mode, gid);
	if (r) {
		snprintf(err, errlen, "socket access: %s", strerror(-r));
		d->cnt.reload_errors++;
		return r;
	}
	d->gid = gid;
	virq_ctl_set_limits(d->ctl, nc.max_clients, nc.max_clients_per_uid, nc.client_queue_bytes);
	virq_ctl_set_timeouts(d->ctl, nc.client_idle_timeout_s * 1000u,
			      nc.client_line_timeout_s * 1000u);
	virqd_jobs_set_max(&d->jobs, nc.max_scenarios);
	d->cfg = nc;
	virq_log_set_level(nc.log_level);
	d->anomaly_rl.burst = nc.anomaly_log_per_min;
	set_timer(d);
	virqd_trace_apply_filter(d);
	return 0;
}

void virqd_finalise(struct virqd *d)
{
	sd_notify(0, "STOPPING=1");
	d->stop = true;
	/* Scenario workers first: stopping their VMs makes every injection and mailbox
	 * command fail at once, so they end and their clients get a reply (vm_stopped)
	 * while the socket still exists. A worker inside a long `sleep` action may outlive
	 * the bound: its VM is then left to the process exit. */
	if (d->jobs.running) {
		for (unsigned int i = 0; i < d->nr_vms; i++)
			if (virqd_jobs_key_busy(&d->jobs, d->vms[i].id))
				virq_vm_stop(d->vms[i].vm);
		d->cnt.jobs_abandoned += virqd_jobs_drain(&d->jobs, 5000);
		if (d->cnt.jobs_abandoned)
			virq_log(LOG_WARNING, "%llu scenario worker(s) still running at shutdown",
				 (unsigned long long)d->cnt.jobs_abandoned);
	}
	/* Reverse order of initialisation: stop accepting, then stop VMs (vCPU threads
	 * joined), then detach BPF, then the loop's own fds. */
	virq_ctl_destroy(d->ctl);
	d->ctl = NULL;
	virqd_vms_finalise(d);
	virq_metrics_http_free(d->http);
	d->http = NULL;
	virqd_observed_finalise(d);
	virqd_trace_finalise(d);
	free(d->snap_json);
	d->snap_json = NULL;
	virqd_host_vms_forget();
	if (!d->jobs.running)
		virqd_jobs_fini(&d->jobs);
	if (d->timerfd >= 0)
		close(d->timerfd);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->epfd >= 0)
		close(d->epfd);
	d->timerfd = d->sigfd = d->epfd = -1;
	virq_log(LOG_NOTICE, "stopped");
}
