// SPDX-License-Identifier: MIT
/* VM configuration defaults, validation and name tables. */
#include "virq/vmm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void virq_vm_config_init(struct virq_vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nr_vcpus = 1;
	cfg->mem_mb = VIRQ_VM_MEM_MB_DEFAULT;
	cfg->irqchip = VIRQ_IRQCHIP_KERNEL;
	cfg->idle = VIRQ_IDLE_HLT;
	cfg->posted = true;
	cfg->pv_eoi = true;
}

int virq_vm_config_check(const struct virq_vm_config *cfg, char *err, size_t errlen)
{
	const char *why = NULL;
	char buf[96];

	if (!cfg) {
		why = "no configuration";
	} else if (!memchr(cfg->name, '\0', sizeof(cfg->name))) {
		why = "name is not NUL-terminated within 32 bytes";
	} else if (cfg->nr_vcpus < 1 || cfg->nr_vcpus > VIRQ_VM_MAX_VCPUS) {
		snprintf(buf, sizeof(buf), "nr_vcpus %u out of range 1..%d", cfg->nr_vcpus,
			 VIRQ_VM_MAX_VCPUS);
		why = buf;
	} else if (cfg->mem_mb != 0 &&
		   (cfg->mem_mb < VIRQ_VM_MEM_MB_MIN || cfg->mem_mb > VIRQ_VM_MEM_MB_MAX)) {
		snprintf(buf, sizeof(buf), "mem_mb %u out of range %d..%d", cfg->mem_mb,
			 VIRQ_VM_MEM_MB_MIN, VIRQ_VM_MEM_MB_MAX);
		why = buf;
	} else if ((unsigned)cfg->irqchip >= VIRQ_IRQCHIP__COUNT) {
		why = "unknown irqchip mode";
	} else if ((unsigned)cfg->idle >= VIRQ_IDLE__COUNT) {
		why = "unknown idle style";
	} else if (!memchr(cfg->kernel, '\0', sizeof(cfg->kernel)) ||
		   !memchr(cfg->initrd, '\0', sizeof(cfg->initrd)) ||
		   !memchr(cfg->disk, '\0', sizeof(cfg->disk))) {
		snprintf(buf, sizeof(buf),
			 "kernel, initrd and disk paths must be shorter than %d bytes",
			 VIRQ_VM_PATH_MAX);
		why = buf;
	} else if (!memchr(cfg->append, '\0', sizeof(cfg->append))) {
		snprintf(buf, sizeof(buf), "the command line must be shorter than %d bytes",
			 VIRQ_VM_APPEND_MAX);
		why = buf;
	} else if (!cfg->kernel[0] && (cfg->initrd[0] || cfg->append[0] || cfg->disk[0])) {
		why = "initrd, append and disk need a kernel";
	} else if (cfg->kernel[0] && cfg->mem_mb != 0 && cfg->mem_mb < VIRQ_VM_KERNEL_MEM_MB_MIN) {
		snprintf(buf, sizeof(buf), "a guest kernel needs mem_mb >= %d",
			 VIRQ_VM_KERNEL_MEM_MB_MIN);
		why = buf;
	}
	if (!why)
		return 0;
	if (err && errlen)
		snprintf(err, errlen, "%s", why);
	return -EINVAL;
}

static const char *const mode_names[VIRQ_IRQCHIP__COUNT] = { "kernel", "split", "user" };
static const char *const idle_names[VIRQ_IDLE__COUNT] = { "hlt", "cpl3-spin" };
static const char *const state_names[VIRQ_VM_STATE__COUNT] = { "created", "running", "paused",
							       "stopped" };

const char *virq_irqchip_mode_name(enum virq_irqchip_mode m)
{
	return (unsigned)m < VIRQ_IRQCHIP__COUNT ? mode_names[m] : "unknown";
}

int virq_irqchip_mode_parse(const char *s, enum virq_irqchip_mode *out)
{
	for (unsigned i = 0; s && i < VIRQ_IRQCHIP__COUNT; i++) {
		if (!strcmp(s, mode_names[i])) {
			*out = (enum virq_irqchip_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *virq_idle_style_name(enum virq_idle_style s)
{
	return (unsigned)s < VIRQ_IDLE__COUNT ? idle_names[s] : "unknown";
}

int virq_idle_style_parse(const char *s, enum virq_idle_style *out)
{
	for (unsigned i = 0; s && i < VIRQ_IDLE__COUNT; i++) {
		if (!strcmp(s, idle_names[i])) {
			*out = (enum virq_idle_style)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *virq_vm_state_name(enum virq_vm_state s)
{
	return (unsigned)s < VIRQ_VM_STATE__COUNT ? state_names[s] : "unknown";
}
