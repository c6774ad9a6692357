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

# The built-in scenarios (virq_scenario_builtin): daemon/vmm/scenarios/<name>.json as a
# table of { name, start, end } ending with a NULL name.
VMM_SCENARIOS := $(sort $(wildcard daemon/vmm/scenarios/*.json))

$(VMM_GEN)/blobs.S: daemon/vmm/module.mk $(VMM_SCENARIOS)
	@mkdir -p $(@D)
	$(Q)printf '%s\n' \
		'	.section .rodata' \
		'	.balign 16' \
		'	.globl virq_fw_start, virq_fw_end, virq_tramp_start, virq_tramp_end' \
		'virq_fw_start:' '	.incbin "$(VMM_GEN)/firmware.bin"' 'virq_fw_end:' \
		'	.balign 16' \
		'virq_tramp_start:' '	.incbin "$(VMM_GEN)/trampoline.bin"' 'virq_tramp_end:' > $@.tmp
	$(Q)i=0; for f in $(VMM_SCENARIOS); do \
		n=$$(basename $$f .json); \
		printf '%s\n' "scn_name_$$i: .asciz \"$$n\"" "scn_start_$$i:" \
			"	.incbin \"$$f\"" "scn_end_$$i:" >> $@.tmp; \
		i=$$((i + 1)); \
	done; \
	printf '%s\n' '	.section .data.rel.ro,"aw"' '	.balign 8' '	.globl virq_scn_table' \
		'virq_scn_table:' >> $@.tmp; \
	j=0; while [ $$j -lt $$i ]; do \
		printf '%s\n' "	.quad scn_name_$$j, scn_start_$$j, scn_end_$$j" >> $@.tmp; \
		j=$$((j + 1)); \
	done; \
	printf '%s\n' '	.quad 0, 0, 0' '	.section .note.GNU-stack,"",@progbits' >> $@.tmp
	$(Q)mv $@.tmp $@

$(VMM_GEN)/blobs.o: $(VMM_GEN)/blobs.S $(VMM_GEN)/firmware.bin $(VMM_GEN)/trampoline.bin \
	$(VMM_SCENARIOS)
	$(call msg,AS,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

EXTRA_OBJS_vmm += $(VMM_GEN)/blobs.o
