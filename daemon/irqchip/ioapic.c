// SPDX-License-Identifier: MIT
/*
 * The I/O APIC. References: Intel 82093AA I/O APIC datasheet (290566) 3.0-3.2; Intel SDM
 * Vol. 3A 11.8.5 (EOI broadcast to the IOAPIC for level-triggered vectors).
 */
#include <errno.h>
#include <string.h>

#include "virq/ioapic.h"

/* Guest-writable RTE bits: 16:0 except the read-only 12 and 14, and destination 63:56
 * (55:49 too with the extended destination ID). Bits 55:17 are reserved otherwise. */
#define RTE_WRITABLE 0xff0000000001afffull
#define RTE_WRITABLE_EXT (VIRQ_RTE_EXT_DEST_MASK << VIRQ_RTE_EXT_DEST_SHIFT)

static bool bit_test(const uint64_t *map, unsigned int pin)
{
	return map[pin >> 6] & (1ull << (pin & 63));
}

static void bit_set(uint64_t *map, unsigned int pin, bool v)
{
	if (v)
		map[pin >> 6] |= 1ull << (pin & 63);
	else
		map[pin >> 6] &= ~(1ull << (pin & 63));
}

static uint64_t rte_writable(const struct virq_ioapic *io)
{
	return RTE_WRITABLE | ((io->cfg.flags & VIRQ_IOAPIC_EXT_DEST_ID) ? RTE_WRITABLE_EXT : 0);
}

void virq_ioapic_config_default(struct virq_ioapic_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nr_pins = VIRQ_IOAPIC_DEFAULT_PINS;
	cfg->version = VIRQ_IOAPIC_VERSION_82093AA;
	cfg->storm_threshold = VIRQ_IOAPIC_STORM_THRESHOLD_DEFAULT;
	cfg->storm_delay_ns = VIRQ_IOAPIC_STORM_DELAY_NS_DEFAULT;
}

int virq_ioapic_init(struct virq_ioapic *io, const struct virq_ioapic_config *cfg,
		     const struct virq_sink *sink)
{
	struct virq_ioapic_config def;

	if (!cfg) {
		virq_ioapic_config_default(&def);
		cfg = &def;
	}
	if (cfg->nr_pins < 1 || cfg->nr_pins > VIRQ_IOAPIC_MAX_PINS ||
	    (cfg->version != VIRQ_IOAPIC_VERSION_82093AA &&
	     cfg->version != VIRQ_IOAPIC_VERSION_EOI) ||
	    cfg->id > VIRQ_IOAPIC_ID_MASK || (cfg->flags & ~(uint32_t)VIRQ_IOAPIC_EXT_DEST_ID))
		return -EINVAL;
	memset(io, 0, sizeof(*io));
	io->cfg = *cfg;
	io->id = cfg->id;
	if (sink)
		io->sink = *sink;
	/* 82093AA 3.2.4: the mask bit is set by reset. */
	for (unsigned int i = 0; i < cfg->nr_pins; i++)
		io->rte[i] = VIRQ_RTE_MASKED;
	return 0;
}

void virq_ioapic_rte_to_irq(const struct virq_ioapic *io, uint64_t rte, struct virq_irq *out)
{
	uint32_t ext = 0;

	memset(out, 0, sizeof(*out));
	if (io->cfg.flags & VIRQ_IOAPIC_EXT_DEST_ID)
		ext = (rte >> VIRQ_RTE_EXT_DEST_SHIFT) & VIRQ_RTE_EXT_DEST_MASK;
	out->dest = (uint32_t)((rte >> VIRQ_RTE_DEST_SHIFT) & VIRQ_RTE_DEST_MASK) | ext << 8;
	out->vector = rte & VIRQ_RTE_VECTOR_MASK;
	out->delivery_mode = (rte >> VIRQ_RTE_DM_SHIFT) & VIRQ_RTE_DM_MASK;
	out->dest_logical = !!(rte & VIRQ_RTE_DEST_LOGICAL);
	out->level_trig = !!(rte & VIRQ_RTE_TRIGGER_LEVEL);
	out->level = 1;
	out->x2apic_dest = ext != 0;
	out->path = VIRQ_PATH_IOAPIC;
}

