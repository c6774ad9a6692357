#!/usr/bin/env bash
# `make demo` on a host without /dev/kvm: scripts/demo.sh runs itself inside the nested
# KVM guest. Checks what the demo promises: both VMs created, the default scenario passes
# in both, the cross-check reports nothing lost, spurious or misrouted, virqd stops with
# exit 0 and removes its socket, and the demo exits 0. Prints TAP.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
n=0
check() { # status, description
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
if [ -e /dev/kvm ]; then
	echo "1..0 # SKIP this host has /dev/kvm: the demo runs natively (no nested guest)"
	exit 0
fi
out=$(BUILD=$BUILD bash scripts/demo.sh 2>&1)
rc=$?
if printf '%s\n' "$out" | grep -q 'no nested guest either'; then
	echo "1..0 # SKIP the nested guest cannot run here: $(printf '%s\n' "$out" | grep -B3 'no nested guest either' | head -3 | tr '\n' ' ')"
	exit 0
fi
printf '%s\n' "$out" | sed 's/^/# demo: /'
check $rc "the demo exits 0"
printf '%s\n' "$out" | grep -q 'running the demo in a nested KVM guest'
check $? "it says it runs in the nested guest"
for vm in demo-user demo-kernel; do
	printf '%s\n' "$out" | grep -q "^VM $vm (id [0-9]*): running"
	check $? "$vm created and running"
done
[ "$(printf '%s\n' "$out" | grep -c '^PASS in ')" -eq 2 ]
check $? "the default scenario passes in both VMs"
printf '%s\n' "$out" | grep -qE '^consistent [0-9]+, .* lost 0, spurious 0, misrouted 0'
check $? "the cross-check finds nothing lost, spurious or misrouted"
printf '%s\n' "$out" | grep -q '^virqd exited 0 and removed its socket'
check $? "virqd exits 0 and removes its socket"
printf '%s\n' "$out" | grep -q '^demo result: rc=0$'
check $? "the guest's demo reports rc=0"
echo "1..$n"
