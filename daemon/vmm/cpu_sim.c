// SPDX-License-Identifier: MIT
/*
 * The simulated vCPU backend (struct virq_cpu_ops) -- FOR UNIT TESTS ONLY. It is reached
 * only through virq_vm_create_sim() (vmm_internal.h), never through struct
 * virq_vm_config, so the daemon cannot select it. It lets the whole `user` irqchip
 * machinery (posting, notification kinds, PIR sync, injection rules, HLT blocking,
 * INIT/SIPI, exceptions, PV-EOI, EOI broadcast) run for real on a host without /dev/kvm.
 *
 * What it models: a deterministic C model of the built-in firmware's interrupt behaviour
 * (daemon/vmm/guest/firmware.S) producing the exits the real guest would produce --
 *   - boot: xAPIC SVR write and ID read through MMIO (or the x2APIC MSRs), the BSP's
 *     8259A programming (port writes), INIT/SIPI/SIPI through the ICR, the READY flag;
 *   - APs run only after a SIPI; vector VIRQ_SIPI_VECTOR enters the AP path (APIC ID
 *     read, ledger found from it), any other vector parks (no code there);
 *   - idle: `sti; hlt` (a KVM_EXIT_HLT) or the CPL3 spin (no exit: sleeps until kicked
 *     or until the LAPIC timer deadline, then returns -EINTR as a signalled KVM_RUN);
 *   - the interrupt handler: the guest ledger in guest memory with the firmware's layout
 *     (vmm_guest.h), IF=0 until `iretq`, mailbox commands (each access an exit), the
 *     PIC EOI for ExtINT vectors, EOI hold, PV-EOI test-and-clear, else the EOI write
 *     (MMIO to 0xFEE000B0, or WRMSR 0x80B in x2APIC mode);
 *   - exceptions (vector < 32 but NMI) are recorded and the vCPU parks (`cli; hlt`).
 * What it checks: KVM_INTERRUPT-equivalents are accepted only with IF=1, outside an
 * interrupt shadow and with no injection already pending; anything else is recorded as a
 * violation (virq_sim_stats), which the tests require to stay 0. It reports
 * ready_for_interrupt_injection and if_flag in kvm_run exactly as KVM defines them, and
 * opens an interrupt window (KVM_EXIT_IRQ_WINDOW_OPEN) when requested and IF=1.
 * What it does not model: instruction timing (a pending interrupt is taken at the next
 * simulated instruction boundary), real mode, MSRs other than the LAPIC's (every RDMSR
 * and WRMSR exits), the trampoline's instructions (a SIPI to 0x0f jumps to its end).
 */
#include "vmm_internal.h"
#include "virq/lapic.h"
#include "virq/vmm_guest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/kvm.h>

#define SIM_Q 256 /* pending simulated instructions (a deque) */
#define SIM_FRAMES 16 /* nested interrupt frames */
#define SIM_RUN_SIZE 8192
#define SIM_IO_OFF 4096 /* kvm_run.io.data_offset */
#define APIC(off) (VIRQ_LAPIC_GPA + (off))
#define ICR_INIT_ALL_BUT_SELF 0x000c4500ull
#define ICR_SIPI_ALL_BUT_SELF (0x000c4600ull | VIRQ_SIPI_VECTOR)

enum sop {
	SOP_MMIO_W,
	SOP_MMIO_R,
	SOP_OUT,
	SOP_IN,
	SOP_WRMSR,
	SOP_RDMSR,
	SOP_HLT,
	SOP_STI,
	SOP_CLI,
	SOP_IRET,
	SOP_CALL,
	SOP_PARK, /* cli; hlt forever */
};

struct sim;
typedef void (*sim_fn)(struct sim *s, uint64_t arg);

struct sim_op {
	enum sop kind;
	uint64_t a, b;
	sim_fn fn;
};

struct sim_seq {
	struct sim_op op[40];
	unsigned int n;
};

struct sim_frame {
	bool if_flag;
	bool nmi;
};

struct sim {
	struct virq_vcpu *c;
	/* Kick: the only state other threads touch. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool kicked;
	/* Everything below belongs to the vCPU thread. */
	struct sim_op q[SIM_Q];
	unsigned int head, n;
	struct sim_frame frames[SIM_FRAMES];
	unsigned int depth;
	bool started, if_flag, shadow;
	int inject; /* vector queued by KVM_INTERRUPT, or -1 */
	bool nmi_pending, in_nmi;
	bool exc_pending, exc_has_error;
	uint8_t exc_vector;
	uint32_t exc_error;
	enum sop pending_read; /* SOP_MMIO_R, SOP_IN or SOP_RDMSR awaiting its data; else -1 */
	bool reading;
	uint64_t acc; /* the last value read */
	uint64_t ledger; /* GPA of this vCPU's ledger header (the firmware's GS) */
	uint64_t steps; /* simulated instructions, the sim's RIP stand-in */
	struct virq_sim_stats st; /* relaxed atomic counters */
};

