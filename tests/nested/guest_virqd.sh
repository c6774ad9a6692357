#!/bin/sh
# Runs INSIDE the nested guest for tests/nested/test_nested_prometheus.sh (through
# test_kvm_nested.sh with VIRQ_NESTED_RAW, VIRQ_NESTED_NET and VIRQ_NESTED_CTL): virqd
# with real VMs, its metrics listener reachable from the host through QEMU's user-mode
# network (host 127.0.0.1:PORT -> guest :9105). busybox sh.
#
# Creates a kernel-mode and a user-mode (posted) VM, runs the default scenario and the
# cross-check on both, then a 1-vCPU VM named "ready": the host's signal that every
# per-VM series exists. Keeps virqd running until the host writes a line to the control
# port (/dev/ttyS2) or 600 s pass, then stops it with SIGTERM and prints its exit status.
B=${VIRQ_BUILD:-build}
S=/run/virqd.sock
ctl() { ./$B/bin/virqctl --socket $S "$@"; }
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
: >/tmp/virqd.conf
./$B/bin/virqd --config /tmp/virqd.conf --socket $S --metrics 0.0.0.0:9105 >/tmp/virqd.log 2>&1 &
d=$!
i=0
while [ ! -S $S ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
ctl status | sed -n '1,12p'
for v in prom-vm:kernel prom-user:user; do
	ctl vm create ${v%%:*} --vcpus 2 --irqchip ${v##*:} >/tmp/out 2>&1 &&
		ctl vm scenario ${v%%:*} default >>/tmp/out 2>&1
	echo "scenario ${v%%:*}: $?"
	tail -3 /tmp/out
done
ctl crosscheck >/tmp/out 2>&1
echo "crosscheck: $?"
tail -12 /tmp/out
ctl vm create ready --vcpus 1
echo "READY"
timeout 600 sh -c 'read -r line </dev/ttyS2' && echo "host said stop" || echo "no word from the host"
kill -TERM $d
wait $d
echo "virqd exit $?"
tail -5 /tmp/virqd.log
