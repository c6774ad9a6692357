/* SPDX-License-Identifier: MIT */
/*
 * virq: QEMU's firmware configuration device, traditional (non-DMA) interface only
 * (QEMU docs/specs/fw_cfg.rst): a 16-bit selector at port 0x510 and a byte-wide data port
 * at 0x511. Writing the selector rewinds the item; each data read returns the next byte,
 * and 0 past the end (or for a key with no item). The ID item (0x0001) advertises only
 * the traditional interface (bit 0), never DMA. Writes to items are ignored (QEMU stopped
 * supporting them in 2.4).
 *
 * Allocation happens only when items are added (control path), bounded by
 * VIRQ_FW_CFG_MAX_BYTES in total. Threading: the caller serialises calls.
 */
#ifndef VIRQ_FW_CFG_H
#define VIRQ_FW_CFG_H

#include <stddef.h>
#include <stdint.h>
#include "virq/hw.h"

#define VIRQ_FW_CFG_PORT 0x510
#define VIRQ_FW_CFG_SIGNATURE 0x0000
#define VIRQ_FW_CFG_ID 0x0001
#define VIRQ_FW_CFG_RAM_SIZE 0x0003
#define VIRQ_FW_CFG_NB_CPUS 0x0005
#define VIRQ_FW_CFG_MAX_CPUS 0x000f
#define VIRQ_FW_CFG_FILE_DIR 0x0019
#define VIRQ_FW_CFG_FILE_FIRST 0x0020
#define VIRQ_FW_CFG_ID_TRADITIONAL (1u << 0)
#define VIRQ_FW_CFG_MAX_ITEMS 64
#define VIRQ_FW_CFG_NAME_LEN 56 /* FWCfgFile.name, NUL included */
#define VIRQ_FW_CFG_MAX_BYTES (64u << 20)
#define VIRQ_E820_RAM 1
#define VIRQ_E820_RESERVED 2

struct virq_fw_cfg_item {
	uint16_t key;
	char name[VIRQ_FW_CFG_NAME_LEN]; /* "" for a numbered item */
	uint8_t *data;
	uint32_t len;
};

struct virq_fw_cfg {
	uint16_t selector;
	uint32_t offset;
	uint32_t nr;
	uint32_t nr_files;
	size_t bytes;
	struct virq_fw_cfg_item item[VIRQ_FW_CFG_MAX_ITEMS];
	uint8_t *dir; /* the FILE_DIR item's bytes (rebuilt per add) */
	uint32_t dir_len;
};

/* One e820 entry as QEMU's etc/e820 file holds it (struct e820_entry: packed, LE). */
struct virq_e820 {
	uint64_t addr, len;
	uint32_t type;
};

/* Signature, ID, NB_CPUS, MAX_CPUS, RAM_SIZE and an empty file directory. 0 or -ENOMEM. */
int virq_fw_cfg_init(struct virq_fw_cfg *fw, unsigned int ncpus, uint64_t ram_size);
void virq_fw_cfg_destroy(struct virq_fw_cfg *fw); /* NULL-safe; frees item copies */

/* Adds (or replaces) item key with a copy of data. 0, -EINVAL (key is the directory or a
 * file key, len > 4 GiB), -ENOSPC (items or bytes), -ENOMEM. */
int virq_fw_cfg_add(struct virq_fw_cfg *fw, uint16_t key, const void *data, size_t len);
/* Adds a named file at the next file key and lists it in FILE_DIR. 0, -EINVAL (empty or
 * too long name), -EEXIST, -ENOSPC, -ENOMEM. */
int virq_fw_cfg_add_file(struct virq_fw_cfg *fw, const char *name, const void *data, size_t len);
/* Adds "etc/e820" in QEMU's format. */
int virq_fw_cfg_add_e820(struct virq_fw_cfg *fw, const struct virq_e820 *e, size_t n);

void virq_fw_cfg_select(struct virq_fw_cfg *fw, uint16_t key);
uint8_t virq_fw_cfg_read_byte(struct virq_fw_cfg *fw);

/* Claims 0x510 (2 bytes: selector at +0, 16-bit LE; data at +1, byte reads). */
int virq_fw_cfg_register(struct virq_fw_cfg *fw, struct virq_hw_bus *bus);

#endif /* VIRQ_FW_CFG_H */
