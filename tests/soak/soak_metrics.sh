#!/usr/bin/env bash
# make soak: the /metrics abuse rounds of tests/e2e/test_metrics_abuse.sh repeated for about
# SOAK_MINUTES (default 5; a round takes about 12 s) against one virqd, its RSS and fds
# asserted to come back at the end. TAP output.
set -u
cd "$(dirname "$0")/../.."
SOAK_ROUNDS=$(( ${SOAK_MINUTES:-5} * 5 )) exec bash tests/e2e/test_metrics_abuse.sh
