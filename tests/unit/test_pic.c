// SPDX-License-Identifier: MIT
/* The 8259A PIC pair against the Intel 8259A datasheet (231468) and the PIIX4 ELCR. */
#include "virq_test.h"
#include "virq/pic.h"
#include <errno.h>
#include <string.h>

struct rec {
	int pic_changes;
	bool pic_level;
};

static void rec_pic_int(void *o, bool level)
{
	struct rec *r = o;

	r->pic_changes++;
	r->pic_level = level;
}

static const struct virq_sink_ops rec_ops = { .pic_int = rec_pic_int };

struct fx {
	struct virq_pic pic;
	struct rec rec;
};

static void outb(struct fx *f, uint16_t port, uint8_t v)
{
	assert_int_equal(virq_pic_ioport_write(&f->pic, port, v), 0);
}

/* The classic PC programming: master base 0x20, slave base 0x28 on IR2, 8086 mode. */
static void pc_init(struct fx *f, uint8_t icw4_master, uint8_t icw4_slave)
{
	outb(f, 0x20, 0x11);
	outb(f, 0x21, 0x20);
	outb(f, 0x21, 0x04);
	outb(f, 0x21, icw4_master);
	outb(f, 0xa0, 0x11);
	outb(f, 0xa1, 0x28);
	outb(f, 0xa1, 0x02);
	outb(f, 0xa1, icw4_slave);
}

static int setup(void **state)
{
	static struct fx f;
	struct virq_sink s = { &rec_ops, &f.rec };

	memset(&f, 0, sizeof(f));
	virq_pic_init(&f.pic, &s);
	pc_init(&f, 0x01, 0x01);
	*state = &f;
	return 0;
}

static void pulse(struct fx *f, unsigned int pin)
{
	virq_pic_set_irq(&f->pic, pin, 1);
	virq_pic_set_irq(&f->pic, pin, 0);
}

static void test_icw_sequence_sets_vector_bases_and_cascade(void **state)
{
	struct fx *f = *state;

	pulse(f, 1);
	assert_true(virq_pic_int_output(&f->pic));
	assert_int_equal(virq_pic_inta(&f->pic), 0x21);
	outb(f, 0x20, 0x20);
	pulse(f, 10);
	assert_int_equal(virq_pic_inta(&f->pic), 0x2a);
	outb(f, 0x20, 0x0b); /* OCW3 read ISR */
	outb(f, 0xa0, 0x0b);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x20), 0x04); /* cascade in service */
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0xa0), 0x04); /* slave IR2 = IRQ10 */
}

/* Fully nested mode: IR0 highest; slave requests rank at master IR2's place. */
static void test_fully_nested_priority_puts_slave_between_ir1_and_ir3(void **state)
{
	struct fx *f = *state;

	pulse(f, 3);
	pulse(f, 10);
	pulse(f, 1);
	assert_int_equal(virq_pic_inta(&f->pic), 0x21);
	assert_false(virq_pic_int_output(&f->pic)); /* IR1 in service blocks 2 and 3 */
	outb(f, 0x20, 0x20);
	assert_int_equal(virq_pic_inta(&f->pic), 0x2a);
	outb(f, 0xa0, 0x20);
	outb(f, 0x20, 0x20);
	assert_int_equal(virq_pic_inta(&f->pic), 0x23);
	assert_false(virq_pic_int_output(&f->pic));
}

static void test_higher_priority_request_preempts_in_service_level(void **state)
{
	struct fx *f = *state;

	pulse(f, 5);
	assert_int_equal(virq_pic_inta(&f->pic), 0x25);
	pulse(f, 6);
	assert_false(virq_pic_int_output(&f->pic));
	pulse(f, 4);
	assert_true(virq_pic_int_output(&f->pic));
	assert_int_equal(virq_pic_inta(&f->pic), 0x24);
	outb(f, 0x20, 0x20); /* non-specific EOI clears the highest: IR4 */
	outb(f, 0x20, 0x0b);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x20), 0x20);
}

static void test_edge_irr_sets_only_on_low_to_high_transition(void **state)
{
	struct fx *f = *state;

	assert_int_equal(virq_pic_set_irq(&f->pic, 1, 1), 1);
	assert_int_equal(virq_pic_inta(&f->pic), 0x21);
	outb(f, 0x20, 0x20);
	virq_pic_set_irq(&f->pic, 1, 1); /* still high: no new edge */
	assert_false(virq_pic_int_output(&f->pic));
	virq_pic_set_irq(&f->pic, 1, 0);
	virq_pic_set_irq(&f->pic, 1, 1);
	assert_true(virq_pic_int_output(&f->pic));
	assert_int_equal(virq_pic_pin_stats(&f->pic, 1)->asserted, 2);
}

