// SPDX-License-Identifier: MIT
/*
 * The VM object on /dev/kvm: memory, vCPU threads, the KVM_RUN loop and exit dispatch,
 * pause/resume/stop, kicks, injection and the ledgers. Follows the kvmtool and KVM
 * selftests patterns; every ioctl result is checked. See include/virq/vmm.h.
 *
 * Irqchip modes: `kernel` here, `split` with split.c, `user` with user.c (our LAPIC
 * models, posted descriptors, userspace INIT/SIPI), whose vCPU ioctls go through a
 * backend (struct virq_cpu_ops: cpu_kvm.c; cpu_sim.c for unit tests, virq_vm_create_sim).
 */
#include "vmm_internal.h"
#include "virq/vmm_guest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define KVM_DEV "/dev/kvm"
#define KICK_SIGNAL (SIGRTMIN + 5)
#define TEST_DEV_PORT 0x2000 /* +gsi: out 1 asserts, out 0 de-asserts (pc-testdev style) */
#define TEST_EXIT_PORT 0xf4 /* isa-debug-exit style */
#define TSS_ADDR 0xfffbd000 /* kvmtool's KVM_SET_TSS_ADDR choice (3 pages below 4 GiB) */

static __thread struct kvm_run *tls_run;
static pthread_once_t kick_once = PTHREAD_ONCE_INIT;
static int kick_install_err;

/* The kick handler only sets immediate_exit (PLATFORM.md; KVM api.rst, KVM_RUN). */
static void kick_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	if (tls_run)
		tls_run->immediate_exit = 1;
}

static void kick_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = kick_handler;
	sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: KVM_RUN must return -EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(KICK_SIGNAL, &sa, NULL) != 0)
		kick_install_err = errno;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- availability ------------------------------------------------------------- */

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_IRQ_INJECT_STATUS, "KVM_CAP_IRQ_INJECT_STATUS" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
};

static int check_kvm_fd(int kvm_fd, char *why, size_t whylen)
{
	int v = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);

	if (v != KVM_API_VERSION) {
		set_err(why, whylen, "KVM API version %d (need %d)", v, KVM_API_VERSION);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			set_err(why, whylen, "missing capability %s", required_caps[i].name);
			return -ENOTSUP;
		}
	}
	return 0;
}

bool virq_vmm_available(char *why, size_t whylen)
{
	int fd = open(KVM_DEV, O_RDWR | O_CLOEXEC);
	int ret;

	if (fd < 0) {
		if (errno == ENOENT)
			set_err(why, whylen, "/dev/kvm does not exist");
		else
			set_err(why, whylen, "/dev/kvm: %s", strerror(errno));
		return false;
	}
	ret = check_kvm_fd(fd, why, whylen);
	close(fd);
	return ret == 0;
}

/* --- VM state ----------------------------------------------------------------- */

int virq_vmm_kick_signo(void)
{
	return KICK_SIGNAL;
}

void virq_vmm_tgkill(struct virq_vcpu *c)
{
	/* tgkill on the recorded tid: the thread clears it before exiting, so a kick that
	 * races the end of a vCPU thread reaches nobody (ESRCH) instead of a joined
	 * pthread_t. A thread not yet running sees its request bits before KVM_RUN. */
	pid_t tid = atomic_load(&c->tid);

	if (tid > 0)
		(void)syscall(SYS_tgkill, c->vm->pid, tid, KICK_SIGNAL);
}

void virq_vmm_kick(struct virq_vcpu *c)
{
	c->ops->kick(c);
	/* A user-mode vCPU halted in the VMM sleeps on its futex, not in KVM_RUN. Callers
	 * set their request bit first; the halt loop publishes BLOCKED before reading it. */
	if (c->vm->cfg.irqchip == VIRQ_IRQCHIP_USER && atomic_load(&c->pstate) == VIRQ_PS_BLOCKED)
		virq_user_wake(c);
}

static void kick_vcpu(struct virq_vcpu *c)
{
	virq_vmm_kick(c);
}

void virq_vmm_kick_event(struct virq_vm *vm, uint32_t vcpu)
{
	if (vm->vcpus && vcpu < vm->nr_vcpus && virq_req_set(&vm->vcpus[vcpu].reqs, VIRQ_REQ_EVENT))
		kick_vcpu(&vm->vcpus[vcpu]);
}

static void request_all(struct virq_vm *vm, enum virq_req req)
{
	if (!vm->vcpus)
		return;
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		virq_req_set(&vm->vcpus[i].reqs, req);
		kick_vcpu(&vm->vcpus[i]);
	}
}

/* A guest-side failure or request stops only this VM; safe from vCPU threads. */
#define vm_fail virq_vmm_fail
void virq_vmm_fail(struct virq_vm *vm, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->lock);
	if (vm->state != VIRQ_VM_STOPPED) {
		va_start(ap, fmt);
		vsnprintf(vm->reason, sizeof(vm->reason), fmt, ap);
		va_end(ap);
		vm->state = VIRQ_VM_STOPPED;
		vm->t_stop = now_ns();
	}
	atomic_store(&vm->stopping, true);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	request_all(vm, VIRQ_REQ_STOP);
}

enum virq_vm_state virq_vm_state(const struct virq_vm *cvm, char *reason, size_t reasonlen)
{
	struct virq_vm *vm = (struct virq_vm *)cvm;
	enum virq_vm_state s;

	pthread_mutex_lock(&vm->lock);
	s = vm->state;
	if (reason && reasonlen)
		snprintf(reason, reasonlen, "%s", vm->reason);
	pthread_mutex_unlock(&vm->lock);
	return s;
}

const char *virq_vm_name(const struct virq_vm *vm)
{
	return vm->cfg.name;
}

unsigned int virq_vm_pv_unenforced(const struct virq_vm *vm)
{
	return vm->pv_unenforced;
}

const char *virq_vm_boot_kind(const struct virq_vm *vm)
{
	return vm->boot_kind ? vm->boot_kind : "firmware";
}

uint64_t virq_vm_run_ns(const struct virq_vm *cvm)
{
	struct virq_vm *vm = (struct virq_vm *)cvm;
	uint64_t r = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->t_start)
		r = (vm->t_stop ? vm->t_stop : now_ns()) - vm->t_start;
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int virq_vm_exit_status(const struct virq_vm *vm)
{
	return atomic_load(&((struct virq_vm *)vm)->exit_status);
}

const struct virq_vm_config *virq_vm_get_config(const struct virq_vm *vm)
{
	return &vm->cfg;
}

pid_t virq_vm_pid(const struct virq_vm *vm)
{
	return vm->pid;
}

int virq_vm_threads(const struct virq_vm *vm, pid_t *tids, unsigned int max)
{
	unsigned int n = vm->nr_vcpus < max ? vm->nr_vcpus : max;

	for (unsigned int i = 0; i < n; i++)
		tids[i] = atomic_load(&vm->vcpus[i].tid);
	return (int)n;
}

/* --- injection (kernel irqchip) ------------------------------------------------ */

