// SPDX-License-Identifier: MIT
/*
 * The `user` irqchip mode, run for real without /dev/kvm: the real VMM (vCPU threads,
 * posting, notifications, PIR sync, injection rules, HLT blocking, INIT/SIPI, exceptions,
 * PV-EOI, EOI broadcast, our PIC/IOAPIC/LAPIC models) drives simulated vCPUs (cpu_sim.c,
 * a C model of the firmware that produces the exits the real guest produces and writes
 * the same guest ledger). Every test also requires that the simulated CPU never saw an
 * injection while IF=0, in a shadow, or with one pending. Plus the PIR -> IRR merge of
 * include/virq/lapic_pir.h on a bare LAPIC.
 */
#include "virq_test.h"
#include "virq/apicbus.h"
#include "virq/ioapic.h"
#include "virq/lapic.h"
#include "virq/lapic_pir.h"
#include "virq/vmm.h"
#include "virq/vmm_guest.h"
#include "../../daemon/vmm/vmm_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MSI_ADDR(dest) (VIRQ_LAPIC_GPA | ((uint64_t)(dest) << 12))
#define WAIT_MS 5000

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- PIR -> IRR on a bare LAPIC ----------------------------------------------------- */

static struct virq_apicbus *bare_bus(void)
{
	struct virq_apicbus_config bc;
	struct virq_apicbus *bus;

	memset(&bc, 0, sizeof(bc));
	bc.nr_cpus = 1;
	bus = virq_apicbus_new(&bc);
	assert_non_null(bus);
	return bus;
}

static void set_bit(uint64_t pir[4], unsigned int v)
{
	pir[v / 64] |= 1ull << (v % 64);
}

static void test_pir_merge_follows_the_acceptance_rules(void **state)
{
	struct virq_apicbus *bus = bare_bus();
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);
	struct virq_lapic_pir_result res;
	uint64_t pir[4] = { 0 };
	uint32_t esr = 0;

	/* Software-disabled at reset (SVR=0xFF): every fixed vector refused. */
	set_bit(pir, 0x40);
	assert_int_equal(virq_lapic_accept_pir(l, pir, &res), 0);
	assert_int_equal(res.rejected, 1);
	assert_int_equal(virq_lapic_stats(l)->rejected_sw_disabled, 1);
	assert_false(virq_lapic_accepts_fixed(l));

	assert_int_equal(virq_lapic_mmio_write(l, VIRQ_APIC_SVR, 0x1ff), 0);
	assert_true(virq_lapic_accepts_fixed(l));
	memset(pir, 0, sizeof(pir));
	set_bit(pir, 5); /* illegal: ESR bit 6 (SDM 11.5.3) */
	set_bit(pir, 0x40);
	set_bit(pir, 0xc1);
	assert_int_equal(virq_lapic_accept_pir(l, pir, &res), 2);
	assert_int_equal(res.accepted, 2);
	assert_int_equal(res.rejected, 1);
	assert_true(res.rejected_map[0] & (1ull << 5));
	assert_int_equal(virq_lapic_stats(l)->recv_illegal_vector, 1);
	assert_int_equal(virq_lapic_mmio_write(l, VIRQ_APIC_ESR, 0), 0);
	assert_int_equal(virq_lapic_mmio_read(l, VIRQ_APIC_ESR, &esr), 0);
	assert_true(esr & VIRQ_ESR_RECV_ILLEGAL_VECTOR);
	assert_int_equal(virq_lapic_stats(l)->accepted[0x40], 1);
	assert_int_equal(virq_lapic_stats(l)->accepted[0xc1], 1);

	/* Already in IRR: coalesced and reported per vector. */
	memset(pir, 0, sizeof(pir));
	set_bit(pir, 0x40);
	set_bit(pir, 0x41);
	assert_int_equal(virq_lapic_accept_pir(l, pir, &res), 1);
	assert_int_equal(res.coalesced, 1);
	assert_true(res.coalesced_map[1] & 1ull);
	assert_int_equal(virq_lapic_stats(l)->coalesced[0x40], 1);

	/* The highest goes first and TMR stays clear: an edge vector. */
	assert_int_equal(virq_lapic_pending(l), 0xc1);
	assert_int_equal(virq_lapic_ack(l), 0xc1);
	/* PV EOI: not while 0x40/0x41 wait in IRR. */
	assert_false(virq_lapic_pv_eoi_ok(l, 0xc1));
	virq_lapic_eoi(l);
	assert_int_equal(virq_lapic_ack(l), 0x41);
	assert_false(virq_lapic_pv_eoi_ok(l, 0x41));
	/* 0x40 is in 0x41's priority class: blocked by PPR (SDM 11.8.3), spurious INTA. */
	assert_int_equal(virq_lapic_ack(l), 0xff);
	virq_lapic_eoi(l);
	assert_int_equal(virq_lapic_ack(l), 0x40);
	assert_true(virq_lapic_pv_eoi_ok(l, 0x40)); /* alone in ISR, IRR empty, edge */
	memset(pir, 0, sizeof(pir));
	set_bit(pir, 0x90);
	assert_int_equal(virq_lapic_accept_pir(l, pir, NULL), 1);
	assert_int_equal(virq_lapic_ack(l), 0x90);
	assert_false(virq_lapic_pv_eoi_ok(l, 0x90)); /* 0x40 still in service under it */
	assert_int_equal(virq_lapic_accept_pir(NULL, pir, NULL), -EINVAL);
	assert_int_equal(virq_lapic_accept_pir(l, NULL, NULL), -EINVAL);
	virq_apicbus_free(bus);
}

/* --- simulated VMs ------------------------------------------------------------------ */

struct simcfg {
	uint32_t vcpus;
	enum virq_idle_style idle;
	bool posted, pv_eoi, x2apic;
};

