// SPDX-License-Identifier: MIT
/*
 * The control protocol's vocabulary, request validation, reply builders and the bounded
 * line reader (include/virq/proto.h). Shared by virqd and virqctl.
 */
#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "virq/proto.h"

static const char *const err_names[VIRQ_E__COUNT] = {
	[VIRQ_E_OK] = "ok",
	[VIRQ_E_BAD_JSON] = "bad_json",
	[VIRQ_E_BAD_REQUEST] = "bad_request",
	[VIRQ_E_UNSUPPORTED_VERSION] = "unsupported_version",
	[VIRQ_E_UNKNOWN_COMMAND] = "unknown_command",
	[VIRQ_E_BAD_ARGS] = "bad_args",
	[VIRQ_E_PERMISSION_DENIED] = "permission_denied",
	[VIRQ_E_NOT_FOUND] = "not_found",
	[VIRQ_E_EXISTS] = "exists",
	[VIRQ_E_KVM_UNAVAILABLE] = "kvm_unavailable",
	[VIRQ_E_BPF_UNAVAILABLE] = "bpf_unavailable",
	[VIRQ_E_BUSY] = "busy",
	[VIRQ_E_INTERNAL] = "internal",
	[VIRQ_E_TOO_LARGE] = "too_large",
	[VIRQ_E_VM_STOPPED] = "vm_stopped",
	[VIRQ_E_TOO_MANY_CLIENTS] = "too_many_clients",
};

const char *virq_proto_err_name(enum virq_proto_err e)
{
	if ((unsigned int)e >= VIRQ_E__COUNT)
		return NULL;
	return err_names[e];
}

int virq_proto_err_parse(const char *name, enum virq_proto_err *out)
{
	for (unsigned int i = 0; name && i < VIRQ_E__COUNT; i++) {
		if (!strcmp(name, err_names[i])) {
			*out = (enum virq_proto_err)i;
			return 0;
		}
	}
	return -ENOENT;
}

static const struct virq_proto_cmd_info cmds[VIRQ_CMD__COUNT] = {
	[VIRQ_CMD_VERSION] = { "version", false, "", "protocol and daemon versions" },
	[VIRQ_CMD_CAPABILITIES] = { "capabilities", false, "",
				    "commands, error codes and subsystems available" },
	[VIRQ_CMD_STATUS] = { "status", false, "", "daemon state, degradations and counters" },
	[VIRQ_CMD_VM_LIST] = { "vm.list", false, "", "VMs run by this daemon" },
	[VIRQ_CMD_VM_CREATE] = { "vm.create", true,
				 "{name, vcpus, mem_mb, irqchip: kernel|split|user, idle: hlt|spin, "
				 "posted, x2apic, pv_eoi, start, kernel, initrd, append, disk}",
				 "create (and start) a VM" },
	[VIRQ_CMD_VM_DESTROY] = { "vm.destroy", true, "{vm}",
				  "stop and free a VM (busy while a scenario runs on it)" },
	[VIRQ_CMD_VM_PAUSE] = { "vm.pause", true, "{vm}", "park every vCPU" },
	[VIRQ_CMD_VM_RESUME] = { "vm.resume", true, "{vm}", "resume a paused VM" },
	[VIRQ_CMD_VM_INJECT] = { "vm.inject", true,
				 "{vm, type: msi|gsi|nmi, vcpu, vector, addr, data, gsi, "
				 "op: assert|deassert|pulse, count}",
				 "inject interrupts (count > 1000: on a worker, like vm.scenario)" },
	[VIRQ_CMD_VM_SCENARIO] = { "vm.scenario", true, "{vm, scenario: object|\"default\"}",
				   "run a scenario on a worker and compare with its expectations "
				   "(one per VM; busy beyond max_scenarios)" },
	[VIRQ_CMD_VM_LEDGER] = { "vm.ledger", false, "{vm, vcpu}",
				 "guest and VMM ledgers (non-zero vectors)" },
	[VIRQ_CMD_VM_STATS] = { "vm.stats", false, "{vm}", "KVM binary stats and exit counts" },
	[VIRQ_CMD_VM_CROSSCHECK] = { "vm.crosscheck", false, "{vm}",
				     "compare guest, VMM, BPF and KVM views" },
	[VIRQ_CMD_HOST_VMS] = { "host.vms", false, "", "every KVM VM on the host (/proc)" },
	[VIRQ_CMD_TRACE_POINTS] = { "trace.points", false, "", "BPF attach-point report" },
	[VIRQ_CMD_TRACE_SUBSCRIBE] = { "trace.subscribe", false, "{}",
				       "switch this connection to event lines" },
	[VIRQ_CMD_METRICS_SNAPSHOT] = { "metrics.snapshot", false, "",
					"counters and rates per VM, vCPU and path" },
	[VIRQ_CMD_VM_CONSOLE] = { "vm.console", false, "{vm, from, max}",
				  "a guest kernel's serial output from byte `from`" },
};

