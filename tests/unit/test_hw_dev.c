// SPDX-License-Identifier: MIT
/* fw_cfg (QEMU docs/specs/fw_cfg.rst), isa-debug-exit, pc-testdev and the shutdown port. */
#include "virq_test.h"
#include "virq/acpi_pm.h"
#include "virq/fw_cfg.h"
#include "virq/hw.h"
#include "virq/pit.h"
#include "virq/rtc.h"
#include "virq/testdev.h"
#include <errno.h>
#include <string.h>

static struct virq_hw_bus bus;

static uint8_t inb(uint16_t p)
{
	uint32_t v;

	virq_hw_pio_read(&bus, p, 1, 0, &v);
	return (uint8_t)v;
}

static void fw_read(uint16_t key, uint8_t *buf, size_t n)
{
	assert_int_equal(virq_hw_pio_write(&bus, 0x510, 2, key, 0), 0);
	for (size_t i = 0; i < n; i++)
		buf[i] = inb(0x511);
}

static void test_fw_cfg_signature_id_cpus_ram(void **state)
{
	static struct virq_fw_cfg fw;
	uint8_t b[16];

	virq_hw_bus_init(&bus);
	assert_int_equal(virq_fw_cfg_init(&fw, 4, 3ull << 30), 0);
	assert_int_equal(virq_fw_cfg_register(&fw, &bus), 0);
	fw_read(0x0000, b, 6);
	assert_memory_equal(b, "QEMU\0\0", 6); /* reads past the end give 0 */
	fw_read(0x0001, b, 4);
	assert_int_equal(b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24, 1); /* traditional, no DMA */
	fw_read(0x0005, b, 2);
	assert_int_equal(b[0] | b[1] << 8, 4);
	fw_read(0x0003, b, 8);
	assert_int_equal(b[3], 0xc0); /* 3 GiB little-endian */
	assert_int_equal(b[4], 0);
	fw_read(0x0123, b, 2);
	assert_int_equal(b[0] | b[1], 0);
	/* reselecting rewinds */
	fw_read(0x0000, b, 1);
	fw_read(0x0000, b + 1, 1);
	assert_int_equal(b[1], 'Q');
	assert_int_equal(virq_fw_cfg_add(&fw, VIRQ_FW_CFG_FILE_DIR, "x", 1), -EINVAL);
	virq_fw_cfg_destroy(&fw);
	virq_fw_cfg_destroy(NULL);
}

static void test_fw_cfg_file_dir_and_e820(void **state)
{
	static struct virq_fw_cfg fw;
	const struct virq_e820 e[2] = { { 0, 0x9fc00, VIRQ_E820_RAM },
					{ 0x100000, 0x7f00000, VIRQ_E820_RAM } };
	uint8_t dir[4 + 2 * 64], f[40];

	virq_hw_bus_init(&bus);
	assert_int_equal(virq_fw_cfg_init(&fw, 1, 128 << 20), 0);
	assert_int_equal(virq_fw_cfg_register(&fw, &bus), 0);
	assert_int_equal(virq_fw_cfg_add_file(&fw, "opt/virq/hello", "hi", 2), 0);
	assert_int_equal(virq_fw_cfg_add_e820(&fw, e, 2), 0);
	assert_int_equal(virq_fw_cfg_add_file(&fw, "etc/e820", "x", 1), -EEXIST);
	assert_int_equal(virq_fw_cfg_add_file(&fw, "", "x", 1), -EINVAL);
	fw_read(0x0019, dir, sizeof(dir));
	assert_int_equal(dir[0] << 24 | dir[1] << 16 | dir[2] << 8 | dir[3], 2);
	/* entry 1: be32 size 40, be16 select 0x21, name */
	const uint8_t *d1 = dir + 4 + 64;
	assert_int_equal(d1[0] << 24 | d1[1] << 16 | d1[2] << 8 | d1[3], 40);
	assert_int_equal(d1[4] << 8 | d1[5], 0x21);
	assert_string_equal((const char *)d1 + 8, "etc/e820");
	assert_string_equal((const char *)dir + 4 + 8, "opt/virq/hello");
	fw_read(0x21, f, sizeof(f));
	/* second entry: addr 0x100000 at +20, len 0x7f00000 at +28, type 1 at +36 */
	assert_int_equal(f[20 + 2], 0x10);
	assert_int_equal(f[28 + 3], 0x07);
	assert_int_equal(f[28 + 2], 0xf0);
	assert_int_equal(f[36], 1);
	assert_int_equal(f[16], 1);
	virq_fw_cfg_destroy(&fw);
}

struct stop_rec {
	int stops, status;
	uint64_t flushed;
};

static void rec_stop(void *o, int status, const char *why)
{
	struct stop_rec *r = o;

	r->stops++;
	r->status = status;
}

static void rec_flush(void *o, uint64_t gpa)
{
	((struct stop_rec *)o)->flushed = gpa;
}

static const struct virq_testdev_ops td_ops = { .stop = rec_stop, .flush_page = rec_flush };

static uint32_t lines_level[24];
static int line_sets;

