// SPDX-License-Identifier: MIT
/* The 8254 PIT against the Intel 8254 datasheet (231164), and port 0x61 as Linux uses it. */
#include "virq_test.h"
#include "virq/hw.h"
#include "virq/pit.h"
#include "virq/pic.h"
#include "virq/router.h"
#include <string.h>

/* The first ns at which k PIT CLKs have elapsed (computed here independently). */
static uint64_t T(uint64_t k)
{
	return (k * 1000000000ull + VIRQ_PIT_HZ - 1) / VIRQ_PIT_HZ;
}

struct rec {
	int sets, rises;
	int level;
};

static void rec_set(void *o, uint32_t line, int level)
{
	struct rec *r = o;

	assert_int_equal(line, 0);
	r->sets++;
	if (level && !r->level)
		r->rises++;
	r->level = level;
}

static const struct virq_hw_line_ops rec_ops = { .set_line = rec_set };
static struct virq_pit pit;
static struct rec rec;

static void setup_pit(void)
{
	struct virq_hw_line l = { &rec_ops, &rec };

	memset(&rec, 0, sizeof(rec));
	virq_pit_init(&pit, &l, 0);
}

/* counter, mode, LSB-then-MSB binary, count, at time t */
static void program(unsigned int c, unsigned int mode, uint16_t count, uint64_t t)
{
	virq_pit_write(&pit, 0x43, (uint8_t)((c << 6) | 0x30 | (mode << 1)), t);
	virq_pit_write(&pit, (uint16_t)(0x40 + c), (uint8_t)count, t);
	virq_pit_write(&pit, (uint16_t)(0x40 + c), (uint8_t)(count >> 8), t);
}

static void test_mode0_interrupt_on_terminal_count(void **state)
{
	setup_pit();
	virq_pit_write(&pit, 0x43, 0x30, 0);
	assert_false(virq_pit_out(&pit, 0, 0));
	virq_pit_write(&pit, 0x40, 100, 1000);
	/* first byte written: not counting yet */
	assert_int_equal(virq_pit_next_event(&pit, 1000), UINT64_MAX);
	virq_pit_write(&pit, 0x40, 0, 1000);
	assert_int_equal(virq_pit_next_event(&pit, 1000), 1000 + T(100));
	assert_false(virq_pit_out(&pit, 0, 1000 + T(100) - 1));
	assert_true(virq_pit_out(&pit, 0, 1000 + T(100)));
	assert_true(virq_pit_out(&pit, 0, 1000 + T(100000)));
	virq_pit_advance(&pit, 1000 + T(100) - 1);
	assert_int_equal(rec.rises, 0);
	virq_pit_advance(&pit, 1000 + T(100));
	assert_int_equal(rec.rises, 1);
	virq_pit_advance(&pit, 1000 + T(300000));
	assert_int_equal(rec.rises, 1); /* one shot: no more edges */
	assert_int_equal(virq_pit_next_event(&pit, 1000 + T(300000)), UINT64_MAX);
	/* after terminal count the counter wraps on: 100 - 150 = -50 */
	assert_int_equal(virq_pit_count(&pit, 0, 1000 + T(150)), 0x10000 - 50);
	/* a new control word sets OUT low again, and IRQ 0 follows */
	virq_pit_write(&pit, 0x43, 0x30, 1000 + T(300001));
	assert_int_equal(rec.level, 0);
}

static void test_mode0_gate_low_suspends_counting(void **state)
{
	setup_pit();
	program(2, 0, 10, 0); /* counter 2: gate low (port 0x61 bit 0 clear) */
	assert_false(virq_pit_out(&pit, 2, T(50)));
	virq_pit_write(&pit, 0x61, 0x01, T(50));
	assert_false(virq_pit_out(&pit, 2, T(50) + T(4)));
	virq_pit_write(&pit, 0x61, 0x00, T(50) + T(4)); /* 4 counted, suspended again */
	assert_int_equal(virq_pit_count(&pit, 2, T(1000)), 6);
	virq_pit_write(&pit, 0x61, 0x01, T(1000));
	assert_false(virq_pit_out(&pit, 2, T(1000) + T(6) - 1));
	assert_true(virq_pit_out(&pit, 2, T(1000) + T(6)));
	assert_int_equal(virq_pit_read(&pit, 0x61, T(1000) + T(6)) & 0x20, 0x20);
}

