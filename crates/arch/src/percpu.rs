//! The per-CPU block, reached through `GS` while in the kernel.
//!
//! The entry stubs read `kernel_rsp` and use `user_rsp` as scratch at fixed offsets
//! (asserted below); everything else the kernel keeps per CPU lives in its own table,
//! indexed by [`cpu_id`].

use crate::gdt::{Gdt, Tss};
use core::arch::asm;

#[repr(C, align(64))]
pub struct PerCpu {
    /// Points at this block (`gs:[0]`), so Rust can find it with one load.
    pub self_ptr: u64,
    /// Top of the current thread's kernel stack: where `syscall` entry switches to.
    pub kernel_rsp: u64,
    /// Scratch slot for the user `rsp` during `syscall` entry.
    pub user_rsp: u64,
    /// This CPU's index (0 = boot CPU).
    pub cpu_id: u64,
    /// This CPU's local APIC id.
    pub apic_id: u64,
    pub gdt: Gdt,
    pub tss: Tss,
}

const _: () = {
    assert!(core::mem::offset_of!(PerCpu, self_ptr) == 0);
    assert!(core::mem::offset_of!(PerCpu, kernel_rsp) == 8);
    assert!(core::mem::offset_of!(PerCpu, user_rsp) == 16);
    assert!(core::mem::offset_of!(PerCpu, cpu_id) == 24);
};

impl PerCpu {
    pub const fn new(cpu_id: u64, apic_id: u64) -> Self {
        PerCpu {
            self_ptr: 0,
            kernel_rsp: 0,
            user_rsp: 0,
            cpu_id,
            apic_id,
            gdt: Gdt::new(),
            tss: Tss::new(),
        }
    }
}

/// Makes `block` this CPU's per-CPU block (GS base; the user GS base starts at 0).
///
/// # Safety
/// `block` must live forever and belong to this CPU alone.
pub unsafe fn install(block: &'static mut PerCpu) {
    block.self_ptr = block as *mut PerCpu as u64;
    // SAFETY: GS_BASE/KERNEL_GS_BASE exist on all x86_64 CPUs; the block is 'static.
    unsafe {
        crate::cpu::wrmsr(crate::cpu::MSR_GS_BASE, block.self_ptr);
        crate::cpu::wrmsr(crate::cpu::MSR_KERNEL_GS_BASE, 0);
    }
}

/// This CPU's per-CPU block.
pub fn this() -> *mut PerCpu {
    let p: u64;
    // SAFETY: gs:[0] holds self_ptr once `install` ran, which happens before any caller.
    unsafe { asm!("mov {}, gs:[0]", out(reg) p, options(nostack, readonly, preserves_flags)) };
    p as *mut PerCpu
}

/// This CPU's index.
pub fn cpu_id() -> usize {
    let id: u64;
    // SAFETY: as for `this`.
    unsafe { asm!("mov {}, gs:[24]", out(reg) id, options(nostack, readonly, preserves_flags)) };
    id as usize
}

/// Sets the kernel stack used on the next entry from ring 3 (syscall and interrupts).
pub fn set_kernel_stack(top: u64) {
    let p = this();
    // SAFETY: the block belongs to this CPU and interrupts are off in kernel code, so
    // nothing else touches these fields concurrently.
    unsafe {
        (*p).kernel_rsp = top;
        (*p).tss.rsp0 = top;
    }
}