static void test_edge_assert_while_pending_is_coalesced(void **state)
{
	struct fx *f = *state;

	assert_int_equal(virq_pic_set_irq(&f->pic, 4, 1), 1);
	virq_pic_set_irq(&f->pic, 4, 0);
	assert_int_equal(virq_pic_set_irq(&f->pic, 4, 1), VIRQ_RES_COALESCED);
	assert_int_equal(virq_pic_pin_stats(&f->pic, 4)->coalesced, 1);
	assert_int_equal(virq_pic_inta(&f->pic), 0x24);
	outb(f, 0x20, 0x20);
	assert_false(virq_pic_int_output(&f->pic));
}

static void test_level_pin_reasserts_after_eoi_while_line_high(void **state)
{
	struct fx *f = *state;

	outb(f, 0x4d0, 0x08); /* IRQ3 level */
	virq_pic_set_irq(&f->pic, 3, 1);
	assert_int_equal(virq_pic_inta(&f->pic), 0x23);
	assert_false(virq_pic_int_output(&f->pic));
	outb(f, 0x20, 0x63); /* specific EOI IR3 */
	assert_true(virq_pic_int_output(&f->pic));
	assert_int_equal(virq_pic_inta(&f->pic), 0x23);
	outb(f, 0x20, 0x63);
	virq_pic_set_irq(&f->pic, 3, 0);
	assert_false(virq_pic_int_output(&f->pic));
	assert_int_equal(virq_pic_pin_stats(&f->pic, 3)->delivered, 2);
	assert_int_equal(virq_pic_pin_stats(&f->pic, 3)->asserted, 1);
}

static void test_elcr_fixed_edge_pins_read_as_zero(void **state)
{
	struct fx *f = *state;

	outb(f, 0x4d0, 0xff);
	outb(f, 0x4d1, 0xff);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x4d0), 0xf8);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x4d1), 0xde);
}

static void test_edge_to_level_switch_makes_irr_follow_line(void **state)
{
	struct fx *f = *state;

	outb(f, 0x21, 0xff); /* mask all: keep requests in IRR */
	pulse(f, 5); /* latched edge, line now low */
	virq_pic_set_irq(&f->pic, 6, 1); /* latched edge, line high */
	outb(f, 0x4d0, 0x60);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x20) & 0x60, 0x40);
	assert_int_equal(virq_pic_pin_stats(&f->pic, 5)->dropped, 1);
	virq_pic_set_irq(&f->pic, 6, 0);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x20) & 0x60, 0x00);
}

static void test_level_request_gone_before_inta_gives_spurious_ir7(void **state)
{
	struct fx *f = *state;

	outb(f, 0x4d0, 0x10);
	virq_pic_set_irq(&f->pic, 4, 1);
	assert_true(virq_pic_int_output(&f->pic));
	virq_pic_set_irq(&f->pic, 4, 0);
	assert_int_equal(virq_pic_inta(&f->pic), 0x27);
	outb(f, 0x20, 0x0b);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x20), 0); /* no ISR bit for IR7 */
	assert_int_equal(virq_pic_pin_stats(&f->pic, 7)->spurious, 1);
	assert_int_equal(virq_pic_pin_stats(&f->pic, 7)->delivered, 0);
}

static void test_slave_request_gone_gives_spurious_ir15_with_cascade_in_service(void **state)
{
	struct fx *f = *state;

	outb(f, 0x4d1, 0x08); /* IRQ11 level */
	virq_pic_set_irq(&f->pic, 11, 1);
	virq_pic_set_irq(&f->pic, 11, 0);
	assert_int_equal(virq_pic_inta(&f->pic), 0x2f);
	outb(f, 0x20, 0x0b);
	outb(f, 0xa0, 0x0b);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x20), 0x04);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0xa0), 0x00);
	assert_int_equal(virq_pic_pin_stats(&f->pic, 15)->spurious, 1);
}

