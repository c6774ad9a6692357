// SPDX-License-Identifier: MIT
/* MSI decode/encode against Intel SDM Vol. 3A 11.11.1 (address) and 11.11.2 (data). */
#include "virq_test.h"
#include "virq/msi.h"
#include <errno.h>
#include <string.h>

static void test_address_must_be_in_fee_window(void **state)
{
	struct virq_irq irq;

	assert_int_equal(virq_msi_decode(0xfed00000, 0, 0x30, 0, &irq), VIRQ_MSI_BAD_ADDR_PREFIX);
	assert_int_equal(virq_msi_decode(0xfee00000, 0, 0x30, 0, &irq), VIRQ_MSI_OK);
}

static void test_destination_id_in_address_bits_19_12(void **state)
{
	struct virq_irq irq;

	assert_int_equal(virq_msi_decode(0xfeeab000, 0, 0x4031, 0, &irq), VIRQ_MSI_OK);
	assert_int_equal(irq.dest, 0xab);
	assert_int_equal(irq.vector, 0x31);
	assert_int_equal(irq.delivery_mode, VIRQ_DM_FIXED);
	assert_int_equal(irq.x2apic_dest, 0);
	assert_int_equal(irq.path, VIRQ_PATH_MSI);
}

static void test_extended_destination_id_in_address_bits_11_5(void **state)
{
	struct virq_irq irq;

	assert_int_equal(
		virq_msi_decode(0xfee34000 | 0x7f << 5, 0, 0x30, VIRQ_MSI_EXT_DEST_ID, &irq),
		VIRQ_MSI_OK);
	assert_int_equal(irq.dest, 0x7f34);
	assert_int_equal(irq.x2apic_dest, 1);
	/* without the flag those bits are reserved and ignored */
	assert_int_equal(virq_msi_decode(0xfee34000 | 0x7f << 5, 0, 0x30, 0, &irq), VIRQ_MSI_OK);
	assert_int_equal(irq.dest, 0x34);
}

static void test_x2apic_destination_from_address_hi_bits_31_8(void **state)
{
	struct virq_irq irq;

	assert_int_equal(virq_msi_decode(0xfee78000, 0x12345600, 0x30, 0, &irq),
			 VIRQ_MSI_ADDR_HI_NONZERO);
	assert_int_equal(virq_msi_decode(0xfee78000, 0x12345600, 0x30, VIRQ_MSI_X2APIC, &irq),
			 VIRQ_MSI_OK);
	assert_int_equal(irq.dest, 0x12345678);
	assert_int_equal(irq.x2apic_dest, 1);
	assert_int_equal(virq_msi_decode(0xfee78000, 0x12345601, 0x30, VIRQ_MSI_X2APIC, &irq),
			 VIRQ_MSI_ADDR_HI_RESERVED);
	assert_int_equal(virq_msi_decode(0xfee78020, 0x100, 0x30,
					 VIRQ_MSI_X2APIC | VIRQ_MSI_EXT_DEST_ID, &irq),
			 VIRQ_MSI_DEST_CONFLICT);
}

static void test_data_fields_vector_mode_level_trigger(void **state)
{
	struct virq_irq irq;

	assert_int_equal(virq_msi_decode(0xfee00000, 0, 0xc000 | 1 << 8 | 0x99, 0, &irq),
			 VIRQ_MSI_OK);
	assert_int_equal(irq.vector, 0x99);
	assert_int_equal(irq.delivery_mode, VIRQ_DM_LOWEST);
	assert_int_equal(irq.level_trig, 1);
	assert_int_equal(irq.level, 1);
	assert_int_equal(virq_msi_decode(0xfee00000, 0, 0x8000 | 0x99, 0, &irq), VIRQ_MSI_OK);
	assert_int_equal(irq.level, 0); /* level-triggered de-assert */
	/* SDM 11.11.2: edge messages are always asserts, whatever bit 14 says */
	assert_int_equal(virq_msi_decode(0xfee00000, 0, 0x99, 0, &irq), VIRQ_MSI_OK);
	assert_int_equal(irq.level, 1);
	assert_int_equal(irq.level_trig, 0);
}

static void test_reserved_delivery_modes_are_rejected(void **state)
{
	struct virq_irq irq;

	assert_int_equal(virq_msi_decode(0xfee00000, 0, 3 << 8 | 0x30, 0, &irq),
			 VIRQ_MSI_RESERVED_DM);
	assert_int_equal(virq_msi_decode(0xfee00000, 0, 6 << 8 | 0x30, 0, &irq),
			 VIRQ_MSI_RESERVED_DM);
	assert_int_equal(virq_msi_decode(0xfee00000, 0, 4 << 8, 0, &irq), VIRQ_MSI_OK);
	assert_int_equal(irq.delivery_mode, VIRQ_DM_NMI);
	assert_int_equal(virq_msi_decode(0xfee00000, 0, 7 << 8, 0, &irq), VIRQ_MSI_OK);
}

static void test_vectors_below_16_rejected_for_fixed_and_lowest(void **state)
{
	struct virq_irq irq;

	assert_int_equal(virq_msi_decode(0xfee00000, 0, 0x0f, 0, &irq), VIRQ_MSI_VECTOR_RESERVED);
	assert_int_equal(virq_msi_decode(0xfee00000, 0, 1 << 8 | 0x02, 0, &irq),
			 VIRQ_MSI_VECTOR_RESERVED);
	assert_int_equal(virq_msi_decode(0xfee00000, 0, 0x10, 0, &irq), VIRQ_MSI_OK);
	assert_int_equal(virq_msi_decode(0xfee00000, 0, 2 << 8 | 0x02, 0, &irq), VIRQ_MSI_OK);
}

