// SPDX-License-Identifier: MIT
/*
 * virqctl: the command-line client of virqd's control socket. Human-readable tables by
 * default, the daemon's JSON with --json.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "virq/xcheck.h"
#include "virqctl.h"

static bool opt_json;

static const char main_usage[] =
	"usage: virqctl [--socket PATH] [--json] [--timeout MS] COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  status                      daemon state, degradations, counters\n"
	"  version | capabilities      protocol and daemon versions / what is supported\n"
	"  vm list                     VMs run by virqd\n"
	"  vm create NAME [opts]       create and start a VM (see vm create --help)\n"
	"  vm destroy|pause|resume VM\n"
	"  vm inject VM msi|gsi|nmi [opts]\n"
	"  vm scenario VM FILE|-|default\n"
	"  vm ledger VM [--vcpu N]     guest and VMM ledgers\n"
	"  vm stats VM                 KVM stats and exits\n"
	"  vm console VM [--follow]    a guest kernel's serial output\n"
	"  vm compare VM VM [...]      side by side: run time, KVM stats, exits, sources\n"
	"  crosscheck [VM]             the cross-check verdict table\n"
	"  host vms                    KVM VMs on this host\n"
	"  trace points                BPF attach-point report\n"
	"  trace [--count N]           stream trace events\n"
	"  top [--once] [--iterations N] [--interval MS]   live view; q quits\n"
	"  metrics                     the stats snapshot (JSON)\n"
	"  call CMD [ARGS-JSON]        send any request, print the raw reply\n"
	"\n"
	"Every command takes --help. The socket is --socket, else $VIRQ_SOCKET, else\n" VIRQ_PROTO_DEFAULT_SOCKET
	".\n"
	"Exit status: 0 ok; 1 the daemon answered with an error; 2 usage; 3 cannot connect;\n"
	"4 protocol error or timeout; 5 the command ran but its check failed (scenario\n"
	"expectations, cross-check verdicts lost/spurious/misrouted).\n";

static int usage_err(const char *sub_usage)
{
	fputs(sub_usage, stderr);
	return VIRQCTL_EXIT_USAGE;
}

/* True if argv has -h/--help (each subcommand honours it before connecting). */
static bool wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(j) ? j->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(j) && j->valuestring ? j->valuestring : "";
}

static bool boolean(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void print_json(const cJSON *j)
{
	char *s = cJSON_Print(j);

	if (s) {
		puts(s);
		free(s);
	}
}

/* One request; prints the daemon error, returns an exit code; *out keeps the reply. */
static int call(struct virqctl_conn *c, const char *cmd, cJSON *args, struct virq_proto_reply *r)
{
	char err[256];
	int ret = virqctl_call(c, cmd, args, r, err, sizeof(err));

	if (ret) {
		fprintf(stderr, "virqctl: %s\n", err);
		return VIRQCTL_EXIT_PROTOCOL;
	}
	if (r->err != VIRQ_E_OK) {
		if (opt_json)
			print_json(r->root);
		else
			fprintf(stderr, "virqctl: %s: %s: %s\n", cmd, r->err_code, r->err_msg);
		return VIRQCTL_EXIT_DAEMON;
	}
	return VIRQCTL_EXIT_OK;
}

/* ---- formatting of each reply ------------------------------------------------------------ */

static void show_status(const cJSON *r)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(r, "kvm");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(r, "bpf");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "metrics");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(r, "control");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(r, "counters");
	const cJSON *e, *it;

	printf("state:      %s\n", str(r, "state"));
	printf("daemon:     virqd %s, pid %.0f, up %.1f s, socket %s\n", str(r, "version"),
	       num(r, "pid"), num(r, "uptime_s"), str(r, "socket"));
	printf("kvm:        %s\n", boolean(k, "available") ? "available" : str(k, "reason"));
	if (boolean(b, "available"))
		printf("bpf:        attached (%.0f attach points, %.0f ring drops)\n",
		       num(b, "attach_points"), num(b, "ring_drops"));
	else
		printf("bpf:        unavailable: %s\n", str(b, "reason"));
	printf("metrics:    %s\n", str(m, "detail"));
	printf("vms:        %.0f\n", num(r, "vms"));
	printf("clients:    %.0f/%.0f connected, %.0f subscribed, %.0f requests, %.0f refused, "
	       "%.0f dropped (slow)\n",
	       num(c, "clients"), num(c, "max_clients"), num(c, "subscribers"), num(c, "requests"),
	       num(c, "refused"), num(c, "dropped_slow"));
	e = cJSON_GetObjectItemCaseSensitive(c, "errors");
	if (e && e->child) {
		printf("errors:    ");
		cJSON_ArrayForEach(it, e) printf(" %s=%.0f", it->string, it->valuedouble);
		printf("\n");
	}
	printf("counters:   %.0f ticks, %.0f reloads, %.0f trace records, %.0f anomalies, "
	       "%.0f VM failures\n",
	       num(n, "ticks"), num(n, "reloads"), num(n, "trace_records"), num(n, "anomalies"),
	       num(n, "vm_failures"));
	n = cJSON_GetObjectItemCaseSensitive(r, "scenarios");
	if (n)
		printf("scenarios:  %.0f running (max %.0f), %.0f started, %.0f completed, "
		       "%.0f refused busy\n",
		       num(n, "running"), num(n, "max"), num(n, "started"), num(n, "completed"),
		       num(n, "refused_busy"));
}

