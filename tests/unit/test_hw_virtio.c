// SPDX-License-Identifier: MIT
/* The virtio 1.x PCI transport (VIRTIO 1.1 section 4.1) and virtio-blk (section 5.2),
 * driven the way a guest driver drives them: through 0xcf8/0xcfc and the BARs on the
 * device bus, with rings in a fake guest RAM buffer and a memfd as the disk. */
#include "virq_test.h"
#include "virq/hw.h"
#include "virq/pci.h"
#include "virq/virtio_blk.h"
#include "virq/virtio_pci.h"
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM_SIZE (1u << 20)
#define QSZ 16
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x10000
#define MEM_BASE 0xc0000000u
#define IRQ 11

static struct virq_hw_bus bus;
static struct virq_pci pci;
static struct virq_virtio_blk blk;
static uint8_t ram[RAM_SIZE];
static int disk = -1;
static int slot;
static uint64_t bar4, bar1;

static int msis, intx_level, intx_changes, notifies;
static uint64_t msi_addr;
static uint32_t msi_data;

static void s_set_line(void *o, uint32_t line, int level)
{
	assert_int_equal(line, IRQ);
	intx_level = level;
	intx_changes++;
}

static void s_notify(void *o, uint16_t queue)
{
	notifies++;
	virq_virtio_blk_process(&blk, queue); /* the VMM thread that took the notify */
}

static void s_msi(void *o, uint64_t addr, uint32_t data)
{
	msis++;
	msi_addr = addr;
	msi_data = data;
}

static const struct virq_hw_line_ops line_ops = { .set_line = s_set_line };
static const struct virq_hw_line line = { &line_ops, NULL };
static const struct virq_virtio_pci_ops sink_ops = { .notify = s_notify, .msi = s_msi };

/* ---- guest-side accessors ------------------------------------------------------------ */

static uint32_t cfg_read(unsigned int reg, unsigned int size)
{
	uint32_t v;

	virq_hw_pio_write(&bus, 0xcf8, 4,
			  VIRQ_PCI_CONFIG_ENABLE | (uint32_t)slot << 11 | (reg & 0xfc), 0);
	virq_hw_pio_read(&bus, (uint16_t)(0xcfc + (reg & 3)), size, 0, &v);
	return v;
}

static void cfg_write(unsigned int reg, unsigned int size, uint32_t v)
{
	virq_hw_pio_write(&bus, 0xcf8, 4,
			  VIRQ_PCI_CONFIG_ENABLE | (uint32_t)slot << 11 | (reg & 0xfc), 0);
	virq_hw_pio_write(&bus, (uint16_t)(0xcfc + (reg & 3)), size, v, 0);
}

static uint64_t mr(uint64_t a, unsigned int size)
{
	uint64_t v;

	assert_int_equal(virq_hw_mmio_read(&bus, a, size, 0, &v), 0);
	return v;
}

static void mw(uint64_t a, unsigned int size, uint64_t v)
{
	assert_int_equal(virq_hw_mmio_write(&bus, a, size, v, 0), 0);
}

#define COMMON(off) (bar4 + VIRQ_VIRTIO_PCI_COMMON + (off))

static uint8_t status(void)
{
	return (uint8_t)mr(COMMON(VIRQ_VIRTIO_COMMON_STATUS), 1);
}

static void put16(uint64_t gpa, uint16_t v)
{
	memcpy(ram + gpa, &v, 2);
}

static void put32(uint64_t gpa, uint32_t v)
{
	memcpy(ram + gpa, &v, 4);
}

static void put64(uint64_t gpa, uint64_t v)
{
	memcpy(ram + gpa, &v, 8);
}

static uint16_t get16(uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, ram + gpa, 2);
	return v;
}

static uint32_t get32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, ram + gpa, 4);
	return v;
}

/* Creates the machine: bus, host bridge, virtio-blk on an 8 KiB memfd, BARs assigned. */
static void machine(void)
{
	struct virq_virtio_blk_config c = {
		.ram = ram,
		.ram_size = RAM_SIZE,
		.serial = "virq-disk-0",
		.ops = &sink_ops,
		.intx = &line,
		.intx_line = IRQ,
	};

	if (disk >= 0)
		close(disk);
	disk = memfd_create("virq-test-disk", 0);
	assert_true(disk >= 0);
	assert_int_equal(ftruncate(disk, 8192 + 100), 0); /* 16 whole sectors and a tail */
	c.fd = disk;
	memset(ram, 0, sizeof(ram));
	msis = intx_level = intx_changes = notifies = 0;
	virq_hw_bus_init(&bus);
	virq_pci_init(&pci);
	assert_int_equal(virq_pci_register(&pci, &bus), 0);
	assert_int_equal(virq_virtio_blk_init(&blk, &c), 0);
	slot = virq_pci_add(&pci, &blk.vp.pdev);
	assert_int_equal(slot, 1);
	assert_int_equal(virq_pci_assign_bars(&pci, MEM_BASE, 0xfebfffffu, 0x1000, 0xffff), 0);
	bar1 = virq_pci_bar_address(&blk.vp.pdev, 1);
	bar4 = virq_pci_bar_address(&blk.vp.pdev, 4);
}