static struct virq_vm *sim_boot(struct simcfg sc)
{
	struct virq_vm_config cfg;
	struct virq_vm *vm;
	char err[160] = "", why[VIRQ_VM_REASON_MAX] = "";
	int ret;

	virq_vm_config_init(&cfg);
	cfg.irqchip = VIRQ_IRQCHIP_USER;
	cfg.nr_vcpus = sc.vcpus;
	cfg.idle = sc.idle;
	cfg.posted = sc.posted;
	cfg.pv_eoi = sc.pv_eoi;
	cfg.x2apic = sc.x2apic;
	vm = virq_vm_create_sim(&cfg, err, sizeof(err));
	if (!vm)
		fail_msg("virq_vm_create_sim: %s", err);
	assert_int_equal(virq_vm_start(vm), 0);
	ret = virq_vm_wait_ready(vm, WAIT_MS);
	if (ret) {
		virq_vm_state(vm, why, sizeof(why));
		fail_msg("simulated guest not ready: %s (%s)", strerror(-ret), why);
	}
	return vm;
}

static struct simcfg dflt(void)
{
	return (struct simcfg){ 2, VIRQ_IDLE_HLT, true, true, false };
}

static uint64_t count(struct virq_vm *vm, uint32_t vcpu, uint8_t vector)
{
	struct virq_guest_vec v;

	assert_int_equal(virq_vm_ledger(vm, vcpu, vector, &v), 0);
	return v.count;
}

static void wait_count(struct virq_vm *vm, uint32_t vcpu, uint8_t vector, uint64_t want)
{
	uint64_t deadline = mono_ns() + WAIT_MS * 1000000ull;

	while (count(vm, vcpu, vector) < want && mono_ns() < deadline)
		usleep(50);
	assert_int_equal(count(vm, vcpu, vector), want);
}

static struct virq_vcpu_user_stats ustats(struct virq_vm *vm, uint32_t vcpu)
{
	struct virq_vcpu_user_stats u;

	assert_int_equal(virq_vm_user_stats(vm, vcpu, &u), 0);
	return u;
}

/* Every simulated vCPU: no injection with IF=0, in a shadow or over a pending one. */
static void no_violations(struct virq_vm *vm)
{
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		struct virq_sim_stats st;

		assert_int_equal(virq_sim_stats(vm, i, &st), 0);
		if (st.violations)
			fail_msg("vCPU %u: %llu violations, first: %s", i,
				 (unsigned long long)st.violations, st.violation);
	}
	assert_int_equal(virq_vm_state(vm, NULL, 0), VIRQ_VM_RUNNING);
}

static uint64_t lh(struct virq_vm *vm, uint32_t vcpu, unsigned int off)
{
	return __atomic_load_n((uint64_t *)(void *)(vm->mem + virq_guest_ledger_gpa(vcpu) + off),
			       __ATOMIC_ACQUIRE);
}

/* Waits until vCPU `vcpu` sleeps in its halt (blocked) `n` times in total. */
static void wait_blocked(struct virq_vm *vm, uint32_t vcpu, uint64_t n)
{
	uint64_t deadline = mono_ns() + WAIT_MS * 1000000ull;

	while (mono_ns() < deadline) {
		if (ustats(vm, vcpu).halt_waits >= n &&
		    atomic_load(&vm->vcpus[vcpu].pstate) == VIRQ_PS_BLOCKED)
			return;
		usleep(50);
	}
	fail_msg("vCPU %u never blocked in HLT", vcpu);
}

static void test_sim_boots_every_vcpu_through_the_vmm_init_sipi(void **state)
{
	struct virq_vm *vm = sim_boot((struct simcfg){ 4, VIRQ_IDLE_HLT, true, true, false });
	struct virq_guest_ledger *l = malloc(sizeof(*l));

	assert_non_null(l);
	for (uint32_t c = 0; c < 4; c++) {
		struct virq_sim_stats st;

		assert_int_equal(virq_vm_guest_ledger(vm, c, l), 0);
		assert_int_equal(l->apic_id, c); /* read from our LAPIC model by the "firmware" */
		assert_int_equal(virq_sim_stats(vm, c, &st), 0);
		if (c) {
			/* The AP ran only after the VMM's SIPI, at the trampoline page. */
			assert_int_equal(st.sipi_gpa, VIRQ_GPA_TRAMPOLINE);
			assert_true(ustats(vm, c).inits >= 1);
			assert_true(ustats(vm, c).sipis >= 1);
		}
		assert_int_equal(virq_vm_guest_cmd(vm, c, VIRQ_MBOX_NOP, 0, 0, NULL, WAIT_MS), 0);
	}
	no_violations(vm);
	free(l);
	virq_vm_destroy(vm);
}

/* The three notification kinds, each for one MSI from this (non-vCPU) thread, each
 * reaching vCPU 1's ledger exactly once and nothing else. */
static void test_msi_posted_runnable_is_synced_without_notification(void **state)
{
	struct virq_vm *vm = sim_boot(dflt());
	struct virq_vcpu_user_stats u0 = ustats(vm, 1), u;
	struct virq_vmm_ledger led;

	assert_int_equal(virq_vm_pause(vm), 0);
	assert_int_equal(virq_vm_inject_msi(vm, MSI_ADDR(1), 0x61), 1);
	u = ustats(vm, 1);
	assert_int_equal(u.posted - u0.posted, 1);
	assert_int_equal(u.notify[VIRQ_PI_NOTIFY_NONE] - u0.notify[VIRQ_PI_NOTIFY_NONE], 1);
	assert_int_equal(u.notify[VIRQ_PI_NOTIFY_KICK], u0.notify[VIRQ_PI_NOTIFY_KICK]);
	assert_int_equal(u.notify[VIRQ_PI_NOTIFY_WAKE], u0.notify[VIRQ_PI_NOTIFY_WAKE]);
	assert_int_equal(count(vm, 1, 0x61), 0); /* parked: nothing merged yet */
	assert_int_equal(virq_vm_resume(vm), 0);
	wait_count(vm, 1, 0x61, 1);
	usleep(2000);
	assert_int_equal(count(vm, 1, 0x61), 1);
	assert_int_equal(count(vm, 0, 0x61), 0);
	u = ustats(vm, 1);
	assert_true(u.pir_merged - u0.pir_merged >= 1);
	assert_int_equal(virq_vm_vmm_ledger(vm, &led), 0);
	assert_true(led.posted[VIRQ_PI_NOTIFY_NONE] >= 1);
	no_violations(vm);
	virq_vm_destroy(vm);
}

