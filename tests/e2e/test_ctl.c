// SPDX-License-Identifier: MIT
/*
 * End-to-end tests of virqd's control socket: the real daemon ($VIRQ_BUILD/bin/virqd) on a
 * temporary socket, driven through raw protocol frames.
 */
#include "virq_test.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "virq/proto.h"

struct daemon {
	char dir[64];
	char sock[100];
	char conf[128];
	char log[128];
	pid_t pid;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int try_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Starts virqd with the config text (socket line added) and extra flags; waits for the
 * socket to answer. */
static pid_t spawn(struct daemon *d, const char *extra_flag)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(virq_test_bin("bin/virqd"), "virqd", "--config", d->conf, "--socket", d->sock,
		      "--metrics", "off", extra_flag ? extra_flag : "--foreground", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void wait_listening(struct daemon *d)
{
	int64_t end = now_ms() + 15000;

	for (;;) {
		int fd = try_connect(d->sock), st;

		if (fd >= 0) {
			close(fd);
			return;
		}
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			char cmd[200];

			snprintf(cmd, sizeof(cmd), "cat %s", d->log);
			if (system(cmd) < 0)
				break;
			fail_msg("virqd exited during start-up (status %d)", st);
		}
		assert_true(now_ms() < end);
		usleep(20000);
	}
}

static void start(struct daemon *d, const char *conf_text, const char *extra_flag)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/virq-e2e-XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	chmod(d->dir, 0755);
	snprintf(d->sock, sizeof(d->sock), "%s/virqd.sock", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/virqd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/virqd.log", d->dir);
	write_text(d->conf, conf_text ? conf_text : "");
	d->pid = spawn(d, extra_flag);
	wait_listening(d);
}

/* SIGTERM, wait; returns the exit status. */
static int stop(struct daemon *d)
{
	int st = -1;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		assert_int_equal(waitpid(d->pid, &st, 0), d->pid);
		d->pid = 0;
	}
	return st;
}

static void cleanup(struct daemon *d)
{
	char cmd[128];

	if (d->pid > 0)
		stop(d);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
	if (system(cmd) != 0)
		print_message("# could not remove %s\n", d->dir);
}

/* ---- a tiny client ----------------------------------------------------------------------- */

struct conn {
	int fd;
	struct virq_frame_reader rd;
};

static void conn_open(struct conn *c, const char *sock)
{
	c->fd = try_connect(sock);
	assert_true(c->fd >= 0);
	assert_int_equal(virq_frame_reader_init(&c->rd, VIRQ_PROTO_MAX_FRAME), 0);
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	virq_frame_reader_fini(&c->rd);
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		assert_true(n > 0);
		buf += n;
		len -= (size_t)n;
	}
}

/* Next reply or event; 0, or -1 on EOF/timeout. */
static int recv_msg(struct conn *c, struct virq_proto_reply *r, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	char err[128];

	for (;;) {
		const char *line;
		size_t len, avail;
		enum virq_frame_status s = virq_frame_reader_next(&c->rd, &line, &len);
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		char *space;
		ssize_t n;

		if (s == VIRQ_FRAME_LINE) {
			assert_int_equal(virq_proto_reply_parse(line, len, r, err, sizeof(err)), 0);
			return 0;
		}
		assert_int_not_equal(s, VIRQ_FRAME_OVERSIZE);
		if (poll(&pfd, 1, (int)(end - now_ms())) <= 0)
			return -1;
		space = virq_frame_reader_space(&c->rd, &avail);
		n = read(c->fd, space, avail);
		if (n <= 0)
			return -1;
		virq_frame_reader_commit(&c->rd, (size_t)n);
	}
}

/* One request (args JSON text or NULL); returns the error code (VIRQ_E_OK on success). */
static enum virq_proto_err rpc(struct conn *c, int64_t id, const char *cmd, const char *args,
			       struct virq_proto_reply *out)
{
	char buf[4096];
	struct virq_proto_reply r;
	enum virq_proto_err e;
	int n = snprintf(buf, sizeof(buf), "{\"v\":1,\"id\":%lld,\"cmd\":\"%s\"%s%s}\n",
			 (long long)id, cmd, args ? ",\"args\":" : "", args ? args : "");

	send_all(c->fd, buf, (size_t)n);
	assert_int_equal(recv_msg(c, &r, 20000), 0);
	assert_false(r.is_event);
	assert_true(r.has_id);
	assert_int_equal(r.id, id);
	e = r.err;
	if (out)
		*out = r;
	else
		virq_proto_reply_fini(&r);
	return e;
}

static const char *kvm_why(void)
{
	return access("/dev/kvm", F_OK) ? "no /dev/kvm" : NULL;
}

/* ---- tests --------------------------------------------------------------------------------- */

/* Every command gets exactly one reply that is a result or a code from the closed list,
 * and the read-only ones succeed on an observe-only daemon. */
