// SPDX-License-Identifier: MIT
/* daemon/boot: load plans (validate everything, then write) and the e820 map builder. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "boot_internal.h"

int boot_fail(char *err, size_t err_len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int boot_plan_add(struct boot_plan *pl, const char *what, uint64_t gpa, const void *src,
		  uint64_t copy, uint64_t zero, uint64_t claim, char *err, size_t err_len)
{
	uint64_t len;

	if (pl->n >= BOOT_MAX_OPS)
		return boot_fail(err, err_len, -E2BIG, "too many pieces to load");
	if (__builtin_add_overflow(copy, zero, &len) || claim < len)
		return boot_fail(err, err_len, -E2BIG, "%s: absurd size", what);
	pl->op[pl->n++] = (struct boot_op){ what, gpa, src, copy, zero, claim };
	return 0;
}

/* The obstacles: the ISA hole first, then the caller's reserved ranges (index 1..n). */
static bool obstacle(const struct virq_boot_mem *mem, size_t i, uint64_t *s, uint64_t *len)
{
	if (i == 0) {
		*s = VIRQ_BOOT_HOLE_START;
		*len = VIRQ_BOOT_HOLE_END - VIRQ_BOOT_HOLE_START;
		return true;
	}
	if (i > mem->n_reserved)
		return false;
	*s = mem->reserved[i - 1].start;
	*len = mem->reserved[i - 1].size;
	/* a range that wraps is clipped to the top: it reserves everything up there */
	if (*s + *len < *s)
		*len = UINT64_MAX - *s;
	return true;
}

bool boot_usable(const struct virq_boot_mem *mem, uint64_t gpa, uint64_t len, const char **why)
{
	uint64_t s, l, end;

	if (__builtin_add_overflow(gpa, len, &end) || end > mem->size) {
		*why = "beyond the end of guest RAM";
		return false;
	}
	for (size_t i = 0; obstacle(mem, i, &s, &l); i++)
		if (boot_overlap(gpa, len, s, l)) {
			*why = i ? "over a reserved range" : "in the ISA hole 0xa0000-0xfffff";
			return false;
		}
	return true;
}

uint64_t boot_conflict_end(const struct virq_boot_mem *mem, uint64_t gpa, uint64_t len)
{
	uint64_t s, l, best = 0;

	for (size_t i = 0; obstacle(mem, i, &s, &l); i++)
		if (boot_overlap(gpa, len, s, l) && (!best || s + l < best))
			best = s + l;
	return best;
}

bool boot_conflict_start(const struct virq_boot_mem *mem, uint64_t gpa, uint64_t len,
			 uint64_t *start)
{
	uint64_t s, l;
	bool hit = false;

	for (size_t i = 0; obstacle(mem, i, &s, &l); i++)
		if (boot_overlap(gpa, len, s, l) && (!hit || s > *start)) {
			*start = s;
			hit = true;
		}
	return hit;
}

int boot_plan_check(const struct virq_boot_mem *mem, const struct boot_plan *pl, char *err,
		    size_t err_len)
{
	const char *why;

	if (!mem || !mem->host || (mem->n_reserved && !mem->reserved))
		return boot_fail(err, err_len, -EINVAL, "no guest memory");
	for (size_t i = 0; i < pl->n; i++) {
		const struct boot_op *a = &pl->op[i];

		if (!boot_usable(mem, a->gpa, a->claim, &why))
			return boot_fail(err, err_len, -ERANGE,
					 "%s at 0x%llx (0x%llx bytes) is %s (RAM 0x%llx)", a->what,
					 (unsigned long long)a->gpa, (unsigned long long)a->claim,
					 why, (unsigned long long)mem->size);
		for (size_t j = 0; j < i; j++) {
			const struct boot_op *b = &pl->op[j];

			if (boot_overlap(a->gpa, a->claim, b->gpa, b->claim))
				return boot_fail(err, err_len, -EINVAL,
						 "%s at 0x%llx overlaps %s at 0x%llx", a->what,
						 (unsigned long long)a->gpa, b->what,
						 (unsigned long long)b->gpa);
		}
	}
	return 0;
}

void boot_plan_run(const struct virq_boot_mem *mem, const struct boot_plan *pl)
{
	for (size_t i = 0; i < pl->n; i++) {
		const struct boot_op *o = &pl->op[i];

		if (o->copy)
			memcpy(mem->host + o->gpa, o->src, o->copy);
		if (o->zero)
			memset(mem->host + o->gpa + o->copy, 0, o->zero);
	}
}

/* ---- e820 ------------------------------------------------------------------------- */

#define E820_MAX_IN 64

struct span {
	uint64_t start, end; /* end exclusive */
	uint32_t type;
};

/* Precedence where ranges overlap: anything non-RAM beats RAM; a higher type number wins
 * among the others (NVS over ACPI over reserved), so the result is deterministic. */
