// SPDX-License-Identifier: MIT
/*
 * BPF integration: the real programs, loaded and attached on this host, driven through
 * BPF_PROG_TEST_RUN (raw_tp test runs execute in the calling task, so tgid filtering is
 * real) and checked through the loader's public API.
 *
 * The attach points use tp_btf here, which BPF_PROG_TEST_RUN cannot run. The counting
 * code is the same __always_inline handlers in every variant, so these tests drive it
 * through each attach point's raw_tp twin, loaded by opts.no_attach / opts.test_run.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>

#include "virq/irq.h"
#include "virq/trace.h"
#include "virq_test.h"

struct found {
	const char *name;
	struct virq_trace_point p;
	bool seen;
};

static int find_point(const struct virq_trace_point *p, void *ctx)
{
	struct found *f = ctx;

	if (strcmp(p->name, f->name) == 0) {
		f->p = *p;
		f->seen = true;
		return 1;
	}
	return 0;
}

static struct virq_trace_point point(struct virq_trace *t, const char *name)
{
	struct found f = { .name = name };

	virq_trace_points(t, find_point, &f);
	if (!f.seen)
		fail_msg("attach point %s not reported", name);
	return f.p;
}

static struct virq_trace *open_or_skip(const struct virq_trace_opts *o)
{
	char err[256] = "";
	struct virq_trace *t;

	t = virq_trace_open(o, err, sizeof(err));
	if (!t)
		fail_msg("virq_trace_open: %s", err);
	return t;
}

/* MSI address for physical destination `dest` (SDM Vol. 3A 11.11.1) and data for a fixed
 * edge `vector` (11.11.2). */
static void msi_args(uint64_t *a, uint8_t dest, uint8_t vector)
{
	a[0] = 0xfee00000ull | ((uint64_t)dest << 12);
	a[1] = vector;
}

struct match {
	uint16_t event;
	uint32_t arg, aux, tgid;
	uint64_t sum;
	unsigned int keys;
};

static int match_cb(const struct virq_trace_key *k, uint64_t v, void *ctx)
{
	struct match *m = ctx;

	if (k->event == m->event && k->arg == m->arg && k->aux == m->aux && k->tgid == m->tgid) {
		m->sum += v;
		m->keys++;
	}
	return 0;
}

static uint64_t count_of(struct virq_trace *t, uint16_t ev, uint32_t arg, uint32_t aux)
{
	struct match m = { .event = ev, .arg = arg, .aux = aux, .tgid = (uint32_t)getpid() };

	assert_int_equal(virq_trace_read_counters(t, match_cb, &m), 0);
	return m.sum;
}

/* The kernel's answer for a symbol, as the loader's ksym lookups see it: 1 listed with an
 * address, 0 not listed, -1 listed with a hidden (zero) address. */
static int kallsyms_has(const char *name)
{
	char line[256], sym[128], type;
	unsigned long long addr;
	int found = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %127s", &addr, &type, sym) == 3 && !strcmp(sym, name)) {
			found = addr ? 1 : -1;
			if (found > 0)
				break;
		}
	fclose(f);
	return found;
}

static void test_attach_report_matches_host(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	static const char *const attach[] = {
		"kvm_set_irq",	  "kvm_msi_set_irq", "kvm_apic_accept_irq",
		"kvm_apic_ipi",	  "kvm_eoi",	     "kvm_entry",
		"kvm_exit",	  "kvm_inj_virq",    "kvm_apicv_accept_irq",
		"kvm_vcpu_wakeup"
	};
	unsigned int i;

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	/* kprobes are opt-in: off by default, with the reason */
	t = open_or_skip(&o);
	for (i = 0; i < 2; i++) {
		struct virq_trace_point p = point(t, i ? "kprobe:vmx_deliver_posted_interrupt" :
							 "kprobe:__apic_accept_irq");

		assert_int_equal(p.state, VIRQ_TPS_UNAVAILABLE);
		assert_non_null(strstr(p.error, "disabled by option"));
	}
	virq_trace_close(t);
	o.kprobes = true;
	t = open_or_skip(&o);
	for (i = 0; i < sizeof(attach) / sizeof(attach[0]); i++) {
		struct virq_trace_point p = point(t, attach[i]);

		if (p.state == VIRQ_TPS_UNAVAILABLE)
			fail_msg("%s unavailable: %s", attach[i], p.error);
		/* tp_btf is the preferred variant and this kernel's BTF has btf_trace_kvm_* */
		if (p.variant != VIRQ_TVAR_TP_BTF)
			fail_msg("%s attached as %s, not tp_btf", attach[i],
				 virq_trace_variant_name(p.variant));
	}
	/* Without /dev/kvm nothing raises these: attached but silent. */
	if (access("/dev/kvm", F_OK) != 0) {
		assert_int_equal(point(t, "kvm_entry").state, VIRQ_TPS_SILENT);
		assert_int_equal(point(t, "kvm_exit").state, VIRQ_TPS_SILENT);
		assert_int_equal(point(t, "kvm_apicv_accept_irq").state, VIRQ_TPS_SILENT);
		assert_int_equal(point(t, "kvm_inj_virq").state, VIRQ_TPS_SILENT);
	}
	/* kprobes: unavailable with the kernel's error where CONFIG_KPROBES is off; where
	 * kprobes exist, attached exactly when the kernel has the (not inlined) function. */
	if (access("/sys/kernel/tracing/kprobe_events", F_OK) != 0) {
		struct virq_trace_point p = point(t, "kprobe:__apic_accept_irq");

		assert_int_equal(p.state, VIRQ_TPS_UNAVAILABLE);
		if (!strstr(p.error, strerror(ENOENT)))
			fail_msg("kprobe error '%s' is not ENOENT", p.error);
	} else {
		static const char *const fn[] = { "__apic_accept_irq",
						  "vmx_deliver_posted_interrupt" };

		for (i = 0; i < 2; i++) {
			char name[64];
			struct virq_trace_point p;

			snprintf(name, sizeof(name), "kprobe:%s", fn[i]);
			p = point(t, name);
			if (kallsyms_has(fn[i]) > 0) {
				if (p.state == VIRQ_TPS_UNAVAILABLE)
					fail_msg("%s unavailable: %s", name, p.error);
				assert_int_equal(p.variant, VIRQ_TVAR_KPROBE);
			} else {
				assert_int_equal(p.state, VIRQ_TPS_UNAVAILABLE);
				assert_true(p.error[0] != 0);
			}
		}
	}
	virq_trace_close(t);
}

