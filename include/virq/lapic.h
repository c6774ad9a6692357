/* SPDX-License-Identifier: MIT */
/*
 * virq: local APIC model (xAPIC and x2APIC), Intel SDM Vol. 3A chapter 11.
 *
 * A LAPIC always belongs to an APIC bus (include/virq/apicbus.h), which creates it, owns
 * it and resolves every interrupt message it sends or receives. This header is the
 * per-vCPU interface: the register file (xAPIC MMIO page and x2APIC MSRs), the
 * interrupt-acknowledge cycle, the timer on a caller-supplied clock, the INIT/SIPI
 * state machine and save/restore.
 *
 * Threading: the bus and all its LAPICs form one state machine. The caller serialises
 * every call on one bus (one VM-wide lock, or one thread). Nothing here blocks,
 * allocates or calls an ioctl; the bus's callbacks run on the calling thread. The
 * lock-free cross-thread path is the posted-interrupt descriptor (pi_desc.h).
 *
 * Time: the model never reads a clock. virq_lapic_tick(l, now) moves the LAPIC's notion
 * of time to `now` (nanoseconds, monotonic, never decreasing) and fires expired timers;
 * register accesses use the time of the last tick, so call tick first.
 *
 * Version register: 0x00050014 (KVM's value: version 0x14, max LVT entry 5 = timer,
 * thermal, perf, LINT0, LINT1, error). With `cmci` the LVT CMCI register exists and max
 * LVT is 6 (0x00060014). Bit 24 (directed EOI / EOI-broadcast suppression, SDM 11.8.5)
 * is advertised only when `directed_eoi` says the IOAPIC(s) have an EOI register.
 */
#ifndef VIRQ_LAPIC_H
#define VIRQ_LAPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virq/irq.h"

struct virq_lapic;
struct virq_apicbus;

/* --- xAPIC register offsets in the 4 KiB MMIO page (SDM 11.4.1, Table 11-1) ------ */
#define VIRQ_APIC_ID 0x020
#define VIRQ_APIC_VER 0x030
#define VIRQ_APIC_TPR 0x080
#define VIRQ_APIC_APR 0x090
#define VIRQ_APIC_PPR 0x0A0
#define VIRQ_APIC_EOI 0x0B0
#define VIRQ_APIC_RRD 0x0C0
#define VIRQ_APIC_LDR 0x0D0
#define VIRQ_APIC_DFR 0x0E0
#define VIRQ_APIC_SVR 0x0F0
#define VIRQ_APIC_ISR 0x100 /* 8 registers, 0x100..0x170 */
#define VIRQ_APIC_TMR 0x180
#define VIRQ_APIC_IRR 0x200
#define VIRQ_APIC_ESR 0x280
#define VIRQ_APIC_LVT_CMCI 0x2F0
#define VIRQ_APIC_ICR_LO 0x300
#define VIRQ_APIC_ICR_HI 0x310
#define VIRQ_APIC_LVT_TIMER 0x320
#define VIRQ_APIC_LVT_THERMAL 0x330
#define VIRQ_APIC_LVT_PERF 0x340
#define VIRQ_APIC_LVT_LINT0 0x350
#define VIRQ_APIC_LVT_LINT1 0x360
#define VIRQ_APIC_LVT_ERROR 0x370
#define VIRQ_APIC_TMICT 0x380
#define VIRQ_APIC_TMCCT 0x390
#define VIRQ_APIC_TDCR 0x3E0
#define VIRQ_APIC_SELF_IPI 0x3F0 /* x2APIC only (MSR 0x83F) */

/* --- MSRs (SDM 11.4.4, 11.12.1.2, 11.5.4.1) -------------------------------------- */
#define VIRQ_MSR_APIC_BASE 0x01B
#define VIRQ_MSR_TSC_DEADLINE 0x6E0
#define VIRQ_MSR_X2APIC_FIRST 0x800
#define VIRQ_MSR_X2APIC_LAST 0x8FF
/* x2APIC MSR = 0x800 + (xAPIC offset >> 4) */
#define VIRQ_X2APIC_MSR(off) (VIRQ_MSR_X2APIC_FIRST + ((off) >> 4))

