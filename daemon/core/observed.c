// SPDX-License-Identifier: MIT
/*
 * Observed VMs: the KVM VMs of other processes, as one model every surface reads (host
 * vms, crosscheck, the stats snapshot behind top, /metrics and /api/v1/stats).
 *
 * Identity is the VMM process and its VM: the pid, and the tracer's cookie of its struct
 * kvm once a BPF event of it was seen (whose kvm->userspace_pid and kvm->stats_id
 * "kvm-PID" name the same process). The name is the one its VMM gives it (discovery:
 * QEMU's -name guest=, Firecracker's --id, ...), else KVM's stats id. A VM is seen when
 * either discovery or the tracer finds it, running while its process holds a kvm-vm fd,
 * and exited once the process or its last kvm-vm fd is gone: it is then kept, marked
 * exited, for observed_keep_exited_s seconds with its counts (the BPF counters of a dead
 * VM stay in the maps), and judged no more.
 *
 * Owner: the event loop thread (daemon state).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "virq/discover.h"
#include "virq/trace.h"
#include "virq/vmm_kvm.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* KVM's debugfs stats read for observed VMs (kvm_main.c: one file per stat in the VM's
 * directory "PID-FD", a vCPU stat being the sum over the VM's vCPUs). */
const char *const virqd_obs_dbg_names[VIRQD_OBS_DBG_STATS] = {
	"exits", "irq_exits", "halt_exits", "irq_injections", "nmi_injections", "io_exits",
};

/* KVM's own counts of the VM from debugfs. A VM fd of another process is refused its
 * KVM_GET_STATS_FD, but KVM publishes the same stats, summed over vCPUs, in debugfs;
 * virqd does not mount debugfs itself (an operator's choice; locked down on some hosts). */
static void obs_read_debugfs(struct virqd_obs_vm *o)
{
	char path[128], buf[32];

	o->dbg_ok = false;
	if (o->vm_fd < 0) {
		snprintf(o->dbg_why, sizeof(o->dbg_why), "VM fd unknown");
		return;
	}
	for (int i = 0; i < VIRQD_OBS_DBG_STATS; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d/%s", (int)o->pid,
			 o->vm_fd, virqd_obs_dbg_names[i]);
		f = fopen(path, "re");
		if (!f) {
			snprintf(o->dbg_why, sizeof(o->dbg_why), "%s: %s",
				 i ? virqd_obs_dbg_names[i] : "/sys/kernel/debug/kvm",
				 strerror(errno));
			return;
		}
		if (!fgets(buf, sizeof(buf), f)) {
			fclose(f);
			snprintf(o->dbg_why, sizeof(o->dbg_why), "%s: empty",
				 virqd_obs_dbg_names[i]);
			return;
		}
		fclose(f);
		o->dbg[i] = strtoull(buf, NULL, 10);
	}
	o->dbg_ok = true;
	o->dbg_why[0] = 0;
}

const char *virqd_obs_state_name(enum virqd_obs_state s)
{
	static const char *const n[] = { "seen", "running", "exited" };

	return (unsigned int)s < sizeof(n) / sizeof(n[0]) ? n[s] : "unknown";
}

static struct virqd_obs_vm *obs_find(struct virqd *d, pid_t pid)
{
	for (unsigned int i = 0; i < d->nr_obs; i++)
		if (d->obs[i].pid == pid)
			return &d->obs[i];
	return NULL;
}

static struct virqd_obs_vm *obs_add(struct virqd *d, pid_t pid, uint64_t now)
{
	struct virqd_obs_vm *o;

	if (d->nr_obs == VIRQD_MAX_OBS) {
		d->cnt.obs_dropped++;
		return NULL;
	}
	o = &d->obs[d->nr_obs++];
	memset(o, 0, sizeof(*o));
	o->pid = pid;
	o->first_ns = now;
	o->state = VIRQD_OBS_SEEN;
	o->nr_stats = 0;
	o->vm_fd = -1;
	snprintf(o->name, sizeof(o->name), "kvm-%d", (int)pid);
	return o;
}