static int rank(uint32_t type)
{
	return type == VIRQ_E820_RAM ? 0 : (int)type;
}

int virq_e820_build(const struct virq_e820_config *cfg, struct virq_e820_entry *out, size_t cap,
		    size_t *n)
{
	struct span in[E820_MAX_IN];
	uint64_t pts[2 * E820_MAX_IN];
	size_t nin = 0, npts = 0, k = 0;
	uint64_t hole, low_end;

	if (!cfg || !n || (cap && !out) || cfg->ram_size < (2ull << 20) ||
	    cfg->n_extra > E820_MAX_IN - 5 || (cfg->n_extra && !cfg->extra))
		return -EINVAL;
	hole = cfg->pci_hole_start ? cfg->pci_hole_start : VIRQ_E820_PCI_HOLE_DEFAULT;
	if (hole < (2ull << 20) || hole >= (1ull << 32) || hole & ((1ull << 20) - 1))
		return -EINVAL;
	if (cfg->ram_size > (1ull << 52)) /* 4 PiB: MAXPHYADDR 52 (SDM Vol. 3A 4.1.4) */
		return -EINVAL;
	low_end = cfg->ram_size < hole ? cfg->ram_size : hole;
	in[nin++] = (struct span){ 0, VIRQ_E820_EBDA_START, VIRQ_E820_RAM };
	in[nin++] = (struct span){ VIRQ_E820_EBDA_START, VIRQ_BOOT_HOLE_START, VIRQ_E820_RESERVED };
	in[nin++] = (struct span){ VIRQ_E820_BIOS_START, VIRQ_BOOT_HOLE_END, VIRQ_E820_RESERVED };
	in[nin++] = (struct span){ VIRQ_BOOT_HOLE_END, low_end, VIRQ_E820_RAM };
	if (cfg->ram_size > hole)
		in[nin++] = (struct span){ 1ull << 32, (1ull << 32) + cfg->ram_size - hole,
					   VIRQ_E820_RAM };
	for (size_t i = 0; i < cfg->n_extra; i++) {
		const struct virq_e820_entry *e = &cfg->extra[i];

		if (e->type == VIRQ_E820_RAM || !e->type || !e->size || e->addr + e->size < e->addr)
			return -EINVAL;
		in[nin++] = (struct span){ e->addr, e->addr + e->size, e->type };
	}
	for (size_t i = 0; i < nin; i++) {
		pts[npts++] = in[i].start;
		pts[npts++] = in[i].end;
	}
	/* insertion sort: at most 128 points */
	for (size_t i = 1; i < npts; i++)
		for (size_t j = i; j && pts[j - 1] > pts[j]; j--) {
			uint64_t t = pts[j];

			pts[j] = pts[j - 1];
			pts[j - 1] = t;
		}
	for (size_t i = 0; i + 1 < npts; i++) {
		uint64_t s = pts[i], e = pts[i + 1];
		uint32_t type = 0;

		if (s == e)
			continue;
		for (size_t j = 0; j < nin; j++)
			if (in[j].start <= s && e <= in[j].end &&
			    (!type || rank(in[j].type) > rank(type)))
				type = in[j].type;
		if (!type)
			continue;
		if (k && out[k - 1].type == type && out[k - 1].addr + out[k - 1].size == s) {
			out[k - 1].size += e - s;
			continue;
		}
		if (k >= cap)
			return -E2BIG;
		out[k++] = (struct virq_e820_entry){ s, e - s, type };
	}
	*n = k;
	return 0;
}

void virq_e820_lower_upper(const struct virq_e820_entry *map, size_t n, uint32_t *lower_kib,
			   uint32_t *upper_kib)
{
	uint64_t lower = 0, upper = VIRQ_BOOT_HOLE_END;
	bool grew = true;

	/* RAM contiguous from 0, capped at 640 KiB; RAM contiguous from 1 MiB */
	while (grew) {
		grew = false;
		for (size_t i = 0; i < n; i++) {
			if (map[i].type != VIRQ_E820_RAM)
				continue;
			if (map[i].addr <= lower && map[i].addr + map[i].size > lower) {
				lower = map[i].addr + map[i].size;
				grew = true;
			}
			if (map[i].addr <= upper && map[i].addr + map[i].size > upper) {
				upper = map[i].addr + map[i].size;
				grew = true;
			}
		}
	}
	if (lower > 640 * 1024)
		lower = 640 * 1024;
	upper -= VIRQ_BOOT_HOLE_END;
	/* mem_upper is a u32 of KiB: cap at 4 GiB - 1 MiB worth, more is in the mmap */
	if (upper / 1024 > UINT32_MAX)
		upper = (uint64_t)UINT32_MAX * 1024;
	*lower_kib = (uint32_t)(lower / 1024);
	*upper_kib = (uint32_t)(upper / 1024);
}
