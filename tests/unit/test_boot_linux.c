// SPDX-License-Identifier: MIT
/*
 * The Linux x86 boot protocol loader (Documentation/arch/x86/boot.rst) on synthetic
 * bzImage headers, every refusal leaving guest RAM untouched, and on Debian's kernel in
 * /boot when the host has one.
 */
#include "virq_test.h"
#include "virq/boot.h"
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1ull << 20)
#define RAM (32 * MiB)
#define FILL 0x5a
#define KLEN 0x3000 /* protected-mode kernel bytes in a synthetic image */

static uint8_t *ram;
static uint8_t img[0x1000 + KLEN];

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

/* A protocol-2.15 bzImage with 4 setup sectors (setup_sects 4: 5 * 512 bytes of setup). */
static size_t make_image(void)
{
	memset(img, 0, sizeof(img));
	img[0x1f1] = 4;
	put16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = 0x6a - 0x02; /* header ends at 0x26a (kernel_info_offset included) */
	put32(img + 0x202, 0x53726448);
	put16(img + 0x206, 0x020f);
	img[0x211] = VIRQ_LINUX_LOADED_HIGH;
	put32(img + 0x214, 0x100000);
	put32(img + 0x22c, 0x7fffffff);
	put32(img + 0x230, 0x200000); /* kernel_alignment */
	img[0x234] = 1; /* relocatable */
	put16(img + 0x236, VIRQ_LINUX_XLF_KERNEL_64 | VIRQ_LINUX_XLF_CAN_BE_LOADED_ABOVE_4G);
	put32(img + 0x238, 2047); /* cmdline_size */
	put32(img + 0x258, 0x1000000); /* pref_address 16 MiB */
	put32(img + 0x25c, 0);
	put32(img + 0x260, 0x400000); /* init_size 4 MiB */
	for (size_t i = 0; i < KLEN; i++)
		img[5 * 512 + i] = (uint8_t)(i * 7 + 1);
	return 5 * 512 + KLEN;
}

static int setup(void **state)
{
	ram = malloc(RAM);
	if (!ram)
		return -1;
	memset(ram, FILL, RAM);
	return 0;
}

static int teardown(void **state)
{
	free(ram);
	return 0;
}

static int refill(void **state)
{
	memset(ram, FILL, RAM);
	return 0;
}

static void assert_untouched(void)
{
	for (size_t i = 0; i < RAM; i++)
		if (ram[i] != FILL)
			fail_msg("guest byte 0x%zx written by a refused load", i);
}

static struct virq_boot_mem mem(void)
{
	return (struct virq_boot_mem){ .host = ram, .size = RAM };
}

static void test_header_fields_parsed(void **state)
{
	size_t len = make_image();
	struct virq_linux_info li;
	char err[VIRQ_BOOT_ERR_LEN];

	assert_int_equal(virq_linux_parse(img, len, &li, err, sizeof(err)), 0);
	assert_int_equal(li.version, 0x020f);
	assert_int_equal(li.setup_sects, 4);
	assert_int_equal(li.setup_size, 5 * 512);
	assert_int_equal(li.kernel_size, KLEN);
	assert_int_equal(li.xloadflags, 3);
	assert_int_equal(li.cmdline_size, 2047);
	assert_int_equal(li.pref_address, 0x1000000);
	assert_int_equal(li.init_size, 0x400000);
	assert_int_equal(li.hdr_end, 0x26a);
	/* setup_sects 0 means 4 (boot.rst) */
	img[0x1f1] = 0;
	assert_int_equal(virq_linux_parse(img, len, &li, err, sizeof(err)), 0);
	assert_int_equal(li.setup_sects, 4);
	assert_int_equal(li.setup_size, 5 * 512);
}

