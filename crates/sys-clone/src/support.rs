//! What Spindle can carry out: threads in the caller's address space.

use crate::request::CloneRequest;
use linux_raw_sys::general as g;
use syscall::Errno;

/// A request Linux accepts but Spindle refuses, with the errno the caller gets and a
/// line for the kernel to log once ([`Unsupported::bit`] keys a log-once mask).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsupported {
    /// No `CLONE_VM`: `fork` and its variants. `EINVAL`, as Linux answers `fork` on a
    /// no-MMU build.
    Fork,
    /// `CLONE_VM` without `CLONE_THREAD`: a separate process sharing the memory. `EINVAL`.
    // FIXME: needs processes (own pid, exit signal, wait4); treating it as a thread would
    // give the child the parent's pid and nothing to wait for.
    SharedVmProcess,
    /// `CLONE_VFORK`: the parent would sleep until the child exits or execs. `EINVAL`.
    Vfork,
    /// `CLONE_NEW*`: namespaces. `EINVAL`, as a Linux built without namespaces answers.
    Namespaces,
    /// A thread without `CLONE_FS` or `CLONE_FILES`: Spindle keeps one root, cwd and fd
    /// table per process. `EINVAL`.
    PrivateFsOrFiles,
    /// `CLONE_PIDFD`: Spindle has no pidfds. `EINVAL`.
    Pidfd,
    /// `clone3` `set_tid`: choosing the tid. `EPERM`, what a caller without
    /// `CAP_CHECKPOINT_RESTORE` gets from Linux.
    SetTid,
    /// `CLONE_INTO_CGROUP`: Spindle has no cgroups, so no descriptor names a cgroup
    /// directory. `EBADF`, Linux's answer for such a descriptor.
    IntoCgroup,
}

impl Unsupported {
    /// The errno the calling program gets.
    pub fn errno(self) -> Errno {
        match self {
            Unsupported::SetTid => Errno::EPERM,
            Unsupported::IntoCgroup => Errno::EBADF,
            _ => Errno::EINVAL,
        }
    }

    /// What was asked, for the one-time log line (`clone: unsupported: {}`).
    pub fn description(self) -> &'static str {
        match self {
            Unsupported::Fork => "fork (clone without CLONE_VM)",
            Unsupported::SharedVmProcess => {
                "a process sharing memory (CLONE_VM without CLONE_THREAD)"
            }
            Unsupported::Vfork => "CLONE_VFORK",
            Unsupported::Namespaces => "new namespaces (CLONE_NEW*)",
            Unsupported::PrivateFsOrFiles => "a thread without CLONE_FS or CLONE_FILES",
            Unsupported::Pidfd => "CLONE_PIDFD",
            Unsupported::SetTid => "clone3 set_tid",
            Unsupported::IntoCgroup => "CLONE_INTO_CGROUP",
        }
    }

    /// A distinct bit per kind, so the kernel can log each kind once with one `u32`.
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// Every namespace flag (include/uapi/linux/sched.h). CLONE_NEWTIME shares its value
/// with a CSIGNAL bit, which neither syscall lets through as a flag, so it is not here.
const NAMESPACES: u32 = g::CLONE_NEWNS
    | g::CLONE_NEWCGROUP
    | g::CLONE_NEWUTS
    | g::CLONE_NEWIPC
    | g::CLONE_NEWUSER
    | g::CLONE_NEWPID
    | g::CLONE_NEWNET;

