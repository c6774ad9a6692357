// SPDX-License-Identifier: MIT
/*
 * Exit-reason names from the kernel itself: the __print_symbolic tables of the kvm_exit
 * tracepoint's print format. The kernel's own tables follow each kernel version (new VMX
 * basic exit reasons, SDM Vol. 3D Appendix C; new SVM exit codes), so nothing is hard-coded
 * here.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "virq/trace.h"

#define NR_ISA 3 /* index 1 VMX, 2 SVM */
#define TRACEFS_MAGIC_NR 0x74726163
#define EXIT_FORMAT_MAX (1u << 20)

struct exit_name {
	uint32_t reason;
	char *name;
};

struct virq_exit_names {
	struct exit_name *tab[NR_ISA];
	unsigned int n[NR_ISA];
};

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char)*p))
		p++;
	return p;
}

/* "0x040 + 13", "-1", "12": a sum of integer literals. */
static const char *parse_num(const char *p, const char *end, uint32_t *out)
{
	char buf[32];
	long long sum = 0;

	for (;;) {
		size_t n = 0;
		char *e;
		long long v;

		p = skip_ws(p, end);
		while (p + n < end && n < sizeof(buf) - 1 &&
		       (isxdigit((unsigned char)p[n]) || p[n] == 'x' || p[n] == 'X' ||
			(n == 0 && p[n] == '-')))
			n++;
		if (!n)
			return NULL;
		memcpy(buf, p, n);
		buf[n] = 0;
		errno = 0;
		v = strtoll(buf, &e, 0);
		if (errno || *e)
			return NULL;
		sum += v;
		p = skip_ws(p + n, end);
		if (p < end && *p == '+') {
			p++;
			continue;
		}
		break;
	}
	*out = (uint32_t)sum;
	return p;
}

/* One or more adjacent C string literals ("KVM_EXIT_" "IO"), concatenated. */
static const char *parse_str(const char *p, const char *end, char *out, size_t outlen)
{
	size_t o = 0;

	p = skip_ws(p, end);
	if (p >= end || *p != '"')
		return NULL;
	while (p < end && *p == '"') {
		p++;
		while (p < end && *p != '"') {
			if (*p == '\\' && p + 1 < end)
				p++;
			if (o + 1 < outlen)
				out[o++] = *p;
			p++;
		}
		if (p >= end)
			return NULL;
		p = skip_ws(p + 1, end);
	}
	out[o] = 0;
	return p;
}

