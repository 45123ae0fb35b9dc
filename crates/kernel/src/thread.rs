//! Threads and the glue between them, the scheduler policy and the CPUs.
//!
//! # Model
//!
//! Every thread has a kernel stack whose top holds its user [`Frame`] and, below it, its
//! `xsave` area (see `arch::entry`). A thread that is not running is described by the
//! stack pointer `switch_stack` saved. Each CPU also has an idle context (its boot
//! stack), which runs when the policy has nothing for it.
//!
//! The policy (`sched::Scheduler`, chosen by cargo feature) decides who runs; this
//! module keeps the `TaskId -> Arc<Thread>` table and performs the switches.
//!
//! # Invariants
//!
//! - Kernel code runs with interrupts off (except the idle loop's `sti; hlt`), so a
//!   CPU is never preempted while it holds a lock.
//! - A thread runs on at most one CPU: `on_cpu` is set from just before a CPU switches
//!   to it until the CPU that switched away from it has finished saving its context.
//!   A CPU about to run a thread waits for `on_cpu` to clear — a few instructions on the
//!   other CPU, which needs nothing from this one to finish.
//! - A wake-up is never lost: `unpark` sets the permit before it tells the policy, and
//!   the policy cancels a `block` that races with a `Wake` (see `sched::Scheduler::block`).

use crate::memory::KernelStack;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use sched::{EnqueueReason, Scheduler, TaskId};
use spin::Mutex;
use syscall::Frame;

#[cfg(feature = "sched-fair")]
pub type Policy = sched_fair::Fair;
#[cfg(not(feature = "sched-fair"))]
pub type Policy = sched_round_robin::RoundRobin;

pub const MAX_CPUS: usize = 8;

/// A user thread.
pub struct Thread {
    pub tid: u32,
    stack: KernelStack,
    /// Saved kernel stack pointer while not running.
    context: UnsafeCell<u64>,
    on_cpu: AtomicBool,
    /// Set by `unpark`, consumed by `park` (std::thread::park semantics).
    permit: AtomicBool,
    /// FS and GS bases (saved on switch-out, loaded on switch-in).
    pub tls: Mutex<tls::ThreadTls>,
    /// `clear_child_tid` (set_tid_address(2), CLONE_CHILD_CLEARTID).
    pub clear_child_tid: AtomicUsize,
    /// `set_robust_list(2)` head and length.
    pub robust_list: Mutex<(usize, usize)>,
    /// Blocked signals (rt_sigprocmask).
    pub sigmask: AtomicU64,
    /// Signals sent to this thread (tgkill, faults) and not yet delivered.
    pub sig_pending: AtomicU64,
    /// The siginfo of each pending thread-directed signal.
    pub sig_info: Mutex<alloc::vec::Vec<signal::SigInfo>>,
    /// The mask to restore after a handler that sigsuspend(2) let run.
    pub saved_mask: Mutex<Option<u64>>,
    /// sigaltstack(2).
    pub altstack: Mutex<signal::AltStack>,
    /// The syscall (number + 1) a signal just interrupted with EINTR and that may be
    /// restarted (see `signal::deliver_pending`); 0 for none.
    pub restart_nr: AtomicUsize,
    /// The CPU it last ran on (a placement hint).
    last_cpu: AtomicUsize,
}

// SAFETY: `context` is only touched by the CPU that switches to or from the thread, and
// `on_cpu` serialises those CPUs (see the module invariants).
unsafe impl Sync for Thread {}
// SAFETY: as above; nothing in Thread is tied to one CPU.
unsafe impl Send for Thread {}

impl Thread {
    /// The user frame at the top of the kernel stack.
    pub fn frame(&self) -> *mut Frame {
        (self.stack.top() - arch::entry::FRAME_SIZE) as *mut Frame
    }

    /// The SSE registers saved by the entry stub, below the frame.
    fn sse_area(&self) -> *mut u8 {
        arch::entry::sse_area(self.stack.top()) as *mut u8
    }

    /// The rest of the extended state, saved at thread switches.
    fn ext_area(&self) -> *mut u8 {
        arch::entry::ext_area(self.stack.top()) as *mut u8
    }

    pub fn task_id(&self) -> TaskId {
        TaskId(self.tid as u64)
    }
}

/// What each CPU keeps for itself.
struct CpuLocal {
    current: Option<Arc<Thread>>,
    /// The thread this CPU just switched away from, to be released after the switch.
    prev: Option<Arc<Thread>>,
    idle_context: u64,
}

