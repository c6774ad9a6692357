/* SPDX-License-Identifier: MIT */
/*
 * virq control protocol: the one header shared by virqd (daemon/ctl/) and virqctl (cli/).
 *
 * Transport: a Unix stream socket (default VIRQ_PROTO_DEFAULT_SOCKET, mode 0660).
 * Framing: one JSON object per line, UTF-8, terminated by '\n' ("\r\n" accepted). A frame
 * longer than VIRQ_PROTO_MAX_FRAME bytes (newline excluded) is never buffered whole: the
 * reader keeps at most that many bytes, answers `too_large` (id null) and discards the rest
 * of the line; the connection stays usable.
 *
 * Request:  {"v":1,"id":N,"cmd":"vm.list","args":{...}}     ("args" optional)
 * Reply:    {"v":1,"id":N,"result":{...}}
 *       or  {"v":1,"id":N,"error":{"code":"bad_args","message":"..."}}
 * Event:    {"v":1,"event":"trace","data":{...}}   (only after trace.subscribe; no "id")
 *
 * `id` is an integer 0..2^53-1 chosen by the client and echoed; it is null in a reply when
 * the request had none that could be read. Every request gets exactly one reply, in order.
 *
 * Long commands (vm.scenario, vm.inject with count > 1000) run on a daemon worker thread:
 * other connections are served meanwhile; the requesting connection gets the reply when
 * the work completes, and its later requests wait behind it (replies stay in order; its
 * unread input is left in the socket). One such command per VM at a time and at most
 * `max_scenarios` in all: beyond, `busy`. vm.destroy of a VM with one running: `busy`.
 * A scenario must fit the VM (its vCPU count) and its bounds (at most 300 s of gaps and
 * sleeps, 10^7 repetitions in all): else `bad_args`.
 *
 * The server validates each request in this fixed order and answers the first failure:
 *   1. frame length            -> too_large
 *   2. JSON syntax             -> bad_json (strict RFC 8259: no NUL byte, valid UTF-8,
 *                                 exactly one value and only whitespace after it)
 *   3. top level is an object, "v" is an integer, "id" an integer in range,
 *      "cmd" a string          -> bad_request
 *   4. v == VIRQ_PROTO_VERSION -> unsupported_version
 *   5. cmd is known            -> unknown_command
 *   6. "args" absent or object -> bad_args
 *   7. peer may run it         -> permission_denied (mutating commands: root or the group)
 *   8. the command's arguments -> bad_args
 *   9. the subsystem exists    -> kvm_unavailable / bpf_unavailable
 *  10. the command itself      -> not_found, exists, busy, vm_stopped, internal, ...
 *
 * Changelog (append only; a new version documents what changed and how old clients fare):
 *   v1 (virq 0.1): first version. Commands VIRQ_CMD_VERSION..VIRQ_CMD_METRICS_SNAPSHOT,
 *                  error codes VIRQ_E_BAD_JSON..VIRQ_E_TOO_MANY_CLIENTS.
 *                  Compatible additions since: long commands run on workers (above);
 *                  status gains "scenarios" and control.deferred*; vm.crosscheck's
 *                  "sources" gains "bpf_unattributed" and "attribution" (per owned VM:
 *                  how its BPF events were attributed, vector conflicts).
 *                  Stricter validation (issue 17; the wire format is unchanged): a frame
 *                  must be exactly one RFC 8259 JSON text in valid UTF-8 (no NUL byte,
 *                  no text after the object but whitespace; the CR of a CRLF does not
 *                  count towards VIRQ_PROTO_MAX_FRAME), else bad_json; "id" must be
 *                  written as plain decimal digits below 2^53 (no fraction, exponent or
 *                  sign), else bad_request with id null; ids are echoed exactly.
 *                  Replies are always valid UTF-8 (bytes that are not, e.g. from
 *                  /proc, are replaced by '?'). The daemon closes connections idle
 *                  (client_idle_timeout_s) or inside a partial line
 *                  (client_line_timeout_s) too long, limits each uid to a share of
 *                  max_clients (root keeps one slot) and answers too_many_clients
 *                  before closing. VM commands on an observe-only daemon answer
 *                  kvm_unavailable; a fractional "vm" id is bad_args. VM objects
 *                  gain "pv_cpuid_unenforced_vcpus" (vCPUs KVM does not hold to CPUID's
 *                  PV features; 0 normally).
 *                  vm.stats gains "sources": the VM's interrupts by source per vCPU
 *                  (include/virq/irqsrc.h), {"counted":"acceptance","from":"lapic"|"bpf",
 *                  "available":bool, "reason" (when not available: e.g. no BPF tracer),
 *                  "timer_vector" (bpf: the sourceless vector taken as the LVT timer),
 *                  "vcpus":[{"vcpu","timer","ipi","init_sipi","nmi","ioapic","msi",
 *                  "extint","lint","lvt_other","unknown","gsi":{"<pin>":n}}],
 *                  "unattributed":{"extint"} (bpf: the 8259A's ExtINTs, VM-wide)}.
 *                  Counted once per target LAPIC when the interrupt reaches it, whether
 *                  it sets a new IRR bit or merges into one set (coalesced included).
 *                  vm.stats "exits" entries gain "user" (user mode: what our irqchip did
 *                  for the vCPU: injections, window_exits, halts, eoi_exits, pv_eoi_*,
 *                  apic_mmio, ioapic_mmio, other_mmio, apic_msr, ...); vm.list's
 *                  platform.disk gains notify_exits, notify_eventfds, irqfd_signals and
 *                  msi_routes.
 *
 * Compatibility rules: command codes and error codes are append only (never renumbered or
 * reused); new result fields may be added to any reply in the same version, so clients must
 * ignore fields they do not know; removing or retyping a field needs a new version.
 */
