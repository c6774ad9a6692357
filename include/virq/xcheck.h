/* SPDX-License-Identifier: MIT */
/*
 * virq cross-check engine (daemon/xcheck/).
 *
 * Reconciles, for every VM and every delivery path, up to four ledgers:
 *   1. the VMM's    : what it injected (per path; per vCPU per vector where known), its own
 *                     coalesced counts and the KVM_IRQ_LINE_STATUS-style answers;
 *   2. the kernel's : BPF counts per attach point (source events, kvm_apic_accept_irq per
 *                     vCPU per vector, posted accepts, kvm_inj_virq, kvm_eoi per vCPU per
 *                     vector), each attach point with a state (live / silent / unavailable);
 *   3. the guest's  : per vCPU per vector receipts recorded by the guest's handlers;
 *   4. KVM's binary stats (irq_injections, nmi_injections, exits, halt_exits, ...).
 * It also reconciles exit counts (VMM per-reason counters, kvm_userspace_exit / kvm_pio /
 * kvm_mmio / kvm_exit events, stats) and turns deviation evidence into findings about where
 * the host's in-kernel irqchip departs from the architectural model.
 *
 * The engine is pure: no I/O, no threads, no allocation except the report constructor.
 * The daemon fills the self-contained input structs below from the VMM, the tracer and
 * KVM's stats fd; nothing here depends on those modules.
 *
 * Verdict rules (each check yields exactly one verdict from the closed enum):
 *   - consistent   : observed == expected, nothing coalesced.
 *   - coalesced    : observed == expected - coalesced and the VMM counted exactly that many
 *                    coalesced answers (edge MSI: injected = received + coalesced, exactly).
 *   - pending      : VM not quiesced and the shortfall is within the in-flight bound (below),
 *                    or quiesced and within what its paused vCPUs still hold (below).
 *   - refired      : surplus on vectors routed level-triggered, explained by a held level
 *                    line re-firing (on this host remote IRR is cleared at injection); the
 *                    surplus is reported in `refired`, never folded into `consistent`.
 *   - lost         : shortfall beyond the in-flight bound (or any shortfall when quiesced).
 *   - spurious     : surplus that no counted mechanism explains.
 *   - misrouted    : per-(vCPU, vector) cells disagree although interrupts were not simply
 *                    missing: a shortfall in one cell is matched by a surplus in another
 *                    (wrong vCPU or wrong vector). `misrouted` holds the number moved.
 *   - unobservable : a ledger or attach point needed by the check is absent, unavailable,
 *                    silent (attached but never fired on this host), or a stat that stays 0
 *                    while independent ledgers count events (a counter this KVM backend
 *                    does not maintain, e.g. io_exits here). `detail` carries the reason.
 *                    Also a shortfall that KVM's in-kernel IRR merging explains (below).
 *
 * Rules learnt from real KVM runs (daemon/xcheck/engine.c has the code and the reasoning):
 *   - IRR merging (kernel/split irqchip, owned VMs, paths the VMM injected on, NMI and
 *     posted excluded): KVM accepts a fixed edge interrupt whose vector is already pending
 *     in the IRR and merges it (one bit per vector, SDM Vol. 3A 11.8.4) while answering 1
 *     and tracing no coalescing. A shortfall of guest receipts or kvm_eoi is then
 *     `unobservable` with the bound in `coalesced`, not `lost`, unless a loss is provable:
 *     quiesced and a (vCPU, vector) cell got none of its expected deliveries (a merge
 *     leaves one delivered), a vCPU's irq_injections below its guest receipts, or guest
 *     receipts below kvm_eoi (lost after KVM delivered).
 *   - -EINTR returns: KVM_RUN interrupted by a kick returns -EINTR, which the VMM counts as
 *     KVM_EXIT_INTR (or reason 0); kvm_userspace_exit fires for it too, carrying whatever
 *     exit_reason kvm_run still holds. Surplus kvm_userspace_exit events of a reason are
 *     explained by -EINTR returns not already seen as reason 0 or KVM_EXIT_INTR, each
 *     used once (the check's values carry vmm.eintr).
 *   - io_exits with an in-kernel irqchip counts every PIO intercept, including the PIC,
 *     PIT and ELCR ports served in the kernel: it is an upper bound of the VMM's IO exits.
 *
 * In-flight bound (VM not quiesced, i.e. sampled while the guest runs): an interrupt can be
 * between two ledgers. Per (vCPU, vector) at most one can sit in the IRR and one in service
 * not yet recorded by the guest (IRR/ISR hold one bit per vector, Intel SDM Vol. 3A 11.8.4),
 * and each injecting VMM thread can have one call in progress. So for a check over C active
 * cells the bound is 2*C + injectors. Exit checks allow 1 per vCPU (the exit being handled).
 * When the VM is quiesced (every vCPU paused outside KVM_RUN, injectors idle) nothing is in
 * flight, but a paused vCPU can still hold an interrupt: accepted, not yet taken (IRR, and a
 * user-mode PIR not yet merged: IF was 0, or it was posted after the pause) or taken, not yet
 * EOId (ISR). With VIRQ_XC_VM_HELD the bound of the guest-receipt and EOI checks is exactly
 * those bits on the path's vectors (held_irr/held_isr: at most one each per vector and
 * vCPU); otherwise 0.
 *
 * Attribution of vectors to paths: vector_path[v] says which path injects vector v. Per-path
 * guest/accept checks need it. Injections on a path that no vector is attributed to are
 * judged together in one "vm" check per (vCPU, vector) over the vectors the VMM injected
 * (needs VIRQ_XC_VM_VMM_PER_VCPU, else unobservable); receipts on vectors the VMM never
 * injected (the guest's own timer, guest IPIs) are not expected there. So a daemon that
 * cannot attribute vectors gets correct, coarser checks, never a false "lost".
 * Observed-only VMs (no VIRQ_XC_VM_OWNED): per vector, kernel source events vs accepts
 * (observed = sources matched by an accept of the same vector: fan-out to several CPUs
 * cannot hide a shortfall on another vector) and accepts vs kvm_eoi per (vCPU, vector).
 *
 * Threading: virq_xcheck_run() reads the input and writes the report; callers serialise
 * access to one report. Any thread. The input is only read and may be freed after the call.
 */