static void test_msi_posted_to_a_halted_vcpu_wakes_it(void **state)
{
	struct virq_vm *vm = sim_boot(dflt());
	struct virq_vcpu_user_stats u0, u;

	wait_blocked(vm, 1, 1);
	u0 = ustats(vm, 1);
	assert_int_equal(virq_vm_inject_msi(vm, MSI_ADDR(1), 0x62), 1);
	wait_count(vm, 1, 0x62, 1);
	u = ustats(vm, 1);
	assert_int_equal(u.notify[VIRQ_PI_NOTIFY_WAKE] - u0.notify[VIRQ_PI_NOTIFY_WAKE], 1);
	assert_int_equal(u.notify[VIRQ_PI_NOTIFY_KICK], u0.notify[VIRQ_PI_NOTIFY_KICK]);
	assert_int_equal(u.injections - u0.injections, 1);
	usleep(2000);
	assert_int_equal(count(vm, 1, 0x62), 1);
	assert_int_equal(count(vm, 0, 0x62), 0);
	no_violations(vm);
	virq_vm_destroy(vm);
}

static void test_msi_posted_to_a_running_vcpu_kicks_it(void **state)
{
	struct virq_vm *vm = sim_boot((struct simcfg){ 2, VIRQ_IDLE_CPL3_SPIN, true, true, false });
	struct virq_vcpu_user_stats u0, u;
	uint64_t deadline = mono_ns() + WAIT_MS * 1000000ull;

	/* CPL3 spin: the vCPU stays inside KVM_RUN (the simulated spin) until kicked. */
	while (atomic_load(&vm->vcpus[1].pstate) != VIRQ_PS_RUNNING && mono_ns() < deadline)
		usleep(50);
	usleep(1000);
	u0 = ustats(vm, 1);
	assert_int_equal(virq_vm_inject_msi(vm, MSI_ADDR(1), 0x63), 1);
	wait_count(vm, 1, 0x63, 1);
	u = ustats(vm, 1);
	assert_int_equal(u.notify[VIRQ_PI_NOTIFY_KICK] - u0.notify[VIRQ_PI_NOTIFY_KICK], 1);
	assert_int_equal(u.notify[VIRQ_PI_NOTIFY_WAKE], u0.notify[VIRQ_PI_NOTIFY_WAKE]);
	usleep(2000);
	assert_int_equal(count(vm, 1, 0x63), 1);
	assert_int_equal(count(vm, 0, 0x63), 0);
	no_violations(vm);
	virq_vm_destroy(vm);
}

static void test_same_vector_posted_twice_before_sync_is_counted_coalesced(void **state)
{
	struct virq_vm *vm = sim_boot(dflt());
	struct virq_vcpu_user_stats u0 = ustats(vm, 1), u;
	struct virq_vmm_vec vv;

	uint64_t irr[4], isr[4];

	assert_int_equal(virq_vm_pause(vm), 0);
	assert_int_equal(virq_vm_inject_msi(vm, MSI_ADDR(1), 0x64), 1);
	assert_int_equal(virq_vm_inject_msi(vm, MSI_ADDR(1), 0x64), 0); /* coalesced in PIR */
	/* paused: the vCPU holds it (PIR), what a cross-check of the paused VM finds pending */
	assert_int_equal(virq_vm_held_vectors(vm, 1, irr, isr), 0);
	assert_true(irr[1] & (1ull << (0x64 - 64)));
	assert_int_equal(virq_vm_held_vectors(vm, 0, irr, isr), 0);
	assert_false(irr[1] & (1ull << (0x64 - 64)));
	assert_int_equal(virq_vm_held_vectors(vm, 9, irr, isr), -EINVAL);
	assert_int_equal(virq_vm_resume(vm), 0);
	wait_count(vm, 1, 0x64, 1);
	usleep(2000);
	assert_int_equal(virq_vm_held_vectors(vm, 1, irr, isr), 0);
	assert_false(irr[1] & (1ull << (0x64 - 64))); /* taken */
	u = ustats(vm, 1);
	assert_int_equal(u.posted - u0.posted, 2);
	assert_int_equal(u.post_coalesced - u0.post_coalesced, 1);
	assert_int_equal(virq_vm_vmm_vec(vm, 1, 0x64, &vv), 0);
	assert_int_equal(vv.injected, 2);
	assert_int_equal(vv.coalesced, 1);
	assert_int_equal(count(vm, 1, 0x64), vv.injected - vv.coalesced);
	no_violations(vm);
	virq_vm_destroy(vm);
}

/* Interrupts by source (virq_vm_lapic_stats): MSIs counted at acceptance plus the PIR
 * merges (nothing vanishes: injected == fixed_by_path[MSI] + post_coalesced), the boot's
 * INIT and SIPI on the AP, the timer by its LVT. */
