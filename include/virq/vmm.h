/* SPDX-License-Identifier: MIT */
/*
 * virq VMM engine: small 64-bit guests on /dev/kvm, in three irqchip modes.
 *
 * This is the only part of virq that calls KVM ioctls (daemon/vmm/). A `struct virq_vm`
 * owns a KVM VM fd, its guest memory, one thread per vCPU and its devices. Many VMs may
 * exist in one process; a VM whose guest dies (triple fault, emulation error, failed
 * entry) stops with a recorded reason and never takes the process or other VMs down.
 *
 * Threading contract (applies to every function below unless stated otherwise):
 *   - virq_vm_create() / virq_vm_destroy() are called by the owner thread only, and
 *     virq_vm_destroy() must not race any other call on the same VM.
 *   - Everything else (start/pause/resume/stop, inject, snapshots, stats) is
 *     thread-safe and may be called from any thread, including concurrently; none of
 *     them may be called from a vCPU thread of the same VM.
 *   - Snapshots copy; the caller owns the copy. No pointer into the VM escapes.
 *
 * Errors: fallible functions return 0 or -errno; constructors return NULL with errno set
 * and, where an `err` buffer is given, a human-readable reason.
 *
 * Companion headers: virq/vmm_guest.h (guest memory layout and the guest ABI: ledger,
 * mailbox, PV-EOI page, page-table/GDT/IDT/TSS builder) and virq/vmm_kvm.h (pure
 * helpers: exit names, stats-fd parsing, exception merging, request bitmap).
 */
#ifndef VIRQ_VMM_H
#define VIRQ_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "virq/irq.h"

#define VIRQ_VM_MAX_VCPUS 64
#define VIRQ_VM_NAME_MAX 32
#define VIRQ_VM_MEM_MB_DEFAULT 16
#define VIRQ_VM_MEM_MB_MIN 8 /* the fixed guest layout (vmm_guest.h) needs 8 MiB */
#define VIRQ_VM_MEM_MB_MAX 1024
#define VIRQ_VM_REASON_MAX 160
#define VIRQ_VM_PATH_MAX 512 /* kernel and initrd paths, NUL included */
#define VIRQ_VM_APPEND_MAX 1024 /* the kernel command line, NUL included */
#define VIRQ_VM_KERNEL_MEM_MB_MIN 32 /* a guest kernel gets at least this much RAM */
#define VIRQ_VM_KERNEL_MEM_MB_DEFAULT 256 /* mem_mb 0 with a kernel */
#define VIRQ_NR_VECTORS 256

enum virq_irqchip_mode {
	VIRQ_IRQCHIP_KERNEL = 0, /* KVM_CREATE_IRQCHIP: in-kernel PIC, IOAPIC, LAPIC */
	VIRQ_IRQCHIP_SPLIT, /* in-kernel LAPIC; our PIC and IOAPIC models */
	VIRQ_IRQCHIP_USER, /* no in-kernel irqchip: our PIC, IOAPIC and LAPIC models */
	VIRQ_IRQCHIP__COUNT
};

enum virq_idle_style {
	VIRQ_IDLE_HLT = 0, /* CPL0 `sti; hlt` loop: KVM halts the vCPU */
	VIRQ_IDLE_CPL3_SPIN, /* CPL3 spin with IF=1, IOPL=3: runs natively here */
	VIRQ_IDLE__COUNT
};

