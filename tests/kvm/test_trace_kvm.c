// SPDX-License-Identifier: MIT
/*
 * BPF counts against real VMs, per irqchip mode:
 *   - kernel and split: N KVM_SIGNAL_MSI give N kvm_msi_set_irq and N kvm_apic_accept_irq
 *     with the right vector and APIC ID, equal to the VMM's injection ledger and the
 *     guest's ledger;
 *   - user: no in-kernel LAPIC, so no kvm_msi_set_irq or kvm_apic_accept_irq at all; the
 *     VMM's KVM_INTERRUPT injections show as kvm_inj_virq with the vector, equal to KVM's
 *     irq_injections stat (which counts re-injections too) and >= the guest's receipts;
 * two VMs in one process get distinct VM ids; a second VMM process (a forked decoy with
 * its own VM, injecting the same vector) is attributed to its own tgid and VM, and a
 * filter on our tgid counts none of its events; a filter on another tgid counts none of
 * ours. Host-wide discovery on the real /proc finds a QEMU-shaped and a Firecracker-shaped
 * VMM process (this program re-executed with their command lines, holding a real VM, its
 * vCPU threads named as those VMMs name them) with their names, vCPUs and threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "virq/discover.h"
#include "virq/trace.h"
#include "virq/vmm.h"
#include "virq_test.h"
#include "vm_helpers.h"

#define N_MSI 50

struct sel {
	uint16_t event;
	uint32_t arg, aux;
	uint32_t tgid;
	uint64_t sum;
	uint32_t vm_ids[4];
	unsigned int nr_vm;
	bool all_from_ioctl;
};

static int sel_cb(const struct virq_trace_key *k, uint64_t v, void *ctx)
{
	struct sel *s = ctx;
	unsigned int i;

	if (k->event != s->event || k->arg != s->arg || k->aux != s->aux || k->tgid != s->tgid)
		return 0;
	s->sum += v;
	if (!(k->flags & VIRQ_TKF_VM_FROM_IOCTL))
		s->all_from_ioctl = false;
	for (i = 0; i < s->nr_vm; i++)
		if (s->vm_ids[i] == k->vm_id)
			return 0;
	if (s->nr_vm < 4)
		s->vm_ids[s->nr_vm++] = k->vm_id;
	return 0;
}

static struct sel sel_pid(struct virq_trace *t, pid_t pid, uint16_t ev, uint32_t arg, uint32_t aux)
{
	struct sel s = {
		.event = ev, .arg = arg, .aux = aux, .tgid = (uint32_t)pid, .all_from_ioctl = true
	};

	assert_int_equal(virq_trace_read_counters(t, sel_cb, &s), 0);
	return s;
}

static struct sel sel(struct virq_trace *t, uint16_t ev, uint32_t arg, uint32_t aux)
{
	return sel_pid(t, getpid(), ev, arg, aux);
}

/* Every count of one event of this process, whatever its arguments. */
struct ev_sum {
	uint16_t event;
	uint64_t sum;
};

static int ev_sum_cb(const struct virq_trace_key *k, uint64_t v, void *ctx)
{
	struct ev_sum *e = ctx;

	if (k->event == e->event && k->tgid == (uint32_t)getpid())
		e->sum += v;
	return 0;
}

static uint64_t ev_total(struct virq_trace *t, uint16_t ev)
{
	struct ev_sum e = { .event = ev };

	assert_int_equal(virq_trace_read_counters(t, ev_sum_cb, &e), 0);
	return e.sum;
}

struct vm_find {
	uint32_t vm_id;
	struct virq_trace_vm vm;
	bool found;
};

static int vm_find_cb(uint32_t vm_id, const struct virq_trace_vm *vm, void *ctx)
{
	struct vm_find *f = ctx;

	if (vm_id != f->vm_id)
		return 0;
	f->vm = *vm;
	f->found = true;
	return 0;
}

