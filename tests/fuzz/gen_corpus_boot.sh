#!/usr/bin/env bash
# Seed corpora for tests/fuzz/fuzz_bzimage.c and tests/fuzz/fuzz_multiboot.c: small
# synthetic images, good and bad, written into tests/fuzz/corpus/{bzimage,multiboot}/
# (or DIR/bzimage, DIR/multiboot). `make check` replays them (replay_fuzz_*); files that
# libFuzzer adds (hash names) are left alone. The layouts follow the unit tests
# (tests/unit/test_boot_linux.c, test_boot_multiboot.c).
#
#   tests/fuzz/gen_corpus_boot.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-tests/fuzz/corpus}
mkdir -p "$dir/bzimage" "$dir/multiboot"
python3 - "$dir" <<'PY'
import struct, sys
d = sys.argv[1]

def w(sub, name, b):
    with open(f"{d}/{sub}/{name}", "wb") as f:
        f.write(bytes(b))

# --- bzImage: setup header at 0x1f1 (Documentation/arch/x86/boot.rst) ---
def bz(version=0x020f, sects=4, loadflags=1, reloc=1, xlf=3, pref=0x200000, init=0x100000,
       flag=0xaa55, magic=b"HdrS", klen=0x400):
    setup = ((sects or 4) + 1) * 512  # setup_sects 0 means 4
    b = bytearray(setup + klen)
    b[0x1f1] = sects
    struct.pack_into("<H", b, 0x1fe, flag)
    b[0x200] = 0xeb
    b[0x201] = 0x6a - 2
    b[0x202:0x206] = magic
    struct.pack_into("<H", b, 0x206, version)
    b[0x211] = loadflags
    struct.pack_into("<I", b, 0x214, 0x100000)
    struct.pack_into("<I", b, 0x22c, 0x7fffffff)
    struct.pack_into("<I", b, 0x230, 0x200000)
    b[0x234] = reloc
    struct.pack_into("<H", b, 0x236, xlf)
    struct.pack_into("<I", b, 0x238, 2047)
    struct.pack_into("<Q", b, 0x258, pref)
    struct.pack_into("<I", b, 0x260, init)
    for i in range(klen):
        b[setup + i] = (i * 7 + 1) & 0xff
    return b

w("bzimage", "good-2.15-64bit-pref", bz())
w("bzimage", "good-2.06-32bit", bz(version=0x0206, reloc=0, xlf=0, pref=0, init=0))
w("bzimage", "good-setup-sects-0", bz(sects=0))
w("bzimage", "bad-boot-flag", bz(flag=0x1234))
w("bzimage", "bad-no-hdrs", bz(magic=b"XdrS"))
w("bzimage", "bad-old-protocol", bz(version=0x0204))
w("bzimage", "bad-zimage", bz(loadflags=0))
w("bzimage", "bad-truncated", bz()[:0x240])
w("bzimage", "bad-init-size-huge", bz(init=0xfff00000, pref=0))

# --- Multiboot v1 (Multiboot Specification 0.6.96) ---
MB = 0x1badb002
def mbh(flags):
    return struct.pack("<III", MB, flags, (-(MB + flags)) & 0xffffffff)

def elf(cls, segs, entry, flags=3, hdr_at=0x200):
    phoff, phsz = (52, 32) if cls == 1 else (64, 56)
    size = 0x1000 * (len(segs) + 1)
    b = bytearray(size)
    b[0:4] = b"\x7fELF"
    b[4], b[5], b[6] = cls, 1, 1
    struct.pack_into("<HHI", b, 16, 2, 3 if cls == 1 else 62, 1)
    if cls == 1:
        struct.pack_into("<II", b, 24, entry, phoff)
        struct.pack_into("<HHH", b, 40, 52, phsz, len(segs))
    else:
        struct.pack_into("<QQ", b, 24, entry, phoff)
        struct.pack_into("<HHH", b, 52, 64, phsz, len(segs))
    for i, (paddr, filesz, memsz) in enumerate(segs):
        off = 0x1000 * (i + 1)
        o = phoff + i * phsz
        if cls == 1:
            struct.pack_into("<IIIIII", b, o, 1, off, paddr, paddr, filesz, memsz)
        else:
            struct.pack_into("<IIQQQQQ", b, o, 1, 7, off, paddr, paddr, filesz, memsz)
        for j in range(min(filesz, 0x1000)):
            b[off + j] = (i * 16 + j) & 0xff
    b[hdr_at:hdr_at + 12] = mbh(flags)
    return b

def aout(load_end=0x101000, bss_end=0x103000, entry=0x100100):
    b = bytearray(0x1000)
    b[0x40:0x4c] = mbh(0x10003)
    struct.pack_into("<IIIII", b, 0x4c, 0x100040, 0x100000, load_end, bss_end, entry)
    return b

w("multiboot", "good-elf32", elf(1, [(0x100000, 0x800, 0x3000), (0x200000, 0x100, 0x100)], 0x100010))
w("multiboot", "good-elf64", elf(2, [(0x100000, 0x400, 0x1000)], 0x100020))
w("multiboot", "good-aout-kludge", aout())
w("multiboot", "bad-checksum", elf(1, [(0x100000, 0x100, 0x100)], 0x100000)[:0x200] + b"\x02\xb0\xad\x1b\0\0\0\0\0\0\0\0")
w("multiboot", "bad-overlap", elf(1, [(0x100000, 0x800, 0x3000), (0x101000, 0x100, 0x100)], 0x100010))
w("multiboot", "bad-unknown-flag", elf(1, [(0x100000, 0x100, 0x100)], 0x100000, flags=0x8))
w("multiboot", "bad-beyond-ram", elf(1, [(0x3f0000, 0x100, 0x20000)], 0x3f0000))
w("multiboot", "bad-aout-truncated", aout(load_end=0x180000))
PY
ls "$dir/bzimage" "$dir/multiboot" | wc -l
