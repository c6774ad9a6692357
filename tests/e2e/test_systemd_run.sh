#!/usr/bin/env bash
# The shipped units run, not only verified (issue 17, item 5): virqd socket-activated the
# way virqd.socket does it (systemd-socket-activate passes a listening socket, LISTEN_FDS),
# serving virqctl on it, staying up, leaving the socket file to systemd; and virqd under
# the unit's exact CapabilityBoundingSet (setpriv) with socket_group set, the socket
# handed to that group. TAP.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; shift; printf '# %s\n' "$@"; }
for need in systemd-socket-activate setpriv getent; do
	command -v $need >/dev/null || { echo "1..0 # SKIP $need missing (packages systemd, util-linux)"; exit 0; }
done
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (capability bounding set, chown)"; exit 0; }
dir=$(mktemp -d /tmp/virq-sdrun-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$dir"; }
trap cleanup EXIT
: >"$dir/virqd.conf"
ctl() { "$BUILD/bin/virqctl" --socket "$1" status >/dev/null 2>&1; }

# 1. socket activation
sock=$dir/act/virqd.sock
mkdir -p "$dir/act"
systemd-socket-activate -l "$sock" "$BUILD/bin/virqd" --config "$dir/virqd.conf" --socket "$sock" \
	--metrics off --no-bpf >"$dir/act.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
if ctl "$sock"; then ok "virqctl status answers on the activated socket"; else
	nok "virqctl status answers on the activated socket" "$(cat "$dir/act.log")"; fi
sleep 2
if ctl "$sock" && pgrep -f -- "--socket $sock" >/dev/null; then
	ok "virqd stays up on the activated socket (no 'already listening' exit)"
else
	nok "virqd stays up on the activated socket" "$(cat "$dir/act.log")"
fi
grep -q "already listening" "$dir/act.log" && nok "no 'already listening' in the log" "$(cat "$dir/act.log")" ||
	ok "no 'already listening' in the log"
kill "${pids[0]}" 2>/dev/null
wait "${pids[0]}" 2>/dev/null
rc=$?
[ $rc = 0 ] && ok "SIGTERM: virqd exits 0" || nok "SIGTERM: virqd exits 0 (rc $rc)" "$(cat "$dir/act.log")"
[ -S "$sock" ] && ok "the activated socket's file is left to systemd (RemoveOnStop)" ||
	nok "the activated socket's file is left to systemd"

# 2. the unit's capability bounding set, with socket_group
svc=daemon/systemd/virqd.service
set_caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$svc" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
grp=$(getent group nogroup >/dev/null && echo nogroup || echo daemon)
sock2=$dir/caps/virqd.sock
printf 'socket_group %s\n' "$grp" >"$dir/caps.conf"
setpriv --bounding-set "-all,$set_caps" --inh-caps=-all "$BUILD/bin/virqd" --config "$dir/caps.conf" \
	--socket "$sock2" --metrics off --no-bpf >"$dir/caps.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$sock2" ] && break; sleep 0.1; done
sleep 0.5
if ctl "$sock2"; then ok "virqd runs under the unit's bounding set ($set_caps) with socket_group"; else
	nok "virqd runs under the unit's bounding set ($set_caps) with socket_group" "$(cat "$dir/caps.log")"; fi
g=$(stat -c %G "$sock2" 2>/dev/null)
[ "$g" = "$grp" ] && ok "the socket belongs to group $grp" || nok "the socket belongs to group $grp (got $g)"
echo "1..$n"