struct PerCpuCell(UnsafeCell<CpuLocal>);
// SAFETY: each CPU only touches its own slot, with interrupts off.
unsafe impl Sync for PerCpuCell {}

static CPU_LOCAL: [PerCpuCell; MAX_CPUS] = [const {
    PerCpuCell(UnsafeCell::new(CpuLocal {
        current: None,
        prev: None,
        idle_context: 0,
    }))
}; MAX_CPUS];

/// Set when another CPU wants this one to reschedule (the wake IPI carries no data).
static NEED_RESCHED: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

fn local() -> &'static mut CpuLocal {
    let cpu = arch::percpu::cpu_id();
    // SAFETY: this CPU's slot, used with interrupts off only by this CPU; callers do not
    // keep the reference across a switch.
    unsafe { &mut *CPU_LOCAL[cpu].0.get() }
}

pub static SCHED: Mutex<Option<Policy>> = Mutex::new(None);
static THREADS: Mutex<BTreeMap<u32, Arc<Thread>>> = Mutex::new(BTreeMap::new());
static NEXT_TID: AtomicU64 = AtomicU64::new(1);
/// Live threads (the program ends when the last one exits).
pub static LIVE_THREADS: AtomicI32 = AtomicI32::new(0);

/// Sets up the policy for `ncpus` CPUs.
pub fn init(ncpus: usize) {
    *SCHED.lock() = Some(Policy::new(ncpus));
}

fn with_sched<R>(f: impl FnOnce(&mut Policy) -> R) -> R {
    let mut guard = SCHED.lock();
    match guard.as_mut() {
        Some(s) => f(s),
        None => panic!("sched: used before init"),
    }
}

/// The running thread.
pub fn current() -> Arc<Thread> {
    match &local().current {
        Some(t) => t.clone(),
        None => panic!("thread: no current thread"),
    }
}

/// The running thread's tid (0 in the idle context).
pub fn current_tid() -> u32 {
    local().current.as_ref().map_or(0, |t| t.tid)
}

/// Creates a thread that will return to ring 3 with `frame` and the extended state of
/// `parent` (the running thread: clone) or the initial state (`None`: a new program).
/// It does not run until [`start`].
/// `Err(EAGAIN)` when memory runs out, as Linux's clone reports it.
pub fn spawn_stopped(
    frame: &Frame,
    parent: Option<&Thread>,
    tls: tls::ThreadTls,
) -> Result<Arc<Thread>, syscall::Errno> {
    let stack = KernelStack::new().ok_or(syscall::Errno::EAGAIN)?;
    let tid = NEXT_TID.fetch_add(1, Ordering::Relaxed) as u32;
    let thread = Arc::new(Thread {
        tid,
        stack,
        context: UnsafeCell::new(0),
        on_cpu: AtomicBool::new(false),
        permit: AtomicBool::new(false),
        tls: Mutex::new(tls),
        clear_child_tid: AtomicUsize::new(0),
        robust_list: Mutex::new((0, 0)),
        sigmask: AtomicU64::new(0),
        sig_pending: AtomicU64::new(0),
        sig_info: Mutex::new(alloc::vec::Vec::new()),
        saved_mask: Mutex::new(None),
        altstack: Mutex::new(signal::AltStack::disabled()),
        restart_nr: AtomicUsize::new(0),
        last_cpu: AtomicUsize::new(arch::percpu::cpu_id()),
    });
    let size = arch::cpu::XSAVE_SIZE.load(Ordering::Relaxed) as usize;
    let sse = arch::entry::SSE_AREA_SIZE as usize;
    // SAFETY: the new stack is ours; the frame and the two save areas lie at its top.
    // The parent is the running thread: its SSE area holds its registers as saved on
    // entry, and `save_upper_state` completes its xsave area first.
    unsafe {
        thread.frame().write(*frame);
        match parent {
            Some(p) => {
                arch::cpu::save_upper_state(p.ext_area());
                core::ptr::copy_nonoverlapping(p.sse_area(), thread.sse_area(), sse);
                core::ptr::copy_nonoverlapping(p.ext_area(), thread.ext_area(), size);
            }
            None => crate::cpu::write_initial_ext_state(thread.sse_area(), thread.ext_area()),
        }
        *thread.context.get() = arch::entry::prepare_new_thread_stack(thread.stack.top());
    }
    THREADS.lock().insert(tid, thread.clone());
    LIVE_THREADS.fetch_add(1, Ordering::SeqCst);
    tracing::debug!(
        "thread: spawned {} with kernel stack top {:#x}",
        tid,
        thread.stack.top()
    );
    Ok(thread)
}

