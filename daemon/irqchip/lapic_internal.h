/* SPDX-License-Identifier: MIT */
/*
 * Private layout of the LAPIC and the APIC bus, shared by lapic.c and apicbus.c only.
 * Everyone else goes through include/virq/lapic.h and apicbus.h.
 */
#ifndef VIRQ_LAPIC_INTERNAL_H
#define VIRQ_LAPIC_INTERNAL_H

#include "virq/apicbus.h"
#include "virq/lapic.h"

struct virq_lapic {
	struct virq_apicbus *bus;
	unsigned int cpu;
	struct virq_lapic_config cfg;
	uint32_t initial_id; /* the x2APIC ID; xAPIC ID after reset = initial_id & 0xFF */
	bool initial_bsp;
	uint64_t apic_base;
	uint32_t id; /* xAPIC ID (8 bits, writable in xAPIC mode) */
	uint32_t tpr, ldr, dfr, svr, esr, esr_pending;
	uint32_t irr[8], isr[8], tmr[8];
	/* Derived state, a pure function of the registers above; lapic.c keeps it in step
	 * on every IRR/ISR/TPR change (acceptance, INTA, EOI, TPR write, reset, restore) and
	 * the LAPIC fuzz target checks it against a from-scratch recomputation after every
	 * step. Bit w of irr_sum/isr_sum is set iff irr[w]/isr[w] is nonzero, so the highest
	 * pending or in-service vector costs two clz instead of a scan of eight words (the
	 * role of KVM's irr_pending and highest_isr_cache); ppr is the processor priority
	 * of SDM 11.8.3.1. */
	uint8_t irr_sum, isr_sum;
	uint32_t ppr;
	uint64_t icr;
	uint32_t lvt[VIRQ_LVT__COUNT];
	uint32_t tmict, tdcr;
	uint64_t timer_start, timer_next, tsc_deadline, now;
	uint32_t events; /* latched NMI/SMI/INIT/SIPI/EXTINT */
	enum virq_vcpu_state vcpu_state;
	uint8_t sipi_vector;
	uint8_t lint_level[2];
	/* Lowest-priority rotation (apicbus.c): bus arb_seq when this LAPIC last won an
	 * arbitration and took the interrupt, 0 = never. Not guest-visible state. */
	uint64_t arb_stamp;
	struct virq_lapic_stats stats;
};

enum apicbus_lmode {
	APICBUS_LMODE_NONE = 0, /* no hardware-enabled LAPIC */
	APICBUS_LMODE_FLAT,
	APICBUS_LMODE_CLUSTER,
	APICBUS_LMODE_X2,
	APICBUS_LMODE_SLOW, /* not representable: scan */
};

struct virq_apicbus {
	struct virq_apicbus_config cfg;
	unsigned int nr;
	struct virq_lapic *lapics;
	/* maps, rebuilt lazily when `dirty` */
	bool dirty;
	bool phys_ok;
	unsigned int phys_cap;
	struct virq_lapic **phys; /* [phys_cap], by current APIC ID */
	enum apicbus_lmode lmode;
	unsigned int lclusters;
	struct virq_lapic **ltab; /* [lclusters][16]: cluster, member bit */
	unsigned int nr_enabled;
	uint16_t *enabled; /* CPU indices of hardware-enabled LAPICs */
	uint16_t *scratch; /* resolver output, [nr] */
	uint64_t arb_seq; /* lowest-priority wins so far (rotation stamps) */
	struct virq_apicbus_stats stats;
};

/* lapic.c -> apicbus.c */
void virq_apicbus_map_dirty(struct virq_apicbus *bus);
/* An IPI from `src` (its ICR or SELF shorthand); same result convention. */
int virq_apicbus_send(struct virq_apicbus *bus, const struct virq_irq *irq, struct virq_lapic *src);
void virq_apicbus_notify(struct virq_apicbus *bus, unsigned int cpu, uint32_t events);
int virq_apicbus_extint_ack(struct virq_apicbus *bus, unsigned int cpu);
void virq_apicbus_eoi_broadcast(struct virq_apicbus *bus, uint8_t vector);

/* apicbus.c -> lapic.c */
void virq_lapic_init(struct virq_lapic *l, struct virq_apicbus *bus, unsigned int cpu,
		     uint32_t apic_id, bool bsp, const struct virq_lapic_config *cfg);
/* Accept a message resolved to this LAPIC (SDM 11.6.1 delivery modes). */
int virq_lapic_accept(struct virq_lapic *l, const struct virq_irq *irq);
/* Arbitration priority, SDM 10.6.2.4 (P6 family) / 11.6.2.4. */
uint32_t virq_lapic_apr(const struct virq_lapic *l);
bool virq_lapic_vector_in_service_or_pending(const struct virq_lapic *l, uint8_t vector);
bool virq_lapic_sw_enabled(const struct virq_lapic *l);

#endif