/* Attribution features are reported as points: available exactly when the kernel symbol
 * they compare against is visible in /proc/kallsyms, else unavailable with the reason. */
static void test_attribution_features_follow_kallsyms(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	struct virq_trace_point p;

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.kprobes = false;
	t = open_or_skip(&o);
	p = point(t, "attr:vcpu(kvm_sched_in)");
	if (kallsyms_has("kvm_sched_in") > 0) {
		assert_int_equal(p.state, VIRQ_TPS_LIVE);
		assert_string_equal(p.error, "");
	} else {
		assert_int_equal(p.state, VIRQ_TPS_UNAVAILABLE);
		assert_non_null(strstr(p.error, "kvm_sched_in"));
	}
	p = point(t, "attr:workqueue_execute_start(irqfd)");
	if (kallsyms_has("irqfd_inject") > 0) {
		if (p.state == VIRQ_TPS_UNAVAILABLE)
			fail_msg("irqfd attribution unavailable: %s", p.error);
		assert_int_equal(p.variant, VIRQ_TVAR_RAW_TP);
	} else {
		assert_int_equal(p.state, VIRQ_TPS_UNAVAILABLE);
		assert_non_null(strstr(p.error, "irqfd_inject"));
		assert_int_equal(point(t, "attr:workqueue_execute_end").state,
				 VIRQ_TPS_UNAVAILABLE);
	}
	virq_trace_close(t);
}

static int no_syscall_hook(const struct virq_trace_point *p, void *ctx)
{
	if (strstr(p->name, "sys_enter") || strstr(p->name, "sys_exit"))
		fail_msg("%s: a syscall hook (every syscall of the host would pay for it)",
			 p->name);
	return 0;
}

/* ioctl attribution reads the thread's syscall registers (bpf_task_pt_regs, Linux 5.15):
 * live on such kernels, off with the reason when disabled, and never a syscall hook. */
static void test_ioctl_attribution_is_a_feature_not_a_syscall_hook(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	struct virq_trace_point p;
	struct utsname u;
	int major = 0, minor = 0;

	VIRQ_REQUIRE_BPF();
	assert_int_equal(uname(&u), 0);
	assert_int_equal(sscanf(u.release, "%d.%d", &major, &minor), 2);
	virq_trace_opts_init(&o);
	o.kprobes = false;
	t = open_or_skip(&o);
	p = point(t, "attr:ioctl(task_pt_regs)");
	if (major > 5 || (major == 5 && minor >= 15)) {
		if (p.state != VIRQ_TPS_LIVE)
			fail_msg("ioctl attribution on %s: %s", u.release, p.error);
	} else {
		assert_int_equal(p.state, VIRQ_TPS_UNAVAILABLE);
		assert_non_null(strstr(p.error, "bpf_task_pt_regs"));
	}
	virq_trace_points(t, no_syscall_hook, NULL);
	virq_trace_close(t);

	o.attribute_ioctl = false;
	t = open_or_skip(&o);
	p = point(t, "attr:ioctl(task_pt_regs)");
	assert_int_equal(p.state, VIRQ_TPS_UNAVAILABLE);
	assert_string_equal(p.error, "off: disabled by option");
	virq_trace_close(t);
}

/* A program the verifier refuses costs only its own attach point's variant: the point falls
 * back to raw_tp, every other point keeps tp_btf; with tp_btf forced the point is
 * unavailable with the verifier's reason and the rest still attach. */
static void test_refused_program_degrades_only_its_point(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	struct virq_trace_point p;
	uint64_t msi[2];

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.kprobes = false;
	o.test_refuse = true;
	o.test_run = true;
	t = open_or_skip(&o);
	p = point(t, "kvm_msi_set_irq");
	if (p.state == VIRQ_TPS_UNAVAILABLE)
		fail_msg("kvm_msi_set_irq: %s", p.error);
	assert_int_equal(p.variant, VIRQ_TVAR_RAW_TP);
	assert_int_equal(point(t, "kvm_apic_accept_irq").variant, VIRQ_TVAR_TP_BTF);
	assert_int_equal(point(t, "kvm_set_irq").variant, VIRQ_TVAR_TP_BTF);
	/* the fallback program counts */
	msi_args(msi, 2, 0x4a);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 3, NULL), 0);
	assert_int_equal(count_of(t, VIRQ_TEV_MSI_SET_IRQ, 0x4a, 2), 3);
	virq_trace_close(t);

	o.pref = VIRQ_TPREF_TP_BTF;
	o.test_run = false;
	t = open_or_skip(&o);
	p = point(t, "kvm_msi_set_irq");
	assert_int_equal(p.state, VIRQ_TPS_UNAVAILABLE);
	assert_int_equal(p.variant, VIRQ_TVAR_NONE);
	if (!strstr(p.error, "tp_btf refused by the verifier: ") || strlen(p.error) < 40)
		fail_msg("no verifier reason: '%s'", p.error);
	assert_int_equal(point(t, "kvm_apic_accept_irq").variant, VIRQ_TVAR_TP_BTF);
	virq_trace_close(t);
}

