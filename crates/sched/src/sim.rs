//! A host simulator: virtual CPUs and timer ticks driving a policy through the calls the
//! kernel makes, so policies can be compared with numbers.
//!
//! Each tick, in order: tasks due to start are spawned (from CPU 0, as a parent thread
//! would) and sleepers due to wake are woken; CPUs that were sent an IPI reschedule; then
//! every CPU runs its current task for one tick and calls `tick`, `block` or
//! `enqueue(Preempted)` + `pick_next` as the kernel would. An idle CPU calls `pick_next`
//! only when an IPI reaches it — from `enqueue`, `set_affinity` or `idle_cpu_to_wake` —
//! so a policy that forgets to name an idle CPU shows up as idle time with work waiting.
//! IPIs arrive at the next tick boundary.
//!
//! The simulator also checks the policy against the interface's rules and counts each
//! breach in [`Report::violations`]: a task picked while running elsewhere, while
//! blocked or unknown, on a CPU its affinity excludes, or a disagreement about which
//! task a CPU runs.
//!
//! Figures: each task's CPU time; fairness among the CPU-bound tasks as Jain's index
//! (`(Σx)² / (n·Σx²)`, 1 when all get the same) and the max/min ratio of their CPU time;
//! wake-up latency, in ticks from a wake to the tick the task first runs (0 = it ran in
//! the very tick it was woken); CPU utilization, and idle CPU-ticks while tasks waited.

use crate::{CpuMask, EnqueueReason, Scheduler, TaskId};
use alloc::vec::Vec;
use core::fmt;

/// What a simulated task does with the CPU.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Runs whenever it can and never blocks.
    CpuBound,
    /// Runs `run` ticks, then sleeps `sleep` ticks, forever (an interactive task, or a
    /// thread waiting on a futex).
    Sleeper { run: u32, sleep: u32 },
}

/// One simulated task.
#[derive(Clone, Copy, Debug)]
pub struct TaskSpec {
    pub behaviour: Behaviour,
    /// Affinity set right after spawn; `None` leaves every CPU allowed.
    pub affinity: Option<CpuMask>,
    /// Tick at which the task is spawned.
    pub start: u64,
}

impl TaskSpec {
    /// A CPU-bound task spawned at tick 0, on any CPU.
    pub fn cpu_bound() -> TaskSpec {
        TaskSpec {
            behaviour: Behaviour::CpuBound,
            affinity: None,
            start: 0,
        }
    }

    /// A sleeper (`run` ticks on, `sleep` ticks off) spawned at tick 0, on any CPU.
    pub fn sleeper(run: u32, sleep: u32) -> TaskSpec {
        TaskSpec {
            behaviour: Behaviour::Sleeper { run, sleep },
            affinity: None,
            start: 0,
        }
    }

    /// The same task, restricted to `mask`.
    pub fn pinned(self, mask: CpuMask) -> TaskSpec {
        TaskSpec {
            affinity: Some(mask),
            ..self
        }
    }
}

/// A scenario: CPUs, duration and tasks.
#[derive(Clone, Debug)]
pub struct Workload {
    pub name: &'static str,
    pub ncpus: usize,
    pub ticks: u64,
    pub tasks: Vec<TaskSpec>,
}

