// SPDX-License-Identifier: MIT
/*
 * VMM benchmark: per irqchip mode and guest idle style, MSI ping-pong rate and
 * injection -> guest-handler latency (p50/p99, host-observed through the guest
 * ledger), exits per delivered interrupt, and RSS per idle VM; `user` mode in three
 * variants (posted, posted=off, PV-EOI off). Writes JSON to argv[1]. Modes this build
 * cannot create are reported as unavailable with the reason.
 *
 * Always (with or without /dev/kvm): the user-mode delivery machinery on SIMULATED vCPUs
 * (daemon/vmm/cpu_sim.c, no KVM): posts/s and injections/s with 2 posting threads into a
 * 2-vCPU guest, posted vs posted=off, reported as a ratio within one run. These rows
 * measure the VMM's posting/locking/sync/inject path and a C model of the guest, not KVM.
 */
#include "virq/vmm.h"
#include "virq/vmm_guest.h"
#include "virq/vmm_kvm.h"
#include "../daemon/vmm/vmm_internal.h"

#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 2000
#define IDLE_VMS 8
#define VECTOR 0x61
#define DOORBELLS 200

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static long rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

struct row {
	char mode[32];
	const char *idle;
	char status[160];
	double rate;
	double p50_us, p99_us;
	double exits_per_irq;
	double exits_by_reason[VIRQ_EXIT_REASONS]; /* per interrupt */
	double kicks_per_irq; /* KVM_RUN returned -EINTR: the VMM kicked the vCPU out */
	double doorbell_p50_us;
};

/* Userspace exits of every vCPU, by reason (into by[]) and in total; -EINTR returns of
 * KVM_RUN (kicks) into *kicks, not in the total. */
static uint64_t total_exits(struct virq_vm *vm, uint32_t n, uint64_t *by, uint64_t *kicks)
{
	uint64_t sum = 0;

	memset(by, 0, VIRQ_EXIT_REASONS * sizeof(*by));
	*kicks = 0;
	for (uint32_t c = 0; c < n; c++) {
		struct virq_vcpu_exits ex;

		if (virq_vm_exits(vm, c, &ex))
			continue;
		*kicks += ex.eintr;
		for (int r = 0; r < VIRQ_EXIT_REASONS; r++) {
			sum += ex.by_reason[r];
			by[r] += ex.by_reason[r];
		}
	}
	return sum;
}

static void measure(struct row *r, enum virq_irqchip_mode mode, enum virq_idle_style idle,
		    bool posted, bool pv_eoi)
{
	struct virq_vm_config cfg;
	struct virq_vm *vm;
	struct virq_guest_vec g;
	uint64_t *lat, t0, e0, base, by0[VIRQ_EXIT_REASONS], by1[VIRQ_EXIT_REASONS], k0, k1;
	int ret;

	virq_vm_config_init(&cfg);
	cfg.nr_vcpus = 2;
	cfg.irqchip = mode;
	cfg.idle = idle;
	cfg.posted = posted;
	cfg.pv_eoi = pv_eoi;
	snprintf(r->mode, sizeof(r->mode), "%s%s%s", virq_irqchip_mode_name(mode),
		 mode == VIRQ_IRQCHIP_USER && !posted ? ",posted=off" : "",
		 mode == VIRQ_IRQCHIP_USER && !pv_eoi ? ",pv_eoi=off" : "");
	r->idle = virq_idle_style_name(idle);
	vm = virq_vm_create(&cfg, r->status, sizeof(r->status));
	if (!vm)
		return;
	lat = calloc(ROUNDS, sizeof(*lat));
	if (!lat || virq_vm_start(vm) || virq_vm_wait_ready(vm, 10000)) {
		snprintf(r->status, sizeof(r->status), "guest did not start");
		goto out;
	}
	virq_vm_ledger(vm, 1, VECTOR, &g);
	base = g.count;
	e0 = total_exits(vm, 2, by0, &k0);
	t0 = now_ns();
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t s = now_ns(), deadline = s + 1000000000ull;

		ret = virq_vm_inject_msi(vm, VIRQ_LAPIC_GPA | (1u << 12), VECTOR);
		if (ret < 0) {
			snprintf(r->status, sizeof(r->status), "inject: %s", strerror(-ret));
			goto out;
		}
		do {
			virq_vm_ledger(vm, 1, VECTOR, &g);
		} while (g.count < base + (uint64_t)i + 1 && now_ns() < deadline);
		if (g.count < base + (uint64_t)i + 1) {
			snprintf(r->status, sizeof(r->status), "interrupt %d not handled in 1 s",
				 i);
			goto out;
		}
		lat[i] = now_ns() - s;
	}
	r->rate = ROUNDS / ((double)(now_ns() - t0) / 1e9);
	r->exits_per_irq = (double)(total_exits(vm, 2, by1, &k1) - e0) / ROUNDS;
	r->kicks_per_irq = (double)(k1 - k0) / ROUNDS;
	for (int x = 0; x < VIRQ_EXIT_REASONS; x++)
		r->exits_by_reason[x] = (double)(by1[x] - by0[x]) / ROUNDS;
	qsort(lat, ROUNDS, sizeof(*lat), cmp_u64);
	r->p50_us = (double)lat[ROUNDS / 2] / 1000.0;
	r->p99_us = (double)lat[ROUNDS * 99 / 100] / 1000.0;
	/* Doorbell round trips (ioeventfd -> device thread -> irqfd, or a post into the
	 * descriptor in user mode), host-measured. */
	for (int i = 0; i < DOORBELLS; i++) {
		ret = virq_vm_doorbell(vm, 1000, &lat[i]);
		if (ret) {
			snprintf(r->status, sizeof(r->status), "doorbell: %s", strerror(-ret));
			goto out;
		}
	}
	qsort(lat, DOORBELLS, sizeof(*lat), cmp_u64);
	r->doorbell_p50_us = (double)lat[DOORBELLS / 2] / 1000.0;
	snprintf(r->status, sizeof(r->status), "ok");
