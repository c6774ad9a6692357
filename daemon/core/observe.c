// SPDX-License-Identifier: MIT
/*
 * Observation glue: the BPF tracer's life cycle and target filter, the event stream, the
 * per-tick statistics snapshot and the cross-check inputs. This file only translates
 * between the VMM, trace, stats and xcheck vocabularies; none of them knows the others.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "daemon.h"
#include "../ctl/ctl.h"
#include "virq/irqsrc.h"
#include "virq/metrics.h"
#include "virq/stats.h"
#include "virq/trace.h"
#include "virq/vmm.h"
#include "virq/vmm_guest.h"
#include "virq/vmm_kvm.h"
#include "virq/xcheck.h"

/* ---- tracer ---------------------------------------------------------------------------- */

void virqd_trace_initialise(struct virqd *d)
{
	struct virq_trace_opts o;
	char err[256] = "";

	if (!d->cfg.bpf) {
		snprintf(d->bpf_why, sizeof(d->bpf_why), "disabled by configuration");
		return;
	}
	virq_trace_opts_init(&o);
	o.ring = true; /* written only while a client streams (virqd_trace_sync) */
	o.kprobes = d->cfg.bpf_kprobes;
	o.latency_sample = d->cfg.bpf_latency_sample;
	d->trace = virq_trace_open(&o, err, sizeof(err));
	if (!d->trace) {
		snprintf(d->bpf_why, sizeof(d->bpf_why), "%s", err[0] ? err : strerror(errno));
		virq_log(LOG_WARNING, "BPF tracer unavailable (%s): VMM only", d->bpf_why);
		return;
	}
	d->bpf_ok = true;
	/* kvm_exit reasons by name, from the kernel's own format (absent: numbers) */
	d->exit_names = virq_exit_names_load(NULL);
	virqd_trace_apply_filter(d);
	virqd_trace_sync(d);
}

void virqd_trace_finalise(struct virqd *d)
{
	virq_exit_names_free(d->exit_names);
	d->exit_names = NULL;
	virq_trace_close(d->trace);
	d->trace = NULL;
	d->bpf_ok = false;
}

/* Adds the pids whose comm equals `comm`. */
static size_t add_comm_pids(const char *comm, pid_t *out, size_t n, size_t max)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;

	if (!dir)
		return n;
	while (n < max && (de = readdir(dir))) {
		char path[300], c[32] = "";
		FILE *f;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(c, sizeof(c), f)) {
			c[strcspn(c, "\n")] = '\0';
			if (!strcmp(c, comm))
				out[n++] = (pid_t)atoi(de->d_name);
		}
		fclose(f);
	}
	closedir(dir);
	return n;
}

void virqd_trace_apply_filter(struct virqd *d)
{
	pid_t tgids[VIRQ_CONF_OBSERVE_MAX * 8 + 1];
	size_t n = 0;
	int r;

	if (!d->trace)
		return;
	if (d->cfg.nr_observe == 0) {
		r = virq_trace_filter_all(d->trace);
	} else {
		tgids[n++] = getpid(); /* our own VMs are always observed */
		for (unsigned int i = 0; i < d->cfg.nr_observe; i++) {
			const struct virq_observe *o = &d->cfg.observe[i];

			if (o->kind == VIRQ_OBSERVE_PID && n < sizeof(tgids) / sizeof(tgids[0]))
				tgids[n++] = o->pid;
			else if (o->kind == VIRQ_OBSERVE_COMM)
				n = add_comm_pids(o->comm, tgids, n,
						  sizeof(tgids) / sizeof(tgids[0]));
		}
		r = virq_trace_filter_set(d->trace, tgids, n);
	}
	if (r)
		virq_log(LOG_WARNING, "trace filter: %s", strerror(-r));
}

struct ring_ctx {
	struct virqd *d;
	pid_t pid;
	unsigned int records;
};

/* v's cookie is vm_id, unless another of our VMs has it already. */
static bool learn_vm(struct virqd *d, struct virqd_vm *v, uint32_t vm_id)
{
	if (vm_id == VIRQ_TRACE_VM_NONE)
		return false;
	for (unsigned int i = 0; i < d->nr_vms; i++)
		if (d->vms[i].trace_vm_id == vm_id)
			return false;
	/* A cookie is the struct kvm address: a VM of ours destroyed earlier may have had
	 * it, and the tracer's counts under it mix both. */
	v->trace_tainted = false;
	for (unsigned int j = 0; j < d->nr_retired && j < VIRQD_RETIRED_IDS; j++)
		if (d->retired_ids[j] == vm_id)
			v->trace_tainted = true;
	v->trace_vm_id = vm_id;
	d->cnt.trace_vm_learnt++;
	return true;
}

bool virqd_trace_learn(struct virqd *d, pid_t tid, uint32_t vm_id)
{
	pid_t tids[VIRQ_VM_MAX_VCPUS];

	if (tid <= 0)
		return false;
	for (unsigned int i = 0; i < d->nr_vms; i++) {
		struct virqd_vm *v = &d->vms[i];
		int n = virq_vm_threads(v->vm, tids, VIRQ_VM_MAX_VCPUS);

		for (int k = 0; k < n; k++)
			if (tids[k] == tid)
				return learn_vm(d, v, vm_id);
	}
	return false;
}

static int ring_cb(const struct virq_trace_record *r, void *ctx)
{
	struct ring_ctx *rc = ctx;
	struct virqd *d = rc->d;
	cJSON *o;
	char *f;
	size_t len;

	rc->records++;
	/* BPF attribution: a record from one of our vCPU threads names its VM's cookie. */
	if ((pid_t)r->key.tgid == rc->pid && r->key.vm_id != VIRQ_TRACE_VM_NONE &&
	    r->key.vcpu_id != VIRQ_TRACE_VCPU_NONE)
		virqd_trace_learn(d, (pid_t)r->tid, r->key.vm_id);
	if (!d->ctl || !d->ctl_subscribers)
		return 0;
	o = cJSON_CreateObject();
	if (!o)
		return 0;
	cJSON_AddNumberToObject(o, "ts_ns", (double)r->ts_ns);
	cJSON_AddStringToObject(o, "ev", virq_trace_event_name(r->key.event));
	cJSON_AddNumberToObject(o, "tgid", r->key.tgid);
	cJSON_AddNumberToObject(o, "vm", r->key.vm_id);
	cJSON_AddNumberToObject(
		o, "vcpu", r->key.vcpu_id == VIRQ_TRACE_VCPU_NONE ? -1 : (double)r->key.vcpu_id);
	cJSON_AddNumberToObject(o, "arg", r->key.arg);
	cJSON_AddNumberToObject(o, "aux", r->key.aux);
	cJSON_AddNumberToObject(o, "tid", r->tid);
	cJSON_AddNumberToObject(o, "cpu", r->cpu);
	f = virq_proto_event("trace", o, &len);
	if (f) {
		d->cnt.trace_events_sent += virq_ctl_broadcast(d->ctl, f, len);
		free(f);
	}
	return 0;
}

/* The cookies of our VMs not known yet, from their vCPU threads' entries in the tracer's
 * thread map (written when a thread's events are first attributed through its vCPU). */
static void learn_from_threads(struct virqd *d)
{
	pid_t tids[VIRQ_VM_MAX_VCPUS], pid = getpid();
	struct virq_trace_thread th;

	for (unsigned int i = 0; i < d->nr_vms; i++) {
		struct virqd_vm *v = &d->vms[i];
		int n;

		if (v->trace_vm_id)
			continue;
		n = virq_vm_threads(v->vm, tids, VIRQ_VM_MAX_VCPUS);
		for (int k = 0; k < n && !v->trace_vm_id; k++)
			if (!virq_trace_thread(d->trace, tids[k], &th) && (pid_t)th.tgid == pid)
				learn_vm(d, v, th.vm_id);
	}
}

static void refresh_subscribers(struct virqd *d)
{
	struct virq_ctl_stats st;

	if (d->ctl) {
		virq_ctl_get_stats(d->ctl, &st);
		d->ctl_subscribers = st.subscribers;
	}
}

void virqd_trace_lost(struct virqd *d, uint64_t *lost)
{
	static const enum virq_trace_stat from[VIRQ_BPF_LOST__COUNT] = {
		[VIRQ_BPF_LOST_COUNTER_FULL] = VIRQ_TSTAT_COUNTER_FULL,
		[VIRQ_BPF_LOST_HIST_FULL] = VIRQ_TSTAT_HIST_FULL,
		[VIRQ_BPF_LOST_PAIR_DISPLACED] = VIRQ_TSTAT_PENDING_FULL,
	};

	for (int w = 0; w < VIRQ_BPF_LOST__COUNT; w++)
		lost[w] = d->trace ? virq_trace_stat(d->trace, from[w]) : 0;
}

void virqd_trace_sync(struct virqd *d)
{
	if (!d->trace)
		return;
	refresh_subscribers(d);
	/* Records are written only while a client streams them. */
	virq_trace_ring_set_active(d->trace, d->ctl_subscribers > 0);
	learn_from_threads(d);
}

void virqd_trace_ring_ready(struct virqd *d)
{
	struct ring_ctx rc = { .d = d, .pid = getpid() };

	if (!d->trace)
		return;
	refresh_subscribers(d);
	virq_trace_ring_consume(d->trace, ring_cb, &rc);
	d->cnt.trace_records += rc.records;
}

/* ---- statistics snapshot ------------------------------------------------------------------ */

static enum virq_vm_mode stats_mode(enum virq_irqchip_mode m)
{
	return m == VIRQ_IRQCHIP_KERNEL ? VIRQ_VM_MODE_KERNEL :
	       m == VIRQ_IRQCHIP_SPLIT	? VIRQ_VM_MODE_SPLIT :
					  VIRQ_VM_MODE_USER;
}

/* xcheck's paths and the exported ones are the same list in the same order. */
_Static_assert((int)VIRQ_XC_PATH_POSTED == (int)VIRQ_SPATH_POSTED &&
		       (int)VIRQ_XC_PATH_PIC == (int)VIRQ_SPATH_PIC &&
		       (int)VIRQ_XC_PATH__COUNT == (int)VIRQ_SPATH__COUNT,
	       "path enums differ");

static void sample_own_vm(struct virq_stats_snapshot *s, struct virqd_vm *v,
			  struct virq_kvm_stat *ks, size_t ks_max, struct virq_guest_ledger *gl)
{
	const struct virq_vm_config *cfg = virq_vm_get_config(v->vm);
	struct virq_stats_vm *sv;
	struct virq_vmm_ledger vl;
	int nk;

