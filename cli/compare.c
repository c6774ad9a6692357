// SPDX-License-Identifier: MIT
/*
 * `virqctl vm compare A B [C ...]`: the same kernel on different irqchips, side by side.
 * Per VM: mode, state, run time (start to stop: a guest that powers off at the end of its
 * boot gives its boot time), and per vCPU the counts every mode has from the same
 * source, KVM's binary stats (irq_injections: interrupts KVM gave the vCPU, whoever
 * raised them; exits, halt_exits, irq_window_exits), plus the VMM's userspace exits by
 * reason. A guest kernel in user mode adds our LAPIC's INTA counts per vector (its
 * guest ledger). Ratios are against the first VM. --json prints the collected documents.
 *
 * Then the interrupts by source (vm.stats "sources", include/virq/irqsrc.h): one row per
 * source (timer, ipi, gsi N, msi, extint, ...), a column per vCPU of each VM and one for
 * the VM (vCPUs plus what is known only VM-wide), the ratio of each VM's total to the
 * first's. Counted at acceptance by every mode (user: our LAPIC; kernel/split: BPF), so
 * the columns compare; a VM without them says why instead of showing zeros.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "virqctl.h"

#define MAX_CMP 8

static double cnum(const cJSON *o, const char *k)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(j) ? j->valuedouble : 0;
}

static const char *cstr(const cJSON *o, const char *k)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(j) && j->valuestring ? j->valuestring : "";
}

static cJSON *fetch(struct virqctl_conn *c, const char *cmd, const char *vm, int *ret)
{
	struct virq_proto_reply r;
	cJSON *args = NULL, *out;
	char err[256];

	if (vm) {
		args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "vm", vm);
	}
	if (virqctl_call(c, cmd, args, &r, err, sizeof(err))) {
		fprintf(stderr, "virqctl: %s\n", err);
		*ret = VIRQCTL_EXIT_PROTOCOL;
		return NULL;
	}
	if (r.err != VIRQ_E_OK) {
		fprintf(stderr, "virqctl: %s %s: %s: %s\n", cmd, vm ? vm : "", r.err_code,
			r.err_msg);
		virq_proto_reply_fini(&r);
		*ret = VIRQCTL_EXIT_DAEMON;
		return NULL;
	}
	out = cJSON_Duplicate(r.result, true);
	virq_proto_reply_fini(&r);
	return out;
}

/* Sum of KVM stat `name` over the VM's vCPUs (vcpu >= 0), or of vCPU `vcpu` only. */
static double kstat(const cJSON *stats, const char *name, int vcpu)
{
	const cJSON *s;
	double t = 0;

	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(stats, "kvm"))
	{
		if (strcmp(cstr(s, "name"), name) || cnum(s, "vcpu") < 0)
			continue;
		if (vcpu < 0 || (int)cnum(s, "vcpu") == vcpu)
			t += cnum(s, "value");
	}
	return t;
}

static double vmm_exits(const cJSON *stats, const char *reason, int vcpu)
{
	const cJSON *e;
	double t = 0;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(stats, "exits"))
	{
		const cJSON *by = cJSON_GetObjectItemCaseSensitive(e, "by_reason"), *it;

		if (vcpu >= 0 && (int)cnum(e, "vcpu") != vcpu)
			continue;
		cJSON_ArrayForEach(it, by) if (!reason || !strcmp(it->string, reason)) t +=
			it->valuedouble;
	}
	return t;
}

static void row(const char *label, const double *v, int n)
{
	printf("%-28s", label);
	for (int i = 0; i < n; i++)
		printf(" %14.0f", v[i]);
	if (n > 1 && v[0] > 0)
		for (int i = 1; i < n; i++)
			printf(" %7.2fx", v[i] / v[0]);
	printf("\n");
}

/* The count of source `key` ("timer", ..., or "gsi N") of vCPU entry `vc`. */
static double src_val(const cJSON *vc, const char *key)
{
	if (!strncmp(key, "gsi ", 4))
		return cnum(cJSON_GetObjectItemCaseSensitive(vc, "gsi"), key + 4);
	return cnum(vc, key);
}

static const cJSON *src_vcpu(const cJSON *src, int cpu)
{
	const cJSON *vc;

	cJSON_ArrayForEach(vc, cJSON_GetObjectItemCaseSensitive(
				       src, "vcpus")) if ((int)cnum(vc, "vcpu") == cpu) return vc;
	return NULL;
}

static bool src_ok(const cJSON *src)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(src, "available"));
}

