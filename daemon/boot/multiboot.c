// SPDX-License-Identifier: MIT
/*
 * Multiboot v1 loader (Multiboot Specification 0.6.96), loading what QEMU's -kernel loads
 * (hw/i386/multiboot.c): the a.out-kludge address fields when flag 16 is set, else the
 * ELF32/ELF64 program headers; modules page aligned above the kernel, the info block
 * above them.
 */
#include <errno.h>
#include <stdlib.h>

#include "boot_internal.h"

#define EM_386 3
#define EM_X86_64 62
#define ET_EXEC 2
#define PT_LOAD 1
#define ELF32_PHDR 32
#define ELF64_PHDR 56
#define MB_STR_MAX 4096 /* our bound on each string of the info block */

struct mb_seg {
	uint64_t paddr, vaddr, offset, filesz, memsz;
};

static int find_header(const uint8_t *b, size_t size, struct virq_multiboot_info *mi, char *err,
		       size_t err_len)
{
	size_t lim = size < VIRQ_MULTIBOOT_SEARCH ? size : VIRQ_MULTIBOOT_SEARCH;

	/* section 3.1.1: "contained completely within the first 8192 bytes, longword
	 * (32-bit) aligned" */
	for (size_t off = 0; off + 12 <= lim; off += 4) {
		uint32_t flags, sum;

		if (boot_get32(b + off) != VIRQ_MULTIBOOT_MAGIC)
			continue;
		flags = boot_get32(b + off + 4);
		sum = VIRQ_MULTIBOOT_MAGIC + flags + boot_get32(b + off + 8);
		if (sum)
			continue; /* a stray magic: keep looking, as GRUB and QEMU do */
		if ((flags & VIRQ_MULTIBOOT_AOUT_KLUDGE) && off + 32 > lim)
			return boot_fail(err, err_len, -EINVAL,
					 "multiboot: header at 0x%zx: address fields beyond the "
					 "first 8192 bytes or the file",
					 off);
		/* section 3.1.2: a loader that does not understand a bit in 0-15 must fail */
		if (flags & 0xfff8u)
			return boot_fail(err, err_len, -ENOEXEC,
					 "multiboot: header flags 0x%x require features we do not "
					 "know (bits 3-15)",
					 flags);
		mi->header_offset = (uint32_t)off;
		mi->flags = flags;
		return 0;
	}
	return boot_fail(err, err_len, -ENOEXEC,
			 "multiboot: no header (magic 0x1badb002 with a valid checksum) in the "
			 "first %zu bytes",
			 lim);
}

static int aout_segments(const uint8_t *b, size_t size, struct virq_multiboot_info *mi,
			 struct mb_seg *seg, char *err, size_t err_len)
{
	const uint8_t *h = b + mi->header_offset;
	uint32_t header_addr = boot_get32(h + 12), load_addr = boot_get32(h + 16);
	uint32_t load_end = boot_get32(h + 20), bss_end = boot_get32(h + 24);
	uint64_t off, len, end;

	mi->entry = boot_get32(h + 28);
	/* section 3.1.3: the file offset of load_addr is header_offset - (header_addr -
	 * load_addr); load_end_addr 0 means "to the end of the file" */
	if (load_addr > header_addr || header_addr - load_addr > mi->header_offset)
		return boot_fail(err, err_len, -EINVAL,
				 "multiboot: load_addr 0x%x / header_addr 0x%x put the load "
				 "before the file",
				 load_addr, header_addr);
	off = mi->header_offset - (header_addr - load_addr);
	if (load_end) {
		if (load_end <= load_addr)
			return boot_fail(err, err_len, -EINVAL,
					 "multiboot: load_end_addr 0x%x <= load_addr 0x%x",
					 load_end, load_addr);
		len = load_end - load_addr;
		if (len > size - off)
			return boot_fail(err, err_len, -EINVAL,
					 "multiboot: truncated: load_end_addr needs 0x%llx bytes "
					 "from offset 0x%llx, the file has %zu",
					 (unsigned long long)len, (unsigned long long)off, size);
	} else {
		len = size - off;
	}
	end = (uint64_t)load_addr + len;
	if (bss_end && bss_end < end)
		return boot_fail(err, err_len, -EINVAL,
				 "multiboot: bss_end_addr 0x%x below the loaded end 0x%llx",
				 bss_end, (unsigned long long)end);
	seg->paddr = seg->vaddr = load_addr;
	seg->offset = off;
	seg->filesz = len;
	seg->memsz = bss_end ? bss_end - (uint64_t)load_addr : len;
	mi->aout_kludge = 1;
	return 1;
}

