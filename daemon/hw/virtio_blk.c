// SPDX-License-Identifier: MIT
/* virtio-blk (VIRTIO 1.1 section 5.2) over split virtqueues (section 2.6); see
 * include/virq/virtio_blk.h. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "virq/virtio_blk.h"

#define BLK_HDR_SIZE 16 /* le32 type, le32 reserved, le64 sector (5.2.6) */

struct seg {
	uint64_t addr;
	uint32_t len;
	bool write;
};

/* ---- guest memory ---------------------------------------------------------------- */

static bool in_ram(const struct virq_virtio_blk *blk, uint64_t gpa, uint64_t len)
{
	return gpa <= blk->ram_size && len <= blk->ram_size - gpa;
}

/* Callers have checked the range with in_ram. memcpy: guest addresses need not be
 * aligned for the host's sake, and each field is read exactly once. */
static uint16_t ld16(const struct virq_virtio_blk *blk, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, blk->ram + gpa, sizeof(v));
	return le16toh(v);
}

static uint32_t ld32(const struct virq_virtio_blk *blk, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, blk->ram + gpa, sizeof(v));
	return le32toh(v);
}

static uint64_t ld64(const struct virq_virtio_blk *blk, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, blk->ram + gpa, sizeof(v));
	return le64toh(v);
}

static void st16(struct virq_virtio_blk *blk, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(blk->ram + gpa, &v, sizeof(v));
}

static void st32(struct virq_virtio_blk *blk, uint64_t gpa, uint32_t v)
{
	v = htole32(v);
	memcpy(blk->ram + gpa, &v, sizeof(v));
}

/* ---- data movement --------------------------------------------------------------- */

enum dir { TO_GUEST, FROM_GUEST, COPY_IN, COPY_OUT };

/*
 * Walks `len` bytes of the chain's readable (write == false) or writable segments after
 * skipping `skip` of them: TO_GUEST preads the fd at pos into guest memory, FROM_GUEST
 * pwrites guest memory to it, COPY_IN copies guest bytes to buf, COPY_OUT buf to guest.
 * Returns 0, or -1 on an I/O error or end of file.
 */
static int xfer(struct virq_virtio_blk *blk, const struct seg *s, unsigned int n, bool write,
		uint64_t skip, uint64_t len, uint64_t pos, enum dir dir, uint8_t *buf)
{
	for (unsigned int i = 0; i < n && len; i++) {
		uint64_t chunk, at;

		if (s[i].write != write)
			continue;
		if (skip >= s[i].len) {
			skip -= s[i].len;
			continue;
		}
		at = s[i].addr + skip;
		chunk = s[i].len - skip < len ? s[i].len - skip : len;
		skip = 0;
		for (uint64_t done = 0; done < chunk;) {
			uint8_t *p = blk->ram + at + done;
			ssize_t r;

			switch (dir) {
			case TO_GUEST:
				r = pread(blk->fd, p, chunk - done, (off_t)(pos + done));
				break;
			case FROM_GUEST:
				r = pwrite(blk->fd, p, chunk - done, (off_t)(pos + done));
				break;
			case COPY_IN:
				memcpy(buf + done, p, chunk - done);
				r = (ssize_t)(chunk - done);
				break;
			default:
				memcpy(p, buf + done, chunk - done);
				r = (ssize_t)(chunk - done);
				break;
			}
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
			done += (uint64_t)r;
		}
		pos += chunk;
		if (buf)
			buf += chunk;
		len -= chunk;
	}
	return len ? -1 : 0;
}

/* ---- one request (5.2.6) --------------------------------------------------------- */

static uint8_t rw(struct virq_virtio_blk *blk, const struct seg *s, unsigned int n, uint64_t sector,
		  uint64_t len, bool in)
{
	uint64_t nsec = len / VIRQ_VIRTIO_BLK_SECTOR;

	if (len % VIRQ_VIRTIO_BLK_SECTOR || sector > blk->capacity ||
	    nsec > blk->capacity - sector) {
		blk->stats.ioerrs++;
		return VIRQ_VIRTIO_BLK_S_IOERR;
	}
	if (xfer(blk, s, n, in, in ? 0 : BLK_HDR_SIZE, len, sector * VIRQ_VIRTIO_BLK_SECTOR,
		 in ? TO_GUEST : FROM_GUEST, NULL)) {
		blk->stats.ioerrs++;
		return VIRQ_VIRTIO_BLK_S_IOERR;
	}
	if (in) {
		blk->stats.reads++;
		blk->stats.bytes_read += len;
	} else {
		blk->stats.writes++;
		blk->stats.bytes_written += len;
	}
	return VIRQ_VIRTIO_BLK_S_OK;
}

/*
 * Runs the request whose descriptors are s[0..n). Returns the bytes written to guest
 * memory (the used element's len), or -1 when the request is malformed (no header, no
 * status byte).
 */
