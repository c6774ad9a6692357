// SPDX-License-Identifier: MIT
/*
 * Local APIC rules, one test per SDM Vol. 3A chapter 11 rule: priorities, acknowledge and
 * EOI, ESR, SVR, register access classes, x2APIC MSRs, APIC_BASE transitions, timer on a
 * fake clock, LINT pins, INIT/SIPI and save/restore.
 */
#include "virq_test.h"

#include <errno.h>
#include <string.h>

#include "virq/apicbus.h"
#include "virq/lapic.h"

struct rec {
	unsigned int notifies[8];
	uint32_t last_events[8];
	int extint_vector;
	unsigned int eois;
	uint8_t eoi_vec[16];
};

static struct rec rec;

static void rec_notify(void *o, unsigned int cpu, uint32_t ev)
{
	rec.notifies[cpu]++;
	rec.last_events[cpu] |= ev;
}

static int rec_extint(void *o, unsigned int cpu)
{
	return rec.extint_vector;
}

static void rec_eoi(void *o, uint8_t v)
{
	if (rec.eois < 16)
		rec.eoi_vec[rec.eois] = v;
	rec.eois++;
}

static const struct virq_apicbus_ops rec_ops = { .notify = rec_notify, .extint_ack = rec_extint };
static const struct virq_sink_ops rec_sink_ops = { .eoi_broadcast = rec_eoi };

static struct virq_apicbus *mkbus(unsigned int n, const struct virq_lapic_config *lc)
{
	struct virq_apicbus_config cfg = {
		.nr_cpus = n,
		.ops = &rec_ops,
		.eoi_sink = { &rec_sink_ops, NULL },
	};
	struct virq_apicbus *bus;

	if (lc)
		cfg.lapic = *lc;
	memset(&rec, 0, sizeof(rec));
	bus = virq_apicbus_new(&cfg);
	assert_non_null(bus);
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(
			virq_lapic_mmio_write(virq_apicbus_lapic(bus, i), VIRQ_APIC_SVR, 0x1FF), 0);
	return bus;
}

static uint32_t rd(struct virq_lapic *l, uint32_t off)
{
	uint32_t v = 0xDEADBEEF;

	assert_int_equal(virq_lapic_mmio_read(l, off, &v), 0);
	return v;
}

static void wr(struct virq_lapic *l, uint32_t off, uint32_t v)
{
	assert_int_equal(virq_lapic_mmio_write(l, off, v), 0);
}

static int msg(struct virq_apicbus *bus, uint32_t dest, uint8_t vec, bool level)
{
	struct virq_irq irq = {
		.dest = dest, .vector = vec, .level_trig = level, .level = 1, .path = VIRQ_PATH_MSI
	};

	return virq_apicbus_deliver(bus, &irq);
}

static bool irr_bit(struct virq_lapic *l, unsigned int v)
{
	return rd(l, VIRQ_APIC_IRR + (v / 32) * 0x10) & (1u << (v % 32));
}

static bool isr_bit(struct virq_lapic *l, unsigned int v)
{
	return rd(l, VIRQ_APIC_ISR + (v / 32) * 0x10) & (1u << (v % 32));
}

/* SDM 11.8.3.1: PPR = TPR when TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0. */
static void test_ppr_is_max_of_tpr_and_isr_class_sdm_11_8_3_1(void **state)
{
	struct virq_apicbus *bus = mkbus(1, NULL);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);

	wr(l, VIRQ_APIC_TPR, 0x35);
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0x35);
	assert_int_equal(msg(bus, 0, 0x52, false), 1);
	assert_int_equal(virq_lapic_ack(l), 0x52);
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0x50); /* ISR class wins, low nibble 0 */
	wr(l, VIRQ_APIC_TPR, 0x57);
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0x57); /* equal class: TPR */
	wr(l, VIRQ_APIC_TPR, 0x1234);
	assert_int_equal(rd(l, VIRQ_APIC_TPR), 0x34); /* TPR[31:8] reserved */
	virq_lapic_eoi(l);
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0x34);
	virq_apicbus_free(bus);
}

/* SDM 11.8.3: an IRR vector is deliverable only if its class exceeds PPR[7:4]. */
static void test_tpr_blocks_vectors_of_equal_or_lower_class_sdm_11_8_3(void **state)
{
	struct virq_apicbus *bus = mkbus(1, NULL);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);

	wr(l, VIRQ_APIC_TPR, 0x40);
	assert_int_equal(msg(bus, 0, 0x4F, false), 1);
	assert_int_equal(virq_lapic_pending(l), -1);
	assert_int_equal(virq_lapic_ack(l), 0xFF); /* spurious vector (SVR[7:0]) */
	assert_int_equal(virq_lapic_stats(l)->spurious[0xFF], 1);
	assert_int_equal(msg(bus, 0, 0x50, false), 1);
	assert_int_equal(virq_lapic_pending(l), 0x50);
	wr(l, VIRQ_APIC_TPR, 0x00);
	assert_int_equal(virq_lapic_pending(l), 0x50); /* highest first */
	virq_apicbus_free(bus);
}

/* SDM 11.8.4/11.8.5: nested service; EOI retires the highest ISR bit first. */
static void test_eoi_retires_highest_in_service_vector_sdm_11_8_5(void **state)
{
	struct virq_apicbus *bus = mkbus(1, NULL);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);
	const struct virq_lapic_stats *s = virq_lapic_stats(l);

	msg(bus, 0, 0x31, false);
	assert_int_equal(virq_lapic_ack(l), 0x31);
	msg(bus, 0, 0x32, false); /* same class as in service: blocked */
	assert_int_equal(virq_lapic_pending(l), -1);
	msg(bus, 0, 0x61, false); /* higher class nests */
	assert_int_equal(virq_lapic_ack(l), 0x61);
	assert_true(isr_bit(l, 0x31) && isr_bit(l, 0x61));
	wr(l, VIRQ_APIC_EOI, 0);
	assert_false(isr_bit(l, 0x61));
	assert_true(isr_bit(l, 0x31));
	assert_int_equal(virq_lapic_pending(l), -1);
	wr(l, VIRQ_APIC_EOI, 0);
	assert_int_equal(virq_lapic_pending(l), 0x32);
	wr(l, VIRQ_APIC_EOI, 0); /* nothing in service */
	assert_int_equal(s->eoi_empty, 1);
	assert_int_equal(s->eoi[0x31], 1);
	assert_int_equal(s->eoi[0x61], 1);
	assert_int_equal(rec.eois, 0); /* edge: no broadcast */
	virq_apicbus_free(bus);
}

/* SDM 11.8.5: level-triggered EOI is broadcast; SVR[12] suppresses it, and SVR[12] is
 * writable only when VER[24] advertises directed EOI. */
static void test_level_eoi_broadcast_and_directed_eoi_sdm_11_8_5(void **state)
{
	struct virq_lapic_config lc = { .directed_eoi = false };
	struct virq_apicbus *bus = mkbus(1, &lc);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);

	assert_int_equal(rd(l, VIRQ_APIC_VER), 0x00050014);
	wr(l, VIRQ_APIC_SVR, 0x11FF);
	assert_int_equal(rd(l, VIRQ_APIC_SVR), 0x1FF);
	msg(bus, 0, 0x40, true);
	assert_true(rd(l, VIRQ_APIC_TMR + 0x20) & 1);
	assert_int_equal(virq_lapic_ack(l), 0x40);
	virq_lapic_eoi(l);
	assert_int_equal(rec.eois, 1);
	assert_int_equal(rec.eoi_vec[0], 0x40);
	virq_apicbus_free(bus);

	lc.directed_eoi = true;
	lc.cmci = true;
	bus = mkbus(1, &lc);
	l = virq_apicbus_lapic(bus, 0);
	assert_int_equal(rd(l, VIRQ_APIC_VER), 0x01060014);
	wr(l, VIRQ_APIC_SVR, 0x11FF);
	assert_int_equal(rd(l, VIRQ_APIC_SVR), 0x11FF);
	msg(bus, 0, 0x40, true);
	virq_lapic_ack(l);
	virq_lapic_eoi(l);
	assert_int_equal(rec.eois, 0);
	assert_int_equal(virq_lapic_stats(l)->eoi_suppressed, 1);
	/* A later edge delivery of the same vector clears its TMR bit (SDM 11.8.4). */
	msg(bus, 0, 0x40, false);
	assert_false(rd(l, VIRQ_APIC_TMR + 0x20) & 1);
	virq_apicbus_free(bus);
}

