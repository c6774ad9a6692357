#!/usr/bin/env bash
# virq test runner. Runs every test program of the requested layers (default: all),
# each of which speaks TAP (cmocka with CMOCKA_MESSAGE_OUTPUT=TAP, or a shell test),
# and ends with the line "N passed, N failed, N skipped".
#
# Layers: unit (tests/unit), fuzz (corpus replay), kvm (real VMs), bpf (real probes),
# e2e (real daemon + CLI, C or shell), nested (the kvm/bpf programs on kvm_amd inside a
# QEMU TCG guest, only where this host has no /dev/kvm), tsan (the posted-descriptor
# stress under TSan).
# A skip is allowed only when /dev/kvm or a privilege is truly missing; with CI=true on a
# machine that has /dev/kvm, a skip counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export CMOCKA_MESSAGE_OUTPUT=TAP
export VIRQ_BUILD=$BUILD
layers=("$@")
[ ${#layers[@]} -eq 0 ] && layers=(unit fuzz kvm bpf e2e nested)
logdir=$BUILD/test-logs
mkdir -p "$logdir"
timeout_s=${VIRQ_TEST_TIMEOUT:-900}

pass=0 fail=0 skip=0
failed_names=()

run_one() { # name, command...
	local name=$1; shift
	local log="$logdir/${name//\//_}.log"
	local t0=$SECONDS rc
	timeout --kill-after=10 "$timeout_s" "$@" >"$log" 2>&1
	rc=$?
	local p f s
	p=$(grep -cE '^ok [0-9]+' "$log" | head -1)
	s=$(grep -cE '^(not )?ok [0-9]+.*# SKIP' "$log" | head -1)
	f=$(grep -E '^not ok [0-9]+' "$log" | grep -cv '# SKIP' | head -1)
	p=$((p - $(grep -cE '^ok [0-9]+.*# SKIP' "$log")))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc (timeout=124, signal=128+n)" >>"$log"
	fi
	if [ $((p + f + s)) -eq 0 ]; then
		f=1
		echo "not ok - $name ran no test" >>"$log"
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	printf '  %-44s %4d passed %3d failed %3d skipped  (%ds)\n' "$name" "$p" "$f" "$s" $((SECONDS - t0))
	if [ "$f" -gt 0 ]; then
		failed_names+=("$name")
		grep -E -B2 -A12 '^not ok' "$log" | grep -v '# SKIP' | head -60 | sed 's/^/      | /'
	fi
	# Notes a test wants on the report even when it passes (e.g. a nested guest re-booted).
	grep -E '^# note:' "$log" | head -12 | sed 's/^/      = /'
	if [ "$s" -gt 0 ]; then
		grep -E -h 'SKIP|skip:' "$log" | sort -u | head -8 | sed 's/^/      ~ /'
	fi
}

for layer in "${layers[@]}"; do
	echo "== $layer"
	case $layer in
	fuzz)
		for bin in "$BUILD"/tests/fuzz/replay_fuzz_*; do
			[ -x "$bin" ] || continue
			n=${bin##*/replay_fuzz_}
			run_one "fuzz/$n" "$bin" "tests/fuzz/corpus/$n"
		done ;;
	nested)
		# Where /dev/kvm exists the kvm layer ran natively and the nested runs of the
		# same programs are skipped; a nested test that needs what only the nested guest
		# gives (kvm_amd at a speed where real guest kernels boot: QEMU with a Linux
		# guest) says so with a line "# nested: always" and runs on every host.
		[ -e /dev/kvm ] &&
			echo "  (this host has /dev/kvm: the kvm layer ran natively; only tests marked \"nested: always\" run)"
		for sh in tests/nested/test_*.sh; do
			[ -f "$sh" ] || continue
			[ -e /dev/kvm ] && ! grep -q '^# nested: always' "$sh" && continue
			timeout_s=${VIRQ_NESTED_TIMEOUT:-2400} run_one "nested/${sh##*/}" bash "$sh"
		done ;;
	tsan)
		for bin in "$BUILD"/tests/unit/test_*stress*; do
			[ -x "$bin" ] || continue
			TSAN_OPTIONS="halt_on_error=1 exitcode=66" run_one "tsan/${bin##*/}" "$bin"
		done ;;
	*)
		for bin in "$BUILD"/tests/"$layer"/test_*; do
			[ -x "$bin" ] && [ "${bin%.d}" = "$bin" ] && [ "${bin%.o}" = "$bin" ] || continue
			run_one "$layer/${bin##*/}" "$bin"
		done
		for sh in tests/"$layer"/test_*.sh; do
			[ -f "$sh" ] || continue
			run_one "$layer/${sh##*/}" bash "$sh"
		done ;;
	esac
done

if [ "${CI:-}" = "true" ] && [ -e /dev/kvm ] && [ "$skip" -gt 0 ]; then
	echo "CI with /dev/kvm present: $skip skipped test(s) count as failures"
	fail=$((fail + skip))
fi
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]} (logs in $logdir)"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
