// SPDX-License-Identifier: MIT
/*
 * The test kernel's C part (freestanding, -m32): checks the Multiboot entry state and the
 * info block (section 3.3), prints one line per check on COM1 and leaves through QEMU's
 * isa-debug-exit port 0xf4 (code 0: every check passed). It runs under a VMM; the unit
 * tests only load it (tests/unit/test_boot_multiboot.c).
 */
typedef unsigned int u32;
typedef unsigned char u8;

void mb_main(u32 magic, const u32 *info);

static volatile u32 zeroed[1024]; /* in .bss: the loader must zero it (memsz > filesz) */

static void outb(unsigned short port, u8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void puts_com1(const char *s)
{
	while (*s)
		outb(0x3f8, (u8)*s++);
}

static void check(int ok, const char *what, int *fails)
{
	puts_com1(ok ? "ok - " : "not ok - ");
	puts_com1(what);
	puts_com1("\n");
	*fails += !ok;
}

void mb_main(u32 magic, const u32 *info)
{
	int fails = 0, bss_ok = 1;
	u32 flags = info[0];

	for (u32 i = 0; i < sizeof(zeroed) / sizeof(zeroed[0]); i++)
		bss_ok &= zeroed[i] == 0;
	check(magic == 0x2badb002, "EAX is 0x2BADB002", &fails);
	check(flags & 1, "mem_lower/mem_upper present", &fails);
	check(flags & 1 && info[1] >= 600 && info[1] <= 640, "mem_lower in KiB", &fails);
	check(flags & 4 && *(const char *)info[4] != 0, "command line present", &fails);
	check(flags & (1 << 6) && info[11] && info[11] % 24 == 0, "memory map present", &fails);
	check(bss_ok, ".bss zeroed", &fails);
	outb(0xf4, (u8)(fails ? 1 : 0));
	for (;;)
		__asm__ volatile("hlt");
}
