// SPDX-License-Identifier: MIT
/*
 * Guest memory builder: page tables, GDT, IDT, TSSs and ledger headers written into a
 * buffer (no KVM needed, unit-tested byte by byte). Layout: include/virq/vmm_guest.h.
 */
#include "virq/vmm_guest.h"

#include <errno.h>
#include <string.h>

static void put64(unsigned char *mem, uint64_t gpa, uint64_t v)
{
	memcpy(mem + gpa, &v, sizeof(v));
}

static uint64_t get64(const unsigned char *mem, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, mem + gpa, sizeof(v));
	return v;
}

/* Segment descriptor flags (SDM Vol. 3A 3.4.5): G, D/B, L, P, DPL, S, type. */
#define DESC_G (1ull << 55)
#define DESC_DB (1ull << 54)
#define DESC_L (1ull << 53)
#define DESC_P (1ull << 47)
#define DESC_DPL(x) ((uint64_t)(x) << 45)
#define DESC_S (1ull << 44)
#define DESC_TYPE(x) ((uint64_t)(x) << 40)
#define DESC_LIMIT_MAX (0xffffull | (0xfull << 48))
#define TYPE_CODE_XR 0xa
#define TYPE_DATA_RW 0x2
#define TYPE_TSS64_AVAIL 0x9 /* SDM Table 3-2, IA-32e mode */
#define TYPE_INTR_GATE 0xe

static void build_page_tables(unsigned char *mem)
{
	const uint64_t flags = VIRQ_PTE_P | VIRQ_PTE_RW | VIRQ_PTE_US;

	memset(mem + VIRQ_GPA_PML4, 0, 0x6000);
	/* PML4[0] -> PDPT; PDPT[0..3] -> the four PDs; each PD maps 1 GiB in 2 MiB pages. */
	put64(mem, VIRQ_GPA_PML4, VIRQ_GPA_PDPT | flags);
	for (uint64_t i = 0; i < 4; i++)
		put64(mem, VIRQ_GPA_PDPT + 8 * i, (VIRQ_GPA_PD + 0x1000 * i) | flags);
	for (uint64_t i = 0; i < 4 * 512; i++) {
		uint64_t pa = i << 21, e = pa | flags | VIRQ_PTE_PS;

		/* The MMIO hole (IOAPIC, LAPIC) must not be cached (SDM 11.4.1). */
		if (pa >= VIRQ_MMIO_HOLE)
			e |= VIRQ_PTE_PCD | VIRQ_PTE_PWT;
		put64(mem, VIRQ_GPA_PD + 8 * i, e);
	}
}

static void build_gdt(unsigned char *mem, uint32_t nr_vcpus)
{
	memset(mem + VIRQ_GPA_GDT, 0, 0x1000);
	put64(mem, VIRQ_GPA_GDT + VIRQ_SEL_CODE64,
	      DESC_G | DESC_L | DESC_P | DESC_S | DESC_TYPE(TYPE_CODE_XR) | DESC_LIMIT_MAX);
	put64(mem, VIRQ_GPA_GDT + VIRQ_SEL_DATA,
	      DESC_G | DESC_DB | DESC_P | DESC_S | DESC_TYPE(TYPE_DATA_RW) | DESC_LIMIT_MAX);
	put64(mem, VIRQ_GPA_GDT + VIRQ_SEL_CODE32,
	      DESC_G | DESC_DB | DESC_P | DESC_S | DESC_TYPE(TYPE_CODE_XR) | DESC_LIMIT_MAX);
	put64(mem, VIRQ_GPA_GDT + VIRQ_SEL_UDATA,
	      DESC_G | DESC_DB | DESC_P | DESC_DPL(3) | DESC_S | DESC_TYPE(TYPE_DATA_RW) |
		      DESC_LIMIT_MAX);
	put64(mem, VIRQ_GPA_GDT + VIRQ_SEL_UCODE64,
	      DESC_G | DESC_L | DESC_P | DESC_DPL(3) | DESC_S | DESC_TYPE(TYPE_CODE_XR) |
		      DESC_LIMIT_MAX);
	/* 16-byte system descriptors for the 64-bit TSSs (SDM 8.2.3, Figure 8-4). */
	for (uint32_t c = 0; c < nr_vcpus; c++) {
		uint64_t base = VIRQ_GPA_TSS + (uint64_t)c * VIRQ_TSS_STRIDE, limit = 103;
		uint64_t lo = (limit & 0xffff) | ((base & 0xffffff) << 16) |
			      DESC_TYPE(TYPE_TSS64_AVAIL) | DESC_P | ((limit >> 16) & 0xf) << 48 |
			      ((base >> 24) & 0xff) << 56;

		put64(mem, VIRQ_GPA_GDT + VIRQ_SEL_TSS(c), lo);
		put64(mem, VIRQ_GPA_GDT + VIRQ_SEL_TSS(c) + 8, base >> 32);
	}
}

