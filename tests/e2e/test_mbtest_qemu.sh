#!/usr/bin/env bash
# End-to-end: virq-mbtest (the Multiboot v1 kernel of tests/guest/multiboot) under QEMU's
# own PC platform, TCG (no /dev/kvm needed): the reference a VMM's devices are held to.
# QEMU's multiboot loader takes the ELF32 kernel with -kernel and passes the command line
# "<kernel path> <append>". The kernel prints one "ok - ..." / "not ok - ..." line per
# check on COM1 and "virq-mbtest: N checks, F failed", then writes F to isa-debug-exit
# (port 0xf4), so QEMU exits with status (F << 1) | 1. TAP output.
#
#   run 1: -smp 2, cpus=2: every check ok, summary "0 failed", exit status 1; the three KVM
#          hypercall checks are TAP skips ("# SKIP not KVM": TCG is no KVM), nothing else
#   run 2: -smp 2, cpus=3: exactly the fw_cfg NB_CPUS check fails, summary "1 failed",
#          exit status 3 (the failure count reaches the exit status)
set -u
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
KERNEL=$BUILD/tests/guest/multiboot/kernel.elf
QEMU=${QEMU:-qemu-system-x86_64}
n=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }

if ! command -v "$QEMU" >/dev/null 2>&1; then
	echo "1..0 # SKIP $QEMU not installed"
	exit 0
fi
if [ ! -f "$KERNEL" ]; then
	echo "1..0 # SKIP $KERNEL not built (make builds it)"
	exit 0
fi

dir=$(mktemp -d /tmp/virq-mbtest-XXXXXX)
trap 'rm -rf "$dir"' EXIT

# run <name> <smp> <append>: COM1 (QEMU's stdout) in $dir/<name>.out, QEMU's stderr in
# $dir/<name>.log, the exit status in rc_<name>
run() {
	local name=$1 smp=$2 append=$3
	local cmd=("$QEMU" -machine pc -accel tcg -nodefaults -display none -m 64 -smp "$smp"
		-kernel "$KERNEL" -append "$append" -serial stdio
		-device isa-debug-exit,iobase=0xf4,iosize=1 -device pc-testdev)
	echo "# ${cmd[*]}"
	timeout --kill-after=5 60 "${cmd[@]}" </dev/null >"$dir/$name.out" 2>"$dir/$name.log"
	printf -v "rc_$name" %d $?
	sed 's/^/# | /' "$dir/$name.out" "$dir/$name.log" 2>/dev/null
}

echo "1..10"

run good 2 "cpus=2"
out=$dir/good.out
lines=$(grep -cE '^(not )?ok - ' "$out")
oks=$(grep -cE '^ok - ' "$out")
summary=$(grep -E '^virq-mbtest: [0-9]+ checks, [0-9]+ failed$' "$out")
check "qemu_exits_with_status_1_no_failure (got $rc_good, 124 = timeout)" test "$rc_good" -eq 1
check "every_check_line_is_ok ($oks of $lines)" test "$lines" -gt 0 -a "$oks" -eq "$lines"
check "no_not_ok_line" test "$(grep -c '^not ok' "$out")" -eq 0
check "summary_says_0_failed" test -n "$summary" -a "${summary##*, }" = "0 failed"
check "summary_counts_every_check_line" test "$summary" = "virq-mbtest: $lines checks, 0 failed"
# every device group ran (none skipped, none missing from the output)
groups_ok=1
for want in 'EAX is 0x2BADB002' 'fw_cfg NB_CPUS' 'pc-testdev byte write' 'IRQ0 interrupts' \
	'latched count' 'OUT2 .* goes high' 'RTC register D' 'IRQ8 interrupts' 'ISA line 5 pulse'; do
	grep -qE "^ok - .*$want" "$out" || { echo "# missing: ok - ...$want"; groups_ok=0; }
done
check "every_device_group_ran_and_passed" test "$groups_ok" -eq 1 -a \
	"$(grep SKIP "$out" | grep -vc '^ok - KVM hypercall .* # SKIP not KVM$')" -eq 0
check "the_3_kvm_hypercall_checks_skip_as_not_kvm" \
	test "$(grep -c '^ok - KVM hypercall .* # SKIP not KVM$' "$out")" -eq 3

run wrongcpus 2 "cpus=3"
out=$dir/wrongcpus.out
check "cpus_mismatch_exits_with_status_3 (got $rc_wrongcpus)" test "$rc_wrongcpus" -eq 3
check "cpus_mismatch_fails_only_the_nb_cpus_check" \
	test "$(grep '^not ok' "$out")" = \
	"not ok - fw_cfg NB_CPUS (key 0x0005) matches cpus= on the command line (got 2 want 3)"
check "cpus_mismatch_summary_says_1_failed" \
	grep -qE '^virq-mbtest: [0-9]+ checks, 1 failed$' "$out"
