// SPDX-License-Identifier: MIT
/*
 * Scenario runs on real VMs: the default scenario (every delivery path) in kernel
 * irqchip mode, the differential across kernel, split and user modes (user: posted,
 * posted=off, PV-EOI on/off), and the loss test (1e6 MSIs into a 2-vCPU guest: every one
 * handled by the guest or counted coalesced -- by KVM's answer, or in user mode by the
 * VMM's PIR/IRR accounting), in kernel mode and the user-mode variants.
 */
#include "virq_test.h"
#include "virq/vmm.h"
#include "virq/vmm_guest.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A scenario built into libvirq_vmm (daemon/vmm/scenarios/<name>.json, embedded at build
 * time): the programs also run where no source tree exists (tests/nested). */
static struct virq_scenario *load(const char *name)
{
	char err[160] = "";
	struct virq_scenario *s;
	const char *json;
	size_t len = 0;

	json = virq_scenario_builtin(name, &len);
	if (!json)
		fail_msg("no built-in scenario \"%s\" (daemon/vmm/scenarios/%s.json): %s", name,
			 name, strerror(errno));
	s = virq_scenario_parse(json, len, err, sizeof(err));
	if (!s)
		fail_msg("built-in scenario %s: %s", name, err);
	return s;
}

static void test_default_scenario_delivers_on_every_path_kernel(void **state)
{
	struct virq_scenario *s;
	struct virq_scn_result *res;
	struct virq_vm_config cfg;
	struct virq_vm *vm;
	char err[160];
	int ret;

	VIRQ_REQUIRE_KVM();
	s = load("default");
	res = calloc(1, sizeof(*res));
	assert_non_null(res);
	/* Our own VM (the runner would destroy its own), to read KVM's stats afterwards. */
	cfg = s->config;
	cfg.irqchip = VIRQ_IRQCHIP_KERNEL;
	vm = virq_vm_create(&cfg, err, sizeof(err));
	if (!vm)
		fail_msg("virq_vm_create: %s", err);
	assert_int_equal(virq_vm_start(vm), 0);
	assert_int_equal(virq_vm_wait_ready(vm, 10000), 0);
	ret = virq_scenario_run(vm, s, -1, res);
	for (uint32_t i = 0; i < res->nr_rows; i++)
		print_message("# vcpu %u vector 0x%02x expected %s%llu observed %llu %s\n",
			      res->rows[i].vcpu, res->rows[i].vector,
			      res->rows[i].at_least ? ">=" : "",
			      (unsigned long long)res->rows[i].expected,
			      (unsigned long long)res->rows[i].observed,
			      res->rows[i].ok ? "ok" : "MISMATCH");
	if (ret)
		fail_msg("scenario could not run: %s (%s)", strerror(-ret), res->failure);
	if (!res->pass)
		fail_msg("%s", res->failure);
	/* In kernel mode every exit of this scenario (LAPIC MMIO, PIC ports, IOAPIC) is
	 * handled inside KVM, so the VMM may count none (res->exits_total, 0 on a nested
	 * kvm_amd); KVM's own `exits` stat must have seen them on every vCPU. */
	for (uint32_t c = 0; c < s->config.nr_vcpus; c++) {
		uint64_t exits = 0;

		assert_int_equal(virq_vm_kvm_stat(vm, (int32_t)c, "exits", &exits), 0);
		print_message("# vCPU %u: KVM exits %llu\n", c, (unsigned long long)exits);
		assert_true(exits > 0);
	}
	print_message("# exits seen by the VMM: %llu\n", (unsigned long long)res->exits_total);
	virq_vm_destroy(vm);
	free(res);
	virq_scenario_free(s);
}

/*
 * Differential: the same scenario in kernel, split and user irqchip mode (user: posted,
 * posted=off, PV-EOI off) must deliver the same vectors to the same vCPUs the same number
 * of times (rows with "at_least" are level lines that may legitimately re-fire: every
 * mode must satisfy the bound). Repeated GSI pulses are spaced by 2 ms: with our exact
 * IOAPIC and LAPIC (user mode) a level pulse that arrives while the previous one's remote
 * IRR is still set is coalesced by the IOAPIC, whereas KVM on our hosts clears remote IRR
 * at injection (PLATFORM.md); the spacing keeps the comparison about delivery.
 */