static void rec_line(void *o, uint32_t line, int level)
{
	assert_true(line < 24);
	lines_level[line] = (uint32_t)level;
	line_sets++;
}

static const struct virq_hw_line_ops line_ops = { .set_line = rec_line };

static void test_debug_exit_testdev_shutdown(void **state)
{
	static struct virq_testdev td;
	struct stop_rec r = { 0 };
	struct virq_hw_line l = { &line_ops, NULL };
	uint32_t v;
	uint64_t v64;

	virq_hw_bus_init(&bus);
	virq_testdev_init(&td, &td_ops, &r, &l, 1);
	assert_int_equal(virq_testdev_register(&td, &bus), 0);
	assert_int_equal(virq_testdev_register(&td, &bus), -EBUSY);
	assert_int_equal(bus.pio.nr, 6);
	/* isa-debug-exit: (v << 1) | 1 */
	assert_int_equal(virq_hw_pio_write(&bus, 0xf4, 1, 0, 0), 0);
	assert_int_equal(r.status, 1);
	assert_int_equal(virq_hw_pio_write(&bus, 0xf4, 1, 0x20, 0), 0);
	assert_int_equal(r.status, 0x41);
	assert_int_equal(virq_hw_pio_write(&bus, 0xf4, 4, 1, 0), -ENOENT); /* iosize 1 */
	assert_int_equal(r.stops, 2);
	/* scratch at 0xe0 (and 0xe8) with byte lanes */
	virq_hw_pio_write(&bus, 0xe0, 4, 0x12345678, 0);
	assert_int_equal(inb(0xe1), 0x56);
	virq_hw_pio_write(&bus, 0xea, 1, 0xaa, 0);
	virq_hw_pio_read(&bus, 0xe0, 4, 0, &v);
	assert_int_equal(v, 0x12aa5678);
	virq_hw_pio_read(&bus, 0xe2, 2, 0, &v);
	assert_int_equal(v, 0x12aa);
	/* page flush: 32-bit writes only */
	virq_hw_pio_write(&bus, 0xe4, 4, 0x12345, 0);
	assert_int_equal(r.flushed, 0x12000);
	virq_hw_pio_write(&bus, 0xe4, 1, 0x99999, 0);
	assert_int_equal(r.flushed, 0x12000);
	/* lines */
	virq_hw_pio_write(&bus, 0x2000 + 4, 1, 1, 0);
	assert_int_equal(lines_level[4], 1);
	virq_hw_pio_write(&bus, 0x2000 + 23, 1, 7, 0);
	assert_int_equal(lines_level[23], 1);
	virq_hw_pio_write(&bus, 0x2000 + 4, 1, 0, 0);
	assert_int_equal(lines_level[4], 0);
	assert_int_equal(virq_hw_pio_write(&bus, 0x2000 + 24, 1, 1, 0), -ENOENT);
	assert_int_equal(line_sets, 3);
	/* iomem */
	virq_hw_mmio_write(&bus, 0xff000008, 8, 0x1122334455667788ull, 0);
	virq_hw_mmio_read(&bus, 0xff00000c, 4, 0, &v64);
	assert_int_equal(v64, 0x11223344);
	/* "Shutdown" at 0x8900, with a false start */
	r.stops = 0;
	for (const char *p = "ShuSShutdow"; *p; p++)
		virq_hw_pio_write(&bus, 0x8900, 1, (uint8_t)*p, 0);
	assert_int_equal(r.stops, 0);
	virq_hw_pio_write(&bus, 0x8900, 1, 'n', 0);
	assert_int_equal(r.stops, 1);
	assert_int_equal(r.status, 0);
}

/* The whole PC platform of daemon/hw on one bus: no range clashes, each device answers. */
static void test_pc_platform_on_one_bus(void **state)
{
	static struct virq_pit pit;
	static struct virq_rtc rtc;
	static struct virq_fw_cfg fw;
	static struct virq_testdev td;
	struct virq_rtc_config cfg = { .epoch_s = 0, .ram_below_4g = 64 << 20, .ncpus = 1 };
	uint32_t v;

	virq_hw_bus_init(&bus);
	virq_pit_init(&pit, NULL, 0);
	virq_rtc_init(&rtc, &cfg, NULL, 0);
	assert_int_equal(virq_fw_cfg_init(&fw, 1, 64 << 20), 0);
	virq_testdev_init(&td, NULL, NULL, NULL, 1);
	assert_int_equal(virq_pit_register(&pit, &bus), 0);
	assert_int_equal(virq_rtc_register(&rtc, &bus), 0);
	assert_int_equal(virq_fw_cfg_register(&fw, &bus), 0);
	assert_int_equal(virq_testdev_register(&td, &bus), 0);
	assert_int_equal(virq_pit_register(&pit, &bus), -EBUSY);
	assert_int_equal(bus.pio.nr, 2 + 1 + 1 + 6);
	/* PIT through the bus: counter 2 programmed, read as a 16-bit access (two bytes) */
	virq_hw_pio_write(&bus, 0x43, 1, 0xb4, 0);
	virq_hw_pio_write(&bus, 0x42, 1, 0x34, 0);
	virq_hw_pio_write(&bus, 0x42, 1, 0x12, 0);
	virq_hw_pio_read(&bus, 0x42, 1, 0, &v);
	assert_int_equal(v, 0x34);
	virq_hw_pio_read(&bus, 0x42, 1, 0, &v);
	assert_int_equal(v, 0x12);
	virq_hw_pio_write(&bus, 0x61, 1, 0x03, 0);
	virq_hw_pio_read(&bus, 0x61, 1, 0, &v);
	assert_int_equal(v & 0x0f, 0x03);
	/* RTC: 1970-01-01 in BCD */
	virq_hw_pio_write(&bus, 0x70, 1, 0x09, 0);
	virq_hw_pio_read(&bus, 0x71, 1, 0, &v);
	assert_int_equal(v, 0x70);
	virq_hw_pio_write(&bus, 0x70, 1, 0x32, 0);
	virq_hw_pio_read(&bus, 0x71, 1, 0, &v);
	assert_int_equal(v, 0x19);
	virq_fw_cfg_destroy(&fw);
}

