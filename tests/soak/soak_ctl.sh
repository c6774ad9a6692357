#!/usr/bin/env bash
# make soak: the control socket's frame fuzzer and pipelined host.vms flood
# (tests/e2e/adversarial_ctl.py) repeated for SOAK_MINUTES (default 5) against one virqd,
# its RSS and fds asserted to come back at the end. TAP output.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
SOAK_MINUTES=${SOAK_MINUTES:-5} VIRQ_BUILD=$BUILD exec python3 tests/e2e/adversarial_ctl.py
