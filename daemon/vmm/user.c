// SPDX-License-Identifier: MIT
/*
 * The `user` irqchip mode: no in-kernel irqchip. Our 8259A pair, IOAPIC and LAPICs
 * (daemon/irqchip) serve the port, MMIO and x2APIC MSR exits; the VMM injects with
 * KVM_INTERRUPT / KVM_NMI / KVM_SET_VCPU_EVENTS through the vCPU backend (struct
 * virq_cpu_ops: cpu_kvm.c, or cpu_sim.c in unit tests).
 *
 * Delivery. Every model sits behind one VM-wide lock, vm->irq_lock (the models are not
 * thread-safe, lapic.h). A fixed, edge, physically addressed message to one
 * software-enabled LAPIC is instead *posted* lock-free into the target vCPU's
 * posted-interrupt descriptor (SDM Vol. 3C 30.6), found through vm->post_map. The
 * descriptor tracks the vCPU as VT-d posting does (VT-d spec 9.12):
 *   running  (inside KVM_RUN): SN=0, NV=posted   -> a post that sets ON kicks the thread;
 *   runnable (in the VMM):     SN=1              -> no notification, PIR is merged before
 *                                                   the next entry;
 *   blocked  (halted):         SN=0, NV=wakeup   -> a post that sets ON wakes the thread.
 * Locked-path events (IPIs, IOAPIC, timer, NMI/INIT/SIPI, ExtINT, posted=off) reach the
 * vCPU through the APIC bus's notify callback, which makes the same three-way decision
 * from vcpu->pstate. Every kind is counted (virq_vm_user_stats, VMM ledger posted[]).
 *
 * Ordering (Dekker on both sides, all seq_cst): the vCPU publishes its state (SN/NV and
 * pstate) *before* it merges PIR and evaluates IRR under the lock; a poster sets PIR and
 * ON (virq_pi_post) *before* reading SN/NV; a locked-path sender changes IRR under the
 * lock and reads pstate afterwards. So either the vCPU sees the interrupt, or the sender
 * sees the state that makes it notify.
 *
 * Injection (SDM 6.8.1, KVM api.rst): KVM_INTERRUPT only when kvm_run says
 * ready_for_interrupt_injection AND RFLAGS.IF=1 AND no STI/MOV-SS shadow -- we check IF
 * ourselves because on our hosts an interrupt injected with IF=0 was delivered anyway
 * (PLATFORM.md) -- else request_interrupt_window. NMIs: KVM_NMI.
 *
 * Paravirtual EOI (KVM's MSR_KVM_PV_EOI_EN protocol, without the MSR: the page address is
 * fixed by vmm_guest.h): when the injected vector's EOI needs no exit
 * (virq_lapic_pv_eoi_ok) we set bit 0 of the vCPU's PV-EOI word; the firmware
 * test-and-clears it and skips the EOI write. After every KVM_RUN return we exchange the
 * word with 0: bit gone = the guest took it, we EOI the LAPIC; bit still set = revoked.
 * Before the next entry the bit is set again while that vector is still alone in ISR with
 * IRR empty (KVM does the same on every entry, apic_sync_pv_eoi_to_guest): an exit in
 * the middle of the handler -- a kick, or a KVM_RUN that returned at once because a kick
 * landed while the thread was outside it (immediate_exit) -- must not cost the guest an
 * EOI exit. If the guest had already found the bit clear it writes the EOI anyway: that
 * exit EOIs the model, and the re-armed bit is revoked (not EOId) at that exit.
 */
#include "vmm_internal.h"
#include "virq/lapic_pir.h"
#include "virq/msi.h"
#include "virq/vmm_guest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#define REQ_LEAVE ((1u << VIRQ_REQ_STOP) | (1u << VIRQ_REQ_PAUSE) | (1u << VIRQ_REQ_KICK))

static __thread struct virq_vcpu *tls_vcpu; /* the vCPU this thread runs, if any */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define CNT(field) virq_cnt_add(&(field), 1)

/* --- notification ---------------------------------------------------------------- */

