// SPDX-License-Identifier: MIT
/*
 * The KVM vCPU backend of the `user` irqchip mode (struct virq_cpu_ops): KVM_RUN,
 * KVM_INTERRUPT, KVM_NMI, KVM_GET_REGS/KVM_GET_VCPU_EVENTS for RFLAGS.IF and the
 * interrupt shadow, KVM_SET_VCPU_EVENTS for exceptions, KVM_SET_SREGS/REGS for INIT and
 * SIPI. Kicks are the VMM's signal (vm.c: its handler sets kvm_run.immediate_exit).
 *
 * A LAPIC timer armed while the guest idles at CPL3 produces no exit by itself, so before
 * each KVM_RUN a per-thread POSIX timer (SIGEV_THREAD_ID, the kick signal) is armed for
 * the LAPIC deadline: the kick makes KVM_RUN return and the pre-run tick fires the timer.
 */
#include "vmm_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#define RFLAGS_IF (1ull << 9)

struct cpu_kvm {
	timer_t timer;
	bool has_timer;
	uint64_t armed; /* deadline the timer is armed for, 0 = disarmed */
};

static struct cpu_kvm *kvm_state(struct virq_vcpu *c)
{
	if (!c->backend)
		c->backend = calloc(1, sizeof(struct cpu_kvm));
	return c->backend;
}

static void arm_timer(struct virq_vcpu *c)
{
	struct cpu_kvm *k = kvm_state(c);
	struct itimerspec its;

	if (!k || k->armed == c->timer_deadline)
		return;
	if (!k->has_timer) {
		struct sigevent sev;

		if (!c->timer_deadline)
			return;
		memset(&sev, 0, sizeof(sev));
		sev.sigev_notify = SIGEV_THREAD_ID;
		sev.sigev_signo = virq_vmm_kick_signo();
		sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
		if (timer_create(CLOCK_MONOTONIC, &sev, &k->timer) != 0)
			return; /* the HLT path still honours the deadline */
		k->has_timer = true;
	}
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(c->timer_deadline / 1000000000ull);
	its.it_value.tv_nsec = (long)(c->timer_deadline % 1000000000ull);
	if (timer_settime(k->timer, TIMER_ABSTIME, &its, NULL) == 0)
		k->armed = c->timer_deadline;
}

static int kvm_run_op(struct virq_vcpu *c)
{
	arm_timer(c);
	if (ioctl(c->fd, KVM_RUN, 0) < 0)
		return -errno;
	return 0;
}

static void kvm_kick(struct virq_vcpu *c)
{
	virq_vmm_tgkill(c);
}

static int kvm_interrupt(struct virq_vcpu *c, uint8_t vector)
{
	struct kvm_interrupt intr;

	memset(&intr, 0, sizeof(intr));
	intr.irq = vector;
	return ioctl(c->fd, KVM_INTERRUPT, &intr) < 0 ? -errno : 0;
}

static int kvm_nmi(struct virq_vcpu *c)
{
	return ioctl(c->fd, KVM_NMI, 0) < 0 ? -errno : 0;
}

