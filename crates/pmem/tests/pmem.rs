//! Memory-map clipping and frame allocation, as specifications.

use pmem::{
    E820_RAM, FRAME_SIZE, FrameAllocator, HvmMemmapEntry, MAX_REGIONS, MemoryMap, PmemError, Region,
};
use std::collections::BTreeSet;

const MIB: u64 = 1 << 20;

fn e(addr: u64, size: u64, kind: u32) -> HvmMemmapEntry {
    HvmMemmapEntry {
        addr,
        size,
        kind,
        reserved: 0,
    }
}

fn r(start: u64, end: u64) -> Region {
    Region { start, end }
}

fn map(entries: &[HvmMemmapEntry]) -> MemoryMap {
    MemoryMap::from_entries(entries).unwrap()
}

/// What QEMU microvm reports for `-m 128M`: low RAM, BIOS holes, high RAM, then a zero entry.
fn microvm() -> Vec<HvmMemmapEntry> {
    vec![
        e(0, 0x9fc00, E820_RAM),
        e(0x9fc00, 0x400, 2),
        e(0xf0000, 0x10000, 2),
        e(0x10_0000, 127 * MIB, E820_RAM),
        e(0, 0, 0),
        e(0x4000_0000, MIB, E820_RAM),
    ]
}

#[test]
fn microvm_map_gives_aligned_ram_and_stops_at_the_zero_entry() {
    let m = map(&microvm());
    assert_eq!(m.regions(), [r(0, 0x9f000), r(0x10_0000, 128 * MIB)]);
    assert_eq!(m.total_bytes(), 0x9f000 + 127 * MIB);
}

#[test]
fn entries_decode_from_unaligned_bytes() {
    let mut bytes = [0u8; 1 + 24];
    bytes[1..9].copy_from_slice(&0x10_0000u64.to_le_bytes());
    bytes[9..17].copy_from_slice(&(2 * MIB).to_le_bytes());
    bytes[17..21].copy_from_slice(&1u32.to_le_bytes());
    assert_eq!(
        HvmMemmapEntry::from_le_bytes(&bytes[1..]),
        Some(e(0x10_0000, 2 * MIB, 1))
    );
    assert_eq!(HvmMemmapEntry::from_le_bytes(&bytes[1..24]), None);
}

#[test]
fn overlapping_adjacent_and_unsorted_ram_entries_merge() {
    let m = map(&[
        e(8 * MIB, MIB, E820_RAM),
        e(MIB, 2 * MIB, E820_RAM),
        e(2 * MIB, 2 * MIB, E820_RAM),
        e(4 * MIB, MIB, E820_RAM),
        e(9 * MIB, 0, E820_RAM),
    ]);
    assert_eq!(m.regions(), [r(MIB, 5 * MIB), r(8 * MIB, 9 * MIB)]);
}

#[test]
fn unaligned_ram_shrinks_to_whole_frames_after_merging() {
    let m = map(&[
        e(0x1001, 0x1000, E820_RAM),
        e(0x2001, 0x2fff, E820_RAM),
        e(0x10, 0x100, E820_RAM),
    ]);
    assert_eq!(m.regions(), [r(0x2000, 0x5000)]);
}

#[test]
fn reserved_entries_overlapping_ram_win() {
    let m = map(&[
        e(0, 16 * MIB, E820_RAM),
        e(4 * MIB + 1, 10, 2),
        e(15 * MIB, 4 * MIB, 3),
    ]);
    assert_eq!(
        m.regions(),
        [r(0, 4 * MIB), r(4 * MIB + FRAME_SIZE, 15 * MIB)]
    );
}

#[test]
fn ranges_running_past_the_top_of_memory_saturate() {
    let m = map(&[e(u64::MAX - 0x1fff, 0x10000, E820_RAM)]);
    assert_eq!(m.regions(), [r(u64::MAX - 0x1fff, u64::MAX - 0xfff)]);
}

#[test]
fn reserve_clips_splits_and_widens_to_frames() {
    let mut m = map(&microvm());
    m.reserve(0, MIB).unwrap();
    m.reserve(2 * MIB + 10, 3 * MIB - 10).unwrap();
    m.reserve(200 * MIB, 300 * MIB).unwrap();
    m.reserve(5, 5).unwrap();
    assert_eq!(m.regions(), [r(MIB, 2 * MIB), r(3 * MIB, 128 * MIB)]);
    m.reserve(0, u64::MAX).unwrap();
    assert!(m.regions().is_empty());
}

#[test]
fn more_regions_than_capacity_is_an_error() {
    let entries: Vec<_> = (0..MAX_REGIONS as u64 + 1)
        .map(|i| e(i * 2 * MIB, MIB, E820_RAM))
        .collect();
    assert_eq!(
        MemoryMap::from_entries(&entries).unwrap_err(),
        PmemError::TooManyRegions
    );
    let mut m = map(&entries[..MAX_REGIONS]);
    assert_eq!(
        m.reserve(MIB / 2, MIB / 2 + 1),
        Err(PmemError::TooManyRegions)
    );
    assert_eq!(m.regions().len(), MAX_REGIONS, "unchanged after the error");
}

