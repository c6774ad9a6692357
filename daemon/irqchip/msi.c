// SPDX-License-Identifier: MIT
/* MSI decode/encode, Intel SDM Vol. 3A 11.11. */
#include <errno.h>
#include <string.h>

#include "virq/msi.h"

static bool msi_dm_reserved(unsigned int dm)
{
	/* SDM 11.11.2: 011b and 110b are reserved for MSI (no remote read, no StartUp). */
	return dm == VIRQ_DM_REMOTE_READ || dm == VIRQ_DM_STARTUP;
}

static bool msi_vector_reserved(unsigned int dm, unsigned int vector)
{
	/* SDM 11.5.2: vectors 0-15 are illegal for fixed and lowest-priority delivery
	 * (the receiving APIC would flag "received illegal vector"). Other modes ignore
	 * the vector field. */
	return (dm == VIRQ_DM_FIXED || dm == VIRQ_DM_LOWEST) && vector < 16;
}

enum virq_msi_status virq_msi_decode(uint32_t addr_lo, uint32_t addr_hi, uint32_t data,
				     unsigned int flags, struct virq_irq *out)
{
	uint32_t dest, ext;
	unsigned int dm, vector;
	bool rh, logical;

	memset(out, 0, sizeof(*out));
	if ((addr_lo & VIRQ_MSI_ADDR_PREFIX_MASK) != VIRQ_MSI_ADDR_PREFIX)
		return VIRQ_MSI_BAD_ADDR_PREFIX;
	if (addr_hi && !(flags & VIRQ_MSI_X2APIC))
		return VIRQ_MSI_ADDR_HI_NONZERO;
	if (addr_hi & ~VIRQ_MSI_ADDR_HI_DEST_MASK)
		return VIRQ_MSI_ADDR_HI_RESERVED;

	dest = (addr_lo >> VIRQ_MSI_ADDR_DEST_SHIFT) & VIRQ_MSI_ADDR_DEST_MASK;
	ext = (flags & VIRQ_MSI_EXT_DEST_ID) ?
		      (addr_lo >> VIRQ_MSI_ADDR_EXT_DEST_SHIFT) & VIRQ_MSI_ADDR_EXT_DEST_MASK :
		      0;
	if (ext && addr_hi)
		return VIRQ_MSI_DEST_CONFLICT;
	dest |= addr_hi | (ext << 8);

	dm = (data >> VIRQ_MSI_DATA_DM_SHIFT) & VIRQ_MSI_DATA_DM_MASK;
	vector = data & VIRQ_MSI_DATA_VECTOR_MASK;
	if (msi_dm_reserved(dm))
		return VIRQ_MSI_RESERVED_DM;
	if (msi_vector_reserved(dm, vector))
		return VIRQ_MSI_VECTOR_RESERVED;

	rh = addr_lo & VIRQ_MSI_ADDR_RH;
	logical = addr_lo & VIRQ_MSI_ADDR_DM;
	if (!rh && (flags & VIRQ_MSI_RH0_IGNORES_DM))
		logical = false;
	/* SDM 11.11.1: with RH=1 in physical mode the destination "must not be set to
	 * FFH"; in xAPIC format 0xFF is the broadcast ID. */
	if (rh && !logical && dest == 0xff && !(flags & (VIRQ_MSI_X2APIC | VIRQ_MSI_EXT_DEST_ID)))
		return VIRQ_MSI_RH_PHYS_BROADCAST;

	out->dest = dest;
	out->vector = (uint8_t)vector;
	out->delivery_mode = (uint8_t)dm;
	out->dest_logical = logical;
	out->level_trig = !!(data & VIRQ_MSI_DATA_TRIGGER);
	/* SDM 11.11.2: edge-triggered messages are always interpreted as asserts. */
	out->level = out->level_trig ? !!(data & VIRQ_MSI_DATA_LEVEL) : 1;
	out->shorthand = VIRQ_SH_NONE;
	out->redir_hint = rh;
	out->x2apic_dest = (flags & VIRQ_MSI_X2APIC) || ext;
	out->path = VIRQ_PATH_MSI;
	return VIRQ_MSI_OK;
}

int virq_msi_encode(const struct virq_irq *irq, unsigned int flags, uint32_t *addr_lo,
		    uint32_t *addr_hi, uint32_t *data)
{
	uint32_t lo = VIRQ_MSI_ADDR_PREFIX, hi = 0, d;

	if (irq->delivery_mode > 7 || msi_dm_reserved(irq->delivery_mode) ||
	    msi_vector_reserved(irq->delivery_mode, irq->vector))
		return -EINVAL;
	if (irq->dest > 0xff) {
		if (flags & VIRQ_MSI_X2APIC)
			hi = irq->dest & VIRQ_MSI_ADDR_HI_DEST_MASK;
		else if ((flags & VIRQ_MSI_EXT_DEST_ID) && irq->dest <= 0x7fff)
			lo |= ((irq->dest >> 8) & VIRQ_MSI_ADDR_EXT_DEST_MASK)
			      << VIRQ_MSI_ADDR_EXT_DEST_SHIFT;
		else
			return -EINVAL;
	}
	if (irq->redir_hint && !irq->dest_logical && irq->dest == 0xff &&
	    !(flags & (VIRQ_MSI_X2APIC | VIRQ_MSI_EXT_DEST_ID)))
		return -EINVAL;
	lo |= (irq->dest & VIRQ_MSI_ADDR_DEST_MASK) << VIRQ_MSI_ADDR_DEST_SHIFT;
	if (irq->redir_hint)
		lo |= VIRQ_MSI_ADDR_RH;
	if (irq->dest_logical)
		lo |= VIRQ_MSI_ADDR_DM;
	d = irq->vector | (uint32_t)irq->delivery_mode << VIRQ_MSI_DATA_DM_SHIFT;
	if (irq->level_trig)
		d |= VIRQ_MSI_DATA_TRIGGER | (irq->level ? VIRQ_MSI_DATA_LEVEL : 0);
	else
		d |= VIRQ_MSI_DATA_LEVEL;
	*addr_lo = lo;
	*addr_hi = hi;
	*data = d;
	return 0;
}

const char *virq_msi_status_name(enum virq_msi_status st)
{
	static const char *const names[VIRQ_MSI_STATUS__COUNT] = {
		[VIRQ_MSI_OK] = "ok",
		[VIRQ_MSI_BAD_ADDR_PREFIX] = "bad-addr-prefix",
		[VIRQ_MSI_ADDR_HI_NONZERO] = "addr-hi-nonzero",
		[VIRQ_MSI_ADDR_HI_RESERVED] = "addr-hi-reserved",
		[VIRQ_MSI_DEST_CONFLICT] = "dest-conflict",
		[VIRQ_MSI_RESERVED_DM] = "reserved-delivery-mode",
		[VIRQ_MSI_VECTOR_RESERVED] = "reserved-vector",
		[VIRQ_MSI_RH_PHYS_BROADCAST] = "rh-physical-broadcast",
	};
	return (unsigned int)st < VIRQ_MSI_STATUS__COUNT ? names[st] : "unknown";
}
