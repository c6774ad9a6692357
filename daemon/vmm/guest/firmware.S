/* SPDX-License-Identifier: MIT */
/*
 * virq guest firmware (64-bit), linked at VIRQ_GPA_FW. Layout and ABI:
 * include/virq/vmm_guest.h.
 *
 * CPL0 code is emulated instruction by instruction on our hosts (PLATFORM.md), so
 * everything here is short: set up the LAPIC, start the APs, then idle natively at
 * CPL3 (IOPL=3) or in `hlt`. Interrupts enter through 256 stubs at +0x1000 (16 bytes
 * each) into one handler that counts per vector into the vCPU's ledger, runs mailbox
 * commands on VIRQ_MBOX_VECTOR, and EOIs (PIC, LAPIC xAPIC/x2APIC, or skipped by PV EOI
 * or held). The vCPU's ledger is found from its CPL0 stack pointer (same stride as the
 * stacks), so nothing depends on GS.
 *
 * Frame in the handler after saving 4 registers:
 *   0 rbx, 8 rdx, 16 rcx, 24 rax, 32 vector, 40 error code (or 0), 48 rip, 56 cs,
 *   64 rflags, 72 rsp, 80 ss (SDM Vol. 3A 6.14.2, Figure 6-9).
 */
#include "virq/vmm_guest.h"

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_EN 0x800 /* SDM 11.4.4 */
#define APIC_BASE_EXTD 0x400 /* SDM 11.12.1 */
#define X2APIC_MSR(reg) (0x800 + ((reg) >> 4))
#define APIC_ID 0x20
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define SVR_ENABLE_SPURIOUS_FF 0x1ff
#define SPURIOUS_VECTOR 0xff
#define NMI_VECTOR 2
#define TEST_EXIT_PORT 0xf4
/* ICR: all-excluding-self shorthand (11b << 18), INIT (101b << 8) level assert (1 << 14);
 * STARTUP (110b << 8) with the trampoline page as vector (SDM 11.6.1). */
#define ICR_INIT_ALL_BUT_SELF 0x000c4500
#define ICR_SIPI_ALL_BUT_SELF (0x000c4600 | VIRQ_SIPI_VECTOR)
#define IN_HANDLER_BIT 3
#define LEDGER_OF_RSP(reg)                             \
	movq %rsp, reg;                                \
	subq $VIRQ_GPA_STACKS, reg;                    \
	andq $~(VIRQ_STACK_STRIDE - 1), reg;           \
	addq $VIRQ_GPA_LEDGER, reg

	.section .text
	.code64
	.globl fw_base
fw_base:
	jmp bsp_entry
	.org 0x8, 0xcc
	jmp ap_entry

	.balign 16
idt_ptr:
	.word 0xfff
	.quad VIRQ_GPA_IDT

/* BSP: the VMM set CS/DS/SS, TR, GDTR, IDTR, CR0/CR3/CR4/EFER and RSP (KVM_SET_SREGS). */
bsp_entry:
	LEDGER_OF_RSP(%rbx)
	jmp cpu_init

/* AP, from the trampoline in 64-bit mode with paging on. After the first INIT its LAPIC
 * is in xAPIC mode (read the ID through MMIO); a later INIT keeps x2APIC mode (INIT
 * does not change IA32_APIC_BASE, SDM 11.12.5.1), so look first. */
ap_entry:
	movl $MSR_APIC_BASE, %ecx
	rdmsr
	testl $APIC_BASE_EXTD, %eax
	jz 1f
	movl $X2APIC_MSR(APIC_ID), %ecx
	rdmsr
	jmp 2f
1:	movl $(VIRQ_LAPIC_GPA + APIC_ID), %ecx
	movl (%rcx), %eax
	shrl $24, %eax
