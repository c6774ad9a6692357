/* SPDX-License-Identifier: MIT */
/*
 * virq: a small encoder for ACPI Machine Language (ACPI 6.3 chapter 20) and for the
 * resource descriptors of a ResourceTemplate (ACPI 6.3 6.4): what our DSDT needs, no more.
 *
 * Pure C, no allocation: everything is appended to a caller-given buffer. A writer with a
 * NULL buffer only counts, so a table's size is known before it is placed; a writer whose
 * buffer is too small keeps counting and says so (virq_aml_ok). Objects with a PkgLength
 * (Scope, Device, Package) are opened and closed: the body is written after room for the
 * longest PkgLength and moved down once its length is known, so every PkgLength is the
 * shortest encoding, as iasl writes it: so a buffer needs 3 bytes per open object beyond
 * what it finally holds (a counting writer's len is the final length). One writer per
 * thread.
 */
#ifndef VIRQ_AML_H
#define VIRQ_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ACPI 6.3 20.3 opcodes */
#define VIRQ_AML_ZERO 0x00
#define VIRQ_AML_ONE 0x01
#define VIRQ_AML_NAME 0x08
#define VIRQ_AML_BYTE 0x0a
#define VIRQ_AML_WORD 0x0b
#define VIRQ_AML_DWORD 0x0c
#define VIRQ_AML_QWORD 0x0e
#define VIRQ_AML_SCOPE 0x10
#define VIRQ_AML_BUFFER 0x11
#define VIRQ_AML_PACKAGE 0x12
#define VIRQ_AML_DUAL_NAME 0x2e
#define VIRQ_AML_MULTI_NAME 0x2f
#define VIRQ_AML_EXT 0x5b
#define VIRQ_AML_DEVICE 0x82 /* after VIRQ_AML_EXT */
#define VIRQ_AML_PKGLEN_MAX 0x0fffffffu /* 28 bits (20.2.4) */

/* Resource descriptors (ACPI 6.3 6.4): tags and the address space flags (6.4.3.5). */
#define VIRQ_RES_IO 0x47 /* small, 6.4.2.5: 7 data bytes */
#define VIRQ_RES_END 0x79 /* small, 6.4.2.9: 1 data byte */
#define VIRQ_RES_DWORD_ADDR 0x87 /* large, 6.4.3.5.2 */
#define VIRQ_RES_WORD_ADDR 0x88 /* large, 6.4.3.5.3 */
#define VIRQ_RES_TYPE_MEM 0
#define VIRQ_RES_TYPE_IO 1
#define VIRQ_RES_TYPE_BUS 2
#define VIRQ_RES_CONSUMER (1u << 0) /* general flags; clear: ResourceProducer */
#define VIRQ_RES_SUB_DECODE (1u << 1) /* clear: PosDecode */
#define VIRQ_RES_MIN_FIXED (1u << 2)
#define VIRQ_RES_MAX_FIXED (1u << 3)
#define VIRQ_RES_MEM_RW (1u << 0) /* memory type flags; clear: ReadOnly */
#define VIRQ_RES_MEM_CACHEABLE (1u << 1) /* _MEM = 1 (0: NonCacheable) */
#define VIRQ_RES_IO_ENTIRE_RANGE 3u /* I/O type flags _RNG: ISA and non-ISA ranges */
#define VIRQ_RES_IO_DECODE16 (1u << 0) /* IO descriptor information byte */

struct virq_aml {
	uint8_t *buf; /* NULL: count only */
	size_t cap;
	size_t len; /* bytes emitted so far, also those that did not fit */
	bool overflow; /* buf was too small: its content is not AML */
};

static inline struct virq_aml virq_aml_writer(uint8_t *buf, size_t cap)
{
	return (struct virq_aml){ .buf = buf, .cap = buf ? cap : 0 };
}

/* true: nothing was lost (a counting writer is always ok). */
static inline bool virq_aml_ok(const struct virq_aml *a)
{
	return !a->overflow;
}

