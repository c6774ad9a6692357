#!/usr/bin/env bash
# Seed corpus for tests/fuzz/fuzz_lapic.c: one file per scenario, named after it, written
# into DIR (default tests/fuzz/corpus/lapic). Re-run it after changing the input format of
# the target, then `make check` replays the result (replay_fuzz_lapic). Files that
# libFuzzer adds (hash names) are left alone.
#
#   tests/fuzz/gen_corpus_lapic.sh [DIR]
#
# The byte format is the one LLVMFuzzerTestOneInput() parses: one config byte, then
# operations of one op byte (low nibble: operation, high nibble % 3: CPU, bit 7: pin,
# host flag or logical flag) and big-endian arguments. The scenario is built as hex
# text and only turned into bytes when written: a shell variable cannot hold a NUL byte,
# so building raw bytes in variables silently drops every 0x00 (the config byte of an
# all-defaults scenario first among them) and shifts the whole input.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-tests/fuzz/corpus/lapic}
mkdir -p "$dir"

hex=
b() { # BYTES VALUE: append VALUE big-endian in BYTES bytes
	local i
	for ((i = $1 - 1; i >= 0; i--)); do
		hex+=$(printf '%02x' $((($2 >> (8 * i)) & 0xFF)))
	done
}

# Config byte: 1 KVM vector hashing, 2 x2APIC supported, 4 CMCI, 8 directed EOI,
# 0x10 TSC-deadline (3 GHz TSC), 0x20 25 MHz APIC bus.
conf() { hex=; b 1 "$1"; }

# Op byte for operation KIND on CPU; with FLAG, bit 7 is set and the high nibble is the
# one in 8..15 that still selects CPU (the target takes it modulo 3).
op() { # KIND CPU [FLAG]
	local hi=$2

	if [ "${3:-0}" = 1 ]; then
		case $2 in 0) hi=9 ;; 1) hi=10 ;; 2) hi=8 ;; esac
	fi
	b 1 $(((hi << 4) | $1))
}

