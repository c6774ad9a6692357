// SPDX-License-Identifier: MIT
/* The exporter's renderers (include/virq/metrics.h) and the snapshot helpers (stats.h). */
#include "virq_test.h"
#include "virq/metrics.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *render(const struct virq_stats_snapshot *s, const struct virq_metrics_opts *o)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(virq_metrics_render_prometheus(s, o, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	return out;
}

static struct virq_stats_snapshot *synth(uint32_t vms, uint32_t vcpus, uint64_t tick)
{
	struct virq_stats_snapshot *s = virq_stats_snapshot_new();

	assert_non_null(s);
	assert_int_equal(virq_stats_synthesize(s, vms, vcpus, 7, tick), 0);
	return s;
}

/* The family a sample line belongs to: its name, minus a histogram suffix when the
 * declared family is a histogram. */
static void sample_family(const char *line, char *fam, size_t size, const char *hist_fam)
{
	size_t n = strcspn(line, "{ ");

	snprintf(fam, size, "%.*s", (int)n, line);
	if (hist_fam[0] && !strncmp(fam, hist_fam, strlen(hist_fam)))
		snprintf(fam, size, "%s", hist_fam);
}

/* Exposition format: one HELP and one TYPE per family, TYPE before the samples, the
 * samples of a family contiguous, counters named *_total. */
static void test_exposition_groups_each_family_once(void **state)
{
	struct virq_metrics_opts all = { true, true, true };
	struct virq_stats_snapshot *s = synth(5, 3, 10);
	char *out = render(s, &all), *save = NULL, *line;
	char seen[64][64], cur[64] = "", hist[64] = "", fam[64];
	int nseen = 0, families = 0, samples = 0;

	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "# HELP ", 7)) {
			char name[64];

			sscanf(line + 7, "%63s", name);
			for (int i = 0; i < nseen; i++)
				assert_string_not_equal(seen[i], name); /* one HELP per family */
			assert_true(nseen < 64);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", name);
			snprintf(cur, sizeof(cur), "%s", name);
			families++;
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			char name[64], type[16];

			assert_int_equal(sscanf(line + 7, "%63s %15s", name, type), 2);
			assert_string_equal(name, cur); /* TYPE right after its HELP */
			if (!strcmp(type, "counter"))
				assert_string_equal(name + strlen(name) - 6, "_total");
			else
				assert_string_not_equal(name + strlen(name) - 6, "_total");
			snprintf(hist, sizeof(hist), "%s", !strcmp(type, "histogram") ? name : "");
			continue;
		}
		assert_true(line[0] != '#');
		sample_family(line, fam, sizeof(fam), hist);
		assert_string_equal(fam,
				    cur); /* contiguous: a sample is always of the open family */
		assert_true(!strncmp(fam, "virq_", 5));
		samples++;
	}
	assert_true(families >= 18);
	assert_true(samples > 500);
	free(out);
	virq_stats_snapshot_free(s);
}

/* Label values escape backslash, double quote and line feed; invalid UTF-8 becomes
 * U+FFFD so the whole scrape stays parsable. */
static void test_label_values_are_escaped(void **state)
{
	struct virq_stats_snapshot *s = virq_stats_snapshot_new();
	char buf[64];
	char *out;

	assert_int_equal(virq_metrics_escape_label(buf, sizeof(buf), "a\\b\"c\nd"), 10);
	assert_string_equal(buf, "a\\\\b\\\"c\\nd");
	assert_true(virq_metrics_escape_label(buf, sizeof(buf),
					      "x\xff"
					      "y") > 0);
	assert_string_equal(buf, "x\xef\xbf\xbdy");
	assert_true(virq_metrics_escape_label(buf, sizeof(buf), "\xc3\xa9t\xc3\xa9") > 0);
	assert_string_equal(buf, "\xc3\xa9t\xc3\xa9"); /* valid UTF-8 passes untouched */
	assert_int_equal(virq_metrics_escape_label(buf, 4, "abcd"), -ENOSPC);

	assert_non_null(virq_stats_add_vm(s, "we\"ird\\vm\n", VIRQ_VM_MODE_USER,
					  VIRQ_VM_ORIGIN_STARTED, 1, 1));
	out = render(s, NULL);
	assert_non_null(strstr(out, "virq_vm_info{vm=\"we\\\"ird\\\\vm\\n\",mode=\"user\","
				    "vcpus=\"1\",origin=\"started\"} 1\n"));
	assert_non_null(strstr(out, "virq_vm_up{vm=\"we\\\"ird\\\\vm\\n\"} 1\n"));
	free(out);
	s->vms[0]->exited = true;
	out = render(s, NULL);
	assert_non_null(strstr(out, "virq_vm_up{vm=\"we\\\"ird\\\\vm\\n\"} 0\n"));
	free(out);
	virq_stats_snapshot_free(s);
}