#define SCNT(s, f) virq_cnt_add(&(s)->st.f, 1)

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void violation(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (virq_cnt_get(&s->st.violations) == 0) {
		va_start(ap, fmt);
		vsnprintf(s->st.violation, sizeof(s->st.violation), fmt, ap);
		va_end(ap);
	}
	SCNT(s, violations);
}

/* --- guest memory ------------------------------------------------------------------- */

static uint64_t *gmem64(struct sim *s, uint64_t gpa)
{
	return (uint64_t *)(void *)(s->c->vm->mem + gpa);
}

static uint64_t lget(struct sim *s, unsigned int off)
{
	return __atomic_load_n(gmem64(s, s->ledger + off), __ATOMIC_ACQUIRE);
}

static void lset(struct sim *s, unsigned int off, uint64_t v)
{
	__atomic_store_n(gmem64(s, s->ledger + off), v, __ATOMIC_RELEASE);
}

static void linc(struct sim *s, unsigned int off)
{
	lset(s, off, lget(s, off) + 1);
}

static bool in_ram(struct sim *s, uint64_t gpa, uint64_t len)
{
	return gpa < s->c->vm->mem_size && len <= s->c->vm->mem_size - gpa;
}

/* --- the instruction deque ------------------------------------------------------- */

static void seq_add(struct sim_seq *q, enum sop k, uint64_t a, uint64_t b, sim_fn fn)
{
	if (q->n < sizeof(q->op) / sizeof(q->op[0]))
		q->op[q->n++] = (struct sim_op){ k, a, b, fn };
}

#define E(q, k, a, b) seq_add((q), (k), (a), (b), NULL)
#define CALL(q, fn, arg) seq_add((q), SOP_CALL, (arg), 0, (fn))

/* Runs the sequence next, before whatever was pending (an interrupt or a call). */
static void prepend(struct sim *s, const struct sim_seq *q)
{
	if (s->n + q->n > SIM_Q) {
		violation(s, "simulated instruction queue overflow");
		return;
	}
	for (unsigned int i = q->n; i-- > 0;) {
		s->head = (s->head + SIM_Q - 1) % SIM_Q;
		s->q[s->head] = q->op[i];
		s->n++;
	}
}

static void clear_queue(struct sim *s)
{
	s->head = s->n = 0;
	s->depth = 0;
}

/* --- firmware model: boot -------------------------------------------------------------- */

static bool x2(struct sim *s)
{
	return lget(s, VIRQ_LH_FLAGS) & VIRQ_LF_X2APIC;
}

/* ICR write: x2APIC one WRMSR (SDM 11.12.9); xAPIC high dword then low (SDM 11.6.1). */
static void emit_icr(struct sim *s, struct sim_seq *q, uint64_t icr)
{
	if (x2(s)) {
		E(q, SOP_WRMSR, VIRQ_X2APIC_MSR(VIRQ_APIC_ICR_LO), icr);
	} else {
		E(q, SOP_MMIO_W, APIC(VIRQ_APIC_ICR_HI), icr >> 32);
		E(q, SOP_MMIO_W, APIC(VIRQ_APIC_ICR_LO), (uint32_t)icr);
	}
}

static void emit_eoi(struct sim *s, struct sim_seq *q)
{
	if (x2(s))
		E(q, SOP_WRMSR, VIRQ_X2APIC_MSR(VIRQ_APIC_EOI), 0);
	else
		E(q, SOP_MMIO_W, APIC(VIRQ_APIC_EOI), 0);
}

/* 8259A: ICW1-4 then the IMR (firmware.S pic_init). */
static void emit_pic_init(struct sim_seq *q, uint64_t base, uint64_t imr)
{
	base &= 0xf8;
	E(q, SOP_OUT, 0x20, 0x11);
	E(q, SOP_OUT, 0xa0, 0x11);
	E(q, SOP_OUT, 0x21, base);
	E(q, SOP_OUT, 0xa1, base + 8);
	E(q, SOP_OUT, 0x21, 0x04);
	E(q, SOP_OUT, 0xa1, 0x02);
	E(q, SOP_OUT, 0x21, 0x01);
	E(q, SOP_OUT, 0xa1, 0x01);
	E(q, SOP_OUT, 0x21, imr & 0xff);
	E(q, SOP_OUT, 0xa1, (imr >> 8) & 0xff);
}

static void fw_set_pic_base(struct sim *s, uint64_t base)
{
	lset(s, VIRQ_LH_PIC_BASE, base & 0xf8);
}

