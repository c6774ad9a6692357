/* SPDX-License-Identifier: MIT */
/*
 * virq: the 8259A PIC pair of a PC (master at 0x20/0x21, slave at 0xA0/0xA1 cascaded on
 * master IR2, PIIX/ICH ELCR at 0x4D0/0x4D1). Reference: Intel 8259A datasheet (order
 * 231468), "Programmable Interrupt Controller"; ELCR: Intel 82371AB PIIX4 datasheet 4.1.11.
 *
 * Pins are numbered 0-15 (8-15 = slave IR0-IR7). The pair's INT output is reported through
 * sink->pic_int on every change (wired to LINT0 in ExtINT mode); the CPU side then runs
 * the acknowledge cycle with virq_pic_inta().
 *
 * Threading: a plain state struct, caller-allocated. The caller serialises every call on
 * one instance (one lock or one thread). Nothing blocks or allocates; the sink is called
 * synchronously from inside set_irq/ioport_write/inta/restore and must not re-enter this
 * PIC.
 */
#ifndef VIRQ_PIC_H
#define VIRQ_PIC_H

#include <stdbool.h>
#include <stdint.h>
#include "virq/irq.h"

#define VIRQ_PIC_PINS 16

/* I/O ports. */
#define VIRQ_PIC_MASTER_CMD 0x20
#define VIRQ_PIC_MASTER_DATA 0x21
#define VIRQ_PIC_SLAVE_CMD 0xa0
#define VIRQ_PIC_SLAVE_DATA 0xa1
#define VIRQ_PIC_ELCR_MASTER 0x4d0
#define VIRQ_PIC_ELCR_SLAVE 0x4d1

/* Command-port byte layouts (8259A datasheet, "Initialization/Operation Command Words"). */
#define VIRQ_PIC_ICW1 (1u << 4) /* even port, D4=1: ICW1 */
#define VIRQ_PIC_ICW1_IC4 (1u << 0) /* ICW4 needed */
#define VIRQ_PIC_ICW1_SNGL (1u << 1) /* single, no ICW3 */
#define VIRQ_PIC_ICW1_LTIM (1u << 3) /* level-triggered mode for all inputs */
#define VIRQ_PIC_ICW2_BASE_MASK 0xf8u /* T7-T3, x86 mode */
#define VIRQ_PIC_ICW4_UPM (1u << 0) /* 8086 mode */
#define VIRQ_PIC_ICW4_AEOI (1u << 1)
#define VIRQ_PIC_ICW4_SFNM (1u << 4) /* special fully nested mode */
#define VIRQ_PIC_OCW3 (1u << 3) /* even port, D4=0 D3=1: OCW3; D3=0: OCW2 */
#define VIRQ_PIC_OCW2_L_MASK 0x07u
#define VIRQ_PIC_OCW2_CMD_SHIFT 5 /* R SL EOI */
#define VIRQ_PIC_OCW2_ROT_AEOI_CLEAR 0x0 /* 000 */
#define VIRQ_PIC_OCW2_NS_EOI 0x1 /* 001 */
#define VIRQ_PIC_OCW2_NOP 0x2 /* 010 */
#define VIRQ_PIC_OCW2_S_EOI 0x3 /* 011 */
#define VIRQ_PIC_OCW2_ROT_AEOI_SET 0x4 /* 100 */
#define VIRQ_PIC_OCW2_ROT_NS_EOI 0x5 /* 101 */
#define VIRQ_PIC_OCW2_SET_PRIO 0x6 /* 110 */
#define VIRQ_PIC_OCW2_ROT_S_EOI 0x7 /* 111 */
#define VIRQ_PIC_OCW3_RIS (1u << 0) /* with RR: 1 read ISR, 0 read IRR */
#define VIRQ_PIC_OCW3_RR (1u << 1)
#define VIRQ_PIC_OCW3_P (1u << 2) /* poll */
#define VIRQ_PIC_OCW3_SMM (1u << 5) /* with ESMM: 1 set, 0 reset special mask */
#define VIRQ_PIC_OCW3_ESMM (1u << 6)
#define VIRQ_PIC_POLL_INT (1u << 7) /* poll byte: I bit, W2-W0 = level */
/* ELCR bits that are hard-wired to edge (read as 0): IRQ0, 1, 2 and IRQ8, 13. */
#define VIRQ_PIC_ELCR_MASK_MASTER 0xf8u
#define VIRQ_PIC_ELCR_MASK_SLAVE 0xdeu

/* One 8259A. Field meanings follow the datasheet; all bit masks are per IR0-IR7. */
struct virq_pic_chip {
	uint8_t irr, isr, imr;
	uint8_t line; /* current input levels (edge detector memory) */
	uint8_t elcr, elcr_mask;
	uint8_t base; /* ICW2 T7-T3 */
	uint8_t lowest; /* IR with the lowest priority (rotation; 7 after ICW1) */
	uint8_t icw3;
	uint8_t init_state; /* 0 ready, 1 want ICW2, 2 want ICW3, 3 want ICW4 */
	uint8_t icw1, icw4;
	uint8_t read_isr; /* OCW3 RR/RIS: 0 read IRR, 1 read ISR */
	uint8_t poll; /* OCW3 P: next even-port read is a poll */
	uint8_t special_mask; /* OCW3 SMM */
	uint8_t rotate_aeoi; /* OCW2 rotate in AEOI mode */
};

