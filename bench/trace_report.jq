# Lines of trace_bench --kvm's JSON (the object under kvm_injection_throughput): per
# workload the default's loss against the goal and each ablation, then the kernel's own
# run time of the programs per injection (bpf_stats).
(if (.pinned.not // null) != null then "threads not pinned (\(.pinned.not)): placement noise is in the ratios" else empty end),
(if (.vm_restarts // 0) > 0 then "the guest stopped \(.vm_restarts) time(s) (last: \(.vm_stop_reason)): those variants ran again on a new VM" else empty end),
(to_entries[] | select(.value | type == "object" and has("detached_per_s")) |
"\(.key): KVM_SIGNAL_MSI/s detached \(.value.detached_per_s), attached \(.value.attached_per_s): ratio \(.value.ratio), loss \(.value.loss_pct)%"
+ (if .value | has("loss_range_pct") then " (rounds \(.value.loss_range_pct[0])..\(.value.loss_range_pct[1])%)" else "" end)
+ " (goal < \(.value.goal_loss_pct)%: \(if .value | has("goal") then (if .value.goal == "met" then "met" elif .value.goal == "not met" then "NOT met" else "unresolved: the rounds straddle it" end) elif .value.goal_met then "met" else "NOT met" end)); "
+ ([.value.variants | to_entries[] | "\(.key) \(.value.per_s)/s (loss \(.value.loss_pct)%)"] | join(", "))
+ "; pairs \(.value.pair_ratios); traced \(.value.traced_msi) of \(.value.injected_attached)"
+ (if .value | has("floor_traced_msi") then " (floor_count_only: \(.value.floor_traced_msi) of \(.value.injected_floor))" else "" end)
+ "; events per injection \(.value.events_per_injection // {} | to_entries | map("\(.key) \(.value)") | join(", "))"),
(.prog_stats // {} | to_entries[] | select(.value | has("injections")) | .key as $w | .value as $v |
 ($v | del(.injections) | to_entries) as $p |
 "\($w): program run time per injection \(([$p[] | .value.runs * .value.ns_per_run] | add // 0) / $v.injections / 1000 * 100 | round / 100) us: "
 + ([$p[] | "\(.key) \((.value.runs / $v.injections * 1000 | round) / 1000) x \(.value.ns_per_run) ns"] | join(", ")))
,
# Against the floor: what attaching anything costs here is not ours to remove.
(to_entries[] | select(.value | type == "object" and has("detached_per_s") and (.variants | has("floor_count_only"))) |
 "\(.key): above the floor: loss \(.value.loss_pct)% vs \(.value.variants.floor_count_only.loss_pct)% for programs that only count (\(.value.variants.floor_empty_programs.loss_pct // "?")% for empty ones): \(if .value | has("over_count_only_floor_pts") then "\(.value.over_count_only_floor_pts.median) points over the count-only floor (median of the rounds, \(.value.over_count_only_floor_pts.range[0])..\(.value.over_count_only_floor_pts.range[1]))" else "\(((.value.loss_pct - .value.variants.floor_count_only.loss_pct) * 100 | round) / 100) points over the count-only floor" end)"),
(.prog_stats // {} | . as $ps | to_entries[] | select(.key | startswith("floor_") | not) | select(.value | has("injections")) |
 .key as $w | ($ps["floor_" + $w] // null) as $f | select($f != null) |
 def per_inj(o): ([o | del(.injections) | to_entries[] | .value.runs * .value.ns_per_run] | add // 0) / o.injections;
 (per_inj(.value)) as $ours | (per_inj($f)) as $fl |
 "\($w): program run time per injection \(($ours / 10 | round) / 100) us vs \(($fl / 10 | round) / 100) us for the count-only floor: \(if $fl > 0 then (($ours / $fl * 10 | round) / 10 | tostring) + "x" else "n/a" end)")
