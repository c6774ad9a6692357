// SPDX-License-Identifier: MIT
/*
 * Fuzz MSI decoding: every message either decodes to an in-range interrupt that encodes
 * back to a message decoding to the same interrupt, or is rejected with a named reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virq/msi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i + 12 < size; i += 13) {
		uint32_t lo, hi, d, lo2, hi2, d2;
		unsigned int flags = data[i + 12] & 7;
		struct virq_irq irq, again;
		enum virq_msi_status st;

		memcpy(&lo, data + i, 4);
		memcpy(&hi, data + i + 4, 4);
		memcpy(&d, data + i + 8, 4);
		if (data[i + 12] & 0x80) /* stay in the window most of the time */
			lo = 0xfee00000u | (lo & 0xfffff);
		if (data[i + 12] & 0x40)
			hi = 0;
		st = virq_msi_decode(lo, hi, d, flags, &irq);
		if (st >= VIRQ_MSI_STATUS__COUNT || !strcmp(virq_msi_status_name(st), "unknown"))
			abort();
		if (st != VIRQ_MSI_OK)
			continue;
		if (irq.delivery_mode == VIRQ_DM_REMOTE_READ ||
		    irq.delivery_mode == VIRQ_DM_STARTUP || irq.delivery_mode > 7 ||
		    irq.path != VIRQ_PATH_MSI)
			abort();
		if ((irq.delivery_mode <= VIRQ_DM_LOWEST && irq.vector < 16) ||
		    (!irq.x2apic_dest && irq.dest > 0xff) || (!irq.level_trig && !irq.level))
			abort();
		if (virq_msi_encode(&irq, flags, &lo2, &hi2, &d2))
			abort();
		if (virq_msi_decode(lo2, hi2, d2, flags, &again) != VIRQ_MSI_OK ||
		    memcmp(&irq, &again, sizeof(irq)))
			abort();
	}
	return 0;
}