static unsigned int pm_off_calls, pm_off_typ;

static void pm_power_off(void *opaque, unsigned int slp_typ)
{
	(void)opaque;
	pm_off_calls++;
	pm_off_typ = slp_typ;
}

/* ACPI 6.3 4.8: PM1a_CNT with SCI_EN, write-1-to-clear PM1_STS, SLP_EN powering off, and
 * the 24-bit PM timer at 3.579545 MHz that Linux calibrates and keeps time with. */
static void test_acpi_pm(void **state)
{
	static const struct virq_acpi_pm_ops ops = { .power_off = pm_power_off };
	struct virq_acpi_pm pm;
	uint32_t v, t0, t1;

	virq_hw_bus_init(&bus);
	virq_acpi_pm_init(&pm, 0, &ops, NULL);
	assert_int_equal(virq_acpi_pm_register(&pm, &bus), 0);
	virq_hw_pio_read(&bus, 0x604, 2, 0, &v);
	assert_int_equal(v, VIRQ_PM1_SCI_EN);
	/* The timer: one second is 3579545 ticks, kept to 24 bits. */
	virq_hw_pio_read(&bus, 0x608, 4, 0, &t0);
	virq_hw_pio_read(&bus, 0x608, 4, 1000000000ull, &t1);
	assert_int_equal((t1 - t0) & VIRQ_ACPI_PM_TMR_MASK, 3579545u & VIRQ_ACPI_PM_TMR_MASK);
	virq_hw_pio_read(&bus, 0x608, 4, 10ull * 1000000000ull, &v);
	assert_true(v <= VIRQ_ACPI_PM_TMR_MASK);
	assert_int_equal(v, (35795450u) & VIRQ_ACPI_PM_TMR_MASK);
	assert_int_equal(virq_acpi_pm_timer(279), 0); /* 279 ns is less than one tick */
	assert_int_equal(virq_acpi_pm_timer(280), 1);
	/* The timer is read-only; PM1_EN holds what is written. */
	virq_hw_pio_write(&bus, 0x608, 4, 0, 5);
	virq_hw_pio_write(&bus, 0x602, 2, 0x0121, 0);
	virq_hw_pio_read(&bus, 0x602, 2, 0, &v);
	assert_int_equal(v, 0x0121);
	/* SLP_TYP 0 | SLP_EN: S5, the callback; SLP_EN reads back 0, SCI_EN stays; WAK_STS
	 * set, and cleared by writing 1. */
	assert_int_equal(pm_off_calls, 0);
	virq_hw_pio_write(&bus, 0x604, 2, VIRQ_PM1_SLP_EN, 0);
	assert_int_equal(pm_off_calls, 1);
	assert_int_equal(pm_off_typ, 0);
	virq_hw_pio_read(&bus, 0x604, 2, 0, &v);
	assert_int_equal(v, VIRQ_PM1_SCI_EN);
	virq_hw_pio_read(&bus, 0x600, 2, 0, &v);
	assert_int_equal(v, VIRQ_PM1_STS_WAK);
	virq_hw_pio_write(&bus, 0x600, 2, VIRQ_PM1_STS_WAK, 0);
	virq_hw_pio_read(&bus, 0x600, 2, 0, &v);
	assert_int_equal(v, 0);
	virq_hw_pio_write(&bus, 0x604, 2, (5u << VIRQ_PM1_SLP_TYP_SHIFT) | VIRQ_PM1_SLP_EN, 0);
	assert_int_equal(pm_off_typ, 5);
	assert_int_equal(pm.sleeps, 2);
}

int main(void)
{
#define T(f) cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(test_fw_cfg_signature_id_cpus_ram),
		T(test_fw_cfg_file_dir_and_e820),
		T(test_debug_exit_testdev_shutdown),
		T(test_pc_platform_on_one_bus),
		T(test_acpi_pm),
	};
#undef T
	return cmocka_run_group_tests_name("hw_dev", tests, NULL, NULL);
}
