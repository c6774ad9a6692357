# Fuzz targets (tests/fuzz/fuzz_<name>.c). LIBS_fuzz_<name> names the modules a target
# needs, for the gcc replay program (Makefile) and the libFuzzer build alike.
LIBS_fuzz_scenario := vmm boot hw irqchip

# The modules of a fuzz target: LIBS_<target> if set, else all (as for replay programs).
fuzz_mods = $(if $(LIBS_$(1)),$(filter $(LIBS_$(1)),$(MODULES)),$(MODULES))

# `make fuzz-info-fuzz_<name>` (tests/fuzz/run-libfuzzer.sh): builds what the libFuzzer
# build of the target takes from make (generated headers; module objects that are not C
# sources, such as the vmm firmware blobs) and prints two lines: the module sources and
# those objects, then the libraries to link. Recipes expand after every .mk is read, so
# LIBS_fuzz_<name> may be set in any of them.
fuzz-info-%: FORCE
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD) $(GEN_HDRS) \
		$(foreach m,$(call fuzz_mods,$*),$(EXTRA_OBJS_$(m))) >&2
	@echo $(foreach m,$(call fuzz_mods,$*),$(call mod_srcs,$(m)) $(EXTRA_OBJS_$(m)))
	@echo $(LDLIBS)
