// SPDX-License-Identifier: MIT
/*
 * LAPIC register sweep (issue 16): one table row per register, xAPIC (SDM Vol. 3A Table
 * 11-1 and each register's figure) and x2APIC (Table 11-6, 11.12.1.2-11.12.1.3). For each
 * row: offset, readable, writable, write mask (the bits a write changes) and reset value.
 * A write of all-ones, all-zero and garbage must read back (old & ~mask) | (val & mask);
 * in x2APIC mode a write to a read-only MSR, or one setting a reserved bit, is #GP
 * (-EINVAL) and changes nothing. Then random garbage to every offset and MSR must never
 * crash (run under make asan).
 */
#include "virq_test.h"

#include <errno.h>
#include <string.h>

#include "virq/apicbus.h"
#include "virq/lapic.h"

enum { R = 1, W = 2 };

struct reg {
	uint32_t off;
	unsigned int access; /* R | W; 0: absent */
	uint32_t mask; /* bits a write changes */
	uint32_t ignored; /* x2APIC: bits outside mask that a write may set without #GP
			   * (read-only bits software reads back as 1 and writes again) */
	uint32_t reset; /* value after power-up (software-disabled, SVR 0xFF) */
	const char *name;
};

/* LVT bits: vector 7:0, delivery mode 10:8, delivery status 12 (RO), polarity 13, remote
 * IRR 14 (RO), trigger 15, mask 16, timer mode 18:17 (SDM Figure 11-8). */
#define LVT_RO ((1u << 12) | (1u << 14))
#define LVT_MV 0x000100FFu /* mask + vector */
#define LVT_DM 0x00000700u

/* Reset LVT0 of the BSP is ExtINT unmasked (KVM's LINT0_REENABLED quirk); the sweep runs
 * on CPU 1, an AP, where every LVT resets to masked. No TSC-deadline support here: timer
 * mode bit 18 is reserved (written as 0, as KVM's timer_mode_mask). */
static const struct reg xapic_regs[] = {
	{ 0x000, 0, 0, 0, 0, "reserved 0x000" },
	{ 0x010, 0, 0, 0, 0, "reserved 0x010" },
	{ VIRQ_APIC_ID, R | W, 0xFF000000u, 0, 0x01000000u, "ID" },
	{ VIRQ_APIC_VER, R, 0, 0, 0x00050014u, "VER" },
	{ 0x040, 0, 0, 0, 0, "reserved 0x040" },
	{ 0x070, 0, 0, 0, 0, "reserved 0x070" },
	{ VIRQ_APIC_TPR, R | W, 0xFFu, 0, 0, "TPR" },
	{ VIRQ_APIC_APR, R, 0, 0, 0, "APR" },
	{ VIRQ_APIC_PPR, R, 0, 0, 0, "PPR" },
	{ VIRQ_APIC_EOI, R | W, 0, 0, 0, "EOI" }, /* reads 0 (as KVM) */
	{ VIRQ_APIC_RRD, R, 0, 0, 0, "RRD" },
	{ VIRQ_APIC_LDR, R | W, 0xFF000000u, 0, 0, "LDR" },
	{ VIRQ_APIC_DFR, R | W, 0xF0000000u, 0, 0xFFFFFFFFu, "DFR" }, /* 27:0 read 1 */
	{ VIRQ_APIC_SVR, R | W, 0x3FFu, 0, 0xFFu, "SVR" },
	{ VIRQ_APIC_ISR, R, 0, 0, 0, "ISR0" },
	{ VIRQ_APIC_ISR + 0x70, R, 0, 0, 0, "ISR7" },
	{ VIRQ_APIC_TMR, R, 0, 0, 0, "TMR0" },
	{ VIRQ_APIC_TMR + 0x70, R, 0, 0, 0, "TMR7" },
	{ VIRQ_APIC_IRR, R, 0, 0, 0, "IRR0" },
	{ VIRQ_APIC_IRR + 0x70, R, 0, 0, 0, "IRR7" },
	{ VIRQ_APIC_ESR, R | W, 0, 0, 0, "ESR" }, /* a write latches errors: tested below */
	{ 0x290, 0, 0, 0, 0, "reserved 0x290" },
	{ 0x2E0, 0, 0, 0, 0, "reserved 0x2E0" },
	{ VIRQ_APIC_LVT_CMCI, 0, 0, 0, 0, "LVT CMCI (absent)" },
	{ VIRQ_APIC_ICR_LO, R | W, 0x000CCFFFu, 1u << 12, 0, "ICR low" },
	{ VIRQ_APIC_ICR_HI, R | W, 0xFF000000u, 0, 0, "ICR high" },
	{ VIRQ_APIC_LVT_TIMER, R | W, LVT_MV | (1u << 17), LVT_RO | (1u << 18), 0x10000,
	  "LVT timer" },
	{ VIRQ_APIC_LVT_THERMAL, R | W, LVT_MV | LVT_DM, LVT_RO, 0x10000, "LVT thermal" },
	{ VIRQ_APIC_LVT_PERF, R | W, LVT_MV | LVT_DM, LVT_RO, 0x10000, "LVT perf" },
	{ VIRQ_APIC_LVT_LINT0, R | W, LVT_MV | LVT_DM | (5u << 13), LVT_RO, 0x10000, "LVT LINT0" },
	/* SDM 11.5.1: level-sensitive interrupts are not supported for LINT1: bit 15 reads 0. */
	{ VIRQ_APIC_LVT_LINT1, R | W, LVT_MV | LVT_DM | (1u << 13), LVT_RO | (1u << 15), 0x10000,
	  "LVT LINT1" },
	{ VIRQ_APIC_LVT_ERROR, R | W, LVT_MV, LVT_RO, 0x10000, "LVT error" },
	{ VIRQ_APIC_TMICT, R | W, 0xFFFFFFFFu, 0, 0, "TMICT" },
	{ VIRQ_APIC_TMCCT, R, 0, 0, 0, "TMCCT" },
	{ 0x3A0, 0, 0, 0, 0, "reserved 0x3A0" },
	{ 0x3D0, 0, 0, 0, 0, "reserved 0x3D0" },
	{ VIRQ_APIC_TDCR, R | W, 0xBu, 0, 0, "TDCR" },
	{ VIRQ_APIC_SELF_IPI, 0, 0, 0, 0, "SELF IPI (x2APIC only)" },
};