static struct virq_vm *vm_up_mode(const char *name, enum virq_irqchip_mode mode)
{
	struct virq_vm_config cfg;

	virq_vm_config_init(&cfg);
	snprintf(cfg.name, sizeof(cfg.name), "%s", name);
	cfg.nr_vcpus = 2;
	cfg.irqchip = mode;
	return vm_boot_cfg(&cfg, 10000);
}

/* The tracer with default options; with `mine`, filtered to this process. */
static struct virq_trace *trace_up(bool mine)
{
	struct virq_trace_opts o;
	struct virq_trace *t;
	pid_t me = getpid();
	char err[256];

	virq_trace_opts_init(&o);
	o.latency_sample = 1; /* every delivery chain timed: pairs are counted exactly */
	t = virq_trace_open(&o, err, sizeof(err));
	if (!t)
		fail_msg("virq_trace_open: %s", err);
	if (mine)
		assert_int_equal(virq_trace_filter_set(t, &me, 1), 0);
	return t;
}

static struct virq_vm *vm_up(const char *name)
{
	return vm_up_mode(name, VIRQ_IRQCHIP_KERNEL);
}

static void inject_and_wait(struct virq_vm *vm, uint8_t apic, uint8_t vec, unsigned int n)
{
	struct virq_guest_vec g;
	unsigned int i, spins;

	for (i = 0; i < n; i++) {
		assert_true(virq_vm_inject_msi(vm, 0xfee00000ull | ((uint64_t)apic << 12), vec) >=
			    0);
		/* one at a time: a second MSI before the first is taken would coalesce */
		for (spins = 0; spins < 2000; spins++) {
			assert_int_equal(virq_vm_ledger(vm, apic, vec, &g), 0);
			if (g.count >= i + 1)
				break;
			usleep(500);
		}
		assert_int_equal(g.count, i + 1);
	}
}

struct hist_sel {
	uint32_t vm_id, hist;
	uint64_t count;
};

static int hist_cb(const struct virq_trace_hist_key *k, const struct virq_trace_hist_val *v,
		   void *ctx)
{
	struct hist_sel *h = ctx;

	if (k->vm_id == h->vm_id && k->hist == h->hist)
		h->count += v->count;
	return 0;
}

static uint64_t hist_count(struct virq_trace *t, uint32_t vm_id, uint32_t hist)
{
	struct hist_sel h = { .vm_id = vm_id, .hist = hist };

	assert_int_equal(virq_trace_read_hist(t, hist_cb, &h), 0);
	return h.count;
}

struct point_state {
	const char *name;
	enum virq_trace_point_state state;
};

static int point_state_cb(const struct virq_trace_point *p, void *ctx)
{
	struct point_state *s = ctx;

	if (!strcmp(p->name, s->name))
		s->state = p->state;
	return 0;
}