#define NR_VARIANTS 5
static void test_differential_kernel_split_and_user_deliver_the_same(void **state)
{
	static const struct {
		const char *name;
		enum virq_irqchip_mode mode;
		bool posted, pv_eoi;
	} v[NR_VARIANTS] = {
		{ "kernel", VIRQ_IRQCHIP_KERNEL, true, true },
		{ "split", VIRQ_IRQCHIP_SPLIT, true, true },
		{ "user", VIRQ_IRQCHIP_USER, true, true },
		{ "user posted=off", VIRQ_IRQCHIP_USER, false, true },
		{ "user pv_eoi=off", VIRQ_IRQCHIP_USER, true, false },
	};
	struct virq_scn_result *res[NR_VARIANTS];
	struct virq_scenario *s;
	int diffs = 0;

	VIRQ_REQUIRE_KVM();
	s = load("default");
	for (uint32_t i = 0; i < s->nr_actions; i++)
		if (s->actions[i].kind == VIRQ_ACT_GSI && s->actions[i].repeat > 1 &&
		    s->actions[i].gap_us < 2000)
			s->actions[i].gap_us = 2000;
	for (int m = 0; m < NR_VARIANTS; m++) {
		int ret;

		res[m] = calloc(1, sizeof(*res[m]));
		assert_non_null(res[m]);
		s->config.posted = v[m].posted;
		s->config.pv_eoi = v[m].pv_eoi;
		ret = virq_scenario_run(NULL, s, (int)v[m].mode, res[m]);
		if (ret)
			fail_msg("%s: could not run: %s (%s)", v[m].name, strerror(-ret),
				 res[m]->failure);
		print_message("# %s: %s%s\n", v[m].name, res[m]->pass ? "pass" : "FAIL ",
			      res[m]->failure);
	}
	for (int m = 1; m < NR_VARIANTS; m++) {
		assert_int_equal(res[0]->nr_rows, res[m]->nr_rows);
		for (uint32_t i = 0; i < res[0]->nr_rows; i++) {
			const struct virq_scn_row *k = &res[0]->rows[i], *o = &res[m]->rows[i];
			bool same = k->at_least ? (k->ok && o->ok) : k->observed == o->observed;

			if (!same) {
				diffs++;
				print_message("# differs: vcpu %u vector 0x%02x kernel %llu %s "
					      "%llu\n",
					      k->vcpu, k->vector, (unsigned long long)k->observed,
					      v[m].name, (unsigned long long)o->observed);
			}
		}
	}
	assert_int_equal(diffs, 0);
	for (int m = 0; m < NR_VARIANTS; m++) {
		assert_true(res[m]->pass);
		free(res[m]);
	}
	virq_scenario_free(s);
}

/* ISR bit of an interrupt whose EOI the guest holds (SDM 11.8.4: set at acceptance,
 * cleared by EOI). Returns 1 set, 0 clear. */
static int isr_bit_while_held(enum virq_irqchip_mode mode)
{
	struct virq_vm_config cfg;
	struct virq_vm *vm;
	struct virq_guest_vec g;
	uint64_t isr = 0;
	char err[160];

	virq_vm_config_init(&cfg);
	cfg.nr_vcpus = 2;
	cfg.irqchip = mode;
	vm = virq_vm_create(&cfg, err, sizeof(err));
	if (!vm)
		fail_msg("%s", err);
	assert_int_equal(virq_vm_start(vm), 0);
	assert_int_equal(virq_vm_wait_ready(vm, 10000), 0);
	assert_int_equal(virq_vm_guest_cmd(vm, 1, VIRQ_MBOX_EOI_HOLD, 1, 0, NULL, 2000), 0);
	assert_true(virq_vm_inject_msi(vm, VIRQ_LAPIC_GPA | (1u << 12), 0x65) >= 0);
	for (int i = 0; i < 20000; i++) {
		assert_int_equal(virq_vm_ledger(vm, 1, 0x65, &g), 0);
		if (g.count)
			break;
		usleep(100);
	}
	assert_int_equal(g.count, 1);
	/* ISR bits 127:96 at 0x130; vector 0x65 is bit 5. */
	assert_int_equal(virq_vm_guest_cmd(vm, 1, VIRQ_MBOX_APIC_READ, 0x130, 0, &isr, 2000), 0);
	assert_int_equal(virq_vm_guest_cmd(vm, 1, VIRQ_MBOX_EOI_HOLD, 0, 0, NULL, 2000), 0);
	virq_vm_destroy(vm);
	return (int)((isr >> 5) & 1);
}

