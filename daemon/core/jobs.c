// SPDX-License-Identifier: MIT
/* Worker jobs: one thread per long command, reaped on the loop thread (see jobs.h). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "jobs.h"

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned int clip(unsigned int max)
{
	return max < 1 ? 1 : max > VIRQD_JOBS_MAX ? VIRQD_JOBS_MAX : max;
}

int virqd_jobs_init(struct virqd_jobs *js, unsigned int max)
{
	memset(js, 0, sizeof(*js));
	js->max = clip(max);
	js->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return js->efd < 0 ? -errno : 0;
}

void virqd_jobs_set_max(struct virqd_jobs *js, unsigned int max)
{
	js->max = clip(max);
}

void virqd_jobs_fini(struct virqd_jobs *js)
{
	if (js->efd >= 0)
		close(js->efd);
	js->efd = -1;
}

bool virqd_jobs_key_busy(const struct virqd_jobs *js, unsigned int key)
{
	if (!key)
		return false;
	for (unsigned int i = 0; i < VIRQD_JOBS_MAX; i++)
		if (js->slot[i] && js->slot[i]->key == key)
			return true;
	return false;
}

static void *job_main(void *arg)
{
	struct virqd_job *j = arg;
	uint64_t one = 1;

	j->work(j);
	atomic_store(&j->finished, true);
	/* Cannot fail short of a counter overflow (2^64 - 2 wakeups); the loop also
	 * reaps on its own timer, so a lost wakeup only delays the reply. */
	if (write(j->efd, &one, sizeof(one)) < 0)
		return NULL;
	return NULL;
}

int virqd_job_start(struct virqd_jobs *js, struct virqd_job *j)
{
	int free_slot = -1, r;

	if (!j || !j->work || !j->done)
		return -EINVAL;
	if (virqd_jobs_key_busy(js, j->key)) {
		js->refused_key++;
		return -EALREADY;
	}
	if (js->running >= js->max) {
		js->refused_limit++;
		return -EBUSY;
	}
	for (int i = 0; i < VIRQD_JOBS_MAX && free_slot < 0; i++)
		if (!js->slot[i])
			free_slot = i;
	if (free_slot < 0) {
		js->refused_limit++;
		return -EBUSY;
	}
	j->efd = js->efd;
	atomic_store(&j->finished, false);
	j->start_ns = mono_ms() * 1000000ull;
	r = pthread_create(&j->thread, NULL, job_main, j);
	if (r)
		return -r;
	js->slot[free_slot] = j;
	js->running++;
	js->started++;
	return 0;
}

unsigned int virqd_jobs_reap(struct virqd_jobs *js)
{
	uint64_t cnt;
	unsigned int n = 0;

	/* Drain the eventfd first: a worker finishing after this read signals again. */
	if (js->efd >= 0 && read(js->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		cnt = 0;
	for (int i = 0; i < VIRQD_JOBS_MAX; i++) {
		struct virqd_job *j = js->slot[i];

		if (!j || !atomic_load(&j->finished))
			continue;
		pthread_join(j->thread, NULL);
		js->slot[i] = NULL;
		js->running--;
		js->completed++;
		n++;
		j->done(j); /* may free j */
	}
	return n;
}

unsigned int virqd_jobs_drain(struct virqd_jobs *js, unsigned int timeout_ms)
{
	uint64_t end = mono_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = js->efd, .events = POLLIN };
		uint64_t now;

		virqd_jobs_reap(js);
		now = mono_ms();
		if (!js->running || now >= end)
			return js->running;
		/* Bounded slices: a worker may finish without a wakeup we can see. */
		poll(&pfd, 1, end - now < 100 ? (int)(end - now) : 100);
	}
}
