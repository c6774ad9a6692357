LIBS_test_proto := ctl
LIBS_test_config := core ctl
