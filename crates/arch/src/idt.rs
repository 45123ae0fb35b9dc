//! The IDT: 256 gates to the stubs in [`crate::entry`].
//!
//! Every gate is an interrupt gate (IF cleared on entry), DPL 0 — so `int n` from ring 3
//! raises #GP — except the breakpoint and overflow gates, which programs may use. NMI, double fault and machine check run on IST stacks: they may arrive
//! with a broken kernel stack (a double fault from a stack overflow always does).

use crate::gdt::{IST_DOUBLE_FAULT, IST_MACHINE_CHECK, IST_NMI};
use core::arch::asm;

#[repr(C, align(16))]
struct Idt([[u64; 2]; 256]);

static mut IDT: Idt = Idt([[0; 2]; 256]);

/// Vector numbers Spindle uses beyond the exceptions.
pub const VECTOR_TIMER: u8 = 0x20;
pub const VECTOR_WAKE: u8 = 0x21;
pub const VECTOR_TLB: u8 = 0x22;
pub const VECTOR_STOP: u8 = 0x23;
pub const VECTOR_SPURIOUS: u8 = 0xff;

/// Fills the IDT (once, on the boot CPU).
pub fn init() {
    let base = crate::entry::vector_stubs_base();
    for v in 0..256u64 {
        let handler = base + v * crate::entry::STUB_SIZE;
        let ist = match v as u8 {
            2 => IST_NMI,
            8 => IST_DOUBLE_FAULT,
            18 => IST_MACHINE_CHECK,
            _ => 0,
        } as u64;
        // `int3` and `into` are meant for programs: DPL 3, so ring 3 reaches them (and
        // gets SIGTRAP / SIGSEGV) instead of a general-protection fault.
        let dpl: u64 = if v == 3 || v == 4 { 3 } else { 0 };
        let low = handler & 0xffff
            | (crate::KERNEL_CS as u64) << 16
            | ist << 32
            | (0x8e | dpl << 5) << 40 // present, DPL, 64-bit interrupt gate
            | ((handler >> 16) & 0xffff) << 48;
        // SAFETY: init runs once on the boot CPU before interrupts are enabled or any
        // other CPU starts, so nobody reads the table while it is written.
        unsafe { (*(&raw mut IDT)).0[v as usize] = [low, handler >> 32] };
    }
}

/// Loads the IDT on this CPU.
pub fn load() {
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let ptr = Pointer {
        limit: (256 * 16 - 1) as u16,
        base: &raw const IDT as u64,
    };
    // SAFETY: the IDT is 'static and filled by `init` before any CPU loads it.
    unsafe { asm!("lidt [{}]", in(reg) &ptr, options(nostack)) };
}
