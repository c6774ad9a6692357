// SPDX-License-Identifier: MIT
/*
 * Control socket server. One listening Unix stream socket, non-blocking clients in the
 * daemon's epoll set, a bounded frame reader and a bounded output queue per client.
 * Every frame gets exactly one reply; only an overflowing output queue (a reader too slow
 * to keep up) or the client limit closes a connection from our side.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cjson/cJSON.h>

#include "ctl.h"

struct out_chunk {
	struct out_chunk *next;
	size_t len, off;
	char data[];
};

struct virq_ctl_client {
	struct virq_evsrc src; /* first: epoll data.ptr */
	struct virq_ctl *ctl;
	struct virq_ctl_client *next, *prev; /* live list */
	struct virq_ctl_client *next_dead;
	struct virq_ctl_peer peer;
	struct virq_frame_reader rd;
	struct out_chunk *out_head, *out_tail;
	size_t out_bytes, out_max;
	bool streaming;
	bool closing; /* write what is queued, then close (too_many_clients) */
	struct virq_ctl_pending *pending; /* a deferred reply is outstanding: input parked */
	bool dead;
	uint32_t ev_mask;
};

struct virq_ctl {
	struct virq_evsrc src; /* the listening socket */
	int epfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	gid_t gid;
	unsigned int max_clients;
	size_t out_max;
	virq_ctl_handler handler;
	void *handler_ctx;
	struct virq_ctl_client *clients, *dead;
	struct virq_ctl_stats st;
};

/* A deferred reply (see ctl.h). c is NULL once the connection closed. */
struct virq_ctl_pending {
	struct virq_ctl_client *c;
	bool has_id;
	int64_t id;
};

static void client_ready(struct virq_evsrc *src, uint32_t events);
static void client_process(struct virq_ctl_client *c);

bool virq_ctl_peer_privileged(const char *proc_root, pid_t pid, uid_t uid, gid_t gid, gid_t group)
{
	char path[64], line[1024];
	bool ok = false;
	FILE *f;

	if (uid == 0)
		return true;
	if (group == (gid_t)-1)
		return false;
	if (gid == group)
		return true;
	/* SO_PEERCRED carries only the primary group; the supplementary ones are in
	 * /proc/PID/status. The pid is the connecting process at connect() time. */
	snprintf(path, sizeof(path), "%s/%d/status", proc_root ? proc_root : "/proc", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "Groups:", 7))
			continue;
		for (p = line + 7;; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if ((gid_t)g == group) {
				ok = true;
				break;
			}
		}
		break;
	}
	fclose(f);
	return ok;
}

static void client_set_events(struct virq_ctl_client *c)
{
	/* While a deferred reply is outstanding, input is not read (EPOLLHUP/EPOLLERR are
	 * always reported, so a peer that goes away is still seen). */
	uint32_t want = (c->pending ? 0 : EPOLLIN | EPOLLRDHUP) | (c->out_head ? EPOLLOUT : 0);
	struct epoll_event ev = { .events = want, .data.ptr = &c->src };

	if (c->dead || want == c->ev_mask)
		return;
	if (epoll_ctl(c->ctl->epfd, EPOLL_CTL_MOD, c->src.fd, &ev) == 0)
		c->ev_mask = want;
}

static void client_close(struct virq_ctl_client *c)
{
	struct virq_ctl *ctl = c->ctl;

	if (c->dead)
		return;
	c->dead = true;
	if (c->pending) {
		c->pending->c = NULL;
		c->pending = NULL;
		ctl->st.deferred_orphaned++;
	}
	epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, c->src.fd, NULL);
	close(c->src.fd);
	c->src.fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->st.clients--;
	if (c->streaming)
		ctl->st.subscribers--;
	c->next_dead = ctl->dead;
	ctl->dead = c;
}

static void client_free(struct virq_ctl_client *c)
{
	struct out_chunk *o, *n;

	for (o = c->out_head; o; o = n) {
		n = o->next;
		free(o);
	}
	virq_frame_reader_fini(&c->rd);
	free(c);
}