out:
	free(lat);
	virq_vm_destroy(vm);
}

static long idle_vm_rss(char *why, size_t whylen)
{
	struct virq_vm *vms[IDLE_VMS] = { 0 };
	struct virq_vm_config cfg;
	long before = rss_kib(), after = -1;
	int n = 0;

	virq_vm_config_init(&cfg);
	for (; n < IDLE_VMS; n++) {
		vms[n] = virq_vm_create(&cfg, why, whylen);
		if (!vms[n] || virq_vm_start(vms[n]) || virq_vm_wait_ready(vms[n], 10000))
			break;
	}
	if (n == IDLE_VMS) {
		usleep(200000);
		after = rss_kib();
	}
	for (int i = 0; i < IDLE_VMS; i++)
		virq_vm_destroy(vms[i]);
	return after < 0 || before < 0 ? -1 : (after - before) / IDLE_VMS;
}

/* --- two posting threads: simulated vCPUs (no KVM), and KVM vCPUs ------------------- */

#define SIM_POSTS 1000000u
#define KVM_POSTS 200000u /* fewer: a real (possibly emulated) guest takes them */
#define SIM_THREADS 2

struct sim_row {
	bool posted;
	char status[160];
	double posts_per_s, injections_per_s, coalesced_frac;
};

struct sim_poster {
	struct virq_vm *vm;
	unsigned int idx;
	uint32_t posts;
	uint64_t failed;
};

static void *sim_poster(void *arg)
{
	struct sim_poster *p = arg;

	for (uint32_t i = p->idx; i < p->posts; i += SIM_THREADS) {
		uint32_t cpu = (i >> 1) & 1;

		if (virq_vm_inject_msi(p->vm, VIRQ_LAPIC_GPA | (cpu << 12), 0x60 + (i & 0x1f)) < 0)
			p->failed++;
	}
	return NULL;
}

/* MSIs from SIM_THREADS threads into a 2-vCPU user-mode guest, posted or not; on
 * simulated vCPUs, or with kvm on real KVM vCPUs (halted guest). */
