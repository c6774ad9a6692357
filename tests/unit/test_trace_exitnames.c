// SPDX-License-Identifier: MIT
/* Exit-reason names parsed from the kernel's kvm_exit print format. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "virq/trace.h"
#include "virq_test.h"

/* The shape of Linux >= 5.x: one format for both vendors, chosen on REC->isa. */
static const char combined[] =
	"name: kvm_exit\nID: 1\nformat:\n\tfield:unsigned int exit_reason;\n\n"
	"print fmt: \"vcpu %u reason %s%s%s rip 0x%lx\", REC->vcpu_id, (REC->isa == 1) ? "
	"__print_symbolic(REC->exit_reason & 0xffff, { 0, \"EXCEPTION_NMI\" }, "
	"{ 1, \"EXTERNAL_INTERRUPT\" }, { 12, \"HLT\" }, { 30, \"IO_INSTRUCTION\" }, "
	"{ 48, \"EPT_VIOLATION\" }) : __print_symbolic(REC->exit_reason, "
	"{ 0x040 + 14, \"PF excp\" }, { 0x060, \"interrupt\" }, { 0x078, \"hlt\" }, "
	"{ 0x400, \"npf\" }, { 0x80000001, \"vmgexit_mmio_read\" }, "
	"{ -1, \"invalid_guest_state\" }), (REC->isa == 1 && REC->exit_reason & ~0xffff) ? "
	"\" \" : \"\", (REC->isa == 1) ? __print_flags(REC->exit_reason & ~0xffff, \" \", "
	"{ 0x80000000, \"FAILED_VMENTRY\" }) : \"\", REC->guest_rip\n";

/* Old per-vendor formats: one table (VMX style, and SVM style). */
static const char vmx_only[] =
	"print fmt: \"reason %s rip 0x%lx\", __print_symbolic(REC->exit_reason, "
	"{ 0, \"EXCEPTION_NMI\" }, { 1, \"EXTERNAL_INTERRUPT\" }, { 10, \"CPUID\" }), "
	"REC->guest_rip";
static const char svm_only[] =
	"print fmt: \"reason %s rip 0x%lx\", __print_symbolic(REC->exit_reason, "
	"{ 0x060, \"interrupt\" }, { 0x072, \"cpuid\" }, { 0x07b, \"io\" }), REC->guest_rip";

static void test_combined_format_gives_vmx_and_svm_tables(void **state)
{
	struct virq_exit_names *n = virq_exit_names_parse(combined, sizeof(combined), 1);

	assert_non_null(n);
	assert_int_equal(virq_exit_names_count(n, VIRQ_ISA_VMX), 5);
	assert_int_equal(virq_exit_names_count(n, VIRQ_ISA_SVM), 6);
	assert_string_equal(virq_exit_name(n, VIRQ_ISA_VMX, 1), "EXTERNAL_INTERRUPT");
	assert_string_equal(virq_exit_name(n, VIRQ_ISA_VMX, 48), "EPT_VIOLATION");
	assert_string_equal(virq_exit_name(n, VIRQ_ISA_SVM, 0x60), "interrupt");
	assert_string_equal(virq_exit_name(n, VIRQ_ISA_SVM, 0x4e), "PF excp");
	assert_string_equal(virq_exit_name(n, VIRQ_ISA_SVM, 0x80000001), "vmgexit_mmio_read");
	assert_string_equal(virq_exit_name(n, VIRQ_ISA_SVM, 0xffffffffu), "invalid_guest_state");
	/* the __print_flags table is not an exit reason */
	assert_null(virq_exit_name(n, VIRQ_ISA_SVM, 0x80000000u));
	assert_null(virq_exit_name(n, VIRQ_ISA_VMX, 2));
	virq_exit_names_free(n);
}

static void test_vmx_reason_matches_on_basic_exit_reason_bits(void **state)
{
	struct virq_exit_names *n = virq_exit_names_parse(combined, sizeof(combined), 1);

	assert_non_null(n);
	/* bit 31: VM-entry failure; bits 15:0 basic reason (SDM Vol. 3C 28.2.1) */
	assert_string_equal(virq_exit_name(n, VIRQ_ISA_VMX, 0x80000000u | 12), "HLT");
	/* SVM codes are full 32-bit values */
	assert_null(virq_exit_name(n, VIRQ_ISA_SVM, 0x10060));
	virq_exit_names_free(n);
}

static void test_single_table_formats_use_the_default_isa(void **state)
{
	struct virq_exit_names *v = virq_exit_names_parse(vmx_only, sizeof(vmx_only), 1);
	struct virq_exit_names *s = virq_exit_names_parse(svm_only, sizeof(svm_only), 2);

	assert_non_null(v);
	assert_non_null(s);
	assert_string_equal(virq_exit_name(v, VIRQ_ISA_VMX, 10), "CPUID");
	assert_int_equal(virq_exit_names_count(v, VIRQ_ISA_SVM), 0);
	assert_string_equal(virq_exit_name(s, VIRQ_ISA_SVM, 0x7b), "io");
	assert_int_equal(virq_exit_names_count(s, VIRQ_ISA_VMX), 0);
	virq_exit_names_free(v);
	virq_exit_names_free(s);
}

static void test_text_without_a_table_is_rejected(void **state)
{
	static const char bad[] = "print fmt: \"vcpu %u\", REC->vcpu_id";
	static const char broken[] = "print fmt: \"x\", __print_symbolic(REC->r, { 1, \"A\" }, { 2";

	assert_null(virq_exit_names_parse(bad, sizeof(bad), 1));
	/* a truncated table keeps the entries that parsed */
	struct virq_exit_names *n = virq_exit_names_parse(broken, sizeof(broken), 1);
	assert_non_null(n);
	assert_string_equal(virq_exit_name(n, 1, 1), "A");
	assert_int_equal(virq_exit_names_count(n, 1), 1);
	virq_exit_names_free(n);
}

static void test_real_tracefs_format_names_extint_on_both_vendors(void **state)
{
	struct virq_exit_names *n;

	if (access("/sys/kernel/tracing/events/kvm/kvm_exit/format", R_OK) != 0)
		VIRQ_SKIP("tracefs events/kvm/kvm_exit/format not readable (not root or not "
			  "mounted)");
	n = virq_exit_names_load(NULL);
	assert_non_null(n);
	assert_true(virq_exit_names_count(n, VIRQ_ISA_VMX) > 40);
	assert_true(virq_exit_names_count(n, VIRQ_ISA_SVM) > 40);
	assert_string_equal(virq_exit_name(n, VIRQ_ISA_VMX, 1), "EXTERNAL_INTERRUPT");
	assert_string_equal(virq_exit_name(n, VIRQ_ISA_SVM, 0x60), "interrupt");
	assert_true(virq_exit_is_extint(VIRQ_ISA_VMX, 1));
	assert_true(virq_exit_is_extint(VIRQ_ISA_SVM, 0x60));
	assert_false(virq_exit_is_extint(VIRQ_ISA_SVM, 1));
	virq_exit_names_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_combined_format_gives_vmx_and_svm_tables),
		cmocka_unit_test(test_vmx_reason_matches_on_basic_exit_reason_bits),
		cmocka_unit_test(test_single_table_formats_use_the_default_isa),
		cmocka_unit_test(test_text_without_a_table_is_rejected),
		cmocka_unit_test(test_real_tracefs_format_names_extint_on_both_vendors),
	};

	return cmocka_run_group_tests_name("unit/trace_exitnames", tests, NULL, NULL);
}