static void fw_init_done(struct sim *s, uint64_t arg)
{
	struct sim_seq q = { .n = 0 };

	(void)arg;
	lset(s, VIRQ_LH_FLAGS, lget(s, VIRQ_LH_FLAGS) | VIRQ_LF_READY);
	if (lget(s, VIRQ_LH_CPU) == 0 && lget(s, VIRQ_LH_NR_VCPUS) > 1) {
		/* INIT, then two STARTUPs (SDM 8.4.4.1). */
		emit_icr(s, &q, ICR_INIT_ALL_BUT_SELF);
		emit_icr(s, &q, ICR_SIPI_ALL_BUT_SELF);
		emit_icr(s, &q, ICR_SIPI_ALL_BUT_SELF);
	}
	prepend(s, &q); /* then the idle loop, generated when nothing is queued */
}

static void fw_store_id(struct sim *s, uint64_t xapic)
{
	struct sim_seq q = { .n = 0 };

	lset(s, VIRQ_LH_APIC_ID, xapic ? (uint32_t)s->acc >> 24 : (uint32_t)s->acc);
	if (lget(s, VIRQ_LH_CPU) == 0) {
		emit_pic_init(&q, VIRQ_PIC_BOOT_BASE, 0xffff);
		CALL(&q, fw_set_pic_base, VIRQ_PIC_BOOT_BASE);
	}
	CALL(&q, fw_init_done, 0);
	prepend(s, &q);
}

static void fw_x2_enable(struct sim *s, uint64_t arg)
{
	struct sim_seq q = { .n = 0 };

	(void)arg;
	E(&q, SOP_WRMSR, VIRQ_MSR_APIC_BASE, s->acc | VIRQ_APIC_BASE_EN | VIRQ_APIC_BASE_EXTD);
	E(&q, SOP_WRMSR, VIRQ_X2APIC_MSR(VIRQ_APIC_SVR), 0x1ff);
	E(&q, SOP_RDMSR, VIRQ_X2APIC_MSR(VIRQ_APIC_ID), 0);
	CALL(&q, fw_store_id, 0);
	prepend(s, &q);
}

static void fw_cpu_init(struct sim *s, uint64_t arg)
{
	struct sim_seq q = { .n = 0 };

	(void)arg;
	lset(s, VIRQ_LH_FLAGS, lget(s, VIRQ_LH_FLAGS) & ~VIRQ_LF_IN_HANDLER);
	if (x2(s)) {
		E(&q, SOP_RDMSR, VIRQ_MSR_APIC_BASE, 0);
		CALL(&q, fw_x2_enable, 0);
	} else {
		/* Software-enable the LAPIC (SVR bit 8, SDM 11.4.7.2), read the ID. */
		E(&q, SOP_MMIO_W, APIC(VIRQ_APIC_SVR), 0x1ff);
		E(&q, SOP_MMIO_R, APIC(VIRQ_APIC_ID), 0);
		CALL(&q, fw_store_id, 1);
	}
	prepend(s, &q);
}

/* AP entry after the trampoline: which LAPIC am I? (firmware.S ap_entry) */
static void fw_ap_id(struct sim *s, uint64_t xapic)
{
	struct sim_seq q = { .n = 0 };
	uint32_t id = xapic ? (uint32_t)s->acc >> 24 : (uint32_t)s->acc;

	if (id >= VIRQ_VM_MAX_VCPUS || id >= s->c->vm->nr_vcpus) {
		E(&q, SOP_PARK, 0, 0);
	} else {
		s->ledger = virq_guest_ledger_gpa(id);
		CALL(&q, fw_cpu_init, 0);
	}
	prepend(s, &q);
}

static void fw_ap_mode(struct sim *s, uint64_t arg)
{
	struct sim_seq q = { .n = 0 };

	(void)arg;
	if (s->acc & VIRQ_APIC_BASE_EXTD) {
		E(&q, SOP_RDMSR, VIRQ_X2APIC_MSR(VIRQ_APIC_ID), 0);
		CALL(&q, fw_ap_id, 0);
	} else {
		E(&q, SOP_MMIO_R, APIC(VIRQ_APIC_ID), 0);
		CALL(&q, fw_ap_id, 1);
	}
	prepend(s, &q);
}

/* --- firmware model: the handler -------------------------------------------------------- */

static void fw_done(struct sim *s, uint64_t vector)
{
	struct sim_seq q = { .n = 0 };

	if (vector != 2)
		lset(s, VIRQ_LH_FLAGS, lget(s, VIRQ_LH_FLAGS) & ~VIRQ_LF_IN_HANDLER);
	E(&q, SOP_IRET, 0, 0);
	prepend(s, &q);
}

static void fw_eoi_written(struct sim *s, uint64_t arg)
{
	(void)arg;
	linc(s, VIRQ_LH_EOI_WRITTEN);
}

/* PV EOI: `lock btr $0` on the vCPU's PV-EOI word (firmware.S lapic_eoi_now). */
static void fw_eoi_now(struct sim *s, uint64_t vector)
{
	struct sim_seq q = { .n = 0 };
	uint64_t old =
		__atomic_fetch_and(gmem64(s, lget(s, VIRQ_LH_PVEOI)), ~1ull, __ATOMIC_SEQ_CST);

	if (old & 1) {
		linc(s, VIRQ_LH_EOI_SKIPPED);
		SCNT(s, eoi_pv_skipped);
	} else {
		emit_eoi(s, &q);
		CALL(&q, fw_eoi_written, 0);
	}
	CALL(&q, fw_done, vector);
	prepend(s, &q);
}

