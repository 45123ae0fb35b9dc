//! `CpuMask`: a set of CPU indices, as sched_setaffinity(2)'s `cpu_set_t` holds them.
//!
//! Spindle schedules at most [`MAX_CPUS`] CPUs, so one `u64` holds a mask; the kernel
//! copies the first 8 bytes of a user `cpu_set_t` in and out (bit `n` of byte `n / 8`
//! is CPU `n`, little-endian, so the `u64` reads the same).

use core::fmt;

/// The largest CPU count a mask can describe.
pub const MAX_CPUS: usize = 64;

/// A set of CPUs, bit `n` standing for CPU `n`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CpuMask(u64);

impl CpuMask {
    /// No CPU.
    pub const EMPTY: CpuMask = CpuMask(0);

    /// The mask with exactly these bits.
    pub const fn from_bits(bits: u64) -> CpuMask {
        CpuMask(bits)
    }

    /// CPUs `0..ncpus` (all of them from `MAX_CPUS` up).
    pub const fn all(ncpus: usize) -> CpuMask {
        if ncpus >= MAX_CPUS {
            CpuMask(u64::MAX)
        } else {
            CpuMask((1u64 << ncpus) - 1)
        }
    }

    /// Only `cpu` (empty when `cpu` is out of range).
    pub const fn single(cpu: usize) -> CpuMask {
        if cpu < MAX_CPUS {
            CpuMask(1 << cpu)
        } else {
            CpuMask(0)
        }
    }

    /// The raw bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether `cpu` is in the set.
    pub const fn contains(self, cpu: usize) -> bool {
        cpu < MAX_CPUS && self.0 & (1 << cpu) != 0
    }

    /// Whether no CPU is in the set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The CPUs in both sets.
    pub const fn and(self, other: CpuMask) -> CpuMask {
        CpuMask(self.0 & other.0)
    }

    /// How many CPUs are in the set.
    pub const fn count(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The set with `cpu` added.
    pub const fn with(self, cpu: usize) -> CpuMask {
        CpuMask(self.0 | CpuMask::single(cpu).0)
    }

    /// The set with `cpu` taken out.
    pub const fn without(self, cpu: usize) -> CpuMask {
        CpuMask(self.0 & !CpuMask::single(cpu).0)
    }

    /// The lowest CPU in the set.
    pub const fn first(self) -> Option<usize> {
        if self.0 == 0 {
            None
        } else {
            Some(self.0.trailing_zeros() as usize)
        }
    }

    /// The first CPU in the set at or after `start`, wrapping around; spreads choices
    /// instead of always answering CPU 0.
    pub const fn first_from(self, start: usize) -> Option<usize> {
        let start = start % MAX_CPUS;
        let high = self.0 & (u64::MAX << start);
        if high != 0 {
            Some(high.trailing_zeros() as usize)
        } else {
            self.first()
        }
    }

    /// The CPUs in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        let mut bits = self.0;
        core::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let cpu = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            Some(cpu)
        })
    }
}

impl fmt::Debug for CpuMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CpuMask({:#x})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_covers_exactly_the_first_ncpus() {
        assert_eq!(CpuMask::all(4).bits(), 0b1111);
        assert_eq!(CpuMask::all(64).bits(), u64::MAX);
        assert_eq!(CpuMask::all(100).bits(), u64::MAX);
        assert!(CpuMask::all(0).is_empty());
    }

    #[test]
    fn single_out_of_range_is_empty() {
        assert!(CpuMask::single(64).is_empty());
        assert!(!CpuMask::single(63).is_empty());
        assert!(!CpuMask::all(64).contains(64));
    }

    #[test]
    fn first_from_wraps_around() {
        let m = CpuMask::from_bits(0b1001);
        assert_eq!(m.first_from(1), Some(3));
        assert_eq!(m.first_from(4), Some(0));
        assert_eq!(m.first_from(3), Some(3));
        assert_eq!(CpuMask::EMPTY.first_from(2), None);
    }

    #[test]
    fn iter_lists_cpus_in_order() {
        let cpus: Vec<usize> = CpuMask::from_bits(0b1010_0110).iter().collect();
        assert_eq!(cpus, [1, 2, 5, 7]);
    }
}
