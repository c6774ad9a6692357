// SPDX-License-Identifier: MIT
/*
 * APIC bus: destination resolution (SDM Vol. 3A 11.6.2, 11.12.10), ICR delivery modes and
 * shorthands (11.6.1), lowest-priority arbitration (11.6.2.4) in SDM and KVM-hash modes,
 * the sink result convention of irq.h, and the fast maps against a reference matcher.
 */
#include "virq_test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virq/apicbus.h"
#include "virq/lapic.h"

static unsigned int kicks[64];
static uint32_t kick_ev[64];

static void on_notify(void *o, unsigned int cpu, uint32_t ev)
{
	kicks[cpu]++;
	kick_ev[cpu] |= ev;
}

static const struct virq_apicbus_ops ops = { .notify = on_notify };

static struct virq_apicbus *mkbus(unsigned int n, enum virq_lowprio_mode lp, bool x2)
{
	struct virq_apicbus_config cfg = {
		.nr_cpus = n, .ops = &ops, .lowprio = lp, .lapic = { .x2apic_supported = true }
	};
	struct virq_apicbus *bus = virq_apicbus_new(&cfg);

	assert_non_null(bus);
	memset(kicks, 0, sizeof(kicks));
	memset(kick_ev, 0, sizeof(kick_ev));
	for (unsigned int i = 0; i < n; i++) {
		struct virq_lapic *l = virq_apicbus_lapic(bus, i);

		if (x2) {
			assert_int_equal(
				virq_lapic_msr_write(l, VIRQ_MSR_APIC_BASE,
						     virq_lapic_apic_base(l) | VIRQ_APIC_BASE_EXTD),
				0);
			assert_int_equal(virq_lapic_msr_write(l, 0x80F, 0x1FF), 0);
		} else {
			assert_int_equal(virq_lapic_mmio_write(l, VIRQ_APIC_SVR, 0x1FF), 0);
		}
	}
	return bus;
}

static void wr(struct virq_apicbus *bus, unsigned int cpu, uint32_t off, uint32_t v)
{
	assert_int_equal(virq_lapic_mmio_write(virq_apicbus_lapic(bus, cpu), off, v), 0);
}

/* Bitmask of CPUs that have `vec` pending in IRR (drains them). */
static uint64_t who_got(struct virq_apicbus *bus, uint8_t vec)
{
	uint64_t m = 0;

	for (unsigned int i = 0; i < virq_apicbus_nr_cpus(bus); i++) {
		struct virq_lapic *l = virq_apicbus_lapic(bus, i);

		if (virq_lapic_pending(l) == vec) {
			m |= 1ull << i;
			virq_lapic_ack(l);
			virq_lapic_eoi(l);
		}
	}
	return m;
}

static uint64_t resolve_mask(struct virq_apicbus *bus, const struct virq_irq *irq, int src)
{
	uint16_t cpus[64];
	int n = virq_apicbus_resolve(bus, irq, src, cpus, 64);
	uint64_t m = 0;

	for (int i = 0; i < n; i++)
		m |= 1ull << cpus[i];
	return m;
}