#ifndef VIRQ_XCHECK_H
#define VIRQ_XCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "virq/irq.h"

/* --- bounds ---------------------------------------------------------------------- */
#define VIRQ_XC_MAX_VMS 64
#define VIRQ_XC_MAX_VCPUS 64
#define VIRQ_XC_NR_VECTORS 256
#define VIRQ_XC_EXIT_REASONS 64 /* indexed by KVM_EXIT_* value; larger reasons clipped */
#define VIRQ_XC_MAX_EVIDENCE 4096
#define VIRQ_XC_MAX_CHECKS 4096
#define VIRQ_XC_MAX_FINDINGS 512
#define VIRQ_XC_MAX_VALUES 6
#define VIRQ_XC_NAME_MAX 32
#define VIRQ_XC_VALUE_NAME_MAX 28
#define VIRQ_XC_REASON_MAX 96
#define VIRQ_XC_DETAIL_MAX 192

/* --- vocabulary ------------------------------------------------------------------ */

/* Delivery paths as the cross-check sees them (irq.h's paths plus posted). */
enum virq_xcheck_path {
	VIRQ_XC_PATH_PIC = 0,
	VIRQ_XC_PATH_IOAPIC,
	VIRQ_XC_PATH_MSI,
	VIRQ_XC_PATH_IPI,
	VIRQ_XC_PATH_NMI,
	VIRQ_XC_PATH_TIMER,
	VIRQ_XC_PATH_POSTED,
	VIRQ_XC_PATH__COUNT,
	/* Not a delivery path: VM-wide checks (stats, exits) and vectors of unknown path. */
	VIRQ_XC_PATH_VM = VIRQ_XC_PATH__COUNT,
	VIRQ_XC_PATH_NONE = 0xff, /* vector_path[]: vector not used */
};