static void show_vm_list(const cJSON *r)
{
	const cJSON *vm;

	printf("%-4s %-16s %-8s %-8s %5s %6s  %s\n", "ID", "NAME", "STATE", "IRQCHIP", "VCPUS",
	       "MEM_MB", "REASON");
	cJSON_ArrayForEach(vm, cJSON_GetObjectItemCaseSensitive(r, "vms"))
		printf("%-4.0f %-16s %-8s %-8s %5.0f %6.0f  %s\n", num(vm, "id"), str(vm, "name"),
		       str(vm, "state"), str(vm, "irqchip"), num(vm, "vcpus"), num(vm, "mem_mb"),
		       str(vm, "reason"));
}

static void show_host_vms(const cJSON *r)
{
	const cJSON *vm;
	int n = 0;

	printf("%-8s %-12s %-20s %-8s %5s  %s\n", "PID", "KIND", "NAME", "STATE", "VCPUS",
	       "COMMAND");
	cJSON_ArrayForEach(vm, cJSON_GetObjectItemCaseSensitive(r, "vms"))
	{
		printf("%-8.0f %-12s %-20.20s %-8s %5.0f  %.60s\n", num(vm, "pid"), str(vm, "kind"),
		       str(vm, "name"), str(vm, "state"), num(vm, "vcpus"), str(vm, "cmdline"));
		n++;
	}
	if (!n)
		printf("(no KVM VM on this host)\n");
}

static void show_points(const cJSON *r)
{
	const cJSON *p, *lost = cJSON_GetObjectItemCaseSensitive(r, "lost");

	printf("%-34s %-8s %-12s %12s  %s\n", "ATTACH POINT", "VARIANT", "STATE", "EVENTS",
	       "ERROR");
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r, "points"))
		printf("%-34s %-8s %-12s %12.0f  %s\n", str(p, "name"), str(p, "variant"),
		       str(p, "state"), num(p, "events"), str(p, "error"));
	printf("ring drops: %.0f, filtered events: %.0f\n", num(r, "ring_drops"),
	       num(r, "filtered"));
	/* seen by the programs but not recorded (counters or histograms full, latency pairs
	 * displaced): said even when zero, so that a reader knows it is looked at */
	printf("not recorded: %.0f counts (counters full), %.0f latency samples (histograms "
	       "full), %.0f latency pairs (displaced)\n",
	       num(lost, "counter_full"), num(lost, "hist_full"), num(lost, "pair_displaced"));
}