static void test_lapic_counts_interrupts_by_source(void **state)
{
	struct virq_vm *vm = sim_boot(dflt());
	struct virq_vcpu_user_stats u0 = ustats(vm, 1), u;
	struct virq_lapic_stats a, b;

	assert_int_equal(virq_vm_lapic_stats(vm, 1, &a), 0);
	assert_true(a.init >= 1 && a.sipi >= 1);
	assert_int_equal(virq_vm_pause(vm), 0);
	assert_int_equal(virq_vm_inject_msi(vm, MSI_ADDR(1), 0x64), 1);
	assert_int_equal(virq_vm_inject_msi(vm, MSI_ADDR(1), 0x64), 0); /* coalesced in PIR */
	assert_int_equal(virq_vm_resume(vm), 0);
	wait_count(vm, 1, 0x64, 1);
	assert_int_equal(virq_vm_inject_msi(vm, MSI_ADDR(1), 0x65), 1);
	wait_count(vm, 1, 0x65, 1);
	assert_int_equal(virq_vm_lapic_stats(vm, 1, &b), 0);
	u = ustats(vm, 1);
	assert_int_equal(b.fixed_by_path[VIRQ_PATH_MSI] - a.fixed_by_path[VIRQ_PATH_MSI] +
				 u.post_coalesced - u0.post_coalesced,
			 3);
	assert_int_equal(b.fixed_by_path[VIRQ_PATH_TIMER], 0);
	assert_int_equal(
		virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_APIC_WRITE, VIRQ_APIC_TDCR, 0xb, NULL, WAIT_MS),
		0);
	assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_APIC_WRITE, VIRQ_APIC_LVT_TIMER, 0x80,
					   NULL, WAIT_MS),
			 0);
	assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_APIC_WRITE, VIRQ_APIC_TMICT, 1000000,
					   NULL, WAIT_MS),
			 0);
	wait_count(vm, 0, 0x80, 1);
	assert_int_equal(virq_vm_lapic_stats(vm, 0, &b), 0);
	assert_int_equal(b.fixed_by_path[VIRQ_PATH_TIMER], 1);
	assert_int_equal(virq_vm_lapic_stats(vm, 2, &b), -EINVAL);
	assert_int_equal(virq_vm_split_pins(vm, (uint32_t[256]){ 0 }), -EOPNOTSUPP);
	no_violations(vm);
	virq_vm_destroy(vm);
}

/* The same MSI sequence, posted and posted=off, leaves the same guest ledger. */
static void run_sequence(bool posted, uint64_t out[2][256], uint64_t *locked)
{
	struct virq_vm *vm = sim_boot((struct simcfg){ 2, VIRQ_IDLE_HLT, posted, true, false });

	*locked = 0;
	for (int i = 0; i < 60; i++) {
		uint32_t cpu = (uint32_t)i % 2;
		uint8_t v = (uint8_t)(0x40 + (i * 7) % 0x90);
		uint64_t before = count(vm, cpu, v);

		assert_true(virq_vm_inject_msi(vm, MSI_ADDR(cpu), v) > 0);
		wait_count(vm, cpu, v, before + 1);
	}
	for (uint32_t c = 0; c < 2; c++) {
		for (int v = 0x20; v < 0xe0; v++)
			out[c][v] = count(vm, c, (uint8_t)v);
		*locked += ustats(vm, c).locked;
	}
	no_violations(vm);
	virq_vm_destroy(vm);
}

static void test_posted_off_gives_the_same_ledger(void **state)
{
	static uint64_t on[2][256], off[2][256];
	uint64_t locked_on, locked_off;

	run_sequence(true, on, &locked_on);
	run_sequence(false, off, &locked_off);
	assert_memory_equal(on, off, sizeof(on));
	assert_int_equal(locked_on, 0); /* every MSI of the sequence was postable */
	assert_int_equal(locked_off, 60); /* lock + direct IRR, every one */
}

/* Two vectors merged at once: the first handler runs with IF=0, its EOI exit finds the
 * second deliverable but IF=0, so the VMM asks for a window and injects at the iret. */
static void test_interrupt_window_path_when_if_is_clear(void **state)
{
	struct virq_vm *vm = sim_boot((struct simcfg){ 2, VIRQ_IDLE_HLT, true, false, false });
	struct virq_vcpu_user_stats u0 = ustats(vm, 1), u;
	struct virq_sim_stats st;
	struct virq_guest_vec a, b;

	assert_int_equal(virq_vm_pause(vm), 0);
	assert_int_equal(virq_vm_inject_msi(vm, MSI_ADDR(1), 0x50), 1);
	assert_int_equal(virq_vm_inject_msi(vm, MSI_ADDR(1), 0x90), 1);
	assert_int_equal(virq_vm_resume(vm), 0);
	wait_count(vm, 1, 0x50, 1);
	wait_count(vm, 1, 0x90, 1);
	u = ustats(vm, 1);
	assert_true(u.if_blocked - u0.if_blocked >= 1);
	assert_true(u.window_exits - u0.window_exits >= 1);
	assert_int_equal(virq_sim_stats(vm, 1, &st), 0);
	assert_true(st.window_exits >= 1);
	/* Priority order (SDM 11.8.3): 0x90 first. */
	assert_int_equal(virq_vm_ledger(vm, 1, 0x50, &a), 0);
	assert_int_equal(virq_vm_ledger(vm, 1, 0x90, &b), 0);
	assert_true(b.first_seq < a.first_seq);
	no_violations(vm);
	virq_vm_destroy(vm);
}

static void test_nmi_goes_through_kvm_nmi(void **state)
{
	struct virq_vm *vm = sim_boot(dflt());

	assert_true(virq_vm_inject_nmi(vm, 1) > 0);
	wait_count(vm, 1, 2, 1);
	assert_true(virq_vm_inject_nmi(vm, 1) > 0);
	wait_count(vm, 1, 2, 2);
	assert_int_equal(ustats(vm, 1).nmi_injections, 2);
	assert_int_equal(count(vm, 0, 2), 0);
	assert_int_equal(lh(vm, 1, VIRQ_LH_EOI_WRITTEN), 0); /* no EOI for NMIs */
	no_violations(vm);
	virq_vm_destroy(vm);
}

