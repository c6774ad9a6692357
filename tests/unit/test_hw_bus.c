// SPDX-License-Identifier: MIT
/* The device bus: one-call registration, overlaps refused, dispatch, unclaimed accesses. */
#include "virq_test.h"
#include "virq/hw.h"
#include <errno.h>
#include <string.h>

struct dev {
	uint64_t last_off, last_val;
	unsigned int last_size;
	int reads, writes;
};

static uint64_t d_read(void *o, uint64_t off, unsigned int size, uint64_t now)
{
	struct dev *d = o;

	d->reads++;
	d->last_off = off;
	d->last_size = size;
	return 0x1122334455667788ull + off + now; /* more bits than size: the bus masks */
}

static void d_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now)
{
	struct dev *d = o;

	d->writes++;
	d->last_off = off;
	d->last_size = size;
	d->last_val = val;
}

static const struct virq_hw_ops ops = { .read = d_read, .write = d_write };
static struct virq_hw_bus bus;

static void test_overlaps_refused_adjacent_accepted(void **state)
{
	struct dev a = { 0 };

	virq_hw_bus_init(&bus);
	assert_int_equal(virq_hw_register_pio(&bus, 0x40, 4, &ops, &a, "a"), 0);
	assert_int_equal(virq_hw_register_pio(&bus, 0x40, 4, &ops, &a, "same"), -EBUSY);
	assert_int_equal(virq_hw_register_pio(&bus, 0x3f, 2, &ops, &a, "tail"), -EBUSY);
	assert_int_equal(virq_hw_register_pio(&bus, 0x43, 1, &ops, &a, "head"), -EBUSY);
	assert_int_equal(virq_hw_register_pio(&bus, 0x30, 0x20, &ops, &a, "around"), -EBUSY);
	assert_int_equal(virq_hw_register_pio(&bus, 0x41, 1, &ops, &a, "inside"), -EBUSY);
	assert_int_equal(virq_hw_register_pio(&bus, 0x44, 1, &ops, &a, "after"), 0);
	assert_int_equal(virq_hw_register_pio(&bus, 0x3c, 4, &ops, &a, "before"), 0);
	assert_int_equal(virq_hw_register_pio(&bus, 0, 0, &ops, &a, "empty"), -EINVAL);
	assert_int_equal(virq_hw_register_pio(&bus, 0xffff, 2, &ops, &a, "wrap"), -EINVAL);
	assert_int_equal(virq_hw_register_pio(&bus, 0xffff, 1, &ops, &a, "last"), 0);
	assert_int_equal(virq_hw_register_pio(&bus, 0x100, 1, NULL, &a, "noops"), -EINVAL);
	assert_int_equal(virq_hw_register_mmio(&bus, UINT64_MAX - 0xfff, 0x1000, &ops, &a, "top"),
			 0);
	assert_int_equal(virq_hw_register_mmio(&bus, UINT64_MAX - 0xfff, 0x1001, &ops, &a, "x"),
			 -EINVAL);
	assert_int_equal(bus.pio.nr, 4);
	for (uint32_t i = 1; i < bus.pio.nr; i++)
		assert_true(bus.pio.r[i - 1].base + bus.pio.r[i - 1].len <= bus.pio.r[i].base);
	assert_int_equal(virq_hw_unregister_pio(&bus, 0x41), -ENOENT);
	assert_int_equal(virq_hw_unregister_pio(&bus, 0x40), 0);
	assert_int_equal(virq_hw_register_pio(&bus, 0x41, 1, &ops, &a, "now free"), 0);
}

