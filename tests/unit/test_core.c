// SPDX-License-Identifier: MIT
/* Unit tests of virqd's core pieces that need no daemon: the vector -> path map that feeds
 * the cross-check (daemon/core/vecmap.c) and the worker jobs (daemon/core/jobs.c). */
#include "virq_test.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "virq/vmm_guest.h"
#include "../../daemon/core/jobs.h"
#include "../../daemon/core/vecmap.h"

static struct virq_vm_config cfg_of(enum virq_irqchip_mode m, bool posted)
{
	struct virq_vm_config c = { .nr_vcpus = 2, .irqchip = m, .posted = posted };

	return c;
}

static bool level_bit(const struct virqd_vecmap *m, unsigned int v)
{
	return (m->level[v / 64] >> (v % 64)) & 1;
}

static void test_vecmap_paths_from_messages(void **state)
{
	struct virq_vm_config cfg = cfg_of(VIRQ_IRQCHIP_KERNEL, true);
	struct virqd_vecmap m;

	virqd_vecmap_init(&m, &cfg);
	for (int v = 0; v < 256; v++)
		assert_int_equal(m.path[v], VIRQ_XC_PATH_NONE);
	virqd_vecmap_msi(&m, 0xfee01000, 0x41); /* fixed */
	virqd_vecmap_msi(&m, 0xfee00000, 0x142); /* lowest priority */
	virqd_vecmap_msi(&m, 0xfee00000, (4u << 8) | 0x99); /* NMI: taken on vector 2 */
	virqd_vecmap_msi(&m, 0xfee00000, (5u << 8) | 0x33); /* INIT: no vector */
	virqd_vecmap_icr(&m, 0x60); /* fixed IPI */
	virqd_vecmap_icr(&m, (6u << 8) | 0x0f); /* SIPI: no vector */
	assert_int_equal(m.path[0x41], VIRQ_XC_PATH_MSI);
	assert_int_equal(m.path[0x42], VIRQ_XC_PATH_MSI);
	assert_int_equal(m.path[2], VIRQ_XC_PATH_NMI);
	assert_int_equal(m.path[0x99], VIRQ_XC_PATH_NONE);
	assert_int_equal(m.path[0x33], VIRQ_XC_PATH_NONE);
	assert_int_equal(m.path[0x0f], VIRQ_XC_PATH_NONE);
	assert_int_equal(m.path[0x60], VIRQ_XC_PATH_IPI);
	assert_int_equal(m.conflicts, 0);

	/* A user-mode VM with posted descriptors posts its fixed MSIs. */
	cfg = cfg_of(VIRQ_IRQCHIP_USER, true);
	virqd_vecmap_init(&m, &cfg);
	virqd_vecmap_msi(&m, 0xfee00000, 0x50);
	assert_int_equal(m.path[0x50], VIRQ_XC_PATH_POSTED);
	/* ... but not what its VMM delivers through the APIC bus (vmm.h, user mode). */
	virqd_vecmap_msi(&m, 0xfee01004, 0x51); /* logical destination */
	virqd_vecmap_msi(&m, 0xfeeff000, 0x52); /* broadcast */
	virqd_vecmap_msi(&m, 0xfee01000, 0x8053); /* level */
	virqd_vecmap_msi(&m, 0xfee01000, 0x154); /* lowest priority */
	for (int v = 0x51; v <= 0x54; v++)
		assert_int_equal(m.path[v], VIRQ_XC_PATH_MSI);
	cfg = cfg_of(VIRQ_IRQCHIP_USER, false);
	virqd_vecmap_init(&m, &cfg);
	virqd_vecmap_msi(&m, 0xfee00000, 0x50);
	assert_int_equal(m.path[0x50], VIRQ_XC_PATH_MSI);
}