static void signal_msi_counts(enum virq_irqchip_mode mode)
{
	struct virq_trace *t;
	struct virq_vm *vm;
	struct virq_vmm_vec vv;
	pid_t me = getpid();

	VIRQ_REQUIRE_KVM();
	VIRQ_REQUIRE_BPF();
	t = trace_up(true);
	vm = vm_up_mode("trace-a", mode);
	assert_int_equal(virq_trace_reset(t), 0);
	inject_and_wait(vm, 1, 0x45, N_MSI);
	assert_int_equal(virq_vm_vmm_vec(vm, 1, 0x45, &vv), 0);
	struct sel m = sel(t, VIRQ_TEV_MSI_SET_IRQ, 0x45, 1);
	struct sel a = sel(t, VIRQ_TEV_APIC_ACCEPT_IRQ, 0x45, 1);
	assert_int_equal(m.sum, N_MSI);
	assert_int_equal(a.sum, N_MSI);
	assert_int_equal(vv.injected, N_MSI);
	/* attributed through the ioctl's VM fd, to one VM: the accept runs synchronously in
	 * the same ioctl, so it lands on the same VM */
	assert_true(m.all_from_ioctl);
	assert_int_equal(m.nr_vm, 1);
	assert_int_not_equal(m.vm_ids[0], VIRQ_TRACE_VM_NONE);
	assert_int_equal(a.nr_vm, 1);
	assert_int_equal(a.vm_ids[0], m.vm_ids[0]);
	/* Latency pairs: one per delivered MSI at least (the VM's other interrupts, e.g. from
	 * our IOAPIC in split mode, pair too), at most one per accept of the VM: source ->
	 * accept; accept -> injection where KVM traces injections (VMX/SVM), else accept ->
	 * the vCPU's kvm_eoi, never both. */
	struct point_state inj = { .name = "kvm_inj_virq", .state = VIRQ_TPS_UNAVAILABLE };
	uint64_t accepts = ev_total(t, VIRQ_TEV_APIC_ACCEPT_IRQ), closed, other;
	assert_int_equal(virq_trace_points(t, point_state_cb, &inj), 0);
	assert_in_range(hist_count(t, m.vm_ids[0], VIRQ_THIST_SRC_TO_ACCEPT), N_MSI, accepts);
	closed = hist_count(t, m.vm_ids[0],
			    inj.state == VIRQ_TPS_LIVE ? VIRQ_THIST_ACCEPT_TO_INJECT :
							 VIRQ_THIST_ACCEPT_TO_VCPU);
	other = hist_count(t, m.vm_ids[0],
			   inj.state == VIRQ_TPS_LIVE ? VIRQ_THIST_ACCEPT_TO_VCPU :
							VIRQ_THIST_ACCEPT_TO_INJECT);
	printf("# %s: %llu accepts, %llu closed by %s, %llu by the other\n",
	       mode == VIRQ_IRQCHIP_KERNEL ? "kernel" : "split", (unsigned long long)accepts,
	       (unsigned long long)closed, inj.state == VIRQ_TPS_LIVE ? "kvm_inj_virq" : "kvm_eoi",
	       (unsigned long long)other);
	assert_in_range(closed, N_MSI, accepts);
	assert_int_equal(other, 0);
	/* and KVM's own view of that VM: created by this process */
	struct vm_find f = { .vm_id = m.vm_ids[0] };
	assert_int_equal(virq_trace_read_vms(t, vm_find_cb, &f), 0);
	assert_true(f.found);
	assert_int_equal(f.vm.userspace_pid, (uint32_t)me);
	char want_id[48];
	snprintf(want_id, sizeof(want_id), "kvm-%d", (int)me);
	assert_string_equal(f.vm.stats_id, want_id);
	virq_vm_destroy(vm);
	virq_trace_close(t);
}

static void test_n_signal_msi_give_n_source_and_accept_counts(void **state)
{
	signal_msi_counts(VIRQ_IRQCHIP_KERNEL);
}

/* split: KVM's LAPIC with our IOAPIC/PIC; MSIs take the same in-kernel path. */
static void test_split_n_signal_msi_give_n_source_and_accept_counts(void **state)
{
	signal_msi_counts(VIRQ_IRQCHIP_SPLIT);
}

struct point_q {
	const char *name;
	int state;
};

static int point_q_cb(const struct virq_trace_point *p, void *ctx)
{
	struct point_q *q = ctx;

	if (!strcmp(p->name, q->name))
		q->state = (int)p->state;
	return 0;
}

/* The state the tracer reports for an attach point, -1 if it has no such point. */
static int point_state(struct virq_trace *t, const char *name)
{
	struct point_q q = { .name = name, .state = -1 };

	virq_trace_points(t, point_q_cb, &q);
	return q.state;
}

