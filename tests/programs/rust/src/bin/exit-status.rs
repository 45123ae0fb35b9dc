//! Ends with the status given as the first argument, through std::process::exit.

fn main() {
    let status: i32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    println!("exiting with status {status}");
    std::process::exit(status);
}
