// SPDX-License-Identifier: MIT
/* Unit tests of virqd's configuration parser (daemon/core/config.c). */
#include "virq_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "../../daemon/core/config.h"
#include "virq/trace_abi.h"

static int parse(struct virq_config *c, const char *text, char *err)
{
	return virq_config_parse(c, "t.conf", text, strlen(text), err, VIRQ_CONF_ERR_MAX);
}

static void test_defaults_are_the_documented_ones(void **state)
{
	struct virq_config c;

	virq_config_defaults(&c);
	assert_string_equal(c.socket_path, "/run/virqd/virqd.sock");
	assert_int_equal(c.socket_mode, 0660);
	assert_string_equal(c.socket_group, "");
	assert_true(c.bpf);
	assert_false(c.bpf_kprobes);
	assert_int_equal(c.bpf_latency_sample, VIRQ_TRACE_LATENCY_SAMPLE_DEFAULT);
	assert_true(c.kvm);
	assert_int_equal(c.nr_observe, 0);
	assert_int_equal(c.vm_irqchip, VIRQ_IRQCHIP_KERNEL);
}

static void test_every_directive_is_applied(void **state)
{
	struct virq_config c;
	char err[VIRQ_CONF_ERR_MAX] = "";

	virq_config_defaults(&c);
	assert_int_equal(parse(&c,
			       "# sample\n"
			       "socket /tmp/x.sock   # trailing comment\n"
			       "socket_mode 0600\r\n"
			       "socket_group wheel\n"
			       "\n"
			       "metrics 127.0.0.1:9999\n"
			       "bpf no\nkvm off\nbpf_kprobes yes\nbpf_latency_sample 1\n"
			       "max_clients 7\nclient_queue_kib 128\nsample_interval_ms 250\n"
			       "max_vms 3\nlog_level debug\nanomaly_logs_per_minute 2\n"
			       "observed_keep_exited_s 30\n"
			       "vm_vcpus 2\nvm_mem_mb 32\nvm_irqchip user\nvm_idle spin\n"
			       "vm_posted no\nvm_x2apic yes\nvm_pv_eoi false\n"
			       "observe pid 1234\n\tobserve   comm qemu-system-x86\n",
			       err),
			 0);
	assert_string_equal(c.socket_path, "/tmp/x.sock");
	assert_int_equal(c.socket_mode, 0600);
	assert_string_equal(c.socket_group, "wheel");
	assert_string_equal(c.metrics_addr, "127.0.0.1:9999");
	assert_false(c.bpf);
	assert_true(c.bpf_kprobes);
	assert_int_equal(c.bpf_latency_sample, 1);
	assert_false(c.kvm);
	assert_int_equal(c.max_clients, 7);
	assert_int_equal(c.client_queue_bytes, 128 << 10);
	assert_int_equal(c.sample_ms, 250);
	assert_int_equal(c.max_vms, 3);
	assert_int_equal(c.obs_keep_exited_s, 30);
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_int_equal(c.anomaly_log_per_min, 2);
	assert_int_equal(c.vm_vcpus, 2);
	assert_int_equal(c.vm_mem_mb, 32);
	assert_int_equal(c.vm_irqchip, VIRQ_IRQCHIP_USER);
	assert_int_equal(c.vm_idle, VIRQ_IDLE_CPL3_SPIN);
	assert_false(c.vm_posted);
	assert_true(c.vm_x2apic);
	assert_false(c.vm_pv_eoi);
	assert_int_equal(c.nr_observe, 2);
	assert_int_equal(c.observe[0].kind, VIRQ_OBSERVE_PID);
	assert_int_equal(c.observe[0].pid, 1234);
	assert_int_equal(c.observe[1].kind, VIRQ_OBSERVE_COMM);
	assert_string_equal(c.observe[1].comm, "qemu-system-x86");
	/* "observe all" resets the list; "metrics off" and "socket_group none" clear. */
	assert_int_equal(parse(&c, "observe all\nmetrics off\nsocket_group none\n", err), 0);
	assert_int_equal(c.nr_observe, 0);
	assert_string_equal(c.metrics_addr, "");
	assert_string_equal(c.socket_group, "");
}

/* Each bad line is reported as file:line: reason, and nothing is applied. */
static void test_errors_name_the_line_and_leave_config_unchanged(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "max_clients 4\nsockt /x\n", "t.conf:2: unknown directive 'sockt'" },
		{ "\n\n\nsocket relative.sock\n", "t.conf:4: socket path must be absolute" },
		{ "socket_mode 0999\n", "t.conf:1: bad octal mode '0999'" },
		{ "socket_mode 01777\n", "t.conf:1: bad octal mode '01777'" },
		{ "max_clients\n", "t.conf:1: 'max_clients' takes 1 argument, got 0" },
		{ "max_clients 1 2\n", "t.conf:1: 'max_clients' takes 1 argument, got 2" },
		{ "max_clients 0\n", "t.conf:1: max_clients must be 1..4096" },
		{ "observed_keep_exited_s 86401\n",
		  "t.conf:1: observed_keep_exited_s must be 0..86400" },
		{ "bpf_latency_sample 0\n", "t.conf:1: bpf_latency_sample must be 1..65536" },
		{ "max_clients 12x\n", "t.conf:1: max_clients must be 1..4096" },
		{ "max_clients -3\n", "t.conf:1: max_clients must be 1..4096" },
		{ "bpf maybe\n", "t.conf:1: 'bpf' wants yes or no, got 'maybe'" },
		{ "# c\nvm_irqchip posted\n", "t.conf:2: vm_irqchip wants kernel, split or user" },
		{ "vm_vcpus 65\n", "t.conf:1: vm_vcpus must be 1..64" },
		{ "vm_mem_mb 4\n", "t.conf:1: vm_mem_mb must be 8..1024" },
		{ "metrics 9477\n", "t.conf:1: metrics wants host:port or 'off'" },
		{ "observe pid x\n", "t.conf:1: bad pid 'x'" },
		{ "observe comm a_name_longer_than_15\n",
		  "t.conf:1: comm 'a_name_longer_than_15'" },
		{ "observe\n", "t.conf:1: 'observe' wants all, none, pid N or comm NAME" },
		{ "log_level loud\n", "t.conf:1: unknown log level 'loud'" },
		{ "a b c d e f g h i\n", "t.conf:1: too many words" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct virq_config c, before;
		char err[VIRQ_CONF_ERR_MAX] = "";

		virq_config_defaults(&c);
		before = c;
		assert_int_equal(parse(&c, cases[i].text, err), -EINVAL);
		if (strncmp(err, cases[i].want, strlen(cases[i].want)))
			fail_msg("case %zu: got \"%s\", want prefix \"%s\"", i, err, cases[i].want);
		assert_memory_equal(&c, &before, sizeof(c));
	}
}

