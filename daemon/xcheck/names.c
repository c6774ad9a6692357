// SPDX-License-Identifier: MIT
/* Name tables of the cross-check engine: the closed vocabularies of include/virq/xcheck.h. */
#include <errno.h>
#include <string.h>

#include "virq/xcheck.h"

static const char *const verdict_names[VIRQ_XC_VERDICT__COUNT] = {
	[VIRQ_XC_CONSISTENT] = "consistent",
	[VIRQ_XC_COALESCED] = "coalesced",
	[VIRQ_XC_PENDING] = "pending",
	[VIRQ_XC_REFIRED] = "refired",
	[VIRQ_XC_LOST] = "lost",
	[VIRQ_XC_SPURIOUS] = "spurious",
	[VIRQ_XC_MISROUTED] = "misrouted",
	[VIRQ_XC_UNOBSERVABLE] = "unobservable",
};

static const char *const kind_names[VIRQ_XC_KIND__COUNT] = {
	[VIRQ_XC_K_SOURCE] = "inject-vs-source",
	[VIRQ_XC_K_ACCEPT] = "accept",
	[VIRQ_XC_K_GUEST] = "guest",
	[VIRQ_XC_K_EOI] = "kernel-eoi",
	[VIRQ_XC_K_INJ_STAT] = "inj-virq-stat",
	[VIRQ_XC_K_IRQ_STAT] = "irq-injections",
	[VIRQ_XC_K_NMI_STAT] = "nmi-injections",
	[VIRQ_XC_K_EXIT_REASON] = "exit-reason",
	[VIRQ_XC_K_EXIT_HLT] = "exit-hlt",
	[VIRQ_XC_K_EXIT_IO_STAT] = "exit-io-stat",
	[VIRQ_XC_K_EXIT_IO_EVENTS] = "exit-io-events",
	[VIRQ_XC_K_EXIT_MMIO_STAT] = "exit-mmio-stat",
	[VIRQ_XC_K_EXIT_MMIO_EVENTS] = "exit-mmio-events",
	[VIRQ_XC_K_EXIT_TOTAL] = "exit-total",
};

static const char *const path_names[VIRQ_XC_PATH__COUNT + 1] = {
	[VIRQ_XC_PATH_PIC] = "pic",	  [VIRQ_XC_PATH_IOAPIC] = "ioapic",
	[VIRQ_XC_PATH_MSI] = "msi",	  [VIRQ_XC_PATH_IPI] = "ipi",
	[VIRQ_XC_PATH_NMI] = "nmi",	  [VIRQ_XC_PATH_TIMER] = "timer",
	[VIRQ_XC_PATH_POSTED] = "posted", [VIRQ_XC_PATH_VM] = "vm",
};

static const char *const tp_names[VIRQ_XC_TP__COUNT] = {
	[VIRQ_XC_TP_NONE] = "none",
	[VIRQ_XC_TP_SET_IRQ] = "kvm_set_irq",
	[VIRQ_XC_TP_MSI_SET_IRQ] = "kvm_msi_set_irq",
	[VIRQ_XC_TP_PIC_SET_IRQ] = "kvm_pic_set_irq",
	[VIRQ_XC_TP_IOAPIC_SET_IRQ] = "kvm_ioapic_set_irq",
	[VIRQ_XC_TP_APIC_IPI] = "kvm_apic_ipi",
	[VIRQ_XC_TP_APIC_ACCEPT_IRQ] = "kvm_apic_accept_irq",
	[VIRQ_XC_TP_APICV_ACCEPT_IRQ] = "kvm_apicv_accept_irq",
	[VIRQ_XC_TP_INJ_VIRQ] = "kvm_inj_virq",
	[VIRQ_XC_TP_EOI] = "kvm_eoi",
	[VIRQ_XC_TP_USERSPACE_EXIT] = "kvm_userspace_exit",
	[VIRQ_XC_TP_PIO] = "kvm_pio",
	[VIRQ_XC_TP_MMIO] = "kvm_mmio",
	[VIRQ_XC_TP_EXIT] = "kvm_exit",
};

static const char *const src_state_names[VIRQ_XC_SRC__COUNT] = {
	[VIRQ_XC_SRC_ABSENT] = "absent",
	[VIRQ_XC_SRC_LIVE] = "live",
	[VIRQ_XC_SRC_SILENT] = "silent",
	[VIRQ_XC_SRC_UNAVAILABLE] = "unavailable",
};