static void test_classic_tp_variant_attaches(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.pref = VIRQ_TPREF_TP;
	o.kprobes = false;
	t = open_or_skip(&o);
	struct virq_trace_point p = point(t, "kvm_msi_set_irq");
	if (p.state == VIRQ_TPS_UNAVAILABLE)
		fail_msg("tp kvm_msi_set_irq: %s", p.error);
	assert_int_equal(p.variant, VIRQ_TVAR_TP);
	p = point(t, "kvm_exit");
	assert_int_equal(p.variant, VIRQ_TVAR_TP);
	virq_trace_close(t);
}

static void test_forced_raw_tp_fallback_attaches(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	static const char *const names[] = { "kvm_msi_set_irq", "kvm_apic_accept_irq", "kvm_exit",
					     "kvm_eoi" };
	unsigned int i;

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.pref = VIRQ_TPREF_RAW_TP;
	o.kprobes = false;
	t = open_or_skip(&o);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct virq_trace_point p = point(t, names[i]);

		if (p.state == VIRQ_TPS_UNAVAILABLE)
			fail_msg("raw_tp %s: %s", names[i], p.error);
		assert_int_equal(p.variant, VIRQ_TVAR_RAW_TP);
	}
	/* the attribution helpers are raw_tp in every preference */
	if (point(t, "attr:workqueue_execute_start(irqfd)").state != VIRQ_TPS_UNAVAILABLE)
		assert_int_equal(point(t, "attr:workqueue_execute_start(irqfd)").variant,
				 VIRQ_TVAR_RAW_TP);
	virq_trace_close(t);

	o.pref = VIRQ_TPREF_TP_BTF;
	t = open_or_skip(&o);
	assert_int_equal(point(t, "kvm_msi_set_irq").variant, VIRQ_TVAR_TP_BTF);
	virq_trace_close(t);
}

/* tp_btf attached and the raw_tp twin loaded beside it: the twin is test-runnable and
 * feeds the same maps; without test_run it is not loaded and the hook says so. */
static void test_tp_btf_attached_with_raw_tp_twin_for_test_runs(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	uint64_t msi[2];

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.kprobes = false;
	t = open_or_skip(&o);
	assert_int_equal(point(t, "kvm_msi_set_irq").variant, VIRQ_TVAR_TP_BTF);
	msi_args(msi, 0, 0x44);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 1, NULL), -ENOENT);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV__COUNT, NULL, 0, 1, NULL), -ENOENT);
	virq_trace_close(t);

	o.test_run = true;
	t = open_or_skip(&o);
	assert_int_equal(point(t, "kvm_msi_set_irq").variant, VIRQ_TVAR_TP_BTF);
	/* Here no VM raises it; on a KVM host other VMs may (events only grow). */
	if (access("/dev/kvm", F_OK) != 0)
		assert_int_equal(point(t, "kvm_msi_set_irq").state, VIRQ_TPS_SILENT);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 7, NULL), 0);
	/* our tgid: exactly the test runs, whatever else the attached program sees */
	assert_int_equal(count_of(t, VIRQ_TEV_MSI_SET_IRQ, 0x44, 0), 7);
	/* the attach point's count is the handler's, whichever program ran it */
	assert_true(point(t, "kvm_msi_set_irq").events >= 7);
	assert_int_equal(point(t, "kvm_msi_set_irq").state, VIRQ_TPS_LIVE);
	virq_trace_close(t);
}

static int count_cb(const struct virq_trace_key *k, uint64_t v, void *ctx)
{
	(*(unsigned int *)ctx)++;
	return 0;
}

/* A fresh tracer has no counter: reading it calls nothing and passes no NULL buffer on
 * (UBSan caught qsort(NULL, 0) on this path at virqd's start; make asan runs this). */
static void test_fresh_tracer_reads_no_counter(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	unsigned int calls = 0;

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.no_attach = true;
	t = open_or_skip(&o);
	assert_int_equal(virq_trace_read_counters(t, count_cb, &calls), 0);
	assert_int_equal(calls, 0);
	virq_trace_close(t);
}

static void test_n_msi_give_n_counts_with_vector_and_apic_id(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	uint64_t msi[2], acc[4];
	const unsigned int n = 37;
	unsigned int i;

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.no_attach = true;
	t = open_or_skip(&o);
	msi_args(msi, 3, 0x41);
	/* kvm_apic_accept_irq(apicid, dm, tm, vec): APIC_DM_FIXED = 0 */
	acc[0] = 3;
	acc[1] = 0;
	acc[2] = 0;
	acc[3] = 0x41;
	for (i = 0; i < n; i++) {
		assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 1, NULL), 0);
		assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_APIC_ACCEPT_IRQ, acc, 4, 1, NULL),
				 0);
	}
	assert_int_equal(count_of(t, VIRQ_TEV_MSI_SET_IRQ, 0x41, 3), n);
	assert_int_equal(count_of(t, VIRQ_TEV_APIC_ACCEPT_IRQ, 0x41, 3), n);
	/* a different vector or APIC ID was never raised */
	assert_int_equal(count_of(t, VIRQ_TEV_APIC_ACCEPT_IRQ, 0x42, 3), 0);
	assert_int_equal(count_of(t, VIRQ_TEV_APIC_ACCEPT_IRQ, 0x41, 2), 0);
	/* fixed deliveries without a posted (apicv) accept are non-posted */
	assert_int_equal(count_of(t, VIRQ_TEV_DELIVER_NONPOSTED, 0x41, 3), n);
	assert_int_equal(virq_trace_event_total(t, VIRQ_TEV_DELIVER_POSTED, getpid()), 0);
	virq_trace_close(t);
}

