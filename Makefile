# virq: one non-recursive Makefile. Quiet by default; `make V=1` prints full commands.
# Objects go to $(BUILD) (default build/). Each folder may add rules in its own
# module.mk, included below; sources are found by wildcard so adding a file needs no edit.

BUILD   ?= build
SAN     ?=
V       ?= 0
PREFIX  ?= /usr/local
DESTDIR ?=

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2);
endif

CC      ?= cc
CLANG   ?= clang
BPFTOOL ?= bpftool

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wundef -Wpointer-arith \
	-Wstrict-prototypes -Wmissing-prototypes -Wcast-align -Wwrite-strings \
	-Wno-unused-parameter -Wno-missing-field-initializers -Wvla -Wimplicit-fallthrough
CFLAGS  ?= -O2 -g
CPPFLAGS := -Iinclude -Itests/common -I$(BUILD)/gen -D_GNU_SOURCE
DEPFLAGS = -MMD -MP
LDLIBS  := -lbpf -lelf -lz -lcjson -lmicrohttpd -lsystemd -lpthread -lm

# Sanitizer flags live in their own variable: `make CFLAGS=...` on the command line
# overrides CFLAGS entirely (even `+=` in here), which silently built uninstrumented
# objects for make asan/tsan.
SAN_FLAGS :=
ifeq ($(SAN),asan)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
ifeq ($(SAN),tsan)
SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
endif

ALL_CFLAGS = $(WARNINGS) $(CFLAGS) $(SAN_FLAGS) $(CPPFLAGS) $(DEPFLAGS)

