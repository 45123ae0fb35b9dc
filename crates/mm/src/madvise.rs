//! madvise(2).

use crate::space::PendingFlush;
use crate::{AddressSpace, PageTable, is_page_aligned, page_align_up};
use linux_raw_sys::general as g;
use syscall::Errno;

impl<P: PageTable> AddressSpace<P> {
    /// madvise(2). `MADV_DONTNEED`, `MADV_DONTNEED_LOCKED` and `MADV_FREE` drop the
    /// present pages of the range, so the next touch of each gets a fresh page: zero-filled
    /// for anonymous memory, the file's bytes again for a file-backed area (Linux's rule
    /// for private file mappings, `.data` included). For `MADV_FREE` Linux allows old
    /// contents or that fresh page; the fresh page it is. `MADV_REMOVE` is
    /// `EINVAL` (it needs a shared file mapping); the guard-region advices and
    /// hardware-poisoning ones are refused with `EINVAL`, as kernels without them do.
    /// Every other advice Linux knows is accepted and changes nothing.
    ///
    /// As on Linux, holes in the range give `ENOMEM` after the advice has been applied to
    /// the mapped parts.
    pub fn madvise(&mut self, addr: usize, len: usize, advice: usize) -> Result<usize, Errno> {
        let Some(action) = Advice::of(advice) else {
            return Err(Errno::EINVAL);
        };
        if !is_page_aligned(addr) {
            return Err(Errno::EINVAL);
        }
        // A length that rounds up past the end of the address space is EINVAL here (not
        // ENOMEM as in mprotect).
        let end = page_align_up(len)
            .and_then(|len| addr.checked_add(len))
            .ok_or(Errno::EINVAL)?;
        if end == addr {
            return Ok(0);
        }
        if action == Advice::Refuse {
            return Err(Errno::EINVAL);
        }

        let mut flush = PendingFlush::default();
        let mut cursor = addr;
        let mut hole = false;
        let ranges: alloc::vec::Vec<(usize, usize)> = self
            .vmas
            .overlapping(addr, end)
            .map(|v| (v.start.max(addr), v.end.min(end)))
            .collect();
        for (start, stop) in ranges {
            hole |= start > cursor;
            cursor = stop;
            if action == Advice::Drop && self.pt.unmap_range(start, stop) {
                flush.add(start, stop);
            }
        }
        flush.finish(&mut self.pt);
        if hole || cursor < end {
            return Err(Errno::ENOMEM);
        }
        Ok(0)
    }
}

/// What an advice does here.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Advice {
    /// Drop the pages; the next touch sees zeroes, or the file's bytes.
    Drop,
    /// Nothing to do: hints about access patterns, huge pages, dumps, fork, KSM.
    Ignore,
    /// Known to Linux but refused here with EINVAL.
    Refuse,
}

impl Advice {
    /// The action for `advice`, or `None` for one Linux does not know (`EINVAL`).
    fn of(advice: usize) -> Option<Advice> {
        let Ok(advice) = u32::try_from(advice) else {
            return None;
        };
        match advice {
            g::MADV_DONTNEED | g::MADV_DONTNEED_LOCKED | g::MADV_FREE => Some(Advice::Drop),
            g::MADV_NORMAL
            | g::MADV_RANDOM
            | g::MADV_SEQUENTIAL
            | g::MADV_WILLNEED
            | g::MADV_DONTFORK
            | g::MADV_DOFORK
            | g::MADV_MERGEABLE
            | g::MADV_UNMERGEABLE
            | g::MADV_HUGEPAGE
            | g::MADV_NOHUGEPAGE
            | g::MADV_DONTDUMP
            | g::MADV_DODUMP
            | g::MADV_WIPEONFORK
            | g::MADV_KEEPONFORK
            | g::MADV_COLD
            | g::MADV_PAGEOUT
            | g::MADV_POPULATE_READ
            | g::MADV_POPULATE_WRITE
            | g::MADV_COLLAPSE => Some(Advice::Ignore),
            // Unsupported: guard regions (Linux 6.13). Ignoring them would let accesses
            // succeed that must fault, so they are refused like on older kernels.
            g::MADV_REMOVE | g::MADV_GUARD_INSTALL | g::MADV_GUARD_REMOVE => Some(Advice::Refuse),
            // MADV_HWPOISON and MADV_SOFT_OFFLINE exist only with CONFIG_MEMORY_FAILURE
            // and CAP_SYS_ADMIN; like unknown advice they are EINVAL.
            _ => None,
        }
    }
}
