// SPDX-License-Identifier: MIT
/*
 * ACPI 6.3 tables (RSDP, RSDT, XSDT, FADT, FACS, DSDT, MADT) and the MPS 1.4 table,
 * field by field, every checksum, and found the way Linux finds them (16-byte scans of
 * 0xE0000-0xFFFFF for "RSD PTR ", 0xF0000-0xFFFFF for "_MP_").
 */
#include "virq_test.h"
#include "virq/boot_acpi.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAM (2u << 20)
#define FILL 0x5a

static uint8_t *ram;

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Our own byte sum, independent of virq_acpi_sum(). */
static unsigned int sum(const uint8_t *p, size_t n)
{
	unsigned int s = 0;

	for (size_t i = 0; i < n; i++)
		s += p[i];
	return s & 0xff;
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

static struct virq_boot_mem mem(void)
{
	return (struct virq_boot_mem){ .host = ram, .size = RAM };
}

/* A valid ACPI table with this signature at gpa: returns its length. */
static uint32_t assert_table(uint64_t gpa, const char *sig)
{
	const uint8_t *t = ram + gpa;
	uint32_t len = get32(t + 4);

	assert_memory_equal(t, sig, 4);
	assert_true(len >= 36 && gpa + len <= RAM);
	assert_int_equal(sum(t, len), 0);
	assert_memory_equal(t + 10, "VIRQ  ", 6);
	return len;
}

static uint64_t scan(uint64_t from, uint64_t to, const char *sig, size_t siglen, size_t sumlen)
{
	for (uint64_t a = from; a < to; a += 16)
		if (!memcmp(ram + a, sig, siglen) && !sum(ram + a, sumlen))
			return a;
	return 0;
}

static void test_rsdp_rsdt_xsdt(void **state)
{
	struct virq_boot_mem m = mem();
	struct virq_acpi_config c = { .n_cpus = 4 };
	struct virq_acpi_layout l;
	char err[VIRQ_BOOT_ERR_LEN] = "";
	const uint8_t *r;

	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), 0);
	assert_int_equal(l.rsdp, VIRQ_ACPI_WINDOW_DEFAULT);
	assert_int_equal(scan(0xe0000, 0x100000, "RSD PTR ", 8, 20), l.rsdp);
	r = ram + l.rsdp;
	assert_int_equal(sum(r, 20), 0);
	assert_int_equal(sum(r, 36), 0);
	assert_int_equal(r[15], 2);
	assert_int_equal(get32(r + 20), 36);
	assert_int_equal(get32(r + 16), l.rsdt);
	assert_int_equal(get64(r + 24), l.xsdt);
	assert_int_equal(assert_table(l.rsdt, "RSDT"), 36 + 8);
	assert_int_equal(get32(ram + l.rsdt + 36), l.fadt);
	assert_int_equal(get32(ram + l.rsdt + 40), l.madt);
	assert_int_equal(assert_table(l.xsdt, "XSDT"), 36 + 16);
	assert_int_equal(get64(ram + l.xsdt + 36), l.fadt);
	assert_int_equal(get64(ram + l.xsdt + 44), l.madt);
	assert_true(l.end <= 0x100000);
	assert_int_equal(ram[l.end], FILL);
	assert_int_equal(virq_acpi_sum(r, 36), 0);
}

