/* SPDX-License-Identifier: MIT */
/*
 * virq: the I/O APIC (Intel 82093AA datasheet, 290566; version 0x20 with the EOI register
 * as in the ICH I/O(x)APIC). MMIO window: IOREGSEL at +0x00, IOWIN at +0x10, EOI at +0x40
 * (version 0x20 only). Indirect registers: ID 0x00, VER 0x01, ARB 0x02, redirection table
 * 0x10 + 2*pin (low dword) / +1 (high dword).
 *
 * Input levels are logical ("asserted"), as KVM_IRQ_LINE gives them; the RTE polarity bit
 * is stored for the guest but does not invert the line (KVM and QEMU do the same).
 *
 * Threading: a plain caller-allocated struct; the caller serialises all calls on one
 * instance. The sink is called synchronously (set_irq, mmio_write, eoi, tick, restore)
 * and must not re-enter this IOAPIC; an EOI that the sink's LAPIC generates must be
 * queued by the caller and passed to virq_ioapic_eoi() afterwards.
 */
#ifndef VIRQ_IOAPIC_H
#define VIRQ_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>
#include "virq/irq.h"

#define VIRQ_IOAPIC_MAX_PINS 120
#define VIRQ_IOAPIC_DEFAULT_PINS 24
#define VIRQ_IOAPIC_DEFAULT_BASE 0xfec00000u

/* MMIO offsets. */
#define VIRQ_IOAPIC_IOREGSEL 0x00
#define VIRQ_IOAPIC_IOWIN 0x10
#define VIRQ_IOAPIC_EOI 0x40 /* version 0x20 */

/* Indirect register indexes and fields (82093AA 3.2). */
#define VIRQ_IOAPIC_REG_ID 0x00
#define VIRQ_IOAPIC_REG_VER 0x01
#define VIRQ_IOAPIC_REG_ARB 0x02
#define VIRQ_IOAPIC_REG_REDTBL 0x10
#define VIRQ_IOAPIC_ID_SHIFT 24
#define VIRQ_IOAPIC_ID_MASK 0xfu
#define VIRQ_IOAPIC_VER_MRE_SHIFT 16 /* maximum redirection entry = pins - 1 */
#define VIRQ_IOAPIC_VERSION_82093AA 0x11
#define VIRQ_IOAPIC_VERSION_EOI 0x20

/* Redirection table entry (82093AA 3.2.4), 64 bits. */
#define VIRQ_RTE_VECTOR_MASK 0xffull
#define VIRQ_RTE_DM_SHIFT 8
#define VIRQ_RTE_DM_MASK 0x7ull
#define VIRQ_RTE_DEST_LOGICAL (1ull << 11)
#define VIRQ_RTE_DELIVERY_STATUS (1ull << 12) /* read-only */
#define VIRQ_RTE_POLARITY_LOW (1ull << 13)
#define VIRQ_RTE_REMOTE_IRR (1ull << 14) /* read-only */
#define VIRQ_RTE_TRIGGER_LEVEL (1ull << 15)
#define VIRQ_RTE_MASKED (1ull << 16)
#define VIRQ_RTE_EXT_DEST_SHIFT 49 /* destination bits 14:8 (extended destination ID) */
#define VIRQ_RTE_EXT_DEST_MASK 0x7full
#define VIRQ_RTE_DEST_SHIFT 56
#define VIRQ_RTE_DEST_MASK 0xffull
#define VIRQ_RTE_RO_BITS (VIRQ_RTE_DELIVERY_STATUS | VIRQ_RTE_REMOTE_IRR)

enum virq_ioapic_cfg_flags {
	/* RTE bits 55:49 are destination bits 14:8 (KVM_FEATURE_MSI_EXT_DEST_ID). */
	VIRQ_IOAPIC_EXT_DEST_ID = 1u << 0,
};

#define VIRQ_IOAPIC_STORM_THRESHOLD_DEFAULT 10000
#define VIRQ_IOAPIC_STORM_DELAY_NS_DEFAULT 10000000ull /* 10 ms, KVM's HZ / 100 */

struct virq_ioapic_config {
	uint32_t nr_pins; /* 1..VIRQ_IOAPIC_MAX_PINS */
	uint32_t version; /* VIRQ_IOAPIC_VERSION_82093AA or VIRQ_IOAPIC_VERSION_EOI */
	uint32_t id; /* 0..15 */
	uint32_t flags; /* enum virq_ioapic_cfg_flags */
	/* Storm guard: after this many back-to-back EOI re-deliveries of one held level pin
	 * the next one is deferred to virq_ioapic_tick(); 0 disables the guard. */
	uint32_t storm_threshold;
	uint64_t storm_delay_ns;
};

/* Per-pin statistics. Invariant: delivered + coalesced + ignored == sent. */
struct virq_ioapic_pin_stats {
	uint64_t asserted; /* low->high input transitions */
	uint64_t masked; /* low->high transitions while the RTE was masked */
	uint64_t sent; /* messages given to the sink */
	uint64_t delivered; /* sink result > 0 */
	uint64_t coalesced; /* sink result == 0 */
	uint64_t ignored; /* sink result < 0 (no destination, ...) */
	uint64_t eoi; /* remote IRR cleared by an EOI (broadcast or EOI register) */
	uint64_t redelivered; /* sends because the line was still asserted at EOI / tick */
	uint64_t deferred; /* storm guard: re-deliveries postponed to the tick */
};