static const uint32_t patterns[] = { 0xFFFFFFFFu, 0,	       0xA5A5A5A5u, 0x5A5A5A5Au,
				     0xDEADBEEFu, 0x0001F0FFu, 0x12345678u };

static struct virq_apicbus *mkbus(bool x2)
{
	struct virq_apicbus_config cfg = { .nr_cpus = 2, .lapic = { .x2apic_supported = true } };
	struct virq_apicbus *bus = virq_apicbus_new(&cfg);

	assert_non_null(bus);
	if (x2)
		for (unsigned int i = 0; i < 2; i++) {
			struct virq_lapic *l = virq_apicbus_lapic(bus, i);

			assert_int_equal(
				virq_lapic_msr_write(l, VIRQ_MSR_APIC_BASE,
						     virq_lapic_apic_base(l) | VIRQ_APIC_BASE_EXTD),
				0);
		}
	return bus;
}

static uint32_t esr_latch_x(struct virq_lapic *l)
{
	uint32_t v;

	assert_int_equal(virq_lapic_mmio_write(l, VIRQ_APIC_ESR, 0), 0);
	assert_int_equal(virq_lapic_mmio_read(l, VIRQ_APIC_ESR, &v), 0);
	return v;
}

/* Every xAPIC register: reset value, then each pattern written on a software-enabled
 * LAPIC reads back (old & ~mask) | (val & mask); absent registers read 0, ignore the
 * write and latch ESR[7] (Illegal Register Address, SDM 11.5.3). */
