// SPDX-License-Identifier: MIT
/* VM discovery on a fake /proc tree (symlinks whose target text is what /proc shows). */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virq/discover.h"
#include "virq_test.h"

static char root[64];

static void mkdirs(const char *fmt, int pid, const char *sub)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%d", root, pid);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/%d/%s", root, pid, sub);
	mkdir(p, 0755);
	(void)fmt;
}

static void put(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void proc_add(int pid, const char *argv, size_t argvlen, const char *const *links,
		     const char *const *comms, const int *tids)
{
	char p[512];
	unsigned int i;

	mkdirs("", pid, "fd");
	mkdirs("", pid, "task");
	snprintf(p, sizeof(p), "%s/%d/cmdline", root, pid);
	put(p, argv, argvlen);
	for (i = 0; links && links[i]; i++) {
		snprintf(p, sizeof(p), "%s/%d/fd/%u", root, pid, i + 3);
		assert_int_equal(symlink(links[i], p), 0);
	}
	for (i = 0; comms && comms[i]; i++) {
		snprintf(p, sizeof(p), "%s/%d/task/%d", root, pid, tids[i]);
		mkdir(p, 0755);
		snprintf(p, sizeof(p), "%s/%d/task/%d/comm", root, pid, tids[i]);
		put(p, comms[i], strlen(comms[i]));
	}
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int setup(void **state)
{
	static const char qemu[] = "/usr/bin/qemu-system-x86_64\0-name\0guest=web1,debug-"
				   "threads=on\0-smp\0"
				   "2\0";
	static const char *const qemu_links[] = { "/dev/kvm",
						  "anon_inode:kvm-vm",
						  "anon_inode:kvm-vcpu:1",
						  "anon_inode:kvm-vcpu:0",
						  "pipe:[123]",
						  "anon_inode:kvm-vcpu-stats:1",
						  NULL };
	static const char *const qemu_comms[] = { "qemu-system-x86\n", "CPU 0/KVM\n", "CPU 1/KVM\n",
						  NULL };
	static const int qemu_tids[] = { 100, 101, 102 };
	static const char fc[] = "firecracker\0--api-sock\0/tmp/fc.sock\0--id\0fc-7\0";
	static const char *const fc_links[] = { "anon_inode:kvm-vm", "anon_inode:kvm-vcpu:0",
						NULL };
	static const char *const fc_comms[] = { "firecracker\n", "fc_vcpu 0\n", NULL };
	static const int fc_tids[] = { 200, 203 };
	static const char plain[] = "qemu-system-x86_64\0-name\0db\0";
	static const char *const plain_links[] = { "anon_inode:kvm-vm", NULL };
	static const char other[] = "/opt/myvmm\0--fast\0";
	static const char *const other_links[] = { "anon_inode:kvm-vm", "anon_inode:kvm-vm",
						   "anon_inode:kvm-vcpu:0", "anon_inode:kvm-vcpu:0",
						   NULL };
	static const char decoy[] = "/usr/bin/decoy-vmm\0";
	static const char *const decoy_links[] = { "/dev/kvm", "anon_inode:[eventfd]",
						   "anon_inode:kvm-vmx", NULL };

	strcpy(root, "/tmp/virq-proc-XXXXXX");
	assert_non_null(mkdtemp(root));
	proc_add(100, qemu, sizeof(qemu) - 1, qemu_links, qemu_comms, qemu_tids);
	proc_add(200, fc, sizeof(fc) - 1, fc_links, fc_comms, fc_tids);
	proc_add(300, plain, sizeof(plain) - 1, plain_links, NULL, NULL);
	proc_add(400, other, sizeof(other) - 1, other_links, NULL, NULL);
	proc_add(500, decoy, sizeof(decoy) - 1, decoy_links, NULL, NULL);
	/* a non-process entry of /proc */
	char p[128];
	snprintf(p, sizeof(p), "%s/self", root);
	mkdir(p, 0755);
	return 0;
}

static int teardown(void **state)
{
	return nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static const struct virq_disc_vm *find(const struct virq_disc_list *l, pid_t pid)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->vms[i].pid == pid)
			return &l->vms[i];
	return NULL;
}

static void test_only_processes_holding_kvm_vm_fds_are_vms(void **state)
{
	struct virq_disc_list l;

	assert_int_equal(virq_discover(root, NULL, &l, NULL), 0);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.vms[0].pid, 100); /* sorted by pid */
	assert_int_equal(l.vms[3].pid, 400);
	assert_null(find(&l, 500));
	virq_disc_list_free(&l);
}