static const char *const stat_names[VIRQ_XC_STAT__COUNT] = {
	[VIRQ_XC_STAT_IRQ_INJECTIONS] = "irq_injections",
	[VIRQ_XC_STAT_NMI_INJECTIONS] = "nmi_injections",
	[VIRQ_XC_STAT_EXITS] = "exits",
	[VIRQ_XC_STAT_HALT_EXITS] = "halt_exits",
	[VIRQ_XC_STAT_IRQ_EXITS] = "irq_exits",
	[VIRQ_XC_STAT_MMIO_EXITS] = "mmio_exits",
	[VIRQ_XC_STAT_IO_EXITS] = "io_exits",
	[VIRQ_XC_STAT_IRQ_WINDOW_EXITS] = "irq_window_exits",
};

static const char *const dev_names[VIRQ_XC_DEV__COUNT] = {
	[VIRQ_XC_DEV_ISR_NEVER_SET] = "isr-never-set",
	[VIRQ_XC_DEV_LOWER_PREEMPTS] = "lower-vector-preempts",
	[VIRQ_XC_DEV_REMOTE_IRR_AT_INJECTION] = "remote-irr-cleared-at-injection",
};

static const char *const dev_status_names[VIRQ_XC_DEV_STATUS__COUNT] = {
	[VIRQ_XC_DEV_DEVIATES] = "deviates",
	[VIRQ_XC_DEV_CONFORMS] = "conforms",
	[VIRQ_XC_DEV_MIXED] = "mixed",
};

static const char *name_of(const char *const *tab, unsigned int n, unsigned int i)
{
	return i < n && tab[i] ? tab[i] : "unknown";
}

static int parse_of(const char *const *tab, unsigned int n, const char *s)
{
	if (!s)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++)
		if (tab[i] && !strcmp(tab[i], s))
			return (int)i;
	return -EINVAL;
}

#define N(tab) ((unsigned int)(sizeof(tab) / sizeof((tab)[0])))

const char *virq_xcheck_verdict_name(enum virq_xcheck_verdict v)
{
	return name_of(verdict_names, N(verdict_names), (unsigned int)v);
}

const char *virq_xcheck_kind_name(enum virq_xcheck_kind k)
{
	return name_of(kind_names, N(kind_names), (unsigned int)k);
}

const char *virq_xcheck_path_name(enum virq_xcheck_path p)
{
	return name_of(path_names, N(path_names), (unsigned int)p);
}

const char *virq_xcheck_tp_name(enum virq_xcheck_tp tp)
{
	return name_of(tp_names, N(tp_names), (unsigned int)tp);
}

const char *virq_xcheck_src_state_name(enum virq_xcheck_src_state s)
{
	return name_of(src_state_names, N(src_state_names), (unsigned int)s);
}

const char *virq_xcheck_stat_name(enum virq_xcheck_stat s)
{
	return name_of(stat_names, N(stat_names), (unsigned int)s);
}

const char *virq_xcheck_dev_name(enum virq_xcheck_dev d)
{
	return name_of(dev_names, N(dev_names), (unsigned int)d);
}

const char *virq_xcheck_dev_status_name(enum virq_xcheck_dev_status s)
{
	return name_of(dev_status_names, N(dev_status_names), (unsigned int)s);
}

int virq_xcheck_verdict_parse(const char *s)
{
	return parse_of(verdict_names, N(verdict_names), s);
}

int virq_xcheck_kind_parse(const char *s)
{
	return parse_of(kind_names, N(kind_names), s);
}

int virq_xcheck_path_parse(const char *s)
{
	return parse_of(path_names, N(path_names), s);
}

int virq_xcheck_dev_parse(const char *s)
{
	return parse_of(dev_names, N(dev_names), s);
}

int virq_xcheck_dev_status_parse(const char *s)
{
	return parse_of(dev_status_names, N(dev_status_names), s);
}

enum virq_xcheck_path virq_xcheck_path_from_irq(enum virq_path p)
{
	switch (p) {
	case VIRQ_PATH_PIC:
	case VIRQ_PATH_LINT: /* LINT0 in ExtINT mode carries the PIC's INTR */
		return VIRQ_XC_PATH_PIC;
	case VIRQ_PATH_IOAPIC:
		return VIRQ_XC_PATH_IOAPIC;
	case VIRQ_PATH_MSI:
		return VIRQ_XC_PATH_MSI;
	case VIRQ_PATH_IPI:
		return VIRQ_XC_PATH_IPI;
	case VIRQ_PATH_NMI:
		return VIRQ_XC_PATH_NMI;
	case VIRQ_PATH_TIMER:
		return VIRQ_XC_PATH_TIMER;
	default:
		return VIRQ_XC_PATH_VM;
	}
}
