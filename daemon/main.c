// SPDX-License-Identifier: MIT
/* virqd: the virq daemon. See daemon/core/daemon.h for the life cycle. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/daemon.h"
#include "virq/proto.h"
#include "virq/stats.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: virqd [options]\n"
		"  -c, --config FILE     configuration file (default %s; optional unless given)\n"
		"  -s, --socket PATH     control socket (default %s)\n"
		"  -g, --group NAME      group allowed to run mutating commands\n"
		"  -m, --metrics ADDR    metrics HTTP address host:port, or 'off'\n"
		"      --no-bpf          do not load the BPF tracer (VMM only)\n"
		"      --no-kvm          do not use /dev/kvm (observe only)\n"
		"  -f, --foreground      stay in the foreground (virqd never forks; accepted for\n"
		"                        compatibility with init scripts)\n"
		"  -l, --log-level LVL   err, warning, notice, info, debug\n"
		"  -V, --version         print the version and protocol and exit\n"
		"  -h, --help            this text\n"
		"Signals: SIGTERM/SIGINT stop (VMs stopped, BPF detached, socket removed),\n"
		"SIGHUP reloads the configuration.\n",
		VIRQ_CONF_DEFAULT_PATH, VIRQ_PROTO_DEFAULT_SOCKET);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "group", required_argument, NULL, 'g' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "no-bpf", no_argument, NULL, 'B' },
		{ "no-kvm", no_argument, NULL, 'K' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct virqd_overrides ov = { .log_level = -1 };
	static struct virqd d;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:s:g:m:fl:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ov.config_path = optarg;
			ov.config_explicit = true;
			break;
		case 's':
			ov.socket_path = optarg;
			break;
		case 'g':
			ov.socket_group = optarg;
			break;
		case 'm':
			ov.metrics_addr = optarg;
			break;
		case 'B':
			ov.no_bpf = true;
			break;
		case 'K':
			ov.no_kvm = true;
			break;
		case 'f':
			ov.foreground = true;
			break;
		case 'l':
			if (virq_config_parse_level(optarg, &ov.log_level)) {
				fprintf(stderr, "virqd: unknown log level '%s'\n", optarg);
				return 2;
			}
			break;
		case 'V':
			printf("virqd %s (commit %s), control protocol v%d\n", VIRQ_VERSION,
			       VIRQ_GIT_COMMIT, VIRQ_PROTO_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	r = virqd_initialise(&d, &ov);
	if (r == 0)
		r = virqd_run(&d);
	virqd_finalise(&d);
	return r ? 1 : 0;
}
