// SPDX-License-Identifier: MIT
/*
 * The test kernel's C part (freestanding, -m32): checks the Multiboot entry state and the
 * info block (section 3.3), then the PC devices a VMM gives such a kernel, by polling (no
 * interrupt is taken, so it also runs where 32-bit code cannot iret): QEMU's fw_cfg
 * (signature, ID, CPU count = `cpus=N` of the command line), pc-testdev's scratch
 * register, the 8254 PIT (counter 0 latched, counter 2 gated by port 0x61 as Linux's
 * pit_calibrate_tsc uses it) and the MC146818 RTC (VRT, the update cycle, the periodic
 * flag). It prints one line per check on COM1, a summary, and leaves through QEMU's
 * isa-debug-exit port 0xf4 with the number of failed checks (status 1: all passed).
 * It runs under virqd's VMM (tests/nested/test_boot_kernels.sh) and QEMU
 * (tests/e2e/test_mbtest_qemu.sh); the unit tests load it (test_boot_multiboot.c).
 */
typedef unsigned int u32;
typedef unsigned char u8;

void mb_main(u32 magic, const u32 *info);

static volatile u32 zeroed[1024]; /* in .bss: the loader must zero it (memsz > filesz) */

typedef unsigned short u16;

static void outb(unsigned short port, u8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void outw(unsigned short port, u16 v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static void outl(unsigned short port, u32 v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static u8 inb(unsigned short port)
{
	u8 v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static u32 inl(unsigned short port)
{
	u32 v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void puts_com1(const char *s)
{
	while (*s)
		outb(0x3f8, (u8)*s++);
}

static int nchecks;

static void check(int ok, const char *what, int *fails)
{
	puts_com1(ok ? "ok - " : "not ok - ");
	puts_com1(what);
	puts_com1("\n");
	*fails += !ok;
	nchecks++;
}

static void put_dec(u32 v)
{
	char b[12];
	int i = 11;

	b[i] = 0;
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	puts_com1(b + i);
}

/* The value of `key=` in the command line, or def. */
static u32 cmdline_num(const char *cmd, const char *key, u32 def)
{
	for (const char *p = cmd; p && *p; p++) {
		const char *k = key, *q = p;

		while (*k && *q == *k) {
			k++;
			q++;
		}
		if (*k || (p != cmd && p[-1] != ' '))
			continue;
		u32 v = 0;

		while (*q >= '0' && *q <= '9')
			v = v * 10 + (u32)(*q++ - '0');
		return v;
	}
	return def;
}

static u8 cmos(u8 idx)
{
	outb(0x70, idx);
	return inb(0x71);
}

static void fw_cfg_checks(u32 cpus, int *fails)
{
	char sig[5];
	u32 id = 0;
	u16 n;

	outw(0x510, 0x0000); /* FW_CFG_SIGNATURE */
	for (int i = 0; i < 4; i++)
		sig[i] = (char)inb(0x511);
	sig[4] = 0;
	check(sig[0] == 'Q' && sig[1] == 'E' && sig[2] == 'M' && sig[3] == 'U',
	      "fw_cfg signature QEMU", fails);
	outw(0x510, 0x0001); /* FW_CFG_ID */
	for (int i = 0; i < 4; i++)
		id |= (u32)inb(0x511) << (8 * i);
	check(id & 1, "fw_cfg ID has the traditional interface", fails);
	outw(0x510, 0x0005); /* FW_CFG_NB_CPUS */
	n = inb(0x511);
	n |= (u16)(inb(0x511) << 8);
	check(n == cpus, "fw_cfg NB_CPUS is the command line's cpus=", fails);
}

static void testdev_checks(int *fails)
{
	outl(0xe0, 0x12345678);
	check(inl(0xe0) == 0x12345678, "pc-testdev scratch holds a 32-bit value", fails);
	outb(0xe0, 0xab);
	check(inl(0xe0) == 0x123456ab, "pc-testdev byte write changes one lane", fails);
}

static void pit_checks(int *fails)
{
	u32 i, lo, hi, v;

	/* Counter 0, mode 2 (rate generator), divisor 11932 (100 Hz), LSB then MSB. */
	outb(0x43, 0x34);
	outb(0x40, 11932 & 0xff);
	outb(0x40, 11932 >> 8);
	for (i = 0; i < 64; i++) /* let it count a little: port reads take real time */
		(void)inb(0x61);
	outb(0x43, 0x00); /* counter latch command, counter 0 */
	lo = inb(0x40);
	hi = inb(0x40);
	v = lo | hi << 8;
	check(v > 0 && v <= 11932, "PIT counter 0 latched value within its divisor", fails);
	/* Stop counter 0 again: a control word alone leaves it in mode 0 without a count
	 * (8254 datasheet: counting starts only once the count is written). */
	outb(0x43, 0x30);
	/* Linux's pit_calibrate_tsc: gate counter 2 through port 0x61 bit 0 with the speaker
	 * off (bit 1), mode 0, and poll OUT2 (port 0x61 bit 5) until the count runs out. */
	outb(0x61, (u8)((inb(0x61) & ~0x02) | 0x01));
	outb(0x43, 0xb0); /* counter 2, LSB then MSB, mode 0 */
	outb(0x42, 0x9b); /* 1193 CLKs: 1 ms */
	outb(0x42, 0x04);
	check(!(inb(0x61) & 0x20), "PIT OUT2 low after counter 2 is loaded in mode 0", fails);
	for (i = 0; i < 50000000 && !(inb(0x61) & 0x20); i++)
		;
	check(inb(0x61) & 0x20, "PIT OUT2 goes high when counter 2 reaches 0", fails);
}

static void rtc_checks(int *fails)
{
	u32 i;
	u8 s0, s1, b;

	check(cmos(0x0d) & 0x80, "RTC register D reports valid RAM and time (VRT)", fails);
	b = cmos(0x0b);
	check(b & 0x02, "RTC in 24-hour mode as a BIOS leaves it", fails);
	/* An update cycle every second: UIP is seen set, and the seconds advance. */
	for (i = 0; i < 50000000 && !(cmos(0x0a) & 0x80); i++)
		;
	check(cmos(0x0a) & 0x80 || i < 50000000, "RTC update-in-progress seen", fails);
	while (cmos(0x0a) & 0x80)
		;
	s0 = cmos(0x00);
	for (i = 0; i < 200000000 && cmos(0x00) == s0; i++)
		;
	s1 = cmos(0x00);
	check(s1 != s0, "RTC seconds advance", fails);
	/* The periodic flag (register C bit 6) sets at the rate of register A, and reading C
	 * clears it. The datasheet sets PF whatever PIE says; QEMU only with PIE, so PIE is
	 * set here, and IF stays clear (cli at entry): polled, never taken. */
	outb(0x70, 0x0a);
	outb(0x71, 0x26); /* 32.768 kHz, rate 6: 1024 Hz */
	outb(0x70, 0x0b);
	outb(0x71, (u8)(b | 0x40));
	(void)cmos(0x0c);
	for (i = 0; i < 50000000 && !(cmos(0x0c) & 0x40); i++)
		;
	check(i < 50000000, "RTC periodic flag sets in register C", fails);
	outb(0x70, 0x0b);
	outb(0x71, b);
	(void)cmos(0x0c);
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
	{
		const char *cmd = flags & 4 ? (const char *)info[4] : "";
		u32 skip = cmdline_num(cmd, "skipdev=", 0);

		fw_cfg_checks(cmdline_num(cmd, "cpus=", 1), &fails);
		testdev_checks(&fails);
		if (!skip) {
			pit_checks(&fails);
			rtc_checks(&fails);
		}
	}
	puts_com1("virq-mbtest: ");
	put_dec((u32)nchecks);
	puts_com1(" checks, ");
	put_dec((u32)fails);
	puts_com1(" failed\n");
	outb(0xf4, (u8)fails);
	for (;;)
		__asm__ volatile("hlt");
}
