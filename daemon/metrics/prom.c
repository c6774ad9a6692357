// SPDX-License-Identifier: MIT
/*
 * Prometheus text exposition format 0.0.4 from a statistics snapshot.
 *
 * The rules this file keeps (prometheus.io "Exposition formats"): one HELP and one TYPE line
 * per family, before its samples; all samples of a family contiguous; label values escaped
 * (backslash, double quote, line feed) and valid UTF-8; histogram buckets cumulative with a
 * final le="+Inf" equal to _count, then _sum and _count. Loops are therefore family-major:
 * for each family, every VM.
 */
#include "virq/metrics.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"

struct lbl {
	const char *k;
	const char *v;
};

/* Length of a valid UTF-8 sequence starting at s (max n bytes), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Reject overlong forms, surrogates and code points past U+10FFFF. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* Escapes into the buffer; invalid UTF-8 bytes become U+FFFD so one odd VM name cannot make
 * the whole scrape unparsable. */
static void put_escaped(struct virq_mbuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), run = 0, i = 0;

	while (i < n) {
		size_t l = utf8_seq(s + i, n - i);
		const char *rep = NULL;

		if (l == 1 && s[i] == '\\')
			rep = "\\\\";
		else if (l == 1 && s[i] == '"')
			rep = "\\\"";
		else if (l == 1 && s[i] == '\n')
			rep = "\\n";
		else if (l == 0)
			rep = "\xef\xbf\xbd";
		if (!rep) {
			i += l;
			run += l;
			continue;
		}
		virq_mbuf_putn(b, (const char *)s + i - run, run);
		virq_mbuf_puts(b, rep);
		run = 0;
		i += l ? l : 1;
	}
	virq_mbuf_putn(b, (const char *)s + n - run, run);
}

int virq_metrics_escape_label(char *dst, size_t size, const char *s)
{
	struct virq_mbuf b;
	size_t n;

	if (!dst || !s || !size)
		return -EINVAL;
	if (virq_mbuf_init(&b, strlen(s) * 3 + 1))
		return -ENOMEM;
	put_escaped(&b, s);
	if (b.oom || b.len >= size) {
		int err = b.oom ? -ENOMEM : -ENOSPC;

		virq_mbuf_release(&b);
		return err;
	}
	n = b.len;
	memcpy(dst, b.p, n + 1);
	virq_mbuf_release(&b);
	return (int)n;
}

