// SPDX-License-Identifier: MIT
/*
 * The cross-check engine: each verdict from a synthetic ledger set that should produce it,
 * and not from its near miss; deviations with positive and negative evidence; renderers;
 * bounds.
 */
#include "virq_test.h"
#include "virq/xcheck.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define NV 4
#define SILENT_WHY "never fires on this host (kvm_pvm: no VMX/SVM)"

struct fx {
	struct virq_xcheck_input in;
	struct virq_xcheck_vm vm;
	struct virq_xcheck_vcpu vcpu[NV];
	struct virq_xcheck_evidence ev[8];
	struct virq_xcheck_report *r;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->r = virq_xcheck_report_new();
	if (!f->r) {
		free(f);
		return -1;
	}
	virq_xcheck_input_init(&f->in);
	for (unsigned int t = 1; t < VIRQ_XC_TP__COUNT; t++)
		virq_xcheck_source_set(&f->in.tp[t], VIRQ_XC_SRC_LIVE, NULL);
	virq_xcheck_source_set(&f->in.tp[VIRQ_XC_TP_EXIT], VIRQ_XC_SRC_SILENT, SILENT_WHY);
	virq_xcheck_source_set(&f->in.tp[VIRQ_XC_TP_INJ_VIRQ], VIRQ_XC_SRC_SILENT, SILENT_WHY);
	virq_xcheck_source_set(&f->in.tp[VIRQ_XC_TP_APICV_ACCEPT_IRQ], VIRQ_XC_SRC_SILENT,
			       "no APICv");
	virq_xcheck_vm_init(&f->vm);
	snprintf(f->vm.name, sizeof(f->vm.name), "vm0");
	f->vm.flags = VIRQ_XC_VM_OWNED | VIRQ_XC_VM_GUEST | VIRQ_XC_VM_VMM_PER_VCPU |
		      VIRQ_XC_VM_TRACED | VIRQ_XC_VM_QUIESCED | VIRQ_XC_VM_LAPIC_IN_KERNEL;
	f->vm.nr_vcpus = 2;
	f->vm.vcpus = f->vcpu;
	for (unsigned int i = 0; i < NV; i++)
		f->vcpu[i].vcpu_id = f->vcpu[i].apic_id = i;
	f->vm.kern[VIRQ_XC_PATH_MSI].source_tp = VIRQ_XC_TP_MSI_SET_IRQ;
	f->vm.kern[VIRQ_XC_PATH_MSI].accept_tp = VIRQ_XC_TP_APIC_ACCEPT_IRQ;
	f->vm.kern[VIRQ_XC_PATH_IOAPIC].source_tp = VIRQ_XC_TP_IOAPIC_SET_IRQ;
	f->vm.kern[VIRQ_XC_PATH_IOAPIC].accept_tp = VIRQ_XC_TP_APIC_ACCEPT_IRQ;
	f->vm.kern[VIRQ_XC_PATH_TIMER].accept_tp = VIRQ_XC_TP_APIC_ACCEPT_IRQ;
	f->in.nr_vms = 1;
	f->in.vms = &f->vm;
	f->in.evidence = f->ev;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virq_xcheck_report_free(f->r);
	free(f);
	return 0;
}

/*
 * `n` injections of `vec` on `path` aimed at `vcpu`, `c` of them answered coalesced; the
 * kernel saw every call and accepted and delivered (auto-EOI) the rest; the guest got `got`.
 */
static void inject(struct fx *f, unsigned int path, unsigned int vcpu, unsigned int vec, uint64_t n,
		   uint64_t c, uint64_t got)
{
	struct virq_xcheck_vcpu *vc = &f->vcpu[vcpu];

	f->vm.vector_path[vec] = (uint8_t)path;
	f->vm.vmm[path].injected += n;
	f->vm.vmm[path].coalesced += c;
	vc->vmm_injected[vec] += n;
	vc->vmm_coalesced[vec] += c;
	f->vm.kern[path].source += n;
	f->vm.kern[path].accepts += n - c;
	f->vm.k_source_vec[vec] += n;
	vc->k_accept[vec] += n - c;
	vc->k_eoi[vec] += n - c;
	vc->guest_received[vec] += got;
	vc->guest_eoi_written += got;
	vc->k_eoi_none += got;
}

static void stats_on(struct fx *f)
{
	f->vm.flags |= VIRQ_XC_VM_STATS;
	for (unsigned int i = 0; i < NV; i++)
		f->vcpu[i].stat_valid = (1u << VIRQ_XC_STAT__COUNT) - 1;
}

static const struct virq_xcheck_check *find(const struct fx *f, int path, int kind, int vcpu)
{
	for (size_t i = 0; i < virq_xcheck_report_nr_checks(f->r); i++) {
		const struct virq_xcheck_check *c = virq_xcheck_report_check(f->r, i);

		if ((path < 0 || c->path == path) && c->kind == kind &&
		    (vcpu < -1 || c->vcpu == vcpu))
			return c;
	}
	return NULL;
}

static const struct virq_xcheck_finding *find_dev(const struct fx *f, int kind)
{
	for (size_t i = 0; i < virq_xcheck_report_nr_findings(f->r); i++)
		if (virq_xcheck_report_finding(f->r, i)->kind == kind)
			return virq_xcheck_report_finding(f->r, i);
	return NULL;
}

static enum virq_xcheck_verdict verdict(struct fx *f, int path, int kind)
{
	const struct virq_xcheck_check *c;

	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	c = find(f, path, kind, -2);
	if (!c)
		fail_msg("no %s check on path %s", virq_xcheck_kind_name(kind),
			 virq_xcheck_path_name(path));
	return c->verdict;
}

/* --- consistency across the four ledgers ------------------------------------------- */

static void test_four_ledgers_agreeing_are_consistent(void **state)
{
	struct fx *f = *state;

	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 10, 0, 10);
	inject(f, VIRQ_XC_PATH_MSI, 1, 0x41, 7, 0, 7);
	stats_on(f);
	f->vcpu[0].stat[VIRQ_XC_STAT_IRQ_INJECTIONS] = 10;
	f->vcpu[1].stat[VIRQ_XC_STAT_IRQ_INJECTIONS] = 7;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	for (int k = VIRQ_XC_K_SOURCE; k <= VIRQ_XC_K_EOI; k++) {
		const struct virq_xcheck_check *c = find(f, VIRQ_XC_PATH_MSI, k, -1);

		assert_non_null(c);
		assert_int_equal(c->verdict, VIRQ_XC_CONSISTENT);
		assert_int_equal(c->expected, 17);
		assert_int_equal(c->observed, 17);
	}
	assert_int_equal(find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_IRQ_STAT, -1)->verdict,
			 VIRQ_XC_CONSISTENT);
	/* kvm_inj_virq never fires here: that check must say so, not pass. */
	assert_int_equal(find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_INJ_STAT, -1)->verdict,
			 VIRQ_XC_UNOBSERVABLE);
	assert_non_null(
		strstr(find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_INJ_STAT, -1)->detail, SILENT_WHY));
	assert_int_equal(f->r->by_verdict[VIRQ_XC_LOST] + f->r->by_verdict[VIRQ_XC_SPURIOUS] +
				 f->r->by_verdict[VIRQ_XC_MISROUTED],
			 0);
}