/* Histograms: buckets cumulative and non-decreasing in le, le="+Inf" equal to _count,
 * _sum in seconds. Bucket le=2^k ns holds every sample below 2^k ns. */
static void test_histogram_buckets_are_cumulative_and_inf_equals_count(void **state)
{
	struct virq_stats_snapshot *s = virq_stats_snapshot_new();
	struct virq_stats_vm *vm =
		virq_stats_add_vm(s, "h", VIRQ_VM_MODE_KERNEL, VIRQ_VM_ORIGIN_STARTED, 1, 1);
	uint64_t samples[] = { 0, 1, 1023, 1024, 4095, 50000, 50000, 2000000000ull, 1ull << 45 };
	uint64_t prev = 0, sum = 0, cnt = 0, inf = 0, b1024 = 0, b4096 = 0;
	const char *pfx = "virq_delivery_latency_seconds_bucket{vm=\"h\",path=\"msi\",le=\"";
	double dsum = 0;
	char *out, *p;
	int nb = 0;

	for (size_t i = 0; i < sizeof(samples) / sizeof(*samples); i++) {
		virq_stats_hist_observe(&vm->latency[VIRQ_SPATH_MSI], samples[i]);
		sum += samples[i];
	}
	assert_int_equal(virq_stats_hist_count(&vm->latency[VIRQ_SPATH_MSI]), 9);
	out = render(s, NULL);
	for (p = strstr(out, pfx); p; p = strstr(p + 1, pfx)) {
		char le[32];
		unsigned long long v;

		assert_int_equal(sscanf(p + strlen(pfx), "%31[^\"]\"} %llu", le, &v), 2);
		assert_true(v >= prev);
		prev = v;
		nb++;
		if (!strcmp(le, "1.024e-06"))
			b1024 = v;
		if (!strcmp(le, "4.096e-06"))
			b4096 = v;
		if (!strcmp(le, "+Inf"))
			inf = v;
	}
	assert_int_equal(nb, 12);
	assert_int_equal(b1024, 3); /* 0, 1, 1023 < 1024 ns */
	assert_int_equal(b4096, 5); /* + 1024, 4095 */
	p = strstr(out, "virq_delivery_latency_seconds_count{vm=\"h\",path=\"msi\"} ");
	assert_non_null(p);
	assert_int_equal(sscanf(strchr(p, '}') + 2, "%llu", (unsigned long long *)&cnt), 1);
	assert_int_equal(cnt, 9);
	assert_int_equal(inf, cnt);
	p = strstr(out, "virq_delivery_latency_seconds_sum{vm=\"h\",path=\"msi\"} ");
	assert_non_null(p);
	assert_int_equal(sscanf(strchr(p, '}') + 2, "%lf", &dsum), 1);
	assert_float_equal(dsum, (double)sum / 1e9, 1e-6);
	free(out);
	virq_stats_snapshot_free(s);
}

/* Log2 slots: slot i holds [2^i, 2^(i+1)) ns, slot 0 holds 0 and 1, overflow in the last. */
static void test_hist_observe_uses_log2_slots(void **state)
{
	struct virq_stats_hist h = { 0 };

	virq_stats_hist_observe(&h, 0);
	virq_stats_hist_observe(&h, 1);
	virq_stats_hist_observe(&h, 2);
	virq_stats_hist_observe(&h, 3);
	virq_stats_hist_observe(&h, 1024);
	virq_stats_hist_observe(&h, UINT64_MAX / 2);
	assert_int_equal(h.slot[0], 2);
	assert_int_equal(h.slot[1], 2);
	assert_int_equal(h.slot[10], 1);
	assert_int_equal(h.slot[VIRQ_STATS_HIST_SLOTS - 1], 1);
	virq_stats_hist_estimate_sum(&h);
	assert_int_equal(h.sum_ns, 1 + 1 + 3 + 3 + 1536 + (3ull << 38));
}

