//! File-backed areas: pages read from the file on first touch and again after
//! `MADV_DONTNEED`, ELF segments mapped lazily, file offsets kept across splits and merges.

use super::abi::*;
use super::*;
use crate::{Access, ElfSegment, Prot, VmaKind};
use linux_raw_sys::general as g;
use syscall::Errno;

const DONTNEED: usize = g::MADV_DONTNEED as usize;
const PRIVATE: usize = g::MAP_PRIVATE as usize;
const TEXT: usize = 0x40_0000;

/// A file whose byte at offset `i` is `(i / P) * 16 + i % 7 + 1`: never zero, and telling
/// its page apart.
fn image(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i / P) * 16 + i % 7 + 1) as u8).collect()
}

fn byte_at(offset: usize) -> u8 {
    ((offset / P) * 16 + offset % 7 + 1) as u8
}

#[test]
fn dontneed_on_a_private_file_page_reads_the_file_again() {
    let mut s = space();
    let a = s
        .mmap(0, 2 * P, RW, PRIVATE, Some(file(image(2 * P))), 0)
        .unwrap();
    poke(&mut s, a + 5, 0);
    assert_eq!(peek(&mut s, a + 5), 0);
    assert_eq!(s.madvise(a, P, DONTNEED), Ok(0));
    assert_eq!(peek(&mut s, a + 5), byte_at(5));
    check_invariants(&s);
}

#[test]
fn dontneed_on_anonymous_memory_still_reads_zeroes() {
    let mut s = space();
    let a = s.mmap(0, P, RW, PRIVATE_ANON, None, 0).unwrap();
    poke(&mut s, a, 9);
    assert_eq!(s.madvise(a, P, DONTNEED), Ok(0));
    assert_eq!(peek(&mut s, a), 0);
}

#[test]
fn file_pages_are_read_only_when_touched() {
    let mut s = space();
    let a = s
        .mmap(0, 8 * P, R, PRIVATE, Some(file(image(8 * P))), 0)
        .unwrap();
    assert!(s.page_table().pages().is_empty());
    assert_eq!(peek(&mut s, a + 3 * P + 2), byte_at(3 * P + 2));
    assert_eq!(s.page_table().pages().len(), 1);
}

#[test]
fn split_tail_keeps_its_file_offset() {
    let mut s = space();
    let a = s
        .mmap(0, 4 * P, R, PRIVATE, Some(file(image(4 * P))), 0)
        .unwrap();
    // Unmap the head, protect the middle: the pieces still show their own file pages.
    assert_eq!(s.munmap(a, P), Ok(0));
    assert_eq!(s.mprotect(a + 2 * P, P, RW), Ok(0));
    assert_eq!(peek(&mut s, a + P), byte_at(P));
    assert_eq!(peek(&mut s, a + 2 * P + 1), byte_at(2 * P + 1));
    assert_eq!(peek(&mut s, a + 3 * P + 2), byte_at(3 * P + 2));
    assert_eq!(
        s.find_vma(a + 3 * P)
            .unwrap()
            .backing
            .as_ref()
            .unwrap()
            .offset,
        3 * P as u64
    );
    // Protecting it back merges the three pieces into one area again.
    assert_eq!(s.mprotect(a + 2 * P, P, R), Ok(0));
    assert_eq!(s.vmas().count(), 1);
    assert_eq!(s.madvise(a + P, 3 * P, DONTNEED), Ok(0));
    assert_eq!(peek(&mut s, a + 3 * P + 2), byte_at(3 * P + 2));
    check_invariants(&s);
}

#[test]
fn mappings_of_a_file_at_unrelated_offsets_do_not_merge() {
    let mut s = space();
    let f = file(image(4 * P));
    let fixed = PRIVATE | FIXED;
    s.mmap(TEXT, P, R, fixed, Some(f.clone()), 2 * P).unwrap();
    s.mmap(TEXT + P, P, R, fixed, Some(f.clone()), 0).unwrap();
    assert_eq!(s.vmas().count(), 2);
    s.mmap(TEXT + P, P, R, fixed, Some(f), 3 * P).unwrap();
    assert_eq!(s.vmas().count(), 1);
    assert_eq!(peek(&mut s, TEXT + P), byte_at(3 * P));
    check_invariants(&s);
}

/// A data segment at `TEXT + 0x1010` with `p_filesz` 0x1800 and `p_memsz` 0x3000, after a
/// text segment: `.data` ends and `.bss` begins inside the second data page.
fn with_data_and_bss(s: &mut AddressSpace<fake::FakePageTable>) -> crate::FileHandle {
    let f = file(image(0x3000));
    let text = ElfSegment {
        vaddr: TEXT,
        memsz: 0x800,
        offset: 0,
        filesz: 0x800,
        prot: Prot::READ | Prot::EXEC,
    };
    let data = ElfSegment {
        vaddr: TEXT + 0x1010,
        memsz: 0x3000,
        offset: 0x1010,
        filesz: 0x1800,
        prot: Prot::READ_WRITE,
    };
    s.map_elf_segments(&f, &[text, data]).unwrap();
    f
}

