//! The address space of one process: its VMAs, its page table, its program break, and the
//! helpers the ELF loader and the kernel use outside the syscalls.

use crate::vma::VmaSet;
use crate::{
    Access, FileBacking, FileHandle, MAX_MAP_COUNT, MMAP_MIN_ADDR, PAGE_SIZE, PageTable, Prot,
    TASK_SIZE, Vma, VmaKind, is_page_aligned, page_align_down, page_align_up,
};
use syscall::Errno;

/// The user address window and the placement policy of one address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The lowest address a mapping may start at (`vm.mmap_min_addr`).
    pub mmap_min_addr: usize,
    /// One past the highest user address (`TASK_SIZE`).
    pub task_size: usize,
    /// Where top-down placement of mappings without `MAP_FIXED` starts: Linux's
    /// `mmap_base`, below the main stack and a gap for it.
    pub mmap_base: usize,
}

impl Layout {
    /// The gap Linux leaves between `TASK_SIZE` and `mmap_base` at least (`MIN_GAP`,
    /// 128 MiB), which holds the main stack.
    pub const STACK_GAP: usize = 128 << 20;

    /// Linux x86_64 with 4-level paging and randomisation off.
    pub const fn linux_default() -> Layout {
        Layout {
            mmap_min_addr: MMAP_MIN_ADDR,
            task_size: TASK_SIZE,
            mmap_base: TASK_SIZE - Self::STACK_GAP,
        }
    }
}

impl Default for Layout {
    fn default() -> Layout {
        Layout::linux_default()
    }
}

/// One `PT_LOAD` program header, as the loader hands it to
/// [`AddressSpace::map_elf_segments`] (addresses already relocated for a static-PIE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElfSegment {
    /// `p_vaddr`.
    pub vaddr: usize,
    /// `p_memsz`.
    pub memsz: usize,
    /// `p_offset`.
    pub offset: u64,
    /// `p_filesz`.
    pub filesz: u64,
    /// From `p_flags`.
    pub prot: Prot,
}

/// The virtual memory of one process.
///
/// The kernel keeps one per process behind a lock, calls the syscall methods from its
/// dispatcher (their `Ok` value is the syscall's return value) and
/// [`handle_fault`](Self::handle_fault) from its page-fault handler.
pub struct AddressSpace<P: PageTable> {
    pub(crate) pt: P,
    pub(crate) vmas: VmaSet,
    pub(crate) layout: Layout,
    /// Page-aligned start of the heap (`mm->start_brk`); 0 until the loader sets it.
    pub(crate) brk_start: usize,
    /// The current break as the program last set it, unaligned (`mm->brk`).
    pub(crate) brk: usize,
}

/// The union of the ranges whose present pages lost a translation or a permission during
/// one operation, flushed once at its end.
#[derive(Default)]
pub(crate) struct PendingFlush {
    start: usize,
    end: usize,
}

impl PendingFlush {
    pub(crate) fn add(&mut self, start: usize, end: usize) {
        if self.start >= self.end {
            (self.start, self.end) = (start, end);
        } else {
            self.start = self.start.min(start);
            self.end = self.end.max(end);
        }
    }

    pub(crate) fn finish<P: PageTable>(self, pt: &mut P) {
        if self.start < self.end {
            pt.flush(self.start, self.end);
        }
    }
}

impl<P: PageTable> AddressSpace<P> {
    /// An empty address space over `pt`, which must hold no user pages.
    pub fn new(pt: P, layout: Layout) -> AddressSpace<P> {
        AddressSpace {
            pt,
            vmas: VmaSet::default(),
            layout,
            brk_start: 0,
            brk: 0,
        }
    }

    /// The page table.
    pub fn page_table(&self) -> &P {
        &self.pt
    }

    /// The page table, for the kernel's own bookkeeping (activating it on a CPU). Changing
    /// user mappings through it behind the address space's back breaks its invariants.
    pub fn page_table_mut(&mut self) -> &mut P {
        &mut self.pt
    }

    /// The window and placement policy.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The areas in address order.
    pub fn vmas(&self) -> impl Iterator<Item = &Vma> {
        self.vmas.iter()
    }

    /// The area containing `addr`.
    pub fn find_vma(&self, addr: usize) -> Option<&Vma> {
        self.vmas.find(addr)
    }

