// SPDX-License-Identifier: MIT
/*
 * Pure KVM helpers: exit names, binary-stats parsing (a synthetic KVM_GET_STATS_FD blob
 * in the kvm_stats_header/kvm_stats_desc layout of <linux/kvm.h>), the exception
 * merging rule of SDM Vol. 3A 6.15 (Tables 6-4, 6-5), the per-vCPU request bitmap and
 * the accounting of KVM_IRQ_LINE_STATUS answers.
 */
#include "virq_test.h"
#include "virq/vmm_kvm.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <sys/mman.h>

static void test_exit_names_follow_kvm_exit_numbers(void **state)
{
	assert_string_equal(virq_kvm_exit_name(KVM_EXIT_IO), "IO");
	assert_string_equal(virq_kvm_exit_name(KVM_EXIT_MMIO), "MMIO");
	assert_string_equal(virq_kvm_exit_name(KVM_EXIT_HLT), "HLT");
	assert_string_equal(virq_kvm_exit_name(KVM_EXIT_SHUTDOWN), "SHUTDOWN");
	assert_string_equal(virq_kvm_exit_name(KVM_EXIT_IRQ_WINDOW_OPEN), "IRQ_WINDOW_OPEN");
	assert_string_equal(virq_kvm_exit_name(KVM_EXIT_IOAPIC_EOI), "IOAPIC_EOI");
	assert_string_equal(virq_kvm_exit_name(KVM_EXIT_X86_RDMSR), "X86_RDMSR");
	assert_string_equal(virq_kvm_exit_name(KVM_EXIT_X86_WRMSR), "X86_WRMSR");
	assert_string_equal(virq_kvm_exit_name(KVM_EXIT_INTERNAL_ERROR), "INTERNAL_ERROR");
	assert_string_equal(virq_kvm_exit_name(KVM_EXIT_FAIL_ENTRY), "FAIL_ENTRY");
	assert_string_equal(virq_kvm_exit_name(KVM_EXIT_INTR), "INTR");
	assert_string_equal(virq_kvm_exit_name(9999), "UNKNOWN");
	for (uint32_t r = 0; r < VIRQ_EXIT_REASONS; r++)
		assert_non_null(virq_kvm_exit_name(r));
}

/* --- synthetic stats blob ------------------------------------------------------- */

#define NAME_SIZE 48
struct fake_stat {
	const char *name;
	uint32_t flags;
	uint16_t size;
	uint64_t vals[4];
};

/* Lays the blob out as KVM does: header, id string, descriptors, data. */
static size_t make_blob(unsigned char *buf, size_t cap, const struct fake_stat *st, uint32_t n)
{
	struct kvm_stats_header h = { 0 };
	size_t desc_sz = sizeof(struct kvm_stats_desc) + NAME_SIZE, data_off = 0;
	size_t off;

	memset(buf, 0, cap);
	h.name_size = NAME_SIZE;
	h.num_desc = n;
	h.id_offset = sizeof(h);
	h.desc_offset = h.id_offset + NAME_SIZE;
	h.data_offset = h.desc_offset + (uint32_t)(desc_sz * n);
	memcpy(buf, &h, sizeof(h));
	strcpy((char *)buf + h.id_offset, "kvm-1234/vcpu-0");
	for (uint32_t i = 0; i < n; i++) {
		struct kvm_stats_desc d = { 0 };

		d.flags = st[i].flags;
		d.size = st[i].size;
		d.offset = (uint32_t)data_off;
		off = h.desc_offset + i * desc_sz;
		memcpy(buf + off, &d, sizeof(d));
		strcpy((char *)buf + off + sizeof(d), st[i].name);
		memcpy(buf + h.data_offset + data_off, st[i].vals, st[i].size * 8u);
		data_off += st[i].size * 8u;
	}
	assert_true(h.data_offset + data_off <= cap);
	return h.data_offset + data_off;
}

