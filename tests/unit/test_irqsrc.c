// SPDX-License-Identifier: MIT
/*
 * Interrupts by source (include/virq/irqsrc.h): our LAPIC's counters mapped to the source
 * classes, and BPF's accepts attributed through the source events of their vector (per
 * target APIC ID first, the vector VM-wide next, the sourceless vector accepted most as
 * the timer, split mode's IOAPIC vectors seen as MSIs).
 */
#include "virq_test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virq/irqsrc.h"

struct fx {
	struct virq_xcheck_vcpu vc[2];
	uint64_t srcvec[VIRQ_XC_PATH__COUNT][VIRQ_XC_NR_VECTORS];
	uint8_t dst[VIRQ_XC_MAX_VCPUS][VIRQ_XC_NR_VECTORS];
	uint32_t vecpins[VIRQ_XC_NR_VECTORS];
	uint32_t split[VIRQ_XC_NR_VECTORS];
	struct virq_src_kernel in;
	struct virq_src_counts out[2];
};

static struct fx *mkfx(void)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->vc[1].vcpu_id = f->vc[1].apic_id = 1;
	f->in.nr_vcpus = 2;
	f->in.vcpus = f->vc;
	f->in.srcvec = (const uint64_t(*)[VIRQ_XC_NR_VECTORS])f->srcvec;
	f->in.dstpaths = (const uint8_t(*)[VIRQ_XC_NR_VECTORS])f->dst;
	f->in.vecpins = f->vecpins;
	return f;
}

static void test_names_are_closed(void **state)
{
	assert_string_equal(virq_src_name(VIRQ_SRC_TIMER), "timer");
	assert_string_equal(virq_src_name(VIRQ_SRC_UNKNOWN), "unknown");
	assert_string_equal(virq_src_name(VIRQ_SRC__COUNT), "?");
	for (int s = 0; s < VIRQ_SRC__COUNT; s++)
		assert_string_not_equal(virq_src_name(s), "?");
}

/* User mode: every path of our LAPIC lands in one class; PIR merges count as MSIs. */
static void test_lapic_counters_map_to_classes(void **state)
{
	struct virq_lapic_stats st;
	struct virq_src_counts o;
	uint64_t fixed = 0, cls = 0;

	memset(&st, 0, sizeof(st));
	st.fixed_by_path[VIRQ_PATH_TIMER] = 100;
	st.fixed_by_path[VIRQ_PATH_IPI] = 20;
	st.fixed_by_path[VIRQ_PATH_IOAPIC] = 7;
	st.ioapic_pin[4] = 5;
	st.ioapic_pin[2] = 1;
	st.fixed_by_path[VIRQ_PATH_MSI] = 6;
	st.fixed_by_path[VIRQ_PATH_LINT] = 1;
	st.fixed_by_path[VIRQ_PATH_OTHER] = 2;
	st.nmi = 3;
	st.nmi_coalesced = 1;
	st.init = 1;
	st.init_deassert = 1;
	st.sipi = 2;
	st.extint = 9;
	virq_src_from_lapic(&st, 4, &o);
	assert_int_equal(o.n[VIRQ_SRC_TIMER], 100);
	assert_int_equal(o.n[VIRQ_SRC_IPI], 20);
	assert_int_equal(o.n[VIRQ_SRC_IOAPIC], 7);
	assert_int_equal(o.pin[4], 5);
	assert_int_equal(o.pin[2], 1);
	assert_int_equal(o.n[VIRQ_SRC_MSI], 10);
	assert_int_equal(o.n[VIRQ_SRC_LINT], 1);
	assert_int_equal(o.n[VIRQ_SRC_LVT_OTHER], 2);
	assert_int_equal(o.n[VIRQ_SRC_NMI], 4);
	assert_int_equal(o.n[VIRQ_SRC_INIT_SIPI], 4);
	assert_int_equal(o.n[VIRQ_SRC_EXTINT], 9);
	assert_int_equal(o.n[VIRQ_SRC_UNKNOWN], 0);
	/* the fixed ones are all there, once each */
	for (int p = 0; p < VIRQ_PATH__COUNT; p++)
		fixed += st.fixed_by_path[p];
	for (int s = 0; s < VIRQ_SRC__COUNT; s++)
		if (s != VIRQ_SRC_NMI && s != VIRQ_SRC_INIT_SIPI && s != VIRQ_SRC_EXTINT)
			cls += o.n[s];
	assert_int_equal(cls, fixed + 4);
}

/* Kernel mode, as Linux runs on 2 vCPUs: the timer (0xec, no source event), an IPI
 * vector (0xfb), serial on pin 4 (0x24) and the PIT on pin 2 (0x30), an MSI-X (0x25),
 * a rare error LVT (0xfe, no source either), INIT/SIPI and an NMI by delivery mode. */
