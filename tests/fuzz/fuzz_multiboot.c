// SPDX-License-Identifier: MIT
/*
 * Fuzz the Multiboot v1 loader: any input is a kernel image (its first 64 bytes also
 * module 1). Either it loads with EAX/EBX, an info block and a command line where the
 * spec wants them, or it fails with a message and guest RAM untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virq/boot.h"

#define RAM (4u << 20)
#define FILL 0xa5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *ram;

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virq_boot_range res[] = { { 3u << 20, 0x10000 } };
	struct virq_boot_mem m = { .size = RAM, .reserved = res, .n_reserved = 1 };
	const struct virq_multiboot_module mod = { data, size < 64 ? size : 64, "initrd" };
	struct virq_multiboot_params p = { .kernel = data,
					   .kernel_size = size,
					   .name = "k.elf",
					   .append = "a b",
					   .modules = &mod,
					   .n_modules = 1 };
	struct virq_multiboot_info mi;
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN] = "";
	static uint8_t fill[4096];
	const uint8_t *ib;
	uint32_t mod_at;
	int rc;

	if (!ram) {
		ram = malloc(RAM);
		if (!ram)
			abort();
		memset(ram, FILL, RAM);
		memset(fill, FILL, sizeof(fill));
	}
	m.host = ram;
	rc = virq_multiboot_load(&m, &p, &e, err, sizeof(err));
	if (rc) {
		if (rc > 0 || !err[0])
			abort();
		for (size_t i = 0; i < RAM; i += sizeof(fill))
			if (memcmp(ram + i, fill, sizeof(fill)))
				abort();
		return 0;
	}
	if (virq_multiboot_parse(data, size, &m, &mi, NULL, 0) || mi.entry != e.rip)
		abort();
	if (e.eax != 0x2badb002 || e.ebx & 0xfff || e.ebx + VIRQ_MBI_SIZE > RAM ||
	    e.rip < e.kernel_start || e.rip >= e.kernel_end || e.kernel_end > RAM)
		abort();
	ib = ram + e.ebx;
	if (get32(ib + 16) != e.cmdline || strcmp((const char *)ram + e.cmdline, "k.elf a b") ||
	    get32(ib + 20) != 1 || (get32(ram + get32(ib + 24)) & 0xfff) ||
	    get32(ram + get32(ib + 24)) < e.kernel_end ||
	    memcmp(ram + get32(ram + get32(ib + 24)), mod.data, mod.size))
		abort();
	/* nothing the loader placed itself lands on the reserved range */
	mod_at = get32(ram + get32(ib + 24));
	if (e.top > RAM || (e.ebx < (3u << 20) + 0x10000 && e.top > (3u << 20)) ||
	    (mod_at < (3u << 20) + 0x10000 && mod_at + mod.size > (3u << 20)))
		abort();
	memset(ram, FILL, RAM);
	return 0;
}
