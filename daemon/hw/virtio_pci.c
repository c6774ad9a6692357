// SPDX-License-Identifier: MIT
/* virtio 1.x modern PCI transport (VIRTIO 1.1 section 4.1) with MSI-X (PCI 3.0 section
 * 6.8.2); see include/virq/virtio_pci.h. */
#include <errno.h>
#include <string.h>

#include "virq/virtio_pci.h"

/* ---- interrupts --------------------------------------------------------------- */

static bool msix_enabled(const struct virq_virtio_pci *vp)
{
	return virq_pci_cfg_get(&vp->pdev, vp->msix_cap + VIRQ_PCI_MSIX_FLAGS, 2) &
	       VIRQ_PCI_MSIX_ENABLE;
}

static bool msix_function_masked(const struct virq_virtio_pci *vp)
{
	return virq_pci_cfg_get(&vp->pdev, vp->msix_cap + VIRQ_PCI_MSIX_FLAGS, 2) &
	       VIRQ_PCI_MSIX_MASKALL;
}

static uint32_t entry32(const struct virq_virtio_pci *vp, uint16_t v, unsigned int off)
{
	const uint8_t *p = vp->msix_table + v * VIRQ_PCI_MSIX_ENTRY_SIZE + off;

	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool vector_masked(const struct virq_virtio_pci *vp, uint16_t v)
{
	return entry32(vp, v, VIRQ_PCI_MSIX_ENTRY_CTRL) & VIRQ_PCI_MSIX_ENTRY_MASKED;
}

static void send_msi(struct virq_virtio_pci *vp, uint16_t v)
{
	uint64_t addr = entry32(vp, v, 0) | (uint64_t)entry32(vp, v, 4) << 32;

	vp->stats.msis++;
	if (vp->c.ops && vp->c.ops->msi)
		vp->c.ops->msi(vp->c.opaque, addr, entry32(vp, v, 8));
}

/* PCI 3.0 6.8.2.9: a vector masked when its message is due keeps it pending (its PBA
 * bit) and sends it once unmasked. */
static void msix_vector(struct virq_virtio_pci *vp, uint16_t v)
{
	if (v >= vp->nvec) {
		vp->stats.msi_no_vector++; /* NO_VECTOR (4.1.5.1.2): no interrupt */
		return;
	}
	if (msix_function_masked(vp) || vector_masked(vp, v)) {
		vp->pba |= 1ull << v;
		vp->stats.msi_pending++;
		return;
	}
	send_msi(vp, v);
}

/* Sends every pending vector that is no longer masked. */
static void msix_service(struct virq_virtio_pci *vp)
{
	if (!msix_enabled(vp) || msix_function_masked(vp))
		return;
	for (uint16_t v = 0; v < vp->nvec; v++) {
		if (!(vp->pba & (1ull << v)) || vector_masked(vp, v))
			continue;
		vp->pba &= ~(1ull << v);
		send_msi(vp, v);
	}
}

/* INTA# follows the ISR while MSI-X is off and INTx is not disabled (PCI 3.0 6.2.2);
 * Status.Interrupt Status reflects the ISR either way (6.2.3). */
static void update_intx(struct virq_virtio_pci *vp)
{
	uint32_t cmd = virq_pci_cfg_get(&vp->pdev, VIRQ_PCI_COMMAND, 2);
	uint32_t sts = virq_pci_cfg_get(&vp->pdev, VIRQ_PCI_STATUS, 2);
	int level = vp->isr && !msix_enabled(vp) && !(cmd & VIRQ_PCI_COMMAND_INTX_DISABLE);

	sts = vp->isr ? sts | VIRQ_PCI_STATUS_INTERRUPT : sts & ~VIRQ_PCI_STATUS_INTERRUPT;
	virq_pci_cfg_set(&vp->pdev, VIRQ_PCI_STATUS, 2, sts);
	if (level == vp->intx_level)
		return;
	vp->intx_level = level;
	if (level)
		vp->stats.intx_raises++;
	virq_hw_set_line(&vp->intx, vp->c.intx_line, level);
}

static void notify_isr(struct virq_virtio_pci *vp, uint8_t bit)
{
	vp->isr |= bit;
	update_intx(vp);
}

void virq_virtio_pci_interrupt(struct virq_virtio_pci *vp, uint16_t queue)
{
	if (queue >= vp->c.num_queues)
		return;
	if (msix_enabled(vp))
		msix_vector(vp, vp->q[queue].msix_vector);
	else
		notify_isr(vp, VIRQ_VIRTIO_ISR_QUEUE);
}

static void config_interrupt(struct virq_virtio_pci *vp)
{
	if (msix_enabled(vp))
		msix_vector(vp, vp->msix_config);
	else
		notify_isr(vp, VIRQ_VIRTIO_ISR_CONFIG);
}

void virq_virtio_pci_config_changed(struct virq_virtio_pci *vp)
{
	vp->config_generation++;
	config_interrupt(vp);
}

void virq_virtio_pci_needs_reset(struct virq_virtio_pci *vp)
{
	bool tell =
		(vp->status & VIRQ_VIRTIO_S_DRIVER_OK) && !(vp->status & VIRQ_VIRTIO_S_NEEDS_RESET);

	vp->status |= VIRQ_VIRTIO_S_NEEDS_RESET;
	if (tell)
		config_interrupt(vp);
}

const struct virq_virtio_queue *virq_virtio_pci_queue(const struct virq_virtio_pci *vp, uint16_t n)
{
	return n < vp->c.num_queues ? &vp->q[n] : NULL;
}

/* ---- common configuration (4.1.4.3) ------------------------------------------- */

static void reset_queues(struct virq_virtio_pci *vp)
{
	for (unsigned int i = 0; i < VIRQ_VIRTIO_PCI_MAX_QUEUES; i++) {
		struct virq_virtio_queue *q = &vp->q[i];

		memset(q, 0, sizeof(*q));
		if (i < vp->c.num_queues)
			q->size = q->max_size = vp->c.queue_max_size;
		q->msix_vector = VIRQ_VIRTIO_NO_VECTOR;
	}
}

/* 2.1.1 / 4.1.4.3.2: writing 0 to device_status resets the device. The MSI-X table is
 * PCI function state and survives (only a function-level reset would clear it). */
static void device_reset(struct virq_virtio_pci *vp)
{
	vp->stats.resets++;
	vp->driver_features = 0;
	vp->dfselect = vp->gfselect = 0;
	vp->msix_config = VIRQ_VIRTIO_NO_VECTOR;
	vp->queue_select = 0;
	vp->status = 0;
	vp->isr = 0;
	vp->pba = 0;
	reset_queues(vp);
	update_intx(vp);
	if (vp->c.dev_ops && vp->c.dev_ops->reset)
		vp->c.dev_ops->reset(vp->c.dev_opaque);
}

/* 3.1.1 step 5: FEATURES_OK sticks only if the driver took a subset of what was offered
 * including VERSION_1 (a modern device refuses a legacy driver, 6.1). */
static void status_write(struct virq_virtio_pci *vp, uint8_t v)
{
	if (!v) {
		device_reset(vp);
		return;
	}
	if ((v & VIRQ_VIRTIO_S_FEATURES_OK) && !(vp->status & VIRQ_VIRTIO_S_FEATURES_OK) &&
	    ((vp->driver_features & ~vp->device_features) ||
	     !(vp->driver_features & (1ull << VIRQ_VIRTIO_F_VERSION_1))))
		v &= (uint8_t)~VIRQ_VIRTIO_S_FEATURES_OK;
	vp->status = (uint8_t)(v | (vp->status & VIRQ_VIRTIO_S_NEEDS_RESET));
}

static uint16_t vector_or_none(const struct virq_virtio_pci *vp, uint64_t v)
{
	/* 4.1.5.1.2: a vector the device cannot use reads back as NO_VECTOR */
	return v < vp->nvec ? (uint16_t)v : VIRQ_VIRTIO_NO_VECTOR;
}

struct field {
	uint8_t off, len;
};

static const struct field fields[] = {
	{ VIRQ_VIRTIO_COMMON_DFSELECT, 4 }, { VIRQ_VIRTIO_COMMON_DF, 4 },
	{ VIRQ_VIRTIO_COMMON_GFSELECT, 4 }, { VIRQ_VIRTIO_COMMON_GF, 4 },
	{ VIRQ_VIRTIO_COMMON_MSIX, 2 },	    { VIRQ_VIRTIO_COMMON_NUMQ, 2 },
	{ VIRQ_VIRTIO_COMMON_STATUS, 1 },   { VIRQ_VIRTIO_COMMON_CFGGENERATION, 1 },
	{ VIRQ_VIRTIO_COMMON_Q_SELECT, 2 }, { VIRQ_VIRTIO_COMMON_Q_SIZE, 2 },
	{ VIRQ_VIRTIO_COMMON_Q_MSIX, 2 },   { VIRQ_VIRTIO_COMMON_Q_ENABLE, 2 },
	{ VIRQ_VIRTIO_COMMON_Q_NOFF, 2 },   { VIRQ_VIRTIO_COMMON_Q_DESC, 8 },
	{ VIRQ_VIRTIO_COMMON_Q_DRIVER, 8 }, { VIRQ_VIRTIO_COMMON_Q_DEVICE, 8 },
};

static struct virq_virtio_queue *selected(struct virq_virtio_pci *vp)
{
	return vp->queue_select < vp->c.num_queues ? &vp->q[vp->queue_select] : NULL;
}

static uint64_t field_get(struct virq_virtio_pci *vp, uint8_t off)
{
	const struct virq_virtio_queue *q = selected(vp);

	switch (off) {
	case VIRQ_VIRTIO_COMMON_DFSELECT:
		return vp->dfselect;
	case VIRQ_VIRTIO_COMMON_DF:
		return vp->dfselect < 2 ? (uint32_t)(vp->device_features >> (32 * vp->dfselect)) :
					  0;
	case VIRQ_VIRTIO_COMMON_GFSELECT:
		return vp->gfselect;
	case VIRQ_VIRTIO_COMMON_GF:
		return vp->gfselect < 2 ? (uint32_t)(vp->driver_features >> (32 * vp->gfselect)) :
					  0;
	case VIRQ_VIRTIO_COMMON_MSIX:
		return vp->msix_config;
	case VIRQ_VIRTIO_COMMON_NUMQ:
		return vp->c.num_queues;
	case VIRQ_VIRTIO_COMMON_STATUS:
		return vp->status;
	case VIRQ_VIRTIO_COMMON_CFGGENERATION:
		return vp->config_generation;
	case VIRQ_VIRTIO_COMMON_Q_SELECT:
		return vp->queue_select;
	}
	if (!q) /* 4.1.4.3.2: a queue that does not exist has size 0 */
		return off == VIRQ_VIRTIO_COMMON_Q_MSIX ? VIRQ_VIRTIO_NO_VECTOR : 0;
	switch (off) {
	case VIRQ_VIRTIO_COMMON_Q_SIZE:
		return q->size;
	case VIRQ_VIRTIO_COMMON_Q_MSIX:
		return q->msix_vector;
	case VIRQ_VIRTIO_COMMON_Q_ENABLE:
		return q->enabled;
	case VIRQ_VIRTIO_COMMON_Q_NOFF:
		return vp->queue_select; /* queue n notifies at n * multiplier */
	case VIRQ_VIRTIO_COMMON_Q_DESC:
		return q->desc;
	case VIRQ_VIRTIO_COMMON_Q_DRIVER:
		return q->driver;
	case VIRQ_VIRTIO_COMMON_Q_DEVICE:
		return q->device;
	}
	return 0;
}

static void field_set(struct virq_virtio_pci *vp, uint8_t off, uint64_t v)
{
	struct virq_virtio_queue *q = selected(vp);
	uint32_t half = (uint32_t)v;

	switch (off) {
	case VIRQ_VIRTIO_COMMON_DFSELECT:
		vp->dfselect = half;
		return;
	case VIRQ_VIRTIO_COMMON_GFSELECT:
		vp->gfselect = half;
		return;
	case VIRQ_VIRTIO_COMMON_GF:
		/* 3.1.1: features are fixed once FEATURES_OK is set */
		if (vp->gfselect < 2 && !(vp->status & VIRQ_VIRTIO_S_FEATURES_OK)) {
			unsigned int sh = 32 * vp->gfselect;

			vp->driver_features &= ~(0xffffffffull << sh);
			vp->driver_features |= (uint64_t)half << sh;
		}
		return;
	case VIRQ_VIRTIO_COMMON_MSIX:
		vp->msix_config = vector_or_none(vp, v);
		return;
	case VIRQ_VIRTIO_COMMON_STATUS:
		status_write(vp, (uint8_t)v);
		return;
	case VIRQ_VIRTIO_COMMON_Q_SELECT:
		vp->queue_select = (uint16_t)v;
		return;
	}
	if (!q)
		return;
	switch (off) {
	case VIRQ_VIRTIO_COMMON_Q_SIZE:
		/* 2.6: a split queue's size is a power of 2 no larger than the maximum */
		if (v && !(v & (v - 1)) && v <= q->max_size)
			q->size = (uint16_t)v;
		return;
	case VIRQ_VIRTIO_COMMON_Q_MSIX:
		q->msix_vector = vector_or_none(vp, v);
		return;
	case VIRQ_VIRTIO_COMMON_Q_ENABLE:
		if (v == 1) /* 4.1.4.3.2: the driver never writes 0 */
			q->enabled = true;
		return;
	case VIRQ_VIRTIO_COMMON_Q_DESC:
		q->desc = v;
		return;
	case VIRQ_VIRTIO_COMMON_Q_DRIVER:
		q->driver = v;
		return;
	case VIRQ_VIRTIO_COMMON_Q_DEVICE:
		q->device = v;
		return;
	}
}

/* Accesses may be of any width and need not match a field: a narrower one reads or
 * read-modify-writes the bytes it covers (drivers use each field's width, 4.1.3.1, and
 * may split the 64-bit ones into two dwords). */
static uint64_t common_read(struct virq_virtio_pci *vp, uint64_t off, unsigned int size)
{
	uint64_t v = 0;

	for (const struct field *f = fields; f < fields + sizeof(fields) / sizeof(fields[0]); f++) {
		uint64_t fv;

		if (f->off >= off + size || f->off + f->len <= off)
			continue;
		fv = field_get(vp, f->off);
		for (unsigned int i = 0; i < size; i++) {
			uint64_t o = off + i;

			if (o >= f->off && o < (uint64_t)f->off + f->len)
				v |= ((fv >> (8 * (o - f->off))) & 0xff) << (8 * i);
		}
	}
	return v;
}

static void common_write(struct virq_virtio_pci *vp, uint64_t off, unsigned int size, uint64_t val)
{
	for (const struct field *f = fields; f < fields + sizeof(fields) / sizeof(fields[0]); f++) {
		uint64_t fv;

		if (f->off >= off + size || f->off + f->len <= off)
			continue;
		fv = f->len == size && f->off == off ? 0 : field_get(vp, f->off);
		for (unsigned int i = 0; i < size; i++) {
			uint64_t o = off + i;
			unsigned int sh;

			if (o < f->off || o >= (uint64_t)f->off + f->len)
				continue;
			sh = 8 * (unsigned int)(o - f->off);
			fv = (fv & ~(0xffull << sh)) | (((val >> (8 * i)) & 0xff) << sh);
		}
		field_set(vp, f->off, fv);
	}
}

/* ---- BAR 4: common, ISR, device, notify --------------------------------------- */

static uint64_t bar_read(void *o, uint64_t off, unsigned int size, uint64_t now_ns)
{
	struct virq_virtio_pci *vp = o;
	uint64_t r = off % VIRQ_VIRTIO_PCI_REGION_SIZE, v = 0;

	switch (off - r) {
	case VIRQ_VIRTIO_PCI_COMMON:
		return common_read(vp, r, size);
	case VIRQ_VIRTIO_PCI_ISR:
		if (r)
			return 0;
		/* 4.1.4.5.1: reading the ISR clears it and de-asserts INTx */
		v = vp->isr;
		vp->isr = 0;
		update_intx(vp);
		return v;
	case VIRQ_VIRTIO_PCI_DEVICE:
		for (unsigned int i = 0; i < size; i++)
			if (r + i < vp->c.dev_cfg_len)
				v |= (uint64_t)vp->c.dev_cfg[r + i] << (8 * i);
		return v;
	}
	return 0; /* the notify region reads as 0 */
}

static void bar_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	struct virq_virtio_pci *vp = o;
	uint64_t r = off % VIRQ_VIRTIO_PCI_REGION_SIZE;

	switch (off - r) {
	case VIRQ_VIRTIO_PCI_COMMON:
		common_write(vp, r, size, val);
		return;
	case VIRQ_VIRTIO_PCI_DEVICE:
		if (r + size <= vp->c.dev_cfg_len && vp->c.dev_ops && vp->c.dev_ops->cfg_write)
			vp->c.dev_ops->cfg_write(vp->c.dev_opaque, (uint32_t)r, size, val);
		return;
	case VIRQ_VIRTIO_PCI_NOTIFY:
		/* 4.1.4.4: queue n's address is notify_off(n) * multiplier = n * 4; the value
		 * written is the queue index, which the address already says. */
		if (r / VIRQ_VIRTIO_PCI_NOTIFY_MULT >= vp->c.num_queues) {
			vp->stats.bad_notifies++;
			return;
		}
		vp->stats.notifies++;
		if (vp->c.ops && vp->c.ops->notify)
			vp->c.ops->notify(vp->c.opaque,
					  (uint16_t)(r / VIRQ_VIRTIO_PCI_NOTIFY_MULT));
		return;
	}
}