/* SDM 11.5.3: illegal vectors and registers set ESR bits; a write latches them. */
static void test_esr_records_illegal_vector_and_register_and_latches_sdm_11_5_3(void **state)
{
	struct virq_apicbus *bus = mkbus(2, NULL);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);
	uint32_t v;

	assert_int_equal(msg(bus, 0, 7, false), -EINVAL); /* receive illegal vector */
	assert_false(irr_bit(l, 7));
	assert_int_equal(rd(l, VIRQ_APIC_ESR), 0); /* not latched yet */
	wr(l, VIRQ_APIC_ESR, 0);
	assert_int_equal(rd(l, VIRQ_APIC_ESR), VIRQ_ESR_RECV_ILLEGAL_VECTOR);
	wr(l, VIRQ_APIC_ICR_HI, 1u << 24);
	wr(l, VIRQ_APIC_ICR_LO, 0x0F); /* fixed IPI, vector 15: send illegal */
	assert_false(irr_bit(virq_apicbus_lapic(bus, 1), 15));
	assert_int_equal(virq_lapic_stats(virq_apicbus_lapic(bus, 1))->recv_illegal_vector, 0);
	assert_int_equal(virq_lapic_mmio_read(l, 0x2A0, &v), 0); /* reserved register */
	assert_int_equal(v, 0);
	wr(l, VIRQ_APIC_ESR, 0);
	assert_int_equal(rd(l, VIRQ_APIC_ESR), VIRQ_ESR_SEND_ILLEGAL_VECTOR | VIRQ_ESR_ILLEGAL_REG);
	wr(l, VIRQ_APIC_ESR, 0);
	assert_int_equal(rd(l, VIRQ_APIC_ESR), 0);
	/* With the error LVT unmasked, an error raises its vector. */
	wr(l, VIRQ_APIC_LVT_ERROR, 0xE3);
	msg(bus, 0, 3, false);
	assert_true(irr_bit(l, 0xE3));
	assert_int_equal(virq_lapic_stats(l)->error_interrupts, 1);
	virq_apicbus_free(bus);
}

/* SDM 11.4.7.2: software disable masks every LVT and keeps them masked; fixed
 * interrupts are refused, NMI/INIT still accepted. */
static void test_svr_software_disable_masks_lvts_sdm_11_4_7_2(void **state)
{
	struct virq_lapic_config lc = { .cmci = true };
	struct virq_apicbus *bus = mkbus(1, &lc);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);
	static const uint32_t lvts[] = { VIRQ_APIC_LVT_TIMER, VIRQ_APIC_LVT_THERMAL,
					 VIRQ_APIC_LVT_PERF,  VIRQ_APIC_LVT_LINT0,
					 VIRQ_APIC_LVT_LINT1, VIRQ_APIC_LVT_ERROR,
					 VIRQ_APIC_LVT_CMCI };
	struct virq_irq nmi = { .delivery_mode = VIRQ_DM_NMI };

	for (unsigned int i = 0; i < 7; i++)
		wr(l, lvts[i], 0x40 + i);
	wr(l, VIRQ_APIC_SVR, 0xFF);
	for (unsigned int i = 0; i < 7; i++) {
		assert_true(rd(l, lvts[i]) & VIRQ_LVT_MASKED);
		wr(l, lvts[i], 0x50);
		assert_int_equal(rd(l, lvts[i]), VIRQ_LVT_MASKED | 0x50);
	}
	assert_int_equal(msg(bus, 0, 0x50, false), -ENXIO);
	assert_int_equal(virq_lapic_stats(l)->rejected_sw_disabled, 1);
	assert_int_equal(virq_apicbus_deliver(bus, &nmi), 1);
	wr(l, VIRQ_APIC_SVR, 0x1FF);
	assert_true(rd(l, VIRQ_APIC_LVT_TIMER) & VIRQ_LVT_MASKED); /* stays masked */
	wr(l, VIRQ_APIC_LVT_TIMER, 0x50);
	assert_int_equal(rd(l, VIRQ_APIC_LVT_TIMER), 0x50);
	virq_apicbus_free(bus);
}

/* SDM Table 11-1: read-only registers ignore writes; DFR[27:0] read as ones; LDR[23:0]
 * reserved; reserved offsets read 0; the MMIO page is not decoded in x2APIC mode. */
static void test_xapic_register_access_classes_sdm_table_11_1(void **state)
{
	struct virq_lapic_config lc = { .x2apic_supported = true };
	struct virq_apicbus *bus = mkbus(1, &lc);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);
	uint32_t v;

	wr(l, VIRQ_APIC_VER, 0);
	assert_int_equal(rd(l, VIRQ_APIC_VER), 0x50014);
	msg(bus, 0, 0x80, false);
	wr(l, VIRQ_APIC_IRR + 0x40, 0);
	assert_true(irr_bit(l, 0x80));
	wr(l, VIRQ_APIC_DFR, 0x0);
	assert_int_equal(rd(l, VIRQ_APIC_DFR), 0x0FFFFFFF);
	wr(l, VIRQ_APIC_LDR, 0xFFFFFFFF);
	assert_int_equal(rd(l, VIRQ_APIC_LDR), 0xFF000000);
	wr(l, VIRQ_APIC_ID, 0x07000000);
	assert_int_equal(rd(l, VIRQ_APIC_ID), 0x07000000);
	assert_int_equal(virq_lapic_id(l), 7);
	wr(l, VIRQ_APIC_TDCR, 0xFF);
	assert_int_equal(rd(l, VIRQ_APIC_TDCR), 0xB);
	wr(l, VIRQ_APIC_LVT_LINT1, 0xFFFFFFFF); /* LINT1 has no level trigger */
	assert_int_equal(rd(l, VIRQ_APIC_LVT_LINT1), 0x127FF);
	wr(l, VIRQ_APIC_LVT_CMCI, 0x44); /* no CMCI configured: reserved */
	assert_int_equal(rd(l, VIRQ_APIC_LVT_CMCI), 0);
	wr(l, VIRQ_APIC_ESR, 0);
	assert_int_equal(rd(l, VIRQ_APIC_ESR), VIRQ_ESR_ILLEGAL_REG);
	assert_int_equal(virq_lapic_set_apic_base(l,
						  0xFEE00000 | VIRQ_APIC_BASE_EN |
							  VIRQ_APIC_BASE_EXTD | VIRQ_APIC_BASE_BSP,
						  false),
			 0);
	assert_int_equal(virq_lapic_mmio_read(l, VIRQ_APIC_ID, &v), -ENXIO);
	assert_int_equal(virq_lapic_mmio_write(l, VIRQ_APIC_TPR, 0), -ENXIO);
	virq_apicbus_free(bus);
}

/* SDM 11.12.1-11.12.10: x2APIC ID is the 32-bit initial ID and read-only; LDR is derived
 * (cluster ID[19:4] in [31:16], 1 << ID[3:0]); no DFR/APR/ICR_HI; #GP conditions. */
static void test_x2apic_msrs_id_ldr_and_gp_rules_sdm_11_12(void **state)
{
	static const uint32_t ids[] = { 0, 0x25 };
	struct virq_apicbus_config cfg = { .nr_cpus = 2,
					   .apic_ids = ids,
					   .lapic = { .x2apic_supported = true } };
	struct virq_apicbus *bus = virq_apicbus_new(&cfg);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 1);
	uint64_t v;

	assert_int_equal(virq_lapic_msr_read(l, 0x802, &v), -EINVAL); /* xAPIC mode: #GP */
	assert_int_equal(virq_lapic_msr_write(l, VIRQ_MSR_APIC_BASE, 0xFEE00C00ull), 0);
	assert_int_equal(virq_lapic_msr_read(l, 0x802, &v), 0);
	assert_int_equal(v, 0x25);
	assert_int_equal(virq_lapic_msr_read(l, 0x80D, &v), 0);
	assert_int_equal(v, 0x00020020);
	assert_int_equal(virq_lapic_msr_write(l, 0x802, 0x3), -EINVAL); /* ID read-only */
	assert_int_equal(virq_lapic_msr_write(l, 0x80D, 0x1), -EINVAL); /* LDR read-only */
	assert_int_equal(virq_lapic_msr_read(l, 0x80E, &v), -EINVAL); /* no DFR */
	assert_int_equal(virq_lapic_msr_read(l, 0x809, &v), -EINVAL); /* no APR */
	assert_int_equal(virq_lapic_msr_read(l, 0x831, &v), -EINVAL); /* no ICR high */
	assert_int_equal(virq_lapic_msr_read(l, 0x80B, &v), -EINVAL); /* EOI write-only */
	assert_int_equal(virq_lapic_msr_read(l, 0x83F, &v), -EINVAL); /* SELF IPI write-only */
	assert_int_equal(virq_lapic_msr_read(l, 0x8FF, &v), -EINVAL); /* reserved */
	assert_int_equal(virq_lapic_msr_write(l, 0x839, 1), -EINVAL); /* CCR read-only */
	assert_int_equal(virq_lapic_msr_write(l, 0x80B, 1), -EINVAL); /* EOI non-zero */
	assert_int_equal(virq_lapic_msr_write(l, 0x828, 1), -EINVAL); /* ESR non-zero */
	assert_int_equal(virq_lapic_msr_write(l, 0x808, 0x100), -EINVAL); /* TPR[31:8] */
	assert_int_equal(virq_lapic_msr_write(l, 0x80F, 1ull << 32), -EINVAL); /* high half */
	assert_int_equal(virq_lapic_msr_write(l, 0x83F, 0x1FF), -EINVAL);
	/* ICR bit 13 and 31:20 reserved (bit 12 is ignored, not a #GP: SDM 11.6.1, KVM). */
	assert_int_equal(virq_lapic_msr_write(l, 0x830, 0x40ull | (1ull << 13)), -EINVAL);
	assert_int_equal(virq_lapic_msr_write(l, 0x830, 0x40ull | (1ull << 20)), -EINVAL);
	assert_int_equal(virq_lapic_msr_read(l, 0x1234, &v), -ENOENT);
	assert_int_equal(virq_lapic_stats(l)->gp_faults, 17);

	assert_int_equal(virq_lapic_msr_write(l, 0x80F, 0x1FF), 0);
	assert_int_equal(virq_lapic_msr_write(l, 0x83F, 0x66), 0); /* SELF IPI */
	assert_int_equal(virq_lapic_pending(l), 0x66);
	/* Illegal: sent and received by this LAPIC, ESR[5] and ESR[6] (SDM 11.5.3). */
	assert_int_equal(virq_lapic_msr_write(l, 0x83F, 0x06), 0);
	assert_int_equal(virq_lapic_msr_write(l, 0x828, 0), 0);
	assert_int_equal(virq_lapic_msr_read(l, 0x828, &v), 0);
	assert_int_equal(v, VIRQ_ESR_SEND_ILLEGAL_VECTOR | VIRQ_ESR_RECV_ILLEGAL_VECTOR);
	/* 64-bit ICR: read back whole. */
	assert_int_equal(virq_lapic_msr_write(l, 0x830, (0x25ull << 32) | 0x4077), 0);
	assert_int_equal(virq_lapic_msr_read(l, 0x830, &v), 0);
	assert_int_equal(v, (0x25ull << 32) | 0x4077);
	assert_true(virq_lapic_pending(l) == 0x77);
	virq_apicbus_free(bus);
}

