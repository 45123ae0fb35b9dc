//! POSIX signals as Linux x86_64 implements them, without the hardware.
//!
//! This crate owns the rules; the kernel owns the threads, the user memory and the
//! extended register state. It provides:
//!
//! - [`SigSet`] and the choice of the next signal to deliver ([`next_pending`]):
//!   synchronous faults first, then the lowest number, as Linux's `next_signal` does;
//! - [`SigAction`] (the `struct kernel_sigaction` of `rt_sigaction(2)`) and the
//!   default action of every signal ([`default_action`], the table in signal(7));
//! - [`AltStack`]: `sigaltstack(2)` with its errnos;
//! - [`SigInfo`]: the 128-byte `siginfo_t` for faults, `kill` and `tgkill`;
//! - [`frame`]: the `rt_sigframe` a handler runs on (layout of
//!   `arch/x86/include/uapi/asm/sigcontext.h` and `ucontext.h`), built at delivery
//!   and parsed back by `rt_sigreturn(2)`, with the XSAVE-format FPU image and its
//!   `_fpx_sw_bytes` markers, validated so a forged frame cannot fault the kernel.
//!
//! It does not do job control (SIGSTOP/SIGTSTP stop nothing), real-time signal queues
//! (a pending signal is one bit, so a second instance merges), or timers.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod action;
mod altstack;
pub mod frame;
pub mod info;
mod set;

pub use action::{DefaultAction, Disposition, SigAction, default_action, disposition};
pub use altstack::AltStack;
pub use info::SigInfo;
pub use set::{SYNCHRONOUS, SigSet, UNBLOCKABLE, next_pending, sigbit};

/// Signals are numbered 1..=64 on Linux.
pub const NSIG: usize = 64;

pub const SIGHUP: usize = 1;
pub const SIGINT: usize = 2;
pub const SIGQUIT: usize = 3;
pub const SIGILL: usize = 4;
pub const SIGTRAP: usize = 5;
pub const SIGABRT: usize = 6;
pub const SIGBUS: usize = 7;
pub const SIGFPE: usize = 8;
pub const SIGKILL: usize = 9;
pub const SIGUSR1: usize = 10;
pub const SIGSEGV: usize = 11;
pub const SIGUSR2: usize = 12;
pub const SIGPIPE: usize = 13;
pub const SIGALRM: usize = 14;
pub const SIGTERM: usize = 15;
pub const SIGSTKFLT: usize = 16;
pub const SIGCHLD: usize = 17;
pub const SIGCONT: usize = 18;
pub const SIGSTOP: usize = 19;
pub const SIGTSTP: usize = 20;
pub const SIGTTIN: usize = 21;
pub const SIGTTOU: usize = 22;
pub const SIGURG: usize = 23;
pub const SIGXCPU: usize = 24;
pub const SIGXFSZ: usize = 25;
pub const SIGVTALRM: usize = 26;
pub const SIGPROF: usize = 27;
pub const SIGWINCH: usize = 28;
pub const SIGIO: usize = 29;
pub const SIGPWR: usize = 30;
pub const SIGSYS: usize = 31;

/// The name of signal `sig` (`"SIGSEGV"`), or `"SIGRT"` for the real-time ones.
pub fn name(sig: usize) -> &'static str {
    const NAMES: [&str; 32] = [
        "0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    NAMES.get(sig).copied().unwrap_or("SIGRT")
}

/// Validates a signal number from a syscall: 1..=64, else `EINVAL`.
pub fn check(sig: usize) -> Result<usize, syscall::Errno> {
    if (1..=NSIG).contains(&sig) {
        Ok(sig)
    } else {
        Err(syscall::Errno::EINVAL)
    }
}