mmio_w() { op 1 "$1"; b 1 $(($2 >> 4)); b 4 "$3"; } # CPU OFF VAL (SVR writes keep bit 8)
mmio_w_raw() { op 0 "$1"; b 1 $(($2 >> 4)); b 4 "$3"; } # CPU OFF VAL, SVR as written
mmio_r() { op 2 "$1"; b 2 "$2"; }                        # CPU OFF
# CPU M VAL: M = MSR - 0x800, or 0xFF IA32_TSC_DEADLINE, 0xFE IA32_APIC_BASE
msr_w() { op 3 "$1"; b 1 "$2"; b 8 "$3"; }
msr_r() { op 4 "$1"; b 1 "$2"; }           # CPU M
# Bus message: VEC DM DEST [logical] [level] [deassert] [rh] [x2] [sh=N] [src=N]
msg() {
	local r=$(($1 | ($2 << 8))) dest=$3 a
	shift 3
	local level=1
	for a in "$@"; do
		case $a in
		logical) r=$((r | 1 << 11)) ;;
		level) r=$((r | 1 << 12)) ;;
		deassert) level=0 ;;
		rh) r=$((r | 1 << 16)) ;;
		x2) r=$((r | 1 << 17)) ;;
		sh=*) r=$((r | ${a#sh=} << 14)) ;;
		src=*) r=$((r | ${a#src=} << 18)) ;;
		*) echo "msg: unknown option $a" >&2 && exit 1 ;;
		esac
	done
	r=$((r | level << 13 | dest << 24))
	op 5 0
	b 6 "$r"
}
ack() { op 7 "$1"; }
eoi() { op 8 "$1"; }
tick() { op 9 0; b 2 "$1"; } # advance every LAPIC's clock by N * 97 ns
lint() { op 10 "$1" "$2"; b 1 "$3"; } # CPU PIN LEVEL
take_ev() { op 11 "$1"; }
snap() { op 11 "$1" 1; } # CPU: save a snapshot, or restore the one saved before
apic_base() { op 12 "$1" "${3:-0}"; b 1 $(($2 >> 8)); } # CPU VALUE[11:8] [HOST]
pic_int() { op 13 0; b 1 "$1"; }
vcpu_state() { op 14 "$1"; b 1 "$2"; } # 0 running, 1 wait-for-SIPI, 2 halted
resolve() { op 15 0 "${2:-0}"; b 1 "$1"; } # lowest-priority resolve of DEST [LOGICAL]

enable_all() { # software-enable every LAPIC (SVR = 0x1FF) in xAPIC mode
	mmio_w 0 0xF0 0x1FF
	mmio_w 1 0xF0 0x1FF
	mmio_w 2 0xF0 0x1FF
}

x2_all() { # every LAPIC to x2APIC mode (xAPIC -> x2APIC, SDM 11.12.5) and enabled
	apic_base 0 0xD00
	msr_w 0 0x0F 0x1FF
	apic_base 1 0xC00
	msr_w 1 0x0F 0x1FF
	apic_base 2 0xC00
	msr_w 2 0x0F 0x1FF
}

emit() { # NAME: write the scenario built since conf()
	local f=$dir/$1 i
	for ((i = 0; i < ${#hex}; i += 2)); do
		printf "\\x${hex:i:2}"
	done >"$f"
	[ "$(stat -c %s "$f")" -eq $((${#hex} / 2)) ] || { echo "$f: short write" >&2 && exit 1; }
}

# --- scenarios (SDM Vol. 3A chapter 11 unless noted) --------------------------------------
conf 0; enable_all; msg 0x41 0 0; ack 0; eoi 0; emit enable_fixed_ack_eoi
conf 0; enable_all; msg 0x40 0 0 level; ack 0; eoi 0; emit level_eoi
conf 8; enable_all; mmio_w 0 0xF0 0x11FF; msg 0x48 0 0 level; ack 0; eoi 0; emit directed_eoi
conf 0; enable_all; msg 0x31 0 0; ack 0; msg 0x61 0 0; ack 0; eoi 0; eoi 0; emit nested
conf 0; enable_all; mmio_w 0 0x80 0x50; msg 0x45 0 0; ack 0; mmio_w 0 0x80 0; ack 0; eoi 0
emit tpr_blocks
conf 0; enable_all; mmio_w 0 0xF0 0x1E7; ack 0; emit spurious
conf 0; enable_all; mmio_w 0 0x40 1; mmio_r 0 0x50; mmio_w 0 0x280 0; emit esr_reserved_reg
conf 0; enable_all; msg 0x05 0 0; mmio_w 0 0x280 0; mmio_w 0 0x370 0x33; msg 0x02 0 0
emit illegal_vec
conf 0; enable_all; mmio_w 0 0x320 0x44; mmio_w_raw 0 0xF0 0xFF; mmio_w 0 0x320 0x44
msg 0x44 0 0; emit svr_disable
conf 4; enable_all; mmio_w 0 0x2F0 0x49; mmio_w 0 0x2A0 1; emit cmci
conf 0; enable_all; vcpu_state 0 2; msg 0 4 0; take_ev 0; emit halt_wake
conf 0; enable_all; msg 0x80 0 0; ack 0; msg 0x90 0 0; msg 0 5 0; take_ev 0; emit init_discards
conf 0; enable_all; mmio_w 1 0x20 0; msg 0x75 0 0; emit id_collision

# IPIs through the ICR (SDM 11.6.1).
conf 0; enable_all; mmio_w 0 0x310 0x01000000; mmio_w 0 0x300 0x4055; ack 1; emit icr_fixed
conf 0; enable_all; mmio_w 0 0x310 0x01000000; mmio_w 0 0x300 0x4400; mmio_w 0 0x300 0x4200
take_ev 1; emit icr_nmi_smi
conf 0; enable_all; mmio_w 0 0x310 0x02000000; mmio_w 0 0x300 0x4500; take_ev 2
mmio_w 0 0x300 0x4699; take_ev 2; emit icr_init_sipi
conf 0; enable_all; mmio_w 1 0x300 0x40066; mmio_w 1 0x300 0x80067; mmio_w 1 0x300 0xC0068
emit icr_shorthands

# Destinations (SDM 11.6.2).
conf 0; enable_all; mmio_w 0 0xD0 0x01000000; mmio_w 1 0xD0 0x02000000
mmio_w 2 0xD0 0x04000000; msg 0x70 0 3 logical; emit logical_flat
conf 0; enable_all
for c in 0 1 2; do mmio_w $c 0xE0 0x0FFFFFFF; mmio_w $c 0xD0 $(((0x10 | 1 << c) << 24)); done
msg 0x71 0 0x13 logical; emit logical_cluster
conf 0; enable_all; mmio_w 0 0x80 0x30; msg 0x72 1 0xFF; resolve 0xFF; emit lowest
conf 1; enable_all; msg 0x73 1 0xFF; msg 0x74 1 0xFF; emit kvm_hash

# LINT pins (SDM 11.5.1) and the PIC's virtual wire.
conf 0; enable_all; mmio_w 1 0x350 0x8046; lint 1 0 1; ack 1; eoi 1; ack 1; lint 1 0 0; eoi 1
emit lint0_level
conf 0; enable_all; mmio_w 0 0x360 0x400; lint 0 1 1; lint 0 1 0; take_ev 0; emit lint1_nmi
conf 0; enable_all; pic_int 1; ack 0; pic_int 0; emit lint_extint

# Timer (SDM 11.5.4).
conf 0; enable_all; mmio_w 0 0x3E0 0xB; mmio_w 0 0x320 0x50; mmio_w 0 0x380 1000; tick 20; ack 0
emit timer_oneshot
conf 0; enable_all; mmio_w 0 0x320 0x20051; mmio_w 0 0x380 100; tick 5; tick 300; ack 0; eoi 0
tick 9; emit timer_periodic
conf 0x10; enable_all; mmio_w 0 0x320 0x40052; msr_w 0 0xFF 5000; tick 100; emit timer_tscdl
conf 0; enable_all; mmio_w 0 0x320 0x20053; mmio_w 0 0x380 5000; tick 3; mmio_w 0 0x3E0 3
tick 90; emit tdcr_change

# x2APIC (SDM 11.12) and IA32_APIC_BASE transitions (SDM 11.12.5).
conf 2; apic_base 0 0xD00; apic_base 0 0x900; apic_base 0 0x100; apic_base 0 0x800
apic_base 0 0x900; emit apic_base_cycle
conf 2; apic_base 0 0xD00; msr_w 0 0x0F 0x1FF; msr_w 0 0x30 0x100000060; msr_w 0 0x3F 0x61
msr_r 0 0x0A; emit x2apic
conf 2; apic_base 0 0xD00; msr_w 0 0x02 1; msr_w 0 0x0B 1; msr_w 0 0x30 0x1000; msr_r 0 0x0E
emit x2apic_gp
conf 2; x2_all; msg 0x62 0 5 logical x2; emit x2_cluster_msg

# Priority caches (irr_sum/isr_sum/ppr): vectors in several 32-bit words, TPR moves while
# vectors are in service, and every way IRR/ISR are cleared wholesale.
conf 0; enable_all
for v in 0x21 0x9F 0xE5 0x40 0x5E; do msg $v 0 0; done
ack 0; mmio_w 0 0x80 0xE0; ack 0; mmio_w 0 0x80 0x10; ack 0; ack 0; eoi 0; ack 0; eoi 0
eoi 0; mmio_r 0 0xA0; eoi 0; eoi 0; eoi 0; ack 0; eoi 0; emit isr_across_words
conf 0; enable_all; msg 0x30 0 0; msg 0xF0 0 0; ack 0; msg 0x50 0 0 level
msg 0 5 0; take_ev 0; ack 0; eoi 0; emit init_with_isr
conf 0; enable_all; msg 0x81 0 0; ack 0; msg 0x82 0 0; apic_base 0 0x100; ack 0
apic_base 0 0x900; mmio_w 0 0xF0 0x1FF; msg 0x83 0 0; ack 0; eoi 0; emit disable_with_isr
conf 2; x2_all; msg 0x66 0 0; msr_w 0 0x08 0x70; msr_r 0 0x0A; msr_w 0 0x3F 0x77; ack 0
msr_w 0 0x0B 0; msr_w 0 0x08 0; ack 0; msr_w 0 0x0B 0; msr_w 0 0x0B 0; emit x2_tpr_self_ipi

conf 0; enable_all; msg 0x41 0 0; msg 0xA3 0 0; ack 0; snap 0; eoi 0; msg 0xC2 0 0; ack 0
snap 0; ack 0; eoi 0; eoi 0; emit restore_older_state

echo "wrote $(ls "$dir" | wc -l) files to $dir"
