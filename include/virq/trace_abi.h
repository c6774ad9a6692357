/* SPDX-License-Identifier: MIT */
/*
 * virq trace ABI: the map keys, values and ring-buffer records shared by the BPF programs
 * (bpf/virq_trace.bpf.c) and their loader (daemon/trace/). Fixed-width types only,
 * explicit padding, no pointers: the same bytes are read by both sides, so every struct
 * here is append-only and its size is checked at compile time.
 *
 * Included from BPF code (after vmlinux.h, which provides __u32/__u64) and from
 * userspace (which gets them from <linux/types.h>).
 */
#ifndef VIRQ_TRACE_ABI_H
#define VIRQ_TRACE_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define VIRQ_TRACE_ABI_VERSION 1

/* Events. The first VIRQ_TEV__TP_COUNT are KVM tracepoints (one attach point each, in this
 * order); the rest are derived counts. Append only. */
enum virq_trace_event {
	VIRQ_TEV_SET_IRQ = 0, /* kvm_set_irq: arg = GSI, aux = irq_source_id */
	VIRQ_TEV_MSI_SET_IRQ, /* kvm_msi_set_irq: arg = vector, aux = destination ID */
	VIRQ_TEV_PIC_SET_IRQ, /* kvm_pic_set_irq: arg = chip * 8 + pin */
	VIRQ_TEV_IOAPIC_SET_IRQ, /* kvm_ioapic_set_irq: arg = pin, aux = vector | RTE dest << 8 */
	VIRQ_TEV_APIC_ACCEPT_IRQ, /* kvm_apic_accept_irq: arg = vector, aux = APIC ID */
	VIRQ_TEV_APICV_ACCEPT_IRQ, /* kvm_apicv_accept_irq (posted): arg = vector, aux = APIC ID */
	VIRQ_TEV_APIC_IPI, /* kvm_apic_ipi: arg = vector, aux = destination ID */
	VIRQ_TEV_EOI, /* kvm_eoi: arg = vector (0xffffffff = guest EOI, vector -1) */
	VIRQ_TEV_ACK_IRQ, /* kvm_ack_irq: arg = irqchip * 256 + pin */
	VIRQ_TEV_INJ_VIRQ, /* kvm_inj_virq: arg = vector, aux = soft */
	VIRQ_TEV_PI_IRTE_UPDATE, /* kvm_pi_irte_update: arg = GSI, aux = guest vector */
	VIRQ_TEV_VCPU_WAKEUP, /* kvm_vcpu_wakeup: arg = waited (1) or polled (0) */
	VIRQ_TEV_ENTRY, /* kvm_entry: arg = 0 */
	VIRQ_TEV_EXIT, /* kvm_exit: arg = exit reason, flags carry the ISA */
	VIRQ_TEV_USERSPACE_EXIT, /* kvm_userspace_exit: arg = KVM_EXIT_* reason */
	VIRQ_TEV_PIO, /* kvm_pio: arg = port, aux = rw */
	VIRQ_TEV_MMIO, /* kvm_mmio: arg = type, aux = gpa >> 12 (low 32 bits) */
	VIRQ_TEV__TP_COUNT,
	/* derived */
	VIRQ_TEV_EXIT_EXTINT = VIRQ_TEV__TP_COUNT, /* external-interrupt exits (VMX 1, SVM 0x60) */
	VIRQ_TEV_DELIVER_POSTED, /* fixed/lowest accept delivered as a posted interrupt */
	VIRQ_TEV_DELIVER_NONPOSTED, /* fixed/lowest accept delivered through IRR + event injection */
	VIRQ_TEV_IRQFD_INJECT, /* irqfd_inject work run by a kworker (workqueue_execute_start) */
	VIRQ_TEV__COUNT
};

/* VM/vCPU unknown markers. */
#define VIRQ_TRACE_VCPU_NONE 0xffffffffu
#define VIRQ_TRACE_VM_NONE 0u

/* virq_trace_key.flags */
#define VIRQ_TKF_ISA_SHIFT 0 /* kvm_exit: 1 VMX, 2 SVM (KVM_ISA_VMX/SVM), 0 unknown */
#define VIRQ_TKF_ISA_MASK 0x3u
#define VIRQ_TKF_VM_FROM_VCPU (1u << 2) /* VM found through the running vCPU */
#define VIRQ_TKF_VM_FROM_IOCTL (1u << 3) /* VM found through the ioctl's fd (VMM thread) */
#define VIRQ_TKF_VM_FROM_IRQFD (1u << 4) /* VM found through an irqfd kworker */
/* kvm_apic_accept_irq of a fixed or lowest-priority interrupt (through IRR, postable) */
#define VIRQ_TKF_IRR (1u << 5)
/* Delivery mode of kvm_apic_accept_irq, kvm_apic_ipi (ICR bits 10:8) and kvm_msi_set_irq
 * (data bits 10:8), as enum virq_delivery_mode of irq.h (SDM Vol. 3A 11.6.1, 11.11.2).
 * Only fixed and lowest priority wait for an EOI. */
