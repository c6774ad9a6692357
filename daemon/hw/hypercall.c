// SPDX-License-Identifier: MIT
/* KVM hypercall answers (Documentation/virt/kvm/x86/hypercalls.rst). */
#include "virq/hypercall.h"

uint64_t virq_hypercall(const struct virq_hc_regs *regs, bool long_mode, unsigned int cpl,
			const struct virq_hc_ops *ops, void *opaque)
{
	uint64_t nr = regs->rax, a0 = regs->rbx, a1 = regs->rcx, a2 = regs->rdx, a3 = regs->rsi;
	int64_t ret = -VIRQ_KVM_ENOSYS;

	if (!long_mode) {
		nr &= 0xffffffffu;
		a0 &= 0xffffffffu;
		a1 &= 0xffffffffu;
		a2 &= 0xffffffffu;
		a3 &= 0xffffffffu;
	}
	if (cpl) {
		ret = -VIRQ_KVM_EPERM;
		goto out;
	}
	switch (nr) {
	case VIRQ_KVM_HC_VAPIC_POLL_IRQ: /* "the host checks for pending interrupts": no-op */
		ret = 0;
		break;
	case VIRQ_KVM_HC_KICK_CPU: /* a0 flags (reserved), a1 APIC ID */
		if (ops && ops->kick_cpu)
			ret = ops->kick_cpu(opaque, (uint32_t)a1);
		break;
	case VIRQ_KVM_HC_SEND_IPI:
		if (ops && ops->send_ipi)
			ret = ops->send_ipi(opaque, a0, a1, (uint32_t)a2, (uint32_t)a3);
		break;
	case VIRQ_KVM_HC_SCHED_YIELD:
		if (ops && ops->sched_yield)
			ret = ops->sched_yield(opaque, (uint32_t)a0);
		break;
	default: /* MMU_OP and FEATURES are gone, CLOCK_PAIRING and MAP_GPA_RANGE not offered */
		break;
	}
out:
	return long_mode ? (uint64_t)ret : (uint32_t)ret;
}