static void test_rotate_on_nonspecific_eoi_makes_serviced_level_lowest(void **state)
{
	struct fx *f = *state;

	pulse(f, 0);
	assert_int_equal(virq_pic_inta(&f->pic), 0x20);
	outb(f, 0x20, 0xa0); /* rotate on non-specific EOI */
	pulse(f, 0);
	pulse(f, 1);
	assert_int_equal(virq_pic_inta(&f->pic), 0x21); /* IR0 is now lowest */
	outb(f, 0x20, 0x20);
	assert_int_equal(virq_pic_inta(&f->pic), 0x20);
}

static void test_set_priority_command_makes_level_lowest(void **state)
{
	struct fx *f = *state;

	outb(f, 0x20, 0xc4); /* IR4 lowest, IR5 highest */
	pulse(f, 3);
	pulse(f, 5);
	assert_int_equal(virq_pic_inta(&f->pic), 0x25);
	pulse(f, 7); /* IR7 outranks IR3 now, but not IR5 in service */
	assert_false(virq_pic_int_output(&f->pic));
	outb(f, 0x20, 0xe5); /* rotate on specific EOI IR5: IR6 highest */
	assert_int_equal(virq_pic_inta(&f->pic), 0x27);
}

static void test_auto_eoi_leaves_isr_clear_and_rotates_when_set(void **state)
{
	struct fx *f = *state;

	pc_init(f, 0x03, 0x01); /* master AEOI */
	outb(f, 0x20, 0x80); /* rotate in AEOI mode: set */
	pulse(f, 0);
	assert_int_equal(virq_pic_inta(&f->pic), 0x20);
	outb(f, 0x20, 0x0b);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x20), 0);
	pulse(f, 0);
	pulse(f, 1);
	assert_int_equal(virq_pic_inta(&f->pic), 0x21);
	outb(f, 0x20, 0x00); /* rotate in AEOI mode: clear; IR1 stays lowest */
	pulse(f, 1);
	assert_int_equal(virq_pic_inta(&f->pic), 0x20);
	assert_int_equal(virq_pic_inta(&f->pic), 0x21);
	assert_int_equal(virq_pic_pin_stats(&f->pic, 0)->eoi, 2);
}

static void test_ocw3_selects_irr_or_isr_and_data_port_reads_imr(void **state)
{
	struct fx *f = *state;

	outb(f, 0x21, 0xf0);
	pulse(f, 2 + 1);
	pulse(f, 6);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x20), 0x48); /* IRR after ICW1 */
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x21), 0xf0);
	assert_int_equal(virq_pic_inta(&f->pic), 0x23);
	outb(f, 0x20, 0x0b);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x20), 0x08);
	outb(f, 0x20, 0x0a);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x20), 0x40);
}

static void test_poll_command_returns_level_and_acknowledges(void **state)
{
	struct fx *f = *state;

	pulse(f, 5);
	outb(f, 0x20, 0x0c);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x20), 0x85);
	assert_false(virq_pic_int_output(&f->pic));
	outb(f, 0x20, 0x0b);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x20), 0x20);
	outb(f, 0x20, 0x0c);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x20), 0x00); /* nothing: I = 0 */
	assert_int_equal(virq_pic_pin_stats(&f->pic, 5)->delivered, 1);
}

static void test_special_mask_mode_enables_lower_levels(void **state)
{
	struct fx *f = *state;

	pulse(f, 3);
	assert_int_equal(virq_pic_inta(&f->pic), 0x23);
	outb(f, 0x21, 0x08); /* mask the level in service */
	pulse(f, 5);
	assert_false(virq_pic_int_output(&f->pic)); /* fully nested: ISR3 blocks IR5 */
	outb(f, 0x20, 0x68); /* set special mask */
	assert_true(virq_pic_int_output(&f->pic));
	assert_int_equal(virq_pic_inta(&f->pic), 0x25);
	outb(f, 0x20, 0x65);
	outb(f, 0x20, 0x48); /* reset special mask: ISR3 blocks again */
	pulse(f, 6);
	assert_false(virq_pic_int_output(&f->pic));
}

static void test_special_fully_nested_mode_lets_higher_slave_request_through(void **state)
{
	struct fx *f = *state;

	pulse(f, 12);
	assert_int_equal(virq_pic_inta(&f->pic), 0x2c);
	pulse(f, 9);
	assert_false(virq_pic_int_output(&f->pic)); /* normal nesting: cascade in service */
	pc_init(f, 0x11, 0x01); /* master SFNM */
	pulse(f, 12);
	assert_int_equal(virq_pic_inta(&f->pic), 0x2c);
	pulse(f, 9);
	assert_true(virq_pic_int_output(&f->pic));
	assert_int_equal(virq_pic_inta(&f->pic), 0x29);
	assert_int_equal(virq_pic_pin_stats(&f->pic, 2)->nested, 1);
}

