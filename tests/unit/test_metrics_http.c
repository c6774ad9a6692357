// SPDX-License-Identifier: MIT
/*
 * The exporter's HTTP server on 127.0.0.1 (ephemeral port), driven the way virqd drives it:
 * this thread owns an epoll loop on virq_metrics_http_fd() and calls dispatch; a client
 * thread speaks plain HTTP/1.1 over a socket.
 */
#include "virq_test.h"
#include "virq/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct client {
	uint16_t port;
	const char *request;
	char *resp; /* malloc'd, NUL-terminated */
	size_t len;
	int done;
	int err;
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(c->port) };
	size_t cap = 1 << 16;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->resp = malloc(cap);
	if (fd < 0 || !c->resp || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, c->request, strlen(c->request)) != (ssize_t)strlen(c->request)) {
		c->err = errno ? errno : EIO;
		goto out;
	}
	while ((n = read(fd, c->resp + c->len, cap - c->len - 1)) > 0) {
		c->len += (size_t)n;
		if (c->len + 1 == cap) {
			char *p = realloc(c->resp, cap * 2);

			if (!p) {
				c->err = ENOMEM;
				break;
			}
			c->resp = p;
			cap *= 2;
		}
	}
	if (c->resp)
		c->resp[c->len] = '\0';
out:
	if (fd >= 0)
		close(fd);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Sends `request`, runs the server's loop until the client has the whole reply, returns
 * the status code; *resp (caller frees) holds the raw response. */
static int roundtrip(struct virq_metrics_http *h, const char *request, char **resp)
{
	struct client c = { .port = virq_metrics_http_port(h), .request = request };
	struct epoll_event ev = { .events = EPOLLIN }, out;
	int ep = epoll_create1(EPOLL_CLOEXEC), status = -1, spins = 0;
	pthread_t t;

	assert_true(ep >= 0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, virq_metrics_http_fd(h), &ev), 0);
	assert_int_equal(pthread_create(&t, NULL, client_main, &c), 0);
	while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE) && spins++ < 1000) {
		int tmo = virq_metrics_http_timeout_ms(h);

		epoll_wait(ep, &out, 1, tmo < 0 || tmo > 10 ? 10 : tmo);
		assert_int_equal(virq_metrics_http_dispatch(h), 0);
	}
	pthread_join(t, NULL);
	close(ep);
	assert_int_equal(c.err, 0);
	assert_int_equal(sscanf(c.resp, "HTTP/1.1 %d", &status), 1);
	*resp = c.resp;
	return status;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

static struct virq_metrics_http *server(void)
{
	struct virq_metrics_http_config cfg = { .addr = "127.0.0.1", .port = 0 };
	struct virq_metrics_http *h = virq_metrics_http_new(&cfg);

	assert_non_null(h);
	assert_true(virq_metrics_http_port(h) != 0);
	assert_true(virq_metrics_http_fd(h) >= 0);
	return h;
}

static struct virq_stats_snapshot *synth(uint64_t tick)
{
	struct virq_stats_snapshot *s = virq_stats_snapshot_new();

	assert_non_null(s);
	assert_int_equal(virq_stats_synthesize(s, 2, 2, 1, tick), 0);
	return s;
}

/* /metrics serves the published snapshot as exposition format 0.0.4. */
static void test_metrics_endpoint_serves_published_snapshot(void **state)
{
	struct virq_metrics_http *h = server();
	struct virq_stats_snapshot *same = synth(3);
	char *r, *want;
	size_t wlen;

	virq_metrics_http_publish(h, synth(3));
	assert_int_equal(roundtrip(h, GET("/metrics"), &r), 200);
	assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4"));
	assert_int_equal(virq_metrics_render_prometheus(same, NULL, &want, &wlen), 0);
	virq_stats_snapshot_free(same);
	assert_string_equal(strstr(r, "\r\n\r\n") + 4, want);
	free(want);
	free(r);
	virq_metrics_http_free(h);
}

/* A publish swaps the snapshot: the next scrape sees the new one. */
static void test_publish_swaps_snapshot_for_next_scrape(void **state)
{
	struct virq_metrics_http *h = server();
	char *r;

	virq_metrics_http_publish(h, synth(1));
	assert_int_equal(roundtrip(h, GET("/api/v1/stats"), &r), 200);
	assert_non_null(strstr(r, "\"seq\":1,"));
	free(r);
	virq_metrics_http_publish(h, synth(2));
	assert_int_equal(roundtrip(h, GET("/api/v1/stats"), &r), 200);
	assert_non_null(strstr(r, "Content-Type: application/json"));
	assert_non_null(strstr(r, "\"seq\":2,"));
	free(r);
	virq_metrics_http_free(h);
}

/* Unknown paths are 404, other methods than GET/HEAD 405 with Allow, and nothing is served
 * as statistics before the first sample (503). */
static void test_unknown_path_404_non_get_405_unsampled_503(void **state)
{
	struct virq_metrics_http *h = server();
	struct virq_metrics_http_counters ctr;
	char *r;

	assert_int_equal(roundtrip(h, GET("/metrics"), &r), 503);
	free(r);
	assert_int_equal(roundtrip(h, GET("/healthz"), &r), 200);
	free(r);
	virq_metrics_http_publish(h, synth(1));
	assert_int_equal(roundtrip(h, GET("/metricsx"), &r), 404);
	free(r);
	assert_int_equal(roundtrip(h, GET("/api/v1/stats/"), &r), 404);
	free(r);
	assert_int_equal(roundtrip(h,
				   "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
				   "Content-Length: 5\r\n\r\nhello",
				   &r),
			 405);
	assert_non_null(strstr(r, "Allow: GET, HEAD"));
	free(r);
	assert_int_equal(roundtrip(h, GET("/"), &r), 200);
	free(r);
	virq_metrics_http_counters(h, &ctr);
	assert_int_equal(ctr.requests, 6);
	assert_int_equal(ctr.not_found, 2);
	assert_int_equal(ctr.bad_method, 1);
	assert_int_equal(ctr.unavailable, 1);
	virq_metrics_http_free(h);
}

/* The server binds where told: a bad address is EINVAL, a taken port EADDRINUSE. */
static void test_bind_errors_are_reported(void **state)
{
	struct virq_metrics_http_config bad = { .addr = "not-an-address" };
	struct virq_metrics_http *h = server(), *h2;
	struct virq_metrics_http_config same = { .addr = "127.0.0.1",
						 .port = virq_metrics_http_port(h) };

	assert_null(virq_metrics_http_new(&bad));
	assert_int_equal(errno, EINVAL);
	h2 = virq_metrics_http_new(&same);
	assert_null(h2);
	assert_int_equal(errno, EADDRINUSE);
	virq_metrics_http_free(h);
	virq_metrics_http_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_endpoint_serves_published_snapshot),
		cmocka_unit_test(test_publish_swaps_snapshot_for_next_scrape),
		cmocka_unit_test(test_unknown_path_404_non_get_405_unsampled_503),
		cmocka_unit_test(test_bind_errors_are_reported),
	};
	return cmocka_run_group_tests_name("metrics_http", tests, NULL, NULL);
}
