/* SPDX-License-Identifier: MIT */
/*
 * virq: ACPI (ACPI Specification 6.3) and Intel MultiProcessor Specification 1.4 tables
 * for a PC guest: enough for Linux to find the IOAPIC and every CPU.
 *
 * Pure: writes into a caller-given guest-physical window of a struct virq_boot_mem and
 * says where each table went. Callable from any thread on distinct buffers.
 */
#ifndef VIRQ_BOOT_ACPI_H
#define VIRQ_BOOT_ACPI_H

#include <stdint.h>

#include "virq/boot.h"

#define VIRQ_ACPI_WINDOW_DEFAULT 0xf0000ull /* BIOS ROM area: both scans look here */
#define VIRQ_ACPI_WINDOW_SIZE_DEFAULT 0x10000ull
#define VIRQ_ACPI_MAX_CPUS 254 /* xAPIC IDs 0-254 (0xFF is the broadcast ID) */
#define VIRQ_ACPI_LAPIC_ADDR 0xfee00000u
#define VIRQ_ACPI_IOAPIC_ADDR 0xfec00000u
#define VIRQ_ACPI_IOAPIC_PINS 24

/* Table header (ACPI 6.3 5.2.6, Table 5-29) */
#define VIRQ_ACPI_HDR_LEN 36
#define VIRQ_ACPI_RSDP_LEN 36 /* 5.2.5.3: revision 2 */
#define VIRQ_ACPI_FADT_LEN 276 /* 5.2.9: revision 6 */
#define VIRQ_ACPI_FACS_LEN 64
/* PCI0's _CRS (virq_acpi_build): WordBusNumber, IO, two WordIO, two DWordMemory, EndTag */
#define VIRQ_ACPI_PCI0_CRS_LEN (16 + 8 + 2 * 16 + 2 * 26 + 2)
#define VIRQ_ACPI_DSDT_AML_MAX 512 /* room for the DSDT's AML body while it is built */
#define VIRQ_ACPI_MAX_PCI_IRQS 8 /* _PRT entries (each at most 19 bytes of AML) */
/* MADT (5.2.12) entry types */
#define VIRQ_MADT_LAPIC 0
#define VIRQ_MADT_IOAPIC 1
#define VIRQ_MADT_ISO 2
#define VIRQ_MADT_LAPIC_NMI 4
#define VIRQ_MADT_PCAT_COMPAT (1u << 0)
#define VIRQ_MADT_LAPIC_ENABLED (1u << 0)
/* MPS INTI flags (MADT 5.2.12.5 Table 5-50; MPS 1.4 Table 4-10): polarity bits 1:0,
 * trigger mode bits 3:2; 01 = active high / edge, 11 = active low / level. */
#define VIRQ_INTI_POLARITY_HIGH 0x1u
#define VIRQ_INTI_POLARITY_LOW 0x3u
#define VIRQ_INTI_TRIGGER_EDGE (0x1u << 2)
#define VIRQ_INTI_TRIGGER_LEVEL (0x3u << 2)
/* FADT Flags (5.2.9, Table 5-34) and IAPC_BOOT_ARCH (5.2.9.3, Table 5-35) */
#define VIRQ_FADT_WBINVD (1u << 0)
#define VIRQ_FADT_PROC_C1 (1u << 2)
#define VIRQ_FADT_PWR_BUTTON (1u << 4) /* 1: no fixed power button */
#define VIRQ_FADT_SLP_BUTTON (1u << 5) /* 1: no fixed sleep button */
#define VIRQ_FADT_HW_REDUCED (1u << 20)
#define VIRQ_FADT_BOOT_LEGACY_DEVICES (1u << 0)
#define VIRQ_FADT_BOOT_8042 (1u << 1)
#define VIRQ_FADT_BOOT_NO_VGA (1u << 2)
/* MP table (MPS 1.4 chapter 4) */
#define VIRQ_MP_FPS_LEN 16
#define VIRQ_MP_HDR_LEN 44
#define VIRQ_MP_PROC 0
#define VIRQ_MP_BUS 1
#define VIRQ_MP_IOAPIC 2
#define VIRQ_MP_IOINT 3
#define VIRQ_MP_LINT 4
#define VIRQ_MP_INT 0 /* interrupt types, Table 4-9 */
#define VIRQ_MP_NMI 1
#define VIRQ_MP_EXTINT 3
#define VIRQ_MP_CPU_EN (1u << 0)
#define VIRQ_MP_CPU_BP (1u << 1)

