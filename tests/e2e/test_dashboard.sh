#!/usr/bin/env bash
# Grafana dashboard conventions (dashboards/virq.json) and the json_exporter module
# (dashboards/json_exporter.yml) against real /api/v1/stats output. Prints TAP.
#
# VIRQ_METRICS_TARGET: command that serves /metrics and /api/v1/stats on 127.0.0.1:$PORT
# (default: the synthetic server bench/metrics_serve; the real virqd once it hosts the
# exporter). "$PORT" in it is replaced by a free port.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
DASH=dashboards/virq.json
JEX=dashboards/json_exporter.yml
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; [ $# -gt 1 ] && printf '# %s\n' "${@:2}"; }
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else nok "$name"; fi; }

command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed (Debian package jq)"; exit 0; }

check "dashboard is valid JSON" jq -e . "$DASH"
check "dashboard uid is fixed" jq -e '.uid == "virq-overview"' "$DASH"
check "dashboard id is null" jq -e 'has("id") and .id == null' "$DASH"
check "dashboard has no __inputs block" jq -e 'has("__inputs") | not' "$DASH"
check "datasource variable is a prometheus datasource picker" jq -e \
	'[.templating.list[] | select(.name == "datasource" and .type == "datasource" and .query == "prometheus")] | length == 1' "$DASH"
check "vm and vcpu variables use label_values" jq -e \
	'[.templating.list[] | select((.name == "vm" or .name == "vcpu") and (.query.query | startswith("label_values(")))] | length == 2' "$DASH"

bad=$(jq -r '[.panels[] | select(.datasource.uid != "${datasource}") | .title] | join(", ")' "$DASH")
check "every panel uses the datasource variable${bad:+ (not: $bad)}" test -z "$bad"
bad=$(jq -r '[.panels[] | .title as $t | (.targets // [])[] | select(.datasource.uid != "${datasource}") | $t] | join(", ")' "$DASH")
check "every target uses the datasource variable${bad:+ (not: $bad)}" test -z "$bad"
bad=$(jq -r '[.panels[] | (.targets // [])[] | .expr | select(test("rate\\(") and (test("\\[\\$__rate_interval\\]") | not))] | join("; ")' "$DASH")
check "every rate() uses \$__rate_interval${bad:+ (not: $bad)}" test -z "$bad"
bad=$(jq -r '[.panels[] | (.targets // [])[] | .expr | [scan("\\[[^]]*\\]")] | .[] | select(. != "[$__rate_interval]")] | join(" ")' "$DASH")
check "no fixed range selector in any expression${bad:+ ($bad)}" test -z "$bad"
for r in "Delivery rates by path" "Cross-check verdicts" "Exits by reason" "Delivery latency" "BPF health"; do
	check "row '$r' exists" jq -e --arg r "$r" '[.panels[] | select(.type == "row" and .title == $r)] | length == 1' "$DASH"
done
check "a heatmap panel reads the latency buckets" jq -e \
	'[.panels[] | select(.type == "heatmap") | .targets[].expr | select(test("virq_delivery_latency_seconds_bucket"))] | length >= 1' "$DASH"
check "panel ids are unique" jq -e '[.panels[].id] | length == (unique | length)' "$DASH"

# --- json_exporter module against the live endpoints --------------------------------
# 1. the synthetic server (every record kind populated), 2. the real virqd. virqd without
# /dev/kvm has no VM: paths under .vms select nothing there and are skipped with that
# reason; with /dev/kvm a VM is created through virqctl first and they must resolve.
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

