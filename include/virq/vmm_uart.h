/* SPDX-License-Identifier: MIT */
/*
 * virq VMM: a minimal 16550A UART (transmit side) at 0x3f8, IRQ 4, as the guest's
 * console. Pure state machine: the VMM feeds port accesses and drives the IRQ line with
 * the level the model reports (raised when an enabled interrupt is pending, lowered
 * when it is cleared, like QEMU's isa-serial). Output bytes go to a bounded ring.
 *
 * Registers (16550A datasheet; DLAB=0): +0 THR/RBR, +1 IER, +2 IIR/FCR, +3 LCR,
 * +4 MCR, +5 LSR, +6 MSR, +7 SCR. DLAB=1 maps +0/+1 to the divisor latch.
 *
 * Threading: callers serialise access to one instance.
 */
#ifndef VIRQ_VMM_UART_H
#define VIRQ_VMM_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRQ_UART_BASE 0x3f8
#define VIRQ_UART_IRQ 4
#define VIRQ_UART_LOG 65536 /* console ring: the last 64 KiB of output */

#define VIRQ_UART_IER_ETBEI 0x02 /* transmitter holding register empty interrupt */
#define VIRQ_UART_IIR_NO_INT 0x01
#define VIRQ_UART_IIR_THRE 0x02
#define VIRQ_UART_IIR_FIFO 0xc0
#define VIRQ_UART_LCR_DLAB 0x80
#define VIRQ_UART_LSR_THRE 0x20
#define VIRQ_UART_LSR_TEMT 0x40
#define VIRQ_UART_MCR_OUT2 0x08 /* gates the IRQ output on PC hardware */

struct virq_uart {
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thre_pending; /* THR-empty interrupt pending (cleared by IIR read or THR write) */
	uint64_t tx_bytes; /* bytes ever written: byte i is log[i % VIRQ_UART_LOG] */
	uint64_t tx_dropped; /* bytes overwritten in the ring before anyone could read them */
	uint64_t irq_raised;
	size_t log_len; /* bytes held, <= VIRQ_UART_LOG */
	char log[VIRQ_UART_LOG];
};

void virq_uart_init(struct virq_uart *u);
/* One port access at offset 0..7. On read, *val is filled. Returns the IRQ line level
 * (0 or 1) after the access, or -EINVAL for a bad offset. */
int virq_uart_io(struct virq_uart *u, unsigned int off, bool write, uint8_t *val);

/*
 * The console from byte position `from` (0 = the first byte the guest ever wrote): copies
 * up to len bytes into buf and returns how many. *next is where the following read starts;
 * *lost (may be NULL) is how many bytes since `from` were already overwritten in the ring
 * (the read then starts at the oldest byte still held). A `from` past the end reads 0.
 */
size_t virq_uart_console(const struct virq_uart *u, uint64_t from, char *buf, size_t len,
			 uint64_t *next, uint64_t *lost);

#endif /* VIRQ_VMM_UART_H */
