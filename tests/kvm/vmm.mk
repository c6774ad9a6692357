# Real-VM tests of daemon/vmm (skip with a reason when /dev/kvm is missing).
LIBS_test_vmm_vm := vmm boot hw irqchip
LIBS_test_vmm_scenarios := vmm boot hw irqchip
