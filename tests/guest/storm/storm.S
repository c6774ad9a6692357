/*
 * storm: a multiboot (v1) kernel for QEMU's -kernel that holds a level-triggered interrupt
 * line asserted: the positive control of the observe tests (issue 14), an interrupt storm
 * in a VM that virqd did not start.
 *
 * It routes ISA IRQ 10 (GSI 10, IOAPIC pin 10 on QEMU's pc machine) as level-triggered,
 * active-high, fixed, physical destination = this CPU's APIC ID, vector 0x40; masks both
 * PICs; software-enables the LAPIC; then raises the line through QEMU's pc-testdev (a byte
 * write of 1 to port 0x2000 + IRQ sets the ISA IRQ's level: hw/misc/pc-testdev.c,
 * test_irq_line). The handler counts, writes the LAPIC EOI and returns WITHOUT lowering the
 * line, so the IOAPIC delivers it again at once (a level-triggered RTE whose line is still
 * asserted when its EOI clears Remote IRR is re-sent: 82093AA IOAPIC datasheet, 3.2.4,
 * "Remote IRR"; KVM's kvm_ioapic_update_eoi_one does the same). After COUNT interrupts
 * (the multiboot command line's first number, default 200000) the handler lowers the line;
 * the kernel prints "storm: count=N other=N spurious=N" on COM1 and exits through
 * isa-debug-exit (port 0xf4: QEMU exits with status (value << 1) | 1 = 1).
 *
 * QEMU: -machine pc -device pc-testdev -device isa-debug-exit,iobase=0xf4,iosize=0x04
 *       -serial file:... -kernel storm.elf -append 200000
 *
 * 32-bit protected mode, flat segments, paging off, as the multiboot loader leaves it
 * (Multiboot Specification 0.6.96, 3.2 "Machine state"); we load our own GDT because the
 * loader's need not stay valid.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0
#define LAPIC 0xfee00000
#define LAPIC_ID 0x20 /* bits 31:24: APIC ID (SDM Vol. 3A, 11.4.6) */
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0 /* bit 8: APIC software enable (SDM Vol. 3A, 11.9) */
#define SVR_ENABLE (1 << 8)
#define SPURIOUS_VEC 0xff
#define IOAPIC 0xfec00000 /* IOREGSEL at +0, IOWIN at +0x10 (82093AA, 3.1) */
#define IOAPIC_RTE_LO(pin) (0x10 + 2 * (pin))
#define IOAPIC_RTE_HI(pin) (0x11 + 2 * (pin))
/* RTE low word (82093AA, 3.2.4): vector 7:0, delivery mode 10:8 (000 fixed), destination
 * mode 11 (0 physical), polarity 13 (0 high), trigger 15 (1 level), mask 16. */
#define RTE_LEVEL (1 << 15)
#define RTE_MASK (1 << 16)
#define RTE_DEST_SHIFT 24 /* high word 31:24: physical APIC ID */
#define STORM_IRQ 10
#define STORM_VEC 0x40
#define TESTDEV_IRQ 0x2000 /* pc-testdev: byte write at 0x2000 + n sets ISA IRQ n's level */
#define COM1 0x3f8
#define DEBUG_EXIT 0xf4
#define DEFAULT_COUNT 200000

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl _start
_start:
	cli
	movl $stack_top, %esp
	movl %ebx, mbi
	lgdt gdt_desc
	ljmp $0x08, $1f
1:	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs

	/* The count: the first decimal number of the command line (mbi flags bit 2,
	 * cmdline at +16), else the default. */
	movl $DEFAULT_COUNT, limit
	movl mbi, %ebx
	testl $4, (%ebx)
	jz 3f
	movl 16(%ebx), %esi
	xorl %eax, %eax
	xorl %ecx, %ecx /* digits seen */
2:	movzbl (%esi), %edx
	incl %esi
	subl $'0', %edx
	cmpl $9, %edx
	ja 4f
	imull $10, %eax
	addl %edx, %eax
	incl %ecx
	jmp 2b
4:	testl %ecx, %ecx
	jnz 5f
	cmpb $0, -1(%esi)
	jne 2b /* not a digit yet: keep looking */
	jmp 3f
5:	testl %eax, %eax
	jz 3f
	movl %eax, limit
3:
	/* IDT: exceptions (0-31) to fault, 0x40 to the storm handler, the spurious vector to
	 * its own, every other vector to other. Interrupt gates, DPL 0 (SDM Vol. 3A, 6.11). */
	xorl %ecx, %ecx
6:	movl $other, %eax
	cmpl $32, %ecx
	jae 7f
	movl $fault, %eax
7:	cmpl $STORM_VEC, %ecx
	jne 8f
	movl $storm, %eax
8:	cmpl $SPURIOUS_VEC, %ecx
	jne 9f
	movl $spurious, %eax
