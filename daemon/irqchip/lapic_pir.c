// SPDX-License-Identifier: MIT
/*
 * PIR -> IRR merge (include/virq/lapic_pir.h). Every bit goes through virq_lapic_accept(),
 * the routine the APIC bus uses for a message resolved to this LAPIC, with the message a
 * posted interrupt stands for: fixed delivery, edge trigger, assert (SDM Vol. 3C 30.6:
 * posting carries only a vector; the VMM posts only fixed edge interrupts).
 */
#include <errno.h>
#include <string.h>

#include "lapic_internal.h"
#include "virq/lapic_pir.h"

int virq_lapic_accept_pir(struct virq_lapic *l, const uint64_t pir[4],
			  struct virq_lapic_pir_result *res)
{
	struct virq_lapic_pir_result local;
	struct virq_irq irq;
	int accepted = 0;

	if (!l || !pir)
		return -EINVAL;
	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	memset(&irq, 0, sizeof(irq));
	irq.delivery_mode = VIRQ_DM_FIXED;
	irq.level = 1;
	irq.path = VIRQ_PATH_MSI;
	for (unsigned int w = 0; w < 4; w++) {
		uint64_t bits = pir[w];

		while (bits) {
			unsigned int b = (unsigned int)__builtin_ctzll(bits);
			int r;

			bits &= bits - 1;
			irq.vector = (uint8_t)(w * 64 + b);
			r = virq_lapic_accept(l, &irq);
			if (r > 0) {
				res->accepted++;
				accepted++;
			} else if (r == VIRQ_RES_COALESCED) {
				res->coalesced++;
				res->coalesced_map[w] |= 1ull << b;
			} else {
				res->rejected++;
				res->rejected_map[w] |= 1ull << b;
			}
		}
	}
	return accepted;
}

bool virq_lapic_pv_eoi_ok(const struct virq_lapic *l, uint8_t vector)
{
	unsigned int w = vector >> 5;
	uint32_t bit = 1u << (vector & 31);

	for (unsigned int i = 0; i < 8; i++) {
		if (l->irr[i])
			return false;
		if (l->isr[i] != (i == w ? bit : 0))
			return false;
	}
	return !(l->tmr[w] & bit);
}

bool virq_lapic_accepts_fixed(const struct virq_lapic *l)
{
	return virq_lapic_mode(l) != VIRQ_LAPIC_DISABLED && virq_lapic_sw_enabled(l);
}
