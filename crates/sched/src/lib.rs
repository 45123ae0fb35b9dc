//! The scheduler interface: what every scheduling policy of Spindle implements.
//!
//! This crate owns the [`Scheduler`] trait, the vocabulary it speaks ([`TaskId`],
//! [`CpuMask`], [`EnqueueReason`], [`SchedError`]), the per-CPU bookkeeping and
//! placement rule the policies share ([`Cpus`]) and, behind the `sim` feature, a host
//! simulator (`sim`) that drives virtual CPUs and ticks through any policy and reports
//! fairness and wake-up latency, and generic checks every policy must pass
//! (`conformance`). It owns nothing hardware-specific: no context switch,
//! no timer, no IPI, no per-task kernel state. Tasks are opaque ids, CPUs are indices
//! `0..ncpus`. The policies live in their own crates beside this one
//! (`sched-round-robin`, `sched-fair`).
//!
//! The semantics follow Linux where user programs can see them: sched_yield(2),
//! sched_setaffinity(2) (a mask is intersected with the online CPUs and must not end up
//! empty), and the wake-up rule of `try_to_wake_up()`: waking a task that has not yet
//! finished going to sleep cancels the sleep instead of being lost.
//!
//! # How a policy is injected
//!
//! The kernel depends on every policy crate as an optional dependency, one cargo feature
//! each (`cargo xtask run --sched NAME` sets it), and names the chosen one once:
//!
//! ```ignore
//! #[cfg(feature = "sched-round-robin")]
//! pub type Policy = sched_round_robin::RoundRobin;
//! #[cfg(feature = "sched-fair")]
//! pub type Policy = sched_fair::Fair;
//!
//! static SCHED: spin::Once<spin::Mutex<Policy>> = spin::Once::new();
//! SCHED.call_once(|| spin::Mutex::new(Policy::new(ncpus)));
//! ```
//!
//! The whole policy object sits behind that one lock, taken with interrupts off; so every
//! method takes `&mut self`, and none may block or call back into the kernel. Policies
//! keep each call O(1) or O(ncpus) in the common case (plus O(log T) to find a task
//! among T in their table) and allocate only when a task is spawned or a run queue grows
//! past its reserved capacity.
//!
//! # The abstraction
//!
//! Each CPU has a run queue of tasks that are ready but not running, and at most one
//! *current* task that [`Scheduler::pick_next`] handed it. A task is in one of three
//! states: blocked (also: not started, sleeping), queued on one CPU, or running on one
//! CPU. The one invariant every policy keeps, and the simulator checks:
//!
//! > A task is in at most one run queue, and never in a run queue while it runs or
//! > while it is blocked.
//!
//! A policy may move a queued task to another CPU's queue (work stealing, load
//! balancing), but only to a CPU its affinity mask allows.
//!
//! # The calls, situation by situation
//!
//! - **spawn** (clone, the first thread): `enqueue(child, this_cpu, Spawn)`; send a
//!   reschedule IPI to the CPU it returns, if any.
//! - **tick** (local timer interrupt while `cur` runs in user mode or in the kernel):
//!   `if tick(cpu, cur) { need_resched = true }`.
//! - **preempt** (on the way back to user mode with `need_resched`): `enqueue(cur, cpu,
//!   Preempted)`, then `next = pick_next(cpu)` under the same lock, and switch to `next`.
//! - **yield** (sched_yield): `enqueue(cur, cpu, Yield)`, then `pick_next(cpu)`; the
//!   answer may be `cur` again.
//! - **sleep** (futex wait, nanosleep, join): after the task is on its wait queue,
//!   `if block(cur)? { next = pick_next(cpu) } else { /* woken already: keep running */ }`.
//! - **wake** (futex wake, timer expiry): `enqueue(task, hint, Wake)`; IPI the CPU it
//!   returns. Waking a task that is queued is a no-op, so a double wake is harmless.
//! - **exit**: `remove(cur)`, then `pick_next(cpu)`. `remove` also takes a queued or a
//!   blocked task out (exit_group); a task running on another CPU is forgotten, and that
//!   CPU's next `tick` answers `true` so it reschedules soon.
//! - **idle**: `pick_next(cpu) == None` makes the CPU idle: halt with interrupts on until
//!   an IPI or the timer arrives, then call `pick_next` again. A busy CPU's tick handler
//!   also asks [`Scheduler::idle_cpu_to_wake`] and IPIs the answer.
//!
//! # What stays with the kernel
//!
//! The policy decides *who* runs *where*; the kernel still owns the switch. A task made
//! runnable by `enqueue` may be picked by another CPU before the CPU it ran on has saved
//! its registers, so the kernel keeps a per-task `on_cpu` flag, cleared once the old CPU
//! has switched away, and a CPU switching to a task waits for that flag first (Linux does
//! the same in `try_to_wake_up()`). The wait is short and bounded: the other CPU is in its
//! switch code with interrupts off.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

#[cfg(any(test, feature = "sim"))]
pub mod conformance;
mod cpu_mask;
pub mod cpus;
#[cfg(any(test, feature = "sim"))]
pub mod sim;

pub use cpu_mask::{CpuMask, MAX_CPUS};
pub use cpus::Cpus;

use core::fmt;
use syscall::Errno;

/// An opaque task identity (the kernel uses the Linux thread id).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TaskId(pub u64);

/// Why a task becomes runnable; policies place and charge tasks differently for each.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EnqueueReason {
    /// A new task (clone, or the first thread of a program). Unknown to the policy so far.
    Spawn,
    /// A blocked task whose wait ended (futex wake, timer, join).
    Wake,
    /// The running task lost the CPU because `tick` (or an IPI) asked for it.
    Preempted,
    /// The running task called sched_yield(2).
    Yield,
}

