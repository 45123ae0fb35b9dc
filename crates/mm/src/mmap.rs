//! mmap(2) and munmap(2).

use crate::space::PendingFlush;
use crate::{
    AddressSpace, FileBacking, FileHandle, PageTable, Prot, VmaKind, is_page_aligned,
    page_align_down, page_align_up,
};
use linux_raw_sys::general as g;
use syscall::Errno;

const fn flag(bit: u32) -> usize {
    bit as usize
}

const MAP_SHARED: usize = flag(g::MAP_SHARED);
const MAP_PRIVATE: usize = flag(g::MAP_PRIVATE);
const MAP_SHARED_VALIDATE: usize = flag(g::MAP_SHARED_VALIDATE);
const MAP_DROPPABLE: usize = flag(g::MAP_DROPPABLE);
const MAP_TYPE: usize = flag(g::MAP_TYPE);
const MAP_FIXED: usize = flag(g::MAP_FIXED);
const MAP_FIXED_NOREPLACE: usize = flag(g::MAP_FIXED_NOREPLACE);
const MAP_ANONYMOUS: usize = flag(g::MAP_ANONYMOUS);
const MAP_32BIT: usize = flag(g::MAP_32BIT);
const MAP_HUGETLB: usize = flag(g::MAP_HUGETLB);
const MAP_STACK: usize = flag(g::MAP_STACK);
const MAP_GROWSDOWN: usize = flag(g::MAP_GROWSDOWN);
const MAP_HUGE_SHIFT: u32 = g::MAP_HUGE_SHIFT;
const MAP_HUGE_MASK: usize = flag(g::MAP_HUGE_MASK);

/// The huge page sizes x86_64 has (`hstates`), as their log2: 2 MiB, and 1 GiB where the
/// CPU has `pdpe1gb`. A `MAP_HUGE_*` size outside them finds no hstate.
const HUGE_PAGE_SHIFTS: [usize; 2] = [21, 30];

/// The flags `MAP_SHARED_VALIDATE` accepts for a file (Linux's `LEGACY_MAP_MASK`); any
/// other bit gives `EOPNOTSUPP`.
const LEGACY_MAP_MASK: usize = flag(
    g::MAP_SHARED
        | g::MAP_PRIVATE
        | g::MAP_FIXED
        | g::MAP_ANONYMOUS
        | g::MAP_DENYWRITE
        | g::MAP_EXECUTABLE
        | g::MAP_UNINITIALIZED
        | g::MAP_GROWSDOWN
        | g::MAP_LOCKED
        | g::MAP_NORESERVE
        | g::MAP_POPULATE
        | g::MAP_NONBLOCK
        | g::MAP_STACK
        | g::MAP_HUGETLB,
);

/// The window `MAP_32BIT` places mappings in on x86_64 (the second GiB, bottom-up).
const MAP_32BIT_WINDOW: (usize, usize) = (0x4000_0000, 0x8000_0000);

impl<P: PageTable> AddressSpace<P> {
    /// mmap(2): maps `len` bytes and returns the start address.
    ///
    /// `file` is the open file behind `fd` when `MAP_ANONYMOUS` is not in `flags`: the
    /// dispatcher looks `fd` up first (`EBADF` if it is not open, `ENODEV` if it is not a
    /// mappable file such as the console) and passes `None` for anonymous mappings. A
    /// file's pages are read from `offset` on when first touched (bytes past the end of
    /// the file read as zero); `MAP_SHARED` is allowed only without `PROT_WRITE`
    /// (`EACCES`: the files are read-only), which makes a private page indistinguishable
    /// from sharing.
    ///
    /// `MAP_SHARED|MAP_ANONYMOUS` gives private memory: with no `fork`, the one process is
    /// the only one that could see it. `MAP_NORESERVE`, `MAP_POPULATE`, `MAP_LOCKED` and
    /// `MAP_STACK` need nothing (pages come on demand and are never swapped);
    /// `MAP_GROWSDOWN` is accepted but the area does not grow.
    pub fn mmap(
        &mut self,
        addr: usize,
        len: usize,
        prot: usize,
        flags: usize,
        file: Option<FileHandle>,
        offset: usize,
    ) -> Result<usize, Errno> {
        // x86_64 sys_mmap refuses an unaligned offset before anything else.
        if !is_page_aligned(offset) {
            return Err(Errno::EINVAL);
        }
        // Then ksys_mmap_pgoff: the file, and MAP_HUGETLB before any other flag.
        let file = if flags & MAP_ANONYMOUS != 0 {
            None
        } else {
            Some(file.ok_or(Errno::EBADF)?)
        };
        if flags & MAP_HUGETLB != 0 {
            check_hugetlb(flags, file.is_some())?;
        }
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_align_up(len).ok_or(Errno::ENOMEM)?;
        if file.is_some() && offset.checked_add(len).is_none() {
            return Err(Errno::EOVERFLOW);
        }
        self.ensure_room(2)?;

        let start = self.place(addr, len, flags)?;
        let end = start + len;
        if flags & MAP_FIXED_NOREPLACE != 0 && !self.vmas.is_free(start, end) {
            return Err(Errno::EEXIST);
        }
        let prot = Prot::from_bits_truncate(prot as u32);
        let kind = mapping_kind(flags, prot, file.is_some())?;
        let backing = file.map(|file| FileBacking {
            file,
            offset: offset as u64,
            limit: u64::MAX,
        });
        self.replace(start, end, prot, kind, backing);
        Ok(start)
    }

