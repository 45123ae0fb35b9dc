//! Prints the policy comparison table: every standard workload of `sched::sim` under
//! each policy. `cargo run -p sched-round-robin --example compare`.

use sched::sim::{Report, run, standard_workloads};
use sched_fair::Fair;
use sched_round_robin::RoundRobin;

fn main() {
    println!("{}", Report::header());
    for workload in standard_workloads() {
        println!("{}", run::<RoundRobin>(&workload));
        println!("{}", run::<Fair>(&workload));
    }
}
