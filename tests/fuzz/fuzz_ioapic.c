// SPDX-License-Identifier: MIT
/*
 * Fuzz the IOAPIC: random MMIO, line changes, EOIs and ticks. After each step: remote IRR
 * only on level entries, deferrals only on asserted level pins, sink results add up to
 * `sent`, no message with a pin's vector other than its RTE's, save->restore->save exact.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virq/ioapic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t sink_calls;
static int sink_ret;

static int fz_deliver(void *o, const struct virq_irq *irq)
{
	if (irq->path != VIRQ_PATH_IOAPIC || irq->delivery_mode > 7 || irq->level != 1)
		abort();
	sink_calls++;
	return sink_ret;
}

static const struct virq_sink_ops fz_ops = { .deliver = fz_deliver };

static void check(const struct virq_ioapic *io)
{
	static struct virq_ioapic_state a, b;
	static struct virq_ioapic copy;
	uint64_t sent = 0;

	for (unsigned int pin = 0; pin < VIRQ_IOAPIC_MAX_PINS; pin++) {
		uint64_t rte = io->rte[pin];
		bool def = io->deferred[pin / 64] & (1ull << (pin % 64));
		bool line = io->line[pin / 64] & (1ull << (pin % 64));

		if (pin >= io->cfg.nr_pins) {
			if (rte || def || line)
				abort();
			continue;
		}
		const struct virq_ioapic_pin_stats *st = virq_ioapic_pin_stats(io, pin);

		if ((rte & VIRQ_RTE_REMOTE_IRR) && !(rte & VIRQ_RTE_TRIGGER_LEVEL))
			abort();
		if (rte & VIRQ_RTE_DELIVERY_STATUS)
			abort(); /* computed on read, never stored */
		if (def && !(line && (rte & VIRQ_RTE_TRIGGER_LEVEL)))
			abort();
		if (st->delivered + st->coalesced + st->ignored != st->sent ||
		    st->redelivered > st->sent)
			abort();
		sent += st->sent;
	}
	if (sent != sink_calls)
		abort();
	virq_ioapic_save(io, &a);
	copy = *io;
	if (virq_ioapic_restore(&copy, &a))
		abort();
	virq_ioapic_save(&copy, &b);
	if (memcmp(&a, &b, sizeof(a)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virq_ioapic io;
	struct virq_sink sink = { &fz_ops, NULL };
	struct virq_ioapic_config cfg;
	uint64_t now = 0;

	if (size < 2)
		return 0;
	virq_ioapic_config_default(&cfg);
	cfg.nr_pins = 1 + data[0] % VIRQ_IOAPIC_MAX_PINS;
	cfg.version = (data[1] & 1) ? VIRQ_IOAPIC_VERSION_EOI : VIRQ_IOAPIC_VERSION_82093AA;
	cfg.flags = (data[1] & 2) ? VIRQ_IOAPIC_EXT_DEST_ID : 0;
	cfg.storm_threshold = (data[1] >> 2) & 7;
	cfg.storm_delay_ns = 50;
	if (virq_ioapic_init(&io, &cfg, &sink))
		abort();
	sink_calls = 0;
	for (size_t i = 2; i + 5 < size; i += 6) {
		uint8_t op = data[i] % 6, a = data[i + 1];
		uint32_t v;

		memcpy(&v, data + i + 2, 4);
		sink_ret = (int)(a >> 6) - 1;
		switch (op) {
		case 0:
			virq_ioapic_set_irq(&io, a % (VIRQ_IOAPIC_MAX_PINS + 8), v & 1);
			break;
		case 1:
			virq_ioapic_mmio_write(&io, VIRQ_IOAPIC_IOREGSEL, v);
			break;
		case 2:
			virq_ioapic_mmio_write(&io, (a & 1) ? VIRQ_IOAPIC_EOI : VIRQ_IOAPIC_IOWIN,
					       v);
			break;
		case 3:
			virq_ioapic_mmio_read(&io,
					      (a & 1) ? VIRQ_IOAPIC_IOREGSEL : VIRQ_IOAPIC_IOWIN);
			break;
		case 4:
			virq_ioapic_eoi(&io, (uint8_t)v);
			break;
		default:
			now += v & 0xff;
			if (virq_ioapic_tick(&io, now) < 0)
				abort();
			break;
		}
		check(&io);
	}
	return 0;
}
