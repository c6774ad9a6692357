// SPDX-License-Identifier: MIT
/*
 * virq-mbtest, the test kernel's C part (freestanding, -m32, one CPU, 32-bit protected
 * mode, paging off). It checks the Multiboot entry state and info block (Multiboot
 * Specification 0.6.96, 3.2 and 3.3), then the PC platform devices a VMM gives it:
 *
 *   fw_cfg        QEMU docs/specs/fw_cfg.rst, traditional I/O interface (0x510/0x511)
 *   pc-testdev    QEMU hw/misc/pc-testdev.c: scratch port 0xe0, ISA IRQ lines at 0x2000+n
 *   8259A PICs    ICW1-4 to base 0x20/0x28, cascade on IRQ2, EOI per interrupt
 *   8254 PIT      counter 0 mode 2 at 100 Hz (IRQ0), latch and read-back; counter 2 gated
 *                 by port 0x61 as Linux's pit_calibrate_tsc drives it
 *   MC146818 RTC  time, registers B and D, periodic interrupt (IRQ8) acked by reading C
 *   KVM           hypercalls through vmcall (Documentation/virt/kvm/x86/hypercalls.rst),
 *                 where CPUID says the hypervisor is KVM; "ok - ... # SKIP not KVM" else
 *
 * One TAP-like line per check on COM1 ("ok - ..." or "not ok - ... (got X want Y)"), then
 * "virq-mbtest: N checks, F failed" and a byte write of F to QEMU's isa-debug-exit port
 * 0xf4 (QEMU then exits with status (F << 1) | 1).
 *
 * The command line's first word is the kernel's name; the options after it:
 *   cpus=N             the CPU count fw_cfg must report (key 0x0005), default 1
 *   skip=G1,G2,...     skip groups: fwcfg, testdev, pit, pit2, rtc, testirq, hypercall
 *
 * Every wait is bounded: by a TSC delta (rdtsc only bounds loops, no check measures time)
 * and by an iteration count in case the TSC does not move. A wait that runs out prints
 * "not ok ... (timeout ...)". Waits spin (pause) unless the PIT has been seen ticking at
 * 100 Hz, in which case they hlt (the PIT wakes the CPU every 10 ms).
 *
 * The unit tests load it (tests/unit/test_boot_multiboot.c); tests/e2e/test_mbtest_qemu.sh
 * runs it under QEMU.
 */
#include <stdarg.h>

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

struct isr_frame {
	u32 edi, esi, ebp, esp, ebx, edx, ecx, eax; /* pushal */
	u32 vector, error;
	u32 eip, cs, eflags;
};

void mb_main(u32 magic, const u32 *info);
void isr_dispatch(struct isr_frame *f);
void *memset(void *d, int c, unsigned int n);
void *memcpy(void *d, const void *s, unsigned int n);
extern const u32 isr_stubs[256];

#define COM1 0x3f8
#define DEBUG_EXIT 0xf4
#define FW_CFG_SEL 0x510
#define FW_CFG_DATA 0x511
#define TESTDEV_SCRATCH 0xe0
#define TESTDEV_IRQ 0x2000
#define PIC1 0x20
#define PIC2 0xa0
#define PIT_CH0 0x40
#define PIT_CH2 0x42
#define PIT_CTL 0x43
#define PORT61 0x61
#define CMOS_IDX 0x70
#define CMOS_DATA 0x71

#define VEC_PIC1 0x20
#define VEC_PIC2 0x28
#define VEC_PIT (VEC_PIC1 + 0)
#define VEC_TESTIRQ (VEC_PIC1 + TESTIRQ_LINE)
#define VEC_RTC (VEC_PIC2 + 0)
#define TESTIRQ_LINE 5

#define PIT_DIVISOR 11932 /* 1193182 Hz / 11932 = 100 Hz */
#define PIT_TICKS_WANT 20
#define RTC_IRQS_WANT 10

/* TSC bounds: one "second" is 4e9 ticks, a second or more at any TSC rate up to 4 GHz. */
#define TSC_SEC 4000000000ull
#define SPIN_MAX (1u << 27)

static volatile u32 zeroed[1024]; /* in .bss: the loader must zero it (memsz > filesz) */
static volatile u32 irq_count[256];
static volatile u32 rtc_c_last, rtc_c_flags_ok;
static volatile int pit_alive; /* PIT IRQ0 proven periodic and left running: hlt is safe */
static int checks, fails, finished;