#[test]
fn carve_takes_the_start_of_the_first_region_large_enough() {
    let mut m = map(&[e(0, 0x3000, E820_RAM), e(MIB, MIB, E820_RAM)]);
    assert_eq!(m.carve(0x4000), Some(MIB));
    assert_eq!(m.regions(), [r(0, 0x3000), r(MIB + 0x4000, 2 * MIB)]);
    assert_eq!(m.carve(1), Some(0));
    assert_eq!(m.carve(4 * MIB), None);
}

fn small_map() -> MemoryMap {
    // 3 frames, then 70 frames: words straddle regions and the bitmap has a partial word.
    map(&[
        e(0x10000, 3 * FRAME_SIZE, E820_RAM),
        e(MIB, 70 * FRAME_SIZE, E820_RAM),
    ])
}

#[test]
fn allocator_hands_out_every_frame_once_then_reports_exhaustion() {
    let m = small_map();
    let mut storage = vec![0u64; FrameAllocator::bitmap_words(&m)];
    assert_eq!(storage.len(), 2);
    let mut a = FrameAllocator::new(m, &mut storage).unwrap();
    assert_eq!(a.free_frames(), 73);
    let mut seen = BTreeSet::new();
    while let Some(frame) = a.alloc() {
        assert_eq!(frame % FRAME_SIZE, 0);
        assert!(m.regions().iter().any(|r| r.contains(frame)));
        assert!(seen.insert(frame), "{frame:#x} handed out twice");
    }
    assert_eq!(seen.len(), 73);
    assert_eq!(a.free_frames(), 0);
    assert_eq!(a.alloc_contiguous(1), None);
}

#[test]
fn freed_frames_are_reused() {
    let m = small_map();
    let mut storage = vec![0u64; 2];
    let mut a = FrameAllocator::new(m, &mut storage).unwrap();
    let frames: Vec<u64> = (0..73).map(|_| a.alloc().unwrap()).collect();
    a.free(frames[40]).unwrap();
    assert_eq!(a.free_frames(), 1);
    assert_eq!(a.alloc(), Some(frames[40]));
    assert!(a.is_allocated(frames[40]));
}

#[test]
fn double_unaligned_and_foreign_frees_are_refused_without_damage() {
    let m = small_map();
    let mut storage = vec![0u64; 2];
    let mut a = FrameAllocator::new(m, &mut storage).unwrap();
    let f = a.alloc().unwrap();
    a.free(f).unwrap();
    assert_eq!(a.free(f), Err(PmemError::DoubleFree(f)));
    assert_eq!(a.free(f + 1), Err(PmemError::Unaligned(f + 1)));
    assert_eq!(a.free(0), Err(PmemError::NotManaged(0)));
    assert_eq!(
        a.free(MIB + 70 * FRAME_SIZE),
        Err(PmemError::NotManaged(MIB + 70 * FRAME_SIZE))
    );
    assert_eq!(a.free_frames(), 73);
    assert_eq!((0..100).filter_map(|_| a.alloc()).count(), 73);
}

#[test]
fn contiguous_runs_stay_inside_one_region_and_skip_used_frames() {
    let m = small_map();
    let mut storage = vec![0u64; 2];
    let mut a = FrameAllocator::new(m, &mut storage).unwrap();
    // 4 frames cannot come from the 3-frame region.
    assert_eq!(a.alloc_contiguous(4), Some(MIB));
    let single = a.alloc().unwrap();
    assert_eq!(single, 0x10000);
    assert_eq!(a.alloc_contiguous(3), Some(MIB + 4 * FRAME_SIZE));
    a.free(MIB + FRAME_SIZE).unwrap();
    assert_eq!(a.alloc_contiguous(2), Some(0x10000 + FRAME_SIZE));
    assert_eq!(
        a.alloc_contiguous(64),
        None,
        "only 63 left in the large region"
    );
    assert_eq!(a.alloc_contiguous(63), Some(MIB + 7 * FRAME_SIZE));
    assert_eq!(a.alloc_contiguous(0), None);
    assert_eq!(a.free_frames(), 1);
}

#[test]
fn too_small_storage_is_refused() {
    let m = small_map();
    let mut storage = vec![0u64; 1];
    assert_eq!(
        FrameAllocator::new(m, &mut storage).unwrap_err(),
        PmemError::StorageTooSmall
    );
}

#[test]
fn empty_map_allocates_nothing() {
    let m = MemoryMap::new();
    let mut storage = [];
    let mut a = FrameAllocator::new(m, &mut storage).unwrap();
    assert_eq!(a.alloc(), None);
    assert_eq!(a.free(0x1000), Err(PmemError::NotManaged(0x1000)));
}