struct virq_vm_config {
	char name[VIRQ_VM_NAME_MAX]; /* NUL-terminated; empty = "vm<N>" */
	uint32_t nr_vcpus; /* 1..VIRQ_VM_MAX_VCPUS */
	uint32_t mem_mb; /* VIRQ_VM_MEM_MB_MIN..MAX; 0 = default */
	enum virq_irqchip_mode irqchip;
	enum virq_idle_style idle;
	bool posted; /* user mode: post into the PI descriptor (else lock + direct to IRR) */
	bool x2apic; /* guest switches its LAPICs to x2APIC mode at boot */
	bool pv_eoi; /* user mode: paravirtual EOI for edge vectors (off: every EOI exits) */
	/*
	 * A guest kernel instead of the built-in firmware (daemon/vmm/kernel.c): a Linux
	 * bzImage or a Multiboot v1 kernel, as QEMU's -kernel/-initrd/-append load them, on
	 * the PC platform of daemon/hw (PIT, RTC, fw_cfg, debug-exit, pc-testdev, COM1, ACPI
	 * and MP tables). Empty: the built-in firmware. initrd and append need a kernel.
	 */
	char kernel[VIRQ_VM_PATH_MAX];
	char initrd[VIRQ_VM_PATH_MAX];
	char append[VIRQ_VM_APPEND_MAX];
	/* A raw disk image for a virtio-blk device (virtio 1.x over PCI, MSI-X) on the
	 * guest kernel's PCI bus 0; empty: none. Needs a kernel. */
	char disk[VIRQ_VM_PATH_MAX];
};

/* Fills the defaults: 1 vCPU, 16 MiB, kernel irqchip, HLT idle, posted, PV-EOI on. */
void virq_vm_config_init(struct virq_vm_config *cfg);
/* 0 or -EINVAL with a reason in err (NUL-terminated, may be truncated). */
int virq_vm_config_check(const struct virq_vm_config *cfg, char *err, size_t errlen);

const char *virq_irqchip_mode_name(enum virq_irqchip_mode m);
/* 0 and *out set, or -EINVAL. Accepts "kernel", "split", "user". */
int virq_irqchip_mode_parse(const char *s, enum virq_irqchip_mode *out);
const char *virq_idle_style_name(enum virq_idle_style s);
int virq_idle_style_parse(const char *s, enum virq_idle_style *out);

/*
 * Is the VMM usable on this host? Returns true, or false with `why` filled
 * ("/dev/kvm does not exist", "/dev/kvm: Permission denied", "KVM API version 11",
 * "missing capability KVM_CAP_IRQFD", ...). Any thread.
 */
bool virq_vmm_available(char *why, size_t whylen);

struct virq_vm;

/*
 * Creates the VM: KVM VM fd, guest memory (firmware, page tables, GDT, IDT, TSS,
 * ledger, mailbox), irqchip per cfg->irqchip, vCPUs with their registers set, devices.
 * No vCPU thread runs yet. Returns NULL with errno set and a reason in err.
 */
struct virq_vm *virq_vm_create(const struct virq_vm_config *cfg, char *err, size_t errlen);
/* Stops (if running) and frees everything. Accepts NULL. Owner thread. */
void virq_vm_destroy(struct virq_vm *vm);

enum virq_vm_state {
	VIRQ_VM_CREATED = 0, /* created, vCPU threads not started */
	VIRQ_VM_RUNNING,
	VIRQ_VM_PAUSED, /* every vCPU thread parked outside KVM_RUN */
	VIRQ_VM_STOPPED, /* stopped by request or by the guest (see reason) */
	VIRQ_VM_STATE__COUNT
};
const char *virq_vm_state_name(enum virq_vm_state s);

/* Spawns the vCPU threads (BSP runs, APs wait for INIT/SIPI). -EALREADY if started. */
int virq_vm_start(struct virq_vm *vm);
/* Kicks every vCPU out of KVM_RUN and parks it; returns when all are parked. */
int virq_vm_pause(struct virq_vm *vm);
int virq_vm_resume(struct virq_vm *vm);
/* Stops and joins the vCPU threads; reason "stopped by request". Idempotent. */
int virq_vm_stop(struct virq_vm *vm);
/* Waits until the guest firmware on every vCPU reported ready, or timeout: 0/-ETIMEDOUT,
 * -ESHUTDOWN if the VM stopped meanwhile. */
int virq_vm_wait_ready(struct virq_vm *vm, unsigned int timeout_ms);

/* State and, when STOPPED, why (e.g. "triple fault on vCPU 1"); reason may be NULL. */
enum virq_vm_state virq_vm_state(const struct virq_vm *vm, char *reason, size_t reasonlen);
const char *virq_vm_name(const struct virq_vm *vm);
const struct virq_vm_config *virq_vm_get_config(const struct virq_vm *vm);

