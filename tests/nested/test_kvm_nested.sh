#!/usr/bin/env bash
# The KVM-backed tests on a real KVM when this host has none.
#
# When /dev/kvm is missing here (e.g. the host is itself a PVM guest), boot Debian's
# kernel under QEMU's TCG emulator with `-cpu max` (TCG emulates AMD SVM with nested
# paging), load kvm_amd inside it, and run the kvm layer, the BPF layer and the daemon's
# end-to-end C test (e2e/test_ctl) there. This is a real KVM (kvm_amd of the guest kernel, on emulated
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
# VIRQ_NESTED_RAW: repository scripts (e.g. bench/nested_bench.sh) run in the guest after
# the test programs, their output printed verbatim as "RAW <script>: <line>" (not TAP);
# VIRQ_NESTED_BINS: more $BUILD binaries they need. VIRQ_NESTED_ONLY=none runs no tests.
# VIRQ_NESTED_NET=HOSTPORT:GUESTPORT: an e1000 NIC on QEMU's user-mode network, the guest
# at 10.0.2.15 (the RAW script brings eth0 up), host 127.0.0.1:HOSTPORT forwarded to the
# guest's GUESTPORT. VIRQ_NESTED_CTL=PATH: FIFOs PATH.in/PATH.out made here are the guest's
# /dev/ttyS2, for the host to talk to a RAW script. VIRQ_NESTED_TAG: QEMU's -name.
# VIRQ_NESTED_QEMU=1: Debian's qemu-system-x86_64 inside too (binary, shared libraries, the
# firmware of `-machine pc -nodefaults -vga none` with -kernel: SeaBIOS, the linuxboot and
# multiboot option ROMs, the KVM vapic ROM), every busybox applet, and the files of the
# directory VIRQ_NESTED_IMAGES (L2 guest images: tests/guest/image/mkimage.sh) at
# /virq/images; the guest then gets VIRQ_NESTED_MEM MiB (default 3072, else 2048) for its
# own guests.
only=${VIRQ_NESTED_ONLY:-}
# The loss tests inject 1,000,000 MSIs per mode here too, as natively (about 25 s in the
# emulated guest); VIRQ_NESTED_LOSS_COUNT=N makes a quicker run.
guest_env="VIRQ_LOSS_COUNT=${VIRQ_NESTED_LOSS_COUNT:-1000000} ${VIRQ_NESTED_ENV:-}"
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
for p in "$BUILD"/tests/kvm/test_* "$BUILD"/tests/bpf/test_* "$BUILD"/tests/e2e/test_ctl; do
	[ -x "$p" ] && [ "${p%.[od]}" = "$p" ] || continue
	if [ -n "$only" ]; then
		case " $only " in *" ${p#"$BUILD"/tests/} "*) ;; *) continue ;; esac
	fi
	progs+=("$p")