static void test_posted_accept_moves_delivery_to_posted(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	uint64_t acc[4] = { 1, 0x100 /* APIC_DM_LOWEST */, 0, 0x52 };
	unsigned int i;

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.no_attach = true;
	t = open_or_skip(&o);
	for (i = 0; i < 5; i++) {
		assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_APIC_ACCEPT_IRQ, acc, 4, 1, NULL),
				 0);
		if (i < 3)
			assert_int_equal(
				virq_trace_test_run(t, VIRQ_TEV_APICV_ACCEPT_IRQ, acc, 4, 1, NULL),
				0);
	}
	assert_int_equal(count_of(t, VIRQ_TEV_DELIVER_POSTED, 0x52, 1), 3);
	assert_int_equal(count_of(t, VIRQ_TEV_DELIVER_NONPOSTED, 0x52, 1), 2);
	/* NMI (delivery mode 4) does not go through IRR: neither posted nor non-posted */
	acc[1] = 0x400;
	acc[3] = 2;
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_APIC_ACCEPT_IRQ, acc, 4, 1, NULL), 0);
	assert_int_equal(count_of(t, VIRQ_TEV_DELIVER_NONPOSTED, 2, 1), 0);
	assert_int_equal(count_of(t, VIRQ_TEV_APIC_ACCEPT_IRQ, 2, 1), 1);
	virq_trace_close(t);
}

/* Sum of the counts of (event, arg) whose flags have every bit of `want` set and none of
 * `unwanted`. */
struct fmatch {
	uint16_t event;
	uint32_t arg;
	uint16_t want, unwanted;
	uint64_t sum;
};

static int fmatch_cb(const struct virq_trace_key *k, uint64_t v, void *ctx)
{
	struct fmatch *m = ctx;

	if (k->tgid == (uint32_t)getpid() && k->event == m->event && k->arg == m->arg &&
	    (k->flags & m->want) == m->want && !(k->flags & m->unwanted))
		m->sum += v;
	return 0;
}

static uint64_t flagged(struct virq_trace *t, uint16_t ev, uint32_t arg, uint16_t want,
			uint16_t unwanted)
{
	struct fmatch m = { .event = ev, .arg = arg, .want = want, .unwanted = unwanted };

	assert_int_equal(virq_trace_read_counters(t, fmatch_cb, &m), 0);
	return m.sum;
}

/* What the tracepoints' own fields say is kept in the key: a masked PIC/IOAPIC pin, the
 * chips' coalesced answer, whether kvm_set_irq raised or lowered the line (for the chips'
 * events that follow it), the delivery mode and trigger of accepts, IPIs and MSIs, and
 * re-injections. The cross-check of observed VMs is built on these. */
