//! Time syscalls: clock_gettime/getres, gettimeofday, time, nanosleep, clock_nanosleep.

use crate::clock;
use crate::process::CurrentUser;
use syscall::{Errno, SysResult, UserMemory};
use time::{ClockId, TimeBase, Timespec};

const NS: u64 = 1_000_000_000;

/// Nanoseconds on `base` now. CPU-time clocks read as time since boot (an upper bound:
/// Spindle does not account CPU time per thread).
fn now(base: TimeBase) -> u64 {
    match base {
        TimeBase::Realtime | TimeBase::Tai => clock::realtime_ns(),
        _ => clock::monotonic_ns(),
    }
}

fn write_timespec(ptr: usize, ns: u64) -> Result<(), Errno> {
    CurrentUser.write_u64(ptr, ns / NS)?;
    CurrentUser.write_u64(ptr + 8, ns % NS)
}

fn read_timespec(ptr: usize) -> Result<Timespec, Errno> {
    let sec = CurrentUser.read_u64(ptr)? as i64;
    let nsec = CurrentUser.read_u64(ptr + 8)? as i64;
    Timespec::new_duration(sec, nsec)
}

pub fn clock_gettime(id: i32, ptr: usize) -> SysResult {
    let c = ClockId::from_raw(id)?;
    write_timespec(ptr, now(c.base()))?;
    Ok(0)
}

pub fn clock_getres(id: i32, ptr: usize) -> SysResult {
    let c = ClockId::from_raw(id)?;
    if ptr != 0 {
        write_timespec(ptr, c.resolution_ns(NS / crate::irq::TICK_HZ))?;
    }
    Ok(0)
}

pub fn gettimeofday(tv: usize, _tz: usize) -> SysResult {
    if tv != 0 {
        let ns = clock::realtime_ns();
        CurrentUser.write_u64(tv, ns / NS)?;
        CurrentUser.write_u64(tv + 8, (ns % NS) / 1000)?;
    }
    Ok(0)
}

pub fn time(ptr: usize) -> SysResult {
    let secs = clock::realtime_ns() / NS;
    if ptr != 0 {
        CurrentUser.write_u64(ptr, secs)?;
    }
    Ok(secs as usize)
}

/// Sleeps `ns` from now. Interrupted by a signal: EINTR, and the time left is written
/// to `rem` if given (nanosleep(2)).
fn sleep_ns(ns: u64, rem: usize) -> SysResult {
    let deadline = clock::monotonic_ns().saturating_add(ns);
    match crate::thread::sleep_until(deadline) {
        Ok(()) => Ok(0),
        Err(e) => {
            if rem != 0 {
                write_timespec(rem, deadline.saturating_sub(clock::monotonic_ns()))?;
            }
            Err(e)
        }
    }
}

pub fn nanosleep(req: usize, rem: usize) -> SysResult {
    let t = read_timespec(req)?;
    sleep_ns(t.to_ns_saturating(), rem)
}

pub fn clock_nanosleep(id: i32, flags: u32, req: usize, rem: usize) -> SysResult {
    let c = ClockId::from_raw(id)?;
    if matches!(c.base(), TimeBase::ThreadCpu) {
        return Err(Errno::EINVAL);
    }
    let t = read_timespec(req)?;
    if flags & linux_raw_sys::general::TIMER_ABSTIME != 0 {
        let target = t.to_ns_saturating();
        let current = now(c.base());
        // An absolute sleep leaves `rem` alone (clock_nanosleep(2)).
        if target > current {
            return sleep_ns(target - current, 0);
        }
        Ok(0)
    } else {
        sleep_ns(t.to_ns_saturating(), rem)
    }
}