#ifndef VIRQ_PROTO_H
#define VIRQ_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRQ_PROTO_VERSION 1
#define VIRQ_PROTO_MAX_FRAME (1u << 20) /* 1 MiB, newline excluded */
#define VIRQ_PROTO_DEFAULT_SOCKET "/run/virqd/virqd.sock"
#define VIRQ_PROTO_SOCKET_ENV "VIRQ_SOCKET"
#define VIRQ_PROTO_ID_MAX ((int64_t)1 << 53) /* exclusive; ids survive a JSON double */

/* The closed list of error codes. Append only. */
enum virq_proto_err {
	VIRQ_E_OK = 0, /* not an error; never sent */
	VIRQ_E_BAD_JSON, /* the frame is not valid JSON */
	VIRQ_E_BAD_REQUEST, /* valid JSON but not a request object (v, id, cmd) */
	VIRQ_E_UNSUPPORTED_VERSION, /* "v" is not a version this daemon speaks */
	VIRQ_E_UNKNOWN_COMMAND,
	VIRQ_E_BAD_ARGS, /* missing, wrongly typed or out-of-range arguments */
	VIRQ_E_PERMISSION_DENIED, /* mutating command from a peer not root nor in the group */
	VIRQ_E_NOT_FOUND, /* no such VM, vCPU, ... */
	VIRQ_E_EXISTS, /* a VM of that name exists */
	VIRQ_E_KVM_UNAVAILABLE, /* the command needs /dev/kvm (observe-only daemon) */
	VIRQ_E_BPF_UNAVAILABLE, /* the command needs the BPF tracer (VMM-only daemon) */
	VIRQ_E_BUSY, /* resource limit (VM count, subscribers) or operation in progress */
	VIRQ_E_INTERNAL, /* a daemon-side failure; message says what */
	VIRQ_E_TOO_LARGE, /* frame longer than VIRQ_PROTO_MAX_FRAME */
	VIRQ_E_VM_STOPPED, /* the VM stopped (message gives the guest's reason) */
	VIRQ_E_TOO_MANY_CLIENTS, /* sent once, then the connection is closed */
	VIRQ_E__COUNT
};

/* "bad_json", ...; NULL when out of range. */
const char *virq_proto_err_name(enum virq_proto_err e);
/* 0 and *out set, or -ENOENT. */
int virq_proto_err_parse(const char *name, enum virq_proto_err *out);

/* Command codes. Append only. */
enum virq_proto_cmd {
	VIRQ_CMD_VERSION = 0,
	VIRQ_CMD_CAPABILITIES,
	VIRQ_CMD_STATUS,
	VIRQ_CMD_VM_LIST,
	VIRQ_CMD_VM_CREATE,
	VIRQ_CMD_VM_DESTROY,
	VIRQ_CMD_VM_PAUSE,
	VIRQ_CMD_VM_RESUME,
	VIRQ_CMD_VM_INJECT,
	VIRQ_CMD_VM_SCENARIO,
	VIRQ_CMD_VM_LEDGER,
	VIRQ_CMD_VM_STATS,
	VIRQ_CMD_VM_CROSSCHECK,
	VIRQ_CMD_HOST_VMS,
	VIRQ_CMD_TRACE_POINTS,
	VIRQ_CMD_TRACE_SUBSCRIBE,
	VIRQ_CMD_METRICS_SNAPSHOT,
	VIRQ_CMD_VM_CONSOLE,
	VIRQ_CMD__COUNT
};

