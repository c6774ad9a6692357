// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the LAPIC register interface (xAPIC MMIO, x2APIC and other MSRs) plus bus
 * messages, INTA, EOI, timer ticks, LINT pins, INIT/SIPI and save/restore, on a 3-CPU
 * APIC bus. Invariants checked after every step, abort() on violation:
 *  - PPR read back equals the SDM 11.8.3.1 value computed from TPR and ISR;
 *  - virq_lapic_pending() is the highest IRR vector exactly when its class exceeds PPR;
 *  - no vector below 16 in IRR or ISR (illegal vectors are never accepted);
 *  - per-vector counters add up (accepted = delivered + discarded + IRR, etc.);
 *  - after a tick, an armed timer lies in the future;
 *  - a snapshot restores onto itself and saves back identically;
 *  - the LAPIC's derived priority state (irr_sum, isr_sum, ppr in lapic_internal.h) equals
 *    a from-scratch recomputation from IRR, ISR and TPR (SDM 11.8.3.1), before and after
 *    that restore.
 *
 * Input format: one config byte (bit 0 KVM vector hashing, 1 x2APIC supported, 2 CMCI,
 * 3 directed EOI, 4 TSC-deadline at 3 GHz, 5 25 MHz APIC bus), then operations: an op
 * byte (low nibble: which operation, see the switch below; high nibble modulo 3: the CPU;
 * bit 7: LINT pin, host APIC_BASE write, logical resolve, or for op 11 a snapshot
 * save/restore instead of taking events) and big-endian arguments.
 *
 * Seed corpus: tests/fuzz/corpus/lapic/ holds one named file per scenario (fixed
 * interrupt, level EOI, nested ISR, TPR, ICR modes, destinations, LINT pins, timers,
 * x2APIC, APIC_BASE transitions, the priority caches), written by
 * tests/fuzz/gen_corpus_lapic.sh; re-run it after changing this format. `make check`
 * replays the corpus through tests/fuzz/replay.c; `make fuzz` extends it with libFuzzer.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virq/apicbus.h"
#include "virq/lapic.h"
/* For the cache invariant only: the target reads the derived fields directly. */
#include "../../daemon/irqchip/lapic_internal.h"

#define NCPU 3

struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct in *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++) {
		v = (v << 8) | (in->n ? *in->p : 0);
		if (in->n) {
			in->p++;
			in->n--;
		}
	}
	return v;
}

static int fake_extint(void *o, unsigned int cpu)
{
	return 0x20 + (int)cpu;
}

static void fake_notify(void *o, unsigned int cpu, uint32_t ev)
{
	if (cpu >= NCPU || !ev)
		abort();
}

static const struct virq_apicbus_ops ops = { .notify = fake_notify, .extint_ack = fake_extint };

static int highest(const uint32_t *r)
{
	for (int i = 7; i >= 0; i--)
		if (r[i])
			return i * 32 + 31 - __builtin_clz(r[i]);
	return -1;
}

