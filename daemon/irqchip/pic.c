// SPDX-License-Identifier: MIT
/*
 * The 8259A PIC pair. Datasheet references are to the Intel 8259A data sheet (231468):
 * "Interrupt Sequence", "Initialization Command Words", "Operation Command Words",
 * "Fully Nested Mode", "Special Mask Mode", "Poll Command", "Edge and Level Triggered
 * Modes". ELCR per the PIIX4 datasheet (82371AB) 4.1.11.
 */
#include <errno.h>
#include <string.h>

#include "virq/pic.h"

#define CASCADE_IR 2

static uint8_t chip_level_mask(const struct virq_pic_chip *c)
{
	/* ICW1 LTIM puts every input in level mode; otherwise the ELCR decides. */
	return (c->icw1 & VIRQ_PIC_ICW1_LTIM) ? 0xff : c->elcr;
}

/* Priority rank of the best request in mask: 0 highest, 8 none. The IR after `lowest`
 * has the highest priority (datasheet: "Automatic Rotation", "Specific Rotation"). */
static int chip_prio(const struct virq_pic_chip *c, uint8_t mask)
{
	for (int p = 0; p < 8; p++)
		if (mask & (1u << ((c->lowest + 1 + p) & 7)))
			return p;
	return 8;
}

static int chip_irq_of_prio(const struct virq_pic_chip *c, int p)
{
	return (c->lowest + 1 + p) & 7;
}

static bool pic_cascade(const struct virq_pic *pic)
{
	const struct virq_pic_chip *m = &pic->chip[0];

	/* ICW1 SNGL=0 and the master's ICW3 says a slave hangs on IR2. */
	return !(m->icw1 & VIRQ_PIC_ICW1_SNGL) && (m->icw3 & (1u << CASCADE_IR));
}

/* The IR this chip would present on INT, or -1. Fully nested mode: a request wins only
 * over strictly lower-priority in-service levels. Special mask mode: masked in-service
 * levels no longer inhibit anything (datasheet: "enables interrupts from all other
 * levels, lower as well as higher"). Special fully nested mode (master only): the
 * in-service cascade does not block further slave requests. */
static int chip_get_irq(const struct virq_pic *pic, int idx)
{
	const struct virq_pic_chip *c = &pic->chip[idx];
	uint8_t isr = c->isr;
	int p = chip_prio(c, c->irr & ~c->imr);

	if (p == 8)
		return -1;
	if (c->special_mask)
		isr &= ~c->imr;
	if (idx == 0 && (c->icw4 & VIRQ_PIC_ICW4_SFNM) && pic_cascade(pic))
		isr &= ~(1u << CASCADE_IR);
	return p < chip_prio(c, isr) ? chip_irq_of_prio(c, p) : -1;
}

/* Re-evaluates the cascade and the INT output; reports INT changes to the sink. */
static void pic_update(struct virq_pic *pic)
{
	struct virq_pic_chip *m = &pic->chip[0];
	const uint8_t bit = 1u << CASCADE_IR;
	bool slave_int = pic_cascade(pic) && chip_get_irq(pic, 1) >= 0;
	bool out;

	/* Master IR2 is fed by the slave's INT (and by an external GSI 2 line, which KVM's
	 * default routing also drives). Edge mode: the slave's INT is sampled as a fresh
	 * request on every evaluation, as KVM does, so a slave that keeps INT high after
	 * an auto-EOI acknowledge is not lost. Level mode: IRR follows the OR of both. */
	if (chip_level_mask(m) & bit) {
		if (slave_int || (m->line & bit))
			m->irr |= bit;
		else
			m->irr &= ~bit;
	} else if (slave_int) {
		m->irr |= bit;
	}
	out = chip_get_irq(pic, 0) >= 0;
	if (out != pic->int_output) {
		pic->int_output = out;
		pic->int_changes++;
		virq_sink_pic_int(&pic->sink, out);
	}
}

static void chip_reset(struct virq_pic_chip *c, uint8_t icw3, uint8_t elcr_mask)
{
	memset(c, 0, sizeof(*c));
	c->lowest = 7;
	c->icw3 = icw3;
	c->elcr_mask = elcr_mask;
}

void virq_pic_init(struct virq_pic *pic, const struct virq_sink *sink)
{
	memset(pic, 0, sizeof(*pic));
	chip_reset(&pic->chip[0], 1u << CASCADE_IR, VIRQ_PIC_ELCR_MASK_MASTER);
	chip_reset(&pic->chip[1], CASCADE_IR, VIRQ_PIC_ELCR_MASK_SLAVE);
	if (sink)
		pic->sink = *sink;
}