struct virq_proto_cmd_info {
	const char *name; /* "vm.create" */
	bool mutating; /* needs root or the configured group */
	const char *args; /* argument synopsis, for help texts */
	const char *summary;
};

/* Static description of cmd, or NULL when out of range. */
const struct virq_proto_cmd_info *virq_proto_cmd_info(enum virq_proto_cmd cmd);
/* 0 and *out set, or -ENOENT for an unknown name. */
int virq_proto_cmd_lookup(const char *name, enum virq_proto_cmd *out);

/* ---- requests and replies (libcjson) -------------------------------------------------- */

struct cJSON;

/* A parsed request. `root` owns everything; args points into it (NULL when absent). */
struct virq_proto_request {
	struct cJSON *root;
	bool has_id;
	int64_t id;
	enum virq_proto_cmd cmd;
	const struct cJSON *args;
};

/*
 * Parses and validates one frame (steps 2-6 above; `len` bytes, no NUL needed). Returns
 * VIRQ_E_OK with *req filled (free with virq_proto_request_fini) or an error code with a
 * reason in msg; req->has_id/id are valid even on error when the id could be read.
 */
enum virq_proto_err virq_proto_request_parse(const char *buf, size_t len,
					     struct virq_proto_request *req, char *msg,
					     size_t msglen);
/* Frees req->root. Accepts a zeroed or already-finalised request. */
void virq_proto_request_fini(struct virq_proto_request *req);

/*
 * Builders. Each returns a malloc'd, newline-terminated, NUL-terminated frame (length in
 * *len if non-NULL) or NULL on ENOMEM. `result`/`args`/`data` are consumed (freed) in every
 * case; NULL means an empty object.
 */
char *virq_proto_request_build(int64_t id, const char *cmd, struct cJSON *args, size_t *len);
char *virq_proto_reply_ok(bool has_id, int64_t id, struct cJSON *result, size_t *len);
char *virq_proto_reply_err(bool has_id, int64_t id, enum virq_proto_err code, const char *msg,
			   size_t *len);
char *virq_proto_event(const char *event, struct cJSON *data, size_t *len);

/* A parsed reply or event (client side). root owns everything. */
struct virq_proto_reply {
	struct cJSON *root;
	bool is_event; /* an event line: event/data set */
	bool has_id;
	int64_t id;
	const struct cJSON *result; /* on success */
	enum virq_proto_err err; /* VIRQ_E_OK on success; VIRQ_E_INTERNAL for unknown codes */
	const char *err_code; /* the code string as sent (points into root) */
	const char *err_msg;
	const char *event;
	const struct cJSON *data;
};

/* 0 or -EINVAL (not a v1 reply/event; reason in msg), -ENOMEM. */
int virq_proto_reply_parse(const char *buf, size_t len, struct virq_proto_reply *r, char *msg,
			   size_t msglen);
void virq_proto_reply_fini(struct virq_proto_reply *r);

/* ---- framing: a bounded line reader (used by both sides) --------------------------------- */

/*
 * Holds at most max + 2 bytes (grown on demand from 4 KiB), so a peer can never make us
 * allocate more than that however long its line is. Not thread-safe; one per connection.
 */
struct virq_frame_reader {
	char *buf;
	size_t start; /* first unconsumed byte */
	size_t len; /* bytes held */
	size_t cap;
	size_t max; /* longest accepted frame, newline excluded */
	bool discarding; /* inside an oversize line: drop until its newline */
	uint64_t oversize; /* oversize frames seen */
};

enum virq_frame_status {
	VIRQ_FRAME_NONE = 0, /* need more input */
	VIRQ_FRAME_LINE, /* a complete frame in *line and *len (valid until the next call) */
	VIRQ_FRAME_OVERSIZE, /* one oversize frame detected (reported once per frame) */
};

/* Offset of the first byte of buf that is not part of well-formed UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF); len when all of it is. */
size_t virq_proto_utf8_check(const char *buf, size_t len);

/* 0 or -ENOMEM. */
int virq_frame_reader_init(struct virq_frame_reader *r, size_t max);
void virq_frame_reader_fini(struct virq_frame_reader *r);
/* Where to read() next; *avail > 0 always (grows or compacts). NULL on ENOMEM. */
char *virq_frame_reader_space(struct virq_frame_reader *r, size_t *avail);
/* n bytes were written at the space returned. */
void virq_frame_reader_commit(struct virq_frame_reader *r, size_t n);
/* Extracts the next frame. Call until VIRQ_FRAME_NONE after every commit. */
enum virq_frame_status virq_frame_reader_next(struct virq_frame_reader *r, const char **line,
					      size_t *len);

#endif /* VIRQ_PROTO_H */
