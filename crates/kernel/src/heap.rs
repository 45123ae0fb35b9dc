//! The kernel heap: `talc` over a slice of physical memory reached through the
//! physical map. Sized at boot from the memory map; it never grows.

use talc::TalcLock;
use talc::source::Manual;

#[global_allocator]
static HEAP: TalcLock<spin::Mutex<()>, Manual> = TalcLock::new(Manual);

/// Hands `size` bytes at virtual address `base` to the allocator.
///
/// # Safety
/// The range must be mapped, writable, and used by nothing else, forever.
pub unsafe fn init(base: u64, size: u64) {
    // SAFETY: forwarded from the caller.
    let claimed = unsafe { HEAP.lock().claim(base as *mut u8, size as usize) };
    if claimed.is_none() {
        panic!("heap: cannot claim {size:#x} bytes at {base:#x}");
    }
}