static void sim_measure(struct sim_row *r, bool posted, bool kvm)
{
	uint32_t posts = kvm ? KVM_POSTS : SIM_POSTS;
	struct virq_vm_config cfg;
	struct sim_poster p[SIM_THREADS];
	pthread_t t[SIM_THREADS];
	struct virq_vm *vm;
	uint64_t t0, t1, inj0 = 0, inj1 = 0, coal = 0, inj = 0;

	r->posted = posted;
	virq_vm_config_init(&cfg);
	cfg.irqchip = VIRQ_IRQCHIP_USER;
	cfg.nr_vcpus = 2;
	cfg.posted = posted;
	vm = kvm ? virq_vm_create(&cfg, r->status, sizeof(r->status)) :
		   virq_vm_create_sim(&cfg, r->status, sizeof(r->status));
	if (!vm)
		return;
	if (virq_vm_start(vm) || virq_vm_wait_ready(vm, 10000)) {
		snprintf(r->status, sizeof(r->status), "simulated guest did not start");
		goto out;
	}
	for (uint32_t c = 0; c < 2; c++) {
		struct virq_vcpu_user_stats u;

		virq_vm_user_stats(vm, c, &u);
		inj0 += u.injections;
	}
	t0 = now_ns();
	for (unsigned int i = 0; i < SIM_THREADS; i++) {
		p[i] = (struct sim_poster){ vm, i, posts, 0 };
		pthread_create(&t[i], NULL, sim_poster, &p[i]);
	}
	for (unsigned int i = 0; i < SIM_THREADS; i++)
		pthread_join(t[i], NULL);
	t1 = now_ns();
	for (uint32_t c = 0; c < 2; c++) {
		struct virq_vcpu_user_stats u;

		virq_vm_user_stats(vm, c, &u);
		inj1 += u.injections;
		for (int v = 0x60; v < 0x80; v++) {
			struct virq_vmm_vec vv;

			virq_vm_vmm_vec(vm, c, (uint8_t)v, &vv);
			coal += vv.coalesced;
			inj += vv.injected;
		}
	}
	if (p[0].failed || p[1].failed) {
		snprintf(r->status, sizeof(r->status), "%llu injections failed",
			 (unsigned long long)(p[0].failed + p[1].failed));
		goto out;
	}
	r->posts_per_s = posts / ((double)(t1 - t0) / 1e9);
	r->injections_per_s = (double)(inj1 - inj0) / ((double)(t1 - t0) / 1e9);
	r->coalesced_frac = inj ? (double)coal / (double)inj : 0;
	snprintf(r->status, sizeof(r->status), "ok");
out:
	virq_vm_destroy(vm);
}

static void sim_bench(FILE *out, bool kvm)
{
	struct sim_row r[2];

	memset(r, 0, sizeof(r));
	sim_measure(&r[0], true, kvm);
	sim_measure(&r[1], false, kvm);
	if (kvm)
		printf("user mode, KVM vCPUs (halted guest): %u MSIs from %d threads into 2 "
		       "vCPUs\n",
		       KVM_POSTS, SIM_THREADS);
	else
		printf("user mode, SIMULATED vCPU (cpu_sim.c), no KVM: %u MSIs from %d threads "
		       "into 2 vCPUs\n",
		       SIM_POSTS, SIM_THREADS);
	printf("%-12s %14s %16s %12s  %s\n", "variant", "posts/s", "injections/s", "coalesced",
	       "status");
	for (int i = 0; i < 2; i++)
		printf("%-12s %14.0f %16.0f %11.1f%%  %s\n", r[i].posted ? "posted" : "posted=off",
		       r[i].posts_per_s, r[i].injections_per_s, 100 * r[i].coalesced_frac,
		       r[i].status);
	if (r[1].posts_per_s > 0)
		printf("ratio posted/posted=off: posts/s %.2fx, injections/s %.2fx\n",
		       r[0].posts_per_s / r[1].posts_per_s,
		       r[1].injections_per_s > 0 ? r[0].injections_per_s / r[1].injections_per_s :
						   0);
	if (out) {
		fprintf(out, "%s",
			kvm ? ",\"kvm_user_two_posters\":{\"note\":\"KVM vCPUs\"," :
			      "\"simulated_user\":{\"note\":\"simulated vCPU, no KVM\",");
		fprintf(out, "\"posts\":%u,\"threads\":%d,\"rows\":[", kvm ? KVM_POSTS : SIM_POSTS,
			SIM_THREADS);
		for (int i = 0; i < 2; i++)
			fprintf(out,
				"%s{\"variant\":\"%s\",\"status\":\"%s\",\"posts_per_s\":%.0f,"
				"\"injections_per_s\":%.0f,\"coalesced_fraction\":%.4f}",
				i ? "," : "", r[i].posted ? "posted" : "posted=off", r[i].status,
				r[i].posts_per_s, r[i].injections_per_s, r[i].coalesced_frac);
		fprintf(out, "]}");
	}
}