/* High-cardinality families appear only when enabled in the configuration. */
static void test_per_vector_and_per_gsi_only_when_enabled(void **state)
{
	struct virq_stats_snapshot *s = synth(2, 2, 5);
	struct virq_metrics_opts off = { 0 }, vec = { .per_vector = true },
				 gsi = { .per_gsi = true };
	char *o1 = render(s, &off), *o2 = render(s, &vec), *o3 = render(s, &gsi);

	assert_null(strstr(o1, "virq_interrupts_by_vector_total"));
	assert_null(strstr(o1, "virq_interrupts_by_gsi_total"));
	assert_null(strstr(o1, "virq_kvm_stat"));
	assert_non_null(strstr(o2, "virq_interrupts_by_vector_total{vm=\"kernel-00\",path=\"msi\","
				   "vector=\"80\"}"));
	assert_null(strstr(o2, "virq_interrupts_by_gsi_total"));
	assert_non_null(strstr(o3, "virq_interrupts_by_gsi_total{vm=\"kernel-00\",gsi=\"4\"}"));
	assert_null(strstr(o3, "virq_interrupts_by_vector_total"));
	free(o1);
	free(o2);
	free(o3);
	virq_stats_snapshot_free(s);
}

/* Values in the exposition are the snapshot's values, not recomputed ones. */
static void test_counters_render_snapshot_values(void **state)
{
	struct virq_stats_snapshot *s = virq_stats_snapshot_new();
	struct virq_stats_vm *vm =
		virq_stats_add_vm(s, "v", VIRQ_VM_MODE_SPLIT, VIRQ_VM_ORIGIN_OBSERVED, 4, 77);
	char *out;

	vm->path[VIRQ_SPATH_IOAPIC].injected = 18446744073709551615ull;
	vm->path[VIRQ_SPATH_IOAPIC].lost = 3;
	vm->verdicts[VIRQ_SPATH_IPI][VIRQ_VERDICT_MISROUTED] = 9;
	assert_int_equal(virq_stats_vm_add_exit(vm, 2, VIRQ_EXIT_SRC_VMM, "hlt", 5), 0);
	assert_int_equal(virq_stats_vm_add_exit(vm, 2, VIRQ_EXIT_SRC_VMM, "hlt", 6), 0);
	assert_int_equal(
		virq_stats_vm_add_exit(vm, VIRQ_STATS_VCPU_VM, VIRQ_EXIT_SRC_KVM_STATS, "exits", 8),
		0);
	/* interleaved vCPUs (BPF counter keys come in map order) still merge into one entry */
	assert_int_equal(virq_stats_vm_add_exit(vm, 1, VIRQ_EXIT_SRC_BPF, "io", 1), 0);
	assert_int_equal(virq_stats_vm_add_exit(vm, 2, VIRQ_EXIT_SRC_BPF, "io", 1), 0);
	assert_int_equal(virq_stats_vm_add_exit(vm, 1, VIRQ_EXIT_SRC_BPF, "io", 2), 0);
	assert_int_equal(virq_stats_add_bpf_point(s, "kvm_entry", "tp_btf", VIRQ_ATTACH_SILENT, 0),
			 0);
	s->ringbuf_drops = 12;
	s->bpf_lost[VIRQ_BPF_LOST_PAIR_DISPLACED] = 5;
	out = render(s, NULL);
	assert_non_null(strstr(out, "virq_interrupts_injected_total{vm=\"v\",path=\"ioapic\"} "
				    "18446744073709551615\n"));
	assert_non_null(strstr(out, "virq_interrupts_lost_total{vm=\"v\",path=\"ioapic\"} 3\n"));
	assert_non_null(strstr(out, "virq_exits_total{vm=\"v\",vcpu=\"1\",reason=\"io\","
				    "source=\"bpf\"} 3\n"));
	assert_non_null(strstr(out, "virq_crosscheck_verdicts_total{vm=\"v\",path=\"ipi\","
				    "verdict=\"misrouted\"} 9\n"));
	assert_non_null(strstr(out, "virq_exits_total{vm=\"v\",vcpu=\"2\",reason=\"hlt\","
				    "source=\"vmm\"} 11\n"));
	assert_non_null(strstr(out, "virq_exits_total{vm=\"v\",vcpu=\"vm\",reason=\"exits\","
				    "source=\"kvm_stats\"} 8\n"));
	assert_non_null(strstr(out, "virq_vm_process_id{vm=\"v\"} 77\n"));
	assert_non_null(strstr(out, "virq_bpf_attach_state{point=\"kvm_entry\",variant=\"tp_btf\","
				    "state=\"silent\"} 1\n"));
	assert_non_null(strstr(out, "virq_bpf_attach_state{point=\"kvm_entry\",variant=\"tp_btf\","
				    "state=\"live\"} 0\n"));
	assert_non_null(strstr(out, "virq_bpf_ringbuf_drops_total 12\n"));
	/* every kind of loss is a series, zero or not */
	assert_non_null(strstr(out, "virq_bpf_lost_total{what=\"pair_displaced\"} 5\n"));
	assert_non_null(strstr(out, "virq_bpf_lost_total{what=\"counter_full\"} 0\n"));
	assert_non_null(strstr(out, "virq_bpf_lost_total{what=\"hist_full\"} 0\n"));
	assert_non_null(strstr(out, "virq_build_info{version=\"" VIRQ_VERSION
				    "\",commit=\"" VIRQ_GIT_COMMIT "\"} 1\n"));
	free(out);
	virq_stats_snapshot_free(s);
}

