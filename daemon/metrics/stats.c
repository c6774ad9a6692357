// SPDX-License-Identifier: MIT
/* The statistics snapshot: construction, bounded dynamic arrays, names. */
#include "virq/stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *virq_stats_path_name(enum virq_stats_path p)
{
	static const char *const names[VIRQ_SPATH__COUNT] = {
		[VIRQ_SPATH_PIC] = "pic",	[VIRQ_SPATH_IOAPIC] = "ioapic",
		[VIRQ_SPATH_MSI] = "msi",	[VIRQ_SPATH_IPI] = "ipi",
		[VIRQ_SPATH_NMI] = "nmi",	[VIRQ_SPATH_TIMER] = "timer",
		[VIRQ_SPATH_POSTED] = "posted",
	};
	return (unsigned)p < VIRQ_SPATH__COUNT ? names[p] : "unknown";
}

const char *virq_vm_mode_name(enum virq_vm_mode m)
{
	static const char *const names[VIRQ_VM_MODE__COUNT] = { "kernel", "split", "user",
								"observed" };
	return (unsigned)m < VIRQ_VM_MODE__COUNT ? names[m] : "unknown";
}

const char *virq_vm_origin_name(enum virq_vm_origin o)
{
	static const char *const names[VIRQ_VM_ORIGIN__COUNT] = { "started", "observed" };
	return (unsigned)o < VIRQ_VM_ORIGIN__COUNT ? names[o] : "unknown";
}

const char *virq_verdict_name(enum virq_verdict v)
{
	static const char *const names[VIRQ_VERDICT__COUNT] = {
		"consistent", "coalesced", "lost", "spurious", "misrouted", "unobservable",
	};
	return (unsigned)v < VIRQ_VERDICT__COUNT ? names[v] : "unknown";
}

const char *virq_exit_source_name(enum virq_exit_source s)
{
	static const char *const names[VIRQ_EXIT_SRC__COUNT] = { "vmm", "kvm_stats", "bpf" };
	return (unsigned)s < VIRQ_EXIT_SRC__COUNT ? names[s] : "unknown";
}

const char *virq_attach_state_name(enum virq_attach_state s)
{
	static const char *const names[VIRQ_ATTACH__COUNT] = { "live", "silent", "unavailable" };
	return (unsigned)s < VIRQ_ATTACH__COUNT ? names[s] : "unknown";
}

const char *virq_bpf_lost_name(enum virq_bpf_lost w)
{
	static const char *const names[VIRQ_BPF_LOST__COUNT] = {
		[VIRQ_BPF_LOST_COUNTER_FULL] = "counter_full",
		[VIRQ_BPF_LOST_HIST_FULL] = "hist_full",
		[VIRQ_BPF_LOST_PAIR_DISPLACED] = "pair_displaced",
	};
	return (unsigned)w < VIRQ_BPF_LOST__COUNT ? names[w] : "unknown";
}

int virq_stats_path_from_irq(enum virq_path p)
{
	switch (p) {
	case VIRQ_PATH_PIC:
		return VIRQ_SPATH_PIC;
	case VIRQ_PATH_IOAPIC:
		return VIRQ_SPATH_IOAPIC;
	case VIRQ_PATH_MSI:
		return VIRQ_SPATH_MSI;
	case VIRQ_PATH_IPI:
		return VIRQ_SPATH_IPI;
	case VIRQ_PATH_NMI:
		return VIRQ_SPATH_NMI;
	case VIRQ_PATH_TIMER:
		return VIRQ_SPATH_TIMER;
	default:
		return -EINVAL;
	}
}