static void test_fadt_facs_dsdt(void **state)
{
	struct virq_boot_mem m = mem();
	struct virq_acpi_config c = { .n_cpus = 1 };
	struct virq_acpi_layout l;
	char err[VIRQ_BOOT_ERR_LEN];
	const uint8_t *f;

	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), 0);
	assert_int_equal(assert_table(l.fadt, "FACP"), 276);
	f = ram + l.fadt;
	assert_int_equal(f[8], 6);
	assert_int_equal(f[131], 3);
	assert_int_equal(get32(f + 36), l.facs);
	assert_int_equal(get32(f + 40), l.dsdt);
	assert_int_equal(get64(f + 132), l.facs);
	assert_int_equal(get64(f + 140), l.dsdt);
	assert_int_equal(get16(f + 46), 9); /* SCI_INT */
	assert_int_equal(get32(f + 48), 0); /* SMI_CMD: already in ACPI mode */
	assert_int_equal(get32(f + 56), 0x600);
	assert_int_equal(get32(f + 64), 0x604);
	assert_int_equal(get32(f + 76), 0x608);
	assert_int_equal(f[88], 4);
	assert_int_equal(f[89], 2);
	assert_int_equal(f[91], 4);
	assert_int_equal(get32(f + 112) & VIRQ_FADT_HW_REDUCED, 0);
	assert_true(get32(f + 112) & VIRQ_FADT_WBINVD);
	assert_true(get16(f + 109) & VIRQ_FADT_BOOT_LEGACY_DEVICES);
	/* The AML body is \_S5 alone: Name (_S5, Package (4) { Zero, Zero, Zero, Zero }). */
	assert_int_equal(assert_table(l.dsdt, "DSDT"), 36 + 12);
	assert_int_equal(l.dsdt_len, 36 + 12);
	assert_memory_equal(ram + l.dsdt + 36, "\x08_S5_\x12\x06\x04\0\0\0\0", 12);
	assert_memory_equal(ram + l.facs, "FACS", 4);
	assert_int_equal(get32(ram + l.facs + 4), 64);
	assert_int_equal(l.facs % 64, 0);
	/* a custom SCI and PM base */
	c.sci_irq = 10;
	c.pm_base = 0xb000;
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), 0);
	assert_int_equal(get16(ram + l.fadt + 46), 10);
	assert_int_equal(get32(ram + l.fadt + 64), 0xb004);
	assert_table(l.fadt, "FACP");
}

#define PCI_BASE 0xc0000000u
#define PCI_LIMIT 0xfebfffffu

/* PCI0's _CRS as ACPI 6.3 6.4 lays it out, by hand (iasl's disassembly of it is checked
 * below): the descriptors and the EndTag. */
static const uint8_t pci0_crs[] = {
	/* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xff, 0,
	 * 0x100): tag, length 13, type 2, flags MIF|MAF, 0, then gran/min/max/tra/len */
	0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00,
	0x01,
	/* IO (Decode16, 0xcf8, 0xcf8, 1, 8) */
	0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08,
	/* WordIO 0x0000-0x0cf7 and 0x0d00-0xffff, EntireRange */
	0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x00, 0xf7, 0x0c, 0x00, 0x00, 0xf8,
	0x0c, 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x0d, 0xff, 0xff, 0x00, 0x00,
	0x00, 0xf3,
	/* DWordMemory 0xa0000-0xbffff Cacheable ReadWrite, length 0x20000 */
	0x87, 0x17, 0x00, 0x00, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0xff,
	0xff, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
	/* DWordMemory 0xc0000000-0xfebfffff NonCacheable ReadWrite, length 0x3ec00000 */
	0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xff,
	0xff, 0xbf, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x3e,
	/* EndTag, checksum 0 */
	0x79, 0x00
};

static const uint8_t *find(const uint8_t *p, size_t len, const void *what, size_t n)
{
	return memmem(p, len, what, n);
}

