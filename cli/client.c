// SPDX-License-Identifier: MIT
/* The client side of the control protocol: connect, one request, its reply, events. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cjson/cJSON.h>

#include "virqctl.h"

int virqctl_connect(struct virqctl_conn *c, const char *path, int timeout_ms, char *err,
		    size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->next_id = 1;
	c->timeout_ms = timeout_ms;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		r = -errno;
		snprintf(err, errlen, "cannot connect to %s: %s%s", path, strerror(errno),
			 errno == ENOENT || errno == ECONNREFUSED ? " (is virqd running?)" : "");
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return r;
	}
	r = virq_frame_reader_init(&c->rd, VIRQ_PROTO_MAX_FRAME);
	if (r) {
		snprintf(err, errlen, "out of memory");
		close(c->fd);
		c->fd = -1;
	}
	return r;
}

void virqctl_close(struct virqctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	virq_frame_reader_fini(&c->rd);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int virqctl_read(struct virqctl_conn *c, struct virq_proto_reply *r, int timeout_ms, char *err,
		 size_t errlen)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	for (;;) {
		const char *line;
		size_t len, avail;
		enum virq_frame_status s = virq_frame_reader_next(&c->rd, &line, &len);
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		char *space;
		ssize_t n;
		int wait;

		if (s == VIRQ_FRAME_LINE) {
			if (len == 0)
				continue;
			if (virq_proto_reply_parse(line, len, r, err, errlen))
				return -EPROTO;
			return 0;
		}
		if (s == VIRQ_FRAME_OVERSIZE) {
			snprintf(err, errlen, "daemon sent a frame larger than %u bytes",
				 VIRQ_PROTO_MAX_FRAME);
			return -EPROTO;
		}
		wait = deadline < 0 ? -1 : (int)(deadline - now_ms());
		if (deadline >= 0 && wait <= 0) {
			snprintf(err, errlen, "no answer from the daemon within %d ms", timeout_ms);
			return -ETIMEDOUT;
		}
		n = poll(&pfd, 1, wait);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			continue; /* the deadline check above reports it */
		space = virq_frame_reader_space(&c->rd, &avail);
		if (!space) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		n = read(c->fd, space, avail);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "the daemon closed the connection");
			return -EPIPE;
		}
		virq_frame_reader_commit(&c->rd, (size_t)n);
	}
}

int virqctl_call(struct virqctl_conn *c, const char *cmd, cJSON *args, struct virq_proto_reply *r,
		 char *err, size_t errlen)
{
	int64_t id = c->next_id++;
	size_t len, off = 0;
	char *f = virq_proto_request_build(id, cmd, args, &len);
	int ret;

	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (off < len) {
		ssize_t n = send(c->fd, f + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			free(f);
			/* The daemon may have answered and closed before reading us (the
			 * client limit: too_many_clients): that answer, not EPIPE. */
			if ((ret == -EPIPE || ret == -ECONNRESET) &&
			    virqctl_read(c, r, 1000, err, errlen) == 0) {
				if (!r->is_event && !r->has_id)
					return 0;
				virq_proto_reply_fini(r);
			}
			snprintf(err, errlen, "sending to the daemon: %s", strerror(-ret));
			return ret;
		}
		off += (size_t)n;
	}
	free(f);
	for (;;) {
		ret = virqctl_read(c, r, c->timeout_ms, err, errlen);
		if (ret)
			return ret;
		/* A reply without id is the daemon refusing the connection (client limit)
		 * or an error about a frame it could not read: it is the answer. */
		if (!r->is_event && (!r->has_id || r->id == id))
			return 0;
		virq_proto_reply_fini(r);
	}
}
