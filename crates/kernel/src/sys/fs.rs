//! File syscalls: the console and read-only initrd files.

use crate::files::{self, Node, OpenFile};
use crate::process::{self, CurrentUser};
use crate::uaccess;
use alloc::sync::Arc;
use linux_raw_sys::general as g;
use syscall::{Errno, SysResult, UserMemory, write_pod};

pub const AT_FDCWD: i32 = -100;

fn file(fd: i32) -> Result<Arc<OpenFile>, Errno> {
    process::get().files.lock().get(fd)
}

/// Bytes of one write the console prints as a unit: writes and writevs up to this size
/// never interleave with another thread's (Linux's tty write lock covers a whole call).
const CONSOLE_UNIT: usize = 64 * 1024;

/// Writes the user ranges `iov` to the console, in units of up to `CONSOLE_UNIT` bytes;
/// stops at the first unreadable byte. EFAULT only if nothing was written.
fn console_write(iov: &[(usize, usize)]) -> SysResult {
    let mut unit = alloc::vec::Vec::new();
    let mut done = 0;
    let mut faulted = false;
    'ranges: for &(base, len) in iov {
        let mut at = 0;
        while at < len {
            let n = (len - at).min(CONSOLE_UNIT - unit.len());
            let old = unit.len();
            unit.resize(old + n, 0);
            let got = uaccess::read_partial(base + at, &mut unit[old..]).unwrap_or(0);
            unit.truncate(old + got);
            at += got;
            if got < n {
                faulted = true;
                break 'ranges;
            }
            if unit.len() == CONSOLE_UNIT {
                crate::serial::CONSOLE.write(&unit);
                done += unit.len();
                unit.clear();
            }
        }
    }
    if !unit.is_empty() {
        crate::serial::CONSOLE.write(&unit);
        done += unit.len();
    }
    if faulted && done == 0 {
        Err(Errno::EFAULT)
    } else {
        Ok(done)
    }
}

/// Copies file bytes to the user buffer: a partly unmapped buffer gets what fits before
/// the first bad byte (the short count), as Linux does.
fn file_read(f: &OpenFile, data: &[u8], buf: usize, len: usize, at: Option<u64>) -> SysResult {
    let mut off = f.offset.lock();
    let pos = at.unwrap_or(*off);
    let start = (pos as usize).min(data.len());
    let n = len.min(data.len() - start);
    let copied = uaccess::write_partial(buf, &data[start..start + n])?;
    if at.is_none() {
        *off = (start + copied) as u64;
    }
    Ok(copied)
}

fn do_read(fd: i32, buf: usize, len: usize, at: Option<u64>) -> SysResult {
    let f = file(fd)?;
    if len > isize::MAX as usize {
        return Err(Errno::EINVAL);
    }
    uaccess::check_range(buf, len)?;
    match &f.node {
        // No console input: stdin reads as end of file.
        Node::Console => Ok(0),
        Node::File { data, .. } => file_read(&f, data.bytes(), buf, len, at),
        Node::Dir { .. } => Err(Errno::EISDIR),
        Node::Pipe {
            write_end: true, ..
        } => Err(Errno::EBADF),
        Node::Pipe { pipe, .. } if at.is_none() => pipe_read(pipe, &f, buf, len),
        Node::Pipe { .. } => Err(Errno::ESPIPE),
    }
}

pub fn read(fd: i32, buf: usize, len: usize) -> SysResult {
    do_read(fd, buf, len, None)
}

pub fn pread(fd: i32, buf: usize, len: usize, off: i64) -> SysResult {
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    let f = file(fd)?;
    if matches!(f.node, Node::Console | Node::Pipe { .. }) {
        return Err(Errno::ESPIPE);
    }
    do_read(fd, buf, len, Some(off as u64))
}

pub fn write(fd: i32, buf: usize, len: usize) -> SysResult {
    let f = file(fd)?;
    uaccess::check_range(buf, len)?;
    write_ranges(&f, &[(buf, len)])
}

/// Writes user ranges to an open file: the console or a pipe's write end.
fn write_ranges(f: &OpenFile, ranges: &[(usize, usize)]) -> SysResult {
    match &f.node {
        Node::Console => console_write(ranges),
        Node::Pipe {
            pipe,
            write_end: true,
        } => pipe_write(pipe, f, ranges),
        _ => Err(Errno::EBADF),
    }
}

