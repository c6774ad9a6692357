/* SPDX-License-Identifier: MIT */
/*
 * virq: guest kernel loaders (Linux x86 boot protocol, Multiboot v1) and the e820 map.
 *
 * Pure functions: they parse an image held in memory and write into a caller-provided
 * guest-RAM buffer. No ioctl, no global state, no allocation beyond a bounded scratch
 * buffer; callable from any thread on distinct buffers.
 *
 * Every loader validates the whole plan (every copy, every placement, every range
 * against guest RAM and the reserved ranges) before it writes the first byte: on failure
 * the guest buffer is untouched, so the VMM can refuse an image without leaving a VM
 * behind. Failures return -errno and, when `err` is not NULL, a NUL-terminated message:
 *   -ENOEXEC  not an image of this format (wrong magic, unsupported protocol/version)
 *   -EINVAL   malformed image (truncated, header beyond the file, inconsistent fields,
 *             overlapping segments) or bad arguments
 *   -ERANGE   something would land outside guest RAM, over a reserved range or over the
 *             legacy hole [VIRQ_BOOT_HOLE_START, VIRQ_BOOT_HOLE_END)
 *   -E2BIG    absurd sizes (too many segments, command line too long, no room)
 */
#ifndef VIRQ_BOOT_H
#define VIRQ_BOOT_H

#include <stddef.h>
#include <stdint.h>

#define VIRQ_BOOT_ERR_LEN 160 /* a message buffer of this size is never truncated */

/* The ISA hole: VGA memory (0xA0000) up to the BIOS ROM's end (0xFFFFF); loaders never
 * place anything there. The EBDA below it is the e820 builder's business. */
#define VIRQ_BOOT_HOLE_START 0xa0000ull
#define VIRQ_BOOT_HOLE_END 0x100000ull

struct virq_boot_range {
	uint64_t start;
	uint64_t size;
};

/*
 * Guest RAM as the loaders see it: guest-physical [0, size) mapped at `host`. RAM above
 * 4 GiB (past the PCI hole) is not described here: loaders place everything below 4 GiB.
 * `reserved` lists guest-physical ranges a loader must not write (firmware tables, the
 * VMM's own pages); the ACPI builder writes into its window regardless.
 */
struct virq_boot_mem {
	uint8_t *host;
	uint64_t size;
	const struct virq_boot_range *reserved;
	size_t n_reserved;
};

/* ---- e820 (ACPI 6.3 chapter 15, "System Address Map Interfaces") ------------------- */
#define VIRQ_E820_RAM 1
#define VIRQ_E820_RESERVED 2
#define VIRQ_E820_ACPI 3 /* ACPI reclaimable */
#define VIRQ_E820_NVS 4
#define VIRQ_E820_MAX 128 /* the zero page's e820_table[] (boot.rst, E820MAX) */

#define VIRQ_E820_EBDA_START 0x9fc00ull /* 1 KiB EBDA below 640 KiB */
#define VIRQ_E820_BIOS_START 0xe0000ull /* BIOS area: ACPI/MP tables live here */
#define VIRQ_E820_PCI_HOLE_DEFAULT 0xc0000000ull

struct virq_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

struct virq_e820_config {
	uint64_t ram_size; /* total guest RAM in bytes, >= 2 MiB */
	/* Start of the 32-bit PCI/MMIO hole; RAM beyond it is remapped at 4 GiB.
	 * 0 = VIRQ_E820_PCI_HOLE_DEFAULT. Must be 1 MiB aligned, in [2 MiB, 4 GiB). */
	uint64_t pci_hole_start;
	/* Extra ranges (type RESERVED/ACPI/NVS), e.g. the LAPIC page 0xFEE00000 and the
	 * IOAPIC page 0xFEC00000; they win over RAM where they overlap it. */
	const struct virq_e820_entry *extra;
	size_t n_extra;
};

/*
 * Builds the PC map: RAM [0, EBDA), reserved EBDA [0x9FC00, 0xA0000), reserved BIOS
 * [0xE0000, 1 MiB), RAM [1 MiB, min(ram_size, hole)), RAM [4 GiB, 4 GiB + the rest) when
 * RAM is larger than the hole, plus `extra`; sorted, adjacent equal types merged, no
 * overlaps. Writes at most `cap` entries to `out` and their number to `*n`.
 * Returns 0, -EINVAL (bad config, extra entry of type RAM or wrapping) or -E2BIG (cap).
 */
int virq_e820_build(const struct virq_e820_config *cfg, struct virq_e820_entry *out, size_t cap,
		    size_t *n);

