//! Host test: every invalid `clone`/`clone3` argument set gets the errno this Linux host's
//! kernel returns for the same raw call, and every valid one passes on both.
//!
//! Safety of the comparison itself: each raw call is made in a forked, single-threaded
//! sacrificial process, from one assembly block that never returns into Rust. When Linux
//! accepts the call, the new task exits at once (it runs only `exit`), the sacrificial
//! process reaps it if it is a process, and then exits itself; so the test process never
//! gains a thread, a child other than the sacrificial one, or a changed register.
//! Cases that would hand a task to the test process (`CLONE_PARENT` siblings) are only
//! used where Linux refuses them.

use crate::{Caller, CloneRequest};
use core::arch::asm;
use linux_raw_sys::general as g;
use syscall::{Errno, UserMemory};

const PAGE: usize = 4096;
const SYS_CLONE: u64 = 56;
const SYS_CLONE3: u64 = 435;

/// Raw syscall `nr(args)` in a sacrificial child; returns its errno, or 0 on success.
fn host_errno(nr: u64, args: [u64; 5]) -> u16 {
    let pid: i64;
    // SAFETY: fork (57) duplicates the process. The child executes only this block: the
    // syscall, then — in a task the call created — `exit`, or in the sacrificial child
    // `wait4` for a created process and `exit_group`. None of these paths touches the
    // stack or memory, and none returns into Rust. The parent only gets rax; rcx and r11
    // are clobbered by `syscall`, rdi/rsi/rdx/r10/r8 survive it and are inputs only.
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
            "js 4f",
            "mov rdi, rax",
            "xor esi, esi",
            "mov edx, 0x40000000",
            "xor r10d, r10d",
            "mov eax, 61",
            "syscall",
            "xor edi, edi",
            "mov eax, 231",
            "syscall",
            "4:",
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
            in("rdx") args[2],
            in("r10") args[3],
            in("r8") args[4],
            lateout("rax") pid,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    assert!(pid > 0, "fork failed: {pid}");
    let mut status = 0i32;
    let ret = raw(61, [pid as u64, &mut status as *mut i32 as u64, 0, 0, 0, 0]);
    assert_eq!(ret, pid, "wait4 failed");
    assert_eq!(
        status & 0x7f,
        0,
        "sacrificial child killed by signal {}",
        status & 0x7f
    );
    ((status >> 8) & 0xff) as u16
}

/// A raw syscall in the test process itself (mmap, munmap, wait4 only).
fn raw(nr: u64, a: [u64; 6]) -> i64 {
    let ret: i64;
    // SAFETY: used only for mmap/munmap of the test's own region and wait4 writing a live
    // local; these do not touch memory Rust owns otherwise.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr as i64 => ret,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            in("r9") a[5],
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    ret
}

/// Three readable pages followed by an unmapped one: pages 0–1 hold stacks and tid
/// words, page 2 holds `struct clone_args` (at its start or its end).
struct Region {
    base: usize,
}

impl Region {
    fn new() -> Region {
        let base = raw(9, [0, 4 * PAGE as u64, 3, 0x22, u64::MAX, 0]);
        assert!(base > 0, "mmap failed: {base}");
        let base = base as usize;
        assert_eq!(
            raw(11, [(base + 3 * PAGE) as u64, PAGE as u64, 0, 0, 0, 0]),
            0
        );
        Region { base }
    }

    fn stack_low(&self) -> u64 {
        self.base as u64
    }

    fn word(&self, i: usize) -> u64 {
        (self.base + 2 * PAGE - 64 + 4 * i) as u64
    }

    /// Clears page 2 and writes `bytes` at its start (or so they end at its end).
    fn place(&self, bytes: &[u8], at_end: bool) -> usize {
        let page = self.base + 2 * PAGE;
        let at = if at_end {
            page + PAGE - bytes.len()
        } else {
            page
        };
        // SAFETY: page 2 of our live read-write mapping; `bytes` fits in it.
        unsafe {
            core::ptr::write_bytes(page as *mut u8, 0, PAGE);
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), at as *mut u8, bytes.len());
        }
        at
    }

    fn write_i32(&self, addr: u64, v: i32) {
        // SAFETY: callers pass `word(i)` addresses inside pages 0–1 of the mapping.
        unsafe { (addr as *mut i32).write_unaligned(v) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        raw(11, [self.base as u64, 3 * PAGE as u64, 0, 0, 0, 0]);
    }
}