/* The fd numbers in the VMM: what pidfd_getfd() takes to reach its VM, vCPUs and the
 * stats fds it opened itself (QEMU opens one per vCPU). fd N is the (N-3)th link. */
static void test_vm_vcpu_and_stats_fd_numbers_are_recorded(void **state)
{
	struct virq_disc_list l;
	const struct virq_disc_vm *v;

	assert_int_equal(virq_discover(root, NULL, &l, NULL), 0);
	v = find(&l, 100);
	assert_non_null(v);
	assert_int_equal(v->vm_fd, 4);
	assert_int_equal(v->vm_stats_fd, -1);
	assert_int_equal(v->nr_vcpus, 2);
	for (unsigned int i = 0; i < v->nr_vcpus; i++) {
		if (v->vcpus[i].index == 1) {
			assert_int_equal(v->vcpus[i].fd, 5);
			assert_int_equal(v->vcpus[i].stats_fd, 8);
		} else {
			assert_int_equal(v->vcpus[i].fd, 6);
			assert_int_equal(v->vcpus[i].stats_fd, -1);
		}
	}
	/* the first of a process's two VM fds */
	v = find(&l, 400);
	assert_non_null(v);
	assert_int_equal(v->vm_fd, 3);
	virq_disc_list_free(&l);
}

static void test_qemu_guest_name_and_vcpu_threads_from_cpu_n_kvm(void **state)
{
	struct virq_disc_list l;
	const struct virq_disc_vm *v;

	assert_int_equal(virq_discover(root, NULL, &l, NULL), 0);
	v = find(&l, 100);
	assert_non_null(v);
	assert_int_equal(v->kind, VIRQ_DISC_QEMU);
	assert_string_equal(v->name, "web1");
	assert_int_equal(v->nr_vm_fds, 1);
	assert_int_equal(v->nr_vcpus, 2);
	assert_int_equal(v->vcpus[0].index, 0);
	assert_int_equal(v->vcpus[0].tid, 101);
	assert_int_equal(v->vcpus[1].index, 1);
	assert_int_equal(v->vcpus[1].tid, 102);
	v = find(&l, 300);
	assert_string_equal(v->name, "db");
	assert_int_equal(v->nr_vcpus, 0);
	virq_disc_list_free(&l);
}

static void test_firecracker_id_and_fc_vcpu_thread(void **state)
{
	struct virq_disc_list l;
	const struct virq_disc_vm *v;

	assert_int_equal(virq_discover(root, NULL, &l, NULL), 0);
	v = find(&l, 200);
	assert_non_null(v);
	assert_int_equal(v->kind, VIRQ_DISC_FIRECRACKER);
	assert_string_equal(v->name, "fc-7");
	assert_int_equal(v->nr_vcpus, 1);
	assert_int_equal(v->vcpus[0].tid, 203);
	virq_disc_list_free(&l);
}