/* IA32_APIC_BASE (SDM 11.4.4, Figure 11-5; 11.12.1 for EXTD). */
#define VIRQ_APIC_BASE_BSP (1ull << 8)
#define VIRQ_APIC_BASE_EXTD (1ull << 10)
#define VIRQ_APIC_BASE_EN (1ull << 11)
#define VIRQ_APIC_BASE_ADDR_SHIFT 12
#define VIRQ_APIC_BASE_DEFAULT 0xFEE00000ull

/* SVR (SDM 11.9, Figure 11-23). */
#define VIRQ_SVR_VECTOR_MASK 0xFFu
#define VIRQ_SVR_ENABLE (1u << 8)
#define VIRQ_SVR_FOCUS_DISABLE (1u << 9)
#define VIRQ_SVR_EOI_SUPPRESS (1u << 12)

/* Version register. */
#define VIRQ_APIC_VER_VERSION 0x14u
#define VIRQ_APIC_VER_MAXLVT_SHIFT 16
#define VIRQ_APIC_VER_DIRECTED_EOI (1u << 24)

/* LVT entries (SDM 11.5.1, Figure 11-8). */
#define VIRQ_LVT_VECTOR_MASK 0xFFu
#define VIRQ_LVT_DM_SHIFT 8
#define VIRQ_LVT_DM_MASK (7u << 8)
#define VIRQ_LVT_DELIV_STATUS (1u << 12)
#define VIRQ_LVT_POLARITY (1u << 13)
#define VIRQ_LVT_REMOTE_IRR (1u << 14)
#define VIRQ_LVT_LEVEL (1u << 15)
#define VIRQ_LVT_MASKED (1u << 16)
#define VIRQ_LVT_TIMER_MODE_SHIFT 17
#define VIRQ_LVT_TIMER_MODE_MASK (3u << 17)
#define VIRQ_LVT_TIMER_ONESHOT 0u
#define VIRQ_LVT_TIMER_PERIODIC 1u
#define VIRQ_LVT_TIMER_TSC_DEADLINE 2u

/* ICR (SDM 11.6.1, Figure 11-12; x2APIC 64-bit form 11.12.9). */
#define VIRQ_ICR_VECTOR_MASK 0xFFull
#define VIRQ_ICR_DM_SHIFT 8
#define VIRQ_ICR_DM_MASK (7ull << 8)
#define VIRQ_ICR_LOGICAL (1ull << 11)
#define VIRQ_ICR_DELIV_STATUS (1ull << 12)
#define VIRQ_ICR_LEVEL_ASSERT (1ull << 14)
#define VIRQ_ICR_TRIGGER_LEVEL (1ull << 15)
#define VIRQ_ICR_SHORTHAND_SHIFT 18
#define VIRQ_ICR_SHORTHAND_MASK (3ull << 18)
#define VIRQ_ICR_XAPIC_DEST_SHIFT 56 /* ICR_HI[31:24] */
#define VIRQ_ICR_X2APIC_DEST_SHIFT 32
/* x2APIC ICR reserved bits that #GP on WRMSR: 13, 17:16, 31:20 (SDM 11.12.9, Figure
 * 11-28; KVM's X2APIC_ICR_RESERVED_BITS). Bit 12 (delivery status) is reserved there too
 * but, as on Intel hardware and in KVM, ignored on write rather than faulted. */
#define VIRQ_ICR_X2APIC_RESERVED 0x00000000FFF32000ull

/* ESR bits (SDM 11.5.3, Figure 11-9). */
#define VIRQ_ESR_SEND_CS (1u << 0)
#define VIRQ_ESR_RECV_CS (1u << 1)
#define VIRQ_ESR_SEND_ACCEPT (1u << 2)
#define VIRQ_ESR_RECV_ACCEPT (1u << 3)
#define VIRQ_ESR_REDIR_IPI (1u << 4)
#define VIRQ_ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define VIRQ_ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define VIRQ_ESR_ILLEGAL_REG (1u << 7)

/* Index of the LVT entries in virq_lapic_lvt() and in the snapshot. */
enum virq_lvt {
	VIRQ_LVT_TIMER = 0,
	VIRQ_LVT_THERMAL,
	VIRQ_LVT_PERF,
	VIRQ_LVT_LINT0,
	VIRQ_LVT_LINT1,
	VIRQ_LVT_ERROR,
	VIRQ_LVT_CMCI,
	VIRQ_LVT__COUNT
};

