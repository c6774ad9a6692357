// SPDX-License-Identifier: MIT
/*
 * Scenarios: JSON parser (libcjson, parsed with a length and bounded before any
 * allocation) and the runner that drives a VM through the public VMM API and compares
 * the guest ledger with the expectations. Format: include/virq/vmm.h.
 */
#include "virq/vmm.h"
#include "virq/vmm_guest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SCN_MAX_BYTES (1u << 20)
#define SCN_MAX_REPEAT 10000000u
#define SCN_MAX_SLEEP_US 10000000u
/* How long a guest command or a delivery sync may take before the scenario fails with
 * ETIMEDOUT. Generous: a healthy guest answers in milliseconds, but on a PVM host's KVM the
 * firmware's ring-0 code is emulated (PLATFORM.md: ~0.5-0.9 M instructions/s) and with the
 * machine loaded 2 s was seen to run out (e2e scenario timeouts under concurrent load and,
 * once, in CI). Only a failing scenario waits this long. */
#define SCN_CMD_TIMEOUT_MS 10000
#define SCN_SYNC_TIMEOUT_MS 10000
#define SCN_SETTLE_MS 50
#define SCN_SETTLE_MAX_MS 3000

/* LAPIC registers (SDM Vol. 3A Table 11-1) and ICR fields (11.6.1). */
#define APIC_LVT_TIMER 0x320
#define APIC_TMICT 0x380
#define APIC_TDCR 0x3e0
#define LVT_TIMER_PERIODIC (1u << 17)
#define ICR_DM_SHIFT 8
#define ICR_LOGICAL (1u << 11)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_SH_SHIFT 18
/* IOAPIC redirection entry (82093AA datasheet 3.2.4). */
#define RTE_LOGICAL (1u << 11)
#define RTE_LEVEL (1u << 15)
#define RTE_MASKED (1u << 16)
#define IOAPIC_REDTBL(pin) (0x10 + 2 * (pin))

static const char *const kind_names[VIRQ_ACT__COUNT] = {
	[VIRQ_ACT_MSI] = "msi",
	[VIRQ_ACT_GSI] = "gsi",
	[VIRQ_ACT_IPI] = "ipi",
	[VIRQ_ACT_TIMER] = "timer",
	[VIRQ_ACT_NMI] = "nmi",
	[VIRQ_ACT_EOI_HOLD] = "eoi_hold",
	[VIRQ_ACT_GUEST] = "guest",
	[VIRQ_ACT_SLEEP] = "sleep",
	[VIRQ_ACT_IOAPIC] = "ioapic",
	[VIRQ_ACT_PIC] = "pic",
	[VIRQ_ACT_INIT_SIPI] = "init_sipi",
};

const char *virq_action_kind_name(enum virq_action_kind k)
{
	return (unsigned)k < VIRQ_ACT__COUNT ? kind_names[k] : "unknown";
}

struct perr {
	char *buf;
	size_t len;
	int failed;
};

static void fail(struct perr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct perr *e, const char *fmt, ...)
{
	va_list ap;

	if (e->failed++)
		return; /* keep the first reason */
	if (!e->buf || !e->len)
		return;
	va_start(ap, fmt);
	vsnprintf(e->buf, e->len, fmt, ap);
	va_end(ap);
}

/* A bounded unsigned field: JSON number (integral) or "0x.." / decimal string. */
static uint64_t get_u64(const cJSON *o, const char *key, uint64_t def, uint64_t max, struct perr *e,
			const char *ctx)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
	uint64_t v;

	if (!it)
		return def;
	if (cJSON_IsNumber(it)) {
		double d = it->valuedouble;

		if (d < 0 || d > 9007199254740992.0 || d != (double)(uint64_t)d) {
			fail(e, "%s: \"%s\" is not a non-negative integer", ctx, key);
			return def;
		}
		v = (uint64_t)d;
	} else if (cJSON_IsString(it) && it->valuestring[0]) {
		char *end;

		/* strtoull() skips white space and takes a sign: " -1" would be 2^64 - 1. */
		if (it->valuestring[0] < '0' || it->valuestring[0] > '9') {
			fail(e, "%s: \"%s\" is not a number", ctx, key);
			return def;
		}
		errno = 0;
		v = strtoull(it->valuestring, &end, 0);
		if (errno || *end) {
			fail(e, "%s: \"%s\" is not a number", ctx, key);
			return def;
		}
	} else {
		fail(e, "%s: \"%s\" must be a number", ctx, key);
		return def;
	}
	if (v > max) {
		fail(e, "%s: \"%s\" = %llu exceeds %llu", ctx, key, (unsigned long long)v,
		     (unsigned long long)max);
		return def;
	}
	return v;
}

