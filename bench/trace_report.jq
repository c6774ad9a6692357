# One line per workload of trace_bench --kvm's JSON (the object under
# kvm_injection_throughput): the default's loss against the goal, then each ablation.
to_entries[] | select(.value | type == "object" and has("detached_per_s")) |
"\(.key): KVM_SIGNAL_MSI/s detached \(.value.detached_per_s), attached \(.value.attached_per_s): ratio \(.value.ratio), loss \(.value.loss_pct)% (goal < \(.value.goal_loss_pct)%: \(if .value.goal_met then "met" else "NOT met" end)); "
+ ([.value.variants | to_entries[] | "\(.key) \(.value.per_s)/s (loss \(.value.loss_pct)%)"] | join(", "))
+ "; pairs \(.value.pair_ratios); traced \(.value.traced_msi) of \(.value.injected_attached)"
+ "; events per injection \(.value.events_per_injection // {} | to_entries | map("\(.key) \(.value)") | join(", "))"
