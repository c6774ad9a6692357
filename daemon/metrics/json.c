// SPDX-License-Identifier: MIT
/*
 * /api/v1/stats: the snapshot as JSON, for json_exporter and for people with curl and jq.
 *
 * json_exporter's JSONPath objects cannot see their parent, so every record that becomes a
 * labelled series carries its own labels ("vm", "path", ...) even where that repeats the
 * enclosing object. Numbers are JSON numbers (doubles): counters stay exact up to 2^53.
 */
#include "virq/metrics.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIRQ_STATS_JSON_SCHEMA "virq.stats/1"

/* cJSON_Add* return NULL on allocation failure; one flag collects them all. */
struct jctx {
	bool oom;
};

static cJSON *add_obj(struct jctx *j, cJSON *parent, const char *key)
{
	cJSON *o = cJSON_AddObjectToObject(parent, key);

	j->oom |= !o;
	return o;
}

static cJSON *add_arr(struct jctx *j, cJSON *parent, const char *key)
{
	cJSON *a = cJSON_AddArrayToObject(parent, key);

	j->oom |= !a;
	return a;
}

static void add_num(struct jctx *j, cJSON *o, const char *key, double v)
{
	if (o)
		j->oom |= !cJSON_AddNumberToObject(o, key, v);
}

static void add_str(struct jctx *j, cJSON *o, const char *key, const char *v)
{
	if (o)
		j->oom |= !cJSON_AddStringToObject(o, key, v);
}

static cJSON *arr_item(struct jctx *j, cJSON *arr)
{
	cJSON *o;

	if (!arr)
		return NULL;
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		j->oom = true;
		return NULL;
	}
	return o;
}

static void vcpu_field(struct jctx *j, cJSON *o, int32_t vcpu)
{
	char num[16];

	/* A string, so json_exporter can use it as a label like any other. */
	if (vcpu == VIRQ_STATS_VCPU_VM)
		snprintf(num, sizeof(num), "vm");
	else
		snprintf(num, sizeof(num), "%d", vcpu);
	add_str(j, o, "vcpu", num);
}

static void render_path(struct jctx *j, cJSON *arr, const struct virq_stats_vm *vm, int p)
{
	const struct virq_stats_hist *h = &vm->latency[p];
	cJSON *o = arr_item(j, arr), *v, *lat, *b;
	uint64_t cum = 0;
	unsigned int slot = 0;
	char le[32];

	if (!o)
		return;
	add_str(j, o, "vm", vm->name);
	add_str(j, o, "path", virq_stats_path_name(p));
	add_num(j, o, "injected", (double)vm->path[p].injected);
	add_num(j, o, "received", (double)vm->path[p].received);
	add_num(j, o, "coalesced", (double)vm->path[p].coalesced);
	add_num(j, o, "lost", (double)vm->path[p].lost);
	add_num(j, o, "mismatches", (double)vm->mismatches[p]);
	v = add_obj(j, o, "verdicts");
	for (int k = 0; k < VIRQ_VERDICT__COUNT && v; k++)
		add_num(j, v, virq_verdict_name(k), (double)vm->verdicts[p][k]);
	lat = add_obj(j, o, "latency");
	if (!lat)
		return;
	b = add_obj(j, lat, "buckets");
	for (unsigned int k = VIRQ_METRICS_LE_FIRST_LOG2; k <= VIRQ_METRICS_LE_LAST_LOG2 && b;
	     k += VIRQ_METRICS_LE_STEP_LOG2) {
		for (; slot < k; slot++)
			cum += h->slot[slot];
		snprintf(le, sizeof(le), "%.10g", (double)(1ull << k) / 1e9);
		add_num(j, b, le, (double)cum);
	}
	for (; slot < VIRQ_STATS_HIST_SLOTS; slot++)
		cum += h->slot[slot];
	add_num(j, b, "+Inf", (double)cum);
	add_num(j, lat, "count", (double)cum);
	add_num(j, lat, "sum_seconds", (double)h->sum_ns / 1e9);
}

