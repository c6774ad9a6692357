/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the KVM test programs (tests/kvm/): boot a VM from a configuration
 * and wait until its guest firmware is ready, read and wait for guest ledger counts.
 * cmocka assertions: a failure ends the calling test with the reason.
 */
#ifndef VIRQ_TEST_VM_HELPERS_H
#define VIRQ_TEST_VM_HELPERS_H

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "virq_test.h"
#include "virq/vmm.h"

/* Creates and starts a VM from cfg and waits up to ready_ms for every vCPU's firmware. */
static inline struct virq_vm *vm_boot_cfg(const struct virq_vm_config *cfg, unsigned int ready_ms)
{
	char err[160], why[VIRQ_VM_REASON_MAX];
	struct virq_vm *vm;
	int ret;

	vm = virq_vm_create(cfg, err, sizeof(err));
	if (!vm)
		fail_msg("virq_vm_create(%s): %s (errno %d)", virq_irqchip_mode_name(cfg->irqchip),
			 err, errno);
	assert_int_equal(virq_vm_start(vm), 0);
	ret = virq_vm_wait_ready(vm, ready_ms);
	if (ret) {
		virq_vm_state(vm, why, sizeof(why));
		fail_msg("guest not ready: %s; state %s", strerror(-ret), why);
	}
	return vm;
}

/* The guest ledger's count of `vector` on `vcpu`. */
static inline uint64_t count(struct virq_vm *vm, uint32_t vcpu, uint8_t vector)
{
	struct virq_guest_vec v;

	assert_int_equal(virq_vm_ledger(vm, vcpu, vector, &v), 0);
	return v.count;
}

/* Waits up to 5 s for the count to reach `want`, then asserts it is exactly `want`. */
static inline void wait_count(struct virq_vm *vm, uint32_t vcpu, uint8_t vector, uint64_t want)
{
	for (int i = 0; i < 50000 && count(vm, vcpu, vector) < want; i++)
		usleep(100);
	assert_int_equal(count(vm, vcpu, vector), want);
}

#endif
