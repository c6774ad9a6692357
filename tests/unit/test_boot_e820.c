// SPDX-License-Identifier: MIT
/* The e820 map builder (ACPI 6.3 chapter 15) and Multiboot's mem_lower/mem_upper. */
#include "virq_test.h"
#include "virq/boot.h"
#include <errno.h>

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* Sorted, non-empty, non-overlapping, adjacent entries of one type merged. */
static void assert_well_formed(const struct virq_e820_entry *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_true(m[i].size > 0);
		if (i) {
			assert_true(m[i - 1].addr + m[i - 1].size <= m[i].addr);
			assert_false(m[i - 1].addr + m[i - 1].size == m[i].addr &&
				     m[i - 1].type == m[i].type);
		}
	}
}

static void assert_entry(const struct virq_e820_entry *e, uint64_t addr, uint64_t size,
			 uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

static void test_small_ram_is_low_ram_ebda_bios_and_high_ram(void **state)
{
	struct virq_e820_config c = { .ram_size = 512 * MiB };
	struct virq_e820_entry m[16];
	size_t n = 0;

	assert_int_equal(virq_e820_build(&c, m, 16, &n), 0);
	assert_int_equal(n, 4);
	assert_entry(&m[0], 0, 0x9fc00, VIRQ_E820_RAM);
	assert_entry(&m[1], 0x9fc00, 0x400, VIRQ_E820_RESERVED);
	assert_entry(&m[2], 0xe0000, 0x20000, VIRQ_E820_RESERVED);
	assert_entry(&m[3], MiB, 511 * MiB, VIRQ_E820_RAM);
	assert_well_formed(m, n);
}

static void test_large_ram_is_split_by_the_pci_hole(void **state)
{
	const struct virq_e820_entry extra[] = {
		{ 0xfee00000, 0x1000, VIRQ_E820_RESERVED }, /* LAPIC, listed first */
		{ 0xfec00000, 0x1000, VIRQ_E820_RESERVED }, /* IOAPIC */
	};
	struct virq_e820_config c = {
		.ram_size = 5 * GiB, .pci_hole_start = 3 * GiB, .extra = extra, .n_extra = 2
	};
	struct virq_e820_entry m[16];
	size_t n = 0;

	assert_int_equal(virq_e820_build(&c, m, 16, &n), 0);
	assert_int_equal(n, 7);
	assert_entry(&m[3], MiB, 3 * GiB - MiB, VIRQ_E820_RAM);
	assert_entry(&m[4], 0xfec00000, 0x1000, VIRQ_E820_RESERVED);
	assert_entry(&m[5], 0xfee00000, 0x1000, VIRQ_E820_RESERVED);
	assert_entry(&m[6], 4 * GiB, 2 * GiB, VIRQ_E820_RAM);
	assert_well_formed(m, n);
	/* the default hole is 3 GiB too, RAM below it is kept as is */
	c.pci_hole_start = 0;
	c.ram_size = 3 * GiB;
	assert_int_equal(virq_e820_build(&c, m, 16, &n), 0);
	assert_int_equal(m[n - 1].addr + m[n - 1].size, 0xfee01000);
	assert_entry(&m[3], MiB, 3 * GiB - MiB, VIRQ_E820_RAM);
}

static void test_extra_ranges_punch_ram(void **state)
{
	const struct virq_e820_entry extra[] = { { 64 * MiB, 0x10000, VIRQ_E820_ACPI } };
	struct virq_e820_config c = { .ram_size = 128 * MiB, .extra = extra, .n_extra = 1 };
	struct virq_e820_entry m[16];
	size_t n = 0;

	assert_int_equal(virq_e820_build(&c, m, 16, &n), 0);
	assert_int_equal(n, 6);
	assert_entry(&m[3], MiB, 63 * MiB, VIRQ_E820_RAM);
	assert_entry(&m[4], 64 * MiB, 0x10000, VIRQ_E820_ACPI);
	assert_entry(&m[5], 64 * MiB + 0x10000, 64 * MiB - 0x10000, VIRQ_E820_RAM);
	assert_well_formed(m, n);
}

static void test_bad_configs_are_refused(void **state)
{
	const struct virq_e820_entry ram[] = { { 64 * MiB, 0x1000, VIRQ_E820_RAM } };
	const struct virq_e820_entry wrap[] = { { UINT64_MAX - 10, 0x1000, 2 } };
	struct virq_e820_config c = { .ram_size = MiB };
	struct virq_e820_entry m[16];
	size_t n = 0;

	assert_int_equal(virq_e820_build(&c, m, 16, &n), -EINVAL);
	c.ram_size = 64 * MiB;
	assert_int_equal(virq_e820_build(&c, m, 3, &n), -E2BIG);
	c.pci_hole_start = 0x12345678;
	assert_int_equal(virq_e820_build(&c, m, 16, &n), -EINVAL);
	c.pci_hole_start = 0;
	c.extra = ram;
	c.n_extra = 1;
	assert_int_equal(virq_e820_build(&c, m, 16, &n), -EINVAL);
	c.extra = wrap;
	assert_int_equal(virq_e820_build(&c, m, 16, &n), -EINVAL);
	assert_int_equal(virq_e820_build(NULL, m, 16, &n), -EINVAL);
}

static void test_lower_upper_in_kib(void **state)
{
	struct virq_e820_config c = { .ram_size = 512 * MiB };
	const struct virq_e820_entry extra[] = { { 64 * MiB, 0x10000, VIRQ_E820_ACPI } };
	struct virq_e820_entry m[16];
	uint32_t lo, up;
	size_t n = 0;

	assert_int_equal(virq_e820_build(&c, m, 16, &n), 0);
	virq_e820_lower_upper(m, n, &lo, &up);
	assert_int_equal(lo, 639);
	assert_int_equal(up, 511 * 1024);
	/* mem_upper stops at the first hole above 1 MiB */
	c.extra = extra;
	c.n_extra = 1;
	assert_int_equal(virq_e820_build(&c, m, 16, &n), 0);
	virq_e820_lower_upper(m, n, &lo, &up);
	assert_int_equal(up, 63 * 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_ram_is_low_ram_ebda_bios_and_high_ram),
		cmocka_unit_test(test_large_ram_is_split_by_the_pci_hole),
		cmocka_unit_test(test_extra_ranges_punch_ram),
		cmocka_unit_test(test_bad_configs_are_refused),
		cmocka_unit_test(test_lower_upper_in_kib),
	};
	return cmocka_run_group_tests_name("boot_e820", tests, NULL, NULL);
}