static void test_every_command_answers_result_or_listed_error(void **state)
{
	struct daemon d = { 0 };
	struct conn c;

	start(&d, "", "--no-bpf");
	conn_open(&c, d.sock);
	for (int i = 0; i < VIRQ_CMD__COUNT; i++) {
		const struct virq_proto_cmd_info *ci = virq_proto_cmd_info(i);
		struct virq_proto_reply r;
		enum virq_proto_err e;

		if (i == VIRQ_CMD_TRACE_SUBSCRIBE)
			continue; /* switches the connection; tested on its own */
		e = rpc(&c, 100 + i, ci->name, NULL, &r);
		assert_true(e < VIRQ_E__COUNT);
		switch (i) {
		case VIRQ_CMD_VERSION:
		case VIRQ_CMD_CAPABILITIES:
		case VIRQ_CMD_STATUS:
		case VIRQ_CMD_VM_LIST:
		case VIRQ_CMD_HOST_VMS:
		case VIRQ_CMD_METRICS_SNAPSHOT:
		case VIRQ_CMD_VM_CROSSCHECK:
			assert_int_equal(e, VIRQ_E_OK);
			assert_non_null(r.result);
			break;
		case VIRQ_CMD_TRACE_POINTS:
			assert_int_equal(e, VIRQ_E_BPF_UNAVAILABLE); /* --no-bpf */
			break;
		case VIRQ_CMD_VM_CREATE:
			assert_int_equal(e, kvm_why() ? VIRQ_E_KVM_UNAVAILABLE : VIRQ_E_OK);
			break;
		default: /* the VM commands without "vm" */
			assert_int_equal(e, VIRQ_E_BAD_ARGS);
			break;
		}
		virq_proto_reply_fini(&r);
	}
	/* A VM that does not exist, with otherwise valid arguments: observe-only, there
	 * are no VMs to look in (kvm_unavailable, step 9, before not_found). */
	assert_int_equal(rpc(&c, 1, "vm.pause", "{\"vm\":\"nope\"}", NULL),
			 kvm_why() ? VIRQ_E_KVM_UNAVAILABLE : VIRQ_E_NOT_FOUND);
	assert_int_equal(rpc(&c, 2, "vm.inject", "{\"vm\":\"nope\",\"type\":\"nmi\"}", NULL),
			 kvm_why() ? VIRQ_E_KVM_UNAVAILABLE : VIRQ_E_NOT_FOUND);
	/* A VM id is an integer: 1.7 is not VM 1. */
	assert_int_equal(rpc(&c, 10, "vm.stats", "{\"vm\":1.7}", NULL), VIRQ_E_BAD_ARGS);
	assert_int_equal(
		rpc(&c, 3, "vm.inject", "{\"vm\":\"x\",\"type\":\"gsi\",\"gsi\":24}", NULL),
		VIRQ_E_BAD_ARGS);
	assert_int_equal(rpc(&c, 4, "vm.create", "{\"vcpus\":0}", NULL), VIRQ_E_BAD_ARGS);
	assert_int_equal(rpc(&c, 5, "vm.create", "{\"irqchip\":\"posted\"}", NULL),
			 VIRQ_E_BAD_ARGS);
	assert_int_equal(rpc(&c, 6, "vm.create", "{\"vcpu\":2}", NULL), VIRQ_E_BAD_ARGS);
	assert_int_equal(rpc(&c, 7, "status", "{\"x\":1}", NULL), VIRQ_E_BAD_ARGS);
	assert_int_equal(rpc(&c, 8, "trace.subscribe", NULL, NULL), VIRQ_E_BPF_UNAVAILABLE);
	assert_int_equal(rpc(&c, 9, "vm.crosscheck", "{\"vm\":\"nope\"}", NULL), VIRQ_E_NOT_FOUND);
	conn_close(&c);
	assert_int_equal(stop(&d), 0);
	cleanup(&d);
}

/* xorshift64*: deterministic per seed so a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* One malformed or random frame (no newline inside, not blank) into buf; its length. */
static size_t gen_frame(char *buf, size_t cap)
{
	static const char *const pieces[] = {
		"{",
		"}",
		"[",
		"]",
		":",
		",",
		"\"v\"",
		"\"id\"",
		"\"cmd\"",
		"\"args\"",
		"1",
		"-1",
		"1e308",
		"0.5",
		"null",
		"true",
		"\"\"",
		"\"status\"",
		"\"vm.inject\"",
		"{}",
		"[]",
		"\"\\u0000\"",
		"9007199254740993",
		"\"\\ud800\"",
		"\"vm\"",
		"\"type\"",
	};
	static const char *const valid[] = {
		"{\"v\":1,\"id\":1,\"cmd\":\"status\"}",
		"{\"v\":1,\"id\":2,\"cmd\":\"vm.inject\",\"args\":{\"vm\":\"a\",\"type\":\"msi\","
		"\"vcpu\":0,\"vector\":64}}",
		"{\"v\":1,\"id\":3,\"cmd\":\"vm.create\",\"args\":{\"name\":\"x\",\"vcpus\":2}}",
		"{\"v\":1,\"id\":4,\"cmd\":\"vm.ledger\",\"args\":{\"vm\":\"a\",\"vcpu\":1}}",
	};
	size_t n = 0;
	unsigned int kind = (unsigned int)(rnd() % 4);

	if (kind == 0) { /* random bytes */
		size_t len = 1 + rnd() % 200;

		for (; n < len && n < cap; n++)
			buf[n] = (char)(rnd() & 0xff);
	} else if (kind == 1) { /* token soup */
		size_t k = 1 + rnd() % 30;

		for (size_t i = 0; i < k; i++) {
			const char *p = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
			size_t l = strlen(p);

			if (n + l >= cap)
				break;
			memcpy(buf + n, p, l);
			n += l;
		}
	} else { /* a valid request, mutated (kind 2) or with a byte range cut (kind 3) */
		const char *v = valid[rnd() % (sizeof(valid) / sizeof(valid[0]))];

		n = strlen(v);
		memcpy(buf, v, n);
		if (kind == 2) {
			for (int i = 0, m = 1 + (int)(rnd() % 4); i < m; i++)
				buf[rnd() % n] = (char)(rnd() & 0xff);
		} else {
			size_t at = rnd() % n, cut = 1 + rnd() % (n - at);

			memmove(buf + at, buf + at + cut, n - at - cut);
			n -= cut;
			if (!n)
				buf[n++] = '{';
		}
	}
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	/* A frame that is empty after dropping one trailing '\r' is a keep-alive: make
	 * sure this one is not. */
	if (buf[0] == '\r' && n == 1)
		buf[0] = '?';
	return n;
}

