// SPDX-License-Identifier: MIT
/*
 * The cross-check engine: turns four ledgers into verdicts (see include/virq/xcheck.h for
 * the verdict rules and the in-flight bound). Pure: no I/O, no allocation.
 *
 * Stages, each comparing two adjacent ledgers so that a loss is located, not just seen:
 *   VMM injections -> kernel source events -> kvm_apic_accept_irq -> kvm_eoi (kernel
 *   delivery) and VMM expectation -> guest receipts (end to end). Then KVM's stats and
 *   the exit counters; then deviation findings.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "virq/xcheck.h"

struct ctx {
	const struct virq_xcheck_input *in;
	struct virq_xcheck_report *out;
	const struct virq_xcheck_vm *vm;
	/* guest/accept receipts on vectors claimed by no path, still available to explain a
	 * shortfall as misrouting (wrong vector) */
	uint64_t unclaimed_guest;
	uint64_t unclaimed_accept;
	int unclaimed_guest_vec;
	int unclaimed_accept_vec;
	uint64_t refired; /* level re-fires seen in this VM's checks */
};

static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static bool quiesced(const struct ctx *x)
{
	return x->vm->flags & VIRQ_XC_VM_QUIESCED;
}

static bool is_level(const struct virq_xcheck_vm *vm, unsigned int v)
{
	return (vm->level_vectors[v / 64] >> (v % 64)) & 1;
}

static void check_init(const struct ctx *x, struct virq_xcheck_check *c, unsigned int path,
		       enum virq_xcheck_kind kind, int vcpu, int index)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->vm, sizeof(c->vm), "%s", x->vm->name);
	c->path = (uint8_t)path;
	c->kind = (uint8_t)kind;
	c->vcpu = vcpu;
	c->index = index;
}

static void value_add(struct virq_xcheck_check *c, const char *name, uint64_t v)
{
	if (c->nr_values >= VIRQ_XC_MAX_VALUES)
		return;
	snprintf(c->values[c->nr_values].name, VIRQ_XC_VALUE_NAME_MAX, "%s", name);
	c->values[c->nr_values++].value = v;
}

static void __attribute__((format(printf, 2, 3)))
detail(struct virq_xcheck_check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

/* Does the check rest on a BPF count (a tracepoint's value)? */
static bool uses_bpf(const struct virq_xcheck_check *c)
{
	for (unsigned int i = 0; i < c->nr_values && i < VIRQ_XC_MAX_VALUES; i++)
		if (!strncmp(c->values[i].name, "kvm_", 4) ||
		    !strncmp(c->values[i].name, "bpf.", 4))
			return true;
	return false;
}

static void emit(struct ctx *x, const struct virq_xcheck_check *cin)
{
	struct virq_xcheck_report *r = x->out;
	struct virq_xcheck_check cc, *c = &cc;

	cc = *cin;
	if (x->in->bpf_not_recorded && uses_bpf(c) &&
	    (c->verdict == VIRQ_XC_LOST || c->verdict == VIRQ_XC_SPURIOUS ||
	     c->verdict == VIRQ_XC_MISROUTED)) {
		char was[VIRQ_XC_DETAIL_MAX];

		snprintf(was, sizeof(was), "%s", c->detail);
		c->verdict = VIRQ_XC_UNOBSERVABLE;
		snprintf(c->detail, sizeof(c->detail),
			 "BPF counts incomplete (%llu events not recorded: counters map full); "
			 "would be: %.90s",
			 (unsigned long long)x->in->bpf_not_recorded, was);
	}

	r->by_verdict[c->verdict]++;
	if (r->nr_checks >= VIRQ_XC_MAX_CHECKS) {
		r->dropped_checks++;
		return;
	}
	r->checks[r->nr_checks++] = *c;
	if (c->refired)
		x->refired += c->refired;
}

/* Is attach point `tp` usable for this VM? If not, makes *c unobservable with the reason. */
static bool tp_usable(const struct ctx *x, struct virq_xcheck_check *c, enum virq_xcheck_tp tp)
{
	const struct virq_xcheck_source *s = &x->in->tp[tp];
	const char *name = virq_xcheck_tp_name(tp);

	if (!(x->vm->flags & VIRQ_XC_VM_TRACED)) {
		c->verdict = VIRQ_XC_UNOBSERVABLE;
		detail(c, "%s: VM not traced (no BPF ledger for it)", name);
		return false;
	}
	if (s->state == VIRQ_XC_SRC_LIVE)
		return true;
	c->verdict = VIRQ_XC_UNOBSERVABLE;
	detail(c, "%s %s%s%.*s", name, virq_xcheck_src_state_name(s->state),
	       s->reason[0] ? ": " : "", (int)sizeof(s->reason), s->reason);
	return false;
}

/* Is KVM stat `st` usable for this vCPU? Same contract as tp_usable(). */
static bool stat_usable(const struct ctx *x, struct virq_xcheck_check *c,
			const struct virq_xcheck_vcpu *vc, enum virq_xcheck_stat st)
{
	const struct virq_xcheck_source *s = &x->in->stat_src[st];
	const char *name = virq_xcheck_stat_name(st);

	if (!(x->vm->flags & VIRQ_XC_VM_STATS) || !(vc->stat_valid & (1u << st))) {
		c->verdict = VIRQ_XC_UNOBSERVABLE;
		detail(c, "stat %s not read for this VM", name);
		return false;
	}
	if (s->state != VIRQ_XC_SRC_LIVE) {
		c->verdict = VIRQ_XC_UNOBSERVABLE;
		detail(c, "stat %s %s%s%.*s", name, virq_xcheck_src_state_name(s->state),
		       s->reason[0] ? ": " : "", (int)sizeof(s->reason), s->reason);
		return false;
	}
	return true;
}

/*
 * Verdict from totals. `expected` already excludes counted coalescing (c->coalesced);
 * `bound` is the in-flight bound (0 when quiesced); `refire_ok` the surplus that level
 * re-fire explains; `symmetric` lets an in-flight surplus be pending too (counters read
 * in either order, e.g. exits).
 */
static void judge(struct virq_xcheck_check *c, uint64_t expected, uint64_t observed, uint64_t bound,
		  uint64_t refire_ok, bool symmetric)
{
	c->expected = expected;
	c->observed = observed;
	if (observed == expected) {
		c->verdict = c->coalesced ? VIRQ_XC_COALESCED : VIRQ_XC_CONSISTENT;
	} else if (observed < expected) {
		uint64_t s = expected - observed;

		if (s <= bound) {
			c->verdict = VIRQ_XC_PENDING;
			c->pending = s;
		} else {
			c->verdict = VIRQ_XC_LOST;
		}
	} else {
		uint64_t s = observed - expected;

		if (s <= refire_ok) {
			c->verdict = VIRQ_XC_REFIRED;
			c->refired = s;
		} else if (symmetric && s <= bound) {
			c->verdict = VIRQ_XC_PENDING;
			c->pending = s;
		} else {
			c->verdict = VIRQ_XC_SPURIOUS;
		}
	}
}

static void explain_totals(struct virq_xcheck_check *c, const char *what_exp, const char *what_obs)
{
	switch (c->verdict) {
	case VIRQ_XC_CONSISTENT:
		detail(c, "%s = %s = %llu", what_obs, what_exp, (unsigned long long)c->observed);
		break;
	case VIRQ_XC_COALESCED:
		detail(c, "%s = %s = %llu after %llu coalesced (counted by the VMM)", what_obs,
		       what_exp, (unsigned long long)c->observed, (unsigned long long)c->coalesced);
		break;
	case VIRQ_XC_PENDING:
		detail(c, "%s %llu vs %s %llu: %llu in flight (within bound, VM running)", what_obs,
		       (unsigned long long)c->observed, what_exp, (unsigned long long)c->expected,
		       (unsigned long long)c->pending);
		break;
	case VIRQ_XC_REFIRED:
		detail(c,
		       "%s %llu > %s %llu: %llu re-fires of held level lines (remote IRR "
		       "cleared at injection)",
		       what_obs, (unsigned long long)c->observed, what_exp,
		       (unsigned long long)c->expected, (unsigned long long)c->refired);
		break;
	case VIRQ_XC_LOST:
		detail(c, "%s %llu < %s %llu: %llu lost%s", what_obs,
		       (unsigned long long)c->observed, what_exp, (unsigned long long)c->expected,
		       (unsigned long long)(c->expected - c->observed),
		       c->pending ? "" : " (beyond the in-flight bound)");
		break;
	case VIRQ_XC_SPURIOUS:
		detail(c, "%s %llu > %s %llu: %llu unexplained", what_obs,
		       (unsigned long long)c->observed, what_exp, (unsigned long long)c->expected,
		       (unsigned long long)(c->observed - c->expected));
		break;
	default:
		break;
	}
}

/* The in-flight bound for `cells` active (vCPU, vector) cells (see xcheck.h). */
static uint64_t inflight_bound(const struct ctx *x, uint64_t cells)
{
	uint64_t inj = x->vm->injectors ? x->vm->injectors : 1;

	return quiesced(x) ? 0 : 2 * cells + inj;
}

static bool vec_in_group(const struct virq_xcheck_vm *vm, unsigned int v, unsigned int path)
{
	return vm->vector_path[v] == path;
}

/*
 * A quiesced owned VM: the interrupts of `path` its paused vCPUs still hold, accepted and
 * not yet taken (IRR/PIR, with `irr`) and taken and not yet EOId (ISR, with `isr`): at most
 * one each per vector and vCPU (SDM Vol. 3A 11.8.4). A shortfall of receipts or EOIs up to
 * that many is not a loss: they will be taken when the VM runs. 0 when unknown.
 */
static uint64_t held(const struct ctx *x, unsigned int path, bool irr, bool isr)
{
	const struct virq_xcheck_vm *vm = x->vm;
	uint64_t n = 0;

	if (!quiesced(x) || !(vm->flags & VIRQ_XC_VM_HELD))
		return 0;
	for (uint32_t i = 0; i < vm->nr_vcpus; i++)
		for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
			if (!vec_in_group(vm, v, path))
				continue;
			n += irr && (vm->vcpus[i].held_irr[v / 64] >> (v % 64) & 1);
			n += isr && (vm->vcpus[i].held_isr[v / 64] >> (v % 64) & 1);
		}
	return n;
}