/// The scenarios the comparison table shows.
pub fn standard_workloads() -> Vec<Workload> {
    let cpu = TaskSpec::cpu_bound;
    let repeat = |n: usize, spec: TaskSpec| core::iter::repeat_n(spec, n);
    let mut mixed: Vec<TaskSpec> = repeat(4, cpu()).collect();
    // Interactive tasks: short bursts, sleeps of different lengths so their wake-ups
    // do not all coincide.
    mixed.extend((0..4).map(|i| TaskSpec::sleeper(1, 10 + 3 * i)));
    let mut busy_sleepers: Vec<TaskSpec> = repeat(4, cpu()).collect();
    busy_sleepers.extend((0..8).map(|i| TaskSpec::sleeper(1 + i % 2, 3 + i)));
    let mut pinned: Vec<TaskSpec> = repeat(2, cpu().pinned(CpuMask::single(0))).collect();
    pinned.extend(repeat(4, cpu()));
    let mut staggered: Vec<TaskSpec> = Vec::new();
    staggered.extend((0..6).map(|i| TaskSpec {
        start: 500 * i,
        ..cpu()
    }));
    alloc::vec![
        Workload {
            name: "8 cpu-bound, 1 cpu",
            ncpus: 1,
            ticks: 10_000,
            tasks: repeat(8, cpu()).collect(),
        },
        Workload {
            name: "8 cpu-bound, 4 cpus",
            ncpus: 4,
            ticks: 10_000,
            tasks: repeat(8, cpu()).collect(),
        },
        Workload {
            name: "3 cpu-bound, 2 cpus",
            ncpus: 2,
            ticks: 10_000,
            tasks: repeat(3, cpu()).collect(),
        },
        Workload {
            name: "4 cpu-bound + 4 interactive, 2 cpus",
            ncpus: 2,
            ticks: 10_000,
            tasks: mixed,
        },
        Workload {
            name: "4 cpu-bound + 8 busy sleepers, 2 cpus",
            ncpus: 2,
            ticks: 10_000,
            tasks: busy_sleepers,
        },
        Workload {
            name: "2 pinned to cpu0 + 4 free, 4 cpus",
            ncpus: 4,
            ticks: 10_000,
            tasks: pinned,
        },
        Workload {
            name: "6 cpu-bound spawned 500 apart, 2 cpus",
            ncpus: 2,
            ticks: 10_000,
            tasks: staggered,
        },
    ]
}

/// What one task got.
#[derive(Clone, Copy, Debug, Default)]
pub struct TaskReport {
    pub cpu_bound: bool,
    /// Ticks the task existed.
    pub lifetime: u64,
    /// Ticks it ran.
    pub cpu_ticks: u64,
    pub wakeups: u64,
    pub latency_sum: u64,
    pub latency_max: u64,
    pub migrations: u64,
}

/// The outcome of one simulation.
#[derive(Clone, Debug)]
pub struct Report {
    pub policy: &'static str,
    pub workload: &'static str,
    pub ncpus: usize,
    pub ticks: u64,
    pub tasks: Vec<TaskReport>,
    pub busy_ticks: u64,
    /// CPU-ticks a CPU spent idle while some run queue held a task.
    pub idle_with_work: u64,
    /// Context switches: a CPU starting a task other than the one it ran last.
    pub switches: u64,
    pub violations: u64,
}

impl Report {
    /// CPU share of each CPU-bound task: CPU time over lifetime.
    fn cpu_bound_shares(&self) -> impl Iterator<Item = f64> + '_ {
        self.tasks
            .iter()
            .filter(|t| t.cpu_bound && t.lifetime > 0)
            .map(|t| t.cpu_ticks as f64 / t.lifetime as f64)
    }

    /// Jain's fairness index over the CPU-bound tasks' shares (1 = perfectly fair,
    /// 1/n = one task got everything).
    pub fn jain_index(&self) -> f64 {
        let (n, sum, sum_sq) = self
            .cpu_bound_shares()
            .fold((0.0, 0.0, 0.0), |(n, s, q), x| (n + 1.0, s + x, q + x * x));
        if sum_sq == 0.0 {
            1.0
        } else {
            sum * sum / (n * sum_sq)
        }
    }

    /// The largest CPU-bound share divided by the smallest (infinite if one starved).
    pub fn max_min_ratio(&self) -> f64 {
        let (min, max) = self
            .cpu_bound_shares()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
                (lo.min(x), hi.max(x))
            });
        if max == 0.0 { 1.0 } else { max / min }
    }

    /// Mean wake-up latency in ticks over all wake-ups (0 when there were none).
    pub fn mean_latency(&self) -> f64 {
        let (sum, n) = self
            .tasks
            .iter()
            .fold((0, 0), |(s, n), t| (s + t.latency_sum, n + t.wakeups));
        if n == 0 { 0.0 } else { sum as f64 / n as f64 }
    }

    /// The worst wake-up latency in ticks.
    pub fn max_latency(&self) -> u64 {
        self.tasks.iter().map(|t| t.latency_max).max().unwrap_or(0)
    }

    /// The number of wake-ups measured.
    pub fn wakeups(&self) -> u64 {
        self.tasks.iter().map(|t| t.wakeups).sum()
    }

    /// Busy CPU-ticks over all CPU-ticks.
    pub fn utilization(&self) -> f64 {
        self.busy_ticks as f64 / (self.ncpus as u64 * self.ticks).max(1) as f64
    }

    /// Migrations summed over tasks.
    pub fn migrations(&self) -> u64 {
        self.tasks.iter().map(|t| t.migrations).sum()
    }

    /// The header line matching this type's `Display` rows.
    pub fn header() -> &'static str {
        "policy       workload                                jain  max/min  \
         lat-mean lat-max  util  idle-w/work  switches  migr  violations"
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<12} {:<38} {:>5.3} {:>8.2} {:>9.2} {:>7} {:>5.3} {:>12} {:>9} {:>5} {:>11}",
            self.policy,
            self.workload,
            self.jain_index(),
            self.max_min_ratio(),
            self.mean_latency(),
            self.max_latency(),
            self.utilization(),
            self.idle_with_work,
            self.switches,
            self.migrations(),
            self.violations,
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    NotStarted,
    Runnable,
    Running(usize),
    Sleeping { until: u64 },
}