/* SDM 11.6.1: fixed physical IPI, the three shorthands and the 0xFF broadcast. */
static void test_icr_physical_shorthands_and_broadcast_sdm_11_6_1(void **state)
{
	struct virq_apicbus *bus = mkbus(4, VIRQ_LOWPRIO_SDM, false);

	wr(bus, 0, VIRQ_APIC_ICR_HI, 2u << 24);
	wr(bus, 0, VIRQ_APIC_ICR_LO, 0x41);
	assert_int_equal(who_got(bus, 0x41), 1u << 2);
	wr(bus, 1, VIRQ_APIC_ICR_LO, 0x42 | (VIRQ_SH_SELF << 18));
	assert_int_equal(who_got(bus, 0x42), 1u << 1);
	wr(bus, 1, VIRQ_APIC_ICR_LO, 0x43 | (VIRQ_SH_ALL_INCL_SELF << 18));
	assert_int_equal(who_got(bus, 0x43), 0xF);
	wr(bus, 1, VIRQ_APIC_ICR_LO, 0x44 | (VIRQ_SH_ALL_EXCL_SELF << 18));
	assert_int_equal(who_got(bus, 0x44), 0xD);
	wr(bus, 3, VIRQ_APIC_ICR_HI, 0xFFu << 24);
	wr(bus, 3, VIRQ_APIC_ICR_LO, 0x45);
	assert_int_equal(who_got(bus, 0x45), 0xF);
	wr(bus, 3, VIRQ_APIC_ICR_HI, 9u << 24); /* nobody */
	wr(bus, 3, VIRQ_APIC_ICR_LO, 0x46);
	assert_int_equal(virq_lapic_stats(virq_apicbus_lapic(bus, 3))->ipi_no_target, 1);
	/* The shorthand ignores the destination field. */
	wr(bus, 2, VIRQ_APIC_ICR_LO, 0x47 | (VIRQ_SH_SELF << 18));
	assert_int_equal(who_got(bus, 0x47), 1u << 2);
	virq_apicbus_free(bus);
}

/* SDM 11.6.1: NMI, SMI, INIT, SIPI and ExtINT IPIs become vCPU events, with a kick. */
static void test_icr_nmi_smi_init_sipi_extint_become_events_sdm_11_6_1(void **state)
{
	struct virq_apicbus *bus = mkbus(2, VIRQ_LOWPRIO_SDM, false);
	struct virq_lapic *ap = virq_apicbus_lapic(bus, 1);
	struct virq_lapic_events ev;
	static const struct {
		uint32_t dm, ev;
	} t[] = { { VIRQ_DM_NMI, VIRQ_LAPIC_EV_NMI },
		  { VIRQ_DM_SMI, VIRQ_LAPIC_EV_SMI },
		  { VIRQ_DM_INIT, VIRQ_LAPIC_EV_INIT },
		  { VIRQ_DM_STARTUP, VIRQ_LAPIC_EV_SIPI },
		  { VIRQ_DM_EXTINT, VIRQ_LAPIC_EV_EXTINT } };

	wr(bus, 0, VIRQ_APIC_ICR_HI, 1u << 24);
	for (unsigned int i = 0; i < 5; i++) {
		kick_ev[1] = 0;
		wr(bus, 0, VIRQ_APIC_ICR_LO, 0x4000 | (t[i].dm << 8) | 0x12);
		assert_int_equal(kick_ev[1], t[i].ev);
		assert_true(virq_lapic_pending_events(ap) & t[i].ev);
	}
	/* A second NMI while one is pending is merged. */
	wr(bus, 0, VIRQ_APIC_ICR_LO, 0x4000 | (VIRQ_DM_NMI << 8));
	assert_int_equal(virq_lapic_stats(ap)->nmi_coalesced, 1);
	virq_lapic_take_events(ap, &ev);
	/* INIT then SIPI: the AP starts; INIT's reset discarded the NMI/SMI latched before
	 * it (as KVM's vCPU reset). */
	assert_int_equal(ev.events, VIRQ_LAPIC_EV_INIT | VIRQ_LAPIC_EV_SIPI);
	assert_int_equal(ev.sipi_vector, 0x12);
	virq_apicbus_free(bus);
}

/* SDM 11.6.2.2: flat model, 8-bit logical IDs, any common bit matches. */
static void test_logical_flat_destination_sdm_11_6_2_2(void **state)
{
	struct virq_apicbus *bus = mkbus(8, VIRQ_LOWPRIO_SDM, false);
	struct virq_irq irq = { .dest_logical = 1, .vector = 0x50 };

	for (unsigned int i = 0; i < 8; i++)
		wr(bus, i, VIRQ_APIC_LDR, (1u << i) << 24);
	irq.dest = 0x05;
	assert_int_equal(virq_apicbus_deliver(bus, &irq), 2);
	assert_int_equal(who_got(bus, 0x50), 0x05);
	irq.dest = 0x80;
	assert_int_equal(virq_apicbus_deliver(bus, &irq), 1);
	assert_int_equal(who_got(bus, 0x50), 0x80);
	irq.dest = 0xFF; /* broadcast */
	assert_int_equal(virq_apicbus_deliver(bus, &irq), 8);
	assert_int_equal(virq_apicbus_stats(bus)->slow_path, 0);
	virq_apicbus_free(bus);
}