void virq_ioapic_rte_to_msi(uint64_t rte, uint32_t *addr_lo, uint32_t *addr_hi, uint32_t *data)
{
	*addr_lo = 0xfee00000u |
		   (uint32_t)((rte >> VIRQ_RTE_DEST_SHIFT) & VIRQ_RTE_DEST_MASK) << 12 |
		   (uint32_t)((rte >> VIRQ_RTE_EXT_DEST_SHIFT) & VIRQ_RTE_EXT_DEST_MASK) << 5 |
		   ((rte & VIRQ_RTE_DEST_LOGICAL) ? 1u << 2 : 0);
	*addr_hi = 0;
	*data = (uint32_t)(rte & (VIRQ_RTE_VECTOR_MASK | VIRQ_RTE_DM_MASK << VIRQ_RTE_DM_SHIFT)) |
		((rte & VIRQ_RTE_TRIGGER_LEVEL) ? 1u << 15 : 0) | 1u << 14;
}

/* Sends pin's message. Remote IRR is set for a level pin once a local APIC accepted it
 * (82093AA 3.2.4 "Remote IRR"): result >= 0, a coalesced vector included. KVM also sets
 * it when no APIC accepted (result < 0), which leaves the pin stuck until rewritten; we
 * let such a pin fire again on its next assertion instead. */
static int ioapic_send(struct virq_ioapic *io, unsigned int pin)
{
	struct virq_ioapic_pin_stats *st = &io->stats[pin];
	struct virq_irq irq;
	int ret;

	virq_ioapic_rte_to_irq(io, io->rte[pin], &irq);
	irq.pin = (uint8_t)pin;
	st->sent++;
	ret = virq_sink_deliver(&io->sink, &irq);
	if (ret > 0)
		st->delivered++;
	else if (ret == 0)
		st->coalesced++;
	else
		st->ignored++;
	if ((io->rte[pin] & VIRQ_RTE_TRIGGER_LEVEL) && ret >= 0)
		io->rte[pin] |= VIRQ_RTE_REMOTE_IRR;
	return ret;
}

static void ioapic_undefer(struct virq_ioapic *io, unsigned int pin)
{
	bit_set(io->deferred, pin, false);
	io->defer_due[pin] = 0;
}

int virq_ioapic_set_irq(struct virq_ioapic *io, unsigned int pin, int level)
{
	struct virq_ioapic_pin_stats *st;
	uint64_t rte;
	bool old;

	if (pin >= io->cfg.nr_pins)
		return -EINVAL;
	st = &io->stats[pin];
	rte = io->rte[pin];
	old = bit_test(io->line, pin);
	if (!level) {
		bit_set(io->line, pin, false);
		io->streak[pin] = 0;
		ioapic_undefer(io, pin);
		return 1;
	}
	bit_set(io->line, pin, true);
	if (!old)
		st->asserted++;
	if (rte & VIRQ_RTE_MASKED) {
		if (!old)
			st->masked++;
		return -EBUSY;
	}
	if (rte & VIRQ_RTE_TRIGGER_LEVEL) {
		/* In service (waiting for the EOI) or held back by the storm guard. */
		if ((rte & VIRQ_RTE_REMOTE_IRR) || bit_test(io->deferred, pin))
			return 0;
	} else if (old) {
		return 0; /* no low->high transition: nothing to send */
	}
	return ioapic_send(io, pin);
}

uint64_t virq_ioapic_read_rte(const struct virq_ioapic *io, unsigned int pin)
{
	uint64_t rte;

	if (pin >= io->cfg.nr_pins)
		return 0;
	rte = io->rte[pin];
	/* Delivery status (82093AA 3.2.4): "send pending" while an asserted level input has
	 * a message the IOAPIC could not send yet: masked, waiting for the EOI of the
	 * previous one, or deferred by the storm guard. Edge messages leave at once. */
	if ((rte & VIRQ_RTE_TRIGGER_LEVEL) && bit_test(io->line, pin) &&
	    (rte & (VIRQ_RTE_MASKED | VIRQ_RTE_REMOTE_IRR) || bit_test(io->deferred, pin)))
		rte |= VIRQ_RTE_DELIVERY_STATUS;
	return rte;
}

static void ioapic_write_rte(struct virq_ioapic *io, unsigned int pin, bool high, uint32_t val)
{
	uint64_t old = io->rte[pin], rte;

	if (high)
		rte = (old & 0xffffffffull) | (uint64_t)val << 32;
	else
		rte = (old & ~0xffffffffull) | val;
	rte = (rte & rte_writable(io)) | (old & VIRQ_RTE_REMOTE_IRR);
	/* An edge entry has no remote IRR: rewriting as edge clears it (KVM does the same;
	 * it is how guests recover a stuck level pin). */
	if (!(rte & VIRQ_RTE_TRIGGER_LEVEL)) {
		rte &= ~VIRQ_RTE_REMOTE_IRR;
		ioapic_undefer(io, pin);
	}
	io->rte[pin] = rte;
	/* A level input held while masked (or while the entry pointed nowhere) is sent once
	 * the entry allows it, e.g. at unmask. */
	if ((rte & VIRQ_RTE_TRIGGER_LEVEL) && !(rte & (VIRQ_RTE_MASKED | VIRQ_RTE_REMOTE_IRR)) &&
	    bit_test(io->line, pin) && !bit_test(io->deferred, pin))
		ioapic_send(io, pin);
}

