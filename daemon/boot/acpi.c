// SPDX-License-Identifier: MIT
/*
 * ACPI 6.3 and MPS 1.4 tables. Every size is known before anything is written: the
 * layout is computed and checked against the window first, then the tables are written
 * straight into guest memory and their checksums fixed up.
 */
#include <errno.h>
#include <string.h>

#include "boot_internal.h"
#include "virq/aml.h"
#include "virq/boot_acpi.h"

#define OEM_ID "VIRQ  " /* 6 bytes */
#define OEM_TABLE_ID "VIRQPC  " /* 8 bytes */
#define CREATOR_ID "VIRQ"
#define MADT_REVISION 5 /* ACPI 6.3 */
#define FADT_REVISION 6
#define FADT_MINOR 3
#define MP_SPEC_REV 4 /* MPS 1.4 */
#define MP_LAPIC_VERSION 0x14 /* integrated APIC (MPS 1.4 4.3.1: 1xh) */
#define MP_IOAPIC_VERSION 0x11 /* the 82093AA's version register value */
#define MP_CPU_SIGNATURE 0x600 /* family 6 */
#define MP_CPU_FEATURES 0x201 /* CPUID.1:EDX FPU | APIC */

uint8_t virq_acpi_sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + b[i]);
	return s;
}

/*
 * The DSDT's AML (ACPI 6.3 20.2, 5.2.11.1), built before the layout (its length places
 * the tables after it) and copied into the window with the rest:
 *
 *   Scope (\_SB) {
 *     Device (PCI0) {                              only with cfg->pci_mem_base
 *       Name (_HID, EisaId ("PNP0A03"))            a PCI host bridge (6.1.5)
 *       Name (_UID, Zero)                          no _ADR: 6.1, either _HID or _ADR
 *       Name (_BBN, Zero)                          base bus number (6.5.5)
 *       Name (_CRS, ResourceTemplate () {          what the bridge decodes (6.2.2)
 *         WordBusNumber  0x00-0xff                 producer
 *         IO (Decode16, 0xcf8, 0xcf8, 1, 8)        consumed: config mechanism 1
 *         WordIO         0x0000-0x0cf7, 0x0d00-0xffff
 *         DWordMemory    0xa0000-0xbffff           the VGA hole, as a PC decodes it
 *         DWordMemory    pci_mem_base-pci_mem_limit
 *       })
 *       Name (_PRT, Package () {                   only with cfg->n_pci_irqs
 *         Package (4) { (slot << 16) | 0xffff, pin, Zero, gsi }, ...
 *       })
 *     }
 *   }
 *   Name (_S5, Package (4) { Zero, Zero, Zero, Zero })
 *
 * \_S5 (7.4.2) lets the OS power off through PM1a_CNT (SLP_TYP 0 with SLP_EN, as on
 * QEMU's PIIX4). Linux finds bus 0 through PCI0 (acpi_pci_root) and uses only the
 * windows of its _CRS for BARs; it reaches config space through mechanism 1 either way.
 *
 * _PRT (6.2.13): an entry per device pin that has an INTx line, Source Zero: the pin
 * drives that GSI directly, which the OS then programs level-triggered, active low (as
 * QEMU's PCI slots on its PIIX4 without link devices would). Our lines are logical
 * ("asserted" = 1): neither our IOAPIC model nor KVM's inverts by the RTE's polarity
 * (include/virq/ioapic.h), so active low needs nothing on the device side. A guest
 * without MSI-X (pci=nomsi) uses it; with MSI-X the entry is unused.
 */
