// SPDX-License-Identifier: MIT
/*
 * Real VMs on /dev/kvm (kernel irqchip): boot with INIT/SIPI, ledgers, mailbox, pause/
 * resume/stop, KVM stats, guest exit port, triple-fault isolation. Tests that need
 * /dev/kvm skip with the reason (VIRQ_REQUIRE_KVM); the availability tests run anywhere.
 */
#include "virq_test.h"
#include "virq/vmm.h"
#include "virq/vmm_guest.h"
#include "vm_helpers.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MSI_ADDR(dest) (VIRQ_LAPIC_GPA | ((uint64_t)(dest) << 12))
#define READY_MS 10000

static struct virq_vm *boot_mode(uint32_t vcpus, enum virq_idle_style idle, bool x2apic,
				 enum virq_irqchip_mode mode)
{
	struct virq_vm_config cfg;

	virq_vm_config_init(&cfg);
	cfg.nr_vcpus = vcpus;
	cfg.idle = idle;
	cfg.x2apic = x2apic;
	cfg.irqchip = mode;
	return vm_boot_cfg(&cfg, READY_MS);
}

static struct virq_vm *boot(uint32_t vcpus, enum virq_idle_style idle, bool x2apic)
{
	return boot_mode(vcpus, idle, x2apic, VIRQ_IRQCHIP_KERNEL);
}

/* Runs anywhere: the availability probe and VIRQ_REQUIRE_KVM agree. */
static void test_vmm_available_agrees_with_the_device(void **state)
{
	char why[128] = "";
	bool ok = virq_vmm_available(why, sizeof(why));

	if (access("/dev/kvm", F_OK) != 0) {
		assert_false(ok);
		assert_non_null(strstr(why, "/dev/kvm"));
	} else if (ok) {
		assert_string_equal(why, "");
	} else {
		print_message("# /dev/kvm present but unusable: %s\n", why);
		assert_true(strlen(why) > 0);
	}
}

/* Runs anywhere: without KVM creation fails cleanly with errno and a reason. */
static void test_vm_create_fails_cleanly_without_kvm(void **state)
{
	struct virq_vm_config cfg;
	struct virq_vm *vm;
	char err[160] = "";

	virq_vm_config_init(&cfg);
	cfg.nr_vcpus = 0;
	assert_null(virq_vm_create(&cfg, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "nr_vcpus"));
	if (access("/dev/kvm", F_OK) == 0)
		return; /* the KVM tests below cover creation */
	/* Every mode, `user` included, needs /dev/kvm (user-mode vCPUs still run in KVM). */
	for (int m = 0; m < VIRQ_IRQCHIP__COUNT; m++) {
		virq_vm_config_init(&cfg);
		cfg.irqchip = (enum virq_irqchip_mode)m;
		vm = virq_vm_create(&cfg, err, sizeof(err));
		assert_null(vm);
		assert_int_equal(errno, ENOENT);
		assert_non_null(strstr(err, "/dev/kvm"));
	}
	virq_vm_destroy(NULL);
}

static void test_every_vcpu_boots_through_init_sipi(void **state)
{
	VIRQ_REQUIRE_KVM();
	for (int k = 0; k < 2 * VIRQ_IDLE__COUNT; k++) {
		enum virq_irqchip_mode mode =
			k / VIRQ_IDLE__COUNT ? VIRQ_IRQCHIP_SPLIT : VIRQ_IRQCHIP_KERNEL;
		struct virq_vm *vm =
			boot_mode(4, (enum virq_idle_style)(k % VIRQ_IDLE__COUNT), false, mode);
		struct virq_guest_ledger *l = malloc(sizeof(*l));
		pid_t tids[4];

		assert_non_null(l);
		for (uint32_t c = 0; c < 4; c++) {
			assert_int_equal(virq_vm_guest_ledger(vm, c, l), 0);
			/* The firmware read its LAPIC ID: APs came up through the trampoline. */
			assert_int_equal(l->apic_id, c);
			assert_int_equal(l->nested, 0);
		}
		assert_int_equal(virq_vm_threads(vm, tids, 4), 4);
		for (int c = 0; c < 4; c++)
			assert_true(tids[c] > 0);
		assert_int_equal(virq_vm_pid(vm), getpid());
		/* Every vCPU takes a mailbox interrupt and answers. */
		for (uint32_t c = 0; c < 4; c++)
			assert_int_equal(virq_vm_guest_cmd(vm, c, VIRQ_MBOX_NOP, 0, 0, NULL, 2000),
					 0);
		assert_int_equal(virq_vm_state(vm, NULL, 0), VIRQ_VM_RUNNING);
		free(l);
		virq_vm_destroy(vm);
	}
}