void virq_user_wake(struct virq_vcpu *c)
{
	atomic_fetch_add(&c->halt_seq, 1);
	(void)syscall(SYS_futex, (uint32_t *)&c->halt_seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Sleeps until halt_seq moves past `seq`, a signal, or `deadline` (0: none). Returns
 * true when the deadline passed. */
static bool user_block(struct virq_vcpu *c, uint32_t seq, uint64_t deadline)
{
	struct timespec ts, *tp = NULL;

	if (deadline) {
		uint64_t now = now_ns(), rel;

		if (deadline <= now)
			return true;
		rel = deadline - now;
		ts.tv_sec = (time_t)(rel / 1000000000ull);
		ts.tv_nsec = (long)(rel % 1000000000ull);
		tp = &ts;
	}
	/* FUTEX_WAIT's timeout is relative, on CLOCK_MONOTONIC. */
	if (syscall(SYS_futex, (uint32_t *)&c->halt_seq, FUTEX_WAIT_PRIVATE, seq, tp, NULL, 0) <
		    0 &&
	    errno == ETIMEDOUT)
		return true;
	return false;
}

/* The locked path's notification, from pstate. Called with irq_lock held. */
static void notify_by_state(struct virq_vcpu *c)
{
	int kind;

	if (c == tls_vcpu)
		return; /* the vCPU's own thread re-evaluates before its next entry */
	switch (atomic_load(&c->pstate)) {
	case VIRQ_PS_RUNNING:
		c->ops->kick(c);
		kind = VIRQ_PI_NOTIFY_KICK;
		break;
	case VIRQ_PS_BLOCKED:
		virq_user_wake(c);
		kind = VIRQ_PI_NOTIFY_WAKE;
		break;
	default:
		kind = VIRQ_PI_NOTIFY_NONE;
		break;
	}
	CNT(c->ustats.bus_notify[kind]);
}

/* APIC bus callbacks, all under irq_lock. */
static void user_bus_notify(void *opaque, unsigned int cpu, uint32_t events)
{
	struct virq_vm *vm = opaque;
	struct virq_vcpu *c;

	if (cpu >= vm->nr_vcpus)
		return;
	c = &vm->vcpus[cpu];
	if (c != tls_vcpu) {
		if (events & (VIRQ_LAPIC_EV_INTR | VIRQ_LAPIC_EV_EXTINT))
			virq_req_set(&c->reqs, VIRQ_REQ_EVENT);
		if (events & VIRQ_LAPIC_EV_NMI)
			virq_req_set(&c->reqs, VIRQ_REQ_NMI);
		if (events & VIRQ_LAPIC_EV_INIT)
			virq_req_set(&c->reqs, VIRQ_REQ_INIT);
		if (events & VIRQ_LAPIC_EV_SIPI)
			virq_req_set(&c->reqs, VIRQ_REQ_SIPI);
	}
	notify_by_state(c);
}

static int user_bus_extint_ack(void *opaque, unsigned int cpu)
{
	struct virq_vm *vm = opaque;

	(void)cpu;
	/* INTA to the 8259A pair (ExtINT, SDM 11.6.1 / 8259A datasheet). */
	return virq_pic_inta(&vm->pic);
}

static const struct virq_apicbus_ops user_bus_ops = {
	.notify = user_bus_notify,
	.extint_ack = user_bus_extint_ack,
};

/* Level-triggered EOIs from our LAPICs reach our IOAPIC (EOI broadcast, SDM 11.8.5). */
static void user_eoi_broadcast(void *opaque, uint8_t vector)
{
	struct virq_vm *vm = opaque;

	virq_ioapic_eoi(&vm->ioapic, vector);
}

static const struct virq_sink_ops user_eoi_ops = {
	.eoi_broadcast = user_eoi_broadcast,
};

/* --- creation ---------------------------------------------------------------------- */

int virq_user_init(struct virq_vm *vm, char *err, size_t errlen)
{
	struct virq_apicbus_config bc;
	struct virq_ioapic_config iocfg;
	struct virq_sink sink;
	int ret;

	memset(&bc, 0, sizeof(bc));
	bc.nr_cpus = vm->nr_vcpus;
	bc.lapic.x2apic_supported = true; /* KVM_GET_SUPPORTED_CPUID reports x2APIC */
	bc.lowprio = VIRQ_LOWPRIO_KVM_HASH; /* comparable with the in-kernel LAPIC */
	bc.ops = &user_bus_ops;
	bc.opaque = vm;
	bc.eoi_sink.ops = &user_eoi_ops;
	bc.eoi_sink.opaque = vm;
	vm->bus = virq_apicbus_new(&bc);
	if (!vm->bus) {
		ret = -errno;
		snprintf(err, errlen, "APIC bus model: %s", strerror(errno));
		return ret;
	}
	virq_apicbus_sink(vm->bus, &sink);
	virq_pic_init(&vm->pic, &sink);
	virq_ioapic_config_default(&iocfg);
	/* As in split mode: no IOAPIC clock thread, so no deferred re-deliveries. */
	iocfg.storm_threshold = 0;
	ret = virq_ioapic_init(&vm->ioapic, &iocfg, &sink);
	if (ret) {
		snprintf(err, errlen, "IOAPIC model: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

void virq_user_fini(struct virq_vm *vm)
{
	virq_apicbus_free(vm->bus);
	vm->bus = NULL;
}

void virq_user_vcpu_init(struct virq_vcpu *c)
{
	c->lapic = virq_apicbus_lapic(c->vm->bus, c->id);
	/* Not in KVM_RUN yet: runnable, notifications suppressed until the first entry. */
	virq_pi_init(&c->pi, VIRQ_PI_NV_POSTED, c->id);
	virq_pi_set_sn(&c->pi);
	atomic_store(&c->pstate, VIRQ_PS_RUNNABLE);
}

int virq_user_kvm_setup(struct virq_vm *vm, char *err, size_t errlen)
{
	struct kvm_enable_cap cap;
	struct kvm_msr_filter filter;
	static uint8_t deny; /* one MSR per range, bit clear = deny (api.rst) */

	/* x2APIC MSRs (0x800-0x8ff) have no in-kernel LAPIC to go to: KVM reports them as
	 * invalid, and with USER_SPACE_MSR they come to us as KVM_EXIT_X86_RDMSR/WRMSR. */
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_USER_SPACE_MSR) <= 0) {
		snprintf(err, errlen, "missing capability KVM_CAP_X86_USER_SPACE_MSR");
		return -ENOTSUP;
	}
	memset(&cap, 0, sizeof(cap));
	cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
	cap.args[0] = KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_UNKNOWN |
		      KVM_MSR_EXIT_REASON_FILTER;
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
		int e = errno;

		snprintf(err, errlen, "KVM_ENABLE_CAP(X86_USER_SPACE_MSR): %s", strerror(e));
		return -e;
	}
	/* IA32_APIC_BASE and IA32_TSC_DEADLINE are handled by KVM itself even without an
	 * in-kernel LAPIC; deny them in an MSR filter so they exit to our model too. Best
	 * effort: without KVM_CAP_X86_MSR_FILTER the guest sees KVM's APIC_BASE. */
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER) <= 0) {
		vm->cfg.pv_eoi = vm->cfg.pv_eoi && !vm->cfg.kernel[0]; /* no MSR to name the page */
		return 0;
	}
	memset(&filter, 0, sizeof(filter));
	filter.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
	filter.ranges[0].flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
	filter.ranges[0].nmsrs = 1;
	filter.ranges[0].base = VIRQ_MSR_APIC_BASE;
	filter.ranges[0].bitmap = &deny;
	filter.ranges[1] = filter.ranges[0];
	filter.ranges[1].base = VIRQ_MSR_TSC_DEADLINE;
	/* A guest kernel's MSR_KVM_PV_EOI_EN: KVM would take it (and never use it, having no
	 * LAPIC here); to us, so that its EOIs need no exit (virq_kernel_cpuid offers it). */
	if (vm->cfg.kernel[0] && vm->cfg.pv_eoi) {
		filter.ranges[2] = filter.ranges[0];
		filter.ranges[2].base = VIRQ_MSR_KVM_PV_EOI_EN;
	}
	if (ioctl(vm->vm_fd, KVM_X86_SET_MSR_FILTER, &filter) < 0) {
		int e = errno;

		snprintf(err, errlen, "KVM_X86_SET_MSR_FILTER: %s", strerror(e));
		return -e;
	}
	return 0;
}