/* The interrupts-by-source table (header comment). */
static void sources_table(cJSON **vm, cJSON **st, int n, int maxv)
{
	static const char *const cls[] = { "timer", "ipi",    "init_sipi", "nmi",	"ioapic",
					   "msi",   "extint", "lint",	   "lvt_other", "unknown" };
	const cJSON *src[MAX_CMP];
	char keys[16 + 32][16];
	int nk = 0;

	for (int i = 0; i < n; i++)
		src[i] = cJSON_GetObjectItemCaseSensitive(st[i], "sources");
	/* rows: the classes, the IOAPIC's pins after "ioapic" */
	for (size_t c = 0; c < sizeof(cls) / sizeof(cls[0]); c++) {
		snprintf(keys[nk++], sizeof(keys[0]), "%s", cls[c]);
		if (strcmp(cls[c], "ioapic"))
			continue;
		for (int pin = 0; pin < 32; pin++) {
			bool any = false;

			for (int i = 0; i < n && !any; i++)
				for (int cpu = 0; cpu < maxv && !any; cpu++) {
					const cJSON *vc = src_vcpu(src[i], cpu);
					char k[16];

					snprintf(k, sizeof(k), "gsi %d", pin);
					any = vc && src_val(vc, k) > 0;
				}
			if (any)
				snprintf(keys[nk++], sizeof(keys[0]), "gsi %d", pin);
		}
	}
	printf("\ninterrupts by source (acceptances: coalesced ones included)\n%-12s", "");
	for (int i = 0; i < n; i++)
		printf(" %*.*s", 8 * (maxv + 1) + maxv, 8 * (maxv + 1) + maxv, cstr(vm[i], "name"));
	printf("\n%-12s", "source");
	for (int i = 0; i < n; i++) {
		for (int cpu = 0; cpu < maxv; cpu++)
			printf(" %7s%d", "vcpu", cpu);
		printf(" %8s", "all");
	}
	for (int i = 1; i < n; i++)
		printf(" %7.7s", cstr(vm[i], "name"));
	printf("\n");
	for (int k = 0; k < nk; k++) {
		double all[MAX_CMP] = { 0 };
		bool shown = false;

		for (int i = 0; i < n; i++) {
			const cJSON *un = cJSON_GetObjectItemCaseSensitive(src[i], "unattributed");

			for (int cpu = 0; cpu < maxv; cpu++) {
				const cJSON *vc = src_vcpu(src[i], cpu);

				all[i] += vc ? src_val(vc, keys[k]) : 0;
			}
			all[i] += cnum(un, keys[k]);
			shown |= all[i] > 0;
		}
		/* always the rows every guest kernel has; the rest when any VM counted one */
		if (!shown && strcmp(keys[k], "timer") && strcmp(keys[k], "ipi") &&
		    strcmp(keys[k], "ioapic") && strcmp(keys[k], "msi"))
			continue;
		printf("%-12s", keys[k]);
		for (int i = 0; i < n; i++) {
			for (int cpu = 0; cpu < maxv; cpu++) {
				const cJSON *vc = src_vcpu(src[i], cpu);

				if (!src_ok(src[i]))
					printf(" %8s", "-");
				else if (!vc)
					printf(" %8s", "");
				else
					printf(" %8.0f", src_val(vc, keys[k]));
			}
			if (src_ok(src[i]))
				printf(" %8.0f", all[i]);
			else
				printf(" %8s", "n/a");
		}
		for (int i = 1; i < n; i++) {
			if (src_ok(src[0]) && src_ok(src[i]) && all[0] > 0)
				printf(" %6.2fx", all[i] / all[0]);
			else
				printf(" %7s", "-");
		}
		printf("\n");
	}
	for (int i = 0; i < n; i++) {
		if (!src[i])
			printf("%s: sources unavailable (daemon without vm.stats \"sources\")\n",
			       cstr(vm[i], "name"));
		else if (!src_ok(src[i]))
			printf("%s: sources unavailable (%s)\n", cstr(vm[i], "name"),
			       cstr(src[i], "reason"));
		else if (cJSON_GetObjectItemCaseSensitive(src[i], "timer_vector"))
			printf("%s: from %s; timer = vector 0x%02x (the sourceless vector accepted "
			       "most)%s\n",
			       cstr(vm[i], "name"), cstr(src[i], "from"),
			       (unsigned int)cnum(src[i], "timer_vector"),
			       cJSON_GetObjectItemCaseSensitive(src[i], "unattributed") ?
				       "; extint VM-wide only" :
				       "");
		else
			printf("%s: from %s\n", cstr(vm[i], "name"), cstr(src[i], "from"));
	}
}