/// Makes a new thread runnable, on the CPUs in `affinity` (its parent's mask).
pub fn start(t: &Thread, affinity: Option<sched::CpuMask>) {
    let cpu = arch::percpu::cpu_id();
    let target = with_sched(|s| {
        let mut target = s
            .enqueue(t.task_id(), cpu, EnqueueReason::Spawn)
            .ok()
            .flatten();
        if let Some(mask) = affinity
            && let Ok(Some(c)) = s.set_affinity(t.task_id(), mask)
        {
            target = Some(c);
        }
        target
    });
    kick(target);
}

/// Looks a thread up by tid.
pub fn find(tid: u32) -> Option<Arc<Thread>> {
    THREADS.lock().get(&tid).cloned()
}

/// Makes `cpu` reschedule: a flag, and an IPI unless it is this CPU.
fn kick(cpu: Option<usize>) {
    let Some(cpu) = cpu else { return };
    NEED_RESCHED[cpu].store(true, Ordering::Release);
    if cpu != arch::percpu::cpu_id() {
        crate::smp::send_wake_ipi(cpu);
    }
}

/// Why the current context gives up the CPU.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reason {
    Preempted,
    Yield,
    Block,
    Exit,
}

/// Gives up the CPU; returns when the thread runs again (never for `Exit`).
fn schedule(reason: Reason) {
    let cpu = arch::percpu::cpu_id();
    NEED_RESCHED[cpu].store(false, Ordering::Relaxed);
    let cur = local().current.clone();
    let Some(cur) = cur else { return };
    let id = cur.task_id();
    let next = with_sched(|s| {
        match reason {
            Reason::Preempted => {
                let _ = s.enqueue(id, cpu, EnqueueReason::Preempted);
            }
            Reason::Yield => {
                let _ = s.enqueue(id, cpu, EnqueueReason::Yield);
            }
            Reason::Block => {
                if !s.block(id).unwrap_or(true) {
                    return None;
                }
            }
            Reason::Exit => {
                let _ = s.remove(id);
            }
        }
        Some(s.pick_next(cpu))
    });
    let Some(next) = next else { return };
    let next = next.and_then(|id| find(id.0 as u32));
    if let Some(n) = &next
        && Arc::ptr_eq(n, &cur)
    {
        return;
    }
    switch_from(cur, next);
}

/// Switches from thread `cur` to `next` (or this CPU's idle context).
fn switch_from(cur: Arc<Thread>, next: Option<Arc<Thread>>) {
    let save = cur.context.get();
    cur.tls.lock().save(&crate::cpu::HwSegments);
    // SAFETY: the thread's own save area, on its kernel stack.
    unsafe { arch::cpu::save_upper_state(cur.ext_area()) };
    let l = local();
    l.prev = Some(cur);
    let target = match next {
        Some(n) => enter(n),
        None => {
            l.current = None;
            l.idle_context
        }
    };
    // SAFETY: `save` belongs to the outgoing thread, kept alive by `prev` until
    // `finish_switch`; `target` is a context saved by switch_stack or a fresh stack.
    unsafe { arch::entry::switch(save, target) };
    finish_switch();
}

/// Makes `next` this CPU's current thread; returns its saved stack pointer.
fn enter(next: Arc<Thread>) -> u64 {
    while next.on_cpu.swap(true, Ordering::Acquire) {
        core::hint::spin_loop();
    }
    let cpu = arch::percpu::cpu_id();
    next.last_cpu.store(cpu, Ordering::Relaxed);
    arch::percpu::set_kernel_stack(next.stack.top());
    crate::process::activate_address_space();
    next.tls.lock().load(&crate::cpu::HwSegments);
    // SAFETY: the save area of a thread that is not running (on_cpu was clear), written
    // when it was switched out or created; nothing in the kernel uses these registers.
    unsafe { arch::cpu::restore_upper_state(next.ext_area()) };
    // SAFETY: on_cpu is ours now, so nobody else reads or writes the context.
    let target = unsafe { *next.context.get() };
    local().current = Some(next);
    target
}

/// Runs on the new context right after a switch: releases the previous thread.
fn finish_switch() {
    if let Some(prev) = local().prev.take() {
        prev.on_cpu.store(false, Ordering::Release);
        drop(prev);
    }
}

/// The first code of every new thread (called by `arch`'s `thread_start`).
#[unsafe(no_mangle)]
extern "C" fn thread_start_hook() {
    finish_switch();
}

