#!/usr/bin/env bash
# bench/trace_report.jq, the text `make bench` prints from trace_bench --kvm's JSON, on a
# real run's output (data/trace_bench_kvm.json, nested guest): every workload's loss
# against the goal, the floor comparison with its arithmetic, the program run times, and
# the stopped-guest line only when the guest stopped. TAP output.
set -u
cd "$(dirname "$0")/../.."
fx=tests/unit/data/trace_bench_kvm.json
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }
has() { grep -qF -- "$1" <<<"$out"; }

out=$(jq -r -f bench/trace_report.jq "$fx") || { echo "not ok 1 - jq failed"; exit 1; }
for w in flood delivered; do
	check "${w}_loss_against_the_goal" has "$w: KVM_SIGNAL_MSI/s detached $(jq -r ".$w.detached_per_s" "$fx")"
	check "${w}_goal_verdict" has "(goal < 5%: NOT met)"
	check "${w}_lists_every_variant" test "$(grep "^$w: KVM_SIGNAL_MSI" <<<"$out" | grep -o '(loss [-0-9.]*%)' | wc -l)" -eq "$(jq ".$w.variants | length" "$fx")"
done
# 26.21 - 13.31 and 11 - 6.13, as the fixture has them
check "flood_points_over_the_count_only_floor" has "flood: above the floor: loss 26.21% vs 13.31% for programs that only count (8.38% for empty ones): 12.9 points over the count-only floor"
check "delivered_points_over_the_count_only_floor" has "delivered: above the floor: loss 11% vs 6.13% for programs that only count (2.66% for empty ones): 4.87 points over the count-only floor"
check "flood_program_time_per_injection" has "flood: program run time per injection 1.68 us: btf_msi_set_irq 1 x 845 ns"
check "program_time_over_the_floor" has "flood: program run time per injection 1.68 us vs 0.34 us for the count-only floor: 5x"
check "no_restart_line_without_a_stop" test -z "$(grep 'the guest stopped' <<<"$out")"
out=$(jq '.vm_restarts = 2 | .vm_stop_reason = "triple fault on vCPU 0 (rip 0x1234)"' "$fx" | jq -r -f bench/trace_report.jq)
check "restart_line_names_the_reason" has "the guest stopped 2 time(s) (last: triple fault on vCPU 0 (rip 0x1234))"
# without the count-only floor (an older JSON), its comparisons are left out, not printed
# with empty values
out=$(jq 'del(.flood.variants.floor_count_only, .delivered.variants.floor_count_only, .prog_stats.floor_flood, .prog_stats.floor_delivered)' "$fx" | jq -r -f bench/trace_report.jq)
check "no_floor_comparison_without_a_floor" test -z "$(grep -e 'above the floor' -e 'count-only floor' <<<"$out")"
check "the_rest_is_still_reported" test "$(grep -c 'KVM_SIGNAL_MSI/s detached' <<<"$out")" -eq 2
echo "1..$n"
