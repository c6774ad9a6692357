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
    if mode == "user":
        check(dk.get("irqfd_signals", 1) == 0 and dk.get("msi_routes", 1) == 0,
              "%s: completions posted into our LAPIC, no irqfd" % n, str(dk))
    else:
        check(dk.get("irqfd_signals", 0) == dk.get("interrupts", -1) and
              1 <= dk.get("msi_routes", 0) <= 8,
              "%s: every completion through an irqfd on an MSI route" % n, str(dk))
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
        # Paravirtual EOI (KVM's MSR protocol, user.c): each CPU named its PV-EOI word
        # through MSR_KVM_PV_EOI_EN, and the timer's EOIs (an edge vector alone in
        # service) were taken from it, not written: fewer EOI exits than timer INTAs.
        try:
            us = [e.get("user") or {} for e in json.loads(read(n + ".stats"))["exits"]]
        except (ValueError, KeyError):
            us = []
        check(len(us) == 2 and all(u.get("pv_eoi_msr", 0) >= 1 and u.get("pv_eoi_taken", 0) > 0
                                   for u in us) and
              all(u.get("eoi_exits", 0) < a for u, a in zip(us, lv)),
              "%s: paravirtual EOI on both CPUs (MSR written, EOIs taken without an exit)" % n,
              str([{k: u.get(k) for k in ("pv_eoi_msr", "pv_eoi_set", "pv_eoi_taken",
                                          "eoi_exits")} for u in us]))
        extra += " pv_eoi=%s" % [(u.get("pv_eoi_taken"), u.get("eoi_exits")) for u in us]
    table.append("# table: %s boot_ms=%s LOC=%s RES+CAL+TLB=%s IRQ4=%s virtio=%s disk=%s%s" % (
        n, r.get("boot_ms"), loc, ipi, ser[0][1] if ser else None,
        [(k, c) for k, c, _ in msix], dk, extra))


# The disk through INTx (pci=nomsi): Linux routes INTA# by PCI0's _PRT to GSI 11, level,
# active low (IO-APIC 11-fasteoi); the level line goes through KVM's IOAPIC (kernel) or
# ours (split, user) with its remote IRR and EOIs, and the cross-check holds.
for mode in modes:
    n = "ix-" + mode
    con, v, r = read(n + ".console"), vm_entry(n), result(n)
    irq = interrupts(con)
    check(r.get("create") == 0 and "@@boot@@ init uptime" in con,
          "%s: Linux reached /init" % n, con[-600:])
    # drivers/acpi/pci_irq.c says these when no _PRT entry covers the pin
    nogsi = [l for l in con.splitlines() if "no GSI" in l or "can't derive routing" in l]
    check(not nogsi, "%s: INTA# routed by the _PRT (no \"no GSI\")" % n, "\n".join(nogsi))
    line = irq.get("11")
    check(line and sum(line[0]) > 0 and "IO-APIC" in line[1] and "fasteoi" in line[1] and
          "virtio" in line[1],
          "%s: virtio-blk interrupts on IO-APIC 11, level (fasteoi)" % n, str(line))
    check(not any("MSI" in rest and "virtio" in rest for _, (c, rest) in irq.items()),
          "%s: no MSI-X vector for the disk" % n)
    check("@@boot@@ disk ok" in con, "%s: virtio-blk sector written and read back" % n,
          "\n".join(l for l in con.splitlines() if "disk" in l or "virtio" in l)[-600:])
    dk = (v.get("platform") or {}).get("disk") or {}
    check(dk.get("interrupts", 0) > 0 and dk.get("errors", 1) == 0 and dk.get("irqfd_signals", 1) == 0,
          "%s: virqd's virtio-blk raised INTx, no irqfd, no error" % n, str(dk))
    check(v.get("exit_status") == 0 and "powered off" in v.get("reason", ""),
          "%s: powered off through ACPI" % n, "%s / %s" % (v.get("exit_status"), v.get("reason")))
    ok, bad, nrows = xc_ok(n, "end")
    check(ok, "%s: cross-check after the whole boot: %d checks, none lost/spurious/misrouted" % (
        n, nrows), "\n".join(bad))
    table.append("# table: %s boot_ms=%s IRQ11=%s disk=%s" % (
        n, r.get("boot_ms"), line, dk))


# vm compare of the Linux runs: interrupts by source per vCPU (vm.stats "sources",
# include/virq/irqsrc.h), counted at acceptance in every mode. The guest's own counts
# (/proc/interrupts: INTAs) are a floor of acceptances when the attribution is right: an
# acceptance either reaches the guest or merges into a pending one. Counts differ between
# modes (user mode runs longer, timing moves IPIs), so across modes only the presence of
# the sources every Linux boot has is asserted, and the timer's rough agreement (the same
# HZ over runs of 20-30 s): within 3x of the first mode's.
def sources(n):
    try:
        for e in json.loads(read("compare.json")):
            if e["vm"]["name"] == n:
                return e["stats"].get("sources") or {}
    except (ValueError, KeyError, TypeError):
        pass
    return {}