int virq_pic_set_irq(struct virq_pic *pic, unsigned int pin, int level)
{
	struct virq_pic_chip *c;
	struct virq_pic_pin_stats *st;
	uint8_t bit;
	int ret = 1;

	if (pin >= VIRQ_PIC_PINS)
		return -EINVAL;
	c = &pic->chip[pin >> 3];
	st = &pic->stats[pin];
	bit = 1u << (pin & 7);
	if (level) {
		if (!(c->line & bit)) {
			/* Rising edge: a new request for both trigger modes. */
			st->asserted++;
			if (c->irr & bit) {
				st->coalesced++;
				ret = 0;
			} else if (c->imr & bit) {
				st->masked++;
			}
			c->irr |= bit;
			c->line |= bit;
		} else if (chip_level_mask(c) & bit) {
			/* Level held: IRR already follows the line. */
			ret = (c->irr & bit) ? 0 : 1;
			c->irr |= bit;
		}
	} else {
		if ((chip_level_mask(c) & bit) && (c->irr & bit)) {
			/* Level IRR follows the line; a request not yet in service is lost. */
			if (!(c->isr & bit))
				st->dropped++;
			c->irr &= ~bit;
		}
		c->line &= ~bit;
	}
	pic_update(pic);
	return (c->imr & bit) ? -EBUSY : ret;
}

/* Moves irq from IRR to ISR (or auto-EOIs it): datasheet "Interrupt Sequence" 4-5. */
static void chip_intack(struct virq_pic *pic, int idx, int irq)
{
	struct virq_pic_chip *c = &pic->chip[idx];
	struct virq_pic_pin_stats *st = &pic->stats[idx * 8 + irq];
	uint8_t bit = 1u << irq;

	st->delivered++;
	if (c->icw4 & VIRQ_PIC_ICW4_AEOI) {
		st->eoi++;
		if (c->rotate_aeoi)
			c->lowest = irq;
	} else if (c->isr & bit) {
		st->nested++; /* SFNM: a second slave request through the cascade in service */
	} else {
		c->isr |= bit;
	}
	/* Level IRR keeps following the line; the ISR bit masks it until EOI. */
	if (!(chip_level_mask(c) & bit))
		c->irr &= ~bit;
}

int virq_pic_inta(struct virq_pic *pic)
{
	struct virq_pic_chip *m = &pic->chip[0], *s = &pic->chip[1];
	int irq = chip_get_irq(pic, 0), irq2, vec;

	if (irq < 0) {
		/* Request vanished before INTA: the master answers with IR7, no ISR bit. */
		pic->stats[7].spurious++;
		vec = m->base + 7;
	} else if (irq == CASCADE_IR && pic_cascade(pic)) {
		chip_intack(pic, 0, CASCADE_IR);
		irq2 = chip_get_irq(pic, 1);
		if (irq2 >= 0) {
			chip_intack(pic, 1, irq2);
			vec = s->base + irq2;
		} else {
			/* Spurious slave IR7: master IR2 is in service and needs its EOI. */
			pic->stats[15].spurious++;
			vec = s->base + 7;
		}
	} else {
		chip_intack(pic, 0, irq);
		vec = m->base + irq;
	}
	pic_update(pic);
	return vec;
}

static void chip_eoi(struct virq_pic *pic, int idx, int irq)
{
	struct virq_pic_chip *c = &pic->chip[idx];
	uint8_t bit = 1u << irq;

	if (c->isr & bit) {
		c->isr &= ~bit;
		pic->stats[idx * 8 + irq].eoi++;
	}
}

/* A change of trigger mode (ELCR or LTIM). Pins that become level-triggered take IRR
 * from the line at once; a latched edge request on a low line is lost. */
static void chip_level_switch(struct virq_pic *pic, int idx, uint8_t old_lvl, uint8_t new_lvl)
{
	struct virq_pic_chip *c = &pic->chip[idx];
	uint8_t to_level = new_lvl & ~old_lvl;

	for (int i = 0; i < 8; i++) {
		uint8_t bit = 1u << i;

		if (!(to_level & bit) || (idx == 0 && i == CASCADE_IR))
			continue;
		if ((c->irr & bit) && !(c->line & bit)) {
			pic->stats[idx * 8 + i].dropped++;
			c->irr &= ~bit;
		} else if (c->line & bit) {
			c->irr |= bit;
		}
	}
}

