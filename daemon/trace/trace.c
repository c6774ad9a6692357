// SPDX-License-Identifier: MIT
/*
 * The loader of bpf/virq_trace.bpf.c: variant choice, attach report, filter, map reads,
 * ring buffer. See include/virq/trace.h for the contract.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "virq/trace.h"
#include "virq_trace.skel.h"

#define NR_KPROBES 2
#define NR_HELPERS 2 /* workqueue_execute_start/end */
#define NR_FEATURES 2 /* vCPU attribution through kvm_sched_in, ioctl attribution */
#define NR_POINTS (VIRQ_TEV__TP_COUNT + NR_KPROBES + NR_HELPERS + NR_FEATURES)
#define P_HELPERS (VIRQ_TEV__TP_COUNT + NR_KPROBES)
#define P_VCPU_ATTR (P_HELPERS + NR_HELPERS)
#define P_IOCTL_ATTR (P_VCPU_ATTR + 1)

/* Programs the verifier refused on this kernel: left out of later load attempts. One per
 * program at most, so the load loop is bounded by the number of programs. */
#define MAX_EXCLUDED 80

#define NR_CAND 3 /* tp_btf, raw_tp, tp */

struct point {
	struct virq_trace_point pub;
	struct bpf_program *want[NR_CAND]; /* candidates in order of preference */
	enum virq_trace_variant want_var[NR_CAND];
	unsigned int nr_want;
	struct bpf_link *link;
	int ev_index; /* index in virq_trace_cpu_counts.seen, -1 for helper points */
	bool feature; /* not a program: state is set at open (attribution features) */
};

struct excluded {
	char prog[64];
	char why[112];
};

struct counter;

struct virq_trace {
	struct virq_trace_bpf *skel;
	struct virq_trace_opts opts;
	bool test_run; /* raw_tp twins loaded (opts.test_run || opts.no_attach) */
	struct excluded excl[MAX_EXCLUDED];
	unsigned int nr_excl;
	struct point points[NR_POINTS];
	unsigned int nr_points;
	uint64_t seen_base[VIRQ_TRACE_NR_SEEN]; /* seen counts at the last reset */
	struct counter *base; /* counter values at the last reset, sorted by key */
	size_t nr_base;
	uint64_t *last; /* per counter slot: the value last read (reads never go down) */
	pthread_mutex_t read_lock; /* one counter read at a time: last */
	int nr_cpus;
	struct ring_buffer *rb;
	int (*ring_cb)(const struct virq_trace_record *r, void *ctx);
	void *ring_ctx;
	bool ring_stop;
};

static const char *const point_names[NR_POINTS] = {
	[VIRQ_TEV_SET_IRQ] = "kvm_set_irq",
	[VIRQ_TEV_MSI_SET_IRQ] = "kvm_msi_set_irq",
	[VIRQ_TEV_PIC_SET_IRQ] = "kvm_pic_set_irq",
	[VIRQ_TEV_IOAPIC_SET_IRQ] = "kvm_ioapic_set_irq",
	[VIRQ_TEV_APIC_ACCEPT_IRQ] = "kvm_apic_accept_irq",
	[VIRQ_TEV_APICV_ACCEPT_IRQ] = "kvm_apicv_accept_irq",
	[VIRQ_TEV_APIC_IPI] = "kvm_apic_ipi",
	[VIRQ_TEV_EOI] = "kvm_eoi",
	[VIRQ_TEV_ACK_IRQ] = "kvm_ack_irq",
	[VIRQ_TEV_INJ_VIRQ] = "kvm_inj_virq",
	[VIRQ_TEV_PI_IRTE_UPDATE] = "kvm_pi_irte_update",
	[VIRQ_TEV_VCPU_WAKEUP] = "kvm_vcpu_wakeup",
	[VIRQ_TEV_ENTRY] = "kvm_entry",
	[VIRQ_TEV_EXIT] = "kvm_exit",
	[VIRQ_TEV_USERSPACE_EXIT] = "kvm_userspace_exit",
	[VIRQ_TEV_PIO] = "kvm_pio",
	[VIRQ_TEV_MMIO] = "kvm_mmio",
	[VIRQ_TEV__TP_COUNT] = "kprobe:__apic_accept_irq",
	[VIRQ_TEV__TP_COUNT + 1] = "kprobe:vmx_deliver_posted_interrupt",
	[P_HELPERS] = "attr:workqueue_execute_start(irqfd)",
	[P_HELPERS + 1] = "attr:workqueue_execute_end",
	[P_VCPU_ATTR] = "attr:vcpu(kvm_sched_in)",
	[P_IOCTL_ATTR] = "attr:ioctl(task_pt_regs)",
};

const char *virq_trace_variant_name(enum virq_trace_variant v)
{
	static const char *const n[VIRQ_TVAR__COUNT] = { "none", "tp_btf", "raw_tp", "tp",
							 "kprobe" };

	return (unsigned int)v < VIRQ_TVAR__COUNT ? n[v] : "?";
}

const char *virq_trace_point_state_name(enum virq_trace_point_state s)
{
	switch (s) {
	case VIRQ_TPS_LIVE:
		return "live";
	case VIRQ_TPS_SILENT:
		return "silent";
	case VIRQ_TPS_UNAVAILABLE:
		return "unavailable";
	}
	return "?";
}

const char *virq_trace_event_name(enum virq_trace_event ev)
{
	switch (ev) {
	case VIRQ_TEV_EXIT_EXTINT:
		return "exit_external_interrupt";
	case VIRQ_TEV_DELIVER_POSTED:
		return "deliver_posted";
	case VIRQ_TEV_DELIVER_NONPOSTED:
		return "deliver_nonposted";
	case VIRQ_TEV_IRQFD_INJECT:
		return "irqfd_inject";
	default:
		break;
	}
	return (unsigned int)ev < VIRQ_TEV__TP_COUNT ? point_names[ev] : "?";
}

void virq_trace_opts_init(struct virq_trace_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->pref = VIRQ_TPREF_AUTO;
	o->kprobes = false;
	o->attribute_ioctl = true;
}

/*
 * libbpf's messages. Warnings during a load are captured so that a program the verifier
 * refuses can be named and left out (see skel_load_degrading); they reach stderr only with
 * VIRQ_TRACE_DEBUG set (1: warnings and info, including verifier logs; 2: also debug),
 * once per open, never per event.
 */
struct load_capture {
	char prog[64]; /* last program a warning named: the one that failed */
	char why[112]; /* the verifier's reason (last line of its log) or libbpf's */
	char last[160]; /* last warning not about a program (maps, BTF, externs) */
};

static __thread struct load_capture *capture;

static int debug_level(void)
{
	const char *e = getenv("VIRQ_TRACE_DEBUG");

	if (!e || !*e || !strcmp(e, "0"))
		return 0;
	return atoi(e) >= 2 ? 2 : 1;
}

