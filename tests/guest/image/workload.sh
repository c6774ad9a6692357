#!/bin/sh
# The L2 guest's workload (busybox sh), run as /init's payload by an image of
# tests/guest/image/mkimage.sh. Everything goes to the console (ttyS0), which the VMM writes to
# a file; the markers below are what the host side parses:
#   @@workload-start@@ UPTIME NCPU       the workload begins (uptime in s)
#   @@irq-before@@ ... @@irq-end@@        /proc/interrupts before the workload
#   @@irq-after@@ ... @@irq-end@@         /proc/interrupts after it
#   @@workload-end@@ ELAPSED disk=N net=N pingpong=N   seconds it ran, work done
# Kernel command line parameters (passed to init as environment variables):
#   workload_seconds=N   run at least N s (default 30)
#   workload_http=IP:PORT  fetch http://IP:PORT/blob in a loop (e.g. 10.0.2.2:8080, a busybox
#                        httpd on the host's 127.0.0.1 through QEMU's user-mode network);
#                        without it, or when it fails, ping the user-mode gateway 10.0.2.2
# The three kinds of work run at once, so every interrupt path is busy together:
#   disk: O_DIRECT writes and reads of /dev/vda (dd oflag=direct/iflag=direct: each block
#         reaches the virtio-blk device, never the page cache);
#   net:  eth0 (virtio-net) at 10.0.2.15/24, HTTP fetches or pings to 10.0.2.2;
#   ipi:  two shells pinned to CPU 0 and CPU 1 passing a token through two FIFOs: each
#         hand-over wakes a task on the other CPU (a reschedule IPI when it sleeps there).
export PATH=/bin
secs=${workload_seconds:-30}
ncpu=$(grep -c '^processor' /proc/cpuinfo)
up() { cut -d' ' -f1 /proc/uptime; }
# now_s: whole seconds of uptime.
now_s() { up | cut -d. -f1; }
echo "@@workload-start@@ $(up) $ncpu"
echo "@@irq-before@@"
cat /proc/interrupts
echo "@@irq-end@@"
t0=$(now_s)
end=$((t0 + secs))

# ipi: a token between CPU 0 and the last CPU.
ipi_pid=
if [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
	mkfifo /tmp/ab /tmp/ba
	last=$((ncpu - 1))
	taskset -c "$last" sh -c 'while read -r x; do echo "$x"; done' </tmp/ab >/tmp/ba &
	echo_pid=$!
	taskset -c 0 sh -c '
		n=0
		exec 3>/tmp/ab 4</tmp/ba
		echo t >&3
		while [ "$(cut -d. -f1 /proc/uptime)" -lt '"$end"' ]; do
			i=0
			while [ $i -lt 200 ] && read -r x <&4; do echo "$x" >&3; i=$((i + 1)); done
			n=$((n + i))
		done
		echo $n >/tmp/pingpong.count
		exec 3>&-' &
	ipi_pid=$!
fi

# net
ip link set lo up
ip link set eth0 up 2>/dev/null && ip addr add 10.0.2.15/24 dev eth0 2>/dev/null &&
	ip route add default via 10.0.2.2 2>/dev/null
(
	n=0
	while [ "$(now_s)" -lt $end ]; do
		if [ -n "${workload_http:-}" ] &&
			wget -q -O /dev/null -T 5 "http://$workload_http/blob" 2>/dev/null; then
			n=$((n + 1))
		else
			ping -c 5 -i 0.2 -W 2 10.0.2.2 >/dev/null 2>&1 && n=$((n + 5))
		fi
	done
	echo $n >/tmp/net.count
) &
net_pid=$!

# disk, in this shell: 1 MiB written and read back directly per pass, at a moving offset.
n=0
if [ -b /dev/vda ]; then
	blocks=$(($(cat /sys/block/vda/size) / 128)) # 64 KiB blocks
	off=0
	while [ "$(now_s)" -lt $end ]; do
		dd if=/dev/urandom of=/dev/vda bs=64k count=16 seek=$off oflag=direct conv=notrunc 2>/dev/null
		dd if=/dev/vda of=/dev/null bs=64k count=16 skip=$off iflag=direct 2>/dev/null
		n=$((n + 1))
		off=$(((off + 16) % (blocks - 16)))
	done
else
	echo "@@workload@@ no /dev/vda"
	while [ "$(now_s)" -lt $end ]; do sleep 1; done
fi
echo $n >/tmp/disk.count
wait $net_pid
[ -n "$ipi_pid" ] && wait $ipi_pid && kill $echo_pid 2>/dev/null
t1=$(now_s)
echo "@@irq-after@@"
cat /proc/interrupts
echo "@@irq-end@@"
echo "@@workload-end@@ $((t1 - t0)) disk=$(cat /tmp/disk.count) net=$(cat /tmp/net.count 2>/dev/null) pingpong=$(cat /tmp/pingpong.count 2>/dev/null)"
sync
poweroff -f
