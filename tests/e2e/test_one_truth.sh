#!/usr/bin/env bash
# One truth per number: the cross-check's verdicts per (VM, delivery path) are the same
# figures on every surface: `virqctl --json crosscheck`, /api/v1/stats and /metrics
# (virq_crosscheck_verdicts_total, virq_interrupts_lost_total). The real virqd, the real
# virqctl, VMs on /dev/kvm (a kernel-mode and a user-mode one). TAP output.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
VIRQD=$BUILD/bin/virqd
VIRQCTL=$BUILD/bin/virqctl
dir=$(mktemp -d /tmp/virq-truth-XXXXXX)
sock=$dir/virqd.sock
n=0 pid=
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; shift; printf '# %s\n' "$@"; }
ctl() { "$VIRQCTL" --socket "$sock" --json "$@"; }
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

if [ ! -e /dev/kvm ]; then
	echo "1..0 # SKIP needs /dev/kvm for VMs of virqd's own (the nested layer runs the observed-VM variant)"
	exit 0
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
: >"$dir/virqd.conf"
"$VIRQD" --config "$dir/virqd.conf" --socket "$sock" --metrics "127.0.0.1:$port" >"$dir/virqd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
for v in t-kern:kernel t-user:user; do
	if ctl vm create "${v%%:*}" --vcpus 2 --irqchip "${v##*:}" >/dev/null 2>"$dir/err" &&
		ctl vm scenario "${v%%:*}" default >/dev/null 2>>"$dir/err"; then
		ok "VM ${v%%:*} (${v##*:}) ran the default scenario"
	else
		nok "VM ${v%%:*} (${v##*:}) ran the default scenario" "$(cat "$dir/err")"
	fi
done
# Quiesce both, so the next cross-check and the one the sampler publishes agree.
ctl vm pause t-kern >/dev/null
ctl vm pause t-user >/dev/null
ctl crosscheck >"$dir/xc.json"
sleep 2.5 # one sampling tick (1 s) publishes that cross-check's figures
curl -sf "http://127.0.0.1:$port/api/v1/stats" -o "$dir/stats.json"
curl -sf "http://127.0.0.1:$port/metrics" -o "$dir/metrics.txt"
python3 - "$dir" "$n" <<'PY'
import json, re, sys, collections
d = sys.argv[1]
xc = json.load(open(d + "/xc.json"))
st = json.load(open(d + "/stats.json"))
prom = open(d + "/metrics.txt").read()
paths = ["pic", "ioapic", "msi", "ipi", "nmi", "timer", "posted"]
shared = ["consistent", "coalesced", "lost", "spurious", "misrouted", "unobservable"]
want = collections.defaultdict(lambda: collections.Counter())
lost = collections.Counter()
for c in xc["checks"]:
    if c["path"] not in paths:
        continue
    want[(c["vm"], c["path"])][c["verdict"]] += 1
    if c["verdict"] == "lost":
        lost[(c["vm"], c["path"])] = max(lost[(c["vm"], c["path"])], c["expected"] - c["observed"])
n = int(sys.argv[2])
def ok(cond, msg, why=""):
    global n
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, msg))
    if not cond and why:
        print("# " + why)
rows = {}
for vm in st.get("vms", []):
    for p in vm.get("paths", []):
        rows[(p["vm"], p["path"])] = p
ok(len(want) > 0, "the cross-check judged some (VM, path) of our VMs: %d" % len(want))
bad = []
for key, cnt in want.items():
    r = rows.get(key)
    if r is None:
        bad.append("%s/%s missing in /api/v1/stats" % key)
        continue
    for v in shared:
        if r["verdicts"].get(v, 0) != cnt.get(v, 0):
            bad.append("%s/%s %s: crosscheck %d, stats %d" % (key + (v, cnt.get(v, 0), r["verdicts"].get(v, 0))))
    if r["lost"] != lost[key]:
        bad.append("%s/%s lost: crosscheck %d, stats %d" % (key + (lost[key], r["lost"])))
ok(not bad, "/api/v1/stats carries the cross-check's verdict counts and lost figure per (VM, path)", "; ".join(bad[:6]))
bad = []
for key, cnt in want.items():
    for v in shared:
        m = re.search(r'^virq_crosscheck_verdicts_total\{vm="%s",path="%s",verdict="%s"\} (\d+)$' % (key[0], key[1], v), prom, re.M)
        got = int(m.group(1)) if m else 0
        if got != cnt.get(v, 0):
            bad.append("%s/%s %s: crosscheck %d, /metrics %d" % (key + (v, cnt.get(v, 0), got)))
ok(not bad, "/metrics virq_crosscheck_verdicts_total carries the same counts", "; ".join(bad[:6]))
print("# %d (VM, path) rows compared; verdicts: %s" % (len(want), dict(sum(want.values(), collections.Counter()))))
print("1..%d" % n)
PY