/* --- the posting map -------------------------------------------------------------- */

/* Under irq_lock, after anything that may change an APIC ID, mode or SVR. */
static void post_map_rebuild(struct virq_vm *vm)
{
	uint16_t map[256];

	memset(map, 0, sizeof(map));
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		struct virq_lapic *l = vm->vcpus[i].lapic;
		uint32_t id;

		if (!l || !virq_lapic_accepts_fixed(l))
			continue;
		id = virq_lapic_id(l);
		if (id >= 0xff)
			continue; /* 0xff is the broadcast ID of an 8-bit destination */
		map[id] = map[id] ? 0xffff : (uint16_t)(i + 1); /* duplicate: locked path */
	}
	for (unsigned int i = 0; i < 256; i++)
		atomic_store_explicit(&vm->post_map[i], map[i] == 0xffff ? 0 : map[i],
				      memory_order_release);
}

static bool postable(const struct virq_irq *irq)
{
	/* Posting carries only a vector (SDM Vol. 3C 30.6): fixed, edge, one physical
	 * destination. Level needs TMR, lowest priority needs arbitration, logical and
	 * broadcast need the resolver: all of those take the bus. */
	return irq->delivery_mode == VIRQ_DM_FIXED && !irq->redir_hint && !irq->level_trig &&
	       !irq->dest_logical && !irq->x2apic_dest && irq->shorthand == VIRQ_SH_NONE &&
	       (irq->dest & 0xff) != 0xff && irq->vector >= 16;
}

static int user_post(struct virq_vm *vm, struct virq_vcpu *c, uint8_t vector, enum virq_path path)
{
	int r = virq_pi_post(&c->pi, vector), kind;

	CNT(c->ustats.posted);
	CNT(c->vec[vector].injected);
	CNT(vm->ledger.path_injected[path]);
	if (r & VIRQ_PI_COALESCED) {
		CNT(c->ustats.post_coalesced);
		CNT(c->vec[vector].coalesced);
		CNT(vm->ledger.path_coalesced[path]);
	}
	if (r & VIRQ_PI_NOTIFY) {
		uint64_t nv =
			(virq_pi_control(&c->pi) & VIRQ_PI_CTL_NV_MASK) >> VIRQ_PI_CTL_NV_SHIFT;

		if (nv == VIRQ_PI_NV_WAKEUP) {
			virq_user_wake(c);
			kind = VIRQ_PI_NOTIFY_WAKE;
		} else {
			c->ops->kick(c);
			kind = VIRQ_PI_NOTIFY_KICK;
		}
	} else {
		/* No notification: either SN (runnable: merged before entry) or ON was
		 * already set (someone notified, or the vCPU is runnable). A post racing a
		 * state change may be classified either way; delivery is unaffected. */
		kind = (virq_pi_control(&c->pi) & VIRQ_PI_CTL_SN) ? VIRQ_PI_NOTIFY_NONE :
								    VIRQ_PI_NOTIFY_SUPPRESSED;
	}
	CNT(c->ustats.notify[kind]);
	CNT(vm->ledger.posted[kind]);
	return (r & VIRQ_PI_COALESCED) ? VIRQ_RES_COALESCED : 1;
}

