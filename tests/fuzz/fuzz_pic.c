// SPDX-License-Identifier: MIT
/*
 * Fuzz the 8259A pair: random line changes, port writes/reads and INTA cycles. After each
 * step: level IRR follows the line, delivered == eoi + abandoned + ISR bit, the sink saw
 * the INT output, INTA vectors come from a programmed base, save->restore->save is exact.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virq/pic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool sink_level;

static void fz_pic_int(void *o, bool level)
{
	sink_level = level;
}

static const struct virq_sink_ops fz_ops = { .pic_int = fz_pic_int };
static const uint16_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x22 };

static void check(const struct virq_pic *pic)
{
	struct virq_pic_state a, b;
	static struct virq_pic copy;

	if (sink_level != virq_pic_int_output(pic))
		abort();
	for (unsigned int pin = 0; pin < VIRQ_PIC_PINS; pin++) {
		const struct virq_pic_chip *c = &pic->chip[pin / 8];
		const struct virq_pic_pin_stats *st = virq_pic_pin_stats(pic, pin);
		uint8_t bit = 1u << (pin % 8);
		uint8_t lvl = (c->icw1 & VIRQ_PIC_ICW1_LTIM) ? 0xff : c->elcr;

		if (st->delivered != st->eoi + st->abandoned + st->nested + !!(c->isr & bit))
			abort();
		if (pin != 2 && (lvl & bit) && !!(c->irr & bit) != !!(c->line & bit))
			abort();
		if (st->spurious && pin != 7 && pin != 15)
			abort();
	}
	virq_pic_save(pic, &a);
	copy = *pic;
	if (virq_pic_restore(&copy, &a))
		abort();
	virq_pic_save(&copy, &b);
	if (memcmp(&a, &b, sizeof(a)) || copy.int_output != pic->int_output)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virq_pic pic;
	struct virq_sink sink = { &fz_ops, NULL };

	sink_level = false;
	virq_pic_init(&pic, &sink);
	for (size_t i = 0; i + 2 < size; i += 3) {
		uint8_t op = data[i] % 5, a = data[i + 1], b = data[i + 2];
		int vec;

		switch (op) {
		case 0:
			if (virq_pic_set_irq(&pic, a & 15, b & 1) < -EBUSY)
				abort();
			break;
		case 1:
			virq_pic_ioport_write(&pic, ports[a % 7], b);
			break;
		case 2:
			virq_pic_ioport_read(&pic, ports[a % 7]);
			break;
		case 3:
			vec = virq_pic_inta(&pic);
			if (vec < 0 || vec > 255 ||
			    ((vec & 0xf8) != pic.chip[0].base && (vec & 0xf8) != pic.chip[1].base))
				abort();
			break;
		default:
			if (virq_pic_set_irq(&pic, 16 + a, 1) != -EINVAL)
				abort();
			break;
		}
		check(&pic);
	}
	return 0;
}
