/* SPDX-License-Identifier: MIT */
/*
 * virqd's control socket server (daemon/ctl/): listening socket, clients, framing,
 * validation up to the permission check, bounded non-blocking output, event streaming.
 * The commands themselves are the daemon core's (a handler passed in).
 *
 * Threading: everything here runs on the daemon's event-loop thread only. The server
 * registers its fds in the epoll set given at creation; each epoll_event.data.ptr is a
 * `struct virq_evsrc`, whose ready() the loop calls. After each epoll batch the loop must
 * call virq_ctl_reap() (clients closed during a batch are freed only then, so a pointer
 * still queued in that batch never dangles).
 */
#ifndef VIRQ_DAEMON_CTL_H
#define VIRQ_DAEMON_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "virq/proto.h"

/* One epoll source. The loop calls ready(src, epoll events). */
struct virq_evsrc {
	int fd;
	void (*ready)(struct virq_evsrc *src, uint32_t events);
};

struct cJSON;
struct virq_ctl;
struct virq_ctl_client;

/* Who is on the other end (SO_PEERCRED and SO_PEERGROUPS at accept). */
struct virq_ctl_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool privileged; /* root, or the configured group as primary or supplementary group */
};

/*
 * The daemon's command handler (steps 8-10 of proto.h's validation order). Returns
 * VIRQ_E_OK with *result set (ownership passes to the server; NULL = empty object), or an
 * error code with a message in msg. Runs on the loop thread.
 *
 * A handler that cannot answer at once (work on another thread) calls virq_ctl_defer()
 * and returns VIRQ_E_OK; the server then sends nothing and *result is ignored (freed).
 */
typedef enum virq_proto_err (*virq_ctl_handler)(void *ctx, struct virq_ctl_client *c,
						const struct virq_proto_request *req,
						struct cJSON **result, char *msg, size_t msglen);

struct virq_ctl_opts {
	const char *path; /* socket path; its parent directory is created (0755) if missing */
	mode_t mode; /* e.g. 0660 */
	gid_t gid; /* group owning the socket and allowed to mutate; (gid_t)-1 = root only */
	unsigned int max_clients; /* connections beyond are refused with too_many_clients;
				   * the last slot is root's only */
	unsigned int max_per_uid; /* slots one non-root uid may hold; 0 = max_clients / 4 */
	unsigned int idle_timeout_ms; /* close a client without a frame this long; 0 = never */
	unsigned int line_timeout_ms; /* close a client inside one line this long; 0 = never */
	size_t out_max; /* per-client output queue bound in bytes; beyond, the client is dropped */
	virq_ctl_handler handler;
	void *handler_ctx;
};

/* Counters, for status and metrics. */
struct virq_ctl_stats {
	uint64_t accepted;
	uint64_t refused; /* over the client limit (total, root's slot, per uid) */
	uint64_t timed_out_idle; /* closed: no frame within the idle timeout */
	uint64_t timed_out_line; /* closed: a partial line held past the line timeout */
	uint64_t accept_errors; /* accept4() out of fds/memory: listening paused */
	uint64_t dropped_slow; /* output queue overflowed */
	uint64_t requests;
	uint64_t errors[VIRQ_E__COUNT]; /* error replies by code */
	uint64_t oversize; /* oversize frames */
	uint64_t events_sent; /* event lines queued to subscribers */
	uint64_t events_dropped; /* event lines lost with dropped subscribers */
	uint64_t bytes_in, bytes_out;
	uint64_t deferred; /* replies deferred (worker threads) */
	uint64_t deferred_orphaned; /* deferred replies whose connection closed first */
	unsigned int clients; /* connected now */
	unsigned int subscribers; /* streaming now */
};

/*
 * Binds and listens. A socket file left by a dead daemon (connect() refused) is replaced;
 * a live one makes this fail with -EADDRINUSE; a non-socket file at the path with -EEXIST.
 * Returns NULL with errno set and a reason in err.
 */
struct virq_ctl *virq_ctl_create(const struct virq_ctl_opts *opts, int epfd, char *err,
				 size_t errlen);
