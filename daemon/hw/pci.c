// SPDX-License-Identifier: MIT
/* PCI host bridge, configuration mechanism #1 (PCI 3.0 section 3.2.2.3.2); see
 * include/virq/pci.h. */
#include <errno.h>
#include <string.h>

#include "virq/pci.h"

/* bar[n + 1].flags of a 64-bit BAR n: the upper dword, not a BAR of its own. */
#define BAR_UPPER 0x80
/* CONFIG_ADDRESS: bit 31, bus, device, function, register; 30:24 and 1:0 read as 0. */
#define CA_WRITABLE 0x80fffffcu

uint32_t virq_pci_cfg_get(const struct virq_pci_dev *dev, uint32_t off, unsigned int size)
{
	uint32_t v = 0;

	for (unsigned int i = 0; i < size && off + i < VIRQ_PCI_CFG_SIZE; i++)
		v |= (uint32_t)dev->cfg[off + i] << (8 * i);
	return v;
}

void virq_pci_cfg_set(struct virq_pci_dev *dev, uint32_t off, unsigned int size, uint32_t val)
{
	for (unsigned int i = 0; i < size && off + i < VIRQ_PCI_CFG_SIZE; i++)
		dev->cfg[off + i] = (uint8_t)(val >> (8 * i));
}

static void set_wmask(struct virq_pci_dev *dev, uint32_t off, unsigned int size, uint32_t m)
{
	for (unsigned int i = 0; i < size && off + i < VIRQ_PCI_CFG_SIZE; i++)
		dev->wmask[off + i] = (uint8_t)(m >> (8 * i));
}