/* MSI address: dest ID 19:12, RH 3, DM 2; data: vector 7:0 (SDM Vol. 3A 11.11.1/2). */
static void count_msi_target(struct virq_vm *vm, uint64_t addr, uint32_t data, int res)
{
	uint32_t dest = (uint32_t)(addr >> 12) & 0xff;
	bool logical = addr & (1u << 2);
	uint8_t vector = data & 0xff;

	if (logical || dest >= vm->nr_vcpus)
		return; /* only single physical destinations are attributed per vCPU */
	virq_cnt_add(&vm->vcpus[dest].vec[vector].injected, 1);
	if (res == 0)
		virq_cnt_add(&vm->vcpus[dest].vec[vector].coalesced, 1);
}

int virq_vmm_signal_msi(struct virq_vm *vm, uint64_t addr, uint32_t data, enum virq_path path)
{
	struct kvm_msi msi;
	int ret;

	if (vm->cfg.irqchip == VIRQ_IRQCHIP_USER)
		return virq_user_msi(vm, addr, data, path);
	memset(&msi, 0, sizeof(msi));
	msi.address_lo = (uint32_t)addr;
	msi.address_hi = (uint32_t)(addr >> 32);
	msi.data = data;
	/* KVM_SIGNAL_MSI returns >0 delivered, 0 blocked/coalesced, <0 error (api.rst). */
	ret = ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi);
	if (ret < 0) {
		ret = -errno;
		virq_cnt_add(&vm->ledger.path_failed[path], 1);
		return ret;
	}
	virq_cnt_add(&vm->ledger.path_injected[path], 1);
	if (ret == 0)
		virq_cnt_add(&vm->ledger.path_coalesced[path], 1);
	count_msi_target(vm, addr, data, ret);
	return ret;
}

static bool vm_running(struct virq_vm *vm)
{
	return !atomic_load(&vm->stopping);
}

int virq_vm_inject_msi(struct virq_vm *vm, uint64_t addr, uint32_t data)
{
	if (!vm)
		return -EINVAL;
	if (!vm_running(vm))
		return -ESHUTDOWN;
	if ((addr & 0xfff00000ull) != VIRQ_LAPIC_GPA)
		return -EINVAL; /* not in the MSI address window (SDM 11.11.1) */
	return virq_vmm_signal_msi(vm, addr, data, VIRQ_PATH_MSI);
}

static int irq_line(struct virq_vm *vm, uint32_t gsi, int level)
{
	struct kvm_irq_level il;
	int rc, res;
	enum virq_line_status ls;

	memset(&il, 0, sizeof(il));
	il.irq = gsi;
	il.level = (uint32_t)level;
	rc = ioctl(vm->vm_fd, KVM_IRQ_LINE_STATUS, &il) < 0 ? -errno : 0;
	/* On success KVM overwrote the union with kvm_set_irq()'s result. */
	ls = virq_line_status_classify(rc, rc ? 0 : il.status);
	virq_cnt_add(&vm->ledger.line_status[ls], 1);
	res = virq_line_status_result(rc, rc ? 0 : il.status);
	return res;
}

static enum virq_path gsi_path(uint32_t gsi)
{
	/* KVM's default routing (which we push) feeds GSI 0-15 to both the PIC and the
	 * IOAPIC; only one of them is unmasked in practice. Count by IOAPIC pin. */
	return gsi < 16 ? VIRQ_PATH_PIC : VIRQ_PATH_IOAPIC;
}

int virq_vm_inject_gsi(struct virq_vm *vm, uint32_t gsi, enum virq_gsi_op op)
{
	enum virq_path path;
	int res;

	if (!vm || gsi >= VIRQ_NR_GSI || (unsigned)op > VIRQ_GSI_PULSE)
		return -EINVAL;
	if (!vm_running(vm))
		return -ESHUTDOWN;
	path = gsi_path(gsi);
	if (vm->cfg.irqchip == VIRQ_IRQCHIP_USER) {
		res = virq_user_set_gsi(vm, gsi, op, &path);
		if (op == VIRQ_GSI_DEASSERT)
			return res < 0 && res != -ENODEV ? -EIO : 0;
	} else if (vm->cfg.irqchip == VIRQ_IRQCHIP_SPLIT) {
		enum virq_path p2;

		if (op == VIRQ_GSI_DEASSERT)
			return virq_split_set_gsi(vm, gsi, 0, &p2) < 0 ? -EIO : 0;
		res = virq_split_set_gsi(vm, gsi, 1, &path);
		if (op == VIRQ_GSI_PULSE)
			(void)virq_split_set_gsi(vm, gsi, 0, &p2);
	} else {
		if (op == VIRQ_GSI_DEASSERT)
			return irq_line(vm, gsi, 0) < 0 ? -EIO : 0;
		res = irq_line(vm, gsi, 1);
		if (op == VIRQ_GSI_PULSE)
			(void)irq_line(vm, gsi, 0); /* the de-assert answer is counted */
	}
	if (res < 0 && res != -ENODEV) {
		virq_cnt_add(&vm->ledger.path_failed[path], 1);
		return res;
	}
	virq_cnt_add(&vm->ledger.path_injected[path], 1);
	if (res == 0)
		virq_cnt_add(&vm->ledger.path_coalesced[path], 1);
	return res;
}

int virq_vm_inject_nmi(struct virq_vm *vm, uint32_t vcpu)
{
	/* An NMI MSI: delivery mode 100b in data[10:8] (SDM 11.11.2), physical dest. */
	if (!vm || vcpu >= vm->nr_vcpus)
		return -EINVAL;
	if (!vm_running(vm))
		return -ESHUTDOWN;
	return virq_vmm_signal_msi(vm, VIRQ_LAPIC_GPA | ((uint64_t)vcpu << 12), 4u << 8 | 2,
				   VIRQ_PATH_NMI);
}

int virq_vm_irqfd_signal(struct virq_vm *vm, uint32_t gsi)
{
	uint64_t one = 1;

	if (!vm || gsi >= VIRQ_NR_GSI)
		return -EINVAL;
	if (vm->irqfd[gsi] < 0)
		return -EOPNOTSUPP;
	if (write(vm->irqfd[gsi], &one, sizeof(one)) != sizeof(one))
		return -errno;
	virq_cnt_add(&vm->ledger.irqfd_signals, 1);
	return 0;
}

/* --- mailbox --------------------------------------------------------------------- */

static uint64_t *mbox_word(struct virq_vm *vm, uint32_t vcpu, unsigned int off)
{
	return (uint64_t *)(void *)(vm->mem + VIRQ_GPA_MBOX + (size_t)vcpu * VIRQ_MBOX_STRIDE +
				    off);
}

