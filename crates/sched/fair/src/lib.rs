//! Fair scheduling by virtual runtime: the task that has had the least CPU runs next.
//!
//! This crate owns one policy behind [`sched::Scheduler`]: [`Fair`]. Every task carries
//! a *virtual runtime* — the CPU time it has received, in units of 1/1024 of a timer
//! tick (1 ms at the kernel's 1 kHz), all tasks weighing the same. Each CPU keeps its
//! waiting tasks ordered by virtual runtime and runs the smallest. The running task is
//! preempted once some waiting task it could give way to is more than `granularity`
//! behind it (4 ticks by default), so CPU-bound tasks take turns in slices of about that
//! length. The idea is that of Linux's CFS; none of its code or tunables.
//!
//! Placement: a new task starts at the global minimum virtual runtime. A woken task
//! starts at that minimum less half the granularity (a small sleeper credit, as CFS
//! gives), or at its own virtual runtime if that is larger: it is not owed all the time
//! it slept, but it runs soon after waking. It preempts the task running where it lands
//! if that one is more than one tick ([`WAKEUP_GRANULARITY_TICKS`]) ahead of it. The
//! simulator shows what the credit buys: mean wake-up latency of interactive tasks
//! among CPU-bound ones drops from about 3 ticks (placed at the minimum) to near 0.
//!
//! SMP: the placement rule of [`sched::Cpus`] (idle CPU first, else least loaded, within
//! affinity). Balancing works on virtual runtime, in both `pick_next` and `tick`: a CPU
//! takes a task from another CPU's queue when that task is more than `granularity`
//! behind its own best candidate, or when it has nothing else. So tasks that share a CPU
//! catch up with a task alone on another one, which round-robin does not do; the cost
//! is more migrations.
//!
//! Not done: nice weights, group scheduling, cache topology.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

use alloc::collections::{BTreeMap, BinaryHeap};
use alloc::vec::Vec;
use core::cmp::Reverse;
use sched::{CpuMask, Cpus, EnqueueReason, MAX_CPUS, SchedError, Scheduler, TaskId};

/// Virtual runtime a task accrues per timer tick of CPU time.
pub const VRUNTIME_PER_TICK: u64 = 1024;

/// Lead over a waiting task, in ticks, after which the running task gives way.
pub const DEFAULT_GRANULARITY_TICKS: u64 = 4;

/// Lead, in ticks, that a running task may have over a task just woken where it runs
/// before the woken task preempts it. Smaller than the granularity, so that a task that
/// slept gets the CPU soon (wake-up latency) without CPU-bound tasks thrashing.
pub const WAKEUP_GRANULARITY_TICKS: u64 = 1;

/// Queue slots reserved per CPU up front, so enqueue does not allocate in steady state.
const QUEUE_CAPACITY: usize = 64;

/// How many live entries of a victim's queue an idle CPU looks at for one its affinity
/// allows, when the victim's best task is pinned elsewhere.
const STEAL_SCAN: usize = 16;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Not runnable: new, sleeping, or waiting.
    Blocked,
    /// In `cpu`'s queue; `seq` tells its live entry from stale ones.
    Queued { cpu: usize, seq: u64 },
    /// Current task of `cpu`.
    Running { cpu: usize },
}

#[derive(Debug)]
struct Task {
    state: State,
    affinity: CpuMask,
    last_cpu: usize,
    vruntime: u64,
    // A wake-up arrived while the task ran; its next `block` must not sleep.
    wake_pending: bool,
}

/// A queue entry: smallest virtual runtime first, then first come.
type Entry = Reverse<(u64, u64, TaskId)>;

/// One CPU's run queue. A task leaves from the middle (steal, remove, affinity) by
/// changing its state only; the entry left behind is dropped when it surfaces, which
/// keeps every operation O(log n) and the heap's capacity reused.
#[derive(Debug)]
struct RunQueue {
    heap: BinaryHeap<Entry>,
    live: usize,
}

