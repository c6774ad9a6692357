// SPDX-License-Identifier: MIT
/*
 * `virqctl top`: kvm_stat for interrupts. Samples metrics.snapshot every interval and shows
 * per-VM interrupt rates by path with latency percentiles, per-vCPU exit rates by reason and
 * the BPF attach points' health. Rates are differences between two samples, so the first
 * frame appears after one interval.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "virqctl.h"

static double jnum(const cJSON *o, const char *k)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);

	if (cJSON_IsNumber(j))
		return j->valuedouble;
	if (cJSON_IsString(j) && j->valuestring)
		return strtod(j->valuestring, NULL);
	return 0;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(j) && j->valuestring ? j->valuestring : "";
}

static const cJSON *find_vm(const cJSON *snap, const char *name)
{
	const cJSON *vm;

	cJSON_ArrayForEach(vm, cJSON_GetObjectItemCaseSensitive(
				       snap, "vms")) if (!strcmp(jstr(vm, "name"), name)) return vm;
	return NULL;
}

static const cJSON *find_by(const cJSON *arr, const char *k1, const char *v1, const char *k2,
			    const char *v2, const char *k3, const char *v3)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, arr)
	{
		if (strcmp(jstr(it, k1), v1))
			continue;
		if (k2 && strcmp(jstr(it, k2), v2))
			continue;
		if (k3 && strcmp(jstr(it, k3), v3))
			continue;
		return it;
	}
	return NULL;
}

/* Quantile q from the cumulative "le" buckets of a latency object, in microseconds; -1 when
 * there are no samples. Returns the bucket's upper bound (what Prometheus would report
 * without interpolation). */
static double quantile_us(const cJSON *lat, double q)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(lat, "buckets"), *it;
	double count = jnum(lat, "count");

	if (count <= 0)
		return -1;
	cJSON_ArrayForEach(it, b)
	{
		if (it->valuedouble >= q * count)
			return strcmp(it->string, "+Inf") ? strtod(it->string, NULL) * 1e6 : 1e9;
	}
	return -1;
}

static void fmt_lat(char *buf, size_t len, double us)
{
	if (us < 0)
		snprintf(buf, len, "-");
	else if (us >= 1e9)
		snprintf(buf, len, ">1s");
	else if (us >= 1000)
		snprintf(buf, len, "%.1fms", us / 1000);
	else
		snprintf(buf, len, "%.0fus", us);
}

static void render(FILE *out, const cJSON *status, const cJSON *prev, const cJSON *cur, double dt,
		   unsigned int frame, bool clear)
{
	const cJSON *vm, *p, *e, *pt;
	int rows = 0;

	if (clear)
		fputs("\033[H\033[2J", out);
	fprintf(out, "virqctl top - virqd %s - frame %u, interval %.2f s - q quits\n",
		jstr(status, "state"), frame, dt);
	fprintf(out, "\n%-20s %-8s %-7s %10s %10s %10s %9s %9s %12s\n", "VM", "MODE", "PATH",
		"INJ/s", "RECV/s", "COAL/s", "p50", "p99", "INJ TOTAL");
	cJSON_ArrayForEach(vm, cJSON_GetObjectItemCaseSensitive(cur, "vms"))
	{
		const cJSON *pvm = prev ? find_vm(prev, jstr(vm, "name")) : NULL;

		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(vm, "paths"))
		{
			const cJSON *pp =
				pvm ? find_by(cJSON_GetObjectItemCaseSensitive(pvm, "paths"),
					      "path", jstr(p, "path"), NULL, NULL, NULL, NULL) :
				      NULL;
			const cJSON *lat = cJSON_GetObjectItemCaseSensitive(p, "latency");
			double inj = jnum(p, "injected"), rcv = jnum(p, "received"),
			       coal = jnum(p, "coalesced");
			char p50[16], p99[16];

			if (inj == 0 && rcv == 0 && coal == 0)
				continue;
			fmt_lat(p50, sizeof(p50), quantile_us(lat, 0.5));
			fmt_lat(p99, sizeof(p99), quantile_us(lat, 0.99));
			fprintf(out, "%-20.20s %-8s %-7s %10.1f %10.1f %10.1f %9s %9s %12.0f\n",
				jstr(vm, "name"), jstr(vm, "mode"), jstr(p, "path"),
				pp ? (inj - jnum(pp, "injected")) / dt : 0,
				pp ? (rcv - jnum(pp, "received")) / dt : 0,
				pp ? (coal - jnum(pp, "coalesced")) / dt : 0, p50, p99, inj);
			rows++;
		}
	}
	if (!rows)
		fprintf(out, "(no interrupts counted yet)\n");

	fprintf(out, "\n%-20s %-5s %-22s %-10s %10s %12s\n", "VM", "VCPU", "EXIT REASON", "SOURCE",
		"RATE/s", "TOTAL");
	rows = 0;
	cJSON_ArrayForEach(vm, cJSON_GetObjectItemCaseSensitive(cur, "vms"))
	{
		const cJSON *pvm = prev ? find_vm(prev, jstr(vm, "name")) : NULL;

		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(vm, "exits"))
		{
			const cJSON *pe =
				pvm ? find_by(cJSON_GetObjectItemCaseSensitive(pvm, "exits"),
					      "vcpu", jstr(e, "vcpu"), "reason", jstr(e, "reason"),
					      "source", jstr(e, "source")) :
				      NULL;

			if (rows++ >= 24)
				break;
			fprintf(out, "%-20.20s %-5s %-22.22s %-10s %10.1f %12.0f\n",
				jstr(vm, "name"), jstr(e, "vcpu"), jstr(e, "reason"),
				jstr(e, "source"),
				pe ? (jnum(e, "count") - jnum(pe, "count")) / dt : 0,
				jnum(e, "count"));
		}
	}
	if (!rows)
		fprintf(out, "(no exits counted)\n");

	fprintf(out, "\n%-30s %-8s %-12s %10s %12s\n", "BPF ATTACH POINT", "VARIANT", "STATE",
		"EVENTS/s", "EVENTS");
	rows = 0;
	cJSON_ArrayForEach(pt, cJSON_GetObjectItemCaseSensitive(
				       cJSON_GetObjectItemCaseSensitive(cur, "bpf"), "points"))
	{
		const cJSON *pp =
			prev ? find_by(cJSON_GetObjectItemCaseSensitive(
					       cJSON_GetObjectItemCaseSensitive(prev, "bpf"),
					       "points"),
				       "tracepoint", jstr(pt, "tracepoint"), NULL, NULL, NULL,
				       NULL) :
			       NULL;

		fprintf(out, "%-30.30s %-8s %-12s %10.1f %12.0f\n", jstr(pt, "tracepoint"),
			jstr(pt, "variant"), jstr(pt, "state"),
			pp ? (jnum(pt, "events") - jnum(pp, "events")) / dt : 0,
			jnum(pt, "events"));
		rows++;
	}
	if (!rows) {
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(status, "bpf");

		fprintf(out, "(BPF tracer not loaded: %s)\n", jstr(b, "reason"));
	}
	fflush(out);
}

