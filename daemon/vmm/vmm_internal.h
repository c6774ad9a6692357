/* SPDX-License-Identifier: MIT */
/*
 * daemon/vmm private definitions: the VM and vCPU objects. Not for use outside
 * daemon/vmm (the public API is include/virq/vmm.h).
 */
#ifndef VIRQ_VMM_INTERNAL_H
#define VIRQ_VMM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "virq/apicbus.h"
#include "virq/boot.h"
#include "virq/ioapic.h"
#include "virq/pi_desc.h"
#include "virq/pic.h"
#include "virq/vmm.h"
#include "virq/vmm_kvm.h"
#include "virq/vmm_uart.h"

#define VIRQ_NR_GSI 24

struct virq_vcpu;

/*
 * The vCPU backend: every KVM vCPU ioctl of the `user` irqchip mode goes through this
 * table, with c->run (struct kvm_run) as the shared exit record. Two implementations:
 * cpu_kvm.c (the real one, /dev/kvm) and cpu_sim.c (a simulated vCPU running a C model
 * of the built-in firmware, for unit tests only -- never selectable through
 * struct virq_vm_config). All functions are called by the vCPU's own thread, except
 * kick (any thread).
 */
struct virq_cpu_exc {
	bool pending; /* an exception is pending or being injected */
	uint8_t vector;
	bool has_error;
	uint32_t error;
};

struct virq_cpu_ops {
	const char *name;
	/* KVM_RUN. 0 with c->run filled, -EINTR (kicked, exit_reason 0) or -errno. */
	int (*run)(struct virq_vcpu *c);
	/* Make a running or about-to-run KVM_RUN return -EINTR soon. Any thread. */
	void (*kick)(struct virq_vcpu *c);
	/* KVM_INTERRUPT: only when the guest can take it (the caller checked). */
	int (*interrupt)(struct virq_vcpu *c, uint8_t vector);
	/* KVM_NMI. */
	int (*nmi)(struct virq_vcpu *c);
	/* RFLAGS.IF (KVM_GET_REGS) and the STI/MOV-SS interrupt shadow (KVM_GET_VCPU_EVENTS). */
	int (*intr_state)(struct virq_vcpu *c, bool *if_flag, bool *shadow);
	/* The exception pending or being injected, if any (KVM_GET_VCPU_EVENTS). */
	int (*get_exception)(struct virq_vcpu *c, struct virq_cpu_exc *out);
	/* Inject an exception (KVM_SET_VCPU_EVENTS; a #GP(0) raised by an MSR exit is
	 * reported through kvm_run.msr.error so that RIP stays on the instruction). */
	int (*exception)(struct virq_vcpu *c, uint8_t vector, bool has_error, uint32_t error);
	/* INIT: registers to their INIT state (SDM 9.1.1 Table 9-1); not run until SIPI. */
	int (*init)(struct virq_vcpu *c);
	/* SIPI: real mode at CS = vector << 8, IP = 0 (SDM 8.4.4.1, 11.6.1). */
	int (*sipi)(struct virq_vcpu *c, uint8_t vector);
	/* Tear down backend state (c->backend). May be NULL. */
	void (*fini)(struct virq_vcpu *c);
};

extern const struct virq_cpu_ops virq_cpu_kvm_ops;
extern const struct virq_cpu_ops virq_cpu_sim_ops;
/* cpu_sim.c: allocates c->backend and c->run for a simulated vCPU. 0 or -errno. */
int virq_cpu_sim_create(struct virq_vcpu *c);

/* Where a vCPU thread is, for notifications from the locked path (the posted path
 * reads the same from the descriptor's SN and NV, as VT-d posting does). */
enum virq_pstate {
	VIRQ_PS_RUNNABLE = 0, /* in the VMM: no notification, synced before entry */
	VIRQ_PS_RUNNING, /* inside KVM_RUN: kick */
	VIRQ_PS_BLOCKED, /* halted in the VMM: wake */
};

/* Notification vectors written into the descriptor's NV field: which of the two
 * notifications a post that sets ON must send (VT-d: posted vs wake-up vector). */
