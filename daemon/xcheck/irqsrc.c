// SPDX-License-Identifier: MIT
/*
 * Interrupts by source (include/virq/irqsrc.h): from our LAPIC's counters, or from
 * BPF's accepts attributed through the source events of their vector.
 */
#include <errno.h>
#include <string.h>

#include "virq/irqsrc.h"

static const char *const src_names[VIRQ_SRC__COUNT] = {
	[VIRQ_SRC_TIMER] = "timer",	    [VIRQ_SRC_IPI] = "ipi",
	[VIRQ_SRC_INIT_SIPI] = "init_sipi", [VIRQ_SRC_NMI] = "nmi",
	[VIRQ_SRC_IOAPIC] = "ioapic",	    [VIRQ_SRC_MSI] = "msi",
	[VIRQ_SRC_EXTINT] = "extint",	    [VIRQ_SRC_LINT] = "lint",
	[VIRQ_SRC_LVT_OTHER] = "lvt_other", [VIRQ_SRC_UNKNOWN] = "unknown",
};

const char *virq_src_name(enum virq_src s)
{
	return (unsigned int)s < VIRQ_SRC__COUNT ? src_names[s] : "?";
}

void virq_src_from_lapic(const struct virq_lapic_stats *st, uint64_t post_coalesced,
			 struct virq_src_counts *out)
{
	const uint64_t *p = st->fixed_by_path;

	memset(out, 0, sizeof(*out));
	out->n[VIRQ_SRC_TIMER] = p[VIRQ_PATH_TIMER];
	out->n[VIRQ_SRC_IPI] = p[VIRQ_PATH_IPI];
	out->n[VIRQ_SRC_IOAPIC] = p[VIRQ_PATH_IOAPIC];
	out->n[VIRQ_SRC_MSI] = p[VIRQ_PATH_MSI] + post_coalesced;
	out->n[VIRQ_SRC_LINT] = p[VIRQ_PATH_LINT];
	/* OTHER: the error/thermal/perf/CMCI LVTs, and messages the VMM sends on its own
	 * account (the firmware's mailbox) */
	out->n[VIRQ_SRC_LVT_OTHER] = p[VIRQ_PATH_OTHER];
	/* fixed messages said to be the PIC's or an NMI's: nothing sends those */
	out->n[VIRQ_SRC_UNKNOWN] = p[VIRQ_PATH_PIC] + p[VIRQ_PATH_NMI];
	out->n[VIRQ_SRC_NMI] = st->nmi + st->nmi_coalesced;
	/* KVM's tracepoint shows INIT de-asserts too */
	out->n[VIRQ_SRC_INIT_SIPI] = st->init + st->init_deassert + st->sipi;
	out->n[VIRQ_SRC_EXTINT] = st->extint;
	for (unsigned int i = 0; i < VIRQ_SRC_PINS; i++)
		out->pin[i] = st->ioapic_pin[i];
}

#define KIND_IOAPIC (1u << VIRQ_XC_PATH_IOAPIC)
#define KIND_MSI (1u << VIRQ_XC_PATH_MSI)
#define KIND_IPI (1u << VIRQ_XC_PATH_IPI)
#define KINDS (KIND_IOAPIC | KIND_MSI | KIND_IPI)

/* Split mode: an MSI on a vector our IOAPIC sent is the IOAPIC's. */
static unsigned int remap(const struct virq_src_kernel *in, unsigned int v, unsigned int m)
{
	if (in->split_pins && in->split_pins[v] && (m & KIND_MSI))
		m = (m & ~KIND_MSI) | KIND_IOAPIC;
	return m;
}

/* The source kinds whose events used vector v, VM-wide. */
static unsigned int vec_kinds(const struct virq_src_kernel *in, unsigned int v)
{
	unsigned int m = 0;

	for (unsigned int p = 0; p < VIRQ_XC_PATH__COUNT; p++)
		if (((1u << p) & KINDS) && in->srcvec[p][v])
			m |= 1u << p;
	return remap(in, v, m);
}

static int one_pin(uint32_t pins)
{
	return pins && !(pins & (pins - 1)) ? __builtin_ctz(pins) : -1;
}

int virq_src_classify(const struct virq_src_kernel *in, struct virq_src_counts *out,
		      int *timer_vector)
{
	uint64_t best = 0;
	int timer = -1;

	if (!in || !out || !in->vcpus || !in->srcvec || in->nr_vcpus > VIRQ_XC_MAX_VCPUS)
		return -EINVAL;
	/* The timer: of the vectors no source event used, the one accepted most. */
	for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
		uint64_t acc = 0;

		if (vec_kinds(in, v))
			continue;
		for (uint32_t c = 0; c < in->nr_vcpus; c++)
			acc += in->vcpus[c].k_accept[v];
		if (acc > best) {
			best = acc;
			timer = (int)v;
		}
	}
	if (timer_vector)
		*timer_vector = timer;
	for (uint32_t c = 0; c < in->nr_vcpus; c++) {
		const struct virq_xcheck_vcpu *vc = &in->vcpus[c];
		struct virq_src_counts *o = &out[c];

		memset(o, 0, sizeof(*o));
		for (unsigned int v = 0; v < VIRQ_XC_NR_VECTORS; v++) {
			uint64_t a = vc->k_accept[v];
			unsigned int m = 0;
			enum virq_src s;

			if (!a)
				continue;
			if (in->dstpaths && vc->apic_id < VIRQ_XC_MAX_VCPUS)
				m = remap(in, v, in->dstpaths[vc->apic_id][v] & KINDS);
			if (!m) /* no source named this vCPU: the vector's, VM-wide */
				m = vec_kinds(in, v);
			if (!m)
				s = (int)v == timer ? VIRQ_SRC_TIMER : VIRQ_SRC_LVT_OTHER;
			else if (m & (m - 1))
				s = VIRQ_SRC_UNKNOWN;
			else if (m == KIND_IPI)
				s = VIRQ_SRC_IPI;
			else if (m == KIND_MSI)
				s = VIRQ_SRC_MSI;
			else
				s = VIRQ_SRC_IOAPIC;
			o->n[s] += a;
			if (s == VIRQ_SRC_IOAPIC) {
				int pin = one_pin((in->vecpins ? in->vecpins[v] : 0) |
						  (in->split_pins ? in->split_pins[v] : 0));

				if (pin >= 0)
					o->pin[pin] += a;
			}
		}
		o->n[VIRQ_SRC_NMI] = vc->k_accept_dm[VIRQ_DM_NMI];
		o->n[VIRQ_SRC_INIT_SIPI] =
			vc->k_accept_dm[VIRQ_DM_INIT] + vc->k_accept_dm[VIRQ_DM_STARTUP];
		o->n[VIRQ_SRC_EXTINT] = vc->k_accept_dm[VIRQ_DM_EXTINT];
		o->n[VIRQ_SRC_UNKNOWN] += vc->k_accept_dm[VIRQ_DM_SMI];
	}
	return 0;
}