static void test_redirection_hint_with_logical_destination(void **state)
{
	struct virq_irq irq;

	assert_int_equal(virq_msi_decode(0xfee0f00c, 0, 0x41, 0, &irq), VIRQ_MSI_OK);
	assert_int_equal(irq.redir_hint, 1);
	assert_int_equal(irq.dest_logical, 1);
	assert_int_equal(irq.dest, 0x0f);
	assert_int_equal(virq_msi_decode(0xfee0f008, 0, 0x41, 0, &irq), VIRQ_MSI_OK);
	assert_int_equal(irq.redir_hint, 1);
	assert_int_equal(irq.dest_logical, 0);
	/* RH=1 physical must not target 0xFF (SDM 11.11.1); logical 0xFF is a group */
	assert_int_equal(virq_msi_decode(0xfeeff008, 0, 0x41, 0, &irq), VIRQ_MSI_RH_PHYS_BROADCAST);
	assert_int_equal(virq_msi_decode(0xfeeff00c, 0, 0x41, 0, &irq), VIRQ_MSI_OK);
}

static void test_rh0_dm_honoured_by_default_and_ignored_in_literal_sdm_mode(void **state)
{
	struct virq_irq irq;

	assert_int_equal(virq_msi_decode(0xfee03004, 0, 0x41, 0, &irq), VIRQ_MSI_OK);
	assert_int_equal(irq.redir_hint, 0);
	assert_int_equal(irq.dest_logical, 1);
	assert_int_equal(virq_msi_decode(0xfee03004, 0, 0x41, VIRQ_MSI_RH0_IGNORES_DM, &irq),
			 VIRQ_MSI_OK);
	assert_int_equal(irq.dest_logical, 0);
	assert_int_equal(virq_msi_decode(0xfee0300c, 0, 0x41, VIRQ_MSI_RH0_IGNORES_DM, &irq),
			 VIRQ_MSI_OK);
	assert_int_equal(irq.dest_logical, 1);
}

static void test_encode_is_inverse_of_decode(void **state)
{
	static const struct {
		uint32_t lo, hi, data, flags;
	} msgs[] = {
		{ 0xfee12000, 0, 0x4031, 0 },
		{ 0xfee0f00c, 0, 0x4141, 0 },
		{ 0xfee34fe0, 0, 0xc099, VIRQ_MSI_EXT_DEST_ID },
		{ 0xfee78000, 0xabcdef00, 0x4400, VIRQ_MSI_X2APIC },
		{ 0xfee01004, 0, 0x8050, 0 },
	};

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct virq_irq irq, again;
		uint32_t lo, hi, data;

		assert_int_equal(
			virq_msi_decode(msgs[i].lo, msgs[i].hi, msgs[i].data, msgs[i].flags, &irq),
			VIRQ_MSI_OK);
		assert_int_equal(virq_msi_encode(&irq, msgs[i].flags, &lo, &hi, &data), 0);
		assert_int_equal(lo, msgs[i].lo);
		assert_int_equal(hi, msgs[i].hi);
		assert_int_equal(data, msgs[i].data);
		assert_int_equal(virq_msi_decode(lo, hi, data, msgs[i].flags, &again), VIRQ_MSI_OK);
		assert_memory_equal(&irq, &again, sizeof(irq));
	}
}

static void test_encode_rejects_destination_too_wide_for_format(void **state)
{
	struct virq_irq irq = { .dest = 0x100, .vector = 0x30 };
	uint32_t lo, hi, data;

	assert_int_equal(virq_msi_encode(&irq, 0, &lo, &hi, &data), -EINVAL);
	assert_int_equal(virq_msi_encode(&irq, VIRQ_MSI_EXT_DEST_ID, &lo, &hi, &data), 0);
	irq.dest = 0x8000;
	assert_int_equal(virq_msi_encode(&irq, VIRQ_MSI_EXT_DEST_ID, &lo, &hi, &data), -EINVAL);
	assert_int_equal(virq_msi_encode(&irq, VIRQ_MSI_X2APIC, &lo, &hi, &data), 0);
	irq.vector = 3;
	assert_int_equal(virq_msi_encode(&irq, VIRQ_MSI_X2APIC, &lo, &hi, &data), -EINVAL);
}

static void test_status_names_are_distinct_and_bounded(void **state)
{
	for (int i = 0; i < VIRQ_MSI_STATUS__COUNT; i++) {
		assert_string_not_equal(virq_msi_status_name(i), "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(virq_msi_status_name(i), virq_msi_status_name(j));
	}
	assert_string_equal(virq_msi_status_name(VIRQ_MSI_STATUS__COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_must_be_in_fee_window),
		cmocka_unit_test(test_destination_id_in_address_bits_19_12),
		cmocka_unit_test(test_extended_destination_id_in_address_bits_11_5),
		cmocka_unit_test(test_x2apic_destination_from_address_hi_bits_31_8),
		cmocka_unit_test(test_data_fields_vector_mode_level_trigger),
		cmocka_unit_test(test_reserved_delivery_modes_are_rejected),
		cmocka_unit_test(test_vectors_below_16_rejected_for_fixed_and_lowest),
		cmocka_unit_test(test_redirection_hint_with_logical_destination),
		cmocka_unit_test(test_rh0_dm_honoured_by_default_and_ignored_in_literal_sdm_mode),
		cmocka_unit_test(test_encode_is_inverse_of_decode),
		cmocka_unit_test(test_encode_rejects_destination_too_wide_for_format),
		cmocka_unit_test(test_status_names_are_distinct_and_bounded),
	};
	return cmocka_run_group_tests_name("msi", tests, NULL, NULL);
}