static void test_mode1_retriggerable_one_shot(void **state)
{
	uint64_t t0 = 5000, t1;

	setup_pit();
	program(2, 1, 5, 0);
	assert_true(virq_pit_out(&pit, 2, 4000)); /* high until triggered */
	virq_pit_write(&pit, 0x61, 1, t0);
	assert_false(virq_pit_out(&pit, 2, t0));
	assert_false(virq_pit_out(&pit, 2, t0 + T(5) - 1));
	assert_true(virq_pit_out(&pit, 2, t0 + T(5)));
	/* retrigger during the pulse: it lasts 5 CLKs from the new trigger */
	virq_pit_write(&pit, 0x61, 0, t0 + T(5) + 10);
	t1 = t0 + T(5) + 20;
	virq_pit_write(&pit, 0x61, 1, t1);
	virq_pit_write(&pit, 0x61, 0, t1 + T(3));
	virq_pit_write(&pit, 0x61, 1, t1 + T(3) + 1);
	assert_false(virq_pit_out(&pit, 2, t1 + T(3) + 1 + T(5) - 1));
	assert_true(virq_pit_out(&pit, 2, t1 + T(3) + 1 + T(5)));
	/* a new count does not change the running pulse, only the next trigger's */
	virq_pit_write(&pit, 0x42, 50, t1 + T(100));
	virq_pit_write(&pit, 0x42, 0, t1 + T(100));
	assert_true(virq_pit_out(&pit, 2, t1 + T(100)));
	virq_pit_write(&pit, 0x61, 0, t1 + T(101));
	virq_pit_write(&pit, 0x61, 1, t1 + T(102));
	assert_false(virq_pit_out(&pit, 2, t1 + T(102) + T(50) - 1));
	assert_true(virq_pit_out(&pit, 2, t1 + T(102) + T(50)));
}

static void test_mode2_rate_generator_and_coalescing(void **state)
{
	setup_pit();
	program(0, 2, 4, 0);
	/* the control word itself set OUT high (mode 2's initial state): one edge */
	assert_int_equal(rec.rises, 1);
	rec.rises = 0;
	pit.stats.irqs = 0;
	for (unsigned int k = 0; k < 3; k++) {
		assert_true(virq_pit_out(&pit, 0, T(4 * k)));
		assert_true(virq_pit_out(&pit, 0, T(4 * k + 2)));
		assert_false(virq_pit_out(&pit, 0, T(4 * k + 3)));
		assert_false(virq_pit_out(&pit, 0, T(4 * k + 4) - 1));
		assert_int_equal(virq_pit_count(&pit, 0, T(4 * k + 3)), 1);
		assert_int_equal(virq_pit_count(&pit, 0, T(4 * k)), 4);
	}
	/* following next_event exactly gives one edge per period */
	for (unsigned int k = 1; k <= 5; k++) {
		uint64_t t = virq_pit_next_event(&pit, pit.cursor_ns);

		assert_int_equal(t, T(4 * k));
		virq_pit_advance(&pit, t);
		assert_int_equal(rec.rises, k);
	}
	assert_int_equal(pit.stats.coalesced, 0);
	/* falling behind by 10 periods: one edge, nine counted as coalesced */
	virq_pit_advance(&pit, T(60));
	assert_int_equal(rec.rises, 6);
	assert_int_equal(pit.stats.coalesced, 9);
	assert_int_equal(pit.stats.irqs, 6);
}

