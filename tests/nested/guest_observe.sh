#!/bin/sh
# Runs INSIDE the nested guest (L1) for tests/nested/test_observe_qemu.sh, through
# test_kvm_nested.sh with VIRQ_NESTED_QEMU=1, VIRQ_NESTED_IMAGES and VIRQ_NESTED_RAW
# (busybox sh): virqd observing real Debian QEMU VMs it did not start (issue 14).
#
#   A  linux-l2  2 vCPUs, Debian's kernel, virtio-blk + virtio-net, the workload of
#                tests/guest/image/workload.sh for OBS_A_SECONDS (default 30)
#   B  linux-b   1 vCPU, same image, OBS_B_SECONDS (default 10): exits while A runs
#
# (The storm VM, the positive control, is tests/nested/guest_storm.sh, run next.)
# Output: delimited blocks "@@file NAME@@" ... "@@end@@" (the host splits them into files),
# and "@@time@@ EVENT UPTIME" lines. Snapshots (virqctl host vms / crosscheck / metrics /
# top --once / trace points, /metrics and /api/v1/stats over HTTP) every ~OBS_SNAP_EVERY s
# (default 10) while A runs, right after B exits and after A exits (final). snaps.txt lists
# every snapshot: LABEL UPTIME A B C (each "up", "exited" or "none") and every virqctl exit
# status.
export PATH=/bin:/usr/bin
B=${VIRQ_BUILD:-build}
S=/run/virqd.sock
I=/virq/images
O=/tmp/obs
A_S=${OBS_A_SECONDS:-30}
B_S=${OBS_B_SECONDS:-10}
EVERY=${OBS_SNAP_EVERY:-10}
# About 7,000 storm interrupts/s were taken here (nested KVM on TCG). Fewer than KVM's
# IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT (10000, arch/x86/kvm/ioapic.c): at that many successive
# EOIs with the line still high, KVM re-injects from a delayed work item (HZ / 100) instead,
# and runs that got there (200000 and 20000 interrupts) left this nested guest idle in HLT
# with nothing printed again, every time.
STORM_COUNT=${OBS_STORM_COUNT:-9000}
mkdir -p $O
up() { cut -d' ' -f1 /proc/uptime; }
now_s() { up | cut -d. -f1; }
stamp() { echo "@@time@@ $1 $(up)"; }
ctl() { ./$B/bin/virqctl --socket $S "$@"; }
# emit NAME FILE: FILE as a block.
emit() {
	echo "@@file $1@@"
	cat "$2" 2>/dev/null
	echo
	echo "@@end@@"
}
# alive PID: up, exited, or none (not started yet).
alive() {
	if [ -z "$1" ]; then echo none
	elif kill -0 "$1" 2>/dev/null; then echo up
	else echo exited
	fi
}

pa= pb= pc=
# snap LABEL: one snapshot of every surface.
snap() {
	local l=$1 rc
	echo "$l $(up) A=$(alive "$pa") B=$(alive "$pb") C=$(alive "$pc")" >>$O/snaps.txt
	ctl --json host vms >$O/$l.hostvms.json 2>&1
	echo "  $l.hostvms rc=$?" >>$O/snaps.txt
	ctl --json crosscheck >$O/$l.crosscheck.json 2>&1
	echo "  $l.crosscheck rc=$?" >>$O/snaps.txt
	# the next sampling tick (1 s) publishes this cross-check's figures on every surface
	sleep 1.2
	ctl --json metrics >$O/$l.metrics.json 2>&1
	echo "  $l.metrics rc=$?" >>$O/snaps.txt
	ctl --json trace points >$O/$l.tracepoints.json 2>&1
	echo "  $l.tracepoints rc=$?" >>$O/snaps.txt
	ctl host vms >$O/$l.hostvms.txt 2>&1
	ctl crosscheck >$O/$l.crosscheck.txt 2>&1
	ctl top --once --interval 1000 >$O/$l.top.txt 2>&1
	echo "  $l.top rc=$?" >>$O/snaps.txt
	wget -qO $O/$l.metrics.prom http://127.0.0.1:9105/metrics
	echo "  $l.prom rc=$?" >>$O/snaps.txt
	wget -qO $O/$l.stats.json http://127.0.0.1:9105/api/v1/stats
	echo "  $l.stats rc=$?" >>$O/snaps.txt
	for k in hostvms.json crosscheck.json metrics.json tracepoints.json top.txt metrics.prom stats.json \
		hostvms.txt crosscheck.txt; do
		emit $l.$k $O/$l.$k
	done
	stamp "snap-$l"
}

