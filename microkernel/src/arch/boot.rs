//! PVH entry: QEMU `-kernel` finds the XEN_ELFNOTE_PHYS32_ENTRY note and jumps to `pvh_start32`
//! in 32-bit protected mode with paging off and EBX pointing at `hvm_start_info`.
//!
//! The stub identity-maps the first 4 GiB with 2 MiB pages (the top GiB, which holds the q35
//! ECAM window and the device BARs, uncached), enters long mode with a flat GDT and calls
//! `kernel_main(start_info_paddr: u32)`, which each kernel binary defines.

use core::arch::global_asm;

/// Byte size of the boot stack, in `.bss`.
pub const BOOT_STACK_BYTES: usize = 256 * 1024;

global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .p2align 2
    .long 4                     /* name size: "Xen\0" */
    .long 4                     /* descriptor size */
    .long 18                    /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .p2align 2
    .long pvh_start32
    .p2align 2

    .section .text.boot, "ax", @progbits
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    mov %ebx, %esi              /* hvm_start_info survives in ESI */

    /* Zero PML4, PDPT and four page directories. */
    mov $boot_page_tables, %edi
    xor %eax, %eax
    mov $(6 * 4096 / 4), %ecx
    rep stosl
    mov $boot_page_tables, %edi

    /* PML4[0] -> PDPT (present | writable) */
    lea 0x1003(%edi), %eax
    mov %eax, (%edi)

    /* PDPT[0..4] -> PD0..PD3 */
    lea 0x1000(%edi), %ebx
    lea 0x2003(%edi), %eax
    mov $4, %ecx
1:  mov %eax, (%ebx)
    add $0x1000, %eax
    add $8, %ebx
    loop 1b

    /* PD entry i maps 2 MiB page i: present | writable | huge; the 4th GiB also PWT | PCD. */
    lea 0x2000(%edi), %ebx
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    cmp $1536, %ecx
    jb 3f
    or $0x18, %eax
3:  mov %eax, (%ebx, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jb 2b

    mov %cr4, %eax
    or $(1 << 5), %eax          /* PAE */
    mov %eax, %cr4
    mov %edi, %cr3
    mov $0xc0000080, %ecx       /* EFER */
    rdmsr
    or $(1 << 8), %eax          /* LME */
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax        /* PG | PE */
    mov %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $0x08, $long_mode_entry

    .code64
long_mode_entry:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    mov $boot_stack_top, %rsp
    mov %esi, %edi
    call kernel_main
4:  cli
    hlt
    jmp 4b

    .section .rodata.boot_gdt, "a", @progbits
    .p2align 3
    .global boot_gdt
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
boot_gdt_pointer:
    .word boot_gdt_pointer - boot_gdt - 1
    .quad boot_gdt

    .section .bss.boot, "aw", @nobits
    .p2align 12
boot_page_tables:
    .skip 6 * 4096
boot_stack:
    .skip {stack}
boot_stack_top:
    "#,
    stack = const BOOT_STACK_BYTES,
    options(att_syntax)
);
