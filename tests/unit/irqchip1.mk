# irqchip core part 1 (PIC, IOAPIC, MSI, router): link only the irqchip library.
LIBS_test_pic := irqchip
LIBS_test_ioapic := irqchip
LIBS_test_msi := irqchip
LIBS_test_router := irqchip
LIBS_irqchip1_ops := irqchip
LIBS_fuzz_pic := irqchip
LIBS_fuzz_ioapic := irqchip
LIBS_fuzz_msi := irqchip
LIBS_fuzz_router := irqchip
LIBS_fuzz_lapic := irqchip
