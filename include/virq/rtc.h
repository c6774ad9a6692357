/* SPDX-License-Identifier: MIT */
/*
 * virq: CMOS RAM and real-time clock, Motorola MC146818A (datasheet "MC146818A Real-Time
 * Clock Plus RAM"), at ports 0x70 (index; bit 7 disables NMI on a PC) and 0x71 (data).
 *
 * Time: nothing is clocked; every call passes now_ns (the guest clock). The divider chain
 * (register A DV = 010, 32.768 kHz time base) started at the last divider reset; the
 * update cycle runs once a second from 500 ms after that, and UIP reads 1 for the 244 us
 * before each update (datasheet "Update Cycle": t_BUC). Time registers advance at the
 * update; SET = 1 stops updates. DV = 11x holds the divider in reset; other DV values
 * (other time bases) stop the clock. DSE is stored but no daylight-saving switch is made.
 *
 * IRQ 8: IRQF = PF & PIE | AF & AIE | UF & UIE; the line is asserted when IRQF goes to 1
 * and de-asserted when register C is read (which clears C). Flags are set whether or not
 * enabled. The periodic flag's rate is register A's RS (datasheet "Periodic Interrupt
 * Rate"). If the caller falls behind, periods that pass while IRQF is already set are
 * counted in stats.coalesced. virq_rtc_next_event() gives when to call virq_rtc_advance().
 *
 * Threading: plain caller-allocated state; the caller serialises calls.
 */
#ifndef VIRQ_RTC_H
#define VIRQ_RTC_H

#include <stdbool.h>
#include <stdint.h>
#include "virq/hw.h"

#define VIRQ_RTC_PORT 0x70
#define VIRQ_RTC_IRQ 8

/* Registers (index). */
#define VIRQ_RTC_SEC 0x00
#define VIRQ_RTC_SEC_ALARM 0x01
#define VIRQ_RTC_MIN 0x02
#define VIRQ_RTC_MIN_ALARM 0x03
#define VIRQ_RTC_HOUR 0x04
#define VIRQ_RTC_HOUR_ALARM 0x05
#define VIRQ_RTC_DOW 0x06
#define VIRQ_RTC_MDAY 0x07
#define VIRQ_RTC_MON 0x08
#define VIRQ_RTC_YEAR 0x09
#define VIRQ_RTC_REG_A 0x0a
#define VIRQ_RTC_REG_B 0x0b
#define VIRQ_RTC_REG_C 0x0c
#define VIRQ_RTC_REG_D 0x0d
#define VIRQ_RTC_CENTURY 0x32 /* IBM PC convention (ACPI FADT CENTURY) */

#define VIRQ_RTC_A_UIP (1u << 7)
#define VIRQ_RTC_A_DV_SHIFT 4
#define VIRQ_RTC_A_DV_MASK (7u << 4)
#define VIRQ_RTC_A_DV_32K (2u << 4)
#define VIRQ_RTC_A_RS_MASK 0x0fu
#define VIRQ_RTC_B_SET (1u << 7)
#define VIRQ_RTC_B_PIE (1u << 6)
#define VIRQ_RTC_B_AIE (1u << 5)
#define VIRQ_RTC_B_UIE (1u << 4)
#define VIRQ_RTC_B_SQWE (1u << 3)
#define VIRQ_RTC_B_DM (1u << 2) /* 1 binary, 0 BCD */
#define VIRQ_RTC_B_24H (1u << 1)
#define VIRQ_RTC_B_DSE (1u << 0)
#define VIRQ_RTC_C_IRQF (1u << 7)
#define VIRQ_RTC_C_PF (1u << 6)
#define VIRQ_RTC_C_AF (1u << 5)
#define VIRQ_RTC_C_UF (1u << 4)
#define VIRQ_RTC_D_VRT (1u << 7)
#define VIRQ_RTC_ALARM_DONT_CARE 0xc0u /* alarm byte 0xc0-0xff matches any value */
#define VIRQ_RTC_HOUR_PM (1u << 7) /* 12-hour mode */
#define VIRQ_RTC_UIP_NS 244000ull

struct virq_rtc_stats {
	uint64_t irqs; /* IRQ 8 assertions */
	uint64_t periodic, alarms, updates; /* flags set */
	uint64_t coalesced; /* periodic flags set while IRQF was still pending */
};

struct virq_rtc {
	uint8_t cmos[128]; /* 0x0e-0x7f RAM; 0x00-0x0d held in the fields below */
	uint8_t index;
	bool nmi_disabled;
	uint8_t alarm[3]; /* sec, min, hour alarm bytes as written */
	uint8_t reg_a, reg_b, reg_c;
	/* Time of day, binary, hour 0-23 (out-of-range values written by a guest are kept
	 * and carried at the next update). */
	uint8_t sec, min, hour, dow, mday, mon, year, century;
	uint64_t div_ns; /* last divider reset (updates at div_ns + 0.5 s + k s) */
	uint64_t cursor_ns; /* last advance */
	bool irq_level;
	struct virq_hw_line line;
	struct virq_rtc_stats stats;
};

struct virq_rtc_config {
	int64_t epoch_s; /* wall time at now_ns (Unix seconds, UTC) */
	uint64_t ram_below_4g; /* bytes of RAM below 4 GiB (the PCI hole excluded) */
	uint64_t ram_above_4g; /* bytes of RAM from 4 GiB */
	unsigned int ncpus; /* CMOS 0x5f = ncpus - 1, as QEMU sets it for SeaBIOS */
};

/*
 * Power-on state as a BIOS leaves it: A = 0x26 (32.768 kHz, 1024 Hz periodic), B = 0x02
 * (24 h, BCD, no interrupts), time from cfg->epoch_s, and the memory-size bytes QEMU and
 * SeaBIOS use: 0x15/0x16 base KiB (640), 0x17/0x18 and 0x30/0x31 KiB above 1 MiB (capped
 * 0xffff), 0x34/0x35 64 KiB units above 16 MiB below 4 GiB (capped 0xffff), 0x5b-0x5d
 * 64 KiB units above 4 GiB. line may be NULL.
 */
void virq_rtc_init(struct virq_rtc *rtc, const struct virq_rtc_config *cfg,
		   const struct virq_hw_line *line, uint64_t now_ns);

/* port 0x70 (index, write only: reads 0xff) or 0x71 (data). */
uint8_t virq_rtc_read(struct virq_rtc *rtc, uint16_t port, uint64_t now_ns);
void virq_rtc_write(struct virq_rtc *rtc, uint16_t port, uint8_t val, uint64_t now_ns);

/* Runs updates and periodic ticks due up to now_ns; raises IRQ 8 as the flags say. */
void virq_rtc_advance(struct virq_rtc *rtc, uint64_t now_ns);
/* When an enabled interrupt (PIE, AIE or UIE) can next set its flag, or UINT64_MAX. */
uint64_t virq_rtc_next_event(const struct virq_rtc *rtc, uint64_t now_ns);
/* The periodic interrupt's period in ns for the current RS (0: none). */
uint64_t virq_rtc_period_ns(const struct virq_rtc *rtc);

int virq_rtc_register(struct virq_rtc *rtc, struct virq_hw_bus *bus);

#endif /* VIRQ_RTC_H */
