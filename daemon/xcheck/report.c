// SPDX-License-Identifier: MIT
/* Report lifetime, iteration, summaries and the fixed-width text table. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virq/xcheck.h"

struct virq_xcheck_report *virq_xcheck_report_new(void)
{
	struct virq_xcheck_report *r = calloc(1, sizeof(*r));

	if (!r)
		errno = ENOMEM;
	return r;
}

void virq_xcheck_report_free(struct virq_xcheck_report *r)
{
	free(r);
}

size_t virq_xcheck_report_nr_checks(const struct virq_xcheck_report *r)
{
	return r ? r->nr_checks : 0;
}

const struct virq_xcheck_check *virq_xcheck_report_check(const struct virq_xcheck_report *r,
							 size_t i)
{
	return r && i < r->nr_checks ? &r->checks[i] : NULL;
}

size_t virq_xcheck_report_nr_findings(const struct virq_xcheck_report *r)
{
	return r ? r->nr_findings : 0;
}

const struct virq_xcheck_finding *virq_xcheck_report_finding(const struct virq_xcheck_report *r,
							     size_t i)
{
	return r && i < r->nr_findings ? &r->findings[i] : NULL;
}

uint64_t virq_xcheck_report_count(const struct virq_xcheck_report *r, const char *vm, int path,
				  int kind, int verdict)
{
	uint64_t n = 0;

	if (!r)
		return 0;
	for (uint32_t i = 0; i < r->nr_checks; i++) {
		const struct virq_xcheck_check *c = &r->checks[i];

		if (vm && strncmp(vm, c->vm, sizeof(c->vm)))
			continue;
		if ((path >= 0 && c->path != path) || (kind >= 0 && c->kind != kind) ||
		    (verdict >= 0 && c->verdict != verdict))
			continue;
		n++;
	}
	return n;
}

size_t virq_xcheck_report_summarize(const struct virq_xcheck_report *r,
				    struct virq_xcheck_summary *rows, size_t max)
{
	size_t n = 0;

	if (!r)
		return 0;
	for (uint32_t i = 0; i < r->nr_checks; i++) {
		const struct virq_xcheck_check *c = &r->checks[i];
		size_t j;
		bool seen = false;

		/* Rows beyond max are still counted; look them up among earlier checks. */
		for (j = 0; j < i && !seen; j++) {
			const struct virq_xcheck_check *o = &r->checks[j];

			seen = o->path == c->path && o->kind == c->kind &&
			       !strncmp(o->vm, c->vm, sizeof(c->vm));
		}
		if (!seen) {
			if (n < max) {
				memset(&rows[n], 0, sizeof(rows[n]));
				memcpy(rows[n].vm, c->vm, sizeof(rows[n].vm));
				rows[n].path = c->path;
				rows[n].kind = c->kind;
			}
			n++;
		}
		for (j = 0; j < n && j < max; j++) {
			if (rows[j].path == c->path && rows[j].kind == c->kind &&
			    !strncmp(rows[j].vm, c->vm, sizeof(c->vm))) {
				if (c->verdict < VIRQ_XC_VERDICT__COUNT)
					rows[j].count[c->verdict]++;
				break;
			}
		}
	}
	return n;
}

/* --- table -------------------------------------------------------------------------- */

struct out {
	char *buf;
	size_t len, pos;
};

static void __attribute__((format(printf, 2, 3))) put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->pos < o->len ? o->buf + o->pos : NULL,
		      o->pos < o->len ? o->len - o->pos : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}

/* Column widths: vm 16, path 7, check 17, verdict 12, expected 10, observed 10, detail. */
#define TBL_FMT "%-16.16s %-7.7s %-17.17s %-12.12s %10s %10s  %s\n"

static const char *u64s(char *b, size_t n, uint64_t v)
{
	snprintf(b, n, "%llu", (unsigned long long)v);
	return b;
}

size_t virq_xcheck_report_to_table(const struct virq_xcheck_report *r, char *buf, size_t len)
{
	struct out o = { .buf = buf, .len = len };
	char e[24], ob[24];

	if (len)
		buf[0] = '\0';
	if (!r)
		return 0;
	put(&o, TBL_FMT, "VM", "PATH", "CHECK", "VERDICT", "EXPECTED", "OBSERVED", "DETAIL");
	for (uint32_t i = 0; i < r->nr_checks; i++) {
		const struct virq_xcheck_check *c = &r->checks[i];
		char path[16];

		if (c->vcpu >= 0)
			snprintf(path, sizeof(path), "vcpu%d", c->vcpu);
		else
			snprintf(path, sizeof(path), "%s", virq_xcheck_path_name(c->path));
		put(&o, TBL_FMT, c->vm, path, virq_xcheck_kind_name(c->kind),
		    virq_xcheck_verdict_name(c->verdict), u64s(e, sizeof(e), c->expected),
		    u64s(ob, sizeof(ob), c->observed), c->detail);
	}
	if (r->nr_findings) {
		put(&o, "\n%-16s %-32s %-9s %8s %8s  %s\n", "VM", "DEVIATION", "STATUS", "FOR",
		    "AGAINST", "DETAIL");
		for (uint32_t i = 0; i < r->nr_findings; i++) {
			const struct virq_xcheck_finding *f = &r->findings[i];

			put(&o, "%-16.16s %-32.32s %-9.9s %8llu %8llu  %s\n", f->vm,
			    virq_xcheck_dev_name(f->kind), virq_xcheck_dev_status_name(f->status),
			    (unsigned long long)f->positive, (unsigned long long)f->negative,
			    f->detail);
		}
	}
	put(&o, "\n");
	for (unsigned int v = 0; v < VIRQ_XC_VERDICT__COUNT; v++)
		put(&o, "%s%s %llu", v ? ", " : "", virq_xcheck_verdict_name(v),
		    (unsigned long long)r->by_verdict[v]);
	if (r->dropped_checks || r->dropped_findings || r->dropped_evidence)
		put(&o, "; dropped: %llu checks, %llu findings, %llu evidence",
		    (unsigned long long)r->dropped_checks, (unsigned long long)r->dropped_findings,
		    (unsigned long long)r->dropped_evidence);
	put(&o, "\n");
	return o.pos;
}