/* After judge() with a held bound: say so, a paused VM's pending is not "in flight". */
static void explain_held(const struct ctx *x, struct virq_xcheck_check *c, uint64_t h,
			 const char *what)
{
	if (c->verdict != VIRQ_XC_PENDING || !quiesced(x) || !h)
		return;
	detail(c, "%llu short, held by the paused vCPUs (%s of %llu vectors): not taken yet",
	       (unsigned long long)c->pending, what, (unsigned long long)h);
	value_add(c, "held", h);
}

static bool path_claimed(const struct virq_xcheck_vm *vm, unsigned int path)
{
	return memchr(vm->vector_path, (int)path, sizeof(vm->vector_path)) != NULL;
}

/* VMM's expected deliveries (CPUs reached) on a path. */
static uint64_t vmm_expected(const struct virq_xcheck_vmm_path *p)
{
	if (p->flags & VIRQ_XC_VMM_CPUS_KNOWN)
		return p->cpus_reached;
	return sub0(p->injected, p->coalesced + p->ignored + p->failed);
}

/* --- per-cell comparison (misrouting) ----------------------------------------------- */

enum cell_src { CELL_VMM, CELL_ACCEPT, CELL_EOI, CELL_GUEST };

static uint64_t cell(const struct virq_xcheck_vcpu *vc, enum cell_src s, unsigned int v)
{
	switch (s) {
	case CELL_VMM:
		return sub0(vc->vmm_injected[v], vc->vmm_coalesced[v]);
	case CELL_ACCEPT:
		return vc->k_accept[v];
	case CELL_EOI:
		return vc->k_eoi[v];
	case CELL_GUEST:
		return vc->guest_received[v];
	}
	return 0;
}

struct cells {
	uint64_t exp, obs; /* totals over the group */
	uint64_t short_, surplus, level_surplus;
	uint64_t coalesced; /* VMM-counted coalescing in the compared cells */
	uint64_t active; /* cells with an expectation or an observation */
	int short_vcpu, short_vec, sur_vcpu, sur_vec;
};

/* Was `v` injected by the VMM at any vCPU? */
static bool vmm_driven(const struct virq_xcheck_vm *vm, unsigned int v)
{
	for (uint32_t i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].vmm_injected[v])
			return true;
	return false;
}

/* Compares two per-(vCPU, vector) ledgers over the vectors of group `path`; with
 * `driven_only`, over those of them the VMM injected. */
static void cells_compare(const struct virq_xcheck_vm *vm, unsigned int path, enum cell_src es,
			  enum cell_src os, bool driven_only, struct cells *k)
{
	memset(k, 0, sizeof(*k));
	k->short_vcpu = k->short_vec = k->sur_vcpu = k->sur_vec = -1;
	for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
		if (!vec_in_group(vm, v, path) || (driven_only && !vmm_driven(vm, v)))
			continue;
		for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
			const struct virq_xcheck_vcpu *vc = &vm->vcpus[i];
			uint64_t e = cell(vc, es, v), o = cell(vc, os, v);

			k->exp += e;
			k->obs += o;
			if (es == CELL_VMM)
				k->coalesced += vc->vmm_coalesced[v];
			if (e || o)
				k->active++;
			if (e > o) {
				k->short_ += e - o;
				if (k->short_vcpu < 0) {
					k->short_vcpu = (int)vc->vcpu_id;
					k->short_vec = (int)v;
				}
			} else if (o > e) {
				if (is_level(vm, v)) {
					k->level_surplus += o - e;
					continue;
				}
				k->surplus += o - e;
				if (k->sur_vcpu < 0) {
					k->sur_vcpu = (int)vc->vcpu_id;
					k->sur_vec = (int)v;
				}
			}
		}
	}
}

/*
 * Misrouting: a shortfall in one cell matched by a surplus in another cell of the group, or
 * by receipts on a vector claimed by no path (*unclaimed, consumed here). Returns true and
 * fills *c when found. Only judged when the per-cell expectation covers the path total.
 */
static bool judge_misrouted(struct virq_xcheck_check *c, const struct cells *k,
			    uint64_t path_expected, uint64_t *unclaimed, int unclaimed_vec,
			    const char *stage)
{
	uint64_t moved;

	if (!k->short_ || k->exp != path_expected)
		return false;
	if (k->surplus) {
		moved = min64(k->short_, k->surplus);
		c->verdict = VIRQ_XC_MISROUTED;
		c->misrouted = moved;
		c->index = k->short_vec;
		detail(c, "%llu expected at vCPU %d vector %d %s at vCPU %d vector %d instead",
		       (unsigned long long)moved, k->short_vcpu, k->short_vec, stage, k->sur_vcpu,
		       k->sur_vec);
		return true;
	}
	if (*unclaimed) {
		moved = min64(k->short_, *unclaimed);
		*unclaimed -= moved;
		c->verdict = VIRQ_XC_MISROUTED;
		c->misrouted = moved;
		c->index = k->short_vec;
		detail(c, "%llu expected at vCPU %d vector %d %s on vector %d, used by no path",
		       (unsigned long long)moved, k->short_vcpu, k->short_vec, stage,
		       unclaimed_vec);
		return true;
	}
	return false;
}

/*
 * Surplus explained by level re-fire: with cells, exactly the surplus on level vectors;
 * without, the whole surplus if the path carries any level vector (cannot split it).
 */
static uint64_t refire_allowance(const struct virq_xcheck_vm *vm, unsigned int p, bool per_cell,
				 const struct cells *k, uint64_t observed, uint64_t expected)
{
	if (per_cell)
		return k->level_surplus;
	for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++)
		if (vec_in_group(vm, v, p) && is_level(vm, v))
			return sub0(observed, expected);
	return 0;
}

/* --- interrupt checks ------------------------------------------------------------- */

static void check_source(struct ctx *x, unsigned int p)
{
	const struct virq_xcheck_vmm_path *vp = &x->vm->vmm[p];
	const struct virq_xcheck_kernel_path *kp = &x->vm->kern[p];
	struct virq_xcheck_check c;
	uint64_t expected;

	if (kp->source_tp == VIRQ_XC_TP_NONE || kp->source_tp >= VIRQ_XC_TP__COUNT)
		return;
	if (!vp->injected && !kp->source)
		return;
	check_init(x, &c, p, VIRQ_XC_K_SOURCE, -1, -1);
	/* Every call that reached KVM produces one source event, coalesced or not. */
	expected = sub0(vp->injected, vp->failed);
	value_add(&c, "vmm.injected", vp->injected);
	value_add(&c, "vmm.failed", vp->failed);
	value_add(&c, virq_xcheck_tp_name(kp->source_tp), kp->source);
	if (tp_usable(x, &c, kp->source_tp)) {
		judge(&c, expected, kp->source, quiesced(x) ? 0 : (x->vm->injectors ?: 1), 0,
		      false);
		explain_totals(&c, "vmm.injected", virq_xcheck_tp_name(kp->source_tp));
	} else {
		c.expected = expected;
		c.observed = kp->source;
	}
	emit(x, &c);
}

/* Stage VMM (CPUs reached) -> kvm_apic_accept_irq; per cell when known. */
static void check_accept(struct ctx *x, unsigned int p)
{
	const struct virq_xcheck_vm *vm = x->vm;
	const struct virq_xcheck_vmm_path *vp = &vm->vmm[p];
	const struct virq_xcheck_kernel_path *kp = &vm->kern[p];
	const char *tpn = virq_xcheck_tp_name(kp->accept_tp);
	struct virq_xcheck_check c;
	struct cells k;
	uint64_t expected = vmm_expected(vp);
	bool per_cell = kp->accept_tp == VIRQ_XC_TP_APIC_ACCEPT_IRQ &&
			(vm->flags & VIRQ_XC_VM_VMM_PER_VCPU);

	if (kp->accept_tp == VIRQ_XC_TP_NONE || kp->accept_tp >= VIRQ_XC_TP__COUNT)
		return;
	if (!vp->injected && !kp->accepts)
		return;
	if (!vp->injected) /* nothing injected by the VMM here (e.g. timer): see the EOI check */
		return;
	if (!path_claimed(vm, p)) /* no vector attributed to it: see check_vm_group() */
		return;
	check_init(x, &c, p, VIRQ_XC_K_ACCEPT, -1, -1);
	c.coalesced = vp->coalesced;
	value_add(&c, "vmm.injected", vp->injected);
	value_add(&c, "vmm.coalesced", vp->coalesced);
	value_add(&c, "vmm.ignored", vp->ignored);
	value_add(&c, tpn, kp->accepts);
	if (!tp_usable(x, &c, kp->accept_tp)) {
		c.expected = expected;
		c.observed = kp->accepts;
		emit(x, &c);
		return;
	}
	memset(&k, 0, sizeof(k));
	if (per_cell) {
		cells_compare(vm, p, CELL_VMM, CELL_ACCEPT, false, &k);
		if (judge_misrouted(&c, &k, expected, &x->unclaimed_accept, x->unclaimed_accept_vec,
				    "was accepted")) {
			c.expected = expected;
			c.observed = kp->accepts;
			emit(x, &c);
			return;
		}
	}
	judge(&c, expected, kp->accepts, inflight_bound(x, per_cell ? k.active : vm->nr_vcpus),
	      refire_allowance(vm, p, per_cell, &k, kp->accepts, expected), false);
	explain_totals(&c, "vmm.cpus_reached", tpn);
	emit(x, &c);
}