static bool get_bool(const cJSON *o, const char *key, bool def, struct perr *e, const char *ctx)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!it)
		return def;
	if (!cJSON_IsBool(it)) {
		fail(e, "%s: \"%s\" must be true or false", ctx, key);
		return def;
	}
	return cJSON_IsTrue(it);
}

static const char *get_str(const cJSON *o, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static int lookup(const char *s, const char *const *names, int n)
{
	for (int i = 0; s && i < n; i++)
		if (names[i] && !strcmp(s, names[i]))
			return i;
	return -1;
}

static void parse_vm(const cJSON *vmj, struct virq_vm_config *cfg, struct perr *e)
{
	const char *s;

	virq_vm_config_init(cfg);
	if (!vmj)
		return;
	if (!cJSON_IsObject(vmj)) {
		fail(e, "\"vm\" must be an object");
		return;
	}
	s = get_str(vmj, "name");
	if (s)
		snprintf(cfg->name, sizeof(cfg->name), "%s", s);
	cfg->nr_vcpus = (uint32_t)get_u64(vmj, "vcpus", 1, VIRQ_VM_MAX_VCPUS, e, "vm");
	cfg->mem_mb = (uint32_t)get_u64(vmj, "mem_mb", VIRQ_VM_MEM_MB_DEFAULT, VIRQ_VM_MEM_MB_MAX,
					e, "vm");
	s = get_str(vmj, "irqchip");
	if (s && virq_irqchip_mode_parse(s, &cfg->irqchip))
		fail(e, "vm: unknown irqchip \"%s\"", s);
	s = get_str(vmj, "idle");
	if (s && virq_idle_style_parse(s, &cfg->idle))
		fail(e, "vm: unknown idle style \"%s\"", s);
	cfg->x2apic = get_bool(vmj, "x2apic", cfg->x2apic, e, "vm");
	cfg->posted = get_bool(vmj, "posted", cfg->posted, e, "vm");
	cfg->pv_eoi = get_bool(vmj, "pv_eoi", cfg->pv_eoi, e, "vm");
	if (!e->failed) {
		char why[96];

		if (virq_vm_config_check(cfg, why, sizeof(why)))
			fail(e, "vm: %s", why);
	}
}

static uint64_t make_icr(uint8_t vector, unsigned dm, bool logical, unsigned sh, uint32_t dest,
			 bool x2apic)
{
	uint64_t icr = vector | (uint64_t)dm << ICR_DM_SHIFT | (uint64_t)sh << ICR_SH_SHIFT;

	if (logical)
		icr |= ICR_LOGICAL;
	/* INIT de-assert is the only ICR write with level 0; we always assert. */
	icr |= ICR_LEVEL_ASSERT;
	/* Destination: ICR[63:56] in xAPIC mode, ICR[63:32] in x2APIC mode (SDM 11.12.9). */
	icr |= x2apic ? (uint64_t)dest << 32 : (uint64_t)(dest & 0xff) << 56;
	return icr;
}

static void parse_action(const cJSON *a, uint32_t idx, const struct virq_vm_config *cfg,
			 struct virq_action *out, struct perr *e)
{
	static const char *const ops[] = { "assert", "deassert", "pulse" };
	static const char *const modes[] = { "fixed", "lowest", "smi",	   "remote-read",
					     "nmi",   "init",	"startup", "extint" };
	static const char *const shs[] = { "none", "self", "all", "all-but-self" };
	uint32_t maxcpu = cfg->nr_vcpus - 1;
	char ctx[48];
	const char *k;
	int kind;

	snprintf(ctx, sizeof(ctx), "timeline[%u]", idx);
	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(a)) {
		fail(e, "%s: must be an object", ctx);
		return;
	}
	k = get_str(a, "action");
	kind = lookup(k, kind_names, VIRQ_ACT__COUNT);
	if (kind < 0) {
		fail(e, "%s: unknown action \"%s\"", ctx, k ? k : "(missing)");
		return;
	}
	out->kind = (enum virq_action_kind)kind;
	out->repeat = (uint32_t)get_u64(a, "repeat", 1, SCN_MAX_REPEAT, e, ctx);
	if (out->repeat == 0)
		fail(e, "%s: repeat must be >= 1", ctx);
	out->gap_us = (uint32_t)get_u64(a, "gap_us", 0, SCN_MAX_SLEEP_US, e, ctx);
	out->sync_vcpu = cJSON_GetObjectItemCaseSensitive(a, "sync_vcpu") ?
				 (int32_t)get_u64(a, "sync_vcpu", 0, maxcpu, e, ctx) :
				 -1;
	out->sync_vector = (uint8_t)get_u64(a, "sync_vector", 0, 255, e, ctx);
	out->sync_n = (uint32_t)get_u64(a, "sync_n", 1, 64, e, ctx);
	if (out->sync_n == 0) /* a barrier on "grew by 0" would not wait at all */
		fail(e, "%s: sync_n must be >= 1", ctx);
	out->vcpu = (uint32_t)get_u64(a, "vcpu", 0, maxcpu, e, ctx);
	out->vector = (uint8_t)get_u64(a, "vector", 0, 255, e, ctx);
	out->logical = get_bool(a, "logical", false, e, ctx);

	switch (out->kind) {
	case VIRQ_ACT_MSI:
		if (cJSON_GetObjectItemCaseSensitive(a, "addr")) {
			out->addr = get_u64(a, "addr", 0, UINT64_MAX >> 12, e, ctx);
			out->data = get_u64(a, "data", 0, UINT32_MAX, e, ctx);
		} else {
			/* Fixed, edge MSI (SDM 11.11.1): dest ID in address bits 19:12. */
			out->dest = (uint32_t)get_u64(a, "dest", out->vcpu, 255, e, ctx);
			out->addr = VIRQ_LAPIC_GPA | (uint64_t)out->dest << 12 |
				    (out->logical ? 1u << 2 : 0);
			out->data = out->vector;
		}
		break;
	case VIRQ_ACT_GSI: {
		int op = lookup(get_str(a, "op"), ops, 3);

		out->gsi = (uint32_t)get_u64(a, "gsi", 0, 23, e, ctx);
		if (op < 0)
			fail(e, "%s: \"op\" must be assert, deassert or pulse", ctx);
		out->op = op < 0 ? VIRQ_GSI_PULSE : (enum virq_gsi_op)op;
		break;
	}
	case VIRQ_ACT_IPI: {
		const char *ms = get_str(a, "mode"), *ss = get_str(a, "shorthand");
		int m = ms ? lookup(ms, modes, 8) : 0, sh = ss ? lookup(ss, shs, 4) : 0;

		if (m < 0 || m == 2 || m == 3 || m == 7)
			fail(e, "%s: unsupported IPI mode \"%s\"", ctx, ms);
		if (sh < 0)
			fail(e, "%s: unknown shorthand \"%s\"", ctx, ss);
		out->vcpu = (uint32_t)get_u64(a, "from", 0, maxcpu, e, ctx);
		out->dest = (uint32_t)get_u64(a, "dest", 0, UINT32_MAX, e, ctx);
		out->addr = make_icr(out->vector, m < 0 ? 0 : (unsigned)m, out->logical,
				     sh < 0 ? 0 : (unsigned)sh, out->dest, cfg->x2apic);
		break;
	}
	case VIRQ_ACT_TIMER:
		out->data = get_u64(a, "count", 0, UINT32_MAX, e, ctx);
		out->arg0 = get_bool(a, "periodic", false, e, ctx);
		if (out->vector < 16)
			fail(e, "%s: timer vector must be >= 16 (SDM 11.5.2)", ctx);
		break;
	case VIRQ_ACT_NMI:
		break;
	case VIRQ_ACT_EOI_HOLD:
		out->arg0 = get_bool(a, "hold", true, e, ctx);
		break;
	case VIRQ_ACT_GUEST:
		out->cmd = (uint32_t)get_u64(a, "cmd", 0, VIRQ_MBOX__COUNT - 1, e, ctx);
		out->arg0 = get_u64(a, "arg0", 0, UINT64_MAX, e, ctx);
		out->arg1 = get_u64(a, "arg1", 0, UINT64_MAX, e, ctx);
		break;
	case VIRQ_ACT_SLEEP:
		out->arg0 = get_u64(a, "us", 0, SCN_MAX_SLEEP_US, e, ctx);
		break;
	case VIRQ_ACT_IOAPIC:
		out->gsi = (uint32_t)get_u64(a, "gsi", 0, 23, e, ctx);
		out->dest = (uint32_t)get_u64(a, "dest", 0, 255, e, ctx);
		out->level = get_bool(a, "level", false, e, ctx);
		out->masked = get_bool(a, "masked", false, e, ctx);
		break;
	case VIRQ_ACT_PIC:
		out->arg0 = get_u64(a, "base", 0x30, 0xf8, e, ctx);
		out->arg1 = get_u64(a, "mask", 0xffff, 0xffff, e, ctx);
		if (out->arg0 & 7)
			fail(e, "%s: PIC base must be a multiple of 8 (ICW2)", ctx);
		break;
	case VIRQ_ACT_INIT_SIPI:
		if (out->vcpu == 0)
			fail(e, "%s: init_sipi targets an AP (vcpu >= 1)", ctx);
		break;
	default:
		break;
	}
}

