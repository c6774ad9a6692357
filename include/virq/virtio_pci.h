/* SPDX-License-Identifier: MIT */
/*
 * virq: the virtio 1.x PCI transport, modern interface only (VIRTIO 1.1, section 4.1
 * "Virtio Over PCI Bus"), for one device on the host bridge of include/virq/pci.h.
 *
 * Identity (4.1.2): vendor 0x1af4, device 0x1040 + the virtio device ID, revision 1 (a
 * modern-only device), interrupt pin INTA#. The subsystem IDs only describe the
 * environment (4.1.2.1: drivers do not match on them for modern devices); they are
 * 0x1af4:0x1100, what QEMU's PCI core gives its devices by default.
 *
 * The struct is self-referential once initialised (BAR ops and capability hooks point
 * at it, c.dev_cfg usually into its owner): it must not be moved or copied afterwards.
 *
 * Layout, QEMU's: every virtio structure lives in one 64-bit prefetchable memory BAR
 * (BAR 4, 16 KiB), described by vendor-specific capabilities (4.1.4):
 *   0x0000 common configuration (4.1.4.3, cfg_type 1)
 *   0x1000 ISR status (4.1.4.5, cfg_type 3): one byte, read-to-clear
 *   0x2000 device-specific configuration (4.1.4.6, cfg_type 4)
 *   0x3000 notifications (4.1.4.4, cfg_type 2): queue n at n * 4 (queue_notify_off = n,
 *          notify_off_multiplier = 4)
 * and the MSI-X capability (PCI 3.0 section 6.8.2) keeps its table at offset 0 and its
 * pending-bit array at 0x800 of a 4 KiB 32-bit memory BAR (BAR 1). There are num_queues
 * + 1 vectors, one per queue and one for configuration changes.
 *
 * Not provided: the VIRTIO_PCI_CAP_PCI_CFG window (4.1.4.8, cfg_type 5), the legacy
 * interface, VIRTIO_F_NOTIFICATION_DATA and packed rings.
 *
 * Interrupts (4.1.5): the device model calls virq_virtio_pci_interrupt() for a used
 * buffer notification and virq_virtio_pci_config_changed() for a configuration change.
 * With MSI-X enabled the vector chosen for the queue (queue_msix_vector) or for
 * configuration (msix_config) is delivered through the msi sink with its table entry's
 * address and data; a masked vector (its Vector Control mask bit or the Function Mask)
 * sets its pending bit instead, and is delivered when unmasked (PCI 3.0 6.8.2.9).
 * NO_VECTOR means no interrupt. With MSI-X disabled the ISR's bit 0 (queue) or bit 1
 * (configuration) is set and INTx asserted (level; not while command.INTx Disable is
 * set); reading the ISR clears it and de-asserts the line.
 *
 * Pure model: no ioctls, no clock, no threads; the caller serialises calls.
 */
#ifndef VIRQ_VIRTIO_PCI_H
#define VIRQ_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>
#include "virq/hw.h"
#include "virq/pci.h"

#define VIRQ_VIRTIO_PCI_VENDOR 0x1af4
#define VIRQ_VIRTIO_PCI_DEVICE_BASE 0x1040
#define VIRQ_VIRTIO_PCI_SUBSYSTEM_ID 0x1100
#define VIRQ_VIRTIO_PCI_MAX_QUEUES 8
#define VIRQ_VIRTIO_PCI_MAX_VECTORS (VIRQ_VIRTIO_PCI_MAX_QUEUES + 1)
#define VIRQ_VIRTIO_NO_VECTOR 0xffff

/* BAR layout */
#define VIRQ_VIRTIO_PCI_MSIX_BAR 1
#define VIRQ_VIRTIO_PCI_MSIX_BAR_SIZE 0x1000
#define VIRQ_VIRTIO_PCI_MSIX_TABLE 0x000
#define VIRQ_VIRTIO_PCI_MSIX_PBA 0x800
#define VIRQ_VIRTIO_PCI_BAR 4
#define VIRQ_VIRTIO_PCI_BAR_SIZE 0x4000
#define VIRQ_VIRTIO_PCI_COMMON 0x0000
#define VIRQ_VIRTIO_PCI_ISR 0x1000
#define VIRQ_VIRTIO_PCI_DEVICE 0x2000
#define VIRQ_VIRTIO_PCI_NOTIFY 0x3000
#define VIRQ_VIRTIO_PCI_REGION_SIZE 0x1000
#define VIRQ_VIRTIO_PCI_NOTIFY_MULT 4

