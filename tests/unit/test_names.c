// SPDX-License-Identifier: MIT
/* The shared name tables of include/virq/irq.h. */
#include "virq_test.h"
#include "virq/irq.h"
#include <string.h>

static void test_path_names_are_distinct_and_bounded(void **state)
{
	for (int i = 0; i < VIRQ_PATH__COUNT; i++) {
		assert_string_not_equal(virq_path_name(i), "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(virq_path_name(i), virq_path_name(j));
	}
	assert_string_equal(virq_path_name(VIRQ_PATH__COUNT), "unknown");
	assert_string_equal(virq_path_name((enum virq_path) - 1), "unknown");
}

/* SDM Vol. 3A 11.6.1: delivery-mode encodings 000b..111b. */
static void test_delivery_mode_names_follow_icr_encoding(void **state)
{
	assert_string_equal(virq_dm_name(VIRQ_DM_FIXED), "fixed");
	assert_string_equal(virq_dm_name(VIRQ_DM_NMI), "nmi");
	assert_string_equal(virq_dm_name(VIRQ_DM_STARTUP), "startup");
	assert_string_equal(virq_dm_name(VIRQ_DM_EXTINT), "extint");
	assert_string_equal(virq_dm_name(8), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_names_are_distinct_and_bounded),
		cmocka_unit_test(test_delivery_mode_names_follow_icr_encoding),
	};
	return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
