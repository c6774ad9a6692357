#!/usr/bin/env bash
# Seed corpora for tests/fuzz/fuzz_pit.c, tests/fuzz/fuzz_rtc.c and
# tests/fuzz/fuzz_virtio_blk.c: one file per scenario, named after it, in
# tests/fuzz/corpus/{pit,rtc,virtio_blk}/. Re-run after changing either target's
# input format; `make check` replays the result. Files libFuzzer adds are left alone.
#
#   tests/fuzz/gen_corpus_hw.sh
#
# PIT and RTC read 3-byte operations, virtio_blk 8-byte ones (see their header comments). Scenarios are built as
# hex text and turned into bytes only when written (a shell variable cannot hold NUL).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p tests/fuzz/corpus/pit tests/fuzz/corpus/rtc tests/fuzz/corpus/virtio_blk

hex=
o() { hex+=$(printf '%02x%02x%02x' "$1" "$2" "$3"); } # OP A B
emit() { # DIR NAME
	local out=tests/fuzz/corpus/$1/$2
	local i

	: >"$out"
	for ((i = 0; i < ${#hex}; i += 2)); do
		printf "\\x${hex:i:2}" >>"$out"
	done
	hex=
}

# --- PIT: op 0 write port[a%5] = b, 1 read, 2 time step (a<<8|b) << (op>>6)*4 ns
#     (bit 2: advance), 3 gate of counter a%3 = b&1. Ports: 0 0x40 .. 3 0x43, 4 0x61.
pw() { o 0 "$1" "$2"; }
pr() { o 1 "$1" 0; }
step() { o $((2 | ($1 << 6))) "$(($2 >> 8))" "$(($2 & 255))"; } # SHIFT/4 N

for mode in 0 1 2 3 4 5; do
	pw 3 $((0x30 | (mode << 1)))
	pw 0 100
	pw 0 0
	for _ in 1 2 3 4; do step 0 30000; pr 0; pr 0; done
	o 3 0 0
	step 0 500
	o 3 0 1
	step 1 40000
	pw 3 0xc2
	pr 0
	pr 0
	pr 0
	emit pit "mode$mode"
done
# Linux's quick_pit_calibrate on counter 2 through port 0x61
pw 4 1; pw 3 0xb0; pw 2 0xff; pw 2 0xff
for _ in $(seq 1 40); do pr 2; pr 2; step 0 2000; done
pr 4
emit pit linux_calibrate
# BCD, LSB only, MSB only, latch during a two-byte read, mode 2 reprogrammed mid-period
pw 3 0x35; pw 0 0x00; pw 0 0x01; step 0 5000; pr 0; pw 3 0x00; pr 0; pr 0; pr 0
pw 3 0x14; pw 0 7; step 0 9000; pw 3 0x24; pw 0 1; step 1 1000
pw 3 0x34; pw 0 50; pw 0 0; step 0 3000; pw 0 80; pw 0 0; step 0 60000; step 2 60000
emit pit rw_bcd_reprogram
# far behind: coalesced periods; read-back of all counters
pw 3 0x34; pw 0 2; pw 0 0; step 3 65535; step 3 65535
pw 3 0xce; pr 0; pr 1; pr 2; pw 3 0xde; pr 0; pr 1; pr 2
emit pit coalesce_readback

# --- RTC: op 0 index = a, 1 data = a, 2 read (a&1: 0x71), 3 time step (a<<8|b) <<
#     (4 + (op>>6)*4) ns. The first 3 bytes also seed the start time.
ri() { o 0 "$1" 0; }
rw() { o 1 "$1" 0; }
rr() { o 2 1 0; }
rstep() { o $((3 | ($1 << 6))) "$(($2 >> 8))" "$(($2 & 255))"; }

ri 0x0b; rw 0x12; for _ in 1 2 3; do rstep 3 8000; ri 0x0c; rr; done
emit rtc update_irq
ri 0x01; rw 0xc0; ri 0x03; rw 0xc0; ri 0x05; rw 0xc0; ri 0x0b; rw 0x22
for _ in 1 2 3; do rstep 3 16000; ri 0x0c; rr; done
emit rtc alarm_dont_care
ri 0x0a; rw 0x23; ri 0x0b; rw 0x42; for _ in $(seq 1 20); do rstep 1 4000; ri 0x0c; rr; done
ri 0x0a; rw 0x2f; rstep 3 65535; ri 0x0c; rr
emit rtc periodic
ri 0x0b; rw 0x86; ri 0x00; rw 59; ri 0x02; rw 59; ri 0x04; rw 23; ri 0x07; rw 28
ri 0x08; rw 2; ri 0x09; rw 99; ri 0x0b; rw 0x06; rstep 3 20000
for r in 0 2 4 6 7 8 9 0x32; do ri $r; rr; done
ri 0x0b; rw 0x00; ri 0x04; rr; ri 0x0a; rw 0x70; rstep 3 20000; ri 0x0a; rw 0x26
for _ in $(seq 1 10); do rstep 2 3000; ri 0x0a; rr; done
emit rtc calendar_12h_divider
ri 0x8f; rw 0xaa; rr; ri 0x15; rr; ri 0x5b; rr; ri 0x0d; rr; ri 0x7f; rw 0xff; rr
ri 0x00; rw 0xff; ri 0x04; rw 0xff; ri 0x07; rw 0x00; ri 0x08; rw 0xff; rstep 3 40000
emit rtc cmos_garbage

# --- virtio_blk: 8-byte ops OP A B C V (V 32-bit little-endian). 0/1 common cfg write/read
#     at B (size 1 << A&3), 2 RAM[A<<8|B] = V, 3 notify, 4 config write at B (size
#     1 << A%3), 5 MSI-X BAR write at A<<8|B, 6 reads, 7 canned driver init (queue size
#     1 << A%9, rings at B*0x100 + 0/0x1000/0x2000, C&1 MSI-X on, V low features).
o8() { hex+=$(printf '%02x%02x%02x%02x%02x%02x%02x%02x' "$1" "$2" "$3" "$4" \
	$(($5 & 255)) $((($5 >> 8) & 255)) $((($5 >> 16) & 255)) $((($5 >> 24) & 255))); }
ram() { o8 2 $(($1 >> 8)) $(($1 & 255)) 0 "$2"; } # GPA VALUE
d() { # INDEX ADDR LEN FLAGS NEXT: one descriptor of the table at 0
	ram $((16 * $1)) "$2"; ram $((16 * $1 + 4)) 0; ram $((16 * $1 + 8)) "$3"
	ram $((16 * $1 + 12)) $(($4 | ($5 << 16)))
}
hdr() { ram 0x4000 "$1"; ram 0x4004 0; ram 0x4008 "$2"; ram 0x400c 0; } # TYPE SECTOR
avail() { ram 0x1000 $(($1 << 16)); } # IDX (ring entries stay 0: head 0)
kick() { o8 3 0 0 0 0; }
init() { o8 7 4 0 "$1" 0x244; } # queue size 16, rings at 0/0x1000/0x2000; MSI-X if $1
isr() { o8 6 0 0 0 0; }

init 0
hdr 1 3; d 0 0x4000 16 1 1; d 1 0x5000 512 1 2; d 2 0x6000 1 2 0
ram 0x5000 0x11223344; ram 0x51fc 0x55667788; avail 1; kick; isr
hdr 0 3; d 1 0x5000 512 3 2; avail 2; kick; isr
hdr 4 0; d 0 0x4000 16 1 2; avail 3; kick
hdr 8 0; d 0 0x4000 16 1 1; d 1 0x5000 20 3 2; avail 4; kick; isr
hdr 0 16; avail 5; kick; hdr 42 0; avail 6; kick; isr
o8 6 1 0 0 0; o8 6 1 8 0 0; o8 6 1 20 0 0
emit virtio_blk write_read_flush_getid
init 1
hdr 4 0; d 0 0x4000 16 1 2; d 2 0x6000 1 2 0; avail 1; kick
o8 5 0 28 0 1; avail 2; kick; o8 6 2 0x80 0 0; o8 5 0 28 0 0
o8 4 0 0x87 0 0xc0; avail 3; kick; o8 4 0 0x87 0 0x80
o8 0 1 0x1a 0 0xffff; avail 4; kick; o8 4 0 0x87 0 0; avail 5; kick; isr
ram 0x1000 1; avail 6; ram 0x1000 0x00060001; kick
emit virtio_blk msix_mask_pba
init 0
hdr 1 0; d 0 0x4000 16 1 1; d 1 0x5000 512 1 0; avail 1; kick; kick; isr
init 0; d 0 0x4000 16 1 0; avail 1; kick
init 0; d 0 0x4000 16 4 0; avail 1; kick
init 0; d 0 0x4000 16 1 1; d 1 0xfff0 0x100 2 0; avail 1; kick
init 0; d 0 0x4000 16 1 1; d 1 0x6000 1 3 2; d 2 0x5000 512 1 0; avail 1; kick
init 0; d 0 0x4000 8 1 1; d 1 0x6000 1 2 0; avail 1; kick
init 0; d 0 0x4000 16 1 1; d 1 0x6000 1 2 0; avail 40; kick
init 0; avail 1; ram 0x1004 0x1234; kick
o8 7 4 0xf8 0 0x244; avail 1; kick
o8 7 8 0 0 0x244; avail 1; kick
emit virtio_blk bad_chains
init 0
o8 4 1 0x04 0 0; o8 4 2 0x20 0 0xffffffff; o8 4 2 0x24 0 0xffffffff; o8 6 3 0x20 0 0
o8 4 2 0x20 0 0xc0000000; o8 4 2 0x24 0 0; o8 4 2 0x14 0 0xffffffff
o8 4 2 0x14 0 0xc0004000; o8 4 1 0x04 0 7; o8 4 1 0x04 0 0x407
hdr 4 0; d 0 0x4000 16 1 2; d 2 0x6000 1 2 0; avail 1; kick; o8 4 1 0x04 0 7; isr
emit virtio_blk bar_moves_intx
for off in 0 4 8 12 16 18 20 21 22 24 26 28 30 32 40 48; do
	for sz in 0 1 2 3; do o8 1 $sz $off 0 0; done
	o8 0 2 $off 0x12 0xffffffff; o8 0 0 $off 0 1
done
o8 0 2 20 0 0; o8 0 0 20 0 3; o8 0 2 8 0 0; o8 0 2 12 0 0x244; o8 0 2 8 0 1
o8 0 2 12 0 1; o8 0 0 20 0 0xb; o8 1 0 20 0 0; o8 0 1 24 0 8; o8 0 3 32 0 0x100
o8 0 3 40 0 0x1000; o8 0 3 48 0 0x2000; o8 0 1 28 0 1; o8 0 0 20 0 0xf; o8 0 0 20 0 0
emit virtio_blk common_cfg_sweep