/* SDM 11.12.5, Figure 11-27: legal and illegal IA32_APIC_BASE transitions. */
static void test_apic_base_transitions_sdm_11_12_5(void **state)
{
	struct virq_lapic_config lc = { .x2apic_supported = true, .maxphyaddr = 36 };
	struct virq_apicbus *bus = mkbus(2, &lc);
	struct virq_lapic *bsp = virq_apicbus_lapic(bus, 0), *ap = virq_apicbus_lapic(bus, 1);
	const uint64_t B = 0xFEE00000ull, EN = VIRQ_APIC_BASE_EN, X = VIRQ_APIC_BASE_EXTD;

	assert_int_equal(virq_lapic_apic_base(bsp), B | EN | VIRQ_APIC_BASE_BSP);
	assert_int_equal(virq_lapic_apic_base(ap), B | EN);
	assert_int_equal(virq_lapic_set_apic_base(ap, B | X, false), -EINVAL); /* EN=0 EXTD=1 */
	assert_int_equal(virq_lapic_set_apic_base(ap, B | EN | 1, false), -EINVAL); /* rsvd */
	assert_int_equal(virq_lapic_set_apic_base(ap, B | EN | (1ull << 9), false), -EINVAL);
	assert_int_equal(virq_lapic_set_apic_base(ap, (1ull << 36) | EN, false), -EINVAL);
	assert_int_equal(virq_lapic_set_apic_base(ap, B | EN | X, false), 0); /* xAPIC->x2 */
	assert_int_equal(virq_lapic_set_apic_base(ap, B | EN, false), -EINVAL); /* x2->xAPIC */
	assert_int_equal(virq_lapic_mode(ap), VIRQ_LAPIC_X2APIC);
	assert_int_equal(virq_lapic_set_apic_base(ap, B, false), 0); /* x2->disabled */
	assert_int_equal(virq_lapic_mode(ap), VIRQ_LAPIC_DISABLED);
	assert_int_equal(virq_lapic_set_apic_base(ap, B | EN | X, false), -EINVAL); /* dis->x2 */
	assert_int_equal(virq_lapic_set_apic_base(ap, B | EN, false), 0); /* dis->xAPIC */
	/* Disabling reset the state: software-disabled, LVTs masked. */
	assert_int_equal(rd(ap, VIRQ_APIC_SVR), 0xFF);
	assert_int_equal(rd(ap, VIRQ_APIC_LVT_LINT0), VIRQ_LVT_MASKED);
	assert_int_equal(virq_lapic_set_apic_base(ap, B | EN | X, true), 0);
	assert_int_equal(virq_lapic_set_apic_base(ap, B | EN, true), 0); /* host may */
	/* A disabled APIC is off the bus. */
	assert_int_equal(virq_lapic_set_apic_base(ap, B, false), 0);
	assert_int_equal(msg(bus, 1, 0x40, false), -ENOENT);
	/* Without x2APIC support EXTD is reserved. */
	virq_apicbus_free(bus);
	bus = mkbus(1, NULL);
	assert_int_equal(virq_lapic_set_apic_base(virq_apicbus_lapic(bus, 0), B | EN | X, false),
			 -EINVAL);
	virq_apicbus_free(bus);
}

/* SDM 11.5.4, Figure 11-10: divide configuration encodings. */
static void test_timer_divide_configuration_encodings_sdm_11_5_4(void **state)
{
	static const struct {
		uint32_t tdcr, div;
	} t[] = { { 0x0, 2 },  { 0x1, 4 },  { 0x2, 8 },	  { 0x3, 16 },
		  { 0x8, 32 }, { 0x9, 64 }, { 0xA, 128 }, { 0xB, 1 } };
	struct virq_apicbus *bus = mkbus(1, NULL);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);

	for (unsigned int i = 0; i < 8; i++) {
		uint64_t t0 = 1000000 * (i + 1);

		virq_lapic_tick(l, t0);
		wr(l, VIRQ_APIC_TDCR, t[i].tdcr);
		wr(l, VIRQ_APIC_TMICT, 100);
		/* 1 GHz bus clock: 100 counts take 100 * div ns. */
		assert_int_equal(virq_lapic_timer_deadline(l), t0 + 100 * t[i].div);
		virq_lapic_tick(l, t0 + 10 * t[i].div);
		assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 90);
		wr(l, VIRQ_APIC_TMICT, 0); /* zero stops the timer */
		assert_int_equal(virq_lapic_timer_deadline(l), 0);
	}
	virq_apicbus_free(bus);
}

/* SDM 11.5.4: one-shot fires once and the count stays 0; periodic reloads. */
static void test_timer_oneshot_and_periodic_on_fake_clock_sdm_11_5_4(void **state)
{
	struct virq_lapic_config lc = { .bus_hz = 100000000 }; /* 100 MHz: 10 ns/count */
	struct virq_apicbus *bus = mkbus(1, &lc);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);
	const struct virq_lapic_stats *s = virq_lapic_stats(l);

	virq_lapic_tick(l, 5000);
	wr(l, VIRQ_APIC_TDCR, 0xB);
	wr(l, VIRQ_APIC_LVT_TIMER, 0x41);
	wr(l, VIRQ_APIC_TMICT, 50); /* 500 ns */
	assert_int_equal(virq_lapic_timer_deadline(l), 5500);
	virq_lapic_tick(l, 5499);
	assert_int_equal(virq_lapic_pending(l), -1);
	assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 1);
	virq_lapic_tick(l, 5500);
	assert_int_equal(virq_lapic_pending(l), 0x41);
	assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 0);
	assert_int_equal(virq_lapic_timer_deadline(l), 0);
	virq_lapic_tick(l, 100000);
	assert_int_equal(s->timer_fired, 1);

	virq_lapic_ack(l);
	virq_lapic_eoi(l);
	wr(l, VIRQ_APIC_LVT_TIMER, 0x41 | (VIRQ_LVT_TIMER_PERIODIC << 17));
	wr(l, VIRQ_APIC_TMICT, 100); /* 1000 ns period from t = 100000 */
	virq_lapic_tick(l, 101000);
	assert_int_equal(s->timer_fired, 2);
	assert_int_equal(virq_lapic_timer_deadline(l), 102000);
	virq_lapic_tick(l, 101250);
	assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 75);
	virq_lapic_tick(l, 104500); /* 102000, 103000, 104000: one fire, two missed */
	assert_int_equal(s->timer_fired, 3);
	assert_int_equal(s->timer_missed, 2);
	assert_int_equal(virq_lapic_timer_deadline(l), 105000);
	assert_int_equal(s->coalesced[0x41], 1); /* IRR still held the first fire */
	/* Masked: keeps counting, delivers nothing. */
	wr(l, VIRQ_APIC_LVT_TIMER, 0x41 | VIRQ_LVT_MASKED | (VIRQ_LVT_TIMER_PERIODIC << 17));
	virq_lapic_tick(l, 105000);
	assert_int_equal(s->lvt_masked, 1);
	assert_int_equal(virq_lapic_timer_deadline(l), 106000);
	virq_apicbus_free(bus);
}

/* SDM 11.5.4.1: TSC-deadline mode arms on IA32_TSC_DEADLINE, ignores TMICT, fires once
 * and clears the MSR; switching modes disarms. */
