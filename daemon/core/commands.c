// SPDX-License-Identifier: MIT
/*
 * The control protocol's commands (steps 8-10 of the validation order in virq/proto.h):
 * argument checks first, then whether the subsystem exists, then the action.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "daemon.h"
#include "../ctl/ctl.h"
#include "virq/discover.h"
#include "virq/stats.h"
#include "virq/trace.h"
#include "virq/vmm.h"

#define FAIL(code, ...)                             \
	do {                                        \
		snprintf(msg, msglen, __VA_ARGS__); \
		return code;                        \
	} while (0)

/* ---- argument helpers: each returns 0, or -EINVAL with msg filled ---------------------- */

static int arg_uint(const cJSON *args, const char *key, bool required, uint64_t lo, uint64_t hi,
		    uint64_t *out, char *msg, size_t msglen)
{
	const cJSON *j = args ? cJSON_GetObjectItemCaseSensitive(args, key) : NULL;
	double v;

	if (!j || cJSON_IsNull(j)) {
		if (required) {
			snprintf(msg, msglen, "missing argument \"%s\"", key);
			return -EINVAL;
		}
		return 1; /* absent: *out untouched */
	}
	if (cJSON_IsString(j) && j->valuestring && !strncmp(j->valuestring, "0x", 2)) {
		char *end;
		unsigned long long x;

		errno = 0;
		x = strtoull(j->valuestring, &end, 16);
		if (errno || *end || end == j->valuestring + 2 || x < lo || x > hi)
			goto bad;
		*out = x;
		return 0;
	}
	if (!cJSON_IsNumber(j))
		goto bad;
	v = j->valuedouble;
	if (!(v >= (double)lo && v <= (double)hi) || floor(v) != v)
		goto bad;
	*out = (uint64_t)v;
	return 0;
bad:
	snprintf(msg, msglen, "\"%s\" must be an integer in %llu..%llu (or a \"0x\" string)", key,
		 (unsigned long long)lo, (unsigned long long)hi);
	return -EINVAL;
}

static int arg_str(const cJSON *args, const char *key, bool required, const char **out, char *msg,
		   size_t msglen)
{
	const cJSON *j = args ? cJSON_GetObjectItemCaseSensitive(args, key) : NULL;

	if (!j || cJSON_IsNull(j)) {
		if (required) {
			snprintf(msg, msglen, "missing argument \"%s\"", key);
			return -EINVAL;
		}
		return 1;
	}
	if (!cJSON_IsString(j) || !j->valuestring) {
		snprintf(msg, msglen, "\"%s\" must be a string", key);
		return -EINVAL;
	}
	*out = j->valuestring;
	return 0;
}

static int arg_bool(const cJSON *args, const char *key, bool *out, char *msg, size_t msglen)
{
	const cJSON *j = args ? cJSON_GetObjectItemCaseSensitive(args, key) : NULL;

	if (!j || cJSON_IsNull(j))
		return 1;
	if (!cJSON_IsBool(j)) {
		snprintf(msg, msglen, "\"%s\" must be true or false", key);
		return -EINVAL;
	}
	*out = cJSON_IsTrue(j);
	return 0;
}

/* Only the listed keys are allowed: a misspelt argument is an error, not a silent default. */
static int args_only(const cJSON *args, const char *const *keys, char *msg, size_t msglen)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, args)
	{
		const char *const *k;

		for (k = keys; *k; k++)
			if (!strcmp(*k, it->string))
				break;
		if (!*k) {
			snprintf(msg, msglen, "unknown argument \"%.48s\"", it->string);
			return -EINVAL;
		}
	}
	return 0;
}

#define ONLY(...)                                                         \
	do {                                                              \
		static const char *const keys_[] = { __VA_ARGS__, NULL }; \
		if (args_only(req->args, keys_, msg, msglen))             \
			return VIRQ_E_BAD_ARGS;                           \
	} while (0)
#define NO_ARGS()                                                      \
	do {                                                           \
		if (req->args && req->args->child)                     \
			FAIL(VIRQ_E_BAD_ARGS, "%s takes no arguments", \
			     virq_proto_cmd_info(req->cmd)->name);     \
	} while (0)

/* ---- version, capabilities, status ------------------------------------------------------ */

static enum virq_proto_err cmd_version(struct virqd *d, cJSON *res)
{
	cJSON_AddNumberToObject(res, "protocol", VIRQ_PROTO_VERSION);
	cJSON_AddNumberToObject(res, "min_protocol", 1);
	cJSON_AddNumberToObject(res, "max_protocol", VIRQ_PROTO_VERSION);
	cJSON_AddStringToObject(res, "daemon", "virqd");
	cJSON_AddStringToObject(res, "version", VIRQ_VERSION);
	cJSON_AddStringToObject(res, "commit", VIRQ_GIT_COMMIT);
	return VIRQ_E_OK;
}

static enum virq_proto_err cmd_capabilities(struct virqd *d, cJSON *res)
{
	cJSON *cmds = cJSON_AddArrayToObject(res, "commands");
	cJSON *errs = cJSON_AddArrayToObject(res, "errors");
	cJSON *modes = cJSON_AddArrayToObject(res, "irqchip_modes");

	for (int i = 0; i < VIRQ_CMD__COUNT; i++) {
		const struct virq_proto_cmd_info *ci = virq_proto_cmd_info(i);
		cJSON *c = cJSON_CreateObject();

		cJSON_AddStringToObject(c, "name", ci->name);
		cJSON_AddBoolToObject(c, "mutating", ci->mutating);
		cJSON_AddStringToObject(c, "args", ci->args);
		cJSON_AddStringToObject(c, "summary", ci->summary);
		cJSON_AddItemToArray(cmds, c);
	}
	for (int i = 1; i < VIRQ_E__COUNT; i++)
		cJSON_AddItemToArray(errs, cJSON_CreateString(virq_proto_err_name(i)));
	for (int i = 0; i < VIRQ_IRQCHIP__COUNT; i++)
		cJSON_AddItemToArray(modes, cJSON_CreateString(virq_irqchip_mode_name(i)));
	cJSON_AddNumberToObject(res, "protocol", VIRQ_PROTO_VERSION);
	cJSON_AddNumberToObject(res, "max_frame", VIRQ_PROTO_MAX_FRAME);
	cJSON_AddBoolToObject(res, "kvm", d->kvm_ok);
	cJSON_AddBoolToObject(res, "bpf", d->bpf_ok);
	cJSON_AddBoolToObject(res, "trace_stream", d->trace && virq_trace_ring_fd(d->trace) >= 0);
	cJSON_AddBoolToObject(res, "metrics", d->metrics_ok);
	return VIRQ_E_OK;
}

static enum virq_proto_err cmd_status(struct virqd *d, struct virq_ctl_client *c, cJSON *res)
{
	const struct virq_ctl_peer *p = virq_ctl_client_peer(c);
	struct virq_ctl_stats st;
	cJSON *o, *e;