static const struct fake_stat stats3[] = {
	{ "exits", KVM_STATS_TYPE_CUMULATIVE, 1, { 4242 } },
	{ "halt_wait_hist", KVM_STATS_TYPE_LOG_HIST | KVM_STATS_UNIT_SECONDS, 4, { 1, 2, 3, 4 } },
	{ "irq_injections", KVM_STATS_TYPE_CUMULATIVE, 1, { 77 } },
};

static void test_stats_names_and_values_come_from_descriptors(void **state)
{
	unsigned char buf[2048];
	struct virq_kvm_stat out[8];
	size_t len = make_blob(buf, sizeof(buf), stats3, 3);

	assert_int_equal(virq_kvm_stats_parse(buf, len, 5, out, 8), 3);
	assert_string_equal(out[0].name, "exits");
	assert_int_equal(out[0].value, 4242);
	assert_int_equal(out[0].vcpu, 5);
	assert_string_equal(out[1].name, "halt_wait_hist");
	assert_int_equal(out[1].value, 10); /* histogram: sum of buckets */
	assert_int_equal(out[1].flags & KVM_STATS_UNIT_MASK, KVM_STATS_UNIT_SECONDS);
	assert_string_equal(out[2].name, "irq_injections");
	assert_int_equal(out[2].value, 77);
	/* Fewer slots than stats: the count is still reported, only max are written. */
	memset(out, 0, sizeof(out));
	assert_int_equal(virq_kvm_stats_parse(buf, len, -1, out, 1), 3);
	assert_string_equal(out[0].name, "exits");
	assert_string_equal(out[1].name, "");
}

static void test_stats_parser_rejects_out_of_bounds_blobs(void **state)
{
	unsigned char buf[2048];
	struct virq_kvm_stat out[8];
	size_t len = make_blob(buf, sizeof(buf), stats3, 3);
	struct kvm_stats_header h;
	unsigned char bad[2048];

	/* Every truncation of the blob is refused, never read past. */
	for (size_t l = 0; l < len; l++)
		assert_int_equal(virq_kvm_stats_parse(buf, l, 0, out, 8), -EPROTO);
	memcpy(&h, buf, sizeof(h));

	memcpy(bad, buf, len);
	((struct kvm_stats_header *)(void *)bad)->num_desc = 1u << 30;
	assert_int_equal(virq_kvm_stats_parse(bad, len, 0, out, 8), -EPROTO);

	memcpy(bad, buf, len);
	((struct kvm_stats_header *)(void *)bad)->name_size = 0;
	assert_int_equal(virq_kvm_stats_parse(bad, len, 0, out, 8), -EPROTO);

	/* A name without its NUL inside name_size. */
	memcpy(bad, buf, len);
	memset(bad + h.desc_offset + sizeof(struct kvm_stats_desc), 'x', NAME_SIZE);
	assert_int_equal(virq_kvm_stats_parse(bad, len, 0, out, 8), -EPROTO);

	/* A descriptor whose data offset points past the end. */
	memcpy(bad, buf, len);
	((struct kvm_stats_desc *)(void *)(bad + h.desc_offset))->offset = 0xfffffff0u;
	assert_int_equal(virq_kvm_stats_parse(bad, len, 0, out, 8), -EPROTO);

	/* Unknown stat type. */
	memcpy(bad, buf, len);
	((struct kvm_stats_desc *)(void *)(bad + h.desc_offset))->flags = 0xf;
	assert_int_equal(virq_kvm_stats_parse(bad, len, 0, out, 8), -EPROTO);

	assert_int_equal(virq_kvm_stats_parse(NULL, len, 0, out, 8), -EINVAL);
}

