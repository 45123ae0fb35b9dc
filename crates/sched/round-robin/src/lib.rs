//! Round-robin scheduling: per-CPU FIFO run queues and a fixed time slice.
//!
//! This crate owns one policy behind [`sched::Scheduler`]: [`RoundRobin`]. Each CPU
//! runs the task at the head of its own queue for at most one time slice — `slice`
//! timer ticks, 4 by default; the kernel's local APIC timer ticks every 1 ms, so 4 ms —
//! and a preempted or yielding task goes to the tail. A task that uses its slice keeps
//! the CPU while nobody else waits on that CPU. Time is counted in whole ticks: a task
//! picked just before a tick is charged the full tick.
//!
//! SMP: a task that becomes runnable goes to an idle CPU its affinity allows (the one
//! it last ran on first), else to the least loaded allowed CPU. A CPU whose queue is
//! empty steals the oldest eligible task from the longest other queue. Balancing
//! happens only then: with more runnable tasks than CPUs and a count that does not
//! divide evenly, tasks sharing a CPU get less than a task alone on one (the simulator
//! shows it; `sched-fair` balances on virtual runtime instead).
//!
//! Not done: priorities and nice values, SCHED_FIFO/SCHED_RR real-time classes, NUMA or
//! cache topology.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use sched::{CpuMask, Cpus, EnqueueReason, MAX_CPUS, SchedError, Scheduler, TaskId};

/// Timer ticks a task may run while others wait, by default (4 ms at 1 kHz).
pub const DEFAULT_SLICE_TICKS: u32 = 4;

/// Queue slots reserved per CPU up front, so enqueue does not allocate in steady state.
const QUEUE_CAPACITY: usize = 64;

/// How many live entries of a victim's queue a thief looks at for one its affinity
/// allows; bounds the cost of a steal when most tasks are pinned elsewhere.
const STEAL_SCAN: usize = 16;

/// Where a task is, as the policy sees it.
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
    // A wake-up arrived while the task ran; its next `block` must not sleep.
    wake_pending: bool,
}

/// One CPU's run queue. Tasks leave from the middle (steal, remove, affinity) by
/// changing their state only; the entry left behind is skipped when it reaches the head,
/// so every operation stays O(1) and `VecDeque` keeps its capacity.
#[derive(Debug)]
struct RunQueue {
    entries: VecDeque<(TaskId, u64)>,
    live: usize,
}

/// The round-robin policy. See the crate documentation.
#[derive(Debug)]
pub struct RoundRobin {
    slice: u32,
    cpus: Cpus,
    queues: Vec<RunQueue>,
    // Ticks the current task of each CPU has run since it was picked.
    slice_used: Vec<u32>,
    tasks: BTreeMap<TaskId, Task>,
    next_seq: u64,
    queued_total: usize,
}

impl RoundRobin {
    /// A policy for `ncpus` CPUs whose tasks run `slice` ticks (at least 1) before a
    /// waiting task gets the CPU.
    pub fn with_slice(ncpus: usize, slice: u32) -> RoundRobin {
        let cpus = Cpus::new(ncpus);
        let n = cpus.count();
        let queues = (0..n)
            .map(|_| RunQueue {
                entries: VecDeque::with_capacity(QUEUE_CAPACITY),
                live: 0,
            })
            .collect();
        RoundRobin {
            slice: slice.max(1),
            cpus,
            queues,
            slice_used: alloc::vec![0; n],
            tasks: BTreeMap::new(),
            next_seq: 0,
            queued_total: 0,
        }
    }

    /// The time slice, in ticks.
    pub fn slice(&self) -> u32 {
        self.slice
    }

    fn load(&self, cpu: usize) -> usize {
        self.queues[cpu].live + usize::from(self.cpus.current(cpu).is_some())
    }

    /// Appends `id` to `cpu`'s queue.
    fn push(&mut self, id: TaskId, cpu: usize) {
        self.next_seq += 1;
        let seq = self.next_seq;
        if let Some(task) = self.tasks.get_mut(&id) {
            task.state = State::Queued { cpu, seq };
        }
        let queue = &mut self.queues[cpu];
        queue.entries.push_back((id, seq));
        queue.live += 1;
        self.queued_total += 1;
    }

    /// Takes a queued task out of its queue's count; its entry goes stale.
    fn unqueue(&mut self, cpu: usize) {
        let queue = &mut self.queues[cpu];
        queue.live -= 1;
        self.queued_total -= 1;
        // Many stale entries (tasks removed or stolen from the middle): drop them in
        // one pass so the deque does not grow without bound.
        if queue.entries.len() > 2 * queue.live + QUEUE_CAPACITY {
            let tasks = &self.tasks;
            queue
                .entries
                .retain(|&(id, seq)| is_live(tasks, id, cpu, seq));
        }
    }