/* The VMM process and the vCPU thread ids (for BPF attribution). Returns how many
 * tids were written (<= max); tids of vCPUs not started are 0. */
pid_t virq_vm_pid(const struct virq_vm *vm);
int virq_vm_threads(const struct virq_vm *vm, pid_t *tids, unsigned int max);

/* --- guest kernels (cfg.kernel) ------------------------------------------------- */

/* Time the VM has run: from virq_vm_start to its stop (guest power-off, exit, failure or
 * request), or to now while it runs; 0 before the start. ns. */
uint64_t virq_vm_run_ns(const struct virq_vm *vm);
/* "firmware" (built-in), "linux" or "multiboot". */
const char *virq_vm_boot_kind(const struct virq_vm *vm);
/* vCPUs on which KVM does not hold the guest to the PV features of CPUID leaf 0x40000001
 * (KVM_CAP_ENFORCE_PV_FEATURE_CPUID missing or refused; see vm.c): 0 normally. Fixed at
 * creation. */
unsigned int virq_vm_pv_unenforced(const struct virq_vm *vm);
/* The status the guest left with through isa-debug-exit ((code << 1) | 1, as QEMU's
 * process exit code) or 0 for an ACPI/0x8900 power-off; -1 while it has not. */
int virq_vm_exit_status(const struct virq_vm *vm);
/*
 * The guest's COM1 output from byte position `from` (0 = the first byte ever written):
 * up to len bytes into buf, the count returned, *next the position to ask for next,
 * *lost (may be NULL) bytes since `from` already overwritten in the 64 KiB ring.
 */
size_t virq_vm_console(struct virq_vm *vm, uint64_t from, char *buf, size_t len, uint64_t *next,
		       uint64_t *lost);

/* The PC platform's counters (guest-kernel VMs only: -ENODEV otherwise). */
struct virq_vm_platform_stats {
	bool kvm_pit; /* KVM's PIT (kernel mode) rather than ours: pit_* stay 0 */
	uint64_t pit_irqs, pit_coalesced; /* IRQ 0 rising edges; edges merged by lateness */
	uint64_t rtc_irqs, rtc_coalesced; /* IRQ 8 assertions; periodic flags merged */
	uint64_t timer_wakeups; /* device-timer expiries */
	uint64_t unclaimed_pio, unclaimed_mmio; /* accesses no device claimed (floating) */
	bool has_disk;
	uint64_t disk_requests, disk_reads, disk_writes, disk_errors; /* virtio-blk */
	uint64_t disk_interrupts; /* completions signalled (MSI-X or INTx) */
	uint64_t disk_notify_exits; /* queue notifications that exited to the VMM */
	uint64_t disk_notify_eventfds; /* ... that came through the ioeventfd, without an exit */
	uint64_t disk_irqfd_signals; /* kernel/split: completions signalled through an irqfd */
	uint64_t disk_msi_routes; /* kernel/split: MSI routes made for the irqfds */
};
int virq_vm_platform_stats(struct virq_vm *vm, struct virq_vm_platform_stats *out);

/* --- injection ----------------------------------------------------------------- */

enum virq_gsi_op {
	VIRQ_GSI_ASSERT = 0,
	VIRQ_GSI_DEASSERT,
	VIRQ_GSI_PULSE, /* assert then de-assert (an edge) */
};

/*
 * Inject an MSI (address/data as in SDM Vol. 3A 11.11.1/11.11.2). Returns the delivery
 * result of include/virq/irq.h (>0 CPUs reached, 0 coalesced, <0 -errno).
 * kernel/split: KVM_SIGNAL_MSI. user: posted into the target's descriptor (>0 posted,
 * 0 already pending in PIR) or, when not postable / posted=off, our LAPIC bus.
 *
 * kernel/split: KVM's in-kernel LAPIC answers 1 for a fixed MSI even when its vector is
 * already pending in IRR (__apic_accept_irq() cannot tell once interrupts may be
 * posted), so such coalescing is not seen here and the per-vector `coalesced` count
 * stays 0. It is measured per vCPU instead from KVM's binary stat `irq_injections`
 * (virq_vm_kvm_stat): coalesced = injected - irq_injections delta, valid without
 * APICv/AVIC (tests/kvm/test_vmm_scenarios.c, loss_run).
 */
