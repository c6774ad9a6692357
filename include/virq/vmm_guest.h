/* SPDX-License-Identifier: MIT */
/*
 * virq VMM: the guest memory layout and the ABI between the VMM and its guest firmware
 * (daemon/vmm/guest/firmware.S, trampoline.S). The offsets below are also hard-coded in
 * the firmware; tests/unit/test_vmm_layout.c checks both sides agree.
 *
 * Guest-physical layout (identity-mapped, 2 MiB pages, U bit set everywhere so the idle
 * loop can run at CPL3; SDM Vol. 3A 4.5):
 *   0x001000 PML4, 0x002000 PDPT, 0x003000..0x006fff four PDs (0..4 GiB)
 *   0x007000 GDT  (selectors below; 64-bit TSS descriptors from 0x40, 16 bytes each)
 *   0x008000 IDT  (256 x 16-byte interrupt gates, SDM 6.14.1)
 *   0x009000 TSSs (one 64-bit TSS per vCPU, 128-byte stride, SDM 8.7)
 *   0x00b000 mailboxes (64 bytes per vCPU)
 *   0x00c000 PV-EOI words (64 bytes per vCPU)
 *   0x00f000 AP real-mode trampoline (SIPI vector 0x0f)
 *   0x100000 per-vCPU ledgers (16 KiB each: header, then 256 x 32-byte vector entries);
 *            (the firmware finds it from its CPL0 stack pointer: same stride)
 *   0x200000 firmware (.code64), entry table at +0, vector stubs at +0x1000 (16 each)
 *   0x300000 stacks (16 KiB per vCPU: CPL0 stack then CPL3 stack)
 * Everything fits below 4 MiB; the rest of guest memory is unused.
 *
 * Threading: the builders write into a caller-owned buffer; no locking, any thread.
 */
#ifndef VIRQ_VMM_GUEST_H
#define VIRQ_VMM_GUEST_H

#ifdef __ASSEMBLER__
#define VIRQ_ULL(x) x
#define VIRQ_VM_MAX_VCPUS 64 /* as in virq/vmm.h */
#define VIRQ_IDLE_CPL3_SPIN 1 /* enum virq_idle_style */
#else
#define VIRQ_ULL(x) x##ull
#include <stddef.h>
#include <stdint.h>

#include "virq/vmm.h"
#endif

#define VIRQ_GPA_PML4 VIRQ_ULL(0x1000)
#define VIRQ_GPA_PDPT VIRQ_ULL(0x2000)
#define VIRQ_GPA_PD VIRQ_ULL(0x3000) /* 4 pages */
#define VIRQ_GPA_GDT VIRQ_ULL(0x7000)
#define VIRQ_GPA_IDT VIRQ_ULL(0x8000)
#define VIRQ_GPA_TSS VIRQ_ULL(0x9000)
#define VIRQ_TSS_STRIDE 128
#define VIRQ_GPA_MBOX VIRQ_ULL(0xb000)
#define VIRQ_MBOX_STRIDE 64
#define VIRQ_GPA_PVEOI VIRQ_ULL(0xc000)
#define VIRQ_PVEOI_STRIDE 64
#define VIRQ_GPA_TRAMPOLINE VIRQ_ULL(0xf000)
#define VIRQ_SIPI_VECTOR 0x0f /* trampoline page >> 12 (SDM 8.4.4.1) */
#define VIRQ_GPA_LEDGER VIRQ_ULL(0x100000)
#define VIRQ_LEDGER_STRIDE 0x4000
#define VIRQ_LEDGER_VEC_OFF 0x1000
#define VIRQ_LEDGER_VEC_SIZE 32
#define VIRQ_GPA_FW VIRQ_ULL(0x200000)
#define VIRQ_FW_MAX 0x100000
#define VIRQ_FW_BSP_ENTRY (VIRQ_GPA_FW + 0x0)
#define VIRQ_FW_AP_ENTRY (VIRQ_GPA_FW + 0x8)
#define VIRQ_FW_STUBS (VIRQ_GPA_FW + 0x1000)
#define VIRQ_FW_STUB_SIZE 16
#define VIRQ_GPA_STACKS VIRQ_ULL(0x300000)
#define VIRQ_STACK_STRIDE 0x4000 /* [0,8K) CPL0 stack, [8K,16K) CPL3 stack */
#define VIRQ_GPA_LAYOUT_END VIRQ_ULL(0x400000)