static bool sim_lapic_enabled(struct virq_vm *vm, uint32_t vcpu)
{
	bool on;

	pthread_mutex_lock(&vm->irq_lock);
	on = virq_lapic_accepts_fixed(vm->vcpus[vcpu].lapic);
	pthread_mutex_unlock(&vm->irq_lock);
	return on && ustats(vm, vcpu).sipis >= 2;
}

/* INIT + SIPI from the BSP's ICR: the VMM's state machine re-starts the AP at the SIPI
 * page; a SIPI outside wait-for-SIPI is ignored (SDM 8.4.4.1). */
static void test_init_sipi_restarts_an_ap_through_the_vmm(void **state)
{
	struct virq_vm *vm = sim_boot(dflt());
	struct virq_vcpu_user_stats u0 = ustats(vm, 1), u;
	struct virq_sim_stats st;
	uint64_t mbox0 = lh(vm, 1, VIRQ_LH_MBOX_DONE);

	/* Physical destination 1: INIT (101b), then STARTUP (110b) vector 0x0f. */
	assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_ICR_WRITE, (1ull << 56) | 0x4500, 0,
					   NULL, WAIT_MS),
			 0);
	assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_ICR_WRITE,
					   (1ull << 56) | 0x4600 | VIRQ_SIPI_VECTOR, 0, NULL,
					   WAIT_MS),
			 0);
	/* INIT left the AP's LAPIC software-disabled (SVR=0xFF, SDM 11.4.7.3): MSIs to it
	 * are dropped until its firmware re-enables it, as on real hardware. */
	for (int i = 0; i < 50000 && !sim_lapic_enabled(vm, 1); i++)
		usleep(100);
	assert_true(sim_lapic_enabled(vm, 1));
	assert_int_equal(virq_vm_guest_cmd(vm, 1, VIRQ_MBOX_NOP, 0, 0, NULL, WAIT_MS), 0);
	u = ustats(vm, 1);
	assert_int_equal(u.inits - u0.inits, 1);
	assert_int_equal(u.sipis - u0.sipis, 1);
	assert_int_equal(virq_sim_stats(vm, 1, &st), 0);
	assert_int_equal(st.sipi_gpa, VIRQ_SIPI_VECTOR << 12);
	assert_int_equal(lh(vm, 1, VIRQ_LH_MBOX_DONE), mbox0 + 1);
	/* A second SIPI while running: ignored by the LAPIC, not taken by the VMM. */
	assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_ICR_WRITE,
					   (1ull << 56) | 0x4600 | VIRQ_SIPI_VECTOR, 0, NULL,
					   WAIT_MS),
			 0);
	assert_int_equal(virq_vm_guest_cmd(vm, 1, VIRQ_MBOX_NOP, 0, 0, NULL, WAIT_MS), 0);
	assert_int_equal(ustats(vm, 1).sipis - u0.sipis, 1);
	pthread_mutex_lock(&vm->irq_lock);
	assert_true(virq_lapic_stats(vm->vcpus[1].lapic)->sipi_ignored >= 1);
	pthread_mutex_unlock(&vm->irq_lock);
	no_violations(vm);
	virq_vm_destroy(vm);
}

/* #GP from the LAPIC model, injected: an x2APIC write to the read-only version MSR, and
 * an illegal APIC_BASE transition x2APIC -> xAPIC (SDM 11.12.5). The firmware records the
 * exception and parks, so the mailbox command never completes. */
static void test_gp_injected_on_illegal_x2apic_accesses(void **state)
{
	struct virq_vm *vm = sim_boot(dflt());
	uint64_t base = 0;

	for (uint32_t c = 0; c < 2; c++)
		assert_int_equal(virq_vm_guest_cmd(vm, c, VIRQ_MBOX_X2APIC_ON, 0, 0, NULL, WAIT_MS),
				 0);
	assert_int_equal(
		virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_RDMSR, VIRQ_MSR_APIC_BASE, 0, &base, WAIT_MS),
		0);
	assert_true(base & VIRQ_APIC_BASE_EXTD);
	assert_int_equal(virq_vm_guest_cmd(vm, 1, VIRQ_MBOX_WRMSR, VIRQ_X2APIC_MSR(VIRQ_APIC_VER),
					   0, NULL, 300),
			 -ETIMEDOUT);
	assert_int_equal(lh(vm, 1, VIRQ_LH_EXC_VEC), 13 + 1);
	assert_int_equal(count(vm, 1, 13), 1);
	assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_WRMSR, VIRQ_MSR_APIC_BASE,
					   base & ~VIRQ_APIC_BASE_EXTD, NULL, 300),
			 -ETIMEDOUT);
	assert_int_equal(lh(vm, 0, VIRQ_LH_EXC_VEC), 13 + 1);
	assert_int_equal(ustats(vm, 0).exceptions, 1);
	assert_int_equal(ustats(vm, 1).exceptions, 1);
	pthread_mutex_lock(&vm->irq_lock);
	assert_int_equal(virq_lapic_stats(vm->vcpus[1].lapic)->gp_faults, 1);
	assert_true(virq_lapic_apic_base(vm->vcpus[0].lapic) & VIRQ_APIC_BASE_EXTD);
	pthread_mutex_unlock(&vm->irq_lock);
	no_violations(vm);
	virq_vm_destroy(vm);
}