#define VIRQ_PI_NV_POSTED 0xf2 /* POSTED_INTR_VECTOR */
#define VIRQ_PI_NV_WAKEUP 0xf1 /* POSTED_INTR_WAKEUP_VECTOR */

/* MSI irqfds of a guest kernel's devices: up to this many distinct messages routed at once,
 * on the GSIs after the doorbell's. */
#define VIRQ_MSI_IRQFDS 8
#define VIRQ_MSI_IRQFD_GSI0 (VIRQ_DOORBELL_GSI + 1)

/* KVM's paravirtual EOI MSR and its enable bit (Documentation/virt/kvm/x86/msr.rst). */
#define VIRQ_MSR_KVM_PV_EOI_EN 0x4b564d04u
#define VIRQ_KVM_MSR_ENABLED 1u

struct virq_vcpu {
	struct virq_vm *vm;
	uint32_t id;
	int fd;
	int stats_fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;
	_Atomic pid_t tid;
	_Atomic int in_run; /* inside KVM_RUN (kick only then) */
	struct virq_reqs reqs;
	pthread_mutex_t mbox_lock; /* one mailbox command at a time per vCPU */
	/* Written by the vCPU thread (relaxed atomics), read by anyone. */
	struct virq_vcpu_exits exits;
	struct virq_vmm_vec vec[VIRQ_NR_VECTORS];

	/* The backend (KVM or simulated) and its private state. */
	const struct virq_cpu_ops *ops;
	void *backend;
	uint64_t timer_deadline; /* user mode: LAPIC timer expiry (ns, CLOCK_MONOTONIC) or 0 */

	/* user mode (user.c). The descriptor is written by posters on any thread. */
	struct virq_pi pi;
	struct virq_lapic *lapic; /* owned by vm->bus; under vm->irq_lock */
	_Atomic int pstate; /* enum virq_pstate */
	_Atomic uint32_t halt_seq; /* futex word: bumped to wake a halted vCPU */
	bool pv_eoi_armed; /* we set the guest's PV-EOI bit for pv_eoi_vector */
	bool pv_eoi_revoked; /* revoked at an exit: re-arm at entry if still alone in ISR */
	uint8_t pv_eoi_vector;
	/* A guest kernel's MSR_KVM_PV_EOI_EN as it last wrote it (bit 0 enable, the rest the
	 * guest-physical address of its PV-EOI byte); 0 = off. Under vm->irq_lock. */
	uint64_t pv_eoi_msr;
	struct virq_vcpu_user_stats ustats; /* relaxed atomic counters */
};

struct virq_vm {
	struct virq_vm_config cfg;
	int kvm_fd;
	int vm_fd;
	int stats_fd;
	unsigned char *mem;
	size_t mem_size;
	pid_t pid;

	pthread_mutex_t lock; /* state, reason, pause bookkeeping, uart */
	pthread_cond_t cond;
	enum virq_vm_state state;
	char reason[VIRQ_VM_REASON_MAX];
	bool pause_req;
	uint32_t parked;
	uint32_t exited;
	atomic_bool stopping;

	int irqfd[VIRQ_NR_GSI]; /* kernel/split: one irqfd per GSI, -1 if absent */
	/* kernel/split: MSI irqfds (virq_vmm_irqfd_msi), one per message seen, on GSIs
	 * VIRQ_MSI_IRQFD_GSI0.. whose MSI routes every routing table we push carries.
	 * Under irq_lock. */
	struct virq_msi_irqfd {
		int fd; /* -1: slot unused */
		uint32_t addr_lo, addr_hi, data;
		uint64_t last; /* msi_irqfd_clock at the last use (LRU) */
	} msi_irqfd[VIRQ_MSI_IRQFDS];
	uint64_t msi_irqfd_clock;
	uint64_t msi_route_updates; /* routing tables pushed for a new MSI message */
	uint64_t msi_irqfd_signals; /* messages signalled through an MSI irqfd (virq_cnt) */
	struct virq_uart uart;
	int uart_irq_level;