/* user: our LAPIC; KVM only sees KVM_INTERRUPT (kvm_inj_virq on the vCPU thread). */
static void test_user_mode_msis_show_as_inj_virq_only(void **state)
{
	struct virq_trace *t;
	struct virq_vm *vm;
	struct virq_vcpu_user_stats u0, u1;
	struct virq_guest_vec g;
	uint64_t k0, k1;

	VIRQ_REQUIRE_KVM();
	VIRQ_REQUIRE_BPF();
	t = trace_up(true);
	vm = vm_up_mode("trace-u", VIRQ_IRQCHIP_USER);
	assert_int_equal(virq_vm_user_stats(vm, 1, &u0), 0);
	assert_int_equal(virq_vm_kvm_stat(vm, 1, "irq_injections", &k0), 0);
	assert_int_equal(virq_trace_reset(t), 0);
	inject_and_wait(vm, 1, 0x46, N_MSI);
	/* the last injection's KVM_RUN may still be on its way to the stats: settle */
	usleep(50000);
	assert_int_equal(virq_vm_user_stats(vm, 1, &u1), 0);
	assert_int_equal(virq_vm_kvm_stat(vm, 1, "irq_injections", &k1), 0);
	assert_int_equal(virq_vm_ledger(vm, 1, 0x46, &g), 0);
	struct sel inj = sel(t, VIRQ_TEV_INJ_VIRQ, 0x46, 0);
	print_message("# user: %d MSIs, VMM KVM_INTERRUPT %llu, kvm_inj_virq %llu (all vectors "
		      "%llu), irq_injections %llu, guest %llu\n",
		      N_MSI, (unsigned long long)(u1.injections - u0.injections),
		      (unsigned long long)inj.sum,
		      (unsigned long long)ev_total(t, VIRQ_TEV_INJ_VIRQ),
		      (unsigned long long)(k1 - k0), (unsigned long long)g.count);
	/* nothing went through KVM's LAPIC */
	assert_int_equal(ev_total(t, VIRQ_TEV_MSI_SET_IRQ), 0);
	assert_int_equal(ev_total(t, VIRQ_TEV_APIC_ACCEPT_IRQ), 0);
	/* the VMM injected each MSI once, the guest took each once */
	assert_int_equal(u1.injections - u0.injections, N_MSI);
	assert_int_equal(g.count, N_MSI);
	assert_true(k1 - k0 >= N_MSI);
	if (ev_total(t, VIRQ_TEV_INJ_VIRQ) == 0) {
		/* KVM injected every one (irq_injections), and the tracepoint never fired:
		 * a backend that injects without kvm_inj_virq (kvm_pvm, see PLATFORM.md). The
		 * tracer must then report the point silent, never live. */
		assert_int_equal(point_state(t, "kvm_inj_virq"), VIRQ_TPS_SILENT);
		print_message("# kvm_inj_virq does not fire on this host (irq_injections +%llu)\n",
			      (unsigned long long)(k1 - k0));
	} else {
		/* KVM injected each at least once (re-injection after a cancelled entry
		 * repeats the event and the stat alike): tracepoint and stat agree exactly */
		assert_true(inj.sum >= N_MSI);
		assert_int_equal(ev_total(t, VIRQ_TEV_INJ_VIRQ), k1 - k0);
		assert_int_equal(inj.nr_vm, 1);
	}
	virq_vm_destroy(vm);
	virq_trace_close(t);
}

