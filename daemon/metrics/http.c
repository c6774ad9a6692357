// SPDX-License-Identifier: MIT
/*
 * The exporter's HTTP server: libmicrohttpd in external-select mode with epoll
 * (MHD_USE_EPOLL and no MHD_USE_INTERNAL_POLLING_THREAD), so every request runs inside
 * virq_metrics_http_dispatch() on the daemon's event-loop thread and renders from the
 * published snapshot. No lock: publish and dispatch share that thread.
 */
#include "virq/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct virq_metrics_http {
	struct MHD_Daemon *mhd;
	struct virq_metrics_opts opts;
	struct virq_stats_snapshot *snap; /* owned; NULL until the first publish */
	uint16_t port;
	struct virq_metrics_http_counters ctr;
};

static const char INDEX_HTML[] =
	"<html><head><title>virqd</title></head><body><h1>virqd</h1>"
	"<p><a href=\"/metrics\">/metrics</a> (Prometheus) &middot; "
	"<a href=\"/api/v1/stats\">/api/v1/stats</a> (JSON)</p></body></html>\n";

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *ctype,
			     void *body, size_t len, enum MHD_ResponseMemoryMode mode,
			     const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status, const char *text,
				  const char *allow)
{
	return reply(c, status, "text/plain; charset=utf-8", (void *)text, strlen(text),
		     MHD_RESPMEM_PERSISTENT, allow);
}

enum route { R_NONE, R_INDEX, R_HEALTH, R_METRICS, R_STATS };

static enum route route_of(const char *url)
{
	if (!strcmp(url, "/"))
		return R_INDEX;
	if (!strcmp(url, "/healthz"))
		return R_HEALTH;
	if (!strcmp(url, "/metrics"))
		return R_METRICS;
	if (!strcmp(url, "/api/v1/stats"))
		return R_STATS;
	return R_NONE;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	static int first_call_marker;
	struct virq_metrics_http *h = cls;
	enum route r;
	char *body;
	size_t len;
	int err;

	/* MHD calls once for the headers, then per body chunk, then once more: answer on the
	 * last call so a body sent with a bad method is read and discarded, not half-read. */
	if (!*con_cls) {
		*con_cls = &first_call_marker;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	h->ctr.requests++;
	r = route_of(url);
	if (r == R_NONE) {
		h->ctr.not_found++;
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		h->ctr.bad_method++;
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
				  "GET, HEAD");
	}
	if (r == R_INDEX)
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", (void *)INDEX_HTML,
			     sizeof(INDEX_HTML) - 1, MHD_RESPMEM_PERSISTENT, NULL);
	if (r == R_HEALTH)
		return reply_text(c, MHD_HTTP_OK, "ok\n", NULL);
	if (!h->snap) {
		h->ctr.unavailable++;
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no statistics sampled yet\n",
				  NULL);
	}
	if (r == R_METRICS)
		err = virq_metrics_render_prometheus(h->snap, &h->opts, &body, &len);
	else
		err = virq_metrics_render_json(h->snap, &h->opts, &body, &len);
	if (err) {
		h->ctr.render_errors++;
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render\n", NULL);
	}
	return reply(c, MHD_HTTP_OK,
		     r == R_METRICS ? VIRQ_METRICS_PROM_CONTENT_TYPE : "application/json", body,
		     len, MHD_RESPMEM_MUST_FREE, NULL);
}

/* MHD logs through stderr by default; the exporter's failures are counted and reported by
 * return codes instead, so the callback stays silent. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
}

struct virq_metrics_http *virq_metrics_http_new(const struct virq_metrics_http_config *cfg)
{
	const char *addr = cfg && cfg->addr ? cfg->addr : VIRQ_METRICS_DEFAULT_ADDR;
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	struct virq_metrics_http *h;
	uint16_t port = cfg ? cfg->port : VIRQ_METRICS_DEFAULT_PORT;
	int err;

	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		flags |= MHD_USE_IPv6;
	} else {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		errno = ENOMEM;
		return NULL;
	}
	if (cfg)
		h->opts = cfg->opts;
	errno = 0;
	h->mhd = MHD_start_daemon(
		flags, port, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)(cfg && cfg->max_connections ? cfg->max_connections : 16),
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)(cfg && cfg->timeout_s ? cfg->timeout_s : 10), MHD_OPTION_END);
	if (!h->mhd) {
		err = errno ? errno : EADDRINUSE;
		goto err_free;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
	if (!info || !info->port) {
		err = EIO;
		goto err_stop;
	}
	h->port = info->port;
	return h;

err_stop:
	MHD_stop_daemon(h->mhd);
err_free:
	free(h);
	errno = err;
	return NULL;
}

void virq_metrics_http_free(struct virq_metrics_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->mhd);
	virq_stats_snapshot_free(h->snap);
	free(h);
}

int virq_metrics_http_fd(const struct virq_metrics_http *h)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);

	return info ? info->epoll_fd : -1;
}

int virq_metrics_http_timeout_ms(const struct virq_metrics_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(h->mhd, &ms) != MHD_YES)
		return -1;
	return ms > 60000 ? 60000 : (int)ms;
}

int virq_metrics_http_dispatch(struct virq_metrics_http *h)
{
	return MHD_run(h->mhd) == MHD_YES ? 0 : -EIO;
}

uint16_t virq_metrics_http_port(const struct virq_metrics_http *h)
{
	return h->port;
}

void virq_metrics_http_publish(struct virq_metrics_http *h, struct virq_stats_snapshot *snap)
{
	struct virq_stats_snapshot *old = h->snap;

	h->snap = snap;
	virq_stats_snapshot_free(old);
}

void virq_metrics_http_counters(const struct virq_metrics_http *h,
				struct virq_metrics_http_counters *out)
{
	*out = h->ctr;
}
