#!/bin/sh
# Runs INSIDE the nested guest (bench/bench_boot.sh -> tests/nested/test_kvm_nested.sh with
# VIRQ_NESTED_RAW and the images of tests/guest/image/mkimage.sh + idle_workload.sh):
# Linux boots on virqd's VMM in each irqchip mode, BOOT_ROUNDS rounds with the modes
# alternating. Per run, one line "JSON boot {...}": ms from vm.create to the guest's /init
# marker on its console, and each vCPU's userspace exits (the VMM's, all reasons) during
# the guest's idle_seconds of idle, as rates.
export PATH=/bin:/usr/bin
B=${VIRQ_BUILD:-build}
S=/run/virqd.sock
I=/virq/images
O=/tmp/bb
IDLE=${BOOT_IDLE_SECONDS:-10}
mkdir -p $O
ctl() { ./$B/bin/virqctl --socket $S "$@"; }
up_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
# exits VM FILE: "e0 e1" (userspace exits per vCPU: every exit reason, and the KVM_RUN
# calls a kick cut short with -EINTR), and vm.stats' exits (with user mode's counters)
# in FILE, one line.
exits() {
	ctl --json vm stats $1 | tr -d '\n' | sed 's/.*"exits":/{"exits":/' >$2
	awk '{
		n = split($0, parts, "\"eintr\":")
		for (i = 2; i <= n; i++) {
			p = parts[i]; s = p + 0
			b = p; sub(/^[^{]*\{/, "", b); sub(/\}.*/, "", b)
			m = split(b, kv, ",")
			for (j = 1; j <= m; j++) { x = kv[j]; sub(/^[^:]*:/, "", x); s += x }
			printf "%s%d", sep, s; sep = " "
		}
		print ""
	}' $2
}
./$B/bin/virqd --socket $S --metrics off --no-bpf -l warning >$O/virqd.log 2>&1 &
i=0
while [ ! -S $S ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
r=0
while [ $r -lt ${BOOT_ROUNDS:-2} ]; do
	r=$((r + 1))
	for m in ${BOOT_MODES:-kernel user split}; do
		n=b$r-$m
		t0=$(up_ms)
		# MODE-nopveoi: the same without paravirtual EOI (--no-pv-eoi)
		x=
		case $m in *-nopveoi) x=--no-pv-eoi ;; esac
		ctl vm create $n --irqchip ${m%-nopveoi} $x --vcpus 2 --mem 256 --kernel $I/vmlinuz --initrd $I/initrd.gz \
			--append "console=ttyS0 quiet panic=-1 i8042.noaux i8042.nokbd idle_seconds=$((IDLE + 3))" >/dev/null || {
			echo "create $n failed"
			continue
		}
		tinit= e0= e1=
		# Follow the console; stamp the markers as they arrive.
		# The idle window is measured inside the guest's sleep: from 1 s after its
		# idle-start marker (the marker's own serial output done) for IDLE s; the guest
		# sleeps IDLE + 3 s, so its idle-end marker falls outside too.
		timeout 400 ./$B/bin/virqctl --socket $S vm console $n --follow 2>/dev/null | {
			while IFS= read -r l; do
				case $l in
				*"@@bench@@ init"*) echo "init $(($(up_ms) - t0))" >$O/$n.init ;;
				*"@@bench@@ idle-start"*)
					(
						sleep 1
						echo "$(up_ms) $(exits $n $O/$n.s0)" >$O/$n.e0
						sleep $IDLE
						echo "$(up_ms) $(exits $n $O/$n.s1)" >$O/$n.e1
					) &
					;;
				esac
			done
			wait
		}
		tinit=$(cut -d' ' -f2 $O/$n.init 2>/dev/null)
		set -- $(cat $O/$n.e0 2>/dev/null) x x x
		a_t=$1 a0=$2 a1=$3
		set -- $(cat $O/$n.e1 2>/dev/null) x x x
		b_t=$1 b0=$2 b1=$3
		state=$(ctl --json vm list | grep -A3 "\"name\":.*\"$n\"" | sed -n 's/.*"reason":[[:space:]]*"\(.*\)".*/\1/p')
		if [ -n "$tinit" ] && [ "$a_t" != x ] && [ "$b_t" != x ]; then
			echo "JSON boot {\"mode\":\"$m\",\"round\":$r,\"init_ms\":$tinit,\"idle_ms\":$((b_t - a_t)),\"idle_exits\":[$((b0 - a0)),$((b1 - a1))],\"reason\":\"$state\",\"stats\":[$(cat $O/$n.s0),$(cat $O/$n.s1)]}"
		else
			echo "JSON boot {\"mode\":\"$m\",\"round\":$r,\"failed\":\"init=$tinit e0=$a_t e1=$b_t $state\"}"
		fi
		ctl vm destroy $n >/dev/null 2>&1
	done
done
echo END