struct virq_scenario *virq_scenario_parse(const char *json, size_t len, char *err, size_t errlen)
{
	struct perr e = { err, errlen, 0 };
	struct virq_scenario *s = NULL;
	const cJSON *tl, *ex, *it;
	cJSON *root = NULL;
	int n, en = EINVAL;
	const char *name;

	if (err && errlen)
		err[0] = '\0';
	if (!json) {
		fail(&e, "no input");
		goto err;
	}
	if (len > SCN_MAX_BYTES) {
		fail(&e, "scenario is %zu bytes (max %u)", len, SCN_MAX_BYTES);
		en = E2BIG;
		goto err;
	}
	root = cJSON_ParseWithLength(json, len);
	if (!root || !cJSON_IsObject(root)) {
		fail(&e, "not a JSON object");
		goto err;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		en = ENOMEM;
		fail(&e, "out of memory");
		goto err;
	}
	name = get_str(root, "name");
	snprintf(s->name, sizeof(s->name), "%s", name ? name : "unnamed");
	parse_vm(cJSON_GetObjectItemCaseSensitive(root, "vm"), &s->config, &e);
	if (e.failed)
		goto err;

	tl = cJSON_GetObjectItemCaseSensitive(root, "timeline");
	if (tl && !cJSON_IsArray(tl)) {
		fail(&e, "\"timeline\" must be an array");
		goto err;
	}
	n = tl ? cJSON_GetArraySize(tl) : 0;
	if (n > VIRQ_SCN_MAX_ACTIONS) {
		fail(&e, "timeline has %d actions (max %d)", n, VIRQ_SCN_MAX_ACTIONS);
		en = E2BIG;
		goto err;
	}
	if (n) {
		s->actions = calloc((size_t)n, sizeof(*s->actions));
		if (!s->actions) {
			en = ENOMEM;
			fail(&e, "out of memory");
			goto err;
		}
	}
	cJSON_ArrayForEach(it, tl)
	{
		parse_action(it, s->nr_actions, &s->config, &s->actions[s->nr_actions], &e);
		s->nr_actions++;
		if (e.failed)
			goto err;
	}

