// SPDX-License-Identifier: MIT
/*
 * The PC platform of a guest-kernel VM (kernel.c): the device bus of daemon/hw with the
 * devices a Linux or Multiboot kernel expects, one registration call each, in every
 * irqchip mode:
 *   8254 PIT + port 0x61   KVM's (KVM_CREATE_PIT2) in `kernel` mode, daemon/hw/pit.c else
 *   CMOS/RTC 0x70-0x71     daemon/hw/rtc.c (IRQ 8), every mode (KVM has no RTC)
 *   fw_cfg 0x510-0x511     daemon/hw/fw_cfg.c (signature, CPUs, RAM, etc/e820)
 *   ACPI PM 0x600-0x60b    daemon/hw/acpi_pm.c (SCI_EN, S5 power-off, PM timer)
 *   debug-exit 0xf4, pc-testdev 0xe0/0xe4/0xe8/0x2000+N/0xff000000, shutdown 0x8900
 *   COM1 0x3f8             the console UART (uart.c), IRQ 4
 *   PCI 0xcf8/0xcfc        daemon/hw/pci.c: host bridge, and with cfg.disk a virtio-blk
 *                          (daemon/hw/virtio_blk.c) whose BARs sit above RAM below the
 *                          IOAPIC; its MSI-X messages go to virq_vmm_signal_msi (KVM's
 *                          LAPIC through an irqfd on an MSI route in kernel/split,
 *                          posted into ours in user mode); its queue notify is a KVM
 *                          ioeventfd served by the device thread
 * The 8259A pair and the IOAPIC are the irqchip mode's (in-kernel, or ours through
 * virq_split_pio / user.c's MMIO handler); everything they do not claim comes here.
 *
 * Interrupt lines use QEMU's PC wiring (the MADT's IRQ 0 -> GSI 2 override): ISA IRQ 0 is
 * IOAPIC pin 2 and PIC pin 0, every other ISA IRQ n is pin n on both (see vm.c's routes
 * and virq_pc_ioapic_pin()).
 *
 * Time: one guest clock per VM (CLOCK_MONOTONIC since creation, in ns). The PIT and RTC
 * compute their state from it; a device thread sleeps on one timerfd armed for the
 * earlier of their next events and advances them when it fires. Every device call is made
 * under plat->lock (the bus serialises nothing itself); line changes go to
 * virq_vm_inject_gsi under that lock (lock order: plat->lock, then irq_lock).
 */
#include "vmm_internal.h"
#include "virq/acpi_pm.h"
#include "virq/fw_cfg.h"
#include "virq/hw.h"
#include "virq/pci.h"
#include "virq/pit.h"
#include "virq/rtc.h"
#include "virq/testdev.h"
#include "virq/virtio_blk.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>