/* 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue 0, DRIVER_OK. */
static void driver_init(uint64_t features)
{
	mw(COMMON(VIRQ_VIRTIO_COMMON_STATUS), 1, 0);
	mw(COMMON(VIRQ_VIRTIO_COMMON_STATUS), 1, VIRQ_VIRTIO_S_ACKNOWLEDGE);
	mw(COMMON(VIRQ_VIRTIO_COMMON_STATUS), 1, VIRQ_VIRTIO_S_ACKNOWLEDGE | VIRQ_VIRTIO_S_DRIVER);
	mw(COMMON(VIRQ_VIRTIO_COMMON_GFSELECT), 4, 0);
	mw(COMMON(VIRQ_VIRTIO_COMMON_GF), 4, (uint32_t)features);
	mw(COMMON(VIRQ_VIRTIO_COMMON_GFSELECT), 4, 1);
	mw(COMMON(VIRQ_VIRTIO_COMMON_GF), 4, (uint32_t)(features >> 32));
	mw(COMMON(VIRQ_VIRTIO_COMMON_STATUS), 1, 0x3 | VIRQ_VIRTIO_S_FEATURES_OK);
	assert_true(status() & VIRQ_VIRTIO_S_FEATURES_OK);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_SELECT), 2, 0);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_SIZE), 2, QSZ);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_DESC), 8, DESC);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_DRIVER), 4, AVAIL); /* two dwords, as Linux does */
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_DRIVER) + 4, 4, 0);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_DEVICE), 8, USED);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_ENABLE), 2, 1);
	mw(COMMON(VIRQ_VIRTIO_COMMON_STATUS), 1,
	   0x3 | VIRQ_VIRTIO_S_FEATURES_OK | VIRQ_VIRTIO_S_DRIVER_OK);
}

static const uint64_t all_features =
	1ull << VIRQ_VIRTIO_F_VERSION_1 | 1ull << VIRQ_VIRTIO_BLK_F_SEG_MAX |
	1ull << VIRQ_VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRQ_VIRTIO_BLK_F_FLUSH;

/* ---- the guest's view of the rings --------------------------------------------------- */

static uint16_t avail_idx, used_seen;

static void desc(unsigned int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint64_t d = DESC + 16ull * i;

	put64(d, addr);
	put32(d + 8, len);
	put16(d + 12, flags);
	put16(d + 14, next);
}

static void submit(uint16_t head)
{
	put16(AVAIL + 4 + 2ull * (avail_idx % QSZ), head);
	avail_idx++;
	put16(AVAIL + 2, avail_idx);
}

static void kick(void)
{
	mw(bar4 + VIRQ_VIRTIO_PCI_NOTIFY + 0 * VIRQ_VIRTIO_PCI_NOTIFY_MULT, 2, 0);
}

/* A three-descriptor request at descriptors 0..2: header, data, status. */
static uint8_t request(uint32_t type, uint64_t sector, uint64_t data, uint32_t len, bool write)
{
	put32(BUF, type);
	put32(BUF + 4, 0);
	put64(BUF + 8, sector);
	ram[BUF + 16] = 0xee;
	desc(0, BUF, 16, VIRQ_VIRTQ_DESC_F_NEXT, 1);
	desc(1, data, len, VIRQ_VIRTQ_DESC_F_NEXT | (write ? VIRQ_VIRTQ_DESC_F_WRITE : 0), 2);
	desc(2, BUF + 16, 1, VIRQ_VIRTQ_DESC_F_WRITE, 0);
	submit(0);
	kick();
	assert_int_equal(get16(USED + 2), (uint16_t)(used_seen + 1));
	assert_int_equal(get32(USED + 4 + 8ull * (used_seen % QSZ)), 0); /* id: head 0 */
	used_seen++;
	return ram[BUF + 16];
}