static uint32_t ioapic_reg_read(struct virq_ioapic *io)
{
	uint32_t sel = io->ioregsel, pin;

	switch (sel) {
	case VIRQ_IOAPIC_REG_ID:
	case VIRQ_IOAPIC_REG_ARB: /* the arbitration ID follows the APIC ID */
		return (io->id & VIRQ_IOAPIC_ID_MASK) << VIRQ_IOAPIC_ID_SHIFT;
	case VIRQ_IOAPIC_REG_VER:
		return io->cfg.version | (io->cfg.nr_pins - 1) << VIRQ_IOAPIC_VER_MRE_SHIFT;
	default:
		pin = (sel - VIRQ_IOAPIC_REG_REDTBL) / 2;
		if (sel < VIRQ_IOAPIC_REG_REDTBL || pin >= io->cfg.nr_pins) {
			io->bad_index++;
			return 0xffffffffu; /* as KVM: no register answers */
		}
		return (sel & 1) ? (uint32_t)(virq_ioapic_read_rte(io, pin) >> 32) :
				   (uint32_t)virq_ioapic_read_rte(io, pin);
	}
}

static void ioapic_reg_write(struct virq_ioapic *io, uint32_t val)
{
	uint32_t sel = io->ioregsel, pin;

	switch (sel) {
	case VIRQ_IOAPIC_REG_ID:
		io->id = (val >> VIRQ_IOAPIC_ID_SHIFT) & VIRQ_IOAPIC_ID_MASK;
		break;
	case VIRQ_IOAPIC_REG_VER:
	case VIRQ_IOAPIC_REG_ARB:
		break; /* read-only */
	default:
		pin = (sel - VIRQ_IOAPIC_REG_REDTBL) / 2;
		if (sel < VIRQ_IOAPIC_REG_REDTBL || pin >= io->cfg.nr_pins) {
			io->bad_index++;
			break;
		}
		ioapic_write_rte(io, pin, sel & 1, val);
	}
}

uint32_t virq_ioapic_mmio_read(struct virq_ioapic *io, uint64_t offset)
{
	switch (offset) {
	case VIRQ_IOAPIC_IOREGSEL:
		return io->ioregsel;
	case VIRQ_IOAPIC_IOWIN:
		return ioapic_reg_read(io);
	default:
		return 0;
	}
}

int virq_ioapic_mmio_write(struct virq_ioapic *io, uint64_t offset, uint32_t val)
{
	switch (offset) {
	case VIRQ_IOAPIC_IOREGSEL:
		io->ioregsel = val & 0xff; /* 82093AA 3.1.1: bits 7:0 */
		return 0;
	case VIRQ_IOAPIC_IOWIN:
		ioapic_reg_write(io, val);
		return 0;
	case VIRQ_IOAPIC_EOI:
		if (io->cfg.version < VIRQ_IOAPIC_VERSION_EOI)
			return -EINVAL;
		virq_ioapic_eoi(io, val & 0xff);
		return 0;
	default:
		return -EINVAL;
	}
}

void virq_ioapic_eoi(struct virq_ioapic *io, uint8_t vector)
{
	for (unsigned int pin = 0; pin < io->cfg.nr_pins; pin++) {
		uint64_t rte = io->rte[pin];

		if ((rte & VIRQ_RTE_VECTOR_MASK) != vector || !(rte & VIRQ_RTE_TRIGGER_LEVEL) ||
		    !(rte & VIRQ_RTE_REMOTE_IRR))
			continue;
		io->rte[pin] = rte & ~VIRQ_RTE_REMOTE_IRR;
		io->stats[pin].eoi++;
		if ((rte & VIRQ_RTE_MASKED) || !bit_test(io->line, pin)) {
			io->streak[pin] = 0;
			continue;
		}
		/* The line is still asserted: a level input re-fires at once. A guest that
		 * EOIs without silencing its device would spin here forever; past the
		 * threshold the re-delivery waits for the tick (KVM: delayed work). */
		if (io->cfg.storm_threshold && ++io->streak[pin] >= io->cfg.storm_threshold) {
			io->streak[pin] = 0;
			bit_set(io->deferred, pin, true);
			io->defer_due[pin] = 0;
			io->stats[pin].deferred++;
			continue;
		}
		io->stats[pin].redelivered++;
		ioapic_send(io, pin);
	}
}