/// The fair policy. See the crate documentation.
#[derive(Debug)]
pub struct Fair {
    granularity: u64,
    cpus: Cpus,
    queues: Vec<RunQueue>,
    tasks: BTreeMap<TaskId, Task>,
    next_seq: u64,
    queued_total: usize,
    // Never decreases: where new and long-sleeping tasks start.
    min_vruntime: u64,
}

fn is_live(tasks: &BTreeMap<TaskId, Task>, id: TaskId, cpu: usize, seq: u64) -> bool {
    tasks
        .get(&id)
        .is_some_and(|t| t.state == State::Queued { cpu, seq })
}

impl Fair {
    /// A policy for `ncpus` CPUs that preempts a task once it leads a waiting task by
    /// more than `granularity_ticks` (at least 1).
    pub fn with_granularity(ncpus: usize, granularity_ticks: u64) -> Fair {
        let cpus = Cpus::new(ncpus);
        let queues = (0..cpus.count())
            .map(|_| RunQueue {
                heap: BinaryHeap::with_capacity(QUEUE_CAPACITY),
                live: 0,
            })
            .collect();
        Fair {
            granularity: granularity_ticks.max(1) * VRUNTIME_PER_TICK,
            cpus,
            queues,
            tasks: BTreeMap::new(),
            next_seq: 0,
            queued_total: 0,
            min_vruntime: 0,
        }
    }

    /// The virtual runtime of `task`, in 1/1024 ticks.
    pub fn vruntime(&self, task: TaskId) -> Option<u64> {
        self.tasks.get(&task).map(|t| t.vruntime)
    }

    fn load(&self, cpu: usize) -> usize {
        self.queues[cpu].live + usize::from(self.cpus.current(cpu).is_some())
    }

    fn vruntime_of(&self, id: TaskId) -> u64 {
        self.tasks.get(&id).map_or(u64::MAX, |t| t.vruntime)
    }

    /// The live task with the smallest virtual runtime in `cpu`'s queue, dropping
    /// stale entries on the way.
    fn head(&mut self, cpu: usize) -> Option<(u64, TaskId)> {
        let queue = &mut self.queues[cpu];
        while let Some(&Reverse((vruntime, seq, id))) = queue.heap.peek() {
            if is_live(&self.tasks, id, cpu, seq) {
                return Some((vruntime, id));
            }
            queue.heap.pop();
        }
        None
    }

    fn push(&mut self, id: TaskId, cpu: usize) {
        self.next_seq += 1;
        let seq = self.next_seq;
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        task.state = State::Queued { cpu, seq };
        let queue = &mut self.queues[cpu];
        queue.heap.push(Reverse((task.vruntime, seq, id)));
        queue.live += 1;
        self.queued_total += 1;
    }

    /// Takes a queued task out of `cpu`'s count; its entry goes stale. The caller then
    /// changes the task's state.
    fn unqueue(&mut self, cpu: usize) {
        let queue = &mut self.queues[cpu];
        queue.live -= 1;
        self.queued_total -= 1;
        if queue.heap.len() > 2 * queue.live + QUEUE_CAPACITY {
            let tasks = &self.tasks;
            queue
                .heap
                .retain(|&Reverse((_, seq, id))| is_live(tasks, id, cpu, seq));
        }
    }

    /// The smallest virtual runtime among running and queued tasks, folded into the
    /// monotonic floor.
    fn update_min_vruntime(&mut self) -> u64 {
        let mut min = u64::MAX;
        for cpu in 0..self.cpus.count() {
            if let Some(current) = self.cpus.current(cpu) {
                min = min.min(self.vruntime_of(current));
            }
            if let Some((vruntime, _)) = self.head(cpu) {
                min = min.min(vruntime);
            }
        }
        if min != u64::MAX {
            self.min_vruntime = self.min_vruntime.max(min);
        }
        self.min_vruntime
    }