static void test_int_output_reported_to_sink_on_every_change(void **state)
{
	struct fx *f = *state;
	int before = f->rec.pic_changes;

	pulse(f, 1);
	assert_true(f->rec.pic_level);
	pulse(f, 4);
	assert_int_equal(f->rec.pic_changes, before + 1);
	virq_pic_inta(&f->pic);
	assert_false(f->rec.pic_level);
	assert_int_equal(f->rec.pic_changes, before + 2);
	outb(f, 0x20, 0x20);
	assert_true(f->rec.pic_level);
	assert_int_equal(f->pic.int_changes, (uint64_t)f->rec.pic_changes);
}

static void test_masked_pin_reports_ebusy_and_stays_latched(void **state)
{
	struct fx *f = *state;

	outb(f, 0x21, 0x02);
	assert_int_equal(virq_pic_set_irq(&f->pic, 1, 1), -EBUSY);
	assert_false(virq_pic_int_output(&f->pic));
	assert_int_equal(virq_pic_pin_stats(&f->pic, 1)->masked, 1);
	outb(f, 0x21, 0x00);
	assert_int_equal(virq_pic_inta(&f->pic), 0x21);
	assert_int_equal(virq_pic_set_irq(&f->pic, 16, 1), -EINVAL);
	assert_int_equal(virq_pic_ioport_write(&f->pic, 0x22, 0), -EINVAL);
}

static void test_mask_after_int_raised_gives_spurious_ir7(void **state)
{
	struct fx *f = *state;

	pulse(f, 6);
	outb(f, 0x21, 0x40);
	assert_int_equal(virq_pic_inta(&f->pic), 0x27);
}

static void test_icw1_abandons_in_service_and_needs_new_edge(void **state)
{
	struct fx *f = *state;

	virq_pic_set_irq(&f->pic, 1, 1);
	assert_int_equal(virq_pic_inta(&f->pic), 0x21);
	virq_pic_set_irq(&f->pic, 3, 1);
	outb(f, 0x21, 0x08);
	pc_init(f, 0x01, 0x01);
	assert_int_equal(virq_pic_pin_stats(&f->pic, 1)->abandoned, 1);
	assert_int_equal(virq_pic_pin_stats(&f->pic, 3)->dropped, 1);
	assert_int_equal(virq_pic_ioport_read(&f->pic, 0x21), 0); /* IMR cleared */
	assert_false(virq_pic_int_output(&f->pic));
	virq_pic_set_irq(&f->pic, 3, 1); /* still high: no edge */
	assert_false(virq_pic_int_output(&f->pic));
}

static void test_single_mode_skips_icw3_and_disables_cascade(void **state)
{
	struct fx *f = *state;

	outb(f, 0x20, 0x13); /* SNGL, IC4 */
	outb(f, 0x21, 0x40);
	outb(f, 0x21, 0x01); /* this is ICW4, not ICW3 */
	outb(f, 0x21, 0x00); /* OCW1 */
	pulse(f, 10);
	assert_false(virq_pic_int_output(&f->pic));
	pulse(f, 2);
	assert_int_equal(virq_pic_inta(&f->pic), 0x42);
}