/* Attach points whose state matters. 0 = none (a path without such an event). */
enum virq_xcheck_tp {
	VIRQ_XC_TP_NONE = 0,
	VIRQ_XC_TP_SET_IRQ, /* kvm_set_irq */
	VIRQ_XC_TP_MSI_SET_IRQ, /* kvm_msi_set_irq */
	VIRQ_XC_TP_PIC_SET_IRQ, /* kvm_pic_set_irq */
	VIRQ_XC_TP_IOAPIC_SET_IRQ, /* kvm_ioapic_set_irq */
	VIRQ_XC_TP_APIC_IPI, /* kvm_apic_ipi */
	VIRQ_XC_TP_APIC_ACCEPT_IRQ, /* kvm_apic_accept_irq */
	VIRQ_XC_TP_APICV_ACCEPT_IRQ, /* kvm_apicv_accept_irq (posted) */
	VIRQ_XC_TP_INJ_VIRQ, /* kvm_inj_virq */
	VIRQ_XC_TP_EOI, /* kvm_eoi */
	VIRQ_XC_TP_USERSPACE_EXIT, /* kvm_userspace_exit */
	VIRQ_XC_TP_PIO, /* kvm_pio */
	VIRQ_XC_TP_MMIO, /* kvm_mmio */
	VIRQ_XC_TP_EXIT, /* kvm_exit */
	VIRQ_XC_TP__COUNT
};

/* State of an attach point or a ledger. Zero-initialised = absent (not collected). */
enum virq_xcheck_src_state {
	VIRQ_XC_SRC_ABSENT = 0, /* not collected at all (no tracer, observed-only VM, ...) */
	VIRQ_XC_SRC_LIVE, /* attached and fired at least once on this host since attach */
	VIRQ_XC_SRC_SILENT, /* attached, never fired (kvm_exit, kvm_inj_virq on this host) */
	VIRQ_XC_SRC_UNAVAILABLE, /* could not attach; reason says why */
	VIRQ_XC_SRC__COUNT
};

struct virq_xcheck_source {
	uint32_t state; /* enum virq_xcheck_src_state */
	char reason[VIRQ_XC_REASON_MAX]; /* why silent/unavailable; may be empty */
};

/* KVM binary stats the engine uses (per vCPU; names as in the stats fd descriptors). */
enum virq_xcheck_stat {
	VIRQ_XC_STAT_IRQ_INJECTIONS = 0,
	VIRQ_XC_STAT_NMI_INJECTIONS,
	VIRQ_XC_STAT_EXITS,
	VIRQ_XC_STAT_HALT_EXITS,
	VIRQ_XC_STAT_IRQ_EXITS,
	VIRQ_XC_STAT_MMIO_EXITS,
	VIRQ_XC_STAT_IO_EXITS,
	VIRQ_XC_STAT_IRQ_WINDOW_EXITS,
	VIRQ_XC_STAT__COUNT
};

/* KVM_EXIT_* values used by the exit checks (KVM ABI, include/uapi/linux/kvm.h). */
#define VIRQ_XC_KVM_EXIT_IO 2
#define VIRQ_XC_KVM_EXIT_HLT 5
#define VIRQ_XC_KVM_EXIT_MMIO 6
#define VIRQ_XC_KVM_EXIT_INTR 10

/* --- input ----------------------------------------------------------------------- */

/* Ledger 1, per path. */
#define VIRQ_XC_VMM_CPUS_KNOWN (1u << 0) /* cpus_reached is the sum of positive answers */
struct virq_xcheck_vmm_path {
	uint64_t injected; /* injection requests made on this path (including coalesced) */
	uint64_t coalesced; /* answers 0: already pending (VMM's own coalescing count) */
	uint64_t ignored; /* answers < 0 from KVM or our models: masked, no destination */
	uint64_t failed; /* the ioctl/call itself failed: nothing reached KVM */
	uint64_t cpus_reached; /* sum of positive answers (CPUs reached), if CPUS_KNOWN */
	uint32_t flags; /* VIRQ_XC_VMM_* */
	uint32_t pad;
};

/* Ledger 2, per path: which kernel events the daemon attributed to this path. */
struct virq_xcheck_kernel_path {
	uint64_t source; /* source events (kvm_msi_set_irq, kvm_set_irq, kvm_apic_ipi, ...) */
	uint64_t accepts; /* kvm_apic_accept_irq (or kvm_apicv_accept_irq) for this path */
	uint32_t source_tp; /* enum virq_xcheck_tp counted in `source`, NONE if no such event */
	uint32_t accept_tp; /* enum virq_xcheck_tp counted in `accepts`, NONE if none */
};