/* Raw bytes. */
void virq_aml_bytes(struct virq_aml *a, const void *p, size_t n);
void virq_aml_byte(struct virq_aml *a, uint8_t b);

/*
 * PkgLength (20.2.4) of a package of `len` bytes, the PkgLength's own bytes included:
 * writes 1-4 bytes to out and returns how many; 0 if len needs more than 28 bits or is
 * too small to hold its own encoding.
 */
size_t virq_aml_pkglen(uint8_t out[4], uint32_t len);

/*
 * NameString (20.2.2): an optional root '\' or parent '^' prefixes, then NameSegs
 * separated by '.', each 1-4 characters of [A-Z0-9_] (the first not a digit), padded
 * with '_' as iasl does ("\_SB.PCI0", "_S5", "^FOO"). -EINVAL (nothing written) for
 * anything else; 0 on success.
 */
int virq_aml_name_string(struct virq_aml *a, const char *name);

/* Integer (20.2.3): ZeroOp, OneOp, else the shortest of Byte/Word/DWord/QWordConst. */
void virq_aml_int(struct virq_aml *a, uint64_t v);

/*
 * EisaId (ASL 19.6.35): "PNP0A03" -> 0x030ad041, three letters A-Z (5 bits each, 'A' = 1)
 * then four hex digits, big-endian in the DWord's bytes. 0 with *v, -EINVAL if malformed.
 * virq_aml_eisaid emits it as a DWordConst (as iasl does, whatever its value).
 */
int virq_aml_eisaid_value(const char *id, uint32_t *v);
int virq_aml_eisaid(struct virq_aml *a, const char *id);

/* Name (name, <the next object written>): NameOp and the NameString. 0 or -EINVAL. */
int virq_aml_name(struct virq_aml *a, const char *name);

/*
 * Scope (name) { ... }, Device (name) { ... }, Package (n) { ... }: *_begin writes the
 * opcode and the header and returns a mark for the matching virq_aml_end, which fixes the
 * PkgLength. Objects nest; end them in reverse order. Names are checked as in
 * virq_aml_name_string: on -EINVAL nothing is written and there is nothing to end.
 */
int virq_aml_scope_begin(struct virq_aml *a, const char *name, size_t *mark);
int virq_aml_device_begin(struct virq_aml *a, const char *name, size_t *mark);
size_t virq_aml_package_begin(struct virq_aml *a, uint8_t n_elements);
/* 0, or -E2BIG when the package exceeds VIRQ_AML_PKGLEN_MAX (the writer is then marked
 * overflowed). */
int virq_aml_end(struct virq_aml *a, size_t mark);

/* Buffer (n) { bytes }: BufferOp, PkgLength, BufferSize as an integer, the bytes. */
void virq_aml_buffer(struct virq_aml *a, const uint8_t *data, size_t n);

/*
 * Resource descriptors (6.4), appended to a writer that holds a ResourceTemplate's
 * bytes (then wrapped with virq_aml_buffer). The address space descriptors are
 * ResourceProducer, PosDecode, MinFixed, MaxFixed, granularity 0, no translation, length
 * max - min + 1, as a host bridge's windows are (max >= min).
 */
void virq_aml_res_io(struct virq_aml *a, uint16_t min, uint16_t max, uint8_t align,
		     uint8_t len); /* IO (Decode16, ...): 8 bytes */
void virq_aml_res_word_bus(struct virq_aml *a, uint16_t min, uint16_t max); /* 16 bytes */
void virq_aml_res_word_io(struct virq_aml *a, uint16_t min, uint16_t max); /* EntireRange */
void virq_aml_res_dword_mem(struct virq_aml *a, uint32_t min, uint32_t max,
			    bool cacheable); /* ReadWrite, 26 bytes */
/* EndTag with checksum 0: "treated as if the checksum operation succeeded" (6.4.2.9). */
void virq_aml_res_end(struct virq_aml *a);

#endif
