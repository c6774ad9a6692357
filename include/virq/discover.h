/* SPDX-License-Identifier: MIT */
/*
 * virq discover: find every KVM VM on the host through /proc (daemon/trace/discover.c).
 *
 * A VM is a process holding an fd whose link reads `anon_inode:kvm-vm`; its vCPUs are the
 * fds reading `anon_inode:kvm-vcpu:N`. A process may hold several VMs (several kvm-vm fds);
 * vCPU fds cannot be tied to one of them through /proc, so they are listed on the
 * process's first VM and the count of VM fds is reported.
 *
 * vCPU threads: /proc gives no fd -> thread link. What works, in order:
 *   1. a naming callback (virqd names its own vCPU threads),
 *   2. thread comm "CPU N/KVM" (QEMU), "fc_vcpu N" (Firecracker), "vcpu N"/"vcpuN"
 *      (cloud-hypervisor, kvmtool "kvm-vcpu-N", virqd "virq-vcpuN"): the trailing number
 *      is taken as the vCPU index,
 *   3. otherwise tid stays 0 (unknown).
 * Names: the callback, else QEMU `-name guest=X,...` / `-name X`, Firecracker `--id X`,
 * else the command line (arguments joined by spaces, truncated).
 *
 * Pure function of the /proc tree given: unit tests build a fake tree. Any thread.
 */
#ifndef VIRQ_DISCOVER_H
#define VIRQ_DISCOVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VIRQ_DISC_NAME_MAX 64
#define VIRQ_DISC_CMD_MAX 256
#define VIRQ_DISC_MAX_VCPUS 1024

enum virq_disc_kind {
	VIRQ_DISC_OTHER = 0,
	VIRQ_DISC_QEMU,
	VIRQ_DISC_FIRECRACKER,
	VIRQ_DISC_VIRQD, /* named by the caller's callback */
};
const char *virq_disc_kind_name(enum virq_disc_kind k);

struct virq_disc_vcpu {
	uint32_t index; /* N of anon_inode:kvm-vcpu:N */
	pid_t tid; /* thread running it, 0 if unknown */
	int fd; /* the VMM's fd number of the vCPU */
	int stats_fd; /* the VMM's fd of anon_inode:kvm-vcpu-stats:N (KVM_GET_STATS_FD it
		       * opened itself, as QEMU does per vCPU), -1 if it holds none */
};

struct virq_disc_vm {
	pid_t pid;
	unsigned int nr_vm_fds; /* kvm-vm fds held by this process */
	int vm_fd; /* the first of them (fd number in the VMM) */
	int vm_stats_fd; /* its anon_inode:kvm-vm-stats fd, -1 if none */
	enum virq_disc_kind kind;
	char name[VIRQ_DISC_NAME_MAX];
	char cmdline[VIRQ_DISC_CMD_MAX]; /* arguments joined by spaces */
	unsigned int nr_vcpus;
	struct virq_disc_vcpu *vcpus; /* sorted by index; owned by the list */
};

struct virq_disc_list {
	size_t n;
	struct virq_disc_vm *vms; /* sorted by pid */
};

/* Optional naming hook for our own VMs: return 0 and fill name when pid is ours. It may
 * also fill tids for vcpus (index given). NULL = none. */
struct virq_disc_namer {
	int (*name_vm)(void *ctx, pid_t pid, char *name, size_t len);
	pid_t (*vcpu_tid)(void *ctx, pid_t pid, uint32_t index); /* 0 if unknown */
	void *ctx;
};

/* Scans proc_root (NULL = "/proc"). Processes that vanish or deny access mid-scan are
 * skipped (counted in *skipped if non-NULL). 0 or -errno (proc_root unreadable, ENOMEM). */
int virq_discover(const char *proc_root, const struct virq_disc_namer *namer,
		  struct virq_disc_list *out, unsigned int *skipped);
/* Frees the list's contents (not the struct). Accepts NULL and empty lists. */
void virq_disc_list_free(struct virq_disc_list *l);

/* Name extraction from a NUL-separated argv blob (as /proc/PID/cmdline), exposed for tests.
 * Returns the kind and fills name (empty if none). */
enum virq_disc_kind virq_disc_name_from_cmdline(const char *argv, size_t len, char *name,
						size_t namelen);

#endif /* VIRQ_DISCOVER_H */