	virq_ctl_get_stats(d->ctl, &st);
	cJSON_AddStringToObject(res, "state", virqd_state(d));
	cJSON_AddNumberToObject(res, "pid", getpid());
	cJSON_AddNumberToObject(res, "uptime_s", (double)(virqd_now_ns() - d->start_mono_ns) / 1e9);
	cJSON_AddStringToObject(res, "version", VIRQ_VERSION);
	cJSON_AddStringToObject(res, "socket", d->cfg.socket_path);
	o = cJSON_AddObjectToObject(res, "kvm");
	cJSON_AddBoolToObject(o, "available", d->kvm_ok);
	cJSON_AddStringToObject(o, "reason", d->kvm_ok ? "" : d->kvm_why);
	o = cJSON_AddObjectToObject(res, "bpf");
	cJSON_AddBoolToObject(o, "available", d->bpf_ok);
	cJSON_AddStringToObject(o, "reason", d->bpf_ok ? "" : d->bpf_why);
	if (d->trace) {
		cJSON_AddNumberToObject(o, "attach_points", virq_trace_nr_points(d->trace));
		cJSON_AddNumberToObject(o, "ring_drops", (double)virq_trace_drops(d->trace));
	}
	o = cJSON_AddObjectToObject(res, "metrics");
	cJSON_AddBoolToObject(o, "available", d->metrics_ok);
	cJSON_AddStringToObject(o, "detail", d->metrics_why);
	cJSON_AddNumberToObject(res, "vms", d->nr_vms);
	o = cJSON_AddObjectToObject(res, "you");
	cJSON_AddNumberToObject(o, "uid", p->uid);
	cJSON_AddNumberToObject(o, "pid", p->pid);
	cJSON_AddBoolToObject(o, "may_mutate", p->privileged);
	o = cJSON_AddObjectToObject(res, "control");
	cJSON_AddNumberToObject(o, "clients", st.clients);
	cJSON_AddNumberToObject(o, "max_clients", d->cfg.max_clients);
	cJSON_AddNumberToObject(o, "subscribers", st.subscribers);
	cJSON_AddNumberToObject(o, "accepted", (double)st.accepted);
	cJSON_AddNumberToObject(o, "refused", (double)st.refused);
	cJSON_AddNumberToObject(o, "timed_out_idle", (double)st.timed_out_idle);
	cJSON_AddNumberToObject(o, "timed_out_line", (double)st.timed_out_line);
	cJSON_AddNumberToObject(o, "accept_errors", (double)st.accept_errors);
	cJSON_AddNumberToObject(o, "dropped_slow", (double)st.dropped_slow);
	cJSON_AddNumberToObject(o, "requests", (double)st.requests);
	cJSON_AddNumberToObject(o, "oversize", (double)st.oversize);
	cJSON_AddNumberToObject(o, "events_sent", (double)st.events_sent);
	cJSON_AddNumberToObject(o, "events_dropped", (double)st.events_dropped);
	cJSON_AddNumberToObject(o, "deferred", (double)st.deferred);
	cJSON_AddNumberToObject(o, "deferred_orphaned", (double)st.deferred_orphaned);
	e = cJSON_AddObjectToObject(o, "errors");
	for (int i = 1; i < VIRQ_E__COUNT; i++)
		if (st.errors[i])
			cJSON_AddNumberToObject(e, virq_proto_err_name(i), (double)st.errors[i]);
	o = cJSON_AddObjectToObject(res, "counters");
	cJSON_AddNumberToObject(o, "ticks", (double)d->cnt.ticks);
	cJSON_AddNumberToObject(o, "ticks_missed", (double)d->cnt.ticks_missed);
	cJSON_AddNumberToObject(o, "reloads", (double)d->cnt.reloads);
	cJSON_AddNumberToObject(o, "reload_errors", (double)d->cnt.reload_errors);
	cJSON_AddNumberToObject(o, "trace_records", (double)d->cnt.trace_records);
	cJSON_AddNumberToObject(o, "anomalies", (double)d->cnt.anomalies);
	cJSON_AddNumberToObject(o, "anomaly_logs_suppressed", (double)d->anomaly_rl.suppressed);
	cJSON_AddNumberToObject(o, "vm_failures", (double)d->cnt.vm_failures);
	cJSON_AddNumberToObject(o, "trace_unattributed", (double)d->cnt.trace_unattributed);
	cJSON_AddNumberToObject(o, "trace_vms_learnt", (double)d->cnt.trace_vm_learnt);
	o = cJSON_AddObjectToObject(res, "scenarios");
	cJSON_AddNumberToObject(o, "running", d->jobs.running);
	cJSON_AddNumberToObject(o, "max", d->jobs.max);
	cJSON_AddNumberToObject(o, "started", (double)d->jobs.started);
	cJSON_AddNumberToObject(o, "completed", (double)d->jobs.completed);
	cJSON_AddNumberToObject(o, "refused_busy", (double)d->cnt.scenarios_busy);
	return VIRQ_E_OK;
}

/* ---- VMs ------------------------------------------------------------------------------ */

static cJSON *vm_json(const struct virqd_vm *v)
{
	const struct virq_vm_config *cfg = virq_vm_get_config(v->vm);
	char reason[VIRQ_VM_REASON_MAX] = "";
	enum virq_vm_state s = virq_vm_state(v->vm, reason, sizeof(reason));
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", v->id);
	cJSON_AddStringToObject(o, "name", virq_vm_name(v->vm));
	cJSON_AddStringToObject(o, "state", virq_vm_state_name(s));
	cJSON_AddStringToObject(o, "reason", s == VIRQ_VM_STOPPED ? reason : "");
	cJSON_AddStringToObject(o, "irqchip", virq_irqchip_mode_name(cfg->irqchip));
	cJSON_AddStringToObject(o, "idle", virq_idle_style_name(cfg->idle));
	cJSON_AddNumberToObject(o, "vcpus", cfg->nr_vcpus);
	cJSON_AddNumberToObject(o, "mem_mb", cfg->mem_mb);
	cJSON_AddBoolToObject(o, "posted", cfg->posted);
	cJSON_AddBoolToObject(o, "x2apic", cfg->x2apic);
	cJSON_AddBoolToObject(o, "pv_eoi", cfg->pv_eoi);
	cJSON_AddStringToObject(o, "boot", virq_vm_boot_kind(v->vm));
	cJSON_AddNumberToObject(o, "pv_cpuid_unenforced_vcpus", virq_vm_pv_unenforced(v->vm));
	cJSON_AddNumberToObject(o, "run_ms", (double)(virq_vm_run_ns(v->vm) / 1000000));
	if (cfg->kernel[0]) {
		cJSON_AddStringToObject(o, "kernel", cfg->kernel);
		cJSON_AddStringToObject(o, "initrd", cfg->initrd);
		cJSON_AddStringToObject(o, "append", cfg->append);
		cJSON_AddStringToObject(o, "disk", cfg->disk);
		struct virq_vm_platform_stats ps;

		if (virq_vm_platform_stats(v->vm, &ps) == 0) {
			cJSON *po = cJSON_AddObjectToObject(o, "platform");

			cJSON_AddStringToObject(po, "pit", ps.kvm_pit ? "kvm" : "virq");
			cJSON_AddNumberToObject(po, "pit_irqs", (double)ps.pit_irqs);
			cJSON_AddNumberToObject(po, "pit_coalesced", (double)ps.pit_coalesced);
			cJSON_AddNumberToObject(po, "rtc_irqs", (double)ps.rtc_irqs);
			cJSON_AddNumberToObject(po, "rtc_coalesced", (double)ps.rtc_coalesced);
			cJSON_AddNumberToObject(po, "unclaimed_pio", (double)ps.unclaimed_pio);
			cJSON_AddNumberToObject(po, "unclaimed_mmio", (double)ps.unclaimed_mmio);
			if (ps.has_disk) {
				cJSON *dk = cJSON_AddObjectToObject(po, "disk");

				cJSON_AddNumberToObject(dk, "requests", (double)ps.disk_requests);
				cJSON_AddNumberToObject(dk, "reads", (double)ps.disk_reads);
				cJSON_AddNumberToObject(dk, "writes", (double)ps.disk_writes);
				cJSON_AddNumberToObject(dk, "errors", (double)ps.disk_errors);
				cJSON_AddNumberToObject(dk, "interrupts",
							(double)ps.disk_interrupts);
				cJSON_AddNumberToObject(dk, "notify_exits",
							(double)ps.disk_notify_exits);
				cJSON_AddNumberToObject(dk, "notify_eventfds",
							(double)ps.disk_notify_eventfds);
				cJSON_AddNumberToObject(dk, "irqfd_signals",
							(double)ps.disk_irqfd_signals);
				cJSON_AddNumberToObject(dk, "msi_routes",
							(double)ps.disk_msi_routes);
			}
		}
		if (virq_vm_exit_status(v->vm) >= 0)
			cJSON_AddNumberToObject(o, "exit_status", virq_vm_exit_status(v->vm));
		else
			cJSON_AddNullToObject(o, "exit_status");
	}
	return o;
}

static enum virq_proto_err cmd_vm_list(struct virqd *d, cJSON *res)
{
	cJSON *a = cJSON_AddArrayToObject(res, "vms");

	for (unsigned int i = 0; i < d->nr_vms; i++)
		cJSON_AddItemToArray(a, vm_json(&d->vms[i]));
	return VIRQ_E_OK;
}

