// SPDX-License-Identifier: MIT
/*
 * Local APIC model: register file, priorities, acknowledge/EOI, LVT, timer, INIT/SIPI.
 * Intel SDM Vol. 3A chapter 11 ("Advanced Programmable Interrupt Controller").
 */
#include <errno.h>
#include <string.h>

#include "lapic_internal.h"

#define NSEC_PER_SEC 1000000000ull
#define LVT_NR(l) ((l)->cfg.cmci ? 7u : 6u)
#define EV_LATCHED                                                                         \
	(VIRQ_LAPIC_EV_NMI | VIRQ_LAPIC_EV_INIT | VIRQ_LAPIC_EV_SIPI | VIRQ_LAPIC_EV_SMI | \
	 VIRQ_LAPIC_EV_EXTINT)

/* Writable bits per LVT (SDM 11.5.1, Figure 11-8). Delivery status and remote IRR are
 * read-only; the timer and error LVTs have no delivery-mode field (always fixed). */
static const uint32_t lvt_writable[VIRQ_LVT__COUNT] = {
	[VIRQ_LVT_TIMER] = VIRQ_LVT_MASKED | VIRQ_LVT_TIMER_MODE_MASK | VIRQ_LVT_VECTOR_MASK,
	[VIRQ_LVT_THERMAL] = VIRQ_LVT_MASKED | VIRQ_LVT_DM_MASK | VIRQ_LVT_VECTOR_MASK,
	[VIRQ_LVT_PERF] = VIRQ_LVT_MASKED | VIRQ_LVT_DM_MASK | VIRQ_LVT_VECTOR_MASK,
	[VIRQ_LVT_LINT0] = VIRQ_LVT_MASKED | VIRQ_LVT_LEVEL | VIRQ_LVT_POLARITY | VIRQ_LVT_DM_MASK |
			   VIRQ_LVT_VECTOR_MASK,
	/* SDM 11.5.1: LINT1 does not support level-sensitive interrupts; bit 15 reads 0. */
	[VIRQ_LVT_LINT1] =
		VIRQ_LVT_MASKED | VIRQ_LVT_POLARITY | VIRQ_LVT_DM_MASK | VIRQ_LVT_VECTOR_MASK,
	[VIRQ_LVT_ERROR] = VIRQ_LVT_MASKED | VIRQ_LVT_VECTOR_MASK,
	[VIRQ_LVT_CMCI] = VIRQ_LVT_MASKED | VIRQ_LVT_DM_MASK | VIRQ_LVT_VECTOR_MASK,
};

/* --- 256-bit vector sets, laid out as the IRR/ISR/TMR registers (bit v%32 of word v/32) */

static inline bool vec_test(const uint32_t *r, unsigned int v)
{
	return r[v >> 5] & (1u << (v & 31));
}

static inline void vec_set(uint32_t *r, unsigned int v)
{
	r[v >> 5] |= 1u << (v & 31);
}

static inline void vec_clear(uint32_t *r, unsigned int v)
{
	r[v >> 5] &= ~(1u << (v & 31));
}

/* Summary byte of a vector set: bit w set iff word w is nonzero. */
static inline uint8_t vec_summary(const uint32_t *r)
{
	uint8_t sum = 0;

	for (unsigned int i = 0; i < 8; i++)
		sum |= (uint8_t)((r[i] != 0) << i);
	return sum;
}

/* Highest vector of a set whose summary byte is `sum`, or -1: the highest nonzero word
 * comes from the summary, the highest bit in it from the word (no scan). */
static inline int vec_highest_sum(const uint32_t *r, unsigned int sum)
{
	unsigned int w;

	if (!sum)
		return -1;
	w = 31 - (unsigned int)__builtin_clz(sum);
	return (int)(w * 32 + 31 - (unsigned int)__builtin_clz(r[w]));
}

/* IRR/ISR updates go through these four so irr_sum/isr_sum stay exact. */
static inline void irr_set(struct virq_lapic *l, unsigned int v)
{
	vec_set(l->irr, v);
	l->irr_sum |= (uint8_t)(1u << (v >> 5));
}

static inline void irr_clear(struct virq_lapic *l, unsigned int v)
{
	vec_clear(l->irr, v);
	if (!l->irr[v >> 5])
		l->irr_sum &= (uint8_t) ~(1u << (v >> 5));
}

static inline void isr_set(struct virq_lapic *l, unsigned int v)
{
	vec_set(l->isr, v);
	l->isr_sum |= (uint8_t)(1u << (v >> 5));
}

static inline void isr_clear(struct virq_lapic *l, unsigned int v)
{
	vec_clear(l->isr, v);
	if (!l->isr[v >> 5])
		l->isr_sum &= (uint8_t) ~(1u << (v >> 5));
}

/* IRRV and ISRV of SDM 11.8.3.1 / 11.8.4: highest pending and in-service vector, or -1. */
static inline int irr_highest(const struct virq_lapic *l)
{
	return vec_highest_sum(l->irr, l->irr_sum);
}

static inline int isr_highest(const struct virq_lapic *l)
{
	return vec_highest_sum(l->isr, l->isr_sum);
}

static inline bool lapic_x2(const struct virq_lapic *l)
{
	return (l->apic_base & (VIRQ_APIC_BASE_EN | VIRQ_APIC_BASE_EXTD)) ==
	       (VIRQ_APIC_BASE_EN | VIRQ_APIC_BASE_EXTD);
}

static inline bool lapic_hw_enabled(const struct virq_lapic *l)
{
	return l->apic_base & VIRQ_APIC_BASE_EN;
}

bool virq_lapic_sw_enabled(const struct virq_lapic *l)
{
	return l->svr & VIRQ_SVR_ENABLE;
}

static uint32_t lapic_version(const struct virq_lapic *l)
{
	return VIRQ_APIC_VER_VERSION | ((LVT_NR(l) - 1) << VIRQ_APIC_VER_MAXLVT_SHIFT) |
	       (l->cfg.directed_eoi ? VIRQ_APIC_VER_DIRECTED_EOI : 0);
}

static uint32_t svr_writable(const struct virq_lapic *l)
{
	/* SVR[12] exists only when VER[24] advertises it (SDM 11.8.5, 11.9). */
	return VIRQ_SVR_VECTOR_MASK | VIRQ_SVR_ENABLE | VIRQ_SVR_FOCUS_DISABLE |
	       (l->cfg.directed_eoi ? VIRQ_SVR_EOI_SUPPRESS : 0);
}

/* SDM 11.12.10.2: x2APIC logical ID = cluster ID[19:4] in LDR[31:16], 1 << ID[3:0]. */
static uint32_t x2apic_ldr(uint32_t id)
{
	return ((id >> 4) << 16) | (1u << (id & 0xF));
}

/* SDM 11.8.3.1: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4] << 4. Recomputed
 * into l->ppr whenever TPR or ISR changes, so reads and INTA cycles only load it. */
static void ppr_update(struct virq_lapic *l)
{
	int isrv = isr_highest(l);
	uint32_t isr_class = isrv < 0 ? 0 : ((uint32_t)isrv & 0xF0);

	l->ppr = (l->tpr & 0xF0) >= isr_class ? l->tpr & 0xFF : isr_class;
}

/* After IRR/ISR/TPR were replaced wholesale (reset, restore): rebuild the derived state. */
static void lapic_recompute_caches(struct virq_lapic *l)
{
	l->irr_sum = vec_summary(l->irr);
	l->isr_sum = vec_summary(l->isr);
	ppr_update(l);
}

/* Arbitration priority (SDM 10.6.2.4 in the P6-era text, kept in 11.6.2.4's lowest-
 * priority discussion): TPR when TPR[7:4] >= IRRV[7:4] and TPR[7:4] > ISRV[7:4], else
 * the highest of the three classes with APR[3:0] = 0. */
