//! `Cpus`: the per-CPU facts every SMP policy tracks the same way — which task each CPU
//! runs, which CPUs are idle, which idle CPUs have already been named for an IPI — and
//! the placement rule built on them. Policies own their run queues; this is the part
//! they share.

use crate::{CpuMask, MAX_CPUS, TaskId};
use alloc::vec::Vec;

/// Per-CPU state of a policy for CPUs `0..ncpus`.
#[derive(Debug)]
pub struct Cpus {
    current: Vec<Option<TaskId>>,
    // Idle: the CPU's last `pick_next` found nothing. Kicked: idle, and already handed to
    // the kernel for an IPI, so a second enqueue does not send a second one.
    idle: CpuMask,
    kicked: CpuMask,
}

impl Cpus {
    /// `ncpus` CPUs (clamped to `1..=MAX_CPUS`), none running anything, none idle yet.
    pub fn new(ncpus: usize) -> Cpus {
        let ncpus = ncpus.clamp(1, MAX_CPUS);
        Cpus {
            current: alloc::vec![None; ncpus],
            idle: CpuMask::EMPTY,
            kicked: CpuMask::EMPTY,
        }
    }

    /// How many CPUs there are.
    pub fn count(&self) -> usize {
        self.current.len()
    }

    /// All the CPUs, as a mask.
    pub fn online(&self) -> CpuMask {
        CpuMask::all(self.count())
    }

    /// Whether `cpu` is one of ours.
    pub fn valid(&self, cpu: usize) -> bool {
        cpu < self.count()
    }

    /// The task `cpu` runs.
    pub fn current(&self, cpu: usize) -> Option<TaskId> {
        self.current.get(cpu).copied().flatten()
    }

    /// `cpu` now runs `task` (`pick_next` found it): the CPU is no longer idle.
    pub fn set_running(&mut self, cpu: usize, task: TaskId) {
        if let Some(slot) = self.current.get_mut(cpu) {
            *slot = Some(task);
            self.idle = self.idle.without(cpu);
            self.kicked = self.kicked.without(cpu);
        }
    }

    /// `cpu` stopped running its task (it blocked, exited, or went back to a queue).
    pub fn clear_current(&mut self, cpu: usize) {
        if let Some(slot) = self.current.get_mut(cpu) {
            *slot = None;
        }
    }

    /// `cpu`'s `pick_next` found nothing: it halts until an IPI.
    pub fn set_idle(&mut self, cpu: usize) {
        if self.valid(cpu) {
            self.current[cpu] = None;
            self.idle = self.idle.with(cpu);
            self.kicked = self.kicked.without(cpu);
        }
    }

    /// Idle CPUs that nobody has asked the kernel to IPI yet.
    pub fn wakeable(&self) -> CpuMask {
        CpuMask::from_bits(self.idle.bits() & !self.kicked.bits())
    }

    /// Idle CPUs, kicked or not.
    pub fn idle(&self) -> CpuMask {
        self.idle
    }

    /// If `cpu` is idle and not yet kicked, marks it kicked and returns it: the kernel
    /// must IPI it so it calls `pick_next`.
    pub fn kick_if_idle(&mut self, cpu: usize) -> Option<usize> {
        if self.wakeable().contains(cpu) {
            self.kicked = self.kicked.with(cpu);
            Some(cpu)
        } else {
            None
        }
    }

    /// Where a task that becomes runnable should be queued, among `allowed` CPUs:
    /// an idle CPU first — the one it last ran on (`prev`, its cache is warm), then the
    /// one the kernel suggests (`hint`), then any — else the least loaded allowed CPU,
    /// ties going to `prev`, then `hint`. `load(cpu)` counts that CPU's queued and
    /// running tasks. `allowed` must not be empty; if it is, `hint` is answered.
    pub fn select(
        &self,
        prev: usize,
        hint: usize,
        allowed: CpuMask,
        load: impl Fn(usize) -> usize,
    ) -> usize {
        let allowed = allowed.and(self.online());
        let wakeable = self.wakeable().and(allowed);
        for cpu in [prev, hint] {
            if wakeable.contains(cpu) {
                return cpu;
            }
        }
        if let Some(cpu) = wakeable.first_from(hint) {
            return cpu;
        }
        let mut best: Option<(usize, (usize, usize))> = None;
        for cpu in allowed.iter() {
            let rank = (
                load(cpu),
                usize::from(cpu != prev) + usize::from(cpu != hint),
            );
            if best.is_none_or(|(_, best_rank)| rank < best_rank) {
                best = Some((cpu, rank));
            }
        }
        best.map_or(hint.min(self.count() - 1), |(cpu, _)| cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_cpu_is_idle_before_its_first_empty_pick() {
        let mut cpus = Cpus::new(4);
        assert!(cpus.wakeable().is_empty());
        assert_eq!(cpus.kick_if_idle(2), None);
        cpus.set_idle(2);
        assert_eq!(cpus.kick_if_idle(2), Some(2));
        assert_eq!(cpus.kick_if_idle(2), None, "one IPI per idle period");
    }

    #[test]
    fn select_prefers_idle_prev_then_hint_then_any_idle() {
        let mut cpus = Cpus::new(4);
        cpus.set_idle(1);
        cpus.set_idle(3);
        let all = CpuMask::all(4);
        assert_eq!(cpus.select(3, 1, all, |_| 0), 3);
        assert_eq!(cpus.select(0, 1, all, |_| 0), 1);
        assert_eq!(cpus.select(0, 2, all, |_| 0), 3);
        assert_eq!(cpus.select(0, 0, CpuMask::single(2), |_| 0), 2);
    }

    #[test]
    fn select_without_idle_cpu_takes_least_loaded_allowed() {
        let cpus = Cpus::new(4);
        let loads = [3, 1, 1, 0];
        let load = |cpu: usize| loads[cpu];
        assert_eq!(cpus.select(0, 0, CpuMask::all(4), load), 3);
        assert_eq!(cpus.select(0, 2, CpuMask::from_bits(0b0111), load), 2);
        assert_eq!(cpus.select(0, 0, CpuMask::from_bits(0b0111), load), 1);
    }
}
