// SPDX-License-Identifier: MIT
/*
 * The exporter's HTTP server: libmicrohttpd in external-select mode with epoll
 * (MHD_USE_EPOLL and no MHD_USE_INTERNAL_POLLING_THREAD), so every request runs inside
 * virq_metrics_http_dispatch() on the daemon's event-loop thread and renders from the
 * published snapshot. No lock: publish and dispatch share that thread.
 *
 * Connections are accepted here, not by libmicrohttpd (MHD_USE_NO_LISTEN_SOCKET +
 * MHD_add_connection): in external-epoll mode, once its own connection limit was reached
 * libmicrohttpd 0.9.75 took its listening socket out of its epoll set and never put it
 * back, so 16 connections opened and closed by any local user left /metrics unanswered
 * for good. Here the listening socket stays polled: beyond `max_connections` (or
 * VIRQ_METRICS_PER_IP of one address) a connection is accepted and closed at once
 * (counted), idle and slow ones are closed after `timeout_s` by libmicrohttpd, and accept
 * failing for lack of fds (EMFILE, ENFILE) pauses accepting for a moment instead of
 * spinning. The fd the daemon polls is an epoll set of our own holding both.
 */
#include "virq/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ACCEPT_BATCH 64 /* connections taken per dispatch */
#define ACCEPT_PAUSE_MS 100 /* after EMFILE/ENFILE */

struct virq_metrics_http {
	struct MHD_Daemon *mhd;
	int lfd; /* our listening socket */
	int epfd; /* ours: lfd and libmicrohttpd's epoll fd */
	bool lfd_polled;
	uint64_t paused_until_ms; /* CLOCK_MONOTONIC; 0 = accepting */
	unsigned int max_conn;
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
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;
	struct epoll_event ev = { .events = EPOLLIN };
	socklen_t sl;
	int one = 1;
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
	h->lfd = h->epfd = -1;
	if (cfg)
		h->opts = cfg->opts;
	h->max_conn = cfg && cfg->max_connections ? cfg->max_connections : 16;
	h->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->lfd < 0) {
		err = errno;
		goto err_free;
	}
	setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sl = ss.ss_family == AF_INET ? sizeof(*in4) : sizeof(*in6);
	if (bind(h->lfd, (struct sockaddr *)&ss, sl) || listen(h->lfd, 64)) {
		err = errno;
		goto err_free;
	}
	sl = sizeof(ss);
	if (getsockname(h->lfd, (struct sockaddr *)&ss, &sl)) {
		err = errno;
		goto err_free;
	}
	h->port = ntohs(ss.ss_family == AF_INET ? in4->sin_port : in6->sin6_port);
	errno = 0;
	/* libmicrohttpd's own limits sit above ours, which refuse first: it never reaches
	 * the state that stopped it accepting. */
	h->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_CONNECTION_LIMIT, 2 * h->max_conn + 8, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)(cfg && cfg->timeout_s ? cfg->timeout_s : 10), MHD_OPTION_END);
	if (!h->mhd) {
		err = errno ? errno : EIO;
		goto err_free;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!info || h->epfd < 0) {
		err = h->epfd < 0 ? errno : EIO;
		goto err_stop;
	}
	ev.data.fd = info->epoll_fd;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, info->epoll_fd, &ev)) {
		err = errno;
		goto err_stop;
	}
	ev.data.fd = h->lfd;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->lfd, &ev)) {
		err = errno;
		goto err_stop;
	}
	h->lfd_polled = true;
	return h;

err_stop:
	MHD_stop_daemon(h->mhd);
err_free:
	if (h->epfd >= 0)
		close(h->epfd);
	if (h->lfd >= 0)
		close(h->lfd);
	free(h);
	errno = err;
	return NULL;
}

void virq_metrics_http_free(struct virq_metrics_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->mhd);
	close(h->epfd);
	close(h->lfd);
	virq_stats_snapshot_free(h->snap);
	free(h);
}

int virq_metrics_http_fd(const struct virq_metrics_http *h)
{
	return h->epfd;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int virq_metrics_http_timeout_ms(const struct virq_metrics_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;
	int t = -1;

	if (MHD_get_timeout(h->mhd, &ms) == MHD_YES)
		t = ms > 60000 ? 60000 : (int)ms;
	if (h->paused_until_ms) {
		uint64_t now = now_ms();
		int p = h->paused_until_ms > now ? (int)(h->paused_until_ms - now) : 0;

		if (t < 0 || p < t)
			t = p;
	}
	return t;
}

static unsigned int connections_of(struct virq_metrics_http *h)
{
	const union MHD_DaemonInfo *i =
		MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return i ? i->num_connections : 0;
}

/* Takes what waits on the listening socket: handed to libmicrohttpd, or closed at once
 * beyond the limit. */
static void accept_some(struct virq_metrics_http *h)
{
	if (h->paused_until_ms) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = h->lfd };

		if (now_ms() < h->paused_until_ms)
			return;
		h->paused_until_ms = 0;
		if (!h->lfd_polled && !epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->lfd, &ev))
			h->lfd_polled = true;
	}
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(h->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* out of fds: stop polling the socket for a moment */
				h->ctr.accept_paused++;
				h->paused_until_ms = now_ms() + ACCEPT_PAUSE_MS;
				if (h->lfd_polled &&
				    !epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->lfd, NULL))
					h->lfd_polled = false;
			}
			return;
		}
		if (connections_of(h) >= h->max_conn) {
			h->ctr.refused++;
			close(fd);
			continue;
		}
		/* MHD_add_connection closes fd itself when it refuses it */
		if (MHD_add_connection(h->mhd, fd, (struct sockaddr *)&ss, sl) != MHD_YES)
			h->ctr.refused++;
	}
}

int virq_metrics_http_dispatch(struct virq_metrics_http *h)
{
	struct epoll_event evs[4];

	/* drain our own set (level-triggered): what is ready is served below */
	(void)epoll_wait(h->epfd, evs, 4, 0);
	accept_some(h);
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