static void test_ten_thousand_malformed_frames_each_get_one_reply(void **state)
{
	enum { FRAMES = 10000, BATCH = 50 };
	struct daemon d = { 0 };
	struct conn c;
	char *batch = malloc(BATCH * 260);
	unsigned int by_code[VIRQ_E__COUNT] = { 0 };

	start(&d, "", "--no-bpf");
	conn_open(&c, d.sock);
	for (int sent = 0; sent < FRAMES; sent += BATCH) {
		size_t len = 0;

		for (int i = 0; i < BATCH; i++) {
			len += gen_frame(batch + len, 256);
			batch[len++] = '\n';
		}
		send_all(c.fd, batch, len);
		for (int i = 0; i < BATCH; i++) {
			struct virq_proto_reply r;

			assert_int_equal(recv_msg(&c, &r, 10000), 0);
			assert_false(r.is_event);
			assert_true(r.err < VIRQ_E__COUNT);
			by_code[r.err]++;
			virq_proto_reply_fini(&r);
		}
	}
	print_message("# replies: ok %u bad_json %u bad_request %u unknown_command %u "
		      "bad_args %u unsupported_version %u other %u\n",
		      by_code[VIRQ_E_OK], by_code[VIRQ_E_BAD_JSON], by_code[VIRQ_E_BAD_REQUEST],
		      by_code[VIRQ_E_UNKNOWN_COMMAND], by_code[VIRQ_E_BAD_ARGS],
		      by_code[VIRQ_E_UNSUPPORTED_VERSION],
		      FRAMES - by_code[VIRQ_E_OK] - by_code[VIRQ_E_BAD_JSON] -
			      by_code[VIRQ_E_BAD_REQUEST] - by_code[VIRQ_E_UNKNOWN_COMMAND] -
			      by_code[VIRQ_E_BAD_ARGS] - by_code[VIRQ_E_UNSUPPORTED_VERSION]);
	assert_true(by_code[VIRQ_E_BAD_JSON] > 1000);
	/* Still answering, on the same connection and on a new one. */
	assert_int_equal(rpc(&c, 77, "version", NULL, NULL), VIRQ_E_OK);
	conn_close(&c);
	conn_open(&c, d.sock);
	assert_int_equal(rpc(&c, 78, "status", NULL, NULL), VIRQ_E_OK);
	conn_close(&c);
	free(batch);
	assert_int_equal(stop(&d), 0);
	cleanup(&d);
}

static void test_oversize_frame_gets_too_large_and_connection_stays_usable(void **state)
{
	struct daemon d = { 0 };
	size_t big = VIRQ_PROTO_MAX_FRAME + 4096;
	char *buf = malloc(big + 1);
	struct virq_proto_reply r;
	struct conn c;
	const char *req = "{\"v\":1,\"id\":5,\"cmd\":\"version\"}";

	start(&d, "", "--no-bpf");
	conn_open(&c, d.sock);
	memset(buf, 'a', big);
	buf[big] = '\n';
	send_all(c.fd, buf, big + 1);
	assert_int_equal(recv_msg(&c, &r, 10000), 0);
	assert_int_equal(r.err, VIRQ_E_TOO_LARGE);
	assert_false(r.has_id);
	virq_proto_reply_fini(&r);
	assert_int_equal(rpc(&c, 6, "version", NULL, NULL), VIRQ_E_OK);

	/* Exactly the limit is accepted: a valid request padded with spaces to 1 MiB. */
	memset(buf, ' ', VIRQ_PROTO_MAX_FRAME);
	memcpy(buf, req, strlen(req));
	buf[VIRQ_PROTO_MAX_FRAME] = '\n';
	send_all(c.fd, buf, VIRQ_PROTO_MAX_FRAME + 1);
	assert_int_equal(recv_msg(&c, &r, 10000), 0);
	assert_int_equal(r.err, VIRQ_E_OK);
	assert_int_equal(r.id, 5);
	virq_proto_reply_fini(&r);
	conn_close(&c);
	free(buf);
	assert_int_equal(stop(&d), 0);
	cleanup(&d);
}

static double status_num(struct conn *c, const char *obj, const char *key)
{
	struct virq_proto_reply r;
	const cJSON *o;
	double v;

	assert_int_equal(rpc(c, 900, "status", NULL, &r), VIRQ_E_OK);
	o = obj ? cJSON_GetObjectItemCaseSensitive(r.result, obj) : r.result;
	v = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
	virq_proto_reply_fini(&r);
	return v;
}

static void test_slow_reader_is_dropped_and_counted(void **state)
{
	struct daemon d = { 0 };
	struct conn slow, c;
	const char *req = "{\"v\":1,\"id\":1,\"cmd\":\"capabilities\"}\n";
	size_t rl = strlen(req);
	int64_t end;
	bool dropped = false;

	start(&d, "client_queue_kib 64\n", "--no-bpf");
	conn_open(&slow, d.sock);
	fcntl(slow.fd, F_SETFL, O_NONBLOCK);
	/* Pipeline requests and never read: replies fill the socket, then the queue. */
	end = now_ms() + 20000;
	while (!dropped && now_ms() < end) {
		ssize_t n = send(slow.fd, req, rl, MSG_NOSIGNAL);

		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			dropped = true;
		else if (n < 0)
			usleep(1000);
	}
	assert_true(dropped);
	conn_open(&c, d.sock);
	assert_true(status_num(&c, "control", "dropped_slow") >= 1);
	assert_int_equal(rpc(&c, 2, "version", NULL, NULL), VIRQ_E_OK);
	conn_close(&c);
	conn_close(&slow);
	assert_int_equal(stop(&d), 0);
	cleanup(&d);
}