int virq_user_msi(struct virq_vm *vm, uint64_t addr, uint32_t data, enum virq_path path)
{
	struct virq_irq irq;
	int r;

	if (virq_msi_decode((uint32_t)addr, (uint32_t)(addr >> 32), data, 0, &irq) != VIRQ_MSI_OK) {
		CNT(vm->ledger.path_failed[path]);
		return -EINVAL;
	}
	irq.path = (uint8_t)path;
	if (vm->cfg.posted && postable(&irq)) {
		unsigned int slot =
			atomic_load_explicit(&vm->post_map[irq.dest & 0xff], memory_order_acquire);

		if (slot && slot <= vm->nr_vcpus)
			return user_post(vm, &vm->vcpus[slot - 1], irq.vector, path);
	}
	pthread_mutex_lock(&vm->irq_lock);
	r = virq_apicbus_deliver(vm->bus, &irq);
	pthread_mutex_unlock(&vm->irq_lock);
	if (r < 0 && r != -ENOENT && r != -ENXIO && r != -EINVAL) {
		CNT(vm->ledger.path_failed[path]);
		return r;
	}
	CNT(vm->ledger.path_injected[path]);
	if (r == VIRQ_RES_COALESCED)
		CNT(vm->ledger.path_coalesced[path]);
	/* Per-vCPU attribution for single physical destinations (APIC ID = vCPU index at
	 * reset), as kernel mode attributes KVM_SIGNAL_MSI. */
	if (!irq.dest_logical && !irq.x2apic_dest && irq.dest < vm->nr_vcpus &&
	    irq.delivery_mode == VIRQ_DM_FIXED) {
		struct virq_vcpu *c = &vm->vcpus[irq.dest];

		CNT(c->ustats.locked);
		CNT(c->vec[irq.vector].injected);
		if (r == VIRQ_RES_COALESCED)
			CNT(c->vec[irq.vector].coalesced);
	}
	return r;
}

int virq_user_set_gsi(struct virq_vm *vm, uint32_t gsi, enum virq_gsi_op op, enum virq_path *path)
{
	/* The PC board of a guest kernel wires IRQ 0 to IOAPIC pin 2 (platform.c). */
	uint32_t pin = virq_vm_is_pc(vm) ? virq_pc_ioapic_pin(gsi) : gsi;
	int io, pic = -EBUSY;

	pthread_mutex_lock(&vm->irq_lock);
	/* A GSI < 16 is wired to both chips, as in KVM's default routing. A pulse is one
	 * edge: both halves under one lock hold, so a vCPU's EOI of a level vector cannot
	 * slip in between and see the line still high (it would re-fire, SDM 11.8.5). */
	io = pin == UINT32_MAX ? -EBUSY :
				 virq_ioapic_set_irq(&vm->ioapic, pin, op != VIRQ_GSI_DEASSERT);
	if (gsi < 16)
		pic = virq_pic_set_irq(&vm->pic, gsi, op != VIRQ_GSI_DEASSERT);
	if (op == VIRQ_GSI_PULSE) {
		if (pin != UINT32_MAX)
			(void)virq_ioapic_set_irq(&vm->ioapic, pin, 0);
		if (gsi < 16)
			(void)virq_pic_set_irq(&vm->pic, gsi, 0);
	}
	pthread_mutex_unlock(&vm->irq_lock);
	if (io != -EBUSY) {
		*path = VIRQ_PATH_IOAPIC;
		return io;
	}
	*path = VIRQ_PATH_PIC;
	return pic == -EBUSY ? -ENODEV : pic; /* masked in both: "ignored" */
}

/* --- the vCPU side ------------------------------------------------------------------ */

/* PIR -> IRR (the VM-entry half of posting). Under irq_lock. */
static void sync_pir(struct virq_vcpu *c)
{
	struct virq_lapic_pir_result res;
	uint32_t irr32[8];
	uint64_t pir[4];

	/* ON clear: nothing new. A poster whose PIR bit is set but whose ON is not yet
	 * will find ON clear and notify us (virq_pi_sync's ordering comment). */
	if (!(virq_pi_control(&c->pi) & VIRQ_PI_CTL_ON))
		return;
	memset(irr32, 0, sizeof(irr32));
	if (!virq_pi_sync(&c->pi, irr32))
		return;
	virq_lapic_pir_from_irr32(irr32, pir);
	virq_lapic_accept_pir(c->lapic, pir, &res);
	CNT(c->ustats.pir_syncs);
	virq_cnt_add(&c->ustats.pir_merged, res.accepted);
	virq_cnt_add(&c->ustats.irr_coalesced, res.coalesced);
	virq_cnt_add(&c->ustats.pir_rejected, res.rejected);
	for (unsigned int w = 0; w < 4 && res.coalesced; w++)
		for (uint64_t b = res.coalesced_map[w]; b; b &= b - 1)
			CNT(c->vec[w * 64 + (unsigned int)__builtin_ctzll(b)].coalesced);
}

/* The vCPU's PV-EOI byte (bit 0 = KVM_PV_EOI_BIT; KVM reads and writes one byte of it,
 * Linux's is the low byte of an unsigned long), or NULL while the guest has none. */
static uint8_t *pv_eoi_word(struct virq_vcpu *c)
{
	if (!c->vm->cfg.kernel[0])
		return c->vm->mem + VIRQ_GPA_PVEOI + (size_t)c->id * VIRQ_PVEOI_STRIDE;
	if (!(c->pv_eoi_msr & VIRQ_KVM_MSR_ENABLED))
		return NULL;
	return c->vm->mem + (c->pv_eoi_msr & ~(uint64_t)VIRQ_KVM_MSR_ENABLED);
}

/*
 * MSR_KVM_PV_EOI_EN (Documentation/virt/kvm/x86/msr.rst): bit 0 enables, bits 63:1 are the
 * guest-physical address of the PV-EOI word, 4-byte aligned. As KVM's
 * kvm_lapic_set_pv_eoi: a misaligned address, or one outside guest RAM while enabled, is
 * refused (#GP). Under irq_lock.
 */
static int pv_eoi_msr_write(struct virq_vcpu *c, uint64_t data)
{
	uint64_t gpa = data & ~(uint64_t)VIRQ_KVM_MSR_ENABLED;

	if (gpa & 3)
		return -EINVAL;
	if ((data & VIRQ_KVM_MSR_ENABLED) && gpa >= c->vm->mem_size)
		return -EINVAL;
	/* virq_user_post_run already settled an armed bit: nothing is armed here. A revoked
	 * one is re-armed at the next entry at the new address, or dropped if disabled. */
	c->pv_eoi_msr = data;
	if (!(data & VIRQ_KVM_MSR_ENABLED))
		c->pv_eoi_revoked = false;
	return 0;
}