static enum virq_proto_err need_kvm(struct virqd *d, char *msg, size_t msglen)
{
	if (!d->kvm_ok)
		FAIL(VIRQ_E_KVM_UNAVAILABLE, "the VMM is unavailable: %s (observe-only daemon)",
		     d->kvm_why);
	return VIRQ_E_OK;
}

/* Finds args.vm (a name or a numeric id). */
static enum virq_proto_err find_vm(struct virqd *d, const cJSON *args, struct virqd_vm **out,
				   char *msg, size_t msglen)
{
	const cJSON *j = args ? cJSON_GetObjectItemCaseSensitive(args, "vm") : NULL;
	char idbuf[24];
	const char *key;

	if (cJSON_IsString(j) && j->valuestring) {
		key = j->valuestring;
	} else if (cJSON_IsNumber(j) && j->valuedouble >= 0 && j->valuedouble < 4e9 &&
		   floor(j->valuedouble) == j->valuedouble) {
		/* An id is an integer: 1.7 is an error, not VM 1. */
		snprintf(idbuf, sizeof(idbuf), "%u", (unsigned int)j->valuedouble);
		key = idbuf;
	} else {
		FAIL(VIRQ_E_BAD_ARGS, "\"vm\" (a name or an id) is required");
	}
	/* Step 9 of the validation order: without the VMM there are no VMs to find. */
	if (need_kvm(d, msg, msglen))
		return VIRQ_E_KVM_UNAVAILABLE;
	*out = virqd_vm_find(d, key);
	if (!*out)
		FAIL(VIRQ_E_NOT_FOUND, "no VM \"%.40s\"", key);
	return VIRQ_E_OK;
}

/* Maps a VMM errno to a protocol error. */
static enum virq_proto_err vmm_err(struct virqd_vm *v, int r, const char *what, char *msg,
				   size_t msglen)
{
	char reason[VIRQ_VM_REASON_MAX] = "";

	if (r == -ESHUTDOWN || virq_vm_state(v->vm, reason, sizeof(reason)) == VIRQ_VM_STOPPED)
		FAIL(VIRQ_E_VM_STOPPED, "VM %s stopped: %s", virq_vm_name(v->vm),
		     reason[0] ? reason : "stopped");
	if (r == -EALREADY || r == -EBUSY)
		FAIL(VIRQ_E_BUSY, "%s: %s", what, strerror(-r));
	if (r == -EINVAL || r == -EOPNOTSUPP || r == -ERANGE)
		FAIL(VIRQ_E_BAD_ARGS, "%s: %s", what, strerror(-r));
	FAIL(VIRQ_E_INTERNAL, "%s: %s", what, strerror(-r));
}

static enum virq_proto_err cmd_vm_create(struct virqd *d, const struct virq_proto_request *req,
					 cJSON *res, char *msg, size_t msglen)
{
	struct virq_vm_config cfg;
	const char *s;
	uint64_t u;
	bool start = true;
	char err[256] = "";
	struct virq_vm *vm;
	struct virqd_vm *v;
	int r;

	ONLY("name", "vcpus", "mem_mb", "irqchip", "idle", "posted", "x2apic", "pv_eoi", "start",
	     "kernel", "initrd", "append", "disk");
	virq_vm_config_init(&cfg);
	cfg.nr_vcpus = d->cfg.vm_vcpus;
	cfg.mem_mb = d->cfg.vm_mem_mb;
	cfg.irqchip = d->cfg.vm_irqchip;
	cfg.idle = d->cfg.vm_idle;
	cfg.posted = d->cfg.vm_posted;
	cfg.x2apic = d->cfg.vm_x2apic;
	cfg.pv_eoi = d->cfg.vm_pv_eoi;
	r = arg_str(req->args, "name", false, &s, msg, msglen);
	if (r < 0)
		return VIRQ_E_BAD_ARGS;
	if (r == 0) {
		if (!*s || strlen(s) >= VIRQ_VM_NAME_MAX || strspn(s, "0123456789") == strlen(s))
			FAIL(VIRQ_E_BAD_ARGS, "\"name\" must be 1..%d characters, not all digits",
			     VIRQ_VM_NAME_MAX - 1);
		snprintf(cfg.name, sizeof(cfg.name), "%s", s);
	}
	r = arg_uint(req->args, "vcpus", false, 1, VIRQ_VM_MAX_VCPUS, &u, msg, msglen);
	if (r < 0)
		return VIRQ_E_BAD_ARGS;
	if (r == 0)
		cfg.nr_vcpus = (uint32_t)u;
	r = arg_uint(req->args, "mem_mb", false, VIRQ_VM_MEM_MB_MIN, VIRQ_VM_MEM_MB_MAX, &u, msg,
		     msglen);
	if (r < 0)
		return VIRQ_E_BAD_ARGS;
	if (r == 0)
		cfg.mem_mb = (uint32_t)u;
	/* A guest kernel (its RAM defaults to VIRQ_VM_KERNEL_MEM_MB_DEFAULT). Files are
	 * read by virqd itself: absolute paths only, never relative to its cwd. */
	for (unsigned int i = 0; i < 4; i++) {
		static const char *const keys[] = { "kernel", "initrd", "append", "disk" };
		char *dst = i == 0 ? cfg.kernel :
			    i == 1 ? cfg.initrd :
			    i == 2 ? cfg.append :
				     cfg.disk;
		size_t cap = i == 2 ? sizeof(cfg.append) : sizeof(cfg.kernel);

		r = arg_str(req->args, keys[i], false, &s, msg, msglen);
		if (r < 0)
			return VIRQ_E_BAD_ARGS;
		if (r)
			continue;
		if (strlen(s) >= cap)
			FAIL(VIRQ_E_BAD_ARGS, "\"%s\" is longer than %zu bytes", keys[i], cap - 1);
		if (i != 2 && s[0] != '/')
			FAIL(VIRQ_E_BAD_ARGS, "\"%s\" must be an absolute path", keys[i]);
		snprintf(dst, cap, "%s", s);
	}
	if (cfg.kernel[0] && !cJSON_GetObjectItemCaseSensitive(req->args, "mem_mb"))
		cfg.mem_mb = VIRQ_VM_KERNEL_MEM_MB_DEFAULT;
	r = arg_str(req->args, "irqchip", false, &s, msg, msglen);
	if (r < 0)
		return VIRQ_E_BAD_ARGS;
	if (r == 0 && virq_irqchip_mode_parse(s, &cfg.irqchip))
		FAIL(VIRQ_E_BAD_ARGS, "\"irqchip\" must be kernel, split or user");
	r = arg_str(req->args, "idle", false, &s, msg, msglen);
	if (r < 0)
		return VIRQ_E_BAD_ARGS;
	if (r == 0 && virq_idle_style_parse(s, &cfg.idle))
		FAIL(VIRQ_E_BAD_ARGS, "\"idle\" must be %s or %s",
		     virq_idle_style_name(VIRQ_IDLE_HLT),
		     virq_idle_style_name(VIRQ_IDLE_CPL3_SPIN));
	if (arg_bool(req->args, "posted", &cfg.posted, msg, msglen) < 0 ||
	    arg_bool(req->args, "x2apic", &cfg.x2apic, msg, msglen) < 0 ||
	    arg_bool(req->args, "pv_eoi", &cfg.pv_eoi, msg, msglen) < 0 ||
	    arg_bool(req->args, "start", &start, msg, msglen) < 0)
		return VIRQ_E_BAD_ARGS;
	if (virq_vm_config_check(&cfg, err, sizeof(err)))
		FAIL(VIRQ_E_BAD_ARGS, "%s", err);
	if (need_kvm(d, msg, msglen))
		return VIRQ_E_KVM_UNAVAILABLE;
	if (!cfg.name[0])
		snprintf(cfg.name, sizeof(cfg.name), "vm%u", d->next_vm_id);
	if (virqd_vm_find(d, cfg.name))
		FAIL(VIRQ_E_EXISTS, "a VM named \"%s\" exists", cfg.name);
	if (d->nr_vms >= d->cfg.max_vms || d->nr_vms >= VIRQD_MAX_VMS)
		FAIL(VIRQ_E_BUSY, "VM limit (%u) reached", d->cfg.max_vms);
	vm = virq_vm_create(&cfg, err, sizeof(err));
	if (!vm)
		FAIL(errno == ENODEV || errno == ENOENT ? VIRQ_E_KVM_UNAVAILABLE : VIRQ_E_INTERNAL,
		     "vm.create: %s", err[0] ? err : strerror(errno));
	if (start) {
		r = virq_vm_start(vm);
		if (r) {
			virq_vm_destroy(vm);
			FAIL(VIRQ_E_INTERNAL, "vm.create: starting: %s", strerror(-r));
		}
	}
	v = &d->vms[d->nr_vms++];
	memset(v, 0, sizeof(*v));
	v->id = d->next_vm_id++;
	v->vm = vm;
	virqd_vecmap_init(&v->vecmap, virq_vm_get_config(vm));
	cJSON_AddItemToObject(res, "vm", vm_json(v));
	virq_log(LOG_INFO, "VM %s created (%s, %u vCPUs)", cfg.name,
		 virq_irqchip_mode_name(cfg.irqchip), cfg.nr_vcpus);
	if (virq_vm_pv_unenforced(vm) && cfg.irqchip == VIRQ_IRQCHIP_USER)
		virq_log(LOG_WARNING,
			 "VM %s: KVM does not hold %u vCPU(s) to CPUID's PV features "
			 "(KVM_CAP_ENFORCE_PV_FEATURE_CPUID): a guest that kicks or yields through "
			 "KVM's hypercalls without offering them gets 0 and no effect",
			 cfg.name, virq_vm_pv_unenforced(vm));
	return VIRQ_E_OK;
}

