#!/usr/bin/env bash
# The KVM-backed tests on a real KVM when this host has none.
#
# When /dev/kvm is missing here (e.g. the host is itself a PVM guest), boot Debian's
# kernel under QEMU's TCG emulator with `-cpu max` (TCG emulates AMD SVM with nested
# paging), load kvm_amd inside it, and run the kvm layer, the BPF layer and the daemon's
# end-to-end C test there. This is a real KVM (kvm_amd of the guest kernel, on emulated
# SVM), not a simulation; it is a different KVM from the project's target host, so its
# results stand beside, not instead of, a run on a host with /dev/kvm.
#
# Prints TAP: every test line from inside, prefixed with the program's name. Host side
# needs qemu-system-x86, linux-image-amd64 and busybox-static (.ci/packages.txt).
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
timeout_s=${VIRQ_NESTED_TIMEOUT:-1800}
# VIRQ_NESTED_ONLY: space-separated programs to run (e.g. "kvm/test_vmm_vm bpf/test_trace_bpf");
# VIRQ_NESTED_PROG_TIMEOUT: seconds per program inside the guest;
# VIRQ_NESTED_LOG: keep the guest console log there; VIRQ_NESTED_ENV: extra VAR=value words
# exported inside the guest.
only=${VIRQ_NESTED_ONLY:-}
# Everything in the guest is emulated: the loss tests inject VIRQ_NESTED_LOSS_COUNT
# interrupts per mode there (they print the count); natively they inject 1,000,000.
guest_env="VIRQ_LOSS_COUNT=${VIRQ_NESTED_LOSS_COUNT:-20000} ${VIRQ_NESTED_ENV:-}"
prog_timeout=${VIRQ_NESTED_PROG_TIMEOUT:-600}

