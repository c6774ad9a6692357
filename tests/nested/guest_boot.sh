#!/bin/sh
# Runs INSIDE the nested guest (L1) for tests/nested/test_boot_kernels.sh (busybox sh):
# virqd's own VMM boots real guest kernels in each irqchip mode:
#   lx-MODE  Debian's kernel + the busybox initramfs of tests/guest/image/mkimage.sh with
#            boot_workload.sh, 2 vCPUs, until it powers off
#   mb-MODE  the Multiboot test kernel of tests/guest/multiboot (PIT, RTC, fw_cfg,
#            pc-testdev, isa-debug-exit), 2 vCPUs
# Output: blocks "@@file NAME@@" ... "@@end@@" per VM: its console, its vm.list entry, the
# virqctl exit status and the boot time.
export PATH=/bin:/usr/bin
B=${VIRQ_BUILD:-build}
S=/run/virqd.sock
I=/virq/images
O=/tmp/boot
MODES=${BOOT_MODES:-kernel split user}
mkdir -p $O
ctl() { ./$B/bin/virqctl --socket $S "$@"; }
emit() {
	echo "@@file $1@@"
	cat "$2" 2>/dev/null
	echo
	echo "@@end@@"
}
up_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
./$B/bin/virqd --socket $S --metrics off --no-bpf -l info >$O/virqd.log 2>&1 &
i=0
while [ ! -S $S ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
# run NAME TIMEOUT create-args...: create, follow the console to the end, record.
run() {
	n=$1 t=$2
	shift 2
	t0=$(up_ms)
	ctl vm create $n "$@" >$O/$n.create 2>&1
	echo "create rc=$?" >$O/$n.result
	timeout $t ./$B/bin/virqctl --socket $S vm console $n --follow >$O/$n.console 2>$O/$n.follow
	echo "follow rc=$?" >>$O/$n.result
	echo "boot_ms $(($(up_ms) - t0))" >>$O/$n.result
	ctl --json vm list >$O/$n.list 2>&1
	cat $O/$n.create $O/$n.follow >>$O/$n.result
	ctl vm destroy $n >/dev/null 2>&1
	emit $n.console $O/$n.console
	emit $n.result $O/$n.result
	emit $n.list $O/$n.list
}
for m in $MODES; do
	run mb-$m 120 --irqchip $m --vcpus 2 --mem 64 --kernel $I/mbtest.elf --append "cpus=2"
done
for m in $MODES; do
	run lx-$m 400 --irqchip $m --vcpus 2 --mem 256 --kernel $I/vmlinuz --initrd $I/initrd.gz \
		--append "console=ttyS0 panic=-1 i8042.noaux i8042.nokbd"
done
emit virqd.log $O/virqd.log