/// The idle loop of a CPU: run what the policy gives, halt when nothing.
pub fn idle_loop() -> ! {
    let cpu = arch::percpu::cpu_id();
    loop {
        NEED_RESCHED[cpu].store(false, Ordering::Relaxed);
        let next = with_sched(|s| s.pick_next(cpu));
        match next.and_then(|id| find(id.0 as u32)) {
            Some(t) => {
                let save = &raw mut local().idle_context;
                let target = enter(t);
                // SAFETY: the idle context is this CPU's boot stack, alive forever.
                unsafe { arch::entry::switch(save, target) };
                finish_switch();
            }
            None => {
                if !NEED_RESCHED[cpu].load(Ordering::Acquire) {
                    arch::cpu::idle_wait();
                }
            }
        }
    }
}

/// Timer tick on this CPU (interrupts from ring 3 or the idle loop).
pub fn tick(from_user: bool) {
    crate::clock::expire_timers();
    let cpu = arch::percpu::cpu_id();
    let Some(cur) = local().current.clone() else {
        return;
    };
    let (preempt, idle) = with_sched(|s| (s.tick(cpu, cur.task_id()), s.idle_cpu_to_wake()));
    kick(idle);
    drop(cur);
    if preempt && from_user {
        schedule(Reason::Preempted);
    }
}

/// A wake IPI (or the end of any trap from ring 3): reschedule if asked to.
pub fn resched_if_needed(from_user: bool) {
    let cpu = arch::percpu::cpu_id();
    if from_user && NEED_RESCHED[cpu].load(Ordering::Acquire) && local().current.is_some() {
        schedule(Reason::Preempted);
    }
}

/// sched_yield(2).
pub fn yield_now() {
    schedule(Reason::Yield);
}

/// Makes a blocked (or about to block) thread runnable.
pub fn wake(t: &Thread) {
    let hint = t.last_cpu.load(Ordering::Relaxed);
    let target = with_sched(|s| {
        s.enqueue(t.task_id(), hint, EnqueueReason::Wake)
            .ok()
            .flatten()
    });
    kick(target);
}

/// Wakes `t` out of `park` (futex wake).
pub fn unpark(t: &Thread) {
    t.permit.store(true, Ordering::Release);
    wake(t);
}

/// Makes `t` notice a signal: wakes it if it sleeps, and interrupts the CPU it runs on
/// so that it passes through the kernel's return path, where signals are delivered.
pub fn notify(t: &Thread) {
    wake(t);
    if t.on_cpu.load(Ordering::Acquire) {
        let cpu = t.last_cpu.load(Ordering::Relaxed);
        if cpu != arch::percpu::cpu_id() {
            crate::smp::send_wake_ipi(cpu);
        }
    }
}

/// Whether some thread blocks a signal of `set`.
pub fn any_blocks(set: u64) -> bool {
    THREADS
        .lock()
        .values()
        .any(|t| t.sigmask.load(Ordering::Relaxed) & set != 0)
}

/// [`notify`] for every thread (a process-directed signal).
pub fn notify_all() {
    let all: alloc::vec::Vec<Arc<Thread>> = THREADS.lock().values().cloned().collect();
    for t in &all {
        notify(t);
    }
}

/// Linux's default timer slack (prctl(2) PR_SET_TIMERSLACK: 50 µs): a timed wait ends
/// no earlier than its deadline and may end that much later. Spindle always uses the
/// slack, so that a program measuring the wait with its own clock reads see it last at
/// least as long as asked even when the tick falls right on the deadline.
const TIMER_SLACK_NS: u64 = 50_000;

fn with_slack(deadline_ns: u64) -> u64 {
    deadline_ns.saturating_add(TIMER_SLACK_NS)
}

/// How a [`park`] ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Wakeup {
    Unparked,
    TimedOut,
    /// A signal the thread does not block is pending (the syscall returns EINTR).
    Interrupted,
}

/// Blocks the current thread until `unpark`, `deadline_ns` (monotonic), or a signal.
pub fn park(deadline_ns: Option<u64>) -> Wakeup {
    let me = current();
    let deadline_ns = deadline_ns.map(with_slack);
    loop {
        if me.permit.swap(false, Ordering::Acquire) {
            return Wakeup::Unparked;
        }
        if crate::signal::deliverable(&me) != 0 {
            return Wakeup::Interrupted;
        }
        if let Some(d) = deadline_ns
            && crate::clock::monotonic_ns() >= d
        {
            return Wakeup::TimedOut;
        }
        sleep_once(&me, deadline_ns);
    }
}