static void test_stats_fd_is_read_to_eof(void **state)
{
	unsigned char buf[2048];
	struct virq_kvm_stat out[8];
	size_t len = make_blob(buf, sizeof(buf), stats3, 3);
	int fd = memfd_create("stats", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(virq_kvm_stats_read_fd(fd, 2, out, 8), 3);
	assert_int_equal(out[2].value, 77);
	assert_int_equal(out[2].vcpu, 2);
	close(fd);
	assert_int_equal(virq_kvm_stats_read_fd(-1, 0, out, 8), -EBADF);
}

/* --- SDM 6.15 ------------------------------------------------------------------- */

static void test_exception_classes_follow_table_6_4(void **state)
{
	const uint8_t contributory[] = { 0, 10, 11, 12, 13 };
	const uint8_t benign[] = { 1, 2, 3, 4, 5, 6, 7, 9, 16, 17, 18, 19, 32, 255 };

	for (size_t i = 0; i < sizeof(contributory); i++)
		assert_int_equal(virq_exc_class(contributory[i]), VIRQ_EXC_CONTRIBUTORY);
	for (size_t i = 0; i < sizeof(benign); i++)
		assert_int_equal(virq_exc_class(benign[i]), VIRQ_EXC_BENIGN);
	assert_int_equal(virq_exc_class(14), VIRQ_EXC_PAGE_FAULT);
	assert_int_equal(virq_exc_class(20), VIRQ_EXC_PAGE_FAULT);
	assert_int_equal(virq_exc_class(8), VIRQ_EXC_DOUBLE);
}

static void test_double_fault_conditions_follow_table_6_5(void **state)
{
	/* Benign first: always serial. */
	assert_int_equal(virq_exc_merge(1, 13), VIRQ_EXC_SERIAL);
	assert_int_equal(virq_exc_merge(2, 14), VIRQ_EXC_SERIAL);
	assert_int_equal(virq_exc_merge(6, 0), VIRQ_EXC_SERIAL);
	/* Contributory first. */
	assert_int_equal(virq_exc_merge(13, 13), VIRQ_EXC_TO_DF);
	assert_int_equal(virq_exc_merge(0, 11), VIRQ_EXC_TO_DF);
	assert_int_equal(virq_exc_merge(12, 14), VIRQ_EXC_SERIAL);
	assert_int_equal(virq_exc_merge(13, 6), VIRQ_EXC_SERIAL);
	/* Page fault first. */
	assert_int_equal(virq_exc_merge(14, 14), VIRQ_EXC_TO_DF);
	assert_int_equal(virq_exc_merge(14, 13), VIRQ_EXC_TO_DF);
	assert_int_equal(virq_exc_merge(14, 1), VIRQ_EXC_SERIAL);
	/* #DF first: contributory or page fault -> shutdown (triple fault). */
	assert_int_equal(virq_exc_merge(8, 13), VIRQ_EXC_SHUTDOWN);
	assert_int_equal(virq_exc_merge(8, 14), VIRQ_EXC_SHUTDOWN);
	assert_int_equal(virq_exc_merge(8, 8), VIRQ_EXC_SHUTDOWN);
	assert_int_equal(virq_exc_merge(8, 3), VIRQ_EXC_SERIAL);
	/* Exhaustive: the outcome depends only on the two classes. */
	for (int a = 0; a < 32; a++)
		for (int b = 0; b < 32; b++) {
			enum virq_exc_class ca = virq_exc_class((uint8_t)a),
					    cb = virq_exc_class((uint8_t)b);
			enum virq_exc_outcome o = virq_exc_merge((uint8_t)a, (uint8_t)b);

			if (ca == VIRQ_EXC_BENIGN || cb == VIRQ_EXC_BENIGN)
				assert_int_equal(o, VIRQ_EXC_SERIAL);
			if (o == VIRQ_EXC_SHUTDOWN)
				assert_int_equal(a, 8);
		}
}

/* --- requests ------------------------------------------------------------------- */

static void test_request_bits_set_once_and_are_taken_atomically(void **state)
{
	struct virq_reqs r = { 0 };
	uint32_t got;

	assert_true(virq_req_set(&r, VIRQ_REQ_EVENT));
	assert_false(virq_req_set(&r, VIRQ_REQ_EVENT)); /* already pending: coalesced */
	assert_true(virq_req_set(&r, VIRQ_REQ_NMI));
	assert_true(virq_req_set(&r, VIRQ_REQ_STOP));
	assert_true(virq_req_test(&r, VIRQ_REQ_NMI));
	assert_true(virq_req_test_clear(&r, VIRQ_REQ_NMI));
	assert_false(virq_req_test_clear(&r, VIRQ_REQ_NMI));
	/* STOP is kept when asked to keep it. */
	got = virq_req_take(&r, 1u << VIRQ_REQ_STOP);
	assert_int_equal(got, 1u << VIRQ_REQ_EVENT);
	assert_true(virq_req_test(&r, VIRQ_REQ_STOP));
	assert_int_equal(virq_req_take(&r, 0), 1u << VIRQ_REQ_STOP);
	assert_int_equal(virq_req_take(&r, 0), 0);
	assert_string_equal(virq_req_name(VIRQ_REQ_SIPI), "sipi");
	assert_string_equal(virq_req_name(VIRQ_REQ__COUNT), "unknown");
}

#define SETTERS 4
#define ROUNDS 100000
static struct virq_reqs shared_reqs;
static _Atomic uint64_t newly_set;

static void *setter(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++)
		if (virq_req_set(&shared_reqs, VIRQ_REQ_EVENT))
			atomic_fetch_add(&newly_set, 1);
	return NULL;
}