static int elf_segments(const uint8_t *b, size_t size, struct virq_multiboot_info *mi,
			struct mb_seg *seg, uint64_t *entry, char *err, size_t err_len)
{
	unsigned int cls, phentsize, phnum, n = 0;
	uint64_t phoff;

	if (size < 52 || memcmp(b, "\177ELF", 4))
		return boot_fail(err, err_len, -ENOEXEC,
				 "multiboot: no address fields (flag 16) and not an ELF file");
	cls = b[4];
	if ((cls != 1 && cls != 2) || b[5] != 1)
		return boot_fail(err, err_len, -ENOEXEC,
				 "multiboot: ELF class %u data %u: only little-endian ELF32/64",
				 cls, b[5]);
	if (cls == 2 && size < 64)
		return boot_fail(err, err_len, -EINVAL, "multiboot: truncated ELF64 header");
	if (boot_get16(b + 16) != ET_EXEC ||
	    (boot_get16(b + 18) != EM_386 && boot_get16(b + 18) != EM_X86_64))
		return boot_fail(err, err_len, -ENOEXEC,
				 "multiboot: ELF type %u machine %u: need an x86 executable",
				 boot_get16(b + 16), boot_get16(b + 18));
	if (cls == 1) {
		*entry = boot_get32(b + 24);
		phoff = boot_get32(b + 28);
		phentsize = boot_get16(b + 42);
		phnum = boot_get16(b + 44);
	} else {
		*entry = boot_get64(b + 24);
		phoff = boot_get64(b + 32);
		phentsize = boot_get16(b + 54);
		phnum = boot_get16(b + 56);
	}
	mi->elf_class = (int)cls;
	if (phentsize < (cls == 1 ? ELF32_PHDR : ELF64_PHDR))
		return boot_fail(err, err_len, -EINVAL, "multiboot: ELF phentsize %u too small",
				 phentsize);
	if (!phnum || phoff > size || (uint64_t)phnum * phentsize > size - phoff)
		return boot_fail(err, err_len, -EINVAL,
				 "multiboot: ELF program headers (%u at 0x%llx) beyond the file",
				 phnum, (unsigned long long)phoff);
	for (unsigned int i = 0; i < phnum; i++) {
		const uint8_t *ph = b + phoff + (uint64_t)i * phentsize;
		struct mb_seg s;

		if (boot_get32(ph) != PT_LOAD)
			continue;
		if (cls == 1) {
			s.offset = boot_get32(ph + 4);
			s.vaddr = boot_get32(ph + 8);
			s.paddr = boot_get32(ph + 12);
			s.filesz = boot_get32(ph + 16);
			s.memsz = boot_get32(ph + 20);
		} else {
			s.offset = boot_get64(ph + 8);
			s.vaddr = boot_get64(ph + 16);
			s.paddr = boot_get64(ph + 24);
			s.filesz = boot_get64(ph + 32);
			s.memsz = boot_get64(ph + 40);
		}
		if (!s.memsz)
			continue;
		if (n >= VIRQ_MULTIBOOT_MAX_SEGMENTS)
			return boot_fail(err, err_len, -E2BIG,
					 "multiboot: more than %d PT_LOAD segments",
					 VIRQ_MULTIBOOT_MAX_SEGMENTS);
		if (s.filesz > s.memsz)
			return boot_fail(err, err_len, -EINVAL,
					 "multiboot: segment %u: filesz 0x%llx > memsz 0x%llx", i,
					 (unsigned long long)s.filesz, (unsigned long long)s.memsz);
		if (s.offset > size || s.filesz > size - s.offset)
			return boot_fail(err, err_len, -EINVAL,
					 "multiboot: truncated: segment %u (0x%llx bytes at offset "
					 "0x%llx) beyond the file (%zu bytes)",
					 i, (unsigned long long)s.filesz,
					 (unsigned long long)s.offset, size);
		seg[n++] = s;
	}
	if (!n)
		return boot_fail(err, err_len, -EINVAL, "multiboot: ELF without PT_LOAD segments");
	return (int)n;
}

