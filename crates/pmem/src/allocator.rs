//! The frame allocator: one bit per usable frame, 1 = free.

use crate::{FRAME_SIZE, MemoryMap, PmemError};

/// Hands out the frames of a [`MemoryMap`].
///
/// Bit `i` of the bitmap stands for the `i`-th usable frame counted across the regions
/// in address order; bits past the last frame stay 0 so they are never handed out. A
/// hint remembers the word of the last allocation, so a run of allocations does not
/// rescan the full words below it.
#[derive(Debug)]
pub struct FrameAllocator<'a> {
    map: MemoryMap,
    bits: &'a mut [u64],
    free: u64,
    hint: usize,
}

impl<'a> FrameAllocator<'a> {
    /// How many `u64` words of storage the bitmap for `map` needs.
    pub fn bitmap_words(map: &MemoryMap) -> usize {
        map.total_frames().div_ceil(64) as usize
    }

    /// An allocator with every frame of `map` free. `storage` needs at least
    /// [`bitmap_words`](Self::bitmap_words) words; its contents are overwritten.
    pub fn new(map: MemoryMap, storage: &'a mut [u64]) -> Result<Self, PmemError> {
        let words = Self::bitmap_words(&map);
        let bits = storage.get_mut(..words).ok_or(PmemError::StorageTooSmall)?;
        let total = map.total_frames();
        for (i, word) in bits.iter_mut().enumerate() {
            let first = i as u64 * 64;
            *word = match total.saturating_sub(first) {
                n if n >= 64 => u64::MAX,
                n => (1u64 << n) - 1,
            };
        }
        Ok(FrameAllocator {
            map,
            bits,
            free: total,
            hint: 0,
        })
    }

    /// The regions this allocator manages.
    pub fn map(&self) -> &MemoryMap {
        &self.map
    }

    /// Frames currently free.
    pub fn free_frames(&self) -> u64 {
        self.free
    }

    /// Frames managed in all.
    pub fn total_frames(&self) -> u64 {
        self.map.total_frames()
    }

    /// One frame, or `None` when memory is exhausted.
    pub fn alloc(&mut self) -> Option<u64> {
        let words = self.bits.len();
        let found = (self.hint..words)
            .chain(0..self.hint)
            .find(|&w| self.bits[w] != 0)?;
        let bit = self.bits[found].trailing_zeros() as u64;
        self.bits[found] &= !(1 << bit);
        self.free -= 1;
        self.hint = found;
        self.address(found as u64 * 64 + bit)
    }

    /// `n` physically contiguous frames (e.g. a kernel stack), lowest address first;
    /// `None` if no free run of that length exists or `n` is 0. First fit, O(frames).
    pub fn alloc_contiguous(&mut self, n: u64) -> Option<u64> {
        if n == 0 || n > self.free {
            return None;
        }
        let mut index = 0;
        for r in 0..self.map.regions().len() {
            let region = self.map.regions()[r];
            let (first, end) = (index, index + region.frames());
            index = end;
            let mut run_start = first;
            let mut i = first;
            while i < end {
                if !self.is_free(i) {
                    run_start = i + 1;
                } else if i + 1 - run_start == n {
                    for j in run_start..=i {
                        self.set_free(j, false);
                    }
                    self.free -= n;
                    return Some(region.start + (run_start - first) * FRAME_SIZE);
                }
                i += 1;
            }
        }
        None
    }

    /// Returns a frame. A frame that is already free, not frame-aligned, or outside the
    /// managed regions is refused and the allocator is left as it was.
    pub fn free(&mut self, addr: u64) -> Result<(), PmemError> {
        if !addr.is_multiple_of(FRAME_SIZE) {
            return Err(PmemError::Unaligned(addr));
        }
        let index = self.index(addr).ok_or(PmemError::NotManaged(addr))?;
        if self.is_free(index) {
            return Err(PmemError::DoubleFree(addr));
        }
        self.set_free(index, true);
        self.free += 1;
        Ok(())
    }

    /// Whether the frame at `addr` is managed and currently allocated.
    pub fn is_allocated(&self, addr: u64) -> bool {
        addr.is_multiple_of(FRAME_SIZE) && self.index(addr).is_some_and(|i| !self.is_free(i))
    }

    fn is_free(&self, index: u64) -> bool {
        self.bits[(index / 64) as usize] & (1 << (index % 64)) != 0
    }

    fn set_free(&mut self, index: u64, free: bool) {
        let word = &mut self.bits[(index / 64) as usize];
        if free {
            *word |= 1 << (index % 64);
        } else {
            *word &= !(1 << (index % 64));
        }
    }

    /// Bit index of the frame at `addr`.
    fn index(&self, addr: u64) -> Option<u64> {
        let mut index = 0;
        for region in self.map.regions() {
            if region.contains(addr) {
                return Some(index + (addr - region.start) / FRAME_SIZE);
            }
            index += region.frames();
        }
        None
    }

    /// Physical address of bit `index`.
    fn address(&self, mut index: u64) -> Option<u64> {
        for region in self.map.regions() {
            if index < region.frames() {
                return Some(region.start + index * FRAME_SIZE);
            }
            index -= region.frames();
        }
        None
    }
}