#[test]
fn elf_segments_are_loaded_on_demand() {
    let mut s = space();
    with_data_and_bss(&mut s);
    assert!(s.page_table().pages().is_empty());
    assert_eq!(peek(&mut s, TEXT + 0x7ff), byte_at(0x7ff));
    assert_eq!(peek(&mut s, TEXT + 0x1010), byte_at(0x1010));
    // Bytes around a segment on its pages are the file's, as Linux maps whole pages.
    assert_eq!(peek(&mut s, TEXT + 0x1000), byte_at(0x1000));
    assert_eq!(
        s.handle_fault(TEXT, Access::Write),
        Err(crate::Fault::AccErr)
    );
    check_invariants(&s);
}

#[test]
fn bss_on_the_last_data_page_reads_zero_even_after_dontneed() {
    let mut s = space();
    with_data_and_bss(&mut s);
    let data_end = TEXT + 0x1010 + 0x1800;
    assert_eq!(peek(&mut s, data_end - 1), byte_at(0x280f));
    assert_eq!(peek(&mut s, data_end), 0);
    poke(&mut s, data_end, 7);
    poke(&mut s, data_end - 1, 7);
    assert_eq!(s.madvise(TEXT + 0x2000, P, DONTNEED), Ok(0));
    assert_eq!(peek(&mut s, data_end - 1), byte_at(0x280f));
    assert_eq!(peek(&mut s, data_end), 0);
    // Pages wholly in .bss are zero, past the end of the file too.
    assert_eq!(peek(&mut s, TEXT + 0x3fff), 0);
    check_invariants(&s);
}

#[test]
fn dontneed_on_a_written_data_page_restores_the_initial_values() {
    let mut s = space();
    with_data_and_bss(&mut s);
    poke(&mut s, TEXT + 0x1010, 0xee);
    assert_eq!(s.madvise(TEXT + 0x1000, P, DONTNEED), Ok(0));
    assert_eq!(peek(&mut s, TEXT + 0x1010), byte_at(0x1010));
}

#[test]
fn segments_sharing_a_page_get_both_protections_and_the_later_view() {
    let mut s = space();
    let f = file(image(0x4000));
    // Text ends inside page 1; data starts inside it (same bias, as lld and
    // `-z noseparate-code` lay segments out).
    let text = ElfSegment {
        vaddr: TEXT,
        memsz: 0x1800,
        offset: 0,
        filesz: 0x1800,
        prot: Prot::READ | Prot::EXEC,
    };
    let data = ElfSegment {
        vaddr: TEXT + 0x1900,
        memsz: 0x2000,
        offset: 0x1900,
        filesz: 0x1000,
        prot: Prot::READ_WRITE,
    };
    s.map_elf_segments(&f, &[text, data]).unwrap();
    let shared = s.find_vma(TEXT + 0x1000).unwrap().clone();
    assert_eq!((shared.start, shared.end), (TEXT + P, TEXT + 2 * P));
    assert_eq!(shared.prot, Prot::READ | Prot::WRITE | Prot::EXEC);
    assert_eq!(s.find_vma(TEXT).unwrap().prot, Prot::READ | Prot::EXEC);
    assert_eq!(s.find_vma(TEXT + 2 * P).unwrap().prot, Prot::READ_WRITE);
    // Text bytes on the shared page come from the data segment's view of the file, which
    // is the same file page.
    assert_eq!(peek(&mut s, TEXT + 0x17ff), byte_at(0x17ff));
    assert_eq!(peek(&mut s, TEXT + 0x1900), byte_at(0x1900));
    assert_eq!(s.handle_fault(TEXT + 0x1000, Access::Exec), Ok(()));
    // Past the data segment's p_filesz: zero.
    assert_eq!(peek(&mut s, TEXT + 0x2900), 0);
    check_invariants(&s);
}

#[test]
fn elf_segment_with_mismatched_offset_is_einval() {
    let mut s = space();
    let f = file(image(P));
    let seg = ElfSegment {
        vaddr: TEXT + 0x10,
        memsz: 0x10,
        offset: 0x20,
        filesz: 0x10,
        prot: Prot::READ,
    };
    assert_eq!(s.map_elf_segments(&f, &[seg]), Err(Errno::EINVAL));
    let seg = ElfSegment {
        offset: 0x10,
        filesz: 0x20,
        ..seg
    };
    assert_eq!(s.map_elf_segments(&f, &[seg]), Err(Errno::EINVAL));
    assert_eq!(s.vmas().count(), 0);
}

#[test]
fn populate_over_a_file_page_keeps_the_rest_of_the_file_bytes() {
    let mut s = space();
    with_data_and_bss(&mut s);
    s.populate(TEXT + 0x1020, &[0xaa]).unwrap();
    assert_eq!(peek(&mut s, TEXT + 0x1020), 0xaa);
    assert_eq!(peek(&mut s, TEXT + 0x1021), byte_at(0x1021));
    assert_eq!(s.find_vma(TEXT + 0x1000).unwrap().kind, VmaKind::Elf);
}