/*
 * KVM's in-kernel LAPIC (kernel/split irqchip) accepts a fixed edge interrupt whose vector
 * is already pending in the IRR and merges it (one bit per vector, SDM Vol. 3A 11.8.4)
 * without any coalescing signal: kvm_apic_accept_irq carries no coalesced field on these
 * kernels and KVM_SIGNAL_MSI answers 1. So a shortfall of guest receipts or kvm_eoi against
 * expected deliveries, with no other evidence, is bounded by that merging and cannot be
 * called lost. A loss stays provable (verdict kept "lost") when:
 *   - the VM is quiesced and a cell (vCPU, vector) that expected deliveries got none: a
 *     merge always leaves one interrupt delivered;
 *   - a vCPU's irq_injections stat is lower than its guest receipts (vectors >= 32 that
 *     are not NMIs or posted): KVM's own injection count has a hole;
 *   - guest receipts fall short of kvm_eoi with the vector (KVM's own count of deliveries
 *     on this host, where EOI happens at injection): the loss is after KVM delivered, so
 *     no merge explains it.
 * Otherwise rewrites a "lost" *c as unobservable with the reason and the bound in
 * `coalesced`. Only on paths the VMM injected on (and the group of unattributed vectors)
 * of owned VMs: for the guest's own timer and IPIs, and for observed VMs, nothing says the
 * vectors are the VMM's fixed edge messages, so a shortfall stays as judged. `es`/`os`:
 * the cells compared (per_cell false: only totals are known).
 */
static void irr_merge_bound(struct ctx *x, struct virq_xcheck_check *c, unsigned int path,
			    enum cell_src es, enum cell_src os, bool per_cell, bool driven_only)
{
	const struct virq_xcheck_vm *vm = x->vm;
	uint64_t shortfall;

	if (c->verdict != VIRQ_XC_LOST || !(vm->flags & VIRQ_XC_VM_LAPIC_IN_KERNEL) ||
	    !(vm->flags & VIRQ_XC_VM_OWNED) || path == VIRQ_XC_PATH_NMI ||
	    path == VIRQ_XC_PATH_POSTED)
		return;
	/* Only where the VMM injected: its own messages are the fixed edge ones whose
	 * merging KVM does not report (the guest's timer and IPIs are judged as they are). */
	if (path < VIRQ_XC_PATH__COUNT && !vm->vmm[path].injected)
		return;
	if (os == CELL_GUEST && (vm->flags & VIRQ_XC_VM_TRACED) &&
	    x->in->tp[VIRQ_XC_TP_EOI].state == VIRQ_XC_SRC_LIVE) {
		uint64_t eoi = 0, rcv = 0;

		for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
			if (!vec_in_group(vm, v, path) || (driven_only && !vmm_driven(vm, v)))
				continue;
			for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
				eoi += vm->vcpus[i].k_eoi[v];
				rcv += vm->vcpus[i].guest_received[v];
			}
		}
		if (rcv < eoi) {
			size_t n = strlen(c->detail);

			snprintf(c->detail + n, sizeof(c->detail) - n,
				 "; KVM delivered %llu (kvm_eoi): not merged in the IRR",
				 (unsigned long long)eoi);
			return;
		}
	}
	if (quiesced(x)) {
		if (!per_cell && c->expected && !c->observed)
			return;
		for (unsigned int v = 0; per_cell && v < VIRQ_XC_NR_VECTORS; v++) {
			if (!vec_in_group(vm, v, path) || (driven_only && !vmm_driven(vm, v)) ||
			    is_level(vm, v))
				continue;
			for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
				const struct virq_xcheck_vcpu *vc = &vm->vcpus[i];

				if (cell(vc, es, v) && !cell(vc, os, v)) {
					size_t n = strlen(c->detail);

					c->index = (int)v;
					snprintf(c->detail + n, sizeof(c->detail) - n,
						 "; vCPU %u vector %u got none of %llu (a merge "
						 "leaves one delivered)",
						 vc->vcpu_id, v,
						 (unsigned long long)cell(vc, es, v));
					return;
				}
			}
		}
	}
	if (vm->flags & VIRQ_XC_VM_STATS) {
		for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
			const struct virq_xcheck_vcpu *vc = &vm->vcpus[i];
			uint64_t rcv = 0;

			if (!(vc->stat_valid & (1u << VIRQ_XC_STAT_IRQ_INJECTIONS)) ||
			    x->in->stat_src[VIRQ_XC_STAT_IRQ_INJECTIONS].state != VIRQ_XC_SRC_LIVE)
				continue;
			for (unsigned int v = 32; v < VIRQ_XC_NR_VECTORS; v++)
				if (vm->vector_path[v] != VIRQ_XC_PATH_NMI &&
				    vm->vector_path[v] != VIRQ_XC_PATH_POSTED)
					rcv += vc->guest_received[v];
			if ((vm->flags & VIRQ_XC_VM_GUEST) &&
			    vc->stat[VIRQ_XC_STAT_IRQ_INJECTIONS] < rcv) {
				size_t n = strlen(c->detail);

				snprintf(c->detail + n, sizeof(c->detail) - n,
					 "; vCPU %u irq_injections %llu < guest receipts %llu",
					 vc->vcpu_id,
					 (unsigned long long)vc->stat[VIRQ_XC_STAT_IRQ_INJECTIONS],
					 (unsigned long long)rcv);
				return;
			}
		}
	}
	shortfall = sub0(c->expected, c->observed);
	c->verdict = VIRQ_XC_UNOBSERVABLE;
	c->coalesced = shortfall;
	detail(c,
	       "%llu short: merged in KVM's in-kernel IRR (vector already pending: no "
	       "coalescing signal from KVM), not provably lost",
	       (unsigned long long)shortfall);
}

/* End to end: VMM expectation (or kernel accepts, for paths the VMM does not drive) ->
 * guest receipts. */
static void check_guest(struct ctx *x, unsigned int p)
{
	const struct virq_xcheck_vm *vm = x->vm;
	const struct virq_xcheck_vmm_path *vp = &vm->vmm[p];
	const struct virq_xcheck_kernel_path *kp = &vm->kern[p];
	struct virq_xcheck_check c;
	struct cells k;
	enum cell_src es;
	uint64_t expected, received = 0, hb;
	bool per_cell;
	const char *what;

	if (!(vm->flags & VIRQ_XC_VM_GUEST))
		return;
	for (uint32_t i = 0; i < vm->nr_vcpus; i++)
		for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++)
			if (vec_in_group(vm, v, p))
				received += vm->vcpus[i].guest_received[v];
	if (!vp->injected && !kp->accepts && !received)
		return;
	if (vp->injected && !path_claimed(vm, p)) /* see check_vm_group() */
		return;
	check_init(x, &c, p, VIRQ_XC_K_GUEST, -1, -1);
	if (vp->injected) {
		expected = vmm_expected(vp);
		c.coalesced = vp->coalesced;
		es = CELL_VMM;
		per_cell = vm->flags & VIRQ_XC_VM_VMM_PER_VCPU;
		what = "vmm.cpus_reached";
		value_add(&c, "vmm.injected", vp->injected);
		value_add(&c, "vmm.coalesced", vp->coalesced);
		value_add(&c, "vmm.ignored", vp->ignored);
	} else {
		/* The VMM does not drive this path (LAPIC timer, guest IPIs): KVM's accepts
		 * are the expectation, if they are observable. */
		what = virq_xcheck_tp_name(kp->accept_tp);
		if (kp->accept_tp == VIRQ_XC_TP_NONE || !tp_usable(x, &c, kp->accept_tp)) {
			if (kp->accept_tp == VIRQ_XC_TP_NONE) {
				c.verdict = VIRQ_XC_UNOBSERVABLE;
				detail(&c,
				       "no expectation: the VMM does not inject on this path and "
				       "no accept event is attributed to it");
			}
			c.observed = received;
			value_add(&c, "guest.received", received);
			emit(x, &c);
			return;
		}
		expected = kp->accepts;
		es = CELL_ACCEPT;
		per_cell = kp->accept_tp == VIRQ_XC_TP_APIC_ACCEPT_IRQ;
		value_add(&c, what, kp->accepts);
	}
	value_add(&c, "guest.received", received);
	memset(&k, 0, sizeof(k));
	if (per_cell) {
		cells_compare(vm, p, es, CELL_GUEST, false, &k);
		if (judge_misrouted(&c, &k, expected, &x->unclaimed_guest, x->unclaimed_guest_vec,
				    "arrived")) {
			c.expected = expected;
			c.observed = received;
			emit(x, &c);
			return;
		}
	}
	hb = held(x, p, true, true);
	judge(&c, expected, received, inflight_bound(x, per_cell ? k.active : vm->nr_vcpus) + hb,
	      refire_allowance(vm, p, per_cell, &k, received, expected), false);
	explain_totals(&c, what, "guest.received");
	explain_held(x, &c, hb, "in IRR, PIR or ISR");
	irr_merge_bound(x, &c, p, es, CELL_GUEST, per_cell, false);
	emit(x, &c);
}

/*
 * Injections on paths to which no vector is attributed (vector_path[] left at "vm"): judged
 * together, per (vCPU, vector), over the vectors the VMM injected (receipts on vectors it
 * never injected, e.g. the guest's own timer, are not expected and not compared here).
 */