static void test_timer_tsc_deadline_mode_sdm_11_5_4_1(void **state)
{
	struct virq_lapic_config lc = { .tsc_hz = 2000000000ull }; /* 2 ticks per ns */
	struct virq_apicbus *bus = mkbus(1, &lc);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);
	uint64_t v;

	wr(l, VIRQ_APIC_LVT_TIMER, 0x42 | (VIRQ_LVT_TIMER_TSC_DEADLINE << 17));
	assert_int_equal(rd(l, VIRQ_APIC_LVT_TIMER) >> 17, VIRQ_LVT_TIMER_TSC_DEADLINE);
	wr(l, VIRQ_APIC_TMICT, 1000);
	assert_int_equal(rd(l, VIRQ_APIC_TMICT), 0);
	assert_int_equal(virq_lapic_msr_write(l, VIRQ_MSR_TSC_DEADLINE, 20000), 0);
	assert_int_equal(virq_lapic_timer_deadline(l), 10000);
	virq_lapic_tick(l, 9999);
	assert_int_equal(virq_lapic_pending(l), -1);
	virq_lapic_tick(l, 10000);
	assert_int_equal(virq_lapic_pending(l), 0x42);
	assert_int_equal(virq_lapic_msr_read(l, VIRQ_MSR_TSC_DEADLINE, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(virq_lapic_msr_write(l, VIRQ_MSR_TSC_DEADLINE, 50000), 0);
	wr(l, VIRQ_APIC_LVT_TIMER, 0x42); /* back to one-shot: disarmed */
	assert_int_equal(virq_lapic_timer_deadline(l), 0);
	assert_int_equal(virq_lapic_msr_write(l, VIRQ_MSR_TSC_DEADLINE, 50000), 0); /* ignored */
	assert_int_equal(virq_lapic_timer_deadline(l), 0);
	virq_apicbus_free(bus);

	/* Without a TSC rate the deadline mode cannot be selected. */
	bus = mkbus(1, NULL);
	l = virq_apicbus_lapic(bus, 0);
	wr(l, VIRQ_APIC_LVT_TIMER, 0x42 | (VIRQ_LVT_TIMER_TSC_DEADLINE << 17));
	assert_int_equal(rd(l, VIRQ_APIC_LVT_TIMER), 0x42);
	virq_apicbus_free(bus);
}

/* SDM 11.5.1: LINT0 ExtINT is the PIC virtual wire (vector from INTA); LINT1 NMI;
 * level-triggered fixed LINT0 holds remote IRR until EOI and re-fires while high. */
static void test_lint_pins_extint_nmi_and_level_remote_irr_sdm_11_5_1(void **state)
{
	struct virq_apicbus *bus = mkbus(2, NULL);
	struct virq_lapic *bsp = virq_apicbus_lapic(bus, 0), *ap = virq_apicbus_lapic(bus, 1);
	struct virq_lapic_events ev;

	/* Reset: BSP LVT0 = ExtINT (KVM), AP masked. */
	assert_int_equal(rd(bsp, VIRQ_APIC_LVT_LINT0), 0x700);
	rec.extint_vector = 0x08;
	virq_apicbus_set_pic_int(bus, true);
	assert_true(virq_lapic_has_extint(bsp));
	assert_false(virq_lapic_has_extint(ap));
	assert_true(rec.last_events[0] & VIRQ_LAPIC_EV_EXTINT);
	assert_int_equal(virq_lapic_ack(bsp), 0x08);
	virq_apicbus_set_pic_int(bus, false);
	assert_false(virq_lapic_has_extint(bsp));

	wr(bsp, VIRQ_APIC_LVT_LINT1, VIRQ_DM_NMI << 8);
	virq_lapic_set_lint(bsp, 1, true);
	virq_lapic_set_lint(bsp, 1, true); /* no edge */
	assert_int_equal(virq_lapic_stats(bsp)->nmi, 1);
	virq_lapic_take_events(bsp, &ev);
	assert_int_equal(ev.events, VIRQ_LAPIC_EV_NMI);

	wr(ap, VIRQ_APIC_LVT_LINT0, 0x45 | VIRQ_LVT_LEVEL);
	virq_lapic_set_lint(ap, 0, true);
	assert_true(rd(ap, VIRQ_APIC_LVT_LINT0) & VIRQ_LVT_REMOTE_IRR);
	assert_int_equal(virq_lapic_ack(ap), 0x45);
	virq_lapic_eoi(ap); /* still high: fires again */
	assert_int_equal(virq_lapic_stats(ap)->accepted[0x45], 2);
	assert_int_equal(virq_lapic_ack(ap), 0x45);
	virq_lapic_set_lint(ap, 0, false);
	virq_lapic_eoi(ap);
	assert_false(rd(ap, VIRQ_APIC_LVT_LINT0) & VIRQ_LVT_REMOTE_IRR);
	assert_int_equal(virq_lapic_stats(ap)->accepted[0x45], 2);
	assert_int_equal(virq_lapic_set_lint(ap, 2, true), -EINVAL);
	virq_apicbus_free(bus);
}

static void ipi(struct virq_lapic *l, uint32_t dest, uint32_t lo)
{
	wr(l, VIRQ_APIC_ICR_HI, dest << 24);
	wr(l, VIRQ_APIC_ICR_LO, lo);
}

/* SDM 9.4.4 / 11.6.1: INIT puts an AP in wait-for-SIPI after an INIT reset that keeps the
 * APIC ID; SIPI starts it at vector << 12; a SIPI outside wait-for-SIPI is dropped; INIT
 * level de-assert does nothing. */
static void test_init_sipi_state_machine_sdm_9_4_4(void **state)
{
	struct virq_apicbus *bus = mkbus(2, NULL);
	struct virq_lapic *bsp = virq_apicbus_lapic(bus, 0), *ap = virq_apicbus_lapic(bus, 1);
	struct virq_lapic_events ev;

	assert_int_equal(virq_lapic_vcpu_state(ap), VIRQ_VCPU_WAIT_SIPI);
	ipi(bsp, 1, 0x0600 | 0x9A); /* SIPI */
	virq_lapic_take_events(ap, &ev);
	assert_int_equal(ev.events, VIRQ_LAPIC_EV_SIPI);
	assert_int_equal(ev.sipi_vector, 0x9A);
	assert_int_equal(ev.state, VIRQ_VCPU_RUNNING);
	ipi(bsp, 1, 0x0600 | 0x10); /* second SIPI: running, ignored */
	virq_lapic_take_events(ap, &ev);
	assert_int_equal(ev.events, 0);
	assert_int_equal(virq_lapic_stats(ap)->sipi_ignored, 1);

	wr(ap, VIRQ_APIC_ID, 0x09000000);
	wr(ap, VIRQ_APIC_TPR, 0x20);
	msg(bus, 9, 0x77, false);
	ipi(bsp, 9, 0x8000 | 0x0500); /* INIT level de-assert: no-op */
	assert_int_equal(virq_lapic_stats(ap)->init_deassert, 1);
	assert_int_equal(virq_lapic_pending_events(ap) & VIRQ_LAPIC_EV_INIT, 0);
	ipi(bsp, 9, 0xC500); /* INIT assert */
	assert_true(rec.last_events[1] & VIRQ_LAPIC_EV_INIT);
	virq_lapic_take_events(ap, &ev);
	assert_int_equal(ev.events, VIRQ_LAPIC_EV_INIT);
	assert_int_equal(ev.state, VIRQ_VCPU_WAIT_SIPI);
	assert_int_equal(virq_lapic_id(ap), 9); /* ID survives INIT */
	assert_int_equal(rd(ap, VIRQ_APIC_TPR), 0);
	assert_int_equal(rd(ap, VIRQ_APIC_SVR), 0xFF);
	assert_false(irr_bit(ap, 0x77));
	assert_int_equal(virq_lapic_stats(ap)->irr_discarded[0x77], 1);
	/* NMI held while waiting for SIPI, taken after. */
	ipi(bsp, 9, 0x0400);
	ipi(bsp, 9, 0x0600 | 0x20);
	virq_lapic_take_events(ap, &ev);
	assert_int_equal(ev.events, VIRQ_LAPIC_EV_SIPI | VIRQ_LAPIC_EV_NMI);
	/* INIT to the BSP: it restarts running, not waiting for SIPI. */
	ipi(ap, 0, 0x4500);
	virq_lapic_take_events(bsp, &ev);
	assert_int_equal(ev.state, VIRQ_VCPU_RUNNING);
	/* HALTED wakes on NMI. */
	assert_int_equal(virq_lapic_set_vcpu_state(bsp, VIRQ_VCPU_HALTED), 0);
	assert_int_equal(virq_lapic_set_vcpu_state(bsp, VIRQ_VCPU_WAIT_SIPI), -EINVAL);
	ipi(ap, 0, 0x0400);
	virq_lapic_take_events(bsp, &ev);
	assert_int_equal(ev.state, VIRQ_VCPU_RUNNING);
	virq_apicbus_free(bus);
}

/* Snapshot round trip is exact; restore validates and leaves the LAPIC untouched. */
static void test_save_restore_round_trip_and_validation(void **state)
{
	struct virq_lapic_config lc = { .x2apic_supported = true, .tsc_hz = 1000000000 };
	struct virq_apicbus *bus = mkbus(2, &lc);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 1), *m = virq_apicbus_lapic(bus, 0);
	struct virq_lapic_state st, st2, bad;

	virq_lapic_tick(l, 777);
	wr(l, VIRQ_APIC_TPR, 0x21);
	wr(l, VIRQ_APIC_LDR, 0x04000000);
	wr(l, VIRQ_APIC_LVT_TIMER, 0x39 | (VIRQ_LVT_TIMER_PERIODIC << 17));
	wr(l, VIRQ_APIC_TMICT, 1234);
	msg(bus, 1, 0x90, true);
	msg(bus, 1, 0x50, false);
	virq_lapic_ack(l);
	virq_lapic_save(l, &st);
	assert_int_equal(st.version, VIRQ_LAPIC_STATE_VERSION);

	bad = st;
	bad.magic ^= 1;
	assert_int_equal(virq_lapic_restore(m, &st), -EINVAL); /* other vCPU's ID */
	assert_int_equal(virq_lapic_restore(l, &bad), -EINVAL);
	bad = st;
	bad.version = 99;
	assert_int_equal(virq_lapic_restore(l, &bad), -EINVAL);
	bad = st;
	bad.apic_base |= VIRQ_APIC_BASE_EXTD;
	bad.apic_base &= ~VIRQ_APIC_BASE_EN;
	assert_int_equal(virq_lapic_restore(l, &bad), -EINVAL);
	bad = st;
	bad.irr[0] = 1u << 5;
	assert_int_equal(virq_lapic_restore(l, &bad), -EINVAL);
	bad = st;
	bad.lvt[VIRQ_LVT_ERROR] |= 0x700;
	assert_int_equal(virq_lapic_restore(l, &bad), -EINVAL);
	bad = st;
	bad.lvt[VIRQ_LVT_TIMER] |= 3u << 17; /* reserved timer mode */
	assert_int_equal(virq_lapic_restore(l, &bad), -EINVAL);

	/* Mutate, then restore: registers come back exactly. */
	virq_lapic_eoi(l);
	wr(l, VIRQ_APIC_TPR, 0);
	wr(l, VIRQ_APIC_LVT_TIMER, 0x10000);
	assert_int_equal(virq_lapic_restore(l, &st), 0);
	virq_lapic_save(l, &st2);
	assert_memory_equal(&st, &st2, sizeof(st));
	assert_true(isr_bit(l, 0x90));
	assert_true(irr_bit(l, 0x50));
	assert_int_equal(rd(l, VIRQ_APIC_LDR), 0x04000000);
	virq_apicbus_free(bus);
}