static void test_vecmap_gsi_follows_the_routing_the_guest_was_given(void **state)
{
	struct virq_vm_config cfg = cfg_of(VIRQ_IRQCHIP_KERNEL, false);
	struct virq_action acts[6] = {
		{ .kind = VIRQ_ACT_GSI, .gsi = 10, .op = VIRQ_GSI_PULSE }, /* nothing unmasked */
		{ .kind = VIRQ_ACT_IOAPIC, .gsi = 10, .vector = 0x70, .level = 1 },
		{ .kind = VIRQ_ACT_GSI, .gsi = 10, .op = VIRQ_GSI_ASSERT },
		{ .kind = VIRQ_ACT_PIC, .arg0 = 0x30, .arg1 = 0xfff7 }, /* pin 3 unmasked */
		{ .kind = VIRQ_ACT_GSI, .gsi = 3, .op = VIRQ_GSI_PULSE },
		{ .kind = VIRQ_ACT_GSI, .gsi = 4, .op = VIRQ_GSI_PULSE }, /* masked on both */
	};
	struct virq_scenario s = { .nr_actions = 6, .actions = acts };
	struct virqd_vecmap m;

	virqd_vecmap_init(&m, &cfg);
	virqd_vecmap_scenario(&m, &s);
	assert_int_equal(m.path[0x70], VIRQ_XC_PATH_IOAPIC);
	assert_true(level_bit(&m, 0x70));
	assert_int_equal(m.path[0x33], VIRQ_XC_PATH_PIC);
	assert_false(level_bit(&m, 0x33));
	assert_int_equal(m.path[0x34], VIRQ_XC_PATH_NONE);
	assert_int_equal(m.unrouted_gsi, 2); /* gsi 10 before its RTE, gsi 4 */

	/* The same through raw mailbox commands (the "guest" action), then a mask. */
	virqd_vecmap_init(&m, &cfg);
	{
		struct virq_action g[3] = {
			{ .kind = VIRQ_ACT_GUEST,
			  .cmd = VIRQ_MBOX_IOAPIC_WRITE,
			  .arg0 = 0x10 + 2 * 5,
			  .arg1 = 0x81 },
			{ .kind = VIRQ_ACT_GSI, .gsi = 5, .op = VIRQ_GSI_PULSE },
			{ .kind = VIRQ_ACT_GUEST,
			  .cmd = VIRQ_MBOX_IOAPIC_WRITE,
			  .arg0 = 0x10 + 2 * 5,
			  .arg1 = 0x81 | (1u << 16) },
		};
		struct virq_scenario s2 = { .nr_actions = 3, .actions = g };

		virqd_vecmap_scenario(&m, &s2);
	}
	assert_int_equal(m.path[0x81], VIRQ_XC_PATH_IOAPIC);
	virqd_vecmap_gsi(&m, 5); /* now masked */
	assert_int_equal(m.unrouted_gsi, 1);
	virqd_vecmap_gsi(&m, 99);
	assert_int_equal(m.unrouted_gsi, 2);
}

static void test_vecmap_conflict_is_reported_not_guessed(void **state)
{
	struct virq_vm_config cfg = cfg_of(VIRQ_IRQCHIP_KERNEL, false);
	struct virq_xcheck_vm xv;
	struct virqd_vecmap m;
	uint8_t p1 = 0, p2 = 0;

	virqd_vecmap_init(&m, &cfg);
	assert_int_equal(virqd_vecmap_note(&m, 0x41, VIRQ_XC_PATH_MSI, false), 0);
	assert_int_equal(virqd_vecmap_note(&m, 0x41, VIRQ_XC_PATH_MSI, false), 0);
	assert_int_equal(virqd_vecmap_note(&m, 0x42, VIRQ_XC_PATH_MSI, false), 0);
	assert_int_equal(virqd_vecmap_note(&m, 0x60, VIRQ_XC_PATH_IPI, false), 0);
	assert_int_equal(virqd_vecmap_note(&m, 0x61, VIRQ_XC_PATH_IPI, false), 0);
	assert_int_equal(virqd_vecmap_note(&m, 0x90, VIRQ_XC_PATH_TIMER, false), 0);
	assert_int_equal(virqd_vecmap_note(&m, 0x41, VIRQ_XC_PATH_IPI, false), -EEXIST);
	assert_int_equal(virqd_vecmap_note(&m, 0x41, VIRQ_XC_PATH_IPI, false), -EEXIST);
	assert_int_equal(virqd_vecmap_note(&m, 0x41, VIRQ_XC_PATH_MSI, false), -EEXIST);
	assert_int_equal(virqd_vecmap_note(&m, 256, VIRQ_XC_PATH_MSI, false), -EINVAL);
	assert_int_equal(virqd_vecmap_note(&m, 1, VIRQ_XC_PATH__COUNT, false), -EINVAL);
	assert_int_equal(m.conflicts, 1);
	assert_int_equal(virqd_vecmap_conflict(&m, 0, &p1, &p2), 0x41);
	assert_int_equal(p1, VIRQ_XC_PATH_MSI);
	assert_int_equal(p2, VIRQ_XC_PATH_IPI);
	assert_int_equal(virqd_vecmap_conflict(&m, 1, NULL, NULL), -1);

	/* Both paths of the conflict fall back to per-vector "vm" judging; others keep theirs;
	 * vectors never seen are left alone. */
	virq_xcheck_vm_init(&xv);
	virqd_vecmap_apply(&m, &xv);
	assert_int_equal(xv.vector_path[0x41], VIRQ_XC_PATH_VM);
	assert_int_equal(xv.vector_path[0x42], VIRQ_XC_PATH_VM);
	assert_int_equal(xv.vector_path[0x60], VIRQ_XC_PATH_VM);
	assert_int_equal(xv.vector_path[0x61], VIRQ_XC_PATH_VM);
	assert_int_equal(xv.vector_path[0x90], VIRQ_XC_PATH_TIMER);
	assert_int_equal(xv.vector_path[0x91], VIRQ_XC_PATH_NONE);
}