static void chip_icw1(struct virq_pic *pic, int idx, uint8_t val)
{
	struct virq_pic_chip *c = &pic->chip[idx];
	uint8_t new_lvl = (val & VIRQ_PIC_ICW1_LTIM) ? 0xff : c->elcr;
	uint8_t keep = new_lvl & c->line;

	/* Datasheet, ICW1: the edge sense circuit is reset (an edge input must go low then
	 * high again), IMR is cleared, IR7 gets the lowest priority, special mask mode is
	 * cleared, status read selects IRR; IC4=0 clears the ICW4 functions. In-service
	 * levels are forgotten. Level inputs still asserted keep requesting. */
	for (int i = 0; i < 8; i++) {
		uint8_t bit = 1u << i;

		if (c->isr & bit)
			pic->stats[idx * 8 + i].abandoned++;
		if ((c->irr & bit) && !(keep & bit) && !(c->isr & bit))
			pic->stats[idx * 8 + i].dropped++;
	}
	c->isr = 0;
	c->irr = keep;
	c->icw1 = val & 0x1f;
	c->imr = 0;
	c->lowest = 7;
	c->special_mask = 0;
	c->read_isr = 0;
	c->poll = 0;
	c->rotate_aeoi = 0;
	if (!(val & VIRQ_PIC_ICW1_IC4))
		c->icw4 = 0;
	c->init_state = 1;
}

static void chip_ocw2(struct virq_pic *pic, int idx, uint8_t val)
{
	struct virq_pic_chip *c = &pic->chip[idx];
	int l = val & VIRQ_PIC_OCW2_L_MASK, p;

	switch (val >> VIRQ_PIC_OCW2_CMD_SHIFT) {
	case VIRQ_PIC_OCW2_ROT_AEOI_CLEAR:
		c->rotate_aeoi = 0;
		break;
	case VIRQ_PIC_OCW2_ROT_AEOI_SET:
		c->rotate_aeoi = 1;
		break;
	case VIRQ_PIC_OCW2_NS_EOI:
	case VIRQ_PIC_OCW2_ROT_NS_EOI:
		/* Non-specific EOI resets the highest-priority ISR bit. */
		p = chip_prio(c, c->isr);
		if (p == 8)
			break;
		l = chip_irq_of_prio(c, p);
		chip_eoi(pic, idx, l);
		if ((val >> VIRQ_PIC_OCW2_CMD_SHIFT) == VIRQ_PIC_OCW2_ROT_NS_EOI)
			c->lowest = l;
		break;
	case VIRQ_PIC_OCW2_S_EOI:
		chip_eoi(pic, idx, l);
		break;
	case VIRQ_PIC_OCW2_ROT_S_EOI:
		chip_eoi(pic, idx, l);
		c->lowest = l;
		break;
	case VIRQ_PIC_OCW2_SET_PRIO:
		c->lowest = l;
		break;
	default: /* 010: no operation */
		break;
	}
}

static void chip_cmd_write(struct virq_pic *pic, int idx, uint8_t val)
{
	struct virq_pic_chip *c = &pic->chip[idx];

	if (val & VIRQ_PIC_ICW1) {
		uint8_t old_lvl = chip_level_mask(c);

		chip_icw1(pic, idx, val);
		chip_level_switch(pic, idx, old_lvl, chip_level_mask(c));
	} else if (val & VIRQ_PIC_OCW3) {
		if (val & VIRQ_PIC_OCW3_P)
			c->poll = 1;
		if (val & VIRQ_PIC_OCW3_RR)
			c->read_isr = val & VIRQ_PIC_OCW3_RIS;
		if (val & VIRQ_PIC_OCW3_ESMM)
			c->special_mask = !!(val & VIRQ_PIC_OCW3_SMM);
	} else {
		chip_ocw2(pic, idx, val);
	}
}

static void chip_data_write(struct virq_pic_chip *c, uint8_t val)
{
	switch (c->init_state) {
	case 1: /* ICW2 */
		c->base = val & VIRQ_PIC_ICW2_BASE_MASK;
		if (!(c->icw1 & VIRQ_PIC_ICW1_SNGL))
			c->init_state = 2;
		else
			c->init_state = (c->icw1 & VIRQ_PIC_ICW1_IC4) ? 3 : 0;
		break;
	case 2: /* ICW3 */
		c->icw3 = val;
		c->init_state = (c->icw1 & VIRQ_PIC_ICW1_IC4) ? 3 : 0;
		break;
	case 3: /* ICW4 */
		c->icw4 = val & 0x1f;
		c->init_state = 0;
		break;
	default: /* OCW1 */
		c->imr = val;
		break;
	}
}