/* Copies with truncation; always NUL-terminates. */
static void copy_name(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Makes room for one more element of `elem` bytes in *arr, growing geometrically up to
 * `max` elements. 0, -E2BIG or -ENOMEM. */
static int grow(void **arr, uint32_t nr, uint32_t *cap, size_t elem, uint32_t max)
{
	uint32_t ncap;
	void *p;

	if (nr < *cap)
		return 0;
	if (nr >= max)
		return -E2BIG;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap > max)
		ncap = max;
	p = realloc(*arr, (size_t)ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

struct virq_stats_snapshot *virq_stats_snapshot_new(void)
{
	struct virq_stats_snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		errno = ENOMEM;
	return s;
}

static void vm_free(struct virq_stats_vm *vm)
{
	if (!vm)
		return;
	free(vm->exits);
	free(vm->kvm_stats);
	free(vm->vectors);
	free(vm->gsis);
	free(vm);
}

void virq_stats_snapshot_free(struct virq_stats_snapshot *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nr_vms; i++)
		vm_free(s->vms[i]);
	free(s->vms);
	free(s);
}

struct virq_stats_vm *virq_stats_add_vm(struct virq_stats_snapshot *s, const char *name,
					enum virq_vm_mode mode, enum virq_vm_origin origin,
					uint32_t nr_vcpus, int32_t pid)
{
	struct virq_stats_vm *vm;
	int err;

	if (!s || !name || (unsigned)mode >= VIRQ_VM_MODE__COUNT ||
	    (unsigned)origin >= VIRQ_VM_ORIGIN__COUNT || nr_vcpus > VIRQ_STATS_MAX_VCPUS) {
		errno = EINVAL;
		return NULL;
	}
	err = grow((void **)&s->vms, s->nr_vms, &s->cap_vms, sizeof(*s->vms), VIRQ_STATS_MAX_VMS);
	if (err) {
		if (err == -E2BIG)
			s->stats_dropped++;
		errno = -err;
		return NULL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		errno = ENOMEM;
		return NULL;
	}
	copy_name(vm->name, sizeof(vm->name), name);
	vm->mode = mode;
	vm->origin = origin;
	vm->nr_vcpus = nr_vcpus;
	vm->pid = pid;
	s->vms[s->nr_vms++] = vm;
	return vm;
}

static bool vcpu_ok(const struct virq_stats_vm *vm, int32_t vcpu)
{
	return vcpu == VIRQ_STATS_VCPU_VM || (vcpu >= 0 && (uint32_t)vcpu < vm->nr_vcpus);
}

int virq_stats_vm_add_exit(struct virq_stats_vm *vm, int32_t vcpu, enum virq_exit_source src,
			   const char *reason, uint64_t count)
{
	struct virq_stats_exit *e;
	int err;

	if (!vm || !reason || !vcpu_ok(vm, vcpu) || (unsigned)src >= VIRQ_EXIT_SRC__COUNT)
		return -EINVAL;
	/* One entry per (vCPU, source, reason), however callers interleave them (BPF counter
	 * keys come in map order): a duplicate would be two series with one label set. */
	for (uint32_t i = vm->nr_exits; i-- > 0;) {
		e = &vm->exits[i];
		if (e->vcpu == vcpu && e->source == src &&
		    !strncmp(e->reason, reason, sizeof(e->reason) - 1)) {
			e->count += count;
			return 0;
		}
	}
	err = grow((void **)&vm->exits, vm->nr_exits, &vm->cap_exits, sizeof(*vm->exits),
		   VIRQ_STATS_MAX_EXITS);
	if (err)
		return err;
	e = &vm->exits[vm->nr_exits++];
	e->vcpu = vcpu;
	e->source = (uint8_t)src;
	copy_name(e->reason, sizeof(e->reason), reason);
	e->count = count;
	return 0;
}

int virq_stats_vm_add_kvm_stat(struct virq_stats_vm *vm, int32_t vcpu, const char *name,
			       uint64_t value)
{
	struct virq_stats_kvm_stat *k;
	int err;

	if (!vm || !name || !vcpu_ok(vm, vcpu))
		return -EINVAL;
	for (uint32_t i = vm->nr_kvm_stats; i-- > 0;) {
		k = &vm->kvm_stats[i];
		if (k->vcpu != vcpu)
			break;
		if (!strncmp(k->name, name, sizeof(k->name) - 1)) {
			k->value += value;
			return 0;
		}
	}
	err = grow((void **)&vm->kvm_stats, vm->nr_kvm_stats, &vm->cap_kvm_stats,
		   sizeof(*vm->kvm_stats), VIRQ_STATS_MAX_KVM_STATS);
	if (err)
		return err;
	k = &vm->kvm_stats[vm->nr_kvm_stats++];
	k->vcpu = vcpu;
	copy_name(k->name, sizeof(k->name), name);
	k->value = value;
	return 0;
}

int virq_stats_vm_add_vector(struct virq_stats_vm *vm, enum virq_stats_path path, uint8_t vector,
			     uint64_t count)
{
	int err;

	if (!vm || (unsigned)path >= VIRQ_SPATH__COUNT)
		return -EINVAL;
	for (uint32_t i = 0; i < vm->nr_vectors; i++) {
		if (vm->vectors[i].path == path && vm->vectors[i].vector == vector) {
			vm->vectors[i].count += count;
			return 0;
		}
	}
	err = grow((void **)&vm->vectors, vm->nr_vectors, &vm->cap_vectors, sizeof(*vm->vectors),
		   VIRQ_STATS_MAX_VECTORS);
	if (err)
		return err;
	vm->vectors[vm->nr_vectors++] = (struct virq_stats_vector){ .path = (uint8_t)path,
								    .vector = vector,
								    .count = count };
	return 0;
}

int virq_stats_vm_add_gsi(struct virq_stats_vm *vm, uint32_t gsi, uint64_t count)
{
	int err;

	if (!vm || gsi >= VIRQ_STATS_MAX_GSIS)
		return -EINVAL;
	for (uint32_t i = 0; i < vm->nr_gsis; i++) {
		if (vm->gsis[i].gsi == gsi) {
			vm->gsis[i].count += count;
			return 0;
		}
	}
	err = grow((void **)&vm->gsis, vm->nr_gsis, &vm->cap_gsis, sizeof(*vm->gsis),
		   VIRQ_STATS_MAX_GSIS);
	if (err)
		return err;
	vm->gsis[vm->nr_gsis++] = (struct virq_stats_gsi){ .gsi = gsi, .count = count };
	return 0;
}

int virq_stats_add_bpf_point(struct virq_stats_snapshot *s, const char *tracepoint,
			     const char *variant, enum virq_attach_state state, uint64_t events)
{
	struct virq_stats_bpf_point *p;

	if (!s || !tracepoint || !variant || (unsigned)state >= VIRQ_ATTACH__COUNT)
		return -EINVAL;
	for (uint32_t i = 0; i < s->nr_bpf; i++) {
		p = &s->bpf[i];
		if (!strncmp(p->tracepoint, tracepoint, sizeof(p->tracepoint) - 1) &&
		    !strncmp(p->variant, variant, sizeof(p->variant) - 1)) {
			p->state = state;
			p->events = events;
			return 0;
		}
	}
	if (s->nr_bpf >= VIRQ_STATS_MAX_BPF_POINTS) {
		s->stats_dropped++;
		return -E2BIG;
	}
	p = &s->bpf[s->nr_bpf++];
	copy_name(p->tracepoint, sizeof(p->tracepoint), tracepoint);
	copy_name(p->variant, sizeof(p->variant), variant);
	p->state = state;
	p->events = events;
	return 0;
}

void virq_stats_hist_observe(struct virq_stats_hist *h, uint64_t ns)
{
	unsigned int slot = ns > 1 ? 63 - (unsigned int)__builtin_clzll(ns) : 0;

	if (slot >= VIRQ_STATS_HIST_SLOTS)
		slot = VIRQ_STATS_HIST_SLOTS - 1;
	h->slot[slot]++;
	h->sum_ns += ns;
}

uint64_t virq_stats_hist_count(const struct virq_stats_hist *h)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < VIRQ_STATS_HIST_SLOTS; i++)
		n += h->slot[i];
	return n;
}

void virq_stats_hist_estimate_sum(struct virq_stats_hist *h)
{
	uint64_t sum = 0;

	/* Slot 0 holds 0 and 1 ns: take 1. Slot i>0 spans [2^i, 2^(i+1)): take 3 * 2^(i-1). */
	sum += h->slot[0];
	for (unsigned int i = 1; i < VIRQ_STATS_HIST_SLOTS; i++)
		sum += h->slot[i] * (3ull << (i - 1));
	h->sum_ns = sum;
}
