//! The syscall dispatcher: one file per syscall family.
//!
//! `syscall_handler` runs for every `syscall` instruction with the saved [`Frame`]. It
//! looks the number up, runs the implementation, and stores the result (or `-errno`)
//! in `rax`. An unknown number returns ENOSYS and is logged once per number.

mod fs;
mod info;
mod memory;
mod signal;
mod thread;
mod time;

use crate::thread as threads;
use core::sync::atomic::{AtomicU64, Ordering};
use linux_raw_sys::general as nr;
use syscall::{Errno, Frame, SysResult};

/// Numbers already reported as unsupported (one bit each, for numbers below 512).
static REPORTED: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

fn report_unknown(n: usize) {
    let (word, bit) = (n / 64, n % 64);
    let first = match REPORTED.get(word) {
        Some(w) => w.fetch_or(1 << bit, Ordering::Relaxed) & (1 << bit) == 0,
        None => true,
    };
    if first {
        tracing::warn!(
            "syscall {} ({}) unsupported: ENOSYS (thread {})",
            n,
            syscall::names::name(n),
            threads::current_tid()
        );
    }
}

#[unsafe(no_mangle)]
extern "C" fn syscall_handler(frame: &mut Frame) {
    let n = frame.syscall_number();
    if n == nr::__NR_rt_sigreturn as usize {
        // Restores every register, rax included: nothing to store.
        crate::signal::sigreturn(frame);
    } else {
        let a = frame.syscall_args();
        let result = dispatch(n, a, frame);
        tracing::trace!(
            "syscall {} ({}) -> {:?}",
            n,
            syscall::names::name(n),
            result
        );
        if result == Err(Errno::EINTR) && restartable(n, &a) {
            threads::current()
                .restart_nr
                .store(n + 1, Ordering::Relaxed);
        }
        frame.rax = match result {
            Ok(v) => v as u64,
            Err(e) => e.to_return_value() as u64,
        };
    }
    threads::resched_if_needed(true);
    crate::signal::deliver_pending(frame);
}

/// Whether a syscall a signal interrupted may be restarted after the handler: Linux's
/// -ERESTARTSYS cases, which restart when the handler has SA_RESTART (or no handler
/// runs). Waits with a timeout, sleeps and pause get EINTR instead.
fn restartable(n: usize, a: &[usize; 6]) -> bool {
    let futex_cmd = a[1] as u32
        & !(linux_raw_sys::general::FUTEX_PRIVATE_FLAG
            | linux_raw_sys::general::FUTEX_CLOCK_REALTIME);
    match n as u32 {
        nr::__NR_read | nr::__NR_readv | nr::__NR_write | nr::__NR_writev => true,
        nr::__NR_futex => {
            (futex_cmd == linux_raw_sys::general::FUTEX_WAIT
                || futex_cmd == linux_raw_sys::general::FUTEX_WAIT_BITSET)
                && a[3] == 0
        }
        _ => false,
    }
}

