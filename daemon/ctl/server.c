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
#include <time.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>

#include <cjson/cJSON.h>
#include <systemd/sd-daemon.h>

#include "ctl.h"

/* Frames served per client per turn of the loop: one client's pipelined backlog is
 * interleaved with everyone else's, round robin, this many frames at a time. */
#define CTL_FRAMES_PER_TURN 8
/* Period of the server's own timer (timeouts, accept back-off). */
#define CTL_TICK_MS 250
/* accept4() out of fds or memory: the listening socket rests this long (a level-triggered
 * listen fd that cannot be accepted from would otherwise spin the loop). */
#define CTL_ACCEPT_BACKOFF_MS 250

/* An epoll source of the server itself. */
struct ctl_src {
	struct virq_evsrc src;
	struct virq_ctl *ctl;
};

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
	bool backlog; /* complete frames may be buffered beyond this turn's share */
	bool dead;
	uint32_t ev_mask;
	uint64_t active_ns; /* accept, or the last frame served */
	uint64_t partial_ns; /* since when a partial line is buffered; 0 = none */
};

struct virq_ctl {
	struct virq_evsrc src; /* the listening socket */
	int epfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	/* The listening socket came from systemd (socket activation): the unit's
	 * SocketUser/SocketGroup/SocketMode own its access and RemoveOnStop its file. */
	bool inherited;
	gid_t gid;
	unsigned int max_clients, max_per_uid;
	size_t out_max;
	uint64_t idle_ns, line_ns; /* 0 = no timeout */
	struct ctl_src kick; /* eventfd: readable while some client has a backlog */
	struct ctl_src tick; /* timerfd, CTL_TICK_MS */
	bool kicked;
	uint64_t accept_resume_ns; /* listen fd disabled until then; 0 = enabled */
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
static void client_process(struct virq_ctl_client *c, unsigned int budget);

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool virq_ctl_peer_privileged(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
			      gid_t group)
{
	if (uid == 0)
		return true;
	if (group == (gid_t)-1)
		return false;
	if (gid == group)
		return true;
	for (size_t i = 0; i < ngroups; i++)
		if (groups[i] == group)
			return true;
	return false;
}

int virq_ctl_peer_from_fd(int fd, gid_t group, struct virq_ctl_peer *peer)
{
	gid_t small[64], *groups = small;
	socklen_t gl = sizeof(small);
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	int r = 0;

	memset(peer, 0, sizeof(*peer));
	peer->uid = (uid_t)-1;
	peer->gid = (gid_t)-1;
	/* Both are the credentials the kernel recorded at connect() (socket(7)): nothing
	 * read later from /proc, where a pid may be reused and a line cut. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl))
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl)) {
		if (errno != ERANGE)
			return -errno;
		/* gl is now the size needed (at most NGROUPS_MAX gids: bounded). */
		groups = malloc(gl ? gl : 1);
		if (!groups)
			return -ENOMEM;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl)) {
			r = -errno;
			goto out;
		}
	}
	peer->pid = cred.pid;
	peer->uid = cred.uid;
	peer->gid = cred.gid;
	peer->privileged =
		virq_ctl_peer_privileged(cred.uid, cred.gid, groups, gl / sizeof(gid_t), group);
out:
	if (groups != small)
		free(groups);
	return r;
}

static void ctl_kick(struct virq_ctl *ctl)
{
	uint64_t one = 1;

	if (ctl->kicked)
		return;
	if (write(ctl->kick.src.fd, &one, sizeof(one)) == (ssize_t)sizeof(one))
		ctl->kicked = true;
}

