#!/usr/bin/env bash
# Linux on virqd's VMM, per irqchip mode (issue 15): boot time to /init as a ratio within
# one run (user / kernel, split / kernel; target: user within 2x of kernel) and an idle
# Linux guest's userspace exits per second per vCPU (target: under 50 in user mode;
# tickless idle should need almost none). Always in the nested KVM guest of
# tests/nested/test_kvm_nested.sh: Linux's ring-0 code is emulated instruction by
# instruction on a PVM host's /dev/kvm. BENCH_BOOT_ROUNDS (default 2) rounds, the modes
# alternating; the median of each mode is reported. Writes $BUILD/bench/results/boot.json.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
res=$BUILD/bench/results
mkdir -p "$res"
for need in qemu-system-x86_64 busybox cpio jq; do
	command -v $need >/dev/null || { echo "skipped: $need missing"; echo '{"skipped":"'$need' missing"}' >"$res/boot.json"; exit 0; }
done
work=$(mktemp -d /tmp/virq-bboot.XXXXXX)
trap 'rm -rf "$work"' EXIT
if ! bash tests/guest/image/mkimage.sh "$work/images" tests/guest/image/idle_workload.sh 1 >"$work/mkimage.log" 2>&1; then
	cat "$work/mkimage.log"
	echo "bench_boot: mkimage failed"
	exit 1
fi
rm -f "$work/images/disk.img"
out=$(VIRQ_NESTED_QEMU=1 VIRQ_NESTED_IMAGES="$work/images" VIRQ_NESTED_ONLY=none \
	VIRQ_NESTED_RAW=bench/nested_boot.sh VIRQ_NESTED_PROG_TIMEOUT=2400 VIRQ_NESTED_TIMEOUT=2400 \
	VIRQ_NESTED_ENV="BOOT_ROUNDS=${BENCH_BOOT_ROUNDS:-2} BOOT_IDLE_SECONDS=${BENCH_BOOT_IDLE:-10} BOOT_MODES='${BENCH_BOOT_MODES:-kernel user split user-nopveoi}'" \
	bash tests/nested/test_kvm_nested.sh)
if printf '%s\n' "$out" | grep -q '^1..0 # SKIP'; then
	echo "skipped: $(printf '%s\n' "$out" | sed -n 's/^1..0 # SKIP //p')"
	exit 0
fi
raw=$(printf '%s\n' "$out" | sed -n 's|^RAW bench/nested_boot.sh: ||p')
if ! printf '%s\n' "$raw" | grep -q '^END$'; then
	printf '%s\n' "$out" | tail -20
	echo "bench_boot: the nested run did not finish"
	exit 1
fi
printf '%s\n' "$raw" | sed -n 's/^JSON boot //p' | jq -s '
  def median: sort | if length == 0 then null else .[(length / 2 | floor)] end;
  def rname: { "2": "io", "5": "hlt", "6": "mmio", "7": "irq_window", "10": "intr",
    "29": "rdmsr", "30": "wrmsr" }[.] // "reason \(.)";
  # per run: the idle window'"'"'s exits per reason (and kicks: eintr) and user mode'"'"'s
  # counters, per second per vCPU (the mean of the vCPUs), from the two vm.stats readings
  map(if .stats then . as $r | ($r.stats[0].exits | length) as $n | .breakdown =
      ([$r.stats[1].exits[] | (.by_reason | to_entries[]), { key: "eintr", value: .eintr }] as $b1 |
       [$r.stats[0].exits[] | (.by_reason | to_entries[]), { key: "eintr", value: .eintr }] as $b0 |
       ($b1 | group_by(.key) | map({ k: .[0].key, v: (map(.value) | add) })) as $e1 |
       ($b0 | group_by(.key) | map({ key: .[0].key, value: (map(.value) | add) }) | from_entries) as $e0 |
       $e1 | map({ k: (if .k == "eintr" then "eintr (kicks)" else (.k | rname) end),
                   v: ((.v - ($e0[.k] // 0)) * 1000 / $r.idle_ms / $n * 10 | round / 10) }))
    | .user = ([$r.stats[1].exits[] | .user // {} | to_entries[]] | group_by(.key) |
       map({ k: .[0].key, v: (map(.value) | add) }) | map(. as $u | { k: $u.k,
         v: (($u.v - ([$r.stats[0].exits[] | .user // {} | .[$u.k] // 0] | add)) * 1000 / $r.idle_ms / $n * 10 | round / 10) }))
    | del(.stats) else . end) |
  { nested: true, runs: .,
    modes: (map(select(.init_ms)) | group_by(.mode) | map({ (.[0].mode): {
      init_ms: (map(.init_ms) | median),
      idle_exits_per_s_per_vcpu: (map(.idle_exits[] * 1000 / .idle_ms) | median | . * 10 | round / 10),
      idle_by_reason_per_s_per_vcpu: (map(.breakdown) | add | group_by(.k) | map({ (.[0].k): (map(.v) | median) }) | add),
      idle_user_per_s_per_vcpu: (map(.user) | add | group_by(.k) | map({ (.[0].k): (map(.v) | median) }) | add) } }) | add) }' \
	>"$res/boot.json" || { echo "bench_boot: bad results"; printf '%s\n' "$raw"; exit 1; }
echo "(nested: kvm_amd inside QEMU TCG; boot times compare only as ratios within this run)"
jq -r '.runs[] | .idle_ms as $ms | "run \(.round) \(.mode): " + (if .init_ms then "/init after \(.init_ms) ms, idle userspace exits/s per vCPU \(.idle_exits | map(. * 1000 / $ms * 10 | round / 10))" else "FAILED \(.failed)" end)' "$res/boot.json" 2>/dev/null || true
jq -r '.modes | to_entries[] | "idle, \(.key): exits/s per vCPU by reason \(.value.idle_by_reason_per_s_per_vcpu | to_entries | map(select(.value != 0) | "\(.key) \(.value)") | join(", "))" +
  (if (.value.idle_user_per_s_per_vcpu // {} | length) > 0 then "; our irqchip per s per vCPU: \(.value.idle_user_per_s_per_vcpu | to_entries | map(select(.value != 0) | "\(.key) \(.value)") | join(", "))" else "" end)' "$res/boot.json"
jq -r '.modes as $m
  | "median /init ms: kernel \($m.kernel.init_ms), split \($m.split.init_ms), user \($m.user.init_ms)",
    "target: user/kernel boot \(($m.user.init_ms / $m.kernel.init_ms * 100 | round) / 100)x (goal <= 2: \(if $m.user.init_ms <= 2 * $m.kernel.init_ms then "met" else "NOT met" end)), split/kernel \(($m.split.init_ms / $m.kernel.init_ms * 100 | round) / 100)x",
    "target: idle userspace exits/s per vCPU, user \($m.user.idle_exits_per_s_per_vcpu) (goal < 50: \(if $m.user.idle_exits_per_s_per_vcpu < 50 then "met" else "NOT met" end)), split \($m.split.idle_exits_per_s_per_vcpu), kernel \($m.kernel.idle_exits_per_s_per_vcpu)",
    (if $m["user-nopveoi"] then "paravirtual EOI in user mode: idle exits/s per vCPU \($m.user.idle_exits_per_s_per_vcpu) with, \($m["user-nopveoi"].idle_exits_per_s_per_vcpu) without (--no-pv-eoi)" else empty end)' "$res/boot.json"