struct virq_platform {
	struct virq_vm *vm;
	pthread_mutex_t lock;
	struct virq_hw_bus bus;
	struct virq_hw_line line;
	bool own_pit; /* our PIT (split/user); KVM's in kernel mode */
	struct virq_pit pit;
	struct virq_rtc rtc;
	struct virq_fw_cfg fw;
	struct virq_acpi_pm pm;
	struct virq_testdev td;
	struct virq_pci pci;
	struct virq_virtio_blk blk;
	int disk_fd;
	/* virtio-blk queue 0's notify register as a KVM ioeventfd: KVM signals it without
	 * an exit; the device thread processes the queue. Re-placed when the guest moves
	 * the BAR (a notify that exits then is the sign). */
	int notify_efd;
	uint64_t notify_gpa; /* where it is assigned, 0 = nowhere */
	uint64_t notify_exits, notify_eventfds;
	int uart_level;
	uint64_t t0; /* CLOCK_MONOTONIC at creation: guest time 0 */
	int timerfd, stopfd;
	uint64_t armed; /* guest ns the timerfd is armed for, UINT64_MAX = disarmed */
	pthread_t thread;
	bool thread_started;
	uint64_t timer_wakeups;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t guest_ns(const struct virq_platform *p)
{
	return mono_ns() - p->t0;
}

uint32_t virq_pc_ioapic_pin(uint32_t gsi)
{
	/* QEMU's PC board: the PIT's IRQ 0 is wired to IOAPIC pin 2 (MADT override);
	 * nothing drives pin 0 (it is the 8259's INTR in virtual-wire mode). */
	if (gsi == 0)
		return 2;
	if (gsi == 2)
		return UINT32_MAX;
	return gsi;
}

/* --- interrupt lines and stop callbacks ------------------------------------------- */

static void pc_set_line(void *opaque, uint32_t line, int level)
{
	struct virq_platform *p = opaque;

	(void)virq_vm_inject_gsi(p->vm, line, level ? VIRQ_GSI_ASSERT : VIRQ_GSI_DEASSERT);
}

static const struct virq_hw_line_ops pc_line_ops = { .set_line = pc_set_line };

static void td_stop(void *opaque, int status, const char *why)
{
	struct virq_platform *p = opaque;

	atomic_store(&p->vm->exit_status, status);
	virq_vmm_fail(p->vm, "guest exit: %s, status %d", why, status);
}

static const struct virq_testdev_ops td_ops = { .stop = td_stop };

static void pm_power_off(void *opaque, unsigned int slp_typ)
{
	struct virq_platform *p = opaque;

	atomic_store(&p->vm->exit_status, 0);
	virq_vmm_fail(p->vm, "guest powered off (ACPI sleep type %u)", slp_typ);
}

static const struct virq_acpi_pm_ops pm_ops = { .power_off = pm_power_off };

/* --- PCI: virtio-blk -------------------------------------------------------------- */

/* (De)assigns the ioeventfd of queue 0's notify address. 0 or -errno. */
static int notify_ioeventfd(struct virq_platform *p, uint64_t gpa, bool assign)
{
	struct kvm_ioeventfd io;

	memset(&io, 0, sizeof(io));
	io.addr = gpa;
	io.len = 2; /* the driver writes the 16-bit queue index (4.1.4.4) */
	io.fd = p->notify_efd;
	io.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN;
	return ioctl(p->vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

static uint64_t notify_addr(const struct virq_platform *p)
{
	uint64_t bar = virq_pci_bar_address(&p->blk.vp.pdev, VIRQ_VIRTIO_PCI_BAR);

	return bar ? bar + VIRQ_VIRTIO_PCI_NOTIFY : 0;
}

/* Keeps the ioeventfd on the BAR's current notify address. Under p->lock. */
static void notify_follow(struct virq_platform *p)
{
	uint64_t a = notify_addr(p);

	if (p->notify_efd < 0 || a == p->notify_gpa)
		return;
	if (p->notify_gpa)
		(void)notify_ioeventfd(p, p->notify_gpa, false);
	p->notify_gpa = a && notify_ioeventfd(p, a, true) == 0 ? a : 0;
}

/* A queue notify that exited (no ioeventfd, or the BAR moved): done at once, in the
 * exit of the vCPU that wrote it, under p->lock (the bus dispatch). */
static void blk_notify(void *opaque, uint16_t queue)
{
	struct virq_platform *p = opaque;

	p->notify_exits++;
	(void)virq_virtio_blk_process(&p->blk, queue);
	notify_follow(p);
}

static void blk_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct virq_platform *p = opaque;

	/* kernel/split: an irqfd on an MSI route; user: posted into our LAPIC */
	(void)virq_vmm_irqfd_msi(p->vm, addr, data, VIRQ_PATH_MSI);
}

static const struct virq_virtio_pci_ops blk_ops = { .notify = blk_notify, .msi = blk_msi };

static int pci_setup(struct virq_platform *p, char *err, size_t errlen)
{
	struct virq_vm *vm = p->vm;
	struct virq_virtio_blk_config bc;
	int ret;

	virq_pci_init(&p->pci);
	ret = virq_pci_register(&p->pci, &p->bus);
	if (ret || !vm->cfg.disk[0])
		return ret;
	p->disk_fd = open(vm->cfg.disk, O_RDWR | O_CLOEXEC);
	if (p->disk_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", vm->cfg.disk, strerror(errno));
		return ret;
	}
	memset(&bc, 0, sizeof(bc));
	bc.fd = p->disk_fd;
	bc.ram = vm->mem;
	bc.ram_size = vm->mem_size;
	bc.serial = "virq-disk0";
	bc.ops = &blk_ops;
	bc.opaque = p;
	bc.intx = &p->line;
	bc.intx_line = PC_DISK_INTX;
	ret = virq_virtio_blk_init(&p->blk, &bc);
	if (!ret)
		/* the slot the DSDT's _PRT names (kernel.c) */
		ret = virq_pci_add(&p->pci, &p->blk.vp.pdev) == PC_DISK_SLOT ? 0 : -ENOSPC;
	if (!ret)
		ret = virq_pci_assign_bars(&p->pci, PC_PCI_MEM_BASE, PC_PCI_MEM_LIMIT,
					   PC_PCI_IO_BASE, PC_PCI_IO_LIMIT);
	if (!ret) {
		p->notify_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->notify_efd < 0) {
			ret = -errno;
		} else {
			notify_follow(p);
			if (!p->notify_gpa)
				ret = -EIO;
		}
	}
	if (ret)
		snprintf(err, errlen, "virtio-blk on %s: %s", vm->cfg.disk, strerror(-ret));
	return ret;
}

/* --- COM1 on the bus -------------------------------------------------------------- */

static void uart_level(struct virq_platform *p, int level)
{
	if (level >= 0 && level != p->uart_level) {
		p->uart_level = level;
		virq_hw_set_line(&p->line, VIRQ_UART_IRQ, level);
	}
}

static uint64_t uart_read(void *o, uint64_t off, unsigned int size, uint64_t now_ns)
{
	struct virq_platform *p = o;
	uint8_t v = 0xff;

	(void)size;
	(void)now_ns;
	uart_level(p, virq_uart_io(&p->vm->uart, (unsigned int)off, false, &v));
	return v;
}

static void uart_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	struct virq_platform *p = o;
	uint8_t v = (uint8_t)val;