static void test_dsdt_pci_root_bridge(void **state)
{
	struct virq_boot_mem m = mem();
	struct virq_acpi_config c = { .n_cpus = 2,
				      .pci_mem_base = PCI_BASE,
				      .pci_mem_limit = PCI_LIMIT };
	struct virq_acpi_layout l;
	char err[VIRQ_BOOT_ERR_LEN] = "";
	const uint8_t *d, *b, *crs;
	uint32_t len, sb_len, dev_len;

	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), 0);
	len = assert_table(l.dsdt, "DSDT"); /* the checksum */
	assert_int_equal(len, l.dsdt_len);
	assert_true(l.dsdt + len <= l.madt);
	assert_table(l.madt, "APIC"); /* placed after it, intact */
	assert_int_equal(get64(ram + l.fadt + 140), l.dsdt);
	d = ram + l.dsdt;
	b = d + 36;
	/* Scope (\_SB) with a 2-byte PkgLength spanning everything up to \_S5 */
	assert_int_equal(b[0], 0x10);
	assert_int_equal(b[1] >> 6, 1);
	sb_len = (uint32_t)(b[1] & 0xf) | (uint32_t)b[2] << 4;
	assert_int_equal(1 + sb_len + 12, len - 36);
	assert_memory_equal(b + 3, "\\_SB_", 5);
	/* Device (PCI0): ExtOpPrefix DeviceOp, a 2-byte PkgLength, the name */
	assert_memory_equal(b + 8, "\x5b\x82", 2);
	assert_int_equal(b[10] >> 6, 1);
	dev_len = (uint32_t)(b[10] & 0xf) | (uint32_t)b[11] << 4;
	assert_int_equal(3 + 5 + 2 + dev_len, 1 + sb_len);
	assert_memory_equal(b + 12, "PCI0", 4);
	/* Name (_HID, EisaId ("PNP0A03")), Name (_UID, Zero), Name (_BBN, Zero) */
	assert_memory_equal(b + 16, "\x08_HID\x0c\x41\xd0\x0a\x03", 10);
	assert_memory_equal(b + 26, "\x08_UID\x00\x08_BBN\x00", 12);
	assert_null(find(b, len - 36, "_ADR", 4));
	/* Name (_CRS, Buffer (110) { the descriptors }) closes the device */
	assert_int_equal(sizeof(pci0_crs), VIRQ_ACPI_PCI0_CRS_LEN);
	assert_memory_equal(b + 38, "\x08_CRS\x11", 6);
	assert_int_equal(b[44] >> 6, 1); /* PkgLength 2 + 2 + 110 = 114 */
	assert_int_equal((b[44] & 0xf) | b[45] << 4, 114);
	assert_memory_equal(b + 46, "\x0a\x6e", 2);
	crs = b + 48;
	assert_memory_equal(crs, pci0_crs, sizeof(pci0_crs));
	assert_ptr_equal(crs + sizeof(pci0_crs), b + 10 + dev_len);
	/* \_S5 last, unchanged */
	assert_memory_equal(d + len - 12, "\x08_S5_\x12\x06\x04\0\0\0\0", 12);

	/* the window is the config's: another one shows up in the last DWordMemory */
	refill(state);
	c.pci_mem_base = 0xe0000000u;
	c.pci_mem_limit = 0xefffffffu;
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), 0);
	assert_int_equal(assert_table(l.dsdt, "DSDT"), len);
	crs = ram + l.dsdt + 36 + 48;
	assert_memory_equal(crs + 82 + 10, "\x00\x00\x00\xe0\xff\xff\xff\xef", 8);
	assert_memory_equal(crs + 82 + 22, "\x00\x00\x00\x10", 4);
	assert_null(find(ram + l.dsdt, len, "\x00\x00\x00\xc0", 4));

	/* windows that are empty, above 4 GiB or in the first MiB are refused */
	c.pci_mem_limit = c.pci_mem_base;
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -EINVAL);
	c.pci_mem_limit = 0x100000000ull;
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -EINVAL);
	c.pci_mem_base = 0xa0000;
	c.pci_mem_limit = 0xbffff;
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "PCI window"));
}