/* An exception raised by a model (#GP of the LAPIC's MSR interface). Merged with an
 * exception already pending by SDM Vol. 3A 6.15, Tables 6-4 and 6-5. */
static bool raise_exception(struct virq_vcpu *c, uint8_t vector, bool has_error, uint32_t error)
{
	struct virq_cpu_exc cur;

	if (c->ops->get_exception(c, &cur) == 0 && cur.pending) {
		switch (virq_exc_merge(cur.vector, vector)) {
		case VIRQ_EXC_TO_DF:
			vector = 8;
			has_error = true;
			error = 0;
			break;
		case VIRQ_EXC_SHUTDOWN:
			virq_vmm_fail(c->vm, "triple fault on vCPU %u (#%u while delivering #%u)",
				      c->id, vector, cur.vector);
			return false;
		case VIRQ_EXC_SERIAL:
			break; /* the new one replaces it; re-execution regenerates the first */
		}
	}
	if (c->ops->exception(c, vector, has_error, error) < 0) {
		virq_vmm_fail(c->vm, "cannot inject exception %u into vCPU %u", vector, c->id);
		return false;
	}
	CNT(c->ustats.exceptions);
	return true;
}

/* INIT/SIPI/NMI from the LAPIC model (SDM 8.4, 9.4.4, 11.6.1). Under irq_lock. */
static int take_events(struct virq_vcpu *c)
{
	struct virq_lapic_events ev;
	int ret = 0;

	if (!(virq_lapic_pending_events(c->lapic) &
	      (VIRQ_LAPIC_EV_NMI | VIRQ_LAPIC_EV_INIT | VIRQ_LAPIC_EV_SIPI | VIRQ_LAPIC_EV_SMI)))
		return 0;
	virq_lapic_take_events(c->lapic, &ev);
	if (ev.events & VIRQ_LAPIC_EV_INIT) {
		/* The LAPIC reset itself (IRR/ISR discarded): forget PV-EOI state too. */
		if (c->pv_eoi_armed && pv_eoi_word(c))
			__atomic_store_n(pv_eoi_word(c), 0, __ATOMIC_SEQ_CST);
		c->pv_eoi_armed = false;
		c->pv_eoi_revoked = false;
		c->pv_eoi_msr = 0; /* as KVM's vCPU reset (INIT) */
		ret = c->ops->init(c);
		CNT(c->ustats.inits);
		post_map_rebuild(c->vm);
	}
	if (!ret && (ev.events & VIRQ_LAPIC_EV_SIPI)) {
		ret = c->ops->sipi(c, ev.sipi_vector);
		CNT(c->ustats.sipis);
	}
	if (!ret && (ev.events & VIRQ_LAPIC_EV_NMI)) {
		ret = c->ops->nmi(c);
		CNT(c->ustats.nmi_injections);
	}
	/* SMI: no SMM in our guests; the LAPIC counted it. */
	return ret;
}

/* Injection or an interrupt window. Under irq_lock. */
static int inject(struct virq_vcpu *c)
{
	struct kvm_run *run = c->run;
	struct virq_lapic *l = c->lapic;
	bool extint = virq_lapic_has_extint(l), if_flag = false, shadow = true;
	int v, ret;

	if (!extint && virq_lapic_pending(l) < 0) {
		run->request_interrupt_window = 0;
		return 0;
	}
	if (!run->ready_for_interrupt_injection || c->ops->intr_state(c, &if_flag, &shadow) < 0 ||
	    !if_flag || shadow) {
		if (!run->request_interrupt_window)
			CNT(c->ustats.if_blocked);
		run->request_interrupt_window = 1;
		return 0;
	}
	v = virq_lapic_ack(l); /* ExtINT first (the PIC's vector), else IRR -> ISR */
	ret = c->ops->interrupt(c, (uint8_t)v);
	if (ret < 0)
		return ret;
	if (extint) {
		CNT(c->ustats.extint_injections);
	} else {
		CNT(c->ustats.injections);
		c->pv_eoi_revoked = false; /* another vector is in service now */
		if (c->vm->cfg.pv_eoi && pv_eoi_word(c) && virq_lapic_pv_eoi_ok(l, (uint8_t)v)) {
			__atomic_store_n(pv_eoi_word(c), 1, __ATOMIC_SEQ_CST);
			c->pv_eoi_armed = true;
			c->pv_eoi_vector = (uint8_t)v;
			CNT(c->ustats.pv_eoi_set);
		}
	}
	/* More to deliver: exit at the next window (after the handler's iret). */
	run->request_interrupt_window = virq_lapic_has_extint(l) || virq_lapic_pending(l) >= 0;
	return 0;
}

/* Re-arm a revoked PV EOI at entry while its vector is still alone in ISR, IRR empty and
 * edge (virq_lapic_pv_eoi_ok). Under irq_lock, after inject(). */
static void pv_eoi_rearm(struct virq_vcpu *c)
{
	if (!c->pv_eoi_revoked || c->pv_eoi_armed)
		return;
	if (!pv_eoi_word(c) || !virq_lapic_pv_eoi_ok(c->lapic, c->pv_eoi_vector)) {
		c->pv_eoi_revoked = false; /* EOId meanwhile, no longer safe, or disabled */
		return;
	}
	__atomic_store_n(pv_eoi_word(c), 1, __ATOMIC_SEQ_CST);
	c->pv_eoi_armed = true;
	c->pv_eoi_revoked = false;
	CNT(c->ustats.pv_eoi_rearmed);
}

