//! Spindle: the composed kernel image.
//!
//! This crate is the only one that knows every other crate. It glues them together:
//! boot hand-off, console, memory, traps, threads, syscalls; each concern's logic lives
//! in its own crate (see the README for the map). The exit protocol with `xtask`: one
//! final `spindle: exit status N` or `spindle: kernel panic: ...` line, then a write to
//! QEMU's `isa-debug-exit` port (0x10 after an exit, 0x11 after a panic).
#![no_std]
#![no_main]

extern crate alloc;

mod clock;
mod cpu;
mod files;
mod heap;
mod irq;
mod mem;
mod memory;
mod pipe;
mod process;
mod random;
mod serial;
mod signal;
mod smp;
mod sys;
mod thread;
mod trap;
mod uaccess;

use alloc::string::String;
use alloc::vec::Vec;
use boot::BootInfo;
use core::panic::PanicInfo;

/// `isa-debug-exit` (QEMU exits with `(value << 1) | 1`).
const DEBUG_EXIT_PORT: u16 = 0xf4;
const EXIT_CODE_PROGRAM: u32 = 0x10;
const EXIT_CODE_PANIC: u32 = 0x11;

/// Ends the VM, reporting `code` to the host.
fn qemu_exit(code: u32) -> ! {
    // SAFETY: writing to isa-debug-exit terminates QEMU; without the device the write is
    // ignored and the CPU halts.
    unsafe { arch::cpu::outl(DEBUG_EXIT_PORT, code) };
    arch::cpu::halt_forever()
}

/// Ends the VM after the program ended with `status`.
pub fn exit_vm(status: i32) -> ! {
    kprintln!("exit status {}", status & 0xff);
    qemu_exit(EXIT_CODE_PROGRAM)
}

/// The program `cargo xtask run` starts when none is named: the headline demo.
const DEFAULT_PROGRAM: &str = "/bin/threads10";

#[unsafe(no_mangle)]
fn kernel_main(info: &'static BootInfo) -> ! {
    serial::init();
    let heap = memory::init(info);
    let cmdline = cmdline::parse(info.cmdline());
    let cmdline = match cmdline {
        Ok(c) => c,
        Err(e) => {
            kprintln!("{e}");
            exit_vm(2)
        }
    };
    let level = cmdline.log.map_or(Some(tracing::Level::WARN), log_level);
    serial::init_logging(level);
    kprintln!("Spindle {} booting", env!("CARGO_PKG_VERSION"));
    print_memory(info, heap);

    arch::idt::init();
    let apic_virt = boot::PHYS_OFFSET + 0xfee0_0000;
    cpu::init_this_cpu(0, 0);
    print_features();
    irq::mask_legacy_pic();
    arch::apic::init(apic_virt);
    smp::set_apic_id(0, arch::apic::id());
    clock::init();
    kprintln!("clock: TSC at {} MHz", clock::tsc_hz() / 1_000_000);
    start_timer();

    if let Some(test) = cmdline.test.as_deref() {
        self_test(test);
    }
    if let Some((start, size)) = info.initrd {
        // SAFETY: the initrd lies in the physical map and is reserved from the allocator.
        let data = unsafe {
            core::slice::from_raw_parts(memory::phys_to_virt(start) as *const u8, size as usize)
        };
        if let Err(e) = files::init_initrd(data) {
            kprintln!("initrd: {e:?}");
            exit_vm(2);
        }
    }
    let ncpus = smp::start_application_processors(info);
    thread::init(ncpus);
    smp::release_application_processors();

    let envp: Vec<String> = cmdline.env.clone();
    let argv: Vec<String> = match &cmdline.program {
        Some(p) => p.argv.clone(),
        None if files::initrd_file(DEFAULT_PROGRAM).is_some() => {
            alloc::vec![String::from(DEFAULT_PROGRAM)]
        }
        None => {
            kprintln!("no program to run");
            exit_vm(0)
        }
    };
    let path = argv.first().cloned().unwrap_or_default();
    if let Err(e) = process::start(&path, &argv, &envp) {
        kprintln!("cannot start {path}: {e}");
        exit_vm(127)
    }
    thread::idle_loop()
}