static void test_two_vms_in_one_process_get_distinct_vm_ids(void **state)
{
	struct virq_trace *t;
	struct virq_vm *a, *b;

	VIRQ_REQUIRE_KVM();
	VIRQ_REQUIRE_BPF();
	t = trace_up(false);
	a = vm_up("trace-a");
	b = vm_up("trace-b");
	assert_int_equal(virq_trace_reset(t), 0);
	inject_and_wait(a, 0, 0x50, 10);
	inject_and_wait(b, 0, 0x50, 7);
	struct sel s = sel(t, VIRQ_TEV_MSI_SET_IRQ, 0x50, 0);
	assert_int_equal(s.sum, 17);
	assert_int_equal(s.nr_vm, 2);
	/* each VM's vCPU thread is in the thread map under its own VM's cookie */
	uint32_t seen[2];
	for (int i = 0; i < 2; i++) {
		struct virq_trace_thread th;
		pid_t tid;

		assert_int_equal(virq_vm_threads(i ? b : a, &tid, 1), 1);
		assert_int_equal(virq_trace_thread(t, tid, &th), 0);
		assert_int_equal(th.tgid, getpid());
		assert_int_equal(th.vcpu_id, 0);
		assert_true(th.vm_id == s.vm_ids[0] || th.vm_id == s.vm_ids[1]);
		seen[i] = th.vm_id;
	}
	assert_int_not_equal(seen[0], seen[1]);
	assert_int_equal(virq_trace_thread(t, 1, &(struct virq_trace_thread){ 0 }), -ENOENT);
	virq_vm_destroy(b);
	virq_vm_destroy(a);
	virq_trace_close(t);
}

static void test_filter_on_a_decoy_tgid_counts_none_of_ours(void **state)
{
	struct virq_trace *t;
	struct virq_vm *vm;
	pid_t decoy = getppid();

	VIRQ_REQUIRE_KVM();
	VIRQ_REQUIRE_BPF();
	t = trace_up(false);
	assert_int_equal(virq_trace_filter_set(t, &decoy, 1), 0);
	vm = vm_up("trace-c");
	inject_and_wait(vm, 0, 0x60, 5);
	assert_int_equal(sel(t, VIRQ_TEV_MSI_SET_IRQ, 0x60, 0).sum, 0);
	assert_true(virq_trace_stat(t, VIRQ_TSTAT_FILTERED) >= 10);
	virq_vm_destroy(vm);
	virq_trace_close(t);
}

/* The decoy: a second VMM process with its own kernel-mode VM, injecting n MSIs of
 * `vec` to APIC 0 one at a time. Exit status 0 when the guest took all of them. */
static int decoy_main(uint8_t vec, unsigned int n)
{
	struct virq_vm_config cfg;
	struct virq_vm *vm;
	struct virq_guest_vec g = { 0 };
	char err[256];

	virq_vm_config_init(&cfg);
	snprintf(cfg.name, sizeof(cfg.name), "decoy");
	cfg.nr_vcpus = 1;
	vm = virq_vm_create(&cfg, err, sizeof(err));
	if (!vm || virq_vm_start(vm) || virq_vm_wait_ready(vm, 20000))
		return 2;
	for (unsigned int i = 0; i < n; i++) {
		if (virq_vm_inject_msi(vm, 0xfee00000ull, vec) < 0)
			return 3;
		for (int spins = 0; spins < 4000; spins++) {
			virq_vm_ledger(vm, 0, vec, &g);
			if (g.count >= i + 1)
				break;
			usleep(500);
		}
		if (g.count < i + 1)
			return 4;
	}
	virq_vm_destroy(vm);
	return 0;
}

static pid_t decoy_start(uint8_t vec, unsigned int n)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(decoy_main(vec, n));
	return pid;
}

static void decoy_wait(pid_t pid)
{
	int st = 0;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail_msg("decoy VMM process failed (status 0x%x)", st);
}

/* Two VMM processes at once, the same vector in both: each process's events carry its
 * own tgid and its own VM; with a filter on our tgid, none of the decoy's are counted. */
