//! The two traits through which the address space reaches the outside: the hardware page
//! table of the process, and the contents of files mapped into it.

use crate::{PAGE_SIZE, Prot};
use syscall::Errno;

/// The page table of one address space, as the VMA logic needs it.
///
/// Addresses are page-aligned user addresses. The crate calls these methods only for
/// pages inside its VMAs, and keeps each present page's protection equal to its VMA's.
///
/// # TLB invalidation
///
/// Every call that removes present pages ([`unmap_range`](Self::unmap_range)) or takes a
/// permission away from them ([`protect_range`](Self::protect_range)) is followed, before
/// the syscall returns, by one [`flush`](Self::flush) covering them. Frames released by
/// `unmap_range` must not be reused
/// until that flush has reached every CPU that may hold the old translation: the kernel
/// either frees them in `flush` after its shootdown, or runs one CPU per address space.
/// Gaining a permission is not flushed: a stale entry then causes a spurious fault, which
/// [`AddressSpace::handle_fault`](crate::AddressSpace::handle_fault) answers with `Ok`.
pub trait PageTable {
    /// Maps a fresh zero-filled frame at `va` with `prot`, which may be [`Prot::NONE`]
    /// (the page must then stay inaccessible to ring 3 but keep its frame). Never called
    /// for a present page. `Err(ENOMEM)` when no frame is left.
    fn map_zeroed(&mut self, va: usize, prot: Prot) -> Result<(), Errno>;

    /// Removes the present pages of `[start, end)` and releases their frames (see "TLB
    /// invalidation"). Returns whether any page was present.
    ///
    /// The range can be huge and nearly empty (a program may reserve terabytes with
    /// `PROT_NONE`): walk the table and skip absent levels rather than visit every page.
    fn unmap_range(&mut self, start: usize, end: usize) -> bool;

    /// Gives the present pages of `[start, end)` protection `prot`. Returns whether any
    /// page was present. Same remark on huge ranges.
    fn protect_range(&mut self, start: usize, end: usize, prot: Prot) -> bool;

    /// Maps a fresh frame at `va` with `prot` (as [`map_zeroed`](Self::map_zeroed)), whose
    /// bytes `fill` writes before the page becomes visible: `fill` gets the zero-filled
    /// frame. Another thread of the process may touch the page the moment it is mapped,
    /// so it must never see the frame half filled. If `fill` fails, nothing is mapped and
    /// its error is returned.
    fn map_filled(
        &mut self,
        va: usize,
        prot: Prot,
        fill: &mut dyn FnMut(&mut [u8; PAGE_SIZE]) -> Result<(), Errno>,
    ) -> Result<(), Errno>;

    /// Whether a page is present at `va`.
    fn is_mapped(&self, va: usize) -> bool;

    /// The bytes of the present page at `va`, writable whatever its protection (the kernel
    /// writes through its own mapping of the frame); `None` if no page is present. Used to
    /// load ELF segments and file contents.
    fn page_mut(&mut self, va: usize) -> Option<&mut [u8; PAGE_SIZE]>;

    /// Invalidates the translations of `[start, end)` on every CPU that runs this address
    /// space (see "TLB invalidation").
    fn flush(&mut self, start: usize, end: usize);
}

/// A file that can back a mapping: an initrd file, read-only.
///
/// Its bytes are read into a page when the page is first touched (and again after
/// `MADV_DONTNEED` dropped it), so the file must not change while it is mapped; Spindle's
/// files are read-only.
pub trait MapFile {
    /// Copies the file's bytes from `offset` into `buf` and returns how many were copied:
    /// fewer than `buf.len()` at the end of the file, 0 past it.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno>;
}

/// A shared handle on a mapped file, kept by every area it backs (areas split and merge, so
/// several may hold it).
pub type FileHandle = alloc::sync::Arc<dyn MapFile + Send + Sync>;