/* --- coalescing -------------------------------------------------------------------- */

static void test_edge_msi_injected_equals_received_plus_coalesced(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_check *c;

	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 10, 3, 7);
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_COALESCED);
	c = find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST, -1);
	assert_int_equal(c->coalesced, 3);
	assert_int_equal(c->expected, 7);
	assert_int_equal(c->observed, 7);
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_ACCEPT), VIRQ_XC_COALESCED);

	/* Near miss: one more missing than the counted coalescing explains. */
	f->vcpu[0].guest_received[0x40] = 6;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_LOST);
}

static void test_uncounted_coalescing_does_not_explain_a_shortfall(void **state)
{
	struct fx *f = *state;

	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 10, 0, 7);
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_LOST);
	assert_int_equal(find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST, -1)->coalesced, 0);
}

/*
 * Kernel irqchip: KVM accepts an MSI whose vector is already pending in the IRR and merges
 * it with no coalescing signal (no coalesced field in kvm_apic_accept_irq, KVM_SIGNAL_MSI
 * answers 1). A shortfall against accepts with no other evidence is a bounded merge,
 * reported as unobservable with that reason, never "lost"; a provable loss still is.
 */
static void test_uncounted_irr_merge_in_kernel_lapic_is_bounded_not_lost(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_check *c;

	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 10, 0, 7);
	f->vcpu[0].k_eoi[0x40] = 7; /* KVM delivered 7 of 10 accepted: 3 merged */
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_UNOBSERVABLE);
	c = find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST, -1);
	assert_int_equal(c->coalesced, 3);
	assert_non_null(strstr(c->detail, "IRR"));
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_EOI), VIRQ_XC_UNOBSERVABLE);
	assert_int_equal(virq_xcheck_report_count(f->r, NULL, -1, -1, VIRQ_XC_LOST), 0);

	/* A userspace LAPIC counts its own merges: an uncounted shortfall there is lost. */
	f->vm.flags &= ~VIRQ_XC_VM_LAPIC_IN_KERNEL;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_LOST);
	f->vm.flags |= VIRQ_XC_VM_LAPIC_IN_KERNEL;

	/* Provable: KVM counts fewer injections than the guest received. */
	stats_on(f);
	f->vcpu[0].stat[VIRQ_XC_STAT_IRQ_INJECTIONS] = 5;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_LOST);
	f->vcpu[0].stat[VIRQ_XC_STAT_IRQ_INJECTIONS] = 7;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_UNOBSERVABLE);
	f->vm.flags &= ~VIRQ_XC_VM_STATS;

	/* Provable: KVM delivered more than the guest received. */
	f->vcpu[0].k_eoi[0x40] = 9;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_LOST);
	f->vcpu[0].k_eoi[0x40] = 7;

	/* Provable: a quiesced vector that got nothing at all (a merge leaves one). */
	inject(f, VIRQ_XC_PATH_MSI, 1, 0x41, 4, 0, 0);
	f->vcpu[1].k_eoi[0x41] = 0;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_EOI), VIRQ_XC_LOST);
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_LOST);
	assert_int_equal(find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST, -1)->index, 0x41);
}

/* --- in flight --------------------------------------------------------------------- */

static void test_running_vm_shortfall_within_inflight_bound_is_pending(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_check *c;

	/* One active cell, one injector: bound = 2 * 1 + 1 = 3. */
	f->vm.flags &= ~VIRQ_XC_VM_QUIESCED;
	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 10, 0, 7);
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_PENDING);
	c = find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST, -1);
	assert_int_equal(c->pending, 3);

	/* Beyond the bound: lost. */
	f->vcpu[0].guest_received[0x40] = 6;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_LOST);
}

static void test_quiesced_vm_has_no_inflight_allowance(void **state)
{
	struct fx *f = *state;

	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 10, 0, 9);
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_LOST);
	f->vm.flags &= ~VIRQ_XC_VM_QUIESCED;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_PENDING);
}

/* A paused VM whose vCPU still holds the vector (IRR/PIR not taken yet, or ISR not yet
 * EOId): that many short are pending, held, not lost -- and only on the held vector's path. */
static void test_quiesced_vm_shortfall_held_in_irr_or_isr_is_pending(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_check *c;

	f->vm.flags &= ~VIRQ_XC_VM_LAPIC_IN_KERNEL; /* user mode: our LAPIC, no IRR merging */
	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 10, 0, 9);
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_LOST);
	f->vm.flags |= VIRQ_XC_VM_HELD; /* known, nothing held */
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_LOST);
	f->vm.vector_path[0x50] = VIRQ_XC_PATH_IOAPIC; /* held, but another path's vector */
	f->vcpu[0].held_irr[1] = 1ull << (0x50 - 64);
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_LOST);
	f->vcpu[0].held_irr[1] = 1ull << (0x40 - 64); /* 0x40 still in IRR */
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_PENDING);
	c = find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST, -2);
	if (!c) {
		fail();
		return;
	}
	assert_non_null(strstr(c->detail, "held by the paused vCPUs"));
	assert_int_equal(c->pending, 1);
	f->vcpu[0].guest_received[0x40] = 8; /* two short, one held */
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_LOST);
	f->vcpu[0].held_isr[1] = 1ull << (0x40 - 64); /* and one in service: two held */
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_PENDING);
	f->vm.flags &= ~VIRQ_XC_VM_QUIESCED; /* running: the in-flight bound, as before */
	f->vm.flags &= ~VIRQ_XC_VM_HELD;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_PENDING);
}

/* --- misrouting -------------------------------------------------------------------- */

static void test_same_totals_on_wrong_vcpu_is_misrouted_not_lost(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_check *c;

	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 5, 0, 0);
	f->vcpu[1].guest_received[0x40] = 5;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_MISROUTED);
	c = find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST, -1);
	assert_int_equal(c->misrouted, 5);
	assert_int_equal(c->expected, 5);
	assert_int_equal(c->observed, 5);
	assert_non_null(strstr(c->detail, "vCPU 1"));

	/* Near miss: same shortfall, nothing arrived elsewhere: lost. */
	f->vcpu[1].guest_received[0x40] = 0;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_LOST);
	assert_int_equal(find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST, -1)->misrouted, 0);
}

static void test_accept_at_wrong_apic_is_misrouted_at_accept_stage(void **state)
{
	struct fx *f = *state;

	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 4, 0, 4);
	f->vcpu[0].k_accept[0x40] = 0;
	f->vcpu[1].k_accept[0x40] = 4;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_ACCEPT), VIRQ_XC_MISROUTED);
	/* The guest ledger still agrees with the VMM: the fault is located at accept. */
	assert_int_equal(find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST, -1)->verdict,
			 VIRQ_XC_CONSISTENT);
}

static void test_arrival_on_unused_vector_is_misrouted_wrong_vector(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_check *c;

	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 3, 0, 0);
	f->vcpu[0].guest_received[0x41] = 3;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_MISROUTED);
	c = find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST, -1);
	assert_non_null(strstr(c->detail, "vector 65"));
	/* Claimed as misrouted, so not reported again as spurious. */
	assert_null(find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_GUEST, -1));

	/* Near miss: nothing missing, the extra arrivals are spurious. */
	f->vcpu[0].guest_received[0x40] = 3;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST), VIRQ_XC_CONSISTENT);
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_GUEST), VIRQ_XC_SPURIOUS);
}

