//! `struct timespec` as the syscalls see it.

use core::cmp::Ordering;
use linux_raw_sys::general::__kernel_timespec;
use syscall::Errno;

use crate::NSEC_PER_SEC;

const NSEC: i64 = NSEC_PER_SEC as i64;

/// A time or duration: `sec` seconds plus `nsec` nanoseconds, `0 <= nsec < 10^9` (a
/// negative time has a negative `sec` and a non-negative `nsec`, as in Linux).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timespec {
    sec: i64,
    nsec: u32,
}

impl Timespec {
    pub const ZERO: Timespec = Timespec { sec: 0, nsec: 0 };
    /// The latest representable time; saturating arithmetic ends here.
    pub const MAX: Timespec = Timespec {
        sec: i64::MAX,
        nsec: NSEC_PER_SEC as u32 - 1,
    };
    /// The earliest representable time.
    pub const MIN: Timespec = Timespec {
        sec: i64::MIN,
        nsec: 0,
    };

    /// `EINVAL` unless `0 <= nsec < 10^9`, the rule of every syscall taking a timespec.
    pub fn new(sec: i64, nsec: i64) -> Result<Timespec, Errno> {
        if !(0..NSEC).contains(&nsec) {
            return Err(Errno::EINVAL);
        }
        Ok(Timespec {
            sec,
            nsec: nsec as u32,
        })
    }

    /// Like [`new`](Self::new), for a duration (relative timeout, nanosleep): a negative
    /// `sec` is also `EINVAL`.
    pub fn new_duration(sec: i64, nsec: i64) -> Result<Timespec, Errno> {
        if sec < 0 {
            return Err(Errno::EINVAL);
        }
        Timespec::new(sec, nsec)
    }

    /// From the user's `struct __kernel_timespec` (what x86_64 `struct timespec` is).
    pub fn from_linux(ts: &__kernel_timespec) -> Result<Timespec, Errno> {
        Timespec::new(ts.tv_sec, ts.tv_nsec)
    }

    /// For copying back to user memory.
    pub fn to_linux(self) -> __kernel_timespec {
        __kernel_timespec {
            tv_sec: self.sec,
            tv_nsec: i64::from(self.nsec),
        }
    }

    pub const fn sec(self) -> i64 {
        self.sec
    }

    pub const fn nsec(self) -> u32 {
        self.nsec
    }

    /// `ns` nanoseconds after time zero.
    pub const fn from_ns(ns: u64) -> Timespec {
        Timespec {
            sec: (ns / NSEC_PER_SEC) as i64,
            nsec: (ns % NSEC_PER_SEC) as u32,
        }
    }

    /// Nanoseconds since time zero; `None` if negative or beyond `u64` (year 2554).
    pub fn to_ns(self) -> Option<u64> {
        let sec = u64::try_from(self.sec).ok()?;
        sec.checked_mul(NSEC_PER_SEC)?
            .checked_add(u64::from(self.nsec))
    }

    /// Nanoseconds, clamped to `0..=u64::MAX` (for deadlines: a past one is 0, a far one
    /// is "never").
    pub fn to_ns_saturating(self) -> u64 {
        match self.to_ns() {
            Some(ns) => ns,
            None if self.sec < 0 => 0,
            None => u64::MAX,
        }
    }

    pub fn checked_add(self, other: Timespec) -> Option<Timespec> {
        let mut sec = self.sec.checked_add(other.sec)?;
        let mut nsec = self.nsec + other.nsec;
        if nsec >= NSEC_PER_SEC as u32 {
            nsec -= NSEC_PER_SEC as u32;
            sec = sec.checked_add(1)?;
        }
        Some(Timespec { sec, nsec })
    }

    pub fn checked_sub(self, other: Timespec) -> Option<Timespec> {
        let mut sec = self.sec.checked_sub(other.sec)?;
        let nsec = if self.nsec >= other.nsec {
            self.nsec - other.nsec
        } else {
            sec = sec.checked_sub(1)?;
            self.nsec + NSEC_PER_SEC as u32 - other.nsec
        };
        Some(Timespec { sec, nsec })
    }

