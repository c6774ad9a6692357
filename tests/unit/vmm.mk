# VMM unit tests: the pure parts of daemon/vmm (no /dev/kvm needed).
LIBS_test_vmm_layout := vmm boot hw irqchip
LIBS_test_vmm_kvm := vmm boot hw irqchip
LIBS_test_vmm_scenario := vmm boot hw irqchip
LIBS_test_vmm_uart := vmm boot hw irqchip
# bench/vmm.c (bench program $(BUILD)/bench/vmm)
LIBS_vmm := vmm boot hw irqchip
