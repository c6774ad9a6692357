/* SPDX-License-Identifier: MIT */
/*
 * A Multiboot v1 test kernel (Multiboot Specification 0.6.96): the header, then a 32-bit
 * entry that takes the machine state of section 3.2 (EAX = 0x2BADB002, EBX = info block,
 * protected mode, paging off), loads its own flat GDT (the loader's need not stay valid:
 * section 3.2, "GDTR"), sets its own stack and calls mb_main(magic, info).
 *
 * Also the 256 interrupt stubs: each pushes a dummy error code (unless the CPU pushed one:
 * vectors 8, 10-14, 17, 21, 29, 30, SDM Vol. 3A, 6.15) and its vector, then jumps to a
 * common stub that saves the general registers, calls isr_dispatch(frame) and returns
 * (by POPF + far RET rather than IRET: see isr_common). The stubs'
 * addresses are in isr_stubs[256] for main.c to build the IDT from.
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003 /* page-aligned modules, memory information */
#define KCODE 0x08
#define KDATA 0x10

	.section .multiboot, "a"
	.align 4
	.globl mb_header
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl _start
_start:
	cli
	movl $stack_top, %esp
	movl %eax, %esi		/* keep the magic and the info pointer across the reload */
	movl %ebx, %edi
	lgdt gdt_desc
	ljmp $KCODE, $1f
1:	movw $KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl $stack_top, %esp
	pushl $0		/* EFLAGS: IF clear, DF clear */
	popfl
	pushl %edi
	pushl %esi
	call mb_main
2:	cli
	hlt
	jmp 2b

.macro isr_stub vec
	.align 8
isr_stub_\vec:
	.if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushl $0
	.endif
	pushl $\vec
	jmp isr_common
.endm

	.align 16
isr_common:
	pushal
	cld
	pushl %esp		/* struct isr_frame *: the saved registers, vector, error, iret frame */
	call isr_dispatch
	addl $4, %esp
	popal
	addl $8, %esp		/* vector and error code: EIP, CS, EFLAGS left, as for IRET */
	/*
	 * IRET without IRET: KVM's instruction emulator does IRET in real mode only
	 * (emulate_iret), and on a host whose KVM emulates 32-bit guest code (e.g. PVM)
	 * every instruction here is emulated: an IRET stops the VM with an emulation error.
	 * For a same-privilege return to code that had IF set (every external interrupt:
	 * exceptions never return, see isr_dispatch) this is the same: restore EFLAGS from a
	 * copy (IF becomes 1: a new interrupt may nest here, on a consistent frame), then a
	 * far return pops EIP and CS and drops the saved EFLAGS.
	 */
	pushl 8(%esp)
	popfl
	lret $4

.altmacro
.macro isr_stubs_from lo, hi
	isr_stub %lo
	.if \hi - \lo
	isr_stubs_from %(\lo + 1), \hi
	.endif
.endm
/* gas limits macro recursion depth: four runs of 64 */
	isr_stubs_from 0, 63
	isr_stubs_from 64, 127
	isr_stubs_from 128, 191
	isr_stubs_from 192, 255

.macro isr_addr vec
	.long isr_stub_\vec
.endm
.macro isr_addrs_from lo, hi
	isr_addr %lo
	.if \hi - \lo
	isr_addrs_from %(\lo + 1), \hi
	.endif
.endm

	.section .rodata
	.align 4
	.globl isr_stubs
isr_stubs:
	isr_addrs_from 0, 63
	isr_addrs_from 64, 127
	isr_addrs_from 128, 191
	isr_addrs_from 192, 255

	.align 8
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: code, base 0, limit 4 GiB, 32-bit, ring 0 */
	.quad 0x00cf92000000ffff	/* 0x10: data, base 0, limit 4 GiB, writable */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.bss
	.align 16
stack:
	.skip 16384
stack_top:

	.section .note.GNU-stack, "", @progbits
