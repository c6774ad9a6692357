#!/usr/bin/env bash
# Installs virq: binaries, systemd units (ExecStart path substituted), the example
# configuration, the Grafana dashboard with its provisioning files, and the Prometheus and
# json_exporter examples. Called by `make install` as
#   scripts/install.sh PREFIX=/usr/local DESTDIR= BUILD=build
# (arguments or environment). Variables:
#   PREFIX      installation prefix (default /usr/local)
#   DESTDIR     staging root prepended to every path (packaging, tests)
#   BUILD       build directory holding bin/virqd and bin/virqctl (default build)
#   SYSCONFDIR  configuration directory (default /etc, as systemd units expect)
#   UNITDIR     systemd system unit directory (default $PREFIX/lib/systemd/system;
#               /usr/lib/systemd/system when PREFIX=/usr)
#   VIRQ_INSTALL_SKIP_BINARIES=1  install everything but the binaries
set -euo pipefail
cd "$(dirname "$0")/.."
for a in "$@"; do
	case $a in
	*=*) export "${a?}" ;;
	*) echo "install.sh: unknown argument '$a' (use NAME=value)" >&2; exit 2 ;;
	esac
done
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BUILD=${BUILD:-build}
SYSCONFDIR=${SYSCONFDIR:-/etc}
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
BINDIR=$PREFIX/bin
DATADIR=$PREFIX/share/virq
case $PREFIX in /*) ;; *) echo "install.sh: PREFIX must be absolute" >&2; exit 2 ;; esac

say() { printf '  %-8s %s\n' INSTALL "$1"; }
inst() { # mode src dst
	install -D -m "$1" "$2" "$DESTDIR$3"
	say "$DESTDIR$3"
}
subst() { # mode src dst: install with @VAR@ substituted
	local tmp
	tmp=$(mktemp)
	sed -e "s|@BINDIR@|$BINDIR|g" -e "s|@SYSCONFDIR@|$SYSCONFDIR|g" \
		-e "s|@DATADIR@|$DATADIR|g" -e "s|@PREFIX@|$PREFIX|g" "$2" >"$tmp"
	inst "$1" "$tmp" "$3"
	rm -f "$tmp"
}

if [ "${VIRQ_INSTALL_SKIP_BINARIES:-0}" != 1 ]; then
	for b in virqd virqctl; do
		[ -x "$BUILD/bin/$b" ] || { echo "install.sh: $BUILD/bin/$b not built (run make)" >&2; exit 1; }
		inst 0755 "$BUILD/bin/$b" "$BINDIR/$b"
	done
fi

subst 0644 daemon/systemd/virqd.service "$UNITDIR/virqd.service"
subst 0644 daemon/systemd/virqd.socket "$UNITDIR/virqd.socket"

# Example configuration, never over the administrator's own file.
for c in daemon/virqd.conf.example daemon/core/virqd.conf.example etc/virqd.conf.example; do
	[ -f "$c" ] || continue
	inst 0644 "$c" "$SYSCONFDIR/virq/virqd.conf.example"
	break
done

inst 0644 dashboards/virq.json "$DATADIR/dashboards/virq.json"
inst 0644 dashboards/provisioning/datasources/virq.yml \
	"$DATADIR/grafana/provisioning/datasources/virq.yml"
tmp=$(mktemp)
sed "s|^\(      path:\).*|\1 $DATADIR/dashboards|" dashboards/provisioning/dashboards/virq.yml >"$tmp"
inst 0644 "$tmp" "$DATADIR/grafana/provisioning/dashboards/virq.yml"
rm -f "$tmp"
inst 0644 dashboards/prometheus.yml "$DATADIR/prometheus.yml"
inst 0644 dashboards/json_exporter.yml "$DATADIR/json_exporter.yml"
