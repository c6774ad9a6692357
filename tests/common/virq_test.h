/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by virq's cmocka tests.
 *
 * VIRQ_REQUIRE_KVM() / VIRQ_REQUIRE_BPF() skip a test with a printed reason when the
 * device or the privilege is truly missing (the KVM selftests' TEST_REQUIRE). They fail
 * instead when the resource exists but cannot be used: a broken setup must not pass as
 * a skip. tests/run.sh turns any skip into a failure under CI=true when /dev/kvm exists.
 */
#ifndef VIRQ_TEST_H
#define VIRQ_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdbool.h>
#include <cmocka.h>

/* Returns NULL when usable, else a static reason string. */
const char *virq_test_kvm_missing(void);
const char *virq_test_bpf_missing(void);

#define VIRQ_SKIP(reason)                                       \
	do {                                                    \
		print_message("# SKIP reason: %s\n", (reason)); \
		skip();                                         \
	} while (0)

#define VIRQ_REQUIRE_KVM()                                  \
	do {                                                \
		const char *why_ = virq_test_kvm_missing(); \
		if (why_)                                   \
			VIRQ_SKIP(why_);                    \
	} while (0)

#define VIRQ_REQUIRE_BPF()                                  \
	do {                                                \
		const char *why_ = virq_test_bpf_missing(); \
		if (why_)                                   \
			VIRQ_SKIP(why_);                    \
	} while (0)

/*
 * cmocka_run_group_tests for the slow KVM layers: stdout line-buffered (a program killed by
 * a timeout still shows how far it got), VIRQ_TEST_FILTER="a,b" runs only the tests whose
 * names contain a or b, VIRQ_TEST_WATCHDOG=N prints every thread's state and kernel stack
 * every N seconds (a hang under an emulated KVM shows its place).
 */
int virq_test_run_group(const char *name, const struct CMUnitTest *tests, size_t n);

/* Path of a built program, e.g. virq_test_bin("bin/virqd"). Static buffer. */
const char *virq_test_bin(const char *rel);

#endif
