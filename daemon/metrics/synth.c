// SPDX-License-Identifier: MIT
/*
 * Synthetic snapshots for the exporter's tests, benchmark and Prometheus end-to-end test.
 * The numbers are shaped after this host kind's measurements (PLATFORM.md): MSI and timer
 * dominate, PIC is rare, posted interrupts appear only where APICv would exist (kernel
 * mode), kvm_entry/kvm_exit/kvm_inj_virq/kvm_apicv_accept_irq are silent, latencies sit in
 * 20-120 us. Every counter is a non-decreasing function of `tick`.
 */
#include "virq/metrics.h"

#include <errno.h>
#include <stdio.h>

static uint64_t mix(uint64_t x)
{
	/* splitmix64 finaliser: a cheap, well-spread hash of (seed, vm, vcpu, ...). */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* A per-second rate in [lo, lo + span) for a key. */
static uint64_t rate(uint64_t key, uint64_t lo, uint64_t span)
{
	return lo + (span ? mix(key) % span : 0);
}

int virq_stats_synthesize(struct virq_stats_snapshot *snap, uint32_t nr_vms, uint32_t nr_vcpus,
			  uint64_t seed, uint64_t tick)
{
	static const char *const tps[] = {
		"kvm_set_irq",
		"kvm_msi_set_irq",
		"kvm_pic_set_irq",
		"kvm_ioapic_set_irq",
		"kvm_apic_accept_irq",
		"kvm_apicv_accept_irq",
		"kvm_apic_ipi",
		"kvm_eoi",
		"kvm_ack_irq",
		"kvm_inj_virq",
		"kvm_pi_irte_update",
		"kvm_vcpu_wakeup",
		"kvm_entry",
		"kvm_exit",
		"kvm_userspace_exit",
		"kvm_pio",
		"kvm_mmio",
	};
	static const char *const vmm_reasons[] = { "hlt", "io", "mmio", "irq_window_open", "intr" };
	static const char *const kvm_reasons[] = { "exits", "irq_exits", "halt_exits", "mmio_exits",
						   "irq_window_exits" };
	/* Per-second base rates by path: pic ioapic msi ipi nmi timer posted. */
	static const uint64_t base[VIRQ_SPATH__COUNT] = { 20, 300, 4000, 900, 2, 1000, 0 };
	int err;

	if (!snap || nr_vms > VIRQ_STATS_MAX_VMS || nr_vcpus > VIRQ_STATS_MAX_VCPUS)
		return -EINVAL;
	snap->seq = tick;
	snap->taken_unix_ns = (int64_t)(1700000000ull + tick) * 1000000000ll;
	snap->daemon_start_unix = 1700000000.0;

	for (uint32_t i = 0; i < nr_vms; i++) {
		enum virq_vm_mode mode = (enum virq_vm_mode)(i % VIRQ_VM_MODE__COUNT);
		enum virq_vm_origin origin = mode == VIRQ_VM_MODE_OBSERVED ?
						     VIRQ_VM_ORIGIN_OBSERVED :
						     VIRQ_VM_ORIGIN_STARTED;
		uint64_t k = mix(seed ^ ((uint64_t)i << 32));
		struct virq_stats_vm *vm;
		char name[VIRQ_STATS_NAME_MAX];

		snprintf(name, sizeof(name), "%s-%02u", virq_vm_mode_name(mode), i);
		vm = virq_stats_add_vm(snap, name, mode, origin, nr_vcpus,
				       origin == VIRQ_VM_ORIGIN_STARTED ? 4242 :
									  (int32_t)(5000 + i));
		if (!vm)
			return -errno;

		for (int p = 0; p < VIRQ_SPATH__COUNT; p++) {
			uint64_t b = base[p];
			uint64_t inj, coal, lost, vm_events;

			if (p == VIRQ_SPATH_POSTED)
				b = mode == VIRQ_VM_MODE_KERNEL ? 1500 : 0;
			inj = rate(k + (uint64_t)p, b, b / 2 + 1) * tick * (b ? 1 : 0);
			coal = inj / 200;
			lost = (p == VIRQ_SPATH_IOAPIC && mode == VIRQ_VM_MODE_SPLIT) ? tick / 7 :
											0;
			vm->path[p].injected = inj;
			vm->path[p].coalesced = coal;
			vm->path[p].lost = lost;
			vm->path[p].received = inj - coal - lost;
			vm->verdicts[p][VIRQ_VERDICT_CONSISTENT] = inj - coal - lost;
			vm->verdicts[p][VIRQ_VERDICT_COALESCED] = coal;
			vm->verdicts[p][VIRQ_VERDICT_LOST] = lost;
			vm->verdicts[p][VIRQ_VERDICT_SPURIOUS] =
				p == VIRQ_SPATH_PIC ? tick / 30 : 0;
			vm->verdicts[p][VIRQ_VERDICT_MISROUTED] = 0;
			vm->verdicts[p][VIRQ_VERDICT_UNOBSERVABLE] =
				mode == VIRQ_VM_MODE_OBSERVED ? inj / 10 : 0;
			vm->mismatches[p] = lost + vm->verdicts[p][VIRQ_VERDICT_SPURIOUS];

			/* Latency: samples spread over 16-128 us (slots 14..16), a tail to 1 ms. */
			vm_events = inj - coal - lost;
			for (unsigned int s = 0; s < VIRQ_STATS_HIST_SLOTS; s++)
				vm->latency[p].slot[s] = 0;
			vm->latency[p].slot[14] = vm_events / 4;
			vm->latency[p].slot[15] = vm_events / 2;
			vm->latency[p].slot[16] = vm_events / 5;
			vm->latency[p].slot[19] =
				vm_events - vm_events / 4 - vm_events / 2 - vm_events / 5;
			virq_stats_hist_estimate_sum(&vm->latency[p]);

			for (uint8_t v = 0; v < 3 && inj; v++) {
				err = virq_stats_vm_add_vector(vm, (enum virq_stats_path)p,
							       (uint8_t)(0x30 + p * 0x10 + v),
							       inj / 3 + (v == 0 ? inj % 3 : 0));
				if (err)
					return err;
			}
		}
		for (uint32_t g = 0; g < 24; g += 4) {
			err = virq_stats_vm_add_gsi(vm, g, rate(k ^ g, 10, 100) * tick);
			if (err)
				return err;
		}

		for (uint32_t c = 0; c < nr_vcpus; c++) {
			uint64_t kc = mix(k + 1000 + c);

			if (mode != VIRQ_VM_MODE_OBSERVED) {
				for (size_t r = 0; r < sizeof(vmm_reasons) / sizeof(*vmm_reasons);
				     r++) {
					err = virq_stats_vm_add_exit(
						vm, (int32_t)c, VIRQ_EXIT_SRC_VMM, vmm_reasons[r],
						rate(kc + r, 50, 500) * tick);
					if (err)
						return err;
				}
			}
			for (size_t r = 0; r < sizeof(kvm_reasons) / sizeof(*kvm_reasons); r++) {
				uint64_t v = rate(kc + 100 + r, 200, 2000) * tick;

				err = virq_stats_vm_add_exit(
					vm, (int32_t)c, VIRQ_EXIT_SRC_KVM_STATS, kvm_reasons[r], v);
				if (!err)
					err = virq_stats_vm_add_kvm_stat(vm, (int32_t)c,
									 kvm_reasons[r], v);
				if (err)
					return err;
			}
		}
		err = virq_stats_vm_add_kvm_stat(vm, VIRQ_STATS_VCPU_VM, "remote_tlb_flush", tick);
		if (err)
			return err;
	}

	for (size_t t = 0; t < sizeof(tps) / sizeof(*tps); t++) {
		bool silent = t == 5 || t == 9 || t == 10 || t == 12 || t == 13;
		enum virq_attach_state st = silent ? VIRQ_ATTACH_SILENT : VIRQ_ATTACH_LIVE;

		err = virq_stats_add_bpf_point(snap, tps[t], t == 4 ? "tp_btf" : "raw_tp", st,
					       silent ? 0 : rate(seed + t, 1000, 50000) * tick);
		if (err)
			return err;
	}
	err = virq_stats_add_bpf_point(snap, "__apic_accept_irq", "kprobe", VIRQ_ATTACH_UNAVAILABLE,
				       0);
	if (err)
		return err;
	snap->ringbuf_drops = tick / 100;
	for (int w = 0; w < VIRQ_BPF_LOST__COUNT; w++)
		snap->bpf_lost[w] = tick / (200 + 100 * (uint64_t)w);
	return 0;
}