static void test_msi_lands_in_the_addressed_vcpu_ledger(void **state)
{
	struct virq_vm *vm;
	struct virq_vmm_vec vv;

	VIRQ_REQUIRE_KVM();
	vm = boot(2, VIRQ_IDLE_CPL3_SPIN, false);
	for (int i = 0; i < 50; i++) {
		assert_true(virq_vm_inject_msi(vm, MSI_ADDR(1), 0x61) >= 0);
		wait_count(vm, 1, 0x61, (uint64_t)i + 1);
	}
	assert_int_equal(count(vm, 0, 0x61), 0);
	assert_int_equal(virq_vm_vmm_vec(vm, 1, 0x61, &vv), 0);
	assert_int_equal(vv.injected, 50);
	assert_int_equal(virq_vm_inject_msi(vm, 0x12345000, 0x61), -EINVAL);
	virq_vm_destroy(vm);
}

static void test_mailbox_reads_apic_registers_in_both_modes(void **state)
{
	VIRQ_REQUIRE_KVM();
	for (int x2 = 0; x2 < 2; x2++) {
		struct virq_vm *vm = boot(2, VIRQ_IDLE_HLT, x2);
		uint64_t v = 0;

		/* LAPIC version register: 0x50014 on the in-kernel LAPIC (PLATFORM.md). */
		assert_int_equal(virq_vm_guest_cmd(vm, 1, VIRQ_MBOX_APIC_READ, 0x30, 0, &v, 2000),
				 0);
		assert_int_equal(v & 0xff, 0x14);
		assert_int_equal(virq_vm_guest_cmd(vm, 1, VIRQ_MBOX_APIC_READ, 0x20, 0, &v, 2000),
				 0);
		/* xAPIC: ID in bits 31:24; x2APIC: the 32-bit ID (SDM 11.12.5.1). */
		assert_int_equal(x2 ? v : v >> 24, 1);
		assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_RDMSR, 0x1b, 0, &v, 2000), 0);
		assert_int_equal(!!(v & 0x400), x2); /* IA32_APIC_BASE.EXTD */
		virq_vm_destroy(vm);
	}
}

static void test_pause_parks_every_vcpu_and_resume_continues(void **state)
{
	struct virq_vm *vm;
	struct virq_vcpu_exits ex;
	uint64_t runs;

	VIRQ_REQUIRE_KVM();
	vm = boot(2, VIRQ_IDLE_HLT, false);
	assert_int_equal(virq_vm_pause(vm), 0);
	assert_int_equal(virq_vm_state(vm, NULL, 0), VIRQ_VM_PAUSED);
	assert_int_equal(virq_vm_exits(vm, 1, &ex), 0);
	runs = ex.runs;
	usleep(20000);
	assert_int_equal(virq_vm_exits(vm, 1, &ex), 0);
	assert_int_equal(ex.runs, runs); /* parked: no KVM_RUN */
	assert_int_equal(virq_vm_resume(vm), 0);
	assert_true(virq_vm_inject_msi(vm, MSI_ADDR(1), 0x40) >= 0);
	wait_count(vm, 1, 0x40, 1);
	assert_int_equal(virq_vm_stop(vm), 0);
	assert_int_equal(virq_vm_stop(vm), 0); /* idempotent */
	assert_int_equal(virq_vm_inject_msi(vm, MSI_ADDR(1), 0x40), -ESHUTDOWN);
	virq_vm_destroy(vm);
}

