// SPDX-License-Identifier: MIT
/*
 * irqchip1_ops OP N: runs N iterations of one irqchip operation, for callgrind
 * (bench/bench_irqchip1.sh subtracts an N run from a 2N run to remove setup cost).
 *   gsi-assert-deassert  router -> IOAPIC (edge, unmasked) -> sink, assert + de-assert
 *   msi-decode           virq_msi_decode + sink deliver
 *   pic-inta             PIC set_irq, INTA, EOI
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virq/msi.h"
#include "virq/router.h"

static volatile uint64_t sunk;

static int bench_deliver(void *o, const struct virq_irq *irq)
{
	sunk += irq->vector;
	return 1;
}

static void bench_pic_int(void *o, bool level)
{
	sunk += level;
}

static const struct virq_sink_ops bench_ops = { .deliver = bench_deliver,
						.pic_int = bench_pic_int };

int main(int argc, char **argv)
{
	static struct virq_pic pic;
	static struct virq_ioapic io;
	static struct virq_router r;
	struct virq_sink sink = { &bench_ops, NULL };
	struct virq_irq irq;
	long n;

	if (argc != 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: %s gsi-assert-deassert|msi-decode|pic-inta N\n", argv[0]);
		return 2;
	}
	virq_pic_init(&pic, &sink);
	if (virq_ioapic_init(&io, NULL, &sink))
		return 1;
	virq_router_init(&r, &pic, &io, &sink);
	if (virq_router_set_default(&r, 24))
		return 1;
	if (!strcmp(argv[1], "gsi-assert-deassert")) {
		virq_ioapic_mmio_write(&io, VIRQ_IOAPIC_IOREGSEL, 0x10 + 2 * 20);
		virq_ioapic_mmio_write(&io, VIRQ_IOAPIC_IOWIN, 0x45);
		for (long i = 0; i < n; i++) {
			virq_router_set_irq(&r, 20, 1);
			virq_router_set_irq(&r, 20, 0);
		}
	} else if (!strcmp(argv[1], "msi-decode")) {
		for (long i = 0; i < n; i++) {
			uint32_t data = 0x4030 + (uint32_t)(i & 0x3f);

			if (virq_msi_decode(0xfee01000, 0, data, 0, &irq) == VIRQ_MSI_OK)
				virq_sink_deliver(&sink, &irq);
		}
	} else if (!strcmp(argv[1], "pic-inta")) {
		static const uint8_t init[][2] = { { 0x20, 0x11 }, { 0x21, 0x20 }, { 0x21, 0x04 },
						   { 0x21, 0x01 }, { 0xa0, 0x11 }, { 0xa1, 0x28 },
						   { 0xa1, 0x02 }, { 0xa1, 0x01 } };

		for (size_t k = 0; k < sizeof(init) / sizeof(init[0]); k++)
			virq_pic_ioport_write(&pic, init[k][0], init[k][1]);
		for (long i = 0; i < n; i++) {
			virq_pic_set_irq(&pic, 4, 1);
			sunk += (uint64_t)virq_pic_inta(&pic);
			virq_pic_ioport_write(&pic, 0x20, 0x20);
			virq_pic_set_irq(&pic, 4, 0);
		}
	} else {
		fprintf(stderr, "unknown operation %s\n", argv[1]);
		return 2;
	}
	printf("%s %ld %llu\n", argv[1], n, (unsigned long long)sunk);
	return 0;
}
