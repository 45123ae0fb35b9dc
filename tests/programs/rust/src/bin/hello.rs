//! The Rust baseline: std start-up (glibc static-PIE), one println, exit 0.

fn main() {
    println!("Hello from Rust on Spindle!");
}
