// SPDX-License-Identifier: MIT
/*
 * The Multiboot v1 loader (Multiboot Specification 0.6.96) on synthetic ELF32, ELF64 and
 * a.out-kludge images, every bad image refused with guest RAM untouched, and on the real
 * test kernel of tests/guest/multiboot.
 */
#include "virq_test.h"
#include "virq/boot.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1ull << 20)
#define RAM (16 * MiB)
#define FILL 0x5a

static uint8_t *ram;
static uint8_t img[0x10000];

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

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

struct seg {
	uint64_t paddr, vaddr, filesz, memsz;
};

static void mb_header(size_t off, uint32_t flags)
{
	put32(img + off, 0x1badb002);
	put32(img + off + 4, flags);
	put32(img + off + 8, (uint32_t) - (0x1badb002u + flags));
}

/* ELF (class 1 or 2) with the Multiboot header at 0x200 and segment i's bytes at
 * 0x1000 * (i + 1), each byte (i + 1) * 16 + offset. */
static size_t make_elf(int cls, const struct seg *s, size_t n, uint64_t entry)
{
	size_t phoff = cls == 1 ? 52 : 64, phsz = cls == 1 ? 32 : 56, end = 0;

	memset(img, 0, sizeof(img));
	memcpy(img, "\177ELF", 4);
	img[4] = (uint8_t)cls;
	img[5] = 1;
	img[6] = 1;
	put16(img + 16, 2);
	put16(img + 18, cls == 1 ? 3 : 62);
	put32(img + 20, 1);
	if (cls == 1) {
		put32(img + 24, (uint32_t)entry);
		put32(img + 28, (uint32_t)phoff);
		put16(img + 40, 52);
		put16(img + 42, (uint16_t)phsz);
		put16(img + 44, (uint16_t)n);
	} else {
		put64(img + 24, entry);
		put64(img + 32, phoff);
		put16(img + 52, 64);
		put16(img + 54, (uint16_t)phsz);
		put16(img + 56, (uint16_t)n);
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t *ph = img + phoff + i * phsz;
		size_t off = 0x1000 * (i + 1);

		put32(ph, 1);
		if (cls == 1) {
			put32(ph + 4, (uint32_t)off);
			put32(ph + 8, (uint32_t)s[i].vaddr);
			put32(ph + 12, (uint32_t)s[i].paddr);
			put32(ph + 16, (uint32_t)s[i].filesz);
			put32(ph + 20, (uint32_t)s[i].memsz);
		} else {
			put64(ph + 8, off);
			put64(ph + 16, s[i].vaddr);
			put64(ph + 24, s[i].paddr);
			put64(ph + 32, s[i].filesz);
			put64(ph + 40, s[i].memsz);
		}
		for (size_t j = 0; j < s[i].filesz && off + j < sizeof(img); j++)
			img[off + j] = (uint8_t)((i + 1) * 16 + j);
		if (off + s[i].filesz > end)
			end = off + s[i].filesz;
	}
	mb_header(0x200, VIRQ_MULTIBOOT_MEMORY_INFO | VIRQ_MULTIBOOT_PAGE_ALIGN);
	return end > sizeof(img) ? sizeof(img) : end;
}

/* a.out kludge: header at offset 0x40 of a 0x2000-byte file loaded at 1 MiB, 0x3000 of
 * bss after it, entry 0x100100. */
static size_t make_aout(void)
{
	memset(img, 0, sizeof(img));
	for (size_t i = 0; i < 0x2000; i++)
		img[i] = (uint8_t)(i * 3);
	mb_header(0x40, VIRQ_MULTIBOOT_AOUT_KLUDGE | VIRQ_MULTIBOOT_MEMORY_INFO);
	put32(img + 0x40 + 12, 0x100040); /* header_addr */
	put32(img + 0x40 + 16, 0x100000); /* load_addr */
	put32(img + 0x40 + 20, 0x102000); /* load_end_addr */
	put32(img + 0x40 + 24, 0x105000); /* bss_end_addr */
	put32(img + 0x40 + 28, 0x100100); /* entry_addr */
	return 0x2000;
}

