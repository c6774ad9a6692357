#!/usr/bin/env bash
# A real Prometheus server scrapes a virq exporter every second, and every expression of
# the Grafana dashboard (variables substituted) must return data through Prometheus's HTTP
# API. Two targets, one Prometheus each. Prints TAP.
#
#  1. synthetic: bench/metrics_serve (the real exporter, a populated synthetic snapshot):
#     proves every dashboard expression returns data when the data exists.
#  2. virqd: the real daemon with its metrics listener on a free 127.0.0.1 port. promtool
#     checks its /metrics; the expressions whose data exists without VMs (build info,
#     snapshot age, BPF attach states/events, ring drops) must return data. The ones that
#     need a VM need /dev/kvm: where it exists, a VM is created and driven through virqctl
#     first and they must return data too; where it does not, they are skipped with that
#     reason. The BPF ones are skipped (with virqd's reason) when virqd runs without BPF.
#
# VIRQ_METRICS_TARGET overrides the synthetic target ("$PORT" is replaced by a free port).
# VIRQ_PROM_VIRQD=HOST:PORT: part 2 scrapes that virqd instead of starting one, and every
# expression must return data (tests/nested/test_nested_prometheus.sh: virqd with real VMs
# and BPF inside the nested guest); VIRQ_PROM_SKIP_SYNTHETIC=1 leaves out part 1.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
DASH=dashboards/virq.json
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; [ $# -gt 1 ] && printf '# %s\n' "${@:2}"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

for tool in prometheus promtool curl jq python3; do
	command -v $tool >/dev/null || { echo "1..0 # SKIP $tool not installed (Debian package ${tool/promtool/prometheus})"; exit 0; }
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tmp=$(mktemp -d)
tpid= ppid_=
stop_pid() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; }
cleanup() {
	stop_pid "$ppid_"
	stop_pid "$tpid"
	rm -rf "$tmp"
}
trap cleanup EXIT