2:	movl %eax, %edi
	cmpl $VIRQ_VM_MAX_VCPUS, %edi
	jae ap_bad
	shll $14, %eax /* VIRQ_STACK_STRIDE */
	addl $(VIRQ_GPA_STACKS + VIRQ_STACK_STRIDE / 2), %eax
	movq %rax, %rsp
	lidt idt_ptr
	movl %edi, %eax
	shll $4, %eax
	addl $0x40, %eax /* VIRQ_SEL_TSS(cpu) */
	/* A re-INIT finds its TSS busy from the previous boot; ltr of a busy TSS faults
	 * (SDM Vol. 2A LTR), so mark it available again. */
	andb $0xfd, (VIRQ_GPA_GDT + 5)(%rax)
	ltr %ax
	LEDGER_OF_RSP(%rbx)
	jmp cpu_init
ap_bad: /* an APIC ID we have no slot for: park */
	cli
	hlt
	jmp ap_bad

/* rbx = this vCPU's ledger header. */
cpu_init:
	/* A re-INIT may have cut a handler short: forget it. */
	andq $~(1 << IN_HANDLER_BIT), VIRQ_LH_FLAGS(%rbx)
	testq $VIRQ_LF_X2APIC, VIRQ_LH_FLAGS(%rbx)
	jz 1f
	movl $MSR_APIC_BASE, %ecx
	rdmsr
	orl $(APIC_BASE_EN | APIC_BASE_EXTD), %eax
	wrmsr
	movl $X2APIC_MSR(APIC_SVR), %ecx
	movl $SVR_ENABLE_SPURIOUS_FF, %eax
	xorl %edx, %edx
	wrmsr
	movl $X2APIC_MSR(APIC_ID), %ecx
	rdmsr
	movq %rax, VIRQ_LH_APIC_ID(%rbx)
	jmp 2f
1:	/* Software-enable the LAPIC (SVR bit 8, SDM 11.4.7.2): at reset SVR=0xff drops
	 * every MSI and IPI silently. The address goes through a register: as an
	 * absolute operand 0xfee000f0 would sign-extend. */
	movl $(VIRQ_LAPIC_GPA + APIC_SVR), %ecx
	movl $SVR_ENABLE_SPURIOUS_FF, (%rcx)
	movl $(VIRQ_LAPIC_GPA + APIC_ID), %ecx
	movl (%rcx), %eax
	shrl $24, %eax
	movq %rax, VIRQ_LH_APIC_ID(%rbx)
2:	cmpq $0, VIRQ_LH_CPU(%rbx)
	jne 3f
	/* BSP: an uninitialised 8259A has vector base 0 and IMR 0, so any GSI < 16 would
	 * arrive as an exception vector (PLATFORM.md). Program it masked at base 0x20. */
	movl $VIRQ_PIC_BOOT_BASE, %esi
	movl $0xffff, %edi
	call pic_init
3:	orq $VIRQ_LF_READY, VIRQ_LH_FLAGS(%rbx)
	cmpq $0, VIRQ_LH_CPU(%rbx)
	jne idle
	cmpq $1, VIRQ_LH_NR_VCPUS(%rbx)
	jbe idle
	/* BSP starts the APs: INIT, then two STARTUPs (SDM 8.4.4.1). KVM ignores the
	 * second SIPI once the AP has left wait-for-SIPI. */
	movl $ICR_INIT_ALL_BUT_SELF, %eax
	xorl %edx, %edx
	call icr_send
	movl $ICR_SIPI_ALL_BUT_SELF, %eax
	xorl %edx, %edx
	call icr_send
	movl $ICR_SIPI_ALL_BUT_SELF, %eax
	xorl %edx, %edx
	call icr_send

idle:
	cmpq $VIRQ_IDLE_CPL3_SPIN, VIRQ_LH_IDLE(%rbx)
	je to_cpl3
4:	sti
	hlt
	jmp 4b

to_cpl3:
	/* iretq to CPL3 with IF=1 and IOPL=3 (SDM 6.14.3): native speed on our hosts. */
	pushq $(VIRQ_SEL_UDATA | 3)
	pushq VIRQ_LH_USTACK(%rbx)
	pushq $0x3202
	pushq $(VIRQ_SEL_UCODE64 | 3)
	leaq user_spin(%rip), %rax
	pushq %rax
	iretq
user_spin:
	jmp user_spin

/* ICR write: eax = low dword, edx = high dword. x2APIC: one 64-bit MSR write (SDM
 * 11.12.9); xAPIC: high dword first, the low-dword write sends (SDM 11.6.1). */