static void client_set_events(struct virq_ctl_client *c)
{
	/* While a deferred reply is outstanding, input is not read (EPOLLHUP/EPOLLERR are
	 * always reported, so a peer that goes away is still seen). */
	/* Nor while frames already read wait for their turn (the backlog): the reader's
	 * buffer is bounded and the socket holds the rest. */
	uint32_t want = (c->pending || c->backlog ? 0 : EPOLLIN | EPOLLRDHUP) |
			(c->out_head ? EPOLLOUT : 0);
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

/*
 * Handles at most `budget` of the complete frames already read, until a reply is
 * deferred. Frames left over mark the client as having a backlog: it is served again at
 * the next turn (ctl_kick), its socket unread meanwhile.
 */
static void client_process(struct virq_ctl_client *c, unsigned int budget)
{
	const char *line;
	size_t len;
	enum virq_frame_status s = VIRQ_FRAME_NONE;
	unsigned int served = 0;

	c->backlog = false;
	while (!c->dead && !c->pending && served < budget &&
	       (s = virq_frame_reader_next(&c->rd, &line, &len))) {
		served++;
		c->active_ns = now_ns();
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
	if (c->dead)
		return;
	if (served == budget && !c->pending) {
		c->backlog = true;
		ctl_kick(c->ctl);
	}
	/* Bytes of an unfinished line (or an oversize one being discarded) start the
	 * partial-line clock; a complete frame served resets it. */
	if (c->rd.len > c->rd.start || c->rd.discarding) {
		if (!c->partial_ns || served)
			c->partial_ns = now_ns();
	} else {
		c->partial_ns = 0;
	}
	client_set_events(c);
}

static void client_read(struct virq_ctl_client *c)
{
	/* One recv() per wakeup, then this turn's share of its frames; epoll is
	 * level-triggered, so leftover input wakes us again. A deferred reply or a
	 * backlog parks the connection: nothing more is read until it is served. */
	size_t avail;
	char *space;
	ssize_t n;

	if (c->dead || c->pending || c->backlog)
		return;
	space = virq_frame_reader_space(&c->rd, &avail);
	if (!space) {
		client_close(c);
		return;
	}
	do
		n = recv(c->src.fd, space, avail, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->ctl->st.bytes_in += (uint64_t)n;
	virq_frame_reader_commit(&c->rd, (size_t)n);
	client_process(c, CTL_FRAMES_PER_TURN);
}

/* One turn for every client with a backlog (round robin over the live list). */
static void kick_ready(struct virq_evsrc *src, uint32_t events)
{
	struct virq_ctl *ctl = ((struct ctl_src *)src)->ctl;
	struct virq_ctl_client *c, *n;
	uint64_t v;

	if (read(src->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	ctl->kicked = false;
	for (c = ctl->clients; c; c = n) {
		n = c->next;
		if (c->backlog && !c->dead)
			client_process(c, CTL_FRAMES_PER_TURN);
	}
}

static void listen_set(struct virq_ctl *ctl, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.ptr = &ctl->src };

	epoll_ctl(ctl->epfd, EPOLL_CTL_MOD, ctl->src.fd, &ev);
}

/* Timeouts (slow-loris clients holding slots) and the accept back-off. */
static void tick_ready(struct virq_evsrc *src, uint32_t events)
{
	struct virq_ctl *ctl = ((struct ctl_src *)src)->ctl;
	struct virq_ctl_client *c, *n;
	uint64_t exp, now = now_ns();

	if (read(src->fd, &exp, sizeof(exp)) < 0)
		return;
	if (ctl->accept_resume_ns && now >= ctl->accept_resume_ns) {
		ctl->accept_resume_ns = 0;
		listen_set(ctl, true);
	}
	for (c = ctl->clients; c; c = n) {
		n = c->next;
		/* Subscribers and connections waiting for a worker are not idle. */
		if (c->dead || c->streaming || c->pending)
			continue;
		if (ctl->line_ns && c->partial_ns && now - c->partial_ns >= ctl->line_ns) {
			ctl->st.timed_out_line++;
			client_close(c);
		} else if (ctl->idle_ns && now - c->active_ns >= ctl->idle_ns) {
			ctl->st.timed_out_idle++;
			client_close(c);
		}
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
	if (c->pending || c->backlog) {
		/* Parked: only a vanished peer matters now (its replies would go nowhere). */
		if (events & (EPOLLHUP | EPOLLERR))
			client_close(c);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR))
		client_read(c);
}

/*
 * Why a new connection from peer gets no slot (NULL = it does): the total limit, one slot
 * of which only root may take, and each other uid's share.
 */
static const char *slot_refusal(struct virq_ctl *ctl, const struct virq_ctl_peer *peer)
{
	unsigned int total = 0, same = 0;
	bool root = peer->uid == 0;

	for (struct virq_ctl_client *c = ctl->clients; c; c = c->next) {
		if (c->closing)
			continue;
		total++;
		same += c->peer.uid == peer->uid;
	}
	if (total >= ctl->max_clients)
		return "client limit";
	if (!root && ctl->max_clients > 1 && total >= ctl->max_clients - 1)
		return "client limit (the last slot is kept for root)";
	if (!root && same >= ctl->max_per_uid)
		return "per-uid client limit";
	return NULL;
}

static void listen_ready(struct virq_evsrc *src, uint32_t events)
{
	struct virq_ctl *ctl = (struct virq_ctl *)src;

	for (int i = 0; i < 64; i++) {
		struct virq_ctl_client *c;
		struct epoll_event ev;
		const char *why;
		int fd = accept4(ctl->src.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The connection stays in the backlog and the listen fd stays
				 * readable: rest it, or the loop spins (tick_ready re-arms). */
				ctl->st.accept_errors++;
				ctl->accept_resume_ns =
					now_ns() + CTL_ACCEPT_BACKOFF_MS * 1000000ull;
				listen_set(ctl, false);
				return;
			}
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			return; /* EAGAIN */
		}
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
		c->active_ns = now_ns();
		virq_ctl_peer_from_fd(fd, ctl->gid, &c->peer); /* failed: uid -1, unprivileged */
		why = slot_refusal(ctl, &c->peer);
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
		if (why) {
			char msg[128];

			ctl->st.refused++;
			snprintf(msg, sizeof(msg), "%s reached (%u clients, %u per uid)", why,
				 ctl->max_clients, ctl->max_per_uid);
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

static void aux_fds_close(struct virq_ctl *ctl)
{
	struct ctl_src *srcs[] = { &ctl->kick, &ctl->tick };

	for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
		if (srcs[i]->src.fd < 0)
			continue;
		epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, srcs[i]->src.fd, NULL);
		close(srcs[i]->src.fd);
		srcs[i]->src.fd = -1;
	}
}

/* The backlog eventfd and the timeout timer, in the loop's epoll set. 0 or -errno. */
static int aux_fds_create(struct virq_ctl *ctl)
{
	struct itimerspec its = { .it_interval.tv_nsec = CTL_TICK_MS * 1000000L,
				  .it_value.tv_nsec = CTL_TICK_MS * 1000000L };
	struct epoll_event ev = { .events = EPOLLIN };
	int r;

	ctl->kick.ctl = ctl->tick.ctl = ctl;
	ctl->kick.src.ready = kick_ready;
	ctl->tick.src.ready = tick_ready;
	ctl->kick.src.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ctl->tick.src.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ctl->kick.src.fd < 0 || ctl->tick.src.fd < 0 ||
	    timerfd_settime(ctl->tick.src.fd, 0, &its, NULL))
		goto err;
	ev.data.ptr = &ctl->kick.src;
	if (epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, ctl->kick.src.fd, &ev))
		goto err;
	ev.data.ptr = &ctl->tick.src;
	if (epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, ctl->tick.src.fd, &ev))
		goto err;
	return 0;
err:
	r = -errno;
	aux_fds_close(ctl);
	return r;
}

/*
 * The listening socket systemd passed (sd_listen_fds, LISTEN_FDS/LISTEN_PID): exactly one
 * AF_UNIX stream socket in listening state. Its path becomes ours (the unit's ListenStream;
 * it is not unlinked or bound again). -ENOENT when not socket-activated; -EBADF (with err)
 * when fds were passed but are not such a socket.
 */
static int activated_socket(struct virq_ctl *ctl, char *err, size_t errlen)
{
	struct sockaddr_un sa = { 0 };
	socklen_t sl = sizeof(sa);
	int n = sd_listen_fds(1), fd = SD_LISTEN_FDS_START, fl;

	if (n <= 0)
		return -ENOENT;
	if (n != 1 || sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
		snprintf(err, errlen,
			 "socket activation: %d fds passed, want one listening AF_UNIX stream "
			 "socket",
			 n);
		return -EBADF;
	}
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0 && sa.sun_path[0])
		snprintf(ctl->path, sizeof(ctl->path), "%.*s", (int)sizeof(sa.sun_path),
			 sa.sun_path);
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
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
	ctl->kick.src.fd = ctl->tick.src.fd = -1;
	virq_ctl_set_limits(ctl, opts->max_clients ? opts->max_clients : 1, opts->max_per_uid,
			    opts->out_max ? opts->out_max : 4u << 20);
	virq_ctl_set_timeouts(ctl, opts->idle_timeout_ms, opts->line_timeout_ms);
	snprintf(ctl->path, sizeof(ctl->path), "%s", opts->path);

	/* Socket activation (virqd.socket): systemd passes the listening socket. */
	fd = activated_socket(ctl, err, errlen);
	if (fd == -EBADF)
		goto err_free_nofd;
	if (fd >= 0) {
		ctl->src.fd = fd;
		ctl->inherited = true;
		if (stat(ctl->path, &st) == 0) {
			ctl->dev = st.st_dev;
			ctl->ino = st.st_ino;
		}
		goto listening;
	}
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
	/* What we bound, so that later access changes and the unlink touch only it. */
	if (lstat(ctl->path, &st) == 0) {
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
listening:
	ev.events = EPOLLIN;
	ev.data.ptr = &ctl->src;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)) {
		r = -errno;
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		goto err_unlink;
	}
	r = aux_fds_create(ctl);
	if (r) {
		snprintf(err, errlen, "eventfd/timerfd: %s", strerror(-r));
		goto err_epoll;
	}
	return ctl;