/* Every acceptance, ack and EOI is counted so flows add up per vector. */
/* PPR (SDM 11.8.3.1) and the pending vector (SDM 11.8.3) stay exact through every way IRR,
 * ISR and TPR change wholesale or across 32-bit register words: nested INTA/EOI over
 * several words, TPR writes while vectors are in service, restore of an older snapshot,
 * INIT (SDM 11.4.7.3) and hardware disable (SDM 11.4.3). */
static void test_priority_state_follows_restore_init_and_disable(void **state)
{
	struct virq_apicbus *bus = mkbus(1, NULL);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);
	struct virq_lapic_state st;
	struct virq_lapic_events ev;
	struct virq_irq init = { .dest = 0, .delivery_mode = VIRQ_DM_INIT, .level = 1 };
	static const uint8_t vecs[] = { 0x21, 0x5E, 0x9F, 0xE5, 0x40 };

	for (unsigned int i = 0; i < sizeof(vecs); i++)
		assert_int_equal(msg(bus, 0, vecs[i], false), 1);
	assert_int_equal(virq_lapic_pending(l), 0xE5);
	assert_int_equal(virq_lapic_ack(l), 0xE5);
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0xE0);
	assert_int_equal(virq_lapic_pending(l), -1); /* 0x9F: class 9 <= 0xE */
	wr(l, VIRQ_APIC_TPR, 0xF3);
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0xF3);
	wr(l, VIRQ_APIC_TPR, 0x10);
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0xE0);
	virq_lapic_eoi(l); /* ISR empty again: PPR = TPR */
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0x10);
	assert_int_equal(virq_lapic_ack(l), 0x9F);
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0x90);
	virq_lapic_save(l, &st); /* ISR {0x9F}, IRR {0x21, 0x40, 0x5E}, TPR 0x10 */

	virq_lapic_eoi(l);
	assert_int_equal(virq_lapic_ack(l), 0x5E);
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0x50);
	assert_int_equal(virq_lapic_ack(l), 0xFF); /* 0x40 blocked: spurious (SDM 11.9) */

	/* Back to the snapshot: 0x9F in service again, 0x5E pending again. */
	assert_int_equal(virq_lapic_restore(l, &st), 0);
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0x90);
	assert_int_equal(virq_lapic_pending(l), -1);
	virq_lapic_eoi(l);
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0x10);
	assert_int_equal(virq_lapic_pending(l), 0x5E);
	assert_int_equal(virq_lapic_ack(l), 0x5E);

	/* INIT discards IRR and ISR and clears TPR. */
	assert_int_equal(virq_apicbus_deliver(bus, &init), 1);
	virq_lapic_take_events(l, &ev);
	assert_true(ev.events & VIRQ_LAPIC_EV_INIT);
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0);
	assert_int_equal(virq_lapic_pending(l), -1);
	wr(l, VIRQ_APIC_SVR, 0x1FF);
	assert_int_equal(msg(bus, 0, 0x70, false), 1);
	assert_int_equal(virq_lapic_ack(l), 0x70);
	assert_int_equal(msg(bus, 0, 0x60, false), 1);
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0x70);

	/* Hardware disable loses the state; re-enabling starts from power-up values. */
	assert_int_equal(
		virq_lapic_set_apic_base(l, virq_lapic_apic_base(l) & ~VIRQ_APIC_BASE_EN, false),
		0);
	assert_int_equal(virq_lapic_pending(l), -1);
	assert_int_equal(
		virq_lapic_set_apic_base(l, virq_lapic_apic_base(l) | VIRQ_APIC_BASE_EN, false), 0);
	wr(l, VIRQ_APIC_SVR, 0x1FF);
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0);
	assert_int_equal(virq_lapic_pending(l), -1);
	assert_int_equal(msg(bus, 0, 0x31, false), 1);
	assert_int_equal(virq_lapic_pending(l), 0x31);
	assert_int_equal(virq_lapic_ack(l), 0x31);
	virq_lapic_eoi(l);
	assert_int_equal(rd(l, VIRQ_APIC_PPR), 0);
	virq_apicbus_free(bus);
}

static void test_per_vector_counters_add_up(void **state)
{
	struct virq_apicbus *bus = mkbus(1, NULL);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);
	const struct virq_lapic_stats *s = virq_lapic_stats(l);

	assert_int_equal(msg(bus, 0, 0x70, false), 1);
	assert_int_equal(msg(bus, 0, 0x70, false), 0); /* coalesced */
	assert_int_equal(rec.notifies[0], 1); /* no kick for a merged interrupt */
	virq_lapic_ack(l);
	assert_int_equal(msg(bus, 0, 0x70, false), 1); /* in service: IRR free again */
	virq_lapic_eoi(l);
	assert_int_equal(s->accepted[0x70], 2);
	assert_int_equal(s->coalesced[0x70], 1);
	assert_int_equal(s->delivered[0x70], 1);
	assert_int_equal(s->eoi[0x70], 1);
	assert_int_equal(s->accepted[0x70],
			 s->delivered[0x70] + s->irr_discarded[0x70] + (irr_bit(l, 0x70) ? 1 : 0));
	virq_apicbus_free(bus);
}

/* Per-source counts (lapic.h): every fixed interrupt that reaches IRR is counted once by
 * its source, a merged one included, so they add up to accepted + coalesced; IOAPIC
 * messages also by pin; local sources by LVT; NMI/INIT/SIPI/ExtINT elsewhere. */
static void test_fixed_interrupts_counted_by_source_at_acceptance(void **state)
{
	struct virq_lapic_config lc = { .bus_hz = 100000000 };
	struct virq_apicbus *bus = mkbus(2, &lc);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);
	const struct virq_lapic_stats *s = virq_lapic_stats(l);
	struct virq_irq io = { .vector = 0x31, .level = 1, .path = VIRQ_PATH_IOAPIC, .pin = 4 };
	struct virq_irq nmi = { .delivery_mode = VIRQ_DM_NMI, .level = 1, .path = VIRQ_PATH_MSI };
	uint64_t sum = 0, acc = 0;

	assert_int_equal(virq_apicbus_deliver(bus, &io), 1);
	assert_int_equal(virq_apicbus_deliver(bus, &io), 0); /* merged: still counted */
	io.pin = 40; /* beyond the per-pin counters: in the path's count only */
	io.vector = 0x32;
	assert_int_equal(virq_apicbus_deliver(bus, &io), 1);
	assert_int_equal(msg(bus, 0, 0x41, false), 1);
	assert_int_equal(virq_apicbus_deliver(bus, &nmi), 1);
	/* a fixed IPI from CPU 1, the timer (one-shot, 10 us) and an error interrupt */
	wr(virq_apicbus_lapic(bus, 1), VIRQ_APIC_ICR_HI, 0);
	wr(virq_apicbus_lapic(bus, 1), VIRQ_APIC_ICR_LO, 0x51);
	wr(l, VIRQ_APIC_LVT_TIMER, 0x61);
	wr(l, VIRQ_APIC_TDCR, 0xB);
	wr(l, VIRQ_APIC_TMICT, 1000);
	virq_lapic_tick(l, 20000);
	wr(l, VIRQ_APIC_LVT_ERROR, 0x71);
	wr(l, 0x3A0, 1); /* reserved register: illegal-register error */
	assert_int_equal(s->fixed_by_path[VIRQ_PATH_IOAPIC], 3);
	assert_int_equal(s->ioapic_pin[4], 2);
	assert_int_equal(s->fixed_by_path[VIRQ_PATH_MSI], 1);
	assert_int_equal(s->fixed_by_path[VIRQ_PATH_IPI], 1);
	assert_int_equal(s->fixed_by_path[VIRQ_PATH_TIMER], 1);
	assert_int_equal(s->fixed_by_path[VIRQ_PATH_OTHER], 1);
	assert_int_equal(s->fixed_by_path[VIRQ_PATH_NMI], 0);
	assert_int_equal(s->nmi, 1);
	for (int p = 0; p < VIRQ_PATH__COUNT; p++)
		sum += s->fixed_by_path[p];
	for (int v = 0; v < 256; v++)
		acc += s->accepted[v] + s->coalesced[v];
	assert_int_equal(sum, acc);
	virq_apicbus_free(bus);
}