void virq_pci_dev_init(struct virq_pci_dev *dev, uint16_t vendor, uint16_t device,
		       uint32_t class_code, uint8_t revision, const struct virq_pci_dev_ops *ops,
		       void *opaque)
{
	memset(dev, 0, sizeof(*dev));
	dev->ops = ops;
	dev->opaque = opaque;
	dev->slot = -1;
	dev->cap_end = VIRQ_PCI_CAP_START;
	virq_pci_cfg_set(dev, VIRQ_PCI_VENDOR_ID, 2, vendor);
	virq_pci_cfg_set(dev, VIRQ_PCI_DEVICE_ID, 2, device);
	virq_pci_cfg_set(dev, VIRQ_PCI_REVISION_ID, 1, revision);
	virq_pci_cfg_set(dev, VIRQ_PCI_CLASS_PROG, 3, class_code);
	dev->cfg[VIRQ_PCI_HEADER_TYPE] = 0; /* type 0, single function */
	/* Section 6.2.2: the command bits a simple device implements. Status is read-only
	 * here: none of its error bits (the write-1-to-clear ones) is ever set. */
	set_wmask(dev, VIRQ_PCI_COMMAND, 2,
		  VIRQ_PCI_COMMAND_IO | VIRQ_PCI_COMMAND_MEMORY | VIRQ_PCI_COMMAND_MASTER |
			  VIRQ_PCI_COMMAND_PARITY | VIRQ_PCI_COMMAND_SERR |
			  VIRQ_PCI_COMMAND_INTX_DISABLE);
	dev->wmask[VIRQ_PCI_CACHE_LINE_SIZE] = 0xff;
	dev->wmask[VIRQ_PCI_LATENCY_TIMER] = 0xff;
	dev->wmask[VIRQ_PCI_INTERRUPT_LINE] = 0xff; /* section 6.2.4: a scratch byte for software */
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int virq_pci_dev_set_bar(struct virq_pci_dev *dev, unsigned int n, uint64_t size, uint8_t flags,
			 const struct virq_hw_ops *ops, void *opaque, const char *name)
{
	struct virq_pci_bar *b;
	uint32_t off = VIRQ_PCI_BAR0 + 4 * n;
	uint64_t writable = ~(size - 1);

	if (n >= VIRQ_PCI_NUM_BARS || !pow2(size) || (dev->bar[n].flags & BAR_UPPER))
		return -EINVAL;
	if (flags & VIRQ_PCI_BAR_IO) {
		/* Section 6.2.5.1: I/O BARs map at most 256 bytes; on x86 the upper 16 bits
		 * are hardwired to 0 (64 KiB of ports). */
		if (size < 4 || size > 256 ||
		    (flags & (VIRQ_PCI_BAR_MEM64 | VIRQ_PCI_BAR_PREFETCH)))
			return -EINVAL;
		virq_pci_cfg_set(dev, off, 4, 0x1);
		set_wmask(dev, off, 4, (uint32_t)writable & 0xfffcu);
	} else if (flags & VIRQ_PCI_BAR_MEM64) {
		if (size < 16 || n + 1 >= VIRQ_PCI_NUM_BARS || dev->bar[n + 1].size)
			return -EINVAL;
		/* Type 10b (64-bit) in bits 2:1, prefetchable bit 3. */
		virq_pci_cfg_set(dev, off, 4, 0x4 | (flags & VIRQ_PCI_BAR_PREFETCH ? 0x8 : 0));
		set_wmask(dev, off, 4, (uint32_t)writable & 0xfffffff0u);
		virq_pci_cfg_set(dev, off + 4, 4, 0);
		set_wmask(dev, off + 4, 4, (uint32_t)(writable >> 32));
		dev->bar[n + 1].flags = BAR_UPPER;
	} else {
		if (size < 16 || size > (1ull << 31))
			return -EINVAL;
		virq_pci_cfg_set(dev, off, 4, flags & VIRQ_PCI_BAR_PREFETCH ? 0x8 : 0);
		set_wmask(dev, off, 4, (uint32_t)writable & 0xfffffff0u);
	}
	b = &dev->bar[n];
	b->size = size;
	b->flags = flags;
	b->ops = ops;
	b->opaque = opaque;
	b->name = name;
	b->mapped = false;
	return 0;
}

int virq_pci_dev_add_cap(struct virq_pci_dev *dev, const void *body, unsigned int len)
{
	unsigned int off = (dev->cap_end + 3u) & ~3u;

	if (len < 2)
		return -EINVAL;
	if (off + len > VIRQ_PCI_CFG_SIZE)
		return -ENOSPC;
	memcpy(dev->cfg + off, body, len);
	dev->cfg[off + 1] = 0; /* end of list */
	memset(dev->wmask + off, 0, len);
	/* Section 6.7: the list starts at the Capabilities Pointer (bits 1:0 reserved) and
	 * each Next pointer names the following capability. */
	if (dev->cap_last)
		dev->cfg[dev->cap_last + 1] = (uint8_t)off;
	else
		dev->cfg[VIRQ_PCI_CAPABILITY_LIST] = (uint8_t)off;
	dev->cap_last = (uint8_t)off;
	dev->cap_end = (uint8_t)(off + len < VIRQ_PCI_CFG_SIZE ? off + len : 0xff);
	virq_pci_cfg_set(dev, VIRQ_PCI_STATUS, 2,
			 virq_pci_cfg_get(dev, VIRQ_PCI_STATUS, 2) | VIRQ_PCI_STATUS_CAP_LIST);
	return (int)off;
}

uint64_t virq_pci_bar_address(const struct virq_pci_dev *dev, unsigned int n)
{
	uint32_t off = VIRQ_PCI_BAR0 + 4 * n;
	uint32_t lo;

	if (n >= VIRQ_PCI_NUM_BARS || !dev->bar[n].size)
		return 0;
	lo = virq_pci_cfg_get(dev, off, 4);
	if (dev->bar[n].flags & VIRQ_PCI_BAR_IO)
		return lo & 0xfffcu;
	if (dev->bar[n].flags & VIRQ_PCI_BAR_MEM64)
		return (lo & 0xfffffff0u) | (uint64_t)virq_pci_cfg_get(dev, off + 4, 4) << 32;
	return lo & 0xfffffff0u;
}

/* Whether BAR n, at addr, is somewhere it may decode: not 0, not past the end of its
 * space, and not the all-ones pattern a sizing write leaves behind. */
static bool bar_usable(const struct virq_pci_bar *b, uint64_t addr)
{
	uint64_t last = addr + b->size - 1;

	if (!addr || last < addr)
		return false;
	if (b->flags & VIRQ_PCI_BAR_IO)
		return last < 0xffff;
	if (b->flags & VIRQ_PCI_BAR_MEM64)
		return last != UINT64_MAX;
	return last < 0xffffffffu;
}

static void bar_map(struct virq_pci_dev *dev, unsigned int n, uint64_t addr, bool enabled)
{
	if (dev->ops && dev->ops->bar_map)
		dev->ops->bar_map(dev->opaque, n, addr, enabled);
	else
		virq_pci_bar_map_hw(dev, n, addr, enabled);
}

/* Re-evaluates every BAR's decoding after a write to the command register or a BAR. */
static void update_bars(struct virq_pci_dev *dev)
{
	uint32_t cmd = virq_pci_cfg_get(dev, VIRQ_PCI_COMMAND, 2);

	for (unsigned int n = 0; n < VIRQ_PCI_NUM_BARS; n++) {
		struct virq_pci_bar *b = &dev->bar[n];
		uint64_t addr;
		bool want;

		if (!b->size || (b->flags & BAR_UPPER))
			continue;
		addr = virq_pci_bar_address(dev, n);
		want = (cmd & (b->flags & VIRQ_PCI_BAR_IO ? VIRQ_PCI_COMMAND_IO :
							    VIRQ_PCI_COMMAND_MEMORY)) &&
		       bar_usable(b, addr);
		if (b->mapped && (!want || addr != b->mapped_addr)) {
			b->mapped = false;
			bar_map(dev, n, b->mapped_addr, false);
		}
		if (want && !b->mapped) {
			b->mapped = true;
			b->mapped_addr = addr;
			bar_map(dev, n, addr, true);
		}
	}
}

int virq_pci_bar_map_hw(struct virq_pci_dev *dev, unsigned int n, uint64_t addr, bool enabled)
{
	const struct virq_pci_bar *b;
	int ret;

	if (n >= VIRQ_PCI_NUM_BARS || !dev->pci || !dev->pci->bus)
		return -ENODEV;
	b = &dev->bar[n];
	if (!b->size || !b->ops)
		return -ENODEV;
	if (b->flags & VIRQ_PCI_BAR_IO) {
		if (enabled)
			ret = virq_hw_register_pio(dev->pci->bus, (uint16_t)addr, (uint32_t)b->size,
						   b->ops, b->opaque,
						   b->name ? b->name : "pci-bar");
		else
			ret = virq_hw_unregister_pio(dev->pci->bus, (uint16_t)addr);
	} else {
		if (enabled)
			ret = virq_hw_register_mmio(dev->pci->bus, addr, b->size, b->ops, b->opaque,
						    b->name ? b->name : "pci-bar");
		else
			ret = virq_hw_unregister_mmio(dev->pci->bus, addr);
	}
	if (ret)
		dev->map_errors++;
	return ret;
}

static struct virq_pci_dev *slot_dev(struct virq_pci *pci, unsigned int slot)
{
	return slot < VIRQ_PCI_MAX_DEVS ? pci->dev[slot] : NULL;
}

uint32_t virq_pci_config_read(struct virq_pci *pci, unsigned int slot, uint32_t off,
			      unsigned int size)
{
	struct virq_pci_dev *dev = slot_dev(pci, slot);

	if (!dev || off + size > VIRQ_PCI_CFG_SIZE || !size || size > 4) {
		pci->absent_reads++;
		return 0xffffffffu;
	}
	pci->cfg_reads++;
	return virq_pci_cfg_get(dev, off, size);
}

void virq_pci_config_write(struct virq_pci *pci, unsigned int slot, uint32_t off, unsigned int size,
			   uint32_t val)
{
	struct virq_pci_dev *dev = slot_dev(pci, slot);

	if (!dev || off + size > VIRQ_PCI_CFG_SIZE || !size || size > 4) {
		pci->absent_writes++;
		return;
	}
	pci->cfg_writes++;
	for (unsigned int i = 0; i < size; i++) {
		uint8_t m = dev->wmask[off + i];

		dev->cfg[off + i] = (uint8_t)((dev->cfg[off + i] & ~m) | ((val >> (8 * i)) & m));
	}
	/* The command register (0x04-0x05) or a BAR (0x10-0x27) changed: decoding may too. */
	if ((off < VIRQ_PCI_COMMAND + 2 && off + size > VIRQ_PCI_COMMAND) ||
	    (off < VIRQ_PCI_BAR0 + 24 && off + size > VIRQ_PCI_BAR0))
		update_bars(dev);
	if (dev->ops && dev->ops->config_write)
		dev->ops->config_write(dev->opaque, dev, off, size, val);
}

/* Decodes CONFIG_ADDRESS into a slot and register; false for anything but bus 0
 * function 0 with the enable bit set. */
static bool target(const struct virq_pci *pci, unsigned int *slot, uint32_t *reg)
{
	uint32_t ca = pci->config_address;

	if (!(ca & VIRQ_PCI_CONFIG_ENABLE) || ((ca >> 16) & 0xff) || ((ca >> 8) & 7))
		return false;
	*slot = (ca >> 11) & 0x1f;
	*reg = ca & 0xfc;
	return true;
}

static uint64_t addr_read(void *o, uint64_t off, unsigned int size, uint64_t now_ns)
{
	struct virq_pci *pci = o;

	if (size != 4) {
		pci->bad_address_size++;
		return 0xffffffffu;
	}
	return pci->config_address;
}

static void addr_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	struct virq_pci *pci = o;

	if (size != 4) {
		pci->bad_address_size++;
		return;
	}
	pci->config_address = (uint32_t)val & CA_WRITABLE;
}

