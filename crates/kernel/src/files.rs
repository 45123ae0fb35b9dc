//! Open files: the console on fds 0-2, read-only files from the initrd, and the few
//! synthetic files programs read to learn about the machine
//! (`/sys/devices/system/cpu/online` and `possible`).

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use spin::{Mutex, Once};
use syscall::Errno;

static INITRD: Once<initrd::Archive<'static>> = Once::new();

/// Makes the initrd at kernel address `data` readable.
pub fn init_initrd(data: &'static [u8]) -> Result<(), initrd::CpioError> {
    let archive = initrd::Archive::parse(data)?;
    INITRD.call_once(|| archive);
    Ok(())
}

/// The bytes of regular file `path` in the initrd.
pub fn initrd_file(path: &str) -> Option<&'static [u8]> {
    INITRD.get()?.file(path)
}

fn initrd_entry(path: &str) -> Option<initrd::Entry<'static>> {
    INITRD.get()?.find(path)
}

/// What an open file descriptor refers to.
pub enum Node {
    Console,
    /// A regular file (initrd or synthetic), read-only.
    File {
        data: FileData,
        ino: u64,
    },
    Dir {
        ino: u64,
    },
    /// One end of a pipe.
    Pipe {
        pipe: Arc<crate::pipe::Pipe>,
        write_end: bool,
    },
}

pub enum FileData {
    Static(&'static [u8]),
    Owned(Vec<u8>),
}

impl FileData {
    pub fn bytes(&self) -> &[u8] {
        match self {
            FileData::Static(b) => b,
            FileData::Owned(v) => v,
        }
    }
}

pub struct OpenFile {
    pub node: Node,
    pub offset: Mutex<u64>,
    /// `O_ACCMODE`, `O_NONBLOCK`, ... as open(2) and fcntl(F_SETFL) set them.
    pub status_flags: core::sync::atomic::AtomicU32,
}

impl OpenFile {
    pub fn new(node: Node, status_flags: u32) -> Arc<OpenFile> {
        Arc::new(OpenFile {
            node,
            offset: Mutex::new(0),
            status_flags: core::sync::atomic::AtomicU32::new(status_flags),
        })
    }

    pub fn flags(&self) -> u32 {
        self.status_flags
            .load(core::sync::atomic::Ordering::Relaxed)
    }

    pub fn nonblocking(&self) -> bool {
        self.flags() & linux_raw_sys::general::O_NONBLOCK != 0
    }
}

impl Drop for OpenFile {
    /// The last descriptor of an open file went away: a pipe end closes.
    fn drop(&mut self) {
        if let Node::Pipe { pipe, write_end } = &self.node {
            pipe.close_end(*write_end);
        }
    }
}

/// The descriptor table (one per process; threads share it: CLONE_FILES).
pub struct FdTable {
    fds: Vec<Option<(Arc<OpenFile>, bool)>>,
}

/// RLIMIT_NOFILE's default soft limit.
pub const MAX_FDS: usize = 1024;

impl FdTable {
    /// fds 0, 1 and 2 on the console.
    pub fn with_console() -> FdTable {
        let console = OpenFile::new(Node::Console, linux_raw_sys::general::O_RDWR);
        FdTable {
            fds: alloc::vec![
                Some((console.clone(), false)),
                Some((console.clone(), false)),
                Some((console, false)),
            ],
        }
    }

    pub fn get(&self, fd: i32) -> Result<Arc<OpenFile>, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i))
            .and_then(|s| s.as_ref())
            .map(|(f, _)| f.clone())
            .ok_or(Errno::EBADF)
    }

    /// Installs `file` at the lowest free descriptor `>= min`.
    pub fn install(
        &mut self,
        file: Arc<OpenFile>,
        min: usize,
        cloexec: bool,
    ) -> Result<i32, Errno> {
        let slot = (min..MAX_FDS).find(|&i| self.fds.get(i).is_none_or(|s| s.is_none()));
        let Some(i) = slot else {
            return Err(Errno::EMFILE);
        };
        if i >= self.fds.len() {
            self.fds.resize_with(i + 1, || None);
        }
        self.fds[i] = Some((file, cloexec));
        Ok(i as i32)
    }

    pub fn close(&mut self, fd: i32) -> Result<(), Errno> {
        let slot = usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get_mut(i))
            .ok_or(Errno::EBADF)?;
        slot.take().map(|_| ()).ok_or(Errno::EBADF)
    }

    pub fn set_cloexec(&mut self, fd: i32, on: bool) -> Result<(), Errno> {
        let slot = usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get_mut(i))
            .ok_or(Errno::EBADF)?;
        match slot {
            Some((_, c)) => {
                *c = on;
                Ok(())
            }
            None => Err(Errno::EBADF),
        }
    }

    pub fn cloexec(&self, fd: i32) -> Result<bool, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i))
            .and_then(|s| s.as_ref())
            .map(|(_, c)| *c)
            .ok_or(Errno::EBADF)
    }

    /// dup2/dup3: makes `new` refer to `old`'s file.
    pub fn dup_to(&mut self, old: i32, new: i32, cloexec: bool) -> Result<i32, Errno> {
        let file = self.get(old)?;
        let i = usize::try_from(new)
            .ok()
            .filter(|&i| i < MAX_FDS)
            .ok_or(Errno::EBADF)?;
        if i >= self.fds.len() {
            self.fds.resize_with(i + 1, || None);
        }
        self.fds[i] = Some((file, cloexec));
        Ok(new)
    }
}

/// Normalises `path` (absolute; `.`, `..` and repeated slashes resolved).
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = String::from("/");
    out.push_str(&parts.join("/"));
    out
}

fn cpu_list() -> Vec<u8> {
    let n = crate::smp::cpu_count();
    let s = if n <= 1 {
        String::from("0\n")
    } else {
        alloc::format!("0-{}\n", n - 1)
    };
    s.into_bytes()
}

/// Opens `path` (already normalised) read-only.
pub fn open(path: &str) -> Result<Node, Errno> {
    match path {
        "/sys/devices/system/cpu/online"
        | "/sys/devices/system/cpu/possible"
        | "/sys/devices/system/cpu/present" => {
            return Ok(Node::File {
                data: FileData::Owned(cpu_list()),
                ino: 2,
            });
        }
        "/dev/tty" | "/dev/console" | "/dev/stdout" | "/dev/stderr" | "/dev/stdin" => {
            return Ok(Node::Console);
        }
        "/proc/self/maps" | "/proc/thread-self/maps" | "/proc/1/maps" => {
            let data = FileData::Owned(crate::process::maps());
            return Ok(Node::File { data, ino: 4 });
        }
        "/" => return Ok(Node::Dir { ino: 1 }),
        _ => {}
    }
    let entry = initrd_entry(path).ok_or(Errno::ENOENT)?;
    if entry.is_dir() {
        Ok(Node::Dir {
            ino: entry.ino as u64,
        })
    } else if entry.is_file() {
        Ok(Node::File {
            data: FileData::Static(entry.data),
            ino: entry.ino as u64,
        })
    } else {
        Err(Errno::ENOENT)
    }
}