static void render_vm(struct jctx *j, cJSON *arr, const struct virq_stats_vm *vm,
		      const struct virq_metrics_opts *opts)
{
	cJSON *o = arr_item(j, arr), *a;
	char num[16];

	if (!o)
		return;
	add_str(j, o, "name", vm->name);
	add_str(j, o, "mode", virq_vm_mode_name(vm->mode));
	add_str(j, o, "origin", virq_vm_origin_name(vm->origin));
	add_str(j, o, "state", vm->exited ? "exited" : "running");
	/* A number (json_exporter's {.vcpus} label template renders it as text). */
	add_num(j, o, "vcpus", (double)vm->nr_vcpus);
	add_num(j, o, "pid", vm->pid);

	a = add_arr(j, o, "paths");
	for (int p = 0; p < VIRQ_SPATH__COUNT && a; p++)
		render_path(j, a, vm, p);

	a = add_arr(j, o, "exits");
	for (uint32_t e = 0; e < vm->nr_exits && a; e++) {
		cJSON *x = arr_item(j, a);

		add_str(j, x, "vm", vm->name);
		vcpu_field(j, x, vm->exits[e].vcpu);
		add_str(j, x, "reason", vm->exits[e].reason);
		add_str(j, x, "source", virq_exit_source_name(vm->exits[e].source));
		add_num(j, x, "count", (double)vm->exits[e].count);
	}
	a = add_arr(j, o, "kvm_stats");
	for (uint32_t k = 0; k < vm->nr_kvm_stats && a; k++) {
		cJSON *x = arr_item(j, a);

		add_str(j, x, "vm", vm->name);
		vcpu_field(j, x, vm->kvm_stats[k].vcpu);
		add_str(j, x, "name", vm->kvm_stats[k].name);
		add_num(j, x, "value", (double)vm->kvm_stats[k].value);
	}
	if (opts->per_vector) {
		a = add_arr(j, o, "vectors");
		for (uint32_t v = 0; v < vm->nr_vectors && a; v++) {
			cJSON *x = arr_item(j, a);

			snprintf(num, sizeof(num), "%u", vm->vectors[v].vector);
			add_str(j, x, "vm", vm->name);
			add_str(j, x, "path", virq_stats_path_name(vm->vectors[v].path));
			add_str(j, x, "vector", num);
			add_num(j, x, "count", (double)vm->vectors[v].count);
		}
	}
	if (opts->per_gsi) {
		a = add_arr(j, o, "gsis");
		for (uint32_t g = 0; g < vm->nr_gsis && a; g++) {
			cJSON *x = arr_item(j, a);

			snprintf(num, sizeof(num), "%u", vm->gsis[g].gsi);
			add_str(j, x, "vm", vm->name);
			add_str(j, x, "gsi", num);
			add_num(j, x, "count", (double)vm->gsis[g].count);
		}
	}
}

int virq_metrics_render_json(const struct virq_stats_snapshot *s,
			     const struct virq_metrics_opts *opts, char **out, size_t *len)
{
	static const struct virq_metrics_opts none;
	struct jctx j = { .oom = false };
	cJSON *root, *a, *bpf, *lost;
	char *txt;

	if (!s || !out || !len)
		return -EINVAL;
	if (!opts)
		opts = &none;
	root = cJSON_CreateObject();
	if (!root)
		return -ENOMEM;
	add_str(&j, root, "schema", VIRQ_STATS_JSON_SCHEMA);
	add_str(&j, root, "version", VIRQ_VERSION);
	add_str(&j, root, "commit", VIRQ_GIT_COMMIT);
	add_num(&j, root, "seq", (double)s->seq);
	add_num(&j, root, "timestamp", (double)s->taken_unix_ns / 1e9);
	add_num(&j, root, "start_time", s->daemon_start_unix);
	add_num(&j, root, "stats_dropped", (double)s->stats_dropped);

	a = add_arr(&j, root, "vms");
	for (uint32_t i = 0; i < s->nr_vms && a; i++)
		render_vm(&j, a, s->vms[i], opts);

	bpf = add_obj(&j, root, "bpf");
	add_num(&j, bpf, "ringbuf_drops", (double)s->ringbuf_drops);
	lost = add_obj(&j, bpf, "lost");
	for (int w = 0; w < VIRQ_BPF_LOST__COUNT; w++)
		add_num(&j, lost, virq_bpf_lost_name((enum virq_bpf_lost)w),
			(double)s->bpf_lost[w]);
	a = bpf ? add_arr(&j, bpf, "points") : NULL;
	for (uint32_t i = 0; i < s->nr_bpf && a; i++) {
		cJSON *x = arr_item(&j, a);

		add_str(&j, x, "tracepoint", s->bpf[i].tracepoint);
		add_str(&j, x, "variant", s->bpf[i].variant);
		add_str(&j, x, "state", virq_attach_state_name(s->bpf[i].state));
		add_num(&j, x, "events", (double)s->bpf[i].events);
	}

	if (j.oom) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	txt = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!txt)
		return -ENOMEM;
	*out = txt;
	*len = strlen(txt);
	return 0;
}