	ex = cJSON_GetObjectItemCaseSensitive(root, "expect");
	if (ex && !cJSON_IsArray(ex)) {
		fail(&e, "\"expect\" must be an array");
		goto err;
	}
	n = ex ? cJSON_GetArraySize(ex) : 0;
	if (n > VIRQ_SCN_MAX_EXPECT) {
		fail(&e, "expect has %d entries (max %d)", n, VIRQ_SCN_MAX_EXPECT);
		en = E2BIG;
		goto err;
	}
	if (n) {
		s->expect = calloc((size_t)n, sizeof(*s->expect));
		if (!s->expect) {
			en = ENOMEM;
			fail(&e, "out of memory");
			goto err;
		}
	}
	cJSON_ArrayForEach(it, ex)
	{
		struct virq_expect *x = &s->expect[s->nr_expect];
		char ctx[32];
		bool has_count, has_min;

		snprintf(ctx, sizeof(ctx), "expect[%u]", s->nr_expect);
		if (!cJSON_IsObject(it)) {
			fail(&e, "%s: must be an object", ctx);
			goto err;
		}
		x->vcpu = (uint32_t)get_u64(it, "vcpu", 0, s->config.nr_vcpus - 1, &e, ctx);
		x->vector = (uint8_t)get_u64(it, "vector", 0, 255, &e, ctx);
		has_count = cJSON_GetObjectItemCaseSensitive(it, "count");
		has_min = cJSON_GetObjectItemCaseSensitive(it, "at_least");
		if (has_count == has_min)
			fail(&e, "%s: give exactly one of \"count\" and \"at_least\"", ctx);
		x->at_least = has_min;
		x->count = get_u64(it, has_min ? "at_least" : "count", 0, UINT32_MAX, &e, ctx);
		s->nr_expect++;
		if (e.failed)
			goto err;
	}
	cJSON_Delete(root);
	return s;

err:
	cJSON_Delete(root);
	virq_scenario_free(s);
	errno = en;
	return NULL;
}

