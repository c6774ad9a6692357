// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the cross-check engine and its table renderer on arbitrary ledgers.
 *
 * The input is a header (vCPU count, VM flags, injectors) followed by 6-byte records
 * (field, index, value) that set one ledger cell each. Invariants (abort() when broken):
 * run() accepts any bounded input and rejects nr_vcpus > VIRQ_XC_MAX_VCPUS with -E2BIG;
 * verdict counts add up to stored + dropped checks; every verdict agrees with its numbers
 * (consistent/coalesced: observed >= expected, exactly equal for exact checks; lost:
 * observed < expected; spurious/refired: a surplus; pending only on a running VM;
 * misrouted: something moved); details are terminated; the table's length is exact; the
 * report survives virq_xcheck_report_to_json() -> virq_xcheck_report_from_json() unchanged.
 *
 * An input starting with '{' is instead a report as JSON for virq_xcheck_report_from_json()
 * (what virqctl receives over the control socket). Invariants: it returns 0, -EINVAL or
 * -E2BIG; a failure leaves no rows; an accepted report has valid enums, terminated strings
 * and bounded counts, renders a table of exact length, and round-trips through to_json and
 * from_json unchanged.
 *
 * Linked with the xcheck and irqchip modules (LIBS_fuzz_xcheck) and libcjson.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "virq/xcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct virq_xcheck_report rep, back;
static char table[1 << 20];

static uint32_t rd16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static void set_field(struct virq_xcheck_vm *vm, struct virq_xcheck_vcpu *vc, unsigned int nv,
		      struct virq_xcheck_input *in, const uint8_t *rec)
{
	unsigned int field = rec[0] % 24, idx = rec[1];
	struct virq_xcheck_vcpu *c = &vc[(rec[1] >> 6) % nv];
	uint64_t val = rd16(rec + 2) | (uint64_t)rd16(rec + 4) << 16;
	unsigned int p = idx % VIRQ_XC_PATH__COUNT, r = idx % VIRQ_XC_EXIT_REASONS;

	val %= 1000; /* small counts collide more often, which is where the rules bite */
	switch (field) {
	case 0:
		vm->vector_path[idx] = (uint8_t)(val % (VIRQ_XC_PATH__COUNT + 1));
		break;
	case 1:
		vm->vmm[p].injected = val;
		break;
	case 2:
		vm->vmm[p].coalesced = val;
		break;
	case 3:
		vm->vmm[p].ignored = val;
		break;
	case 4:
		vm->vmm[p].cpus_reached = val;
		vm->vmm[p].flags = val & 1;
		break;
	case 5:
		vm->kern[p].source = val;
		break;
	case 6:
		vm->kern[p].accepts = val;
		break;
	case 7:
		vm->kern[p].source_tp = (uint32_t)(val % VIRQ_XC_TP__COUNT);
		break;
	case 8:
		vm->kern[p].accept_tp = (uint32_t)(val % VIRQ_XC_TP__COUNT);
		break;
	case 9:
		c->vmm_injected[idx] = val;
		break;
	case 10:
		c->vmm_coalesced[idx] = val;
		break;
	case 11:
		c->k_accept[idx] = val;
		break;
	case 12:
		c->k_eoi[idx] = val;
		break;
	case 13:
		c->guest_received[idx] = val;
		break;
	case 14:
		c->vmm_exits[r] = val;
		break;
	case 15:
		c->k_userspace_exit[r] = val;
		break;
	case 16:
		c->stat[idx % VIRQ_XC_STAT__COUNT] = val;
		break;
	case 17:
		c->k_eoi_none = val;
		c->guest_eoi_written = val / 2;
		break;
	case 18:
		c->k_pio = val;
		c->k_mmio = val / 3;
		c->k_exit = val / 2;
		break;
	case 19:
		vm->k_source_vec[idx] = val;
		break;
	case 20:
		vm->level_vectors[idx % 4] ^= 1ull << (val % 64);
		break;
	case 21:
		in->tp[idx % VIRQ_XC_TP__COUNT].state = (uint32_t)(val % VIRQ_XC_SRC__COUNT);
		break;
	case 22:
		in->stat_src[idx % VIRQ_XC_STAT__COUNT].state =
			(uint32_t)(val % VIRQ_XC_SRC__COUNT);
		break;
	default:
		c->k_inj_virq = val;
		c->k_posted = val / 2;
		break;
	}
}

static uint64_t value_of(const struct virq_xcheck_check *c, const char *name)
{
	for (unsigned int v = 0; v < c->nr_values && v < VIRQ_XC_MAX_VALUES; v++)
		if (!strcmp(c->values[v].name, name))
			return c->values[v].value;
	return 0;
}