/* Every array is bounded: past the bound an add fails with E2BIG and is counted. */
static void test_snapshot_bounds_refuse_and_count(void **state)
{
	struct virq_stats_snapshot *s = virq_stats_snapshot_new();
	struct virq_stats_vm *vm = NULL;
	char name[16];

	for (int i = 0; i < VIRQ_STATS_MAX_VMS; i++) {
		snprintf(name, sizeof(name), "vm%d", i);
		vm = virq_stats_add_vm(s, name, VIRQ_VM_MODE_USER, VIRQ_VM_ORIGIN_STARTED, 2, 0);
		assert_non_null(vm);
	}
	assert_null(virq_stats_add_vm(s, "one-too-many", VIRQ_VM_MODE_USER, VIRQ_VM_ORIGIN_STARTED,
				      1, 0));
	assert_int_equal(errno, E2BIG);
	assert_int_equal(s->stats_dropped, 1);
	assert_null(virq_stats_add_vm(s, "x", VIRQ_VM_MODE_USER, VIRQ_VM_ORIGIN_STARTED,
				      VIRQ_STATS_MAX_VCPUS + 1, 0));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(virq_stats_vm_add_exit(vm, 2, VIRQ_EXIT_SRC_VMM, "hlt", 1), -EINVAL);
	assert_int_equal(virq_stats_vm_add_gsi(vm, VIRQ_STATS_MAX_GSIS, 1), -EINVAL);
	for (int i = 0; i < VIRQ_STATS_MAX_BPF_POINTS; i++) {
		snprintf(name, sizeof(name), "tp%d", i);
		assert_int_equal(virq_stats_add_bpf_point(s, name, "tp", VIRQ_ATTACH_LIVE, 1), 0);
	}
	assert_int_equal(virq_stats_add_bpf_point(s, "extra", "tp", VIRQ_ATTACH_LIVE, 1), -E2BIG);
	assert_int_equal(s->stats_dropped, 2);
	virq_stats_snapshot_free(s);

	/* Long names are truncated to the bound, NUL-terminated. */
	char longname[300];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	s = virq_stats_snapshot_new();
	vm = virq_stats_add_vm(s, longname, VIRQ_VM_MODE_USER, VIRQ_VM_ORIGIN_STARTED, 1, 0);
	assert_non_null(vm);
	assert_int_equal(strlen(vm->name), VIRQ_STATS_NAME_MAX - 1);
	assert_int_equal(virq_stats_vm_add_exit(vm, 0, VIRQ_EXIT_SRC_VMM, longname, 1), 0);
	assert_int_equal(strlen(vm->exits[0].reason), VIRQ_STATS_KEY_MAX - 1);
	virq_stats_snapshot_free(s);
	virq_stats_snapshot_free(NULL);
}

