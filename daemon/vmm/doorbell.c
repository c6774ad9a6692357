// SPDX-License-Identifier: MIT
/*
 * Doorbell device: guest port write -> KVM_IOEVENTFD (no userspace exit) -> device
 * thread -> completion interrupt -> guest handler. The same shape as a virtio queue
 * notification and its completion interrupt, reduced to one port and one vector.
 *
 * The completion is an irqfd on an MSI route with an in-kernel irqchip (kernel/split);
 * in `user` mode, where KVM has no irqchip to route an irqfd to, the device thread posts
 * the same MSI into vCPU 0's posted-interrupt descriptor (virq_user_msi), as an
 * assigned device's interrupt is posted by VT-d, and kicks the vCPU only if ON went
 * 0 -> 1 while it was in KVM_RUN.
 */
#include "vmm_internal.h"
#include "virq/vmm_guest.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *doorbell_thread(void *arg)
{
	struct virq_vm *vm = arg;
	struct pollfd pfd[2] = {
		{ .fd = vm->db_ioeventfd, .events = POLLIN },
		{ .fd = vm->db_stopfd, .events = POLLIN },
	};

	for (;;) {
		uint64_t n, one = 1;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		/* One read collects every ring since the last one (eventfd counter). */
		if (read(vm->db_ioeventfd, &n, sizeof(n)) != sizeof(n))
			continue;
		virq_cnt_add(&vm->db_events, 1);
		if (vm->cfg.irqchip == VIRQ_IRQCHIP_USER) {
			/* Counted by virq_user_msi on the MSI path (injected, coalesced or
			 * failed) like any other MSI; here only as a doorbell post. */
			if (virq_user_msi(vm, VIRQ_LAPIC_GPA, VIRQ_DOORBELL_VECTOR,
					  VIRQ_PATH_MSI) >= 0)
				virq_cnt_add(&vm->ledger.doorbell_posts, 1);
		} else if (write(vm->db_irqfd, &one, sizeof(one)) == sizeof(one)) {
			virq_cnt_add(&vm->ledger.irqfd_signals, 1);
		} else {
			virq_cnt_add(&vm->ledger.path_failed[VIRQ_PATH_MSI], 1);
		}
	}
	return NULL;
}

int virq_doorbell_init(struct virq_vm *vm, char *err, size_t errlen)
{
	struct kvm_ioeventfd io;
	struct kvm_irqfd irqfd;
	bool user = vm->cfg.irqchip == VIRQ_IRQCHIP_USER;
	int ret;

	vm->db_ioeventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->db_irqfd = user ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->db_stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->db_ioeventfd < 0 || (!user && vm->db_irqfd < 0) || vm->db_stopfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "doorbell eventfd: %s", strerror(errno));
		return ret;
	}
	memset(&io, 0, sizeof(io));
	io.addr = VIRQ_DOORBELL_PORT;
	io.len = 1;
	io.fd = vm->db_ioeventfd;
	io.flags = KVM_IOEVENTFD_FLAG_PIO; /* any value matches: no datamatch */
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		ret = -errno;
		snprintf(err, errlen, "KVM_IOEVENTFD: %s", strerror(errno));
		return ret;
	}
	memset(&irqfd, 0, sizeof(irqfd));
	irqfd.fd = (uint32_t)vm->db_irqfd;
	irqfd.gsi = VIRQ_DOORBELL_GSI;
	if (!user && ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		ret = -errno;
		snprintf(err, errlen, "KVM_IRQFD doorbell: %s", strerror(errno));
		return ret;
	}
	ret = -pthread_create(&vm->db_thread, NULL, doorbell_thread, vm);
	if (ret) {
		snprintf(err, errlen, "doorbell thread: %s", strerror(-ret));
		return ret;
	}
	vm->db_thread_started = true;
	return 0;
}

void virq_doorbell_fini(struct virq_vm *vm)
{
	uint64_t one = 1;

	if (vm->db_thread_started) {
		if (write(vm->db_stopfd, &one, sizeof(one)) == sizeof(one))
			pthread_join(vm->db_thread, NULL);
		vm->db_thread_started = false;
	}
	/* Closing the fds releases KVM's ioeventfd and irqfd bindings with the VM. */
	if (vm->db_ioeventfd >= 0)
		close(vm->db_ioeventfd);
	if (vm->db_irqfd >= 0)
		close(vm->db_irqfd);
	if (vm->db_stopfd >= 0)
		close(vm->db_stopfd);
	vm->db_ioeventfd = vm->db_irqfd = vm->db_stopfd = -1;
}

int virq_vm_doorbell(struct virq_vm *vm, unsigned int timeout_ms, uint64_t *rtt_ns)
{
	struct virq_guest_vec g;
	uint64_t base, t0, deadline;
	int ret;

	if (!vm)
		return -EINVAL;
	if (!vm->db_thread_started)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&vm->db_lock);
	virq_vm_ledger(vm, 0, VIRQ_DOORBELL_VECTOR, &g);
	base = g.count;
	t0 = mono_ns();
	deadline = t0 + (uint64_t)timeout_ms * 1000000ull;
	ret = virq_vm_guest_cmd(vm, 0, VIRQ_MBOX_OUTB, VIRQ_DOORBELL_PORT, 1, NULL, timeout_ms);
	while (!ret) {
		virq_vm_ledger(vm, 0, VIRQ_DOORBELL_VECTOR, &g);
		if (g.count > base)
			break;
		if (virq_vm_state(vm, NULL, 0) == VIRQ_VM_STOPPED)
			ret = -ESHUTDOWN;
		else if (mono_ns() > deadline)
			ret = -ETIMEDOUT;
		else
			usleep(20);
	}
	if (!ret) {
		uint64_t rtt = mono_ns() - t0;

		virq_cnt_add(&vm->ledger.doorbell_roundtrips, 1);
		virq_cnt_add(&vm->ledger.doorbell_ns_sum, rtt);
		if (rtt_ns)
			*rtt_ns = rtt;
	}
	pthread_mutex_unlock(&vm->db_lock);
	return ret;
}