    /// munmap(2): removes the mappings in `[addr, addr + len)`, splitting areas that
    /// straddle its ends and freeing their pages. Holes in the range are fine.
    pub fn munmap(&mut self, addr: usize, len: usize) -> Result<usize, Errno> {
        let task_size = self.layout.task_size;
        if !is_page_aligned(addr) || addr > task_size || len > task_size - addr {
            return Err(Errno::EINVAL);
        }
        let len = page_align_up(len).ok_or(Errno::EINVAL)?;
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        // An unmap in the middle of an area splits it in two.
        self.ensure_room(1)?;
        let mut flush = PendingFlush::default();
        self.remove_range(addr, addr + len, &mut flush);
        flush.finish(&mut self.pt);
        Ok(0)
    }

    /// Chooses where a mapping of `len` (page-aligned, non-zero) bytes goes, as Linux's
    /// `get_unmapped_area` with the top-down layout.
    fn place(&self, addr: usize, len: usize, flags: usize) -> Result<usize, Errno> {
        let layout = self.layout;
        if len > layout.task_size {
            return Err(Errno::ENOMEM);
        }
        if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0 {
            return self.check_fixed(addr, len);
        }

        // A hint is rounded down to a page and raised to mmap_min_addr
        // (`round_hint_to_min`), then used if the whole range is free.
        let mut hint = page_align_down(addr);
        if hint != 0 && hint < layout.mmap_min_addr {
            hint = page_align_up(layout.mmap_min_addr).ok_or(Errno::ENOMEM)?;
        }
        let (low, high) = if flags & MAP_32BIT != 0 {
            (
                MAP_32BIT_WINDOW.0.max(layout.mmap_min_addr),
                MAP_32BIT_WINDOW.1,
            )
        } else {
            (layout.mmap_min_addr, layout.task_size)
        };
        if hint != 0 && hint <= high - len && self.vmas.is_free(hint, hint + len) {
            return Ok(hint);
        }

        let found = if flags & MAP_32BIT != 0 {
            self.vmas.gap_bottom_up(len, low, high)
        } else {
            // Below mmap_base first; Linux then falls back to the whole window.
            self.vmas
                .gap_top_down(len, low, layout.mmap_base.min(high))
                .or_else(|| self.vmas.gap_top_down(len, low, high))
        };
        found.ok_or(Errno::ENOMEM)
    }
}

/// The MAP_HUGETLB checks of ksys_mmap_pgoff. A file that is not on hugetlbfs (none is)
/// refuses it with EINVAL. Anonymous huge pages need an hstate for the size in the
/// `MAP_HUGE_*` bits (EINVAL without one: `flags = ~0` asks for 2^63-byte pages), then come
/// from a reserved pool, empty by default: Linux fails the reservation with ENOMEM.
fn check_hugetlb(flags: usize, is_file: bool) -> Result<(), Errno> {
    if is_file {
        return Err(Errno::EINVAL);
    }
    let size_shift = (flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
    if size_shift != 0 && !HUGE_PAGE_SHIFTS.contains(&size_shift) {
        return Err(Errno::EINVAL);
    }
    Err(Errno::ENOMEM)
}

/// The kind of area `flags` ask for, or the errno of a bad mapping type.
fn mapping_kind(flags: usize, prot: Prot, is_file: bool) -> Result<VmaKind, Errno> {
    let map_type = flags & MAP_TYPE;
    if is_file {
        let shared = match map_type {
            MAP_PRIVATE => false,
            MAP_SHARED => true,
            MAP_SHARED_VALIDATE if flags & !LEGACY_MAP_MASK != 0 => {
                return Err(Errno::EOPNOTSUPP);
            }
            MAP_SHARED_VALIDATE => true,
            _ => return Err(Errno::EINVAL),
        };
        if !shared {
            return Ok(VmaKind::PrivateFile);
        }
        // A writable shared mapping needs a file opened for writing; ours are read-only.
        if prot.writable() {
            return Err(Errno::EACCES);
        }
        return Ok(VmaKind::SharedFile);
    }
    // Linux accepts MAP_SHARED, MAP_PRIVATE and MAP_DROPPABLE for anonymous memory;
    // MAP_SHARED_VALIDATE and the rest are EINVAL. Droppable pages are simply never
    // dropped here.
    match map_type {
        MAP_PRIVATE | MAP_SHARED | MAP_DROPPABLE => {}
        _ => return Err(Errno::EINVAL),
    }
    if flags & (MAP_STACK | MAP_GROWSDOWN) != 0 {
        Ok(VmaKind::Stack)
    } else {
        Ok(VmaKind::Anonymous)
    }
}