static uint32_t used_len(void)
{
	return get32(USED + 4 + 8ull * ((uint16_t)(used_seen - 1) % QSZ) + 4);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_virtio_pci_identity_bars_caps(void **state)
{
	uint8_t seen[5] = { 0 };
	unsigned int p, msix = 0;

	machine();
	assert_int_equal(cfg_read(0, 4), 0x10421af4u); /* 0x1040 + block (2) */
	assert_int_equal(cfg_read(0x08, 1), 1); /* revision 1 */
	assert_int_equal(cfg_read(0x08, 4) >> 8, 0x010000);
	assert_int_equal(cfg_read(0x2c, 4), 0x11001af4u);
	assert_int_equal(cfg_read(0x3d, 1), 1);
	assert_int_equal(cfg_read(0x3c, 1), IRQ);
	assert_true(cfg_read(0x06, 2) & VIRQ_PCI_STATUS_CAP_LIST);
	/* BAR 1: 4 KiB 32-bit; BAR 4: 16 KiB 64-bit prefetchable */
	assert_int_equal(cfg_read(0x14, 4) & 0xf, 0);
	assert_int_equal(cfg_read(0x20, 4) & 0xf, 0xc);
	assert_int_equal(bar1 & 0xfff, 0);
	assert_int_equal(bar4 & 0x3fff, 0);
	assert_non_null(virq_hw_find_mmio(&bus, bar4 + 0x3fff));
	assert_non_null(virq_hw_find_mmio(&bus, bar1 + 0xfff));
	cfg_write(0x04, 2, 0);
	assert_null(virq_hw_find_mmio(&bus, bar4));
	cfg_write(0x20, 4, 0xffffffffu);
	cfg_write(0x24, 4, 0xffffffffu);
	assert_int_equal(cfg_read(0x20, 4), 0xffffc00cu);
	assert_int_equal(cfg_read(0x24, 4), 0xffffffffu);
	cfg_write(0x20, 4, (uint32_t)bar4);
	cfg_write(0x24, 4, 0);
	cfg_write(0x04, 2, 7);
	assert_non_null(virq_hw_find_mmio(&bus, bar4));

	/* walk the capability list as virtio_pci_modern's probe does */
	for (p = cfg_read(0x34, 1); p; p = cfg_read(p + 1, 1)) {
		unsigned int id = cfg_read(p, 1);

		if (id == VIRQ_PCI_CAP_ID_MSIX) {
			msix = p;
			continue;
		}
		assert_int_equal(id, VIRQ_PCI_CAP_ID_VNDR);
		unsigned int type = cfg_read(p + 3, 1);

		assert_true(type >= 1 && type <= 4);
		seen[type]++;
		assert_int_equal(cfg_read(p + 4, 1), 4); /* bar */
		switch (type) {
		case VIRQ_VIRTIO_PCI_CAP_COMMON_CFG:
			assert_int_equal(cfg_read(p + 8, 4), 0x0000);
			assert_int_equal(cfg_read(p + 12, 4), 0x38);
			break;
		case VIRQ_VIRTIO_PCI_CAP_NOTIFY_CFG:
			assert_int_equal(cfg_read(p + 2, 1), 20);
			assert_int_equal(cfg_read(p + 8, 4), 0x3000);
			assert_int_equal(cfg_read(p + 16, 4), 4); /* notify_off_multiplier */
			break;
		case VIRQ_VIRTIO_PCI_CAP_ISR_CFG:
			assert_int_equal(cfg_read(p + 8, 4), 0x1000);
			break;
		case VIRQ_VIRTIO_PCI_CAP_DEVICE_CFG:
			assert_int_equal(cfg_read(p + 8, 4), 0x2000);
			assert_int_equal(cfg_read(p + 12, 4), VIRQ_VIRTIO_BLK_CFG_SIZE);
			break;
		}
	}
	for (int t = 1; t <= 4; t++)
		assert_int_equal(seen[t], 1);
	assert_true(msix);
	assert_int_equal(cfg_read(msix + 2, 2), 1); /* 2 vectors, disabled, not masked */
	assert_int_equal(cfg_read(msix + 4, 4), 0x000 | 1);
	assert_int_equal(cfg_read(msix + 8, 4), 0x800 | 1);
	/* the table size and BIRs are read-only */
	cfg_write(msix + 2, 2, 0x07ff);
	cfg_write(msix + 4, 4, 0);
	assert_int_equal(cfg_read(msix + 2, 2), 1);
	assert_int_equal(cfg_read(msix + 4, 4), 1);

	/* device config: capacity in sectors, seg_max, blk_size */
	assert_int_equal(mr(bar4 + 0x2000, 8), 16);
	assert_int_equal(mr(bar4 + 0x2000 + 12, 4), VIRQ_VIRTIO_BLK_QUEUE_SIZE - 2);
	assert_int_equal(mr(bar4 + 0x2000 + 20, 4), 512);
	assert_int_equal(mr(bar4 + 0x2000 + 0x100, 4), 0);
	mw(bar4 + 0x2000, 8, 12345); /* read-only */
	assert_int_equal(mr(bar4 + 0x2000, 8), 16);
}

static void test_virtio_features_and_reset(void **state)
{
	machine();
	mw(COMMON(VIRQ_VIRTIO_COMMON_DFSELECT), 4, 0);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_DF), 4),
			 1u << 2 | 1u << 6 | 1u << 9); /* SEG_MAX, BLK_SIZE, FLUSH */
	mw(COMMON(VIRQ_VIRTIO_COMMON_DFSELECT), 4, 1);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_DF), 4), 1); /* VERSION_1 */
	mw(COMMON(VIRQ_VIRTIO_COMMON_DFSELECT), 4, 2);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_DF), 4), 0);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_NUMQ), 2), 1);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_MSIX), 2), VIRQ_VIRTIO_NO_VECTOR);

	/* a legacy driver (no VERSION_1) does not get FEATURES_OK */
	mw(COMMON(VIRQ_VIRTIO_COMMON_STATUS), 1, 3);
	mw(COMMON(VIRQ_VIRTIO_COMMON_GFSELECT), 4, 0);
	mw(COMMON(VIRQ_VIRTIO_COMMON_GF), 4, 1u << 9);
	mw(COMMON(VIRQ_VIRTIO_COMMON_STATUS), 1, 0xb);
	assert_int_equal(status(), 3);
	/* nor one taking a feature never offered (bit 28, INDIRECT_DESC) */
	mw(COMMON(VIRQ_VIRTIO_COMMON_GF), 4, 1u << 9 | 1u << 28);
	mw(COMMON(VIRQ_VIRTIO_COMMON_GFSELECT), 4, 1);
	mw(COMMON(VIRQ_VIRTIO_COMMON_GF), 4, 1);
	mw(COMMON(VIRQ_VIRTIO_COMMON_STATUS), 1, 0xb);
	assert_int_equal(status(), 3);
	mw(COMMON(VIRQ_VIRTIO_COMMON_GFSELECT), 4, 0);
	mw(COMMON(VIRQ_VIRTIO_COMMON_GF), 4, 1u << 9);
	mw(COMMON(VIRQ_VIRTIO_COMMON_STATUS), 1, 0xb);
	assert_int_equal(status(), 0xb);
	assert_int_equal(virq_virtio_pci_features(&blk.vp), 1ull << 32 | 1u << 9);
	/* features are frozen after FEATURES_OK */
	mw(COMMON(VIRQ_VIRTIO_COMMON_GF), 4, 0);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_GF), 4), 1u << 9);

	/* queue registers */
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_SIZE), 2), VIRQ_VIRTIO_BLK_QUEUE_SIZE);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_SIZE), 2, 100); /* not a power of 2 */
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_SIZE), 2, 512); /* above the maximum */
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_SIZE), 2), VIRQ_VIRTIO_BLK_QUEUE_SIZE);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_SIZE), 2, 64);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_SIZE), 2), 64);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_MSIX), 2, 5); /* only vectors 0 and 1 exist */
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_MSIX), 2), VIRQ_VIRTIO_NO_VECTOR);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_MSIX), 2, 1);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_MSIX), 2), 1);
	mw(COMMON(VIRQ_VIRTIO_COMMON_MSIX), 2, 0);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_MSIX), 2), 0);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_NOFF), 2), 0);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_DESC), 4, 0x12345000u);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_DESC) + 4, 4, 0x1);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_DESC), 8), 0x112345000ull);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_DESC) + 1, 1, 0x67); /* byte lanes */
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_DESC), 8), 0x112346700ull);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_ENABLE), 2, 1);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_ENABLE), 2), 1);
	/* a queue that does not exist */
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_SELECT), 2, 1);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_SELECT), 2), 1);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_SIZE), 2), 0);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_SIZE), 2, 16);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_SIZE), 2), 0);
	/* a 32-bit read of num_queues|status|generation at 0x12 */
	assert_int_equal(mr(COMMON(0x12), 4), 1 | 0xb << 16);

	/* writing 0 resets: status, features, queue state; not the MSI-X table */
	blk.last_avail = 7;
	mw(COMMON(VIRQ_VIRTIO_COMMON_STATUS), 1, 0);
	assert_int_equal(status(), 0);
	assert_int_equal(blk.last_avail, 0);
	assert_int_equal(blk.vp.stats.resets, 1);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_SELECT), 2), 0);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_SIZE), 2), VIRQ_VIRTIO_BLK_QUEUE_SIZE);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_ENABLE), 2), 0);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_DESC), 8), 0);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_Q_MSIX), 2), VIRQ_VIRTIO_NO_VECTOR);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_MSIX), 2), VIRQ_VIRTIO_NO_VECTOR);
	mw(COMMON(VIRQ_VIRTIO_COMMON_GFSELECT), 4, 0);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_GF), 4), 0);
	/* and a driver can start again */
	driver_init(all_features);
	assert_int_equal(status(), 0xf);
}