/* Writes as much as the socket takes now. 0, or -errno when the peer is gone. */
static int client_flush(struct virq_ctl_client *c)
{
	while (c->out_head) {
		struct out_chunk *o = c->out_head;
		ssize_t n = send(c->src.fd, o->data + o->off, o->len - o->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		c->ctl->st.bytes_out += (uint64_t)n;
		o->off += (size_t)n;
		c->out_bytes -= (size_t)n;
		if (o->off == o->len) {
			c->out_head = o->next;
			if (!c->out_head)
				c->out_tail = NULL;
			free(o);
		}
	}
	if (!c->out_head && c->closing)
		return -ECONNRESET;
	client_set_events(c);
	return 0;
}

/* Queues a copy of frame. -ENOBUFS when the bound would be exceeded (caller drops). */
static int client_queue(struct virq_ctl_client *c, const char *frame, size_t len)
{
	struct out_chunk *o;

	if (c->out_bytes + len > c->out_max)
		return -ENOBUFS;
	o = malloc(sizeof(*o) + len);
	if (!o)
		return -ENOMEM;
	o->next = NULL;
	o->len = len;
	o->off = 0;
	memcpy(o->data, frame, len);
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	c->out_bytes += len;
	return 0;
}

/* Queues and flushes; drops the client on overflow or a dead peer. Frees frame. */
static void client_send(struct virq_ctl_client *c, char *frame, size_t len)
{
	int r;

	if (!frame) {
		/* Out of memory building the reply: the connection cannot stay in step. */
		client_close(c);
		return;
	}
	r = client_queue(c, frame, len);
	free(frame);
	if (r == -ENOBUFS)
		c->ctl->st.dropped_slow++;
	if (r || client_flush(c))
		client_close(c);
}

static void send_error(struct virq_ctl_client *c, bool has_id, int64_t id, enum virq_proto_err code,
		       const char *msg)
{
	size_t len = 0;
	char *f = virq_proto_reply_err(has_id, id, code, msg, &len);

	c->ctl->st.errors[code]++;
	client_send(c, f, len);
}

static void handle_frame(struct virq_ctl_client *c, const char *line, size_t len)
{
	struct virq_ctl *ctl = c->ctl;
	struct virq_proto_request req;
	enum virq_proto_err e;
	cJSON *result = NULL;
	char msg[256] = "";
	size_t flen = 0;
	char *f;

	ctl->st.requests++;
	e = virq_proto_request_parse(line, len, &req, msg, sizeof(msg));
	if (e != VIRQ_E_OK)
		goto fail;
	if (virq_proto_cmd_info(req.cmd)->mutating && !c->peer.privileged) {
		snprintf(msg, sizeof(msg), "%s changes state: needs root or the virqd group",
			 virq_proto_cmd_info(req.cmd)->name);
		e = VIRQ_E_PERMISSION_DENIED;
		goto fail;
	}
	e = ctl->handler(ctl->handler_ctx, c, &req, &result, msg, sizeof(msg));
	if (e != VIRQ_E_OK) {
		cJSON_Delete(result);
		goto fail;
	}
	if (c->pending) {
		/* Deferred: virq_ctl_complete() answers later. */
		cJSON_Delete(result);
		virq_proto_request_fini(&req);
		client_set_events(c);
		return;
	}
	f = virq_proto_reply_ok(req.has_id, req.id, result, &flen);
	virq_proto_request_fini(&req);
	client_send(c, f, flen);
	return;
fail:
	send_error(c, req.has_id, req.id, e, msg);
	virq_proto_request_fini(&req);
}

/* Handles the complete frames already read, until a reply is deferred. */
static void client_process(struct virq_ctl_client *c)
{
	const char *line;
	size_t len;
	enum virq_frame_status s;

	while (!c->dead && !c->pending && (s = virq_frame_reader_next(&c->rd, &line, &len))) {
		if (c->streaming || c->closing)
			continue; /* a subscriber's input is read only to see EOF */
		if (s == VIRQ_FRAME_OVERSIZE) {
			char msg[96];

			c->ctl->st.oversize++;
			snprintf(msg, sizeof(msg), "frame longer than %u bytes discarded",
				 VIRQ_PROTO_MAX_FRAME);
			send_error(c, false, 0, VIRQ_E_TOO_LARGE, msg);
			continue;
		}
		if (len == 0)
			continue; /* blank lines are keep-alives */
		handle_frame(c, line, len);
	}
}

static void client_read(struct virq_ctl_client *c)
{
	/* Bounded work per wakeup so one busy client cannot starve the loop; epoll is
	 * level-triggered, so leftover input wakes us again. A deferred reply parks the
	 * connection: nothing more is read until it is sent. */
	for (int rounds = 0; rounds < 16 && !c->dead && !c->pending; rounds++) {
		size_t avail;
		char *space = virq_frame_reader_space(&c->rd, &avail);
		ssize_t n;

		if (!space) {
			client_close(c);
			return;
		}
		n = recv(c->src.fd, space, avail, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->ctl->st.bytes_in += (uint64_t)n;
		virq_frame_reader_commit(&c->rd, (size_t)n);
		client_process(c);
	}
}

static void client_ready(struct virq_evsrc *src, uint32_t events)
{
	struct virq_ctl_client *c = (struct virq_ctl_client *)src;

	if (c->dead)
		return;
	if (events & EPOLLOUT) {
		if (client_flush(c)) {
			client_close(c);
			return;
		}
	}
	if (c->pending) {
		/* Parked: only a vanished peer matters now. */
		if (events & (EPOLLHUP | EPOLLERR))
			client_close(c);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR))
		client_read(c);
}

static void listen_ready(struct virq_evsrc *src, uint32_t events)
{
	struct virq_ctl *ctl = (struct virq_ctl *)src;

	for (int i = 0; i < 64; i++) {
		struct virq_ctl_client *c;
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		struct epoll_event ev;
		int fd = accept4(ctl->src.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return; /* EAGAIN, or a transient error (EMFILE...): epoll retries */
		c = calloc(1, sizeof(*c));
		if (!c || virq_frame_reader_init(&c->rd, VIRQ_PROTO_MAX_FRAME)) {
			free(c);
			close(fd);
			continue;
		}
		c->src.fd = fd;
		c->src.ready = client_ready;
		c->ctl = ctl;
		c->out_max = ctl->out_max;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
			c->peer.pid = cred.pid;
			c->peer.uid = cred.uid;
			c->peer.gid = cred.gid;
			c->peer.privileged = virq_ctl_peer_privileged(NULL, cred.pid, cred.uid,
								      cred.gid, ctl->gid);
		} else {
			c->peer.uid = (uid_t)-1;
			c->peer.gid = (gid_t)-1;
		}
		ev.events = EPOLLIN | EPOLLRDHUP;
		ev.data.ptr = &c->src;
		if (epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			client_free(c);
			close(fd);
			continue;
		}
		c->ev_mask = ev.events;
		c->next = ctl->clients;
		if (ctl->clients)
			ctl->clients->prev = c;
		ctl->clients = c;
		ctl->st.clients++;
		if (ctl->st.clients > ctl->max_clients) {
			char msg[96];

			ctl->st.refused++;
			snprintf(msg, sizeof(msg), "client limit (%u) reached", ctl->max_clients);
			c->closing = true;
			send_error(c, false, 0, VIRQ_E_TOO_MANY_CLIENTS, msg);
			continue;
		}
		ctl->st.accepted++;
	}
}

/* Is there a live daemon on path? 1 yes, 0 stale (refused), -errno otherwise. */
static int socket_alive(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	r = r == 0 ? 1 : errno == ECONNREFUSED ? 0 : -errno;
	close(fd);
	return r;
}

static int mkdir_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

struct virq_ctl *virq_ctl_create(const struct virq_ctl_opts *opts, int epfd, char *err,
				 size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct virq_ctl *ctl;
	struct epoll_event ev;
	struct stat st;
	mode_t old_umask;
	int r, fd;

	if (!opts->path || strlen(opts->path) >= sizeof(sa.sun_path) || !opts->handler) {
		snprintf(err, errlen, "socket path missing or longer than %zu bytes",
			 sizeof(sa.sun_path) - 1);
		errno = EINVAL;
		return NULL;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ctl->src.fd = -1;
	ctl->src.ready = listen_ready;
	ctl->epfd = epfd;
	ctl->gid = opts->gid;
	ctl->handler = opts->handler;
	ctl->handler_ctx = opts->handler_ctx;
	ctl->max_clients = opts->max_clients ? opts->max_clients : 1;
	ctl->out_max = opts->out_max ? opts->out_max : 4u << 20;
	snprintf(ctl->path, sizeof(ctl->path), "%s", opts->path);

	r = mkdir_parent(ctl->path);
	if (r) {
		snprintf(err, errlen, "cannot create the directory of %s: %s", ctl->path,
			 strerror(-r));
		goto err_free;
	}
	if (lstat(ctl->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; not replacing it",
				 ctl->path);
			r = -EEXIST;
			goto err_free;
		}
		r = socket_alive(ctl->path);
		if (r == 1) {
			snprintf(err, errlen,
				 "another virqd is already listening on %s (refusing to start)",
				 ctl->path);
			r = -EADDRINUSE;
			goto err_free;
		}
		/* Refused: a stale socket left by a daemon that died. Replace it. */
		if (r == 0 && unlink(ctl->path) && errno != ENOENT) {
			r = -errno;
			snprintf(err, errlen, "cannot remove stale socket %s: %s", ctl->path,
				 strerror(errno));
			goto err_free;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto err_free;
	}
	ctl->src.fd = fd;
	memcpy(sa.sun_path, ctl->path, strlen(ctl->path) + 1);
	/* Create the file with no access for anyone but us, then open it up: no window
	 * in which a client outside the group could connect. */
	old_umask = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_umask);
	if (r) {
		r = -errno;
		snprintf(err, errlen, "bind %s: %s", ctl->path, strerror(errno));
		goto err_close;
	}
	if (stat(ctl->path, &st) == 0) {
		ctl->dev = st.st_dev;
		ctl->ino = st.st_ino;
	}
	r = virq_ctl_set_access(ctl, opts->mode, opts->gid);
	if (r) {
		snprintf(err, errlen, "setting owner/mode of %s: %s", ctl->path, strerror(-r));
		goto err_unlink;
	}
	if (listen(fd, 64)) {
		r = -errno;
		snprintf(err, errlen, "listen: %s", strerror(errno));
		goto err_unlink;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = &ctl->src;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)) {
		r = -errno;
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		goto err_unlink;
	}
	return ctl;

err_unlink:
	unlink(ctl->path);
err_close:
	close(fd);
err_free:
	free(ctl);
	errno = -r;
	return NULL;
}

