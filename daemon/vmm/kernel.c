// SPDX-License-Identifier: MIT
/*
 * Guest kernels instead of the built-in firmware: a Linux bzImage or a Multiboot v1
 * kernel, loaded as QEMU's -kernel/-initrd/-append do, on the PC platform of platform.c.
 *
 * The parsing and placement are the pure loaders of daemon/boot (unit-tested and fuzzed);
 * this file reads the files, builds the e820 map and the ACPI/MP tables, writes the
 * entry-time GDT and identity map, and sets the BSP's registers. The APs are left to the
 * guest: it brings them up with INIT/SIPI on its own trampoline (the in-kernel LAPIC holds
 * them in wait-for-SIPI in kernel/split mode, our LAPIC model in user mode).
 *
 * Guest-physical layout below 1 MiB (reserved for the loaders):
 *   0x1000 PML4, 0x2000 PDPT, 0x3000-0x6fff four page directories: 0-4 GiB identity
 *   mapped with 2 MiB pages (Linux's 64-bit entry wants paging on, boot.rst), 0x7000 GDT;
 *   Linux's zero page at 0x10000 and command line at 0x20000 (boot/linux.c defaults);
 *   the ACPI and MP tables at 0xF0000 (inside e820's reserved BIOS area).
 */
#include "vmm_internal.h"
#include "virq/boot.h"
#include "virq/boot_acpi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#define KGPA_PML4 0x1000ull
#define KGPA_PDPT 0x2000ull
#define KGPA_PD 0x3000ull /* 4 pages */
#define KGPA_GDT 0x7000ull
#define KGPA_LOW_END 0x8000ull
#define KERNEL_FILE_MAX (256u << 20)

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull

