//! Behaviour every policy owes the kernel, as generic checks; a policy crate runs them
//! all with [`conformance_tests!`](crate::conformance_tests). Policy-specific order
//! (FIFO, virtual runtime) is tested in each policy's own crate.
//!
//! Each check panics with a message on failure: it is test code, behind the `sim`
//! feature, never in the kernel.

use crate::{CpuMask, EnqueueReason::*, SchedError, Scheduler, TaskId};
use alloc::vec::Vec;

const A: TaskId = TaskId(1);
const B: TaskId = TaskId(2);
const C: TaskId = TaskId(3);

/// A policy for `ncpus` CPUs that have all been through their first, empty,
/// `pick_next`, as at boot: all are idle.
fn booted<S: Scheduler>(ncpus: usize) -> S {
    let mut s = S::new(ncpus);
    for cpu in 0..ncpus {
        assert_eq!(s.pick_next(cpu), None);
    }
    s
}

pub fn spawned_task_runs_on_the_idle_cpu_it_names<S: Scheduler>() {
    let mut s = booted::<S>(2);
    let ipi = s.enqueue(A, 1, Spawn).unwrap();
    assert_eq!(ipi, Some(1), "an idle hinted CPU gets the task and an IPI");
    assert_eq!(s.pick_next(1), Some(A));
    assert_eq!(s.current(1), Some(A));
}

pub fn an_idle_cpu_is_named_for_an_ipi_only_once<S: Scheduler>() {
    let mut s = booted::<S>(1);
    assert_eq!(s.enqueue(A, 0, Spawn).unwrap(), Some(0));
    assert_eq!(
        s.enqueue(B, 0, Spawn).unwrap(),
        None,
        "the IPI is on its way"
    );
    assert_eq!(s.idle_cpu_to_wake(), None);
}

pub fn no_ipi_goes_to_a_cpu_that_never_picked<S: Scheduler>() {
    let mut s = S::new(4);
    assert_eq!(s.pick_next(0), None);
    for (i, id) in [A, B, C].into_iter().enumerate() {
        assert_eq!(s.enqueue(id, i, Spawn).unwrap().unwrap_or(0), 0);
    }
}

pub fn spawning_a_known_task_is_refused<S: Scheduler>() {
    let mut s = booted::<S>(1);
    s.enqueue(A, 0, Spawn).unwrap();
    assert_eq!(s.enqueue(A, 0, Spawn), Err(SchedError::AlreadyKnown));
    assert_eq!(s.queued(0), 1);
}

pub fn waking_a_queued_task_does_not_queue_it_twice<S: Scheduler>() {
    let mut s = booted::<S>(1);
    s.enqueue(A, 0, Spawn).unwrap();
    assert_eq!(s.enqueue(A, 0, Wake), Ok(None));
    assert_eq!(s.enqueue(A, 0, Wake), Ok(None));
    assert_eq!(s.queued(0), 1);
    assert_eq!(s.pick_next(0), Some(A));
    assert_eq!(s.enqueue(A, 0, Preempted), Ok(None));
    assert_eq!(s.enqueue(A, 0, Preempted), Err(SchedError::AlreadyQueued));
    assert_eq!(s.enqueue(A, 0, Yield), Err(SchedError::AlreadyQueued));
    assert_eq!(s.pick_next(0), Some(A));
    assert_eq!(
        s.pick_next(0),
        Some(A),
        "the current task is put back, not lost"
    );
    assert_eq!(s.queued(0), 0);
}

pub fn preempting_a_blocked_task_is_refused<S: Scheduler>() {
    let mut s = booted::<S>(1);
    s.enqueue(A, 0, Spawn).unwrap();
    assert_eq!(s.pick_next(0), Some(A));
    assert_eq!(s.block(A), Ok(true));
    assert_eq!(s.enqueue(A, 0, Preempted), Err(SchedError::NotRunning));
    assert_eq!(s.block(A), Err(SchedError::NotRunning));
    assert_eq!(s.enqueue(C, 0, Wake), Err(SchedError::UnknownTask));
}

pub fn blocked_task_is_not_picked_until_woken<S: Scheduler>() {
    let mut s = booted::<S>(1);
    s.enqueue(A, 0, Spawn).unwrap();
    assert_eq!(s.pick_next(0), Some(A));
    assert_eq!(s.block(A), Ok(true));
    assert_eq!(s.pick_next(0), None);
    assert_eq!(s.enqueue(A, 0, Wake), Ok(Some(0)), "the idle CPU is woken");
    assert_eq!(s.pick_next(0), Some(A));
}

