// SPDX-License-Identifier: MIT
/*
 * The AML encoder (ACPI 6.3 20.2) and the resource descriptors (6.4) against bytes worked
 * out by hand from the spec's tables (the address space descriptors also match what iasl
 * compiles for the same ASL).
 */
#include "virq_test.h"
#include "virq/aml.h"
#include <errno.h>
#include <string.h>

static uint8_t buf[512];

static struct virq_aml fresh(void)
{
	memset(buf, 0xee, sizeof(buf));
	return virq_aml_writer(buf, sizeof(buf));
}

#define assert_emitted(a, ...)                                                  \
	do {                                                                    \
		static const uint8_t want_[] = { __VA_ARGS__ };                 \
		assert_true(virq_aml_ok(a));                                    \
		assert_int_equal((a)->len, sizeof(want_));                      \
		assert_memory_equal(buf, want_, sizeof(want_));                 \
		assert_true(buf[sizeof(want_)] == 0xee || !buf[sizeof(want_)]); \
	} while (0)

static void test_pkglen(void **state)
{
	uint8_t o[4];

	assert_int_equal(virq_aml_pkglen(o, 0), 0);
	assert_int_equal(virq_aml_pkglen(o, 1), 1);
	assert_int_equal(o[0], 1);
	assert_int_equal(virq_aml_pkglen(o, 63), 1);
	assert_int_equal(o[0], 0x3f);
	/* 64 = 0x040: lead byte 01 00 0000, then 0x04 */
	assert_int_equal(virq_aml_pkglen(o, 64), 2);
	assert_memory_equal(o, "\x40\x04", 2);
	assert_int_equal(virq_aml_pkglen(o, 0xfff), 2);
	assert_memory_equal(o, "\x4f\xff", 2);
	assert_int_equal(virq_aml_pkglen(o, 0x12345), 3);
	assert_memory_equal(o, "\x85\x34\x12", 3);
	assert_int_equal(virq_aml_pkglen(o, 0x1234567), 4);
	assert_memory_equal(o, "\xc7\x56\x34\x12", 4);
	assert_int_equal(virq_aml_pkglen(o, 0xfffffff), 4);
	assert_memory_equal(o, "\xcf\xff\xff\xff", 4);
	assert_int_equal(virq_aml_pkglen(o, 0x10000000), 0);
}

static void test_name_strings(void **state)
{
	static const char *const bad[] = { "",	 "pci0", "1ABC", "ABCDE", "A..B",  "A.", "\\^A",
					   "\\", "^",	 "A-B",	 "_S5 ",  "\\\\A", NULL };
	struct virq_aml a = fresh();

	assert_int_equal(virq_aml_name_string(&a, "_S5"), 0);
	assert_emitted(&a, '_', 'S', '5', '_');
	a = fresh();
	assert_int_equal(virq_aml_name_string(&a, "\\_SB"), 0);
	assert_emitted(&a, '\\', '_', 'S', 'B', '_');
	a = fresh();
	assert_int_equal(virq_aml_name_string(&a, "\\_SB.PCI0"), 0);
	assert_emitted(&a, '\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0');
	a = fresh();
	assert_int_equal(virq_aml_name_string(&a, "^^A.B.C"), 0);
	assert_emitted(&a, '^', '^', 0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_',
		       '_');
	for (size_t i = 0; bad[i]; i++) {
		a = fresh();
		assert_int_equal(virq_aml_name_string(&a, bad[i]), -EINVAL);
		assert_int_equal(a.len, 0);
		assert_int_equal(virq_aml_name(&a, bad[i]), -EINVAL);
		assert_int_equal(a.len, 0);
	}
}

static void test_integers(void **state)
{
	struct virq_aml a = fresh();

	virq_aml_int(&a, 0);
	virq_aml_int(&a, 1);
	virq_aml_int(&a, 2);
	virq_aml_int(&a, 0xff);
	virq_aml_int(&a, 0x100);
	virq_aml_int(&a, 0xfebfffff);
	virq_aml_int(&a, 0x123456789ull);
	assert_emitted(&a, 0x00, 0x01, 0x0a, 0x02, 0x0a, 0xff, 0x0b, 0x00, 0x01, 0x0c, 0xff, 0xff,
		       0xbf, 0xfe, 0x0e, 0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0);
}

static void test_eisaid(void **state)
{
	struct virq_aml a = fresh();
	uint32_t v;

	/* 'P' 16, 'N' 14, 'P' 16: 0 10000 01110 10000 = 0x41d0, then 0x0a03 */
	assert_int_equal(virq_aml_eisaid_value("PNP0A03", &v), 0);
	assert_int_equal(v, 0x030ad041);
	assert_int_equal(virq_aml_eisaid_value("PNP0C0F", &v), 0);
	assert_int_equal(v, 0x0f0cd041);
	assert_int_equal(virq_aml_eisaid_value("ABC1234", &v), 0); /* 1 2 3: 0x0443 */
	assert_int_equal(v, 0x34124304);
	assert_int_equal(virq_aml_eisaid_value("pnp0a03", &v), -EINVAL);
	assert_int_equal(virq_aml_eisaid_value("PNP0A0", &v), -EINVAL);
	assert_int_equal(virq_aml_eisaid_value("PNP0A0G", &v), -EINVAL);
	assert_int_equal(virq_aml_eisaid_value("PNP0A031", &v), -EINVAL);
	assert_int_equal(virq_aml_eisaid(&a, "PNP0A03"), 0);
	assert_emitted(&a, 0x0c, 0x41, 0xd0, 0x0a, 0x03);
	assert_int_equal(virq_aml_eisaid(&a, "PNP"), -EINVAL);
	assert_int_equal(a.len, 5);
}