    /// Sum, clamped to [`MIN`](Self::MIN)..=[`MAX`](Self::MAX).
    pub fn saturating_add(self, other: Timespec) -> Timespec {
        self.checked_add(other)
            .unwrap_or(if other.sec < 0 { Self::MIN } else { Self::MAX })
    }

    /// Difference, clamped to [`MIN`](Self::MIN)..=[`MAX`](Self::MAX).
    pub fn saturating_sub(self, other: Timespec) -> Timespec {
        self.checked_sub(other)
            .unwrap_or(if other.sec < 0 { Self::MAX } else { Self::MIN })
    }
}

impl PartialOrd for Timespec {
    fn partial_cmp(&self, other: &Timespec) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timespec {
    fn cmp(&self, other: &Timespec) -> Ordering {
        (self.sec, self.nsec).cmp(&(other.sec, other.nsec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(sec: i64, nsec: i64) -> Timespec {
        Timespec::new(sec, nsec).unwrap()
    }

    #[test]
    fn nsec_outside_zero_to_one_billion_is_einval() {
        assert_eq!(Timespec::new(0, -1), Err(Errno::EINVAL));
        assert_eq!(Timespec::new(0, 1_000_000_000), Err(Errno::EINVAL));
        assert!(Timespec::new(-5, 999_999_999).is_ok());
        assert_eq!(Timespec::new_duration(-1, 0), Err(Errno::EINVAL));
        let user = __kernel_timespec {
            tv_sec: 1,
            tv_nsec: i64::MAX,
        };
        assert_eq!(Timespec::from_linux(&user), Err(Errno::EINVAL));
    }

    #[test]
    fn add_and_sub_carry_nanoseconds() {
        assert_eq!(
            ts(1, 600_000_000).checked_add(ts(2, 500_000_000)),
            Some(ts(4, 100_000_000))
        );
        assert_eq!(
            ts(1, 100_000_000).checked_sub(ts(0, 200_000_000)),
            Some(ts(0, 900_000_000))
        );
        assert_eq!(ts(0, 0).checked_sub(ts(0, 1)), Some(ts(-1, 999_999_999)));
    }

    #[test]
    fn overflow_is_none_or_saturates() {
        assert_eq!(Timespec::MAX.checked_add(ts(0, 1)), None);
        assert_eq!(Timespec::MAX.saturating_add(ts(5, 0)), Timespec::MAX);
        assert_eq!(Timespec::MIN.saturating_sub(ts(0, 1)), Timespec::MIN);
        assert_eq!(Timespec::MIN.saturating_add(ts(-1, 0)), Timespec::MIN);
        assert_eq!(Timespec::MAX.saturating_sub(ts(-1, 0)), Timespec::MAX);
    }

    #[test]
    fn nanosecond_conversions_round_trip_and_clamp() {
        assert_eq!(Timespec::from_ns(1_500_000_001), ts(1, 500_000_001));
        assert_eq!(ts(1, 500_000_001).to_ns(), Some(1_500_000_001));
        assert_eq!(Timespec::from_ns(u64::MAX).to_ns(), Some(u64::MAX));
        assert_eq!(ts(-1, 0).to_ns(), None);
        assert_eq!(ts(-1, 0).to_ns_saturating(), 0);
        assert_eq!(Timespec::MAX.to_ns_saturating(), u64::MAX);
        let back = Timespec::from_linux(&ts(7, 8).to_linux()).unwrap();
        assert_eq!(back, ts(7, 8));
    }

    #[test]
    fn ordering_compares_seconds_then_nanoseconds() {
        assert!(ts(-1, 999_999_999) < ts(0, 0));
        assert!(ts(1, 2) < ts(1, 3));
        assert!(ts(2, 0) > ts(1, 999_999_999));
    }
}
