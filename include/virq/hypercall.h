/* SPDX-License-Identifier: MIT */
/*
 * virq: answering a guest's vmcall/vmmcall as KVM documents it (Linux
 * Documentation/virt/kvm/x86/hypercalls.rst; KVM's kvm_emulate_hypercall()): RAX holds the
 * number, RBX, RCX, RDX, RSI the arguments a0-a3; the result goes to RAX. Outside 64-bit
 * mode the number, arguments and result are 32 bits. From CPL > 0 every call is
 * -KVM_EPERM. A call with no handler, or an unknown number, is -KVM_ENOSYS: the guest
 * always gets an answer, never a hang. The caller advances RIP past the 3-byte instruction.
 * Pure: no state; the handlers are the VMM's.
 */
#ifndef VIRQ_HYPERCALL_H
#define VIRQ_HYPERCALL_H

#include <stdbool.h>
#include <stdint.h>

/* include/uapi/linux/kvm_para.h */
#define VIRQ_KVM_ENOSYS 1000
#define VIRQ_KVM_EFAULT 14
#define VIRQ_KVM_EINVAL 22
#define VIRQ_KVM_E2BIG 7
#define VIRQ_KVM_EPERM 1
#define VIRQ_KVM_EOPNOTSUPP 95

#define VIRQ_KVM_HC_VAPIC_POLL_IRQ 1
#define VIRQ_KVM_HC_MMU_OP 2
#define VIRQ_KVM_HC_FEATURES 3
#define VIRQ_KVM_HC_PPC_MAP_MAGIC_PAGE 4
#define VIRQ_KVM_HC_KICK_CPU 5
#define VIRQ_KVM_HC_CLOCK_PAIRING 9
#define VIRQ_KVM_HC_SEND_IPI 10
#define VIRQ_KVM_HC_SCHED_YIELD 11
#define VIRQ_KVM_HC_MAP_GPA_RANGE 12

struct virq_hc_regs {
	uint64_t rax, rbx, rcx, rdx, rsi;
};

/* Handlers; any may be NULL (the call is then -KVM_ENOSYS, as for a guest whose CPUID
 * lacks the feature). Return values are the hypercall's result (>= 0) or -KVM_E*. */
struct virq_hc_ops {
	/* KVM_HC_KICK_CPU: wake the vCPU with APIC ID apic_id from its halt (PV unhalt). */
	int64_t (*kick_cpu)(void *opaque, uint32_t apic_id);
	/* KVM_HC_SEND_IPI: bitmap [lo, hi] of APIC IDs from min, with the ICR low word;
	 * returns the number of CPUs reached. */
	int64_t (*send_ipi)(void *opaque, uint64_t lo, uint64_t hi, uint32_t min, uint32_t icr);
	/* KVM_HC_SCHED_YIELD: yield to the vCPU with APIC ID apic_id (0 on success). */
	int64_t (*sched_yield)(void *opaque, uint32_t apic_id);
};

/* The value RAX takes. long_mode: the vCPU is in 64-bit mode (CS.L, EFER.LMA);
 * cpl: CS.DPL/SS.DPL. */
uint64_t virq_hypercall(const struct virq_hc_regs *regs, bool long_mode, unsigned int cpl,
			const struct virq_hc_ops *ops, void *opaque);

#endif /* VIRQ_HYPERCALL_H */