struct gate {
	u16 off_lo, sel;
	u8 zero, type;
	u16 off_hi;
} __attribute__((packed));
static struct gate idt[256] __attribute__((aligned(8)));
static struct {
	u16 limit;
	u32 base;
} __attribute__((packed)) idt_desc;

/* --- port I/O, CPU ----------------------------------------------------------------- */
static inline void outb(u16 port, u8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(u16 port, u16 v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(u16 port, u32 v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline u32 inl(u16 port)
{
	u32 v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}
static inline void sti(void)
{
	__asm__ volatile("sti" ::: "memory");
}
static inline void cli(void)
{
	__asm__ volatile("cli" ::: "memory");
}
static inline void pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}
static inline void hlt(void)
{
	__asm__ volatile("hlt" ::: "memory");
}
static inline void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}
/* KVM's hypercall ABI (hypercalls.rst): the number in EAX, arguments in EBX, ECX, EDX,
 * ESI, the result in EAX, nothing else clobbered. In 32-bit mode KVM truncates all of them
 * to 32 bits. vmcall is Intel's instruction; KVM on AMD takes the #UD, emulates it and
 * patches it to vmmcall in place. */
static inline u32 kvm_hypercall(u32 nr, u32 a0, u32 a1)
{
	u32 ret;

	__asm__ volatile("vmcall" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1) : "memory");
	return ret;
}

void *memset(void *d, int c, unsigned int n)
{
	u8 *p = d;

	while (n--)
		*p++ = (u8)c;
	return d;
}