static void test_64bit_load_zero_page_cmdline_e820_initrd(void **state)
{
	size_t len = make_image();
	struct virq_boot_mem m = mem();
	static uint8_t initrd[5000];
	const struct virq_e820_entry e820[] = { { 0, 0x9fc00, 1 }, { MiB, RAM - MiB, 1 } };
	struct virq_linux_params p = { .kernel = img,
				       .kernel_size = len,
				       .initrd = initrd,
				       .initrd_size = sizeof(initrd),
				       .cmdline = "console=ttyS0",
				       .e820 = e820,
				       .n_e820 = 2 };
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN] = "";
	const uint8_t *bp;
	uint64_t want_initrd = (RAM - sizeof(initrd)) & ~0xfffull;

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x33);
	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), 0);
	/* relocatable, pref_address aligned and free: loaded there, entry at +0x200 */
	assert_int_equal(e.mode, VIRQ_BOOT_LINUX64);
	assert_int_equal(e.kernel_start, 0x1000000);
	assert_int_equal(e.kernel_end, 0x1400000);
	assert_int_equal(e.rip, 0x1000200);
	assert_int_equal(e.rsi, VIRQ_LINUX_ZERO_PAGE_DEFAULT);
	assert_memory_equal(ram + 0x1000000, img + 5 * 512, KLEN);
	assert_int_equal(ram[0x1000000 + KLEN], FILL); /* init_size is claimed, not written */

	bp = ram + e.boot_params;
	assert_int_equal(get16(bp + 0x1fe), 0xaa55);
	assert_int_equal(get32(bp + 0x202), 0x53726448);
	assert_int_equal(get16(bp + 0x206), 0x020f);
	assert_int_equal(bp[0x210], 0xff); /* type_of_loader */
	assert_int_equal(bp[0x211], VIRQ_LINUX_LOADED_HIGH | VIRQ_LINUX_CAN_USE_HEAP);
	assert_int_equal(get16(bp + 0x224), VIRQ_LINUX_HEAP_END);
	assert_int_equal(get16(bp + 0x1fa), 0xffff); /* vid_mode normal */
	assert_int_equal(get32(bp + 0x214), 0x1000000); /* code32_start: where it is */
	assert_int_equal(get32(bp + 0x228), VIRQ_LINUX_CMDLINE_DEFAULT);
	assert_string_equal((const char *)ram + VIRQ_LINUX_CMDLINE_DEFAULT, "console=ttyS0");
	assert_int_equal(bp[0x000], 0); /* outside the header: zero */
	assert_int_equal(bp[0x290], 0);
	assert_int_equal(bp[0xfff], 0);
	/* e820 */
	assert_int_equal(bp[0x1e8], 2);
	assert_int_equal(get32(bp + 0x2d0 + 20 + 0), MiB);
	assert_int_equal(get32(bp + 0x2d0 + 20 + 8), RAM - MiB);
	assert_int_equal(get32(bp + 0x2d0 + 20 + 16), 1);
	assert_int_equal(get32(bp + 0x2d0 + 40 + 16), 0); /* the third entry is empty */
	/* initrd: highest page-aligned address below the RAM top */
	assert_int_equal(e.initrd_start, want_initrd);
	assert_int_equal(get32(bp + 0x218), want_initrd);
	assert_int_equal(get32(bp + 0x21c), sizeof(initrd));
	assert_memory_equal(ram + want_initrd, initrd, sizeof(initrd));
}

static void test_initrd_under_initrd_addr_max_and_reserved_ranges(void **state)
{
	size_t len = make_image();
	static uint8_t initrd[0x1800];
	struct virq_boot_range res[] = { { 28 * MiB, 4 * MiB } };
	struct virq_boot_mem m = mem();
	struct virq_linux_params p = {
		.kernel = img, .kernel_size = len, .initrd = initrd, .initrd_size = sizeof(initrd)
	};
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN];

	put32(img + 0x22c, 24 * MiB - 1); /* the last byte must be <= initrd_addr_max */
	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), 0);
	assert_int_equal(e.initrd_start, (24 * MiB - sizeof(initrd)) & ~0xfffull);
	assert_true(e.initrd_start + sizeof(initrd) - 1 <= 24 * MiB - 1);
	assert_int_equal(e.initrd_start & 0xfff, 0);

	refill(state);
	put32(img + 0x22c, 0x7fffffff);
	m.reserved = res;
	m.n_reserved = 1;
	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), 0);
	assert_int_equal(e.initrd_start, (28 * MiB - sizeof(initrd)) & ~0xfffull);
	for (size_t i = 28 * MiB; i < RAM; i++)
		assert_int_equal(ram[i], FILL);

	/* no room above the kernel's init_size below initrd_addr_max */
	refill(state);
	put32(img + 0x22c, 0x1400fff);
	m.n_reserved = 0;
	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "initrd"));
	assert_untouched();
}

