// SPDX-License-Identifier: MIT
/* isa-debug-exit, pc-testdev and the 0x8900 shutdown port; see include/virq/testdev.h. */
#include <errno.h>
#include <string.h>

#include "virq/testdev.h"

static const char shutdown_str[] = "Shutdown";

static void stop(struct virq_testdev *td, int status, const char *why)
{
	td->stops++;
	if (td->ops && td->ops->stop)
		td->ops->stop(td->opaque, status, why);
}

void virq_testdev_init(struct virq_testdev *td, const struct virq_testdev_ops *ops, void *opaque,
		       const struct virq_hw_line *line, unsigned int debug_exit_size)
{
	memset(td, 0, sizeof(*td));
	td->ops = ops;
	td->opaque = opaque;
	if (line)
		td->line = *line;
	td->debug_exit_size = debug_exit_size == 2 || debug_exit_size == 4 ? debug_exit_size : 1;
}

static void exit_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	/* QEMU debug_exit_write(): exit((val << 1) | 1) */
	stop(o, (int)(((uint32_t)val << 1) | 1), "isa-debug-exit");
}

static uint64_t scratch_read(void *o, uint64_t off, unsigned int size, uint64_t now_ns)
{
	const struct virq_testdev *td = o;

	return (uint64_t)td->scratch >> (8 * off);
}

static void scratch_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	struct virq_testdev *td = o;
	uint32_t mask = (size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1) << (8 * off);

	td->scratch = (td->scratch & ~mask) | (((uint32_t)val << (8 * off)) & mask);
}

static void flush_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	struct virq_testdev *td = o;

	if (size != 4)
		return; /* QEMU: valid.min/max_access_size 4 */
	td->flushes++;
	if (td->ops && td->ops->flush_page)
		td->ops->flush_page(td->opaque, val & ~0xfffull);
}

static void irq_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	struct virq_testdev *td = o;

	if (size != 1)
		return; /* QEMU: byte accesses only */
	if (val & 0xff)
		td->lines |= 1u << off;
	else
		td->lines &= ~(1u << off);
	virq_hw_set_line(&td->line, (uint32_t)off, !!(val & 0xff));
}

static uint64_t iomem_read(void *o, uint64_t off, unsigned int size, uint64_t now_ns)
{
	const struct virq_testdev *td = o;
	uint64_t v = 0;

	memcpy(&v, &td->iomem[off], size); /* little-endian host, little-endian device */
	return v;
}

static void iomem_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	struct virq_testdev *td = o;

	memcpy(&td->iomem[off], &val, size);
}

static void shutdown_write(void *o, uint64_t off, unsigned int size, uint64_t val, uint64_t now_ns)
{
	struct virq_testdev *td = o;

	for (unsigned int i = 0; i < size; i++) {
		char ch = (char)(val >> (8 * i));

		if (ch == shutdown_str[td->shutdown_pos])
			td->shutdown_pos++;
		else
			td->shutdown_pos = ch == shutdown_str[0];
		if (td->shutdown_pos == sizeof(shutdown_str) - 1) {
			td->shutdown_pos = 0;
			stop(td, 0, "shutdown port");
		}
	}
}

static const struct virq_hw_ops exit_ops = { .write = exit_write };
static const struct virq_hw_ops scratch_ops = { .read = scratch_read, .write = scratch_write };
static const struct virq_hw_ops flush_ops = { .write = flush_write };
static const struct virq_hw_ops irq_ops = { .write = irq_write };
static const struct virq_hw_ops iomem_ops = { .read = iomem_read, .write = iomem_write };
static const struct virq_hw_ops shutdown_ops = { .write = shutdown_write };

int virq_testdev_register(struct virq_testdev *td, struct virq_hw_bus *bus)
{
	static const struct {
		uint16_t base, len;
		const struct virq_hw_ops *ops;
		const char *name;
	} pio[] = {
		{ VIRQ_DEBUG_EXIT_PORT, 0, &exit_ops, "isa-debug-exit" },
		{ VIRQ_TESTDEV_SCRATCH, 4, &scratch_ops, "pc-testdev-ioport" },
		{ VIRQ_TESTDEV_FLUSH, 4, &flush_ops, "pc-testdev-flush-page" },
		{ VIRQ_TESTDEV_SCRATCH_BYTE, 4, &scratch_ops, "pc-testdev-ioport-byte" },
		{ VIRQ_TESTDEV_IRQ_BASE, VIRQ_TESTDEV_IRQ_LINES, &irq_ops, "pc-testdev-irq-line" },
		{ VIRQ_SHUTDOWN_PORT, 1, &shutdown_ops, "shutdown" },
	};
	unsigned int i;
	int ret;

	for (i = 0; i < sizeof(pio) / sizeof(pio[0]); i++) {
		ret = virq_hw_register_pio(bus, pio[i].base,
					   pio[i].len ? pio[i].len : td->debug_exit_size,
					   pio[i].ops, td, pio[i].name);
		if (ret)
			goto err_pio;
	}
	ret = virq_hw_register_mmio(bus, VIRQ_TESTDEV_IOMEM, VIRQ_TESTDEV_IOMEM_LEN, &iomem_ops, td,
				    "pc-testdev-iomem");
	if (ret)
		goto err_pio;
	return 0;
err_pio:
	while (i--)
		virq_hw_unregister_pio(bus, pio[i].base);
	return ret;
}
