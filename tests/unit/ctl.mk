LIBS_test_proto := ctl
LIBS_test_proto_defer := ctl
LIBS_test_config := core ctl
LIBS_test_core := core xcheck