/* Waits while the LAPIC says wait-for-SIPI. 1 started, 0 back to the request loop. */
static int wait_for_sipi(struct virq_vcpu *c)
{
	struct virq_vm *vm = c->vm;

	for (;;) {
		enum virq_vcpu_state st;
		uint32_t seq;
		int ret;

		atomic_store(&c->pstate, VIRQ_PS_BLOCKED);
		seq = atomic_load(&c->halt_seq);
		pthread_mutex_lock(&vm->irq_lock);
		ret = take_events(c);
		st = virq_lapic_vcpu_state(c->lapic);
		pthread_mutex_unlock(&vm->irq_lock);
		if (ret < 0) {
			virq_vmm_fail(vm, "INIT/SIPI on vCPU %u: %s", c->id, strerror(-ret));
			return -1;
		}
		if (st != VIRQ_VCPU_WAIT_SIPI)
			break;
		if ((atomic_load(&c->reqs.bits) & REQ_LEAVE) || atomic_load(&vm->stopping)) {
			atomic_store(&c->pstate, VIRQ_PS_RUNNABLE);
			return 0;
		}
		user_block(c, seq, 0);
	}
	atomic_store(&c->pstate, VIRQ_PS_RUNNABLE);
	return 1;
}

int virq_user_pre_run(struct virq_vcpu *c)
{
	struct virq_vm *vm = c->vm;
	int ret;

	tls_vcpu = c;
	if (virq_lapic_vcpu_state(c->lapic) == VIRQ_VCPU_WAIT_SIPI) {
		ret = wait_for_sipi(c);
		if (ret <= 0)
			return ret;
	}
	/* Publish "running" before looking at PIR and IRR (see the ordering note). */
	atomic_store(&c->pstate, VIRQ_PS_RUNNING);
	(void)virq_pi_clear_sn(&c->pi);
	pthread_mutex_lock(&vm->irq_lock);
	virq_lapic_tick(c->lapic, now_ns());
	sync_pir(c);
	ret = take_events(c);
	if (!ret && virq_lapic_vcpu_state(c->lapic) == VIRQ_VCPU_WAIT_SIPI) {
		/* INIT just moved this AP to wait-for-SIPI: do not enter. */
		pthread_mutex_unlock(&vm->irq_lock);
		virq_pi_set_sn(&c->pi);
		atomic_store(&c->pstate, VIRQ_PS_RUNNABLE);
		return 0;
	}
	if (!ret)
		ret = inject(c);
	if (!ret)
		pv_eoi_rearm(c);
	c->timer_deadline = virq_lapic_timer_deadline(c->lapic);
	pthread_mutex_unlock(&vm->irq_lock);
	if (ret < 0) {
		virq_vmm_fail(vm, "injection into vCPU %u: %s", c->id, strerror(-ret));
		return -1;
	}
	return 1;
}

void virq_user_post_run(struct virq_vcpu *c)
{
	uint64_t old;

	virq_pi_set_sn(&c->pi);
	atomic_store(&c->pstate, VIRQ_PS_RUNNABLE);
	if (!c->pv_eoi_armed)
		return;
	c->pv_eoi_armed = false;
	/* The guest clears bit 0 with `lock btr` when it skips its EOI write. */
	if (!pv_eoi_word(c))
		return;
	old = __atomic_exchange_n(pv_eoi_word(c), 0, __ATOMIC_SEQ_CST);
	if (old & 1) {
		CNT(c->ustats.pv_eoi_revoked);
		c->pv_eoi_revoked = true;
		return;
	}
	pthread_mutex_lock(&c->vm->irq_lock);
	virq_lapic_eoi(c->lapic);
	pthread_mutex_unlock(&c->vm->irq_lock);
	CNT(c->ustats.pv_eoi_taken);
}

bool virq_user_halt(struct virq_vcpu *c)
{
	struct virq_vm *vm = c->vm;
	bool if_flag = false, shadow = false;

	CNT(c->ustats.halts);
	/* IF cannot change while halted: `sti; hlt` waits for interrupts, `cli; hlt` (the
	 * firmware's park after an exception) only for NMI, INIT or SIPI (SDM 6.8.1). */
	if (c->ops->intr_state(c, &if_flag, &shadow) < 0)
		if_flag = true;
	pthread_mutex_lock(&vm->irq_lock);
	virq_lapic_set_vcpu_state(c->lapic, VIRQ_VCPU_HALTED);
	pthread_mutex_unlock(&vm->irq_lock);
	for (;;) {
		uint64_t deadline;
		uint32_t seq, ev;
		bool deliverable;

		/* Blocked: a post that sets ON now wakes us (wake-up notification vector). */
		virq_pi_set_target(&c->pi, VIRQ_PI_NV_WAKEUP, c->id);
		atomic_store(&c->pstate, VIRQ_PS_BLOCKED);
		(void)virq_pi_clear_sn(&c->pi);
		seq = atomic_load(&c->halt_seq);
		if ((atomic_load(&c->reqs.bits) & REQ_LEAVE) || atomic_load(&vm->stopping))
			break;
		pthread_mutex_lock(&vm->irq_lock);
		virq_lapic_tick(c->lapic, now_ns());
		sync_pir(c);
		ev = virq_lapic_pending_events(c->lapic);
		deliverable = ev & (VIRQ_LAPIC_EV_INTR | VIRQ_LAPIC_EV_EXTINT);
		deadline = virq_lapic_timer_deadline(c->lapic);
		pthread_mutex_unlock(&vm->irq_lock);
		if (ev & (VIRQ_LAPIC_EV_NMI | VIRQ_LAPIC_EV_INIT | VIRQ_LAPIC_EV_SIPI))
			break;
		if (deliverable && if_flag)
			break;
		CNT(c->ustats.halt_waits);
		if (user_block(c, seq, deadline))
			CNT(c->ustats.halt_timer_wakes);
	}
	virq_pi_set_sn(&c->pi);
	virq_pi_set_target(&c->pi, VIRQ_PI_NV_POSTED, c->id);
	atomic_store(&c->pstate, VIRQ_PS_RUNNABLE);
	pthread_mutex_lock(&vm->irq_lock);
	if (virq_lapic_vcpu_state(c->lapic) == VIRQ_VCPU_HALTED)
		virq_lapic_set_vcpu_state(c->lapic, VIRQ_VCPU_RUNNING);
	pthread_mutex_unlock(&vm->irq_lock);
	return !atomic_load(&vm->stopping);
}

