//! `clone` and `clone3`: decoding, Linux's validation, and what Spindle supports.
//!
//! # What this crate is for
//!
//! Both system calls describe a new task. This crate turns either into one
//! [`CloneRequest`], checks it exactly as Linux does (clone(2), and `kernel/fork.c`:
//! `copy_clone_args_from_user`, `clone3_args_valid`, `kernel_clone`, the head of
//! `copy_process`, plus the x86 `copy_thread` rule for `CLONE_SETTLS`), decides whether
//! Spindle can carry it out, and builds the child's register [`syscall::Frame`].
//!
//! The kernel calls, on `clone` and `clone3` respectively:
//!
//! ```text
//! let req = sys_clone::sys_clone(frame.syscall_args(), caller)?;         // or
//! let req = sys_clone::sys_clone3(user_mem, uargs, size, caller)?;
//! // on Err(CloneError::Unsupported(u)): warn once per u.bit(), return u.errno()
//! let child_tls = parent_tls.for_child(req.new_tls());
//! let child_regs = sys_clone::child_frame(&parent_frame, &req);
//! // allocate the tid, write req.parent_tid_ptr(), start the child; the child writes
//! // req.child_settid_ptr() and keeps req.clear_child_tid_ptr() for its exit
//! ```
//!
//! As in Linux, the parent-tid word is written before the child can run, the child-tid
//! word by the child before it first returns to user mode, and a failed write of either
//! is ignored (the thread is created all the same).
//!
//! # What Spindle supports
//!
//! Threads: `CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD`, with any of
//! `CLONE_SYSVSEM`, `CLONE_SETTLS`, `CLONE_PARENT_SETTID`, `CLONE_CHILD_SETTID`,
//! `CLONE_CHILD_CLEARTID`, and the harmless `CLONE_PARENT`, `CLONE_PTRACE`,
//! `CLONE_UNTRACED`, `CLONE_IO`; legacy `clone` also carries musl's `CLONE_DETACHED`,
//! which Linux ignores there. This is what glibc, musl and Rust std ask for, through
//! `clone3` (glibc, Rust) and `clone` (musl).
//!
//! Everything else Linux accepts is refused with the errno of [`Unsupported::errno`]:
//! `EINVAL` for fork-like requests (as Linux answers `fork` on a no-MMU build), for
//! `CLONE_VM` processes, `CLONE_VFORK`, namespaces (as a Linux built without them),
//! private `CLONE_FS`/`CLONE_FILES` and `CLONE_PIDFD`; `EPERM` for `set_tid` (what an
//! unprivileged caller gets on Linux); `EBADF` for `CLONE_INTO_CGROUP` (no descriptor can
//! name a cgroup directory on Spindle). Never `ENOSYS`: glibc would then retry the same
//! request with `clone`, and a supported `clone3` must not look missing.
//!
//! # What it does not do
//!
//! It creates nothing: tids, the thread record, the scheduler and the writes of the tid
//! words belong to the kernel; the FS base of the child comes from the `tls` crate.
#![cfg_attr(not(test), no_std)]

mod check;
mod child;
mod request;
mod support;

pub use check::{Caller, PID_MAX};
pub use child::child_frame;
pub use request::{
    CLONE_ARGS_SIZE_VER0, CLONE_ARGS_SIZE_VER1, CLONE_ARGS_SIZE_VER2, CLONE3_MAX_SIZE,
    CloneRequest, CloneSyscall, MAX_PID_NS_LEVEL,
};
pub use support::Unsupported;

use syscall::{Errno, UserMemory};

/// Why a `clone`/`clone3` was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloneError {
    /// Linux would refuse it too, with this errno.
    Invalid(Errno),
    /// Linux would accept it; Spindle cannot do it yet.
    Unsupported(Unsupported),
}

impl CloneError {
    /// The errno the caller gets.
    pub fn errno(self) -> Errno {
        match self {
            CloneError::Invalid(e) => e,
            CloneError::Unsupported(u) => u.errno(),
        }
    }
}

