/* SPDX-License-Identifier: MIT */
/*
 * virq: interrupts by source, per vCPU, comparable across irqchip modes (daemon/xcheck/
 * irqsrc.c; `vm.stats` "sources", `virqctl vm compare`).
 *
 * What is counted: acceptances. An interrupt is counted once per target LAPIC when it
 * reaches that LAPIC, whether it sets a new IRR bit or merges into one already set
 * (coalesced: SDM Vol. 3A 11.8.4, one IRR bit per vector). That is what both sides can
 * see: KVM's kvm_apic_accept_irq tracepoint fires in __apic_accept_irq before the IRR is
 * looked at, and our LAPIC counts at acceptance (lapic.h fixed_by_path[]). Coalesced
 * interrupts are in the counts, not lost from them; the guest took fewer (INTA: the
 * vm.ledger of user mode) by exactly the coalesced ones.
 *
 * Where the source comes from:
 *   - user mode: our LAPIC knows it at acceptance (the message's path and IOAPIC pin,
 *     the LVT that fired): virq_src_from_lapic(). Posted MSIs merged in the PIR before
 *     they reached the LAPIC (post_coalesced) are MSIs too.
 *   - kernel/split mode: BPF. A kvm_apic_accept_irq per target vCPU and vector is
 *     attributed to the source events of that vector (kvm_ioapic_set_irq with its pin,
 *     kvm_msi_set_irq, kvm_apic_ipi), those naming the vCPU's APIC ID first; a vector
 *     with no source event is the LAPIC's own (an LVT, kvm_apic_local_deliver has no
 *     tracepoint): the one with the most accepts in the VM is the timer, the others
 *     lvt_other. Split mode's IOAPIC is ours and reaches KVM as kvm_msi_set_irq: the
 *     VMM notes which vectors its IOAPIC sent from which pin, and such MSIs are that
 *     pin's (a vector an MSI device shares with an IOAPIC pin counts as the pin's).
 *     NMI, INIT/SIPI and ExtINT accepts by delivery mode. The 8259A's ExtINT goes
 *     through no accept in KVM: it is a VM-wide count there (vm.stats "unattributed").
 *
 * Pure: no I/O, no allocation. Any thread.
 */
#ifndef VIRQ_IRQSRC_H
#define VIRQ_IRQSRC_H

#include <stdint.h>

#include "virq/lapic.h"
#include "virq/xcheck.h"

enum virq_src {
	VIRQ_SRC_TIMER = 0, /* LVT timer */
	VIRQ_SRC_IPI, /* fixed and lowest-priority IPIs */
	VIRQ_SRC_INIT_SIPI, /* INIT (de-asserts included) and SIPI */
	VIRQ_SRC_NMI, /* NMIs of any origin (IPI, MSI, LINT1) */
	VIRQ_SRC_IOAPIC, /* IOAPIC pins (by pin in pin[]) */
	VIRQ_SRC_MSI, /* MSI/MSI-X messages (devices) */
	VIRQ_SRC_EXTINT, /* the 8259A through ExtINT (LINT0 virtual wire or an RTE) */
	VIRQ_SRC_LINT, /* LINT0/LINT1 in fixed mode */
	VIRQ_SRC_LVT_OTHER, /* error, thermal, perf, CMCI LVTs; a sourceless vector */
	VIRQ_SRC_UNKNOWN, /* a vector two kinds of source used, not told apart */
	VIRQ_SRC__COUNT
};

#define VIRQ_SRC_PINS VIRQ_LAPIC_SRC_PINS

struct virq_src_counts {
	uint64_t n[VIRQ_SRC__COUNT];
	/* n[VIRQ_SRC_IOAPIC] by pin; what is not here had no single pin (pins >= 32, or a
	 * vector used by two pins) */
	uint64_t pin[VIRQ_SRC_PINS];
};

/* "timer", "ipi", "init_sipi", "nmi", "ioapic", "msi", "extint", "lint", "lvt_other",
 * "unknown"; "?" out of range. */
const char *virq_src_name(enum virq_src s);

/* User mode: one vCPU's counts from its LAPIC's statistics, plus the MSIs its posted-
 * interrupt descriptor merged before they reached the LAPIC. Overwrites *out. */
void virq_src_from_lapic(const struct virq_lapic_stats *st, uint64_t post_coalesced,
			 struct virq_src_counts *out);

/* Kernel/split mode: BPF's evidence of one VM (observe.c fills it). */
struct virq_src_kernel {
	uint32_t nr_vcpus; /* <= VIRQ_XC_MAX_VCPUS */
	/* k_accept[] (fixed/lowest accepts per vector), k_accept_dm[], apic_id */
	const struct virq_xcheck_vcpu *vcpus;
	/* source events per cross-check path and vector ([VIRQ_XC_PATH__COUNT]): IOAPIC,
	 * MSI and IPI are used */
	const uint64_t (*srcvec)[VIRQ_XC_NR_VECTORS];
	/* per target APIC ID (< VIRQ_XC_MAX_VCPUS) and vector, a bit per path whose
	 * sources named that APIC ID; NULL: none known */
	const uint8_t (*dstpaths)[VIRQ_XC_NR_VECTORS];
	/* per vector, the IOAPIC pins (bit per pin < 32) its kvm_ioapic_set_irq named */
	const uint32_t *vecpins;
	/* split mode: per vector, the pins of our IOAPIC that sent it as an MSI; else NULL */
	const uint32_t *split_pins;
};

/*
 * Attributes every accept of in->vcpus to a source (rules above) into out[0..nr_vcpus),
 * which it overwrites. *timer_vector (may be NULL) gets the vector taken as the timer,
 * or -1. Returns 0, or -EINVAL (NULL pointers, nr_vcpus beyond the bound).
 */
int virq_src_classify(const struct virq_src_kernel *in, struct virq_src_counts *out,
		      int *timer_vector);

#endif /* VIRQ_IRQSRC_H */
