//! Many random operations, checking the VMA invariants and a page-by-page model after each.

use super::abi::*;
use super::*;
use crate::{Access, Fault, Prot};
use std::collections::BTreeMap;

/// Knuth's MMIX linear congruential generator.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

/// A window of 64 pages where every operation happens, so that they collide often.
const WINDOW: usize = 0x6000_0000;
const PAGES: usize = 64;

fn prot_of(bits: usize) -> Prot {
    Prot::from_bits_truncate(bits as u32)
}

#[test]
fn random_operations_keep_the_invariants_and_match_a_page_model() {
    for seed in 1..=20u64 {
        run(seed, 400);
    }
}

fn run(seed: u64, steps: usize) {
    let mut rng = Lcg(seed);
    let mut s = space();
    // Page index -> (protection, byte stored at offset 0 of the page).
    let mut model: BTreeMap<usize, (Prot, u8)> = BTreeMap::new();
    let prots = [NONE, R, RW, R | X, RW | X];

    for step in 0..steps {
        let first = rng.below(PAGES as u64);
        let count = 1 + rng.below((PAGES - first) as u64);
        let addr = WINDOW + first * P;
        let len = count * P - rng.below(P as u64); // unaligned lengths round up
        let pages = first..first + count;
        let prot = prots[rng.below(prots.len() as u64)];
        let what = rng.below(6);
        let ctx = format!("seed {seed} step {step} op {what} pages {pages:?}");
        match what {
            0 => {
                let got = s.mmap(addr, len, prot, PRIVATE_ANON | FIXED, None, 0);
                assert_eq!(got, Ok(addr), "{ctx}");
                for p in pages {
                    model.insert(p, (prot_of(prot), 0));
                }
            }
            1 => {
                assert_eq!(s.munmap(addr, len), Ok(0), "{ctx}");
                for p in pages {
                    model.remove(&p);
                }
            }
            2 => {
                let got = s.mprotect(addr, len, prot);
                // Linux: the mapped prefix before the first hole changes.
                let mut hole = false;
                for p in pages {
                    match model.get_mut(&p) {
                        Some(entry) if !hole => entry.0 = prot_of(prot),
                        _ => hole = true,
                    }
                }
                let want = if hole {
                    Err(syscall::Errno::ENOMEM)
                } else {
                    Ok(0)
                };
                assert_eq!(got, want, "{ctx}");
            }
            3 => {
                let dontneed = linux_raw_sys::general::MADV_DONTNEED as usize;
                let got = s.madvise(addr, len, dontneed);
                let mut hole = false;
                for p in pages {
                    match model.get_mut(&p) {
                        Some(entry) => entry.1 = 0,
                        None => hole = true,
                    }
                }
                let want = if hole {
                    Err(syscall::Errno::ENOMEM)
                } else {
                    Ok(0)
                };
                assert_eq!(got, want, "{ctx}");
            }
            4 => {
                // A store to one page.
                let p = first;
                let va = WINDOW + p * P;
                let value = (rng.next() as u8) | 1;
                let got = s.handle_fault(va, Access::Write);
                match model.get_mut(&p) {
                    None => assert_eq!(got, Err(Fault::MapErr), "{ctx}"),
                    Some(entry) if !entry.0.writable() => {
                        assert_eq!(got, Err(Fault::AccErr), "{ctx}")
                    }
                    Some(entry) => {
                        assert_eq!(got, Ok(()), "{ctx}");
                        s.page_table_mut().write_byte(va, value);
                        entry.1 = value;
                    }
                }
            }
            _ => {
                // A load from one page.
                let p = first;
                let va = WINDOW + p * P;
                let got = s.handle_fault(va, Access::Read);
                match model.get(&p) {
                    None => assert_eq!(got, Err(Fault::MapErr), "{ctx}"),
                    Some(entry) if !entry.0.readable() => {
                        assert_eq!(got, Err(Fault::AccErr), "{ctx}")
                    }
                    Some(entry) => {
                        assert_eq!(got, Ok(()), "{ctx}");
                        assert_eq!(s.page_table().read_byte(va), entry.1, "{ctx}");
                    }
                }
            }
        }
        check_invariants(&s);
        check_model(&s, &model, &ctx);
    }
}

/// Every page of the window has the protection the model says, or no area.
fn check_model(
    s: &AddressSpace<fake::FakePageTable>,
    model: &BTreeMap<usize, (Prot, u8)>,
    ctx: &str,
) {
    for p in 0..PAGES {
        let va = WINDOW + p * P;
        let got = s.find_vma(va).map(|v| v.prot);
        assert_eq!(got, model.get(&p).map(|e| e.0), "{ctx}: page {p}");
        if let Some((_, byte)) = model.get(&p)
            && s.page_table().is_mapped(va)
        {
            assert_eq!(
                s.page_table().read_byte(va),
                *byte,
                "{ctx}: page {p} contents"
            );
        } else if let Some((_, byte)) = model.get(&p) {
            // An absent page reads as zero on the next touch.
            assert_eq!(*byte, 0, "{ctx}: page {p} lost its contents");
        }
    }
}
