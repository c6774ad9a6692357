// SPDX-License-Identifier: MIT
/* The GSI router against KVM's routing rules (virt/kvm/irqchip.c, kvm_set_irq). */
#include "virq_test.h"
#include "virq/router.h"
#include "virq/msi.h"
#include <errno.h>
#include <string.h>

struct rec {
	struct virq_irq last;
	int n, ret;
	bool pic_level;
};

static int rec_deliver(void *o, const struct virq_irq *irq)
{
	struct rec *r = o;

	r->last = *irq;
	r->n++;
	return r->ret;
}

static void rec_pic_int(void *o, bool level)
{
	((struct rec *)o)->pic_level = level;
}

static const struct virq_sink_ops rec_ops = { .deliver = rec_deliver, .pic_int = rec_pic_int };

struct fx {
	struct virq_pic pic;
	struct virq_ioapic io;
	struct virq_router r;
	struct rec rec;
};

static int setup(void **state)
{
	static struct fx f;
	struct virq_sink s = { &rec_ops, &f.rec };

	memset(&f, 0, sizeof(f));
	f.rec.ret = 1;
	virq_pic_init(&f.pic, &s);
	assert_int_equal(virq_ioapic_init(&f.io, NULL, &s), 0);
	virq_router_init(&f.r, &f.pic, &f.io, &s);
	assert_int_equal(virq_router_set_default(&f.r, 24), 0);
	*state = &f;
	return 0;
}

static struct virq_route chip_route(uint32_t gsi, uint32_t chip, uint32_t pin)
{
	struct virq_route e;

	memset(&e, 0, sizeof(e));
	e.gsi = gsi;
	e.type = VIRQ_ROUTE_IRQCHIP;
	e.u.irqchip.chip = chip;
	e.u.irqchip.pin = pin;
	return e;
}

static struct virq_route msi_route(uint32_t gsi, uint32_t lo, uint32_t data)
{
	struct virq_route e;

	memset(&e, 0, sizeof(e));
	e.gsi = gsi;
	e.type = VIRQ_ROUTE_MSI;
	e.u.msi.addr_lo = lo;
	e.u.msi.data = data;
	return e;
}

/* kvm_setup_default_irq_routing: GSI 0-15 on both chips (identity), 16-23 IOAPIC only. */
static void test_default_table_is_kvm_identity_routing(void **state)
{
	struct fx *f = *state;
	unsigned int ioapic[24] = { 0 }, pic[16] = { 0 };
	struct virq_route e;

	assert_int_equal(virq_router_count(&f->r), 24 + 16);
	for (size_t i = 0; i < virq_router_count(&f->r); i++) {
		assert_int_equal(virq_router_get(&f->r, i, &e), 0);
		assert_int_equal(e.type, VIRQ_ROUTE_IRQCHIP);
		if (e.u.irqchip.chip == VIRQ_CHIP_IOAPIC) {
			assert_int_equal(e.u.irqchip.pin, e.gsi);
			ioapic[e.gsi]++;
		} else {
			assert_true(e.gsi < 16);
			assert_int_equal(e.u.irqchip.chip,
					 e.gsi < 8 ? VIRQ_CHIP_PIC_MASTER : VIRQ_CHIP_PIC_SLAVE);
			assert_int_equal(e.u.irqchip.pin, e.gsi % 8);
			pic[e.gsi]++;
		}
	}
	for (int i = 0; i < 24; i++)
		assert_int_equal(ioapic[i], 1);
	for (int i = 0; i < 16; i++)
		assert_int_equal(pic[i], 1);
	assert_int_equal(virq_router_get(&f->r, 40, &e), -ENOENT);
	assert_int_equal(virq_router_set_default(&f->r, 25), -EINVAL);
}