static void test_xapic_register_table(void **state)
{
	for (size_t i = 0; i < sizeof(xapic_regs) / sizeof(xapic_regs[0]); i++) {
		const struct reg *r = &xapic_regs[i];

		for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
			struct virq_apicbus *bus = mkbus(false);
			struct virq_lapic *l = virq_apicbus_lapic(bus, 1);
			uint32_t old, got, want, val = patterns[p];

			assert_int_equal(virq_lapic_mmio_read(l, r->off, &old), 0);
			if (old != (r->access ? r->reset : 0))
				fail_msg("%s: reset 0x%08x, expected 0x%08x", r->name, old,
					 r->reset);
			if (!r->access) {
				assert_int_equal(esr_latch_x(l), VIRQ_ESR_ILLEGAL_REG);
				assert_int_equal(virq_lapic_mmio_write(l, r->off, val), 0);
				assert_int_equal(esr_latch_x(l), VIRQ_ESR_ILLEGAL_REG);
				virq_apicbus_free(bus);
				continue;
			}
			if (r->off != VIRQ_APIC_SVR) {
				assert_int_equal(virq_lapic_mmio_write(l, VIRQ_APIC_SVR, 0x1FF), 0);
				assert_int_equal(virq_lapic_mmio_read(l, r->off, &old), 0);
			}
			assert_int_equal(virq_lapic_mmio_write(l, r->off, val), 0);
			assert_int_equal(virq_lapic_mmio_read(l, r->off, &got), 0);
			want = (old & ~r->mask) | (val & r->mask);
			/* SDM 11.4.7.2: a software-disabled APIC keeps every LVT masked. */
			if (r->off == VIRQ_APIC_SVR && !(val & VIRQ_SVR_ENABLE))
				want = (old & ~r->mask) | (val & r->mask);
			if (got != want)
				fail_msg(
					"%s: 0x%08x written over 0x%08x read 0x%08x, expected 0x%08x",
					r->name, val, old, got, want);
			virq_apicbus_free(bus);
		}
	}
}

/* x2APIC MSR 0x800 + off/16. ID and LDR are read-only (ID = initial ID 1; LDR derived:
 * cluster 0, bit 1); DFR, APR, RRD and ICR high do not exist; EOI and SELF IPI are
 * write-only. */
static void test_x2apic_register_table(void **state)
{
	for (size_t i = 0; i < sizeof(xapic_regs) / sizeof(xapic_regs[0]); i++) {
		struct reg r = xapic_regs[i];
		uint32_t msr = VIRQ_X2APIC_MSR(r.off);

		switch (r.off) {
		case VIRQ_APIC_ID:
			r = (struct reg){ r.off, R, 0, 0, 1, "x2APIC ID" };
			break;
		case VIRQ_APIC_LDR:
			r = (struct reg){ r.off, R, 0, 0, 2, "x2APIC LDR" };
			break;
		case VIRQ_APIC_DFR:
		case VIRQ_APIC_APR:
		case VIRQ_APIC_RRD:
		case VIRQ_APIC_ICR_HI:
			r.access = 0;
			break;
		case VIRQ_APIC_EOI:
			r.access = W;
			break;
		case VIRQ_APIC_SELF_IPI:
			r = (struct reg){ r.off, W, 0, 0, 0, "SELF IPI" };
			break;
		default:
			break;
		}
		for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
			struct virq_apicbus *bus = mkbus(true);
			struct virq_lapic *l = virq_apicbus_lapic(bus, 1);
			uint64_t old = 0, got = 0, val = patterns[p];
			uint32_t reserved = ~(r.mask | r.ignored);
			int rc, want_rc;

			rc = virq_lapic_msr_read(l, msr, &old);
			if (rc != ((r.access & R) ? 0 : -EINVAL))
				fail_msg("%s: RDMSR returned %d", r.name, rc);
			if ((r.access & R) && old != r.reset)
				fail_msg("%s: reset 0x%llx, expected 0x%x", r.name,
					 (unsigned long long)old, r.reset);
			if (r.off != VIRQ_APIC_SVR && (r.access & W))
				assert_int_equal(virq_lapic_msr_write(l, 0x80F, 0x1FF), 0);
			if (r.access & R)
				assert_int_equal(virq_lapic_msr_read(l, msr, &old), 0);
			/* EOI, ESR: only 0 may be written; SELF IPI: vector only. */
			if (r.off == VIRQ_APIC_EOI || r.off == VIRQ_APIC_ESR)
				reserved = ~0u;
			if (r.off == VIRQ_APIC_SELF_IPI)
				reserved = ~0xFFu;
			if (r.off == VIRQ_APIC_ICR_LO)
				reserved = 0xFFF32000u; /* 31:20, 17:16, 13 */
			want_rc = !(r.access & W) || (val & reserved) ? -EINVAL : 0;
			rc = virq_lapic_msr_write(l, msr, val);
			if (rc != want_rc)
				fail_msg("%s: WRMSR 0x%llx returned %d, expected %d", r.name,
					 (unsigned long long)val, rc, want_rc);
			if (r.access & R) {
				uint64_t want =
					rc ? old : (old & ~(uint64_t)r.mask) | (val & r.mask);

				assert_int_equal(virq_lapic_msr_read(l, msr, &got), 0);
				if (got != want)
					fail_msg(
						"%s: 0x%llx written over 0x%llx read 0x%llx, expected 0x%llx",
						r.name, (unsigned long long)val,
						(unsigned long long)old, (unsigned long long)got,
						(unsigned long long)want);
			}
			/* Bits 63:32 of every 32-bit register are reserved: #GP (SDM 11.12.1.2). */
			if (r.off != VIRQ_APIC_ICR_LO)
				assert_int_equal(
					virq_lapic_msr_write(l, msr, (1ull << 32) | (val & r.mask)),
					-EINVAL);
			virq_apicbus_free(bus);
		}
	}
}