static void msix_entry(unsigned int v, uint64_t addr, uint32_t data, bool masked)
{
	uint64_t e = bar1 + 16ull * v;

	mw(e, 4, (uint32_t)addr);
	mw(e + 4, 4, (uint32_t)(addr >> 32));
	mw(e + 8, 4, data);
	mw(e + 12, 4, masked);
}

static unsigned int msix_cap(void)
{
	return blk.vp.msix_cap;
}

static void test_msix_delivery_mask_pba(void **state)
{
	unsigned int cap;

	machine();
	driver_init(all_features);
	cap = msix_cap();
	/* every vector starts masked (PCI 3.0 6.8.2.9) */
	assert_int_equal(mr(bar1 + 12, 4), 1);
	assert_int_equal(mr(bar1 + 16 + 12, 4), 1);
	msix_entry(0, 0xfee00000u, 0x4041, true);
	msix_entry(1, 0xfee01000u, 0x4052, true);
	assert_int_equal(mr(bar1 + 16, 8), 0xfee01000u);
	assert_int_equal(mr(bar1 + 24, 4), 0x4052);
	mw(bar1 + 12, 4, 0xfffffffe); /* reserved control bits read 0 */
	assert_int_equal(mr(bar1 + 12, 4), 0);
	mw(bar1 + 12, 4, 1);
	mw(COMMON(VIRQ_VIRTIO_COMMON_MSIX), 2, 0);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_MSIX), 2, 1);

	cfg_write(cap + 2, 2, VIRQ_PCI_MSIX_ENABLE);
	assert_int_equal(cfg_read(cap + 2, 2), VIRQ_PCI_MSIX_ENABLE | 1);
	/* masked vector: pending bit, no message */
	virq_virtio_pci_interrupt(&blk.vp, 0);
	assert_int_equal(msis, 0);
	assert_int_equal(mr(bar1 + 0x800, 8), 0x2);
	mw(bar1 + 0x800, 8, 0); /* the PBA is read-only */
	assert_int_equal(mr(bar1 + 0x800, 4), 0x2);
	/* unmasking delivers it and clears the bit */
	mw(bar1 + 16 + 12, 4, 0);
	assert_int_equal(msis, 1);
	assert_int_equal(msi_addr, 0xfee01000u);
	assert_int_equal(msi_data, 0x4052);
	assert_int_equal(mr(bar1 + 0x800, 8), 0);
	/* unmasked: straight through */
	virq_virtio_pci_interrupt(&blk.vp, 0);
	assert_int_equal(msis, 2);
	/* Function Mask holds every vector; clearing it delivers what is pending */
	cfg_write(cap + 3, 1, (VIRQ_PCI_MSIX_ENABLE | VIRQ_PCI_MSIX_MASKALL) >> 8);
	virq_virtio_pci_interrupt(&blk.vp, 0);
	assert_int_equal(msis, 2);
	assert_int_equal(mr(bar1 + 0x800, 1), 0x2);
	cfg_write(cap + 3, 1, VIRQ_PCI_MSIX_ENABLE >> 8);
	assert_int_equal(msis, 3);
	assert_int_equal(mr(bar1 + 0x800, 1), 0);
	/* configuration change on vector 0 (masked, then unmasked); generation moves */
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_CFGGENERATION), 1), 0);
	virq_virtio_pci_config_changed(&blk.vp);
	assert_int_equal(mr(COMMON(VIRQ_VIRTIO_COMMON_CFGGENERATION), 1), 1);
	assert_int_equal(mr(bar1 + 0x800, 1), 0x1);
	mw(bar1 + 12, 4, 0);
	assert_int_equal(msis, 4);
	assert_int_equal(msi_data, 0x4041);
	/* NO_VECTOR: no interrupt at all */
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_MSIX), 2, VIRQ_VIRTIO_NO_VECTOR);
	virq_virtio_pci_interrupt(&blk.vp, 0);
	assert_int_equal(msis, 4);
	assert_int_equal(mr(bar1 + 0x800, 1), 0);
	assert_int_equal(blk.vp.stats.msi_no_vector, 1);
	/* INTx never moved, and no queue 1 */
	virq_virtio_pci_interrupt(&blk.vp, 1);
	assert_int_equal(intx_changes, 0);
	assert_int_equal(mr(bar4 + VIRQ_VIRTIO_PCI_ISR, 1), 0);
}