/* kvm_set_irq: negative results ignored, the rest summed. Both chips masked -> error. */
static void test_results_combine_like_kvm_set_irq(void **state)
{
	struct fx *f = *state;

	assert_int_equal(virq_router_set_irq(&f->r, 4, 1), 1); /* PIC 1 + IOAPIC masked */
	assert_true(f->rec.pic_level);
	virq_router_set_irq(&f->r, 4, 0);
	virq_pic_ioport_write(&f->pic, 0x21, 0x10);
	assert_int_equal(virq_router_set_irq(&f->r, 4, 1), -EBUSY);
	virq_ioapic_mmio_write(&f->io, 0, 0x10 + 8);
	virq_ioapic_mmio_write(&f->io, 0x10, 0x34); /* unmask pin 4, vector 0x34 */
	virq_router_set_irq(&f->r, 4, 0);
	assert_int_equal(virq_router_set_irq(&f->r, 4, 1), 1); /* IOAPIC 1 + PIC masked */
	assert_int_equal(f->rec.last.vector, 0x34);
	assert_int_equal(f->rec.last.path, VIRQ_PATH_IOAPIC);
	virq_pic_ioport_write(&f->pic, 0x21, 0x00);
	virq_router_set_irq(&f->r, 4, 0);
	virq_pic_inta(&f->pic);
	virq_pic_ioport_write(&f->pic, 0x20, 0x20);
	assert_int_equal(virq_router_set_irq(&f->r, 4, 1), 2);
	assert_int_equal(virq_router_set_irq(&f->r, 100, 1), -ENOENT);
	assert_int_equal(f->r.stats.unrouted, 1);
}

static void test_gsi_16_and_up_reach_only_the_ioapic(void **state)
{
	struct fx *f = *state;

	virq_ioapic_mmio_write(&f->io, 0, 0x10 + 2 * 20);
	virq_ioapic_mmio_write(&f->io, 0x10, VIRQ_RTE_TRIGGER_LEVEL | 0x60);
	assert_int_equal(virq_router_set_irq(&f->r, 20, 1), 1);
	assert_true(virq_router_line(&f->r, 20));
	assert_false(f->rec.pic_level);
	assert_int_equal(virq_router_set_irq(&f->r, 20, 1), 0); /* remote IRR: coalesced */
	virq_router_set_irq(&f->r, 20, 0);
	assert_false(virq_router_line(&f->r, 20));
}

static void test_msi_entry_delivers_decoded_message_on_assert_only(void **state)
{
	struct fx *f = *state;
	struct virq_route e = msi_route(64, 0xfee02000, 0x4055);

	assert_int_equal(virq_router_add(&f->r, &e), 0);
	assert_int_equal(virq_router_set_irq(&f->r, 64, 1), 1);
	assert_int_equal(f->rec.last.vector, 0x55);
	assert_int_equal(f->rec.last.dest, 2);
	assert_int_equal(f->rec.last.path, VIRQ_PATH_MSI);
	assert_int_equal(virq_router_set_irq(&f->r, 64, 0), -EINVAL);
	assert_int_equal(f->rec.n, 1);
	assert_int_equal(virq_router_pulse(&f->r, 64), 1);
	assert_int_equal(f->rec.n, 2);
	f->rec.ret = 0;
	assert_int_equal(virq_router_pulse(&f->r, 64), VIRQ_RES_COALESCED);
}

static void test_add_rejects_malformed_and_conflicting_entries(void **state)
{
	struct fx *f = *state;
	struct virq_route e;

	e = msi_route(70, 0xfed00000, 0x4055);
	assert_int_equal(virq_router_add(&f->r, &e), -EINVAL);
	e = msi_route(70, 0xfee00000, 0x4005); /* vector 5 */
	assert_int_equal(virq_router_add(&f->r, &e), -EINVAL);
	e = msi_route(3, 0xfee00000, 0x4055); /* MSI next to irqchip entries */
	assert_int_equal(virq_router_add(&f->r, &e), -EEXIST);
	e = chip_route(3, VIRQ_CHIP_IOAPIC, 7); /* second IOAPIC pin for one GSI */
	assert_int_equal(virq_router_add(&f->r, &e), -EEXIST);
	e = chip_route(30, VIRQ_CHIP_IOAPIC, 24);
	assert_int_equal(virq_router_add(&f->r, &e), -EINVAL);
	e = chip_route(30, VIRQ_CHIP_PIC_SLAVE, 8);
	assert_int_equal(virq_router_add(&f->r, &e), -EINVAL);
	e = chip_route(VIRQ_ROUTER_MAX_GSI, VIRQ_CHIP_IOAPIC, 1);
	assert_int_equal(virq_router_add(&f->r, &e), -EINVAL);
	e = chip_route(30, 3, 0);
	assert_int_equal(virq_router_add(&f->r, &e), -EINVAL);
}

