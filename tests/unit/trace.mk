LIBS_test_trace_discover := trace
LIBS_test_trace_exitnames := trace
LIBS_test_trace_hist := trace
LIBS_trace_bench := trace vmm boot hw irqchip
LIBS_test_trace_kvm := trace vmm boot hw irqchip