void virq_scenario_free(struct virq_scenario *s)
{
	if (!s)
		return;
	free(s->actions);
	free(s->expect);
	free(s);
}

/* --- built-in scenarios (daemon/vmm/module.mk embeds scenarios/<name>.json) ------- */

struct scn_blob {
	const char *name;
	const char *start;
	const char *end;
};
extern const struct scn_blob virq_scn_table[];

const char *virq_scenario_builtin(const char *name, size_t *len)
{
	for (const struct scn_blob *b = virq_scn_table; name && b->name; b++) {
		if (!strcmp(b->name, name)) {
			if (len)
				*len = (size_t)(b->end - b->start);
			return b->start;
		}
	}
	errno = ENOENT;
	return NULL;
}

/* --- runner ------------------------------------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t guest_count(struct virq_vm *vm, uint32_t vcpu, uint8_t vector)
{
	struct virq_guest_vec v;

	return virq_vm_ledger(vm, vcpu, vector, &v) ? 0 : v.count;
}

/* A sync point: the guest handled the interrupt to completion (EOI included), so the next
 * action meets an idle guest, e.g. a level line whose remote IRR the EOI cleared. */
static int wait_count(struct virq_vm *vm, uint32_t vcpu, uint8_t vector, uint64_t target)
{
	return virq_vm_wait_handled(vm, vcpu, vector, target, SCN_SYNC_TIMEOUT_MS);
}

static int cmd(struct virq_vm *vm, uint32_t vcpu, uint32_t c, uint64_t a0, uint64_t a1)
{
	return virq_vm_guest_cmd(vm, vcpu, c, a0, a1, NULL, SCN_CMD_TIMEOUT_MS);
}

