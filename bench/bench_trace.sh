#!/usr/bin/env bash
# Tracing overhead, two figures (bench/trace_bench.c):
#  - per-event cost of each handler through BPF_PROG_TEST_RUN (the raw_tp twin of the
#    attached tp_btf program, minus an empty program's run): measurable on any host;
#  - the real figure, KVM injection throughput with the programs attached / detached, in
#    one run, phases interleaved A/B/A/B (goal: under 5% loss). Needs /dev/kvm; without it
#    the reason is printed and recorded.
# Writes $BUILD/bench/results/trace.json.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
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
kvm=$("$bin" --kvm) || { echo "bench_trace: trace_bench --kvm failed"; exit 1; }
echo "$json" | jq --argjson k "$kvm" '. + {kvm_injection_throughput: $k}' >"$out"
printf '%-42s %10s\n' "measure (BPF_PROG_TEST_RUN)" "ns/event"
jq -r 'to_entries[] | select(.key|endswith("_ns")) | "\(.key) \(.value)"' "$out" |
	while read -r k v; do printf '%-42s %10s\n' "$k" "$v"; done
echo "classic tp/ and tp_btf variants: not measurable here (no BPF_PROG_TEST_RUN for them)"
if jq -e '.kvm_injection_throughput.skipped' "$out" >/dev/null; then
	echo "KVM injection throughput with/without programs: skipped, $(jq -r .kvm_injection_throughput.skipped "$out")"
else
	jq -r '.kvm_injection_throughput' "$out" | jq -r -f bench/trace_report.jq
fi
