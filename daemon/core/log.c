// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log.h"

static const char *log_ident = "virqd";
static int log_max = LOG_INFO;
static bool log_journal;

static const char *const prio_names[] = { "emerg",   "alert",  "crit", "error",
					  "warning", "notice", "info", "debug" };

void virq_log_init(const char *ident, int max_level)
{
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long dev, ino;

	log_ident = ident;
	log_max = max_level;
	/* systemd sets JOURNAL_STREAM=dev:ino for the stream it connected; only trust it if
	 * that is still our stderr (not inherited by a child whose stderr was redirected). */
	log_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
		      (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void virq_log_set_level(int max_level)
{
	log_max = max_level;
}

bool virq_log_to_journal(void)
{
	return log_journal;
}

void virq_log(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	prio &= 7;
	if (prio > log_max)
		return;
	if (log_journal)
		n = snprintf(line, sizeof(line), "<%d>", prio);
	else
		n = snprintf(line, sizeof(line), "%s: %s: ", log_ident, prio_names[prio]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line, so lines from several threads never interleave. */
	if (write(2, line, (size_t)n) < 0)
		return;
}

void virq_ratelimit_init(struct virq_ratelimit *rl, unsigned int burst, uint64_t window_ns)
{
	memset(rl, 0, sizeof(*rl));
	rl->burst = burst;
	rl->window_ns = window_ns;
}

bool virq_ratelimit_allow(struct virq_ratelimit *rl, uint64_t now_ns, uint64_t *missed)
{
	if (missed)
		*missed = 0;
	if (!rl->start_ns || now_ns - rl->start_ns >= rl->window_ns) {
		if (missed)
			*missed = rl->suppressed_window;
		rl->start_ns = now_ns ? now_ns : 1;
		rl->used = 0;
		rl->suppressed_window = 0;
	}
	if (rl->used < rl->burst) {
		rl->used++;
		return true;
	}
	rl->suppressed++;
	rl->suppressed_window++;
	return false;
}
