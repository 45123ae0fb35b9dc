//! Demand paging, guard pages, SIGSEGV codes, and MADV_DONTNEED.

use super::abi::*;
use super::*;
use crate::{Access, Fault, Prot};
use syscall::Errno;

const BASE: usize = 0x3000_0000;

#[test]
fn first_touch_maps_a_zeroed_page_with_the_area_protection() {
    let mut s = space();
    map_fixed(&mut s, BASE, 2 * P, RW);
    assert!(s.page_table().pages().is_empty());
    assert_eq!(s.handle_fault(BASE + P + 123, Access::Read), Ok(()));
    assert_eq!(s.page_table().pages(), vec![(BASE + P, Prot::READ_WRITE)]);
    assert_eq!(s.page_table().read_byte(BASE + P + 123), 0);
}

#[test]
fn fault_outside_any_area_is_segv_maperr() {
    let mut s = space();
    assert_eq!(s.handle_fault(0, Access::Read), Err(Fault::MapErr));
    assert_eq!(
        s.handle_fault(usize::MAX, Access::Write),
        Err(Fault::MapErr)
    );
    let code = Fault::MapErr.si_code();
    assert_eq!(code, Some(linux_raw_sys::general::SEGV_MAPERR as i32));
}

#[test]
fn any_access_to_a_prot_none_guard_page_is_segv_accerr() {
    let mut s = space();
    map_fixed(&mut s, BASE, P, NONE);
    for access in [Access::Read, Access::Write, Access::Exec] {
        assert_eq!(s.handle_fault(BASE + 8, access), Err(Fault::AccErr));
    }
    assert!(s.page_table().pages().is_empty());
    let code = Fault::AccErr.si_code();
    assert_eq!(code, Some(linux_raw_sys::general::SEGV_ACCERR as i32));
}

#[test]
fn write_to_a_present_read_only_page_is_segv_accerr() {
    let mut s = space();
    map_fixed(&mut s, BASE, P, R);
    assert_eq!(s.handle_fault(BASE, Access::Read), Ok(()));
    assert_eq!(s.handle_fault(BASE, Access::Write), Err(Fault::AccErr));
}

#[test]
fn executing_a_non_executable_page_is_segv_accerr() {
    let mut s = space();
    map_fixed(&mut s, BASE, P, RW);
    assert_eq!(s.handle_fault(BASE, Access::Exec), Err(Fault::AccErr));
    map_fixed(&mut s, BASE + P, P, X);
    // x86_64 cannot make execute-only pages: reading one works.
    assert_eq!(s.handle_fault(BASE + P, Access::Exec), Ok(()));
    assert_eq!(s.handle_fault(BASE + P, Access::Read), Ok(()));
}

#[test]
fn write_only_mapping_is_readable_as_on_x86() {
    let mut s = space();
    map_fixed(&mut s, BASE, P, W);
    assert_eq!(s.handle_fault(BASE, Access::Read), Ok(()));
}

#[test]
fn fault_on_a_present_permitted_page_is_spurious_and_ok() {
    let mut s = space();
    map_fixed(&mut s, BASE, P, RW);
    poke(&mut s, BASE, 5);
    assert_eq!(s.handle_fault(BASE, Access::Write), Ok(()));
    assert_eq!(peek(&mut s, BASE), 5);
}

#[test]
fn fault_without_frames_is_out_of_memory() {
    let mut s = space();
    s.page_table_mut().frame_limit = Some(0);
    map_fixed(&mut s, BASE, P, RW);
    assert_eq!(s.handle_fault(BASE, Access::Write), Err(Fault::OutOfMemory));
    assert_eq!(Fault::OutOfMemory.si_code(), None);
}

const DONTNEED: usize = linux_raw_sys::general::MADV_DONTNEED as usize;

#[test]
fn dontneed_drops_pages_so_the_next_touch_reads_zero() {
    let mut s = space();
    map_fixed(&mut s, BASE, 3 * P, RW);
    for i in 0..3 {
        poke(&mut s, BASE + i * P, 0xaa);
    }
    assert_eq!(s.madvise(BASE, 2 * P, DONTNEED), Ok(0));
    assert_eq!(s.page_table().flushes, vec![(BASE, BASE + 2 * P)]);
    assert_eq!(peek(&mut s, BASE), 0);
    assert_eq!(peek(&mut s, BASE + P), 0);
    assert_eq!(peek(&mut s, BASE + 2 * P), 0xaa);
    // The areas are untouched.
    assert_eq!(areas(&s), vec![(BASE, BASE + 3 * P, "rw-".into())]);
}

#[test]
fn dontneed_over_a_hole_drops_both_sides_and_fails_with_enomem() {
    let mut s = space();
    map_fixed(&mut s, BASE, P, RW);
    map_fixed(&mut s, BASE + 2 * P, P, RW);
    poke(&mut s, BASE, 1);
    poke(&mut s, BASE + 2 * P, 1);
    assert_eq!(s.madvise(BASE, 3 * P, DONTNEED), Err(Errno::ENOMEM));
    assert_eq!(peek(&mut s, BASE), 0);
    assert_eq!(peek(&mut s, BASE + 2 * P), 0);
}

#[test]
fn dontneed_on_prot_none_succeeds() {
    let mut s = space();
    map_fixed(&mut s, BASE, P, NONE);
    assert_eq!(s.madvise(BASE, P, DONTNEED), Ok(0));
}

#[test]
fn other_advice_is_accepted_and_keeps_the_contents() {
    let mut s = space();
    map_fixed(&mut s, BASE, P, RW);
    poke(&mut s, BASE, 4);
    for advice in [
        0, 1, 2, 3, 10, 11, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 25,
    ] {
        assert_eq!(s.madvise(BASE, P, advice), Ok(0), "advice {advice}");
    }
    assert_eq!(peek(&mut s, BASE), 4);
}

#[test]
fn madvise_argument_errors_follow_linux() {
    let mut s = space();
    map_fixed(&mut s, BASE, P, RW);
    assert_eq!(s.madvise(BASE, P, 999), Err(Errno::EINVAL));
    assert_eq!(s.madvise(BASE, 0, 999), Err(Errno::EINVAL));
    assert_eq!(s.madvise(BASE, P, 7), Err(Errno::EINVAL));
    assert_eq!(s.madvise(BASE + 1, P, DONTNEED), Err(Errno::EINVAL));
    assert_eq!(s.madvise(BASE + P, 0, DONTNEED), Ok(0));
    assert_eq!(s.madvise(BASE + P, P, DONTNEED), Err(Errno::ENOMEM));
    assert_eq!(s.madvise(BASE, usize::MAX, DONTNEED), Err(Errno::EINVAL));
    let remove = linux_raw_sys::general::MADV_REMOVE as usize;
    assert_eq!(s.madvise(BASE, P, remove), Err(Errno::EINVAL));
    assert_eq!(s.madvise(BASE, P, 100), Err(Errno::EINVAL));
}
