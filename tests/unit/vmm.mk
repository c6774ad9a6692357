# VMM unit tests: the pure parts of daemon/vmm (no /dev/kvm needed).
LIBS_test_vmm_layout := vmm irqchip
LIBS_test_vmm_kvm := vmm irqchip
LIBS_test_vmm_scenario := vmm irqchip
LIBS_test_vmm_uart := vmm irqchip
# bench/vmm.c (bench program $(BUILD)/bench/vmm)
LIBS_vmm := vmm irqchip