static void test_intx_and_isr(void **state)
{
	unsigned int cap;

	machine();
	driver_init(all_features);
	cap = msix_cap();
	virq_virtio_pci_interrupt(&blk.vp, 0);
	assert_int_equal(intx_level, 1);
	assert_true(cfg_read(0x06, 2) & VIRQ_PCI_STATUS_INTERRUPT);
	/* a second interrupt while asserted changes nothing */
	virq_virtio_pci_interrupt(&blk.vp, 0);
	assert_int_equal(intx_changes, 1);
	/* reading the ISR returns and clears it, and de-asserts the line */
	assert_int_equal(mr(bar4 + VIRQ_VIRTIO_PCI_ISR, 1), VIRQ_VIRTIO_ISR_QUEUE);
	assert_int_equal(intx_level, 0);
	assert_false(cfg_read(0x06, 2) & VIRQ_PCI_STATUS_INTERRUPT);
	assert_int_equal(mr(bar4 + VIRQ_VIRTIO_PCI_ISR, 1), 0);
	/* configuration change: ISR bit 1 */
	virq_virtio_pci_config_changed(&blk.vp);
	virq_virtio_pci_interrupt(&blk.vp, 0);
	assert_int_equal(intx_level, 1);
	assert_int_equal(mr(bar4 + VIRQ_VIRTIO_PCI_ISR, 4), 3);
	assert_int_equal(intx_level, 0);
	/* INTx Disable: the ISR and Status.Interrupt still say so, the pin stays quiet */
	cfg_write(0x04, 2, 7 | VIRQ_PCI_COMMAND_INTX_DISABLE);
	virq_virtio_pci_interrupt(&blk.vp, 0);
	assert_int_equal(intx_level, 0);
	assert_true(cfg_read(0x06, 2) & VIRQ_PCI_STATUS_INTERRUPT);
	cfg_write(0x04, 2, 7);
	assert_int_equal(intx_level, 1);
	/* enabling MSI-X takes the pin away */
	cfg_write(cap + 2, 2, VIRQ_PCI_MSIX_ENABLE);
	assert_int_equal(intx_level, 0);
	cfg_write(cap + 2, 2, 0);
	assert_int_equal(intx_level, 1);
	/* reset clears the ISR and the line */
	mw(COMMON(VIRQ_VIRTIO_COMMON_STATUS), 1, 0);
	assert_int_equal(intx_level, 0);
	assert_int_equal(mr(bar4 + VIRQ_VIRTIO_PCI_ISR, 1), 0);
	assert_int_equal(blk.vp.stats.intx_raises, 4);
}

