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
struct virq_exit_names;
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

/* An observed VM: a KVM VM of another process (daemon/core/observed.c). */
#define VIRQD_MAX_OBS 64
#define VIRQD_OBS_MAX_VCPUS 64
#define VIRQD_OBS_SCAN_NS 2000000000ull /* /proc scanned at most every 2 s by the timer */
#define VIRQD_OBS_DBG_STATS 6 /* virqd_obs_dbg_names */
extern const char *const virqd_obs_dbg_names[VIRQD_OBS_DBG_STATS];
enum virqd_obs_state {
	VIRQD_OBS_SEEN = 0, /* by the tracer only, its process not (yet) in /proc */
	VIRQD_OBS_RUNNING, /* its process holds a kvm-vm fd */
	VIRQD_OBS_EXITED, /* its process or its last kvm-vm fd is gone: kept, not judged */
};
const char *virqd_obs_state_name(enum virqd_obs_state s);

struct virqd_obs_vm {
	pid_t pid;
	uint32_t vm_id; /* the tracer's cookie of its struct kvm, 0 until a BPF event */
	unsigned int nr_cookies; /* cookies seen for this process (VMs it created) */
	char name[64]; /* as its VMM names it, else KVM's stats id "kvm-PID" */
	bool named; /* name from its command line */
	char stats_id[48];
	const char *kind; /* "qemu", "firecracker", ... (static) */
	unsigned int nr_vm_fds;
	unsigned int nr_vcpus;
	pid_t vcpu_tids[VIRQD_OBS_MAX_VCPUS]; /* by vcpu_id, 0 unknown */
	unsigned int nr_vcpu_tids; /* highest known vcpu_id + 1 */
	enum virqd_obs_state state;
	bool present; /* found in the last /proc scan */
	/* KVM binary stats: our duplicates (pidfd_getfd) of the stats fds the VMM holds, per
	 * vCPU. Held while the VM runs (a stats fd keeps its struct kvm referenced), closed
	 * once it exited. */
	int stats_fd[VIRQD_OBS_MAX_VCPUS];
	uint32_t stats_vcpu[VIRQD_OBS_MAX_VCPUS];
	unsigned int nr_stats;
	bool stats_tried;
	char stats_why[224]; /* why some or all are missing ("" when every vCPU has one) */
	/* kvm_apic_accept_irq per delivery path (the last cross-check's attribution of its
	 * vectors; the timer path is the LAPIC's own vectors), published by the sampler */
	uint64_t path_accepts[8];
	uint64_t path_received[8]; /* kvm_inj_virq per path, cell by cell (observe.c) */
	/* verdict counts of its checks in the last cross-check while it ran (kept, frozen,
	 * once it exited) */
	uint64_t last_verdicts[8];
	uint32_t last_checks;
	/* KVM's stats of the whole VM from debugfs (kvm/PID-FD/<stat>: vCPU stats summed over
	 * its vCPUs), where debugfs is mounted and readable; see observed.c */
	int vm_fd;
	bool dbg_ok;
	char dbg_why[96];
	uint64_t dbg[VIRQD_OBS_DBG_STATS];
	uint64_t first_ns, exited_ns; /* CLOCK_MONOTONIC */
};

/* The last cross-check's verdicts per (VM, delivery path): what /metrics and
 * /api/v1/stats publish, so that every surface carries the same figure. */
#define VIRQD_XC_ROWS 512
#define VIRQD_XC_REFRESH_NS 10000000000ull /* the sampler re-runs it when older */
struct virqd_xc_row {
	char vm[32];
	uint8_t path; /* enum virq_xcheck_path, < VIRQ_XC_PATH__COUNT */
	uint64_t verdicts[8]; /* enum virq_xcheck_verdict */
	uint64_t lost; /* the largest shortfall of its "lost" checks */
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
	uint64_t obs_dropped; /* observed VMs beyond VIRQD_MAX_OBS: not tracked */
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
	struct virq_exit_names *exit_names; /* kvm_exit reason names (tracefs), NULL if none */
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

	struct virqd_xc_row xc_rows[VIRQD_XC_ROWS];
	unsigned int nr_xc_rows;
	uint64_t xc_at_ns; /* CLOCK_MONOTONIC of the last full cross-check, 0 never */

	struct virqd_obs_vm obs[VIRQD_MAX_OBS]; /* observed VMs (observed.c) */
	unsigned int nr_obs;
	uint64_t obs_scanned_ns;

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
/* console.c: vm.console's result for VM v: up to max bytes from position `from`. */
enum virq_proto_err virqd_vm_console(struct virqd_vm *v, uint64_t from, uint64_t max,
				     struct cJSON *res, char *msg, size_t msglen);
uint64_t virqd_console_max(void);

/* vm.stats "sources" of VM v (include/virq/irqsrc.h; documented in proto.h): per vCPU
 * interrupts by source, from our LAPICs (user mode) or BPF (kernel/split mode), or
 * "available": false with the reason. Loop thread. */
void virqd_vm_sources_json(struct virqd *d, struct virqd_vm *v, struct cJSON *res);

enum virq_proto_err virqd_vm_crosscheck(struct virqd *d, const struct virq_proto_request *req,
					struct cJSON **res, char *msg, size_t msglen);

/* Ring records of our own process: learns which tracer cookie belongs to which of our VMs
 * (by the vCPU thread ids). Exposed for tests. Returns true when a new cookie was learnt. */
bool virqd_trace_learn(struct virqd *d, pid_t tid, uint32_t vm_id);

/* Observed VMs (daemon/core/observed.c): rescans /proc (at most every VIRQD_OBS_SCAN_NS
 * unless force) and the tracer's VMs, marks VMs gone as exited, forgets exited ones after
 * cfg.obs_keep_exited_s. Event loop thread. */
void virqd_observed_refresh(struct virqd *d, bool force);
/* Seconds since an exited VM exited (0 if it has not). */
double virqd_obs_exited_ago(const struct virqd_obs_vm *o);
/* "vmm-stats-fds" (every vCPU), "partial", "unavailable" (see o->stats_why). */
const char *virqd_obs_stats_how(const struct virqd_obs_vm *o);
/* Closes what the model holds (stats fds). */
void virqd_observed_finalise(struct virqd *d);

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