static void check_vm_group(struct ctx *x, enum virq_xcheck_kind kind)
{
	const struct virq_xcheck_vm *vm = x->vm;
	enum cell_src os = kind == VIRQ_XC_K_GUEST ? CELL_GUEST : CELL_ACCEPT;
	const char *obs_name = kind == VIRQ_XC_K_GUEST ? "guest.received" : "kvm_apic_accept_irq";
	struct virq_xcheck_check c;
	uint64_t unattributed = 0, none = 0, hb;
	struct cells k;

	for (unsigned int p = 0; p < VIRQ_XC_PATH__COUNT; p++) {
		if (!vm->vmm[p].injected || path_claimed(vm, p))
			continue;
		/* The PIC (ExtINT) and KVM_NMI have no kvm_apic_accept_irq to compare. */
		if (kind == VIRQ_XC_K_ACCEPT && (p == VIRQ_XC_PATH_PIC || p == VIRQ_XC_PATH_NMI))
			continue;
		unattributed += vm->vmm[p].injected;
	}
	if (vm->flags & VIRQ_XC_VM_VMM_PER_VCPU)
		cells_compare(vm, VIRQ_XC_PATH_VM, CELL_VMM, os, true, &k);
	else
		memset(&k, 0, sizeof(k));
	if (!unattributed && !k.exp && !k.obs)
		return;
	check_init(x, &c, VIRQ_XC_PATH_VM, kind, -1, -1);
	value_add(&c, "vmm.injected(unattributed)", unattributed);
	value_add(&c, "vmm.expected(per vcpu)", k.exp);
	value_add(&c, obs_name, k.obs);
	c.expected = k.exp;
	c.observed = k.obs;
	if (!(vm->flags & VIRQ_XC_VM_VMM_PER_VCPU)) {
		c.verdict = VIRQ_XC_UNOBSERVABLE;
		detail(&c,
		       "%llu injections on paths with no vector attributed and no per-vCPU VMM "
		       "ledger: nothing to compare them with",
		       (unsigned long long)unattributed);
		emit(x, &c);
		return;
	}
	if (kind == VIRQ_XC_K_ACCEPT && !tp_usable(x, &c, VIRQ_XC_TP_APIC_ACCEPT_IRQ)) {
		emit(x, &c);
		return;
	}
	c.coalesced = k.coalesced;
	if (judge_misrouted(&c, &k, k.exp, &none, -1,
			    kind == VIRQ_XC_K_GUEST ? "arrived" : "was accepted")) {
		emit(x, &c);
		return;
	}
	hb = kind == VIRQ_XC_K_GUEST ? held(x, VIRQ_XC_PATH_VM, true, true) : 0;
	judge(&c, k.exp, k.obs, inflight_bound(x, k.active) + hb, k.level_surplus, false);
	explain_totals(&c, "vmm.injected-coalesced", obs_name);
	explain_held(x, &c, hb, "in IRR, PIR or ISR");
	if (kind == VIRQ_XC_K_GUEST)
		irr_merge_bound(x, &c, VIRQ_XC_PATH_VM, CELL_VMM, os, true, true);
	emit(x, &c);
}

/* Kernel delivery: kvm_apic_accept_irq -> kvm_eoi with the vector, per cell. On hosts whose
 * LAPIC sets ISR this EOI is the guest's; on this host it is the auto-EOI at injection:
 * either way one per delivered interrupt. A vector accepted while already in the IRR merges
 * (SDM 11.8.4) without any counter, so it cannot be claimed as coalesced. */
static void check_eoi(struct ctx *x, unsigned int p)
{
	const struct virq_xcheck_vm *vm = x->vm;
	struct virq_xcheck_check c;
	struct cells k;
	uint64_t hb;

	/* Paths whose accepts are another event (posted) have no per-vector accepts. */
	if (p < VIRQ_XC_PATH__COUNT && vm->kern[p].accept_tp != VIRQ_XC_TP_NONE &&
	    vm->kern[p].accept_tp != VIRQ_XC_TP_APIC_ACCEPT_IRQ)
		return;
	if (!(vm->flags & VIRQ_XC_VM_TRACED))
		return;
	cells_compare(vm, p, CELL_ACCEPT, CELL_EOI, false, &k);
	if (!k.exp && !k.obs)
		return;
	check_init(x, &c, p, VIRQ_XC_K_EOI, -1, -1);
	value_add(&c, "kvm_apic_accept_irq", k.exp);
	value_add(&c, "kvm_eoi", k.obs);
	if (!tp_usable(x, &c, VIRQ_XC_TP_APIC_ACCEPT_IRQ) || !tp_usable(x, &c, VIRQ_XC_TP_EOI)) {
		c.expected = k.exp;
		c.observed = k.obs;
		emit(x, &c);
		return;
	}
	if (k.short_ && k.surplus) {
		c.verdict = VIRQ_XC_MISROUTED;
		c.misrouted = min64(k.short_, k.surplus);
		c.expected = k.exp;
		c.observed = k.obs;
		c.index = k.short_vec;
		detail(&c, "%llu accepted for vCPU %d vector %d were EOI'd at vCPU %d vector %d",
		       (unsigned long long)c.misrouted, k.short_vcpu, k.short_vec, k.sur_vcpu,
		       k.sur_vec);
		emit(x, &c);
		return;
	}
	hb = held(x, p, true, true); /* accepted, not EOId yet: in IRR or in ISR */
	judge(&c, k.exp, k.obs, inflight_bound(x, k.active) + hb, 0, false);
	if (c.verdict == VIRQ_XC_LOST)
		c.index = k.short_vec;
	explain_totals(&c, "kvm_apic_accept_irq", "kvm_eoi(vector)");
	explain_held(x, &c, hb, "in IRR or ISR");
	if (c.verdict == VIRQ_XC_LOST) {
		size_t n = strlen(c.detail);

		snprintf(c.detail + n, sizeof(c.detail) - n, "; first at vCPU %d vector %d%s",
			 k.short_vcpu, k.short_vec,
			 n ? " (lost, or merged in the IRR: uncounted)" : "");
	}
	irr_merge_bound(x, &c, p, CELL_ACCEPT, CELL_EOI, true, false);
	emit(x, &c);
}

/*
 * Observed VMs (VMs of other processes: no VMM ledger, no guest ledger): KVM's own chain
 * per (vCPU, vector), as arch/x86/kvm runs it:
 *   accept    kvm_apic_accept_irq of a fixed or lowest-priority interrupt (__apic_accept_irq
 *             sets the vector in IRR; NMI, SMI, INIT, SIPI and ExtINT never take an EOI and
 *             are left out, k_accept_dm[] counts them);
 *   injection kvm_inj_virq (svm_inject_irq / vmx_inject_irq: kvm_cpu_get_interrupt moved the
 *             vector from IRR to ISR); a re-injection (reinjected=1, an exit interrupted the
 *             delivery, SDM Vol. 3C 27.2.4) is the same interrupt and is left out;
 *   EOI       kvm_eoi from apic_set_eoi: the guest's EOI write, the x2APIC EOI MSR, or PV EOI
 *             (apic_sync_pv_eoi_from_guest calls apic_set_eoi too), with the vector taken
 *             out of ISR.
 * An accept of a vector already in IRR merges into it (SDM Vol. 3A 11.8.4): accepts beyond
 * injections are IRR merging, reported as coalesced, not lost. The 8259A's interrupts are
 * injected too (ExtINT through LINT0) but EOI'd at the PIC: a shortfall up to the VM's PIC
 * deliveries cannot be told from a missing EOI (unobservable). Without kvm_inj_virq
 * (APICv/AVIC hosts inject without it; PVM hosts never fire it) merging cannot be told
 * from loss: a shortfall is unobservable with its bound. EOIs beyond what was accepted for
 * a cell are accepts this VM was not credited with (an attribution gap, e.g. an MSI from a
 * kernel thread), never "spurious": KVM traces an EOI only for a vector in ISR.
 */
