// SPDX-License-Identifier: MIT
/*
 * `virqctl vm compare A B [C ...]`: the same kernel on different irqchips, side by side.
 * Per VM: mode, state, run time (start to stop: a guest that powers off at the end of its
 * boot gives its boot time), and per vCPU the counts every mode has from the same
 * source, KVM's binary stats (irq_injections: interrupts KVM gave the vCPU, whoever
 * raised them; exits, halt_exits, irq_window_exits), plus the VMM's userspace exits by
 * reason. A guest kernel in user mode adds our LAPIC's INTA counts per vector (its
 * guest ledger). Ratios are against the first VM. --json prints the collected documents.
 */
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
out:
	for (int i = 0; i < n; i++) {
		cJSON_Delete(st[i]);
		cJSON_Delete(lg[i]);
	}
	cJSON_Delete(list);
	return ret;
}