/* --- surplus: spurious vs level re-fire ---------------------------------------------- */

static void test_edge_surplus_is_spurious(void **state)
{
	struct fx *f = *state;

	inject(f, VIRQ_XC_PATH_IOAPIC, 0, 0x50, 1, 0, 5);
	assert_int_equal(verdict(f, VIRQ_XC_PATH_IOAPIC, VIRQ_XC_K_GUEST), VIRQ_XC_SPURIOUS);
	assert_null(find_dev(f, VIRQ_XC_DEV_REMOTE_IRR_AT_INJECTION));
}

static void test_held_level_line_refire_is_reported_as_refired(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_check *c;
	const struct virq_xcheck_finding *d;

	inject(f, VIRQ_XC_PATH_IOAPIC, 0, 0x50, 1, 0, 5);
	f->vm.level_vectors[0x50 / 64] |= 1ull << (0x50 % 64);
	f->vcpu[0].k_accept[0x50] = 5;
	f->vcpu[0].k_eoi[0x50] = 5;
	f->vm.kern[VIRQ_XC_PATH_IOAPIC].accepts = 5;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_IOAPIC, VIRQ_XC_K_GUEST), VIRQ_XC_REFIRED);
	c = find(f, VIRQ_XC_PATH_IOAPIC, VIRQ_XC_K_GUEST, -1);
	assert_int_equal(c->refired, 4);
	assert_int_equal(find(f, VIRQ_XC_PATH_IOAPIC, VIRQ_XC_K_ACCEPT, -1)->verdict,
			 VIRQ_XC_REFIRED);
	d = find_dev(f, VIRQ_XC_DEV_REMOTE_IRR_AT_INJECTION);
	assert_non_null(d);
	assert_int_equal(d->status, VIRQ_XC_DEV_DEVIATES);
	assert_true(d->count >= 4);
}

/* --- unobservable -------------------------------------------------------------------- */

static void test_silent_or_unavailable_attach_point_is_unobservable(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_check *c;

	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 6, 0, 6);
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_ACCEPT), VIRQ_XC_CONSISTENT);

	virq_xcheck_source_set(&f->in.tp[VIRQ_XC_TP_APIC_ACCEPT_IRQ], VIRQ_XC_SRC_SILENT,
			       "attached, no event since attach");
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_ACCEPT), VIRQ_XC_UNOBSERVABLE);
	c = find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_ACCEPT, -1);
	assert_non_null(strstr(c->detail, "kvm_apic_accept_irq silent"));
	assert_int_equal(find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_EOI, -1)->verdict,
			 VIRQ_XC_UNOBSERVABLE);

	virq_xcheck_source_set(&f->in.tp[VIRQ_XC_TP_APIC_ACCEPT_IRQ], VIRQ_XC_SRC_UNAVAILABLE,
			       "tracefs not mounted");
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_ACCEPT), VIRQ_XC_UNOBSERVABLE);
	assert_non_null(strstr(find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_ACCEPT, -1)->detail,
			       "tracefs not mounted"));
	/* The end-to-end check needs no BPF and still judges. */
	assert_int_equal(find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST, -1)->verdict,
			 VIRQ_XC_CONSISTENT);
}

static void test_path_without_vmm_injection_uses_accepts_or_is_unobservable(void **state)
{
	struct fx *f = *state;

	/* LAPIC timer: the VMM injects nothing; kernel accepts are the expectation. */
	f->vm.vector_path[0xec] = VIRQ_XC_PATH_TIMER;
	f->vcpu[0].k_accept[0xec] = 20;
	f->vm.kern[VIRQ_XC_PATH_TIMER].accepts = 20;
	f->vcpu[0].guest_received[0xec] = 20;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_TIMER, VIRQ_XC_K_GUEST), VIRQ_XC_CONSISTENT);
	f->vcpu[0].guest_received[0xec] = 12;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_TIMER, VIRQ_XC_K_GUEST), VIRQ_XC_LOST);
	f->vm.flags &= ~VIRQ_XC_VM_TRACED;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_TIMER, VIRQ_XC_K_GUEST), VIRQ_XC_UNOBSERVABLE);
}

/* --- observed-only VMs ------------------------------------------------------------- */

static void test_observed_only_vm_checks_sources_accepts_and_eois_per_vector(void **state)
{
	struct fx *f = *state;

	f->vm.flags = VIRQ_XC_VM_TRACED | VIRQ_XC_VM_QUIESCED;
	inject(f, VIRQ_XC_PATH_MSI, 0, 0x30, 4, 0, 0);
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	assert_int_equal(find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_ACCEPT, -1)->verdict,
			 VIRQ_XC_CONSISTENT);
	assert_int_equal(find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_EOI, -1)->verdict, VIRQ_XC_CONSISTENT);
	/* No VMM and no guest ledger: no check may pretend to use them. */
	assert_null(find(f, -1, VIRQ_XC_K_GUEST, -2));
	assert_null(find(f, -1, VIRQ_XC_K_SOURCE, -2));

	/* A broadcast reaching two CPUs: more accepts than sources is fan-out. */
	f->vcpu[1].k_accept[0x30] = 4;
	f->vcpu[1].k_eoi[0x30] = 4;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_ACCEPT), VIRQ_XC_CONSISTENT);

	/* A source with no accept. */
	f->vcpu[1].k_accept[0x30] = 0;
	f->vcpu[1].k_eoi[0x30] = 0;
	f->vcpu[0].k_accept[0x30] = 3;
	f->vcpu[0].k_eoi[0x30] = 3;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_ACCEPT), VIRQ_XC_LOST);
	assert_int_equal(find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_ACCEPT, -1)->index, 0x30);

	/* An accept without an EOI. Without kvm_inj_virq (silent here, as on APICv and PVM
	 * hosts) it may have merged into the vector pending in IRR (SDM 11.8.4): never
	 * "lost", unobservable with the bound. */
	f->vcpu[0].k_accept[0x30] = 4;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_EOI), VIRQ_XC_UNOBSERVABLE);
	assert_int_equal(find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_EOI, -1)->coalesced, 1);
	/* With kvm_inj_virq live (SVM, VMX without APICv): 3 injections for 4 accepts is one
	 * merge in IRR, every injection EOI'd: coalesced. */
	virq_xcheck_source_set(&f->in.tp[VIRQ_XC_TP_INJ_VIRQ], VIRQ_XC_SRC_LIVE, NULL);
	f->vcpu[0].k_inj[0x30] = 3;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_EOI), VIRQ_XC_COALESCED);
	assert_int_equal(find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_EOI, -1)->coalesced, 1);
	/* Four injected, three EOI'd, the VM quiesced: an interrupt KVM injected from the
	 * LAPIC never took its EOI. */
	f->vcpu[0].k_inj[0x30] = 4;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_EOI), VIRQ_XC_LOST);
	/* ... unless the 8259A passed on as many interrupts (EOI'd at the PIC): then the
	 * shortfall cannot be told from them. */
	f->vm.k_pic_delivered = 1;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_EOI), VIRQ_XC_UNOBSERVABLE);
	f->vm.k_pic_delivered = 0;
	/* A re-injection is the same interrupt again: not expected to take another EOI. */
	f->vcpu[0].k_inj[0x30] = 3;
	f->vcpu[0].k_reinj = 5;
	f->vcpu[0].k_accept[0x30] = 3;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_EOI), VIRQ_XC_CONSISTENT);
	/* EOIs on another vCPU than accepted: KVM EOIs only what it injected there, so the
	 * accepts were credited elsewhere (an attribution gap), never misrouted or spurious
	 * for a VM nothing else says more of. */
	f->vcpu[0].k_eoi[0x30] = 0;
	f->vcpu[1].k_eoi[0x30] = 3;
	f->vcpu[1].k_inj[0x30] = 3;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_EOI), VIRQ_XC_UNOBSERVABLE);
}

