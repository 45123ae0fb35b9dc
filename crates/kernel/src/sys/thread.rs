//! Thread syscalls: clone, clone3, exit, exit_group, set_tid_address, robust lists,
//! futex, arch_prctl, sched_yield and affinity.

use crate::process::{self, AS_ID, CurrentUser};
use crate::thread::{self as threads, Thread};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};
use syscall::{Errno, Frame, SysResult, UserMemory};

/// Reports an unsupported clone request once per kind.
fn unsupported(u: sys_clone::Unsupported) -> Errno {
    static SEEN: AtomicU32 = AtomicU32::new(0);
    if SEEN.fetch_or(u.bit(), Ordering::Relaxed) & u.bit() == 0 {
        tracing::warn!("clone: unsupported: {}", u.description());
    }
    u.errno()
}

fn clone_error(e: sys_clone::CloneError) -> Errno {
    match e {
        sys_clone::CloneError::Unsupported(u) => unsupported(u),
        other => other.errno(),
    }
}

pub fn clone(args: [usize; 6], frame: &Frame) -> SysResult {
    let req =
        sys_clone::sys_clone(args, sys_clone::Caller { is_init: false }).map_err(clone_error)?;
    spawn_child(&req, frame)
}

pub fn clone3(uargs: usize, size: usize, frame: &Frame) -> SysResult {
    let caller = sys_clone::Caller { is_init: false };
    let req = sys_clone::sys_clone3(&CurrentUser, uargs, size, caller).map_err(clone_error)?;
    spawn_child(&req, frame)
}

/// fork and vfork: Spindle runs one process.
pub fn fork() -> SysResult {
    Err(unsupported(sys_clone::Unsupported::Fork))
}

/// Creates the thread a validated clone request asks for.
fn spawn_child(req: &sys_clone::CloneRequest, frame: &Frame) -> SysResult {
    let parent = threads::current();
    let child_frame = sys_clone::child_frame(frame, req);
    // The parent's live FS base may differ from the record (WRFSBASE): save it first.
    let tls = {
        let mut t = parent.tls.lock();
        t.save(&crate::cpu::HwSegments);
        t.for_child(req.new_tls())
    };
    let child = threads::spawn_stopped(&child_frame, Some(&parent), tls)?;
    let tid = child.tid;
    if let Some(ptr) = req.clear_child_tid_ptr() {
        child.clear_child_tid.store(ptr, Ordering::Relaxed);
    }
    child
        .sigmask
        .store(parent.sigmask.load(Ordering::Relaxed), Ordering::Relaxed);
    // CLONE_PARENT_SETTID is written before the child can run; CLONE_CHILD_SETTID goes
    // to the same memory (CLONE_VM), so write it now too. Failed writes are ignored, as
    // in Linux.
    if let Some(ptr) = req.parent_tid_ptr() {
        let _ = CurrentUser.write_u32(ptr, tid);
    }
    if let Some(ptr) = req.child_settid_ptr() {
        let _ = CurrentUser.write_u32(ptr, tid);
    }
    threads::start(&child, threads::affinity(parent.tid));
    Ok(tid as usize)
}

/// exit(2): ends the calling thread; the last one ends the program.
pub fn exit(status: i32) -> SysResult {
    let me = threads::current();
    release_thread_resources(&me);
    drop(me);
    if threads::LIVE_THREADS.fetch_sub(1, Ordering::SeqCst) == 1 {
        process::exit_program(status & 0xff);
    }
    threads::exit_current()
}

/// exit_group(2): ends the program.
pub fn exit_group(status: i32) -> SysResult {
    process::exit_program(status & 0xff)
}

/// A dying thread's duties, in Linux's order (kernel/exit.c, mm_release): walk the
/// robust list, then clear the clear-child-tid word and wake one waiter on it.
fn release_thread_resources(t: &Arc<Thread>) {
    let p = process::get();
    let (head, len) = *t.robust_list.lock();
    if head != 0 {
        futex::walk_robust_list(&CurrentUser, head, len, t.tid, |uaddr| {
            p.futexes.wake(
                &FutexHost,
                futex::FutexKey::shared(AS_ID, uaddr),
                1,
                u32::MAX,
            );
        });
    }
    let ctid = t.clear_child_tid.swap(0, Ordering::Relaxed);
    if ctid != 0 {
        // pthread_join waits with a shared FUTEX_WAIT_BITSET: the wake is shared too.
        if CurrentUser.write_u32(ctid, 0).is_ok() {
            p.futexes.wake(
                &FutexHost,
                futex::FutexKey::shared(AS_ID, ctid),
                1,
                u32::MAX,
            );
        } else {
            tracing::debug!("exit: clear_child_tid {ctid:#x} not writable");
        }
    }
}

pub fn set_tid_address(ptr: usize) -> SysResult {
    let me = threads::current();
    me.clear_child_tid.store(ptr, Ordering::Relaxed);
    Ok(me.tid as usize)
}