static void check_eoi_observed(struct ctx *x, unsigned int p)
{
	const struct virq_xcheck_vm *vm = x->vm;
	struct virq_xcheck_check c;
	uint64_t acc = 0, inj = 0, eoi = 0, exp = 0, merged = 0, shortfall = 0, surplus = 0;
	uint64_t cells = 0, reinj = 0;
	int short_vcpu = -1, short_vec = -1, sur_vcpu = -1, sur_vec = -1;
	bool have_inj = x->in->tp[VIRQ_XC_TP_INJ_VIRQ].state == VIRQ_XC_SRC_LIVE;

	if (!(vm->flags & VIRQ_XC_VM_TRACED))
		return;
	for (uint32_t i = 0; i < vm->nr_vcpus; i++)
		reinj += vm->vcpus[i].k_reinj;
	for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
		if (!vec_in_group(vm, v, p))
			continue;
		for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
			const struct virq_xcheck_vcpu *vc = &vm->vcpus[i];
			uint64_t a = vc->k_accept[v], n = vc->k_inj[v], e = vc->k_eoi[v], d;

			if (!a && !n && !e)
				continue;
			cells++;
			acc += a;
			inj += n;
			eoi += e;
			d = have_inj ? min64(a, n) : a;
			merged += have_inj ? sub0(a, n) : 0;
			exp += d;
			if (d > e) {
				shortfall += d - e;
				if (short_vcpu < 0) {
					short_vcpu = (int)vc->vcpu_id;
					short_vec = (int)v;
				}
			} else if (e > d) {
				surplus += e - d;
				if (sur_vcpu < 0) {
					sur_vcpu = (int)vc->vcpu_id;
					sur_vec = (int)v;
				}
			}
		}
	}
	if (!acc && !eoi)
		return;
	check_init(x, &c, p, VIRQ_XC_K_EOI, -1, -1);
	value_add(&c, "kvm_apic_accept_irq", acc);
	value_add(&c, "kvm_inj_virq", inj);
	value_add(&c, "kvm_eoi", eoi);
	value_add(&c, "irr_merged", merged);
	value_add(&c, "kvm_inj_virq(reinjected)", reinj);
	c.expected = exp;
	c.observed = eoi - surplus;
	c.coalesced = merged;
	if (!tp_usable(x, &c, VIRQ_XC_TP_APIC_ACCEPT_IRQ) || !tp_usable(x, &c, VIRQ_XC_TP_EOI)) {
		emit(x, &c);
		return;
	}
	if (surplus && surplus <= inflight_bound(x, cells) &&
	    shortfall <= inflight_bound(x, cells)) {
		/* Counters are read one key after another while the VM runs: an EOI counted
		 * after its accept was read shows as a surplus of at most the in-flight. */
		c.verdict = shortfall ? VIRQ_XC_PENDING :
			    merged    ? VIRQ_XC_COALESCED :
					VIRQ_XC_CONSISTENT;
		c.pending = shortfall;
		detail(&c,
		       "%llu EOIs, %llu expected; the difference (%llu, %llu) is within the "
		       "in-flight bound of a running VM read counter by counter",
		       (unsigned long long)eoi, (unsigned long long)exp,
		       (unsigned long long)surplus, (unsigned long long)shortfall);
	} else if (surplus) {
		c.verdict = VIRQ_XC_UNOBSERVABLE;
		c.index = sur_vec;
		detail(&c,
		       "%llu EOIs beyond the accepts credited to this VM (first at vCPU %d vector "
		       "%d): accepts not attributed to it, so the chain cannot be judged",
		       (unsigned long long)surplus, sur_vcpu, sur_vec);
	} else if (!shortfall) {
		c.verdict = merged ? VIRQ_XC_COALESCED : VIRQ_XC_CONSISTENT;
		detail(&c, "every %s interrupt took its EOI (%llu); %llu accepts merged in IRR",
		       have_inj ? "injected" : "accepted", (unsigned long long)eoi,
		       (unsigned long long)merged);
	} else if (shortfall <= inflight_bound(x, cells)) {
		c.verdict = VIRQ_XC_PENDING;
		c.pending = shortfall;
		detail(&c,
		       "%llu interrupts not EOI'd yet (in service or in IRR, within the "
		       "in-flight bound)",
		       (unsigned long long)shortfall);
	} else if (!have_inj) {
		c.verdict = VIRQ_XC_UNOBSERVABLE;
		c.coalesced = shortfall;
		c.index = short_vec;
		detail(&c,
		       "%llu accepts without an EOI (first at vCPU %d vector %d): merged in IRR "
		       "or lost, kvm_inj_virq %s cannot tell",
		       (unsigned long long)shortfall, short_vcpu, short_vec,
		       virq_xcheck_src_state_name(x->in->tp[VIRQ_XC_TP_INJ_VIRQ].state));
	} else if (shortfall <= inflight_bound(x, cells) + vm->k_pic_delivered) {
		c.verdict = VIRQ_XC_UNOBSERVABLE;
		c.index = short_vec;
		detail(&c,
		       "%llu injections without an EOI, within the %llu interrupts the 8259A "
		       "passed on (EOI'd at the PIC, not the LAPIC)",
		       (unsigned long long)shortfall, (unsigned long long)vm->k_pic_delivered);
	} else {
		c.verdict = VIRQ_XC_LOST;
		c.index = short_vec;
		detail(&c,
		       "%llu interrupts injected from the LAPIC never took an EOI (first at vCPU "
		       "%d vector %d)",
		       (unsigned long long)shortfall, short_vcpu, short_vec);
	}
	emit(x, &c);
}

/* Observed-only VMs: source events per vector -> accepts per vector. One message may reach
 * several CPUs (broadcast, logical), so accepts >= sources is consistent; a shortfall is a
 * source event that reached no LAPIC (masked pin, disabled LAPIC, lost). */
static void check_source_accept_by_vector(struct ctx *x, unsigned int p)
{
	const struct virq_xcheck_vm *vm = x->vm;
	struct virq_xcheck_check c;
	uint64_t src = 0, acc = 0, shortfall = 0, cells = 0;
	uint32_t tps[VIRQ_XC_PATH__COUNT];
	unsigned int ntp = 0;
	int first = -1;

	if (p < VIRQ_XC_PATH__COUNT) {
		const struct virq_xcheck_kernel_path *kp = &vm->kern[p];

		/* The PIC reaches the vCPU as ExtINT, without an accept event. */
		if (p == VIRQ_XC_PATH_PIC || kp->source_tp == VIRQ_XC_TP_NONE ||
		    (kp->accept_tp != VIRQ_XC_TP_NONE &&
		     kp->accept_tp != VIRQ_XC_TP_APIC_ACCEPT_IRQ))
			return;
		tps[ntp++] = kp->source_tp;
	} else {
		/* Vectors of unknown path: every source event that counted. */
		for (unsigned int q = 0; q < VIRQ_XC_PATH__COUNT; q++) {
			uint32_t t = vm->kern[q].source_tp;
			bool dup = false;

			if (q == VIRQ_XC_PATH_PIC || t == VIRQ_XC_TP_NONE || !vm->kern[q].source)
				continue;
			for (unsigned int j = 0; j < ntp; j++)
				dup |= tps[j] == t;
			if (!dup)
				tps[ntp++] = t;
		}
		if (!ntp)
			return;
	}
	for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
		uint64_t a = 0;

		/* level-triggered vectors are judged apart (check_level_observed) */
		if (!vec_in_group(vm, v, p) || is_level(vm, v))
			continue;
		for (uint32_t i = 0; i < vm->nr_vcpus; i++)
			a += vm->vcpus[i].k_accept[v];
		src += vm->k_source_vec[v];
		acc += a;
		if (vm->k_source_vec[v] || a)
			cells++;
		if (vm->k_source_vec[v] > a) {
			shortfall += vm->k_source_vec[v] - a;
			if (first < 0)
				first = (int)v;
		}
	}
	if (!src && !acc)
		return;
	check_init(x, &c, p, VIRQ_XC_K_ACCEPT, -1, first);
	value_add(&c, ntp == 1 ? virq_xcheck_tp_name(tps[0]) : "bpf.source", src);
	value_add(&c, "kvm_apic_accept_irq", acc);
	/* What the chips' tracepoints said of the line changes not counted as sources. */
	if (p < VIRQ_XC_PATH__COUNT && (vm->k_masked[p] || vm->k_line_coalesced[p])) {
		value_add(&c, "masked", vm->k_masked[p]);
		value_add(&c, "coalesced", vm->k_line_coalesced[p]);
	}
	/* Observed: source events matched by an accept of the same vector (fan-out beyond one
	 * accept per source is not counted, so a shortfall on one vector cannot hide behind a
	 * broadcast on another). */
	c.expected = src;
	c.observed = src - shortfall;
	for (unsigned int j = 0; j < ntp; j++) {
		if (!tp_usable(x, &c, tps[j])) {
			emit(x, &c);
			return;
		}
	}
	if (!tp_usable(x, &c, VIRQ_XC_TP_APIC_ACCEPT_IRQ)) {
		emit(x, &c);
		return;
	}
	if (!shortfall) {
		c.verdict = VIRQ_XC_CONSISTENT;
		detail(&c,
		       "every vector's source events reached a LAPIC (%llu sources, %llu "
		       "accepts incl. fan-out)",
		       (unsigned long long)src, (unsigned long long)acc);
	} else if (shortfall <= inflight_bound(x, cells)) {
		c.verdict = VIRQ_XC_PENDING;
		c.pending = shortfall;
		detail(&c, "%llu source events not yet accepted (within in-flight bound)",
		       (unsigned long long)shortfall);
	} else {
		c.verdict = VIRQ_XC_LOST;
		detail(&c,
		       "%llu source events on vector %d and others reached no LAPIC (masked, "
		       "disabled LAPIC or lost)",
		       (unsigned long long)shortfall, first);
	}
	emit(x, &c);
}

/*
 * Observed VMs, level-triggered IOAPIC pins: KVM delivers a level RTE on its assertion and
 * again at every EOI while the line stays asserted (kvm_ioapic_update_eoi_one ->
 * ioapic_service: remote IRR cleared by the EOI, the pin's IRR still set). Those re-fires
 * have no source event, so accepts on the level vectors beyond their assertions are
 * re-fires: reported as refired with their count, and called a storm when they dwarf the
 * assertions (a line the guest EOIs without quieting its device: KVM itself throttles such
 * a pin after IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT successive re-fires).
 */
#define VIRQ_XC_STORM_MIN 1000
#define VIRQ_XC_STORM_RATIO 10

static void check_level_observed(struct ctx *x)
{
	const struct virq_xcheck_vm *vm = x->vm;
	struct virq_xcheck_check c;
	uint64_t acc = 0, eoi = 0, refired;
	int first = -1;

	if (!(vm->flags & VIRQ_XC_VM_TRACED))
		return;
	for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
		if (!is_level(vm, v))
			continue;
		for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
			acc += vm->vcpus[i].k_accept[v];
			eoi += vm->vcpus[i].k_eoi[v];
		}
		if (first < 0)
			first = (int)v;
	}
	if (!vm->k_ioapic_level && !acc)
		return;
	check_init(x, &c, VIRQ_XC_PATH_IOAPIC, VIRQ_XC_K_ACCEPT, -1, first);
	value_add(&c, "kvm_ioapic_set_irq(level)", vm->k_ioapic_level);
	value_add(&c, "kvm_apic_accept_irq", acc);
	value_add(&c, "kvm_eoi", eoi);
	c.expected = vm->k_ioapic_level;
	c.observed = acc;
	if (!tp_usable(x, &c, VIRQ_XC_TP_IOAPIC_SET_IRQ) ||
	    !tp_usable(x, &c, VIRQ_XC_TP_APIC_ACCEPT_IRQ)) {
		emit(x, &c);
		return;
	}
	refired = sub0(acc, vm->k_ioapic_level);
	if (!refired) {
		/* A level assertion while remote IRR is set is not delivered then (it is at
		 * the EOI): fewer accepts than assertions is that gate, not a loss. */
		c.verdict = VIRQ_XC_CONSISTENT;
		detail(&c, "%llu level assertions, %llu accepts (remote IRR gates the rest)",
		       (unsigned long long)vm->k_ioapic_level, (unsigned long long)acc);
	} else {
		c.verdict = VIRQ_XC_REFIRED;
		c.refired = refired;
		if (refired >= VIRQ_XC_STORM_MIN &&
		    refired >= VIRQ_XC_STORM_RATIO * (vm->k_ioapic_level ? vm->k_ioapic_level : 1))
			detail(&c,
			       "interrupt storm: a level line held asserted re-fired %llu times at "
			       "the guest's EOIs (vector %d) for %llu assertions",
			       (unsigned long long)refired, first,
			       (unsigned long long)vm->k_ioapic_level);
		else
			detail(&c, "%llu re-fires of level lines still asserted at EOI (vector %d)",
			       (unsigned long long)refired, first);
	}
	emit(x, &c);
}