uint32_t virq_lapic_apr(const struct virq_lapic *l)
{
	int irrv = irr_highest(l), isrv = isr_highest(l);
	uint32_t tc = l->tpr & 0xF0, ic = irrv < 0 ? 0 : (uint32_t)irrv & 0xF0;
	uint32_t sc = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0, m = tc;

	if (tc >= ic && tc > sc)
		return l->tpr & 0xFF;
	if (ic > m)
		m = ic;
	if (sc > m)
		m = sc;
	return m;
}

bool virq_lapic_vector_in_service_or_pending(const struct virq_lapic *l, uint8_t vector)
{
	return vec_test(l->irr, vector) || vec_test(l->isr, vector);
}

static void lapic_notify(struct virq_lapic *l, uint32_t ev)
{
	virq_apicbus_notify(l->bus, l->cpu, ev);
}

/* --- acceptance -------------------------------------------------------------------- */

/* Fixed interrupt into IRR; TMR records the trigger mode on acceptance (SDM 11.8.4). */
static int lapic_set_irr(struct virq_lapic *l, uint8_t v, bool level)
{
	if (vec_test(l->irr, v)) {
		l->stats.coalesced[v]++;
		return VIRQ_RES_COALESCED;
	}
	irr_set(l, v);
	if (level)
		vec_set(l->tmr, v);
	else
		vec_clear(l->tmr, v);
	l->stats.accepted[v]++;
	lapic_notify(l, VIRQ_LAPIC_EV_INTR);
	return 1;
}

/* An error condition: ESR bits accumulate in esr_pending until the next ESR write, and
 * each error raises the error LVT (SDM 11.5.3). An illegal vector in the error LVT itself
 * only adds the receive-illegal bit: no recursion. */
static void lapic_error(struct virq_lapic *l, uint32_t bits)
{
	uint32_t lvt = l->lvt[VIRQ_LVT_ERROR];
	uint8_t v = lvt & VIRQ_LVT_VECTOR_MASK;

	l->esr_pending |= bits;
	if (lvt & VIRQ_LVT_MASKED) {
		l->stats.lvt_masked++;
		return;
	}
	l->stats.error_interrupts++;
	if (v < 16) {
		l->esr_pending |= VIRQ_ESR_RECV_ILLEGAL_VECTOR;
		l->stats.recv_illegal_vector++;
		return;
	}
	l->stats.fixed_by_path[VIRQ_PATH_OTHER]++;
	lapic_set_irr(l, v, false);
}

static int lapic_latch(struct virq_lapic *l, uint32_t ev, uint64_t *count, uint64_t *coalesced)
{
	if (l->events & ev) {
		if (coalesced)
			(*coalesced)++;
		return VIRQ_RES_COALESCED;
	}
	l->events |= ev;
	(*count)++;
	lapic_notify(l, ev);
	return 1;
}

static int lapic_nmi(struct virq_lapic *l)
{
	/* One NMI latch: an NMI arriving while one is pending is merged (SDM 6.7.1). */
	return lapic_latch(l, VIRQ_LAPIC_EV_NMI, &l->stats.nmi, &l->stats.nmi_coalesced);
}

/* The path of a local interrupt source, for fixed_by_path[] (lapic.h). */
static enum virq_path lvt_path(enum virq_lvt idx)
{
	return idx == VIRQ_LVT_TIMER			      ? VIRQ_PATH_TIMER :
	       idx == VIRQ_LVT_LINT0 || idx == VIRQ_LVT_LINT1 ? VIRQ_PATH_LINT :
								VIRQ_PATH_OTHER;
}

static int lapic_local_fixed(struct virq_lapic *l, uint8_t v, bool level, enum virq_lvt idx)
{
	/* SDM 11.5.3 ESR[6]: an illegal vector from the LVT or a self IPI is a receive
	 * error; the interrupt is not accepted. */
	if (v < 16) {
		l->stats.recv_illegal_vector++;
		lapic_error(l, VIRQ_ESR_RECV_ILLEGAL_VECTOR);
		return -EINVAL;
	}
	l->stats.fixed_by_path[lvt_path(idx)]++;
	return lapic_set_irr(l, v, level);
}

int virq_lapic_accept(struct virq_lapic *l, const struct virq_irq *irq)
{
	switch (irq->delivery_mode) {
	case VIRQ_DM_FIXED:
	case VIRQ_DM_LOWEST:
		/* SDM 11.6.1: level 0 is meant only for INIT level de-assert; a level-
		 * triggered fixed/lowest message with level 0 is a de-assert and asserts
		 * nothing. KVM's __apic_accept_irq drops it likewise (result 0). */
		if (irq->level_trig && !irq->level) {
			l->stats.fixed_deassert++;
			return VIRQ_RES_COALESCED;
		}
		/* KVM drops fixed interrupts to a software-disabled APIC (SDM 11.4.7.2). */
		if (!virq_lapic_sw_enabled(l)) {
			l->stats.rejected_sw_disabled++;
			return -ENXIO;
		}
		if (irq->vector < 16) {
			l->stats.recv_illegal_vector++;
			lapic_error(l, VIRQ_ESR_RECV_ILLEGAL_VECTOR);
			return -EINVAL;
		}
		/* By source, new or coalesced alike (lapic.h): one increment on this path. */
		l->stats.fixed_by_path[irq->path < VIRQ_PATH__COUNT ? irq->path :
								      VIRQ_PATH_OTHER]++;
		if (irq->path == VIRQ_PATH_IOAPIC && irq->pin < VIRQ_LAPIC_SRC_PINS)
			l->stats.ioapic_pin[irq->pin]++;
		return lapic_set_irr(l, irq->vector, irq->level_trig);
	case VIRQ_DM_SMI:
		return lapic_latch(l, VIRQ_LAPIC_EV_SMI, &l->stats.smi, &l->stats.smi_coalesced);
	case VIRQ_DM_NMI:
		return lapic_nmi(l);
	case VIRQ_DM_INIT:
		/* INIT level de-assert (level trigger, level 0) only re-synchronised arbitration
		 * IDs on P6; Pentium 4 and later ignore it (SDM 11.6.1). KVM returns 0. */
		if (irq->level_trig && !irq->level) {
			l->stats.init_deassert++;
			return VIRQ_RES_COALESCED;
		}
		/* SDM 9.4.4: a SIPI counts only in wait-for-SIPI, which this INIT starts. A
		 * SIPI still latched from before (received while running, not yet taken by
		 * the vCPU) is not part of the new INIT-SIPI sequence: drop it, or taking
		 * both events would restart the AP (KVM likewise replaces its pending events
		 * by the INIT). */
		if (l->events & VIRQ_LAPIC_EV_SIPI) {
			l->events &= ~VIRQ_LAPIC_EV_SIPI;
			l->stats.sipi_ignored++;
		}
		return lapic_latch(l, VIRQ_LAPIC_EV_INIT, &l->stats.init, NULL);
	case VIRQ_DM_STARTUP:
		l->sipi_vector = irq->vector;
		return lapic_latch(l, VIRQ_LAPIC_EV_SIPI, &l->stats.sipi, NULL);
	case VIRQ_DM_EXTINT:
		return lapic_latch(l, VIRQ_LAPIC_EV_EXTINT, &l->stats.extint, NULL);
	default:
		return -EINVAL; /* remote read: reserved */
	}
}

