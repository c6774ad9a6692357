/* SPDX-License-Identifier: MIT */
/*
 * A growable text buffer for the renderers (private to daemon/metrics). An allocation
 * failure sets `oom` and turns every later append into a no-op, so a renderer checks once
 * at the end instead of after every line.
 */
#ifndef VIRQ_METRICS_BUF_H
#define VIRQ_METRICS_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct virq_mbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

/* Reserves `hint` bytes up front. 0 or -ENOMEM. */
int virq_mbuf_init(struct virq_mbuf *b, size_t hint);
void virq_mbuf_release(struct virq_mbuf *b);
void virq_mbuf_putn(struct virq_mbuf *b, const char *s, size_t n);
void virq_mbuf_puts(struct virq_mbuf *b, const char *s);
void virq_mbuf_putc(struct virq_mbuf *b, char c);
void virq_mbuf_put_u64(struct virq_mbuf *b, uint64_t v);
void virq_mbuf_printf(struct virq_mbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