    /// The best task another CPU's queue could give `thief`: the head of each queue
    /// if `thief` may run it, the smallest virtual runtime winning.
    fn best_remote_head(&mut self, thief: usize) -> Option<(u64, TaskId, usize)> {
        let mut best: Option<(u64, TaskId, usize)> = None;
        if self.queued_total == 0 {
            return None;
        }
        for victim in 0..self.cpus.count() {
            if victim == thief {
                continue;
            }
            let Some((vruntime, id)) = self.head(victim) else {
                continue;
            };
            let allowed = self
                .tasks
                .get(&id)
                .is_some_and(|t| t.affinity.contains(thief));
            if allowed && best.is_none_or(|(b, _, _)| vruntime < b) {
                best = Some((vruntime, id, victim));
            }
        }
        best
    }

    /// For an idle CPU whose view of queue heads found nothing: a task deeper in the
    /// longest queues that `thief` may run.
    fn scan_for_stealable(&self, thief: usize) -> Option<(TaskId, usize)> {
        let mut victims = [(0usize, 0usize); MAX_CPUS];
        let mut n = 0;
        for cpu in 0..self.cpus.count() {
            if cpu != thief && self.queues[cpu].live > 0 {
                victims[n] = (self.queues[cpu].live, cpu);
                n += 1;
            }
        }
        victims[..n].sort_unstable_by(|a, b| b.cmp(a));
        victims[..n].iter().find_map(|&(_, victim)| {
            self.queues[victim]
                .heap
                .iter()
                .filter(|&&Reverse((_, seq, id))| is_live(&self.tasks, id, victim, seq))
                .take(STEAL_SCAN)
                .find(|&&Reverse((_, _, id))| {
                    self.tasks
                        .get(&id)
                        .is_some_and(|t| t.affinity.contains(thief))
                })
                .map(|&Reverse((_, _, id))| (id, victim))
        })
    }

    /// Queues a task that just became runnable where the placement rule says, and
    /// names the CPU to IPI: an idle one, or one whose current task it should preempt.
    fn place(&mut self, id: TaskId, hint: usize) -> Option<usize> {
        let (prev, affinity, vruntime) = match self.tasks.get(&id) {
            Some(task) => (task.last_cpu, task.affinity, task.vruntime),
            None => return None,
        };
        let cpu = self.cpus.select(prev, hint, affinity, |c| self.load(c));
        self.push(id, cpu);
        if let Some(idle) = self.cpus.kick_if_idle(cpu) {
            return Some(idle);
        }
        let current = self.cpus.current(cpu)?;
        let lead = self.vruntime_of(current).saturating_sub(vruntime);
        (lead > WAKEUP_GRANULARITY_TICKS * VRUNTIME_PER_TICK).then_some(cpu)
    }
}

impl Scheduler for Fair {
    const NAME: &'static str = "fair";

    fn new(ncpus: usize) -> Fair {
        Fair::with_granularity(ncpus, DEFAULT_GRANULARITY_TICKS)
    }

    fn ncpus(&self) -> usize {
        self.cpus.count()
    }