static void test_client_limit_refuses_with_too_many_clients(void **state)
{
	struct daemon d = { 0 };
	struct conn c[4], extra;
	struct virq_proto_reply r;

	start(&d, "max_clients 3\n", "--no-bpf");
	for (int i = 0; i < 3; i++) {
		conn_open(&c[i], d.sock);
		assert_int_equal(rpc(&c[i], i, "version", NULL, NULL), VIRQ_E_OK);
	}
	conn_open(&extra, d.sock);
	assert_int_equal(recv_msg(&extra, &r, 5000), 0);
	assert_int_equal(r.err, VIRQ_E_TOO_MANY_CLIENTS);
	virq_proto_reply_fini(&r);
	assert_int_equal(recv_msg(&extra, &r, 5000), -1); /* then closed */
	conn_close(&extra);
	conn_close(&c[0]);
	usleep(100000);
	conn_open(&c[3], d.sock);
	assert_int_equal(rpc(&c[3], 9, "version", NULL, NULL), VIRQ_E_OK);
	assert_true(status_num(&c[3], "control", "refused") >= 1);
	for (int i = 1; i < 4; i++)
		conn_close(&c[i]);
	assert_int_equal(stop(&d), 0);
	cleanup(&d);
}

static void test_sigterm_stops_cleanly_and_removes_socket(void **state)
{
	struct daemon d = { 0 };
	struct stat st;
	int status;

	start(&d, "", NULL); /* with BPF when we may: detaching is part of shutdown */
	assert_int_equal(stat(d.sock, &st), 0);
	status = stop(&d);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(stat(d.sock, &st), -1);
	assert_int_equal(errno, ENOENT);
	cleanup(&d);
}

static void test_restart_over_stale_socket_replaces_it(void **state)
{
	struct daemon d = { 0 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct conn c;
	int fd;

	snprintf(d.dir, sizeof(d.dir), "/tmp/virq-e2e-XXXXXX");
	assert_non_null(mkdtemp(d.dir));
	snprintf(d.sock, sizeof(d.sock), "%s/virqd.sock", d.dir);
	snprintf(d.conf, sizeof(d.conf), "%s/virqd.conf", d.dir);
	snprintf(d.log, sizeof(d.log), "%s/virqd.log", d.dir);
	write_text(d.conf, "");
	/* What a crashed daemon leaves: a bound socket file nobody listens on. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d.sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(try_connect(d.sock), -1);
	d.pid = spawn(&d, "--no-bpf");
	wait_listening(&d);
	conn_open(&c, d.sock);
	assert_int_equal(rpc(&c, 1, "version", NULL, NULL), VIRQ_E_OK);
	conn_close(&c);
	assert_int_equal(stop(&d), 0);
	cleanup(&d);
}

static void test_second_daemon_on_live_socket_refuses_to_start(void **state)
{
	struct daemon d = { 0 }, d2;
	struct conn c;
	char log[4096] = "";
	pid_t pid;
	int st;
	FILE *f;

	start(&d, "", "--no-bpf");
	d2 = d;
	snprintf(d2.log, sizeof(d2.log), "%s/second.log", d.dir);
	pid = spawn(&d2, "--no-bpf");
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	f = fopen(d2.log, "r");
	assert_non_null(f);
	if (fread(log, 1, sizeof(log) - 1, f) == 0)
		log[0] = '\0';
	fclose(f);
	assert_non_null(strstr(log, "already listening"));
	/* The first one is untouched and its socket still there. */
	conn_open(&c, d.sock);
	assert_int_equal(rpc(&c, 1, "version", NULL, NULL), VIRQ_E_OK);
	conn_close(&c);
	assert_int_equal(stop(&d), 0);
	cleanup(&d);
}

static void test_sighup_reloads_config_and_keeps_old_one_on_error(void **state)
{
	struct daemon d = { 0 };
	struct conn c;

	start(&d, "max_clients 5\n", "--no-bpf");
	conn_open(&c, d.sock);
	assert_true(status_num(&c, "control", "max_clients") == 5);
	write_text(d.conf, "max_clients 7\n");
	kill(d.pid, SIGHUP);
	usleep(300000);
	assert_true(status_num(&c, "control", "max_clients") == 7);
	assert_true(status_num(&c, "counters", "reloads") == 1);
	write_text(d.conf, "max_clients 9\nbogus line\n");
	kill(d.pid, SIGHUP);
	usleep(300000);
	assert_true(status_num(&c, "control", "max_clients") == 7);
	assert_true(status_num(&c, "counters", "reload_errors") == 1);
	conn_close(&c);
	assert_int_equal(stop(&d), 0);
	cleanup(&d);
}

static void test_config_error_at_startup_names_file_and_line(void **state)
{
	struct daemon d = { 0 };
	char log[4096] = "", want[160];
	int st;
	FILE *f;

	snprintf(d.dir, sizeof(d.dir), "/tmp/virq-e2e-XXXXXX");
	assert_non_null(mkdtemp(d.dir));
	snprintf(d.sock, sizeof(d.sock), "%s/virqd.sock", d.dir);
	snprintf(d.conf, sizeof(d.conf), "%s/virqd.conf", d.dir);
	snprintf(d.log, sizeof(d.log), "%s/virqd.log", d.dir);
	write_text(d.conf, "# comment\nmax_clients 4\nsocket_mode 0999\n");
	d.pid = spawn(&d, "--no-bpf");
	assert_int_equal(waitpid(d.pid, &st, 0), d.pid);
	d.pid = 0;
	assert_int_equal(WEXITSTATUS(st), 1);
	f = fopen(d.log, "r");
	assert_non_null(f);
	if (fread(log, 1, sizeof(log) - 1, f) == 0)
		log[0] = '\0';
	fclose(f);
	snprintf(want, sizeof(want), "%s:3: bad octal mode '0999'", d.conf);
	assert_non_null(strstr(log, want));
	assert_int_equal(access(d.sock, F_OK), -1);
	cleanup(&d);
}

/* A client that is neither root nor in the group: reads allowed, changes refused. */
static void test_unprivileged_peer_may_read_but_not_mutate(void **state)
{
	struct daemon d = { 0 };
	pid_t pid;
	int st;

	if (geteuid() != 0)
		VIRQ_SKIP("needs root to switch the client to uid 65534");
	start(&d, "socket_mode 0666\n", "--no-bpf");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct conn c;
		int bad = 0;

		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(10);
		conn_open(&c, d.sock);
		bad |= rpc(&c, 1, "status", NULL, NULL) != VIRQ_E_OK;
		bad |= rpc(&c, 2, "vm.list", NULL, NULL) != VIRQ_E_OK;
		bad |= (rpc(&c, 3, "vm.create", "{\"vcpus\":1}", NULL) != VIRQ_E_PERMISSION_DENIED)
		       << 1;
		bad |= (rpc(&c, 4, "vm.destroy", "{\"vm\":\"a\"}", NULL) !=
			VIRQ_E_PERMISSION_DENIED)
		       << 2;
		bad |= (rpc(&c, 5, "vm.inject", "{\"vm\":\"a\",\"type\":\"nmi\"}", NULL) !=
			VIRQ_E_PERMISSION_DENIED)
		       << 3;
		bad |= rpc(&c, 6, "version", NULL, NULL) != VIRQ_E_OK; /* still usable */
		conn_close(&c);
		_exit(bad);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(stop(&d), 0);
	cleanup(&d);
}

static void test_trace_subscribe_switches_connection_to_events(void **state)
{
	struct daemon d = { 0 };
	struct virq_proto_reply r;
	struct conn c;
	const cJSON *s;

	VIRQ_REQUIRE_BPF();
	start(&d, "", NULL);
	conn_open(&c, d.sock);
	assert_int_equal(rpc(&c, 1, "trace.points", NULL, &r), VIRQ_E_OK);
	assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.result, "points")) >= 17);
	{
		/* what the programs could not record is said, zero or not */
		const cJSON *lost = cJSON_GetObjectItemCaseSensitive(r.result, "lost");

		assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(lost, "counter_full")));
		assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(lost, "hist_full")));
		assert_true(
			cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(lost, "pair_displaced")));
	}
	virq_proto_reply_fini(&r);
	assert_int_equal(rpc(&c, 2, "trace.subscribe", NULL, &r), VIRQ_E_OK);
	s = cJSON_GetObjectItemCaseSensitive(r.result, "streaming");
	assert_true(cJSON_IsTrue(s));
	virq_proto_reply_fini(&r);
	{
		/* The daemon now counts this client as a subscriber. */
		struct conn c2;

		conn_open(&c2, d.sock);
		assert_true(status_num(&c2, "control", "subscribers") == 1);
		conn_close(&c2);
	}
	conn_close(&c);
	assert_int_equal(stop(&d), 0);
	cleanup(&d);
}