	(void)size;
	(void)now_ns;
	uart_level(p, virq_uart_io(&p->vm->uart, (unsigned int)off, true, &v));
}

static const struct virq_hw_ops uart_ops = { .read = uart_read, .write = uart_write };

/* --- timers ----------------------------------------------------------------------- */

/* Under p->lock: run the timer devices up to now and arm the timerfd for what is next. */
static void advance(struct virq_platform *p, uint64_t now)
{
	uint64_t next = UINT64_MAX, n;
	struct itimerspec its;

	if (p->own_pit) {
		virq_pit_advance(&p->pit, now);
		next = virq_pit_next_event(&p->pit, now);
	}
	virq_rtc_advance(&p->rtc, now);
	n = virq_rtc_next_event(&p->rtc, now);
	if (n < next)
		next = n;
	if (next == p->armed)
		return;
	memset(&its, 0, sizeof(its));
	if (next != UINT64_MAX) {
		uint64_t abs = p->t0 + next;

		its.it_value.tv_sec = (time_t)(abs / 1000000000ull);
		its.it_value.tv_nsec = (long)(abs % 1000000000ull);
	}
	if (timerfd_settime(p->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		p->armed = next;
}

static void *timer_thread(void *arg)
{
	struct virq_platform *p = arg;
	struct pollfd pfd[3] = { { .fd = p->timerfd, .events = POLLIN },
				 { .fd = p->stopfd, .events = POLLIN },
				 { .fd = p->notify_efd, .events = POLLIN } };

	for (;;) {
		uint64_t ticks;

		if (poll(pfd, 3, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (pfd[2].revents & POLLIN) {
			/* queue 0 notified through the ioeventfd: no exit was taken */
			if (read(p->notify_efd, &ticks, sizeof(ticks)) == sizeof(ticks)) {
				pthread_mutex_lock(&p->lock);
				p->notify_eventfds++;
				(void)virq_virtio_blk_process(&p->blk, 0);
				pthread_mutex_unlock(&p->lock);
			}
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		if (read(p->timerfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
			break;
		pthread_mutex_lock(&p->lock);
		p->timer_wakeups++;
		p->armed = UINT64_MAX - 1; /* fired: re-arm whatever comes next */
		advance(p, guest_ns(p));
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

/* --- life cycle ------------------------------------------------------------------- */

static int create_kvm_pit(struct virq_vm *vm, char *err, size_t errlen)
{
	struct kvm_pit_config pc;

	/* KVM's PIT answers 0x40-0x43 itself and, with SPEAKER_DUMMY, port 0x61 (api.rst
	 * KVM_CREATE_PIT2); it injects on GSI 0, which our routes send to IOAPIC pin 2. */
	memset(&pc, 0, sizeof(pc));
	pc.flags = KVM_PIT_SPEAKER_DUMMY;
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pc) < 0) {
		int e = errno;

		snprintf(err, errlen, "KVM_CREATE_PIT2: %s", strerror(e));
		return -e;
	}
	return 0;
}

int virq_platform_init(struct virq_vm *vm, char *err, size_t errlen)
{
	struct virq_platform *p;
	struct virq_rtc_config rcfg;
	struct virq_e820 fe[VIRQ_E820_MAX];
	int ret;

	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	vm->plat = p;
	p->vm = vm;
	p->timerfd = p->stopfd = p->disk_fd = p->notify_efd = -1;
	p->armed = UINT64_MAX;
	p->t0 = mono_ns();
	pthread_mutex_init(&p->lock, NULL);
	virq_hw_bus_init(&p->bus);
	p->line.ops = &pc_line_ops;
	p->line.opaque = p;
	p->own_pit = vm->cfg.irqchip != VIRQ_IRQCHIP_KERNEL;

	p->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	p->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->timerfd < 0 || p->stopfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "timerfd/eventfd: %s", strerror(errno));
		return ret;
	}
	if (p->own_pit) {
		virq_pit_init(&p->pit, &p->line, 0);
		ret = virq_pit_register(&p->pit, &p->bus);
	} else {
		ret = create_kvm_pit(vm, err, errlen);
		if (ret)
			return ret;
	}
	memset(&rcfg, 0, sizeof(rcfg));
	rcfg.epoch_s = (int64_t)time(NULL);
	rcfg.ram_below_4g = vm->mem_size;
	rcfg.ncpus = vm->nr_vcpus;
	virq_rtc_init(&p->rtc, &rcfg, &p->line, 0);
	if (!ret)
		ret = virq_rtc_register(&p->rtc, &p->bus);
	if (!ret)
		ret = virq_fw_cfg_init(&p->fw, vm->nr_vcpus, vm->mem_size);
	for (size_t i = 0; i < vm->n_e820; i++) {
		fe[i].addr = vm->e820[i].addr;
		fe[i].len = vm->e820[i].size;
		fe[i].type = vm->e820[i].type;
	}
	if (!ret)
		ret = virq_fw_cfg_add_e820(&p->fw, fe, vm->n_e820);
	if (!ret)
		ret = virq_fw_cfg_register(&p->fw, &p->bus);
	virq_acpi_pm_init(&p->pm, 0, &pm_ops, p);
	if (!ret)
		ret = virq_acpi_pm_register(&p->pm, &p->bus);
	virq_testdev_init(&p->td, &td_ops, p, &p->line, 1);
	if (!ret)
		ret = virq_testdev_register(&p->td, &p->bus);
	if (!ret)
		ret = virq_hw_register_pio(&p->bus, VIRQ_UART_BASE, 8, &uart_ops, p, "com1");
	if (ret) {
		snprintf(err, errlen, "PC platform devices: %s", strerror(-ret));
		return ret;
	}
	return pci_setup(p, err, errlen);
}

int virq_platform_start(struct virq_vm *vm)
{
	struct virq_platform *p = vm->plat;
	int ret;

	if (!p || p->thread_started)
		return 0;
	ret = -pthread_create(&p->thread, NULL, timer_thread, p);
	if (!ret)
		p->thread_started = true;
	return ret;
}

void virq_platform_fini(struct virq_vm *vm)
{
	struct virq_platform *p = vm->plat;
	uint64_t one = 1;

	if (!p)
		return;
	if (p->thread_started) {
		if (write(p->stopfd, &one, sizeof(one)) < 0) {
			/* an eventfd write of 1 cannot fail short of a bad fd */
		}
		pthread_join(p->thread, NULL);
	}
	if (p->timerfd >= 0)
		close(p->timerfd);
	if (p->stopfd >= 0)
		close(p->stopfd);
	if (p->disk_fd >= 0)
		close(p->disk_fd);
	if (p->notify_efd >= 0)
		close(p->notify_efd); /* the VM fd is closed already: KVM dropped the binding */
	virq_fw_cfg_destroy(&p->fw);
	pthread_mutex_destroy(&p->lock);
	free(p);
	vm->plat = NULL;
}

/* --- exits ------------------------------------------------------------------------ */

void virq_platform_pio(struct virq_vcpu *c)
{
	struct virq_vm *vm = c->vm;
	struct virq_platform *p = vm->plat;
	struct kvm_run *run = c->run;
	unsigned char *data = (unsigned char *)run + run->io.data_offset;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	uint32_t size = run->io.size;

	if (size == 0 || size > 4 || run->io.count == 0 ||
	    run->io.data_offset + (uint64_t)size * run->io.count > c->run_size)
		return;
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		uint32_t v = 0;
		uint64_t now;

		/* The 8259A pair of split/user mode is the irqchip's. */
		if (vm->cfg.irqchip != VIRQ_IRQCHIP_KERNEL && size == 1 &&
		    virq_split_pio(vm, run->io.port, out, data))
			continue;
		pthread_mutex_lock(&p->lock);
		now = guest_ns(p);
		if (out) {
			memcpy(&v, data, size);
			(void)virq_hw_pio_write(&p->bus, run->io.port, size, v, now);
		} else {
			(void)virq_hw_pio_read(&p->bus, run->io.port, size, now, &v);
			memcpy(data, &v, size);
		}
		advance(p, now);
		pthread_mutex_unlock(&p->lock);
	}
}

void virq_platform_mmio(struct virq_vcpu *c)
{
	struct virq_platform *p = c->vm->plat;
	struct kvm_run *run = c->run;
	uint32_t len = run->mmio.len;
	uint64_t v = 0;

	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	pthread_mutex_lock(&p->lock);
	if (run->mmio.is_write) {
		memcpy(&v, run->mmio.data, len);
		(void)virq_hw_mmio_write(&p->bus, run->mmio.phys_addr, len, v, guest_ns(p));
	} else {
		(void)virq_hw_mmio_read(&p->bus, run->mmio.phys_addr, len, guest_ns(p), &v);
		memcpy(run->mmio.data, &v, len);
	}
	pthread_mutex_unlock(&p->lock);
}

size_t virq_vm_console(struct virq_vm *vm, uint64_t from, char *buf, size_t len, uint64_t *next,
		       uint64_t *lost)
{
	struct virq_platform *p = vm->plat;
	pthread_mutex_t *l = p ? &p->lock : &vm->lock;
	size_t n;

	pthread_mutex_lock(l);
	n = virq_uart_console(&vm->uart, from, buf, len, next, lost);
	pthread_mutex_unlock(l);
	return n;
}

int virq_vm_platform_stats(struct virq_vm *vm, struct virq_vm_platform_stats *out)
{
	struct virq_platform *p = vm->plat;

	memset(out, 0, sizeof(*out));
	if (!p)
		return -ENODEV;
	pthread_mutex_lock(&p->lock);
	out->pit_irqs = p->pit.stats.irqs;
	out->pit_coalesced = p->pit.stats.coalesced;
	out->rtc_irqs = p->rtc.stats.irqs;
	out->rtc_coalesced = p->rtc.stats.coalesced;
	out->timer_wakeups = p->timer_wakeups;
	out->unclaimed_pio = p->bus.pio.unclaimed_reads + p->bus.pio.unclaimed_writes;
	out->unclaimed_mmio = p->bus.mmio.unclaimed_reads + p->bus.mmio.unclaimed_writes;
	out->kvm_pit = !p->own_pit;
	out->has_disk = p->disk_fd >= 0;
	if (out->has_disk) {
		out->disk_requests = p->blk.stats.requests;
		out->disk_reads = p->blk.stats.reads;
		out->disk_writes = p->blk.stats.writes;
		out->disk_errors = p->blk.stats.errors + p->blk.stats.ioerrs;
		out->disk_interrupts = p->blk.stats.interrupts;
		out->disk_notify_exits = p->notify_exits;
		out->disk_notify_eventfds = p->notify_eventfds;
		out->disk_irqfd_signals = virq_cnt_get(&vm->msi_irqfd_signals);
		pthread_mutex_lock(&vm->irq_lock);
		out->disk_msi_routes = vm->msi_route_updates;
		pthread_mutex_unlock(&vm->irq_lock);
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}