impl CloneRequest {
    /// Whether Spindle can carry out this (already [`checked`](CloneRequest::check))
    /// request: a thread sharing memory, files, fs and signal handlers with the caller.
    ///
    /// Flags that change nothing on Spindle pass: `CLONE_SYSVSEM` (no System V
    /// semaphores), `CLONE_PARENT` (a thread's parent is the group's anyway),
    /// `CLONE_PTRACE`/`CLONE_UNTRACED` (no tracer), `CLONE_IO` (no I/O contexts), and
    /// legacy `CLONE_DETACHED`, which Linux ignores.
    pub fn support(&self) -> Result<(), Unsupported> {
        if !self.has(g::CLONE_VM) {
            return Err(Unsupported::Fork);
        }
        if !self.has(g::CLONE_THREAD) {
            return Err(Unsupported::SharedVmProcess);
        }
        if self.has(g::CLONE_VFORK) {
            return Err(Unsupported::Vfork);
        }
        if self.has(NAMESPACES) {
            return Err(Unsupported::Namespaces);
        }
        let shared = g::CLONE_FS | g::CLONE_FILES;
        if self.flags & u64::from(shared) != u64::from(shared) {
            return Err(Unsupported::PrivateFsOrFiles);
        }
        if self.has(g::CLONE_PIDFD) {
            return Err(Unsupported::Pidfd);
        }
        if self.set_tid_size != 0 {
            return Err(Unsupported::SetTid);
        }
        if self.flags & g::CLONE_INTO_CGROUP != 0 {
            return Err(Unsupported::IntoCgroup);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u32 = g::CLONE_VM | g::CLONE_FS | g::CLONE_FILES | g::CLONE_SIGHAND | g::CLONE_THREAD;

    fn support(flags: u32) -> Result<(), Unsupported> {
        CloneRequest::from_clone(u64::from(flags), 0, 0, 0, 0).support()
    }

    #[test]
    fn libc_thread_requests_are_supported() {
        let extras = g::CLONE_SYSVSEM | g::CLONE_SETTLS | g::CLONE_PARENT_SETTID;
        let glibc = T | extras | g::CLONE_CHILD_CLEARTID;
        assert_eq!(support(glibc), Ok(()));
        assert_eq!(support(glibc | g::CLONE_DETACHED), Ok(()), "musl");
        assert_eq!(
            support(T | g::CLONE_CHILD_SETTID | g::CLONE_PARENT | g::CLONE_IO),
            Ok(())
        );
    }

    #[test]
    fn fork_like_requests_are_unsupported_with_einval() {
        assert_eq!(support(17), Err(Unsupported::Fork));
        assert_eq!(
            support(g::CLONE_VM | g::CLONE_VFORK | 17),
            Err(Unsupported::SharedVmProcess)
        );
        assert_eq!(
            support(g::CLONE_VM | g::CLONE_SIGHAND),
            Err(Unsupported::SharedVmProcess)
        );
        assert_eq!(Unsupported::Fork.errno(), Errno::EINVAL);
    }

    #[test]
    fn vfork_namespaces_private_tables_and_pidfd_threads_are_unsupported() {
        assert_eq!(support(T | g::CLONE_VFORK), Err(Unsupported::Vfork));
        assert_eq!(support(T | g::CLONE_NEWUTS), Err(Unsupported::Namespaces));
        assert_eq!(
            support(T & !g::CLONE_FILES),
            Err(Unsupported::PrivateFsOrFiles)
        );
        assert_eq!(
            support(T & !g::CLONE_FS),
            Err(Unsupported::PrivateFsOrFiles)
        );
        assert_eq!(support(T | g::CLONE_PIDFD), Err(Unsupported::Pidfd));
    }

    #[test]
    fn set_tid_is_eperm_and_into_cgroup_is_ebadf() {
        let mut req = CloneRequest::from_clone(u64::from(T), 0, 0, 0, 0);
        req.set_tid_size = 1;
        assert_eq!(req.support(), Err(Unsupported::SetTid));
        assert_eq!(Unsupported::SetTid.errno(), Errno::EPERM);
        req.set_tid_size = 0;
        req.flags |= g::CLONE_INTO_CGROUP;
        assert_eq!(req.support(), Err(Unsupported::IntoCgroup));
        assert_eq!(Unsupported::IntoCgroup.errno(), Errno::EBADF);
    }

    #[test]
    fn each_kind_has_its_own_log_bit_and_a_description() {
        let all = [
            Unsupported::Fork,
            Unsupported::SharedVmProcess,
            Unsupported::Vfork,
            Unsupported::Namespaces,
            Unsupported::PrivateFsOrFiles,
            Unsupported::Pidfd,
            Unsupported::SetTid,
            Unsupported::IntoCgroup,
        ];
        let mut seen = 0u32;
        for u in all {
            assert_eq!(seen & u.bit(), 0, "{u:?}");
            seen |= u.bit();
            assert!(!u.description().is_empty());
            assert_ne!(
                u.errno(),
                Errno::ENOSYS,
                "glibc would retry clone3 as clone"
            );
        }
    }
}
