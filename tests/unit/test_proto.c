// SPDX-License-Identifier: MIT
/* Unit tests of the control protocol (include/virq/proto.h) and the server's peer check. */
#include "virq_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "virq/proto.h"
#include "../../daemon/ctl/ctl.h"

static enum virq_proto_err parse(const char *s, struct virq_proto_request *req)
{
	char msg[256];
	enum virq_proto_err e = virq_proto_request_parse(s, strlen(s), req, msg, sizeof(msg));

	if (e != VIRQ_E_OK)
		assert_true(msg[0] != '\0'); /* every error carries a reason */
	return e;
}

static void test_error_codes_are_a_closed_list_with_unique_names(void **state)
{
	for (int i = 0; i < VIRQ_E__COUNT; i++) {
		enum virq_proto_err back;

		assert_non_null(virq_proto_err_name(i));
		assert_int_equal(virq_proto_err_parse(virq_proto_err_name(i), &back), 0);
		assert_int_equal(back, i);
	}
	assert_null(virq_proto_err_name(VIRQ_E__COUNT));
	/* Append-only: the first codes keep their numbers and names forever. */
	assert_string_equal(virq_proto_err_name(1), "bad_json");
	assert_string_equal(virq_proto_err_name(VIRQ_E_TOO_LARGE), "too_large");
	assert_int_equal(VIRQ_E_TOO_LARGE, 13);
	assert_int_equal(virq_proto_err_parse("nope", &(enum virq_proto_err){ 0 }), -ENOENT);
}

static void test_command_names_roundtrip_and_mutating_flags(void **state)
{
	for (int i = 0; i < VIRQ_CMD__COUNT; i++) {
		enum virq_proto_cmd back;

		assert_int_equal(virq_proto_cmd_lookup(virq_proto_cmd_info(i)->name, &back), 0);
		assert_int_equal(back, i);
	}
	assert_true(virq_proto_cmd_info(VIRQ_CMD_VM_CREATE)->mutating);
	assert_true(virq_proto_cmd_info(VIRQ_CMD_VM_INJECT)->mutating);
	assert_false(virq_proto_cmd_info(VIRQ_CMD_STATUS)->mutating);
	assert_false(virq_proto_cmd_info(VIRQ_CMD_VM_CROSSCHECK)->mutating);
	assert_int_equal(VIRQ_CMD_METRICS_SNAPSHOT, 16); /* append-only */
	assert_null(virq_proto_cmd_info(VIRQ_CMD__COUNT));
}

static void test_request_validation_follows_the_documented_order(void **state)
{
	struct virq_proto_request r;

	assert_int_equal(parse("{", &r), VIRQ_E_BAD_JSON);
	virq_proto_request_fini(&r);
	assert_int_equal(parse("[1,2]", &r), VIRQ_E_BAD_REQUEST);
	virq_proto_request_fini(&r);
	assert_int_equal(parse("{\"id\":1,\"cmd\":\"status\"}", &r), VIRQ_E_BAD_REQUEST);
	assert_true(r.has_id); /* id read first, so the error can echo it */
	assert_int_equal(r.id, 1);
	virq_proto_request_fini(&r);
	assert_int_equal(parse("{\"v\":\"1\",\"id\":1,\"cmd\":\"status\"}", &r),
			 VIRQ_E_BAD_REQUEST);
	virq_proto_request_fini(&r);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"status\"}", &r), VIRQ_E_BAD_REQUEST);
	virq_proto_request_fini(&r);
	assert_int_equal(parse("{\"v\":1,\"id\":-1,\"cmd\":\"status\"}", &r), VIRQ_E_BAD_REQUEST);
	virq_proto_request_fini(&r);
	assert_int_equal(parse("{\"v\":1,\"id\":1.5,\"cmd\":\"status\"}", &r), VIRQ_E_BAD_REQUEST);
	virq_proto_request_fini(&r);
	assert_int_equal(parse("{\"v\":1,\"id\":9007199254740992,\"cmd\":\"status\"}", &r),
			 VIRQ_E_BAD_REQUEST);
	virq_proto_request_fini(&r);
	assert_int_equal(parse("{\"v\":1,\"id\":1,\"cmd\":7}", &r), VIRQ_E_BAD_REQUEST);
	virq_proto_request_fini(&r);
	/* Version before command: a v2 client sending a v2-only command learns the version. */
	assert_int_equal(parse("{\"v\":2,\"id\":1,\"cmd\":\"future.cmd\"}", &r),
			 VIRQ_E_UNSUPPORTED_VERSION);
	virq_proto_request_fini(&r);
	assert_int_equal(parse("{\"v\":1,\"id\":1,\"cmd\":\"future.cmd\"}", &r),
			 VIRQ_E_UNKNOWN_COMMAND);
	virq_proto_request_fini(&r);
	assert_int_equal(parse("{\"v\":1,\"id\":1,\"cmd\":\"status\",\"args\":[]}", &r),
			 VIRQ_E_BAD_ARGS);
	virq_proto_request_fini(&r);
	assert_int_equal(
		parse("{\"v\":1,\"id\":42,\"cmd\":\"vm.pause\",\"args\":{\"vm\":\"a\"}}", &r),
		VIRQ_E_OK);
	assert_int_equal(r.cmd, VIRQ_CMD_VM_PAUSE);
	assert_int_equal(r.id, 42);
	assert_non_null(r.args);
	virq_proto_request_fini(&r);
	assert_int_equal(parse("{\"v\":1,\"id\":0,\"cmd\":\"status\",\"args\":null}", &r),
			 VIRQ_E_OK);
	assert_null(r.args);
	virq_proto_request_fini(&r);
}