/* --- issue 16: corrections from an independent audit -------------------------------- */

#define PERIODIC (VIRQ_LVT_TIMER_PERIODIC << VIRQ_LVT_TIMER_MODE_SHIFT)

/* SDM 11.5.4: the timer mode says what happens when the count reaches zero (reload or
 * stop); changing it between one-shot and periodic restarts nothing and keeps the count
 * (KVM's apic_update_lvtt touches the timer only on a switch to or from TSC-deadline).
 * 100 MHz bus, divide by 1: TMICT 1000 is a 10000 ns period. */
static void test_timer_mode_change_keeps_the_count_sdm_11_5_4(void **state)
{
	struct virq_lapic_config lc = { .bus_hz = 100000000 };
	struct virq_apicbus *bus = mkbus(1, &lc);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);
	const struct virq_lapic_stats *s = virq_lapic_stats(l);

	wr(l, VIRQ_APIC_TDCR, 0xB);
	wr(l, VIRQ_APIC_LVT_TIMER, 0x40 | PERIODIC);
	wr(l, VIRQ_APIC_TMICT, 1000); /* t = 0 */
	virq_lapic_tick(l, 10000);
	virq_lapic_tick(l, 20000);
	virq_lapic_tick(l, 25000);
	assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 500);
	wr(l, VIRQ_APIC_LVT_TIMER, 0x40); /* one-shot at 2.5 periods */
	assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 500);
	assert_int_equal(virq_lapic_timer_deadline(l), 30000);
	virq_lapic_tick(l, 29999);
	assert_int_equal(s->timer_fired, 2);
	virq_lapic_tick(l, 30000); /* expires at 3 periods */
	assert_int_equal(s->timer_fired, 3);
	assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 0);
	virq_lapic_tick(l, 45000);
	assert_int_equal(s->timer_fired, 3); /* one-shot: no reload */

	/* Periodic -> one-shot at 1.2 periods, read at 1.3: 700 counts left. */
	wr(l, VIRQ_APIC_LVT_TIMER, 0x40 | PERIODIC);
	wr(l, VIRQ_APIC_TMICT, 1000); /* t = 45000 */
	virq_lapic_tick(l, 57000);
	wr(l, VIRQ_APIC_LVT_TIMER, 0x40);
	virq_lapic_tick(l, 58000);
	assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 700);

	/* One-shot -> periodic while counting: the count goes on, then reloads. */
	wr(l, VIRQ_APIC_LVT_TIMER, 0x40 | PERIODIC);
	assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 700);
	virq_lapic_tick(l, 65000);
	assert_int_equal(s->timer_fired, 5);
	assert_int_equal(virq_lapic_timer_deadline(l), 75000);
	assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 1000);

	/* One-shot expired (TMCCT 0), then periodic: stays 0 until TMICT is written. */
	wr(l, VIRQ_APIC_LVT_TIMER, 0x40);
	wr(l, VIRQ_APIC_TMICT, 1000); /* t = 65000 */
	virq_lapic_tick(l, 80000);
	assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 0);
	wr(l, VIRQ_APIC_LVT_TIMER, 0x40 | PERIODIC);
	assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 0);
	virq_lapic_tick(l, 200000);
	assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 0);
	assert_int_equal(virq_lapic_timer_deadline(l), 0);
	assert_int_equal(s->timer_fired, 6);
	wr(l, VIRQ_APIC_TMICT, 1000); /* t = 200000 */
	virq_lapic_tick(l, 202500);
	assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 750);
	virq_apicbus_free(bus);
}

/* SDM 11.5.4.1 and KVM's apic_update_lvtt: a switch to or from TSC-deadline mode stops the
 * timer, zeroes TMICT and clears the deadline; nothing runs until the new mode's register
 * (IA32_TSC_DEADLINE, or TMICT) is written. The model already did this: kept as a test. */