/* sd_notify: READY=1 only once the socket accepts, a STATUS= naming the degradation, and
 * STOPPING=1 on SIGTERM. */
static void test_sd_notify_ready_after_listen_then_stopping(void **state)
{
	struct daemon d = { 0 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char msgs[4096] = "", path[100];
	size_t used = 0;
	int nfd, cfd;
	bool ready = false;
	int64_t end;

	snprintf(d.dir, sizeof(d.dir), "/tmp/virq-e2e-XXXXXX");
	assert_non_null(mkdtemp(d.dir));
	snprintf(d.sock, sizeof(d.sock), "%s/virqd.sock", d.dir);
	snprintf(d.conf, sizeof(d.conf), "%s/virqd.conf", d.dir);
	snprintf(d.log, sizeof(d.log), "%s/virqd.log", d.dir);
	snprintf(path, sizeof(path), "%s/notify", d.dir);
	write_text(d.conf, "");
	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(nfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("NOTIFY_SOCKET", path, 1);
	d.pid = spawn(&d, "--no-bpf");
	unsetenv("NOTIFY_SOCKET");
	end = now_ms() + 15000;
	while (!ready && now_ms() < end) {
		struct pollfd pfd = { .fd = nfd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = recv(nfd, msgs + used, sizeof(msgs) - used - 1, 0);
		assert_true(n > 0);
		msgs[used + (size_t)n] = '\0';
		if (strstr(msgs + used, "READY=1")) {
			ready = true;
			/* By the time READY=1 is sent the socket must already accept. */
			cfd = try_connect(d.sock);
			assert_true(cfd >= 0);
			close(cfd);
		}
		used += (size_t)n;
		msgs[used++] = '\n';
	}
	assert_true(ready);
	kill(d.pid, SIGTERM);
	end = now_ms() + 10000;
	while (!strstr(msgs, "STOPPING=1") && now_ms() < end && used < sizeof(msgs) - 256) {
		struct pollfd pfd = { .fd = nfd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = recv(nfd, msgs + used, sizeof(msgs) - used - 1, 0);
		if (n <= 0)
			break;
		used += (size_t)n;
		msgs[used] = '\0';
	}
	assert_non_null(strstr(msgs, "STATUS=degraded"));
	assert_non_null(strstr(msgs, "STOPPING=1"));
	assert_int_equal(waitpid(d.pid, NULL, 0), d.pid);
	d.pid = 0;
	close(nfd);
	cleanup(&d);
}

/* Bad input at the edges: out-of-range numbers, bad metrics addresses, scenarios that do
 * not fit; each gets a clear error, the daemon keeps serving. */
static void test_bad_arguments_and_addresses_get_clear_errors(void **state)
{
	struct daemon d = { 0 };
	struct virq_proto_reply r;
	char log[4096] = "", want[200];
	struct conn c;
	int st;
	FILE *f;

	start(&d, "max_scenarios 2\n", "--no-bpf");
	conn_open(&c, d.sock);
	/* A huge or negative id: a range error, not a float-to-int overflow. */
	assert_int_equal(rpc(&c, 1, "vm.crosscheck", "{\"vm\":1e300}", &r), VIRQ_E_BAD_ARGS);
	assert_non_null(strstr(r.err_msg, "name or an id"));
	virq_proto_reply_fini(&r);
	assert_int_equal(rpc(&c, 2, "vm.crosscheck", "{\"vm\":-1}", NULL), VIRQ_E_BAD_ARGS);
	assert_int_equal(rpc(&c, 3, "vm.crosscheck", "{\"vm\":4294967296}", NULL), VIRQ_E_BAD_ARGS);
	assert_int_equal(rpc(&c, 4, "vm.crosscheck", "{\"vm\":7}", NULL), VIRQ_E_NOT_FOUND);
	assert_int_equal(rpc(&c, 5, "vm.scenario", "{\"vm\":1e300,\"scenario\":\"default\"}", NULL),
			 VIRQ_E_BAD_ARGS);
	assert_int_equal(rpc(&c, 6, "vm.scenario", "{\"vm\":\"x\",\"scenario\":42}", NULL),
			 VIRQ_E_BAD_ARGS);
	/* The status shows the scenario workers and their bound. */
	assert_true(status_num(&c, "scenarios", "max") == 2);
	assert_true(status_num(&c, "scenarios", "running") == 0);
	assert_true(status_num(&c, "control", "deferred") == 0);
	conn_close(&c);
	assert_int_equal(stop(&d), 0);
	cleanup(&d);

	/* A metrics port that is not a number: a configuration error naming the line, not a
	 * silent listen on a random port. */
	snprintf(d.dir, sizeof(d.dir), "/tmp/virq-e2e-XXXXXX");
	assert_non_null(mkdtemp(d.dir));
	snprintf(d.sock, sizeof(d.sock), "%s/virqd.sock", d.dir);
	snprintf(d.conf, sizeof(d.conf), "%s/virqd.conf", d.dir);
	snprintf(d.log, sizeof(d.log), "%s/virqd.log", d.dir);
	write_text(d.conf, "metrics 127.0.0.1:http\n");
	d.pid = spawn(&d, "--no-bpf");
	assert_int_equal(waitpid(d.pid, &st, 0), d.pid);
	d.pid = 0;
	assert_int_equal(WEXITSTATUS(st), 1);
	f = fopen(d.log, "r");
	assert_non_null(f);
	if (fread(log, 1, sizeof(log) - 1, f) == 0)
		log[0] = '\0';
	fclose(f);
	snprintf(want, sizeof(want), "%s:1: metrics wants host:port", d.conf);
	assert_non_null(strstr(log, want));
	cleanup(&d);
}

/* ---- with /dev/kvm ---------------------------------------------------------------------- */

/* vm.scenario runs on a worker: other connections are served meanwhile, the requester gets
 * its reply when it completes, a second one on the same VM is busy, and so is destroying
 * the VM under it. */
static void test_scenario_runs_off_the_loop_and_same_vm_is_busy(void **state)
{
	struct daemon d = { 0 };
	struct conn a, b, c;
	struct virq_proto_reply r;
	int64_t t0, t_status, t_done;
	char buf[512];
	int n, e;

	VIRQ_REQUIRE_KVM();
	start(&d, "", "--no-bpf");
	conn_open(&a, d.sock);
	conn_open(&b, d.sock);
	conn_open(&c, d.sock);
	assert_int_equal(rpc(&a, 1, "vm.create", "{\"name\":\"k\",\"vcpus\":2}", NULL), VIRQ_E_OK);
	assert_int_equal(rpc(&a, 2, "vm.create",
			     "{\"name\":\"u\",\"vcpus\":2,\"irqchip\":\"user\",\"posted\":true}",
			     NULL),
			 VIRQ_E_OK);
	/* A scenario that takes about a second (sleeps), on k; the reply is deferred. Each
	 * MSI waits for the guest's handler (sync): sent faster, a kernel-mode MSI can merge
	 * into one still pending in KVM's IRR and the exact count would depend on speed. */
	n = snprintf(buf, sizeof(buf),
		     "{\"v\":1,\"id\":10,\"cmd\":\"vm.scenario\",\"args\":{\"vm\":\"k\","
		     "\"scenario\":{\"vm\":{\"vcpus\":2},\"timeline\":["
		     "{\"action\":\"sleep\",\"us\":200000,\"repeat\":5},"
		     "{\"action\":\"msi\",\"vcpu\":1,\"vector\":80,\"repeat\":10,"
		     "\"sync_vcpu\":1,\"sync_vector\":80}],"
		     "\"expect\":[{\"vcpu\":1,\"vector\":80,\"count\":10}]}}}\n");
	t0 = now_ms();
	send_all(a.fd, buf, (size_t)n);
	usleep(100000);
	/* Others are served while it runs (its sleeps alone last 1 s). */
	assert_int_equal(rpc(&b, 11, "status", NULL, NULL), VIRQ_E_OK);
	t_status = now_ms();
	assert_true(status_num(&b, "scenarios", "running") >= 1);
	assert_int_equal(rpc(&b, 12, "vm.scenario", "{\"vm\":\"k\",\"scenario\":\"default\"}", &r),
			 VIRQ_E_BUSY);
	assert_non_null(strstr(r.err_msg, "already running"));
	virq_proto_reply_fini(&r);
	assert_int_equal(rpc(&b, 13, "vm.destroy", "{\"vm\":\"k\"}", NULL), VIRQ_E_BUSY);
	/* Another VM's scenario runs concurrently (its own worker). How long it takes does
	 * not matter (under emulation it can outlast k's): only that it is not refused. */
	e = rpc(&c, 14, "vm.scenario", "{\"vm\":\"u\",\"scenario\":\"default\"}", &r);
	if (e != VIRQ_E_OK)
		print_message("# vm.scenario u: %s\n", r.err_msg);
	assert_int_equal(e, VIRQ_E_OK);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.result, "pass")));
	virq_proto_reply_fini(&r);
	/* The requester's reply arrives when its scenario is done. */
	assert_int_equal(recv_msg(&a, &r, 20000), 0);
	t_done = now_ms();
	assert_int_equal(r.id, 10);
	assert_int_equal(r.err, VIRQ_E_OK);
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.result, "pass")))
		print_message("# %s\n", cJSON_PrintUnformatted(r.result));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.result, "pass")));
	virq_proto_reply_fini(&r);
	assert_true(t_done - t0 >= 1000); /* the sleeps really ran */
	assert_true(t_status < t_done); /* ... and the others did not wait for them */
	/* Done: the VM is free again. */
	assert_int_equal(rpc(&a, 15, "vm.destroy", "{\"vm\":\"k\"}", NULL), VIRQ_E_OK);
	conn_close(&a);
	conn_close(&b);
	conn_close(&c);
	assert_int_equal(stop(&d), 0);
	cleanup(&d);
}

