//! mmap placement and munmap splitting.

use super::abi::*;
use super::*;

const BASE: usize = 0x1000_0000;

#[test]
fn anonymous_mapping_is_placed_top_down_below_mmap_base() {
    let mut s = space();
    let base = s.layout().mmap_base;
    let a = s.mmap(0, 3 * P, RW, PRIVATE_ANON, None, 0).unwrap();
    let b = s.mmap(0, 5000, RW, PRIVATE_ANON, None, 0).unwrap();
    assert_eq!(a, base - 3 * P);
    // 5000 bytes round up to two pages, placed right below the first mapping; equal
    // neighbours merge into one area.
    assert_eq!(b, a - 2 * P);
    assert_eq!(areas(&s), vec![(b, base, "rw-".into())]);
    check_invariants(&s);
}

#[test]
fn top_down_placement_fills_holes_without_overlap() {
    let mut s = space();
    let base = s.layout().mmap_base;
    let maps: Vec<usize> = (0..4)
        .map(|_| s.mmap(0, 4 * P, R, PRIVATE_ANON, None, 0).unwrap())
        .collect();
    assert_eq!(s.munmap(maps[2], 4 * P), Ok(0));
    // The highest hole that fits is the one just freed.
    let small = s.mmap(0, 2 * P, RW, PRIVATE_ANON, None, 0).unwrap();
    assert_eq!(small, maps[2] + 2 * P);
    // A mapping too big for that hole goes below everything.
    let big = s.mmap(0, 8 * P, RW, PRIVATE_ANON, None, 0).unwrap();
    assert_eq!(big, base - 16 * P - 8 * P);
    check_invariants(&s);
}

#[test]
fn free_hint_is_used_as_given() {
    let mut s = space();
    let got = s.mmap(BASE, 2 * P, RW, PRIVATE_ANON, None, 0);
    assert_eq!(got, Ok(BASE));
}

#[test]
fn unaligned_hint_is_rounded_down() {
    let mut s = space();
    let got = s.mmap(BASE + 0xfff, P, RW, PRIVATE_ANON, None, 0);
    assert_eq!(got, Ok(BASE));
}

#[test]
fn hint_below_mmap_min_addr_is_raised_to_it() {
    let mut s = space();
    let got = s.mmap(0x1000, P, RW, PRIVATE_ANON, None, 0);
    assert_eq!(got, Ok(crate::MMAP_MIN_ADDR));
}

#[test]
fn occupied_hint_is_ignored_without_disturbing_the_mapping() {
    let mut s = space();
    map_fixed(&mut s, BASE, 4 * P, RW);
    poke(&mut s, BASE + P, 7);
    let got = s.mmap(BASE + P, P, RW, PRIVATE_ANON, None, 0).unwrap();
    assert_ne!(got, BASE + P);
    assert_eq!(peek(&mut s, BASE + P), 7);
    check_invariants(&s);
}

#[test]
fn hint_past_task_size_is_ignored() {
    let mut s = space();
    let got = s
        .mmap(crate::TASK_SIZE, P, RW, PRIVATE_ANON, None, 0)
        .unwrap();
    assert_eq!(got, s.layout().mmap_base - P);
}

#[test]
fn map_fixed_replaces_existing_pages_with_fresh_zeroes() {
    let mut s = space();
    map_fixed(&mut s, BASE, 4 * P, RW);
    for i in 0..4 {
        poke(&mut s, BASE + i * P, 1);
    }
    map_fixed(&mut s, BASE + P, 2 * P, R);
    assert_eq!(
        areas(&s),
        vec![
            (BASE, BASE + P, "rw-".into()),
            (BASE + P, BASE + 3 * P, "r--".into()),
            (BASE + 3 * P, BASE + 4 * P, "rw-".into()),
        ]
    );
    assert_eq!(peek(&mut s, BASE), 1);
    assert_eq!(peek(&mut s, BASE + P), 0);
    assert_eq!(peek(&mut s, BASE + 3 * P), 1);
    // The replaced pages were present: their translations were flushed.
    assert_eq!(s.page_table().flushes, vec![(BASE + P, BASE + 3 * P)]);
    check_invariants(&s);
}

