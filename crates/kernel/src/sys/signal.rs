//! Signal syscalls: rt_sigaction, rt_sigprocmask, sigaltstack, rt_sigreturn,
//! rt_sigpending, rt_sigsuspend, pause, rt_sigtimedwait, kill, tkill, tgkill.

use crate::process::{self, CurrentUser};
use crate::thread;
use core::sync::atomic::Ordering;
use signal::info::code;
use signal::{AltStack, SigAction, SigInfo, UNBLOCKABLE, sigbit};
use syscall::{Errno, Frame, SysResult, UserMemory, read_pod, write_pod};

/// The kernel's `sigset_t` is 8 bytes; every signal syscall insists on that size.
fn check_sigsetsize(size: usize) -> Result<(), Errno> {
    if size == 8 {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

pub fn rt_sigaction(sig: usize, act: usize, old: usize, sigsetsize: usize) -> SysResult {
    check_sigsetsize(sigsetsize)?;
    let sig = signal::check(sig)?;
    let new: Option<SigAction> = if act != 0 {
        Some(read_pod(&CurrentUser, act)?)
    } else {
        None
    };
    // SIGKILL and SIGSTOP cannot be caught or ignored.
    if new.is_some() && sigbit(sig) & UNBLOCKABLE != 0 {
        return Err(Errno::EINVAL);
    }
    let p = process::get();
    let prev = {
        let mut actions = p.actions.lock();
        let prev = actions[sig - 1];
        if let Some(mut n) = new {
            n.mask &= !UNBLOCKABLE;
            actions[sig - 1] = n;
        }
        prev
    };
    // Setting SIG_IGN (or SIG_DFL for a default-ignored signal) discards it if pending.
    if let Some(n) = new
        && signal::disposition(&n, sig) == signal::Disposition::Ignore
    {
        p.sig_pending.fetch_and(!sigbit(sig), Ordering::AcqRel);
        thread::current()
            .sig_pending
            .fetch_and(!sigbit(sig), Ordering::AcqRel);
    }
    if old != 0 {
        write_pod(&CurrentUser, old, &prev)?;
    }
    Ok(0)
}

pub fn rt_sigprocmask(how: u32, set: usize, old: usize, sigsetsize: usize) -> SysResult {
    check_sigsetsize(sigsetsize)?;
    let me = thread::current();
    let cur = me.sigmask.load(Ordering::Relaxed);
    let new = if set != 0 {
        let s = CurrentUser.read_u64(set)? & !UNBLOCKABLE;
        Some(match how {
            0 => cur | s,  // SIG_BLOCK
            1 => cur & !s, // SIG_UNBLOCK
            2 => s,        // SIG_SETMASK
            _ => return Err(Errno::EINVAL),
        })
    } else {
        None
    };
    if old != 0 {
        CurrentUser.write_u64(old, cur)?;
    }
    if let Some(n) = new {
        // Newly unblocked pending signals are delivered on the way out.
        me.sigmask.store(n, Ordering::Relaxed);
    }
    Ok(0)
}

/// `stack_t`: ss_sp, ss_flags (int, padded), ss_size.
pub fn sigaltstack(ss: usize, old: usize, frame: &Frame) -> SysResult {
    let me = thread::current();
    let prev = me.altstack.lock().report(frame.rsp);
    if ss != 0 {
        let new = AltStack {
            sp: CurrentUser.read_u64(ss)?,
            flags: CurrentUser.read_u32(ss + 8)?,
            size: CurrentUser.read_u64(ss + 16)?,
        };
        me.altstack.lock().set(new, frame.rsp)?;
    }
    if old != 0 {
        CurrentUser.write_u64(old, prev.sp)?;
        CurrentUser.write_u64(old + 8, prev.flags as u64)?;
        CurrentUser.write_u64(old + 16, prev.size)?;
    }
    Ok(0)
}

/// rt_sigpending(2): Linux takes any set size up to its own (8 bytes) and copies
/// that many bytes.
pub fn rt_sigpending(set: usize, sigsetsize: usize) -> SysResult {
    if sigsetsize > 8 {
        return Err(Errno::EINVAL);
    }
    let me = thread::current();
    let pending =
        me.sig_pending.load(Ordering::Acquire) | process::get().sig_pending.load(Ordering::Acquire);
    let bits = (pending & me.sigmask.load(Ordering::Relaxed)).to_ne_bytes();
    CurrentUser.write_bytes(set, &bits[..sigsetsize])?;
    Ok(0)
}

/// rt_sigsuspend(2): waits with a temporary mask for a signal; always EINTR. The
/// handler's frame records the old mask, so sigreturn puts it back.
pub fn rt_sigsuspend(mask: usize, sigsetsize: usize) -> SysResult {
    check_sigsetsize(sigsetsize)?;
    let m = CurrentUser.read_u64(mask)? & !UNBLOCKABLE;
    let me = thread::current();
    let old = me.sigmask.swap(m, Ordering::Relaxed);
    *me.saved_mask.lock() = Some(old);
    thread::sleep_until_signal();
    Err(Errno::EINTR)
}

pub fn pause() -> SysResult {
    thread::sleep_until_signal();
    Err(Errno::EINTR)
}

/// rt_sigtimedwait(2): takes a pending signal of `set` without running its handler.
pub fn rt_sigtimedwait(set: usize, info: usize, timeout: usize, sigsetsize: usize) -> SysResult {
    check_sigsetsize(sigsetsize)?;
    let wanted = CurrentUser.read_u64(set)? & !UNBLOCKABLE;
    let deadline = if timeout != 0 {
        let sec = CurrentUser.read_u64(timeout)? as i64;
        let nsec = CurrentUser.read_u64(timeout + 8)? as i64;
        let t = time::Timespec::new_duration(sec, nsec)?;
        Some(crate::clock::monotonic_ns().saturating_add(t.to_ns_saturating()))
    } else {
        None
    };
    let me = thread::current();
    // The waited-for signals are unblocked for the wait, the others stay as they are.
    let old = me.sigmask.load(Ordering::Relaxed);
    loop {
        let own = me.sig_pending.load(Ordering::Acquire) & wanted;
        let shared = process::get().sig_pending.load(Ordering::Acquire) & wanted;
        if let Some(sig) = signal::next_pending(own | shared, 0) {
            let bit = sigbit(sig);
            let taken = if own & bit != 0 {
                let mut infos = me.sig_info.lock();
                let was = me.sig_pending.fetch_and(!bit, Ordering::AcqRel) & bit != 0;
                let pos = infos.iter().position(|i| i.signo() == sig);
                let si = pos.map(|i| infos.remove(i));
                was.then(|| si.unwrap_or_else(|| SigInfo::sent(sig, code::SI_TKILL, 1, 0)))
            } else {
                let was = process::get().sig_pending.fetch_and(!bit, Ordering::AcqRel) & bit != 0;
                was.then(|| SigInfo::sent(sig, code::SI_USER, 1, 0))
            };
            if let Some(si) = taken {
                if info != 0 {
                    CurrentUser.write_bytes(info, &si.0)?;
                }
                return Ok(sig);
            }
            continue;
        }
        me.sigmask.store(old & !wanted, Ordering::Relaxed);
        let r = match deadline {
            Some(d) => thread::sleep_until(d),
            None => {
                thread::sleep_until_signal();
                Ok(())
            }
        };
        me.sigmask.store(old, Ordering::Relaxed);
        let pending_wanted = (me.sig_pending.load(Ordering::Acquire)
            | process::get().sig_pending.load(Ordering::Acquire))
            & wanted;
        if pending_wanted != 0 {
            continue;
        }
        match r {
            Err(e) => return Err(e),
            Ok(()) if deadline.is_some() => return Err(Errno::EAGAIN),
            Ok(()) => return Err(Errno::EINTR),
        }
    }
}

fn target_thread(tid: i32) -> Result<alloc::sync::Arc<thread::Thread>, Errno> {
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    thread::find(tid as u32).ok_or(Errno::ESRCH)
}

fn check_sig(sig: usize) -> Result<(), Errno> {
    if sig != 0 {
        signal::check(sig)?;
    }
    Ok(())
}

pub fn tgkill(tgid: i32, tid: i32, sig: usize) -> SysResult {
    check_sig(sig)?;
    if tgid <= 0 {
        return Err(Errno::EINVAL);
    }
    let t = target_thread(tid)?;
    if tgid as u32 != process::get().pid {
        return Err(Errno::ESRCH);
    }
    if sig != 0 {
        crate::signal::send_to_thread(&t, sig, SigInfo::sent(sig, code::SI_TKILL, 1, 0));
    }
    Ok(0)
}

pub fn tkill(tid: i32, sig: usize) -> SysResult {
    check_sig(sig)?;
    let t = target_thread(tid)?;
    if sig != 0 {
        crate::signal::send_to_thread(&t, sig, SigInfo::sent(sig, code::SI_TKILL, 1, 0));
    }
    Ok(0)
}

/// kill(2): the program is process 1 and the only one; pid 0 and -1 reach it too.
pub fn kill(pid: i32, sig: usize) -> SysResult {
    check_sig(sig)?;
    let me = process::get().pid as i32;
    if pid != me && pid != 0 && pid != -1 && pid != -me {
        return Err(Errno::ESRCH);
    }
    if sig != 0 {
        crate::signal::send_to_process(sig);
    }
    Ok(0)
}