/* Reads a whole regular file, at most max bytes. 0 and *buf (malloc) or -errno. */
static int read_file(const char *path, size_t max, uint8_t **buf, size_t *len, char *err,
		     size_t errlen)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "%s: not a regular file", path);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > max || st.st_size == 0) {
		close(fd);
		snprintf(err, errlen, "%s: %lld bytes (must be 1..%zu)", path,
			 (long long)st.st_size, max);
		return -E2BIG;
	}
	*buf = malloc((size_t)st.st_size);
	if (!*buf) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, *buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			e = n < 0 ? errno : EIO;
			close(fd);
			free(*buf);
			*buf = NULL;
			snprintf(err, errlen, "%s: read: %s", path, strerror(e));
			return -e;
		}
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return 0;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Flat GDT (SDM Vol. 3A 3.4.5): 0x10 code (64-bit for Linux's 64-bit entry, else 32-bit),
 * 0x18 data, as boot.rst's __BOOT_CS/__BOOT_DS. */
static void write_gdt(uint8_t *mem, bool code64)
{
	uint8_t *g = mem + KGPA_GDT;

	memset(g, 0, 32);
	put64(g + 0x10, code64 ? 0x00af9b000000ffffull : 0x00cf9b000000ffffull);
	put64(g + 0x18, 0x00cf93000000ffffull);
}

static void write_identity_map(uint8_t *mem)
{
	memset(mem + KGPA_PML4, 0, KGPA_GDT - KGPA_PML4);
	put64(mem + KGPA_PML4, KGPA_PDPT | PTE_P | PTE_RW);
	for (uint64_t i = 0; i < 4; i++) {
		put64(mem + KGPA_PDPT + 8 * i, (KGPA_PD + 0x1000 * i) | PTE_P | PTE_RW);
		for (uint64_t j = 0; j < 512; j++)
			put64(mem + KGPA_PD + 0x1000 * i + 8 * j,
			      ((i << 30) | (j << 21)) | PTE_P | PTE_RW | PTE_PS);
	}
}

int virq_kernel_load(struct virq_vm *vm, char *err, size_t errlen)
{
	static const struct virq_boot_range reserved[] = { { 0, KGPA_LOW_END } };
	struct virq_boot_mem mem = {
		.host = vm->mem,
		.size = vm->mem_size,
		.reserved = reserved,
		.n_reserved = 1,
	};
	struct virq_e820_config ecfg = { .ram_size = vm->mem_size };
	/* the DSDT's PCI0 has the platform's memory window: Linux scans bus 0 through it */
	struct virq_acpi_config acfg = { .n_cpus = vm->nr_vcpus,
					 .pci_mem_base = PC_PCI_MEM_BASE,
					 .pci_mem_limit = PC_PCI_MEM_LIMIT };
	struct virq_acpi_layout alay;
	struct virq_e820_entry e820[VIRQ_E820_MAX];
	struct virq_linux_info li;
	struct virq_multiboot_info mi;
	char lerr[VIRQ_BOOT_ERR_LEN], merr[VIRQ_BOOT_ERR_LEN];
	uint8_t *kernel = NULL, *initrd = NULL;
	size_t klen = 0, ilen = 0, n_e820 = 0;
	int ret;

	ret = read_file(vm->cfg.kernel, KERNEL_FILE_MAX, &kernel, &klen, err, errlen);
	if (ret)
		return ret;
	if (vm->cfg.initrd[0]) {
		ret = read_file(vm->cfg.initrd, vm->mem_size / 2, &initrd, &ilen, err, errlen);
		if (ret)
			goto out;
	}
	ret = virq_e820_build(&ecfg, e820, VIRQ_E820_MAX, &n_e820);
	if (ret) {
		snprintf(err, errlen, "e820 map: %s", strerror(-ret));
		goto out;
	}
	memcpy(vm->e820, e820, n_e820 * sizeof(e820[0]));
	vm->n_e820 = n_e820;
	if (vm->cfg.disk[0]) { /* the disk's INTA# (platform.c), for a guest without MSI-X */
		acfg.n_pci_irqs = 1;
		acfg.pci_irqs[0].slot = PC_DISK_SLOT;
		acfg.pci_irqs[0].pin = 0;
		acfg.pci_irqs[0].gsi = PC_DISK_INTX;
	}
	ret = virq_acpi_build(&mem, &acfg, &alay, lerr, sizeof(lerr));
	if (ret) {
		snprintf(err, errlen, "ACPI tables: %s", lerr);
		goto out;
	}
	/* As QEMU: a Linux setup header first, then a Multiboot header. */
	if (virq_linux_parse(kernel, klen, &li, lerr, sizeof(lerr)) == 0) {
		struct virq_linux_params p = {
			.kernel = kernel,
			.kernel_size = klen,
			.initrd = initrd,
			.initrd_size = ilen,
			.cmdline = vm->cfg.append,
			.e820 = e820,
			.n_e820 = n_e820,
		};

		ret = virq_linux_load(&mem, &p, &vm->boot, lerr, sizeof(lerr));
		if (ret)
			snprintf(err, errlen, "%s: %s", vm->cfg.kernel, lerr);
		vm->boot_kind = "linux";
	} else if (virq_multiboot_parse(kernel, klen, NULL, &mi, merr, sizeof(merr)) == 0) {
		struct virq_multiboot_module mod = { .data = initrd,
						     .size = ilen,
						     .cmdline = vm->cfg.initrd };
		struct virq_multiboot_params p = {
			.kernel = kernel,
			.kernel_size = klen,
			.name = vm->cfg.kernel,
			.append = vm->cfg.append[0] ? vm->cfg.append : NULL,
			.modules = initrd ? &mod : NULL,
			.n_modules = initrd ? 1 : 0,
			.e820 = e820,
			.n_e820 = n_e820,
		};

		ret = virq_multiboot_load(&mem, &p, &vm->boot, merr, sizeof(merr));
		if (ret)
			snprintf(err, errlen, "%s: %s", vm->cfg.kernel, merr);
		vm->boot_kind = "multiboot";
	} else {
		snprintf(err, errlen, "%s: neither a bzImage (%s) nor a Multiboot kernel (%s)",
			 vm->cfg.kernel, lerr, merr);
		ret = -ENOEXEC;
	}
	if (!ret) {
		write_gdt(vm->mem, vm->boot.mode == VIRQ_BOOT_LINUX64);
		if (vm->boot.mode == VIRQ_BOOT_LINUX64)
			write_identity_map(vm->mem);
	}
out:
	free(kernel);
	free(initrd);
	return ret;
}

static void flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code64;
	s->db = !code64;
}

