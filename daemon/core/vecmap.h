/* SPDX-License-Identifier: MIT */
/*
 * Which delivery path each vector of one of virqd's VMs arrives on (daemon/core/vecmap.c),
 * learnt from what the daemon made the VMM do: vm.inject calls and scenario actions. It
 * feeds the cross-check's vector_path[] and level_vectors[] (include/virq/xcheck.h), so the
 * per-path checks can run.
 *
 *   MSI, fixed/lowest        -> msi; posted instead in a user-mode VM with posted
 *                               descriptors when postable (fixed, edge, one physical dest)
 *   MSI or IPI, NMI mode     -> nmi (vector 2); vm.inject nmi, scenario nmi -> nmi
 *   IPI (ICR), fixed/lowest  -> ipi;  LAPIC timer -> timer
 *   GSI -> the IOAPIC RTE's vector when the guest was told to unmask it (ioapic action or
 *          mailbox IOAPIC_WRITE; level RTE -> level bit), and/or the 8259A's base + pin
 *          when its IMR bit is clear (pic action; the firmware boots it masked at
 *          VIRQ_PIC_BOOT_BASE). A GSI with no known unmasked route is counted, not guessed.
 *   SMI/INIT/SIPI/ExtINT messages carry no vector: not recorded.
 *
 * A vector seen on two paths is a conflict: it is recorded (both paths, counted) and never
 * resolved by guessing; apply() then leaves every vector of the paths involved at "vm",
 * so the engine judges them per (vCPU, vector) without a path (coarser, never wrong).
 *
 * Pure state and functions of their input; the caller serialises (virqd: loop thread).
 */
#ifndef VIRQ_DAEMON_VECMAP_H
#define VIRQ_DAEMON_VECMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "virq/vmm.h"
#include "virq/xcheck.h"

#define VIRQD_VECMAP_GSIS 24

struct virqd_vecmap {
	uint8_t path[VIRQ_XC_NR_VECTORS]; /* first path seen, VIRQ_XC_PATH_NONE = unused */
	uint8_t other[VIRQ_XC_NR_VECTORS]; /* a second, different path (conflict), or NONE */
	uint64_t level[VIRQ_XC_NR_VECTORS / 64]; /* level-triggered routes */
	uint32_t conflicts; /* vectors with a conflict */
	uint64_t unrouted_gsi; /* GSI injections with no known unmasked route */
	/* Injections (repetitions included) of GSIs 0-15 routed to the IOAPIC only (8259A pin
	 * masked): the kernel-irqchip VMM ledger counts every GSI < 16 as "pic". */
	uint64_t low_gsi_ioapic;
	/* NMIs (CPUs reached) the guest was told to send by IPI: not in the VMM's ledger */
	uint64_t guest_nmis;
	uint32_t nr_vcpus;
	bool posted_msi; /* fixed MSIs land in posted descriptors (user irqchip, posted) */
	/* The routing the guest was told to use. */
	struct {
		bool unmasked;
		bool level;
		uint8_t vector;
	} rte[VIRQD_VECMAP_GSIS];
	uint8_t pic_base;
	uint16_t pic_imr;
};

/* Fresh map for a VM of this configuration (PIC masked at VIRQ_PIC_BOOT_BASE, IOAPIC
 * pins masked: the firmware's and the chip's reset state). */
void virqd_vecmap_init(struct virqd_vecmap *m, const struct virq_vm_config *cfg);

/* Records vector on path p (level: routed level-triggered). 0, -EEXIST when the vector
 * was seen on another path (conflict recorded), -EINVAL (p out of range). */
int virqd_vecmap_note(struct virqd_vecmap *m, unsigned int vector, enum virq_xcheck_path p,
		      bool level);

/* An MSI message the VMM sends (address/data, SDM Vol. 3A 11.11.1-2). */
void virqd_vecmap_msi(struct virqd_vecmap *m, uint64_t addr, uint32_t data);
/* A GSI the VMM drives (per the routing above). */
void virqd_vecmap_gsi(struct virqd_vecmap *m, uint32_t gsi);
/* The same for `n` injections of the GSI (counts low_gsi_ioapic by n). */
void virqd_vecmap_gsi_n(struct virqd_vecmap *m, uint32_t gsi, uint64_t n);
/* An ICR value the guest is asked to write (an IPI; SDM Vol. 3A 11.6.1). */
void virqd_vecmap_icr(struct virqd_vecmap *m, uint64_t icr);
/* Every action of a scenario, in order (routing actions update the routing). */
void virqd_vecmap_scenario(struct virqd_vecmap *m, const struct virq_scenario *s);

/* Writes vector_path[] (vectors of paths with a conflict stay at VIRQ_XC_PATH_VM) and
 * level_vectors[] of a cross-check VM. Vectors never seen are left as they are. */
void virqd_vecmap_apply(const struct virqd_vecmap *m, struct virq_xcheck_vm *xv);

/* The i-th conflicting vector (ascending), with its two paths; -1 when none. */
int virqd_vecmap_conflict(const struct virqd_vecmap *m, unsigned int i, uint8_t *p1, uint8_t *p2);

#endif /* VIRQ_DAEMON_VECMAP_H */
