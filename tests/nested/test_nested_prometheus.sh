#!/usr/bin/env bash
# Prometheus against virqd running real VMs, on a host without /dev/kvm.
#
# virqd runs inside the nested guest (tests/nested/guest_virqd.sh: a kernel-mode and a
# user-mode VM, the default scenario and the cross-check on both, BPF attached); QEMU's
# user-mode network forwards a free 127.0.0.1 port of this host to its metrics listener.
# Here, a real Prometheus scrapes it and every expression of the Grafana dashboard must
# return data (tests/e2e/test_prometheus.sh with VIRQ_PROM_VIRQD), no skips. Then the
# host tells the guest to stop virqd (a line on the guest's third serial port), which
# must exit 0. Prints TAP.
set -uo pipefail
cd "$(dirname "$0")/../.."
for tool in prometheus promtool curl jq python3; do
	command -v $tool >/dev/null || { echo "1..0 # SKIP $tool not installed"; exit 0; }
done
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '# %s\n' "${@:2}"; }
tmp=$(mktemp -d)
nested_pid=
cleanup() {
	[ -n "$nested_pid" ] && kill "$nested_pid" 2>/dev/null
	pkill -f "virq-nested-prom-$$" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ctl=$tmp/ctl

VIRQ_NESTED_ONLY=none VIRQ_NESTED_RAW=tests/nested/guest_virqd.sh \
	VIRQ_NESTED_NET="$hport:9105" VIRQ_NESTED_CTL="$ctl" VIRQ_NESTED_TAG="virq-nested-prom-$$" \
	bash tests/nested/test_kvm_nested.sh >"$tmp/nested.out" 2>&1 &
nested_pid=$!

# The guest creates the VM "ready" last: then every per-VM series exists.
ready=0
for _ in $(seq 600); do
	if ! kill -0 $nested_pid 2>/dev/null; then break; fi
	if curl -sf --max-time 5 "http://127.0.0.1:$hport/metrics" 2>/dev/null | grep -q '^virq_vm_info{.*vm="ready"'; then
		ready=1
		break
	fi
	sleep 1
done
if grep -q '^1..0 # SKIP' "$tmp/nested.out"; then
	cat "$tmp/nested.out"
	exit 0
fi
if [ $ready = 1 ]; then
	ok "virqd in the nested guest serves /metrics on 127.0.0.1:$hport with its VMs"
	sleep 2 # one more sampling tick
	VIRQ_PROM_VIRQD=127.0.0.1:$hport VIRQ_PROM_SKIP_SYNTHETIC=1 bash tests/e2e/test_prometheus.sh >"$tmp/prom.tap" 2>&1
	prc=$?
	while IFS= read -r l; do
		case $l in
		"ok "*|"not ok "*)
			n=$((n + 1))
			st=${l%%[0-9]*}
			rest=${l#"$st"}
			rest=${rest#* }
			echo "${st}$n ${rest/- virqd:/- nested virqd:}" ;;
		"#"*) echo "$l" ;;
		esac
	done <"$tmp/prom.tap"
	[ $prc -eq 0 ] || echo "# test_prometheus.sh exited $prc"
else
	nok "virqd in the nested guest serves /metrics with its VMs" "$(tail -30 "$tmp/nested.out")"
fi
# Stop: one line on the guest's control port, then the guest powers off.
if [ -p "$ctl.in" ]; then echo stop >"$ctl.in"; fi
wait $nested_pid
raw=$(sed -n 's|^RAW tests/nested/guest_virqd.sh: ||p' "$tmp/nested.out")
printf '%s\n' "$raw" | sed 's/^/# guest: /'
for v in prom-vm prom-user; do
	if printf '%s\n' "$raw" | grep -q "^scenario $v: 0$"; then ok "guest: default scenario on $v passed"
	else nok "guest: default scenario on $v passed"; fi
done
if printf '%s\n' "$raw" | grep -q '^crosscheck: 0$'; then ok "guest: cross-check of both VMs has no lost/spurious/misrouted verdict"
else nok "guest: cross-check of both VMs has no lost/spurious/misrouted verdict"; fi
if printf '%s\n' "$raw" | grep -q '^host said stop$'; then ok "guest: the host's stop line arrived"
else nok "guest: the host's stop line arrived"; fi
if printf '%s\n' "$raw" | grep -q '^virqd exit 0$'; then ok "guest: virqd stopped by SIGTERM with its VMs running exits 0"
else nok "guest: virqd stopped by SIGTERM with its VMs running exits 0"; fi
grep '^# note:' "$tmp/nested.out"
echo "1..$n"
