//! Virtual memory areas and the sorted set that holds them.
//!
//! The set keeps three invariants after every public operation of the address space:
//! areas are page-aligned and non-empty, they do not overlap, and two areas that touch
//! differ in protection, kind or file backing (equal neighbours are merged, as Linux's
//! `vma_merge` does, so that splitting and re-joining a range leaves one area behind).
//!
//! Beside the areas it keeps their complement, the free gaps, in a [`GapTree`], so that
//! placement finds a free range in O(log n) however many areas there are.

use crate::gaps::{Gap, GapTree};
use crate::{FileHandle, Prot};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// What an area was made for. Informational, except that areas of different kinds never
/// merge and a [`SharedFile`](VmaKind::SharedFile) area can never become writable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VmaKind {
    /// Anonymous memory from `mmap` (private, or shared within the one process).
    Anonymous,
    /// An anonymous mapping made with `MAP_STACK` or `MAP_GROWSDOWN`, or the main stack.
    Stack,
    /// The `brk` heap.
    Heap,
    /// A `PT_LOAD` segment of the program.
    Elf,
    /// A `MAP_PRIVATE` file mapping.
    PrivateFile,
    /// A read-only `MAP_SHARED` file mapping.
    SharedFile,
}

/// Where the pages of a file-backed area come from: a page absent from the page table is
/// read from the file when it is touched, so that a page dropped by `MADV_DONTNEED` shows
/// the file's bytes again, as Linux does for private file mappings.
#[derive(Clone)]
pub struct FileBacking {
    /// The file.
    pub file: FileHandle,
    /// The file offset of the area's first byte.
    pub offset: u64,
    /// File offsets from here on read as zeroes: the end of the file, or of an ELF
    /// segment's `p_filesz` (so that `.bss` sharing a page with `.data` stays zero).
    pub limit: u64,
}

impl FileBacking {
    /// The same backing for an area that starts `delta` bytes further.
    pub(crate) fn advanced(&self, delta: usize) -> FileBacking {
        FileBacking {
            offset: self.offset.saturating_add(delta as u64),
            ..self.clone()
        }
    }

    /// Whether an area backed by `next` can continue one backed by `self` that is `len`
    /// bytes long: the same file, contiguous offsets, the same limit.
    fn continues_with(&self, len: usize, next: &FileBacking) -> bool {
        same_file(&self.file, &next.file)
            && self.offset.checked_add(len as u64) == Some(next.offset)
            && self.limit == next.limit
    }
}

fn same_file(a: &FileHandle, b: &FileHandle) -> bool {
    // Compare the data pointers only: the vtable pointers of one type may differ between
    // codegen units.
    core::ptr::eq(
        alloc::sync::Arc::as_ptr(a).cast::<u8>(),
        alloc::sync::Arc::as_ptr(b).cast::<u8>(),
    )
}

impl PartialEq for FileBacking {
    fn eq(&self, other: &FileBacking) -> bool {
        same_file(&self.file, &other.file)
            && self.offset == other.offset
            && self.limit == other.limit
    }
}

impl Eq for FileBacking {}

impl core::fmt::Debug for FileBacking {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FileBacking")
            .field("offset", &format_args!("{:#x}", self.offset))
            .field("limit", &format_args!("{:#x}", self.limit))
            .finish_non_exhaustive()
    }
}

/// One virtual memory area: the pages `[start, end)` with one protection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vma {
    pub start: usize,
    pub end: usize,
    pub prot: Prot,
    pub kind: VmaKind,
    /// The file behind the pages, or `None` for anonymous memory (zero-filled pages).
    pub backing: Option<FileBacking>,
}

impl Vma {
    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Always false: areas are never empty. Present for the `len`/`is_empty` pair.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether `addr` lies inside.
    pub fn contains(&self, addr: usize) -> bool {
        self.start <= addr && addr < self.end
    }

    /// Whether `next` starts where `self` ends and the two would be one area.
    pub(crate) fn merges_with(&self, next: &Vma) -> bool {
        let backing = match (&self.backing, &next.backing) {
            (None, None) => true,
            (Some(a), Some(b)) => a.continues_with(self.len(), b),
            _ => false,
        };
        self.end == next.start && self.prot == next.prot && self.kind == next.kind && backing
    }