static void test_event_flags_follow_the_tracepoint_fields(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	/* kvm_set_irq(gsi, level, irq_source_id) */
	uint64_t up[3] = { 4, 1, 0 }, down[3] = { 4, 0, 0 };
	/* kvm_pic_set_irq(chip, pin, elcr, imr, coalesced): pin 4 masked in IMR 0x10 */
	uint64_t pic_masked[5] = { 0, 4, 0, 0x10, 0 }, pic_open[5] = { 0, 4, 0, 0xef, 1 };
	/* kvm_ioapic_set_irq(e, pin, coalesced): vector 0x24, mask bit 16, level bit 15 */
	uint64_t io_masked[3] = { 0x10024, 4, 0 }, io_level[3] = { 0x8024, 4, 0 };
	/* kvm_apic_accept_irq(apicid, dm, tm, vec): NMI, and a level fixed one */
	uint64_t acc_nmi[4] = { 1, 0x400, 0, 0 }, acc_lvl[4] = { 1, 0, 1, 0x24 };
	/* kvm_apic_ipi(icr_low, dest_id): INIT de-assert (level trigger, level 0), SIPI */
	uint64_t ipi_deassert[2] = { 0x8500, 1 }, ipi_sipi[2] = { 0x4609, 1 };
	/* kvm_inj_virq(vector, soft, reinjected) */
	uint64_t inj[3] = { 0x30, 0, 0 }, reinj[3] = { 0x30, 0, 1 };
	uint64_t msi[2];

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.no_attach = true;
	t = open_or_skip(&o);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_SET_IRQ, up, 3, 1, NULL), 0);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_PIC_SET_IRQ, pic_masked, 5, 1, NULL), 0);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_IOAPIC_SET_IRQ, io_masked, 3, 1, NULL), 0);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_SET_IRQ, down, 3, 1, NULL), 0);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_PIC_SET_IRQ, pic_open, 5, 1, NULL), 0);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_IOAPIC_SET_IRQ, io_level, 3, 1, NULL), 0);
	assert_int_equal(flagged(t, VIRQ_TEV_SET_IRQ, 4, 0, VIRQ_TKF_DEASSERT), 1);
	assert_int_equal(flagged(t, VIRQ_TEV_SET_IRQ, 4, VIRQ_TKF_DEASSERT, 0), 1);
	/* the raised line: masked in both chips, not coalesced */
	assert_int_equal(flagged(t, VIRQ_TEV_PIC_SET_IRQ, 4, VIRQ_TKF_MASKED,
				 VIRQ_TKF_DEASSERT | VIRQ_TKF_COALESCED | VIRQ_TKF_LINE_UNKNOWN),
			 1);
	assert_int_equal(flagged(t, VIRQ_TEV_IOAPIC_SET_IRQ, 4, VIRQ_TKF_MASKED,
				 VIRQ_TKF_DEASSERT | VIRQ_TKF_LEVEL_TRIG | VIRQ_TKF_LINE_UNKNOWN),
			 1);
	/* the lowered one: open pins, the PIC's coalesced answer, the RTE's level trigger */
	assert_int_equal(flagged(t, VIRQ_TEV_PIC_SET_IRQ, 4, VIRQ_TKF_DEASSERT | VIRQ_TKF_COALESCED,
				 VIRQ_TKF_MASKED),
			 1);
	assert_int_equal(flagged(t, VIRQ_TEV_IOAPIC_SET_IRQ, 4,
				 VIRQ_TKF_DEASSERT | VIRQ_TKF_LEVEL_TRIG, VIRQ_TKF_MASKED),
			 1);
	/* a chip event with no kvm_set_irq just before in this thread: line unknown */
	for (int i = 0; i < 10; i++)
		assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_INJ_VIRQ, inj, 3, 1, NULL), 0);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_PIC_SET_IRQ, pic_open, 5, 1, NULL), 0);
	assert_int_equal(flagged(t, VIRQ_TEV_PIC_SET_IRQ, 4, VIRQ_TKF_LINE_UNKNOWN, 0), 1);
	/* delivery modes and triggers */
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_APIC_ACCEPT_IRQ, acc_nmi, 4, 1, NULL), 0);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_APIC_ACCEPT_IRQ, acc_lvl, 4, 1, NULL), 0);
	assert_int_equal(flagged(t, VIRQ_TEV_APIC_ACCEPT_IRQ, 0, VIRQ_DM_NMI << VIRQ_TKF_DM_SHIFT,
				 VIRQ_TKF_IRR),
			 1);
	assert_int_equal(flagged(t, VIRQ_TEV_APIC_ACCEPT_IRQ, 0x24,
				 VIRQ_TKF_IRR | VIRQ_TKF_LEVEL_TRIG,
				 VIRQ_TKF_DM_MASK << VIRQ_TKF_DM_SHIFT),
			 1);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_APIC_IPI, ipi_deassert, 2, 1, NULL), 0);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_APIC_IPI, ipi_sipi, 2, 1, NULL), 0);
	assert_int_equal(flagged(t, VIRQ_TEV_APIC_IPI, 0,
				 (VIRQ_DM_INIT << VIRQ_TKF_DM_SHIFT) | VIRQ_TKF_DEASSERT |
					 VIRQ_TKF_LEVEL_TRIG,
				 0),
			 1);
	assert_int_equal(flagged(t, VIRQ_TEV_APIC_IPI, 9, VIRQ_DM_STARTUP << VIRQ_TKF_DM_SHIFT,
				 VIRQ_TKF_DEASSERT | VIRQ_TKF_LEVEL_TRIG),
			 1);
	/* a fixed IPI to all but self (shorthand 11b, ICR bits 19:18): no single target */
	ipi_sipi[0] = 0xc00fd;
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_APIC_IPI, ipi_sipi, 2, 1, NULL), 0);
	assert_int_equal(flagged(t, VIRQ_TEV_APIC_IPI, 0xfd, VIRQ_TKF_DEST_UNKNOWN, 0), 1);
	assert_int_equal(flagged(t, VIRQ_TEV_APIC_IPI, 9, 0, VIRQ_TKF_DEST_UNKNOWN), 1);
	/* an NMI MSI (data delivery mode 4) */
	msi_args(msi, 0, 0);
	msi[1] = 0x400;
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 1, NULL), 0);
	assert_int_equal(flagged(t, VIRQ_TEV_MSI_SET_IRQ, 0, VIRQ_DM_NMI << VIRQ_TKF_DM_SHIFT, 0),
			 1);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_INJ_VIRQ, reinj, 3, 1, NULL), 0);
	assert_int_equal(flagged(t, VIRQ_TEV_INJ_VIRQ, 0x30, 0, VIRQ_TKF_REINJECTED), 10);
	assert_int_equal(flagged(t, VIRQ_TEV_INJ_VIRQ, 0x30, VIRQ_TKF_REINJECTED, 0), 1);
	virq_trace_close(t);
}

static void test_filter_excludes_other_tgids_and_updates_at_run_time(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	uint64_t msi[2];
	pid_t other = 1, me = getpid();

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.no_attach = true;
	t = open_or_skip(&o);
	msi_args(msi, 0, 0x30);
	assert_int_equal(virq_trace_filter_set(t, &other, 1), 0);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 10, NULL), 0);
	assert_int_equal(count_of(t, VIRQ_TEV_MSI_SET_IRQ, 0x30, 0), 0);
	assert_int_equal(virq_trace_stat(t, VIRQ_TSTAT_FILTERED), 10);
	/* the attach point's own count sees them (it is taken before filtering) */
	assert_int_equal(point(t, "kvm_msi_set_irq").events, 10);
	assert_int_equal(virq_trace_filter_set(t, &me, 1), 0);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 4, NULL), 0);
	assert_int_equal(count_of(t, VIRQ_TEV_MSI_SET_IRQ, 0x30, 0), 4);
	assert_int_equal(virq_trace_filter_set(t, NULL, 0), 0); /* empty set: nothing */
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 3, NULL), 0);
	assert_int_equal(count_of(t, VIRQ_TEV_MSI_SET_IRQ, 0x30, 0), 4);
	assert_int_equal(virq_trace_filter_all(t), 0);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 2, NULL), 0);
	assert_int_equal(count_of(t, VIRQ_TEV_MSI_SET_IRQ, 0x30, 0), 6);
	virq_trace_close(t);
}

struct hsum {
	uint32_t hist;
	uint64_t count;
	uint64_t slots;
};