impl UserMemory for Region {
    fn read_bytes(&self, addr: usize, dst: &mut [u8]) -> Result<(), Errno> {
        let end = addr.checked_add(dst.len()).ok_or(Errno::EFAULT)?;
        if addr < self.base || end > self.base + 3 * PAGE {
            return Err(Errno::EFAULT);
        }
        // SAFETY: the range lies inside the three mapped pages of this region.
        unsafe { core::ptr::copy_nonoverlapping(addr as *const u8, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    fn write_bytes(&self, _: usize, _: &[u8]) -> Result<(), Errno> {
        Err(Errno::EFAULT)
    }

    fn update_u32(&self, _: usize, _: &mut dyn FnMut(u32) -> u32) -> Result<u32, Errno> {
        Err(Errno::EFAULT)
    }
}

fn code(r: Result<(), Errno>) -> u16 {
    r.map_or_else(|e| e.raw(), |()| 0)
}

const T: u64 = (g::CLONE_VM
    | g::CLONE_FS
    | g::CLONE_FILES
    | g::CLONE_SIGHAND
    | g::CLONE_THREAD
    | g::CLONE_SYSVSEM) as u64;

fn f(bits: u32) -> u64 {
    u64::from(bits)
}

#[test]
fn legacy_clone_errnos_match_the_host_kernel() {
    let mem = Region::new();
    let sp = mem.stack_low() + PAGE as u64;
    let (ptid, ctid) = (mem.word(0), mem.word(1));
    let tls = mem.word(4);
    let glibc = T | f(g::CLONE_SETTLS | g::CLONE_PARENT_SETTID | g::CLONE_CHILD_CLEARTID);
    let cases: &[(&str, u64, u64, u64)] = &[
        ("glibc thread", glibc, sp, tls),
        (
            "musl thread with CLONE_DETACHED",
            glibc | f(g::CLONE_DETACHED),
            sp,
            tls,
        ),
        ("high 32 bits are ignored", T | (1 << 32) | (1 << 40), sp, 0),
        ("fork-like", 17, 0, 0),
        (
            "CLONE_VM process without a stack",
            f(g::CLONE_VM) | 17,
            0,
            0,
        ),
        (
            "legacy exit signal is not checked",
            f(g::CLONE_VM) | 200,
            0,
            0,
        ),
        ("thread with CLONE_PARENT", T | f(g::CLONE_PARENT), sp, 0),
        ("thread with CLONE_VFORK", T | f(g::CLONE_VFORK), sp, 0),
        ("thread with CLONE_PIDFD", T | f(g::CLONE_PIDFD), sp, 0),
        (
            "CLONE_THREAD without CLONE_SIGHAND",
            f(g::CLONE_VM | g::CLONE_THREAD),
            sp,
            0,
        ),
        ("CLONE_SIGHAND without CLONE_VM", f(g::CLONE_SIGHAND), 0, 0),
        (
            "CLONE_NEWNS with CLONE_FS",
            f(g::CLONE_NEWNS | g::CLONE_FS),
            0,
            0,
        ),
        (
            "CLONE_NEWUSER with CLONE_FS",
            f(g::CLONE_NEWUSER | g::CLONE_FS),
            0,
            0,
        ),
        (
            "thread in a new pid namespace",
            T | f(g::CLONE_NEWPID),
            sp,
            0,
        ),
        (
            "thread in a new user namespace",
            (T & !f(g::CLONE_FS)) | f(g::CLONE_NEWUSER),
            sp,
            0,
        ),
        (
            "CLONE_PIDFD with CLONE_PARENT_SETTID",
            f(g::CLONE_PIDFD | g::CLONE_PARENT_SETTID),
            0,
            0,
        ),
        (
            "CLONE_PIDFD with CLONE_DETACHED",
            f(g::CLONE_PIDFD | g::CLONE_DETACHED),
            0,
            0,
        ),
        (
            "CLONE_SETTLS at TASK_SIZE_MAX",
            T | f(g::CLONE_SETTLS),
            sp,
            tls::TASK_SIZE_MAX,
        ),
        (
            "CLONE_SETTLS non-canonical",
            T | f(g::CLONE_SETTLS),
            sp,
            1 << 63,
        ),
        (
            "CLONE_SETTLS just below TASK_SIZE_MAX",
            T | f(g::CLONE_SETTLS),
            sp,
            tls::TASK_SIZE_MAX - 1,
        ),
    ];
    for &(what, flags, newsp, tls) in cases {
        let req = CloneRequest::from_clone(flags, newsp, ptid as usize, ctid as usize, tls);
        let ours = code(req.check(Caller::default()));
        let host = host_errno(SYS_CLONE, [flags, newsp, ptid, ctid, tls]);
        assert_eq!(
            ours, host,
            "clone {what}: Spindle {ours}, host Linux {host}"
        );
    }
}

/// What, struct bytes, `size`, placed to end at the unmapped page, `set_tid` values.
type Clone3Case = (&'static str, Vec<u8>, usize, bool, Option<&'static [i32]>);

/// `struct clone_args` as 11 native-endian words.
fn args_bytes(w: [u64; 11]) -> Vec<u8> {
    w.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

#[test]
fn clone3_errnos_match_the_host_kernel() {
    let mem = Region::new();
    let (low, size) = (mem.stack_low(), 2 * PAGE as u64);
    let (ptid, ctid, pidfd, tids) = (mem.word(0), mem.word(1), mem.word(2), mem.word(8));
    // flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
    // set_tid, set_tid_size, cgroup
    let thread = [T, 0, ctid, ptid, 0, low, size, 0, 0, 0, 0];
    let with = |edit: &dyn Fn(&mut [u64; 11])| {
        let mut w = thread;
        edit(&mut w);
        args_bytes(w)
    };
    let padded = |len: usize, last: u8| {
        let mut b = args_bytes(thread);
        b.resize(len, 0);
        if let Some(x) = b.last_mut() {
            *x = last;
        }
        b
    };
    let top = tls::TASK_SIZE_MAX;
    let tid_ptr = tids;
    let cases: Vec<Clone3Case> = vec![
        ("glibc thread, size 88", args_bytes(thread), 88, false, None),
        ("size 64", args_bytes(thread), 64, false, None),
        ("size 80", args_bytes(thread), 80, false, None),
        ("size 96, zero tail", padded(96, 0), 96, false, None),
        ("size 4096, zero tail", padded(4096, 0), 4096, false, None),
        ("size 96, nonzero tail", padded(96, 1), 96, false, None),
        ("size 4097", padded(4096, 0), 4097, false, None),
        ("size 63", args_bytes(thread), 63, false, None),
        ("size 0", args_bytes(thread), 0, false, None),
        (
            "64-byte struct ending at an unmapped page",
            args_bytes(thread)[..64].to_vec(),
            64,
            true,
            None,
        ),
        (
            "size 72 running into an unmapped page",
            args_bytes(thread)[..64].to_vec(),
            72,
            true,
            None,
        ),
        (
            "size 96 whose tail is unmapped",
            args_bytes(thread),
            96,
            true,
            None,
        ),
        (
            "CSIGNAL bits in flags",
            with(&|w| w[0] |= 17),
            88,
            false,
            None,
        ),
        (
            "CLONE_DETACHED",
            with(&|w| w[0] |= f(g::CLONE_DETACHED)),
            88,
            false,
            None,
        ),
        (
            "unknown flag bit 40",
            with(&|w| w[0] |= 1 << 40),
            88,
            false,
            None,
        ),
        (
            "CLONE_SIGHAND with CLONE_CLEAR_SIGHAND",
            with(&|w| w[0] |= g::CLONE_CLEAR_SIGHAND),
            88,
            false,
            None,
        ),
        (
            "exit_signal 65",
            with(&|w| {
                w[0] = f(g::CLONE_VM);
                w[4] = 65
            }),
            88,
            false,
            None,
        ),
        (
            "exit_signal in upper bits",
            with(&|w| {
                w[0] = f(g::CLONE_VM);
                w[4] = (1 << 32) | 17
            }),
            88,
            false,
            None,
        ),
        (
            "thread with an exit signal",
            with(&|w| w[4] = 17),
            88,
            false,
            None,
        ),
        (
            "CLONE_PARENT with an exit signal",
            with(&|w| {
                w[0] = f(g::CLONE_PARENT);
                w[4] = 17
            }),
            88,
            false,
            None,
        ),
        ("stack without size", with(&|w| w[6] = 0), 88, false, None),
        ("size without stack", with(&|w| w[5] = 0), 88, false, None),
        (
            "stack ending at TASK_SIZE_MAX",
            with(&|w| {
                w[5] = top - 0x1000;
                w[6] = 0x1000
            }),
            88,
            false,
            None,
        ),
        (
            "stack past TASK_SIZE_MAX",
            with(&|w| {
                w[5] = top - 0x1000;
                w[6] = 0x1001
            }),
            88,
            false,
            None,
        ),
        (
            "stack wrapping around",
            with(&|w| {
                w[5] = u64::MAX - 0xfff;
                w[6] = 0x2000
            }),
            88,
            false,
            None,
        ),
        (
            "set_tid_size 33",
            with(&|w| {
                w[8] = tid_ptr;
                w[9] = 33
            }),
            88,
            false,
            None,
        ),
        (
            "set_tid without size",
            with(&|w| w[8] = tid_ptr),
            88,
            false,
            None,
        ),
        (
            "set_tid_size without set_tid",
            with(&|w| w[9] = 1),
            88,
            false,
            None,
        ),
        (
            "set_tid unreadable",
            with(&|w| {
                w[8] = 8;
                w[9] = 1
            }),
            88,
            false,
            None,
        ),
        (
            "set_tid 0",
            with(&|w| {
                w[0] = 0;
                w[4] = 17;
                w[5] = 0;
                w[6] = 0;
                w[8] = tid_ptr;
                w[9] = 1
            }),
            88,
            false,
            Some(&[0]),
        ),
        (
            "set_tid -5",
            with(&|w| {
                w[0] = 0;
                w[4] = 17;
                w[5] = 0;
                w[6] = 0;
                w[8] = tid_ptr;
                w[9] = 1
            }),
            88,
            false,
            Some(&[-5]),
        ),
        (
            "set_tid beyond any pid_max",
            with(&|w| {
                w[0] = 0;
                w[4] = 17;
                w[5] = 0;
                w[6] = 0;
                w[8] = tid_ptr;
                w[9] = 1
            }),
            88,
            false,
            Some(&[i32::MAX]),
        ),
        (
            "set_tid for two namespace levels",
            with(&|w| {
                w[0] = 0;
                w[4] = 17;
                w[5] = 0;
                w[6] = 0;
                w[8] = tid_ptr;
                w[9] = 2
            }),
            88,
            false,
            Some(&[300, 300]),
        ),
        (
            "CLONE_INTO_CGROUP with cgroup above INT_MAX",
            with(&|w| {
                w[0] |= g::CLONE_INTO_CGROUP;
                w[10] = 1 << 31
            }),
            88,
            false,
            None,
        ),
        (
            "CLONE_INTO_CGROUP in a size-80 struct",
            with(&|w| {
                w[0] |= g::CLONE_INTO_CGROUP;
                w[10] = 3
            }),
            80,
            false,
            None,
        ),
        (
            "CLONE_PIDFD on the parent_tid word",
            with(&|w| {
                w[0] |= f(g::CLONE_PIDFD | g::CLONE_PARENT_SETTID);
                w[1] = ptid
            }),
            88,
            false,
            None,
        ),
        (
            "CLONE_PIDFD and CLONE_PARENT_SETTID apart",
            with(&|w| {
                w[0] |= f(g::CLONE_PIDFD | g::CLONE_PARENT_SETTID);
                w[1] = pidfd
            }),
            88,
            false,
            None,
        ),
        (
            "CLONE_THREAD without CLONE_SIGHAND",
            with(&|w| w[0] = f(g::CLONE_VM | g::CLONE_THREAD)),
            88,
            false,
            None,
        ),
        (
            "CLONE_SIGHAND without CLONE_VM",
            with(&|w| w[0] = f(g::CLONE_SIGHAND)),
            88,
            false,
            None,
        ),
        (
            "thread in a new pid namespace",
            with(&|w| w[0] |= f(g::CLONE_NEWPID)),
            88,
            false,
            None,
        ),
        (
            "CLONE_SETTLS at TASK_SIZE_MAX",
            with(&|w| {
                w[0] |= f(g::CLONE_SETTLS);
                w[7] = top
            }),
            88,
            false,
            None,
        ),
        (
            "CLONE_SETTLS valid",
            with(&|w| {
                w[0] |= f(g::CLONE_SETTLS);
                w[7] = ptid
            }),
            88,
            false,
            None,
        ),
    ];
    for (what, bytes, size, at_end, tid_values) in cases {
        for (i, &v) in tid_values.unwrap_or(&[]).iter().enumerate() {
            mem.write_i32(tids + 4 * i as u64, v);
        }
        let at = mem.place(&bytes, at_end);
        let ours = code(
            CloneRequest::from_clone3(&mem, at, size).and_then(|r| r.check(Caller::default())),
        );
        let host = host_errno(SYS_CLONE3, [at as u64, size as u64, 0, 0, 0]);
        assert_eq!(
            ours, host,
            "clone3 {what}: Spindle {ours}, host Linux {host}"
        );
    }
    // A null struct: E2BIG and EINVAL come before the read, EFAULT from it.
    for size in [88usize, 4097, 10] {
        let ours = code(CloneRequest::from_clone3(&mem, 0, size).map(|_| ()));
        let host = host_errno(SYS_CLONE3, [0, size as u64, 0, 0, 0]);
        assert_eq!(
            ours, host,
            "clone3 NULL size {size}: Spindle {ours}, host Linux {host}"
        );
    }
}
