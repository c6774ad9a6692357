/* SPDX-License-Identifier: MIT */
/*
 * A Multiboot v1 test kernel (Multiboot Specification 0.6.96): the header, then a 32-bit
 * entry that takes the machine state of section 3.2 (EAX = 0x2BADB002, EBX = info block,
 * protected mode, paging off), sets its own stack and calls mb_main(magic, info).
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003 /* page-aligned modules, memory information */

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
	pushl %ebx
	pushl %eax
	call mb_main
1:	hlt
	jmp 1b

	.bss
	.align 16
stack:
	.skip 16384
stack_top:

	.section .note.GNU-stack, "", @progbits
