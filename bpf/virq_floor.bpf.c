// SPDX-License-Identifier: GPL-2.0
/*
 * virq_floor: the floor under virq_trace's cost, for bench/trace_bench --kvm only.
 *
 * On each KVM tracepoint virq_trace uses, two tp_btf programs that do (almost) nothing:
 *   e_<tp>: returns at once: what the kernel's dispatch of a tracepoint to a BPF program
 *           costs by itself (nothing a program does can be cheaper);
 *   c_<tp>: one per-CPU array increment: the cheapest program that still counts.
 * The bench attaches one set at a time, so that the overhead of virq_trace can be read
 * against what attaching anything at all costs on the same machine in the same run.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define NR_FLOOR_POINTS 32

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_FLOOR_POINTS);
	__type(key, __u32);
	__type(value, __u64);
} floor_counts SEC(".maps");

static __always_inline int bump(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&floor_counts, &i);

	if (v)
		*v += 1;
	return 0;
}

#define FLOOR(tp, i)            \
	SEC("tp_btf/" #tp)      \
	int e_##tp(void *ctx)   \
	{                       \
		return 0;       \
	}                       \
	SEC("tp_btf/" #tp)      \
	int c_##tp(void *ctx)   \
	{                       \
		return bump(i); \
	}

FLOOR(kvm_set_irq, 0)
FLOOR(kvm_msi_set_irq, 1)
FLOOR(kvm_pic_set_irq, 2)
FLOOR(kvm_ioapic_set_irq, 3)
FLOOR(kvm_apic_accept_irq, 4)
FLOOR(kvm_apicv_accept_irq, 5)
FLOOR(kvm_apic_ipi, 6)
FLOOR(kvm_eoi, 7)
FLOOR(kvm_ack_irq, 8)
FLOOR(kvm_inj_virq, 9)
FLOOR(kvm_pi_irte_update, 10)
FLOOR(kvm_vcpu_wakeup, 11)
FLOOR(kvm_entry, 12)
FLOOR(kvm_exit, 13)
FLOOR(kvm_userspace_exit, 14)
FLOOR(kvm_pio, 15)
FLOOR(kvm_mmio, 16)