int virq_vm_guest_cmd(struct virq_vm *vm, uint32_t vcpu, uint32_t cmd, uint64_t arg0, uint64_t arg1,
		      uint64_t *result, unsigned int timeout_ms)
{
	struct virq_vcpu *c;
	uint64_t seq, deadline;
	int ret = -ETIMEDOUT, res;

	if (!vm || vcpu >= vm->nr_vcpus || cmd >= VIRQ_MBOX__COUNT)
		return -EINVAL;
	if (virq_vm_is_pc(vm))
		return -EOPNOTSUPP; /* the mailbox is the built-in firmware's */
	if (!vm_running(vm))
		return -ESHUTDOWN;
	c = &vm->vcpus[vcpu];
	pthread_mutex_lock(&c->mbox_lock);
	__atomic_store_n(mbox_word(vm, vcpu, VIRQ_MB_CMD), cmd, __ATOMIC_RELAXED);
	__atomic_store_n(mbox_word(vm, vcpu, VIRQ_MB_ARG0), arg0, __ATOMIC_RELAXED);
	__atomic_store_n(mbox_word(vm, vcpu, VIRQ_MB_ARG1), arg1, __ATOMIC_RELAXED);
	seq = __atomic_load_n(mbox_word(vm, vcpu, VIRQ_MB_SEQ_REQ), __ATOMIC_RELAXED) + 1;
	__atomic_store_n(mbox_word(vm, vcpu, VIRQ_MB_SEQ_REQ), seq, __ATOMIC_RELEASE);
	/* Ring: a fixed MSI to the vCPU (APIC ID = vCPU index). Counted as path OTHER. */
	res = virq_vmm_signal_msi(vm, VIRQ_LAPIC_GPA | ((uint64_t)vcpu << 12), VIRQ_MBOX_VECTOR,
				  VIRQ_PATH_OTHER);
	if (res < 0) {
		ret = res;
		goto out;
	}
	deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		if (__atomic_load_n(mbox_word(vm, vcpu, VIRQ_MB_SEQ_DONE), __ATOMIC_ACQUIRE) ==
		    seq) {
			if (result)
				*result = __atomic_load_n(mbox_word(vm, vcpu, VIRQ_MB_RESULT),
							  __ATOMIC_RELAXED);
			ret = __atomic_load_n(mbox_word(vm, vcpu, VIRQ_MB_STATUS),
					      __ATOMIC_RELAXED) ?
				      -EINVAL :
				      0;
			break;
		}
		if (!vm_running(vm)) {
			ret = -ESHUTDOWN;
			break;
		}
		if (now_ns() > deadline)
			break;
		usleep(50);
	}
out:
	pthread_mutex_unlock(&c->mbox_lock);
	return ret;
}

/* --- ledgers and stats ----------------------------------------------------------- */

int virq_vm_guest_ledger(const struct virq_vm *vm, uint32_t vcpu, struct virq_guest_ledger *out)
{
	if (!vm || !out || vcpu >= vm->nr_vcpus)
		return -EINVAL;
	if (virq_vm_is_pc(vm))
		return virq_user_lapic_ledger(vm, vcpu, out);
	return virq_guest_ledger_decode(vm->mem, vm->mem_size, vcpu, out);
}

int virq_vm_ledger(const struct virq_vm *vm, uint32_t vcpu, uint8_t vector,
		   struct virq_guest_vec *out)
{
	const unsigned char *e;

	if (!vm || !out || vcpu >= vm->nr_vcpus)
		return -EINVAL;
	if (virq_vm_is_pc(vm))
		return -EOPNOTSUPP; /* the ledger page is the built-in firmware's */
	e = vm->mem + virq_guest_ledger_gpa(vcpu) + VIRQ_LEDGER_VEC_OFF +
	    (size_t)vector * VIRQ_LEDGER_VEC_SIZE;
	memcpy(out, e, sizeof(*out));
	return 0;
}

int virq_vm_wait_handled(struct virq_vm *vm, uint32_t vcpu, uint8_t vector, uint64_t target,
			 unsigned int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	const uint64_t *count, *flags;

	if (!vm || vcpu >= vm->nr_vcpus)
		return -EINVAL;
	if (virq_vm_is_pc(vm))
		return -EOPNOTSUPP;
	count = (const uint64_t *)(const void *)(vm->mem + virq_guest_ledger_gpa(vcpu) +
						 VIRQ_LEDGER_VEC_OFF +
						 (size_t)vector * VIRQ_LEDGER_VEC_SIZE);
	flags = (const uint64_t *)(const void *)(vm->mem + virq_guest_ledger_gpa(vcpu) +
						 VIRQ_LH_FLAGS);
	for (;;) {
		/*
		 * The firmware sets IN_HANDLER before it counts and clears it after the EOI
		 * (handlers never nest: interrupt gates clear IF, SDM 6.12.1.3). So once the
		 * count reached the target, IN_HANDLER clear means the handler that counted
		 * it has finished. NMIs neither set nor clear it and need no EOI.
		 */
		if (__atomic_load_n(count, __ATOMIC_ACQUIRE) >= target &&
		    (vector == 2 ||
		     !(__atomic_load_n(flags, __ATOMIC_ACQUIRE) & VIRQ_LF_IN_HANDLER)))
			return 0;
		if (!vm_running(vm))
			return -ESHUTDOWN;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		usleep(20);
	}
}

int virq_vm_vmm_ledger(const struct virq_vm *vm, struct virq_vmm_ledger *out)
{
	const uint64_t *src = (const uint64_t *)&vm->ledger;
	uint64_t *dst = (uint64_t *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = virq_cnt_get(&src[i]);
	return 0;
}

int virq_vm_vmm_vec(const struct virq_vm *vm, uint32_t vcpu, uint8_t vector,
		    struct virq_vmm_vec *out)
{
	if (!vm || !out || vcpu >= vm->nr_vcpus)
		return -EINVAL;
	out->injected = virq_cnt_get(&vm->vcpus[vcpu].vec[vector].injected);
	out->coalesced = virq_cnt_get(&vm->vcpus[vcpu].vec[vector].coalesced);
	return 0;
}

int virq_vm_exits(const struct virq_vm *vm, uint32_t vcpu, struct virq_vcpu_exits *out)
{
	const uint64_t *src;
	uint64_t *dst = (uint64_t *)out;

	if (!vm || !out || vcpu >= vm->nr_vcpus)
		return -EINVAL;
	src = (const uint64_t *)&vm->vcpus[vcpu].exits;
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = virq_cnt_get(&src[i]);
	return 0;
}

int virq_vm_kvm_stats(const struct virq_vm *vm, struct virq_kvm_stat *out, size_t max)
{
	size_t total = 0;
	int n;

	if (!vm || (max && !out))
		return -EINVAL;
	if (vm->stats_fd < 0)
		return -EOPNOTSUPP;
	n = virq_kvm_stats_read_fd(vm->stats_fd, -1, out, max);
	if (n < 0)
		return n;
	total = (size_t)n;
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		size_t off = total < max ? total : max;

		if (vm->vcpus[i].stats_fd < 0)
			continue;
		n = virq_kvm_stats_read_fd(vm->vcpus[i].stats_fd, (int32_t)i,
					   out ? out + off : NULL, max - off);
		if (n < 0)
			return n;
		total += (size_t)n;
	}
	return total > INT32_MAX ? INT32_MAX : (int)total;
}

int virq_vm_kvm_stat(const struct virq_vm *vm, int32_t vcpu, const char *name, uint64_t *value)
{
	struct virq_kvm_stat *st;
	int fd, n, ret = -ENOENT;

	if (!vm || !name || !value || vcpu < -1 || (vcpu >= 0 && (uint32_t)vcpu >= vm->nr_vcpus))
		return -EINVAL;
	if (strlen(name) >= VIRQ_KVM_STAT_NAME_MAX - 1)
		return -EINVAL; /* could only match a truncated name */
	fd = vcpu < 0 ? vm->stats_fd : vm->vcpus[vcpu].stats_fd;
	if (fd < 0)
		return -EOPNOTSUPP;
	/* The count first, then the descriptors: KVM's set is fixed per kernel build. */
	n = virq_kvm_stats_read_fd(fd, vcpu, NULL, 0);
	if (n <= 0)
		return n < 0 ? n : -ENOENT;
	st = calloc((size_t)n, sizeof(*st));
	if (!st)
		return -ENOMEM;
	n = virq_kvm_stats_read_fd(fd, vcpu, st, (size_t)n);
	for (int i = 0; i < n; i++) {
		if (!strcmp(st[i].name, name)) {
			*value = st[i].value;
			ret = 0;
			break;
		}
	}
	if (n < 0)
		ret = n;
	free(st);
	return ret;
}

