//! Per-process virtual memory: the VMA set of a user address space and the Linux memory
//! syscalls on it, over a page table the kernel supplies.
//!
//! # What it owns
//!
//! An [`AddressSpace`] holds the sorted set of [`Vma`]s (page-aligned, non-overlapping,
//! adjacent equal areas merged), the program break, and the placement policy for new
//! mappings. It implements `mmap`, `munmap`, `mprotect`, `brk` and `madvise` with the
//! errnos of Linux x86_64, and resolves user page faults: demand paging with zero-filled
//! pages for anonymous memory and with the file's bytes for file-backed areas (file
//! mappings and the program's `PT_LOAD` segments, which are therefore loaded lazily as
//! Linux does), or a SIGSEGV verdict with its `si_code` ([`Fault`]).
//!
//! Lookups, placement, splits and merges cost O(log n) in the number of areas: areas sit
//! in a `BTreeMap` and the free gaps between them in an augmented AVL tree (`gaps`).
//!
//! # What it does not do
//!
//! It touches no hardware. Frames, page-table entries and TLBs sit behind the
//! [`PageTable`] trait, which the kernel implements over its real page tables and the
//! tests over a `HashMap`. File contents reach it through [`MapFile`]. It takes no lock:
//! the kernel keeps one `AddressSpace` per process behind its own lock.
//!
//! Not supported, each marked where it lives: shared memory between processes (there is
//! no `fork`; `MAP_SHARED|MAP_ANONYMOUS` is private memory of the one process, which is
//! the same thing while the process is the only user), writes reaching a file, stack
//! growth on faults below a `MAP_GROWSDOWN` area, `mremap`, `RLIMIT_DATA`/`RLIMIT_AS`,
//! address randomisation, and SIGBUS beyond the end of a mapped file (those pages read as
//! zeroes).
//!
//! # Specification
//!
//! mmap(2), munmap(2), mprotect(2), brk(2), madvise(2) and sigaction(2) (`SEGV_MAPERR`,
//! `SEGV_ACCERR`), checked against Linux 6.18 on x86_64 with small static C programs
//! where the man pages are silent (argument-check order, `mprotect` over a hole changing
//! the mapped prefix, hints rounded down). Constants come from `linux-raw-sys`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod brk;
mod fault;
mod gaps;
mod madvise;
mod mmap;
mod mprotect;
mod page_table;
mod prot;
mod space;
mod vma;

#[cfg(test)]
mod tests;

pub use fault::Fault;
pub use page_table::{FileHandle, MapFile, PageTable};
pub use prot::{Access, Prot};
pub use space::{AddressSpace, ElfSegment, Layout};
pub use vma::{FileBacking, Vma, VmaKind};

/// The size of a page (x86_64 4 KiB pages; huge pages are never used for user memory).
pub const PAGE_SIZE: usize = 4096;

/// One past the highest user address with 4-level paging: Linux x86_64 `TASK_SIZE`
/// (`(1 << 47) - PAGE_SIZE`; the last page below the hole stays unmapped).
pub const TASK_SIZE: usize = 0x7fff_ffff_f000;

/// The lowest address a mapping may start at: Linux's default `vm.mmap_min_addr`
/// (64 KiB), so that NULL dereferences and small offsets from NULL always fault.
pub const MMAP_MIN_ADDR: usize = 0x1_0000;

/// The most VMAs one address space may hold: Linux's default `vm.max_map_count`. Past it,
/// calls that would add an area fail with `ENOMEM`, as on Linux; it also bounds the
/// kernel heap a program can consume through the VMA set.
pub const MAX_MAP_COUNT: usize = 65530;

/// Rounds `addr` down to a page boundary.
pub const fn page_align_down(addr: usize) -> usize {
    addr & !(PAGE_SIZE - 1)
}

/// Rounds `addr` up to a page boundary, or `None` if that overflows.
pub const fn page_align_up(addr: usize) -> Option<usize> {
    match addr.checked_add(PAGE_SIZE - 1) {
        Some(a) => Some(a & !(PAGE_SIZE - 1)),
        None => None,
    }
}

/// Whether `addr` is on a page boundary.
pub const fn is_page_aligned(addr: usize) -> bool {
    addr.is_multiple_of(PAGE_SIZE)
}
