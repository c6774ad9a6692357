// SPDX-License-Identifier: MIT
/*
 * Host-wide KVM VM discovery through /proc. See include/virq/discover.h for what can and
 * cannot be learnt there (fd -> thread links do not exist; thread names stand in).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virq/discover.h"

#define ARGV_MAX 8192

const char *virq_disc_kind_name(enum virq_disc_kind k)
{
	switch (k) {
	case VIRQ_DISC_OTHER:
		return "other";
	case VIRQ_DISC_QEMU:
		return "qemu";
	case VIRQ_DISC_FIRECRACKER:
		return "firecracker";
	case VIRQ_DISC_VIRQD:
		return "virqd";
	}
	return "?";
}

static void copy_str(char *dst, size_t len, const char *src, size_t n)
{
	if (!len)
		return;
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

static const char *base_name(const char *s)
{
	const char *b = strrchr(s, '/');

	return b ? b + 1 : s;
}

/* QEMU -name: "guest=X,debug-threads=on" or "X" or "X,process=..." (QEMU docs). */
static void qemu_name(const char *v, char *name, size_t namelen)
{
	const char *p = v, *e;

	while (*p) {
		e = strchr(p, ',');
		if (!e)
			e = p + strlen(p);
		if (strncmp(p, "guest=", 6) == 0) {
			copy_str(name, namelen, p + 6, (size_t)(e - p - 6));
			return;
		}
		if (p == v && !memchr(p, '=', (size_t)(e - p))) {
			copy_str(name, namelen, p, (size_t)(e - p));
			return;
		}
		p = *e ? e + 1 : e;
	}
}

enum virq_disc_kind virq_disc_name_from_cmdline(const char *argv, size_t len, char *name,
						size_t namelen)
{
	const char *args[256];
	enum virq_disc_kind kind = VIRQ_DISC_OTHER;
	size_t off = 0, n = 0, i;

	if (namelen)
		name[0] = 0;
	while (off < len && n < sizeof(args) / sizeof(args[0])) {
		size_t l = strnlen(argv + off, len - off);

		if (off + l >= len)
			break; /* unterminated last argument: ignore it */
		args[n++] = argv + off;
		off += l + 1;
	}
	if (!n)
		return kind;
	if (strstr(base_name(args[0]), "qemu"))
		kind = VIRQ_DISC_QEMU;
	else if (strstr(base_name(args[0]), "firecracker"))
		kind = VIRQ_DISC_FIRECRACKER;
	for (i = 1; i < n; i++) {
		const char *a = args[i], *v = NULL;

		if (kind == VIRQ_DISC_QEMU && (!strcmp(a, "-name") || !strcmp(a, "--name"))) {
			v = i + 1 < n ? args[i + 1] : NULL;
			if (v)
				qemu_name(v, name, namelen);
		} else if (kind == VIRQ_DISC_QEMU && !strncmp(a, "-name=", 6)) {
			qemu_name(a + 6, name, namelen);
		} else if (kind == VIRQ_DISC_FIRECRACKER && !strcmp(a, "--id")) {
			v = i + 1 < n ? args[i + 1] : NULL;
			if (v)
				copy_str(name, namelen, v, strlen(v));
		} else if (kind == VIRQ_DISC_FIRECRACKER && !strncmp(a, "--id=", 5)) {
			copy_str(name, namelen, a + 5, strlen(a + 5));
		}
	}
	return kind;
}

static ssize_t read_file(const char *path, char *buf, size_t len)
{
	ssize_t n, total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((size_t)total < len) {
		n = read(fd, buf + total, len - (size_t)total);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return n;
		}
		if (!n)
			break;
		total += n;
	}
	close(fd);
	return total;
}