# Expressions of the dashboard; the ones with $vm select per-VM series.
mapfile -t exprs < <(jq -r '.panels[] | (.targets // [])[] | .expr' "$DASH")
[ ${#exprs[@]} -gt 10 ] && ok "dashboard has ${#exprs[@]} expressions" || nok "dashboard expressions found"

# scrape TAG PORT: runs Prometheus against 127.0.0.1:PORT until it has >= 4 samples.
# Sets $api. Returns 1 (after a not-ok) when Prometheus never scraped the target.
scrape() {
	local tag=$1 tport=$2 pport up=0
	pport=$(free_port)
	cat >"$tmp/prometheus-$tag.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: virqd
    static_configs:
      - targets: ["127.0.0.1:$tport"]
YML
	prometheus --config.file="$tmp/prometheus-$tag.yml" --storage.tsdb.path="$tmp/tsdb-$tag" \
		--web.listen-address="127.0.0.1:$pport" --log.level=warn >"$tmp/prom-$tag.log" 2>&1 &
	ppid_=$!
	api="http://127.0.0.1:$pport/api/v1"
	for _ in $(seq 100); do
		[ "$(query 'up{job="virqd"}' | jq -r '.data.result[0].value[1]' 2>/dev/null)" = 1 ] && { up=1; break; }
		sleep 0.2
	done
	if [ $up = 1 ]; then ok "$tag: prometheus scrapes the target (up == 1)"; else
		nok "$tag: prometheus scrapes the target" "$(tail -5 "$tmp/prom-$tag.log")"; return 1; fi
	# rate() over $__rate_interval (4 scrape intervals here) needs two samples in it.
	sleep 6
	local samples
	samples=$(query 'count_over_time(virq_build_info[10s])' | jq -r '.data.result[0].value[1]')
	if [ "${samples:-0}" -ge 4 ] 2>/dev/null; then ok "$tag: scraped every second ($samples samples in 10s)"; else
		nok "$tag: scraped every second" "samples=$samples"; fi
}
query() { curl -sf --max-time 5 "$api/query" --data-urlencode "query=$1"; }

# has_data TAG EXPR: the dashboard expression, variables = All, returns series.
has_data() {
	local tag=$1 e=$2 q r st len
	q=${e//\$__rate_interval/4s}
	q=${q//\$vm/.*}
	q=${q//\$vcpu/.*}
	r=$(query "$q")
	st=$(jq -r '.status' <<<"$r" 2>/dev/null)
	len=$(jq -r '.data.result | length' <<<"$r" 2>/dev/null)
	if [ "$st" = success ] && [ "${len:-0}" -gt 0 ]; then ok "$tag: returns data ($len series): $e"
	else nok "$tag: returns data: $e" "query: $q" "answer: ${r:0:300}"; fi
}

# variables TAG [SKIP-REASON]: template variables' label_values() must list something.
variables() {
	local tag=$1 why=${2:-} v m l vals
	for v in 'virq_vm_info:vm' 'virq_exits_total:vcpu'; do
		m=${v%%:*} l=${v##*:}
		if [ -n "$why" ]; then skip "$tag: variable $l: label_values($m, $l)" "$why"; continue; fi
		vals=$(curl -sf "$api/label/$l/values" --data-urlencode "match[]=$m" -G | jq -r '.data | length')
		if [ "${vals:-0}" -gt 0 ]; then ok "$tag: variable $l: label_values($m, $l) has $vals values"; else
			nok "$tag: variable $l: label_values($m, $l) is empty"; fi
	done
}

# ---- 1. synthetic snapshot ------------------------------------------------------------
if [ -z "${VIRQ_PROM_SKIP_SYNTHETIC:-}" ]; then
TARGET=${VIRQ_METRICS_TARGET:-"$BUILD/bench/metrics_serve --addr 127.0.0.1 --port \$PORT --vms 6 --vcpus 4"}
tport=$(free_port)
${TARGET//\$PORT/$tport} >"$tmp/target.log" 2>&1 &
tpid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$tport/metrics" -o "$tmp/metrics.txt" && break; sleep 0.1; done
if [ -s "$tmp/metrics.txt" ]; then ok "synthetic: target serves /metrics on 127.0.0.1:$tport"; else
	nok "synthetic: target serves /metrics" "$(cat "$tmp/target.log")"; echo "1..$n"; exit 1; fi
if promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.log" 2>&1; then ok "synthetic: promtool check metrics accepts the scrape"
else nok "synthetic: promtool check metrics accepts the scrape" "$(head -20 "$tmp/promtool.log")"; fi
if scrape synthetic "$tport"; then
	variables synthetic
	for e in "${exprs[@]}"; do has_data synthetic "$e"; done
fi
stop_pid "$ppid_"; ppid_=
stop_pid "$tpid"; tpid=
fi

# ---- 2. the real virqd ----------------------------------------------------------------
vm_why= bpf_why=
if [ -n "${VIRQ_PROM_VIRQD:-}" ]; then
	tport=${VIRQ_PROM_VIRQD##*:}
	[ "${VIRQ_PROM_VIRQD%:*}" = 127.0.0.1 ] || { nok "VIRQ_PROM_VIRQD must be 127.0.0.1:PORT"; echo "1..$n"; exit 1; }
	curl -sf --max-time 10 "http://127.0.0.1:$tport/metrics" -o "$tmp/virqd-metrics.txt"
	if [ -s "$tmp/virqd-metrics.txt" ]; then ok "virqd: serves /metrics on 127.0.0.1:$tport (external)"; else
		nok "virqd: serves /metrics on 127.0.0.1:$tport (external)"; echo "1..$n"; exit 1; fi
else
VIRQD=$BUILD/bin/virqd VIRQCTL=$BUILD/bin/virqctl
if [ ! -x "$VIRQD" ] || [ ! -x "$VIRQCTL" ]; then
	nok "virqd: $VIRQD and $VIRQCTL are built"; echo "1..$n"; exit 1
fi
sock=$tmp/virqd.sock
: >"$tmp/virqd.conf"
tport=$(free_port)
"$VIRQD" --config "$tmp/virqd.conf" --socket "$sock" --metrics "127.0.0.1:$tport" >"$tmp/virqd.log" 2>&1 &
tpid=$!
for _ in $(seq 100); do [ -S "$sock" ] && curl -sf "http://127.0.0.1:$tport/metrics" -o "$tmp/virqd-metrics.txt" && break; sleep 0.1; done
if [ -s "$tmp/virqd-metrics.txt" ]; then ok "virqd: serves /metrics on 127.0.0.1:$tport"; else
	nok "virqd: serves /metrics" "$(cat "$tmp/virqd.log")"; echo "1..$n"; exit 1; fi
ctl() { "$VIRQCTL" --socket "$sock" --json "$@"; }
status=$(ctl status)
[ "$(jq -r '.bpf.available' <<<"$status")" = true ] || bpf_why="virqd runs without BPF here: $(jq -r '.bpf.reason' <<<"$status")"
if [ "$(jq -r '.kvm.available' <<<"$status")" = true ]; then
	# VMs with traffic on several paths, so that every per-VM series exists: a kernel-mode
	# one, and a user-mode one, whose vCPUs exit to the VMM (a kernel-mode VM's may not
	# exit to userspace at all: HLT and the LAPIC stay in KVM).
	for v in prom-vm:kernel prom-user:user; do
		if ctl vm create "${v%%:*}" --vcpus 2 --irqchip "${v##*:}" >"$tmp/create.json" 2>&1 &&
			ctl vm scenario "${v%%:*}" default >"$tmp/scenario.json" 2>&1; then
			ok "virqd: created VM ${v%%:*} (${v##*:}) and ran the default scenario through virqctl"
		else
			nok "virqd: created VM ${v%%:*} (${v##*:}) and ran the default scenario" "$(cat "$tmp/create.json" "$tmp/scenario.json")"
		fi
	done
	sleep 1.5 # one sampling tick publishes it
	curl -sf "http://127.0.0.1:$tport/metrics" -o "$tmp/virqd-metrics.txt"
else
	vm_why="needs a VM, and virqd has no /dev/kvm here ($(jq -r '.kvm.reason' <<<"$status"))"
fi
fi
if promtool check metrics <"$tmp/virqd-metrics.txt" >"$tmp/promtool-virqd.log" 2>&1; then ok "virqd: promtool check metrics accepts /metrics"
else nok "virqd: promtool check metrics accepts /metrics" "$(head -20 "$tmp/promtool-virqd.log")"; fi
if grep -q '^virq_build_info{' "$tmp/virqd-metrics.txt"; then ok "virqd: exports virq_build_info"; else nok "virqd: exports virq_build_info"; fi
if scrape virqd "$tport"; then
	variables virqd "$vm_why"
	for e in "${exprs[@]}"; do
		if [[ $e == *'$vm'* ]] && [ -n "$vm_why" ]; then
			skip "virqd: returns data: $e" "$vm_why"
		elif [[ $e == *virq_bpf_* ]] && [ -n "$bpf_why" ]; then
			skip "virqd: returns data: $e" "$bpf_why"
		else
			has_data virqd "$e"
		fi
	done
fi
echo "1..$n"
exit $failed
