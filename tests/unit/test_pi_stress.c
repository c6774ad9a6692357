// SPDX-License-Identifier: MIT
/*
 * Posted-interrupt descriptor under contention: several poster threads, one owner that
 * syncs ONLY when notified (a doorbell rung by the poster that saw ON go 0 -> 1). If the
 * ON/PIR protocol ever lost a notification, a vector would be left in PIR with nobody
 * coming for it and the exact totals below would not add up. Runs under TSan in
 * `make tsan`. VIRQ_PI_STRESS_POSTS sets the posts per thread (default 1,000,000; 100,000
 * under VIRQ_TSAN).
 */
#include "virq_test.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "virq/pi_desc.h"

#define POSTERS 4

struct stress {
	struct virq_pi pi;
	unsigned long posts_per_thread;
	bool toggle_sn;
	unsigned long doorbell; /* atomic: notifications sent */
	unsigned int posters_done; /* atomic */
	uint64_t posted[POSTERS][256], coalesced[POSTERS][256];
	uint64_t taken[256]; /* consumer only */
	uint64_t syncs_by_doorbell;
};

struct poster_arg {
	struct stress *s;
	unsigned int id;
};

static void *poster(void *p)
{
	struct poster_arg *a = p;
	struct stress *s = a->s;
	unsigned int seed = 0x9E3779B9u * (a->id + 1);

	for (unsigned long i = 0; i < s->posts_per_thread; i++) {
		/* Few distinct vectors so posts collide in PIR often. */
		uint8_t v = 32 + rand_r(&seed) % 64;
		int r = virq_pi_post(&s->pi, v);

		s->posted[a->id][v]++;
		if (r & VIRQ_PI_COALESCED)
			s->coalesced[a->id][v]++;
		if (r & VIRQ_PI_NOTIFY)
			__atomic_fetch_add(&s->doorbell, 1, __ATOMIC_RELEASE);
		/* Two cores here: let the owner run between bursts so syncs interleave. */
		if ((i & 255) == 255)
			sched_yield();
	}
	__atomic_fetch_add(&s->posters_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void consume(struct stress *s, uint32_t irr[8])
{
	virq_pi_sync(&s->pi, irr);
	for (unsigned int w = 0; w < 8; w++)
		while (irr[w]) {
			unsigned int b = (unsigned int)__builtin_ctz(irr[w]);

			s->taken[w * 32 + b]++;
			irr[w] &= irr[w] - 1;
		}
}

static void *consumer(void *p)
{
	struct stress *s = p;
	unsigned long seen = 0;
	uint32_t irr[8] = { 0 };
	unsigned int iter = 0, idle = 0;

	for (;;) {
		unsigned long bell = __atomic_load_n(&s->doorbell, __ATOMIC_ACQUIRE);
		unsigned int done = __atomic_load_n(&s->posters_done, __ATOMIC_ACQUIRE);

		if (bell != seen) {
			idle = 0;
			seen = bell;
			s->syncs_by_doorbell++;
			consume(s, irr);
		} else if (done == POSTERS &&
			   __atomic_load_n(&s->doorbell, __ATOMIC_ACQUIRE) == seen) {
			break;
		} else if (++idle % 64 == 0) {
			sched_yield();
		}
		/* Now and then "deschedule": SN on, later off; clear_sn tells us whether a
		 * post went un-notified meanwhile, which we then handle like a doorbell. */
		if (s->toggle_sn && (++iter % 64) == 0) {
			virq_pi_set_sn(&s->pi);
			sched_yield();
			if (virq_pi_clear_sn(&s->pi))
				consume(s, irr);
		}
	}
	return NULL;
}

static void run(struct stress *s)
{
	pthread_t pt[POSTERS], ct;
	struct poster_arg args[POSTERS];
	const char *env = getenv("VIRQ_PI_STRESS_POSTS");
	struct virq_pi_stats st;
	uint64_t total_posted = 0, total_coalesced = 0, total_taken = 0;

	s->posts_per_thread = env ? strtoul(env, NULL, 0) : getenv("VIRQ_TSAN") ? 100000 : 1000000;
	virq_pi_init(&s->pi, 0xF2, 0);
	assert_int_equal(pthread_create(&ct, NULL, consumer, s), 0);
	for (unsigned int i = 0; i < POSTERS; i++) {
		args[i] = (struct poster_arg){ s, i };
		assert_int_equal(pthread_create(&pt[i], NULL, poster, &args[i]), 0);
	}
	for (unsigned int i = 0; i < POSTERS; i++)
		pthread_join(pt[i], NULL);
	pthread_join(ct, NULL);

	/* Nothing stranded: the consumer never synced without a notification, yet PIR is
	 * empty and ON clear. */
	assert_true(virq_pi_pir_empty(&s->pi));
	assert_false(virq_pi_control(&s->pi) & VIRQ_PI_CTL_ON);
	for (unsigned int v = 0; v < 256; v++) {
		uint64_t p = 0, c = 0;

		for (unsigned int t = 0; t < POSTERS; t++) {
			p += s->posted[t][v];
			c += s->coalesced[t][v];
		}
		/* Every post is delivered or coalesced-while-pending, per vector. */
		assert_int_equal(p, s->taken[v] + c);
		total_posted += p;
		total_coalesced += c;
		total_taken += s->taken[v];
	}
	assert_int_equal(total_posted, (uint64_t)POSTERS * s->posts_per_thread);
	virq_pi_stats(&s->pi, &st);
	assert_int_equal(st.posted, total_posted);
	assert_int_equal(st.coalesced, total_coalesced);
	assert_int_equal(st.merged, total_taken);
	assert_int_equal(st.notified, __atomic_load_n(&s->doorbell, __ATOMIC_ACQUIRE));
	print_message("# %lu posts: %lu delivered, %lu coalesced, %lu notifications, %lu "
		      "suppressed, %lu doorbell syncs\n",
		      (unsigned long)total_posted, (unsigned long)total_taken,
		      (unsigned long)total_coalesced, (unsigned long)st.notified,
		      (unsigned long)st.suppressed, (unsigned long)s->syncs_by_doorbell);
}

static void test_pi_concurrent_posts_are_never_lost(void **state)
{
	struct stress *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	run(s);
	free(s);
}

static void test_pi_posts_survive_suppress_notification_toggling(void **state)
{
	struct stress *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->toggle_sn = true;
	run(s);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pi_concurrent_posts_are_never_lost),
		cmocka_unit_test(test_pi_posts_survive_suppress_notification_toggling),
	};
	return cmocka_run_group_tests_name("pi_stress", tests, NULL, NULL);
}
