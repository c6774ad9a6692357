#!/bin/sh
# The /workload.sh of the guest-kernel boot test (tests/nested/test_boot_kernels.sh): Linux
# booted by virqd's own VMM. Prints what the test checks, between @@boot@@ markers, then
# powers off through ACPI (poweroff -f: PM1a_CNT SLP_EN with \_S5).
echo "@@boot@@ init uptime $(cut -d' ' -f1 /proc/uptime)"
echo "@@boot@@ online $(cat /sys/devices/system/cpu/online)"
# Work for every path: timer ticks (sleep), IPIs (work moved to CPU 1 and back), the
# serial line's IRQ 4 (this output goes through the 8250 driver's THRE interrupt).
i=0
while [ $i -lt 20 ]; do
	taskset -c 1 true 2>/dev/null
	taskset -c 0 true 2>/dev/null
	i=$((i + 1))
done
sleep 2
# The virtio-blk disk (virqd's PCI bus, MSI-X): a sector written, the cache dropped, read
# back from the device.
if [ -b /dev/vda ]; then
	echo virq-disk-check | dd of=/dev/vda bs=512 count=1 conv=sync 2>/dev/null
	sync
	echo 3 >/proc/sys/vm/drop_caches
	r=$(dd if=/dev/vda bs=512 count=1 2>/dev/null | tr -d '\000')
	[ "$r" = virq-disk-check ] && echo "@@boot@@ disk ok" || echo "@@boot@@ disk bad: $r"
else
	echo "@@boot@@ disk none"
fi
echo "@@boot@@ clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
echo "@@boot@@ interrupts"
cat /proc/interrupts
echo "@@boot@@ end"
poweroff -f
