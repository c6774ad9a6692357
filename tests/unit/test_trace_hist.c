// SPDX-License-Identifier: MIT
/* Log2 histogram bucket math (the userspace mirror of bpf/virq_trace.bpf.c log2_slot). */
#include <string.h>

#include "virq/trace.h"
#include "virq_test.h"

static void test_slot_is_floor_log2_with_0_and_1_in_slot_0(void **state)
{
	unsigned int i;

	assert_int_equal(virq_trace_hist_slot(0), 0);
	assert_int_equal(virq_trace_hist_slot(1), 0);
	assert_int_equal(virq_trace_hist_slot(2), 1);
	assert_int_equal(virq_trace_hist_slot(3), 1);
	assert_int_equal(virq_trace_hist_slot(1000), 9);
	assert_int_equal(virq_trace_hist_slot(1024), 10);
	for (i = 1; i < VIRQ_TRACE_HIST_SLOTS; i++) {
		assert_int_equal(virq_trace_hist_slot(1ull << i), i);
		assert_int_equal(virq_trace_hist_slot((1ull << i) - 1), i - 1);
		assert_int_equal(virq_trace_hist_slot_low(i), 1ull << i);
	}
}

static void test_slot_saturates_at_the_last_slot(void **state)
{
	assert_int_equal(virq_trace_hist_slot(1ull << 45), VIRQ_TRACE_HIST_SLOTS - 1);
	assert_int_equal(virq_trace_hist_slot(UINT64_MAX), VIRQ_TRACE_HIST_SLOTS - 1);
}

static void test_quantile_is_upper_bound_of_the_slot_reached(void **state)
{
	struct virq_trace_hist_val v;

	memset(&v, 0, sizeof(v));
	assert_int_equal(virq_trace_hist_quantile(&v, 0.5), 0);
	v.slots[10] = 90; /* [1024, 2048) */
	v.slots[20] = 10; /* [1 Mi, 2 Mi) */
	assert_int_equal(virq_trace_hist_quantile(&v, 0.5), 2047);
	assert_int_equal(virq_trace_hist_quantile(&v, 0.90), 2047);
	assert_int_equal(virq_trace_hist_quantile(&v, 0.91), (2ull << 20) - 1);
	assert_int_equal(virq_trace_hist_quantile(&v, 1.0), (2ull << 20) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_is_floor_log2_with_0_and_1_in_slot_0),
		cmocka_unit_test(test_slot_saturates_at_the_last_slot),
		cmocka_unit_test(test_quantile_is_upper_bound_of_the_slot_reached),
	};

	return cmocka_run_group_tests_name("unit/trace_hist", tests, NULL, NULL);
}
