// SPDX-License-Identifier: MIT
/*
 * The guest image the VMM writes into guest memory, checked byte by byte against the
 * architecture: 4-level paging with 2 MiB pages (SDM Vol. 3A 4.5), GDT code/data and
 * 64-bit TSS descriptors (3.4.5, 8.2.3), 64-bit interrupt gates (6.14.1), the 64-bit
 * TSS (8.7), and the embedded firmware/trampoline binaries.
 */
#include "virq_test.h"
#include "virq/vmm_guest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MEM_SIZE (8u << 20)

static uint64_t rd64(const unsigned char *m, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, m + gpa, 8);
	return v;
}

static unsigned char *build(uint32_t n, enum virq_idle_style idle, int x2apic)
{
	unsigned char *m = calloc(1, MEM_SIZE);

	assert_non_null(m);
	memset(m, 0xa5, MEM_SIZE); /* the builder must overwrite what it owns */
	assert_int_equal(virq_guest_build_tables(m, MEM_SIZE, n, idle, x2apic), 0);
	return m;
}

/* A 2 MiB-page walk of the tables, as the MMU does it (SDM 4.5.4). */
static uint64_t walk(const unsigned char *m, uint64_t va, uint64_t *flags)
{
	uint64_t pml4e = rd64(m, VIRQ_GPA_PML4 + 8 * ((va >> 39) & 511));
	uint64_t pdpte, pde;

	assert_true(pml4e & VIRQ_PTE_P);
	pdpte = rd64(m, (pml4e & 0xffffffffff000ull) + 8 * ((va >> 30) & 511));
	assert_true(pdpte & VIRQ_PTE_P);
	assert_false(pdpte & VIRQ_PTE_PS); /* no 1 GiB pages */
	pde = rd64(m, (pdpte & 0xffffffffff000ull) + 8 * ((va >> 21) & 511));
	assert_true(pde & VIRQ_PTE_P);
	assert_true(pde & VIRQ_PTE_PS);
	*flags = pml4e & pdpte & pde & (VIRQ_PTE_RW | VIRQ_PTE_US);
	*flags |= pde & (VIRQ_PTE_PCD | VIRQ_PTE_PWT);
	return (pde & 0xfffffffe00000ull) | (va & 0x1fffff);
}

static void test_page_tables_identity_map_4g_with_user_bit(void **state)
{
	unsigned char *m = build(2, VIRQ_IDLE_HLT, 0);
	const uint64_t probes[] = { 0,		0x1234,	    VIRQ_GPA_FW + 0x1000, 0x3fffff,
				    0x40000000, 0xbfffffff, 0xfec00000,		  0xfee000f0 };
	uint64_t flags;

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		assert_int_equal(walk(m, probes[i], &flags), probes[i]);
		/* U/S and R/W must be set at every level for CPL3 idling (SDM 4.6). */
		assert_true(flags & VIRQ_PTE_US);
		assert_true(flags & VIRQ_PTE_RW);
		if (probes[i] >= VIRQ_MMIO_HOLE)
			assert_true(flags & VIRQ_PTE_PCD);
		else
			assert_false(flags & VIRQ_PTE_PCD);
	}
	/* Nothing above 4 GiB is mapped. */
	assert_int_equal(rd64(m, VIRQ_GPA_PDPT + 8 * 4), 0);
	assert_int_equal(rd64(m, VIRQ_GPA_PML4 + 8), 0);
	free(m);
}

static void test_gdt_has_long_mode_code_and_user_segments(void **state)
{
	unsigned char *m = build(1, VIRQ_IDLE_HLT, 0);
	uint64_t cs = rd64(m, VIRQ_GPA_GDT + VIRQ_SEL_CODE64);
	uint64_t ucs = rd64(m, VIRQ_GPA_GDT + VIRQ_SEL_UCODE64);
	uint64_t uds = rd64(m, VIRQ_GPA_GDT + VIRQ_SEL_UDATA);
	uint64_t cs32 = rd64(m, VIRQ_GPA_GDT + VIRQ_SEL_CODE32);

	assert_int_equal(rd64(m, VIRQ_GPA_GDT), 0); /* null descriptor */
	/* 64-bit code: L=1, D=0 (SDM 5.2.1), present, S=1, execute/read, DPL 0. */
	assert_int_equal(cs, 0x00af9a000000ffffull);
	assert_int_equal(ucs, 0x00affa000000ffffull); /* same with DPL 3 */
	assert_int_equal(uds, 0x00cff2000000ffffull);
	assert_int_equal(cs32, 0x00cf9a000000ffffull); /* D=1, L=0 for the trampoline */
	assert_int_equal(rd64(m, VIRQ_GPA_GDT + VIRQ_SEL_DATA), 0x00cf92000000ffffull);
	free(m);
}

