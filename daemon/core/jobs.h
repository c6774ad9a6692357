/* SPDX-License-Identifier: MIT */
/*
 * Worker jobs of virqd (daemon/core/jobs.c): long commands (vm.scenario) run on their own
 * thread so that the event loop keeps serving every other client. A job is owned by the
 * caller; this module only starts, counts, bounds and reaps them.
 *
 * Life of a job: the loop thread fills a struct virqd_job (work, done, key, ctx) and calls
 * virqd_job_start(). The worker thread runs work(j) and then signals the jobs' eventfd;
 * the loop, when that fd is readable, calls virqd_jobs_reap(), which joins each finished
 * worker and calls done(j) on the loop thread (done builds the reply and frees the job).
 *
 * Bounds: at most `max` jobs at once (-EBUSY beyond) and one job per non-zero key (the VM
 * id: -EALREADY while a job with that key runs).
 *
 * Threading: every function here runs on the loop thread; only work() runs on a worker.
 * work() must not touch the loop's state; it may use thread-safe APIs (the VMM's).
 */
#ifndef VIRQ_DAEMON_JOBS_H
#define VIRQ_DAEMON_JOBS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define VIRQD_JOBS_MAX 64

struct virqd_job {
	unsigned int key; /* what it works on (VM id); 0 = no exclusivity */
	void (*work)(struct virqd_job *j); /* worker thread */
	void (*done)(struct virqd_job *j); /* loop thread, after work(); frees j */
	void *ctx; /* caller's */
	/* private */
	pthread_t thread;
	int efd; /* the jobs' eventfd, signalled by the worker at the end */
	atomic_bool finished;
	uint64_t start_ns;
};

struct virqd_jobs {
	int efd; /* eventfd, readable when a worker finished; -1 before init */
	unsigned int max;
	unsigned int running;
	struct virqd_job *slot[VIRQD_JOBS_MAX];
	uint64_t started, completed;
	uint64_t refused_limit; /* -EBUSY answers */
	uint64_t refused_key; /* -EALREADY answers */
};

/* 0 or -errno (eventfd). max is clipped to 1..VIRQD_JOBS_MAX. */
int virqd_jobs_init(struct virqd_jobs *js, unsigned int max);
/* Changes the bound for new jobs (running ones are not affected). */
void virqd_jobs_set_max(struct virqd_jobs *js, unsigned int max);
/* Closes the eventfd. Jobs must have been drained (see virqd_jobs_drain). */
void virqd_jobs_fini(struct virqd_jobs *js);

/* Is a job with this key running? (key 0: never) */
bool virqd_jobs_key_busy(const struct virqd_jobs *js, unsigned int key);

/* Starts j on a new thread. 0, -EBUSY (max running), -EALREADY (key busy), -errno
 * (pthread_create). On failure nothing was started and j is still the caller's. */
int virqd_job_start(struct virqd_jobs *js, struct virqd_job *j);

/* Joins every finished job and calls its done(). Returns how many were reaped. */
unsigned int virqd_jobs_reap(struct virqd_jobs *js);

/* Reaps until none runs or timeout_ms passed. Returns the number still running (their
 * threads are left alone: the caller must then keep what they use alive). */
unsigned int virqd_jobs_drain(struct virqd_jobs *js, unsigned int timeout_ms);

#endif /* VIRQ_DAEMON_JOBS_H */
