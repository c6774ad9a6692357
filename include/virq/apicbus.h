/* SPDX-License-Identifier: MIT */
/*
 * virq: the APIC bus. Holds the local APICs of one VM and resolves destinations for
 * every interrupt message -- IOAPIC redirection entries, MSIs and IPIs alike, through one
 * resolver (SDM Vol. 3A 11.6.2: physical, logical flat, logical cluster, x2APIC cluster,
 * broadcast, shorthands, lowest priority).
 *
 * Resolution cost grows with the number of targets, not with the number of CPUs: the bus
 * keeps a physical-ID map and a logical map (as KVM's kvm_apic_map), rebuilt whenever an
 * APIC ID, LDR, DFR, SVR or APIC_BASE changes. When the map cannot represent the
 * configuration (duplicate IDs, LDRs with several bits, mixed DFR models or mixed
 * xAPIC/x2APIC logical mode) resolution falls back to a scan of every LAPIC (counted).
 *
 * Threading: see lapic.h; one caller at a time per bus. The ops run on the calling thread.
 */
#ifndef VIRQ_APICBUS_H
#define VIRQ_APICBUS_H

#include <stdbool.h>
#include <stdint.h>

#include "virq/irq.h"
#include "virq/lapic.h"

#define VIRQ_APICBUS_MAX_CPUS 1024
/* Initial APIC IDs are below this bound (xAPIC IDs are also writable up to 255). */
#define VIRQ_APICBUS_MAX_APIC_ID 4095

/* Lowest-priority arbitration (SDM 11.6.2.4 / 10.6.2.4 on older editions). Selectable
 * per bus: virq_apicbus_config.lowprio at creation, virq_apicbus_set_lowprio() later. */
enum virq_lowprio_mode {
	/* The SDM's (default): the focus processor (vector already in its IRR or ISR,
	 * unless SVR[9] disables focus checking) wins; otherwise the lowest arbitration
	 * priority (APR). Ties rotate, as the SDM's arbitration priority does (SDM 11.7:
	 * the winner drops to the lowest): among equal-APR targets the one that won
	 * longest ago (never: first) wins, then the lowest APIC ID, so N interrupts to K
	 * equal targets spread round-robin. A win counts when the winner takes the
	 * interrupt (virq_apicbus_deliver/IPIs), not in virq_apicbus_resolve(). */
	VIRQ_LOWPRIO_SDM = 0,
	/* KVM's vector hashing (kvm_vector_to_index, KVM's default): candidate number
	 * vector % m among the m software-enabled candidates, counted in KVM's order --
	 * logical destination member-bit order on the fast map, CPU index otherwise
	 * (broadcast, physical, mixed modes) -- so results can be compared with KVM.
	 * Priorities and focus are ignored. Unlike KVM's fast path, destination bits with
	 * no (enabled) LAPIC are not counted, so nothing is dropped. */
	VIRQ_LOWPRIO_KVM_HASH,
};

struct virq_apicbus_ops {
	/* vCPU `cpu` has a new event (VIRQ_LAPIC_EV_*): the VMM kicks that vCPU. */
	void (*notify)(void *opaque, unsigned int cpu, uint32_t events);
	/* INTA for ExtINT on vCPU `cpu`: the PIC's vector, or < 0 for none (spurious). */
	int (*extint_ack)(void *opaque, unsigned int cpu);
};

struct virq_apicbus_config {
	unsigned int nr_cpus; /* 1..VIRQ_APICBUS_MAX_CPUS; CPU 0 is the BSP */
	const uint32_t *apic_ids; /* initial APIC IDs (distinct), or NULL: the CPU index */
	struct virq_lapic_config lapic; /* applied to every LAPIC */
	enum virq_lowprio_mode lowprio;
	const struct virq_apicbus_ops *ops; /* may be NULL */
	void *opaque;
	/* Level-triggered EOIs go to eoi_sink's eoi_broadcast (the IOAPIC side). */
	struct virq_sink eoi_sink;
};

struct virq_apicbus_stats {
	uint64_t messages; /* virq_apicbus_deliver() + IPIs */
	uint64_t reached; /* sum of CPUs reached */
	uint64_t coalesced; /* messages whose every target had the vector pending */
	uint64_t no_target; /* destination matched no enabled LAPIC */
	uint64_t rejected; /* all targets refused (disabled, illegal vector) */
	uint64_t slow_path; /* resolutions that scanned every LAPIC */
	uint64_t map_rebuilds;
	uint64_t lowprio_focus, lowprio_arbitrated, lowprio_hashed;
	uint64_t per_path[VIRQ_PATH__COUNT];
};

/* Creates the bus and its LAPICs in their reset state: APIC_BASE 0xFEE00800 (| BSP on
 * CPU 0), xAPIC mode, SVR 0xFF (software-disabled), LVT0 ExtINT on the BSP (as KVM's
 * reset; masked elsewhere). Returns NULL with errno EINVAL (bad config, duplicate or
 * too-large IDs) or ENOMEM. */
struct virq_apicbus *virq_apicbus_new(const struct virq_apicbus_config *cfg);
void virq_apicbus_free(struct virq_apicbus *bus);

/* Select the lowest-priority arbitration policy. Returns 0, or -EINVAL for an unknown
 * mode. */
int virq_apicbus_set_lowprio(struct virq_apicbus *bus, enum virq_lowprio_mode mode);
enum virq_lowprio_mode virq_apicbus_lowprio(const struct virq_apicbus *bus);

unsigned int virq_apicbus_nr_cpus(const struct virq_apicbus *bus);
/* The LAPIC of CPU `cpu`, owned by the bus; NULL when out of range. */
struct virq_lapic *virq_apicbus_lapic(struct virq_apicbus *bus, unsigned int cpu);

/* Deliver an APIC-bus message (IOAPIC, MSI, or an IPI built by the caller; shorthands use
 * irq->src_apic_id to find the sender). Result per irq.h: < 0 ignored (-ENOENT no
 * destination, or the targets' refusal), 0 coalesced, > 0 CPUs reached. */
int virq_apicbus_deliver(struct virq_apicbus *bus, const struct virq_irq *irq);

/* Fill `sink` so the bus is the target of an IOAPIC or MSI model: deliver -> above,
 * pic_int -> LINT0 of every LAPIC (the ExtINT virtual wire), eoi_broadcast -> unused. */
void virq_apicbus_sink(struct virq_apicbus *bus, struct virq_sink *sink);

/* The PIC's INT output: LINT0 level of every LAPIC. */
void virq_apicbus_set_pic_int(struct virq_apicbus *bus, bool level);

/* Destination resolution only (no delivery): writes up to `max` CPU indices of the
 * LAPICs the message reaches into `cpus` (ascending APIC-ID order is not guaranteed;
 * for lowest priority, the single arbitration winner) and returns their number, or
 * -ENOENT. `src_cpu` is the sender for shorthands (-1: none). */
int virq_apicbus_resolve(struct virq_apicbus *bus, const struct virq_irq *irq, int src_cpu,
			 uint16_t *cpus, unsigned int max);

const struct virq_apicbus_stats *virq_apicbus_stats(const struct virq_apicbus *bus);

#endif /* VIRQ_APICBUS_H */
