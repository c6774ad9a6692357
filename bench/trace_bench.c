// SPDX-License-Identifier: MIT
/*
 * Tracing overhead. Prints one JSON object on stdout.
 *
 * trace_bench: per-event cost of the tracing programs, measured with BPF_PROG_TEST_RUN in
 * this thread: wall ns per test run of each raw_tp program (the twin of the tp_btf program
 * that is attached: same handlers) minus that of an empty raw_tp program (the bpf()
 * syscall and test-run overhead), with and without the ring buffer, and with the target
 * filter rejecting the event.
 *
 * trace_bench --kvm: the real figure, KVM injection throughput with and without the
 * programs attached. One 1-vCPU VM with the in-kernel irqchip; KVM_SIGNAL_MSI for a fixed
 * time per phase, two workloads (see phase(): "flood", back to back, and "delivered",
 * one at a time), three variants each: detached, attached as the daemon attaches by
 * default (counters and histograms; the ring buffer only while a client subscribes) and
 * attached with the ring buffer on. Phases run in rounds, the variants of a workload back
 * to back in a rotated order, after a discarded warm-up, so that drift of the shared
 * machine hits all alike; ratio = median over the rounds of attached / detached per second,
 * goal loss < 5%. Without a
 * usable /dev/kvm: {"skipped": "<reason>"}.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "virq/trace.h"
#include "virq/vmm.h"
#include "virq/vmm_guest.h"

#define REPEAT 200000u

#define ROUNDS 10

/*
 * Cost of one program run: best-of-ROUNDS of the program minus best-of-ROUNDS of the empty
 * program, the two measured in alternation so that both see the same load (the machine
 * is shared and nested: a baseline taken once drifts away from later runs).
 */
static int measure(struct virq_trace *t, enum virq_trace_event ev, const uint64_t *a,
		   unsigned int n, int *ns, uint32_t *nop_ns)
{
	uint32_t best = UINT32_MAX, nop = UINT32_MAX, d;
	int i, ret;

	for (i = 0; i < ROUNDS; i++) {
		ret = virq_trace_test_run(t, VIRQ_TEV__COUNT, NULL, 0, REPEAT / ROUNDS, &d);
		if (ret)
			return ret;
		nop = d < nop ? d : nop;
		ret = virq_trace_test_run(t, ev, a, n, REPEAT / ROUNDS, &d);
		if (ret)
			return ret;
		best = d < best ? d : best;
	}
	*ns = (int)best - (int)nop;
	if (nop_ns)
		*nop_ns = nop;
	return 0;
}

#define KVM_ROUNDS 4 /* each round: every workload x variant once, order rotated */
#define KVM_PHASE_NS 1000000000ull
#define KVM_BATCH 64
#define KVM_VECTOR 0x61

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * One phase of KVM_SIGNAL_MSI to APIC ID 0: injections per second, count in *n.
 *  - flood: back to back; nearly all merge into the vector already pending in KVM's IRR,
 *    so each is the cheapest possible injection and the tracing cost weighs most;
 *  - delivered: one at a time, each waited for in the guest ledger (what a device with
 *    one completion in flight does): the tracing cost per delivered interrupt.
 */
static int phase(struct virq_vm *vm, bool delivered, double *rate, uint64_t *n)
{
	uint64_t t0 = now_ns(), t;
	struct virq_guest_vec g;
	int i, ret;

	*n = 0;
	virq_vm_ledger(vm, 0, KVM_VECTOR, &g);
	do {
		for (i = 0; i < (delivered ? 1 : KVM_BATCH); i++) {
			/* generous: an emulated guest on a loaded machine can stall for long */
			uint64_t want = g.count + 1, dl = now_ns() + 10000000000ull;

			ret = virq_vm_inject_msi(vm, VIRQ_LAPIC_GPA, KVM_VECTOR);
			if (ret < 0)
				return ret;
			while (delivered && g.count < want) {
				virq_vm_ledger(vm, 0, KVM_VECTOR, &g);
				if (now_ns() > dl)
					return -ETIMEDOUT;
			}
		}
		*n += delivered ? 1 : KVM_BATCH;
		t = now_ns();
	} while (t - t0 < KVM_PHASE_NS);
	*rate = (double)*n / ((double)(t - t0) / 1e9);
	return 0;
}