/// `sizeof(struct robust_list_head)`.
const ROBUST_HEAD_SIZE: usize = 24;

pub fn set_robust_list(head: usize, len: usize) -> SysResult {
    if len != ROBUST_HEAD_SIZE {
        return Err(Errno::EINVAL);
    }
    *threads::current().robust_list.lock() = (head, len);
    Ok(0)
}

pub fn get_robust_list(tid: i32, head_ptr: usize, len_ptr: usize) -> SysResult {
    let t = if tid == 0 {
        threads::current()
    } else {
        threads::find(u32::try_from(tid).map_err(|_| Errno::ESRCH)?).ok_or(Errno::ESRCH)?
    };
    let (head, len) = *t.robust_list.lock();
    CurrentUser.write_u64(head_ptr, head as u64)?;
    CurrentUser.write_u64(len_ptr, len as u64)?;
    Ok(0)
}

/// How the futex table parks and wakes Spindle threads.
pub struct FutexHost;

impl futex::FutexHost for FutexHost {
    type Waiter = Arc<Thread>;

    fn current(&self) -> Arc<Thread> {
        threads::current()
    }

    fn park(&self, _w: &Arc<Thread>, deadline_ns: Option<u64>) -> futex::Wakeup {
        match threads::park(deadline_ns) {
            threads::Wakeup::Unparked => futex::Wakeup::Woken,
            threads::Wakeup::TimedOut => futex::Wakeup::TimedOut,
            threads::Wakeup::Interrupted => futex::Wakeup::Interrupted,
        }
    }

    fn unpark(&self, w: &Arc<Thread>) {
        threads::unpark(w);
    }

    fn now_ns(&self, clock: futex::Clock) -> u64 {
        match clock {
            futex::Clock::Monotonic => crate::clock::monotonic_ns(),
            futex::Clock::Realtime => crate::clock::realtime_ns(),
        }
    }
}

pub fn futex(a: [usize; 6]) -> SysResult {
    let p = process::get();
    p.futexes.futex(
        &FutexHost,
        &CurrentUser,
        AS_ID,
        a[0],
        a[1] as u32,
        a[2] as u32,
        a[3],
        a[4],
        a[5] as u32,
    )
}

pub fn arch_prctl(code: usize, addr: usize) -> SysResult {
    let me = threads::current();
    let mut t = me.tls.lock();
    tls::arch_prctl(&mut t, &crate::cpu::HwSegments, &CurrentUser, code, addr)
}

pub fn sched_yield() -> SysResult {
    threads::yield_now();
    Ok(0)
}

fn target(pid: i32) -> Result<u32, Errno> {
    match pid {
        0 => Ok(threads::current_tid()),
        p if p > 0 && threads::find(p as u32).is_some() => Ok(p as u32),
        _ => Err(Errno::ESRCH),
    }
}

pub fn sched_getaffinity(pid: i32, len: usize, mask: usize) -> SysResult {
    let tid = target(pid)?;
    // Linux wants room for nr_cpu_ids bits, in whole longs, and copies
    // min(len, cpumask_size()) bytes.
    if len < 8 || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    let m = threads::affinity(tid).ok_or(Errno::ESRCH)?;
    let n = len.min(CPUMASK_BYTES);
    let mut bytes = [0u8; CPUMASK_BYTES];
    bytes[..8].copy_from_slice(&m.bits().to_ne_bytes());
    CurrentUser.write_bytes(mask, &bytes[..n])?;
    Ok(n)
}

/// Bytes of the kernel's CPU mask as the affinity calls copy it: `cpumask_size()` is 32
/// on the Debian kernel these programs were checked against (Spindle uses 8 of them).
const CPUMASK_BYTES: usize = 32;

pub fn sched_setaffinity(pid: i32, len: usize, mask: usize) -> SysResult {
    let tid = target(pid)?;
    // Linux copies min(len, cpumask_size()) bytes, so an unreadable tail is EFAULT.
    let mut bytes = [0u8; CPUMASK_BYTES];
    let n = len.min(CPUMASK_BYTES);
    CurrentUser.read_bytes(mask, &mut bytes[..n])?;
    let bytes: [u8; 8] = [
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
    ];
    let online = sched::CpuMask::all(crate::smp::cpu_count());
    let m = sched::CpuMask::from_bits(u64::from_ne_bytes(bytes)).and(online);
    if m.is_empty() {
        return Err(Errno::EINVAL);
    }
    threads::set_affinity(tid, m).map(|_| 0)
}

pub fn getcpu(cpu: usize, node: usize) -> SysResult {
    let c = arch::percpu::cpu_id() as u32;
    if cpu != 0 {
        CurrentUser.write_u32(cpu, c)?;
    }
    if node != 0 {
        CurrentUser.write_u32(node, 0)?;
    }
    Ok(0)
}