static int add_name(struct virq_exit_names *n, unsigned int isa, uint32_t reason, const char *name)
{
	struct exit_name *t;

	t = realloc(n->tab[isa], (n->n[isa] + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	n->tab[isa] = t;
	t[n->n[isa]].reason = reason;
	t[n->n[isa]].name = strdup(name);
	if (!t[n->n[isa]].name)
		return -ENOMEM;
	n->n[isa]++;
	return 0;
}

/* Parses the table of one __print_symbolic( starting after the '('. Returns the end of
 * the table or NULL. */
static const char *parse_table(struct virq_exit_names *n, unsigned int isa, const char *p,
			       const char *end, int *err)
{
	int depth = 0;
	char name[96];

	/* skip the value expression up to the top-level comma */
	for (; p < end; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')') {
			if (!depth)
				return NULL;
			depth--;
		} else if (*p == ',' && !depth)
			break;
	}
	if (p >= end)
		return NULL;
	p++;
	for (;;) {
		uint32_t v;

		p = skip_ws(p, end);
		if (p < end && *p == ')')
			return p + 1;
		if (p >= end || *p != '{')
			return NULL;
		p = parse_num(p + 1, end, &v);
		if (!p || *p != ',')
			return NULL;
		p = parse_str(p + 1, end, name, sizeof(name));
		if (!p || *p != '}')
			return NULL;
		*err = add_name(n, isa, v, name);
		if (*err)
			return NULL;
		p = skip_ws(p + 1, end);
		if (p < end && *p == ',')
			p++;
	}
}

static int cmp_name(const void *a, const void *b)
{
	const struct exit_name *x = a, *y = b;

	return x->reason < y->reason ? -1 : x->reason > y->reason;
}

struct virq_exit_names *virq_exit_names_parse(const char *text, size_t len,
					      unsigned int default_isa)
{
	static const char key[] = "__print_symbolic(";
	struct virq_exit_names *n;
	const char *p, *end, *fmt;
	unsigned int tables = 0, i;
	bool conditional;
	int err = 0;

	if (!text || default_isa >= NR_ISA) {
		errno = EINVAL;
		return NULL;
	}
	end = text + strnlen(text, len);
	fmt = memmem(text, (size_t)(end - text), "print fmt:", 10);
	p = fmt ? fmt : text;
	/* Since Linux 5.x one kvm_exit serves both vendors: "(REC->isa == 1) ? VMX : SVM". */
	conditional = memmem(p, (size_t)(end - p), "isa == 1", 8) != NULL;
	n = calloc(1, sizeof(*n));
	if (!n) {
		errno = ENOMEM;
		return NULL;
	}
	while ((p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) != NULL) {
		unsigned int isa =
			conditional ? (tables == 0 ? VIRQ_ISA_VMX : VIRQ_ISA_SVM) : default_isa;
		const char *q;

		if (tables >= 2 || (!conditional && tables >= 1))
			break;
		q = parse_table(n, isa ? isa : default_isa, p + sizeof(key) - 1, end, &err);
		if (!q) {
			if (err)
				goto err_free;
			break; /* malformed: keep what parsed */
		}
		p = q;
		tables++;
	}
	for (i = 0; i < NR_ISA; i++)
		if (n->n[i])
			qsort(n->tab[i], n->n[i], sizeof(*n->tab[i]), cmp_name);
	if (!n->n[VIRQ_ISA_VMX] && !n->n[VIRQ_ISA_SVM] && !n->n[0]) {
		err = -EINVAL;
		goto err_free;
	}
	return n;

err_free:
	virq_exit_names_free(n);
	errno = -err;
	return NULL;
}

struct virq_exit_names *virq_exit_names_load(const char *tracefs)
{
	char path[512];
	struct virq_exit_names *n;
	size_t cap = 1 << 16, len = 0;
	char *buf;
	FILE *f;

	snprintf(path, sizeof(path), "%s/events/kvm/kvm_exit/format",
		 tracefs ? tracefs : "/sys/kernel/tracing");
	f = fopen(path, "re");
	if (!f)
		return NULL;
	buf = malloc(cap);
	if (!buf)
		goto err_close;
	for (;;) {
		size_t r = fread(buf + len, 1, cap - len - 1, f);

		len += r;
		if (r == 0)
			break;
		if (len + 1 == cap) {
			char *nb;

			if (cap >= EXIT_FORMAT_MAX) {
				errno = EFBIG;
				goto err_buf;
			}
			nb = realloc(buf, cap * 2);
			if (!nb)
				goto err_buf;
			buf = nb;
			cap *= 2;
		}
	}
	buf[len] = 0;
	fclose(f);
	/* Per-vendor formats of old kernels have one table: the host's own vendor. */
	n = virq_exit_names_parse(buf, len, VIRQ_ISA_VMX);
	free(buf);
	return n;

err_buf:
	free(buf);
err_close:
	fclose(f);
	return NULL;
}

void virq_exit_names_free(struct virq_exit_names *n)
{
	unsigned int i, j;

	if (!n)
		return;
	for (i = 0; i < NR_ISA; i++) {
		for (j = 0; j < n->n[i]; j++)
			free(n->tab[i][j].name);
		free(n->tab[i]);
	}
	free(n);
}

const char *virq_exit_name(const struct virq_exit_names *n, unsigned int isa, uint32_t reason)
{
	struct exit_name k, *r;

	if (!n || isa >= NR_ISA || !n->n[isa])
		return NULL;
	/* VMX: bits 15:0 are the basic exit reason; bit 31 is "VM-entry failure"
	 * (SDM Vol. 3C 28.2.1, "Basic VM-Exit Information"). */
	k.reason = isa == VIRQ_ISA_VMX ? (reason & 0xffff) : reason;
	r = bsearch(&k, n->tab[isa], n->n[isa], sizeof(k), cmp_name);
	return r ? r->name : NULL;
}

unsigned int virq_exit_names_count(const struct virq_exit_names *n, unsigned int isa)
{
	return n && isa < NR_ISA ? n->n[isa] : 0;
}

bool virq_exit_is_extint(unsigned int isa, uint32_t reason)
{
	/* VMX basic exit reason 1 "external interrupt" (SDM Vol. 3D Appendix C);
	 * SVM exit code 0x60 SVM_EXIT_INTR (AMD APM Vol. 2, Appendix C). */
	if (isa == VIRQ_ISA_VMX)
		return (reason & 0xffff) == 1;
	if (isa == VIRQ_ISA_SVM)
		return reason == 0x60;
	return false;
}

int virq_tracefs_ensure(char *err, size_t errlen)
{
	static const char dir[] = "/sys/kernel/tracing";
	struct statfs sfs;

	if (statfs(dir, &sfs) == 0 && (unsigned long)sfs.f_type == TRACEFS_MAGIC_NR)
		return 0;
	if (geteuid() != 0) {
		if (err && errlen)
			snprintf(err, errlen, "tracefs not mounted at %s and not root", dir);
		return -EPERM;
	}
	if (mount("nodev", dir, "tracefs", 0, NULL) && errno != EBUSY) {
		int e = errno;

		if (err && errlen)
			snprintf(err, errlen, "mount tracefs at %s: %s", dir, strerror(e));
		return -e;
	}
	if (statfs(dir, &sfs) == 0 && (unsigned long)sfs.f_type == TRACEFS_MAGIC_NR)
		return 0;
	if (err && errlen)
		snprintf(err, errlen, "tracefs still not mounted at %s", dir);
	return -ENODEV;
}
