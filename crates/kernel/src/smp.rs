//! Multiprocessor plumbing: finding and starting the CPUs, which CPUs are online, IPIs
//! to wake them, TLB shootdowns, stopping them at the end.
//!
//! # Finding the CPUs
//!
//! The processors are the enabled Processor Local APIC (and x2APIC) entries of ACPI's
//! MADT (ACPI 6.5, 5.2.12 "Multiple APIC Description Table"), reached from the RSDP the
//! PVH loader hands over. The boot CPU is the one whose APIC id this CPU reads; the others
//! get indices 1, 2, ... in the order they come up, up to [`MAX_CPUS`]. No RSDP or no
//! MADT: Spindle runs on the boot CPU alone.
//!
//! # Starting them
//!
//! The boot CPU follows the "INIT-SIPI-SIPI" sequence of Intel SDM vol. 3, 8.4.4.1
//! ("Typical BSP Initialization Sequence"): INIT, 10 ms, a start-up IPI, 200 µs, a
//! second start-up IPI. It sends INIT to every AP at once and waits the 10 ms once; then,
//! one AP at a time since they share the trampoline page (`boot::ap`), the two start-up
//! IPIs and a wait for that AP to check in.
//!
//! The AP runs the trampoline to long mode, sets up its own GDT/TSS/IST, IDT, syscall
//! MSRs and per-CPU block (`cpu::init_this_cpu`), enables its local APIC and its timer
//! (with the boot CPU's calibration: every APIC runs at the same rate), checks in with
//! [`set_online`], then waits until the scheduler exists
//! ([`release_application_processors`]) before it enters its idle loop. An AP that does
//! not check in within a second is sent INIT again (back to wait-for-SIPI) and no more
//! APs are started.
//!
//! # TLB shootdowns
//!
//! The initiator flushes its own TLB, raises `TLB_PENDING` for every other online CPU
//! and sends each a `VECTOR_TLB` IPI, then waits for every flag to drop — serving its
//! own flag meanwhile, since another CPU may be waiting for it at the same moment and
//! kernel code runs with interrupts off. A target flushes its whole TLB (a CR3 reload)
//! before it drops its flag. CPUs waiting for the address-space lock
//! serve requests too (`process::Process::lock_mm`).

use crate::memory::KernelStack;
use crate::thread::MAX_CPUS;
use alloc::vec::Vec;
use core::ptr::NonNull;
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

/// Where every CPU reaches its local APIC (the architectural default physical address
/// 0xfee00000, through the uncached part of the physical map), as on the boot CPU.
const APIC_VIRT: u64 = boot::PHYS_OFFSET + 0xfee0_0000;

/// SDM 8.4.4.1: 10 ms after INIT, 200 µs between the two start-up IPIs.
const INIT_DELAY_NS: u64 = 10_000_000;
const SIPI_DELAY_NS: u64 = 200_000;
/// How long an AP may take from the first start-up IPI to its check-in. Generous: under
/// TCG, vCPUs may share few host cores with other work.
const CHECK_IN_TIMEOUT_NS: u64 = 1_000_000_000;

/// Set by the boot CPU once the scheduler exists; the APs wait for it.
static RELEASED: AtomicBool = AtomicBool::new(false);

/// The index of the CPU being started, until it checks in or the boot CPU gives up on
/// it: whichever of the two swaps it to [`NOBODY`] first decides, so a late AP can never
/// come online after the boot CPU counted it out.
static BOOTING: AtomicUsize = AtomicUsize::new(NOBODY);
const NOBODY: usize = usize::MAX;

