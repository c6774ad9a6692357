// SPDX-License-Identifier: MIT
/* The IOAPIC against the 82093AA datasheet (290566) and SDM Vol. 3A 11.8.5 / 11.11. */
#include "virq_test.h"
#include "virq/ioapic.h"
#include "virq/msi.h"
#include <errno.h>
#include <string.h>

struct rec {
	struct virq_irq last;
	int n;
	int ret;
};

static int rec_deliver(void *o, const struct virq_irq *irq)
{
	struct rec *r = o;

	r->last = *irq;
	r->n++;
	return r->ret;
}

static const struct virq_sink_ops rec_ops = { .deliver = rec_deliver };

struct fx {
	struct virq_ioapic io;
	struct rec rec;
};

static int setup_cfg(void **state, uint32_t version, uint32_t pins)
{
	static struct fx f;
	struct virq_sink s = { &rec_ops, &f.rec };
	struct virq_ioapic_config cfg;

	memset(&f, 0, sizeof(f));
	f.rec.ret = 1;
	virq_ioapic_config_default(&cfg);
	cfg.version = version;
	cfg.nr_pins = pins;
	cfg.storm_threshold = 5;
	cfg.storm_delay_ns = 1000;
	assert_int_equal(virq_ioapic_init(&f.io, &cfg, &s), 0);
	*state = &f;
	return 0;
}

static int setup(void **state)
{
	return setup_cfg(state, VIRQ_IOAPIC_VERSION_82093AA, 24);
}

static int setup_v20(void **state)
{
	return setup_cfg(state, VIRQ_IOAPIC_VERSION_EOI, 120);
}

static uint32_t rd(struct fx *f, uint32_t idx)
{
	virq_ioapic_mmio_write(&f->io, VIRQ_IOAPIC_IOREGSEL, idx);
	return virq_ioapic_mmio_read(&f->io, VIRQ_IOAPIC_IOWIN);
}

static void wr(struct fx *f, uint32_t idx, uint32_t v)
{
	virq_ioapic_mmio_write(&f->io, VIRQ_IOAPIC_IOREGSEL, idx);
	virq_ioapic_mmio_write(&f->io, VIRQ_IOAPIC_IOWIN, v);
}

static void set_rte(struct fx *f, unsigned int pin, uint64_t rte)
{
	wr(f, 0x10 + 2 * pin + 1, (uint32_t)(rte >> 32));
	wr(f, 0x10 + 2 * pin, (uint32_t)rte);
}

static uint64_t get_rte(struct fx *f, unsigned int pin)
{
	return (uint64_t)rd(f, 0x10 + 2 * pin + 1) << 32 | rd(f, 0x10 + 2 * pin);
}

#define LEVEL VIRQ_RTE_TRIGGER_LEVEL
#define MASKED VIRQ_RTE_MASKED

static void test_version_register_reports_max_redirection_entry(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, 1), 0x00170011);
	wr(f, 0, 0x0f000000 | 0xff);
	assert_int_equal(rd(f, 0), 0x0f000000);
	assert_int_equal(rd(f, 2), 0x0f000000); /* arbitration ID follows the ID */
	wr(f, 1, 0);
	assert_int_equal(rd(f, 1), 0x00170011);
}

static void test_version_0x20_with_120_pins_has_eoi_register(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, 1), 0x00770020);
	set_rte(f, 119, LEVEL | 0x61);
	virq_ioapic_set_irq(&f->io, 119, 1);
	assert_true(get_rte(f, 119) & VIRQ_RTE_REMOTE_IRR);
	assert_int_equal(virq_ioapic_mmio_write(&f->io, VIRQ_IOAPIC_EOI, 0x61), 0);
	assert_int_equal(f->rec.n, 2); /* line still high: re-delivered */
	virq_ioapic_set_irq(&f->io, 119, 0);
	virq_ioapic_mmio_write(&f->io, VIRQ_IOAPIC_EOI, 0x61);
	assert_false(get_rte(f, 119) & VIRQ_RTE_REMOTE_IRR);
}

