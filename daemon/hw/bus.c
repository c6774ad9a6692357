// SPDX-License-Identifier: MIT
/*
 * The device bus: sorted, disjoint ranges per address space, binary-searched per access
 * (kvmtool keeps an rbtree for the same job; an array is enough for the ~20 ranges of a PC
 * and keeps the lookup branch-light).
 */
#include <errno.h>
#include <string.h>

#include "virq/hw.h"
#include "virq/router.h"

void virq_hw_bus_init(struct virq_hw_bus *bus)
{
	memset(bus, 0, sizeof(*bus));
}

/* Index of the first range whose base is > addr (upper bound). */
static uint32_t upper(const struct virq_hw_space *s, uint64_t addr)
{
	uint32_t lo = 0, hi = s->nr;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->r[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct virq_hw_range *find(const struct virq_hw_space *s, uint64_t addr)
{
	uint32_t i = upper(s, addr);
	const struct virq_hw_range *r;

	if (!i)
		return NULL;
	r = &s->r[i - 1];
	return addr - r->base < r->len ? r : NULL;
}

/* last: the highest valid address of the space. */
static int add(struct virq_hw_space *s, uint64_t base, uint64_t len, uint64_t last,
	       const struct virq_hw_ops *ops, void *opaque, const char *name)
{
	uint32_t i;

	if (!len || !ops || base > last || len - 1 > last - base)
		return -EINVAL;
	i = upper(s, base);
	/* The range before must end below base, the one at i must start past our end. */
	if (i && base - s->r[i - 1].base < s->r[i - 1].len)
		return -EBUSY;
	if (i < s->nr && s->r[i].base - base < len)
		return -EBUSY;
	if (s->nr == VIRQ_HW_MAX_RANGES)
		return -ENOSPC;
	memmove(&s->r[i + 1], &s->r[i], (s->nr - i) * sizeof(s->r[0]));
	s->r[i] = (struct virq_hw_range){
		.base = base, .len = len, .ops = ops, .opaque = opaque, .name = name
	};
	s->nr++;
	return 0;
}

static int del(struct virq_hw_space *s, uint64_t base)
{
	uint32_t i = upper(s, base);

	if (!i || s->r[i - 1].base != base)
		return -ENOENT;
	i--;
	memmove(&s->r[i], &s->r[i + 1], (s->nr - i - 1) * sizeof(s->r[0]));
	s->nr--;
	return 0;
}

int virq_hw_register_pio(struct virq_hw_bus *bus, uint16_t base, uint32_t len,
			 const struct virq_hw_ops *ops, void *opaque, const char *name)
{
	return add(&bus->pio, base, len, 0xffff, ops, opaque, name);
}

int virq_hw_register_mmio(struct virq_hw_bus *bus, uint64_t base, uint64_t len,
			  const struct virq_hw_ops *ops, void *opaque, const char *name)
{
	return add(&bus->mmio, base, len, UINT64_MAX, ops, opaque, name);
}

int virq_hw_unregister_pio(struct virq_hw_bus *bus, uint16_t base)
{
	return del(&bus->pio, base);
}

int virq_hw_unregister_mmio(struct virq_hw_bus *bus, uint64_t base)
{
	return del(&bus->mmio, base);
}

const struct virq_hw_range *virq_hw_find_pio(const struct virq_hw_bus *bus, uint16_t port)
{
	return find(&bus->pio, port);
}

const struct virq_hw_range *virq_hw_find_mmio(const struct virq_hw_bus *bus, uint64_t addr)
{
	return find(&bus->mmio, addr);
}

static uint64_t size_mask(unsigned int size)
{
	return size >= 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
}

/* The range taking an access of size bytes at addr whole, or NULL. */
static struct virq_hw_range *claim(struct virq_hw_space *s, uint64_t addr, unsigned int size)
{
	struct virq_hw_range *r = (struct virq_hw_range *)find(s, addr);

	if (r && addr - r->base + size > r->len)
		return NULL;
	return r;
}

static int rd(struct virq_hw_space *s, uint64_t addr, unsigned int size, unsigned int max,
	      uint64_t now_ns, uint64_t *val)
{
	struct virq_hw_range *r;

	if (!size || size > max || (size & (size - 1))) {
		s->bad_size++;
		*val = size_mask(max);
		return -EINVAL;
	}
	r = claim(s, addr, size);
	if (!r || !r->ops->read) {
		s->unclaimed_reads++;
		*val = size_mask(size);
		return -ENOENT;
	}
	r->reads++;
	*val = r->ops->read(r->opaque, addr - r->base, size, now_ns) & size_mask(size);
	return 0;
}

static int wr(struct virq_hw_space *s, uint64_t addr, unsigned int size, unsigned int max,
	      uint64_t val, uint64_t now_ns)
{
	struct virq_hw_range *r;

	if (!size || size > max || (size & (size - 1))) {
		s->bad_size++;
		return -EINVAL;
	}
	r = claim(s, addr, size);
	if (!r || !r->ops->write) {
		s->unclaimed_writes++;
		return -ENOENT;
	}
	r->writes++;
	r->ops->write(r->opaque, addr - r->base, size, val & size_mask(size), now_ns);
	return 0;
}

int virq_hw_pio_read(struct virq_hw_bus *bus, uint16_t port, unsigned int size, uint64_t now_ns,
		     uint32_t *val)
{
	uint64_t v;
	int ret = rd(&bus->pio, port, size, 4, now_ns, &v);

	*val = (uint32_t)v;
	return ret;
}

int virq_hw_pio_write(struct virq_hw_bus *bus, uint16_t port, unsigned int size, uint32_t val,
		      uint64_t now_ns)
{
	return wr(&bus->pio, port, size, 4, val, now_ns);
}

int virq_hw_mmio_read(struct virq_hw_bus *bus, uint64_t addr, unsigned int size, uint64_t now_ns,
		      uint64_t *val)
{
	return rd(&bus->mmio, addr, size, 8, now_ns, val);
}

int virq_hw_mmio_write(struct virq_hw_bus *bus, uint64_t addr, unsigned int size, uint64_t val,
		       uint64_t now_ns)
{
	return wr(&bus->mmio, addr, size, 8, val, now_ns);
}

static void router_set_line(void *opaque, uint32_t line, int level)
{
	/* The result (delivered, coalesced, masked) is the router's statistics' business. */
	(void)virq_router_set_irq(opaque, line, level);
}

static const struct virq_hw_line_ops router_line_ops = { .set_line = router_set_line };

void virq_hw_line_router(struct virq_hw_line *out, struct virq_router *r)
{
	out->ops = &router_line_ops;
	out->opaque = r;
}
