//! Signal syscalls: dispositions and masks are kept; sending takes the default action.

use crate::process::{self, CurrentUser};
use crate::signal::{KernelSigaction, check_signal};
use core::sync::atomic::Ordering;
use syscall::{Errno, SysResult, UserMemory, read_pod, write_pod};

pub fn rt_sigaction(sig: usize, act: usize, old: usize, sigsetsize: usize) -> SysResult {
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    let sig = check_signal(sig)?;
    let new: Option<KernelSigaction> = if act != 0 {
        Some(read_pod(&CurrentUser, act)?)
    } else {
        None
    };
    // SIGKILL and SIGSTOP cannot be caught or ignored.
    if new.is_some() && (sig == 9 || sig == 19) {
        return Err(Errno::EINVAL);
    }
    let p = process::get();
    let prev = {
        let mut s = p.signals.lock();
        let prev = s.actions[sig - 1];
        if let Some(n) = new {
            s.actions[sig - 1] = n;
        }
        prev
    };
    if old != 0 {
        write_pod(&CurrentUser, old, &prev)?;
    }
    Ok(0)
}

pub fn rt_sigprocmask(how: u32, set: usize, old: usize, sigsetsize: usize) -> SysResult {
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    let me = crate::thread::current();
    let cur = me.sigmask.load(Ordering::Relaxed);
    if set != 0 {
        let s = CurrentUser.read_u64(set)?;
        // SIGKILL and SIGSTOP can never be blocked.
        let s = s & !((1 << 8) | (1 << 18));
        let new = match how {
            0 => cur | s,  // SIG_BLOCK
            1 => cur & !s, // SIG_UNBLOCK
            2 => s,        // SIG_SETMASK
            _ => return Err(Errno::EINVAL),
        };
        me.sigmask.store(new, Ordering::Relaxed);
    }
    if old != 0 {
        CurrentUser.write_u64(old, cur)?;
    }
    Ok(0)
}

/// `stack_t`: ss_sp, ss_flags (int + padding), ss_size.
pub fn sigaltstack(ss: usize, old: usize) -> SysResult {
    let p = process::get();
    let mut sig = p.signals.lock();
    let prev = sig.altstack;
    if ss != 0 {
        let sp = CurrentUser.read_u64(ss)?;
        let flags = CurrentUser.read_u32(ss + 8)? as u64;
        let size = CurrentUser.read_u64(ss + 16)?;
        const SS_DISABLE: u64 = 2;
        if flags & !(SS_DISABLE | (1 << 31)) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & SS_DISABLE == 0 && size < 2048 {
            return Err(Errno::ENOMEM);
        }
        sig.altstack = [sp, flags, size];
    }
    drop(sig);
    if old != 0 {
        CurrentUser.write_u64(old, prev[0])?;
        CurrentUser.write_u64(old + 8, prev[1])?;
        CurrentUser.write_u64(old + 16, prev[2])?;
    }
    Ok(0)
}

fn check_target(tid: i32) -> Result<(), Errno> {
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    crate::thread::find(tid as u32)
        .map(|_| ())
        .ok_or(Errno::ESRCH)
}

pub fn tgkill(tgid: i32, tid: i32, sig: usize) -> SysResult {
    if tgid <= 0 {
        return Err(Errno::EINVAL);
    }
    check_target(tid)?;
    if tgid != 1 {
        return Err(Errno::ESRCH);
    }
    crate::signal::send(sig)
}

pub fn tkill(tid: i32, sig: usize) -> SysResult {
    check_target(tid)?;
    crate::signal::send(sig)
}

pub fn kill(pid: i32, sig: usize) -> SysResult {
    match pid {
        -1..=1 => crate::signal::send(sig),
        _ => Err(Errno::ESRCH),
    }
}