struct virq_acpi_config {
	unsigned int n_cpus; /* 1..VIRQ_ACPI_MAX_CPUS */
	const uint8_t *apic_ids; /* NULL: CPU i has APIC ID i */
	uint8_t ioapic_id; /* 0: n_cpus (off the LAPIC IDs: one APIC bus namespace) */
	uint32_t ioapic_addr; /* 0: VIRQ_ACPI_IOAPIC_ADDR */
	uint32_t lapic_addr; /* 0: VIRQ_ACPI_LAPIC_ADDR */
	/* SCI: 0 = 9. The MADT and MP table route it level/active-high (ACPI 6.3 5.2.12.5:
	 * SCI is sharable level active low unless overridden; we override, as QEMU does). */
	uint8_t sci_irq;
	/* PM1a event/control and PM timer blocks (I/O ports). 0: QEMU's PIIX4 layout
	 * 0x600/0x604/0x608. The VMM should answer PM1a_CNT reads with SCI_EN (bit 0) set:
	 * SMI_CMD is 0, so the OS takes the machine as already in ACPI mode (5.2.9). */
	uint16_t pm_base;
	uint64_t window; /* 0: VIRQ_ACPI_WINDOW_DEFAULT */
	uint64_t window_size; /* 0: VIRQ_ACPI_WINDOW_SIZE_DEFAULT */
	int no_mptable; /* leave out the MP table */
	/* The PCI host bridge's 32-bit memory window for BARs, [base, limit]. base 0: no
	 * PCI0 in the DSDT (only \_S5); else 1 MiB <= base < limit < 4 GiB. */
	uint64_t pci_mem_base, pci_mem_limit;
	/* PCI0's _PRT (ACPI 6.3 6.2.13): which GSI each device's INTx pin drives, for the
	 * OS to program as level, active low. Only with pci_mem_base; n_pci_irqs 0: no _PRT. */
	unsigned int n_pci_irqs; /* <= VIRQ_ACPI_MAX_PCI_IRQS */
	struct virq_acpi_pci_irq {
		uint8_t slot; /* PCI device number on bus 0, 1..31 */
		uint8_t pin; /* 0 = INTA# .. 3 = INTD# */
		uint8_t gsi; /* < VIRQ_ACPI_IOAPIC_PINS */
	} pci_irqs[VIRQ_ACPI_MAX_PCI_IRQS];
};

/* Where each table went (guest-physical; 0 = not built). */
struct virq_acpi_layout {
	uint64_t rsdp, rsdt, xsdt, fadt, facs, dsdt, madt;
	uint64_t mp_fps, mp_config;
	uint32_t dsdt_len, madt_len, mp_config_len;
	uint64_t end; /* first byte above the last table */
};

/*
 * Writes, in [window, window + window_size): the RSDP (revision 2, both checksums) and the
 * MP floating pointer at the window's start (16-byte aligned: ACPI 6.3 5.2.5.1 and MPS 1.4
 * 4.1 make the OS scan 0xE0000-0xFFFFF and 0xF0000-0xFFFFF on 16-byte boundaries), then the
 * RSDT and XSDT (FADT, MADT), the FADT (HW_REDUCED clear, SCI_INT, PM blocks, DSDT/FACS
 * pointers, IAPC_BOOT_ARCH legacy devices + 8042), the FACS, a DSDT (\_S5 and, with
 * pci_mem_base, the PCI host bridge \_SB.PCI0 on bus 0 with its windows; see acpi.c),
 * the MADT (one enabled Processor Local APIC per CPU, the IOAPIC at GSI base 0, overrides
 * IRQ0 -> GSI 2 and the SCI level/high, LINT1 NMI for every CPU) and the MP configuration
 * table (processors, bus ISA, IOAPIC, I/O interrupts for ISA IRQs 0-15 without 2 with
 * IRQ0 -> pin 2, local ExtINT on LINT0 and NMI on LINT1).
 * The window must be 16-byte aligned, in guest RAM and start in [0xF0000, 0x100000) (the
 * MP scan window; the default's). Returns 0 with *out filled; -EINVAL (bad config),
 * -ERANGE (window misplaced) or -E2BIG (tables do not fit); writes nothing on failure.
 */
int virq_acpi_build(const struct virq_boot_mem *mem, const struct virq_acpi_config *cfg,
		    struct virq_acpi_layout *out, char *err, size_t err_len);

/* Sum of `len` bytes mod 256: 0 for a table whose checksum is right. */
uint8_t virq_acpi_sum(const void *p, size_t len);

#endif