static void test_parse_uses_the_length_not_a_terminator(void **state)
{
	const char buf[] = "{\"v\":1,\"id\":3,\"cmd\":\"status\"}GARBAGE";
	struct virq_proto_request r;
	char msg[128];

	assert_int_equal(virq_proto_request_parse(buf, strlen(buf) - 7, &r, msg, sizeof(msg)),
			 VIRQ_E_OK);
	virq_proto_request_fini(&r);
	assert_int_equal(virq_proto_request_parse(buf, 10, &r, msg, sizeof(msg)), VIRQ_E_BAD_JSON);
	virq_proto_request_fini(&r);
}

static void test_replies_echo_version_and_id_and_parse_back(void **state)
{
	struct virq_proto_reply rep;
	char msg[128];
	size_t len;
	char *f;
	cJSON *res = cJSON_CreateObject();

	cJSON_AddNumberToObject(res, "x", 5);
	f = virq_proto_reply_ok(true, 77, res, &len);
	assert_non_null(f);
	assert_int_equal(f[len - 1], '\n');
	assert_null(memchr(f, '\n', len - 1)); /* one frame, one line */
	assert_int_equal(virq_proto_reply_parse(f, len - 1, &rep, msg, sizeof(msg)), 0);
	assert_true(rep.has_id);
	assert_int_equal(rep.id, 77);
	assert_int_equal(rep.err, VIRQ_E_OK);
	assert_int_equal(cJSON_GetObjectItem(rep.result, "x")->valueint, 5);
	virq_proto_reply_fini(&rep);
	free(f);

	f = virq_proto_reply_err(false, 0, VIRQ_E_TOO_LARGE, "big \"quoted\"\nline", &len);
	assert_null(memchr(f, '\n', len - 1));
	assert_int_equal(virq_proto_reply_parse(f, len, &rep, msg, sizeof(msg)), 0);
	assert_false(rep.has_id);
	assert_int_equal(rep.err, VIRQ_E_TOO_LARGE);
	assert_string_equal(rep.err_code, "too_large");
	assert_string_equal(rep.err_msg, "big \"quoted\"\nline");
	virq_proto_reply_fini(&rep);
	free(f);

	f = virq_proto_event("trace", NULL, &len);
	assert_int_equal(virq_proto_reply_parse(f, len, &rep, msg, sizeof(msg)), 0);
	assert_true(rep.is_event);
	assert_string_equal(rep.event, "trace");
	virq_proto_reply_fini(&rep);
	free(f);

	assert_int_equal(virq_proto_reply_parse("{\"v\":2,\"id\":1,\"result\":{}}", 27, &rep, msg,
						sizeof(msg)),
			 -EINVAL);
	/* An error code from a newer daemon maps to internal, the original string kept. */
	{
		const char *s =
			"{\"v\":1,\"id\":1,\"error\":{\"code\":\"new_code\",\"message\":\"m\"}}";

		assert_int_equal(virq_proto_reply_parse(s, strlen(s), &rep, msg, sizeof(msg)), 0);
		assert_int_equal(rep.err, VIRQ_E_INTERNAL);
		assert_string_equal(rep.err_code, "new_code");
		virq_proto_reply_fini(&rep);
	}
}