static void dsdt_aml(struct virq_aml *a, const struct virq_acpi_config *cfg)
{
	uint8_t crs[VIRQ_ACPI_PCI0_CRS_LEN];
	struct virq_aml r = virq_aml_writer(crs, sizeof(crs));
	size_t sb, dev, s5;

	if (cfg->pci_mem_base) {
		virq_aml_res_word_bus(&r, 0, 0xff);
		virq_aml_res_io(&r, 0xcf8, 0xcf8, 1, 8);
		virq_aml_res_word_io(&r, 0, 0xcf7);
		virq_aml_res_word_io(&r, 0xd00, 0xffff);
		virq_aml_res_dword_mem(&r, 0xa0000, 0xbffff, true);
		virq_aml_res_dword_mem(&r, (uint32_t)cfg->pci_mem_base,
				       (uint32_t)cfg->pci_mem_limit, false);
		virq_aml_res_end(&r);
		/* the names are constants: these cannot fail */
		(void)virq_aml_scope_begin(a, "\\_SB", &sb);
		(void)virq_aml_device_begin(a, "PCI0", &dev);
		(void)virq_aml_name(a, "_HID");
		(void)virq_aml_eisaid(a, "PNP0A03");
		(void)virq_aml_name(a, "_UID");
		virq_aml_int(a, 0);
		(void)virq_aml_name(a, "_BBN");
		virq_aml_int(a, 0);
		(void)virq_aml_name(a, "_CRS");
		virq_aml_buffer(a, crs, r.len);
		if (cfg->n_pci_irqs) {
			size_t prt, e;

			(void)virq_aml_name(a, "_PRT");
			prt = virq_aml_package_begin(a, (uint8_t)cfg->n_pci_irqs);
			for (unsigned int i = 0; i < cfg->n_pci_irqs; i++) {
				const struct virq_acpi_pci_irq *q = &cfg->pci_irqs[i];

				e = virq_aml_package_begin(a, 4);
				virq_aml_int(a,
					     ((uint64_t)q->slot << 16) | 0xffff); /* any function */
				virq_aml_int(a, q->pin);
				virq_aml_int(a, 0); /* Source: none, the GSI itself */
				virq_aml_int(a, q->gsi);
				(void)virq_aml_end(a, e);
			}
			(void)virq_aml_end(a, prt);
		}
		(void)virq_aml_end(a, dev);
		(void)virq_aml_end(a, sb);
	}
	(void)virq_aml_name(a, "_S5");
	s5 = virq_aml_package_begin(a, 4);
	for (int i = 0; i < 4; i++)
		virq_aml_int(a, 0);
	(void)virq_aml_end(a, s5);
}

static void fix_sum(uint8_t *table, size_t len, size_t at)
{
	table[at] = 0;
	table[at] = (uint8_t)(0x100 - virq_acpi_sum(table, len));
}

/* ACPI 6.3 5.2.6: the common description header; the checksum is fixed later. */
static void acpi_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	boot_put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	boot_put32(t + 24, 1); /* OEM revision */
	memcpy(t + 28, CREATOR_ID, 4);
	boot_put32(t + 32, 1); /* creator revision */
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* ISA IRQs in the MP table: 0-15 except 2, the cascade, whose IOAPIC pin IRQ 0 takes. */
#define MP_N_IOINT 15

int virq_acpi_build(const struct virq_boot_mem *mem, const struct virq_acpi_config *cfg,
		    struct virq_acpi_layout *out, char *err, size_t err_len)
{
	struct virq_acpi_layout l = { 0 };
	uint8_t aml_buf[VIRQ_ACPI_DSDT_AML_MAX];
	struct virq_aml aml = virq_aml_writer(aml_buf, sizeof(aml_buf));
	uint32_t dsdt_len;
	uint64_t win, wsize, cur, wend;
	uint32_t lapic, ioapic, madt_len, mp_len = 0;
	uint8_t ioapic_id, ids[VIRQ_ACPI_MAX_CPUS], sci;
	uint16_t pm;
	unsigned int n;
	uint8_t *t, *g;
	size_t o;

