// SPDX-License-Identifier: MIT
/*
 * irqchip2 micro-operations for bench/bench_irqchip2.sh. Usage:
 *   irqchip2_ops OP N [NCPU]   run OP N times (callgrind counts the bench_* functions)
 *   irqchip2_ops time OP N [NCPU]   same, print ns per op from clock_gettime
 *   irqchip2_ops contention MS      2 posters + 1 owner on one descriptor: posts/s
 * OPs: msi_irr (MSI address/data -> virq_msi_decode() -> bus -> IRR), ack_eoi (pending +
 * INTA + EOI), ipi_phys, ipi_logical, ipi_bcast (x2APIC ICR write), pi_post, pi_sync.
 * Each measured step lives in a noinline bench_* function so callgrind's --toggle-collect
 * isolates it from the set-up and draining around it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "virq/apicbus.h"
#include "virq/lapic.h"
#include "virq/msi.h"
#include "virq/pi_desc.h"

#define NOINLINE __attribute__((noinline, noclone))

/* One MSI as a device writes it (Intel SDM 11.11): the real decoder, then the bus. */
NOINLINE static int bench_msi_deliver(struct virq_apicbus *bus, uint32_t addr_lo, uint32_t addr_hi,
				      uint32_t data)
{
	struct virq_irq irq;

	if (virq_msi_decode(addr_lo, addr_hi, data, 0, &irq) != VIRQ_MSI_OK)
		return -1;
	return virq_apicbus_deliver(bus, &irq);
}

/* The MSI address/data pair for a fixed, edge-triggered, physical-destination interrupt
 * of `vector` to APIC ID `dest` (SDM 11.11.1 Figure 11-24, 11.11.2 Figure 11-25), as a
 * guest programs it into an MSI capability: address 0xFEE{dest}000, data = vector. */
static void msi_pair(uint8_t dest, uint8_t vector, uint32_t *addr_lo, uint32_t *addr_hi,
		     uint32_t *data)
{
	*addr_lo = VIRQ_MSI_ADDR_PREFIX | (uint32_t)dest << VIRQ_MSI_ADDR_DEST_SHIFT;
	*addr_hi = 0;
	*data = (uint32_t)VIRQ_DM_FIXED << VIRQ_MSI_DATA_DM_SHIFT | vector;
}

NOINLINE static int bench_ack_eoi(struct virq_lapic *l)
{
	int v = virq_lapic_pending(l);

	if (v >= 0) {
		v = virq_lapic_ack(l);
		virq_lapic_eoi(l);
	}
	return v;
}

NOINLINE static int bench_ipi(struct virq_lapic *l, uint64_t icr)
{
	return virq_lapic_msr_write(l, 0x830, icr);
}

NOINLINE static int bench_pi_post(struct virq_pi *pi, uint8_t v)
{
	return virq_pi_post(pi, v);
}

NOINLINE static unsigned int bench_pi_sync(struct virq_pi *pi, uint32_t *irr)
{
	return virq_pi_sync(pi, irr);
}

static struct virq_apicbus *mkbus(unsigned int n)
{
	struct virq_apicbus_config cfg = { .nr_cpus = n, .lapic = { .x2apic_supported = true } };
	struct virq_apicbus *bus = virq_apicbus_new(&cfg);

	if (!bus) {
		perror("virq_apicbus_new");
		exit(1);
	}
	for (unsigned int i = 0; i < n; i++) {
		struct virq_lapic *l = virq_apicbus_lapic(bus, i);

		virq_lapic_msr_write(l, VIRQ_MSR_APIC_BASE,
				     virq_lapic_apic_base(l) | VIRQ_APIC_BASE_EXTD);
		virq_lapic_msr_write(l, 0x80F, 0x1FF);
	}
	return bus;
}

static void drain(struct virq_apicbus *bus)
{
	for (unsigned int i = 0; i < virq_apicbus_nr_cpus(bus); i++) {
		struct virq_lapic *l = virq_apicbus_lapic(bus, i);

		while (virq_lapic_pending(l) >= 0) {
			virq_lapic_ack(l);
			virq_lapic_eoi(l);
		}
	}
}

