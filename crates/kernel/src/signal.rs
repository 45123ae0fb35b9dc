//! Signal state as far as Spindle keeps it: dispositions (rt_sigaction), masks
//! (rt_sigprocmask, per thread) and the alternate stack (sigaltstack).
//!
//! Unsupported: delivery to user handlers. A signal sent with kill/tgkill/tkill takes
//! its default action — for the fatal ones that ends the program with 128 + signal, as
//! a shell reports it (`abort()` → 134) — unless the program ignores it. A program
//! that installed a handler for a signal it sends itself sees the default action too;
//! the kernel logs that once.

use syscall::Errno;

/// `struct sigaction` as the kernel ABI has it on x86_64 (`kernel_sigaction`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct KernelSigaction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;
pub const NSIG: usize = 64;

pub struct Dispositions {
    pub actions: [KernelSigaction; NSIG],
    pub altstack: [u64; 3],
}

impl Dispositions {
    pub fn new() -> Self {
        Dispositions {
            actions: [KernelSigaction::default(); NSIG],
            altstack: [0, 2, 0],
        }
    }
}

impl Default for Dispositions {
    fn default() -> Self {
        Self::new()
    }
}

/// Validates a signal number for rt_sigaction (1..=64).
pub fn check_signal(sig: usize) -> Result<usize, Errno> {
    if (1..=NSIG).contains(&sig) {
        Ok(sig)
    } else {
        Err(Errno::EINVAL)
    }
}

/// Whether the default action of `sig` ends the process (signal(7)): everything but
/// SIGCHLD (17), SIGCONT (18), SIGURG (23), SIGWINCH (28), and the stop signals
/// (19-22, which would stop it; Spindle has nobody to continue it, so they are ignored).
pub fn default_is_fatal(sig: usize) -> bool {
    !matches!(sig, 17 | 18 | 19 | 20 | 21 | 22 | 23 | 28)
}

/// Sends `sig` to the program (the target thread does not matter for the default
/// action). Signal 0 only checks that the target exists.
pub fn send(sig: usize) -> Result<usize, Errno> {
    if sig == 0 {
        return Ok(0);
    }
    let sig = check_signal(sig)?;
    let p = crate::process::get();
    let action = p.signals.lock().actions[sig - 1];
    if action.handler == SIG_IGN && sig != 9 && sig != 19 {
        return Ok(0);
    }
    if action.handler != SIG_DFL && sig != 9 && sig != 19 {
        static WARNED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
        if !WARNED.swap(true, core::sync::atomic::Ordering::Relaxed) {
            tracing::warn!("signal: handlers are not run; signal {sig} takes its default action");
        }
    }
    if default_is_fatal(sig) {
        crate::kprintln!(
            "program killed by {} (signal {sig})",
            crate::trap::signal_name(sig as i32)
        );
        crate::process::exit_program(128 + sig as i32);
    }
    Ok(0)
}