int virq_kernel_bsp(struct virq_vcpu *c, char *err, size_t errlen)
{
	const struct virq_boot_entry *b = &c->vm->boot;
	bool lm = b->mode == VIRQ_BOOT_LINUX64;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(c->fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(err, errlen, "KVM_GET_SREGS: %s", strerror(errno));
		return -errno;
	}
	/* boot.rst (64- and 32-bit boot protocols) and Multiboot 0.6.96 3.2: flat segments,
	 * CS 0x10, data 0x18, IF = 0; paging (identity) only for the 64-bit entry. */
	flat_seg(&sregs.cs, VIRQ_BOOT_LINUX_CS, 0xb, lm);
	flat_seg(&sregs.ds, VIRQ_BOOT_LINUX_DS, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.limit = 0xffff;
	sregs.tr.type = 0xb; /* busy TSS: VM entry checks TR even if the guest never uses it */
	sregs.tr.present = 1;
	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.limit = 0xffff;
	sregs.ldt.type = 0x2;
	sregs.ldt.present = 1;
	sregs.ldt.unusable = 1;
	sregs.gdt.base = KGPA_GDT;
	sregs.gdt.limit = 31;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	if (lm) {
		sregs.cr0 = 0x80050033; /* PG | AM | WP | NE | ET | MP | PE */
		sregs.cr3 = KGPA_PML4;
		sregs.cr4 = 0x20; /* PAE */
		sregs.efer = 0x500; /* LMA | LME */
	} else {
		sregs.cr0 = 0x11; /* ET | PE */
		sregs.cr3 = 0;
		sregs.cr4 = 0;
		sregs.efer = 0;
	}
	if (ioctl(c->fd, KVM_SET_SREGS, &sregs) < 0) {
		snprintf(err, errlen, "KVM_SET_SREGS: %s", strerror(errno));
		return -errno;
	}
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = b->rip;
	regs.rsi = b->rsi;
	if (b->mode == VIRQ_BOOT_MULTIBOOT) {
		regs.rax = b->eax;
		regs.rbx = b->ebx;
	}
	if (ioctl(c->fd, KVM_SET_REGS, &regs) < 0) {
		snprintf(err, errlen, "KVM_SET_REGS: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * CPUID for a guest kernel: the hypervisor bit set, as QEMU does. In user mode there is no
 * in-kernel LAPIC, so KVM's
 * paravirtual features that need one are withdrawn from leaf 0x40000001
 * (Documentation/virt/kvm/x86/cpuid.rst): PV_UNHALT (7, KVM_HC_KICK_CPU), PV_SEND_IPI (11),
 * PV_SCHED_YIELD (13), ASYNC_PF_INT (14, delivered through the in-kernel LAPIC) and
 * POLL_CONTROL (12). The guest then IPIs and idles through our LAPIC model. PV_EOI (bit 6)
 * stays when cfg.pv_eoi: user.c takes MSR_KVM_PV_EOI_EN through the MSR filter and keeps
 * KVM's protocol with our LAPIC (an edge vector alone in service: no EOI exit).
 */
void virq_kernel_cpuid(const struct virq_vm *vm, struct kvm_cpuid_entry2 *e)
{
	/* CPUID.1:ECX[31], "hypervisor present" (reserved for it by the SDM, Vol. 2A CPUID):
	 * KVM's supported CPUID leaves it to the VMM, as QEMU sets it. Without it Linux
	 * never reads leaf 0x40000000, so it runs without kvm-clock and keeps time with
	 * the ACPI PM timer: a port exit on every clock read. */
	if (e->function == 1)
		e->ecx |= 1u << 31;
	/* pv_eoi off withdraws PV_EOI in every mode: one switch to compare with and without */
	if (e->function == 0x40000001 && !vm->cfg.pv_eoi)
		e->eax &= ~(1u << 6);
	if (vm->cfg.irqchip != VIRQ_IRQCHIP_USER)
		return;
	if (e->function == 0x40000001)
		e->eax &= ~((1u << 7) | (1u << 11) | (1u << 12) | (1u << 13) | (1u << 14));
}
