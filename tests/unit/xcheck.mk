LIBS_test_xcheck := xcheck irqchip
