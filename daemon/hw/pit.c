// SPDX-License-Identifier: MIT
/*
 * Intel 8254 PIT (datasheet 231164, "Modes of Operation", "Read-Back Command", "Status
 * Byte") plus PC port 0x61. State is computed from elapsed time; see include/virq/pit.h.
 */
#include <errno.h>
#include <string.h>

#include "virq/pit.h"

#define NS_PER_S 1000000000ull

static uint64_t ticks(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * VIRQ_PIT_HZ / NS_PER_S);
}

/* The first ns at which ticks(ns) >= k. */
static uint64_t ns_ceil(uint64_t k)
{
	unsigned __int128 v = ((unsigned __int128)k * NS_PER_S + VIRQ_PIT_HZ - 1) / VIRQ_PIT_HZ;

	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint32_t modulus(const struct virq_pit_counter *c)
{
	return c->bcd ? 10000 : 0x10000;
}

/* A BCD count: digit by digit (nibbles above 9 are taken at face value: undefined in the
 * datasheet, harmless here). A written 0 is the largest count (datasheet: "the maximum
 * initial count ... is zero, equivalent to 2^16 binary or 10^4 BCD"). */
static uint32_t decode(const struct virq_pit_counter *c, uint16_t v)
{
	uint32_t n = v;

	if (c->bcd)
		n = ((v >> 12) & 15) * 1000 + ((v >> 8) & 15) * 100 + ((v >> 4) & 15) * 10 +
		    (v & 15);
	return n ? n : modulus(c);
}

static uint16_t encode(const struct virq_pit_counter *c, uint32_t v)
{
	v %= modulus(c);
	if (!c->bcd)
		return (uint16_t)v;
	return (uint16_t)(((v / 1000) << 12) | ((v / 100 % 10) << 8) | ((v / 10 % 10) << 4) |
			  (v % 10));
}

/* Applies a pending mode 2/3 count whose period has ended by t. */
static void sync(struct virq_pit_counter *c, uint64_t t)
{
	if (c->pending && t >= c->pending_ns) {
		c->n = c->n_next;
		c->start_ns = c->pending_ns;
		c->offset = 0;
		c->pending = false;
	}
}

static struct virq_pit_counter view(const struct virq_pit_counter *c, uint64_t t)
{
	struct virq_pit_counter v = *c;

	sync(&v, t);
	return v;
}

/* Modes 1 and 5 count whatever the gate does after a trigger; the others stop on gate low. */
static bool counting(const struct virq_pit_counter *c)
{
	return c->mode == 1 || c->mode == 5 || c->gate;
}

/* CLKs elapsed since the count was loaded (excluding gate-low time in modes 0/4). */
static uint64_t elapsed(const struct virq_pit_counter *c, uint64_t t)
{
	if (!c->started)
		return 0;
	if (!counting(c) || t <= c->start_ns)
		return c->offset;
	return c->offset + ticks(t - c->start_ns);
}

static bool out_of(const struct virq_pit_counter *c, uint64_t t)
{
	uint64_t d;

	if (!c->started)
		return c->mode != 0; /* mode 0: low after the control word; others high */
	d = elapsed(c, t);
	switch (c->mode) {
	case 0: /* interrupt on terminal count: high at count 0, stays high */
	case 1: /* one-shot: low from the trigger to terminal count */
		return d >= c->n;
	case 2: /* rate generator: low for the one CLK of count 1 */
		if (!c->gate || c->n < 2)
			return true;
		return d % c->n != c->n - 1;
	case 3: /* square wave: high for ceil(N/2), low for floor(N/2) */
		if (!c->gate || c->n < 2)
			return true;
		return d % c->n < (c->n + 1) / 2;
	default: /* 4, 5 strobes: low for the one CLK at count 0 */
		return d != c->n;
	}
}

static uint32_t count_of(const struct virq_pit_counter *c, uint64_t t)
{
	uint64_t d;
	uint32_t m = modulus(c);

	if (!c->started)
		return decode(c, c->cr) % m;
	d = elapsed(c, t);
	switch (c->mode) {
	case 2:
		return (uint32_t)(c->n - d % c->n);
	case 3: /* decrements by two each CLK (datasheet mode 3, even and odd counts alike) */
		return (uint32_t)((c->n - (2 * d) % c->n) & ~1u);
	default: /* 0, 1, 4, 5 wrap through the modulus after terminal count */
		return (uint32_t)((c->n + m - d % m) % m);
	}
}

/* Null count (datasheet "Status Byte" bit 6): CR written but not yet moved to CE. */
static bool null_count(const struct virq_pit_counter *c, uint64_t t)
{
	if (!c->null_flag)
		return false;
	if (c->mode == 1 || c->mode == 5 || !c->started || c->pending)
		return true; /* 1/5 load at the trigger, clearing null_flag then */
	return t - c->load_ns < ns_ceil(1) && t >= c->load_ns;
}

/* Rising OUT edges in (t0, t1] within one segment (no pending switch inside). */
static uint64_t rises(const struct virq_pit_counter *c, uint64_t t0, uint64_t t1)
{
	uint64_t d0, d1;

	if (!c->started)
		return 0;
	d0 = elapsed(c, t0);
	d1 = elapsed(c, t1);
	switch (c->mode) {
	case 0:
	case 1:
		return d0 < c->n && d1 >= c->n;
	case 2:
	case 3:
		if (!c->gate || c->n < 2)
			return 0;
		return d1 / c->n - d0 / c->n;
	default:
		return d0 < c->n + 1ull && d1 >= c->n + 1ull;
	}
}

static void drive(struct virq_pit *pit, bool level)
{
	virq_hw_set_line(&pit->line, VIRQ_PIT_IRQ, level);
	pit->irq_level = level;
}

static void step(struct virq_pit *pit, uint64_t t1)
{
	const struct virq_pit_counter *c = &pit->c[0];
	uint64_t r = rises(c, pit->cursor_ns, t1);
	bool final = out_of(c, t1);

	if (r) {
		if (pit->irq_level)
			drive(pit, false);
		drive(pit, true);
		pit->stats.irqs++;
		pit->stats.coalesced += r - 1;
	}
	if (final != pit->irq_level) {
		if (final)
			pit->stats.irqs++;
		drive(pit, final);
	}
	pit->cursor_ns = t1;
}

void virq_pit_advance(struct virq_pit *pit, uint64_t now_ns)
{
	struct virq_pit_counter *c0 = &pit->c[0];

	if (now_ns < pit->cursor_ns)
		now_ns = pit->cursor_ns;
	if (c0->pending && c0->pending_ns <= now_ns) {
		step(pit, c0->pending_ns > pit->cursor_ns ? c0->pending_ns : pit->cursor_ns);
		sync(c0, c0->pending_ns);
	}
	step(pit, now_ns);
	sync(&pit->c[1], now_ns);
	sync(&pit->c[2], now_ns);
}

void virq_pit_init(struct virq_pit *pit, const struct virq_hw_line *line, uint64_t now_ns)
{
	memset(pit, 0, sizeof(*pit));
	if (line)
		pit->line = *line;
	for (int i = 0; i < 3; i++) {
		pit->c[i].rw = VIRQ_PIT_RW_WORD;
		pit->c[i].gate = i != 2;
	}
	pit->cursor_ns = now_ns;
}

bool virq_pit_out(const struct virq_pit *pit, unsigned int counter, uint64_t now_ns)
{
	struct virq_pit_counter c;

	if (counter > 2)
		return false;
	c = view(&pit->c[counter], now_ns);
	return out_of(&c, now_ns);
}

uint32_t virq_pit_count(const struct virq_pit *pit, unsigned int counter, uint64_t now_ns)
{
	struct virq_pit_counter c;

	if (counter > 2)
		return 0;
	c = view(&pit->c[counter], now_ns);
	return count_of(&c, now_ns);
}

uint64_t virq_pit_next_event(const struct virq_pit *pit, uint64_t now_ns)
{
	struct virq_pit_counter c = view(&pit->c[0], now_ns);
	uint64_t d, target;

	if (!c.started || !counting(&c))
		return UINT64_MAX;
	d = elapsed(&c, now_ns);
	switch (c.mode) {
	case 0:
	case 1:
		if (d >= c.n)
			return UINT64_MAX;
		target = c.n;
		break;
	case 2:
	case 3:
		if (c.n < 2)
			return UINT64_MAX;
		target = (d / c.n + 1) * c.n;
		break;
	default:
		if (d >= c.n + 1ull)
			return UINT64_MAX;
		target = c.n + 1ull;
		break;
	}
	return add_sat(c.start_ns, ns_ceil(target - c.offset));
}

/* After a state change at t: IRQ 0 follows OUT0 at once. */
static void settle(struct virq_pit *pit, uint64_t t)
{
	bool out = out_of(&pit->c[0], t);

	if (out != pit->irq_level) {
		if (out)
			pit->stats.irqs++;
		drive(pit, out);
	}
}

static void trigger(struct virq_pit_counter *c, uint64_t t)
{
	c->n = c->n_next;
	c->started = true;
	c->start_ns = t;
	c->offset = 0;
	c->null_flag = false;
}

static void set_gate(struct virq_pit_counter *c, bool gate, uint64_t t)
{
	if (gate == c->gate)
		return;
	switch (c->mode) {
	case 0:
	case 4: /* gate low suspends counting, high resumes it */
		if (c->started) {
			c->offset = elapsed(c, t);
			c->start_ns = t;
		}
		break;
	case 1:
	case 5: /* a rising edge (re)triggers */
		if (gate && c->armed)
			trigger(c, t);
		break;
	default: /* 2, 3: low forces OUT high, a rising edge reloads */
		if (gate && (c->started || c->pending)) {
			if (c->pending) {
				c->n = c->n_next;
				c->pending = false;
			}
			c->start_ns = t;
			c->offset = 0;
		}
		break;
	}
	c->gate = gate;
}

void virq_pit_set_gate(struct virq_pit *pit, unsigned int counter, bool gate, uint64_t now_ns)
{
	if (counter > 2)
		return;
	virq_pit_advance(pit, now_ns);
	now_ns = pit->cursor_ns;
	set_gate(&pit->c[counter], gate, now_ns);
	settle(pit, now_ns);
}

static uint8_t status_of(const struct virq_pit_counter *c, uint64_t t)
{
	return (uint8_t)((out_of(c, t) ? VIRQ_PIT_ST_OUT : 0) |
			 (null_count(c, t) ? VIRQ_PIT_ST_NULL : 0) |
			 (c->rw << VIRQ_PIT_CW_RW_SHIFT) | (c->mode << VIRQ_PIT_CW_M_SHIFT) |
			 (c->bcd ? VIRQ_PIT_CW_BCD : 0));
}

static void latch_count(struct virq_pit_counter *c, uint64_t t)
{
	/* A second latch before the first is read is ignored (datasheet "Counter Latch"). */
	if (c->count_latched)
		return;
	c->latch = encode(c, count_of(c, t));
	c->count_latched = true;
	c->latch_msb = false;
}

static void control_word(struct virq_pit *pit, uint8_t val, uint64_t t)
{
	unsigned int sc = val >> VIRQ_PIT_CW_SC_SHIFT;
	unsigned int rw = (val >> VIRQ_PIT_CW_RW_SHIFT) & 3, m = (val >> VIRQ_PIT_CW_M_SHIFT) & 7;
	struct virq_pit_counter *c;

	if (sc == 3) { /* read-back: latch count and/or status of each selected counter */
		for (unsigned int i = 0; i < 3; i++) {
			c = &pit->c[i];
			if (!(val & VIRQ_PIT_RB_CNT(i)))
				continue;
			if (!(val & VIRQ_PIT_RB_NOCOUNT))
				latch_count(c, t);
			if (!(val & VIRQ_PIT_RB_NOSTATUS) && !c->status_latched) {
				c->status = status_of(c, t);
				c->status_latched = true;
			}
		}
		return;
	}
	c = &pit->c[sc];
	if (rw == VIRQ_PIT_RW_LATCH) {
		latch_count(c, t);
		return;
	}
	/* A control word resets the counter's logic: the count must be written again, OUT
	 * goes to its mode's initial state and null count is set. */
	c->mode = (uint8_t)(m > 5 ? m - 4 : m);
	c->rw = (uint8_t)rw;
	c->bcd = val & VIRQ_PIT_CW_BCD;
	c->started = c->armed = c->pending = false;
	c->write_msb = c->read_msb = c->latch_msb = false;
	c->count_latched = c->status_latched = false;
	c->null_flag = true;
	c->offset = 0;
}

static void load(struct virq_pit_counter *c, uint64_t t)
{
	uint32_t n = decode(c, c->cr);

	c->load_ns = t;
	c->null_flag = true;
	switch (c->mode) {
	case 1:
	case 5: /* the count waits for a gate trigger; a running one-shot goes on */
		c->n_next = n;
		c->armed = true;
		break;
	case 2:
	case 3:
		if (c->started && c->gate) {
			/* Reprogrammed while counting: the new count takes over at the end of
			 * the current period. */
			uint64_t d = elapsed(c, t);

			c->n_next = n;
			if (!c->pending)
				c->pending_ns = add_sat(c->start_ns,
							ns_ceil((d / c->n + 1) * c->n - c->offset));
			c->pending = true;
			break;
		}
		/* fall through */
	default:
		c->n = n;
		c->started = true;
		c->start_ns = t;
		c->offset = 0;
		c->pending = false;
		break;
	}
}

static void write_count(struct virq_pit_counter *c, uint8_t val, uint64_t t)
{
	switch (c->rw) {
	case VIRQ_PIT_RW_LSB:
		c->cr = val;
		break;
	case VIRQ_PIT_RW_MSB:
		c->cr = (uint16_t)(val << 8);
		break;
	default:
		if (!c->write_msb) {
			c->cr = (uint16_t)((c->cr & 0xff00) | val);
			c->write_msb = true;
			/* Mode 0: the first byte stops counting and sets OUT low. */
			if (c->mode == 0)
				c->started = false;
			return;
		}
		c->cr = (uint16_t)((c->cr & 0x00ff) | (val << 8));
		c->write_msb = false;
		break;
	}
	load(c, t);
}

static uint8_t read_count(struct virq_pit_counter *c, uint64_t t)
{
	uint16_t v;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	if (c->count_latched) {
		v = c->latch;
		if (c->rw == VIRQ_PIT_RW_WORD && !c->latch_msb) {
			c->latch_msb = true;
			return (uint8_t)v;
		}
		c->count_latched = false;
		c->latch_msb = false;
		return (uint8_t)(c->rw == VIRQ_PIT_RW_MSB || c->rw == VIRQ_PIT_RW_WORD ? v >> 8 :
											 v);
	}
	v = encode(c, count_of(c, t));
	switch (c->rw) {
	case VIRQ_PIT_RW_MSB:
		return (uint8_t)(v >> 8);
	case VIRQ_PIT_RW_WORD:
		c->read_msb = !c->read_msb;
		return (uint8_t)(c->read_msb ? v : v >> 8);
	default:
		return (uint8_t)v;
	}
}

uint8_t virq_pit_read(struct virq_pit *pit, uint16_t port, uint64_t now_ns)
{
	virq_pit_advance(pit, now_ns);
	now_ns = pit->cursor_ns;
	if (port >= VIRQ_PIT_PORT_BASE && port < VIRQ_PIT_PORT_CTRL)
		return read_count(&pit->c[port - VIRQ_PIT_PORT_BASE], now_ns);
	if (port == VIRQ_PIT_PORT_61)
		return (uint8_t)((pit->port61 & VIRQ_PIT_61_RW_MASK) |
				 ((now_ns / VIRQ_PIT_REFRESH_NS) & 1 ? VIRQ_PIT_61_REFRESH : 0) |
				 (out_of(&pit->c[2], now_ns) ? VIRQ_PIT_61_OUT2 : 0));
	return 0xff; /* 0x43 is write-only */
}

void virq_pit_write(struct virq_pit *pit, uint16_t port, uint8_t val, uint64_t now_ns)
{
	virq_pit_advance(pit, now_ns);
	now_ns = pit->cursor_ns;
	if (port >= VIRQ_PIT_PORT_BASE && port < VIRQ_PIT_PORT_CTRL)
		write_count(&pit->c[port - VIRQ_PIT_PORT_BASE], val, now_ns);
	else if (port == VIRQ_PIT_PORT_CTRL)
		control_word(pit, val, now_ns);
	else if (port == VIRQ_PIT_PORT_61) {
		pit->port61 = val & VIRQ_PIT_61_RW_MASK;
		set_gate(&pit->c[2], val & VIRQ_PIT_61_GATE2, now_ns);
	} else
		return;
	settle(pit, now_ns);
}

/* Wider accesses are byte accesses to consecutive ports (the ISA bus splits them). */
static uint64_t bus_read(void *opaque, uint64_t off, unsigned int size, uint64_t now_ns,
			 uint16_t base)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < size; i++)
		v |= (uint64_t)virq_pit_read(opaque, (uint16_t)(base + off + i), now_ns) << (8 * i);
	return v;
}