/* V_ATTACHED: the daemon's default; V_NO_KPROBES: the same without the kprobes on
 * __apic_accept_irq / vmx_deliver_posted_interrupt (tracepoints only). */
enum { V_DETACHED, V_ATTACHED, V_RING, V_NO_KPROBES, V__COUNT };

static void print_workload(const char *name, const double sum[V__COUNT],
			   const double pairs[KVM_ROUNDS], uint64_t traced, uint64_t injected)
{
	double off = sum[V_DETACHED] / KVM_ROUNDS, on = sum[V_ATTACHED] / KVM_ROUNDS,
	       ring = sum[V_RING] / KVM_ROUNDS, nokp = sum[V_NO_KPROBES] / KVM_ROUNDS,
	       sorted[KVM_ROUNDS], ratio;

	/* The ratio is the median of the rounds' attached/detached ratios: one round hit by
	 * the shared machine's noise (a 18x outlier was seen) cannot move it. */
	memcpy(sorted, pairs, sizeof(sorted));
	for (int i = 1; i < KVM_ROUNDS; i++)
		for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			double x = sorted[j];

			sorted[j] = sorted[j - 1];
			sorted[j - 1] = x;
		}
	ratio = (sorted[(KVM_ROUNDS - 1) / 2] + sorted[KVM_ROUNDS / 2]) / 2;
	printf("\"%s\": {\"detached_per_s\": %.0f, \"attached_per_s\": %.0f, "
	       "\"ratio\": %.4f, \"loss_pct\": %.2f, \"goal_loss_pct\": 5, \"goal_met\": %s, "
	       "\"ring_attached_per_s\": %.0f, \"ring_loss_pct\": %.2f, "
	       "\"no_kprobes_attached_per_s\": %.0f, \"no_kprobes_loss_pct\": %.2f, "
	       "\"traced_msi\": %llu, \"injected_attached\": %llu, \"pair_ratios\": [",
	       name, off, on, ratio, 100.0 * (1 - ratio), 1 - ratio < 0.05 ? "true" : "false", ring,
	       100.0 * (1 - ring / off), nokp, 100.0 * (1 - nokp / off), (unsigned long long)traced,
	       (unsigned long long)injected);
	for (int r = 0; r < KVM_ROUNDS; r++)
		printf("%s%.4f", r ? ", " : "", pairs[r]);
	printf("]}");
}

