// SPDX-License-Identifier: MIT
/* Vector -> delivery path of virqd's own VMs, from what virqd made them do (vecmap.h). */
#include <errno.h>
#include <string.h>

#include "vecmap.h"
#include "virq/vmm_guest.h"

/* Delivery modes in MSI data[10:8] and ICR[10:8] (SDM Vol. 3A 11.6.1, 11.11.2). */
#define DM_FIXED 0
#define DM_LOWEST 1
#define DM_NMI 4
#define NMI_VECTOR 2
/* MSI address and data bits (SDM Vol. 3A 11.11.1, 11.11.2). */
#define MSI_ADDR_DM_LOGICAL (1u << 2)
#define MSI_ADDR_RH (1u << 3)
#define MSI_DATA_LEVEL \
	(1u << 15) /* an NMI is taken through IDT entry 2 whatever the message says */
/* IOAPIC redirection entry low dword (82093AA datasheet 3.2.4). */
#define RTE_LEVEL (1u << 15)
#define RTE_MASKED (1u << 16)
#define IOAPIC_REDTBL0 0x10

void virqd_vecmap_init(struct virqd_vecmap *m, const struct virq_vm_config *cfg)
{
	memset(m, 0, sizeof(*m));
	memset(m->path, VIRQ_XC_PATH_NONE, sizeof(m->path));
	memset(m->other, VIRQ_XC_PATH_NONE, sizeof(m->other));
	m->posted_msi = cfg && cfg->irqchip == VIRQ_IRQCHIP_USER && cfg->posted;
	m->pic_base = VIRQ_PIC_BOOT_BASE;
	m->pic_imr = 0xffff;
	m->nr_vcpus = cfg ? cfg->nr_vcpus : 1;
}

/* CPUs an ICR reaches: shorthand (bits 19:18), else logical (bit 11) or physical. */
static uint64_t icr_dests(const struct virqd_vecmap *m, uint64_t icr)
{
	uint64_t n;

	switch ((icr >> 18) & 3) {
	case 1:
		return 1;
	case 2:
		return m->nr_vcpus;
	case 3:
		return m->nr_vcpus ? m->nr_vcpus - 1 : 0;
	default:
		break;
	}
	if (!(icr & (1u << 11)))
		return 1;
	n = (uint64_t)__builtin_popcountll(icr >> 32);
	return n < m->nr_vcpus ? n : m->nr_vcpus;
}

int virqd_vecmap_note(struct virqd_vecmap *m, unsigned int vector, enum virq_xcheck_path p,
		      bool level)
{
	if (vector >= VIRQ_XC_NR_VECTORS || (unsigned int)p >= VIRQ_XC_PATH__COUNT)
		return -EINVAL;
	if (level)
		m->level[vector / 64] |= 1ull << (vector % 64);
	if (m->path[vector] == VIRQ_XC_PATH_NONE) {
		m->path[vector] = (uint8_t)p;
		return 0;
	}
	if (m->path[vector] == p || m->other[vector] == p)
		return m->other[vector] == VIRQ_XC_PATH_NONE ? 0 : -EEXIST;
	if (m->other[vector] == VIRQ_XC_PATH_NONE) {
		m->other[vector] = (uint8_t)p;
		m->conflicts++;
	}
	return -EEXIST;
}

void virqd_vecmap_msi(struct virqd_vecmap *m, uint64_t addr, uint32_t data)
{
	unsigned int dm = (data >> 8) & 7;
	/* What the user-mode VMM posts (vmm.h): fixed, edge, no redirection hint, one
	 * physical destination, a legal vector. Everything else takes its APIC bus. */
	bool postable = dm == DM_FIXED && !(addr & MSI_ADDR_DM_LOGICAL) && !(addr & MSI_ADDR_RH) &&
			!(data & MSI_DATA_LEVEL) && ((addr >> 12) & 0xff) != 0xff &&
			(data & 0xff) >= 16;

	if (dm == DM_FIXED || dm == DM_LOWEST)
		virqd_vecmap_note(
			m, data & 0xff,
			m->posted_msi && postable ? VIRQ_XC_PATH_POSTED : VIRQ_XC_PATH_MSI, false);
	else if (dm == DM_NMI)
		virqd_vecmap_note(m, NMI_VECTOR, VIRQ_XC_PATH_NMI, false);
}

void virqd_vecmap_icr(struct virqd_vecmap *m, uint64_t icr)
{
	unsigned int dm = (icr >> 8) & 7;

	if (dm == DM_FIXED || dm == DM_LOWEST)
		virqd_vecmap_note(m, icr & 0xff, VIRQ_XC_PATH_IPI, false);
	else if (dm == DM_NMI)
		virqd_vecmap_note(m, NMI_VECTOR, VIRQ_XC_PATH_NMI, false);
}

void virqd_vecmap_gsi_n(struct virqd_vecmap *m, uint32_t gsi, uint64_t n)
{
	virqd_vecmap_gsi(m, gsi);
	if (gsi < 16 && m->rte[gsi].unmasked && (m->pic_imr & (1u << gsi)))
		m->low_gsi_ioapic += n;
}