static int setup(void **state)
{
	ram = malloc(RAM);
	return ram ? 0 : -1;
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

static const struct seg two[] = {
	{ 0x100000, 0x100000, 0x800, 0x3000 }, /* .text + .bss */
	{ 0x200000, 0x200000, 0x100, 0x100 },
};

static void test_elf32_segments_info_block_modules_mmap(void **state)
{
	size_t len = make_elf(1, two, 2, 0x100010);
	static const uint8_t m1[5000] = { 1, 2, 3 }, m2[10] = { 9 };
	const struct virq_multiboot_module mods[] = { { m1, sizeof(m1), "initrd.gz" },
						      { m2, sizeof(m2), NULL } };
	struct virq_boot_mem m = mem();
	struct virq_multiboot_params p = { .kernel = img,
					   .kernel_size = len,
					   .name = "test.elf",
					   .append = "console=ttyS0 x=1",
					   .modules = mods,
					   .n_modules = 2 };
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN] = "";
	const uint8_t *ib, *mod, *mm;

	assert_int_equal(virq_multiboot_load(&m, &p, &e, err, sizeof(err)), 0);
	assert_int_equal(e.mode, VIRQ_BOOT_MULTIBOOT);
	assert_int_equal(e.rip, 0x100010);
	assert_int_equal(e.eax, 0x2badb002);
	assert_int_equal(e.kernel_start, 0x100000);
	assert_int_equal(e.kernel_end, 0x200100);
	/* filesz copied, memsz - filesz zeroed, nothing past memsz */
	assert_memory_equal(ram + 0x100000, img + 0x1000, 0x800);
	for (size_t i = 0x800; i < 0x3000; i++)
		assert_int_equal(ram[0x100000 + i], 0);
	assert_int_equal(ram[0x103000], FILL);
	assert_memory_equal(ram + 0x200000, img + 0x2000, 0x100);

	ib = ram + e.ebx;
	assert_int_equal(e.ebx, e.boot_params);
	assert_int_equal(get32(ib), VIRQ_MBI_MEMORY | VIRQ_MBI_CMDLINE | VIRQ_MBI_MODS |
					    VIRQ_MBI_MMAP | VIRQ_MBI_LOADER_NAME);
	assert_int_equal(get32(ib + 4), 639);
	assert_int_equal(get32(ib + 8), (RAM - MiB) / 1024);
	assert_string_equal((const char *)ram + get32(ib + 16), "test.elf console=ttyS0 x=1");
	assert_string_equal((const char *)ram + get32(ib + 64), "virq");
	/* modules: page aligned, above the kernel, in order, each with its string */
	assert_int_equal(get32(ib + 20), 2);
	mod = ram + get32(ib + 24);
	assert_int_equal(get32(mod), 0x201000);
	assert_int_equal(get32(mod + 4), 0x201000 + sizeof(m1));
	assert_string_equal((const char *)ram + get32(mod + 8), "initrd.gz");
	assert_memory_equal(ram + 0x201000, m1, sizeof(m1));
	assert_int_equal(get32(mod + 16), 0x203000);
	assert_int_equal(get32(mod + 20), 0x203000 + sizeof(m2));
	assert_string_equal((const char *)ram + get32(mod + 24), "");
	assert_memory_equal(ram + 0x203000, m2, sizeof(m2));
	assert_int_equal(e.initrd_start, 0x201000);
	assert_true(e.ebx >= 0x204000 && (e.ebx & 0xfff) == 0);
	/* the memory map: size-prefixed entries, the default PC map of 16 MiB */
	assert_int_equal(get32(ib + 44), 4 * 24);
	mm = ram + get32(ib + 48);
	assert_int_equal(get32(mm), 20);
	assert_int_equal(get64(mm + 4), 0);
	assert_int_equal(get64(mm + 12), 0x9fc00);
	assert_int_equal(get32(mm + 20), 1);
	assert_int_equal(get32(mm + 72), 20);
	assert_int_equal(get64(mm + 72 + 4), MiB);
	assert_int_equal(get64(mm + 72 + 12), RAM - MiB);
	assert_int_equal(get32(mm + 72 + 20), 1);
}

