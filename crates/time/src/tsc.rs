//! The TSC as a clock.

use crate::NSEC_PER_SEC;

/// The PIT's input clock: 105/88 MHz.
pub const PIT_HZ: u64 = 1_193_182;

/// A counter that advances `ticks_per_sec` times a second (an invariant TSC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TscClock {
    ticks_per_sec: u64,
}

impl TscClock {
    /// `None` for a zero frequency.
    pub const fn new(ticks_per_sec: u64) -> Option<TscClock> {
        if ticks_per_sec == 0 {
            None
        } else {
            Some(TscClock { ticks_per_sec })
        }
    }

    pub const fn ticks_per_sec(&self) -> u64 {
        self.ticks_per_sec
    }

    /// The TSC rate from two readings of it taken `reference_ticks` apart on a reference
    /// counter running at `reference_hz` (e.g. [`PIT_HZ`]). `None` when the readings
    /// cannot give a rate (no reference ticks, no TSC ticks, a rate above `u64`).
    pub fn calibrate(tsc_delta: u64, reference_ticks: u64, reference_hz: u64) -> Option<TscClock> {
        if reference_ticks == 0 {
            return None;
        }
        let hz = u128::from(tsc_delta) * u128::from(reference_hz) / u128::from(reference_ticks);
        TscClock::new(u64::try_from(hz).ok()?)
    }

    /// Calibration against the PIT: `pit_ticks` PIT counts elapsed during `tsc_delta`.
    pub fn from_pit(tsc_delta: u64, pit_ticks: u64) -> Option<TscClock> {
        TscClock::calibrate(tsc_delta, pit_ticks, PIT_HZ)
    }

    /// From CPUID leaf 0x15: TSC/crystal ratio `ebx / eax` times the crystal frequency
    /// `ecx`. `None` when a field is 0 (the leaf does not enumerate the frequency).
    pub fn from_cpuid_15h(eax: u32, ebx: u32, ecx: u32) -> Option<TscClock> {
        if eax == 0 {
            return None;
        }
        let hz = u64::from(ecx) * u64::from(ebx) / u64::from(eax);
        TscClock::new(hz)
    }

    /// Nanoseconds in `ticks`, exact to the nanosecond (rounded down) and saturating at
    /// `u64::MAX` (584 years), for any tick count and rate.
    pub fn ticks_to_ns(&self, ticks: u64) -> u64 {
        let (secs, rem) = (ticks / self.ticks_per_sec, ticks % self.ticks_per_sec);
        // rem < ticks_per_sec, so rem * 1e9 / ticks_per_sec < 1e9 and fits easily.
        let sub = u128::from(rem) * u128::from(NSEC_PER_SEC) / u128::from(self.ticks_per_sec);
        secs.saturating_mul(NSEC_PER_SEC).saturating_add(sub as u64)
    }

    /// Ticks in `ns` (rounded up, so a deadline computed from it is never early),
    /// saturating at `u64::MAX`.
    pub fn ns_to_ticks(&self, ns: u64) -> u64 {
        let ticks =
            (u128::from(ns) * u128::from(self.ticks_per_sec)).div_ceil(u128::from(NSEC_PER_SEC));
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pit_calibration_recovers_the_tsc_rate() {
        // 10 ms of PIT (11932 ticks) while a 2.5 GHz TSC advanced.
        let tsc_delta = 2_500_000_000u64 * 11932 / PIT_HZ;
        let clock = TscClock::from_pit(tsc_delta, 11932).unwrap();
        assert!(clock.ticks_per_sec().abs_diff(2_500_000_000) < 1000);
    }

    #[test]
    fn calibration_refuses_zero_readings_and_overflow() {
        assert_eq!(TscClock::from_pit(1000, 0), None);
        assert_eq!(TscClock::from_pit(0, 1000), None);
        assert_eq!(TscClock::calibrate(u64::MAX, 1, u64::MAX), None);
        assert_eq!(TscClock::new(0), None);
    }

    #[test]
    fn cpuid_15h_multiplies_crystal_by_ratio() {
        assert_eq!(
            TscClock::from_cpuid_15h(2, 176, 24_000_000)
                .unwrap()
                .ticks_per_sec(),
            2_112_000_000
        );
        assert_eq!(TscClock::from_cpuid_15h(0, 176, 24_000_000), None);
        assert_eq!(TscClock::from_cpuid_15h(2, 176, 0), None);
    }

    #[test]
    fn ticks_to_ns_is_exact_and_never_overflows() {
        let c = TscClock::new(3_000_000_000).unwrap();
        assert_eq!(c.ticks_to_ns(3_000_000_000), NSEC_PER_SEC);
        assert_eq!(c.ticks_to_ns(3), 1);
        assert_eq!(c.ticks_to_ns(2), 0);
        // 100 years of ticks: a naive ticks * 1e9 would overflow u64.
        let century = 100 * 365 * 86_400 * 3_000_000_000u64;
        assert_eq!(c.ticks_to_ns(century), 100 * 365 * 86_400 * NSEC_PER_SEC);
        assert_eq!(c.ticks_to_ns(u64::MAX), u64::MAX / 3);
        assert_eq!(TscClock::new(1).unwrap().ticks_to_ns(u64::MAX), u64::MAX);
        assert_eq!(
            TscClock::new(u64::MAX).unwrap().ticks_to_ns(u64::MAX),
            NSEC_PER_SEC
        );
    }

    #[test]
    fn ns_to_ticks_rounds_up_and_saturates() {
        let c = TscClock::new(3_000_000_000).unwrap();
        assert_eq!(c.ns_to_ticks(1), 3);
        let c = TscClock::new(1_193_182).unwrap();
        assert_eq!(c.ns_to_ticks(1), 1);
        assert_eq!(c.ns_to_ticks(0), 0);
        assert_eq!(
            TscClock::new(u64::MAX).unwrap().ns_to_ticks(u64::MAX),
            u64::MAX
        );
    }
}
