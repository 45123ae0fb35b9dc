//! Access to user memory from logic crates.
//!
//! Kernel code never dereferences a user pointer: it goes through [`UserMemory`], whose
//! kernel implementation checks that the range lies in the user half, and turns a page
//! fault during the copy into [`Errno::EFAULT`]. Host tests implement it over a buffer.

use crate::Errno;

/// The user address space of the calling thread, as seen by the kernel.
///
/// Every method validates the whole range first: an address in the kernel half, a range
/// that wraps, or a page that is unmapped (or lacks the permission) gives `EFAULT`.
pub trait UserMemory {
    /// Copies `dst.len()` bytes from user address `addr` into `dst`.
    fn read_bytes(&self, addr: usize, dst: &mut [u8]) -> Result<(), Errno>;

    /// Copies `src` to user address `addr`.
    fn write_bytes(&self, addr: usize, src: &[u8]) -> Result<(), Errno>;

    /// Reads the aligned 32-bit word at `addr`.
    fn read_u32(&self, addr: usize) -> Result<u32, Errno> {
        let mut b = [0u8; 4];
        self.read_bytes(addr, &mut b)?;
        Ok(u32::from_ne_bytes(b))
    }

    /// Writes the 32-bit word at `addr`.
    fn write_u32(&self, addr: usize, value: u32) -> Result<(), Errno> {
        self.write_bytes(addr, &value.to_ne_bytes())
    }

    /// Reads a 64-bit word at `addr`.
    fn read_u64(&self, addr: usize) -> Result<u64, Errno> {
        let mut b = [0u8; 8];
        self.read_bytes(addr, &mut b)?;
        Ok(u64::from_ne_bytes(b))
    }

    /// Writes a 64-bit word at `addr`.
    fn write_u64(&self, addr: usize, value: u64) -> Result<(), Errno> {
        self.write_bytes(addr, &value.to_ne_bytes())
    }

    /// Atomically applies `op` to the 32-bit word at `addr` (which must be 4-byte
    /// aligned) and returns the old value, as one indivisible step against other CPUs
    /// and threads: a compare-exchange loop in the kernel. Used by futex WAKE_OP and the
    /// robust-list walk, which must not lose a concurrent user-space update.
    fn update_u32(&self, addr: usize, op: &mut dyn FnMut(u32) -> u32) -> Result<u32, Errno>;
}

/// Reads a plain-old-data value (`T` must be valid for every bit pattern).
pub fn read_pod<T: Copy + Default>(mem: &dyn UserMemory, addr: usize) -> Result<T, Errno> {
    let mut value = T::default();
    // SAFETY: `value` is a live, exclusively borrowed T; viewing its bytes as `[u8]` of
    // `size_of::<T>()` is in bounds, and callers only use types valid for any bytes.
    let bytes = unsafe {
        core::slice::from_raw_parts_mut(
            (&mut value as *mut T).cast::<u8>(),
            core::mem::size_of::<T>(),
        )
    };
    mem.read_bytes(addr, bytes)?;
    Ok(value)
}

/// Writes a plain-old-data value.
pub fn write_pod<T: Copy>(mem: &dyn UserMemory, addr: usize, value: &T) -> Result<(), Errno> {
    // SAFETY: `value` is a live T; reading its `size_of::<T>()` bytes is in bounds. Callers
    // use `repr(C)` types without padding, so no uninitialised byte leaves the kernel.
    let bytes = unsafe {
        core::slice::from_raw_parts((value as *const T).cast::<u8>(), core::mem::size_of::<T>())
    };
    mem.write_bytes(addr, bytes)
}
