//! The application-processor trampoline: real mode → protected mode → long mode → Rust.
//!
//! An AP leaves its wait-for-SIPI state in real mode at `CS:IP = (vector << 8):0`, that
//! is at physical `vector << 12` (Intel SDM vol. 3, 8.4.4.1 "Typical BSP Initialization
//! Sequence" and 8.4.4.2 "Typical AP Initialization Sequence"). The code below is
//! assembled into the kernel image and copied by [`install_trampoline`] to
//! [`TRAMPOLINE_PHYS`], in the first MiB, which the frame allocator never hands out.
//!
//! From there it follows SDM 9.9.1 ("Switching to Protected Mode") and 9.8.5
//! ("Initializing IA-32e Mode"): a flat GDT of its own, CR0.PE, a far jump into 32-bit
//! code; CR4.PAE|PGE, CR3 = the boot PML4 (which identity-maps the first 4 GiB, so the
//! code keeps running where it is once paging is on), EFER.LME|NXE, CR0.PG|WP; a far
//! jump into 64-bit code. There it loads the stack from the parameter block, enables
//! the FPU/SSE/XSAVE state exactly like the boot CPU (`enable_fpu_state` in `entry.rs`)
//! before any Rust code runs, and calls the entry point with the CPU index and APIC id.
//!
//! The parameter block lives in the trampoline page itself, so one AP at a time may be
//! started with it: the kernel waits for each AP to check in before starting the next.

use crate::PHYS_OFFSET;
use core::arch::global_asm;

/// Where the trampoline runs: physical 0x8000, start-up IPI vector 0x08.
pub const TRAMPOLINE_PHYS: u64 = 0x8000;

/// The vector a start-up IPI carries to start an AP in the trampoline.
pub const STARTUP_VECTOR: u8 = (TRAMPOLINE_PHYS >> 12) as u8;

/// The 64-bit function an AP calls once in long mode, on its own stack, with FPU state
/// enabled: `entry(cpu_index, apic_id)`. It must never return.
pub type ApEntry = extern "C" fn(cpu: u64, apic_id: u64) -> !;

/// What the next AP started through the trampoline receives.
#[derive(Clone, Copy, Debug)]
pub struct ApStart {
    /// Top of the AP's stack (16-byte aligned, mapped in the boot page tables).
    pub stack_top: u64,
    pub entry: ApEntry,
    /// The kernel's index for the CPU.
    pub cpu: u64,
    pub apic_id: u64,
}

/// Layout of the trampoline page: code from offset 0, then at [`DATA`] the GDT, the GDT
/// pointer and the parameter block (`.org` in the assembly fails the build if the code
/// grows past `DATA`).
const DATA: u64 = 0x200;
const GDT: u64 = DATA;
const GDT_PTR: u64 = DATA + 0x20;
const PARAM_CR3: u64 = DATA + 0x30;
const PARAM_STACK: u64 = DATA + 0x38;
const PARAM_ENTRY: u64 = DATA + 0x40;
const PARAM_CPU: u64 = DATA + 0x48;
const PARAM_APIC_ID: u64 = DATA + 0x50;
const END: u64 = DATA + 0x58;

// The trampoline. It runs at TRAMPOLINE_PHYS, not where it is linked, so every address
// in it is TRAMPOLINE_PHYS plus an offset: the label differences the assembler resolves,
// or the layout constants above. Selectors of its GDT: 0x08 32-bit code, 0x10 data,
// 0x18 64-bit code.
global_asm!(
    r#"
    .pushsection .rodata.ap_trampoline, "a"
    .balign 4096
    .global ap_trampoline_start
ap_trampoline_start:
    .code16
    cli
    cld
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    lgdt [{gdt_ptr}]
    mov eax, cr0
    or eax, 1                           # PE
    mov cr0, eax
    # o32 ljmp 0x08:ap_pm32 (ptr16:32)
    .byte 0x66, 0xea
    .long {base} + (ap_pm32 - ap_trampoline_start)
    .word 0x08

    .code32
ap_pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr4
    or eax, (1 << 5) | (1 << 7)         # PAE | PGE
    mov cr4, eax
    mov eax, [{cr3}]
    mov cr3, eax
    mov ecx, 0xC0000080                 # IA32_EFER
    rdmsr
    or eax, (1 << 8) | (1 << 11)        # LME | NXE
    wrmsr
    mov eax, cr0
    or eax, 0x80010001                  # PG | WP | PE
    mov cr0, eax
    # ljmp 0x18:ap_lm64 (ptr16:32, from compatibility mode)
    .byte 0xea
    .long {base} + (ap_lm64 - ap_trampoline_start)
    .word 0x18

    .code64
ap_lm64:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov rsp, [{stack}]
    movabs rax, offset enable_fpu_state
    call rax
    mov rdi, [{cpu}]
    mov rsi, [{apic_id}]
    mov rax, [{entry}]
    call rax
2:
    cli
    hlt
    jmp 2b

    .org {data}
    .quad 0
    .quad 0x00cf9a000000ffff            # 32-bit code
    .quad 0x00cf92000000ffff            # data
    .quad 0x00af9a000000ffff            # 64-bit code
    .org {gdt_ptr_off}
    .word 4 * 8 - 1
    .long {gdt}
    .org {end}
    .popsection
"#,
    base = const TRAMPOLINE_PHYS,
    data = const DATA,
    gdt = const TRAMPOLINE_PHYS + GDT,
    gdt_ptr_off = const GDT_PTR,
    gdt_ptr = const TRAMPOLINE_PHYS + GDT_PTR,
    cr3 = const TRAMPOLINE_PHYS + PARAM_CR3,
    stack = const TRAMPOLINE_PHYS + PARAM_STACK,
    entry = const TRAMPOLINE_PHYS + PARAM_ENTRY,
    cpu = const TRAMPOLINE_PHYS + PARAM_CPU,
    apic_id = const TRAMPOLINE_PHYS + PARAM_APIC_ID,
    end = const END,
);

unsafe extern "C" {
    static ap_trampoline_start: u8;
}

/// Copies the trampoline to [`TRAMPOLINE_PHYS`] with `start` in its parameter block, and
/// the boot PML4 as the CR3 the AP loads.
///
/// # Safety
/// The page at [`TRAMPOLINE_PHYS`] must be reserved for the trampoline, and no AP may be
/// running in it (an earlier AP must have left it, i.e. reached its entry point).
pub unsafe fn install_trampoline(start: &ApStart) {
    let src = &raw const ap_trampoline_start;
    let dst = PHYS_OFFSET + TRAMPOLINE_PHYS;
    let params = [
        (PARAM_CR3, crate::boot_pml4_phys()),
        (PARAM_STACK, start.stack_top),
        (PARAM_ENTRY, start.entry as usize as u64),
        (PARAM_CPU, start.cpu),
        (PARAM_APIC_ID, start.apic_id),
    ];
    // SAFETY: the caller reserves the page; the image is END bytes, less than a page, and
    // the parameter slots are 8-byte aligned words inside it. Volatile writes: the AP
    // reads them, not this CPU.
    unsafe {
        core::ptr::copy_nonoverlapping(src, dst as *mut u8, END as usize);
        for (off, value) in params {
            core::ptr::write_volatile((dst + off) as *mut u64, value);
        }
    }
    // The start-up IPI that follows is an MMIO write; order the stores before it.
    core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
}