	if (!mem || !mem->host || !cfg || !out)
		return boot_fail(err, err_len, -EINVAL, "acpi: missing argument");
	n = cfg->n_cpus;
	if (!n || n > VIRQ_ACPI_MAX_CPUS)
		return boot_fail(err, err_len, -EINVAL, "acpi: %u CPUs, need 1..%d", n,
				 VIRQ_ACPI_MAX_CPUS);
	ioapic_id = cfg->ioapic_id ? cfg->ioapic_id : (uint8_t)n;
	for (unsigned int i = 0; i < n; i++) {
		ids[i] = cfg->apic_ids ? cfg->apic_ids[i] : (uint8_t)i;
		if (ids[i] == 0xff || ids[i] == ioapic_id)
			return boot_fail(err, err_len, -EINVAL,
					 "acpi: CPU %u APIC ID 0x%x is the broadcast ID or the "
					 "IOAPIC's",
					 i, ids[i]);
		for (unsigned int j = 0; j < i; j++)
			if (ids[j] == ids[i])
				return boot_fail(err, err_len, -EINVAL,
						 "acpi: CPUs %u and %u share APIC ID 0x%x", j, i,
						 ids[i]);
	}
	if (ioapic_id == 0xff)
		return boot_fail(err, err_len, -EINVAL, "acpi: IOAPIC ID 0xff");
	lapic = cfg->lapic_addr ? cfg->lapic_addr : VIRQ_ACPI_LAPIC_ADDR;
	ioapic = cfg->ioapic_addr ? cfg->ioapic_addr : VIRQ_ACPI_IOAPIC_ADDR;
	sci = cfg->sci_irq ? cfg->sci_irq : 9;
	if (sci >= 16 || sci == 2 || sci == 0)
		return boot_fail(err, err_len, -EINVAL, "acpi: SCI IRQ %u is not a free ISA IRQ",
				 sci);
	pm = cfg->pm_base ? cfg->pm_base : 0x600;
	if (pm > 0xffff - 12)
		return boot_fail(err, err_len, -EINVAL, "acpi: PM block at port 0x%x", pm);
	win = cfg->window ? cfg->window : VIRQ_ACPI_WINDOW_DEFAULT;
	wsize = cfg->window_size ? cfg->window_size : VIRQ_ACPI_WINDOW_SIZE_DEFAULT;
	if (win & 15 || win < 0xf0000 || win >= VIRQ_BOOT_HOLE_END ||
	    wsize > VIRQ_BOOT_HOLE_END - win || win + wsize > mem->size)
		return boot_fail(err, err_len, -ERANGE,
				 "acpi: window 0x%llx+0x%llx must be 16-byte aligned, in "
				 "[0xf0000, 0x100000) and in guest RAM (0x%llx)",
				 (unsigned long long)win, (unsigned long long)wsize,
				 (unsigned long long)mem->size);
	wend = win + wsize;
	if (cfg->pci_mem_base &&
	    (cfg->pci_mem_limit <= cfg->pci_mem_base || cfg->pci_mem_limit > 0xffffffffu ||
	     cfg->pci_mem_base < VIRQ_BOOT_HOLE_END))
		return boot_fail(err, err_len, -EINVAL,
				 "acpi: PCI window 0x%llx-0x%llx must be above 1 MiB, below 4 GiB "
				 "and not empty",
				 (unsigned long long)cfg->pci_mem_base,
				 (unsigned long long)cfg->pci_mem_limit);
	if (cfg->n_pci_irqs > VIRQ_ACPI_MAX_PCI_IRQS || (cfg->n_pci_irqs && !cfg->pci_mem_base))
		return boot_fail(err, err_len, -EINVAL,
				 "acpi: %u PCI interrupt routes (at most %d, and only with a PCI "
				 "window)",
				 cfg->n_pci_irqs, VIRQ_ACPI_MAX_PCI_IRQS);
	for (unsigned int i = 0; i < cfg->n_pci_irqs; i++) {
		const struct virq_acpi_pci_irq *q = &cfg->pci_irqs[i];

		if (q->slot == 0 || q->slot > 31 || q->pin > 3 || q->gsi >= VIRQ_ACPI_IOAPIC_PINS)
			return boot_fail(err, err_len, -EINVAL,
					 "acpi: PCI route %u: slot %u pin %u GSI %u out of range",
					 i, q->slot, q->pin, q->gsi);
	}
	dsdt_aml(&aml, cfg);
	if (!virq_aml_ok(&aml))
		return boot_fail(err, err_len, -E2BIG, "acpi: the DSDT's AML exceeds %zu bytes",
				 sizeof(aml_buf));
	dsdt_len = VIRQ_ACPI_HDR_LEN + (uint32_t)aml.len;

	/* Layout. RSDP and the MP floating pointer first, on 16-byte boundaries. */
	madt_len = VIRQ_ACPI_HDR_LEN + 8 + 8 * n + 12 + 10 + 10 + 6;
	l.rsdp = win;
	cur = win + 48;
	if (!cfg->no_mptable) {
		l.mp_fps = cur;
		cur += VIRQ_MP_FPS_LEN;
	}
	l.facs = cur = align_up(cur, 64); /* 5.2.10: 64-byte aligned */
	cur += VIRQ_ACPI_FACS_LEN;
	l.rsdt = cur;
	cur = align_up(cur + VIRQ_ACPI_HDR_LEN + 2 * 4, 16);
	l.xsdt = cur;
	cur = align_up(cur + VIRQ_ACPI_HDR_LEN + 2 * 8, 16);
	l.fadt = cur;
	cur = align_up(cur + VIRQ_ACPI_FADT_LEN, 16);
	l.dsdt = cur;
	l.dsdt_len = dsdt_len;
	cur = align_up(cur + dsdt_len, 16);
	l.madt = cur;
	l.madt_len = madt_len;
	cur = align_up(cur + madt_len, 16);
	if (!cfg->no_mptable) {
		mp_len = VIRQ_MP_HDR_LEN + 20 * n + 8 + 8 + 8 * MP_N_IOINT + 8 * 2;
		l.mp_config = cur;
		l.mp_config_len = mp_len;
		cur = align_up(cur + mp_len, 16);
	}
	l.end = cur;
	if (cur > wend)
		return boot_fail(err, err_len, -E2BIG,
				 "acpi: tables need 0x%llx bytes, the window has 0x%llx",
				 (unsigned long long)(cur - win), (unsigned long long)wsize);
	g = mem->host;
	memset(g + win, 0, cur - win);