static void test_timer_tsc_deadline_switch_disarms_and_clears_like_kvm(void **state)
{
	struct virq_lapic_config lc = { .bus_hz = 100000000, .tsc_hz = 1000000000ull };
	struct virq_apicbus *bus = mkbus(1, &lc);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);
	uint64_t v;

	wr(l, VIRQ_APIC_TDCR, 0xB);
	wr(l, VIRQ_APIC_LVT_TIMER, 0x40 | PERIODIC);
	wr(l, VIRQ_APIC_TMICT, 1000);
	virq_lapic_tick(l, 2500);
	wr(l, VIRQ_APIC_LVT_TIMER, 0x40 | (VIRQ_LVT_TIMER_TSC_DEADLINE << 17));
	assert_int_equal(rd(l, VIRQ_APIC_TMICT), 0);
	assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 0);
	assert_int_equal(virq_lapic_timer_deadline(l), 0);
	assert_int_equal(virq_lapic_msr_write(l, VIRQ_MSR_TSC_DEADLINE, 9000), 0);
	assert_int_equal(virq_lapic_timer_deadline(l), 9000);
	wr(l, VIRQ_APIC_LVT_TIMER, 0x40 | PERIODIC); /* back: disarmed, deadline 0 */
	assert_int_equal(virq_lapic_timer_deadline(l), 0);
	assert_int_equal(virq_lapic_msr_read(l, VIRQ_MSR_TSC_DEADLINE, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(rd(l, VIRQ_APIC_TMICT), 0);
	assert_int_equal(rd(l, VIRQ_APIC_TMCCT), 0);
	virq_lapic_tick(l, 50000);
	assert_int_equal(virq_lapic_stats(l)->timer_fired, 0);
	/* Deadline <-> deadline (a rewrite of the same mode) keeps the armed deadline. */
	wr(l, VIRQ_APIC_LVT_TIMER, 0x40 | (VIRQ_LVT_TIMER_TSC_DEADLINE << 17));
	assert_int_equal(virq_lapic_msr_write(l, VIRQ_MSR_TSC_DEADLINE, 90000), 0);
	wr(l, VIRQ_APIC_LVT_TIMER, 0x41 | (VIRQ_LVT_TIMER_TSC_DEADLINE << 17));
	assert_int_equal(virq_lapic_timer_deadline(l), 90000);
	virq_apicbus_free(bus);
}

/* SDM 9.4.4 / 11.6.1: INIT to a running AP (after its SIPI) puts it back in wait-for-SIPI
 * and only a SIPI after that INIT starts it again. A SIPI that reached the AP while it was
 * running is ignored by the SDM's state machine (a SIPI counts only in wait-for-SIPI); the
 * model used to latch it and consume it after a later INIT, so INIT then SIPI-less left the
 * AP running: the MP start-up protocol's second SIPI, not yet taken by the vCPU when the OS
 * sends INIT to park the AP, restarted it. KVM: an accepted INIT replaces the pending
 * events (apic->pending_events = INIT), dropping an earlier SIPI. */
static void test_init_after_sipi_returns_ap_to_wait_for_sipi_sdm_9_4_4(void **state)
{
	struct virq_apicbus *bus = mkbus(2, NULL);
	struct virq_lapic *bsp = virq_apicbus_lapic(bus, 0), *ap = virq_apicbus_lapic(bus, 1);
	struct virq_lapic_events ev;

	ipi(bsp, 1, 0x4600 | 0x10); /* SIPI */
	virq_lapic_take_events(ap, &ev);
	assert_int_equal(ev.state, VIRQ_VCPU_RUNNING);
	/* The simple case: INIT, taken, waits for SIPI. */
	ipi(bsp, 1, 0x4500);
	virq_lapic_take_events(ap, &ev);
	assert_int_equal(ev.events, VIRQ_LAPIC_EV_INIT);
	assert_int_equal(ev.state, VIRQ_VCPU_WAIT_SIPI);
	ipi(bsp, 1, 0x4600 | 0x11);
	virq_lapic_take_events(ap, &ev);
	assert_int_equal(ev.state, VIRQ_VCPU_RUNNING);
	/* Running; a second SIPI arrives, then INIT, before the vCPU takes either. */
	ipi(bsp, 1, 0x4600 | 0x12);
	ipi(bsp, 1, 0x4500);
	virq_lapic_take_events(ap, &ev);
	assert_int_equal(ev.events, VIRQ_LAPIC_EV_INIT);
	assert_int_equal(ev.state, VIRQ_VCPU_WAIT_SIPI);
	assert_int_equal(virq_lapic_vcpu_state(ap), VIRQ_VCPU_WAIT_SIPI);
	assert_int_equal(virq_lapic_stats(ap)->sipi_ignored, 1);
	/* Halted AP: the same. */
	ipi(bsp, 1, 0x4600 | 0x13);
	virq_lapic_take_events(ap, &ev);
	assert_int_equal(virq_lapic_set_vcpu_state(ap, VIRQ_VCPU_HALTED), 0);
	ipi(bsp, 1, 0x4500);
	virq_lapic_take_events(ap, &ev);
	assert_int_equal(ev.state, VIRQ_VCPU_WAIT_SIPI);
	/* INIT then SIPI before the vCPU takes them: the INIT-SIPI sequence still starts it. */
	ipi(bsp, 1, 0x4500);
	ipi(bsp, 1, 0x4600 | 0x14);
	virq_lapic_take_events(ap, &ev);
	assert_int_equal(ev.events, VIRQ_LAPIC_EV_INIT | VIRQ_LAPIC_EV_SIPI);
	assert_int_equal(ev.sipi_vector, 0x14);
	assert_int_equal(ev.state, VIRQ_VCPU_RUNNING);
	virq_apicbus_free(bus);
}

static uint32_t esr_latch(struct virq_lapic *l)
{
	wr(l, VIRQ_APIC_ESR, 0);
	return rd(l, VIRQ_APIC_ESR);
}

/* SDM 11.5.3 (Figure 11-9): Send Illegal Vector (bit 5) is set by "a write to the ICR (in
 * both xAPIC and x2APIC modes) or to SELF IPI register (x2APIC mode only) with an illegal
 * vector" (0-15); Receive Illegal Vector (bit 6) by an illegal vector "in an interrupt
 * message it receives or in an interrupt generated locally from the local vector table or
 * via a self IPI". A self IPI is both sent and received by the same LAPIC: both bits, one
 * error interrupt, nothing in IRR. SDM 11.12.11: the SELF IPI register means exactly an
 * ICR self IPI (shorthand self, edge, fixed), so it follows the ICR's rules, including
 * refusal by a software-disabled APIC (as KVM, which sends it through the ICR path). */
static void test_self_ipi_illegal_vector_sets_send_and_receive_illegal_sdm_11_5_3(void **state)
{
	struct virq_lapic_config lc = { .x2apic_supported = true };
	struct virq_apicbus *bus = mkbus(2, &lc);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0), *o = virq_apicbus_lapic(bus, 1);
	const struct virq_lapic_stats *s = virq_lapic_stats(l);
	uint64_t v;

	wr(l, VIRQ_APIC_LVT_ERROR, 0xE3);
	wr(l, VIRQ_APIC_ICR_LO, 0x05 | (VIRQ_SH_SELF << 18));
	assert_int_equal(esr_latch(l), VIRQ_ESR_SEND_ILLEGAL_VECTOR | VIRQ_ESR_RECV_ILLEGAL_VECTOR);
	assert_int_equal(s->error_interrupts, 1);
	assert_int_equal(virq_lapic_ack(l), 0xE3);
	virq_lapic_eoi(l);
	assert_int_equal(virq_lapic_pending(l), -1);
	/* To another CPU: only the sender's bit 5; nothing is sent (the receiver's bit 6 is
	 * for illegal vectors arriving from IOAPIC or MSI messages). */
	wr(l, VIRQ_APIC_ICR_HI, 1u << 24);
	wr(l, VIRQ_APIC_ICR_LO, 0x05);
	assert_int_equal(esr_latch(l), VIRQ_ESR_SEND_ILLEGAL_VECTOR);
	assert_int_equal(esr_latch(o), 0);

	assert_int_equal(virq_lapic_msr_write(l, VIRQ_MSR_APIC_BASE, 0xFEE00D00ull), 0);
	assert_int_equal(virq_lapic_msr_write(l, 0x83F, 0x0F), 0);
	assert_int_equal(virq_lapic_msr_write(l, 0x828, 0), 0);
	assert_int_equal(virq_lapic_msr_read(l, 0x828, &v), 0);
	assert_int_equal(v, VIRQ_ESR_SEND_ILLEGAL_VECTOR | VIRQ_ESR_RECV_ILLEGAL_VECTOR);
	assert_int_equal(s->send_illegal_vector, 3);
	assert_int_equal(s->recv_illegal_vector, 2);
	assert_int_equal(virq_lapic_ack(l), 0xE3);
	virq_lapic_eoi(l);
	/* x2APIC ICR with the SELF shorthand: the same. */
	assert_int_equal(virq_lapic_msr_write(l, 0x830, 0x0E | (VIRQ_SH_SELF << 18)), 0);
	assert_int_equal(virq_lapic_msr_write(l, 0x828, 0), 0);
	assert_int_equal(virq_lapic_msr_read(l, 0x828, &v), 0);
	assert_int_equal(v, VIRQ_ESR_SEND_ILLEGAL_VECTOR | VIRQ_ESR_RECV_ILLEGAL_VECTOR);
	/* A legal vector through SELF IPI: accepted, no error. */
	assert_int_equal(virq_lapic_msr_write(l, 0x83F, 0x30), 0);
	assert_int_equal(virq_lapic_pending(l), 0xE3);
	assert_int_equal(virq_lapic_ack(l), 0xE3);
	virq_lapic_eoi(l);
	assert_int_equal(virq_lapic_pending(l), 0x30);
	virq_lapic_ack(l);
	virq_lapic_eoi(l);
	/* SELF IPI to a software-disabled APIC is refused like an ICR self IPI. */
	assert_int_equal(virq_lapic_msr_write(l, 0x80F, 0xFF), 0);
	assert_int_equal(virq_lapic_msr_write(l, 0x83F, 0x31), 0);
	assert_int_equal(virq_lapic_pending(l), -1);
	assert_int_equal(s->rejected_sw_disabled, 1);
	virq_apicbus_free(bus);
}

/* SDM 11.6.1 (Figure 11-12): ICR bit 12, Delivery Status, is read-only; a write with it
 * set is not an error and sends the IPI (hardware ignores the bit; KVM clears
 * APIC_ICR_BUSY in both modes). In x2APIC mode (SDM 11.12.9, Figure 11-28) bits 13,
 * 17:16 and 31:20 are reserved and #GP on WRMSR, as KVM's X2APIC_ICR_RESERVED_BITS; bit
 * 12 is not among them in KVM, which clears it. A value read back and written again sends
 * the same IPI again. */
static void test_icr_write_with_delivery_status_set_sends_sdm_11_6_1(void **state)
{
	struct virq_lapic_config lc = { .x2apic_supported = true };
	struct virq_apicbus *bus = mkbus(2, &lc);
	struct virq_lapic *a = virq_apicbus_lapic(bus, 0), *b = virq_apicbus_lapic(bus, 1);
	uint64_t v;

	wr(a, VIRQ_APIC_ICR_HI, 1u << 24);
	wr(a, VIRQ_APIC_ICR_LO, 0x1000 | 0x41);
	assert_int_equal(virq_lapic_pending(b), 0x41);
	assert_int_equal(rd(a, VIRQ_APIC_ICR_LO), 0x41);
	virq_lapic_ack(b);
	virq_lapic_eoi(b);
	wr(a, VIRQ_APIC_ICR_LO, rd(a, VIRQ_APIC_ICR_LO)); /* write back what was read */
	assert_int_equal(virq_lapic_stats(b)->accepted[0x41], 2);

	assert_int_equal(virq_lapic_msr_write(a, VIRQ_MSR_APIC_BASE, 0xFEE00D00ull), 0);
	assert_int_equal(virq_lapic_msr_write(b, VIRQ_MSR_APIC_BASE, 0xFEE00C00ull), 0);
	assert_int_equal(virq_lapic_msr_write(a, 0x830, (1ull << 32) | 0x1000 | 0x52), 0);
	assert_int_equal(virq_lapic_pending(b), 0x52);
	assert_int_equal(virq_lapic_msr_read(a, 0x830, &v), 0);
	assert_int_equal(v, (1ull << 32) | 0x52);
	virq_lapic_ack(b);
	virq_lapic_eoi(b);
	assert_int_equal(virq_lapic_msr_write(a, 0x830, v), 0);
	assert_int_equal(virq_lapic_stats(b)->accepted[0x52], 2);
	/* The reserved bits still #GP and send nothing. */
	assert_int_equal(virq_lapic_msr_write(a, 0x830, (1ull << 32) | (1ull << 13) | 0x53),
			 -EINVAL);
	assert_int_equal(virq_lapic_msr_write(a, 0x830, (1ull << 32) | (1ull << 16) | 0x53),
			 -EINVAL);
	assert_int_equal(virq_lapic_msr_write(a, 0x830, (1ull << 32) | (1ull << 17) | 0x53),
			 -EINVAL);
	assert_int_equal(virq_lapic_msr_write(a, 0x830, (1ull << 32) | (1ull << 31) | 0x53),
			 -EINVAL);
	assert_int_equal(virq_lapic_stats(b)->accepted[0x53], 0);
	virq_apicbus_free(bus);
}

/* SDM 11.5.1: a level-sensitive LINT input (fixed delivery with trigger mode level, or
 * ExtINT, "always level sensitive") is sensed by its level, so a line still asserted when
 * its LVT entry is unmasked delivers then (and sets remote IRR for fixed). An edge input
 * delivers nothing on unmask (no edge). LINT1 stays edge-only: the SDM says level-sensitive
 * interrupts are not supported for LINT1 and software should leave its trigger bit 0, so
 * the bit does not stick and unmasking LINT1 with the line high delivers nothing. */
