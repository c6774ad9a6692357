// SPDX-License-Identifier: MIT

#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int virq_mbuf_init(struct virq_mbuf *b, size_t hint)
{
	b->len = 0;
	b->oom = false;
	b->cap = hint ? hint : 4096;
	b->p = malloc(b->cap);
	if (!b->p) {
		b->cap = 0;
		b->oom = true;
		return -ENOMEM;
	}
	b->p[0] = '\0';
	return 0;
}

void virq_mbuf_release(struct virq_mbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Ensures room for `n` more bytes plus the NUL. */
static bool reserve(struct virq_mbuf *b, size_t n)
{
	size_t ncap;
	char *p;

	if (b->oom)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	ncap = b->cap ? b->cap : 4096;
	while (ncap < b->len + n + 1)
		ncap *= 2;
	p = realloc(b->p, ncap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = ncap;
	return true;
}

void virq_mbuf_putn(struct virq_mbuf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void virq_mbuf_puts(struct virq_mbuf *b, const char *s)
{
	virq_mbuf_putn(b, s, strlen(s));
}

void virq_mbuf_putc(struct virq_mbuf *b, char c)
{
	virq_mbuf_putn(b, &c, 1);
}

/* Counters dominate a scrape; this avoids printf's format parsing for them. */
void virq_mbuf_put_u64(struct virq_mbuf *b, uint64_t v)
{
	char tmp[20];
	int i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	virq_mbuf_putn(b, tmp + i, sizeof(tmp) - (size_t)i);
}

void virq_mbuf_printf(struct virq_mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (!reserve(b, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}