enum virq_lapic_mode {
	VIRQ_LAPIC_DISABLED = 0, /* IA32_APIC_BASE.EN = 0 */
	VIRQ_LAPIC_XAPIC,
	VIRQ_LAPIC_X2APIC,
};

/* vCPU run state as the LAPIC sees it (SDM 9.4.4: INIT puts an AP in wait-for-SIPI). */
enum virq_vcpu_state {
	VIRQ_VCPU_RUNNING = 0,
	VIRQ_VCPU_WAIT_SIPI,
	VIRQ_VCPU_HALTED,
};

/* Events a vCPU must act on (bus notifier and virq_lapic_take_events()). */
#define VIRQ_LAPIC_EV_INTR (1u << 0) /* a new fixed vector entered IRR */
#define VIRQ_LAPIC_EV_NMI (1u << 1)
#define VIRQ_LAPIC_EV_INIT (1u << 2)
#define VIRQ_LAPIC_EV_SIPI (1u << 3)
#define VIRQ_LAPIC_EV_SMI (1u << 4)
#define VIRQ_LAPIC_EV_EXTINT (1u << 5) /* ExtINT: INTA goes to the PIC */

/* Per-LAPIC configuration (the bus fills apic_id and bsp per CPU). */
struct virq_lapic_config {
	bool x2apic_supported; /* CPUID.1:ECX[21]; else APIC_BASE.EXTD is reserved */
	bool cmci; /* LVT CMCI present (max LVT 6) */
	bool directed_eoi; /* IOAPIC has an EOI register: advertise VER[24] */
	uint64_t bus_hz; /* APIC timer input clock; 0 = 1 GHz (KVM's 1 ns bus cycle) */
	uint64_t tsc_hz; /* guest TSC rate, TSC = now_ns * tsc_hz / 1e9; 0 = no deadline mode */
	uint8_t maxphyaddr; /* APIC_BASE bits >= this are reserved; 0 = 46 */
};

/* Per-pin acceptance counts of IOAPIC messages kept by each LAPIC (pins beyond: in
 * fixed_by_path[VIRQ_PATH_IOAPIC] only). */
#define VIRQ_LAPIC_SRC_PINS 32

/* Counters. Per-vector flows satisfy, for every vector v:
 *   accepted[v] == delivered[v] + irr_discarded[v] + IRR[v]
 *   delivered[v] == eoi[v] + isr_discarded[v] + ISR[v]
 * (discarded: IRR/ISR bits dropped by INIT reset or by hardware-disabling the LAPIC).
 * Fixed and lowest-priority interrupts are also counted by source at acceptance, when
 * they reach IRR whether they set a new bit or merge into one already set, so that
 *   sum of fixed_by_path[] == sum over v of (accepted[v] + coalesced[v])
 * (vectors a restore put into IRR excepted): messages by the path they carry (IOAPIC
 * with its pin, MSI, IPI, ...), local interrupts by LVT: TIMER, LINT (LINT0/LINT1 in
 * fixed mode) and OTHER (error, thermal, perf, CMCI). NMI, INIT, SIPI and ExtINT have
 * their own counters below. */
struct virq_lapic_stats {
	uint64_t accepted[256]; /* vector newly set in IRR */
	uint64_t coalesced[256]; /* vector already in IRR: merged */
	uint64_t delivered[256]; /* acknowledged: IRR -> ISR */
	uint64_t eoi[256];
	uint64_t spurious[256]; /* INTA with nothing deliverable: spurious vector returned */
	uint64_t irr_discarded[256];
	uint64_t isr_discarded[256];
	uint64_t rejected_sw_disabled; /* fixed/lowest to a software-disabled LAPIC */
	uint64_t fixed_deassert; /* fixed/lowest level de-assert message: dropped (KVM) */
	uint64_t recv_illegal_vector;
	uint64_t send_illegal_vector;
	uint64_t illegal_register;
	uint64_t eoi_empty; /* EOI with no ISR bit set */
	uint64_t eoi_broadcast; /* level EOIs sent to the IOAPIC side */
	uint64_t eoi_suppressed; /* level EOIs not broadcast: directed EOI (SVR[12]) */
	uint64_t nmi, nmi_coalesced, smi, smi_coalesced, init, init_deassert, sipi, sipi_ignored;
	uint64_t extint, extint_acks, extint_spurious;
	uint64_t lvt_masked; /* local interrupt source fired while its LVT was masked */
	uint64_t lvt_invalid_dm; /* local interrupt with a reserved delivery mode */
	uint64_t timer_fired, timer_missed; /* missed: periodic expiries merged into one */
	uint64_t ipi_sent, ipi_no_target;
	uint64_t error_interrupts;
	uint64_t gp_faults; /* #GP reported to the caller (MSR interface, APIC_BASE) */
	uint64_t fixed_by_path[VIRQ_PATH__COUNT]; /* enum virq_path, see above */
	uint64_t ioapic_pin[VIRQ_LAPIC_SRC_PINS]; /* fixed_by_path[IOAPIC] by the RTE's pin */
};

