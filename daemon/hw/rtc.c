// SPDX-License-Identifier: MIT
/*
 * MC146818A RTC + CMOS (Motorola datasheet: "Address Map", "Register A-D", "Update Cycle",
 * "Interrupts"). State is computed from guest time; see include/virq/rtc.h.
 */
#include <errno.h>
#include <string.h>

#include "virq/rtc.h"

#define NS_PER_S 1000000000ull
#define FIRST_UPDATE_NS 500000000ull /* datasheet: first update 500 ms after divider reset */
#define MAX_DAY_STEPS 200000u /* bound on a huge time jump (~550 years) */

static bool running(const struct virq_rtc *rtc)
{
	return (rtc->reg_a & VIRQ_RTC_A_DV_MASK) == VIRQ_RTC_A_DV_32K;
}

/* Periodic rate in 32.768 kHz cycles (datasheet "Periodic Interrupt Rate" table; RS 1 and
 * 2 give the rates of RS 8 and 9 with a 32.768 kHz time base). 0: none. */
static uint64_t period_cycles(const struct virq_rtc *rtc)
{
	unsigned int rs = rtc->reg_a & VIRQ_RTC_A_RS_MASK;

	if (!rs)
		return 0;
	if (rs < 3)
		rs += 7;
	return 1ull << (rs - 1);
}

uint64_t virq_rtc_period_ns(const struct virq_rtc *rtc)
{
	return period_cycles(rtc) * NS_PER_S / 32768;
}

/* Periodic ticks from the divider reset to t. */
static uint64_t ptick_count(const struct virq_rtc *rtc, uint64_t t, uint64_t cyc)
{
	if (t <= rtc->div_ns)
		return 0;
	return (uint64_t)((unsigned __int128)(t - rtc->div_ns) * 32768 / (cyc * NS_PER_S));
}

/* Update cycles from the divider reset to t. */
static uint64_t update_count(const struct virq_rtc *rtc, uint64_t t)
{
	if (t < rtc->div_ns + FIRST_UPDATE_NS)
		return 0;
	return (t - rtc->div_ns - FIRST_UPDATE_NS) / NS_PER_S + 1;
}

static uint8_t to_reg(const struct virq_rtc *rtc, unsigned int v)
{
	v &= 0xff;
	if (rtc->reg_b & VIRQ_RTC_B_DM)
		return (uint8_t)v;
	return (uint8_t)(((v / 10 % 16) << 4) | (v % 10)); /* out-of-range values stay distinct */
}

static uint8_t from_reg(const struct virq_rtc *rtc, uint8_t v)
{
	return (rtc->reg_b & VIRQ_RTC_B_DM) ? v : (uint8_t)((v >> 4) * 10 + (v & 15));
}

static uint8_t hour_reg(const struct virq_rtc *rtc)
{
	unsigned int h = rtc->hour;

	if (rtc->reg_b & VIRQ_RTC_B_24H)
		return to_reg(rtc, h);
	/* 12-hour mode: 1-12, bit 7 PM (datasheet "Time, Calendar and Alarm Data Modes") */
	return (uint8_t)(to_reg(rtc, h % 12 ? h % 12 : 12) |
			 (h >= 12 && h < 24 ? VIRQ_RTC_HOUR_PM : 0));
}

static uint8_t hour_from_reg(const struct virq_rtc *rtc, uint8_t v)
{
	unsigned int h;

	if (rtc->reg_b & VIRQ_RTC_B_24H)
		return from_reg(rtc, v);
	h = from_reg(rtc, v & 0x7f);
	if (h == 12)
		h = 0;
	return (uint8_t)(h + (v & VIRQ_RTC_HOUR_PM ? 12 : 0));
}

static unsigned int days_in_month(const struct virq_rtc *rtc)
{
	static const uint8_t dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned int y = rtc->century * 100u + rtc->year;

	if (rtc->mon < 1 || rtc->mon > 12)
		return 31;
	if (rtc->mon == 2 && y % 4 == 0 && (y % 100 || y % 400 == 0))
		return 29;
	return dim[rtc->mon - 1];
}