static void test_tss_descriptor_and_rsp0_per_vcpu(void **state)
{
	const uint32_t n = 64;
	unsigned char *m = build(n, VIRQ_IDLE_CPL3_SPIN, 0);

	for (uint32_t c = 0; c < n; c++) {
		uint64_t lo = rd64(m, VIRQ_GPA_GDT + VIRQ_SEL_TSS(c));
		uint64_t hi = rd64(m, VIRQ_GPA_GDT + VIRQ_SEL_TSS(c) + 8);
		uint64_t base = (lo >> 16 & 0xffffff) | (lo >> 56 & 0xff) << 24 | hi << 32;
		uint64_t tss = VIRQ_GPA_TSS + (uint64_t)c * VIRQ_TSS_STRIDE;
		uint16_t iomap;

		assert_int_equal(base, tss);
		assert_int_equal(lo & 0xffff, 103); /* limit: 104-byte TSS */
		assert_int_equal(lo >> 40 & 0xf, 0x9); /* available 64-bit TSS */
		assert_true(lo >> 47 & 1);
		assert_int_equal(lo >> 44 & 1, 0); /* system descriptor */
		/* RSP0 at offset 4: the top of this vCPU's CPL0 stack. */
		assert_int_equal(rd64(m, tss + 4), virq_guest_kstack_top(c));
		memcpy(&iomap, m + tss + 0x66, 2);
		assert_int_equal(iomap, 104);
	}
	assert_true(VIRQ_SEL_TSS(n - 1) + 15 <= VIRQ_GDT_LIMIT);
	free(m);
}

static void test_idt_gates_point_at_the_firmware_stubs(void **state)
{
	unsigned char *m = build(1, VIRQ_IDLE_HLT, 0);

	for (uint64_t v = 0; v < 256; v++) {
		uint64_t lo = rd64(m, VIRQ_GPA_IDT + 16 * v),
			 hi = rd64(m, VIRQ_GPA_IDT + 16 * v + 8);
		uint64_t off = (lo & 0xffff) | (lo >> 48 & 0xffff) << 16 | (hi & 0xffffffff) << 32;

		assert_int_equal(off, VIRQ_FW_STUBS + v * VIRQ_FW_STUB_SIZE);
		assert_int_equal(lo >> 16 & 0xffff, VIRQ_SEL_CODE64);
		assert_int_equal(lo >> 40 & 0xf, 0xe); /* interrupt gate: IF cleared */
		assert_int_equal(lo >> 45 & 3, 0); /* DPL 0 */
		assert_true(lo >> 47 & 1);
		assert_int_equal(lo >> 32 & 7, 0); /* IST 0 */
	}
	free(m);
}

static void test_ledger_headers_describe_each_vcpu(void **state)
{
	unsigned char *m = build(3, VIRQ_IDLE_CPL3_SPIN, 1);

	for (uint32_t c = 0; c < 3; c++) {
		uint64_t h = virq_guest_ledger_gpa(c);

		assert_int_equal(rd64(m, h + VIRQ_LH_CPU), c);
		assert_int_equal(rd64(m, h + VIRQ_LH_SELF), h);
		assert_int_equal(rd64(m, h + VIRQ_LH_MAGIC), VIRQ_LEDGER_MAGIC);
		assert_int_equal(rd64(m, h + VIRQ_LH_NR_VCPUS), 3);
		assert_int_equal(rd64(m, h + VIRQ_LH_IDLE), VIRQ_IDLE_CPL3_SPIN);
		assert_int_equal(rd64(m, h + VIRQ_LH_FLAGS), VIRQ_LF_X2APIC);
		assert_int_equal(rd64(m, h + VIRQ_LH_MBOX), VIRQ_GPA_MBOX + c * VIRQ_MBOX_STRIDE);
		assert_int_equal(rd64(m, h + VIRQ_LH_PVEOI),
				 VIRQ_GPA_PVEOI + c * VIRQ_PVEOI_STRIDE);
		assert_int_equal(rd64(m, h + VIRQ_LH_USTACK), virq_guest_ustack_top(c));
		assert_int_equal(rd64(m, h + VIRQ_LH_SEQ), 0);
		/* The firmware derives the ledger from RSP0: same stride, same rounding. */
		assert_int_equal(((virq_guest_kstack_top(c) - 8 - VIRQ_GPA_STACKS) &
				  ~(uint64_t)(VIRQ_STACK_STRIDE - 1)) +
					 VIRQ_GPA_LEDGER,
				 h);
	}
	free(m);
}