static int cmp_vcpu(const void *a, const void *b)
{
	const struct virq_disc_vcpu *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* "CPU 3/KVM" (QEMU), "fc_vcpu 3" (Firecracker), "vcpu3", "kvm-vcpu-3", "virq-vcpu3": a
 * comm naming a vCPU ends in its index and contains "cpu"/"CPU". */
static int comm_vcpu_index(const char *comm, uint32_t *index)
{
	char c[32];
	size_t l;
	char *e;

	copy_str(c, sizeof(c), comm, strcspn(comm, "\n"));
	if (!strstr(c, "cpu") && !strstr(c, "CPU"))
		return -1;
	e = strstr(c, "/KVM");
	if (e)
		*e = 0;
	l = strlen(c);
	if (!l || !isdigit((unsigned char)c[l - 1]))
		return -1;
	while (l && isdigit((unsigned char)c[l - 1]))
		l--;
	*index = (uint32_t)strtoul(c + l, NULL, 10);
	return 0;
}

static void map_threads(const char *proc, struct virq_disc_vm *vm)
{
	char path[512], comm[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%d/task", proc, vm->pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		uint32_t idx;
		ssize_t n;
		unsigned int i;
		char *end;
		long tid = strtol(de->d_name, &end, 10);

		if (*end || tid <= 0)
			continue;
		snprintf(path, sizeof(path), "%s/%d/task/%ld/comm", proc, vm->pid, tid);
		n = read_file(path, comm, sizeof(comm) - 1);
		if (n <= 0)
			continue;
		comm[n] = 0;
		if (comm_vcpu_index(comm, &idx))
			continue;
		for (i = 0; i < vm->nr_vcpus; i++)
			if (vm->vcpus[i].index == idx && !vm->vcpus[i].tid)
				vm->vcpus[i].tid = (pid_t)tid;
	}
	closedir(d);
}

/* Scans /proc/PID/fd. 1 if the process holds a VM, 0 if not, -errno. */
static int scan_fds(const char *proc, pid_t pid, struct virq_disc_vm *vm)
{
	char path[512], link[128];
	struct dirent *de;
	DIR *d;
	int ret = 0, fdnum;
	uint32_t stats_idx[VIRQ_DISC_MAX_VCPUS];
	int stats_fd[VIRQ_DISC_MAX_VCPUS];
	unsigned int nstats = 0;

	snprintf(path, sizeof(path), "%s/%d/fd", proc, pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%d/fd/%s", proc, pid, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		fdnum = atoi(de->d_name);
		/* kvm_main.c names its anon inodes kvm-vm, kvm-vcpu:N, kvm-vm-stats and
		 * kvm-vcpu-stats:N (N the vcpu_id) */
		if (!strcmp(link, "anon_inode:kvm-vm")) {
			if (!vm->nr_vm_fds++)
				vm->vm_fd = fdnum;
		} else if (!strcmp(link, "anon_inode:kvm-vm-stats")) {
			vm->vm_stats_fd = fdnum;
		} else if (!strncmp(link, "anon_inode:kvm-vcpu-stats:", 26)) {
			char *end;
			unsigned long idx = strtoul(link + 26, &end, 10);

			if (*end || end == link + 26 || nstats >= VIRQ_DISC_MAX_VCPUS)
				continue;
			stats_idx[nstats] = (uint32_t)idx;
			stats_fd[nstats++] = fdnum;
		} else if (!strncmp(link, "anon_inode:kvm-vcpu:", 20)) {
			struct virq_disc_vcpu *v;
			char *end;
			unsigned long idx = strtoul(link + 20, &end, 10);

			if (*end || end == link + 20 || vm->nr_vcpus >= VIRQ_DISC_MAX_VCPUS)
				continue;
			v = realloc(vm->vcpus, (vm->nr_vcpus + 1) * sizeof(*v));
			if (!v) {
				ret = -ENOMEM;
				break;
			}
			vm->vcpus = v;
			v[vm->nr_vcpus].index = (uint32_t)idx;
			v[vm->nr_vcpus].tid = 0;
			v[vm->nr_vcpus].fd = fdnum;
			v[vm->nr_vcpus].stats_fd = -1;
			vm->nr_vcpus++;
		}
	}
	closedir(d);
	for (unsigned int k = 0; k < nstats; k++)
		for (unsigned int i = 0; i < vm->nr_vcpus; i++)
			if (vm->vcpus[i].index == stats_idx[k])
				vm->vcpus[i].stats_fd = stats_fd[k];
	if (ret)
		return ret;
	return vm->nr_vm_fds > 0;
}

static void fill_identity(const char *proc, struct virq_disc_vm *vm,
			  const struct virq_disc_namer *namer)
{
	char path[512], *argv;
	ssize_t n;
	size_t i, o = 0;
	unsigned int k;

	argv = malloc(ARGV_MAX);
	if (argv) {
		snprintf(path, sizeof(path), "%s/%d/cmdline", proc, vm->pid);
		n = read_file(path, argv, ARGV_MAX - 1);
		if (n > 0) {
			if (argv[n - 1] != 0)
				argv[n++] = 0;
			vm->kind = virq_disc_name_from_cmdline(argv, (size_t)n, vm->name,
							       sizeof(vm->name));
			for (i = 0; i < (size_t)n - 1 && o + 1 < sizeof(vm->cmdline); i++)
				vm->cmdline[o++] = argv[i] ? argv[i] : ' ';
			vm->cmdline[o] = 0;
		}
		free(argv);
	}
	if (namer && namer->name_vm) {
		char nm[VIRQ_DISC_NAME_MAX];

		if (namer->name_vm(namer->ctx, vm->pid, nm, sizeof(nm)) == 0) {
			copy_str(vm->name, sizeof(vm->name), nm, strnlen(nm, sizeof(nm)));
			vm->kind = VIRQ_DISC_VIRQD;
		}
	}
	if (!vm->name[0])
		copy_str(vm->name, sizeof(vm->name), vm->cmdline, strlen(vm->cmdline));
	if (vm->nr_vcpus)
		qsort(vm->vcpus, vm->nr_vcpus, sizeof(*vm->vcpus), cmp_vcpu);
	if (namer && namer->vcpu_tid)
		for (k = 0; k < vm->nr_vcpus; k++)
			vm->vcpus[k].tid = namer->vcpu_tid(namer->ctx, vm->pid, vm->vcpus[k].index);
	map_threads(proc, vm);
}

static int cmp_vm(const void *a, const void *b)
{
	const struct virq_disc_vm *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int virq_discover(const char *proc_root, const struct virq_disc_namer *namer,
		  struct virq_disc_list *out, unsigned int *skipped)
{
	const char *proc = proc_root ? proc_root : "/proc";
	struct virq_disc_list l = { 0 };
	struct dirent *de;
	unsigned int skip = 0;
	DIR *d;
	int ret = 0;

	d = opendir(proc);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		struct virq_disc_vm vm = { 0 }, *nv;
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		int r;

		if (*end || pid <= 0)
			continue;
		vm.pid = (pid_t)pid;
		vm.vm_fd = -1;
		vm.vm_stats_fd = -1;
		r = scan_fds(proc, vm.pid, &vm);
		if (r <= 0) {
			free(vm.vcpus);
			if (r == -ENOMEM) {
				ret = r;
				break;
			}
			if (r < 0)
				skip++; /* vanished or access denied */
			continue;
		}
		fill_identity(proc, &vm, namer);
		nv = realloc(l.vms, (l.n + 1) * sizeof(*nv));
		if (!nv) {
			free(vm.vcpus);
			ret = -ENOMEM;
			break;
		}
		l.vms = nv;
		l.vms[l.n++] = vm;
	}
	closedir(d);
	if (ret) {
		virq_disc_list_free(&l);
		return ret;
	}
	if (l.n)
		qsort(l.vms, l.n, sizeof(*l.vms), cmp_vm);
	if (skipped)
		*skipped = skip;
	*out = l;
	return 0;
}

void virq_disc_list_free(struct virq_disc_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		free(l->vms[i].vcpus);
	free(l->vms);
	l->vms = NULL;
	l->n = 0;
}
