//! Partial user copies: what read(2)-like syscalls need when a buffer is only partly
//! mapped. Linux copies up to the first bad byte and returns that count; only a copy
//! that moves nothing is EFAULT.

use crate::memory::user_range_ok;
use syscall::Errno;

/// Copies `src` to user address `addr` up to the first unwritable byte. `Ok(n)` with
/// the bytes copied (n > 0 or `src` empty); `Err(EFAULT)` when nothing could be copied
/// or the range is not in the user half.
pub fn write_partial(addr: usize, src: &[u8]) -> Result<usize, Errno> {
    if !user_range_ok(addr as u64, src.len() as u64) {
        return Err(Errno::EFAULT);
    }
    if src.is_empty() {
        return Ok(0);
    }
    // SAFETY: the user range lies in the user half (checked above); a fault inside it is
    // recovered and reported as the count of bytes left.
    let left = unsafe { arch::entry::copy_user_raw(addr as *mut u8, src.as_ptr(), src.len()) };
    match src.len() - left {
        0 => Err(Errno::EFAULT),
        n => Ok(n),
    }
}

/// Copies from user address `addr` into `dst` up to the first unreadable byte, like
/// [`write_partial`].
pub fn read_partial(addr: usize, dst: &mut [u8]) -> Result<usize, Errno> {
    if !user_range_ok(addr as u64, dst.len() as u64) {
        return Err(Errno::EFAULT);
    }
    if dst.is_empty() {
        return Ok(0);
    }
    // SAFETY: as for write_partial.
    let left =
        unsafe { arch::entry::copy_user_raw(dst.as_mut_ptr(), addr as *const u8, dst.len()) };
    match dst.len() - left {
        0 => Err(Errno::EFAULT),
        n => Ok(n),
    }
}

/// The access_ok() check of read/write: the whole range must lie in the user half,
/// even for a zero length.
pub fn check_range(addr: usize, len: usize) -> Result<(), Errno> {
    if user_range_ok(addr as u64, len as u64) {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}
