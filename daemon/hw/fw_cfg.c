// SPDX-License-Identifier: MIT
/* QEMU fw_cfg, traditional interface (QEMU docs/specs/fw_cfg.rst). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virq/fw_cfg.h"

static struct virq_fw_cfg_item *lookup(struct virq_fw_cfg *fw, uint16_t key)
{
	for (uint32_t i = 0; i < fw->nr; i++)
		if (fw->item[i].key == key)
			return &fw->item[i];
	return NULL;
}

static int put(struct virq_fw_cfg *fw, uint16_t key, const char *name, const void *data, size_t len)
{
	struct virq_fw_cfg_item *it = lookup(fw, key);
	uint8_t *copy;

	if (len > UINT32_MAX)
		return -EINVAL;
	if (fw->bytes - (it ? it->len : 0) + len > VIRQ_FW_CFG_MAX_BYTES)
		return -ENOSPC;
	if (!it && fw->nr == VIRQ_FW_CFG_MAX_ITEMS)
		return -ENOSPC;
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, data, len);
	if (!it) {
		it = &fw->item[fw->nr++];
		it->key = key;
	} else {
		fw->bytes -= it->len;
		free(it->data);
	}
	snprintf(it->name, sizeof(it->name), "%s", name);
	it->data = copy;
	it->len = (uint32_t)len;
	fw->bytes += len;
	return 0;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* FILE_DIR: be32 count, then FWCfgFile { be32 size; be16 select; be16 reserved;
 * char name[56]; } per file, in key order. */
static int rebuild_dir(struct virq_fw_cfg *fw)
{
	uint32_t len = 4 + 64 * fw->nr_files, k = 0;
	uint8_t *d = calloc(1, len);

	if (!d)
		return -ENOMEM;
	be32(d, fw->nr_files);
	for (uint32_t i = 0; i < fw->nr; i++) {
		const struct virq_fw_cfg_item *it = &fw->item[i];
		uint8_t *e;

		if (it->key < VIRQ_FW_CFG_FILE_FIRST || !it->name[0])
			continue;
		e = d + 4 + 64 * (it->key - VIRQ_FW_CFG_FILE_FIRST);
		be32(e, it->len);
		e[4] = (uint8_t)(it->key >> 8);
		e[5] = (uint8_t)it->key;
		memcpy(e + 8, it->name, strlen(it->name));
		k++;
	}
	free(fw->dir);
	fw->dir = d;
	fw->dir_len = len;
	return k == fw->nr_files ? 0 : -EINVAL;
}

int virq_fw_cfg_init(struct virq_fw_cfg *fw, unsigned int ncpus, uint64_t ram_size)
{
	uint8_t id[4] = { VIRQ_FW_CFG_ID_TRADITIONAL },
		cpus[2] = { (uint8_t)ncpus, (uint8_t)(ncpus >> 8) };
	uint8_t ram[8];
	int ret;

	memset(fw, 0, sizeof(*fw));
	for (int i = 0; i < 8; i++)
		ram[i] = (uint8_t)(ram_size >> (8 * i));
	ret = put(fw, VIRQ_FW_CFG_SIGNATURE, "", "QEMU", 4);
	if (!ret)
		ret = put(fw, VIRQ_FW_CFG_ID, "", id, sizeof(id));
	if (!ret)
		ret = put(fw, VIRQ_FW_CFG_NB_CPUS, "", cpus, sizeof(cpus));
	if (!ret)
		ret = put(fw, VIRQ_FW_CFG_MAX_CPUS, "", cpus, sizeof(cpus));
	if (!ret)
		ret = put(fw, VIRQ_FW_CFG_RAM_SIZE, "", ram, sizeof(ram));
	if (!ret)
		ret = rebuild_dir(fw);
	if (ret)
		virq_fw_cfg_destroy(fw);
	return ret;
}

void virq_fw_cfg_destroy(struct virq_fw_cfg *fw)
{
	if (!fw)
		return;
	for (uint32_t i = 0; i < fw->nr; i++)
		free(fw->item[i].data);
	free(fw->dir);
	memset(fw, 0, sizeof(*fw));
}

int virq_fw_cfg_add(struct virq_fw_cfg *fw, uint16_t key, const void *data, size_t len)
{
	if ((key & 0x3fff) >= VIRQ_FW_CFG_FILE_FIRST || key == VIRQ_FW_CFG_FILE_DIR)
		return -EINVAL;
	return put(fw, key, "", data, len);
}

int virq_fw_cfg_add_file(struct virq_fw_cfg *fw, const char *name, const void *data, size_t len)
{
	size_t nl = name ? strlen(name) : 0;
	int ret;

	if (!nl || nl >= VIRQ_FW_CFG_NAME_LEN)
		return -EINVAL;
	for (uint32_t i = 0; i < fw->nr; i++)
		if (!strcmp(fw->item[i].name, name))
			return -EEXIST;
	if (fw->nr_files >= 0x3fff - VIRQ_FW_CFG_FILE_FIRST)
		return -ENOSPC;
	ret = put(fw, (uint16_t)(VIRQ_FW_CFG_FILE_FIRST + fw->nr_files), name, data, len);
	if (ret)
		return ret;
	fw->nr_files++;
	return rebuild_dir(fw);
}

int virq_fw_cfg_add_e820(struct virq_fw_cfg *fw, const struct virq_e820 *e, size_t n)
{
	uint8_t buf[20 * 128];

	if (n > 128)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = buf + 20 * i;

		for (int b = 0; b < 8; b++) {
			p[b] = (uint8_t)(e[i].addr >> (8 * b));
			p[8 + b] = (uint8_t)(e[i].len >> (8 * b));
		}
		for (int b = 0; b < 4; b++)
			p[16 + b] = (uint8_t)(e[i].type >> (8 * b));
	}
	return virq_fw_cfg_add_file(fw, "etc/e820", buf, 20 * n);
}

void virq_fw_cfg_select(struct virq_fw_cfg *fw, uint16_t key)
{
	fw->selector = key;
	fw->offset = 0;
}

uint8_t virq_fw_cfg_read_byte(struct virq_fw_cfg *fw)
{
	/* Bit 14 (write) and bit 15 (arch-local) select too; nothing is arch-local here. */
	uint16_t key = fw->selector & 0x3fff;
	const uint8_t *d = NULL;
	uint32_t len = 0;

	if (fw->selector & 0x8000)
		return 0;
	if (key == VIRQ_FW_CFG_FILE_DIR) {
		d = fw->dir;
		len = fw->dir_len;
	} else {
		const struct virq_fw_cfg_item *it = lookup(fw, key);

		if (it) {
			d = it->data;
			len = it->len;
		}
	}
	if (fw->offset >= len)
		return 0;
	return d[fw->offset++];
}

static uint64_t fw_bus_read(void *o, uint64_t off, unsigned int size, uint64_t now_ns)
{
	uint64_t v = 0;

	if (off != 1)
		return 0; /* the selector is write-only */
	for (unsigned int i = 0; i < size; i++) /* only size 1 fits at +1 */
		v |= (uint64_t)virq_fw_cfg_read_byte(o) << (8 * i);
	return v;
}

static void fw_bus_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	if (off == 0)
		virq_fw_cfg_select(o, (uint16_t)val);
}

static const struct virq_hw_ops fw_ops = { .read = fw_bus_read, .write = fw_bus_write };

int virq_fw_cfg_register(struct virq_fw_cfg *fw, struct virq_hw_bus *bus)
{
	return virq_hw_register_pio(bus, VIRQ_FW_CFG_PORT, 2, &fw_ops, fw, "fw_cfg");
}
