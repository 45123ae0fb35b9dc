//! The usable-RAM map.

use crate::{FRAME_SIZE, PmemError, align_down, align_up};

/// E820 type of usable RAM.
pub const E820_RAM: u32 = 1;

/// How many disjoint regions a [`MemoryMap`] holds (E820 tables have at most 128
/// entries; reservations may split some).
pub const MAX_REGIONS: usize = 256;

/// One `hvm_memmap_table_entry` (24 bytes, little-endian).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HvmMemmapEntry {
    pub addr: u64,
    pub size: u64,
    /// E820 type: 1 RAM, 2 reserved, 3 ACPI reclaimable, 4 ACPI NVS, 5 unusable.
    pub kind: u32,
    pub reserved: u32,
}

impl HvmMemmapEntry {
    /// Size of the record in `hvm_start_info`'s table.
    pub const SIZE: usize = 24;

    /// Decodes a record from bytes at any alignment (on QEMU microvm the table is only
    /// 4-byte aligned); `None` if fewer than 24 bytes are given.
    pub fn from_le_bytes(bytes: &[u8]) -> Option<HvmMemmapEntry> {
        let u64_at = |o: usize| Some(u64::from_le_bytes(bytes.get(o..o + 8)?.try_into().ok()?));
        let u32_at = |o: usize| Some(u32::from_le_bytes(bytes.get(o..o + 4)?.try_into().ok()?));
        Some(HvmMemmapEntry {
            addr: u64_at(0)?,
            size: u64_at(8)?,
            kind: u32_at(16)?,
            reserved: u32_at(20)?,
        })
    }

    fn end(&self) -> u64 {
        self.addr.saturating_add(self.size)
    }

    fn is_terminator(&self) -> bool {
        *self == HvmMemmapEntry::default()
    }
}

/// A frame-aligned physical range `[start, end)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Region {
    pub start: u64,
    pub end: u64,
}

impl Region {
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    pub fn frames(&self) -> u64 {
        self.len() / FRAME_SIZE
    }

    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }
}

/// Usable RAM: sorted, disjoint, non-adjacent, frame-aligned, non-empty regions.
#[derive(Clone, Copy, Debug)]
pub struct MemoryMap {
    regions: [Region; MAX_REGIONS],
    len: usize,
}

impl MemoryMap {
    /// An empty map.
    pub const fn new() -> MemoryMap {
        MemoryMap {
            regions: [Region { start: 0, end: 0 }; MAX_REGIONS],
            len: 0,
        }
    }

    /// Usable RAM from an E820-style table: the union of the RAM entries minus every
    /// other entry (firmware tables may overlap; a non-RAM claim wins), aligned inwards
    /// to frames. Reading stops at an all-zero entry, which ends the table on microvm.
    pub fn from_entries(entries: &[HvmMemmapEntry]) -> Result<MemoryMap, PmemError> {
        let table = entries.iter().take_while(|e| !e.is_terminator());
        let mut map = MemoryMap::new();
        for e in table.clone().filter(|e| e.kind == E820_RAM && e.size > 0) {
            map.add(e.addr, e.end())?;
        }
        for e in table.filter(|e| e.kind != E820_RAM && e.size > 0) {
            map.remove(e.addr, e.end())?;
        }
        map.align_to_frames();
        Ok(map)
    }

    /// The regions, in ascending address order.
    pub fn regions(&self) -> &[Region] {
        &self.regions[..self.len]
    }

    /// Total usable bytes.
    pub fn total_bytes(&self) -> u64 {
        self.regions().iter().map(Region::len).sum()
    }

    /// Total usable frames.
    pub fn total_frames(&self) -> u64 {
        self.total_bytes() / FRAME_SIZE
    }

    /// Takes `[start, end)` out of the map, widened to whole frames (a frame that holds
    /// any reserved byte is not usable).
    pub fn reserve(&mut self, start: u64, end: u64) -> Result<(), PmemError> {
        if start < end {
            self.remove(align_down(start), align_up(end))?;
        }
        Ok(())
    }

    /// Takes `bytes` (rounded up to frames) from the start of the lowest region large
    /// enough and returns its physical address: storage for the frame bitmap, carved
    /// before the allocator exists.
    pub fn carve(&mut self, bytes: u64) -> Option<u64> {
        let size = align_up(bytes.max(1));
        let region = self.regions().iter().find(|r| r.len() >= size)?;
        let start = region.start;
        // Removing a prefix of one region never splits it, so this cannot fail.
        self.remove(start, start + size).ok()?;
        Some(start)
    }

    /// Adds `[start, end)`, merging with overlapping or adjacent regions.
    fn add(&mut self, start: u64, end: u64) -> Result<(), PmemError> {
        let (mut start, mut end) = (start, end);
        // Regions are sorted and disjoint: the ones touching the new range are a run.
        let first = self.regions().partition_point(|r| r.end < start);
        let mut last = first;
        while last < self.len && self.regions[last].start <= end {
            start = start.min(self.regions[last].start);
            end = end.max(self.regions[last].end);
            last += 1;
        }
        self.replace(first..last, &[Region { start, end }])
    }

    /// Removes `[start, end)` from every region.
    fn remove(&mut self, start: u64, end: u64) -> Result<(), PmemError> {
        let first = self.regions().partition_point(|r| r.end <= start);
        let mut last = first;
        while last < self.len && self.regions[last].start < end {
            last += 1;
        }
        if first == last {
            return Ok(());
        }
        let head = Region {
            start: self.regions[first].start,
            end: start,
        };
        let tail = Region {
            start: end,
            end: self.regions[last - 1].end,
        };
        let keep = [head, tail];
        let keep: &[Region] = match (head.is_empty(), tail.is_empty()) {
            (false, false) => &keep,
            (false, true) => &keep[..1],
            (true, false) => &keep[1..],
            (true, true) => &[],
        };
        self.replace(first..last, keep)
    }

    /// Replaces `self.regions[range]` with `with` (sorted, fitting the gap).
    fn replace(
        &mut self,
        range: core::ops::Range<usize>,
        with: &[Region],
    ) -> Result<(), PmemError> {
        let new_len = self.len - range.len() + with.len();
        if new_len > MAX_REGIONS {
            return Err(PmemError::TooManyRegions);
        }
        let tail = range.end..self.len;
        let new_tail_start = range.start + with.len();
        self.regions.copy_within(tail, new_tail_start);
        self.regions[range.start..new_tail_start].copy_from_slice(with);
        self.len = new_len;
        Ok(())
    }

    fn align_to_frames(&mut self) {
        let mut kept = 0;
        for i in 0..self.len {
            let r = self.regions[i];
            let aligned = Region {
                start: align_up(r.start),
                end: align_down(r.end),
            };
            if !aligned.is_empty() {
                self.regions[kept] = aligned;
                kept += 1;
            }
        }
        self.len = kept;
    }
}

impl Default for MemoryMap {
    fn default() -> MemoryMap {
        MemoryMap::new()
    }
}
