//! Clock ids of clock_gettime(2) and clock_getres(2).

use linux_raw_sys::general as g;
use syscall::Errno;

/// A clock a program may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClockId {
    Realtime,
    Monotonic,
    ProcessCputime,
    ThreadCputime,
    MonotonicRaw,
    RealtimeCoarse,
    MonotonicCoarse,
    Boottime,
    RealtimeAlarm,
    BoottimeAlarm,
    Tai,
    /// A negative id from `clock_getcpuclockid`/`pthread_getcpuclockid`: the CPU time of
    /// process or thread `id` (0 = the caller). Whether `id` exists is the kernel's call.
    CpuClock {
        id: u32,
        thread: bool,
    },
}

/// What a clock counts from, for the kernel to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeBase {
    /// Wall-clock time since the Unix epoch.
    Realtime,
    /// Time since boot, not counting suspend (Spindle never suspends, so this equals
    /// `Boottime`).
    Monotonic,
    Boottime,
    /// Realtime plus the TAI offset (0 until NTP sets one, as on Linux).
    Tai,
    ProcessCpu,
    ThreadCpu,
}

impl ClockId {
    /// The clock with Linux id `id`, or `EINVAL` (unknown ids, the removed
    /// `CLOCK_SGI_CYCLE` 10, and CPU-clock encodings with the invalid type 3).
    pub fn from_raw(id: i32) -> Result<ClockId, Errno> {
        if id < 0 {
            return cpu_clock(id);
        }
        let clock = match id as u32 {
            g::CLOCK_REALTIME => ClockId::Realtime,
            g::CLOCK_MONOTONIC => ClockId::Monotonic,
            g::CLOCK_PROCESS_CPUTIME_ID => ClockId::ProcessCputime,
            g::CLOCK_THREAD_CPUTIME_ID => ClockId::ThreadCputime,
            g::CLOCK_MONOTONIC_RAW => ClockId::MonotonicRaw,
            g::CLOCK_REALTIME_COARSE => ClockId::RealtimeCoarse,
            g::CLOCK_MONOTONIC_COARSE => ClockId::MonotonicCoarse,
            g::CLOCK_BOOTTIME => ClockId::Boottime,
            g::CLOCK_REALTIME_ALARM => ClockId::RealtimeAlarm,
            g::CLOCK_BOOTTIME_ALARM => ClockId::BoottimeAlarm,
            g::CLOCK_TAI => ClockId::Tai,
            _ => return Err(Errno::EINVAL),
        };
        Ok(clock)
    }

    pub fn base(self) -> TimeBase {
        match self {
            ClockId::Realtime | ClockId::RealtimeCoarse | ClockId::RealtimeAlarm => {
                TimeBase::Realtime
            }
            ClockId::Monotonic | ClockId::MonotonicRaw | ClockId::MonotonicCoarse => {
                TimeBase::Monotonic
            }
            ClockId::Boottime | ClockId::BoottimeAlarm => TimeBase::Boottime,
            ClockId::Tai => TimeBase::Tai,
            ClockId::ProcessCputime | ClockId::CpuClock { thread: false, .. } => {
                TimeBase::ProcessCpu
            }
            ClockId::ThreadCputime | ClockId::CpuClock { thread: true, .. } => TimeBase::ThreadCpu,
        }
    }

    /// Whether the clock only advances at timer ticks (the `_COARSE` clocks).
    pub fn is_coarse(self) -> bool {
        matches!(self, ClockId::RealtimeCoarse | ClockId::MonotonicCoarse)
    }

    /// What clock_getres(2) reports: the tick length for coarse clocks, 1 ns for the
    /// others (high-resolution timers).
    pub fn resolution_ns(self, tick_ns: u64) -> u64 {
        if self.is_coarse() { tick_ns } else { 1 }
    }
}

/// Decodes Linux's CPU-clock encoding: `(~pid << 3) | per_thread << 2 | type`, type 0
/// PROF, 1 VIRT, 2 SCHED, 3 invalid.
fn cpu_clock(id: i32) -> Result<ClockId, Errno> {
    if id & 3 == 3 {
        return Err(Errno::EINVAL);
    }
    let pid = !(id >> 3);
    Ok(ClockId::CpuClock {
        id: pid as u32,
        thread: id & 4 != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_clock_ids_are_accepted() {
        assert_eq!(ClockId::from_raw(0), Ok(ClockId::Realtime));
        assert_eq!(ClockId::from_raw(1), Ok(ClockId::Monotonic));
        assert_eq!(ClockId::from_raw(2), Ok(ClockId::ProcessCputime));
        assert_eq!(ClockId::from_raw(3), Ok(ClockId::ThreadCputime));
        assert_eq!(ClockId::from_raw(7), Ok(ClockId::Boottime));
        assert_eq!(ClockId::from_raw(11), Ok(ClockId::Tai));
    }

    #[test]
    fn unknown_and_removed_clock_ids_are_einval() {
        for id in [10, 12, 100, i32::MAX] {
            assert_eq!(ClockId::from_raw(id), Err(Errno::EINVAL), "{id}");
        }
        // CPU-clock encoding with type 3.
        assert_eq!(ClockId::from_raw((!0 << 3) | 3), Err(Errno::EINVAL));
    }

    #[test]
    fn cpu_clock_encodings_name_a_process_or_thread() {
        // pthread_getcpuclockid(tid 42): MAKE_THREAD_CPUCLOCK(42, CPUCLOCK_SCHED).
        let id = (!42i32 << 3) | 4 | 2;
        assert_eq!(
            ClockId::from_raw(id),
            Ok(ClockId::CpuClock {
                id: 42,
                thread: true
            })
        );
        assert_eq!(ClockId::from_raw(id).unwrap().base(), TimeBase::ThreadCpu);
        let process = (!7i32 << 3) | 2;
        assert_eq!(
            ClockId::from_raw(process).unwrap().base(),
            TimeBase::ProcessCpu
        );
        assert_eq!(
            ClockId::from_raw(i32::MIN),
            Ok(ClockId::CpuClock {
                id: 0x0fff_ffff,
                thread: false
            })
        );
    }

    #[test]
    fn coarse_clocks_report_the_tick_as_resolution() {
        assert_eq!(ClockId::MonotonicCoarse.resolution_ns(4_000_000), 4_000_000);
        assert_eq!(ClockId::Monotonic.resolution_ns(4_000_000), 1);
        assert_eq!(ClockId::RealtimeCoarse.base(), TimeBase::Realtime);
        assert_eq!(ClockId::MonotonicRaw.base(), TimeBase::Monotonic);
    }
}
