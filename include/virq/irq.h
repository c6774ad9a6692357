/* SPDX-License-Identifier: MIT */
/*
 * virq: the shared vocabulary of the irqchip models.
 *
 * Every model (PIC, IOAPIC, MSI decoder, GSI router, LAPIC bus, posted-interrupt
 * descriptor) speaks in terms of `struct virq_irq`, an interrupt message on the
 * (virtual) APIC bus, and delivers through a `struct virq_sink`. A sink is an
 * operations table plus an opaque pointer; the same model can therefore feed our
 * LAPIC model, KVM (split mode: an MSI route or KVM_SIGNAL_MSI), the cross-check
 * engine or a unit-test double.
 *
 * Threading: models are plain state structs; callers serialise access to one model
 * instance. Nothing here blocks, allocates on the delivery path, or calls an ioctl.
 */
#ifndef VIRQ_IRQ_H
#define VIRQ_IRQ_H

#include <stdbool.h>
#include <stdint.h>

/* Delivery modes, as encoded in ICR[10:8], IOAPIC RTE[10:8] and MSI data[10:8]
 * (Intel SDM Vol. 3A 11.6.1, 11.11.2). */
enum virq_delivery_mode {
	VIRQ_DM_FIXED = 0,
	VIRQ_DM_LOWEST = 1,
	VIRQ_DM_SMI = 2,
	VIRQ_DM_REMOTE_READ = 3, /* reserved on modern parts */
	VIRQ_DM_NMI = 4,
	VIRQ_DM_INIT = 5,
	VIRQ_DM_STARTUP = 6,
	VIRQ_DM_EXTINT = 7,
};

/* ICR destination shorthand, ICR[19:18] (SDM 11.6.1). */
enum virq_shorthand {
	VIRQ_SH_NONE = 0,
	VIRQ_SH_SELF = 1,
	VIRQ_SH_ALL_INCL_SELF = 2,
	VIRQ_SH_ALL_EXCL_SELF = 3,
};

/* Where an interrupt came from; used for statistics and cross-checking. */
enum virq_path {
	VIRQ_PATH_PIC = 0,
	VIRQ_PATH_IOAPIC,
	VIRQ_PATH_MSI,
	VIRQ_PATH_IPI,
	VIRQ_PATH_NMI,
	VIRQ_PATH_TIMER,
	VIRQ_PATH_LINT, /* LINT0/LINT1 local interrupts */
	VIRQ_PATH_OTHER, /* error, thermal, perf, CMCI LVTs */
	VIRQ_PATH__COUNT
};

/* An interrupt message on the APIC bus. */
struct virq_irq {
	uint32_t dest; /* destination ID: 8-bit xAPIC, or 32-bit when x2apic_dest */
	uint32_t src_apic_id; /* sender's APIC ID (IPIs, for shorthands); 0 otherwise */
	uint8_t vector;
	uint8_t delivery_mode; /* enum virq_delivery_mode */
	uint8_t dest_logical; /* 0 physical, 1 logical */
	uint8_t level_trig; /* 0 edge, 1 level */
	uint8_t level; /* 1 assert, 0 de-assert (INIT level de-assert) */
	uint8_t shorthand; /* enum virq_shorthand */
	uint8_t redir_hint; /* MSI RH: lowest priority among the destinations */
	uint8_t x2apic_dest; /* dest is a 32-bit x2APIC destination */
	uint8_t path; /* enum virq_path */
	uint8_t pin; /* path IOAPIC: the RTE's pin (its GSI on a board with one IOAPIC at 0) */
	uint8_t pad[2];
};

/*
 * Result convention of every delivery call, the same as KVM's kvm_set_irq():
 *   < 0  ignored (masked, no destination, malformed)   -- a negative errno
 *   = 0  coalesced (the vector was already pending)
 *   > 0  number of CPUs the interrupt reached
 */
#define VIRQ_RES_COALESCED 0

struct virq_sink_ops {
	/* An APIC-bus message (IOAPIC RTE, MSI, IPI). Returns the result above. */
	int (*deliver)(void *opaque, const struct virq_irq *irq);
	/* The PIC pair's INT output changed level (to LINT0 ExtINT / the VMM). */
	void (*pic_int)(void *opaque, bool level);
	/* An EOI for `vector` must reach the IOAPIC(s) (EOI broadcast, SDM 11.8.5). */
	void (*eoi_broadcast)(void *opaque, uint8_t vector);
};

struct virq_sink {
	const struct virq_sink_ops *ops;
	void *opaque;
};

static inline int virq_sink_deliver(const struct virq_sink *s, const struct virq_irq *irq)
{
	return (s && s->ops && s->ops->deliver) ? s->ops->deliver(s->opaque, irq) :
						  -19 /* ENODEV */;
}

static inline void virq_sink_pic_int(const struct virq_sink *s, bool level)
{
	if (s && s->ops && s->ops->pic_int)
		s->ops->pic_int(s->opaque, level);
}

static inline void virq_sink_eoi(const struct virq_sink *s, uint8_t vector)
{
	if (s && s->ops && s->ops->eoi_broadcast)
		s->ops->eoi_broadcast(s->opaque, vector);
}

const char *virq_path_name(enum virq_path p);
const char *virq_dm_name(enum virq_delivery_mode dm);

#endif /* VIRQ_IRQ_H */
