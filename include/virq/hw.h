/* SPDX-License-Identifier: MIT */
/*
 * virq: the device bus of the VMM. Port I/O and MMIO ranges are each claimed by one
 * device with one call (virq_hw_register_pio / virq_hw_register_mmio), as kvmtool's
 * ioport__register() and kvm__register_mmio() do; the vCPU loop hands every KVM_EXIT_IO
 * and KVM_EXIT_MMIO to virq_hw_pio_{read,write} / virq_hw_mmio_{read,write}, which find
 * the range by binary search in a sorted array and call the device.
 *
 * Time: every access carries `now_ns`, the caller's guest clock in nanoseconds (monotonic,
 * the same clock for every device of one VM). Devices compute their state from it; none
 * reads a clock, sleeps, allocates on the access path or calls an ioctl.
 *
 * Interrupts: devices raise ISA/GSI lines through a `struct virq_hw_line` sink (below), in
 * the operations-table style of include/virq/irq.h; virq_hw_line_router() wires one to
 * the GSI router of daemon/irqchip/router.c.
 *
 * Threading: a plain caller-allocated struct; the caller serialises every call on one bus
 * (and so on its devices). Registration is a control-path operation, O(ranges).
 *
 * Integration (in `kernel` mode KVM_CREATE_PIT2 replaces virq_pit, KVM's PIT answering
 * 0x40-0x43 and 0x61 itself; the RTC, fw_cfg and test devices register the same way in
 * every mode, KVM having no RTC):
 *  - KVM_EXIT_IO: for each of io.count items, virq_hw_pio_read/write(bus, io.port,
 *    io.size, now, data + i * io.size); KVM_EXIT_MMIO: virq_hw_mmio_read/write with
 *    mmio.len. now is the VM's guest clock in ns (one clock for all devices).
 *  - Timers: after any exit that touched a timer device, and when a timer fires, call
 *    virq_pit_advance / virq_rtc_advance(now) and re-arm one timerfd (per VM) at the
 *    minimum of virq_pit_next_event / virq_rtc_next_event; UINT64_MAX disarms.
 *  - IRQs: the line sink is virq_hw_line_router() on the VM's GSI router, so PIT IRQ 0 and
 *    RTC IRQ 8 drive the PIC and IOAPIC models (user mode) or, in split mode, a router whose
 *    delivery is KVM_IRQ_LINE / an irqfd per GSI. Push QEMU's table (GSI 0 on IOAPIC pin 2,
 *    matching the MADT's IRQ 0 -> GSI 2 override) rather than KVM's identity default.
 */
#ifndef VIRQ_HW_H
#define VIRQ_HW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRQ_HW_MAX_RANGES 128 /* per address space */

/*
 * A device's access handlers. `off` is the offset of the access inside the registered
 * range, `size` is 1, 2, 4 (or 8 for MMIO), and the access lies wholly inside the range.
 * read returns the value (the bus masks it to `size` bytes); either may be NULL (reads
 * then give all ones, writes are dropped, both are counted as unhandled).
 */
struct virq_hw_ops {
	uint64_t (*read)(void *opaque, uint64_t off, unsigned int size, uint64_t now_ns);
	void (*write)(void *opaque, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns);
};

struct virq_hw_range {
	uint64_t base, len;
	const struct virq_hw_ops *ops;
	void *opaque;
	const char *name; /* static string, for listings */
	uint64_t reads, writes;
};

struct virq_hw_space {
	uint32_t nr;
	struct virq_hw_range r[VIRQ_HW_MAX_RANGES]; /* sorted by base, disjoint */
	uint64_t unclaimed_reads, unclaimed_writes; /* no range, or straddling one's end */
	uint64_t bad_size; /* size not 1/2/4(/8): refused with -EINVAL */
};

struct virq_hw_bus {
	struct virq_hw_space pio, mmio;
};

void virq_hw_bus_init(struct virq_hw_bus *bus);

/*
 * Claims [base, base + len) for a device. Returns 0; -EINVAL len 0, NULL ops, or a range
 * past the end of the space (64 KiB of ports, 2^64 bytes of MMIO); -EBUSY it overlaps a
 * registered range; -ENOSPC VIRQ_HW_MAX_RANGES reached. ops, opaque and name must outlive
 * the registration.
 */
int virq_hw_register_pio(struct virq_hw_bus *bus, uint16_t base, uint32_t len,
			 const struct virq_hw_ops *ops, void *opaque, const char *name);
int virq_hw_register_mmio(struct virq_hw_bus *bus, uint64_t base, uint64_t len,
			  const struct virq_hw_ops *ops, void *opaque, const char *name);
/* Releases the range starting exactly at base. 0 or -ENOENT. */
int virq_hw_unregister_pio(struct virq_hw_bus *bus, uint16_t base);
int virq_hw_unregister_mmio(struct virq_hw_bus *bus, uint64_t base);

/* The range holding addr, or NULL. O(log n). */
const struct virq_hw_range *virq_hw_find_pio(const struct virq_hw_bus *bus, uint16_t port);
const struct virq_hw_range *virq_hw_find_mmio(const struct virq_hw_bus *bus, uint64_t addr);

/*
 * Dispatch one access. size is 1, 2 or 4 for ports, 1, 2, 4 or 8 for MMIO. Returns 0 when
 * a device took it; -ENOENT when no range holds the whole access (a read then yields all
 * ones of `size` bytes, as an ISA bus with nothing driving it does, and the access is
 * counted); -EINVAL for a bad size (read value all ones, counted in bad_size).
 * A KVM_EXIT_IO with count > 1 (rep ins/outs) is `count` calls, data advancing by size.
 */
int virq_hw_pio_read(struct virq_hw_bus *bus, uint16_t port, unsigned int size, uint64_t now_ns,
		     uint32_t *val);
int virq_hw_pio_write(struct virq_hw_bus *bus, uint16_t port, unsigned int size, uint32_t val,
		      uint64_t now_ns);
int virq_hw_mmio_read(struct virq_hw_bus *bus, uint64_t addr, unsigned int size, uint64_t now_ns,
		      uint64_t *val);
int virq_hw_mmio_write(struct virq_hw_bus *bus, uint64_t addr, unsigned int size, uint64_t val,
		       uint64_t now_ns);

/*
 * An interrupt-line sink: devices drive ISA IRQ / GSI `line` to `level` (1 asserted,
 * 0 de-asserted; an edge is 0 -> 1). The numbering is the GSI router's input: ISA IRQ n
 * is GSI n, and the VMM's routing table (QEMU's: GSI 0 on IOAPIC pin 2, see router.h)
 * decides which chip pins that drives.
 */
struct virq_hw_line_ops {
	void (*set_line)(void *opaque, uint32_t line, int level);
};
struct virq_hw_line {
	const struct virq_hw_line_ops *ops;
	void *opaque;
};

static inline void virq_hw_set_line(const struct virq_hw_line *s, uint32_t line, int level)
{
	if (s && s->ops && s->ops->set_line)
		s->ops->set_line(s->opaque, line, level);
}

struct virq_router;
/* A line sink driving virq_router_set_irq(r, line, level). r must outlive the sink. */
void virq_hw_line_router(struct virq_hw_line *out, struct virq_router *r);

#endif /* VIRQ_HW_H */