static void test_non_relocatable_and_old_protocol_use_1mib_and_32bit_entry(void **state)
{
	size_t len = make_image();
	struct virq_boot_mem m = mem();
	struct virq_linux_params p = { .kernel = img, .kernel_size = len };
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN];

	img[0x234] = 0;
	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), 0);
	assert_int_equal(e.kernel_start, MiB);
	assert_int_equal(e.rip, MiB + 0x200);
	assert_memory_equal(ram + MiB, img + 5 * 512, KLEN);
	/* 2.06: no xloadflags, so the 32-bit entry at the load address */
	refill(state);
	put16(img + 0x206, 0x0206);
	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), 0);
	assert_int_equal(e.mode, VIRQ_BOOT_LINUX32);
	assert_int_equal(e.rip, MiB);
	assert_int_equal(e.rsi, VIRQ_LINUX_ZERO_PAGE_DEFAULT);
	/* forced 32-bit on a 64-bit capable kernel */
	refill(state);
	put16(img + 0x206, 0x020f);
	p.force_32bit = 1;
	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), 0);
	assert_int_equal(e.mode, VIRQ_BOOT_LINUX32);
	assert_int_equal(e.rip, MiB);
	/* pref_address misaligned to kernel_alignment: 1 MiB */
	refill(state);
	p.force_32bit = 0;
	img[0x234] = 1;
	put32(img + 0x258, 0x1000800);
	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), 0);
	assert_int_equal(e.kernel_start, MiB);
}

/* Each bad image: the expected error, a message, and guest RAM untouched. */
static void expect_refused(size_t len, int want, const char *needle)
{
	struct virq_boot_mem m = mem();
	struct virq_linux_params p = { .kernel = img, .kernel_size = len, .cmdline = "x" };
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN] = "";

	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), want);
	if (!strstr(err, needle))
		fail_msg("message \"%s\" lacks \"%s\"", err, needle);
	assert_untouched();
}

static void test_bad_images_refused_untouched(void **state)
{
	size_t len = make_image();

	put16(img + 0x1fe, 0x1234);
	expect_refused(len, -ENOEXEC, "boot_flag");
	len = make_image();
	img[0x202] = 'X';
	expect_refused(len, -ENOEXEC, "HdrS");
	len = make_image();
	put16(img + 0x206, 0x0205);
	expect_refused(len, -ENOEXEC, "2.06");
	len = make_image();
	expect_refused(0x100, -EINVAL, "truncated");
	expect_refused(0x260, -EINVAL, "beyond the file"); /* header ends at 0x26a */
	expect_refused(5 * 512, -EINVAL, "no kernel"); /* setup only */
	img[0x1f1] = 200; /* setup beyond the file */
	expect_refused(len, -EINVAL, "truncated");
	len = make_image();
	img[0x201] = 0x20; /* header ends before cmdline_size */
	expect_refused(len, -EINVAL, "cmdline_size");
	len = make_image();
	img[0x211] = 0; /* zImage */
	expect_refused(len, -ENOEXEC, "zImage");
	len = make_image();
	put32(img + 0x260, 0xfff00000); /* init_size beyond RAM */
	put32(img + 0x258, 0);
	expect_refused(len, -ERANGE, "kernel");
	len = make_image();
	put32(img + 0x238, 0); /* cmdline_size 0: "x" too long */
	expect_refused(len, -E2BIG, "command line");
}

static void test_cmdline_size_is_the_bound_without_the_nul(void **state)
{
	size_t len = make_image();
	struct virq_boot_mem m = mem();
	static char cmd[2049];
	struct virq_linux_params p = { .kernel = img, .kernel_size = len, .cmdline = cmd };
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN];

	memset(cmd, 'c', 2047); /* cmdline_size 2047: exactly fits */
	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), 0);
	assert_int_equal(strlen((const char *)ram + e.cmdline), 2047);
	refill(state);
	cmd[2047] = 'c';
	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), -E2BIG);
	assert_untouched();
}

static void test_arguments_and_placements_refused(void **state)
{
	size_t len = make_image();
	static const uint8_t big[1];
	struct virq_boot_range res[] = { { VIRQ_LINUX_ZERO_PAGE_DEFAULT, 0x1000 } };
	struct virq_boot_mem m = mem();
	struct virq_linux_params p = {
		.kernel = img, .kernel_size = len, .initrd = big, .initrd_size = RAM
	};
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN];

	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), -E2BIG);
	p.initrd_size = 0;
	p.n_e820 = 129;
	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), -E2BIG);
	p.n_e820 = 0;
	m.reserved = res;
	m.n_reserved = 1;
	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "zero page"));
	m.n_reserved = 0;
	p.zero_page = 0x10800; /* not page aligned */
	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), -EINVAL);
	p.zero_page = 0;
	p.cmdline_addr = VIRQ_LINUX_ZERO_PAGE_DEFAULT + 0x100; /* inside the zero page */
	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "overlaps"));
	p.cmdline_addr = 0xb8000; /* the ISA hole */
	assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), -ERANGE);
	assert_untouched();
	assert_int_equal(virq_linux_load(NULL, &p, &e, err, sizeof(err)), -EINVAL);
}

