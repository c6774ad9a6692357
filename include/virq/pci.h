/* SPDX-License-Identifier: MIT */
/*
 * virq: a PCI host bridge with configuration mechanism #1 (PCI Local Bus Specification
 * 3.0, section 3.2.2.3.2). CONFIG_ADDRESS is the dword port 0xcf8: bit 31 enables the
 * translation, bits 23:16 select the bus, 15:11 the device, 10:8 the function and 7:2 the
 * dword register; bits 30:24 and 1:0 are reserved and read back as 0. CONFIG_DATA at
 * 0xcfc-0xcff then reaches that register with byte, word or dword accesses (offset n in
 * the data window is byte n of the dword). A byte or word access to 0xcf8-0xcfb is not a
 * CONFIG_ADDRESS access (the spec passes it on as ordinary I/O): here it reads all ones
 * and a write is dropped.
 *
 * One bus (0) of 32 single-function devices. Device 0 is the host bridge itself, with
 * the identity of the Intel 82441FX (i440FX) that QEMU's "pc" machine shows: vendor
 * 0x8086, device 0x1237, class 0x060000 (host bridge), header type 0. Other buses, other
 * functions and empty slots read 0xffffffff (a master abort, section 3.2.2.3.2) and
 * ignore writes.
 *
 * A device is a `struct virq_pci_dev`: 256 bytes of type-0 configuration space (section
 * 6.1) and a write mask per byte (a 1 bit is writable; the rest, such as the IDs, class,
 * header type and capability pointer, keep their value). Base address registers (section
 * 6.2.5.1) are described by size and type; their writable bits are ~(size - 1) above the
 * type bits, so the sizing protocol (write all ones, read ~(size - 1) | type) falls out
 * of the mask. A BAR "decodes" while its command-register enable (I/O space bit 0,
 * memory space bit 1) is set and its address is a usable one (nonzero, and not the
 * all-ones pattern a sizing write leaves: QEMU's pci_bar_address() makes the same
 * choice). Each change of a BAR's decoding address calls the device's bar_map callback:
 * first (old address, false), then (new address, true). With no callback, or from one,
 * virq_pci_bar_map_hw() claims or releases the BAR's range on the host bridge's
 * virq_hw_bus with the ops given for that BAR, so the VMM needs no code for BAR moves.
 *
 * Capabilities (section 6.7) live in configuration space like any other register; a
 * device that must react to writes (MSI-X enable and mask, section 6.8.2) sets
 * config_write, called after each write has been applied.
 *
 * Firmware-less guests (no BIOS to enumerate the bus) get their BARs from
 * virq_pci_assign_bars(), which places every BAR naturally aligned in the windows it is
 * given and turns on I/O, memory and bus-master decode, as kvmtool does.
 *
 * Pure model: no ioctls, no clock, no threads. The caller serialises every call on the
 * bus, as for the rest of include/virq/hw.h.
 */
#ifndef VIRQ_PCI_H
#define VIRQ_PCI_H

#include <stdbool.h>
#include <stdint.h>
#include "virq/hw.h"

#define VIRQ_PCI_CONFIG_ADDRESS 0xcf8
#define VIRQ_PCI_CONFIG_DATA 0xcfc
#define VIRQ_PCI_CONFIG_ENABLE 0x80000000u
#define VIRQ_PCI_MAX_DEVS 32
#define VIRQ_PCI_NUM_BARS 6
#define VIRQ_PCI_CFG_SIZE 256

/* Type-0 header offsets (PCI 3.0 section 6.1). */
#define VIRQ_PCI_VENDOR_ID 0x00
#define VIRQ_PCI_DEVICE_ID 0x02
#define VIRQ_PCI_COMMAND 0x04
#define VIRQ_PCI_STATUS 0x06
#define VIRQ_PCI_REVISION_ID 0x08
#define VIRQ_PCI_CLASS_PROG 0x09 /* class code: prog-if 0x09, subclass 0x0a, class 0x0b */
#define VIRQ_PCI_CACHE_LINE_SIZE 0x0c
#define VIRQ_PCI_LATENCY_TIMER 0x0d
#define VIRQ_PCI_HEADER_TYPE 0x0e
#define VIRQ_PCI_BAR0 0x10
#define VIRQ_PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define VIRQ_PCI_SUBSYSTEM_ID 0x2e
#define VIRQ_PCI_ROM_ADDRESS 0x30
#define VIRQ_PCI_CAPABILITY_LIST 0x34
#define VIRQ_PCI_INTERRUPT_LINE 0x3c
#define VIRQ_PCI_INTERRUPT_PIN 0x3d
#define VIRQ_PCI_CAP_START 0x40 /* first byte after the header */