/* --- stats ---------------------------------------------------------------------- */

static uint64_t stat_sum(const struct virq_xcheck_vm *vm, enum virq_xcheck_stat st)
{
	uint64_t s = 0;

	for (uint32_t i = 0; i < vm->nr_vcpus; i++)
		s += vm->vcpus[i].stat[st];
	return s;
}

static bool stats_usable_all(const struct ctx *x, struct virq_xcheck_check *c,
			     enum virq_xcheck_stat st)
{
	for (uint32_t i = 0; i < x->vm->nr_vcpus; i++)
		if (!stat_usable(x, c, &x->vm->vcpus[i], st))
			return false;
	return x->vm->nr_vcpus > 0;
}

/*
 * A stat that KVM may bump more than once per event (re-injection after an exit during
 * event delivery, SDM Vol. 3C 27.2.4 IDT-vectoring information): stat >= expected is
 * consistent. A stat still 0 while `expected` events happened is a counter this backend
 * does not maintain: unobservable, never lost.
 */
static void judge_stat_lower_bound(struct virq_xcheck_check *c, const char *stat, const char *what,
				   uint64_t expected, uint64_t observed)
{
	c->expected = expected;
	c->observed = observed;
	if (!observed && expected) {
		c->verdict = VIRQ_XC_UNOBSERVABLE;
		detail(c, "%s stays 0 although %s = %llu: counter not maintained by this KVM", stat,
		       what, (unsigned long long)expected);
	} else if (observed >= expected) {
		c->verdict = VIRQ_XC_CONSISTENT;
		detail(c, "%s %llu >= %s %llu (%llu re-injections)", stat,
		       (unsigned long long)observed, what, (unsigned long long)expected,
		       (unsigned long long)(observed - expected));
	} else {
		c->verdict = VIRQ_XC_LOST;
		detail(c, "%s %llu < %s %llu: KVM counted %llu fewer injections than delivered",
		       stat, (unsigned long long)observed, what, (unsigned long long)expected,
		       (unsigned long long)(expected - observed));
	}
}

static void check_stats(struct ctx *x)
{
	const struct virq_xcheck_vm *vm = x->vm;
	struct virq_xcheck_check c;
	uint64_t irq = 0, nmi = 0, inj = 0;

	if (!(vm->flags & VIRQ_XC_VM_STATS) || !vm->nr_vcpus)
		return;
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		inj += vm->vcpus[i].k_inj_virq;
		for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
			uint8_t p = vm->vector_path[v];

			if (p == VIRQ_XC_PATH_NMI)
				nmi += vm->vcpus[i].guest_received[v];
			else if (p != VIRQ_XC_PATH_POSTED)
				irq += vm->vcpus[i].guest_received[v];
		}
	}

	/* kvm_inj_virq and irq_injections are bumped at the same place (event injection). */
	check_init(x, &c, VIRQ_XC_PATH_VM, VIRQ_XC_K_INJ_STAT, -1, -1);
	value_add(&c, "kvm_inj_virq", inj);
	value_add(&c, "irq_injections", stat_sum(vm, VIRQ_XC_STAT_IRQ_INJECTIONS));
	c.expected = stat_sum(vm, VIRQ_XC_STAT_IRQ_INJECTIONS);
	c.observed = inj;
	if (tp_usable(x, &c, VIRQ_XC_TP_INJ_VIRQ) &&
	    stats_usable_all(x, &c, VIRQ_XC_STAT_IRQ_INJECTIONS)) {
		judge(&c, c.expected, inj, quiesced(x) ? 0 : vm->nr_vcpus, 0, true);
		explain_totals(&c, "irq_injections", "kvm_inj_virq");
	}
	if (c.expected || c.observed || c.verdict == VIRQ_XC_UNOBSERVABLE)
		emit(x, &c);

	if (vm->flags & VIRQ_XC_VM_GUEST) {
		uint64_t st = stat_sum(vm, VIRQ_XC_STAT_IRQ_INJECTIONS);

		check_init(x, &c, VIRQ_XC_PATH_VM, VIRQ_XC_K_IRQ_STAT, -1, -1);
		value_add(&c, "guest.received", irq);
		value_add(&c, "irq_injections", st);
		c.expected = irq;
		c.observed = st;
		if (x->in->tp[VIRQ_XC_TP_APICV_ACCEPT_IRQ].state == VIRQ_XC_SRC_LIVE) {
			c.verdict = VIRQ_XC_UNOBSERVABLE;
			detail(&c, "APICv active: virtual-interrupt delivery bypasses event "
				   "injection, irq_injections does not count it");
		} else if (stats_usable_all(x, &c, VIRQ_XC_STAT_IRQ_INJECTIONS)) {
			judge_stat_lower_bound(&c, "irq_injections", "guest.received", irq, st);
		}
		if (irq || st)
			emit(x, &c);

		st = stat_sum(vm, VIRQ_XC_STAT_NMI_INJECTIONS);
		check_init(x, &c, VIRQ_XC_PATH_NMI, VIRQ_XC_K_NMI_STAT, -1, -1);
		value_add(&c, "guest.received", nmi);
		value_add(&c, "nmi_injections", st);
		c.expected = nmi;
		c.observed = st;
		if (stats_usable_all(x, &c, VIRQ_XC_STAT_NMI_INJECTIONS))
			judge_stat_lower_bound(&c, "nmi_injections", "guest.received", nmi, st);
		if (nmi || st)
			emit(x, &c);
	}
}

/* --- exits ---------------------------------------------------------------------- */

/* VMM count vs a stat of the same vCPU. Exits are counted synchronously on both sides;
 * only the exit being handled can be between them (bound 1, either order). */
static void check_exit_stat(struct ctx *x, const struct virq_xcheck_vcpu *vc,
			    enum virq_xcheck_kind kind, unsigned int reason,
			    enum virq_xcheck_stat st)
{
	struct virq_xcheck_check c;
	uint64_t vmm = vc->vmm_exits[reason], s = vc->stat[st];
	const char *sn = virq_xcheck_stat_name(st);

	if (!vmm && !s)
		return;
	check_init(x, &c, VIRQ_XC_PATH_VM, kind, (int)vc->vcpu_id, (int)reason);
	value_add(&c, "vmm.exits", vmm);
	value_add(&c, sn, s);
	c.expected = vmm;
	c.observed = s;
	if (stat_usable(x, &c, vc, st)) {
		if (!s && vmm) {
			c.verdict = VIRQ_XC_UNOBSERVABLE;
			detail(&c,
			       "%s stays 0 although the VMM handled %llu such exits: counter "
			       "not maintained by this KVM",
			       sn, (unsigned long long)vmm);
		} else if (kind == VIRQ_XC_K_EXIT_IO_STAT &&
			   (x->vm->flags & VIRQ_XC_VM_LAPIC_IN_KERNEL) && s >= vmm) {
			/* KVM bumps io_exits at every PIO intercept (kvm_amd io_interception)
			 * before the in-kernel PIC/PIT/ELCR ports are served without reaching
			 * the VMM: with an in-kernel irqchip it is an upper bound. */
			c.verdict = VIRQ_XC_CONSISTENT;
			detail(&c, "%s %llu >= vmm.exits %llu (%llu handled in the kernel)", sn,
			       (unsigned long long)s, (unsigned long long)vmm,
			       (unsigned long long)(s - vmm));
		} else {
			uint64_t sk = vc->stat_skew[st] > vc->vmm_exits_skew ? vc->stat_skew[st] :
									       vc->vmm_exits_skew;

			judge(&c, vmm, s, quiesced(x) ? 0 : 1 + sk, 0, true);
			explain_totals(&c, "vmm.exits", sn);
		}
	}
	emit(x, &c);
}

/* BPF events that fire for in-kernel handling too: events >= VMM exits. */
static void check_exit_events(struct ctx *x, const struct virq_xcheck_vcpu *vc,
			      enum virq_xcheck_kind kind, unsigned int reason,
			      enum virq_xcheck_tp tp, uint64_t events)
{
	struct virq_xcheck_check c;
	uint64_t vmm = vc->vmm_exits[reason];
	uint64_t bound = quiesced(x) ? 0 : 1 + vc->vmm_exits_skew;

	if (!vmm)
		return;
	check_init(x, &c, VIRQ_XC_PATH_VM, kind, (int)vc->vcpu_id, (int)reason);
	value_add(&c, "vmm.exits", vmm);
	value_add(&c, virq_xcheck_tp_name(tp), events);
	c.expected = vmm;
	c.observed = events;
	if (tp_usable(x, &c, tp)) {
		if (events >= vmm) {
			c.verdict = VIRQ_XC_CONSISTENT;
			detail(&c, "%s %llu >= vmm.exits %llu (%llu handled in the kernel)",
			       virq_xcheck_tp_name(tp), (unsigned long long)events,
			       (unsigned long long)vmm, (unsigned long long)(events - vmm));
		} else {
			judge(&c, vmm, events, bound, 0, false);
			explain_totals(&c, "vmm.exits", virq_xcheck_tp_name(tp));
		}
	}
	emit(x, &c);
}