static void pv_eoi_run(bool pv, uint64_t *eoi_exits, uint64_t *skipped, uint64_t *taken)
{
	struct virq_vm *vm = sim_boot((struct simcfg){ 2, VIRQ_IDLE_HLT, true, pv, false });
	struct virq_sim_stats s0, s1;
	uint64_t sk0 = lh(vm, 1, VIRQ_LH_EOI_SKIPPED), t0 = ustats(vm, 1).pv_eoi_taken;

	assert_int_equal(virq_sim_stats(vm, 1, &s0), 0);
	for (int i = 0; i < 50; i++) {
		assert_true(virq_vm_inject_msi(vm, MSI_ADDR(1), 0x70) > 0);
		wait_count(vm, 1, 0x70, (uint64_t)i + 1);
	}
	wait_blocked(vm, 1, 1);
	assert_int_equal(virq_sim_stats(vm, 1, &s1), 0);
	*eoi_exits = s1.eoi_mmio - s0.eoi_mmio;
	*skipped = lh(vm, 1, VIRQ_LH_EOI_SKIPPED) - sk0;
	*taken = ustats(vm, 1).pv_eoi_taken - t0;
	/* Either way the LAPIC saw 50 EOIs and nothing stays in service. */
	pthread_mutex_lock(&vm->irq_lock);
	assert_int_equal(virq_lapic_stats(vm->vcpus[1].lapic)->eoi[0x70], 50);
	pthread_mutex_unlock(&vm->irq_lock);
	no_violations(vm);
	virq_vm_destroy(vm);
}

static void test_pv_eoi_on_needs_no_eoi_exit_off_needs_one_each(void **state)
{
	uint64_t exits, skipped, taken;

	pv_eoi_run(true, &exits, &skipped, &taken);
	print_message("# pv_eoi on: %llu EOI exits, %llu skipped, %llu taken by the VMM\n",
		      (unsigned long long)exits, (unsigned long long)skipped,
		      (unsigned long long)taken);
	assert_int_equal(exits, 0);
	assert_int_equal(skipped, 50);
	assert_int_equal(taken, 50);
	pv_eoi_run(false, &exits, &skipped, &taken);
	print_message("# pv_eoi off: %llu EOI exits, %llu skipped\n", (unsigned long long)exits,
		      (unsigned long long)skipped);
	assert_int_equal(exits, 50);
	assert_int_equal(skipped, 0);
	assert_int_equal(taken, 0);
}

static uint64_t rte(struct virq_vm *vm, unsigned int pin)
{
	uint64_t r;

	pthread_mutex_lock(&vm->irq_lock);
	r = virq_ioapic_read_rte(&vm->ioapic, pin);
	pthread_mutex_unlock(&vm->irq_lock);
	return r;
}

/* Level-triggered IOAPIC vector: remote IRR holds until the guest's EOI, which our LAPIC
 * broadcasts to our IOAPIC (SDM 11.8.5; 82093AA remote IRR). Never PV-EOId. */
static void test_level_vector_eoi_reaches_our_ioapic(void **state)
{
	struct virq_vm *vm = sim_boot(dflt());
	uint64_t bc0;

	pthread_mutex_lock(&vm->irq_lock);
	bc0 = virq_lapic_stats(vm->vcpus[0].lapic)->eoi_broadcast;
	pthread_mutex_unlock(&vm->irq_lock);
	assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_IOAPIC_WRITE, 0x10 + 2 * 10 + 1, 0,
					   NULL, WAIT_MS),
			 0);
	assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_IOAPIC_WRITE, 0x10 + 2 * 10,
					   0x58 | VIRQ_RTE_TRIGGER_LEVEL, NULL, WAIT_MS),
			 0);
	assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_EOI_HOLD, 1, 0, NULL, WAIT_MS), 0);
	assert_true(virq_vm_inject_gsi(vm, 10, VIRQ_GSI_PULSE) > 0);
	wait_count(vm, 0, 0x58, 1);
	assert_true(rte(vm, 10) & VIRQ_RTE_REMOTE_IRR); /* EOI held */
	assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_EOI_HOLD, 0, 0, NULL, WAIT_MS), 0);
	assert_false(rte(vm, 10) & VIRQ_RTE_REMOTE_IRR);
	pthread_mutex_lock(&vm->irq_lock);
	assert_int_equal(virq_lapic_stats(vm->vcpus[0].lapic)->eoi_broadcast - bc0, 1);
	pthread_mutex_unlock(&vm->irq_lock);
	/* And again without the hold: one delivery, remote IRR clear afterwards. */
	assert_true(virq_vm_inject_gsi(vm, 10, VIRQ_GSI_PULSE) > 0);
	wait_count(vm, 0, 0x58, 2);
	for (int i = 0; i < 1000 && (rte(vm, 10) & VIRQ_RTE_REMOTE_IRR); i++)
		usleep(100);
	assert_false(rte(vm, 10) & VIRQ_RTE_REMOTE_IRR);
	assert_int_equal(count(vm, 1, 0x58), 0);
	no_violations(vm);
	virq_vm_destroy(vm);
}

/* ExtINT: our 8259A behind LINT0 of the BSP; the firmware EOIs the PIC, not the LAPIC. */
static void test_pic_extint_through_lint0(void **state)
{
	struct virq_vm *vm = sim_boot(dflt());
	uint64_t w0;
	uint64_t hw = ustats(vm, 0).halt_waits;

	assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_PIC_INIT, 0x30, 0xfff7, NULL, WAIT_MS),
			 0);
	/* The command completes before the mailbox handler's own EOI: wait for the idle
	 * loop's next halt before taking the reference. */
	wait_blocked(vm, 0, hw + 1);
	w0 = lh(vm, 0, VIRQ_LH_EOI_WRITTEN);
	for (int i = 0; i < 5; i++) {
		assert_true(virq_vm_inject_gsi(vm, 3, VIRQ_GSI_PULSE) > 0);
		wait_count(vm, 0, 0x33, (uint64_t)i + 1);
	}
	assert_int_equal(ustats(vm, 0).extint_injections, 5);
	assert_int_equal(count(vm, 1, 0x33), 0);
	assert_int_equal(lh(vm, 0, VIRQ_LH_EOI_WRITTEN), w0); /* PIC EOIs only */
	no_violations(vm);
	virq_vm_destroy(vm);
}