/* Two VMs (user-mode posted and kernel mode, 2 vCPUs each) after the default scenario:
 * per-path rows exist for both, nothing is lost/spurious/misrouted, and with BPF each VM's
 * kernel events are attributed to it by its vCPU threads. */
static void test_crosscheck_two_vms_per_path_and_attributed(void **state)
{
	const char *bpf = virq_test_bpf_missing() ? "--no-bpf" : "--foreground";
	struct daemon d = { 0 };
	struct virq_proto_reply r;
	const cJSON *ck, *a;
	struct conn c;
	int msi_rows = 0, ipi_rows = 0, posted_rows = 0, bad = 0, attributed = 0;

	VIRQ_REQUIRE_KVM();
	start(&d, "", bpf);
	conn_open(&c, d.sock);
	assert_int_equal(rpc(&c, 1, "vm.create",
			     "{\"name\":\"du\",\"vcpus\":2,\"irqchip\":\"user\",\"posted\":true}",
			     NULL),
			 VIRQ_E_OK);
	assert_int_equal(rpc(&c, 2, "vm.create",
			     "{\"name\":\"dk\",\"vcpus\":2,\"irqchip\":\"kernel\"}", NULL),
			 VIRQ_E_OK);
	assert_int_equal(
		rpc(&c, 3, "vm.scenario", "{\"vm\":\"du\",\"scenario\":\"default\"}", NULL),
		VIRQ_E_OK);
	assert_int_equal(
		rpc(&c, 4, "vm.scenario", "{\"vm\":\"dk\",\"scenario\":\"default\"}", NULL),
		VIRQ_E_OK);
	assert_int_equal(rpc(&c, 5, "vm.pause", "{\"vm\":\"du\"}", NULL), VIRQ_E_OK);
	assert_int_equal(rpc(&c, 6, "vm.pause", "{\"vm\":\"dk\"}", NULL), VIRQ_E_OK);
	assert_int_equal(rpc(&c, 7, "vm.crosscheck", NULL, &r), VIRQ_E_OK);
	cJSON_ArrayForEach(ck, cJSON_GetObjectItemCaseSensitive(r.result, "checks"))
	{
		const char *vm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ck, "vm"));
		const char *path =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ck, "path"));
		const char *v =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ck, "verdict"));

		if (!strcmp(v, "lost") || !strcmp(v, "spurious") || !strcmp(v, "misrouted")) {
			print_message("# %s\n", cJSON_PrintUnformatted(ck));
			bad++;
		}
		msi_rows += !strcmp(vm, "dk") && !strcmp(path, "msi");
		ipi_rows += !strcmp(path, "ipi");
		posted_rows += !strcmp(vm, "du") && !strcmp(path, "posted");
	}
	cJSON_ArrayForEach(
		a, cJSON_GetObjectItemCaseSensitive(
			   cJSON_GetObjectItemCaseSensitive(r.result, "sources"), "attribution"))
	{
		attributed +=
			!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "bpf")),
				"vcpu-threads");
		assert_int_equal(
			cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a, "vector_conflicts")),
			0);
	}
	virq_proto_reply_fini(&r);
	assert_int_equal(bad, 0);
	assert_true(msi_rows >= 1); /* per-path rows run: vectors are attributed to paths */
	assert_true(posted_rows >= 1);
	assert_true(ipi_rows >= 1);
	if (!virq_test_bpf_missing())
		assert_int_equal(attributed, 2);
	conn_close(&c);
	assert_int_equal(stop(&d), 0);
	cleanup(&d);
}