/* BPF events the counters map could not hold (VIRQ_TSTAT_COUNTER_FULL): a count may be
 * short, so a "lost" resting on BPF counts is unobservable, and says why; a check on the
 * VMM's and KVM's own counts keeps its verdict. */
static void test_bpf_counts_incomplete_make_bpf_verdicts_unobservable(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_check *c;

	f->vm.flags = VIRQ_XC_VM_TRACED | VIRQ_XC_VM_QUIESCED;
	inject(f, VIRQ_XC_PATH_MSI, 0, 0x30, 4, 0, 0);
	f->vcpu[0].k_accept[0x30] = 3;
	f->vcpu[0].k_eoi[0x30] = 3;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_ACCEPT), VIRQ_XC_LOST);
	f->in.bpf_not_recorded = 7;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_ACCEPT), VIRQ_XC_UNOBSERVABLE);
	c = find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_ACCEPT, -1);
	assert_non_null(strstr(c->detail, "7 events not recorded"));
	assert_non_null(strstr(c->detail, "would be: "));
	assert_int_equal(f->r->by_verdict[VIRQ_XC_LOST], 0);
	f->in.bpf_not_recorded = 0;
}

/* Observed VM, a level-triggered pin: accepts beyond the line's assertions are re-fires at
 * EOI (refired, never lost or spurious); a line held asserted through thousands of EOIs is
 * called a storm. Fewer accepts than assertions is remote IRR gating them: consistent. */
static void test_observed_level_line_refires_and_storm(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_check *c;

	f->vm.flags = VIRQ_XC_VM_TRACED;
	f->vm.level_vectors[0x40 / 64] |= 1ull << (0x40 % 64);
	f->vm.vector_path[0x40] = VIRQ_XC_PATH_IOAPIC;
	f->vm.k_ioapic_level = 3;
	f->vcpu[0].k_accept[0x40] = 2;
	f->vcpu[0].k_eoi[0x40] = 2;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	c = find(f, VIRQ_XC_PATH_IOAPIC, VIRQ_XC_K_ACCEPT, -1);
	assert_non_null(c);
	assert_int_equal(c->verdict, VIRQ_XC_CONSISTENT);
	f->vcpu[0].k_accept[0x40] = 5;
	f->vcpu[0].k_eoi[0x40] = 5;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	c = find(f, VIRQ_XC_PATH_IOAPIC, VIRQ_XC_K_ACCEPT, -1);
	assert_int_equal(c->verdict, VIRQ_XC_REFIRED);
	assert_int_equal(c->refired, 2);
	assert_null(strstr(c->detail, "storm"));
	f->vm.k_ioapic_level = 1;
	f->vcpu[0].k_accept[0x40] = 250001;
	f->vcpu[0].k_eoi[0x40] = 250001;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	c = find(f, VIRQ_XC_PATH_IOAPIC, VIRQ_XC_K_ACCEPT, -1);
	assert_int_equal(c->verdict, VIRQ_XC_REFIRED);
	assert_int_equal(c->refired, 250000);
	assert_non_null(strstr(c->detail, "interrupt storm"));
	assert_int_equal(virq_xcheck_report_count(f->r, NULL, -1, -1, VIRQ_XC_LOST), 0);
	assert_int_equal(virq_xcheck_report_count(f->r, NULL, -1, -1, VIRQ_XC_SPURIOUS), 0);
}

/* NMI, INIT and SIPI acceptances never wait for an EOI: only fixed and lowest priority
 * go through IRR (__apic_accept_irq). The daemon keeps them out of k_accept; the
 * chain of a healthy guest that also took NMIs and INIT/SIPI is consistent. */
static void test_observed_vm_nmi_init_sipi_accepts_take_no_eoi(void **state)
{
	struct fx *f = *state;

	f->vm.flags = VIRQ_XC_VM_TRACED;
	virq_xcheck_source_set(&f->in.tp[VIRQ_XC_TP_INJ_VIRQ], VIRQ_XC_SRC_LIVE, NULL);
	f->vm.vector_path[0xec] = VIRQ_XC_PATH_VM;
	f->vcpu[1].k_accept_dm[VIRQ_DM_NMI] = 9996;
	f->vcpu[1].k_accept_dm[VIRQ_DM_INIT] = 2;
	f->vcpu[1].k_accept_dm[VIRQ_DM_STARTUP] = 2;
	f->vcpu[0].k_accept[0xec] = 4100;
	f->vcpu[0].k_inj[0xec] = 4100;
	f->vcpu[0].k_eoi[0xec] = 4099; /* one in service at sampling */
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EOI), VIRQ_XC_PENDING);
	f->vcpu[0].k_eoi[0xec] = 4100;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EOI), VIRQ_XC_CONSISTENT);
	/* A running VM's counters read one after another: an EOI counted after its accept
	 * was read is within the in-flight bound, not an attribution gap. */
	f->vcpu[0].k_eoi[0xec] = 4102;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EOI), VIRQ_XC_CONSISTENT);
	f->vcpu[0].k_eoi[0xec] = 4200;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EOI), VIRQ_XC_UNOBSERVABLE);
}

/* --- vectors without a path attribution (the daemon's observed view) ---------------- */

/* Like inject(), but the daemon knows neither the vector's path nor per-path accepts. */
static void inject_unattributed(struct fx *f, unsigned int path, unsigned int vcpu,
				unsigned int vec, uint64_t n, uint64_t got)
{
	inject(f, path, vcpu, vec, n, 0, got);
	f->vm.vector_path[vec] = VIRQ_XC_PATH_VM;
	f->vm.kern[path].accepts = 0;
	f->vm.kern[path].accept_tp = VIRQ_XC_TP_NONE;
}

