/* SPDX-License-Identifier: MIT */
/*
 * virqd logging (daemon/core/log.c). When stderr is the systemd journal (JOURNAL_STREAM
 * names stderr's device:inode) each line gets a "<N>" severity prefix that journald parses;
 * otherwise plain "virqd: level: message" lines on stderr.
 *
 * Never log per interrupt or per event: count, and pass anomalies through a ratelimit.
 * Threading: virq_log() may be called from any thread (one write(2) per line);
 * virq_log_init/set_level from the main thread before other threads exist.
 */
#ifndef VIRQ_DAEMON_LOG_H
#define VIRQ_DAEMON_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

void virq_log_init(const char *ident, int max_level);
void virq_log_set_level(int max_level);
/* Is stderr the journal? (decided in virq_log_init) */
bool virq_log_to_journal(void);
void virq_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A token bucket per anomaly kind: at most `burst` messages per `window_ns`. */
struct virq_ratelimit {
	uint64_t window_ns;
	unsigned int burst;
	uint64_t start_ns;
	unsigned int used;
	uint64_t suppressed; /* messages not logged, in total */
	uint64_t suppressed_window; /* ... in the current window (reported at its end) */
};

void virq_ratelimit_init(struct virq_ratelimit *rl, unsigned int burst, uint64_t window_ns);
/* true if a message may be logged now. When a new window opens after suppressions,
 * *missed (if non-NULL) gets how many were suppressed in the previous one. */
bool virq_ratelimit_allow(struct virq_ratelimit *rl, uint64_t now_ns, uint64_t *missed);

#endif /* VIRQ_DAEMON_LOG_H */