static void test_cmdline_always_terminated_name_first(void **state)
{
	size_t len = make_elf(1, two, 2, 0x100010);
	struct virq_boot_mem m = mem();
	struct virq_multiboot_params p = { .kernel = img, .kernel_size = len };
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN];

	assert_int_equal(virq_multiboot_load(&m, &p, &e, err, sizeof(err)), 0);
	assert_string_equal((const char *)ram + e.cmdline, "kernel");
	assert_int_equal(get32(ram + e.ebx + 20), 0);
	refill(state);
	p.name = "k";
	p.append = "";
	assert_int_equal(virq_multiboot_load(&m, &p, &e, err, sizeof(err)), 0);
	assert_string_equal((const char *)ram + e.cmdline, "k");
}

static void test_elf64_and_higher_half_entry(void **state)
{
	const struct seg hh[] = { { 0x100000, 0xffffffff80100000ull, 0x400, 0x1000 } };
	size_t len = make_elf(2, hh, 1, 0xffffffff80100020ull);
	struct virq_boot_mem m = mem();
	struct virq_multiboot_params p = { .kernel = img, .kernel_size = len };
	struct virq_multiboot_info mi;
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN];

	assert_int_equal(virq_multiboot_parse(img, len, &m, &mi, err, sizeof(err)), 0);
	assert_int_equal(mi.elf_class, 2);
	assert_int_equal(mi.header_offset, 0x200);
	assert_int_equal(mi.entry, 0x100020); /* virtual entry translated to physical */
	assert_int_equal(virq_multiboot_load(&m, &p, &e, err, sizeof(err)), 0);
	assert_int_equal(e.rip, 0x100020);
	assert_memory_equal(ram + 0x100000, img + 0x1000, 0x400);
	assert_int_equal(ram[0x100400], 0);
	assert_int_equal(ram[0x100fff], 0);
}

static void test_aout_kludge_with_bss(void **state)
{
	size_t len = make_aout();
	struct virq_boot_mem m = mem();
	struct virq_multiboot_params p = { .kernel = img, .kernel_size = len };
	struct virq_multiboot_info mi;
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN];

	assert_int_equal(virq_multiboot_parse(img, len, NULL, &mi, err, sizeof(err)), 0);
	assert_true(mi.aout_kludge);
	assert_int_equal(mi.elf_class, 0);
	assert_int_equal(mi.load_start, 0x100000);
	assert_int_equal(mi.load_end, 0x105000);
	assert_int_equal(virq_multiboot_load(&m, &p, &e, err, sizeof(err)), 0);
	assert_int_equal(e.rip, 0x100100);
	assert_memory_equal(ram + 0x100000, img, 0x2000);
	for (size_t i = 0x102000; i < 0x105000; i++)
		assert_int_equal(ram[i], 0);
	/* load_end_addr 0: to the end of the file; bss_end_addr 0: no bss */
	put32(img + 0x40 + 20, 0);
	put32(img + 0x40 + 24, 0);
	assert_int_equal(virq_multiboot_parse(img, 0x1800, NULL, &mi, err, sizeof(err)), 0);
	assert_int_equal(mi.load_end, 0x101800);
}

