//! A stack overflow in Rust: std's SIGSEGV handler (on its sigaltstack) recognises the
//! guard page and aborts, so the program ends with SIGABRT (134) as on Linux. This needs
//! signal delivery with SA_ONSTACK; without it the fault would end it with SIGSEGV (139).
//!
//! std's message names the thread id, which differs between systems, so stderr is closed
//! first and only the status is compared.
use std::os::fd::FromRawFd;

#[allow(unconditional_recursion)]
fn recurse(n: u64) -> u64 {
    let buf = [n; 64];
    std::hint::black_box(&buf);
    recurse(n + 1) + buf[3]
}

fn main() {
    println!("recursing until the stack overflows");
    // SAFETY: fd 2 is open and owned by nobody else in this program; dropping the File
    // closes it.
    drop(unsafe { std::fs::File::from_raw_fd(2) });
    std::hint::black_box(recurse(0));
}