9:	movw %ax, idt(, %ecx, 8)
	movw $0x08, idt + 2(, %ecx, 8)
	movw $0x8e00, idt + 4(, %ecx, 8) /* present, DPL 0, 32-bit interrupt gate */
	shrl $16, %eax
	movw %ax, idt + 6(, %ecx, 8)
	incl %ecx
	cmpl $256, %ecx
	jb 6b
	lidt idt_desc

	/* Both 8259As masked (OCW1 = 0xff): the line reaches the CPU through the IOAPIC only. */
	movb $0xff, %al
	outb %al, $0x21
	outb %al, $0xa1

	/* LAPIC: TPR 0, software-enabled with the spurious vector. */
	movl $0, LAPIC + LAPIC_TPR
	movl $(SVR_ENABLE | SPURIOUS_VEC), LAPIC + LAPIC_SVR
	movl LAPIC + LAPIC_ID, %edx
	shrl $24, %edx

	/* IOAPIC pin 10: high word first, then the unmasked low word. */
	movl $IOAPIC_RTE_HI(STORM_IRQ), IOAPIC
	shll $RTE_DEST_SHIFT, %edx
	movl %edx, IOAPIC + 0x10
	movl $IOAPIC_RTE_LO(STORM_IRQ), IOAPIC
	movl $(RTE_LEVEL | STORM_VEC), IOAPIC + 0x10

	movl $msg_start, %esi
	call puts

	/* Assert the line and let the storm in. */
	movw $(TESTDEV_IRQ + STORM_IRQ), %dx
	movb $1, %al
	outb %al, %dx
	sti
10:	hlt
	cmpl $0, done
	je 10b
	cli

	movl $msg_count, %esi
	call puts
	movl count, %eax
	call putu
	movl $msg_other, %esi
	call puts
	movl others, %eax
	call putu
	movl $msg_spurious, %esi
	call puts
	movl spurious_n, %eax
	call putu
	movl $msg_nl, %esi
	call puts
exit:
	movw $DEBUG_EXIT, %dx
	xorl %eax, %eax
	outl %eax, %dx
11:	hlt /* not reached with isa-debug-exit */
	jmp 11b

/* The storm's handler: count, EOI, iret with the line still high; lower it at the limit. */
storm:
	pushl %eax
	pushl %edx
	incl count
	movl count, %eax
	cmpl limit, %eax
	jb 1f
	movw $(TESTDEV_IRQ + STORM_IRQ), %dx
	xorb %al, %al
	outb %al, %dx
	movl $1, done
1:	movl $0, LAPIC + LAPIC_EOI
	popl %edx
	popl %eax
	iret

other:
	incl others
	movl $0, LAPIC + LAPIC_EOI
	iret

/* The spurious vector takes no EOI (SDM Vol. 3A, 11.9). */
spurious:
	incl spurious_n
	iret

fault:
	movl $msg_fault, %esi
	call puts
	jmp exit

/* puts: the NUL-terminated string at %esi to COM1 (polling LSR bit 5, THR empty). */
puts:
	pushl %eax
	pushl %edx
1:	movb (%esi), %al
	testb %al, %al
	jz 3f
	movb %al, %ah
	movw $(COM1 + 5), %dx
2:	inb %dx, %al
	testb $0x20, %al
	jz 2b
	movw $COM1, %dx
	movb %ah, %al
	outb %al, %dx
	incl %esi
	jmp 1b
3:	popl %edx
	popl %eax
	ret

/* putu: %eax in decimal to COM1. */
putu:
	pushl %ebx
	pushl %ecx
	pushl %edx
	pushl %esi
	movl $numbuf + 11, %esi
	movb $0, (%esi)
	movl $10, %ebx
1:	xorl %edx, %edx
	divl %ebx
	addb $'0', %dl
	decl %esi
	movb %dl, (%esi)
	testl %eax, %eax
	jnz 1b
	call puts
	popl %esi
	popl %edx
	popl %ecx
	popl %ebx
	ret

	.section .rodata
msg_start:	.asciz "storm: line asserted\n"
msg_count:	.asciz "storm: count="
msg_other:	.asciz " other="
msg_spurious:	.asciz " spurious="
msg_nl:		.asciz "\n"
msg_fault:	.asciz "storm: exception\n"

	.align 8
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff /* 0x08: code, base 0, 4 GiB, 32-bit (SDM Vol. 3A, 3.4.5) */
	.quad 0x00cf92000000ffff /* 0x10: data */
gdt_desc:
	.word gdt_desc - gdt - 1
	.long gdt
idt_desc:
	.word 256 * 8 - 1
	.long idt

	.bss
	.align 8
idt:	.skip 256 * 8
mbi:	.long 0
limit:	.long 0
count:	.long 0
others:	.long 0
spurious_n: .long 0
done:	.long 0
numbuf:	.skip 12
	.align 16
	.skip 4096
stack_top:
