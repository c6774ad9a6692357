// SPDX-License-Identifier: MIT
/* The PCI host bridge: configuration mechanism #1 (PCI 3.0 section 3.2.2.3.2) at every
 * access size, absent devices, BAR sizing (section 6.2.5.1), BAR decode following the
 * command register onto the device bus, and firmware-less BAR assignment. */
#include "virq_test.h"
#include "virq/hw.h"
#include "virq/pci.h"
#include <errno.h>
#include <string.h>

static struct virq_hw_bus bus;
static struct virq_pci pci;

static uint32_t in(uint16_t port, unsigned int size)
{
	uint32_t v;

	virq_hw_pio_read(&bus, port, size, 0, &v);
	return v;
}

static void out(uint16_t port, unsigned int size, uint32_t v)
{
	assert_int_equal(virq_hw_pio_write(&bus, port, size, v, 0), 0);
}

static uint32_t cfg_addr(unsigned int slot, unsigned int reg)
{
	return VIRQ_PCI_CONFIG_ENABLE | slot << 11 | (reg & 0xfc);
}

/* A guest's config read through 0xcf8/0xcfc. */
static uint32_t cfg_read(unsigned int slot, unsigned int reg, unsigned int size)
{
	out(0xcf8, 4, cfg_addr(slot, reg));
	return in((uint16_t)(0xcfc + (reg & 3)), size);
}

static void cfg_write(unsigned int slot, unsigned int reg, unsigned int size, uint32_t v)
{
	out(0xcf8, 4, cfg_addr(slot, reg));
	out((uint16_t)(0xcfc + (reg & 3)), size, v);
}

static void setup(void)
{
	virq_hw_bus_init(&bus);
	virq_pci_init(&pci);
	assert_int_equal(virq_pci_register(&pci, &bus), 0);
}

static void test_config_address_and_host_bridge(void **state)
{
	setup();
	/* Linux's pci_check_type1(): the dword written to 0xcf8 reads back */
	out(0xcf8, 4, 0x80000000u);
	assert_int_equal(in(0xcf8, 4), 0x80000000u);
	/* reserved bits 30:24 and 1:0 read as 0 */
	out(0xcf8, 4, 0xffffffffu);
	assert_int_equal(in(0xcf8, 4), 0x80fffffcu);
	/* byte/word accesses are not CONFIG_ADDRESS accesses */
	out(0xcf8, 4, 0x80000000u);
	out(0xcfb, 1, 0x01);
	out(0xcf8, 2, 0x1234);
	assert_int_equal(in(0xcf8, 4), 0x80000000u);
	assert_int_equal(in(0xcf8, 1), 0xff);
	assert_int_equal(in(0xcfa, 2), 0xffff);
	assert_true(pci.bad_address_size >= 4);

	/* device 0: the i440FX host bridge, at every size and byte offset */
	assert_int_equal(cfg_read(0, 0x00, 4), 0x12378086u);
	assert_int_equal(cfg_read(0, 0x00, 2), 0x8086);
	assert_int_equal(cfg_read(0, 0x02, 2), 0x1237);
	assert_int_equal(cfg_read(0, 0x00, 1), 0x86);
	assert_int_equal(cfg_read(0, 0x01, 1), 0x80);
	assert_int_equal(cfg_read(0, 0x02, 1), 0x37);
	assert_int_equal(cfg_read(0, 0x03, 1), 0x12);
	assert_int_equal(cfg_read(0, 0x01, 2), 0x3780); /* unaligned word inside the dword */
	assert_int_equal(cfg_read(0, 0x08, 4) >> 8, 0x060000);
	assert_int_equal(cfg_read(0, 0x0e, 1), 0);
	/* IDs and class are read-only; the interrupt line byte is scratch */
	cfg_write(0, 0x00, 4, 0);
	cfg_write(0, 0x08, 4, 0);
	assert_int_equal(cfg_read(0, 0x00, 4), 0x12378086u);
	assert_int_equal(cfg_read(0, 0x0b, 1), 0x06);
	cfg_write(0, 0x3c, 1, 0x0b);
	assert_int_equal(cfg_read(0, 0x3c, 1), 0x0b);
	cfg_write(0, 0x3c, 2, 0xff0a); /* pin (0x3d) is read-only */
	assert_int_equal(cfg_read(0, 0x3c, 2), 0x000a);
	/* the direct accessors agree */
	assert_int_equal(virq_pci_config_read(&pci, 0, 0, 4), 0x12378086u);
	assert_int_equal(virq_pci_config_read(&pci, 0, 0xfe, 4), 0xffffffffu); /* past 256 */
}