/* Split mode: the guest programs our IOAPIC through MMIO exits; a GSI pulse becomes an
 * MSI to the RTE's destination; the guest reads the IOAPIC version of our model. */
static void test_split_ioapic_model_delivers_to_the_rte_destination(void **state)
{
	struct virq_vm *vm;
	uint64_t v = 0;

	VIRQ_REQUIRE_KVM();
	vm = boot_mode(2, VIRQ_IDLE_CPL3_SPIN, false, VIRQ_IRQCHIP_SPLIT);
	assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_IOAPIC_READ, 1, 0, &v, 2000), 0);
	assert_int_equal(v & 0xff, 0x11); /* 82093AA version register */
	assert_int_equal((v >> 16) & 0xff, 23); /* maximum redirection entry */
	assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_IOAPIC_WRITE, 0x10 + 2 * 9 + 1,
					   1u << 24, NULL, 2000),
			 0);
	assert_int_equal(
		virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_IOAPIC_WRITE, 0x10 + 2 * 9, 0x59, NULL, 2000),
		0);
	for (int i = 0; i < 5; i++) {
		assert_true(virq_vm_inject_gsi(vm, 9, VIRQ_GSI_PULSE) > 0);
		wait_count(vm, 1, 0x59, (uint64_t)i + 1);
	}
	assert_int_equal(count(vm, 0, 0x59), 0);
	virq_vm_destroy(vm);
}

/* The doorbell completes through ioeventfd + irqfd (kernel/split) or ioeventfd + a post
 * into the descriptor (user): counted round trips, the guest saw each completion, and no
 * port write reached userspace (KVM_IOEVENTFD). */
static void test_doorbell_round_trip_needs_no_userspace_exit(void **state)
{
	static const enum virq_irqchip_mode modes[] = { VIRQ_IRQCHIP_KERNEL, VIRQ_IRQCHIP_SPLIT,
							VIRQ_IRQCHIP_USER };

	VIRQ_REQUIRE_KVM();
	for (int m = 0; m < 3; m++) {
		struct virq_vm *vm = boot_mode(1, VIRQ_IDLE_CPL3_SPIN, false, modes[m]);
		struct virq_vcpu_exits e0, e1;
		struct virq_vmm_ledger l;
		uint64_t rtt = 0;

		assert_int_equal(virq_vm_exits(vm, 0, &e0), 0);
		for (int i = 0; i < 20; i++) {
			assert_int_equal(virq_vm_doorbell(vm, 2000, &rtt), 0);
			assert_true(rtt > 0);
		}
		assert_int_equal(virq_vm_exits(vm, 0, &e1), 0);
		assert_int_equal(count(vm, 0, VIRQ_DOORBELL_VECTOR), 20);
		assert_int_equal(virq_vm_vmm_ledger(vm, &l), 0);
		assert_int_equal(l.doorbell_roundtrips, 20);
		assert_true(l.doorbell_ns_sum >= 20);
		/* Each ring is one completion: an irqfd signal, or a post in user mode
		 * (the ioeventfd counter can fold rings, but the next ring waits for the
		 * previous completion). */
		assert_int_equal(modes[m] == VIRQ_IRQCHIP_USER ? l.doorbell_posts : l.irqfd_signals,
				 20);
		if (modes[m] == VIRQ_IRQCHIP_USER)
			assert_int_equal(l.irqfd_signals, 0);
		assert_int_equal(e1.by_reason[2 /* KVM_EXIT_IO */], e0.by_reason[2]);
		virq_vm_destroy(vm);
	}
}

