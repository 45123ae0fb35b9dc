//! The PVH note and the entry stubs (32-bit → 64-bit → high half → Rust).

use core::arch::global_asm;

// The note QEMU reads to find the 32-bit entry point: name "Xen", type 18
// (XEN_ELFNOTE_PHYS32_ENTRY), a 32-bit physical address. The linker script puts
// `.note.Xen` in its own PT_NOTE segment with alignment 4.
global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .balign 4
    .long 4
    .long 4
    .long 18
    .asciz "Xen"
    .balign 4
    .long pvh_start - 0xffffffff80000000
    .balign 4
"#
);

// Early page tables, all 4 KiB aligned. PD0..PD3 map the first 4 GiB with 2 MiB pages;
// PDPT_LOW points at them and serves both the identity map (PML4[0]) and the physical
// map at 0xffff800000000000 (PML4[256]); PDPT_HIGH maps the top 2 GiB
// (0xffffffff80000000, PML4[511], PDPT[510]) to physical 0..1 GiB.
global_asm!(
    r#"
    .section .boot_bss, "aw", @nobits
    .balign 4096
    .global boot_pml4
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096 * 4
    .balign 16
    .global boot_stack_bottom
boot_stack_bottom:
    .skip 65536
    .global boot_stack_top
boot_stack_top:
"#
);

global_asm!(
    r#"
    .section .text.boot32, "ax"
    .code32
    .global pvh_start
pvh_start:
    cli
    cld
    mov edi, ebx                        # hvm_start_info (physical)

    # Zero the page tables (they are .bss, which the loader may not have cleared).
    lea ebx, [boot_pml4 - 0xffffffff80000000]
    mov ecx, (4096 * 7) / 4
    xor eax, eax
    push edi
    mov edi, ebx
    rep stosd
    pop edi

    # PD entries: 2048 x 2 MiB pages, present | writable | huge (| PCD | PWT above 3 GiB).
    lea ebx, [boot_pd - 0xffffffff80000000]
    xor ecx, ecx
1:
    mov eax, ecx
    shl eax, 21
    or eax, 0x83
    cmp ecx, 1536
    jb 2f
    or eax, 0x18
2:
    mov [ebx + ecx * 8], eax
    mov edx, ecx
    shr edx, 11
    mov [ebx + ecx * 8 + 4], edx
    inc ecx
    cmp ecx, 2048
    jne 1b

    # PDPT_LOW[0..4] -> PD0..PD3.
    lea ebx, [boot_pdpt_low - 0xffffffff80000000]
    lea eax, [boot_pd - 0xffffffff80000000 + 3]
    mov [ebx], eax
    add eax, 4096
    mov [ebx + 8], eax
    add eax, 4096
    mov [ebx + 16], eax
    add eax, 4096
    mov [ebx + 24], eax

    # PDPT_HIGH[510] -> PD0 (top 2 GiB -> physical 0..1 GiB).
    lea ebx, [boot_pdpt_high - 0xffffffff80000000]
    lea eax, [boot_pd - 0xffffffff80000000 + 3]
    mov [ebx + 510 * 8], eax

    # PML4[0] and PML4[256] -> PDPT_LOW, PML4[511] -> PDPT_HIGH.
    lea ebx, [boot_pml4 - 0xffffffff80000000]
    lea eax, [boot_pdpt_low - 0xffffffff80000000 + 3]
    mov [ebx], eax
    mov [ebx + 256 * 8], eax
    lea eax, [boot_pdpt_high - 0xffffffff80000000 + 3]
    mov [ebx + 511 * 8], eax

    # CR4.PAE | PGE, CR3, EFER.LME | NXE, CR0.PG | WP | PE.
    mov eax, cr4
    or eax, (1 << 5) | (1 << 7)
    mov cr4, eax
    mov cr3, ebx
    mov ecx, 0xC0000080
    rdmsr
    or eax, (1 << 8) | (1 << 11)
    wrmsr
    mov eax, cr0
    or eax, 0x80010001
    mov cr0, eax

    lgdt [boot_gdt_ptr - 0xffffffff80000000]
    push 0x08
    lea eax, [boot_long_mode - 0xffffffff80000000]
    push eax
    retf

    .code64
boot_long_mode:
    movabs rax, offset boot_high
    jmp rax

    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff            # 64-bit code
    .quad 0x00cf92000000ffff            # data
boot_gdt_ptr:
    .word boot_gdt_ptr - boot_gdt - 1
    .long boot_gdt - 0xffffffff80000000

    .section .text.boot64, "ax"
    .code64
    .global boot_high
boot_high:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov r12, rdi                        # hvm_start_info (physical)
    movabs rdi, offset __bss_start      # .bss may hold garbage: clear it first
    movabs rcx, offset __bss_end
    sub rcx, rdi
    xor eax, eax
    rep stosb
    movabs rsp, offset boot_stack_top
    call enable_fpu_state
    mov rdi, r12
    call boot_rust_entry
3:
    cli
    hlt
    jmp 3b

    # Enables SSE and, where CPUID has it, XSAVE with every user state component
    # Spindle saves (x87, SSE, AVX, AVX-512). Used by the BSP and each AP.
    .global enable_fpu_state
enable_fpu_state:
    push rbx
    mov rax, cr0
    and rax, ~((1 << 2) | (1 << 3))     # clear EM and TS
    or rax, (1 << 1)                    # MP
    mov cr0, rax
    mov rax, cr4
    or rax, (1 << 9) | (1 << 10)        # OSFXSR | OSXMMEXCPT
    mov cr4, rax
    mov eax, 1
    cpuid
    bt ecx, 26                          # XSAVE
    jnc 4f
    mov rax, cr4
    or rax, (1 << 18)                   # OSXSAVE
    mov cr4, rax
    mov eax, 0xd
    xor ecx, ecx
    cpuid
    and eax, 0xe7                       # x87 | SSE | AVX | opmask | ZMM_Hi256 | Hi16_ZMM
    xor edx, edx
    xor ecx, ecx
    xsetbv
4:
    fninit
    pop rbx
    ret
"#
);