# vm NAME CONSOLE SMP MEM SECONDS DISK: a Linux L2 guest in the background; its pid in $vm_pid.
vm() {
	cp $I/disk.img $6
	qemu-system-x86_64 -accel kvm -machine pc -name guest=$1 -smp $3 -m $4 -nodefaults \
		-vga none -display none -no-reboot -serial file:$2 \
		-kernel $I/vmlinuz -initrd $I/initrd.gz \
		-append "console=ttyS0 quiet loglevel=4 panic=-1 workload_seconds=$5 workload_http=10.0.2.2:8080" \
		-drive file=$6,if=none,id=d0,format=raw -device virtio-blk-pci,drive=d0 \
		-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
		>$O/$1.qemu.log 2>&1 &
	vm_pid=$!
}

# start_virqd: virqd with BPF, an empty config, its metrics on 127.0.0.1:9105; pid in $d.
start_virqd() {
	: >/tmp/virqd.conf
	./$B/bin/virqd --config /tmp/virqd.conf --socket $S --metrics 127.0.0.1:9105 >>$O/virqd.log 2>&1 &
	d=$!
	i=0
	while [ ! -S $S ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	stamp virqd-up
}
# stop_virqd: SIGTERM, its exit status in snaps.txt.
stop_virqd() {
	kill -TERM $d
	wait $d
	echo "virqd exit $?" >>$O/snaps.txt
	rm -f $S
}

# tests/nested/guest_storm.sh sources this file for the helpers above.
[ -n "${OBS_LIB:-}" ] && return 0

stamp l1-up
ip link set lo up
# KVM's per-VM stats in debugfs: what virqd reads for VMs of other processes (KVM refuses
# their KVM_GET_STATS_FD). An operator mounts it; virqd does not.
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
start_virqd
ctl --json status >$O/status.json 2>&1
emit status.json $O/status.json

# The HTTP server the L2 guests fetch from: 127.0.0.1 here is 10.0.2.2 in QEMU's user network.
mkdir -p /tmp/www
dd if=/dev/urandom of=/tmp/www/blob bs=64k count=4 2>/dev/null
httpd -p 127.0.0.1:8080 -h /tmp/www
hp=$(pidof httpd)

stamp vms-start
vm linux-l2 $O/A.console 2 320 $A_S /tmp/diskA.img
pa=$vm_pid
vm linux-b $O/B.console 1 256 $B_S /tmp/diskB.img
pb=$vm_pid
n=0 next=$(($(now_s) + EVERY)) b_done=0 a_seen=0 b_seen=0
while kill -0 $pa 2>/dev/null; do
	sleep 1
	if [ $a_seen = 0 ] && grep -q '@@workload-start@@' $O/A.console 2>/dev/null; then
		a_seen=1
		stamp A-workload-start
	fi
	if [ $b_seen = 0 ] && grep -q '@@workload-start@@' $O/B.console 2>/dev/null; then
		b_seen=1
		stamp B-workload-start
	fi
	if [ $b_done = 0 ] && ! kill -0 $pb 2>/dev/null; then
		wait $pb
		echo "B qemu exit $?" >>$O/snaps.txt
		b_done=1
		stamp B-exited
		sleep 2 # virqd's next discovery pass
		snap afterB
		next=$(($(now_s) + EVERY))
		continue
	fi
	if [ "$(now_s)" -ge $next ]; then
		n=$((n + 1))
		snap snap$n
		next=$(($(now_s) + EVERY))
	fi
	# A's guest time limit: boot + workload + slack, here in L1's clock.
	if [ "$(now_s)" -gt $((A_S + 400)) ]; then
		echo "A still running after $((A_S + 400)) s: killed" >>$O/snaps.txt
		kill $pa
	fi
done
wait $pa
echo "A qemu exit $?" >>$O/snaps.txt
stamp A-exited
if [ $b_done = 0 ]; then
	wait $pb
	echo "B qemu exit $? (after A)" >>$O/snaps.txt
fi
sleep 2
snap final
emit A.console $O/A.console
emit B.console $O/B.console
emit A.qemu.log $O/linux-l2.qemu.log
emit B.qemu.log $O/linux-b.qemu.log
kill $hp 2>/dev/null
stop_virqd
emit virqd.log $O/virqd.log
emit snaps.txt $O/snaps.txt
stamp done