/* QEMU's table differs from KVM's: ISA IRQ0 on IOAPIC pin 2, nothing on PIC IR2. */
static void test_add_remove_builds_qemu_style_override(void **state)
{
	struct fx *f = *state;
	struct virq_route e;

	e = chip_route(0, VIRQ_CHIP_IOAPIC, 0);
	assert_int_equal(virq_router_remove(&f->r, &e), 0);
	assert_int_equal(virq_router_remove(&f->r, &e), -ENOENT);
	e = chip_route(2, VIRQ_CHIP_IOAPIC, 2);
	assert_int_equal(virq_router_remove(&f->r, &e), 0);
	e = chip_route(0, VIRQ_CHIP_IOAPIC, 2);
	assert_int_equal(virq_router_add(&f->r, &e), 0);
	assert_int_equal(virq_router_count(&f->r), 39);
	virq_ioapic_mmio_write(&f->io, 0, 0x10 + 4);
	virq_ioapic_mmio_write(&f->io, 0x10, 0x3f);
	f->rec.n = 0;
	virq_router_pulse(&f->r, 0);
	assert_int_equal(f->rec.n, 1);
	assert_int_equal(f->rec.last.vector, 0x3f);
	virq_router_pulse(&f->r, 2); /* now PIC only */
	assert_int_equal(f->rec.n, 1);
	virq_router_clear(&f->r);
	assert_int_equal(virq_router_set_irq(&f->r, 0, 1), -ENOENT);
}

static void test_missing_chip_gives_enodev(void **state)
{
	static struct virq_router r;
	struct virq_route e = chip_route(5, VIRQ_CHIP_PIC_MASTER, 5);

	virq_router_init(&r, NULL, NULL, NULL);
	assert_int_equal(virq_router_add(&r, &e), 0);
	assert_int_equal(virq_router_set_irq(&r, 5, 1), -ENODEV);
	e = msi_route(6, 0xfee00000, 0x30);
	assert_int_equal(virq_router_add(&r, &e), 0);
	assert_int_equal(virq_router_set_irq(&r, 6, 1), -ENODEV); /* no sink */
	(void)state;
}

static void test_table_fills_to_capacity_then_enospc(void **state)
{
	static struct virq_router r;
	struct virq_route e;

	virq_router_init(&r, NULL, NULL, NULL);
	for (uint32_t i = 0; i < VIRQ_ROUTER_MAX_ENTRIES; i++) {
		e = msi_route(i, 0xfee00000, 0x30);
		assert_int_equal(virq_router_add(&r, &e), 0);
	}
	e = msi_route(VIRQ_ROUTER_MAX_ENTRIES, 0xfee00000, 0x30);
	assert_int_equal(virq_router_add(&r, &e), -ENOSPC);
	e = msi_route(500, 0xfee00000, 0x30);
	assert_int_equal(virq_router_remove(&r, &e), 0);
	assert_int_equal(virq_router_get(&r, 500, &e), 0);
	assert_int_equal(e.gsi, 501); /* order kept */
	(void)state;
}

static void test_statistics_add_up(void **state)
{
	struct fx *f = *state;
	unsigned int seed = 99;
	uint64_t results = 0;

	for (int i = 0; i < 5000; i++) {
		seed = seed * 1103515245u + 12345u;
		uint32_t gsi = (seed >> 8) % 30;
		int res = virq_router_set_irq(&f->r, gsi, (seed >> 20) & 1);

		(void)res;
		if (gsi < 24)
			results += gsi < 16 ? 2 : 1;
	}
	assert_int_equal(f->r.stats.delivered + f->r.stats.coalesced + f->r.stats.ignored, results);
	assert_int_equal(f->r.stats.calls + f->r.stats.unrouted, 5000);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup(fn, setup)
	const struct CMUnitTest tests[] = {
		T(test_default_table_is_kvm_identity_routing),
		T(test_results_combine_like_kvm_set_irq),
		T(test_gsi_16_and_up_reach_only_the_ioapic),
		T(test_msi_entry_delivers_decoded_message_on_assert_only),
		T(test_add_rejects_malformed_and_conflicting_entries),
		T(test_add_remove_builds_qemu_style_override),
		T(test_missing_chip_gives_enodev),
		T(test_table_fills_to_capacity_then_enospc),
		T(test_statistics_add_up),
	};
#undef T
	return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
