//! Host tests: `arch_prctl` answers as the Linux kernel this test runs on answers.
//!
//! Each raw call runs in a forked, single-threaded sacrificial process that makes the call
//! and exits at once from the same assembly block, so a base that Linux accepts never
//! lands in the test process (whose own FS base is its TLS).

use super::*;
use core::arch::asm;

/// Forks; the child makes raw syscall `nr(args)` and exits with `-result` (an errno) or
/// 0. Returns that exit code.
fn errno_from_sacrificial_child(nr: u64, args: [u64; 2]) -> u16 {
    let pid: i64;
    // SAFETY: fork (57) duplicates the process; the child runs only the instructions of
    // this block (the syscall, then exit or exit_group) and never returns into Rust, so
    // it cannot disturb the test process. The parent only gets `rax`; rcx and r11 are
    // declared clobbered as the `syscall` instruction requires.
    unsafe {
        asm!(
            "mov eax, 57",
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov rax, r12",
            "syscall",
            "test rax, rax",
            "jz 3f",
            "neg rax",
            "mov rdi, rax",
            "mov eax, 231",
            "syscall",
            "3:",
            "xor edi, edi",
            "mov eax, 60",
            "syscall",
            "2:",
            in("r12") nr,
            in("rdi") args[0],
            in("rsi") args[1],
            lateout("rax") pid,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    assert!(pid > 0, "fork failed: {pid}");
    let mut status = 0i32;
    let ret: i64;
    // SAFETY: wait4(pid, &status, 0, NULL) writes only `status`, a live local.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") 61i64 => ret,
            in("rdi") pid,
            in("rsi") &mut status as *mut i32,
            in("rdx") 0,
            in("r10") 0,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    assert_eq!(ret, pid, "wait4 failed");
    assert_eq!(
        status & 0x7f,
        0,
        "sacrificial child died of signal {}",
        status & 0x7f
    );
    ((status >> 8) & 0xff) as u16
}

struct NoUserMemory;

impl UserMemory for NoUserMemory {
    fn read_bytes(&self, _: usize, _: &mut [u8]) -> Result<(), Errno> {
        Err(Errno::EFAULT)
    }
    fn write_bytes(&self, _: usize, _: &[u8]) -> Result<(), Errno> {
        Err(Errno::EFAULT)
    }
    fn update_u32(&self, _: usize, _: &mut dyn FnMut(u32) -> u32) -> Result<u32, Errno> {
        Err(Errno::EFAULT)
    }
}

struct NullCpu;

impl SegmentBases for NullCpu {
    fn write_fs_base(&self, _: u64) {}
    fn write_gs_base(&self, _: u64) {}
    fn read_fs_base(&self) -> u64 {
        0
    }
    fn read_gs_base(&self) -> u64 {
        0
    }
}

#[test]
fn errnos_match_the_host_kernel() {
    const SYS_ARCH_PRCTL: u64 = 158;
    let cases: &[(&str, u32, u64)] = &[
        ("SET_FS at TASK_SIZE_MAX", ARCH_SET_FS, TASK_SIZE_MAX),
        ("SET_FS non-canonical", ARCH_SET_FS, 1 << 47),
        ("SET_FS kernel half", ARCH_SET_FS, 0xffff_ffff_8000_0000),
        (
            "SET_FS just below TASK_SIZE_MAX",
            ARCH_SET_FS,
            TASK_SIZE_MAX - 1,
        ),
        ("SET_GS at TASK_SIZE_MAX", ARCH_SET_GS, TASK_SIZE_MAX),
        ("SET_GS zero", ARCH_SET_GS, 0),
        ("GET_FS to NULL", ARCH_GET_FS, 0),
        ("GET_GS to kernel half", ARCH_GET_GS, 0xffff_ffff_ffff_f000),
        ("unknown code", 0x9999, 0),
        ("SET_CPUID 0", ARCH_SET_CPUID, 0),
    ];
    for &(what, code, addr) in cases {
        let host = errno_from_sacrificial_child(SYS_ARCH_PRCTL, [code as u64, addr]);
        let ours = match arch_prctl(
            &mut ThreadTls::new(),
            &NullCpu,
            &NoUserMemory,
            code as usize,
            addr as usize,
        ) {
            Ok(_) => 0,
            Err(e) => e.raw(),
        };
        assert_eq!(ours, host, "{what}: Spindle {ours}, host Linux {host}");
    }
}