static int run_once(struct virq_vm *vm, const struct virq_action *a, bool x2apic)
{
	int ret = 0;

	switch (a->kind) {
	case VIRQ_ACT_MSI:
		ret = virq_vm_inject_msi(vm, a->addr, (uint32_t)a->data);
		return ret < 0 ? ret : 0;
	case VIRQ_ACT_GSI:
		ret = virq_vm_inject_gsi(vm, a->gsi, a->op);
		/* "ignored" (masked) is an answer, not a failure of the run. */
		return (ret < 0 && ret != -ENODEV) ? ret : 0;
	case VIRQ_ACT_IPI:
		return cmd(vm, a->vcpu, VIRQ_MBOX_ICR_WRITE, a->addr, 0);
	case VIRQ_ACT_TIMER:
		/* Divide by 1 (TDCR=1011b), LVT timer, then the initial count arms it
		 * (SDM 11.5.4). */
		ret = cmd(vm, a->vcpu, VIRQ_MBOX_APIC_WRITE, APIC_TDCR, 0xb);
		if (!ret)
			ret = cmd(vm, a->vcpu, VIRQ_MBOX_APIC_WRITE, APIC_LVT_TIMER,
				  a->vector | (a->arg0 ? LVT_TIMER_PERIODIC : 0));
		if (!ret)
			ret = cmd(vm, a->vcpu, VIRQ_MBOX_APIC_WRITE, APIC_TMICT, a->data);
		return ret;
	case VIRQ_ACT_NMI:
		ret = virq_vm_inject_nmi(vm, a->vcpu);
		return ret < 0 ? ret : 0;
	case VIRQ_ACT_EOI_HOLD:
		return cmd(vm, a->vcpu, VIRQ_MBOX_EOI_HOLD, a->arg0, 0);
	case VIRQ_ACT_GUEST:
		return cmd(vm, a->vcpu, a->cmd, a->arg0, a->arg1);
	case VIRQ_ACT_SLEEP:
		usleep((useconds_t)a->arg0);
		return 0;
	case VIRQ_ACT_IOAPIC: {
		uint32_t lo = a->vector | (a->logical ? RTE_LOGICAL : 0) |
			      (a->level ? RTE_LEVEL : 0) | (a->masked ? RTE_MASKED : 0);

		/* High dword first so the entry is complete when the low dword unmasks it. */
		ret = cmd(vm, 0, VIRQ_MBOX_IOAPIC_WRITE, IOAPIC_REDTBL(a->gsi) + 1, a->dest << 24);
		if (!ret)
			ret = cmd(vm, 0, VIRQ_MBOX_IOAPIC_WRITE, IOAPIC_REDTBL(a->gsi), lo);
		return ret;
	}
	case VIRQ_ACT_PIC:
		return cmd(vm, 0, VIRQ_MBOX_PIC_INIT, a->arg0, a->arg1);
	case VIRQ_ACT_INIT_SIPI:
		/* INIT then STARTUP to one AP, from the BSP (SDM 8.4.4.1). */
		ret = cmd(vm, 0, VIRQ_MBOX_ICR_WRITE, make_icr(0, 5, false, 0, a->vcpu, x2apic), 0);
		if (!ret)
			ret = cmd(vm, 0, VIRQ_MBOX_ICR_WRITE,
				  make_icr(VIRQ_SIPI_VECTOR, 6, false, 0, a->vcpu, x2apic), 0);
		return ret;
	default:
		return -EINVAL;
	}
}

/* Waits until no guest ledger changes for SCN_SETTLE_MS (bounded). */
static void settle(struct virq_vm *vm, uint32_t nr_vcpus)
{
	uint64_t start = mono_ns(), last_change = start, prev = 0;

	for (;;) {
		uint64_t sum = 0, now;
		struct virq_guest_ledger *l = malloc(sizeof(*l));

		if (!l)
			return;
		for (uint32_t i = 0; i < nr_vcpus; i++)
			if (!virq_vm_guest_ledger(vm, i, l))
				sum += l->seq;
		free(l);
		now = mono_ns();
		if (sum != prev) {
			prev = sum;
			last_change = now;
		}
		if (now - last_change > SCN_SETTLE_MS * 1000000ull ||
		    now - start > SCN_SETTLE_MAX_MS * 1000000ull)
			return;
		usleep(2000);
	}
}

