#!/usr/bin/env bash
# `make bench`: runs every bench/bench_*.sh in order. Each prints a table and writes
# $BUILD/bench/results/<name>.json. Speed is compared as ratios within one run; the
# irqchip core is measured in callgrind instruction counts, which are stable.
set -uo pipefail
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
mkdir -p "$BUILD/bench/results"
rc=0
for b in bench/bench_*.sh; do
	[ -f "$b" ] || continue
	echo "== ${b##*/}"
	bash "$b" || { echo "bench ${b##*/} failed"; rc=1; }
done
echo "results: $BUILD/bench/results/"
exit $rc