int virq_ctl_set_access(struct virq_ctl *ctl, mode_t mode, gid_t gid)
{
	if (chown(ctl->path, (uid_t)-1, gid == (gid_t)-1 ? getegid() : gid))
		return -errno;
	if (chmod(ctl->path, mode & 0777))
		return -errno;
	ctl->gid = gid;
	return 0;
}

void virq_ctl_set_limits(struct virq_ctl *ctl, unsigned int max_clients, size_t out_max)
{
	if (max_clients)
		ctl->max_clients = max_clients;
	if (out_max)
		ctl->out_max = out_max;
}

void virq_ctl_reap(struct virq_ctl *ctl)
{
	struct virq_ctl_client *c, *n;

	if (!ctl)
		return;
	for (c = ctl->dead; c; c = n) {
		n = c->next_dead;
		client_free(c);
	}
	ctl->dead = NULL;
}

void virq_ctl_destroy(struct virq_ctl *ctl)
{
	struct stat st;

	if (!ctl)
		return;
	while (ctl->clients)
		client_close(ctl->clients);
	virq_ctl_reap(ctl);
	if (ctl->src.fd >= 0) {
		epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, ctl->src.fd, NULL);
		close(ctl->src.fd);
	}
	/* Remove the file only if it is still ours (not replaced by another daemon). */
	if (stat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		unlink(ctl->path);
	free(ctl);
}