const struct virq_hw_ops virq_virtio_pci_bar_ops = { .read = bar_read, .write = bar_write };

/* ---- BAR 1: MSI-X table and PBA (PCI 3.0 6.8.2.6 - 6.8.2.10) ---------------------- */

static uint64_t msix_read(void *o, uint64_t off, unsigned int size, uint64_t now_ns)
{
	const struct virq_virtio_pci *vp = o;
	uint64_t v = 0;

	for (unsigned int i = 0; i < size; i++) {
		uint64_t a = off + i, b = 0;

		if (a < (uint64_t)vp->nvec * VIRQ_PCI_MSIX_ENTRY_SIZE)
			b = vp->msix_table[a];
		else if (a >= VIRQ_VIRTIO_PCI_MSIX_PBA && a < VIRQ_VIRTIO_PCI_MSIX_PBA + 8)
			b = (vp->pba >> (8 * (a - VIRQ_VIRTIO_PCI_MSIX_PBA))) & 0xff;
		v |= b << (8 * i);
	}
	return v;
}

static void msix_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	struct virq_virtio_pci *vp = o;

	for (unsigned int i = 0; i < size; i++) {
		uint64_t a = off + i;
		uint8_t b = (uint8_t)(val >> (8 * i));

		if (a >= (uint64_t)vp->nvec * VIRQ_PCI_MSIX_ENTRY_SIZE)
			continue; /* the PBA is read-only (6.8.2.10) */
		switch (a % VIRQ_PCI_MSIX_ENTRY_SIZE) {
		case VIRQ_PCI_MSIX_ENTRY_CTRL: /* only the mask bit; 31:1 reserved */
			vp->msix_table[a] = b & VIRQ_PCI_MSIX_ENTRY_MASKED;
			break;
		case VIRQ_PCI_MSIX_ENTRY_CTRL + 1:
		case VIRQ_PCI_MSIX_ENTRY_CTRL + 2:
		case VIRQ_PCI_MSIX_ENTRY_CTRL + 3:
			break;
		default:
			vp->msix_table[a] = b;
		}
	}
	msix_service(vp);
}