/* SDM 11.8.3.1 from scratch: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0. */
static uint32_t ppr_of(uint32_t tpr, const uint32_t *isr)
{
	int isrv = highest(isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0;

	return (tpr & 0xF0) >= isr_class ? tpr : isr_class;
}

static void check_caches(const struct virq_lapic *l)
{
	unsigned int irr_sum = 0, isr_sum = 0;

	for (unsigned int w = 0; w < 8; w++) {
		irr_sum |= (l->irr[w] != 0) << w;
		isr_sum |= (l->isr[w] != 0) << w;
	}
	if (l->irr_sum != irr_sum || l->isr_sum != isr_sum || l->ppr != ppr_of(l->tpr, l->isr))
		abort();
}

static void check(struct virq_lapic *l)
{
	struct virq_lapic_state st, st2;
	const struct virq_lapic_stats *s = virq_lapic_stats(l);
	uint32_t ppr, reg = 0;
	int irrv, pend;
	uint64_t v64;

	check_caches(l);
	virq_lapic_save(l, &st);
	irrv = highest(st.irr);
	ppr = ppr_of(st.tpr, st.isr);
	if (virq_lapic_mode(l) == VIRQ_LAPIC_XAPIC) {
		if (virq_lapic_mmio_read(l, VIRQ_APIC_PPR, &reg) || reg != ppr)
			abort();
	} else if (virq_lapic_mode(l) == VIRQ_LAPIC_X2APIC) {
		if (virq_lapic_msr_read(l, 0x80A, &v64) || v64 != ppr)
			abort();
	}
	pend = virq_lapic_pending(l);
	if (irrv >= 0 && (uint32_t)(irrv & 0xF0) > (ppr & 0xF0)) {
		if (pend != irrv)
			abort();
	} else if (pend != -1) {
		abort();
	}
	if ((st.irr[0] | st.isr[0]) & 0xFFFF)
		abort();
	for (unsigned int v = 0; v < 256; v++) {
		uint64_t in_irr = (st.irr[v / 32] >> (v % 32)) & 1;
		uint64_t in_isr = (st.isr[v / 32] >> (v % 32)) & 1;

		if (s->accepted[v] != s->delivered[v] + s->irr_discarded[v] + in_irr)
			abort();
		if (s->delivered[v] != s->eoi[v] + s->isr_discarded[v] + in_isr)
			abort();
	}
	if (virq_lapic_restore(l, &st))
		abort();
	check_caches(l);
	virq_lapic_save(l, &st2);
	if (memcmp(&st, &st2, sizeof(st)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	uint8_t conf = (uint8_t)take(&in, 1);
	struct virq_apicbus_config cfg = {
		.nr_cpus = NCPU,
		.ops = &ops,
		.lowprio = conf & 1 ? VIRQ_LOWPRIO_KVM_HASH : VIRQ_LOWPRIO_SDM,
		.lapic = { .x2apic_supported = conf & 2,
			   .cmci = conf & 4,
			   .directed_eoi = conf & 8,
			   .tsc_hz = conf & 16 ? 3000000000ull : 0,
			   .bus_hz = conf & 32 ? 25000000 : 0 },
	};
	struct virq_apicbus *bus = virq_apicbus_new(&cfg);
	static struct virq_lapic_state snap[NCPU];
	bool have_snap[NCPU] = { false };
	uint64_t now = 0;

	if (!bus)
		abort();
	for (unsigned int step = 0; step < 4096 && in.n; step++) {
		uint8_t op = (uint8_t)take(&in, 1);
		struct virq_lapic *l = virq_apicbus_lapic(bus, (op >> 4) % NCPU);
		uint32_t v32;
		uint64_t v64;

		switch (op & 0xF) {
		case 0:
		case 1: {
			uint32_t off = (uint32_t)take(&in, 1) << 4;

			v32 = (uint32_t)take(&in, 4);
			if (off == VIRQ_APIC_SVR && (op & 1))
				v32 |= VIRQ_SVR_ENABLE; /* keep the APIC mostly enabled */
			virq_lapic_mmio_write(l, off, v32);
			break;
		}
		case 2:
			virq_lapic_mmio_read(l, (uint32_t)take(&in, 2) & 0xFFF, &v32);
			break;
		case 3: {
			uint8_t m = (uint8_t)take(&in, 1);
			uint32_t msr = m == 0xFF ? VIRQ_MSR_TSC_DEADLINE :
				       m == 0xFE ? VIRQ_MSR_APIC_BASE :
						   VIRQ_MSR_X2APIC_FIRST + m;

			virq_lapic_msr_write(l, msr, take(&in, 8));
			break;
		}
		case 4:
			virq_lapic_msr_read(l, VIRQ_MSR_X2APIC_FIRST + (uint32_t)take(&in, 1),
					    &v64);
			break;
		case 5:
		case 6: {
			uint64_t r = take(&in, 6);
			struct virq_irq irq = {
				.vector = (uint8_t)r,
				.delivery_mode = (r >> 8) & 7,
				.dest_logical = (r >> 11) & 1,
				.level_trig = (r >> 12) & 1,
				.level = (r >> 13) & 1,
				.shorthand = (r >> 14) & 3,
				.redir_hint = (r >> 16) & 1,
				.x2apic_dest = (r >> 17) & 1,
				.dest = (uint32_t)(r >> 24),
				.src_apic_id = (r >> 18) & 3,
				.path = VIRQ_PATH_MSI,
			};

			if (!irq.x2apic_dest)
				irq.dest &= 0xFF;
			virq_apicbus_deliver(bus, &irq);
			break;
		}
		case 7:
			virq_lapic_ack(l);
			break;
		case 8:
			virq_lapic_eoi(l);
			break;
		case 9:
			now += take(&in, 2) * 97;
			for (unsigned int i = 0; i < NCPU; i++) {
				struct virq_lapic *t = virq_apicbus_lapic(bus, i);
				uint64_t d;

				virq_lapic_tick(t, now);
				d = virq_lapic_timer_deadline(t);
				if (d && d <= now)
					abort();
			}
			break;
		case 10:
			virq_lapic_set_lint(l, op >> 7, take(&in, 1) & 1);
			break;
		case 11: {
			struct virq_lapic_events ev;
			unsigned int c = (op >> 4) % NCPU;

			if (op & 0x80) {
				/* Snapshot slot: save, or restore the state saved earlier (a
				 * different IRR/ISR/TPR, unlike check()'s round trip). A
				 * snapshot of this very LAPIC must always be accepted. */
				if (have_snap[c]) {
					if (virq_lapic_restore(l, &snap[c]))
						abort();
				} else {
					virq_lapic_save(l, &snap[c]);
				}
				have_snap[c] = !have_snap[c];
				break;
			}
			virq_lapic_take_events(l, &ev);
			if (ev.state > VIRQ_VCPU_HALTED)
				abort();
			break;
		}
		case 12:
			virq_lapic_set_apic_base(l, 0xFEE00000ull | (take(&in, 1) << 8), op & 0x80);
			break;
		case 13:
			virq_apicbus_set_pic_int(bus, take(&in, 1) & 1);
			break;
		case 14:
			virq_lapic_set_vcpu_state(l, (enum virq_vcpu_state)(take(&in, 1) % 4));
			break;
		default: {
			uint16_t cpus[NCPU];
			struct virq_irq irq = { .dest = (uint32_t)take(&in, 1),
						.dest_logical = op >> 7,
						.delivery_mode = VIRQ_DM_LOWEST,
						.vector = 0x40 };
			int n = virq_apicbus_resolve(bus, &irq, 0, cpus, NCPU);

			if (n > 1 || (n < 0 && n != -ENOENT))
				abort(); /* lowest priority: one winner or none */
			break;
		}
		}
		for (unsigned int i = 0; i < NCPU; i++)
			check(virq_apicbus_lapic(bus, i));
	}
	virq_apicbus_free(bus);
	return 0;
}
