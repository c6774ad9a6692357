/* SPDX-License-Identifier: MIT */
/*
 * virq: Intel 8254 programmable interval timer (Intel 8254 datasheet, order no. 231164)
 * and the PC's port 0x61 ("NMI status and control", the speaker gate) as Linux calibrates
 * the TSC with them. Used in `split` and `user` irqchip mode; `kernel` mode uses KVM's own
 * (KVM_CREATE_PIT2) instead.
 *
 * Ports: 0x40-0x42 counters 0-2, 0x43 control word (write only), 0x61 (virq_pit_register
 * claims both ranges). Counter 0's OUT drives ISA IRQ 0 through the line sink; counter 1's
 * gate is high and its OUT unconnected (DRAM refresh); counter 2's gate is port 0x61 bit 0
 * and its OUT is read back as port 0x61 bit 5.
 *
 * Time: the counters run at VIRQ_PIT_HZ (1.193182 MHz = 14.31818 MHz / 12). Nothing is
 * clocked: every call passes now_ns (the guest clock, monotonic) and the state is computed
 * from the time since the counter started. One simplification against the datasheet: a
 * count written takes effect at the write, not one CLK later (so mode 0's OUT rises N
 * CLKs after the write, not N + 1), as KVM's and QEMU's models do. In modes 2 and 3 a count
 * written while the counter runs takes effect at the end of the current period (the
 * datasheet: "the subsequent period"; for mode 3 it says the current half-cycle, we wait for
 * the whole cycle).
 *
 * IRQ 0: the line follows OUT0. OUT0's rising edges are what a PIC edge input counts; the
 * VMM asks virq_pit_next_event() when the next one is due, arms a timer for it and calls
 * virq_pit_advance() when it fires (or earlier: every port access advances too). If the
 * caller falls behind and several periods elapsed since the last advance, ONE edge is
 * delivered and the others are counted in stats.coalesced (as KVM counts its lost PIT ticks
 * before reinjecting); the guest sees fewer ticks, never a burst. Falling edges are not
 * events: they are delivered at the next advance.
 *
 * Threading: plain caller-allocated state; the caller serialises calls (one VM lock).
 */
#ifndef VIRQ_PIT_H
#define VIRQ_PIT_H

#include <stdbool.h>
#include <stdint.h>
#include "virq/hw.h"

#define VIRQ_PIT_HZ 1193182ull
#define VIRQ_PIT_PORT_BASE 0x40
#define VIRQ_PIT_PORT_CTRL 0x43
#define VIRQ_PIT_PORT_61 0x61
#define VIRQ_PIT_IRQ 0 /* ISA IRQ of counter 0's OUT */

/* Control word (datasheet "Control Word Format"). */
#define VIRQ_PIT_CW_SC_SHIFT 6 /* counter select; 3 = read-back command */
#define VIRQ_PIT_CW_RW_SHIFT 4 /* 0 latch command, 1 LSB, 2 MSB, 3 LSB then MSB */
#define VIRQ_PIT_CW_M_SHIFT 1 /* mode 0-5 (6, 7 are 2, 3) */
#define VIRQ_PIT_CW_BCD (1u << 0)
/* Read-back command (datasheet "Read-Back Command"): bits 0 = latch, active low. */
#define VIRQ_PIT_RB_NOCOUNT (1u << 5)
#define VIRQ_PIT_RB_NOSTATUS (1u << 4)
#define VIRQ_PIT_RB_CNT(n) (1u << (1 + (n)))
/* Status byte (datasheet "Status Byte"). */
#define VIRQ_PIT_ST_OUT (1u << 7)
#define VIRQ_PIT_ST_NULL (1u << 6)
/* Port 0x61 (PC/AT system control port B). */
#define VIRQ_PIT_61_GATE2 (1u << 0)
#define VIRQ_PIT_61_SPKR (1u << 1)
#define VIRQ_PIT_61_RW_MASK 0x0fu /* bits 0-3 read back as written */
#define VIRQ_PIT_61_REFRESH (1u << 4) /* toggles every 15.085 us */
#define VIRQ_PIT_61_OUT2 (1u << 5)
#define VIRQ_PIT_REFRESH_NS 15085ull

