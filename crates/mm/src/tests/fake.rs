//! A page table of boxed pages in a `HashMap`, recording flushes.

use crate::{PAGE_SIZE, PageTable, Prot};
use std::collections::HashMap;
use syscall::Errno;

#[derive(Default)]
pub struct FakePageTable {
    pages: HashMap<usize, (Prot, Box<[u8; PAGE_SIZE]>)>,
    /// Every `flush` call, in order.
    pub flushes: Vec<(usize, usize)>,
    /// When set, at most this many pages may be present (ENOMEM beyond).
    pub frame_limit: Option<usize>,
}

impl FakePageTable {
    /// Present pages and their protections, sorted.
    pub fn pages(&self) -> Vec<(usize, Prot)> {
        let mut v: Vec<_> = self.pages.iter().map(|(va, (p, _))| (*va, *p)).collect();
        v.sort_by_key(|(va, _)| *va);
        v
    }

    pub fn prot_of(&self, va: usize) -> Option<Prot> {
        self.pages.get(&va).map(|(p, _)| *p)
    }

    pub fn read_byte(&self, addr: usize) -> u8 {
        let (_, page) = &self.pages[&(addr & !(PAGE_SIZE - 1))];
        page[addr % PAGE_SIZE]
    }

    pub fn write_byte(&mut self, addr: usize, value: u8) {
        let (_, page) = self.pages.get_mut(&(addr & !(PAGE_SIZE - 1))).unwrap();
        page[addr % PAGE_SIZE] = value;
    }
}

impl PageTable for FakePageTable {
    fn map_zeroed(&mut self, va: usize, prot: Prot) -> Result<(), Errno> {
        assert_eq!(va % PAGE_SIZE, 0);
        assert!(
            !self.pages.contains_key(&va),
            "map_zeroed over a present page {va:#x}"
        );
        if self.frame_limit.is_some_and(|n| self.pages.len() >= n) {
            return Err(Errno::ENOMEM);
        }
        self.pages.insert(va, (prot, Box::new([0; PAGE_SIZE])));
        Ok(())
    }

    fn map_filled(
        &mut self,
        va: usize,
        prot: Prot,
        fill: &mut dyn FnMut(&mut [u8; PAGE_SIZE]) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        assert_eq!(va % PAGE_SIZE, 0);
        assert!(
            !self.pages.contains_key(&va),
            "map_filled over a present page {va:#x}"
        );
        if self.frame_limit.is_some_and(|n| self.pages.len() >= n) {
            return Err(Errno::ENOMEM);
        }
        let mut page = Box::new([0; PAGE_SIZE]);
        fill(&mut page)?;
        self.pages.insert(va, (prot, page));
        Ok(())
    }

    fn unmap_range(&mut self, start: usize, end: usize) -> bool {
        assert!(start < end && start.is_multiple_of(PAGE_SIZE) && end.is_multiple_of(PAGE_SIZE));
        let before = self.pages.len();
        self.pages.retain(|va, _| !(start..end).contains(va));
        self.pages.len() != before
    }

    fn protect_range(&mut self, start: usize, end: usize, prot: Prot) -> bool {
        assert!(start < end && start.is_multiple_of(PAGE_SIZE) && end.is_multiple_of(PAGE_SIZE));
        let mut any = false;
        for (va, (p, _)) in self.pages.iter_mut() {
            if (start..end).contains(va) {
                *p = prot;
                any = true;
            }
        }
        any
    }

    fn is_mapped(&self, va: usize) -> bool {
        self.pages.contains_key(&va)
    }

    fn page_mut(&mut self, va: usize) -> Option<&mut [u8; PAGE_SIZE]> {
        self.pages.get_mut(&va).map(|(_, b)| &mut **b)
    }

    fn flush(&mut self, start: usize, end: usize) {
        assert!(start < end && start.is_multiple_of(PAGE_SIZE) && end.is_multiple_of(PAGE_SIZE));
        self.flushes.push((start, end));
    }
}