/* --- exits ---------------------------------------------------------------------- */

static void handle_io(struct virq_vcpu *c)
{
	struct virq_vm *vm = c->vm;
	struct kvm_run *run = c->run;
	unsigned char *data = (unsigned char *)run + run->io.data_offset;
	uint16_t port = run->io.port;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;

	if (vm->plat) {
		virq_platform_pio(c); /* a guest kernel: the PC platform's bus */
		return;
	}
	/* Bound the data window KVM described before touching it (api.rst). */
	if (run->io.size == 0 || run->io.size > 4 || run->io.count == 0 ||
	    run->io.data_offset + (uint64_t)run->io.size * run->io.count > c->run_size)
		return;
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if ((vm->cfg.irqchip == VIRQ_IRQCHIP_SPLIT ||
		     vm->cfg.irqchip == VIRQ_IRQCHIP_USER) &&
		    run->io.size == 1 && virq_split_pio(vm, port, out, data)) {
			continue;
		} else if (port >= VIRQ_UART_BASE && port < VIRQ_UART_BASE + 8) {
			int level;

			pthread_mutex_lock(&vm->lock);
			level = virq_uart_io(&vm->uart, port - VIRQ_UART_BASE, out, data);
			if (level >= 0 && level != vm->uart_irq_level) {
				vm->uart_irq_level = level;
				pthread_mutex_unlock(&vm->lock);
				(void)virq_vm_inject_gsi(vm, VIRQ_UART_IRQ,
							 level ? VIRQ_GSI_ASSERT :
								 VIRQ_GSI_DEASSERT);
			} else {
				pthread_mutex_unlock(&vm->lock);
			}
		} else if (port == TEST_EXIT_PORT && out) {
			vm_fail(vm, "guest exit code %u on vCPU %u", data[0], c->id);
		} else if (port >= TEST_DEV_PORT && port < TEST_DEV_PORT + VIRQ_NR_GSI && out) {
			(void)virq_vm_inject_gsi(vm, port - TEST_DEV_PORT,
						 data[0] ? VIRQ_GSI_ASSERT : VIRQ_GSI_DEASSERT);
		} else if (!out) {
			memset(data, 0xff, run->io.size); /* floating bus */
		}
	}
}

static void handle_mmio(struct virq_vcpu *c)
{
	struct kvm_run *run = c->run;

	if (c->vm->cfg.irqchip == VIRQ_IRQCHIP_USER) {
		virq_user_mmio(c);
		return;
	}
	if (c->vm->cfg.irqchip == VIRQ_IRQCHIP_SPLIT &&
	    virq_split_mmio(c->vm, run->mmio.phys_addr, run->mmio.is_write, run->mmio.data,
			    run->mmio.len))
		return;
	if (c->vm->plat) {
		virq_platform_mmio(c);
		return;
	}
	/* Otherwise only unbacked addresses reach us: reads float. */
	if (!run->mmio.is_write && run->mmio.len <= sizeof(run->mmio.data))
		memset(run->mmio.data, 0xff, run->mmio.len);
}

static uint64_t vcpu_rip(struct virq_vcpu *c)
{
	struct kvm_regs regs;

	if (c->fd < 0 || ioctl(c->fd, KVM_GET_REGS, &regs) < 0)
		return ~0ull;
	return regs.rip;
}

/* Returns false when the vCPU must stop running. */
static bool dispatch_exit(struct virq_vcpu *c)
{
	struct kvm_run *run = c->run;
	uint32_t r = run->exit_reason;

	virq_cnt_add(&c->exits.by_reason[r < VIRQ_EXIT_REASONS ? r : VIRQ_EXIT_REASONS - 1], 1);
	switch (r) {
	case KVM_EXIT_IO:
		handle_io(c);
		return vm_running(c->vm);
	case KVM_EXIT_MMIO:
		handle_mmio(c);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_IRQ_WINDOW_OPEN: /* split/user: the next pre-run injects */
		if (c->vm->cfg.irqchip == VIRQ_IRQCHIP_USER)
			virq_cnt_add(&c->ustats.window_exits, 1);
		return true;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		if (c->vm->cfg.irqchip == VIRQ_IRQCHIP_USER)
			return virq_user_msr(c, r == KVM_EXIT_X86_WRMSR);
		vm_fail(c->vm, "unexpected MSR exit on vCPU %u", c->id);
		return false;
	case KVM_EXIT_IOAPIC_EOI:
		if (c->vm->cfg.irqchip == VIRQ_IRQCHIP_SPLIT)
			virq_split_ioapic_eoi(c->vm, run->eoi.vector);
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC (user mode): block until deliverable. */
		if (c->vm->cfg.irqchip == VIRQ_IRQCHIP_USER)
			return virq_user_halt(c);
		return true;
	case KVM_EXIT_SHUTDOWN:
		vm_fail(c->vm, "triple fault on vCPU %u (rip 0x%llx)", c->id,
			(unsigned long long)vcpu_rip(c));
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		vm_fail(c->vm, "emulation error on vCPU %u (suberror %u, rip 0x%llx)", c->id,
			run->internal.suberror, (unsigned long long)vcpu_rip(c));
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		vm_fail(c->vm, "entry failed on vCPU %u (hardware reason 0x%llx)", c->id,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		vm_fail(c->vm, "system event %u on vCPU %u", run->system_event.type, c->id);
		return false;
	default:
		vm_fail(c->vm, "unhandled exit %s (%u) on vCPU %u", virq_kvm_exit_name(r), r,
			c->id);
		return false;
	}
}

static void park(struct virq_vcpu *c)
{
	struct virq_vm *vm = c->vm;

	pthread_mutex_lock(&vm->lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->cond);
	while (vm->pause_req && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->cond, &vm->lock);
	vm->parked--;
	pthread_mutex_unlock(&vm->lock);
}

static void *vcpu_thread(void *arg)
{
	struct virq_vcpu *c = arg;
	struct virq_vm *vm = c->vm;
	sigset_t set;

	atomic_store(&c->tid, (pid_t)syscall(SYS_gettid));
	tls_run = c->run;
	sigemptyset(&set);
	sigaddset(&set, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	for (;;) {
		uint32_t reqs = virq_req_take(&c->reqs, 0);
		int rc;

		if ((reqs & (1u << VIRQ_REQ_STOP)) || atomic_load(&vm->stopping))
			break;
		if (reqs & (1u << VIRQ_REQ_PAUSE))
			park(c);
		if (atomic_load(&vm->stopping))
			break;
		if (vm->cfg.irqchip == VIRQ_IRQCHIP_SPLIT)
			virq_split_pre_run(c);
		if (vm->cfg.irqchip == VIRQ_IRQCHIP_USER) {
			int go = virq_user_pre_run(c);

			if (go < 0)
				break;
			if (go == 0)
				continue;
		}
		atomic_store(&c->in_run, 1);
		rc = c->ops->run(c);
		atomic_store(&c->in_run, 0);
		/* Clear before looking at requests so a later kick is never lost. */
		c->run->immediate_exit = 0;
		if (vm->cfg.irqchip == VIRQ_IRQCHIP_USER)
			virq_user_post_run(c);
		virq_cnt_add(&c->exits.runs, 1);
		if (rc < 0) {
			if (rc == -EINTR || rc == -EAGAIN) {
				virq_cnt_add(&c->exits.eintr, 1);
				continue;
			}
			vm_fail(vm, "KVM_RUN on vCPU %u: %s", c->id, strerror(-rc));
			break;
		}
		if (!dispatch_exit(c))
			break;
	}
	/* Block kicks before forgetting the tid so none lands after tls_run is gone. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	atomic_store(&c->tid, 0);
	tls_run = NULL;
	pthread_mutex_lock(&vm->lock);
	vm->exited++;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

/* --- creation -------------------------------------------------------------------- */

/*
 * KVM answers hypercalls and the PV MSRs in the kernel, whatever the irqchip mode, and by
 * default for every feature it has, whatever leaf 0x40000001 says. With
 * KVM_CAP_ENFORCE_PV_FEATURE_CPUID (api.rst 8.28; a vCPU capability, read at each use,
 * so it may come before or after KVM_SET_CPUID2) a feature the CPUID does not offer gives
 * -KVM_ENOSYS for its hypercall and #GP for its MSR (KVM's selftest kvm_pv_test checks both).
 *
 * That matters in user mode: there virq_kernel_cpuid withdraws PV_UNHALT, PV_SEND_IPI,
 * PV_SCHED_YIELD, ASYNC_PF_INT and POLL_CONTROL because they need KVM's LAPIC, which is
 * absent (PV_EOI stays: its MSR is filtered to user.c, before KVM would look at it); without enforcement KVM still runs KVM_HC_KICK_CPU and friends, sends
 * the kick to no LAPIC and returns 0, and a guest that used them anyway (a pv-spinlock
 * waiter halted for a kick) would wait forever. With it the guest learns the call failed.
 *
 * We enable it in every mode: in kernel and split mode leaf 0x40000001 is KVM's supported
 * set (less PV_EOI with --no-pv-eoi), so it forbids only what KVM or we do not offer, and the CPUID is then the
 * whole PV interface in every mode (the Multiboot test kernel checks KICK_CPU by that one
 * rule). The built-in firmware uses no KVM PV feature (its PV EOI is our own page).
 * A kernel without the capability (before 5.10) leaves the VM running as before: a guest
 * that reads CPUID, as Linux does, never uses the withdrawn features; virq_vm_pv_enforced
 * says so, and virqd logs it for user-mode VMs.
 */
static void enforce_pv_cpuid(struct virq_vm *vm, struct virq_vcpu *c)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_ENFORCE_PV_FEATURE_CPUID, .args = { 1 } };

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ENFORCE_PV_FEATURE_CPUID) <= 0 ||
	    ioctl(c->fd, KVM_ENABLE_CAP, &cap) < 0)
		vm->pv_unenforced++;
}

