#!/usr/bin/env bash
# `virqctl vm compare` renders vm.stats "sources" (include/virq/irqsrc.h): a row per source
# (timer, ipi, gsi N, msi, ...), a column per vCPU and VM, ratios against the first VM,
# and "unavailable (why)" instead of zeros for a VM without them. The VMs (a Linux guest
# in kernel mode through BPF, in user mode through our LAPIC, one whose BPF is off) cannot
# run on a host without /dev/kvm, so the daemon here is a stand-in answering with canned
# replies in the daemon's format (tests/e2e/fake_daemon.py); the real daemon's replies are
# checked by tests/nested/boot_check.py on real KVM. TAP.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
dir=$(mktemp -d /tmp/virq-cmpsrc-XXXXXX)
S=$dir/s.sock
python3 - "$dir/replies.json" <<'PY'
import json, sys
def vm(i, name, mode):
    return {"id": i, "name": name, "irqchip": mode, "boot": "linux", "state": "stopped",
            "vcpus": 2, "run_ms": 20000 + i * 1000}
def src(frm, v0, v1, **kw):
    o = {"counted": "acceptance", "from": frm, "available": True,
         "vcpus": [dict(vcpu=0, **v0), dict(vcpu=1, **v1)]}
    o.update(kw)
    return o
k = src("bpf", {"timer": 1400, "ipi": 93, "msi": 0, "ioapic": 21, "gsi": {"4": 18, "2": 3}},
        {"timer": 1200, "ipi": 721, "msi": 6, "ioapic": 0, "gsi": {}},
        timer_vector=0xec, unattributed={"extint": 2})
u = src("lapic", {"timer": 2100, "ipi": 80, "msi": 0, "ioapic": 19, "extint": 3,
                  "gsi": {"4": 16, "2": 3}},
        {"timer": 1700, "ipi": 900, "msi": 6, "ioapic": 0, "gsi": {}})
off = {"counted": "acceptance", "from": "bpf", "available": False,
       "reason": "no BPF tracer: disabled by configuration"}
r = {"vm.list": {"vms": [vm(1, "l-kernel", "kernel"), vm(2, "l-user", "user"),
                         vm(3, "l-split", "split")]}}
for name, s in (("l-kernel", k), ("l-user", u), ("l-split", off)):
    r["vm.stats " + name] = {"kvm": [], "exits": [], "sources": s}
    r["vm.ledger " + name] = {"guest_ledger": "none", "vcpus": []}
json.dump(r, open(sys.argv[1], "w"))
PY
python3 tests/e2e/fake_daemon.py "$S" "$dir/replies.json" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do [ -S "$S" ] && break; sleep 0.1; done
ctl() { "$BUILD/bin/virqctl" --socket "$S" "$@"; }
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; shift; printf '# %s\n' "$@"; }
out=$(ctl vm compare l-kernel l-user l-split 2>&1)
rc=$?
row() { echo "$out" | grep -E "^$1 " | head -1 | tr -s ' '; }
[ $rc = 0 ] && echo "$out" | grep -q '^interrupts by source' && ok "vm compare prints the sources table" ||
	nok "vm compare (rc $rc)" "$out"
# kernel: vcpu0 vcpu1 all | user: vcpu0 vcpu1 all | split: - - n/a | ratios user, split
case "$(row timer)" in
"timer 1400 1200 2600 2100 1700 3800 - - n/a 1.46x -") ok "timer per vCPU, the VM's total, ratio; n/a for the VM without" ;;
*) nok "timer row" "$(row timer)" ;;
esac
case "$(row 'gsi 4')" in
"gsi 4 18 0 18 16 0 16 - - n/a 0.89x -") ok "gsi 4 (serial) per vCPU" ;;
*) nok "gsi 4 row" "$(row 'gsi 4')" ;;
esac
[ -n "$(row 'gsi 2')" ] && ok "gsi 2 (PIT) row present" || nok "no gsi 2 row" "$out"
case "$(row extint)" in
"extint 0 0 2 3 0 3 - - n/a 1.50x -") ok "extint known VM-wide only (kernel mode) counts in the VM's total" ;;
*) nok "extint row" "$(row extint)" ;;
esac
[ -z "$(row lint)" ] && ok "rows zero in every VM are left out" || nok "lint row shown" "$(row lint)"
echo "$out" | grep -q '^l-split: sources unavailable (no BPF tracer: disabled by configuration)$' &&
	ok "a VM without sources says why" || nok "no reason line" "$out"
echo "$out" | grep -q '^l-kernel: from bpf; timer = vector 0xec' && ok "the timer vector BPF took is named" ||
	nok "timer vector line" "$out"
j=$(ctl --json vm compare l-kernel l-user 2>&1)
echo "$j" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d[1]['stats']['sources']['vcpus'][1]['ipi']==900" 2>/dev/null &&
	ok "--json carries vm.stats sources" || nok "--json" "${j:0:300}"
echo "1..$n"
