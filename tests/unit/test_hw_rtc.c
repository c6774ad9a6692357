// SPDX-License-Identifier: MIT
/* The MC146818A RTC and CMOS against the Motorola datasheet, and QEMU/SeaBIOS CMOS bytes. */
#include "virq_test.h"
#include "virq/rtc.h"
#include <string.h>

#define MS 1000000ull
#define S 1000000000ull

struct rec {
	int sets, rises, level;
};

static void rec_set(void *o, uint32_t line, int level)
{
	struct rec *r = o;

	assert_int_equal(line, 8);
	r->sets++;
	r->rises += level && !r->level;
	r->level = level;
}

static const struct virq_hw_line_ops rec_ops = { .set_line = rec_set };
static struct virq_rtc rtc;
static struct rec rec;

/* 2023-11-14 22:13:20 UTC, a Tuesday */
static void setup_rtc(uint64_t below, uint64_t above)
{
	struct virq_rtc_config cfg = {
		.epoch_s = 1700000000, .ram_below_4g = below, .ram_above_4g = above, .ncpus = 4
	};
	struct virq_hw_line l = { &rec_ops, &rec };

	memset(&rec, 0, sizeof(rec));
	virq_rtc_init(&rtc, &cfg, &l, 0);
}

static uint8_t rd(uint8_t idx, uint64_t t)
{
	virq_rtc_write(&rtc, 0x70, idx, t);
	return virq_rtc_read(&rtc, 0x71, t);
}

static void wr(uint8_t idx, uint8_t v, uint64_t t)
{
	virq_rtc_write(&rtc, 0x70, idx, t);
	virq_rtc_write(&rtc, 0x71, v, t);
}

static void test_time_bcd_binary_12h(void **state)
{
	setup_rtc(128 << 20, 0);
	assert_int_equal(rd(0x00, 0), 0x20);
	assert_int_equal(rd(0x02, 0), 0x13);
	assert_int_equal(rd(0x04, 0), 0x22);
	assert_int_equal(rd(0x06, 0), 3); /* Tuesday, 1 = Sunday */
	assert_int_equal(rd(0x07, 0), 0x14);
	assert_int_equal(rd(0x08, 0), 0x11);
	assert_int_equal(rd(0x09, 0), 0x23);
	assert_int_equal(rd(0x32, 0), 0x20);
	wr(0x0b, 0x02 | 0x04, 0); /* binary */
	assert_int_equal(rd(0x00, 0), 20);
	assert_int_equal(rd(0x04, 0), 22);
	assert_int_equal(rd(0x09, 0), 23);
	wr(0x0b, 0x00, 0); /* BCD, 12 h: 22 h is 10 PM */
	assert_int_equal(rd(0x04, 0), 0x80 | 0x10);
	wr(0x04, 0x12, 0); /* 12 AM is midnight */
	wr(0x0b, 0x02, 0);
	assert_int_equal(rd(0x04, 0), 0x00);
	wr(0x0b, 0x00, 0);
	wr(0x04, 0x80 | 0x12, 0); /* 12 PM is noon */
	wr(0x0b, 0x02, 0);
	assert_int_equal(rd(0x04, 0), 0x12);
}

static void test_update_cycle_and_uip(void **state)
{
	setup_rtc(128 << 20, 0);
	assert_int_equal(rd(0x0a, 0), 0x26);
	assert_int_equal(rd(0x0a, 500 * MS - 245000) & 0x80, 0);
	assert_int_equal(rd(0x0a, 500 * MS - 244000) & 0x80, 0x80);
	assert_int_equal(rd(0x00, 500 * MS - 1), 0x20);
	assert_int_equal(rd(0x0a, 500 * MS) & 0x80, 0);
	assert_int_equal(rd(0x00, 500 * MS), 0x21);
	assert_int_equal(rd(0x00, 500 * MS + 40 * S), 0x01); /* 22:14:01 */
	assert_int_equal(rd(0x02, 500 * MS + 40 * S), 0x14);
	/* no interrupt enabled: flags set, IRQ 8 quiet */
	assert_int_equal(rec.sets, 0);
	assert_int_equal(rd(0x0c, 500 * MS + 40 * S) & 0x70, 0x50); /* PF and UF */
}