static void next_day(struct virq_rtc *rtc)
{
	rtc->dow = (uint8_t)(rtc->dow % 7 + 1);
	if (++rtc->mday <= days_in_month(rtc))
		return;
	rtc->mday = 1;
	if (++rtc->mon <= 12)
		return;
	rtc->mon = 1;
	if (++rtc->year <= 99)
		return;
	rtc->year = 0;
	rtc->century = (uint8_t)((rtc->century + 1) % 100);
}

/* One update cycle: one second more, then the alarm compare on the register values. */
static void update(struct virq_rtc *rtc)
{
	uint8_t cur[3];
	bool match = true;

	if (++rtc->sec >= 60) {
		rtc->sec = 0;
		if (++rtc->min >= 60) {
			rtc->min = 0;
			if (++rtc->hour >= 24) {
				rtc->hour = 0;
				next_day(rtc);
			}
		}
	}
	rtc->reg_c |= VIRQ_RTC_C_UF;
	rtc->stats.updates++;
	cur[0] = to_reg(rtc, rtc->sec);
	cur[1] = to_reg(rtc, rtc->min);
	cur[2] = hour_reg(rtc);
	for (int i = 0; i < 3; i++)
		if ((rtc->alarm[i] & VIRQ_RTC_ALARM_DONT_CARE) != VIRQ_RTC_ALARM_DONT_CARE &&
		    rtc->alarm[i] != cur[i])
			match = false;
	if (match) {
		rtc->reg_c |= VIRQ_RTC_C_AF;
		rtc->stats.alarms++;
	}
}

static bool irqf(const struct virq_rtc *rtc)
{
	return (rtc->reg_c & rtc->reg_b & (VIRQ_RTC_C_PF | VIRQ_RTC_C_AF | VIRQ_RTC_C_UF)) !=
	       0; /* C and B bits line up */
}

static void update_irq(struct virq_rtc *rtc)
{
	bool f = irqf(rtc);

	if (f)
		rtc->reg_c |= VIRQ_RTC_C_IRQF;
	else
		rtc->reg_c &= (uint8_t)~VIRQ_RTC_C_IRQF;
	if (f != rtc->irq_level) {
		if (f)
			rtc->stats.irqs++;
		rtc->irq_level = f;
		virq_hw_set_line(&rtc->line, VIRQ_RTC_IRQ, f);
	}
}

void virq_rtc_advance(struct virq_rtc *rtc, uint64_t now_ns)
{
	uint64_t cyc = period_cycles(rtc), n;

	if (now_ns <= rtc->cursor_ns)
		return;
	if (running(rtc)) {
		if (cyc) {
			n = ptick_count(rtc, now_ns, cyc) - ptick_count(rtc, rtc->cursor_ns, cyc);
			if (n) {
				rtc->stats.periodic += n;
				rtc->stats.coalesced += (rtc->reg_c & VIRQ_RTC_C_PF) ? n : n - 1;
				rtc->reg_c |= VIRQ_RTC_C_PF;
			}
		}
		n = update_count(rtc, now_ns) - update_count(rtc, rtc->cursor_ns);
		if (!(rtc->reg_b & VIRQ_RTC_B_SET)) {
			/* A jump of days: whole days first (no alarm can be missed by a day's
			 * worth of per-second updates done last), then second by second. */
			for (unsigned int i = 0; n > 2 * 86400 && i < MAX_DAY_STEPS; i++) {
				next_day(rtc);
				n -= 86400;
			}
			if (n > 2 * 86400)
				n = 2 * 86400;
			while (n--)
				update(rtc);
		}
	}
	rtc->cursor_ns = now_ns;
	update_irq(rtc);
}

uint64_t virq_rtc_next_event(const struct virq_rtc *rtc, uint64_t now_ns)
{
	uint64_t best = UINT64_MAX, cyc = period_cycles(rtc);

	if (!running(rtc))
		return UINT64_MAX;
	if ((rtc->reg_b & VIRQ_RTC_B_PIE) && cyc) {
		uint64_t k = ptick_count(rtc, now_ns, cyc) + 1;
		unsigned __int128 t =
			rtc->div_ns + ((unsigned __int128)k * cyc * NS_PER_S + 32767) / 32768;

		if (t < best)
			best = (uint64_t)t;
	}
	if ((rtc->reg_b & (VIRQ_RTC_B_UIE | VIRQ_RTC_B_AIE)) && !(rtc->reg_b & VIRQ_RTC_B_SET)) {
		uint64_t t = rtc->div_ns + FIRST_UPDATE_NS + update_count(rtc, now_ns) * NS_PER_S;

		if (t < best)
			best = t;
	}
	return best;
}

