// SPDX-License-Identifier: MIT
/* Pure helpers around the KVM API (no ioctls): see include/virq/vmm_kvm.h. */
#include "virq/vmm_kvm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/kvm.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static const char *const exit_names[] = {
	[KVM_EXIT_UNKNOWN] = "UNKNOWN",
	[KVM_EXIT_EXCEPTION] = "EXCEPTION",
	[KVM_EXIT_IO] = "IO",
	[KVM_EXIT_HYPERCALL] = "HYPERCALL",
	[KVM_EXIT_DEBUG] = "DEBUG",
	[KVM_EXIT_HLT] = "HLT",
	[KVM_EXIT_MMIO] = "MMIO",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
	[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
	[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
	[KVM_EXIT_INTR] = "INTR",
	[KVM_EXIT_SET_TPR] = "SET_TPR",
	[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
	[KVM_EXIT_NMI] = "NMI",
	[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
	[KVM_EXIT_OSI] = "OSI",
	[KVM_EXIT_PAPR_HCALL] = "PAPR_HCALL",
	[KVM_EXIT_WATCHDOG] = "WATCHDOG",
	[KVM_EXIT_EPR] = "EPR",
	[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
	[KVM_EXIT_IOAPIC_EOI] = "IOAPIC_EOI",
	[KVM_EXIT_HYPERV] = "HYPERV",
	[KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
	[KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
	[KVM_EXIT_DIRTY_RING_FULL] = "DIRTY_RING_FULL",
	[KVM_EXIT_AP_RESET_HOLD] = "AP_RESET_HOLD",
	[KVM_EXIT_X86_BUS_LOCK] = "X86_BUS_LOCK",
	[KVM_EXIT_XEN] = "XEN",
	[KVM_EXIT_NOTIFY] = "NOTIFY",
};

const char *virq_kvm_exit_name(uint32_t reason)
{
	if (reason < sizeof(exit_names) / sizeof(exit_names[0]) && exit_names[reason])
		return exit_names[reason];
	return "UNKNOWN";
}

/* --- binary statistics (Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD) ------- */

#define STATS_MAX_BYTES (1u << 20)
#define STATS_MAX_DESC 4096u
#define STATS_MAX_NAME 256u

static int range_ok(size_t len, uint64_t off, uint64_t size)
{
	return off <= len && size <= len - off;
}

int virq_kvm_stats_parse(const void *buf, size_t len, int32_t vcpu, struct virq_kvm_stat *out,
			 size_t max)
{
	const unsigned char *p = buf;
	struct kvm_stats_header h;
	size_t desc_sz;
	uint32_t i;

	if (!buf || (max && !out))
		return -EINVAL;
	if (len < sizeof(h))
		return -EPROTO;
	memcpy(&h, p, sizeof(h));
	if (h.name_size == 0 || h.name_size > STATS_MAX_NAME || h.num_desc > STATS_MAX_DESC)
		return -EPROTO;
	desc_sz = sizeof(struct kvm_stats_desc) + h.name_size;
	if (!range_ok(len, h.desc_offset, (uint64_t)desc_sz * h.num_desc))
		return -EPROTO;

	for (i = 0; i < h.num_desc; i++) {
		const unsigned char *dp = p + h.desc_offset + (size_t)i * desc_sz;
		struct kvm_stats_desc d;
		uint64_t val = 0, v;
		uint32_t type;

		memcpy(&d, dp, sizeof(d));
		type = d.flags & KVM_STATS_TYPE_MASK;
		if (d.size == 0 || type > KVM_STATS_TYPE_MAX)
			return -EPROTO;
		/* Each descriptor's data lives at data_offset + desc.offset (u64 items). */
		if (!range_ok(len, (uint64_t)h.data_offset + d.offset, (uint64_t)d.size * 8))
			return -EPROTO;
		/* The name must be NUL-terminated inside its name_size bytes. */
		if (!memchr(dp + sizeof(d), '\0', h.name_size))
			return -EPROTO;
		if (i >= max)
			continue;
		for (uint32_t k = 0; k < d.size; k++) {
			memcpy(&v, p + h.data_offset + d.offset + (size_t)k * 8, 8);
			if (type == KVM_STATS_TYPE_LINEAR_HIST || type == KVM_STATS_TYPE_LOG_HIST)
				val += v;
			else if (k == 0)
				val = v;
		}
		memset(&out[i], 0, sizeof(out[i]));
		/* Names longer than our field are truncated, still NUL-terminated. */
		strncpy(out[i].name, (const char *)dp + sizeof(d), sizeof(out[i].name) - 1);
		out[i].vcpu = vcpu;
		out[i].flags = d.flags;
		out[i].value = val;
	}
	return (int)h.num_desc;
}

int virq_kvm_stats_read_fd(int fd, int32_t vcpu, struct virq_kvm_stat *out, size_t max)
{
	struct kvm_stats_header h;
	size_t cap = 64 * 1024, got = 0;
	unsigned char *buf;
	ssize_t n;
	int ret;

	n = pread(fd, &h, sizeof(h), 0);
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(h))
		return -EPROTO;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	/* The file has no advertised size: read until EOF, bounded. */
	for (;;) {
		if (got == cap) {
			unsigned char *nb;

			if (cap >= STATS_MAX_BYTES) {
				free(buf);
				return -EFBIG;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = pread(fd, buf + got, cap - got, (off_t)got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			free(buf);
			return ret;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	ret = virq_kvm_stats_parse(buf, got, vcpu, out, max);
	free(buf);
	return ret;
}

/* --- SDM Vol. 3A 6.15, Tables 6-4 and 6-5 ------------------------------------- */

enum virq_exc_class virq_exc_class(uint8_t vector)
{
	switch (vector) {
	case 0: /* #DE */
	case 10: /* #TS */
	case 11: /* #NP */
	case 12: /* #SS */
	case 13: /* #GP */
		return VIRQ_EXC_CONTRIBUTORY;
	case 14: /* #PF */
	case 20: /* #VE: page-fault class since SDM rev. 48 (Table 6-4) */
		return VIRQ_EXC_PAGE_FAULT;
	case 8:
		return VIRQ_EXC_DOUBLE;
	default:
		return VIRQ_EXC_BENIGN; /* includes NMI and external interrupts */
	}
}

enum virq_exc_outcome virq_exc_merge(uint8_t first, uint8_t second)
{
	enum virq_exc_class c1 = virq_exc_class(first), c2 = virq_exc_class(second);

	/*
	 * 6.15 "Interrupt 8": a contributory exception or page fault while calling the
	 * #DF handler → shutdown. A benign one is handled serially. (KVM's
	 * kvm_multiple_exception() shuts down on any exception after #DF; the SDM
	 * is what we model.)
	 */
	if (c1 == VIRQ_EXC_DOUBLE)
		return (c2 == VIRQ_EXC_CONTRIBUTORY || c2 == VIRQ_EXC_PAGE_FAULT ||
			c2 == VIRQ_EXC_DOUBLE) ?
			       VIRQ_EXC_SHUTDOWN :
			       VIRQ_EXC_SERIAL;
	/* Table 6-5: contributory+contributory and page fault+(contributory|page fault). */
	if (c1 == VIRQ_EXC_CONTRIBUTORY && c2 == VIRQ_EXC_CONTRIBUTORY)
		return VIRQ_EXC_TO_DF;
	if (c1 == VIRQ_EXC_PAGE_FAULT && (c2 == VIRQ_EXC_CONTRIBUTORY || c2 == VIRQ_EXC_PAGE_FAULT))
		return VIRQ_EXC_TO_DF;
	return VIRQ_EXC_SERIAL;
}

const char *virq_req_name(enum virq_req req)
{
	static const char *const n[VIRQ_REQ__COUNT] = {
		[VIRQ_REQ_EVENT] = "event", [VIRQ_REQ_NMI] = "nmi",   [VIRQ_REQ_INIT] = "init",
		[VIRQ_REQ_SIPI] = "sipi",   [VIRQ_REQ_KICK] = "kick", [VIRQ_REQ_PAUSE] = "pause",
		[VIRQ_REQ_STOP] = "stop",
	};
	return ((unsigned)req < VIRQ_REQ__COUNT) ? n[req] : "unknown";
}

enum virq_line_status virq_line_status_classify(int ioctl_rc, int32_t status)
{
	if (ioctl_rc < 0)
		return VIRQ_LS_ERROR;
	if (status < 0)
		return VIRQ_LS_IGNORED;
	if (status == 0)
		return VIRQ_LS_COALESCED;
	return VIRQ_LS_DELIVERED;
}

int virq_line_status_result(int ioctl_rc, int32_t status)
{
	if (ioctl_rc < 0)
		return ioctl_rc;
	if (status < 0)
		return -ENODEV; /* masked or no destination: kvm_set_irq() said "ignored" */
	return status;
}

int virq_kvm_foreign_stats_fd(pid_t pid, int fd, bool is_stats, char *why, size_t whylen)
{
	int pidfd, dup, sfd, err;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		err = errno;
		snprintf(why, whylen, "pidfd_open(%d): %s", (int)pid, strerror(err));
		return -err;
	}
	dup = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	err = errno;
	close(pidfd);
	if (dup < 0) {
		snprintf(why, whylen, "pidfd_getfd(pid %d, fd %d): %s%s", (int)pid, fd,
			 strerror(err),
			 err == EPERM ? " (needs root or CAP_SYS_PTRACE over the VMM)" : "");
		return -err;
	}
	if (is_stats)
		return dup;
	sfd = ioctl(dup, KVM_GET_STATS_FD, NULL);
	err = errno;
	close(dup);
	if (sfd < 0) {
		snprintf(why, whylen, "KVM_GET_STATS_FD on pid %d's fd %d: %s%s", (int)pid, fd,
			 strerror(err),
			 err == EIO ? " (KVM serves a VM's ioctls only to the process that "
				      "created it; the VMM holds no stats fd of its own)" :
				      "");
		return -err;
	}
	return sfd;
}
