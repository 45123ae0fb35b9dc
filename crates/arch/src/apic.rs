//! The local APIC in xAPIC (MMIO) mode: timer, EOI and inter-processor interrupts.
//!
//! Register offsets from Intel SDM vol. 3, table 11-1. The kernel maps the APIC page
//! (physical 0xfee00000) and passes its virtual address to [`init`].

use core::sync::atomic::{AtomicU64, Ordering};

static BASE: AtomicU64 = AtomicU64::new(0);

const ID: u64 = 0x20;
const EOI: u64 = 0xb0;
const SVR: u64 = 0xf0;
const ICR_LOW: u64 = 0x300;
const ICR_HIGH: u64 = 0x310;
const LVT_TIMER: u64 = 0x320;
const TIMER_INITIAL: u64 = 0x380;
const TIMER_CURRENT: u64 = 0x390;
const TIMER_DIVIDE: u64 = 0x3e0;

fn read(reg: u64) -> u32 {
    let base = BASE.load(Ordering::Relaxed);
    // SAFETY: `init` stored the virtual address of the mapped APIC page; `reg` is one of
    // the register offsets above, within that page and 16-byte aligned.
    unsafe { core::ptr::read_volatile((base + reg) as *const u32) }
}

fn write(reg: u64, v: u32) {
    let base = BASE.load(Ordering::Relaxed);
    // SAFETY: as for `read`.
    unsafe { core::ptr::write_volatile((base + reg) as *mut u32, v) };
}

/// Enables this CPU's APIC (software enable, spurious vector 0xff).
pub fn init(base_virt: u64) {
    BASE.store(base_virt, Ordering::Relaxed);
    write(SVR, 0x100 | crate::idt::VECTOR_SPURIOUS as u32);
}

/// This CPU's APIC id.
pub fn id() -> u32 {
    read(ID) >> 24
}

/// Signals the end of the current interrupt.
pub fn eoi() {
    write(EOI, 0);
}

/// Starts the timer counting down from `count` (divide by 16) without interrupts, to
/// calibrate it; read it back with [`timer_current`].
pub fn timer_start_masked(count: u32) {
    write(TIMER_DIVIDE, 0x3);
    write(LVT_TIMER, 1 << 16);
    write(TIMER_INITIAL, count);
}

/// The timer's current count.
pub fn timer_current() -> u32 {
    read(TIMER_CURRENT)
}

/// Periodic timer interrupts on `vector` every `count` bus ticks / 16.
pub fn timer_periodic(vector: u8, count: u32) {
    write(TIMER_DIVIDE, 0x3);
    write(LVT_TIMER, (1 << 17) | vector as u32);
    write(TIMER_INITIAL, count.max(1));
}

fn wait_icr_idle() {
    while read(ICR_LOW) & (1 << 12) != 0 {
        core::hint::spin_loop();
    }
}

/// Sends fixed interrupt `vector` to the CPU with APIC id `apic_id`.
pub fn send_ipi(apic_id: u32, vector: u8) {
    wait_icr_idle();
    write(ICR_HIGH, apic_id << 24);
    write(ICR_LOW, vector as u32 | (1 << 14));
    wait_icr_idle();
}

/// Sends INIT to `apic_id` (start of the INIT-SIPI-SIPI sequence, SDM 8.4.4.1).
pub fn send_init(apic_id: u32) {
    wait_icr_idle();
    write(ICR_HIGH, apic_id << 24);
    write(ICR_LOW, 0x4500);
    wait_icr_idle();
}

/// Sends a start-up IPI: the AP starts in real mode at `page << 12`.
pub fn send_startup(apic_id: u32, page: u8) {
    wait_icr_idle();
    write(ICR_HIGH, apic_id << 24);
    write(ICR_LOW, 0x4600 | page as u32);
    wait_icr_idle();
}