	sv = virq_stats_add_vm(s, virq_vm_name(v->vm), stats_mode(cfg->irqchip),
			       VIRQ_VM_ORIGIN_STARTED, cfg->nr_vcpus, getpid());
	if (!sv) {
		s->stats_dropped++;
		return;
	}
	if (virq_vm_vmm_ledger(v->vm, &vl) == 0) {
		for (int p = 0; p < VIRQ_PATH__COUNT; p++) {
			int sp = virq_stats_path_from_irq(p);

			if (sp < 0)
				continue;
			sv->path[sp].injected += vl.path_injected[p];
			sv->path[sp].coalesced += vl.path_coalesced[p];
		}
	}
	for (uint32_t c = 0; c < cfg->nr_vcpus; c++) {
		struct virq_vcpu_exits ex;

		if (virq_vm_exits(v->vm, c, &ex))
			continue;
		for (uint32_t r = 0; r < VIRQ_EXIT_REASONS; r++) {
			const char *name = virq_kvm_exit_name(r);
			char num[16];

			if (!ex.by_reason[r])
				continue;
			if (!name) {
				snprintf(num, sizeof(num), "%u", r);
				name = num;
			}
			if (virq_stats_vm_add_exit(sv, (int32_t)c, VIRQ_EXIT_SRC_VMM, name,
						   ex.by_reason[r]))
				s->stats_dropped++;
		}
	}
	nk = virq_vm_kvm_stats(v->vm, ks, ks_max);
	for (int i = 0; i < nk && (size_t)i < ks_max; i++) {
		int32_t vc = ks[i].vcpu < 0 ? VIRQ_STATS_VCPU_VM : ks[i].vcpu;
		size_t ln = strlen(ks[i].name);

		if (virq_stats_vm_add_kvm_stat(sv, vc, ks[i].name, ks[i].value))
			s->stats_dropped++;
		/* KVM's own exit counters ("exits", "halt_exits", ...) per vCPU, next to the
		 * VMM's: the dashboard compares the two sources. */
		if (ks[i].vcpu >= 0 &&
		    (!strcmp(ks[i].name, "exits") ||
		     (ln > 6 && !strcmp(ks[i].name + ln - 6, "_exits"))) &&
		    virq_stats_vm_add_exit(sv, vc, VIRQ_EXIT_SRC_KVM_STATS, ks[i].name,
					   ks[i].value))
			s->stats_dropped++;
	}
	/* What the guest received, by the path its vector is known to come on (vecmap.h);
	 * vectors of unknown or conflicting path are not exported by path. */
	if (gl) {
		for (uint32_t c = 0; c < cfg->nr_vcpus; c++) {
			if (virq_vm_guest_ledger(v->vm, c, gl))
				continue;
			for (int vec = 0; vec < VIRQ_NR_VECTORS; vec++) {
				uint8_t p = v->vecmap.path[vec];

				if (p < VIRQ_SPATH__COUNT &&
				    v->vecmap.other[vec] == VIRQ_XC_PATH_NONE)
					sv->path[p].received += gl->vec[vec].count;
			}
		}
	}
}

static int point_to_stats(const struct virq_trace_point *p, void *ctx)
{
	struct virq_stats_snapshot *s = ctx;
	enum virq_attach_state st = p->state == VIRQ_TPS_LIVE	? VIRQ_ATTACH_LIVE :
				    p->state == VIRQ_TPS_SILENT ? VIRQ_ATTACH_SILENT :
								  VIRQ_ATTACH_UNAVAILABLE;

	if (virq_stats_add_bpf_point(s, p->name, virq_trace_variant_name(p->variant), st,
				     p->events))
		s->stats_dropped++;
	return 0;
}

/* Observed VMs: one stats VM per VM of the observed-VM model (observed.c), named and
 * sized as there. */
struct obs_ctx {
	struct virq_stats_snapshot *s;
	const struct virq_exit_names *names;
	uint32_t ids[VIRQ_STATS_MAX_VMS];
	pid_t tgids[VIRQ_STATS_MAX_VMS];
	bool only_vm[VIRQ_STATS_MAX_VMS];
	struct virq_stats_vm *vms[VIRQ_STATS_MAX_VMS];
	unsigned int n;
};

static void obs_to_stats(struct virqd *d, struct obs_ctx *oc)
{
	for (unsigned int i = 0; i < d->nr_obs && oc->n < VIRQ_STATS_MAX_VMS; i++) {
		const struct virqd_obs_vm *o = &d->obs[i];
		struct virq_stats_vm *sv;

		sv = virq_stats_add_vm(oc->s, o->name, VIRQ_VM_MODE_OBSERVED,
				       VIRQ_VM_ORIGIN_OBSERVED, o->nr_vcpus, (int32_t)o->pid);
		if (!sv) {
			oc->s->stats_dropped++;
			continue;
		}
		/* The LAPIC's own interrupts (timer, LINT) have no source event: their accepts,
		 * as the last cross-check attributed the VM's vectors. */
		sv->path[VIRQ_SPATH_TIMER].injected = o->path_accepts[VIRQ_XC_PATH_TIMER];
		/* what KVM injected into the guest per path (the last cross-check's reading) */
		for (int p = 0; p < VIRQ_SPATH__COUNT && p < VIRQ_XC_PATH__COUNT; p++)
			sv->path[p].received = o->path_received[p];
		sv->exited = o->state == VIRQD_OBS_EXITED;
		/* KVM's own counts of the whole VM (debugfs), beside the per-vCPU BPF ones */
		for (int k = 0; o->dbg_ok && !sv->exited && k < VIRQD_OBS_DBG_STATS; k++)
			if (virq_stats_vm_add_kvm_stat(sv, VIRQ_STATS_VCPU_VM,
						       virqd_obs_dbg_names[k], o->dbg[k]))
				oc->s->stats_dropped++;
		oc->ids[oc->n] = o->vm_id;
		oc->tgids[oc->n] = o->pid;
		oc->only_vm[oc->n] = o->nr_vm_fds <= 1 && o->nr_cookies <= 1;
		oc->vms[oc->n++] = sv;
	}
}

/* The observed VM an event counts for: its cookie, or its process's when the process has
 * one VM and the event named none (an irqfd written by one of its threads). */
static struct virq_stats_vm *obs_stats_vm(const struct obs_ctx *oc, const struct virq_trace_key *k)
{
	for (unsigned int i = 0; i < oc->n; i++)
		if ((oc->ids[i] && oc->ids[i] == k->vm_id) ||
		    (k->vm_id == VIRQ_TRACE_VM_NONE && oc->only_vm[i] &&
		     (pid_t)k->tgid == oc->tgids[i]))
			return oc->vms[i];
	return NULL;
}

/*
 * A kvm_msi_set_irq with a vCPU is no delivery: with a split irqchip KVM decodes every
 * IOAPIC MSI route at each route scan (vcpu_scan_ioapic -> kvm_scan_ioapic_routes ->
 * kvm_set_msi_irq, which fires the tracepoint), inside KVM_RUN with the vCPU loaded, to
 * learn which level vectors need EOI exits. Deliveries come from no vCPU: the VM fd
 * (KVM_SIGNAL_MSI), an irqfd's wakeup or KVM_IRQ_LINE, which the BPF program resolves
 * to the VM alone. Seen on our split VMs (the VMM's KVM_SIGNAL_MSI count matches the
 * rest) and applies to QEMU's kernel-irqchip=split alike.
 */
static bool route_scan(const struct virq_trace_key *k)
{
	return k->event == VIRQ_TEV_MSI_SET_IRQ && k->vcpu_id != VIRQ_TRACE_VCPU_NONE;
}

static int counter_to_stats(const struct virq_trace_key *k, uint64_t value, void *ctx)
{
	struct obs_ctx *oc = ctx;
	struct virq_stats_vm *sv = obs_stats_vm(oc, k);
	uint32_t dm = VIRQ_TKF_DM(k->flags);
	int path = -1;

	if (!sv || route_scan(k))
		return 0;
	switch (k->event) {
	case VIRQ_TEV_MSI_SET_IRQ:
	case VIRQ_TEV_APIC_IPI:
		/* Fixed and lowest-priority messages on their path; NMIs on the NMI path;
		 * INIT, SIPI and de-assertions are no interrupts. */
		if (k->flags & VIRQ_TKF_DEASSERT)
			return 0;
		if (dm == VIRQ_DM_NMI)
			path = VIRQ_SPATH_NMI;
		else if (dm <= VIRQ_DM_LOWEST)
			path = k->event == VIRQ_TEV_MSI_SET_IRQ ? VIRQ_SPATH_MSI : VIRQ_SPATH_IPI;
		else
			return 0;
		break;
	case VIRQ_TEV_IOAPIC_SET_IRQ:
	case VIRQ_TEV_PIC_SET_IRQ:
		/* One GSI assertion feeds both chips: each counts only what it passed on
		 * (neither masked nor a de-assertion); what it coalesced is its coalesced. */
		if (k->flags & (VIRQ_TKF_DEASSERT | VIRQ_TKF_MASKED | VIRQ_TKF_LINE_UNKNOWN))
			return 0;
		path = k->event == VIRQ_TEV_PIC_SET_IRQ ? VIRQ_SPATH_PIC : VIRQ_SPATH_IOAPIC;
		if (k->flags & VIRQ_TKF_COALESCED) {
			sv->path[path].coalesced += value;
			return 0;
		}
		break;
	case VIRQ_TEV_APICV_ACCEPT_IRQ:
		path = VIRQ_SPATH_POSTED;
		break;
	case VIRQ_TEV_EXIT: {
		/* Exits per vCPU by hardware reason, named as the kernel's kvm_exit names them. */
		unsigned int isa = (k->flags >> VIRQ_TKF_ISA_SHIFT) & VIRQ_TKF_ISA_MASK;
		const char *n = oc->names ? virq_exit_name(oc->names, isa, k->arg) : NULL;
		char buf[32];

		if (!n) {
			snprintf(buf, sizeof(buf), "reason_%#x", k->arg);
			n = buf;
		}
		if (virq_stats_vm_add_exit(sv,
					   k->vcpu_id == VIRQ_TRACE_VCPU_NONE ? VIRQ_STATS_VCPU_VM :
										(int32_t)k->vcpu_id,
					   VIRQ_EXIT_SRC_BPF, n, value))
			oc->s->stats_dropped++;
		return 0;
	}
	case VIRQ_TEV_USERSPACE_EXIT: {
		/* Returns of KVM_RUN to the VMM (kvm_userspace_exit), per vCPU, by the
		 * kvm_run exit reason: "vmm:IO", "vmm:MMIO", ... beside the hardware reasons. */
		const char *n = virq_kvm_exit_name(k->arg);
		char buf[40];

		if (!n)
			return 0;
		snprintf(buf, sizeof(buf), "vmm:%s", n);
		if (virq_stats_vm_add_exit(sv,
					   k->vcpu_id == VIRQ_TRACE_VCPU_NONE ? VIRQ_STATS_VCPU_VM :
										(int32_t)k->vcpu_id,
					   VIRQ_EXIT_SRC_BPF, buf, value))
			oc->s->stats_dropped++;
		return 0;
	}
	default:
		return 0;
	}
	sv->path[path].injected += value;
	return 0;
}

static int hist_to_stats(const struct virq_trace_hist_key *k, const struct virq_trace_hist_val *v,
			 void *ctx)
{
	struct obs_ctx *oc = ctx;

	if (k->hist != VIRQ_THIST_SRC_TO_ACCEPT)
		return 0;
	for (unsigned int i = 0; i < oc->n; i++) {
		if (!oc->ids[i] || oc->ids[i] != k->vm_id)
			continue;
		for (int sl = 0; sl < VIRQ_STATS_HIST_SLOTS && sl < VIRQ_TRACE_HIST_SLOTS; sl++)
			oc->vms[i]->latency[VIRQ_SPATH_MSI].slot[sl] += v->slots[sl];
		oc->vms[i]->latency[VIRQ_SPATH_MSI].sum_ns += v->sum_ns;
	}
	return 0;
}

static void xc_rows_to_stats(struct virqd *d, struct virq_stats_snapshot *s);

/* Re-runs the full cross-check when the last one is older than VIRQD_XC_REFRESH_NS, so
 * that the published verdicts are at most that old (a `virqctl crosscheck` in between
 * renews them, and the next sample publishes exactly its figures). */
static void xc_refresh(struct virqd *d)
{
	struct virq_proto_request req = { 0 };
	struct timespec ts;
	cJSON *res = NULL;
	char msg[160];
	uint64_t now;

	if (!d->trace && !d->nr_vms)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (d->xc_at_ns && now - d->xc_at_ns < VIRQD_XC_REFRESH_NS)
		return;
	virqd_vm_crosscheck(d, &req, &res, msg, sizeof(msg));
	cJSON_Delete(res);
}

