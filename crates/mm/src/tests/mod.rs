//! Host tests of the address space against a fake page table.

mod errno_cases;
mod fake;
mod fault;
mod file_backed;
mod loader;
mod mapping;
mod protection;
mod random;
mod scaling;

use crate::{AddressSpace, Layout, PAGE_SIZE, PageTable};
use fake::FakePageTable;

const P: usize = PAGE_SIZE;

/// `PROT_*` and `MAP_*` as the raw syscall arguments.
mod abi {
    use linux_raw_sys::general as g;
    pub const R: usize = g::PROT_READ as usize;
    pub const W: usize = g::PROT_WRITE as usize;
    pub const X: usize = g::PROT_EXEC as usize;
    pub const RW: usize = R | W;
    pub const NONE: usize = 0;
    pub const PRIVATE_ANON: usize = (g::MAP_PRIVATE | g::MAP_ANONYMOUS) as usize;
    pub const FIXED: usize = g::MAP_FIXED as usize;
    pub const NOREPLACE: usize = g::MAP_FIXED_NOREPLACE as usize;
}

fn space() -> AddressSpace<FakePageTable> {
    AddressSpace::new(FakePageTable::default(), Layout::linux_default())
}

/// A file of `bytes`, as the kernel hands initrd files to `mmap`.
struct Bytes(Vec<u8>);

impl crate::MapFile for Bytes {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, syscall::Errno> {
        let start = (offset as usize).min(self.0.len());
        let n = buf.len().min(self.0.len() - start);
        buf[..n].copy_from_slice(&self.0[start..start + n]);
        Ok(n)
    }
}

fn file(bytes: Vec<u8>) -> crate::FileHandle {
    std::sync::Arc::new(Bytes(bytes))
}

/// Anonymous private mapping at a fixed address.
fn map_fixed(s: &mut AddressSpace<FakePageTable>, addr: usize, len: usize, prot: usize) {
    let got = s.mmap(addr, len, prot, abi::PRIVATE_ANON | abi::FIXED, None, 0);
    assert_eq!(got, Ok(addr));
}

/// The areas as `(start, end, "rw-")` triples.
fn areas(s: &AddressSpace<FakePageTable>) -> Vec<(usize, usize, String)> {
    s.vmas()
        .map(|v| (v.start, v.end, format!("{:?}", v.prot)))
        .collect()
}

/// Writes a byte as a user store would: fault in the page, then store.
fn poke(s: &mut AddressSpace<FakePageTable>, addr: usize, value: u8) {
    s.handle_fault(addr, crate::Access::Write).unwrap();
    s.page_table_mut().write_byte(addr, value);
}

/// Reads a byte as a user load would.
fn peek(s: &mut AddressSpace<FakePageTable>, addr: usize) -> u8 {
    s.handle_fault(addr, crate::Access::Read).unwrap();
    s.page_table().read_byte(addr)
}

/// Checks the VMA invariants and that every present page lies in an area with the area's
/// protection.
fn check_invariants(s: &AddressSpace<FakePageTable>) {
    let v: Vec<_> = s.vmas().cloned().collect();
    for a in &v {
        assert!(a.start < a.end, "empty area {a:?}");
        assert!(a.start % P == 0 && a.end % P == 0, "unaligned {a:?}");
        assert!(a.start >= s.layout().mmap_min_addr && a.end <= s.layout().task_size);
    }
    for w in v.windows(2) {
        assert!(w[0].end <= w[1].start, "overlap or unsorted {w:?}");
        assert!(!w[0].merges_with(&w[1]), "unmerged neighbours {w:?}");
    }
    // The gap tree holds exactly the complement of the areas.
    let mut want = Vec::new();
    let mut cursor = 0;
    for a in &v {
        if a.start > cursor {
            want.push((cursor, a.start));
        }
        cursor = a.end;
    }
    want.push((cursor, usize::MAX));
    assert_eq!(
        s.vmas.checked_gaps(),
        want,
        "gaps differ from the areas' complement"
    );
    for (va, prot) in s.page_table().pages() {
        let vma = s
            .find_vma(va)
            .unwrap_or_else(|| panic!("page {va:#x} outside areas"));
        assert_eq!(
            vma.prot, prot,
            "page {va:#x} protection differs from its area"
        );
    }
}
