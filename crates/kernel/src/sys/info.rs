//! System information: uname, prlimit64, getrandom, sysinfo, prctl.

use crate::process::CurrentUser;
use syscall::{Errno, SysResult, UserMemory};

pub fn uname(buf: usize) -> SysResult {
    // struct new_utsname: six 65-byte fields.
    let mut u = [0u8; 6 * 65];
    let fields: [&[u8]; 6] = [
        b"Linux",
        b"spindle",
        b"6.1.0-spindle",
        b"#1 SMP",
        b"x86_64",
        b"(none)",
    ];
    for (i, f) in fields.iter().enumerate() {
        u[i * 65..i * 65 + f.len()].copy_from_slice(f);
    }
    CurrentUser.write_bytes(buf, &u)?;
    Ok(0)
}

const RLIM_INFINITY: u64 = u64::MAX;

fn limit(resource: u32) -> Result<(u64, u64), Errno> {
    Ok(match resource {
        3 => (crate::process::STACK_SIZE as u64, RLIM_INFINITY), // RLIMIT_STACK
        7 => (crate::files::MAX_FDS as u64, crate::files::MAX_FDS as u64), // RLIMIT_NOFILE
        4 => (0, RLIM_INFINITY),                                 // RLIMIT_CORE
        0..=15 => (RLIM_INFINITY, RLIM_INFINITY),
        _ => return Err(Errno::EINVAL),
    })
}

pub fn prlimit64(pid: i32, resource: u32, new: usize, old: usize) -> SysResult {
    if pid != 0 && pid != 1 {
        return Err(Errno::ESRCH);
    }
    let (cur, max) = limit(resource)?;
    if new != 0 {
        let c = CurrentUser.read_u64(new)?;
        let m = CurrentUser.read_u64(new + 8)?;
        if c > m {
            return Err(Errno::EINVAL);
        }
        if m > max {
            return Err(Errno::EPERM);
        }
    }
    if old != 0 {
        CurrentUser.write_u64(old, cur)?;
        CurrentUser.write_u64(old + 8, max)?;
    }
    Ok(0)
}

pub fn getrandom(buf: usize, len: usize, flags: u32) -> SysResult {
    // GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE
    if flags & !0x7 != 0 || (flags & 0x2 != 0 && flags & 0x4 != 0) {
        return Err(Errno::EINVAL);
    }
    let len = len.min(33_554_431);
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len());
        crate::random::fill(&mut chunk[..n]);
        match crate::uaccess::write_partial(buf + done, &chunk[..n]) {
            Ok(got) if got == n => done += n,
            Ok(got) => return Ok(done + got),
            Err(e) => return if done == 0 { Err(e) } else { Ok(done) },
        }
    }
    Ok(done)
}

pub fn sysinfo(buf: usize) -> SysResult {
    let (free, total) = crate::memory::frame_counts();
    let mut info = [0u8; 112];
    let up = crate::clock::monotonic_ns() / 1_000_000_000;
    info[0..8].copy_from_slice(&up.to_ne_bytes());
    info[32..40].copy_from_slice(&(total * 4096).to_ne_bytes());
    info[40..48].copy_from_slice(&(free * 4096).to_ne_bytes());
    let procs = crate::thread::LIVE_THREADS.load(core::sync::atomic::Ordering::Relaxed) as u16;
    info[80..82].copy_from_slice(&procs.to_ne_bytes());
    info[104..108].copy_from_slice(&1u32.to_ne_bytes()); // mem_unit
    CurrentUser.write_bytes(buf, &info)?;
    Ok(0)
}

pub fn prctl(option: i32, _arg: usize) -> SysResult {
    match option {
        15 | 16 => Ok(0), // PR_SET_NAME, PR_GET_NAME (names are not kept)
        _ => Err(Errno::EINVAL),
    }
}
