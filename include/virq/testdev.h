/* SPDX-License-Identifier: MIT */
/*
 * virq: the test and power-off devices a test kernel drives:
 *  - QEMU's isa-debug-exit (hw/misc/debugexit.c) at 0xf4: writing v stops the VM with
 *    exit status (v << 1) | 1, QEMU's process exit code (a shell sees it & 0xff);
 *  - QEMU's pc-testdev (hw/misc/pc-testdev.c), as the kvm-unit-tests use it: 0xe0 a 32-bit
 *    scratch register (any size, byte lanes), 0xe4 page flush (32-bit write of a guest
 *    address: its page is flushed through the flush callback), 0xe8 the same scratch
 *    register, 0x2000 + N (N 0-23) a byte write drives ISA/GSI line N to !!value through
 *    the line sink, 0xff000000 a 64 KiB RAM-like MMIO window;
 *  - the Bochs/QEMU shutdown port 0x8900: writing the bytes of "Shutdown" in order powers
 *    the VM off (status 0).
 * The stop effect is the VMM's callback; nothing here exits or blocks.
 */
#ifndef VIRQ_TESTDEV_H
#define VIRQ_TESTDEV_H

#include <stdint.h>
#include "virq/hw.h"

#define VIRQ_DEBUG_EXIT_PORT 0xf4
#define VIRQ_TESTDEV_SCRATCH 0xe0
#define VIRQ_TESTDEV_FLUSH 0xe4
#define VIRQ_TESTDEV_SCRATCH_BYTE 0xe8
#define VIRQ_TESTDEV_IRQ_BASE 0x2000
#define VIRQ_TESTDEV_IRQ_LINES 24
#define VIRQ_TESTDEV_IOMEM 0xff000000ull
#define VIRQ_TESTDEV_IOMEM_LEN 0x10000u
#define VIRQ_SHUTDOWN_PORT 0x8900

struct virq_testdev_ops {
	/* Stop the VM: status is the process exit code a QEMU would give. why: static text. */
	void (*stop)(void *opaque, int status, const char *why);
	/* pc-testdev page flush of the page at gpa (page aligned). May be NULL. */
	void (*flush_page)(void *opaque, uint64_t gpa);
};

struct virq_testdev {
	const struct virq_testdev_ops *ops;
	void *opaque;
	struct virq_hw_line line;
	unsigned int debug_exit_size; /* iosize of isa-debug-exit: 1, 2 or 4 */
	uint32_t scratch;
	uint32_t lines; /* last level written per line */
	uint8_t shutdown_pos; /* bytes of "Shutdown" matched so far */
	uint64_t flushes, stops;
	uint8_t iomem[VIRQ_TESTDEV_IOMEM_LEN];
};

/* debug_exit_size: the isa-debug-exit window (1, 2 or 4; anything else is taken as 1). */
void virq_testdev_init(struct virq_testdev *td, const struct virq_testdev_ops *ops, void *opaque,
		       const struct virq_hw_line *line, unsigned int debug_exit_size);

/* Claims every range above. 0 or the bus's -errno (ranges claimed so far are released). */
int virq_testdev_register(struct virq_testdev *td, struct virq_hw_bus *bus);

#endif /* VIRQ_TESTDEV_H */
