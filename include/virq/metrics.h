/* SPDX-License-Identifier: MIT */
/*
 * virq metrics exporter: renders a statistics snapshot (include/virq/stats.h) as
 * Prometheus text exposition (format 0.0.4) and as the /api/v1/stats JSON document, and
 * serves both over HTTP from the daemon's own epoll loop (libmicrohttpd, no thread).
 *
 * Exported families (all prefixed virq_, base units, counters end in _total):
 *   virq_build_info{version,commit}                      gauge, always 1
 *   virq_start_time_seconds                              gauge
 *   virq_snapshot_timestamp_seconds                      gauge
 *   virq_stats_dropped_total                             counter
 *   virq_vm_info{vm,mode,vcpus,origin}                   gauge, always 1
 *   virq_vm_process_id{vm}                               gauge
 *   virq_interrupts_{injected,received,coalesced,lost}_total{vm,path}   counters
 *   virq_crosscheck_verdicts_total{vm,path,verdict}      counter
 *   virq_crosscheck_mismatches_total{vm,path}            counter
 *   virq_exits_total{vm,vcpu,reason,source}              counter
 *   virq_bpf_events_total{tracepoint,variant}            counter
 *   virq_bpf_attach_state{point,variant,state}           gauge, 1 for the current state
 *   virq_bpf_ringbuf_drops_total                         counter
 *   virq_bpf_lost_total{what}                            counter   (enum virq_bpf_lost)
 *   virq_delivery_latency_seconds{vm,path}               histogram
 * and, only when enabled (high cardinality):
 *   virq_interrupts_by_vector_total{vm,path,vector}      counter   (per_vector)
 *   virq_interrupts_by_gsi_total{vm,gsi}                 counter   (per_gsi)
 *   virq_kvm_stat{vm,vcpu,stat}                          gauge     (kvm_stats)
 */
#ifndef VIRQ_METRICS_H
#define VIRQ_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virq/stats.h"

#define VIRQ_METRICS_DEFAULT_ADDR "127.0.0.1"
#define VIRQ_METRICS_DEFAULT_PORT 9477
#define VIRQ_METRICS_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Histogram bucket bounds: every second log2 slot boundary from 2^10 ns (1.024 us) to
 * 2^30 ns (1.07 s), plus +Inf. Merging adjacent log2 slots keeps the cumulative counts
 * exact; 12 buckets per series keep a 16-VM scrape small. */
#define VIRQ_METRICS_LE_FIRST_LOG2 10
#define VIRQ_METRICS_LE_LAST_LOG2 30
#define VIRQ_METRICS_LE_STEP_LOG2 2

struct virq_metrics_opts {
	bool per_vector; /* export virq_interrupts_by_vector_total */
	bool per_gsi; /* export virq_interrupts_by_gsi_total */
	bool kvm_stats; /* export virq_kvm_stat (one series per vCPU and stat) */
};

/*
 * Renders `snap` as Prometheus text. On success *out is a malloc'd, NUL-terminated buffer
 * the caller frees and *len its length without the NUL. 0, -EINVAL or -ENOMEM. Pure: any
 * thread, as long as nobody writes the snapshot meanwhile.
 */
int virq_metrics_render_prometheus(const struct virq_stats_snapshot *snap,
				   const struct virq_metrics_opts *opts, char **out, size_t *len);

/*
 * Renders `snap` as the /api/v1/stats JSON document (schema "virq.stats/1", see
 * dashboards/json_exporter.yml): { "schema", "version", "commit", "seq", "timestamp",
 * "vms": [ { "name", "mode", "origin", "vcpus", "pid", "paths": { "<path>": { "injected",
 * "received", "coalesced", "lost", "mismatches", "verdicts": {...}, "latency": {...} } },
 * "exits": [ {vcpu, reason, source, count} ], ... } ], "bpf": { "ringbuf_drops",
 * "lost": { "counter_full", "hist_full", "pair_displaced" },
 * "points": [ {tracepoint, variant, state, events} ] } }. Same ownership as above.
 */
int virq_metrics_render_json(const struct virq_stats_snapshot *snap,
			     const struct virq_metrics_opts *opts, char **out, size_t *len);

