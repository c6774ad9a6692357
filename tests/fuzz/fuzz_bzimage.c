// SPDX-License-Identifier: MIT
/*
 * Fuzz the Linux boot protocol loader: any input is a bzImage (its last 256 bytes also the
 * initrd). Either the load succeeds with an entry, zero page, command line and initrd that
 * are where the protocol wants them, or it fails with a message and guest RAM untouched.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virq/boot.h"

#define RAM (8u << 20)
#define FILL 0xa5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *ram;

/* Nothing written: a refused image leaves every byte as it was. */
static int untouched(void)
{
	static uint8_t fill[4096];

	if (!fill[0])
		memset(fill, FILL, sizeof(fill));
	for (size_t i = 0; i < RAM; i += sizeof(fill))
		if (memcmp(ram + i, fill, sizeof(fill)))
			return 0;
	return 1;
}

static void reset(void)
{
	memset(ram, FILL, RAM);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct virq_e820_entry e820[] = { { 0, 0x9fc00, 1 }, { 1 << 20, RAM, 1 } };
	struct virq_boot_range res[] = { { 6u << 20, 1u << 20 } };
	struct virq_boot_mem m = { .size = RAM, .reserved = res, .n_reserved = 1 };
	size_t isz = size < 256 ? size : 256;
	struct virq_linux_params p = { .kernel = data,
				       .kernel_size = size,
				       .initrd = data + size - isz,
				       .initrd_size = isz,
				       .cmdline = "console=ttyS0",
				       .e820 = e820,
				       .n_e820 = 2,
				       .force_32bit = size & 1 };
	struct virq_linux_info li;
	struct virq_boot_entry e;
	char err[VIRQ_BOOT_ERR_LEN] = "";
	int rc;

	if (!ram) {
		ram = malloc(RAM);
		if (!ram)
			abort();
		reset();
	}
	m.host = ram;
	rc = virq_linux_load(&m, &p, &e, err, sizeof(err));
	if (rc) {
		/* -ENOEXEC only for what the parser refuses */
		if (rc > 0 || !err[0] ||
		    (rc == -ENOEXEC && !virq_linux_parse(data, size, &li, NULL, 0)))
			abort();
		if (!untouched())
			abort();
		return 0;
	}
	if (virq_linux_parse(data, size, &li, NULL, 0))
		abort();
	if (e.rip != e.kernel_start &&
	    !(e.mode == VIRQ_BOOT_LINUX64 && e.rip == e.kernel_start + 0x200))
		abort();
	if (e.kernel_end > RAM ||
	    memcmp(ram + e.kernel_start, data + li.setup_size, li.kernel_size))
		abort();
	if (ram[e.boot_params + 0x1fe] != 0x55 || ram[e.boot_params + 0x1ff] != 0xaa ||
	    ram[e.boot_params + 0x210] != 0xff || strcmp((char *)ram + e.cmdline, "console=ttyS0"))
		abort();
	if (e.initrd_start & 0xfff || e.initrd_start < e.kernel_end || e.initrd_start + isz > RAM ||
	    e.initrd_start + isz - 1 > (li.initrd_addr_max ? li.initrd_addr_max : 0x37ffffff) ||
	    (e.initrd_start < (7u << 20) && e.initrd_start + isz > (6u << 20)) ||
	    memcmp(ram + e.initrd_start, p.initrd, isz))
		abort();
	reset();
	return 0;
}
