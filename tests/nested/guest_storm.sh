#!/bin/sh
# Runs INSIDE the nested guest (L1) after tests/nested/guest_observe.sh, in the same boot
# (VIRQ_NESTED_RAW names both), for tests/nested/test_observe_qemu.sh: the positive
# control on an observed VM. A fresh virqd, then QEMU runs tests/guest/storm (VM C,
# "storm": IOAPIC pin 10 level-triggered and held asserted through pc-testdev); snapshots
# storm1 (during) and storm.final (after), its console and QEMU's log as blocks, the
# snapshot list snaps.txt again (with the storm's lines). Its own script, so that a storm
# that stops the nested guest costs only this part (test_kvm_nested.sh re-runs an
# unfinished RAW script in a fresh boot when VIRQ_NESTED_FREEZE_RETRIES allows).
OBS_LIB=1 . ./tests/nested/guest_observe.sh
ip link set lo up
start_virqd
# The positive control: a level-triggered line held asserted (tests/guest/storm).
stamp storm-start
qemu-system-x86_64 -accel kvm -machine pc -name guest=storm -smp 1 -m 32 -nodefaults -vga none \
	-display none -no-reboot -serial file:$O/C.console -device pc-testdev \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel $I/storm.elf -append $STORM_COUNT \
	>$O/storm.qemu.log 2>&1 &
pc=$!
t=0
while kill -0 $pc 2>/dev/null && [ $t -lt 30 ]; do
	sleep 1
	t=$((t + 1))
	[ $t = 1 ] && snap storm1
	echo "@@storm@@ ${t}s"
done
if kill -0 $pc 2>/dev/null; then
	echo "C still running after 30 s: killed" >>$O/snaps.txt
	kill $pc
fi
wait $pc
echo "C qemu exit $? (isa-debug-exit with 0: 1)" >>$O/snaps.txt
stamp storm-exited
sleep 2
snap storm.final
emit C.console $O/C.console
emit C.qemu.log $O/storm.qemu.log

stop_virqd
emit virqd.log $O/virqd.log
emit snaps.txt $O/snaps.txt
stamp storm-done