    /// Whether every byte of `[addr, addr + len)` lies in areas that permit `access`: the
    /// check `copy_from_user`/`copy_to_user` make before touching user memory (pages not
    /// yet present are then faulted in through [`handle_fault`](Self::handle_fault)).
    /// An empty range is accessible.
    pub fn is_accessible(&self, addr: usize, len: usize, access: Access) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        let mut cursor = addr;
        for vma in self.vmas.overlapping(addr, end) {
            if vma.start > cursor || !vma.prot.allows(access) {
                return false;
            }
            cursor = vma.end;
        }
        cursor >= end
    }

    /// Maps `[start, start + len)` (`len` rounded up to pages) with `prot` and `kind`,
    /// replacing whatever was there, as `MAP_FIXED` does: for the loader's `PT_LOAD`
    /// segments and the main stack. `EINVAL` if `start` is unaligned or `len` is 0,
    /// `ENOMEM` past the user window, `EPERM` below `mmap_min_addr`.
    ///
    /// Two segments that share a page must be given one region with the union of their
    /// protections: a second call replaces the first one's page and its bytes.
    pub fn map_fixed_region(
        &mut self,
        start: usize,
        len: usize,
        prot: Prot,
        kind: VmaKind,
    ) -> Result<(), Errno> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_align_up(len).ok_or(Errno::ENOMEM)?;
        let start = self.check_fixed(start, len)?;
        self.ensure_room(2)?;
        self.replace(start, start + len, prot, kind, None);
        Ok(())
    }

    /// Maps the `PT_LOAD` segments of the program in `file`, in program-header order, as
    /// Linux's `load_elf_binary` does: each segment's pages map the file from the page
    /// holding `p_offset`, so the bytes around the segment on its first and last pages are
    /// the file's too; bytes past `p_filesz` read as zero (`.bss`). Nothing is read now:
    /// pages come from the file when first touched, and again after `MADV_DONTNEED`.
    ///
    /// A page shared by two segments shows the later segment's view of the file (its
    /// mapping replaced the earlier one's on Linux) with the union of both protections,
    /// so that neither segment's code or data on it loses an access it had.
    ///
    /// `EINVAL` for a segment whose `p_vaddr` and `p_offset` disagree modulo the page size
    /// or whose `p_filesz` exceeds `p_memsz`; the errors of
    /// [`map_fixed_region`](Self::map_fixed_region) otherwise. Empty segments are skipped.
    pub fn map_elf_segments(
        &mut self,
        file: &FileHandle,
        segments: &[ElfSegment],
    ) -> Result<(), Errno> {
        let mut previous: Option<(usize, Prot)> = None;
        for seg in segments.iter().filter(|s| s.memsz > 0) {
            let in_page = seg.vaddr % PAGE_SIZE;
            if seg.offset % PAGE_SIZE as u64 != in_page as u64 || seg.filesz > seg.memsz as u64 {
                return Err(Errno::EINVAL);
            }
            let start = page_align_down(seg.vaddr);
            let end = seg
                .vaddr
                .checked_add(seg.memsz)
                .and_then(page_align_up)
                .ok_or(Errno::ENOMEM)?;
            self.check_fixed(start, end - start)?;
            self.ensure_room(2)?;
            let backing = FileBacking {
                file: file.clone(),
                offset: seg.offset - in_page as u64,
                limit: seg.offset.saturating_add(seg.filesz),
            };
            self.replace(start, end, seg.prot, VmaKind::Elf, Some(backing));
            if let Some((prev_end, prev_prot)) = previous
                && start < prev_end
            {
                let shared_end = prev_end.min(end);
                self.apply_protection(start, shared_end, seg.prot | prev_prot);
            }
            previous = Some((end, seg.prot));
        }
        Ok(())
    }

    /// Copies `bytes` to user address `addr`, whatever the protection of the pages, making
    /// absent pages present (zero-filled, then written) with their area's protection: how
    /// the loader fills segments and the initial stack. `EFAULT` if any byte lies outside
    /// the areas (nothing is written then), `ENOMEM` when frames run out.
    pub fn populate(&mut self, addr: usize, bytes: &[u8]) -> Result<(), Errno> {
        if bytes.is_empty() {
            return Ok(());
        }
        let end = addr.checked_add(bytes.len()).ok_or(Errno::EFAULT)?;
        if !self.is_covered(addr, end) {
            return Err(Errno::EFAULT);
        }
        // Page by page: the first and last pieces may be partial pages.
        let mut cursor = addr;
        let mut rest = bytes;
        while !rest.is_empty() {
            let page = page_align_down(cursor);
            let offset = cursor - page;
            let n = rest.len().min(PAGE_SIZE - offset);
            let frame = self.present_page(page)?;
            frame[offset..offset + n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            cursor += n;
        }
        Ok(())
    }

    /// Removes every area and page: at exit, or before `execve` loads a new image.
    pub fn unmap_all(&mut self) {
        let mut flush = PendingFlush::default();
        self.remove_range(0, usize::MAX, &mut flush);
        flush.finish(&mut self.pt);
        self.brk_start = 0;
        self.brk = 0;
    }

    /// Whether every byte of `[start, end)` lies in some area.
    pub(crate) fn is_covered(&self, start: usize, end: usize) -> bool {
        let mut cursor = start;
        for vma in self.vmas.overlapping(start, end) {
            if vma.start > cursor {
                return false;
            }
            cursor = vma.end;
        }
        cursor >= end
    }

    /// The frame of page `page` (inside an area), mapping it if absent: from the area's
    /// file, or zero-filled.
    fn present_page(&mut self, page: usize) -> Result<&mut [u8; PAGE_SIZE], Errno> {
        if !self.pt.is_mapped(page) {
            let vma = self.vmas.find(page).ok_or(Errno::EFAULT)?;
            let prot = vma.prot;
            match vma.backing.as_ref().map(|b| b.advanced(page - vma.start)) {
                Some(b) => self
                    .pt
                    .map_filled(page, prot, &mut |f| crate::fault::read_page(&b, f))?,
                None => self.pt.map_zeroed(page, prot)?,
            }
        }
        // A page just mapped that the table cannot show is a kernel fault; report it as
        // exhaustion rather than panic.
        self.pt.page_mut(page).ok_or(Errno::ENOMEM)
    }

    /// The checks of a fixed placement, in Linux's order (`__get_unmapped_area` then
    /// `security_mmap_addr`); `len` is page-aligned and non-zero.
    pub(crate) fn check_fixed(&self, addr: usize, len: usize) -> Result<usize, Errno> {
        let task_size = self.layout.task_size;
        if len > task_size || addr > task_size - len {
            return Err(Errno::ENOMEM);
        }
        if !is_page_aligned(addr) {
            return Err(Errno::EINVAL);
        }
        if addr < self.layout.mmap_min_addr {
            return Err(Errno::EPERM);
        }
        Ok(addr)
    }

    /// `ENOMEM` unless `extra` more areas fit under [`MAX_MAP_COUNT`]. Checked before an
    /// operation changes anything, with the most areas it can add (two splits, or a split
    /// and an insertion).
    pub(crate) fn ensure_room(&self, extra: usize) -> Result<(), Errno> {
        if self.vmas.len() + extra > MAX_MAP_COUNT {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// Puts one area `[start, end)` in place of whatever was there, merged with equal
    /// neighbours; its pages start absent.
    pub(crate) fn replace(
        &mut self,
        start: usize,
        end: usize,
        prot: Prot,
        kind: VmaKind,
        backing: Option<FileBacking>,
    ) {
        let mut flush = PendingFlush::default();
        self.remove_range(start, end, &mut flush);
        self.vmas.insert(Vma {
            start,
            end,
            prot,
            kind,
            backing,
        });
        self.vmas.merge_around(start, end);
        flush.finish(&mut self.pt);
    }

    /// Removes the areas and pages inside `[start, end)`, splitting areas that straddle
    /// its ends. Holes are fine.
    pub(crate) fn remove_range(&mut self, start: usize, end: usize, flush: &mut PendingFlush) {
        self.vmas.split_at(start);
        self.vmas.split_at(end);
        for vma in self.vmas.remove_within(start, end) {
            if self.pt.unmap_range(vma.start, vma.end) {
                flush.add(vma.start, vma.end);
            }
        }
    }
}