/* Capability cfg_type (4.1.4) */
#define VIRQ_VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRQ_VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRQ_VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRQ_VIRTIO_PCI_CAP_DEVICE_CFG 4

/* struct virtio_pci_common_cfg offsets (4.1.4.3) */
#define VIRQ_VIRTIO_COMMON_DFSELECT 0x00
#define VIRQ_VIRTIO_COMMON_DF 0x04
#define VIRQ_VIRTIO_COMMON_GFSELECT 0x08
#define VIRQ_VIRTIO_COMMON_GF 0x0c
#define VIRQ_VIRTIO_COMMON_MSIX 0x10
#define VIRQ_VIRTIO_COMMON_NUMQ 0x12
#define VIRQ_VIRTIO_COMMON_STATUS 0x14
#define VIRQ_VIRTIO_COMMON_CFGGENERATION 0x15
#define VIRQ_VIRTIO_COMMON_Q_SELECT 0x16
#define VIRQ_VIRTIO_COMMON_Q_SIZE 0x18
#define VIRQ_VIRTIO_COMMON_Q_MSIX 0x1a
#define VIRQ_VIRTIO_COMMON_Q_ENABLE 0x1c
#define VIRQ_VIRTIO_COMMON_Q_NOFF 0x1e
#define VIRQ_VIRTIO_COMMON_Q_DESC 0x20
#define VIRQ_VIRTIO_COMMON_Q_DRIVER 0x28
#define VIRQ_VIRTIO_COMMON_Q_DEVICE 0x30
#define VIRQ_VIRTIO_COMMON_SIZE 0x38

/* device_status bits (2.1) */
#define VIRQ_VIRTIO_S_ACKNOWLEDGE 0x01
#define VIRQ_VIRTIO_S_DRIVER 0x02
#define VIRQ_VIRTIO_S_DRIVER_OK 0x04
#define VIRQ_VIRTIO_S_FEATURES_OK 0x08
#define VIRQ_VIRTIO_S_NEEDS_RESET 0x40
#define VIRQ_VIRTIO_S_FAILED 0x80

#define VIRQ_VIRTIO_F_VERSION_1 32 /* bit number (6) */

/* ISR bits (4.1.4.5) */
#define VIRQ_VIRTIO_ISR_QUEUE 0x1
#define VIRQ_VIRTIO_ISR_CONFIG 0x2

/* MSI-X capability (PCI 3.0 6.8.2): Message Control bits, table entry layout */
#define VIRQ_PCI_MSIX_FLAGS 2
#define VIRQ_PCI_MSIX_ENABLE 0x8000
#define VIRQ_PCI_MSIX_MASKALL 0x4000
#define VIRQ_PCI_MSIX_ENTRY_SIZE 16
#define VIRQ_PCI_MSIX_ENTRY_CTRL 12
#define VIRQ_PCI_MSIX_ENTRY_MASKED 0x1

struct virq_virtio_queue {
	uint16_t size; /* queue_size: max_size until the driver writes a smaller power of 2 */
	uint16_t max_size;
	uint16_t msix_vector;
	bool enabled;
	uint64_t desc, driver, device; /* guest-physical ring addresses */
};

/* The VMM's sinks. */
struct virq_virtio_pci_ops {
	/* The driver wrote queue's notification address (4.1.4.4): process the queue
	 * (virq_virtio_blk_process), now or on a worker. */
	void (*notify)(void *opaque, uint16_t queue);
	/* Deliver one MSI: a 32-bit write of data to addr (the table entry's). */
	void (*msi)(void *opaque, uint64_t addr, uint32_t data);
};