/* Parse into `seg` (VIRQ_MULTIBOOT_MAX_SEGMENTS entries); returns the count or -errno. */
static int mb_parse(const uint8_t *b, size_t size, const struct virq_boot_mem *mem,
		    struct virq_multiboot_info *mi, struct mb_seg *seg, char *err, size_t err_len)
{
	uint64_t entry = 0, lo = UINT64_MAX, hi = 0;
	int n, rc;
	bool in = false;
	const char *why;

	if (!b || !mi)
		return boot_fail(err, err_len, -EINVAL, "multiboot: no image");
	memset(mi, 0, sizeof(*mi));
	rc = find_header(b, size, mi, err, err_len);
	if (rc)
		return rc;
	if (mi->flags & VIRQ_MULTIBOOT_AOUT_KLUDGE) {
		n = aout_segments(b, size, mi, seg, err, err_len);
		entry = mi->entry;
	} else {
		n = elf_segments(b, size, mi, seg, &entry, err, err_len);
		/* A higher-half kernel's virtual entry: translate through its segment. */
		for (int i = 0; n > 0 && i < n; i++)
			if (entry >= seg[i].vaddr && entry - seg[i].vaddr < seg[i].memsz) {
				entry = seg[i].paddr + (entry - seg[i].vaddr);
				break;
			}
	}
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		uint64_t end;

		if (__builtin_add_overflow(seg[i].paddr, seg[i].memsz, &end) || end > (1ull << 32))
			return boot_fail(err, err_len, -ERANGE,
					 "multiboot: segment at 0x%llx (0x%llx bytes) above 4 GiB",
					 (unsigned long long)seg[i].paddr,
					 (unsigned long long)seg[i].memsz);
		for (int j = 0; j < i; j++)
			if (boot_overlap(seg[i].paddr, seg[i].memsz, seg[j].paddr, seg[j].memsz))
				return boot_fail(err, err_len, -EINVAL,
						 "multiboot: segments at 0x%llx and 0x%llx overlap",
						 (unsigned long long)seg[j].paddr,
						 (unsigned long long)seg[i].paddr);
		if (mem && !boot_usable(mem, seg[i].paddr, seg[i].memsz, &why))
			return boot_fail(err, err_len, -ERANGE,
					 "multiboot: segment at 0x%llx (0x%llx bytes) is %s (RAM "
					 "0x%llx)",
					 (unsigned long long)seg[i].paddr,
					 (unsigned long long)seg[i].memsz, why,
					 (unsigned long long)mem->size);
		if (seg[i].paddr < lo)
			lo = seg[i].paddr;
		if (end > hi)
			hi = end;
		if (entry >= seg[i].paddr && entry < end)
			in = true;
	}
	if (!in)
		return boot_fail(err, err_len, -EINVAL,
				 "multiboot: entry 0x%llx outside every loaded segment",
				 (unsigned long long)entry);
	mi->entry = (uint32_t)entry;
	mi->load_start = lo;
	mi->load_end = hi;
	mi->n_segments = (size_t)n;
	return n;
}

int virq_multiboot_parse(const void *image, size_t size, const struct virq_boot_mem *mem,
			 struct virq_multiboot_info *info, char *err, size_t err_len)
{
	struct mb_seg seg[VIRQ_MULTIBOOT_MAX_SEGMENTS];
	int n = mb_parse(image, size, mem, info, seg, err, err_len);

	return n < 0 ? n : 0;
}

/* The lowest page-aligned address >= from where `len` bytes are usable; 0 if none. */
static uint64_t place_low(const struct virq_boot_mem *mem, uint64_t from, uint64_t len)
{
	uint64_t a = boot_page_up(from), e;
	const char *why;

	for (size_t guard = 0; guard < mem->n_reserved + 4; guard++) {
		if (boot_usable(mem, a, len, &why))
			return a;
		e = boot_conflict_end(mem, a, len);
		if (!e)
			return 0; /* out of RAM */
		a = boot_page_up(e);
	}
	return 0;
}