static void test_layout_regions_do_not_overlap(void **state)
{
	/* [start, end) of each region, sorted by address. */
	const uint64_t r[][2] = {
		{ VIRQ_GPA_PML4, VIRQ_GPA_PML4 + 0x1000 },
		{ VIRQ_GPA_PDPT, VIRQ_GPA_PDPT + 0x1000 },
		{ VIRQ_GPA_PD, VIRQ_GPA_PD + 0x4000 },
		{ VIRQ_GPA_GDT, VIRQ_GPA_GDT + VIRQ_GDT_LIMIT + 1 },
		{ VIRQ_GPA_IDT, VIRQ_GPA_IDT + 0x1000 },
		{ VIRQ_GPA_TSS, VIRQ_GPA_TSS + VIRQ_TSS_STRIDE * VIRQ_VM_MAX_VCPUS },
		{ VIRQ_GPA_MBOX, VIRQ_GPA_MBOX + VIRQ_MBOX_STRIDE * VIRQ_VM_MAX_VCPUS },
		{ VIRQ_GPA_PVEOI, VIRQ_GPA_PVEOI + VIRQ_PVEOI_STRIDE * VIRQ_VM_MAX_VCPUS },
		{ VIRQ_GPA_TRAMPOLINE, VIRQ_GPA_TRAMPOLINE + 0x1000 },
		{ VIRQ_GPA_LEDGER,
		  VIRQ_GPA_LEDGER + (uint64_t)VIRQ_LEDGER_STRIDE * VIRQ_VM_MAX_VCPUS },
		{ VIRQ_GPA_FW, VIRQ_GPA_FW + VIRQ_FW_MAX },
		{ VIRQ_GPA_STACKS,
		  VIRQ_GPA_STACKS + (uint64_t)VIRQ_STACK_STRIDE * VIRQ_VM_MAX_VCPUS },
	};
	size_t n = sizeof(r) / sizeof(r[0]);

	for (size_t i = 1; i < n; i++)
		assert_true(r[i - 1][1] <= r[i][0]);
	assert_true(r[n - 1][1] <= VIRQ_GPA_LAYOUT_END);
	assert_true(VIRQ_GPA_LAYOUT_END <= (uint64_t)VIRQ_VM_MEM_MB_MIN << 20);
	/* Vector entries fit in a ledger; the SIPI vector names the trampoline page. */
	assert_true(VIRQ_LEDGER_VEC_OFF + 256 * VIRQ_LEDGER_VEC_SIZE <= VIRQ_LEDGER_STRIDE);
	assert_int_equal((uint64_t)VIRQ_SIPI_VECTOR << 12, VIRQ_GPA_TRAMPOLINE);
	assert_int_equal(VIRQ_STACK_STRIDE, VIRQ_LEDGER_STRIDE);
}

static void test_builder_rejects_bad_arguments(void **state)
{
	unsigned char *m = calloc(1, MEM_SIZE);

	assert_int_equal(virq_guest_build_tables(m, MEM_SIZE, 0, VIRQ_IDLE_HLT, 0), -EINVAL);
	assert_int_equal(virq_guest_build_tables(m, MEM_SIZE, 65, VIRQ_IDLE_HLT, 0), -EINVAL);
	assert_int_equal(virq_guest_build_tables(m, VIRQ_GPA_LAYOUT_END - 1, 1, VIRQ_IDLE_HLT, 0),
			 -EINVAL);
	assert_int_equal(virq_guest_build_tables(NULL, MEM_SIZE, 1, VIRQ_IDLE_HLT, 0), -EINVAL);
	assert_int_equal(virq_guest_load_firmware(m, 1 << 20), -EINVAL);
	free(m);
}

/* Decodes the push of a stub: 6a ib (sign-extended imm8) or 68 id. */
static int stub_push(const unsigned char *p, uint32_t *val)
{
	if (p[0] == 0x6a) {
		*val = (uint32_t)(int32_t)(int8_t)p[1];
		return 2;
	}
	if (p[0] == 0x68) {
		memcpy(val, p + 1, 4);
		return 5;
	}
	return -1;
}

static void test_firmware_stubs_push_their_vector(void **state)
{
	size_t fw = (size_t)(virq_fw_end - virq_fw_start);

	assert_true(fw > 0x1000 + 256 * VIRQ_FW_STUB_SIZE - 1);
	assert_true(fw <= VIRQ_FW_MAX);
	for (uint32_t v = 0; v < 256; v++) {
		const unsigned char *p = virq_fw_start + 0x1000 + v * VIRQ_FW_STUB_SIZE;
		bool has_err = v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 ||
			       v == 30; /* SDM Table 6-1 */
		uint32_t val;
		int n;

		if (!has_err) { /* a zero error code first keeps the frame uniform */
			n = stub_push(p, &val);
			assert_int_equal(n, 2);
			assert_int_equal(val, 0);
			p += n;
		}
		n = stub_push(p, &val);
		assert_true(n > 0);
		assert_int_equal(val, v);
		p += n;
		assert_true(p[0] == 0xe9 || p[0] == 0xeb); /* jmp to the common handler */
	}
}

