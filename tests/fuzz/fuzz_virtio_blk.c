// SPDX-License-Identifier: MIT
/*
 * Fuzz virtio-blk on the virtio PCI transport behind the PCI host bridge: configuration
 * space, common configuration, MSI-X table, ISR and device configuration accesses through
 * the device bus, guest RAM writes (rings and descriptors) and queue notifications, on a
 * 64 KiB guest RAM and a 16-sector memfd disk. After each step: nothing outside RAM was
 * touched (the guard bytes around it), the used index moved by what process() returned,
 * no request completed while DEVICE_NEEDS_RESET was set, every error set it, INTx is
 * asserted exactly when the ISR is nonzero with MSI-X off and INTx enabled, and the PBA
 * holds only real vectors.
 *
 * Input: 8-byte operations: op (low 3 bits), a, b, c, then a 32-bit little-endian value v.
 *   0 common cfg write at b % 0x38, size 1 << (a & 3)    1 the same, a read
 *   2 RAM write of v at (a << 8 | b), 4 bytes             3 notify queue a & 1
 *   4 config space write at b, size 1 << (a % 3)          5 MSI-X BAR write at (a << 8 |
 *   6 read: a & 3 = ISR, device cfg at b, MSI-X at b*16,    b) % 0x1000, size 4
 *     config space at b                                   7 canned driver init: features
 *     (the VERSION_1 half and v as the low half), queue size 1 << (a % 9), rings at
 *     b * 0x100 (desc), + 0x1000 (avail), + 0x2000 (used); c & 1: MSI-X on, vectors
 *     unmasked
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "virq/pci.h"
#include "virq/virtio_blk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_SIZE 0x10000u
#define GUARD 64
#define MEM_BASE 0xc0000000u

static uint8_t mem[GUARD + RAM_SIZE + GUARD];
static uint8_t *const ram = mem + GUARD;
static struct virq_hw_bus bus;
static struct virq_pci pci;
static struct virq_virtio_blk blk;
static uint64_t bar1, bar4;
static int slot, level, processed_in_notify;

static void fz_set(void *o, uint32_t line, int lvl)
{
	if (line != 11 || lvl == level)
		abort(); /* the transport reports changes only */
	level = lvl;
}

/* The device's used index moved by exactly the completions, and (the guest may scribble
 * over it between notifies) the ring holds the device's index after any completion. */
static void fz_notify(void *o, uint16_t queue)
{
	const struct virq_virtio_queue *q = virq_virtio_pci_queue(&blk.vp, 0);
	bool broken = blk.vp.status & VIRQ_VIRTIO_S_NEEDS_RESET;
	uint16_t used = blk.used_idx;
	unsigned int n = virq_virtio_blk_process(&blk, queue);

	if ((broken && n) || n > q->size || (uint16_t)(blk.used_idx - used) != n)
		abort();
	if (n && (q->device > RAM_SIZE - 4 ||
		  (uint16_t)(ram[q->device + 2] | ram[q->device + 3] << 8) != blk.used_idx))
		abort();
	processed_in_notify += (int)n;
}

static void fz_msi(void *o, uint64_t addr, uint32_t data)
{
}

static const struct virq_hw_line_ops line_ops = { .set_line = fz_set };
static const struct virq_hw_line line = { &line_ops, NULL };
static const struct virq_virtio_pci_ops sink = { .notify = fz_notify, .msi = fz_msi };

static void cfg_write(uint32_t off, unsigned int size, uint32_t v)
{
	virq_pci_config_write(&pci, (unsigned int)slot, off, size, v);
}

static void common_write(uint32_t off, unsigned int size, uint64_t v)
{
	virq_hw_mmio_write(&bus, bar4 + off, size, v, 0);
}

static void canned_init(uint8_t a, uint8_t b, uint8_t c, uint32_t v)
{
	uint64_t base = (uint64_t)b * 0x100;
	unsigned int cap = blk.vp.msix_cap;

	common_write(VIRQ_VIRTIO_COMMON_STATUS, 1, 0);
	common_write(VIRQ_VIRTIO_COMMON_STATUS, 1, 3);
	common_write(VIRQ_VIRTIO_COMMON_GFSELECT, 4, 0);
	common_write(VIRQ_VIRTIO_COMMON_GF, 4, v);
	common_write(VIRQ_VIRTIO_COMMON_GFSELECT, 4, 1);
	common_write(VIRQ_VIRTIO_COMMON_GF, 4, 1);
	common_write(VIRQ_VIRTIO_COMMON_STATUS, 1, 0xb);
	common_write(VIRQ_VIRTIO_COMMON_Q_SELECT, 2, 0);
	common_write(VIRQ_VIRTIO_COMMON_Q_SIZE, 2, 1u << (a % 9));
	common_write(VIRQ_VIRTIO_COMMON_Q_DESC, 8, base);
	common_write(VIRQ_VIRTIO_COMMON_Q_DRIVER, 8, base + 0x1000);
	common_write(VIRQ_VIRTIO_COMMON_Q_DEVICE, 8, base + 0x2000);
	common_write(VIRQ_VIRTIO_COMMON_Q_ENABLE, 2, 1);
	if (c & 1) {
		for (unsigned int i = 0; i < blk.vp.nvec; i++) {
			virq_hw_mmio_write(&bus, bar1 + 16 * i, 4, 0xfee00000u, 0);
			virq_hw_mmio_write(&bus, bar1 + 16 * i + 8, 4, 0x30 + i, 0);
			virq_hw_mmio_write(&bus, bar1 + 16 * i + 12, 4, 0, 0);
		}
		common_write(VIRQ_VIRTIO_COMMON_MSIX, 2, 0);
		common_write(VIRQ_VIRTIO_COMMON_Q_MSIX, 2, 1);
		cfg_write(cap + 2, 2, VIRQ_PCI_MSIX_ENABLE);
	}
	common_write(VIRQ_VIRTIO_COMMON_STATUS, 1, 0xf);
}