static enum virq_proto_err cmd_vm_simple(struct virqd *d, const struct virq_proto_request *req,
					 cJSON *res, char *msg, size_t msglen)
{
	struct virqd_vm *v;
	enum virq_proto_err e;
	int r = 0;

	ONLY("vm");
	e = find_vm(d, req->args, &v, msg, msglen);
	if (e)
		return e;
	switch (req->cmd) {
	case VIRQ_CMD_VM_DESTROY:
		/* A scenario worker uses the VM: destroying it under the worker would free
		 * what it runs on. */
		if (virqd_jobs_key_busy(&d->jobs, v->id))
			FAIL(VIRQ_E_BUSY, "a scenario is running on VM %s; destroy it when done",
			     virq_vm_name(v->vm));
		cJSON_AddNumberToObject(res, "id", v->id);
		cJSON_AddStringToObject(res, "name", virq_vm_name(v->vm));
		virq_log(LOG_INFO, "VM %s destroyed", virq_vm_name(v->vm));
		virqd_vm_remove(d, (unsigned int)(v - d->vms));
		return VIRQ_E_OK;
	case VIRQ_CMD_VM_PAUSE:
		r = virq_vm_pause(v->vm);
		break;
	case VIRQ_CMD_VM_RESUME:
		r = virq_vm_resume(v->vm);
		break;
	default:
		break;
	}
	if (r)
		return vmm_err(v, r, virq_proto_cmd_info(req->cmd)->name, msg, msglen);
	cJSON_AddItemToObject(res, "vm", vm_json(v));
	return VIRQ_E_OK;
}

/* vm.inject: up to this many injections run on the loop; more on a worker thread. */
#define INJECT_INLINE_MAX 1000

struct inj_job {
	struct virqd_job job;
	struct virqd *d;
	struct virq_ctl_pending *reply;
	unsigned int vm_id;
	struct virq_vm *vm;
	int kind; /* 0 msi, 1 gsi, 2 nmi */
	uint64_t addr;
	uint32_t data, gsi, vcpu;
	enum virq_gsi_op op;
	uint64_t count;
	char type[8];
	/* results */
	uint64_t done, delivered, coalesced, ignored;
	int err; /* the error that stopped it, 0 if none */
};

/* Any thread: the VMM's injection calls are thread-safe. */
static void inj_run(struct inj_job *ij)
{
	for (uint64_t i = 0; i < ij->count; i++) {
		int r = ij->kind == 0 ? virq_vm_inject_msi(ij->vm, ij->addr, ij->data) :
			ij->kind == 1 ? virq_vm_inject_gsi(ij->vm, ij->gsi, ij->op) :
					virq_vm_inject_nmi(ij->vm, ij->vcpu);

		if (r == -ESHUTDOWN || r == -EBADFD || r == -EINVAL || r == -EOPNOTSUPP) {
			ij->err = r;
			return;
		}
		ij->done++;
		if (r > 0 || (ij->kind == 2 && r == 0))
			ij->delivered++;
		else if (r == 0)
			ij->coalesced++;
		else
			ij->ignored++;
	}
}

static enum virq_proto_err inj_reply(const struct inj_job *ij, struct virqd_vm *v, cJSON *res,
				     char *msg, size_t msglen)
{
	if (ij->err) {
		char head[64];
		enum virq_proto_err e;
		size_t n;

		/* What was already done is not lost from the answer. */
		snprintf(head, sizeof(head), "vm.inject (after %llu of %llu)",
			 (unsigned long long)ij->done, (unsigned long long)ij->count);
		e = vmm_err(v, ij->err, head, msg, msglen);
		n = strlen(msg);
		snprintf(msg + n, msglen - n, "; %llu delivered, %llu coalesced, %llu ignored",
			 (unsigned long long)ij->delivered, (unsigned long long)ij->coalesced,
			 (unsigned long long)ij->ignored);
		return e;
	}
	cJSON_AddStringToObject(res, "type", ij->type);
	cJSON_AddNumberToObject(res, "requested", (double)ij->count);
	cJSON_AddNumberToObject(res, "delivered", (double)ij->delivered);
	cJSON_AddNumberToObject(res, "coalesced", (double)ij->coalesced);
	cJSON_AddNumberToObject(res, "ignored", (double)ij->ignored);
	return VIRQ_E_OK;
}

static void inj_work(struct virqd_job *j)
{
	inj_run((struct inj_job *)j);
}

static void inj_done(struct virqd_job *j)
{
	struct inj_job *ij = (struct inj_job *)j;
	char idbuf[16], msg[256] = "";
	struct virqd_vm *v;
	enum virq_proto_err e = VIRQ_E_INTERNAL;
	cJSON *res = cJSON_CreateObject();

	snprintf(idbuf, sizeof(idbuf), "%u", ij->vm_id);
	v = virqd_vm_find(ij->d, idbuf);
	if (!res)
		snprintf(msg, sizeof(msg), "out of memory");
	else if (!v)
		snprintf(msg, sizeof(msg), "vm.inject: the VM vanished");
	else
		e = inj_reply(ij, v, res, msg, sizeof(msg));
	if (e != VIRQ_E_OK) {
		cJSON_Delete(res);
		res = NULL;
	}
	virq_ctl_complete(ij->reply, e, res, msg);
	free(ij);
}

