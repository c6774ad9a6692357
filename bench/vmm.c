// SPDX-License-Identifier: MIT
/*
 * VMM benchmark: per irqchip mode and guest idle style, MSI ping-pong rate and
 * injection -> guest-handler latency (p50/p99, host-observed through the guest
 * ledger), exits per delivered interrupt, and RSS per idle VM. Writes JSON to argv[1].
 * Modes this build cannot create are reported as unavailable with the reason.
 */
#include "virq/vmm.h"
#include "virq/vmm_guest.h"

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
	const char *mode;
	const char *idle;
	char status[160];
	double rate;
	double p50_us, p99_us;
	double exits_per_irq;
	double doorbell_p50_us;
};

static uint64_t total_exits(struct virq_vm *vm, uint32_t n)
{
	uint64_t sum = 0;

	for (uint32_t c = 0; c < n; c++) {
		struct virq_vcpu_exits ex;

		if (!virq_vm_exits(vm, c, &ex))
			for (int r = 0; r < VIRQ_EXIT_REASONS; r++)
				sum += ex.by_reason[r];
	}
	return sum;
}

static void measure(struct row *r, enum virq_irqchip_mode mode, enum virq_idle_style idle)
{
	struct virq_vm_config cfg;
	struct virq_vm *vm;
	struct virq_guest_vec g;
	uint64_t *lat, t0, e0, base;
	int ret;

	virq_vm_config_init(&cfg);
	cfg.nr_vcpus = 2;
	cfg.irqchip = mode;
	cfg.idle = idle;
	r->mode = virq_irqchip_mode_name(mode);
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
	e0 = total_exits(vm, 2);
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
	r->exits_per_irq = (double)(total_exits(vm, 2) - e0) / ROUNDS;
	qsort(lat, ROUNDS, sizeof(*lat), cmp_u64);
	r->p50_us = (double)lat[ROUNDS / 2] / 1000.0;
	r->p99_us = (double)lat[ROUNDS * 99 / 100] / 1000.0;
	/* Doorbell round trips (ioeventfd -> device thread -> irqfd), host-measured. */
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

int main(int argc, char **argv)
{
	struct row rows[VIRQ_IRQCHIP__COUNT * VIRQ_IDLE__COUNT];
	char why[160] = "";
	FILE *out;
	long rss;
	int n = 0;

	if (!virq_vmm_available(why, sizeof(why))) {
		printf("skipped: %s\n", why);
		return 0;
	}
	memset(rows, 0, sizeof(rows));
	for (int m = 0; m < VIRQ_IRQCHIP__COUNT; m++)
		for (int i = 0; i < VIRQ_IDLE__COUNT; i++)
			measure(&rows[n++], (enum virq_irqchip_mode)m, (enum virq_idle_style)i);
	rss = idle_vm_rss(why, sizeof(why));

	printf("%-8s %-10s %12s %10s %10s %12s %12s  %s\n", "mode", "idle", "irq/s", "p50 us",
	       "p99 us", "exits/irq", "doorbell us", "status");
	for (int i = 0; i < n; i++)
		printf("%-8s %-10s %12.0f %10.1f %10.1f %12.2f %12.1f  %s\n", rows[i].mode,
		       rows[i].idle, rows[i].rate, rows[i].p50_us, rows[i].p99_us,
		       rows[i].exits_per_irq, rows[i].doorbell_p50_us, rows[i].status);
	printf("RSS per idle 1-vCPU VM: %ld KiB\n", rss);

	out = argc > 1 ? fopen(argv[1], "w") : NULL;
	if (out) {
		fprintf(out,
			"{\"name\":\"vmm\",\"rounds\":%d,\"rss_kib_per_idle_vm\":%ld,\"rows\":[",
			ROUNDS, rss);
		for (int i = 0; i < n; i++)
			fprintf(out,
				"%s{\"mode\":\"%s\",\"idle\":\"%s\",\"status\":\"%s\","
				"\"irq_per_s\":%.0f,\"latency_p50_s\":%.9f,\"latency_p99_s\":%.9f,"
				"\"exits_per_irq\":%.3f,\"doorbell_p50_s\":%.9f}",
				i ? "," : "", rows[i].mode, rows[i].idle, rows[i].status,
				rows[i].rate, rows[i].p50_us / 1e6, rows[i].p99_us / 1e6,
				rows[i].exits_per_irq, rows[i].doorbell_p50_us / 1e6);
		fprintf(out, "]}\n");
		fclose(out);
	}
	return 0;
}
