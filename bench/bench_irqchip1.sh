#!/usr/bin/env bash
# Instructions per irqchip operation (PIC, IOAPIC, MSI, router), measured with callgrind:
# each operation runs N and 2N times; (Ir(2N) - Ir(N)) / N removes start-up and setup.
# Writes $BUILD/bench/results/irqchip1.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
N=${IRQCHIP1_N:-20000}
bin=$BUILD/bench/irqchip1_ops
out=$BUILD/bench/results
mkdir -p "$out"
[ -x "$bin" ] || make --no-print-directory BUILD="$BUILD" "$bin" >/dev/null
command -v valgrind >/dev/null || { echo "valgrind missing" >&2; exit 1; }

ir() { # op iterations -> total instructions
	local f
	f=$(mktemp)
	valgrind --tool=callgrind --callgrind-out-file="$f" "$bin" "$1" "$2" >/dev/null 2>&1
	awk '/^summary:/ { print $2 }' "$f"
	rm -f "$f"
}

printf '%-22s %12s %12s %14s\n' operation "Ir(N)" "Ir(2N)" "instr/op"
json="{\"bench\":\"irqchip1\",\"n\":$N,\"unit\":\"instructions_per_op\",\"results\":["
sep=
for op in gsi-assert-deassert msi-decode pic-inta; do
	a=$(ir "$op" "$N")
	b=$(ir "$op" $((2 * N)))
	per=$(awk -v a="$a" -v b="$b" -v n="$N" 'BEGIN { printf "%.1f", (b - a) / n }')
	printf '%-22s %12s %12s %14s\n' "$op" "$a" "$b" "$per"
	json+="$sep{\"op\":\"$op\",\"ir_n\":$a,\"ir_2n\":$b,\"instructions_per_op\":$per}"
	sep=,
done
json+="]}"
echo "$json" | jq . >"$out/irqchip1.json"
echo "wrote $out/irqchip1.json"