int virq_vm_inject_msi(struct virq_vm *vm, uint64_t addr, uint32_t data);
/* Drive a GSI (0..23). kernel: KVM_IRQ_LINE_STATUS; the answer is counted in the VMM
 * ledger (VIRQ_LS_*). split/user: our IOAPIC/PIC models. Same result convention. */
int virq_vm_inject_gsi(struct virq_vm *vm, uint32_t gsi, enum virq_gsi_op op);
/* NMI to one vCPU (KVM_NMI in user mode; an NMI MSI otherwise). */
int virq_vm_inject_nmi(struct virq_vm *vm, uint32_t vcpu);
/* Fire the irqfd bound to `gsi` (kernel/split). -EOPNOTSUPP in user mode (no in-kernel
 * irqchip to route an irqfd to: there the doorbell posts instead, see below). */
int virq_vm_irqfd_signal(struct virq_vm *vm, uint32_t gsi);

/*
 * Doorbell round trip: asks vCPU 0 to ring the doorbell port (mailbox OUTB), KVM
 * signals the ioeventfd without an exit, the VMM's device thread answers through an
 * irqfd (kernel/split) or a post into vCPU 0's descriptor (user), and the guest
 * handler counts VIRQ_DOORBELL_VECTOR. Simulated VMs have none. Waits for that
 * count; *rtt_ns (may be NULL) gets the host-measured round trip, which includes the
 * mailbox interrupt. Counted in the VMM ledger. 0, -ETIMEDOUT, -ESHUTDOWN, -EOPNOTSUPP.
 */
int virq_vm_doorbell(struct virq_vm *vm, unsigned int timeout_ms, uint64_t *rtt_ns);

/* --- the guest's mailbox (ask the guest firmware to act) -------------------------- */

/*
 * Runs one mailbox command on vCPU `vcpu` and waits for its completion (timeout_ms).
 * Commands are defined in vmm_guest.h (VIRQ_MBOX_*). `result` may be NULL.
 * Serialised per vCPU internally. Returns 0, -ETIMEDOUT, -ESHUTDOWN, -EINVAL.
 */
int virq_vm_guest_cmd(struct virq_vm *vm, uint32_t vcpu, uint32_t cmd, uint64_t arg0, uint64_t arg1,
		      uint64_t *result, unsigned int timeout_ms);

/* --- ledgers ------------------------------------------------------------------- */

/* What the guest's handler recorded for one vector on one vCPU. */
struct virq_guest_vec {
	uint64_t count;
	uint64_t first_seq; /* per-vCPU interrupt sequence number at first/last arrival */
	uint64_t last_seq;
	uint64_t last_tsc; /* guest TSC at the last arrival */
};

struct virq_guest_ledger {
	uint32_t vcpu;
	uint32_t apic_id;
	uint64_t seq; /* interrupts taken so far on this vCPU */
	uint64_t eoi_written; /* EOIs written to the LAPIC */
	uint64_t eoi_skipped_pv; /* EOIs skipped thanks to PV EOI */
	uint64_t eoi_held; /* EOIs deferred by a hold */
	uint64_t nested; /* handler entered while another ran (should stay 0) */
	uint64_t mbox_done; /* mailbox commands completed */
	struct virq_guest_vec vec[VIRQ_NR_VECTORS];
};

/* Copies one vCPU's guest ledger. 0 or -EINVAL. For a guest kernel (cfg.kernel) in user
 * mode it is kept by our LAPIC model (count = INTA per vector, eoi_written = EOIs; the
 * other fields 0); in kernel/split mode -EOPNOTSUPP (BPF's events stand in). The
 * firmware-only calls (virq_vm_ledger, wait_handled, wait_ready, guest_cmd) answer
 * -EOPNOTSUPP for a guest kernel. */