#[test]
fn map_fixed_noreplace_fails_with_eexist_on_overlap() {
    let mut s = space();
    map_fixed(&mut s, BASE, 2 * P, RW);
    let flags = PRIVATE_ANON | NOREPLACE;
    assert_eq!(
        s.mmap(BASE + P, 2 * P, RW, flags, None, 0),
        Err(Errno::EEXIST)
    );
    assert_eq!(s.mmap(BASE + 2 * P, P, R, flags, None, 0), Ok(BASE + 2 * P));
    check_invariants(&s);
}

#[test]
fn prot_none_mapping_reserves_without_pages() {
    let mut s = space();
    let a = s.mmap(0, 128 << 20, NONE, PRIVATE_ANON, None, 0).unwrap();
    assert_eq!(s.find_vma(a).unwrap().prot, crate::Prot::NONE);
    assert!(s.page_table().pages().is_empty());
}

#[test]
fn munmap_of_the_head_keeps_the_tail() {
    let mut s = space();
    map_fixed(&mut s, BASE, 4 * P, RW);
    poke(&mut s, BASE + 3 * P, 9);
    assert_eq!(s.munmap(BASE, P), Ok(0));
    assert_eq!(areas(&s), vec![(BASE + P, BASE + 4 * P, "rw-".into())]);
    assert_eq!(peek(&mut s, BASE + 3 * P), 9);
    check_invariants(&s);
}

#[test]
fn munmap_of_the_tail_keeps_the_head() {
    let mut s = space();
    map_fixed(&mut s, BASE, 4 * P, RW);
    poke(&mut s, BASE + 3 * P, 9);
    assert_eq!(s.munmap(BASE + 2 * P, 2 * P), Ok(0));
    assert_eq!(areas(&s), vec![(BASE, BASE + 2 * P, "rw-".into())]);
    assert!(!s.page_table().is_mapped(BASE + 3 * P));
    assert_eq!(s.page_table().flushes, vec![(BASE + 2 * P, BASE + 4 * P)]);
    check_invariants(&s);
}

#[test]
fn munmap_of_the_middle_splits_in_two() {
    let mut s = space();
    map_fixed(&mut s, BASE, 4 * P, RW);
    assert_eq!(s.munmap(BASE + P, 5000), Ok(0));
    assert_eq!(
        areas(&s),
        vec![
            (BASE, BASE + P, "rw-".into()),
            (BASE + 3 * P, BASE + 4 * P, "rw-".into())
        ]
    );
    assert_eq!(
        s.handle_fault(BASE + P, crate::Access::Read),
        Err(crate::Fault::MapErr)
    );
    check_invariants(&s);
}

#[test]
fn munmap_across_several_areas_and_holes_removes_them_all() {
    let mut s = space();
    map_fixed(&mut s, BASE, P, RW);
    map_fixed(&mut s, BASE + 2 * P, P, R);
    map_fixed(&mut s, BASE + 4 * P, 2 * P, RW);
    assert_eq!(s.munmap(BASE, 5 * P), Ok(0));
    assert_eq!(areas(&s), vec![(BASE + 5 * P, BASE + 6 * P, "rw-".into())]);
    check_invariants(&s);
}

#[test]
fn munmap_of_a_hole_succeeds_without_flush() {
    let mut s = space();
    assert_eq!(s.munmap(BASE, 16 * P), Ok(0));
    assert!(s.page_table().flushes.is_empty());
}

#[test]
fn glibc_arena_trim_leaves_an_aligned_reservation() {
    // glibc: 128 MiB PROT_NONE, unmap head and tail to keep a 64 MiB-aligned 64 MiB
    // block, then open the first 132 KiB read-write.
    let mut s = space();
    let size = 64 << 20;
    let a = s
        .mmap(0, 2 * size, NONE, PRIVATE_ANON | 0x4000, None, 0)
        .unwrap();
    let aligned = (a + size - 1) & !(size - 1);
    if aligned > a {
        s.munmap(a, aligned - a).unwrap();
    }
    s.munmap(aligned + size, a + 2 * size - aligned - size)
        .unwrap();
    s.mprotect(aligned, 132 << 10, RW).unwrap();
    assert_eq!(
        areas(&s),
        vec![
            (aligned, aligned + (132 << 10), "rw-".into()),
            (aligned + (132 << 10), aligned + size, "---".into()),
        ]
    );
    check_invariants(&s);
}