fn log_level(l: cmdline::LogLevel) -> Option<tracing::Level> {
    use cmdline::LogLevel as L;
    match l {
        L::Off => None,
        L::Error => Some(tracing::Level::ERROR),
        L::Warn => Some(tracing::Level::WARN),
        L::Info => Some(tracing::Level::INFO),
        L::Debug => Some(tracing::Level::DEBUG),
        L::Trace => Some(tracing::Level::TRACE),
    }
}

fn print_memory(info: &BootInfo, heap: u64) {
    for r in info.regions() {
        let kind = match r.kind {
            1 => "usable",
            2 => "reserved",
            3 => "ACPI data",
            4 => "ACPI NVS",
            _ => "other",
        };
        kprintln!("memory: {:#012x}-{:#012x} {kind}", r.addr, r.addr + r.size);
    }
    let (free, total) = memory::frame_counts();
    kprintln!(
        "memory: {} MiB managed, {} MiB free, heap {} MiB",
        total * 4 / 1024,
        free * 4 / 1024,
        heap >> 20
    );
}

fn print_features() {
    let f = cpu::features();
    kprintln!(
        "cpu: sse on, xsave {} (xcr0 {:#x}, {} bytes), avx {}, nx {}, smep {}, smap {}, fsgsbase {}",
        on(f.xsave),
        f.xcr0,
        f.xsave_size,
        on(f.avx),
        on(f.nx),
        on(f.smep),
        on(f.smap),
        on(f.fsgsbase)
    );
}

fn on(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// Calibrates the local APIC timer against the TSC and starts it at `irq::TICK_HZ`.
fn start_timer() {
    let count = timer_count_per_tick();
    arch::apic::timer_periodic(arch::idt::VECTOR_TIMER, count);
}

static TIMER_COUNT: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// APIC timer counts per tick (measured once, on the boot CPU).
pub fn timer_count_per_tick() -> u32 {
    use core::sync::atomic::Ordering;
    let known = TIMER_COUNT.load(Ordering::Relaxed);
    if known != 0 {
        return known;
    }
    arch::apic::timer_start_masked(u32::MAX);
    let start = clock::monotonic_ns();
    while clock::monotonic_ns() - start < 10_000_000 {
        core::hint::spin_loop();
    }
    let elapsed = u32::MAX - arch::apic::timer_current();
    let per_tick = ((elapsed as u64 * 100) / irq::TICK_HZ).clamp(1, u32::MAX as u64) as u32;
    TIMER_COUNT.store(per_tick, Ordering::Relaxed);
    per_tick
}

/// Kernel self-tests selected with `test=` on the command line: each must end in the
/// kernel-panic outcome with the fault named.
fn self_test(name: &str) {
    match name {
        "page-fault" => {
            let p = 0xffff_a000_dead_0000u64 as *const u64;
            // SAFETY: deliberately faults: the address is unmapped; the handler panics.
            let v = unsafe { core::ptr::read_volatile(p) };
            kprintln!("read {v} from an unmapped address?");
        }
        "panic" => panic!("self-test: deliberate panic"),
        "double-fault" => overflow_kernel_stack(),
        other => kprintln!("unknown test {other:?}"),
    }
}

/// Recurses on a guarded kernel stack until it overflows into the guard page: the page
/// fault cannot be delivered on that stack, so the CPU raises a double fault (IST).
fn overflow_kernel_stack() {
    let Some(stack) = memory::KernelStack::new() else {
        panic!("self-test: no stack")
    };
    let top = stack.top();
    core::mem::forget(stack);
    #[inline(never)]
    #[allow(unconditional_recursion)]
    extern "C" fn recurse(depth: u64) -> u64 {
        let buf = [depth; 32];
        core::hint::black_box(&buf);
        recurse(depth + 1) + buf[7]
    }
    // SAFETY: switches to a fresh stack with a guard page below; the recursion never
    // returns (it faults), so nothing depends on the old stack afterwards.
    unsafe {
        core::arch::asm!("mov rsp, {top}", "call {f}", top = in(reg) top, f = sym recurse, in("rdi") 0u64);
    }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    arch::cpu::cli();
    // SAFETY: the VM ends right after this line; whoever held the console lock will
    // never finish its line anyway.
    unsafe { serial::CONSOLE.force_unlock() };
    match info.location() {
        Some(l) => kprintln!(
            "kernel panic: {} (at {}:{})",
            info.message(),
            l.file(),
            l.line()
        ),
        None => kprintln!("kernel panic: {}", info.message()),
    }
    qemu_exit(EXIT_CODE_PANIC)
}