int virq_vm_guest_ledger(const struct virq_vm *vm, uint32_t vcpu, struct virq_guest_ledger *out);
/* One entry (count etc.) of the guest ledger; -EINVAL on a bad vcpu. */
int virq_vm_ledger(const struct virq_vm *vm, uint32_t vcpu, uint8_t vector,
		   struct virq_guest_vec *out);

/*
 * Waits until the guest on `vcpu` has handled at least `target` interrupts of `vector`
 * (its ledger count) *to completion*: the handler that made the count has returned, so
 * its EOI was written, skipped by PV EOI or held. A level-triggered vector's EOI has
 * thus reached the IOAPIC (remote IRR clear, SDM 11.8.5 / 82093AA 3.2.4) before the
 * caller drives the line again, and a next interrupt finds ISR empty. The ledger count
 * alone moves when the handler starts. 0, -ETIMEDOUT, -ESHUTDOWN (VM stopped), -EINVAL.
 * Any thread except the VM's vCPU threads.
 */
int virq_vm_wait_handled(struct virq_vm *vm, uint32_t vcpu, uint8_t vector, uint64_t target,
			 unsigned int timeout_ms);

/* KVM_IRQ_LINE_STATUS answers (kvm_set_irq()'s result: <0 ignored, 0 coalesced, >0 CPUs). */
enum virq_line_status {
	VIRQ_LS_DELIVERED = 0,
	VIRQ_LS_COALESCED,
	VIRQ_LS_IGNORED,
	VIRQ_LS_ERROR, /* the ioctl itself failed */
	VIRQ_LS__COUNT
};

/* The VMM's own injection ledger. */
struct virq_vmm_vec {
	uint64_t injected; /* injections aimed at this vCPU/vector */
	uint64_t coalesced;
};

struct virq_vmm_ledger {
	uint64_t path_injected[VIRQ_PATH__COUNT];
	uint64_t path_coalesced[VIRQ_PATH__COUNT];
	uint64_t path_failed[VIRQ_PATH__COUNT];
	uint64_t line_status[VIRQ_LS__COUNT]; /* kernel-mode KVM_IRQ_LINE_STATUS answers */
	uint64_t irqfd_signals;
	uint64_t doorbell_posts; /* user mode: doorbell completions posted (no irqfd) */
	uint64_t doorbell_roundtrips;
	uint64_t doorbell_ns_sum;
	uint64_t posted[4]; /* user mode: notification kinds, see VIRQ_PI_NOTIFY_* */
	/* split mode: our PIC's vectors given to vCPU 0 with KVM_INTERRUPT (LINT0 ExtINT).
	 * KVM injects them (kvm_inj_virq) without its LAPIC, so no kvm_eoi follows: the
	 * guest EOIs them at the PIC (port 0x20). */
	uint64_t extint_injected;
};

#define VIRQ_PI_NOTIFY_SUPPRESSED 0 /* ON already set: no kick */
#define VIRQ_PI_NOTIFY_KICK 1 /* ON 0->1, vCPU in KVM_RUN: signal kick */
#define VIRQ_PI_NOTIFY_WAKE 2 /* ON 0->1, vCPU halted: wake */
#define VIRQ_PI_NOTIFY_NONE 3 /* ON 0->1, vCPU outside KVM_RUN: synced at next entry */

int virq_vm_vmm_ledger(const struct virq_vm *vm, struct virq_vmm_ledger *out);

/*
 * `user` irqchip mode, per vCPU. Posted mode: a fixed, edge, physically addressed
 * message to one software-enabled LAPIC is posted lock-free into the vCPU's
 * posted-interrupt descriptor (virq/pi_desc.h); everything else (logical, lowest
 * priority, broadcast, level, NMI/INIT/SIPI/ExtINT, IPIs, IOAPIC, timer) takes the APIC
 * bus under the VM's irq lock, as does every message with posted=off. Accounting, for
 * each vector addressed to one vCPU: injected == handled by the guest + coalesced in PIR
 * (post_coalesced) + coalesced in IRR (the VMM ledger's per-vector `coalesced`).
 */
