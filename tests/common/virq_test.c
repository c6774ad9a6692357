// SPDX-License-Identifier: MIT
#include "virq_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

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