const struct virq_hw_ops virq_virtio_pci_msix_ops = { .read = msix_read, .write = msix_write };

/* ---- configuration space --------------------------------------------------------- */

static void cfg_written(void *o, struct virq_pci_dev *dev, uint32_t off, unsigned int size,
			uint32_t val)
{
	struct virq_virtio_pci *vp = o;

	/* MSI-X enable, Function Mask or INTx Disable may have changed */
	if ((off <= vp->msix_cap + 3u && off + size > vp->msix_cap + 2u) ||
	    (off <= VIRQ_PCI_COMMAND + 1 && off + size > VIRQ_PCI_COMMAND)) {
		msix_service(vp);
		update_intx(vp);
	}
}

static const struct virq_pci_dev_ops pci_ops = { .config_write = cfg_written };

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* struct virtio_pci_cap (4.1.4), plus notify_off_multiplier for cfg_type 2 (4.1.4.4). */
static void vendor_cap(struct virq_virtio_pci *vp, uint8_t type, uint32_t offset, uint32_t len)
{
	uint8_t cap[20] = { VIRQ_PCI_CAP_ID_VNDR, 0, 16, type, VIRQ_VIRTIO_PCI_BAR };

	put32(cap + 8, offset);
	put32(cap + 12, len);
	if (type == VIRQ_VIRTIO_PCI_CAP_NOTIFY_CFG) {
		cap[2] = 20;
		put32(cap + 16, VIRQ_VIRTIO_PCI_NOTIFY_MULT);
	}
	virq_pci_dev_add_cap(&vp->pdev, cap, cap[2]);
}