const struct virq_proto_cmd_info *virq_proto_cmd_info(enum virq_proto_cmd cmd)
{
	if ((unsigned int)cmd >= VIRQ_CMD__COUNT)
		return NULL;
	return &cmds[cmd];
}

int virq_proto_cmd_lookup(const char *name, enum virq_proto_cmd *out)
{
	for (unsigned int i = 0; name && i < VIRQ_CMD__COUNT; i++) {
		if (!strcmp(name, cmds[i].name)) {
			*out = (enum virq_proto_cmd)i;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- strict input checks ---------------------------------------------------------------- */

/*
 * Length of the well-formed UTF-8 sequence at s (1..4), or 0: RFC 3629 section 4 (no
 * overlong forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF).
 */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

size_t virq_proto_utf8_check(const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0;

	while (i < len) {
		size_t k = utf8_seq(s + i, len - i);

		if (!k)
			return i;
		i += k;
	}
	return len;
}

/* Replaces every byte that is not part of a well-formed UTF-8 sequence with '?'. */
static void utf8_scrub(char *buf, size_t len)
{
	unsigned char *s = (unsigned char *)buf;
	size_t i = 0;

	while (i < len) {
		size_t k = utf8_seq(s + i, len - i);

		if (!k) {
			s[i++] = '?';
			continue;
		}
		i += k;
	}
}

#define JSON_MAX_DEPTH 512

struct strict {
	const unsigned char *s;
	size_t n, i;
	const char *why;
	size_t id_off, id_len; /* raw value of the first top-level "id" member */
	bool have_id;
};

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void skip_ws(struct strict *x)
{
	while (x->i < x->n && is_ws(x->s[x->i]))
		x->i++;
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A string at x->i (its opening quote); RFC 8259 section 7. */
static bool scan_string(struct strict *x)
{
	for (x->i++; x->i < x->n;) {
		unsigned char c = x->s[x->i];
		size_t k;

		if (c == '"') {
			x->i++;
			return true;
		}
		if (c < 0x20) {
			x->why = "control character inside a string";
			return false;
		}
		if (c == '\\') {
			if (x->i + 1 >= x->n)
				break;
			c = x->s[x->i + 1];
			if (c == 'u') {
				if (x->i + 6 > x->n || !is_hex(x->s[x->i + 2]) ||
				    !is_hex(x->s[x->i + 3]) || !is_hex(x->s[x->i + 4]) ||
				    !is_hex(x->s[x->i + 5])) {
					x->why = "bad \\u escape";
					return false;
				}
				x->i += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", c) || !c) {
				x->why = "bad escape";
				return false;
			}
			x->i += 2;
			continue;
		}
		k = utf8_seq(x->s + x->i, x->n - x->i);
		if (!k) {
			x->why = "invalid UTF-8";
			return false;
		}
		x->i += k;
	}
	x->why = "unterminated string";
	return false;
}

static bool scan_digits(struct strict *x)
{
	size_t start = x->i;

	while (x->i < x->n && x->s[x->i] >= '0' && x->s[x->i] <= '9')
		x->i++;
	return x->i > start;
}

/* A number at x->i; RFC 8259 section 6 (no leading zeros, no "1.", no "+1"). */
static bool scan_number(struct strict *x)
{
	if (x->s[x->i] == '-')
		x->i++;
	if (x->i < x->n && x->s[x->i] == '0')
		x->i++;
	else if (!scan_digits(x))
		goto bad;
	if (x->i < x->n && x->s[x->i] == '.') {
		x->i++;
		if (!scan_digits(x))
			goto bad;
	}
	if (x->i < x->n && (x->s[x->i] == 'e' || x->s[x->i] == 'E')) {
		x->i++;
		if (x->i < x->n && (x->s[x->i] == '+' || x->s[x->i] == '-'))
			x->i++;
		if (!scan_digits(x))
			goto bad;
	}
	if (x->i < x->n && (x->s[x->i] == '.' || (x->s[x->i] >= '0' && x->s[x->i] <= '9')))
		goto bad;
	return true;
bad:
	x->why = "malformed number";
	return false;
}

static bool scan_literal(struct strict *x, const char *lit)
{
	size_t l = strlen(lit);

	if (x->n - x->i < l || memcmp(x->s + x->i, lit, l)) {
		x->why = "unexpected character";
		return false;
	}
	x->i += l;
	return true;
}

/*
 * Checks that buf is exactly one JSON text (RFC 8259) with nothing after it but
 * whitespace, iteratively (no recursion: the depth is bounded by JSON_MAX_DEPTH). Records
 * the raw bytes of the first top-level member named "id" (key written without escapes).
 * 0, or -EINVAL with x->why and x->i at the fault.
 */
static int json_strict(struct strict *x)
{
	enum { VAL, VAL_OR_END, KEY, KEY_OR_END, AFTER } st = VAL;
	unsigned char stack[JSON_MAX_DEPTH];
	unsigned int depth = 0;
	bool capture = false;

	for (;;) {
		unsigned char c;

		skip_ws(x);
		if (st == AFTER && depth == 0) {
			if (x->i != x->n) {
				x->why = "text after the JSON value";
				return -EINVAL;
			}
			return 0;
		}
		if (x->i >= x->n) {
			x->why = "truncated";
			return -EINVAL;
		}
		c = x->s[x->i];
		switch (st) {
		case VAL_OR_END:
			if (c == ']') {
				depth--;
				x->i++;
				st = AFTER;
				continue;
			}
			/* fall through */
		case VAL: {
			size_t start = x->i;
			bool cap = capture;

			capture = false;
			if (c == '{' || c == '[') {
				if (depth == JSON_MAX_DEPTH) {
					x->why = "nested too deeply";
					return -EINVAL;
				}
				stack[depth++] = c;
				x->i++;
				st = c == '{' ? KEY_OR_END : VAL_OR_END;
				if (cap) {
					x->have_id = true;
					x->id_off = start;
					x->id_len = 0;
				}
				continue;
			}
			if (c == '"'			       ? !scan_string(x) :
			    c == '-' || (c >= '0' && c <= '9') ? !scan_number(x) :
			    c == 't'			       ? !scan_literal(x, "true") :
			    c == 'f'			       ? !scan_literal(x, "false") :
			    c == 'n'			       ? !scan_literal(x, "null") :
				       (x->why = "unexpected character", true))
				return -EINVAL;
			if (cap) {
				x->have_id = true;
				x->id_off = start;
				x->id_len = x->i - start;
			}
			st = AFTER;
			continue;
		}
		case KEY_OR_END:
			if (c == '}') {
				depth--;
				x->i++;
				st = AFTER;
				continue;
			}
			/* fall through */
		case KEY: {
			size_t start = x->i;

			if (c != '"') {
				x->why = "expected a member name";
				return -EINVAL;
			}
			if (!scan_string(x))
				return -EINVAL;
			capture = depth == 1 && !x->have_id && x->i - start == 4 &&
				  !memcmp(x->s + start, "\"id\"", 4);
			skip_ws(x);
			if (x->i >= x->n || x->s[x->i] != ':') {
				x->why = "expected ':'";
				return -EINVAL;
			}
			x->i++;
			st = VAL;
			continue;
		}
		case AFTER:
			if (c == ',') {
				x->i++;
				st = stack[depth - 1] == '{' ? KEY : VAL;
				continue;
			}
			if ((c == '}' && stack[depth - 1] == '{') ||
			    (c == ']' && stack[depth - 1] == '[')) {
				depth--;
				x->i++;
				continue;
			}
			x->why = "expected ',' or a closing bracket";
			return -EINVAL;
		}
	}
}

/* An integral JSON number in [0, max). cJSON keeps numbers as doubles. */
static bool json_uint(const cJSON *j, double max, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(j))
		return false;
	d = j->valuedouble;
	if (!(d >= 0 && d < max) || floor(d) != d)
		return false;
	*out = (int64_t)d;
	return true;
}

/* The id as its raw digits say: plain decimal, below 2^53, and the same value cJSON read
 * (a duplicate key written with escapes could differ). */
static bool id_of_lexeme(const struct strict *x, const cJSON *id, int64_t *out)
{
	int64_t v = 0;

	if (!cJSON_IsNumber(id) || !x->have_id || !x->id_len || x->id_len > 16)
		return false;
	for (size_t i = 0; i < x->id_len; i++) {
		unsigned char c = x->s[x->id_off + i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	if (v >= VIRQ_PROTO_ID_MAX || (double)v != id->valuedouble)
		return false;
	*out = v;
	return true;
}

enum virq_proto_err virq_proto_request_parse(const char *buf, size_t len,
					     struct virq_proto_request *req, char *msg,
					     size_t msglen)
{
	const cJSON *v, *id, *cmd, *args;
	struct strict x = { 0 };
	const char *end = NULL;
	int64_t ver;
	size_t off;

	memset(req, 0, sizeof(*req));
	if (len > VIRQ_PROTO_MAX_FRAME) {
		snprintf(msg, msglen, "frame of %zu bytes exceeds %u", len, VIRQ_PROTO_MAX_FRAME);
		return VIRQ_E_TOO_LARGE;
	}
	/* libcjson accepts more than RFC 8259 (text after the value, leading zeros, raw
	 * control characters, any byte in strings): the frame is checked strictly first. */
	if (memchr(buf, '\0', len)) {
		snprintf(msg, msglen, "NUL byte at byte %zu",
			 (size_t)((const char *)memchr(buf, '\0', len) - buf));
		return VIRQ_E_BAD_JSON;
	}
	off = virq_proto_utf8_check(buf, len);
	if (off < len) {
		snprintf(msg, msglen, "invalid UTF-8 at byte %zu", off);
		return VIRQ_E_BAD_JSON;
	}
	x.s = (const unsigned char *)buf;
	x.n = len;
	if (json_strict(&x)) {
		snprintf(msg, msglen, "invalid JSON at byte %zu: %s", x.i, x.why);
		return VIRQ_E_BAD_JSON;
	}
	req->root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (!req->root) {
		snprintf(msg, msglen, "invalid JSON (unpaired \\u surrogate?)");
		return VIRQ_E_BAD_JSON;
	}
	if (!cJSON_IsObject(req->root)) {
		snprintf(msg, msglen, "a request must be a JSON object");
		return VIRQ_E_BAD_REQUEST;
	}
	/* Read the id first so that every later error can echo it. The id is taken from
	 * its digits, not from cJSON's double: 2^53 + 1 or 9007199254740990.7 must not
	 * become a different id. */
	id = cJSON_GetObjectItemCaseSensitive(req->root, "id");
	if (id && !cJSON_IsNull(id)) {
		if (!id_of_lexeme(&x, id, &req->id)) {
			snprintf(
				msg, msglen,
				"\"id\" must be an integer in 0..2^53-1 written in decimal digits");
			return VIRQ_E_BAD_REQUEST;
		}
		req->has_id = true;
	}
	v = cJSON_GetObjectItemCaseSensitive(req->root, "v");
	if (!v || !json_uint(v, 65536, &ver)) {
		snprintf(msg, msglen, "\"v\" (protocol version) must be a small integer");
		return VIRQ_E_BAD_REQUEST;
	}
	if (!req->has_id) {
		snprintf(msg, msglen, "\"id\" is required");
		return VIRQ_E_BAD_REQUEST;
	}
	cmd = cJSON_GetObjectItemCaseSensitive(req->root, "cmd");
	if (!cJSON_IsString(cmd) || !cmd->valuestring) {
		snprintf(msg, msglen, "\"cmd\" must be a string");
		return VIRQ_E_BAD_REQUEST;
	}
	if (ver != VIRQ_PROTO_VERSION) {
		snprintf(msg, msglen, "protocol version %lld not supported (this daemon speaks %d)",
			 (long long)ver, VIRQ_PROTO_VERSION);
		return VIRQ_E_UNSUPPORTED_VERSION;
	}
	if (virq_proto_cmd_lookup(cmd->valuestring, &req->cmd)) {
		snprintf(msg, msglen, "unknown command \"%.64s\"", cmd->valuestring);
		return VIRQ_E_UNKNOWN_COMMAND;
	}
	args = cJSON_GetObjectItemCaseSensitive(req->root, "args");
	if (args && !cJSON_IsNull(args) && !cJSON_IsObject(args)) {
		snprintf(msg, msglen, "\"args\" must be an object");
		return VIRQ_E_BAD_ARGS;
	}
	req->args = cJSON_IsObject(args) ? args : NULL;
	return VIRQ_E_OK;
}

void virq_proto_request_fini(struct virq_proto_request *req)
{
	if (!req)
		return;
	cJSON_Delete(req->root);
	req->root = NULL;
	req->args = NULL;
}

/* Prints obj unformatted with a trailing newline; consumes obj. */
static char *frame_of(cJSON *obj, size_t *len)
{
	char *s, *line;
	size_t n;

	if (!obj)
		return NULL;
	s = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (!s)
		return NULL;
	n = strlen(s);
	/* Strings in a reply may carry bytes from /proc or a message cut mid-character:
	 * a reply is always valid UTF-8. */
	utf8_scrub(s, n);
	line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	if (len)
		*len = n + 1;
	return line;
}

static cJSON *envelope(bool has_id, int64_t id)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "v", VIRQ_PROTO_VERSION);
	if (has_id) {
		/* Exact digits: cJSON prints doubles with 15 significant digits when they
		 * "compare equal" within its epsilon (2^53 - 1 came back as ...990). */
		char digits[24];

		snprintf(digits, sizeof(digits), "%lld", (long long)id);
		cJSON_AddRawToObject(o, "id", digits);
	} else
		cJSON_AddNullToObject(o, "id");
	return o;
}

/* Attaches child (or an empty object) under key; consumes child. */
static cJSON *attach(cJSON *o, const char *key, cJSON *child)
{
	if (!child)
		child = cJSON_CreateObject();
	if (!o || !child || !cJSON_AddItemToObject(o, key, child)) {
		cJSON_Delete(o);
		cJSON_Delete(child);
		return NULL;
	}
	return o;
}

char *virq_proto_request_build(int64_t id, const char *cmd, cJSON *args, size_t *len)
{
	cJSON *o = cJSON_CreateObject();

	if (o) {
		cJSON_AddNumberToObject(o, "v", VIRQ_PROTO_VERSION);
		cJSON_AddNumberToObject(o, "id", (double)id);
		cJSON_AddStringToObject(o, "cmd", cmd);
	}
	return frame_of(attach(o, "args", args), len);
}

char *virq_proto_reply_ok(bool has_id, int64_t id, cJSON *result, size_t *len)
{
	return frame_of(attach(envelope(has_id, id), "result", result), len);
}

char *virq_proto_reply_err(bool has_id, int64_t id, enum virq_proto_err code, const char *msg,
			   size_t *len)
{
	cJSON *e = cJSON_CreateObject();
	const char *name = virq_proto_err_name(code);

	if (e) {
		cJSON_AddStringToObject(e, "code", name ? name : "internal");
		cJSON_AddStringToObject(e, "message", msg ? msg : "");
	}
	return frame_of(attach(envelope(has_id, id), "error", e), len);
}

char *virq_proto_event(const char *event, cJSON *data, size_t *len)
{
	cJSON *o = cJSON_CreateObject();

	if (o) {
		cJSON_AddNumberToObject(o, "v", VIRQ_PROTO_VERSION);
		cJSON_AddStringToObject(o, "event", event);
	}
	return frame_of(attach(o, "data", data), len);
}

int virq_proto_reply_parse(const char *buf, size_t len, struct virq_proto_reply *r, char *msg,
			   size_t msglen)
{
	const cJSON *v, *id, *err, *code, *m, *ev;
	int64_t ver;

	memset(r, 0, sizeof(*r));
	r->root = cJSON_ParseWithLength(buf, len);
	if (!r->root) {
		snprintf(msg, msglen, "daemon sent invalid JSON");
		return -EINVAL;
	}
	v = cJSON_GetObjectItemCaseSensitive(r->root, "v");
	if (!cJSON_IsObject(r->root) || !json_uint(v, 65536, &ver) || ver != VIRQ_PROTO_VERSION) {
		snprintf(msg, msglen, "not a protocol v%d message", VIRQ_PROTO_VERSION);
		goto err;
	}
	ev = cJSON_GetObjectItemCaseSensitive(r->root, "event");
	if (cJSON_IsString(ev)) {
		r->is_event = true;
		r->event = ev->valuestring;
		r->data = cJSON_GetObjectItemCaseSensitive(r->root, "data");
		return 0;
	}
	id = cJSON_GetObjectItemCaseSensitive(r->root, "id");
	if (id && !cJSON_IsNull(id)) {
		if (!json_uint(id, (double)VIRQ_PROTO_ID_MAX, &r->id)) {
			snprintf(msg, msglen, "bad id in reply");
			goto err;
		}
		r->has_id = true;
	}
	err = cJSON_GetObjectItemCaseSensitive(r->root, "error");
	if (cJSON_IsObject(err)) {
		code = cJSON_GetObjectItemCaseSensitive(err, "code");
		m = cJSON_GetObjectItemCaseSensitive(err, "message");
		r->err_code = cJSON_IsString(code) ? code->valuestring : "internal";
		r->err_msg = cJSON_IsString(m) ? m->valuestring : "";
		if (virq_proto_err_parse(r->err_code, &r->err) || r->err == VIRQ_E_OK)
			r->err = VIRQ_E_INTERNAL;
		return 0;
	}
	r->result = cJSON_GetObjectItemCaseSensitive(r->root, "result");
	if (!r->result) {
		snprintf(msg, msglen, "reply has neither result nor error");
		goto err;
	}
	return 0;
err:
	cJSON_Delete(r->root);
	r->root = NULL;
	return -EINVAL;
}

void virq_proto_reply_fini(struct virq_proto_reply *r)
{
	if (!r)
		return;
	cJSON_Delete(r->root);
	memset(r, 0, sizeof(*r));
}

/* ---- bounded line reader ----------------------------------------------------------------- */

#define FRAME_INITIAL_CAP 4096

int virq_frame_reader_init(struct virq_frame_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
	r->cap = max + 2 < FRAME_INITIAL_CAP ? max + 2 : FRAME_INITIAL_CAP;
	r->buf = malloc(r->cap);
	return r->buf ? 0 : -ENOMEM;
}

void virq_frame_reader_fini(struct virq_frame_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	r->buf = NULL;
	r->cap = r->len = r->start = 0;
}

char *virq_frame_reader_space(struct virq_frame_reader *r, size_t *avail)
{
	if (r->start) {
		memmove(r->buf, r->buf + r->start, r->len - r->start);
		r->len -= r->start;
		r->start = 0;
	}
	if (r->len == r->cap) {
		/* Full: grow, but never past max + 2 (a frame, the CR of a CRLF, and one
		 * byte more, so that an oversize line is detectable without its newline).
		 * A full buffer at max + 2 cannot happen: next() discards it first. */
		size_t ncap = r->cap * 2 > r->max + 2 ? r->max + 2 : r->cap * 2;
		char *nb;

		if (ncap <= r->cap)
			return NULL;
		nb = realloc(r->buf, ncap);
		if (!nb)
			return NULL;
		r->buf = nb;
		r->cap = ncap;
	}
	*avail = r->cap - r->len;
	return r->buf + r->len;
}

void virq_frame_reader_commit(struct virq_frame_reader *r, size_t n)
{
	r->len += n;
}

enum virq_frame_status virq_frame_reader_next(struct virq_frame_reader *r, const char **line,
					      size_t *len)
{
	for (;;) {
		char *p = r->buf + r->start;
		size_t held = r->len - r->start;
		char *nl = held ? memchr(p, '\n', held) : NULL;

		if (r->discarding) {
			if (!nl) {
				r->start = r->len = 0;
				return VIRQ_FRAME_NONE;
			}
			r->start += (size_t)(nl - p) + 1;
			r->discarding = false;
			continue;
		}
		if (!nl) {
			/* max bytes and a CR may still be a frame: its LF is next. */
			if (held > r->max + 1 || (held == r->max + 1 && p[held - 1] != '\r')) {
				r->discarding = true;
				r->oversize++;
				r->start = r->len = 0;
				return VIRQ_FRAME_OVERSIZE;
			}
			return VIRQ_FRAME_NONE;
		}
		r->start += (size_t)(nl - p) + 1;
		held = (size_t)(nl - p);
		if (held && p[held - 1] == '\r')
			held--; /* the bound is on the frame, not on its CRLF */
		if (held > r->max) {
			r->oversize++;
			return VIRQ_FRAME_OVERSIZE;
		}
		*line = p;
		*len = held;
		return VIRQ_FRAME_LINE;
	}
}
