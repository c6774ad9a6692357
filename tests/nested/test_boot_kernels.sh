#!/usr/bin/env bash
# virqd's VMM boots real guest kernels in kernel, split and user irqchip mode (issue 15).
# nested: always
# (Linux at CPL0 needs a real KVM: on a PVM host's /dev/kvm ring-0 code is emulated
# instruction by instruction and 32-bit protected mode cannot iret.)
#
# Inside the nested KVM guest (tests/nested/test_kvm_nested.sh), tests/nested/guest_boot.sh
# runs virqd and, in each mode, with 2 vCPUs:
#   - the Multiboot test kernel (tests/guest/multiboot): 32-bit entry, the info block, the
#     PIT, the RTC, fw_cfg, pc-testdev, leaving through isa-debug-exit;
#   - Debian's kernel with a busybox initramfs (tests/guest/image/mkimage.sh running
#     tests/guest/image/boot_workload.sh) to /init, both CPUs up, timer, IPIs and the
#     serial IRQ 4 counted in /proc/interrupts, a virtio-blk disk on our PCI bus written
#     and read back through its MSI-X vectors, then an ACPI power-off.
# Each guest's console (virqctl vm console --follow) and vm.list entry come back in
# blocks; the checks are here (TAP). VIRQ_BOOT_DUMP=DIR keeps the files.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
for need in qemu-system-x86_64 busybox cpio python3 gzip; do
	command -v $need >/dev/null || { echo "1..0 # SKIP $need missing (see .ci/packages.txt)"; exit 0; }
done
mb=$BUILD/tests/guest/multiboot/kernel.elf
for f in "$BUILD/bin/virqd" "$BUILD/bin/virqctl" "$mb"; do
	[ -f "$f" ] || { echo "1..0 # SKIP $f not built (make)"; exit 0; }
done
work=$(mktemp -d /tmp/virq-boot.XXXXXX)
trap 'rm -rf "$work"' EXIT
dump=${VIRQ_BOOT_DUMP:-$work/dump}
rm -rf "$dump"
mkdir -p "$dump"
if ! bash tests/guest/image/mkimage.sh "$work/images" tests/guest/image/boot_workload.sh 8 \
	>"$dump/mkimage.log" 2>&1; then
	echo "1..1"
	echo "not ok 1 - tests/guest/image/mkimage.sh failed"
	sed 's/^/# /' "$dump/mkimage.log"
	exit 0
fi
cp "$mb" "$work/images/mbtest.elf"
VIRQ_NESTED_QEMU=1 VIRQ_NESTED_IMAGES="$work/images" VIRQ_NESTED_ONLY=none \
	VIRQ_NESTED_RAW="tests/nested/guest_boot.sh" VIRQ_NESTED_PROG_TIMEOUT=1500 \
	VIRQ_NESTED_TIMEOUT=1500 VIRQ_NESTED_LOG="$dump/l1.console" \
	VIRQ_NESTED_ENV="${VIRQ_NESTED_ENV:-}" \
	bash tests/nested/test_kvm_nested.sh >"$dump/nested.out" 2>&1
if grep -q '^1..0 # SKIP' "$dump/nested.out"; then
	cat "$dump/nested.out"
	exit 0
fi
python3 - "$dump" <<-'PY'
import os, re, sys
d = sys.argv[1]
pre = "RAW tests/nested/guest_boot.sh: "
cur, buf = None, []
for line in open(os.path.join(d, "nested.out"), errors="replace"):
    line = line.rstrip("\n")
    if not line.startswith(pre):
        continue
    line = line[len(pre):]
    m = re.match(r"^@@file (\S+)@@$", line)
    if m:
        cur, buf = m.group(1), []
        continue
    if line == "@@end@@" and cur:
        with open(os.path.join(d, cur), "w") as f:
            f.write("\n".join(buf) + "\n")
        cur = None
        continue
    if cur is not None:
        buf.append(line)
PY
exec python3 tests/nested/boot_check.py "$dump" ${BOOT_MODES:-kernel split user}