static bool apic_reg_changes_map(uint32_t off)
{
	return off == VIRQ_APIC_ID || off == VIRQ_APIC_SVR || off == VIRQ_APIC_LDR ||
	       off == VIRQ_APIC_DFR;
}

bool virq_user_mmio(struct virq_vcpu *c)
{
	struct virq_vm *vm = c->vm;
	struct kvm_run *run = c->run;
	uint64_t gpa = run->mmio.phys_addr, base;
	uint32_t len = run->mmio.len, v = 0;
	bool write = run->mmio.is_write;

	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	pthread_mutex_lock(&vm->irq_lock);
	base = virq_lapic_apic_base(c->lapic) & ~0xfffull;
	if (gpa >= base && gpa - base < 0x1000 && virq_lapic_mode(c->lapic) == VIRQ_LAPIC_XAPIC) {
		uint32_t off = (uint32_t)(gpa - base);

		CNT(c->ustats.apic_mmio);
		/* The APIC registers are 32-bit and 16-byte aligned (SDM 11.4.1): other
		 * accesses are dropped and read as all ones. */
		if (len != 4 || (off & 3)) {
			if (!write)
				memset(run->mmio.data, 0xff, len);
		} else if (write) {
			memcpy(&v, run->mmio.data, 4);
			(void)virq_lapic_mmio_write(c->lapic, off, v);
			if (off == VIRQ_APIC_EOI)
				CNT(c->ustats.eoi_exits);
			if (apic_reg_changes_map(off))
				post_map_rebuild(vm);
		} else {
			(void)virq_lapic_mmio_read(c->lapic, off, &v);
			memcpy(run->mmio.data, &v, 4);
		}
	} else if (gpa >= VIRQ_IOAPIC_GPA && gpa - VIRQ_IOAPIC_GPA < 0x1000) {
		uint64_t off = gpa - VIRQ_IOAPIC_GPA;

		CNT(c->ustats.ioapic_mmio);
		/* 82093AA registers are 32-bit: other sizes are dropped. */
		if (len != 4) {
			if (!write)
				memset(run->mmio.data, 0xff, len);
		} else if (write) {
			memcpy(&v, run->mmio.data, 4);
			(void)virq_ioapic_mmio_write(&vm->ioapic, off, v);
		} else {
			v = virq_ioapic_mmio_read(&vm->ioapic, off);
			memcpy(run->mmio.data, &v, 4);
		}
	} else if (vm->plat) {
		/* Not an APIC: the PC platform's bus (outside irq_lock: its lock comes first). */
		CNT(c->ustats.other_mmio);
		pthread_mutex_unlock(&vm->irq_lock);
		virq_platform_mmio(c);
		return true;
	} else if (!write) {
		memset(run->mmio.data, 0xff, len); /* unbacked: reads float */
	}
	pthread_mutex_unlock(&vm->irq_lock);
	return true;
}

bool virq_user_msr(struct virq_vcpu *c, bool write)
{
	struct virq_vm *vm = c->vm;
	struct kvm_run *run = c->run;
	uint32_t msr = run->msr.index;
	uint64_t val = 0;
	int r;

	CNT(c->ustats.apic_msr);
	run->msr.error = 0;
	pthread_mutex_lock(&vm->irq_lock);
	if (msr == VIRQ_MSR_KVM_PV_EOI_EN) {
		/* Filtered to us only for a guest kernel with cfg.pv_eoi (virq_user_kvm_setup) */
		if (write) {
			r = pv_eoi_msr_write(c, run->msr.data);
		} else {
			run->msr.data = c->pv_eoi_msr;
			r = 0;
		}
		CNT(c->ustats.pv_eoi_msr);
	} else if (write) {
		r = virq_lapic_msr_write(c->lapic, msr, run->msr.data);
		if (r == 0 && msr == VIRQ_X2APIC_MSR(VIRQ_APIC_EOI))
			CNT(c->ustats.eoi_exits);
		if (r == 0 && (msr == VIRQ_MSR_APIC_BASE || msr == VIRQ_X2APIC_MSR(VIRQ_APIC_SVR)))
			post_map_rebuild(vm);
	} else {
		r = virq_lapic_msr_read(c->lapic, msr, &val);
		if (r == 0)
			run->msr.data = val;
	}
	pthread_mutex_unlock(&vm->irq_lock);
	/* -EINVAL: the LAPIC model says #GP(0) (x2APIC access outside x2APIC mode, reserved
	 * bits, read-only register, illegal APIC_BASE transition, SDM 11.12.1.2, 11.12.5).
	 * -ENOENT: an MSR nobody implements: #GP(0) as well (SDM Vol. 4 / WRMSR). */
	if (r < 0)
		return raise_exception(c, 13, true, 0);
	return true;
}

