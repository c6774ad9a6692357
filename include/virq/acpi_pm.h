/* SPDX-License-Identifier: MIT */
/*
 * virq: the ACPI fixed-hardware registers the FADT of daemon/boot/acpi.c points at, in
 * QEMU's PIIX4 layout (I/O ports, base 0x600 by default; ACPI 6.3 4.8):
 *  - PM1a_EVT_BLK (base + 0, 4 bytes): PM1_STS (write 1 to clear) and PM1_EN. Only
 *    TMR_STS/TMR_EN and the power button bits exist; no SCI is ever raised (the FADT
 *    has no SCI-generating event we emulate), so the bits only hold what is written.
 *  - PM1a_CNT_BLK (base + 4, 2 bytes): SCI_EN (bit 0) reads 1: with SMI_CMD 0 the OS
 *    takes the machine as being in ACPI mode (4.8.3.2.1, 5.2.9). SLP_TYPx (bits 10-12)
 *    with SLP_EN (bit 13) enters a sleep state; the DSDT declares only \_S5 (SLP_TYP 0),
 *    so any SLP_EN write powers the VM off through the power_off callback.
 *  - PM_TMR_BLK (base + 8, 4 bytes): the 24-bit power management timer at 3.579545 MHz
 *    (4.8.3.3; TMR_VAL_EXT clear in the FADT), computed from the guest clock.
 * Pure: no clock is read, no ioctl. The caller serialises calls.
 */
#ifndef VIRQ_ACPI_PM_H
#define VIRQ_ACPI_PM_H

#include <stdint.h>
#include "virq/hw.h"

#define VIRQ_ACPI_PM_BASE 0x600
#define VIRQ_ACPI_PM_LEN 12
#define VIRQ_ACPI_PM_TMR_HZ 3579545ull
#define VIRQ_ACPI_PM_TMR_MASK 0xffffffu
#define VIRQ_PM1_SCI_EN (1u << 0)
#define VIRQ_PM1_SLP_TYP_SHIFT 10
#define VIRQ_PM1_SLP_EN (1u << 13)
#define VIRQ_PM1_STS_WAK (1u << 15)

struct virq_acpi_pm_ops {
	/* The guest asked for sleep state slp_typ with SLP_EN (S5: power off). */
	void (*power_off)(void *opaque, unsigned int slp_typ);
};

struct virq_acpi_pm {
	const struct virq_acpi_pm_ops *ops;
	void *opaque;
	uint16_t base;
	uint16_t sts, en, cnt;
	uint64_t sleeps;
};

/* base 0: VIRQ_ACPI_PM_BASE. */
void virq_acpi_pm_init(struct virq_acpi_pm *pm, uint16_t base, const struct virq_acpi_pm_ops *ops,
		       void *opaque);
/* The timer's value at now_ns (guest ns since the VM's clock started). */
uint32_t virq_acpi_pm_timer(uint64_t now_ns);
int virq_acpi_pm_register(struct virq_acpi_pm *pm, struct virq_hw_bus *bus);

#endif