static void test_unattributed_injections_are_judged_per_vcpu_and_vector(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_check *c;

	inject_unattributed(f, VIRQ_XC_PATH_MSI, 0, 0x40, 6, 6);
	inject_unattributed(f, VIRQ_XC_PATH_IOAPIC, 1, 0x50, 2, 2);
	/* The guest's own timer: received, never injected by the VMM, not compared. */
	f->vm.vector_path[0xec] = VIRQ_XC_PATH_VM;
	f->vcpu[0].guest_received[0xec] = 30;
	f->vcpu[0].k_accept[0xec] = 30;
	f->vcpu[0].k_eoi[0xec] = 30;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_GUEST), VIRQ_XC_CONSISTENT);
	c = find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_GUEST, -1);
	assert_int_equal(c->expected, 8);
	assert_int_equal(c->observed, 8);
	assert_int_equal(find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_ACCEPT, -1)->verdict,
			 VIRQ_XC_CONSISTENT);
	/* No per-path guest check may call the unattributed injections lost. */
	assert_null(find(f, VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST, -1));
	assert_null(find(f, VIRQ_XC_PATH_IOAPIC, VIRQ_XC_K_GUEST, -1));
	assert_int_equal(find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EOI, -1)->verdict, VIRQ_XC_CONSISTENT);

	/* Near misses: arrivals on the wrong vCPU; then plain loss. */
	f->vcpu[0].guest_received[0x40] = 0;
	f->vcpu[1].guest_received[0x40] = 6;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_GUEST), VIRQ_XC_MISROUTED);
	f->vcpu[1].guest_received[0x40] = 0;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_GUEST), VIRQ_XC_LOST);

	/* Without a per-vCPU VMM ledger there is nothing to compare them with. */
	f->vm.flags &= ~VIRQ_XC_VM_VMM_PER_VCPU;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_GUEST), VIRQ_XC_UNOBSERVABLE);
}

static void test_observed_only_vm_with_unattributed_vectors(void **state)
{
	struct fx *f = *state;

	f->vm.flags = VIRQ_XC_VM_TRACED | VIRQ_XC_VM_QUIESCED;
	inject_unattributed(f, VIRQ_XC_PATH_MSI, 0, 0x30, 4, 0);
	inject_unattributed(f, VIRQ_XC_PATH_IPI, 1, 0xf0, 2, 0);
	f->vm.kern[VIRQ_XC_PATH_IPI].source_tp = VIRQ_XC_TP_APIC_IPI;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_ACCEPT), VIRQ_XC_CONSISTENT);
	assert_int_equal(find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_ACCEPT, -1)->expected, 6);
	assert_int_equal(find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EOI, -1)->verdict, VIRQ_XC_CONSISTENT);
	/* An IPI source whose accept is missing. */
	f->vcpu[1].k_accept[0xf0] = 1;
	f->vcpu[1].k_eoi[0xf0] = 1;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_ACCEPT), VIRQ_XC_LOST);
	assert_int_equal(find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_ACCEPT, -1)->index, 0xf0);
	/* kvm_apic_ipi unavailable: unobservable, with the reason. */
	virq_xcheck_source_set(&f->in.tp[VIRQ_XC_TP_APIC_IPI], VIRQ_XC_SRC_UNAVAILABLE,
			       "attach failed: -ENOENT");
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_ACCEPT), VIRQ_XC_UNOBSERVABLE);
}

/* --- KVM stats ---------------------------------------------------------------------- */

static void test_irq_injections_stat_may_exceed_receipts_never_fall_short(void **state)
{
	struct fx *f = *state;

	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 10, 0, 10);
	stats_on(f);
	f->vcpu[0].stat[VIRQ_XC_STAT_IRQ_INJECTIONS] = 12; /* two re-injections */
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_IRQ_STAT), VIRQ_XC_CONSISTENT);
	f->vcpu[0].stat[VIRQ_XC_STAT_IRQ_INJECTIONS] = 8;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_IRQ_STAT), VIRQ_XC_LOST);
	f->vcpu[0].stat[VIRQ_XC_STAT_IRQ_INJECTIONS] = 0;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_IRQ_STAT), VIRQ_XC_UNOBSERVABLE);
	/* Stats not read at all. */
	f->vm.flags &= ~VIRQ_XC_VM_STATS;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	assert_null(find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_IRQ_STAT, -1));
}

static void test_nmi_injections_stat_against_guest_nmis(void **state)
{
	struct fx *f = *state;

	stats_on(f);
	f->vm.vector_path[2] = VIRQ_XC_PATH_NMI;
	f->vm.vmm[VIRQ_XC_PATH_NMI].injected = 3;
	f->vcpu[1].guest_received[2] = 3;
	f->vcpu[1].stat[VIRQ_XC_STAT_NMI_INJECTIONS] = 3;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_NMI, VIRQ_XC_K_NMI_STAT), VIRQ_XC_CONSISTENT);
	f->vcpu[1].stat[VIRQ_XC_STAT_NMI_INJECTIONS] = 2;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_NMI, VIRQ_XC_K_NMI_STAT), VIRQ_XC_LOST);
}

/* --- exits ------------------------------------------------------------------------- */

static void test_kvm_exit_never_firing_is_unobservable_never_lost(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_check *c;

	stats_on(f);
	f->vcpu[0].stat[VIRQ_XC_STAT_EXITS] = 1000;
	f->vcpu[0].k_exit = 0;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_TOTAL), VIRQ_XC_UNOBSERVABLE);
	c = find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_TOTAL, 0);
	assert_non_null(strstr(c->detail, "kvm_exit silent"));
	assert_non_null(strstr(c->detail, SILENT_WHY));

	/* On a VMX/SVM host it is live and must agree. */
	virq_xcheck_source_set(&f->in.tp[VIRQ_XC_TP_EXIT], VIRQ_XC_SRC_LIVE, NULL);
	f->vcpu[0].k_exit = 1000;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_TOTAL), VIRQ_XC_CONSISTENT);
	f->vcpu[0].k_exit = 990;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_TOTAL), VIRQ_XC_LOST);
}

static void test_io_exits_stat_stuck_at_zero_is_unobservable(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_check *c;

	stats_on(f);
	f->vcpu[0].vmm_exits[VIRQ_XC_KVM_EXIT_IO] = 7;
	f->vcpu[0].k_userspace_exit[VIRQ_XC_KVM_EXIT_IO] = 7;
	f->vcpu[0].k_pio = 9; /* two more handled by the in-kernel PIC */
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	c = find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_IO_STAT, 0);
	assert_non_null(c);
	assert_int_equal(c->verdict, VIRQ_XC_UNOBSERVABLE);
	assert_non_null(strstr(c->detail, "io_exits stays 0"));
	assert_int_equal(find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_IO_EVENTS, 0)->verdict,
			 VIRQ_XC_CONSISTENT);
	assert_int_equal(find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_REASON, 0)->verdict,
			 VIRQ_XC_CONSISTENT);

	/* Declared dead by the daemon: unobservable whatever the value. */
	virq_xcheck_source_set(&f->in.stat_src[VIRQ_XC_STAT_IO_EXITS], VIRQ_XC_SRC_SILENT,
			       "io_exits not maintained by kvm_pvm");
	f->vcpu[0].stat[VIRQ_XC_STAT_IO_EXITS] = 3;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_IO_STAT), VIRQ_XC_UNOBSERVABLE);

	/* A live, counting stat that disagrees is a real mismatch. */
	virq_xcheck_source_set(&f->in.stat_src[VIRQ_XC_STAT_IO_EXITS], VIRQ_XC_SRC_LIVE, NULL);
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_IO_STAT), VIRQ_XC_LOST);
	/* kvm_pio below the VMM's count: events missing. */
	f->vcpu[0].k_pio = 5;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_IO_EVENTS), VIRQ_XC_LOST);
}