static void test_overlong_line_and_nul_byte_are_errors(void **state)
{
	struct virq_config c;
	char err[VIRQ_CONF_ERR_MAX];
	char *big = malloc(3000);
	const char nul[] = "max_clients 4\nbpf \0yes\n";

	virq_config_defaults(&c);
	memset(big, 'x', 2999);
	big[2999] = '\0';
	assert_int_equal(parse(&c, big, err), -EINVAL);
	assert_non_null(strstr(err, "t.conf:1: line longer than"));
	assert_int_equal(virq_config_parse(&c, "t.conf", nul, sizeof(nul) - 1, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "t.conf:2: NUL byte"));
	free(big);
}

static void test_load_missing_file_is_optional_only_when_asked(void **state)
{
	struct virq_config c;
	char err[VIRQ_CONF_ERR_MAX] = "", path[] = "/tmp/virq-conf-XXXXXX";
	int fd;

	virq_config_defaults(&c);
	assert_int_equal(virq_config_load(&c, "/nonexistent/virqd.conf", true, err, sizeof(err)),
			 0);
	assert_int_equal(virq_config_load(&c, "/nonexistent/virqd.conf", false, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/virqd.conf"));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "max_vms 9\nmax_vms x\n", 20), 20);
	close(fd);
	assert_int_equal(virq_config_load(&c, path, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: max_vms must be"));
	assert_non_null(strstr(err, path));
	unlink(path);
}

static void test_sample_config_file_parses(void **state)
{
	struct virq_config c;
	char err[VIRQ_CONF_ERR_MAX] = "";

	virq_config_defaults(&c);
	if (virq_config_load(&c, "daemon/core/virqd.conf.example", false, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(c.socket_mode, 0660);
}

static void test_metrics_address_and_max_scenarios_are_checked(void **state)
{
	struct virq_config c;
	char err[VIRQ_CONF_ERR_MAX] = "", host[64];
	uint16_t port = 0;

	virq_config_defaults(&c);
	assert_int_equal(c.max_scenarios, 4);
	assert_int_equal(parse(&c, "max_scenarios 9\nmetrics [::1]:9477\n", err), 0);
	assert_int_equal(c.max_scenarios, 9);
	assert_string_equal(c.metrics_addr, "[::1]:9477");
	assert_int_equal(parse(&c, "max_scenarios 0\n", err), -EINVAL);
	assert_non_null(strstr(err, "t.conf:1: max_scenarios must be 1..64"));
	assert_int_equal(parse(&c, "max_scenarios 65\n", err), -EINVAL);
	/* A port that is not a number no longer becomes "listen anywhere". */
	assert_int_equal(parse(&c, "\nmetrics 127.0.0.1:http\n", err), -EINVAL);
	assert_non_null(strstr(err, "t.conf:2: metrics wants host:port"));
	assert_int_equal(parse(&c, "metrics 127.0.0.1:65536\n", err), -EINVAL);
	assert_int_equal(parse(&c, "metrics :9477\n", err), -EINVAL);
	assert_int_equal(parse(&c, "metrics 127.0.0.1:\n", err), -EINVAL);
	assert_string_equal(c.metrics_addr, "[::1]:9477"); /* unchanged by the errors */

	assert_int_equal(virq_config_parse_hostport("127.0.0.1:0", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 0);
	assert_int_equal(virq_config_parse_hostport("[fe80::1]:80", host, sizeof(host), &port), 0);
	assert_string_equal(host, "fe80::1");
	assert_int_equal(port, 80);
	assert_int_equal(virq_config_parse_hostport("::1:9", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(virq_config_parse_hostport("[]:9", host, sizeof(host), &port), -EINVAL);
	assert_int_equal(virq_config_parse_hostport("h:-1", host, sizeof(host), &port), -EINVAL);
	assert_int_equal(virq_config_parse_hostport("h:+1", host, sizeof(host), &port), -EINVAL);
	assert_int_equal(virq_config_parse_hostport("averyveryverylonghostname:1", host, 8, &port),
			 -EINVAL);
	assert_int_equal(virq_config_parse_hostport(NULL, NULL, 0, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_the_documented_ones),
		cmocka_unit_test(test_every_directive_is_applied),
		cmocka_unit_test(test_errors_name_the_line_and_leave_config_unchanged),
		cmocka_unit_test(test_overlong_line_and_nul_byte_are_errors),
		cmocka_unit_test(test_load_missing_file_is_optional_only_when_asked),
		cmocka_unit_test(test_sample_config_file_parses),
		cmocka_unit_test(test_metrics_address_and_max_scenarios_are_checked),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