    /// Queues a task that just became runnable on the CPU the placement rule picks, and
    /// says which CPU to IPI.
    fn place(&mut self, id: TaskId, hint: usize) -> Option<usize> {
        let (prev, affinity) = match self.tasks.get(&id) {
            Some(task) => (task.last_cpu, task.affinity),
            None => return None,
        };
        let cpu = self.cpus.select(prev, hint, affinity, |c| self.load(c));
        self.push(id, cpu);
        self.cpus.kick_if_idle(cpu)
    }

    /// Pops the oldest live task of `cpu`'s own queue.
    fn pop_local(&mut self, cpu: usize) -> Option<TaskId> {
        while let Some((id, seq)) = self.queues[cpu].entries.pop_front() {
            if is_live(&self.tasks, id, cpu, seq) {
                self.unqueue(cpu);
                return Some(id);
            }
        }
        None
    }

    /// The oldest task in `victim`'s queue that may run on `thief`, if one is among the
    /// first `STEAL_SCAN` live entries.
    fn stealable(&self, victim: usize, thief: usize) -> Option<(usize, TaskId)> {
        self.queues[victim]
            .entries
            .iter()
            .enumerate()
            .filter(|&(_, &(id, seq))| is_live(&self.tasks, id, victim, seq))
            .take(STEAL_SCAN)
            .find(|&(_, &(id, _))| {
                self.tasks
                    .get(&id)
                    .is_some_and(|t| t.affinity.contains(thief))
            })
            .map(|(index, &(id, _))| (index, id))
    }

    /// Work stealing: takes a task for `thief` from the longest queue that has one it
    /// may run.
    fn steal(&mut self, thief: usize) -> Option<TaskId> {
        if self.queued_total == 0 {
            return None;
        }
        let mut victims = [(0usize, 0usize); MAX_CPUS];
        let mut n = 0;
        for cpu in 0..self.cpus.count() {
            if cpu != thief && self.queues[cpu].live > 0 {
                victims[n] = (self.queues[cpu].live, cpu);
                n += 1;
            }
        }
        victims[..n].sort_unstable_by(|a, b| b.cmp(a));
        for &(_, victim) in &victims[..n] {
            if let Some((index, id)) = self.stealable(victim, thief) {
                self.queues[victim].entries.remove(index);
                self.unqueue(victim);
                return Some(id);
            }
        }
        None
    }
}

fn is_live(tasks: &BTreeMap<TaskId, Task>, id: TaskId, cpu: usize, seq: u64) -> bool {
    tasks
        .get(&id)
        .is_some_and(|t| t.state == State::Queued { cpu, seq })
}

impl Scheduler for RoundRobin {
    const NAME: &'static str = "round-robin";