#define VIRQ_PCI_COMMAND_IO 0x0001
#define VIRQ_PCI_COMMAND_MEMORY 0x0002
#define VIRQ_PCI_COMMAND_MASTER 0x0004
#define VIRQ_PCI_COMMAND_PARITY 0x0040
#define VIRQ_PCI_COMMAND_SERR 0x0100
#define VIRQ_PCI_COMMAND_INTX_DISABLE 0x0400
#define VIRQ_PCI_STATUS_INTERRUPT 0x0008
#define VIRQ_PCI_STATUS_CAP_LIST 0x0010

#define VIRQ_PCI_CAP_ID_MSIX 0x11
#define VIRQ_PCI_CAP_ID_VNDR 0x09

/* struct virq_pci_bar.flags */
#define VIRQ_PCI_BAR_IO 0x1 /* I/O space; else 32-bit memory */
#define VIRQ_PCI_BAR_MEM64 0x2 /* 64-bit memory: also takes the next BAR's dword */
#define VIRQ_PCI_BAR_PREFETCH 0x4 /* memory: prefetchable */

/* The host bridge's identity (QEMU's i440FX). */
#define VIRQ_PCI_HOST_VENDOR 0x8086
#define VIRQ_PCI_HOST_DEVICE 0x1237
#define VIRQ_PCI_HOST_CLASS 0x060000

struct virq_pci;
struct virq_pci_dev;

struct virq_pci_bar {
	uint64_t size; /* power of two (I/O >= 4, memory >= 16); 0: BAR not implemented */
	uint8_t flags; /* VIRQ_PCI_BAR_* */
	/* What virq_pci_bar_map_hw() registers for this BAR (may be NULL: nothing). */
	const struct virq_hw_ops *ops;
	void *opaque;
	const char *name;
	/* State: the address this BAR currently decodes at, when mapped. */
	bool mapped;
	uint64_t mapped_addr;
};

struct virq_pci_dev_ops {
	/*
	 * The decode window of BAR `bar` (gpa for memory, port for I/O) starts (enabled) or
	 * stops (!enabled). Optional: NULL means virq_pci_bar_map_hw(dev, bar, addr,
	 * enabled), which a callback may also call itself.
	 */
	void (*bar_map)(void *opaque, unsigned int bar, uint64_t addr, bool enabled);
	/* Optional: after a configuration write of `size` bytes at `off` was applied. */
	void (*config_write)(void *opaque, struct virq_pci_dev *dev, uint32_t off,
			     unsigned int size, uint32_t val);
};

struct virq_pci_dev {
	uint8_t cfg[VIRQ_PCI_CFG_SIZE];
	uint8_t wmask[VIRQ_PCI_CFG_SIZE]; /* 1 bits are guest-writable */
	struct virq_pci_bar bar[VIRQ_PCI_NUM_BARS];
	const struct virq_pci_dev_ops *ops;
	void *opaque;
	uint8_t cap_end; /* next free capability offset (virq_pci_dev_add_cap) */
	uint8_t cap_last; /* offset of the last capability, 0 if none */
	/* Set by virq_pci_add. */
	struct virq_pci *pci;
	int slot; /* -1 until added */
	uint64_t map_errors; /* virq_pci_bar_map_hw registrations the bus refused */
};

struct virq_pci {
	uint32_t config_address;
	struct virq_pci_dev host;
	struct virq_pci_dev *dev[VIRQ_PCI_MAX_DEVS]; /* dev[0] == &host */
	struct virq_hw_bus *bus; /* set by virq_pci_register */
	uint64_t cfg_reads, cfg_writes, absent_reads, absent_writes, bad_address_size;
};