static int fetch(struct virqctl_conn *c, const char *cmd, cJSON **out)
{
	struct virq_proto_reply r;
	char err[256];
	int ret = virqctl_call(c, cmd, NULL, &r, err, sizeof(err));

	if (ret) {
		fprintf(stderr, "virqctl: %s\n", err);
		return VIRQCTL_EXIT_PROTOCOL;
	}
	if (r.err != VIRQ_E_OK) {
		fprintf(stderr, "virqctl: %s: %s: %s\n", cmd, r.err_code, r.err_msg);
		virq_proto_reply_fini(&r);
		return VIRQCTL_EXIT_DAEMON;
	}
	*out = cJSON_Duplicate(r.result, true);
	virq_proto_reply_fini(&r);
	return *out ? VIRQCTL_EXIT_OK : VIRQCTL_EXIT_PROTOCOL;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits up to ms for a key; true if 'q' (or EOF on an interactive stdin) was read. */
static bool wait_key(bool interactive, int ms)
{
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	double end = mono_s() + ms / 1000.0;

	if (!interactive) {
		struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		return false;
	}
	for (;;) {
		int left = (int)((end - mono_s()) * 1000);
		char ch;

		if (left <= 0)
			return false;
		if (poll(&pfd, 1, left) <= 0)
			continue;
		if (read(0, &ch, 1) != 1)
			return true;
		if (ch == 'q' || ch == 'Q')
			return true;
	}
}

int virqctl_top(struct virqctl_conn *c, int argc, char **argv)
{
	static const struct option o[] = {
		{ "once", no_argument, NULL, '1' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "interval", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long iterations = 0, interval = 1000;
	struct termios saved, raw;
	bool interactive = isatty(0), clear = isatty(1), restore = false;
	cJSON *prev = NULL, *cur = NULL, *status = NULL;
	double t_prev, t_cur;
	int ch, ret;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		char *end;

		switch (ch) {
		case '1':
			iterations = 1;
			break;
		case 'n':
		case 'i':
			errno = 0;
			if (ch == 'n')
				iterations = strtoul(optarg, &end, 10);
			else
				interval = strtoul(optarg, &end, 10);
			if (errno || *end || (ch == 'i' && (interval < 50 || interval > 60000))) {
				fprintf(stderr, "virqctl top: bad --%s\n",
					ch == 'n' ? "iterations" : "interval (50..60000 ms)");
				return VIRQCTL_EXIT_USAGE;
			}
			break;
		default:
			fprintf(stderr, "usage: virqctl top [--once] [--iterations N] "
					"[--interval MS]\n");
			return VIRQCTL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: virqctl top [--once] [--iterations N] [--interval MS]\n");
		return VIRQCTL_EXIT_USAGE;
	}
	if (interactive && tcgetattr(0, &saved) == 0) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		restore = tcsetattr(0, TCSANOW, &raw) == 0;
	}
	ret = fetch(c, "metrics.snapshot", &prev);
	t_prev = mono_s();
	for (unsigned long frame = 1; ret == VIRQCTL_EXIT_OK; frame++) {
		if (wait_key(interactive, (int)interval))
			break;
		ret = fetch(c, "metrics.snapshot", &cur);
		if (ret == VIRQCTL_EXIT_OK)
			ret = fetch(c, "status", &status);
		if (ret != VIRQCTL_EXIT_OK)
			break;
		t_cur = mono_s();
		render(stdout, status, prev, cur, t_cur - t_prev, (unsigned int)frame, clear);
		cJSON_Delete(prev);
		cJSON_Delete(status);
		status = NULL;
		prev = cur;
		cur = NULL;
		t_prev = t_cur;
		if (iterations && frame >= iterations)
			break;
	}
	if (restore)
		tcsetattr(0, TCSANOW, &saved);
	cJSON_Delete(prev);
	cJSON_Delete(cur);
	cJSON_Delete(status);
	return ret;
}