static void set_time(struct virq_rtc *rtc, int64_t epoch)
{
	int64_t days = epoch >= 0 ? epoch / 86400 : (epoch - 86399) / 86400;
	int64_t sod = epoch - days * 86400;
	/* days since 1970-01-01 to a civil date (Gregorian, proleptic) */
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = yoe + era * 400 + (m <= 2);

	if (y < 0)
		y = 0;
	rtc->sec = (uint8_t)(sod % 60);
	rtc->min = (uint8_t)(sod / 60 % 60);
	rtc->hour = (uint8_t)(sod / 3600);
	rtc->mday = (uint8_t)d;
	rtc->mon = (uint8_t)m;
	rtc->year = (uint8_t)(y % 100);
	rtc->century = (uint8_t)(y / 100 % 100);
	rtc->dow = (uint8_t)(((days % 7) + 7 + 4) % 7 + 1); /* 1 = Sunday; 1970-01-01: Thursday */
}

static void put16(uint8_t *p, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void virq_rtc_init(struct virq_rtc *rtc, const struct virq_rtc_config *cfg,
		   const struct virq_hw_line *line, uint64_t now_ns)
{
	uint64_t lo = cfg->ram_below_4g, hi = cfg->ram_above_4g;

	memset(rtc, 0, sizeof(*rtc));
	if (line)
		rtc->line = *line;
	rtc->reg_a = VIRQ_RTC_A_DV_32K | 6;
	rtc->reg_b = VIRQ_RTC_B_24H;
	rtc->div_ns = rtc->cursor_ns = now_ns;
	set_time(rtc, cfg->epoch_s);
	put16(&rtc->cmos[0x15], 640);
	put16(&rtc->cmos[0x17], lo > (1u << 20) ? (lo - (1u << 20)) / 1024 : 0);
	put16(&rtc->cmos[0x30], lo > (1u << 20) ? (lo - (1u << 20)) / 1024 : 0);
	put16(&rtc->cmos[0x34], lo > (16u << 20) ? (lo - (16u << 20)) / 65536 : 0);
	rtc->cmos[0x5b] = (uint8_t)(hi >> 16);
	rtc->cmos[0x5c] = (uint8_t)(hi >> 24);
	rtc->cmos[0x5d] = (uint8_t)(hi >> 32);
	rtc->cmos[0x5f] = (uint8_t)(cfg->ncpus ? cfg->ncpus - 1 : 0);
}

static uint8_t reg_a_read(const struct virq_rtc *rtc, uint64_t t)
{
	uint8_t a = rtc->reg_a & (uint8_t)~VIRQ_RTC_A_UIP;

	if (running(rtc) && !(rtc->reg_b & VIRQ_RTC_B_SET)) {
		uint64_t next = rtc->div_ns + FIRST_UPDATE_NS + update_count(rtc, t) * NS_PER_S;

		if (next - t <= VIRQ_RTC_UIP_NS)
			a |= VIRQ_RTC_A_UIP;
	}
	return a;
}

static uint8_t data_read(struct virq_rtc *rtc, uint64_t t)
{
	uint8_t v;

	switch (rtc->index) {
	case VIRQ_RTC_SEC:
		return to_reg(rtc, rtc->sec);
	case VIRQ_RTC_MIN:
		return to_reg(rtc, rtc->min);
	case VIRQ_RTC_HOUR:
		return hour_reg(rtc);
	case VIRQ_RTC_SEC_ALARM:
	case VIRQ_RTC_MIN_ALARM:
	case VIRQ_RTC_HOUR_ALARM:
		return rtc->alarm[rtc->index / 2];
	case VIRQ_RTC_DOW:
		return to_reg(rtc, rtc->dow);
	case VIRQ_RTC_MDAY:
		return to_reg(rtc, rtc->mday);
	case VIRQ_RTC_MON:
		return to_reg(rtc, rtc->mon);
	case VIRQ_RTC_YEAR:
		return to_reg(rtc, rtc->year);
	case VIRQ_RTC_CENTURY:
		return to_reg(rtc, rtc->century);
	case VIRQ_RTC_REG_A:
		return reg_a_read(rtc, t);
	case VIRQ_RTC_REG_B:
		return rtc->reg_b;
	case VIRQ_RTC_REG_C: /* reading C clears every flag and releases IRQ 8 */
		v = rtc->reg_c;
		rtc->reg_c = 0;
		update_irq(rtc);
		return v;
	case VIRQ_RTC_REG_D:
		return VIRQ_RTC_D_VRT; /* valid RAM and time: the battery is good */
	default:
		return rtc->cmos[rtc->index];
	}
}

static void data_write(struct virq_rtc *rtc, uint8_t v, uint64_t t)
{
	bool was;

	switch (rtc->index) {
	case VIRQ_RTC_SEC:
		rtc->sec = from_reg(rtc, v);
		break;
	case VIRQ_RTC_MIN:
		rtc->min = from_reg(rtc, v);
		break;
	case VIRQ_RTC_HOUR:
		rtc->hour = hour_from_reg(rtc, v);
		break;
	case VIRQ_RTC_SEC_ALARM:
	case VIRQ_RTC_MIN_ALARM:
	case VIRQ_RTC_HOUR_ALARM:
		rtc->alarm[rtc->index / 2] = v;
		break;
	case VIRQ_RTC_DOW:
		rtc->dow = from_reg(rtc, v);
		break;
	case VIRQ_RTC_MDAY:
		rtc->mday = from_reg(rtc, v);
		break;
	case VIRQ_RTC_MON:
		rtc->mon = from_reg(rtc, v);
		break;
	case VIRQ_RTC_YEAR:
		rtc->year = from_reg(rtc, v);
		break;
	case VIRQ_RTC_CENTURY:
		rtc->century = from_reg(rtc, v);
		break;
	case VIRQ_RTC_REG_A: /* UIP is read-only; leaving divider reset restarts the chain */
		was = running(rtc);
		rtc->reg_a = v & (uint8_t)~VIRQ_RTC_A_UIP;
		if (!was && running(rtc))
			rtc->div_ns = t;
		break;
	case VIRQ_RTC_REG_B:
		/* SET = 1 clears UIE (datasheet "Register B", bit 4) */
		if (v & VIRQ_RTC_B_SET)
			v &= (uint8_t)~VIRQ_RTC_B_UIE;
		rtc->reg_b = v;
		update_irq(rtc);
		break;
	case VIRQ_RTC_REG_C:
	case VIRQ_RTC_REG_D:
		break; /* read-only */
	default:
		rtc->cmos[rtc->index] = v;
		break;
	}
}

uint8_t virq_rtc_read(struct virq_rtc *rtc, uint16_t port, uint64_t now_ns)
{
	virq_rtc_advance(rtc, now_ns);
	if (port == VIRQ_RTC_PORT + 1)
		return data_read(rtc, rtc->cursor_ns);
	return 0xff;
}

void virq_rtc_write(struct virq_rtc *rtc, uint16_t port, uint8_t val, uint64_t now_ns)
{
	virq_rtc_advance(rtc, now_ns);
	if (port == VIRQ_RTC_PORT) {
		rtc->index = val & 0x7f;
		rtc->nmi_disabled = val & 0x80;
	} else if (port == VIRQ_RTC_PORT + 1) {
		data_write(rtc, val, rtc->cursor_ns);
	}
}

static uint64_t rtc_bus_read(void *o, uint64_t off, unsigned int size, uint64_t now_ns)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < size; i++)
		v |= (uint64_t)virq_rtc_read(o, (uint16_t)(VIRQ_RTC_PORT + off + i), now_ns)
		     << (8 * i);
	return v;
}

static void rtc_bus_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	for (unsigned int i = 0; i < size; i++)
		virq_rtc_write(o, (uint16_t)(VIRQ_RTC_PORT + off + i), (uint8_t)(val >> (8 * i)),
			       now_ns);
}

static const struct virq_hw_ops rtc_ops = { .read = rtc_bus_read, .write = rtc_bus_write };

int virq_rtc_register(struct virq_rtc *rtc, struct virq_hw_bus *bus)
{
	return virq_hw_register_pio(bus, VIRQ_RTC_PORT, 2, &rtc_ops, rtc, "rtc");
}
