// SPDX-License-Identifier: MIT
/*
 * AML and resource-descriptor encoding (ACPI 6.3 chapters 20 and 6.4). See virq/aml.h.
 */
#include <errno.h>
#include <string.h>

#include "virq/aml.h"

#define PKGLEN_ROOM 4 /* the longest PkgLength: reserved at begin, the body moved down */

void virq_aml_bytes(struct virq_aml *a, const void *p, size_t n)
{
	if (a->buf && !a->overflow && n <= a->cap - a->len)
		memcpy(a->buf + a->len, p, n);
	else if (a->buf)
		a->overflow = true;
	a->len += n;
}

void virq_aml_byte(struct virq_aml *a, uint8_t b)
{
	virq_aml_bytes(a, &b, 1);
}

static void le(struct virq_aml *a, uint64_t v, unsigned int n)
{
	uint8_t b[8];

	for (unsigned int i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	virq_aml_bytes(a, b, n);
}

/* 20.2.4: one byte holds 0-63; else bits 7:6 of the lead byte count the bytes that
 * follow, its bits 3:0 are the length's low nibble and each following byte the next 8. */
size_t virq_aml_pkglen(uint8_t out[4], uint32_t len)
{
	size_t n;

	if (len > VIRQ_AML_PKGLEN_MAX)
		return 0;
	n = len <= 0x3f ? 1 : len <= 0xfff ? 2 : len <= 0xfffff ? 3 : 4;
	if (len < n)
		return 0;
	if (n == 1) {
		out[0] = (uint8_t)len;
		return 1;
	}
	out[0] = (uint8_t)((n - 1) << 6 | (len & 0xf));
	for (size_t i = 1; i < n; i++)
		out[i] = (uint8_t)(len >> (4 + 8 * (i - 1)));
	return n;
}

static bool lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

/* Checks a NameString and counts its segments; false if it is not one we write. */
static bool name_check(const char *name, size_t *n_segs)
{
	const char *p = name;
	size_t segs = 0;

	if (*p == '\\')
		p++;
	else
		while (*p == '^')
			p++;
	for (;;) {
		size_t k = 0;

		if (!lead_char(*p))
			return false;
		while (k < 4 && (lead_char(p[k]) || (p[k] >= '0' && p[k] <= '9')))
			k++;
		p += k;
		segs++;
		if (!*p)
			break;
		if (*p != '.')
			return false;
		p++;
	}
	*n_segs = segs;
	return segs <= 255;
}

int virq_aml_name_string(struct virq_aml *a, const char *name)
{
	const char *p = name;
	size_t segs;

	if (!name || !name_check(name, &segs))
		return -EINVAL;
	while (*p == '\\' || *p == '^')
		virq_aml_byte(a, (uint8_t)*p++);
	if (segs == 2) {
		virq_aml_byte(a, VIRQ_AML_DUAL_NAME);
	} else if (segs > 2) {
		virq_aml_byte(a, VIRQ_AML_MULTI_NAME);
		virq_aml_byte(a, (uint8_t)segs);
	}
	while (*p) {
		char seg[4] = { '_', '_', '_', '_' };
		size_t k = 0;

		while (p[k] && p[k] != '.') {
			seg[k] = p[k];
			k++;
		}
		virq_aml_bytes(a, seg, 4);
		p += k;
		if (*p == '.')
			p++;
	}
	return 0;
}

void virq_aml_int(struct virq_aml *a, uint64_t v)
{
	if (v <= 1) {
		virq_aml_byte(a, v ? VIRQ_AML_ONE : VIRQ_AML_ZERO);
	} else if (v <= 0xff) {
		virq_aml_byte(a, VIRQ_AML_BYTE);
		le(a, v, 1);
	} else if (v <= 0xffff) {
		virq_aml_byte(a, VIRQ_AML_WORD);
		le(a, v, 2);
	} else if (v <= 0xffffffffu) {
		virq_aml_byte(a, VIRQ_AML_DWORD);
		le(a, v, 4);
	} else {
		virq_aml_byte(a, VIRQ_AML_QWORD);
		le(a, v, 8);
	}
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int virq_aml_eisaid_value(const char *id, uint32_t *v)
{
	uint32_t x = 0;

	if (!id || strlen(id) != 7)
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return -EINVAL;
		x = x << 5 | (uint32_t)(id[i] - 'A' + 1);
	}
	for (int i = 3; i < 7; i++) {
		int d = hex_digit(id[i]);

		if (d < 0)
			return -EINVAL;
		x = x << 4 | (uint32_t)d;
	}
	/* x is the 31-bit big-endian value (vendor in bits 30:16, product in 15:0); the
	 * ID's bytes are stored most significant first. */
	*v = (x >> 24 & 0xff) | (x >> 8 & 0xff00) | (x << 8 & 0xff0000) | (x << 24);
	return 0;
}

int virq_aml_eisaid(struct virq_aml *a, const char *id)
{
	uint32_t v;

	if (virq_aml_eisaid_value(id, &v))
		return -EINVAL;
	virq_aml_byte(a, VIRQ_AML_DWORD);
	le(a, v, 4);
	return 0;
}

int virq_aml_name(struct virq_aml *a, const char *name)
{
	size_t segs;

	if (!name || !name_check(name, &segs))
		return -EINVAL;
	virq_aml_byte(a, VIRQ_AML_NAME);
	return virq_aml_name_string(a, name);
}

static size_t pkg_open(struct virq_aml *a)
{
	static const uint8_t room[PKGLEN_ROOM];
	size_t mark = a->len;

	virq_aml_bytes(a, room, PKGLEN_ROOM);
	return mark;
}

int virq_aml_end(struct virq_aml *a, size_t mark)
{
	size_t body = a->len - mark - PKGLEN_ROOM;
	uint8_t pl[PKGLEN_ROOM];
	size_t n = body + 1 <= 0x3f ? 1 : body + 2 <= 0xfff ? 2 : body + 3 <= 0xfffff ? 3 : 4;

	if (body + n > VIRQ_AML_PKGLEN_MAX) {
		a->overflow = a->buf != NULL;
		return -E2BIG;
	}
	virq_aml_pkglen(pl, (uint32_t)(body + n));
	if (a->buf && !a->overflow) {
		memmove(a->buf + mark + n, a->buf + mark + PKGLEN_ROOM, body);
		memcpy(a->buf + mark, pl, n);
		memset(a->buf + mark + n + body, 0, PKGLEN_ROOM - n); /* vacated: no residue */
	}
	a->len = mark + n + body;
	return 0;
}

int virq_aml_scope_begin(struct virq_aml *a, const char *name, size_t *mark)
{
	size_t segs;

	if (!name || !name_check(name, &segs))
		return -EINVAL;
	virq_aml_byte(a, VIRQ_AML_SCOPE);
	*mark = pkg_open(a);
	return virq_aml_name_string(a, name);
}

int virq_aml_device_begin(struct virq_aml *a, const char *name, size_t *mark)
{
	size_t segs;

	if (!name || !name_check(name, &segs))
		return -EINVAL;
	virq_aml_byte(a, VIRQ_AML_EXT);
	virq_aml_byte(a, VIRQ_AML_DEVICE);
	*mark = pkg_open(a);
	return virq_aml_name_string(a, name);
}

size_t virq_aml_package_begin(struct virq_aml *a, uint8_t n_elements)
{
	size_t mark;

	virq_aml_byte(a, VIRQ_AML_PACKAGE);
	mark = pkg_open(a);
	virq_aml_byte(a, n_elements);
	return mark;
}

void virq_aml_buffer(struct virq_aml *a, const uint8_t *data, size_t n)
{
	size_t mark;

	virq_aml_byte(a, VIRQ_AML_BUFFER);
	mark = pkg_open(a);
	virq_aml_int(a, n);
	virq_aml_bytes(a, data, n);
	virq_aml_end(a, mark);
}

void virq_aml_res_io(struct virq_aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	virq_aml_byte(a, VIRQ_RES_IO);
	virq_aml_byte(a, VIRQ_RES_IO_DECODE16);
	le(a, min, 2);
	le(a, max, 2);
	virq_aml_byte(a, align);
	virq_aml_byte(a, len);
}

/* Address space descriptor (6.4.3.5.2/3): tag, length of what follows, resource type,
 * general flags, type-specific flags, then granularity, min, max, translation offset and
 * length, each `width` bytes. */
static void res_addr(struct virq_aml *a, uint8_t tag, unsigned int width, uint8_t type,
		     uint8_t tflags, uint64_t min, uint64_t max)
{
	virq_aml_byte(a, tag);
	le(a, 3 + 5 * width, 2);
	virq_aml_byte(a, type);
	virq_aml_byte(a, VIRQ_RES_MIN_FIXED | VIRQ_RES_MAX_FIXED); /* producer, PosDecode */
	virq_aml_byte(a, tflags);
	le(a, 0, width); /* granularity */
	le(a, min, width);
	le(a, max, width);
	le(a, 0, width); /* translation offset */
	le(a, max - min + 1, width);
}

void virq_aml_res_word_bus(struct virq_aml *a, uint16_t min, uint16_t max)
{
	res_addr(a, VIRQ_RES_WORD_ADDR, 2, VIRQ_RES_TYPE_BUS, 0, min, max);
}

void virq_aml_res_word_io(struct virq_aml *a, uint16_t min, uint16_t max)
{
	res_addr(a, VIRQ_RES_WORD_ADDR, 2, VIRQ_RES_TYPE_IO, VIRQ_RES_IO_ENTIRE_RANGE, min, max);
}

void virq_aml_res_dword_mem(struct virq_aml *a, uint32_t min, uint32_t max, bool cacheable)
{
	res_addr(a, VIRQ_RES_DWORD_ADDR, 4, VIRQ_RES_TYPE_MEM,
		 (uint8_t)(VIRQ_RES_MEM_RW | (cacheable ? VIRQ_RES_MEM_CACHEABLE : 0)), min, max);
}

void virq_aml_res_end(struct virq_aml *a)
{
	virq_aml_byte(a, VIRQ_RES_END);
	virq_aml_byte(a, 0);
}
