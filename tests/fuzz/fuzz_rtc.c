// SPDX-License-Identifier: MIT
/*
 * Fuzz the MC146818A RTC/CMOS: random index/data writes and reads and time steps. After
 * each step: IRQ 8's level is register C's IRQF, IRQF is the AND of flags and enables, the
 * next event is in the future, the index stays below 0x80.
 *
 * Input: 3-byte operations: op (low 2 bits: 0 write 0x70, 1 write 0x71, 2 read, 3 time
 * step), then two argument bytes.
 */
#include <stdint.h>
#include <stdlib.h>

#include "virq/rtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int level;

static void fz_set(void *o, uint32_t line, int lvl)
{
	if (line != VIRQ_RTC_IRQ)
		abort();
	level = lvl;
}

static const struct virq_hw_line_ops fz_ops = { .set_line = fz_set };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virq_rtc rtc;
	struct virq_rtc_config cfg = { .epoch_s = 1700000000,
				       .ram_below_4g = 256u << 20,
				       .ncpus = 2 };
	struct virq_hw_line line = { &fz_ops, NULL };
	uint64_t now = 0;

	if (size >= 4)
		cfg.epoch_s = (int64_t)(data[0] | data[1] << 8 | data[2] << 16) << 8;
	level = 0;
	virq_rtc_init(&rtc, &cfg, &line, 0);
	for (size_t i = 0; i + 2 < size; i += 3) {
		uint8_t op = data[i] & 3, a = data[i + 1], b = data[i + 2];
		bool f;

		switch (op) {
		case 0:
			virq_rtc_write(&rtc, 0x70, a, now);
			break;
		case 1:
			virq_rtc_write(&rtc, 0x71, a, now);
			break;
		case 2:
			virq_rtc_read(&rtc, a & 1 ? 0x71 : 0x70, now);
			break;
		default: /* up to ~4 s */
			now += ((uint64_t)a << 8 | b) << (4 + (data[i] >> 6) * 4);
			break;
		}
		virq_rtc_advance(&rtc, now);
		f = rtc.reg_c & rtc.reg_b & (VIRQ_RTC_C_PF | VIRQ_RTC_C_AF | VIRQ_RTC_C_UF);
		if (level != f || !!(rtc.reg_c & VIRQ_RTC_C_IRQF) != f)
			abort();
		if (virq_rtc_next_event(&rtc, now) <= now || rtc.index >= 0x80)
			abort();
	}
	return 0;
}
