// SPDX-License-Identifier: MIT
/*
 * Split irqchip (KVM_CAP_SPLIT_IRQCHIP): KVM keeps the LAPICs, we run the 8259A pair
 * and the IOAPIC models (daemon/irqchip) on the port and MMIO exits, the way QEMU's
 * split mode does:
 *   - IOAPIC messages are sent with KVM_SIGNAL_MSI, and every RTE is also pushed as an
 *     MSI route for its GSI, so that KVM knows which vectors are level-triggered IOAPIC
 *     vectors and reports their EOI with KVM_EXIT_IOAPIC_EOI (kvm_scan_ioapic_routes);
 *   - the PIC's INT output reaches the BSP's LINT0 as ExtINT: the vCPU thread acknowledges
 *     the PIC (INTA) and uses KVM_INTERRUPT only when KVM reports
 *     ready_for_interrupt_injection and RFLAGS.IF=1, else requests an interrupt window.
 * Locking: vm->irq_lock serialises both models; ioctls issued under it never call back.
 */
#include "vmm_internal.h"
#include "virq/vmm_guest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#define RFLAGS_IF (1ull << 9)

static int split_deliver(void *opaque, const struct virq_irq *irq)
{
	struct virq_vm *vm = opaque;
	uint64_t addr;
	uint32_t data;

	/* The message as an MSI (SDM Vol. 3A 11.11.1/11.11.2). */
	addr = VIRQ_LAPIC_GPA | (uint64_t)(irq->dest & 0xff) << 12 |
	       (irq->dest_logical ? 1u << 2 : 0) | (irq->redir_hint ? 1u << 3 : 0);
	data = irq->vector | (uint32_t)irq->delivery_mode << 8 | (irq->level_trig ? 1u << 15 : 0) |
	       (irq->level ? 1u << 14 : 0);
	if (irq->path == VIRQ_PATH_IOAPIC && irq->pin < 32)
		__atomic_fetch_or(&vm->split_vec_pins[irq->vector], 1u << irq->pin,
				  __ATOMIC_RELAXED);
	return virq_vmm_signal_msi(vm, addr, data, (enum virq_path)irq->path);
}

static void split_pic_int(void *opaque, bool level)
{
	struct virq_vm *vm = opaque;

	atomic_store(&vm->pic_int, level);
	if (level)
		virq_vmm_kick_event(vm, 0);
}

static const struct virq_sink_ops split_ops = {
	.deliver = split_deliver,
	.pic_int = split_pic_int,
};

/* Pushes one MSI route per unmasked RTE (KVM_SET_GSI_ROUTING replaces the table). */
int virq_split_push_routes(struct virq_vm *vm)
{
	struct kvm_irq_routing *r;
	uint32_t n = 0;
	int ret = 0;

	r = calloc(1, sizeof(*r) + (VIRQ_NR_GSI + 1 + VIRQ_MSI_IRQFDS) * sizeof(r->entries[0]));
	if (!r)
		return -ENOMEM;
	for (uint32_t pin = 0; pin < VIRQ_NR_GSI; pin++) {
		uint64_t rte = virq_ioapic_read_rte(&vm->ioapic, pin);

		vm->routed_rte[pin] = vm->ioapic.rte[pin];
		if (rte & VIRQ_RTE_MASKED)
			continue;
		r->entries[n].gsi = pin;
		r->entries[n].type = KVM_IRQ_ROUTING_MSI;
		virq_ioapic_rte_to_msi(rte, &r->entries[n].u.msi.address_lo,
				       &r->entries[n].u.msi.address_hi, &r->entries[n].u.msi.data);
		n++;
	}
	/* The doorbell's completion route and the devices' MSI irqfds, in every table. */
	n += virq_vm_extra_routes(vm, &r->entries[n]);
	r->nr = n;
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, r) < 0)
		ret = -errno;
	free(r);
	return ret;
}

int virq_split_init(struct virq_vm *vm, char *err, size_t errlen)
{
	struct kvm_enable_cap cap;
	struct virq_sink sink = { &split_ops, vm };
	struct virq_ioapic_config iocfg;
	int ret;

	/* Must precede every vCPU (PLATFORM.md: EEXIST afterwards). args[0] reserves the
	 * GSIs 0..23 for IOAPIC routes (api.rst, KVM_CAP_SPLIT_IRQCHIP). */
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SPLIT_IRQCHIP) <= 0) {
		snprintf(err, errlen, "missing capability KVM_CAP_SPLIT_IRQCHIP");
		return -ENOTSUP;
	}
	memset(&cap, 0, sizeof(cap));
	cap.cap = KVM_CAP_SPLIT_IRQCHIP;
	cap.args[0] = VIRQ_NR_GSI;
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
		ret = -errno;
		snprintf(err, errlen, "KVM_ENABLE_CAP(SPLIT_IRQCHIP): %s", strerror(errno));
		return ret;
	}
	virq_pic_init(&vm->pic, &sink);
	virq_ioapic_config_default(&iocfg);
	/* The storm guard defers re-deliveries to virq_ioapic_tick(), and this VMM has no
	 * IOAPIC clock thread yet: disable it rather than strand a deferred level pin. */
	iocfg.storm_threshold = 0;
	ret = virq_ioapic_init(&vm->ioapic, &iocfg, &sink);
	if (ret) {
		snprintf(err, errlen, "IOAPIC model: %s", strerror(-ret));
		return ret;
	}
	ret = virq_split_push_routes(vm);
	if (ret)
		snprintf(err, errlen, "KVM_SET_GSI_ROUTING: %s", strerror(-ret));
	return ret;
}