static void test_header_search_rules(void **state)
{
	struct virq_multiboot_info mi;
	char err[VIRQ_BOOT_ERR_LEN];

	make_aout();
	memset(img, 0, 0x100);
	/* last aligned slot whose 32 bytes fit in 8192 */
	mb_header(8192 - 32, VIRQ_MULTIBOOT_AOUT_KLUDGE);
	put32(img + 8192 - 32 + 12, 0x100000 + 8192 - 32);
	put32(img + 8192 - 32 + 16, 0x100000);
	put32(img + 8192 - 32 + 20, 0); /* load_end_addr: the whole file */
	put32(img + 8192 - 32 + 24, 0); /* no bss */
	put32(img + 8192 - 32 + 28, 0x100000);
	if (virq_multiboot_parse(img, 0x4000, NULL, &mi, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(mi.header_offset, 8192 - 32);
	/* the address fields would cross 8192 */
	memset(img, 0, 0x4000);
	mb_header(8192 - 16, VIRQ_MULTIBOOT_AOUT_KLUDGE);
	assert_int_equal(virq_multiboot_parse(img, 0x4000, NULL, &mi, err, sizeof(err)), -EINVAL);
	/* at 8192: not searched */
	memset(img, 0, 0x4000);
	mb_header(8192, 0);
	assert_int_equal(virq_multiboot_parse(img, 0x4000, NULL, &mi, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "no header"));
	/* misaligned: not found */
	memset(img, 0, 0x4000);
	mb_header(0x102, 0);
	assert_int_equal(virq_multiboot_parse(img, 0x4000, NULL, &mi, err, sizeof(err)), -ENOEXEC);
	/* a bad checksum is skipped, the next valid header is taken */
	memset(img, 0, 0x4000);
	make_aout();
	mb_header(0x10, 0);
	img[0x18] ^= 1;
	assert_int_equal(virq_multiboot_parse(img, 0x2000, NULL, &mi, err, sizeof(err)), 0);
	assert_int_equal(mi.header_offset, 0x40);
	/* an unknown required flag (bit 3) is refused */
	mb_header(0x40, VIRQ_MULTIBOOT_AOUT_KLUDGE | (1u << 3));
	assert_int_equal(virq_multiboot_parse(img, 0x2000, NULL, &mi, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "bits 3-15"));
	/* the video-mode request (bit 2) is accepted (no video info in the block) */
	mb_header(0x40, VIRQ_MULTIBOOT_AOUT_KLUDGE | VIRQ_MULTIBOOT_VIDEO_MODE);
	assert_int_equal(virq_multiboot_parse(img, 0x2000, NULL, &mi, err, sizeof(err)), 0);
}

static void expect_refused(size_t len, const struct virq_boot_mem *m, int want, const char *needle)
{
	static const uint8_t mod[16];
	const struct virq_multiboot_module mods[] = { { mod, sizeof(mod), "m" } };
	struct virq_multiboot_params p = {
		.kernel = img, .kernel_size = len, .modules = mods, .n_modules = 1, .append = "a"
	};
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN] = "";

	if (virq_multiboot_load(m, &p, &e, err, sizeof(err)) != want)
		fail_msg("want %d: %s", want, err);
	if (!strstr(err, needle))
		fail_msg("message \"%s\" lacks \"%s\"", err, needle);
	assert_untouched();
}

static void test_bad_elf_images_refused_untouched(void **state)
{
	struct virq_boot_mem m = mem();
	struct virq_boot_range res[] = { { 0x200000, 0x1000 } };
	struct seg s[2];
	size_t len;

	len = make_elf(1, two, 2, 0x100010);
	expect_refused(0x100, &m, -ENOEXEC, "no header"); /* truncated before the header */
	expect_refused(0x1800, &m, -EINVAL, "truncated"); /* segment 1 beyond the file */
	img[0] = 'X';
	expect_refused(len, &m, -ENOEXEC, "not an ELF");
	len = make_elf(1, two, 2, 0x100010);
	put16(img + 18, 40); /* ARM */
	expect_refused(len, &m, -ENOEXEC, "x86");
	len = make_elf(1, two, 2, 0x100010);
	put16(img + 44, 2000); /* program headers beyond the file */
	expect_refused(len, &m, -EINVAL, "program headers");
	len = make_elf(1, two, 2, 0x100010);
	put16(img + 42, 16);
	expect_refused(len, &m, -EINVAL, "phentsize");
	len = make_elf(1, two, 2, 0x500000);
	expect_refused(len, &m, -EINVAL, "entry");
	memcpy(s, two, sizeof(s));
	s[1].paddr = 0x101000; /* inside segment 0's bss */
	len = make_elf(1, s, 2, 0x100010);
	expect_refused(len, &m, -EINVAL, "overlap");
	memcpy(s, two, sizeof(s));
	s[0].filesz = 0x4000; /* filesz > memsz */
	len = make_elf(1, s, 1, 0x100010);
	expect_refused(len, &m, -EINVAL, "filesz");
	memcpy(s, two, sizeof(s));
	s[1].paddr = RAM - 0x80; /* past the end of RAM */
	len = make_elf(1, s, 2, 0x100010);
	expect_refused(len, &m, -ERANGE, "end of guest RAM");
	memcpy(s, two, sizeof(s));
	s[1].paddr = 0xb8000; /* the VGA hole */
	len = make_elf(1, s, 2, 0x100010);
	expect_refused(len, &m, -ERANGE, "ISA hole");
	s[1].paddr = 0xfffffff0ull; /* crosses 4 GiB (ELF64) */
	s[1].memsz = s[1].filesz = 0x100;
	len = make_elf(2, s, 2, 0x100010);
	expect_refused(len, &m, -ERANGE, "4 GiB");
	len = make_elf(1, two, 2, 0x100010);
	m.reserved = res;
	m.n_reserved = 1;
	expect_refused(len, &m, -ERANGE, "reserved");
	/* no room for the module and info block */
	memcpy(s, two, sizeof(s));
	s[1].paddr = RAM - 0x1000;
	s[1].memsz = s[1].filesz = 0x1000;
	m.n_reserved = 0;
	len = make_elf(1, s, 2, 0x100010);
	expect_refused(len, &m, -E2BIG, "no room");
	/* 65 PT_LOAD segments */
	len = make_elf(1, two, 1, 0x100010);
	for (int i = 0; i < 65; i++) {
		memcpy(img + 52 + 32 * i, img + 52, 32);
		put32(img + 52 + 32 * i + 12, 0x100000 + 0x10000 * (uint32_t)i);
	}
	put16(img + 44, 65);
	mb_header(0xf00, 0); /* the copies covered the one at 0x200 */
	expect_refused(0x2000, &m, -E2BIG, "segments");
}

static void test_bad_aout_and_arguments_refused_untouched(void **state)
{
	struct virq_boot_mem m = mem();
	static const uint8_t one[1];
	struct virq_multiboot_module many[VIRQ_MULTIBOOT_MAX_MODULES + 1];
	struct virq_multiboot_module big = { one, RAM, NULL };
	struct virq_multiboot_params p = { .kernel = img };
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN];
	char *longstr;
	size_t len;

	len = make_aout();
	put32(img + 0x40 + 20, 0x100000); /* load_end <= load_addr */
	expect_refused(len, &m, -EINVAL, "load_end_addr");
	len = make_aout();
	put32(img + 0x40 + 20, 0x180000); /* load_end past the file */
	expect_refused(len, &m, -EINVAL, "truncated");
	len = make_aout();
	put32(img + 0x40 + 24, 0x101000); /* bss_end below load_end */
	expect_refused(len, &m, -EINVAL, "bss_end_addr");
	len = make_aout();
	put32(img + 0x40 + 12, 0x200040); /* load before the file's start */
	expect_refused(len, &m, -EINVAL, "before the file");
	len = make_aout();
	put32(img + 0x40 + 16, 0xfffff000); /* header_addr < load_addr */
	expect_refused(len, &m, -EINVAL, "load_addr");
	len = make_aout();
	put32(img + 0x40 + 28, 0x200000); /* entry beyond the image */
	expect_refused(len, &m, -EINVAL, "entry");

	len = make_aout();
	p.kernel_size = len;
	memset(many, 0, sizeof(many));
	p.modules = many;
	p.n_modules = VIRQ_MULTIBOOT_MAX_MODULES + 1;
	assert_int_equal(virq_multiboot_load(&m, &p, &e, err, sizeof(err)), -E2BIG);
	p.modules = &big;
	p.n_modules = 1;
	assert_int_equal(virq_multiboot_load(&m, &p, &e, err, sizeof(err)), -E2BIG);
	longstr = malloc(8192);
	assert_non_null(longstr);
	memset(longstr, 'a', 8191);
	longstr[8191] = 0;
	p.n_modules = 0;
	p.append = longstr;
	assert_int_equal(virq_multiboot_load(&m, &p, &e, err, sizeof(err)), -E2BIG);
	free(longstr);
	p.append = NULL;
	assert_int_equal(virq_multiboot_load(NULL, &p, &e, err, sizeof(err)), -EINVAL);
	assert_untouched();
}