static enum virq_proto_err cmd_vm_inject(struct virqd *d, struct virq_ctl_client *c,
					 const struct virq_proto_request *req, cJSON *res,
					 char *msg, size_t msglen)
{
	uint64_t vcpu = 0, vector = 0, addr = 0, data = 0, gsi = 0, count = 1;
	const char *type, *op = "pulse";
	enum virq_gsi_op gop = VIRQ_GSI_PULSE;
	struct inj_job *ij;
	struct virqd_vm *v;
	enum virq_proto_err e;
	int kind, has_addr, has_vec, r;

	ONLY("vm", "type", "vcpu", "vector", "addr", "data", "gsi", "op", "count");
	if (arg_str(req->args, "type", true, &type, msg, msglen) < 0)
		return VIRQ_E_BAD_ARGS;
	kind = !strcmp(type, "msi") ? 0 : !strcmp(type, "gsi") ? 1 : !strcmp(type, "nmi") ? 2 : -1;
	if (kind < 0)
		FAIL(VIRQ_E_BAD_ARGS, "\"type\" must be msi, gsi or nmi");
	if (arg_uint(req->args, "count", false, 1, 1000000, &count, msg, msglen) < 0 ||
	    arg_uint(req->args, "vcpu", false, 0, VIRQ_VM_MAX_VCPUS - 1, &vcpu, msg, msglen) < 0)
		return VIRQ_E_BAD_ARGS;
	if (kind == 0) {
		has_vec = arg_uint(req->args, "vector", false, 16, 255, &vector, msg, msglen);
		if (has_vec < 0)
			return VIRQ_E_BAD_ARGS;
		has_addr =
			arg_uint(req->args, "addr", false, 0, UINT64_MAX >> 1, &addr, msg, msglen);
		if (has_addr < 0 ||
		    arg_uint(req->args, "data", false, 0, UINT32_MAX, &data, msg, msglen) < 0)
			return VIRQ_E_BAD_ARGS;
		if (has_addr == 0 && has_vec == 0)
			FAIL(VIRQ_E_BAD_ARGS, "give either addr/data or vcpu/vector, not both");
		if (has_addr != 0 && has_vec != 0)
			FAIL(VIRQ_E_BAD_ARGS, "msi needs addr/data or a vector (and vcpu)");
		if (has_vec == 0) {
			/* A fixed, edge, physical-destination MSI: address 0xFEE with the
			 * destination APIC ID in bits 19:12, data = vector (SDM Vol. 3A
			 * 11.11.1, 11.11.2). vCPU n has APIC ID n in our guests. */
			addr = 0xfee00000ull | (vcpu << 12);
			data = vector;
		}
	} else if (kind == 1) {
		if (arg_uint(req->args, "gsi", true, 0, 23, &gsi, msg, msglen) < 0)
			return VIRQ_E_BAD_ARGS;
		if (arg_str(req->args, "op", false, &op, msg, msglen) < 0)
			return VIRQ_E_BAD_ARGS;
		if (!strcmp(op, "assert"))
			gop = VIRQ_GSI_ASSERT;
		else if (!strcmp(op, "deassert"))
			gop = VIRQ_GSI_DEASSERT;
		else if (!strcmp(op, "pulse"))
			gop = VIRQ_GSI_PULSE;
		else
			FAIL(VIRQ_E_BAD_ARGS, "\"op\" must be assert, deassert or pulse");
	}
	e = find_vm(d, req->args, &v, msg, msglen);
	if (e)
		return e;
	if (kind != 1 && vcpu >= virq_vm_get_config(v->vm)->nr_vcpus)
		FAIL(VIRQ_E_NOT_FOUND, "VM %s has no vCPU %llu", virq_vm_name(v->vm),
		     (unsigned long long)vcpu);
	/* Which path the vector arrives on, for the cross-check (before injecting, so a
	 * cross-check racing the injections already knows it). */
	if (kind == 0)
		virqd_vecmap_msi(&v->vecmap, addr, (uint32_t)data);
	else if (kind == 1 && gop != VIRQ_GSI_DEASSERT)
		virqd_vecmap_gsi_n(&v->vecmap, (uint32_t)gsi, count);
	else if (kind == 2)
		virqd_vecmap_note(&v->vecmap, 2, VIRQ_XC_PATH_NMI, false);
	ij = calloc(1, sizeof(*ij));
	if (!ij)
		FAIL(VIRQ_E_INTERNAL, "out of memory");
	*ij = (struct inj_job){ .d = d,
				.vm_id = v->id,
				.vm = v->vm,
				.kind = kind,
				.addr = addr,
				.data = (uint32_t)data,
				.gsi = (uint32_t)gsi,
				.op = gop,
				.vcpu = (uint32_t)vcpu,
				.count = count };
	snprintf(ij->type, sizeof(ij->type), "%s", type);
	if (count <= INJECT_INLINE_MAX) {
		inj_run(ij);
		e = inj_reply(ij, v, res, msg, msglen);
		free(ij);
		return e;
	}
	/* Many: on a worker, like a scenario, so the loop keeps serving. */
	if (virqd_jobs_key_busy(&d->jobs, v->id) || d->jobs.running >= d->jobs.max) {
		free(ij);
		d->cnt.scenarios_busy++;
		FAIL(VIRQ_E_BUSY,
		     "more than %d injections run on a worker and VM %s's (or every) worker is "
		     "busy",
		     INJECT_INLINE_MAX, virq_vm_name(v->vm));
	}
	ij->job.key = v->id;
	ij->job.work = inj_work;
	ij->job.done = inj_done;
	ij->reply = virq_ctl_defer(c, req);
	if (!ij->reply) {
		free(ij);
		FAIL(VIRQ_E_INTERNAL, "cannot defer the reply: %s", strerror(errno));
	}
	r = virqd_job_start(&d->jobs, &ij->job);
	if (r) {
		virq_ctl_defer_cancel(ij->reply);
		free(ij);
		FAIL(VIRQ_E_BUSY, "vm.inject: starting the worker: %s", strerror(-r));
	}
	return VIRQ_E_OK;
}

/*
 * Bounds a scenario must meet to run in the daemon: its least run time (gaps and sleeps,
 * which nothing interrupts, not even stopping the VM) and its total repetitions. Beyond
 * them a request would tie a worker, and shutdown, for too long.
 */
#define SCN_MAX_SECONDS 300
#define SCN_MAX_REPETITIONS 10000000ull

static int scenario_bounded(const struct virq_scenario *s, char *msg, size_t msglen)
{
	uint64_t us = 0, reps = 0;

	for (uint32_t i = 0; i < s->nr_actions; i++) {
		const struct virq_action *a = &s->actions[i];
		uint64_t per = a->gap_us + (a->kind == VIRQ_ACT_SLEEP ? a->arg0 : 0);

		reps += a->repeat;
		us += per * a->repeat;
		if (reps > SCN_MAX_REPETITIONS || us > SCN_MAX_SECONDS * 1000000ull) {
			snprintf(
				msg, msglen,
				"scenario too long at timeline[%u]: at most %d s of gaps and sleeps "
				"and %llu repetitions in total",
				i, SCN_MAX_SECONDS, SCN_MAX_REPETITIONS);
			return -E2BIG;
		}
	}
	return 0;
}

/* A vm.scenario running on a worker thread (jobs.h). */
struct scn_job {
	struct virqd_job job;
	struct virqd *d;
	struct virq_ctl_pending *reply;
	unsigned int vm_id;
	struct virq_vm *vm; /* cannot be destroyed while the job runs */
	struct virq_scenario *s;
	struct virq_scn_result *out;
	int r;
};

static void scn_work(struct virqd_job *j)
{
	struct scn_job *sj = (struct scn_job *)j;

	sj->r = virq_scenario_run(sj->vm, sj->s, -1, sj->out);
}

static cJSON *scn_result_json(const struct virq_scn_result *out)
{
	cJSON *res = cJSON_CreateObject(), *rows;

	if (!res)
		return NULL;
	cJSON_AddBoolToObject(res, "pass", out->pass);
	cJSON_AddStringToObject(res, "failure", out->failure);
	cJSON_AddNumberToObject(res, "elapsed_ns", (double)out->elapsed_ns);
	cJSON_AddNumberToObject(res, "exits_total", (double)out->exits_total);
	rows = cJSON_AddArrayToObject(res, "rows");
	for (uint32_t i = 0; i < out->nr_rows && i < VIRQ_SCN_MAX_EXPECT; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "vcpu", out->rows[i].vcpu);
		cJSON_AddNumberToObject(o, "vector", out->rows[i].vector);
		cJSON_AddNumberToObject(o, "expected", (double)out->rows[i].expected);
		cJSON_AddNumberToObject(o, "observed", (double)out->rows[i].observed);
		cJSON_AddItemToArray(rows, o);
	}
	return res;
}

static void scn_job_free(struct scn_job *sj)
{
	virq_scenario_free(sj->s);
	free(sj->out);
	free(sj);
}

/* Loop thread: the worker finished; answer the requester. */
static void scn_done(struct virqd_job *j)
{
	struct scn_job *sj = (struct scn_job *)j;
	char idbuf[16], msg[256] = "";
	struct virqd_vm *v;
	enum virq_proto_err e = VIRQ_E_OK;
	cJSON *res = NULL;

	snprintf(idbuf, sizeof(idbuf), "%u", sj->vm_id);
	v = virqd_vm_find(sj->d, idbuf);
	if (sj->r && v) {
		e = vmm_err(v, sj->r, "vm.scenario", msg, sizeof(msg));
	} else if (sj->r) {
		e = VIRQ_E_INTERNAL;
		snprintf(msg, sizeof(msg), "vm.scenario: %s", strerror(-sj->r));
	} else {
		res = scn_result_json(sj->out);
		if (!res) {
			e = VIRQ_E_INTERNAL;
			snprintf(msg, sizeof(msg), "out of memory");
		}
	}
	virq_ctl_complete(sj->reply, e, res, msg);
	scn_job_free(sj);
}

