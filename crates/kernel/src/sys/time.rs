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

/// Clock ticks per second as times(2) counts them (`sysconf(_SC_CLK_TCK)`, AT_CLKTCK).
const USER_HZ: u64 = 100;

/// times(2). Spindle does not account CPU time per thread: the process's user time is
/// reported as the time since boot, children's as zero.
pub fn times(buf: usize) -> SysResult {
    let ticks = clock::monotonic_ns() / (NS / USER_HZ);
    if buf != 0 {
        let tms = [ticks, 0, 0, 0];
        for (i, v) in tms.iter().enumerate() {
            CurrentUser.write_u64(buf + i * 8, *v)?;
        }
    }
    Ok(ticks as usize)
}

/// getrusage(2), with the same approximation as `times` for CPU time.
pub fn getrusage(who: i32, buf: usize) -> SysResult {
    const RUSAGE_SELF: i32 = 0;
    const RUSAGE_CHILDREN: i32 = -1;
    const RUSAGE_THREAD: i32 = 1;
    let mut ru = [0u64; 18];
    match who {
        RUSAGE_SELF | RUSAGE_THREAD => {
            let ns = clock::monotonic_ns();
            ru[0] = ns / NS;
            ru[1] = (ns % NS) / 1000;
            let (free, total) = crate::memory::frame_counts();
            ru[4] = (total - free) * 4; // ru_maxrss in KiB: memory in use
        }
        RUSAGE_CHILDREN => {}
        _ => return Err(Errno::EINVAL),
    }
    for (i, v) in ru.iter().enumerate() {
        CurrentUser.write_u64(buf + i * 8, *v)?;
    }
    Ok(0)
}

/// alarm(2): SIGALRM in `secs` seconds; returns the seconds left of the previous one.
pub fn alarm(secs: u32) -> SysResult {
    let (left, _) = clock::set_alarm(secs as u64 * NS, 0);
    Ok(left.div_ceil(NS) as usize)
}

const ITIMER_REAL: i32 = 0;

fn read_timeval(ptr: usize) -> Result<u64, Errno> {
    let sec = CurrentUser.read_u64(ptr)? as i64;
    let usec = CurrentUser.read_u64(ptr + 8)? as i64;
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64)
        .saturating_mul(NS)
        .saturating_add(usec as u64 * 1000))
}

fn write_itimerval(ptr: usize, (value, interval): (u64, u64)) -> Result<(), Errno> {
    for (i, ns) in [interval, value].iter().enumerate() {
        CurrentUser.write_u64(ptr + i * 16, ns / NS)?;
        CurrentUser.write_u64(ptr + i * 16 + 8, (ns % NS).div_ceil(1000))?;
    }
    Ok(())
}

/// setitimer(2). Only ITIMER_REAL is supported (ITIMER_VIRTUAL and ITIMER_PROF need
/// CPU-time accounting): EINVAL for those.
pub fn setitimer(which: i32, new: usize, old: usize) -> SysResult {
    if which != ITIMER_REAL {
        return Err(Errno::EINVAL);
    }
    let (interval, value) = if new != 0 {
        (read_timeval(new)?, read_timeval(new + 16)?)
    } else {
        (0, 0)
    };
    let prev = if new != 0 {
        clock::set_alarm(value, interval)
    } else {
        clock::alarm_left()
    };
    if old != 0 {
        write_itimerval(old, prev)?;
    }
    Ok(0)
}

pub fn getitimer(which: i32, cur: usize) -> SysResult {
    if which != ITIMER_REAL {
        return Err(Errno::EINVAL);
    }
    write_itimerval(cur, clock::alarm_left())?;
    Ok(0)
}