static int hist_cb(const struct virq_trace_hist_key *k, const struct virq_trace_hist_val *v,
		   void *ctx)
{
	struct hsum *h = ctx;
	unsigned int i;

	if (k->hist != h->hist || k->tgid != (uint32_t)getpid())
		return 0;
	h->count += v->count;
	for (i = 0; i < VIRQ_TRACE_HIST_SLOTS; i++)
		h->slots += v->slots[i];
	return 0;
}

static void test_source_to_accept_latency_is_histogrammed_per_delivery(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	uint64_t msi[2], acc[4] = { 0, 0, 0, 0x61 }, wake[3] = { 5000, 1, 1 };
	struct hsum h = { .hist = VIRQ_THIST_SRC_TO_ACCEPT };
	struct hsum w = { .hist = VIRQ_THIST_WAKEUP };
	unsigned int i;

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.no_attach = true;
	o.latency_sample = 1;
	t = open_or_skip(&o);
	msi_args(msi, 0, 0x61);
	for (i = 0; i < 9; i++) {
		assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 1, NULL), 0);
		assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_APIC_ACCEPT_IRQ, acc, 4, 1, NULL),
				 0);
	}
	/* an accept without a source (e.g. LAPIC timer) adds no source latency */
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_APIC_ACCEPT_IRQ, acc, 4, 1, NULL), 0);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_VCPU_WAKEUP, wake, 3, 6, NULL), 0);
	assert_int_equal(virq_trace_read_hist(t, hist_cb, &h), 0);
	assert_int_equal(virq_trace_read_hist(t, hist_cb, &w), 0);
	assert_int_equal(h.count, 9);
	assert_int_equal(h.slots, 9);
	assert_int_equal(w.count, 6);
	virq_trace_close(t);
}

/* One test run of the event's program with these arguments, which must succeed. */
static void run1(struct virq_trace *t, enum virq_trace_event ev, const uint64_t *a, unsigned int n)
{
	assert_int_equal(virq_trace_test_run(t, ev, a, n, 1, NULL), 0);
}

/* Pins the calling thread to the CPU it runs on (per-CPU state: the chains' sequence, the
 * source slot) and opens the tracer for test runs timing one chain in latency_sample;
 * *old gets the affinity to restore with unpin(). */
static struct virq_trace *open_pinned(unsigned int latency_sample, cpu_set_t *old)
{
	struct virq_trace_opts o;
	cpu_set_t one;

	assert_int_equal(sched_getaffinity(0, sizeof(*old), old), 0);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	virq_trace_opts_init(&o);
	o.no_attach = true;
	o.latency_sample = latency_sample;
	return open_or_skip(&o);
}

static void unpin(const cpu_set_t *old)
{
	assert_int_equal(sched_setaffinity(0, sizeof(*old), old), 0);
}

/* Sampled latency: one delivery chain in N per CPU is timed (the first, then every Nth),
 * an accept without a source starting a chain of its own; the counters stay exact. */
static void test_latency_sampling_times_one_chain_in_n_and_counts_all(void **state)
{
	struct virq_trace *t;
	uint64_t msi[2], acc[4] = { 0, 0, 0, 0x62 };
	struct hsum h = { .hist = VIRQ_THIST_SRC_TO_ACCEPT };
	cpu_set_t old;
	unsigned int i;

	VIRQ_REQUIRE_BPF();
	t = open_pinned(4, &old);
	msi_args(msi, 0, 0x62);
	for (i = 0; i < 17; i++) { /* chains 0..16: timed 0, 4, 8, 12, 16 */
		run1(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2);
		run1(t, VIRQ_TEV_APIC_ACCEPT_IRQ, acc, 4);
	}
	/* chains 17..19 are accepts without a source, 20 is timed: no source latency */
	for (i = 0; i < 3; i++)
		run1(t, VIRQ_TEV_APIC_ACCEPT_IRQ, acc, 4);
	run1(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2);
	run1(t, VIRQ_TEV_APIC_ACCEPT_IRQ, acc, 4);
	unpin(&old);
	assert_int_equal(virq_trace_read_hist(t, hist_cb, &h), 0);
	assert_int_equal(h.count, 6);
	assert_int_equal(h.slots, 6);
	assert_int_equal(count_of(t, VIRQ_TEV_MSI_SET_IRQ, 0x62, 0), 18);
	assert_int_equal(count_of(t, VIRQ_TEV_APIC_ACCEPT_IRQ, 0x62, 0), 21);
	virq_trace_close(t);
}

/* A source's attribution (and timing) goes to the accept that follows it in the same
 * thread within a few events on the CPU (kvm_set_irq, kvm_pic_set_irq, then the accept);
 * an accept after more unrelated events (a source whose MSI reached no APIC) is a chain
 * of its own: no source latency. */
static void test_source_slot_expires_after_unrelated_events(void **state)
{
	struct virq_trace *t;
	uint64_t msi[2], acc[4] = { 0, 0, 0, 0x63 }, pio[2] = { 1, 0x80 };
	struct hsum h = { .hist = VIRQ_THIST_SRC_TO_ACCEPT };
	cpu_set_t old;
	unsigned int i;

	VIRQ_REQUIRE_BPF();
	t = open_pinned(1, &old);
	msi_args(msi, 0, 0x63);
	/* two events between: still the source's accept */
	run1(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2);
	for (i = 0; i < 2; i++)
		run1(t, VIRQ_TEV_PIO, pio, 2);
	run1(t, VIRQ_TEV_APIC_ACCEPT_IRQ, acc, 4);
	/* three between: too far */
	run1(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2);
	for (i = 0; i < 3; i++)
		run1(t, VIRQ_TEV_PIO, pio, 2);
	run1(t, VIRQ_TEV_APIC_ACCEPT_IRQ, acc, 4);
	/* a slot is taken once: a second accept is on its own */
	run1(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2);
	for (i = 0; i < 2; i++)
		run1(t, VIRQ_TEV_APIC_ACCEPT_IRQ, acc, 4);
	unpin(&old);
	assert_int_equal(virq_trace_read_hist(t, hist_cb, &h), 0);
	assert_int_equal(h.count, 2);
	assert_int_equal(count_of(t, VIRQ_TEV_APIC_ACCEPT_IRQ, 0x63, 0), 4);
	virq_trace_close(t);
}