void virqd_sample(struct virqd *d)
{
	enum { KS_MAX = 4096 };
	struct virq_stats_snapshot *s = virq_stats_snapshot_new();
	struct virq_kvm_stat *ks = calloc(KS_MAX, sizeof(*ks));
	struct obs_ctx *oc = calloc(1, sizeof(*oc));
	struct virq_guest_ledger *gl = d->nr_vms ? malloc(sizeof(*gl)) : NULL;
	struct timespec now;
	char *json = NULL;
	size_t len;

	if (!s || !ks || !oc)
		goto out;
	clock_gettime(CLOCK_REALTIME, &now);
	s->seq = ++d->snap_seq;
	s->taken_unix_ns = (int64_t)now.tv_sec * 1000000000ll + now.tv_nsec;
	s->daemon_start_unix = d->start_unix;
	for (unsigned int i = 0; i < d->nr_vms; i++)
		sample_own_vm(s, &d->vms[i], ks, KS_MAX, gl);
	oc->s = s;
	oc->names = d->exit_names;
	virqd_observed_refresh(d, false);
	obs_to_stats(d, oc);
	xc_refresh(d);
	xc_rows_to_stats(d, s);
	if (d->trace) {
		/* A filter on process names follows processes that start later. */
		for (unsigned int i = 0; i < d->cfg.nr_observe; i++)
			if (d->cfg.observe[i].kind == VIRQ_OBSERVE_COMM) {
				virqd_trace_apply_filter(d);
				break;
			}
		virq_trace_points(d->trace, point_to_stats, s);
		virq_trace_read_counters(d->trace, counter_to_stats, oc);
		virq_trace_read_hist(d->trace, hist_to_stats, oc);
		s->ringbuf_drops = virq_trace_drops(d->trace);
		virqd_trace_lost(d, s->bpf_lost);
	}
	if (virq_metrics_render_json(s, NULL, &json, &len) == 0) {
		free(d->snap_json);
		d->snap_json = json;
	}
	if (d->http) {
		virq_metrics_http_publish(d->http, s);
		s = NULL;
	}
out:
	virq_stats_snapshot_free(s);
	free(gl);
	free(ks);
	free(oc);
}

/* ---- cross-check ------------------------------------------------------------------------- */

static enum virq_xcheck_src_state xc_state(enum virq_trace_point_state s)
{
	return s == VIRQ_TPS_LIVE   ? VIRQ_XC_SRC_LIVE :
	       s == VIRQ_TPS_SILENT ? VIRQ_XC_SRC_SILENT :
				      VIRQ_XC_SRC_UNAVAILABLE;
}

static int point_to_xc(const struct virq_trace_point *p, void *ctx)
{
	struct virq_xcheck_input *in = ctx;

	for (int t = 1; t < VIRQ_XC_TP__COUNT; t++)
		if (!strcmp(p->name, virq_xcheck_tp_name(t)))
			virq_xcheck_source_set(&in->tp[t], xc_state(p->state), p->error);
	return 0;
}

/* Per-VM BPF counts into a cross-check VM: `tgid` and `vm_id` select (vm_id 0 = any). */
struct xc_kctx {
	struct virq_xcheck_vm *vm;
	struct virq_xcheck_vcpu *vcpus;
	pid_t tgid;
	uint32_t vm_id;
	bool grow; /* observed VM: vCPU slots created as seen */
	/* Observed VM alone in its process: events of that process that no VM was found for
	 * (an MSI through an irqfd written by one of its threads: write(2), not a KVM ioctl,
	 * names no VM) are its own. */
	bool only_vm;
	/* Observed VM: source events per path and vector (which path a vector is used on),
	 * and per target APIC ID and vector the paths whose sources named it (bit per path). */
	uint64_t (*srcvec)[VIRQ_XC_NR_VECTORS];
	uint8_t (*dstpaths)[VIRQ_XC_NR_VECTORS];
	uint32_t *vecpins; /* per vector, the IOAPIC pins (< 32) it was sent from; may be NULL */
	/* Owned VM: kernel source events are split by the path of their vector. */
	const struct virqd_vecmap *map;
	uint64_t nmi_accepts; /* accepts of NMIs (never EOI'd: kept out of k_accept) */
	/* accepts of INIT/SIPI (vector 0 / the SIPI page) and vector-less NMIs: vectors 0-15
	 * are illegal for fixed delivery, so these are never EOI'd (kept out of k_accept) */
	uint64_t system_accepts;
	uint64_t plumbing; /* msi_set_irq of the VMM's own mailbox and doorbell vectors */
	uint64_t unpathed; /* msi_set_irq on vectors of unknown or conflicting path */
	uint64_t route_scans; /* msi_set_irq of KVM's split-irqchip route scans (no delivery) */
};

/* Owned VM: the path a kvm_msi_set_irq belongs to, or -1 (counted aside). Split mode
 * delivers its IOAPIC and PIC models' messages as MSIs too: their vectors say so. */
static int owned_msi_path(struct xc_kctx *kc, uint32_t vec, uint64_t value)
{
	uint8_t p;

	if (vec == 2)
		return VIRQ_XC_PATH_NMI; /* vectors 0-15 are illegal for fixed delivery */
	if (vec == VIRQ_MBOX_VECTOR || vec == VIRQ_DOORBELL_VECTOR) {
		kc->plumbing += value;
		return -1;
	}
	p = vec < VIRQ_XC_NR_VECTORS ? kc->map->path[vec] : VIRQ_XC_PATH_NONE;
	if (p == VIRQ_XC_PATH_NONE || kc->map->other[vec] != VIRQ_XC_PATH_NONE) {
		kc->unpathed += value;
		return -1;
	}
	return p;
}

static struct virq_xcheck_vcpu *xc_vcpu_by(struct xc_kctx *kc, uint32_t id, bool apic)
{
	for (uint32_t i = 0; i < kc->vm->nr_vcpus; i++)
		if ((apic ? kc->vcpus[i].apic_id : kc->vcpus[i].vcpu_id) == id)
			return &kc->vcpus[i];
	if (!kc->grow || kc->vm->nr_vcpus >= VIRQ_XC_MAX_VCPUS || id >= VIRQ_XC_MAX_VCPUS)
		return NULL;
	/* Observed VMs: vCPU index = APIC ID, which is how KVM numbers them by default. */
	kc->vcpus[kc->vm->nr_vcpus].vcpu_id = id;
	kc->vcpus[kc->vm->nr_vcpus].apic_id = id;
	return &kc->vcpus[kc->vm->nr_vcpus++];
}

/*
 * Observed VMs: what each event means, from the fields the programs keep (trace_abi.h
 * VIRQ_TKF_*), as KVM's own code produces them:
 *  - kvm_set_irq: one source event per assertion (level 1) of a GSI, whatever chips it is
 *    routed to (kvm_set_irq -> kvm_irq_map_gsi -> each route's set function);
 *  - kvm_pic_set_irq / kvm_ioapic_set_irq: the chip's outcome of that line change: masked
 *    (IMR bit, RTE mask bit: ioapic_service and pic_update_irq do nothing), coalesced
 *    (the tracepoint's flag: an edge already pending), a de-assertion (no interrupt), or
 *    passed on: the 8259A's through ExtINT (no accept, no LAPIC EOI), the IOAPIC's as a
 *    message accepted by LAPICs (an edge RTE; a level RTE is gated by remote IRR);
 *  - kvm_msi_set_irq / kvm_apic_ipi: fixed and lowest-priority messages are sources of
 *    accepts on their vector; NMI, INIT and SIPI are counted by kind;
 *  - kvm_apic_accept_irq: fixed and lowest priority go to IRR and wait for an EOI;
 *    the other delivery modes are counted per vCPU and never wait for one.
 */
static void xc_src_note(struct xc_kctx *kc, int path, uint32_t vec, uint32_t dest, uint16_t flags,
			uint64_t value)
{
	if (kc->srcvec)
		kc->srcvec[path][vec] += value;
	if (kc->dstpaths && !(flags & VIRQ_TKF_DEST_UNKNOWN) && dest < VIRQ_XC_MAX_VCPUS)
		kc->dstpaths[dest][vec] |= (uint8_t)(1u << path);
}

static void xc_observed_event(struct xc_kctx *kc, const struct virq_trace_key *k, uint64_t value)
{
	struct virq_xcheck_vm *vm = kc->vm;
	struct virq_xcheck_vcpu *vc;
	uint32_t vec = k->arg, dm = VIRQ_TKF_DM(k->flags);
	bool deassert = k->flags & VIRQ_TKF_DEASSERT;

	switch (k->event) {
	case VIRQ_TEV_SET_IRQ:
		if (deassert)
			vm->k_deasserts += value;
		else
			vm->k_gsi_asserts += value;
		break;
	case VIRQ_TEV_PIC_SET_IRQ:
		vm->kern[VIRQ_XC_PATH_PIC].source_tp = VIRQ_XC_TP_PIC_SET_IRQ;
		if (deassert || (k->flags & VIRQ_TKF_LINE_UNKNOWN))
			break;
		if (k->flags & VIRQ_TKF_MASKED)
			vm->k_masked[VIRQ_XC_PATH_PIC] += value;
		else if (k->flags & VIRQ_TKF_COALESCED)
			vm->k_line_coalesced[VIRQ_XC_PATH_PIC] += value;
		else
			vm->k_pic_delivered += value;
		break;
	case VIRQ_TEV_IOAPIC_SET_IRQ: {
		uint32_t iv = k->aux & 0xff; /* aux: vector | RTE destination << 8 */

		vm->kern[VIRQ_XC_PATH_IOAPIC].source_tp = VIRQ_XC_TP_IOAPIC_SET_IRQ;
		if (deassert || (k->flags & VIRQ_TKF_LINE_UNKNOWN))
			break;
		if (k->flags & VIRQ_TKF_MASKED) {
			vm->k_masked[VIRQ_XC_PATH_IOAPIC] += value;
		} else if (k->flags & VIRQ_TKF_COALESCED) {
			vm->k_line_coalesced[VIRQ_XC_PATH_IOAPIC] += value;
		} else if (k->flags & VIRQ_TKF_LEVEL_TRIG) {
			/* judged apart (remote IRR gates them, EOIs re-fire them) */
			vm->k_ioapic_level += value;
			vm->level_vectors[iv / 64] |= 1ull << (iv % 64);
			xc_src_note(kc, VIRQ_XC_PATH_IOAPIC, iv, k->aux >> 8, k->flags, value);
		} else if (dm <= VIRQ_DM_LOWEST) {
			vm->kern[VIRQ_XC_PATH_IOAPIC].source += value;
			vm->k_source_vec[iv] += value;
			xc_src_note(kc, VIRQ_XC_PATH_IOAPIC, iv, k->aux >> 8, k->flags, value);
		}
		if (kc->vecpins && !(k->flags & (VIRQ_TKF_MASKED | VIRQ_TKF_COALESCED)) &&
		    k->arg < 32)
			kc->vecpins[iv] |= 1u << k->arg;
		break;
	}
	case VIRQ_TEV_MSI_SET_IRQ:
	case VIRQ_TEV_APIC_IPI: {
		int p = k->event == VIRQ_TEV_MSI_SET_IRQ ? VIRQ_XC_PATH_MSI : VIRQ_XC_PATH_IPI;

		vm->kern[p].source_tp = k->event == VIRQ_TEV_MSI_SET_IRQ ? VIRQ_XC_TP_MSI_SET_IRQ :
									   VIRQ_XC_TP_APIC_IPI;
		if (deassert)
			break;
		if (k->event == VIRQ_TEV_APIC_IPI)
			vm->k_ipi_dm[dm] += value;
		else
			vm->k_msi_dm[dm] += value;
		if (dm == VIRQ_DM_NMI) {
			vm->kern[VIRQ_XC_PATH_NMI].source += value;
		} else if (dm <= VIRQ_DM_LOWEST) {
			vm->kern[p].source += value;
			if (vec < VIRQ_XC_NR_VECTORS) {
				vm->k_source_vec[vec] += value;
				xc_src_note(kc, p, vec, k->aux, k->flags, value);
			}
		}
		break;
	}
	case VIRQ_TEV_APIC_ACCEPT_IRQ:
		vc = xc_vcpu_by(kc, k->aux, true);
		if (!vc)
			break;
		vc->k_accept_dm[dm] += value;
		if ((k->flags & VIRQ_TKF_IRR) && vec < VIRQ_XC_NR_VECTORS)
			vc->k_accept[vec] += value;
		break;
	case VIRQ_TEV_INJ_VIRQ:
		if (k->vcpu_id == VIRQ_TRACE_VCPU_NONE || !(vc = xc_vcpu_by(kc, k->vcpu_id, false)))
			break;
		vc->k_inj_virq += value;
		if (k->flags & VIRQ_TKF_REINJECTED)
			vc->k_reinj += value;
		else if (!k->aux && vec < VIRQ_XC_NR_VECTORS)
			vc->k_inj[vec] += value;
		break;
	default:
		break;
	}
}