# JSONPath (the subset json_exporter configs use: .key, [*]) -> jq.
jp2jq() { local p=${1#\{}; p=${p%\}}; echo "${p//\[\*\]/[]}"; }
# jex_check TAG STATS.JSON [REASON-TO-SKIP-VM-PATHS [REASON-TO-SKIP-BPF-POINT-PATHS]]
jex_check() {
	local tag=$1 file=$2 vm_why=${3:-} bpf_why=${4:-} metric='' top='' cnt key rel line
	local skipping=
	while IFS= read -r line; do
		if [[ $line =~ ^[[:space:]]*-[[:space:]]name:[[:space:]]*([A-Za-z_:][A-Za-z0-9_:]*) ]]; then
			metric=${BASH_REMATCH[1]} top='' skipping=
		elif [[ $line =~ ^\ {8}path:[[:space:]]*\'(.*)\' ]]; then  # a metric's own path
			top=$(jp2jq "${BASH_REMATCH[1]}")
			if [[ -n $vm_why && $top == .vms* ]]; then
				skipping=$vm_why
			elif [[ -n $bpf_why && $top == .bpf.points* ]]; then
				skipping=$bpf_why
			fi
			if [ -n "$skipping" ]; then
				skip "$tag: $metric: path $top selects records" "$skipping"
				continue
			fi
			cnt=$(jq "[$top] | length" "$file" 2>&1)
			check "$tag: $metric: path $top selects records" test "$cnt" -gt 0
		elif [[ -n $top && $line =~ ^[[:space:]]*([a-z_]+):[[:space:]]*\'(\{.*\})\' ]]; then
			key=${BASH_REMATCH[1]} rel=$(jp2jq "${BASH_REMATCH[2]}")
			if [ -n "$skipping" ]; then
				skip "$tag: $metric: $key = $rel resolves on every record" "$skipping"
				continue
			fi
			check "$tag: $metric: $key = $rel resolves on every record" \
				jq -e "[$top | $rel] | length > 0 and all(. != null)" "$file"
		fi
	done <"$JEX"
}

TARGET=${VIRQ_METRICS_TARGET:-"$BUILD/bench/metrics_serve --addr 127.0.0.1 --port \$PORT --vms 4 --vcpus 2 --all"}
port=$(free_port)
cmd=${TARGET//\$PORT/$port}
$cmd >"$tmp/target.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/api/v1/stats" -o "$tmp/stats.json" && break; sleep 0.1; done
if ! jq -e . "$tmp/stats.json" >/dev/null 2>&1; then
	nok "synthetic: target serves /api/v1/stats" "$(cat "$tmp/target.log")"
	echo "1..$n"; exit 1
fi
ok "synthetic: target serves /api/v1/stats"
jex_check synthetic "$tmp/stats.json"
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
check "json_exporter module is named virq" grep -qE '^  virq:$' "$JEX"

VIRQD=$BUILD/bin/virqd VIRQCTL=$BUILD/bin/virqctl
if [ -x "$VIRQD" ] && [ -x "$VIRQCTL" ]; then
	sock=$tmp/virqd.sock
	: >"$tmp/virqd.conf"
	port=$(free_port)
	"$VIRQD" --config "$tmp/virqd.conf" --socket "$sock" --metrics "127.0.0.1:$port" >"$tmp/virqd.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && curl -sf "http://127.0.0.1:$port/api/v1/stats" -o "$tmp/virqd.json" && break; sleep 0.1; done
	if jq -e '.schema == "virq.stats/1"' "$tmp/virqd.json" >/dev/null 2>&1; then
		ok "virqd: serves /api/v1/stats (schema virq.stats/1)"
		status=$("$VIRQCTL" --socket "$sock" --json status)
		vm_why=
		if [ "$(jq -r '.kvm.available' <<<"$status")" = true ]; then
			if "$VIRQCTL" --socket "$sock" vm create jex-vm --vcpus 2 >/dev/null &&
				"$VIRQCTL" --socket "$sock" vm scenario jex-vm default >/dev/null; then
				ok "virqd: created VM jex-vm and ran the default scenario through virqctl"
			else
				nok "virqd: created VM jex-vm and ran the default scenario"
			fi
			sleep 1.5 # one sampling tick publishes it
			curl -sf "http://127.0.0.1:$port/api/v1/stats" -o "$tmp/virqd.json"
		else
			vm_why="needs a VM, and virqd has no /dev/kvm here ($(jq -r '.kvm.reason' <<<"$status"))"
		fi
		bpf_why=
		[ "$(jq -r '.bpf.available' <<<"$status")" = true ] ||
			bpf_why="virqd runs without BPF here: $(jq -r '.bpf.reason' <<<"$status")"
		jex_check virqd "$tmp/virqd.json" "$vm_why" "$bpf_why"
	else
		nok "virqd: serves /api/v1/stats" "$(cat "$tmp/virqd.log")"
	fi
else
	nok "virqd: $VIRQD and $VIRQCTL are built"
fi

echo "1..$n"
exit $failed