kernel=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -1)
kver=${kernel#/boot/vmlinuz-}
for need in qemu-system-x86_64 busybox cpio; do
	command -v $need >/dev/null || { echo "1..0 # SKIP $need missing (see .ci/packages.txt)"; exit 0; }
done
[ -n "$kernel" ] && [ -d "/lib/modules/$kver" ] ||
	{ echo "1..0 # SKIP no Debian kernel in /boot (package linux-image-amd64)"; exit 0; }

work=$(mktemp -d /tmp/virq-nested.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,proc,sys,dev,tmp,run,lib/modules,lib64,virq/$BUILD/bin,virq/$BUILD/tests}

# --- what runs inside -----------------------------------------------------------------
progs=()
# The daemon's e2e test (e2e/test_ctl) runs here only when named in VIRQ_NESTED_ONLY: its
# KVM cases passed in 4 of 5 completed nested runs; one timed scenario (test 16) failed once
# under TCG load and two runs stalled while the host was loaded, so it is not yet reliable
# enough for every make check.
for p in "$BUILD"/tests/kvm/test_* "$BUILD"/tests/bpf/test_* "$BUILD"/tests/e2e/test_ctl; do
	case $p in */e2e/*) [ -n "$only" ] || continue ;; esac
	[ -x "$p" ] && [ "${p%.[od]}" = "$p" ] || continue
	if [ -n "$only" ]; then
		case " $only " in *" ${p#"$BUILD"/tests/} "*) ;; *) continue ;; esac
	fi
	progs+=("$p")
done
[ ${#progs[@]} -gt 0 ] || { echo "1..1"; echo "not ok 1 - no kvm/bpf/e2e test programs built in $BUILD"; exit 0; }
bins=("${progs[@]}" "$BUILD/bin/virqd" "$BUILD/bin/virqctl")
for b in "${bins[@]}"; do
	mkdir -p "$root/virq/$(dirname "$b")"
	cp "$b" "$root/virq/$b"
done
# Shared libraries, with the loader.
for lib in $(ldd "${bins[@]}" 2>/dev/null | awk '/=> \//{print $3} /^\s*\/lib64/{print $1}' | sort -u); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
cp /bin/busybox "$root/bin/busybox"
for a in sh mount insmod ls cat echo poweroff sleep timeout mkdir rm grep sed env id chmod mktemp kill sync; do
	ln -s busybox "$root/bin/$a"
done
# kvm_amd and what it needs, in load order.
i=0
for m in virt/lib/irqbypass.ko drivers/crypto/ccp/ccp.ko arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko; do
	i=$((i + 1))
	f=$(ls /lib/modules/"$kver"/kernel/"$m"* 2>/dev/null | head -1)
	[ -n "$f" ] || { echo "1..0 # SKIP /lib/modules/$kver lacks $m"; exit 0; }
	case $f in
	*.xz) xz -dc "$f" >"$root/lib/modules/$i-$(basename "$m")" ;;
	*.zst) zstd -dcq "$f" >"$root/lib/modules/$i-$(basename "$m")" ;;
	*) cp "$f" "$root/lib/modules/$i-$(basename "$m")" ;;
	esac
done

{
	echo '#!/bin/sh'
	echo 'export PATH=/bin'
	echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev'
	echo 'mount -t tmpfs tmp /tmp; mount -t tmpfs run /run'
	echo 'mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null'
	echo 'for m in /lib/modules/*.ko; do insmod $m || echo "@@init@@ insmod $m failed"; done'
	echo '[ -e /dev/kvm ] && echo "@@init@@ KVM ready" || echo "@@init@@ NO-KVM"'
	echo 'cd /virq; export VIRQ_BUILD='"$BUILD"' CMOCKA_MESSAGE_OUTPUT=TAP VIRQ_NESTED=1 '"$guest_env"
	for p in "${progs[@]}"; do
		n=${p#"$BUILD"/tests/}
		echo "echo '@@$n@@ BEGIN'"
		echo "timeout -s KILL $prog_timeout ./$p 2>&1 | sed 's|^|@@$n@@ |'"
		echo "echo \"@@$n@@ END\""
	done
	echo 'echo "@@init@@ DONE"; sync; poweroff -f'
} >"$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd.gz"

# --- run ------------------------------------------------------------------------------
log=$work/console.log
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 -machine q35 -accel tcg,thread=multi \
	-cpu max -smp 2 -m 2048 -nographic -no-reboot -kernel "$kernel" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 quiet loglevel=${VIRQ_NESTED_LOGLEVEL:-4} panic=-1" >"$log" 2>&1
qrc=$?
tr -d '\r' <"$log" >"$log.txt"
[ -n "${VIRQ_NESTED_LOG:-}" ] && cp "$log.txt" "$VIRQ_NESTED_LOG"

n=0
# No ^: the first console line starts with the firmware's terminal escapes.
if ! grep -aq '@@init@@ KVM ready' "$log.txt"; then
	echo "1..1"
	echo "not ok 1 - nested KVM did not come up (qemu rc $qrc)"
	grep '@@init@@' "$log.txt" | sed 's/^/# /'
	exit 0
fi
for p in "${progs[@]}"; do
	name=${p#"$BUILD"/tests/}
	lines=$(grep -a "^@@$name@@ " "$log.txt" | sed "s|^@@$name@@ ||")
	body=$(printf '%s\n' "$lines" | grep -E '^(not )?ok [0-9]+' || true)
	while IFS= read -r l; do
		[ -n "$l" ] || continue
		n=$((n + 1))
		case $l in
		"not ok "*) st="not ok"; rest=${l#not ok } ;;
		*) st="ok"; rest=${l#ok } ;;
		esac
		rest=${rest#* } # drop the inner number
		rest=${rest#- }
		case $rest in
		"# SKIP"*) echo "$st $n # SKIP nested $name: ${rest#\# SKIP }" ;;
		*) echo "$st $n - nested $name: $rest" ;;
		esac
	done <<<"$body"
	if ! printf '%s\n' "$lines" | grep -q '^END'; then
		n=$((n + 1))
		echo "not ok $n - nested $name did not finish (timeout or guest crash; qemu rc $qrc)"
	fi
	# Failure details and skip reasons, for the runner's log.
	printf '%s\n' "$lines" | grep -E '^#|SKIP reason' | head -40 | sed "s|^|# $name: |"
done
echo "1..$n"