/* Runs `cmd` in dir; its output (stdout and stderr) in out. -1 if it could not run. */
static int run_in(const char *dir, const char *cmd, char *out, size_t out_len)
{
	char line[512];
	size_t n = 0;
	FILE *p;

	snprintf(line, sizeof(line), "cd '%s' && %s 2>&1", dir, cmd);
	p = popen(line, "r");
	if (!p)
		return -1;
	n = fread(out, 1, out_len - 1, p);
	out[n] = 0;
	return pclose(p);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = malloc((size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	if (s)
		s[n] = 0;
	fclose(f);
	return s;
}

/*
 * ACPICA's own reading of our DSDT: `iasl -d` disassembles it (the parser Linux uses)
 * and the disassembly compiles again without errors or warnings (iasl's checks, e.g.
 * 6.1's "_HID or _ADR, not both"). iasl recompiles it to the same bytes, save that it
 * drops the redundant root prefix of \_SB at the root.
 */
static void test_dsdt_iasl_disassembly(void **state)
{
	static const char *const want[] = {
		"DefinitionBlock (\"\", \"DSDT\", 2, \"VIRQ  \", \"VIRQPC  \"",
		"Scope (\\_SB)",
		"Device (PCI0)",
		"Name (_HID, EisaId (\"PNP0A03\")",
		"Name (_UID, Zero)",
		"Name (_BBN, Zero)",
		"WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,",
		"0x00FF,             // Range Maximum",
		"0x0CF8,             // Range Minimum",
		"0x0CF7,             // Range Maximum",
		"0x0D00,             // Range Minimum",
		"0xFFFF,             // Range Maximum",
		"0x000A0000,         // Range Minimum",
		"0x000BFFFF,         // Range Maximum",
		"0xC0000000,         // Range Minimum",
		"0xFEBFFFFF,         // Range Maximum",
		"0x3EC00000,         // Length",
		"Name (_S5, Package (0x04)",
		/* the _PRT: slot 1 (any function) INTA# -> GSI 11, slot 3 INTC# -> GSI 23 */
		"Name (_PRT, Package (0x02)",
		"0x0001FFFF,",
		"0x0B",
		"0x0003FFFF,",
		"0x02,",
		"0x17",
	};
	struct virq_boot_mem m = mem();
	struct virq_acpi_config c = { .n_cpus = 1,
				      .pci_mem_base = PCI_BASE,
				      .pci_mem_limit = PCI_LIMIT,
				      .n_pci_irqs = 2,
				      .pci_irqs = { { 1, 0, 11 }, { 3, 2, 23 } } };
	struct virq_acpi_layout l;
	char err[VIRQ_BOOT_ERR_LEN] = "", dir[] = "/tmp/virq-dsdt-XXXXXX", path[64], out[8192];
	char *dsl;
	FILE *f;

	if (system("command -v iasl >/dev/null 2>&1") != 0)
		VIRQ_SKIP("iasl not installed (Debian package acpica-tools)");
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), 0);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dsdt.dat", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(ram + l.dsdt, 1, l.dsdt_len, f), l.dsdt_len);
	assert_int_equal(fclose(f), 0);

	assert_int_equal(run_in(dir, "iasl -d dsdt.dat", out, sizeof(out)), 0);
	if (strstr(out, "ACPI: DSDT"))
		print_message("# iasl: %.*s\n", (int)strcspn(strstr(out, "ACPI: DSDT"), "\n"),
			      strstr(out, "ACPI: DSDT"));
	assert_non_null(strstr(out, "Disassembly completed"));
	assert_null(strstr(out, "Error"));
	snprintf(path, sizeof(path), "%s/dsdt.dsl", dir);
	dsl = slurp(path);
	assert_non_null(dsl);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(dsl, want[i]))
			fail_msg("iasl's disassembly lacks \"%s\":\n%s", want[i], dsl);
	assert_null(strstr(dsl, "_ADR"));
	free(dsl);

	assert_int_equal(run_in(dir, "iasl -p again dsdt.dsl", out, sizeof(out)), 0);
	if (!strstr(out, "0 Errors, 0 Warnings"))
		fail_msg("iasl recompiling our DSDT:\n%s", out);
	assert_int_equal(run_in(dir, "rm -f dsdt.dat dsdt.dsl again.aml && rmdir \"$PWD\"", out,
				sizeof(out)),
			 0);
}

static void test_madt_cpus_ioapic_overrides(void **state)
{
	static const uint8_t ids[] = { 0, 2, 4, 6 };
	struct virq_boot_mem m = mem();
	struct virq_acpi_config c = { .n_cpus = 4, .apic_ids = ids, .ioapic_id = 8 };
	struct virq_acpi_layout l;
	char err[VIRQ_BOOT_ERR_LEN];
	unsigned int cpus = 0, ioapics = 0, isos = 0, nmis = 0;
	const uint8_t *t;
	uint32_t len, o;

	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), 0);
	len = assert_table(l.madt, "APIC");
	assert_int_equal(len, l.madt_len);
	t = ram + l.madt;
	assert_int_equal(t[8], 5);
	assert_int_equal(get32(t + 36), 0xfee00000);
	assert_int_equal(get32(t + 40), VIRQ_MADT_PCAT_COMPAT);
	for (o = 44; o < len; o += t[o + 1]) {
		assert_true(t[o + 1] >= 2 && o + t[o + 1] <= len);
		switch (t[o]) {
		case VIRQ_MADT_LAPIC:
			assert_int_equal(t[o + 1], 8);
			assert_int_equal(t[o + 2], cpus);
			assert_int_equal(t[o + 3], ids[cpus]);
			assert_int_equal(get32(t + o + 4), VIRQ_MADT_LAPIC_ENABLED);
			cpus++;
			break;
		case VIRQ_MADT_IOAPIC:
			assert_int_equal(t[o + 1], 12);
			assert_int_equal(t[o + 2], 8);
			assert_int_equal(get32(t + o + 4), 0xfec00000);
			assert_int_equal(get32(t + o + 8), 0);
			ioapics++;
			break;
		case VIRQ_MADT_ISO:
			assert_int_equal(t[o + 1], 10);
			assert_int_equal(t[o + 2], 0);
			if (t[o + 3] == 0) {
				assert_int_equal(get32(t + o + 4), 2);
				assert_int_equal(get16(t + o + 8), 0);
			} else {
				assert_int_equal(t[o + 3], 9);
				assert_int_equal(get32(t + o + 4), 9);
				assert_int_equal(get16(t + o + 8), 0xd); /* level, active high */
			}
			isos++;
			break;
		case VIRQ_MADT_LAPIC_NMI:
			assert_int_equal(t[o + 1], 6);
			assert_int_equal(t[o + 2], 0xff);
			assert_int_equal(t[o + 5], 1);
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", t[o]);
		}
	}
	assert_int_equal(o, len);
	assert_int_equal(cpus, 4);
	assert_int_equal(ioapics, 1);
	assert_int_equal(isos, 2);
	assert_int_equal(nmis, 1);
}

