//! Time: the TSC calibrated against the PIT, realtime from the CMOS RTC at boot, and
//! the deadline timers that wake sleeping threads.
//!
//! CLOCK_MONOTONIC is TSC ticks since boot converted by `time::TscClock`;
//! CLOCK_REALTIME is the RTC's reading at boot plus CLOCK_MONOTONIC. Timers are checked
//! on every timer tick, so a sleep ends within one tick of its deadline.

use alloc::collections::BTreeSet;
use arch::cpu::{inb, outb};
use core::sync::atomic::{AtomicU64, Ordering};
use spin::{Mutex, Once};

static TSC: Once<time::TscClock> = Once::new();
static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
static REALTIME_AT_BOOT_NS: AtomicU64 = AtomicU64::new(0);

/// Deadlines (monotonic ns) and the thread each wakes.
static TIMERS: Mutex<BTreeSet<(u64, u32)>> = Mutex::new(BTreeSet::new());

const PIT_CMD: u16 = 0x43;
const PIT_CH0: u16 = 0x40;

fn pit_read() -> u16 {
    // SAFETY: latching and reading PIT channel 0 has no effect beyond the PIT.
    unsafe {
        outb(PIT_CMD, 0x00);
        let lo = inb(PIT_CH0) as u16;
        let hi = inb(PIT_CH0) as u16;
        hi << 8 | lo
    }
}

/// Measures the TSC frequency against 20 ms of PIT channel 0, and reads the RTC.
pub fn init() {
    // SAFETY: channel 0, lobyte/hibyte, mode 2 (rate generator), reload 65536. Its IRQ
    // stays masked (legacy PIC masked by `irq::init`).
    unsafe {
        outb(PIT_CMD, 0x34);
        outb(PIT_CH0, 0);
        outb(PIT_CH0, 0);
    }
    let target = time::PIT_HZ / 50;
    let mut last = pit_read();
    let mut elapsed = 0u64;
    let start = arch::cpu::rdtsc();
    let mut spins = 0u64;
    while elapsed < target && spins < 50_000_000 {
        let now = pit_read();
        elapsed += last.wrapping_sub(now) as u64;
        last = now;
        spins += 1;
    }
    let delta = arch::cpu::rdtsc() - start;
    let clock = time::TscClock::from_pit(delta, elapsed.max(1))
        .or_else(|| time::TscClock::new(2_000_000_000));
    if let Some(c) = clock {
        TSC.call_once(|| c);
    }
    BOOT_TSC.store(arch::cpu::rdtsc(), Ordering::Relaxed);
    let rt = read_rtc().unwrap_or(0);
    REALTIME_AT_BOOT_NS.store(rt.saturating_mul(1_000_000_000), Ordering::Relaxed);
}

/// The TSC frequency in Hz.
pub fn tsc_hz() -> u64 {
    TSC.get().map_or(0, |c| c.ticks_per_sec())
}

fn cmos(reg: u8) -> u8 {
    // SAFETY: CMOS index/data ports; bit 7 of the index keeps NMIs masked as they are.
    unsafe {
        outb(0x70, 0x80 | reg);
        inb(0x71)
    }
}

fn read_rtc() -> Option<u64> {
    let read = || {
        for _ in 0..1_000_000 {
            if cmos(0x0a) & 0x80 == 0 {
                break;
            }
        }
        time::RtcRegisters {
            seconds: cmos(0x00),
            minutes: cmos(0x02),
            hours: cmos(0x04),
            day: cmos(0x07),
            month: cmos(0x08),
            year: cmos(0x09),
            century: Some(cmos(0x32)),
            status_b: cmos(0x0b),
        }
    };
    // Read until two consecutive readings agree (an update may tear one).
    let mut a = read();
    for _ in 0..5 {
        let b = read();
        if a == b {
            break;
        }
        a = b;
    }
    time::rtc_to_unix(&a)
}

/// The latest time any CPU has read, so that the clock never goes back when a thread
/// moves to a CPU whose TSC lags (the TSCs of QEMU's vCPUs need not agree exactly).
static LAST_NS: AtomicU64 = AtomicU64::new(0);

/// Nanoseconds since boot: never less than a value already returned on any CPU.
pub fn monotonic_ns() -> u64 {
    let ticks = arch::cpu::rdtsc().saturating_sub(BOOT_TSC.load(Ordering::Relaxed));
    let now = TSC.get().map_or(0, |c| c.ticks_to_ns(ticks));
    let last = LAST_NS.fetch_max(now, Ordering::AcqRel);
    now.max(last)
}

/// Nanoseconds since the Unix epoch.
pub fn realtime_ns() -> u64 {
    REALTIME_AT_BOOT_NS.load(Ordering::Relaxed) + monotonic_ns()
}

/// Registers a wake-up of thread `tid` at `deadline` (monotonic ns).
pub fn add_timer(deadline: u64, tid: u32) {
    TIMERS.lock().insert((deadline, tid));
}

/// Removes a timer that has not fired.
pub fn cancel_timer(deadline: u64, tid: u32) {
    TIMERS.lock().remove(&(deadline, tid));
}

/// The process's ITIMER_REAL (alarm, setitimer): next expiry and reload interval (ns).
static ALARM: Mutex<Option<(u64, u64)>> = Mutex::new(None);

/// Arms ITIMER_REAL to fire in `value` ns and then every `interval` ns (0 value: off).
/// Returns the previous (time left, interval).
pub fn set_alarm(value: u64, interval: u64) -> (u64, u64) {
    let now = monotonic_ns();
    let mut a = ALARM.lock();
    let old = a.map_or((0, 0), |(at, iv)| (at.saturating_sub(now).max(1), iv));
    *a = (value != 0).then(|| (now.saturating_add(value), interval));
    old
}

/// ITIMER_REAL's (time left, interval) without changing it.
pub fn alarm_left() -> (u64, u64) {
    let now = monotonic_ns();
    ALARM
        .lock()
        .map_or((0, 0), |(at, iv)| (at.saturating_sub(now).max(1), iv))
}

/// Sends SIGALRM when ITIMER_REAL expires, and reloads it.
fn expire_alarm(now: u64) {
    let fire = {
        let Some(mut a) = ALARM.try_lock() else {
            return;
        };
        match *a {
            Some((at, iv)) if at <= now => {
                *a = (iv != 0).then(|| (now + iv, iv));
                true
            }
            _ => false,
        }
    };
    if fire && crate::process::try_get().is_some() {
        crate::signal::send_to_process(signal::SIGALRM);
    }
}

/// Wakes the threads whose deadlines have passed (from the timer tick).
pub fn expire_timers() {
    let now = monotonic_ns();
    expire_alarm(now);
    loop {
        // Every CPU ticks; one expiring at a time is enough, so a busy lock means
        // another CPU is on it.
        let due = {
            let Some(mut t) = TIMERS.try_lock() else {
                break;
            };
            match t.first() {
                Some(&(d, tid)) if d <= now => {
                    t.remove(&(d, tid));
                    Some(tid)
                }
                _ => None,
            }
        };
        let Some(tid) = due else { break };
        if let Some(t) = crate::thread::find(tid) {
            crate::thread::wake(&t);
        }
    }
}
