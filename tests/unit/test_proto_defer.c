// SPDX-License-Identifier: MIT
/*
 * The control server's deferred replies (daemon/ctl/server.c, virq_ctl_defer): a request
 * answered later from a worker must not block other connections, must keep replies in
 * request order on its own connection, and must survive its peer going away.
 * In-process: a real server on a temporary socket, the test runs its epoll loop.
 */
#include "virq_test.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cjson/cJSON.h>

#include "virq/proto.h"
#include "../../daemon/ctl/ctl.h"

struct fixture {
	char dir[64], path[100];
	int epfd;
	struct virq_ctl *ctl;
	struct virq_ctl_pending *held; /* the deferred vm.scenario */
	int handled;
};

/* "vm.scenario" is deferred; everything else answers {"n": handled-count} at once. */
static enum virq_proto_err handler(void *ctx, struct virq_ctl_client *c,
				   const struct virq_proto_request *req, cJSON **result, char *msg,
				   size_t msglen)
{
	struct fixture *f = ctx;

	f->handled++;
	*result = cJSON_CreateObject();
	if (req->cmd == VIRQ_CMD_VM_SCENARIO) {
		if (f->held) {
			snprintf(msg, msglen, "already one");
			return VIRQ_E_BUSY;
		}
		f->held = virq_ctl_defer(c, req);
		assert_non_null(f->held);
		return VIRQ_E_OK;
	}
	if (req->cmd == VIRQ_CMD_VM_DESTROY) {
		/* Deferred, then the work could not start: cancel and answer an error. */
		struct virq_ctl_pending *p = virq_ctl_defer(c, req);

		assert_non_null(p);
		assert_null(virq_ctl_defer(c, req)); /* one per connection at a time */
		virq_ctl_defer_cancel(p);
		snprintf(msg, msglen, "worker could not start");
		return VIRQ_E_INTERNAL;
	}
	cJSON_AddNumberToObject(*result, "n", f->handled);
	return VIRQ_E_OK;
}

static void loop_once(struct fixture *f, int timeout_ms)
{
	struct epoll_event evs[16];
	int n = epoll_wait(f->epfd, evs, 16, timeout_ms);

	for (int i = 0; i < n; i++) {
		struct virq_evsrc *s = evs[i].data.ptr;

		s->ready(s, evs[i].events);
	}
	virq_ctl_reap(f->ctl);
}