pub fn a_wake_that_beats_the_sleep_cancels_it<S: Scheduler>() {
    let mut s = booted::<S>(2);
    s.enqueue(A, 0, Spawn).unwrap();
    assert_eq!(s.pick_next(0), Some(A));
    // Another CPU wakes A between A's "queue myself as a waiter" and its `block`.
    assert_eq!(s.enqueue(A, 1, Wake), Ok(None));
    assert_eq!(
        s.queued(0) + s.queued(1),
        0,
        "a running task is never queued"
    );
    assert_eq!(s.block(A), Ok(false), "the wake-up is not lost");
    assert_eq!(s.current(0), Some(A));
    assert_eq!(s.block(A), Ok(true), "one wake cancels one sleep");
}

pub fn removed_task_is_never_picked<S: Scheduler>() {
    let mut s = booted::<S>(1);
    for id in [A, B, C] {
        s.enqueue(id, 0, Spawn).unwrap();
    }
    s.remove(B).unwrap();
    assert_eq!(s.queued(0), 2);
    let picked: Vec<TaskId> = core::iter::from_fn(|| {
        let t = s.pick_next(0)?;
        s.block(t).unwrap();
        Some(t)
    })
    .collect();
    assert_eq!(picked.len(), 2);
    assert!(!picked.contains(&B));
    assert_eq!(s.remove(B), Err(SchedError::UnknownTask));
    assert_eq!(s.enqueue(B, 0, Wake), Err(SchedError::UnknownTask));
}

pub fn removing_a_running_task_frees_its_cpu<S: Scheduler>() {
    let mut s = booted::<S>(2);
    s.enqueue(A, 0, Spawn).unwrap();
    assert_eq!(s.pick_next(0), Some(A));
    s.remove(A).unwrap();
    assert_eq!(s.current(0), None);
    assert!(
        s.tick(0, A),
        "a CPU still running a removed task must reschedule"
    );
    assert_eq!(s.pick_next(0), None);
    s.enqueue(B, 0, Spawn).unwrap();
    assert!(s.pick_next(0).is_some());
    s.remove(B).unwrap();
    assert_eq!(s.affinity(B), None);
}

pub fn a_pinned_task_runs_only_where_its_mask_allows<S: Scheduler>() {
    let mut s = booted::<S>(4);
    s.enqueue(A, 0, Spawn).unwrap();
    assert_eq!(s.set_affinity(A, CpuMask::single(2)), Ok(Some(2)));
    assert_eq!(s.affinity(A), Some(CpuMask::single(2)));
    for cpu in [0, 1, 3] {
        assert_eq!(s.pick_next(cpu), None, "cpu {cpu} must not take A");
    }
    assert_eq!(s.pick_next(2), Some(A));
    // Waking it later puts it back where it may run, even when hinted elsewhere.
    s.block(A).unwrap();
    assert_eq!(s.pick_next(2), None);
    assert_eq!(s.enqueue(A, 0, Wake), Ok(Some(2)));
    assert_eq!(s.queued(2), 1);
}

pub fn affinity_outside_the_online_cpus_is_refused<S: Scheduler>() {
    let mut s = booted::<S>(2);
    s.enqueue(A, 0, Spawn).unwrap();
    assert_eq!(
        s.set_affinity(A, CpuMask::EMPTY),
        Err(SchedError::EmptyAffinity)
    );
    assert_eq!(
        s.set_affinity(A, CpuMask::single(5)),
        Err(SchedError::EmptyAffinity)
    );
    assert_eq!(
        s.set_affinity(C, CpuMask::all(2)),
        Err(SchedError::UnknownTask)
    );
    // Bits beyond the online CPUs are dropped, as sched_setaffinity(2) does.
    s.set_affinity(A, CpuMask::from_bits(0b1110)).unwrap();
    assert_eq!(s.affinity(A), Some(CpuMask::single(1)));
}

pub fn changing_a_running_tasks_affinity_moves_it_at_its_next_preemption<S: Scheduler>() {
    let mut s = booted::<S>(2);
    s.enqueue(A, 0, Spawn).unwrap();
    assert_eq!(s.pick_next(0), Some(A));
    assert_eq!(s.set_affinity(A, CpuMask::single(1)), Ok(Some(0)));
    assert_eq!(s.enqueue(A, 0, Preempted), Ok(Some(1)));
    assert_eq!(s.pick_next(0), None);
    assert_eq!(s.pick_next(1), Some(A));
}

pub fn an_idle_cpu_steals_from_a_busy_one<S: Scheduler>() {
    let mut s = booted::<S>(2);
    for id in [A, B, C] {
        s.enqueue(id, 0, Spawn).unwrap();
    }
    let on_0 = s.pick_next(0).unwrap();
    let on_1 = s.pick_next(1).unwrap();
    assert_eq!(s.queued(0) + s.queued(1), 1);
    let busy = if s.queued(0) == 1 { 0 } else { 1 };
    let idle = 1 - busy;
    let stopping = [on_0, on_1][idle];
    s.block(stopping).unwrap();
    let stolen = s.pick_next(idle).unwrap();
    assert!(![on_0, on_1].contains(&stolen));
    assert_eq!(s.queued(busy), 0);
}