static enum virq_proto_err cmd_vm_scenario(struct virqd *d, struct virq_ctl_client *c,
					   const struct virq_proto_request *req, char *msg,
					   size_t msglen)
{
	const cJSON *sj =
		req->args ? cJSON_GetObjectItemCaseSensitive(req->args, "scenario") : NULL;
	struct scn_job *job;
	struct virqd_vm *v;
	enum virq_proto_err e;
	char err[256] = "";
	uint32_t nr_vcpus;
	char *text;
	int r;

	ONLY("vm", "scenario");
	if (!cJSON_IsObject(sj) && !(cJSON_IsString(sj) && !strcmp(sj->valuestring, "default")))
		FAIL(VIRQ_E_BAD_ARGS, "\"scenario\" must be a scenario object or \"default\"");
	e = find_vm(d, req->args, &v, msg, msglen);
	if (e)
		return e;
	nr_vcpus = virq_vm_get_config(v->vm)->nr_vcpus;
	/* "default" is the VMM's built-in default scenario (one source of truth with the
	 * VMM's own tests): written for 2 vCPUs, refused below on a smaller VM. */
	if (cJSON_IsString(sj)) {
		size_t len = 0;
		const char *b = virq_scenario_builtin("default", &len);

		if (!b)
			FAIL(VIRQ_E_INTERNAL, "the built-in default scenario is missing");
		text = strndup(b, len);
	} else {
		text = cJSON_PrintUnformatted(sj);
	}
	if (!text)
		FAIL(VIRQ_E_INTERNAL, "out of memory");
	job = calloc(1, sizeof(*job));
	if (!job) {
		free(text);
		FAIL(VIRQ_E_INTERNAL, "out of memory");
	}
	job->s = virq_scenario_parse(text, strlen(text), err, sizeof(err));
	free(text);
	if (!job->s) {
		scn_job_free(job);
		FAIL(VIRQ_E_BAD_ARGS, "scenario: %s", err);
	}
	/* Actions were checked against the scenario's own "vm" block; they must also fit
	 * the VM they run on. */
	if (job->s->config.nr_vcpus > nr_vcpus) {
		snprintf(msg, msglen, "scenario is written for %u vCPUs, VM %s has %u",
			 job->s->config.nr_vcpus, virq_vm_name(v->vm), nr_vcpus);
		scn_job_free(job);
		return VIRQ_E_BAD_ARGS;
	}
	if (scenario_bounded(job->s, msg, msglen)) {
		scn_job_free(job);
		return VIRQ_E_BAD_ARGS;
	}
	if (virq_vm_state(v->vm, NULL, 0) == VIRQ_VM_STOPPED) {
		scn_job_free(job);
		return vmm_err(v, -ESHUTDOWN, "vm.scenario", msg, msglen);
	}
	if (virqd_jobs_key_busy(&d->jobs, v->id) || d->jobs.running >= d->jobs.max) {
		bool same = virqd_jobs_key_busy(&d->jobs, v->id);

		scn_job_free(job);
		d->cnt.scenarios_busy++;
		if (same)
			FAIL(VIRQ_E_BUSY, "a scenario is already running on VM %s",
			     virq_vm_name(v->vm));
		FAIL(VIRQ_E_BUSY, "%u scenarios are running (max_scenarios)", d->jobs.running);
	}
	job->out = calloc(1, sizeof(*job->out));
	if (!job->out) {
		scn_job_free(job);
		FAIL(VIRQ_E_INTERNAL, "out of memory");
	}
	job->d = d;
	job->vm_id = v->id;
	job->vm = v->vm;
	job->job.key = v->id;
	job->job.work = scn_work;
	job->job.done = scn_done;
	job->reply = virq_ctl_defer(c, req);
	if (!job->reply) {
		scn_job_free(job);
		FAIL(VIRQ_E_INTERNAL, "cannot defer the reply: %s", strerror(errno));
	}
	r = virqd_job_start(&d->jobs, &job->job);
	if (r) {
		virq_ctl_defer_cancel(job->reply);
		scn_job_free(job);
		FAIL(r == -EBUSY || r == -EALREADY ? VIRQ_E_BUSY : VIRQ_E_INTERNAL,
		     "vm.scenario: starting the worker: %s", strerror(-r));
	}
	/* The paths of its vectors, for cross-checks during and after the run. */
	virqd_vecmap_scenario(&v->vecmap, job->s);
	return VIRQ_E_OK;
}

static enum virq_proto_err cmd_vm_ledger(struct virqd *d, const struct virq_proto_request *req,
					 cJSON *res, char *msg, size_t msglen)
{
	struct virq_guest_ledger *gl;
	struct virq_vmm_ledger vl;
	uint64_t only = UINT64_MAX;
	struct virqd_vm *v;
	enum virq_proto_err e;
	uint32_t n;
	cJSON *a, *o;

	ONLY("vm", "vcpu");
	if (arg_uint(req->args, "vcpu", false, 0, VIRQ_VM_MAX_VCPUS - 1, &only, msg, msglen) < 0)
		return VIRQ_E_BAD_ARGS;
	e = find_vm(d, req->args, &v, msg, msglen);
	if (e)
		return e;
	n = virq_vm_get_config(v->vm)->nr_vcpus;
	if (only != UINT64_MAX && only >= n)
		FAIL(VIRQ_E_NOT_FOUND, "no vCPU %llu", (unsigned long long)only);
	gl = malloc(sizeof(*gl));
	if (!gl)
		FAIL(VIRQ_E_INTERNAL, "out of memory");
	if (virq_vm_vmm_ledger(v->vm, &vl) == 0) {
		o = cJSON_AddObjectToObject(res, "vmm");
		for (int p = 0; p < VIRQ_PATH__COUNT; p++) {
			cJSON *po;

			if (!vl.path_injected[p] && !vl.path_coalesced[p] && !vl.path_failed[p])
				continue;
			po = cJSON_AddObjectToObject(o, virq_path_name(p));
			cJSON_AddNumberToObject(po, "injected", (double)vl.path_injected[p]);
			cJSON_AddNumberToObject(po, "coalesced", (double)vl.path_coalesced[p]);
			cJSON_AddNumberToObject(po, "failed", (double)vl.path_failed[p]);
		}
		cJSON_AddNumberToObject(res, "irqfd_signals", (double)vl.irqfd_signals);
		o = cJSON_AddObjectToObject(res, "doorbell");
		cJSON_AddNumberToObject(o, "roundtrips", (double)vl.doorbell_roundtrips);
		cJSON_AddNumberToObject(o, "ns_sum", (double)vl.doorbell_ns_sum);
		cJSON_AddNumberToObject(o, "posts", (double)vl.doorbell_posts);
	}
	/* Whose view the guest ledger is: the built-in firmware's own counts, our LAPIC's
	 * INTA/EOI counts for a guest kernel in user mode, else none (BPF stands in). */
	cJSON_AddStringToObject(res, "guest_ledger",
				!strcmp(virq_vm_boot_kind(v->vm), "firmware") ? "firmware" :
				virq_vm_get_config(v->vm)->irqchip == VIRQ_IRQCHIP_USER ? "lapic" :
											  "none");
	a = cJSON_AddArrayToObject(res, "vcpus");
	for (uint32_t c = 0; c < n; c++) {
		cJSON *vecs;

		if (only != UINT64_MAX && c != only)
			continue;
		if (virq_vm_guest_ledger(v->vm, c, gl))
			continue;
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "vcpu", c);
		cJSON_AddNumberToObject(o, "apic_id", gl->apic_id);
		cJSON_AddNumberToObject(o, "interrupts", (double)gl->seq);
		cJSON_AddNumberToObject(o, "eoi_written", (double)gl->eoi_written);
		cJSON_AddNumberToObject(o, "eoi_skipped_pv", (double)gl->eoi_skipped_pv);
		cJSON_AddNumberToObject(o, "nested", (double)gl->nested);
		vecs = cJSON_AddArrayToObject(o, "vectors");
		for (int vec = 0; vec < VIRQ_NR_VECTORS; vec++) {
			struct virq_vmm_vec vv = { 0 };
			cJSON *r;

			virq_vm_vmm_vec(v->vm, c, (uint8_t)vec, &vv);
			if (!gl->vec[vec].count && !vv.injected)
				continue;
			r = cJSON_CreateObject();
			cJSON_AddNumberToObject(r, "vector", vec);
			cJSON_AddNumberToObject(r, "received", (double)gl->vec[vec].count);
			cJSON_AddNumberToObject(r, "injected", (double)vv.injected);
			cJSON_AddNumberToObject(r, "coalesced", (double)vv.coalesced);
			cJSON_AddItemToArray(vecs, r);
		}
		cJSON_AddItemToArray(a, o);
	}
	free(gl);
	return VIRQ_E_OK;
}

