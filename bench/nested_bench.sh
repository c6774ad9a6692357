#!/bin/sh
# Runs INSIDE the nested guest (bench/bench_nested.sh -> tests/nested/test_kvm_nested.sh
# with VIRQ_NESTED_RAW): the benchmark rows that need /dev/kvm, on kvm_amd under QEMU's
# TCG. busybox sh. Tables as the benchmarks print them, then one line per JSON result:
# "JSON <name> <document>".
B=${VIRQ_BUILD:-build}
./$B/bench/vmm /tmp/vmm.json || echo "bench/vmm failed: $?"
echo "JSON vmm $(tr -d '\n' </tmp/vmm.json)"
if k=$(./$B/bench/trace_bench --kvm); then
	echo "JSON trace_kvm $k"
else
	echo "bench/trace_bench --kvm failed: $?"
fi