static int show_crosscheck(const cJSON *r)
{
	struct virq_xcheck_report *rep = virq_xcheck_report_new();
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "sources");
	int bad = 0;

	if (!rep) {
		fprintf(stderr, "virqctl: out of memory\n");
		return VIRQCTL_EXIT_PROTOCOL;
	}
	printf("sources: %.0f VM(s) run by virqd, %.0f observed; kvm: %s; bpf: %s\n",
	       num(s, "owned_vms"), num(s, "observed_vms"),
	       boolean(s, "kvm") ? "yes" : str(s, "kvm_reason"),
	       boolean(s, "bpf") ? "yes" : str(s, "bpf_reason"));
	{
		const cJSON *a;

		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(s, "attribution"))
		{
			const cJSON *cf;

			printf("  %s: BPF events %s%s%s", str(a, "vm"),
			       !strcmp(str(a, "bpf"), "none")	 ? "not attributed" :
			       !strcmp(str(a, "bpf"), "only-vm") ? "all virqd's (only VM)" :
								   "by its vCPU threads",
			       *str(a, "reason") ? ": " : "", str(a, "reason"));
			if (num(a, "unrouted_gsi"))
				printf("; %.0f GSI injection(s) with no known route",
				       num(a, "unrouted_gsi"));
			printf("\n");
			cJSON_ArrayForEach(cf,
					   cJSON_GetObjectItemCaseSensitive(a, "vector_conflicts"))
				printf("  %s: vector 0x%02x came from two paths (%s, %s): judged per vector "
				       "under \"vm\"\n",
				       str(a, "vm"), (unsigned int)num(cf, "vector"),
				       str(cf, "first"), str(cf, "second"));
		}
		if (num(s, "bpf_unattributed"))
			printf("  %.0f BPF event(s) of virqd's process attributed to none of its VMs\n",
			       num(s, "bpf_unattributed"));
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(s, "observed"))
		{
			const cJSON *ip = cJSON_GetObjectItemCaseSensitive(a, "ipis"),
				    *pa = cJSON_GetObjectItemCaseSensitive(a, "path_accepts"),
				    *pic = cJSON_GetObjectItemCaseSensitive(a, "pic"),
				    *io = cJSON_GetObjectItemCaseSensitive(a, "ioapic");

			printf("  %s (observed, pid %.0f, %.0f vCPUs): KVM stats %s%s%s\n",
			       str(a, "vm"), num(a, "pid"), num(a, "vcpus"), str(a, "kvm_stats"),
			       *str(a, "kvm_stats_reason") ? ": " : "", str(a, "kvm_stats_reason"));
			{
				const cJSON *db =
					cJSON_GetObjectItemCaseSensitive(a, "kvm_debugfs");

				if (boolean(db, "available"))
					printf("    KVM debugfs (VM totals): exits %.0f, halt_exits %.0f, "
					       "irq_injections %.0f, nmi_injections %.0f\n",
					       num(db, "exits"), num(db, "halt_exits"),
					       num(db, "irq_injections"),
					       num(db, "nmi_injections"));
				else if (db)
					printf("    KVM debugfs: %s\n", str(db, "reason"));
			}
			printf("    accepts by path: msi %.0f, ipi %.0f, ioapic %.0f, timer %.0f; IPIs: "
			       "fixed %.0f, nmi %.0f, init %.0f, sipi %.0f\n",
			       num(pa, "msi"), num(pa, "ipi"), num(pa, "ioapic"), num(pa, "timer"),
			       num(ip, "fixed") + num(ip, "lowest"), num(ip, "nmi"),
			       num(ip, "init"), num(ip, "sipi"));
			printf("    GSI assertions %.0f: PIC delivered %.0f masked %.0f coalesced %.0f; "
			       "IOAPIC delivered %.0f (+%.0f level) masked %.0f coalesced %.0f\n",
			       num(a, "gsi_assertions"), num(pic, "delivered"), num(pic, "masked"),
			       num(pic, "coalesced"), num(io, "delivered_edge"),
			       num(io, "level_assertions"), num(io, "masked"),
			       num(io, "coalesced"));
		}
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(s, "exited_vms"))
		{
			const cJSON *lv = cJSON_GetObjectItemCaseSensitive(a, "last_verdicts");

			printf("  %s (observed, pid %.0f): exited %.0f s ago, judged no more; its last "
			       "%.0f checks: lost %.0f, spurious %.0f, misrouted %.0f\n",
			       str(a, "vm"), num(a, "pid"), num(a, "exited_s_ago"),
			       num(a, "last_checks"), num(lv, "lost"), num(lv, "spurious"),
			       num(lv, "misrouted"));
		}
	}
	if (virq_xcheck_report_from_json(r, rep)) {
		fprintf(stderr, "virqctl: malformed cross-check report\n");
		virq_xcheck_report_free(rep);
		return VIRQCTL_EXIT_PROTOCOL;
	}
	{
		size_t need = virq_xcheck_report_to_table(rep, NULL, 0) + 1;
		char *buf = malloc(need);

		if (buf) {
			virq_xcheck_report_to_table(rep, buf, need);
			fputs(buf, stdout);
			free(buf);
		}
	}
	if (!rep->nr_checks)
		printf("no checks: no VM to cross-check (%s)\n",
		       boolean(s, "kvm") ? "create one with `virqctl vm create`" :
					   "no /dev/kvm here and no traced VM on the host");
	bad = rep->by_verdict[VIRQ_XC_LOST] + rep->by_verdict[VIRQ_XC_SPURIOUS] +
		      rep->by_verdict[VIRQ_XC_MISROUTED] >
	      0;
	virq_xcheck_report_free(rep);
	return bad ? VIRQCTL_EXIT_FAILED : VIRQCTL_EXIT_OK;
}

static void show_ledger(const cJSON *r)
{
	const cJSON *v, *x, *p;

	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r, "vmm"))
		printf("vmm %-7s injected %.0f coalesced %.0f failed %.0f\n", p->string,
		       num(p, "injected"), num(p, "coalesced"), num(p, "failed"));
	printf("%-5s %-7s %12s %12s %10s\n", "VCPU", "VECTOR", "INJECTED", "RECEIVED", "COALESCED");
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(r, "vcpus"))
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(v, "vectors"))
			printf("%-5.0f 0x%-5x %12.0f %12.0f %10.0f\n", num(v, "vcpu"),
			       (unsigned int)num(x, "vector"), num(x, "injected"),
			       num(x, "received"), num(x, "coalesced"));
}