static void build_idt(unsigned char *mem)
{
	memset(mem + VIRQ_GPA_IDT, 0, 0x1000);
	/* 64-bit interrupt gates (SDM 6.14.1, Figure 6-8): IF cleared on entry so the
	 * handlers never nest, DPL 0 (software `int` from CPL3 is not used), IST 0. */
	for (uint64_t v = 0; v < 256; v++) {
		uint64_t off = VIRQ_FW_STUBS + v * VIRQ_FW_STUB_SIZE;
		uint64_t lo = (off & 0xffff) | ((uint64_t)VIRQ_SEL_CODE64 << 16) |
			      DESC_TYPE(TYPE_INTR_GATE) | DESC_P | ((off >> 16) & 0xffff) << 48;

		put64(mem, VIRQ_GPA_IDT + 16 * v, lo);
		put64(mem, VIRQ_GPA_IDT + 16 * v + 8, off >> 32);
	}
}

static void build_tss(unsigned char *mem, uint32_t nr_vcpus)
{
	memset(mem + VIRQ_GPA_TSS, 0, (size_t)VIRQ_TSS_STRIDE * VIRQ_VM_MAX_VCPUS);
	for (uint32_t c = 0; c < nr_vcpus; c++) {
		uint64_t t = VIRQ_GPA_TSS + (uint64_t)c * VIRQ_TSS_STRIDE;
		uint16_t iomap = 104; /* beyond the limit: no I/O bitmap; IOPL=3 grants ports */

		/* RSP0 at offset 4 (SDM Figure 8-11): the CPL3->CPL0 interrupt stack. */
		put64(mem, t + 4, virq_guest_kstack_top(c));
		memcpy(mem + t + 0x66, &iomap, sizeof(iomap));
	}
}

static void build_ledgers(unsigned char *mem, uint32_t nr_vcpus, enum virq_idle_style idle,
			  int x2apic)
{
	memset(mem + VIRQ_GPA_LEDGER, 0, (size_t)VIRQ_LEDGER_STRIDE * VIRQ_VM_MAX_VCPUS);
	memset(mem + VIRQ_GPA_MBOX, 0, 0x1000);
	memset(mem + VIRQ_GPA_PVEOI, 0, 0x1000);
	for (uint32_t c = 0; c < nr_vcpus; c++) {
		uint64_t h = virq_guest_ledger_gpa(c);

		put64(mem, h + VIRQ_LH_CPU, c);
		put64(mem, h + VIRQ_LH_APIC_ID, c);
		put64(mem, h + VIRQ_LH_FLAGS, x2apic ? VIRQ_LF_X2APIC : 0);
		put64(mem, h + VIRQ_LH_MBOX, VIRQ_GPA_MBOX + (uint64_t)c * VIRQ_MBOX_STRIDE);
		put64(mem, h + VIRQ_LH_PVEOI, VIRQ_GPA_PVEOI + (uint64_t)c * VIRQ_PVEOI_STRIDE);
		put64(mem, h + VIRQ_LH_KSTACK, virq_guest_kstack_top(c));
		put64(mem, h + VIRQ_LH_USTACK, virq_guest_ustack_top(c));
		put64(mem, h + VIRQ_LH_IDLE, (uint64_t)idle);
		put64(mem, h + VIRQ_LH_NR_VCPUS, nr_vcpus);
		put64(mem, h + VIRQ_LH_SELF, h);
		put64(mem, h + VIRQ_LH_MAGIC, VIRQ_LEDGER_MAGIC);
	}
}

