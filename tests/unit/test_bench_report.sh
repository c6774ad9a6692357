#!/usr/bin/env bash
# bench/trace_report.jq, the text `make bench` prints from trace_bench --kvm's JSON, on a
# real run's output (data/trace_bench_kvm.json, nested guest, threads pinned): every
# workload's loss against the goal with the range of its rounds and the verdict that
# range gives (the bench's arithmetic redone from every phase's rate), the floor
# comparison, the program run times, and the stopped-guest and unpinned lines only when
# they apply. TAP output.
set -u
cd "$(dirname "$0")/../.."
fx=tests/unit/data/trace_bench_kvm.json
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { local name=$1; shift; if "$@" >/dev/null; then ok "$name"; else nok "$name"; fi; }
has() { grep -qF -- "$1" <<<"$out"; }

out=$(jq -r -f bench/trace_report.jq "$fx") || { echo "not ok 1 - jq failed"; exit 1; }
for w in flood delivered; do
	check "${w}_loss_against_the_goal" has "$w: KVM_SIGNAL_MSI/s detached $(jq -r ".$w.detached_per_s" "$fx")"
	check "${w}_lists_every_variant" test "$(grep "^$w: KVM_SIGNAL_MSI" <<<"$out" | grep -o '(loss [-0-9.]*%)' | wc -l)" -eq "$(jq ".$w.variants | length" "$fx")"
	# the bench's own arithmetic, redone from every phase's rate in the JSON: the range
	# of the per-round losses, the verdict it gives, and the per-round loss over the
	# count-only floor (median and range)
	check "${w}_loss_range_is_the_rounds" jq -e ".$w | .per_round_per_s as \$p |
		[range(0; \$p.detached | length) | 100 * (1 - \$p.default[.] / \$p.detached[.])] as \$l |
		((\$l | min) - .loss_range_pct[0] | fabs) < 0.01 and ((\$l | max) - .loss_range_pct[1] | fabs) < 0.01" "$fx"
	check "${w}_verdict_follows_the_range" jq -e ".$w | .goal == (if .loss_range_pct[1] < 5 then \"met\"
		elif .loss_range_pct[0] > 5 then \"not met\" else \"unresolved\" end)" "$fx"
	check "${w}_over_the_floor_per_round" jq -e ".$w | . as \$w | .per_round_per_s as \$p |
		[range(0; \$p.detached | length) | 100 * (\$p.floor_count_only[.] - \$p.default[.]) / \$p.detached[.]] | sort as \$d |
		(\$d | length) as \$n | ((\$d[(\$n - 1) / 2 | floor] + \$d[\$n / 2 | floor]) / 2 - \$w.over_count_only_floor_pts.median | fabs) < 0.01 and
		(\$d[0] - \$w.over_count_only_floor_pts.range[0] | fabs) < 0.01 and (\$d[-1] - \$w.over_count_only_floor_pts.range[1] | fabs) < 0.01" "$fx"
done
# the fixture's flood rounds all lose more than 5%; its delivered rounds straddle 5%
check "flood_goal_not_met_with_its_range" has "flood: KVM_SIGNAL_MSI/s detached 365029, attached 251388: ratio 0.6948, loss 30.52% (rounds 28.24..35.61%) (goal < 5%: NOT met)"
check "delivered_goal_unresolved" has "loss 16.87% (rounds -3.96..30.74%) (goal < 5%: unresolved: the rounds straddle it)"
check "flood_points_over_the_count_only_floor" has "flood: above the floor: loss 30.52% vs 15.94% for programs that only count (15.35% for empty ones): 13.77 points over the count-only floor (median of the rounds, 2.88..16.13)"
check "delivered_points_over_the_count_only_floor" has "delivered: above the floor: loss 16.87% vs 8.66% for programs that only count (6.92% for empty ones): 11.4 points over the count-only floor (median of the rounds, -9.59..20.11)"
check "flood_program_time_per_injection" has "flood: program run time per injection 1.23 us: btf_msi_set_irq 1 x 649 ns"
check "program_time_over_the_floor" has "flood: program run time per injection 1.23 us vs 0.34 us for the count-only floor: 3.6x"
check "pinned_threads_need_no_line" test -z "$(grep 'not pinned' <<<"$out")"
out=$(jq '.pinned = {"not": "fewer than two CPUs"}' "$fx" | jq -r -f bench/trace_report.jq)
check "unpinned_threads_are_said" has "threads not pinned (fewer than two CPUs): placement noise is in the ratios"
# an older JSON (no per-round figures): the difference of the medians, 30.52 - 15.94
out=$(jq 'del(.flood.over_count_only_floor_pts, .flood.loss_range_pct, .flood.goal)' "$fx" | jq -r -f bench/trace_report.jq)
check "older_json_difference_of_medians" has "for empty ones): 14.58 points over the count-only floor"
check "older_json_verdict_from_the_median" has "loss 30.52% (goal < 5%: NOT met)"
out=$(jq -r -f bench/trace_report.jq "$fx")
check "no_restart_line_without_a_stop" test -z "$(grep 'the guest stopped' <<<"$out")"
out=$(jq '.vm_restarts = 2 | .vm_stop_reason = "triple fault on vCPU 0 (rip 0x1234)"' "$fx" | jq -r -f bench/trace_report.jq)
check "restart_line_names_the_reason" has "the guest stopped 2 time(s) (last: triple fault on vCPU 0 (rip 0x1234))"
# without the count-only floor (an older JSON), its comparisons are left out, not printed
# with empty values
out=$(jq 'del(.flood.variants.floor_count_only, .delivered.variants.floor_count_only, .prog_stats.floor_flood, .prog_stats.floor_delivered)' "$fx" | jq -r -f bench/trace_report.jq)
check "no_floor_comparison_without_a_floor" test -z "$(grep -e 'above the floor' -e 'count-only floor' <<<"$out")"
check "the_rest_is_still_reported" test "$(grep -c 'KVM_SIGNAL_MSI/s detached' <<<"$out")" -eq 2
echo "1..$n"