static int counter_to_xc(const struct virq_trace_key *k, uint64_t value, void *ctx)
{
	struct xc_kctx *kc = ctx;
	struct virq_xcheck_vm *vm = kc->vm;
	struct virq_xcheck_vcpu *vc;
	uint32_t vec = k->arg;

	if ((pid_t)k->tgid != kc->tgid || (kc->vm_id && k->vm_id != kc->vm_id &&
					   !(kc->only_vm && k->vm_id == VIRQ_TRACE_VM_NONE)))
		return 0;
	if (route_scan(k)) {
		kc->route_scans += value;
		return 0;
	}
	if (!kc->map) {
		switch (k->event) {
		case VIRQ_TEV_SET_IRQ:
		case VIRQ_TEV_PIC_SET_IRQ:
		case VIRQ_TEV_IOAPIC_SET_IRQ:
		case VIRQ_TEV_MSI_SET_IRQ:
		case VIRQ_TEV_APIC_IPI:
		case VIRQ_TEV_APIC_ACCEPT_IRQ:
		case VIRQ_TEV_INJ_VIRQ:
			xc_observed_event(kc, k, value);
			return 0;
		default:
			break;
		}
	}
	switch (k->event) {
	case VIRQ_TEV_MSI_SET_IRQ: {
		int p = kc->map ? owned_msi_path(kc, vec, value) : VIRQ_XC_PATH_MSI;

		if (p >= 0)
			vm->kern[p].source += value;
		if (vec < VIRQ_XC_NR_VECTORS)
			vm->k_source_vec[vec] += value;
		if (!kc->map) {
			vm->kern[VIRQ_XC_PATH_MSI].source_tp = VIRQ_XC_TP_MSI_SET_IRQ;
			break;
		}
		break;
	}
	case VIRQ_TEV_APIC_IPI:
		vm->kern[VIRQ_XC_PATH_IPI].source += value;
		vm->kern[VIRQ_XC_PATH_IPI].source_tp = VIRQ_XC_TP_APIC_IPI;
		if (vec < VIRQ_XC_NR_VECTORS)
			vm->k_source_vec[vec] += value;
		break;
	case VIRQ_TEV_IOAPIC_SET_IRQ:
		vm->kern[VIRQ_XC_PATH_IOAPIC].source += value;
		vm->kern[VIRQ_XC_PATH_IOAPIC].source_tp = VIRQ_XC_TP_IOAPIC_SET_IRQ;
		vm->k_source_vec[k->aux & 0xff] += value;
		break;
	case VIRQ_TEV_PIC_SET_IRQ:
		vm->kern[VIRQ_XC_PATH_PIC].source += value;
		vm->kern[VIRQ_XC_PATH_PIC].source_tp = VIRQ_XC_TP_PIC_SET_IRQ;
		break;
	case VIRQ_TEV_APIC_ACCEPT_IRQ:
		if (kc->map && vec == 2) {
			kc->nmi_accepts += value;
			break;
		}
		if (kc->map && vec < 16) {
			kc->system_accepts += value;
			break;
		}
		vc = xc_vcpu_by(kc, k->aux, true);
		if (vc && vec < VIRQ_XC_NR_VECTORS)
			vc->k_accept[vec] += value;
		break;
	case VIRQ_TEV_APICV_ACCEPT_IRQ:
		vc = xc_vcpu_by(kc, k->aux, true);
		if (vc)
			vc->k_posted += value;
		break;
	case VIRQ_TEV_EOI:
		if (k->vcpu_id == VIRQ_TRACE_VCPU_NONE)
			break;
		vc = xc_vcpu_by(kc, k->vcpu_id, false);
		if (!vc)
			break;
		if (vec == 0xffffffffu)
			vc->k_eoi_none += value;
		else if (vec < VIRQ_XC_NR_VECTORS)
			vc->k_eoi[vec] += value;
		break;
	case VIRQ_TEV_INJ_VIRQ:
	case VIRQ_TEV_USERSPACE_EXIT:
	case VIRQ_TEV_PIO:
	case VIRQ_TEV_MMIO:
	case VIRQ_TEV_EXIT:
		if (k->vcpu_id == VIRQ_TRACE_VCPU_NONE)
			break;
		vc = xc_vcpu_by(kc, k->vcpu_id, false);
		if (!vc)
			break;
		if (k->event == VIRQ_TEV_INJ_VIRQ)
			vc->k_inj_virq += value;
		else if (k->event == VIRQ_TEV_USERSPACE_EXIT && vec < VIRQ_XC_EXIT_REASONS)
			vc->k_userspace_exit[vec] += value;
		else if (k->event == VIRQ_TEV_PIO)
			vc->k_pio += value;
		else if (k->event == VIRQ_TEV_MMIO)
			vc->k_mmio += value;
		else if (k->event == VIRQ_TEV_EXIT)
			vc->k_exit += value;
		break;
	default:
		break;
	}
	return 0;
}

/*
 * Observed VM: the path of each vector, from the source events seen on it; a vector with
 * sources of two paths is in the "vm" group. A vector accepted with no source event at all
 * is the LAPIC's own (an LVT:
 * the timer, LINT, error, thermal; kvm_apic_local_deliver has no source tracepoint): the
 * timer path. Sets each path's accepts.
 */
static void xc_observed_paths(struct xc_kctx *kc)
{
	struct virq_xcheck_vm *vm = kc->vm;

	for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
		uint64_t acc = 0, eoi = 0, best = 0;
		int path = -1;

		for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
			acc += kc->vcpus[i].k_accept[v];
			eoi += kc->vcpus[i].k_eoi[v] + kc->vcpus[i].k_inj[v];
		}
		for (int p = 0; p < VIRQ_XC_PATH__COUNT; p++) {
			if (!kc->srcvec[p][v])
				continue;
			/* Linux allocates vectors per CPU: one vector number can carry an MSI
			 * on one vCPU and an IOAPIC pin on another. Such a vector is judged in
			 * the "vm" group, with every source of it. */
			path = best ? VIRQ_XC_PATH_VM : p;
			best += kc->srcvec[p][v];
		}
		if (path < 0 && acc)
			path = VIRQ_XC_PATH_TIMER;
		if (path < 0 && eoi)
			path = VIRQ_XC_PATH_VM;
		if (path < 0)
			continue;
		vm->vector_path[v] = (uint8_t)path;
		if (path < VIRQ_XC_PATH__COUNT) {
			vm->kern[path].accepts += acc;
			vm->kern[path].accept_tp = VIRQ_XC_TP_APIC_ACCEPT_IRQ;
		}
	}
}

/*
 * Observed VM: KVM's injections (kvm_inj_virq, re-injections left out: what the guest was
 * given) per path, cell by cell: a (vCPU, vector) takes the one path whose sources named
 * that vCPU's APIC ID, else the one path of the vector VM-wide, else the timer path when
 * the vector had no source at all; a cell two paths' sources named stays unattributed.
 * This is what the guest's own /proc/interrupts counts per source.
 */
static void xc_observed_received(struct xc_kctx *kc, uint64_t *received)
{
	const struct virq_xcheck_vm *vm = kc->vm;

	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		const struct virq_xcheck_vcpu *vc = &kc->vcpus[i];

		for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
			uint8_t m =
				vc->apic_id < VIRQ_XC_MAX_VCPUS ? kc->dstpaths[vc->apic_id][v] : 0;
			int path = -1;

			if (!vc->k_inj[v])
				continue;
			if (m && !(m & (m - 1))) {
				path = __builtin_ctz(m);
			} else if (!m) {
				uint8_t all = 0;

				for (int p = 0; p < VIRQ_XC_PATH__COUNT; p++)
					if (kc->srcvec[p][v])
						all |= (uint8_t)(1u << p);
				if (!all)
					path = VIRQ_XC_PATH_TIMER;
				else if (!(all & (all - 1)))
					path = __builtin_ctz(all);
			}
			if (path >= 0)
				received[path] += vc->k_inj[v];
		}
	}
}

static void xc_mark_used(struct virq_xcheck_vm *vm)
{
	for (uint32_t c = 0; c < vm->nr_vcpus; c++) {
		const struct virq_xcheck_vcpu *vc = &vm->vcpus[c];

		for (int v = 0; v < VIRQ_XC_NR_VECTORS; v++)
			if ((vc->vmm_injected[v] || vc->guest_received[v] || vc->k_accept[v]) &&
			    vm->vector_path[v] == VIRQ_XC_PATH_NONE)
				vm->vector_path[v] = VIRQ_XC_PATH_VM;
	}
	for (int v = 0; v < VIRQ_XC_NR_VECTORS; v++)
		if (vm->k_source_vec[v] && vm->vector_path[v] == VIRQ_XC_PATH_NONE)
			vm->vector_path[v] = VIRQ_XC_PATH_VM;
}

static const struct {
	const char *name;
	enum virq_xcheck_stat stat;
} xc_stats[] = {
	{ "irq_injections", VIRQ_XC_STAT_IRQ_INJECTIONS },
	{ "nmi_injections", VIRQ_XC_STAT_NMI_INJECTIONS },
	{ "exits", VIRQ_XC_STAT_EXITS },
	{ "halt_exits", VIRQ_XC_STAT_HALT_EXITS },
	{ "irq_exits", VIRQ_XC_STAT_IRQ_EXITS },
	{ "mmio_exits", VIRQ_XC_STAT_MMIO_EXITS },
	{ "io_exits", VIRQ_XC_STAT_IO_EXITS },
	{ "irq_window_exits", VIRQ_XC_STAT_IRQ_WINDOW_EXITS },
};

/* An observed VM's KVM stats, from the stats fds the model holds (observed.c). */
static void xc_observed_stats(const struct virqd_obs_vm *o, struct xc_kctx *kc,
			      struct virq_kvm_stat *ks, size_t ks_max)
{
	for (unsigned int i = 0; i < o->nr_stats; i++) {
		struct virq_xcheck_vcpu *vc = xc_vcpu_by(kc, o->stats_vcpu[i], false);
		int n = virq_kvm_stats_read_fd(o->stats_fd[i], (int32_t)o->stats_vcpu[i], ks,
					       ks_max);

		if (!vc || n <= 0)
			continue;
		kc->vm->flags |= VIRQ_XC_VM_STATS;
		for (int k = 0; k < n; k++)
			for (size_t s = 0; s < sizeof(xc_stats) / sizeof(xc_stats[0]); s++) {
				if (strcmp(ks[k].name, xc_stats[s].name))
					continue;
				vc->stat[xc_stats[s].stat] = ks[k].value;
				vc->stat_valid |= 1u << xc_stats[s].stat;
			}
	}
}

/* How one owned VM's BPF events were attributed (reported in "sources"). */
struct xc_attr {
	const char *how; /* "vcpu-threads", "only-vm", "none" */
	char why[160]; /* when "none" */
	uint32_t cookie;
	uint64_t nmi_accepts, system_accepts, plumbing, unpathed;
};