/*
 * A guest kernel's ledger in user mode, kept by our LAPIC: what the guest took (INTA:
 * IRR -> ISR at the injection, per vector) and the EOIs it wrote. Without our firmware
 * this is the guest's side; kernel/split mode has only BPF's injection and EOI events.
 */
int virq_user_lapic_ledger(const struct virq_vm *cvm, uint32_t vcpu, struct virq_guest_ledger *out)
{
	struct virq_vm *vm = (struct virq_vm *)cvm;
	const struct virq_lapic_stats *st;

	if (vm->cfg.irqchip != VIRQ_IRQCHIP_USER || !vm->vcpus[vcpu].lapic)
		return -EOPNOTSUPP;
	memset(out, 0, sizeof(*out));
	out->vcpu = vcpu;
	pthread_mutex_lock(&vm->irq_lock);
	st = virq_lapic_stats(vm->vcpus[vcpu].lapic);
	out->apic_id = virq_lapic_id(vm->vcpus[vcpu].lapic);
	for (unsigned int v = 0; v < VIRQ_NR_VECTORS; v++) {
		out->vec[v].count = st->delivered[v];
		out->seq += st->delivered[v];
		out->eoi_written += st->eoi[v];
	}
	pthread_mutex_unlock(&vm->irq_lock);
	return 0;
}

int virq_vm_lapic_stats(const struct virq_vm *cvm, uint32_t vcpu, struct virq_lapic_stats *out)
{
	struct virq_vm *vm = (struct virq_vm *)cvm;

	if (!vm || !out || vcpu >= vm->nr_vcpus)
		return -EINVAL;
	if (vm->cfg.irqchip != VIRQ_IRQCHIP_USER || !vm->vcpus[vcpu].lapic)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&vm->irq_lock);
	*out = *virq_lapic_stats(vm->vcpus[vcpu].lapic);
	pthread_mutex_unlock(&vm->irq_lock);
	return 0;
}

int virq_vm_held_vectors(const struct virq_vm *cvm, uint32_t vcpu, uint64_t irr[4], uint64_t isr[4])
{
	struct virq_vm *vm = (struct virq_vm *)cvm;
	struct virq_vcpu *c;

	if (!vm || !irr || !isr || vcpu >= vm->nr_vcpus)
		return -EINVAL;
	c = &vm->vcpus[vcpu];
	memset(irr, 0, 4 * sizeof(*irr));
	memset(isr, 0, 4 * sizeof(*isr));
	if (vm->cfg.irqchip == VIRQ_IRQCHIP_USER) {
		struct virq_lapic_state st;

		if (!c->lapic)
			return -EINVAL;
		pthread_mutex_lock(&vm->irq_lock);
		virq_lapic_save(c->lapic, &st);
		pthread_mutex_unlock(&vm->irq_lock);
		for (unsigned int i = 0; i < 4; i++) {
			irr[i] = (uint64_t)st.irr[2 * i] | (uint64_t)st.irr[2 * i + 1] << 32;
			isr[i] = (uint64_t)st.isr[2 * i] | (uint64_t)st.isr[2 * i + 1] << 32;
			irr[i] |= __atomic_load_n(&c->pi.desc.pir[i], __ATOMIC_SEQ_CST);
		}
		return 0;
	}
	if (vm->sim || c->fd < 0)
		return -EOPNOTSUPP;
	{
		struct kvm_lapic_state ls;

		if (ioctl(c->fd, KVM_GET_LAPIC, &ls) < 0)
			return -errno;
		/* the APIC page: ISR at 0x100, IRR at 0x200, eight 32-bit words 16 bytes apart
		 * (SDM Vol. 3A Table 11-1) */
		for (unsigned int w = 0; w < 8; w++) {
			uint32_t is, ir;

			memcpy(&is, ls.regs + 0x100 + 0x10 * w, 4);
			memcpy(&ir, ls.regs + 0x200 + 0x10 * w, 4);
			isr[w / 2] |= (uint64_t)is << (32 * (w % 2));
			irr[w / 2] |= (uint64_t)ir << (32 * (w % 2));
		}
	}
	return 0;
}

int virq_vm_split_pins(const struct virq_vm *vm, uint32_t pins[256])
{
	if (!vm || !pins)
		return -EINVAL;
	if (vm->cfg.irqchip != VIRQ_IRQCHIP_SPLIT)
		return -EOPNOTSUPP;
	for (unsigned int v = 0; v < 256; v++)
		pins[v] = __atomic_load_n(&vm->split_vec_pins[v], __ATOMIC_RELAXED);
	return 0;
}

int virq_vm_user_stats(const struct virq_vm *vm, uint32_t vcpu, struct virq_vcpu_user_stats *out)
{
	const uint64_t *src;
	uint64_t *dst = (uint64_t *)out;

	if (!vm || !out || vcpu >= vm->nr_vcpus)
		return -EINVAL;
	if (vm->cfg.irqchip != VIRQ_IRQCHIP_USER)
		return -EOPNOTSUPP;
	src = (const uint64_t *)&vm->vcpus[vcpu].ustats;
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = virq_cnt_get(&src[i]);
	return 0;
}