static int setup_cpuid(struct virq_vm *vm, struct virq_vcpu *c, char *err, size_t errlen)
{
	struct kvm_cpuid2 *cpuid;
	int nent = 100, ret = 0;

	/* KVM_GET_SUPPORTED_CPUID fails with E2BIG until the array is large enough. */
	for (;;) {
		cpuid = calloc(1, sizeof(*cpuid) + (size_t)nent * sizeof(cpuid->entries[0]));
		if (!cpuid)
			return -ENOMEM;
		cpuid->nent = (uint32_t)nent;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
			break;
		ret = -errno;
		free(cpuid);
		if (ret != -E2BIG || nent >= 4096) {
			set_err(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-ret));
			return ret;
		}
		nent *= 2;
	}
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		/* Initial APIC ID in CPUID.1:EBX[31:24] and x2APIC ID in CPUID.0BH:EDX
		 * (SDM Vol. 2A CPUID), as kvmtool and QEMU fill them per vCPU. */
		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffffu) | (c->id << 24);
		if (e->function == 0xb || e->function == 0x1f)
			e->edx = c->id;
		if (virq_vm_is_pc(vm))
			virq_kernel_cpuid(vm, e);
	}
	if (ioctl(c->fd, KVM_SET_CPUID2, cpuid) < 0) {
		ret = -errno;
		set_err(err, errlen, "KVM_SET_CPUID2 on vCPU %u: %s", c->id, strerror(errno));
	}
	free(cpuid);
	if (!ret)
		enforce_pv_cpuid(vm, c);
	return ret;
}

static void seg64(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = 0;
	s->s = 1;
	s->g = 1;
	s->l = code ? 1 : 0;
	s->db = code ? 0 : 1;
}