static void test_virtio_blk_driver_sequence(void **state)
{
	uint8_t sector[512], back[512];
	uint8_t id[20];

	machine();
	avail_idx = used_seen = 0;
	driver_init(all_features);
	assert_int_equal(status(), 0xf);
	assert_int_equal(mr(bar4 + 0x2000, 8), 16); /* capacity */

	/* write sector 3 */
	for (int i = 0; i < 512; i++)
		ram[BUF + 0x1000 + i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(request(VIRQ_VIRTIO_BLK_T_OUT, 3, BUF + 0x1000, 512, false),
			 VIRQ_VIRTIO_BLK_S_OK);
	assert_int_equal(used_len(), 1);
	assert_int_equal(notifies, 1);
	assert_int_equal(intx_level, 1);
	assert_int_equal(mr(bar4 + VIRQ_VIRTIO_PCI_ISR, 1), 1);
	assert_int_equal(pread(disk, sector, 512, 3 * 512), 512);
	assert_memory_equal(sector, ram + BUF + 0x1000, 512);

	/* read it back */
	memset(ram + BUF + 0x2000, 0, 512);
	assert_int_equal(request(VIRQ_VIRTIO_BLK_T_IN, 3, BUF + 0x2000, 512, true),
			 VIRQ_VIRTIO_BLK_S_OK);
	assert_int_equal(used_len(), 513);
	memcpy(back, ram + BUF + 0x2000, 512);
	assert_memory_equal(back, sector, 512);

	/* flush, get-id */
	assert_int_equal(request(VIRQ_VIRTIO_BLK_T_FLUSH, 0, BUF + 0x3000, 0, false),
			 VIRQ_VIRTIO_BLK_S_OK);
	assert_int_equal(blk.stats.flushes, 1);
	memset(ram + BUF + 0x3000, 0xaa, 32);
	assert_int_equal(request(VIRQ_VIRTIO_BLK_T_GET_ID, 0, BUF + 0x3000, 20, true),
			 VIRQ_VIRTIO_BLK_S_OK);
	memcpy(id, ram + BUF + 0x3000, 20);
	assert_memory_equal(id, "virq-disk-0\0\0\0\0\0\0\0\0\0", 20);
	assert_int_equal(used_len(), 21);
	assert_int_equal(ram[BUF + 0x3000 + 20], 0xaa);

	/* errors a driver can cause without breaking the queue */
	assert_int_equal(request(VIRQ_VIRTIO_BLK_T_IN, 16, BUF + 0x2000, 512, true),
			 VIRQ_VIRTIO_BLK_S_IOERR); /* past the capacity */
	assert_int_equal(request(VIRQ_VIRTIO_BLK_T_OUT, 15, BUF + 0x2000, 1024, false),
			 VIRQ_VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(VIRQ_VIRTIO_BLK_T_OUT, 1, BUF + 0x2000, 100, false),
			 VIRQ_VIRTIO_BLK_S_IOERR); /* not whole sectors */
	assert_int_equal(request(VIRQ_VIRTIO_BLK_T_IN, UINT64_MAX, BUF + 0x2000, 512, true),
			 VIRQ_VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(42, 0, BUF + 0x2000, 512, true), VIRQ_VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(blk.stats.ioerrs, 4);
	assert_int_equal(blk.stats.errors, 0);
	assert_false(status() & VIRQ_VIRTIO_S_NEEDS_RESET);

	/* a request in many pieces: header split over two descriptors, data over three
	 * (the last sector, 15), status alone */
	put32(BUF, VIRQ_VIRTIO_BLK_T_IN);
	put32(BUF + 4, 0);
	put64(BUF + 8, 15);
	desc(5, BUF, 6, VIRQ_VIRTQ_DESC_F_NEXT, 9);
	desc(9, BUF + 6, 10, VIRQ_VIRTQ_DESC_F_NEXT, 3);
	desc(3, BUF + 0x4000, 100, VIRQ_VIRTQ_DESC_F_NEXT | VIRQ_VIRTQ_DESC_F_WRITE, 4);
	desc(4, BUF + 0x5000, 400, VIRQ_VIRTQ_DESC_F_NEXT | VIRQ_VIRTQ_DESC_F_WRITE, 6);
	desc(6, BUF + 0x6000, 13, VIRQ_VIRTQ_DESC_F_WRITE, 0); /* 12 data + status */
	for (int i = 0; i < 512; i++)
		sector[i] = (uint8_t)(0x55 ^ i);
	assert_int_equal(pwrite(disk, sector, 512, 15 * 512), 512);
	/* two requests in one notify, and NO_INTERRUPT: no interrupt */
	assert_int_equal(mr(bar4 + VIRQ_VIRTIO_PCI_ISR, 1), 1);
	put16(AVAIL, VIRQ_VIRTQ_AVAIL_F_NO_INTERRUPT);
	submit(5);
	desc(10, BUF + 0x100, 16, VIRQ_VIRTQ_DESC_F_NEXT, 11);
	put32(BUF + 0x100, VIRQ_VIRTIO_BLK_T_FLUSH);
	desc(11, BUF + 0x110, 1, VIRQ_VIRTQ_DESC_F_WRITE, 0);
	submit(10);
	assert_int_equal(virq_virtio_blk_process(&blk, 0), 2);
	assert_int_equal(get16(USED + 2), used_seen + 2);
	assert_int_equal(get32(USED + 4 + 8 * (used_seen % QSZ)), 5);
	assert_int_equal(get32(USED + 4 + 8 * (used_seen % QSZ) + 4), 513);
	assert_int_equal(get32(USED + 4 + 8 * ((used_seen + 1) % QSZ)), 10);
	used_seen += 2;
	assert_memory_equal(ram + BUF + 0x4000, sector, 100);
	assert_memory_equal(ram + BUF + 0x5000, sector + 100, 400);
	assert_memory_equal(ram + BUF + 0x6000, sector + 500, 12);
	assert_int_equal(ram[BUF + 0x6000 + 12], VIRQ_VIRTIO_BLK_S_OK);
	assert_int_equal(ram[BUF + 0x110], VIRQ_VIRTIO_BLK_S_OK);
	assert_int_equal(intx_level, 0);
	assert_int_equal(blk.stats.suppressed, 1);
	/* nothing new: nothing done, no interrupt */
	assert_int_equal(virq_virtio_blk_process(&blk, 0), 0);
	assert_int_equal(virq_virtio_blk_process(&blk, 1), 0);
	put16(AVAIL, 0);

	/* with MSI-X: queue 0 on vector 1 */
	msix_entry(1, 0xfee00000u, 0x31, false);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_SELECT), 2, 0);
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_MSIX), 2, 1);
	cfg_write(msix_cap() + 2, 2, VIRQ_PCI_MSIX_ENABLE);
	assert_int_equal(request(VIRQ_VIRTIO_BLK_T_FLUSH, 0, BUF + 0x3000, 0, false),
			 VIRQ_VIRTIO_BLK_S_OK);
	assert_int_equal(msis, 1);
	assert_int_equal(msi_data, 0x31);

	/* a driver reset, then a fresh start: indices begin at 0 again */
	driver_init(all_features);
	avail_idx = used_seen = 0;
	memset(ram + AVAIL, 0, 0x2000);
	assert_int_equal(request(VIRQ_VIRTIO_BLK_T_IN, 3, BUF + 0x2000, 512, true),
			 VIRQ_VIRTIO_BLK_S_OK);
	assert_memory_equal(ram + BUF + 0x2000, ram + BUF + 0x1000, 512);
	assert_int_equal(blk.stats.errors, 0);
}