icr_send:
	testq $VIRQ_LF_X2APIC, VIRQ_LH_FLAGS(%rbx)
	jz 1f
	movl $X2APIC_MSR(APIC_ICR_LO), %ecx
	wrmsr
	ret
1:	movl $(VIRQ_LAPIC_GPA + APIC_ICR_HI), %ecx
	movl %edx, (%rcx)
	movl $(VIRQ_LAPIC_GPA + APIC_ICR_LO), %ecx
	movl %eax, (%rcx)
	ret

/* LAPIC EOI (write 0, SDM 11.8.5); clobbers rax, rcx, rdx. */
eoi_write:
	testq $VIRQ_LF_X2APIC, VIRQ_LH_FLAGS(%rbx)
	jz 1f
	movl $X2APIC_MSR(APIC_EOI), %ecx
	xorl %eax, %eax
	xorl %edx, %edx
	wrmsr
	ret
1:	movl $(VIRQ_LAPIC_GPA + APIC_EOI), %ecx
	movl $0, (%rcx)
	ret

handler:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rbx
	LEDGER_OF_RSP(%rbx)
	cmpq $NMI_VECTOR, 32(%rsp)
	je 1f
	btsq $IN_HANDLER_BIT, VIRQ_LH_FLAGS(%rbx)
	jnc 1f
	incq VIRQ_LH_NESTED(%rbx)
1:	incq VIRQ_LH_SEQ(%rbx)
	movq VIRQ_LH_SEQ(%rbx), %rcx
	movq 32(%rsp), %rax
	shlq $5, %rax /* VIRQ_LEDGER_VEC_SIZE */
	leaq VIRQ_LEDGER_VEC_OFF(%rbx, %rax), %rdx
	incq (%rdx)
	cmpq $0, 8(%rdx)
	jne 2f
	movq %rcx, 8(%rdx)
2:	movq %rcx, 16(%rdx)
	movq %rdx, %rcx
	rdtsc
	shlq $32, %rdx
	orq %rdx, %rax
	movq %rax, 24(%rcx)

	movq 32(%rsp), %rax
	cmpq $32, %rax
	jb exception
	cmpq $SPURIOUS_VECTOR, %rax
	je done /* no EOI for the spurious vector (SDM 11.9) */
	cmpq $VIRQ_MBOX_VECTOR, %rax
	jne 3f
	call mbox_run
	jmp lapic_eoi_now /* the mailbox vector is never held */
3:	/* A vector in the PIC's range came through ExtINT: EOI the 8259A(s) with a
	 * non-specific EOI, slave first (8259A datasheet, OCW2). No LAPIC EOI (SDM 11.8.5). */
	movq VIRQ_LH_PIC_BASE(%rbx), %rcx
	testq %rcx, %rcx
	jz 4f
	movq %rax, %rdx
	subq %rcx, %rdx
	cmpq $16, %rdx
	jae 4f
	cmpq $8, %rdx
	jb 5f
	movb $0x20, %al
	outb %al, $0xa0
5:	movb $0x20, %al
	outb %al, $0x20
	jmp done
4:	testq $VIRQ_LF_HOLD_EOI, VIRQ_LH_FLAGS(%rbx)
	jz lapic_eoi_now
	incq VIRQ_LH_EOI_HELD(%rbx)
	incq VIRQ_LH_HELD_OWED(%rbx)
	jmp done
lapic_eoi_now:
	/* PV EOI: the VMM set bit 0 when this EOI needs no exit (like KVM's
	 * MSR_KVM_PV_EOI_EN protocol); test-and-clear it atomically. */
	movq VIRQ_LH_PVEOI(%rbx), %rcx
	lock btrq $0, (%rcx)
	jnc 6f
	incq VIRQ_LH_EOI_SKIPPED(%rbx)
	jmp done
6:	call eoi_write
	incq VIRQ_LH_EOI_WRITTEN(%rbx)
done:
	cmpq $NMI_VECTOR, 32(%rsp)
	je 7f
	andq $~(1 << IN_HANDLER_BIT), VIRQ_LH_FLAGS(%rbx)
