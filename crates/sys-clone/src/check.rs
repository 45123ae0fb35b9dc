//! Linux's checks on a decoded request that both system calls share: `kernel_clone`, the
//! head of `copy_process`, and the later steps that can still refuse before anything is
//! visible (the x86 TLS rule of `copy_thread`, the `set_tid` values of `alloc_pid`).

use crate::request::CloneRequest;
use linux_raw_sys::general as g;
use syscall::Errno;

/// What the checks need to know about the calling thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    /// The caller's process is the init of its pid namespace (Linux's
    /// `SIGNAL_UNKILLABLE`): it may not create siblings with `CLONE_PARENT`.
    pub is_init: bool,
}

/// Highest pid plus one that `set_tid` may name: Linux's default `pid_max`
/// (`PID_MAX_DEFAULT`), which is also what Spindle hands out below.
pub const PID_MAX: i32 = 0x8000;

impl CloneRequest {
    /// Checks the flag combination and arguments as Linux does, in Linux's order, and
    /// returns the errno Linux would return. Passing says only that Linux would go on;
    /// [`CloneRequest::support`] says whether Spindle can.
    pub fn check(&self, caller: Caller) -> Result<(), Errno> {
        let both = |a: u32, b: u32| self.flags & u64::from(a | b) == u64::from(a | b);

        // kernel_clone: the pidfd and the parent tid cannot share one word, which for
        // legacy clone (pidfd passed in parent_tid) means never both flags.
        if both(g::CLONE_PIDFD, g::CLONE_PARENT_SETTID) && self.pidfd == self.parent_tid {
            return Err(Errno::EINVAL);
        }
        // copy_process: a task in a new mount or user namespace may not share the root
        // and cwd of one outside it.
        if both(g::CLONE_NEWNS, g::CLONE_FS) || both(g::CLONE_NEWUSER, g::CLONE_FS) {
            return Err(Errno::EINVAL);
        }
        // Thread groups share signal handlers; shared handlers need a shared VM.
        if self.has(g::CLONE_THREAD) && !self.has(g::CLONE_SIGHAND) {
            return Err(Errno::EINVAL);
        }
        if self.has(g::CLONE_SIGHAND) && !self.has(g::CLONE_VM) {
            return Err(Errno::EINVAL);
        }
        // Init may not create siblings: they would have no one to reap them.
        if self.has(g::CLONE_PARENT) && caller.is_init {
            return Err(Errno::EINVAL);
        }
        // A thread stays in its group's pid and user namespace.
        if self.has(g::CLONE_THREAD) && self.has(g::CLONE_NEWUSER | g::CLONE_NEWPID) {
            return Err(Errno::EINVAL);
        }
        // CLONE_DETACHED is held back for a future pidfd meaning (Linux 6.9 and later
        // allow CLONE_PIDFD with CLONE_THREAD, as the host kernel confirms).
        if both(g::CLONE_PIDFD, g::CLONE_DETACHED) {
            return Err(Errno::EINVAL);
        }
        // x86 copy_thread: the new FS base obeys the ARCH_SET_FS rule (EPERM).
        if let Some(base) = self.new_tls() {
            tls::check_user_base(base)?;
        }
        // alloc_pid: Spindle has one pid namespace (level 0), so one value at most, and
        // each must be a pid that could exist.
        if self.set_tid_size > 1 {
            return Err(Errno::EINVAL);
        }
        if self
            .set_tid_values()
            .iter()
            .any(|tid| !(1..PID_MAX).contains(tid))
        {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u32 = g::CLONE_VM
        | g::CLONE_FS
        | g::CLONE_FILES
        | g::CLONE_SIGHAND
        | g::CLONE_THREAD
        | g::CLONE_SYSVSEM;

    fn legacy(flags: u32) -> CloneRequest {
        CloneRequest::from_clone(u64::from(flags), 0x7000, 0x1000, 0x2000, 0x3000)
    }

    fn check(flags: u32) -> Result<(), Errno> {
        legacy(flags).check(Caller::default())
    }

    #[test]
    fn glibc_and_musl_thread_flags_pass() {
        let glibc = T | g::CLONE_SETTLS | g::CLONE_PARENT_SETTID | g::CLONE_CHILD_CLEARTID;
        assert_eq!(check(glibc), Ok(()));
        assert_eq!(
            check(glibc | g::CLONE_DETACHED),
            Ok(()),
            "musl's legacy bit"
        );
    }

    #[test]
    fn thread_without_sighand_is_einval() {
        assert_eq!(check(g::CLONE_VM | g::CLONE_THREAD), Err(Errno::EINVAL));
    }

    #[test]
    fn sighand_without_vm_is_einval() {
        assert_eq!(check(g::CLONE_SIGHAND), Err(Errno::EINVAL));
    }

    #[test]
    fn new_mount_or_user_namespace_with_shared_fs_is_einval() {
        assert_eq!(check(g::CLONE_NEWNS | g::CLONE_FS), Err(Errno::EINVAL));
        assert_eq!(check(g::CLONE_NEWUSER | g::CLONE_FS), Err(Errno::EINVAL));
        assert_eq!(check(g::CLONE_NEWNS), Ok(()));
    }

    #[test]
    fn thread_in_new_pid_or_user_namespace_is_einval() {
        assert_eq!(check(T | g::CLONE_NEWPID), Err(Errno::EINVAL));
        let no_fs = T & !g::CLONE_FS;
        assert_eq!(check(no_fs | g::CLONE_NEWUSER), Err(Errno::EINVAL));
    }

    #[test]
    fn clone_parent_from_init_is_einval() {
        let init = Caller { is_init: true };
        assert_eq!(legacy(T | g::CLONE_PARENT).check(init), Err(Errno::EINVAL));
        assert_eq!(legacy(T).check(init), Ok(()));
        assert_eq!(check(T | g::CLONE_PARENT), Ok(()));
    }

    #[test]
    fn legacy_pidfd_with_parent_settid_is_einval() {
        assert_eq!(
            check(g::CLONE_PIDFD | g::CLONE_PARENT_SETTID),
            Err(Errno::EINVAL)
        );
        assert_eq!(check(g::CLONE_PIDFD), Ok(()));
    }

    #[test]
    fn clone3_pidfd_with_parent_settid_is_einval_only_on_the_same_word() {
        let mut req = legacy(g::CLONE_PIDFD | g::CLONE_PARENT_SETTID);
        req.pidfd = 0x1000;
        req.parent_tid = 0x1000;
        assert_eq!(req.check(Caller::default()), Err(Errno::EINVAL));
        req.pidfd = 0x1004;
        assert_eq!(req.check(Caller::default()), Ok(()));
    }

    #[test]
    fn pidfd_with_detached_is_einval_but_with_thread_is_allowed() {
        assert_eq!(
            check(g::CLONE_PIDFD | g::CLONE_DETACHED),
            Err(Errno::EINVAL)
        );
        assert_eq!(check(T | g::CLONE_PIDFD), Ok(()));
    }

    #[test]
    fn settls_with_base_outside_user_space_is_eperm() {
        let mut req = legacy(T | g::CLONE_SETTLS);
        req.tls = tls::TASK_SIZE_MAX;
        assert_eq!(req.check(Caller::default()), Err(Errno::EPERM));
        req.tls = tls::TASK_SIZE_MAX - 1;
        assert_eq!(req.check(Caller::default()), Ok(()));
        let mut no_settls = legacy(T);
        no_settls.tls = u64::MAX;
        assert_eq!(
            no_settls.check(Caller::default()),
            Ok(()),
            "tls ignored without SETTLS"
        );
    }

    #[test]
    fn set_tid_values_must_be_possible_pids_in_one_level() {
        let mut req = legacy(0);
        req.set_tid_size = 1;
        for (tid, want) in [
            (0, Err(Errno::EINVAL)),
            (-5, Err(Errno::EINVAL)),
            (PID_MAX, Err(Errno::EINVAL)),
            (300, Ok(())),
        ] {
            req.set_tid[0] = tid;
            assert_eq!(req.check(Caller::default()), want, "set_tid {tid}");
        }
        req.set_tid_size = 2;
        req.set_tid[1] = 300;
        assert_eq!(req.check(Caller::default()), Err(Errno::EINVAL));
    }
}