static int obs_trace_vm(uint32_t vm_id, const struct virq_trace_vm *vm, void *ctx)
{
	struct virqd *d = ctx;
	struct virqd_obs_vm *o;

	if ((pid_t)vm->userspace_pid == getpid() || !vm->userspace_pid)
		return 0;
	o = obs_find(d, (pid_t)vm->userspace_pid);
	if (!o && !(o = obs_add(d, (pid_t)vm->userspace_pid, mono_ns())))
		return 0;
	/* A process that created a new VM since (another cookie): the newest one counts;
	 * several VMs of one process stay one entry, named as the process. */
	if (!o->vm_id || o->vm_id != vm_id) {
		o->nr_cookies++;
		o->vm_id = vm_id;
	}
	snprintf(o->stats_id, sizeof(o->stats_id), "%.*s", (int)sizeof(vm->stats_id), vm->stats_id);
	if (!o->named)
		snprintf(o->name, sizeof(o->name), "%.*s", (int)sizeof(vm->stats_id), vm->stats_id);
	return 0;
}

static void obs_stats_close(struct virqd_obs_vm *o)
{
	for (unsigned int i = 0; i < o->nr_stats; i++)
		close(o->stats_fd[i]);
	o->nr_stats = 0;
}

/* KVM's binary stats of each vCPU: the stats fd the VMM opened itself, else its vCPU fd
 * asked KVM_GET_STATS_FD (refused by KVM outside the VM's own process: the reason is
 * kept). Once per VM. */
static void obs_stats_acquire(struct virqd_obs_vm *o, const struct virq_disc_vm *v)
{
	char why[224] = "", scratch[224];

	if (o->stats_tried)
		return;
	o->stats_tried = true;
	for (unsigned int k = 0; k < v->nr_vcpus && o->nr_stats < VIRQD_OBS_MAX_VCPUS; k++) {
		const struct virq_disc_vcpu *c = &v->vcpus[k];
		bool own = c->stats_fd >= 0;
		int fd = virq_kvm_foreign_stats_fd(v->pid, own ? c->stats_fd : c->fd, own,
						   why[0] ? scratch : why, sizeof(why));

		if (fd < 0)
			continue;
		o->stats_fd[o->nr_stats] = fd;
		o->stats_vcpu[o->nr_stats++] = c->index;
	}
	if (!v->nr_vcpus)
		snprintf(o->stats_why, sizeof(o->stats_why), "the VMM holds no vCPU fd");
	else if (o->nr_stats < v->nr_vcpus)
		snprintf(o->stats_why, sizeof(o->stats_why), "%u of %u vCPUs without stats: %.160s",
			 v->nr_vcpus - o->nr_stats, v->nr_vcpus, why);
	else
		o->stats_why[0] = 0;
}

const char *virqd_obs_stats_how(const struct virqd_obs_vm *o)
{
	if (!o->stats_tried)
		return "not tried";
	if (!o->nr_stats)
		return "unavailable";
	return o->stats_why[0] ? "partial" : "vmm-stats-fds";
}

void virqd_observed_finalise(struct virqd *d)
{
	for (unsigned int i = 0; i < d->nr_obs; i++)
		obs_stats_close(&d->obs[i]);
	d->nr_obs = 0;
}

static int namer_self(void *ctx, pid_t pid, char *name, size_t len)
{
	if (pid != getpid())
		return -ENOENT;
	snprintf(name, len, "virqd");
	return 0;
}

/* vCPU threads the VMM did not name (QEMU without debug-threads=on calls every thread
 * qemu-system-x86): the tracer's thread map, filled by each vCPU thread's first event
 * through its vCPU, says which thread runs which vcpu_id. */
static void obs_learn_threads(struct virqd *d, struct virqd_obs_vm *o)
{
	char path[64];
	struct dirent *de;
	DIR *dir;

	if (!d->trace)
		return;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)o->pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir)) != NULL) {
		struct virq_trace_thread th;
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0 || virq_trace_thread(d->trace, tid, &th) || (pid_t)th.tgid != o->pid ||
		    th.vcpu_id >= VIRQD_OBS_MAX_VCPUS)
			continue;
		o->vcpu_tids[th.vcpu_id] = tid;
		if (th.vcpu_id >= o->nr_vcpu_tids)
			o->nr_vcpu_tids = th.vcpu_id + 1;
	}
	closedir(dir);
}