static uint64_t mb_get(struct sim *s, unsigned int off)
{
	return __atomic_load_n(gmem64(s, lget(s, VIRQ_LH_MBOX) + off), __ATOMIC_ACQUIRE);
}

static void mb_put(struct sim *s, unsigned int off, uint64_t v)
{
	__atomic_store_n(gmem64(s, lget(s, VIRQ_LH_MBOX) + off), v, __ATOMIC_RELEASE);
}

static void fw_mb_fin(struct sim *s, uint64_t arg)
{
	(void)arg;
	linc(s, VIRQ_LH_MBOX_DONE);
	/* Completion last (firmware.S mb_fin). */
	mb_put(s, VIRQ_MB_SEQ_DONE, mb_get(s, VIRQ_MB_SEQ_REQ));
}

static void fw_mb_res(struct sim *s, uint64_t arg)
{
	(void)arg;
	mb_put(s, VIRQ_MB_RESULT, s->acc);
	fw_mb_fin(s, 0);
}

static void fw_mb_x2_flag(struct sim *s, uint64_t arg)
{
	(void)arg;
	lset(s, VIRQ_LH_FLAGS, lget(s, VIRQ_LH_FLAGS) | VIRQ_LF_X2APIC);
	fw_mb_fin(s, 0);
}

static void fw_mb_x2_on(struct sim *s, uint64_t arg)
{
	struct sim_seq q = { .n = 0 };

	(void)arg;
	E(&q, SOP_WRMSR, VIRQ_MSR_APIC_BASE, s->acc | VIRQ_APIC_BASE_EN | VIRQ_APIC_BASE_EXTD);
	CALL(&q, fw_mb_x2_flag, 0);
	prepend(s, &q);
}

static void fw_hold_release(struct sim *s, uint64_t arg);

static void fw_owed_paid(struct sim *s, uint64_t arg)
{
	(void)arg;
	lset(s, VIRQ_LH_HELD_OWED, lget(s, VIRQ_LH_HELD_OWED) - 1);
	linc(s, VIRQ_LH_EOI_WRITTEN);
}

/* Owed EOIs are written one by one: each retires the highest ISR bit (SDM 11.8.4). */
static void fw_hold_release(struct sim *s, uint64_t arg)
{
	struct sim_seq q = { .n = 0 };

	(void)arg;
	if (lget(s, VIRQ_LH_HELD_OWED)) {
		emit_eoi(s, &q);
		CALL(&q, fw_owed_paid, 0);
		CALL(&q, fw_hold_release, 0);
	} else {
		CALL(&q, fw_mb_fin, 0);
	}
	prepend(s, &q);
}