	/* split mode: our 8259A pair and IOAPIC (daemon/irqchip), under irq_lock. */
	pthread_mutex_t irq_lock;
	struct virq_pic pic;
	struct virq_ioapic ioapic;
	uint64_t routed_rte[VIRQ_NR_GSI]; /* RTEs last pushed as MSI routes */
	atomic_bool pic_int; /* PIC INT output, for ExtINT injection on vCPU 0 */
	/* per vector, the pins (bit per pin < 32) our IOAPIC sent it from as an MSI: how
	 * BPF's kvm_msi_set_irq of that vector is told from a device's (relaxed atomics) */
	uint32_t split_vec_pins[256];

	/* user mode: our LAPICs (under irq_lock) and the lock-free posting map: for each
	 * 8-bit physical APIC ID, 1 + the CPU whose software-enabled LAPIC answers to it
	 * alone, or 0 (take the locked bus path). Rebuilt by vCPU threads under irq_lock. */
	struct virq_apicbus *bus;
	_Atomic uint16_t post_map[256];
	bool sim; /* vCPUs are simulated (cpu_sim.c): unit tests only */

	/* Doorbell device (doorbell.c). */
	int db_ioeventfd; /* KVM_IOEVENTFD on VIRQ_DOORBELL_PORT */
	int db_irqfd; /* KVM_IRQFD on VIRQ_DOORBELL_GSI */
	int db_stopfd; /* wakes the device thread for shutdown */
	pthread_t db_thread;
	bool db_thread_started;
	pthread_mutex_t db_lock; /* one round trip at a time */
	uint64_t db_events; /* eventfd wake-ups seen by the device thread */

	struct virq_vmm_ledger ledger; /* relaxed atomic counters */

	/* Guest kernel (cfg.kernel, kernel.c) on the PC platform (platform.c). */
	struct virq_platform *plat; /* NULL for the built-in firmware */
	struct virq_boot_entry boot;
	const char *boot_kind; /* "linux", "multiboot"; NULL = firmware */
	/* vCPUs on which KVM_CAP_ENFORCE_PV_FEATURE_CPUID could not be enabled (creation) */
	unsigned int pv_unenforced;
	struct virq_e820_entry e820[VIRQ_E820_MAX];
	size_t n_e820;
	_Atomic int exit_status; /* -1 until the guest exits through a device */
	/* CLOCK_MONOTONIC ns at virq_vm_start and at the stop (0: not yet); under lock. */
	uint64_t t_start, t_stop;

	uint32_t nr_vcpus;
	struct virq_vcpu *vcpus;
};

/* split.c: our PIC/IOAPIC behind an in-kernel LAPIC (KVM_CAP_SPLIT_IRQCHIP). */
int virq_split_init(struct virq_vm *vm, char *err, size_t errlen);
void virq_split_fini(struct virq_vm *vm);
/* Port/MMIO exits: true when the access belonged to our PIC/IOAPIC. vCPU thread. */
bool virq_split_pio(struct virq_vm *vm, uint16_t port, bool out, uint8_t *data);
bool virq_split_mmio(struct virq_vm *vm, uint64_t gpa, bool write, uint8_t *data, uint32_t len);
/* KVM_EXIT_IOAPIC_EOI. */
void virq_split_ioapic_eoi(struct virq_vm *vm, uint8_t vector);
/* Pushes split mode's routing table again (IOAPIC routes, then virq_vm_extra_routes).
 * Under irq_lock. 0 or -errno. */
int virq_split_push_routes(struct virq_vm *vm);
/* Drive a GSI through our PIC and IOAPIC; virq delivery-result convention. */
int virq_split_set_gsi(struct virq_vm *vm, uint32_t gsi, int level, enum virq_path *path);
/* Before KVM_RUN on vCPU 0: ExtINT from our PIC via KVM_INTERRUPT or an IRQ window. */
void virq_split_pre_run(struct virq_vcpu *c);
/* doorbell.c: after the irqchip and the doorbell's route exist. */
int virq_doorbell_init(struct virq_vm *vm, char *err, size_t errlen);
void virq_doorbell_fini(struct virq_vm *vm);