/* Every 0->1 transition is seen by exactly one setter and taken by exactly one take:
 * the bookkeeping a poster needs to kick only on a new request. */
static void test_request_set_and_take_race_free(void **state)
{
	pthread_t t[SETTERS];
	uint64_t taken = 0;
	bool done = false;

	for (int i = 0; i < SETTERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, setter, NULL), 0);
	while (!done) {
		taken += !!virq_req_take(&shared_reqs, 0);
		done = atomic_load(&newly_set) >= 1 && taken >= atomic_load(&newly_set);
		if (done) {
			for (int i = 0; i < SETTERS; i++)
				pthread_join(t[i], NULL);
			taken += !!virq_req_take(&shared_reqs, 0);
		}
	}
	assert_int_equal(taken, atomic_load(&newly_set));
}

/* --- KVM_IRQ_LINE_STATUS --------------------------------------------------------- */

static void test_line_status_follows_kvm_set_irq_convention(void **state)
{
	assert_int_equal(virq_line_status_classify(0, 1), VIRQ_LS_DELIVERED);
	assert_int_equal(virq_line_status_classify(0, 3), VIRQ_LS_DELIVERED);
	assert_int_equal(virq_line_status_classify(0, 0), VIRQ_LS_COALESCED);
	assert_int_equal(virq_line_status_classify(0, -1), VIRQ_LS_IGNORED);
	assert_int_equal(virq_line_status_classify(-EINVAL, 1), VIRQ_LS_ERROR);
	assert_int_equal(virq_line_status_result(0, 2), 2);
	assert_int_equal(virq_line_status_result(0, 0), VIRQ_RES_COALESCED);
	assert_int_equal(virq_line_status_result(0, -1), -ENODEV);
	assert_int_equal(virq_line_status_result(-EFAULT, 5), -EFAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_names_follow_kvm_exit_numbers),
		cmocka_unit_test(test_stats_names_and_values_come_from_descriptors),
		cmocka_unit_test(test_stats_parser_rejects_out_of_bounds_blobs),
		cmocka_unit_test(test_stats_fd_is_read_to_eof),
		cmocka_unit_test(test_exception_classes_follow_table_6_4),
		cmocka_unit_test(test_double_fault_conditions_follow_table_6_5),
		cmocka_unit_test(test_request_bits_set_once_and_are_taken_atomically),
		cmocka_unit_test(test_request_set_and_take_race_free),
		cmocka_unit_test(test_line_status_follows_kvm_set_irq_convention),
	};
	return cmocka_run_group_tests_name("vmm_kvm", tests, NULL, NULL);
}
