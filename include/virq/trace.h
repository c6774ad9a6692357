/* SPDX-License-Identifier: MIT */
/*
 * virq trace: host-wide BPF tracing of KVM interrupt delivery and exits (daemon/trace/).
 *
 * One `struct virq_trace` owns the loaded programs (bpf/virq_trace.bpf.c), their maps and
 * links. Each KVM tracepoint is attached through the cheapest variant the kernel offers,
 * chosen at load time: tp_btf when the kernel's BTF (vmlinux, or the kvm module's) has
 * btf_trace_<name>, else raw_tp (the tracepoint is known to BTF or tracefs), else classic
 * tp/ through tracefs; where the kernel has kprobes and opts.kprobes asks for them,
 * kprobes on __apic_accept_irq and vmx_deliver_posted_interrupt are extra attach points. virq_trace_points() reports each
 * attach point as live, silent or unavailable with the variant used.
 *
 * Tests: BPF_PROG_TEST_RUN cannot run tp_btf (or tp) programs. Every variant calls the
 * same handlers, so the test hook virq_trace_test_run() drives the raw_tp twin of an
 * attach point, which is loaded (never attached unless it is the chosen variant) when
 * opts.test_run or opts.no_attach is set.
 *
 * Threading: a `struct virq_trace` is not internally locked. Open, close and the ring
 * functions belong to one thread (the daemon's event loop). The read functions and the
 * filter functions only touch BPF maps through the bpf() syscall and may be called from
 * any one other thread concurrently with the loop; counts read while events arrive are a
 * consistent snapshot per key, not across keys.
 *
 * Privileges: root, or CAP_BPF + CAP_PERFMON (+ tracefs read access for classic tp/,
 * CAP_SYSLOG for the kvm_sched_in ksym used by vCPU attribution).
 *
 * Errors: fallible functions return 0 or -errno; constructors return NULL with errno set
 * and a human-readable reason in `err`.
 */
#ifndef VIRQ_TRACE_H
#define VIRQ_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "virq/trace_abi.h"

/* ---- loader ------------------------------------------------------------------------ */

enum virq_trace_variant {
	VIRQ_TVAR_NONE = 0, /* not attached */
	VIRQ_TVAR_TP_BTF,
	VIRQ_TVAR_RAW_TP,
	VIRQ_TVAR_TP, /* classic tracepoint through tracefs */
	VIRQ_TVAR_KPROBE,
	VIRQ_TVAR__COUNT
};
const char *virq_trace_variant_name(enum virq_trace_variant v);

enum virq_trace_variant_pref {
	VIRQ_TPREF_AUTO = 0, /* tp_btf, else raw_tp, else tp/, per attach point */
	VIRQ_TPREF_RAW_TP, /* raw_tp only (forced fallback) */
	VIRQ_TPREF_TP, /* classic tp/ only (needs tracefs) */
	VIRQ_TPREF_TP_BTF, /* tp_btf only */
};

struct virq_trace_opts {
	size_t sz; /* sizeof(struct virq_trace_opts), for forward compatibility */
	enum virq_trace_variant_pref pref;
	bool ring; /* enable the opt-in event stream (ring buffer) */
	uint32_t ring_bytes; /* ring size, power of two >= 4096; 0 = 1 MiB */
	uint32_t ring_wakeup_every; /* wake the reader every Nth record; 0 = default (64) */
	bool kprobes; /* also try kprobes (__apic_accept_irq, vmx_deliver_posted_interrupt):
		       * they duplicate the tracepoints at a higher cost per event, so opt-in */
	bool attribute_ioctl; /* resolve the VM of KVM ioctls from the thread's syscall
			       * registers (no syscall hook) */
	bool filter_enabled; /* start with the target filter on and empty (count nothing) */
	bool no_attach; /* load only (BPF_PROG_TEST_RUN tests and benchmarks); implies
			 * test_run */
	bool test_run; /* also load the raw_tp twin of every KVM tracepoint program and the
			* empty baseline program, for virq_trace_test_run() */
	bool test_refuse; /* tests: the tp_btf program of kvm_msi_set_irq is replaced by one
			   * every verifier refuses, to exercise the per-program fallback */
	uint32_t latency_sample; /* latency histograms time one delivery chain (source ->
				  * accept -> injection) in this many per CPU; counters
				  * stay exact. 0 = VIRQ_TRACE_LATENCY_SAMPLE_DEFAULT,
				  * 1 = every chain */
};

/* Fills defaults: AUTO, ring off, kprobes off, ioctl attribution on, all VMs. */
void virq_trace_opts_init(struct virq_trace_opts *o);

struct virq_trace;

/*
 * Loads the programs and attaches every attach point it can. Attach points that fail are
 * recorded (see virq_trace_points) and do not fail the open. A program the verifier
 * refuses (older kernels) is left out with the verifier's reason: its attach point falls
 * back to its next variant (tp_btf, raw_tp, tp) or is reported unavailable with that
 * reason. Attribution that needs a kernel symbol the process cannot see (kvm_sched_in,
 * irqfd_inject in /proc/kallsyms) is reported as an "attr:" point, unavailable with the
 * reason. The open fails only when nothing can be loaded at all (no BPF privilege, no BTF,
 * a map the kernel refuses). Mounts tracefs at
 * /sys/kernel/tracing if it is not mounted and we are root. Owner thread.
 */
