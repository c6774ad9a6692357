#!/usr/bin/env bash
# The Multiboot test kernel (tests/guest/multiboot) against the reference: Debian's QEMU
# (TCG, no KVM needed) loads it with -kernel, as virqd's VMM does with vm.create kernel.
# The kernel's checks of the PC devices (fw_cfg, pc-testdev, PIT, RTC) must all pass on
# QEMU's devices too, so that tests/nested/test_boot_kernels.sh compares virqd with
# something real. isa-debug-exit: QEMU's exit status is (failures << 1) | 1. TAP.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
k=$BUILD/tests/guest/multiboot/kernel.elf
command -v qemu-system-x86_64 >/dev/null ||
	{ echo "1..0 # SKIP qemu-system-x86_64 missing (package qemu-system-x86)"; exit 0; }
[ -f "$k" ] || { echo "1..0 # SKIP $k not built (make)"; exit 0; }
out=$(mktemp /tmp/virq-mbtest.XXXXXX)
trap 'rm -f "$out"' EXIT
timeout 120 qemu-system-x86_64 -machine pc -accel tcg -nodefaults -display none -m 64 -smp 2 \
	-kernel "$k" -append "cpus=2" -serial "file:$out" \
	-device isa-debug-exit,iobase=0xf4,iosize=1 -device pc-testdev </dev/null >/dev/null 2>&1
rc=$?
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; shift; printf '# %s\n' "$@"; }
echo "1..3"
[ $rc = 1 ] && ok "QEMU exit status 1 (isa-debug-exit, 0 failures)" ||
	nok "QEMU exit status $rc, want 1" "$(tail -5 "$out")"
bad=$(grep -c '^not ok' "$out")
good=$(grep -c '^ok' "$out")
[ "$bad" = 0 ] && [ "$good" -ge 19 ] && ok "every check ok on QEMU's devices ($good)" ||
	nok "$bad checks failed, $good ok" "$(grep '^not ok' "$out")"
grep -q "^virq-mbtest: $good checks, 0 failed$" "$out" && ok "summary line" ||
	nok "summary line missing" "$(tail -3 "$out")"
