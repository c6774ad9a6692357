/* SPDX-License-Identifier: MIT */
/*
 * virqd's core (daemon/core/): the event loop and the glue that hosts the subsystems.
 *
 * Initialise/finalise order (chrony's Foo_Initialise/Foo_Finalise, finalised in reverse):
 *   log -> config -> epoll + signalfd + timerfd -> VMM probe -> BPF tracer -> metrics HTTP
 *   -> control socket -> sd_notify READY=1.
 * The control socket comes last so that a client that can connect sees a complete daemon;
 * READY=1 is sent only once the socket listens and tracing is attached or has explicitly
 * degraded (its reason is in `status`).
 *
 * Threading: one thread runs the loop; every function here runs on it. vCPU threads
 * belong to the VMM engine and never touch the control plane. vm.scenario runs on a
 * worker thread (jobs.h) that only calls the VMM's thread-safe API on its VM; the VM cannot
 * be destroyed while the job runs (vm.destroy answers busy), and its reply is sent from
 * the loop when the job is reaped.
 */
#ifndef VIRQ_DAEMON_CORE_H
#define VIRQ_DAEMON_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "jobs.h"
#include "log.h"
#include "vecmap.h"
#include "virq/proto.h"

struct virq_ctl;
struct virq_ctl_client;
struct virq_proto_request;
struct virq_trace;
struct virq_metrics_http;
struct virq_stats_snapshot;
struct virq_vm;
struct cJSON;

#define VIRQD_MAX_VMS 256

/* Command-line overrides, applied over the file (and re-applied on SIGHUP). */
struct virqd_overrides {
	const char *config_path; /* NULL = VIRQ_CONF_DEFAULT_PATH, optional */
	bool config_explicit; /* --config given: a missing file is an error */
	const char *socket_path;
	const char *metrics_addr;
	const char *socket_group;
	bool no_bpf;
	bool no_kvm;
	bool foreground;
	int log_level; /* -1 = from config */
};

struct virqd_vm {
	unsigned int id; /* stable handle, never reused in one daemon lifetime */
	struct virq_vm *vm;
	bool stop_seen; /* its stop was already counted */
	/* Which path each vector came from (vm.inject, scenarios): cross-check input. */
	struct virqd_vecmap vecmap;
	/* BPF attribution: the tracer's cookie of this VM (learnt from its vCPU threads, in
	 * the tracer's thread map or ring records), 0 while unknown. `trace_tainted`: the cookie was used by a VM of
	 * ours destroyed earlier, so the tracer's counts under it mix both VMs. */
	uint32_t trace_vm_id;
	bool trace_tainted;
};

/* Cookies of destroyed VMs (the kernel may reuse a struct kvm address). */
#define VIRQD_RETIRED_IDS 64

/* Daemon-wide counters reported by `status`. */
struct virqd_counters {
	uint64_t ticks; /* sampling timer expirations handled */
	uint64_t ticks_missed; /* expirations merged because the loop was late */
	uint64_t reloads;
	uint64_t reload_errors;
	uint64_t trace_records; /* ring records consumed */
	uint64_t trace_events_sent; /* event lines queued to subscribers */
	uint64_t anomalies; /* anomalies seen (logged or rate-limited) */
	uint64_t vm_failures; /* VMs that stopped on their own (guest crash) */
	uint64_t scenarios_busy; /* vm.scenario refused: limit or same VM */
	uint64_t jobs_abandoned; /* jobs still running at shutdown (their VMs leaked) */
	uint64_t trace_unattributed; /* virqd-process BPF events of no known VM (last xcheck) */
	uint64_t trace_vm_learnt; /* VM cookies learnt from vCPU threads */
};

struct virqd {
	struct virq_config cfg;
	struct virqd_overrides ov;
	int epfd, sigfd, timerfd;
	struct virq_ctl *ctl;
	gid_t gid; /* resolved cfg.socket_group, (gid_t)-1 = root only */
	bool stop;
	uint64_t start_mono_ns;
	double start_unix;

	bool kvm_ok;
	char kvm_why[160];
	bool bpf_ok;
	char bpf_why[256];
	struct virq_trace *trace;
	bool metrics_ok;
	char metrics_why[160];
	struct virq_metrics_http *http;
	char *snap_json; /* latest sample as the /api/v1/stats document, owned */
	uint64_t snap_seq;