/* A local interrupt source (LVT entry) fires (SDM 11.5.1). */
static void lapic_lvt_fire(struct virq_lapic *l, enum virq_lvt idx)
{
	uint32_t lvt = l->lvt[idx];
	uint8_t v = lvt & VIRQ_LVT_VECTOR_MASK;
	unsigned int dm = (lvt & VIRQ_LVT_DM_MASK) >> VIRQ_LVT_DM_SHIFT;

	if (lvt & VIRQ_LVT_MASKED) {
		l->stats.lvt_masked++;
		return;
	}
	if (idx == VIRQ_LVT_TIMER || idx == VIRQ_LVT_ERROR)
		dm = VIRQ_DM_FIXED;
	switch (dm) {
	case VIRQ_DM_FIXED:
		lapic_local_fixed(l, v, (lvt & VIRQ_LVT_LEVEL) != 0, idx);
		if ((lvt & VIRQ_LVT_LEVEL) && idx == VIRQ_LVT_LINT0 && v >= 16)
			l->lvt[idx] |= VIRQ_LVT_REMOTE_IRR;
		return;
	case VIRQ_DM_SMI:
		lapic_latch(l, VIRQ_LAPIC_EV_SMI, &l->stats.smi, &l->stats.smi_coalesced);
		return;
	case VIRQ_DM_NMI:
		lapic_nmi(l);
		return;
	case VIRQ_DM_INIT:
		if (idx == VIRQ_LVT_LINT0 || idx == VIRQ_LVT_LINT1) {
			lapic_latch(l, VIRQ_LAPIC_EV_INIT, &l->stats.init, NULL);
			return;
		}
		break;
	case VIRQ_DM_EXTINT:
		/* ExtINT is level-sensitive (SDM 11.5.1): it stays pending while the pin is
		 * high; virq_lapic_has_extint() reads the pin, here we only kick the vCPU. */
		if (idx == VIRQ_LVT_LINT0 || idx == VIRQ_LVT_LINT1) {
			l->stats.extint++;
			lapic_notify(l, VIRQ_LAPIC_EV_EXTINT);
			return;
		}
		break;
	default:
		break;
	}
	l->stats.lvt_invalid_dm++;
}

int virq_lapic_set_lint(struct virq_lapic *l, unsigned int pin, bool level)
{
	uint32_t lvt;
	bool rising;

	if (pin > 1)
		return -EINVAL;
	rising = level && !l->lint_level[pin];
	l->lint_level[pin] = level;
	/* SDM 11.4.3: with the APIC hardware-disabled, LINT0/LINT1 are the CPU's INTR and
	 * NMI pins directly. */
	if (!lapic_hw_enabled(l)) {
		if (rising && pin == 1)
			lapic_nmi(l);
		else if (rising)
			lapic_notify(l, VIRQ_LAPIC_EV_EXTINT);
		return 0;
	}
	lvt = l->lvt[VIRQ_LVT_LINT0 + pin];
	if ((lvt & VIRQ_LVT_DM_MASK) >> VIRQ_LVT_DM_SHIFT == VIRQ_DM_FIXED &&
	    (lvt & VIRQ_LVT_LEVEL)) {
		/* Level-triggered fixed: one interrupt per remote-IRR cycle (SDM 11.5.1). */
		if (level && !(lvt & VIRQ_LVT_REMOTE_IRR))
			lapic_lvt_fire(l, VIRQ_LVT_LINT0 + pin);
		return 0;
	}
	if (rising)
		lapic_lvt_fire(l, VIRQ_LVT_LINT0 + pin);
	return 0;
}

bool virq_lapic_has_extint(const struct virq_lapic *l)
{
	uint32_t lvt0 = l->lvt[VIRQ_LVT_LINT0];

	if (l->events & VIRQ_LAPIC_EV_EXTINT)
		return true;
	if (!l->lint_level[0])
		return false;
	if (!lapic_hw_enabled(l))
		return true;
	return !(lvt0 & VIRQ_LVT_MASKED) &&
	       (lvt0 & VIRQ_LVT_DM_MASK) >> VIRQ_LVT_DM_SHIFT == VIRQ_DM_EXTINT;
}

/* --- acknowledge / EOI ---------------------------------------------------------------- */

int virq_lapic_pending(const struct virq_lapic *l)
{
	int irrv = irr_highest(l);

	/* SDM 11.8.3: deliverable only if its priority class exceeds PPR[7:4]. */
	if (irrv < 0 || ((uint32_t)irrv & 0xF0) <= (l->ppr & 0xF0))
		return -1;
	return irrv;
}

int virq_lapic_ack(struct virq_lapic *l)
{
	int v;

	if (virq_lapic_has_extint(l)) {
		l->events &= ~VIRQ_LAPIC_EV_EXTINT;
		l->stats.extint_acks++;
		v = virq_apicbus_extint_ack(l->bus, l->cpu);
		if (v >= 0 && v <= 255)
			return v;
		l->stats.extint_spurious++;
		return l->svr & VIRQ_SVR_VECTOR_MASK;
	}
	v = virq_lapic_pending(l);
	if (v < 0) {
		/* SDM 11.9: INTA with nothing deliverable returns the spurious vector and
		 * sets no ISR bit. */
		l->stats.spurious[l->svr & VIRQ_SVR_VECTOR_MASK]++;
		return l->svr & VIRQ_SVR_VECTOR_MASK;
	}
	irr_clear(l, v);
	isr_set(l, v);
	/* v's class exceeded PPR[7:4] >= TPR[7:4] and >= the old ISRV[7:4], so v is the new
	 * ISRV and, by SDM 11.8.3.1, PPR becomes its class: no rescan needed. */
	l->ppr = (uint32_t)v & 0xF0;
	l->stats.delivered[v]++;
	return v;
}

void virq_lapic_eoi(struct virq_lapic *l)
{
	int v = isr_highest(l);

	if (v < 0) {
		l->stats.eoi_empty++;
		return;
	}
	/* SDM 11.8.5: EOI retires the highest-priority in-service vector; PPR drops to
	 * the next one (or TPR). */
	isr_clear(l, v);
	ppr_update(l);
	l->stats.eoi[v]++;
	if (!vec_test(l->tmr, v))
		return;
	/* Level-triggered local LINT0 source: EOI clears its remote IRR, and a line still
	 * high fires again (SDM 11.5.1). */
	for (unsigned int pin = 0; pin < 2; pin++) {
		uint32_t *lvt = &l->lvt[VIRQ_LVT_LINT0 + pin];

		if ((*lvt & VIRQ_LVT_REMOTE_IRR) && (*lvt & VIRQ_LVT_VECTOR_MASK) == (uint32_t)v) {
			*lvt &= ~VIRQ_LVT_REMOTE_IRR;
			if (l->lint_level[pin])
				lapic_lvt_fire(l, VIRQ_LVT_LINT0 + pin);
		}
	}
	/* SDM 11.8.5: a level EOI is broadcast to the IOAPICs unless SVR[12] suppresses it
	 * (directed EOI: the OS writes the IOAPIC's EOI register itself). */
	if (l->svr & VIRQ_SVR_EOI_SUPPRESS) {
		l->stats.eoi_suppressed++;
		return;
	}
	l->stats.eoi_broadcast++;
	virq_apicbus_eoi_broadcast(l->bus, (uint8_t)v);
}

/* --- timer (SDM 11.5.4) --------------------------------------------------------------- */

static unsigned int timer_mode(const struct virq_lapic *l)
{
	return (l->lvt[VIRQ_LVT_TIMER] & VIRQ_LVT_TIMER_MODE_MASK) >> VIRQ_LVT_TIMER_MODE_SHIFT;
}

/* Divide configuration, SDM Figure 11-10: bits 0,1,3 encode 2^(n+1), 111b = 1. */
static uint64_t timer_divisor(uint32_t tdcr)
{
	uint32_t n = (tdcr & 3) | ((tdcr & 8) >> 1);

	return 1ull << ((n + 1) & 7);
}

static uint64_t bus_hz(const struct virq_lapic *l)
{
	return l->cfg.bus_hz ? l->cfg.bus_hz : NSEC_PER_SEC;
}

/* Length of one count-down from TMICT, in ns (rounded up, at least 1). */
static uint64_t timer_period_ns(const struct virq_lapic *l)
{
	unsigned __int128 t = (unsigned __int128)l->tmict * timer_divisor(l->tdcr) * NSEC_PER_SEC;
	uint64_t ns = (uint64_t)((t + bus_hz(l) - 1) / bus_hz(l));

	return ns ? ns : 1;
}