static size_t str_len(const char *s)
{
	return s ? strnlen(s, MB_STR_MAX) : 0;
}

int virq_multiboot_load(const struct virq_boot_mem *mem, const struct virq_multiboot_params *p,
			struct virq_boot_entry *entry, char *err, size_t err_len)
{
	struct mb_seg seg[VIRQ_MULTIBOOT_MAX_SEGMENTS];
	struct virq_e820_entry defmap[16];
	const struct virq_e820_entry *map;
	struct virq_multiboot_info mi;
	struct boot_plan pl = { .n = 0 };
	struct virq_e820_config ec = { 0 };
	const char *name;
	size_t n_map, name_len, app_len, info_len, mods_off, mmap_off, lname_off, cmd_off, str_off;
	size_t str_total = 0;
	uint64_t cursor, mod_at[VIRQ_MULTIBOOT_MAX_MODULES], info_at;
	uint32_t lower, upper;
	uint8_t *ib;
	int n, rc;

	if (!mem || !p || !entry || !mem->host)
		return boot_fail(err, err_len, -EINVAL, "multiboot: missing argument");
	n = mb_parse(p->kernel, p->kernel_size, mem, &mi, seg, err, err_len);
	if (n < 0)
		return n;
	if (p->n_modules > VIRQ_MULTIBOOT_MAX_MODULES || (p->n_modules && !p->modules))
		return boot_fail(err, err_len, -E2BIG, "multiboot: %zu modules, at most %d",
				 p->n_modules, VIRQ_MULTIBOOT_MAX_MODULES);
	map = p->e820;
	n_map = p->n_e820;
	if (!map || !n_map) {
		ec.ram_size = mem->size;
		if (virq_e820_build(&ec, defmap, 16, &n_map))
			return boot_fail(err, err_len, -EINVAL,
					 "multiboot: no memory map for RAM "
					 "0x%llx",
					 (unsigned long long)mem->size);
		map = defmap;
	}
	if (n_map > VIRQ_E820_MAX)
		return boot_fail(err, err_len, -E2BIG, "multiboot: %zu e820 entries", n_map);

	/* Strings: each bounded; a longer one is refused, never cut silently. */
	name = p->name ? p->name : "kernel";
	name_len = str_len(name);
	app_len = str_len(p->append);
	if (name_len >= MB_STR_MAX || app_len >= MB_STR_MAX)
		return boot_fail(err, err_len, -E2BIG, "multiboot: command line over %d bytes",
				 MB_STR_MAX);
	for (size_t i = 0; i < p->n_modules; i++) {
		size_t l = str_len(p->modules[i].cmdline);

		if (l >= MB_STR_MAX)
			return boot_fail(err, err_len, -E2BIG,
					 "multiboot: module %zu string over %d bytes", i + 1,
					 MB_STR_MAX);
		if (p->modules[i].size && !p->modules[i].data)
			return boot_fail(err, err_len, -EINVAL, "multiboot: module %zu has no data",
					 i + 1);
		str_total += l + 1;
	}
	mods_off = VIRQ_MBI_SIZE;
	mmap_off = mods_off + 16 * p->n_modules;
	lname_off = mmap_off + 24 * n_map;
	cmd_off = lname_off + sizeof(VIRQ_MULTIBOOT_LOADER_NAME);
	str_off = cmd_off + name_len + 1 + app_len + 1;
	info_len = str_off + str_total;
	if (info_len > VIRQ_MULTIBOOT_MAX_INFO)
		return boot_fail(err, err_len, -E2BIG, "multiboot: info block of %zu bytes",
				 info_len);