/*
 * Initialises a device: IDs, class code (prog-if in bits 7:0), revision, header type 0,
 * the writable command bits (I/O, memory, bus master, parity, SERR, INTx disable),
 * cache line size, latency timer and interrupt line; no BARs, no capabilities.
 */
void virq_pci_dev_init(struct virq_pci_dev *dev, uint16_t vendor, uint16_t device,
		       uint32_t class_code, uint8_t revision, const struct virq_pci_dev_ops *ops,
		       void *opaque);
/*
 * Describes BAR n (0-5; a 64-bit BAR takes n and n + 1, n <= 4). ops/opaque/name are
 * what virq_pci_bar_map_hw() registers. 0, or -EINVAL (bad index, size not a power of
 * two or too small, I/O larger than 256 bytes or 64-bit, BAR n + 1 already used).
 */
int virq_pci_dev_set_bar(struct virq_pci_dev *dev, unsigned int n, uint64_t size, uint8_t flags,
			 const struct virq_hw_ops *ops, void *opaque, const char *name);
/*
 * Appends a capability: `len` bytes of `body` (body[0] is the capability ID, body[1] the
 * next pointer, filled in here) at the next dword-aligned free offset from 0x40, links it
 * into the list and sets Status.Capabilities List. Every byte is read-only until the
 * caller sets dev->wmask. Returns the capability's offset, or -ENOSPC / -EINVAL.
 */
int virq_pci_dev_add_cap(struct virq_pci_dev *dev, const void *body, unsigned int len);
/* Little-endian helpers on configuration space (no masks applied). */
uint32_t virq_pci_cfg_get(const struct virq_pci_dev *dev, uint32_t off, unsigned int size);
void virq_pci_cfg_set(struct virq_pci_dev *dev, uint32_t off, unsigned int size, uint32_t val);

/* The bridge with its host-bridge device in slot 0, no other devices, no bus yet. */
void virq_pci_init(struct virq_pci *pci);
/* Claims ports 0xcf8 (4) and 0xcfc (4) on bus; BARs are then mapped on it. 0 or the
 * bus's error. */
int virq_pci_register(struct virq_pci *pci, struct virq_hw_bus *bus);
/* Adds dev at the lowest free slot (1-31). Returns the slot, -ENOSPC, or -EBUSY (dev
 * already added). */
int virq_pci_add(struct virq_pci *pci, struct virq_pci_dev *dev);

/*
 * Configuration access to (bus 0) slot `slot`, register offset off (size 1, 2 or 4, off
 * + size <= 256), exactly as through CONFIG_DATA. An absent slot reads all ones.
 */
uint32_t virq_pci_config_read(struct virq_pci *pci, unsigned int slot, uint32_t off,
			      unsigned int size);
void virq_pci_config_write(struct virq_pci *pci, unsigned int slot, uint32_t off, unsigned int size,
			   uint32_t val);

/* The address BAR n is programmed with (decoding or not), type bits removed. */
uint64_t virq_pci_bar_address(const struct virq_pci_dev *dev, unsigned int n);

/*
 * The default bar_map action: registers (enabled) or unregisters BAR n's [addr, addr +
 * size) with its ops on the host bridge's bus (port or MMIO space by type). 0; -ENODEV
 * (not added, no bus, or no ops for the BAR); or the bus's error, also counted in
 * dev->map_errors.
 */
int virq_pci_bar_map_hw(struct virq_pci_dev *dev, unsigned int n, uint64_t addr, bool enabled);

/*
 * Firmware-less setup: gives every implemented BAR of every added device (slots in
 * order) a naturally aligned address, memory BARs (32- and 64-bit alike) from [mem_base,
 * mem_limit] and I/O BARs from [io_base, io_limit] (limits inclusive), then sets command
 * I/O | memory | bus master. 0, or -ENOSPC when a window runs out (BARs placed so far
 * stay).
 */
int virq_pci_assign_bars(struct virq_pci *pci, uint64_t mem_base, uint64_t mem_limit,
			 uint32_t io_base, uint32_t io_limit);

#endif /* VIRQ_PCI_H */
