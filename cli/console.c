// SPDX-License-Identifier: MIT
/*
 * `virqctl vm console VM [--follow] [--from N]`: a guest kernel's serial output. Reads
 * vm.console from byte position N (default 0: everything still in the daemon's 64 KiB
 * ring) and writes the bytes to stdout; --follow keeps polling until the VM stops (then
 * prints its reason on stderr and exits 0 if it powered off or left through
 * isa-debug-exit with status 1, i.e. code 0; 5 for any other exit status).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "virqctl.h"

static const char usage[] = "usage: virqctl vm console VM [--follow] [--from N]\n";

static double jnum(const cJSON *o, const char *k)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(j) ? j->valuedouble : 0;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(j) && j->valuestring ? j->valuestring : "";
}

/* The VM's state object from vm.list, or NULL. */
static cJSON *vm_state(struct virqctl_conn *c, const char *vm, struct virq_proto_reply *r)
{
	char err[256];
	const cJSON *a, *it;

	if (virqctl_call(c, "vm.list", NULL, r, err, sizeof(err)) || r->err != VIRQ_E_OK)
		return NULL;
	a = cJSON_GetObjectItemCaseSensitive(r->result, "vms");
	cJSON_ArrayForEach(it, a)
	{
		char id[24];

		snprintf(id, sizeof(id), "%.0f", jnum(it, "id"));
		if (!strcmp(jstr(it, "name"), vm) || !strcmp(id, vm))
			return (cJSON *)it;
	}
	return NULL;
}

int virqctl_console(struct virqctl_conn *c, int argc, char **argv)
{
	static const struct option o[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "from", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	double from = 0;
	bool follow = false;
	char err[256];
	int ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "f", o, NULL)) != -1) {
		switch (ch) {
		case 'f':
			follow = true;
			break;
		case 'F':
			from = strtod(optarg, NULL);
			break;
		default:
			fputs(usage, stderr);
			return VIRQCTL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fputs(usage, stderr);
		return VIRQCTL_EXIT_USAGE;
	}
	for (;;) {
		struct virq_proto_reply r;
		cJSON *args = cJSON_CreateObject();
		const char *vm = argv[optind];
		double got;

		cJSON_AddStringToObject(args, "vm", vm);
		cJSON_AddNumberToObject(args, "from", from);
		if (virqctl_call(c, "vm.console", args, &r, err, sizeof(err))) {
			fprintf(stderr, "virqctl: %s\n", err);
			return VIRQCTL_EXIT_PROTOCOL;
		}
		if (r.err != VIRQ_E_OK) {
			fprintf(stderr, "virqctl: vm.console: %s: %s\n", r.err_code, r.err_msg);
			virq_proto_reply_fini(&r);
			return VIRQCTL_EXIT_DAEMON;
		}
		if (jnum(r.result, "lost") > 0)
			fprintf(stderr,
				"virqctl: %.0f bytes of output were overwritten before they "
				"were read\n",
				jnum(r.result, "lost"));
		fputs(jstr(r.result, "data"), stdout);
		fflush(stdout);
		got = jnum(r.result, "next") - from;
		from = jnum(r.result, "next");
		virq_proto_reply_fini(&r);
		if (!follow)
			return VIRQCTL_EXIT_OK;
		if (got == 0) {
			struct timespec ts = { 0, 100 * 1000000L };
			struct virq_proto_reply s;
			const cJSON *st = vm_state(c, vm, &s);
			int ret = -1;

			if (st && !strcmp(jstr(st, "state"), "stopped")) {
				const cJSON *es =
					cJSON_GetObjectItemCaseSensitive(st, "exit_status");

				fprintf(stderr, "virqctl: VM %s stopped: %s\n", vm,
					jstr(st, "reason"));
				ret = cJSON_IsNumber(es) && (es->valuedouble == 0 ||
							     es->valuedouble == 1) ?
					      VIRQCTL_EXIT_OK :
					      VIRQCTL_EXIT_FAILED;
			} else if (!st) {
				fprintf(stderr, "virqctl: VM %s is gone\n", vm);
				ret = VIRQCTL_EXIT_DAEMON;
			}
			virq_proto_reply_fini(&s);
			/* One more read: output written just before the stop. */
			if (ret >= 0 && !follow)
				return ret;
			if (ret >= 0) {
				follow = false;
				continue;
			}
			nanosleep(&ts, NULL);
		}
	}
}
