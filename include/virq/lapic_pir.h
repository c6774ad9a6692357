/* SPDX-License-Identifier: MIT */
/*
 * virq: merging a posted-interrupt request bitmap (PIR, include/virq/pi_desc.h) into a
 * local APIC's IRR -- the step VT-x performs at VM entry or on the notification vector
 * (Intel SDM Vol. 3C 30.6, "Posted-Interrupt Processing": PIR is ORed into VIRR) and
 * KVM's vmx_sync_pir_to_irr does in software.
 *
 * Each set PIR bit is accepted exactly as a fixed, edge-triggered interrupt from the
 * APIC bus would be (the LAPIC's own acceptance routine), so the architectural rules
 * still apply and the LAPIC's statistics and derived caches stay consistent:
 *   - a vector 0-15 is illegal: refused, ESR "receive illegal vector" (SDM 11.5.3);
 *   - a software-disabled LAPIC refuses fixed interrupts (SDM 11.4.7.2);
 *   - a vector already in IRR is coalesced (SDM 11.8.4: one IRR bit per vector);
 *   - TMR is cleared for every accepted vector (posting is edge-only: level-triggered
 *     messages need TMR and must take the locked bus path).
 *
 * Threading: as lapic.h -- the caller serialises every call on the LAPIC's bus (the
 * VMM's irq lock). Does not block, allocate or call an ioctl. The bus's notify callback
 * may run on the calling thread once per accepted vector.
 */
#ifndef VIRQ_LAPIC_PIR_H
#define VIRQ_LAPIC_PIR_H

#include <stdbool.h>
#include <stdint.h>

#include "virq/lapic.h"

/* What one merge did. The bitmaps say which vectors (bit v%64 of word v/64). */
struct virq_lapic_pir_result {
	uint32_t accepted; /* newly set in IRR */
	uint32_t coalesced; /* already in IRR: merged (lost as a separate interrupt) */
	uint32_t rejected; /* illegal vector or software-disabled LAPIC */
	uint32_t pad;
	uint64_t coalesced_map[4];
	uint64_t rejected_map[4];
};

/*
 * ORs the 256-bit `pir` (as virq_pi_sync() or a PIR word swap produced it; bit v%64 of
 * pir[v/64]) into the IRR of `l`, lowest vector first. `res` may be NULL. Returns the
 * number of vectors newly accepted (>= 0), or -EINVAL when l or pir is NULL.
 */
int virq_lapic_accept_pir(struct virq_lapic *l, const uint64_t pir[4],
			  struct virq_lapic_pir_result *res);

/*
 * KVM's paravirtual-EOI rule (apic_sync_pv_eoi_to_guest): after `vector` was acknowledged,
 * its EOI may skip the exit only when nothing else depends on that EOI -- no vector
 * pending in IRR (the EOI would have to deliver it), `vector` is the only bit in ISR
 * (PPR must drop exactly to TPR), and `vector` is edge-triggered (TMR clear: a level EOI
 * must reach the IOAPIC, SDM 11.8.5). Returns true when the EOI needs no exit.
 */
bool virq_lapic_pv_eoi_ok(const struct virq_lapic *l, uint8_t vector);

/* True when a fixed interrupt would be accepted at all: LAPIC hardware-enabled and
 * software-enabled (SDM 11.4.3, 11.4.7.2). For the VMM's lock-free posting map. */
bool virq_lapic_accepts_fixed(const struct virq_lapic *l);

/* Converts the 8 x 32-bit IRR-word layout of virq_pi_sync() into the 4 x 64-bit PIR
 * layout above (bit v%32 of irr[v/32] -> bit v%64 of pir[v/64]). */
static inline void virq_lapic_pir_from_irr32(const uint32_t irr[8], uint64_t pir[4])
{
	for (unsigned int i = 0; i < 4; i++)
		pir[i] = (uint64_t)irr[2 * i] | (uint64_t)irr[2 * i + 1] << 32;
}

#endif /* VIRQ_LAPIC_PIR_H */