/* The LAPIC timer (virq_lapic_tick on CLOCK_MONOTONIC) wakes a halted vCPU at its
 * deadline and kicks a spinning one. */
static void test_lapic_timer_fires_in_hlt_and_in_spin(void **state)
{
	for (int idle = 0; idle < VIRQ_IDLE__COUNT; idle++) {
		struct virq_vm *vm = sim_boot(
			(struct simcfg){ 1, (enum virq_idle_style)idle, true, true, false });

		assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_APIC_WRITE, VIRQ_APIC_TDCR, 0xb,
						   NULL, WAIT_MS),
				 0);
		assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_APIC_WRITE, VIRQ_APIC_LVT_TIMER,
						   0x80, NULL, WAIT_MS),
				 0);
		assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_APIC_WRITE, VIRQ_APIC_TMICT,
						   2000000 /* 2 ms at 1 GHz */, NULL, WAIT_MS),
				 0);
		wait_count(vm, 0, 0x80, 1);
		if (idle == VIRQ_IDLE_HLT)
			assert_true(ustats(vm, 0).halt_timer_wakes >= 1);
		no_violations(vm);
		virq_vm_destroy(vm);
	}
}

/* --- loss ----------------------------------------------------------------------------- */

#define LOSS_TOTAL 1000000u
#define LOSS_THREADS 2

struct poster {
	struct virq_vm *vm;
	unsigned int idx;
	uint64_t sent, failed;
};

static void *poster_thread(void *arg)
{
	struct poster *p = arg;

	for (uint32_t i = p->idx; i < LOSS_TOTAL; i += LOSS_THREADS) {
		uint32_t cpu = i & 1;

		if (virq_vm_inject_msi(p->vm, MSI_ADDR(cpu), 0x60 + cpu) < 0)
			p->failed++;
		else
			p->sent++;
	}
	return NULL;
}

static void settle(struct virq_vm *vm)
{
	uint64_t prev = ~0ull;

	for (int i = 0; i < 200; i++) {
		uint64_t sum = lh(vm, 0, VIRQ_LH_SEQ) + lh(vm, 1, VIRQ_LH_SEQ);

		if (sum == prev)
			return;
		prev = sum;
		usleep(20000);
	}
}

static void loss_run(bool posted, enum virq_idle_style idle)
{
	struct virq_vm *vm = sim_boot((struct simcfg){ 2, idle, posted, true, false });
	struct poster p[LOSS_THREADS];
	pthread_t t[LOSS_THREADS];
	uint64_t handled = 0, coalesced = 0, injected = 0, t0 = mono_ns();

	for (unsigned int i = 0; i < LOSS_THREADS; i++) {
		p[i] = (struct poster){ vm, i, 0, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, poster_thread, &p[i]), 0);
	}
	for (unsigned int i = 0; i < LOSS_THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(p[i].failed, 0);
	}
	settle(vm);
	for (uint32_t c = 0; c < 2; c++) {
		struct virq_vmm_vec vv;

		assert_int_equal(virq_vm_vmm_vec(vm, c, (uint8_t)(0x60 + c), &vv), 0);
		handled += count(vm, c, (uint8_t)(0x60 + c));
		coalesced += vv.coalesced;
		injected += vv.injected;
	}
	print_message("# %s %s: injected %llu handled %llu coalesced %llu (%.2f s)\n",
		      posted ? "posted" : "posted=off", virq_idle_style_name(idle),
		      (unsigned long long)injected, (unsigned long long)handled,
		      (unsigned long long)coalesced, (double)(mono_ns() - t0) / 1e9);
	assert_int_equal(injected, LOSS_TOTAL);
	if (handled + coalesced != injected)
		fail_msg("%lld interrupts neither handled nor counted coalesced",
			 (long long)(injected - handled - coalesced));
	assert_true(handled > 0);
	no_violations(vm);
	virq_vm_destroy(vm);
}

static void test_loss_every_msi_is_handled_or_counted_coalesced(void **state)
{
	loss_run(true, VIRQ_IDLE_HLT);
	loss_run(true, VIRQ_IDLE_CPL3_SPIN);
	loss_run(false, VIRQ_IDLE_HLT);
}

/* --- the default scenario on simulated vCPUs ----------------------------------------- */

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

/*
 * Finding: with our architecturally exact IOAPIC and LAPIC, a level line pulsed again
 * while the previous interrupt's remote IRR is still set (the guest counted it in its
 * ledger but its EOI write has not exited yet) is coalesced by the IOAPIC (82093AA: one
 * message per remote-IRR cycle; counted as coalesced in the VMM ledger). KVM on our
 * hosts clears remote IRR at injection (PLATFORM.md), so the default scenario's
 * back-to-back level pulses never meet it there. The user-mode runs therefore space
 * repeated pulses by 2 ms, enough for the EOI to land.
 */
static void space_repeated_pulses(struct virq_scenario *s)
{
	for (uint32_t i = 0; i < s->nr_actions; i++)
		if (s->actions[i].kind == VIRQ_ACT_GSI && s->actions[i].repeat > 1 &&
		    s->actions[i].gap_us < 2000)
			s->actions[i].gap_us = 2000;
}