static void fw_mbox_run(struct sim *s, uint64_t arg)
{
	struct sim_seq q = { .n = 0 };
	uint64_t cmd, a0, a1;
	uint32_t off;

	(void)arg;
	if (mb_get(s, VIRQ_MB_SEQ_REQ) == mb_get(s, VIRQ_MB_SEQ_DONE))
		return;
	cmd = mb_get(s, VIRQ_MB_CMD);
	a0 = mb_get(s, VIRQ_MB_ARG0);
	a1 = mb_get(s, VIRQ_MB_ARG1);
	mb_put(s, VIRQ_MB_STATUS, 0);
	off = (uint32_t)a0 & 0xff0;
	switch (cmd) {
	case VIRQ_MBOX_NOP:
		CALL(&q, fw_mb_fin, 0);
		break;
	case VIRQ_MBOX_APIC_WRITE:
		if (x2(s))
			E(&q, SOP_WRMSR, VIRQ_X2APIC_MSR(off), a1);
		else
			E(&q, SOP_MMIO_W, APIC(off), (uint32_t)a1);
		CALL(&q, fw_mb_fin, 0);
		break;
	case VIRQ_MBOX_APIC_READ:
		if (x2(s))
			E(&q, SOP_RDMSR, VIRQ_X2APIC_MSR(off), 0);
		else
			E(&q, SOP_MMIO_R, APIC(off), 0);
		CALL(&q, fw_mb_res, 0);
		break;
	case VIRQ_MBOX_ICR_WRITE:
		emit_icr(s, &q, a0);
		CALL(&q, fw_mb_fin, 0);
		break;
	case VIRQ_MBOX_X2APIC_ON:
		E(&q, SOP_RDMSR, VIRQ_MSR_APIC_BASE, 0);
		CALL(&q, fw_mb_x2_on, 0);
		break;
	case VIRQ_MBOX_OUTB:
		E(&q, SOP_OUT, a0 & 0xffff, a1 & 0xff);
		CALL(&q, fw_mb_fin, 0);
		break;
	case VIRQ_MBOX_INB:
		E(&q, SOP_IN, a0 & 0xffff, 0);
		CALL(&q, fw_mb_res, 0);
		break;
	case VIRQ_MBOX_MMIO_WRITE32:
		E(&q, SOP_MMIO_W, a0, (uint32_t)a1);
		CALL(&q, fw_mb_fin, 0);
		break;
	case VIRQ_MBOX_MMIO_READ32:
		E(&q, SOP_MMIO_R, a0, 0);
		CALL(&q, fw_mb_res, 0);
		break;
	case VIRQ_MBOX_WRMSR:
		E(&q, SOP_WRMSR, a0 & 0xffffffff, a1);
		CALL(&q, fw_mb_fin, 0);
		break;
	case VIRQ_MBOX_RDMSR:
		E(&q, SOP_RDMSR, a0 & 0xffffffff, 0);
		CALL(&q, fw_mb_res, 0);
		break;
	case VIRQ_MBOX_EOI_HOLD:
		if (a0) {
			lset(s, VIRQ_LH_FLAGS, lget(s, VIRQ_LH_FLAGS) | VIRQ_LF_HOLD_EOI);
			CALL(&q, fw_mb_fin, 0);
		} else {
			lset(s, VIRQ_LH_FLAGS, lget(s, VIRQ_LH_FLAGS) & ~VIRQ_LF_HOLD_EOI);
			CALL(&q, fw_hold_release, 0);
		}
		break;
	case VIRQ_MBOX_PIC_INIT:
		emit_pic_init(&q, a0, a1);
		CALL(&q, fw_set_pic_base, a0);
		CALL(&q, fw_mb_fin, 0);
		break;
	case VIRQ_MBOX_IOAPIC_WRITE:
		E(&q, SOP_MMIO_W, VIRQ_IOAPIC_GPA, (uint32_t)a0);
		E(&q, SOP_MMIO_W, VIRQ_IOAPIC_GPA + 0x10, (uint32_t)a1);
		CALL(&q, fw_mb_fin, 0);
		break;
	case VIRQ_MBOX_IOAPIC_READ:
		E(&q, SOP_MMIO_W, VIRQ_IOAPIC_GPA, (uint32_t)a0);
		E(&q, SOP_MMIO_R, VIRQ_IOAPIC_GPA + 0x10, 0);
		CALL(&q, fw_mb_res, 0);
		break;
	case VIRQ_MBOX_STOP:
		E(&q, SOP_OUT, 0xf4, a0 & 0xff);
		CALL(&q, fw_mb_fin, 0);
		break;
	default:
		mb_put(s, VIRQ_MB_STATUS, 1);
		CALL(&q, fw_mb_fin, 0);
		break;
	}
	prepend(s, &q);
}

/* The common handler (firmware.S `handler`), entered with IF=0 by the interrupt gate. */
static void fw_handler(struct sim *s, uint64_t vector)
{
	struct sim_seq q = { .n = 0 };
	unsigned int ve = VIRQ_LEDGER_VEC_OFF + (unsigned int)vector * VIRQ_LEDGER_VEC_SIZE;
	uint64_t seq, base, flags = lget(s, VIRQ_LH_FLAGS);

	if (vector != 2) {
		if (flags & VIRQ_LF_IN_HANDLER)
			linc(s, VIRQ_LH_NESTED);
		lset(s, VIRQ_LH_FLAGS, flags | VIRQ_LF_IN_HANDLER);
	}
	linc(s, VIRQ_LH_SEQ);
	seq = lget(s, VIRQ_LH_SEQ);
	linc(s, ve);
	if (!lget(s, ve + 8))
		lset(s, ve + 8, seq);
	lset(s, ve + 16, seq);
	lset(s, ve + 24, mono_ns());

	if (vector < 32) {
		if (vector == 2) {
			CALL(&q, fw_done, vector); /* NMIs need no EOI */
		} else {
			/* A real exception: record it and park (returning would re-fault). */
			lset(s, VIRQ_LH_EXC_VEC, vector + 1);
			lset(s, VIRQ_LH_EXC_RIP, s->steps);
			E(&q, SOP_PARK, 0, 0);
		}
	} else if (vector == 0xff) {
		CALL(&q, fw_done, vector); /* no EOI for the spurious vector (SDM 11.9) */
	} else if (vector == VIRQ_MBOX_VECTOR) {
		CALL(&q, fw_mbox_run, 0);
		CALL(&q, fw_eoi_now, vector); /* never held */
	} else if ((base = lget(s, VIRQ_LH_PIC_BASE)) && vector - base < 16) {
		/* ExtINT from the 8259A: non-specific EOI, slave first (OCW2). */
		if (vector - base >= 8)
			E(&q, SOP_OUT, 0xa0, 0x20);
		E(&q, SOP_OUT, 0x20, 0x20);
		CALL(&q, fw_done, vector);
	} else if (flags & VIRQ_LF_HOLD_EOI) {
		linc(s, VIRQ_LH_EOI_HELD);
		linc(s, VIRQ_LH_HELD_OWED);
		CALL(&q, fw_done, vector);
	} else {
		CALL(&q, fw_eoi_now, vector);
	}
	prepend(s, &q);
}

