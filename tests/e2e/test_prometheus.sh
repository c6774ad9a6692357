#!/usr/bin/env bash
# A real Prometheus server scrapes a running virq exporter every second, and every
# expression of the Grafana dashboard (variables substituted) must return data through
# Prometheus's HTTP API. Prints TAP.
#
# VIRQ_METRICS_TARGET: command serving /metrics on 127.0.0.1:$PORT ("$PORT" is replaced by a
# free port). Default: the synthetic server bench/metrics_serve (real exporter, synthetic
# snapshot); switch to the real virqd once it hosts the exporter.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
DASH=dashboards/virq.json
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; [ $# -gt 1 ] && printf '# %s\n' "${@:2}"; }

for tool in prometheus promtool curl jq python3; do
	command -v $tool >/dev/null || { echo "1..0 # SKIP $tool not installed (Debian package ${tool/promtool/prometheus})"; exit 0; }
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TARGET=${VIRQ_METRICS_TARGET:-"$BUILD/bench/metrics_serve --addr 127.0.0.1 --port \$PORT --vms 6 --vcpus 4"}
tport=$(free_port)
pport=$(free_port)
tmp=$(mktemp -d)
tpid= ppid_=
cleanup() {
	[ -n "$ppid_" ] && kill "$ppid_" 2>/dev/null && wait "$ppid_" 2>/dev/null
	[ -n "$tpid" ] && kill "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

${TARGET//\$PORT/$tport} >"$tmp/target.log" 2>&1 &
tpid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$tport/metrics" -o "$tmp/metrics.txt" && break; sleep 0.1; done
if [ -s "$tmp/metrics.txt" ]; then ok "target serves /metrics on 127.0.0.1:$tport"; else
	nok "target serves /metrics" "$(cat "$tmp/target.log")"; echo "1..$n"; exit 1; fi
if promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.log" 2>&1; then ok "promtool check metrics accepts the scrape"
else nok "promtool check metrics accepts the scrape" "$(head -20 "$tmp/promtool.log")"; fi

cat >"$tmp/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: virqd
    static_configs:
      - targets: ["127.0.0.1:$tport"]
YML
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
	--web.listen-address="127.0.0.1:$pport" --log.level=warn >"$tmp/prom.log" 2>&1 &
ppid_=$!
api="http://127.0.0.1:$pport/api/v1"
query() { curl -sf --max-time 5 "$api/query" --data-urlencode "query=$1"; }

up=0
for _ in $(seq 100); do
	[ "$(query 'up{job="virqd"}' | jq -r '.data.result[0].value[1]' 2>/dev/null)" = 1 ] && { up=1; break; }
	sleep 0.2
done
if [ $up = 1 ]; then ok "prometheus scrapes the target (up == 1)"; else
	nok "prometheus scrapes the target" "$(tail -5 "$tmp/prom.log")"; echo "1..$n"; exit 1; fi
# rate() over $__rate_interval (4 scrape intervals here) needs at least two samples in it.
sleep 6
count=$(query 'count(count_over_time(virq_build_info[10s]))' | jq -r '.data.result[0].value[1]')
samples=$(query 'count_over_time(virq_build_info[10s])' | jq -r '.data.result[0].value[1]')
if [ "${samples:-0}" -ge 4 ] 2>/dev/null; then ok "scraped every second ($samples samples in 10s)"; else
	nok "scraped every second" "samples=$samples count=$count"; fi

# Template variables first: their label_values() must list something.
for v in 'virq_vm_info:vm' 'virq_exits_total:vcpu'; do
	m=${v%%:*} l=${v##*:}
	vals=$(curl -sf "$api/label/$l/values" --data-urlencode "match[]=$m" -G | jq -r '.data | length')
	if [ "${vals:-0}" -gt 0 ]; then ok "variable $l: label_values($m, $l) has $vals values"; else
		nok "variable $l: label_values($m, $l) is empty"; fi
done

# Every dashboard expression, with $vm/$vcpu = All (.*) and $__rate_interval = 4 x 1s.
mapfile -t exprs < <(jq -r '.panels[] | (.targets // [])[] | .expr' "$DASH")
[ ${#exprs[@]} -gt 10 ] && ok "dashboard has ${#exprs[@]} expressions" || nok "dashboard expressions found"
for e in "${exprs[@]}"; do
	q=${e//\$__rate_interval/4s}
	q=${q//\$vm/.*}
	q=${q//\$vcpu/.*}
	r=$(query "$q")
	st=$(jq -r '.status' <<<"$r" 2>/dev/null)
	len=$(jq -r '.data.result | length' <<<"$r" 2>/dev/null)
	if [ "$st" = success ] && [ "${len:-0}" -gt 0 ]; then ok "returns data ($len series): $e"
	else nok "returns data: $e" "query: $q" "answer: ${r:0:300}"; fi
done
echo "1..$n"
exit $failed
