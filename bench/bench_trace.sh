#!/usr/bin/env bash
# Tracing overhead. Without /dev/kvm: per-event cost of each raw_tp program through
# BPF_PROG_TEST_RUN (minus an empty program's run). With /dev/kvm the KVM injection
# throughput ratio with/without programs is the real figure (goal: < 5% loss).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
out=$BUILD/bench/results/trace.json
mkdir -p "$(dirname "$out")"
bin=$BUILD/bench/trace_bench
[ -x "$bin" ] || { echo "bench_trace: $bin not built"; exit 1; }
if [ "$(id -u)" != 0 ]; then
	echo "bench_trace: skipped, needs root for BPF"
	echo '{"skipped": "needs root for BPF"}' >"$out"
	exit 0
fi
json=$("$bin") || { echo "bench_trace: trace_bench failed"; exit 1; }
if [ -e /dev/kvm ]; then
	kvm='"not measured: KVM injection throughput ratio needs the vmm bench (not written yet)"'
else
	kvm='"skipped, /dev/kvm missing"'
fi
echo "$json" | jq --argjson k "$kvm" '. + {kvm_injection_throughput: $k}' >"$out"
printf '%-42s %10s\n' "measure" "ns/event"
jq -r 'to_entries[] | select(.key|endswith("_ns")) | "\(.key) \(.value)"' "$out" |
	while read -r k v; do printf '%-42s %10s\n' "$k" "$v"; done
echo "classic tp/ variant: not measurable here (tracepoint programs have no BPF_PROG_TEST_RUN)"
echo "KVM injection throughput with/without programs: $(jq -r .kvm_injection_throughput "$out")"
