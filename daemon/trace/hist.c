// SPDX-License-Identifier: MIT
/* Log2 latency histogram helpers: the userspace mirror of the BPF side's bucket math. */
#include "virq/trace.h"

const char *virq_trace_hist_name(enum virq_trace_hist h)
{
	switch (h) {
	case VIRQ_THIST_SRC_TO_ACCEPT:
		return "src_to_accept";
	case VIRQ_THIST_ACCEPT_TO_INJECT:
		return "accept_to_inject";
	case VIRQ_THIST_ACCEPT_TO_VCPU:
		return "accept_to_vcpu";
	case VIRQ_THIST_WAKEUP:
		return "wakeup";
	case VIRQ_THIST__COUNT:
		break;
	}
	return "?";
}

unsigned int virq_trace_hist_slot(uint64_t ns)
{
	unsigned int r;

	if (ns < 2)
		return 0;
	r = 63u - (unsigned int)__builtin_clzll(ns);
	return r < VIRQ_TRACE_HIST_SLOTS ? r : VIRQ_TRACE_HIST_SLOTS - 1;
}

uint64_t virq_trace_hist_slot_low(unsigned int slot)
{
	if (slot == 0)
		return 0;
	if (slot >= VIRQ_TRACE_HIST_SLOTS)
		slot = VIRQ_TRACE_HIST_SLOTS - 1;
	return 1ull << slot;
}

uint64_t virq_trace_hist_quantile(const struct virq_trace_hist_val *v, double q)
{
	uint64_t total = 0, seen = 0, want;
	unsigned int i;

	for (i = 0; i < VIRQ_TRACE_HIST_SLOTS; i++)
		total += v->slots[i];
	if (!total)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	want = (uint64_t)(q * (double)total + 0.5);
	if (want == 0)
		want = 1;
	for (i = 0; i < VIRQ_TRACE_HIST_SLOTS; i++) {
		seen += v->slots[i];
		if (seen >= want)
			return i + 1 < 64 ? (2ull << i) - 1 : UINT64_MAX; /* slot's upper bound */
	}
	return UINT64_MAX;
}