/* Reads a whole file (bounded); NULL if absent. */
static uint8_t *slurp(const char *path, size_t *len, size_t max)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;

	if (!f)
		return NULL;
	b = malloc(max);
	*len = b ? fread(b, 1, max, f) : 0;
	fclose(f);
	return b;
}

static void test_debian_kernel(void **state)
{
	glob_t g;
	char cmd[600], out[512] = "", want[128], *v;
	struct virq_linux_info li;
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN] = "";
	const char *path;
	size_t len = 0;
	uint8_t *k, *big;
	FILE *f;

	if (glob("/boot/vmlinuz-*-amd64", 0, NULL, &g) || !g.gl_pathc) {
		VIRQ_SKIP("no /boot/vmlinuz-*-amd64 on this host");
		return;
	}
	path = g.gl_pathv[0];
	k = slurp(path, &len, 64 * MiB);
	if (!k || !len) {
		free(k);
		globfree(&g);
		VIRQ_SKIP("the Debian kernel is not readable");
		return;
	}
	assert_int_equal(virq_linux_parse(k, len, &li, err, sizeof(err)), 0);
	/* Debian 12's 6.1: protocol 2.15, 64-bit entry, relocatable */
	assert_true(li.version >= 0x020c);
	assert_true(li.xloadflags & VIRQ_LINUX_XLF_KERNEL_64);
	assert_true(li.loadflags & VIRQ_LINUX_LOADED_HIGH);
	assert_true(li.relocatable);
	assert_true(li.init_size > li.kernel_size);
	assert_int_equal(li.setup_size, ((uint64_t)(k[0x1f1] ? k[0x1f1] : 4) + 1) * 512);
	/* kernel_version (0x20e) points at the version string, 0x200 bytes off: it is the
	 * one `file` prints, or at least the release in the file's name */
	v = (char *)k + 0x200 + get16(k + 0x20e);
	snprintf(want, sizeof(want), "%s", strrchr(path, '/') + strlen("/vmlinuz-"));
	assert_int_equal(strncmp(v, want, strlen(want)), 0);
	snprintf(cmd, sizeof(cmd), "file -b '%s' 2>/dev/null", path);
	f = popen(cmd, "r");
	if (f) {
		if (fgets(out, sizeof(out), f) && strstr(out, "version ")) {
			char *s = strstr(out, "version ") + 8;

			s[strcspn(s, " ")] = 0;
			assert_int_equal(strncmp(v, s, strlen(s)), 0);
			print_message("# file(1): version %s, header: protocol %u.%02u xloadflags "
				      "0x%x init_size 0x%x\n",
				      s, li.version >> 8, li.version & 0xff, li.xloadflags,
				      li.init_size);
		}
		pclose(f);
	}
	/* and it loads: 256 MiB of guest RAM (untouched pages stay unallocated) */
	big = calloc(1, 256 * MiB);
	assert_non_null(big);
	{
		struct virq_boot_mem m = { .host = big, .size = 256 * MiB };
		struct virq_linux_params p = { .kernel = k,
					       .kernel_size = len,
					       .initrd = k,
					       .initrd_size = 4096,
					       .cmdline = "console=ttyS0" };

		assert_int_equal(virq_linux_load(&m, &p, &e, err, sizeof(err)), 0);
		assert_int_equal(e.mode, VIRQ_BOOT_LINUX64);
		assert_int_equal(e.rip, e.kernel_start + 0x200);
		assert_int_equal(e.kernel_start, li.pref_address);
		assert_memory_equal(big + e.kernel_start, k + li.setup_size, 4096);
		assert_true(e.initrd_start >= e.kernel_end);
	}
	free(big);
	free(k);
	globfree(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_header_fields_parsed, refill),
		cmocka_unit_test_setup(test_64bit_load_zero_page_cmdline_e820_initrd, refill),
		cmocka_unit_test_setup(test_initrd_under_initrd_addr_max_and_reserved_ranges,
				       refill),
		cmocka_unit_test_setup(
			test_non_relocatable_and_old_protocol_use_1mib_and_32bit_entry, refill),
		cmocka_unit_test_setup(test_bad_images_refused_untouched, refill),
		cmocka_unit_test_setup(test_cmdline_size_is_the_bound_without_the_nul, refill),
		cmocka_unit_test_setup(test_arguments_and_placements_refused, refill),
		cmocka_unit_test(test_debian_kernel),
	};
	return cmocka_run_group_tests_name("boot_linux", tests, setup, teardown);
}