static void test_update_ended_interrupt_and_register_c(void **state)
{
	setup_rtc(128 << 20, 0);
	wr(0x0b, 0x02 | 0x10, 0);
	assert_int_equal(virq_rtc_next_event(&rtc, 0), 500 * MS);
	virq_rtc_advance(&rtc, 500 * MS - 1);
	assert_int_equal(rec.level, 0);
	virq_rtc_advance(&rtc, 500 * MS);
	assert_int_equal(rec.level, 1);
	assert_int_equal(rd(0x0c, 500 * MS) & 0xb0, 0x90);
	assert_int_equal(rec.level, 0);
	assert_int_equal(rd(0x0c, 500 * MS), 0); /* read cleared it */
	assert_int_equal(rtc.stats.irqs, 1);
	/* SET stops updates and clears UIE */
	wr(0x0b, 0x80 | 0x10 | 0x02, 600 * MS);
	assert_int_equal(rd(0x0b, 600 * MS), 0x82);
	assert_int_equal(rd(0x00, 5 * S), 0x21);
	wr(0x0b, 0x02, 5 * S);
	assert_int_equal(rd(0x00, 5500 * MS), 0x22);
	assert_int_equal(rd(0x0d, 0), 0x80);
}

static void test_alarm_with_dont_care(void **state)
{
	setup_rtc(128 << 20, 0);
	wr(0x01, 0x25, 0);
	wr(0x03, 0xc0, 0);
	wr(0x05, 0xff, 0);
	wr(0x0b, 0x02 | 0x20, 0);
	/* seconds 21, 22, 23, 24 at 0.5-3.5 s; 25 at 4.5 s */
	assert_int_equal(virq_rtc_next_event(&rtc, 0), 500 * MS);
	virq_rtc_advance(&rtc, 4500 * MS - 1);
	assert_int_equal(rec.level, 0);
	virq_rtc_advance(&rtc, 4500 * MS);
	assert_int_equal(rec.level, 1);
	assert_int_equal(rd(0x0c, 4500 * MS) & 0xb0, 0x80 | 0x20 | 0x10); /* PF runs too */
	/* a minute later the seconds match again: with minutes and hours don't-care */
	virq_rtc_advance(&rtc, 64500 * MS - 1);
	assert_int_equal(rec.level, 0);
	virq_rtc_advance(&rtc, 64500 * MS);
	assert_int_equal(rec.level, 1);
	/* a minute that does not match: no alarm */
	rd(0x0c, 64500 * MS);
	wr(0x03, 0x59, 64500 * MS);
	virq_rtc_advance(&rtc, 124500 * MS);
	assert_int_equal(rec.level, 0);
	assert_int_equal(rtc.stats.alarms, 2);
}

static void test_periodic_rate_and_coalescing(void **state)
{
	setup_rtc(128 << 20, 0);
	wr(0x0b, 0x02 | 0x40, 0);
	/* RS 6: 1024 Hz, 976.5625 us */
	assert_int_equal(virq_rtc_period_ns(&rtc), 976562);
	assert_int_equal(virq_rtc_next_event(&rtc, 0), 976563);
	virq_rtc_advance(&rtc, 976562);
	assert_int_equal(rec.level, 0);
	virq_rtc_advance(&rtc, 976563);
	assert_int_equal(rec.level, 1);
	assert_int_equal(rd(0x0c, 976563) & 0xc0, 0xc0);
	assert_int_equal(rec.level, 0);
	/* 10 periods without reading C: one assertion, 9 coalesced */
	virq_rtc_advance(&rtc, 11 * 976563);
	assert_int_equal(rtc.stats.coalesced, 9);
	assert_int_equal(rec.rises, 2);
	/* RS 15: 500 ms; RS 3: 122.07 us; RS 0: none */
	wr(0x0a, 0x2f, 12 * MS);
	assert_int_equal(virq_rtc_period_ns(&rtc), 500 * MS);
	wr(0x0a, 0x23, 12 * MS);
	assert_int_equal(virq_rtc_period_ns(&rtc), 122070);
	wr(0x0a, 0x20, 12 * MS);
	assert_int_equal(virq_rtc_next_event(&rtc, 12 * MS), UINT64_MAX);
}