static void test_lint_level_unmasked_while_asserted_delivers_sdm_11_5_1(void **state)
{
	struct virq_apicbus *bus = mkbus(2, NULL);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 1);

	wr(l, VIRQ_APIC_LVT_LINT0, VIRQ_LVT_MASKED | VIRQ_LVT_LEVEL | 0x50);
	assert_int_equal(virq_lapic_set_lint(l, 0, true), 0);
	assert_int_equal(virq_lapic_pending(l), -1);
	wr(l, VIRQ_APIC_LVT_LINT0, VIRQ_LVT_LEVEL | 0x50);
	assert_int_equal(virq_lapic_pending(l), 0x50);
	assert_true(rd(l, VIRQ_APIC_LVT_LINT0) & VIRQ_LVT_REMOTE_IRR);
	/* Rewriting the unmasked entry (remote IRR set) does not deliver twice. */
	assert_int_equal(virq_lapic_ack(l), 0x50);
	wr(l, VIRQ_APIC_LVT_LINT0, VIRQ_LVT_LEVEL | 0x50);
	assert_int_equal(virq_lapic_pending(l), -1);
	virq_lapic_eoi(l); /* still high: again (existing rule) */
	assert_int_equal(virq_lapic_ack(l), 0x50);
	virq_lapic_set_lint(l, 0, false);
	virq_lapic_eoi(l);
	assert_int_equal(virq_lapic_stats(l)->accepted[0x50], 2);
	/* Unmasked with the line low: nothing. */
	wr(l, VIRQ_APIC_LVT_LINT0, VIRQ_LVT_MASKED | VIRQ_LVT_LEVEL | 0x50);
	wr(l, VIRQ_APIC_LVT_LINT0, VIRQ_LVT_LEVEL | 0x50);
	assert_int_equal(virq_lapic_pending(l), -1);
	/* Edge -> level while high: the level input is now asserted, delivered. */
	wr(l, VIRQ_APIC_LVT_LINT0, 0x51);
	virq_lapic_set_lint(l, 0, true);
	assert_int_equal(virq_lapic_ack(l), 0x51);
	virq_lapic_eoi(l);
	wr(l, VIRQ_APIC_LVT_LINT0, VIRQ_LVT_LEVEL | 0x51);
	assert_int_equal(virq_lapic_pending(l), 0x51);
	virq_lapic_ack(l);
	virq_lapic_set_lint(l, 0, false);
	virq_lapic_eoi(l);
	/* Edge LINT0 with the line high when unmasked: no edge, nothing. */
	wr(l, VIRQ_APIC_LVT_LINT0, VIRQ_LVT_MASKED | 0x52);
	virq_lapic_set_lint(l, 0, true);
	wr(l, VIRQ_APIC_LVT_LINT0, 0x52);
	assert_int_equal(virq_lapic_pending(l), -1);
	virq_lapic_set_lint(l, 0, false);
	/* ExtINT (level sensitive): unmasked while high, the vCPU is kicked for INTA. */
	wr(l, VIRQ_APIC_LVT_LINT0, VIRQ_LVT_MASKED | (VIRQ_DM_EXTINT << 8));
	virq_lapic_set_lint(l, 0, true);
	assert_false(virq_lapic_has_extint(l));
	rec.last_events[1] = 0;
	wr(l, VIRQ_APIC_LVT_LINT0, VIRQ_DM_EXTINT << 8);
	assert_true(virq_lapic_has_extint(l));
	assert_true(rec.last_events[1] & VIRQ_LAPIC_EV_EXTINT);
	virq_lapic_set_lint(l, 0, false);
	/* LINT1: the trigger bit does not stick; unmasking while high delivers nothing. */
	wr(l, VIRQ_APIC_LVT_LINT1, VIRQ_LVT_MASKED | VIRQ_LVT_LEVEL | 0x53);
	virq_lapic_set_lint(l, 1, true);
	wr(l, VIRQ_APIC_LVT_LINT1, VIRQ_LVT_LEVEL | 0x53);
	assert_int_equal(rd(l, VIRQ_APIC_LVT_LINT1), 0x53);
	assert_int_equal(virq_lapic_pending(l), -1);
	virq_apicbus_free(bus);
}

/* SDM 11.6.1: the level flag is 0 only for the INIT level de-assert form; a fixed or
 * lowest-priority message with trigger mode level and level 0 is a de-assert and asserts
 * nothing. KVM's __apic_accept_irq drops it ("trig_mode && !level" for fixed/lowest). It
 * is counted (fixed_deassert), sets no IRR/TMR bit, and does not move the lowest-priority
 * rotation. INIT level de-assert stays a no-op (P6-only arbitration-ID sync; KVM ignores
 * it). The assert form is taken, with TMR set. */
static void test_fixed_level_deassert_message_is_dropped_like_kvm(void **state)
{
	struct virq_apicbus *bus = mkbus(2, NULL);
	struct virq_lapic *a = virq_apicbus_lapic(bus, 0), *b = virq_apicbus_lapic(bus, 1);
	struct virq_irq irq = { .dest = 1, .vector = 0x60, .level_trig = 1, .level = 0 };

	assert_true(virq_apicbus_deliver(bus, &irq) <= 0);
	assert_int_equal(virq_lapic_pending(b), -1);
	assert_int_equal(virq_lapic_stats(b)->fixed_deassert, 1);
	irq.delivery_mode = VIRQ_DM_LOWEST;
	irq.dest = 0xFF;
	assert_true(virq_apicbus_deliver(bus, &irq) <= 0);
	assert_int_equal(virq_lapic_pending(a), -1);
	assert_int_equal(virq_lapic_pending(b), -1);
	assert_int_equal(virq_lapic_stats(a)->fixed_deassert + virq_lapic_stats(b)->fixed_deassert,
			 2);
	/* Through the ICR: level trigger, level bit clear. */
	ipi(a, 1, 0x8000 | 0x61);
	assert_int_equal(virq_lapic_pending(b), -1);
	assert_int_equal(virq_lapic_stats(b)->accepted[0x61], 0);
	/* Edge with the level bit clear is an assert (the bit only matters for level). */
	ipi(a, 1, 0x61);
	assert_int_equal(virq_lapic_pending(b), 0x61);
	virq_lapic_ack(b);
	virq_lapic_eoi(b);
	/* The assert form is taken, with TMR set. */
	irq.delivery_mode = VIRQ_DM_FIXED;
	irq.dest = 1;
	irq.level = 1;
	assert_int_equal(virq_apicbus_deliver(bus, &irq), 1);
	assert_int_equal(virq_lapic_pending(b), 0x60);
	assert_true(rd(b, VIRQ_APIC_TMR + 0x30) & 1u);
	virq_apicbus_free(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ppr_is_max_of_tpr_and_isr_class_sdm_11_8_3_1),
		cmocka_unit_test(test_tpr_blocks_vectors_of_equal_or_lower_class_sdm_11_8_3),
		cmocka_unit_test(test_eoi_retires_highest_in_service_vector_sdm_11_8_5),
		cmocka_unit_test(test_level_eoi_broadcast_and_directed_eoi_sdm_11_8_5),
		cmocka_unit_test(
			test_esr_records_illegal_vector_and_register_and_latches_sdm_11_5_3),
		cmocka_unit_test(test_svr_software_disable_masks_lvts_sdm_11_4_7_2),
		cmocka_unit_test(test_xapic_register_access_classes_sdm_table_11_1),
		cmocka_unit_test(test_x2apic_msrs_id_ldr_and_gp_rules_sdm_11_12),
		cmocka_unit_test(test_apic_base_transitions_sdm_11_12_5),
		cmocka_unit_test(test_timer_divide_configuration_encodings_sdm_11_5_4),
		cmocka_unit_test(test_timer_oneshot_and_periodic_on_fake_clock_sdm_11_5_4),
		cmocka_unit_test(test_timer_tsc_deadline_mode_sdm_11_5_4_1),
		cmocka_unit_test(test_lint_pins_extint_nmi_and_level_remote_irr_sdm_11_5_1),
		cmocka_unit_test(test_init_sipi_state_machine_sdm_9_4_4),
		cmocka_unit_test(test_save_restore_round_trip_and_validation),
		cmocka_unit_test(test_per_vector_counters_add_up),
		cmocka_unit_test(test_fixed_interrupts_counted_by_source_at_acceptance),
		cmocka_unit_test(test_priority_state_follows_restore_init_and_disable),
		cmocka_unit_test(test_timer_mode_change_keeps_the_count_sdm_11_5_4),
		cmocka_unit_test(test_timer_tsc_deadline_switch_disarms_and_clears_like_kvm),
		cmocka_unit_test(test_init_after_sipi_returns_ap_to_wait_for_sipi_sdm_9_4_4),
		cmocka_unit_test(
			test_self_ipi_illegal_vector_sets_send_and_receive_illegal_sdm_11_5_3),
		cmocka_unit_test(test_icr_write_with_delivery_status_set_sends_sdm_11_6_1),
		cmocka_unit_test(test_lint_level_unmasked_while_asserted_delivers_sdm_11_5_1),
		cmocka_unit_test(test_fixed_level_deassert_message_is_dropped_like_kvm),
	};
	return cmocka_run_group_tests_name("lapic", tests, NULL, NULL);
}