int virq_ioapic_tick(struct virq_ioapic *io, uint64_t now_ns)
{
	int sent = 0;

	for (unsigned int pin = 0; pin < io->cfg.nr_pins; pin++) {
		uint64_t rte = io->rte[pin];

		if (!bit_test(io->deferred, pin))
			continue;
		if (!io->defer_due[pin]) {
			io->defer_due[pin] = now_ns + io->cfg.storm_delay_ns;
			if (io->defer_due[pin] < now_ns) /* saturate */
				io->defer_due[pin] = UINT64_MAX;
		}
		if (now_ns < io->defer_due[pin])
			continue;
		ioapic_undefer(io, pin);
		if ((rte & VIRQ_RTE_TRIGGER_LEVEL) &&
		    !(rte & (VIRQ_RTE_MASKED | VIRQ_RTE_REMOTE_IRR)) && bit_test(io->line, pin)) {
			io->stats[pin].redelivered++;
			ioapic_send(io, pin);
			sent++;
		}
	}
	return sent;
}

bool virq_ioapic_next_deadline(const struct virq_ioapic *io, uint64_t *due_ns)
{
	bool any = false;
	uint64_t due = UINT64_MAX;

	for (unsigned int pin = 0; pin < io->cfg.nr_pins; pin++) {
		if (!bit_test(io->deferred, pin))
			continue;
		any = true;
		if (io->defer_due[pin] < due)
			due = io->defer_due[pin];
	}
	if (any && due_ns)
		*due_ns = due;
	return any;
}

void virq_ioapic_save(const struct virq_ioapic *io, struct virq_ioapic_state *st)
{
	memset(st, 0, sizeof(*st));
	st->version = VIRQ_IOAPIC_STATE_VERSION;
	st->nr_pins = io->cfg.nr_pins;
	st->ioapic_version = io->cfg.version;
	st->id = io->id;
	st->ioregsel = io->ioregsel;
	memcpy(st->rte, io->rte, sizeof(st->rte));
	memcpy(st->line, io->line, sizeof(st->line));
	memcpy(st->deferred, io->deferred, sizeof(st->deferred));
	memcpy(st->streak, io->streak, sizeof(st->streak));
	memcpy(st->defer_due, io->defer_due, sizeof(st->defer_due));
}

static bool ioapic_state_valid(const struct virq_ioapic *io, const struct virq_ioapic_state *st)
{
	uint64_t writable = rte_writable(io) | VIRQ_RTE_REMOTE_IRR;

	if (st->version != VIRQ_IOAPIC_STATE_VERSION || st->nr_pins != io->cfg.nr_pins ||
	    st->ioapic_version != io->cfg.version || st->id > VIRQ_IOAPIC_ID_MASK ||
	    st->ioregsel > 0xff || st->pad)
		return false;
	for (unsigned int pin = 0; pin < VIRQ_IOAPIC_MAX_PINS; pin++) {
		uint64_t rte = st->rte[pin];
		bool level = rte & VIRQ_RTE_TRIGGER_LEVEL;

		if (pin >= st->nr_pins) {
			if (rte || bit_test(st->line, pin) || bit_test(st->deferred, pin) ||
			    st->streak[pin] || st->defer_due[pin])
				return false;
			continue;
		}
		if ((rte & ~writable) || ((rte & VIRQ_RTE_REMOTE_IRR) && !level))
			return false;
		if (bit_test(st->deferred, pin) ? !(level && bit_test(st->line, pin)) :
						  st->defer_due[pin] != 0)
			return false;
		if (io->cfg.storm_threshold && st->streak[pin] >= io->cfg.storm_threshold)
			return false;
	}
	return true;
}

int virq_ioapic_restore(struct virq_ioapic *io, const struct virq_ioapic_state *st)
{
	if (!ioapic_state_valid(io, st))
		return -EINVAL;
	io->id = st->id;
	io->ioregsel = st->ioregsel;
	memcpy(io->rte, st->rte, sizeof(io->rte));
	memcpy(io->line, st->line, sizeof(io->line));
	memcpy(io->deferred, st->deferred, sizeof(io->deferred));
	memcpy(io->streak, st->streak, sizeof(io->streak));
	memcpy(io->defer_due, st->defer_due, sizeof(io->defer_due));
	return 0;
}

const struct virq_ioapic_pin_stats *virq_ioapic_pin_stats(const struct virq_ioapic *io,
							  unsigned int pin)
{
	return pin < io->cfg.nr_pins ? &io->stats[pin] : NULL;
}
