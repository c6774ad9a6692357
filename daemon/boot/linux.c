// SPDX-License-Identifier: MIT
/*
 * Linux x86 boot protocol loader (Documentation/arch/x86/boot.rst). We enter the kernel
 * past its real-mode setup, at the 32-bit or 64-bit entry, as kvmtool and QEMU's
 * linuxboot do: the setup code is not loaded, its header goes into the zero page.
 */
#include <errno.h>

#include "boot_internal.h"

int virq_linux_parse(const void *image, size_t size, struct virq_linux_info *info, char *err,
		     size_t err_len)
{
	const uint8_t *b = image;
	uint32_t hdr_end;

	if (!image || !info)
		return boot_fail(err, err_len, -EINVAL, "bzImage: no image");
	memset(info, 0, sizeof(*info));
	/* boot_flag, the "HdrS" magic and the version must all be readable */
	if (size < VIRQ_LINUX_VERSION + 2)
		return boot_fail(err, err_len, -EINVAL,
				 "bzImage: truncated: %zu bytes, the setup header needs %d", size,
				 VIRQ_LINUX_VERSION + 2);
	if (boot_get16(b + VIRQ_LINUX_BOOT_FLAG) != VIRQ_LINUX_BOOT_FLAG_MAGIC)
		return boot_fail(err, err_len, -ENOEXEC,
				 "bzImage: boot_flag is 0x%04x, not 0xaa55: not a Linux kernel",
				 boot_get16(b + VIRQ_LINUX_BOOT_FLAG));
	if (boot_get32(b + VIRQ_LINUX_HEADER) != VIRQ_LINUX_HDRS_MAGIC)
		return boot_fail(err, err_len, -ENOEXEC,
				 "bzImage: no \"HdrS\" magic at 0x202: boot protocol before 2.00");
	info->version = boot_get16(b + VIRQ_LINUX_VERSION);
	if (info->version < VIRQ_LINUX_MIN_VERSION)
		return boot_fail(err, err_len, -ENOEXEC,
				 "bzImage: boot protocol %u.%02u, we need 2.06 or later",
				 info->version >> 8, info->version & 0xff);
	/* The header ends at 0x202 + the jump's displacement byte (boot.rst "Details of
	 * Header Fields"); fields past what the kernel's version defines are not read. */
	hdr_end = 0x202u + b[VIRQ_LINUX_JUMP + 1];
	if (hdr_end > VIRQ_LINUX_HDR_END_MAX)
		hdr_end = VIRQ_LINUX_HDR_END_MAX;
	if (hdr_end < VIRQ_LINUX_CMDLINE_SIZE + 4)
		return boot_fail(err, err_len, -EINVAL,
				 "bzImage: setup header ends at 0x%x, before cmdline_size (2.06)",
				 hdr_end);
	if (hdr_end > size)
		return boot_fail(err, err_len, -EINVAL,
				 "bzImage: setup header ends at 0x%x, beyond the file (%zu bytes)",
				 hdr_end, size);
	info->hdr_end = hdr_end;
	info->setup_sects = b[VIRQ_LINUX_SETUP_SECTS];
	if (!info->setup_sects) /* boot.rst: "if this field is 0, the real value is 4" */
		info->setup_sects = 4;
	info->setup_size = ((uint64_t)info->setup_sects + 1) * 512;
	/* >= 1024 bytes: the header (< 0x290) is always inside the setup */
	if (info->setup_size >= size)
		return boot_fail(err, err_len, -EINVAL,
				 "bzImage: truncated: setup is %llu bytes, file %zu: no kernel",
				 (unsigned long long)info->setup_size, size);
	info->kernel_size = size - info->setup_size;
	info->loadflags = b[VIRQ_LINUX_LOADFLAGS];
	if (!(info->loadflags & VIRQ_LINUX_LOADED_HIGH))
		return boot_fail(
			err, err_len, -ENOEXEC,
			"bzImage: LOADED_HIGH clear: a zImage (loaded at 0x10000), refused");
	info->code32_start = boot_get32(b + VIRQ_LINUX_CODE32_START);
	info->initrd_addr_max = boot_get32(b + VIRQ_LINUX_INITRD_ADDR_MAX);
	info->cmdline_size = boot_get32(b + VIRQ_LINUX_CMDLINE_SIZE);
	info->kernel_alignment = boot_get32(b + VIRQ_LINUX_KERNEL_ALIGNMENT);
	info->relocatable = b[VIRQ_LINUX_RELOCATABLE];
	if (info->version >= 0x020c && hdr_end >= VIRQ_LINUX_XLOADFLAGS + 2)
		info->xloadflags = boot_get16(b + VIRQ_LINUX_XLOADFLAGS);
	if (info->version >= 0x020a && hdr_end >= VIRQ_LINUX_INIT_SIZE + 4) {
		info->pref_address = boot_get64(b + VIRQ_LINUX_PREF_ADDRESS);
		info->init_size = boot_get32(b + VIRQ_LINUX_INIT_SIZE);
	}
	return 0;
}