static void test_real_test_kernel(void **state)
{
	const char *path = virq_test_bin("tests/guest/multiboot/kernel.elf");
	struct virq_boot_mem m = mem();
	struct virq_multiboot_info mi;
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN] = "";
	static uint8_t k[1 << 16];
	const uint8_t *magic = NULL;
	size_t len;
	FILE *f = fopen(path, "rb");

	if (!f)
		fail_msg("%s missing: tests/guest/module.mk builds it before this test", path);
	len = fread(k, 1, sizeof(k), f);
	fclose(f);
	assert_true(len > 52 && len < sizeof(k));
	for (size_t o = 0; o + 4 <= len && !magic; o += 4)
		if (get32(k + o) == 0x1badb002)
			magic = k + o;
	assert_non_null(magic);
	assert_int_equal(virq_multiboot_parse(k, len, &m, &mi, err, sizeof(err)), 0);
	assert_int_equal(mi.elf_class, 1);
	assert_false(mi.aout_kludge);
	assert_int_equal(mi.header_offset, magic - k);
	assert_int_equal(mi.flags, 3);
	assert_int_equal(mi.load_start, 0x100000); /* tests/guest/multiboot/kernel.ld */
	assert_int_equal(mi.entry, get32(k + 24)); /* e_entry, physical already */
	struct virq_multiboot_params p = {
		.kernel = k, .kernel_size = len, .name = "kernel.elf", .append = "hello"
	};
	assert_int_equal(virq_multiboot_load(&m, &p, &e, err, sizeof(err)), 0);
	/* the .multiboot section comes first at 1 MiB */
	assert_memory_equal(ram + 0x100000, magic, 12);
	/* its 16 KiB stack and 4 KiB array are .bss: zeroed up to the end */
	for (uint64_t a = mi.load_end - 0x1000; a < mi.load_end; a++)
		assert_int_equal(ram[a], 0);
	assert_true(mi.load_end - mi.load_start > 0x5000);
	assert_string_equal((const char *)ram + e.cmdline, "kernel.elf hello");
	assert_int_equal(e.eax, 0x2badb002);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_elf32_segments_info_block_modules_mmap, refill),
		cmocka_unit_test_setup(test_cmdline_always_terminated_name_first, refill),
		cmocka_unit_test_setup(test_elf64_and_higher_half_entry, refill),
		cmocka_unit_test_setup(test_aout_kludge_with_bss, refill),
		cmocka_unit_test_setup(test_header_search_rules, refill),
		cmocka_unit_test_setup(test_bad_elf_images_refused_untouched, refill),
		cmocka_unit_test_setup(test_bad_aout_and_arguments_refused_untouched, refill),
		cmocka_unit_test_setup(test_real_test_kernel, refill),
	};
	return cmocka_run_group_tests_name("boot_multiboot", tests, setup, teardown);
}