static void test_divider_reset_delays_first_update(void **state)
{
	setup_rtc(128 << 20, 0);
	wr(0x0a, 0x76, 100 * MS); /* DV = 111: held in reset */
	assert_int_equal(rd(0x00, 3 * S), 0x20);
	wr(0x0a, 0x26, 3 * S);
	assert_int_equal(rd(0x00, 3500 * MS - 1), 0x20);
	assert_int_equal(rd(0x00, 3500 * MS), 0x21);
}

static void test_calendar_rollover_leap_day(void **state)
{
	setup_rtc(128 << 20, 0);
	wr(0x0b, 0x86, 0); /* SET, binary, 24 h */
	wr(0x00, 59, 0);
	wr(0x02, 59, 0);
	wr(0x04, 23, 0);
	wr(0x07, 28, 0);
	wr(0x08, 2, 0);
	wr(0x09, 24, 0);
	wr(0x0b, 0x06, 0);
	assert_int_equal(rd(0x07, 500 * MS), 29); /* 2024 is a leap year */
	assert_int_equal(rd(0x08, 500 * MS), 2);
	assert_int_equal(rd(0x04, 500 * MS), 0);
	assert_int_equal(rd(0x06, 500 * MS), 4);
}

static void test_cmos_ram_nmi_and_memory_bytes(void **state)
{
	setup_rtc(512ull << 20, 1ull << 30);
	assert_int_equal(rd(0x15, 0) | rd(0x16, 0) << 8, 640);
	assert_int_equal(rd(0x17, 0) | rd(0x18, 0) << 8, 0xffff); /* capped */
	assert_int_equal(rd(0x30, 0) | rd(0x31, 0) << 8, 0xffff);
	assert_int_equal(rd(0x34, 0) | rd(0x35, 0) << 8, (512 - 16) * 16);
	assert_int_equal(rd(0x5b, 0) | rd(0x5c, 0) << 8 | rd(0x5d, 0) << 16, 16384);
	assert_int_equal(rd(0x5f, 0), 3);
	setup_rtc(8ull << 20, 0);
	assert_int_equal(rd(0x17, 0) | rd(0x18, 0) << 8, 7 * 1024);
	assert_int_equal(rd(0x34, 0) | rd(0x35, 0) << 8, 0);
	virq_rtc_write(&rtc, 0x70, 0x80 | 0x40, 0);
	assert_true(rtc.nmi_disabled);
	virq_rtc_write(&rtc, 0x71, 0x5a, 0);
	virq_rtc_write(&rtc, 0x70, 0x40, 0);
	assert_false(rtc.nmi_disabled);
	assert_int_equal(virq_rtc_read(&rtc, 0x71, 0), 0x5a);
	assert_int_equal(virq_rtc_read(&rtc, 0x70, 0), 0xff);
}

int main(void)
{
#define T(f) cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(test_time_bcd_binary_12h),
		T(test_update_cycle_and_uip),
		T(test_update_ended_interrupt_and_register_c),
		T(test_alarm_with_dont_care),
		T(test_periodic_rate_and_coalescing),
		T(test_divider_reset_delays_first_update),
		T(test_calendar_rollover_leap_day),
		T(test_cmos_ram_nmi_and_memory_bytes),
	};
#undef T
	return cmocka_run_group_tests_name("hw_rtc", tests, NULL, NULL);
}