static void test_mode2_new_count_waits_for_period_end(void **state)
{
	setup_pit();
	program(0, 2, 10, 0);
	program(0, 2, 10, 0); /* control word again resets: still a fresh start at 0 */
	virq_pit_write(&pit, 0x40, 20, T(3));
	virq_pit_write(&pit, 0x40, 0, T(3));
	/* current period unaffected: low at 9, reload at 10 with 20 */
	assert_false(virq_pit_out(&pit, 0, T(9)));
	assert_true(virq_pit_out(&pit, 0, T(10)));
	assert_false(virq_pit_out(&pit, 0, T(10 + 19)));
	assert_true(virq_pit_out(&pit, 0, T(30)) || virq_pit_out(&pit, 0, T(30) + 1));
	assert_int_equal(virq_pit_next_event(&pit, T(12)), T(10) + T(20));
}

static void test_mode3_square_wave_odd_and_even(void **state)
{
	setup_pit();
	program(0, 3, 5, 0); /* odd: high 3, low 2 */
	assert_true(virq_pit_out(&pit, 0, T(2)));
	assert_false(virq_pit_out(&pit, 0, T(3)));
	assert_false(virq_pit_out(&pit, 0, T(5) - 1));
	assert_true(virq_pit_out(&pit, 0, T(5)));
	assert_false(virq_pit_out(&pit, 0, T(8)));
	program(2, 3, 4, 0); /* even: high 2, low 2; counter 2 gate low: OUT high */
	assert_true(virq_pit_out(&pit, 2, T(3)));
	virq_pit_write(&pit, 0x61, 1, T(100));
	assert_true(virq_pit_out(&pit, 2, T(100) + T(1)));
	assert_false(virq_pit_out(&pit, 2, T(100) + T(2)));
	assert_true(virq_pit_out(&pit, 2, T(100) + T(4)));
	/* the count decrements by two */
	assert_int_equal(virq_pit_count(&pit, 2, T(100) + T(1)), 2);
}

static void test_mode4_and_mode5_strobes(void **state)
{
	setup_pit();
	program(0, 4, 3, 0);
	rec.rises = 0; /* the control word's OUT high */
	assert_true(virq_pit_out(&pit, 0, T(3) - 1));
	assert_false(virq_pit_out(&pit, 0, T(3)));
	assert_true(virq_pit_out(&pit, 0, T(4)));
	assert_true(virq_pit_out(&pit, 0, T(100)));
	assert_int_equal(virq_pit_next_event(&pit, 0), T(4));
	virq_pit_advance(&pit, T(100));
	assert_int_equal(rec.rises, 1);
	assert_int_equal(virq_pit_next_event(&pit, T(100)), UINT64_MAX);

	program(2, 5, 3, 1000000);
	assert_true(virq_pit_out(&pit, 2, 1000000 + T(10))); /* waits for the gate */
	virq_pit_write(&pit, 0x61, 1, 1000000 + T(10));
	assert_true(virq_pit_out(&pit, 2, 1000000 + T(10) + T(3) - 1));
	assert_false(virq_pit_out(&pit, 2, 1000000 + T(10) + T(3)));
	assert_true(virq_pit_out(&pit, 2, 1000000 + T(10) + T(4)));
}

static void test_latch_and_read_back(void **state)
{
	setup_pit();
	program(0, 2, 1000, 0);
	/* read-back right after the write: null count set (CR not yet in CE) */
	virq_pit_write(&pit, 0x43, 0xe2, 0); /* status only, counter 0 */
	assert_int_equal(virq_pit_read(&pit, 0x40, 0), 0x80 | 0x40 | 0x30 | 0x04);
	virq_pit_write(&pit, 0x43, 0x00, T(100)); /* latch command */
	virq_pit_write(&pit, 0x43, 0x00, T(200)); /* ignored: already latched */
	assert_int_equal(virq_pit_read(&pit, 0x40, T(500)), 900 & 0xff);
	assert_int_equal(virq_pit_read(&pit, 0x40, T(500)), 900 >> 8);
	/* unlatched: live */
	assert_int_equal(virq_pit_read(&pit, 0x40, T(500)), 500 & 0xff);
	assert_int_equal(virq_pit_read(&pit, 0x40, T(500)), 500 >> 8);
	/* read-back of count and status: status first, then the count */
	virq_pit_write(&pit, 0x43, 0xc2, T(700));
	assert_int_equal(virq_pit_read(&pit, 0x40, T(800)), 0x80 | 0x30 | 0x04);
	assert_int_equal(virq_pit_read(&pit, 0x40, T(800)), 300 & 0xff);
	assert_int_equal(virq_pit_read(&pit, 0x40, T(800)), 300 >> 8);
	/* mode 0 status: OUT low while counting, modes 6/7 alias 2/3 */
	virq_pit_write(&pit, 0x43, 0x7c, T(900)); /* counter 1, mode 6 -> 2 */
	virq_pit_write(&pit, 0x43, 0xe4, T(900));
	assert_int_equal(virq_pit_read(&pit, 0x41, T(900)) & 0x0e, 2 << 1);
}