/* The BSP starts directly in long mode (PLATFORM.md; KVM selftests' vcpu_init_sregs). */
static int setup_bsp(struct virq_vcpu *c, char *err, size_t errlen)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(c->fd, KVM_GET_SREGS, &sregs) < 0) {
		set_err(err, errlen, "KVM_GET_SREGS: %s", strerror(errno));
		return -errno;
	}
	seg64(&sregs.cs, VIRQ_SEL_CODE64, 0xb, true);
	seg64(&sregs.ds, VIRQ_SEL_DATA, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gs.base = virq_guest_ledger_gpa(c->id);
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.selector = VIRQ_SEL_TSS(c->id);
	sregs.tr.base = VIRQ_GPA_TSS + (uint64_t)c->id * VIRQ_TSS_STRIDE;
	sregs.tr.limit = 103;
	sregs.tr.type = 0xb; /* busy 64-bit TSS (SDM Table 3-2) */
	sregs.tr.present = 1;
	sregs.gdt.base = VIRQ_GPA_GDT;
	sregs.gdt.limit = VIRQ_GDT_LIMIT;
	sregs.idt.base = VIRQ_GPA_IDT;
	sregs.idt.limit = 0xfff;
	sregs.cr0 = 0x80000033; /* PG | NE | ET | MP | PE */
	sregs.cr3 = VIRQ_GPA_PML4;
	sregs.cr4 = 0x20; /* PAE */
	sregs.efer = 0x500; /* LMA | LME */
	if (ioctl(c->fd, KVM_SET_SREGS, &sregs) < 0) {
		set_err(err, errlen, "KVM_SET_SREGS: %s", strerror(errno));
		return -errno;
	}
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = VIRQ_FW_BSP_ENTRY;
	regs.rsp = virq_guest_kstack_top(c->id);
	if (ioctl(c->fd, KVM_SET_REGS, &regs) < 0) {
		set_err(err, errlen, "KVM_SET_REGS: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* KVM's default GSI table, pushed explicitly so the table we rely on is ours: GSI 0-15
 * to PIC master/slave pins and IOAPIC pins, 16-23 to the IOAPIC (KVM_SET_GSI_ROUTING
 * replaces the whole table). */
static int setup_routing(struct virq_vm *vm, char *err, size_t errlen)
{
	struct kvm_irq_routing *r;
	uint32_t n = 0;
	int ret = 0;

	/* 16 PIC + 24 IOAPIC + the doorbell + the MSI irqfds */
	r = calloc(1,
		   sizeof(*r) + (16 + VIRQ_NR_GSI + 1 + VIRQ_MSI_IRQFDS) * sizeof(r->entries[0]));
	if (!r)
		return -ENOMEM;
	for (uint32_t gsi = 0; gsi < VIRQ_NR_GSI; gsi++) {
		if (gsi < 16) {
			r->entries[n].gsi = gsi;
			r->entries[n].type = KVM_IRQ_ROUTING_IRQCHIP;
			r->entries[n].u.irqchip.irqchip =
				gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
			r->entries[n].u.irqchip.pin = gsi % 8;
			n++;
		}
		/* A guest kernel's PC board (QEMU's table): GSI 0 on IOAPIC pin 2, none on 2. */
		if (virq_vm_is_pc(vm) && virq_pc_ioapic_pin(gsi) == UINT32_MAX)
			continue;
		r->entries[n].gsi = gsi;
		r->entries[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		r->entries[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		r->entries[n].u.irqchip.pin = virq_vm_is_pc(vm) ? virq_pc_ioapic_pin(gsi) : gsi;
		n++;
	}
	/* The doorbell's completion and the devices' MSI irqfds. */
	n += virq_vm_extra_routes(vm, &r->entries[n]);
	r->nr = n;
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, r) < 0) {
		ret = -errno;
		set_err(err, errlen, "KVM_SET_GSI_ROUTING: %s", strerror(errno));
	}
	free(r);
	return ret;
}

uint32_t virq_vm_extra_routes(const struct virq_vm *vm, struct kvm_irq_routing_entry *e)
{
	uint32_t n = 0;

	/* The doorbell's completion: an MSI route to vCPU 0 (fixed, edge). */
	memset(&e[n], 0, sizeof(e[n]));
	e[n].gsi = VIRQ_DOORBELL_GSI;
	e[n].type = KVM_IRQ_ROUTING_MSI;
	e[n].u.msi.address_lo = (uint32_t)VIRQ_LAPIC_GPA;
	e[n].u.msi.data = VIRQ_DOORBELL_VECTOR;
	n++;
	for (uint32_t i = 0; i < VIRQ_MSI_IRQFDS; i++) {
		const struct virq_msi_irqfd *m = &vm->msi_irqfd[i];

		if (m->fd < 0)
			continue;
		memset(&e[n], 0, sizeof(e[n]));
		e[n].gsi = VIRQ_MSI_IRQFD_GSI0 + i;
		e[n].type = KVM_IRQ_ROUTING_MSI;
		e[n].u.msi.address_lo = m->addr_lo;
		e[n].u.msi.address_hi = m->addr_hi;
		e[n].u.msi.data = m->data;
		n++;
	}
	return n;
}

/* Under irq_lock: the irqchip mode's whole table again. */
static int push_routes(struct virq_vm *vm)
{
	if (vm->cfg.irqchip == VIRQ_IRQCHIP_SPLIT)
		return virq_split_push_routes(vm);
	return setup_routing(vm, NULL, 0);
}

/*
 * The slot routing this message, made if it is new: the least recently used slot takes
 * it (a free one first), its route is pushed, and only then is its eventfd bound with
 * KVM_IRQFD (a fresh slot) -- an irqfd always finds its route. A guest that moves a
 * vector to another CPU makes a new message; the old one ages out. Under irq_lock.
 */
static int msi_irqfd_slot(struct virq_vm *vm, uint32_t lo, uint32_t hi, uint32_t data)
{
	struct virq_msi_irqfd *m, *victim = NULL, saved;
	struct kvm_irqfd irqfd;
	bool fresh;
	int i, ret;

	for (i = 0; i < VIRQ_MSI_IRQFDS; i++) {
		m = &vm->msi_irqfd[i];
		if (m->fd >= 0 && m->addr_lo == lo && m->addr_hi == hi && m->data == data) {
			m->last = ++vm->msi_irqfd_clock;
			return i;
		}
		if (!victim || (victim->fd >= 0 && (m->fd < 0 || m->last < victim->last)))
			victim = m;
	}
	i = (int)(victim - vm->msi_irqfd);
	saved = *victim;
	fresh = victim->fd < 0;
	if (fresh) {
		victim->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (victim->fd < 0)
			return -errno;
	}
	victim->addr_lo = lo;
	victim->addr_hi = hi;
	victim->data = data;
	victim->last = ++vm->msi_irqfd_clock;
	ret = push_routes(vm);
	if (!ret && fresh) {
		memset(&irqfd, 0, sizeof(irqfd));
		irqfd.fd = (uint32_t)victim->fd;
		irqfd.gsi = VIRQ_MSI_IRQFD_GSI0 + (uint32_t)i;
		if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
			ret = -errno;
	}
	if (ret) {
		if (fresh)
			close(victim->fd);
		*victim = saved;
		(void)push_routes(vm);
		return ret;
	}
	vm->msi_route_updates++;
	return i;
}

int virq_vmm_irqfd_msi(struct virq_vm *vm, uint64_t addr, uint32_t data, enum virq_path path)
{
	static const uint64_t one = 1;
	int slot, fd;

	if (vm->cfg.irqchip == VIRQ_IRQCHIP_USER || vm->sim)
		return virq_vmm_signal_msi(vm, addr, data, path);
	pthread_mutex_lock(&vm->irq_lock);
	slot = msi_irqfd_slot(vm, (uint32_t)addr, (uint32_t)(addr >> 32), data);
	fd = slot >= 0 ? vm->msi_irqfd[slot].fd : -1;
	pthread_mutex_unlock(&vm->irq_lock);
	if (fd < 0 || write(fd, &one, sizeof(one)) != sizeof(one)) {
		virq_cnt_add(&vm->ledger.path_failed[path], 1);
		return virq_vmm_signal_msi(vm, addr, data, path);
	}
	virq_cnt_add(&vm->ledger.irqfd_signals, 1);
	virq_cnt_add(&vm->msi_irqfd_signals, 1);
	virq_cnt_add(&vm->ledger.path_injected[path], 1);
	count_msi_target(vm, addr, data, 1);
	return 1;
}

static int setup_irqfds(struct virq_vm *vm, char *err, size_t errlen)
{
	for (uint32_t gsi = 0; gsi < VIRQ_NR_GSI; gsi++) {
		struct kvm_irqfd irqfd;
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

		if (fd < 0) {
			set_err(err, errlen, "eventfd: %s", strerror(errno));
			return -errno;
		}
		memset(&irqfd, 0, sizeof(irqfd));
		irqfd.fd = (uint32_t)fd;
		irqfd.gsi = gsi;
		if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
			int e = errno;

			close(fd);
			set_err(err, errlen, "KVM_IRQFD gsi %u: %s", gsi, strerror(e));
			return -e;
		}
		vm->irqfd[gsi] = fd;
	}
	return 0;
}

static int create_vcpu(struct virq_vm *vm, uint32_t id, int mmap_size, char *err, size_t errlen)
{
	struct virq_vcpu *c = &vm->vcpus[id];
	int ret;

	c->vm = vm;
	c->id = id;
	c->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (c->fd < 0) {
		set_err(err, errlen, "KVM_CREATE_VCPU %u: %s", id, strerror(errno));
		return -errno;
	}
	c->run_size = (size_t)mmap_size;
	c->run = mmap(NULL, c->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (c->run == MAP_FAILED) {
		c->run = NULL;
		set_err(err, errlen, "mmap kvm_run of vCPU %u: %s", id, strerror(errno));
		return -errno;
	}
	ret = setup_cpuid(vm, c, err, errlen);
	if (ret)
		return ret;
	/* APs stay in wait-for-SIPI (in-kernel LAPIC) until the BSP firmware's INIT/SIPI. */
	if (id == 0) {
		ret = virq_vm_is_pc(vm) ? virq_kernel_bsp(c, err, errlen) :
					  setup_bsp(c, err, errlen);
		if (ret)
			return ret;
	}
	c->stats_fd = ioctl(c->fd, KVM_GET_STATS_FD, 0);
	if (c->stats_fd < 0)
		c->stats_fd = -1; /* optional: reported as unavailable */
	return 0;
}

static void destroy_vcpu(struct virq_vcpu *c)
{
	if (c->ops && c->ops->fini)
		c->ops->fini(c);
	if (c->run && !c->vm->sim)
		munmap(c->run, c->run_size);
	if (c->stats_fd >= 0)
		close(c->stats_fd);
	if (c->fd >= 0)
		close(c->fd);
	pthread_mutex_destroy(&c->mbox_lock);
}

/* The VM object without any KVM resource: config, locks, vCPU array (64-byte aligned:
 * each vCPU embeds its posted-interrupt descriptor). NULL with errno set. */
static struct virq_vm *vm_alloc(const struct virq_vm_config *cfg, char *err, size_t errlen)
{
	static _Atomic unsigned int vm_seq;
	struct virq_vm *vm;
	size_t vsize;
	int ret;

	ret = virq_vm_config_check(cfg, err, errlen);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		set_err(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	vm->cfg = *cfg;
	if (!vm->cfg.mem_mb)
		vm->cfg.mem_mb =
			cfg->kernel[0] ? VIRQ_VM_KERNEL_MEM_MB_DEFAULT : VIRQ_VM_MEM_MB_DEFAULT;
	atomic_store(&vm->exit_status, -1);
	/* PV EOI: the firmware's page is at a fixed address of its own layout; a guest kernel
	 * names its own with KVM's MSR_KVM_PV_EOI_EN (user.c; KVM's LAPIC in kernel/split). */
	if (!vm->cfg.name[0])
		snprintf(vm->cfg.name, sizeof(vm->cfg.name), "vm%u", atomic_fetch_add(&vm_seq, 1));
	vm->nr_vcpus = cfg->nr_vcpus;
	vm->kvm_fd = vm->vm_fd = vm->stats_fd = -1;
	vm->db_ioeventfd = vm->db_irqfd = vm->db_stopfd = -1;
	pthread_mutex_init(&vm->db_lock, NULL);
	for (int i = 0; i < VIRQ_NR_GSI; i++)
		vm->irqfd[i] = -1;
	for (int i = 0; i < VIRQ_MSI_IRQFDS; i++)
		vm->msi_irqfd[i].fd = -1;
	vm->pid = getpid();
	vm->state = VIRQ_VM_CREATED;
	virq_uart_init(&vm->uart);
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->irq_lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	vsize = (size_t)vm->nr_vcpus * sizeof(*vm->vcpus);
	vm->vcpus = aligned_alloc(_Alignof(struct virq_vcpu), vsize);
	if (!vm->vcpus) {
		set_err(err, errlen, "out of memory");
		virq_vm_destroy(vm);
		errno = ENOMEM;
		return NULL;
	}
	memset(vm->vcpus, 0, vsize);
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].id = i;
		vm->vcpus[i].fd = vm->vcpus[i].stats_fd = -1;
		vm->vcpus[i].ops = &virq_cpu_kvm_ops;
		pthread_mutex_init(&vm->vcpus[i].mbox_lock, NULL);
	}
	return vm;
}

/* Guest memory with the tables and the firmware (vmm_guest.h). */
static int vm_memory(struct virq_vm *vm, char *err, size_t errlen)
{
	int ret;

	vm->mem_size = (size_t)vm->cfg.mem_mb << 20;
	vm->mem = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		ret = -errno;
		set_err(err, errlen, "guest memory: %s", strerror(errno));
		return ret;
	}
	if (vm->cfg.kernel[0])
		return virq_kernel_load(vm, err, errlen);
	ret = virq_guest_build_tables(vm->mem, vm->mem_size, vm->nr_vcpus, vm->cfg.idle,
				      vm->cfg.x2apic);
	if (!ret)
		ret = virq_guest_load_firmware(vm->mem, vm->mem_size);
	if (ret)
		set_err(err, errlen, "guest image: %s", strerror(-ret));
	return ret;
}

struct virq_vm *virq_vm_create_sim(const struct virq_vm_config *cfg, char *err, size_t errlen)
{
	struct virq_vm *vm;
	int ret;

	if (!cfg || cfg->irqchip != VIRQ_IRQCHIP_USER) {
		set_err(err, errlen, "simulated vCPUs exist only in user irqchip mode");
		errno = EINVAL;
		return NULL;
	}
	vm = vm_alloc(cfg, err, errlen);
	if (!vm)
		return NULL;
	vm->sim = true;
	ret = vm_memory(vm, err, errlen);
	if (!ret)
		ret = virq_user_init(vm, err, errlen);
	for (uint32_t i = 0; !ret && i < vm->nr_vcpus; i++) {
		struct virq_vcpu *c = &vm->vcpus[i];

		c->ops = &virq_cpu_sim_ops;
		virq_user_vcpu_init(c);
		ret = virq_cpu_sim_create(c);
		if (ret)
			set_err(err, errlen, "simulated vCPU %u: %s", i, strerror(-ret));
	}
	if (ret) {
		virq_vm_destroy(vm);
		errno = -ret;
		return NULL;
	}
	return vm;
}

struct virq_vm *virq_vm_create(const struct virq_vm_config *cfg, char *err, size_t errlen)
{
	struct kvm_userspace_memory_region region;
	struct virq_vm *vm;
	int ret, mmap_size;

	pthread_once(&kick_once, kick_install);
	if (kick_install_err) {
		set_err(err, errlen, "sigaction(kick signal): %s", strerror(kick_install_err));
		errno = kick_install_err;
		return NULL;
	}
	vm = vm_alloc(cfg, err, errlen);
	if (!vm)
		return NULL;

	vm->kvm_fd = open(KVM_DEV, O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		ret = -errno;
		set_err(err, errlen, "%s: %s", KVM_DEV, strerror(errno));
		goto err_free;
	}
	ret = check_kvm_fd(vm->kvm_fd, err, errlen);
	if (ret)
		goto err_free;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		ret = -errno;
		set_err(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		goto err_free;
	}
	/* Only VMX without unrestricted guest needs this (real-mode emulation of the AP
	 * trampoline); other backends may refuse it, which is harmless. */
	(void)ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, TSS_ADDR);

	ret = vm_memory(vm, err, errlen);
	if (ret)
		goto err_free;
	memset(&region, 0, sizeof(region));
	region.slot = 0;
	region.guest_phys_addr = 0;
	region.memory_size = vm->mem_size;
	region.userspace_addr = (uint64_t)(uintptr_t)vm->mem;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		ret = -errno;
		set_err(err, errlen, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		goto err_free;
	}

	/* The irqchip must exist before any vCPU (PLATFORM.md: EINVAL/EEXIST afterwards). */
	if (vm->cfg.irqchip == VIRQ_IRQCHIP_SPLIT) {
		ret = virq_split_init(vm, err, errlen);
		if (ret)
			goto err_free;
	} else if (vm->cfg.irqchip == VIRQ_IRQCHIP_USER) {
		/* No in-kernel irqchip at all: no routes or irqfds (the doorbell posts). */
		ret = virq_user_kvm_setup(vm, err, errlen);
		if (!ret)
			ret = virq_user_init(vm, err, errlen);
		if (ret)
			goto err_free;
	} else {
		if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
			ret = -errno;
			set_err(err, errlen, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
			goto err_free;
		}
		ret = setup_routing(vm, err, errlen);
		if (ret)
			goto err_free;
	}
	if (vm->cfg.irqchip != VIRQ_IRQCHIP_USER) {
		ret = setup_irqfds(vm, err, errlen);
		if (ret)
			goto err_free;
	}
	/* The built-in firmware's doorbell, or a guest kernel's PC devices. */
	ret = virq_vm_is_pc(vm) ? virq_platform_init(vm, err, errlen) :
				  virq_doorbell_init(vm, err, errlen);
	if (ret)
		goto err_free;

	mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run)) {
		ret = mmap_size < 0 ? -errno : -EPROTO;
		set_err(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %d", mmap_size);
		goto err_free;
	}
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		ret = create_vcpu(vm, i, mmap_size, err, errlen);
		if (ret)
			goto err_free;
		if (vm->cfg.irqchip == VIRQ_IRQCHIP_USER)
			virq_user_vcpu_init(&vm->vcpus[i]);
	}
	vm->stats_fd = ioctl(vm->vm_fd, KVM_GET_STATS_FD, 0);
	if (vm->stats_fd < 0)
		vm->stats_fd = -1;
	return vm;