int virq_guest_build_tables(void *mem, size_t mem_size, uint32_t nr_vcpus,
			    enum virq_idle_style idle, int x2apic)
{
	if (!mem || mem_size < VIRQ_GPA_LAYOUT_END || nr_vcpus < 1 ||
	    nr_vcpus > VIRQ_VM_MAX_VCPUS || (unsigned)idle >= VIRQ_IDLE__COUNT)
		return -EINVAL;
	build_page_tables(mem);
	build_gdt(mem, nr_vcpus);
	build_idt(mem);
	build_tss(mem, nr_vcpus);
	build_ledgers(mem, nr_vcpus, idle, x2apic);
	return 0;
}

int virq_guest_load_firmware(void *mem, size_t mem_size)
{
	size_t fw = (size_t)(virq_fw_end - virq_fw_start);
	size_t tr = (size_t)(virq_tramp_end - virq_tramp_start);

	if (!mem || mem_size < VIRQ_GPA_LAYOUT_END)
		return -EINVAL;
	if (fw == 0 || fw > VIRQ_FW_MAX || tr == 0 || tr > 0x1000)
		return -E2BIG;
	memcpy((unsigned char *)mem + VIRQ_GPA_FW, virq_fw_start, fw);
	memcpy((unsigned char *)mem + VIRQ_GPA_TRAMPOLINE, virq_tramp_start, tr);
	return 0;
}

int virq_guest_ledger_decode(const void *mem, size_t mem_size, uint32_t vcpu,
			     struct virq_guest_ledger *out)
{
	const unsigned char *m = mem;
	uint64_t h;

	if (!mem || !out || vcpu >= VIRQ_VM_MAX_VCPUS)
		return -EINVAL;
	h = virq_guest_ledger_gpa(vcpu);
	if (h + VIRQ_LEDGER_STRIDE > mem_size)
		return -EINVAL;
	if (get64(m, h + VIRQ_LH_MAGIC) != VIRQ_LEDGER_MAGIC || get64(m, h + VIRQ_LH_CPU) != vcpu)
		return -EPROTO;
	memset(out, 0, sizeof(*out));
	out->vcpu = vcpu;
	out->apic_id = (uint32_t)get64(m, h + VIRQ_LH_APIC_ID);
	out->seq = get64(m, h + VIRQ_LH_SEQ);
	out->eoi_written = get64(m, h + VIRQ_LH_EOI_WRITTEN);
	out->eoi_skipped_pv = get64(m, h + VIRQ_LH_EOI_SKIPPED);
	out->eoi_held = get64(m, h + VIRQ_LH_EOI_HELD);
	out->nested = get64(m, h + VIRQ_LH_NESTED);
	out->mbox_done = get64(m, h + VIRQ_LH_MBOX_DONE);
	for (unsigned v = 0; v < VIRQ_NR_VECTORS; v++) {
		uint64_t e = h + VIRQ_LEDGER_VEC_OFF + (uint64_t)v * VIRQ_LEDGER_VEC_SIZE;

		out->vec[v].count = get64(m, e);
		out->vec[v].first_seq = get64(m, e + 8);
		out->vec[v].last_seq = get64(m, e + 16);
		out->vec[v].last_tsc = get64(m, e + 24);
	}
	return 0;
}
