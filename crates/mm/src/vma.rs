//! Virtual memory areas and the sorted set that holds them.
//!
//! The set keeps three invariants after every public operation of the address space:
//! areas are page-aligned and non-empty, they do not overlap, and two areas that touch
//! differ in protection or kind (equal neighbours are merged, as Linux's `vma_merge`
//! does, so that splitting and re-joining a range leaves one area behind).

use crate::Prot;
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
    /// A `MAP_PRIVATE` file mapping, its bytes copied in when it was made.
    PrivateFile,
    /// A read-only `MAP_SHARED` file mapping, its bytes copied in when it was made.
    SharedFile,
}

/// One virtual memory area: the pages `[start, end)` with one protection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma {
    pub start: usize,
    pub end: usize,
    pub prot: Prot,
    pub kind: VmaKind,
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
    fn merges_with(&self, next: &Vma) -> bool {
        self.end == next.start && self.prot == next.prot && self.kind == next.kind
    }
}

/// The areas of one address space, keyed by start address.
#[derive(Default)]
pub(crate) struct VmaSet {
    areas: BTreeMap<usize, Vma>,
}

impl VmaSet {
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
        before.into_iter().chain(from.map(|(_, v)| v))
    }

    /// Whether no area intersects `[start, end)`.
    pub(crate) fn is_free(&self, start: usize, end: usize) -> bool {
        self.overlapping(start, end).next().is_none()
    }

    /// Splits the area that strictly contains `addr` into `[start, addr)` and
    /// `[addr, end)`, so that `addr` becomes an area boundary.
    pub(crate) fn split_at(&mut self, addr: usize) {
        let Some(vma) = self.find(addr).copied() else {
            return;
        };
        if vma.start == addr {
            return;
        }
        let tail = Vma { start: addr, ..vma };
        if let Some(head) = self.areas.get_mut(&vma.start) {
            head.end = addr;
        }
        self.areas.insert(addr, tail);
    }

    /// Removes and returns the areas inside `[start, end)`, which must be area boundaries
    /// or gaps (call [`split_at`](Self::split_at) first).
    pub(crate) fn remove_within(&mut self, start: usize, end: usize) -> Vec<Vma> {
        let keys: Vec<usize> = self.areas.range(start..end).map(|(k, _)| *k).collect();
        keys.iter().filter_map(|k| self.areas.remove(k)).collect()
    }

    /// The start addresses of the areas inside `[start, end)`.
    pub(crate) fn starts_within(&self, start: usize, end: usize) -> Vec<usize> {
        self.areas.range(start..end).map(|(k, _)| *k).collect()
    }

    pub(crate) fn get_mut(&mut self, start: usize) -> Option<&mut Vma> {
        self.areas.get_mut(&start)
    }

    /// Adds `vma`, whose range must be free.
    pub(crate) fn insert(&mut self, vma: Vma) {
        debug_assert!(self.is_free(vma.start, vma.end));
        self.areas.insert(vma.start, vma);
    }

    /// Merges equal neighbours across every area boundary in `[lo, hi]`.
    pub(crate) fn merge_around(&mut self, lo: usize, hi: usize) {
        // Start from the area that ends at or contains `lo`, so that its boundary with the
        // next one is considered too.
        let mut cursor = match self.areas.range(..lo).next_back() {
            Some((k, _)) => *k,
            None => lo,
        };
        loop {
            let Some((_, cur)) = self.areas.range(cursor..).next() else {
                return;
            };
            let cur = *cur;
            if cur.end > hi {
                return;
            }
            let Some(next) = self.areas.get(&cur.end).copied() else {
                // A gap follows: the next area (if any) starts a new run.
                match self.areas.range(cur.end..).next() {
                    Some((k, _)) => cursor = *k,
                    None => return,
                }
                continue;
            };
            if cur.end >= lo && cur.merges_with(&next) {
                self.areas.remove(&next.start);
                if let Some(c) = self.areas.get_mut(&cur.start) {
                    c.end = next.end;
                }
            } else {
                cursor = next.start;
            }
        }
    }

    /// The highest `len`-byte free range inside `[low, high)`, as its start.
    pub(crate) fn gap_top_down(&self, len: usize, low: usize, high: usize) -> Option<usize> {
        if high < low || high - low < len {
            return None;
        }
        let mut gap_end = high;
        for vma in self.areas.range(..high).rev().map(|(_, v)| v) {
            let gap_start = vma.end.max(low);
            if gap_start < gap_end && gap_end - gap_start >= len {
                return Some(gap_end - len);
            }
            gap_end = gap_end.min(vma.start);
            if gap_end <= low {
                return None;
            }
        }
        (gap_end >= low && gap_end - low >= len).then(|| gap_end - len)
    }

    /// The lowest `len`-byte free range inside `[low, high)`, as its start.
    pub(crate) fn gap_bottom_up(&self, len: usize, low: usize, high: usize) -> Option<usize> {
        if high < low || high - low < len {
            return None;
        }
        let mut gap_start = low;
        for vma in self.overlapping(low, high) {
            if vma.start > gap_start && vma.start - gap_start >= len {
                return Some(gap_start);
            }
            gap_start = gap_start.max(vma.end);
            if gap_start >= high {
                return None;
            }
        }
        (high - gap_start >= len).then_some(gap_start)
    }
}