static int kvm_intr_state(struct virq_vcpu *c, bool *if_flag, bool *shadow)
{
	struct kvm_regs regs;
	struct kvm_vcpu_events ev;

	if (ioctl(c->fd, KVM_GET_REGS, &regs) < 0)
		return -errno;
	*if_flag = regs.rflags & RFLAGS_IF;
	*shadow = false;
	if (!*if_flag)
		return 0;
	if (ioctl(c->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	/* KVM_X86_SHADOW_INT_MOV_SS | KVM_X86_SHADOW_INT_STI (api.rst). */
	*shadow = ev.interrupt.shadow != 0;
	return 0;
}

static int kvm_get_exception(struct virq_vcpu *c, struct virq_cpu_exc *out)
{
	struct kvm_vcpu_events ev;

	memset(out, 0, sizeof(*out));
	if (ioctl(c->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	if (ev.exception.injected || ev.exception.pending) {
		out->pending = true;
		out->vector = ev.exception.nr;
		out->has_error = ev.exception.has_error_code;
		out->error = ev.exception.error_code;
	}
	return 0;
}

static int kvm_exception(struct virq_vcpu *c, uint8_t vector, bool has_error, uint32_t error)
{
	struct kvm_vcpu_events ev;
	struct kvm_run *run = c->run;

	/* KVM completes a userspace MSR exit itself at the next KVM_RUN: msr.error = 0
	 * skips the instruction, 1 injects #GP(0) with RIP on the rdmsr/wrmsr (fault
	 * semantics, SDM 6.5). Injecting our own #GP through KVM_SET_VCPU_EVENTS as well
	 * would either be trap-like (after the skip) or a second #GP (-> #DF). */
	if ((run->exit_reason == KVM_EXIT_X86_RDMSR || run->exit_reason == KVM_EXIT_X86_WRMSR) &&
	    vector == 13 && (!has_error || error == 0)) {
		run->msr.error = 1;
		return 0;
	}
	if (ioctl(c->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	/* Without KVM_CAP_EXCEPTION_PAYLOAD, `injected` is the only way in (api.rst,
	 * KVM_SET_VCPU_EVENTS: `pending` is ignored); KVM delivers it at the next entry. */
	ev.exception.injected = 1;
	ev.exception.pending = 0;
	ev.exception.nr = vector;
	ev.exception.has_error_code = has_error;
	ev.exception.error_code = error;
	ev.flags = 0;
	return ioctl(c->fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? -errno : 0;
}

static void real_seg(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = (uint64_t)sel << 4;
	s->limit = 0xffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
}

/* Register state after INIT (SDM Vol. 3A 9.1.1, Table 9-1; KVM's kvm_vcpu_reset). */
static int set_real_mode(struct virq_vcpu *c, uint16_t cs_sel, uint64_t cs_base, uint64_t rip)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(c->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	real_seg(&sregs.cs, cs_sel, 0xb);
	sregs.cs.base = cs_base;
	real_seg(&sregs.ds, 0, 0x3);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.limit = 0xffff;
	sregs.tr.type = 0xb;
	sregs.tr.present = 1;
	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.limit = 0xffff;
	sregs.ldt.type = 0x2;
	sregs.ldt.present = 1;
	sregs.gdt.base = sregs.idt.base = 0;
	sregs.gdt.limit = sregs.idt.limit = 0xffff;
	sregs.cr0 = 0x60000010; /* CD | NW | ET */
	sregs.cr2 = sregs.cr3 = sregs.cr4 = 0;
	sregs.efer = 0;
	memset(sregs.interrupt_bitmap, 0, sizeof(sregs.interrupt_bitmap));
	if (ioctl(c->fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = rip;
	regs.rdx = 0x600; /* processor signature, as after reset */
	return ioctl(c->fd, KVM_SET_REGS, &regs) < 0 ? -errno : 0;
}

static int kvm_init(struct virq_vcpu *c)
{
	return set_real_mode(c, 0xf000, 0xffff0000ull, 0xfff0);
}

static int kvm_sipi(struct virq_vcpu *c, uint8_t vector)
{
	/* SDM 8.4.4.1 / 11.6.1: the AP starts in real mode at vector << 12, i.e. CS
	 * selector vector << 8 with base vector << 12 and IP 0 (kvm_vcpu_deliver_sipi_vector). */
	return set_real_mode(c, (uint16_t)(vector << 8), (uint64_t)vector << 12, 0);
}

static void kvm_fini(struct virq_vcpu *c)
{
	struct cpu_kvm *k = c->backend;

	if (!k)
		return;
	if (k->has_timer)
		timer_delete(k->timer);
	free(k);
	c->backend = NULL;
}

const struct virq_cpu_ops virq_cpu_kvm_ops = {
	.name = "kvm",
	.run = kvm_run_op,
	.kick = kvm_kick,
	.interrupt = kvm_interrupt,
	.nmi = kvm_nmi,
	.intr_state = kvm_intr_state,
	.get_exception = kvm_get_exception,
	.exception = kvm_exception,
	.init = kvm_init,
	.sipi = kvm_sipi,
	.fini = kvm_fini,
};