    /// The part of `self` from `addr` on (`addr` inside it), its file offset moved along.
    fn tail_from(&self, addr: usize) -> Vma {
        Vma {
            start: addr,
            backing: self.backing.as_ref().map(|b| b.advanced(addr - self.start)),
            ..self.clone()
        }
    }
}

/// The areas of one address space, keyed by start address, and the gaps between them.
pub(crate) struct VmaSet {
    areas: BTreeMap<usize, Vma>,
    gaps: GapTree,
    /// Areas visited by walks, for the host tests' complexity checks.
    #[cfg(test)]
    pub(crate) visits: core::cell::Cell<usize>,
}

impl Default for VmaSet {
    fn default() -> VmaSet {
        let mut gaps = GapTree::default();
        gaps.insert(Gap {
            start: 0,
            end: usize::MAX,
        });
        VmaSet {
            areas: BTreeMap::new(),
            gaps,
            #[cfg(test)]
            visits: core::cell::Cell::new(0),
        }
    }
}

impl VmaSet {
    fn visit(&self) {
        #[cfg(test)]
        self.visits.set(self.visits.get() + 1);
    }

    /// Work done by walks and gap searches so far (host tests only).
    #[cfg(test)]
    pub(crate) fn work(&self) -> usize {
        self.visits.get() + self.gaps.visits.get()
    }

    /// The gaps in address order, after checking the tree's invariants (host tests only).
    #[cfg(test)]
    pub(crate) fn checked_gaps(&self) -> Vec<(usize, usize)> {
        self.gaps.check().iter().map(|g| (g.start, g.end)).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.areas.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Vma> {
        self.areas.values()
    }

    /// The area containing `addr`.
    pub(crate) fn find(&self, addr: usize) -> Option<&Vma> {
        let (_, vma) = self.areas.range(..=addr).next_back()?;
        vma.contains(addr).then_some(vma)
    }

    /// The areas that intersect `[start, end)`, in address order.
    pub(crate) fn overlapping(&self, start: usize, end: usize) -> impl Iterator<Item = &Vma> {
        let before = self
            .areas
            .range(..start)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| v.end > start);
        let from = if start < end {
            self.areas.range(start..end)
        } else {
            // An empty query; `range(start..start)` would be valid too, but an empty
            // range with `start > end` panics in BTreeMap.
            self.areas.range(start..start)
        };
        before
            .into_iter()
            .chain(from.map(|(_, v)| v))
            .inspect(|_| self.visit())
    }

    /// Whether no area intersects `[start, end)`.
    pub(crate) fn is_free(&self, start: usize, end: usize) -> bool {
        self.overlapping(start, end).next().is_none()
    }

    /// Splits the area that strictly contains `addr` into `[start, addr)` and
    /// `[addr, end)`, so that `addr` becomes an area boundary. The tail's file offset
    /// moves along with its start.
    pub(crate) fn split_at(&mut self, addr: usize) {
        let Some(vma) = self.find(addr) else {
            return;
        };
        if vma.start == addr {
            return;
        }
        let (head_start, tail) = (vma.start, vma.tail_from(addr));
        if let Some(head) = self.areas.get_mut(&head_start) {
            head.end = addr;
        }
        self.areas.insert(addr, tail);
    }

    /// Removes and returns the areas inside `[start, end)`, which must be area boundaries
    /// or gaps (call [`split_at`](Self::split_at) first).
    pub(crate) fn remove_within(&mut self, start: usize, end: usize) -> Vec<Vma> {
        let keys: Vec<usize> = self.areas.range(start..end).map(|(k, _)| *k).collect();
        keys.iter().filter_map(|k| self.remove(*k)).collect()
    }

    /// Removes the area starting at `key`; its range joins the gaps around it.
    fn remove(&mut self, key: usize) -> Option<Vma> {
        let vma = self.areas.remove(&key)?;
        let below = self.gaps.remove(vma.start);
        let next_start = self
            .areas
            .range(vma.end..)
            .next()
            .map_or(usize::MAX, |(k, _)| *k);
        if next_start > vma.end {
            self.gaps.remove(next_start);
        }
        self.gaps.insert(Gap {
            start: below.map_or(vma.start, |g| g.start),
            end: next_start,
        });
        Some(vma)
    }

