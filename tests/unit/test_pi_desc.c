// SPDX-License-Identifier: MIT
/*
 * Posted-interrupt descriptor, single-threaded rules (SDM Vol. 3C 30.6; VT-d 9.12 for SN,
 * NV, NDST): layout, post/notify/coalesce, sync order and suppress-notification.
 */
#include "virq_test.h"

#include <stddef.h>
#include <string.h>

#include "virq/pi_desc.h"

/* Layout: PIR bytes 0-31, ON bit 256, SN bit 257, NV bits 279:272, NDST bits 319:288. */
static void test_descriptor_layout_matches_vtx_bit_positions(void **state)
{
	struct virq_pi pi;
	const uint8_t *b = (const uint8_t *)&pi.desc;

	assert_int_equal(sizeof(struct virq_pi_desc), 64);
	assert_int_equal(_Alignof(struct virq_pi_desc), 64);
	assert_int_equal(offsetof(struct virq_pi_desc, control), 32);
	virq_pi_init(&pi, 0xF2, 0x12345678);
	assert_int_equal(b[272 / 8], 0xF2); /* NV at bit 272 */
	assert_int_equal(b[288 / 8], 0x78); /* NDST at bit 288, little endian */
	assert_int_equal(b[291 / 8 + 3], 0x12);
	virq_pi_post(&pi, 0x41);
	assert_int_equal(b[0x41 / 8], 1u << (0x41 % 8)); /* PIR bit = vector */
	assert_int_equal(b[256 / 8] & 1, 1); /* ON = bit 256 */
	virq_pi_set_sn(&pi);
	assert_int_equal(b[257 / 8] & 2, 2); /* SN = bit 257 */
	virq_pi_set_target(&pi, 0xEC, 7);
	assert_int_equal(virq_pi_control(&pi) >> VIRQ_PI_CTL_NDST_SHIFT, 7);
	assert_int_equal((virq_pi_control(&pi) & VIRQ_PI_CTL_NV_MASK) >> 16, 0xEC);
	assert_true(virq_pi_control(&pi) & (VIRQ_PI_CTL_ON | VIRQ_PI_CTL_SN));
}

/* Notify only on ON 0 -> 1; a vector already in PIR is reported coalesced. */
static void test_post_notifies_once_per_outstanding_notification(void **state)
{
	struct virq_pi pi;
	uint32_t irr[8] = { 0 };
	struct virq_pi_stats s;

	virq_pi_init(&pi, 0xF2, 0);
	assert_int_equal(virq_pi_post(&pi, 0x30), VIRQ_PI_NOTIFY);
	assert_int_equal(virq_pi_post(&pi, 0x31), 0);
	assert_int_equal(virq_pi_post(&pi, 0x30), VIRQ_PI_COALESCED);
	assert_int_equal(virq_pi_post(&pi, 0xFF), 0);
	assert_int_equal(virq_pi_sync(&pi, irr), 3);
	assert_int_equal(irr[1], 3u << 16);
	assert_int_equal(irr[7], 1u << 31);
	assert_true(virq_pi_pir_empty(&pi));
	assert_false(virq_pi_control(&pi) & VIRQ_PI_CTL_ON);
	assert_int_equal(virq_pi_post(&pi, 0x30), VIRQ_PI_NOTIFY); /* ON was cleared */
	assert_int_equal(virq_pi_sync(&pi, irr), 1); /* merged into an already-set IRR bit */
	assert_int_equal(virq_pi_sync(&pi, irr), 0);
	virq_pi_stats(&pi, &s);
	assert_int_equal(s.posted, 5);
	assert_int_equal(s.coalesced, 1);
	assert_int_equal(s.notified, 2);
	assert_int_equal(s.syncs, 3);
	assert_int_equal(s.merged, 4);
	assert_int_equal(s.posted, s.merged + s.coalesced);
}

/* SN: posts are recorded and ON set silently; clearing SN reports pending work. */
static void test_suppress_notification_records_and_reports_on_clear(void **state)
{
	struct virq_pi pi;
	uint32_t irr[8] = { 0 };
	struct virq_pi_stats s;

	virq_pi_init(&pi, 0xF2, 0);
	virq_pi_set_sn(&pi);
	assert_int_equal(virq_pi_post(&pi, 0x50), 0);
	assert_int_equal(virq_pi_post(&pi, 0x51), 0);
	assert_true(virq_pi_clear_sn(&pi)); /* owner must sync */
	assert_int_equal(virq_pi_post(&pi, 0x52), 0); /* ON still set: no second notify */
	assert_int_equal(virq_pi_sync(&pi, irr), 3);
	assert_false(virq_pi_clear_sn(&pi));
	virq_pi_stats(&pi, &s);
	assert_int_equal(s.suppressed, 1);
	assert_int_equal(s.notified, 0);
	assert_int_equal(irr[2], 7u << 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor_layout_matches_vtx_bit_positions),
		cmocka_unit_test(test_post_notifies_once_per_outstanding_notification),
		cmocka_unit_test(test_suppress_notification_records_and_reports_on_clear),
	};
	return cmocka_run_group_tests_name("pi_desc", tests, NULL, NULL);
}