/* Surplus a consistent check may show over its expectation: kvm_userspace_exit events of
 * KVM_RUN calls that returned -EINTR (kicks) repeat the previous exit reason. */
static uint64_t allowed_surplus(const struct virq_xcheck_check *c)
{
	return c->kind == VIRQ_XC_K_EXIT_REASON ? value_of(c, "vmm.eintr") : 0;
}

static bool exact_kind(const struct virq_xcheck_check *c, uint32_t vmflags)
{
	switch (c->kind) {
	case VIRQ_XC_K_IRQ_STAT:
	case VIRQ_XC_K_NMI_STAT:
	case VIRQ_XC_K_EXIT_IO_EVENTS:
	case VIRQ_XC_K_EXIT_MMIO_EVENTS:
		return false;
	case VIRQ_XC_K_EXIT_IO_STAT: /* an upper bound with an in-kernel PIC/PIT */
		return !(vmflags & VIRQ_XC_VM_LAPIC_IN_KERNEL);
	default:
		return true;
	}
}

static void check_invariants(const struct virq_xcheck_report *r, uint32_t vmflags)
{
	uint64_t sum = 0;

	for (unsigned int v = 0; v < VIRQ_XC_VERDICT__COUNT; v++)
		sum += r->by_verdict[v];
	if (r->nr_checks > VIRQ_XC_MAX_CHECKS || sum != r->nr_checks + r->dropped_checks)
		abort();
	for (uint32_t i = 0; i < r->nr_checks; i++) {
		const struct virq_xcheck_check *c = &r->checks[i];

		if (c->verdict >= VIRQ_XC_VERDICT__COUNT || c->kind >= VIRQ_XC_KIND__COUNT ||
		    c->path > VIRQ_XC_PATH_VM || c->nr_values > VIRQ_XC_MAX_VALUES ||
		    !memchr(c->detail, 0, sizeof(c->detail)))
			abort();
		switch (c->verdict) {
		case VIRQ_XC_CONSISTENT:
		case VIRQ_XC_COALESCED:
			if (c->observed < c->expected ||
			    (exact_kind(c, vmflags) &&
			     c->observed - c->expected > allowed_surplus(c)))
				abort();
			if (c->verdict == VIRQ_XC_COALESCED && !c->coalesced)
				abort();
			break;
		case VIRQ_XC_LOST:
			if (c->observed >= c->expected)
				abort();
			break;
		case VIRQ_XC_SPURIOUS:
			if (c->observed <= c->expected)
				abort();
			break;
		case VIRQ_XC_REFIRED:
			if (!c->refired || c->observed != c->expected + c->refired)
				abort();
			break;
		case VIRQ_XC_PENDING:
			if (!c->pending || (vmflags & VIRQ_XC_VM_QUIESCED))
				abort();
			break;
		case VIRQ_XC_MISROUTED:
			if (!c->misrouted)
				abort();
			break;
		default:
			break;
		}
	}
	for (uint32_t i = 0; i < r->nr_findings; i++)
		if (r->findings[i].status >= VIRQ_XC_DEV_STATUS__COUNT ||
		    (!r->findings[i].positive && !r->findings[i].negative))
			abort();
}

/*
 * Values are compared exactly, duplicate names included: a check may carry two values of
 * the same name (source_tp == accept_tp), which once came back from JSON with the first
 * one's number (corpus file dup-value-names).
 */
static bool same_check(const struct virq_xcheck_check *a, const struct virq_xcheck_check *b)
{
	if (strcmp(a->vm, b->vm) || a->path != b->path || a->kind != b->kind ||
	    a->verdict != b->verdict || a->nr_values != b->nr_values || a->vcpu != b->vcpu ||
	    a->index != b->index || a->expected != b->expected || a->observed != b->observed ||
	    a->coalesced != b->coalesced || a->pending != b->pending ||
	    a->misrouted != b->misrouted || a->refired != b->refired ||
	    strcmp(a->detail, b->detail))
		return false;
	for (unsigned int i = 0; i < a->nr_values && i < VIRQ_XC_MAX_VALUES; i++)
		if (strcmp(a->values[i].name, b->values[i].name) ||
		    a->values[i].value != b->values[i].value)
			return false;
	return true;
}

static bool same_finding(const struct virq_xcheck_finding *a, const struct virq_xcheck_finding *b)
{
	return !strcmp(a->vm, b->vm) && a->kind == b->kind && a->status == b->status &&
	       a->vcpu == b->vcpu && a->vector == b->vector && a->positive == b->positive &&
	       a->negative == b->negative && a->count == b->count && !strcmp(a->detail, b->detail);
}