static void test_vecmap_default_scenario_shape_gets_per_path_vectors(void **state)
{
	struct virq_vm_config cfg = cfg_of(VIRQ_IRQCHIP_KERNEL, false);
	struct virq_action acts[4] = {
		{ .kind = VIRQ_ACT_MSI, .addr = 0xfee00000, .data = 0x40, .repeat = 200 },
		{ .kind = VIRQ_ACT_MSI, .addr = 0xfee01000, .data = 0x41, .repeat = 200 },
		{ .kind = VIRQ_ACT_IPI, .addr = (1ull << 56) | 0x60, .repeat = 50 },
		{ .kind = VIRQ_ACT_TIMER, .vector = 0xa0, .data = 1000 },
	};
	struct virq_scenario s = { .nr_actions = 4, .actions = acts };
	struct virq_xcheck_vm xv;
	struct virqd_vecmap m;

	virqd_vecmap_init(&m, &cfg);
	virqd_vecmap_scenario(&m, &s);
	virq_xcheck_vm_init(&xv);
	virqd_vecmap_apply(&m, &xv);
	assert_int_equal(xv.vector_path[0x40], VIRQ_XC_PATH_MSI);
	assert_int_equal(xv.vector_path[0x41], VIRQ_XC_PATH_MSI);
	assert_int_equal(xv.vector_path[0x60], VIRQ_XC_PATH_IPI);
	assert_int_equal(xv.vector_path[0xa0], VIRQ_XC_PATH_TIMER);
	assert_int_equal(m.conflicts, 0);
}

/* ---- jobs --------------------------------------------------------------------------- */

struct tjob {
	struct virqd_job job;
	atomic_bool release;
	atomic_int ran;
	int done;
	bool on_worker;
	pthread_t loop;
};

static void tjob_work(struct virqd_job *j)
{
	struct tjob *t = (struct tjob *)j;

	t->on_worker = !pthread_equal(pthread_self(), t->loop);
	while (!atomic_load(&t->release))
		usleep(1000);
	atomic_fetch_add(&t->ran, 1);
}

static void tjob_done(struct virqd_job *j)
{
	struct tjob *t = (struct tjob *)j;

	assert_true(pthread_equal(pthread_self(), t->loop)); /* done() on the loop thread */
	t->done++;
}

static void tjob_init(struct tjob *t, unsigned int key)
{
	memset(t, 0, sizeof(*t));
	t->job.key = key;
	t->job.work = tjob_work;
	t->job.done = tjob_done;
	t->loop = pthread_self();
}

static void test_jobs_bound_key_busy_and_reap_on_loop_thread(void **state)
{
	struct virqd_jobs js;
	struct tjob a, b, c, a2;

	assert_int_equal(virqd_jobs_init(&js, 2), 0);
	tjob_init(&a, 1);
	tjob_init(&b, 2);
	tjob_init(&c, 3);
	tjob_init(&a2, 1);
	assert_int_equal(virqd_job_start(&js, &a.job), 0);
	assert_true(virqd_jobs_key_busy(&js, 1));
	assert_false(virqd_jobs_key_busy(&js, 0));
	assert_int_equal(virqd_job_start(&js, &a2.job), -EALREADY); /* same VM */
	assert_int_equal(virqd_job_start(&js, &b.job), 0);
	assert_int_equal(virqd_job_start(&js, &c.job), -EBUSY); /* bound */
	assert_int_equal(js.running, 2);
	assert_int_equal(js.refused_key, 1);
	assert_int_equal(js.refused_limit, 1);
	assert_int_equal(virqd_jobs_reap(&js), 0); /* nothing finished */
	assert_int_equal(a.done + b.done, 0);

	atomic_store(&a.release, true);
	{
		struct pollfd pfd = { .fd = js.efd, .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, 5000), 1); /* the worker woke the loop */
	}
	assert_int_equal(virqd_jobs_reap(&js), 1);
	assert_int_equal(a.done, 1);
	assert_true(a.on_worker);
	assert_false(virqd_jobs_key_busy(&js, 1));
	/* A drain that times out reports what still runs and leaves it alone. */
	assert_int_equal(virqd_jobs_drain(&js, 50), 1);
	assert_int_equal(b.done, 0);
	atomic_store(&b.release, true);
	assert_int_equal(virqd_jobs_drain(&js, 5000), 0);
	assert_int_equal(b.done, 1);
	assert_int_equal(js.started, 2);
	assert_int_equal(js.completed, 2);
	/* Invalid jobs are refused before anything starts. */
	c.job.work = NULL;
	assert_int_equal(virqd_job_start(&js, &c.job), -EINVAL);
	virqd_jobs_set_max(&js, 0);
	assert_int_equal(js.max, 1);
	virqd_jobs_fini(&js);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vecmap_paths_from_messages),
		cmocka_unit_test(test_vecmap_gsi_follows_the_routing_the_guest_was_given),
		cmocka_unit_test(test_vecmap_conflict_is_reported_not_guessed),
		cmocka_unit_test(test_vecmap_default_scenario_shape_gets_per_path_vectors),
		cmocka_unit_test(test_jobs_bound_key_busy_and_reap_on_loop_thread),
	};

	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