/* One vCPU slot. Kernel per-vector counts are by target vCPU: the daemon maps the
 * target APIC ID of kvm_apic_accept_irq to the slot with that apic_id. */
struct virq_xcheck_vcpu {
	uint32_t vcpu_id;
	uint32_t apic_id;
	/* ledger 1: injections aimed at this vCPU/vector with a determinate target (physical
	 * fixed), not counting ignored or failed ones; coalesced ones are in both arrays */
	uint64_t vmm_injected[VIRQ_XC_NR_VECTORS];
	uint64_t vmm_coalesced[VIRQ_XC_NR_VECTORS];
	uint64_t vmm_exits[VIRQ_XC_EXIT_REASONS]; /* KVM_RUN returns by exit reason */
	/* ledger 2 */
	uint64_t k_accept[VIRQ_XC_NR_VECTORS]; /* kvm_apic_accept_irq with this target */
	uint64_t k_eoi[VIRQ_XC_NR_VECTORS]; /* kvm_eoi with the real vector, this vCPU */
	uint64_t k_eoi_none; /* kvm_eoi with vector -1 (ISR was empty at the guest's EOI) */
	/* Observed VMs: kvm_inj_virq of this vector on this vCPU, re-injections and soft
	 * events left out (one per interrupt moved from IRR to ISR) */
	uint64_t k_inj[VIRQ_XC_NR_VECTORS];
	uint64_t k_reinj; /* kvm_inj_virq re-injections (the same interrupt again) */
	/* kvm_apic_accept_irq by delivery mode (enum virq_delivery_mode), every vector: only
	 * fixed and lowest priority (in k_accept) wait for an EOI */
	uint64_t k_accept_dm[8];
	uint64_t k_posted; /* kvm_apicv_accept_irq, this target */
	uint64_t k_inj_virq; /* kvm_inj_virq on this vCPU */
	uint64_t k_userspace_exit[VIRQ_XC_EXIT_REASONS]; /* kvm_userspace_exit by reason */
	uint64_t k_pio; /* kvm_pio (in-kernel and userspace ports) */
	uint64_t k_mmio; /* kvm_mmio (all types) */
	uint64_t k_exit; /* kvm_exit */
	/* ledger 3 */
	uint64_t guest_received[VIRQ_XC_NR_VECTORS];
	uint64_t guest_eoi_written; /* EOIs the guest performed (written + PV-EOI skipped) */
	/* ledger 4 */
	uint64_t stat[VIRQ_XC_STAT__COUNT];
	uint32_t stat_valid; /* bit (1u << enum virq_xcheck_stat): stat read from the fd */
	uint32_t pad;
	/*
	 * Read skew of a running VM: the ledgers are read one after the other, so the caller
	 * reads the stats and the VMM's exits before and after BPF's counters and gives here
	 * how far each moved meanwhile (stat[] and vmm_exits[] hold the later readings).
	 * A difference up to that much is timing, not loss. 0 when sampled quiesced.
	 */
	uint64_t stat_skew[VIRQ_XC_STAT__COUNT];
	uint64_t vmm_exits_skew; /* all reasons together */
	/* Quiesced owned VMs with VIRQ_XC_VM_HELD: the vectors this vCPU holds, accepted and
	 * not yet taken (IRR, PIR) and taken and not yet EOId (ISR): a paused guest may be
	 * short of them in its receipts and EOIs without any loss (virq_vm_held_vectors) */
	uint64_t held_irr[4], held_isr[4];
};

