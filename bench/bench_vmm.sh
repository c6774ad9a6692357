#!/usr/bin/env bash
# VMM benchmark (bench/vmm.c): MSI rate and injection->handler latency per irqchip mode
# and idle style, exits per interrupt, RSS per idle VM. Needs /dev/kvm; without it,
# prints the reason and exits 0.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
out=$BUILD/bench/results/vmm.json
mkdir -p "$(dirname "$out")"
if [ ! -e /dev/kvm ]; then
	echo "skipped: /dev/kvm missing"
	printf '{"name":"vmm","skipped":"/dev/kvm missing"}\n' >"$out"
	exit 0
fi
bin=$BUILD/bench/vmm
if [ ! -x "$bin" ]; then
	echo "bench_vmm: $bin not built" >&2
	exit 1
fi
"$bin" "$out"