struct SimTask {
    spec: TaskSpec,
    status: Status,
    burst_left: u32,
    last_cpu: Option<usize>,
    woken_at: Option<u64>,
    report: TaskReport,
}

/// Runs `workload` through a fresh `S` with its default settings.
pub fn run<S: Scheduler>(workload: &Workload) -> Report {
    run_with(workload, S::new(workload.ncpus))
}

/// Runs `workload` through `sched`, a fresh policy (for `workload.ncpus` CPUs).
pub fn run_with<S: Scheduler>(workload: &Workload, sched: S) -> Report {
    let mut sim = Sim::new(workload, sched);
    for now in 0..workload.ticks {
        sim.step(now);
    }
    sim.finish()
}

struct Sim<'w, S> {
    workload: &'w Workload,
    sched: S,
    tasks: Vec<SimTask>,
    running: Vec<Option<usize>>,
    // The task each CPU ran last, to count real switches (not a task picked again).
    last_ran: Vec<Option<usize>>,
    ipi: Vec<bool>,
    busy_ticks: u64,
    idle_with_work: u64,
    switches: u64,
    violations: u64,
}

impl<'w, S: Scheduler> Sim<'w, S> {
    fn new(workload: &'w Workload, sched: S) -> Self {
        let tasks = workload
            .tasks
            .iter()
            .map(|&spec| SimTask {
                spec,
                status: Status::NotStarted,
                burst_left: 0,
                last_cpu: None,
                woken_at: None,
                report: TaskReport {
                    cpu_bound: matches!(spec.behaviour, Behaviour::CpuBound),
                    ..TaskReport::default()
                },
            })
            .collect();
        let mut sched = sched;
        let n = sched.ncpus();
        // Every CPU enters its scheduler loop at boot and, with nothing to run yet,
        // goes idle; from then on only an IPI makes it look again.
        for cpu in 0..n {
            let _ = sched.pick_next(cpu);
        }
        Sim {
            workload,
            sched,
            tasks,
            running: alloc::vec![None; n],
            last_ran: alloc::vec![None; n],
            ipi: alloc::vec![false; n],
            busy_ticks: 0,
            idle_with_work: 0,
            switches: 0,
            violations: 0,
        }
    }

    fn send_ipi(&mut self, cpu: Option<usize>) {
        if let Some(slot) = cpu.and_then(|c| self.ipi.get_mut(c)) {
            *slot = true;
        }
    }

    fn step(&mut self, now: u64) {
        self.start_and_wake(now);
        while let Some(cpu) = self.sched.idle_cpu_to_wake() {
            self.send_ipi(Some(cpu));
        }
        for cpu in 0..self.running.len() {
            if core::mem::take(&mut self.ipi[cpu]) {
                self.reschedule(cpu, now, EnqueueReason::Preempted);
            }
        }
        for cpu in 0..self.running.len() {
            self.run_one_tick(cpu, now);
        }
        for cpu in 0..self.running.len() {
            if self.sched.current(cpu).map(|t| t.0 as usize) != self.running[cpu] {
                self.violations += 1;
            }
        }
    }

