// SPDX-License-Identifier: MIT
/* Minimal 16550A transmit side; see include/virq/vmm_uart.h. */
#include "virq/vmm_uart.h"

#include <errno.h>
#include <string.h>

void virq_uart_init(struct virq_uart *u)
{
	memset(u, 0, sizeof(*u));
	u->dll = 0x0c; /* 9600 baud at 1.8432 MHz, like a PC BIOS leaves it */
}

static int irq_level(const struct virq_uart *u)
{
	/* The only interrupt source we model is THR empty (IER bit 1). */
	return (u->ier & VIRQ_UART_IER_ETBEI) && u->thre_pending;
}

int virq_uart_io(struct virq_uart *u, unsigned int off, bool write, uint8_t *val)
{
	bool dlab = u->lcr & VIRQ_UART_LCR_DLAB;
	int before = irq_level(u), after;

	if (off > 7)
		return -EINVAL;
	if (write) {
		switch (off) {
		case 0:
			if (dlab) {
				u->dll = *val;
				break;
			}
			u->log[u->tx_bytes % VIRQ_UART_LOG] = (char)*val;
			u->tx_bytes++;
			if (u->log_len < VIRQ_UART_LOG)
				u->log_len++;
			else
				u->tx_dropped++; /* the oldest byte was overwritten */
			/* Transmission is instantaneous: THR is empty again at once. */
			u->thre_pending = true;
			break;
		case 1:
			if (dlab) {
				u->dlm = *val;
				break;
			}
			/* Enabling ETBEI with THR empty raises THRE (16550A datasheet, IER). */
			if (!(u->ier & VIRQ_UART_IER_ETBEI) && (*val & VIRQ_UART_IER_ETBEI))
				u->thre_pending = true;
			u->ier = *val & 0x0f;
			break;
		case 2:
			u->fcr = *val;
			break;
		case 3:
			u->lcr = *val;
			break;
		case 4:
			u->mcr = *val & 0x1f;
			break;
		case 7:
			u->scr = *val;
			break;
		default: /* LSR and MSR are read-only */
			break;
		}
	} else {
		switch (off) {
		case 0:
			*val = dlab ? u->dll : 0;
			break;
		case 1:
			*val = dlab ? u->dlm : u->ier;
			break;
		case 2:
			/* Reading IIR while THRE is the source clears it. */
			if (irq_level(u)) {
				*val = VIRQ_UART_IIR_THRE | ((u->fcr & 1) ? VIRQ_UART_IIR_FIFO : 0);
				u->thre_pending = false;
			} else {
				*val = VIRQ_UART_IIR_NO_INT |
				       ((u->fcr & 1) ? VIRQ_UART_IIR_FIFO : 0);
			}
			break;
		case 3:
			*val = u->lcr;
			break;
		case 4:
			*val = u->mcr;
			break;
		case 5:
			*val = VIRQ_UART_LSR_THRE | VIRQ_UART_LSR_TEMT;
			break;
		case 6:
			/* Loopback (MCR bit 4): the modem outputs come back as inputs, DTR->DSR,
			 * RTS->CTS, OUT1->RI, OUT2->DCD (16550A datasheet, MCR); Linux's 8250
			 * probe checks exactly this. Otherwise a connected terminal: DCD, DSR, CTS. */
			if (u->mcr & 0x10)
				*val = (uint8_t)(((u->mcr & 0x01) << 5) | ((u->mcr & 0x02) << 3) |
						 ((u->mcr & 0x04) << 4) | ((u->mcr & 0x08) << 4));
			else
				*val = 0xb0;
			break;
		case 7:
			*val = u->scr;
			break;
		}
	}
	after = irq_level(u);
	if (after && !before)
		u->irq_raised++;
	return after;
}

size_t virq_uart_console(const struct virq_uart *u, uint64_t from, char *buf, size_t len,
			 uint64_t *next, uint64_t *lost)
{
	uint64_t oldest = u->tx_bytes - u->log_len, n = 0;

	if (lost)
		*lost = from < oldest ? oldest - from : 0;
	if (from < oldest)
		from = oldest;
	while (from < u->tx_bytes && n < len)
		buf[n++] = u->log[from++ % VIRQ_UART_LOG];
	*next = from;
	return (size_t)n;
}