/*
 * The RAM below 640 KiB and the RAM from 1 MiB up to the first gap, in KiB, as Multiboot's
 * mem_lower/mem_upper want them (Multiboot 0.6.96 section 3.3).
 */
void virq_e820_lower_upper(const struct virq_e820_entry *map, size_t n, uint32_t *lower_kib,
			   uint32_t *upper_kib);

/* ---- the entry state a loader asks the VMM to set ---------------------------------- */
enum virq_boot_mode {
	/*
	 * Linux 64-bit entry (boot.rst "64-bit Boot Protocol"): long mode, paging on with an
	 * identity map covering the kernel, zero page, command line and initrd (the VMM's
	 * 1:1 map of low RAM), a GDT with __BOOT_CS = 0x10 (64-bit code) and __BOOT_DS = 0x18
	 * (flat data); CS = 0x10, DS = ES = SS = 0x18 (FS/GS may be 0x18 too), IF = 0,
	 * RSI = boot_params, RIP = entry; other GPRs 0 is fine.
	 */
	VIRQ_BOOT_LINUX64 = 1,
	/*
	 * Linux 32-bit entry (boot.rst "32-bit Boot Protocol"): protected mode, paging off,
	 * flat 4 GiB segments, __BOOT_CS = 0x10 (execute/read), __BOOT_DS = 0x18 (read/write);
	 * CS = 0x10, DS = ES = SS = 0x18, IF = 0, ESI = boot_params, EBP = EDI = EBX = 0,
	 * EIP = entry.
	 */
	VIRQ_BOOT_LINUX32,
	/*
	 * Multiboot (0.6.96 section 3.2 "Machine state"): protected mode, paging off, A20 on,
	 * CS a flat 32-bit execute/read segment, DS/ES/FS/GS/SS flat 32-bit read/write
	 * segments, IF = 0, EFLAGS.VM = 0, EAX = 0x2BADB002, EBX = the info block, EIP =
	 * entry. ESP is undefined by the spec (the kernel sets its own): 0 is fine.
	 */
	VIRQ_BOOT_MULTIBOOT,
};

#define VIRQ_BOOT_LINUX_CS 0x10
#define VIRQ_BOOT_LINUX_DS 0x18
#define VIRQ_MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002u

struct virq_boot_entry {
	enum virq_boot_mode mode;
	uint64_t rip;
	uint64_t rsi; /* Linux: boot_params */
	uint32_t eax; /* Multiboot: 0x2BADB002 */
	uint32_t ebx; /* Multiboot: info block */
	/* Where things went, for logs and for the VMM's identity map (guest-physical). */
	uint64_t kernel_start, kernel_end; /* end exclusive; Linux: load + init_size */
	uint64_t initrd_start, initrd_size; /* Multiboot: module 1 */
	uint64_t boot_params; /* Linux zero page, Multiboot info block */
	uint64_t cmdline;
	uint64_t top; /* first byte above everything written */
};

/* ---- Linux x86 boot protocol (Documentation/arch/x86/boot.rst) --------------------- */
#define VIRQ_LINUX_MIN_VERSION 0x0206 /* cmdline_size; initrd_addr_max (2.03) */
#define VIRQ_LINUX_ZERO_PAGE_DEFAULT 0x10000ull
#define VIRQ_LINUX_CMDLINE_DEFAULT 0x20000ull
#define VIRQ_LINUX_CMDLINE_MAX 0x10000u /* our own bound, far above any kernel's */
#define VIRQ_LINUX_LOAD_DEFAULT 0x100000ull

/* Setup header fields (offsets into the image and into boot_params alike). */
#define VIRQ_LINUX_SETUP_SECTS 0x1f1
#define VIRQ_LINUX_VID_MODE 0x1fa
#define VIRQ_LINUX_BOOT_FLAG 0x1fe /* 0xAA55 */
#define VIRQ_LINUX_JUMP 0x200 /* header end = 0x202 + byte at 0x201 */
#define VIRQ_LINUX_HEADER 0x202 /* "HdrS" */
#define VIRQ_LINUX_VERSION 0x206
#define VIRQ_LINUX_TYPE_OF_LOADER 0x210
#define VIRQ_LINUX_LOADFLAGS 0x211
#define VIRQ_LINUX_CODE32_START 0x214
#define VIRQ_LINUX_RAMDISK_IMAGE 0x218
#define VIRQ_LINUX_RAMDISK_SIZE 0x21c
#define VIRQ_LINUX_HEAP_END_PTR 0x224
#define VIRQ_LINUX_CMD_LINE_PTR 0x228
#define VIRQ_LINUX_INITRD_ADDR_MAX 0x22c
#define VIRQ_LINUX_KERNEL_ALIGNMENT 0x230
#define VIRQ_LINUX_RELOCATABLE 0x234
#define VIRQ_LINUX_XLOADFLAGS 0x236
#define VIRQ_LINUX_CMDLINE_SIZE 0x238
#define VIRQ_LINUX_PREF_ADDRESS 0x258
#define VIRQ_LINUX_INIT_SIZE 0x260
#define VIRQ_LINUX_HDR_END_MAX 0x290 /* struct setup_header ends here in boot_params */
/* boot_params (zero page) fields outside the setup header (boot.rst, zero-page.rst) */
#define VIRQ_LINUX_BP_E820_ENTRIES 0x1e8
#define VIRQ_LINUX_BP_E820_TABLE 0x2d0 /* 128 x { u64 addr, u64 size, u32 type } */
#define VIRQ_LINUX_BP_SIZE 4096