err_epoll:
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	aux_fds_close(ctl);
err_unlink:
	if (!ctl->inherited)
		unlink(ctl->path);
err_close:
	close(fd);
err_free:
	free(ctl);
	errno = -r;
	return NULL;
err_free_nofd:
	free(ctl);
	errno = EBADF;
	return NULL;
}

int virq_ctl_set_access(struct virq_ctl *ctl, mode_t mode, gid_t gid)
{
	char proc[40];
	struct stat st;
	int fd, r = 0;

	/* systemd's socket unit owns an activated socket's owner and mode */
	if (ctl->inherited)
		return 0;

	/*
	 * Never by path: whatever is at the path now (a symlink swapped in, another file)
	 * must not be chowned or chmodded. O_PATH|O_NOFOLLOW pins the inode at the path
	 * (a symlink itself, not its target); only our socket passes the check. fchmod()
	 * on the listening fd would change the sockfs inode, not the file, hence the
	 * O_PATH fd (fchownat AT_EMPTY_PATH; chmod through its /proc/self/fd link, which
	 * names that inode, not a path).
	 */
	fd = open(ctl->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		r = -errno;
		goto out;
	}
	if (!S_ISSOCK(st.st_mode) || st.st_dev != ctl->dev || st.st_ino != ctl->ino) {
		r = -ESTALE; /* not the socket we bound any more: touch nothing */
		goto out;
	}
	if (fchownat(fd, "", (uid_t)-1, gid == (gid_t)-1 ? getegid() : gid, AT_EMPTY_PATH)) {
		r = -errno;
		goto out;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (chmod(proc, mode & 0777)) {
		r = -errno;
		goto out;
	}
	ctl->gid = gid;
out:
	close(fd);
	return r;
}

void virq_ctl_set_limits(struct virq_ctl *ctl, unsigned int max_clients, unsigned int max_per_uid,
			 size_t out_max)
{
	if (max_clients)
		ctl->max_clients = max_clients;
	if (out_max)
		ctl->out_max = out_max;
	/* 0: a quarter of the slots, so that three other users still get in. */
	ctl->max_per_uid = max_per_uid ? max_per_uid : ctl->max_clients / 4;
	if (!ctl->max_per_uid)
		ctl->max_per_uid = 1;
}

void virq_ctl_set_timeouts(struct virq_ctl *ctl, unsigned int idle_ms, unsigned int line_ms)
{
	ctl->idle_ns = (uint64_t)idle_ms * 1000000ull;
	ctl->line_ns = (uint64_t)line_ms * 1000000ull;
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
	aux_fds_close(ctl);
	/* Remove the file only if it is still ours (not replaced by another daemon); an
	 * activated socket's file is systemd's (RemoveOnStop). */
	if (!ctl->inherited && lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino)
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
	client_process(c, CTL_FRAMES_PER_TURN);
	client_set_events(c);
}