/* user.c: the `user` irqchip mode (our PIC, IOAPIC and LAPICs; posted delivery). */
int virq_user_init(struct virq_vm *vm, char *err, size_t errlen);
void virq_user_fini(struct virq_vm *vm);
/* Per vCPU, after the backend exists: PI descriptor, LAPIC link. */
void virq_user_vcpu_init(struct virq_vcpu *c);
/* Enable KVM_CAP_X86_USER_SPACE_MSR and the MSR filter (KVM backend only). */
int virq_user_kvm_setup(struct virq_vm *vm, char *err, size_t errlen);
/* MSI into our LAPICs: posted (lock-free) or under the lock. Result as irq.h. */
int virq_user_msi(struct virq_vm *vm, uint64_t addr, uint32_t data, enum virq_path path);
/* Drive a GSI through our IOAPIC and PIC (a pulse under one lock hold). */
int virq_user_set_gsi(struct virq_vm *vm, uint32_t gsi, enum virq_gsi_op op, enum virq_path *path);
/* vCPU thread, before each entry: requests, INIT/SIPI, PIR -> IRR, injection or an
 * interrupt window, PV-EOI. Returns 1 to enter, 0 to go back to the request loop
 * (pause/stop/kick while waiting for SIPI), -1 when the vCPU must stop. */
int virq_user_pre_run(struct virq_vcpu *c);
/* vCPU thread, after every KVM_RUN return (including -EINTR): SN, PV-EOI sync. */
void virq_user_post_run(struct virq_vcpu *c);
/* Exit handlers (vCPU thread); return false when the vCPU must stop. GSIs and the PIC
 * ports are shared with split mode (virq_split_set_gsi, virq_split_pio). */
bool virq_user_halt(struct virq_vcpu *c);
bool virq_user_mmio(struct virq_vcpu *c);
bool virq_user_msr(struct virq_vcpu *c, bool write);
/* A guest kernel's ledger from our LAPIC's counters (INTA and EOI per vector). */
int virq_user_lapic_ledger(const struct virq_vm *vm, uint32_t vcpu, struct virq_guest_ledger *out);
/* Wake a halted user-mode vCPU (any thread). */
void virq_user_wake(struct virq_vcpu *c);

/* kernel.c: read and place cfg.kernel/initrd, e820, ACPI/MP tables, entry GDT and map. */
int virq_kernel_load(struct virq_vm *vm, char *err, size_t errlen);
/* The BSP's entry state for vm->boot. */
int virq_kernel_bsp(struct virq_vcpu *c, char *err, size_t errlen);
struct kvm_cpuid_entry2;
void virq_kernel_cpuid(const struct virq_vm *vm, struct kvm_cpuid_entry2 *e);

/* platform.c: the PC devices of a guest-kernel VM (after the irqchip, before vCPUs). */
/* PCI bus 0's windows: platform.c assigns the BARs in them, kernel.c's DSDT gives the
 * memory window to the guest as PCI0's _CRS (the I/O window lies inside its WordIO). */
#define PC_PCI_MEM_BASE 0xc0000000ull /* 32-bit BARs: above RAM (<= 1 GiB), below the IOAPIC */
#define PC_PCI_MEM_LIMIT 0xfebfffffull
#define PC_PCI_IO_BASE 0xc000u
#define PC_PCI_IO_LIMIT 0xffffu
/* The virtio-blk disk: its PCI slot (the first after the host bridge) and the ISA line its
 * INTA# drives when MSI-X is off (the DSDT's _PRT says so: kernel.c). */