	struct virqd_vm vms[VIRQD_MAX_VMS];
	unsigned int nr_vms;
	unsigned int next_vm_id;
	uint32_t retired_ids[VIRQD_RETIRED_IDS];
	unsigned int nr_retired;

	struct virqd_jobs jobs; /* vm.scenario workers */
	unsigned int ctl_subscribers; /* trace subscribers when the ring was last read */

	struct virqd_counters cnt;
	struct virq_ratelimit anomaly_rl;
	char state[64]; /* "running", "degraded: observe-only", ... */
};

/* Everything up to READY=1. 0 or -errno with a logged reason (the process exits 1). */
int virqd_initialise(struct virqd *d, const struct virqd_overrides *ov);
/* Runs until SIGTERM/SIGINT. 0, or -errno when the loop itself failed. */
int virqd_run(struct virqd *d);
/* STOPPING=1, stops every VM, detaches BPF, removes the socket. Accepts a partially
 * initialised daemon (everything zero/-1 that was not set up). */
void virqd_finalise(struct virqd *d);
/* SIGHUP: re-reads the configuration; applies log level, socket group/mode, limits,
 * observe list and VM defaults. A bad file leaves everything as it was. 0 or -EINVAL. */
int virqd_reload(struct virqd *d, char *err, size_t errlen);

/* The state string: "running", "degraded (observe-only: ...)", "degraded (vmm-only: ...)". */
const char *virqd_state(struct virqd *d);

/* The control protocol handler (daemon/core/commands.c); see virq_ctl_handler. */
enum virq_proto_err virqd_handle(void *ctx, struct virq_ctl_client *c,
				 const struct virq_proto_request *req, struct cJSON **result,
				 char *msg, size_t msglen);

/* Observation glue (daemon/core/observe.c). */
/* Opens the tracer per configuration, or records why not in bpf_why. Never fails. */
void virqd_trace_initialise(struct virqd *d);
void virqd_trace_finalise(struct virqd *d);
/* Applies cfg.observe to the tracer's target filter (called at start and on reload). */
void virqd_trace_apply_filter(struct virqd *d);
/* Ring readable: consume and broadcast to subscribers. */
void virqd_trace_ring_ready(struct virqd *d);
/* Ring on exactly while a client streams records; learns our VMs' tracer cookies from the
 * tracer's thread map. Every tick and at each subscription. */
void virqd_trace_sync(struct virqd *d);
/* What the BPF programs saw but could not record, indexed by enum virq_bpf_lost
 * (VIRQ_BPF_LOST__COUNT entries); zeros without a tracer. */
void virqd_trace_lost(struct virqd *d, uint64_t *lost);
/* Builds a fresh stats snapshot from the VMs and the tracer, renders it as JSON into
 * d->snap_json (for metrics.snapshot) and publishes it to the HTTP server. */
void virqd_sample(struct virqd *d);

/* vm.crosscheck: fills the cross-check input from our VMs (VMM, guest, KVM stats, BPF when
 * attributable) and from BPF-observed VMs of other processes; replaces *res with the
 * report's JSON plus a "sources" object. */
enum virq_proto_err virqd_vm_crosscheck(struct virqd *d, const struct virq_proto_request *req,
					struct cJSON **res, char *msg, size_t msglen);

/* Ring records of our own process: learns which tracer cookie belongs to which of our VMs
 * (by the vCPU thread ids). Exposed for tests. Returns true when a new cookie was learnt. */
bool virqd_trace_learn(struct virqd *d, pid_t tid, uint32_t vm_id);

/* VM glue (daemon/core/vms.c). */
struct virqd_vm *virqd_vm_find(struct virqd *d, const char *name_or_id);
/* Removes d->vms[idx] (destroys the VM, retires its tracer cookie). The VM must have no job
 * running. */
void virqd_vm_remove(struct virqd *d, unsigned int idx);
/* Stops and destroys every VM (shutdown). VMs a still-running job uses are stopped but
 * not freed (the process is about to exit; counted in jobs_abandoned). */
void virqd_vms_finalise(struct virqd *d);
/* Checks every VM for a guest-initiated stop; counts and logs (rate-limited). */
void virqd_vms_poll(struct virqd *d);

uint64_t virqd_now_ns(void);
/* Frees host.vms' short-lived snapshot (commands.c; at shutdown). */
void virqd_host_vms_forget(void);

#endif /* VIRQ_DAEMON_CORE_H */
