//! Entry and exit paths in assembly: interrupt stubs, `syscall`, return to ring 3,
//! the kernel context switch, and user-memory copies with fault recovery.
//!
//! Stack layout on entry (both paths build the same [`syscall::Frame`]): the hardware
//! frame (`ss, rsp, rflags, cs, rip`), the error code, the vector (`u64::MAX` for a
//! syscall), then the fifteen general registers, `r15` lowest. Below the frame, the SSE
//! area ([`SSE_AREA_SIZE`] bytes: XMM0-15, then MXCSR). For an entry from ring 3 the
//! frame sits at the very top of the thread's kernel stack, so its address (and the SSE
//! area's) is fixed per thread. Below those, each thread keeps an `xsave` area for the
//! rest of its extended state ([`ext_area`]).
//!
//! # Extended state
//!
//! Kernel code (the prebuilt `core` included) uses SSE registers and nothing wider, and
//! legacy SSE instructions leave the upper halves of the AVX registers alone. So an
//! entry saves only XMM0-15 and MXCSR, with plain moves (XSAVE costs microseconds under
//! TCG, moves cost nanoseconds), and the exit restores them; the other components (x87,
//! AVX, AVX-512) stay live in the CPU while the thread is in the kernel, and the kernel
//! saves and restores them only when it switches threads
//! ([`crate::cpu::save_upper_state`]).
//!
//! The kernel supplies three `extern "C"` functions: `trap_handler(&mut Frame)`,
//! `syscall_handler(&mut Frame)` and `thread_start_hook()`.

use core::arch::global_asm;
use core::sync::atomic::Ordering;

/// Bytes between two consecutive interrupt stubs.
pub const STUB_SIZE: u64 = 16;

/// Size of a [`syscall::Frame`].
pub const FRAME_SIZE: u64 = core::mem::size_of::<syscall::Frame>() as u64;

// The 256 vector stubs. Vectors with a CPU-pushed error code (8, 10-14, 17, 21, 29, 30)
// skip the dummy push so every frame has the same shape.
global_asm!(
    r#"
    .section .text.vectors, "ax"
    .balign 16
    .global vector_stubs
vector_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp trap_common
    .set vec, vec + 1
    .endr
"#,
    options(att_syntax)
);

