#!/usr/bin/env bash
# virq demo (`make demo`): start virqd on a temporary socket, and where /dev/kvm exists
# create a user-mode (posted) VM and a kernel-mode VM with 2 vCPUs each, run the default
# scenario in both and print the cross-check report. Where it does not, the same demo runs
# inside the nested KVM guest of the test suite; without that either, say so and show
# what an observe-only daemon offers. Then stop virqd with SIGTERM and check it cleaned up.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-${VIRQ_BUILD:-build}}
VIRQD=$BUILD/bin/virqd
VIRQCTL=$BUILD/bin/virqctl
dir=$(mktemp -d /tmp/virq-demo-XXXXXX)
sock=$dir/virqd.sock
pid=

step() { printf '\n=== %s\n' "$*"; }
ctl() { echo "\$ virqctl $*"; "$VIRQCTL" --socket "$sock" "$@"; }
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" && wait "$pid" || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

for b in "$VIRQD" "$VIRQCTL"; do
	[ -x "$b" ] || { echo "demo: $b is not built (run make)" >&2; exit 1; }
done

# No /dev/kvm here: run this same demo inside the nested guest of the test suite
# (tests/nested/test_kvm_nested.sh: Debian's kernel under QEMU's TCG emulation of AMD
# SVM, kvm_amd loaded), where /dev/kvm exists. VIRQ_DEMO_NESTED=0 runs observe-only here.
if [ ! -e /dev/kvm ] && [ "${VIRQ_DEMO_NESTED:-1}" != 0 ] && [ -z "${VIRQ_NESTED:-}" ]; then
	step "NO /dev/kvm ON THIS MACHINE: running the demo in a nested KVM guest"
	echo "(kvm_amd inside QEMU's TCG emulator; everything there is emulated, so it takes"
	echo " a minute or two; the guest's output follows when it powers off)"
	out=$(VIRQ_NESTED_ONLY=none VIRQ_NESTED_RAW=scripts/demo.sh bash tests/nested/test_kvm_nested.sh 2>&1)
	if printf '%s\n' "$out" | grep -q '^RAW scripts/demo.sh: '; then
		printf '%s\n' "$out" | sed -n 's|^RAW scripts/demo.sh: ||p' | grep -v '^END$'
		printf '%s\n' "$out" | grep '^# note:' || true
		grc=$(printf '%s\n' "$out" | sed -n 's|^RAW scripts/demo.sh: demo result: rc=||p' | tail -1)
		[ -n "$grc" ] || { echo "demo: the nested demo did not finish" >&2; exit 1; }
		echo
		echo "(the demo above ran inside the nested guest, on its /dev/kvm; rc=$grc)"
		exit "$grc"
	fi
	printf '%s\n' "$out" | tail -5
	echo "(no nested guest either: the demo runs observe-only here)"
fi

step "starting virqd on $sock"
: >"$dir/virqd.conf"
"$VIRQD" --config "$dir/virqd.conf" --socket "$sock" --metrics off >"$dir/virqd.log" 2>&1 &
pid=$!
for _ in $(seq 150); do
	[ -S "$sock" ] && break
	kill -0 "$pid" 2>/dev/null || { cat "$dir/virqd.log"; echo "demo: virqd failed to start" >&2; exit 1; }
	sleep 0.1
done
[ -S "$sock" ] || { cat "$dir/virqd.log"; echo "demo: virqd did not listen" >&2; exit 1; }
sed 's/^/  virqd| /' "$dir/virqd.log"

step "status"
ctl status

rc=0
if [ -e /dev/kvm ]; then
	step "creating a user-mode (posted) VM and a kernel-mode VM, 2 vCPUs each"
	ctl vm create demo-user --vcpus 2 --irqchip user
	ctl vm create demo-kernel --vcpus 2 --irqchip kernel
	ctl vm list
	# Both at once: each scenario runs on its own virqd worker thread.
	step "default scenario in both VMs, concurrently"
	for vm in demo-user demo-kernel; do
		ctl vm scenario "$vm" default >"$dir/scenario-$vm.out" 2>&1 &
		echo $! >"$dir/scenario-$vm.pid"
	done
	ctl status | sed -n '/^scenarios/p;/^vms/p'
	for vm in demo-user demo-kernel; do
		wait "$(cat "$dir/scenario-$vm.pid")" || rc=1
		echo "--- $vm"
		cat "$dir/scenario-$vm.out"
	done
	# Paused, every ledger is final: the cross-check then allows no in-flight slack.
	ctl vm pause demo-user >/dev/null
	ctl vm pause demo-kernel >/dev/null
	step "cross-check report (VMs paused)"
	ctl crosscheck || rc=1
else
	step "NO /dev/kvm ON THIS MACHINE"
	echo "KVM is not available here, so virqd runs observe-only: no VM can be created,"
	echo "no scenario can run. What follows is what an observe-only daemon really reports."
	echo "(vm.create is refused with kvm_unavailable:)"
	ctl vm create demo-user --vcpus 2 --irqchip user || true
fi

step "BPF attach points"
ctl trace points || echo "(tracer unavailable; reason in status)"
step "KVM VMs on this host"
ctl host vms
if [ ! -e /dev/kvm ]; then
	step "observe-only cross-check"
	ctl crosscheck || rc=1
fi
step "one frame of virqctl top"
ctl top --once --interval 500

step "stopping virqd (SIGTERM)"
kill -TERM "$pid"
wait "$pid" && status=0 || status=$?
pid=
if [ "$status" -ne 0 ]; then
	echo "demo: virqd exited with status $status" >&2
	exit 1
fi
if [ -e "$sock" ]; then
	echo "demo: socket $sock still exists after shutdown" >&2
	exit 1
fi
echo "virqd exited 0 and removed its socket."
[ -e /dev/kvm ] || echo "Demo ran observe-only: /dev/kvm is missing on this machine."
echo "demo result: rc=$rc"
exit "$rc"
