#!/bin/sh
# Runs INSIDE the nested guest (L1) for tests/nested/test_boot_kernels.sh (busybox sh):
# virqd's own VMM boots real guest kernels in each irqchip mode:
#   lx-MODE  Debian's kernel + the busybox initramfs of tests/guest/image/mkimage.sh with
#            boot_workload.sh, 2 vCPUs, until it powers off
#   ix-MODE  the same with pci=nomsi: the disk interrupts through INTx (the DSDT's _PRT)
#   mb-MODE  the Multiboot test kernel of tests/guest/multiboot (PIT, RTC, fw_cfg,
#            pc-testdev, isa-debug-exit), 2 vCPUs
# Output: blocks "@@file NAME@@" ... "@@end@@" per VM: its console, its vm.list entry, the
# virqctl exit status, the boot time, a cross-check while it runs and one at the end, and
# vm.ledger (our LAPIC's INTA/EOI ledger in user mode), vm.stats; then `vm compare` of the
# Linux runs (text and JSON). virqd runs with its BPF tracer.
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
./$B/bin/virqd --socket $S --metrics off -l info >$O/virqd.log 2>&1 &
i=0
while [ ! -S $S ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
# run NAME TIMEOUT create-args...: create, follow the console to the end, record.
run() {
	n=$1 t=$2
	shift 2
	: >$O/$n.console
	t0=$(up_ms)
	ctl vm create $n "$@" >$O/$n.create 2>&1
	echo "create rc=$?" >$O/$n.result
	# A cross-check while it boots (after XC_MID s), and one of the whole run at the end.
	(sleep ${XC_MID:-8}; ctl --json crosscheck $n >$O/$n.xc_mid 2>&1) &
	xcpid=$!
	# The console goes to the host as it comes, too ("@@live NAME@@ line"): progress
	# for the nested runner's freeze detector, and what a hang looked like.
	{
		timeout $t ./$B/bin/virqctl --socket $S vm console $n --follow 2>$O/$n.follow
		echo $? >$O/$n.rc
	} | while IFS= read -r l; do
		echo "$l" >>$O/$n.console
		echo "@@live $n@@ $l"
	done
	echo "follow rc=$(cat $O/$n.rc)" >>$O/$n.result
	echo "boot_ms $(($(up_ms) - t0))" >>$O/$n.result
	wait $xcpid
	ctl --json vm list >$O/$n.list 2>&1
	ctl --json crosscheck $n >$O/$n.xc_end 2>&1
	ctl --json vm ledger $n >$O/$n.ledger 2>&1
	ctl --json vm stats $n >$O/$n.stats 2>&1
	cat $O/$n.create $O/$n.follow >>$O/$n.result
	# The Linux VMs stay (stopped) for the vm compare at the end.
	case $n in lx-*) ;; *) ctl vm destroy $n >/dev/null 2>&1 ;; esac
	emit $n.console $O/$n.console
	emit $n.result $O/$n.result
	emit $n.list $O/$n.list
	emit $n.xc_mid $O/$n.xc_mid
	emit $n.xc_end $O/$n.xc_end
	emit $n.ledger $O/$n.ledger
	emit $n.stats $O/$n.stats
}
for m in $MODES; do
	run mb-$m 120 --irqchip $m --vcpus 2 --mem 64 --kernel $I/mbtest.elf --append "cpus=2"
done
for m in $MODES; do
	run lx-$m 400 --irqchip $m --vcpus 2 --mem 256 --kernel $I/vmlinuz --initrd $I/initrd.gz \
		--disk $I/disk.img --append "console=ttyS0 panic=-1 i8042.noaux i8042.nokbd"
done
# The three Linux runs side by side (interrupts by source per vCPU included).
lx=
for m in $MODES; do lx="$lx lx-$m"; done
ctl --json vm compare $lx >$O/compare.json 2>&1
ctl vm compare $lx >$O/compare.txt 2>&1
emit compare.json $O/compare.json
emit compare.txt $O/compare.txt
for n in $lx; do ctl vm destroy $n >/dev/null 2>&1; done
# The disk without MSI-X (pci=nomsi): its INTA# on GSI 11, which Linux finds in PCI0's
# _PRT and programs level-triggered, active low; virtio-blk's ISR read de-asserts it.
for m in $MODES; do
	run ix-$m 400 --irqchip $m --vcpus 2 --mem 256 --kernel $I/vmlinuz --initrd $I/initrd.gz \
		--disk $I/disk.img --append "console=ttyS0 panic=-1 i8042.noaux i8042.nokbd pci=nomsi"
done
ctl --json metrics >$O/metrics.json 2>&1
emit metrics.json $O/metrics.json
emit virqd.log $O/virqd.log
