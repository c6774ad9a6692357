#!/usr/bin/env bash
# virqd observing real QEMU VMs it did not start (issue 14).
# nested: always
# (Run on every host: a Linux guest under QEMU needs the nested guest's kvm_amd; on a PVM
# host's /dev/kvm ring-0 guest code is emulated instruction by instruction.)
#
# Inside the nested KVM guest (tests/nested/test_kvm_nested.sh with VIRQ_NESTED_QEMU=1),
# tests/nested/guest_observe.sh runs virqd, then Debian's qemu-system-x86_64 -accel kvm:
# two Linux guests at once (images of tests/guest/image/mkimage.sh running
# tests/guest/image/workload.sh: disk, network and IPI work, /proc/interrupts before and
# after); then tests/nested/guest_storm.sh runs the storm kernel (tests/guest/storm: a level
# line held asserted). Both take snapshots of every virqd surface. The guest's output blocks are split into files here
# and tests/nested/observe_check.py asserts on them (TAP).
#
# A freeze of the nested guest (120 s without output) boots it once more for the scripts
# that did not finish (VIRQ_NESTED_FREEZE_RETRIES=1): the storm has its own script for
# that; what the guest printed before a freeze is asserted on all the same, a missing part
# fails its assertions.
#
# VIRQ_OBSERVE_DUMP=DIR keeps the files (and the L1 console) in DIR; VIRQ_OBSERVE_CHECK=DIR
# only re-runs the assertions on an earlier dump. VIRQ_OBSERVE_A_SECONDS /
# VIRQ_OBSERVE_B_SECONDS: the two guests' workload lengths (default 30 and 10).
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
if [ -n "${VIRQ_OBSERVE_CHECK:-}" ]; then
	exec python3 tests/nested/observe_check.py "$VIRQ_OBSERVE_CHECK"
fi
for need in qemu-system-x86_64 busybox cpio python3 gzip; do
	command -v $need >/dev/null || { echo "1..0 # SKIP $need missing (see .ci/packages.txt)"; exit 0; }
done
for f in "$BUILD/bin/virqd" "$BUILD/bin/virqctl" "$BUILD/tests/guest/storm.elf"; do
	[ -f "$f" ] || { echo "1..0 # SKIP $f not built (make)"; exit 0; }
done
work=$(mktemp -d /tmp/virq-observe.XXXXXX)
trap 'rm -rf "$work"' EXIT
dump=${VIRQ_OBSERVE_DUMP:-$work/dump}
rm -rf "$dump"
mkdir -p "$dump"
t0=$SECONDS
if ! bash tests/guest/image/mkimage.sh "$work/images" tests/guest/image/workload.sh 16 \
	>"$dump/mkimage.log" 2>&1; then
	echo "1..1"
	echo "not ok 1 - tests/guest/image/mkimage.sh failed"
	sed 's/^/# /' "$dump/mkimage.log"
	exit 0
fi
cp "$BUILD/tests/guest/storm.elf" "$work/images/"
t_img=$SECONDS
VIRQ_NESTED_QEMU=1 VIRQ_NESTED_IMAGES="$work/images" VIRQ_NESTED_ONLY=none \
	VIRQ_NESTED_RAW="tests/nested/guest_observe.sh tests/nested/guest_storm.sh" VIRQ_NESTED_PROG_TIMEOUT=900 \
	VIRQ_NESTED_TIMEOUT=900 VIRQ_NESTED_FREEZE=${VIRQ_NESTED_FREEZE:-120} \
	VIRQ_NESTED_FREEZE_RETRIES=${VIRQ_NESTED_FREEZE_RETRIES:-1} VIRQ_NESTED_LOG="$dump/l1.console" \
	VIRQ_NESTED_ENV="OBS_A_SECONDS=${VIRQ_OBSERVE_A_SECONDS:-30} OBS_B_SECONDS=${VIRQ_OBSERVE_B_SECONDS:-10} ${VIRQ_NESTED_ENV:-}" \
	bash tests/nested/test_kvm_nested.sh >"$dump/nested.out" 2>&1
t_run=$SECONDS
if grep -q '^1..0 # SKIP' "$dump/nested.out"; then
	cat "$dump/nested.out"
	exit 0
fi
# The blocks: "RAW tests/nested/guest_observe.sh: @@file NAME@@" ... "@@end@@".
python3 - "$dump" <<-'PY'
import os, re, sys
d = sys.argv[1]
pre = re.compile(r"^RAW tests/nested/guest_(observe|storm)\.sh: ")
cur, buf, times = None, [], []
for line in open(os.path.join(d, "nested.out"), errors="replace"):
    line = line.rstrip("\n")
    m = pre.match(line)
    if not m:
        continue
    line = line[m.end():]
    m = re.match(r"^@@file (\S+)@@$", line)
    if m:
        cur, buf = m.group(1), []
        continue
    if line == "@@end@@" and cur:
        while buf and buf[-1] == "":
            buf.pop()
        with open(os.path.join(d, os.path.basename(cur)), "w") as f:
            f.write("\n".join(buf) + "\n")
        cur = None
        continue
    if cur:
        buf.append(line)
    elif line.startswith("@@time@@ "):
        times.append(line[9:])
with open(os.path.join(d, "times.txt"), "w") as f:
    f.write("\n".join(times) + "\n")
PY
{
	echo "host image_build_s $((t_img - t0))"
	echo "host nested_run_s $((t_run - t_img))"
} >"$dump/host_times.txt"
python3 tests/nested/observe_check.py "$dump"