static void test_mp_table(void **state)
{
	struct virq_boot_mem m = mem();
	struct virq_acpi_config c = { .n_cpus = 3 };
	struct virq_acpi_layout l;
	char err[VIRQ_BOOT_ERR_LEN];
	const uint8_t *fp, *t;
	unsigned int procs = 0, bus = 0, ioapic = 0, lints = 0, entries = 0;
	int pin_of_irq[16];
	uint32_t len, o;

	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), 0);
	assert_int_equal(scan(0xf0000, 0x100000, "_MP_", 4, 16), l.mp_fps);
	fp = ram + l.mp_fps;
	assert_int_equal(sum(fp, 16), 0);
	assert_int_equal(fp[8], 1);
	assert_int_equal(fp[9], 4);
	assert_int_equal(fp[11], 0); /* a configuration table is present */
	assert_int_equal(fp[12] & 0x80, 0); /* virtual wire */
	assert_int_equal(get32(fp + 4), l.mp_config);
	t = ram + l.mp_config;
	assert_memory_equal(t, "PCMP", 4);
	len = get16(t + 4);
	assert_int_equal(len, l.mp_config_len);
	assert_int_equal(sum(t, len), 0);
	assert_int_equal(t[6], 4);
	assert_int_equal(get32(t + 36), 0xfee00000);
	for (int i = 0; i < 16; i++)
		pin_of_irq[i] = -1;
	for (o = 44; o < len; entries++) {
		switch (t[o]) {
		case VIRQ_MP_PROC:
			assert_int_equal(t[o + 1], procs);
			assert_int_equal(t[o + 3],
					 procs ? VIRQ_MP_CPU_EN : VIRQ_MP_CPU_EN | VIRQ_MP_CPU_BP);
			procs++;
			o += 20;
			break;
		case VIRQ_MP_BUS:
			assert_memory_equal(t + o + 2, "ISA   ", 6);
			bus++;
			o += 8;
			break;
		case VIRQ_MP_IOAPIC:
			assert_int_equal(t[o + 1], 3); /* default: n_cpus */
			assert_int_equal(t[o + 3] & 1, 1);
			assert_int_equal(get32(t + o + 4), 0xfec00000);
			ioapic++;
			o += 8;
			break;
		case VIRQ_MP_IOINT:
			assert_int_equal(t[o + 1], VIRQ_MP_INT);
			assert_int_equal(t[o + 4], 0);
			assert_true(t[o + 5] < 16);
			assert_int_equal(pin_of_irq[t[o + 5]], -1);
			assert_int_equal(t[o + 6], 3);
			pin_of_irq[t[o + 5]] = t[o + 7];
			assert_int_equal(get16(t + o + 2), t[o + 5] == 9 ? 0xd : 0);
			o += 8;
			break;
		case VIRQ_MP_LINT:
			assert_int_equal(t[o + 1], t[o + 7] ? VIRQ_MP_NMI : VIRQ_MP_EXTINT);
			assert_int_equal(t[o + 6], 0xff);
			lints++;
			o += 8;
			break;
		default:
			fail_msg("unexpected MP entry type %u", t[o]);
		}
	}
	assert_int_equal(o, len);
	assert_int_equal(entries, get16(t + 34));
	assert_int_equal(procs, 3);
	assert_int_equal(bus, 1);
	assert_int_equal(ioapic, 1);
	assert_int_equal(lints, 2);
	assert_int_equal(pin_of_irq[0], 2);
	assert_int_equal(pin_of_irq[2], -1);
	for (int i = 1; i < 16; i++)
		if (i != 2)
			assert_int_equal(pin_of_irq[i], i);
	/* left out on request */
	refill(state);
	c.no_mptable = 1;
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), 0);
	assert_int_equal(l.mp_fps, 0);
	assert_int_equal(scan(0xf0000, 0x100000, "_MP_", 4, 16), 0);
}

