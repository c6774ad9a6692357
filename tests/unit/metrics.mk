# The exporter's tests and benchmark programs need only the metrics module.
LIBS_test_metrics := metrics
LIBS_test_metrics_http := metrics
LIBS_metrics_serve := metrics
LIBS_metrics_bench := metrics