static void test_default_scenario_passes_in_user_mode_posted_and_not(void **state)
{
	struct virq_scenario *s = load("daemon/vmm/scenarios/default.json");

	space_repeated_pulses(s);

	for (int variant = 0; variant < 3; variant++) {
		struct virq_scn_result *res = calloc(1, sizeof(*res));
		struct virq_vm *vm;
		char err[160] = "";
		int ret;

		assert_non_null(res);
		s->config.irqchip = VIRQ_IRQCHIP_USER;
		s->config.posted = variant != 1;
		s->config.pv_eoi = variant != 2;
		vm = virq_vm_create_sim(&s->config, err, sizeof(err));
		if (!vm)
			fail_msg("%s", err);
		assert_int_equal(virq_vm_start(vm), 0);
		assert_int_equal(virq_vm_wait_ready(vm, WAIT_MS), 0);
		ret = virq_scenario_run(vm, s, -1, res);
		for (uint32_t i = 0; i < res->nr_rows; i++)
			if (!res->rows[i].ok)
				print_message(
					"# vcpu %u vector 0x%02x expected %s%llu observed %llu\n",
					res->rows[i].vcpu, res->rows[i].vector,
					res->rows[i].at_least ? ">=" : "",
					(unsigned long long)res->rows[i].expected,
					(unsigned long long)res->rows[i].observed);
		print_message("# user posted=%d pv_eoi=%d: %s %s\n", s->config.posted,
			      s->config.pv_eoi, res->pass ? "pass" : "FAIL", res->failure);
		if (ret)
			fail_msg("could not run: %s (%s)", strerror(-ret), res->failure);
		if (!res->pass)
			fail_msg("%s", res->failure);
		no_violations(vm);
		virq_vm_destroy(vm);
		free(res);
	}
	virq_scenario_free(s);
}

/* The simulated backend is not reachable from the public config. */
/* virq_vm_wait_handled: the count reached AND the handler that made it returned (the
 * firmware's IN_HANDLER flag clear); virq_vm_kvm_stat needs a KVM stats fd. */
static void test_wait_handled_waits_for_the_handler_to_return(void **state)
{
	struct virq_vm *vm = sim_boot(dflt());
	uint64_t *flags = (uint64_t *)(void *)(vm->mem + virq_guest_ledger_gpa(1) + VIRQ_LH_FLAGS);
	uint64_t v = 0;

	assert_true(virq_vm_inject_msi(vm, VIRQ_LAPIC_GPA | (1u << 12), 0x70) > 0);
	assert_int_equal(virq_vm_wait_handled(vm, 1, 0x70, 1, WAIT_MS), 0);
	assert_int_equal(count(vm, 1, 0x70), 1);
	assert_int_equal(virq_vm_wait_handled(vm, 1, 0x70, 2, 20), -ETIMEDOUT);
	/* vCPU 1 idles halted: nothing else touches its flags while we pretend that a
	 * handler is still running. */
	wait_blocked(vm, 1, 1);
	__atomic_fetch_or(flags, VIRQ_LF_IN_HANDLER, __ATOMIC_SEQ_CST);
	assert_int_equal(virq_vm_wait_handled(vm, 1, 0x70, 1, 20), -ETIMEDOUT);
	__atomic_fetch_and(flags, ~VIRQ_LF_IN_HANDLER, __ATOMIC_SEQ_CST);
	assert_int_equal(virq_vm_wait_handled(vm, 1, 0x70, 1, 20), 0);
	assert_int_equal(virq_vm_wait_handled(vm, 2, 0x70, 1, 20), -EINVAL);
	assert_int_equal(virq_vm_kvm_stat(vm, 0, "irq_injections", &v), -EOPNOTSUPP);
	assert_int_equal(virq_vm_kvm_stat(vm, 2, "irq_injections", &v), -EINVAL);
	assert_int_equal(virq_vm_kvm_stat(vm, -2, "irq_injections", &v), -EINVAL);
	no_violations(vm);
	virq_vm_stop(vm);
	assert_int_equal(virq_vm_wait_handled(vm, 1, 0x70, 2, 20), -ESHUTDOWN);
	virq_vm_destroy(vm);
}

static void test_sim_backend_is_user_mode_only(void **state)
{
	struct virq_vm_config cfg;
	char err[160] = "";

	virq_vm_config_init(&cfg);
	assert_null(virq_vm_create_sim(&cfg, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	cfg.irqchip = VIRQ_IRQCHIP_USER;
	cfg.nr_vcpus = 0;
	assert_null(virq_vm_create_sim(&cfg, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pir_merge_follows_the_acceptance_rules),
		cmocka_unit_test(test_sim_backend_is_user_mode_only),
		cmocka_unit_test(test_sim_boots_every_vcpu_through_the_vmm_init_sipi),
		cmocka_unit_test(test_msi_posted_runnable_is_synced_without_notification),
		cmocka_unit_test(test_msi_posted_to_a_halted_vcpu_wakes_it),
		cmocka_unit_test(test_msi_posted_to_a_running_vcpu_kicks_it),
		cmocka_unit_test(test_same_vector_posted_twice_before_sync_is_counted_coalesced),
		cmocka_unit_test(test_lapic_counts_interrupts_by_source),
		cmocka_unit_test(test_posted_off_gives_the_same_ledger),
		cmocka_unit_test(test_interrupt_window_path_when_if_is_clear),
		cmocka_unit_test(test_nmi_goes_through_kvm_nmi),
		cmocka_unit_test(test_init_sipi_restarts_an_ap_through_the_vmm),
		cmocka_unit_test(test_gp_injected_on_illegal_x2apic_accesses),
		cmocka_unit_test(test_pv_eoi_on_needs_no_eoi_exit_off_needs_one_each),
		cmocka_unit_test(test_level_vector_eoi_reaches_our_ioapic),
		cmocka_unit_test(test_pic_extint_through_lint0),
		cmocka_unit_test(test_lapic_timer_fires_in_hlt_and_in_spin),
		cmocka_unit_test(test_loss_every_msi_is_handled_or_counted_coalesced),
		cmocka_unit_test(test_default_scenario_passes_in_user_mode_posted_and_not),
		cmocka_unit_test(test_wait_handled_waits_for_the_handler_to_return),
	};
	return cmocka_run_group_tests_name("vmm_user", tests, NULL, NULL);
}