static void family(struct virq_mbuf *b, const char *name, const char *type, const char *help)
{
	virq_mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void series_head(struct virq_mbuf *b, const char *name, const char *suffix,
			const struct lbl *l, size_t n)
{
	virq_mbuf_puts(b, name);
	if (suffix)
		virq_mbuf_puts(b, suffix);
	if (!n)
		return;
	virq_mbuf_putc(b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			virq_mbuf_putc(b, ',');
		virq_mbuf_puts(b, l[i].k);
		virq_mbuf_puts(b, "=\"");
		put_escaped(b, l[i].v);
		virq_mbuf_putc(b, '"');
	}
	virq_mbuf_putc(b, '}');
}

static void series_u64(struct virq_mbuf *b, const char *name, const struct lbl *l, size_t n,
		       uint64_t v)
{
	series_head(b, name, NULL, l, n);
	virq_mbuf_putc(b, ' ');
	virq_mbuf_put_u64(b, v);
	virq_mbuf_putc(b, '\n');
}

static void series_f(struct virq_mbuf *b, const char *name, const struct lbl *l, size_t n, double v)
{
	series_head(b, name, NULL, l, n);
	virq_mbuf_printf(b, " %.17g\n", v);
}

#define NL(a) (sizeof(a) / sizeof((a)[0]))

/* One histogram series: cumulative buckets at the VIRQ_METRICS_LE_* bounds, +Inf, sum,
 * count. Bucket le=2^k ns collects slots 0..k-1, whose values are all < 2^k. */
static void histogram(struct virq_mbuf *b, const char *name, const struct lbl *l, size_t n,
		      const struct virq_stats_hist *h)
{
	struct lbl ll[8];
	char le[32];
	uint64_t cum = 0;
	unsigned int slot = 0;

	memcpy(ll, l, n * sizeof(*l));
	ll[n].k = "le";
	ll[n].v = le;
	for (unsigned int k = VIRQ_METRICS_LE_FIRST_LOG2; k <= VIRQ_METRICS_LE_LAST_LOG2;
	     k += VIRQ_METRICS_LE_STEP_LOG2) {
		for (; slot < k && slot < VIRQ_STATS_HIST_SLOTS; slot++)
			cum += h->slot[slot];
		snprintf(le, sizeof(le), "%.10g", (double)(1ull << k) / 1e9);
		series_head(b, name, "_bucket", ll, n + 1);
		virq_mbuf_putc(b, ' ');
		virq_mbuf_put_u64(b, cum);
		virq_mbuf_putc(b, '\n');
	}
	for (; slot < VIRQ_STATS_HIST_SLOTS; slot++)
		cum += h->slot[slot];
	ll[n].v = "+Inf";
	series_head(b, name, "_bucket", ll, n + 1);
	virq_mbuf_putc(b, ' ');
	virq_mbuf_put_u64(b, cum);
	virq_mbuf_putc(b, '\n');
	series_head(b, name, "_sum", l, n);
	virq_mbuf_printf(b, " %.17g\n", (double)h->sum_ns / 1e9);
	series_head(b, name, "_count", l, n);
	virq_mbuf_putc(b, ' ');
	virq_mbuf_put_u64(b, cum);
	virq_mbuf_putc(b, '\n');
}

static const struct {
	const char *name;
	const char *help;
	size_t off;
} path_counters[] = {
	{ "virq_interrupts_injected_total", "Interrupts injected, by VM and delivery path.",
	  offsetof(struct virq_stats_path_counters, injected) },
	{ "virq_interrupts_received_total", "Interrupts the guest received, by VM and path.",
	  offsetof(struct virq_stats_path_counters, received) },
	{ "virq_interrupts_coalesced_total",
	  "Interrupts merged with one already pending, by VM and path.",
	  offsetof(struct virq_stats_path_counters, coalesced) },
	{ "virq_interrupts_lost_total", "Interrupts injected but never received, by VM and path.",
	  offsetof(struct virq_stats_path_counters, lost) },
};

static void render_vms(struct virq_mbuf *b, const struct virq_stats_snapshot *s,
		       const struct virq_metrics_opts *o)
{
	char num[24], num2[24];

	if (!s->nr_vms)
		return;
	family(b, "virq_vm_info", "gauge", "VMs virqd knows of; always 1.");
	for (uint32_t i = 0; i < s->nr_vms; i++) {
		const struct virq_stats_vm *vm = s->vms[i];

		snprintf(num, sizeof(num), "%u", vm->nr_vcpus);
		series_u64(b, "virq_vm_info",
			   (struct lbl[]){ { "vm", vm->name },
					   { "mode", virq_vm_mode_name(vm->mode) },
					   { "vcpus", num },
					   { "origin", virq_vm_origin_name(vm->origin) } },
			   4, 1);
	}
	family(b, "virq_vm_up", "gauge",
	       "1 while the VM runs; 0 for an observed VM that exited (its last numbers, kept "
	       "for observed_keep_exited_s).");
	for (uint32_t i = 0; i < s->nr_vms; i++)
		series_u64(b, "virq_vm_up", (struct lbl[]){ { "vm", s->vms[i]->name } }, 1,
			   s->vms[i]->exited ? 0 : 1);
	family(b, "virq_vm_process_id", "gauge", "PID of the VM's VMM process.");
	for (uint32_t i = 0; i < s->nr_vms; i++)
		series_u64(b, "virq_vm_process_id", (struct lbl[]){ { "vm", s->vms[i]->name } }, 1,
			   (uint64_t)(s->vms[i]->pid > 0 ? s->vms[i]->pid : 0));

	for (size_t c = 0; c < NL(path_counters); c++) {
		family(b, path_counters[c].name, "counter", path_counters[c].help);
		for (uint32_t i = 0; i < s->nr_vms; i++) {
			const struct virq_stats_vm *vm = s->vms[i];

			for (int p = 0; p < VIRQ_SPATH__COUNT; p++) {
				const char *base = (const char *)&vm->path[p];
				uint64_t v;

				memcpy(&v, base + path_counters[c].off, sizeof(v));
				series_u64(b, path_counters[c].name,
					   (struct lbl[]){ { "vm", vm->name },
							   { "path", virq_stats_path_name(p) } },
					   2, v);
			}
		}
	}

	family(b, "virq_crosscheck_verdicts_total", "counter",
	       "Cross-check verdicts, by VM, path and verdict.");
	for (uint32_t i = 0; i < s->nr_vms; i++) {
		const struct virq_stats_vm *vm = s->vms[i];

		for (int p = 0; p < VIRQ_SPATH__COUNT; p++)
			for (int v = 0; v < VIRQ_VERDICT__COUNT; v++)
				series_u64(b, "virq_crosscheck_verdicts_total",
					   (struct lbl[]){ { "vm", vm->name },
							   { "path", virq_stats_path_name(p) },
							   { "verdict", virq_verdict_name(v) } },
					   3, vm->verdicts[p][v]);
	}
	family(b, "virq_crosscheck_mismatches_total", "counter",
	       "Comparisons in which two sources disagreed, by VM and path.");
	for (uint32_t i = 0; i < s->nr_vms; i++)
		for (int p = 0; p < VIRQ_SPATH__COUNT; p++)
			series_u64(b, "virq_crosscheck_mismatches_total",
				   (struct lbl[]){ { "vm", s->vms[i]->name },
						   { "path", virq_stats_path_name(p) } },
				   2, s->vms[i]->mismatches[p]);

	family(b, "virq_exits_total", "counter",
	       "VM exits by VM, vCPU (\"vm\" for VM-wide), reason and source (vmm, kvm_stats).");
	for (uint32_t i = 0; i < s->nr_vms; i++) {
		const struct virq_stats_vm *vm = s->vms[i];

		for (uint32_t e = 0; e < vm->nr_exits; e++) {
			const struct virq_stats_exit *x = &vm->exits[e];

			if (x->vcpu == VIRQ_STATS_VCPU_VM)
				snprintf(num, sizeof(num), "vm");
			else
				snprintf(num, sizeof(num), "%d", x->vcpu);
			series_u64(b, "virq_exits_total",
				   (struct lbl[]){ { "vm", vm->name },
						   { "vcpu", num },
						   { "reason", x->reason },
						   { "source", virq_exit_source_name(x->source) } },
				   4, x->count);
		}
	}

	family(b, "virq_delivery_latency_seconds", "histogram",
	       "Delay from injection to the guest, by VM and path (observed VMs: MSI source to "
	       "APIC accept, one chain in bpf_latency_sample timed).");
	for (uint32_t i = 0; i < s->nr_vms; i++)
		for (int p = 0; p < VIRQ_SPATH__COUNT; p++)
			histogram(b, "virq_delivery_latency_seconds",
				  (struct lbl[]){ { "vm", s->vms[i]->name },
						  { "path", virq_stats_path_name(p) } },
				  2, &s->vms[i]->latency[p]);

	if (o->per_vector) {
		family(b, "virq_interrupts_by_vector_total", "counter",
		       "Interrupts delivered, by VM, path and vector (opt-in).");
		for (uint32_t i = 0; i < s->nr_vms; i++) {
			const struct virq_stats_vm *vm = s->vms[i];

			for (uint32_t v = 0; v < vm->nr_vectors; v++) {
				snprintf(num, sizeof(num), "%u", vm->vectors[v].vector);
				series_u64(b, "virq_interrupts_by_vector_total",
					   (struct lbl[]){ { "vm", vm->name },
							   { "path", virq_stats_path_name(
									     vm->vectors[v].path) },
							   { "vector", num } },
					   3, vm->vectors[v].count);
			}
		}
	}
	if (o->per_gsi) {
		family(b, "virq_interrupts_by_gsi_total", "counter",
		       "GSI assertions, by VM and GSI (opt-in).");
		for (uint32_t i = 0; i < s->nr_vms; i++) {
			const struct virq_stats_vm *vm = s->vms[i];

			for (uint32_t g = 0; g < vm->nr_gsis; g++) {
				snprintf(num, sizeof(num), "%u", vm->gsis[g].gsi);
				series_u64(b, "virq_interrupts_by_gsi_total",
					   (struct lbl[]){ { "vm", vm->name }, { "gsi", num } }, 2,
					   vm->gsis[g].count);
			}
		}
	}
	if (o->kvm_stats) {
		family(b, "virq_kvm_stat", "gauge",
		       "KVM binary statistics (KVM_GET_STATS_FD), by VM, vCPU and name (opt-in).");
		for (uint32_t i = 0; i < s->nr_vms; i++) {
			const struct virq_stats_vm *vm = s->vms[i];

			for (uint32_t k = 0; k < vm->nr_kvm_stats; k++) {
				const struct virq_stats_kvm_stat *st = &vm->kvm_stats[k];

				if (st->vcpu == VIRQ_STATS_VCPU_VM)
					snprintf(num2, sizeof(num2), "vm");
				else
					snprintf(num2, sizeof(num2), "%d", st->vcpu);
				series_u64(b, "virq_kvm_stat",
					   (struct lbl[]){ { "vm", vm->name },
							   { "vcpu", num2 },
							   { "stat", st->name } },
					   3, st->value);
			}
		}
	}
}

static void render_bpf(struct virq_mbuf *b, const struct virq_stats_snapshot *s)
{
	if (s->nr_bpf) {
		family(b, "virq_bpf_events_total", "counter",
		       "Events counted at each BPF attach point, by tracepoint and variant.");
		for (uint32_t i = 0; i < s->nr_bpf; i++)
			series_u64(b, "virq_bpf_events_total",
				   (struct lbl[]){ { "tracepoint", s->bpf[i].tracepoint },
						   { "variant", s->bpf[i].variant } },
				   2, s->bpf[i].events);
		family(b, "virq_bpf_attach_state", "gauge",
		       "State of each BPF attach point: 1 for the current state, 0 for the others.");
		for (uint32_t i = 0; i < s->nr_bpf; i++)
			for (int st = 0; st < VIRQ_ATTACH__COUNT; st++)
				series_u64(
					b, "virq_bpf_attach_state",
					(struct lbl[]){ { "point", s->bpf[i].tracepoint },
							{ "variant", s->bpf[i].variant },
							{ "state", virq_attach_state_name(st) } },
					3, s->bpf[i].state == (enum virq_attach_state)st);
	}
	family(b, "virq_bpf_ringbuf_drops_total", "counter",
	       "Ring-buffer records the BPF programs could not reserve.");
	series_u64(b, "virq_bpf_ringbuf_drops_total", NULL, 0, s->ringbuf_drops);
	family(b, "virq_bpf_lost_total", "counter",
	       "What the BPF programs saw but could not record: events not counted (counters map "
	       "full), latency samples dropped (histogram map full), timed accept-to-injection "
	       "pairs displaced before their injection.");
	for (int w = 0; w < VIRQ_BPF_LOST__COUNT; w++)
		series_u64(b, "virq_bpf_lost_total",
			   (struct lbl[]){ { "what", virq_bpf_lost_name((enum virq_bpf_lost)w) } },
			   1, s->bpf_lost[w]);
}

int virq_metrics_render_prometheus(const struct virq_stats_snapshot *s,
				   const struct virq_metrics_opts *opts, char **out, size_t *len)
{
	static const struct virq_metrics_opts none;
	struct virq_mbuf b;

	if (!s || !out || !len)
		return -EINVAL;
	if (!opts)
		opts = &none;
	/* About 110 bytes a line; 16 VMs x 8 vCPUs render to ~200 KiB. */
	if (virq_mbuf_init(&b, 16384 + (size_t)s->nr_vms * 12288))
		return -ENOMEM;

	family(&b, "virq_build_info", "gauge", "virqd build; always 1.");
	series_u64(&b, "virq_build_info",
		   (struct lbl[]){ { "version", VIRQ_VERSION }, { "commit", VIRQ_GIT_COMMIT } }, 2,
		   1);
	if (s->daemon_start_unix > 0) {
		family(&b, "virq_start_time_seconds", "gauge", "When virqd started, Unix time.");
		series_f(&b, "virq_start_time_seconds", NULL, 0, s->daemon_start_unix);
	}
	family(&b, "virq_snapshot_timestamp_seconds", "gauge",
	       "When the served statistics were sampled, Unix time.");
	series_f(&b, "virq_snapshot_timestamp_seconds", NULL, 0, (double)s->taken_unix_ns / 1e9);
	family(&b, "virq_stats_dropped_total", "counter",
	       "Records left out of the snapshot by a size bound.");
	series_u64(&b, "virq_stats_dropped_total", NULL, 0, s->stats_dropped);

	render_vms(&b, s, opts);
	render_bpf(&b, s);

	if (b.oom) {
		virq_mbuf_release(&b);
		return -ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}
