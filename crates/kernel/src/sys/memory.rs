//! Memory syscalls: brk, mmap, munmap, mprotect, madvise (logic in the `mm` crate).

use crate::files::Node;
use crate::process;
use linux_raw_sys::general as g;
use syscall::{Errno, SysResult};

pub fn brk(addr: usize) -> SysResult {
    Ok(process::get().lock_mm().brk(addr))
}

/// An initrd file as the source of a private file mapping.
struct InitrdFile<'a>(&'a [u8]);

impl mm::MapFile for InitrdFile<'_> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let start = (offset as usize).min(self.0.len());
        let n = buf.len().min(self.0.len() - start);
        buf[..n].copy_from_slice(&self.0[start..start + n]);
        Ok(n)
    }
}

pub fn mmap(addr: usize, len: usize, prot: usize, flags: usize, fd: i32, off: usize) -> SysResult {
    let p = process::get();
    if flags & g::MAP_ANONYMOUS as usize != 0 {
        return p.lock_mm().mmap(addr, len, prot, flags, None, off);
    }
    let f = p.files.lock().get(fd)?;
    match &f.node {
        Node::File { data, .. } => {
            let file = InitrdFile(data.bytes());
            p.lock_mm().mmap(addr, len, prot, flags, Some(&file), off)
        }
        _ => Err(Errno::ENODEV),
    }
}

pub fn munmap(addr: usize, len: usize) -> SysResult {
    process::get().lock_mm().munmap(addr, len)
}

pub fn mprotect(addr: usize, len: usize, prot: usize) -> SysResult {
    process::get().lock_mm().mprotect(addr, len, prot)
}

pub fn madvise(addr: usize, len: usize, advice: usize) -> SysResult {
    process::get().lock_mm().madvise(addr, len, advice)
}