static uint64_t data_read(void *o, uint64_t off, unsigned int size, uint64_t now_ns)
{
	struct virq_pci *pci = o;
	unsigned int slot;
	uint32_t reg;

	if (!target(pci, &slot, &reg)) {
		pci->absent_reads++;
		return 0xffffffffu;
	}
	return virq_pci_config_read(pci, slot, reg + (uint32_t)off, size);
}

static void data_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	struct virq_pci *pci = o;
	unsigned int slot;
	uint32_t reg;

	if (!target(pci, &slot, &reg)) {
		pci->absent_writes++;
		return;
	}
	virq_pci_config_write(pci, slot, reg + (uint32_t)off, size, (uint32_t)val);
}

static const struct virq_hw_ops addr_ops = { .read = addr_read, .write = addr_write };
static const struct virq_hw_ops data_ops = { .read = data_read, .write = data_write };

void virq_pci_init(struct virq_pci *pci)
{
	memset(pci, 0, sizeof(*pci));
	virq_pci_dev_init(&pci->host, VIRQ_PCI_HOST_VENDOR, VIRQ_PCI_HOST_DEVICE,
			  VIRQ_PCI_HOST_CLASS, 0x02, NULL, NULL);
	/* The 82441FX powers up with memory decode and bus mastering on (its datasheet's
	 * PCICMD default 0x0006); it has no BARs, so the value only informs the guest. */
	virq_pci_cfg_set(&pci->host, VIRQ_PCI_COMMAND, 2,
			 VIRQ_PCI_COMMAND_MEMORY | VIRQ_PCI_COMMAND_MASTER);
	pci->host.pci = pci;
	pci->host.slot = 0;
	pci->dev[0] = &pci->host;
}

