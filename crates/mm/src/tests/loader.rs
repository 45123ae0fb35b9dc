//! What the ELF loader uses (fixed regions, populate, the initial break) and brk(2).

use super::abi::*;
use super::*;
use crate::{Access, Fault, Prot, VmaKind};
use syscall::Errno;

const TEXT: usize = 0x40_0000;

#[test]
fn populate_fills_segments_across_page_boundaries_whatever_their_protection() {
    let mut s = space();
    s.map_fixed_region(TEXT, 3 * P, Prot::READ | Prot::EXEC, VmaKind::Elf)
        .unwrap();
    let bytes: Vec<u8> = (0..P + 10).map(|i| (i % 251) as u8 + 1).collect();
    s.populate(TEXT + P - 5, &bytes).unwrap();
    assert_eq!(peek(&mut s, TEXT + P - 5), 1);
    assert_eq!(peek(&mut s, TEXT + 2 * P + 4), bytes[P + 9]);
    // The rest of the touched pages, and the untouched first page, read as zeroes.
    assert_eq!(peek(&mut s, TEXT + 2 * P + 5), 0);
    assert_eq!(peek(&mut s, TEXT), 0);
    assert_eq!(
        s.page_table().prot_of(TEXT + P),
        Some(Prot::READ | Prot::EXEC)
    );
    assert_eq!(s.handle_fault(TEXT + P, Access::Write), Err(Fault::AccErr));
    check_invariants(&s);
}

#[test]
fn populate_outside_the_areas_is_efault_and_writes_nothing() {
    let mut s = space();
    s.map_fixed_region(TEXT, P, Prot::READ, VmaKind::Elf)
        .unwrap();
    assert_eq!(s.populate(TEXT + P - 1, &[1, 2]), Err(Errno::EFAULT));
    assert!(s.page_table().pages().is_empty());
    assert_eq!(s.populate(usize::MAX, &[1, 2]), Err(Errno::EFAULT));
}

#[test]
fn map_fixed_region_checks_the_window() {
    let mut s = space();
    let rw = Prot::READ_WRITE;
    assert_eq!(
        s.map_fixed_region(TEXT + 1, P, rw, VmaKind::Elf),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        s.map_fixed_region(TEXT, 0, rw, VmaKind::Elf),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        s.map_fixed_region(0, P, rw, VmaKind::Elf),
        Err(Errno::EPERM)
    );
    let top = crate::TASK_SIZE;
    assert_eq!(
        s.map_fixed_region(top, P, rw, VmaKind::Stack),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        s.map_fixed_region(top - 8 * P, 8 * P, rw, VmaKind::Stack),
        Ok(())
    );
}

#[test]
fn segments_of_different_kinds_stay_separate_areas() {
    let mut s = space();
    s.map_fixed_region(TEXT, P, Prot::READ_WRITE, VmaKind::Elf)
        .unwrap();
    s.map_fixed_region(TEXT + P, P, Prot::READ_WRITE, VmaKind::Heap)
        .unwrap();
    assert_eq!(s.vmas().count(), 2);
    check_invariants(&s);
}

#[test]
fn unmap_all_leaves_an_empty_space() {
    let mut s = space();
    map_fixed(&mut s, TEXT, 4 * P, RW);
    poke(&mut s, TEXT, 1);
    s.set_brk_start(TEXT + 4 * P);
    s.unmap_all();
    assert_eq!(s.vmas().count(), 0);
    assert!(s.page_table().pages().is_empty());
    assert_eq!(s.current_brk(), 0);
}

/// An address space with a data segment ending (unaligned) at `0x40_5123`.
fn with_heap() -> AddressSpace<fake::FakePageTable> {
    let mut s = space();
    s.map_fixed_region(TEXT, 0x5123, Prot::READ_WRITE, VmaKind::Elf)
        .unwrap();
    s.set_brk_start(TEXT + 0x5123);
    s
}

const HEAP: usize = TEXT + 0x6000;

#[test]
fn initial_break_is_the_page_after_the_image() {
    let mut s = with_heap();
    assert_eq!(s.brk_start(), HEAP);
    assert_eq!(s.brk(0), HEAP);
}

#[test]
fn brk_grows_to_unaligned_values_exactly_as_asked() {
    let mut s = with_heap();
    assert_eq!(s.brk(HEAP + 0xd00), HEAP + 0xd00);
    assert_eq!(s.brk(HEAP + 0x21000 + 0xd00), HEAP + 0x21d00);
    assert_eq!(s.current_brk(), HEAP + 0x21d00);
    let heap = s.find_vma(HEAP).unwrap().clone();
    assert_eq!(
        (heap.start, heap.end, heap.kind),
        (HEAP, HEAP + 0x22000, VmaKind::Heap)
    );
    poke(&mut s, HEAP + 0x21fff, 1);
    assert_eq!(
        s.handle_fault(HEAP + 0x22000, Access::Read),
        Err(Fault::MapErr)
    );
    check_invariants(&s);
}

#[test]
fn brk_shrink_frees_pages_and_regrowth_reads_zero() {
    let mut s = with_heap();
    s.brk(HEAP + 4 * P);
    poke(&mut s, HEAP + 3 * P, 9);
    assert_eq!(s.brk(HEAP + P + 5), HEAP + P + 5);
    assert_eq!(s.find_vma(HEAP).unwrap().end, HEAP + 2 * P);
    assert!(!s.page_table().is_mapped(HEAP + 3 * P));
    assert_eq!(s.brk(HEAP + 4 * P), HEAP + 4 * P);
    assert_eq!(peek(&mut s, HEAP + 3 * P), 0);
    check_invariants(&s);
}

#[test]
fn brk_below_the_heap_start_returns_the_current_break() {
    let mut s = with_heap();
    s.brk(HEAP + 0x10);
    assert_eq!(s.brk(0x1000), HEAP + 0x10);
    assert_eq!(s.brk(HEAP - 1), HEAP + 0x10);
    // Back to the start exactly is allowed and frees the heap.
    assert_eq!(s.brk(HEAP), HEAP);
    assert!(s.find_vma(HEAP).is_none());
}

#[test]
fn brk_fails_one_page_short_of_the_next_mapping() {
    let mut s = with_heap();
    map_fixed(&mut s, HEAP + 0x10000, P, RW);
    // Linux keeps a page between the break and the next mapping.
    assert_eq!(s.brk(HEAP + 0xf001), HEAP);
    assert_eq!(s.brk(HEAP + 0xf000), HEAP + 0xf000);
    assert_eq!(s.brk(HEAP + 0x10000), HEAP + 0xf000);
    check_invariants(&s);
}

#[test]
fn brk_fails_with_absurd_values_and_keeps_the_break() {
    let mut s = with_heap();
    s.brk(HEAP + 5);
    assert_eq!(s.brk(usize::MAX), HEAP + 5);
    assert_eq!(s.brk(crate::TASK_SIZE + P), HEAP + 5);
}

#[test]
fn brk_before_the_loader_set_it_is_zero() {
    let mut s = space();
    assert_eq!(s.brk(0), 0);
    assert_eq!(s.brk(0x100_0000), 0);
}
