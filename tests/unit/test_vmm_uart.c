// SPDX-License-Identifier: MIT
/*
 * The 16550A console model: THR-empty interrupt raised and lowered like the real part
 * (16550A datasheet: IER bit 1, IIR priority 3, cleared by reading IIR or writing THR),
 * the divisor latch behind LCR.DLAB, and the bounded output log.
 */
#include "virq_test.h"
#include "virq/vmm_uart.h"

#include <errno.h>
#include <string.h>

static int wr(struct virq_uart *u, unsigned off, uint8_t v)
{
	return virq_uart_io(u, off, true, &v);
}

static uint8_t rd(struct virq_uart *u, unsigned off, int *level)
{
	uint8_t v = 0;
	int l = virq_uart_io(u, off, false, &v);

	if (level)
		*level = l;
	return v;
}

static void test_thr_empty_interrupt_rises_and_falls(void **state)
{
	struct virq_uart u;
	int level;

	virq_uart_init(&u);
	assert_int_equal(wr(&u, 0, 'A'), 0); /* IER=0: no interrupt */
	assert_int_equal(rd(&u, 2, &level) & 0x0f, VIRQ_UART_IIR_NO_INT);
	/* Enabling ETBEI while THR is empty raises the line at once. */
	assert_int_equal(wr(&u, 1, VIRQ_UART_IER_ETBEI), 1);
	assert_int_equal(u.irq_raised, 1);
	/* Reading IIR reports THRE and clears it: the line goes down. */
	assert_int_equal(rd(&u, 2, &level) & 0x0f, VIRQ_UART_IIR_THRE);
	assert_int_equal(level, 0);
	assert_int_equal(rd(&u, 2, &level) & 0x0f, VIRQ_UART_IIR_NO_INT);
	/* Each transmitted byte empties THR again: up again. */
	assert_int_equal(wr(&u, 0, 'B'), 1);
	assert_int_equal(u.irq_raised, 2);
	/* Disabling the interrupt lowers the line without clearing the condition. */
	assert_int_equal(wr(&u, 1, 0), 0);
	assert_int_equal(wr(&u, 1, VIRQ_UART_IER_ETBEI), 1);
	assert_int_equal(u.irq_raised, 3);
}

static void test_lsr_reports_transmitter_empty(void **state)
{
	struct virq_uart u;

	virq_uart_init(&u);
	assert_int_equal(rd(&u, 5, NULL) & (VIRQ_UART_LSR_THRE | VIRQ_UART_LSR_TEMT),
			 VIRQ_UART_LSR_THRE | VIRQ_UART_LSR_TEMT);
}

static void test_dlab_switches_to_the_divisor_latch(void **state)
{
	struct virq_uart u;

	virq_uart_init(&u);
	wr(&u, 3, VIRQ_UART_LCR_DLAB | 0x03);
	wr(&u, 0, 0x01);
	wr(&u, 1, 0x00);
	assert_int_equal(rd(&u, 0, NULL), 0x01);
	assert_int_equal(u.tx_bytes, 0); /* divisor writes are not output */
	assert_int_equal(u.ier, 0);
	wr(&u, 3, 0x03);
	wr(&u, 0, 'x');
	assert_int_equal(u.tx_bytes, 1);
	wr(&u, 7, 0x5a);
	assert_int_equal(rd(&u, 7, NULL), 0x5a);
	assert_int_equal(virq_uart_io(&u, 8, false, &(uint8_t){ 0 }), -EINVAL);
}

static void test_output_log_is_bounded_and_counts_drops(void **state)
{
	static struct virq_uart u;
	static char buf[VIRQ_UART_LOG + 100];
	uint64_t next, lost;
	size_t n;

	virq_uart_init(&u);
	for (int i = 0; i < 30; i++)
		wr(&u, 0, (uint8_t)('a' + i % 26));
	/* Read in two parts, as `virqctl vm console` follows the output. */
	assert_int_equal(virq_uart_console(&u, 0, buf, 6, &next, &lost), 6);
	assert_memory_equal(buf, "abcdef", 6);
	assert_int_equal(next, 6);
	assert_int_equal(lost, 0);
	assert_int_equal(virq_uart_console(&u, next, buf, sizeof(buf), &next, &lost), 24);
	assert_int_equal(next, 30);
	assert_int_equal(virq_uart_console(&u, next, buf, sizeof(buf), &next, &lost), 0);
	/* The ring keeps the newest bytes; the overwritten ones are counted and reported. */
	for (int i = 30; i < VIRQ_UART_LOG + 10; i++)
		wr(&u, 0, (uint8_t)('a' + i % 26));
	assert_int_equal(u.log_len, VIRQ_UART_LOG);
	assert_int_equal(u.tx_bytes, VIRQ_UART_LOG + 10);
	assert_int_equal(u.tx_dropped, 10);
	n = virq_uart_console(&u, 0, buf, sizeof(buf), &next, &lost);
	assert_int_equal(n, VIRQ_UART_LOG);
	assert_int_equal(lost, 10);
	assert_int_equal(buf[0], 'a' + 10 % 26);
	assert_int_equal(buf[n - 1], 'a' + (VIRQ_UART_LOG + 9) % 26);
	assert_int_equal(next, VIRQ_UART_LOG + 10);
}

static void test_loopback_mirrors_the_modem_lines(void **state)
{
	struct virq_uart u;

	virq_uart_init(&u);
	/* Linux's 8250 autoconfig: MCR = LOOP | OUT2 | RTS must read back DCD | CTS. */
	wr(&u, 4, 0x10 | 0x08 | 0x02);
	assert_int_equal(rd(&u, 6, NULL) & 0xf0, 0x90);
	wr(&u, 4, 0x10 | 0x04 | 0x01);
	assert_int_equal(rd(&u, 6, NULL) & 0xf0, 0x60); /* OUT1 -> RI, DTR -> DSR */
	wr(&u, 4, 0x0b);
	assert_int_equal(rd(&u, 6, NULL), 0xb0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thr_empty_interrupt_rises_and_falls),
		cmocka_unit_test(test_lsr_reports_transmitter_empty),
		cmocka_unit_test(test_dlab_switches_to_the_divisor_latch),
		cmocka_unit_test(test_output_log_is_bounded_and_counts_drops),
		cmocka_unit_test(test_loopback_mirrors_the_modem_lines),
	};
	return cmocka_run_group_tests_name("vmm_uart", tests, NULL, NULL);
}