CORE = ("timer", "ipi", "gsi 4", "msi")
present, want_present, timer_all = {}, {}, {}
if len(modes) > 1:
    check("interrupts by source" in read("compare.txt"),
          "vm compare of the Linux runs prints the sources table", read("compare.txt")[-600:])
for mode in modes:
    if len(modes) < 2:
        break
    n = "lx-" + mode
    src = sources(n)
    vcs = src.get("vcpus") or []
    check(src.get("available") is True and len(vcs) == 2,
          "%s: interrupts by source available (from %s)" % (n, src.get("from")), str(src)[:400])
    irq = interrupts(read(n + ".console"))

    def tot(key):
        return sum((vc.get("gsi") or {}).get(key[4:], 0) if key.startswith("gsi ") else
                   vc.get(key, 0) for vc in vcs)
    loc = irq.get("LOC", ([], ""))[0]
    tm = [vc.get("timer", 0) for vc in vcs]
    check(len(tm) == 2 and all(t > 0 for t in tm) and len(loc) == 2 and
          all(t >= l for t, l in zip(tm, loc)),
          "%s: timer per vCPU %s > 0 and >= the guest's LOC %s" % (n, tm, loc))
    ser = sum(irq.get("4", ([0], ""))[0])
    msix = sum(sum(c) for k, (c, rest) in irq.items() if "MSI" in rest and "virtio" in rest)
    if src.get("from") == "lapic":
        # user mode: our LAPIC knows every acceptance's source exactly
        check(tot("gsi 4") > 0 and tot("gsi 4") >= ser,
              "%s: gsi 4 (serial) %d > 0 and >= the guest's IRQ 4 %d" % (n, tot("gsi 4"), ser))
        check(tot("msi") > 0 and tot("msi") >= msix,
              "%s: msi (virtio-blk MSI-X) %d > 0 and >= the guest's %d" % (n, tot("msi"), msix))
    else:
        # BPF attributes accepts by vector; Linux reuses a vector number for several
        # devices over a boot (and per CPU), and then the accepts of that vector are
        # "unknown" rather than guessed. What must hold: every device interrupt the
        # guest took is among the device-source accepts (ioapic + msi + unknown).
        dev = tot("ioapic") + tot("msi") + tot("unknown")
        check(dev >= ser + msix,
              "%s: device-source accepts (ioapic %d + msi %d + unknown %d) >= the guest's "
              "IRQ 4 %d + MSI-X %d" % (n, tot("ioapic"), tot("msi"), tot("unknown"), ser, msix))
    ipi = sum(sum(irq.get(k, ([0], ""))[0]) for k in ("RES", "CAL", "TLB"))
    check(tot("ipi") > 0, "%s: ipi %d > 0 (guest RES+CAL+TLB %d)" % (n, tot("ipi"), ipi))
    present[mode] = {k for k in (CORE if src.get("from") == "lapic" else CORE[:2]) if tot(k) > 0}
    want_present[mode] = set(CORE if src.get("from") == "lapic" else CORE[:2])
    timer_all[mode] = sum(tm)
    table.append("# table: %s sources %s timer_vector=%s unattributed=%s" % (
        n, {k: [vc.get(k, 0) for vc in vcs] for k in
            ("timer", "ipi", "init_sipi", "nmi", "ioapic", "msi", "extint", "lint",
             "lvt_other", "unknown")},
        src.get("timer_vector"), src.get("unattributed")))
    table.append("# table: %s gsi %s" % (n, [vc.get("gsi") for vc in vcs]))
if len(present) > 1:
    check(all(p == want_present[m] for m, p in present.items()),
          "timer and ipi appear in every mode, gsi 4 and msi in user mode", str(present))
    t0 = timer_all[modes[0]]
    check(t0 > 0 and all(t0 / 3 <= t <= 3 * t0 for t in timer_all.values()),
          "timer totals agree within 3x across modes %s" % timer_all)
for line in read("compare.txt").splitlines():
    table.append("# compare: " + line)

print("1..%d" % len(tests))
for i, (ok, what, why) in enumerate(tests, 1):
    print("%s %d - %s" % ("ok" if ok else "not ok", i, what))
    if not ok and why:
        for l in str(why).splitlines()[-12:]:
            print("#   " + l)
for t in table:
    print(t)
