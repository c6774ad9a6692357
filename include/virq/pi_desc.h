/* SPDX-License-Identifier: MIT */
/*
 * virq: VT-x posted-interrupt descriptor (Intel SDM Vol. 3C 30.6 "Posted-Interrupt
 * Processing" -- 29.6 in older editions -- and the VT-d spec 9.12 for SN/NV/NDST).
 *
 * Layout, 64 bytes, 64-byte aligned (as KVM's struct pi_desc in vmx/posted_intr.h):
 *   bits 255:0    PIR, one bit per vector          (bytes 0-31)
 *   bit  256      ON, outstanding notification     (control bit 0)
 *   bit  257      SN, suppress notification        (control bit 1)
 *   bits 279:272  NV, notification vector          (control bits 23:16)
 *   bits 319:288  NDST, notification destination   (control bits 63:32)
 *   bits 511:320  reserved
 * `control` is the 64-bit word at byte 32 (bits 319:256).
 *
 * Threading: virq_pi_post() may be called from any thread at any time, lock-free, on a
 * descriptor that lives as long as every poster (the caller guarantees that). The sync,
 * SN and NV/NDST functions belong to the owning vCPU thread (one consumer). The
 * statistics are updated with relaxed atomics and may be read at any time.
 */
#ifndef VIRQ_PI_DESC_H
#define VIRQ_PI_DESC_H

#include <stdbool.h>
#include <stdint.h>

#define VIRQ_PI_CTL_ON (1ull << 0)
#define VIRQ_PI_CTL_SN (1ull << 1)
#define VIRQ_PI_CTL_NV_SHIFT 16
#define VIRQ_PI_CTL_NV_MASK (0xFFull << 16)
#define VIRQ_PI_CTL_NDST_SHIFT 32
#define VIRQ_PI_CTL_NDST_MASK (0xFFFFFFFFull << 32)

struct virq_pi_desc {
	uint64_t pir[4]; /* accessed only atomically */
	uint64_t control; /* accessed only atomically */
	uint32_t rsvd[6];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct virq_pi_desc) == 64, "posted-interrupt descriptor is 64 bytes");

struct virq_pi_stats {
	uint64_t posted; /* virq_pi_post() calls */
	uint64_t coalesced; /* vector already set in PIR */
	uint64_t notified; /* ON went 0 -> 1 with SN clear: the caller sent a notification */
	uint64_t suppressed; /* ON went 0 -> 1 while SN was set: no notification */
	uint64_t syncs; /* virq_pi_sync() calls */
	uint64_t merged; /* vectors moved from PIR to IRR */
};

/* A descriptor with its counters; the counters sit on their own cache line so posters'
 * counting does not disturb the hardware-visible descriptor. */
struct virq_pi {
	struct virq_pi_desc desc;
	struct virq_pi_stats stats __attribute__((aligned(64)));
};

/* virq_pi_post() result bits. */
#define VIRQ_PI_NOTIFY (1 << 0) /* send the notification (IPI NV to NDST / kick) */
#define VIRQ_PI_COALESCED (1 << 1) /* vector was already pending in PIR */

/* Zero PIR and control, set NV and NDST, clear the counters. Owner, before sharing. */
void virq_pi_init(struct virq_pi *pi, uint8_t nv, uint32_t ndst);

/* Any thread: PIR[vector] |= 1 (atomic), then test-and-set ON (as KVM's
 * vmx_deliver_posted_interrupt: pi_test_and_set_pir, pi_test_and_set_on). Returns
 * VIRQ_PI_NOTIFY when ON went 0 -> 1 and SN was clear, | VIRQ_PI_COALESCED when the
 * vector was already in PIR. With SN set the post is recorded and ON set silently. */
int virq_pi_post(struct virq_pi *pi, uint8_t vector);

/* Owner: clear ON, then swap every PIR word with 0 and OR it into `irr` (256 bits as 8
 * IRR words, bit v%32 of word v/32). Returns the number of PIR bits taken. */
unsigned int virq_pi_sync(struct virq_pi *pi, uint32_t irr[8]);

/* Owner: suppress notifications (vCPU descheduled). Posts still land in PIR. */
void virq_pi_set_sn(struct virq_pi *pi);
/* Owner: allow notifications again. Returns true when ON is set, i.e. something was
 * posted while suppressed and nobody was notified: the caller must sync (or notify). */
bool virq_pi_clear_sn(struct virq_pi *pi);

/* Owner: change notification vector / destination (vCPU migrated). */
void virq_pi_set_target(struct virq_pi *pi, uint8_t nv, uint32_t ndst);

/* Snapshots of fields, any thread. */
uint64_t virq_pi_control(const struct virq_pi *pi);
bool virq_pi_pir_empty(const struct virq_pi *pi);
void virq_pi_stats(const struct virq_pi *pi, struct virq_pi_stats *out);

#endif /* VIRQ_PI_DESC_H */