static void test_second_vmm_process_is_attributed_to_itself_and_filtered(void **state)
{
	struct virq_trace *t;
	struct virq_vm *vm;
	pid_t me = getpid(), decoy;
	uint64_t filtered0;

	VIRQ_REQUIRE_KVM();
	VIRQ_REQUIRE_BPF();
	t = trace_up(false);
	assert_int_equal(virq_trace_reset(t), 0);
	decoy = decoy_start(0x47, 20);
	vm = vm_up("trace-own");
	inject_and_wait(vm, 0, 0x47, 10);
	decoy_wait(decoy);
	struct sel mine = sel(t, VIRQ_TEV_MSI_SET_IRQ, 0x47, 0);
	struct sel theirs = sel_pid(t, decoy, VIRQ_TEV_MSI_SET_IRQ, 0x47, 0);
	struct sel their_acc = sel_pid(t, decoy, VIRQ_TEV_APIC_ACCEPT_IRQ, 0x47, 0);
	assert_int_equal(mine.sum, 10);
	assert_int_equal(theirs.sum, 20);
	assert_int_equal(their_acc.sum, 20);
	assert_int_equal(mine.nr_vm, 1);
	assert_int_equal(theirs.nr_vm, 1);
	assert_int_not_equal(mine.vm_ids[0], theirs.vm_ids[0]);
	assert_int_equal(their_acc.vm_ids[0], theirs.vm_ids[0]);

	/* Now only us: the decoy's events are filtered out in the kernel, and counted so. */
	assert_int_equal(virq_trace_filter_set(t, &me, 1), 0);
	assert_int_equal(virq_trace_reset(t), 0);
	filtered0 = virq_trace_stat(t, VIRQ_TSTAT_FILTERED);
	decoy = decoy_start(0x48, 20);
	inject_and_wait(vm, 1, 0x48, 5);
	decoy_wait(decoy);
	assert_int_equal(sel(t, VIRQ_TEV_MSI_SET_IRQ, 0x48, 1).sum, 5);
	assert_int_equal(sel_pid(t, decoy, VIRQ_TEV_MSI_SET_IRQ, 0x48, 0).sum, 0);
	assert_true(virq_trace_stat(t, VIRQ_TSTAT_FILTERED) - filtered0 >= 40);
	virq_vm_destroy(vm);
	virq_trace_close(t);
}

/*
 * A stand-in for another VMM, run as this program re-executed with that VMM's command line
 * and "--virq-vmm-decoy" last: a real 2-vCPU VM whose vCPU threads get the VMM's naming
 * (comm "CPU N/KVM" for QEMU, "fc_vcpu N" for Firecracker). Writes "TID0 TID1\n" to fd 3,
 * then holds the VM until fd 4 reaches EOF (the parent closes its end to stop it).
 */
static int vmm_decoy_main(bool firecracker)
{
	struct virq_vm_config cfg;
	struct virq_vm *vm;
	pid_t tids[2];
	char err[256], buf[64];
	int n;

	virq_vm_config_init(&cfg);
	cfg.nr_vcpus = 2;
	vm = virq_vm_create(&cfg, err, sizeof(err));
	if (!vm || virq_vm_start(vm) || virq_vm_wait_ready(vm, 20000) ||
	    virq_vm_threads(vm, tids, 2) != 2)
		return 2;
	for (int c = 0; c < 2; c++) {
		char path[64];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)tids[c]);
		f = fopen(path, "w");
		if (!f)
			return 3;
		fprintf(f, firecracker ? "fc_vcpu %d" : "CPU %d/KVM", c);
		fclose(f);
	}
	n = snprintf(buf, sizeof(buf), "%d %d\n", (int)tids[0], (int)tids[1]);
	if (write(3, buf, (size_t)n) != n)
		return 4;
	while (read(4, buf, sizeof(buf)) > 0) /* until the parent closes its end */
		;
	virq_vm_destroy(vm);
	return 0;
}

