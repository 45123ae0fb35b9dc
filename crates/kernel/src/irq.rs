//! Interrupts other than exceptions: the local APIC timer and the IPIs.

use arch::idt::{VECTOR_SPURIOUS, VECTOR_STOP, VECTOR_TIMER, VECTOR_TLB, VECTOR_WAKE};
use syscall::Frame;

/// Timer interrupts per second on every CPU.
pub const TICK_HZ: u64 = 1000;

/// Masks the legacy 8259 PICs: Spindle uses the local APIC only.
pub fn mask_legacy_pic() {
    // SAFETY: writing the PIC data ports only masks their interrupt lines.
    unsafe {
        arch::cpu::outb(0x21, 0xff);
        arch::cpu::outb(0xa1, 0xff);
    }
}

/// Dispatches a non-exception vector.
pub fn handle(vector: u8, frame: &mut Frame) {
    let from_user = frame.cs & 3 == 3;
    match vector {
        VECTOR_SPURIOUS => {}
        VECTOR_TIMER => {
            arch::apic::eoi();
            crate::thread::tick(from_user);
        }
        VECTOR_WAKE => {
            arch::apic::eoi();
            crate::thread::resched_if_needed(from_user);
        }
        VECTOR_TLB => {
            arch::apic::eoi();
            crate::smp::serve_requests();
        }
        VECTOR_STOP => {
            arch::apic::eoi();
            crate::smp::park_this_cpu();
        }
        _ => {
            arch::apic::eoi();
            tracing::warn!("irq: unexpected vector {vector}");
        }
    }
}