/* Submits head after the caller wrote its descriptors; expects the device to give up. */
static void expect_broken(uint16_t head, const char *what)
{
	uint64_t errs = blk.stats.errors;
	uint16_t used = get16(USED + 2);

	print_message("# bad case: %s\n", what);
	submit(head);
	kick();
	assert_true(status() & VIRQ_VIRTIO_S_NEEDS_RESET);
	assert_int_equal(blk.stats.errors, errs + 1);
	assert_int_equal(get16(USED + 2), used);
	/* the queue stays ignored until the driver resets the device */
	assert_int_equal(virq_virtio_blk_process(&blk, 0), 0);
	assert_int_equal(blk.stats.errors, errs + 1);
	/* the configuration interrupt told the driver (INTx here) */
	assert_int_equal(mr(bar4 + VIRQ_VIRTIO_PCI_ISR, 1) & VIRQ_VIRTIO_ISR_CONFIG,
			 VIRQ_VIRTIO_ISR_CONFIG);
	driver_init(all_features);
	assert_false(status() & VIRQ_VIRTIO_S_NEEDS_RESET);
	avail_idx = used_seen = 0;
	memset(ram + AVAIL, 0, 0x2000);
	memset(ram + DESC, 0, 0x1000);
}

static void test_virtio_blk_bad_descriptors(void **state)
{
	machine();
	driver_init(all_features);
	avail_idx = used_seen = 0;

	desc(0, BUF, 16, VIRQ_VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF + 0x1000, 512, VIRQ_VIRTQ_DESC_F_NEXT, 0); /* back to 0 */
	expect_broken(0, "loop");
	desc(0, BUF, 16, VIRQ_VIRTQ_DESC_F_NEXT, 0); /* itself */
	expect_broken(0, "self loop");
	desc(0, BUF, 16, VIRQ_VIRTQ_DESC_F_NEXT, QSZ);
	expect_broken(0, "next out of range");
	expect_broken(QSZ + 3, "head out of range");
	desc(0, RAM_SIZE - 8, 16, VIRQ_VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF, 1, VIRQ_VIRTQ_DESC_F_WRITE, 0);
	expect_broken(0, "header past the end of RAM");
	desc(0, BUF, 16, VIRQ_VIRTQ_DESC_F_NEXT, 1);
	desc(1, UINT64_MAX - 0x10, 0x100, VIRQ_VIRTQ_DESC_F_WRITE, 0);
	expect_broken(0, "address wraps");
	desc(0, BUF, 16, VIRQ_VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, "indirect descriptor");
	desc(0, BUF, 16, VIRQ_VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF + 16, 1, VIRQ_VIRTQ_DESC_F_WRITE | VIRQ_VIRTQ_DESC_F_NEXT, 2);
	desc(2, BUF + 32, 512, 0, 0);
	expect_broken(0, "readable after writable");
	put32(BUF, VIRQ_VIRTIO_BLK_T_IN);
	desc(0, BUF, 16, 0, 0);
	expect_broken(0, "no status byte");
	desc(0, BUF, 8, VIRQ_VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF + 16, 1, VIRQ_VIRTQ_DESC_F_WRITE, 0);
	expect_broken(0, "short header");

	/* avail index more than a queue ahead */
	desc(0, BUF, 16, VIRQ_VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF + 16, 1, VIRQ_VIRTQ_DESC_F_WRITE, 0);
	avail_idx = QSZ + 1;
	expect_broken(0, "avail index too far ahead");

	/* rings outside RAM or misaligned (moved under a running queue) */
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_DEVICE), 8, RAM_SIZE - 8);
	expect_broken(0, "used ring past the end of RAM");
	mw(COMMON(VIRQ_VIRTIO_COMMON_Q_DESC), 8, DESC + 8);
	expect_broken(0, "misaligned descriptor table");

	/* good requests still work after all that, and a bad one after good ones keeps the
	 * completed ones */
	desc(0, BUF, 16, VIRQ_VIRTQ_DESC_F_NEXT, 1);
	put32(BUF, VIRQ_VIRTIO_BLK_T_FLUSH);
	desc(1, BUF + 16, 1, VIRQ_VIRTQ_DESC_F_WRITE, 0);
	desc(2, BUF, 16, VIRQ_VIRTQ_DESC_F_NEXT, 2);
	submit(0);
	submit(2);
	assert_int_equal(virq_virtio_blk_process(&blk, 0), 1);
	assert_int_equal(get16(USED + 2), 1);
	assert_true(status() & VIRQ_VIRTIO_S_NEEDS_RESET);
	assert_int_equal(blk.stats.errors, 14);

	/* nothing happens before DRIVER_OK */
	mw(COMMON(VIRQ_VIRTIO_COMMON_STATUS), 1, 0);
	assert_int_equal(virq_virtio_blk_process(&blk, 0), 0);
	assert_int_equal(blk.stats.errors, 14);
}