/* Current count (SDM 11.5.4). The count is kept as the time of the next expiry
 * (timer_next): what is left of the count-down, in bus counts, rounded up. The mode bits
 * only say what happens when the count reaches zero (periodic: reload from TMICT;
 * one-shot: stop), so a mode change between the two keeps the count as it is, as KVM's
 * apic_update_lvtt: periodic at 2.5 periods switched to one-shot reads half a count-down
 * and expires at 3 periods; an expired one-shot (timer_next 0) switched to periodic reads
 * 0 until TMICT is written again. */
static uint32_t timer_ccr(const struct virq_lapic *l)
{
	unsigned __int128 ticks, den;

	if (timer_mode(l) == VIRQ_LVT_TIMER_TSC_DEADLINE || !l->tmict || !l->timer_next ||
	    l->timer_next <= l->now)
		return 0;
	den = (unsigned __int128)NSEC_PER_SEC * timer_divisor(l->tdcr);
	ticks = ((unsigned __int128)(l->timer_next - l->now) * bus_hz(l) + den - 1) / den;
	return ticks >= l->tmict ? l->tmict : (uint32_t)ticks;
}

static void timer_disarm(struct virq_lapic *l)
{
	l->timer_next = 0;
	l->tsc_deadline = 0;
}

static void timer_start(struct virq_lapic *l)
{
	l->timer_start = l->now;
	l->timer_next = l->tmict ? l->now + timer_period_ns(l) : 0;
}

