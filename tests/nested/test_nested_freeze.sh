#!/usr/bin/env bash
# Self-test of the nested runner's freeze handling (test_kvm_nested.sh).
#
# A guest whose CPUs stop (QEMU monitor "stop" when a program begins: what a frozen TCG
# guest looks like from outside, no console output) must be detected after
# VIRQ_NESTED_FREEZE seconds, its CPUs' state reported, and the unfinished programs run
# again in a fresh guest; with no retry left the program is reported not ok. Runs the
# small kvm/test_trace_kvm program; two guests boot per case.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
prog=kvm/test_trace_kvm
n=0 fails=0
ok() { # cond-status, description
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi
}
[ -x "$BUILD/tests/$prog" ] || { echo "1..1"; echo "not ok 1 - $BUILD/tests/$prog not built"; exit 0; }

out=$(VIRQ_NESTED_ONLY=$prog VIRQ_NESTED_FREEZE=20 VIRQ_NESTED_SELFTEST_FREEZE=$prog \
	bash tests/nested/test_kvm_nested.sh 2>&1)
if printf '%s\n' "$out" | grep -q '^1..0 # SKIP'; then
	printf '%s\n' "$out"
	exit 0
fi
printf '%s\n' "$out" | sed 's/^/# retry: /'
# cmocka's group line "ok - kvm/trace" comes only when every test of the program passed.
[ "$(printf '%s\n' "$out" | grep -c "^ok [0-9]* - nested $prog:")" -ge 1 ] &&
	printf '%s\n' "$out" | grep -q "^# $prog: # ok - kvm/trace"
ok $? "a frozen guest's programs pass after a fresh boot"
! printf '%s\n' "$out" | grep -q '^not ok'
ok $? "no failure is reported when the retry passes"
printf '%s\n' "$out" | grep -q '^# note: 2 guest boots'
ok $? "the report says the guest booted twice"
printf '%s\n' "$out" | grep -q "^# note: guest froze during $prog (boot 1, no output for 20 s)"
ok $? "the report names the program the guest froze in"
printf '%s\n' "$out" | grep -qE '^# note:   CPU 0 RIP [0-9a-f]{16} CPL [0-3] HLT [01] .+'
ok $? "the frozen CPUs' RIP and privilege level are reported"
printf '%s\n' "$out" | grep -qE '^# note:   CPU [01] RIP ffffffff[0-9a-f]{8} CPL 0 HLT [01] [a-z_][a-z0-9_.]*\+0x[0-9a-f]+' ||
	! printf '%s\n' "$out" | grep -qE '^# note:   CPU [01] RIP ffffffff'
ok $? "kernel RIPs resolve to symbols from the fresh guest's kallsyms"

out=$(VIRQ_NESTED_ONLY=$prog VIRQ_NESTED_FREEZE=20 VIRQ_NESTED_SELFTEST_FREEZE=$prog \
	VIRQ_NESTED_FREEZE_RETRIES=0 bash tests/nested/test_kvm_nested.sh 2>&1)
printf '%s\n' "$out" | sed 's/^/# no retry: /'
printf '%s\n' "$out" | grep -q "^not ok [0-9]* - nested $prog did not finish (the guest froze (no output for 20 s))"
ok $? "with no retry left the frozen program is not ok"
printf '%s\n' "$out" | grep -q "^# note: guest froze during $prog (boot 1), no retry left"
ok $? "and the report says no retry was left"
echo "1..$n"