/* user mode: what our irqchip did on the vCPU's behalf, the reasons behind its exits. */
static void add_user_stats(struct virqd_vm *v, uint32_t c, cJSON *o)
{
	struct virq_vcpu_user_stats us;
	cJSON *u;

	if (virq_vm_user_stats(v->vm, c, &us))
		return;
	u = cJSON_AddObjectToObject(o, "user");
#define US(f) cJSON_AddNumberToObject(u, #f, (double)us.f)
	US(injections);
	US(extint_injections);
	US(nmi_injections);
	US(window_exits);
	US(if_blocked);
	US(halts);
	US(halt_waits);
	US(halt_timer_wakes);
	US(eoi_exits);
	US(pv_eoi_set);
	US(pv_eoi_taken);
	US(pv_eoi_revoked);
	US(pv_eoi_rearmed);
	US(pv_eoi_msr);
	US(apic_mmio);
	US(ioapic_mmio);
	US(other_mmio);
	US(apic_msr);
	US(pir_merged);
	US(irr_coalesced);
	US(exceptions);
#undef US
}

static enum virq_proto_err cmd_vm_stats(struct virqd *d, const struct virq_proto_request *req,
					cJSON *res, char *msg, size_t msglen)
{
	enum { MAX_STATS = 4096 };
	struct virq_kvm_stat *ks;
	struct virqd_vm *v;
	enum virq_proto_err e;
	uint32_t n;
	int nk;
	cJSON *a, *o;

	ONLY("vm");
	e = find_vm(d, req->args, &v, msg, msglen);
	if (e)
		return e;
	ks = calloc(MAX_STATS, sizeof(*ks));
	if (!ks)
		FAIL(VIRQ_E_INTERNAL, "out of memory");
	nk = virq_vm_kvm_stats(v->vm, ks, MAX_STATS);
	a = cJSON_AddArrayToObject(res, "kvm");
	for (int i = 0; i < nk && i < MAX_STATS; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", ks[i].name);
		cJSON_AddNumberToObject(o, "vcpu", ks[i].vcpu);
		cJSON_AddNumberToObject(o, "value", (double)ks[i].value);
		cJSON_AddItemToArray(a, o);
	}
	free(ks);
	if (nk < 0)
		cJSON_AddStringToObject(res, "kvm_error", strerror(-nk));
	n = virq_vm_get_config(v->vm)->nr_vcpus;
	a = cJSON_AddArrayToObject(res, "exits");
	for (uint32_t c = 0; c < n; c++) {
		struct virq_vcpu_exits ex;
		cJSON *by;

		if (virq_vm_exits(v->vm, c, &ex))
			continue;
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "vcpu", c);
		cJSON_AddNumberToObject(o, "runs", (double)ex.runs);
		cJSON_AddNumberToObject(o, "eintr", (double)ex.eintr);
		by = cJSON_AddObjectToObject(o, "by_reason");
		for (int r = 0; r < VIRQ_EXIT_REASONS; r++) {
			char k[16];

			if (!ex.by_reason[r])
				continue;
			snprintf(k, sizeof(k), "%d", r);
			cJSON_AddNumberToObject(by, k, (double)ex.by_reason[r]);
		}
		add_user_stats(v, c, o);
		cJSON_AddItemToArray(a, o);
	}
	virqd_vm_sources_json(d, v, res);
	return VIRQ_E_OK;
}

/* ---- host and tracing ------------------------------------------------------------------ */

static int namer_vm(void *ctx, pid_t pid, char *name, size_t len)
{
	if (pid != getpid())
		return -ENOENT;
	snprintf(name, len, "virqd");
	return 0;
}

/*
 * host.vms scans all of /proc: a client pipelining thousands of them must not cost a scan
 * each (issue 17: 5,000 in one write stalled the loop ~10 s). Replies within
 * HOST_VMS_SNAPSHOT_NS of a scan are served from a copy of it.
 */
#define HOST_VMS_SNAPSHOT_NS (500ull * 1000000ull)
static struct {
	cJSON *res;
	uint64_t at_ns;
} host_vms_snap;

void virqd_host_vms_forget(void)
{
	cJSON_Delete(host_vms_snap.res);
	host_vms_snap.res = NULL;
}

static enum virq_proto_err host_vms_scan(struct virqd *d, cJSON *res, char *msg, size_t msglen);

static enum virq_proto_err cmd_host_vms(struct virqd *d, cJSON **res, char *msg, size_t msglen)
{
	uint64_t now = virqd_now_ns();
	enum virq_proto_err e;
	cJSON *copy;

	if (!host_vms_snap.res || now - host_vms_snap.at_ns >= HOST_VMS_SNAPSHOT_NS) {
		e = host_vms_scan(d, *res, msg, msglen);
		if (e)
			return e;
		virqd_host_vms_forget();
		host_vms_snap.res = cJSON_Duplicate(*res, true);
		host_vms_snap.at_ns = now;
		return VIRQ_E_OK;
	}
	copy = cJSON_Duplicate(host_vms_snap.res, true);
	if (!copy)
		FAIL(VIRQ_E_INTERNAL, "out of memory");
	cJSON_Delete(*res);
	*res = copy;
	return VIRQ_E_OK;
}

static enum virq_proto_err host_vms_scan(struct virqd *d, cJSON *res, char *msg, size_t msglen)
{
	struct virq_disc_namer namer = { .name_vm = namer_vm, .ctx = d };
	struct virq_disc_list l = { 0 };
	unsigned int skipped = 0;
	cJSON *a;
	int r;

	r = virq_discover(NULL, &namer, &l, &skipped);
	if (r)
		FAIL(VIRQ_E_INTERNAL, "scanning /proc: %s", strerror(-r));
	virqd_observed_refresh(d, true);
	a = cJSON_AddArrayToObject(res, "vms");
	for (size_t i = 0; i < l.n; i++) {
		const struct virq_disc_vm *vm = &l.vms[i];
		cJSON *o = cJSON_CreateObject(), *vc;

		const struct virqd_obs_vm *ob = NULL;

		for (unsigned int k = 0; k < d->nr_obs; k++)
			if (d->obs[k].pid == vm->pid && d->obs[k].state != VIRQD_OBS_EXITED)
				ob = &d->obs[k];
		cJSON_AddNumberToObject(o, "pid", vm->pid);
		cJSON_AddStringToObject(o, "state", vm->pid == getpid() ? "ours" : "running");
		if (ob) {
			cJSON_AddStringToObject(o, "kvm_stats", virqd_obs_stats_how(ob));
			cJSON_AddStringToObject(o, "kvm_stats_reason", ob->stats_why);
			cJSON_AddStringToObject(o, "kvm_debugfs",
						ob->dbg_ok ? "vm totals" : ob->dbg_why);
		}
		cJSON_AddStringToObject(o, "kind", virq_disc_kind_name(vm->kind));
		cJSON_AddStringToObject(o, "name", vm->name);
		cJSON_AddNumberToObject(o, "vm_fds", vm->nr_vm_fds);
		cJSON_AddNumberToObject(o, "vcpus", vm->nr_vcpus);
		cJSON_AddStringToObject(o, "cmdline", vm->cmdline);
		vc = cJSON_AddArrayToObject(o, "vcpu_tids");
		for (unsigned int k = 0; k < vm->nr_vcpus; k++) {
			pid_t tid = vm->vcpus[k].tid;

			/* threads the VMM did not name: as the tracer saw them run their vCPU */
			if (!tid && ob && vm->vcpus[k].index < ob->nr_vcpu_tids)
				tid = ob->vcpu_tids[vm->vcpus[k].index];
			cJSON_AddItemToArray(vc, cJSON_CreateNumber(tid));
		}
		cJSON_AddItemToArray(a, o);
	}
	/* Exited observed VMs, kept with their last numbers (observed.c). */
	for (unsigned int i = 0; i < d->nr_obs; i++) {
		const struct virqd_obs_vm *o = &d->obs[i];
		cJSON *x;

		if (o->state != VIRQD_OBS_EXITED)
			continue;
		x = cJSON_CreateObject();
		cJSON_AddNumberToObject(x, "pid", o->pid);
		cJSON_AddStringToObject(x, "state", "exited");
		cJSON_AddStringToObject(x, "kind", o->kind ? o->kind : "other");
		cJSON_AddStringToObject(x, "name", o->name);
		cJSON_AddNumberToObject(x, "vm_fds", 0);
		cJSON_AddNumberToObject(x, "vcpus", o->nr_vcpus);
		cJSON_AddNumberToObject(x, "exited_s_ago", virqd_obs_exited_ago(o));
		cJSON_AddItemToArray(a, x);
	}
	cJSON_AddNumberToObject(res, "skipped", skipped);
	cJSON_AddBoolToObject(res, "traced", d->bpf_ok);
	virq_disc_list_free(&l);
	return VIRQ_E_OK;
}