static void test_kernel_mode_accepts_by_source(void **state)
{
	struct fx *f = mkfx();
	int timer;

	f->vc[0].k_accept[0xec] = 1400;
	f->vc[1].k_accept[0xec] = 1200;
	f->vc[0].k_accept[0xfe] = 1; /* sourceless, fewer: not the timer */
	f->vc[0].k_accept[0xfb] = 30;
	f->vc[1].k_accept[0xfb] = 50;
	f->srcvec[VIRQ_XC_PATH_IPI][0xfb] = 80;
	f->vc[0].k_accept[0x24] = 18;
	f->srcvec[VIRQ_XC_PATH_IOAPIC][0x24] = 18;
	f->vecpins[0x24] = 1u << 4;
	f->vc[0].k_accept[0x30] = 3;
	f->srcvec[VIRQ_XC_PATH_IOAPIC][0x30] = 3;
	f->vecpins[0x30] = 1u << 2;
	f->vc[1].k_accept[0x25] = 6;
	f->srcvec[VIRQ_XC_PATH_MSI][0x25] = 6;
	f->vc[1].k_accept_dm[VIRQ_DM_INIT] = 2;
	f->vc[1].k_accept_dm[VIRQ_DM_STARTUP] = 2;
	f->vc[0].k_accept_dm[VIRQ_DM_NMI] = 1;
	assert_int_equal(virq_src_classify(&f->in, f->out, &timer), 0);
	assert_int_equal(timer, 0xec);
	assert_int_equal(f->out[0].n[VIRQ_SRC_TIMER], 1400);
	assert_int_equal(f->out[1].n[VIRQ_SRC_TIMER], 1200);
	assert_int_equal(f->out[0].n[VIRQ_SRC_LVT_OTHER], 1);
	assert_int_equal(f->out[0].n[VIRQ_SRC_IPI], 30);
	assert_int_equal(f->out[1].n[VIRQ_SRC_IPI], 50);
	assert_int_equal(f->out[0].n[VIRQ_SRC_IOAPIC], 21);
	assert_int_equal(f->out[0].pin[4], 18);
	assert_int_equal(f->out[0].pin[2], 3);
	assert_int_equal(f->out[1].n[VIRQ_SRC_MSI], 6);
	assert_int_equal(f->out[1].n[VIRQ_SRC_INIT_SIPI], 4);
	assert_int_equal(f->out[0].n[VIRQ_SRC_NMI], 1);
	assert_int_equal(f->out[0].n[VIRQ_SRC_UNKNOWN] + f->out[1].n[VIRQ_SRC_UNKNOWN], 0);
	free(f);
}

/* Linux allocates vectors per CPU: 0x41 is an MSI on vCPU 0 and pin 9 on vCPU 1.
 * Sources that named the APIC ID decide per cell; without them the vector is unknown. */
static void test_shared_vector_split_by_destination_else_unknown(void **state)
{
	struct fx *f = mkfx();

	f->vc[0].k_accept[0x41] = 5;
	f->vc[1].k_accept[0x41] = 7;
	f->srcvec[VIRQ_XC_PATH_MSI][0x41] = 5;
	f->srcvec[VIRQ_XC_PATH_IOAPIC][0x41] = 7;
	f->vecpins[0x41] = 1u << 9;
	f->dst[0][0x41] = 1u << VIRQ_XC_PATH_MSI;
	f->dst[1][0x41] = 1u << VIRQ_XC_PATH_IOAPIC;
	assert_int_equal(virq_src_classify(&f->in, f->out, NULL), 0);
	assert_int_equal(f->out[0].n[VIRQ_SRC_MSI], 5);
	assert_int_equal(f->out[1].n[VIRQ_SRC_IOAPIC], 7);
	assert_int_equal(f->out[1].pin[9], 7);
	/* logical destinations: no source named an APIC ID */
	memset(f->dst, 0, sizeof(f->dst));
	assert_int_equal(virq_src_classify(&f->in, f->out, NULL), 0);
	assert_int_equal(f->out[0].n[VIRQ_SRC_UNKNOWN], 5);
	assert_int_equal(f->out[1].n[VIRQ_SRC_UNKNOWN], 7);
	free(f);
}

/* Split mode: our IOAPIC's messages are kvm_msi_set_irq to KVM; the vectors the VMM saw
 * it send are the IOAPIC's (with the pin), the device's MSI-X stays MSI. */
static void test_split_mode_ioapic_vectors_seen_as_msi(void **state)
{
	struct fx *f = mkfx();

	f->in.split_pins = f->split;
	f->vc[0].k_accept[0x24] = 20;
	f->srcvec[VIRQ_XC_PATH_MSI][0x24] = 20;
	f->split[0x24] = 1u << 4;
	f->vc[1].k_accept[0x25] = 6;
	f->srcvec[VIRQ_XC_PATH_MSI][0x25] = 6;
	f->dst[1][0x25] = 1u << VIRQ_XC_PATH_MSI;
	assert_int_equal(virq_src_classify(&f->in, f->out, NULL), 0);
	assert_int_equal(f->out[0].n[VIRQ_SRC_IOAPIC], 20);
	assert_int_equal(f->out[0].pin[4], 20);
	assert_int_equal(f->out[0].n[VIRQ_SRC_MSI], 0);
	assert_int_equal(f->out[1].n[VIRQ_SRC_MSI], 6);
	/* two pins on one vector: the IOAPIC's, of no single pin */
	f->split[0x24] |= 1u << 3;
	assert_int_equal(virq_src_classify(&f->in, f->out, NULL), 0);
	assert_int_equal(f->out[0].n[VIRQ_SRC_IOAPIC], 20);
	assert_int_equal(f->out[0].pin[4] + f->out[0].pin[3], 0);
	free(f);
}

static void test_bad_input_refused(void **state)
{
	struct fx *f = mkfx();

	assert_int_equal(virq_src_classify(NULL, f->out, NULL), -EINVAL);
	f->in.nr_vcpus = VIRQ_XC_MAX_VCPUS + 1;
	assert_int_equal(virq_src_classify(&f->in, f->out, NULL), -EINVAL);
	f->in.nr_vcpus = 0;
	assert_int_equal(virq_src_classify(&f->in, f->out, NULL), 0);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_are_closed),
		cmocka_unit_test(test_lapic_counters_map_to_classes),
		cmocka_unit_test(test_kernel_mode_accepts_by_source),
		cmocka_unit_test(test_shared_vector_split_by_destination_else_unknown),
		cmocka_unit_test(test_split_mode_ioapic_vectors_seen_as_msi),
		cmocka_unit_test(test_bad_input_refused),
	};
	return cmocka_run_group_tests_name("irqsrc", tests, NULL, NULL);
}
