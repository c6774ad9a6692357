LIBS_test_names := irqchip
