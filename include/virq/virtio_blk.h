/* SPDX-License-Identifier: MIT */
/*
 * virq: a virtio block device (VIRTIO 1.1, section 5.2) on the modern PCI transport of
 * include/virq/virtio_pci.h, with one request queue (queue 0) in the split layout
 * (section 2.6).
 *
 * Features offered: VIRTIO_F_VERSION_1, VIRTIO_BLK_F_SEG_MAX (seg_max = queue size - 2,
 * the header and status taking one descriptor each), VIRTIO_BLK_F_BLK_SIZE (512) and
 * VIRTIO_BLK_F_FLUSH. Not offered: INDIRECT_DESC, EVENT_IDX, RO, DISCARD, WRITE_ZEROES,
 * CONFIG_WCE, MQ. Requests (5.2.6): VIRTIO_BLK_T_IN, T_OUT, T_FLUSH and T_GET_ID (the
 * serial, at most 20 bytes, NUL-padded); any other type completes with
 * VIRTIO_BLK_S_UNSUPP. Reads and writes beyond the capacity, or whose data is not a whole
 * number of 512-byte sectors, complete with VIRTIO_BLK_S_IOERR, as does a failing
 * pread/pwrite/fdatasync on the backing fd.
 *
 * Guest memory is one host mapping [ram, ram + ram_size) of guest-physical [0,
 * ram_size). Every ring and descriptor address and length is checked against it before
 * use, and every ring field is read once. A malformed queue -- rings outside RAM, an
 * avail index more than queue size ahead, a descriptor index out of range, a chain longer
 * than the queue (a loop), an indirect descriptor (not negotiated), a device-readable
 * descriptor after a device-writable one, a buffer outside RAM, a request without its
 * 16-byte header or status byte -- stops processing and sets DEVICE_NEEDS_RESET (2.1.2),
 * counted in stats.errors; the device then ignores the queue until reset.
 *
 * Like the transport it embeds, a struct virq_virtio_blk must stay where
 * virq_virtio_blk_init() built it.
 *
 * Threading: virq_virtio_blk_process() runs on the thread the VMM chose for the notify
 * (the vCPU that wrote the notify address, or an I/O thread), serialised with the
 * transport's other entry points by the caller. It does blocking pread/pwrite on the fd.
 * No ioctls, no clock, no threads of its own.
 */
#ifndef VIRQ_VIRTIO_BLK_H
#define VIRQ_VIRTIO_BLK_H

#include <stdint.h>
#include "virq/virtio_pci.h"

#define VIRQ_VIRTIO_ID_BLOCK 2
#define VIRQ_VIRTIO_BLK_QUEUE_SIZE 256
#define VIRQ_VIRTIO_BLK_SECTOR 512
#define VIRQ_VIRTIO_BLK_ID_BYTES 20

/* Feature bits (5.2.3) */
#define VIRQ_VIRTIO_BLK_F_SIZE_MAX 1
#define VIRQ_VIRTIO_BLK_F_SEG_MAX 2
#define VIRQ_VIRTIO_BLK_F_BLK_SIZE 6
#define VIRQ_VIRTIO_BLK_F_FLUSH 9

/* Request types and status (5.2.6) */
#define VIRQ_VIRTIO_BLK_T_IN 0
#define VIRQ_VIRTIO_BLK_T_OUT 1
#define VIRQ_VIRTIO_BLK_T_FLUSH 4
#define VIRQ_VIRTIO_BLK_T_GET_ID 8
#define VIRQ_VIRTIO_BLK_S_OK 0
#define VIRQ_VIRTIO_BLK_S_IOERR 1
#define VIRQ_VIRTIO_BLK_S_UNSUPP 2

/* Split virtqueue layout (2.6.5 - 2.6.8) */
#define VIRQ_VIRTQ_DESC_F_NEXT 1
#define VIRQ_VIRTQ_DESC_F_WRITE 2
#define VIRQ_VIRTQ_DESC_F_INDIRECT 4
#define VIRQ_VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRQ_VIRTQ_DESC_SIZE 16
#define VIRQ_VIRTQ_USED_ELEM_SIZE 8

/* struct virtio_blk_config (5.2.4) offsets: the fields this device fills */
#define VIRQ_VIRTIO_BLK_CFG_CAPACITY 0 /* le64, 512-byte sectors */
#define VIRQ_VIRTIO_BLK_CFG_SEG_MAX 12 /* le32 */
#define VIRQ_VIRTIO_BLK_CFG_BLK_SIZE 20 /* le32 */
#define VIRQ_VIRTIO_BLK_CFG_SIZE 36 /* up to and including writeback + unused0[3] */

struct virq_virtio_blk_config {
	int fd; /* backing store: pread/pwrite/fdatasync; the caller keeps it open */
	uint8_t *ram; /* guest-physical 0 */
	uint64_t ram_size;
	const char *serial; /* GET_ID answer; NULL: "" */
	/* The VMM's transport sinks (see virtio_pci.h). */
	const struct virq_virtio_pci_ops *ops;
	void *opaque;
	const struct virq_hw_line *intx;
	uint32_t intx_line;
};

struct virq_virtio_blk {
	struct virq_virtio_pci vp; /* virq_pci_add(pci, &blk->vp.pdev) */
	int fd;
	uint8_t *ram;
	uint64_t ram_size;
	uint64_t capacity; /* sectors */
	char serial[VIRQ_VIRTIO_BLK_ID_BYTES];
	uint8_t cfg[VIRQ_VIRTIO_BLK_CFG_SIZE];
	uint16_t last_avail, used_idx;
	struct {
		uint64_t requests, reads, writes, flushes, get_ids, unsupported, ioerrs;
		uint64_t bytes_read, bytes_written, interrupts, suppressed, errors;
	} stats;
};

/*
 * Sizes the device from the fd (lseek to the end: the capacity is the whole 512-byte
 * sectors) and builds the transport. 0, -EINVAL (bad config), or -errno of lseek.
 */
int virq_virtio_blk_init(struct virq_virtio_blk *blk, const struct virq_virtio_blk_config *c);

/*
 * Processes every available request of `queue` (only 0 exists): called after the
 * transport's notify callback. Returns the number of requests completed; if any, raises
 * the queue's interrupt once unless the driver set VIRTQ_AVAIL_F_NO_INTERRUPT. Does
 * nothing (returns 0) before DRIVER_OK, with the queue disabled, or once
 * DEVICE_NEEDS_RESET is set.
 */
unsigned int virq_virtio_blk_process(struct virq_virtio_blk *blk, uint16_t queue);

#endif /* VIRQ_VIRTIO_BLK_H */
