//! Argument errors of mmap and munmap, as Linux 6.18 x86_64 returns them (checked with a
//! static C program making the raw syscalls).

use super::abi::*;
use super::*;
use linux_raw_sys::general as g;
use syscall::Errno;

const BASE: usize = 0x5000_0000;

#[test]
fn mmap_of_length_zero_is_einval() {
    let mut s = space();
    assert_eq!(s.mmap(0, 0, RW, PRIVATE_ANON, None, 0), Err(Errno::EINVAL));
}

#[test]
fn mmap_with_an_unaligned_offset_is_einval_even_when_anonymous() {
    let mut s = space();
    assert_eq!(s.mmap(0, P, RW, PRIVATE_ANON, None, 1), Err(Errno::EINVAL));
    assert!(s.mmap(0, P, RW, PRIVATE_ANON, None, P).is_ok());
}

#[test]
fn mmap_fixed_at_an_unaligned_address_is_einval() {
    let mut s = space();
    let fixed = PRIVATE_ANON | FIXED;
    assert_eq!(s.mmap(BASE + 1, P, RW, fixed, None, 0), Err(Errno::EINVAL));
    let noreplace = PRIVATE_ANON | NOREPLACE;
    assert_eq!(
        s.mmap(BASE + 1, P, RW, noreplace, None, 0),
        Err(Errno::EINVAL)
    );
}

#[test]
fn mmap_fixed_outside_the_window_is_enomem_or_eperm() {
    let mut s = space();
    let fixed = PRIVATE_ANON | FIXED;
    let top = crate::TASK_SIZE;
    assert_eq!(s.mmap(top, P, RW, fixed, None, 0), Err(Errno::ENOMEM));
    assert_eq!(s.mmap(top - P, P, RW, fixed, None, 0), Ok(top - P));
    // Below vm.mmap_min_addr without CAP_SYS_RAWIO.
    assert_eq!(s.mmap(0, P, RW, fixed, None, 0), Err(Errno::EPERM));
    assert_eq!(s.mmap(0x1000, P, RW, fixed, None, 0), Err(Errno::EPERM));
}

#[test]
fn mmap_larger_than_the_address_space_is_enomem() {
    let mut s = space();
    assert_eq!(
        s.mmap(0, 1 << 47, RW, PRIVATE_ANON, None, 0),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        s.mmap(0, usize::MAX, RW, PRIVATE_ANON, None, 0),
        Err(Errno::ENOMEM)
    );
}

#[test]
fn mmap_without_a_valid_mapping_type_is_einval() {
    let mut s = space();
    let anon = g::MAP_ANONYMOUS as usize;
    assert_eq!(s.mmap(0, P, RW, anon, None, 0), Err(Errno::EINVAL));
    assert_eq!(s.mmap(0, P, RW, anon | 0xf, None, 0), Err(Errno::EINVAL));
    let validate = anon | g::MAP_SHARED_VALIDATE as usize;
    assert_eq!(s.mmap(0, P, RW, validate, None, 0), Err(Errno::EINVAL));
    let droppable = anon | g::MAP_DROPPABLE as usize;
    assert!(s.mmap(0, P, RW, droppable, None, 0).is_ok());
}

#[test]
fn mmap_ignores_unknown_prot_bits_and_accepted_flags() {
    let mut s = space();
    let a = s.mmap(0, P, R | 0x100, PRIVATE_ANON, None, 0).unwrap();
    assert_eq!(s.find_vma(a).unwrap().prot, crate::Prot::READ);
    let extra = (g::MAP_NORESERVE | g::MAP_POPULATE | g::MAP_GROWSDOWN) as usize;
    assert!(s.mmap(0, P, RW, PRIVATE_ANON | extra, None, 0).is_ok());
}

#[test]
fn anonymous_huge_pages_are_enomem() {
    let mut s = space();
    let huge = PRIVATE_ANON | g::MAP_HUGETLB as usize;
    assert_eq!(s.mmap(0, P, RW, huge, None, 0), Err(Errno::ENOMEM));
}

#[test]
fn huge_page_size_without_an_hstate_is_einval_before_anything_else() {
    let mut s = space();
    let huge = PRIVATE_ANON | g::MAP_HUGETLB as usize;
    let size = |shift: usize| shift << g::MAP_HUGE_SHIFT;
    // All flags set: MAP_ANONYMOUS with MAP_HUGETLB asking for 2^63-byte pages.
    assert_eq!(s.mmap(0, P, RW, !0, None, 0), Err(Errno::EINVAL));
    assert_eq!(s.mmap(0, 0, RW, !0, None, 0), Err(Errno::EINVAL));
    assert_eq!(
        s.mmap(0, P, RW, huge | size(5), None, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        s.mmap(0, P, RW, huge | size(21), None, 0),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        s.mmap(0, P, RW, huge | size(30), None, 0),
        Err(Errno::ENOMEM)
    );
    // A file not on hugetlbfs refuses MAP_HUGETLB.
    let private_huge = (g::MAP_PRIVATE | g::MAP_HUGETLB) as usize;
    let f = super::file(vec![1; 10]);
    assert_eq!(
        s.mmap(0, P, R, private_huge, Some(f), 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(s.mmap(0, P, R, private_huge, None, 0), Err(Errno::EBADF));
    assert_eq!(s.vmas().count(), 0);
}

#[test]
fn shared_validate_with_an_unknown_flag_is_eopnotsupp_for_files() {
    let mut s = space();
    let f = super::file(vec![1; 10]);
    let validate = (g::MAP_SHARED_VALIDATE | g::MAP_SYNC) as usize;
    assert_eq!(
        s.mmap(0, P, R, validate, Some(f), 0),
        Err(Errno::EOPNOTSUPP)
    );
}

#[test]
fn file_mapping_without_a_file_is_ebadf() {
    let mut s = space();
    let private = g::MAP_PRIVATE as usize;
    assert_eq!(s.mmap(0, P, R, private, None, 0), Err(Errno::EBADF));
}

#[test]
fn munmap_argument_errors_follow_linux() {
    let mut s = space();
    let top = crate::TASK_SIZE;
    assert_eq!(s.munmap(BASE, 0), Err(Errno::EINVAL));
    assert_eq!(s.munmap(BASE + 1, P), Err(Errno::EINVAL));
    assert_eq!(s.munmap(top, P), Err(Errno::EINVAL));
    assert_eq!(s.munmap(top - P, 2 * P), Err(Errno::EINVAL));
    assert_eq!(s.munmap(BASE, usize::MAX), Err(Errno::EINVAL));
    assert_eq!(s.munmap(top - P, P), Ok(0));
    assert_eq!(s.munmap(0, P), Ok(0));
}

#[test]
fn the_vma_count_limit_gives_enomem() {
    let mut s = space();
    // Alternate protections so that nothing merges.
    let mut n = 0;
    let err = loop {
        let prot = if n % 2 == 0 { R } else { RW };
        match s.mmap(0x1_0000 + n * P, P, prot, PRIVATE_ANON | FIXED, None, 0) {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(err, Errno::ENOMEM);
    assert!(s.vmas().count() <= crate::MAX_MAP_COUNT);
    assert!(s.vmas().count() >= crate::MAX_MAP_COUNT - 2);
    // Splitting an area would exceed it too.
    assert_eq!(s.mprotect(0x1_0000 + P, 1, X), Err(Errno::ENOMEM));
}