static void test_dispatch_offset_size_and_value(void **state)
{
	struct dev a = { 0 }, b = { 0 };
	uint32_t v;
	uint64_t v64;

	virq_hw_bus_init(&bus);
	assert_int_equal(virq_hw_register_pio(&bus, 0x510, 2, &ops, &a, "a"), 0);
	assert_int_equal(virq_hw_register_mmio(&bus, 0xfee00000, 0x1000, &ops, &b, "b"), 0);
	assert_int_equal(virq_hw_pio_write(&bus, 0x510, 2, 0xabcd, 0), 0);
	assert_int_equal(a.last_off, 0);
	assert_int_equal(a.last_size, 2);
	assert_int_equal(a.last_val, 0xabcd);
	assert_int_equal(virq_hw_pio_read(&bus, 0x511, 1, 5, &v), 0);
	assert_int_equal(a.last_off, 1);
	assert_int_equal(v, (0x88 + 1 + 5) & 0xff);
	assert_int_equal(virq_hw_mmio_read(&bus, 0xfee00ff8, 8, 0, &v64), 0);
	assert_int_equal(b.last_off, 0xff8);
	assert_true(v64 == 0x1122334455667788ull + 0xff8);
	assert_int_equal(virq_hw_mmio_write(&bus, 0xfee00010, 4, 0x1234567899ull, 0), 0);
	assert_int_equal(b.last_val, 0x34567899);
	assert_int_equal(bus.pio.r[0].reads, 1);
	assert_int_equal(bus.pio.r[0].writes, 1);
}

static void test_unclaimed_reads_all_ones_and_counted(void **state)
{
	struct dev a = { 0 };
	uint32_t v;
	uint64_t v64;

	virq_hw_bus_init(&bus);
	assert_int_equal(virq_hw_register_pio(&bus, 0x70, 2, &ops, &a, "rtc"), 0);
	assert_int_equal(virq_hw_pio_read(&bus, 0x80, 1, 0, &v), -ENOENT);
	assert_int_equal(v, 0xff);
	assert_int_equal(virq_hw_pio_read(&bus, 0x80, 2, 0, &v), -ENOENT);
	assert_int_equal(v, 0xffff);
	assert_int_equal(virq_hw_pio_read(&bus, 0x80, 4, 0, &v), -ENOENT);
	assert_int_equal(v, 0xffffffff);
	/* straddling the end of a range is not the device's */
	assert_int_equal(virq_hw_pio_read(&bus, 0x71, 2, 0, &v), -ENOENT);
	assert_int_equal(virq_hw_pio_write(&bus, 0x71, 4, 1, 0), -ENOENT);
	assert_int_equal(a.reads + a.writes, 0);
	assert_int_equal(bus.pio.unclaimed_reads, 4);
	assert_int_equal(bus.pio.unclaimed_writes, 1);
	assert_int_equal(virq_hw_pio_read(&bus, 0x70, 3, 0, &v), -EINVAL);
	assert_int_equal(virq_hw_pio_read(&bus, 0x70, 8, 0, &v), -EINVAL);
	assert_int_equal(virq_hw_mmio_read(&bus, 0, 16, 0, &v64), -EINVAL);
	assert_int_equal(bus.pio.bad_size, 2);
	assert_int_equal(virq_hw_mmio_read(&bus, 0x1000, 8, 0, &v64), -ENOENT);
	assert_true(v64 == UINT64_MAX);
}

static void test_many_ranges_found_by_search(void **state)
{
	static struct dev d[VIRQ_HW_MAX_RANGES];

	virq_hw_bus_init(&bus);
	/* registered in a scrambled order; each of 128 ranges [k*16, k*16+8) */
	for (unsigned int i = 0; i < VIRQ_HW_MAX_RANGES; i++) {
		unsigned int k = (i * 37) % VIRQ_HW_MAX_RANGES;

		assert_int_equal(
			virq_hw_register_pio(&bus, (uint16_t)(k * 16), 8, &ops, &d[k], "d"), 0);
	}
	assert_int_equal(virq_hw_register_pio(&bus, 0x8000, 1, &ops, &d[0], "full"), -ENOSPC);
	for (unsigned int port = 0; port < VIRQ_HW_MAX_RANGES * 16; port++) {
		const struct virq_hw_range *r = virq_hw_find_pio(&bus, (uint16_t)port);

		if (port % 16 < 8) {
			assert_non_null(r);
			assert_ptr_equal(r->opaque, &d[port / 16]);
		} else {
			assert_null(r);
		}
	}
}

int main(void)
{
#define T(f) cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(test_overlaps_refused_adjacent_accepted),
		T(test_dispatch_offset_size_and_value),
		T(test_unclaimed_reads_all_ones_and_counted),
		T(test_many_ranges_found_by_search),
	};
#undef T
	return cmocka_run_group_tests_name("hw_bus", tests, NULL, NULL);
}