    fn enqueue(
        &mut self,
        id: TaskId,
        cpu_hint: usize,
        reason: EnqueueReason,
    ) -> Result<Option<usize>, SchedError> {
        let hint = if self.cpus.valid(cpu_hint) {
            cpu_hint
        } else {
            0
        };
        match reason {
            EnqueueReason::Spawn => {
                if self.tasks.contains_key(&id) {
                    return Err(SchedError::AlreadyKnown);
                }
                let task = Task {
                    state: State::Blocked,
                    affinity: self.cpus.online(),
                    last_cpu: hint,
                    vruntime: self.update_min_vruntime(),
                    wake_pending: false,
                };
                self.tasks.insert(id, task);
                Ok(self.place(id, hint))
            }
            EnqueueReason::Wake => {
                let state = self.tasks.get(&id).ok_or(SchedError::UnknownTask)?.state;
                match state {
                    State::Blocked => {
                        // Sleeper credit: half a granularity before the minimum, never
                        // before where the task already was.
                        let floor = self.update_min_vruntime();
                        if let Some(task) = self.tasks.get_mut(&id) {
                            task.vruntime = task
                                .vruntime
                                .max(floor.saturating_sub(self.granularity / 2));
                        }
                        Ok(self.place(id, hint))
                    }
                    State::Queued { .. } => Ok(None),
                    State::Running { .. } => {
                        if let Some(task) = self.tasks.get_mut(&id) {
                            task.wake_pending = true;
                        }
                        Ok(None)
                    }
                }
            }
            EnqueueReason::Preempted | EnqueueReason::Yield => {
                let task = self.tasks.get(&id).ok_or(SchedError::UnknownTask)?;
                let cpu = match task.state {
                    State::Running { cpu } => cpu,
                    State::Queued { .. } => return Err(SchedError::AlreadyQueued),
                    State::Blocked => return Err(SchedError::NotRunning),
                };
                let affinity = task.affinity;
                // sched_yield(2): give way to the best waiting task by placing the
                // yielder just behind it, so it is not picked straight back.
                let behind = match reason {
                    EnqueueReason::Yield => self.head(cpu).map_or(0, |(v, _)| v + 1),
                    _ => 0,
                };
                if let Some(task) = self.tasks.get_mut(&id) {
                    task.wake_pending = false;
                    task.vruntime = task.vruntime.max(behind);
                }
                self.cpus.clear_current(cpu);
                if affinity.contains(cpu) {
                    self.push(id, cpu);
                    Ok(None)
                } else {
                    Ok(self.place(id, cpu))
                }
            }
        }
    }

    fn pick_next(&mut self, cpu: usize) -> Option<TaskId> {
        if !self.cpus.valid(cpu) {
            return None;
        }
        if let Some(current) = self.cpus.current(cpu) {
            let _ = self.enqueue(current, cpu, EnqueueReason::Preempted);
        }
        let local = self.head(cpu);
        let remote = self.best_remote_head(cpu);
        let chosen = match (local, remote) {
            (Some((lv, _)), Some((rv, id, victim))) if rv + self.granularity < lv => {
                Some((id, victim))
            }
            (Some((_, id)), _) => Some((id, cpu)),
            (None, Some((_, id, victim))) => Some((id, victim)),
            (None, None) => self.scan_for_stealable(cpu),
        };
        let Some((id, from)) = chosen else {
            self.cpus.set_idle(cpu);
            return None;
        };
        self.unqueue(from);
        if let Some(task) = self.tasks.get_mut(&id) {
            task.state = State::Running { cpu };
            task.last_cpu = cpu;
            task.wake_pending = false;
        }
        self.cpus.set_running(cpu, id);
        Some(id)
    }

    fn tick(&mut self, cpu: usize, current: TaskId) -> bool {
        if !self.cpus.valid(cpu) {
            return false;
        }
        if self.cpus.current(cpu) != Some(current) {
            return true;
        }
        let Some(task) = self.tasks.get_mut(&current) else {
            return true;
        };
        task.vruntime += VRUNTIME_PER_TICK;
        let ours = task.vruntime;
        let local = self.head(cpu).map(|(v, _)| v);
        let remote = self.best_remote_head(cpu).map(|(v, _, _)| v);
        let best = match (local, remote) {
            (Some(l), Some(r)) => Some(l.min(r)),
            (l, r) => l.or(r),
        };
        best.is_some_and(|waiting| waiting + self.granularity < ours)
    }

    fn block(&mut self, id: TaskId) -> Result<bool, SchedError> {
        let task = self.tasks.get_mut(&id).ok_or(SchedError::UnknownTask)?;
        let State::Running { cpu } = task.state else {
            return Err(SchedError::NotRunning);
        };
        if task.wake_pending {
            task.wake_pending = false;
            return Ok(false);
        }
        task.state = State::Blocked;
        self.cpus.clear_current(cpu);
        Ok(true)
    }

    fn remove(&mut self, id: TaskId) -> Result<(), SchedError> {
        let task = self.tasks.remove(&id).ok_or(SchedError::UnknownTask)?;
        match task.state {
            State::Queued { cpu, .. } => self.unqueue(cpu),
            State::Running { cpu } => self.cpus.clear_current(cpu),
            State::Blocked => {}
        }
        Ok(())
    }