int virq_virtio_pci_init(struct virq_virtio_pci *vp, const struct virq_virtio_pci_config *c)
{
	uint8_t msix[12] = { VIRQ_PCI_CAP_ID_MSIX, 0 };
	int off;

	if (!c->num_queues || c->num_queues > VIRQ_VIRTIO_PCI_MAX_QUEUES || !c->queue_max_size ||
	    c->queue_max_size > 32768 || (c->queue_max_size & (c->queue_max_size - 1)) ||
	    c->dev_cfg_len > VIRQ_VIRTIO_PCI_REGION_SIZE || (c->dev_cfg_len && !c->dev_cfg))
		return -EINVAL;
	memset(vp, 0, sizeof(*vp));
	vp->c = *c;
	if (c->intx)
		vp->intx = *c->intx;
	vp->device_features = c->features | 1ull << VIRQ_VIRTIO_F_VERSION_1;
	vp->nvec = (uint16_t)(c->num_queues + 1);

	/* 4.1.2.1: modern-only IDs, revision 1 */
	virq_pci_dev_init(&vp->pdev, VIRQ_VIRTIO_PCI_VENDOR,
			  (uint16_t)(VIRQ_VIRTIO_PCI_DEVICE_BASE + c->device_id), c->class_code, 1,
			  &pci_ops, vp);
	virq_pci_cfg_set(&vp->pdev, VIRQ_PCI_SUBSYSTEM_VENDOR_ID, 2, VIRQ_VIRTIO_PCI_VENDOR);
	virq_pci_cfg_set(&vp->pdev, VIRQ_PCI_SUBSYSTEM_ID, 2, VIRQ_VIRTIO_PCI_SUBSYSTEM_ID);
	vp->pdev.cfg[VIRQ_PCI_INTERRUPT_PIN] = 1; /* INTA# */
	vp->pdev.cfg[VIRQ_PCI_INTERRUPT_LINE] = (uint8_t)c->intx_line;
	virq_pci_dev_set_bar(&vp->pdev, VIRQ_VIRTIO_PCI_MSIX_BAR, VIRQ_VIRTIO_PCI_MSIX_BAR_SIZE, 0,
			     &virq_virtio_pci_msix_ops, vp, "virtio-msix");
	virq_pci_dev_set_bar(&vp->pdev, VIRQ_VIRTIO_PCI_BAR, VIRQ_VIRTIO_PCI_BAR_SIZE,
			     VIRQ_PCI_BAR_MEM64 | VIRQ_PCI_BAR_PREFETCH, &virq_virtio_pci_bar_ops,
			     vp, "virtio-pci");

	vendor_cap(vp, VIRQ_VIRTIO_PCI_CAP_COMMON_CFG, VIRQ_VIRTIO_PCI_COMMON,
		   VIRQ_VIRTIO_COMMON_SIZE);
	vendor_cap(vp, VIRQ_VIRTIO_PCI_CAP_ISR_CFG, VIRQ_VIRTIO_PCI_ISR, 1);
	if (c->dev_cfg_len)
		vendor_cap(vp, VIRQ_VIRTIO_PCI_CAP_DEVICE_CFG, VIRQ_VIRTIO_PCI_DEVICE,
			   c->dev_cfg_len);
	vendor_cap(vp, VIRQ_VIRTIO_PCI_CAP_NOTIFY_CFG, VIRQ_VIRTIO_PCI_NOTIFY,
		   (uint32_t)c->num_queues * VIRQ_VIRTIO_PCI_NOTIFY_MULT);

	/* PCI 3.0 6.8.2: Message Control (table size N - 1), Table Offset/BIR, PBA
	 * Offset/BIR. Enable (bit 15) and Function Mask (bit 14) are the writable bits. */
	msix[2] = (uint8_t)(vp->nvec - 1);
	put32(msix + 4, VIRQ_VIRTIO_PCI_MSIX_TABLE | VIRQ_VIRTIO_PCI_MSIX_BAR);
	put32(msix + 8, VIRQ_VIRTIO_PCI_MSIX_PBA | VIRQ_VIRTIO_PCI_MSIX_BAR);
	off = virq_pci_dev_add_cap(&vp->pdev, msix, sizeof(msix));
	if (off < 0)
		return off;
	vp->msix_cap = (uint8_t)off;
	vp->pdev.wmask[off + 3] = (VIRQ_PCI_MSIX_ENABLE | VIRQ_PCI_MSIX_MASKALL) >> 8;

	/* 6.8.2.9: every vector's mask bit is set at reset */
	for (uint16_t v = 0; v < vp->nvec; v++)
		vp->msix_table[v * VIRQ_PCI_MSIX_ENTRY_SIZE + VIRQ_PCI_MSIX_ENTRY_CTRL] =
			VIRQ_PCI_MSIX_ENTRY_MASKED;
	vp->msix_config = VIRQ_VIRTIO_NO_VECTOR;
	reset_queues(vp);
	return 0;
}
