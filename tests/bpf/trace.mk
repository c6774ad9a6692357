LIBS_test_trace_bpf := trace
