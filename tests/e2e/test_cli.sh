#!/usr/bin/env bash
# End-to-end: the real virqctl against the real virqd on a temporary socket. TAP output.
# Checks exit codes, --json, --help on every subcommand, the tables, and `virqctl top`
# driven in tmux (screen captured, `q` quits).
set -u
cd "$(dirname "$0")/../.."
BUILD=${VIRQ_BUILD:-${BUILD:-build}}
VIRQD=$BUILD/bin/virqd
VIRQCTL=$BUILD/bin/virqctl
dir=$(mktemp -d /tmp/virq-cli-XXXXXX)
sock=$dir/virqd.sock
session=virq-top-$$
n=0
pid=

ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }
ctl() { "$VIRQCTL" --socket "$sock" "$@"; }

cleanup() {
	tmux kill-session -t "$session" 2>/dev/null
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

if [ ! -x "$VIRQD" ] || [ ! -x "$VIRQCTL" ]; then
	echo "not ok 1 - virqd/virqctl not built in $BUILD"
	exit 1
fi
: >"$dir/virqd.conf"
"$VIRQD" --config "$dir/virqd.conf" --socket "$sock" --metrics off >"$dir/virqd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done

out=$(ctl status); rc=$?
check "status_exits_0_and_names_the_state" test "$rc" -eq 0 -a -n "$(echo "$out" | grep '^state:')"
if [ -e /dev/kvm ]; then
	check "status_reports_kvm_available" grep -q 'kvm: *available' <<<"$out"
else
	check "status_reports_missing_kvm_with_reason" grep -q 'kvm: */dev/kvm does not exist' <<<"$out"
fi
check "json_status_parses_with_jq" bash -c "'$VIRQCTL' --socket '$sock' --json status | jq -e '.state and .kvm and .control.clients >= 1' >/dev/null"
check "virq_socket_env_selects_the_daemon" bash -c "VIRQ_SOCKET='$sock' '$VIRQCTL' version | grep -q 'protocol v1'"

ctl vm pause nope 2>"$dir/err"; rc=$?
check "daemon_error_reply_exits_1_with_code" test "$rc" -eq 1 -a -n "$(grep -E "$([ -e /dev/kvm ] && echo not_found || echo kvm_unavailable)" "$dir/err")"
ctl vm frobnicate 2>/dev/null; rc=$?
check "usage_error_exits_2" test "$rc" -eq 2
ctl vm inject a msi --vector notanumber 2>/dev/null; rc=$?
check "bad_number_is_usage_error_exit_2" test "$rc" -eq 2
"$VIRQCTL" --socket "$dir/none.sock" status 2>"$dir/err"; rc=$?
check "no_daemon_exits_3_with_reason" test "$rc" -eq 3 -a -n "$(grep 'is virqd running' "$dir/err")"

helps=0
for sub in status version capabilities metrics "vm list" "vm create" "vm destroy" "vm pause" \
	"vm resume" "vm inject" "vm scenario" "vm ledger" "vm stats" crosscheck "host vms" \
	"trace points" trace top call; do
	# shellcheck disable=SC2086
	# The subcommand's own usage, not the generic one: it must name the subcommand.
	if ! "$VIRQCTL" --socket "$dir/none.sock" $sub --help | head -1 | grep -q "^usage: virqctl $sub"; then
		echo "# no help for: $sub"
		helps=$((helps + 1))
	fi
done
check "help_on_every_subcommand_without_a_daemon" test "$helps" -eq 0

if [ -e /dev/kvm ]; then
	check "vm_create_user_mode_two_vcpus" ctl vm create cli-u --vcpus 2 --irqchip user
	check "vm_list_shows_it" bash -c "'$VIRQCTL' --socket '$sock' vm list | grep -q cli-u"
	check "vm_destroy" ctl vm destroy cli-u
else
	ctl vm create cli-u --vcpus 2 2>"$dir/err"; rc=$?
	check "vm_create_without_kvm_exits_1_kvm_unavailable" test "$rc" -eq 1 -a -n "$(grep kvm_unavailable "$dir/err")"
fi

out=$(ctl crosscheck); rc=$?
check "crosscheck_prints_the_verdict_table" test "$rc" -eq 0 -a -n "$(echo "$out" | grep VERDICT)" -a -n "$(echo "$out" | grep 'consistent [0-9]')"
if [ "$(id -u)" -eq 0 ]; then
	out=$(ctl trace points); rc=$?
	check "trace_points_lists_kvm_tracepoints" test "$rc" -eq 0 -a -n "$(echo "$out" | grep kvm_apic_accept_irq)"
	check "trace_points_says_what_was_not_recorded" test -n "$(echo "$out" | grep -E '^not recorded: [0-9]+ counts .*, [0-9]+ latency samples .*, [0-9]+ latency pairs')"
else
	skip "trace points need root (BPF)"
fi
out=$(ctl host vms); rc=$?
check "host_vms_table" test "$rc" -eq 0 -a -n "$(echo "$out" | grep -E '^PID')"
check "call_sends_a_raw_request" bash -c "'$VIRQCTL' --socket '$sock' --json call vm.list | jq -e '.vms | type == \"array\"' >/dev/null"

out=$(ctl top --once --interval 200); rc=$?
check "top_once_prints_one_frame_and_exits_0" test "$rc" -eq 0 -a -n "$(echo "$out" | grep 'EXIT REASON')" -a -n "$(echo "$out" | grep 'BPF ATTACH POINT')" -a "$(echo "$out" | grep -c 'virqctl top')" -eq 1
out=$(ctl top --iterations 3 --interval 100 | grep -c 'virqctl top - ')
check "top_iterations_prints_n_frames" test "$out" -eq 3

if command -v tmux >/dev/null; then
	tmux new-session -d -s "$session" -x 150 -y 60 \
		"'$VIRQCTL' --socket '$sock' top --interval 250; echo EXITED:\$?; sleep 30"
	screen=
	for _ in $(seq 40); do
		sleep 0.25
		screen=$(tmux capture-pane -p -t "$session")
		grep -q 'frame [3-9]' <<<"$screen" && break
	done
	check "top_in_tmux_refreshes_frames" grep -q 'frame [3-9]' <<<"$screen"
	check "top_in_tmux_shows_paths_exits_and_attach_points" \
		bash -c "grep -q 'PATH' <<<\"\$0\" && grep -q 'EXIT REASON' <<<\"\$0\" && grep -q 'ATTACH POINT' <<<\"\$0\"" "$screen"
	tmux send-keys -t "$session" q
	for _ in $(seq 20); do
		sleep 0.2
		screen=$(tmux capture-pane -p -t "$session")
		grep -q 'EXITED:' <<<"$screen" && break
	done
	check "top_in_tmux_q_quits_with_status_0" grep -q 'EXITED:0' <<<"$screen"
	tmux kill-session -t "$session" 2>/dev/null
else
	skip "tmux not installed"
fi

kill -TERM "$pid"
wait "$pid"; rc=$?
pid=
check "sigterm_exits_0" test "$rc" -eq 0
check "sigterm_removes_the_socket" test ! -e "$sock"
echo "1..$n"