/* /api/v1/stats carries the snapshot's values with labels on every record. */
static void test_json_carries_snapshot_values(void **state)
{
	struct virq_metrics_opts opts = { .per_vector = true, .per_gsi = true };
	struct virq_stats_snapshot *s = synth(3, 2, 4);
	cJSON *root, *vms, *vm1, *paths, *msi, *ex, *pts;
	char *out;
	size_t len;

	assert_int_equal(virq_metrics_render_json(s, &opts, &out, &len), 0);
	root = cJSON_ParseWithLength(out, len);
	assert_non_null(root);
	assert_string_equal(cJSON_GetObjectItem(root, "schema")->valuestring, "virq.stats/1");
	vms = cJSON_GetObjectItem(root, "vms");
	assert_int_equal(cJSON_GetArraySize(vms), 3);
	vm1 = cJSON_GetArrayItem(vms, 1);
	assert_string_equal(cJSON_GetObjectItem(vm1, "name")->valuestring, s->vms[1]->name);
	assert_string_equal(cJSON_GetObjectItem(vm1, "mode")->valuestring, "split");
	/* vcpus is a number; state says whether an observed VM exited */
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(vm1, "vcpus")));
	assert_true(cJSON_GetObjectItem(vm1, "vcpus")->valuedouble == (double)s->vms[1]->nr_vcpus);
	assert_string_equal(cJSON_GetObjectItem(vm1, "state")->valuestring, "running");
	paths = cJSON_GetObjectItem(vm1, "paths");
	assert_int_equal(cJSON_GetArraySize(paths), VIRQ_SPATH__COUNT);
	msi = cJSON_GetArrayItem(paths, VIRQ_SPATH_MSI);
	assert_string_equal(cJSON_GetObjectItem(msi, "vm")->valuestring, s->vms[1]->name);
	assert_string_equal(cJSON_GetObjectItem(msi, "path")->valuestring, "msi");
	assert_true(cJSON_GetObjectItem(msi, "injected")->valuedouble ==
		    (double)s->vms[1]->path[VIRQ_SPATH_MSI].injected);
	assert_true(
		cJSON_GetObjectItem(cJSON_GetObjectItem(msi, "latency"), "count")->valuedouble ==
		(double)virq_stats_hist_count(&s->vms[1]->latency[VIRQ_SPATH_MSI]));
	ex = cJSON_GetObjectItem(vm1, "exits");
	assert_int_equal(cJSON_GetArraySize(ex), (int)s->vms[1]->nr_exits);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(vm1, "gsis")),
			 (int)s->vms[1]->nr_gsis);
	pts = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "bpf"), "points");
	assert_int_equal(cJSON_GetArraySize(pts), (int)s->nr_bpf);
	for (int w = 0; w < VIRQ_BPF_LOST__COUNT; w++) {
		const cJSON *l = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "bpf"), "lost");
		const char *name = virq_bpf_lost_name((enum virq_bpf_lost)w);

		assert_true(cJSON_IsNumber(cJSON_GetObjectItem(l, name)));
		assert_true(cJSON_GetObjectItem(l, name)->valuedouble == (double)s->bpf_lost[w]);
	}
	cJSON_Delete(root);
	free(out);
	opts.per_vector = opts.per_gsi = false;
	assert_int_equal(virq_metrics_render_json(s, &opts, &out, &len), 0);
	assert_null(strstr(out, "\"gsis\""));
	assert_null(strstr(out, "\"vectors\""));
	free(out);
	virq_stats_snapshot_free(s);
}

/* promtool (Prometheus's own parser and linter) accepts the exposition. */
static void test_promtool_accepts_exposition(void **state)
{
	struct virq_metrics_opts all = { true, true, true };
	struct virq_stats_snapshot *s = synth(4, 2, 3);
	char path[] = "/tmp/virq-metrics-XXXXXX", cmd[256];
	char *out;
	int fd, rc;

	if (system("command -v promtool >/dev/null 2>&1"))
		VIRQ_SKIP("promtool not installed (Debian package prometheus)");
	assert_non_null(virq_stats_add_vm(s, "odd \"name\"\\\n", VIRQ_VM_MODE_USER,
					  VIRQ_VM_ORIGIN_STARTED, 1, 0));
	out = render(s, &all);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, out, strlen(out)), (ssize_t)strlen(out));
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	rc = system(cmd);
	unlink(path);
	assert_int_equal(rc, 0);
	free(out);
	virq_stats_snapshot_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exposition_groups_each_family_once),
		cmocka_unit_test(test_label_values_are_escaped),
		cmocka_unit_test(test_histogram_buckets_are_cumulative_and_inf_equals_count),
		cmocka_unit_test(test_hist_observe_uses_log2_slots),
		cmocka_unit_test(test_per_vector_and_per_gsi_only_when_enabled),
		cmocka_unit_test(test_counters_render_snapshot_values),
		cmocka_unit_test(test_snapshot_bounds_refuse_and_count),
		cmocka_unit_test(test_json_carries_snapshot_values),
		cmocka_unit_test(test_promtool_accepts_exposition),
	};
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