	/* RSDP, 5.2.5.3: checksum over the first 20 bytes, extended checksum over all 36 */
	t = g + l.rsdp;
	memcpy(t, "RSD PTR ", 8);
	memcpy(t + 9, OEM_ID, 6);
	t[15] = 2;
	boot_put32(t + 16, (uint32_t)l.rsdt);
	boot_put32(t + 20, VIRQ_ACPI_RSDP_LEN);
	boot_put64(t + 24, l.xsdt);
	fix_sum(t, 20, 8);
	fix_sum(t, VIRQ_ACPI_RSDP_LEN, 32);

	/* RSDT (5.2.7) and XSDT (5.2.8): the FADT and the MADT */
	t = g + l.rsdt;
	acpi_header(t, "RSDT", VIRQ_ACPI_HDR_LEN + 8, 1);
	boot_put32(t + 36, (uint32_t)l.fadt);
	boot_put32(t + 40, (uint32_t)l.madt);
	fix_sum(t, VIRQ_ACPI_HDR_LEN + 8, 9);
	t = g + l.xsdt;
	acpi_header(t, "XSDT", VIRQ_ACPI_HDR_LEN + 16, 1);
	boot_put64(t + 36, l.fadt);
	boot_put64(t + 44, l.madt);
	fix_sum(t, VIRQ_ACPI_HDR_LEN + 16, 9);

	/* FACS (5.2.10): no checksum; version 2 */
	t = g + l.facs;
	memcpy(t, "FACS", 4);
	boot_put32(t + 4, VIRQ_ACPI_FACS_LEN);
	t[32] = 2;

	/* DSDT (5.2.11.1): a definition block, see dsdt_aml() */
	t = g + l.dsdt;
	acpi_header(t, "DSDT", dsdt_len, 2);
	memcpy(t + VIRQ_ACPI_HDR_LEN, aml_buf, aml.len);
	fix_sum(t, dsdt_len, 9);

	/* FADT (5.2.9, Table 5-33). The 64-bit X_ register blocks stay 0: the OS derives
	 * them from the 32-bit ones; X_DSDT/X_FIRMWARE_CTRL match DSDT/FIRMWARE_CTRL. */
	t = g + l.fadt;
	acpi_header(t, "FACP", VIRQ_ACPI_FADT_LEN, FADT_REVISION);
	boot_put32(t + 36, (uint32_t)l.facs);
	boot_put32(t + 40, (uint32_t)l.dsdt);
	boot_put16(t + 46, sci);
	boot_put32(t + 56, pm); /* PM1a_EVT_BLK */
	boot_put32(t + 64, pm + 4u); /* PM1a_CNT_BLK */
	boot_put32(t + 76, pm + 8u); /* PM_TMR_BLK */
	t[88] = 4; /* PM1_EVT_LEN */
	t[89] = 2; /* PM1_CNT_LEN */
	t[91] = 4; /* PM_TMR_LEN */
	boot_put16(t + 96, 101); /* P_LVL2_LAT > 100: no C2 */
	boot_put16(t + 98, 1001); /* P_LVL3_LAT > 1000: no C3 */
	boot_put16(t + 109, VIRQ_FADT_BOOT_LEGACY_DEVICES | VIRQ_FADT_BOOT_8042);
	boot_put32(t + 112, VIRQ_FADT_WBINVD | VIRQ_FADT_PROC_C1 | VIRQ_FADT_PWR_BUTTON |
				    VIRQ_FADT_SLP_BUTTON);
	t[131] = FADT_MINOR;
	boot_put64(t + 132, l.facs);
	boot_put64(t + 140, l.dsdt);
	fix_sum(t, VIRQ_ACPI_FADT_LEN, 9);