static void test_sigterm_with_running_vms_stops_them_and_exits_zero(void **state)
{
	struct daemon d = { 0 };
	struct virq_proto_reply r;
	struct conn c;

	VIRQ_REQUIRE_KVM();
	start(&d, "", "--no-bpf");
	conn_open(&c, d.sock);
	assert_int_equal(rpc(&c, 1, "vm.create",
			     "{\"name\":\"u\",\"vcpus\":2,\"irqchip\":\"user\",\"posted\":true}",
			     NULL),
			 VIRQ_E_OK);
	assert_int_equal(rpc(&c, 2, "vm.create", "{\"name\":\"k\",\"vcpus\":2}", NULL), VIRQ_E_OK);
	assert_int_equal(rpc(&c, 3, "vm.create", "{\"name\":\"k\"}", NULL), VIRQ_E_EXISTS);
	assert_int_equal(rpc(&c, 4, "vm.scenario", "{\"vm\":\"k\",\"scenario\":\"default\"}", &r),
			 VIRQ_E_OK);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.result, "pass")));
	virq_proto_reply_fini(&r);
	assert_int_equal(rpc(&c, 5, "vm.pause", "{\"vm\":\"u\"}", NULL), VIRQ_E_OK);
	assert_int_equal(rpc(&c, 6, "vm.resume", "{\"vm\":\"u\"}", NULL), VIRQ_E_OK);
	assert_int_equal(
		rpc(&c, 7, "vm.inject",
		    "{\"vm\":\"u\",\"type\":\"msi\",\"vcpu\":1,\"vector\":80,\"count\":10}", NULL),
		VIRQ_E_OK);
	assert_int_equal(rpc(&c, 8, "vm.ledger", "{\"vm\":\"u\"}", NULL), VIRQ_E_OK);
	assert_int_equal(rpc(&c, 9, "vm.stats", "{\"vm\":\"k\"}", NULL), VIRQ_E_OK);
	assert_int_equal(rpc(&c, 10, "vm.crosscheck", NULL, NULL), VIRQ_E_OK);
	conn_close(&c);
	assert_int_equal(stop(&d), 0);
	assert_int_equal(access(d.sock, F_OK), -1);
	cleanup(&d);
}

