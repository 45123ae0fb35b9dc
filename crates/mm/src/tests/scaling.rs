//! The cost of mmap and mprotect does not grow with the number of areas: work (areas and
//! gap-tree nodes visited) per operation is compared between a small and a large address
//! space, which a linear walk would make 30 times larger.

use super::abi::*;
use super::*;
use crate::AddressSpace;

/// Maps `n` single pages top-down with alternating protections, so that none merge (the
/// hostile tester's reproducer r7), and returns the space.
fn packed(n: usize) -> AddressSpace<fake::FakePageTable> {
    let mut s = space();
    for i in 0..n {
        let a = s.mmap(0, P, RW, PRIVATE_ANON, None, 0).unwrap();
        if i % 2 == 1 {
            s.mprotect(a, P, R).unwrap();
        }
    }
    s
}

/// Work done by `ops` more mmap+mprotect pairs on top of `n` areas.
fn work_per_op(n: usize, ops: usize) -> usize {
    let mut s = packed(n);
    assert_eq!(s.vmas().count(), n);
    let before = s.vmas.work();
    for i in 0..ops {
        let a = s.mmap(0, P, RW, PRIVATE_ANON, None, 0).unwrap();
        if i % 2 == 1 {
            s.mprotect(a, P, R).unwrap();
        }
    }
    (s.vmas.work() - before) / ops
}

#[test]
fn mmap_and_mprotect_work_is_logarithmic_in_the_number_of_areas() {
    let small = work_per_op(1_000, 200);
    let large = work_per_op(30_000, 200);
    // log2(30000) / log2(1000) is 1.5; a linear walk would give 30.
    assert!(
        large <= small * 2 + 8,
        "work per op: {small} with 1000 areas, {large} with 30000"
    );
}

#[test]
fn top_down_placement_in_a_fragmented_space_finds_the_highest_fitting_hole() {
    let mut s = packed(2_000);
    let lowest = s.vmas().next().unwrap().start;
    // Punch holes of one page everywhere and one of three pages low down.
    for i in (0..2_000).step_by(4) {
        s.munmap(lowest + i * P, P).unwrap();
    }
    s.munmap(lowest + 8 * P, 3 * P).unwrap();
    check_invariants(&s);
    let before = s.vmas.work();
    let a = s.mmap(0, 3 * P, RW, PRIVATE_ANON, None, 0).unwrap();
    assert!(s.vmas.work() - before < 200, "placement walked the areas");
    // The 1-page holes above are skipped; the gap below the lowest area (unbounded) is
    // lower than the 3-page hole.
    assert_eq!(a, lowest + 8 * P);
    // One page fits in the highest hole.
    let b = s.mmap(0, P, RW, PRIVATE_ANON, None, 0).unwrap();
    assert_eq!(b, lowest + 1_996 * P);
    check_invariants(&s);
}