/* GDT selectors (SDM 3.4.5, 5.2.1). */
#define VIRQ_SEL_CODE64 0x08
#define VIRQ_SEL_DATA 0x10
#define VIRQ_SEL_CODE32 0x18 /* only for the AP trampoline's protected-mode hop */
#define VIRQ_SEL_UDATA 0x20 /* DPL3; used with RPL 3 */
#define VIRQ_SEL_UCODE64 0x28 /* DPL3; used with RPL 3 */
#define VIRQ_SEL_TSS(cpu) (0x40 + 16 * (cpu))
#define VIRQ_GDT_LIMIT (0x40 + 16 * VIRQ_VM_MAX_VCPUS - 1)

/* Page-table entry bits (SDM Vol. 3A 4.5, Table 4-15..4-20). */
#define VIRQ_PTE_P (VIRQ_ULL(1) << 0)
#define VIRQ_PTE_RW (VIRQ_ULL(1) << 1)
#define VIRQ_PTE_US (VIRQ_ULL(1) << 2)
#define VIRQ_PTE_PWT (VIRQ_ULL(1) << 3)
#define VIRQ_PTE_PCD (VIRQ_ULL(1) << 4)
#define VIRQ_PTE_PS (VIRQ_ULL(1) << 7)
#define VIRQ_MMIO_HOLE VIRQ_ULL(0xc0000000) /* 2 MiB pages from here on are uncached */

/* Ledger header offsets (u64 each), relative to the vCPU's GS base. */
#define VIRQ_LH_CPU 0x00
#define VIRQ_LH_SEQ 0x08
#define VIRQ_LH_EOI_WRITTEN 0x10
#define VIRQ_LH_EOI_SKIPPED 0x18
#define VIRQ_LH_EOI_HELD 0x20
#define VIRQ_LH_NESTED 0x28
#define VIRQ_LH_MBOX_DONE 0x30
#define VIRQ_LH_APIC_ID 0x38
#define VIRQ_LH_FLAGS 0x40
#define VIRQ_LH_MBOX 0x48 /* GPA of this vCPU's mailbox */
#define VIRQ_LH_PVEOI 0x50 /* GPA of this vCPU's PV-EOI word */
#define VIRQ_LH_KSTACK 0x58
#define VIRQ_LH_USTACK 0x60
#define VIRQ_LH_IDLE 0x68 /* enum virq_idle_style */
#define VIRQ_LH_HELD_OWED 0x70 /* EOIs owed while held */
#define VIRQ_LH_NR_VCPUS 0x78
#define VIRQ_LH_SELF 0x80 /* GPA of this header (GS base) */
/* The 8259A pair's vector base: vectors [base, base+16) are EOId at the PIC, not the
 * LAPIC (ExtINT, SDM 11.8.5). The BSP programs the PIC masked at base 0x20 at boot, so
 * scenarios should keep LAPIC vectors out of 0x20-0x2f unless they re-program it. */
#define VIRQ_LH_PIC_BASE 0x88
#define VIRQ_PIC_BOOT_BASE 0x20
#define VIRQ_LH_EXC_VEC 0x90 /* last exception vector + 1 (0: none) */
#define VIRQ_LH_EXC_RIP 0x98
#define VIRQ_LH_MAGIC 0xa0
#define VIRQ_LEDGER_MAGIC VIRQ_ULL(0x7669727131) /* "virq1" */

#define VIRQ_LF_X2APIC (VIRQ_ULL(1) << 0) /* boot: switch to x2APIC; runtime: x2APIC active */
#define VIRQ_LF_HOLD_EOI (VIRQ_ULL(1) << 1)
#define VIRQ_LF_READY (VIRQ_ULL(1) << 2) /* firmware initialised this vCPU */
#define VIRQ_LF_IN_HANDLER (VIRQ_ULL(1) << 3)

/* Vector entry (VIRQ_LEDGER_VEC_SIZE bytes): count, first_seq, last_seq, last_tsc. */

/* Mailbox (per vCPU) offsets. */
#define VIRQ_MB_CMD 0x00 /* u64 */
#define VIRQ_MB_ARG0 0x08
#define VIRQ_MB_ARG1 0x10
#define VIRQ_MB_RESULT 0x18
#define VIRQ_MB_SEQ_REQ 0x20 /* VMM increments after writing cmd/args */
#define VIRQ_MB_SEQ_DONE 0x28 /* guest copies SEQ_REQ after writing result */
#define VIRQ_MB_STATUS 0x30 /* 0 ok, else -errno-like code */