static void test_firmware_entry_table_and_trampoline(void **state)
{
	size_t tr = (size_t)(virq_tramp_end - virq_tramp_start);
	const unsigned char *gdtp;
	uint16_t limit;
	uint32_t base;

	/* BSP entry at +0 and AP entry at +8 are jumps. */
	assert_true(virq_fw_start[0] == 0xeb || virq_fw_start[0] == 0xe9);
	assert_true(virq_fw_start[8] == 0xeb || virq_fw_start[8] == 0xe9);
	/* The trampoline fits its page, starts with cli, and its GDT pointer (last 6
	 * bytes, 8-aligned) names our GDT. */
	assert_true(tr > 16 && tr <= 0x1000);
	assert_int_equal(virq_tramp_start[0], 0xfa);
	gdtp = virq_tramp_start + tr - 6;
	memcpy(&limit, gdtp, 2);
	memcpy(&base, gdtp + 2, 4);
	assert_int_equal(limit, VIRQ_GDT_LIMIT);
	assert_int_equal(base, VIRQ_GPA_GDT);
}

static void test_firmware_loads_at_its_guest_address(void **state)
{
	unsigned char *m = calloc(1, MEM_SIZE);

	assert_int_equal(virq_guest_load_firmware(m, MEM_SIZE), 0);
	assert_memory_equal(m + VIRQ_GPA_FW, virq_fw_start, (size_t)(virq_fw_end - virq_fw_start));
	assert_memory_equal(m + VIRQ_GPA_TRAMPOLINE, virq_tramp_start,
			    (size_t)(virq_tramp_end - virq_tramp_start));
	free(m);
}

static void test_ledger_decode_reads_counts_and_checks_magic(void **state)
{
	unsigned char *m = build(2, VIRQ_IDLE_HLT, 0);
	struct virq_guest_ledger *l = malloc(sizeof(*l));
	uint64_t h = virq_guest_ledger_gpa(1), e = h + VIRQ_LEDGER_VEC_OFF + 0x41 * 32;
	uint64_t vals[4] = { 7, 3, 19, 123456789 }, seq = 20, pv = 5;

	memcpy(m + e, vals, sizeof(vals));
	memcpy(m + h + VIRQ_LH_SEQ, &seq, 8);
	memcpy(m + h + VIRQ_LH_EOI_SKIPPED, &pv, 8);
	assert_int_equal(virq_guest_ledger_decode(m, MEM_SIZE, 1, l), 0);
	assert_int_equal(l->vcpu, 1);
	assert_int_equal(l->seq, 20);
	assert_int_equal(l->eoi_skipped_pv, 5);
	assert_int_equal(l->vec[0x41].count, 7);
	assert_int_equal(l->vec[0x41].first_seq, 3);
	assert_int_equal(l->vec[0x41].last_seq, 19);
	assert_int_equal(l->vec[0x41].last_tsc, 123456789);
	assert_int_equal(l->vec[0x40].count, 0);
	/* A ledger the firmware never initialised (vCPU 2 of 2) is refused. */
	assert_int_equal(virq_guest_ledger_decode(m, MEM_SIZE, 2, l), -EPROTO);
	assert_int_equal(virq_guest_ledger_decode(m, VIRQ_GPA_LEDGER, 0, l), -EINVAL);
	assert_int_equal(virq_guest_ledger_decode(m, MEM_SIZE, 64, l), -EINVAL);
	free(l);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_tables_identity_map_4g_with_user_bit),
		cmocka_unit_test(test_gdt_has_long_mode_code_and_user_segments),
		cmocka_unit_test(test_tss_descriptor_and_rsp0_per_vcpu),
		cmocka_unit_test(test_idt_gates_point_at_the_firmware_stubs),
		cmocka_unit_test(test_ledger_headers_describe_each_vcpu),
		cmocka_unit_test(test_layout_regions_do_not_overlap),
		cmocka_unit_test(test_builder_rejects_bad_arguments),
		cmocka_unit_test(test_firmware_stubs_push_their_vector),
		cmocka_unit_test(test_firmware_entry_table_and_trampoline),
		cmocka_unit_test(test_firmware_loads_at_its_guest_address),
		cmocka_unit_test(test_ledger_decode_reads_counts_and_checks_magic),
	};
	return cmocka_run_group_tests_name("vmm_layout", tests, NULL, NULL);
}