static void test_vmm_exit_reasons_match_kvm_userspace_exit(void **state)
{
	struct fx *f = *state;

	f->vcpu[1].vmm_exits[VIRQ_XC_KVM_EXIT_MMIO] = 40;
	f->vcpu[1].k_userspace_exit[VIRQ_XC_KVM_EXIT_MMIO] = 40;
	f->vcpu[1].k_mmio = 55;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_REASON), VIRQ_XC_CONSISTENT);
	assert_int_equal(find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_REASON, 1)->index,
			 VIRQ_XC_KVM_EXIT_MMIO);
	assert_int_equal(find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_MMIO_EVENTS, 1)->verdict,
			 VIRQ_XC_CONSISTENT);
	f->vcpu[1].k_userspace_exit[VIRQ_XC_KVM_EXIT_MMIO] = 39;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_REASON), VIRQ_XC_LOST);
	/* While running, one exit may be between the two counters, in either direction. */
	f->vm.flags &= ~VIRQ_XC_VM_QUIESCED;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_REASON), VIRQ_XC_PENDING);
	f->vcpu[1].k_userspace_exit[VIRQ_XC_KVM_EXIT_MMIO] = 41;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_REASON), VIRQ_XC_PENDING);
	f->vcpu[1].k_userspace_exit[VIRQ_XC_KVM_EXIT_MMIO] = 43;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_REASON), VIRQ_XC_SPURIOUS);
}

static void test_user_mode_hlt_exits_equal_halt_exits_stat(void **state)
{
	struct fx *f = *state;

	stats_on(f);
	f->vm.flags &= ~VIRQ_XC_VM_LAPIC_IN_KERNEL;
	f->vcpu[0].vmm_exits[VIRQ_XC_KVM_EXIT_HLT] = 5;
	f->vcpu[0].stat[VIRQ_XC_STAT_HALT_EXITS] = 5;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_HLT), VIRQ_XC_CONSISTENT);
	f->vcpu[0].stat[VIRQ_XC_STAT_HALT_EXITS] = 4;
	assert_int_equal(verdict(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_HLT), VIRQ_XC_LOST);
	/* In-kernel LAPIC: HLT never reaches the VMM, so there is nothing to compare. */
	f->vm.flags |= VIRQ_XC_VM_LAPIC_IN_KERNEL;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	assert_null(find(f, VIRQ_XC_PATH_VM, VIRQ_XC_K_EXIT_HLT, -2));
}

/* --- deviations --------------------------------------------------------------------- */

static void test_isr_never_set_from_guest_isr_read_and_auto_eoi(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_finding *d;

	/* This host: kvm_eoi with the vector at injection, the guest's EOI finds ISR empty. */
	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 10, 0, 10);
	f->ev[0] = (struct virq_xcheck_evidence){
		.vm = "vm0", .kind = VIRQ_XC_EV_ISR_READ, .vector = 0x40, .a = 0, .b = 1
	};
	f->in.nr_evidence = 1;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	d = find_dev(f, VIRQ_XC_DEV_ISR_NEVER_SET);
	assert_non_null(d);
	assert_int_equal(d->status, VIRQ_XC_DEV_DEVIATES);
	assert_int_equal(d->positive, 1 + 10);
	assert_int_equal(d->negative, 0);
	assert_int_equal(d->count, 10);
	assert_int_equal(d->vector, 0x40);
}

static void test_isr_held_until_guest_eoi_conforms(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_finding *d;

	/* Architectural host: kvm_eoi carries the vector only at the guest's EOI. */
	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 10, 0, 10);
	f->vcpu[0].k_eoi_none = 0;
	f->ev[0] = (struct virq_xcheck_evidence){
		.vm = "vm0", .kind = VIRQ_XC_EV_ISR_READ, .vector = 0x40, .a = 1, .b = 1
	};
	f->in.nr_evidence = 1;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	d = find_dev(f, VIRQ_XC_DEV_ISR_NEVER_SET);
	assert_non_null(d);
	assert_int_equal(d->status, VIRQ_XC_DEV_CONFORMS);
	assert_int_equal(d->positive, 0);

	/* Kernel EOIs without any guest EOI (EOIs held): the deviation, against the read. */
	f->vcpu[0].guest_eoi_written = 0;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	d = find_dev(f, VIRQ_XC_DEV_ISR_NEVER_SET);
	assert_int_equal(d->status, VIRQ_XC_DEV_MIXED);
	assert_int_equal(d->positive, 10);
}

static void test_lower_vector_preempting_uneoid_higher_is_a_deviation(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_finding *d;

	f->ev[0] = (struct virq_xcheck_evidence){ .vm = "vm0",
						  .kind = VIRQ_XC_EV_PREEMPT,
						  .vcpu = 1,
						  .vector = 0x80,
						  .vector2 = 0x40,
						  .a = 10,
						  .b = 11,
						  .c = 0 };
	f->in.nr_evidence = 1;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	d = find_dev(f, VIRQ_XC_DEV_LOWER_PREEMPTS);
	assert_non_null(d);
	assert_int_equal(d->status, VIRQ_XC_DEV_DEVIATES);
	assert_int_equal(d->vcpu, 1);
	assert_int_equal(d->vector, 0x40);

	/* Near miss: the higher vector was EOI'd (seq 11) before the lower arrived (12). */
	f->ev[0].b = 12;
	f->ev[0].c = 11;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	assert_int_equal(find_dev(f, VIRQ_XC_DEV_LOWER_PREEMPTS)->status, VIRQ_XC_DEV_CONFORMS);

	/* A higher class nesting is architectural and proves nothing either way. */
	f->ev[0].vector2 = 0x90;
	f->ev[0].c = 0;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	assert_null(find_dev(f, VIRQ_XC_DEV_LOWER_PREEMPTS));
}

static void test_level_refire_beyond_eois_shows_remote_irr_cleared_at_injection(void **state)
{
	struct fx *f = *state;
	const struct virq_xcheck_finding *d;

	f->ev[0] = (struct virq_xcheck_evidence){
		.vm = "vm0", .kind = VIRQ_XC_EV_LEVEL_HOLD, .vector = 0x50, .a = 1, .b = 50, .c = 0
	};
	f->in.nr_evidence = 1;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	d = find_dev(f, VIRQ_XC_DEV_REMOTE_IRR_AT_INJECTION);
	assert_non_null(d);
	assert_int_equal(d->status, VIRQ_XC_DEV_DEVIATES);
	assert_int_equal(d->count, 49);

	/* Near miss: one delivery per assertion plus one per guest EOI is architectural. */
	f->ev[0].b = 3;
	f->ev[0].c = 2;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	assert_int_equal(find_dev(f, VIRQ_XC_DEV_REMOTE_IRR_AT_INJECTION)->status,
			 VIRQ_XC_DEV_CONFORMS);
}

static void test_evidence_for_unknown_vm_is_counted_dropped(void **state)
{
	struct fx *f = *state;

	f->ev[0] = (struct virq_xcheck_evidence){
		.vm = "nosuchvm", .kind = VIRQ_XC_EV_ISR_READ, .a = 0, .b = 1
	};
	f->in.nr_evidence = 1;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	assert_int_equal(f->r->dropped_evidence, 1);
	assert_null(find_dev(f, VIRQ_XC_DEV_ISR_NEVER_SET));
}