/* Snapshot (virq_lapic_save/restore). Fixed-width, no pointers; bump the version on any
 * layout change. Version 1: initial layout. */
#define VIRQ_LAPIC_STATE_MAGIC 0x4C415043u /* "LAPC" */
#define VIRQ_LAPIC_STATE_VERSION 1u
struct virq_lapic_state {
	uint32_t magic;
	uint32_t version;
	uint32_t size; /* sizeof(struct virq_lapic_state) */
	uint32_t initial_id;
	uint64_t apic_base;
	uint32_t id; /* xAPIC ID register value (x2APIC: equal to initial_id) */
	uint32_t tpr, ldr, dfr, svr, esr, esr_pending;
	uint32_t irr[8], isr[8], tmr[8];
	uint64_t icr;
	uint32_t lvt[VIRQ_LVT__COUNT];
	uint32_t tmict, tdcr;
	uint64_t timer_start_ns; /* one-shot/periodic: time TMICT counting (re)started */
	uint64_t timer_next_ns; /* next expiry, 0 = not armed */
	uint64_t tsc_deadline;
	uint64_t now_ns;
	uint32_t events; /* VIRQ_LAPIC_EV_* pending for the vCPU */
	uint32_t vcpu_state; /* enum virq_vcpu_state */
	uint8_t sipi_vector;
	uint8_t lint_level[2];
	uint8_t pad[5];
};

/* What virq_lapic_take_events() hands to the VMM. */
struct virq_lapic_events {
	uint32_t events; /* VIRQ_LAPIC_EV_NMI | _SMI | _INIT | _SIPI taken by this call */
	uint8_t sipi_vector; /* with EV_SIPI: start at physical address sipi_vector << 12 */
	enum virq_vcpu_state state; /* state after the events were applied */
};

/* --- register interface ------------------------------------------------------------ */

/* xAPIC MMIO access to the 32-bit register at `offset` (0..0xFFF) of the APIC page.
 * Returns 0, or -ENXIO when the LAPIC is not in xAPIC mode (SDM 11.12.1.2: the MMIO
 * page is not decoded in x2APIC mode; disabled: no APIC). Reserved registers read 0,
 * ignore writes and latch ESR bit 7; read-only registers ignore writes; bytes 4..15 of
 * each 16-byte slot read 0. A write to ICR_LO sends the IPI (through the bus). */
int virq_lapic_mmio_read(struct virq_lapic *l, uint32_t offset, uint32_t *val);
int virq_lapic_mmio_write(struct virq_lapic *l, uint32_t offset, uint32_t val);

/* MSR access: IA32_APIC_BASE (0x1B), IA32_TSC_DEADLINE (0x6E0) and the x2APIC range
 * 0x800-0x8FF. Returns 0; -EINVAL when the guest must get #GP(0) (x2APIC range outside
 * x2APIC mode, reserved/absent MSR, read of write-only, write of read-only, reserved
 * bits set in ICR, SELF IPI, TPR, EOI, ESR or the upper half of a 32-bit register;
 * illegal APIC_BASE transition, SDM 11.12.5); -ENOENT when `msr` is not a LAPIC MSR. */
int virq_lapic_msr_read(struct virq_lapic *l, uint32_t msr, uint64_t *val);
int virq_lapic_msr_write(struct virq_lapic *l, uint32_t msr, uint64_t val);

/* IA32_APIC_BASE write with the SDM 11.12.5 transition rules. `host` (VMM reset or
 * migration) skips the guest-visible checks except reserved bits. Returns 0 or -EINVAL. */
