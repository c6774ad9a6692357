# Real-VM tests of daemon/vmm (skip with a reason when /dev/kvm is missing).
LIBS_test_vmm_vm := vmm irqchip
LIBS_test_vmm_scenarios := vmm irqchip
