//! Test helpers: a fake user address space and a `struct clone_args` builder.

use std::cell::{Cell, RefCell};
use syscall::{Errno, UserMemory};

const BASE: usize = 0x10_0000;
const SIZE: usize = 0x1_0000;

/// 64 KiB of readable user memory at `BASE`; everything else faults.
pub struct TestMemory {
    bytes: RefCell<Vec<u8>>,
    next: Cell<usize>,
}

impl TestMemory {
    pub fn new() -> TestMemory {
        TestMemory {
            bytes: RefCell::new(vec![0; SIZE]),
            next: Cell::new(0),
        }
    }

    /// Copies `data` to a fresh 16-byte-aligned place and returns its user address.
    pub fn put(&self, data: &[u8]) -> usize {
        let off = self.next.get();
        self.next.set((off + data.len() + 15) & !15);
        self.bytes.borrow_mut()[off..off + data.len()].copy_from_slice(data);
        BASE + off
    }

    /// Copies `data` so that it ends where the readable memory ends.
    pub fn put_at_end(&self, data: &[u8]) -> usize {
        let off = SIZE - data.len();
        self.bytes.borrow_mut()[off..].copy_from_slice(data);
        BASE + off
    }

    fn range(&self, addr: usize, len: usize) -> Result<core::ops::Range<usize>, Errno> {
        let start = addr.checked_sub(BASE).ok_or(Errno::EFAULT)?;
        let end = start.checked_add(len).ok_or(Errno::EFAULT)?;
        if end > SIZE {
            return Err(Errno::EFAULT);
        }
        Ok(start..end)
    }
}

impl UserMemory for TestMemory {
    fn read_bytes(&self, addr: usize, dst: &mut [u8]) -> Result<(), Errno> {
        let r = self.range(addr, dst.len())?;
        dst.copy_from_slice(&self.bytes.borrow()[r]);
        Ok(())
    }

    fn write_bytes(&self, addr: usize, src: &[u8]) -> Result<(), Errno> {
        let r = self.range(addr, src.len())?;
        self.bytes.borrow_mut()[r].copy_from_slice(src);
        Ok(())
    }

    fn update_u32(&self, _: usize, _: &mut dyn FnMut(u32) -> u32) -> Result<u32, Errno> {
        Err(Errno::EFAULT)
    }
}

/// Builds the 88 bytes of a `struct clone_args`, field by field.
#[derive(Clone, Copy)]
pub struct ArgsBuilder([u64; 11]);

#[allow(dead_code)]
impl ArgsBuilder {
    /// A glibc-style thread request with no stack, tls or tid pointers.
    pub fn thread() -> ArgsBuilder {
        use linux_raw_sys::general as g;
        let flags = g::CLONE_VM
            | g::CLONE_FS
            | g::CLONE_FILES
            | g::CLONE_SIGHAND
            | g::CLONE_THREAD
            | g::CLONE_SYSVSEM;
        ArgsBuilder([u64::from(flags), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }
    pub fn flags(mut self, v: u64) -> Self {
        self.0[0] = v;
        self
    }
    pub fn pidfd(mut self, v: u64) -> Self {
        self.0[1] = v;
        self
    }
    pub fn child_tid(mut self, v: u64) -> Self {
        self.0[2] = v;
        self
    }
    pub fn parent_tid(mut self, v: u64) -> Self {
        self.0[3] = v;
        self
    }
    pub fn exit_signal(mut self, v: u64) -> Self {
        self.0[4] = v;
        self
    }
    pub fn stack(mut self, low: u64, size: u64) -> Self {
        self.0[5] = low;
        self.0[6] = size;
        self
    }
    pub fn tls(mut self, v: u64) -> Self {
        self.0[7] = v;
        self
    }
    pub fn set_tid(mut self, ptr: u64, n: u64) -> Self {
        self.0[8] = ptr;
        self.0[9] = n;
        self
    }
    pub fn cgroup(mut self, v: u64) -> Self {
        self.0[10] = v;
        self
    }
    pub fn build(self) -> [u8; 88] {
        let mut out = [0u8; 88];
        for (i, v) in self.0.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
        }
        out
    }
}
