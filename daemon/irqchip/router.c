// SPDX-License-Identifier: MIT
/* The GSI router (KVM's irq routing table and kvm_set_irq result convention). */
#include <errno.h>
#include <string.h>

#include "virq/msi.h"
#include "virq/router.h"

#define DEFAULT_IOAPIC_GSIS 24 /* KVM's default_routing[] covers GSI 0-23 */
#define PIC_GSIS 16

static void router_rebuild(struct virq_router *r)
{
	int16_t tail[VIRQ_ROUTER_MAX_GSI];

	memset(r->head, 0xff, sizeof(r->head));
	for (uint32_t i = 0; i < r->nr; i++) {
		uint32_t gsi = r->e[i].gsi;

		r->next[i] = -1;
		if (r->head[gsi] < 0)
			r->head[gsi] = (int16_t)i;
		else
			r->next[tail[gsi]] = (int16_t)i;
		tail[gsi] = (int16_t)i;
	}
}

void virq_router_init(struct virq_router *r, struct virq_pic *pic, struct virq_ioapic *ioapic,
		      const struct virq_sink *sink)
{
	memset(r, 0, sizeof(*r));
	r->pic = pic;
	r->ioapic = ioapic;
	if (sink)
		r->sink = *sink;
	memset(r->head, 0xff, sizeof(r->head));
}

void virq_router_clear(struct virq_router *r)
{
	r->nr = 0;
	memset(r->head, 0xff, sizeof(r->head));
}

static bool route_equal(const struct virq_route *a, const struct virq_route *b)
{
	if (a->gsi != b->gsi || a->type != b->type)
		return false;
	if (a->type == VIRQ_ROUTE_IRQCHIP)
		return a->u.irqchip.chip == b->u.irqchip.chip &&
		       a->u.irqchip.pin == b->u.irqchip.pin;
	return a->u.msi.addr_lo == b->u.msi.addr_lo && a->u.msi.addr_hi == b->u.msi.addr_hi &&
	       a->u.msi.data == b->u.msi.data && a->u.msi.flags == b->u.msi.flags;
}

