/* SPDX-License-Identifier: MIT */
/*
 * virq VMM: pure helpers around the KVM API that need no /dev/kvm, so they are
 * unit-tested on any machine: exit-reason names, binary-stats parsing, the SDM
 * exception-merging rule, the per-vCPU request bitmap, KVM_IRQ_LINE_STATUS accounting.
 *
 * Threading: all functions are reentrant; the request bitmap is lock-free and may be
 * used from any thread (set) and the owning vCPU thread (take).
 */
#ifndef VIRQ_VMM_KVM_H
#define VIRQ_VMM_KVM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virq/vmm.h"

/* "IO", "MMIO", "HLT", ... (KVM_EXIT_* names without the prefix); "UNKNOWN" otherwise. */
const char *virq_kvm_exit_name(uint32_t reason);

/*
 * Parses a KVM binary-statistics blob: the whole content of a KVM_GET_STATS_FD file
 * from offset 0 (struct kvm_stats_header, id string, descriptors each followed by a
 * name of header.name_size bytes, data block of u64s). Every offset and size is
 * bounds-checked against len. Writes at most max entries tagged with `vcpu`; returns
 * the number of stats in the blob or -EPROTO (malformed) / -EINVAL.
 * Histogram stats report the sum of their buckets.
 */
int virq_kvm_stats_parse(const void *buf, size_t len, int32_t vcpu, struct virq_kvm_stat *out,
			 size_t max);
/* Reads a stats fd (pread from 0, bounded to 1 MiB) and parses it. */
int virq_kvm_stats_read_fd(int fd, int32_t vcpu, struct virq_kvm_stat *out, size_t max);

/*
 * A KVM binary-statistics fd of another process's VM or vCPU (observed VMs), through
 * pidfd_open(2) and pidfd_getfd(2) (Linux 5.6; the kernel checks PTRACE_MODE_ATTACH on the
 * VMM: root, or CAP_SYS_PTRACE for another user's). `fd` is the VMM's fd number:
 *   - is_stats: a stats fd the VMM opened itself (anon_inode:kvm-vcpu-stats:N or
 *     kvm-vm-stats; QEMU keeps one per vCPU): the duplicate is returned, readable here;
 *   - else a kvm-vm or kvm-vcpu fd: KVM_GET_STATS_FD is asked on the duplicate. KVM answers
 *     a VM's ioctls only in the process that created it (kvm_vm_ioctl/kvm_vcpu_ioctl
 *     check kvm->mm == current->mm, before taking any lock), so this fails with EIO
 *     everywhere today; it is tried so that a kernel that allows it is used.
 * Returns our fd (the caller closes it) or -errno with the reason in why. Any thread;
 * never blocks.
 */
int virq_kvm_foreign_stats_fd(pid_t pid, int fd, bool is_stats, char *why, size_t whylen);

/* Exception classes of SDM Vol. 3A 6.15, Table 6-4. */
enum virq_exc_class {
	VIRQ_EXC_BENIGN = 0,
	VIRQ_EXC_CONTRIBUTORY, /* #DE, #TS, #NP, #SS, #GP */
	VIRQ_EXC_PAGE_FAULT, /* #PF, #VE */
	VIRQ_EXC_DOUBLE, /* #DF itself */
};
enum virq_exc_class virq_exc_class(uint8_t vector);

/* What happens when `second` is raised while delivering `first` (Table 6-5). */
enum virq_exc_outcome {
	VIRQ_EXC_SERIAL = 0, /* deliver `second` (first is handled/regenerated serially) */
	VIRQ_EXC_TO_DF, /* generate #DF (vector 8, error code 0) */
	VIRQ_EXC_SHUTDOWN, /* triple fault: the processor enters shutdown */
};
enum virq_exc_outcome virq_exc_merge(uint8_t first, uint8_t second);

/*
 * Per-vCPU requests, processed by the vCPU thread before each KVM_RUN (like KVM's
 * KVM_REQ_* bits). virq_req_set() returns true if the bit was newly set.
 */
enum virq_req {
	VIRQ_REQ_EVENT = 0, /* re-evaluate pending interrupts */
	VIRQ_REQ_NMI,
	VIRQ_REQ_INIT,
	VIRQ_REQ_SIPI,
	VIRQ_REQ_KICK, /* just leave KVM_RUN */
	VIRQ_REQ_PAUSE,
	VIRQ_REQ_STOP,
	VIRQ_REQ__COUNT
};

struct virq_reqs {
	_Atomic uint32_t bits;
};

static inline bool virq_req_set(struct virq_reqs *r, enum virq_req req)
{
	uint32_t m = 1u << req;
	return !(atomic_fetch_or_explicit(&r->bits, m, memory_order_acq_rel) & m);
}

static inline bool virq_req_test(const struct virq_reqs *r, enum virq_req req)
{
	return atomic_load_explicit(&r->bits, memory_order_acquire) & (1u << req);
}

/* Clears and returns whether it was set. */
static inline bool virq_req_test_clear(struct virq_reqs *r, enum virq_req req)
{
	uint32_t m = 1u << req;
	return atomic_fetch_and_explicit(&r->bits, ~m, memory_order_acq_rel) & m;
}

/* Takes every pending request except the sticky ones in keep_mask. */
static inline uint32_t virq_req_take(struct virq_reqs *r, uint32_t keep_mask)
{
	return atomic_fetch_and_explicit(&r->bits, keep_mask, memory_order_acq_rel) & ~keep_mask;
}

const char *virq_req_name(enum virq_req req);

/*
 * Classifies one KVM_IRQ_LINE_STATUS call: ioctl_rc (0 or -errno) and the status
 * KVM wrote back (kvm_set_irq()'s result: <0 ignored/masked, 0 coalesced, >0 CPUs).
 */
enum virq_line_status virq_line_status_classify(int ioctl_rc, int32_t status);
/* Converts the same into the virq delivery-result convention of irq.h. */
int virq_line_status_result(int ioctl_rc, int32_t status);

#endif /* VIRQ_VMM_KVM_H */
