// SPDX-License-Identifier: MIT
/*
 * metrics_bench: the cost of one scrape. Builds a synthetic snapshot of VMS VMs with VCPUS
 * vCPUs each and renders it ITERS times as Prometheus text and as JSON. Prints one line of
 * key=value per format: ns per render (median of ITERS), bytes, series lines.
 *
 *   metrics_bench [VMS [VCPUS [ITERS]]]     (defaults 16 8 200)
 */
#include "virq/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int main(int argc, char **argv)
{
	uint32_t vms = argc > 1 ? (uint32_t)atoi(argv[1]) : 16;
	uint32_t vcpus = argc > 2 ? (uint32_t)atoi(argv[2]) : 8;
	int iters = argc > 3 ? atoi(argv[3]) : 200;
	struct virq_stats_snapshot *s = virq_stats_snapshot_new();
	uint64_t *t = calloc((size_t)(iters > 0 ? iters : 1), sizeof(*t));

	if (!s || !t || iters < 1 || virq_stats_synthesize(s, vms, vcpus, 42, 3600)) {
		fprintf(stderr, "metrics_bench: cannot build the snapshot\n");
		return 1;
	}
	for (int fmt = 0; fmt < 2; fmt++) {
		size_t len = 0, lines = 0;

		for (int i = 0; i < iters; i++) {
			uint64_t t0 = now_ns();
			char *out;
			int err = fmt ? virq_metrics_render_json(s, NULL, &out, &len) :
					virq_metrics_render_prometheus(s, NULL, &out, &len);

			t[i] = now_ns() - t0;
			if (err)
				return 1;
			if (i == 0)
				for (char *p = out; (p = strchr(p, '\n')); p++)
					lines += p[1] != '#';
			free(out);
		}
		qsort(t, (size_t)iters, sizeof(*t), cmp_u64);
		printf("format=%s vms=%u vcpus=%u iters=%d median_ns=%llu p90_ns=%llu bytes=%zu "
		       "series=%zu\n",
		       fmt ? "json" : "prometheus", vms, vcpus, iters,
		       (unsigned long long)t[iters / 2], (unsigned long long)t[iters * 9 / 10], len,
		       fmt ? 0 : lines);
	}
	free(t);
	virq_stats_snapshot_free(s);
	return 0;
}