/*
 * Kernel and split mode share KVM's LAPIC, so they must agree on ISR; whether it is the
 * architectural behaviour or this host's known deviation (ISR never set, PLATFORM.md)
 * is reported as a finding with the register value as evidence.
 */
static void test_isr_of_a_held_vector_agrees_between_kernel_and_split(void **state)
{
	int k, sp;

	VIRQ_REQUIRE_KVM();
	k = isr_bit_while_held(VIRQ_IRQCHIP_KERNEL);
	sp = isr_bit_while_held(VIRQ_IRQCHIP_SPLIT);
	if (!k)
		print_message("# detected deviation: in-kernel LAPIC left ISR bit of un-EOId "
			      "vector 0x65 clear (ISR[127:96] bit 5 = 0; SDM 11.8.4 says set)\n");
	else
		print_message("# in-kernel LAPIC sets ISR for an un-EOId vector (architectural)\n");
	assert_int_equal(k, sp);
}

#define LOSS_DEFAULT 1000000u
#define LOSS_VEC(cpu) ((uint8_t)(0x60 + (cpu)))

/* VIRQ_LOSS_COUNT overrides the number of MSIs (a slow emulated KVM uses fewer). */
static uint32_t loss_count(void)
{
	const char *e = getenv("VIRQ_LOSS_COUNT");
	char *end;
	unsigned long v;

	if (!e || !*e)
		return LOSS_DEFAULT;
	errno = 0;
	v = strtoul(e, &end, 10);
	if (errno || *end || v < 2 || v > 100000000ul)
		fail_msg("VIRQ_LOSS_COUNT=\"%s\": want an integer in 2..100000000", e);
	return (uint32_t)v;
}

/* Are APICv / AVIC (virtual interrupt delivery) enabled in this KVM? Then KVM delivers
 * interrupts without its injection path, and irq_injections does not count them. */
static bool virtual_interrupt_delivery(void)
{
	static const char *const params[] = { "/sys/module/kvm_intel/parameters/enable_apicv",
					      "/sys/module/kvm_amd/parameters/avic" };
	bool on = false;

	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		FILE *f = fopen(params[i], "r");
		int c;

		if (!f)
			continue;
		c = fgetc(f);
		on |= c == 'Y' || c == 'y' || c == '1';
		fclose(f);
	}
	return on;
}

struct loss_snap {
	uint64_t seq; /* guest: every interrupt taken */
	uint64_t handled; /* guest: LOSS_VEC(cpu) */
	uint64_t kvm_inj; /* KVM's irq_injections (kernel mode) */
};

static void loss_snap(struct virq_vm *vm, enum virq_irqchip_mode mode, uint32_t c,
		      struct loss_snap *o)
{
	struct virq_guest_ledger *l = malloc(sizeof(*l));
	int r;

	assert_non_null(l);
	assert_int_equal(virq_vm_guest_ledger(vm, c, l), 0);
	o->seq = l->seq;
	o->handled = l->vec[LOSS_VEC(c)].count;
	free(l);
	o->kvm_inj = 0;
	if (mode != VIRQ_IRQCHIP_KERNEL)
		return;
	r = virq_vm_kvm_stat(vm, (int32_t)c, "irq_injections", &o->kvm_inj);
	if (r)
		fail_msg("KVM stat irq_injections of vCPU %u: %s", c, strerror(-r));
}