static void feed(struct virq_frame_reader *r, const char *s, size_t n)
{
	while (n) {
		size_t avail;
		char *sp = virq_frame_reader_space(r, &avail);
		size_t k = n < avail ? n : avail;

		assert_non_null(sp);
		memcpy(sp, s, k);
		virq_frame_reader_commit(r, k);
		s += k;
		n -= k;
		assert_true(r->cap <= r->max + 2); /* never more than the bound */
		if (n) {
			/* Drain like the server does before reading more. */
			const char *line;
			size_t len;

			while (virq_frame_reader_next(r, &line, &len) != VIRQ_FRAME_NONE)
				;
		}
	}
}

static void test_frame_reader_splits_lines_across_reads_and_strips_crlf(void **state)
{
	struct virq_frame_reader r;
	const char *line;
	size_t len;

	assert_int_equal(virq_frame_reader_init(&r, 64), 0);
	feed(&r, "abc", 3);
	assert_int_equal(virq_frame_reader_next(&r, &line, &len), VIRQ_FRAME_NONE);
	feed(&r, "def\r\nxy\n\n", 9);
	assert_int_equal(virq_frame_reader_next(&r, &line, &len), VIRQ_FRAME_LINE);
	assert_int_equal(len, 6);
	assert_memory_equal(line, "abcdef", 6);
	assert_int_equal(virq_frame_reader_next(&r, &line, &len), VIRQ_FRAME_LINE);
	assert_int_equal(len, 2);
	assert_memory_equal(line, "xy", 2);
	assert_int_equal(virq_frame_reader_next(&r, &line, &len), VIRQ_FRAME_LINE);
	assert_int_equal(len, 0);
	assert_int_equal(virq_frame_reader_next(&r, &line, &len), VIRQ_FRAME_NONE);
	virq_frame_reader_fini(&r);
}

static void test_frame_reader_discards_oversize_line_and_recovers(void **state)
{
	struct virq_frame_reader r;
	char big[300];
	const char *line;
	size_t len;
	int over = 0, lines = 0;
	enum virq_frame_status s;

	memset(big, 'z', sizeof(big));
	assert_int_equal(virq_frame_reader_init(&r, 100), 0);
	/* An endless line in pieces: reported once, its bytes never all held. */
	for (int i = 0; i < 5; i++) {
		size_t avail;
		char *sp = virq_frame_reader_space(&r, &avail);
		size_t k = avail < sizeof(big) ? avail : sizeof(big);

		memcpy(sp, big, k);
		virq_frame_reader_commit(&r, k);
		while ((s = virq_frame_reader_next(&r, &line, &len)) != VIRQ_FRAME_NONE)
			over += s == VIRQ_FRAME_OVERSIZE;
		assert_true(r.cap <= 102); /* max, the CR of a CRLF, one more */
	}
	assert_int_equal(over, 1);
	feed(&r, "tail\nok\n", 8);
	while ((s = virq_frame_reader_next(&r, &line, &len)) != VIRQ_FRAME_NONE) {
		assert_int_equal(s, VIRQ_FRAME_LINE);
		assert_int_equal(len, 2);
		assert_memory_equal(line, "ok", 2);
		lines++;
	}
	assert_int_equal(lines, 1);
	/* Exactly max bytes is a frame; max + 1 is not. */
	memset(big, 'a', 101);
	big[100] = '\n';
	feed(&r, big, 101);
	assert_int_equal(virq_frame_reader_next(&r, &line, &len), VIRQ_FRAME_LINE);
	assert_int_equal(len, 100);
	big[100] = 'a';
	big[101] = '\n';
	feed(&r, big, 102); /* 101 bytes fill the buffer: detected before the newline */
	while ((s = virq_frame_reader_next(&r, &line, &len)) != VIRQ_FRAME_NONE)
		assert_int_equal(s, VIRQ_FRAME_OVERSIZE);
	assert_int_equal(r.oversize, 2);
	feed(&r, "ok\n", 3); /* and the rest of that line (its newline) was discarded */
	assert_int_equal(virq_frame_reader_next(&r, &line, &len), VIRQ_FRAME_LINE);
	assert_int_equal(len, 2);
	virq_frame_reader_fini(&r);
}