static void test_scope_device_name_package(void **state)
{
	struct virq_aml a = fresh();
	size_t s, d, p;

	/* Scope (\_SB) { Device (PCI0) { Name (_ADR, Zero) } }
	 * Name (_S5, Package (4) { Zero, Zero, Zero, Zero }) */
	assert_int_equal(virq_aml_scope_begin(&a, "\\_SB", &s), 0);
	assert_int_equal(virq_aml_device_begin(&a, "PCI0", &d), 0);
	assert_int_equal(virq_aml_name(&a, "_ADR"), 0);
	virq_aml_int(&a, 0);
	assert_int_equal(virq_aml_end(&a, d), 0);
	assert_int_equal(virq_aml_end(&a, s), 0);
	assert_int_equal(virq_aml_name(&a, "_S5"), 0);
	p = virq_aml_package_begin(&a, 4);
	for (int i = 0; i < 4; i++)
		virq_aml_int(&a, 0);
	assert_int_equal(virq_aml_end(&a, p), 0);
	assert_emitted(&a, 0x10, 0x13, '\\', '_', 'S', 'B', '_', /* Scope, PkgLength 19 */
		       0x5b, 0x82, 0x0b, 'P', 'C', 'I', '0', /* Device, PkgLength 11 */
		       0x08, '_', 'A', 'D', 'R', 0x00, /* Name (_ADR, Zero) */
		       0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0, 0, 0, 0);
	assert_int_equal(virq_aml_scope_begin(&a, "pci", &s), -EINVAL);
	assert_int_equal(virq_aml_device_begin(&a, "", &d), -EINVAL);
	assert_int_equal(a.len, 32);
}

/* A body of 71 bytes takes a 2-byte PkgLength (73 = 0x49: lead 0x49, then 0x04); the
 * counting writer gives the same length. */
static void test_long_package_and_counting(void **state)
{
	struct virq_aml a = fresh(), c = virq_aml_writer(NULL, 0);
	size_t p = virq_aml_package_begin(&a, 70), q = virq_aml_package_begin(&c, 70);

	for (int i = 0; i < 70; i++) {
		virq_aml_int(&a, 0);
		virq_aml_int(&c, 0);
	}
	assert_int_equal(virq_aml_end(&a, p), 0);
	assert_int_equal(virq_aml_end(&c, q), 0);
	assert_int_equal(a.len, 1 + 2 + 71);
	assert_int_equal(c.len, a.len);
	assert_true(virq_aml_ok(&c));
	assert_memory_equal(buf, "\x12\x49\x04\x46\x00", 5);
	assert_int_equal(buf[a.len - 1], 0);
	assert_memory_equal(buf + a.len, "\0\0", 2); /* what the move vacated is cleared */
	assert_int_equal(buf[a.len + 2], 0xee);
}

static void test_buffer(void **state)
{
	static const uint8_t end[] = { 0x79, 0 };
	struct virq_aml a = fresh();

	virq_aml_buffer(&a, end, sizeof(end));
	assert_emitted(&a, 0x11, 0x05, 0x0a, 0x02, 0x79, 0x00);
}

static void test_resource_descriptors(void **state)
{
	struct virq_aml a = fresh();

	virq_aml_res_io(&a, 0xcf8, 0xcf8, 1, 8);
	assert_emitted(&a, 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08);
	a = fresh();
	virq_aml_res_word_bus(&a, 0, 0xff);
	assert_emitted(&a, 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, /* bus, MinFixed|MaxFixed */
		       0x00, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01);
	a = fresh();
	virq_aml_res_word_io(&a, 0xd00, 0xffff);
	assert_emitted(&a, 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, /* I/O, EntireRange */
		       0x00, 0x00, 0x00, 0x0d, 0xff, 0xff, 0x00, 0x00, 0x00, 0xf3);
	a = fresh();
	virq_aml_res_dword_mem(&a, 0xa0000, 0xbffff, true);
	assert_emitted(&a, 0x87, 0x17, 0x00, 0x00, 0x0c, 0x03, /* memory, Cacheable, RW */
		       0, 0, 0, 0, 0x00, 0x00, 0x0a, 0x00, 0xff, 0xff, 0x0b, 0x00, 0, 0, 0, 0, 0x00,
		       0x00, 0x02, 0x00);
	a = fresh();
	virq_aml_res_dword_mem(&a, 0xc0000000, 0xfebfffff, false);
	assert_emitted(&a, 0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, /* NonCacheable, RW */
		       0, 0, 0, 0, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xbf, 0xfe, 0, 0, 0, 0, 0x00,
		       0x00, 0xc0, 0x3e);
	a = fresh();
	virq_aml_res_end(&a);
	assert_emitted(&a, 0x79, 0x00);
}

/* A buffer too small: nothing beyond it is written, the length keeps counting. */
static void test_overflow(void **state)
{
	struct virq_aml a;
	size_t p;

	memset(buf, 0xee, sizeof(buf));
	a = virq_aml_writer(buf, 3);
	p = virq_aml_package_begin(&a, 2);
	virq_aml_int(&a, 0);
	virq_aml_int(&a, 0x1234);
	assert_int_equal(virq_aml_end(&a, p), 0);
	assert_false(virq_aml_ok(&a));
	assert_int_equal(a.len, 1 + 1 + 1 + 1 + 3);
	assert_int_equal(buf[3], 0xee);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkglen),
		cmocka_unit_test(test_name_strings),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_eisaid),
		cmocka_unit_test(test_scope_device_name_package),
		cmocka_unit_test(test_long_package_and_counting),
		cmocka_unit_test(test_buffer),
		cmocka_unit_test(test_resource_descriptors),
		cmocka_unit_test(test_overflow),
	};
	return cmocka_run_group_tests_name("boot_aml", tests, NULL, NULL);
}