/// Copies the user ranges into kernel memory, up to `max` bytes and the first bad byte.
fn gather(ranges: &[(usize, usize)], max: usize) -> Result<alloc::vec::Vec<u8>, Errno> {
    let mut out = alloc::vec::Vec::new();
    for &(base, len) in ranges {
        let n = len.min(max - out.len());
        let old = out.len();
        out.resize(old + n, 0);
        let got = uaccess::read_partial(base, &mut out[old..]).unwrap_or(0);
        out.truncate(old + got);
        if got < n || out.len() == max {
            break;
        }
    }
    let wanted: usize = ranges.iter().map(|r| r.1).sum();
    if out.is_empty() && wanted > 0 {
        Err(Errno::EFAULT)
    } else {
        Ok(out)
    }
}

fn pipe_write(pipe: &crate::pipe::Pipe, f: &OpenFile, ranges: &[(usize, usize)]) -> SysResult {
    let total: usize = ranges.iter().map(|r| r.1).sum();
    if total == 0 {
        return Ok(0);
    }
    // At most one pipe's worth at a time, so a huge write does not fill the kernel heap.
    let mut done = 0;
    let mut skip = 0;
    while done < total {
        let rest = skip_ranges(ranges, skip);
        let data = gather(&rest, crate::pipe::CAPACITY)?;
        let n = match pipe.write(&data, f.nonblocking()) {
            Ok(n) => n,
            Err(e) => return if done > 0 { Ok(done) } else { Err(e) },
        };
        done += n;
        skip += n;
        if n < data.len() || data.len() < rest.iter().map(|r| r.1).sum() {
            break;
        }
    }
    Ok(done)
}

/// `ranges` without their first `skip` bytes.
fn skip_ranges(ranges: &[(usize, usize)], mut skip: usize) -> alloc::vec::Vec<(usize, usize)> {
    let mut out = alloc::vec::Vec::new();
    for &(base, len) in ranges {
        if skip >= len {
            skip -= len;
            continue;
        }
        out.push((base + skip, len - skip));
        skip = 0;
    }
    out
}

fn pipe_read(pipe: &crate::pipe::Pipe, f: &OpenFile, buf: usize, len: usize) -> SysResult {
    let data = pipe.read(len.min(crate::pipe::CAPACITY), f.nonblocking())?;
    uaccess::write_partial(buf, &data)
}

