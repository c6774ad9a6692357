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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct virq_scenario *load(const char *path)
{
	char err[160] = "", *buf;
	struct virq_scenario *s;
	FILE *f = fopen(path, "rb");
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	s = virq_scenario_parse(buf, (size_t)n, err, sizeof(err));
	free(buf);
	if (!s)
		fail_msg("%s: %s", path, err);
	return s;
}

static void test_default_scenario_delivers_on_every_path_kernel(void **state)
{
	struct virq_scenario *s;
	struct virq_scn_result *res;
	int ret;

	VIRQ_REQUIRE_KVM();
	s = load("daemon/vmm/scenarios/default.json");
	res = calloc(1, sizeof(*res));
	assert_non_null(res);
	ret = virq_scenario_run(NULL, s, VIRQ_IRQCHIP_KERNEL, res);
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
	assert_true(res->exits_total > 0);
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
	s = load("daemon/vmm/scenarios/default.json");
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

#define LOSS_TOTAL 1000000u

static void loss_run(enum virq_irqchip_mode mode, bool posted, bool pv_eoi)
{
	struct virq_vm_config cfg;
	struct virq_vm *vm;
	struct virq_guest_vec g;
	struct virq_vmm_vec vv;
	char err[160];
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
	for (uint32_t i = 0; i < LOSS_TOTAL; i++) {
		uint32_t cpu = i & 1;
		int r = virq_vm_inject_msi(vm, VIRQ_LAPIC_GPA | (cpu << 12), 0x60 + cpu);

		assert_true(r >= 0);
	}
	/* Settle: wait until the guest ledgers stop moving. */
	for (int i = 0; i < 600; i++) {
		uint64_t sum = 0;

		for (uint32_t c = 0; c < 2; c++) {
			assert_int_equal(virq_vm_ledger(vm, c, (uint8_t)(0x60 + c), &g), 0);
			sum += g.count;
		}
		if (sum == prev)
			break;
		prev = sum;
		usleep(100000);
	}
	for (uint32_t c = 0; c < 2; c++) {
		assert_int_equal(virq_vm_ledger(vm, c, (uint8_t)(0x60 + c), &g), 0);
		assert_int_equal(virq_vm_vmm_vec(vm, c, (uint8_t)(0x60 + c), &vv), 0);
		handled += g.count;
		coalesced += vv.coalesced;
		injected += vv.injected;
	}
	print_message("# %s posted=%d pv_eoi=%d: injected %llu handled %llu coalesced %llu\n",
		      virq_irqchip_mode_name(mode), posted, pv_eoi, (unsigned long long)injected,
		      (unsigned long long)handled, (unsigned long long)coalesced);
	assert_int_equal(injected, LOSS_TOTAL);
	if (handled + coalesced != injected)
		fail_msg("%llu interrupts neither handled nor counted coalesced",
			 (unsigned long long)(injected - handled - coalesced));
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
	return cmocka_run_group_tests_name("vmm_scenarios", tests, NULL, NULL);
}
