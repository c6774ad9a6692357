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

#include "virq/ioapic.h"
#include "virq/pic.h"
#include "virq/vmm.h"
#include "virq/vmm_kvm.h"
#include "virq/vmm_uart.h"

#define VIRQ_NR_GSI 24

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
	struct virq_uart uart;
	int uart_irq_level;

	/* split mode: our 8259A pair and IOAPIC (daemon/irqchip), under irq_lock. */
	pthread_mutex_t irq_lock;
	struct virq_pic pic;
	struct virq_ioapic ioapic;
	uint64_t routed_rte[VIRQ_NR_GSI]; /* RTEs last pushed as MSI routes */
	atomic_bool pic_int; /* PIC INT output, for ExtINT injection on vCPU 0 */

	/* Doorbell device (doorbell.c). */
	int db_ioeventfd; /* KVM_IOEVENTFD on VIRQ_DOORBELL_PORT */
	int db_irqfd; /* KVM_IRQFD on VIRQ_DOORBELL_GSI */
	int db_stopfd; /* wakes the device thread for shutdown */
	pthread_t db_thread;
	bool db_thread_started;
	pthread_mutex_t db_lock; /* one round trip at a time */
	uint64_t db_events; /* eventfd wake-ups seen by the device thread */

	struct virq_vmm_ledger ledger; /* relaxed atomic counters */
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
/* Drive a GSI through our PIC and IOAPIC; virq delivery-result convention. */
int virq_split_set_gsi(struct virq_vm *vm, uint32_t gsi, int level, enum virq_path *path);
/* Before KVM_RUN on vCPU 0: ExtINT from our PIC via KVM_INTERRUPT or an IRQ window. */
void virq_split_pre_run(struct virq_vcpu *c);
/* doorbell.c: after the irqchip and the doorbell's route exist. */
int virq_doorbell_init(struct virq_vm *vm, char *err, size_t errlen);
void virq_doorbell_fini(struct virq_vm *vm);

/* vm.c helpers used by split.c. */
int virq_vmm_signal_msi(struct virq_vm *vm, uint64_t addr, uint32_t data, enum virq_path path);
void virq_vmm_kick_event(struct virq_vm *vm, uint32_t vcpu);

static inline void virq_cnt_add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static inline uint64_t virq_cnt_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

#endif /* VIRQ_VMM_INTERNAL_H */