/* The device model's side (virtio-blk). Both optional. */
struct virq_virtio_dev_ops {
	void (*reset)(void *opaque); /* the driver wrote 0 to device_status */
	/* A write to the device configuration (off + size <= dev_cfg_len). */
	void (*cfg_write)(void *opaque, uint32_t off, unsigned int size, uint64_t val);
};

struct virq_virtio_pci_config {
	uint16_t device_id; /* virtio device ID (5: 2 for block) */
	uint32_t class_code; /* PCI class, e.g. 0x010000 */
	uint64_t features; /* offered; VERSION_1 is always added */
	uint16_t num_queues; /* 1..VIRQ_VIRTIO_PCI_MAX_QUEUES */
	uint16_t queue_max_size; /* power of 2, <= 32768 */
	uint8_t *dev_cfg; /* device configuration bytes, read by the driver */
	uint32_t dev_cfg_len; /* <= VIRQ_VIRTIO_PCI_REGION_SIZE */
	const struct virq_virtio_dev_ops *dev_ops;
	void *dev_opaque;
	/* The VMM */
	const struct virq_virtio_pci_ops *ops;
	void *opaque;
	const struct virq_hw_line *intx; /* may be NULL: no INTx */
	uint32_t intx_line; /* the GSI INTA# drives; also the Interrupt Line register */
};

struct virq_virtio_pci {
	struct virq_pci_dev pdev; /* add with virq_pci_add(pci, &vp->pdev) */
	struct virq_virtio_pci_config c;
	struct virq_hw_line intx;
	int intx_level;
	uint64_t device_features, driver_features;
	uint32_t dfselect, gfselect;
	uint16_t msix_config;
	uint16_t queue_select;
	uint8_t status;
	uint8_t config_generation;
	uint8_t isr;
	uint8_t msix_cap; /* configuration-space offset of the MSI-X capability */
	uint16_t nvec;
	struct virq_virtio_queue q[VIRQ_VIRTIO_PCI_MAX_QUEUES];
	uint8_t msix_table[VIRQ_VIRTIO_PCI_MAX_VECTORS * VIRQ_PCI_MSIX_ENTRY_SIZE];
	uint64_t pba;
	struct {
		uint64_t notifies, msis, msi_pending, msi_no_vector, intx_raises, resets;
		uint64_t bad_notifies;
	} stats;
};

/*
 * Builds the PCI function: IDs, BAR 1 and BAR 4, the capability chain. Every vector
 * starts masked (PCI 3.0 6.8.2.9), queues disabled with queue_size = queue_max_size.
 * 0, or -EINVAL (num_queues, queue_max_size, dev_cfg_len out of range).
 */
int virq_virtio_pci_init(struct virq_virtio_pci *vp, const struct virq_virtio_pci_config *c);

/* A used buffer notification for queue (4.1.5.2, 4.1.5.3). */
void virq_virtio_pci_interrupt(struct virq_virtio_pci *vp, uint16_t queue);
/* The device configuration changed: config_generation moves on and a configuration
 * change notification is sent (4.1.5.3, 4.1.5.4). */
void virq_virtio_pci_config_changed(struct virq_virtio_pci *vp);
/* Sets DEVICE_NEEDS_RESET and, once DRIVER_OK was set, notifies a configuration change
 * (2.1.2). */
void virq_virtio_pci_needs_reset(struct virq_virtio_pci *vp);

/* Queue n, or NULL when n >= num_queues. */
const struct virq_virtio_queue *virq_virtio_pci_queue(const struct virq_virtio_pci *vp, uint16_t n);
/* The features the driver accepted (valid once FEATURES_OK is set). */
static inline uint64_t virq_virtio_pci_features(const struct virq_virtio_pci *vp)
{
	return vp->status & VIRQ_VIRTIO_S_FEATURES_OK ? vp->driver_features : 0;
}

/* The BAR regions' handlers (virq_virtio_pci_init installs them as the BAR ops; tests
 * and fuzzers may call them directly). */
extern const struct virq_hw_ops virq_virtio_pci_bar_ops;
extern const struct virq_hw_ops virq_virtio_pci_msix_ops;

#endif /* VIRQ_VIRTIO_PCI_H */