/* SDM 11.6.2.2: cluster model, cluster in dest[7:4], members in dest[3:0]. */
static void test_logical_cluster_destination_sdm_11_6_2_2(void **state)
{
	struct virq_apicbus *bus = mkbus(8, VIRQ_LOWPRIO_SDM, false);
	struct virq_irq irq = { .dest_logical = 1, .vector = 0x51 };

	for (unsigned int i = 0; i < 8; i++) {
		wr(bus, i, VIRQ_APIC_DFR, 0x0FFFFFFF);
		wr(bus, i, VIRQ_APIC_LDR, (((i / 4 + 1) << 4) | (1u << (i % 4))) << 24);
	}
	irq.dest = 0x13; /* cluster 1, members 0 and 1 */
	assert_int_equal(virq_apicbus_deliver(bus, &irq), 2);
	assert_int_equal(who_got(bus, 0x51), 0x03);
	irq.dest = 0x2C; /* cluster 2, members 2 and 3 */
	assert_int_equal(virq_apicbus_deliver(bus, &irq), 2);
	assert_int_equal(who_got(bus, 0x51), 0xC0);
	irq.dest = 0x3F;
	assert_int_equal(virq_apicbus_deliver(bus, &irq), -ENOENT);
	assert_int_equal(virq_apicbus_stats(bus)->slow_path, 0);
	virq_apicbus_free(bus);
}

/* SDM 11.12.10.2: x2APIC cluster addressing from the derived LDR, 0xFFFFFFFF broadcast. */
static void test_x2apic_cluster_destination_and_broadcast_sdm_11_12_10(void **state)
{
	struct virq_apicbus *bus = mkbus(40, VIRQ_LOWPRIO_SDM, true);
	struct virq_irq irq = { .dest_logical = 1, .x2apic_dest = 1, .vector = 0x52 };

	irq.dest = (2u << 16) | 0x0081; /* cluster 2 = IDs 32..47: IDs 32 and 39 */
	assert_int_equal(virq_apicbus_deliver(bus, &irq), 2);
	assert_int_equal(who_got(bus, 0x52), (1ull << 32) | (1ull << 39));
	irq.dest = (2u << 16) | 0x0101; /* ID 40 does not exist */
	assert_int_equal(resolve_mask(bus, &irq, -1), 1ull << 32);
	irq.dest = 0x8001; /* cluster 0: IDs 0 and 15 */
	assert_int_equal(resolve_mask(bus, &irq, -1), (1ull << 0) | (1ull << 15));
	irq.dest = 0xFFFFFFFF;
	assert_int_equal(resolve_mask(bus, &irq, -1), (1ull << 40) - 1);
	irq.dest_logical = 0;
	irq.dest = 37;
	assert_int_equal(resolve_mask(bus, &irq, -1), 1ull << 37);
	/* 64-bit ICR from CPU 3 to x2APIC ID 39. */
	assert_int_equal(
		virq_lapic_msr_write(virq_apicbus_lapic(bus, 3), 0x830, (39ull << 32) | 0x53), 0);
	assert_int_equal(who_got(bus, 0x53), 1ull << 39);
	virq_apicbus_free(bus);
}

/* SDM 11.6.2.4: lowest priority goes to the focus processor, else the lowest APR, ties to
 * the lowest APIC ID; SVR[9] turns focus checking off. */