#define VIRQ_TKF_DM_SHIFT 6
#define VIRQ_TKF_DM_MASK 0x7u
#define VIRQ_TKF_DM(f) (((f) >> VIRQ_TKF_DM_SHIFT) & VIRQ_TKF_DM_MASK)
/* kvm_pic_set_irq: the pin's IMR bit is set; kvm_ioapic_set_irq: the RTE's mask bit 16 is
 * set (82093AA 3.2.4). The chip ignored the line change. */
#define VIRQ_TKF_MASKED (1u << 9)
/* kvm_pic_set_irq / kvm_ioapic_set_irq: the tracepoint's own `coalesced` (KVM's return 0:
 * the line was already pending, or no LAPIC took the message). */
#define VIRQ_TKF_COALESCED (1u << 10)
/* Level-triggered: the RTE's trigger bit 15, the accept's trig_mode, ICR/MSI bit 15. */
#define VIRQ_TKF_LEVEL_TRIG (1u << 11)
/* A de-assertion, not an interrupt: kvm_set_irq with level 0 and the kvm_pic_set_irq /
 * kvm_ioapic_set_irq it causes in the same thread; an IPI or MSI with level bit 14 clear
 * and the level trigger (only INIT uses that form, SDM Vol. 3A 11.6.1). */
#define VIRQ_TKF_DEASSERT (1u << 12)
/* kvm_inj_virq: the re-injection of an event whose delivery an exit interrupted (SDM Vol.
 * 3C 27.2.4): the same interrupt, injected again. */
#define VIRQ_TKF_REINJECTED (1u << 13)
/* pic/ioapic line change whose kvm_set_irq was not seen in the same thread just before
 * (its assert/de-assert is unknown: VIRQ_TKF_DEASSERT is then meaningless). */
#define VIRQ_TKF_LINE_UNKNOWN (1u << 14)
/* kvm_msi_set_irq, kvm_apic_ipi, kvm_ioapic_set_irq: the destination is not one APIC ID
 * (logical destination mode, or an ICR shorthand): aux says no single target. */
#define VIRQ_TKF_DEST_UNKNOWN (1u << 15)
/* The flags that describe the event itself, not its attribution. */
#define VIRQ_TKF_EVENT_MASK                                                                   \
	(VIRQ_TKF_IRR | (VIRQ_TKF_DM_MASK << VIRQ_TKF_DM_SHIFT) | VIRQ_TKF_MASKED |           \
	 VIRQ_TKF_COALESCED | VIRQ_TKF_LEVEL_TRIG | VIRQ_TKF_DEASSERT | VIRQ_TKF_REINJECTED | \
	 VIRQ_TKF_LINE_UNKNOWN | VIRQ_TKF_DEST_UNKNOWN)

/* A vCPU thread ("threads" map, key: tid). */
struct virq_trace_thread {
	__u32 tgid; /* its process */
	__u32 vm_id; /* its VM's cookie */
	__u32 vcpu_id; /* the vCPU it ran */
	__u32 pad;
};

/* Per-CPU counter key ("counters" map, a per-CPU hash). */
struct virq_trace_key {
	__u32 tgid; /* VMM process: kvm->userspace_pid when the VM is known, else current tgid */
	__u32 vm_id; /* per-VM cookie (see virq_trace_vm), VIRQ_TRACE_VM_NONE when unknown */
	__u32 vcpu_id; /* kvm_vcpu.vcpu_id, or VIRQ_TRACE_VCPU_NONE */
	__u16 event; /* enum virq_trace_event */
	__u16 flags; /* VIRQ_TKF_* */
	__u32 arg; /* vector / GSI / exit reason / port, per event (see the enum) */
	__u32 aux; /* second per-event value (APIC ID, destination, ...) */
};

/* Latency histograms (log2 of nanoseconds). */
enum virq_trace_hist {
	VIRQ_THIST_SRC_TO_ACCEPT = 0, /* kvm_set_irq/msi_set_irq/apic_ipi -> kvm_apic_accept_irq */
	VIRQ_THIST_ACCEPT_TO_INJECT, /* accept -> kvm_inj_virq or kvm_apicv_accept_irq */
	VIRQ_THIST_ACCEPT_TO_VCPU, /* accept -> vCPU-side kvm_eoi (auto-EOI hosts) or kvm_entry */
	VIRQ_THIST_WAKEUP, /* kvm_vcpu_wakeup: time halted or polled (the event's own ns) */
	VIRQ_THIST__COUNT
};