static void test_virtio_pci_init_errors(void **state)
{
	static struct virq_virtio_pci vp;
	struct virq_virtio_pci_config c = { .num_queues = 0, .queue_max_size = 16 };
	struct virq_virtio_blk_config bc = { .fd = -1 };

	assert_int_equal(virq_virtio_pci_init(&vp, &c), -EINVAL);
	c.num_queues = VIRQ_VIRTIO_PCI_MAX_QUEUES + 1;
	assert_int_equal(virq_virtio_pci_init(&vp, &c), -EINVAL);
	c.num_queues = 2;
	c.queue_max_size = 24;
	assert_int_equal(virq_virtio_pci_init(&vp, &c), -EINVAL);
	c.queue_max_size = 16;
	c.dev_cfg_len = 4;
	assert_int_equal(virq_virtio_pci_init(&vp, &c), -EINVAL);
	c.dev_cfg_len = 0;
	assert_int_equal(virq_virtio_pci_init(&vp, &c), 0);
	assert_int_equal(vp.nvec, 3);
	assert_int_equal(virq_virtio_blk_init(&blk, &bc), -EINVAL);
}

int main(void)
{
#define T(f) cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(test_virtio_pci_identity_bars_caps), T(test_virtio_features_and_reset),
		T(test_msix_delivery_mask_pba),	       T(test_intx_and_isr),
		T(test_virtio_blk_driver_sequence),    T(test_virtio_blk_bad_descriptors),
		T(test_virtio_pci_init_errors),
	};
#undef T
	return cmocka_run_group_tests_name("hw_virtio", tests, NULL, NULL);
}
