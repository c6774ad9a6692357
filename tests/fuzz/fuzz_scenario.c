// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the scenario parser (virq_scenario_parse, daemon/vmm/scenario.c) on
 * arbitrary bytes. The input is the scenario text itself, copied into a buffer of exactly
 * its length (no NUL after it) so that a read past `len` is an ASan error.
 *
 * Invariants (abort() when broken):
 *   - parse never crashes, leaks or reads past len (the sanitizers);
 *   - a rejected input sets errno to EINVAL, E2BIG or ENOMEM and gives a non-empty
 *     reason; the same reason truncated to a small buffer is its prefix, and no buffer at
 *     all is accepted;
 *   - an accepted scenario's bounds hold: a valid VM config, at most VIRQ_SCN_MAX_ACTIONS
 *     actions and VIRQ_SCN_MAX_EXPECT expectations, every vCPU index below nr_vcpus,
 *     repeat >= 1, sync_n 1..64, GSIs 0..23, timer vectors >= 16, PIC bases multiple of
 *     8, init_sipi aimed at an AP, NUL-terminated names, an empty reason;
 *   - an accepted scenario's numbers given as strings are unsigned: each starts with a
 *     digit (strtoull alone takes " -1" as 2^64 - 1); checked on the keys every action,
 *     the "vm" object and every expectation read;
 *   - parsing the same input again gives an identical scenario (field by field).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "virq/vmm.h"
#include "virq/vmm_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SLEEP_US 10000000u /* scenario.c: SCN_MAX_SLEEP_US */
#define MAX_REPEAT 10000000u /* scenario.c: SCN_MAX_REPEAT */

static void check_action(const struct virq_action *a, const struct virq_vm_config *cfg)
{
	if ((unsigned int)a->kind >= VIRQ_ACT__COUNT || a->repeat < 1 || a->repeat > MAX_REPEAT ||
	    a->gap_us > MAX_SLEEP_US || a->vcpu >= cfg->nr_vcpus || a->sync_n < 1 ||
	    a->sync_n > 64 || a->sync_vcpu < -1 ||
	    (a->sync_vcpu >= 0 && (uint32_t)a->sync_vcpu >= cfg->nr_vcpus))
		abort();
	switch (a->kind) {
	case VIRQ_ACT_GSI:
		if (a->gsi > 23 || (unsigned int)a->op > VIRQ_GSI_PULSE)
			abort();
		break;
	case VIRQ_ACT_IOAPIC:
		if (a->gsi > 23 || a->dest > 255 || a->level > 1 || a->masked > 1)
			abort();
		break;
	case VIRQ_ACT_TIMER:
		if (a->vector < 16 || a->data > UINT32_MAX || a->arg0 > 1)
			abort();
		break;
	case VIRQ_ACT_PIC:
		if ((a->arg0 & 7) || a->arg0 > 0xf8 || a->arg1 > 0xffff)
			abort();
		break;
	case VIRQ_ACT_INIT_SIPI:
		if (a->vcpu == 0)
			abort();
		break;
	case VIRQ_ACT_SLEEP:
		if (a->arg0 > MAX_SLEEP_US)
			abort();
		break;
	case VIRQ_ACT_GUEST:
		if (a->cmd >= VIRQ_MBOX__COUNT)
			abort();
		break;
	case VIRQ_ACT_EOI_HOLD:
		if (a->arg0 > 1)
			abort();
		break;
	case VIRQ_ACT_MSI:
		if (a->data > UINT32_MAX)
			abort();
		break;
	default:
		break;
	}
}

static void check_accepted(const struct virq_scenario *s, const char *err)
{
	if (err[0] || !memchr(s->name, 0, sizeof(s->name)) ||
	    virq_vm_config_check(&s->config, NULL, 0) || s->config.nr_vcpus < 1 ||
	    s->config.nr_vcpus > VIRQ_VM_MAX_VCPUS || s->nr_actions > VIRQ_SCN_MAX_ACTIONS ||
	    s->nr_expect > VIRQ_SCN_MAX_EXPECT || (s->nr_actions && !s->actions) ||
	    (s->nr_expect && !s->expect))
		abort();
	for (uint32_t i = 0; i < s->nr_actions; i++)
		check_action(&s->actions[i], &s->config);
	for (uint32_t i = 0; i < s->nr_expect; i++)
		if (s->expect[i].vcpu >= s->config.nr_vcpus || s->expect[i].count > UINT32_MAX)
			abort();
}