    fn start_and_wake(&mut self, now: u64) {
        for i in 0..self.tasks.len() {
            let task = &mut self.tasks[i];
            let id = TaskId(i as u64);
            match task.status {
                Status::NotStarted if task.spec.start == now => {
                    task.status = Status::Runnable;
                    let affinity = task.spec.affinity;
                    let ipi = self.sched.enqueue(id, 0, EnqueueReason::Spawn);
                    self.check(ipi.is_ok());
                    self.send_ipi(ipi.ok().flatten());
                    if let Some(mask) = affinity {
                        let ipi = self.sched.set_affinity(id, mask);
                        self.check(ipi.is_ok());
                        self.send_ipi(ipi.ok().flatten());
                    }
                }
                Status::Sleeping { until } if until == now => {
                    task.status = Status::Runnable;
                    task.woken_at = Some(now);
                    let hint = task.last_cpu.unwrap_or(0);
                    let ipi = self.sched.enqueue(id, hint, EnqueueReason::Wake);
                    self.check(ipi.is_ok());
                    self.send_ipi(ipi.ok().flatten());
                }
                _ => {}
            }
        }
    }

    /// `cpu` got an IPI, or its task stopped: put the task (if any) back and pick.
    fn reschedule(&mut self, cpu: usize, starts_at: u64, reason: EnqueueReason) {
        if let Some(i) = self.running[cpu].take() {
            self.tasks[i].status = Status::Runnable;
            let ipi = self.sched.enqueue(TaskId(i as u64), cpu, reason);
            self.check(ipi.is_ok());
            self.send_ipi(ipi.ok().flatten());
        }
        let next = self.sched.pick_next(cpu);
        self.switch_to(cpu, next, starts_at);
    }

    fn run_one_tick(&mut self, cpu: usize, now: u64) {
        let Some(i) = self.running[cpu] else {
            let queued: usize = (0..self.running.len()).map(|c| self.sched.queued(c)).sum();
            if queued > 0 {
                self.idle_with_work += 1;
            }
            return;
        };
        self.busy_ticks += 1;
        let id = TaskId(i as u64);
        let task = &mut self.tasks[i];
        task.report.cpu_ticks += 1;
        if let Behaviour::Sleeper { run, sleep } = task.spec.behaviour {
            task.burst_left = task.burst_left.saturating_sub(1);
            if task.burst_left == 0 {
                task.burst_left = run;
                task.status = Status::Sleeping {
                    until: now + 1 + u64::from(sleep),
                };
                self.running[cpu] = None;
                let blocked = self.sched.block(id);
                self.check(blocked == Ok(true));
                let next = self.sched.pick_next(cpu);
                self.switch_to(cpu, next, now + 1);
                return;
            }
        }
        if self.sched.tick(cpu, id) {
            self.reschedule(cpu, now + 1, EnqueueReason::Preempted);
        }
    }

    fn switch_to(&mut self, cpu: usize, next: Option<TaskId>, starts_at: u64) {
        let Some(id) = next else {
            return;
        };
        let i = id.0 as usize;
        let Some(task) = self.tasks.get_mut(i) else {
            self.violations += 1;
            return;
        };
        let allowed = task.spec.affinity.is_none_or(|m| m.contains(cpu));
        let legal = task.status == Status::Runnable && allowed;
        if !legal {
            self.violations += 1;
        }
        if task.last_cpu.is_some_and(|c| c != cpu) {
            task.report.migrations += 1;
        }
        if let Some(woken) = task.woken_at.take() {
            let latency = starts_at - woken;
            task.report.wakeups += 1;
            task.report.latency_sum += latency;
            task.report.latency_max = task.report.latency_max.max(latency);
        }
        if task.burst_left == 0
            && let Behaviour::Sleeper { run, .. } = task.spec.behaviour
        {
            task.burst_left = run;
        }
        task.status = Status::Running(cpu);
        task.last_cpu = Some(cpu);
        self.running[cpu] = Some(i);
        if self.last_ran[cpu] != Some(i) {
            self.switches += 1;
            self.last_ran[cpu] = Some(i);
        }
    }

    fn check(&mut self, ok: bool) {
        if !ok {
            self.violations += 1;
        }
    }

    fn finish(self) -> Report {
        let ticks = self.workload.ticks;
        let tasks = self
            .tasks
            .iter()
            .map(|t| TaskReport {
                lifetime: ticks.saturating_sub(t.spec.start),
                ..t.report
            })
            .collect();
        Report {
            policy: S::NAME,
            workload: self.workload.name,
            ncpus: self.running.len(),
            ticks,
            tasks,
            busy_ticks: self.busy_ticks,
            idle_with_work: self.idle_with_work,
            switches: self.switches,
            violations: self.violations,
        }
    }
}
