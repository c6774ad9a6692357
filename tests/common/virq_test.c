// SPDX-License-Identifier: MIT
#include "virq_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <dirent.h>
#include <pthread.h>

const char *virq_test_kvm_missing(void)
{
	static char why[128];
	struct stat st;
	int fd;

	if (stat("/dev/kvm", &st) != 0)
		return "/dev/kvm does not exist on this machine (no KVM available)";
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM)) {
		snprintf(why, sizeof(why), "/dev/kvm: %s (no privilege)", strerror(errno));
		return why;
	}
	/* Exists and we are allowed: any other failure is a real failure, not a skip. */
	assert_true(fd >= 0);
	close(fd);
	return NULL;
}

const char *virq_test_bpf_missing(void)
{
	if (geteuid() != 0)
		return "BPF tests need root (CAP_BPF, CAP_PERFMON and tracefs access)";
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
		return "kernel has no BTF (/sys/kernel/btf/vmlinux)";
	return NULL;
}

const char *virq_test_bin(const char *rel)
{
	static char path[512];
	const char *b = getenv("VIRQ_BUILD");

	snprintf(path, sizeof(path), "%s/%s", b && *b ? b : "build", rel);
	return path;
}

/* VIRQ_TEST_WATCHDOG=N: every N seconds, print where each thread of this process is
 * (state, wchan, kernel stack): a hang under a slow emulated KVM shows its place. */
static void *watchdog(void *arg)
{
	unsigned int period = (unsigned int)(uintptr_t)arg;

	for (;;) {
		DIR *d;
		struct dirent *e;

		sleep(period);
		d = opendir("/proc/self/task");
		if (!d)
			continue;
		while ((e = readdir(d))) {
			char path[300], buf[1024];
			const char *files[] = { "stat", "wchan", "stack" };

			if (e->d_name[0] == '.')
				continue;
			for (size_t i = 0; i < 3; i++) {
				FILE *f;
				size_t n;

				snprintf(path, sizeof(path), "/proc/self/task/%s/%s", e->d_name,
					 files[i]);
				f = fopen(path, "r");
				if (!f)
					continue;
				n = fread(buf, 1, sizeof(buf) - 1, f);
				fclose(f);
				buf[n] = '\0';
				for (char *p = buf; *p; p++)
					if (*p == '\n')
						*p = '|';
				printf("# watchdog %s %s: %s\n", e->d_name, files[i], buf);
			}
		}
		closedir(d);
	}
	return NULL;
}

static void watchdog_start(void)
{
	const char *e = getenv("VIRQ_TEST_WATCHDOG");
	pthread_t t;
	unsigned long s = e ? strtoul(e, NULL, 10) : 0;

	if (s && !pthread_create(&t, NULL, watchdog, (void *)(uintptr_t)s))
		pthread_detach(t);
}

int virq_test_run_group(const char *name, const struct CMUnitTest *tests, size_t n)
{
	const char *filter = getenv("VIRQ_TEST_FILTER");
	struct CMUnitTest *picked = calloc(n ? n : 1, sizeof(*picked));
	size_t k = 0;
	int ret;

	assert_non_null(picked);
	/* Line-buffered: a program killed by a timeout still shows how far it got. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	watchdog_start();
	for (size_t i = 0; i < n; i++) {
		char words[256], *save = NULL;
		bool want = !filter || !*filter;

		snprintf(words, sizeof(words), "%s", filter ? filter : "");
		for (char *w = strtok_r(words, ",", &save); w && !want;
		     w = strtok_r(NULL, ",", &save))
			want = strstr(tests[i].name, w) != NULL;
		if (want)
			picked[k++] = tests[i];
	}
	ret = _cmocka_run_group_tests(name, picked, k, NULL, NULL);
	free(picked);
	return ret;
}