static void check_exits(struct ctx *x)
{
	const struct virq_xcheck_vm *vm = x->vm;

	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		const struct virq_xcheck_vcpu *vc = &vm->vcpus[i];
		struct virq_xcheck_check c;

		if (vm->flags & VIRQ_XC_VM_OWNED) {
			/*
			 * Reason 0 (KVM_EXIT_UNKNOWN) and KVM_EXIT_INTR also end KVM_RUN calls
			 * that returned -EINTR, which the VMM counts as kicks (the daemon puts
			 * them in vmm_exits[KVM_EXIT_INTR]). kvm_userspace_exit fires for those
			 * too, with whatever exit_reason kvm_run holds: KVM_RUN entered with
			 * immediate_exit set returns -EINTR without writing it, so the event
			 * repeats the previous reason. Events beyond the VMM's count of a reason
			 * are explained by -EINTR returns not already seen as reason 0 or
			 * KVM_EXIT_INTR, each at most once.
			 */
			uint64_t eintr = vc->vmm_exits[VIRQ_XC_KVM_EXIT_INTR] + vc->vmm_exits[0];
			uint64_t seen = vc->k_userspace_exit[VIRQ_XC_KVM_EXIT_INTR] +
					vc->k_userspace_exit[0];
			uint64_t pool = eintr > seen ? eintr - seen : 0;

			for (unsigned int r = 1; r < VIRQ_XC_EXIT_REASONS; r++) {
				uint64_t a = vc->vmm_exits[r], b = vc->k_userspace_exit[r];
				uint64_t kicks = 0;

				if (r == VIRQ_XC_KVM_EXIT_INTR || (!a && !b))
					continue;
				if (!(vm->flags & VIRQ_XC_VM_TRACED) && !a)
					continue;
				check_init(x, &c, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_REASON,
					   (int)vc->vcpu_id, (int)r);
				value_add(&c, "vmm.exits", a);
				value_add(&c, "kvm_userspace_exit", b);
				if (eintr)
					value_add(&c, "vmm.eintr", eintr);
				c.expected = a;
				c.observed = b;
				if (tp_usable(x, &c, VIRQ_XC_TP_USERSPACE_EXIT)) {
					if (b > a) {
						kicks = b - a < pool ? b - a : pool;
						pool -= kicks;
					}
					judge(&c, a, b - kicks,
					      quiesced(x) ? 0 : 1 + vc->vmm_exits_skew, 0, true);
					c.observed = b;
					if (kicks && c.verdict == VIRQ_XC_CONSISTENT)
						detail(&c,
						       "kvm_userspace_exit %llu = vmm.exits %llu + %llu "
						       "-EINTR returns (kicks) reporting this reason",
						       (unsigned long long)b, (unsigned long long)a,
						       (unsigned long long)kicks);
					else
						explain_totals(&c, "vmm.exits",
							       "kvm_userspace_exit");
				}
				emit(x, &c);
			}
			/* With an in-kernel LAPIC, HLT is handled in KVM and never reaches the
			 * VMM; halt_exits then has no VMM counterpart. */
			if (!(vm->flags & VIRQ_XC_VM_LAPIC_IN_KERNEL))
				check_exit_stat(x, vc, VIRQ_XC_K_EXIT_HLT, VIRQ_XC_KVM_EXIT_HLT,
						VIRQ_XC_STAT_HALT_EXITS);
			check_exit_stat(x, vc, VIRQ_XC_K_EXIT_IO_STAT, VIRQ_XC_KVM_EXIT_IO,
					VIRQ_XC_STAT_IO_EXITS);
			check_exit_events(x, vc, VIRQ_XC_K_EXIT_IO_EVENTS, VIRQ_XC_KVM_EXIT_IO,
					  VIRQ_XC_TP_PIO, vc->k_pio);
			check_exit_stat(x, vc, VIRQ_XC_K_EXIT_MMIO_STAT, VIRQ_XC_KVM_EXIT_MMIO,
					VIRQ_XC_STAT_MMIO_EXITS);
			check_exit_events(x, vc, VIRQ_XC_K_EXIT_MMIO_EVENTS, VIRQ_XC_KVM_EXIT_MMIO,
					  VIRQ_XC_TP_MMIO, vc->k_mmio);
		}
		/* kvm_exit fires once per hardware exit, where `exits` is bumped. */
		if ((vm->flags & VIRQ_XC_VM_STATS) && (vm->flags & VIRQ_XC_VM_TRACED) &&
		    (vc->k_exit || vc->stat[VIRQ_XC_STAT_EXITS])) {
			check_init(x, &c, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_TOTAL, (int)vc->vcpu_id,
				   -1);
			value_add(&c, "exits", vc->stat[VIRQ_XC_STAT_EXITS]);
			value_add(&c, "kvm_exit", vc->k_exit);
			c.expected = vc->stat[VIRQ_XC_STAT_EXITS];
			c.observed = vc->k_exit;
			if (stat_usable(x, &c, vc, VIRQ_XC_STAT_EXITS) &&
			    tp_usable(x, &c, VIRQ_XC_TP_EXIT)) {
				judge(&c, c.expected, c.observed,
				      quiesced(x) ? 0 : 1 + vc->stat_skew[VIRQ_XC_STAT_EXITS], 0,
				      true);
				explain_totals(&c, "exits", "kvm_exit");
			}
			emit(x, &c);
		}
	}
}

/* --- deviations ----------------------------------------------------------------- */

struct dev_acc {
	uint64_t pos, neg, count;
	int vcpu, vector;
};

static void dev_pos(struct dev_acc *d, uint64_t n, int vcpu, int vector)
{
	if (!n)
		return;
	d->pos += n;
	if (d->vcpu < 0) {
		d->vcpu = vcpu;
		d->vector = vector;
	}
}

static void finding_emit(struct ctx *x, enum virq_xcheck_dev kind, const struct dev_acc *d,
			 const char *pos_why, const char *neg_why)
{
	struct virq_xcheck_report *r = x->out;
	struct virq_xcheck_finding *f;

	if (!d->pos && !d->neg)
		return;
	if (r->nr_findings >= VIRQ_XC_MAX_FINDINGS) {
		r->dropped_findings++;
		return;
	}
	f = &r->findings[r->nr_findings++];
	memset(f, 0, sizeof(*f));
	snprintf(f->vm, sizeof(f->vm), "%s", x->vm->name);
	f->kind = (uint8_t)kind;
	f->status = d->pos && d->neg ? VIRQ_XC_DEV_MIXED :
		    d->pos	     ? VIRQ_XC_DEV_DEVIATES :
				       VIRQ_XC_DEV_CONFORMS;
	f->vcpu = d->vcpu;
	f->vector = d->vector;
	f->positive = d->pos;
	f->negative = d->neg;
	f->count = d->count;
	if (f->status == VIRQ_XC_DEV_CONFORMS)
		snprintf(f->detail, sizeof(f->detail), "%s", neg_why);
	else if (f->status == VIRQ_XC_DEV_MIXED)
		snprintf(f->detail, sizeof(f->detail), "mixed evidence: %s; but %s", pos_why,
			 neg_why);
	else
		snprintf(f->detail, sizeof(f->detail), "%s", pos_why);
}

static bool ev_for_vm(const struct virq_xcheck_evidence *e, const struct virq_xcheck_vm *vm)
{
	return !strncmp(e->vm, vm->name, VIRQ_XC_NAME_MAX);
}

/*
 * ISR never set. Architecturally (SDM 11.8.4) a delivered fixed interrupt sets its ISR bit
 * and only the guest's EOI write clears it; KVM traces that EOI as kvm_eoi with the vector.
 * Evidence for the deviation: a guest ISR read of 0 inside the handler; kvm_eoi with a real
 * vector beyond the guest's EOIs (EOI at injection); guest EOIs that found ISR empty
 * (kvm_eoi vector -1). Against it: ISR read 1 in the handler; guest EOIs that each found the
 * vector in ISR.
 */
static void deviation_isr(struct ctx *x)
{
	const struct virq_xcheck_vm *vm = x->vm;
	struct dev_acc d = { .vcpu = -1, .vector = -1 };
	char pos[128], neg[128];

	for (uint32_t i = 0; i < x->in->nr_evidence; i++) {
		const struct virq_xcheck_evidence *e = &x->in->evidence[i];

		if (e->kind != VIRQ_XC_EV_ISR_READ || !ev_for_vm(e, vm) || !e->b)
			continue;
		if (!e->a)
			dev_pos(&d, 1, (int)e->vcpu, e->vector);
		else
			d.neg++;
	}
	if ((vm->flags & VIRQ_XC_VM_TRACED) &&
	    x->in->tp[VIRQ_XC_TP_EOI].state == VIRQ_XC_SRC_LIVE && (vm->flags & VIRQ_XC_VM_GUEST)) {
		for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
			const struct virq_xcheck_vcpu *vc = &vm->vcpus[i];
			uint64_t keoi = 0;
			int first = -1;

			for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
				keoi += vc->k_eoi[v];
				if (vc->k_eoi[v] && first < 0)
					first = (int)v;
			}
			d.count += keoi;
			dev_pos(&d, sub0(keoi, vc->guest_eoi_written), (int)vc->vcpu_id, first);
			dev_pos(&d, min64(vc->k_eoi_none, vc->guest_eoi_written), (int)vc->vcpu_id,
				-1);
			if (vc->guest_eoi_written && !vc->k_eoi_none &&
			    keoi <= vc->guest_eoi_written)
				d.neg += vc->guest_eoi_written;
		}
	}
	snprintf(pos, sizeof(pos),
		 "LAPIC never sets ISR: EOI happens at injection (%llu kvm_eoi with the vector), "
		 "guest EOIs find ISR empty",
		 (unsigned long long)d.count);
	snprintf(neg, sizeof(neg), "ISR held the vector until the guest's EOI (SDM 11.8.4)");
	finding_emit(x, VIRQ_XC_DEV_ISR_NEVER_SET, &d, pos, neg);
}

