// SPDX-License-Identifier: MIT
/*
 * metrics_serve: serves synthetic snapshots through the real exporter (virq_metrics_http)
 * from a single epoll loop, the way virqd hosts it: the HTTP server's epoll fd, a 1 s
 * timerfd that samples and publishes a new snapshot, and a signalfd for SIGINT/SIGTERM.
 * Used by tests/e2e/test_prometheus.sh until virqd serves the exporter itself.
 *
 *   metrics_serve [--addr A] [--port P] [--vms N] [--vcpus N] [--port-file F] [--all]
 *
 * Prints "listening on A:P" once bound (and writes P to --port-file).
 */
#include "virq/metrics.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

static struct virq_stats_snapshot *sample(uint32_t vms, uint32_t vcpus, uint64_t tick)
{
	struct virq_stats_snapshot *s = virq_stats_snapshot_new();

	if (s && virq_stats_synthesize(s, vms, vcpus, 42, tick)) {
		virq_stats_snapshot_free(s);
		return NULL;
	}
	return s;
}

int main(int argc, char **argv)
{
	struct virq_metrics_http_config cfg = { .addr = "127.0.0.1", .port = 0 };
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	struct epoll_event ev, evs[8];
	const char *port_file = NULL;
	uint32_t vms = 4, vcpus = 2;
	struct virq_metrics_http *h;
	uint64_t tick = 1;
	int ep, tfd, sfd, hfd, rc = 1;
	sigset_t mask;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--all")) {
			cfg.opts.per_vector = cfg.opts.per_gsi = cfg.opts.kvm_stats = true;
			continue;
		}
		if (!v) {
			fprintf(stderr,
				"usage: %s [--addr A] [--port P] [--vms N] [--vcpus N] "
				"[--port-file F] [--all]\n",
				argv[0]);
			return 2;
		}
		if (!strcmp(a, "--addr"))
			cfg.addr = v;
		else if (!strcmp(a, "--port"))
			cfg.port = (uint16_t)atoi(v);
		else if (!strcmp(a, "--vms"))
			vms = (uint32_t)atoi(v);
		else if (!strcmp(a, "--vcpus"))
			vcpus = (uint32_t)atoi(v);
		else if (!strcmp(a, "--port-file"))
			port_file = v;
		else
			return 2;
		i++;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	h = virq_metrics_http_new(&cfg);
	if (!h) {
		fprintf(stderr, "metrics_serve: %s:%u: %s\n", cfg.addr, cfg.port, strerror(errno));
		return 1;
	}
	virq_metrics_http_publish(h, sample(vms, vcpus, tick));

	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	hfd = virq_metrics_http_fd(h);
	if (ep < 0 || tfd < 0 || sfd < 0 || hfd < 0 || timerfd_settime(tfd, 0, &its, NULL))
		goto out;
	ev.events = EPOLLIN;
	ev.data.fd = tfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = hfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, hfd, &ev))
		goto out;

	printf("listening on %s:%u\n", cfg.addr, virq_metrics_http_port(h));
	fflush(stdout);
	if (port_file) {
		FILE *f = fopen(port_file, "w");

		if (!f)
			goto out;
		fprintf(f, "%u\n", virq_metrics_http_port(h));
		fclose(f);
	}

	for (;;) {
		int n = epoll_wait(ep, evs, 8, virq_metrics_http_timeout_ms(h));

		if (n < 0 && errno != EINTR)
			goto out;
		for (int i = 0; i < n; i++) {
			uint64_t exp;

			if (evs[i].data.fd == sfd) {
				rc = 0;
				goto out;
			}
			if (evs[i].data.fd == tfd && read(tfd, &exp, sizeof(exp)) == sizeof(exp)) {
				struct virq_stats_snapshot *s = sample(vms, vcpus, tick + exp);

				if (s) {
					tick += exp;
					virq_metrics_http_publish(h, s);
				}
			}
		}
		virq_metrics_http_dispatch(h);
	}
out:
	virq_metrics_http_free(h);
	if (ep >= 0)
		close(ep);
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0)
		close(sfd);
	return rc;
}
