#!/usr/bin/env bash
# Adversarial suite for the control socket (issue 17): the real virqd attacked by
# tests/e2e/adversarial_ctl.py (frame fuzzer, 300-group peer, pipelined flood, clients
# that never read, slow-loris, symlink at SIGHUP, FIFO config, EMFILE). TAP output.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
if [ "$(id -u)" != 0 ]; then
	echo "1..1"
	echo "ok 1 # SKIP needs root (setgroups/setuid for the 300-group and per-uid peers)"
	exit 0
fi
if [ ! -x "$BUILD/bin/virqd" ]; then
	echo "1..1"
	echo "not ok 1 - virqd not built in $BUILD"
	exit 1
fi
VIRQ_BUILD=$BUILD exec python3 tests/e2e/adversarial_ctl.py
