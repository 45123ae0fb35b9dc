//! Physical memory: which frames are usable RAM, and who owns each of them.
//!
//! [`MemoryMap`] turns the firmware memory map — the PVH `hvm_start_info` memmap, whose
//! entries are E820 records (`struct hvm_memmap_table_entry` in Xen's
//! `public/arch-x86/hvm/start_info.h`; type 1 is RAM) — into sorted, merged, 4 KiB-aligned
//! usable regions, minus what the kernel must keep (its image, the initrd, boot
//! structures, the first MiB with its BIOS areas). [`FrameAllocator`] hands those frames
//! out one by one or in physically contiguous runs, with a bitmap whose storage the
//! caller provides (the kernel carves it out of the map itself with
//! [`MemoryMap::carve`]), and refuses a double free or the free of a frame it never
//! managed instead of corrupting its state.
//!
//! Neither type allocates: the map has a fixed capacity, so this works before the heap
//! exists. Mapping frames into address spaces, zeroing them and locking are the
//! kernel's job.
#![cfg_attr(not(test), no_std)]

mod allocator;
mod map;

pub use allocator::FrameAllocator;
pub use map::{E820_RAM, HvmMemmapEntry, MAX_REGIONS, MemoryMap, Region};

/// The size of a physical frame.
pub const FRAME_SIZE: u64 = 4096;

/// What went wrong; none of these leaves the map or the allocator inconsistent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PmemError {
    /// More distinct regions than [`MAX_REGIONS`].
    TooManyRegions,
    /// The bitmap storage given to [`FrameAllocator::new`] has fewer words than
    /// [`FrameAllocator::bitmap_words`] asks for.
    StorageTooSmall,
    /// A freed address is not frame-aligned.
    Unaligned(u64),
    /// A freed address is not in any region this allocator manages.
    NotManaged(u64),
    /// A freed frame was already free.
    DoubleFree(u64),
}

impl core::fmt::Display for PmemError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PmemError::TooManyRegions => write!(f, "pmem: more than {MAX_REGIONS} regions"),
            PmemError::StorageTooSmall => write!(f, "pmem: bitmap storage too small"),
            PmemError::Unaligned(a) => write!(f, "pmem: free of unaligned address {a:#x}"),
            PmemError::NotManaged(a) => write!(f, "pmem: free of unmanaged frame {a:#x}"),
            PmemError::DoubleFree(a) => write!(f, "pmem: double free of frame {a:#x}"),
        }
    }
}

const fn align_down(addr: u64) -> u64 {
    addr & !(FRAME_SIZE - 1)
}

const fn align_up(addr: u64) -> u64 {
    match addr.checked_next_multiple_of(FRAME_SIZE) {
        Some(a) => a,
        None => align_down(u64::MAX),
    }
}
