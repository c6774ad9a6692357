#!/usr/bin/env bash
# scripts/install.sh and the systemd units: DESTDIR/PREFIX layout, ExecStart substitution,
# the hardening directives the brief requires, and `systemd-analyze verify` on the
# installed units. Prints TAP.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; [ $# -gt 1 ] && printf '# %s\n' "${@:2}"; }
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else nok "$name"; fi; }
command -v systemd-analyze >/dev/null ||
	{ echo "1..0 # SKIP systemd-analyze not installed (Debian package systemd)"; exit 0; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
skipbin=0
if [ ! -x "$BUILD/bin/virqd" ] || [ ! -x "$BUILD/bin/virqctl" ]; then
	skipbin=1
	echo "# $BUILD/bin/virqd or virqctl not built: installing without binaries"
fi

# 1. Packaging layout: PREFIX=/usr into a DESTDIR.
dest=$tmp/dest
if VIRQ_INSTALL_SKIP_BINARIES=$skipbin scripts/install.sh PREFIX=/usr DESTDIR="$dest" \
	BUILD="$BUILD" >"$tmp/install.log" 2>&1; then ok "install.sh PREFIX=/usr DESTDIR=... succeeds"
else nok "install.sh PREFIX=/usr DESTDIR=... succeeds" "$(cat "$tmp/install.log")"; fi
svc=$dest/usr/lib/systemd/system/virqd.service
for f in usr/lib/systemd/system/virqd.service usr/lib/systemd/system/virqd.socket \
	usr/share/virq/dashboards/virq.json usr/share/virq/prometheus.yml \
	usr/share/virq/json_exporter.yml usr/share/virq/grafana/provisioning/dashboards/virq.yml \
	usr/share/virq/grafana/provisioning/datasources/virq.yml; do
	check "installed $f" test -s "$dest/$f"
done
if [ $skipbin = 0 ]; then
	check "installed usr/bin/virqd" test -x "$dest/usr/bin/virqd"
	check "installed usr/bin/virqctl" test -x "$dest/usr/bin/virqctl"
fi
check "nothing installed outside DESTDIR's /usr and /etc" \
	test -z "$(find "$dest" -mindepth 1 -maxdepth 1 ! -name usr ! -name etc)"
check "ExecStart points at PREFIX/bin/virqd" grep -qE '^ExecStart=/usr/bin/virqd( |$)' "$svc"
check "no @VAR@ left in installed units" bash -c "! grep -q '@[A-Z]*@' '$dest'/usr/lib/systemd/system/virqd.*"
check "dashboard provider path is the installed dashboard folder" \
	grep -qE '^ +path: /usr/share/virq/dashboards$' "$dest/usr/share/virq/grafana/provisioning/dashboards/virq.yml"

# 2. Required directives.
for d in 'Type=notify' 'RuntimeDirectory=virqd' 'DeviceAllow=/dev/kvm rw' 'NoNewPrivileges=yes' \
	'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'ProtectKernelModules=yes' \
	'RestrictNamespaces=yes' 'LockPersonality=yes' 'SystemCallArchitectures=native' \
	'Restart=on-failure'; do
	check "virqd.service has $d" grep -qxF "$d" "$svc"
done
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$svc" | tr ' ' '\n' | sort | tr '\n' ' ')
check "capability set is exactly BPF PERFMON DAC_READ_SEARCH SYSLOG SYS_PTRACE CHOWN ($caps)" \
	test "$caps" = "CAP_BPF CAP_CHOWN CAP_DAC_READ_SEARCH CAP_PERFMON CAP_SYSLOG CAP_SYS_PTRACE "
for c in $caps; do
	check "capability $c is documented in the unit" grep -qE "^# $c " "$svc"
done

# 3. systemd-analyze verify on installed units. verify checks that ExecStart exists, so
# this install uses PREFIX=<tmp> without DESTDIR: the substituted path is real.
root=$tmp/root
VIRQ_INSTALL_SKIP_BINARIES=$skipbin scripts/install.sh PREFIX="$root" SYSCONFDIR="$root/etc" \
	BUILD="$BUILD" >"$tmp/install2.log" 2>&1
if [ $skipbin = 1 ]; then # an executable at the substituted path, so verify can resolve it
	mkdir -p "$root/bin" && printf '#!/bin/sh\nexit 0\n' >"$root/bin/virqd" && chmod 0755 "$root/bin/virqd"
fi
units=("$root/lib/systemd/system/virqd.service" "$root/lib/systemd/system/virqd.socket")
if systemd-analyze verify "${units[@]}" >"$tmp/verify.log" 2>&1 && ! [ -s "$tmp/verify.log" ]; then
	ok "systemd-analyze verify passes on the installed units"
else nok "systemd-analyze verify passes on the installed units" "$(cat "$tmp/verify.log")"; fi
# The same check must reject a unit whose binary is missing (it is a real check).
sed "s|^ExecStart=.*|ExecStart=$root/bin/no-such-virqd|" "${units[0]}" >"$tmp/virqd.service"
check "systemd-analyze verify rejects a unit with a missing ExecStart binary" \
	bash -c "! systemd-analyze verify '$tmp/virqd.service'"
exposure=$(systemd-analyze security --offline=yes "${units[0]}" 2>/dev/null |
	sed -n 's/.*Overall exposure level for virqd.service: \([0-9.]*\).*/\1/p')
check "systemd-analyze security exposure <= 5.0 (measured ${exposure:-none})" \
	awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 5.0) }'
echo "1..$n"
exit $failed