int virqctl_compare(struct virqctl_conn *c, int argc, char **argv, bool json)
{
	cJSON *list, *vm[MAX_CMP] = { 0 }, *st[MAX_CMP] = { 0 }, *lg[MAX_CMP] = { 0 };
	int n = argc - 1, ret = VIRQCTL_EXIT_OK, maxv = 0;
	const cJSON *it;
	double v[MAX_CMP];

	if (n < 2 || n > MAX_CMP) {
		fprintf(stderr, "usage: virqctl vm compare VM VM [VM ...] (2..%d)\n", MAX_CMP);
		return VIRQCTL_EXIT_USAGE;
	}
	list = fetch(c, "vm.list", NULL, &ret);
	if (!list)
		return ret;
	for (int i = 0; i < n; i++) {
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "vms"))
		{
			char id[24];

			snprintf(id, sizeof(id), "%.0f", cnum(it, "id"));
			if (!strcmp(cstr(it, "name"), argv[i + 1]) || !strcmp(id, argv[i + 1]))
				vm[i] = (cJSON *)it;
		}
		if (!vm[i]) {
			fprintf(stderr, "virqctl: no VM \"%s\"\n", argv[i + 1]);
			ret = VIRQCTL_EXIT_DAEMON;
			goto out;
		}
		st[i] = fetch(c, "vm.stats", argv[i + 1], &ret);
		lg[i] = fetch(c, "vm.ledger", argv[i + 1], &ret);
		if (!st[i] || !lg[i])
			goto out;
		if (cnum(vm[i], "vcpus") > maxv)
			maxv = (int)cnum(vm[i], "vcpus");
	}
	if (json) {
		cJSON *o = cJSON_CreateArray();
		char *s;

		for (int i = 0; i < n; i++) {
			cJSON *e = cJSON_CreateObject();

			cJSON_AddItemToObject(e, "vm", cJSON_Duplicate(vm[i], true));
			cJSON_AddItemToObject(e, "stats", cJSON_Duplicate(st[i], true));
			cJSON_AddItemToObject(e, "ledger", cJSON_Duplicate(lg[i], true));
			cJSON_AddItemToArray(o, e);
		}
		s = cJSON_Print(o);
		puts(s);
		free(s);
		cJSON_Delete(o);
		goto out;
	}
	printf("%-28s", "");
	for (int i = 0; i < n; i++)
		printf(" %14.14s", cstr(vm[i], "name"));
	printf("\n%-28s", "irqchip");
	for (int i = 0; i < n; i++)
		printf(" %14.14s", cstr(vm[i], "irqchip"));
	printf("\n%-28s", "boot");
	for (int i = 0; i < n; i++)
		printf(" %14.14s", cstr(vm[i], "boot"));
	printf("\n%-28s", "state");
	for (int i = 0; i < n; i++)
		printf(" %14.14s", cstr(vm[i], "state"));
	printf("\n");
	for (int i = 0; i < n; i++)
		v[i] = cnum(vm[i], "run_ms");
	row("run ms (start to stop)", v, n);
	for (int cpu = -1; cpu < maxv; cpu++) {
		static const char *const stats[] = { "irq_injections", "exits", "halt_exits",
						     "irq_window_exits" };
		char label[48];

		for (size_t s = 0; s < sizeof(stats) / sizeof(stats[0]); s++) {
			for (int i = 0; i < n; i++)
				v[i] = kstat(st[i], stats[s], cpu);
			snprintf(label, sizeof(label), "%s %s", cpu < 0 ? "all" : "vcpu", stats[s]);
			if (cpu >= 0)
				snprintf(label, sizeof(label), "vcpu%d %s", cpu, stats[s]);
			row(label, v, n);
		}
		for (int i = 0; i < n; i++)
			v[i] = vmm_exits(st[i], NULL, cpu);
		snprintf(label, sizeof(label),
			 cpu < 0 ? "all userspace exits" : "vcpu%d userspace exits", cpu);
		row(label, v, n);
	}
	for (int i = 0; i < n; i++) {
		const cJSON *vc;

		if (strcmp(cstr(lg[i], "guest_ledger"), "lapic"))
			continue;
		printf("%s: our LAPIC's INTA per vector (guest ledger):", cstr(vm[i], "name"));
		cJSON_ArrayForEach(vc, cJSON_GetObjectItemCaseSensitive(lg[i], "vcpus"))
		{
			const cJSON *r;

			printf("\n  vcpu%.0f:", cnum(vc, "vcpu"));
			cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(
						      vc, "vectors")) if (cnum(r, "received") > 0)
				printf(" 0x%02x=%.0f", (unsigned int)cnum(r, "vector"),
				       cnum(r, "received"));
		}
		printf("\n");
	}
	sources_table(vm, st, n, maxv);
out:
	for (int i = 0; i < n; i++) {
		cJSON_Delete(st[i]);
		cJSON_Delete(lg[i]);
	}
	cJSON_Delete(list);
	return ret;
}