	/* MADT (5.2.12) */
	t = g + l.madt;
	acpi_header(t, "APIC", madt_len, MADT_REVISION);
	boot_put32(t + 36, lapic);
	boot_put32(t + 40, VIRQ_MADT_PCAT_COMPAT); /* 8259s present: the OS masks them */
	o = 44;
	for (unsigned int i = 0; i < n; i++, o += 8) { /* 5.2.12.2 */
		t[o] = VIRQ_MADT_LAPIC;
		t[o + 1] = 8;
		t[o + 2] = (uint8_t)i; /* ACPI processor UID */
		t[o + 3] = ids[i];
		boot_put32(t + o + 4, VIRQ_MADT_LAPIC_ENABLED);
	}
	t[o] = VIRQ_MADT_IOAPIC; /* 5.2.12.3 */
	t[o + 1] = 12;
	t[o + 2] = ioapic_id;
	boot_put32(t + o + 4, ioapic);
	boot_put32(t + o + 8, 0); /* GSI base */
	o += 12;
	t[o] = VIRQ_MADT_ISO; /* 5.2.12.5: the PIT's IRQ 0 is wired to pin 2 */
	t[o + 1] = 10;
	t[o + 2] = 0; /* bus ISA */
	t[o + 3] = 0;
	boot_put32(t + o + 4, 2);
	boot_put16(t + o + 8, 0); /* conforms to the bus: edge, active high */
	o += 10;
	t[o] = VIRQ_MADT_ISO;
	t[o + 1] = 10;
	t[o + 3] = sci;
	boot_put32(t + o + 4, sci);
	boot_put16(t + o + 8, VIRQ_INTI_POLARITY_HIGH | VIRQ_INTI_TRIGGER_LEVEL);
	o += 10;
	t[o] = VIRQ_MADT_LAPIC_NMI; /* 5.2.12.7: LINT1 is NMI on every processor */
	t[o + 1] = 6;
	t[o + 2] = 0xff;
	boot_put16(t + o + 3, 0);
	t[o + 5] = 1;
	fix_sum(t, madt_len, 9);

	if (!cfg->no_mptable) {
		/* MP configuration table (MPS 1.4 4.2, 4.3) */
		t = g + l.mp_config;
		memcpy(t, "PCMP", 4);
		boot_put16(t + 4, (uint16_t)mp_len);
		t[6] = MP_SPEC_REV;
		memcpy(t + 8, "VIRQ    ", 8);
		memcpy(t + 16, "PC          ", 12);
		boot_put16(t + 34, (uint16_t)(n + 1 + 1 + MP_N_IOINT + 2));
		boot_put32(t + 36, lapic);
		o = VIRQ_MP_HDR_LEN;
		for (unsigned int i = 0; i < n; i++, o += 20) { /* 4.3.1 */
			t[o] = VIRQ_MP_PROC;
			t[o + 1] = ids[i];
			t[o + 2] = MP_LAPIC_VERSION;
			t[o + 3] = (uint8_t)(VIRQ_MP_CPU_EN | (i ? 0 : VIRQ_MP_CPU_BP));
			boot_put32(t + o + 4, MP_CPU_SIGNATURE);
			boot_put32(t + o + 8, MP_CPU_FEATURES);
		}
		t[o] = VIRQ_MP_BUS; /* 4.3.2 */
		t[o + 1] = 0;
		memcpy(t + o + 2, "ISA   ", 6);
		o += 8;
		t[o] = VIRQ_MP_IOAPIC; /* 4.3.3 */
		t[o + 1] = ioapic_id;
		t[o + 2] = MP_IOAPIC_VERSION;
		t[o + 3] = 1; /* EN */
		boot_put32(t + o + 4, ioapic);
		o += 8;
		for (unsigned int irq = 0; irq < 16; irq++) { /* 4.3.4 */
			if (irq == 2)
				continue;
			t[o] = VIRQ_MP_IOINT;
			t[o + 1] = VIRQ_MP_INT;
			boot_put16(t + o + 2,
				   irq == sci ? VIRQ_INTI_POLARITY_HIGH | VIRQ_INTI_TRIGGER_LEVEL :
						0);
			t[o + 4] = 0; /* bus ISA */
			t[o + 5] = (uint8_t)irq;
			t[o + 6] = ioapic_id;
			t[o + 7] = (uint8_t)(irq ? irq : 2);
			o += 8;
		}
		for (unsigned int lint = 0; lint < 2; lint++, o += 8) { /* 4.3.5 */
			t[o] = VIRQ_MP_LINT;
			t[o + 1] = lint ? VIRQ_MP_NMI : VIRQ_MP_EXTINT;
			t[o + 6] = 0xff; /* every local APIC */
			t[o + 7] = (uint8_t)lint;
		}
		fix_sum(t, mp_len, 7);

		/* Floating pointer (4.1): length in 16-byte units, feature byte 1 = 0 (the
		 * table is present), byte 2 bit 7 IMCRP = 0 (virtual wire mode) */
		t = g + l.mp_fps;
		memcpy(t, "_MP_", 4);
		boot_put32(t + 4, (uint32_t)l.mp_config);
		t[8] = 1;
		t[9] = MP_SPEC_REV;
		fix_sum(t, VIRQ_MP_FPS_LEN, 10);
	}
	*out = l;
	return 0;
}