/* Closes every client, the listening socket, and unlinks the socket file if it is still the
 * one we bound. Accepts NULL. */
void virq_ctl_destroy(struct virq_ctl *ctl);
/* Frees clients closed since the last call (see the threading note). */
void virq_ctl_reap(struct virq_ctl *ctl);

/* Changes the group and mode of the socket and the privileged group (SIGHUP reload). New
 * connections use the new group; existing ones keep their decision. Acts on the inode we
 * bound, never through the path: -ESTALE when the path is no longer that socket (e.g. a
 * symlink swapped in), nothing changed then. 0 or -errno. */
int virq_ctl_set_access(struct virq_ctl *ctl, mode_t mode, gid_t gid);
/* Changes the client limits and output bound for new connections (0 = keep; max_per_uid
 * 0 = max_clients / 4). */
void virq_ctl_set_limits(struct virq_ctl *ctl, unsigned int max_clients, unsigned int max_per_uid,
			 size_t out_max);
/* Idle and partial-line timeouts in ms (0 = none), checked every 250 ms. */
void virq_ctl_set_timeouts(struct virq_ctl *ctl, unsigned int idle_ms, unsigned int line_ms);

void virq_ctl_get_stats(const struct virq_ctl *ctl, struct virq_ctl_stats *out);

const struct virq_ctl_peer *virq_ctl_client_peer(const struct virq_ctl_client *c);
/* Switches the client to streaming: after its reply is sent it only receives events.
 * -EBUSY if already streaming. */
int virq_ctl_client_subscribe(struct virq_ctl_client *c);
/* Queues one event line (a frame from virq_proto_event, copied) to every subscriber.
 * Returns the number of subscribers it was queued to. Subscribers that overflow their
 * queue are dropped (counted). */
unsigned int virq_ctl_broadcast(struct virq_ctl *ctl, const char *frame, size_t len);

/*
 * Deferred replies. Replies stay in request order per connection: while a connection
 * waits for a deferred reply, its further frames stay queued (unread input is left in the
 * socket: back-pressure), other connections are served normally. A peer that hangs up
 * meanwhile is closed; its reply is then discarded when it completes.
 *
 * virq_ctl_defer(): called by a handler for the request it is handling (at most once,
 * right before returning VIRQ_E_OK). Returns a token, or NULL (ENOMEM: answer normally).
 * Exactly one of virq_ctl_complete() / virq_ctl_defer_cancel() must follow, on the loop
 * thread; both free the token. complete() sends the reply (result consumed, NULL = empty
 * object; msg used when e != VIRQ_E_OK) and resumes the connection's queued frames.
 * cancel() (only before the handler returned) un-parks without sending, so that the
 * handler can still answer with an error. The token outlives its connection and
 * virq_ctl_destroy(): completing it then only frees it.
 */
struct virq_ctl_pending;
struct virq_ctl_pending *virq_ctl_defer(struct virq_ctl_client *c,
					const struct virq_proto_request *req);
void virq_ctl_complete(struct virq_ctl_pending *p, enum virq_proto_err e, struct cJSON *result,
		       const char *msg);
void virq_ctl_defer_cancel(struct virq_ctl_pending *p);
/* Is the connection of this token still open (else the reply goes nowhere)? */
bool virq_ctl_pending_alive(const struct virq_ctl_pending *p);

/* Is `uid` with primary `gid` and supplementary `groups` allowed to mutate under group
 * `group` ((gid_t)-1 = root only)? */
bool virq_ctl_peer_privileged(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
			      gid_t group);
/* Fills *peer from the kernel's record of the connected socket fd (SO_PEERCRED for
 * pid/uid/gid, SO_PEERGROUPS, Linux 4.13+, for every supplementary group; no /proc).
 * 0, or -errno with *peer unprivileged (uid and gid -1). */
int virq_ctl_peer_from_fd(int fd, gid_t group, struct virq_ctl_peer *peer);

#endif /* VIRQ_DAEMON_CTL_H */