/* Where the kernel proper goes: pref_address when the kernel may be relocated there
 * (boot.rst: pref_address "if it can't be loaded there, it is relocated"), else 1 MiB. */
static uint64_t kernel_load_addr(const struct virq_boot_mem *mem, const struct virq_linux_info *li,
				 uint64_t claim)
{
	const char *why;
	uint64_t a = li->pref_address;

	if (li->relocatable && a && a != VIRQ_LINUX_LOAD_DEFAULT && a < (1ull << 32) &&
	    (!li->kernel_alignment || !(a & (li->kernel_alignment - 1))) &&
	    boot_usable(mem, a, claim, &why))
		return a;
	return VIRQ_LINUX_LOAD_DEFAULT;
}

/* The highest page-aligned start for `size` bytes with the last byte <= max_last, not
 * below `floor`, clear of the obstacles and of [avoid, avoid + avoid_len). 0: none. */
static uint64_t place_high(const struct virq_boot_mem *mem, uint64_t size, uint64_t max_last,
			   uint64_t floor, uint64_t avoid, uint64_t avoid_len)
{
	uint64_t top = mem->size, a, s;

	if (max_last < UINT64_MAX && max_last + 1 < top)
		top = max_last + 1;
	for (size_t guard = 0; guard < 2 * (mem->n_reserved + 4); guard++) {
		if (top < size || top - size < floor)
			return 0;
		a = (top - size) & ~(BOOT_PAGE - 1);
		if (a < floor)
			return 0;
		if (boot_overlap(a, size, avoid, avoid_len)) {
			top = avoid;
			continue;
		}
		if (!boot_conflict_start(mem, a, size, &s))
			return a;
		top = s;
	}
	return 0;
}

int virq_linux_load(const struct virq_boot_mem *mem, const struct virq_linux_params *p,
		    struct virq_boot_entry *entry, char *err, size_t err_len)
{
	struct virq_linux_info li;
	static const char empty[] = "";
	uint8_t bp[VIRQ_LINUX_BP_SIZE];
	struct boot_plan pl = { .n = 0 };
	const uint8_t *img;
	const char *cmd;
	uint64_t load, claim, zp, cl, initrd = 0, max_last, top = 0;
	size_t cmdlen;
	uint32_t max_cmd;
	int rc;

	if (!mem || !p || !entry)
		return boot_fail(err, err_len, -EINVAL, "bzImage: missing argument");
	rc = virq_linux_parse(p->kernel, p->kernel_size, &li, err, err_len);
	if (rc)
		return rc;
	img = p->kernel;
	if (p->n_e820 > VIRQ_E820_MAX || (p->n_e820 && !p->e820))
		return boot_fail(err, err_len, -E2BIG, "bzImage: %zu e820 entries, at most %d",
				 p->n_e820, VIRQ_E820_MAX);
	if (p->initrd_size && !p->initrd)
		return boot_fail(err, err_len, -EINVAL, "bzImage: initrd size without data");
	cmd = p->cmdline ? p->cmdline : empty;
	max_cmd =
		li.cmdline_size < VIRQ_LINUX_CMDLINE_MAX ? li.cmdline_size : VIRQ_LINUX_CMDLINE_MAX;
	cmdlen = strnlen(cmd, (size_t)max_cmd + 1);
	if (cmdlen > max_cmd)
		return boot_fail(err, err_len, -E2BIG,
				 "bzImage: command line longer than the kernel's cmdline_size %u",
				 max_cmd);