static long run(const char *op, long n, unsigned int ncpu)
{
	struct virq_apicbus *bus = mkbus(ncpu);
	struct virq_lapic *l0 = virq_apicbus_lapic(bus, 0);
	static struct virq_pi pi;
	uint32_t irr[8] = { 0 };
	long sink = 0;

	virq_pi_init(&pi, 0xF2, 0);
	for (long i = 0; i < n; i++) {
		uint8_t v = 32 + i % 200;
		uint32_t addr_lo, addr_hi, data;

		msi_pair(0, v, &addr_lo, &addr_hi, &data);
		if (!strcmp(op, "msi_irr")) {
			int r = bench_msi_deliver(bus, addr_lo, addr_hi, data);

			if (r != 1) { /* must reach CPU 0: a decode or delivery failure is a bug */
				fprintf(stderr, "msi_irr: vector %#x delivered %d\n", v, r);
				exit(1);
			}
			sink += r;
			bench_ack_eoi(l0);
		} else if (!strcmp(op, "ack_eoi")) {
			bench_msi_deliver(bus, addr_lo, addr_hi, data);
			sink += bench_ack_eoi(l0);
		} else if (!strcmp(op, "ipi_phys")) {
			sink += bench_ipi(l0, ((uint64_t)(ncpu - 1) << 32) | v);
			drain(bus);
		} else if (!strcmp(op, "ipi_logical")) {
			/* x2APIC cluster 0, every member present (up to 16). */
			uint32_t bits = ncpu >= 16 ? 0xFFFF : (1u << ncpu) - 1;

			sink += bench_ipi(l0, ((uint64_t)bits << 32) | VIRQ_ICR_LOGICAL | v);
			drain(bus);
		} else if (!strcmp(op, "ipi_bcast")) {
			sink += bench_ipi(l0, (0xFFFFFFFFull << 32) | v);
			drain(bus);
		} else if (!strcmp(op, "pi_post")) {
			sink += bench_pi_post(&pi, v);
			virq_pi_sync(&pi, irr);
		} else if (!strcmp(op, "pi_sync")) {
			virq_pi_post(&pi, v);
			sink += bench_pi_sync(&pi, irr);
		} else {
			fprintf(stderr, "unknown op %s\n", op);
			exit(2);
		}
	}
	virq_apicbus_free(bus);
	return sink;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct cont {
	struct virq_pi pi;
	int stop;
	unsigned long posts;
};

static void *cont_poster(void *p)
{
	struct cont *c = p;
	unsigned long k = 0;

	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		virq_pi_post(&c->pi, 32 + k % 64);
		k++;
	}
	__atomic_fetch_add(&c->posts, k, __ATOMIC_RELAXED);
	return NULL;
}

static void *cont_owner(void *p)
{
	struct cont *c = p;
	uint32_t irr[8];

	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		memset(irr, 0, sizeof(irr));
		virq_pi_sync(&c->pi, irr);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "contention")) {
		static struct cont c;
		pthread_t t[3];
		double t0, ms = atof(argv[2]);
		struct timespec d = { (time_t)(ms / 1000), (long)((long)ms % 1000) * 1000000 };

		virq_pi_init(&c.pi, 0xF2, 0);
		t0 = now_ns();
		pthread_create(&t[0], NULL, cont_poster, &c);
		pthread_create(&t[1], NULL, cont_poster, &c);
		pthread_create(&t[2], NULL, cont_owner, &c);
		nanosleep(&d, NULL);
		__atomic_store_n(&c.stop, 1, __ATOMIC_RELAXED);
		for (int i = 0; i < 3; i++)
			pthread_join(t[i], NULL);
		printf("%.0f\n", c.posts / ((now_ns() - t0) / 1e9));
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "time")) {
		long n = atol(argv[3]);
		double t0 = now_ns();

		run(argv[2], n, argc > 4 ? (unsigned int)atoi(argv[4]) : 1);
		printf("%.1f\n", (now_ns() - t0) / n);
		return 0;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: %s OP N [NCPU] | time OP N [NCPU] | contention MS\n",
			argv[0]);
		return 2;
	}
	return run(argv[1], atol(argv[2]), argc > 3 ? (unsigned int)atoi(argv[3]) : 1) == -1;
}