fn dispatch(n: usize, a: [usize; 6], frame: &mut Frame) -> SysResult {
    let n32 = n as u32;
    match n32 {
        nr::__NR_read => fs::read(a[0] as i32, a[1], a[2]),
        nr::__NR_write => fs::write(a[0] as i32, a[1], a[2]),
        nr::__NR_readv => fs::readv(a[0] as i32, a[1], a[2]),
        nr::__NR_writev => fs::writev(a[0] as i32, a[1], a[2]),
        nr::__NR_pread64 => fs::pread(a[0] as i32, a[1], a[2], a[3] as i64),
        nr::__NR_open => fs::openat(fs::AT_FDCWD, a[0], a[1] as u32),
        nr::__NR_openat => fs::openat(a[0] as i32, a[1], a[2] as u32),
        nr::__NR_close => fs::close(a[0] as i32),
        nr::__NR_lseek => fs::lseek(a[0] as i32, a[1] as i64, a[2] as u32),
        nr::__NR_fstat => fs::fstat(a[0] as i32, a[1]),
        nr::__NR_stat => fs::newfstatat(fs::AT_FDCWD, a[0], a[1], 0),
        nr::__NR_lstat => fs::newfstatat(fs::AT_FDCWD, a[0], a[1], 0),
        nr::__NR_newfstatat => fs::newfstatat(a[0] as i32, a[1], a[2], a[3] as u32),
        nr::__NR_access => fs::faccessat(fs::AT_FDCWD, a[0]),
        nr::__NR_faccessat | nr::__NR_faccessat2 => fs::faccessat(a[0] as i32, a[1]),
        nr::__NR_ioctl => fs::ioctl(a[0] as i32, a[1] as u32, a[2]),
        nr::__NR_fcntl => fs::fcntl(a[0] as i32, a[1] as u32, a[2]),
        nr::__NR_dup => fs::dup(a[0] as i32),
        nr::__NR_dup2 => fs::dup3(a[0] as i32, a[1] as i32, 0, true),
        nr::__NR_dup3 => fs::dup3(a[0] as i32, a[1] as i32, a[2] as u32, false),
        nr::__NR_readlink => fs::readlinkat(fs::AT_FDCWD, a[0], a[1], a[2]),
        nr::__NR_readlinkat => fs::readlinkat(a[0] as i32, a[1], a[2], a[3]),
        nr::__NR_getcwd => fs::getcwd(a[0], a[1]),
        nr::__NR_poll => fs::poll(a[0], a[1], a[2] as i32),
        nr::__NR_ppoll => fs::ppoll(a[0], a[1], a[2], a[3]),
        nr::__NR_pipe => fs::pipe2(a[0], 0),
        nr::__NR_pipe2 => fs::pipe2(a[0], a[1] as u32),
        nr::__NR_brk => memory::brk(a[0]),
        nr::__NR_mmap => memory::mmap(a[0], a[1], a[2], a[3], a[4] as i32, a[5]),
        nr::__NR_munmap => memory::munmap(a[0], a[1]),
        nr::__NR_mprotect => memory::mprotect(a[0], a[1], a[2]),
        nr::__NR_madvise => memory::madvise(a[0], a[1], a[2]),
        nr::__NR_clone => thread::clone(a, frame),
        nr::__NR_clone3 => thread::clone3(a[0], a[1], frame),
        nr::__NR_fork | nr::__NR_vfork => thread::fork(),
        nr::__NR_exit => thread::exit(a[0] as i32),
        nr::__NR_exit_group => thread::exit_group(a[0] as i32),
        nr::__NR_set_tid_address => thread::set_tid_address(a[0]),
        nr::__NR_set_robust_list => thread::set_robust_list(a[0], a[1]),
        nr::__NR_get_robust_list => thread::get_robust_list(a[0] as i32, a[1], a[2]),
        nr::__NR_futex => thread::futex(a),
        nr::__NR_arch_prctl => thread::arch_prctl(a[0], a[1]),
        nr::__NR_gettid => Ok(threads::current_tid() as usize),
        nr::__NR_sched_yield => thread::sched_yield(),
        nr::__NR_sched_getaffinity => thread::sched_getaffinity(a[0] as i32, a[1], a[2]),
        nr::__NR_sched_setaffinity => thread::sched_setaffinity(a[0] as i32, a[1], a[2]),
        nr::__NR_getcpu => thread::getcpu(a[0], a[1]),
        nr::__NR_rseq => Err(Errno::ENOSYS),
        nr::__NR_nanosleep => time::nanosleep(a[0], a[1]),
        nr::__NR_clock_nanosleep => time::clock_nanosleep(a[0] as i32, a[1] as u32, a[2], a[3]),
        nr::__NR_clock_gettime => time::clock_gettime(a[0] as i32, a[1]),
        nr::__NR_clock_getres => time::clock_getres(a[0] as i32, a[1]),
        nr::__NR_gettimeofday => time::gettimeofday(a[0], a[1]),
        nr::__NR_time => time::time(a[0]),
        nr::__NR_times => time::times(a[0]),
        nr::__NR_getrusage => time::getrusage(a[0] as i32, a[1]),
        nr::__NR_alarm => time::alarm(a[0] as u32),
        nr::__NR_setitimer => time::setitimer(a[0] as i32, a[1], a[2]),
        nr::__NR_getitimer => time::getitimer(a[0] as i32, a[1]),
        nr::__NR_rt_sigaction => signal::rt_sigaction(a[0], a[1], a[2], a[3]),
        nr::__NR_rt_sigprocmask => signal::rt_sigprocmask(a[0] as u32, a[1], a[2], a[3]),
        nr::__NR_sigaltstack => signal::sigaltstack(a[0], a[1], frame),
        nr::__NR_rt_sigpending => signal::rt_sigpending(a[0], a[1]),
        nr::__NR_rt_sigsuspend => signal::rt_sigsuspend(a[0], a[1]),
        nr::__NR_rt_sigtimedwait => signal::rt_sigtimedwait(a[0], a[1], a[2], a[3]),
        nr::__NR_pause => signal::pause(),
        nr::__NR_tgkill => signal::tgkill(a[0] as i32, a[1] as i32, a[2]),
        nr::__NR_tkill => signal::tkill(a[0] as i32, a[1]),
        nr::__NR_kill => signal::kill(a[0] as i32, a[1]),
        nr::__NR_getpid | nr::__NR_getpgrp => Ok(crate::process::get().pid as usize),
        nr::__NR_getppid => Ok(0),
        nr::__NR_getuid | nr::__NR_geteuid | nr::__NR_getgid | nr::__NR_getegid => Ok(0),
        nr::__NR_setsid => Err(Errno::EPERM),
        nr::__NR_uname => info::uname(a[0]),
        nr::__NR_prlimit64 => info::prlimit64(a[0] as i32, a[1] as u32, a[2], a[3]),
        nr::__NR_getrlimit => info::prlimit64(0, a[0] as u32, 0, a[1]),
        nr::__NR_getrandom => info::getrandom(a[0], a[1], a[2] as u32),
        nr::__NR_sysinfo => info::sysinfo(a[0]),
        nr::__NR_prctl => info::prctl(a[0] as i32, a[1]),
        _ => {
            report_unknown(n);
            Err(Errno::ENOSYS)
        }
    }
}