static int64_t request(struct virq_virtio_blk *blk, const struct seg *s, unsigned int n)
{
	uint64_t rd = 0, wr = 0, status_gpa = 0, data, written = 1;
	uint8_t hdr[BLK_HDR_SIZE], st;
	uint32_t type;
	uint64_t sector;

	for (unsigned int i = 0; i < n; i++) {
		if (!s[i].write) {
			rd += s[i].len;
		} else {
			wr += s[i].len;
			if (s[i].len)
				status_gpa = s[i].addr + s[i].len - 1;
		}
	}
	/* 5.2.6: the header is device-readable and the status its last device-writable
	 * byte; QEMU likewise treats a request lacking either as a broken driver. */
	if (rd < BLK_HDR_SIZE || !wr)
		return -1;
	xfer(blk, s, n, false, 0, BLK_HDR_SIZE, 0, COPY_IN, hdr);
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	type = le32toh(type);
	sector = le64toh(sector);
	blk->stats.requests++;

	switch (type) {
	case VIRQ_VIRTIO_BLK_T_IN:
		data = wr - 1;
		st = rw(blk, s, n, sector, data, true);
		if (st == VIRQ_VIRTIO_BLK_S_OK)
			written += data;
		break;
	case VIRQ_VIRTIO_BLK_T_OUT:
		st = rw(blk, s, n, sector, rd - BLK_HDR_SIZE, false);
		break;
	case VIRQ_VIRTIO_BLK_T_FLUSH:
		blk->stats.flushes++;
		st = fdatasync(blk->fd) ? VIRQ_VIRTIO_BLK_S_IOERR : VIRQ_VIRTIO_BLK_S_OK;
		if (st)
			blk->stats.ioerrs++;
		break;
	case VIRQ_VIRTIO_BLK_T_GET_ID: {
		/* 5.2.6.1: up to 20 bytes, not NUL-terminated when all 20 are used */
		uint64_t len =
			wr - 1 < VIRQ_VIRTIO_BLK_ID_BYTES ? wr - 1 : VIRQ_VIRTIO_BLK_ID_BYTES;

		blk->stats.get_ids++;
		xfer(blk, s, n, true, 0, len, 0, COPY_OUT, (uint8_t *)blk->serial);
		written += len;
		st = VIRQ_VIRTIO_BLK_S_OK;
		break;
	}
	default:
		blk->stats.unsupported++;
		st = VIRQ_VIRTIO_BLK_S_UNSUPP;
		break;
	}
	blk->ram[status_gpa] = st;
	return (int64_t)written;
}

/* ---- the split virtqueue (2.6) ---------------------------------------------------- */

/* Follows the chain from head (2.6.5). Returns the number of segments, or -1 for an
 * index out of range, a chain longer than the queue (it must loop), an indirect
 * descriptor (VIRTIO_F_INDIRECT_DESC is not offered), a readable descriptor after a
 * writable one (2.6.4.2) or a buffer outside RAM. */
static int chain(struct virq_virtio_blk *blk, const struct virq_virtio_queue *q, uint16_t head,
		 struct seg *s)
{
	uint16_t idx = head;
	bool seen_write = false;
	unsigned int n = 0;

	for (;;) {
		uint64_t d = q->desc + (uint64_t)idx * VIRQ_VIRTQ_DESC_SIZE;
		uint16_t flags;

		if (idx >= q->size || n >= q->size)
			return -1;
		s[n].addr = ld64(blk, d);
		s[n].len = ld32(blk, d + 8);
		flags = ld16(blk, d + 12);
		s[n].write = flags & VIRQ_VIRTQ_DESC_F_WRITE;
		if ((flags & VIRQ_VIRTQ_DESC_F_INDIRECT) || (seen_write && !s[n].write) ||
		    !in_ram(blk, s[n].addr, s[n].len))
			return -1;
		seen_write |= s[n].write;
		n++;
		if (!(flags & VIRQ_VIRTQ_DESC_F_NEXT))
			return (int)n;
		idx = ld16(blk, d + 14);
	}
}

/* 2.6: rings inside RAM and aligned (descriptors 16, avail 2, used 4 bytes). */
static bool rings_ok(const struct virq_virtio_blk *blk, const struct virq_virtio_queue *q)
{
	return !(q->desc & 15) && !(q->driver & 1) && !(q->device & 3) &&
	       in_ram(blk, q->desc, (uint64_t)q->size * VIRQ_VIRTQ_DESC_SIZE) &&
	       in_ram(blk, q->driver, 4 + 2ull * q->size) &&
	       in_ram(blk, q->device, 4 + (uint64_t)q->size * VIRQ_VIRTQ_USED_ELEM_SIZE);
}

static void broken(struct virq_virtio_blk *blk)
{
	blk->stats.errors++;
	virq_virtio_pci_needs_reset(&blk->vp);
}

