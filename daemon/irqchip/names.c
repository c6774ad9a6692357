// SPDX-License-Identifier: MIT
#include "virq/irq.h"

const char *virq_path_name(enum virq_path p)
{
	static const char *const names[VIRQ_PATH__COUNT] = {
		[VIRQ_PATH_PIC] = "pic",   [VIRQ_PATH_IOAPIC] = "ioapic",
		[VIRQ_PATH_MSI] = "msi",   [VIRQ_PATH_IPI] = "ipi",
		[VIRQ_PATH_NMI] = "nmi",   [VIRQ_PATH_TIMER] = "timer",
		[VIRQ_PATH_LINT] = "lint", [VIRQ_PATH_OTHER] = "other",
	};
	return (unsigned)p < VIRQ_PATH__COUNT ? names[p] : "unknown";
}

const char *virq_dm_name(enum virq_delivery_mode dm)
{
	static const char *const names[8] = { "fixed", "lowest", "smi",	    "remote-read",
					      "nmi",   "init",	 "startup", "extint" };
	return (unsigned)dm < 8 ? names[dm] : "unknown";
}
