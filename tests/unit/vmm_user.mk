# `user` irqchip mode on simulated vCPUs (no /dev/kvm needed) and the PIR -> IRR merge.
LIBS_test_vmm_user := vmm boot hw irqchip