    /// The start addresses of the areas inside `[start, end)`.
    pub(crate) fn starts_within(&self, start: usize, end: usize) -> Vec<usize> {
        self.areas.range(start..end).map(|(k, _)| *k).collect()
    }

    pub(crate) fn get_mut(&mut self, start: usize) -> Option<&mut Vma> {
        self.areas.get_mut(&start)
    }

    /// Adds `vma`, whose range must be free; it is carved out of the gap that holds it.
    pub(crate) fn insert(&mut self, vma: Vma) {
        debug_assert!(self.is_free(vma.start, vma.end));
        let gap_start = self
            .areas
            .range(..vma.start)
            .next_back()
            .map_or(0, |(_, v)| v.end);
        let gap_end = self
            .areas
            .range(vma.end..)
            .next()
            .map_or(usize::MAX, |(k, _)| *k);
        self.gaps.remove(gap_end);
        self.gaps.insert(Gap {
            start: gap_start,
            end: vma.start,
        });
        self.gaps.insert(Gap {
            start: vma.end,
            end: gap_end,
        });
        self.areas.insert(vma.start, vma);
    }

    /// Merges equal neighbours across every area boundary in `[lo, hi]`. The covered range
    /// does not change, so neither do the gaps.
    pub(crate) fn merge_around(&mut self, lo: usize, hi: usize) {
        // Start from the area that ends at or contains `lo`, so that its boundary with the
        // next one is considered too.
        let mut cursor = match self.areas.range(..lo).next_back() {
            Some((k, _)) => *k,
            None => lo,
        };
        loop {
            self.visit();
            let Some((_, cur)) = self.areas.range(cursor..).next() else {
                return;
            };
            let (cur_start, cur_end) = (cur.start, cur.end);
            if cur_end > hi {
                return;
            }
            let Some(next) = self.areas.get(&cur_end) else {
                // A gap follows: the next area (if any) starts a new run.
                match self.areas.range(cur_end..).next() {
                    Some((k, _)) => cursor = *k,
                    None => return,
                }
                continue;
            };
            if cur_end >= lo && cur.merges_with(next) {
                let next_end = next.end;
                self.areas.remove(&cur_end);
                if let Some(c) = self.areas.get_mut(&cur_start) {
                    c.end = next_end;
                }
            } else {
                cursor = cur_end;
            }
        }
    }

    /// The highest `len`-byte free range inside `[low, high)`, as its start.
    pub(crate) fn gap_top_down(&self, len: usize, low: usize, high: usize) -> Option<usize> {
        if high < low || high - low < len {
            return None;
        }
        // The gap that runs across `high` is not in the tree's answer (its end is above
        // the bound): its part below `high`, if long enough, is the highest candidate.
        let (gap_start, gap_end) = self.gap_around(high);
        if gap_start <= high && gap_end > high && high - gap_start.max(low) >= len {
            return Some(high - len);
        }
        // The highest gap below that fits whole; if its top `len` bytes reach below `low`,
        // every lower gap's do too.
        let gap = self.gaps.highest_fit(len, high)?;
        (gap.end - len >= low).then(|| gap.end - len)
    }

    /// The lowest `len`-byte free range inside `[low, high)`, as its start.
    pub(crate) fn gap_bottom_up(&self, len: usize, low: usize, high: usize) -> Option<usize> {
        if high < low || high - low < len {
            return None;
        }
        // The gap that runs across `low` first, clipped to the window.
        let (gap_start, gap_end) = self.gap_around(low);
        let mut min_end = low;
        if gap_start <= low && gap_end > low {
            if gap_end.min(high) - low >= len {
                return Some(low);
            }
            min_end = gap_end;
        }
        let gap = self.gaps.lowest_fit(len, min_end)?;
        (gap.start.checked_add(len).is_some_and(|e| e <= high)).then_some(gap.start)
    }

    /// The free range around `addr`, as `(start, end)`: the end of the area before
    /// `addr` (or 0) and the start of the first area at or after it (or `usize::MAX`).
    /// Empty (`start > addr` or `end == addr`) when an area covers `addr`.
    fn gap_around(&self, addr: usize) -> (usize, usize) {
        let start = self
            .areas
            .range(..addr)
            .next_back()
            .map_or(0, |(_, v)| v.end);
        let end = self
            .areas
            .range(addr..)
            .next()
            .map_or(usize::MAX, |(k, _)| *k);
        (start, end)
    }
}
