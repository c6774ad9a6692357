/* SPDX-License-Identifier: MIT */
/*
 * virqd configuration (daemon/core/config.c).
 *
 * File format (see daemon/core/virqd.conf.example): one directive per line, `name value...`,
 * '#' starts a comment, blank lines ignored, a directive given twice keeps the last value
 * (except `observe`, which accumulates). Every error names the file and line:
 * "virqd.conf:12: unknown directive 'sockt'".
 *
 * Command-line flags are applied after the file and override it. Pure functions of their
 * input; any thread.
 */
#ifndef VIRQ_DAEMON_CONFIG_H
#define VIRQ_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "virq/vmm.h"

#define VIRQ_CONF_DEFAULT_PATH "/etc/virqd.conf"
#define VIRQ_CONF_PATH_MAX 108 /* sun_path */
#define VIRQ_CONF_OBSERVE_MAX 32
#define VIRQ_CONF_ERR_MAX 256
#define VIRQ_CONF_FILE_MAX (256u << 10) /* a config file larger than this is refused */
#define VIRQ_CONF_MAX_SCENARIOS 64 /* upper bound of max_scenarios */

enum virq_observe_kind {
	VIRQ_OBSERVE_ALL = 0, /* every VM on the host */
	VIRQ_OBSERVE_NONE, /* none: only the daemon's own VMs */
	VIRQ_OBSERVE_PID,
	VIRQ_OBSERVE_COMM, /* processes whose comm equals the name */
};

struct virq_observe {
	enum virq_observe_kind kind;
	pid_t pid;
	char comm[16];
};

struct virq_config {
	char socket_path[VIRQ_CONF_PATH_MAX];
	mode_t socket_mode;
	char socket_group[64]; /* "" = root only */
	char metrics_addr[64]; /* "host:port", "" = metrics server off */
	bool bpf; /* try to load the tracer */
	bool bpf_kprobes; /* the tracer also attaches its kprobes (where the kernel has them) */
	unsigned int bpf_latency_sample; /* the tracer times one delivery chain in N */
	bool kvm; /* try to use /dev/kvm */
	unsigned int max_clients;
	size_t client_queue_bytes;
	unsigned int max_clients_per_uid; /* 0 = max_clients / 4 */
	unsigned int client_idle_timeout_s; /* 0 = never */
	unsigned int client_line_timeout_s; /* 0 = never */
	unsigned int sample_ms; /* sampling timer period */
	unsigned int max_vms;
	unsigned int max_scenarios; /* vm.scenario runs at once (worker threads) */
	int log_level; /* syslog priority: messages above it are not logged */
	unsigned int anomaly_log_per_min; /* rate limit of anomaly logs */
	/* Defaults for vm.create (the request overrides them). */
	uint32_t vm_vcpus;
	uint32_t vm_mem_mb;
	enum virq_irqchip_mode vm_irqchip;
	enum virq_idle_style vm_idle;
	bool vm_posted;
	bool vm_x2apic;
	bool vm_pv_eoi;
	unsigned int obs_keep_exited_s; /* how long an exited observed VM is kept, seconds */
	unsigned int nr_observe; /* 0 = observe all */
	struct virq_observe observe[VIRQ_CONF_OBSERVE_MAX];
};

/* Built-in defaults. */
void virq_config_defaults(struct virq_config *c);

/*
 * Parses `len` bytes of configuration text into c (which holds the defaults or earlier
 * values). `name` labels errors. Returns 0, or -EINVAL with "name:LINE: reason" in err; c
 * is left unchanged on error.
 */
int virq_config_parse(struct virq_config *c, const char *name, const char *text, size_t len,
		      char *err, size_t errlen);
/* Reads and parses a file (at most VIRQ_CONF_FILE_MAX bytes). -ENOENT when missing and
 * `optional` is false; 0 when missing and optional. */
int virq_config_load(struct virq_config *c, const char *path, bool optional, char *err,
		     size_t errlen);

/* "host:port" or "[v6]:port", port 0..65535 in decimal: 0 and host/port filled (each may be
 * NULL; host needs hostlen bytes), or -EINVAL. */
int virq_config_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);
/* "0660" -> 0660; -EINVAL. */
int virq_config_parse_mode(const char *s, mode_t *out);
/* Syslog level names ("err", "warning", "info", "debug", ...) -> LOG_*; -EINVAL. */
int virq_config_parse_level(const char *s, int *out);

#endif /* VIRQ_DAEMON_CONFIG_H */