/// Starts the application processors listed in ACPI's MADT; returns the CPU count
/// (the boot CPU included).
pub fn start_application_processors(info: &boot::BootInfo) -> usize {
    let Some(rsdp) = info.rsdp else {
        tracing::warn!("smp: no ACPI RSDP from the loader; running on one CPU");
        return cpu_count();
    };
    let Some(apic_ids) = madt_apic_ids(rsdp) else {
        return cpu_count();
    };
    let bsp = APIC_IDS[0].load(Ordering::Relaxed);
    let mut aps: Vec<u32> = apic_ids.into_iter().filter(|&id| id != bsp).collect();
    if aps.len() >= MAX_CPUS {
        tracing::warn!("smp: more CPUs than the {MAX_CPUS} supported; the rest stay off");
        aps.truncate(MAX_CPUS - 1);
    }
    let started = crate::clock::monotonic_ns();
    // INIT every AP first and wait the 10 ms once: each then sits in wait-for-SIPI until
    // its turn, so the start-up costs one INIT delay, not one per AP.
    for &apic_id in &aps {
        arch::apic::send_init(apic_id);
    }
    if !aps.is_empty() {
        delay_ns(INIT_DELAY_NS);
    }
    for &apic_id in &aps {
        if !start_one(cpu_count(), apic_id) {
            break;
        }
    }
    let n = cpu_count();
    let ms = (crate::clock::monotonic_ns() - started) / 1_000_000;
    crate::kprintln!(
        "smp: {n} CPU{} online ({ms} ms)",
        if n == 1 { "" } else { "s" }
    );
    n
}

/// Lets the started APs enter their idle loops (after the scheduler exists).
pub fn release_application_processors() {
    RELEASED.store(true, Ordering::Release);
}

/// Starts the AP with APIC id `apic_id` (INIT already sent) as CPU `cpu`; true once it
/// checked in.
fn start_one(cpu: usize, apic_id: u32) -> bool {
    let Some(stack) = KernelStack::new() else {
        tracing::warn!("smp: no memory for CPU {cpu}'s stack");
        return false;
    };
    let start = boot::ap::ApStart {
        stack_top: stack.top(),
        entry: ap_entry,
        cpu: cpu as u64,
        apic_id: apic_id as u64,
    };
    // The stack becomes the AP's idle context for good (or, if the AP never checks in,
    // may still be in use by it): never freed.
    core::mem::forget(stack);
    // SAFETY: the first MiB is kept out of the frame allocator for the trampoline, and
    // the previous AP (if any) checked in, so it has left the trampoline page.
    unsafe { boot::ap::install_trampoline(&start) };
    BOOTING.store(cpu, Ordering::Release);

    arch::apic::send_startup(apic_id, boot::ap::STARTUP_VECTOR);
    delay_ns(SIPI_DELAY_NS);
    // A start-up IPI that finds the AP running is ignored (SDM 8.4.4.1 sends two because
    // the first may be lost).
    arch::apic::send_startup(apic_id, boot::ap::STARTUP_VECTOR);

    let deadline = crate::clock::monotonic_ns() + CHECK_IN_TIMEOUT_NS;
    while BOOTING.load(Ordering::Acquire) == cpu {
        let late = crate::clock::monotonic_ns() >= deadline;
        if late && end_start_up(cpu) {
            tracing::warn!(
                "smp: CPU {cpu} (APIC id {apic_id}) did not start; it and any later stay off"
            );
            // Back to wait-for-SIPI: it must not run on in a trampoline that changes.
            arch::apic::send_init(apic_id);
            return false;
        }
        core::hint::spin_loop();
    }
    // The AP won: it marks itself online next, a few instructions away.
    while cpu_count() <= cpu {
        core::hint::spin_loop();
    }
    true
}