static void test_absent_devices_read_all_ones(void **state)
{
	setup();
	for (unsigned int slot = 1; slot < 32; slot++) {
		assert_int_equal(cfg_read(slot, 0, 4), 0xffffffffu);
		assert_int_equal(cfg_read(slot, 0, 2), 0xffff);
		assert_int_equal(cfg_read(slot, 3, 1), 0xff);
	}
	/* function 1 of the host bridge, bus 1, and the enable bit clear */
	out(0xcf8, 4, cfg_addr(0, 0) | 1u << 8);
	assert_int_equal(in(0xcfc, 4), 0xffffffffu);
	out(0xcf8, 4, cfg_addr(0, 0) | 1u << 16);
	assert_int_equal(in(0xcfc, 4), 0xffffffffu);
	out(0xcf8, 4, 0);
	assert_int_equal(in(0xcfc, 4), 0xffffffffu);
	out(0xcfc, 4, 0); /* dropped */
	assert_true(pci.absent_reads >= 93);
	assert_true(pci.absent_writes >= 1);
	assert_int_equal(cfg_read(0, 0, 4), 0x12378086u);
}

/* A device with an I/O BAR 0, a 32-bit memory BAR 1 and a 64-bit memory BAR 2-3. */
struct tdev {
	struct virq_pci_dev pdev;
	uint32_t regs[64];
	int maps, unmaps, writes;
	unsigned int last_bar;
	uint64_t last_addr;
	bool last_en;
	bool use_helper;
};

static uint64_t t_read(void *o, uint64_t off, unsigned int size, uint64_t now)
{
	struct tdev *t = o;

	return t->regs[(off / 4) % 64];
}

static void t_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now)
{
	struct tdev *t = o;

	t->regs[(off / 4) % 64] = (uint32_t)val;
}

static const struct virq_hw_ops t_ops = { .read = t_read, .write = t_write };

static void t_bar_map(void *o, unsigned int bar, uint64_t addr, bool en)
{
	struct tdev *t = o;

	if (en)
		t->maps++;
	else
		t->unmaps++;
	t->last_bar = bar;
	t->last_addr = addr;
	t->last_en = en;
	if (t->use_helper)
		assert_int_equal(virq_pci_bar_map_hw(&t->pdev, bar, addr, en), 0);
}

static void t_cfg_write(void *o, struct virq_pci_dev *d, uint32_t off, unsigned int size,
			uint32_t val)
{
	struct tdev *t = o;

	t->writes++;
}

static const struct virq_pci_dev_ops t_pci_ops = { .bar_map = t_bar_map,
						   .config_write = t_cfg_write };

static void tdev_init(struct tdev *t, const struct virq_pci_dev_ops *ops)
{
	memset(t, 0, sizeof(*t));
	virq_pci_dev_init(&t->pdev, 0x1234, 0x5678, 0xff0000, 3, ops, t);
	assert_int_equal(virq_pci_dev_set_bar(&t->pdev, 0, 32, VIRQ_PCI_BAR_IO, &t_ops, t, "t-io"),
			 0);
	assert_int_equal(virq_pci_dev_set_bar(&t->pdev, 1, 4096, 0, &t_ops, t, "t-mem32"), 0);
	assert_int_equal(virq_pci_dev_set_bar(&t->pdev, 2, 0x4000,
					      VIRQ_PCI_BAR_MEM64 | VIRQ_PCI_BAR_PREFETCH, &t_ops, t,
					      "t-mem64"),
			 0);
}