static int kvm_main(void)
{
	double sum[2][V__COUNT] = { { 0 } }, pairs[2][KVM_ROUNDS], rate[V__COUNT], warm;
	uint64_t n, traced[2] = { 0, 0 }, injected_on[2] = { 0, 0 };
	struct virq_vm_config cfg;
	struct virq_trace_opts o;
	struct virq_trace *t;
	struct virq_vm *vm;
	char why[256] = "";
	int i, ret;

	if (!virq_vmm_available(why, sizeof(why))) {
		printf("{\"skipped\": \"");
		for (i = 0; why[i]; i++) /* a JSON string: no quote, backslash or control */
			putchar(why[i] == '"' || why[i] == '\\' || (unsigned char)why[i] < 0x20 ?
					'?' :
					why[i]);
		printf("\"}\n");
		return 0;
	}
	virq_vm_config_init(&cfg);
	cfg.nr_vcpus = 1;
	cfg.irqchip = VIRQ_IRQCHIP_KERNEL;
	vm = virq_vm_create(&cfg, why, sizeof(why));
	if (!vm) {
		fprintf(stderr, "trace_bench: VM: %s\n", why);
		return 1;
	}
	if (virq_vm_start(vm) || virq_vm_wait_ready(vm, 10000)) {
		fprintf(stderr, "trace_bench: guest did not start\n");
		goto err_vm;
	}
	ret = phase(vm, false, &warm, &n);
	/* Interleaved: the variants of one workload run back to back, in a rotated order,
	 * so that drift of a shared, noisy machine hits them alike. */
	for (int r = 0; !ret && r < KVM_ROUNDS; r++) {
		for (int w = 0; !ret && w < 2; w++) {
			for (int k = 0; !ret && k < V__COUNT; k++) {
				int v = (k + r) % V__COUNT;

				t = NULL;
				if (v != V_DETACHED) {
					virq_trace_opts_init(&o);
					o.ring = v == V_RING;
					o.kprobes = v != V_NO_KPROBES;
					t = virq_trace_open(&o, why, sizeof(why));
					if (!t) {
						fprintf(stderr, "trace_bench: tracer: %s\n", why);
						goto err_vm;
					}
				}
				ret = phase(vm, w, &rate[v], &n);
				if (t) {
					/* the programs really were on the injection path */
					traced[w] += virq_trace_event_total(t, VIRQ_TEV_MSI_SET_IRQ,
									    getpid());
					injected_on[w] += n;
					virq_trace_close(t);
				}
			}
			for (int v = 0; v < V__COUNT; v++)
				sum[w][v] += rate[v];
			pairs[w][r] = rate[V_ATTACHED] / rate[V_DETACHED];
		}
	}
	if (ret) {
		fprintf(stderr, "trace_bench: inject: %s\n", strerror(-ret));
		goto err_vm;
	}
	printf("{\"vcpus\": 1, \"irqchip\": \"kernel\", \"phase_s\": %.1f, \"rounds\": %d, "
	       "\"warmup_per_s\": %.0f, ",
	       KVM_PHASE_NS / 1e9, KVM_ROUNDS, warm);
	print_workload("flood", sum[0], pairs[0], traced[0], injected_on[0]);
	printf(", ");
	print_workload("delivered", sum[1], pairs[1], traced[1], injected_on[1]);
	printf("}\n");
	virq_vm_destroy(vm);
	return 0;

err_vm:
	virq_vm_destroy(vm);
	return 1;
}

int main(int argc, char **argv)
{
	struct virq_trace_opts o;
	struct virq_trace *t, *tr;
	char err[256];
	uint64_t msi[2] = { 0xfee00000, 0x41 }, acc[4] = { 0, 0, 0, 0x41 };
	uint32_t nop;
	int m, a, mr, mf;
	pid_t nobody = 1;

	if (argc > 1 && !strcmp(argv[1], "--kvm"))
		return kvm_main();

	setenv("VIRQ_TRACE_QUIET", "1", 0);
	virq_trace_opts_init(&o);
	o.no_attach = true;
	t = virq_trace_open(&o, err, sizeof(err));
	o.ring = true;
	o.ring_bytes = 1u << 24;
	tr = t ? virq_trace_open(&o, err, sizeof(err)) : NULL;
	if (!t || !tr) {
		fprintf(stderr, "trace_bench: %s\n", err);
		return 1;
	}
	if (measure(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, &m, &nop) ||
	    measure(t, VIRQ_TEV_APIC_ACCEPT_IRQ, acc, 4, &a, NULL) ||
	    measure(tr, VIRQ_TEV_MSI_SET_IRQ, msi, 2, &mr, NULL) ||
	    virq_trace_filter_set(t, &nobody, 1) ||
	    measure(t, VIRQ_TEV_MSI_SET_IRQ, msi, 2, &mf, NULL)) {
		fprintf(stderr, "trace_bench: test run failed\n");
		return 1;
	}
	printf("{\"repeat\": %u, \"nop_run_ns\": %u, "
	       "\"raw_tp_msi_set_irq_ns\": %d, \"raw_tp_apic_accept_irq_ns\": %d, "
	       "\"raw_tp_msi_set_irq_ring_ns\": %d, \"raw_tp_msi_set_irq_filtered_ns\": %d, "
	       "\"ring_drops\": %llu}\n",
	       REPEAT, nop, m, a, mr, mf, (unsigned long long)virq_trace_drops(tr));
	virq_trace_close(tr);
	virq_trace_close(t);
	return 0;
}