/* Every timed accept -> injection pair is either closed by its injection (a latency
 * sample) or counted as displaced by another pair in its slot before that: 200 pairs open
 * at once in a 64-slot table lose at least 136, and none silently. */
static void test_latency_pairs_are_closed_or_counted_as_displaced(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	uint64_t acc[4] = { 0, 0 /* APIC_DM_FIXED */, 0, 0x44 };
	struct hsum h = { .hist = VIRQ_THIST_ACCEPT_TO_INJECT };
	uint64_t displaced;
	unsigned int i;

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.no_attach = true;
	o.latency_sample = 1;
	t = open_or_skip(&o);
	for (i = 0; i < 200; i++) {
		acc[0] = i;
		run1(t, VIRQ_TEV_APIC_ACCEPT_IRQ, acc, 4);
	}
	for (i = 0; i < 200; i++) {
		acc[0] = i;
		run1(t, VIRQ_TEV_APICV_ACCEPT_IRQ, acc, 4);
	}
	assert_int_equal(virq_trace_read_hist(t, hist_cb, &h), 0);
	displaced = virq_trace_stat(t, VIRQ_TSTAT_PENDING_FULL);
	print_message("# %llu pairs closed, %llu displaced\n", (unsigned long long)h.count,
		      (unsigned long long)displaced);
	assert_true(displaced >= 136);
	assert_int_equal(h.count + displaced, 200);
	virq_trace_close(t);
}

static int ring_cb(const struct virq_trace_record *r, void *ctx)
{
	unsigned int *n = ctx;

	if (r->key.event == VIRQ_TEV_MSI_SET_IRQ && r->key.arg == 0x77 &&
	    r->key.tgid == (uint32_t)getpid() && r->tid == (uint32_t)gettid())
		(*n)++;
	return 0;
}

static void test_ring_delivers_records_and_counts_drops_when_full(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	uint64_t msi[2], drops;
	unsigned int got = 0, cap;
	int n;

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.no_attach = true;
	o.ring = true;
	o.ring_bytes = 4096;
	o.ring_wakeup_every = 16;
	t = open_or_skip(&o);
	assert_true(virq_trace_ring_fd(t) >= 0);
	msi_args(msi, 0, 0x77);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 20, NULL), 0);
	n = virq_trace_ring_poll(t, 100, ring_cb, &got);
	assert_int_equal(n, 20);
	assert_int_equal(got, 20);
	assert_int_equal(virq_trace_drops(t), 0);
	/* 4096 bytes hold 4096 / (40 + 8 header) records; push twice that without reading */
	cap = 4096 / (sizeof(struct virq_trace_record) + 8);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 2 * cap, NULL), 0);
	got = 0;
	n = virq_trace_ring_consume(t, ring_cb, &got);
	assert_int_equal((unsigned int)n, got);
	assert_int_equal(got + virq_trace_drops(t), 2 * cap);
	assert_true(virq_trace_drops(t) >= cap);
	assert_int_equal(virq_trace_stat(t, VIRQ_TSTAT_RING_RECORDS), 20 + got);
	/* counters are not affected by ring drops */
	assert_int_equal(count_of(t, VIRQ_TEV_MSI_SET_IRQ, 0x77, 0), 20 + 2 * cap);
	/* stopped at run time: events are counted, no record is written, nothing dropped */
	drops = virq_trace_drops(t);
	assert_int_equal(virq_trace_ring_set_active(t, false), 0);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 10, NULL), 0);
	got = 0;
	assert_int_equal(virq_trace_ring_poll(t, 50, ring_cb, &got), 0);
	assert_int_equal(got, 0);
	assert_int_equal(virq_trace_drops(t), drops);
	assert_int_equal(count_of(t, VIRQ_TEV_MSI_SET_IRQ, 0x77, 0), 30 + 2 * cap);
	/* and started again */
	assert_int_equal(virq_trace_ring_set_active(t, true), 0);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 5, NULL), 0);
	assert_int_equal(virq_trace_ring_poll(t, 100, ring_cb, &got), 5);
	assert_int_equal(got, 5);
	virq_trace_close(t);
}

struct key_tally {
	unsigned int keys;
	uint64_t sum;
	bool bad;
};

static int tally_cb(const struct virq_trace_key *k, uint64_t v, void *ctx)
{
	struct key_tally *t = ctx;

	if (k->event != VIRQ_TEV_MSI_SET_IRQ || k->tgid != (uint32_t)getpid())
		return 0;
	t->keys++;
	t->sum += v;
	/* vector v with destination d was run d + 1 times */
	if (v != k->aux + 1)
		t->bad = true;
	return 0;
}

/* More keys than one batch of the loader's read, each with its own count; after a reset
 * only what came since. */