static void test_254_cpus_fit_with_right_checksums(void **state)
{
	struct virq_boot_mem m = mem();
	struct virq_acpi_config c = { .n_cpus = 254, .ioapic_id = 253 };
	struct virq_acpi_layout l;
	char err[VIRQ_BOOT_ERR_LEN] = "";

	/* IOAPIC ID 253 is CPU 253's: refused; the default (n_cpus = 254) is free */
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -EINVAL);
	c.ioapic_id = 0;
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), 0);
	assert_table(l.madt, "APIC");
	assert_int_equal(l.madt_len, 36 + 8 + 8 * 254 + 12 + 20 + 6);
	assert_int_equal(sum(ram + l.mp_config, l.mp_config_len), 0);
	assert_int_equal(get16(ram + l.mp_config + 34), 254 + 1 + 1 + 15 + 2);
}

static void test_bad_configs_refused_untouched(void **state)
{
	static const uint8_t dup[] = { 0, 1, 1 }, bcast[] = { 0xff };
	struct virq_boot_mem m = mem();
	struct virq_acpi_config c = { .n_cpus = 0 };
	struct virq_acpi_layout l;
	char err[VIRQ_BOOT_ERR_LEN];

	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -EINVAL);
	c.n_cpus = 255;
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -EINVAL);
	c.n_cpus = 3;
	c.apic_ids = dup;
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "share"));
	c.n_cpus = 1;
	c.apic_ids = bcast;
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -EINVAL);
	c.apic_ids = NULL;
	c.sci_irq = 2;
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -EINVAL);
	c.sci_irq = 0;
	c.n_pci_irqs = 1; /* a _PRT without PCI0 */
	c.pci_irqs[0].slot = 1;
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -EINVAL);
	c.pci_mem_base = PCI_BASE;
	c.pci_mem_limit = PCI_LIMIT;
	c.pci_irqs[0].slot = 0; /* the host bridge's slot */
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -EINVAL);
	c.pci_irqs[0].slot = 1;
	c.pci_irqs[0].gsi = 24; /* past the IOAPIC */
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -EINVAL);
	c.pci_irqs[0].gsi = 11;
	c.n_pci_irqs = VIRQ_ACPI_MAX_PCI_IRQS + 1;
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -EINVAL);
	c.n_pci_irqs = 0;
	c.pci_mem_base = c.pci_mem_limit = 0;
	c.window = 0xe0000; /* outside the MP scan window */
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -ERANGE);
	c.window = 0xf0008; /* misaligned */
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -ERANGE);
	c.window = 0xf0000;
	c.window_size = 0x20000; /* past 1 MiB */
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -ERANGE);
	c.window_size = 0x100; /* too small */
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -E2BIG);
	m.size = 0xf8000; /* window beyond RAM */
	c.window_size = 0;
	assert_int_equal(virq_acpi_build(&m, &c, &l, err, sizeof(err)), -ERANGE);
	for (size_t i = 0; i < RAM; i++)
		if (ram[i] != FILL)
			fail_msg("byte 0x%zx written by a refused build", i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_rsdp_rsdt_xsdt, refill),
		cmocka_unit_test_setup(test_fadt_facs_dsdt, refill),
		cmocka_unit_test_setup(test_dsdt_pci_root_bridge, refill),
		cmocka_unit_test_setup(test_dsdt_iasl_disassembly, refill),
		cmocka_unit_test_setup(test_madt_cpus_ioapic_overrides, refill),
		cmocka_unit_test_setup(test_mp_table, refill),
		cmocka_unit_test_setup(test_254_cpus_fit_with_right_checksums, refill),
		cmocka_unit_test_setup(test_bad_configs_refused_untouched, refill),
	};
	return cmocka_run_group_tests_name("boot_acpi", tests, setup, teardown);
}