static uint64_t tsc_to_ns(const struct virq_lapic *l, uint64_t tsc)
{
	unsigned __int128 t = (unsigned __int128)tsc * NSEC_PER_SEC;
	unsigned __int128 ns = (t + l->cfg.tsc_hz - 1) / l->cfg.tsc_hz;

	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

void virq_lapic_tick(struct virq_lapic *l, uint64_t now)
{
	if (now > l->now)
		l->now = now;
	if (!l->timer_next || l->now < l->timer_next)
		return;
	if (timer_mode(l) == VIRQ_LVT_TIMER_PERIODIC && l->tmict) {
		uint64_t period = timer_period_ns(l);
		uint64_t missed = (l->now - l->timer_next) / period;

		l->timer_next += (missed + 1) * period;
		l->timer_start = l->timer_next - period;
		l->stats.timer_missed += missed;
	} else {
		/* One-shot, or TSC deadline: the MSR reads 0 after expiry (SDM 11.5.4.1). */
		timer_disarm(l);
	}
	l->stats.timer_fired++;
	lapic_lvt_fire(l, VIRQ_LVT_TIMER);
}

uint64_t virq_lapic_timer_deadline(const struct virq_lapic *l)
{
	return l->timer_next;
}

/* --- reset ------------------------------------------------------------------------- */

static void discard_vectors(struct virq_lapic *l)
{
	for (unsigned int v = 0; v < 256; v++) {
		if (vec_test(l->irr, v))
			l->stats.irr_discarded[v]++;
		if (vec_test(l->isr, v))
			l->stats.isr_discarded[v]++;
	}
	memset(l->irr, 0, sizeof(l->irr));
	memset(l->isr, 0, sizeof(l->isr));
	memset(l->tmr, 0, sizeof(l->tmr));
	l->irr_sum = l->isr_sum = 0;
}

/* Register state after power-up or INIT (SDM 11.4.7.1, 11.4.7.3); ID and APIC_BASE are
 * handled by the callers. KVM re-enables LVT0 as ExtINT on the BSP at every reset
 * (its LINT0_REENABLED quirk); we do the same so a PIC guest works as under KVM. This is
 * the one state where an LVT is unmasked while SVR says software-disabled. */
static void lapic_reset_regs(struct virq_lapic *l)
{
	discard_vectors(l);
	l->tpr = 0;
	ppr_update(l);
	l->ldr = lapic_x2(l) ? x2apic_ldr(l->initial_id) : 0; /* x2APIC LDR is derived */
	l->dfr = 0xFFFFFFFFu;
	l->svr = 0xFF;
	l->esr = l->esr_pending = 0;
	l->icr = 0;
	for (unsigned int i = 0; i < VIRQ_LVT__COUNT; i++)
		l->lvt[i] = VIRQ_LVT_MASKED;
	if (l->apic_base & VIRQ_APIC_BASE_BSP)
		l->lvt[VIRQ_LVT_LINT0] = VIRQ_DM_EXTINT << VIRQ_LVT_DM_SHIFT;
	l->tmict = 0;
	l->tdcr = 0;
	l->timer_start = 0;
	timer_disarm(l);
	l->events &= ~(VIRQ_LAPIC_EV_NMI | VIRQ_LAPIC_EV_SMI | VIRQ_LAPIC_EV_EXTINT);
	virq_apicbus_map_dirty(l->bus);
}

void virq_lapic_init(struct virq_lapic *l, struct virq_apicbus *bus, unsigned int cpu,
		     uint32_t apic_id, bool bsp, const struct virq_lapic_config *cfg)
{
	memset(l, 0, sizeof(*l));
	l->bus = bus;
	l->cpu = cpu;
	l->cfg = *cfg;
	if (!l->cfg.maxphyaddr || l->cfg.maxphyaddr > 52)
		l->cfg.maxphyaddr = 46;
	l->initial_id = apic_id;
	l->initial_bsp = bsp;
	l->id = apic_id & 0xFF;
	l->apic_base = VIRQ_APIC_BASE_DEFAULT | VIRQ_APIC_BASE_EN | (bsp ? VIRQ_APIC_BASE_BSP : 0);
	l->vcpu_state = bsp ? VIRQ_VCPU_RUNNING : VIRQ_VCPU_WAIT_SIPI;
	lapic_reset_regs(l);
}

/* --- IA32_APIC_BASE (SDM 11.4.4, 11.12.5) ------------------------------------------------ */

static uint64_t apic_base_reserved(const struct virq_lapic *l)
{
	/* Bits 7:0 and 9 reserved; 10 (EXTD) only with x2APIC support; address bits above
	 * MAXPHYADDR. BSP (bit 8) is writable, as KVM allows. */
	return 0x2FFull | (~0ull << l->cfg.maxphyaddr) |
	       (l->cfg.x2apic_supported ? 0 : VIRQ_APIC_BASE_EXTD);
}

int virq_lapic_set_apic_base(struct virq_lapic *l, uint64_t value, bool host)
{
	enum virq_lapic_mode old = virq_lapic_mode(l), new;

	if (value & apic_base_reserved(l))
		goto err_gp;
	if ((value & (VIRQ_APIC_BASE_EN | VIRQ_APIC_BASE_EXTD)) == VIRQ_APIC_BASE_EXTD)
		goto err_gp; /* EN=0, EXTD=1: invalid state */
	new = !(value & VIRQ_APIC_BASE_EN)  ? VIRQ_LAPIC_DISABLED :
	      (value & VIRQ_APIC_BASE_EXTD) ? VIRQ_LAPIC_X2APIC :
					      VIRQ_LAPIC_XAPIC;
	/* SDM 11.12.5, Figure 11-27: x2APIC -> xAPIC and disabled -> x2APIC are illegal. */
	if (!host && ((old == VIRQ_LAPIC_X2APIC && new == VIRQ_LAPIC_XAPIC) ||
		      (old == VIRQ_LAPIC_DISABLED && new == VIRQ_LAPIC_X2APIC)))
		goto err_gp;
	l->apic_base = value;
	if (old != VIRQ_LAPIC_DISABLED && new == VIRQ_LAPIC_DISABLED) {
		/* Disabling loses the APIC state; re-enabling starts from power-up values
		 * with the initial APIC ID (SDM 11.4.3, 11.12.5.1). */
		lapic_reset_regs(l);
		l->id = l->initial_id & 0xFF;
	}
	if (new == VIRQ_LAPIC_X2APIC) {
		/* x2APIC ID is the initial APIC ID; LDR is derived and DFR does not exist. */
		l->id = l->initial_id & 0xFF;
		l->ldr = x2apic_ldr(l->initial_id);
	} else if (old == VIRQ_LAPIC_X2APIC) {
		l->ldr = 0;
	}
	virq_apicbus_map_dirty(l->bus);
	return 0;
err_gp:
	l->stats.gp_faults++;
	return -EINVAL;
}

uint64_t virq_lapic_apic_base(const struct virq_lapic *l)
{
	return l->apic_base;
}

enum virq_lapic_mode virq_lapic_mode(const struct virq_lapic *l)
{
	if (!lapic_hw_enabled(l))
		return VIRQ_LAPIC_DISABLED;
	return lapic_x2(l) ? VIRQ_LAPIC_X2APIC : VIRQ_LAPIC_XAPIC;
}

uint32_t virq_lapic_id(const struct virq_lapic *l)
{
	return lapic_x2(l) ? l->initial_id : l->id;
}

unsigned int virq_lapic_cpu(const struct virq_lapic *l)
{
	return l->cpu;
}

/* --- IPIs --------------------------------------------------------------------------- */

/* Send the IPI an ICR value describes (SDM 11.6.1); `icr` in the x2APIC 64-bit layout
 * for x2APIC mode, else ICR_HI:ICR_LO. */
static void lapic_send_ipi(struct virq_lapic *l, uint64_t icr)
{
	struct virq_irq irq = {
		.vector = icr & VIRQ_ICR_VECTOR_MASK,
		.delivery_mode = (icr & VIRQ_ICR_DM_MASK) >> VIRQ_ICR_DM_SHIFT,
		.dest_logical = !!(icr & VIRQ_ICR_LOGICAL),
		.level_trig = !!(icr & VIRQ_ICR_TRIGGER_LEVEL),
		.level = !!(icr & VIRQ_ICR_LEVEL_ASSERT),
		.shorthand = (icr & VIRQ_ICR_SHORTHAND_MASK) >> VIRQ_ICR_SHORTHAND_SHIFT,
		.x2apic_dest = lapic_x2(l),
		.src_apic_id = virq_lapic_id(l),
		.path = VIRQ_PATH_IPI,
	};

	irq.dest = lapic_x2(l) ? (uint32_t)(icr >> VIRQ_ICR_X2APIC_DEST_SHIFT) :
				 (uint32_t)(icr >> VIRQ_ICR_XAPIC_DEST_SHIFT) & 0xFF;
	/* SDM 11.5.3 ESR[5]: the sender detects an illegal vector (0-15) in an ICR or SELF
	 * IPI write and sends nothing. ESR[6] is also set by an illegal vector received "via
	 * a self IPI": a self IPI is sent and received by this LAPIC, so it gets both bits
	 * (one error interrupt). Other targets receive nothing, so no ESR[6] there. */
	if ((irq.delivery_mode == VIRQ_DM_FIXED || irq.delivery_mode == VIRQ_DM_LOWEST) &&
	    irq.vector < 16) {
		uint32_t bits = VIRQ_ESR_SEND_ILLEGAL_VECTOR;

		l->stats.send_illegal_vector++;
		if (irq.shorthand == VIRQ_SH_SELF) {
			l->stats.recv_illegal_vector++;
			bits |= VIRQ_ESR_RECV_ILLEGAL_VECTOR;
		}
		lapic_error(l, bits);
		return;
	}
	/* Delivery is instantaneous: ICR delivery status (bit 12) always reads idle. */
	l->stats.ipi_sent++;
	if (virq_apicbus_send(l->bus, &irq, l) == -ENOENT)
		l->stats.ipi_no_target++;
}

static void lapic_send_icr(struct virq_lapic *l)
{
	lapic_send_ipi(l, l->icr);
}

/* --- register file ------------------------------------------------------------------ */

static bool lvt_index(const struct virq_lapic *l, uint32_t off, enum virq_lvt *idx)
{
	switch (off) {
	case VIRQ_APIC_LVT_TIMER:
		*idx = VIRQ_LVT_TIMER;
		return true;
	case VIRQ_APIC_LVT_THERMAL:
		*idx = VIRQ_LVT_THERMAL;
		return true;
	case VIRQ_APIC_LVT_PERF:
		*idx = VIRQ_LVT_PERF;
		return true;
	case VIRQ_APIC_LVT_LINT0:
		*idx = VIRQ_LVT_LINT0;
		return true;
	case VIRQ_APIC_LVT_LINT1:
		*idx = VIRQ_LVT_LINT1;
		return true;
	case VIRQ_APIC_LVT_ERROR:
		*idx = VIRQ_LVT_ERROR;
		return true;
	case VIRQ_APIC_LVT_CMCI:
		*idx = VIRQ_LVT_CMCI;
		return l->cfg.cmci;
	default:
		return false;
	}
}

enum reg_access { REG_RW, REG_RO, REG_WO, REG_ABSENT };

/* Access class of a register (xAPIC Table 11-1, x2APIC Table 11-6). */
static enum reg_access reg_class(const struct virq_lapic *l, uint32_t off, bool x2)
{
	enum virq_lvt idx;

	if (off >= VIRQ_APIC_ISR && off < VIRQ_APIC_ESR)
		return REG_RO; /* ISR, TMR, IRR */
	if (lvt_index(l, off, &idx))
		return REG_RW;
	switch (off) {
	case VIRQ_APIC_ID:
	case VIRQ_APIC_LDR:
		return x2 ? REG_RO : REG_RW;
	case VIRQ_APIC_VER:
	case VIRQ_APIC_PPR:
	case VIRQ_APIC_TMCCT:
		return REG_RO;
	case VIRQ_APIC_APR:
	case VIRQ_APIC_RRD:
		return x2 ? REG_ABSENT : REG_RO;
	case VIRQ_APIC_DFR:
	case VIRQ_APIC_ICR_HI:
		return x2 ? REG_ABSENT : REG_RW;
	case VIRQ_APIC_EOI:
		/* xAPIC reads of EOI return 0 (as KVM); in x2APIC it is write-only. */
		return x2 ? REG_WO : REG_RW;
	case VIRQ_APIC_SELF_IPI:
		return x2 ? REG_WO : REG_ABSENT;
	case VIRQ_APIC_TPR:
	case VIRQ_APIC_SVR:
	case VIRQ_APIC_ESR:
	case VIRQ_APIC_ICR_LO:
	case VIRQ_APIC_TMICT:
	case VIRQ_APIC_TDCR:
		return REG_RW;
	default:
		return REG_ABSENT;
	}
}

static uint32_t reg_read(const struct virq_lapic *l, uint32_t off)
{
	enum virq_lvt idx;

	if (off >= VIRQ_APIC_ISR && off < VIRQ_APIC_TMR)
		return l->isr[(off - VIRQ_APIC_ISR) >> 4];
	if (off >= VIRQ_APIC_TMR && off < VIRQ_APIC_IRR)
		return l->tmr[(off - VIRQ_APIC_TMR) >> 4];
	if (off >= VIRQ_APIC_IRR && off < VIRQ_APIC_ESR)
		return l->irr[(off - VIRQ_APIC_IRR) >> 4];
	if (lvt_index(l, off, &idx))
		return l->lvt[idx];
	switch (off) {
	case VIRQ_APIC_ID:
		return lapic_x2(l) ? l->initial_id : l->id << 24;
	case VIRQ_APIC_VER:
		return lapic_version(l);
	case VIRQ_APIC_TPR:
		return l->tpr;
	case VIRQ_APIC_APR:
		return virq_lapic_apr(l);
	case VIRQ_APIC_PPR:
		return l->ppr;
	case VIRQ_APIC_LDR:
		return l->ldr;
	case VIRQ_APIC_DFR:
		return l->dfr;
	case VIRQ_APIC_SVR:
		return l->svr;
	case VIRQ_APIC_ESR:
		return l->esr;
	case VIRQ_APIC_ICR_LO:
		return (uint32_t)l->icr;
	case VIRQ_APIC_ICR_HI:
		return (uint32_t)(l->icr >> 32);
	case VIRQ_APIC_TMICT:
		return l->tmict;
	case VIRQ_APIC_TMCCT:
		return timer_ccr(l);
	case VIRQ_APIC_TDCR:
		return l->tdcr;
	default:
		return 0; /* EOI, RRD */
	}
}

static void write_svr(struct virq_lapic *l, uint32_t val)
{
	l->svr = val & svr_writable(l);
	/* SDM 11.4.7.2: software disable sets every LVT mask bit. */
	if (!(l->svr & VIRQ_SVR_ENABLE))
		for (unsigned int i = 0; i < VIRQ_LVT__COUNT; i++)
			l->lvt[i] |= VIRQ_LVT_MASKED;
}

/* A LINT entry whose input is sensed by level (SDM 11.5.1): fixed with trigger mode
 * level, or ExtINT ("always level sensitive"); NMI, SMI and INIT are always edge. */
static bool lint_level_sensed(uint32_t lvt)
{
	unsigned int dm = (lvt & VIRQ_LVT_DM_MASK) >> VIRQ_LVT_DM_SHIFT;

	if (lvt & VIRQ_LVT_MASKED)
		return false;
	return (dm == VIRQ_DM_FIXED && (lvt & VIRQ_LVT_LEVEL)) || dm == VIRQ_DM_EXTINT;
}

/* After a LINT LVT write: a level-sensed input that became live (unmasked, or switched to
 * a level mode) while its line is asserted delivers now, as the level is what the LAPIC
 * senses (SDM 11.5.1); before, only a later edge or EOI did. Fixed: one interrupt per
 * remote-IRR cycle, so not while remote IRR is set. ExtINT: the pin is read at INTA
 * (virq_lapic_has_extint()); only the vCPU kick was missing. */
static void lint_level_recheck(struct virq_lapic *l, enum virq_lvt idx, uint32_t old)
{
	uint32_t lvt = l->lvt[idx];

	if (!l->lint_level[idx - VIRQ_LVT_LINT0] || !lapic_hw_enabled(l) ||
	    lint_level_sensed(old) || !lint_level_sensed(lvt))
		return;
	if (!(lvt & VIRQ_LVT_REMOTE_IRR))
		lapic_lvt_fire(l, idx);
}

static void write_lvt(struct virq_lapic *l, enum virq_lvt idx, uint32_t val)
{
	uint32_t old = l->lvt[idx];
	uint32_t ro = old & (VIRQ_LVT_DELIV_STATUS | VIRQ_LVT_REMOTE_IRR);

	val &= lvt_writable[idx];
	if (idx == VIRQ_LVT_TIMER) {
		unsigned int mode = (val & VIRQ_LVT_TIMER_MODE_MASK) >> VIRQ_LVT_TIMER_MODE_SHIFT;

		/* Without TSC-deadline support (no TSC rate) bit 18 is reserved and ignored:
		 * bit 17 alone selects one-shot or periodic (SDM 11.5.4.1, Figure 11-8; as
		 * KVM's timer_mode_mask). With it, mode 11b is reserved: the old mode stays. */
		if (!l->cfg.tsc_hz) {
			val &= ~(VIRQ_LVT_TIMER_TSC_DEADLINE << VIRQ_LVT_TIMER_MODE_SHIFT);
			mode &= VIRQ_LVT_TIMER_PERIODIC;
		} else if (mode == 3) {
			val = (val & ~VIRQ_LVT_TIMER_MODE_MASK) | (old & VIRQ_LVT_TIMER_MODE_MASK);
			mode = timer_mode(l);
		}
		/* SDM 11.5.4.1: switching to or from TSC-deadline mode disarms the timer. */
		if (((old ^ val) & VIRQ_LVT_TIMER_MODE_MASK) &&
		    (timer_mode(l) == VIRQ_LVT_TIMER_TSC_DEADLINE ||
		     mode == VIRQ_LVT_TIMER_TSC_DEADLINE)) {
			timer_disarm(l);
			l->tmict = 0;
		}
	}
	/* SDM 11.4.7.2: while software-disabled, the mask bits cannot be cleared. */
	if (!virq_lapic_sw_enabled(l))
		val |= VIRQ_LVT_MASKED;
	l->lvt[idx] = val | (idx == VIRQ_LVT_LINT0 || idx == VIRQ_LVT_LINT1 ? ro : 0);
	if (idx == VIRQ_LVT_LINT0 || idx == VIRQ_LVT_LINT1)
		lint_level_recheck(l, idx, old);
}

static void write_tdcr(struct virq_lapic *l, uint32_t val)
{
	uint32_t ccr = timer_ccr(l);
	bool running = l->timer_next && l->tmict && timer_mode(l) != VIRQ_LVT_TIMER_TSC_DEADLINE;
	unsigned __int128 left;
	uint64_t period;

	l->tdcr = val & 0xB;
	if (!running)
		return;
	/* Keep the current count; the rest of the count-down runs at the new rate (as
	 * KVM's update_target_expiration). */
	left = ((unsigned __int128)ccr * timer_divisor(l->tdcr) * NSEC_PER_SEC + bus_hz(l) - 1) /
	       bus_hz(l);
	l->timer_next = l->now + (left ? (uint64_t)left : 1);
	period = timer_period_ns(l);
	l->timer_start = l->timer_next > period ? l->timer_next - period : 0;
}

/* Common write; the caller has checked access class and mode-specific reserved bits. */
static void reg_write(struct virq_lapic *l, uint32_t off, uint32_t val)
{
	enum virq_lvt idx;

	if (lvt_index(l, off, &idx)) {
		write_lvt(l, idx, val);
		return;
	}
	switch (off) {
	case VIRQ_APIC_ID:
		l->id = val >> 24;
		virq_apicbus_map_dirty(l->bus);
		break;
	case VIRQ_APIC_TPR:
		l->tpr = val & 0xFF;
		ppr_update(l);
		break;
	case VIRQ_APIC_EOI:
		virq_lapic_eoi(l);
		break;
	case VIRQ_APIC_LDR:
		l->ldr = val & 0xFF000000u;
		virq_apicbus_map_dirty(l->bus);
		break;
	case VIRQ_APIC_DFR:
		l->dfr = val | 0x0FFFFFFFu;
		virq_apicbus_map_dirty(l->bus);
		break;
	case VIRQ_APIC_SVR:
		write_svr(l, val);
		break;
	case VIRQ_APIC_ESR:
		/* SDM 11.5.3: a write latches the errors seen since the previous write. */
		l->esr = l->esr_pending;
		l->esr_pending = 0;
		break;
	case VIRQ_APIC_ICR_LO:
		/* Writable: vector, mode, dest mode, level, trigger, shorthand. Delivery
		 * status (bit 12) is read-only and reads idle (SDM 11.6.1): a write with it
		 * set still sends. */
		l->icr = (l->icr & 0xFFFFFFFF00000000ull) | (val & 0x000CCFFFu);
		lapic_send_icr(l);
		break;
	case VIRQ_APIC_ICR_HI:
		l->icr = (l->icr & 0xFFFFFFFFull) | ((uint64_t)(val & 0xFF000000u) << 32);
		break;
	case VIRQ_APIC_TMICT:
		/* SDM 11.5.4.1: in TSC-deadline mode writes to the initial count are ignored. */
		if (timer_mode(l) == VIRQ_LVT_TIMER_TSC_DEADLINE)
			break;
		l->tmict = val;
		timer_start(l);
		break;
	case VIRQ_APIC_TDCR:
		write_tdcr(l, val);
		break;
	case VIRQ_APIC_SELF_IPI:
		/* SDM 11.12.11: identical to an ICR IPI with shorthand self, edge, fixed. */
		lapic_send_ipi(l,
			       (val & 0xFF) | ((uint64_t)VIRQ_SH_SELF << VIRQ_ICR_SHORTHAND_SHIFT));
		break;
	default:
		break;
	}
}

int virq_lapic_mmio_read(struct virq_lapic *l, uint32_t offset, uint32_t *val)
{
	uint32_t off = offset & 0xFF0;

	if (virq_lapic_mode(l) != VIRQ_LAPIC_XAPIC)
		return -ENXIO;
	*val = 0;
	if (offset > 0xFFF || (offset & 0xF))
		return 0;
	if (reg_class(l, off, false) == REG_ABSENT) {
		l->stats.illegal_register++;
		lapic_error(l, VIRQ_ESR_ILLEGAL_REG);
		return 0;
	}
	*val = reg_read(l, off);
	return 0;
}

int virq_lapic_mmio_write(struct virq_lapic *l, uint32_t offset, uint32_t val)
{
	uint32_t off = offset & 0xFF0;

	if (virq_lapic_mode(l) != VIRQ_LAPIC_XAPIC)
		return -ENXIO;
	if (offset > 0xFFF || (offset & 0xF))
		return 0;
	switch (reg_class(l, off, false)) {
	case REG_ABSENT:
		l->stats.illegal_register++;
		lapic_error(l, VIRQ_ESR_ILLEGAL_REG);
		return 0;
	case REG_RO:
		return 0;
	default:
		reg_write(l, off, val);
		return 0;
	}
}

static int gp(struct virq_lapic *l)
{
	l->stats.gp_faults++;
	return -EINVAL;
}

int virq_lapic_msr_read(struct virq_lapic *l, uint32_t msr, uint64_t *val)
{
	uint32_t off = (msr - VIRQ_MSR_X2APIC_FIRST) << 4;
	enum reg_access cls;

	if (msr == VIRQ_MSR_APIC_BASE) {
		*val = l->apic_base;
		return 0;
	}
	if (msr == VIRQ_MSR_TSC_DEADLINE) {
		/* SDM 11.5.4.1: reads 0 outside TSC-deadline mode. */
		*val = timer_mode(l) == VIRQ_LVT_TIMER_TSC_DEADLINE ? l->tsc_deadline : 0;
		return 0;
	}
	if (msr < VIRQ_MSR_X2APIC_FIRST || msr > VIRQ_MSR_X2APIC_LAST)
		return -ENOENT;
	/* SDM 11.12.1.2: the x2APIC MSRs #GP unless the APIC is in x2APIC mode. */
	if (!lapic_x2(l))
		return gp(l);
	cls = reg_class(l, off, true);
	if (cls == REG_ABSENT || cls == REG_WO)
		return gp(l);
	*val = reg_read(l, off);
	if (off == VIRQ_APIC_ICR_LO)
		*val = l->icr;
	else if (off == VIRQ_APIC_LDR)
		*val = x2apic_ldr(l->initial_id);
	return 0;
}

/* Reserved bits of a writable 32-bit x2APIC register (SDM 11.12.1.3; TPR, SELF IPI, EOI
 * and ESR are checked by the caller). */
static uint32_t x2apic_reserved_bits(const struct virq_lapic *l, uint32_t off)
{
	enum virq_lvt idx;

	if (lvt_index(l, off, &idx)) {
		uint32_t ok = lvt_writable[idx] | VIRQ_LVT_DELIV_STATUS | VIRQ_LVT_REMOTE_IRR;

		if (idx == VIRQ_LVT_LINT1)
			ok |= VIRQ_LVT_LEVEL;
		return ~ok;
	}
	switch (off) {
	case VIRQ_APIC_SVR:
		return ~svr_writable(l);
	case VIRQ_APIC_TDCR:
		return ~0xBu;
	default:
		return 0;
	}
}

int virq_lapic_msr_write(struct virq_lapic *l, uint32_t msr, uint64_t val)
{
	uint32_t off = (msr - VIRQ_MSR_X2APIC_FIRST) << 4;
	enum reg_access cls;

	if (msr == VIRQ_MSR_APIC_BASE)
		return virq_lapic_set_apic_base(l, val, false);
	if (msr == VIRQ_MSR_TSC_DEADLINE) {
		/* Ignored outside TSC-deadline mode; 0 disarms (SDM 11.5.4.1). */
		if (timer_mode(l) != VIRQ_LVT_TIMER_TSC_DEADLINE)
			return 0;
		l->tsc_deadline = val;
		l->timer_next = val ? tsc_to_ns(l, val) : 0;
		if (val && !l->timer_next)
			l->timer_next = 1;
		if (l->timer_next && l->timer_next <= l->now)
			virq_lapic_tick(l, l->now);
		return 0;
	}
	if (msr < VIRQ_MSR_X2APIC_FIRST || msr > VIRQ_MSR_X2APIC_LAST)
		return -ENOENT;
	if (!lapic_x2(l))
		return gp(l);
	cls = reg_class(l, off, true);
	if (cls == REG_ABSENT || cls == REG_RO)
		return gp(l);
	if (off == VIRQ_APIC_ICR_LO) {
		/* SDM 11.12.9: one 64-bit write sends; reserved bits #GP (as KVM). Delivery
		 * status (bit 12) is read-only and ignored on write (SDM 11.6.1; KVM clears
		 * it): a guest writing back the value it read still sends its IPI. */
		if (val & VIRQ_ICR_X2APIC_RESERVED)
			return gp(l);
		l->icr = val & ~VIRQ_ICR_DELIV_STATUS;
		lapic_send_icr(l);
		return 0;
	}
	/* Upper 32 bits of every other x2APIC MSR are reserved (SDM 11.12.1.2). */
	if (val >> 32)
		return gp(l);
	/* SDM 11.12.1.3: in x2APIC mode a non-zero write to a reserved bit raises #GP
	 * (reads return 0). Read-only bits that can read as 1 (LVT delivery status and
	 * remote IRR, LINT1's unsupported trigger bit) are not reserved: software writes
	 * back what it read, so they stay ignored. KVM checks only TPR/SVR/LVT/TDCR bits
	 * 63:32 and masks the rest silently; the SDM is followed here. */
	if (x2apic_reserved_bits(l, off) & val)
		return gp(l);
	switch (off) {
	case VIRQ_APIC_TPR:
	case VIRQ_APIC_SELF_IPI:
		if (val & ~0xFFull)
			return gp(l);
		break;
	case VIRQ_APIC_EOI:
	case VIRQ_APIC_ESR:
		/* Table 11-6: a non-zero write to EOI or ESR raises #GP. */
		if (val)
			return gp(l);
		break;
	default:
		break;
	}
	reg_write(l, off, (uint32_t)val);
	return 0;
}

/* --- INIT / SIPI ---------------------------------------------------------------------- */

int virq_lapic_take_events(struct virq_lapic *l, struct virq_lapic_events *ev)
{
	memset(ev, 0, sizeof(*ev));
	if (l->events & VIRQ_LAPIC_EV_INIT) {
		l->events &= ~VIRQ_LAPIC_EV_INIT;
		ev->events |= VIRQ_LAPIC_EV_INIT;
		lapic_reset_regs(l);
		/* The BSP restarts at the reset vector; an AP waits for SIPI (SDM 9.4.4). */
		l->vcpu_state = (l->apic_base & VIRQ_APIC_BASE_BSP) ? VIRQ_VCPU_RUNNING :
								      VIRQ_VCPU_WAIT_SIPI;
	}
	if (l->events & VIRQ_LAPIC_EV_SIPI) {
		l->events &= ~VIRQ_LAPIC_EV_SIPI;
		if (l->vcpu_state == VIRQ_VCPU_WAIT_SIPI) {
			ev->events |= VIRQ_LAPIC_EV_SIPI;
			ev->sipi_vector = l->sipi_vector;
			l->vcpu_state = VIRQ_VCPU_RUNNING;
		} else {
			l->stats.sipi_ignored++;
		}
	}
	/* NMI and SMI are held while the vCPU waits for SIPI. */
	if (l->vcpu_state != VIRQ_VCPU_WAIT_SIPI) {
		uint32_t take = l->events & (VIRQ_LAPIC_EV_NMI | VIRQ_LAPIC_EV_SMI);

		l->events &= ~take;
		ev->events |= take;
		if (take && l->vcpu_state == VIRQ_VCPU_HALTED)
			l->vcpu_state = VIRQ_VCPU_RUNNING;
	}
	ev->state = l->vcpu_state;
	return 0;
}

uint32_t virq_lapic_pending_events(const struct virq_lapic *l)
{
	uint32_t ev = l->events & ~VIRQ_LAPIC_EV_EXTINT;

	if (virq_lapic_pending(l) >= 0)
		ev |= VIRQ_LAPIC_EV_INTR;
	if (virq_lapic_has_extint(l))
		ev |= VIRQ_LAPIC_EV_EXTINT;
	return ev;
}

enum virq_vcpu_state virq_lapic_vcpu_state(const struct virq_lapic *l)
{
	return l->vcpu_state;
}

int virq_lapic_set_vcpu_state(struct virq_lapic *l, enum virq_vcpu_state s)
{
	if (s != VIRQ_VCPU_RUNNING && s != VIRQ_VCPU_HALTED)
		return -EINVAL;
	l->vcpu_state = s;
	return 0;
}

/* --- save / restore ----------------------------------------------------------------- */

void virq_lapic_save(const struct virq_lapic *l, struct virq_lapic_state *st)
{
	memset(st, 0, sizeof(*st));
	st->magic = VIRQ_LAPIC_STATE_MAGIC;
	st->version = VIRQ_LAPIC_STATE_VERSION;
	st->size = sizeof(*st);
	st->initial_id = l->initial_id;
	st->apic_base = l->apic_base;
	st->id = l->id;
	st->tpr = l->tpr;
	st->ldr = l->ldr;
	st->dfr = l->dfr;
	st->svr = l->svr;
	st->esr = l->esr;
	st->esr_pending = l->esr_pending;
	memcpy(st->irr, l->irr, sizeof(st->irr));
	memcpy(st->isr, l->isr, sizeof(st->isr));
	memcpy(st->tmr, l->tmr, sizeof(st->tmr));
	st->icr = l->icr;
	memcpy(st->lvt, l->lvt, sizeof(st->lvt));
	st->tmict = l->tmict;
	st->tdcr = l->tdcr;
	st->timer_start_ns = l->timer_start;
	st->timer_next_ns = l->timer_next;
	st->tsc_deadline = l->tsc_deadline;
	st->now_ns = l->now;
	st->events = l->events;
	st->vcpu_state = l->vcpu_state;
	st->sipi_vector = l->sipi_vector;
	st->lint_level[0] = l->lint_level[0];
	st->lint_level[1] = l->lint_level[1];
}

static int state_check(const struct virq_lapic *l, const struct virq_lapic_state *st)
{
	uint64_t en_extd = st->apic_base & (VIRQ_APIC_BASE_EN | VIRQ_APIC_BASE_EXTD);

	if (st->magic != VIRQ_LAPIC_STATE_MAGIC || st->version != VIRQ_LAPIC_STATE_VERSION ||
	    st->size != sizeof(*st) || st->initial_id != l->initial_id)
		return -EINVAL;
	if ((st->apic_base & apic_base_reserved(l)) || en_extd == VIRQ_APIC_BASE_EXTD)
		return -EINVAL;
	bool x2 = en_extd == (VIRQ_APIC_BASE_EN | VIRQ_APIC_BASE_EXTD);

	if (x2 ? st->ldr != x2apic_ldr(l->initial_id) : (st->ldr & 0x00FFFFFFu) != 0)
		return -EINVAL;
	if (st->id > 0xFF || st->tpr > 0xFF || (st->dfr & 0x0FFFFFFFu) != 0x0FFFFFFFu ||
	    (st->svr & ~svr_writable(l)) || st->esr > 0xFF || st->esr_pending > 0xFF ||
	    (st->tdcr & ~0xBu))
		return -EINVAL;
	/* Vectors 0-15 never enter IRR/ISR (they are rejected on acceptance). */
	if ((st->irr[0] | st->isr[0] | st->tmr[0]) & 0xFFFF)
		return -EINVAL;
	if (st->icr & (VIRQ_ICR_X2APIC_RESERVED | VIRQ_ICR_DELIV_STATUS))
		return -EINVAL;
	for (unsigned int i = 0; i < VIRQ_LVT__COUNT; i++) {
		uint32_t ok = lvt_writable[i];

		if (i == VIRQ_LVT_LINT0 || i == VIRQ_LVT_LINT1)
			ok |= VIRQ_LVT_REMOTE_IRR;
		if (st->lvt[i] & ~ok)
			return -EINVAL;
	}
	if (((st->lvt[VIRQ_LVT_TIMER] & VIRQ_LVT_TIMER_MODE_MASK) >> VIRQ_LVT_TIMER_MODE_SHIFT) ==
	    3)
		return -EINVAL;
	if (st->timer_next_ns && st->timer_next_ns < st->timer_start_ns)
		return -EINVAL;
	if ((st->events & ~EV_LATCHED) || st->vcpu_state > VIRQ_VCPU_HALTED ||
	    st->lint_level[0] > 1 || st->lint_level[1] > 1)
		return -EINVAL;
	return 0;
}

int virq_lapic_restore(struct virq_lapic *l, const struct virq_lapic_state *st)
{
	if (state_check(l, st))
		return -EINVAL;
	/* Keep the per-vector flow identities true: bits the snapshot drops are discarded,
	 * bits it adds are accounted as accepted (and delivered for ISR). */
	for (unsigned int v = 0; v < 256; v++) {
		bool oi = vec_test(l->irr, v), ni = vec_test(st->irr, v);
		bool os = vec_test(l->isr, v), ns = vec_test(st->isr, v);

		if (oi && !ni)
			l->stats.irr_discarded[v]++;
		if (!oi && ni)
			l->stats.accepted[v]++;
		if (os && !ns)
			l->stats.isr_discarded[v]++;
		if (!os && ns) {
			l->stats.accepted[v]++;
			l->stats.delivered[v]++;
		}
	}
	l->apic_base = st->apic_base;
	l->id = st->id;
	l->tpr = st->tpr;
	l->ldr = st->ldr;
	l->dfr = st->dfr;
	l->svr = st->svr;
	l->esr = st->esr;
	l->esr_pending = st->esr_pending;
	memcpy(l->irr, st->irr, sizeof(l->irr));
	memcpy(l->isr, st->isr, sizeof(l->isr));
	memcpy(l->tmr, st->tmr, sizeof(l->tmr));
	lapic_recompute_caches(l);
	l->icr = st->icr;
	memcpy(l->lvt, st->lvt, sizeof(l->lvt));
	l->tmict = st->tmict;
	l->tdcr = st->tdcr;
	l->timer_start = st->timer_start_ns;
	l->timer_next = st->timer_next_ns;
	l->tsc_deadline = st->tsc_deadline;
	l->now = st->now_ns;
	l->events = st->events;
	l->vcpu_state = st->vcpu_state;
	l->sipi_vector = st->sipi_vector;
	l->lint_level[0] = st->lint_level[0];
	l->lint_level[1] = st->lint_level[1];
	virq_apicbus_map_dirty(l->bus);
	return 0;
}

const struct virq_lapic_stats *virq_lapic_stats(const struct virq_lapic *l)
{
	return &l->stats;
}