static void test_many_keys_read_back_exactly(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	struct key_tally tl = { 0 };
	uint64_t msi[2];
	unsigned int d, v, want = 0;

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.no_attach = true;
	t = open_or_skip(&o);
	for (d = 0; d < 6; d++)
		for (v = 0; v < 256; v++) {
			msi_args(msi, (uint8_t)d, (uint8_t)v);
			assert_int_equal(
				virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, d + 1, NULL),
				0);
			want += d + 1;
		}
	assert_int_equal(virq_trace_read_counters(t, tally_cb, &tl), 0);
	assert_int_equal(tl.keys, 6 * 256);
	assert_int_equal(tl.sum, want);
	assert_false(tl.bad);
	assert_int_equal(virq_trace_stat(t, VIRQ_TSTAT_COUNTER_FULL), 0);
	assert_int_equal(virq_trace_reset(t), 0);
	msi_args(msi, 5, 0x33);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 6, NULL), 0);
	memset(&tl, 0, sizeof(tl));
	assert_int_equal(virq_trace_read_counters(t, tally_cb, &tl), 0);
	assert_int_equal(tl.keys, 1);
	assert_int_equal(tl.sum, 6);
	assert_false(tl.bad);
	virq_trace_close(t);
}

/* Counts pending in the CPUs' key caches are read while the programs evict and rewrite
 * entries: a total read meanwhile never goes down (a count seen twice would, at the next
 * read) and never runs ahead of the events, and the last one is exact. */
struct churn {
	struct virq_trace *t;
	atomic_uint done;
	unsigned int n;
	int err;
};

#define CHURN_KEYS 97 /* more keys than cache entries: entries are rewritten all along */

static void *churn_main(void *arg)
{
	struct churn *c = arg;
	uint64_t msi[2];

	for (unsigned int i = 0; i < c->n && !c->err; i++) {
		msi_args(msi, 7, (uint8_t)(i % CHURN_KEYS));
		c->err = virq_trace_test_run(c->t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, 1, NULL);
		atomic_store(&c->done, i + 1);
	}
	return NULL;
}

static void test_counts_read_during_cache_churn_are_monotonic_and_exact(void **state)
{
	struct virq_trace_opts o;
	struct churn c = { .n = 20000 };
	uint64_t prev = 0, total;
	unsigned int reads = 0;
	pthread_t th;

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.no_attach = true;
	c.t = open_or_skip(&o);
	atomic_init(&c.done, 0);
	assert_int_equal(pthread_create(&th, NULL, churn_main, &c), 0);
	while (atomic_load(&c.done) < c.n && !c.err) {
		total = virq_trace_event_total(c.t, VIRQ_TEV_MSI_SET_IRQ, getpid());
		assert_true(total >= prev);
		/* done is stored after each event: one more may be counted already */
		assert_true(total <= atomic_load(&c.done) + 1);
		prev = total;
		reads++;
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(c.err, 0);
	assert_int_equal(virq_trace_event_total(c.t, VIRQ_TEV_MSI_SET_IRQ, getpid()), c.n);
	printf("# %u reads during %u events\n", reads, c.n);
	assert_true(reads > 1);
	virq_trace_close(c.t);
}

static void test_reset_zeroes_counters(void **state)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	uint64_t gsi[3] = { 4, 1, 0 };

	VIRQ_REQUIRE_BPF();
	virq_trace_opts_init(&o);
	o.no_attach = true;
	t = open_or_skip(&o);
	assert_int_equal(virq_trace_ring_set_active(t, true), -ENODEV); /* no ring */
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_SET_IRQ, gsi, 3, 3, NULL), 0);
	assert_int_equal(count_of(t, VIRQ_TEV_SET_IRQ, 4, 0), 3);
	assert_int_equal(point(t, "kvm_set_irq").events, 3);
	assert_int_equal(virq_trace_reset(t), 0);
	assert_int_equal(count_of(t, VIRQ_TEV_SET_IRQ, 4, 0), 0);
	/* the events seen per point start again from zero too */
	assert_int_equal(point(t, "kvm_set_irq").events, 0);
	assert_int_equal(virq_trace_test_run(t, VIRQ_TEV_SET_IRQ, gsi, 3, 2, NULL), 0);
	assert_int_equal(point(t, "kvm_set_irq").events, 2);
	virq_trace_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attach_report_matches_host),
		cmocka_unit_test(test_attribution_features_follow_kallsyms),
		cmocka_unit_test(test_ioctl_attribution_is_a_feature_not_a_syscall_hook),
		cmocka_unit_test(test_refused_program_degrades_only_its_point),
		cmocka_unit_test(test_classic_tp_variant_attaches),
		cmocka_unit_test(test_forced_raw_tp_fallback_attaches),
		cmocka_unit_test(test_tp_btf_attached_with_raw_tp_twin_for_test_runs),
		cmocka_unit_test(test_fresh_tracer_reads_no_counter),
		cmocka_unit_test(test_n_msi_give_n_counts_with_vector_and_apic_id),
		cmocka_unit_test(test_posted_accept_moves_delivery_to_posted),
		cmocka_unit_test(test_event_flags_follow_the_tracepoint_fields),
		cmocka_unit_test(test_filter_excludes_other_tgids_and_updates_at_run_time),
		cmocka_unit_test(test_source_to_accept_latency_is_histogrammed_per_delivery),
		cmocka_unit_test(test_source_slot_expires_after_unrelated_events),
		cmocka_unit_test(test_latency_pairs_are_closed_or_counted_as_displaced),
		cmocka_unit_test(test_latency_sampling_times_one_chain_in_n_and_counts_all),
		cmocka_unit_test(test_ring_delivers_records_and_counts_drops_when_full),
		cmocka_unit_test(test_many_keys_read_back_exactly),
		cmocka_unit_test(test_reset_zeroes_counters),
		cmocka_unit_test(test_counts_read_during_cache_churn_are_monotonic_and_exact),
	};

	return cmocka_run_group_tests_name("bpf/trace", tests, NULL, NULL);
}