static void test_eoi_register_absent_in_version_0x11(void **state)
{
	struct fx *f = *state;

	assert_int_equal(virq_ioapic_mmio_write(&f->io, VIRQ_IOAPIC_EOI, 0x30), -EINVAL);
}

static void test_out_of_range_index_reads_all_ones_and_ignores_writes(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, 0x10 + 2 * 24), 0xffffffffu);
	assert_int_equal(rd(f, 0x03), 0xffffffffu);
	wr(f, 0x10 + 2 * 24, 0x30);
	assert_int_equal(f->io.bad_index, 3);
	assert_int_equal(virq_ioapic_set_irq(&f->io, 24, 1), -EINVAL);
	wr(f, 0x1234, 0); /* IOREGSEL keeps bits 7:0 only */
	assert_int_equal(virq_ioapic_mmio_read(&f->io, VIRQ_IOAPIC_IOREGSEL), 0x34);
}

static void test_reset_masks_every_entry(void **state)
{
	struct fx *f = *state;

	for (unsigned int pin = 0; pin < 24; pin++)
		assert_int_equal(get_rte(f, pin), MASKED);
	assert_int_equal(virq_ioapic_set_irq(&f->io, 3, 1), -EBUSY);
	assert_int_equal(f->rec.n, 0);
}

static void test_delivery_status_and_remote_irr_are_read_only(void **state)
{
	struct fx *f = *state;

	set_rte(f, 4, 0x31 | VIRQ_RTE_RO_BITS | 0x0000ffff00000000ull);
	assert_int_equal(get_rte(f, 4), 0x31); /* reserved 55:17 read 0 too */
}

static void test_edge_pin_delivers_rte_message_on_rising_edge(void **state)
{
	struct fx *f = *state;

	set_rte(f, 5, 0x0300000000000000ull | VIRQ_RTE_DEST_LOGICAL | 1ull << 8 | 0x41);
	assert_int_equal(virq_ioapic_set_irq(&f->io, 5, 1), 1);
	assert_int_equal(f->rec.last.vector, 0x41);
	assert_int_equal(f->rec.last.dest, 3);
	assert_int_equal(f->rec.last.delivery_mode, VIRQ_DM_LOWEST);
	assert_int_equal(f->rec.last.dest_logical, 1);
	assert_int_equal(f->rec.last.level_trig, 0);
	assert_int_equal(f->rec.last.path, VIRQ_PATH_IOAPIC);
	assert_int_equal(virq_ioapic_set_irq(&f->io, 5, 1), VIRQ_RES_COALESCED);
	virq_ioapic_set_irq(&f->io, 5, 0);
	virq_ioapic_set_irq(&f->io, 5, 1);
	assert_int_equal(f->rec.n, 2);
	assert_false(get_rte(f, 5) & VIRQ_RTE_REMOTE_IRR);
}

static void test_edge_on_masked_pin_is_discarded(void **state)
{
	struct fx *f = *state;

	set_rte(f, 6, MASKED | 0x42);
	assert_int_equal(virq_ioapic_set_irq(&f->io, 6, 1), -EBUSY);
	virq_ioapic_set_irq(&f->io, 6, 0);
	set_rte(f, 6, 0x42);
	assert_int_equal(f->rec.n, 0);
	assert_int_equal(virq_ioapic_pin_stats(&f->io, 6)->masked, 1);
}