/// pipe2(2): a new pipe; fds[0] reads, fds[1] writes.
pub fn pipe2(fds: usize, flags: u32) -> SysResult {
    if flags & !(g::O_CLOEXEC | g::O_NONBLOCK | g::O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    uaccess::check_range(fds, 8)?;
    let pipe = crate::pipe::Pipe::new();
    let status = flags & g::O_NONBLOCK;
    let r = OpenFile::new(
        Node::Pipe {
            pipe: pipe.clone(),
            write_end: false,
        },
        g::O_RDONLY | status,
    );
    let w = OpenFile::new(
        Node::Pipe {
            pipe,
            write_end: true,
        },
        g::O_WRONLY | status,
    );
    let cloexec = flags & g::O_CLOEXEC != 0;
    let (rfd, wfd) = {
        let mut t = process::get().files.lock();
        let rfd = t.install(r, 0, cloexec)?;
        match t.install(w, 0, cloexec) {
            Ok(wfd) => (rfd, wfd),
            Err(e) => {
                let _ = t.close(rfd);
                return Err(e);
            }
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&rfd.to_ne_bytes());
    out[4..].copy_from_slice(&wfd.to_ne_bytes());
    if let Err(e) = CurrentUser.write_bytes(fds, &out) {
        let mut t = process::get().files.lock();
        let _ = t.close(rfd);
        let _ = t.close(wfd);
        return Err(e);
    }
    Ok(0)
}

fn iovecs(iov: usize, cnt: usize) -> Result<alloc::vec::Vec<(usize, usize)>, Errno> {
    if cnt > 1024 {
        return Err(Errno::EINVAL);
    }
    let mut v = alloc::vec::Vec::with_capacity(cnt);
    for i in 0..cnt {
        let base = CurrentUser.read_u64(iov + i * 16)? as usize;
        let len = CurrentUser.read_u64(iov + i * 16 + 8)? as usize;
        if len > isize::MAX as usize {
            return Err(Errno::EINVAL);
        }
        uaccess::check_range(base, len)?;
        v.push((base, len));
    }
    Ok(v)
}

/// writev(2): the iovecs go out as one unit (see `CONSOLE_UNIT`).
pub fn writev(fd: i32, iov: usize, cnt: usize) -> SysResult {
    let f = file(fd)?;
    let ranges = iovecs(iov, cnt)?;
    write_ranges(&f, &ranges)
}

pub fn readv(fd: i32, iov: usize, cnt: usize) -> SysResult {
    file(fd)?;
    let mut total = 0;
    for (base, len) in iovecs(iov, cnt)? {
        match read(fd, base, len) {
            Ok(0) => break,
            Ok(n) => {
                total += n;
                if n < len {
                    break;
                }
            }
            Err(e) => return if total == 0 { Err(e) } else { Ok(total) },
        }
    }
    Ok(total)
}

fn user_path(ptr: usize) -> Result<alloc::string::String, Errno> {
    let bytes = process::read_c_string(ptr, 4096)?;
    if bytes.is_empty() {
        return Err(Errno::ENOENT);
    }
    alloc::string::String::from_utf8(bytes).map_err(|_| Errno::ENOENT)
}

/// Resolves `path` relative to `dirfd` (only AT_FDCWD and absolute paths: the working
/// directory is `/`).
fn resolve(dirfd: i32, path: &str) -> Result<alloc::string::String, Errno> {
    if !path.starts_with('/') && dirfd != AT_FDCWD {
        let f = file(dirfd)?;
        if !matches!(f.node, Node::Dir { .. }) {
            return Err(Errno::ENOTDIR);
        }
    }
    Ok(files::normalize(path))
}

pub fn openat(dirfd: i32, path: usize, flags: u32) -> SysResult {
    let path = user_path(path)?;
    let path = resolve(dirfd, &path)?;
    let acc = flags & g::O_ACCMODE;
    let node = match files::open(&path) {
        Ok(n) => n,
        Err(Errno::ENOENT) if flags & g::O_CREAT != 0 => return Err(Errno::EROFS),
        Err(e) => return Err(e),
    };
    if flags & g::O_CREAT != 0 && flags & g::O_EXCL != 0 {
        return Err(Errno::EEXIST);
    }
    match &node {
        Node::Dir { .. } if acc != g::O_RDONLY => return Err(Errno::EISDIR),
        Node::File { .. } if acc != g::O_RDONLY || flags & g::O_TRUNC != 0 => {
            return Err(Errno::EROFS);
        }
        Node::File { .. } if flags & g::O_DIRECTORY != 0 => return Err(Errno::ENOTDIR),
        _ => {}
    }
    let f = OpenFile::new(
        node,
        flags & !(g::O_CREAT | g::O_EXCL | g::O_TRUNC | g::O_CLOEXEC),
    );
    process::get()
        .files
        .lock()
        .install(f, 0, flags & g::O_CLOEXEC != 0)
        .map(|fd| fd as usize)
}

pub fn close(fd: i32) -> SysResult {
    process::get().files.lock().close(fd).map(|_| 0)
}

pub fn lseek(fd: i32, off: i64, whence: u32) -> SysResult {
    let f = file(fd)?;
    let size = match &f.node {
        Node::File { data, .. } => data.bytes().len() as i64,
        Node::Dir { .. } => 0,
        Node::Console | Node::Pipe { .. } => return Err(Errno::ESPIPE),
    };
    let mut cur = f.offset.lock();
    let base = match whence {
        g::SEEK_SET => 0,
        g::SEEK_CUR => *cur as i64,
        g::SEEK_END => size,
        _ => return Err(Errno::EINVAL),
    };
    let new = base.checked_add(off).ok_or(Errno::EOVERFLOW)?;
    if new < 0 {
        return Err(Errno::EINVAL);
    }
    *cur = new as u64;
    Ok(new as usize)
}

fn stat_of(node: &Node) -> g::stat {
    // SAFETY: `stat` is plain old data; all-zero is a valid value.
    let mut st: g::stat = unsafe { core::mem::zeroed() };
    st.st_dev = 1;
    st.st_nlink = 1;
    st.st_blksize = 4096;
    match node {
        Node::Console => {
            st.st_mode = g::S_IFCHR | 0o620;
            st.st_rdev = (4 << 8) | 64;
            st.st_ino = 3;
        }
        Node::File { data, ino } => {
            let len = data.bytes().len() as i64;
            st.st_mode = g::S_IFREG | 0o755;
            st.st_size = len;
            st.st_blocks = (len + 511) / 512;
            st.st_ino = *ino;
        }
        Node::Dir { ino } => {
            st.st_mode = g::S_IFDIR | 0o755;
            st.st_nlink = 2;
            st.st_ino = *ino;
        }
        Node::Pipe { .. } => {
            st.st_mode = g::S_IFIFO | 0o600;
            st.st_dev = 2;
        }
    }
    st
}

pub fn fstat(fd: i32, buf: usize) -> SysResult {
    let f = file(fd)?;
    write_pod(&CurrentUser, buf, &stat_of(&f.node))?;
    Ok(0)
}

pub fn newfstatat(dirfd: i32, path: usize, buf: usize, flags: u32) -> SysResult {
    let p = process::read_c_string(path, 4096)?;
    if p.is_empty() {
        if flags & g::AT_EMPTY_PATH != 0 {
            return fstat(dirfd, buf);
        }
        return Err(Errno::ENOENT);
    }
    let p = alloc::string::String::from_utf8(p).map_err(|_| Errno::ENOENT)?;
    let node = files::open(&resolve(dirfd, &p)?)?;
    write_pod(&CurrentUser, buf, &stat_of(&node))?;
    Ok(0)
}

pub fn faccessat(dirfd: i32, path: usize) -> SysResult {
    let p = user_path(path)?;
    files::open(&resolve(dirfd, &p)?).map(|_| 0)
}

pub fn ioctl(fd: i32, cmd: u32, arg: usize) -> SysResult {
    let f = file(fd)?;
    if let Node::Pipe {
        pipe,
        write_end: false,
    } = &f.node
        && cmd == linux_raw_sys::ioctl::FIONREAD
    {
        CurrentUser.write_u32(arg, pipe.len() as u32)?;
        return Ok(0);
    }
    if !matches!(f.node, Node::Console) {
        return Err(Errno::ENOTTY);
    }
    match cmd {
        linux_raw_sys::ioctl::TCGETS => {
            // A plain terminal: output post-processing on, canonical input with echo.
            // SAFETY: termios is plain old data.
            let mut t: g::termios = unsafe { core::mem::zeroed() };
            t.c_iflag = g::ICRNL;
            t.c_oflag = g::OPOST | g::ONLCR;
            t.c_cflag = g::B115200 | g::CS8 | g::CREAD;
            t.c_lflag = g::ISIG | g::ICANON | g::ECHO;
            write_pod(&CurrentUser, arg, &t)?;
            Ok(0)
        }
        linux_raw_sys::ioctl::TIOCGWINSZ => {
            let ws = g::winsize {
                ws_row: 24,
                ws_col: 80,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            write_pod(&CurrentUser, arg, &ws)?;
            Ok(0)
        }
        linux_raw_sys::ioctl::TCSETS
        | linux_raw_sys::ioctl::TCSETSW
        | linux_raw_sys::ioctl::TCSETSF => Ok(0),
        _ => Err(Errno::ENOTTY),
    }
}

pub fn fcntl(fd: i32, cmd: u32, arg: usize) -> SysResult {
    let f = file(fd)?;
    let mut t = process::get().files.lock();
    match cmd {
        g::F_GETFD => Ok(if t.cloexec(fd)? {
            g::FD_CLOEXEC as usize
        } else {
            0
        }),
        g::F_SETFD => t
            .set_cloexec(fd, arg as u32 & g::FD_CLOEXEC != 0)
            .map(|_| 0),
        g::F_GETFL => Ok(f.flags() as usize),
        // F_SETFL changes only O_APPEND, O_NONBLOCK, O_ASYNC, O_DIRECT and O_NOATIME.
        g::F_SETFL => {
            let settable = g::O_APPEND | g::O_NONBLOCK | g::O_DIRECT | g::O_NOATIME | 0o20000;
            let new = (f.flags() & !settable) | (arg as u32 & settable);
            f.status_flags
                .store(new, core::sync::atomic::Ordering::Relaxed);
            Ok(0)
        }
        g::F_DUPFD | g::F_DUPFD_CLOEXEC => {
            if arg >= files::MAX_FDS {
                return Err(Errno::EINVAL);
            }
            t.install(f, arg, cmd == g::F_DUPFD_CLOEXEC)
                .map(|fd| fd as usize)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn dup(fd: i32) -> SysResult {
    let f = file(fd)?;
    process::get()
        .files
        .lock()
        .install(f, 0, false)
        .map(|fd| fd as usize)
}

pub fn dup3(old: i32, new: i32, flags: u32, is_dup2: bool) -> SysResult {
    if is_dup2 && old == new {
        return file(old).map(|_| new as usize);
    }
    if old == new || flags & !g::O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    process::get()
        .files
        .lock()
        .dup_to(old, new, flags & g::O_CLOEXEC != 0)
        .map(|fd| fd as usize)
}

pub fn readlinkat(dirfd: i32, path: usize, buf: usize, size: usize) -> SysResult {
    let p = user_path(path)?;
    if size == 0 || size > isize::MAX as usize {
        return Err(Errno::EINVAL);
    }
    let p = resolve(dirfd, &p)?;
    let target = match p.as_str() {
        "/proc/self/exe" => process::get().exe.clone(),
        _ => {
            files::open(&p)?;
            return Err(Errno::EINVAL);
        }
    };
    let n = target.len().min(size);
    CurrentUser.write_bytes(buf, &target.as_bytes()[..n])?;
    Ok(n)
}

pub fn getcwd(buf: usize, size: usize) -> SysResult {
    if size < 2 {
        return Err(Errno::ERANGE);
    }
    CurrentUser.write_bytes(buf, b"/\0")?;
    Ok(2)
}

/// The poll(2) events of one open file.
fn poll_events(f: &OpenFile) -> u16 {
    let (pin, pout) = (g::POLLIN as u16, g::POLLOUT as u16);
    let (perr, phup) = (g::POLLERR as u16, g::POLLHUP as u16);
    match &f.node {
        Node::Pipe { pipe, write_end } => {
            let (readable, writable, hung) = pipe.poll(*write_end);
            let mut ev = 0;
            if readable {
                ev |= pin;
            }
            if writable {
                ev |= pout;
            }
            if hung {
                ev |= if *write_end { perr } else { phup };
            }
            ev
        }
        // No console input arrives, but a read would not block (it returns 0).
        _ => pin | pout,
    }
}

/// poll(2) and ppoll(2): waits up to `timeout_ns` (None: forever) for an event.
/// Readiness is checked once per timer tick while waiting.
fn do_poll(fds: usize, nfds: usize, timeout_ns: Option<u64>) -> SysResult {
    if nfds > files::MAX_FDS {
        return Err(Errno::EINVAL);
    }
    uaccess::check_range(fds, nfds * 8)?;
    let deadline = timeout_ns.map(|t| crate::clock::monotonic_ns().saturating_add(t));
    let tick = 1_000_000_000 / crate::irq::TICK_HZ;
    loop {
        let mut ready = 0;
        for i in 0..nfds {
            let at = fds + i * 8;
            let fd = CurrentUser.read_u32(at)? as i32;
            let events = (CurrentUser.read_u32(at + 4)? & 0xffff) as u16;
            let always = (g::POLLERR | g::POLLHUP | g::POLLNVAL) as u16;
            let revents: u16 = if fd < 0 {
                0
            } else {
                match file(fd) {
                    Err(_) => g::POLLNVAL as u16,
                    Ok(f) => poll_events(&f) & (events | always),
                }
            };
            CurrentUser.write_bytes(at + 6, &revents.to_ne_bytes())?;
            if revents != 0 {
                ready += 1;
            }
        }
        let now = crate::clock::monotonic_ns();
        if ready > 0 || deadline.is_some_and(|d| now >= d) {
            return Ok(ready);
        }
        let next = deadline.map_or(now + tick, |d| d.min(now + tick));
        crate::thread::sleep_until(next)?;
    }
}

pub fn poll(fds: usize, nfds: usize, timeout_ms: i32) -> SysResult {
    let t = (timeout_ms >= 0).then(|| timeout_ms as u64 * 1_000_000);
    do_poll(fds, nfds, t)
}

/// ppoll(2). Unsupported: a temporary signal mask (EINVAL unless it is NULL).
pub fn ppoll(fds: usize, nfds: usize, timeout: usize, sigmask: usize) -> SysResult {
    if sigmask != 0 {
        return Err(Errno::EINVAL);
    }
    let t = if timeout == 0 {
        None
    } else {
        let sec = CurrentUser.read_u64(timeout)? as i64;
        let nsec = CurrentUser.read_u64(timeout + 8)? as i64;
        Some(time::Timespec::new_duration(sec, nsec)?.to_ns_saturating())
    };
    do_poll(fds, nfds, t)
}
