//! Time arithmetic for the kernel's clocks, free of hardware access.
//!
//! - [`TscClock`]: TSC ticks to nanoseconds without overflow, and its calibration from
//!   two readings against a reference counter (the PIT at 1 193 182 Hz) or from CPUID
//!   leaf 0x15.
//! - [`rtc`]: decoding the MC146818 CMOS clock registers (BCD or binary, 12 or 24 hour,
//!   optional century register) into Unix seconds, with the days-from-civil calendar.
//! - [`Timespec`]: `struct timespec` checks and arithmetic as clock_gettime(2),
//!   nanosleep(2) and futex(2) need them (`EINVAL` for `tv_nsec` outside [0, 10^9)).
//! - [`ClockId`]: which clock ids clock_gettime(2)/clock_getres(2) accept, and which
//!   time base each reads.
//!
//! Reading the TSC, the PIT and the CMOS ports is the kernel's job; this crate only
//! computes. Follows clock_gettime(2), time(7) and the MC146818A datasheet's register
//! layout (status register B: bit 1 = 24-hour mode, bit 2 = binary mode).
#![cfg_attr(not(test), no_std)]

mod clock;
pub mod rtc;
mod timespec;
mod tsc;

pub use clock::{ClockId, TimeBase};
pub use rtc::{RtcRegisters, rtc_to_unix};
pub use timespec::Timespec;
pub use tsc::{PIT_HZ, TscClock};

/// Nanoseconds per second.
pub const NSEC_PER_SEC: u64 = 1_000_000_000;