/// The current thread's whole extended state as an XSAVE (or FXSAVE) image, for a
/// signal frame: the xsave area with the XMM registers and MXCSR the entry stub saved.
pub fn fpu_image(t: &Thread) -> alloc::vec::Vec<u8> {
    let size = arch::cpu::XSAVE_SIZE.load(Ordering::Relaxed) as usize;
    // SAFETY: `t` is the running thread: its save areas are its own, on its stack.
    unsafe {
        arch::cpu::save_upper_state(t.ext_area());
        let mut image = alloc::vec![0u8; size];
        core::ptr::copy_nonoverlapping(t.ext_area(), image.as_mut_ptr(), size);
        core::ptr::copy_nonoverlapping(t.sse_area(), image.as_mut_ptr().add(160), 256);
        core::ptr::copy_nonoverlapping(t.sse_area().add(0x100), image.as_mut_ptr().add(24), 4);
        image
    }
}

/// Loads an image checked by `signal::frame::check_fpstate` as the current thread's
/// extended state (rt_sigreturn).
pub fn load_fpu_image(t: &Thread, image: &[u8], format: signal::frame::FpFormat) {
    let size = arch::cpu::XSAVE_SIZE.load(Ordering::Relaxed) as usize;
    let xsave = arch::cpu::HAS_XSAVE.load(Ordering::Relaxed);
    // SAFETY: `t` is the running thread; the image holds `size` bytes (Xsave) or 512
    // (Fxsave); the header written below is one XRSTOR accepts.
    unsafe {
        let ext = t.ext_area();
        match format {
            signal::frame::FpFormat::Xsave => {
                core::ptr::copy_nonoverlapping(image.as_ptr(), ext, size)
            }
            signal::frame::FpFormat::Fxsave => {
                core::ptr::copy_nonoverlapping(image.as_ptr(), ext, 512);
                if xsave && size >= 576 {
                    core::ptr::write_bytes(ext.add(512), 0, 64);
                    // x87 and SSE from the image; everything else back to its initial state.
                    core::ptr::write_unaligned(ext.add(512) as *mut u64, 3);
                }
            }
        }
        core::ptr::copy_nonoverlapping(image.as_ptr().add(160), t.sse_area(), 256);
        core::ptr::copy_nonoverlapping(image.as_ptr().add(24), t.sse_area().add(0x100), 4);
        arch::cpu::restore_upper_state(ext);
    }
}

/// Blocks once (until any wake or the deadline); callers re-check their condition.
fn sleep_once(me: &Arc<Thread>, deadline_ns: Option<u64>) {
    if let Some(d) = deadline_ns {
        crate::clock::add_timer(d, me.tid);
    }
    schedule(Reason::Block);
    if let Some(d) = deadline_ns {
        crate::clock::cancel_timer(d, me.tid);
    }
}

/// Sleeps until the monotonic clock reaches `deadline_ns`; `Err(EINTR)` if a signal
/// comes first.
pub fn sleep_until(deadline_ns: u64) -> Result<(), syscall::Errno> {
    let me = current();
    let deadline_ns = with_slack(deadline_ns);
    while crate::clock::monotonic_ns() < deadline_ns {
        if crate::signal::deliverable(&me) != 0 {
            return Err(syscall::Errno::EINTR);
        }
        sleep_once(&me, Some(deadline_ns));
    }
    Ok(())
}

/// Sleeps until a signal the thread does not block is pending (pause, sigsuspend).
pub fn sleep_until_signal() {
    let me = current();
    while crate::signal::deliverable(&me) == 0 {
        sleep_once(&me, None);
    }
}

/// Ends the current thread (after its exit-time duties are done); never returns.
pub fn exit_current() -> ! {
    let me = current();
    THREADS.lock().remove(&me.tid);
    drop(me);
    schedule(Reason::Exit);
    unreachable_after_exit()
}

fn unreachable_after_exit() -> ! {
    panic!("thread: an exited thread was scheduled again")
}

/// Sets the CPU affinity of `tid` (sched_setaffinity).
pub fn set_affinity(tid: u32, mask: sched::CpuMask) -> Result<(), syscall::Errno> {
    let r = with_sched(|s| s.set_affinity(TaskId(tid as u64), mask));
    let target = r.map_err(syscall::Errno::from)?;
    kick(target);
    // If the caller itself may no longer run here, move now.
    if tid == current_tid() {
        let cpu = arch::percpu::cpu_id();
        if !mask.contains(cpu) {
            schedule(Reason::Preempted);
        }
    }
    Ok(())
}

/// The CPU affinity of `tid`.
pub fn affinity(tid: u32) -> Option<sched::CpuMask> {
    with_sched(|s| s.affinity(TaskId(tid as u64)))
}