/* to_json -> text -> from_json gives back *r (the control socket's path to virqctl). */
static void check_round_trip(const struct virq_xcheck_report *r)
{
	cJSON *j = virq_xcheck_report_to_json(r), *j2;
	char *text;

	if (!j)
		abort();
	text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!text)
		abort();
	j2 = cJSON_Parse(text);
	free(text);
	if (!j2 || virq_xcheck_report_from_json(j2, &back))
		abort();
	cJSON_Delete(j2);
	if (back.nr_checks != r->nr_checks || back.nr_findings != r->nr_findings ||
	    back.dropped_checks != r->dropped_checks ||
	    back.dropped_findings != r->dropped_findings ||
	    back.dropped_evidence != r->dropped_evidence ||
	    memcmp(back.by_verdict, r->by_verdict, sizeof(r->by_verdict)))
		abort();
	for (uint32_t i = 0; i < r->nr_checks; i++)
		if (!same_check(&back.checks[i], &r->checks[i]))
			abort();
	for (uint32_t i = 0; i < r->nr_findings; i++)
		if (!same_finding(&back.findings[i], &r->findings[i]))
			abort();
}

static void check_table(const struct virq_xcheck_report *r)
{
	size_t need = virq_xcheck_report_to_table(r, table, sizeof(table));

	if (need < sizeof(table) && strlen(table) != need)
		abort();
}

/* A report as JSON text (see the top comment). */
static int fuzz_json(const uint8_t *data, size_t size)
{
	cJSON *j = cJSON_ParseWithLength((const char *)data, size);
	int err;

	if (!j)
		return 0;
	err = virq_xcheck_report_from_json(j, &rep);
	cJSON_Delete(j);
	if (err) {
		if ((err != -EINVAL && err != -E2BIG) || rep.nr_checks || rep.nr_findings)
			abort();
		return 0;
	}
	if (rep.nr_checks > VIRQ_XC_MAX_CHECKS || rep.nr_findings > VIRQ_XC_MAX_FINDINGS)
		abort();
	for (uint32_t i = 0; i < rep.nr_checks; i++) {
		const struct virq_xcheck_check *c = &rep.checks[i];

		if (c->path > VIRQ_XC_PATH_VM || c->kind >= VIRQ_XC_KIND__COUNT ||
		    c->verdict >= VIRQ_XC_VERDICT__COUNT || c->nr_values > VIRQ_XC_MAX_VALUES ||
		    !memchr(c->vm, 0, sizeof(c->vm)) || !memchr(c->detail, 0, sizeof(c->detail)))
			abort();
		for (unsigned int v = 0; v < c->nr_values; v++)
			if (!memchr(c->values[v].name, 0, sizeof(c->values[v].name)))
				abort();
	}
	for (uint32_t i = 0; i < rep.nr_findings; i++) {
		const struct virq_xcheck_finding *f = &rep.findings[i];

		if (f->kind >= VIRQ_XC_DEV__COUNT || f->status >= VIRQ_XC_DEV_STATUS__COUNT ||
		    !memchr(f->vm, 0, sizeof(f->vm)) || !memchr(f->detail, 0, sizeof(f->detail)))
			abort();
	}
	check_table(&rep);
	check_round_trip(&rep);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virq_xcheck_vcpu vc[VIRQ_XC_MAX_VCPUS + 1];
	struct virq_xcheck_input in;
	struct virq_xcheck_vm vm;
	unsigned int nv;
	int err;

	if (size && data[0] == '{')
		return fuzz_json(data, size);
	if (size < 4)
		return 0;
	virq_xcheck_input_init(&in);
	virq_xcheck_vm_init(&vm);
	memset(vc, 0, sizeof(vc));
	for (unsigned int t = 1; t < VIRQ_XC_TP__COUNT; t++)
		in.tp[t].state = VIRQ_XC_SRC_LIVE;
	strcpy(vm.name, "fuzz");
	nv = data[0] % 4 + 1;
	if (data[0] == 0xff)
		nv = VIRQ_XC_MAX_VCPUS + 1; /* the bound */
	vm.flags = data[1];
	vm.injectors = data[2] % 4;
	for (unsigned int i = 0; i < nv; i++)
		vc[i].vcpu_id = vc[i].apic_id = i;
	vm.nr_vcpus = nv;
	vm.vcpus = vc;
	for (size_t off = 4; off + 6 <= size; off += 6)
		set_field(&vm, vc, nv > 4 ? 4 : nv, &in, data + off);
	for (unsigned int i = 0; i < nv; i++)
		vc[i].stat_valid = data[3];
	in.nr_vms = 1;
	in.vms = &vm;

	err = virq_xcheck_run(&in, &rep);
	if (nv > VIRQ_XC_MAX_VCPUS) {
		if (err != -E2BIG)
			abort();
		return 0;
	}
	if (err)
		abort();
	check_invariants(&rep, vm.flags);
	check_table(&rep);
	check_round_trip(&rep);
	return 0;
}
