//! The policy comparison run as a test: prints the table (`cargo test -p
//! sched-round-robin --test compare -- --nocapture`) and holds both policies to bounds.

use sched::Scheduler;
use sched::sim::{Report, Workload, run, standard_workloads};
use sched_fair::Fair;
use sched_round_robin::RoundRobin;

fn reports<S: Scheduler>() -> Vec<(Workload, Report)> {
    standard_workloads()
        .into_iter()
        .map(|w| {
            let r = run::<S>(&w);
            (w, r)
        })
        .collect()
}

#[test]
fn comparison_table_prints_and_every_run_keeps_the_rules() {
    let rr = reports::<RoundRobin>();
    let fair = reports::<Fair>();
    println!("{}", Report::header());
    for ((_, a), (_, b)) in rr.iter().zip(&fair) {
        println!("{a}\n{b}");
    }
    for (w, r) in rr.iter().chain(&fair) {
        assert_eq!(
            r.violations, 0,
            "{} broke the interface on {}",
            r.policy, w.name
        );
        assert_eq!(
            r.idle_with_work, 0,
            "{} left a CPU idle with work on {}",
            r.policy, w.name
        );
        assert!(
            r.tasks.iter().all(|t| t.cpu_ticks > 0),
            "{} starved a task on {}",
            r.policy,
            w.name
        );
    }
}

#[test]
fn equal_cpu_bound_tasks_get_equal_shares_when_they_divide_evenly() {
    for (w, r) in reports::<RoundRobin>().iter().chain(&reports::<Fair>()) {
        if w.name.starts_with("8 cpu-bound") {
            assert!(
                r.jain_index() > 0.99,
                "{} on {}: {}",
                r.policy,
                w.name,
                r.jain_index()
            );
            assert!(r.max_min_ratio() < 1.05, "{} on {}", r.policy, w.name);
            assert!(r.utilization() > 0.99, "{} on {}", r.policy, w.name);
        }
    }
}

#[test]
fn fair_policy_balances_three_tasks_on_two_cpus() {
    let w = standard_workloads()
        .into_iter()
        .find(|w| w.name == "3 cpu-bound, 2 cpus")
        .expect("standard workload");
    let r = run::<Fair>(&w);
    assert!(r.jain_index() > 0.99, "{}", r.jain_index());
    assert!(r.max_min_ratio() < 1.1, "{}", r.max_min_ratio());
}

#[test]
fn every_woken_task_runs_within_one_slice_per_task_sharing_its_cpu() {
    for (w, r) in reports::<RoundRobin>().iter().chain(&reports::<Fair>()) {
        // At worst, each other task that shares the CPU runs one 4-tick slice first.
        let per_cpu = w.tasks.len().div_ceil(w.ncpus) as u64;
        let bound = 4 * per_cpu;
        assert!(
            r.max_latency() <= bound,
            "{} on {}: {} ticks",
            r.policy,
            w.name,
            r.max_latency()
        );
    }
}

#[test]
fn the_fair_policy_wakes_sleepers_sooner_than_round_robin() {
    let rr = reports::<RoundRobin>();
    let fair = reports::<Fair>();
    for ((w, a), (_, b)) in rr.iter().zip(&fair) {
        if a.wakeups() > 0 {
            assert!(b.mean_latency() < 1.0, "{}: {}", w.name, b.mean_latency());
            assert!(b.mean_latency() < a.mean_latency(), "{}", w.name);
        }
    }
}