	/* The kernel owns init_size bytes from its load address (its decompressor works
	 * there) — at least the file's protected-mode part. */
	claim = li.init_size > li.kernel_size ? li.init_size : li.kernel_size;
	load = kernel_load_addr(mem, &li, claim);
	zp = p->zero_page ? p->zero_page : VIRQ_LINUX_ZERO_PAGE_DEFAULT;
	cl = p->cmdline_addr ? p->cmdline_addr : VIRQ_LINUX_CMDLINE_DEFAULT;
	if (zp & (BOOT_PAGE - 1) || zp >= (1ull << 32) || cl >= (1ull << 32) - cmdlen - 1)
		return boot_fail(err, err_len, -EINVAL,
				 "bzImage: zero page 0x%llx or command line 0x%llx misplaced",
				 (unsigned long long)zp, (unsigned long long)cl);
	rc = boot_plan_add(&pl, "kernel", load, img + li.setup_size, li.kernel_size, 0, claim, err,
			   err_len);
	if (!rc)
		rc = boot_plan_add(&pl, "zero page", zp, bp, sizeof(bp), 0, sizeof(bp), err,
				   err_len);
	if (!rc)
		rc = boot_plan_add(&pl, "command line", cl, cmd, cmdlen, 1, cmdlen + 1, err,
				   err_len);
	if (rc)
		return rc;
	if (p->initrd_size) {
		/* boot.rst: before 2.03 the maximum is 0x37FFFFFF; we need 2.06 anyway */
		max_last = li.initrd_addr_max ? li.initrd_addr_max : 0x37ffffff;
		if (p->initrd_size > UINT32_MAX)
			return boot_fail(err, err_len, -E2BIG, "bzImage: initrd of %zu bytes",
					 p->initrd_size);
		initrd = place_high(mem, p->initrd_size, max_last, load + claim, 0, 0);
		if (!initrd)
			return boot_fail(
				err, err_len, -E2BIG,
				"bzImage: no room for a %zu-byte initrd between the kernel "
				"end 0x%llx and min(initrd_addr_max 0x%llx, RAM top 0x%llx)",
				p->initrd_size, (unsigned long long)(load + claim),
				(unsigned long long)max_last, (unsigned long long)mem->size);
		rc = boot_plan_add(&pl, "initrd", initrd, p->initrd, p->initrd_size, 0,
				   p->initrd_size, err, err_len);
		if (rc)
			return rc;
	}
	rc = boot_plan_check(mem, &pl, err, err_len);
	if (rc)
		return rc;
	if (load + li.kernel_size > (1ull << 32))
		return boot_fail(err, err_len, -ERANGE, "bzImage: kernel above 4 GiB");

	/* The zero page: all zero but the setup header (boot.rst "64-bit Boot Protocol":
	 * "the setup header at offset 0x01f1 of bzImage ... copied into boot_params"). */
	memset(bp, 0, sizeof(bp));
	memcpy(bp + VIRQ_LINUX_SETUP_SECTS, img + VIRQ_LINUX_SETUP_SECTS,
	       li.hdr_end - VIRQ_LINUX_SETUP_SECTS);
	bp[VIRQ_LINUX_TYPE_OF_LOADER] = VIRQ_LINUX_TYPE_OF_LOADER_UNDEF;
	bp[VIRQ_LINUX_LOADFLAGS] =
		(uint8_t)((li.loadflags | VIRQ_LINUX_CAN_USE_HEAP) & ~VIRQ_LINUX_KEEP_SEGMENTS);
	boot_put16(bp + VIRQ_LINUX_HEAP_END_PTR, VIRQ_LINUX_HEAP_END);
	boot_put16(bp + VIRQ_LINUX_VID_MODE, VIRQ_LINUX_VID_MODE_NORMAL);
	boot_put32(bp + VIRQ_LINUX_CODE32_START, (uint32_t)load);
	boot_put32(bp + VIRQ_LINUX_CMD_LINE_PTR, (uint32_t)cl);
	boot_put32(bp + VIRQ_LINUX_RAMDISK_IMAGE, (uint32_t)initrd);
	boot_put32(bp + VIRQ_LINUX_RAMDISK_SIZE, (uint32_t)p->initrd_size);
	bp[VIRQ_LINUX_BP_E820_ENTRIES] = (uint8_t)p->n_e820;
	for (size_t i = 0; i < p->n_e820; i++) {
		uint8_t *e = bp + VIRQ_LINUX_BP_E820_TABLE + 20 * i;

		boot_put64(e, p->e820[i].addr);
		boot_put64(e + 8, p->e820[i].size);
		boot_put32(e + 16, p->e820[i].type);
	}
	boot_plan_run(mem, &pl);

	for (size_t i = 0; i < pl.n; i++)
		if (pl.op[i].gpa + pl.op[i].claim > top)
			top = pl.op[i].gpa + pl.op[i].claim;
	memset(entry, 0, sizeof(*entry));
	if ((li.xloadflags & VIRQ_LINUX_XLF_KERNEL_64) && !p->force_32bit) {
		entry->mode = VIRQ_BOOT_LINUX64;
		entry->rip = load + VIRQ_LINUX_ENTRY64_OFFSET;
	} else {
		entry->mode = VIRQ_BOOT_LINUX32;
		entry->rip = load;
	}
	entry->rsi = zp;
	entry->kernel_start = load;
	entry->kernel_end = load + claim;
	entry->initrd_start = initrd;
	entry->initrd_size = p->initrd_size;
	entry->boot_params = zp;
	entry->cmdline = cl;
	entry->top = top;
	return 0;
}
