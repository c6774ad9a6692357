# irqchip part 2 (LAPIC, APIC bus, posted-interrupt descriptor): link only the irqchip
# library so half-written modules elsewhere cannot stop these tests from linking.
LIBS_test_lapic := irqchip
LIBS_test_apicbus := irqchip
LIBS_test_pi_desc := irqchip
LIBS_test_pi_stress := irqchip
LIBS_irqchip2_ops := irqchip
LIBS_test_lapic_regs := irqchip
