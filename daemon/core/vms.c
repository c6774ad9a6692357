// SPDX-License-Identifier: MIT
/* The daemon's table of VMs it runs (the VMM engine owns the VMs themselves). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "virq/vmm.h"

struct virqd_vm *virqd_vm_find(struct virqd *d, const char *key)
{
	char *end;
	unsigned long id = strtoul(key, &end, 10);
	bool numeric = *key && !*end;

	for (unsigned int i = 0; i < d->nr_vms; i++) {
		if (numeric ? d->vms[i].id == id : !strcmp(virq_vm_name(d->vms[i].vm), key))
			return &d->vms[i];
	}
	return NULL;
}

void virqd_vm_remove(struct virqd *d, unsigned int idx)
{
	struct virqd_vm *v = &d->vms[idx];

	if (idx >= d->nr_vms)
		return;
	if (v->trace_vm_id) {
		d->retired_ids[d->nr_retired % VIRQD_RETIRED_IDS] = v->trace_vm_id;
		d->nr_retired++;
	}
	virq_vm_destroy(v->vm);
	memmove(&d->vms[idx], &d->vms[idx + 1], (d->nr_vms - idx - 1) * sizeof(*v));
	d->nr_vms--;
}

void virqd_vms_finalise(struct virqd *d)
{
	unsigned int n = d->nr_vms, kept = 0;

	/* Stop all first (their vCPU threads exit in parallel), then free. */
	for (unsigned int i = 0; i < d->nr_vms; i++)
		virq_vm_stop(d->vms[i].vm);
	for (unsigned int i = 0; i < d->nr_vms; i++) {
		if (virqd_jobs_key_busy(&d->jobs, d->vms[i].id)) {
			/* A worker still uses it: leave it to the process exit. */
			kept++;
			continue;
		}
		virq_vm_destroy(d->vms[i].vm);
	}
	if (n)
		virq_log(LOG_NOTICE, "stopped %u VM(s)%s", n,
			 kept ? " (some still in use by a scenario worker, not freed)" : "");
	d->nr_vms = 0;
}

/* A VM that stopped without being asked (triple fault, emulation error) is an anomaly:
 * count it once, log it rate-limited; the VM stays listed with its reason. */
void virqd_vms_poll(struct virqd *d)
{
	for (unsigned int i = 0; i < d->nr_vms; i++) {
		char reason[VIRQ_VM_REASON_MAX] = "";
		uint64_t missed = 0;

		if (d->vms[i].stop_seen ||
		    virq_vm_state(d->vms[i].vm, reason, sizeof(reason)) != VIRQ_VM_STOPPED)
			continue;
		d->vms[i].stop_seen = true;
		if (!strcmp(reason, "stopped by request"))
			continue;
		d->cnt.vm_failures++;
		d->cnt.anomalies++;
		if (virq_ratelimit_allow(&d->anomaly_rl, virqd_now_ns(), &missed))
			virq_log(LOG_WARNING, "VM %s stopped: %s%s", virq_vm_name(d->vms[i].vm),
				 reason, missed ? " (earlier anomalies suppressed)" : "");
	}
}
