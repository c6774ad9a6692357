// SPDX-License-Identifier: MIT
/*
 * The virqd configuration parser. Line-oriented like chrony.conf: `directive args`, with
 * every error reported as "file:line: reason" and the configuration left untouched.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/stat.h>

#include "config.h"
#include "virq/trace_abi.h"
#include "virq/proto.h"

void virq_config_defaults(struct virq_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->socket_path, sizeof(c->socket_path), "%s", VIRQ_PROTO_DEFAULT_SOCKET);
	c->socket_mode = 0660;
	c->bpf = true;
	c->kvm = true;
	c->max_clients = 32;
	c->client_queue_bytes = 4u << 20;
	c->client_idle_timeout_s = 300;
	c->client_line_timeout_s = 10;
	c->sample_ms = 1000;
	c->obs_keep_exited_s = 300;
	c->bpf_latency_sample = VIRQ_TRACE_LATENCY_SAMPLE_DEFAULT;
	c->max_vms = 16;
	c->max_scenarios = 4;
	c->log_level = LOG_INFO;
	c->anomaly_log_per_min = 10;
	c->vm_vcpus = 1;
	c->vm_mem_mb = VIRQ_VM_MEM_MB_DEFAULT;
	c->vm_irqchip = VIRQ_IRQCHIP_KERNEL;
	c->vm_idle = VIRQ_IDLE_HLT;
	c->vm_posted = true;
	c->vm_pv_eoi = true;
}

int virq_config_parse_mode(const char *s, mode_t *out)
{
	char *end;
	unsigned long m;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	m = strtoul(s, &end, 8);
	if (errno || *end || m > 0777)
		return -EINVAL;
	*out = (mode_t)m;
	return 0;
}

static const struct {
	const char *name;
	int level;
} levels[] = {
	{ "emerg", LOG_EMERG },	 { "alert", LOG_ALERT },   { "crit", LOG_CRIT },
	{ "err", LOG_ERR },	 { "error", LOG_ERR },	   { "warning", LOG_WARNING },
	{ "warn", LOG_WARNING }, { "notice", LOG_NOTICE }, { "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
};

int virq_config_parse_level(const char *s, int *out)
{
	for (size_t i = 0; s && i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (!strcmp(s, levels[i].name)) {
			*out = levels[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_uint(const char *s, unsigned long long lo, unsigned long long hi,
		      unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

int virq_config_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	const char *h = s;
	size_t hl;
	unsigned long long p;

	if (!colon || colon == s || parse_uint(colon + 1, 0, 65535, &p))
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (*h == '[') {
		/* "[v6]:port" */
		if (hl < 3 || h[hl - 1] != ']')
			return -EINVAL;
		h++;
		hl -= 2;
	}
	if (!hl || memchr(h, ' ', hl) || memchr(h, '\t', hl))
		return -EINVAL;
	if (host) {
		if (hl >= hostlen)
			return -EINVAL;
		memcpy(host, h, hl);
		host[hl] = '\0';
	}
	if (port)
		*port = (uint16_t)p;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "yes") || !strcmp(s, "on") || !strcmp(s, "true") || !strcmp(s, "1"))
		*out = true;
	else if (!strcmp(s, "no") || !strcmp(s, "off") || !strcmp(s, "false") || !strcmp(s, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static const char *const irqchip_names[VIRQ_IRQCHIP__COUNT] = {
	[VIRQ_IRQCHIP_KERNEL] = "kernel",
	[VIRQ_IRQCHIP_SPLIT] = "split",
	[VIRQ_IRQCHIP_USER] = "user",
};

/* Splits line (modified in place) into at most max words. Returns the count, or -E2BIG. */
static int split_words(char *line, char **w, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return n;
		if (n == max)
			return -E2BIG;
		w[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
}

#define WANT_ARGS(k)                                                                              \
	do {                                                                                      \
		if (nw - 1 != (k)) {                                                              \
			snprintf(why, sizeof(why), "'%s' takes %d argument%s, got %d", w[0], (k), \
				 (k) == 1 ? "" : "s", nw - 1);                                    \
			goto bad;                                                                 \
		}                                                                                 \
	} while (0)

/* Applies one directive to c. 0, or -EINVAL with the reason in why. */
static int apply_line(struct virq_config *c, char **w, int nw, char *why_out, size_t why_len)
{
	char why[192];
	unsigned long long v;
	const char *d = w[0];

	if (!strcmp(d, "socket")) {
		WANT_ARGS(1);
		if (w[1][0] != '/' || strlen(w[1]) >= sizeof(c->socket_path)) {
			snprintf(why, sizeof(why),
				 "socket path must be absolute and shorter than %zu",
				 sizeof(c->socket_path));
			goto bad;
		}
		snprintf(c->socket_path, sizeof(c->socket_path), "%s", w[1]);
	} else if (!strcmp(d, "socket_mode")) {
		WANT_ARGS(1);
		if (virq_config_parse_mode(w[1], &c->socket_mode)) {
			snprintf(why, sizeof(why), "bad octal mode '%s'", w[1]);
			goto bad;
		}
	} else if (!strcmp(d, "socket_group")) {
		WANT_ARGS(1);
		if (strlen(w[1]) >= sizeof(c->socket_group)) {
			snprintf(why, sizeof(why), "group name too long");
			goto bad;
		}
		snprintf(c->socket_group, sizeof(c->socket_group), "%s",
			 strcmp(w[1], "none") ? w[1] : "");
	} else if (!strcmp(d, "metrics")) {
		WANT_ARGS(1);
		if (!strcmp(w[1], "off")) {
			c->metrics_addr[0] = '\0';
		} else if (virq_config_parse_hostport(w[1], NULL, 0, NULL) ||
			   strlen(w[1]) >= sizeof(c->metrics_addr)) {
			snprintf(why, sizeof(why), "metrics wants host:port or 'off', got '%s'",
				 w[1]);
			goto bad;
		} else {
			snprintf(c->metrics_addr, sizeof(c->metrics_addr), "%s", w[1]);
		}
	} else if (!strcmp(d, "bpf") || !strcmp(d, "kvm") || !strcmp(d, "vm_posted") ||
		   !strcmp(d, "vm_x2apic") || !strcmp(d, "vm_pv_eoi") ||
		   !strcmp(d, "bpf_kprobes")) {
		bool *b = !strcmp(d, "bpf")	    ? &c->bpf :
			  !strcmp(d, "bpf_kprobes") ? &c->bpf_kprobes :
			  !strcmp(d, "kvm")	    ? &c->kvm :
			  !strcmp(d, "vm_posted")   ? &c->vm_posted :
			  !strcmp(d, "vm_x2apic")   ? &c->vm_x2apic :
						      &c->vm_pv_eoi;
		WANT_ARGS(1);
		if (parse_bool(w[1], b)) {
			snprintf(why, sizeof(why), "'%s' wants yes or no, got '%s'", d, w[1]);
			goto bad;
		}
	} else if (!strcmp(d, "bpf_latency_sample")) {
		WANT_ARGS(1);
		if (parse_uint(w[1], 1, 65536, &v)) {
			snprintf(why, sizeof(why), "bpf_latency_sample must be 1..65536");
			goto bad;
		}
		c->bpf_latency_sample = (unsigned int)v;
	} else if (!strcmp(d, "max_clients")) {
		WANT_ARGS(1);
		if (parse_uint(w[1], 1, 4096, &v)) {
			snprintf(why, sizeof(why), "max_clients must be 1..4096");
			goto bad;
		}
		c->max_clients = (unsigned int)v;
	} else if (!strcmp(d, "max_clients_per_uid")) {
		WANT_ARGS(1);
		if (parse_uint(w[1], 0, 4096, &v)) {
			snprintf(why, sizeof(why), "max_clients_per_uid must be 0..4096");
			goto bad;
		}
		c->max_clients_per_uid = (unsigned int)v;
	} else if (!strcmp(d, "client_idle_timeout_s")) {
		WANT_ARGS(1);
		if (parse_uint(w[1], 0, 86400, &v)) {
			snprintf(why, sizeof(why), "client_idle_timeout_s must be 0..86400");
			goto bad;
		}
		c->client_idle_timeout_s = (unsigned int)v;
	} else if (!strcmp(d, "client_line_timeout_s")) {
		WANT_ARGS(1);
		if (parse_uint(w[1], 0, 86400, &v)) {
			snprintf(why, sizeof(why), "client_line_timeout_s must be 0..86400");
			goto bad;
		}
		c->client_line_timeout_s = (unsigned int)v;
	} else if (!strcmp(d, "client_queue_kib")) {
		WANT_ARGS(1);
		if (parse_uint(w[1], 64, 1u << 20, &v)) {
			snprintf(why, sizeof(why), "client_queue_kib must be 64..1048576");
			goto bad;
		}
		c->client_queue_bytes = (size_t)v << 10;
	} else if (!strcmp(d, "sample_interval_ms")) {
		WANT_ARGS(1);
		if (parse_uint(w[1], 10, 60000, &v)) {
			snprintf(why, sizeof(why), "sample_interval_ms must be 10..60000");
			goto bad;
		}
		c->sample_ms = (unsigned int)v;
	} else if (!strcmp(d, "observed_keep_exited_s")) {
		WANT_ARGS(1);
		if (parse_uint(w[1], 0, 86400, &v)) {
			snprintf(why, sizeof(why), "observed_keep_exited_s must be 0..86400");
			goto bad;
		}
		c->obs_keep_exited_s = (unsigned int)v;
	} else if (!strcmp(d, "max_vms")) {
		WANT_ARGS(1);
		if (parse_uint(w[1], 1, 256, &v)) {
			snprintf(why, sizeof(why), "max_vms must be 1..256");
			goto bad;
		}
		c->max_vms = (unsigned int)v;
	} else if (!strcmp(d, "max_scenarios")) {
		WANT_ARGS(1);
		if (parse_uint(w[1], 1, VIRQ_CONF_MAX_SCENARIOS, &v)) {
			snprintf(why, sizeof(why), "max_scenarios must be 1..%d",
				 VIRQ_CONF_MAX_SCENARIOS);
			goto bad;
		}
		c->max_scenarios = (unsigned int)v;
	} else if (!strcmp(d, "log_level")) {
		WANT_ARGS(1);
		if (virq_config_parse_level(w[1], &c->log_level)) {
			snprintf(why, sizeof(why), "unknown log level '%s'", w[1]);
			goto bad;
		}
	} else if (!strcmp(d, "anomaly_logs_per_minute")) {
		WANT_ARGS(1);
		if (parse_uint(w[1], 0, 6000, &v)) {
			snprintf(why, sizeof(why), "anomaly_logs_per_minute must be 0..6000");
			goto bad;
		}
		c->anomaly_log_per_min = (unsigned int)v;
	} else if (!strcmp(d, "vm_vcpus")) {
		WANT_ARGS(1);
		if (parse_uint(w[1], 1, VIRQ_VM_MAX_VCPUS, &v)) {
			snprintf(why, sizeof(why), "vm_vcpus must be 1..%d", VIRQ_VM_MAX_VCPUS);
			goto bad;
		}
		c->vm_vcpus = (uint32_t)v;
	} else if (!strcmp(d, "vm_mem_mb")) {
		WANT_ARGS(1);
		if (parse_uint(w[1], VIRQ_VM_MEM_MB_MIN, VIRQ_VM_MEM_MB_MAX, &v)) {
			snprintf(why, sizeof(why), "vm_mem_mb must be %d..%d", VIRQ_VM_MEM_MB_MIN,
				 VIRQ_VM_MEM_MB_MAX);
			goto bad;
		}
		c->vm_mem_mb = (uint32_t)v;
	} else if (!strcmp(d, "vm_irqchip")) {
		int i;

		WANT_ARGS(1);
		for (i = 0; i < VIRQ_IRQCHIP__COUNT; i++)
			if (!strcmp(w[1], irqchip_names[i]))
				break;
		if (i == VIRQ_IRQCHIP__COUNT) {
			snprintf(why, sizeof(why),
				 "vm_irqchip wants kernel, split or user, got '%s'", w[1]);
			goto bad;
		}
		c->vm_irqchip = (enum virq_irqchip_mode)i;
	} else if (!strcmp(d, "vm_idle")) {
		WANT_ARGS(1);
		if (!strcmp(w[1], "hlt")) {
			c->vm_idle = VIRQ_IDLE_HLT;
		} else if (!strcmp(w[1], "spin")) {
			c->vm_idle = VIRQ_IDLE_CPL3_SPIN;
		} else {
			snprintf(why, sizeof(why), "vm_idle wants hlt or spin, got '%s'", w[1]);
			goto bad;
		}
	} else if (!strcmp(d, "observe")) {
		struct virq_observe o = { 0 };

		if (nw < 2) {
			snprintf(why, sizeof(why), "'observe' wants all, none, pid N or comm NAME");
			goto bad;
		}
		if (!strcmp(w[1], "all") && nw == 2) {
			c->nr_observe = 0; /* all replaces any list */
			return 0;
		} else if (!strcmp(w[1], "none") && nw == 2) {
			o.kind = VIRQ_OBSERVE_NONE;
			c->nr_observe = 0;
		} else if (!strcmp(w[1], "pid") && nw == 3) {
			o.kind = VIRQ_OBSERVE_PID;
			if (parse_uint(w[2], 1, INT_MAX, &v)) {
				snprintf(why, sizeof(why), "bad pid '%s'", w[2]);
				goto bad;
			}
			o.pid = (pid_t)v;
		} else if (!strcmp(w[1], "comm") && nw == 3) {
			o.kind = VIRQ_OBSERVE_COMM;
			if (strlen(w[2]) >= sizeof(o.comm)) {
				snprintf(why, sizeof(why), "comm '%s' longer than 15 characters",
					 w[2]);
				goto bad;
			}
			snprintf(o.comm, sizeof(o.comm), "%s", w[2]);
		} else {
			snprintf(why, sizeof(why), "'observe' wants all, none, pid N or comm NAME");
			goto bad;
		}
		if (c->nr_observe == VIRQ_CONF_OBSERVE_MAX) {
			snprintf(why, sizeof(why), "more than %d observe lines",
				 VIRQ_CONF_OBSERVE_MAX);
			goto bad;
		}
		c->observe[c->nr_observe++] = o;
	} else {
		snprintf(why, sizeof(why), "unknown directive '%.64s'", d);
		goto bad;
	}
	return 0;
bad:
	snprintf(why_out, why_len, "%s", why);
	return -EINVAL;
}

int virq_config_parse(struct virq_config *c, const char *name, const char *text, size_t len,
		      char *err, size_t errlen)
{
	struct virq_config tmp = *c;
	unsigned int lineno = 0;
	size_t pos = 0;

	while (pos < len) {
		char line[1024], why[200], *w[8], *hash;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		int nw;

		lineno++;
		if (ll >= sizeof(line)) {
			snprintf(err, errlen, "%s:%u: line longer than %zu bytes", name, lineno,
				 sizeof(line) - 1);
			return -EINVAL;
		}
		memcpy(line, text + pos, ll);
		line[ll] = '\0';
		pos += ll + 1;
		if (memchr(line, '\0', ll)) {
			snprintf(err, errlen, "%s:%u: NUL byte in line", name, lineno);
			return -EINVAL;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		for (char *p = line; *p; p++)
			if (*p == '\r')
				*p = ' ';
		nw = split_words(line, w, 8);
		if (nw < 0) {
			snprintf(err, errlen, "%s:%u: too many words", name, lineno);
			return -EINVAL;
		}
		if (nw == 0)
			continue;
		if (apply_line(&tmp, w, nw, why, sizeof(why))) {
			snprintf(err, errlen, "%s:%u: %s", name, lineno, why);
			return -EINVAL;
		}
	}
	*c = tmp;
	return 0;
}

int virq_config_load(struct virq_config *c, const char *path, bool optional, char *err,
		     size_t errlen)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd, r;

	/* O_NONBLOCK: opening a FIFO must not block the daemon's loop (SIGHUP reload) until
	 * a writer comes; anything but a regular file is refused before reading. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT && optional)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		r = -EINVAL;
		close(fd);
		snprintf(err, errlen, "%s: not a regular file (refused)", path);
		return r;
	}
	buf = malloc(VIRQ_CONF_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	while ((n = read(fd, buf + len, VIRQ_CONF_FILE_MAX + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > VIRQ_CONF_FILE_MAX)
			break;
	}
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
	} else if (len > VIRQ_CONF_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", path, VIRQ_CONF_FILE_MAX);
		r = -EFBIG;
	} else {
		r = virq_config_parse(c, path, buf, len, err, errlen);
	}
	free(buf);
	return r;
}
