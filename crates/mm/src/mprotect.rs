//! mprotect(2).

use crate::space::PendingFlush;
use crate::{AddressSpace, PageTable, Prot, VmaKind, is_page_aligned, page_align_up};
use linux_raw_sys::general as g;
use syscall::Errno;

const PROT_GROWSDOWN: usize = g::PROT_GROWSDOWN as usize;
const PROT_GROWSUP: usize = g::PROT_GROWSUP as usize;

/// The bits x86_64's `arch_validate_prot` accepts (`PROT_SEM` is a no-op there).
const VALID_PROT: usize = (g::PROT_READ | g::PROT_WRITE | g::PROT_EXEC | g::PROT_SEM) as usize;

impl<P: PageTable> AddressSpace<P> {
    /// mprotect(2): gives the pages of `[addr, addr + len)` protection `prot`, splitting
    /// areas at the range's ends and merging equal neighbours afterwards. Present pages
    /// change at once.
    ///
    /// As on Linux, a hole in the range gives `ENOMEM` after the mapped part before the
    /// hole has changed; a range that starts in a hole changes nothing.
    pub fn mprotect(&mut self, addr: usize, len: usize, prot: usize) -> Result<usize, Errno> {
        // Linux's order of checks (do_mprotect_pkey).
        let grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
        let prot = prot & !grows;
        if grows == PROT_GROWSDOWN | PROT_GROWSUP || !is_page_aligned(addr) {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(0);
        }
        let end = page_align_up(len)
            .and_then(|len| addr.checked_add(len))
            .ok_or(Errno::ENOMEM)?;
        if prot & !VALID_PROT != 0 {
            return Err(Errno::EINVAL);
        }
        if self.vmas.find(addr).is_none() {
            return Err(Errno::ENOMEM);
        }
        // Unsupported: PROT_GROWSDOWN/PROT_GROWSUP extend the change to the start (end)
        // of a growable area. No area here is growable, and for such areas Linux answers
        // EINVAL too.
        if grows != 0 {
            tracing::debug!("mm: mprotect with PROT_GROWSDOWN/PROT_GROWSUP refused");
            return Err(Errno::EINVAL);
        }
        let new = Prot::from_bits_truncate(prot as u32);

        let (stop, error) = self.mprotect_extent(addr, end, new);
        self.ensure_room(2)?;
        self.apply_protection(addr, stop, new);
        match error {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }

    /// How far from `addr` the change may go before `end`, and the error that stops it
    /// short: `ENOMEM` at a hole, `EACCES` at a shared file mapping asked to be writable
    /// (its file was not opened for writing).
    fn mprotect_extent(&self, addr: usize, end: usize, new: Prot) -> (usize, Option<Errno>) {
        let mut cursor = addr;
        for vma in self.vmas.overlapping(addr, end) {
            if vma.start > cursor {
                return (cursor, Some(Errno::ENOMEM));
            }
            if vma.kind == VmaKind::SharedFile && new.writable() {
                return (cursor, Some(Errno::EACCES));
            }
            cursor = vma.end;
        }
        if cursor < end {
            (cursor, Some(Errno::ENOMEM))
        } else {
            (end, None)
        }
    }

    /// Sets `new` on the areas and present pages of `[start, stop)`, which holds no hole.
    pub(crate) fn apply_protection(&mut self, start: usize, stop: usize, new: Prot) {
        if start >= stop {
            return;
        }
        self.vmas.split_at(start);
        self.vmas.split_at(stop);
        let mut flush = PendingFlush::default();
        for key in self.vmas.starts_within(start, stop) {
            let Some(vma) = self.vmas.get_mut(key) else {
                continue;
            };
            let old = vma.prot;
            if old == new {
                continue;
            }
            vma.prot = new;
            let (s, e) = (vma.start, vma.end);
            // Only a lost permission must leave other CPUs' TLBs; a gained one shows up
            // as a spurious fault at worst.
            if self.pt.protect_range(s, e, new) && !new.contains(old) {
                flush.add(s, e);
            }
        }
        self.vmas.merge_around(start, stop);
        flush.finish(&mut self.pt);
    }
}