static void test_level_delivery_sets_remote_irr_until_eoi_broadcast(void **state)
{
	struct fx *f = *state;

	set_rte(f, 9, LEVEL | 0x51);
	assert_int_equal(virq_ioapic_set_irq(&f->io, 9, 1), 1);
	assert_true(get_rte(f, 9) & VIRQ_RTE_REMOTE_IRR);
	assert_int_equal(f->rec.last.level_trig, 1);
	assert_int_equal(virq_ioapic_set_irq(&f->io, 9, 1), 0); /* in service */
	virq_ioapic_set_irq(&f->io, 9, 0);
	virq_ioapic_eoi(&f->io, 0x50); /* other vector: no effect */
	assert_true(get_rte(f, 9) & VIRQ_RTE_REMOTE_IRR);
	virq_ioapic_eoi(&f->io, 0x51);
	assert_false(get_rte(f, 9) & VIRQ_RTE_REMOTE_IRR);
	assert_int_equal(f->rec.n, 1);
	assert_int_equal(virq_ioapic_pin_stats(&f->io, 9)->eoi, 1);
}

static void test_eoi_redelivers_while_level_line_still_asserted(void **state)
{
	struct fx *f = *state;

	set_rte(f, 10, LEVEL | 0x52);
	virq_ioapic_set_irq(&f->io, 10, 1);
	virq_ioapic_eoi(&f->io, 0x52);
	assert_int_equal(f->rec.n, 2);
	assert_true(get_rte(f, 10) & VIRQ_RTE_REMOTE_IRR);
	assert_int_equal(virq_ioapic_pin_stats(&f->io, 10)->redelivered, 1);
}

static void test_rewriting_entry_as_edge_clears_remote_irr(void **state)
{
	struct fx *f = *state;

	set_rte(f, 11, LEVEL | 0x53);
	virq_ioapic_set_irq(&f->io, 11, 1);
	assert_true(get_rte(f, 11) & VIRQ_RTE_REMOTE_IRR);
	wr(f, 0x10 + 22, 0x53);
	assert_false(get_rte(f, 11) & VIRQ_RTE_REMOTE_IRR);
}

static void test_masked_level_pin_held_delivers_at_unmask(void **state)
{
	struct fx *f = *state;

	set_rte(f, 12, MASKED | LEVEL | 0x54);
	assert_int_equal(virq_ioapic_set_irq(&f->io, 12, 1), -EBUSY);
	assert_true(get_rte(f, 12) & VIRQ_RTE_DELIVERY_STATUS); /* send pending */
	assert_int_equal(f->rec.n, 0);
	set_rte(f, 12, LEVEL | 0x54);
	assert_int_equal(f->rec.n, 1);
	assert_int_equal(f->rec.last.vector, 0x54);
	assert_true(get_rte(f, 12) & VIRQ_RTE_REMOTE_IRR);
}

static void test_masked_level_pin_released_before_unmask_stays_silent(void **state)
{
	struct fx *f = *state;

	set_rte(f, 12, MASKED | LEVEL | 0x54);
	virq_ioapic_set_irq(&f->io, 12, 1);
	virq_ioapic_set_irq(&f->io, 12, 0);
	set_rte(f, 12, LEVEL | 0x54);
	assert_int_equal(f->rec.n, 0);
	assert_false(get_rte(f, 12) & VIRQ_RTE_DELIVERY_STATUS);
}

static void test_remote_irr_not_set_when_no_apic_accepts(void **state)
{
	struct fx *f = *state;

	f->rec.ret = -ENOENT;
	set_rte(f, 13, LEVEL | 0x55);
	assert_int_equal(virq_ioapic_set_irq(&f->io, 13, 1), -ENOENT);
	assert_false(get_rte(f, 13) & VIRQ_RTE_REMOTE_IRR);
	f->rec.ret = 0;
	virq_ioapic_set_irq(&f->io, 13, 0);
	assert_int_equal(virq_ioapic_set_irq(&f->io, 13, 1), VIRQ_RES_COALESCED);
	assert_true(get_rte(f, 13) & VIRQ_RTE_REMOTE_IRR); /* accepted, though coalesced */
	assert_int_equal(virq_ioapic_pin_stats(&f->io, 13)->ignored, 1);
	assert_int_equal(virq_ioapic_pin_stats(&f->io, 13)->coalesced, 1);
}