static bool same_action(const struct virq_action *a, const struct virq_action *b)
{
	return a->kind == b->kind && a->vcpu == b->vcpu && a->repeat == b->repeat &&
	       a->gsi == b->gsi && a->op == b->op && a->vector == b->vector &&
	       a->logical == b->logical && a->level == b->level && a->masked == b->masked &&
	       a->dest == b->dest && a->addr == b->addr && a->data == b->data &&
	       a->arg0 == b->arg0 && a->arg1 == b->arg1 && a->cmd == b->cmd &&
	       a->gap_us == b->gap_us && a->sync_vcpu == b->sync_vcpu &&
	       a->sync_vector == b->sync_vector && a->sync_n == b->sync_n;
}

static bool same_scenario(const struct virq_scenario *a, const struct virq_scenario *b)
{
	const struct virq_vm_config *x = &a->config, *y = &b->config;

	if (strcmp(a->name, b->name) || strcmp(x->name, y->name) || x->nr_vcpus != y->nr_vcpus ||
	    x->mem_mb != y->mem_mb || x->irqchip != y->irqchip || x->idle != y->idle ||
	    x->posted != y->posted || x->x2apic != y->x2apic || x->pv_eoi != y->pv_eoi ||
	    a->nr_actions != b->nr_actions || a->nr_expect != b->nr_expect)
		return false;
	for (uint32_t i = 0; i < a->nr_actions; i++)
		if (!same_action(&a->actions[i], &b->actions[i]))
			return false;
	for (uint32_t i = 0; i < a->nr_expect; i++) {
		const struct virq_expect *p = &a->expect[i], *q = &b->expect[i];

		if (p->vcpu != q->vcpu || p->vector != q->vector || p->at_least != q->at_least ||
		    p->count != q->count)
			return false;
	}
	return true;
}

/* The first `key` of o (what the parser reads), if a string, starts with a digit. */
static void check_num_strings(const cJSON *o, const char *const *keys)
{
	for (; *keys; keys++) {
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, *keys);

		if (cJSON_IsString(it) && (it->valuestring[0] < '0' || it->valuestring[0] > '9'))
			abort();
	}
}

static void check_accepted_text(const char *buf, size_t size)
{
	static const char *const vm_keys[] = { "vcpus", "mem_mb", NULL };
	static const char *const action_keys[] = { "repeat", "gap_us", "sync_vcpu", "sync_vector",
						   "sync_n", "vcpu",   "vector",    NULL };
	static const char *const expect_keys[] = { "vcpu", "vector", "count", "at_least", NULL };
	cJSON *root = cJSON_ParseWithLength(buf, size);
	const cJSON *it;

	if (!root)
		abort(); /* accepted, so it is JSON */
	check_num_strings(cJSON_GetObjectItemCaseSensitive(root, "vm"), vm_keys);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "timeline"))
		check_num_strings(it, action_keys);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "expect"))
		check_num_strings(it, expect_keys);
	cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], small[8];
	struct virq_scenario *s, *again;
	char *buf;
	int en;

	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	memset(err, 'x', sizeof(err));
	errno = 0;
	s = virq_scenario_parse(buf, size, err, sizeof(err));
	en = errno;
	if (!memchr(err, 0, sizeof(err)))
		abort();
	if (!s) {
		if ((en != EINVAL && en != E2BIG && en != ENOMEM) || !err[0])
			abort();
		/* A truncated reason is a prefix of the whole one; no buffer is fine too. */
		if (virq_scenario_parse(buf, size, small, sizeof(small)) ||
		    strncmp(small, err, sizeof(small) - 1) || strlen(small) >= sizeof(small))
			abort();
		if (virq_scenario_parse(buf, size, NULL, 0))
			abort();
		free(buf);
		return 0;
	}
	check_accepted(s, err);
	check_accepted_text(buf, size);
	again = virq_scenario_parse(buf, size, NULL, 0);
	if (!again || !same_scenario(s, again))
		abort();
	virq_scenario_free(again);
	virq_scenario_free(s);
	free(buf);
	return 0;
}