void *memcpy(void *d, const void *s, unsigned int n)
{
	u8 *p = d;
	const u8 *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

/* --- output ------------------------------------------------------------------------ */
static void putc_com1(char c)
{
	/* LSR bit 5: transmit holding register empty; bounded so an absent UART cannot hang */
	for (u32 i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		pause();
	outb(COM1, (u8)c);
}

static void puts_com1(const char *s)
{
	while (*s)
		putc_com1(*s++);
}

struct buf {
	char *p;
	u32 n, len;
};

static void buf_putc(struct buf *b, char c)
{
	if (b->len + 1 < b->n)
		b->p[b->len++] = c;
	b->p[b->len] = 0;
}

static void buf_num(struct buf *b, u32 v, u32 base)
{
	char t[12];
	int i = 0;

	do {
		t[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (i)
		buf_putc(b, t[--i]);
}

/* %s %u %d %x (0x-prefixed) %c */
static void vformat(struct buf *b, const char *f, va_list ap)
{
	for (; *f; f++) {
		if (*f != '%') {
			buf_putc(b, *f);
			continue;
		}
		switch (*++f) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			while (*s)
				buf_putc(b, *s++);
			break;
		}
		case 'u':
			buf_num(b, va_arg(ap, u32), 10);
			break;
		case 'd': {
			int v = va_arg(ap, int);

			if (v < 0) {
				buf_putc(b, '-');
				v = -v;
			}
			buf_num(b, (u32)v, 10);
			break;
		}
		case 'x':
			buf_putc(b, '0');
			buf_putc(b, 'x');
			buf_num(b, va_arg(ap, u32), 16);
			break;
		case 'c':
			buf_putc(b, (char)va_arg(ap, int));
			break;
		case 0:
			return;
		default:
			buf_putc(b, *f);
		}
	}
}

static void print(const char *f, ...)
{
	char s[256];
	struct buf b = { s, sizeof(s), 0 };
	va_list ap;

	s[0] = 0;
	va_start(ap, f);
	vformat(&b, f, ap);
	va_end(ap);
	puts_com1(s);
}

/* One check: "ok - what" or "not ok - what (detail)"; detail is a format. */
static int check(int ok, const char *what, const char *detail, ...)
{
	char s[256];
	struct buf b = { s, sizeof(s), 0 };
	va_list ap;

	s[0] = 0;
	va_start(ap, detail);
	vformat(&b, detail, ap);
	va_end(ap);
	checks++;
	fails += !ok;
	if (ok)
		print("ok - %s\n", what);
	else
		print("not ok - %s (%s)\n", what, s);
	return ok;
}

static void skipped(const char *group, const char *what)
{
	checks++;
	print("ok - %s # SKIP skip=%s on the command line\n", what, group);
}

static void finish(void)
{
	u32 code = fails > 0x7f ? 0x7f : (u32)fails;

	cli();
	finished = 1;
	print("virq-mbtest: %u checks, %u failed\n", (u32)checks, (u32)fails);
	outb(DEBUG_EXIT, (u8)code);
	for (;;)
		hlt();
}

/* --- bounded waits ----------------------------------------------------------------- */
/* Wait until *ctr >= want; 1 if it got there, 0 on timeout. */
static int wait_count(volatile u32 *ctr, u32 want, u64 tsc_max)
{
	u64 t0 = rdtsc();

	for (u32 i = 0; i < SPIN_MAX; i++) {
		if (*ctr >= want)
			return 1;
		if (rdtsc() - t0 > tsc_max)
			break;
		if (pit_alive)
			hlt(); /* IF is set: the PIT wakes us within 10 ms */
		else
			pause();
	}
	return *ctr >= want;
}

/* Spin for about tsc_ticks (or until the iteration bound). */
static void delay(u64 tsc_ticks)
{
	u64 t0 = rdtsc();

	for (u32 i = 0; i < SPIN_MAX && rdtsc() - t0 < tsc_ticks; i++)
		pause();
}

/* --- command line ------------------------------------------------------------------ */
static u32 opt_cpus = 1;
static char opt_skip[128];

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

static int starts(const char *s, const char *p)
{
	while (*p)
		if (*s++ != *p++)
			return 0;
	return 1;
}

/* Is group g in the comma list opt_skip? */
static int skip(const char *g)
{
	const char *s = opt_skip;

	while (*s) {
		const char *a = g;

		while (*a && *s == *a)
			a++, s++;
		if (!*a && (*s == ',' || !*s))
			return 1;
		while (*s && *s != ',')
			s++;
		if (*s == ',')
			s++;
	}
	return 0;
}

/* Parse "name opt opt ..."; returns 0 on a malformed option, the first word in name. */
static int parse_cmdline(const char *c, char *name, u32 name_len, char *bad, u32 bad_len)
{
	u32 n = 0;
	int ok = 1;

	while (is_space(*c))
		c++;
	while (*c && !is_space(*c)) {
		if (n + 1 < name_len)
			name[n++] = *c;
		c++;
	}
	name[n] = 0;
	while (*c) {
		while (is_space(*c))
			c++;
		if (!*c)
			break;
		const char *tok = c;
		u32 k = 0;

		while (*c && !is_space(*c))
			c++;
		if (starts(tok, "cpus=")) {
			u32 v = 0, digits = 0;
			const char *d;

			for (d = tok + 5; *d >= '0' && *d <= '9' && digits < 6; d++, digits++)
				v = v * 10 + (u32)(*d - '0');
			if (!digits || v == 0 || d != c) {
				ok = 0;
				for (k = 0; tok + k < c && k + 1 < bad_len; k++)
					bad[k] = tok[k];
				bad[k] = 0;
			} else {
				opt_cpus = v;
			}
		} else if (starts(tok, "skip=")) {
			for (tok += 5; tok < c && k + 1 < sizeof(opt_skip); tok++)
				opt_skip[k++] = *tok;
			opt_skip[k] = 0;
		} else {
			char unk[32];

			for (k = 0; tok + k < c && k + 1 < sizeof(unk); k++)
				unk[k] = tok[k];
			unk[k] = 0;
			print("# note: unknown option '%s' ignored\n", unk);
		}
	}
	return ok;
}

/* --- 1. Multiboot ------------------------------------------------------------------ */
struct mmap_entry {
	u32 size;
	u64 base, len;
	u32 type;
} __attribute__((packed));

static void check_multiboot(u32 magic, const u32 *info)
{
	u32 flags = info[0], bss_ok = 1;
	char name[96] = "", bad[32] = "";

	for (u32 i = 0; i < sizeof(zeroed) / sizeof(zeroed[0]); i++)
		bss_ok &= zeroed[i] == 0;
	check(magic == 0x2badb002, "EAX is 0x2BADB002", "got %x want 0x2badb002", magic);
	check((flags & 0x45) == 0x45, "info flags have mem (bit 0), cmdline (2), mmap (6)",
	      "got flags %x want bits 0x45", flags);
	check(flags & 1, "mem_lower/mem_upper present", "got flags %x", flags);
	check(flags & 1 && info[1] >= 600 && info[1] <= 640, "mem_lower in KiB",
	      "got %u want 600..640", info[1]);
	check(flags & 1 && info[2] >= 1024, "mem_upper in KiB, at least 1 MiB",
	      "got %u want >= 1024", info[2]);
	check(flags & 4 && *(const char *)info[4] != 0, "command line present", "got flags %x",
	      flags);
	if (flags & 4) {
		const char *c = (const char *)info[4];
		int ok = parse_cmdline(c, name, sizeof(name), bad, sizeof(bad));
		u32 eq = 0;

		for (const char *p = name; *p; p++)
			eq |= *p == '=';
		print("# command line: '%s'\n", c);
		check(name[0] && !eq, "command line's first word is the kernel's name",
		      "got '%s' want a file name", name);
		check(ok, "command line options parse", "got '%s' want cpus=N, N >= 1", bad);
		print("# kernel name '%s', cpus=%u, skip=%s\n", name, opt_cpus,
		      opt_skip[0] ? opt_skip : "(none)");
	}
	check(flags & (1 << 6) && info[11] && info[11] % 24 == 0, "memory map present",
	      "got flags %x length %u", flags, info[11]);
	if (flags & (1 << 6)) {
		u32 p = info[12], end = info[12] + info[11], n = 0, bad_at = 0, wf = 1;
		u64 low_end = 0, hi_end = 0x100000;
		int grew = 1;

		while (p < end) {
			const struct mmap_entry *e = (const struct mmap_entry *)p;

			if (e->size < 20 || e->type < 1 || e->type > 5) {
				wf = 0;
				bad_at = n;
				break;
			}
			if (e->type == 1 && e->base == 0)
				low_end = e->base + e->len;
			n++;
			p += e->size + 4;
		}
		wf &= p == end && n > 0;
		check(wf, "memory map entries well-formed (size >= 20, type 1..5, sum = length)",
		      "got %u entries, entry %u bad, walk ended %x want %x", n, bad_at, p, end);
		/* available RAM from 1 MiB, adjacent type-1 entries merged */
		while (grew && wf) {
			grew = 0;
			for (p = info[12]; p < end; p += ((const struct mmap_entry *)p)->size + 4) {
				const struct mmap_entry *e = (const struct mmap_entry *)p;

				if (e->type == 1 && e->base <= hi_end &&
				    e->base + e->len > hi_end) {
					hi_end = e->base + e->len;
					grew = 1;
				}
			}
		}
		check(wf && low_end >= 600 * 1024 && hi_end - 0x100000 >= (u64)info[2] * 1024,
		      "memory map: available RAM at 0 (mem_lower) and from 1 MiB (mem_upper)",
		      "got low end %x, %u KiB from 1 MiB, want >= %u KiB", (u32)low_end,
		      (u32)((hi_end - 0x100000) >> 10), info[2]);
	}
	check(bss_ok, ".bss zeroed", "got a nonzero word");
}

/* --- 2. fw_cfg --------------------------------------------------------------------- */
static u32 fw_cfg_read(u16 key, u32 bytes)
{
	u32 v = 0;

	outw(FW_CFG_SEL, key);
	for (u32 i = 0; i < bytes; i++)
		v |= (u32)inb(FW_CFG_DATA) << (8 * i);
	return v;
}

static void check_fw_cfg(void)
{
	u32 sig = fw_cfg_read(0x0000, 4), id = fw_cfg_read(0x0001, 4);
	u32 ncpu = fw_cfg_read(0x0005, 2);

	check(sig == 0x554d4551, "fw_cfg signature (key 0x0000) is \"QEMU\"",
	      "got %x want 0x554d4551", sig);
	check(id & 1, "fw_cfg ID (key 0x0001) has bit 0 (traditional interface)",
	      "got %x want bit 0", id);
	check(ncpu == opt_cpus, "fw_cfg NB_CPUS (key 0x0005) matches cpus= on the command line",
	      "got %u want %u", ncpu, opt_cpus);
}

/* --- 3. pc-testdev scratch port ---------------------------------------------------- */
static void check_testdev(void)
{
	u32 v;

	outl(TESTDEV_SCRATCH, 0x12345678);
	v = inl(TESTDEV_SCRATCH);
	check(v == 0x12345678, "pc-testdev 32-bit write/read of port 0xe0", "got %x want %x", v,
	      0x12345678);
	outl(TESTDEV_SCRATCH, 0xa5a5a5a5);
	v = inl(TESTDEV_SCRATCH);
	check(v == 0xa5a5a5a5, "pc-testdev port 0xe0 holds a second value", "got %x want %x", v,
	      0xa5a5a5a5);
	outb(TESTDEV_SCRATCH, 0x3c);
	v = inl(TESTDEV_SCRATCH);
	check(v == 0xa5a5a53c, "pc-testdev byte write at 0xe0 changes only byte lane 0",
	      "got %x want %x", v, 0xa5a5a53c);
	outw(TESTDEV_SCRATCH + 2, 0x1234);
	v = inl(TESTDEV_SCRATCH);
	check(v == 0x1234a53c, "pc-testdev 16-bit write at 0xe2 changes only the upper half",
	      "got %x want %x", v, 0x1234a53c);
}

/* --- 4. interrupts: IDT, PICs -------------------------------------------------------- */
static u8 pic1_mask = 0xff, pic2_mask = 0xff;

static void pic_set_masks(void)
{
	outb(PIC1 + 1, pic1_mask);
	outb(PIC2 + 1, pic2_mask);
}

static void irq_unmask(u32 line)
{
	if (line < 8) {
		pic1_mask &= (u8) ~(1u << line);
	} else {
		pic2_mask &= (u8) ~(1u << (line - 8));
		pic1_mask &= (u8) ~(1u << 2); /* the cascade */
	}
	pic_set_masks();
}

static void irq_mask(u32 line)
{
	if (line < 8)
		pic1_mask |= (u8)(1u << line);
	else
		pic2_mask |= (u8)(1u << (line - 8));
	pic_set_masks();
}

static u8 cmos_read(u8 reg)
{
	outb(CMOS_IDX, reg);
	return inb(CMOS_DATA);
}

static void cmos_write(u8 reg, u8 v)
{
	outb(CMOS_IDX, reg);
	outb(CMOS_DATA, v);
}

void isr_dispatch(struct isr_frame *f)
{
	u32 v = f->vector & 0xff;

	irq_count[v]++;
	if (v < 0x20) {
		if (!finished) {
			check(0, "no CPU exception", "got vector %u error %x at eip %x", v,
			      f->error, f->eip);
			finish();
		}
		for (;;)
			hlt();
	}
	if (v == VEC_RTC) {
		u8 c = cmos_read(0x0c); /* acknowledge: without it the RTC raises no more */

		rtc_c_last = c;
		if ((c & 0xc0) == 0xc0)
			rtc_c_flags_ok++;
	}
	if (v >= VEC_PIC2 && v < VEC_PIC2 + 8)
		outb(PIC2, 0x20); /* non-specific EOI to the slave, then the master */
	if (v >= VEC_PIC1 && v < VEC_PIC2 + 8)
		outb(PIC1, 0x20);
}

static void setup_interrupts(void)
{
	u16 cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	for (u32 i = 0; i < 256; i++) {
		idt[i].off_lo = (u16)isr_stubs[i];
		idt[i].sel = cs;
		idt[i].zero = 0;
		idt[i].type = 0x8e; /* present, DPL 0, 32-bit interrupt gate */
		idt[i].off_hi = (u16)(isr_stubs[i] >> 16);
	}
	idt_desc.limit = sizeof(idt) - 1;
	idt_desc.base = (u32)idt;
	__asm__ volatile("lidt %0" : : "m"(idt_desc));

	/* 8259A: ICW1 edge, cascade, ICW4 needed; ICW2 vector base; ICW3 slave on IRQ2 /
	 * slave ID 2; ICW4 8086 mode, normal EOI. All lines masked until a check wants one. */
	outb(PIC1 + 1, 0xff);
	outb(PIC2 + 1, 0xff);
	outb(PIC1, 0x11);
	outb(PIC2, 0x11);
	outb(PIC1 + 1, VEC_PIC1);
	outb(PIC2 + 1, VEC_PIC2);
	outb(PIC1 + 1, 0x04);
	outb(PIC2 + 1, 0x02);
	outb(PIC1 + 1, 0x01);
	outb(PIC2 + 1, 0x01);
	pic_set_masks();
	sti();
}

static void check_pic_setup(void)
{
	u8 m1 = inb(PIC1 + 1), m2 = inb(PIC2 + 1);

	check(m1 == 0xff && m2 == 0xff, "8259A PICs initialized (ICW1-4), masks read back (OCW1)",
	      "got masks %x/%x want 0xff/0xff", m1, m2);
}

/* --- 4a. PIT counter 0 ------------------------------------------------------------- */
static void check_pit(void)
{
	u32 lo, hi, v, st;
	int ok;

	outb(PIT_CTL, 0x34); /* counter 0, LSB then MSB, mode 2, binary */
	outb(PIT_CH0, PIT_DIVISOR & 0xff);
	outb(PIT_CH0, PIT_DIVISOR >> 8);
	irq_count[VEC_PIT] = 0;
	irq_unmask(0);
	ok = wait_count(&irq_count[VEC_PIT], PIT_TICKS_WANT, 3 * TSC_SEC);
	v = irq_count[VEC_PIT];
	if (check(ok, "PIT counter 0 mode 2 at 100 Hz: 20 IRQ0 interrupts (vector 0x20)",
		  "timeout: got %u want >= %u", v, PIT_TICKS_WANT))
		pit_alive = 1; /* stays unmasked and periodic: later waits may hlt */
	else
		irq_mask(0);

	outb(PIT_CTL, 0x00); /* counter latch command, counter 0 */
	lo = inb(PIT_CH0);
	hi = inb(PIT_CH0);
	v = lo | hi << 8;
	check(v <= PIT_DIVISOR, "PIT counter 0 latched count within the divisor",
	      "got %u want <= %u", v, PIT_DIVISOR);

	outb(PIT_CTL, 0xc2); /* read-back: latch count and status of counter 0 */
	st = inb(PIT_CH0);
	lo = inb(PIT_CH0);
	hi = inb(PIT_CH0);
	v = lo | hi << 8;
	check((st & 0x3f) == 0x34 && v <= PIT_DIVISOR,
	      "PIT read-back of counter 0: status mode 2 LSB/MSB binary, count within the divisor",
	      "got status %x count %u want status bits 0x34, count <= %u", st, v, PIT_DIVISOR);
}

/* --- 4b. PIT counter 2 through port 0x61 ------------------------------------------- */
static void check_pit2(void)
{
	u64 t0;
	u32 i, out_start;
	u8 p61;

	/* as Linux's pit_calibrate_tsc: gate high, speaker off; mode 0 (interrupt on
	 * terminal count), count 0xffff (55 ms) */
	outb(PORT61, (u8)((inb(PORT61) & ~0x02) | 0x01));
	outb(PIT_CTL, 0xb0); /* counter 2, LSB then MSB, mode 0, binary */
	outb(PIT_CH2, 0xff);
	outb(PIT_CH2, 0xff);
	out_start = inb(PORT61) & 0x20;
	check(!out_start,
	      "PIT counter 2 OUT2 (port 0x61 bit 5) low after a mode 0 count is written",
	      "got high want low");
	t0 = rdtsc();
	for (i = 0; i < SPIN_MAX; i++) {
		p61 = inb(PORT61);
		if (p61 & 0x20)
			break;
		if (rdtsc() - t0 > 2 * TSC_SEC)
			break;
	}
	p61 = inb(PORT61);
	check(p61 & 0x20, "PIT counter 2 OUT2 (port 0x61 bit 5) goes high at terminal count",
	      "timeout: got port 0x61 = %x want bit 5", p61);
	outb(PORT61, (u8)(inb(PORT61) & ~0x03)); /* gate off */
}

/* --- 4c. RTC ----------------------------------------------------------------------- */
static u32 bcd(u32 v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

static void check_rtc(void)
{
	u32 s, m, h, b, d, a, i, ok;
	u64 t0 = rdtsc();

	/* wait out an update in progress (register A bit 7), then read the time */
	for (i = 0; i < SPIN_MAX && (cmos_read(0x0a) & 0x80); i++)
		if (rdtsc() - t0 > TSC_SEC)
			break;
	a = cmos_read(0x0a);
	check(!(a & 0x80), "RTC register A UIP clears", "timeout: got register A %x", a);
	s = cmos_read(0x00);
	m = cmos_read(0x02);
	h = cmos_read(0x04);
	b = cmos_read(0x0b);
	d = cmos_read(0x0d);
	print("# RTC raw: %x:%x:%x, A %x B %x D %x\n", h, m, s, a, b, d);
	check(!(b & 0xf0), "RTC register B: clock running (SET clear), PIE/AIE/UIE clear",
	      "got %x want bits 7-4 clear", b);
	check(d & 0x80, "RTC register D: VRT (bit 7) set", "got %x want bit 7", d);
	if (!(b & 0x04)) { /* BCD */
		s = bcd(s);
		m = bcd(m);
		h = bcd(h & 0x7f) | (h & 0x80);
	}
	if (!(b & 0x02)) /* 12-hour: 12 AM is 0, PM adds 12 */
		h = (h & 0x7f) % 12 + (h & 0x80 ? 12 : 0);
	check(s < 60 && m < 60 && h < 24, "RTC time valid (seconds, minutes, hours)",
	      "got %u:%u:%u", h, m, s);

	/* periodic interrupt: register A = 0x26 (divider 32.768 kHz, rate 6 = 1024 Hz, the
	 * BIOS default), B |= PIE, IRQ8 on the slave and IRQ2 on the master */
	cli();
	cmos_write(0x0a, 0x26);
	(void)cmos_read(0x0c);
	cmos_write(0x0b, (u8)(cmos_read(0x0b) | 0x40));
	irq_count[VEC_RTC] = 0;
	rtc_c_flags_ok = 0;
	irq_unmask(8);
	sti();
	ok = wait_count(&irq_count[VEC_RTC], RTC_IRQS_WANT, 2 * TSC_SEC);
	cli();
	cmos_write(0x0b, (u8)(cmos_read(0x0b) & ~0x40));
	(void)cmos_read(0x0c);
	irq_mask(8);
	sti();
	i = irq_count[VEC_RTC];
	check(ok, "RTC periodic interrupt (PIE, 1024 Hz): 10 IRQ8 interrupts (vector 0x28)",
	      "timeout: got %u want >= %u", i, RTC_IRQS_WANT);
	check(i && rtc_c_flags_ok == i,
	      "RTC register C reads IRQF|PF (0xc0) in every periodic interrupt",
	      "got %u of %u, last C %x", rtc_c_flags_ok, i, rtc_c_last);
	/* PIE clear: no more interrupts */
	i = irq_count[VEC_RTC];
	irq_unmask(8);
	delay(TSC_SEC / 40); /* ~25 ms at 4 GHz: 25 periods at 1024 Hz */
	irq_mask(8);
	/* An edge the RTC raised after the last interrupt taken and before PIE was cleared
	 * (IF was clear) stays latched in the slave 8259's IRR through the IMR mask (8259A
	 * datasheet: IMR blocks delivery, not IRR) and arrives at the unmask: one at most. */
	check(irq_count[VEC_RTC] - i <= 1, "RTC periodic interrupt stops when PIE is cleared",
	      "got %u more interrupts want at most 1 (latched)", irq_count[VEC_RTC] - i);
	b = cmos_read(0x0b);
	check(!(b & 0x40), "RTC register B PIE reads back clear", "got %x", b);
}

/* --- 4d. pc-testdev ISA IRQ line --------------------------------------------------- */
static void check_testirq(void)
{
	int ok;
	u32 n;

	irq_count[VEC_TESTIRQ] = 0;
	irq_unmask(TESTIRQ_LINE);
	outb(TESTDEV_IRQ + TESTIRQ_LINE, 1);
	outb(TESTDEV_IRQ + TESTIRQ_LINE, 0);
	ok = wait_count(&irq_count[VEC_TESTIRQ], 1, TSC_SEC / 2);
	delay(TSC_SEC / 20); /* settle: no second interrupt from one edge */
	n = irq_count[VEC_TESTIRQ];
	irq_mask(TESTIRQ_LINE);
	if (!ok)
		check(0, "pc-testdev ISA line 5 pulse: one vector 0x25 interrupt",
		      "timeout: got %u want 1", n);
	else
		check(n == 1, "pc-testdev ISA line 5 pulse: one vector 0x25 interrupt",
		      "got %u want 1", n);
}

/* --- KVM hypercalls ----------------------------------------------------------------- */
#define KVM_HC_VAPIC_POLL_IRQ 1
#define KVM_HC_KICK_CPU 5
#define KVM_HC_NONE 1000 /* no hypercall has this number */
#define KVM_ENOSYS 1000
#define KVM_FEATURE_PV_UNHALT (1u << 7) /* CPUID 0x40000001 EAX (cpuid.rst) */

/*
 * KVM answers vmcall in the kernel in every irqchip mode: VAPIC_POLL_IRQ returns 0, an
 * unknown number -KVM_ENOSYS, and KICK_CPU (a0 flags, a1 the target's APIC ID) 0 when
 * the CPUID offers PV_UNHALT. A VMM that withdraws PV_UNHALT (virq's user mode: no
 * in-kernel LAPIC to deliver the kick) must also make KVM refuse the call
 * (KVM_CAP_ENFORCE_PV_FEATURE_CPUID): then it returns -KVM_ENOSYS instead of a 0 that
 * kicked nothing. Runs last: the kicked CPU (an AP still waiting for SIPI) stays marked
 * pv-unhalted in KVM for the rest of the run.
 */
static void check_hypercalls(void)
{
	static const char *const what[3] = {
		"KVM hypercall VAPIC_POLL_IRQ (1) through vmcall returns 0",
		"KVM hypercall 1000 (none) returns -KVM_ENOSYS",
		"KVM hypercall KICK_CPU (5) of another CPU returns 0 if CPUID 0x40000001 offers "
		"PV_UNHALT (bit 7), else -KVM_ENOSYS",
	};
	u32 a, b, c, d, apic, feat, r, want;

	cpuid(1, &a, &b, &c, &d);
	apic = b >> 24;
	if (c & (1u << 31)) /* hypervisor present: leaves 0x40000000+ are its */
		cpuid(0x40000000, &a, &b, &c, &d);
	else
		b = c = d = 0;
	if (b != 0x4b4d564b || c != 0x564b4d56 || d != 0x4d) { /* "KVMKVMKVM\0\0\0" */
		for (int i = 0; i < 3; i++) {
			checks++;
			print("ok - %s # SKIP not KVM\n", what[i]);
		}
		return;
	}
	/* cpuid.rst: an EAX of 0 from old hosts means 0x40000001 */
	feat = 0;
	if (a == 0 || a >= 0x40000001)
		cpuid(0x40000001, &feat, &b, &c, &d);
	r = kvm_hypercall(KVM_HC_VAPIC_POLL_IRQ, 0, 0);
	check(r == 0, what[0], "got %x want 0", r);
	r = kvm_hypercall(KVM_HC_NONE, 0, 0);
	check(r == (u32)-KVM_ENOSYS, what[1], "got %x want 0xfffffc18", r);
	want = feat & KVM_FEATURE_PV_UNHALT ? 0 : (u32)-KVM_ENOSYS;
	r = kvm_hypercall(KVM_HC_KICK_CPU, 0, apic ^ 1);
	print("# note: KVM PV features %x (PV_UNHALT %s): KICK_CPU of APIC ID %u returned %x\n",
	      feat, feat & KVM_FEATURE_PV_UNHALT ? "offered" : "withdrawn", apic ^ 1, r);
	check(r == want, what[2], "got %x want %x", r, want);
}

static void check_no_stray(void)
{
	u32 v, stray = 0, first = 0;

	cli();
	for (v = 0x20; v < 256; v++) {
		if (v == VEC_PIT || v == VEC_RTC || v == VEC_TESTIRQ)
			continue;
		if ((v == 0x27 || v == 0x2f) && irq_count[v]) {
			print("# note: %u spurious interrupt(s) at vector %x\n", irq_count[v], v);
			continue;
		}
		if (irq_count[v] && !stray++)
			first = v;
	}
	check(!stray, "no unexpected interrupt vectors", "got %u vectors, first %x", stray, first);
}

void mb_main(u32 magic, const u32 *info)
{
	print("# virq-mbtest: Multiboot v1 PC platform test kernel\n");
	check_multiboot(magic, info);

	if (skip("fwcfg"))
		skipped("fwcfg", "fw_cfg checks");
	else
		check_fw_cfg();
	if (skip("testdev"))
		skipped("testdev", "pc-testdev scratch port checks");
	else
		check_testdev();

	setup_interrupts();
	check_pic_setup();
	if (skip("pit"))
		skipped("pit", "PIT counter 0 checks");
	else
		check_pit();
	if (skip("pit2"))
		skipped("pit2", "PIT counter 2 / port 0x61 checks");
	else
		check_pit2();
	if (skip("rtc"))
		skipped("rtc", "RTC checks");
	else
		check_rtc();
	if (skip("testirq"))
		skipped("testirq", "pc-testdev ISA IRQ line checks");
	else
		check_testirq();
	check_no_stray();
	if (skip("hypercall"))
		skipped("hypercall", "KVM hypercall checks");
	else
		check_hypercalls();
	finish();
}