void virq_ctl_get_stats(const struct virq_ctl *ctl, struct virq_ctl_stats *out)
{
	*out = ctl->st;
}

const struct virq_ctl_peer *virq_ctl_client_peer(const struct virq_ctl_client *c)
{
	return &c->peer;
}

int virq_ctl_client_subscribe(struct virq_ctl_client *c)
{
	if (c->streaming)
		return -EBUSY;
	c->streaming = true;
	c->ctl->st.subscribers++;
	return 0;
}

unsigned int virq_ctl_broadcast(struct virq_ctl *ctl, const char *frame, size_t len)
{
	struct virq_ctl_client *c, *n;
	unsigned int sent = 0;

	for (c = ctl->clients; c; c = n) {
		n = c->next;
		if (!c->streaming)
			continue;
		if (client_queue(c, frame, len)) {
			ctl->st.dropped_slow++;
			ctl->st.events_dropped++;
			client_close(c);
			continue;
		}
		ctl->st.events_sent++;
		sent++;
		if (client_flush(c))
			client_close(c);
	}
	return sent;
}

struct virq_ctl_pending *virq_ctl_defer(struct virq_ctl_client *c,
					const struct virq_proto_request *req)
{
	struct virq_ctl_pending *p;

	if (!c || c->dead || c->pending || c->streaming) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->c = c;
	p->has_id = req->has_id;
	p->id = req->id;
	c->pending = p;
	c->ctl->st.deferred++;
	return p;
}

void virq_ctl_defer_cancel(struct virq_ctl_pending *p)
{
	if (!p)
		return;
	if (p->c) {
		p->c->pending = NULL;
		p->c->ctl->st.deferred--;
	}
	free(p);
}

bool virq_ctl_pending_alive(const struct virq_ctl_pending *p)
{
	return p && p->c && !p->c->dead;
}

void virq_ctl_complete(struct virq_ctl_pending *p, enum virq_proto_err e, cJSON *result,
		       const char *msg)
{
	struct virq_ctl_client *c;
	size_t len = 0;
	char *f;

	if (!p) {
		cJSON_Delete(result);
		return;
	}
	c = p->c;
	if (!c || c->dead) {
		cJSON_Delete(result);
		free(p);
		return;
	}
	c->pending = NULL;
	if (e == VIRQ_E_OK) {
		f = virq_proto_reply_ok(p->has_id, p->id, result, &len);
		client_send(c, f, len);
	} else {
		cJSON_Delete(result);
		send_error(c, p->has_id, p->id, e, msg ? msg : "");
	}
	free(p);
	if (c->dead)
		return;
	/* Frames that arrived behind the deferred one, then input again. */
	client_process(c);
	client_set_events(c);
}