static void test_guest_triple_fault_stops_only_its_vm(void **state)
{
	struct daemon d = { 0 };
	struct virq_proto_reply r;
	struct conn c;
	char scn[1024];
	int n = 0;

	VIRQ_REQUIRE_KVM();
	start(&d, "", "--no-bpf");
	conn_open(&c, d.sock);
	assert_int_equal(rpc(&c, 1, "vm.create", "{\"name\":\"victim\"}", NULL), VIRQ_E_OK);
	assert_int_equal(rpc(&c, 2, "vm.create", "{\"name\":\"bystander\"}", NULL), VIRQ_E_OK);
	/* Zero the IDT gates of the vector and of #NP, #GP and #DF (guest IDT at 0x8000, 16
	 * bytes a gate, SDM 6.14.1), then send that vector: #NP -> #DF -> triple fault. */
	n = snprintf(scn, sizeof(scn), "{\"vm\":{\"vcpus\":1},\"timeline\":[");
	{
		static const int vecs[] = { 0x70, 8, 11, 13 };

		for (int i = 0; i < 4; i++)
			for (int w = 0; w < 4; w++)
				n += snprintf(scn + n, sizeof(scn) - (size_t)n,
					      "{\"action\":\"guest\",\"cmd\":7,\"arg0\":%d,"
					      "\"arg1\":0},",
					      0x8000 + vecs[i] * 16 + w * 4);
	}
	snprintf(scn + n, sizeof(scn) - (size_t)n,
		 "{\"action\":\"msi\",\"vcpu\":0,\"vector\":112}]}");
	{
		char args[1200];

		snprintf(args, sizeof(args), "{\"vm\":\"victim\",\"scenario\":%s}", scn);
		rpc(&c, 3, "vm.scenario", args, NULL); /* ok or vm_stopped: either way it died */
	}
	usleep(1500000);
	assert_int_equal(rpc(&c, 4, "vm.list", NULL, &r), VIRQ_E_OK);
	{
		const cJSON *vm;
		int stopped = 0, running = 0;

		cJSON_ArrayForEach(vm, cJSON_GetObjectItemCaseSensitive(r.result, "vms"))
		{
			const char *name =
				cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(vm, "name"));
			const char *st =
				cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(vm, "state"));

			if (!strcmp(name, "victim") && !strcmp(st, "stopped"))
				stopped++;
			if (!strcmp(name, "bystander") && !strcmp(st, "running"))
				running++;
		}
		assert_int_equal(stopped, 1);
		assert_int_equal(running, 1);
	}
	virq_proto_reply_fini(&r);
	assert_int_equal(rpc(&c, 5, "vm.inject",
			     "{\"vm\":\"victim\",\"type\":\"msi\",\"vcpu\":0,\"vector\":80}", NULL),
			 VIRQ_E_VM_STOPPED);
	assert_int_equal(rpc(&c, 6, "vm.inject",
			     "{\"vm\":\"bystander\",\"type\":\"msi\",\"vcpu\":0,\"vector\":80}",
			     NULL),
			 VIRQ_E_OK);
	assert_true(status_num(&c, "counters", "vm_failures") >= 1);
	conn_close(&c);
	assert_int_equal(stop(&d), 0);
	cleanup(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_command_answers_result_or_listed_error),
		cmocka_unit_test(test_ten_thousand_malformed_frames_each_get_one_reply),
		cmocka_unit_test(test_oversize_frame_gets_too_large_and_connection_stays_usable),
		cmocka_unit_test(test_slow_reader_is_dropped_and_counted),
		cmocka_unit_test(test_client_limit_refuses_with_too_many_clients),
		cmocka_unit_test(test_sigterm_stops_cleanly_and_removes_socket),
		cmocka_unit_test(test_restart_over_stale_socket_replaces_it),
		cmocka_unit_test(test_second_daemon_on_live_socket_refuses_to_start),
		cmocka_unit_test(test_sighup_reloads_config_and_keeps_old_one_on_error),
		cmocka_unit_test(test_config_error_at_startup_names_file_and_line),
		cmocka_unit_test(test_unprivileged_peer_may_read_but_not_mutate),
		cmocka_unit_test(test_trace_subscribe_switches_connection_to_events),
		cmocka_unit_test(test_sd_notify_ready_after_listen_then_stopping),
		cmocka_unit_test(test_bad_arguments_and_addresses_get_clear_errors),
		cmocka_unit_test(test_sigterm_with_running_vms_stops_them_and_exits_zero),
		cmocka_unit_test(test_scenario_runs_off_the_loop_and_same_vm_is_busy),
		cmocka_unit_test(test_crosscheck_two_vms_per_path_and_attributed),
		cmocka_unit_test(test_guest_triple_fault_stops_only_its_vm),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("e2e_ctl", tests, NULL, NULL);
}