static void test_guest_exit_port_stops_the_vm_with_its_code(void **state)
{
	struct virq_vm *vm;
	char why[VIRQ_VM_REASON_MAX];
	int ret;

	VIRQ_REQUIRE_KVM();
	vm = boot(1, VIRQ_IDLE_HLT, false);
	print_message("# exit port: booted\n");
	ret = virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_STOP, 7, 0, NULL, 2000);
	print_message("# exit port: mailbox answered %d\n", ret);
	assert_true(ret == 0 || ret == -ESHUTDOWN);
	for (int i = 0; i < 1000 && virq_vm_state(vm, NULL, 0) != VIRQ_VM_STOPPED; i++)
		usleep(1000);
	assert_int_equal(virq_vm_state(vm, why, sizeof(why)), VIRQ_VM_STOPPED);
	assert_string_equal(why, "guest exit code 7 on vCPU 0");
	virq_vm_destroy(vm);
	print_message("# exit port: destroyed\n");
}

/* Clear the P bit (bit 47: dword 1, bit 15) of an IDT gate from inside the guest. */
static void unpresent_gate(struct virq_vm *vm, uint8_t vector)
{
	assert_int_equal(virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_MMIO_WRITE32,
					   VIRQ_GPA_IDT + 16u * vector + 4, 0, NULL, 2000),
			 0);
}

static void test_triple_fault_stops_only_its_own_vm(void **state)
{
	struct virq_vm *bad, *good;
	char why[VIRQ_VM_REASON_MAX];

	VIRQ_REQUIRE_KVM();
	bad = boot(1, VIRQ_IDLE_HLT, false);
	good = boot(1, VIRQ_IDLE_HLT, false);
	/* Gate 0x99 not present -> #NP; #NP not present -> #DF (contributory twice, SDM
	 * Table 6-5); #DF not present -> shutdown. */
	unpresent_gate(bad, 11);
	unpresent_gate(bad, 13);
	unpresent_gate(bad, 8);
	unpresent_gate(bad, 0x99);
	assert_true(virq_vm_inject_msi(bad, MSI_ADDR(0), 0x99) >= 0);
	for (int i = 0; i < 2000 && virq_vm_state(bad, NULL, 0) != VIRQ_VM_STOPPED; i++)
		usleep(1000);
	assert_int_equal(virq_vm_state(bad, why, sizeof(why)), VIRQ_VM_STOPPED);
	assert_non_null(strstr(why, "triple fault on vCPU 0"));
	/* The other VM and the process are unaffected. */
	assert_true(virq_vm_inject_msi(good, MSI_ADDR(0), 0x41) >= 0);
	wait_count(good, 0, 0x41, 1);
	assert_int_equal(virq_vm_state(good, NULL, 0), VIRQ_VM_RUNNING);
	virq_vm_destroy(bad);
	virq_vm_destroy(good);
}

