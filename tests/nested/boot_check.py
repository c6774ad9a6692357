#!/usr/bin/env python3
"""Assertions of tests/nested/test_boot_kernels.sh on the files guest_boot.sh sent back.

  boot_check.py DUMP MODE...

Per mode: the Multiboot test kernel's every check line is ok (its KVM hypercall checks
ran, none skipped, KICK_CPU answered as the mode's CPUID offers PV_UNHALT) and it left
through isa-debug-exit with status 1 (no failure); Linux found the PCI root bridge through
our DSDT and reached /init with both CPUs online,
counted timer, IPI and serial (IRQ 4) interrupts on the IOAPIC in /proc/interrupts and
powered off through ACPI. Prints TAP and `# table:` lines with the per-mode figures.
"""
import json
import os
import re
import sys

d, modes = sys.argv[1], sys.argv[2:]
tests = []
MB_CHECKS = 38  # the Multiboot test kernel's check lines (tests/guest/multiboot/main.c)


def check(ok, what, why=""):
    tests.append((bool(ok), what, why))


def read(name):
    try:
        return open(os.path.join(d, name), errors="replace").read()
    except OSError:
        return ""


def vm_entry(name):
    try:
        for v in json.loads(read(name + ".list"))["vms"]:
            if v["name"] == name:
                return v
    except (ValueError, KeyError):
        pass
    return {}


def result(name):
    r = {}
    for line in read(name + ".result").splitlines():
        m = re.match(r"^(\S+)(?: rc=| )(-?\d+)$", line)
        if m:
            r[m.group(1)] = int(m.group(2))
    return r


def interrupts(text):
    """/proc/interrupts between the markers: {label: (per-cpu counts, rest of the line)}."""
    m = re.search(r"@@boot@@ interrupts\n(.*?)@@boot@@ end", text, re.S)
    out = {}
    if not m:
        return out
    lines = m.group(1).splitlines()
    ncpu = len(lines[0].split()) if lines else 0
    for line in lines[1:]:
        f = line.split()
        if not f or not f[0].endswith(":"):
            continue
        counts = []
        for x in f[1:1 + ncpu]:
            if x.isdigit():
                counts.append(int(x))
        out[f[0][:-1]] = (counts, " ".join(f[1 + len(counts):]))
    return out


BAD = ("lost", "spurious", "misrouted")


def xc_ok(name, label):
    """The cross-check of VM `name` at `label`: some checks, none lost/spurious/misrouted."""
    try:
        j = json.loads(read("%s.xc_%s" % (name, label)))
    except ValueError:
        return False, ["no JSON: " + read("%s.xc_%s" % (name, label))[:300]], 0
    rows = [c for c in j.get("checks", []) if c.get("vm") == name]
    bad = ["%s %s %s: expected %s observed %s %s" % (c.get("path"), c.get("kind"), c.get("verdict"),
                                                  c.get("expected"), c.get("observed"), c.get("detail"))
           for c in rows if c.get("verdict") in BAD]
    return bool(rows) and not bad, bad[:12] or ([] if rows else ["no checks for " + name]), len(rows)


def ledger_vec(name, vector):
    """Our LAPIC's INTA count of `vector` per vCPU (user mode's guest ledger)."""
    try:
        j = json.loads(read(name + ".ledger"))
    except ValueError:
        return []
    out = []
    for vc in j.get("vcpus", []):
        out.append(sum(r["received"] for r in vc.get("vectors", []) if r["vector"] == vector))
    return out


