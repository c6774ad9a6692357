#!/usr/bin/env bash
# irqchip part 2: LAPIC / APIC bus / posted-interrupt descriptor costs.
# Instructions per op under callgrind (runs of N and 2N iterations, subtracted, so set-up
# cancels out; --toggle-collect limits counting to the measured bench_* function), plus
# wall-clock ns per op and posts/s with 2 posting threads. Writes
# $BUILD/bench/results/irqchip2.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
bin=$BUILD/bench/irqchip2_ops
out=$BUILD/bench/results
mkdir -p "$out"
[ -x "$bin" ] || make --no-print-directory BUILD="$BUILD" "$bin" >/dev/null
N=${IRQCHIP2_N:-2000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

instr() { # fn op n ncpu
	valgrind --tool=callgrind --toggle-collect="$1*" --callgrind-out-file="$tmp/cg" \
		"$bin" "$2" "$3" "$4" >/dev/null 2>&1
	awk '/^(summary|totals):/ {print $2; exit}' "$tmp/cg"
}
per_op() { # fn op ncpu
	local a b
	a=$(instr "$1" "$2" "$N" "$3")
	b=$(instr "$1" "$2" $((2 * N)) "$3")
	echo $(((b - a) / N))
}

rows=()
printf '%-22s %5s %8s %10s %12s\n' op cpus targets instr/op ns/op
measure() { # name fn op ncpu targets
	local i ns
	i=$(per_op "$2" "$3" "$4")
	ns=$("$bin" time "$3" 200000 "$4")
	printf '%-22s %5s %8s %10s %12s\n' "$1" "$4" "$5" "$i" "$ns"
	rows+=("{\"op\":\"$1\",\"cpus\":$4,\"targets\":$5,\"instructions_per_op\":$i,\"ns_per_op_loop\":$ns}")
}
measure msi_to_irr 'bench_msi_deliver' msi_irr 1 1
measure pending_ack_eoi 'bench_ack_eoi' ack_eoi 1 1
for n in 1 8 64; do
	measure ipi_fixed_physical bench_ipi ipi_phys $n 1
	l=$((n < 16 ? n : 16))
	measure ipi_logical_x2cluster bench_ipi ipi_logical $n $l
	measure ipi_broadcast bench_ipi ipi_bcast $n $n
done
measure pi_post bench_pi_post pi_post 1 1
measure pi_sync bench_pi_sync pi_sync 1 1
pps=$("$bin" contention 1000)
printf '%-22s %s\n' "pi_post_2threads" "$pps posts/s"

{
	printf '{"bench":"irqchip2","n":%d,"results":[' "$N"
	(IFS=,; printf '%s' "${rows[*]}")
	printf '],"pi_posts_per_second_2_threads":%s}\n' "$pps"
} >"$out/irqchip2.json"
jq -e . "$out/irqchip2.json" >/dev/null
echo "wrote $out/irqchip2.json (ns_per_op_loop includes the loop's set-up/drain work)"