7:	popq %rbx
	popq %rdx
	popq %rcx
	popq %rax
	addq $16, %rsp
	iretq

exception:
	cmpq $NMI_VECTOR, %rax
	je done /* NMIs need no EOI */
	/* A real exception: record it and park the vCPU (returning would re-fault). */
	incq %rax
	movq %rax, VIRQ_LH_EXC_VEC(%rbx)
	movq 48(%rsp), %rax
	movq %rax, VIRQ_LH_EXC_RIP(%rbx)
8:	cli
	hlt
	jmp 8b

/* Runs the pending mailbox command, if any. rbx = ledger; clobbers rax, rcx, rdx. */
mbox_run:
	pushq %rsi
	pushq %rdi
	pushq %r8
	movq VIRQ_LH_MBOX(%rbx), %r8
	movq VIRQ_MB_SEQ_REQ(%r8), %rax
	cmpq VIRQ_MB_SEQ_DONE(%r8), %rax
	je mb_out
	movq VIRQ_MB_CMD(%r8), %rax
	movq VIRQ_MB_ARG0(%r8), %rsi
	movq VIRQ_MB_ARG1(%r8), %rdi
	movq $0, VIRQ_MB_STATUS(%r8)
	cmpq $VIRQ_MBOX__COUNT, %rax
	jae mb_bad
	jmp *mb_table(, %rax, 8)
mb_bad:
	movq $1, VIRQ_MB_STATUS(%r8)
	jmp mb_fin

mb_apic_write:
	andl $0xff0, %esi
	testq $VIRQ_LF_X2APIC, VIRQ_LH_FLAGS(%rbx)
	jz 1f
	movl %esi, %ecx
	shrl $4, %ecx
	addl $0x800, %ecx
	movl %edi, %eax
	movq %rdi, %rdx
	shrq $32, %rdx
	wrmsr
	jmp mb_fin
1:	movl $VIRQ_LAPIC_GPA, %ecx
	addq %rsi, %rcx
	movl %edi, (%rcx)
	jmp mb_fin

mb_apic_read:
	andl $0xff0, %esi
	testq $VIRQ_LF_X2APIC, VIRQ_LH_FLAGS(%rbx)
	jz 1f
	movl %esi, %ecx
	shrl $4, %ecx
	addl $0x800, %ecx
	rdmsr
	shlq $32, %rdx
	orq %rdx, %rax
	jmp mb_res
1:	movl $VIRQ_LAPIC_GPA, %ecx
	addq %rsi, %rcx
	movl (%rcx), %eax
	jmp mb_res

mb_icr_write:
	movl %esi, %eax
	movq %rsi, %rdx
	shrq $32, %rdx
	call icr_send
	jmp mb_fin

mb_x2apic_on:
	movl $MSR_APIC_BASE, %ecx
	rdmsr
	orl $(APIC_BASE_EN | APIC_BASE_EXTD), %eax
	wrmsr
	orq $VIRQ_LF_X2APIC, VIRQ_LH_FLAGS(%rbx)
	jmp mb_fin

mb_outb:
	movl %esi, %edx
	movl %edi, %eax
	outb %al, %dx
	jmp mb_fin

mb_inb:
	movl %esi, %edx
	xorl %eax, %eax
	inb %dx, %al
	jmp mb_res

mb_mmio_write32:
	movl %edi, (%rsi)
	jmp mb_fin

mb_mmio_read32:
	movl (%rsi), %eax
	jmp mb_res

mb_wrmsr:
	movl %esi, %ecx
	movl %edi, %eax
	movq %rdi, %rdx
	shrq $32, %rdx
	wrmsr
	jmp mb_fin

mb_rdmsr:
	movl %esi, %ecx
	rdmsr
	shlq $32, %rdx
	orq %rdx, %rax
	jmp mb_res

mb_eoi_hold:
	testq %rsi, %rsi
	jz 1f
	orq $VIRQ_LF_HOLD_EOI, VIRQ_LH_FLAGS(%rbx)
	jmp mb_fin
