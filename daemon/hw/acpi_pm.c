// SPDX-License-Identifier: MIT
/* ACPI PM1a event/control blocks and the PM timer; see include/virq/acpi_pm.h. */
#include <string.h>

#include "virq/acpi_pm.h"

void virq_acpi_pm_init(struct virq_acpi_pm *pm, uint16_t base, const struct virq_acpi_pm_ops *ops,
		       void *opaque)
{
	memset(pm, 0, sizeof(*pm));
	pm->base = base ? base : VIRQ_ACPI_PM_BASE;
	pm->ops = ops;
	pm->opaque = opaque;
	pm->cnt = VIRQ_PM1_SCI_EN;
}

uint32_t virq_acpi_pm_timer(uint64_t now_ns)
{
	/* ticks = ns * 3579545 / 1e9, without overflowing for ~150 years of guest time:
	 * split the seconds off first. */
	uint64_t s = now_ns / 1000000000ull, ns = now_ns % 1000000000ull;
	uint64_t ticks = s * VIRQ_ACPI_PM_TMR_HZ + ns * VIRQ_ACPI_PM_TMR_HZ / 1000000000ull;

	return (uint32_t)(ticks & VIRQ_ACPI_PM_TMR_MASK);
}

static uint64_t pm_read(void *o, uint64_t off, unsigned int size, uint64_t now_ns)
{
	const struct virq_acpi_pm *pm = o;
	uint32_t v;

	if (off < 4) /* PM1_STS (0-1), PM1_EN (2-3) */
		v = (uint32_t)pm->sts | (uint32_t)pm->en << 16;
	else if (off < 8) /* PM1_CNT (4-5); 6-7 unused */
		v = pm->cnt;
	else
		return (uint64_t)virq_acpi_pm_timer(now_ns) >> (8 * (off - 8));
	return (uint64_t)v >> (8 * (off & 3));
}

static void pm_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	struct virq_acpi_pm *pm = o;
	uint32_t mask = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
	uint32_t sh = 8 * (uint32_t)(off & 3), v = ((uint32_t)val & mask) << sh;
	uint32_t m = mask << sh;

	(void)now_ns;
	if (off < 4) {
		/* PM1_STS bits are cleared by writing 1 (4.8.3.1.1); PM1_EN is read/write. */
		pm->sts &= (uint16_t) ~(v & m & 0xffff);
		pm->en = (uint16_t)((pm->en & ~(m >> 16)) | (v >> 16));
	} else if (off < 6) {
		uint16_t cnt = (uint16_t)((pm->cnt & ~m) | (v & m & 0xffff));

		/* SLP_EN is write-only (reads 0); SCI_EN stays set (no legacy mode here). */
		pm->cnt = (uint16_t)((cnt & ~VIRQ_PM1_SLP_EN) | VIRQ_PM1_SCI_EN);
		if (cnt & VIRQ_PM1_SLP_EN) {
			pm->sleeps++;
			pm->sts |= VIRQ_PM1_STS_WAK;
			if (pm->ops && pm->ops->power_off)
				pm->ops->power_off(pm->opaque,
						   (cnt >> VIRQ_PM1_SLP_TYP_SHIFT) & 7u);
		}
	}
	/* The timer (8-11) is read-only. */
}

static const struct virq_hw_ops pm_ops = { .read = pm_read, .write = pm_write };

int virq_acpi_pm_register(struct virq_acpi_pm *pm, struct virq_hw_bus *bus)
{
	return virq_hw_register_pio(bus, pm->base, VIRQ_ACPI_PM_LEN, &pm_ops, pm, "acpi-pm");
}