    fn set_affinity(&mut self, id: TaskId, mask: CpuMask) -> Result<Option<usize>, SchedError> {
        let mask = mask.and(self.cpus.online());
        if mask.is_empty() {
            return Err(SchedError::EmptyAffinity);
        }
        let task = self.tasks.get_mut(&id).ok_or(SchedError::UnknownTask)?;
        task.affinity = mask;
        match task.state {
            State::Queued { cpu, .. } if !mask.contains(cpu) => {
                self.unqueue(cpu);
                Ok(self.place(id, cpu))
            }
            State::Running { cpu } if !mask.contains(cpu) => Ok(Some(cpu)),
            _ => Ok(None),
        }
    }

    fn affinity(&self, id: TaskId) -> Option<CpuMask> {
        self.tasks.get(&id).map(|t| t.affinity)
    }

    fn idle_cpu_to_wake(&mut self) -> Option<usize> {
        if self.queued_total == 0 {
            return None;
        }
        for idle in self.cpus.wakeable().iter() {
            if self.scan_for_stealable(idle).is_some() {
                return self.cpus.kick_if_idle(idle);
            }
        }
        None
    }

    fn current(&self, cpu: usize) -> Option<TaskId> {
        self.cpus.current(cpu)
    }

    fn queued(&self, cpu: usize) -> usize {
        self.queues.get(cpu).map_or(0, |q| q.live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EnqueueReason::*;
    use sched::sim::{Workload, run, standard_workloads};

    sched::conformance_tests!(crate::Fair);

    fn booted(ncpus: usize) -> Fair {
        let mut s = Fair::new(ncpus);
        for cpu in 0..ncpus {
            assert_eq!(s.pick_next(cpu), None);
        }
        s
    }

    /// Runs `id` on `cpu` for `ticks` ticks without asking about preemption.
    fn run_for(s: &mut Fair, cpu: usize, id: TaskId, ticks: u64) {
        for _ in 0..ticks {
            s.tick(cpu, id);
        }
    }

    #[test]
    fn the_task_with_the_smallest_vruntime_runs_first() {
        let mut s = booted(1);
        let (a, b, c) = (TaskId(1), TaskId(2), TaskId(3));
        for id in [a, b, c] {
            s.enqueue(id, 0, Spawn).unwrap();
        }
        for (id, ticks) in [(a, 3), (b, 1), (c, 2)] {
            assert_eq!(s.pick_next(0), Some(id));
            run_for(&mut s, 0, id, ticks);
            s.enqueue(id, 0, Preempted).unwrap();
        }
        let order: Vec<TaskId> = (0..3)
            .map(|_| {
                let t = s.pick_next(0).unwrap();
                s.block(t).unwrap();
                t
            })
            .collect();
        assert_eq!(order, [b, c, a]);
    }

    #[test]
    fn the_running_task_is_preempted_once_it_leads_by_more_than_the_granularity() {
        let mut s = booted(1);
        s.enqueue(TaskId(1), 0, Spawn).unwrap();
        s.enqueue(TaskId(2), 0, Spawn).unwrap();
        let a = s.pick_next(0).unwrap();
        let preempted_at = (1..=20).find(|_| s.tick(0, a));
        assert_eq!(preempted_at, Some(DEFAULT_GRANULARITY_TICKS + 1));
    }

    #[test]
    fn a_new_task_starts_at_the_minimum_vruntime_not_at_zero() {
        let mut s = booted(1);
        s.enqueue(TaskId(1), 0, Spawn).unwrap();
        let a = s.pick_next(0).unwrap();
        run_for(&mut s, 0, a, 100);
        s.enqueue(TaskId(2), 0, Spawn).unwrap();
        assert_eq!(s.vruntime(TaskId(2)), Some(100 * VRUNTIME_PER_TICK));
        assert!(!s.tick(0, a), "equal vruntimes: no preemption yet");
    }

    #[test]
    fn a_woken_task_gets_half_a_granularity_of_credit_and_no_more() {
        let mut s = booted(1);
        let (a, sleeper) = (TaskId(1), TaskId(2));
        s.enqueue(sleeper, 0, Spawn).unwrap();
        s.enqueue(a, 0, Spawn).unwrap();
        assert_eq!(s.pick_next(0), Some(sleeper));
        s.block(sleeper).unwrap();
        assert_eq!(s.pick_next(0), Some(a));
        run_for(&mut s, 0, a, 1000);
        assert_eq!(s.enqueue(sleeper, 0, Wake), Ok(Some(0)), "preempts the hog");
        let credit = DEFAULT_GRANULARITY_TICKS * VRUNTIME_PER_TICK / 2;
        assert_eq!(s.vruntime(sleeper), Some(1000 * VRUNTIME_PER_TICK - credit));
    }

    #[test]
    fn a_short_sleep_keeps_the_tasks_own_vruntime() {
        let mut s = booted(1);
        let (a, b) = (TaskId(1), TaskId(2));
        s.enqueue(a, 0, Spawn).unwrap();
        s.enqueue(b, 0, Spawn).unwrap();
        assert_eq!(s.pick_next(0), Some(a));
        run_for(&mut s, 0, a, 10);
        s.block(a).unwrap();
        assert_eq!(s.pick_next(0), Some(b));
        run_for(&mut s, 0, b, 9);
        assert_eq!(
            s.enqueue(a, 0, Wake),
            Ok(None),
            "a leads: no wake-up preemption"
        );
        assert_eq!(s.vruntime(a), Some(10 * VRUNTIME_PER_TICK));
    }

    #[test]
    fn yield_puts_the_yielder_behind_the_best_waiting_task() {
        let mut s = booted(1);
        let (a, b) = (TaskId(1), TaskId(2));
        s.enqueue(a, 0, Spawn).unwrap();
        s.enqueue(b, 0, Spawn).unwrap();
        assert_eq!(s.pick_next(0), Some(a));
        s.enqueue(a, 0, Yield).unwrap();
        assert_eq!(s.pick_next(0), Some(b));
        assert!(s.vruntime(a) > s.vruntime(b));
    }

    #[test]
    fn an_overloaded_cpu_gives_work_to_a_cpu_running_one_task() {
        let mut s = booted(2);
        let (a, b, c) = (TaskId(1), TaskId(2), TaskId(3));
        for id in [a, b, c] {
            s.enqueue(id, 0, Spawn).unwrap();
        }
        let on_0 = s.pick_next(0).unwrap();
        let on_1 = s.pick_next(1).unwrap();
        let (lonely_cpu, lonely) = if s.queued(0) == 0 {
            (0, on_0)
        } else {
            (1, on_1)
        };
        let ticks = (1..=50).find(|_| s.tick(lonely_cpu, lonely));
        assert!(
            ticks.is_some(),
            "the task alone is preempted for the waiting one"
        );
        s.enqueue(lonely, lonely_cpu, Preempted).unwrap();
        let next = s.pick_next(lonely_cpu).unwrap();
        assert_ne!(next, lonely, "it took the waiting task from the other CPU");
    }

    #[test]
    fn equal_tasks_share_cpus_fairly_even_when_they_do_not_divide_evenly() {
        let w: Workload = standard_workloads()
            .into_iter()
            .find(|w| w.name == "3 cpu-bound, 2 cpus")
            .unwrap();
        let r = run::<Fair>(&w);
        assert_eq!(r.violations, 0);
        assert!(r.jain_index() > 0.99, "{}", r.jain_index());
    }

    #[test]
    fn many_removals_from_the_middle_do_not_grow_the_queue() {
        let mut s = booted(1);
        for round in 0..100u64 {
            for i in 0..50 {
                s.enqueue(TaskId(round * 100 + i), 0, Spawn).unwrap();
            }
            for i in 1..50 {
                s.remove(TaskId(round * 100 + i)).unwrap();
            }
        }
        assert_eq!(s.queued(0), 100);
        assert!(s.queues[0].heap.len() <= 2 * 100 + QUEUE_CAPACITY + 1);
    }
}