static void show_stats(const cJSON *r)
{
	const cJSON *s, *e, *it;

	printf("%-5s %-28s %14s\n", "VCPU", "KVM STAT", "VALUE");
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(r, "kvm")) if (num(s, "value") != 0)
		printf("%-5.0f %-28s %14.0f\n", num(s, "vcpu"), str(s, "name"), num(s, "value"));
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "exits"))
	{
		printf("vcpu %.0f: %.0f KVM_RUN, %.0f kicks; exits:", num(e, "vcpu"),
		       num(e, "runs"), num(e, "eintr"));
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(e, "by_reason"))
			printf(" %s=%.0f", it->string, it->valuedouble);
		printf("\n");
	}
}

static int show_scenario(const cJSON *r)
{
	const cJSON *row;

	printf("%-5s %-7s %10s %10s\n", "VCPU", "VECTOR", "EXPECTED", "OBSERVED");
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(r, "rows"))
		printf("%-5.0f 0x%-5x %10.0f %10.0f%s\n", num(row, "vcpu"),
		       (unsigned int)num(row, "vector"), num(row, "expected"), num(row, "observed"),
		       num(row, "expected") != num(row, "observed") ? "  <-- mismatch" : "");
	printf("%s in %.1f ms, %.0f exits%s%s\n", boolean(r, "pass") ? "PASS" : "FAIL",
	       num(r, "elapsed_ns") / 1e6, num(r, "exits_total"), str(r, "failure")[0] ? ": " : "",
	       str(r, "failure"));
	return boolean(r, "pass") ? VIRQCTL_EXIT_OK : VIRQCTL_EXIT_FAILED;
}

/* ---- subcommands ----------------------------------------------------------------------- */

static const char vm_create_usage[] =
	"usage: virqctl vm create NAME [--vcpus N] [--mem MB] [--irqchip kernel|split|user]\n"
	"                         [--idle hlt|spin] [--x2apic] [--no-posted] [--no-pv-eoi]\n"
	"                         [--no-start] [--kernel FILE [--initrd FILE] [--append TEXT]\n"
	"                         [--disk RAW-IMAGE]]\n"
	"Defaults come from the daemon's configuration (vm_* directives).\n"
	"--kernel boots a Linux bzImage or a Multiboot kernel instead of the built-in\n"
	"firmware (256 MiB unless --mem), on a PC platform: PIT, RTC, fw_cfg, COM1, ACPI;\n"
	"virqd reads the files, so paths are made absolute here. See vm console.\n"
	"--disk adds a virtio-blk PCI device (MSI-X) backed by a raw image.\n";

static int parse_ul(const char *s, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || !*s || *end ? -EINVAL : 0;
}