struct virq_vcpu_user_stats {
	uint64_t posted; /* posts into this vCPU's descriptor */
	uint64_t post_coalesced; /* the vector was already in PIR */
	uint64_t notify[4]; /* VIRQ_PI_NOTIFY_* kinds of the posts */
	uint64_t bus_notify[4]; /* the same kinds for locked-path events (bus notifier) */
	uint64_t locked; /* messages delivered through the bus under the lock */
	uint64_t pir_syncs; /* PIR -> IRR merges that found something */
	uint64_t pir_merged; /* vectors newly accepted into IRR from PIR */
	uint64_t irr_coalesced; /* PIR vectors already in IRR at the merge */
	uint64_t pir_rejected; /* PIR vectors the LAPIC refused (disabled, illegal) */
	uint64_t injections; /* KVM_INTERRUPT of a LAPIC vector */
	uint64_t extint_injections; /* KVM_INTERRUPT of a PIC vector (LINT0 ExtINT) */
	uint64_t if_blocked; /* pending but IF=0, a shadow or not ready: window requested */
	uint64_t window_exits; /* KVM_EXIT_IRQ_WINDOW_OPEN */
	uint64_t nmi_injections; /* KVM_NMI */
	uint64_t exceptions; /* exceptions injected (#GP from the LAPIC model, #DF) */
	uint64_t eoi_exits; /* guest EOI writes that exited (xAPIC MMIO or x2APIC MSR) */
	uint64_t pv_eoi_set; /* PV-EOI bit set for an injected edge vector */
	uint64_t pv_eoi_taken; /* the guest skipped the EOI write: the VMM EOId */
	uint64_t pv_eoi_revoked; /* bit still set at an exit: cleared (re-armed at entry) */
	uint64_t halts; /* KVM_EXIT_HLT */
	uint64_t halt_waits; /* halts that blocked the thread */
	uint64_t halt_timer_wakes; /* woken by the LAPIC timer deadline */
	uint64_t inits, sipis; /* taken by the VMM's INIT/SIPI state machine */
	uint64_t apic_mmio, apic_msr; /* LAPIC register exits */
	uint64_t pv_eoi_rearmed; /* PV-EOI bit set again at an entry for a revoked vector */
	uint64_t pv_eoi_msr; /* a guest kernel's MSR_KVM_PV_EOI_EN accesses */
	uint64_t ioapic_mmio; /* IOAPIC register exits */
	uint64_t other_mmio; /* MMIO exits for neither APIC (the platform's, or unbacked) */
};
/* -EINVAL (bad vcpu), -EOPNOTSUPP (not user mode). */
int virq_vm_user_stats(const struct virq_vm *vm, uint32_t vcpu, struct virq_vcpu_user_stats *out);
/* `user` mode: a copy of vCPU `vcpu`'s LAPIC counters (lapic.h; fixed_by_path[] are the
 * interrupts by source). 0, -EINVAL (bad vcpu), -EOPNOTSUPP (not user mode). Any thread
 * (takes the VM's irq lock). */
struct virq_lapic_stats;
int virq_vm_lapic_stats(const struct virq_vm *vm, uint32_t vcpu, struct virq_lapic_stats *out);
/* The vectors vCPU `vcpu` holds: accepted but not yet taken (IRR, and user mode's PIR not
 * merged yet) and taken but not yet EOId (ISR), as 256-bit maps. For a paused VM: what a
 * cross-check may find short of the guest's receipts or EOIs without anything lost. user
 * mode: our LAPIC and descriptor (irq lock); kernel/split: KVM_GET_LAPIC (KVM syncs the PIR
 * into IRR first), only while the vCPU is outside KVM_RUN. 0, -EINVAL, -EOPNOTSUPP
 * (simulated vCPUs), -errno of the ioctl. */
int virq_vm_held_vectors(const struct virq_vm *vm, uint32_t vcpu, uint64_t irr[4], uint64_t isr[4]);
/* `split` mode: per vector, the pins (bit per pin < 32) our IOAPIC sent it from, as MSIs
 * to KVM's LAPIC, since the VM started. 0 or -EOPNOTSUPP (not split mode). Any thread. */