static void test_rw_lsb_msb_only_and_bcd(void **state)
{
	uint64_t b = 0;

	setup_pit();
	virq_pit_write(&pit, 0x43, 0x14, b); /* counter 0, LSB only, mode 2 */
	virq_pit_write(&pit, 0x40, 200, b);
	assert_int_equal(virq_pit_read(&pit, 0x40, b + T(50)), 150);
	b = 1000000;
	virq_pit_write(&pit, 0x43, 0x24, b); /* MSB only */
	virq_pit_write(&pit, 0x40, 0x02, b); /* 0x200 */
	assert_int_equal(virq_pit_read(&pit, 0x40, b + T(0x100)), 0x01);
	b = 2000000;
	virq_pit_write(&pit, 0x43, 0x35, b); /* LSB-MSB, mode 2, BCD */
	virq_pit_write(&pit, 0x40, 0x00, b);
	virq_pit_write(&pit, 0x40, 0x01, b); /* 0100 BCD = 100 CLKs */
	assert_int_equal(virq_pit_read(&pit, 0x40, b + T(1)), 0x99);
	assert_int_equal(virq_pit_read(&pit, 0x40, b + T(1)), 0x00);
	assert_false(virq_pit_out(&pit, 0, b + T(99)));
	assert_true(virq_pit_out(&pit, 0, b + T(100)));
	/* count 0 in BCD is 10000 */
	b = 3000000;
	virq_pit_write(&pit, 0x43, 0x31, b);
	virq_pit_write(&pit, 0x40, 0, b);
	virq_pit_write(&pit, 0x40, 0, b);
	assert_false(virq_pit_out(&pit, 0, b + T(9999)));
	assert_true(virq_pit_out(&pit, 0, b + T(10000)));
	assert_int_equal(virq_pit_read(&pit, 0x40, b + T(1)), 0x99);
	assert_int_equal(virq_pit_read(&pit, 0x40, b + T(1)), 0x99);
}

static void test_port61_bits(void **state)
{
	uint8_t v;
	int toggles = 0, prev = -1;

	setup_pit();
	virq_pit_write(&pit, 0x61, 0xff, 0);
	v = virq_pit_read(&pit, 0x61, 0);
	assert_int_equal(v & 0x0f, 0x0f);
	assert_int_equal(v & 0xc0, 0);
	assert_true(pit.c[2].gate);
	virq_pit_write(&pit, 0x61, 0x02, 0);
	assert_false(pit.c[2].gate);
	for (uint64_t t = 0; t < 20 * VIRQ_PIT_REFRESH_NS; t += 1000) {
		int b = !!(virq_pit_read(&pit, 0x61, t) & 0x10);

		toggles += prev >= 0 && b != prev;
		prev = b;
	}
	assert_in_range(toggles, 19, 20);
}

/* Linux's quick_pit_calibrate()/pit_expect_msb() (arch/x86/kernel/tsc.c), modelled: each
 * port access costs the guest `io` ns. */
static uint64_t now_ns;
static const uint64_t io = 1500;