static void copy_line(char *dst, size_t len, const char *src, size_t n)
{
	while (n && (src[n - 1] == '\n' || src[n - 1] == ' '))
		n--;
	while (n && *src == ' ') {
		src++;
		n--;
	}
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* The verifier's reason: the last line of its log that is not a statistic. */
static void log_reason(char *dst, size_t len, const char *log, const char *end)
{
	const char *l = log, *nl;

	while (l < end) {
		nl = memchr(l, '\n', (size_t)(end - l));
		if (!nl)
			nl = end;
		if (nl > l && strncmp(l, "processed ", 10) && strncmp(l, "verification time", 17) &&
		    strncmp(l, "stack depth", 11))
			copy_line(dst, len, l, (size_t)(nl - l));
		l = nl + 1;
	}
}

static void capture_note(struct load_capture *c, const char *msg)
{
	const char *m = msg, *q, *rest, *log, *end;

	if (!strncmp(m, "libbpf: ", 8))
		m += 8;
	if (strncmp(m, "prog '", 6)) {
		if (!strstr(m, "failed to load object") &&
		    !strstr(m, "failed to load BPF skeleton"))
			copy_line(c->last, sizeof(c->last), m, strcspn(m, "\n"));
		return;
	}
	q = strchr(m + 6, '\'');
	if (!q)
		return;
	if ((size_t)(q - m - 6) != strlen(c->prog) ||
	    strncmp(c->prog, m + 6, (size_t)(q - m - 6))) {
		copy_line(c->prog, sizeof(c->prog), m + 6, (size_t)(q - m - 6));
		c->why[0] = 0;
	}
	rest = q[1] == ':' ? q + 2 : q + 1;
	log = strstr(rest, "-- BEGIN PROG LOAD LOG --\n");
	if (log) {
		log += strlen("-- BEGIN PROG LOAD LOG --\n");
		end = strstr(log, "-- END PROG LOAD LOG --");
		log_reason(c->why, sizeof(c->why), log, end ? end : log + strlen(log));
	} else if (!c->why[0]) {
		copy_line(c->why, sizeof(c->why), rest, strcspn(rest, "\n"));
	}
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int dbg = debug_level();
	char *msg = NULL;
	va_list aq;
	int n = 0;

	if (capture && level == LIBBPF_WARN) {
		va_copy(aq, ap);
		if (vasprintf(&msg, fmt, aq) < 0)
			msg = NULL;
		va_end(aq);
		if (msg)
			capture_note(capture, msg);
	}
	if (dbg && (level != LIBBPF_DEBUG || dbg >= 2))
		n = msg ? fputs(msg, stderr) : vfprintf(stderr, fmt, ap);
	free(msg);
	return n;
}

static bool btf_has_typedef(const struct btf *a, const struct btf *b, const char *name)
{
	if (a && btf__find_by_name_kind(a, name, BTF_KIND_TYPEDEF) > 0)
		return true;
	return b && btf__find_by_name_kind(b, name, BTF_KIND_TYPEDEF) > 0;
}

static bool tracefs_event_exists(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/kvm/%s/format", name);
	return access(path, R_OK) == 0;
}

static void tp_programs(struct virq_trace_bpf *s, unsigned int ev, struct bpf_program **btf,
			struct bpf_program **raw, struct bpf_program **tp)
{
	struct bpf_program *b[VIRQ_TEV__TP_COUNT] = {
		s->progs.btf_set_irq,
		s->progs.btf_msi_set_irq,
		s->progs.btf_pic_set_irq,
		s->progs.btf_ioapic_set_irq,
		s->progs.btf_apic_accept_irq,
		s->progs.btf_apicv_accept_irq,
		s->progs.btf_apic_ipi,
		s->progs.btf_eoi,
		s->progs.btf_ack_irq,
		s->progs.btf_inj_virq,
		s->progs.btf_pi_irte_update,
		s->progs.btf_vcpu_wakeup,
		s->progs.btf_entry,
		s->progs.btf_exit,
		s->progs.btf_userspace_exit,
		s->progs.btf_pio,
		s->progs.btf_mmio,
	};
	struct bpf_program *r[VIRQ_TEV__TP_COUNT] = {
		s->progs.rtp_set_irq,
		s->progs.rtp_msi_set_irq,
		s->progs.rtp_pic_set_irq,
		s->progs.rtp_ioapic_set_irq,
		s->progs.rtp_apic_accept_irq,
		s->progs.rtp_apicv_accept_irq,
		s->progs.rtp_apic_ipi,
		s->progs.rtp_eoi,
		s->progs.rtp_ack_irq,
		s->progs.rtp_inj_virq,
		s->progs.rtp_pi_irte_update,
		s->progs.rtp_vcpu_wakeup,
		s->progs.rtp_entry,
		s->progs.rtp_exit,
		s->progs.rtp_userspace_exit,
		s->progs.rtp_pio,
		s->progs.rtp_mmio,
	};
	struct bpf_program *t[VIRQ_TEV__TP_COUNT] = {
		s->progs.tp_set_irq,
		s->progs.tp_msi_set_irq,
		s->progs.tp_pic_set_irq,
		s->progs.tp_ioapic_set_irq,
		s->progs.tp_apic_accept_irq,
		s->progs.tp_apicv_accept_irq,
		s->progs.tp_apic_ipi,
		s->progs.tp_eoi,
		s->progs.tp_ack_irq,
		s->progs.tp_inj_virq,
		s->progs.tp_pi_irte_update,
		s->progs.tp_vcpu_wakeup,
		s->progs.tp_entry,
		s->progs.tp_exit,
		s->progs.tp_userspace_exit,
		s->progs.tp_pio,
		s->progs.tp_mmio,
	};

	*btf = b[ev];
	*raw = r[ev];
	*tp = t[ev];
}

static void point_fail(struct point *p, const char *what, int err)
{
	p->pub.state = VIRQ_TPS_UNAVAILABLE;
	p->pub.variant = VIRQ_TVAR_NONE;
	snprintf(p->pub.error, sizeof(p->pub.error), "%s: %s", what,
		 strerror(err > 0 ? err : -err));
}

static void point_fail_msg(struct point *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void point_fail_msg(struct point *p, const char *fmt, ...)
{
	va_list ap;

	p->pub.state = VIRQ_TPS_UNAVAILABLE;
	p->pub.variant = VIRQ_TVAR_NONE;
	va_start(ap, fmt);
	vsnprintf(p->pub.error, sizeof(p->pub.error), fmt, ap);
	va_end(ap);
}

static const struct excluded *excluded_name(const struct virq_trace *t, const char *name)
{
	unsigned int i;

	for (i = 0; i < t->nr_excl; i++)
		if (!strcmp(t->excl[i].prog, name))
			return &t->excl[i];
	return NULL;
}

static const struct excluded *excluded(const struct virq_trace *t, const struct bpf_program *prog)
{
	return excluded_name(t, bpf_program__name(prog));
}

/* Adds prog as the point's next candidate unless the verifier refused it on an earlier
 * attempt; then the first refusal is kept as the point's error (used if no candidate
 * remains). true if added. */
static bool want(struct virq_trace *t, struct point *p, struct bpf_program *prog,
		 enum virq_trace_variant v)
{
	const struct excluded *x = excluded(t, prog);

	if (x) {
		if (!p->pub.error[0])
			snprintf(p->pub.error, sizeof(p->pub.error),
				 "%.6s refused by the verifier: %.90s", virq_trace_variant_name(v),
				 x->why);
		return false;
	}
	p->want[p->nr_want] = prog;
	p->want_var[p->nr_want] = v;
	p->nr_want++;
	return true;
}

/* Why a KVM tracepoint has no candidate under the preference. */
static void no_candidate(struct point *p, enum virq_trace_variant_pref pref, bool tracefs)
{
	switch (pref) {
	case VIRQ_TPREF_TP_BTF:
		point_fail(p, "tp_btf: no btf_trace_ typedef in kernel BTF", ENOENT);
		break;
	case VIRQ_TPREF_RAW_TP:
		point_fail(p, "raw_tp: tracepoint in neither kernel BTF nor tracefs", ENOENT);
		break;
	case VIRQ_TPREF_TP:
		point_fail(p,
			   tracefs ? "tp: event not in tracefs" :
				     "tp: tracefs events/kvm unavailable",
			   ENOENT);
		break;
	default:
		point_fail(p, "tracepoint in neither kernel BTF nor tracefs", ENOENT);
		break;
	}
}

/* Is the second argument of kvm_pi_irte_update a pointer (struct kvm_vcpu *, newer
 * kernels) rather than the vcpu_id (6.1 and older)? From btf_trace_kvm_pi_irte_update:
 * typedef -> pointer -> prototype (void *__data, host_irq, vcpu, ...). */
static bool pi_irte_arg_is_vcpu(const struct btf *b)
{
	const struct btf_type *tt;
	const struct btf_param *pa;
	int id = b ? btf__find_by_name_kind(b, "btf_trace_kvm_pi_irte_update", BTF_KIND_TYPEDEF) :
		     -ENOENT;

	if (id <= 0)
		return true; /* no tracepoint: the value does not matter */
	tt = btf__type_by_id(b, btf__type_by_id(b, id)->type);
	if (!tt || !btf_is_ptr(tt))
		return true;
	tt = btf__type_by_id(b, tt->type);
	if (!tt || !btf_is_func_proto(tt) || btf_vlen(tt) < 3)
		return true;
	pa = btf_params(tt);
	tt = btf__type_by_id(b, pa[2].type);
	while (tt && (btf_is_mod(tt) || btf_is_typedef(tt)))
		tt = btf__type_by_id(b, tt->type);
	return tt && btf_is_ptr(tt);
}

/* Looks name up in /proc/kallsyms, as libbpf does for the programs' __ksym externs.
 * 1 found with an address, 0 missing (why says so), -1 hidden (zero addresses). */
static int ksym_lookup(const char *name, char *why, size_t whylen)
{
	char line[256], sym[128], type;
	unsigned long long addr;
	int found = 0;
	FILE *f = fopen("/proc/kallsyms", "re");

	if (!f) {
		snprintf(why, whylen, "%s: /proc/kallsyms: %s", name, strerror(errno));
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %127s", &addr, &type, sym) != 3 || strcmp(sym, name))
			continue;
		found = addr ? 1 : -1;
		if (found > 0)
			break;
	}
	fclose(f);
	if (!found)
		snprintf(why, whylen, "%s not in /proc/kallsyms (kvm not loaded at open?)", name);
	else if (found < 0)
		snprintf(why, whylen, "%s address hidden in /proc/kallsyms (needs CAP_SYSLOG)",
			 name);
	return found;
}

/*
 * Decides, before load, which programs to load (set_autoload): the first candidate of each
 * attach point in order tp_btf, raw_tp, tp (as the preference allows and the kernel
 * offers), plus the raw_tp twin when test runs are wanted. A raw tracepoint attaches by
 * name, so raw_tp needs the tracepoint to exist (BTF typedef or tracefs event), not BTF.
 * Programs the verifier refused on an earlier attempt (t->excl) are not candidates.
 */
static void choose_variants(struct virq_trace *t)
{
	struct virq_trace_bpf *s = t->skel;
	struct btf *vmlinux = btf__load_vmlinux_btf();
	struct btf *kvm = vmlinux ? btf__load_module_btf("kvm", vmlinux) : NULL;
	bool tracefs = access("/sys/kernel/tracing/events/kvm", R_OK) == 0;
	enum virq_trace_variant_pref pref = t->opts.pref;
	bool auto_ = pref == VIRQ_TPREF_AUTO;
	char why[128];
	unsigned int i;
	int k;

	for (i = 0; i < VIRQ_TEV__TP_COUNT; i++) {
		struct point *p = &t->points[i];
		struct bpf_program *btf, *raw, *tp;
		char tdname[96];
		bool have_btf, have_tp;

		tp_programs(s, i, &btf, &raw, &tp);
		if (i == VIRQ_TEV_MSI_SET_IRQ && t->opts.test_refuse) {
			bpf_program__set_autoload(btf, false);
			btf = s->progs.btf_refused;
		}
		snprintf(tdname, sizeof(tdname), "btf_trace_%s", point_names[i]);
		have_btf = btf_has_typedef(vmlinux, kvm, tdname);
		have_tp = tracefs && tracefs_event_exists(point_names[i]);
		p->nr_want = 0;
		p->pub.state = VIRQ_TPS_UNAVAILABLE;
		p->pub.variant = VIRQ_TVAR_NONE;
		p->pub.error[0] = 0;
		if (have_btf && (auto_ || pref == VIRQ_TPREF_TP_BTF))
			want(t, p, btf, VIRQ_TVAR_TP_BTF);
		if ((have_btf || have_tp) && (auto_ || pref == VIRQ_TPREF_RAW_TP))
			want(t, p, raw, VIRQ_TVAR_RAW_TP);
		if (have_tp && (auto_ || pref == VIRQ_TPREF_TP))
			want(t, p, tp, VIRQ_TVAR_TP);
		if (!p->nr_want && !p->pub.error[0])
			no_candidate(p, pref, tracefs);
		bpf_program__set_autoload(btf, p->nr_want && p->want[0] == btf);
		bpf_program__set_autoload(tp, p->nr_want && p->want[0] == tp);
		/* The raw_tp twin: chosen, or loaded for test runs when the tracepoint exists. */
		bpf_program__set_autoload(
			raw, (p->nr_want && p->want[0] == raw) ||
				     (t->test_run && (have_btf || have_tp) && !excluded(t, raw)));
	}
	i = VIRQ_TEV__TP_COUNT;
	t->points[i].nr_want = t->points[i + 1].nr_want = 0;
	t->points[i].pub.error[0] = t->points[i + 1].pub.error[0] = 0;
	if (t->opts.kprobes) {
		want(t, &t->points[i], s->progs.kp_apic_accept_irq, VIRQ_TVAR_KPROBE);
		want(t, &t->points[i + 1], s->progs.kp_posted_interrupt, VIRQ_TVAR_KPROBE);
	} else {
		point_fail(&t->points[i], "kprobe (disabled by option)", ENOENT);
		point_fail(&t->points[i + 1], "kprobe (disabled by option)", ENOENT);
	}
	bpf_program__set_autoload(s->progs.kp_apic_accept_irq, t->points[i].nr_want);
	bpf_program__set_autoload(s->progs.kp_posted_interrupt, t->points[i + 1].nr_want);
	i = P_HELPERS;
	/* irqfd kworker attribution compares the work function with the irqfd_inject ksym:
	 * without the symbol the pair would count nothing, so it stays off with the reason. */
	t->points[i].nr_want = t->points[i + 1].nr_want = 0;
	t->points[i].pub.error[0] = t->points[i + 1].pub.error[0] = 0;
	k = ksym_lookup("irqfd_inject", why, sizeof(why));
	if (k > 0) {
		want(t, &t->points[i], s->progs.rtp_wq_start, VIRQ_TVAR_RAW_TP);
		want(t, &t->points[i + 1], s->progs.rtp_wq_end, VIRQ_TVAR_RAW_TP);
		if (t->points[i].nr_want != t->points[i + 1].nr_want) {
			struct point *ok = t->points[i].nr_want ? &t->points[i] : &t->points[i + 1];
			const struct point *bad =
				ok == &t->points[i] ? &t->points[i + 1] : &t->points[i];

			ok->nr_want = 0;
			point_fail_msg(ok, "off: its pair %s is unavailable", bad->pub.name);
		}
	} else {
		point_fail_msg(&t->points[i], "off: %s", why);
		point_fail_msg(&t->points[i + 1], "off: %s", why);
	}
	bpf_program__set_autoload(s->progs.rtp_wq_start, t->points[i].nr_want);
	bpf_program__set_autoload(s->progs.rtp_wq_end, t->points[i + 1].nr_want);
	/* vCPU attribution (every handler, through the loaded vCPU's preempt notifier). */
	i = P_VCPU_ATTR;
	t->points[i].nr_want = 0;
	t->points[i].feature = true;
	t->points[i].pub.variant = VIRQ_TVAR_NONE;
	k = ksym_lookup("kvm_sched_in", why, sizeof(why));
	if (k > 0) {
		t->points[i].pub.state = VIRQ_TPS_LIVE;
		t->points[i].pub.error[0] = 0;
	} else {
		point_fail_msg(&t->points[i], "off: %s", why);
	}
	/* ioctl attribution (every handler, through the thread's syscall registers). */
	i = P_IOCTL_ATTR;
	t->points[i].nr_want = 0;
	t->points[i].feature = true;
	t->points[i].pub.variant = VIRQ_TVAR_NONE;
	k = libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_FUNC_task_pt_regs, NULL);
	if (!t->opts.attribute_ioctl) {
		point_fail_msg(&t->points[i], "off: disabled by option");
	} else if (k <= 0) {
		point_fail_msg(&t->points[i], "off: no bpf_task_pt_regs helper (%s)",
			       k ? strerror(-k) : "kernel < 5.15");
	} else {
		t->points[i].pub.state = VIRQ_TPS_LIVE;
		t->points[i].pub.error[0] = 0;
	}
	s->rodata->attr_ioctl = t->points[i].pub.state == VIRQ_TPS_LIVE;
	if (!t->opts.test_refuse)
		bpf_program__set_autoload(s->progs.btf_refused, false);
	bpf_program__set_autoload(s->progs.rtp_nop, t->test_run && !excluded(t, s->progs.rtp_nop));
	s->rodata->pi_irte_arg_is_vcpu = pi_irte_arg_is_vcpu(kvm ? kvm : vmlinux);
	s->rodata->latency_sample_every =
		t->opts.latency_sample ? t->opts.latency_sample : VIRQ_TRACE_LATENCY_SAMPLE_DEFAULT;
	btf__free(kvm);
	btf__free(vmlinux);
}

/* Attaches each point through its first loaded candidate; a candidate that fails to attach
 * falls back to the next loaded one (the raw_tp twin when test runs loaded it). */
static void attach_all(struct virq_trace *t)
{
	unsigned int i, c;

	for (i = 0; i < t->nr_points; i++) {
		struct point *p = &t->points[i];
		int err = 0;

		if (!p->nr_want)
			continue;
		if (t->opts.no_attach) {
			snprintf(p->pub.error, sizeof(p->pub.error), "not attached (no_attach)");
			p->pub.state = VIRQ_TPS_UNAVAILABLE;
			continue;
		}
		for (c = 0; c < p->nr_want && !p->link; c++) {
			struct bpf_link *l;

			if (bpf_program__fd(p->want[c]) < 0)
				continue; /* not loaded */
			l = bpf_program__attach(p->want[c]);
			if (!l) {
				int e = errno ? errno : EINVAL;

				if (!err) /* report the preferred variant's failure */
					point_fail(p, virq_trace_variant_name(p->want_var[c]), e);
				err = e;
				continue;
			}
			p->link = l;
			p->pub.variant = p->want_var[c];
			p->pub.state = VIRQ_TPS_SILENT;
			p->pub.error[0] = 0;
		}
	}
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int ring_sample(void *ctx, void *data, size_t size)
{
	struct virq_trace *t = ctx;

	if (size < sizeof(struct virq_trace_record) || !t->ring_cb || t->ring_stop)
		return 0;
	if (t->ring_cb(data, t->ring_ctx)) {
		t->ring_stop = true;
		return 1; /* stops ring_buffer__consume */
	}
	return 0;
}

/* Opens the skeleton, applies the settings, chooses the programs and loads them once. On
 * failure the skeleton is gone and cap says what libbpf warned about. */
static int skel_load(struct virq_trace *t, struct load_capture *cap, char *err, size_t errlen)
{
	int ret;

	t->skel = virq_trace_bpf__open();
	if (!t->skel) {
		ret = -errno;
		set_err(err, errlen, "BPF open: %s", strerror(errno));
		return ret;
	}
	if (t->opts.ring) {
		uint32_t sz = t->opts.ring_bytes ? t->opts.ring_bytes : 1u << 20;

		bpf_map__set_max_entries(t->skel->maps.ring, sz);
		t->skel->rodata->ring_enabled = 1;
		t->skel->rodata->ring_wakeup_every = t->opts.ring_wakeup_every ?
							     t->opts.ring_wakeup_every :
							     VIRQ_TRACE_RING_WAKEUP_DEFAULT;
		t->skel->rodata->ring_wakeup_bytes = sz / 2;
	}
	choose_variants(t);
	memset(cap, 0, sizeof(*cap));
	capture = cap;
	ret = virq_trace_bpf__load(t->skel);
	capture = NULL;
	if (ret) {
		set_err(err, errlen, "BPF load: %s%s%s", strerror(-ret), cap->last[0] ? ": " : "",
			cap->last);
		/* only a program of this object can be left out */
		if (cap->prog[0] && !bpf_object__find_program_by_name(t->skel->obj, cap->prog))
			cap->prog[0] = 0;
		virq_trace_bpf__destroy(t->skel);
		t->skel = NULL;
	}
	return ret;
}

/*
 * Loads what this kernel accepts. libbpf loads a skeleton all or nothing, so when the
 * verifier refuses one program (a verifier older than the one the code was written on, a
 * tracepoint whose arguments changed), that program is left out with the verifier's
 * reason and the load is tried again: its attach point falls back to its next variant or
 * is reported unavailable with the reason. Fails only when the failure names no program
 * (maps, BTF, privileges) or a program is refused twice.
 */
static int skel_load_degrading(struct virq_trace *t, char *err, size_t errlen)
{
	struct load_capture cap;
	int ret;

	for (;;) {
		ret = skel_load(t, &cap, err, errlen);
		if (!ret)
			return 0;
		if (ret == -EPERM || !cap.prog[0] || t->nr_excl >= MAX_EXCLUDED)
			return ret;
		if (excluded_name(t, cap.prog)) { /* cannot happen: it was not loaded */
			set_err(err, errlen, "BPF load: program %s: %s", cap.prog, cap.why);
			return ret;
		}
		copy_line(t->excl[t->nr_excl].prog, sizeof(t->excl[0].prog), cap.prog,
			  strlen(cap.prog));
		if (cap.why[0])
			copy_line(t->excl[t->nr_excl].why, sizeof(t->excl[0].why), cap.why,
				  strlen(cap.why));
		else
			snprintf(t->excl[t->nr_excl].why, sizeof(t->excl[0].why), "%s",
				 strerror(-ret));
		t->nr_excl++;
	}
}

struct virq_trace *virq_trace_open(const struct virq_trace_opts *opts, char *err, size_t errlen)
{
	struct virq_trace *t;
	char why[160];
	unsigned int i;
	int ret;

	t = calloc(1, sizeof(*t));
	if (t)
		pthread_mutex_init(&t->read_lock, NULL);
	if (!t) {
		set_err(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	virq_trace_opts_init(&t->opts);
	if (opts)
		memcpy(&t->opts, opts,
		       opts->sz && opts->sz < sizeof(t->opts) ? opts->sz : sizeof(t->opts));
	t->opts.sz = sizeof(t->opts);
	t->test_run = t->opts.test_run || t->opts.no_attach;
	t->nr_points = NR_POINTS;
	for (i = 0; i < NR_POINTS; i++) {
		t->points[i].pub.name = point_names[i];
		t->points[i].ev_index = i < VIRQ_TEV__TP_COUNT + NR_KPROBES ? (int)i : -1;
		t->points[i].pub.state = VIRQ_TPS_UNAVAILABLE;
	}
	t->nr_cpus = libbpf_num_possible_cpus();
	if (t->nr_cpus <= 0) {
		ret = t->nr_cpus ? t->nr_cpus : -EINVAL;
		set_err(err, errlen, "cannot count possible CPUs: %s", strerror(-ret));
		goto err_free;
	}
	libbpf_set_print(libbpf_print);
	/* Classic tp/ needs tracefs; a failure only costs the fallback. */
	if (virq_tracefs_ensure(why, sizeof(why)) < 0 && t->opts.pref == VIRQ_TPREF_TP) {
		set_err(err, errlen, "classic tracepoints unavailable: %s", why);
		ret = -ENOENT;
		goto err_free;
	}

	if (t->opts.ring) {
		uint32_t sz = t->opts.ring_bytes ? t->opts.ring_bytes : 1u << 20;

		if (sz < 4096 || (sz & (sz - 1))) {
			ret = -EINVAL;
			set_err(err, errlen, "ring_bytes %u: not a power of two >= 4096", sz);
			goto err_free;
		}
	}
	ret = skel_load_degrading(t, err, errlen);
	if (ret)
		goto err_free;
	if (t->opts.filter_enabled)
		__atomic_store_n(&t->skel->bss->filter_on, 1u, __ATOMIC_RELAXED);
	if (t->opts.ring) {
		t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.ring), ring_sample, t, NULL);
		if (!t->rb) {
			ret = -errno;
			set_err(err, errlen, "ring buffer: %s", strerror(errno));
			goto err_skel;
		}
	}
	attach_all(t);
	return t;

err_skel:
	virq_trace_bpf__destroy(t->skel);
err_free:
	free(t);
	errno = -ret;
	return NULL;
}

void virq_trace_close(struct virq_trace *t)
{
	unsigned int i;

	if (!t)
		return;
	for (i = 0; i < t->nr_points; i++)
		bpf_link__destroy(t->points[i].link);
	ring_buffer__free(t->rb);
	virq_trace_bpf__destroy(t->skel);
	free(t->base);
	free(t->last);
	pthread_mutex_destroy(&t->read_lock);
	free(t);
}

/* The counts of the "cpu" map (struct virq_trace_cpu_counts at the start of each CPU's
 * value), summed over CPUs. The programs keep their caches in the same values, so the
 * loader never writes the map: a reset keeps a baseline instead. */
/* A copy of every CPU's value of the "cpu" map (nr_cpus x *vsz bytes), or NULL. */
static char *cpu_copy(struct virq_trace *t, size_t *vsz)
{
	struct bpf_map *m = t->skel->maps.cpu;
	uint32_t zero = 0;
	char *buf;

	*vsz = ((size_t)bpf_map__value_size(m) + 7) & ~(size_t)7;
	buf = calloc((size_t)t->nr_cpus, *vsz);
	if (buf && bpf_map_lookup_elem(bpf_map__fd(m), &zero, buf)) {
		int e = errno;

		free(buf);
		errno = e;
		return NULL;
	}
	return buf; /* NULL from calloc: errno is ENOMEM */
}

static int cpu_counts(struct virq_trace *t, struct virq_trace_cpu_counts *sum)
{
	size_t vsz;
	char *buf = cpu_copy(t, &vsz);
	int i, k;

	memset(sum, 0, sizeof(*sum));
	if (!buf)
		return errno ? -errno : -ENOMEM;
	for (i = 0; i < t->nr_cpus; i++) {
		const struct virq_trace_cpu_counts *c = (const void *)(buf + (size_t)i * vsz);

		for (k = 0; k < VIRQ_TRACE_NR_SEEN; k++)
			sum->seen[k] += c->seen[k];
		for (k = 0; k < VIRQ_TSTAT__COUNT; k++)
			sum->stats[k] += c->stats[k];
	}
	free(buf);
	return 0;
}

unsigned int virq_trace_nr_points(const struct virq_trace *t)
{
	return t ? t->nr_points : 0;
}

int virq_trace_points(struct virq_trace *t, int (*cb)(const struct virq_trace_point *p, void *ctx),
		      void *ctx)
{
	struct virq_trace_cpu_counts c;
	bool have = cpu_counts(t, &c) == 0;
	unsigned int i;
	int ret;

	for (i = 0; i < t->nr_points; i++) {
		struct point *p = &t->points[i];
		uint64_t n = 0;

		if (p->ev_index >= 0 && have) {
			n = c.seen[p->ev_index] - t->seen_base[p->ev_index];
			p->pub.events = n;
		}
		if (p->link)
			p->pub.state = (p->ev_index < 0 || n) ? VIRQ_TPS_LIVE : VIRQ_TPS_SILENT;
		ret = cb(&p->pub, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

int virq_trace_filter_all(struct virq_trace *t)
{
	/* .bss is mapped shared with the programs: seen at their next run */
	__atomic_store_n(&t->skel->bss->filter_on, 0u, __ATOMIC_RELAXED);
	return 0;
}

static bool tgid_in(const pid_t *tgids, size_t n, uint32_t v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((uint32_t)tgids[i] == v)
			return true;
	return false;
}

int virq_trace_filter_set(struct virq_trace *t, const pid_t *tgids, size_t n)
{
	int fd = bpf_map__fd(t->skel->maps.filter_tgids);
	uint32_t key, next;
	uint8_t yes = 1;
	void *prev = NULL;
	size_t i;

	if (n > VIRQ_TRACE_FILTER_MAX)
		return -E2BIG;
	if (n && !tgids)
		return -EINVAL;
	/* Add the new set, then drop the rest, then turn filtering on: at no point does a
	 * tgid outside both sets get counted. */
	for (i = 0; i < n; i++) {
		key = (uint32_t)tgids[i];
		if (bpf_map_update_elem(fd, &key, &yes, BPF_ANY))
			return -errno;
	}
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (!tgid_in(tgids, n, next)) {
			if (bpf_map_delete_elem(fd, &next))
				return -errno;
			prev = NULL; /* restart: the iteration order changed */
			continue;
		}
		key = next;
		prev = &key;
	}
	__atomic_store_n(&t->skel->bss->filter_on, 1u, __ATOMIC_RELAXED);
	return 0;
}

struct counter {
	struct virq_trace_key k;
	uint64_t v;
};

/* Orders by every field but event, with the flags that describe the event folded (IRR,
 * delivery mode, trigger): an accept and the kvm_apicv_accept_irq of the same delivery
 * sort next to each other. */
static int cmp_delivery(const void *a, const void *b)
{
	const struct virq_trace_key *x = &((const struct counter *)a)->k,
				    *y = &((const struct counter *)b)->k;
	uint32_t fx = x->flags & ~VIRQ_TKF_EVENT_MASK, fy = y->flags & ~VIRQ_TKF_EVENT_MASK;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	if (x->vm_id != y->vm_id)
		return x->vm_id < y->vm_id ? -1 : 1;
	if (x->vcpu_id != y->vcpu_id)
		return x->vcpu_id < y->vcpu_id ? -1 : 1;
	if (x->arg != y->arg)
		return x->arg < y->arg ? -1 : 1;
	if (x->aux != y->aux)
		return x->aux < y->aux ? -1 : 1;
	if (fx != fy)
		return fx < fy ? -1 : 1;
	return 0;
}

/*
 * The counters the programs leave to the loader, derived from the counted ones (each a
 * map update saved on a hot path):
 *  - exit_external_interrupt: the kvm_exit counts whose reason is an external interrupt;
 *  - deliver_posted: the kvm_apicv_accept_irq counts;
 *  - deliver_nonposted: the fixed/lowest-priority accepts (VIRQ_TKF_IRR) minus the posted
 *    ones of the same VM, vCPU, vector and APIC ID.
 * The derived keys carry the attribution flags of the event they come from (not the
 * VIRQ_TKF_EVENT_MASK ones).
 */
static int emit_derived(struct counter *c, size_t n,
			int (*cb)(const struct virq_trace_key *k, uint64_t value, void *ctx),
			void *ctx)
{
	size_t i, j;
	int ret;

	/* no counter yet (a fresh tracer): c may be NULL, which qsort must not be given */
	if (!n)
		return 0;
	qsort(c, n, sizeof(*c), cmp_delivery);
	for (i = 0; i < n; i++) {
		struct virq_trace_key k = c[i].k;

		if (k.event == VIRQ_TEV_EXIT) {
			unsigned int isa = (k.flags >> VIRQ_TKF_ISA_SHIFT) & VIRQ_TKF_ISA_MASK;

			if (!virq_exit_is_extint(isa, k.arg))
				continue;
			k.event = VIRQ_TEV_EXIT_EXTINT;
			ret = cb(&k, c[i].v, ctx);
		} else if (k.event == VIRQ_TEV_APICV_ACCEPT_IRQ) {
			k.event = VIRQ_TEV_DELIVER_POSTED;
			ret = cb(&k, c[i].v, ctx);
		} else if (k.event == VIRQ_TEV_APIC_ACCEPT_IRQ && (k.flags & VIRQ_TKF_IRR)) {
			uint64_t posted = 0;

			/* the equal run around i (at most a few events share the fields) */
			for (j = i; j > 0 && !cmp_delivery(&c[j - 1], &c[i]); j--)
				;
			for (; j < n && !cmp_delivery(&c[j], &c[i]); j++)
				if (c[j].k.event == VIRQ_TEV_APICV_ACCEPT_IRQ)
					posted += c[j].v;
			k.event = VIRQ_TEV_DELIVER_NONPOSTED;
			k.flags &= (uint16_t)~VIRQ_TKF_EVENT_MASK;
			ret = cb(&k, c[i].v > posted ? c[i].v - posted : 0, ctx);
		} else {
			continue;
		}
		if (ret)
			return ret;
	}
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(&((const struct counter *)a)->k, &((const struct counter *)b)->k,
		      sizeof(struct virq_trace_key));
}

static int counter_push(struct counter **c, size_t *n, size_t *cap, const struct virq_trace_key *k,
			uint64_t v)
{
	struct counter *nc;

	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 256;
		nc = realloc(*c, *cap * sizeof(**c));
		if (!nc)
			return -ENOMEM;
		*c = nc;
	}
	(*c)[*n].k = *k;
	(*c)[(*n)++].v = v;
	return 0;
}

/*
 * Adds the counts pending in each CPU's key cache (struct virq_trace_kcache) to vals
 * (nslots x nr_cpus): a, the "cpu" map read before vals, b, read after. An entry of b
 * counts only if a and b have the same even, nonzero gen: the entry was not rewritten
 * between the two reads (a copy reads an entry's gen after its data), so no count of it
 * moved to a counter around the read of vals: none is seen twice. The counts of an entry
 * rewritten meanwhile are seen at a later read.
 */
static void kcache_pending(struct virq_trace *t, const char *a, const char *b, size_t vsz,
			   uint64_t *vals, uint32_t nslots)
{
	for (int cpu = 0; cpu < t->nr_cpus; cpu++) {
		const struct virq_trace_cpu_head *ha = (const void *)(a + (size_t)cpu * vsz);
		const struct virq_trace_cpu_head *hb = (const void *)(b + (size_t)cpu * vsz);

		for (int i = 0; i < VIRQ_TRACE_KCACHE; i++) {
			const struct virq_trace_kcache *ea = &ha->kc[i], *eb = &hb->kc[i];

			if (!ea->gen || (ea->gen & 1) || ea->gen != eb->gen || eb->slot >= nslots)
				continue;
			vals[(size_t)eb->slot * (size_t)t->nr_cpus + (size_t)cpu] += eb->pending;
		}
	}
}

/* Every counter as the programs hold it: the slot map gives each key its slot in the
 * per-CPU "counters" array, and the CPUs' key caches hold the counts not yet moved there.
 * Batched reads (the key caches, the values of the slots handed out so far, the key caches
 * again, then the slot map), so that the daemon's periodic read stays a few syscalls
 * however many keys there are. *c (allocated here, the caller frees) gets *n counters. */
static int read_raw_locked(struct virq_trace *t, struct counter **c, size_t *n)
{
	enum { CHUNK = 1024 };
	int sfd = bpf_map__fd(t->skel->maps.counter_slots);
	int vfd = bpf_map__fd(t->skel->maps.counters);
	uint32_t nslots = __atomic_load_n(&t->skel->bss->counter_next, __ATOMIC_RELAXED);
	uint32_t max = bpf_map__max_entries(t->skel->maps.counters), got, i;
	struct virq_trace_key *keys = NULL;
	uint32_t *slots = NULL, *idx = NULL, in = 0, out = 0;
	uint64_t *vals = NULL;
	char *ca = NULL, *cb = NULL;
	bool first = true;
	size_t cap = 0, vsz;
	int ret = 0, r, cpu;

	if (nslots > max)
		nslots = max;
	if (!nslots)
		return 0;
	if (!t->last) {
		t->last = calloc(max, sizeof(*t->last));
		if (!t->last)
			return -ENOMEM;
	}
	/* the key caches before and after the counters (kcache_pending) */
	ca = cpu_copy(t, &vsz);
	if (!ca) {
		ret = errno ? -errno : -ENOMEM;
		goto out;
	}
	keys = calloc(CHUNK, sizeof(*keys));
	slots = calloc(CHUNK, sizeof(*slots));
	idx = calloc(nslots, sizeof(*idx));
	vals = calloc((size_t)nslots * (size_t)t->nr_cpus, sizeof(*vals));
	if (!keys || !slots || !idx || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	got = nslots;
	r = bpf_map_lookup_batch(vfd, NULL, &out, idx, vals, &got, NULL);
	if (r && errno != ENOENT) {
		ret = -errno;
		goto out;
	}
	nslots = got; /* slots 0..got-1, in order (an array) */
	cb = cpu_copy(t, &vsz);
	if (!cb) {
		ret = errno ? -errno : -ENOMEM;
		goto out;
	}
	kcache_pending(t, ca, cb, vsz, vals, nslots);
	do {
		got = CHUNK;
		r = bpf_map_lookup_batch(sfd, first ? NULL : &in, &out, keys, slots, &got, NULL);
		if (r && errno != ENOENT) {
			ret = -errno;
			goto out;
		}
		for (i = 0; i < got && !ret; i++) {
			uint64_t sum = 0;

			if (slots[i] >= nslots)
				continue; /* handed out after the values were read: counts come later */
			for (cpu = 0; cpu < t->nr_cpus; cpu++)
				sum += vals[(size_t)slots[i] * (size_t)t->nr_cpus + (size_t)cpu];
			/* counts of a cache entry rewritten during the read are left for the
			 * next read: what they would take from the sum, the last read gave */
			if (sum < t->last[slots[i]])
				sum = t->last[slots[i]];
			t->last[slots[i]] = sum;
			ret = counter_push(c, n, &cap, &keys[i], sum);
		}
		in = out;
		first = false;
	} while (!r && !ret);
out:
	free(keys);
	free(slots);
	free(idx);
	free(vals);
	free(ca);
	free(cb);
	return ret;
}

/* The counters now, one read at a time (each read builds on the last: t->last). */
static int read_raw(struct virq_trace *t, struct counter **c, size_t *n)
{
	int ret;

	pthread_mutex_lock(&t->read_lock);
	ret = read_raw_locked(t, c, n);
	pthread_mutex_unlock(&t->read_lock);
	return ret;
}

int virq_trace_read_counters(struct virq_trace *t,
			     int (*cb)(const struct virq_trace_key *k, uint64_t value, void *ctx),
			     void *ctx)
{
	struct counter *c = NULL, *b;
	size_t n = 0, i, keep = 0;
	int ret;

	ret = read_raw(t, &c, &n);
	for (i = 0; !ret && i < n; i++) {
		/* since the last reset: a key counted before it and not since is left out */
		b = t->nr_base ? bsearch(&c[i], t->base, t->nr_base, sizeof(*b), cmp_key) : NULL;
		if (b) {
			if (c[i].v == b->v)
				continue;
			c[i].v -= b->v;
		}
		ret = cb(&c[i].k, c[i].v, ctx);
		if (c[i].k.event == VIRQ_TEV_EXIT || c[i].k.event == VIRQ_TEV_APIC_ACCEPT_IRQ ||
		    c[i].k.event == VIRQ_TEV_APICV_ACCEPT_IRQ)
			c[keep++] = c[i];
	}
	if (!ret)
		ret = emit_derived(c, keep, cb, ctx);
	free(c);
	return ret;
}

struct total_ctx {
	enum virq_trace_event ev;
	pid_t tgid;
	uint64_t sum;
};

static int total_cb(const struct virq_trace_key *k, uint64_t v, void *ctx)
{
	struct total_ctx *c = ctx;

	if (k->event == c->ev && (!c->tgid || k->tgid == (uint32_t)c->tgid))
		c->sum += v;
	return 0;
}

uint64_t virq_trace_event_total(struct virq_trace *t, enum virq_trace_event ev, pid_t tgid)
{
	struct total_ctx c = { .ev = ev, .tgid = tgid };

	virq_trace_read_counters(t, total_cb, &c);
	return c.sum;
}

int virq_trace_read_hist(struct virq_trace *t,
			 int (*cb)(const struct virq_trace_hist_key *k,
				   const struct virq_trace_hist_val *v, void *ctx),
			 void *ctx)
{
	int fd = bpf_map__fd(t->skel->maps.hists);
	struct virq_trace_hist_key key, next;
	struct virq_trace_hist_val *vals, sum;
	void *prev = NULL;
	int ret = 0, c, i;

	vals = calloc((size_t)t->nr_cpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, vals))
			continue;
		memset(&sum, 0, sizeof(sum));
		for (c = 0; c < t->nr_cpus; c++) {
			for (i = 0; i < VIRQ_TRACE_HIST_SLOTS; i++)
				sum.slots[i] += vals[c].slots[i];
			sum.count += vals[c].count;
			sum.sum_ns += vals[c].sum_ns;
		}
		ret = cb(&key, &sum, ctx);
		if (ret)
			break;
	}
	free(vals);
	return ret;
}

int virq_trace_read_vms(struct virq_trace *t,
			int (*cb)(uint32_t vm_id, const struct virq_trace_vm *vm, void *ctx),
			void *ctx)
{
	int fd = bpf_map__fd(t->skel->maps.vms);
	uint32_t key, next;
	struct virq_trace_vm vm;
	void *prev = NULL;
	int ret;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &vm))
			continue;
		vm.stats_id[sizeof(vm.stats_id) - 1] = 0;
		ret = cb(key, &vm, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

static int clear_map(int fd, size_t key_size)
{
	char key[64];

	if (key_size > sizeof(key))
		return -EINVAL;
	while (bpf_map_get_next_key(fd, NULL, key) == 0)
		if (bpf_map_delete_elem(fd, key))
			return -errno;
	return 0;
}

int virq_trace_reset(struct virq_trace *t)
{
	struct virq_trace_cpu_counts c;
	int ret;

	struct counter *base = NULL;
	size_t n = 0;

	/* Counter slots stay assigned (the programs cache them): a reset keeps the values of
	 * the moment as a baseline that later reads subtract. */
	ret = read_raw(t, &base, &n);
	if (ret) {
		free(base);
		return ret;
	}
	qsort(base, n, sizeof(*base), cmp_key);
	free(t->base);
	t->base = base;
	t->nr_base = n;
	ret = clear_map(bpf_map__fd(t->skel->maps.hists), sizeof(struct virq_trace_hist_key));
	if (!ret)
		ret = cpu_counts(t, &c);
	if (!ret)
		memcpy(t->seen_base, c.seen, sizeof(t->seen_base));
	return ret;
}

uint64_t virq_trace_stat(struct virq_trace *t, enum virq_trace_stat s)
{
	struct virq_trace_cpu_counts c;

	if ((unsigned int)s >= VIRQ_TSTAT__COUNT || cpu_counts(t, &c))
		return 0;
	return c.stats[s];
}

uint64_t virq_trace_drops(struct virq_trace *t)
{
	return virq_trace_stat(t, VIRQ_TSTAT_RING_DROPS);
}

int virq_trace_ring_fd(struct virq_trace *t)
{
	return t->rb ? ring_buffer__epoll_fd(t->rb) : -ENODEV;
}

int virq_trace_ring_set_active(struct virq_trace *t, bool on)
{
	if (!t->rb)
		return -ENODEV;
	/* .bss is mapped shared with the programs: a plain store, seen at their next run. */
	__atomic_store_n(&t->skel->bss->ring_paused, on ? 0u : 1u, __ATOMIC_RELAXED);
	return 0;
}

int virq_trace_thread(struct virq_trace *t, pid_t tid, struct virq_trace_thread *out)
{
	uint32_t k = (uint32_t)tid;

	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.threads), &k, out))
		return -errno;
	return 0;
}