/* Storm guard (threshold 5 in this fixture): the 5th back-to-back EOI re-delivery is
 * deferred to the tick, which sends it storm_delay_ns after it first saw it. */
static void test_storm_guard_defers_after_threshold_and_tick_redelivers(void **state)
{
	struct fx *f = *state;
	uint64_t due = 1;

	set_rte(f, 14, LEVEL | 0x56);
	virq_ioapic_set_irq(&f->io, 14, 1);
	for (int i = 0; i < 4; i++)
		virq_ioapic_eoi(&f->io, 0x56);
	assert_int_equal(f->rec.n, 5);
	virq_ioapic_eoi(&f->io, 0x56);
	assert_int_equal(f->rec.n, 5);
	assert_int_equal(virq_ioapic_pin_stats(&f->io, 14)->deferred, 1);
	assert_true(get_rte(f, 14) & VIRQ_RTE_DELIVERY_STATUS);
	assert_int_equal(virq_ioapic_set_irq(&f->io, 14, 1), 0);
	assert_true(virq_ioapic_next_deadline(&f->io, &due));
	assert_int_equal(due, 0);
	assert_int_equal(virq_ioapic_tick(&f->io, 100000), 0); /* stamps 101000 */
	assert_true(virq_ioapic_next_deadline(&f->io, &due));
	assert_int_equal(due, 101000);
	assert_int_equal(virq_ioapic_tick(&f->io, 100999), 0);
	assert_int_equal(virq_ioapic_tick(&f->io, 101000), 1);
	assert_int_equal(f->rec.n, 6);
	assert_false(virq_ioapic_next_deadline(&f->io, NULL));
	/* the streak restarted: four more EOIs re-deliver at once */
	for (int i = 0; i < 4; i++)
		virq_ioapic_eoi(&f->io, 0x56);
	assert_int_equal(f->rec.n, 10);
}

static void test_storm_streak_resets_when_line_drops(void **state)
{
	struct fx *f = *state;

	set_rte(f, 15, LEVEL | 0x57);
	for (int round = 0; round < 3; round++) {
		virq_ioapic_set_irq(&f->io, 15, 1);
		for (int i = 0; i < 3; i++)
			virq_ioapic_eoi(&f->io, 0x57);
		virq_ioapic_set_irq(&f->io, 15, 0);
		virq_ioapic_eoi(&f->io, 0x57);
	}
	assert_int_equal(virq_ioapic_pin_stats(&f->io, 15)->deferred, 0);
	assert_int_equal(f->rec.n, 12);
}

static void test_deferred_pin_released_is_not_redelivered(void **state)
{
	struct fx *f = *state;

	set_rte(f, 16, LEVEL | 0x58);
	virq_ioapic_set_irq(&f->io, 16, 1);
	for (int i = 0; i < 5; i++)
		virq_ioapic_eoi(&f->io, 0x58);
	assert_true(virq_ioapic_next_deadline(&f->io, NULL));
	virq_ioapic_set_irq(&f->io, 16, 0);
	assert_false(virq_ioapic_next_deadline(&f->io, NULL));
	virq_ioapic_tick(&f->io, 0);
	virq_ioapic_tick(&f->io, 1000000);
	assert_int_equal(f->rec.n, 5);
}

static void test_rte_to_msi_follows_split_irqchip_convention(void **state)
{
	struct fx *f = *state;
	uint32_t lo, hi, data;
	uint64_t rte = 0x0500000000000000ull | VIRQ_RTE_DEST_LOGICAL | LEVEL | 1ull << 8 | 0x61;
	struct virq_irq a, b;

	virq_ioapic_rte_to_msi(rte, &lo, &hi, &data);
	assert_int_equal(lo, 0xfee05004);
	assert_int_equal(hi, 0);
	assert_int_equal(data, 0xc161);
	virq_ioapic_rte_to_irq(&f->io, rte, &a);
	assert_int_equal(virq_msi_decode(lo, hi, data, 0, &b), VIRQ_MSI_OK);
	b.path = VIRQ_PATH_IOAPIC;
	assert_memory_equal(&a, &b, sizeof(a));
}