static uint8_t inb(uint16_t p)
{
	now_ns += io;
	return virq_pit_read(&pit, p, now_ns);
}

static void outb(uint8_t v, uint16_t p)
{
	now_ns += io;
	virq_pit_write(&pit, p, v, now_ns);
}

static int pit_verify_msb(uint8_t val)
{
	inb(0x42); /* ignore LSB */
	return inb(0x42) == val;
}

static int pit_expect_msb(uint8_t val, uint64_t *t, unsigned long *deltap)
{
	int count;
	uint64_t prev = 0;

	for (count = 0; count < 50000; count++) {
		if (!pit_verify_msb(val))
			break;
		prev = now_ns;
	}
	*deltap = now_ns - prev;
	*t = now_ns;
	return count > 5;
}

static void test_linux_quick_pit_calibrate_converges(void **state)
{
	uint64_t t0 = 0, t;
	unsigned long d1 = 0, d2 = 0;

	setup_pit();
	now_ns = 1000000;
	outb((inb(0x61) & ~0x02) | 0x01, 0x61);
	outb(0xb0, 0x43);
	outb(0xff, 0x42);
	outb(0xff, 0x42);
	assert_true(pit_verify_msb(0xff));
	assert_true(pit_expect_msb(0xff, &t0, &d1));
	for (int i = 1; i < 30; i++) {
		assert_true(pit_expect_msb((uint8_t)(0xff - i), &t, &d2));
		/* the MSB steps every 256 CLKs: i steps since the first, within the error
		 * Linux allows (the last read's cost at each end) */
		uint64_t want = T(256 * (uint64_t)i);
		assert_true(t - t0 + d1 + d2 >= want);
		assert_true(t - t0 <= want + d1 + d2 + 2 * io);
	}
}

static void test_linux_pit_calibrate_tsc_polls_out2(void **state)
{
	const uint16_t latch = 11932; /* CAL_LATCH: 10 ms */
	uint64_t start;
	int loops = 0;

	setup_pit();
	now_ns = 0;
	outb((inb(0x61) & ~0x02) | 0x01, 0x61);
	outb(0xb0, 0x43);
	outb(latch & 0xff, 0x42);
	outb(latch >> 8, 0x42);
	start = now_ns;
	while ((inb(0x61) & 0x20) == 0)
		loops++;
	assert_true(now_ns >= start + T(latch));
	assert_true(now_ns < start + T(latch) + io);
	assert_true(loops > 1000);
}

static void test_irq0_reaches_pic_through_router(void **state)
{
	static struct virq_pic pic;
	static struct virq_router r;
	struct virq_hw_line l;

	virq_pic_init(&pic, NULL);
	virq_router_init(&r, &pic, NULL, NULL);
	assert_int_equal(virq_router_set_default(&r, 0), 0);
	virq_hw_line_router(&l, &r);
	virq_pit_init(&pit, &l, 0);
	program(0, 2, 100, 0);
	virq_pit_advance(&pit, virq_pit_next_event(&pit, 0));
	assert_true(pic.chip[0].irr & 1);
	assert_true(virq_router_line(&r, 0));
	assert_true(r.stats.calls >= 1);
}

int main(void)
{
#define T_(f) cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T_(test_mode0_interrupt_on_terminal_count),
		T_(test_mode0_gate_low_suspends_counting),
		T_(test_mode1_retriggerable_one_shot),
		T_(test_mode2_rate_generator_and_coalescing),
		T_(test_mode2_new_count_waits_for_period_end),
		T_(test_mode3_square_wave_odd_and_even),
		T_(test_mode4_and_mode5_strobes),
		T_(test_latch_and_read_back),
		T_(test_rw_lsb_msb_only_and_bcd),
		T_(test_port61_bits),
		T_(test_linux_quick_pit_calibrate_converges),
		T_(test_linux_pit_calibrate_tsc_polls_out2),
		T_(test_irq0_reaches_pic_through_router),
	};
#undef T_
	return cmocka_run_group_tests_name("hw_pit", tests, NULL, NULL);
}
