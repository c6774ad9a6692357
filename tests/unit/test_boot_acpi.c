// SPDX-License-Identifier: MIT
/*
 * ACPI 6.3 tables (RSDP, RSDT, XSDT, FADT, FACS, DSDT, MADT) and the MPS 1.4 table,
 * field by field, every checksum, and found the way Linux finds them (16-byte scans of
 * 0xE0000-0xFFFFF for "RSD PTR ", 0xF0000-0xFFFFF for "_MP_").
 */
#include "virq_test.h"
#include "virq/boot_acpi.h"
#include <errno.h>
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
		cmocka_unit_test_setup(test_madt_cpus_ioapic_overrides, refill),
		cmocka_unit_test_setup(test_mp_table, refill),
		cmocka_unit_test_setup(test_254_cpus_fit_with_right_checksums, refill),
		cmocka_unit_test_setup(test_bad_configs_refused_untouched, refill),
	};
	return cmocka_run_group_tests_name("boot_acpi", tests, setup, teardown);
}