static void test_lowest_priority_sdm_arbitration_sdm_11_6_2_4(void **state)
{
	struct virq_apicbus *bus = mkbus(4, VIRQ_LOWPRIO_SDM, false);
	struct virq_irq irq = { .dest = 0xFF, .delivery_mode = VIRQ_DM_LOWEST, .vector = 0x61 };

	assert_int_equal(resolve_mask(bus, &irq, -1), 1u << 0); /* all APR 0: lowest ID */
	wr(bus, 0, VIRQ_APIC_TPR, 0x30);
	wr(bus, 1, VIRQ_APIC_TPR, 0x20);
	wr(bus, 2, VIRQ_APIC_TPR, 0x10);
	wr(bus, 3, VIRQ_APIC_TPR, 0x20);
	assert_int_equal(resolve_mask(bus, &irq, -1), 1u << 2);
	/* CPU 2 raises its class via IRR: APR = max(TPR, IRRV, ISRV) classes. */
	wr(bus, 2, VIRQ_APIC_ICR_LO, 0x91 | (VIRQ_SH_SELF << 18));
	assert_int_equal(resolve_mask(bus, &irq, -1), 1u << 1);
	/* Focus: CPU 3 already has vector 0x61 pending. */
	wr(bus, 3, VIRQ_APIC_ICR_LO, 0x61 | (VIRQ_SH_SELF << 18));
	assert_int_equal(resolve_mask(bus, &irq, -1), 1u << 3);
	assert_int_equal(virq_apicbus_deliver(bus, &irq), 0); /* coalesced at the focus */
	wr(bus, 3, VIRQ_APIC_SVR, 0x3FF); /* focus checking disabled */
	assert_int_equal(resolve_mask(bus, &irq, -1), 1u << 1);
	/* A software-disabled LAPIC does not take part: next lowest APR is CPU 0 (0x30;
	 * CPU 3 is at 0x60 from its pending 0x61, CPU 2 at 0x90). */
	wr(bus, 1, VIRQ_APIC_SVR, 0xFF);
	assert_int_equal(resolve_mask(bus, &irq, -1), 1u << 0);
	/* MSI redirection hint means lowest priority too. */
	irq.delivery_mode = VIRQ_DM_FIXED;
	irq.redir_hint = 1;
	assert_int_equal(resolve_mask(bus, &irq, -1), 1u << 0);
	assert_true(virq_apicbus_stats(bus)->lowprio_focus >= 2);
	virq_apicbus_free(bus);
}

/* KVM mode: kvm_vector_to_index picks candidate number (vector % n) in bitmap order. */
static void test_lowest_priority_kvm_vector_hashing(void **state)
{
	struct virq_apicbus *bus = mkbus(8, VIRQ_LOWPRIO_KVM_HASH, false);
	struct virq_irq irq = { .dest_logical = 1, .delivery_mode = VIRQ_DM_LOWEST };
	static const unsigned int members[] = { 1, 3, 4, 6 };

	for (unsigned int i = 0; i < 8; i++)
		wr(bus, i, VIRQ_APIC_LDR, (1u << i) << 24);
	irq.dest = 0x5A; /* bits 1, 3, 4, 6 */
	for (unsigned int v = 32; v < 256; v++) {
		irq.vector = v;
		assert_int_equal(resolve_mask(bus, &irq, -1), 1u << members[v % 4]);
	}
	wr(bus, 0, VIRQ_APIC_TPR, 0xF0); /* priorities do not matter in this mode */
	irq.dest = 0x03;
	irq.vector = 0x40;
	assert_int_equal(resolve_mask(bus, &irq, -1), 1u << 0);
	assert_true(virq_apicbus_stats(bus)->lowprio_hashed > 0);
	virq_apicbus_free(bus);
}