void virqd_observed_refresh(struct virqd *d, bool force)
{
	struct virq_disc_namer namer = { .name_vm = namer_self, .ctx = d };
	struct virq_disc_list l = { 0 };
	uint64_t now = mono_ns();
	unsigned int skipped = 0, w = 0;

	/* /proc is scanned at most every VIRQD_OBS_SCAN_NS unless asked (a command). */
	if (!force && d->obs_scanned_ns && now - d->obs_scanned_ns < VIRQD_OBS_SCAN_NS)
		return;
	d->obs_scanned_ns = now;
	for (unsigned int i = 0; i < d->nr_obs; i++)
		d->obs[i].present = false;
	if (virq_discover(NULL, &namer, &l, &skipped) == 0) {
		for (size_t i = 0; i < l.n; i++) {
			const struct virq_disc_vm *v = &l.vms[i];
			struct virqd_obs_vm *o;

			if (v->pid == getpid() || !v->nr_vm_fds)
				continue;
			o = obs_find(d, v->pid);
			if (o && o->state == VIRQD_OBS_EXITED)
				continue; /* a pid reused after exit: a new VM comes as new */
			if (!o && !(o = obs_add(d, v->pid, now)))
				continue;
			o->present = true;
			o->state = VIRQD_OBS_RUNNING;
			o->kind = virq_disc_kind_name(v->kind);
			o->nr_vm_fds = v->nr_vm_fds;
			if (v->nr_vcpus > o->nr_vcpus)
				o->nr_vcpus = v->nr_vcpus;
			/* indexed by vcpu_id: the VMM's thread names, else the tracer's map */
			for (unsigned int k = 0; k < v->nr_vcpus; k++) {
				uint32_t id = v->vcpus[k].index;

				if (id >= VIRQD_OBS_MAX_VCPUS || !v->vcpus[k].tid)
					continue;
				o->vcpu_tids[id] = v->vcpus[k].tid;
				if (id >= o->nr_vcpu_tids)
					o->nr_vcpu_tids = id + 1;
			}
			obs_learn_threads(d, o);
			if (v->name[0]) {
				snprintf(o->name, sizeof(o->name), "%s", v->name);
				o->named = true;
			}
			obs_stats_acquire(o, v);
			o->vm_fd = v->vm_fd;
			obs_read_debugfs(o);
		}
		virq_disc_list_free(&l);
	}
	if (d->trace)
		virq_trace_read_vms(d->trace, obs_trace_vm, d);
	for (unsigned int i = 0; i < d->nr_obs; i++) {
		struct virqd_obs_vm *o = &d->obs[i];

		if ((o->state == VIRQD_OBS_RUNNING && !o->present) ||
		    /* known to the tracer only, never found in /proc: gone with its process */
		    (o->state == VIRQD_OBS_SEEN && kill(o->pid, 0) && errno == ESRCH)) {
			o->state = VIRQD_OBS_EXITED;
			o->exited_ns = now;
			obs_stats_close(o);
		}
	}
	/* Exited VMs are kept for observed_keep_exited_s, then forgotten. */
	for (unsigned int i = 0; i < d->nr_obs; i++) {
		struct virqd_obs_vm *o = &d->obs[i];

		if (o->state == VIRQD_OBS_EXITED &&
		    now - o->exited_ns > (uint64_t)d->cfg.obs_keep_exited_s * 1000000000ull) {
			obs_stats_close(o);
			continue;
		}
		if (w != i)
			d->obs[w] = *o;
		w++;
	}
	d->nr_obs = w;
}

double virqd_obs_exited_ago(const struct virqd_obs_vm *o)
{
	return o->state == VIRQD_OBS_EXITED ? (double)(mono_ns() - o->exited_ns) / 1e9 : 0;
}