/// A call the policy cannot honour. All but [`SchedError::EmptyAffinity`] mean the kernel
/// broke the calling protocol, not that a user program did something wrong.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SchedError {
    /// The policy does not know this task (never spawned, or removed).
    UnknownTask,
    /// `Spawn` for a task the policy already knows.
    AlreadyKnown,
    /// `Preempted`/`Yield` for a task that is already in a run queue.
    AlreadyQueued,
    /// `Preempted`/`Yield`/`block` for a task that is not running.
    NotRunning,
    /// An affinity mask with no online CPU in it (sched_setaffinity(2): EINVAL).
    EmptyAffinity,
}

impl From<SchedError> for Errno {
    fn from(e: SchedError) -> Errno {
        match e {
            SchedError::UnknownTask => Errno::ESRCH,
            SchedError::EmptyAffinity => Errno::EINVAL,
            SchedError::AlreadyKnown => Errno::EEXIST,
            SchedError::AlreadyQueued | SchedError::NotRunning => Errno::EINVAL,
        }
    }
}

impl fmt::Display for SchedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            SchedError::UnknownTask => "unknown task",
            SchedError::AlreadyKnown => "task spawned twice",
            SchedError::AlreadyQueued => "task already queued",
            SchedError::NotRunning => "task not running",
            SchedError::EmptyAffinity => "affinity mask holds no online cpu",
        };
        f.write_str(text)
    }
}

/// A scheduling policy for `ncpus` CPUs. The kernel holds one lock around it.
///
/// CPU arguments out of `0..ncpus` are tolerated: a hint is then ignored, `pick_next`
/// answers `None` and `tick` answers `false`.
pub trait Scheduler {
    /// The name `cargo xtask run --sched NAME` uses, for logs.
    const NAME: &'static str;

    /// A policy for CPUs `0..ncpus` with its default settings (`ncpus` is clamped to
    /// `1..=MAX_CPUS`). Called once at boot, before any AP starts. A CPU counts as idle
    /// only once its first `pick_next` found nothing, so no IPI goes to an AP that has
    /// not started yet.
    fn new(ncpus: usize) -> Self
    where
        Self: Sized;

    /// The number of CPUs this policy schedules.
    fn ncpus(&self) -> usize;

    /// Makes `task` runnable. Called at spawn (the task is new), at wake-up (the task is
    /// blocked, or still running on its way to sleep), at preemption and at
    /// sched_yield (the task is the current one of `cpu_hint`, which is where it ran).
    ///
    /// Returns the CPU that should reschedule: an idle CPU that now has work, or a busy
    /// one whose current task should give way to `task`. The kernel sends it a reschedule
    /// IPI, or sets its own `need_resched` when it is the calling CPU.
    ///
    /// A `Wake` for a queued task does nothing; for a running task it cancels that task's
    /// next [`Scheduler::block`] (the wake-up raced with the sleep and won).
    fn enqueue(
        &mut self,
        task: TaskId,
        cpu_hint: usize,
        reason: EnqueueReason,
    ) -> Result<Option<usize>, SchedError>;

    /// Chooses the task `cpu` runs next and makes it that CPU's current task, or `None`
    /// when there is nothing to run (the CPU is idle until an IPI). Called after
    /// `enqueue(.., Preempted | Yield)`, a successful `block`, or `remove` of the current
    /// task; and by an idle CPU when it wakes. An empty local queue makes the policy
    /// steal from another CPU's queue, within the tasks' affinity.
    ///
    /// If `cpu` still has a current task, it is put back as if preempted first, so no
    /// task is ever lost.
    fn pick_next(&mut self, cpu: usize) -> Option<TaskId>;

    /// One timer tick on `cpu` while `current` runs (from the local APIC timer
    /// interrupt). Returns `true` when `current` should be preempted now: its time slice
    /// is used up and another task waits, or the policy no longer knows `current`.
    fn tick(&mut self, cpu: usize, current: TaskId) -> bool;

    /// `task`, running, is going to sleep. Returns `true` if it is now blocked, and the
    /// kernel calls `pick_next`; `false` if a `Wake` arrived since it was picked, and the
    /// task must go on running (its wait is over).
    fn block(&mut self, task: TaskId) -> Result<bool, SchedError>;

    /// Forgets `task` (exit, exit_group), in any state. Removing the current task of a
    /// CPU leaves that CPU with none; the kernel then calls `pick_next`.
    fn remove(&mut self, task: TaskId) -> Result<(), SchedError>;

    /// Restricts `task` to the CPUs in `mask` (intersected with `0..ncpus`), for
    /// sched_setaffinity(2) and for a clone that inherits its parent's mask (call it
    /// right after the `Spawn`, under the same lock). A queued task moves at once; for a
    /// task running on a CPU now outside its mask the policy returns that CPU, which the
    /// kernel makes reschedule (`Preempted` then places the task where it may run).
    /// Otherwise returns the CPU to IPI as `enqueue` does.
    fn set_affinity(&mut self, task: TaskId, mask: CpuMask) -> Result<Option<usize>, SchedError>;

    /// The affinity mask of `task` (sched_getaffinity(2)).
    fn affinity(&self, task: TaskId) -> Option<CpuMask>;

    /// An idle CPU that would find work if it looked, to be IPI'd. Called from a busy
    /// CPU's tick handler; each idle CPU is named once until it calls `pick_next` again.
    fn idle_cpu_to_wake(&mut self) -> Option<usize>;

    /// The task `cpu` runs, as far as the policy knows.
    fn current(&self, cpu: usize) -> Option<TaskId>;

    /// How many tasks wait in `cpu`'s run queue (not counting the current one).
    fn queued(&self, cpu: usize) -> usize;
}