/* irq.h result convention through the bus used as a struct virq_sink. */
static void test_sink_result_is_cpus_reached_coalesced_or_error(void **state)
{
	struct virq_apicbus *bus = mkbus(3, VIRQ_LOWPRIO_SDM, false);
	struct virq_sink sink;
	struct virq_irq irq = { .dest = 0xFF, .vector = 0x70, .path = VIRQ_PATH_IOAPIC };

	virq_apicbus_sink(bus, &sink);
	assert_int_equal(virq_sink_deliver(&sink, &irq), 3);
	assert_int_equal(kicks[0] + kicks[1] + kicks[2], 3);
	assert_int_equal(virq_sink_deliver(&sink, &irq), 0);
	assert_int_equal(kicks[0] + kicks[1] + kicks[2], 3); /* no kick when merged */
	irq.dest = 1;
	irq.vector = 0x71;
	assert_int_equal(virq_sink_deliver(&sink, &irq), 1);
	irq.dest = 0x33;
	assert_int_equal(virq_sink_deliver(&sink, &irq), -ENOENT);
	irq.dest = 1;
	irq.vector = 5;
	assert_int_equal(virq_sink_deliver(&sink, &irq), -EINVAL);
	assert_int_equal(virq_apicbus_stats(bus)->per_path[VIRQ_PATH_IOAPIC], 5);
	assert_int_equal(virq_apicbus_stats(bus)->no_target, 1);
	/* pic_int drives LINT0 (ExtINT on the BSP). */
	virq_sink_pic_int(&sink, true);
	assert_true(virq_lapic_has_extint(virq_apicbus_lapic(bus, 0)));
	/* Bad configurations. */
	struct virq_apicbus_config bad = { .nr_cpus = 2, .apic_ids = (const uint32_t[]){ 3, 3 } };
	assert_null(virq_apicbus_new(&bad));
	assert_int_equal(errno, EINVAL);
	bad.apic_ids = (const uint32_t[]){ 0, 0xFF };
	assert_null(virq_apicbus_new(&bad));
	bad.nr_cpus = 0;
	assert_null(virq_apicbus_new(&bad));
	virq_apicbus_free(NULL);
	virq_apicbus_free(bus);
}

/* Reference matcher written from the SDM text, independent of the model. */
static bool ref_match(struct virq_lapic *l, const struct virq_irq *irq)
{
	uint32_t d = irq->x2apic_dest ? irq->dest : irq->dest & 0xFF, ldr = 0, dfr = 0;
	bool x2 = virq_lapic_mode(l) == VIRQ_LAPIC_X2APIC;
	uint64_t v;

	if (virq_lapic_mode(l) == VIRQ_LAPIC_DISABLED)
		return false;
	if (irq->x2apic_dest ? d == 0xFFFFFFFF : d == 0xFF)
		return true;
	if (!irq->dest_logical)
		return d == virq_lapic_id(l);
	if (x2) {
		virq_lapic_msr_read(l, 0x80D, &v);
		return (d >> 16) == (v >> 16) && (d & v & 0xFFFF);
	}
	virq_lapic_mmio_read(l, VIRQ_APIC_LDR, &ldr);
	virq_lapic_mmio_read(l, VIRQ_APIC_DFR, &dfr);
	if (dfr >> 28 == 0xF)
		return (d & (ldr >> 24)) != 0;
	if (dfr >> 28 == 0)
		return (d >> 4) == (ldr >> 28) && (d & (ldr >> 24) & 0xF);
	return false;
}

/* The fast maps (and their fallbacks) agree with the reference for random topologies:
 * IDs, LDRs, DFR models, x2APIC and disabled LAPICs. */