static void test_unknown_vmm_is_named_by_its_command_line(void **state)
{
	struct virq_disc_list l;
	const struct virq_disc_vm *v;

	assert_int_equal(virq_discover(root, NULL, &l, NULL), 0);
	v = find(&l, 400);
	assert_int_equal(v->kind, VIRQ_DISC_OTHER);
	assert_string_equal(v->name, "/opt/myvmm --fast");
	assert_string_equal(v->cmdline, "/opt/myvmm --fast");
	assert_int_equal(v->nr_vm_fds, 2); /* two VMs in one process */
	assert_int_equal(v->nr_vcpus, 2);
	assert_int_equal(v->vcpus[0].tid, 0); /* no thread names: unknown */
	virq_disc_list_free(&l);
}

static int name_ours(void *ctx, pid_t pid, char *name, size_t len)
{
	if (pid != 400)
		return -ENOENT;
	snprintf(name, len, "virq-vm-a");
	return 0;
}

static pid_t tid_ours(void *ctx, pid_t pid, uint32_t index)
{
	return pid == 400 ? (pid_t)(4000 + index) : 0;
}

static void test_namer_callback_names_our_own_vms_and_threads(void **state)
{
	struct virq_disc_namer nm = { .name_vm = name_ours, .vcpu_tid = tid_ours };
	struct virq_disc_list l;
	const struct virq_disc_vm *v;

	assert_int_equal(virq_discover(root, &nm, &l, NULL), 0);
	v = find(&l, 400);
	assert_int_equal(v->kind, VIRQ_DISC_VIRQD);
	assert_string_equal(v->name, "virq-vm-a");
	assert_int_equal(v->vcpus[0].tid, 4000);
	v = find(&l, 100);
	assert_string_equal(v->name, "web1"); /* not ours: untouched */
	virq_disc_list_free(&l);
}

static void test_cmdline_name_forms(void **state)
{
	char n[64];
	static const char a[] = "qemu-kvm\0-name\0vm9,process=qemu-vm9\0";
	static const char b[] = "qemu-system-x86_64\0-name=guest=x1\0";
	static const char c[] = "firecracker\0--id=abc\0";
	static const char d[] = "qemu-system-x86_64\0-name\0"; /* -name without value */

	assert_int_equal(virq_disc_name_from_cmdline(a, sizeof(a) - 1, n, sizeof(n)),
			 VIRQ_DISC_QEMU);
	assert_string_equal(n, "vm9");
	virq_disc_name_from_cmdline(b, sizeof(b) - 1, n, sizeof(n));
	assert_string_equal(n, "x1");
	assert_int_equal(virq_disc_name_from_cmdline(c, sizeof(c) - 1, n, sizeof(n)),
			 VIRQ_DISC_FIRECRACKER);
	assert_string_equal(n, "abc");
	virq_disc_name_from_cmdline(d, sizeof(d) - 1, n, sizeof(n));
	assert_string_equal(n, "");
}

static void test_real_proc_scan_succeeds(void **state)
{
	struct virq_disc_list l;

	/* No VM runs here (no /dev/kvm) but the scan of the real /proc must work. */
	assert_int_equal(virq_discover(NULL, NULL, &l, NULL), 0);
	if (access("/dev/kvm", F_OK) != 0)
		assert_int_equal(l.n, 0);
	virq_disc_list_free(&l);
	assert_int_equal(virq_discover("/nonexistent-proc", NULL, &l, NULL), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_only_processes_holding_kvm_vm_fds_are_vms),
		cmocka_unit_test(test_vm_vcpu_and_stats_fd_numbers_are_recorded),
		cmocka_unit_test(test_qemu_guest_name_and_vcpu_threads_from_cpu_n_kvm),
		cmocka_unit_test(test_firecracker_id_and_fc_vcpu_thread),
		cmocka_unit_test(test_unknown_vmm_is_named_by_its_command_line),
		cmocka_unit_test(test_namer_callback_names_our_own_vms_and_threads),
		cmocka_unit_test(test_cmdline_name_forms),
		cmocka_unit_test(test_real_proc_scan_succeeds),
	};

	return cmocka_run_group_tests_name("unit/trace_discover", tests, setup, teardown);
}