/* virq_xcheck_vm.flags */
#define VIRQ_XC_VM_OWNED (1u << 0) /* the daemon runs it: VMM ledger (1) is valid */
#define VIRQ_XC_VM_GUEST (1u << 1) /* guest ledger (3) is valid */
#define VIRQ_XC_VM_VMM_PER_VCPU (1u << 2) /* vmm_injected[] per vCPU/vector is valid */
#define VIRQ_XC_VM_STATS (1u << 3) /* stats (4) were read (see stat_valid per vCPU) */
#define VIRQ_XC_VM_QUIESCED (1u << 4) /* sampled with every vCPU paused, injectors idle */
#define VIRQ_XC_VM_LAPIC_IN_KERNEL (1u << 5) /* kernel/split irqchip: HLT handled in KVM */
#define VIRQ_XC_VM_TRACED (1u << 6) /* BPF ledger (2) is valid for this VM */
#define VIRQ_XC_VM_HELD (1u << 7) /* quiesced: held_irr/held_isr of every vCPU are valid */

struct virq_xcheck_vm {
	char name[VIRQ_XC_NAME_MAX]; /* NUL-terminated */
	uint32_t flags; /* VIRQ_XC_VM_* */
	uint32_t injectors; /* VMM threads injecting concurrently (in-flight bound); 0 = 1 */
	uint32_t nr_vcpus; /* <= VIRQ_XC_MAX_VCPUS, else -E2BIG */
	uint32_t pad;
	const struct virq_xcheck_vcpu *vcpus; /* caller-owned, nr_vcpus entries */
	struct virq_xcheck_vmm_path vmm[VIRQ_XC_PATH__COUNT];
	struct virq_xcheck_kernel_path kern[VIRQ_XC_PATH__COUNT];
	/* Source events per vector (observed-only VMs: kvm_msi_set_irq arg, kvm_apic_ipi arg,
	 * kvm_ioapic_set_irq vector). */
	uint64_t k_source_vec[VIRQ_XC_NR_VECTORS];
	/* The path each vector is used on (enum virq_xcheck_path, VIRQ_XC_PATH_NONE unused,
	 * VIRQ_XC_PATH_VM = used, path unknown). Initialise with virq_xcheck_vm_init(). */
	uint8_t vector_path[VIRQ_XC_NR_VECTORS];
	/* Vectors routed level-triggered (IOAPIC RTE trigger mode 1): bit v of word v / 64. */
	uint64_t level_vectors[VIRQ_XC_NR_VECTORS / 64];
	/* Observed VMs, what the chips' tracepoints say of each line change and message
	 * (kvm_pic_set_irq's IMR and coalesced, kvm_ioapic_set_irq's RTE and coalesced):
	 * changes on masked pins, assertions the chip coalesced, de-assertions, and
	 * assertions the 8259A passed on (ExtINT: injected without an accept or an EOI). */
	uint64_t k_masked[VIRQ_XC_PATH__COUNT];
	uint64_t k_line_coalesced[VIRQ_XC_PATH__COUNT];
	uint64_t k_deasserts; /* kvm_set_irq with level 0 */
	uint64_t k_gsi_asserts; /* kvm_set_irq with level 1: one source event per assertion */
	uint64_t k_pic_delivered;
	uint64_t k_ioapic_level; /* assertions on level-triggered RTEs (remote IRR gates them) */
	/* kvm_apic_ipi / kvm_msi_set_irq by delivery mode (enum virq_delivery_mode) */
	uint64_t k_ipi_dm[8];
	uint64_t k_msi_dm[8];
};

/* Deviation evidence (the daemon derives these from guest ledger sequence numbers, guest
 * ISR reads and the event stream). Fields by kind: */
enum virq_xcheck_ev_kind {
	/* Guest read ISR inside its handler for `vector`: a = ISR bit seen (0/1), b = the
	 * architectural model's ISR bit at that moment (1: in service, SDM 11.8.4). */
	VIRQ_XC_EV_ISR_READ = 0,
	/* `vector2` (lower priority class) was taken while `vector` was in service and not
	 * yet EOI'd: a = seq of vector's arrival, b = seq of vector2's arrival, c = seq of
	 * vector's EOI (0 = not EOI'd before vector2 arrived). */
	VIRQ_XC_EV_PREEMPT,
	/* A level line held asserted on `vector`: a = assertions, b = deliveries while held,
	 * c = guest EOIs written for the vector while held. */
	VIRQ_XC_EV_LEVEL_HOLD,
	VIRQ_XC_EV__COUNT
};

