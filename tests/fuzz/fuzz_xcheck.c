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
 * misrouted: something moved); details are terminated; the table's length is exact.
 *
 * The engine sources are compiled in (no libcjson: `make fuzz` links the irqchip sources
 * only, and the JSON side is exercised by the unit tests).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/xcheck/engine.c"
#include "../../daemon/xcheck/names.c"
#include "../../daemon/xcheck/report.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

static bool exact_kind(const struct virq_xcheck_check *c, uint32_t vmflags)
{
	switch (c->kind) {
	case VIRQ_XC_K_IRQ_STAT:
	case VIRQ_XC_K_NMI_STAT:
	case VIRQ_XC_K_EXIT_IO_EVENTS:
	case VIRQ_XC_K_EXIT_MMIO_EVENTS:
		return false;
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
			    (exact_kind(c, vmflags) && c->observed != c->expected))
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virq_xcheck_vcpu vc[VIRQ_XC_MAX_VCPUS + 1];
	static struct virq_xcheck_report rep;
	static char table[1 << 20];
	struct virq_xcheck_input in;
	struct virq_xcheck_vm vm;
	unsigned int nv;
	size_t need;
	int err;

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
	need = virq_xcheck_report_to_table(&rep, table, sizeof(table));
	if (need < sizeof(table) && strlen(table) != need)
		abort();
	return 0;
}