int virq_vm_split_pins(const struct virq_vm *vm, uint32_t pins[256]);
/* Per vCPU per vector injection counts (the vector as addressed by the VMM). */
int virq_vm_vmm_vec(const struct virq_vm *vm, uint32_t vcpu, uint8_t vector,
		    struct virq_vmm_vec *out);

/* KVM exit reasons counted per vCPU (index = KVM_EXIT_* value, clipped). */
#define VIRQ_EXIT_REASONS 64
struct virq_vcpu_exits {
	uint64_t by_reason[VIRQ_EXIT_REASONS];
	uint64_t eintr; /* KVM_RUN returned -EINTR (kicks) */
	uint64_t runs; /* KVM_RUN calls */
};
int virq_vm_exits(const struct virq_vm *vm, uint32_t vcpu, struct virq_vcpu_exits *out);

/* --- KVM binary statistics ------------------------------------------------------ */

#define VIRQ_KVM_STAT_NAME_MAX 48
struct virq_kvm_stat {
	char name[VIRQ_KVM_STAT_NAME_MAX];
	int32_t vcpu; /* -1 for VM-wide */
	uint32_t flags; /* kvm_stats_desc.flags (type, unit, base) */
	uint64_t value; /* first element (histograms: sum of buckets) */
};

/*
 * Reads KVM_GET_STATS_FD of the VM and each vCPU into out[0..max). Returns the number
 * of stats (may exceed max: then only max were written) or -errno.
 */
int virq_vm_kvm_stats(const struct virq_vm *vm, struct virq_kvm_stat *out, size_t max);

/*
 * One KVM binary statistic found by its descriptor name (e.g. "irq_injections"): of vCPU
 * `vcpu`, or VM-wide when vcpu is -1. Names come from the stats fd's own descriptors,
 * never from offsets. 0 with *value set, -ENOENT (this KVM has no such stat),
 * -EOPNOTSUPP (no stats fd), -EINVAL, or a read error. Any thread.
 */
int virq_vm_kvm_stat(const struct virq_vm *vm, int32_t vcpu, const char *name, uint64_t *value);

/* --- scenarios ----------------------------------------------------------------- */

enum virq_action_kind {
	VIRQ_ACT_MSI = 0, /* addr/data, or vcpu+vector+logical */
	VIRQ_ACT_GSI, /* gsi + op */
	VIRQ_ACT_IPI, /* from vcpu: icr value (any mode/shorthand) */
	VIRQ_ACT_TIMER, /* on vcpu: vector, initial count, periodic */
	VIRQ_ACT_NMI, /* to vcpu */
	VIRQ_ACT_EOI_HOLD, /* on vcpu: hold (arg0=1) or release (arg0=0) EOIs */
	VIRQ_ACT_GUEST, /* raw mailbox command: cmd, arg0, arg1 */
	VIRQ_ACT_SLEEP, /* host sleeps arg0 microseconds */
	VIRQ_ACT_IOAPIC, /* program IOAPIC pin: gsi, vector, dest, level, masked */
	VIRQ_ACT_PIC, /* program the PIC pair: base vector, mask */
	VIRQ_ACT_INIT_SIPI, /* start AP vcpu (already done at boot; re-start) */
	VIRQ_ACT__COUNT
};

#define VIRQ_SCN_MAX_ACTIONS 4096
#define VIRQ_SCN_MAX_EXPECT 1024

struct virq_action {
	enum virq_action_kind kind;
	uint32_t vcpu; /* target or sender */
	uint32_t repeat; /* >= 1 */
	uint32_t gsi;
	enum virq_gsi_op op;
	uint8_t vector;
	uint8_t logical;
	uint8_t level;
	uint8_t masked;
	uint32_t dest;
	uint64_t addr; /* MSI address, or ICR value for IPI */
	uint64_t data; /* MSI data, or timer initial count */
	uint64_t arg0, arg1;
	uint32_t cmd;
	uint32_t gap_us; /* host pause after each repetition */
	/* Optional per-repetition barrier: wait until the guest ledger count of
	 * (sync_vcpu, sync_vector) grew by sync_n (default 1). sync_vcpu < 0: none. */
	int32_t sync_vcpu;
	uint8_t sync_vector;
	uint32_t sync_n;
};