static void test_bar_sizing_and_set_bar_errors(void **state)
{
	static struct tdev t;
	int slot;

	setup();
	tdev_init(&t, &t_pci_ops);
	slot = virq_pci_add(&pci, &t.pdev);
	assert_int_equal(slot, 1);
	assert_int_equal(virq_pci_add(&pci, &t.pdev), -EBUSY);
	assert_int_equal(cfg_read(1, 0, 4), 0x56781234u);
	assert_int_equal(cfg_read(1, 8, 4), 0xff000003u);
	/* the BAR type bits are there before sizing */
	assert_int_equal(cfg_read(1, 0x10, 4), 0x1);
	assert_int_equal(cfg_read(1, 0x14, 4), 0x0);
	assert_int_equal(cfg_read(1, 0x18, 4), 0xc);
	/* write all ones, read ~(size - 1) | type (I/O: upper 16 bits hardwired to 0) */
	for (unsigned int r = 0x10; r < 0x28; r += 4)
		cfg_write(1, r, 4, 0xffffffffu);
	assert_int_equal(cfg_read(1, 0x10, 4), 0x0000ffe1u);
	assert_int_equal(cfg_read(1, 0x14, 4), 0xfffff000u);
	assert_int_equal(cfg_read(1, 0x18, 4), 0xffffc00cu);
	assert_int_equal(cfg_read(1, 0x1c, 4), 0xffffffffu);
	assert_int_equal(cfg_read(1, 0x20, 4), 0); /* BAR 4, 5 not implemented */
	assert_int_equal(cfg_read(1, 0x24, 4), 0);
	assert_int_equal(cfg_read(1, 0x30, 4), 0); /* no expansion ROM */
	/* byte-wide sizing of the I/O BAR */
	cfg_write(1, 0x10, 4, 0);
	cfg_write(1, 0x10, 1, 0xff);
	assert_int_equal(cfg_read(1, 0x10, 4), 0xe1);
	/* decode is off: nothing was mapped */
	assert_int_equal(t.maps, 0);
	assert_true(t.writes >= 8);
	/* the ID registers and header are read-only */
	cfg_write(1, 0, 4, 0);
	cfg_write(1, 0x0e, 1, 0x80);
	assert_int_equal(cfg_read(1, 0, 4), 0x56781234u);
	assert_int_equal(cfg_read(1, 0x0e, 1), 0);

	assert_int_equal(virq_pci_dev_set_bar(&t.pdev, 3, 16, 0, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(virq_pci_dev_set_bar(&t.pdev, 4, 24, 0, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(virq_pci_dev_set_bar(&t.pdev, 4, 512, VIRQ_PCI_BAR_IO, NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(virq_pci_dev_set_bar(&t.pdev, 5, 16, VIRQ_PCI_BAR_MEM64, NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(virq_pci_dev_set_bar(&t.pdev, 6, 16, 0, NULL, NULL, NULL), -EINVAL);
}

static void test_bar_decode_follows_command_on_the_bus(void **state)
{
	static struct tdev t;
	const struct virq_hw_range *r;
	uint64_t v;

	setup();
	tdev_init(&t, &t_pci_ops);
	t.use_helper = true;
	assert_int_equal(virq_pci_add(&pci, &t.pdev), 1);
	cfg_write(1, 0x10, 4, 0xc000);
	cfg_write(1, 0x14, 4, 0xfe000000u);
	cfg_write(1, 0x18, 4, 0x00000000u);
	cfg_write(1, 0x1c, 4, 0x1); /* BAR 2 at 4 GiB */
	assert_int_equal(t.maps, 0);
	assert_null(virq_hw_find_pio(&bus, 0xc000));
	assert_int_equal(virq_pci_bar_address(&t.pdev, 2), 0x100000000ull);

	/* I/O decode on: only the I/O BAR appears */
	cfg_write(1, 0x04, 2, VIRQ_PCI_COMMAND_IO);
	assert_int_equal(t.maps, 1);
	assert_int_equal(t.last_bar, 0);
	assert_int_equal(t.last_addr, 0xc000);
	r = virq_hw_find_pio(&bus, 0xc01f);
	assert_non_null(r);
	assert_int_equal(r->base, 0xc000);
	assert_int_equal(r->len, 32);
	assert_null(virq_hw_find_pio(&bus, 0xc020));
	assert_null(virq_hw_find_mmio(&bus, 0xfe000000u));
	out(0xc004, 4, 0xabcd);
	assert_int_equal(t.regs[1], 0xabcd);

	/* memory decode too (byte write of the command's low byte) */
	cfg_write(1, 0x04, 1, VIRQ_PCI_COMMAND_IO | VIRQ_PCI_COMMAND_MEMORY);
	assert_int_equal(t.maps, 3);
	assert_non_null(virq_hw_find_mmio(&bus, 0xfe000fffu));
	assert_null(virq_hw_find_mmio(&bus, 0xfe001000u));
	r = virq_hw_find_mmio(&bus, 0x100003fffull);
	assert_non_null(r);
	assert_int_equal(r->len, 0x4000);
	assert_int_equal(virq_hw_mmio_write(&bus, 0x100000008ull, 4, 77, 0), 0);
	assert_int_equal(virq_hw_mmio_read(&bus, 0x100000008ull, 4, 0, &v), 0);
	assert_int_equal(v, 77);

	/* moving a BAR while decoding: unmap the old range, map the new */
	cfg_write(1, 0x14, 4, 0xfe100000u);
	assert_int_equal(t.unmaps, 1);
	assert_int_equal(t.maps, 4);
	assert_null(virq_hw_find_mmio(&bus, 0xfe000000u));
	assert_non_null(virq_hw_find_mmio(&bus, 0xfe100000u));
	/* moving the upper dword of the 64-bit BAR */
	cfg_write(1, 0x1c, 4, 0x2);
	assert_null(virq_hw_find_mmio(&bus, 0x100000000ull));
	assert_non_null(virq_hw_find_mmio(&bus, 0x200000000ull));
	/* sizing with decode on: the all-ones pattern is not decoded */
	cfg_write(1, 0x14, 4, 0xffffffffu);
	assert_null(virq_hw_find_mmio(&bus, 0xfffff000u));
	assert_null(virq_hw_find_mmio(&bus, 0xfe100000u));
	cfg_write(1, 0x14, 4, 0xfe100000u);
	assert_non_null(virq_hw_find_mmio(&bus, 0xfe100000u));

	/* memory decode off: both memory BARs leave the bus; I/O stays */
	cfg_write(1, 0x04, 2, VIRQ_PCI_COMMAND_IO);
	assert_null(virq_hw_find_mmio(&bus, 0xfe100000u));
	assert_null(virq_hw_find_mmio(&bus, 0x200000000ull));
	assert_non_null(virq_hw_find_pio(&bus, 0xc000));
	cfg_write(1, 0x04, 2, 0);
	assert_null(virq_hw_find_pio(&bus, 0xc000));
	assert_int_equal(t.maps, t.unmaps);
	assert_false(t.last_en);
	/* the bus now holds only the two config ports */
	assert_int_equal(bus.pio.nr, 2);
	assert_int_equal(bus.mmio.nr, 0);
	assert_int_equal(t.pdev.map_errors, 0);
}

static void test_default_bar_map_is_the_bus_helper(void **state)
{
	static struct tdev t;
	static const struct virq_pci_dev_ops no_map = { 0 };

	setup();
	tdev_init(&t, &no_map);
	assert_int_equal(virq_pci_add(&pci, &t.pdev), 1);
	/* not on the bus yet: the helper refuses */
	cfg_write(1, 0x14, 4, 0xfe000000u);
	cfg_write(1, 0x04, 2, VIRQ_PCI_COMMAND_MEMORY);
	assert_non_null(virq_hw_find_mmio(&bus, 0xfe000000u));
	cfg_write(1, 0x04, 2, 0);
	assert_null(virq_hw_find_mmio(&bus, 0xfe000000u));
	/* a BAR on top of a range someone else holds: counted, not fatal */
	assert_int_equal(virq_hw_register_mmio(&bus, 0xfe000000u, 16, &t_ops, &t, "other"), 0);
	cfg_write(1, 0x04, 2, VIRQ_PCI_COMMAND_MEMORY);
	assert_int_equal(t.pdev.map_errors, 1);
	assert_int_equal(virq_pci_bar_map_hw(&t.pdev, 5, 0, true), -ENODEV);
}

static void test_assign_bars(void **state)
{
	static struct tdev t[3];

	setup();
	for (int i = 0; i < 3; i++) {
		tdev_init(&t[i], &t_pci_ops);
		t[i].use_helper = true;
		assert_int_equal(virq_pci_add(&pci, &t[i].pdev), i + 1);
	}
	assert_int_equal(virq_pci_assign_bars(&pci, 0xc0000000u, 0xfebfffffu, 0x1000, 0xffff), 0);
	for (int i = 0; i < 3; i++) {
		struct virq_pci_dev *d = &t[i].pdev;
		uint32_t cmd = virq_pci_config_read(&pci, (unsigned int)d->slot, 4, 2);

		assert_int_equal(cmd & 7, 7);
		for (unsigned int n = 0; n < 3; n++) {
			uint64_t a = virq_pci_bar_address(d, n);

			assert_true(a);
			assert_int_equal(a & (d->bar[n].size - 1), 0); /* natural alignment */
			assert_true(d->bar[n].mapped);
			if (n == 0) {
				assert_true(a >= 0x1000 && a + 32 <= 0x10000);
				assert_non_null(virq_hw_find_pio(&bus, (uint16_t)a));
			} else {
				assert_true(a >= 0xc0000000u && a + d->bar[n].size <= 0xfec00000u);
				assert_non_null(virq_hw_find_mmio(&bus, a + d->bar[n].size - 1));
			}
		}
		assert_int_equal(t[i].maps, 3);
	}
	/* largest first: the three 16 KiB BARs, then the 4 KiB ones, packed */
	assert_int_equal(virq_pci_bar_address(&t[0].pdev, 2), 0xc0000000u);
	assert_int_equal(virq_pci_bar_address(&t[2].pdev, 2), 0xc0008000u);
	assert_int_equal(virq_pci_bar_address(&t[0].pdev, 1), 0xc000c000u);
	assert_int_equal(virq_pci_bar_address(&t[0].pdev, 0), 0x1000);
	assert_int_equal(virq_pci_bar_address(&t[1].pdev, 0), 0x1020);
	/* the host bridge has no BARs and is untouched */
	assert_int_equal(virq_pci_config_read(&pci, 0, 0x10, 4), 0);
	assert_int_equal(bus.mmio.nr, 6);
	assert_int_equal(bus.pio.nr, 5);

	/* windows too small */
	setup();
	for (int i = 0; i < 3; i++) {
		tdev_init(&t[i], &t_pci_ops);
		assert_int_equal(virq_pci_add(&pci, &t[i].pdev), i + 1);
	}
	assert_int_equal(virq_pci_assign_bars(&pci, 0xc0000000u, 0xc0007fffu, 0x1000, 0xffff),
			 -ENOSPC);
	assert_int_equal(virq_pci_assign_bars(&pci, 0xc0000000u, 0xcfffffffu, 0x1000, 0x103f),
			 -ENOSPC);
}

static void test_capability_list_and_slots(void **state)
{
	static struct virq_pci_dev d[32];
	static const uint8_t cap_a[8] = { 0x09, 0xee, 8, 1, 2, 3, 4, 5 };
	static const uint8_t cap_b[6] = { 0x11, 0xee, 1, 2, 3, 4 };
	int off;

	setup();
	virq_pci_dev_init(&d[0], 1, 2, 0, 0, NULL, NULL);
	off = virq_pci_dev_add_cap(&d[0], cap_a, sizeof(cap_a));
	assert_int_equal(off, 0x40);
	off = virq_pci_dev_add_cap(&d[0], cap_b, sizeof(cap_b));
	assert_int_equal(off, 0x48);
	off = virq_pci_dev_add_cap(&d[0], cap_a, 3);
	assert_int_equal(off, 0x50); /* dword aligned after 0x4e */
	assert_int_equal(virq_pci_dev_add_cap(&d[0], cap_a, 200), -ENOSPC);
	assert_int_equal(virq_pci_add(&pci, &d[0]), 1);
	assert_int_equal(cfg_read(1, 0x06, 2) & VIRQ_PCI_STATUS_CAP_LIST, VIRQ_PCI_STATUS_CAP_LIST);
	assert_int_equal(cfg_read(1, 0x34, 1), 0x40);
	assert_int_equal(cfg_read(1, 0x40, 2), 0x4809);
	assert_int_equal(cfg_read(1, 0x48, 2), 0x5011);
	assert_int_equal(cfg_read(1, 0x50, 2), 0x0009);
	cfg_write(1, 0x34, 1, 0);
	cfg_write(1, 0x40, 4, 0);
	assert_int_equal(cfg_read(1, 0x34, 1), 0x40);
	assert_int_equal(cfg_read(1, 0x40, 4), 0x01084809u);
	/* 31 devices fit, the 32nd does not */
	for (int i = 1; i < 31; i++) {
		virq_pci_dev_init(&d[i], 1, (uint16_t)i, 0, 0, NULL, NULL);
		assert_int_equal(virq_pci_add(&pci, &d[i]), i + 1);
	}
	virq_pci_dev_init(&d[31], 1, 2, 0, 0, NULL, NULL);
	assert_int_equal(virq_pci_add(&pci, &d[31]), -ENOSPC);
	assert_int_equal(cfg_read(31, 0, 4), 0x001e0001u);
}

int main(void)
{
#define T(f) cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(test_config_address_and_host_bridge),
		T(test_absent_devices_read_all_ones),
		T(test_bar_sizing_and_set_bar_errors),
		T(test_bar_decode_follows_command_on_the_bus),
		T(test_default_bar_map_is_the_bus_helper),
		T(test_assign_bars),
		T(test_capability_list_and_slots),
	};
#undef T
	return cmocka_run_group_tests_name("hw_pci", tests, NULL, NULL);
}