static uint64_t sub_or0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/*
 * The kernel ledger per path of an owned VM, from what its vectors are known to be:
 *   - sources only where the VMM's injections map 1:1 to one kernel event: MSI and NMI
 *     messages (kvm_msi_set_irq) on an in-kernel LAPIC. GSIs are not compared at the
 *     source: a pulse is two line changes and GSI 0-15 feed both the 8259A and the IOAPIC;
 *     IPIs and the LAPIC timer are the guest's own, not the VMM's.
 *   - accepts (kvm_apic_accept_irq) for every path an in-kernel LAPIC accepts per vector:
 *     MSI, IOAPIC, IPI, timer. Not the 8259A (ExtINT through LINT0) nor NMIs (not EOI'd,
 *     kept out of the per-vector accepts).
 * A user-mode VM has no in-kernel irqchip: no interrupt events at all, exits only.
 */
static void xc_kernel_paths(struct virq_xcheck_vm *xv, bool lapic_in_kernel)
{
	static const uint8_t accept_paths[] = { VIRQ_XC_PATH_MSI, VIRQ_XC_PATH_IOAPIC,
						VIRQ_XC_PATH_IPI, VIRQ_XC_PATH_TIMER };

	for (int p = 0; p < VIRQ_XC_PATH__COUNT; p++) {
		xv->kern[p].source_tp = VIRQ_XC_TP_NONE;
		xv->kern[p].accept_tp = VIRQ_XC_TP_NONE;
		xv->kern[p].accepts = 0;
	}
	if (!lapic_in_kernel)
		return;
	xv->kern[VIRQ_XC_PATH_MSI].source_tp = VIRQ_XC_TP_MSI_SET_IRQ;
	xv->kern[VIRQ_XC_PATH_NMI].source_tp = VIRQ_XC_TP_MSI_SET_IRQ;
	for (size_t i = 0; i < sizeof(accept_paths); i++)
		xv->kern[accept_paths[i]].accept_tp = VIRQ_XC_TP_APIC_ACCEPT_IRQ;
	for (uint32_t c = 0; c < xv->nr_vcpus; c++)
		for (int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
			uint8_t p = xv->vector_path[v];

			if (p < VIRQ_XC_PATH__COUNT &&
			    xv->kern[p].accept_tp == VIRQ_XC_TP_APIC_ACCEPT_IRQ)
				xv->kern[p].accepts += xv->vcpus[c].k_accept[v];
		}
}

/*
 * irq.h has no posted path: the user-mode VMM counts its posts under the path of the
 * message (MSI, or OTHER for its mailbox) and per vCPU in virq_vm_user_stats(). The posted
 * path gets the posts minus the mailbox's (postable too); the MSI path keeps the rest.
 */
static void xc_split_posted(struct virqd_vm *v, struct virq_xcheck_vm *xv, uint32_t n)
{
	struct virq_xcheck_vmm_path *msi = &xv->vmm[VIRQ_XC_PATH_MSI];
	struct virq_xcheck_vmm_path *pst = &xv->vmm[VIRQ_XC_PATH_POSTED];
	uint64_t posted = 0, pcoal = 0, icoal = 0, rejected = 0, mbox = 0, mcoal = 0;

	for (uint32_t c = 0; c < n; c++) {
		struct virq_vcpu_user_stats us;
		struct virq_vmm_vec mv;

		if (virq_vm_user_stats(v->vm, c, &us))
			return; /* not a user-mode VM after all: leave MSI as it is */
		posted += us.posted;
		pcoal += us.post_coalesced;
		icoal += us.irr_coalesced;
		rejected += us.pir_rejected;
		if (virq_vm_vmm_vec(v->vm, c, VIRQ_MBOX_VECTOR, &mv) == 0) {
			mbox += mv.injected;
			mcoal += mv.coalesced;
		}
	}
	pst->injected = posted > mbox ? posted - mbox : 0;
	/* The path ledger counts only PIR coalescing (the vector already posted); a posted
	 * vector already in the IRR at the PIR merge coalesces too (irr_coalesced, counted
	 * per vector only): injected == handled + post_coalesced + irr_coalesced (vmm.h).
	 * The mailbox's per-vector coalesced holds both kinds for its vector. */
	pst->coalesced = sub_or0(pcoal + icoal, mcoal);
	pst->ignored += rejected; /* refused at the merge: disabled LAPIC, illegal vector */
	msi->injected = msi->injected > pst->injected ? msi->injected - pst->injected : 0;
	msi->coalesced = sub_or0(msi->coalesced, sub_or0(pcoal, mcoal));
}

/* Fills one owned VM's ledgers 1, 3 and 4, and 2 when its BPF events are attributable
 * (vm_id: its tracer cookie; 0 = every event of our process, when it is the only VM). */
static void xc_own_vm(struct virqd *d, struct virqd_vm *v, struct virq_xcheck_vm *xv,
		      struct virq_xcheck_vcpu *vcpus, struct virq_guest_ledger *gl,
		      struct virq_kvm_stat *ks, size_t ks_max, bool traced, uint32_t vm_id,
		      struct xc_attr *attr)
{
	const struct virq_vm_config *cfg = virq_vm_get_config(v->vm);
	struct virq_vmm_ledger vl;
	uint32_t n = cfg->nr_vcpus < VIRQ_XC_MAX_VCPUS ? cfg->nr_vcpus : VIRQ_XC_MAX_VCPUS;
	int nk;

	virq_xcheck_vm_init(xv);
	snprintf(xv->name, sizeof(xv->name), "%s", virq_vm_name(v->vm));
	xv->flags =
		VIRQ_XC_VM_OWNED | VIRQ_XC_VM_GUEST | VIRQ_XC_VM_VMM_PER_VCPU | VIRQ_XC_VM_STATS;
	if (cfg->irqchip != VIRQ_IRQCHIP_USER)
		xv->flags |= VIRQ_XC_VM_LAPIC_IN_KERNEL;
	if (virq_vm_state(v->vm, NULL, 0) != VIRQ_VM_RUNNING)
		xv->flags |= VIRQ_XC_VM_QUIESCED;
	xv->nr_vcpus = n;
	xv->vcpus = vcpus;
	if (virq_vm_vmm_ledger(v->vm, &vl) == 0) {
		for (int p = 0; p < VIRQ_PATH__COUNT; p++) {
			enum virq_xcheck_path xp = virq_xcheck_path_from_irq(p);

			if (xp >= VIRQ_XC_PATH__COUNT)
				continue;
			xv->vmm[xp].injected += vl.path_injected[p];
			xv->vmm[xp].coalesced += vl.path_coalesced[p];
			xv->vmm[xp].failed += vl.path_failed[p];
		}
		if (v->vecmap.posted_msi)
			xc_split_posted(v, xv, n);
		/* NMIs reach CPUs from the VMM and from IPIs the guest was told to send: the
		 * expectation (CPUs reached) counts both; the source check keeps the VMM's. */
		if (v->vecmap.guest_nmis) {
			struct virq_xcheck_vmm_path *np = &xv->vmm[VIRQ_XC_PATH_NMI];

			np->cpus_reached =
				sub_or0(np->injected, np->coalesced + np->ignored + np->failed) +
				v->vecmap.guest_nmis;
			np->flags |= VIRQ_XC_VMM_CPUS_KNOWN;
		}
		/* The kernel-irqchip VMM counts every GSI < 16 as "pic" (KVM feeds both
		 * chips); those the guest routed to the IOAPIC only belong there. */
		if (cfg->irqchip == VIRQ_IRQCHIP_KERNEL) {
			uint64_t mv =
				v->vecmap.low_gsi_ioapic < xv->vmm[VIRQ_XC_PATH_PIC].injected ?
					v->vecmap.low_gsi_ioapic :
					xv->vmm[VIRQ_XC_PATH_PIC].injected;

			xv->vmm[VIRQ_XC_PATH_PIC].injected -= mv;
			xv->vmm[VIRQ_XC_PATH_IOAPIC].injected += mv;
		}
	}
	virqd_vecmap_apply(&v->vecmap, xv);
	/* A paused VM: what its vCPUs still hold (IRR/PIR/ISR) is pending, not lost. */
	if (xv->flags & VIRQ_XC_VM_QUIESCED) {
		bool all = true;

		for (uint32_t c = 0; c < n; c++)
			all = all && virq_vm_held_vectors(v->vm, c, vcpus[c].held_irr,
							  vcpus[c].held_isr) == 0;
		if (all)
			xv->flags |= VIRQ_XC_VM_HELD;
	}
	for (uint32_t c = 0; c < n; c++) {
		struct virq_xcheck_vcpu *vc = &vcpus[c];
		struct virq_vcpu_exits ex;

		vc->vcpu_id = c;
		vc->apic_id = c;
		if (virq_vm_guest_ledger(v->vm, c, gl) == 0) {
			vc->apic_id = gl->apic_id;
			vc->guest_eoi_written = gl->eoi_written + gl->eoi_skipped_pv;
			for (int vec = 0; vec < VIRQ_XC_NR_VECTORS; vec++)
				vc->guest_received[vec] = gl->vec[vec].count;
		}
		for (int vec = 0; vec < VIRQ_XC_NR_VECTORS; vec++) {
			struct virq_vmm_vec vv;

			if (virq_vm_vmm_vec(v->vm, c, (uint8_t)vec, &vv) == 0) {
				vc->vmm_injected[vec] = vv.injected;
				vc->vmm_coalesced[vec] = vv.coalesced;
			}
		}
		if (virq_vm_exits(v->vm, c, &ex) == 0) {
			for (int r = 0; r < VIRQ_XC_EXIT_REASONS && r < VIRQ_EXIT_REASONS; r++)
				vc->vmm_exits[r] = ex.by_reason[r];
			/* KVM_RUN returning -EINTR (kicks, immediate_exit) also fires
			 * kvm_userspace_exit: the engine reconciles them as KVM_EXIT_INTR. */
			vc->vmm_exits[VIRQ_XC_KVM_EXIT_INTR] += ex.eintr;
		}
	}
	nk = virq_vm_kvm_stats(v->vm, ks, ks_max);
	for (int i = 0; i < nk && (size_t)i < ks_max; i++) {
		if (ks[i].vcpu < 0 || (uint32_t)ks[i].vcpu >= n)
			continue;
		for (size_t s = 0; s < sizeof(xc_stats) / sizeof(xc_stats[0]); s++) {
			if (strcmp(ks[i].name, xc_stats[s].name))
				continue;
			vcpus[ks[i].vcpu].stat[xc_stats[s].stat] = ks[i].value;
			vcpus[ks[i].vcpu].stat_valid |= 1u << xc_stats[s].stat;
		}
	}
	if (traced) {
		struct xc_kctx kc = { .vm = xv,
				      .vcpus = vcpus,
				      .tgid = getpid(),
				      .vm_id = vm_id,
				      .map = &v->vecmap };

		virq_trace_read_counters(d->trace, counter_to_xc, &kc);
		xv->flags |= VIRQ_XC_VM_TRACED;
		xc_kernel_paths(xv, cfg->irqchip != VIRQ_IRQCHIP_USER);
		attr->nmi_accepts = kc.nmi_accepts;
		attr->system_accepts = kc.system_accepts;
		attr->plumbing = kc.plumbing;
		attr->unpathed = kc.unpathed;
	}
	xc_mark_used(xv);
}

/*
 * A guest kernel on our VMM (vm.create kernel): its vectors are the guest's own choice, so
 * no vector map says which path each one is. In kernel/split mode it is judged like an
 * observed VM: each vector's path from its BPF source events, KVM's accepts, injections
 * and EOIs against one another (the rules proven on QEMU's guests), plus exits against
 * KVM's stats. In user mode no interrupt event is in the kernel (our LAPIC takes them
 * all): exits and stats only; vm.ledger has our LAPIC's INTA/EOI ledger.
 */
static void xc_pc_stats(struct virqd_vm *v, struct virq_xcheck_vm *xv,
			struct virq_xcheck_vcpu *vcpus, uint32_t n, bool user,
			struct virq_kvm_stat *ks, size_t ks_max, bool later)
{
	int nk;