1:	andq $~VIRQ_LF_HOLD_EOI, VIRQ_LH_FLAGS(%rbx)
	/* Each EOI retires the highest-priority ISR bit (SDM 11.8.4), so owed EOIs are
	 * simply written one by one. */
2:	cmpq $0, VIRQ_LH_HELD_OWED(%rbx)
	je mb_fin
	call eoi_write
	decq VIRQ_LH_HELD_OWED(%rbx)
	incq VIRQ_LH_EOI_WRITTEN(%rbx)
	jmp 2b

/* 8259A initialisation, master 0x20/0x21, slave 0xa0/0xa1 (8259A datasheet: ICW1 edge,
 * cascade, ICW4 needed; ICW2 vector base; ICW3 slave on IR2; ICW4 8086 mode; OCW1 IMR). */
mb_pic_init:
	call pic_init
	jmp mb_fin

/* esi = vector base, edi = IMR (slave in bits 15:8); clobbers rax. */
pic_init:
	andl $0xf8, %esi
	movb $0x11, %al
	outb %al, $0x20
	outb %al, $0xa0
	movl %esi, %eax
	outb %al, $0x21
	addb $8, %al
	outb %al, $0xa1
	movb $0x04, %al
	outb %al, $0x21
	movb $0x02, %al
	outb %al, $0xa1
	movb $0x01, %al
	outb %al, $0x21
	outb %al, $0xa1
	movl %edi, %eax
	outb %al, $0x21
	movb %ah, %al
	outb %al, $0xa1
	movq %rsi, VIRQ_LH_PIC_BASE(%rbx)
	ret

/* IOAPIC indirect access: IOREGSEL at +0, IOWIN at +0x10 (82093AA datasheet 3.0). */
mb_ioapic_write:
	movl $VIRQ_IOAPIC_GPA, %ecx
	movl %esi, (%rcx)
	movl %edi, 0x10(%rcx)
	jmp mb_fin

mb_ioapic_read:
	movl $VIRQ_IOAPIC_GPA, %ecx
	movl %esi, (%rcx)
	movl 0x10(%rcx), %eax
	jmp mb_res

mb_stop:
	movl %esi, %eax
	outb %al, $TEST_EXIT_PORT
	jmp mb_fin

mb_res:
	movq %rax, VIRQ_MB_RESULT(%r8)
mb_fin:
	incq VIRQ_LH_MBOX_DONE(%rbx)
	/* Publish completion last; x86 stores are not reordered with older stores. */
	movq VIRQ_MB_SEQ_REQ(%r8), %rax
	movq %rax, VIRQ_MB_SEQ_DONE(%r8)
mb_out:
	popq %r8
	popq %rdi
	popq %rsi
	ret

	.balign 8
mb_table:
	.quad mb_fin /* NOP */
	.quad mb_apic_write
	.quad mb_apic_read
	.quad mb_icr_write
	.quad mb_x2apic_on
	.quad mb_outb
	.quad mb_inb
	.quad mb_mmio_write32
	.quad mb_mmio_read32
	.quad mb_wrmsr
	.quad mb_rdmsr
	.quad mb_eoi_hold
	.quad mb_pic_init
	.quad mb_ioapic_write
	.quad mb_ioapic_read
	.quad mb_stop
mb_table_end:
	.if (mb_table_end - mb_table) != 8 * VIRQ_MBOX__COUNT
	.error "mb_table does not match VIRQ_MBOX__COUNT"
	.endif

/* 256 interrupt stubs, 16 bytes each, at +0x1000. Exceptions that push an error code
 * (SDM Vol. 3A 6.13, Table 6-1: 8, 10-14, 17, 21, 29, 30) push only the vector;
 * the others push a zero first so every frame looks the same. */
	.org 0x1000, 0xcc
	.globl fw_stubs
fw_stubs:
	vec = 0
	.rept 256
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	pushq $vec
	.else
	pushq $0
	pushq $vec
	.endif
	jmp handler
	.org fw_stubs + VIRQ_FW_STUB_SIZE * (vec + 1), 0xcc
	vec = vec + 1
	.endr
	.globl fw_end
fw_end:
	.section .note.GNU-stack,"",@progbits