int virq_lapic_set_apic_base(struct virq_lapic *l, uint64_t value, bool host);
uint64_t virq_lapic_apic_base(const struct virq_lapic *l);
enum virq_lapic_mode virq_lapic_mode(const struct virq_lapic *l);
/* Current APIC ID: xAPIC ID[31:24], or the 32-bit x2APIC ID. */
uint32_t virq_lapic_id(const struct virq_lapic *l);
unsigned int virq_lapic_cpu(const struct virq_lapic *l); /* index on its bus */

/* --- interrupt acknowledge cycle ---------------------------------------------------- */

/* Highest-priority vector in IRR whose priority class exceeds PPR[7:4] (SDM 11.8.3), or
 * -1. Does not consider ExtINT (see virq_lapic_has_extint()). */
int virq_lapic_pending(const struct virq_lapic *l);
/* True when an ExtINT (LINT0 virtual wire or an ExtINT message) awaits INTA. */
bool virq_lapic_has_extint(const struct virq_lapic *l);
/* INTA cycle on the vCPU thread when the guest can take an interrupt: ExtINT first (the
 * vector comes from the bus ops' extint_ack, i.e. the PIC), else IRR -> ISR of the
 * pending vector (SDM 11.8.4), else the spurious vector (SVR[7:0], SDM 11.9). */
int virq_lapic_ack(struct virq_lapic *l);
/* EOI as if the guest wrote the EOI register (SDM 11.8.5). */
void virq_lapic_eoi(struct virq_lapic *l);

/* Level of the LINT0 (pin 0) or LINT1 (pin 1) input. LINT0 in ExtINT mode is the
 * virtual wire from the PIC; LINT1 is normally NMI. Returns 0 or -EINVAL (bad pin). */
int virq_lapic_set_lint(struct virq_lapic *l, unsigned int pin, bool level);

/* --- timer ---------------------------------------------------------------------------- */

/* Advance time to `now` (ns) and fire expired timers (one-shot, periodic, TSC-deadline,
 * SDM 11.5.4). A periodic timer that missed several periods fires once (counted). */
void virq_lapic_tick(struct virq_lapic *l, uint64_t now);
/* Next expiry in ns, or 0 when no timer is armed. */
uint64_t virq_lapic_timer_deadline(const struct virq_lapic *l);

/* --- INIT / SIPI / NMI / SMI --------------------------------------------------------- */

/* vCPU thread: takes pending NMI, SMI, INIT and SIPI. INIT resets the LAPIC (except
 * APIC ID and IA32_APIC_BASE, SDM 11.4.7.3) and moves an AP to wait-for-SIPI and the BSP
 * to running (it restarts at the reset vector); a SIPI is taken only in wait-for-SIPI
 * (otherwise dropped, counted; an INIT also drops a SIPI received before it). NMI/SMI stay pending while in wait-for-SIPI. Fixed
 * interrupts are not events to take: use virq_lapic_pending()/ack(). Returns 0. */
int virq_lapic_take_events(struct virq_lapic *l, struct virq_lapic_events *ev);
/* Pending VIRQ_LAPIC_EV_* bits (INTR means a deliverable vector; EXTINT likewise). */
uint32_t virq_lapic_pending_events(const struct virq_lapic *l);
enum virq_vcpu_state virq_lapic_vcpu_state(const struct virq_lapic *l);
/* The VMM reports HLT (HALTED) or a wake-up (RUNNING). -EINVAL for other values. */
int virq_lapic_set_vcpu_state(struct virq_lapic *l, enum virq_vcpu_state s);

/* --- save / restore / stats ----------------------------------------------------------- */

void virq_lapic_save(const struct virq_lapic *l, struct virq_lapic_state *st);
/* Validates magic, version, size, APIC_BASE, register reserved bits, enums and the
 * x2APIC ID; on error returns -EINVAL and leaves the LAPIC untouched. Rebuilds the bus
 * maps. Counters are not part of the snapshot. */
int virq_lapic_restore(struct virq_lapic *l, const struct virq_lapic_state *st);
const struct virq_lapic_stats *virq_lapic_stats(const struct virq_lapic *l);

#endif /* VIRQ_LAPIC_H */