/* The VMM rings the mailbox with a fixed interrupt of this vector to the vCPU. */
#define VIRQ_MBOX_VECTOR 0xee

/* Mailbox commands (VIRQ_MB_CMD). Values are the firmware's jump-table indexes. */
#define VIRQ_MBOX_NOP 0
#define VIRQ_MBOX_APIC_WRITE 1 /* arg0 xAPIC register offset, arg1 value (MSR in x2APIC) */
#define VIRQ_MBOX_APIC_READ 2 /* arg0 register offset -> result */
#define VIRQ_MBOX_ICR_WRITE 3 /* arg0 64-bit ICR (xAPIC: high dword then low) */
#define VIRQ_MBOX_X2APIC_ON 4 /* IA32_APIC_BASE |= EN|EXTD (SDM 11.12.1) */
#define VIRQ_MBOX_OUTB 5 /* arg0 port, arg1 value */
#define VIRQ_MBOX_INB 6 /* arg0 port -> result */
#define VIRQ_MBOX_MMIO_WRITE32 7 /* arg0 address, arg1 value */
#define VIRQ_MBOX_MMIO_READ32 8
#define VIRQ_MBOX_WRMSR 9 /* arg0 msr, arg1 value */
#define VIRQ_MBOX_RDMSR 10
#define VIRQ_MBOX_EOI_HOLD 11 /* arg0 1 hold, 0 release (writes the owed EOIs) */
#define VIRQ_MBOX_PIC_INIT 12 /* arg0 vector base (multiple of 8), arg1 16-bit IMR */
#define VIRQ_MBOX_IOAPIC_WRITE 13 /* arg0 register index, arg1 value */
#define VIRQ_MBOX_IOAPIC_READ 14
#define VIRQ_MBOX_STOP 15 /* arg0 code: out to 0xf4 (test device exit port) */
#define VIRQ_MBOX__COUNT 16

/* Doorbell device: a guest `out` to this port is bound to an eventfd with KVM_IOEVENTFD
 * (no exit to userspace); the VMM's device thread completes with an irqfd on
 * VIRQ_DOORBELL_GSI, an MSI route to vCPU 0 with VIRQ_DOORBELL_VECTOR. */
#define VIRQ_DOORBELL_PORT 0x2100
#define VIRQ_DOORBELL_GSI 24
#define VIRQ_DOORBELL_VECTOR 0xd0

#define VIRQ_LAPIC_GPA VIRQ_ULL(0xfee00000)
#define VIRQ_IOAPIC_GPA VIRQ_ULL(0xfec00000)

#ifndef __ASSEMBLER__
/*
 * Writes page tables, GDT, IDT (gates to the firmware stubs), TSSs and the ledger
 * headers for nr_vcpus into guest memory `mem` (mem_size bytes, GPA 0 at mem[0]).
 * Returns 0, or -EINVAL (nr_vcpus out of range, mem_size < VIRQ_GPA_LAYOUT_END).
 */
int virq_guest_build_tables(void *mem, size_t mem_size, uint32_t nr_vcpus,
			    enum virq_idle_style idle, int x2apic);

/* Copies the embedded firmware and trampoline into guest memory. 0 or -E2BIG/-EINVAL. */
int virq_guest_load_firmware(void *mem, size_t mem_size);

/* Decodes one vCPU's ledger from guest memory (bounds-checked). 0 or -EINVAL/-EPROTO. */
int virq_guest_ledger_decode(const void *mem, size_t mem_size, uint32_t vcpu,
			     struct virq_guest_ledger *out);

static inline uint64_t virq_guest_ledger_gpa(uint32_t vcpu)
{
	return VIRQ_GPA_LEDGER + (uint64_t)vcpu * VIRQ_LEDGER_STRIDE;
}

static inline uint64_t virq_guest_kstack_top(uint32_t vcpu)
{
	return VIRQ_GPA_STACKS + (uint64_t)vcpu * VIRQ_STACK_STRIDE + VIRQ_STACK_STRIDE / 2;
}

static inline uint64_t virq_guest_ustack_top(uint32_t vcpu)
{
	return VIRQ_GPA_STACKS + (uint64_t)(vcpu + 1) * VIRQ_STACK_STRIDE;
}

/* The embedded firmware images (daemon/vmm/module.mk links them in). */
extern const unsigned char virq_fw_start[], virq_fw_end[];
extern const unsigned char virq_tramp_start[], virq_tramp_end[];

#endif /* !__ASSEMBLER__ */

#endif /* VIRQ_VMM_GUEST_H */