static int cmd_vm_create(struct virqctl_conn *c, int argc, char **argv, cJSON **args)
{
	static const struct option o[] = {
		{ "vcpus", required_argument, NULL, 'c' },
		{ "mem", required_argument, NULL, 'm' },
		{ "irqchip", required_argument, NULL, 'i' },
		{ "idle", required_argument, NULL, 'd' },
		{ "x2apic", no_argument, NULL, 'x' },
		{ "no-posted", no_argument, NULL, 'P' },
		{ "no-pv-eoi", no_argument, NULL, 'E' },
		{ "no-start", no_argument, NULL, 'S' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'r' },
		{ "append", required_argument, NULL, 'a' },
		{ "disk", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	int ch;

	*args = cJSON_CreateObject();
	optind = 0; /* GNU getopt: 0 re-initialises it after main's parse */
	while ((ch = getopt_long(argc, argv, "h", o, NULL)) != -1) {
		switch (ch) {
		case 'c':
		case 'm':
			if (parse_ul(optarg, &v))
				return usage_err(vm_create_usage);
			cJSON_AddNumberToObject(*args, ch == 'c' ? "vcpus" : "mem_mb", (double)v);
			break;
		case 'i':
			cJSON_AddStringToObject(*args, "irqchip", optarg);
			break;
		case 'd':
			cJSON_AddStringToObject(*args, "idle", optarg);
			break;
		case 'x':
			cJSON_AddTrueToObject(*args, "x2apic");
			break;
		case 'P':
			cJSON_AddFalseToObject(*args, "posted");
			break;
		case 'E':
			cJSON_AddFalseToObject(*args, "pv_eoi");
			break;
		case 'S':
			cJSON_AddFalseToObject(*args, "start");
			break;
		case 'k':
		case 'r':
		case 'D': {
			char *abs = realpath(optarg, NULL);

			if (!abs) {
				fprintf(stderr, "virqctl: %s: %s\n", optarg, strerror(errno));
				return VIRQCTL_EXIT_USAGE;
			}
			cJSON_AddStringToObject(*args,
						ch == 'k' ? "kernel" :
						ch == 'r' ? "initrd" :
							    "disk",
						abs);
			free(abs);
			break;
		}
		case 'a':
			cJSON_AddStringToObject(*args, "append", optarg);
			break;
		default:
			return usage_err(vm_create_usage);
		}
	}
	if (optind != argc - 1)
		return usage_err(vm_create_usage);
	cJSON_AddStringToObject(*args, "name", argv[optind]);
	return -1;
}

static const char vm_inject_usage[] =
	"usage: virqctl vm inject VM msi --vcpu N --vector V [--count N]\n"
	"       virqctl vm inject VM msi --addr A --data D [--count N]\n"
	"       virqctl vm inject VM gsi GSI [--op assert|deassert|pulse] [--count N]\n"
	"       virqctl vm inject VM nmi --vcpu N [--count N]\n"
	"Numbers accept 0x prefixes.\n";

static int cmd_vm_inject(int argc, char **argv, cJSON **args)
{
	static const struct option o[] = {
		{ "vcpu", required_argument, NULL, 'c' },
		{ "vector", required_argument, NULL, 'v' },
		{ "addr", required_argument, NULL, 'a' },
		{ "data", required_argument, NULL, 'd' },
		{ "op", required_argument, NULL, 'o' },
		{ "count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	int ch;

	if (argc < 3)
		return usage_err(vm_inject_usage);
	*args = cJSON_CreateObject();
	cJSON_AddStringToObject(*args, "vm", argv[1]);
	cJSON_AddStringToObject(*args, "type", argv[2]);
	/* Options follow "TYPE" (or "gsi GSI"): parse that tail, its first word as argv[0]. */
	argc -= 2;
	argv += 2;
	if (!strcmp(argv[0], "gsi")) {
		if (argc < 2 || parse_ul(argv[1], &v))
			return usage_err(vm_inject_usage);
		cJSON_AddNumberToObject(*args, "gsi", (double)v);
		argc--;
		argv++;
	}
	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", o, NULL)) != -1) {
		const char *key = ch == 'c' ? "vcpu" :
				  ch == 'v' ? "vector" :
				  ch == 'a' ? "addr" :
				  ch == 'd' ? "data" :
				  ch == 'n' ? "count" :
					      NULL;

		if (ch == 'o') {
			cJSON_AddStringToObject(*args, "op", optarg);
			continue;
		}
		if (!key || parse_ul(optarg, &v))
			return usage_err(vm_inject_usage);
		if (ch == 'a') {
			char hex[24];

			snprintf(hex, sizeof(hex), "0x%llx", v);
			cJSON_AddStringToObject(*args, key, hex);
		} else {
			cJSON_AddNumberToObject(*args, key, (double)v);
		}
	}
	if (optind != argc)
		return usage_err(vm_inject_usage);
	return -1;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	size_t cap = 1u << 16, n = 0;
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);

		n += r;
		if (r == 0)
			break;
		if (n == cap) {
			char *nb;

			if (cap >= VIRQ_PROTO_MAX_FRAME) {
				free(buf);
				buf = NULL;
				errno = EFBIG;
				break;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (f != stdin)
		fclose(f);
	*len = n;
	return buf;
}

static int cmd_trace_stream(struct virqctl_conn *c, int argc, char **argv)
{
	static const char u[] = "usage: virqctl trace [--count N]   (stream events until ^C)\n"
				"       virqctl trace points\n";
	struct virq_proto_reply r;
	unsigned long long max = 0, seen = 0;
	char err[256];
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--count") && i + 1 < argc && !parse_ul(argv[i + 1], &max))
			i++;
		else
			return usage_err(u);
	}
	ret = call(c, "trace.subscribe", NULL, &r);
	virq_proto_reply_fini(&r);
	if (ret)
		return ret;
	if (!opt_json)
		printf("%-16s %-22s %7s %5s %5s %10s %10s %7s\n", "TS_NS", "EVENT", "TGID", "VM",
		       "VCPU", "ARG", "AUX", "TID");
	while (!max || seen < max) {
		ret = virqctl_read(c, &r, -1, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "virqctl: %s\n", err);
			return VIRQCTL_EXIT_PROTOCOL;
		}
		if (r.is_event) {
			const cJSON *d = r.data;

			seen++;
			if (opt_json) {
				char *s = cJSON_PrintUnformatted(r.root);

				puts(s ? s : "");
				free(s);
			} else {
				printf("%-16.0f %-22s %7.0f %5.0f %5.0f %10.0f %10.0f %7.0f\n",
				       num(d, "ts_ns"), str(d, "ev"), num(d, "tgid"), num(d, "vm"),
				       num(d, "vcpu"), num(d, "arg"), num(d, "aux"), num(d, "tid"));
			}
			fflush(stdout);
		}
		virq_proto_reply_fini(&r);
	}
	return VIRQCTL_EXIT_OK;
}

/* Maps argv to (command, args); -1 = ready to send, else an exit code. */
static int build_request(struct virqctl_conn *c, int argc, char **argv, const char **cmd,
			 cJSON **args)
{
	const char *a0 = argv[0], *a1 = argc > 1 ? argv[1] : "";

	*args = NULL;
	if (!strcmp(a0, "status") || !strcmp(a0, "version") || !strcmp(a0, "capabilities") ||
	    !strcmp(a0, "metrics")) {
		if (argc != 1)
			return usage_err(main_usage);
		*cmd = !strcmp(a0, "metrics") ? "metrics.snapshot" : a0;
		return -1;
	}
	if (!strcmp(a0, "host") && !strcmp(a1, "vms") && argc == 2) {
		*cmd = "host.vms";
		return -1;
	}
	if (!strcmp(a0, "crosscheck")) {
		if (argc > 2)
			return usage_err("usage: virqctl crosscheck [VM]\n");
		*cmd = "vm.crosscheck";
		if (argc == 2) {
			*args = cJSON_CreateObject();
			cJSON_AddStringToObject(*args, "vm", argv[1]);
		}
		return -1;
	}
	if (!strcmp(a0, "call")) {
		if (argc < 2 || argc > 3)
			return usage_err("usage: virqctl call CMD [ARGS-JSON]\n");
		*cmd = argv[1];
		if (argc == 3) {
			*args = cJSON_Parse(argv[2]);
			if (!*args)
				return usage_err("virqctl: ARGS-JSON does not parse\n");
		}
		return -1;
	}
	if (strcmp(a0, "vm") || argc < 2)
		return usage_err(main_usage);
	/* vm SUBCOMMAND ... */
	argc--;
	argv++;
	a0 = argv[0];
	if (!strcmp(a0, "list") && argc == 1) {
		*cmd = "vm.list";
		return -1;
	}
	if (!strcmp(a0, "create")) {
		*cmd = "vm.create";
		return cmd_vm_create(c, argc, argv, args);
	}
	if (!strcmp(a0, "inject")) {
		*cmd = "vm.inject";
		return cmd_vm_inject(argc, argv, args);
	}
	if ((!strcmp(a0, "destroy") || !strcmp(a0, "pause") || !strcmp(a0, "resume") ||
	     !strcmp(a0, "stats")) &&
	    argc == 2) {
		static char name[32];

		snprintf(name, sizeof(name), "vm.%s", a0);
		*cmd = name;
		*args = cJSON_CreateObject();
		cJSON_AddStringToObject(*args, "vm", argv[1]);
		return -1;
	}
	if (!strcmp(a0, "ledger") && (argc == 2 || (argc == 4 && !strcmp(argv[2], "--vcpu")))) {
		unsigned long long v;

		*cmd = "vm.ledger";
		*args = cJSON_CreateObject();
		cJSON_AddStringToObject(*args, "vm", argv[1]);
		if (argc == 4) {
			if (parse_ul(argv[3], &v))
				return usage_err("usage: virqctl vm ledger VM [--vcpu N]\n");
			cJSON_AddNumberToObject(*args, "vcpu", (double)v);
		}
		return -1;
	}
	if (!strcmp(a0, "scenario") && argc == 3) {
		*cmd = "vm.scenario";
		*args = cJSON_CreateObject();
		cJSON_AddStringToObject(*args, "vm", argv[1]);
		if (!strcmp(argv[2], "default")) {
			cJSON_AddStringToObject(*args, "scenario", "default");
		} else {
			size_t len;
			char *text = read_file(argv[2], &len);
			cJSON *s = text ? cJSON_ParseWithLength(text, len) : NULL;

			free(text);
			if (!s) {
				fprintf(stderr, "virqctl: %s: %s\n", argv[2],
					text ? "not valid JSON" : strerror(errno));
				return VIRQCTL_EXIT_USAGE;
			}
			cJSON_AddItemToObject(*args, "scenario", s);
		}
		return -1;
	}
	return usage_err(main_usage);
}

static int show(const char *cmd, const cJSON *res)
{
	if (opt_json || !strcmp(cmd, "metrics.snapshot") || !strcmp(cmd, "version") ||
	    !strcmp(cmd, "capabilities") || !strcmp(cmd, "vm.inject") ||
	    !strcmp(cmd, "vm.destroy")) {
		if (!opt_json && !strcmp(cmd, "vm.inject")) {
			printf("%s x%.0f: %.0f delivered, %.0f coalesced, %.0f ignored\n",
			       str(res, "type"), num(res, "requested"), num(res, "delivered"),
			       num(res, "coalesced"), num(res, "ignored"));
			return 0;
		}
		if (!opt_json && !strcmp(cmd, "version")) {
			printf("virqd %s (commit %s), protocol v%.0f\n", str(res, "version"),
			       str(res, "commit"), num(res, "protocol"));
			return 0;
		}
		print_json(res);
		return 0;
	}
	if (!strcmp(cmd, "status"))
		show_status(res);
	else if (!strcmp(cmd, "vm.list"))
		show_vm_list(res);
	else if (!strcmp(cmd, "host.vms"))
		show_host_vms(res);
	else if (!strcmp(cmd, "trace.points"))
		show_points(res);
	else if (!strcmp(cmd, "vm.crosscheck"))
		return show_crosscheck(res);
	else if (!strcmp(cmd, "vm.ledger"))
		show_ledger(res);
	else if (!strcmp(cmd, "vm.stats"))
		show_stats(res);
	else if (!strcmp(cmd, "vm.scenario"))
		return show_scenario(res);
	else if (!strcmp(cmd, "vm.create") || !strcmp(cmd, "vm.pause") ||
		 !strcmp(cmd, "vm.resume")) {
		const cJSON *vm = cJSON_GetObjectItemCaseSensitive(res, "vm");

		printf("VM %s (id %.0f): %s, %s irqchip, %.0f vCPUs\n", str(vm, "name"),
		       num(vm, "id"), str(vm, "state"), str(vm, "irqchip"), num(vm, "vcpus"));
	} else
		print_json(res);
	return 0;
}

/* Per-subcommand help: the command named by the first one or two words, else the main text. */
static const struct {
	const char *words;
	const char *text;
} help_table[] = {
	{ "status", "usage: virqctl status\n"
		    "Daemon state, degradations with their reasons, subsystem and control-socket\n"
		    "counters.\n" },
	{ "version", "usage: virqctl version\nProtocol and daemon versions.\n" },
	{ "capabilities", "usage: virqctl capabilities\n"
			  "Commands, irqchip modes and attach points this daemon supports.\n" },
	{ "vm list", "usage: virqctl vm list\nVMs run by virqd: name, mode, vCPUs, state.\n" },
	{ "vm destroy", "usage: virqctl vm destroy VM\n"
			"Stop and free a VM (answers busy while a scenario runs on it).\n" },
	{ "vm pause", "usage: virqctl vm pause VM\nPark every vCPU of VM outside KVM_RUN.\n" },
	{ "vm resume", "usage: virqctl vm resume VM\nResume a paused VM.\n" },
	{ "vm scenario",
	  "usage: virqctl vm scenario VM FILE|-|default\n"
	  "Run a JSON scenario (a file, standard input, or the built-in default) and\n"
	  "print expected against observed per vCPU and vector. Exit status 5 when\n"
	  "they differ.\n" },
	{ "vm ledger", "usage: virqctl vm ledger VM [--vcpu N]\n"
		       "The guest ledger (what each vCPU received) beside the VMM's injection\n"
		       "ledger.\n" },
	{ "vm compare",
	  "usage: virqctl vm compare VM VM [VM ...]\n"
	  "The same kernel on different irqchips side by side: run time (start to stop),\n"
	  "per vCPU KVM's irq_injections, exits, halt_exits, irq_window_exits and the VMM's\n"
	  "userspace exits, ratios against the first VM; our LAPIC's INTA per vector for\n"
	  "guest kernels in user mode; interrupts by source (timer, ipi, gsi N, msi, ...)\n"
	  "per vCPU, counted at acceptance in every mode (our LAPIC in user mode, BPF in\n"
	  "kernel/split mode, else \"unavailable\" and why).\n"
	  "--json: the collected vm.list/vm.stats (with \"sources\")/vm.ledger.\n" },
	{ "vm console",
	  "usage: virqctl vm console VM [--follow] [--from N]\n"
	  "A guest kernel's COM1 output from byte N (default: all the daemon still holds,\n"
	  "the last 64 KiB). --follow polls until the VM stops, then exits 0 if it powered\n"
	  "off or left through isa-debug-exit with code 0, 5 otherwise.\n" },
	{ "vm stats",
	  "usage: virqctl vm stats VM\n"
	  "KVM binary stats (names from the stats fd) and exits per reason per vCPU.\n" },
	{ "crosscheck",
	  "usage: virqctl crosscheck [VM]\n"
	  "The cross-check verdict table (VMM, BPF, guest ledger, KVM stats) and the\n"
	  "irqchip deviation findings. Exit status 5 on lost, spurious or misrouted.\n" },
	{ "host vms", "usage: virqctl host vms\n"
		      "Every KVM VM on this host (processes holding a kvm-vm fd), named, with its\n"
		      "vCPU threads.\n" },
	{ "trace points",
	  "usage: virqctl trace points\n"
	  "BPF attach-point report: variant, live / silent / unavailable and why.\n" },
	{ "trace", "usage: virqctl trace [--count N]\n"
		   "Stream trace events, one line each (--json for the raw event objects).\n" },
	{ "top", "usage: virqctl top [--once] [--iterations N] [--interval MS]\n"
		 "Live view of interrupt rates by path, exits by reason and latency\n"
		 "percentiles per VM and vCPU, plus BPF attach-point health. Keys: q quits.\n" },
	{ "metrics", "usage: virqctl metrics\n"
		     "The stats snapshot served at /api/v1/stats, as JSON.\n" },
	{ "call", "usage: virqctl call CMD [ARGS-JSON]\n"
		  "Send any protocol request and print the raw reply.\n" },
};

static int print_help(int argc, char **argv)
{
	char two[64];

	if (argc > 1 && !strcmp(argv[0], "vm") && !strcmp(argv[1], "create")) {
		fputs(vm_create_usage, stdout);
		return VIRQCTL_EXIT_OK;
	}
	if (argc > 1 && !strcmp(argv[0], "vm") && !strcmp(argv[1], "inject")) {
		fputs(vm_inject_usage, stdout);
		return VIRQCTL_EXIT_OK;
	}
	snprintf(two, sizeof(two), "%s %s", argv[0], argc > 1 ? argv[1] : "");
	for (size_t i = 0; i < sizeof(help_table) / sizeof(help_table[0]); i++)
		if (!strcmp(two, help_table[i].words)) {
			fputs(help_table[i].text, stdout);
			return VIRQCTL_EXIT_OK;
		}
	for (size_t i = 0; i < sizeof(help_table) / sizeof(help_table[0]); i++)
		if (!strcmp(argv[0], help_table[i].words)) {
			fputs(help_table[i].text, stdout);
			return VIRQCTL_EXIT_OK;
		}
	fputs(main_usage, stdout);
	return VIRQCTL_EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option o[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = getenv(VIRQ_PROTO_SOCKET_ENV);
	struct virqctl_conn c;
	struct virq_proto_reply r;
	const char *cmd = NULL;
	cJSON *args = NULL;
	unsigned long long tmo = 30000;
	bool tmo_given = false;
	char err[256];
	int ch, ret;

	signal(SIGPIPE, SIG_IGN);
	/* '+': stop at the first non-option, the subcommand parses the rest. */
	while ((ch = getopt_long(argc, argv, "+s:jt:h", o, NULL)) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			opt_json = true;
			break;
		case 't':
			if (parse_ul(optarg, &tmo))
				return usage_err(main_usage);
			tmo_given = true;
			break;
		case 'h':
			fputs(main_usage, stdout);
			return VIRQCTL_EXIT_OK;
		default:
			return usage_err(main_usage);
		}
	}
	if (!sock || !*sock)
		sock = VIRQ_PROTO_DEFAULT_SOCKET;
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return usage_err(main_usage);
	if (wants_help(argc, argv))
		return print_help(argc, argv);
	if (virqctl_connect(&c, sock, (int)tmo, err, sizeof(err))) {
		fprintf(stderr, "virqctl: %s\n", err);
		return VIRQCTL_EXIT_CONNECT;
	}
	if (!strcmp(argv[0], "top")) {
		ret = virqctl_top(&c, argc, argv);
	} else if (argc >= 2 && !strcmp(argv[0], "vm") && !strcmp(argv[1], "compare")) {
		ret = virqctl_compare(&c, argc - 1, argv + 1, opt_json);
	} else if (argc >= 2 && !strcmp(argv[0], "vm") && !strcmp(argv[1], "console")) {
		ret = virqctl_console(&c, argc - 1, argv + 1);
	} else if (!strcmp(argv[0], "trace") && !(argc == 2 && !strcmp(argv[1], "points"))) {
		ret = cmd_trace_stream(&c, argc, argv);
	} else {
		if (!strcmp(argv[0], "trace")) {
			cmd = "trace.points";
			ret = -1;
		} else {
			ret = build_request(&c, argc, argv, &cmd, &args);
		}
		/* A scenario may run for minutes (virqd bounds it); wait for it unless told. */
		if (ret == -1 && !tmo_given && !strcmp(cmd, "vm.scenario"))
			c.timeout_ms = -1;
		if (ret == -1) {
			ret = call(&c, cmd, args, &r);
			args = NULL;
			if (ret == VIRQCTL_EXIT_OK)
				ret = show(cmd, r.result);
			virq_proto_reply_fini(&r);
		}
	}
	cJSON_Delete(args);
	virqctl_close(&c);
	return ret;
}