void virqd_vecmap_gsi(struct virqd_vecmap *m, uint32_t gsi)
{
	bool routed = false;

	if (gsi >= VIRQD_VECMAP_GSIS) {
		m->unrouted_gsi++;
		return;
	}
	/* KVM's default routing (and ours) feeds GSI 0-15 to both the 8259A and the IOAPIC:
	 * each unmasked one delivers. */
	if (m->rte[gsi].unmasked) {
		virqd_vecmap_note(m, m->rte[gsi].vector, VIRQ_XC_PATH_IOAPIC, m->rte[gsi].level);
		routed = true;
	}
	if (gsi < 16 && !(m->pic_imr & (1u << gsi))) {
		virqd_vecmap_note(m, (m->pic_base + gsi) & 0xff, VIRQ_XC_PATH_PIC, false);
		routed = true;
	}
	if (!routed)
		m->unrouted_gsi++;
}

static void ioapic_write(struct virqd_vecmap *m, uint64_t index, uint64_t value)
{
	uint64_t pin;

	/* Only the low dword of a redirection entry holds vector, trigger and mask. */
	if (index < IOAPIC_REDTBL0 || (index - IOAPIC_REDTBL0) % 2)
		return;
	pin = (index - IOAPIC_REDTBL0) / 2;
	if (pin >= VIRQD_VECMAP_GSIS)
		return;
	m->rte[pin].vector = value & 0xff;
	m->rte[pin].level = value & RTE_LEVEL;
	m->rte[pin].unmasked = !(value & RTE_MASKED);
}

static void guest_cmd(struct virqd_vecmap *m, uint32_t cmd, uint64_t arg0, uint64_t arg1)
{
	switch (cmd) {
	case VIRQ_MBOX_ICR_WRITE:
		virqd_vecmap_icr(m, arg0);
		if (((arg0 >> 8) & 7) == DM_NMI)
			m->guest_nmis += icr_dests(m, arg0);
		break;
	case VIRQ_MBOX_PIC_INIT:
		m->pic_base = arg0 & 0xf8; /* ICW2: bits 2:0 are the pin (8259A datasheet) */
		m->pic_imr = (uint16_t)arg1;
		break;
	case VIRQ_MBOX_IOAPIC_WRITE:
		ioapic_write(m, arg0, arg1);
		break;
	default:
		break;
	}
}

void virqd_vecmap_scenario(struct virqd_vecmap *m, const struct virq_scenario *s)
{
	for (uint32_t i = 0; s && i < s->nr_actions; i++) {
		const struct virq_action *a = &s->actions[i];

		switch (a->kind) {
		case VIRQ_ACT_MSI:
			virqd_vecmap_msi(m, a->addr, (uint32_t)a->data);
			break;
		case VIRQ_ACT_GSI:
			if (a->op != VIRQ_GSI_DEASSERT)
				virqd_vecmap_gsi_n(m, a->gsi, a->repeat ? a->repeat : 1);
			break;
		case VIRQ_ACT_IPI:
			virqd_vecmap_icr(m, a->addr);
			if (((a->addr >> 8) & 7) == DM_NMI)
				m->guest_nmis +=
					icr_dests(m, a->addr) * (a->repeat ? a->repeat : 1);
			break;
		case VIRQ_ACT_TIMER:
			virqd_vecmap_note(m, a->vector, VIRQ_XC_PATH_TIMER, false);
			break;
		case VIRQ_ACT_NMI:
			virqd_vecmap_note(m, NMI_VECTOR, VIRQ_XC_PATH_NMI, false);
			break;
		case VIRQ_ACT_IOAPIC:
			if (a->gsi < VIRQD_VECMAP_GSIS) {
				m->rte[a->gsi].vector = a->vector;
				m->rte[a->gsi].level = a->level;
				m->rte[a->gsi].unmasked = !a->masked;
			}
			break;
		case VIRQ_ACT_PIC:
			guest_cmd(m, VIRQ_MBOX_PIC_INIT, a->arg0, a->arg1);
			break;
		case VIRQ_ACT_GUEST:
			guest_cmd(m, a->cmd, a->arg0, a->arg1);
			break;
		default:
			break;
		}
	}
}

void virqd_vecmap_apply(const struct virqd_vecmap *m, struct virq_xcheck_vm *xv)
{
	bool tainted[VIRQ_XC_PATH__COUNT] = { false };

	for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
		if (m->other[v] == VIRQ_XC_PATH_NONE)
			continue;
		tainted[m->path[v]] = true;
		tainted[m->other[v]] = true;
	}
	for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
		uint8_t p = m->path[v];

		if (p == VIRQ_XC_PATH_NONE)
			continue;
		xv->vector_path[v] = tainted[p] ? VIRQ_XC_PATH_VM : p;
	}
	for (unsigned int w = 0; w < VIRQ_XC_NR_VECTORS / 64; w++)
		xv->level_vectors[w] |= m->level[w];
}

int virqd_vecmap_conflict(const struct virqd_vecmap *m, unsigned int i, uint8_t *p1, uint8_t *p2)
{
	for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
		if (m->other[v] == VIRQ_XC_PATH_NONE)
			continue;
		if (i--)
			continue;
		if (p1)
			*p1 = m->path[v];
		if (p2)
			*p2 = m->other[v];
		return (int)v;
	}
	return -1;
}