#define PC_DISK_SLOT 1
#define PC_DISK_INTX 11
int virq_platform_init(struct virq_vm *vm, char *err, size_t errlen);
int virq_platform_start(struct virq_vm *vm);
void virq_platform_fini(struct virq_vm *vm);
/* KVM_EXIT_IO / unclaimed KVM_EXIT_MMIO of a guest-kernel VM. vCPU thread. */
void virq_platform_pio(struct virq_vcpu *c);
void virq_platform_mmio(struct virq_vcpu *c);
/* IOAPIC pin of a GSI on the PC board (GSI 0 -> pin 2; UINT32_MAX: none). */
uint32_t virq_pc_ioapic_pin(uint32_t gsi);
/* A guest kernel's VM: the PC board's wiring and devices (known from creation on). */
static inline bool virq_vm_is_pc(const struct virq_vm *vm)
{
	return vm->cfg.kernel[0] != '\0';
}

/* vm.c helpers used by split.c and user.c. */
int virq_vmm_signal_msi(struct virq_vm *vm, uint64_t addr, uint32_t data, enum virq_path path);
/* kernel/split: the same message through an irqfd on an MSI route (a route is added when
 * the message is new: KVM_SET_GSI_ROUTING, then KVM_IRQFD; up to VIRQ_MSI_IRQFDS messages,
 * the least recently used replaced). KVM injects it when the eventfd is written, without
 * an ioctl, so whether it was coalesced is KVM's to say (kvm_apic_accept_irq): counted
 * as injected. Falls back to virq_vmm_signal_msi if the route cannot be made. 1 (signalled
 * through the irqfd) or virq_vmm_signal_msi's result. user mode: virq_vmm_signal_msi. */
int virq_vmm_irqfd_msi(struct virq_vm *vm, uint64_t addr, uint32_t data, enum virq_path path);
/* Appends the doorbell's and the MSI irqfds' routes to a routing table being built;
 * returns how many (at most 1 + VIRQ_MSI_IRQFDS). Under irq_lock. */
struct kvm_irq_routing_entry;
uint32_t virq_vm_extra_routes(const struct virq_vm *vm, struct kvm_irq_routing_entry *e);
void virq_vmm_kick_event(struct virq_vm *vm, uint32_t vcpu);
/* The kick signal (vm.c): its handler sets the thread's kvm_run.immediate_exit. */
int virq_vmm_kick_signo(void);
void virq_vmm_tgkill(struct virq_vcpu *c);
/* Any thread: make the vCPU leave KVM_RUN or its halt. */
void virq_vmm_kick(struct virq_vcpu *c);
/* Stops only this VM with a reason (guest failure). Any thread, vCPU threads included. */
void virq_vmm_fail(struct virq_vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Unit tests only: a `user`-mode VM whose vCPUs are simulated (cpu_sim.c) instead of
 * run by KVM. No /dev/kvm is opened; guest memory, tables, ledgers, our irqchip models,
 * vCPU threads, posting and every exit handler are the real ones. Not reachable from
 * struct virq_vm_config on purpose. cfg->irqchip must be VIRQ_IRQCHIP_USER.
 */
struct virq_vm *virq_vm_create_sim(const struct virq_vm_config *cfg, char *err, size_t errlen);

/* Simulated-vCPU introspection (cpu_sim.c), for tests. */
struct virq_sim_stats {
	uint64_t violations; /* VMM injected while IF=0, in a shadow, or with one pending */
	uint64_t injections; /* KVM_INTERRUPT-equivalents taken */
	uint64_t nmis;
	uint64_t exceptions;
	uint64_t window_exits; /* KVM_EXIT_IRQ_WINDOW_OPEN produced */
	uint64_t hlt_exits;
	uint64_t eoi_mmio; /* EOI writes that exited: MMIO 0xFEE000B0 or x2APIC MSR 0x80B */
	uint64_t eoi_pv_skipped; /* EOIs the PV-EOI bit let the firmware skip */
	uint64_t sipi_gpa; /* last start address taken from a SIPI (vector << 12) */
	uint64_t runs;
	char violation[128]; /* first violation, for the failure message */
};
int virq_sim_stats(const struct virq_vm *vm, uint32_t vcpu, struct virq_sim_stats *out);

static inline void virq_cnt_add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static inline uint64_t virq_cnt_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

#endif /* VIRQ_VMM_INTERNAL_H */