/// Ends the start-up of `cpu` (the AP checking in, or the boot CPU giving up); false if
/// the other side ended it first.
fn end_start_up(cpu: usize) -> bool {
    BOOTING
        .compare_exchange(cpu, NOBODY, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// Busy-waits `ns` nanoseconds of CLOCK_MONOTONIC.
fn delay_ns(ns: u64) {
    let end = crate::clock::monotonic_ns() + ns;
    while crate::clock::monotonic_ns() < end {
        core::hint::spin_loop();
    }
}

/// Where an AP arrives from the trampoline: long mode, its own stack, FPU state on,
/// interrupts off, still on the trampoline's GDT.
extern "C" fn ap_entry(cpu: u64, apic_id: u64) -> ! {
    crate::cpu::init_this_cpu(cpu, apic_id);
    arch::apic::init(APIC_VIRT);
    if arch::apic::id() != apic_id as u32 {
        tracing::warn!(
            "smp: CPU {cpu} reads APIC id {}, MADT says {apic_id}",
            arch::apic::id()
        );
    }
    let cpu = cpu as usize;
    if !end_start_up(cpu) {
        // Too late: the boot CPU gave up on this one (and is sending INIT).
        park_this_cpu();
    }
    arch::apic::timer_periodic(arch::idt::VECTOR_TIMER, crate::timer_count_per_tick());
    set_online(cpu, apic_id as u32);
    // The scheduler does not exist yet; nothing can be asked of this CPU until then
    // (no address space exists either, so no shootdown can come).
    while !RELEASED.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    crate::thread::idle_loop()
}

/// The APIC ids of the enabled processors in the MADT, in table order; `None` (logged)
/// when the tables cannot be read.
fn madt_apic_ids(rsdp: u64) -> Option<Vec<u32>> {
    use acpi::madt::{Madt, MadtEntry};
    // Processor Local APIC / x2APIC flags, bit 0: Enabled (ACPI 6.5, table 5.23).
    const ENABLED: u32 = 1;
    // SAFETY: the loader gives the RSDP's physical address; `PhysMap` checks that every
    // range the crate maps lies in the physical map.
    let tables = match unsafe { acpi::AcpiTables::from_rsdp(PhysMap, rsdp as usize) } {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!("smp: unusable ACPI tables ({e:?}); running on one CPU");
            return None;
        }
    };
    let madt = match tables.find_table::<Madt>() {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!("smp: no MADT ({e:?}); running on one CPU");
            return None;
        }
    };
    let mut ids = Vec::new();
    for entry in madt.get().entries() {
        let (id, flags) = match entry {
            MadtEntry::LocalApic(e) => (e.apic_id as u32, e.flags),
            MadtEntry::LocalX2Apic(e) => (e.x2apic_id, e.flags),
            _ => continue,
        };
        if flags & ENABLED == 0 {
            continue;
        }
        // xAPIC mode addresses 8-bit ids only (0xff is the broadcast id).
        if id >= 0xff {
            tracing::warn!("smp: CPU with x2APIC id {id} needs x2APIC mode; left off");
            continue;
        }
        ids.push(id);
    }
    Some(ids)
}

/// ACPI tables are read through the boot physical map (`boot::PHYS_OFFSET`), so mapping
/// is an addition and unmapping nothing.
#[derive(Clone, Copy)]
struct PhysMap;

impl acpi::AcpiHandler for PhysMap {
    unsafe fn map_physical_region<T>(
        &self,
        physical_address: usize,
        size: usize,
    ) -> acpi::PhysicalMapping<Self, T> {
        let pa = physical_address as u64;
        if pa
            .checked_add(size as u64)
            .is_none_or(|end| end > boot::PHYS_MAPPED)
        {
            // Firmware tables lie in low RAM; anything else is a broken table, found
            // at boot before any program runs.
            panic!("acpi: table at {pa:#x} (+{size:#x}) lies outside the physical map");
        }
        let virt = crate::memory::phys_to_virt(pa) as *mut T;
        // SAFETY: `virt` is PHYS_OFFSET plus an address below 4 GiB, never null.
        let virt = unsafe { NonNull::new_unchecked(virt) };
        // SAFETY: the range lies in the physical map (checked above), which stays mapped
        // for good; the crate reads the table through it.
        unsafe { acpi::PhysicalMapping::new(physical_address, virt, size, size, *self) }
    }

    fn unmap_physical_region<T>(_region: &acpi::PhysicalMapping<Self, T>) {}
}