static void bus_write(void *opaque, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns,
		      uint16_t base)
{
	for (unsigned int i = 0; i < size; i++)
		virq_pit_write(opaque, (uint16_t)(base + off + i), (uint8_t)(val >> (8 * i)),
			       now_ns);
}

static uint64_t pit_bus_read(void *o, uint64_t off, unsigned int size, uint64_t now_ns)
{
	return bus_read(o, off, size, now_ns, VIRQ_PIT_PORT_BASE);
}

static void pit_bus_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	bus_write(o, off, size, val, now_ns, VIRQ_PIT_PORT_BASE);
}

static uint64_t p61_bus_read(void *o, uint64_t off, unsigned int size, uint64_t now_ns)
{
	return bus_read(o, off, size, now_ns, VIRQ_PIT_PORT_61);
}

static void p61_bus_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	bus_write(o, off, size, val, now_ns, VIRQ_PIT_PORT_61);
}

static const struct virq_hw_ops pit_ops = { .read = pit_bus_read, .write = pit_bus_write };
static const struct virq_hw_ops p61_ops = { .read = p61_bus_read, .write = p61_bus_write };

int virq_pit_register(struct virq_pit *pit, struct virq_hw_bus *bus)
{
	int ret = virq_hw_register_pio(bus, VIRQ_PIT_PORT_BASE, 4, &pit_ops, pit, "pit");

	if (ret)
		return ret;
	ret = virq_hw_register_pio(bus, VIRQ_PIT_PORT_61, 1, &p61_ops, pit, "port61");
	if (ret)
		virq_hw_unregister_pio(bus, VIRQ_PIT_PORT_BASE);
	return ret;
}