int virq_pci_register(struct virq_pci *pci, struct virq_hw_bus *bus)
{
	int ret = virq_hw_register_pio(bus, VIRQ_PCI_CONFIG_ADDRESS, 4, &addr_ops, pci,
				       "pci-config-address");

	if (ret)
		return ret;
	ret = virq_hw_register_pio(bus, VIRQ_PCI_CONFIG_DATA, 4, &data_ops, pci, "pci-config-data");
	if (ret) {
		virq_hw_unregister_pio(bus, VIRQ_PCI_CONFIG_ADDRESS);
		return ret;
	}
	pci->bus = bus;
	return 0;
}

int virq_pci_add(struct virq_pci *pci, struct virq_pci_dev *dev)
{
	for (unsigned int s = 0; s < VIRQ_PCI_MAX_DEVS; s++)
		if (pci->dev[s] == dev)
			return -EBUSY;
	for (unsigned int s = 1; s < VIRQ_PCI_MAX_DEVS; s++) {
		if (pci->dev[s])
			continue;
		pci->dev[s] = dev;
		dev->pci = pci;
		dev->slot = (int)s;
		return (int)s;
	}
	return -ENOSPC;
}

struct bar_ref {
	struct virq_pci_dev *dev;
	unsigned int n;
};

static int place(struct virq_pci *pci, const struct bar_ref *r, uint64_t *cur, uint64_t limit)
{
	const struct virq_pci_bar *b = &r->dev->bar[r->n];
	uint64_t a = (*cur + b->size - 1) & ~(b->size - 1);
	uint32_t off = VIRQ_PCI_BAR0 + 4 * r->n;

	if (a < *cur || a + b->size - 1 < a || a + b->size - 1 > limit)
		return -ENOSPC;
	virq_pci_config_write(pci, (unsigned int)r->dev->slot, off, 4, (uint32_t)a);
	if (b->flags & VIRQ_PCI_BAR_MEM64)
		virq_pci_config_write(pci, (unsigned int)r->dev->slot, off + 4, 4,
				      (uint32_t)(a >> 32));
	*cur = a + b->size;
	return 0;
}