#[test]
fn map_32bit_lands_in_the_second_gigabyte() {
    let mut s = space();
    let flags = PRIVATE_ANON | linux_raw_sys::general::MAP_32BIT as usize;
    let a = s.mmap(0, P, RW, flags, None, 0).unwrap();
    assert_eq!(a, 0x4000_0000);
    let b = s.mmap(0, P, R, flags, None, 0).unwrap();
    assert_eq!(b, 0x4000_1000);
}

#[test]
fn stack_flag_gives_a_stack_area() {
    let mut s = space();
    let flags = PRIVATE_ANON | linux_raw_sys::general::MAP_STACK as usize;
    let a = s.mmap(0, 2 * P, RW, flags, None, 0).unwrap();
    assert_eq!(s.find_vma(a).unwrap().kind, crate::VmaKind::Stack);
}

#[test]
fn shared_anonymous_mapping_is_private_memory() {
    let mut s = space();
    let flags =
        (linux_raw_sys::general::MAP_SHARED | linux_raw_sys::general::MAP_ANONYMOUS) as usize;
    let a = s.mmap(0, P, RW, flags, None, 0).unwrap();
    poke(&mut s, a, 3);
    assert_eq!(peek(&mut s, a), 3);
    assert_eq!(s.find_vma(a).unwrap().kind, crate::VmaKind::Anonymous);
}

#[test]
fn private_file_mapping_shows_the_file_from_the_offset() {
    let mut s = space();
    let data: Vec<u8> = (0..3 * P + 100).map(|i| (i / P) as u8 + 1).collect();
    let flags = linux_raw_sys::general::MAP_PRIVATE as usize;
    let a = s.mmap(0, 4 * P, R, flags, Some(file(data)), P).unwrap();
    assert_eq!(peek(&mut s, a), 2);
    assert_eq!(peek(&mut s, a + P), 3);
    assert_eq!(peek(&mut s, a + 2 * P + 99), 4);
    // Past the end of the file: zeroes (Linux would raise SIGBUS for whole pages).
    assert_eq!(peek(&mut s, a + 2 * P + 100), 0);
    assert_eq!(peek(&mut s, a + 3 * P), 0);
    assert_eq!(s.find_vma(a).unwrap().kind, crate::VmaKind::PrivateFile);
    // The private copy is writable after mprotect.
    assert_eq!(s.mprotect(a, P, RW), Ok(0));
    poke(&mut s, a, 42);
    assert_eq!(peek(&mut s, a), 42);
    check_invariants(&s);
}

#[test]
fn shared_file_mapping_is_read_only() {
    let mut s = space();
    let f = file(vec![5; 10]);
    let shared = linux_raw_sys::general::MAP_SHARED as usize;
    assert_eq!(
        s.mmap(0, P, RW, shared, Some(f.clone()), 0),
        Err(Errno::EACCES)
    );
    let a = s.mmap(0, P, R, shared, Some(f), 0).unwrap();
    assert_eq!(peek(&mut s, a + 9), 5);
    assert_eq!(s.mprotect(a, P, RW), Err(Errno::EACCES));
    assert_eq!(s.mprotect(a, P, NONE), Ok(0));
}

#[test]
fn file_mapping_that_runs_out_of_frames_fails_at_the_touch_not_at_mmap() {
    let mut s = space();
    s.page_table_mut().frame_limit = Some(1);
    let flags = linux_raw_sys::general::MAP_PRIVATE as usize;
    let a = s.mmap(0, 3 * P, R, flags, Some(file(vec![1; 3 * P])), 0);
    let a = a.unwrap();
    assert_eq!(peek(&mut s, a), 1);
    assert_eq!(
        s.handle_fault(a + P, crate::Access::Read),
        Err(crate::Fault::OutOfMemory)
    );
    assert_eq!(s.page_table().pages().len(), 1);
}

use syscall::Errno;
