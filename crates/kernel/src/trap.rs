//! Traps: exceptions, the timer and IPIs, as the entry stubs deliver them.
//!
//! A fault in ring 3 ends the program as Linux's default action would (SIGSEGV, SIGILL,
//! SIGFPE, SIGBUS, SIGTRAP: a one-line report and status 128 + signal). A page fault in
//! ring 3 inside a mapping is demand paging. A fault in the kernel is a panic, except a
//! page fault inside a user-copy routine: demand-page it if the address is mapped, else
//! resume at the routine's fix-up so the syscall returns EFAULT.

use syscall::Frame;

/// Exception names by vector (Intel SDM vol. 3, table 6-1).
const EXCEPTIONS: [&str; 32] = [
    "divide error",
    "debug",
    "NMI",
    "breakpoint",
    "overflow",
    "bound range exceeded",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack-segment fault",
    "general protection fault",
    "page fault",
    "reserved",
    "x87 floating-point error",
    "alignment check",
    "machine check",
    "SIMD floating-point exception",
    "virtualization exception",
    "control protection exception",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "hypervisor injection",
    "VMM communication",
    "security exception",
    "reserved",
];

fn from_user(frame: &Frame) -> bool {
    frame.cs & 3 == 3
}

/// Called by every interrupt stub.
#[unsafe(no_mangle)]
extern "C" fn trap_handler(frame: &mut Frame) {
    let vector = frame.vector as u8;
    match vector {
        14 => page_fault(frame),
        0..=31 if from_user(frame) => user_exception(frame),
        0..=31 => kernel_exception(frame),
        _ => crate::irq::handle(vector, frame),
    }
    if from_user(frame) {
        crate::signal::deliver_pending(frame);
    }
}

/// The signal an exception in ring 3 raises, with its si_code and si_addr, as Linux's
/// x86 trap handlers choose them (arch/x86/kernel/traps.c).
fn user_exception(frame: &mut Frame) {
    use signal::info::code;
    let (sig, code, addr) = match frame.vector {
        0 => (signal::SIGFPE, code::FPE_INTDIV, frame.rip),
        16 | 19 => (signal::SIGFPE, code::FPE_FLTINV, frame.rip),
        1 | 3 => (signal::SIGTRAP, code::TRAP_BRKPT, frame.rip),
        6 => (signal::SIGILL, code::ILL_ILLOPN, frame.rip),
        17 => (signal::SIGBUS, code::BUS_ADRALN, 0),
        // Segment not present, stack-segment fault (e.g. a non-canonical rsp).
        11 | 12 => (signal::SIGBUS, code::SI_KERNEL, 0),
        _ => (signal::SIGSEGV, code::SI_KERNEL, 0),
    };
    crate::signal::fault(frame, sig, code, addr)
}

fn page_fault(frame: &mut Frame) {
    let addr = arch::cpu::cr2();
    let error = frame.error_code;
    let access = crate::memory::access_from_error_code(error);
    if from_user(frame) {
        use signal::info::code;
        // A fault taken in ring 3 for a supervisor access (no U bit: the CPU touching a
        // descriptor table or, under TCG, the stack of an `iretq` run in ring 3) is not
        // the program's to page in; retrying it would loop forever.
        if error & 4 == 0 {
            crate::signal::fault(frame, signal::SIGSEGV, code::SEGV_ACCERR, addr);
            return;
        }
        match crate::process::handle_user_fault(addr, access) {
            Ok(()) => {}
            // Out of memory while demand paging: Linux's OOM killer sends SIGKILL.
            Err(mm::Fault::OutOfMemory) => {
                crate::signal::die(signal::SIGKILL, Some((addr, frame.rip)))
            }
            Err(mm::Fault::AccErr) => {
                crate::signal::fault(frame, signal::SIGSEGV, code::SEGV_ACCERR, addr)
            }
            Err(mm::Fault::MapErr) => {
                crate::signal::fault(frame, signal::SIGSEGV, code::SEGV_MAPERR, addr)
            }
        }
        return;
    }
    if let Some(fixup) = arch::entry::fixup_for(frame.rip) {
        // A user copy touched a page: demand paging if it is mapped, EFAULT if not.
        if addr >= crate::memory::USER_TOP
            || crate::process::handle_user_fault(addr, access).is_err()
        {
            frame.rip = fixup;
        }
        return;
    }
    panic!(
        "page fault at address {addr:#x} (cr2 {addr:#x}, error code {error:#x}), rip {:#x}\n{}",
        frame.rip,
        Registers(frame)
    );
}

fn kernel_exception(frame: &mut Frame) {
    let name = EXCEPTIONS[frame.vector as usize & 31];
    panic!(
        "{name} (vector {}, error code {:#x}) at rip {:#x}, cr2 {:#x}\n{}",
        frame.vector,
        frame.error_code,
        frame.rip,
        arch::cpu::cr2(),
        Registers(frame)
    );
}

/// Formats the saved registers of a frame for a panic report.
struct Registers<'a>(&'a Frame);

impl core::fmt::Display for Registers<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let r = self.0;
        write!(
            f,
            "rax {:#018x} rbx {:#018x} rcx {:#018x} rdx {:#018x}\n\
             rsi {:#018x} rdi {:#018x} rbp {:#018x} rsp {:#018x}\n\
             r8  {:#018x} r9  {:#018x} r10 {:#018x} r11 {:#018x}\n\
             r12 {:#018x} r13 {:#018x} r14 {:#018x} r15 {:#018x}\n\
             rip {:#018x} cs {:#x} rflags {:#x} ss {:#x}",
            r.rax,
            r.rbx,
            r.rcx,
            r.rdx,
            r.rsi,
            r.rdi,
            r.rbp,
            r.rsp,
            r.r8,
            r.r9,
            r.r10,
            r.r11,
            r.r12,
            r.r13,
            r.r14,
            r.r15,
            r.rip,
            r.cs,
            r.rflags,
            r.ss
        )
    }
}