static int setup(void **state)
{
	static struct fixture f;
	struct virq_ctl_opts o = { 0 };
	char err[256];

	memset(&f, 0, sizeof(f));
	snprintf(f.dir, sizeof(f.dir), "/tmp/virq-defer-XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	snprintf(f.path, sizeof(f.path), "%s/s.sock", f.dir);
	f.epfd = epoll_create1(EPOLL_CLOEXEC);
	o.path = f.path;
	o.mode = 0600;
	o.gid = (gid_t)-1;
	o.max_clients = 8;
	o.out_max = 1 << 20;
	o.handler = handler;
	o.handler_ctx = &f;
	f.ctl = virq_ctl_create(&o, f.epfd, err, sizeof(err));
	assert_non_null(f.ctl);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	virq_ctl_destroy(f->ctl);
	close(f->epfd);
	rmdir(f->dir);
	return 0;
}

static int conn(struct fixture *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	loop_once(f, 100); /* accept */
	return fd;
}

static void say(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Runs the loop until fd has a complete line (or ~0.6 s); returns its id (the error code in
 * *err), -2 when nothing came. */
static long long answer(struct fixture *f, int fd, enum virq_proto_err *err)
{
	static char buf[8192];
	static size_t have;
	struct virq_proto_reply r;
	char msg[128];
	long long id;

	for (int i = 0; i < 60; i++) {
		char *nl = memchr(buf, '\n', have);
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (nl) {
			size_t len = (size_t)(nl - buf);

			assert_int_equal(virq_proto_reply_parse(buf, len, &r, msg, sizeof(msg)), 0);
			id = r.has_id ? r.id : -3;
			if (err)
				*err = r.err;
			virq_proto_reply_fini(&r);
			memmove(buf, nl + 1, have - len - 1);
			have -= len + 1;
			return id;
		}
		loop_once(f, 10);
		if (poll(&p, 1, 0) == 1) {
			ssize_t n = recv(fd, buf + have, sizeof(buf) - have, MSG_DONTWAIT);

			if (n > 0)
				have += (size_t)n;
		}
	}
	return -2;
}

static void test_deferred_reply_does_not_block_others_and_keeps_order(void **state)
{
	struct fixture *f = *state;
	int a = conn(f), b = conn(f);
	enum virq_proto_err e = VIRQ_E_OK;
	struct virq_ctl_stats st;
	cJSON *res;

	/* a: a deferred request, then a pipelined one behind it in the same write. */
	say(a,
	    "{\"v\":1,\"id\":1,\"cmd\":\"vm.scenario\"}\n{\"v\":1,\"id\":2,\"cmd\":\"status\"}\n");
	assert_int_equal(answer(f, a, NULL), -2); /* nothing yet: #1 pending, #2 waits */
	assert_non_null(f->held);
	assert_int_equal(f->handled, 1); /* #2 not even handled: replies stay in order */

	/* b is served meanwhile, several times. */
	for (int i = 0; i < 3; i++) {
		char req[64];

		snprintf(req, sizeof(req), "{\"v\":1,\"id\":%d,\"cmd\":\"version\"}\n", 10 + i);
		say(b, req);
		assert_int_equal(answer(f, b, &e), 10 + i);
		assert_int_equal(e, VIRQ_E_OK);
	}
	/* More input on the parked connection is not read, not lost. */
	say(a, "{\"v\":1,\"id\":3,\"cmd\":\"version\"}\n");
	assert_int_equal(answer(f, a, NULL), -2);

	res = cJSON_CreateObject();
	cJSON_AddBoolToObject(res, "pass", true);
	virq_ctl_complete(f->held, VIRQ_E_OK, res, NULL);
	f->held = NULL;
	assert_int_equal(answer(f, a, &e), 1);
	assert_int_equal(answer(f, a, &e), 2);
	assert_int_equal(answer(f, a, &e), 3);
	virq_ctl_get_stats(f->ctl, &st);
	assert_int_equal(st.deferred, 1);
	assert_int_equal(st.deferred_orphaned, 0);

	/* A deferred error reply is an ordinary error reply, counted. */
	say(a, "{\"v\":1,\"id\":4,\"cmd\":\"vm.scenario\"}\n");
	assert_int_equal(answer(f, a, NULL), -2);
	virq_ctl_complete(f->held, VIRQ_E_VM_STOPPED, NULL, "VM x stopped: triple fault");
	f->held = NULL;
	assert_int_equal(answer(f, a, &e), 4);
	assert_int_equal(e, VIRQ_E_VM_STOPPED);
	virq_ctl_get_stats(f->ctl, &st);
	assert_int_equal(st.errors[VIRQ_E_VM_STOPPED], 1);
	close(a);
	close(b);
	loop_once(f, 50);
}

static void test_peer_gone_while_deferred_is_closed_and_reply_discarded(void **state)
{
	struct fixture *f = *state;
	int a = conn(f), b;
	struct virq_ctl_stats st;
	enum virq_proto_err e;

	say(a, "{\"v\":1,\"id\":7,\"cmd\":\"vm.scenario\"}\n");
	assert_int_equal(answer(f, a, NULL), -2);
	assert_non_null(f->held);
	assert_true(virq_ctl_pending_alive(f->held));
	close(a);
	for (int i = 0; i < 20 && virq_ctl_pending_alive(f->held); i++)
		loop_once(f, 10);
	assert_false(virq_ctl_pending_alive(f->held)); /* HUP seen although input is parked */
	virq_ctl_get_stats(f->ctl, &st);
	assert_int_equal(st.clients, 0);
	assert_int_equal(st.deferred_orphaned, 1);
	/* Completing it later only frees it (ASan: no use after free, no leak). */
	virq_ctl_complete(f->held, VIRQ_E_OK, cJSON_CreateObject(), NULL);
	f->held = NULL;
	/* The server is fine. */
	b = conn(f);
	say(b, "{\"v\":1,\"id\":8,\"cmd\":\"version\"}\n");
	assert_int_equal(answer(f, b, &e), 8);
	close(b);
	loop_once(f, 50);
}

static void test_cancel_before_return_lets_the_handler_answer(void **state)
{
	struct fixture *f = *state;
	int a = conn(f);
	enum virq_proto_err e = VIRQ_E_OK;
	struct virq_ctl_stats st;

	say(a,
	    "{\"v\":1,\"id\":5,\"cmd\":\"vm.destroy\"}\n{\"v\":1,\"id\":6,\"cmd\":\"version\"}\n");
	assert_int_equal(answer(f, a, &e), 5);
	assert_int_equal(e, VIRQ_E_INTERNAL);
	assert_int_equal(answer(f, a, &e), 6);
	assert_int_equal(e, VIRQ_E_OK);
	virq_ctl_get_stats(f->ctl, &st);
	assert_int_equal(st.deferred, 0);
	close(a);
	loop_once(f, 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_deferred_reply_does_not_block_others_and_keeps_order, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_peer_gone_while_deferred_is_closed_and_reply_discarded, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_cancel_before_return_lets_the_handler_answer,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("proto_defer", tests, NULL, NULL);
}
