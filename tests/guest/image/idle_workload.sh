#!/bin/sh
# The /workload.sh of the boot benchmark (bench/bench_boot.sh): marks /init, idles for
# idle_seconds (kernel command line, default 10) between two markers, powers off.
echo "@@bench@@ init $(cut -d' ' -f1 /proc/uptime)"
echo "@@bench@@ idle-start"
sleep "${idle_seconds:-10}"
echo "@@bench@@ idle-end"
poweroff -f
