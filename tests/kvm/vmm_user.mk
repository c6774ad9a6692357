# `user` irqchip mode on real VMs (skips with the reason when /dev/kvm is missing).
LIBS_test_vmm_user_kvm := vmm boot hw irqchip
