# tests/guest: test kernels built with the host toolchain for a 32-bit freestanding target
# (sources only in git). multiboot/ is a Multiboot v1 ELF32 kernel; test_boot_multiboot
# loads it, so it is built before that test (order-only: not linked in).
GUEST_MB_DIR := $(BUILD)/tests/guest/multiboot
GUEST_MB_ELF := $(GUEST_MB_DIR)/kernel.elf
GUEST_CFLAGS := -m32 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -nostdlib -O2 \
	-Wall -Wextra -Werror -fno-asynchronous-unwind-tables

$(GUEST_MB_DIR)/%.o: tests/guest/multiboot/%.S
	$(call msg,AS,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@
$(GUEST_MB_DIR)/%.o: tests/guest/multiboot/%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@
$(GUEST_MB_ELF): $(GUEST_MB_DIR)/entry.o $(GUEST_MB_DIR)/main.o tests/guest/multiboot/kernel.ld
	$(call msg,LD,$@)
	$(Q)ld -m elf_i386 -static -nostdlib -z noexecstack --no-warn-rwx-segments \
		-T tests/guest/multiboot/kernel.ld -o $@ $(filter %.o,$^)

$(BUILD)/tests/unit/test_boot_multiboot: | $(GUEST_MB_ELF)

# Also run by tests/e2e/test_mbtest_qemu.sh under QEMU (and by a VMM against it): built by
# `make` and by `make check`'s build-tests, not only as the unit test's prerequisite.
all build-tests: $(GUEST_MB_ELF)