static void test_mutating_needs_root_or_group_from_the_kernels_groups(void **state)
{
	gid_t many[300];

	for (int i = 0; i < 300; i++)
		many[i] = 50000 + (gid_t)i;
	many[299] = 4242;
	assert_true(virq_ctl_peer_privileged(0, 0, NULL, 0, (gid_t)-1)); /* root */
	assert_false(virq_ctl_peer_privileged(1000, 1000, NULL, 0, (gid_t)-1));
	assert_true(virq_ctl_peer_privileged(1000, 1000, NULL, 0, 1000)); /* primary */
	assert_true(virq_ctl_peer_privileged(1000, 1000, many, 300, 4242)); /* the 300th */
	many[299] = 42421; /* a prefix of "42421" is not 4242 */
	assert_false(virq_ctl_peer_privileged(1000, 1000, many, 300, 4242));
	assert_false(virq_ctl_peer_privileged(1000, 1000, many, 300, 424));
}

static void test_strict_frames(void **state)
{
	static const struct {
		const char *f;
		enum virq_proto_err e;
	} cases[] = {
		{ "{\"v\":1,\"id\":1,\"cmd\":\"status\"}", VIRQ_E_OK },
		{ "{\"v\":1,\"id\":1,\"cmd\":\"status\"} \t\r", VIRQ_E_OK },
		{ "{\"v\":1,\"id\":1,\"cmd\":\"status\"}x", VIRQ_E_BAD_JSON },
		{ "{\"v\":1,\"id\":1,\"cmd\":\"status\"}{}", VIRQ_E_BAD_JSON },
		{ "{\"v\":01,\"id\":1,\"cmd\":\"status\"}", VIRQ_E_BAD_JSON },
		{ "{\"v\":1.,\"id\":1,\"cmd\":\"status\"}", VIRQ_E_BAD_JSON },
		{ "{\"v\":1,\"id\":1,\"cmd\":\"sta\ttus\"}", VIRQ_E_BAD_JSON },
		{ "{\"v\":1,\"id\":1,\"cmd\":\"\xc3\x28\"}", VIRQ_E_BAD_JSON },
		{ "{\"v\":1,\"id\":1,\"cmd\":\"\xed\xa0\x80\"}", VIRQ_E_BAD_JSON },
		{ "{\"v\":1,\"id\":1,\"cmd\":\"\xc0\xaf\"}", VIRQ_E_BAD_JSON },
		{ "{\"v\":1,\"id\":9007199254740991,\"cmd\":\"status\"}", VIRQ_E_OK },
		{ "{\"v\":1,\"id\":9007199254740992,\"cmd\":\"status\"}", VIRQ_E_BAD_REQUEST },
		{ "{\"v\":1,\"id\":9007199254740993,\"cmd\":\"status\"}", VIRQ_E_BAD_REQUEST },
		{ "{\"v\":1,\"id\":9007199254740990.7,\"cmd\":\"status\"}", VIRQ_E_BAD_REQUEST },
		{ "{\"v\":1,\"id\":1.5,\"cmd\":\"status\"}", VIRQ_E_BAD_REQUEST },
		{ "{\"v\":1,\"id\":1e2,\"cmd\":\"status\"}", VIRQ_E_BAD_REQUEST },
		{ "{\"v\":1,\"id\":-1,\"cmd\":\"status\"}", VIRQ_E_BAD_REQUEST },
		{ "{\"v\":1,\"id\":\"1\",\"cmd\":\"status\"}", VIRQ_E_BAD_REQUEST },
	};
	struct virq_proto_request req;
	char msg[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum virq_proto_err e = virq_proto_request_parse(cases[i].f, strlen(cases[i].f),
								 &req, msg, sizeof(msg));

		if (e != cases[i].e)
			fail_msg("case %zu (%s): got %d want %d: %s", i, cases[i].f, e, cases[i].e,
				 msg);
		if (e == VIRQ_E_BAD_REQUEST)
			assert_false(req.has_id);
		virq_proto_request_fini(&req);
	}
	assert_int_equal(
		virq_proto_request_parse("{\"v\":1,\0\"id\":1}", 15, &req, msg, sizeof(msg)),
		VIRQ_E_BAD_JSON);
	virq_proto_request_fini(&req);
	assert_int_equal(virq_proto_request_parse(
				 "{\"v\":1,\"id\":9007199254740991,\"cmd\":\"status\"}",
				 strlen("{\"v\":1,\"id\":9007199254740991,\"cmd\":\"status\"}"),
				 &req, msg, sizeof(msg)),
			 VIRQ_E_OK);
	assert_true(req.id == 9007199254740991ll);
	virq_proto_request_fini(&req);
	{
		/* echoed with its exact digits (cJSON's own printing gave ...990) */
		char *f = virq_proto_reply_ok(true, 9007199254740991ll, NULL, NULL);

		assert_non_null(f);
		assert_non_null(strstr(f, "\"id\":9007199254740991,"));
		free(f);
	}
}

