//! mprotect splitting, merging, holes and present pages.

use super::abi::*;
use super::*;
use crate::{Access, Fault, Prot};
use syscall::Errno;

const BASE: usize = 0x2000_0000;

#[test]
fn mprotect_of_the_middle_splits_into_three() {
    let mut s = space();
    map_fixed(&mut s, BASE, 4 * P, RW);
    assert_eq!(s.mprotect(BASE + P, 2 * P, R), Ok(0));
    assert_eq!(
        areas(&s),
        vec![
            (BASE, BASE + P, "rw-".into()),
            (BASE + P, BASE + 3 * P, "r--".into()),
            (BASE + 3 * P, BASE + 4 * P, "rw-".into()),
        ]
    );
    check_invariants(&s);
}

#[test]
fn mprotect_back_merges_into_one_area() {
    let mut s = space();
    map_fixed(&mut s, BASE, 4 * P, RW);
    s.mprotect(BASE + P, 2 * P, R).unwrap();
    s.mprotect(BASE + P, 2 * P, RW).unwrap();
    assert_eq!(areas(&s), vec![(BASE, BASE + 4 * P, "rw-".into())]);
    check_invariants(&s);
}

#[test]
fn mprotect_across_areas_merges_them() {
    let mut s = space();
    map_fixed(&mut s, BASE, P, R);
    map_fixed(&mut s, BASE + P, P, RW);
    map_fixed(&mut s, BASE + 2 * P, P, R | X);
    map_fixed(&mut s, BASE + 3 * P, P, R);
    assert_eq!(s.mprotect(BASE + P, 2 * P, R), Ok(0));
    assert_eq!(areas(&s), vec![(BASE, BASE + 4 * P, "r--".into())]);
    check_invariants(&s);
}

#[test]
fn thread_stack_guard_stays_prot_none_after_opening_the_rest() {
    // glibc: mmap(8 MiB + 4 KiB, PROT_NONE, MAP_STACK), mprotect(base + 4 KiB, RW).
    let mut s = space();
    let flags = PRIVATE_ANON | linux_raw_sys::general::MAP_STACK as usize;
    let len = (8 << 20) + P;
    let base = s.mmap(0, len, NONE, flags, None, 0).unwrap();
    assert_eq!(s.mprotect(base + P, 8 << 20, RW), Ok(0));
    assert_eq!(
        areas(&s),
        vec![
            (base, base + P, "---".into()),
            (base + P, base + len, "rw-".into())
        ]
    );
    assert_eq!(s.handle_fault(base + len - 8, Access::Write), Ok(()));
    assert_eq!(
        s.handle_fault(base + 100, Access::Write),
        Err(Fault::AccErr)
    );
}

#[test]
fn mprotect_changes_present_pages_and_flushes_lost_permissions() {
    let mut s = space();
    map_fixed(&mut s, BASE, 2 * P, RW);
    poke(&mut s, BASE, 1);
    assert_eq!(s.mprotect(BASE, 2 * P, R), Ok(0));
    assert_eq!(s.page_table().prot_of(BASE), Some(Prot::READ));
    assert_eq!(s.page_table().flushes, vec![(BASE, BASE + 2 * P)]);
    assert_eq!(s.handle_fault(BASE, Access::Write), Err(Fault::AccErr));
    // Gaining a permission needs no flush; the contents survive a round trip.
    s.mprotect(BASE, 2 * P, NONE).unwrap();
    s.mprotect(BASE, 2 * P, RW).unwrap();
    assert_eq!(s.page_table().flushes.len(), 2);
    assert_eq!(peek(&mut s, BASE), 1);
    check_invariants(&s);
}

#[test]
fn mprotect_without_present_pages_does_not_flush() {
    let mut s = space();
    map_fixed(&mut s, BASE, 2 * P, RW);
    s.mprotect(BASE, 2 * P, NONE).unwrap();
    assert!(s.page_table().flushes.is_empty());
}

#[test]
fn mprotect_over_a_hole_changes_the_prefix_and_fails_with_enomem() {
    let mut s = space();
    map_fixed(&mut s, BASE, 2 * P, RW);
    map_fixed(&mut s, BASE + 3 * P, P, RW);
    assert_eq!(s.mprotect(BASE, 4 * P, R), Err(Errno::ENOMEM));
    // Linux changed the mapped part before the hole, and nothing after it.
    assert_eq!(
        areas(&s),
        vec![
            (BASE, BASE + 2 * P, "r--".into()),
            (BASE + 3 * P, BASE + 4 * P, "rw-".into())
        ]
    );
    check_invariants(&s);
}

#[test]
fn mprotect_starting_in_a_hole_changes_nothing() {
    let mut s = space();
    map_fixed(&mut s, BASE + P, P, RW);
    assert_eq!(s.mprotect(BASE, 2 * P, R), Err(Errno::ENOMEM));
    assert_eq!(areas(&s), vec![(BASE + P, BASE + 2 * P, "rw-".into())]);
}

#[test]
fn mprotect_past_the_last_area_fails_with_enomem() {
    let mut s = space();
    map_fixed(&mut s, BASE, P, RW);
    assert_eq!(s.mprotect(BASE, 2 * P, R), Err(Errno::ENOMEM));
    assert_eq!(areas(&s), vec![(BASE, BASE + P, "r--".into())]);
}

#[test]
fn mprotect_accepts_prot_sem_and_rejects_unknown_bits() {
    let mut s = space();
    map_fixed(&mut s, BASE, P, RW);
    let sem = linux_raw_sys::general::PROT_SEM as usize;
    assert_eq!(s.mprotect(BASE, P, R | sem), Ok(0));
    assert_eq!(s.mprotect(BASE, P, R | 0x100), Err(Errno::EINVAL));
    let down = linux_raw_sys::general::PROT_GROWSDOWN as usize;
    assert_eq!(s.mprotect(BASE, P, R | down), Err(Errno::EINVAL));
}

#[test]
fn mprotect_argument_errors_follow_linux() {
    let mut s = space();
    assert_eq!(s.mprotect(BASE + 1, P, R), Err(Errno::EINVAL));
    assert_eq!(s.mprotect(BASE, 0, R), Ok(0));
    assert_eq!(s.mprotect(BASE, usize::MAX, R), Err(Errno::ENOMEM));
    assert_eq!(s.mprotect(BASE, P, R), Err(Errno::ENOMEM));
    assert_eq!(s.mprotect(0xffff_8000_0000_0000, P, R), Err(Errno::ENOMEM));
}