static int point_cb(const struct virq_trace_point *p, void *ctx)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", p->name);
	cJSON_AddStringToObject(o, "state", virq_trace_point_state_name(p->state));
	cJSON_AddStringToObject(o, "variant", virq_trace_variant_name(p->variant));
	cJSON_AddNumberToObject(o, "events", (double)p->events);
	cJSON_AddStringToObject(o, "error", p->error);
	cJSON_AddItemToArray(ctx, o);
	return 0;
}

static enum virq_proto_err need_bpf(struct virqd *d, char *msg, size_t msglen)
{
	if (!d->trace)
		FAIL(VIRQ_E_BPF_UNAVAILABLE, "the BPF tracer is not loaded: %s", d->bpf_why);
	return VIRQ_E_OK;
}

static enum virq_proto_err cmd_trace_points(struct virqd *d, cJSON *res, char *msg, size_t msglen)
{
	uint64_t lost[VIRQ_BPF_LOST__COUNT];
	cJSON *o;

	if (need_bpf(d, msg, msglen))
		return VIRQ_E_BPF_UNAVAILABLE;
	virq_trace_points(d->trace, point_cb, cJSON_AddArrayToObject(res, "points"));
	cJSON_AddNumberToObject(res, "ring_drops", (double)virq_trace_drops(d->trace));
	cJSON_AddNumberToObject(res, "filtered",
				(double)virq_trace_stat(d->trace, VIRQ_TSTAT_FILTERED));
	/* what the programs saw but could not record */
	virqd_trace_lost(d, lost);
	o = cJSON_AddObjectToObject(res, "lost");
	for (int w = 0; w < VIRQ_BPF_LOST__COUNT; w++)
		cJSON_AddNumberToObject(o, virq_bpf_lost_name((enum virq_bpf_lost)w),
					(double)lost[w]);
	return VIRQ_E_OK;
}

static enum virq_proto_err cmd_trace_subscribe(struct virqd *d, struct virq_ctl_client *c,
					       cJSON *res, char *msg, size_t msglen)
{
	if (need_bpf(d, msg, msglen))
		return VIRQ_E_BPF_UNAVAILABLE;
	if (virq_trace_ring_fd(d->trace) < 0)
		FAIL(VIRQ_E_BPF_UNAVAILABLE, "the tracer runs without its event ring buffer");
	if (virq_ctl_client_subscribe(c))
		FAIL(VIRQ_E_BUSY, "this connection is already subscribed");
	virqd_trace_sync(d); /* the ring starts recording now */
	cJSON_AddBoolToObject(res, "streaming", true);
	cJSON_AddStringToObject(res, "event", "trace");
	return VIRQ_E_OK;
}

static enum virq_proto_err cmd_metrics_snapshot(struct virqd *d, cJSON **res, char *msg,
						size_t msglen)
{
	cJSON *doc;

	if (!d->snap_json)
		FAIL(VIRQ_E_BUSY, "no sample taken yet");
	doc = cJSON_Parse(d->snap_json);
	if (!doc)
		FAIL(VIRQ_E_INTERNAL, "the stats document does not parse");
	cJSON_Delete(*res);
	*res = doc;
	return VIRQ_E_OK;
}

enum virq_proto_err virqd_handle(void *ctx, struct virq_ctl_client *c,
				 const struct virq_proto_request *req, cJSON **result, char *msg,
				 size_t msglen)
{
	struct virqd *d = ctx;
	cJSON *res = cJSON_CreateObject();
	enum virq_proto_err e;

	if (!res)
		FAIL(VIRQ_E_INTERNAL, "out of memory");
	*result = res;
	/* Frames queued behind a deferred reply are handled while shutdown drains the
	 * workers: nothing may start then. */
	if (d->stop && virq_proto_cmd_info(req->cmd)->mutating)
		FAIL(VIRQ_E_BUSY, "virqd is shutting down");
	switch (req->cmd) {
	case VIRQ_CMD_VERSION:
		NO_ARGS();
		return cmd_version(d, res);
	case VIRQ_CMD_CAPABILITIES:
		NO_ARGS();
		return cmd_capabilities(d, res);
	case VIRQ_CMD_STATUS:
		NO_ARGS();
		return cmd_status(d, c, res);
	case VIRQ_CMD_VM_LIST:
		NO_ARGS();
		return cmd_vm_list(d, res);
	case VIRQ_CMD_VM_CREATE:
		return cmd_vm_create(d, req, res, msg, msglen);
	case VIRQ_CMD_VM_DESTROY:
	case VIRQ_CMD_VM_PAUSE:
	case VIRQ_CMD_VM_RESUME:
		return cmd_vm_simple(d, req, res, msg, msglen);
	case VIRQ_CMD_VM_INJECT:
		return cmd_vm_inject(d, c, req, res, msg, msglen);
	case VIRQ_CMD_VM_SCENARIO:
		return cmd_vm_scenario(d, c, req, msg, msglen);
	case VIRQ_CMD_VM_LEDGER:
		return cmd_vm_ledger(d, req, res, msg, msglen);
	case VIRQ_CMD_VM_STATS:
		return cmd_vm_stats(d, req, res, msg, msglen);
	case VIRQ_CMD_VM_CROSSCHECK:
		ONLY("vm");
		e = virqd_vm_crosscheck(d, req, result, msg, msglen);
		return e;
	case VIRQ_CMD_HOST_VMS:
		NO_ARGS();
		return cmd_host_vms(d, result, msg, msglen);
	case VIRQ_CMD_TRACE_POINTS:
		NO_ARGS();
		return cmd_trace_points(d, res, msg, msglen);
	case VIRQ_CMD_TRACE_SUBSCRIBE:
		NO_ARGS();
		return cmd_trace_subscribe(d, c, res, msg, msglen);
	case VIRQ_CMD_METRICS_SNAPSHOT:
		NO_ARGS();
		return cmd_metrics_snapshot(d, result, msg, msglen);
	case VIRQ_CMD_VM_CONSOLE: {
		struct virqd_vm *v;
		uint64_t from = 0, max = virqd_console_max();

		ONLY("vm", "from", "max");
		if (arg_uint(req->args, "from", false, 0, (1ull << 53) - 1, &from, msg, msglen) <
			    0 ||
		    arg_uint(req->args, "max", false, 1, virqd_console_max(), &max, msg, msglen) <
			    0)
			return VIRQ_E_BAD_ARGS;
		e = find_vm(d, req->args, &v, msg, msglen);
		if (e)
			return e;
		return virqd_vm_console(v, from, max, res, msg, msglen);
	}
	case VIRQ_CMD__COUNT:
		break;
	}
	FAIL(VIRQ_E_INTERNAL, "command %d has no handler", (int)req->cmd);
}
