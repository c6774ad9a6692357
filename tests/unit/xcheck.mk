LIBS_test_xcheck := xcheck irqchip
LIBS_fuzz_xcheck := xcheck irqchip
LIBS_test_irqsrc := xcheck irqchip