	for (int i = 0; i < n; i++) {
		rc = boot_plan_add(&pl, "segment", seg[i].paddr,
				   (const uint8_t *)p->kernel + seg[i].offset, seg[i].filesz,
				   seg[i].memsz - seg[i].filesz, seg[i].memsz, err, err_len);
		if (rc)
			return rc;
	}
	/* Modules one after the other, page aligned (flag 0 asks for it; we always do). */
	cursor = mi.load_end;
	for (size_t i = 0; i < p->n_modules; i++) {
		uint64_t len = p->modules[i].size ? p->modules[i].size : 1;

		mod_at[i] = place_low(mem, cursor, len);
		if (!mod_at[i] || mod_at[i] + p->modules[i].size > (1ull << 32))
			return boot_fail(
				err, err_len, -E2BIG,
				"multiboot: no room for module %zu (%zu bytes) above 0x%llx", i + 1,
				p->modules[i].size, (unsigned long long)cursor);
		rc = boot_plan_add(&pl, "module", mod_at[i], p->modules[i].data, p->modules[i].size,
				   0, p->modules[i].size, err, err_len);
		if (rc)
			return rc;
		cursor = mod_at[i] + p->modules[i].size;
	}
	info_at = place_low(mem, cursor, info_len);
	if (!info_at || info_at + info_len > (1ull << 32))
		return boot_fail(err, err_len, -E2BIG,
				 "multiboot: no room for the %zu-byte info block above 0x%llx",
				 info_len, (unsigned long long)cursor);
	ib = calloc(1, info_len);
	if (!ib)
		return boot_fail(err, err_len, -ENOMEM, "multiboot: out of memory");
	rc = boot_plan_add(&pl, "info block", info_at, ib, info_len, 0, info_len, err, err_len);
	if (!rc)
		rc = boot_plan_check(mem, &pl, err, err_len);
	if (rc)
		goto out;

	/* Section 3.3, "Boot information format". */
	virq_e820_lower_upper(map, n_map, &lower, &upper);
	boot_put32(ib + 0, VIRQ_MBI_MEMORY | VIRQ_MBI_CMDLINE | VIRQ_MBI_MODS | VIRQ_MBI_MMAP |
				   VIRQ_MBI_LOADER_NAME);
	boot_put32(ib + 4, lower);
	boot_put32(ib + 8, upper);
	boot_put32(ib + 16, (uint32_t)(info_at + cmd_off));
	boot_put32(ib + 20, (uint32_t)p->n_modules);
	boot_put32(ib + 24, (uint32_t)(info_at + mods_off));
	boot_put32(ib + 44, (uint32_t)(24 * n_map));
	boot_put32(ib + 48, (uint32_t)(info_at + mmap_off));
	boot_put32(ib + 64, (uint32_t)(info_at + lname_off));
	for (size_t i = 0; i < n_map; i++) {
		uint8_t *e = ib + mmap_off + 24 * i;

		boot_put32(e, 20); /* size of the entry after this field */
		boot_put64(e + 4, map[i].addr);
		boot_put64(e + 12, map[i].size);
		boot_put32(e + 20, map[i].type);
	}
	memcpy(ib + lname_off, VIRQ_MULTIBOOT_LOADER_NAME, sizeof(VIRQ_MULTIBOOT_LOADER_NAME));
	memcpy(ib + cmd_off, name, name_len);
	if (app_len) {
		ib[cmd_off + name_len] = ' ';
		memcpy(ib + cmd_off + name_len + 1, p->append, app_len);
	}
	/* calloc'd: the string is NUL-terminated whatever its length */
	for (size_t i = 0, o = str_off; i < p->n_modules; i++) {
		uint8_t *m = ib + mods_off + 16 * i;
		size_t l = str_len(p->modules[i].cmdline);

		boot_put32(m, (uint32_t)mod_at[i]);
		boot_put32(m + 4, (uint32_t)(mod_at[i] + p->modules[i].size));
		boot_put32(m + 8, (uint32_t)(info_at + o));
		if (l)
			memcpy(ib + o, p->modules[i].cmdline, l);
		o += l + 1;
	}
	boot_plan_run(mem, &pl);

	memset(entry, 0, sizeof(*entry));
	entry->mode = VIRQ_BOOT_MULTIBOOT;
	entry->rip = mi.entry;
	entry->eax = VIRQ_MULTIBOOT_BOOTLOADER_MAGIC;
	entry->ebx = (uint32_t)info_at;
	entry->kernel_start = mi.load_start;
	entry->kernel_end = mi.load_end;
	if (p->n_modules) {
		entry->initrd_start = mod_at[0];
		entry->initrd_size = p->modules[0].size;
	}
	entry->boot_params = info_at;
	entry->cmdline = info_at + cmd_off;
	entry->top = info_at + info_len;
out:
	free(ib);
	return rc;
}