/*
 * Every MSI must be handled by the guest or counted coalesced, per vCPU.
 *
 * user mode: the VMM sees every coalescing itself (already pending in PIR at the post,
 * already in IRR at the merge): handled + coalesced == injected, exactly.
 *
 * kernel mode: KVM's in-kernel LAPIC accepts a fixed MSI whose vector is already in IRR
 * (IRR holds one bit per vector, SDM 11.8.4: the two merge into one interrupt) and
 * KVM_SIGNAL_MSI still answers 1: __apic_accept_irq() returns 1 for fixed delivery
 * whether or not the IRR bit was already set. The VMM cannot see that coalescing, so
 * coalesced = injected - handled by definition, and what can be checked is bounded by
 * KVM's own per-vCPU binary stat `irq_injections` (svm_inject_irq / vmx_inject_irq):
 *   - handled <= irq_injections delta: the guest took nothing KVM did not inject;
 *   - they are NOT equal in general: KVM counts every injection attempt, and re-injects
 *     (counting again) an interrupt whose VM entry was cancelled by a pending kick
 *     (vcpu_enter_guest -> cancel_injection) or whose delivery an exit interrupted
 *     (EXITINTINFO / IDT-vectoring info). Under a flood of KVM_SIGNAL_MSI kicks that
 *     happens: 19 irq_injections for 12 handled on a nested kvm_amd. The excess is
 *     reported; injected - irq_injections is a lower bound of the in-kernel coalescing;
 *   - after the flood each vCPU still takes a fresh MSI exactly once (no IRR/ISR bit
 *     left stuck by the coalescing).
 * With APICv/AVIC, KVM delivers through virtual interrupt delivery and irq_injections
 * misses those: the bound check is then reported as unobservable.
 */
static void loss_run(enum virq_irqchip_mode mode, bool posted, bool pv_eoi)
{
	struct virq_vm_config cfg;
	struct virq_vm *vm;
	struct virq_vmm_vec vv;
	struct loss_snap before[2], after[2];
	char err[160];
	uint32_t total = loss_count();
	uint64_t handled = 0, coalesced = 0, injected = 0, prev = ~0ull;

	virq_vm_config_init(&cfg);
	cfg.nr_vcpus = 2;
	cfg.idle = VIRQ_IDLE_CPL3_SPIN;
	cfg.irqchip = mode;
	cfg.posted = posted;
	cfg.pv_eoi = pv_eoi;
	vm = virq_vm_create(&cfg, err, sizeof(err));
	if (!vm)
		fail_msg("%s", err);
	assert_int_equal(virq_vm_start(vm), 0);
	assert_int_equal(virq_vm_wait_ready(vm, 10000), 0);
	/* Warm-up: one interrupt through each vCPU's IDT, stubs and CPL0 stack. */
	for (uint32_t c = 0; c < 2; c++) {
		assert_int_equal(virq_vm_guest_cmd(vm, c, VIRQ_MBOX_NOP, 0, 0, NULL, 10000), 0);
		loss_snap(vm, mode, c, &before[c]);
	}
	for (uint32_t i = 0; i < total; i++) {
		uint32_t cpu = i & 1;
		int r = virq_vm_inject_msi(vm, VIRQ_LAPIC_GPA | (cpu << 12), LOSS_VEC(cpu));

		assert_true(r >= 0);
	}
	/*
	 * Quiesce. user mode: the VMM sees every coalescing, so wait until each vCPU's
	 * injections are all handled or counted coalesced; an interrupt still pending in
	 * PIR or IRR (its vCPU thread descheduled on a loaded host) is not lost, and a lost
	 * one never arrives: after 60 s the check below fails. kernel mode: KVM's merges
	 * are invisible, so wait until the guest ledgers and KVM's counts have not moved
	 * for a whole second.
	 */
	for (int i = 0, still = 0; i < 600 && still < 10; i++) {
		uint64_t sum = 0;
		bool accounted = mode != VIRQ_IRQCHIP_KERNEL;

		for (uint32_t c = 0; c < 2; c++) {
			loss_snap(vm, mode, c, &after[c]);
			sum += after[c].seq + after[c].kvm_inj;
			assert_int_equal(virq_vm_vmm_vec(vm, c, LOSS_VEC(c), &vv), 0);
			if (after[c].handled - before[c].handled + vv.coalesced != vv.injected)
				accounted = false;
		}
		if (accounted)
			break;
		if (mode == VIRQ_IRQCHIP_KERNEL)
			still = sum == prev ? still + 1 : 0;
		prev = sum;
		usleep(100000);
	}
	for (uint32_t c = 0; c < 2; c++) {
		uint64_t h = after[c].handled - before[c].handled;
		uint64_t k = after[c].kvm_inj - before[c].kvm_inj;

		assert_int_equal(virq_vm_vmm_vec(vm, c, LOSS_VEC(c), &vv), 0);
		/* Nothing but the loss vector reached the guest during the run. */
		assert_int_equal(after[c].seq - before[c].seq, h);
		if (h > vv.injected)
			fail_msg("vCPU %u handled %llu > injected %llu", c, (unsigned long long)h,
				 (unsigned long long)vv.injected);
		if (mode == VIRQ_IRQCHIP_KERNEL) {
			print_message(
				"# kernel vCPU %u: injected %llu, handled %llu, KVM "
				"irq_injections %llu (%lld re-injected), coalesced in KVM %llu "
				"(>= %lld by irq_injections)\n",
				c, (unsigned long long)vv.injected, (unsigned long long)h,
				(unsigned long long)k, (long long)(k - h),
				(unsigned long long)(vv.injected - h),
				(long long)(vv.injected - k));
			if (k < h && virtual_interrupt_delivery())
				print_message(
					"# finding: APICv/AVIC delivers without irq_injections "
					"(%llu < %llu handled): the bound is unobservable here\n",
					(unsigned long long)k, (unsigned long long)h);
			else if (k < h)
				fail_msg(
					"vCPU %u: the guest handled %llu but KVM injected only %llu "
					"(irq_injections) without APICv/AVIC",
					c, (unsigned long long)h, (unsigned long long)k);
			assert_true(h > 0);
			/* KVM_SIGNAL_MSI never said "coalesced" (see above). */
			assert_int_equal(vv.coalesced, 0);
			coalesced += vv.injected - h;
		} else {
			coalesced += vv.coalesced;
		}
		handled += h;
		injected += vv.injected;
	}
	print_message("# %s posted=%d pv_eoi=%d: %u MSIs, injected %llu handled %llu "
		      "coalesced %llu\n",
		      virq_irqchip_mode_name(mode), posted, pv_eoi, total,
		      (unsigned long long)injected, (unsigned long long)handled,
		      (unsigned long long)coalesced);
	assert_int_equal(injected, total);
	if (handled + coalesced != injected)
		fail_msg("injected %llu handled %llu coalesced %llu: %lld neither handled nor "
			 "counted coalesced",
			 (unsigned long long)injected, (unsigned long long)handled,
			 (unsigned long long)coalesced,
			 (long long)(injected - handled - coalesced));
	/* After the flood every vCPU still takes a fresh MSI, exactly once. */
	for (uint32_t c = 0; c < 2; c++) {
		struct loss_snap probe;

		assert_true(virq_vm_inject_msi(vm, VIRQ_LAPIC_GPA | (c << 12), LOSS_VEC(c)) >= 0);
		assert_int_equal(
			virq_vm_wait_handled(vm, c, LOSS_VEC(c), after[c].handled + 1, 10000), 0);
		usleep(20000);
		loss_snap(vm, mode, c, &probe);
		assert_int_equal(probe.handled, after[c].handled + 1);
		assert_int_equal(probe.seq, after[c].seq + 1);
	}
	assert_int_equal(virq_vm_state(vm, NULL, 0), VIRQ_VM_RUNNING);
	virq_vm_destroy(vm);
}

