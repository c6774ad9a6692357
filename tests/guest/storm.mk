# tests/guest/storm: the multiboot kernel of the observe tests' positive control (a level
# line held asserted in a QEMU VM virqd did not start: tests/nested/test_observe_qemu.sh).
# 32-bit, freestanding, linked at 1 MiB by tests/guest/storm/storm.ld; QEMU loads the ELF
# with -kernel (multiboot v1).
STORM_CC ?= gcc
STORM_LD ?= ld
STORM_ELF := $(BUILD)/tests/guest/storm.elf

$(BUILD)/tests/guest/storm.o: tests/guest/storm/storm.S
	$(call msg,AS,$@)
	@mkdir -p $(@D)
	$(Q)$(STORM_CC) -m32 -ffreestanding -nostdlib -fno-pic -c $< -o $@

$(STORM_ELF): $(BUILD)/tests/guest/storm.o tests/guest/storm/storm.ld
	$(call msg,LD,$@)
	$(Q)$(STORM_LD) -m elf_i386 -static -nostdlib -z noexecstack --no-warn-rwx-segments \
		-T tests/guest/storm/storm.ld -o $@ $<

all: $(STORM_ELF)
