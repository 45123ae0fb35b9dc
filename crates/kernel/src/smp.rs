//! Multiprocessor plumbing: which CPUs are online, IPIs to wake them, TLB shootdowns,
//! stopping them at the end.
//!
//! TLB shootdown protocol: the initiator flushes its own TLB, raises `TLB_PENDING` for
//! every other online CPU and sends each a `VECTOR_TLB` IPI, then waits for every flag
//! to drop — serving its own flag meanwhile, since another CPU may be waiting for it at
//! the same moment and kernel code runs with interrupts off. A target flushes its whole
//! TLB (a CR3 reload) before it drops its flag. CPUs waiting for the address-space lock
//! serve requests too (`process::Process::lock_mm`).

use crate::thread::MAX_CPUS;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

static ONLINE: AtomicUsize = AtomicUsize::new(1);
static APIC_IDS: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];
static TLB_PENDING: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// CPUs running Spindle.
pub fn cpu_count() -> usize {
    ONLINE.load(Ordering::Acquire)
}

/// Records CPU `cpu`'s APIC id and marks it online.
pub fn set_online(cpu: usize, apic_id: u32) {
    APIC_IDS[cpu].store(apic_id, Ordering::Relaxed);
    ONLINE.fetch_max(cpu + 1, Ordering::AcqRel);
}

/// Records the boot CPU's APIC id.
pub fn set_apic_id(cpu: usize, apic_id: u32) {
    APIC_IDS[cpu].store(apic_id, Ordering::Relaxed);
}

pub fn send_wake_ipi(cpu: usize) {
    if cpu < cpu_count() {
        arch::apic::send_ipi(
            APIC_IDS[cpu].load(Ordering::Relaxed),
            arch::idt::VECTOR_WAKE,
        );
    }
}

fn flush_local() {
    // SAFETY: reloading CR3 with its current value only drops non-global TLB entries.
    unsafe { arch::cpu::write_cr3(arch::cpu::cr3()) };
}

/// Flushes translations of `[start, end)` on every CPU (see the protocol above).
pub fn flush_tlb(start: u64, end: u64) {
    if end - start <= 32 * 4096 {
        let mut va = start;
        while va < end {
            arch::cpu::invlpg(va);
            va += 4096;
        }
    } else {
        flush_local();
    }
    let me = arch::percpu::cpu_id();
    let n = cpu_count();
    if n == 1 {
        return;
    }
    for cpu in (0..n).filter(|&c| c != me) {
        TLB_PENDING[cpu].store(true, Ordering::Release);
        arch::apic::send_ipi(APIC_IDS[cpu].load(Ordering::Relaxed), arch::idt::VECTOR_TLB);
    }
    for cpu in (0..n).filter(|&c| c != me) {
        while TLB_PENDING[cpu].load(Ordering::Acquire) {
            serve_requests();
            core::hint::spin_loop();
        }
    }
}

/// Answers a pending shootdown for this CPU, if any.
pub fn serve_requests() {
    let me = arch::percpu::cpu_id();
    if TLB_PENDING[me].load(Ordering::Acquire) {
        flush_local();
        TLB_PENDING[me].store(false, Ordering::Release);
    }
}

/// Stops every other CPU (the program is over).
pub fn stop_other_cpus() {
    let me = arch::percpu::cpu_id();
    for cpu in (0..cpu_count()).filter(|&c| c != me) {
        arch::apic::send_ipi(
            APIC_IDS[cpu].load(Ordering::Relaxed),
            arch::idt::VECTOR_STOP,
        );
    }
}

/// Halts this CPU for good.
pub fn park_this_cpu() -> ! {
    arch::cpu::halt_forever()
}

/// Starts the application processors listed in ACPI's MADT; returns the CPU count.
pub fn start_application_processors(_info: &boot::BootInfo) -> usize {
    // FIXME: APs are not started yet; every program runs on the boot CPU.
    1
}

/// Lets the started APs enter their idle loops (after the scheduler exists).
pub fn release_application_processors() {}
