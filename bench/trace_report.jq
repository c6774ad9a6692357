# Lines of trace_bench --kvm's JSON (the object under kvm_injection_throughput): per
# workload the default's loss against the goal and each ablation, then the kernel's own
# run time of the programs per injection (bpf_stats).
(if (.vm_restarts // 0) > 0 then "the guest stopped \(.vm_restarts) time(s) (last: \(.vm_stop_reason)): those variants ran again on a new VM" else empty end),
(to_entries[] | select(.value | type == "object" and has("detached_per_s")) |
"\(.key): KVM_SIGNAL_MSI/s detached \(.value.detached_per_s), attached \(.value.attached_per_s): ratio \(.value.ratio), loss \(.value.loss_pct)% (goal < \(.value.goal_loss_pct)%: \(if .value.goal_met then "met" else "NOT met" end)); "
+ ([.value.variants | to_entries[] | "\(.key) \(.value.per_s)/s (loss \(.value.loss_pct)%)"] | join(", "))
+ "; pairs \(.value.pair_ratios); traced \(.value.traced_msi) of \(.value.injected_attached)"
+ (if .value | has("floor_traced_msi") then " (floor_count_only: \(.value.floor_traced_msi) of \(.value.injected_floor))" else "" end)
+ "; events per injection \(.value.events_per_injection // {} | to_entries | map("\(.key) \(.value)") | join(", "))"),
(.prog_stats // {} | to_entries[] | select(.value | has("injections")) | .key as $w | .value as $v |
 ($v | del(.injections) | to_entries) as $p |
 "\($w): program run time per injection \(([$p[] | .value.runs * .value.ns_per_run] | add // 0) / $v.injections / 1000 * 100 | round / 100) us: "
 + ([$p[] | "\(.key) \((.value.runs / $v.injections * 1000 | round) / 1000) x \(.value.ns_per_run) ns"] | join(", ")))