int virq_scenario_run(struct virq_vm *vm, const struct virq_scenario *s, int mode_override,
		      struct virq_scn_result *res)
{
	struct virq_vm_config cfg;
	struct virq_vm *own = NULL;
	uint64_t t0;
	char why[VIRQ_VM_REASON_MAX];
	int ret = 0;

	if (!s || !res)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (!vm) {
		cfg = s->config;
		if (mode_override >= 0) {
			if (mode_override >= VIRQ_IRQCHIP__COUNT)
				return -EINVAL;
			cfg.irqchip = (enum virq_irqchip_mode)mode_override;
		}
		own = vm = virq_vm_create(&cfg, res->failure, sizeof(res->failure));
		if (!vm)
			return -errno;
		ret = virq_vm_start(vm);
		if (!ret)
			ret = virq_vm_wait_ready(vm, 5000);
		if (ret) {
			virq_vm_state(vm, why, sizeof(why));
			snprintf(res->failure, sizeof(res->failure), "guest not ready: %s%s%.100s",
				 strerror(-ret), why[0] ? "; " : "", why);
			goto out;
		}
	} else {
		cfg = *virq_vm_get_config(vm);
	}

	t0 = mono_ns();
	for (uint32_t i = 0; i < s->nr_actions && !ret; i++) {
		const struct virq_action *a = &s->actions[i];

		for (uint32_t r = 0; r < a->repeat; r++) {
			uint64_t base = 0;

			if (a->sync_vcpu >= 0)
				base = guest_count(vm, (uint32_t)a->sync_vcpu, a->sync_vector);
			ret = run_once(vm, a, cfg.x2apic);
			if (!ret && a->sync_vcpu >= 0)
				ret = wait_count(vm, (uint32_t)a->sync_vcpu, a->sync_vector,
						 base + a->sync_n);
			if (ret) {
				snprintf(res->failure, sizeof(res->failure),
					 "timeline[%u] %s (repeat %u): %s", i,
					 virq_action_kind_name(a->kind), r, strerror(-ret));
				break;
			}
			if (a->gap_us)
				usleep(a->gap_us);
		}
	}
	if (ret)
		goto out;
	settle(vm, cfg.nr_vcpus);
	res->elapsed_ns = mono_ns() - t0;

	res->pass = true;
	for (uint32_t i = 0; i < s->nr_expect; i++) {
		const struct virq_expect *x = &s->expect[i];
		struct virq_scn_row *row = &res->rows[res->nr_rows++];

		row->vcpu = x->vcpu;
		row->vector = x->vector;
		row->at_least = x->at_least;
		row->expected = x->count;
		row->observed = guest_count(vm, x->vcpu, x->vector);
		row->ok = x->at_least ? row->observed >= x->count : row->observed == x->count;
		if (!row->ok && res->pass) {
			res->pass = false;
			snprintf(res->failure, sizeof(res->failure),
				 "vCPU %u vector 0x%02x: expected %s%llu, observed %llu", x->vcpu,
				 x->vector, x->at_least ? ">= " : "", (unsigned long long)x->count,
				 (unsigned long long)row->observed);
		}
	}
	if (virq_vm_state(vm, why, sizeof(why)) == VIRQ_VM_STOPPED) {
		res->pass = false;
		snprintf(res->failure, sizeof(res->failure), "VM stopped: %.140s", why);
	}
out:
	virq_vm_vmm_ledger(vm, &res->vmm);
	for (uint32_t i = 0; i < cfg.nr_vcpus; i++) {
		struct virq_vcpu_exits ex;

		if (!virq_vm_exits(vm, i, &ex))
			for (int r = 0; r < VIRQ_EXIT_REASONS; r++)
				res->exits_total += ex.by_reason[r];
	}
	virq_vm_destroy(own);
	return ret;
}