static void test_loss_every_msi_is_handled_or_counted_coalesced(void **state)
{
	VIRQ_REQUIRE_KVM();
	loss_run(VIRQ_IRQCHIP_KERNEL, true, true);
}

/* User mode: coalesced = already pending in PIR at the post + already in IRR at the
 * merge (the VMM ledger's per-vector `coalesced`). */
static void test_loss_user_mode_posted_and_not_pv_eoi_on_and_off(void **state)
{
	VIRQ_REQUIRE_KVM();
	loss_run(VIRQ_IRQCHIP_USER, true, true);
	loss_run(VIRQ_IRQCHIP_USER, false, true);
	loss_run(VIRQ_IRQCHIP_USER, true, false);
	loss_run(VIRQ_IRQCHIP_USER, false, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_scenario_delivers_on_every_path_kernel),
		cmocka_unit_test(test_differential_kernel_split_and_user_deliver_the_same),
		cmocka_unit_test(test_isr_of_a_held_vector_agrees_between_kernel_and_split),
		cmocka_unit_test(test_loss_every_msi_is_handled_or_counted_coalesced),
		cmocka_unit_test(test_loss_user_mode_posted_and_not_pv_eoi_on_and_off),
	};
	return virq_test_run_group("vmm_scenarios", tests, sizeof(tests) / sizeof(tests[0]));
}