/* Interrupt/exception delivery through an IDT gate: push a frame, IF=0 (SDM 6.12.1). */
static void deliver(struct sim *s, uint8_t vector, bool nmi)
{
	struct sim_seq q = { .n = 0 };

	if (s->depth >= SIM_FRAMES) {
		violation(s, "interrupt frames nested deeper than %d", SIM_FRAMES);
		return;
	}
	s->frames[s->depth++] = (struct sim_frame){ s->if_flag, nmi };
	s->if_flag = false;
	s->shadow = false;
	if (nmi)
		s->in_nmi = true;
	CALL(&q, fw_handler, vector);
	prepend(s, &q);
}

/* --- the run loop ------------------------------------------------------------------- */

static bool take_kick(struct sim *s)
{
	bool k;

	pthread_mutex_lock(&s->lock);
	k = s->kicked;
	s->kicked = false;
	pthread_mutex_unlock(&s->lock);
	return k;
}

/* The CPL3 spin: nothing exits until a kick (signal) or the LAPIC timer's kick. */
static void spin_wait(struct sim *s)
{
	uint64_t deadline = s->c->timer_deadline;
	struct timespec ts;

	pthread_mutex_lock(&s->lock);
	while (!s->kicked) {
		if (!deadline) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		ts.tv_sec = (time_t)(deadline / 1000000000ull);
		ts.tv_nsec = (long)(deadline % 1000000000ull);
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT)
			break;
	}
	s->kicked = false;
	pthread_mutex_unlock(&s->lock);
}

/* kvm_run fields KVM fills on every return (post_kvm_run_save). */
static int finish(struct sim *s, int rc)
{
	struct kvm_run *run = s->c->run;

	run->if_flag = s->if_flag;
	run->ready_for_interrupt_injection = s->if_flag && !s->shadow && s->inject < 0;
	if (rc < 0)
		run->exit_reason = KVM_EXIT_INTR;
	return rc;
}

/* Data of a read the VMM completed (KVM completes reads at the next KVM_RUN). */
static void complete_read(struct sim *s)
{
	struct kvm_run *run = s->c->run;
	uint32_t v = 0;

	if (!s->reading)
		return;
	s->reading = false;
	switch (s->pending_read) {
	case SOP_MMIO_R:
		memcpy(&v, run->mmio.data, 4);
		s->acc = v;
		break;
	case SOP_IN:
		s->acc = ((uint8_t *)run)[SIM_IO_OFF];
		break;
	case SOP_RDMSR:
		s->acc = run->msr.data;
		break;
	default:
		break;
	}
}

/* Executes one simulated instruction; returns true when it exits to the VMM. */
static bool step(struct sim *s, struct sim_op op)
{
	struct kvm_run *run = s->c->run;
	uint32_t v32;

	s->steps++;
	switch (op.kind) {
	case SOP_MMIO_W:
		v32 = (uint32_t)op.b;
		if (in_ram(s, op.a, 4)) {
			memcpy(s->c->vm->mem + op.a, &v32, 4);
			return false;
		}
		if (op.a == APIC(VIRQ_APIC_EOI))
			SCNT(s, eoi_mmio);
		run->exit_reason = KVM_EXIT_MMIO;
		run->mmio.phys_addr = op.a;
		run->mmio.len = 4;
		run->mmio.is_write = 1;
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
		memcpy(run->mmio.data, &v32, 4);
		return true;
	case SOP_MMIO_R:
		if (in_ram(s, op.a, 4)) {
			memcpy(&v32, s->c->vm->mem + op.a, 4);
			s->acc = v32;
			return false;
		}
		run->exit_reason = KVM_EXIT_MMIO;
		run->mmio.phys_addr = op.a;
		run->mmio.len = 4;
		run->mmio.is_write = 0;
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
		s->pending_read = SOP_MMIO_R;
		s->reading = true;
		return true;
	case SOP_OUT:
	case SOP_IN:
		run->exit_reason = KVM_EXIT_IO;
		run->io.direction = op.kind == SOP_OUT ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
		run->io.size = 1;
		run->io.port = (uint16_t)op.a;
		run->io.count = 1;
		run->io.data_offset = SIM_IO_OFF;
		((uint8_t *)run)[SIM_IO_OFF] = (uint8_t)op.b;
		if (op.kind == SOP_IN) {
			s->pending_read = SOP_IN;
			s->reading = true;
		}
		return true;
	case SOP_WRMSR:
	case SOP_RDMSR:
		if (op.kind == SOP_WRMSR && op.a == VIRQ_X2APIC_MSR(VIRQ_APIC_EOI))
			SCNT(s, eoi_mmio);
		run->exit_reason = op.kind == SOP_WRMSR ? KVM_EXIT_X86_WRMSR : KVM_EXIT_X86_RDMSR;
		run->msr.index = (uint32_t)op.a;
		run->msr.data = op.kind == SOP_WRMSR ? op.b : 0;
		run->msr.error = 0;
		/* KVM_MSR_EXIT_REASON_INVAL: no in-kernel LAPIC claims the x2APIC range. */
		run->msr.reason = KVM_MSR_EXIT_REASON_INVAL;
		if (op.kind == SOP_RDMSR) {
			s->pending_read = SOP_RDMSR;
			s->reading = true;
		}
		return true;
	case SOP_HLT:
		SCNT(s, hlt_exits);
		run->exit_reason = KVM_EXIT_HLT;
		return true;
	case SOP_STI:
		s->if_flag = true;
		s->shadow = true; /* blocks interrupts until after the next instruction */
		return false;
	case SOP_CLI:
		s->if_flag = false;
		return false;
	case SOP_IRET:
		if (!s->depth) {
			violation(s, "iretq without an interrupt frame");
			return false;
		}
		s->depth--;
		s->if_flag = s->frames[s->depth].if_flag;
		if (s->frames[s->depth].nmi)
			s->in_nmi = false; /* iret ends NMI blocking (SDM 6.7.1) */
		return false;
	case SOP_CALL:
		op.fn(s, op.a);
		return false;
	case SOP_PARK: {
		struct sim_seq q = { .n = 0 };

		s->if_flag = false;
		E(&q, SOP_PARK, 0, 0);
		prepend(s, &q);
		SCNT(s, hlt_exits);
		run->exit_reason = KVM_EXIT_HLT;
		return true;
	}
	}
	return false;
}