struct virq_xcheck_evidence {
	char vm[VIRQ_XC_NAME_MAX];
	uint32_t kind; /* enum virq_xcheck_ev_kind */
	uint32_t vcpu;
	uint16_t vector;
	uint16_t vector2;
	uint32_t pad;
	uint64_t a, b, c;
};

struct virq_xcheck_input {
	uint32_t nr_vms; /* <= VIRQ_XC_MAX_VMS */
	uint32_t nr_evidence; /* <= VIRQ_XC_MAX_EVIDENCE */
	const struct virq_xcheck_vm *vms; /* caller-owned */
	const struct virq_xcheck_evidence *evidence; /* caller-owned, may be NULL if 0 */
	struct virq_xcheck_source tp[VIRQ_XC_TP__COUNT]; /* host-wide attach point states */
	struct virq_xcheck_source stat_src[VIRQ_XC_STAT__COUNT]; /* LIVE unless known dead */
	/* BPF events seen but not recorded (the counters map was full): any BPF count may be
	 * short, so a lost/spurious/misrouted verdict resting on one is unobservable. */
	uint64_t bpf_not_recorded;
};

/* --- output ---------------------------------------------------------------------- */

enum virq_xcheck_verdict {
	VIRQ_XC_CONSISTENT = 0,
	VIRQ_XC_COALESCED,
	VIRQ_XC_PENDING,
	VIRQ_XC_REFIRED,
	VIRQ_XC_LOST,
	VIRQ_XC_SPURIOUS,
	VIRQ_XC_MISROUTED,
	VIRQ_XC_UNOBSERVABLE,
	VIRQ_XC_VERDICT__COUNT
};

enum virq_xcheck_kind {
	VIRQ_XC_K_SOURCE = 0, /* VMM injections vs kernel source events */
	VIRQ_XC_K_ACCEPT, /* expected CPUs reached vs kvm_apic_accept_irq (per vCPU/vector) */
	VIRQ_XC_K_GUEST, /* VMM expectation vs guest receipts (per vCPU/vector) */
	VIRQ_XC_K_EOI, /* kernel accepts vs kvm_eoi with the vector (per vCPU/vector) */
	VIRQ_XC_K_INJ_STAT, /* kvm_inj_virq vs irq_injections */
	VIRQ_XC_K_IRQ_STAT, /* guest receipts vs irq_injections (re-injection allowed) */
	VIRQ_XC_K_NMI_STAT, /* NMIs delivered vs nmi_injections (re-injection allowed) */
	VIRQ_XC_K_EXIT_REASON, /* VMM exits by reason vs kvm_userspace_exit */
	VIRQ_XC_K_EXIT_HLT, /* VMM HLT exits vs halt_exits */
	VIRQ_XC_K_EXIT_IO_STAT, /* VMM IO exits vs io_exits */
	VIRQ_XC_K_EXIT_IO_EVENTS, /* kvm_pio >= VMM IO exits (in-kernel ports add more) */
	VIRQ_XC_K_EXIT_MMIO_STAT, /* VMM MMIO exits vs mmio_exits */
	VIRQ_XC_K_EXIT_MMIO_EVENTS, /* kvm_mmio >= VMM MMIO exits (in-kernel MMIO adds more) */
	VIRQ_XC_K_EXIT_TOTAL, /* kvm_exit vs exits */
	VIRQ_XC_KIND__COUNT
};

struct virq_xcheck_value {
	char name[VIRQ_XC_VALUE_NAME_MAX]; /* e.g. "vmm.injected", "bpf.kvm_eoi" */
	uint64_t value;
};

struct virq_xcheck_check {
	char vm[VIRQ_XC_NAME_MAX];
	uint8_t path; /* enum virq_xcheck_path (or VIRQ_XC_PATH_VM) */
	uint8_t kind; /* enum virq_xcheck_kind */
	uint8_t verdict; /* enum virq_xcheck_verdict */
	uint8_t nr_values;
	int32_t vcpu; /* -1: all vCPUs */
	int32_t index; /* first offending vector or the exit reason; -1: none */
	uint32_t pad;
	uint64_t expected;
	uint64_t observed;
	uint64_t coalesced;
	uint64_t pending; /* shortfall attributed to in-flight interrupts */
	uint64_t misrouted; /* interrupts found in the wrong (vCPU, vector) cell */
	uint64_t refired; /* surplus from level re-fire */
	struct virq_xcheck_value values[VIRQ_XC_MAX_VALUES]; /* per-source values */
	char detail[VIRQ_XC_DETAIL_MAX]; /* one line, no newline */
};