# --- sources -------------------------------------------------------------------
# daemon/<module>/ -> $(BUILD)/lib/libvirq_<module>.a. Order matters for static linking:
# a module may use the ones after it. A test links every module unless its folder's
# module.mk narrows it with LIBS_<test name> := <modules> (so a half-written module does
# not stop the irqchip tests from linking).
MODULES    := core ctl metrics xcheck trace vmm boot hw irqchip
mod_srcs    = $(sort $(shell find daemon/$(1) -name '*.c' ! -path '*/guest/*' 2>/dev/null))
MOD_LIB     = $(BUILD)/lib/libvirq_$(1).a
ALL_LIBS   := $(foreach m,$(MODULES),$(if $(call mod_srcs,$(m)),$(call MOD_LIB,$(m))))
test_libs   = $(if $(LIBS_$(notdir $(1))),$(foreach m,$(filter $(LIBS_$(notdir $(1))),$(MODULES)),$(call MOD_LIB,$(m))),$(ALL_LIBS))
VIRQD      := $(BUILD)/bin/virqd
VIRQCTL    := $(BUILD)/bin/virqctl
CLI_SRCS   := $(sort $(wildcard cli/*.c))
CLI_OBJS   := $(CLI_SRCS:%.c=$(BUILD)/%.o)

# Test layers: every tests/<layer>/test_*.c is a cmocka program linked with libvirq.
TEST_LAYERS := unit kvm bpf e2e
TEST_SRCS  := $(foreach l,$(TEST_LAYERS),$(sort $(wildcard tests/$(l)/test_*.c)))
TEST_BINS  := $(TEST_SRCS:%.c=$(BUILD)/%)
TEST_COMMON_SRCS := $(wildcard tests/common/*.c)
TEST_COMMON_OBJS := $(TEST_COMMON_SRCS:%.c=$(BUILD)/%.o)
BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCH_BINS := $(BENCH_SRCS:%.c=$(BUILD)/%)
FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/tests/fuzz/replay_%)

# BPF: bpf/<name>.bpf.c -> $(BUILD)/gen/<name>.skel.h
BPF_SRCS   := $(sort $(wildcard bpf/*.bpf.c))
BPF_OBJS   := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.o)
BPF_SKELS  := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/gen/%.skel.h)
VMLINUX_H  := $(BUILD)/gen/vmlinux.h
VERSION_H  := $(BUILD)/gen/virq_version.h
GEN_HDRS   := $(BPF_SKELS) $(VERSION_H)
VIRQ_VERSION := 0.1.0
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

.PHONY: FORCE all deps check test bench asan tsan fuzz soak format format-check demo clean install \
	test-unit build-tests
.DEFAULT_GOAL := all
.SECONDARY:

PROGRAMS := $(if $(wildcard daemon/main.c),$(VIRQD)) $(if $(CLI_SRCS),$(VIRQCTL))
all: $(PROGRAMS) $(TEST_BINS) $(FUZZ_REPLAY) $(BENCH_BINS)

# Per-folder additions (guest firmware, generated tables, extra programs).
-include $(sort $(wildcard daemon/*/module.mk bpf/module.mk cli/module.mk tests/*/*.mk \
	bench/module.mk dashboards/module.mk))

# --- compile rules -------------------------------------------------------------
$(BUILD)/%.o: %.c | $(GEN_HDRS)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

define module_rule
$(call MOD_LIB,$(1)): $(patsubst %.c,$(BUILD)/%.o,$(call mod_srcs,$(1))) $(EXTRA_OBJS_$(1))
	$$(call msg,AR,$$@)
	@mkdir -p $$(@D)
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_rule,$(m))))

$(VIRQD): $(BUILD)/daemon/main.o $(ALL_LIBS)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

$(VIRQCTL): $(CLI_OBJS) $(ALL_LIBS)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

.SECONDEXPANSION:
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_COMMON_OBJS) $$(call test_libs,$$*)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/bench/%: $(BUILD)/bench/%.o $$(call test_libs,$$*)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

# Fuzz targets: gcc builds link the target with the replay driver (runs the corpus in
# `make check`); `make fuzz` builds them with clang -fsanitize=fuzzer.
$(BUILD)/tests/fuzz/replay_%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o $$(call test_libs,$$*)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/fuzz/replay.o: tests/fuzz/replay.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# --- BPF -----------------------------------------------------------------------
$(VMLINUX_H):
	$(call msg,GEN,$@)
	@mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

# -mcpu=v3: atomic fetch-and-add (Linux 5.12), 32-bit jumps and ALU
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(VMLINUX_H) $(wildcard bpf/*.h include/virq/*.h)
	$(call msg,BPF,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -I$(BUILD)/gen -Ibpf \
		-Iinclude -Wall -Werror -c $< -o $@

$(BUILD)/gen/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

# The version header is rewritten only when its content changes, so a new commit
# rebuilds just what includes it.
$(VERSION_H): FORCE
	@mkdir -p $(@D)
	@printf '#define VIRQ_VERSION "%s"\n#define VIRQ_GIT_COMMIT "%s"\n' '$(VIRQ_VERSION)' '$(GIT_COMMIT)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
FORCE:

# --- top-level targets ---------------------------------------------------------
deps:
	$(Q).ci/install-deps

# e2e tests also drive bench/metrics_serve (the exporter with a synthetic snapshot).
build-tests: $(TEST_BINS) $(FUZZ_REPLAY) $(PROGRAMS) $(BENCH_BINS)

check: deps
	$(Q)$(MAKE) --no-print-directory build-tests
	$(Q)BUILD=$(BUILD) tests/run.sh

test-unit: build-tests
	$(Q)BUILD=$(BUILD) tests/run.sh unit fuzz

bench: deps
	$(Q)$(MAKE) --no-print-directory $(BENCH_BINS) $(PROGRAMS)
	$(Q)BUILD=$(BUILD) bench/run.sh

asan: deps
	$(Q)VIRQ_SAN=asan $(MAKE) --no-print-directory BUILD=build/asan SAN=asan CFLAGS='-O1 -g' check

tsan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/tsan SAN=tsan CFLAGS='-O1 -g' build-tests
	$(Q)BUILD=build/tsan VIRQ_TSAN=1 tests/run.sh tsan

fuzz: deps
	$(Q)tests/fuzz/run-libfuzzer.sh

# Longer adversarial runs: every tests/soak/*.sh for SOAK_MINUTES (default 5) each.
SOAK_MINUTES ?= 5
soak: deps
	$(Q)$(MAKE) --no-print-directory $(PROGRAMS)
	$(Q)rc=0; for t in tests/soak/*.sh; do \
		echo "== $$t ($(SOAK_MINUTES) min)"; \
		BUILD=$(BUILD) VIRQ_BUILD=$(BUILD) SOAK_MINUTES=$(SOAK_MINUTES) bash $$t || rc=1; \
	done; exit $$rc

demo: deps
	$(Q)$(MAKE) --no-print-directory $(PROGRAMS)
	$(Q)BUILD=$(BUILD) scripts/demo.sh

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	$(Q)clang-format -i $(FORMAT_FILES)
format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format-check: ok"

install: $(PROGRAMS)
	$(Q)PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) BUILD=$(BUILD) scripts/install.sh

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
