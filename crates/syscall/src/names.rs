//! Syscall names for logs (`syscall 334 (rseq) unsupported`).

/// The name of x86_64 syscall `nr`, or `"?"`.
pub fn name(nr: usize) -> &'static str {
    use linux_raw_sys::general as g;
    macro_rules! table {
        ($($n:ident),* $(,)?) => {
            $(if nr == g::$n as usize { return &stringify!($n)[5..]; })*
        };
    }
    table!(
        __NR_read,
        __NR_write,
        __NR_open,
        __NR_close,
        __NR_stat,
        __NR_fstat,
        __NR_lstat,
        __NR_poll,
        __NR_lseek,
        __NR_mmap,
        __NR_mprotect,
        __NR_munmap,
        __NR_brk,
        __NR_rt_sigaction,
        __NR_rt_sigprocmask,
        __NR_rt_sigreturn,
        __NR_ioctl,
        __NR_pread64,
        __NR_pwrite64,
        __NR_readv,
        __NR_writev,
        __NR_access,
        __NR_pipe,
        __NR_select,
        __NR_sched_yield,
        __NR_mremap,
        __NR_msync,
        __NR_mincore,
        __NR_madvise,
        __NR_dup,
        __NR_dup2,
        __NR_pause,
        __NR_nanosleep,
        __NR_getitimer,
        __NR_alarm,
        __NR_setitimer,
        __NR_getpid,
        __NR_sendfile,
        __NR_socket,
        __NR_clone,
        __NR_fork,
        __NR_vfork,
        __NR_execve,
        __NR_exit,
        __NR_wait4,
        __NR_kill,
        __NR_uname,
        __NR_fcntl,
        __NR_flock,
        __NR_fsync,
        __NR_getcwd,
        __NR_chdir,
        __NR_readlink,
        __NR_gettimeofday,
        __NR_getrlimit,
        __NR_getrusage,
        __NR_sysinfo,
        __NR_times,
        __NR_getuid,
        __NR_getgid,
        __NR_geteuid,
        __NR_getegid,
        __NR_getppid,
        __NR_getpgrp,
        __NR_setsid,
        __NR_sigaltstack,
        __NR_arch_prctl,
        __NR_prctl,
        __NR_gettid,
        __NR_tkill,
        __NR_futex,
        __NR_sched_setaffinity,
        __NR_sched_getaffinity,
        __NR_set_tid_address,
        __NR_clock_gettime,
        __NR_clock_getres,
        __NR_clock_nanosleep,
        __NR_exit_group,
        __NR_tgkill,
        __NR_openat,
        __NR_newfstatat,
        __NR_readlinkat,
        __NR_set_robust_list,
        __NR_get_robust_list,
        __NR_pipe2,
        __NR_prlimit64,
        __NR_getrandom,
        __NR_statx,
        __NR_rseq,
        __NR_clone3,
        __NR_membarrier,
        __NR_faccessat,
        __NR_faccessat2,
        __NR_getdents64,
        __NR_sched_getparam,
        __NR_sched_getscheduler,
        __NR_futex_waitv,
    );
    "?"
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_known_syscalls() {
        assert_eq!(super::name(0), "read");
        assert_eq!(super::name(435), "clone3");
        assert_eq!(super::name(100_000), "?");
    }
}