err_free:
	virq_vm_destroy(vm);
	errno = -ret;
	return NULL;
}

/* --- lifecycle ------------------------------------------------------------------- */

int virq_vm_start(struct virq_vm *vm)
{
	sigset_t block, old;
	int ret = 0;

	if (!vm)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	if (vm->state != VIRQ_VM_CREATED) {
		pthread_mutex_unlock(&vm->lock);
		return -EALREADY;
	}
	vm->state = VIRQ_VM_RUNNING;
	vm->t_start = now_ns();
	pthread_mutex_unlock(&vm->lock);
	ret = virq_platform_start(vm); /* a guest kernel's device timers */
	if (ret) {
		vm_fail(vm, "device timer thread: %s", strerror(-ret));
		return ret;
	}
	/* vCPU threads inherit the kick signal blocked and unblock it once tls_run is
	 * set, so a kick never lands on a thread without its kvm_run. */
	sigemptyset(&block);
	sigaddset(&block, KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		struct virq_vcpu *c = &vm->vcpus[i];

		ret = -pthread_create(&c->thread, NULL, vcpu_thread, c);
		if (ret) {
			vm_fail(vm, "pthread_create for vCPU %u: %s", i, strerror(-ret));
			break;
		}
		c->thread_started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

int virq_vm_pause(struct virq_vm *vm)
{
	uint32_t started = 0;

	if (!vm)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	if (vm->state != VIRQ_VM_RUNNING) {
		int ret = vm->state == VIRQ_VM_PAUSED ? 0 : -EINVAL;

		pthread_mutex_unlock(&vm->lock);
		return ret;
	}
	vm->pause_req = true;
	pthread_mutex_unlock(&vm->lock);
	for (uint32_t i = 0; i < vm->nr_vcpus; i++)
		started += vm->vcpus[i].thread_started;
	request_all(vm, VIRQ_REQ_PAUSE);
	pthread_mutex_lock(&vm->lock);
	while (vm->parked + vm->exited < started && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->cond, &vm->lock);
	if (vm->state == VIRQ_VM_RUNNING)
		vm->state = VIRQ_VM_PAUSED;
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

int virq_vm_resume(struct virq_vm *vm)
{
	if (!vm)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	if (vm->state != VIRQ_VM_PAUSED) {
		int ret = vm->state == VIRQ_VM_RUNNING ? 0 : -EINVAL;

		pthread_mutex_unlock(&vm->lock);
		return ret;
	}
	vm->pause_req = false;
	vm->state = VIRQ_VM_RUNNING;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

int virq_vm_stop(struct virq_vm *vm)
{
	if (!vm)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	if (vm->state != VIRQ_VM_STOPPED) {
		vm->state = VIRQ_VM_STOPPED;
		snprintf(vm->reason, sizeof(vm->reason), "stopped by request");
		vm->t_stop = now_ns();
	}
	atomic_store(&vm->stopping, true);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	request_all(vm, VIRQ_REQ_STOP);
	for (uint32_t i = 0; vm->vcpus && i < vm->nr_vcpus; i++) {
		struct virq_vcpu *c = &vm->vcpus[i];

		if (!c->thread_started)
			continue;
		/* A vCPU may be blocked in KVM_RUN (halted, or an AP waiting for SIPI):
		 * keep kicking until it leaves. */
		while (pthread_tryjoin_np(c->thread, NULL) == EBUSY) {
			kick_vcpu(c);
			usleep(1000);
		}
		c->thread_started = false;
	}
	return 0;
}

int virq_vm_wait_ready(struct virq_vm *vm, unsigned int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;

	if (!vm)
		return -EINVAL;
	if (virq_vm_is_pc(vm))
		return -EOPNOTSUPP; /* readiness is the built-in firmware's ledger flag */
	for (;;) {
		uint32_t ready = 0;

		for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
			const uint64_t *flags =
				(const uint64_t *)(const void *)(vm->mem +
								 virq_guest_ledger_gpa(i) +
								 VIRQ_LH_FLAGS);

			ready += !!(__atomic_load_n(flags, __ATOMIC_ACQUIRE) & VIRQ_LF_READY);
		}
		if (ready == vm->nr_vcpus)
			return 0;
		if (!vm_running(vm))
			return -ESHUTDOWN;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		usleep(200);
	}
}

void virq_vm_destroy(struct virq_vm *vm)
{
	if (!vm)
		return;
	virq_vm_stop(vm);
	for (uint32_t i = 0; vm->vcpus && i < vm->nr_vcpus; i++)
		destroy_vcpu(&vm->vcpus[i]);
	free(vm->vcpus);
	for (int i = 0; i < VIRQ_NR_GSI; i++)
		if (vm->irqfd[i] >= 0)
			close(vm->irqfd[i]);
	for (int i = 0; i < VIRQ_MSI_IRQFDS; i++)
		if (vm->msi_irqfd[i].fd >= 0)
			close(vm->msi_irqfd[i].fd);
	if (vm->stats_fd >= 0)
		close(vm->stats_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->mem)
		munmap(vm->mem, vm->mem_size);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	virq_doorbell_fini(vm);
	virq_platform_fini(vm);
	pthread_mutex_destroy(&vm->db_lock);
	virq_split_fini(vm);
	virq_user_fini(vm);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->irq_lock);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}
