/* SPDX-License-Identifier: MIT */
/* daemon/boot: helpers shared by the loaders (not exported). */
#ifndef VIRQ_BOOT_INTERNAL_H
#define VIRQ_BOOT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "virq/boot.h"

/* Formats `fmt` into err (if not NULL) and returns rc. */
int boot_fail(char *err, size_t err_len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * One write of a load plan: `copy` bytes from `src`, then `zero` zero bytes, at `gpa`;
 * `claim` (>= copy + zero) is what the range owns for the overlap checks (a Linux kernel
 * claims its whole init_size). Plans are checked completely before any op runs.
 */
struct boot_op {
	const char *what;
	uint64_t gpa;
	const void *src;
	uint64_t copy;
	uint64_t zero;
	uint64_t claim;
};

#define BOOT_MAX_OPS (VIRQ_MULTIBOOT_MAX_SEGMENTS + VIRQ_MULTIBOOT_MAX_MODULES + 8)

struct boot_plan {
	struct boot_op op[BOOT_MAX_OPS];
	size_t n;
};

int boot_plan_add(struct boot_plan *pl, const char *what, uint64_t gpa, const void *src,
		  uint64_t copy, uint64_t zero, uint64_t claim, char *err, size_t err_len);
/* Every op inside RAM, off the hole and the reserved ranges, no two overlapping. */
int boot_plan_check(const struct virq_boot_mem *mem, const struct boot_plan *pl, char *err,
		    size_t err_len);
void boot_plan_run(const struct virq_boot_mem *mem, const struct boot_plan *pl);

/* [gpa, gpa + len) inside RAM and clear of the ISA hole and every reserved range; len 0
 * is usable anywhere in RAM. On failure *why names the obstacle. */
bool boot_usable(const struct virq_boot_mem *mem, uint64_t gpa, uint64_t len, const char **why);
/* The lowest usable conflict: the end of the first obstacle that [gpa, gpa+len) hits, or 0. */
uint64_t boot_conflict_end(const struct virq_boot_mem *mem, uint64_t gpa, uint64_t len);
/* The start of the highest obstacle that [gpa, gpa+len) hits (for downward searches). */
bool boot_conflict_start(const struct virq_boot_mem *mem, uint64_t gpa, uint64_t len,
			 uint64_t *start);

static inline bool boot_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

static inline uint16_t boot_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t boot_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t boot_get64(const uint8_t *p)
{
	return boot_get32(p) | (uint64_t)boot_get32(p + 4) << 32;
}

static inline void boot_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void boot_put32(uint8_t *p, uint32_t v)
{
	boot_put16(p, (uint16_t)v);
	boot_put16(p + 2, (uint16_t)(v >> 16));
}

static inline void boot_put64(uint8_t *p, uint64_t v)
{
	boot_put32(p, (uint32_t)v);
	boot_put32(p + 4, (uint32_t)(v >> 32));
}

#define BOOT_PAGE 4096ull
static inline uint64_t boot_page_up(uint64_t v)
{
	return (v + BOOT_PAGE - 1) & ~(BOOT_PAGE - 1);
}

#endif