struct virq_ioapic {
	struct virq_ioapic_config cfg;
	struct virq_sink sink;
	uint32_t ioregsel;
	uint32_t id;
	uint64_t rte[VIRQ_IOAPIC_MAX_PINS]; /* delivery status is computed on read */
	uint64_t line[2]; /* input levels, bit per pin */
	uint64_t deferred[2]; /* storm guard: pins waiting for the tick */
	uint32_t streak[VIRQ_IOAPIC_MAX_PINS]; /* back-to-back EOI re-deliveries */
	uint64_t defer_due[VIRQ_IOAPIC_MAX_PINS]; /* 0: not yet stamped by a tick */
	struct virq_ioapic_pin_stats stats[VIRQ_IOAPIC_MAX_PINS];
	uint64_t bad_index; /* register accesses to unimplemented indexes */
};

#define VIRQ_IOAPIC_STATE_VERSION 1
struct virq_ioapic_state {
	uint32_t version;
	uint32_t nr_pins; /* must match the instance */
	uint32_t ioapic_version; /* must match the instance */
	uint32_t id;
	uint32_t ioregsel;
	uint32_t pad; /* must be zero */
	uint64_t rte[VIRQ_IOAPIC_MAX_PINS];
	uint64_t line[2];
	uint64_t deferred[2];
	uint32_t streak[VIRQ_IOAPIC_MAX_PINS];
	uint64_t defer_due[VIRQ_IOAPIC_MAX_PINS];
};

/* Fills *cfg with 24 pins, version 0x11, ID 0, no flags and the default storm guard. */
void virq_ioapic_config_default(struct virq_ioapic_config *cfg);

/*
 * Reset state (82093AA: every RTE masked, everything else 0). cfg NULL means defaults.
 * Returns 0 or -EINVAL (pin count, version or ID out of range). The sink is copied.
 */
int virq_ioapic_init(struct virq_ioapic *io, const struct virq_ioapic_config *cfg,
		     const struct virq_sink *sink);

/*
 * Drives input pin to level. Result: -EINVAL bad pin; -EBUSY masked (a level pin still
 * remembers the line and delivers at unmask; an edge on a masked pin is discarded, 82093AA
 * 3.2.4 "Interrupt Mask"); 0 coalesced (edge line already high, level pin waiting for its
 * EOI or deferred, or the sink coalesced); the sink's result otherwise; de-asserts
 * return 1. A level pin sets remote IRR when the sink accepted the message (result >= 0).
 */
int virq_ioapic_set_irq(struct virq_ioapic *io, unsigned int pin, int level);

/* 32-bit MMIO access at offset (from the IOAPIC base). Reads of other offsets return 0;
 * writes to them return -EINVAL and are ignored. The EOI register exists in version 0x20
 * only. */
uint32_t virq_ioapic_mmio_read(struct virq_ioapic *io, uint64_t offset);
int virq_ioapic_mmio_write(struct virq_ioapic *io, uint64_t offset, uint32_t val);

/*
 * EOI for vector (the LAPIC's EOI broadcast, SDM 11.8.5, or the version 0x20 EOI
 * register): clears remote IRR of every level RTE with that vector and re-delivers the
 * pins whose line is still asserted, unless the storm guard defers them.
 */
void virq_ioapic_eoi(struct virq_ioapic *io, uint8_t vector);

/*
 * The clock for the storm guard: a deferred pin is re-delivered by the first tick at
 * least storm_delay_ns after the first tick that saw it deferred (the IOAPIC has no clock
 * of its own: KVM's delayed work, driven by the caller). Returns the number of pins sent.
 */
int virq_ioapic_tick(struct virq_ioapic *io, uint64_t now_ns);

/* True if a pin waits for the tick; *due_ns is the earliest known deadline, or 0 when a
 * deferral has not been stamped yet (call virq_ioapic_tick() now). */
bool virq_ioapic_next_deadline(const struct virq_ioapic *io, uint64_t *due_ns);

/* The redirection entry as the guest reads it (delivery status included); 0 if bad pin. */
uint64_t virq_ioapic_read_rte(const struct virq_ioapic *io, unsigned int pin);

/* The interrupt message an RTE sends (path VIRQ_PATH_IOAPIC). */
void virq_ioapic_rte_to_irq(const struct virq_ioapic *io, uint64_t rte, struct virq_irq *out);

/*
 * KVM's split-irqchip convention (QEMU ioapic_service): RTE -> MSI address/data for an MSI
 * route. address = 0xFEE00000 | RTE[63:56] << 12 | RTE[55:49] << 5 | RTE[11] << 2 (RH 0),
 * address_hi = 0, data = vector | delivery mode << 8 | trigger << 15 | assert (bit 14).
 */
void virq_ioapic_rte_to_msi(uint64_t rte, uint32_t *addr_lo, uint32_t *addr_hi, uint32_t *data);

void virq_ioapic_save(const struct virq_ioapic *io, struct virq_ioapic_state *st);
/* Validates (version, pin count and IOAPIC version equal to this instance's, reserved RTE
 * bits, remote IRR only on level entries, deferrals only on asserted level pins) and loads;
 * -EINVAL leaves the IOAPIC untouched. Sends nothing: the snapshot already says what is in
 * flight. Statistics are kept. */
int virq_ioapic_restore(struct virq_ioapic *io, const struct virq_ioapic_state *st);

const struct virq_ioapic_pin_stats *virq_ioapic_pin_stats(const struct virq_ioapic *io,
							  unsigned int pin);

#endif /* VIRQ_IOAPIC_H */
