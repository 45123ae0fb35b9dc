//! Memory syscalls: brk, mmap, munmap, mprotect, madvise (logic in the `mm` crate).

use crate::files::{FileData, Node};
use crate::memory::MappedFile;
use crate::process;
use alloc::sync::Arc;
use linux_raw_sys::general as g;
use syscall::{Errno, SysResult};

pub fn brk(addr: usize) -> SysResult {
    Ok(process::get().lock_mm().brk(addr))
}

pub fn mmap(addr: usize, len: usize, prot: usize, flags: usize, fd: i32, off: usize) -> SysResult {
    let p = process::get();
    if flags & g::MAP_ANONYMOUS as usize != 0 {
        return p.lock_mm().mmap(addr, len, prot, flags, None, off);
    }
    let f = p.files.lock().get(fd)?;
    let file: mm::FileHandle = match &f.node {
        Node::File {
            data: FileData::Static(b),
            ..
        } => Arc::new(MappedFile::Initrd(b)),
        Node::File {
            data: FileData::Owned(v),
            ..
        } => Arc::new(MappedFile::Copy(v.clone())),
        _ => return Err(Errno::ENODEV),
    };
    p.lock_mm().mmap(addr, len, prot, flags, Some(file), off)
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