impl From<Errno> for CloneError {
    fn from(e: Errno) -> CloneError {
        CloneError::Invalid(e)
    }
}

/// `clone(flags, newsp, parent_tid, child_tid, tls)` with the x86_64 argument order
/// (rdi, rsi, rdx, r10, r8: `args` as [`syscall::Frame::syscall_args`] gives them): decodes,
/// validates as Linux does, and refuses what Spindle does not support.
pub fn sys_clone(args: [usize; 6], caller: Caller) -> Result<CloneRequest, CloneError> {
    let req = CloneRequest::from_clone(
        args[0] as u64,
        args[1] as u64,
        args[2],
        args[3],
        args[4] as u64,
    );
    admit(req, caller)
}

/// `clone3(uargs, size)`: reads `struct clone_args` through `mem`, validates as Linux
/// does, and refuses what Spindle does not support.
pub fn sys_clone3(
    mem: &dyn UserMemory,
    uargs: usize,
    size: usize,
    caller: Caller,
) -> Result<CloneRequest, CloneError> {
    let req = CloneRequest::from_clone3(mem, uargs, size)?;
    admit(req, caller)
}

fn admit(req: CloneRequest, caller: Caller) -> Result<CloneRequest, CloneError> {
    req.check(caller)?;
    req.support().map_err(CloneError::Unsupported)?;
    Ok(req)
}

#[cfg(all(test, target_arch = "x86_64", target_os = "linux"))]
mod host_linux;

#[cfg(test)]
mod test_memory;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_memory::{ArgsBuilder, TestMemory};
    use linux_raw_sys::general as g;

    const MUSL: u32 = g::CLONE_VM
        | g::CLONE_FS
        | g::CLONE_FILES
        | g::CLONE_SIGHAND
        | g::CLONE_THREAD
        | g::CLONE_SYSVSEM
        | g::CLONE_SETTLS
        | g::CLONE_PARENT_SETTID
        | g::CLONE_CHILD_CLEARTID
        | g::CLONE_DETACHED;

    #[test]
    fn musl_clone_is_admitted() {
        let args = [MUSL as usize, 0x7000, 0x1000, 0x2000, 0x3000, 0];
        let req = sys_clone(args, Caller::default()).unwrap();
        assert_eq!(req.clear_child_tid_ptr(), Some(0x2000));
        assert_eq!(req.new_tls(), Some(0x3000));
    }

    #[test]
    fn glibc_clone3_of_size_88_is_admitted() {
        let mem = TestMemory::new();
        let flags = u64::from(MUSL & !g::CLONE_DETACHED);
        let args = ArgsBuilder::thread()
            .flags(flags)
            .stack(0x10_0000, 0x80_0000)
            .tls(0x42);
        let at = mem.put(&args.build());
        let req = sys_clone3(&mem, at, 88, Caller::default()).unwrap();
        assert_eq!(req.child_stack_pointer(), Some(0x90_0000));
    }

    #[test]
    fn fork_is_unsupported_with_einval_and_bad_flags_are_invalid() {
        let fork = sys_clone([17, 0, 0, 0, 0, 0], Caller::default());
        assert_eq!(fork, Err(CloneError::Unsupported(Unsupported::Fork)));
        assert_eq!(fork.unwrap_err().errno(), Errno::EINVAL);
        let bad = sys_clone(
            [g::CLONE_SIGHAND as usize, 0, 0, 0, 0, 0],
            Caller::default(),
        );
        assert_eq!(bad, Err(CloneError::Invalid(Errno::EINVAL)));
    }

    #[test]
    fn clone3_errors_come_back_as_invalid() {
        let mem = TestMemory::new();
        let got = sys_clone3(&mem, 0, 8192, Caller::default());
        assert_eq!(got, Err(CloneError::Invalid(Errno::E2BIG)));
    }
}