/* Per-pin statistics. Invariant: delivered == eoi + abandoned + nested + (ISR bit set). */
struct virq_pic_pin_stats {
	uint64_t asserted; /* low->high input transitions */
	uint64_t delivered; /* acknowledged by INTA or poll (IRR -> ISR / auto-EOI) */
	uint64_t coalesced; /* rising edge while the request was already in IRR */
	uint64_t masked; /* rising edge while the IMR bit was set (still latched) */
	uint64_t spurious; /* INTA/poll with no request: reported as IR7 (pins 7 and 15) */
	uint64_t eoi; /* ISR bits cleared by EOI commands or auto-EOI */
	uint64_t dropped; /* IRR requests lost: level line fell, ICW1, edge->level switch */
	uint64_t abandoned; /* ISR bits discarded by ICW1 re-initialisation */
	uint64_t nested; /* acknowledged while already in service (master IR2 in SFNM) */
};

struct virq_pic {
	struct virq_pic_chip chip[2]; /* 0 master, 1 slave */
	bool int_output;
	struct virq_sink sink;
	struct virq_pic_pin_stats stats[VIRQ_PIC_PINS];
	uint64_t int_changes; /* INT output transitions reported to the sink */
};

/*
 * Snapshot of the whole architectural state (not the statistics, not the sink).
 * A plain struct; version VIRQ_PIC_STATE_VERSION.
 */
#define VIRQ_PIC_STATE_VERSION 1
struct virq_pic_state {
	uint32_t version;
	uint8_t int_output; /* informational: restore recomputes it */
	uint8_t pad[3]; /* must be zero */
	struct virq_pic_chip chip[2];
};

/*
 * Power-on state: both chips uninitialised as KVM resets them (vector base 0, IMR 0,
 * ELCR 0, master ICW3 0x04 / slave 0x02 so the cascade works), INT low. The sink is
 * copied; its opaque pointer must outlive the PIC. Cannot fail.
 */
void virq_pic_init(struct virq_pic *pic, const struct virq_sink *sink);

/*
 * Drives input pin (0-15) to level (0/1). Edge pins latch IRR on a low->high transition
 * (8259A datasheet: "edge sensitive"), level pins' IRR follows the line (ELCR or ICW1
 * LTIM). An edge request stays latched if the line falls before INTA (as KVM and QEMU
 * model it, so that a pulse is never lost). Result, mirroring KVM's pic_set_irq1():
 * -EINVAL bad pin; -EBUSY the pin is masked in IMR (state still updated); 0 coalesced
 * (assert found IRR already set); 1 otherwise (including de-asserts and an assert of an
 * edge line that was already high, as KVM reports it).
 */
int virq_pic_set_irq(struct virq_pic *pic, unsigned int pin, int level);

/* Port writes/reads for 0x20/0x21/0xA0/0xA1/0x4D0/0x4D1. Write returns 0 or -EINVAL for
 * another port; a read of another port returns 0xFF (open bus). */
int virq_pic_ioport_write(struct virq_pic *pic, uint16_t port, uint8_t val);
uint8_t virq_pic_ioport_read(struct virq_pic *pic, uint16_t port);

/*
 * The CPU's interrupt-acknowledge cycle: returns the vector (0-255) and moves the winning
 * request from IRR to ISR (or clears it in auto-EOI), going through the slave when the
 * master's winner is the cascade IR2. If the request vanished (no unmasked request wins)
 * the result is the spurious IR7 vector of the chip concerned (8259A datasheet, "spurious
 * interrupt"): master base+7, or slave base+7 with master IR2 put in service.
 */
int virq_pic_inta(struct virq_pic *pic);

/* Current INT output level (what was last reported through sink->pic_int). */
bool virq_pic_int_output(const struct virq_pic *pic);

/* Saves into *st. Cannot fail. */
void virq_pic_save(const struct virq_pic *pic, struct virq_pic_state *st);
/* Validates *st (version, init_state, ELCR fixed bits, base alignment, booleans) and
 * loads it; -EINVAL leaves the PIC untouched. The INT output is recomputed and reported
 * to the sink if it changed. Statistics are kept. */
int virq_pic_restore(struct virq_pic *pic, const struct virq_pic_state *st);

/* Statistics of one pin, or NULL for a bad pin. Pointer valid for the PIC's lifetime. */
const struct virq_pic_pin_stats *virq_pic_pin_stats(const struct virq_pic *pic, unsigned int pin);

#endif /* VIRQ_PIC_H */
