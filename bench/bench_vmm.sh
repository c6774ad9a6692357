#!/usr/bin/env bash
# VMM benchmark (bench/vmm.c): MSI rate and injection->handler latency per irqchip mode
# (user mode also posted=off and PV-EOI off) and idle style, exits per interrupt, RSS per
# idle VM -- these need /dev/kvm; without it, "skipped: /dev/kvm missing". The user-mode
# rows on SIMULATED vCPUs (posts/s, injections/s, posted vs posted=off, no KVM) run always.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
out=$BUILD/bench/results/vmm.json
mkdir -p "$(dirname "$out")"
bin=$BUILD/bench/vmm
if [ ! -x "$bin" ]; then
	echo "bench_vmm: $bin not built" >&2
	exit 1
fi
# The binary runs the simulated rows, then the KVM rows or "skipped: <reason>".
"$bin" "$out"
[ -e /dev/kvm ] || echo "skipped: /dev/kvm missing (KVM rows); simulated rows above"