static void test_save_restore_round_trip_is_identical(void **state)
{
	struct fx *f = *state;
	struct fx g;
	struct virq_sink s = { &rec_ops, &g.rec };
	struct virq_pic_state a, b;

	outb(f, 0x4d1, 0x20 | 0x08);
	virq_pic_set_irq(&f->pic, 11, 1);
	pulse(f, 4);
	pulse(f, 6);
	virq_pic_inta(&f->pic);
	outb(f, 0x20, 0xc2);
	outb(f, 0x21, 0x10);
	outb(f, 0x20, 0x0b);
	virq_pic_save(&f->pic, &a);
	memset(&g, 0, sizeof(g));
	virq_pic_init(&g.pic, &s);
	assert_int_equal(virq_pic_restore(&g.pic, &a), 0);
	virq_pic_save(&g.pic, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(g.rec.pic_level, f->rec.pic_level);
	assert_int_equal(virq_pic_inta(&g.pic), virq_pic_inta(&f->pic));
	assert_int_equal(virq_pic_ioport_read(&g.pic, 0x20), virq_pic_ioport_read(&f->pic, 0x20));
}

static void test_restore_rejects_invalid_snapshots(void **state)
{
	struct fx *f = *state;
	struct virq_pic_state good, bad;

	virq_pic_save(&f->pic, &good);
	bad = good;
	bad.version = 2;
	assert_int_equal(virq_pic_restore(&f->pic, &bad), -EINVAL);
	bad = good;
	bad.chip[0].elcr = 0x01; /* IRQ0 is hard-wired edge */
	assert_int_equal(virq_pic_restore(&f->pic, &bad), -EINVAL);
	bad = good;
	bad.chip[1].base = 0x29;
	assert_int_equal(virq_pic_restore(&f->pic, &bad), -EINVAL);
	bad = good;
	bad.chip[0].elcr = 0x08; /* IRQ3 level, line low, IRR set */
	bad.chip[0].irr = 0x08;
	assert_int_equal(virq_pic_restore(&f->pic, &bad), -EINVAL);
	bad = good;
	bad.chip[1].init_state = 4;
	assert_int_equal(virq_pic_restore(&f->pic, &bad), -EINVAL);
	assert_int_equal(virq_pic_restore(&f->pic, &good), 0);
}

/* delivered == eoi + abandoned + ISR bit; for edge pins every rising edge is either
 * coalesced, delivered, dropped or still pending. */
static void test_statistics_add_up(void **state)
{
	struct fx *f = *state;
	unsigned int seed = 12345;

	for (int i = 0; i < 5000; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned int pin = (seed >> 8) % 16, op = (seed >> 16) % 8;

		if (pin == 2)
			continue;
		if (op < 4)
			pulse(f, pin);
		else if (op < 6)
			virq_pic_inta(&f->pic);
		else if (op == 6)
			outb(f, 0x20, 0x20);
		else
			outb(f, 0xa0, 0x20);
	}
	for (unsigned int pin = 0; pin < 16; pin++) {
		const struct virq_pic_pin_stats *st = virq_pic_pin_stats(&f->pic, pin);
		const struct virq_pic_chip *c = &f->pic.chip[pin / 8];
		uint8_t bit = 1u << (pin % 8);

		assert_int_equal(st->delivered,
				 st->eoi + st->abandoned + st->nested + !!(c->isr & bit));
		if (pin != 2)
			assert_int_equal(st->asserted, st->coalesced + st->delivered + st->dropped +
							       !!(c->irr & bit));
	}
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup(fn, setup)
	const struct CMUnitTest tests[] = {
		T(test_icw_sequence_sets_vector_bases_and_cascade),
		T(test_fully_nested_priority_puts_slave_between_ir1_and_ir3),
		T(test_higher_priority_request_preempts_in_service_level),
		T(test_edge_irr_sets_only_on_low_to_high_transition),
		T(test_edge_assert_while_pending_is_coalesced),
		T(test_level_pin_reasserts_after_eoi_while_line_high),
		T(test_elcr_fixed_edge_pins_read_as_zero),
		T(test_edge_to_level_switch_makes_irr_follow_line),
		T(test_level_request_gone_before_inta_gives_spurious_ir7),
		T(test_slave_request_gone_gives_spurious_ir15_with_cascade_in_service),
		T(test_rotate_on_nonspecific_eoi_makes_serviced_level_lowest),
		T(test_set_priority_command_makes_level_lowest),
		T(test_auto_eoi_leaves_isr_clear_and_rotates_when_set),
		T(test_ocw3_selects_irr_or_isr_and_data_port_reads_imr),
		T(test_poll_command_returns_level_and_acknowledges),
		T(test_special_mask_mode_enables_lower_levels),
		T(test_special_fully_nested_mode_lets_higher_slave_request_through),
		T(test_int_output_reported_to_sink_on_every_change),
		T(test_masked_pin_reports_ebusy_and_stays_latched),
		T(test_mask_after_int_raised_gives_spurious_ir7),
		T(test_icw1_abandons_in_service_and_needs_new_edge),
		T(test_single_mode_skips_icw3_and_disables_cascade),
		T(test_save_restore_round_trip_is_identical),
		T(test_restore_rejects_invalid_snapshots),
		T(test_statistics_add_up),
	};
#undef T
	return cmocka_run_group_tests_name("pic", tests, NULL, NULL);
}
