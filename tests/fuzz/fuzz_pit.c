// SPDX-License-Identifier: MIT
/*
 * Fuzz the 8254 PIT and port 0x61: random port writes and reads and time steps. After
 * each step: IRQ 0's level is OUT0's, the sink saw every level change, the next event is
 * in the future, the coalesced count never exceeds the edges seen, reads stay bytes.
 *
 * Input: 3-byte operations: op (low 2 bits: 0 write, 1 read, 2 time step, 3 gate of a
 * counter), then two argument bytes.
 */
#include <stdint.h>
#include <stdlib.h>

#include "virq/pit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int level;
static uint64_t changes;

static void fz_set(void *o, uint32_t line, int lvl)
{
	if (line != VIRQ_PIT_IRQ)
		abort();
	level = lvl;
	changes++;
}

static const struct virq_hw_line_ops fz_ops = { .set_line = fz_set };
static const uint16_t ports[] = { 0x40, 0x41, 0x42, 0x43, 0x61 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virq_pit pit;
	struct virq_hw_line line = { &fz_ops, NULL };
	uint64_t now = 0;

	level = 0;
	changes = 0;
	virq_pit_init(&pit, &line, 0);
	for (size_t i = 0; i + 2 < size; i += 3) {
		uint8_t op = data[i] & 3, a = data[i + 1], b = data[i + 2];
		uint64_t next;

		switch (op) {
		case 0:
			virq_pit_write(&pit, ports[a % 5], b, now);
			break;
		case 1:
			virq_pit_read(&pit, ports[a % 5], now);
			break;
		case 2: /* up to ~65 ms, scaled by the op byte's high bits */
			now += ((uint64_t)a << 8 | b) << (data[i] >> 6 << 2);
			if (data[i] & 4)
				virq_pit_advance(&pit, now);
			break;
		default:
			virq_pit_set_gate(&pit, a % 3, b & 1, now);
			break;
		}
		virq_pit_advance(&pit, now);
		if (level != (int)virq_pit_out(&pit, 0, now))
			abort();
		if (pit.stats.irqs > changes)
			abort();
		next = virq_pit_next_event(&pit, now);
		if (next <= now)
			abort();
		for (unsigned int c = 0; c < 3; c++)
			if (virq_pit_count(&pit, c, now) > 0x10000 + 16665)
				abort();
	}
	return 0;
}