global_asm!(
    r#"
    .section .text.entry, "ax"

    # Saves the SSE registers and MXCSR below the frame (rsp is 16-byte aligned after
    # PUSH_REGS: the frame is 176 bytes and starts 16-byte aligned).
    .macro SAVE_SSE
    sub rsp, 272
    movaps [rsp + 0x00], xmm0
    movaps [rsp + 0x10], xmm1
    movaps [rsp + 0x20], xmm2
    movaps [rsp + 0x30], xmm3
    movaps [rsp + 0x40], xmm4
    movaps [rsp + 0x50], xmm5
    movaps [rsp + 0x60], xmm6
    movaps [rsp + 0x70], xmm7
    movaps [rsp + 0x80], xmm8
    movaps [rsp + 0x90], xmm9
    movaps [rsp + 0xa0], xmm10
    movaps [rsp + 0xb0], xmm11
    movaps [rsp + 0xc0], xmm12
    movaps [rsp + 0xd0], xmm13
    movaps [rsp + 0xe0], xmm14
    movaps [rsp + 0xf0], xmm15
    stmxcsr [rsp + 0x100]
    .endm

    .macro RESTORE_SSE
    ldmxcsr [rsp + 0x100]
    movaps xmm0, [rsp + 0x00]
    movaps xmm1, [rsp + 0x10]
    movaps xmm2, [rsp + 0x20]
    movaps xmm3, [rsp + 0x30]
    movaps xmm4, [rsp + 0x40]
    movaps xmm5, [rsp + 0x50]
    movaps xmm6, [rsp + 0x60]
    movaps xmm7, [rsp + 0x70]
    movaps xmm8, [rsp + 0x80]
    movaps xmm9, [rsp + 0x90]
    movaps xmm10, [rsp + 0xa0]
    movaps xmm11, [rsp + 0xb0]
    movaps xmm12, [rsp + 0xc0]
    movaps xmm13, [rsp + 0xd0]
    movaps xmm14, [rsp + 0xe0]
    movaps xmm15, [rsp + 0xf0]
    .endm

    .macro PUSH_REGS
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    .endm

    .macro POP_REGS
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    .endm

    .global trap_common
trap_common:
    test qword ptr [rsp + 24], 3        # CS of the interrupted context
    jz 1f
    swapgs
1:
    cld
    PUSH_REGS
    mov rbx, rsp
    SAVE_SSE
    and rsp, -64                        # skip the thread's xsave area (see ext_area)
    sub rsp, qword ptr [rip + XSAVE_SIZE]
    mov rdi, rbx
    call trap_handler
    jmp return_from_trap

    # Common exit: rbx = frame (the SSE area lies just below it).
    .global return_from_trap
return_from_trap:
    lea rsp, [rbx - 272]
    RESTORE_SSE
    mov rsp, rbx
    POP_REGS
    add rsp, 16                         # vector, error code
    test qword ptr [rsp + 8], 3
    jz 2f
    swapgs
2:
    iretq

    .global syscall_entry
syscall_entry:
    swapgs
    mov gs:[16], rsp
    mov rsp, gs:[8]
    push 0x1b                           # user SS
    push qword ptr gs:[16]              # user RSP
    push r11                            # RFLAGS
    push 0x23                           # user CS
    push rcx                            # RIP
    push 0                              # error code
    push -1                             # vector: syscall
    cld
    PUSH_REGS
    mov rbx, rsp
    SAVE_SSE
    and rsp, -64                        # skip the thread's xsave area (see ext_area)
    sub rsp, qword ptr [rip + XSAVE_SIZE]
    mov rdi, rbx
    call syscall_handler

    # Return to ring 3 from a frame at rbx (SSE area below it). sysretq only when it is
    # exact and safe: rcx = rip and r11 = rflags in the frame, a canonical lower-half RIP
    # and the user code selector; else iretq.
    .global return_to_user
return_to_user:
    lea rsp, [rbx - 272]
    RESTORE_SSE
    mov rcx, [rbx + 17 * 8]
    cmp rcx, [rbx + 12 * 8]             # sysretq loads rip from rcx and rflags from
    jne 3f                              # r11: only when the frame holds them there
    mov r11, [rbx + 19 * 8]             # (a syscall) is it exact; after sigreturn or
    cmp r11, [rbx + 4 * 8]              # a signal frame, iretq restores rcx and r11
    jne 3f
    shr rcx, 47
    jnz 3f
    cmp qword ptr [rbx + 18 * 8], 0x23
    jne 3f
    mov rsp, rbx
    POP_REGS
    add rsp, 16
    mov rcx, [rsp]                      # RIP
    mov r11, [rsp + 16]                 # RFLAGS
    mov rsp, [rsp + 24]                 # user RSP
    swapgs
    sysretq
3:
    mov rsp, rbx
    POP_REGS
    add rsp, 16
    swapgs
    iretq

    # switch_stack(save: *mut u64, next: u64): saves callee-saved registers and rsp
    # into *save, loads next's.
    .global switch_stack
switch_stack:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov [rdi], rsp
    mov rsp, rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

    # First code a new thread runs (from switch_stack's ret): rbx = its user frame.
    .global thread_start
thread_start:
    call thread_start_hook
    jmp return_to_user

    # copy_user(dst, src, len) -> bytes not copied (0 = all copied).
    .global copy_user
copy_user:
    mov rcx, rdx
    cmp byte ptr [rip + SMAP_ON_FLAG], 0
    je 4f
    stac
4:
    .global copy_user_insn
copy_user_insn:
    rep movsb
    xor eax, eax
    jmp 5f
    .global copy_user_fixup
copy_user_fixup:
    mov rax, rcx
5:
    cmp byte ptr [rip + SMAP_ON_FLAG], 0
    je 6f
    clac
6:
    ret

    # cmpxchg_user(ptr, expected, new) -> old value, or 1 << 32 on a fault.
    .global cmpxchg_user
cmpxchg_user:
    mov eax, esi
    cmp byte ptr [rip + SMAP_ON_FLAG], 0
    je 7f
    stac
7:
    mov eax, esi
    .global cmpxchg_user_insn
cmpxchg_user_insn:
    lock cmpxchg dword ptr [rdi], edx
    jmp 8f
    .global cmpxchg_user_fixup
cmpxchg_user_fixup:
    movabs rax, 0x100000000
8:
    cmp byte ptr [rip + SMAP_ON_FLAG], 0
    je 9f
    clac
9:
    ret
"#
);

#[unsafe(no_mangle)]
static SMAP_ON_FLAG: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

unsafe extern "C" {
    static vector_stubs: u8;
    static copy_user_insn: u8;
    static copy_user_fixup: u8;
    static cmpxchg_user_insn: u8;
    static cmpxchg_user_fixup: u8;
    fn copy_user(dst: *mut u8, src: *const u8, len: usize) -> usize;
    fn cmpxchg_user(ptr: *mut u32, expected: u32, new: u32) -> u64;
    fn switch_stack(save: *mut u64, next: u64);
    fn syscall_entry();
    fn thread_start();
}