enum virq_xcheck_dev {
	VIRQ_XC_DEV_ISR_NEVER_SET = 0, /* in-kernel LAPIC never sets ISR (EOI at injection) */
	VIRQ_XC_DEV_LOWER_PREEMPTS, /* lower class preempts an un-EOI'd higher one */
	VIRQ_XC_DEV_REMOTE_IRR_AT_INJECTION, /* IOAPIC remote IRR cleared at injection */
	VIRQ_XC_DEV__COUNT
};

enum virq_xcheck_dev_status {
	VIRQ_XC_DEV_DEVIATES = 0, /* positive evidence only */
	VIRQ_XC_DEV_CONFORMS, /* negative evidence only: the architectural model holds */
	VIRQ_XC_DEV_MIXED, /* both: reported, never resolved silently */
	VIRQ_XC_DEV_STATUS__COUNT
};

struct virq_xcheck_finding {
	char vm[VIRQ_XC_NAME_MAX];
	uint8_t kind; /* enum virq_xcheck_dev */
	uint8_t status; /* enum virq_xcheck_dev_status */
	uint16_t pad;
	int32_t vcpu; /* first vCPU with positive evidence, -1 if none */
	int32_t vector; /* first vector with positive evidence, -1 if none */
	uint32_t pad2;
	uint64_t positive; /* evidence items for the deviation */
	uint64_t negative; /* evidence items for the architectural behaviour */
	uint64_t count; /* measured size (e.g. auto-EOIs, level re-fires) */
	char detail[VIRQ_XC_DETAIL_MAX];
};

struct virq_xcheck_report {
	uint32_t nr_checks;
	uint32_t nr_findings;
	uint64_t dropped_checks; /* checks beyond VIRQ_XC_MAX_CHECKS: counted, not stored */
	uint64_t dropped_findings;
	uint64_t dropped_evidence; /* evidence naming no VM of the input */
	uint64_t by_verdict[VIRQ_XC_VERDICT__COUNT]; /* over all checks, dropped included */
	struct virq_xcheck_check checks[VIRQ_XC_MAX_CHECKS];
	struct virq_xcheck_finding findings[VIRQ_XC_MAX_FINDINGS];
};

/* One summary row: verdict counts of the checks of one (vm, path, kind). */
struct virq_xcheck_summary {
	char vm[VIRQ_XC_NAME_MAX];
	uint8_t path;
	uint8_t kind;
	uint16_t pad;
	uint32_t pad2;
	uint64_t count[VIRQ_XC_VERDICT__COUNT];
};

/* --- API ------------------------------------------------------------------------- */

/* Zeroes *vm and marks every vector unused (vector_path[] = VIRQ_XC_PATH_NONE). */
void virq_xcheck_vm_init(struct virq_xcheck_vm *vm);
/* Zeroes *in. Attach points start ABSENT, stats start LIVE (maintained unless told). */
void virq_xcheck_input_init(struct virq_xcheck_input *in);

/* Sets a source state and reason (reason may be NULL; truncated to fit). */
void virq_xcheck_source_set(struct virq_xcheck_source *src, enum virq_xcheck_src_state st,
			    const char *reason);

/* Allocates a zeroed report (about 1.3 MiB). NULL with errno=ENOMEM. */
struct virq_xcheck_report *virq_xcheck_report_new(void);
/* Accepts NULL. */
void virq_xcheck_report_free(struct virq_xcheck_report *r);

/*
 * Runs every check. Resets *out first. Returns 0, -EINVAL (NULL pointers, a VM with
 * vcpus == NULL but nr_vcpus > 0, evidence == NULL with nr_evidence > 0, an unterminated
 * name) or -E2BIG (nr_vms, nr_vcpus or nr_evidence above the bounds) before writing any
 * check. Checks beyond VIRQ_XC_MAX_CHECKS are counted in dropped_checks and by_verdict.
 */