table = []
for mode in modes:
    n = "mb-" + mode
    con, v, r = read(n + ".console"), vm_entry(n), result(n)
    lines = [l for l in con.splitlines() if l.startswith("ok - ") or l.startswith("not ok - ")]
    bad = [l for l in lines if l.startswith("not ok")]
    check(r.get("create") == 0, "%s: vm create" % n, read(n + ".result")[:300])
    check(len(lines) == MB_CHECKS and not bad,
          "%s: every check of the Multiboot kernel is ok (%d of %d)" % (n, len(lines), MB_CHECKS),
          "; ".join(bad)[:400] or con[-400:])
    hc = [l for l in lines if l.startswith("ok - KVM hypercall")]
    check(len(hc) == 3 and not any("# SKIP" in l for l in hc),
          "%s: the 3 KVM hypercall checks ran on KVM (not skipped)" % n, "\n".join(hc) or con[-400:])
    # kernel/split: leaf 0x40000001 is KVM's own, PV_UNHALT offered, the kick answered 0;
    # user: withdrawn (no in-kernel LAPIC), KVM holds the guest to it: -KVM_ENOSYS.
    want = ("withdrawn", "0xfffffc18") if mode == "user" else ("offered", "0x0")
    m = re.search(r"# note: KVM PV features (\S+) \(PV_UNHALT (\w+)\): KICK_CPU of APIC ID (\d+) "
                  r"returned (\S+)", con)
    check(m and (m.group(2), m.group(4)) == want,
          "%s: KICK_CPU with PV_UNHALT %s returned %s" % (n, want[0], want[1]),
          m.group(0) if m else con[-400:])
    check("virq-mbtest: %d checks, 0 failed" % len(lines) in con, "%s: summary line" % n, con[-300:])
    check(v.get("exit_status") == 1, "%s: left through isa-debug-exit with status 1" % n,
          "%s / %s" % (v.get("exit_status"), v.get("reason")))
    check(r.get("follow") == 0, "%s: virqctl vm console --follow exits 0" % n, read(n + ".result")[-300:])
    table.append("# table: %s checks=%d failed=%d boot_ms=%s" % (n, len(lines), len(bad), r.get("boot_ms")))

    n = "lx-" + mode
    con, v, r = read(n + ".console"), vm_entry(n), result(n)
    irq = interrupts(con)
    check(r.get("create") == 0, "%s: vm create" % n, read(n + ".result")[:300])
    check("@@boot@@ init uptime" in con, "%s: Linux reached /init" % n, con[-600:])
    # drivers/acpi/pci_root.c: bus 0 found through our DSDT's PNP0A03, not pci=noacpi's scan,
    # and its BAR window is the one of PCI0's _CRS
    check("ACPI: PCI Root Bridge [PCI0] (domain 0000 [bus 00-ff])" in con,
          "%s: Linux found the PCI root bridge PCI0 through ACPI" % n,
          "\n".join(l for l in con.splitlines() if "PCI" in l or "pci" in l)[-600:])
    check(re.search(r"pci_bus 0000:00: root bus resource \[mem 0xc0000000-0xfebfffff window\]", con),
          "%s: bus 0's memory window is PCI0's _CRS (0xc0000000-0xfebfffff)" % n,
          "\n".join(l for l in con.splitlines() if "root bus resource" in l)[-600:])
    m = re.search(r"@@boot@@ online (\S+)", con)
    check(m and m.group(1) == "0-1", "%s: both CPUs online" % n, m.group(1) if m else con[-300:])
    loc = irq.get("LOC", ([], ""))[0]
    check(len(loc) == 2 and all(c > 0 for c in loc), "%s: LAPIC timer on both CPUs %s" % (n, loc))
    ipi = [sum(irq.get(k, ([0], ""))[0]) for k in ("RES", "CAL", "TLB")]
    check(sum(ipi) > 0, "%s: IPIs (RES+CAL+TLB %s)" % (n, ipi))
    ser = [(k, c, rest) for k, (c, rest) in irq.items() if k == "4"]
    check(ser and sum(ser[0][1]) > 0 and "IO-APIC" in ser[0][2],
          "%s: serial IRQ 4 through the IOAPIC" % n, str(ser))
    check("@@boot@@ disk ok" in con, "%s: virtio-blk sector written and read back" % n,
          "\n".join(l for l in con.splitlines() if "disk" in l or "virtio" in l)[-600:])
    msix = [(k, c, rest) for k, (c, rest) in irq.items() if "MSI" in rest and "virtio" in rest]
    check(msix and sum(sum(c) for _, c, _ in msix) > 0, "%s: virtio MSI-X interrupts %s" % (
        n, [(k, c) for k, c, _ in msix]))
    dk = (v.get("platform") or {}).get("disk") or {}
    check(dk.get("requests", 0) > 0 and dk.get("errors", 1) == 0 and dk.get("interrupts", 0) > 0,
          "%s: virqd's virtio-blk counted requests and interrupts, no error %s" % (n, dk))
    check(dk.get("notify_eventfds", 0) > 0 and dk.get("notify_exits", 1) == 0,
          "%s: every queue notification came through the ioeventfd, none exited" % n, str(dk))
    check(v.get("exit_status") == 0 and "powered off" in v.get("reason", ""),
          "%s: powered off through ACPI" % n, "%s / %s" % (v.get("exit_status"), v.get("reason")))
    for label in ("mid", "end"):
        ok, bad, nrows = xc_ok(n, label)
        check(ok, "%s: cross-check %s boot: %d checks, none lost/spurious/misrouted" % (
            n, "during the" if label == "mid" else "after the whole", nrows), "\n".join(bad))
    extra = ""
    if mode == "user":
        # LOCAL_TIMER_VECTOR (0xec, arch/x86/include/asm/irq_vectors.h): our LAPIC's INTA
        # count per vCPU at the end is the guest's LOC count plus the ticks between its
        # /proc/interrupts read and the power-off (under a second: at most HZ 250).
        lv = ledger_vec(n, 0xEC)
        check(len(lv) == 2 and len(loc) == 2 and all(0 <= a - b <= 300 for a, b in zip(lv, loc)),
              "%s: our LAPIC's timer INTAs %s match the guest's LOC %s (+0..300)" % (n, lv, loc))
        extra = " lapic_inta_0xec=%s" % lv
    table.append("# table: %s boot_ms=%s LOC=%s RES+CAL+TLB=%s IRQ4=%s virtio=%s disk=%s%s" % (
        n, r.get("boot_ms"), loc, ipi, ser[0][1] if ser else None,
        [(k, c) for k, c, _ in msix], dk, extra))

print("1..%d" % len(tests))
for i, (ok, what, why) in enumerate(tests, 1):
    print("%s %d - %s" % ("ok" if ok else "not ok", i, what))
    if not ok and why:
        for l in str(why).splitlines()[-12:]:
            print("#   " + l)
for t in table:
    print(t)