static int ring_run(struct virq_trace *t, int timeout_ms,
		    int (*cb)(const struct virq_trace_record *r, void *ctx), void *ctx)
{
	int n, m;

	if (!t->rb)
		return -ENODEV;
	t->ring_cb = cb;
	t->ring_ctx = ctx;
	t->ring_stop = false;
	n = 0;
	if (timeout_ms) {
		n = ring_buffer__poll(t->rb, timeout_ms);
		if (n < 0 && n != -EINTR)
			return n;
		if (n < 0)
			n = 0;
	}
	/* Wakeups are batched (every Nth record): records below the batch are still there
	 * after a timeout, so always drain. */
	if (!t->ring_stop) {
		m = ring_buffer__consume(t->rb);
		if (m < 0)
			return m;
		n += m;
	}
	return n;
}

int virq_trace_ring_poll(struct virq_trace *t, int timeout_ms,
			 int (*cb)(const struct virq_trace_record *r, void *ctx), void *ctx)
{
	return ring_run(t, timeout_ms > 0 ? timeout_ms : 0, cb, ctx);
}

int virq_trace_ring_consume(struct virq_trace *t,
			    int (*cb)(const struct virq_trace_record *r, void *ctx), void *ctx)
{
	return ring_run(t, 0, cb, ctx);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int virq_trace_test_run(struct virq_trace *t, enum virq_trace_event ev, const uint64_t *args,
			unsigned int nargs, unsigned int repeat, uint32_t *duration_ns)
{
	struct bpf_program *prog, *btf, *tp;
	uint64_t ctx[8] = { 0 };
	uint64_t t0, t1;
	unsigned int i;
	int fd;

	if (nargs > 8 || (nargs && !args) || !repeat)
		return -EINVAL;
	if (ev == VIRQ_TEV__COUNT)
		prog = t->skel->progs.rtp_nop;
	else if ((unsigned int)ev < VIRQ_TEV__TP_COUNT)
		tp_programs(t->skel, ev, &btf, &prog, &tp);
	else
		return -EINVAL;
	fd = bpf_program__fd(prog);
	if (fd < 0)
		return -ENOENT;
	if (nargs)
		memcpy(ctx, args, nargs * sizeof(*args));
	t0 = now_ns();
	for (i = 0; i < repeat; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = ctx, .ctx_size_in = sizeof(ctx), );

		if (bpf_prog_test_run_opts(fd, &o))
			return -errno;
	}
	t1 = now_ns();
	if (duration_ns)
		*duration_ns = (uint32_t)((t1 - t0) / repeat);
	return 0;
}

int virq_trace_prog_stats(struct virq_trace *t,
			  int (*cb)(const char *prog, uint64_t runs, uint64_t run_ns, void *ctx),
			  void *ctx)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, t->skel->obj)
	{
		struct bpf_prog_info info;
		uint32_t len = sizeof(info);
		int fd = bpf_program__fd(p), ret;

		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			return -errno;
		ret = cb(bpf_program__name(p), info.run_cnt, info.run_time_ns, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

int virq_trace_stats_enable(void)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	return fd < 0 ? -errno : fd;
}