static void test_fast_maps_agree_with_reference_matcher(void **state)
{
	unsigned int seed = 12345, slow = 0, fast = 0;

	for (unsigned int round = 0; round < 300; round++) {
		unsigned int n = 1 + rand_r(&seed) % 24, kind = rand_r(&seed) % 4;
		struct virq_apicbus *bus = mkbus(n, VIRQ_LOWPRIO_SDM, kind == 3);
		uint64_t before = virq_apicbus_stats(bus)->slow_path;

		for (unsigned int i = 0; i < n; i++) {
			struct virq_lapic *l = virq_apicbus_lapic(bus, i);
			unsigned int r = rand_r(&seed);

			if (kind == 3) {
				if (r % 7 == 0) /* some x2APIC CPUs disabled */
					virq_lapic_set_apic_base(l, 0xFEE00000, false);
				continue;
			}
			if (kind == 2 && r % 5 == 0) /* mixed: ID collision, multi-bit LDR */
				wr(bus, i, VIRQ_APIC_ID, (r % 4) << 24);
			wr(bus, i, VIRQ_APIC_DFR, kind == 1 ? 0x0FFFFFFF : 0xFFFFFFFF);
			wr(bus, i, VIRQ_APIC_LDR,
			   kind == 2 ? (r >> 8) << 24 :
			   kind == 1 ? (((i / 4) << 4) | (1u << (i % 4))) << 24 :
				       (1u << (i % 8)) << 24);
			if (r % 11 == 0)
				virq_lapic_set_apic_base(l, 0xFEE00000, false);
		}
		for (unsigned int k = 0; k < 200; k++) {
			struct virq_irq irq = { .vector = 0x40 };
			unsigned int r = rand_r(&seed);
			uint16_t cpus[64];
			uint64_t want = 0, got = 0;
			int cnt;

			irq.dest_logical = r & 1;
			irq.x2apic_dest = kind == 3 && (r & 2);
			irq.dest = irq.x2apic_dest ? (r >> 4) % 3 == 0 ?
						     0xFFFFFFFF :
						     ((r >> 8) & 3) << 16 | ((r >> 12) & 0xFFFF) :
						     (r >> 4) & 0xFF;
			for (unsigned int i = 0; i < n; i++)
				if (ref_match(virq_apicbus_lapic(bus, i), &irq))
					want |= 1ull << i;
			cnt = virq_apicbus_resolve(bus, &irq, -1, cpus, 64);
			for (int i = 0; i < cnt; i++) {
				assert_false(got & (1ull << cpus[i])); /* no duplicates */
				got |= 1ull << cpus[i];
			}
			assert_int_equal(cnt < 0 ? 0 : cnt, __builtin_popcountll(want));
			assert_int_equal(got, want);
		}
		if (virq_apicbus_stats(bus)->slow_path > before)
			slow++;
		else
			fast++;
		virq_apicbus_free(bus);
	}
	/* Both the maps and the fallback were exercised. */
	assert_true(slow > 10 && fast > 10);
}

/* SDM 11.6.2.4 / 11.7: among targets at the same (lowest) priority the arbitration
 * priority rotates: the winner goes to the lowest arbitration priority, so equal-priority
 * targets take lowest-priority interrupts in turn. Before, every tie went to the lowest
 * APIC ID and all interrupts landed on one CPU. 40 interrupts over 4 equal CPUs: 10
 * each, in round-robin order; a CPU at a higher priority (TPR) is skipped and does not
 * disturb the turn of the others. */
static void test_lowest_priority_ties_rotate_sdm_11_6_2_4(void **state)
{
	struct virq_apicbus *bus = mkbus(4, VIRQ_LOWPRIO_SDM, false);
	struct virq_irq irq = { .dest = 0xFF, .delivery_mode = VIRQ_DM_LOWEST, .vector = 0x61 };
	unsigned int got[4] = { 0 };

	for (unsigned int i = 0; i < 40; i++) {
		uint64_t m;

		assert_int_equal(virq_apicbus_deliver(bus, &irq), 1);
		m = who_got(bus, 0x61);
		assert_int_equal(m, 1ull << (i % 4));
		got[__builtin_ctzll(m)]++;
	}
	for (unsigned int c = 0; c < 4; c++)
		assert_int_equal(got[c], 10);
	wr(bus, 1, VIRQ_APIC_TPR, 0x40);
	for (unsigned int i = 0; i < 6; i++) {
		static const unsigned int order[] = { 0, 2, 3 };

		assert_int_equal(virq_apicbus_deliver(bus, &irq), 1);
		assert_int_equal(who_got(bus, 0x61), 1ull << order[i % 3]);
	}
	/* Resolution alone (no delivery) does not move the rotation. */
	assert_int_equal(resolve_mask(bus, &irq, -1), 1u << 0);
	assert_int_equal(resolve_mask(bus, &irq, -1), 1u << 0);
	/* The setter switches to KVM's hashing (0x61 % 4 = 1: CPU 1, priorities ignored)
	 * and back; unknown modes are refused. */
	assert_int_equal(virq_apicbus_lowprio(bus), VIRQ_LOWPRIO_SDM);
	assert_int_equal(virq_apicbus_set_lowprio(bus, VIRQ_LOWPRIO_KVM_HASH), 0);
	assert_int_equal(virq_apicbus_lowprio(bus), VIRQ_LOWPRIO_KVM_HASH);
	assert_int_equal(resolve_mask(bus, &irq, -1), 1u << 1);
	assert_int_equal(virq_apicbus_set_lowprio(bus, (enum virq_lowprio_mode)7), -EINVAL);
	assert_int_equal(virq_apicbus_set_lowprio(bus, VIRQ_LOWPRIO_SDM), 0);
	assert_int_equal(resolve_mask(bus, &irq, -1), 1u << 0);
	virq_apicbus_free(bus);
}