void virq_split_fini(struct virq_vm *vm)
{
	(void)vm; /* the models own no resources */
}

static bool is_pic_port(uint16_t port)
{
	return port == VIRQ_PIC_MASTER_CMD || port == VIRQ_PIC_MASTER_DATA ||
	       port == VIRQ_PIC_SLAVE_CMD || port == VIRQ_PIC_SLAVE_DATA ||
	       port == VIRQ_PIC_ELCR_MASTER || port == VIRQ_PIC_ELCR_SLAVE;
}

bool virq_split_pio(struct virq_vm *vm, uint16_t port, bool out, uint8_t *data)
{
	if (!is_pic_port(port))
		return false;
	pthread_mutex_lock(&vm->irq_lock);
	if (out)
		(void)virq_pic_ioport_write(&vm->pic, port, *data);
	else
		*data = virq_pic_ioport_read(&vm->pic, port);
	pthread_mutex_unlock(&vm->irq_lock);
	return true;
}

bool virq_split_mmio(struct virq_vm *vm, uint64_t gpa, bool write, uint8_t *data, uint32_t len)
{
	uint64_t off = gpa - VIRQ_IOAPIC_GPA;
	uint32_t v = 0;
	bool changed = false;

	if (gpa < VIRQ_IOAPIC_GPA || off >= 0x1000)
		return false;
	if (len > 4 || len == 0) {
		if (!write)
			memset(data, 0xff, len > 8 ? 8 : len);
		return true; /* 82093AA registers are 32-bit: other sizes are dropped */
	}
	pthread_mutex_lock(&vm->irq_lock);
	if (write) {
		memcpy(&v, data, len);
		(void)virq_ioapic_mmio_write(&vm->ioapic, off, v);
		for (uint32_t pin = 0; pin < VIRQ_NR_GSI; pin++)
			changed |= vm->ioapic.rte[pin] != vm->routed_rte[pin];
		/* A changed RTE changes its MSI route (and KVM's EOI-exit vectors). */
		if (changed && virq_split_push_routes(vm) < 0)
			virq_cnt_add(&vm->ledger.path_failed[VIRQ_PATH_IOAPIC], 1);
	} else {
		v = virq_ioapic_mmio_read(&vm->ioapic, off);
		memcpy(data, &v, len);
	}
	pthread_mutex_unlock(&vm->irq_lock);
	return true;
}

void virq_split_ioapic_eoi(struct virq_vm *vm, uint8_t vector)
{
	pthread_mutex_lock(&vm->irq_lock);
	virq_ioapic_eoi(&vm->ioapic, vector);
	pthread_mutex_unlock(&vm->irq_lock);
}

int virq_split_set_gsi(struct virq_vm *vm, uint32_t gsi, int level, enum virq_path *path)
{
	uint32_t pin =
		virq_vm_is_pc(vm) ? virq_pc_ioapic_pin(gsi) : gsi; /* PC board: IRQ 0 -> pin 2 */
	int io, pic = -EBUSY;

	pthread_mutex_lock(&vm->irq_lock);
	/* A GSI < 16 is wired to both chips, as in KVM's default routing. */
	io = pin == UINT32_MAX ? -EBUSY : virq_ioapic_set_irq(&vm->ioapic, pin, level);
	if (gsi < 16)
		pic = virq_pic_set_irq(&vm->pic, gsi, level);
	pthread_mutex_unlock(&vm->irq_lock);
	if (io != -EBUSY) {
		*path = VIRQ_PATH_IOAPIC;
		return io;
	}
	*path = VIRQ_PATH_PIC;
	if (pic == -EBUSY)
		return -ENODEV; /* masked in both: "ignored", like kvm_set_irq() */
	return pic;
}

void virq_split_pre_run(struct virq_vcpu *c)
{
	struct virq_vm *vm = c->vm;
	struct kvm_run *run = c->run;
	struct kvm_interrupt intr;
	struct kvm_regs regs;
	int vector;

	if (c->id != 0)
		return;
	if (!atomic_load(&vm->pic_int)) {
		run->request_interrupt_window = 0;
		return;
	}
	/* Check IF ourselves: on our hosts KVM delivered an interrupt injected with IF=0
	 * (PLATFORM.md). Reading the registers costs an ioctl only while the PIC asks. */
	if (!run->ready_for_interrupt_injection || ioctl(c->fd, KVM_GET_REGS, &regs) < 0 ||
	    !(regs.rflags & RFLAGS_IF)) {
		run->request_interrupt_window = 1;
		return;
	}
	pthread_mutex_lock(&vm->irq_lock);
	vector = virq_pic_inta(&vm->pic);
	pthread_mutex_unlock(&vm->irq_lock);
	memset(&intr, 0, sizeof(intr));
	intr.irq = (uint32_t)vector;
	if (ioctl(c->fd, KVM_INTERRUPT, &intr) < 0) {
		virq_cnt_add(&vm->ledger.path_failed[VIRQ_PATH_PIC], 1);
		return;
	}
	virq_cnt_add(&c->vec[vector & 0xff].injected, 1);
	virq_cnt_add(&vm->ledger.extint_injected, 1);
	run->request_interrupt_window = atomic_load(&vm->pic_int);
}