struct virq_expect {
	uint32_t vcpu;
	uint8_t vector;
	bool at_least; /* observed >= count passes (level lines may re-fire) */
	uint64_t count;
};

struct virq_scenario {
	char name[64];
	struct virq_vm_config config;
	uint32_t nr_actions;
	struct virq_action *actions;
	uint32_t nr_expect;
	struct virq_expect *expect;
};

const char *virq_action_kind_name(enum virq_action_kind k);

/*
 * Scenario JSON (numbers may also be strings "0x.."):
 *   { "name": "...",
 *     "vm": { "vcpus": 2, "mem_mb": 16, "irqchip": "kernel|split|user",
 *             "idle": "hlt|cpl3-spin", "x2apic": false, "posted": true, "pv_eoi": true },
 *     "timeline": [ { "action": "msi", "vcpu": 1, "vector": 97, "logical": false } |
 *                   { "action": "msi", "addr": .., "data": .. } |
 *                   { "action": "gsi", "gsi": 10, "op": "assert|deassert|pulse" } |
 *                   { "action": "ipi", "from": 0, "vector": .., "dest": 1,
 *                     "mode": "fixed|lowest|nmi|init|startup",
 *                     "shorthand": "none|self|all|all-but-self", "logical": false } |
 *                   { "action": "timer", "vcpu": 0, "vector": .., "count": .., "periodic": false } |
 *                   { "action": "nmi", "vcpu": 1 } | { "action": "eoi_hold", "vcpu": 0, "hold": true } |
 *                   { "action": "guest", "vcpu": 0, "cmd": 1, "arg0": .., "arg1": .. } |
 *                   { "action": "sleep", "us": 1000 } |
 *                   { "action": "ioapic", "gsi": 10, "vector": .., "dest": 0, "level": false,
 *                     "masked": false, "logical": false } |
 *                   { "action": "pic", "base": 48, "mask": 65527 } |
 *                   { "action": "init_sipi", "vcpu": 1 } ],
 *     every action also takes "repeat", "gap_us", "sync_vcpu", "sync_vector", "sync_n";
 *     "expect": [ { "vcpu": 1, "vector": 97, "count": 10 } | { ..., "at_least": 3 } ] }
 */

/*
 * Parses a scenario (JSON text of `len` bytes, not necessarily NUL-terminated; at most
 * 1 MiB). Returns a scenario owned by the caller (free with virq_scenario_free), or NULL
 * with errno set (EINVAL, E2BIG, ENOMEM) and a reason in err.
 */
struct virq_scenario *virq_scenario_parse(const char *json, size_t len, char *err, size_t errlen);
void virq_scenario_free(struct virq_scenario *s);

struct virq_scn_row {
	uint32_t vcpu;
	uint8_t vector;
	bool at_least;
	bool ok;
	uint64_t expected;
	uint64_t observed;
};

struct virq_scn_result {
	bool pass;
	char failure[VIRQ_VM_REASON_MAX]; /* first mismatch or VM failure */
	uint32_t nr_rows;
	struct virq_scn_row rows[VIRQ_SCN_MAX_EXPECT];
	struct virq_vmm_ledger vmm;
	uint64_t exits_total;
	uint64_t elapsed_ns;
};

/*
 * Runs a scenario. If vm is NULL a VM is created from s->config (with `mode_override`
 * applied when >= 0) and destroyed afterwards. Fills res; returns 0 when it could run
 * (res->pass says if expectations held) or -errno (no KVM, VM creation failed).
 */
int virq_scenario_run(struct virq_vm *vm, const struct virq_scenario *s, int mode_override,
		      struct virq_scn_result *res);

/*
 * The scenarios built into libvirq_vmm (daemon/vmm/scenarios/<name>.json, embedded at
 * build time, so a program needs no source tree to find them). Returns the JSON text
 * (not NUL-terminated) and its length in *len, or NULL with errno ENOENT. Any thread.
 */
const char *virq_scenario_builtin(const char *name, size_t *len);

#endif /* VIRQ_VMM_H */