static void test_replies_are_valid_utf8_whatever_the_strings(void **state)
{
	size_t len;
	char *f =
		virq_proto_reply_err(true, 1, VIRQ_E_BAD_ARGS, "bad \xff\xc3 byte \xe2\x82", &len);

	assert_non_null(f);
	assert_int_equal(virq_proto_utf8_check(f, len), len);
	free(f);
}

static void test_frame_bound_excludes_the_cr_of_crlf(void **state)
{
	struct virq_frame_reader r;
	const char *line;
	size_t len;
	char *buf = malloc(VIRQ_PROTO_MAX_FRAME + 2);

	assert_non_null(buf);
	memset(buf, ' ', VIRQ_PROTO_MAX_FRAME);
	buf[VIRQ_PROTO_MAX_FRAME] = '\r';
	buf[VIRQ_PROTO_MAX_FRAME + 1] = '\n';
	assert_int_equal(virq_frame_reader_init(&r, VIRQ_PROTO_MAX_FRAME), 0);
	for (size_t off = 0; off < VIRQ_PROTO_MAX_FRAME + 2;) {
		size_t avail, n;
		char *sp = virq_frame_reader_space(&r, &avail);

		assert_non_null(sp);
		n = avail < VIRQ_PROTO_MAX_FRAME + 2 - off ? avail : VIRQ_PROTO_MAX_FRAME + 2 - off;
		memcpy(sp, buf + off, n);
		virq_frame_reader_commit(&r, n);
		off += n;
		if (off < VIRQ_PROTO_MAX_FRAME + 2)
			assert_int_equal(virq_frame_reader_next(&r, &line, &len), VIRQ_FRAME_NONE);
	}
	assert_int_equal(virq_frame_reader_next(&r, &line, &len), VIRQ_FRAME_LINE);
	assert_int_equal(len, VIRQ_PROTO_MAX_FRAME);
	virq_frame_reader_fini(&r);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_codes_are_a_closed_list_with_unique_names),
		cmocka_unit_test(test_command_names_roundtrip_and_mutating_flags),
		cmocka_unit_test(test_request_validation_follows_the_documented_order),
		cmocka_unit_test(test_parse_uses_the_length_not_a_terminator),
		cmocka_unit_test(test_replies_echo_version_and_id_and_parse_back),
		cmocka_unit_test(test_frame_reader_splits_lines_across_reads_and_strips_crlf),
		cmocka_unit_test(test_frame_reader_discards_oversize_line_and_recovers),
		cmocka_unit_test(test_mutating_needs_root_or_group_from_the_kernels_groups),
		cmocka_unit_test(test_strict_frames),
		cmocka_unit_test(test_replies_are_valid_utf8_whatever_the_strings),
		cmocka_unit_test(test_frame_bound_excludes_the_cr_of_crlf),
	};

	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