/* KVM's kvm_vector_to_index: candidate number (vector % n) among the n software-enabled
 * candidates (its logical map and its slow path both leave software-disabled APICs out),
 * counted in KVM's order: member bit order on the logical map, vCPU index otherwise.
 * Before, software-disabled LAPICs were counted, so some vectors hashed onto a LAPIC that
 * then refused the interrupt. */
static void test_lowest_priority_kvm_hash_counts_enabled_candidates_only(void **state)
{
	struct virq_apicbus *bus = mkbus(8, VIRQ_LOWPRIO_KVM_HASH, false);
	struct virq_irq irq = { .dest_logical = 1, .delivery_mode = VIRQ_DM_LOWEST };
	static const unsigned int members[] = { 1, 4, 6 };

	for (unsigned int i = 0; i < 8; i++)
		wr(bus, i, VIRQ_APIC_LDR, (1u << i) << 24);
	wr(bus, 3, VIRQ_APIC_SVR, 0xFF); /* software-disabled */
	irq.dest = 0x5A; /* bits 1, 3, 4, 6 */
	for (unsigned int v = 32; v < 256; v++) {
		irq.vector = v;
		assert_int_equal(resolve_mask(bus, &irq, -1), 1u << members[v % 3]);
		assert_int_equal(virq_apicbus_deliver(bus, &irq), 1);
		assert_int_equal(who_got(bus, v), 1ull << members[v % 3]);
	}
	/* Physical broadcast (KVM's slow path): vCPU index order, CPU 3 left out. */
	irq.dest_logical = 0;
	irq.dest = 0xFF;
	for (unsigned int v = 32; v < 64; v++) {
		static const unsigned int idx[] = { 0, 1, 2, 4, 5, 6, 7 };

		irq.vector = v;
		assert_int_equal(resolve_mask(bus, &irq, -1), 1u << idx[v % 7]);
	}
	virq_apicbus_free(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_icr_physical_shorthands_and_broadcast_sdm_11_6_1),
		cmocka_unit_test(test_icr_nmi_smi_init_sipi_extint_become_events_sdm_11_6_1),
		cmocka_unit_test(test_logical_flat_destination_sdm_11_6_2_2),
		cmocka_unit_test(test_logical_cluster_destination_sdm_11_6_2_2),
		cmocka_unit_test(test_x2apic_cluster_destination_and_broadcast_sdm_11_12_10),
		cmocka_unit_test(test_lowest_priority_sdm_arbitration_sdm_11_6_2_4),
		cmocka_unit_test(test_lowest_priority_kvm_vector_hashing),
		cmocka_unit_test(test_lowest_priority_ties_rotate_sdm_11_6_2_4),
		cmocka_unit_test(test_lowest_priority_kvm_hash_counts_enabled_candidates_only),
		cmocka_unit_test(test_sink_result_is_cpus_reached_coalesced_or_error),
		cmocka_unit_test(test_fast_maps_agree_with_reference_matcher),
	};
	return cmocka_run_group_tests_name("apicbus", tests, NULL, NULL);
}