#define VIRQ_LINUX_BOOT_FLAG_MAGIC 0xaa55u
#define VIRQ_LINUX_HDRS_MAGIC 0x53726448u /* "HdrS" little-endian */
#define VIRQ_LINUX_LOADED_HIGH (1u << 0) /* loadflags: protected-mode code at 1 MiB */
#define VIRQ_LINUX_KEEP_SEGMENTS (1u << 6)
#define VIRQ_LINUX_CAN_USE_HEAP (1u << 7)
#define VIRQ_LINUX_XLF_KERNEL_64 (1u << 0) /* 64-bit entry at load + 0x200 (2.12+) */
#define VIRQ_LINUX_XLF_CAN_BE_LOADED_ABOVE_4G (1u << 1)
#define VIRQ_LINUX_ENTRY64_OFFSET 0x200
#define VIRQ_LINUX_TYPE_OF_LOADER_UNDEF 0xff
#define VIRQ_LINUX_VID_MODE_NORMAL 0xffff
#define VIRQ_LINUX_HEAP_END 0xde00 /* boot.rst's example: stack/heap end 0xe000 - 0x200 */

/* What the header says, parsed without touching guest memory. */
struct virq_linux_info {
	uint16_t version; /* e.g. 0x020f */
	uint8_t setup_sects; /* 0 in the image already replaced by 4 */
	uint8_t loadflags;
	uint16_t xloadflags; /* 0 before 2.12 */
	uint32_t code32_start;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size; /* without the NUL */
	uint32_t kernel_alignment;
	uint8_t relocatable;
	uint64_t pref_address; /* 0 before 2.10 */
	uint32_t init_size; /* 0 before 2.10 */
	uint64_t setup_size; /* (setup_sects + 1) * 512: file offset of the kernel proper */
	uint64_t kernel_size; /* bytes of protected-mode kernel in the file */
	uint32_t hdr_end; /* 0x202 + jump byte, bounded by VIRQ_LINUX_HDR_END_MAX */
};

/*
 * Parses and checks a bzImage's setup header (boot.rst "The Real-Mode Kernel Header"):
 * boot_flag 0xAA55, "HdrS", version >= VIRQ_LINUX_MIN_VERSION, LOADED_HIGH (a zImage is
 * refused), setup and header inside the file, a non-empty kernel. Returns 0 and fills
 * `*info`, or -ENOEXEC/-EINVAL with a message.
 */
int virq_linux_parse(const void *image, size_t size, struct virq_linux_info *info, char *err,
		     size_t err_len);

struct virq_linux_params {
	const void *kernel; /* the bzImage file */
	size_t kernel_size;
	const void *initrd; /* NULL: none */
	size_t initrd_size;
	const char *cmdline; /* NULL: empty; longer than the kernel's cmdline_size: -E2BIG */
	const struct virq_e820_entry *e820; /* copied into boot_params, <= VIRQ_E820_MAX */
	size_t n_e820;
	uint64_t zero_page; /* 0: VIRQ_LINUX_ZERO_PAGE_DEFAULT; 4 KiB, page aligned */
	uint64_t cmdline_addr; /* 0: VIRQ_LINUX_CMDLINE_DEFAULT */
	int force_32bit; /* use the 32-bit entry even when XLF_KERNEL_64 is set */
};

/*
 * Loads a bzImage: the protected-mode kernel at 1 MiB (at pref_address instead when the
 * kernel is relocatable, pref_address is aligned to kernel_alignment and the whole
 * init_size fits there), the zero page (setup header copied from the image, type_of_loader
 * 0xFF, CAN_USE_HEAP with heap_end_ptr, vid_mode "normal", cmd_line_ptr, ramdisk_image/
 * size, the e820 table), the command line, and the initrd at the highest page-aligned
 * address whose last byte is <= initrd_addr_max, below the end of RAM, above the kernel's
 * init_size and clear of every reserved range. `*entry` gets the 64-bit entry (load +
 * 0x200, RSI = zero page) when xloadflags has XLF_KERNEL_64, else the 32-bit one (load).
 * Writes nothing on failure (see the file comment for the codes).
 */
