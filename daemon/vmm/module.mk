# daemon/vmm: guest firmware. daemon/vmm/guest/*.S are assembled with the target
# toolchain, linked at their guest-physical address into flat binaries
# (ld --oformat binary) and embedded into libvirq_vmm.a with .incbin.
VMM_GEN    := $(BUILD)/gen/vmm
VMM_LD     ?= ld
VMM_GUEST_HDRS := include/virq/vmm_guest.h

$(VMM_GEN)/%.o: daemon/vmm/guest/%.S $(VMM_GUEST_HDRS)
	$(call msg,AS,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -Iinclude -nostdlib -ffreestanding -fno-pic -c $< -o $@

$(VMM_GEN)/firmware.elf: $(VMM_GEN)/firmware.o
	$(Q)$(VMM_LD) -m elf_x86_64 -static -nostdlib -z noexecstack -Ttext=0x200000 -e fw_base -o $@ $<
$(VMM_GEN)/trampoline.elf: $(VMM_GEN)/trampoline.o
	$(Q)$(VMM_LD) -m elf_x86_64 -static -nostdlib -z noexecstack -Ttext=0xf000 -e tramp_entry -o $@ $<

$(VMM_GEN)/firmware.bin: $(VMM_GEN)/firmware.o $(VMM_GEN)/firmware.elf
	$(call msg,LDBIN,$@)
	$(Q)$(VMM_LD) -m elf_x86_64 -static -nostdlib -Ttext=0x200000 -e fw_base --oformat binary -o $@ $<
$(VMM_GEN)/trampoline.bin: $(VMM_GEN)/trampoline.o $(VMM_GEN)/trampoline.elf
	$(call msg,LDBIN,$@)
	$(Q)$(VMM_LD) -m elf_x86_64 -static -nostdlib -Ttext=0xf000 -e tramp_entry --oformat binary -o $@ $<

$(VMM_GEN)/blobs.S: daemon/vmm/module.mk
	@mkdir -p $(@D)
	$(Q)printf '%s\n' \
		'	.section .rodata' \
		'	.balign 16' \
		'	.globl virq_fw_start, virq_fw_end, virq_tramp_start, virq_tramp_end' \
		'virq_fw_start:' '	.incbin "$(VMM_GEN)/firmware.bin"' 'virq_fw_end:' \
		'	.balign 16' \
		'virq_tramp_start:' '	.incbin "$(VMM_GEN)/trampoline.bin"' 'virq_tramp_end:' \
		'	.section .note.GNU-stack,"",@progbits' > $@

$(VMM_GEN)/blobs.o: $(VMM_GEN)/blobs.S $(VMM_GEN)/firmware.bin $(VMM_GEN)/trampoline.bin
	$(call msg,AS,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

EXTRA_OBJS_vmm += $(VMM_GEN)/blobs.o
