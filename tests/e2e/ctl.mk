LIBS_test_ctl := ctl