static int sim_run(struct virq_vcpu *c)
{
	struct sim *s = c->backend;
	struct kvm_run *run = c->run;

	SCNT(s, runs);
	complete_read(s);
	run->msr.error = 0;
	if (take_kick(s) || run->immediate_exit)
		return finish(s, -EINTR); /* KVM_RUN with immediate_exit set */
	if (!s->started) {
		violation(s, "KVM_RUN on vCPU %u before its SIPI", c->id);
		spin_wait(s);
		return finish(s, -EINTR);
	}
	for (;;) {
		struct sim_op op;

		if (take_kick(s))
			return finish(s, -EINTR);
		/* Event injection at the instruction boundary (SDM 6.9 priorities). */
		if (s->exc_pending) {
			s->exc_pending = false;
			SCNT(s, exceptions);
			deliver(s, s->exc_vector, false);
			continue;
		}
		if (s->nmi_pending && !s->in_nmi) {
			s->nmi_pending = false;
			SCNT(s, nmis);
			deliver(s, 2, true);
			continue;
		}
		if (s->inject >= 0) {
			uint8_t v = (uint8_t)s->inject;

			s->inject = -1;
			deliver(s, v, false);
			continue;
		}
		if (run->request_interrupt_window && s->if_flag && !s->shadow) {
			SCNT(s, window_exits);
			run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
			return finish(s, 0);
		}
		if (!s->n) {
			struct sim_seq q = { .n = 0 };

			if (lget(s, VIRQ_LH_IDLE) == VIRQ_IDLE_CPL3_SPIN) {
				/* iretq to CPL3 with IF=1: runs without exits until kicked. */
				s->if_flag = true;
				s->shadow = false;
				spin_wait(s);
				return finish(s, -EINTR);
			}
			E(&q, SOP_STI, 0, 0);
			E(&q, SOP_HLT, 0, 0);
			prepend(s, &q);
		}
		op = s->q[s->head];
		s->head = (s->head + 1) % SIM_Q;
		s->n--;
		{
			bool had_shadow = s->shadow, exits = step(s, op);

			if (had_shadow && op.kind != SOP_STI)
				s->shadow = false;
			if (exits)
				return finish(s, 0);
		}
	}
}

/* --- ops ------------------------------------------------------------------------------ */