/* SDM 11.8.3.1: an interrupt is delivered only if its priority class (vector[7:4]) is above
 * the PPR's, and PPR >= the class of the highest in-service vector. */
static void deviation_preempt(struct ctx *x)
{
	struct dev_acc d = { .vcpu = -1, .vector = -1 };

	for (uint32_t i = 0; i < x->in->nr_evidence; i++) {
		const struct virq_xcheck_evidence *e = &x->in->evidence[i];
		bool before_eoi;

		if (e->kind != VIRQ_XC_EV_PREEMPT || !ev_for_vm(e, x->vm))
			continue;
		if ((e->vector2 >> 4) > (e->vector >> 4) || e->b <= e->a)
			continue; /* a higher class may nest; or not a later arrival */
		before_eoi = !e->c || e->c > e->b;
		if (before_eoi) {
			dev_pos(&d, 1, (int)e->vcpu, e->vector2);
			d.count++;
		} else {
			d.neg++;
		}
	}
	finding_emit(x, VIRQ_XC_DEV_LOWER_PREEMPTS, &d,
		     "a vector of equal or lower priority class was taken while a higher one "
		     "was in service (PPR not raised by ISR)",
		     "lower-class vectors waited for the in-service vector's EOI (SDM 11.8.3.1)");
}

/* 82093AA datasheet 3.2.4 (remote IRR) and SDM 11.8.5: a level interrupt sets remote IRR
 * when accepted; the pin is not delivered again until the EOI broadcast clears it. So while
 * a line is held, deliveries <= assertions + guest EOIs. */
static void deviation_remote_irr(struct ctx *x)
{
	struct dev_acc d = { .vcpu = -1, .vector = -1 };
	char pos[160];

	for (uint32_t i = 0; i < x->in->nr_evidence; i++) {
		const struct virq_xcheck_evidence *e = &x->in->evidence[i];

		if (e->kind != VIRQ_XC_EV_LEVEL_HOLD || !ev_for_vm(e, x->vm) || !e->b)
			continue;
		if (e->b > e->a + e->c) {
			dev_pos(&d, 1, (int)e->vcpu, e->vector);
			d.count += e->b - (e->a + e->c);
		} else {
			d.neg++;
		}
	}
	if (x->refired) {
		/* Checks found level surplus in the ledgers themselves. */
		d.pos++;
		d.count += x->refired;
	}
	snprintf(pos, sizeof(pos),
		 "held level line re-fired %llu times without a guest EOI: remote IRR cleared "
		 "at injection",
		 (unsigned long long)d.count);
	finding_emit(x, VIRQ_XC_DEV_REMOTE_IRR_AT_INJECTION, &d, pos,
		     "held level lines waited for the guest's EOI (remote IRR honoured)");
}

/* --- driver --------------------------------------------------------------------- */

static void unclaimed_receipts(struct ctx *x)
{
	const struct virq_xcheck_vm *vm = x->vm;

	x->unclaimed_guest = x->unclaimed_accept = 0;
	x->unclaimed_guest_vec = x->unclaimed_accept_vec = -1;
	for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
		if (vm->vector_path[v] != VIRQ_XC_PATH_NONE)
			continue;
		for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
			const struct virq_xcheck_vcpu *vc = &vm->vcpus[i];

			if (vc->guest_received[v] && x->unclaimed_guest_vec < 0)
				x->unclaimed_guest_vec = (int)v;
			if (vc->k_accept[v] && x->unclaimed_accept_vec < 0)
				x->unclaimed_accept_vec = (int)v;
			x->unclaimed_guest += vc->guest_received[v];
			x->unclaimed_accept += vc->k_accept[v];
		}
	}
}

/* Receipts on vectors no path uses that no shortfall claimed as misrouted. */
static void check_unclaimed(struct ctx *x)
{
	struct virq_xcheck_check c;

	if (x->unclaimed_guest && (x->vm->flags & VIRQ_XC_VM_GUEST) &&
	    (x->vm->flags & VIRQ_XC_VM_OWNED)) {
		check_init(x, &c, VIRQ_XC_PATH_VM, VIRQ_XC_K_GUEST, -1, x->unclaimed_guest_vec);
		value_add(&c, "guest.received", x->unclaimed_guest);
		c.observed = x->unclaimed_guest;
		c.verdict = VIRQ_XC_SPURIOUS;
		detail(&c, "%llu received on vectors no path injects (first: vector %d)",
		       (unsigned long long)x->unclaimed_guest, x->unclaimed_guest_vec);
		emit(x, &c);
	}
}

static void run_vm(struct ctx *x)
{
	const struct virq_xcheck_vm *vm = x->vm;
	bool owned = vm->flags & VIRQ_XC_VM_OWNED;

	x->refired = 0;
	unclaimed_receipts(x);
	for (unsigned int p = 0; p < VIRQ_XC_PATH__COUNT; p++) {
		if (owned) {
			if (vm->flags & VIRQ_XC_VM_TRACED) {
				check_source(x, p);
				check_accept(x, p);
			}
			check_guest(x, p);
		} else if (vm->flags & VIRQ_XC_VM_TRACED) {
			check_source_accept_by_vector(x, p);
		}
		if (owned)
			check_eoi(x, p);
		else
			check_eoi_observed(x, p);
	}
	if (owned) {
		/* Without an in-kernel LAPIC nothing fires kvm_apic_accept_irq for the VM. */
		if ((vm->flags & VIRQ_XC_VM_TRACED) && (vm->flags & VIRQ_XC_VM_LAPIC_IN_KERNEL))
			check_vm_group(x, VIRQ_XC_K_ACCEPT);
		if (vm->flags & VIRQ_XC_VM_GUEST)
			check_vm_group(x, VIRQ_XC_K_GUEST);
	} else if (vm->flags & VIRQ_XC_VM_TRACED) {
		check_source_accept_by_vector(x, VIRQ_XC_PATH_VM);
		check_level_observed(x);
	}
	if (owned)
		check_eoi(x, VIRQ_XC_PATH_VM); /* vectors used, path unknown */
	else
		check_eoi_observed(x, VIRQ_XC_PATH_VM);
	check_unclaimed(x);
	check_stats(x);
	check_exits(x);
	deviation_isr(x);
	deviation_preempt(x);
	deviation_remote_irr(x);
}

static int validate(const struct virq_xcheck_input *in)
{
	if (in->nr_vms > VIRQ_XC_MAX_VMS || in->nr_evidence > VIRQ_XC_MAX_EVIDENCE)
		return -E2BIG;
	if ((in->nr_vms && !in->vms) || (in->nr_evidence && !in->evidence))
		return -EINVAL;
	for (uint32_t i = 0; i < in->nr_vms; i++) {
		const struct virq_xcheck_vm *vm = &in->vms[i];

		if (vm->nr_vcpus > VIRQ_XC_MAX_VCPUS)
			return -E2BIG;
		if (vm->nr_vcpus && !vm->vcpus)
			return -EINVAL;
		if (!memchr(vm->name, '\0', sizeof(vm->name)))
			return -EINVAL;
		for (unsigned int p = 0; p < VIRQ_XC_PATH__COUNT; p++)
			if (vm->kern[p].source_tp >= VIRQ_XC_TP__COUNT ||
			    vm->kern[p].accept_tp >= VIRQ_XC_TP__COUNT)
				return -EINVAL;
	}
	for (unsigned int t = 0; t < VIRQ_XC_TP__COUNT; t++)
		if (in->tp[t].state >= VIRQ_XC_SRC__COUNT)
			return -EINVAL;
	for (unsigned int s = 0; s < VIRQ_XC_STAT__COUNT; s++)
		if (in->stat_src[s].state >= VIRQ_XC_SRC__COUNT)
			return -EINVAL;
	return 0;
}

int virq_xcheck_run(const struct virq_xcheck_input *in, struct virq_xcheck_report *out)
{
	struct ctx x = { .in = in, .out = out };
	int err;

	if (!in || !out)
		return -EINVAL;
	err = validate(in);
	if (err)
		return err;
	out->nr_checks = out->nr_findings = 0;
	out->dropped_checks = out->dropped_findings = out->dropped_evidence = 0;
	memset(out->by_verdict, 0, sizeof(out->by_verdict));
	for (uint32_t i = 0; i < in->nr_evidence; i++) {
		bool found = false;

		for (uint32_t j = 0; j < in->nr_vms && !found; j++)
			found = ev_for_vm(&in->evidence[i], &in->vms[j]);
		if (!found)
			out->dropped_evidence++;
	}
	for (uint32_t i = 0; i < in->nr_vms; i++) {
		x.vm = &in->vms[i];
		run_vm(&x);
	}
	return 0;
}

void virq_xcheck_vm_init(struct virq_xcheck_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	memset(vm->vector_path, VIRQ_XC_PATH_NONE, sizeof(vm->vector_path));
}

void virq_xcheck_source_set(struct virq_xcheck_source *src, enum virq_xcheck_src_state st,
			    const char *reason)
{
	src->state = st;
	snprintf(src->reason, sizeof(src->reason), "%s", reason ? reason : "");
}

void virq_xcheck_input_init(struct virq_xcheck_input *in)
{
	memset(in, 0, sizeof(*in));
	for (unsigned int s = 0; s < VIRQ_XC_STAT__COUNT; s++)
		in->stat_src[s].state = VIRQ_XC_SRC_LIVE;
}