pub fn idle_cpu_to_wake_names_an_idle_cpu_when_work_waits<S: Scheduler>() {
    let mut s = booted::<S>(2);
    s.enqueue(A, 0, Spawn).unwrap();
    assert_eq!(s.pick_next(0), Some(A));
    assert_eq!(s.pick_next(1), None);
    assert_eq!(s.idle_cpu_to_wake(), None, "nothing waits");
    // B lands on idle CPU 1, is pinned to busy CPU 0 (CPU 1 then finds nothing and
    // idles), and is let go again: now CPU 1 could take it but nobody told it.
    s.enqueue(B, 0, Spawn).unwrap();
    s.set_affinity(B, CpuMask::single(0)).unwrap();
    let cpu1_kicked = s.pick_next(1);
    assert_eq!(cpu1_kicked, None);
    assert_eq!(s.queued(0), 1);
    s.set_affinity(B, CpuMask::all(2)).unwrap();
    assert_eq!(s.idle_cpu_to_wake(), Some(1));
    assert_eq!(s.idle_cpu_to_wake(), None, "named once");
    assert_eq!(s.pick_next(1), Some(B));
}

pub fn nobody_starves_among_many_cpu_bound_tasks<S: Scheduler>() {
    let mut s = booted::<S>(1);
    let n = 10u64;
    for i in 0..n {
        s.enqueue(TaskId(i), 0, Spawn).unwrap();
    }
    let mut last_ran = [0u64; 10];
    let mut current = s.pick_next(0).unwrap();
    for now in 1..2000u64 {
        last_ran[current.0 as usize] = now;
        if s.tick(0, current) {
            s.enqueue(current, 0, Preempted).unwrap();
            current = s.pick_next(0).unwrap();
        }
        if now > 200 {
            let worst = last_ran.iter().map(|&t| now - t).max().unwrap_or(0);
            assert!(worst <= 10 * n, "a task waited {worst} ticks");
        }
    }
}

pub fn yield_lets_a_waiting_task_run<S: Scheduler>() {
    let mut s = booted::<S>(1);
    s.enqueue(A, 0, Spawn).unwrap();
    s.enqueue(B, 0, Spawn).unwrap();
    let first = s.pick_next(0).unwrap();
    s.enqueue(first, 0, Yield).unwrap();
    let second = s.pick_next(0).unwrap();
    assert_ne!(first, second);
    s.enqueue(second, 0, Yield).unwrap();
    assert_eq!(s.pick_next(0), Some(first));
}

pub fn yield_alone_keeps_the_cpu<S: Scheduler>() {
    let mut s = booted::<S>(2);
    s.enqueue(A, 0, Spawn).unwrap();
    assert_eq!(s.pick_next(0), Some(A));
    assert_eq!(s.enqueue(A, 0, Yield), Ok(None));
    assert_eq!(s.pick_next(0), Some(A));
    assert!(!s.tick(0, A), "nothing waits: no preemption");
}

pub fn cpu_numbers_out_of_range_are_harmless<S: Scheduler>() {
    let mut s = booted::<S>(2);
    assert_eq!(s.pick_next(7), None);
    assert!(!s.tick(7, A));
    assert_eq!(s.current(7), None);
    assert_eq!(s.queued(7), 0);
    assert!(s.enqueue(A, 99, Spawn).is_ok(), "a bad hint is only a hint");
}

/// Expands to one `#[test]` per check above, for policy `$policy`.
#[macro_export]
macro_rules! conformance_tests {
    ($policy:ty) => {
        $crate::conformance_tests!(@each $policy;
            spawned_task_runs_on_the_idle_cpu_it_names,
            an_idle_cpu_is_named_for_an_ipi_only_once,
            no_ipi_goes_to_a_cpu_that_never_picked,
            spawning_a_known_task_is_refused,
            waking_a_queued_task_does_not_queue_it_twice,
            preempting_a_blocked_task_is_refused,
            blocked_task_is_not_picked_until_woken,
            a_wake_that_beats_the_sleep_cancels_it,
            removed_task_is_never_picked,
            removing_a_running_task_frees_its_cpu,
            a_pinned_task_runs_only_where_its_mask_allows,
            affinity_outside_the_online_cpus_is_refused,
            changing_a_running_tasks_affinity_moves_it_at_its_next_preemption,
            an_idle_cpu_steals_from_a_busy_one,
            idle_cpu_to_wake_names_an_idle_cpu_when_work_waits,
            nobody_starves_among_many_cpu_bound_tasks,
            yield_lets_a_waiting_task_run,
            yield_alone_keeps_the_cpu,
            cpu_numbers_out_of_range_are_harmless,
        );
    };
    (@each $policy:ty; $($check:ident),* $(,)?) => {
        mod conformance {
            $(
                #[test]
                fn $check() {
                    $crate::conformance::$check::<$policy>();
                }
            )*
        }
    };
}