static void sim_kick(struct virq_vcpu *c)
{
	struct sim *s = c->backend;

	pthread_mutex_lock(&s->lock);
	s->kicked = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static int sim_interrupt(struct virq_vcpu *c, uint8_t vector)
{
	struct sim *s = c->backend;

	/* What KVM would do anyway on our hosts (deliver it, PLATFORM.md) is exactly what
	 * the VMM must never ask for. */
	if (!s->if_flag)
		violation(s, "KVM_INTERRUPT %#x on vCPU %u with IF=0", vector, c->id);
	else if (s->shadow)
		violation(s, "KVM_INTERRUPT %#x on vCPU %u in an interrupt shadow", vector, c->id);
	if (s->inject >= 0)
		violation(s, "KVM_INTERRUPT %#x on vCPU %u with %#x still pending", vector, c->id,
			  s->inject);
	s->inject = vector;
	SCNT(s, injections);
	return 0;
}

static int sim_nmi(struct virq_vcpu *c)
{
	struct sim *s = c->backend;

	s->nmi_pending = true; /* one NMI latch (SDM 6.7.1) */
	return 0;
}

static int sim_intr_state(struct virq_vcpu *c, bool *if_flag, bool *shadow)
{
	struct sim *s = c->backend;

	*if_flag = s->if_flag;
	*shadow = s->shadow;
	return 0;
}

static int sim_get_exception(struct virq_vcpu *c, struct virq_cpu_exc *out)
{
	struct sim *s = c->backend;

	memset(out, 0, sizeof(*out));
	out->pending = s->exc_pending;
	out->vector = s->exc_vector;
	out->has_error = s->exc_has_error;
	out->error = s->exc_error;
	return 0;
}

static int sim_exception(struct virq_vcpu *c, uint8_t vector, bool has_error, uint32_t error)
{
	struct sim *s = c->backend;

	s->exc_pending = true;
	s->exc_vector = vector;
	s->exc_has_error = has_error;
	s->exc_error = error;
	return 0;
}

static void sim_reset(struct sim *s)
{
	clear_queue(s);
	s->if_flag = s->shadow = false;
	s->inject = -1;
	s->nmi_pending = s->in_nmi = s->exc_pending = false;
	s->reading = false;
}

static int sim_init(struct virq_vcpu *c)
{
	struct sim *s = c->backend;
	struct sim_seq q = { .n = 0 };

	sim_reset(s);
	/* An AP waits for SIPI; the BSP restarts at the reset vector, where this guest has
	 * no code (no BIOS): it parks, as a real one would run into zeroed memory. */
	s->started = c->id == 0;
	if (s->started) {
		E(&q, SOP_PARK, 0, 0);
		prepend(s, &q);
	}
	return 0;
}

static int sim_sipi(struct virq_vcpu *c, uint8_t vector)
{
	struct sim *s = c->backend;
	struct sim_seq q = { .n = 0 };

	sim_reset(s);
	s->started = true;
	__atomic_store_n(&s->st.sipi_gpa, (uint64_t)vector << 12, __ATOMIC_RELAXED);
	if (vector == VIRQ_SIPI_VECTOR) {
		/* The trampoline reaches long mode with IF=0 and jumps to the AP entry. */
		E(&q, SOP_RDMSR, VIRQ_MSR_APIC_BASE, 0);
		CALL(&q, fw_ap_mode, 0);
	} else {
		E(&q, SOP_PARK, 0, 0);
	}
	prepend(s, &q);
	return 0;
}

static void sim_fini(struct virq_vcpu *c)
{
	struct sim *s = c->backend;

	if (!s)
		return;
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
	free(c->run);
	c->backend = NULL;
	c->run = NULL;
}

int virq_cpu_sim_create(struct virq_vcpu *c)
{
	struct sim *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;

	if (!s)
		return -ENOMEM;
	c->run = calloc(1, SIM_RUN_SIZE);
	if (!c->run) {
		free(s);
		return -ENOMEM;
	}
	c->run_size = SIM_RUN_SIZE;
	s->c = c;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* LAPIC deadlines are monotonic */
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	s->inject = -1;
	s->ledger = virq_guest_ledger_gpa(c->id);
	c->backend = s;
	/* The BSP starts in long mode at the firmware's BSP entry (vm.c setup_bsp). */
	if (c->id == 0) {
		struct sim_seq q = { .n = 0 };

		s->started = true;
		CALL(&q, fw_cpu_init, 0);
		prepend(s, &q);
	}
	return 0;
}

int virq_sim_stats(const struct virq_vm *vm, uint32_t vcpu, struct virq_sim_stats *out)
{
	const struct sim *s;
	const uint64_t *src;
	uint64_t *dst = (uint64_t *)out;

	if (!vm || !out || vcpu >= vm->nr_vcpus || !vm->sim)
		return -EINVAL;
	s = vm->vcpus[vcpu].backend;
	src = (const uint64_t *)&s->st;
	for (size_t i = 0; i < offsetof(struct virq_sim_stats, violation) / sizeof(uint64_t); i++)
		dst[i] = virq_cnt_get(&src[i]);
	memcpy(out->violation, s->st.violation, sizeof(out->violation));
	return 0;
}

const struct virq_cpu_ops virq_cpu_sim_ops = {
	.name = "sim",
	.run = sim_run,
	.kick = sim_kick,
	.interrupt = sim_interrupt,
	.nmi = sim_nmi,
	.intr_state = sim_intr_state,
	.get_exception = sim_get_exception,
	.exception = sim_exception,
	.init = sim_init,
	.sipi = sim_sipi,
	.fini = sim_fini,
};