	for (uint32_t c = 0; c < n; c++) {
		struct virq_vcpu_exits ex;
		uint64_t sum = 0;

		if (!user || virq_vm_exits(v->vm, c, &ex))
			continue;
		for (int r = 0; r < VIRQ_XC_EXIT_REASONS && r < VIRQ_EXIT_REASONS; r++) {
			sum += ex.by_reason[r];
			vcpus[c].vmm_exits[r] = ex.by_reason[r];
		}
		vcpus[c].vmm_exits[VIRQ_XC_KVM_EXIT_INTR] += ex.eintr;
		sum += ex.eintr;
		/* earlier reading kept in the skew slot, then turned into the difference */
		vcpus[c].vmm_exits_skew = later ? sum - vcpus[c].vmm_exits_skew : sum;
	}
	nk = virq_vm_kvm_stats(v->vm, ks, ks_max);
	for (int i = 0; i < nk && (size_t)i < ks_max; i++) {
		if (ks[i].vcpu < 0 || (uint32_t)ks[i].vcpu >= n)
			continue;
		for (size_t st = 0; st < sizeof(xc_stats) / sizeof(xc_stats[0]); st++) {
			struct virq_xcheck_vcpu *vc = &vcpus[ks[i].vcpu];
			unsigned int k = xc_stats[st].stat;

			if (strcmp(ks[i].name, xc_stats[st].name))
				continue;
			vc->stat_skew[k] = later ? ks[i].value - vc->stat_skew[k] : ks[i].value;
			vc->stat[k] = ks[i].value;
			vc->stat_valid |= 1u << k;
			xv->flags |= VIRQ_XC_VM_STATS;
		}
	}
}

/*
 * A guest kernel on our VMM (vm.create kernel): its vectors are the guest's own choice, so
 * no vector map says which path each one is. In kernel/split mode it is judged like an
 * observed VM: each vector's path from its BPF source events, KVM's accepts, injections
 * and EOIs against one another (the rules proven on QEMU's guests), plus exits against
 * KVM's stats. In user mode no interrupt event is in the kernel (our LAPIC takes them
 * all): exits and stats only; vm.ledger has our LAPIC's INTA/EOI ledger. While it runs,
 * the stats and the VMM's exits are read before and after BPF's counters: what moved in
 * between is the read skew the engine allows.
 */
static void xc_pc_vm(struct virqd_vm *v, struct virq_xcheck_vm *xv, struct virq_xcheck_vcpu *vcpus,
		     struct virq_kvm_stat *ks, size_t ks_max, bool traced, uint32_t vm_id,
		     uint64_t (*srcvec)[VIRQ_XC_NR_VECTORS],
		     uint8_t (*dstpaths)[VIRQ_XC_NR_VECTORS], struct virqd *d)
{
	const struct virq_vm_config *cfg = virq_vm_get_config(v->vm);
	uint32_t n = cfg->nr_vcpus < VIRQ_XC_MAX_VCPUS ? cfg->nr_vcpus : VIRQ_XC_MAX_VCPUS;
	bool user = cfg->irqchip == VIRQ_IRQCHIP_USER;

	virq_xcheck_vm_init(xv);
	snprintf(xv->name, sizeof(xv->name), "%s", virq_vm_name(v->vm));
	xv->flags = user ? VIRQ_XC_VM_OWNED | VIRQ_XC_VM_VMM_PER_VCPU : VIRQ_XC_VM_LAPIC_IN_KERNEL;
	if (virq_vm_state(v->vm, NULL, 0) != VIRQ_VM_RUNNING)
		xv->flags |= VIRQ_XC_VM_QUIESCED;
	xv->nr_vcpus = n;
	xv->vcpus = vcpus;
	for (uint32_t c = 0; c < n; c++) {
		vcpus[c].vcpu_id = c;
		vcpus[c].apic_id = c; /* CPUID's initial APIC ID is the vCPU index */
	}
	xc_pc_stats(v, xv, vcpus, n, user, ks, ks_max, false);
	if (traced) {
		struct xc_kctx kc = { .vm = xv,
				      .vcpus = vcpus,
				      .tgid = getpid(),
				      .vm_id = vm_id,
				      .only_vm = !vm_id,
				      .srcvec = srcvec,
				      .dstpaths = dstpaths };

		memset(srcvec, 0, sizeof(*srcvec) * VIRQ_XC_PATH__COUNT);
		memset(dstpaths, 0, sizeof(*dstpaths) * VIRQ_XC_MAX_VCPUS);
		virq_trace_read_counters(d->trace, counter_to_xc, &kc);
		xv->flags |= VIRQ_XC_VM_TRACED;
		if (!user)
			xc_observed_paths(&kc);
		/* Split mode: our PIC's ExtINT injections have no PIC tracepoint (the PIC is
		 * ours) and take no LAPIC EOI; the VMM counted them. */
		if (cfg->irqchip == VIRQ_IRQCHIP_SPLIT) {
			struct virq_vmm_ledger vl;

			if (virq_vm_vmm_ledger(v->vm, &vl) == 0)
				xv->k_pic_delivered += vl.extint_injected;
		}
	}
	xc_pc_stats(v, xv, vcpus, n, user, ks, ks_max, true);
	xc_mark_used(xv);
}

/* Our process's events that belong to none of our VMs' cookies (or to no VM at all). */
struct xc_unattr {
	struct virqd *d;
	pid_t pid;
	uint64_t events;
};

static int counter_unattributed(const struct virq_trace_key *k, uint64_t value, void *ctx)
{
	struct xc_unattr *u = ctx;

	if ((pid_t)k->tgid != u->pid)
		return 0;
	/* Counts of VMs destroyed since stay in the maps: they are nobody's now. */
	for (unsigned int j = 0; j < u->d->nr_retired && j < VIRQD_RETIRED_IDS; j++)
		if (k->vm_id == u->d->retired_ids[j] && k->vm_id != VIRQ_TRACE_VM_NONE)
			return 0;
	for (unsigned int i = 0; i < u->d->nr_vms; i++)
		if (u->d->vms[i].trace_vm_id && u->d->vms[i].trace_vm_id == k->vm_id &&
		    !u->d->vms[i].trace_tainted)
			return 0;
	u->events += value;
	return 0;
}

_Static_assert(VIRQ_XC_VERDICT__COUNT <= 8, "virqd_xc_row.verdicts");