int virq_linux_load(const struct virq_boot_mem *mem, const struct virq_linux_params *p,
		    struct virq_boot_entry *entry, char *err, size_t err_len);

/* ---- Multiboot v1 (Multiboot Specification 0.6.96) --------------------------------- */
#define VIRQ_MULTIBOOT_MAGIC 0x1badb002u
#define VIRQ_MULTIBOOT_SEARCH 8192 /* section 3.1.1: header within the first 8192 bytes */
#define VIRQ_MULTIBOOT_PAGE_ALIGN (1u << 0) /* flags: modules page aligned */
#define VIRQ_MULTIBOOT_MEMORY_INFO (1u << 1) /* flags: mem_* (and mmap) required */
#define VIRQ_MULTIBOOT_VIDEO_MODE (1u << 2) /* flags: video table wanted (not provided) */
#define VIRQ_MULTIBOOT_AOUT_KLUDGE (1u << 16) /* flags: the address fields are valid */
/* Info block flags (section 3.3) */
#define VIRQ_MBI_MEMORY (1u << 0)
#define VIRQ_MBI_CMDLINE (1u << 2)
#define VIRQ_MBI_MODS (1u << 3)
#define VIRQ_MBI_MMAP (1u << 6)
#define VIRQ_MBI_LOADER_NAME (1u << 9)
#define VIRQ_MBI_SIZE 88 /* through the vbe fields */
#define VIRQ_MULTIBOOT_MAX_SEGMENTS 64
#define VIRQ_MULTIBOOT_MAX_MODULES 32
#define VIRQ_MULTIBOOT_MAX_INFO 0x10000 /* info block + strings + mmap, our bound */
#define VIRQ_MULTIBOOT_LOADER_NAME "virq"

struct virq_multiboot_module {
	const void *data;
	size_t size;
	const char *cmdline; /* the module's string; NULL: "" */
};

struct virq_multiboot_params {
	const void *kernel; /* the image file (ELF32, ELF64 or a.out-kludge) */
	size_t kernel_size;
	const char *name; /* first word of the command line; NULL: "kernel" */
	const char *append; /* the rest; NULL: nothing */
	const struct virq_multiboot_module *modules; /* the initrd first */
	size_t n_modules;
	const struct virq_e820_entry *e820; /* memory map, mem_lower/mem_upper */
	size_t n_e820;
};

/* What the image's Multiboot header says. */
struct virq_multiboot_info {
	uint32_t header_offset; /* file offset of the magic */
	uint32_t flags;
	int aout_kludge; /* loaded from the address fields, not as ELF */
	int elf_class; /* 1 ELF32, 2 ELF64, 0 a.out kludge */
	uint32_t entry;
	uint64_t load_start, load_end; /* lowest and highest (exclusive) byte loaded */
	size_t n_segments;
};

/*
 * Finds and checks the Multiboot header (magic at a 4-byte aligned offset whose 12 bytes,
 * 32 with the address fields, lie in the first 8192 bytes; magic + flags + checksum == 0;
 * no required flag in bits 3-15, which we do not know) and the load plan: a.out kludge when
 * flag 16 is set (as QEMU does), else ELF32/ELF64 PT_LOAD segments by physical address.
 * Segments must be inside the file, memsz >= filesz, not overlapping one another, and
 * inside guest RAM below 4 GiB, clear of reserved ranges and the ISA hole; the entry must
 * fall inside a loaded segment. Pass mem = NULL to check only the image.
 */
int virq_multiboot_parse(const void *image, size_t size, const struct virq_boot_mem *mem,
			 struct virq_multiboot_info *info, char *err, size_t err_len);

/*
 * Loads the kernel (memsz beyond filesz zeroed), the modules (page aligned, one after the
 * other above the kernel, each with its string) and the info block (section 3.3: flags,
 * mem_lower/mem_upper, cmdline "name append" always NUL-terminated, mods, mmap with
 * size-prefixed entries, boot_loader_name) above the modules. `*entry` gets mode
 * VIRQ_BOOT_MULTIBOOT, EAX and EBX. Writes nothing on failure.
 */
int virq_multiboot_load(const struct virq_boot_mem *mem, const struct virq_multiboot_params *p,
			struct virq_boot_entry *entry, char *err, size_t err_len);

#endif