#define VIRQ_TRACE_HIST_SLOTS 40 /* slot i holds [2^i, 2^(i+1)) ns; slot 0 holds 0 and 1 */

struct virq_trace_hist_key {
	__u32 tgid;
	__u32 vm_id;
	__u32 hist; /* enum virq_trace_hist */
	__u32 pad;
};

struct virq_trace_hist_val {
	__u64 slots[VIRQ_TRACE_HIST_SLOTS];
	__u64 count;
	__u64 sum_ns;
};

/* A VM seen by the programs ("vms" hash, keyed by vm_id). */
struct virq_trace_vm {
	__u32 userspace_pid; /* kvm->userspace_pid */
	__u32 pad;
	char stats_id[48]; /* kvm->stats_id, e.g. "kvm-1234" (KVM_STATS_NAME_SIZE) */
};

/* Ring-buffer record of the opt-in event stream. */
struct virq_trace_record {
	__u64 ts_ns; /* bpf_ktime_get_ns() */
	struct virq_trace_key key;
	__u32 tid; /* the thread the event ran in */
	__u32 cpu;
};

/* Global drop/diagnostic counters (struct virq_trace_cpu_counts.stats, per CPU). */
enum virq_trace_stat {
	VIRQ_TSTAT_RING_DROPS = 0, /* ring buffer full: records not written */
	VIRQ_TSTAT_COUNTER_FULL, /* counters map full: counts not recorded */
	VIRQ_TSTAT_HIST_FULL, /* histogram map full */
	VIRQ_TSTAT_PENDING_FULL, /* accept -> inject pairing: an open pair displaced by
				  * another that hashed to its slot (its latency is lost) */
	VIRQ_TSTAT_FILTERED, /* events dropped by the target filter */
	VIRQ_TSTAT_RING_RECORDS, /* records written to the ring buffer */
	VIRQ_TSTAT__COUNT
};

/* The counts at the start of each CPU's value of the "cpu" map (per-CPU array, key 0),
 * the rest of which are the programs' caches: events seen per attach point (the KVM
 * tracepoints, then the two kprobes), before filtering, and enum virq_trace_stat. */
#define VIRQ_TRACE_NR_SEEN (VIRQ_TEV__TP_COUNT + 2)
struct virq_trace_cpu_counts {
	__u64 seen[VIRQ_TRACE_NR_SEEN];
	__u64 stats[VIRQ_TSTAT__COUNT];
};

/* Right after the counts: each CPU's cache of counter keys, direct-mapped by a hash of the
 * key. A cached key's counts accumulate in `pending`, next to the key they are compared
 * with, and move to the key's slot in the "counters" map only when another key takes the
 * entry: a counted event touches no memory beyond this. A reader adds the pending counts
 * of every entry it read twice with the same even, nonzero gen (a seqlock: the programs
 * make gen odd before they flush and rewrite an entry, even again after), after reading
 * the counters: a count is then at worst seen late, never twice. */
#define VIRQ_TRACE_KCACHE 64 /* power of two */
struct virq_trace_kcache {
	__u64 w[3]; /* struct virq_trace_key */
	__u64 pending; /* counts of the key not yet in its slot's counter */
	__u32 slot;
	__u32 gen; /* 0: never used; odd: being rewritten */
};

struct virq_trace_cpu_head {
	struct virq_trace_cpu_counts counts;
	struct virq_trace_kcache kc[VIRQ_TRACE_KCACHE];
};

/* Settings in .rodata (set before load). */
#define VIRQ_TRACE_RING_WAKEUP_DEFAULT 64 /* wake the reader every Nth record */
/* Latency histograms time one delivery chain in N per CPU (source -> accept -> injection):
 * two clock reads per chain are most of what a traced injection costs (bench/trace_bench). */
#define VIRQ_TRACE_LATENCY_SAMPLE_DEFAULT 16

#ifndef __VMLINUX_H__
_Static_assert(sizeof(struct virq_trace_key) == 24, "virq_trace_key layout");
_Static_assert(sizeof(struct virq_trace_hist_key) == 16, "virq_trace_hist_key layout");
_Static_assert(sizeof(struct virq_trace_hist_val) == (VIRQ_TRACE_HIST_SLOTS + 2) * 8,
	       "virq_trace_hist_val layout");
_Static_assert(sizeof(struct virq_trace_vm) == 56, "virq_trace_vm layout");
_Static_assert(sizeof(struct virq_trace_record) == 40, "virq_trace_record layout");
_Static_assert(sizeof(struct virq_trace_kcache) == 40, "virq_trace_kcache layout");
#endif

#endif /* VIRQ_TRACE_ABI_H */
