//! The Linux x86_64 system-call ABI as Spindle's crates share it.
//!
//! This crate owns the pieces every syscall implementation needs and nothing
//! hardware-specific: the [`Errno`] type that travels as `Result<T, Errno>` up to the
//! dispatcher (which turns it into `-errno` in `rax`), the [`UserMemory`] trait through
//! which logic crates reach user memory (the kernel implements it with fault recovery,
//! tests with a plain buffer), and the saved register [`Frame`] of a thread that entered
//! the kernel.
//!
//! Numbers and structs come from `linux-raw-sys`; see syscall(2) and the x86_64 psABI,
//! §A.2.1 "Calling Conventions" (arguments in rdi, rsi, rdx, r10, r8, r9; number and
//! result in rax; rcx and r11 clobbered by the `syscall` instruction).
#![cfg_attr(not(test), no_std)]

pub mod errno;
pub mod frame;
pub mod names;
pub mod user;

pub use errno::Errno;
pub use frame::Frame;
pub use user::{UserMemory, read_pod, write_pod};

/// What every syscall implementation returns: a non-negative value or an errno.
pub type SysResult = Result<usize, Errno>;

/// Linux syscall numbers for x86_64, re-exported from `linux-raw-sys`.
pub use linux_raw_sys::general as abi;