/* Keeps the verdict counts of a full cross-check per (VM, path) for the sampler. */
static void xc_keep_rows(struct virqd *d, const struct virq_xcheck_report *rep)
{
	struct timespec ts;

	d->nr_xc_rows = 0;
	for (size_t i = 0; i < rep->nr_checks; i++) {
		const struct virq_xcheck_check *c = &rep->checks[i];
		struct virqd_xc_row *row = NULL;

		if (c->path >= VIRQ_XC_PATH__COUNT || c->verdict >= VIRQ_XC_VERDICT__COUNT)
			continue;
		for (unsigned int k = 0; k < d->nr_xc_rows && !row; k++)
			if (d->xc_rows[k].path == c->path && !strcmp(d->xc_rows[k].vm, c->vm))
				row = &d->xc_rows[k];
		if (!row) {
			if (d->nr_xc_rows == VIRQD_XC_ROWS)
				continue;
			row = &d->xc_rows[d->nr_xc_rows++];
			memset(row, 0, sizeof(*row));
			snprintf(row->vm, sizeof(row->vm), "%s", c->vm);
			row->path = c->path;
		}
		row->verdicts[c->verdict]++;
		if (c->verdict == VIRQ_XC_LOST && c->expected > c->observed &&
		    c->expected - c->observed > row->lost)
			row->lost = c->expected - c->observed;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	d->xc_at_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The stats VMs' verdicts and lost counts from the last cross-check, by name and path (the
 * stats paths are the cross-check's delivery paths, in the same order). */
static void xc_rows_to_stats(struct virqd *d, struct virq_stats_snapshot *s)
{
	static const int map[VIRQ_XC_VERDICT__COUNT] = {
		[VIRQ_XC_CONSISTENT] = VIRQ_VERDICT_CONSISTENT,
		[VIRQ_XC_COALESCED] = VIRQ_VERDICT_COALESCED,
		[VIRQ_XC_PENDING] = -1,
		[VIRQ_XC_REFIRED] = -1,
		[VIRQ_XC_LOST] = VIRQ_VERDICT_LOST,
		[VIRQ_XC_SPURIOUS] = VIRQ_VERDICT_SPURIOUS,
		[VIRQ_XC_MISROUTED] = VIRQ_VERDICT_MISROUTED,
		[VIRQ_XC_UNOBSERVABLE] = VIRQ_VERDICT_UNOBSERVABLE,
	};

	for (unsigned int k = 0; k < d->nr_xc_rows; k++) {
		const struct virqd_xc_row *row = &d->xc_rows[k];

		for (size_t i = 0; i < s->nr_vms; i++) {
			struct virq_stats_vm *sv = s->vms[i];

			if (strncmp(sv->name, row->vm, sizeof(row->vm) - 1) ||
			    row->path >= VIRQ_SPATH__COUNT)
				continue;
			sv->path[row->path].lost = row->lost;
			for (int v = 0; v < VIRQ_XC_VERDICT__COUNT; v++)
				if (map[v] >= 0)
					sv->verdicts[row->path][map[v]] = row->verdicts[v];
		}
	}
}

/* Appends "; note" to the detail of the checks of VM `vm` on `path`, or (path < 0) of
 * those that use BPF counts or are unobservable for lack of them. */
static void xc_note(struct virq_xcheck_report *rep, const char *vm, int path, const char *note)
{
	for (size_t i = 0; i < rep->nr_checks; i++) {
		struct virq_xcheck_check *c = &rep->checks[i];
		bool bpf = false;
		size_t n;

		if (strcmp(c->vm, vm) || (path >= 0 && c->path != path))
			continue;
		for (unsigned int k = 0; k < c->nr_values && k < VIRQ_XC_MAX_VALUES; k++)
			bpf |= !strncmp(c->values[k].name, "kvm_", 4);
		if (path < 0 && !bpf && !strstr(c->detail, "not traced"))
			continue;
		n = strlen(c->detail);
		snprintf(c->detail + n, sizeof(c->detail) - n, "%s%s", n ? "; " : "", note);
	}
}

/* What an observed VM's events say beyond the checks: the chips' outcomes of its line
 * changes, IPIs and MSIs by delivery mode, acceptances by mode, KVM stats source. */
static cJSON *xc_observed_json(struct virqd *d, const struct virq_xcheck_vm *xv)
{
	static const char *const dm[8] = { "fixed", "lowest", "smi",  "remote_read",
					   "nmi",   "init",   "sipi", "extint" };
	cJSON *o = cJSON_CreateObject(), *x;
	uint64_t acc[8] = { 0 }, inj = 0, reinj = 0;

	cJSON_AddStringToObject(o, "vm", xv->name);
	for (unsigned int i = 0; i < d->nr_obs; i++)
		if (!strcmp(d->obs[i].name, xv->name)) {
			cJSON_AddNumberToObject(o, "pid", d->obs[i].pid);
			cJSON_AddNumberToObject(o, "vcpus", d->obs[i].nr_vcpus);
			cJSON_AddStringToObject(o, "kvm_stats", virqd_obs_stats_how(&d->obs[i]));
			cJSON_AddStringToObject(o, "kvm_stats_reason", d->obs[i].stats_why);
			x = cJSON_AddObjectToObject(o, "kvm_debugfs");
			cJSON_AddBoolToObject(x, "available", d->obs[i].dbg_ok);
			cJSON_AddStringToObject(x, "reason", d->obs[i].dbg_why);
			for (int k = 0; d->obs[i].dbg_ok && k < VIRQD_OBS_DBG_STATS; k++)
				cJSON_AddNumberToObject(x, virqd_obs_dbg_names[k],
							(double)d->obs[i].dbg[k]);
		}
	cJSON_AddNumberToObject(o, "gsi_assertions", (double)xv->k_gsi_asserts);
	cJSON_AddNumberToObject(o, "gsi_deassertions", (double)xv->k_deasserts);
	x = cJSON_AddObjectToObject(o, "pic");
	cJSON_AddNumberToObject(x, "delivered", (double)xv->k_pic_delivered);
	cJSON_AddNumberToObject(x, "masked", (double)xv->k_masked[VIRQ_XC_PATH_PIC]);
	cJSON_AddNumberToObject(x, "coalesced", (double)xv->k_line_coalesced[VIRQ_XC_PATH_PIC]);
	x = cJSON_AddObjectToObject(o, "ioapic");
	cJSON_AddNumberToObject(x, "delivered_edge", (double)xv->kern[VIRQ_XC_PATH_IOAPIC].source);
	cJSON_AddNumberToObject(x, "level_assertions", (double)xv->k_ioapic_level);
	cJSON_AddNumberToObject(x, "masked", (double)xv->k_masked[VIRQ_XC_PATH_IOAPIC]);
	cJSON_AddNumberToObject(x, "coalesced", (double)xv->k_line_coalesced[VIRQ_XC_PATH_IOAPIC]);
	for (uint32_t c = 0; c < xv->nr_vcpus; c++) {
		for (int m = 0; m < 8; m++)
			acc[m] += xv->vcpus[c].k_accept_dm[m];
		for (int v = 0; v < VIRQ_XC_NR_VECTORS; v++)
			inj += xv->vcpus[c].k_inj[v];
		reinj += xv->vcpus[c].k_reinj;
	}
	x = cJSON_AddObjectToObject(o, "ipis");
	for (int m = 0; m < 8; m++)
		if (m != 3)
			cJSON_AddNumberToObject(x, dm[m], (double)xv->k_ipi_dm[m]);
	x = cJSON_AddObjectToObject(o, "msis");
	for (int m = 0; m < 8; m++)
		if (m != 3)
			cJSON_AddNumberToObject(x, dm[m], (double)xv->k_msi_dm[m]);
	x = cJSON_AddObjectToObject(o, "accepts");
	for (int m = 0; m < 8; m++)
		if (m != 3)
			cJSON_AddNumberToObject(x, dm[m], (double)acc[m]);
	x = cJSON_AddObjectToObject(o, "path_accepts");
	for (int p = 0; p < VIRQ_XC_PATH__COUNT; p++)
		cJSON_AddNumberToObject(x, virq_xcheck_path_name(p), (double)xv->kern[p].accepts);
	cJSON_AddNumberToObject(o, "injections", (double)inj);
	cJSON_AddNumberToObject(o, "reinjections", (double)reinj);
	return o;
}

enum virq_proto_err virqd_vm_crosscheck(struct virqd *d, const struct virq_proto_request *req,
					cJSON **res, char *msg, size_t msglen)
{
	enum { KS_MAX = 4096 };
	const cJSON *want = req->args ? cJSON_GetObjectItemCaseSensitive(req->args, "vm") : NULL;
	struct virqd_vm *only = NULL;
	struct virq_xcheck_input in;
	struct virq_xcheck_vm *xvms = calloc(VIRQ_XC_MAX_VMS, sizeof(*xvms));
	struct virq_xcheck_vcpu *vcpus =
		calloc((size_t)VIRQ_XC_MAX_VMS * VIRQ_XC_MAX_VCPUS, sizeof(*vcpus));
	struct virq_guest_ledger *gl = malloc(sizeof(*gl));
	struct virq_kvm_stat *ks = calloc(KS_MAX, sizeof(*ks));
	struct xc_attr *attr = calloc(VIRQ_XC_MAX_VMS, sizeof(*attr));
	struct virq_xcheck_report *rep = virq_xcheck_report_new();
	uint64_t(*srcvec)[VIRQ_XC_NR_VECTORS] = calloc(VIRQ_XC_PATH__COUNT, sizeof(*srcvec));
	uint8_t(*dstpaths)[VIRQ_XC_NR_VECTORS] = calloc(VIRQ_XC_MAX_VCPUS, sizeof(*dstpaths));
	struct xc_unattr un = { .d = d, .pid = getpid() };
	enum virq_proto_err e = VIRQ_E_OK;
	unsigned int nvm = 0, nown = 0;
	cJSON *out, *src, *arr;
	char note[160];
	int r;

	if (!xvms || !vcpus || !gl || !ks || !attr || !rep || !srcvec || !dstpaths) {
		snprintf(msg, msglen, "out of memory");
		e = VIRQ_E_INTERNAL;
		goto out;
	}
	if (want && !cJSON_IsNull(want)) {
		char key[40];

		if (cJSON_IsString(want) && want->valuestring)
			snprintf(key, sizeof(key), "%s", want->valuestring);
		else if (cJSON_IsNumber(want) && want->valuedouble >= 0 &&
			 want->valuedouble <= 4294967295.0)
			snprintf(key, sizeof(key), "%u", (unsigned int)want->valuedouble);
		else {
			snprintf(msg, msglen, "\"vm\" must be a name or an id (0..2^32-1)");
			e = VIRQ_E_BAD_ARGS;
			goto out;
		}
		only = virqd_vm_find(d, key);
		if (!only) {
			snprintf(msg, msglen, "no VM \"%.40s\"", key);
			e = VIRQ_E_NOT_FOUND;
			goto out;
		}
	}
	virq_xcheck_input_init(&in);
	if (d->trace) {
		virq_trace_points(d->trace, point_to_xc, &in);
		/* Records not read yet, and the thread map, may name the cookie of a VM
		 * created since. */
		virqd_trace_ring_ready(d);
		learn_from_threads(d);
		virq_trace_read_counters(d->trace, counter_unattributed, &un);
	}
	for (unsigned int i = 0; i < d->nr_vms && nvm < VIRQ_XC_MAX_VMS; i++) {
		struct virqd_vm *v = &d->vms[i];
		struct xc_attr *a = &attr[nvm];
		bool traced = false;
		uint32_t vm_id = 0;

		if (only && v != only)
			continue;
		a->how = "none";
		if (!d->trace) {
			snprintf(a->why, sizeof(a->why), "no BPF tracer: %.120s", d->bpf_why);
		} else if (v->trace_vm_id && v->trace_tainted) {
			snprintf(a->why, sizeof(a->why),
				 "its tracer cookie %#x was used by a destroyed VM: counts mixed",
				 v->trace_vm_id);
		} else if (v->trace_vm_id) {
			traced = true;
			vm_id = v->trace_vm_id;
			a->how = "vcpu-threads";
		} else if (d->nr_vms == 1 && !d->nr_retired) {
			/* Every event of our process is this VM's. */
			traced = true;
			a->how = "only-vm";
		} else {
			snprintf(a->why, sizeof(a->why),
				 "no BPF event from its vCPU threads seen yet (cookie unknown)");
		}
		a->cookie = vm_id;
		if (strcmp(virq_vm_boot_kind(v->vm), "firmware"))
			xc_pc_vm(v, &xvms[nvm], &vcpus[(size_t)nvm * VIRQ_XC_MAX_VCPUS], ks, KS_MAX,
				 traced, vm_id, srcvec, dstpaths, d);
		else
			xc_own_vm(d, v, &xvms[nvm], &vcpus[(size_t)nvm * VIRQ_XC_MAX_VCPUS], gl, ks,
				  KS_MAX, traced, vm_id, a);
		nvm++;
		nown++;
	}
	/* With a single VM and no cookie every event is its own: none is unattributed. */
	for (unsigned int i = 0; i < nown; i++)
		if (!strcmp(attr[i].how, "only-vm"))
			un.events = 0;
	d->cnt.trace_unattributed = un.events;
	/* Observed VMs: the running ones of the observed-VM model, as named there; exited ones
	 * are judged no more (listed under sources.exited_vms). */
	if (d->trace && !only) {
		virqd_observed_refresh(d, true);
		for (unsigned int i = 0; i < d->nr_obs && nvm < VIRQ_XC_MAX_VMS; i++) {
			const struct virqd_obs_vm *o = &d->obs[i];
			struct virq_xcheck_vm *xv = &xvms[nvm];
			struct xc_kctx kc = {
				.vm = xv,
				.vcpus = &vcpus[(size_t)nvm * VIRQ_XC_MAX_VCPUS],
				.tgid = o->pid,
				.vm_id = o->vm_id,
				.grow = true,
				.only_vm = o->nr_vm_fds <= 1 && o->nr_cookies <= 1,
			};

			virq_xcheck_vm_init(xv);
			snprintf(xv->name, sizeof(xv->name), "%.*s", (int)sizeof(xv->name) - 1,
				 o->name);
			xv->flags = VIRQ_XC_VM_TRACED | VIRQ_XC_VM_LAPIC_IN_KERNEL;
			xv->vcpus = kc.vcpus;
			if (!kc.vm_id && !kc.only_vm)
				continue; /* nothing can be attributed to it yet */
			memset(srcvec, 0, sizeof(*srcvec) * VIRQ_XC_PATH__COUNT);
			memset(dstpaths, 0, sizeof(*dstpaths) * VIRQ_XC_MAX_VCPUS);
			kc.srcvec = srcvec;
			kc.dstpaths = dstpaths;
			virq_trace_read_counters(d->trace, counter_to_xc, &kc);
			xc_observed_stats(o, &kc, ks, KS_MAX);
			xc_observed_paths(&kc);
			memset(d->obs[i].path_received, 0, sizeof(d->obs[i].path_received));
			xc_observed_received(&kc, d->obs[i].path_received);
			for (int p = 0; p < VIRQ_XC_PATH__COUNT; p++)
				d->obs[i].path_accepts[p] = xv->kern[p].accepts;
			if (o->state == VIRQD_OBS_EXITED) {
				/* its last numbers are kept (path_accepts), its checks not run */
				memset(kc.vcpus, 0, sizeof(*kc.vcpus) * VIRQ_XC_MAX_VCPUS);
				continue;
			}
			nvm++;
		}
	}
	in.nr_vms = nvm;
	in.vms = xvms;
	{
		uint64_t lost[VIRQ_BPF_LOST__COUNT];

		virqd_trace_lost(d, lost);
		in.bpf_not_recorded = lost[VIRQ_BPF_LOST_COUNTER_FULL];
	}
	r = virq_xcheck_run(&in, rep);
	if (r) {
		snprintf(msg, msglen, "cross-check engine: %s", strerror(-r));
		e = VIRQ_E_INTERNAL;
		goto out;
	}
	if (!only)
		xc_keep_rows(d, rep);
	/* Each running observed VM's verdicts, frozen when it exits. */
	for (unsigned int i = 0; i < d->nr_obs && !only; i++) {
		struct virqd_obs_vm *o = &d->obs[i];

		if (o->state == VIRQD_OBS_EXITED)
			continue;
		memset(o->last_verdicts, 0, sizeof(o->last_verdicts));
		o->last_checks = 0;
		for (size_t k = 0; k < rep->nr_checks; k++)
			if (!strcmp(rep->checks[k].vm, o->name) &&
			    rep->checks[k].verdict < VIRQ_XC_VERDICT__COUNT) {
				o->last_verdicts[rep->checks[k].verdict]++;
				o->last_checks++;
			}
	}
	/* Say in the rows what the attribution could not do. */
	for (unsigned int i = 0; i < nown; i++) {
		const struct virqd_vecmap *m = NULL;
		uint8_t p1, p2;
		int vec;

		for (unsigned int k = 0; k < d->nr_vms; k++)
			if (!strcmp(virq_vm_name(d->vms[k].vm), xvms[i].name))
				m = &d->vms[k].vecmap;
		if (!strcmp(attr[i].how, "none") && d->trace) {
			snprintf(note, sizeof(note), "BPF events not attributable: %s",
				 attr[i].why);
			xc_note(rep, xvms[i].name, -1, note);
		}
		if (un.events && strcmp(attr[i].how, "none")) {
			snprintf(
				note, sizeof(note),
				"%llu BPF event(s) of virqd's process attributed to none of its VMs",
				(unsigned long long)un.events);
			xc_note(rep, xvms[i].name, -1, note);
		}
		if (m && (vec = virqd_vecmap_conflict(m, 0, &p1, &p2)) >= 0) {
			snprintf(note, sizeof(note),
				 "vector %#x injected on two paths (%s, %s; %u such vector(s)): "
				 "those paths are judged per vector under \"vm\"",
				 vec, virq_xcheck_path_name(p1), virq_xcheck_path_name(p2),
				 m->conflicts);
			xc_note(rep, xvms[i].name, VIRQ_XC_PATH_VM, note);
		}
	}
	out = virq_xcheck_report_to_json(rep);
	if (!out) {
		snprintf(msg, msglen, "out of memory");
		e = VIRQ_E_INTERNAL;
		goto out;
	}
	src = cJSON_AddObjectToObject(out, "sources");
	cJSON_AddNumberToObject(src, "owned_vms", nown);
	cJSON_AddNumberToObject(src, "observed_vms", nvm - nown);
	cJSON_AddBoolToObject(src, "kvm", d->kvm_ok);
	cJSON_AddStringToObject(src, "kvm_reason", d->kvm_ok ? "" : d->kvm_why);
	cJSON_AddBoolToObject(src, "bpf", d->bpf_ok);
	cJSON_AddStringToObject(src, "bpf_reason", d->bpf_ok ? "" : d->bpf_why);
	cJSON_AddNumberToObject(src, "bpf_unattributed", (double)un.events);
	arr = cJSON_AddArrayToObject(src, "observed");
	for (unsigned int i = nown; i < nvm; i++)
		cJSON_AddItemToArray(arr, xc_observed_json(d, &xvms[i]));
	arr = cJSON_AddArrayToObject(src, "exited_vms");
	for (unsigned int i = 0; i < d->nr_obs; i++) {
		const struct virqd_obs_vm *o = &d->obs[i];
		cJSON *x, *lv;

		if (o->state != VIRQD_OBS_EXITED)
			continue;
		x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "vm", o->name);
		cJSON_AddNumberToObject(x, "pid", o->pid);
		cJSON_AddNumberToObject(x, "exited_s_ago", virqd_obs_exited_ago(o));
		cJSON_AddNumberToObject(x, "last_checks", o->last_checks);
		lv = cJSON_AddObjectToObject(x, "last_verdicts");
		for (int v = 0; v < VIRQ_XC_VERDICT__COUNT; v++)
			cJSON_AddNumberToObject(lv, virq_xcheck_verdict_name(v),
						(double)o->last_verdicts[v]);
		cJSON_AddItemToArray(arr, x);
	}
	arr = cJSON_AddArrayToObject(src, "attribution");
	for (unsigned int i = 0; i < nown; i++) {
		cJSON *o = cJSON_CreateObject(), *cf;
		const struct virqd_vecmap *m = NULL;
		uint8_t p1, p2;
		int vec;

		for (unsigned int k = 0; k < d->nr_vms; k++)
			if (!strcmp(virq_vm_name(d->vms[k].vm), xvms[i].name))
				m = &d->vms[k].vecmap;
		cJSON_AddStringToObject(o, "vm", xvms[i].name);
		cJSON_AddStringToObject(o, "bpf", attr[i].how);
		cJSON_AddStringToObject(o, "reason", attr[i].why);
		cJSON_AddNumberToObject(o, "cookie", attr[i].cookie);
		cJSON_AddNumberToObject(o, "nmi_accepts", (double)attr[i].nmi_accepts);
		cJSON_AddNumberToObject(o, "init_sipi_accepts", (double)attr[i].system_accepts);
		cJSON_AddNumberToObject(o, "vmm_plumbing_msis", (double)attr[i].plumbing);
		cJSON_AddNumberToObject(o, "msis_of_unknown_path", (double)attr[i].unpathed);
		cJSON_AddNumberToObject(o, "unrouted_gsi", m ? (double)m->unrouted_gsi : 0);
		cf = cJSON_AddArrayToObject(o, "vector_conflicts");
		for (unsigned int k = 0; m && (vec = virqd_vecmap_conflict(m, k, &p1, &p2)) >= 0;
		     k++) {
			cJSON *c = cJSON_CreateObject();

			cJSON_AddNumberToObject(c, "vector", vec);
			cJSON_AddStringToObject(c, "first", virq_xcheck_path_name(p1));
			cJSON_AddStringToObject(c, "second", virq_xcheck_path_name(p2));
			cJSON_AddItemToArray(cf, c);
		}
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_Delete(*res);
	*res = out;
out:
	virq_xcheck_report_free(rep);
	free(srcvec);
	free(dstpaths);
	free(attr);
	free(ks);
	free(gl);
	free(vcpus);
	free(xvms);
	return e;
}

/* ---- interrupts by source (vm.stats "sources", include/virq/irqsrc.h) ------------------- */

static void src_to_json(cJSON *o, const struct virq_src_counts *c)
{
	cJSON *g;

	for (int s = 0; s < VIRQ_SRC__COUNT; s++)
		cJSON_AddNumberToObject(o, virq_src_name(s), (double)c->n[s]);
	g = cJSON_AddObjectToObject(o, "gsi");
	for (int p = 0; p < VIRQ_SRC_PINS; p++) {
		char k[8];

		if (!c->pin[p])
			continue;
		snprintf(k, sizeof(k), "%d", p);
		cJSON_AddNumberToObject(g, k, (double)c->pin[p]);
	}
}

/* User mode: our LAPICs' own counts. */
static int src_user(struct virqd_vm *v, struct virq_src_counts *cnt, uint32_t n, char *why,
		    size_t wlen)
{
	struct virq_lapic_stats *st = malloc(sizeof(*st));
	int r = 0;

	if (!st) {
		snprintf(why, wlen, "out of memory");
		return -ENOMEM;
	}
	for (uint32_t c = 0; c < n && !r; c++) {
		struct virq_vcpu_user_stats us;

		r = virq_vm_lapic_stats(v->vm, c, st);
		if (!r)
			r = virq_vm_user_stats(v->vm, c, &us);
		if (r)
			snprintf(why, wlen, "vCPU %u: %s", c, strerror(-r));
		else
			virq_src_from_lapic(st, us.post_coalesced, &cnt[c]);
	}
	free(st);
	return r;
}

/* Kernel/split mode: BPF's accepts of this VM, attributed as the cross-check does (its
 * tracer cookie, or every event of our process when it is our only VM). */
static int src_bpf(struct virqd *d, struct virqd_vm *v, struct virq_src_counts *cnt, uint32_t n,
		   uint64_t *extint_vm, int *timer, char *why, size_t wlen)
{
	const struct virq_vm_config *cfg = virq_vm_get_config(v->vm);
	struct virq_xcheck_vm *xv = calloc(1, sizeof(*xv));
	struct virq_xcheck_vcpu *vcpus = calloc(n ? n : 1, sizeof(*vcpus));
	uint64_t(*srcvec)[VIRQ_XC_NR_VECTORS] = calloc(VIRQ_XC_PATH__COUNT, sizeof(*srcvec));
	uint8_t(*dstpaths)[VIRQ_XC_NR_VECTORS] = calloc(VIRQ_XC_MAX_VCPUS, sizeof(*dstpaths));
	uint32_t *vecpins = calloc(VIRQ_XC_NR_VECTORS, sizeof(*vecpins));
	uint32_t *split = calloc(VIRQ_XC_NR_VECTORS, sizeof(*split));
	struct virq_src_kernel in = { 0 };
	struct virq_vmm_ledger vl;
	uint32_t vm_id = 0;
	int r = -ENOMEM;

	snprintf(why, wlen, "out of memory");
	if (!xv || !vcpus || !srcvec || !dstpaths || !vecpins || !split)
		goto out;
	r = -ENODEV;
	if (!d->trace) {
		snprintf(why, wlen, "no BPF tracer: %.180s", d->bpf_why);
		goto out;
	}
	virqd_trace_ring_ready(d);
	learn_from_threads(d);
	if (v->trace_vm_id && v->trace_tainted) {
		snprintf(why, wlen,
			 "its tracer cookie %#x was used by a destroyed VM: counts mixed",
			 v->trace_vm_id);
		goto out;
	} else if (v->trace_vm_id) {
		vm_id = v->trace_vm_id;
	} else if (d->nr_vms != 1 || d->nr_retired) {
		snprintf(why, wlen, "no BPF event from its vCPU threads seen yet (cookie unknown)");
		goto out;
	}
	virq_xcheck_vm_init(xv);
	xv->nr_vcpus = n;
	xv->vcpus = vcpus;
	for (uint32_t c = 0; c < n; c++)
		vcpus[c].vcpu_id = vcpus[c].apic_id = c; /* CPUID's initial APIC ID */
	{
		struct xc_kctx kc = { .vm = xv,
				      .vcpus = vcpus,
				      .tgid = getpid(),
				      .vm_id = vm_id,
				      .only_vm = !vm_id,
				      .srcvec = srcvec,
				      .dstpaths = dstpaths,
				      .vecpins = vecpins };

		virq_trace_read_counters(d->trace, counter_to_xc, &kc);
	}
	in.nr_vcpus = n;
	in.vcpus = vcpus;
	in.srcvec = (const uint64_t(*)[VIRQ_XC_NR_VECTORS])srcvec;
	in.dstpaths = (const uint8_t(*)[VIRQ_XC_NR_VECTORS])dstpaths;
	in.vecpins = vecpins;
	/* The 8259A's ExtINT takes no LAPIC accept: KVM's PIC passing an assertion on in
	 * kernel mode, our PIC's injections (the VMM's count) in split mode. */
	*extint_vm = xv->k_pic_delivered;
	if (cfg->irqchip == VIRQ_IRQCHIP_SPLIT) {
		if (virq_vm_split_pins(v->vm, split) == 0)
			in.split_pins = split;
		*extint_vm = virq_vm_vmm_ledger(v->vm, &vl) == 0 ? vl.extint_injected : 0;
	}
	r = virq_src_classify(&in, cnt, timer);
	if (r)
		snprintf(why, wlen, "%s", strerror(-r));
out:
	free(split);
	free(vecpins);
	free(dstpaths);
	free(srcvec);
	free(vcpus);
	free(xv);
	return r;
}

void virqd_vm_sources_json(struct virqd *d, struct virqd_vm *v, cJSON *res)
{
	const struct virq_vm_config *cfg = virq_vm_get_config(v->vm);
	uint32_t n = cfg->nr_vcpus < VIRQ_XC_MAX_VCPUS ? cfg->nr_vcpus : VIRQ_XC_MAX_VCPUS;
	struct virq_src_counts *cnt = calloc(n ? n : 1, sizeof(*cnt));
	bool user = cfg->irqchip == VIRQ_IRQCHIP_USER;
	cJSON *o = cJSON_AddObjectToObject(res, "sources"), *a;
	uint64_t extint_vm = 0;
	int timer = -1, r;
	char why[224] = "";

	cJSON_AddStringToObject(o, "counted", "acceptance");
	cJSON_AddStringToObject(o, "from", user ? "lapic" : "bpf");
	if (!cnt) {
		snprintf(why, sizeof(why), "out of memory");
		r = -ENOMEM;
	} else {
		r = user ? src_user(v, cnt, n, why, sizeof(why)) :
			   src_bpf(d, v, cnt, n, &extint_vm, &timer, why, sizeof(why));
	}
	cJSON_AddBoolToObject(o, "available", r == 0);
	if (r) {
		cJSON_AddStringToObject(o, "reason", why);
		free(cnt);
		return;
	}
	if (timer >= 0)
		cJSON_AddNumberToObject(o, "timer_vector", timer);
	a = cJSON_AddArrayToObject(o, "vcpus");
	for (uint32_t c = 0; c < n; c++) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddNumberToObject(e, "vcpu", c);
		src_to_json(e, &cnt[c]);
		cJSON_AddItemToArray(a, e);
	}
	if (!user)
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(o, "unattributed"), "extint",
					(double)extint_vm);
	free(cnt);
}
