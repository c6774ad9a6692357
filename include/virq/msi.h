/* SPDX-License-Identifier: MIT */
/*
 * virq: MSI message decoding and encoding (Intel SDM Vol. 3A 11.11).
 *
 * An MSI is a 32-bit memory write of `data` to `address` in the 0xFEExxxxx window. The
 * decoder turns one into a `struct virq_irq` (path VIRQ_PATH_MSI) or says precisely why
 * the message is malformed; the encoder is its inverse and is what the GSI router and the
 * split-irqchip mode (IOAPIC RTE -> KVM MSI route) use.
 *
 * Pure functions: no state, callable from any thread.
 */
#ifndef VIRQ_MSI_H
#define VIRQ_MSI_H

#include <stdint.h>
#include "virq/irq.h"

/* Address register, SDM 11.11.1 (Figure 11-24). */
#define VIRQ_MSI_ADDR_PREFIX 0xfee00000u
#define VIRQ_MSI_ADDR_PREFIX_MASK 0xfff00000u
#define VIRQ_MSI_ADDR_DEST_SHIFT 12 /* destination ID, bits 19:12 */
#define VIRQ_MSI_ADDR_DEST_MASK 0xffu
#define VIRQ_MSI_ADDR_EXT_DEST_SHIFT 5 /* extended destination ID bits 14:8, in bits 11:5 */
#define VIRQ_MSI_ADDR_EXT_DEST_MASK 0x7fu
#define VIRQ_MSI_ADDR_RH (1u << 3) /* redirection hint */
#define VIRQ_MSI_ADDR_DM (1u << 2) /* destination mode: 1 logical */
/* x2APIC format: destination bits 31:8 in address_hi bits 31:8; bits 7:0 reserved. */
#define VIRQ_MSI_ADDR_HI_DEST_MASK 0xffffff00u

/* Data register, SDM 11.11.2 (Figure 11-25). */
#define VIRQ_MSI_DATA_VECTOR_MASK 0xffu
#define VIRQ_MSI_DATA_DM_SHIFT 8
#define VIRQ_MSI_DATA_DM_MASK 0x7u
#define VIRQ_MSI_DATA_LEVEL (1u << 14) /* 1 assert (level-triggered messages only) */
#define VIRQ_MSI_DATA_TRIGGER (1u << 15) /* 1 level */

/* Decoder options (bitwise or). */
enum virq_msi_flags {
	/* Address bits 11:5 carry destination bits 14:8 (the "extended destination ID"
	 * convention of KVM_FEATURE_MSI_EXT_DEST_ID / Hyper-V): a 15-bit destination. */
	VIRQ_MSI_EXT_DEST_ID = 1u << 0,
	/* 32-bit x2APIC destinations: address_hi bits 31:8 are destination bits 31:8
	 * (KVM_X2APIC_API_USE_32BIT_IDS). Without it a nonzero address_hi is malformed. */
	VIRQ_MSI_X2APIC = 1u << 1,
	/* Literal SDM 11.11.1 reading of RH=0: "the DM bit is ignored", the destination is
	 * taken as a physical APIC ID. By default DM selects physical/logical whatever RH
	 * says, as real chipsets, Linux, KVM and QEMU do (a logical fixed IOAPIC RTE turned
	 * into an MSI route has RH=0, DM=1 and must stay logical). */
	VIRQ_MSI_RH0_IGNORES_DM = 1u << 2,
};

/* Why a message was rejected. Append-only. */
enum virq_msi_status {
	VIRQ_MSI_OK = 0,
	VIRQ_MSI_BAD_ADDR_PREFIX, /* address bits 31:20 are not 0xFEE */
	VIRQ_MSI_ADDR_HI_NONZERO, /* address_hi != 0 without VIRQ_MSI_X2APIC */
	VIRQ_MSI_ADDR_HI_RESERVED, /* x2APIC format with address_hi bits 7:0 set */
	VIRQ_MSI_DEST_CONFLICT, /* both address_hi and extended destination bits used */
	VIRQ_MSI_RESERVED_DM, /* delivery mode 011b or 110b (SDM 11.11.2: reserved) */
	VIRQ_MSI_VECTOR_RESERVED, /* fixed/lowest-priority vector 0-15 (SDM 11.5.2) */
	VIRQ_MSI_RH_PHYS_BROADCAST, /* RH=1, DM=0 with destination 0xFF (SDM 11.11.1) */
	VIRQ_MSI_STATUS__COUNT
};

/*
 * Decodes one MSI into *out (zeroed first; path = VIRQ_PATH_MSI, src_apic_id 0).
 * Rules (SDM 11.11): edge-triggered messages are always asserts (level = 1); RH=1 sets
 * out->redir_hint (lowest priority among the destinations; delivery_mode is kept as
 * written, the APIC bus treats redir_hint like lowest priority, as KVM does).
 * out->x2apic_dest is set when the destination is wider than 8 bits (VIRQ_MSI_X2APIC,
 * or nonzero extended destination bits). Address bits 11:4 other than the extended
 * destination, and data bits 13:11 and 31:16, are ignored as reserved.
 * Returns VIRQ_MSI_OK (0) or the reason; *out is only meaningful on VIRQ_MSI_OK.
 * Not an errno: callers that need one map any nonzero status to -EINVAL.
 */
enum virq_msi_status virq_msi_decode(uint32_t addr_lo, uint32_t addr_hi, uint32_t data,
				     unsigned int flags, struct virq_irq *out);

/*
 * Inverse of virq_msi_decode() for the same flags: writes the canonical message for irq
 * (reserved bits zero; an edge message gets data bit 14 set). Returns 0, or -EINVAL when
 * irq->dest does not fit the format the flags allow (8 bits, 15 with EXT_DEST_ID, 32
 * with X2APIC) or the result would not decode (reserved mode, low vector).
 */
int virq_msi_encode(const struct virq_irq *irq, unsigned int flags, uint32_t *addr_lo,
		    uint32_t *addr_hi, uint32_t *data);

/* Stable short name of a status ("ok", "bad-addr-prefix", ...); "unknown" if out of range. */
const char *virq_msi_status_name(enum virq_msi_status st);

#endif /* VIRQ_MSI_H */
