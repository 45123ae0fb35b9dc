//! User page faults: demand paging, or the SIGSEGV verdict.

use crate::{Access, AddressSpace, FileBacking, PAGE_SIZE, PageTable, page_align_down};
use linux_raw_sys::general::{SEGV_ACCERR, SEGV_MAPERR};
use syscall::Errno;

/// Why a page fault cannot be resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// No area covers the address: SIGSEGV with `si_code` `SEGV_MAPERR`.
    MapErr,
    /// An area covers the address but forbids the access: SIGSEGV with `SEGV_ACCERR`.
    AccErr,
    /// No frame left for the page. Linux's fault path then runs the OOM killer; the
    /// kernel ends the program with SIGKILL.
    OutOfMemory,
}

impl Fault {
    /// The `si_code` of the SIGSEGV this fault raises, or `None` for
    /// [`OutOfMemory`](Fault::OutOfMemory), which raises none.
    pub fn si_code(self) -> Option<i32> {
        match self {
            Fault::MapErr => Some(SEGV_MAPERR as i32),
            Fault::AccErr => Some(SEGV_ACCERR as i32),
            Fault::OutOfMemory => None,
        }
    }
}

impl<P: PageTable> AddressSpace<P> {
    /// Resolves a fault at `addr` (from ring 3, or from the kernel copying to or from user
    /// memory): when an area covers `addr` and permits `access`, maps its page, filled
    /// from the area's file if it has one and zero-filled otherwise.
    ///
    /// `Ok` means: retry the access. That includes a page already present with the
    /// permission, which happens when another thread faulted it in first or when a
    /// permission was gained without a TLB flush (see [`PageTable`]).
    pub fn handle_fault(&mut self, addr: usize, access: Access) -> Result<(), Fault> {
        let vma = self.vmas.find(addr).ok_or(Fault::MapErr)?;
        if !vma.prot.allows(access) {
            return Err(Fault::AccErr);
        }
        let page = page_align_down(addr);
        if self.pt.is_mapped(page) {
            return Ok(());
        }
        let prot = vma.prot;
        let Some(backing) = &vma.backing else {
            return self
                .pt
                .map_zeroed(page, prot)
                .map_err(|_| Fault::OutOfMemory);
        };
        let backing = backing.advanced(page - vma.start);
        self.pt
            .map_filled(page, prot, &mut |frame| read_page(&backing, frame))
            .map_err(|e| {
                // Linux raises SIGBUS on a read error; the kernel has no such outcome for
                // a fault yet, and initrd files cannot fail to read.
                tracing::warn!("mm: reading a file page at {page:#x} failed: {e:?}");
                Fault::OutOfMemory
            })
    }
}

/// Reads one page of a file-backed area into `frame` (zero-filled): the file's bytes from
/// `backing.offset` up to `backing.limit`; the rest stays zero.
pub(crate) fn read_page(backing: &FileBacking, frame: &mut [u8; PAGE_SIZE]) -> Result<(), Errno> {
    if backing.offset >= backing.limit {
        return Ok(());
    }
    let n = usize::try_from(backing.limit - backing.offset).map_or(PAGE_SIZE, |n| n.min(PAGE_SIZE));
    backing.file.read_at(backing.offset, &mut frame[..n])?;
    Ok(())
}
