// SPDX-License-Identifier: MIT
/*
 * BPF counts against real VMs: N KVM_SIGNAL_MSI give N kvm_msi_set_irq and N
 * kvm_apic_accept_irq with the right vector and APIC ID, equal to the VMM's injection
 * ledger and the guest's ledger; two VMs in one process get distinct VM ids; a filter on
 * another tgid (a decoy VMM) counts nothing of ours.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "virq/trace.h"
#include "virq/vmm.h"
#include "virq_test.h"

#define N_MSI 50

struct sel {
	uint16_t event;
	uint32_t arg, aux;
	uint64_t sum;
	uint32_t vm_ids[4];
	unsigned int nr_vm;
	bool all_from_ioctl;
};

static int sel_cb(const struct virq_trace_key *k, uint64_t v, void *ctx)
{
	struct sel *s = ctx;
	unsigned int i;

	if (k->event != s->event || k->arg != s->arg || k->aux != s->aux ||
	    k->tgid != (uint32_t)getpid())
		return 0;
	s->sum += v;
	if (!(k->flags & VIRQ_TKF_VM_FROM_IOCTL))
		s->all_from_ioctl = false;
	for (i = 0; i < s->nr_vm; i++)
		if (s->vm_ids[i] == k->vm_id)
			return 0;
	if (s->nr_vm < 4)
		s->vm_ids[s->nr_vm++] = k->vm_id;
	return 0;
}

static struct sel sel(struct virq_trace *t, uint16_t ev, uint32_t arg, uint32_t aux)
{
	struct sel s = { .event = ev, .arg = arg, .aux = aux, .all_from_ioctl = true };

	assert_int_equal(virq_trace_read_counters(t, sel_cb, &s), 0);
	return s;
}

struct vm_find {
	uint32_t vm_id;
	struct virq_trace_vm vm;
	bool found;
};

static int vm_find_cb(uint32_t vm_id, const struct virq_trace_vm *vm, void *ctx)
{
	struct vm_find *f = ctx;

	if (vm_id != f->vm_id)
		return 0;
	f->vm = *vm;
	f->found = true;
	return 0;
}

static struct virq_vm *vm_up(const char *name)
{
	struct virq_vm_config cfg;
	struct virq_vm *vm;
	char err[256];

	virq_vm_config_init(&cfg);
	snprintf(cfg.name, sizeof(cfg.name), "%s", name);
	cfg.nr_vcpus = 2;
	vm = virq_vm_create(&cfg, err, sizeof(err));
	if (!vm)
		fail_msg("virq_vm_create: %s", err);
	assert_int_equal(virq_vm_start(vm), 0);
	assert_int_equal(virq_vm_wait_ready(vm, 10000), 0);
	return vm;
}

static void inject_and_wait(struct virq_vm *vm, uint8_t apic, uint8_t vec, unsigned int n)
{
	struct virq_guest_vec g;
	unsigned int i, spins;

	for (i = 0; i < n; i++) {
		assert_true(virq_vm_inject_msi(vm, 0xfee00000ull | ((uint64_t)apic << 12), vec) >=
			    0);
		/* one at a time: a second MSI before the first is taken would coalesce */
		for (spins = 0; spins < 2000; spins++) {
			assert_int_equal(virq_vm_ledger(vm, apic, vec, &g), 0);
			if (g.count >= i + 1)
				break;
			usleep(500);
		}
		assert_int_equal(g.count, i + 1);
	}
}

static void test_n_signal_msi_give_n_source_and_accept_counts(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	struct virq_vm *vm;
	struct virq_vmm_vec vv;
	pid_t me = getpid();
	char err[256];

	VIRQ_REQUIRE_KVM();
	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	t = virq_trace_open(&o, err, sizeof(err));
	if (!t)
		fail_msg("virq_trace_open: %s", err);
	assert_int_equal(virq_trace_filter_set(t, &me, 1), 0);
	vm = vm_up("trace-a");
	assert_int_equal(virq_trace_reset(t), 0);
	inject_and_wait(vm, 1, 0x45, N_MSI);
	assert_int_equal(virq_vm_vmm_vec(vm, 1, 0x45, &vv), 0);
	struct sel m = sel(t, VIRQ_TEV_MSI_SET_IRQ, 0x45, 1);
	struct sel a = sel(t, VIRQ_TEV_APIC_ACCEPT_IRQ, 0x45, 1);
	assert_int_equal(m.sum, N_MSI);
	assert_int_equal(a.sum, N_MSI);
	assert_int_equal(vv.injected, N_MSI);
	/* attributed through the ioctl's VM fd, to one VM: the accept runs synchronously in
	 * the same ioctl, so it lands on the same VM */
	assert_true(m.all_from_ioctl);
	assert_int_equal(m.nr_vm, 1);
	assert_int_not_equal(m.vm_ids[0], VIRQ_TRACE_VM_NONE);
	assert_int_equal(a.nr_vm, 1);
	assert_int_equal(a.vm_ids[0], m.vm_ids[0]);
	/* and KVM's own view of that VM: created by this process */
	struct vm_find f = { .vm_id = m.vm_ids[0] };
	assert_int_equal(virq_trace_read_vms(t, vm_find_cb, &f), 0);
	assert_true(f.found);
	assert_int_equal(f.vm.userspace_pid, (uint32_t)me);
	char want_id[48];
	snprintf(want_id, sizeof(want_id), "kvm-%d", (int)me);
	assert_string_equal(f.vm.stats_id, want_id);
	virq_vm_destroy(vm);
	virq_trace_close(t);
}

static void test_two_vms_in_one_process_get_distinct_vm_ids(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	struct virq_vm *a, *b;
	char err[256];

	VIRQ_REQUIRE_KVM();
	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	t = virq_trace_open(&o, err, sizeof(err));
	if (!t)
		fail_msg("virq_trace_open: %s", err);
	a = vm_up("trace-a");
	b = vm_up("trace-b");
	assert_int_equal(virq_trace_reset(t), 0);
	inject_and_wait(a, 0, 0x50, 10);
	inject_and_wait(b, 0, 0x50, 7);
	struct sel s = sel(t, VIRQ_TEV_MSI_SET_IRQ, 0x50, 0);
	assert_int_equal(s.sum, 17);
	assert_int_equal(s.nr_vm, 2);
	virq_vm_destroy(b);
	virq_vm_destroy(a);
	virq_trace_close(t);
}

static void test_filter_on_a_decoy_tgid_counts_none_of_ours(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	struct virq_vm *vm;
	pid_t decoy = getppid();
	char err[256];

	VIRQ_REQUIRE_KVM();
	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	t = virq_trace_open(&o, err, sizeof(err));
	if (!t)
		fail_msg("virq_trace_open: %s", err);
	assert_int_equal(virq_trace_filter_set(t, &decoy, 1), 0);
	vm = vm_up("trace-c");
	inject_and_wait(vm, 0, 0x60, 5);
	assert_int_equal(sel(t, VIRQ_TEV_MSI_SET_IRQ, 0x60, 0).sum, 0);
	assert_true(virq_trace_stat(t, VIRQ_TSTAT_FILTERED) >= 10);
	virq_vm_destroy(vm);
	virq_trace_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_n_signal_msi_give_n_source_and_accept_counts),
		cmocka_unit_test(test_two_vms_in_one_process_get_distinct_vm_ids),
		cmocka_unit_test(test_filter_on_a_decoy_tgid_counts_none_of_ours),
	};

	return cmocka_run_group_tests_name("kvm/trace", tests, NULL, NULL);
}