/* Every delivery-mode value in every LVT that has the field reads back as written
 * (SDM Figure 11-8; what a reserved mode does when the source fires is counted, see
 * test_lapic); the timer and error LVTs have no such field (always fixed). */
static void test_every_lvt_delivery_mode_reads_back(void **state)
{
	static const uint32_t offs[] = { VIRQ_APIC_LVT_TIMER, VIRQ_APIC_LVT_THERMAL,
					 VIRQ_APIC_LVT_PERF,  VIRQ_APIC_LVT_LINT0,
					 VIRQ_APIC_LVT_LINT1, VIRQ_APIC_LVT_ERROR };
	struct virq_apicbus *bus = mkbus(false);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 1);

	assert_int_equal(virq_lapic_mmio_write(l, VIRQ_APIC_SVR, 0x1FF), 0);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		bool no_dm = offs[i] == VIRQ_APIC_LVT_TIMER || offs[i] == VIRQ_APIC_LVT_ERROR;

		for (uint32_t from = 0; from < 8; from++)
			for (uint32_t to = 0; to < 8; to++) {
				uint32_t got;

				assert_int_equal(
					virq_lapic_mmio_write(l, offs[i],
							      VIRQ_LVT_MASKED | (from << 8) | 0x70),
					0);
				assert_int_equal(
					virq_lapic_mmio_write(l, offs[i],
							      VIRQ_LVT_MASKED | (to << 8) | 0x70),
					0);
				assert_int_equal(virq_lapic_mmio_read(l, offs[i], &got), 0);
				assert_int_equal(got,
						 VIRQ_LVT_MASKED | (no_dm ? 0 : to << 8) | 0x70);
			}
	}
	virq_apicbus_free(bus);
}

/* Timer mode field with TSC-deadline support (SDM 11.5.4.1): 00 one-shot, 01 periodic,
 * 10 TSC-deadline read back; 11 is reserved and keeps the previous mode. Without it, bit
 * 18 is reserved and ignored (KVM's timer_mode_mask): 10b writes one-shot, 11b periodic. */