/* --- renderers ---------------------------------------------------------------------- */

static void mixed_report(struct fx *f)
{
	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 10, 3, 7);
	inject(f, VIRQ_XC_PATH_IOAPIC, 1, 0x50, 2, 0, 1);
	stats_on(f);
	f->vcpu[0].stat[VIRQ_XC_STAT_EXITS] = 100;
	f->ev[0] = (struct virq_xcheck_evidence){
		.vm = "vm0", .kind = VIRQ_XC_EV_ISR_READ, .vector = 0x40, .a = 0, .b = 1
	};
	f->in.nr_evidence = 1;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
}

static void test_json_carries_every_field_and_parses_back(void **state)
{
	struct fx *f = *state;
	struct virq_xcheck_report *back = virq_xcheck_report_new();
	cJSON *j, *parsed, *checks, *c0;
	char *text;

	assert_non_null(back);
	mixed_report(f);
	j = virq_xcheck_report_to_json(f->r);
	assert_non_null(j);
	text = cJSON_PrintUnformatted(j);
	assert_non_null(text);
	parsed = cJSON_Parse(text);
	assert_non_null(parsed);

	checks = cJSON_GetObjectItemCaseSensitive(parsed, "checks");
	assert_int_equal(cJSON_GetArraySize(checks), f->r->nr_checks);
	c0 = cJSON_GetArrayItem(checks, 0);
	assert_string_equal(cJSON_GetObjectItem(c0, "vm")->valuestring, "vm0");
	assert_string_equal(cJSON_GetObjectItem(c0, "verdict")->valuestring,
			    virq_xcheck_verdict_name(f->r->checks[0].verdict));
	assert_int_equal((uint64_t)cJSON_GetObjectItem(c0, "expected")->valuedouble,
			 f->r->checks[0].expected);
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(c0, "values")));
	assert_int_equal(
		(uint64_t)cJSON_GetObjectItem(cJSON_GetObjectItem(parsed, "summary"), "coalesced")
			->valuedouble,
		f->r->by_verdict[VIRQ_XC_COALESCED]);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(parsed, "findings")),
			 f->r->nr_findings);

	/* Round trip: every check and finding comes back field for field. */
	assert_int_equal(virq_xcheck_report_from_json(parsed, back), 0);
	assert_int_equal(back->nr_checks, f->r->nr_checks);
	assert_int_equal(back->nr_findings, f->r->nr_findings);
	assert_memory_equal(back->by_verdict, f->r->by_verdict, sizeof(back->by_verdict));
	for (uint32_t i = 0; i < back->nr_checks; i++)
		assert_memory_equal(&back->checks[i], &f->r->checks[i], sizeof(back->checks[i]));
	for (uint32_t i = 0; i < back->nr_findings; i++)
		assert_memory_equal(&back->findings[i], &f->r->findings[i],
				    sizeof(back->findings[i]));

	/* Unknown names and wrong types are rejected. */
	cJSON_ReplaceItemInObject(c0, "verdict", cJSON_CreateString("fine"));
	assert_int_equal(virq_xcheck_report_from_json(parsed, back), -EINVAL);
	assert_int_equal(back->nr_checks, 0);
	cJSON_ReplaceItemInObject(c0, "verdict", cJSON_CreateString("lost"));
	cJSON_ReplaceItemInObject(c0, "expected", cJSON_CreateNumber(-1));
	assert_int_equal(virq_xcheck_report_from_json(parsed, back), -EINVAL);

	cJSON_Delete(parsed);
	cJSON_free(text);
	cJSON_Delete(j);
	virq_xcheck_report_free(back);
}

static void test_table_has_fixed_columns_and_snprintf_contract(void **state)
{
	struct fx *f = *state;
	char *buf, small[64];
	size_t need, lines = 0;
	const char *p;

	mixed_report(f);
	need = virq_xcheck_report_to_table(f->r, NULL, 0);
	assert_true(need > 0);
	buf = malloc(need + 1);
	assert_non_null(buf);
	assert_int_equal(virq_xcheck_report_to_table(f->r, buf, need + 1), need);
	assert_int_equal(strlen(buf), need);
	assert_memory_equal(buf, "VM               PATH    CHECK             VERDICT", 50);
	/* Columns: verdict starts at 43, expected is right-aligned to column 64. */
	for (p = strchr(buf, '\n') + 1; lines < f->r->nr_checks; p = strchr(p, '\n') + 1, lines++) {
		const struct virq_xcheck_check *c = &f->r->checks[lines];
		char exp[24];

		assert_memory_equal(p, "vm0 ", 4);
		assert_memory_equal(p + 43, virq_xcheck_verdict_name(c->verdict),
				    strlen(virq_xcheck_verdict_name(c->verdict)));
		snprintf(exp, sizeof(exp), "%10llu", (unsigned long long)c->expected);
		assert_memory_equal(p + 56, exp, 10);
	}
	assert_non_null(strstr(buf, "isr-never-set"));
	snprintf(small, sizeof(small), "coalesced %llu,",
		 (unsigned long long)f->r->by_verdict[VIRQ_XC_COALESCED]);
	assert_true(f->r->by_verdict[VIRQ_XC_COALESCED] > 0);
	assert_non_null(strstr(buf, small));
	/* Truncation: same length reported, output NUL-terminated. */
	assert_int_equal(virq_xcheck_report_to_table(f->r, small, sizeof(small)), need);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	free(buf);
}

static void test_summary_counts_per_vm_path_kind(void **state)
{
	struct fx *f = *state;
	struct virq_xcheck_summary rows[64];
	size_t n;
	uint64_t total = 0;

	mixed_report(f);
	n = virq_xcheck_report_summarize(f->r, rows, 64);
	assert_true(n > 0 && n <= 64);
	for (size_t i = 0; i < n; i++)
		for (unsigned int v = 0; v < VIRQ_XC_VERDICT__COUNT; v++)
			total += rows[i].count[v];
	assert_int_equal(total, f->r->nr_checks);
	assert_int_equal(virq_xcheck_report_count(f->r, "vm0", VIRQ_XC_PATH_MSI, VIRQ_XC_K_GUEST,
						  VIRQ_XC_COALESCED),
			 1);
	assert_int_equal(virq_xcheck_report_count(f->r, "vm1", -1, -1, -1), 0);
	/* Fewer rows than needed: the count is still the full number. */
	assert_int_equal(virq_xcheck_report_summarize(f->r, rows, 1), n);
}

