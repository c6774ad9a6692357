/* SPDX-License-Identifier: MIT */
/*
 * virqctl internals: the client side of the control protocol (cli/client.c) and the live
 * view (cli/top.c). Single-threaded.
 */
#ifndef VIRQ_CLI_VIRQCTL_H
#define VIRQ_CLI_VIRQCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virq/proto.h"

/* Exit codes (documented in `virqctl --help`). */
enum virqctl_exit {
	VIRQCTL_EXIT_OK = 0,
	VIRQCTL_EXIT_DAEMON = 1, /* the daemon answered with an error */
	VIRQCTL_EXIT_USAGE = 2, /* bad command line */
	VIRQCTL_EXIT_CONNECT = 3, /* cannot connect to the socket */
	VIRQCTL_EXIT_PROTOCOL = 4, /* connection lost, timeout, or a reply that is not v1 */
	VIRQCTL_EXIT_FAILED = 5, /* the command ran but its check failed (scenario, crosscheck) */
};

struct cJSON;

struct virqctl_conn {
	int fd;
	struct virq_frame_reader rd;
	int64_t next_id;
	int timeout_ms; /* per reply; -1 = wait forever */
};

/* Connects to path. 0 or -errno with a reason in err. */
int virqctl_connect(struct virqctl_conn *c, const char *path, int timeout_ms, char *err,
		    size_t errlen);
void virqctl_close(struct virqctl_conn *c);
/* Sends one request (args consumed, NULL = none) and reads its reply into r (free with
 * virq_proto_reply_fini). Returns 0 (r may carry a daemon error) or -errno (reason in err). */
int virqctl_call(struct virqctl_conn *c, const char *cmd, struct cJSON *args,
		 struct virq_proto_reply *r, char *err, size_t errlen);
/* Reads the next message (reply or event); timeout_ms -1 = forever. 0, -ETIMEDOUT, -EPIPE
 * (closed), -EPROTO. */
int virqctl_read(struct virqctl_conn *c, struct virq_proto_reply *r, int timeout_ms, char *err,
		 size_t errlen);

/* `virqctl vm console` (cli/console.c): returns an exit code. */
int virqctl_console(struct virqctl_conn *c, int argc, char **argv);
/* `virqctl vm compare A B ...` (cli/compare.c): returns an exit code. */
int virqctl_compare(struct virqctl_conn *c, int argc, char **argv, bool json);
/* `virqctl top`: returns an exit code. */
int virqctl_top(struct virqctl_conn *c, int argc, char **argv);

#endif /* VIRQ_CLI_VIRQCTL_H */