struct virq_trace *virq_trace_open(const struct virq_trace_opts *opts, char *err, size_t errlen);
/* Detaches and frees everything. Accepts NULL. Owner thread. */
void virq_trace_close(struct virq_trace *t);

enum virq_trace_point_state {
	VIRQ_TPS_LIVE = 0, /* attached, events seen */
	VIRQ_TPS_SILENT, /* attached, no event yet */
	VIRQ_TPS_UNAVAILABLE, /* not attached; see error */
};
const char *virq_trace_point_state_name(enum virq_trace_point_state s);

struct virq_trace_point {
	const char *name; /* "kvm_msi_set_irq", "kprobe:__apic_accept_irq", ... (static) */
	enum virq_trace_point_state state;
	enum virq_trace_variant variant; /* variant attached, NONE when unavailable */
	uint64_t events; /* events seen so far (sum over CPUs, all VMs, before filtering) */
	char error[128]; /* why unavailable ("" otherwise), e.g. "kprobe: No such file..." */
};

/* Calls cb once per attach point, in a fixed order; stops early if cb returns non-zero
 * and returns that value; else 0. Any thread. */
int virq_trace_points(struct virq_trace *t, int (*cb)(const struct virq_trace_point *p, void *ctx),
		      void *ctx);

/* Number of attach points reported by virq_trace_points(). */
unsigned int virq_trace_nr_points(const struct virq_trace *t);

/* ---- target filter ------------------------------------------------------------------ */

#define VIRQ_TRACE_FILTER_MAX 1024

/* Count only events whose VMM tgid is in tgids[0..n). n == 0 counts nothing.
 * -E2BIG if n > VIRQ_TRACE_FILTER_MAX. Replaces the previous set. Any thread. */
int virq_trace_filter_set(struct virq_trace *t, const pid_t *tgids, size_t n);
/* Count every VM on the host (the default). */
int virq_trace_filter_all(struct virq_trace *t);

/* ---- counters and histograms --------------------------------------------------------- */

/* Calls cb for every counter key with its value summed over CPUs, then for the derived
 * ones (exit_external_interrupt, deliver_posted, deliver_nonposted: computed here from
 * kvm_exit, kvm_apicv_accept_irq and kvm_apic_accept_irq, not counted by the programs).
 * Counts the programs keep in a CPU's key cache are included; a count moving from the
 * cache to its counter during the read shows at the next read, and no counter reads
 * lower than it did the read before. Stops early when cb returns non-zero (returned).
 * Any thread (reads are serialised). */
int virq_trace_read_counters(struct virq_trace *t,
			     int (*cb)(const struct virq_trace_key *k, uint64_t value, void *ctx),
			     void *ctx);
/* Sum of every counter of `event` (all VMs, vCPUs, args) for `tgid` (0 = all tgids). */
uint64_t virq_trace_event_total(struct virq_trace *t, enum virq_trace_event ev, pid_t tgid);

/* Calls cb for every histogram with its per-CPU values summed. Any thread. */
int virq_trace_read_hist(struct virq_trace *t,
			 int (*cb)(const struct virq_trace_hist_key *k,
				   const struct virq_trace_hist_val *v, void *ctx),
			 void *ctx);

/* Calls cb for every VM the programs have seen (vm_id and what KVM told us). */
int virq_trace_read_vms(struct virq_trace *t,
			int (*cb)(uint32_t vm_id, const struct virq_trace_vm *vm, void *ctx),
			void *ctx);

/* Counters, histograms and the point event counts start again from zero: histograms are
 * cleared; counters and point counts keep their kernel values (the programs cache
 * counter slots), and the loader subtracts the values of this moment from later reads
 * (a key with nothing since is not reported). Owner thread. */
int virq_trace_reset(struct virq_trace *t);

/* Global statistic (enum virq_trace_stat) summed over CPUs. */
uint64_t virq_trace_stat(struct virq_trace *t, enum virq_trace_stat s);
/* Ring records lost because the ring buffer was full. */
uint64_t virq_trace_drops(struct virq_trace *t);

/* The VM and vCPU of a vCPU thread, as the programs saw it run (any process's). 0, or
 * -ENOENT when no event of that thread was attributed through its vCPU yet (or the entry
 * was evicted). Any thread. */
int virq_trace_thread(struct virq_trace *t, pid_t tid, struct virq_trace_thread *out);

/* ---- event stream (opt-in ring buffer) ----------------------------------------------- */

/* Epoll-able fd of the ring buffer, or -ENODEV when the ring is off. Owner thread. */
int virq_trace_ring_fd(struct virq_trace *t);
/* Starts (on) or stops writing records into the ring, at run time: a ring nobody reads
 * costs its reservation and submission on every event. On after open with opts.ring.
 * 0, or -ENODEV when the ring is off. Any thread. */