static void test_names_are_closed_and_parse_back(void **state)
{
	for (int v = 0; v < VIRQ_XC_VERDICT__COUNT; v++)
		assert_int_equal(virq_xcheck_verdict_parse(virq_xcheck_verdict_name(v)), v);
	for (int k = 0; k < VIRQ_XC_KIND__COUNT; k++)
		assert_int_equal(virq_xcheck_kind_parse(virq_xcheck_kind_name(k)), k);
	for (int p = 0; p <= VIRQ_XC_PATH_VM; p++)
		assert_int_equal(virq_xcheck_path_parse(virq_xcheck_path_name(p)), p);
	for (int d = 0; d < VIRQ_XC_DEV__COUNT; d++)
		assert_int_equal(virq_xcheck_dev_parse(virq_xcheck_dev_name(d)), d);
	assert_string_equal(virq_xcheck_verdict_name(VIRQ_XC_VERDICT__COUNT), "unknown");
	assert_string_equal(virq_xcheck_tp_name(VIRQ_XC_TP__COUNT), "unknown");
	assert_int_equal(virq_xcheck_verdict_parse("ok"), -EINVAL);
	assert_int_equal(virq_xcheck_path_from_irq(VIRQ_PATH_LINT), VIRQ_XC_PATH_PIC);
	assert_int_equal(virq_xcheck_path_from_irq(VIRQ_PATH_MSI), VIRQ_XC_PATH_MSI);
}

/* --- bounds ------------------------------------------------------------------------ */

static void test_bounds_too_many_vcpus_vms_evidence_rejected_e2big(void **state)
{
	struct fx *f = *state;

	inject(f, VIRQ_XC_PATH_MSI, 0, 0x40, 1, 0, 1);
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	assert_true(f->r->nr_checks > 0);

	f->vm.nr_vcpus = VIRQ_XC_MAX_VCPUS + 1;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), -E2BIG);
	f->vm.nr_vcpus = 2;
	f->in.nr_vms = VIRQ_XC_MAX_VMS + 1;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), -E2BIG);
	f->in.nr_vms = 1;
	f->in.nr_evidence = VIRQ_XC_MAX_EVIDENCE + 1;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), -E2BIG);
	f->in.nr_evidence = 0;
	/* Malformed input: -EINVAL, nothing read past the name. */
	memset(f->vm.name, 'x', sizeof(f->vm.name));
	assert_int_equal(virq_xcheck_run(&f->in, f->r), -EINVAL);
	snprintf(f->vm.name, sizeof(f->vm.name), "vm0");
	f->vm.kern[VIRQ_XC_PATH_MSI].accept_tp = VIRQ_XC_TP__COUNT;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), -EINVAL);
	f->vm.kern[VIRQ_XC_PATH_MSI].accept_tp = VIRQ_XC_TP_APIC_ACCEPT_IRQ;
	f->vm.vcpus = NULL;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), -EINVAL);
	assert_int_equal(virq_xcheck_run(NULL, f->r), -EINVAL);
}

static void test_checks_beyond_report_capacity_are_counted_not_stored(void **state)
{
	struct fx *f = *state;
	struct virq_xcheck_vm *vms = calloc(VIRQ_XC_MAX_VMS, sizeof(*vms));
	struct virq_xcheck_vcpu *vc = calloc(VIRQ_XC_MAX_VCPUS, sizeof(*vc));
	uint64_t sum = 0;

	assert_non_null(vms);
	assert_non_null(vc);
	/* Every vCPU has 63 exit reasons the VMM counted: 64 VMs x 64 vCPUs x 62 checks. */
	for (unsigned int i = 0; i < VIRQ_XC_MAX_VCPUS; i++) {
		vc[i].vcpu_id = i;
		for (unsigned int r = 1; r < VIRQ_XC_EXIT_REASONS; r++)
			vc[i].vmm_exits[r] = vc[i].k_userspace_exit[r] = 1;
	}
	for (unsigned int i = 0; i < VIRQ_XC_MAX_VMS; i++) {
		virq_xcheck_vm_init(&vms[i]);
		snprintf(vms[i].name, sizeof(vms[i].name), "vm%u", i);
		vms[i].flags = VIRQ_XC_VM_OWNED | VIRQ_XC_VM_TRACED | VIRQ_XC_VM_QUIESCED |
			       VIRQ_XC_VM_LAPIC_IN_KERNEL;
		vms[i].nr_vcpus = VIRQ_XC_MAX_VCPUS;
		vms[i].vcpus = vc;
	}
	f->in.vms = vms;
	f->in.nr_vms = VIRQ_XC_MAX_VMS;
	assert_int_equal(virq_xcheck_run(&f->in, f->r), 0);
	assert_int_equal(f->r->nr_checks, VIRQ_XC_MAX_CHECKS);
	assert_true(f->r->dropped_checks > 0);
	for (unsigned int v = 0; v < VIRQ_XC_VERDICT__COUNT; v++)
		sum += f->r->by_verdict[v];
	assert_int_equal(sum, f->r->nr_checks + f->r->dropped_checks);
	free(vms);
	free(vc);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_four_ledgers_agreeing_are_consistent),
		T(test_edge_msi_injected_equals_received_plus_coalesced),
		T(test_uncounted_coalescing_does_not_explain_a_shortfall),
		T(test_uncounted_irr_merge_in_kernel_lapic_is_bounded_not_lost),
		T(test_running_vm_shortfall_within_inflight_bound_is_pending),
		T(test_quiesced_vm_has_no_inflight_allowance),
		T(test_quiesced_vm_shortfall_held_in_irr_or_isr_is_pending),
		T(test_same_totals_on_wrong_vcpu_is_misrouted_not_lost),
		T(test_accept_at_wrong_apic_is_misrouted_at_accept_stage),
		T(test_arrival_on_unused_vector_is_misrouted_wrong_vector),
		T(test_edge_surplus_is_spurious),
		T(test_held_level_line_refire_is_reported_as_refired),
		T(test_silent_or_unavailable_attach_point_is_unobservable),
		T(test_path_without_vmm_injection_uses_accepts_or_is_unobservable),
		T(test_observed_only_vm_checks_sources_accepts_and_eois_per_vector),
		T(test_bpf_counts_incomplete_make_bpf_verdicts_unobservable),
		T(test_observed_vm_nmi_init_sipi_accepts_take_no_eoi),
		T(test_observed_level_line_refires_and_storm),
		T(test_unattributed_injections_are_judged_per_vcpu_and_vector),
		T(test_observed_only_vm_with_unattributed_vectors),
		T(test_irq_injections_stat_may_exceed_receipts_never_fall_short),
		T(test_nmi_injections_stat_against_guest_nmis),
		T(test_kvm_exit_never_firing_is_unobservable_never_lost),
		T(test_io_exits_stat_stuck_at_zero_is_unobservable),
		T(test_vmm_exit_reasons_match_kvm_userspace_exit),
		T(test_user_mode_hlt_exits_equal_halt_exits_stat),
		T(test_isr_never_set_from_guest_isr_read_and_auto_eoi),
		T(test_isr_held_until_guest_eoi_conforms),
		T(test_lower_vector_preempting_uneoid_higher_is_a_deviation),
		T(test_level_refire_beyond_eois_shows_remote_irr_cleared_at_injection),
		T(test_evidence_for_unknown_vm_is_counted_dropped),
		T(test_json_carries_every_field_and_parses_back),
		T(test_table_has_fixed_columns_and_snprintf_contract),
		T(test_summary_counts_per_vm_path_kind),
		T(test_names_are_closed_and_parse_back),
		T(test_bounds_too_many_vcpus_vms_evidence_rejected_e2big),
		T(test_checks_beyond_report_capacity_are_counted_not_stored),
	};
	return cmocka_run_group_tests_name("xcheck", tests, NULL, NULL);
}