int main(int argc, char **argv)
{
	struct row rows[(VIRQ_IRQCHIP__COUNT + 2) * VIRQ_IDLE__COUNT];
	char why[160] = "";
	FILE *out = argc > 1 ? fopen(argv[1], "w") : NULL;
	long rss;
	int n = 0;

	if (out)
		fprintf(out, "{\"name\":\"vmm\",");
	sim_bench(out, false);
	if (!virq_vmm_available(why, sizeof(why))) {
		printf("skipped: %s\n", why);
		if (out) {
			fprintf(out, ",\"skipped\":\"%s\"}\n", why);
			fclose(out);
		}
		return 0;
	}
	memset(rows, 0, sizeof(rows));
	for (int m = 0; m < VIRQ_IRQCHIP__COUNT; m++)
		for (int i = 0; i < VIRQ_IDLE__COUNT; i++)
			measure(&rows[n++], (enum virq_irqchip_mode)m, (enum virq_idle_style)i,
				true, true);
	for (int i = 0; i < VIRQ_IDLE__COUNT; i++) {
		measure(&rows[n++], VIRQ_IRQCHIP_USER, (enum virq_idle_style)i, false, true);
		measure(&rows[n++], VIRQ_IRQCHIP_USER, (enum virq_idle_style)i, true, false);
	}
	sim_bench(out, true); /* the two-posting-thread comparison on KVM vCPUs */
	rss = idle_vm_rss(why, sizeof(why));

	printf("%-24s %-10s %12s %10s %10s %12s %12s  %s\n", "mode", "idle", "irq/s", "p50 us",
	       "p99 us", "exits/irq", "doorbell us", "status");
	for (int i = 0; i < n; i++)
		printf("%-24s %-10s %12.0f %10.1f %10.1f %12.2f %12.1f  %s\n", rows[i].mode,
		       rows[i].idle, rows[i].rate, rows[i].p50_us, rows[i].p99_us,
		       rows[i].exits_per_irq, rows[i].doorbell_p50_us, rows[i].status);
	printf("userspace exits per interrupt by reason (HLT is the idle style's, not the "
	       "delivery's), and kicks (KVM_RUN -EINTR):\n");
	for (int i = 0; i < n; i++) {
		printf("  %-24s %-10s kicks %.2f", rows[i].mode, rows[i].idle,
		       rows[i].kicks_per_irq);
		for (int x = 0; x < VIRQ_EXIT_REASONS; x++)
			if (rows[i].exits_by_reason[x] >= 0.005)
				printf(" %s %.2f", virq_kvm_exit_name((uint32_t)x),
				       rows[i].exits_by_reason[x]);
		printf("\n");
	}
	printf("RSS per idle 1-vCPU VM: %ld KiB\n", rss);

	if (out) {
		fprintf(out, ",\"rounds\":%d,\"rss_kib_per_idle_vm\":%ld,\"rows\":[", ROUNDS, rss);
		for (int i = 0; i < n; i++) {
			bool first = true;

			fprintf(out,
				"%s{\"mode\":\"%s\",\"idle\":\"%s\",\"status\":\"%s\","
				"\"irq_per_s\":%.0f,\"latency_p50_s\":%.9f,\"latency_p99_s\":%.9f,"
				"\"exits_per_irq\":%.3f,\"kicks_per_irq\":%.3f,"
				"\"doorbell_p50_s\":%.9f,\"exits_per_irq_by_reason\":{",
				i ? "," : "", rows[i].mode, rows[i].idle, rows[i].status,
				rows[i].rate, rows[i].p50_us / 1e6, rows[i].p99_us / 1e6,
				rows[i].exits_per_irq, rows[i].kicks_per_irq,
				rows[i].doorbell_p50_us / 1e6);
			for (int x = 0; x < VIRQ_EXIT_REASONS; x++) {
				if (rows[i].exits_by_reason[x] <= 0)
					continue;
				fprintf(out, "%s\"%d\":%.4f", first ? "" : ",", x,
					rows[i].exits_by_reason[x]);
				first = false;
			}
			fprintf(out, "}}");
		}
		fprintf(out, "]}\n");
		fclose(out);
	}
	return 0;
}