done
[ ${#progs[@]} -gt 0 ] || [ -n "${VIRQ_NESTED_RAW:-}" ] ||
	{ echo "1..1"; echo "not ok 1 - no kvm/bpf/e2e test programs built in $BUILD"; exit 0; }
raw=()
for r in ${VIRQ_NESTED_RAW:-}; do
	[ -f "$r" ] || { echo "1..1"; echo "not ok 1 - VIRQ_NESTED_RAW: no $r"; exit 0; }
	mkdir -p "$root/virq/$(dirname "$r")"
	cp "$r" "$root/virq/$r"
	chmod +x "$root/virq/$r"
	raw+=("$r")
done
# shellcheck disable=SC2206
bins=("${progs[@]}" "$BUILD/bin/virqd" "$BUILD/bin/virqctl" ${VIRQ_NESTED_BINS:-})
for b in "${bins[@]}"; do
	mkdir -p "$root/virq/$(dirname "$b")"
	cp "$b" "$root/virq/$b"
done
# bash for RAW scripts written in it (scripts/demo.sh), at the paths shebangs name.
mkdir -p "$root/usr/bin"
cp -L /bin/bash "$root/bin/bash"
ln -s /bin/busybox "$root/usr/bin/env"
# Shared libraries, with the loader.
for lib in $(ldd "${bins[@]}" /bin/bash 2>/dev/null | awk '/=> \//{print $3} /^\s*\/lib64/{print $1}' | sort -u); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
cp /bin/busybox "$root/bin/busybox"
for a in sh mount insmod ls cat echo poweroff sleep timeout mkdir rm grep sed env id chmod mktemp kill sync pidof tr ip seq printf dirname basename head tail wc cut; do
	ln -s busybox "$root/bin/$a"
done
if [ -n "${VIRQ_NESTED_QEMU:-}" ]; then
	for a in $(busybox --list); do
		[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
	done
	qemu=$(command -v qemu-system-x86_64)
	cp "$qemu" "$root/usr/bin/qemu-system-x86_64"
	for lib in $(ldd "$qemu" | awk '/=> \//{print $3}' | sort -u); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
	# The firmware QEMU opens for these guests, where its firmware path looks (Debian:
	# /usr/share/qemu, then /usr/share/seabios); symlinks resolved. Each one is needed
	# (tried in the nested guest with one removed at a time): without kvmvapic.bin or
	# linuxboot_dma.bin a Linux -kernel guest prints nothing, without multiboot_dma.bin a
	# multiboot one does not start.
	mkdir -p "$root/usr/share/qemu" "$root/usr/share/seabios"
	cp -L /usr/share/seabios/bios-256k.bin "$root/usr/share/seabios/"
	for f in linuxboot_dma.bin multiboot_dma.bin kvmvapic.bin; do
		cp -L "/usr/share/qemu/$f" "$root/usr/share/qemu/"
	done
	if [ -n "${VIRQ_NESTED_IMAGES:-}" ]; then
		mkdir -p "$root/virq/images"
		cp -L "$VIRQ_NESTED_IMAGES"/* "$root/virq/images/"
	fi
fi
# kvm_amd and what it needs, in load order.
i=0
mods=(virt/lib/irqbypass.ko drivers/crypto/ccp/ccp.ko arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko)
[ -n "${VIRQ_NESTED_NET:-}" ] && mods+=(drivers/net/ethernet/intel/e1000/e1000.ko)
for m in "${mods[@]}"; do
	i=$((i + 1))
	f=$(ls /lib/modules/"$kver"/kernel/"$m"* 2>/dev/null | head -1)
	[ -n "$f" ] || { echo "1..0 # SKIP /lib/modules/$kver lacks $m"; exit 0; }
	case $f in
	*.xz) xz -dc "$f" >"$root/lib/modules/$i-$(basename "$m")" ;;
	*.zst) zstd -dcq "$f" >"$root/lib/modules/$i-$(basename "$m")" ;;
	*) cp "$f" "$root/lib/modules/$i-$(basename "$m")" ;;
	esac
done

# pname PROG: the name a program's lines carry (kvm/test_x for $BUILD/tests/kvm/test_x;
# a VIRQ_NESTED_RAW script by its path).
pname() { echo "${1#"$BUILD"/tests/}"; }

# make_init SYMS PROG...: the guest's /init running these programs, packed into the
# initrd; with SYMS=1 it first copies the kernel's text symbols to the second serial port
# (the symbols of an earlier frozen boot: same kernel, nokaslr, same addresses).
make_init() {
	local syms=$1
	shift
	{
		echo '#!/bin/sh'
		echo 'export PATH=/bin'
		echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev'
		echo 'mount -t tmpfs tmp /tmp; mount -t tmpfs run /run'
		echo 'mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null'
		echo 'for m in /lib/modules/*.ko; do insmod $m || echo "@@init@@ insmod $m failed"; done'
		echo '[ -e /dev/kvm ] && echo "@@init@@ KVM ready" || echo "@@init@@ NO-KVM"'
		echo 'cd /virq; export VIRQ_BUILD='"$BUILD"' CMOCKA_MESSAGE_OUTPUT=TAP VIRQ_NESTED=1 '"$guest_env"
		echo "HB=$(((freeze_s + 3) / 4))"
		[ "$syms" = 1 ] && echo "grep -E ' [tT] ' /proc/kallsyms >/dev/ttyS1"
		# stacks NAME PID: where every thread of PID waits, as the host's report prints it.
		cat <<-'EOF'
		stacks() {
			local th
			for th in /proc/$2/task/*; do
				echo "@@$1@@ # thread ${th##*/} $(cat $th/comm) state $(sed -n 's/^State:[[:space:]]*//p' $th/status) wchan $(cat $th/wchan)"
				sed "s|^|@@$1@@ #   |" $th/stack 2>/dev/null
			done
		}
		# run NAME TIMEOUT PROG: the program's output with its name, a heartbeat every
		# HB s (the host tells a slow test from a frozen guest by them); after TIMEOUT
		# seconds, its stacks and SIGKILL; a program that does not die (a thread stuck
		# in the kernel) is reported STUCK and the guest powers off, since KVM may be
		# wedged.
		run() {
			local t=0 pid=
			echo "@@$1@@ BEGIN"
			./$3 2>&1 | sed "s|^|@@$1@@ |" &
			while kill -0 $! 2>/dev/null; do
				sleep 1
				t=$((t + 1))
				[ $((t % HB)) -ne 0 ] || echo "@@hb@@ $1 ${t}s"
				[ -n "$pid" ] || pid=$(pidof ${3##*/})
				if [ $t -eq $2 ] && [ -n "$pid" ] && kill -0 $pid 2>/dev/null; then
					echo "@@$1@@ # timeout after $2 s: stacks, then SIGKILL"
					stacks $1 $pid
					kill -KILL $pid
				fi
				if [ $t -eq $(($2 + 30)) ]; then
					echo "@@$1@@ # still alive 30 s after SIGKILL:"
					stacks $1 $pid
					echo "@@$1@@ STUCK"
					sync
					poweroff -f
				fi
			done
			wait $!
			echo "@@$1@@ END"
		}
		EOF
		for p in "$@"; do
			echo "run $(pname "$p") $prog_timeout $p"
		done
		echo 'echo "@@init@@ DONE"; sync; poweroff -f'
	} >"$root/init"
	chmod +x "$root/init"
	(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd.gz"
}

# monitor SOCKET COMMAND: one QEMU monitor command; prints its answer.
monitor() {
	python3 - "$1" "$2" <<-'EOF'
	import socket, sys, time
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(10)
	s.connect(sys.argv[1])
	buf = b""
	def until_prompt():
	    global buf
	    while not buf.rstrip().endswith(b"(qemu)"):
	        buf += s.recv(65536)
	until_prompt()
	buf = b""
	s.sendall(sys.argv[2].encode() + b"\n")
	time.sleep(0.5)
	until_prompt()
	sys.stdout.write(buf.decode(errors="replace"))
	EOF
}

# cpu_report REGS SYMS: every emulated CPU's RIP, privilege level and, for kernel
# addresses, the symbol from SYMS (the guest's /proc/kallsyms text symbols, if a later
# boot got them). Tells a frozen L1 kernel (spinning in a function) from L1 never
# regaining control from its L2 guest (CPL 3 or low addresses: our firmware's).
cpu_report() {
	python3 - "$1" "$2" <<-'EOF'
	import bisect, re, sys
	syms = []
	try:
	    for line in open(sys.argv[2], errors="replace"):
	        f = line.split()
	        if len(f) >= 3 and f[1] in "tT":
	            syms.append((int(f[0], 16), f[2]))
	except (OSError, ValueError):
	    pass
	syms.sort()
	keys = [a for a, _ in syms]
	text = open(sys.argv[1], errors="replace").read()
	for block in re.split(r"\n(?=CPU#)", text):
	    num = re.match(r"CPU#(\d+)", block)
	    rip = re.search(r"RIP=([0-9a-f]+)", block)
	    cs = re.search(r"CS =([0-9a-f]+)", block)
	    hlt = re.search(r"HLT=(\d)", block)
	    if not rip or not num:
	        continue
	    cpu = int(num.group(1))
	    r = int(rip.group(1), 16)
	    i = bisect.bisect_right(keys, r) - 1
	    if r < 0xffff800000000000:
	        sym = "(user or L2 guest address)"
	    elif i >= 0:
	        sym = "%s+0x%x" % (syms[i][1], r - keys[i])
	    else:
	        sym = "(kernel; no symbols)"
	    print("# note:   CPU %d RIP %016x CPL %d HLT %s %s" % (
	        cpu, r, int(cs.group(1), 16) & 3 if cs else -1, hlt.group(1) if hlt else "?", sym))
	EOF
}

# boot LOG: one guest run; 0 when it powered off, 3 when it froze (no console output
# for $freeze_s s although the guest prints a heartbeat every 30 s: the CPUs' state is
# then appended to LOG.freeze), 4 at the overall deadline.
boot() {
	local log=$1 mon=$work/monitor.sock q last=-1 size idle=0 extra=() mem
	rm -f "$mon"
	if [ -n "${VIRQ_NESTED_NET:-}" ]; then
		extra+=(-nic "user,model=e1000,hostfwd=tcp:127.0.0.1:${VIRQ_NESTED_NET%%:*}-:${VIRQ_NESTED_NET##*:}")
	else
		extra+=(-nic none)
	fi
	if [ -n "${VIRQ_NESTED_CTL:-}" ]; then
		[ -p "$VIRQ_NESTED_CTL.in" ] || mkfifo "$VIRQ_NESTED_CTL.in" "$VIRQ_NESTED_CTL.out"
		extra+=(-serial "pipe:$VIRQ_NESTED_CTL")
	fi
	[ -n "${VIRQ_NESTED_TAG:-}" ] && extra+=(-name "$VIRQ_NESTED_TAG")
	mem=${VIRQ_NESTED_MEM:-$([ -n "${VIRQ_NESTED_QEMU:-}" ] && echo 3072 || echo 2048)}
	# Serial ports in order: ttyS0 console, ttyS1 kallsyms, then VIRQ_NESTED_CTL's ttyS2.
	# One emulated CPU (see "CPUs" above).
	# Clock: the TSC, as on a real KVM host. TCG's TSC follows QEMU's virtual clock, the
	# same for every emulated CPU, but the kernel's watchdog rejects it for TCG's jitter
	# and falls back to the HPET, where every clock read (bpf_ktime_get_ns, a VMM's
	# clock_gettime, no longer served by the vDSO) is an emulated device access costing
	# microseconds: that would make the tracing bench's clock reads weigh as no real host
	# has them weigh. VIRQ_NESTED_APPEND adds kernel parameters.
	qemu-system-x86_64 -machine q35 -accel tcg,thread=${VIRQ_NESTED_TCG_THREAD:-multi} \
		-cpu max -smp ${VIRQ_NESTED_SMP:-1} -m "$mem" -nographic -no-reboot -kernel "$kernel" \
		-initrd "$work/initrd.gz" -monitor "unix:$mon,server,nowait" -serial stdio \
		-serial "file:$work/kallsyms.$boots" "${extra[@]}" \
		-append "console=ttyS0 quiet loglevel=${VIRQ_NESTED_LOGLEVEL:-4} panic=-1 nokaslr clocksource=tsc tsc=reliable ${VIRQ_NESTED_APPEND:-}" \
		</dev/null >"$log" 2>&1 &
	q=$!
	while kill -0 $q 2>/dev/null; do
		sleep 5
		if [ -n "$freeze_at" ] && tr -d '\r' <"$log" | grep -aq "^@@$freeze_at@@ BEGIN"; then
			monitor "$mon" stop >/dev/null # self-test: freeze the guest here, once
			freeze_at=
		fi
		size=$(stat -c %s "$log" 2>/dev/null || echo 0)
		if [ "$size" != "$last" ]; then
			last=$size idle=0
		else
			idle=$((idle + 5))
		fi
		if [ $idle -ge "$freeze_s" ] || [ $SECONDS -ge $deadline ]; then
			monitor "$mon" "info registers -a" >"$log.regs" 2>&1
			kill $q 2>/dev/null
			sleep 2
			kill -9 $q 2>/dev/null
			wait $q 2>/dev/null
			[ $idle -ge "$freeze_s" ] && return 3
			return 4
		fi
	done
	wait $q
}

# --- run ------------------------------------------------------------------------------
# CPUs: the guest gets one emulated CPU (VIRQ_NESTED_SMP, VIRQ_NESTED_TCG_THREAD override).
# With two under multi-threaded TCG, runs froze with one CPU looping in exc_int3 and the
# other spinning (the kernel patching its own text with int3, text_poke_bp, when KVM or
# BPF flips a static key: it froze 3 times in one CI run); with two under single-threaded
# TCG, kernel-mode tests saw an MSI handled twice by the L2 guest (a duplicate injection
# by the emulated SVM). With one CPU neither was seen; the L2 guests' vCPU threads share it.
#
# A guest that stops printing for VIRQ_NESTED_FREEZE seconds (default 120) is frozen (the
# two-CPU freezes above; kept as a safety net). The CPUs' state is printed; the programs that did not finish run again in a fresh
# guest, at most VIRQ_NESTED_FREEZE_RETRIES (default 2) times per make check, and the
# report says so. A program that fails, times out or hangs inside the guest kernel is
# not retried.
freeze_s=${VIRQ_NESTED_FREEZE:-120}
# VIRQ_NESTED_SELFTEST_FREEZE=PROG: stop the guest's CPUs (QEMU monitor "stop") when PROG
# begins in the first boot, to exercise this path (tests/nested/test_nested_freeze.sh).
freeze_at=${VIRQ_NESTED_SELFTEST_FREEZE:-}
retries=${VIRQ_NESTED_FREEZE_RETRIES:-2}
deadline=$((SECONDS + timeout_s))
declare -A prog_log
notes=()
remaining=("${progs[@]}" "${raw[@]}")
frozen=() # "boot name" of each freeze
boots=0 qrc=0
: >"$work/all.txt"
while [ ${#remaining[@]} -gt 0 ]; do
	boots=$((boots + 1))
	make_init $((${#frozen[@]} > 0)) "${remaining[@]}"
	log=$work/console.$boots.log
	boot "$log"
	qrc=$?
	tr -d '\r' <"$log" >"$log.txt"
	{ echo "=== boot $boots (qemu rc $qrc)"; cat "$log.txt"; } >>"$work/all.txt"
	grep -aq '@@init@@ KVM ready' "$log.txt" || break
	left=()
	for p in "${remaining[@]}"; do
		name=${p#"$BUILD"/tests/}
		prog_log[$p]=$log.txt
		grep -aq "^@@$name@@ END" "$log.txt" || left+=("$p")
	done
	[ ${#left[@]} -gt 0 ] || break
	if [ $qrc -eq 3 ] && [ $retries -gt 0 ]; then
		retries=$((retries - 1))
		name=${left[0]#"$BUILD"/tests/}
		frozen+=("$boots $name")
		notes+=("# note: guest froze during $name (boot $boots, no output for ${freeze_s} s); it and the ${#left[@]} program(s) not finished ran again in a fresh guest")
		remaining=("${left[@]}")
		continue
	fi
	[ $qrc -eq 3 ] && frozen+=("$boots ${left[0]#"$BUILD"/tests/}") &&
		notes+=("# note: guest froze during ${left[0]#"$BUILD"/tests/} (boot $boots), no retry left")
	break
done
syms=$(ls -S "$work"/kallsyms.* 2>/dev/null | head -1)
for f in "${frozen[@]}"; do
	notes+=("# note: boot ${f%% *}, CPUs when ${f#* } froze:")
	while IFS= read -r l; do notes+=("$l"); done < <(cpu_report "$work/console.${f%% *}.log.regs" "${syms:-/dev/null}")
done
[ -n "${VIRQ_NESTED_LOG:-}" ] && cp "$work/all.txt" "$VIRQ_NESTED_LOG"

n=0
# No ^: the first console line starts with the firmware's terminal escapes.
if ! grep -aq '@@init@@ KVM ready' "$log.txt"; then
	echo "1..1"
	echo "not ok 1 - nested KVM did not come up (boot $boots, qemu rc $qrc)"
	grep -a '@@init@@' "$log.txt" | sed 's/^/# /'
	exit 0
fi
for p in "${progs[@]}"; do
	name=${p#"$BUILD"/tests/}
	lines=$(grep -a "^@@$name@@ " "${prog_log[$p]:-/dev/null}" | sed "s|^@@$name@@ ||")
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
	if ! printf '%s\n' "$lines" | grep -q '^END' ||
		printf '%s\n' "$lines" | grep -q '^# timeout after'; then
		n=$((n + 1))
		if printf '%s\n' "$lines" | grep -q '^STUCK'; then
			why="a thread stayed in the kernel after SIGKILL; the guest powered off"
		elif printf '%s\n' "$lines" | grep -q '^# timeout after'; then
			why="killed after ${prog_timeout} s"
		elif [ $qrc -eq 3 ]; then
			why="the guest froze (no output for ${freeze_s} s)"
		elif [ $qrc -eq 4 ]; then
			why="the nested run's ${timeout_s} s ran out"
		else
			why="the guest stopped, qemu rc $qrc"
		fi
		echo "not ok $n - nested $name did not finish ($why)"
	fi
	# Failure details and skip reasons, for the runner's log.
	printf '%s\n' "$lines" | grep -E '^#|SKIP reason' | head -40 | sed "s|^|# $name: |"
done
for r in "${raw[@]}"; do
	lines=$(grep -a "^@@$r@@ " "${prog_log[$r]:-/dev/null}" | sed "s|^@@$r@@ ||")
	printf '%s\n' "$lines" | grep -v '^BEGIN$' | sed "s|^|RAW $r: |"
	printf '%s\n' "$lines" | grep -q '^END' || echo "RAW $r: # did not finish (qemu rc $qrc)"
done
[ $boots -gt 1 ] && echo "# note: $boots guest boots"
for l in "${notes[@]}"; do echo "$l"; done
echo "1..$n"
