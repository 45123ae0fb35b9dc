//! argv, the environment and the auxiliary vector as Rust std sees them. Prints the
//! arguments (argv[0] as a base name), the environment variables that start with "T_",
//! then checks the auxv entries std and glibc rely on through getauxval.

use std::ffi::{c_ulong, c_void};
use std::process::exit;

const AT_PHDR: c_ulong = 3;
const AT_PHENT: c_ulong = 4;
const AT_PHNUM: c_ulong = 5;
const AT_PAGESZ: c_ulong = 6;
const AT_ENTRY: c_ulong = 9;
const AT_RANDOM: c_ulong = 25;

unsafe extern "C" {
    fn getauxval(kind: c_ulong) -> c_ulong;
    fn _start();
    static __ehdr_start: [u8; 64];
}

fn check(ok: bool, what: &str) {
    if ok {
        println!("{what} ok");
    } else {
        println!("FAIL {what}");
        exit(1);
    }
}

fn auxv(kind: c_ulong) -> c_ulong {
    // SAFETY: getauxval only reads the auxiliary vector libc saved at start-up.
    unsafe { getauxval(kind) }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("argc {}", args.len());
    let argv0 = args[0].rsplit('/').next().unwrap_or("");
    println!("argv[0] {argv0}");
    for (i, a) in args.iter().enumerate().skip(1) {
        println!("argv[{i}] {a}");
    }
    for (k, v) in std::env::vars() {
        if k.starts_with("T_") {
            println!("env {k}={v}");
        }
    }
    check(std::env::var_os("T_MISSING").is_none(), "missing variable");

    check(auxv(AT_PAGESZ) == 4096, "auxv AT_PAGESZ");

    let random = auxv(AT_RANDOM) as *const u8;
    // SAFETY: AT_RANDOM points at 16 bytes the kernel placed on the initial stack.
    let bytes = unsafe { std::slice::from_raw_parts(random, 16) };
    check(!random.is_null() && bytes.iter().any(|&b| b != 0), "auxv AT_RANDOM");

    // SAFETY: __ehdr_start is the linker-defined address of the mapped ELF header.
    let ehdr = unsafe { &__ehdr_start };
    let e_phoff = u64::from_le_bytes(ehdr[32..40].try_into().unwrap_or([0; 8]));
    let e_phnum = u16::from_le_bytes([ehdr[56], ehdr[57]]);
    let base = ehdr.as_ptr() as c_ulong;
    check(&ehdr[0..4] == b"\x7fELF", "ELF header mapped");
    check(auxv(AT_PHDR) == base + e_phoff as c_ulong, "auxv AT_PHDR");
    check(auxv(AT_PHENT) == 56, "auxv AT_PHENT");
    check(auxv(AT_PHNUM) == c_ulong::from(e_phnum), "auxv AT_PHNUM");
    check(auxv(AT_ENTRY) == _start as *const c_void as c_ulong, "auxv AT_ENTRY");
    println!("PASS");
}