    fn new(ncpus: usize) -> RoundRobin {
        RoundRobin::with_slice(ncpus, DEFAULT_SLICE_TICKS)
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
                    wake_pending: false,
                };
                self.tasks.insert(id, task);
                Ok(self.place(id, hint))
            }
            EnqueueReason::Wake => {
                let task = self.tasks.get_mut(&id).ok_or(SchedError::UnknownTask)?;
                match task.state {
                    State::Blocked => Ok(self.place(id, hint)),
                    State::Queued { .. } => Ok(None),
                    State::Running { .. } => {
                        task.wake_pending = true;
                        Ok(None)
                    }
                }
            }
            EnqueueReason::Preempted | EnqueueReason::Yield => {
                let task = self.tasks.get_mut(&id).ok_or(SchedError::UnknownTask)?;
                let cpu = match task.state {
                    State::Running { cpu } => cpu,
                    State::Queued { .. } => return Err(SchedError::AlreadyQueued),
                    State::Blocked => return Err(SchedError::NotRunning),
                };
                task.wake_pending = false;
                let affinity = task.affinity;
                self.cpus.clear_current(cpu);
                // Back to the tail of its own queue, unless its affinity changed while it
                // ran; then wherever it may go.
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
        let Some(id) = self.pop_local(cpu).or_else(|| self.steal(cpu)) else {
            self.cpus.set_idle(cpu);
            return None;
        };
        if let Some(task) = self.tasks.get_mut(&id) {
            task.state = State::Running { cpu };
            task.last_cpu = cpu;
            task.wake_pending = false;
        }
        self.cpus.set_running(cpu, id);
        self.slice_used[cpu] = 0;
        Some(id)
    }

    fn tick(&mut self, cpu: usize, current: TaskId) -> bool {
        if !self.cpus.valid(cpu) {
            return false;
        }
        // A task removed while it ran (exit_group from another CPU) must leave the CPU.
        if self.cpus.current(cpu) != Some(current) {
            return true;
        }
        let used = &mut self.slice_used[cpu];
        *used = used.saturating_add(1);
        *used >= self.slice && self.queues[cpu].live > 0
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
            let has_work = (0..self.cpus.count())
                .any(|victim| victim != idle && self.stealable(victim, idle).is_some());
            if has_work {
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

    sched::conformance_tests!(crate::RoundRobin);

    fn booted(ncpus: usize, slice: u32) -> RoundRobin {
        let mut s = RoundRobin::with_slice(ncpus, slice);
        for cpu in 0..ncpus {
            assert_eq!(s.pick_next(cpu), None);
        }
        s
    }

    fn ids(n: u64) -> impl Iterator<Item = TaskId> {
        (1..=n).map(TaskId)
    }

    #[test]
    fn tasks_run_in_the_order_they_were_queued() {
        let mut s = booted(1, 4);
        for id in ids(4) {
            s.enqueue(id, 0, Spawn).unwrap();
        }
        for id in ids(4) {
            assert_eq!(s.pick_next(0), Some(id));
            s.block(id).unwrap();
        }
    }

    #[test]
    fn tick_preempts_when_the_slice_is_used_and_another_task_waits() {
        let mut s = booted(1, 4);
        s.enqueue(TaskId(1), 0, Spawn).unwrap();
        let a = s.pick_next(0).unwrap();
        for _ in 0..10 {
            assert!(!s.tick(0, a), "alone, it keeps the CPU past its slice");
        }
        s.enqueue(TaskId(2), 0, Spawn).unwrap();
        assert!(
            s.tick(0, a),
            "slice long used up: the newcomer gets the CPU"
        );
        s.enqueue(a, 0, Preempted).unwrap();
        let b = s.pick_next(0).unwrap();
        assert_eq!(b, TaskId(2));
        assert_eq!([s.tick(0, b), s.tick(0, b), s.tick(0, b)], [false; 3]);
        assert!(s.tick(0, b), "preempted on the 4th tick");
    }

    #[test]
    fn the_slice_length_is_configurable() {
        let mut s = booted(1, 2);
        assert_eq!(s.slice(), 2);
        s.enqueue(TaskId(1), 0, Spawn).unwrap();
        s.enqueue(TaskId(2), 0, Spawn).unwrap();
        let a = s.pick_next(0).unwrap();
        assert!(!s.tick(0, a));
        assert!(s.tick(0, a));
        assert_eq!(RoundRobin::with_slice(1, 0).slice(), 1);
        assert_eq!(RoundRobin::new(1).slice(), DEFAULT_SLICE_TICKS);
    }

    #[test]
    fn a_preempted_task_goes_behind_those_already_waiting() {
        let mut s = booted(1, 1);
        for id in ids(3) {
            s.enqueue(id, 0, Spawn).unwrap();
        }
        let mut order = Vec::new();
        for _ in 0..6 {
            let t = s.pick_next(0).unwrap();
            order.push(t.0);
            assert!(s.tick(0, t));
            s.enqueue(t, 0, Preempted).unwrap();
        }
        assert_eq!(order, [1, 2, 3, 1, 2, 3]);
    }

    #[test]
    fn an_idle_cpu_steals_the_oldest_task_of_the_longest_queue() {
        let mut s = booted(3, 4);
        // Pin tasks to build queues of 1 on CPU 0 and 3 on CPU 1, then free them.
        let pins = [(1, 0), (2, 0), (3, 1), (4, 1), (5, 1), (6, 1)];
        for (id, cpu) in pins {
            s.enqueue(TaskId(id), cpu, Spawn).unwrap();
            s.set_affinity(TaskId(id), CpuMask::single(cpu)).unwrap();
        }
        assert_eq!(s.pick_next(0), Some(TaskId(1)));
        assert_eq!(s.pick_next(1), Some(TaskId(3)));
        assert_eq!(s.pick_next(2), None);
        for id in ids(6) {
            s.set_affinity(id, CpuMask::all(3)).unwrap();
        }
        assert_eq!((s.queued(0), s.queued(1)), (1, 3));
        assert_eq!(s.pick_next(2), Some(TaskId(4)));
        assert_eq!((s.queued(0), s.queued(1)), (1, 2));
    }

    #[test]
    fn stealing_skips_tasks_pinned_to_their_cpu() {
        let mut s = booted(2, 4);
        for id in ids(3) {
            s.enqueue(id, 0, Spawn).unwrap();
            s.set_affinity(id, CpuMask::single(0)).unwrap();
        }
        s.set_affinity(TaskId(3), CpuMask::all(2)).unwrap();
        assert_eq!(s.pick_next(0), Some(TaskId(1)));
        assert_eq!(s.pick_next(1), Some(TaskId(3)));
        assert_eq!(s.queued(0), 1);
    }

    #[test]
    fn many_removals_from_the_middle_do_not_grow_the_queue() {
        let mut s = booted(1, 4);
        for round in 0..100u64 {
            for i in 0..50 {
                s.enqueue(TaskId(round * 100 + i), 0, Spawn).unwrap();
            }
            for i in 1..50 {
                s.remove(TaskId(round * 100 + i)).unwrap();
            }
        }
        assert_eq!(s.queued(0), 100);
        assert!(s.queues[0].entries.len() <= 2 * 100 + QUEUE_CAPACITY + 1);
        let first = s.pick_next(0).unwrap();
        assert_eq!(first, TaskId(0));
    }
}