/// Address of stub 0.
pub fn vector_stubs_base() -> u64 {
    &raw const vector_stubs as u64
}

/// Mirrors `cpu::SMAP_ON` for the assembly (a byte it can test).
pub fn set_smap(on: bool) {
    SMAP_ON_FLAG.store(on as u8, Ordering::Relaxed);
}

/// Where a fault at `rip` inside a user-copy routine resumes (the routine then reports
/// the fault to its caller), or `None` when `rip` is not a user access.
pub fn fixup_for(rip: u64) -> Option<u64> {
    if rip == &raw const copy_user_insn as u64 {
        Some(&raw const copy_user_fixup as u64)
    } else if rip == &raw const cmpxchg_user_insn as u64 {
        Some(&raw const cmpxchg_user_fixup as u64)
    } else {
        None
    }
}

/// Copies `len` bytes between kernel and user memory; returns the bytes not copied.
///
/// # Safety
/// The kernel-side range must be valid; the user-side range must lie in the user half
/// (a fault there is recovered, a fault on the kernel side is not).
pub unsafe fn copy_user_raw(dst: *mut u8, src: *const u8, len: usize) -> usize {
    // SAFETY: forwarded from the caller.
    unsafe { copy_user(dst, src, len) }
}

/// Compare-and-exchange on a user word. `Err(())` if the access faulted.
///
/// # Safety
/// `ptr` must be 4-byte aligned and lie in the user half.
pub unsafe fn cmpxchg_user_raw(ptr: *mut u32, expected: u32, new: u32) -> Result<u32, ()> {
    // SAFETY: forwarded from the caller.
    let r = unsafe { cmpxchg_user(ptr, expected, new) };
    if r >> 32 != 0 { Err(()) } else { Ok(r as u32) }
}

/// Saves the current kernel context into `*save` and resumes the one at `next`.
///
/// # Safety
/// `next` must be a stack pointer saved by `switch_stack` or prepared by
/// [`prepare_new_thread_stack`], whose stack stays alive until it is switched away from.
pub unsafe fn switch(save: *mut u64, next: u64) {
    // SAFETY: forwarded from the caller.
    unsafe { switch_stack(save, next) }
}

/// Bytes the entry stubs save below the frame: XMM0-15 and MXCSR (padded).
pub const SSE_AREA_SIZE: u64 = 272;

/// Address of a thread's SSE area, for a kernel stack whose top is `top`.
pub fn sse_area(top: u64) -> u64 {
    top - FRAME_SIZE - SSE_AREA_SIZE
}

/// Address of a thread's `xsave` area (the state saved at thread switches).
pub fn ext_area(top: u64) -> u64 {
    (sse_area(top) & !63) - crate::cpu::XSAVE_SIZE.load(Ordering::Relaxed)
}

/// Prepares a new thread's kernel stack (top `top`, 64-byte aligned, whose frame and
/// extended-state area are already filled) so that switching to the returned stack
/// pointer runs `thread_start_hook` and then returns to ring 3 with that frame.
///
/// # Safety
/// `top` must be the top of a writable kernel stack of at least 8 KiB.
pub unsafe fn prepare_new_thread_stack(top: u64) -> u64 {
    let frame = top - FRAME_SIZE;
    // Leave room below the save area; after `ret` pops thread_start, rsp must be
    // 16-byte aligned for its `call`.
    let base = (ext_area(top) - 64) & !15;
    let sp = base - 7 * 8;
    let words: [u64; 7] = [0, 0, 0, 0, frame, 0, thread_start as *const () as u64];
    // SAFETY: the caller guarantees the stack is writable; `sp..base` lies below the
    // save area.
    unsafe { core::ptr::copy_nonoverlapping(words.as_ptr(), sp as *mut u64, 7) };
    sp
}

/// Points `syscall` at the entry stub (LSTAR, STAR, SFMASK).
pub fn init_syscall() {
    let star = (0x10u64 << 48) | ((crate::KERNEL_CS as u64) << 32);
    // SAFETY: the MSRs exist on every x86_64 CPU; EFER.SCE is set by enable_features.
    // SFMASK clears IF, TF, DF, AC, NT and IOPL on entry.
    unsafe {
        crate::cpu::wrmsr(crate::cpu::MSR_STAR, star);
        crate::cpu::wrmsr(crate::cpu::MSR_LSTAR, syscall_entry as *const () as u64);
        crate::cpu::wrmsr(crate::cpu::MSR_SFMASK, 0x47700);
    }
}