static void discover_decoy(bool firecracker)
{
	const char *qemu[] = {
		"qemu-system-x86_64", "-name", "guest=decoy-q,debug-threads=on", "-machine", "q35",
		"--virq-vmm-decoy",   NULL
	};
	const char *fc[] = { "firecracker",	 "--id", "decoy-fc", "--api-sock", "/tmp/fc.sock",
			     "--virq-vmm-decoy", NULL };
	int up[2], hold[2], st = 0, tid0 = 0, tid1 = 0;
	struct virq_disc_list l = { 0 };
	const struct virq_disc_vm *d = NULL;
	char buf[64] = "";
	ssize_t got;
	pid_t pid;

	VIRQ_REQUIRE_KVM();
	/* close-on-exec: only the dup2() copies, fds 3 and 4, reach the decoy (were its own
	 * copy of hold's write end to survive, fd 4 would never see EOF) */
	assert_int_equal(pipe2(up, O_CLOEXEC), 0);
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* fd 3: "ready" to the parent; fd 4: the parent's hold. dup() first: its
		 * copies are not close-on-exec and are neither 3 nor 4 (the pipes hold the
		 * lowest fds), so dup2() cannot hit its own source. */
		int a = dup(up[1]), b = dup(hold[0]);

		if (a < 0 || b < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0)
			_exit(5);
		close(a);
		close(b);
		execv("/proc/self/exe", (char *const *)(firecracker ? fc : qemu));
		_exit(6);
	}
	close(up[1]);
	close(hold[0]);
	got = read(up[0], buf, sizeof(buf) - 1);
	if (got <= 0 || sscanf(buf, "%d %d", &tid0, &tid1) != 2) {
		close(hold[1]);
		waitpid(pid, &st, 0);
		fail_msg("decoy VMM did not come up (status 0x%x)", st);
	}
	assert_int_equal(virq_discover(NULL, NULL, &l, NULL), 0);
	for (size_t i = 0; i < l.n; i++)
		if (l.vms[i].pid == pid)
			d = &l.vms[i];
	if (!d) {
		close(hold[1]);
		waitpid(pid, &st, 0);
		fail_msg("the decoy VMM (pid %d) was not discovered among %zu VMs", (int)pid, l.n);
	}
	print_message("# discovered pid %d: kind %s, name \"%s\", %u vCPUs, cmdline \"%s\"\n",
		      (int)pid, virq_disc_kind_name(d->kind), d->name, d->nr_vcpus, d->cmdline);
	assert_int_equal(d->kind, firecracker ? VIRQ_DISC_FIRECRACKER : VIRQ_DISC_QEMU);
	assert_string_equal(d->name, firecracker ? "decoy-fc" : "decoy-q");
	assert_int_equal(d->nr_vm_fds, 1);
	assert_int_equal(d->nr_vcpus, 2);
	assert_int_equal(d->vcpus[0].index, 0);
	assert_int_equal(d->vcpus[0].tid, tid0);
	assert_int_equal(d->vcpus[1].index, 1);
	assert_int_equal(d->vcpus[1].tid, tid1);
	virq_disc_list_free(&l);
	close(hold[1]);
	close(up[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_discovery_finds_a_qemu_shaped_vmm(void **state)
{
	discover_decoy(false);
}

static void test_discovery_finds_a_firecracker_shaped_vmm(void **state)
{
	discover_decoy(true);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[argc - 1], "--virq-vmm-decoy"))
		return vmm_decoy_main(!strcmp(argv[0], "firecracker"));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_n_signal_msi_give_n_source_and_accept_counts),
		cmocka_unit_test(test_split_n_signal_msi_give_n_source_and_accept_counts),
		cmocka_unit_test(test_user_mode_msis_show_as_inj_virq_only),
		cmocka_unit_test(test_second_vmm_process_is_attributed_to_itself_and_filtered),
		cmocka_unit_test(test_two_vms_in_one_process_get_distinct_vm_ids),
		cmocka_unit_test(test_filter_on_a_decoy_tgid_counts_none_of_ours),
		cmocka_unit_test(test_discovery_finds_a_qemu_shaped_vmm),
		cmocka_unit_test(test_discovery_finds_a_firecracker_shaped_vmm),
	};

	return cmocka_run_group_tests_name("kvm/trace", tests, NULL, NULL);
}