/* Appends `s` to `dst` escaped as a Prometheus label value (\\, \", \n); returns the
 * number of bytes written, or -ENOSPC (nothing usable) if `size` is too small. */
int virq_metrics_escape_label(char *dst, size_t size, const char *s);

/* --- HTTP server ------------------------------------------------------------------- */

struct virq_metrics_http_config {
	const char *addr; /* IPv4 or IPv6 literal; NULL = VIRQ_METRICS_DEFAULT_ADDR */
	uint16_t port; /* 0 = an ephemeral port (see virq_metrics_http_port) */
	struct virq_metrics_opts opts;
	unsigned int max_connections; /* 0 = 16; beyond, a connection is accepted and closed */
	unsigned int timeout_s; /* idle connection timeout; 0 = 10 */
};

/* Served paths: GET /metrics, GET /api/v1/stats, GET / (a small index), GET /healthz.
 * Anything else is 404; another method on a known path is 405 with an Allow header. Until
 * the first snapshot is published, /metrics and /api/v1/stats answer 503. */
struct virq_metrics_http;

/* Binds and listens. NULL with errno set (EADDRINUSE, EINVAL for a bad address, ...).
 * Called from the event-loop thread. */
struct virq_metrics_http *virq_metrics_http_new(const struct virq_metrics_http_config *cfg);
/* Stops listening, closes every connection, frees the published snapshot. Accepts NULL. */
void virq_metrics_http_free(struct virq_metrics_http *h);

/* The epoll fd to add (EPOLLIN) to the daemon's loop; owned by the server. */
int virq_metrics_http_fd(const struct virq_metrics_http *h);
/* Milliseconds until the server needs virq_metrics_http_dispatch() even without events
 * (connection timeouts), or -1 for no deadline. */
int virq_metrics_http_timeout_ms(const struct virq_metrics_http *h);
/* Runs the server once without blocking: accepts, reads, renders, writes. Call when the fd
 * is readable or the timeout expired. 0 or -EIO. Event-loop thread only. */
int virq_metrics_http_dispatch(struct virq_metrics_http *h);
/* The bound TCP port (useful with port 0). */
uint16_t virq_metrics_http_port(const struct virq_metrics_http *h);

/*
 * Publishes a new snapshot: the server takes ownership of `snap` and frees the previous
 * one. Scrapes render from the latest published snapshot. Event-loop thread only (the
 * same thread as dispatch), so the swap needs no lock; a sampler thread hands its
 * snapshot to the loop first (e.g. through an eventfd-signalled mailbox).
 */
void virq_metrics_http_publish(struct virq_metrics_http *h, struct virq_stats_snapshot *snap);

struct virq_metrics_http_counters {
	uint64_t requests; /* every completed request */
	uint64_t not_found; /* 404 */
	uint64_t bad_method; /* 405 */
	uint64_t unavailable; /* 503 (nothing published yet) */
	uint64_t render_errors; /* 500 (out of memory while rendering) */
	uint64_t refused; /* connections closed at once: over max_connections */
	uint64_t accept_paused; /* accepting paused: out of file descriptors */
};
/* Request counters since start. */
void virq_metrics_http_counters(const struct virq_metrics_http *h,
				struct virq_metrics_http_counters *out);

/* --- synthetic snapshots ------------------------------------------------------------ */

/*
 * Fills `snap` with `nr_vms` VMs of `nr_vcpus` vCPUs each whose counters look like a real
 * host after `tick` seconds (every mode and origin, all paths, exits from both sources, the
 * 17 tracepoints with a mix of attach states, latency histograms in the 10-200 us range),
 * deterministically from `seed`. Counters grow with `tick`, so successive ticks scrape as
 * proper counters. Used by the exporter's tests, benchmark and Prometheus end-to-end test
 * while no real daemon runs. 0 or a negative errno from the adders.
 */
int virq_stats_synthesize(struct virq_stats_snapshot *snap, uint32_t nr_vms, uint32_t nr_vcpus,
			  uint64_t seed, uint64_t tick);

#endif /* VIRQ_METRICS_H */