int virq_xcheck_run(const struct virq_xcheck_input *in, struct virq_xcheck_report *out);

/* Iteration. NULL when i is out of range. */
size_t virq_xcheck_report_nr_checks(const struct virq_xcheck_report *r);
const struct virq_xcheck_check *virq_xcheck_report_check(const struct virq_xcheck_report *r,
							 size_t i);
size_t virq_xcheck_report_nr_findings(const struct virq_xcheck_report *r);
const struct virq_xcheck_finding *virq_xcheck_report_finding(const struct virq_xcheck_report *r,
							     size_t i);

/*
 * Counts stored checks matching (vm, path, kind, verdict); NULL vm / -1 = any.
 */
uint64_t virq_xcheck_report_count(const struct virq_xcheck_report *r, const char *vm, int path,
				  int kind, int verdict);
/*
 * Per (vm, path, kind) verdict counts, in first-seen order, for the Prometheus exporter
 * (e.g. virq_xcheck_checks{vm,path,kind,verdict}). Writes up to max rows; returns the number
 * of distinct rows (may exceed max).
 */
size_t virq_xcheck_report_summarize(const struct virq_xcheck_report *r,
				    struct virq_xcheck_summary *rows, size_t max);

/* Names. "unknown" when out of range. */
const char *virq_xcheck_verdict_name(enum virq_xcheck_verdict v);
const char *virq_xcheck_kind_name(enum virq_xcheck_kind k);
const char *virq_xcheck_path_name(enum virq_xcheck_path p); /* "pic".."posted", "vm" */
const char *virq_xcheck_tp_name(enum virq_xcheck_tp tp); /* tracepoint name */
const char *virq_xcheck_src_state_name(enum virq_xcheck_src_state s);
const char *virq_xcheck_stat_name(enum virq_xcheck_stat s); /* stats-fd name */
const char *virq_xcheck_dev_name(enum virq_xcheck_dev d);
const char *virq_xcheck_dev_status_name(enum virq_xcheck_dev_status s);
/* Reverse lookups: the enum value, or -EINVAL. */
int virq_xcheck_verdict_parse(const char *s);
int virq_xcheck_kind_parse(const char *s);
int virq_xcheck_path_parse(const char *s);
int virq_xcheck_dev_parse(const char *s);
int virq_xcheck_dev_status_parse(const char *s);
/* Maps irq.h's path to ours (LINT -> PIC: LINT0 ExtINT carries the PIC; OTHER -> VM). */
enum virq_xcheck_path virq_xcheck_path_from_irq(enum virq_path p);

/*
 * JSON (libcjson). to_json returns a new object the caller frees with cJSON_Delete(), or
 * NULL with errno=ENOMEM:
 *   {"checks":[{"vm","path","kind","verdict","vcpu","index","expected","observed",
 *     "coalesced","pending","misrouted","refired","values":{name:n,...},"detail"}...],
 *    "findings":[{"vm","deviation","status","vcpu","vector","positive","negative","count",
 *     "detail"}...],
 *    "summary":{"<verdict>":n,...},"dropped_checks":n,"dropped_findings":n,
 *    "dropped_evidence":n}
 * from_json parses such an object back (strings truncated to the field sizes, unknown
 * names rejected): 0, -EINVAL (malformed) or -E2BIG (too many rows). Used by virqctl,
 * which receives the JSON over the control socket. Forward declaration keeps cJSON.h out.
 */
struct cJSON;
struct cJSON *virq_xcheck_report_to_json(const struct virq_xcheck_report *r);
int virq_xcheck_report_from_json(const struct cJSON *json, struct virq_xcheck_report *out);

/*
 * Fixed-width text table: columns vm, path, check, verdict, expected, observed, detail (the
 * path column reads "vcpuN" for per-vCPU exit checks);
 * then the findings; then one summary line. snprintf contract: writes at most len bytes
 * (NUL-terminated when len > 0) and returns the length the whole table needs.
 */
size_t virq_xcheck_report_to_table(const struct virq_xcheck_report *r, char *buf, size_t len);

#endif /* VIRQ_XCHECK_H */
