// SPDX-License-Identifier: MIT
/*
 * Fuzz the GSI router over a real PIC and IOAPIC: random adds, removes, line changes and
 * chip programming. After each step: the table obeys KVM's per-GSI rule (one entry per
 * chip, MSI alone), every entry is reachable through its GSI chain, results add up.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virq/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_deliver(void *o, const struct virq_irq *irq)
{
	return irq->vector & 1;
}

static const struct virq_sink_ops fz_ops = { .deliver = fz_deliver };

static void check(const struct virq_router *r, uint64_t results)
{
	unsigned int seen = 0;

	if (r->nr > VIRQ_ROUTER_MAX_ENTRIES)
		abort();
	for (uint32_t gsi = 0; gsi < 64; gsi++) {
		unsigned int chips = 0, msi = 0, n = 0;

		for (int i = r->head[gsi]; i >= 0; i = r->next[i]) {
			if (r->e[i].gsi != gsi || ++n > 3)
				abort();
			if (r->e[i].type == VIRQ_ROUTE_MSI)
				msi++;
			else if (chips & (1u << r->e[i].u.irqchip.chip))
				abort();
			else
				chips |= 1u << r->e[i].u.irqchip.chip;
		}
		if (msi && n != 1)
			abort();
		seen += n;
	}
	if (seen != r->nr)
		abort();
	if (r->stats.delivered + r->stats.coalesced + r->stats.ignored != results)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virq_pic pic;
	static struct virq_ioapic io;
	static struct virq_router r;
	struct virq_sink sink = { &fz_ops, NULL };
	uint64_t results = 0;

	virq_pic_init(&pic, &sink);
	virq_ioapic_init(&io, NULL, &sink);
	virq_router_init(&r, &pic, &io, &sink);
	if (size && (data[0] & 1) && virq_router_set_default(&r, 24))
		abort();
	for (size_t i = 1; i + 7 < size; i += 8) {
		uint8_t op = data[i] % 6, gsi = data[i + 1] % 64;
		struct virq_route e;
		uint32_t v;

		memcpy(&v, data + i + 2, 4);
		memset(&e, 0, sizeof(e));
		e.gsi = gsi;
		if (data[i + 6] & 1) {
			e.type = VIRQ_ROUTE_MSI;
			e.u.msi.addr_lo = 0xfee00000u | (v & 0xfffff);
			e.u.msi.data = data[i + 7] | (uint32_t)(data[i + 6] & 0xce) << 8;
		} else {
			e.type = VIRQ_ROUTE_IRQCHIP;
			e.u.irqchip.chip = (data[i + 6] >> 1) % 4;
			e.u.irqchip.pin = data[i + 7] % 32;
		}
		switch (op) {
		case 0:
			virq_router_add(&r, &e);
			break;
		case 1:
			virq_router_remove(&r, &e);
			break;
		case 2:
		case 3: {
			unsigned int n = 0;

			for (int k = r.head[gsi]; k >= 0; k = r.next[k])
				n++;
			virq_router_set_irq(&r, gsi, op == 2);
			results += n;
			break;
		}
		case 4:
			virq_pic_ioport_write(&pic, (v & 1) ? 0x21 : 0xa1, (uint8_t)(v >> 8));
			virq_pic_inta(&pic);
			break;
		default:
			virq_ioapic_mmio_write(&io, VIRQ_IOAPIC_IOREGSEL, 0x10 + (v & 0x3f));
			virq_ioapic_mmio_write(&io, VIRQ_IOAPIC_IOWIN, v >> 8);
			break;
		}
		check(&r, results);
	}
	return 0;
}