int virq_pci_assign_bars(struct virq_pci *pci, uint64_t mem_base, uint64_t mem_limit,
			 uint32_t io_base, uint32_t io_limit)
{
	struct bar_ref refs[VIRQ_PCI_MAX_DEVS * VIRQ_PCI_NUM_BARS];
	unsigned int nr = 0;
	uint64_t mem = mem_base, io = io_base;
	int ret = 0;

	for (unsigned int s = 1; s < VIRQ_PCI_MAX_DEVS; s++) {
		struct virq_pci_dev *dev = pci->dev[s];

		for (unsigned int n = 0; dev && n < VIRQ_PCI_NUM_BARS; n++) {
			unsigned int j = nr++;

			if (!dev->bar[n].size || (dev->bar[n].flags & BAR_UPPER)) {
				nr--;
				continue;
			}
			/* Largest first (stable): naturally aligned, they then leave no gaps. */
			while (j && refs[j - 1].dev->bar[refs[j - 1].n].size < dev->bar[n].size) {
				refs[j] = refs[j - 1];
				j--;
			}
			refs[j] = (struct bar_ref){ dev, n };
		}
	}
	for (unsigned int i = 0; i < nr && !ret; i++) {
		if (refs[i].dev->bar[refs[i].n].flags & VIRQ_PCI_BAR_IO)
			ret = place(pci, &refs[i], &io, io_limit);
		else
			ret = place(pci, &refs[i], &mem, mem_limit);
	}
	if (ret)
		return ret;
	for (unsigned int s = 1; s < VIRQ_PCI_MAX_DEVS; s++) {
		uint32_t cmd;

		if (!pci->dev[s])
			continue;
		cmd = virq_pci_cfg_get(pci->dev[s], VIRQ_PCI_COMMAND, 2);
		virq_pci_config_write(pci, s, VIRQ_PCI_COMMAND, 2,
				      cmd | VIRQ_PCI_COMMAND_IO | VIRQ_PCI_COMMAND_MEMORY |
					      VIRQ_PCI_COMMAND_MASTER);
	}
	return 0;
}