int virq_trace_ring_set_active(struct virq_trace *t, bool on);
/* Waits up to timeout_ms for records and calls cb per record; returns the number of
 * records consumed or -errno. cb returning non-zero stops consumption (returned as -EINTR
 * is NOT used: the count so far is returned). Owner thread. */
int virq_trace_ring_poll(struct virq_trace *t, int timeout_ms,
			 int (*cb)(const struct virq_trace_record *r, void *ctx), void *ctx);
/* Consumes what is available without waiting (call when ring_fd is readable). */
int virq_trace_ring_consume(struct virq_trace *t,
			    int (*cb)(const struct virq_trace_record *r, void *ctx), void *ctx);

/* ---- test and bench hooks ------------------------------------------------------------ */

/* The kernel's own accounting of each loaded program (BPF_ENABLE_STATS run time, while
 * the fd of virq_trace_stats_enable() is open): calls cb per loaded program with its run
 * count and total run time in ns. Stops early when cb returns non-zero. 0 or -errno. */
int virq_trace_prog_stats(struct virq_trace *t,
			  int (*cb)(const char *prog, uint64_t runs, uint64_t run_ns, void *ctx),
			  void *ctx);
/* Turns on the kernel's per-program run-time accounting (costs two clock reads per run)
 * until the returned fd is closed. fd or -errno. */
int virq_trace_stats_enable(void);

/* Runs the raw_tp program of `ev` `repeat` times with ctx = args[0..nargs) (the
 * tracepoint's arguments as u64) through BPF_PROG_TEST_RUN, in the calling thread (so
 * the target filter sees the caller's tgid). It is the raw_tp twin even when the attach
 * point uses tp_btf or tp: they share the handlers. Raw tracepoint test runs take no
 * kernel-side repeat, so this loops; *duration_ns (may be NULL) gets the average wall time
 * per run including the bpf() syscall. ev == VIRQ_TEV__COUNT runs an empty baseline
 * program. Needs opts.test_run or opts.no_attach. 0 or -errno (-ENOENT: program not
 * loaded). Owner thread. */
int virq_trace_test_run(struct virq_trace *t, enum virq_trace_event ev, const uint64_t *args,
			unsigned int nargs, unsigned int repeat, uint32_t *duration_ns);

/* ---- names ------------------------------------------------------------------------- */

const char *virq_trace_event_name(enum virq_trace_event ev); /* "kvm_msi_set_irq", ... */
const char *virq_trace_hist_name(enum virq_trace_hist h); /* "src_to_accept", ... */

/* Log2 histogram bucket of a nanosecond value (what the BPF side computes): 0 for 0 and
 * 1, else floor(log2(ns)), capped at VIRQ_TRACE_HIST_SLOTS - 1. */
unsigned int virq_trace_hist_slot(uint64_t ns);
/* Lower bound in ns of slot i (0 for slot 0). */
uint64_t virq_trace_hist_slot_low(unsigned int slot);
/* Approximate quantile q (0..1) of a histogram: upper bound of the slot where it falls;
 * 0 when the histogram is empty. */
uint64_t virq_trace_hist_quantile(const struct virq_trace_hist_val *v, double q);

/* ---- exit-reason names, from the kernel's own kvm_exit print format ------------------- */

#define VIRQ_ISA_VMX 1 /* KVM_ISA_VMX */
#define VIRQ_ISA_SVM 2 /* KVM_ISA_SVM */

struct virq_exit_names;

/*
 * Parses the `print fmt:` of events/kvm/kvm_exit/format (the whole file text or just the
 * line): its "(REC->isa == 1) ? __print_symbolic(...) : __print_symbolic(...)" tables give
 * the VMX (isa 1) and SVM (isa 2) names. A format with a single table (older kernels,
 * per-vendor formats) is accepted; the table is then used for `default_isa`. NULL with
 * errno EINVAL when no table is found, ENOMEM. The result is immutable: any thread.
 */
struct virq_exit_names *virq_exit_names_parse(const char *text, size_t len,
					      unsigned int default_isa);
/* Reads <tracefs>/events/kvm/kvm_exit/format (tracefs NULL = /sys/kernel/tracing). */
struct virq_exit_names *virq_exit_names_load(const char *tracefs);
void virq_exit_names_free(struct virq_exit_names *n);
/* Name of (isa, reason), or NULL if the kernel does not name it. VMX reasons are matched on
 * their low 16 bits (basic exit reason, SDM Vol. 3C 28.2.1 / Appendix C). */
const char *virq_exit_name(const struct virq_exit_names *n, unsigned int isa, uint32_t reason);
/* Number of names known for isa. */
unsigned int virq_exit_names_count(const struct virq_exit_names *n, unsigned int isa);
/* Is this the external-interrupt exit (VMX basic reason 1, SVM 0x60 SVM_EXIT_INTR)? */
bool virq_exit_is_extint(unsigned int isa, uint32_t reason);

/* Mounts tracefs at /sys/kernel/tracing when missing. 0 if mounted (before or now), else
 * -errno with the reason in err. */
int virq_tracefs_ensure(char *err, size_t errlen);

#endif /* VIRQ_TRACE_H */
