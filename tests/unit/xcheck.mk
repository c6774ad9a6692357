LIBS_test_xcheck := xcheck irqchip
LIBS_fuzz_xcheck := xcheck irqchip
