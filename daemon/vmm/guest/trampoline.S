/* SPDX-License-Identifier: MIT */
/*
 * AP start-up trampoline, linked at VIRQ_GPA_TRAMPOLINE (0xf000) and entered in real
 * mode at CS=0x0f00, IP=0 by a STARTUP IPI with vector 0x0f (SDM Vol. 3A 8.4.4.1,
 * 10.4.7.3 for the real-mode state after SIPI). It goes real mode -> 32-bit protected
 * mode -> IA-32e mode the way SDM Vol. 3A 9.8.5 describes (PAE, CR3, EFER.LME, then
 * CR0.PG), using the GDT and page tables the VMM built, and jumps to the firmware's AP
 * entry. No interrupt can be taken here (IF=0): the emulator cannot return from a
 * 32-bit protected-mode interrupt on our hosts (PLATFORM.md).
 */
#include "virq/vmm_guest.h"

#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100

	.section .text
	.code16
	.globl tramp_entry
tramp_entry:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl gdt_ptr
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $VIRQ_SEL_CODE32, $pm32

	.code32
pm32:
	movw $VIRQ_SEL_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $VIRQ_GPA_PML4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $CR0_PG, %eax
	movl %eax, %cr0
	ljmp $VIRQ_SEL_CODE64, $lm64

	.code64
lm64:
	movl $VIRQ_FW_AP_ENTRY, %eax
	jmp *%rax

	.balign 8
gdt_ptr:
	.word VIRQ_GDT_LIMIT
	.long VIRQ_GPA_GDT
	.globl tramp_end
tramp_end:
	.section .note.GNU-stack,"",@progbits