static void test_timer_mode_field(void **state)
{
	struct virq_apicbus_config cfg = { .nr_cpus = 1, .lapic = { .tsc_hz = 1000000000ull } };
	struct virq_apicbus *bus = virq_apicbus_new(&cfg);
	struct virq_lapic *l = virq_apicbus_lapic(bus, 0);
	uint32_t got;

	assert_int_equal(virq_lapic_mmio_write(l, VIRQ_APIC_SVR, 0x1FF), 0);
	for (uint32_t from = 0; from < 3; from++)
		for (uint32_t to = 0; to < 4; to++) {
			virq_lapic_mmio_write(l, VIRQ_APIC_LVT_TIMER, (from << 17) | 0x40);
			virq_lapic_mmio_write(l, VIRQ_APIC_LVT_TIMER, (to << 17) | 0x40);
			virq_lapic_mmio_read(l, VIRQ_APIC_LVT_TIMER, &got);
			if (got != (((to == 3 ? from : to) << 17) | 0x40))
				fail_msg("timer mode %u -> %u read 0x%x", from, to, got);
		}
	virq_apicbus_free(bus);

	cfg.lapic.tsc_hz = 0;
	bus = virq_apicbus_new(&cfg);
	l = virq_apicbus_lapic(bus, 0);
	assert_int_equal(virq_lapic_mmio_write(l, VIRQ_APIC_SVR, 0x1FF), 0);
	for (uint32_t from = 0; from < 2; from++)
		for (uint32_t to = 0; to < 4; to++) {
			virq_lapic_mmio_write(l, VIRQ_APIC_LVT_TIMER, (from << 17) | 0x40);
			virq_lapic_mmio_write(l, VIRQ_APIC_LVT_TIMER, (to << 17) | 0x40);
			virq_lapic_mmio_read(l, VIRQ_APIC_LVT_TIMER, &got);
			assert_int_equal(got, ((to & 1) << 17) | 0x40);
		}
	virq_apicbus_free(bus);
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Garbage: random writes and reads to every MMIO offset (aligned or not, inside the page
 * or past it) and every MSR of the x2APIC range, APIC_BASE and TSC_DEADLINE, with ticks,
 * INTA/EOI, LINT changes and event taking in between. Nothing may crash; the APIC ends in
 * a valid mode. */
static void test_garbage_never_crashes(void **state)
{
	struct virq_apicbus_config cfg = {
		.nr_cpus = 3,
		.lapic = { .x2apic_supported = true,
			   .cmci = true,
			   .directed_eoi = true,
			   .bus_hz = 100000000,
			   .tsc_hz = 1000000000ull },
	};
	struct virq_apicbus *bus = virq_apicbus_new(&cfg);
	uint64_t now = 0;

	assert_non_null(bus);
	for (unsigned int i = 0; i < 300000; i++) {
		uint64_t r = next(), v = next();
		struct virq_lapic *l = virq_apicbus_lapic(bus, (unsigned int)(r % 3));
		struct virq_lapic_events ev;
		uint32_t v32;
		uint64_t v64;

		switch ((r >> 8) % 10) {
		case 0:
		case 1:
			virq_lapic_mmio_write(l, (uint32_t)(r >> 16) & 0x1FFF, (uint32_t)v);
			break;
		case 2:
			virq_lapic_mmio_write(l, ((uint32_t)(r >> 16) & 0x3F) << 4, (uint32_t)v);
			break;
		case 3:
			virq_lapic_mmio_read(l, (uint32_t)(r >> 16) & 0x1FFF, &v32);
			break;
		case 4:
			virq_lapic_msr_write(l, 0x800 + ((uint32_t)(r >> 16) & 0xFF),
					     (r >> 40) & 1 ? v : (uint32_t)v);
			break;
		case 5:
			virq_lapic_msr_read(l, 0x800 + ((uint32_t)(r >> 16) & 0xFF), &v64);
			break;
		case 6:
			if ((r >> 16) & 1)
				virq_lapic_msr_write(l, VIRQ_MSR_APIC_BASE,
						     0xFEE00000ull | (v & 0xD00));
			else
				virq_lapic_msr_write(l, VIRQ_MSR_TSC_DEADLINE, v % 1000000);
			break;
		case 7:
			now += v % 20000;
			for (unsigned int c = 0; c < 3; c++)
				virq_lapic_tick(virq_apicbus_lapic(bus, c), now);
			break;
		case 8:
			if ((r >> 16) & 1) {
				virq_lapic_ack(l);
			} else {
				virq_lapic_eoi(l);
			}
			virq_lapic_take_events(l, &ev);
			break;
		default:
			virq_lapic_set_lint(l, (unsigned int)(r >> 16) & 1, (r >> 17) & 1);
			break;
		}
		assert_true(virq_lapic_mode(l) <= VIRQ_LAPIC_X2APIC);
	}
	virq_apicbus_free(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xapic_register_table),
		cmocka_unit_test(test_x2apic_register_table),
		cmocka_unit_test(test_every_lvt_delivery_mode_reads_back),
		cmocka_unit_test(test_timer_mode_field),
		cmocka_unit_test(test_garbage_never_crashes),
	};
	return cmocka_run_group_tests_name("lapic_regs", tests, NULL, NULL);
}