int virq_router_add(struct virq_router *r, const struct virq_route *e)
{
	struct virq_irq irq;
	struct virq_route c;

	if (e->gsi >= VIRQ_ROUTER_MAX_GSI)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	c.gsi = e->gsi;
	c.type = e->type;
	if (e->type == VIRQ_ROUTE_IRQCHIP) {
		c.u.irqchip = e->u.irqchip;
		switch (e->u.irqchip.chip) {
		case VIRQ_CHIP_PIC_MASTER:
		case VIRQ_CHIP_PIC_SLAVE:
			if (e->u.irqchip.pin >= 8)
				return -EINVAL;
			break;
		case VIRQ_CHIP_IOAPIC:
			if (e->u.irqchip.pin >= VIRQ_IOAPIC_MAX_PINS ||
			    (r->ioapic && e->u.irqchip.pin >= r->ioapic->cfg.nr_pins))
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
	} else if (e->type == VIRQ_ROUTE_MSI) {
		c.u.msi = e->u.msi;
		if (virq_msi_decode(e->u.msi.addr_lo, e->u.msi.addr_hi, e->u.msi.data,
				    e->u.msi.flags, &irq) != VIRQ_MSI_OK)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	/* KVM setup_routing_entry(): one entry per irqchip per GSI, MSI stands alone. */
	for (int i = r->head[e->gsi]; i >= 0; i = r->next[i])
		if (r->e[i].type != VIRQ_ROUTE_IRQCHIP || c.type != VIRQ_ROUTE_IRQCHIP ||
		    r->e[i].u.irqchip.chip == c.u.irqchip.chip)
			return -EEXIST;
	if (r->nr >= VIRQ_ROUTER_MAX_ENTRIES)
		return -ENOSPC;
	r->e[r->nr] = c;
	if (c.type == VIRQ_ROUTE_MSI)
		r->msi[r->nr] = irq;
	r->nr++;
	router_rebuild(r);
	return 0;
}

int virq_router_remove(struct virq_router *r, const struct virq_route *e)
{
	for (uint32_t i = 0; i < r->nr; i++) {
		if (!route_equal(&r->e[i], e))
			continue;
		memmove(&r->e[i], &r->e[i + 1], (r->nr - i - 1) * sizeof(r->e[0]));
		memmove(&r->msi[i], &r->msi[i + 1], (r->nr - i - 1) * sizeof(r->msi[0]));
		r->nr--;
		router_rebuild(r);
		return 0;
	}
	return -ENOENT;
}

int virq_router_set_default(struct virq_router *r, unsigned int nr_ioapic_pins)
{
	struct virq_route e;
	int ret;

	if (nr_ioapic_pins > DEFAULT_IOAPIC_GSIS)
		return -EINVAL;
	if (r->ioapic && nr_ioapic_pins > r->ioapic->cfg.nr_pins)
		nr_ioapic_pins = r->ioapic->cfg.nr_pins;
	virq_router_clear(r);
	for (unsigned int gsi = 0; gsi < DEFAULT_IOAPIC_GSIS; gsi++) {
		memset(&e, 0, sizeof(e));
		e.gsi = gsi;
		e.type = VIRQ_ROUTE_IRQCHIP;
		if (gsi < nr_ioapic_pins) {
			e.u.irqchip.chip = VIRQ_CHIP_IOAPIC;
			e.u.irqchip.pin = gsi;
			ret = virq_router_add(r, &e);
			if (ret)
				return ret;
		}
		if (gsi < PIC_GSIS) {
			e.u.irqchip.chip = gsi < 8 ? VIRQ_CHIP_PIC_MASTER : VIRQ_CHIP_PIC_SLAVE;
			e.u.irqchip.pin = gsi % 8;
			ret = virq_router_add(r, &e);
			if (ret)
				return ret;
		}
	}
	return 0;
}

size_t virq_router_count(const struct virq_router *r)
{
	return r->nr;
}

int virq_router_get(const struct virq_router *r, size_t idx, struct virq_route *out)
{
	if (idx >= r->nr)
		return -ENOENT;
	*out = r->e[idx];
	return 0;
}

static int router_entry_set(struct virq_router *r, int i, int level)
{
	const struct virq_route *e = &r->e[i];

	if (e->type == VIRQ_ROUTE_MSI)
		return level ? virq_sink_deliver(&r->sink, &r->msi[i]) : -EINVAL;
	switch (e->u.irqchip.chip) {
	case VIRQ_CHIP_IOAPIC:
		return r->ioapic ? virq_ioapic_set_irq(r->ioapic, e->u.irqchip.pin, level) :
				   -ENODEV;
	case VIRQ_CHIP_PIC_SLAVE:
		return r->pic ? virq_pic_set_irq(r->pic, 8 + e->u.irqchip.pin, level) : -ENODEV;
	default:
		return r->pic ? virq_pic_set_irq(r->pic, e->u.irqchip.pin, level) : -ENODEV;
	}
}

int virq_router_set_irq(struct virq_router *r, uint32_t gsi, int level)
{
	int ret = 0, first_err = 0;
	bool any_ok = false;

	if (gsi >= VIRQ_ROUTER_MAX_GSI || r->head[gsi] < 0) {
		r->stats.unrouted++;
		return -ENOENT;
	}
	if (level)
		r->level[gsi / 64] |= 1ull << (gsi % 64);
	else
		r->level[gsi / 64] &= ~(1ull << (gsi % 64));
	r->stats.calls++;
	for (int i = r->head[gsi]; i >= 0; i = r->next[i]) {
		int res = router_entry_set(r, i, level);

		if (res < 0) {
			r->stats.ignored++;
			if (!first_err)
				first_err = res;
			continue;
		}
		if (res > 0)
			r->stats.delivered++;
		else
			r->stats.coalesced++;
		any_ok = true;
		ret += res;
	}
	return any_ok ? ret : first_err;
}

int virq_router_pulse(struct virq_router *r, uint32_t gsi)
{
	int ret = virq_router_set_irq(r, gsi, 1);

	if (ret != -ENOENT)
		virq_router_set_irq(r, gsi, 0);
	return ret;
}

bool virq_router_line(const struct virq_router *r, uint32_t gsi)
{
	return gsi < VIRQ_ROUTER_MAX_GSI && (r->level[gsi / 64] & (1ull << (gsi % 64)));
}
