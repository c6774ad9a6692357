/* SPDX-License-Identifier: MIT */
/*
 * virq: the GSI router, our model of KVM's irq routing table (virt/kvm/irqchip.c,
 * KVM_SET_GSI_ROUTING). Each GSI has up to one entry per irqchip (PIC master, PIC slave,
 * IOAPIC) or a single MSI entry, as KVM's setup_routing_entry() enforces. Driving a GSI
 * drives every entry: PIC and IOAPIC entries call the chip objects directly, MSI entries
 * go through the sink's deliver after virq_msi_decode (decoded once, when added).
 *
 * Threading: a plain caller-allocated struct; the caller serialises calls on the router
 * and on the chips it drives (one lock covers all). No allocation; add/remove are
 * control-path operations, O(entries).
 */
#ifndef VIRQ_ROUTER_H
#define VIRQ_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "virq/irq.h"
#include "virq/pic.h"
#include "virq/ioapic.h"

#define VIRQ_ROUTER_MAX_GSI 4096 /* KVM_CAP_IRQ_ROUTING on the reference host */
#define VIRQ_ROUTER_MAX_ENTRIES 1024

/* Same values as KVM_IRQ_ROUTING_* and KVM_IRQCHIP_*, so entries push straight to KVM. */
enum virq_route_type {
	VIRQ_ROUTE_IRQCHIP = 1,
	VIRQ_ROUTE_MSI = 2,
};
enum virq_route_chip {
	VIRQ_CHIP_PIC_MASTER = 0,
	VIRQ_CHIP_PIC_SLAVE = 1,
	VIRQ_CHIP_IOAPIC = 2,
};

struct virq_route {
	uint32_t gsi;
	uint32_t type; /* enum virq_route_type */
	union {
		struct {
			uint32_t chip; /* enum virq_route_chip */
			uint32_t pin; /* 0-7 on a PIC, 0..pins-1 on the IOAPIC */
		} irqchip;
		struct {
			uint32_t addr_lo, addr_hi, data;
			uint32_t flags; /* enum virq_msi_flags used to decode */
		} msi;
	} u;
};

struct virq_router_stats {
	uint64_t calls; /* set_irq calls on a routed GSI */
	uint64_t unrouted; /* calls on a GSI without entries */
	uint64_t delivered, coalesced, ignored; /* per-entry results */
};

struct virq_router {
	struct virq_pic *pic; /* may be NULL: PIC entries then return -ENODEV */
	struct virq_ioapic *ioapic; /* may be NULL likewise */
	struct virq_sink sink; /* MSI entries */
	uint32_t nr;
	struct virq_route e[VIRQ_ROUTER_MAX_ENTRIES];
	struct virq_irq msi[VIRQ_ROUTER_MAX_ENTRIES]; /* decoded MSI of entry i */
	int16_t next[VIRQ_ROUTER_MAX_ENTRIES]; /* chain of entries of one GSI, -1 ends */
	int16_t head[VIRQ_ROUTER_MAX_GSI];
	uint64_t level[VIRQ_ROUTER_MAX_GSI / 64]; /* last level driven per GSI */
	struct virq_router_stats stats;
};

/* Empty table. The chip pointers and the sink's opaque must outlive the router. */
void virq_router_init(struct virq_router *r, struct virq_pic *pic, struct virq_ioapic *ioapic,
		      const struct virq_sink *sink);

/*
 * Replaces the table with KVM's default (kvm_setup_default_irq_routing, the identity
 * table): GSI n -> IOAPIC pin n for n < nr_ioapic_pins (capped at 24, the default table's
 * size, and at the IOAPIC's pin count), and GSI 0-15 -> PIC pin n (master 0-7, slave 8-15)
 * too, GSI 2 included (master IR2). The ISA IRQ0 -> GSI 2 override lives in the guest's
 * MADT, not in this table; QEMU's own table (kvm_pc_setup_irq_routing: GSI 0 on IOAPIC
 * pin 2, GSI 2 on no PIC pin) is a userspace choice pushed with virq_router_add().
 * Returns 0 or -EINVAL (nr_ioapic_pins > 24).
 */
int virq_router_set_default(struct virq_router *r, unsigned int nr_ioapic_pins);

/*
 * Adds an entry. Returns 0; -EINVAL bad GSI/type/chip/pin or an MSI that does not decode;
 * -EEXIST the GSI already has an entry for that chip, or mixes MSI with anything
 * (KVM's rule); -ENOSPC table full.
 */
int virq_router_add(struct virq_router *r, const struct virq_route *e);
/* Removes the entry equal to *e (all fields of its type). 0 or -ENOENT. */
int virq_router_remove(struct virq_router *r, const struct virq_route *e);
void virq_router_clear(struct virq_router *r);

/* Table iteration, in insertion order (what a VMM pushes with KVM_SET_GSI_ROUTING). */
size_t virq_router_count(const struct virq_router *r);
/* Copies entry idx; 0 or -ENOENT past the end. */
int virq_router_get(const struct virq_router *r, size_t idx, struct virq_route *out);

/*
 * Drives GSI to level through every entry, combining results as kvm_set_irq() does:
 * negative entry results are ignored and the rest summed (so one entry that delivered
 * beats a masked one); if every entry failed, the first failure's -errno is returned.
 * -ENOENT: no entry for the GSI (or GSI out of range). MSI entries send only on assert
 * (de-assert gives -EINVAL for them, as kvm_set_msi ignores level 0).
 */
int virq_router_set_irq(struct virq_router *r, uint32_t gsi, int level);
/* Assert then de-assert (an edge, KVM_IRQ_LINE 1 then 0); returns the assert's result. */
int virq_router_pulse(struct virq_router *r, uint32_t gsi);
/* The level last driven on gsi. */
bool virq_router_line(const struct virq_router *r, uint32_t gsi);

#endif /* VIRQ_ROUTER_H */