unsigned int virq_virtio_blk_process(struct virq_virtio_blk *blk, uint16_t queue)
{
	struct seg segs[VIRQ_VIRTIO_BLK_QUEUE_SIZE]; /* a chain has at most size entries */
	const struct virq_virtio_queue *q = virq_virtio_pci_queue(&blk->vp, queue);
	unsigned int done = 0;
	uint16_t avail_idx;
	bool bad = false;

	if (!q || !q->enabled || !(blk->vp.status & VIRQ_VIRTIO_S_DRIVER_OK) ||
	    (blk->vp.status & VIRQ_VIRTIO_S_NEEDS_RESET))
		return 0;
	if (!rings_ok(blk, q)) {
		broken(blk);
		return 0;
	}
	avail_idx = ld16(blk, q->driver + 2);
	__atomic_thread_fence(__ATOMIC_ACQUIRE); /* the ring entries after the index */
	/* 2.6.6: the driver can be at most a queue's worth ahead */
	if ((uint16_t)(avail_idx - blk->last_avail) > q->size) {
		broken(blk);
		return 0;
	}
	while (blk->last_avail != avail_idx) {
		uint16_t slot = blk->last_avail & (q->size - 1);
		uint16_t head = ld16(blk, q->driver + 4 + 2ull * slot);
		uint64_t e = q->device + 4 +
			     (uint64_t)(blk->used_idx & (q->size - 1)) * VIRQ_VIRTQ_USED_ELEM_SIZE;
		int n = chain(blk, q, head, segs);
		int64_t written = n < 0 ? -1 : request(blk, segs, (unsigned int)n);

		if (written < 0) {
			bad = true;
			break;
		}
		/* 2.6.8: the used element, then (after a barrier) the index */
		st32(blk, e, head);
		st32(blk, e + 4, (uint32_t)written);
		blk->used_idx++;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		st16(blk, q->device + 2, blk->used_idx);
		blk->last_avail++;
		done++;
	}
	if (done) {
		/* 2.6.7.2: without VIRTIO_F_EVENT_IDX, flags bit 0 asks for no interrupt. The
		 * used index must be visible before the flags are read. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (ld16(blk, q->driver) & VIRQ_VIRTQ_AVAIL_F_NO_INTERRUPT) {
			blk->stats.suppressed++;
		} else {
			blk->stats.interrupts++;
			virq_virtio_pci_interrupt(&blk->vp, queue);
		}
	}
	if (bad)
		broken(blk);
	return done;
}

/* ---- setup -------------------------------------------------------------------------- */

static void blk_reset(void *o)
{
	struct virq_virtio_blk *blk = o;

	blk->last_avail = blk->used_idx = 0;
}

static const struct virq_virtio_dev_ops blk_dev_ops = { .reset = blk_reset };

int virq_virtio_blk_init(struct virq_virtio_blk *blk, const struct virq_virtio_blk_config *c)
{
	struct virq_virtio_pci_config pc = {
		.device_id = VIRQ_VIRTIO_ID_BLOCK,
		.class_code = 0x010000, /* mass storage, as QEMU's virtio-blk-pci */
		.features = 1ull << VIRQ_VIRTIO_BLK_F_SEG_MAX | 1ull << VIRQ_VIRTIO_BLK_F_BLK_SIZE |
			    1ull << VIRQ_VIRTIO_BLK_F_FLUSH,
		.num_queues = 1,
		.queue_max_size = VIRQ_VIRTIO_BLK_QUEUE_SIZE,
		.dev_cfg_len = VIRQ_VIRTIO_BLK_CFG_SIZE,
		.dev_ops = &blk_dev_ops,
		.ops = c->ops,
		.opaque = c->opaque,
		.intx = c->intx,
		.intx_line = c->intx_line,
	};
	off_t end;
	uint32_t v32;
	uint64_t v64;

	if (c->fd < 0 || (!c->ram && c->ram_size))
		return -EINVAL;
	end = lseek(c->fd, 0, SEEK_END);
	if (end < 0)
		return -errno;
	memset(blk, 0, sizeof(*blk));
	blk->fd = c->fd;
	blk->ram = c->ram;
	blk->ram_size = c->ram_size;
	blk->capacity = (uint64_t)end / VIRQ_VIRTIO_BLK_SECTOR;
	if (c->serial)
		memcpy(blk->serial, c->serial, strnlen(c->serial, sizeof(blk->serial)));
	v64 = htole64(blk->capacity);
	memcpy(blk->cfg + VIRQ_VIRTIO_BLK_CFG_CAPACITY, &v64, 8);
	v32 = htole32(VIRQ_VIRTIO_BLK_QUEUE_SIZE - 2);
	memcpy(blk->cfg + VIRQ_VIRTIO_BLK_CFG_SEG_MAX, &v32, 4);
	v32 = htole32(VIRQ_VIRTIO_BLK_SECTOR);
	memcpy(blk->cfg + VIRQ_VIRTIO_BLK_CFG_BLK_SIZE, &v32, 4);
	pc.dev_cfg = blk->cfg;
	pc.dev_opaque = blk;
	return virq_virtio_pci_init(&blk->vp, &pc);
}