static void test_kvm_stats_are_named_per_vm_and_vcpu(void **state)
{
	struct virq_vm *vm;
	struct virq_kvm_stat *st;
	int n, vm_stats = 0, vcpu1 = 0;
	bool exits = false;
	uint64_t halts = 0, halts0 = 0;

	VIRQ_REQUIRE_KVM();
	vm = boot(2, VIRQ_IDLE_HLT, false);
	/*
	 * Each MSI wakes the halted vCPU 1 once, and its handler returns to `hlt`: KVM
	 * counts one halt_exit per HLT. The next MSI goes only after that HLT: one sent while
	 * the handler still runs is taken right after its iretq (IF=1 again, SDM 6.8.1)
	 * without a HLT in between (19 halts for 20 MSIs on a nested kvm_amd).
	 */
	for (int t = 0; t < 50000 && !halts0; t++) { /* idle: its first HLT */
		assert_int_equal(virq_vm_kvm_stat(vm, 1, "halt_exits", &halts0), 0);
		usleep(100);
	}
	assert_true(halts0 > 0);
	for (int i = 0; i < 20; i++) {
		assert_true(virq_vm_inject_msi(vm, MSI_ADDR(1), 0x42) >= 0);
		wait_count(vm, 1, 0x42, (uint64_t)i + 1);
		for (int t = 0; t < 50000; t++) {
			assert_int_equal(virq_vm_kvm_stat(vm, 1, "halt_exits", &halts), 0);
			if (halts > halts0 + (uint64_t)i)
				break;
			usleep(100);
		}
		if (halts <= halts0 + (uint64_t)i)
			fail_msg("vCPU 1 did not halt again after MSI %d (halt_exits %llu)", i,
				 (unsigned long long)(halts - halts0));
	}
	assert_int_equal(virq_vm_kvm_stat(vm, 1, "no_such_stat", &halts), -ENOENT);
	halts = 0;
	st = calloc(512, sizeof(*st));
	assert_non_null(st);
	n = virq_vm_kvm_stats(vm, st, 512);
	assert_true(n > 0 && n <= 512);
	for (int i = 0; i < n; i++) {
		assert_true(st[i].name[0] != '\0');
		vm_stats += st[i].vcpu == -1;
		vcpu1 += st[i].vcpu == 1;
		if (st[i].vcpu == 0 && !strcmp(st[i].name, "exits"))
			exits = st[i].value > 0; /* the BSP exited at least for its MMIO/ports */
		/* KVM selftests' cross-check: guest HLTs show in halt_exits. */
		if (st[i].vcpu == 1 && !strcmp(st[i].name, "halt_exits"))
			halts = st[i].value;
	}
	for (int i = 0; i < n; i++)
		if (st[i].vcpu == 1 && strstr(st[i].name, "halt") && !strstr(st[i].name, "hist"))
			print_message("# vCPU 1 %s = %llu\n", st[i].name,
				      (unsigned long long)st[i].value);
	assert_true(vm_stats > 0);
	assert_true(vcpu1 > 0);
	assert_true(exits);
	if (halts < halts0 + 20)
		fail_msg("vCPU 1 halt_exits %llu after 20 wake-ups from hlt (expected >= 20)",
			 (unsigned long long)(halts - halts0));
	free(st);
	virq_vm_destroy(vm);
}

static void test_many_vms_run_in_one_process(void **state)
{
	struct virq_vm *vms[4];

	VIRQ_REQUIRE_KVM();
	for (int i = 0; i < 4; i++)
		vms[i] = boot(2, VIRQ_IDLE_CPL3_SPIN, false);
	for (int i = 0; i < 4; i++)
		assert_true(virq_vm_inject_msi(vms[i], MSI_ADDR(1), 0x50 + i) >= 0);
	for (int i = 0; i < 4; i++) {
		wait_count(vms[i], 1, (uint8_t)(0x50 + i), 1);
		for (int j = 0; j < 4; j++)
			if (j != i)
				assert_int_equal(count(vms[i], 1, (uint8_t)(0x50 + j)), 0);
	}
	for (int i = 0; i < 4; i++)
		virq_vm_destroy(vms[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vmm_available_agrees_with_the_device),
		cmocka_unit_test(test_vm_create_fails_cleanly_without_kvm),
		cmocka_unit_test(test_every_vcpu_boots_through_init_sipi),
		cmocka_unit_test(test_msi_lands_in_the_addressed_vcpu_ledger),
		cmocka_unit_test(test_mailbox_reads_apic_registers_in_both_modes),
		cmocka_unit_test(test_pause_parks_every_vcpu_and_resume_continues),
		cmocka_unit_test(test_split_ioapic_model_delivers_to_the_rte_destination),
		cmocka_unit_test(test_doorbell_round_trip_needs_no_userspace_exit),
		cmocka_unit_test(test_guest_exit_port_stops_the_vm_with_its_code),
		cmocka_unit_test(test_triple_fault_stops_only_its_own_vm),
		cmocka_unit_test(test_kvm_stats_are_named_per_vm_and_vcpu),
		cmocka_unit_test(test_many_vms_run_in_one_process),
	};
	return virq_test_run_group("vmm_vm", tests, sizeof(tests) / sizeof(tests[0]));
}
