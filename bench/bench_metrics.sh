#!/usr/bin/env bash
# One scrape of 16 VMs x 8 vCPUs: render time (median of 200, wall clock), bytes, series,
# and instructions per render under callgrind (stable across runs, unlike time).
# Writes $BUILD/bench/results/metrics.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
bin=$BUILD/bench/metrics_bench
[ -x "$bin" ] || make --no-print-directory BUILD="$BUILD" "$bin" >/dev/null
out=$BUILD/bench/results/metrics.json
mkdir -p "${out%/*}"
VMS=16 VCPUS=8
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" $VMS $VCPUS 200 >"$tmp/run.txt"
field() { sed -n "s/.*format=$1 .*$2=\([0-9]*\).*/\1/p" "$tmp/run.txt"; }

ir() { # instructions inside one render function, for one render
	if ! command -v valgrind >/dev/null; then echo null; return; fi
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$1" --toggle-collect="$1" \
		"$bin" $VMS $VCPUS 1 >/dev/null 2>"$tmp/cg.$1.log"
	sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/cg.$1" | head -1
}
ir_prom=$(ir virq_metrics_render_prometheus)
ir_json=$(ir virq_metrics_render_json)

printf '%-12s %12s %12s %10s %8s %16s\n' format median_us p90_us bytes series instructions
for f in prometheus json; do
	i=$([ $f = prometheus ] && echo "$ir_prom" || echo "$ir_json")
	printf '%-12s %12.1f %12.1f %10d %8d %16s\n' $f \
		"$(awk "BEGIN{print $(field $f median_ns)/1000}")" "$(awk "BEGIN{print $(field $f p90_ns)/1000}")" \
		"$(field $f bytes)" "$(field $f series)" "$i"
done
jq -n --argjson vms $VMS --argjson vcpus $VCPUS \
	--argjson pm "$(field prometheus median_ns)" --argjson pp "$(field prometheus p90_ns)" \
	--argjson pb "$(field prometheus bytes)" --argjson ps "$(field prometheus series)" \
	--argjson pi "${ir_prom:-null}" \
	--argjson jm "$(field json median_ns)" --argjson jp "$(field json p90_ns)" \
	--argjson jb "$(field json bytes)" --argjson ji "${ir_json:-null}" \
	'{name: "metrics", vms: $vms, vcpus_per_vm: $vcpus,
	  prometheus: {render_median_ns: $pm, render_p90_ns: $pp, bytes: $pb, series: $ps, instructions: $pi},
	  json: {render_median_ns: $jm, render_p90_ns: $jp, bytes: $jb, instructions: $ji}}' >"$out"
echo "wrote $out"