int virq_pic_ioport_write(struct virq_pic *pic, uint16_t port, uint8_t val)
{
	struct virq_pic_chip *c;
	uint8_t old_lvl;
	int idx;

	switch (port) {
	case VIRQ_PIC_MASTER_CMD:
	case VIRQ_PIC_SLAVE_CMD:
		chip_cmd_write(pic, port == VIRQ_PIC_SLAVE_CMD, val);
		break;
	case VIRQ_PIC_MASTER_DATA:
	case VIRQ_PIC_SLAVE_DATA:
		chip_data_write(&pic->chip[port == VIRQ_PIC_SLAVE_DATA], val);
		break;
	case VIRQ_PIC_ELCR_MASTER:
	case VIRQ_PIC_ELCR_SLAVE:
		idx = port == VIRQ_PIC_ELCR_SLAVE;
		c = &pic->chip[idx];
		old_lvl = chip_level_mask(c);
		c->elcr = val & c->elcr_mask;
		chip_level_switch(pic, idx, old_lvl, chip_level_mask(c));
		break;
	default:
		return -EINVAL;
	}
	pic_update(pic);
	return 0;
}

/* Poll command: the read acts as INTA for this chip (datasheet, "The Poll Command"). */
static uint8_t chip_poll(struct virq_pic *pic, int idx)
{
	int irq = chip_get_irq(pic, idx);

	pic->chip[idx].poll = 0;
	if (irq < 0)
		return 0;
	chip_intack(pic, idx, irq);
	pic_update(pic);
	return VIRQ_PIC_POLL_INT | irq;
}

uint8_t virq_pic_ioport_read(struct virq_pic *pic, uint16_t port)
{
	const struct virq_pic_chip *c;
	int idx;

	switch (port) {
	case VIRQ_PIC_MASTER_CMD:
	case VIRQ_PIC_SLAVE_CMD:
		idx = port == VIRQ_PIC_SLAVE_CMD;
		c = &pic->chip[idx];
		if (c->poll)
			return chip_poll(pic, idx);
		return c->read_isr ? c->isr : c->irr;
	case VIRQ_PIC_MASTER_DATA:
	case VIRQ_PIC_SLAVE_DATA:
		return pic->chip[port == VIRQ_PIC_SLAVE_DATA].imr;
	case VIRQ_PIC_ELCR_MASTER:
	case VIRQ_PIC_ELCR_SLAVE:
		return pic->chip[port == VIRQ_PIC_ELCR_SLAVE].elcr;
	default:
		return 0xff;
	}
}

bool virq_pic_int_output(const struct virq_pic *pic)
{
	return pic->int_output;
}

void virq_pic_save(const struct virq_pic *pic, struct virq_pic_state *st)
{
	memset(st, 0, sizeof(*st));
	st->version = VIRQ_PIC_STATE_VERSION;
	st->int_output = pic->int_output;
	memcpy(st->chip, pic->chip, sizeof(st->chip));
}

static bool chip_state_valid(const struct virq_pic_chip *c, uint8_t elcr_mask, bool master)
{
	uint8_t lvl = (c->icw1 & VIRQ_PIC_ICW1_LTIM) ? 0xff : c->elcr;

	if (master)
		lvl &= ~(1u << CASCADE_IR);
	return c->elcr_mask == elcr_mask && !(c->elcr & ~elcr_mask) &&
	       !(c->base & ~VIRQ_PIC_ICW2_BASE_MASK) && c->lowest <= 7 && c->init_state <= 3 &&
	       !(c->icw1 & ~0x1f) && !(c->icw4 & ~0x1f) && c->read_isr <= 1 && c->poll <= 1 &&
	       c->special_mask <= 1 && c->rotate_aeoi <= 1 &&
	       /* a level-triggered IRR follows its line */
	       (c->irr & lvl) == (c->line & lvl);
}

int virq_pic_restore(struct virq_pic *pic, const struct virq_pic_state *st)
{
	if (st->version != VIRQ_PIC_STATE_VERSION || st->int_output > 1 || st->pad[0] ||
	    st->pad[1] || st->pad[2] ||
	    !chip_state_valid(&st->chip[0], VIRQ_PIC_ELCR_MASK_MASTER, true) ||
	    !chip_state_valid(&st->chip[1], VIRQ_PIC_ELCR_MASK_SLAVE, false))
		return -EINVAL;
	memcpy(pic->chip, st->chip, sizeof(pic->chip));
	/* pic->int_output still holds what the sink last saw: report only a change. */
	pic_update(pic);
	return 0;
}

const struct virq_pic_pin_stats *virq_pic_pin_stats(const struct virq_pic *pic, unsigned int pin)
{
	return pin < VIRQ_PIC_PINS ? &pic->stats[pin] : NULL;
}