static void check(void)
{
	const struct virq_virtio_pci *vp = &blk.vp;
	uint32_t cmd = virq_pci_cfg_get(&vp->pdev, VIRQ_PCI_COMMAND, 2);
	bool msix = virq_pci_cfg_get(&vp->pdev, vp->msix_cap + 2, 2) & VIRQ_PCI_MSIX_ENABLE;
	int want = vp->isr && !msix && !(cmd & VIRQ_PCI_COMMAND_INTX_DISABLE);

	if (level != want || vp->intx_level != level)
		abort();
	if (vp->pba >> vp->nvec)
		abort();
	for (unsigned int i = 0; i < GUARD; i++)
		if (mem[i] != 0xa5 || mem[GUARD + RAM_SIZE + i] != 0xa5)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int disk = -1;
	struct virq_virtio_blk_config c = {
		.ram = ram,
		.ram_size = RAM_SIZE,
		.serial = "fuzz",
		.ops = &sink,
		.intx = &line,
		.intx_line = 11,
	};

	if (disk < 0) {
		disk = memfd_create("fuzz-virtio-blk", 0);
		if (disk < 0)
			abort();
	}
	/* a fresh, zeroed disk of 16 sectors for each input */
	if (ftruncate(disk, 0) || ftruncate(disk, 16 * 512))
		abort();
	memset(mem, 0xa5, sizeof(mem));
	memset(ram, 0, RAM_SIZE);
	level = 0;
	processed_in_notify = 0;
	c.fd = disk;
	virq_hw_bus_init(&bus);
	virq_pci_init(&pci);
	if (virq_pci_register(&pci, &bus) || virq_virtio_blk_init(&blk, &c))
		abort();
	slot = virq_pci_add(&pci, &blk.vp.pdev);
	if (slot != 1 || virq_pci_assign_bars(&pci, MEM_BASE, 0xfebfffffu, 0x1000, 0xffff))
		abort();
	bar1 = virq_pci_bar_address(&blk.vp.pdev, 1);
	bar4 = virq_pci_bar_address(&blk.vp.pdev, 4);

	for (size_t i = 0; i + 7 < size; i += 8) {
		uint8_t op = data[i] & 7, a = data[i + 1], b = data[i + 2], cc = data[i + 3];
		uint32_t v = (uint32_t)data[i + 4] | (uint32_t)data[i + 5] << 8 |
			     (uint32_t)data[i + 6] << 16 | (uint32_t)data[i + 7] << 24;
		uint64_t r, errors = blk.stats.errors;
		uint32_t off;

		switch (op) {
		case 0:
			common_write(b % VIRQ_VIRTIO_COMMON_SIZE, 1u << (a & 3),
				     (uint64_t)cc << 32 | v);
			break;
		case 1:
			virq_hw_mmio_read(&bus, bar4 + b % VIRQ_VIRTIO_COMMON_SIZE, 1u << (a & 3),
					  0, &r);
			break;
		case 2:
			off = (uint32_t)a << 8 | b;
			if (off > RAM_SIZE - 4)
				off = RAM_SIZE - 4;
			memcpy(ram + off, &v, 4);
			break;
		case 3:
			virq_hw_mmio_write(&bus, bar4 + VIRQ_VIRTIO_PCI_NOTIFY + 4 * (a & 1), 2,
					   a & 1, 0);
			break;
		case 4:
			cfg_write(b, 1u << (a % 3), v);
			/* BARs may have moved: follow them as the driver would */
			bar1 = virq_pci_bar_address(&blk.vp.pdev, 1);
			bar4 = virq_pci_bar_address(&blk.vp.pdev, 4);
			break;
		case 5:
			virq_hw_mmio_write(&bus, bar1 + (((uint32_t)a << 8 | b) % 0x1000 & ~3u), 4,
					   v, 0);
			break;
		case 6:
			switch (a & 3) {
			case 0:
				virq_hw_mmio_read(&bus, bar4 + VIRQ_VIRTIO_PCI_ISR, 1, 0, &r);
				break;
			case 1:
				virq_hw_mmio_read(&bus, bar4 + VIRQ_VIRTIO_PCI_DEVICE + b, 4, 0,
						  &r);
				break;
			case 2:
				virq_hw_mmio_read(&bus, bar1 + 16u * b, 4, 0, &r);
				break;
			default:
				virq_pci_config_read(&pci, (unsigned int)slot, b & 0xfc, 4);
				break;
			}
			break;
		default:
			canned_init(a, b, cc, v);
			break;
		}
		check();
		/* every error leaves DEVICE_NEEDS_RESET set (no op both errs and resets) */
		if (blk.stats.errors != errors && !(blk.vp.status & VIRQ_VIRTIO_S_NEEDS_RESET))
			abort();
	}
	virq_hw_bus_init(&bus); /* nothing of this input survives into the next */
	return 0;
}