enum virq_pit_rw { VIRQ_PIT_RW_LATCH = 0, VIRQ_PIT_RW_LSB, VIRQ_PIT_RW_MSB, VIRQ_PIT_RW_WORD };

struct virq_pit_counter {
	uint8_t mode, rw, bcd;
	bool gate;
	bool started; /* a count was loaded (modes 0/2/3/4) or a trigger came (1/5) */
	bool armed; /* modes 1/5: a count is written, waiting for a gate trigger */
	bool write_msb; /* LSB-then-MSB write: the LSB was written */
	bool read_msb; /* LSB-then-MSB read of the live count: the LSB was read */
	bool count_latched, status_latched;
	bool latch_msb; /* the latched word's LSB was read */
	bool pending; /* modes 2/3: a new count waits for the period's end */
	bool null_flag; /* CR written (or control word) and not yet loaded into CE */
	uint16_t cr; /* count register as written (BCD digits when bcd) */
	uint16_t latch; /* output latch */
	uint8_t status;
	uint32_t n; /* the count counting now, in CLKs (0 written = 0x10000 or 10000) */
	uint32_t n_next; /* the pending count */
	uint64_t start_ns; /* when d (elapsed CLKs) was last 0 + offset */
	uint64_t offset; /* CLKs counted before a gate-low suspension (modes 0/4) */
	uint64_t pending_ns; /* when the pending count takes over */
	uint64_t load_ns; /* when cr was last written (null count for one CLK) */
};

struct virq_pit_stats {
	uint64_t irqs; /* OUT0 rising edges delivered */
	uint64_t coalesced; /* rising edges merged into one because advance came late */
};

struct virq_pit {
	struct virq_pit_counter c[3];
	uint8_t port61; /* bits 0-3 as written */
	bool irq_level; /* last level driven on IRQ 0 */
	uint64_t cursor_ns; /* time of the last advance */
	struct virq_hw_line line;
	struct virq_pit_stats stats;
};

/*
 * Power-on state at now_ns: every counter in mode 0, LSB-then-MSB, no count (OUT low; the
 * datasheet leaves OUT undefined before the first control word), gates of counters 0/1
 * high, counter 2's low (port 0x61 = 0). line may be NULL (no IRQ delivery).
 */
void virq_pit_init(struct virq_pit *pit, const struct virq_hw_line *line, uint64_t now_ns);

/* Port access: port is 0x40-0x43 or 0x61; others read 0xff and are ignored. One byte. */
uint8_t virq_pit_read(struct virq_pit *pit, uint16_t port, uint64_t now_ns);
void virq_pit_write(struct virq_pit *pit, uint16_t port, uint8_t val, uint64_t now_ns);

/* A counter's gate input (counter 2's is also set by port 0x61 writes). */
void virq_pit_set_gate(struct virq_pit *pit, unsigned int counter, bool gate, uint64_t now_ns);

/* OUT of counter (0-2) at now_ns, and the value a live read would return (binary CLKs
 * remaining, before BCD encoding). Pure: no state changes, no IRQ. */
bool virq_pit_out(const struct virq_pit *pit, unsigned int counter, uint64_t now_ns);
uint32_t virq_pit_count(const struct virq_pit *pit, unsigned int counter, uint64_t now_ns);

/* Delivers IRQ 0 level changes due up to now_ns (see the header comment). now_ns earlier
 * than the last advance is taken as the last advance (time never runs back). */
void virq_pit_advance(struct virq_pit *pit, uint64_t now_ns);

/* The guest time of OUT0's next rising edge after now_ns, or UINT64_MAX if none is due
 * (mode 0 done, gate low, not programmed). The VMM arms its timer for it. */
uint64_t virq_pit_next_event(const struct virq_pit *pit, uint64_t now_ns);

/* Registers 0x40-0x43 and 0x61 on bus. 0 or the bus's -errno (the first range is released
 * when the second fails). */
int virq_pit_register(struct virq_pit *pit, struct virq_hw_bus *bus);

#endif /* VIRQ_PIT_H */