static void test_extended_destination_id_in_rte_bits_55_49(void **state)
{
	static struct fx g;
	struct virq_sink s = { &rec_ops, &g.rec };
	struct virq_ioapic_config cfg;
	uint64_t rte = 0x12ull << 56 | 0x05ull << 49 | 0x62;
	uint32_t lo, hi, data;
	struct virq_irq m;

	memset(&g, 0, sizeof(g));
	g.rec.ret = 1;
	virq_ioapic_config_default(&cfg);
	cfg.flags = VIRQ_IOAPIC_EXT_DEST_ID;
	assert_int_equal(virq_ioapic_init(&g.io, &cfg, &s), 0);
	set_rte(&g, 1, rte);
	assert_int_equal(get_rte(&g, 1), rte);
	virq_ioapic_set_irq(&g.io, 1, 1);
	assert_int_equal(g.rec.last.dest, 0x512);
	assert_int_equal(g.rec.last.x2apic_dest, 1);
	virq_ioapic_rte_to_msi(rte, &lo, &hi, &data);
	assert_int_equal(virq_msi_decode(lo, hi, data, VIRQ_MSI_EXT_DEST_ID, &m), VIRQ_MSI_OK);
	assert_int_equal(m.dest, 0x512);
	(void)state;
}

static void test_save_restore_round_trip_is_identical(void **state)
{
	struct fx *f = *state;
	static struct fx g;
	struct virq_sink s = { &rec_ops, &g.rec };
	static struct virq_ioapic_state a, b;

	set_rte(f, 2, LEVEL | 0x70);
	set_rte(f, 3, 0x0100000000000000ull | 0x71);
	set_rte(f, 4, MASKED | LEVEL | 0x72);
	virq_ioapic_set_irq(&f->io, 2, 1);
	virq_ioapic_set_irq(&f->io, 4, 1);
	for (int i = 0; i < 5; i++)
		virq_ioapic_eoi(&f->io, 0x70);
	virq_ioapic_tick(&f->io, 7);
	wr(f, 0, 0x03000000);
	virq_ioapic_save(&f->io, &a);
	memset(&g, 0, sizeof(g));
	assert_int_equal(virq_ioapic_init(&g.io, &f->io.cfg, &s), 0);
	assert_int_equal(virq_ioapic_restore(&g.io, &a), 0);
	virq_ioapic_save(&g.io, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(g.rec.n, 0);
	assert_int_equal(virq_ioapic_read_rte(&g.io, 2), virq_ioapic_read_rte(&f->io, 2));
	assert_int_equal(virq_ioapic_tick(&g.io, 7 + 1000), 1);
}

static void test_restore_rejects_invalid_snapshots(void **state)
{
	struct fx *f = *state;
	static struct virq_ioapic_state good, bad;

	virq_ioapic_save(&f->io, &good);
	bad = good;
	bad.nr_pins = 48;
	assert_int_equal(virq_ioapic_restore(&f->io, &bad), -EINVAL);
	bad = good;
	bad.rte[0] = VIRQ_RTE_REMOTE_IRR; /* remote IRR on an edge entry */
	assert_int_equal(virq_ioapic_restore(&f->io, &bad), -EINVAL);
	bad = good;
	bad.rte[0] = VIRQ_RTE_DELIVERY_STATUS;
	assert_int_equal(virq_ioapic_restore(&f->io, &bad), -EINVAL);
	bad = good;
	bad.rte[30] = MASKED; /* beyond the 24 pins */
	assert_int_equal(virq_ioapic_restore(&f->io, &bad), -EINVAL);
	bad = good;
	bad.deferred[0] = 1; /* deferred without an asserted level line */
	assert_int_equal(virq_ioapic_restore(&f->io, &bad), -EINVAL);
	bad = good;
	bad.version = 0;
	assert_int_equal(virq_ioapic_restore(&f->io, &bad), -EINVAL);
	assert_int_equal(virq_ioapic_restore(&f->io, &good), 0);
}

static void test_init_rejects_bad_config(void **state)
{
	struct virq_ioapic_config cfg;
	static struct virq_ioapic io;

	virq_ioapic_config_default(&cfg);
	cfg.nr_pins = 121;
	assert_int_equal(virq_ioapic_init(&io, &cfg, NULL), -EINVAL);
	cfg.nr_pins = 24;
	cfg.version = 0x13;
	assert_int_equal(virq_ioapic_init(&io, &cfg, NULL), -EINVAL);
	assert_int_equal(virq_ioapic_init(&io, NULL, NULL), 0);
	assert_int_equal(io.cfg.nr_pins, 24);
	(void)state;
}

static void test_statistics_add_up(void **state)
{
	struct fx *f = *state;
	unsigned int seed = 777;

	for (unsigned int pin = 0; pin < 24; pin++)
		set_rte(f, pin, (pin & 1 ? LEVEL : 0) | (0x40 + pin % 4));
	for (int i = 0; i < 20000; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned int pin = (seed >> 8) % 24, op = (seed >> 16) % 6;

		f->rec.ret = ((seed >> 20) % 5) - 1;
		if (op < 2)
			virq_ioapic_set_irq(&f->io, pin, op);
		else if (op < 4)
			virq_ioapic_eoi(&f->io, 0x40 + pin % 4);
		else if (op == 4)
			virq_ioapic_tick(&f->io, (uint64_t)i * 100);
		else
			set_rte(f, pin, get_rte(f, pin) ^ MASKED);
	}
	uint64_t sent = 0;
	for (unsigned int pin = 0; pin < 24; pin++) {
		const struct virq_ioapic_pin_stats *st = virq_ioapic_pin_stats(&f->io, pin);

		assert_int_equal(st->delivered + st->coalesced + st->ignored, st->sent);
		assert_true(st->redelivered <= st->sent);
		sent += st->sent;
	}
	assert_int_equal(sent, (uint64_t)f->rec.n);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup(fn, setup)
	const struct CMUnitTest tests[] = {
		T(test_version_register_reports_max_redirection_entry),
		cmocka_unit_test_setup(test_version_0x20_with_120_pins_has_eoi_register, setup_v20),
		T(test_eoi_register_absent_in_version_0x11),
		T(test_out_of_range_index_reads_all_ones_and_ignores_writes),
		T(test_reset_masks_every_entry),
		T(test_delivery_status_and_remote_irr_are_read_only),
		T(test_edge_pin_delivers_rte_message_on_rising_edge),
		T(test_edge_on_masked_pin_is_discarded),
		T(test_level_delivery_sets_remote_irr_until_eoi_broadcast),
		T(test_eoi_redelivers_while_level_line_still_asserted),
		T(test_rewriting_entry_as_edge_clears_remote_irr),
		T(test_masked_level_pin_held_delivers_at_unmask),
		T(test_masked_level_pin_released_before_unmask_stays_silent),
		T(test_remote_irr_not_set_when_no_apic_accepts),
		T(test_storm_guard_defers_after_threshold_and_tick_redelivers),
		T(test_storm_streak_resets_when_line_drops),
		T(test_deferred_pin_released_is_not_redelivered),
		T(test_rte_to_msi_follows_split_irqchip_convention),
		T(test_extended_destination_id_in_rte_bits_55_49),
		T(test_save_restore_round_trip_is_identical),
		T(test_restore_rejects_invalid_snapshots),
		T(test_init_rejects_bad_config),
		T(test_statistics_add_up),
	};
#undef T
	return cmocka_run_group_tests_name("ioapic", tests, NULL, NULL);
}
