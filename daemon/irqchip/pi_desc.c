// SPDX-License-Identifier: MIT
/*
 * Posted-interrupt descriptor (SDM Vol. 3C 30.6). Lock-free: posters and the owner meet
 * only through atomic read-modify-writes on PIR words and the control word, all
 * sequentially consistent, which is what the hardware's locked operations give.
 */
#include <string.h>

#include "virq/pi_desc.h"

#define RELAXED_INC(p) __atomic_fetch_add((p), 1, __ATOMIC_RELAXED)

void virq_pi_init(struct virq_pi *pi, uint8_t nv, uint32_t ndst)
{
	memset(pi, 0, sizeof(*pi));
	__atomic_store_n(&pi->desc.control,
			 ((uint64_t)nv << VIRQ_PI_CTL_NV_SHIFT) |
				 ((uint64_t)ndst << VIRQ_PI_CTL_NDST_SHIFT),
			 __ATOMIC_SEQ_CST);
}

int virq_pi_post(struct virq_pi *pi, uint8_t vector)
{
	uint64_t bit = 1ull << (vector & 63), old_pir, old_ctl;
	int ret = 0;

	RELAXED_INC(&pi->stats.posted);
	old_pir = __atomic_fetch_or(&pi->desc.pir[vector >> 6], bit, __ATOMIC_SEQ_CST);
	if (old_pir & bit) {
		ret |= VIRQ_PI_COALESCED;
		RELAXED_INC(&pi->stats.coalesced);
	}
	/* The PIR bit is globally visible before ON is tested: an owner that has already
	 * cleared ON will either see our bit in its PIR swap or see ON set again by us. */
	old_ctl = __atomic_fetch_or(&pi->desc.control, VIRQ_PI_CTL_ON, __ATOMIC_SEQ_CST);
	if (!(old_ctl & VIRQ_PI_CTL_ON)) {
		if (old_ctl & VIRQ_PI_CTL_SN) {
			RELAXED_INC(&pi->stats.suppressed);
		} else {
			ret |= VIRQ_PI_NOTIFY;
			RELAXED_INC(&pi->stats.notified);
		}
	}
	return ret;
}

unsigned int virq_pi_sync(struct virq_pi *pi, uint32_t irr[8])
{
	unsigned int n = 0;

	/*
	 * ON first, PIR second. If we swapped PIR first and cleared ON after, a poster
	 * could set a PIR bit after our swap of that word, find ON still 1 and not notify;
	 * we would then clear ON and the bit would sit in PIR with ON = 0 and no
	 * notification coming: a lost interrupt. Clearing ON first means any bit we miss
	 * was set after our clear, so its poster sees ON = 0 and notifies (ON 0 -> 1).
	 * This is the order of KVM's vmx_sync_pir_to_irr (pi_clear_on, then
	 * kvm_apic_update_irr's xchg of each PIR word).
	 */
	__atomic_fetch_and(&pi->desc.control, ~VIRQ_PI_CTL_ON, __ATOMIC_SEQ_CST);
	for (unsigned int i = 0; i < 4; i++) {
		uint64_t w;

		if (!__atomic_load_n(&pi->desc.pir[i], __ATOMIC_RELAXED))
			continue;
		w = __atomic_exchange_n(&pi->desc.pir[i], 0, __ATOMIC_SEQ_CST);
		irr[2 * i] |= (uint32_t)w;
		irr[2 * i + 1] |= (uint32_t)(w >> 32);
		n += (unsigned int)__builtin_popcountll(w);
	}
	RELAXED_INC(&pi->stats.syncs);
	__atomic_fetch_add(&pi->stats.merged, n, __ATOMIC_RELAXED);
	return n;
}

void virq_pi_set_sn(struct virq_pi *pi)
{
	__atomic_fetch_or(&pi->desc.control, VIRQ_PI_CTL_SN, __ATOMIC_SEQ_CST);
}

bool virq_pi_clear_sn(struct virq_pi *pi)
{
	/* After SN clears, a post that sets ON notifies; one that found ON already set
	 * (set silently under SN) relies on us: report ON so the caller syncs. */
	uint64_t old = __atomic_fetch_and(&pi->desc.control, ~VIRQ_PI_CTL_SN, __ATOMIC_SEQ_CST);

	return old & VIRQ_PI_CTL_ON;
}

void virq_pi_set_target(struct virq_pi *pi, uint8_t nv, uint32_t ndst)
{
	uint64_t old = __atomic_load_n(&pi->desc.control, __ATOMIC_RELAXED), new;

	do {
		new = (old & ~(VIRQ_PI_CTL_NV_MASK | VIRQ_PI_CTL_NDST_MASK)) |
		      ((uint64_t)nv << VIRQ_PI_CTL_NV_SHIFT) |
		      ((uint64_t)ndst << VIRQ_PI_CTL_NDST_SHIFT);
	} while (!__atomic_compare_exchange_n(&pi->desc.control, &old, new, false, __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
}

uint64_t virq_pi_control(const struct virq_pi *pi)
{
	return __atomic_load_n(&pi->desc.control, __ATOMIC_SEQ_CST);
}

bool virq_pi_pir_empty(const struct virq_pi *pi)
{
	for (unsigned int i = 0; i < 4; i++)
		if (__atomic_load_n(&pi->desc.pir[i], __ATOMIC_SEQ_CST))
			return false;
	return true;
}

void virq_pi_stats(const struct virq_pi *pi, struct virq_pi_stats *out)
{
	out->posted = __atomic_load_n(&pi->stats.posted, __ATOMIC_RELAXED);
	out->coalesced = __atomic_load_n(&pi->stats.coalesced, __ATOMIC_RELAXED);
	out->notified = __atomic_load_n(&pi->stats.notified, __ATOMIC_RELAXED);
	out->suppressed = __atomic_load_n(&pi->stats.suppressed, __ATOMIC_RELAXED);
	out->syncs = __atomic_load_n(&pi->stats.syncs, __ATOMIC_RELAXED);
	out->merged = __atomic_load_n(&pi->stats.merged, __ATOMIC_RELAXED);
}
