//! The robust-list walk at thread death, per robust-futex-ABI.rst and Linux's
//! `exit_robust_list`/`handle_futex_death`.

mod common;

use std::sync::Arc;
use std::thread::{self, Thread};

use common::{BASE, FakeMemory, StdHost};
use futex::{FutexKey, FutexTable, ROBUST_LIST_HEAD_LEN, walk_robust_list};
use linux_raw_sys::general::{
    FUTEX_BITSET_MATCH_ANY, FUTEX_OWNER_DIED as DIED, FUTEX_WAIT, FUTEX_WAITERS as WAITERS,
    ROBUST_LIST_LIMIT,
};

const TID: u32 = 1234;
const OTHER: u32 = 999;
/// Word index of the list head (`next`, `futex_offset`, `list_op_pending`: 6 words).
const HEAD: usize = 0;
/// Word index of the first entry; each entry takes 4 words: `next` (2 words), then the
/// lock word, then padding. So `futex_offset` is 8.
const FIRST: usize = 8;
const OFFSET: i64 = 8;

struct List {
    mem: Arc<FakeMemory>,
}

impl List {
    fn new(entries: usize) -> List {
        List {
            mem: FakeMemory::new(FIRST + 4 * entries + 8),
        }
    }

    fn head(&self) -> usize {
        self.mem.addr(HEAD)
    }

    /// The address of entry `k`'s `struct robust_list`.
    fn entry(&self, k: usize) -> usize {
        self.mem.addr(FIRST + 4 * k)
    }

    fn lock_index(k: usize) -> usize {
        FIRST + 4 * k + 2
    }

    fn lock(&self, k: usize) -> u32 {
        self.mem.get(List::lock_index(k))
    }

    fn set_lock(&self, k: usize, v: u32) {
        self.mem.set(List::lock_index(k), v)
    }

    fn lock_addr(&self, k: usize) -> usize {
        self.mem.addr(List::lock_index(k))
    }

    /// Writes `next` pointers: the head points at `chain[0]`, each entry at the next, the
    /// last back at the head, as glibc builds the list.
    fn link(&self, chain: &[usize]) {
        let mut at = self.head();
        for &k in chain {
            self.mem.set_u64((at - BASE) / 4, self.entry(k) as u64);
            at = self.entry(k);
        }
        self.mem.set_u64((at - BASE) / 4, self.head() as u64);
        self.mem.set_u64(HEAD + 2, OFFSET as u64);
    }

    fn set_raw_next(&self, from_entry: usize, raw: u64) {
        self.mem.set_u64(FIRST + 4 * from_entry, raw);
    }

    fn set_pending(&self, raw: u64) {
        self.mem.set_u64(HEAD + 4, raw);
    }

    /// Walks as thread `TID` and returns the addresses `wake` was called with.
    fn walk(&self) -> Vec<usize> {
        let mut woken = Vec::new();
        walk_robust_list(&*self.mem, self.head(), ROBUST_LIST_HEAD_LEN, TID, |a| {
            woken.push(a)
        });
        woken
    }
}

#[test]
fn head_len_is_the_size_of_struct_robust_list_head() {
    assert_eq!(ROBUST_LIST_HEAD_LEN, 24);
}

#[test]
fn owned_locks_get_owner_died_and_only_contended_ones_a_wake() {
    let l = List::new(3);
    l.link(&[0, 1, 2]);
    l.set_lock(0, TID | WAITERS);
    l.set_lock(1, TID);
    l.set_lock(2, OTHER | WAITERS);
    assert_eq!(l.walk(), vec![l.lock_addr(0)]);
    assert_eq!(l.lock(0), WAITERS | DIED);
    assert_eq!(l.lock(1), DIED);
    assert_eq!(
        l.lock(2),
        OTHER | WAITERS,
        "another thread's lock is left alone"
    );
}

#[test]
fn a_lock_already_marked_owner_died_is_still_woken() {
    // A waiter that took an OWNER_DIED lock and died too: its waiters need the wake.
    let l = List::new(1);
    l.link(&[0]);
    l.set_lock(0, TID | WAITERS | DIED);
    assert_eq!(l.walk(), vec![l.lock_addr(0)]);
    assert_eq!(l.lock(0), WAITERS | DIED);
}

#[test]
fn a_negative_futex_offset_puts_the_word_before_the_entry() {
    // glibc's list entry sits after the lock word inside pthread_mutex_t.
    let l = List::new(2);
    l.link(&[1]);
    l.mem.set_u64(HEAD + 2, (-8i64) as u64);
    // 8 bytes before entry 1 lies the word the tests otherwise call entry 0's lock.
    let word = l.entry(1) - 8;
    assert_eq!(word, l.lock_addr(0));
    l.set_lock(0, TID | WAITERS);
    assert_eq!(l.walk(), vec![word]);
    assert_eq!(l.lock(0), WAITERS | DIED);
}

#[test]
fn an_empty_list_changes_nothing() {
    let l = List::new(1);
    l.link(&[]);
    l.set_lock(0, TID | WAITERS);
    assert_eq!(l.walk(), Vec::<usize>::new());
    assert_eq!(l.lock(0), TID | WAITERS);
}

#[test]
fn a_cycle_that_misses_the_head_ends_and_handles_each_lock_once() {
    let l = List::new(3);
    l.link(&[0, 1]);
    l.set_raw_next(1, l.entry(0) as u64); // 0 -> 1 -> 0 -> ...
    l.set_lock(0, TID | WAITERS);
    l.set_lock(1, TID | WAITERS);
    // The pending op is still handled after the cycle is cut.
    l.set_pending(l.entry(2) as u64);
    l.set_lock(2, TID | WAITERS);
    assert_eq!(
        l.walk(),
        vec![l.lock_addr(0), l.lock_addr(1), l.lock_addr(2)]
    );
    for k in 0..3 {
        assert_eq!(l.lock(k), WAITERS | DIED);
    }
}

#[test]
fn the_walk_stops_after_robust_list_limit_entries() {
    let n = ROBUST_LIST_LIMIT as usize + 50;
    let l = List::new(n);
    l.link(&(0..n).collect::<Vec<_>>());
    for k in 0..n {
        l.set_lock(k, TID);
    }
    l.walk();
    let marked = (0..n).filter(|&k| l.lock(k) == DIED).count();
    assert_eq!(marked, ROBUST_LIST_LIMIT as usize);
    assert_eq!(l.lock(n - 1), TID);
}

#[test]
fn list_op_pending_is_handled_after_the_list() {
    let l = List::new(2);
    l.link(&[0]);
    l.set_lock(0, TID | WAITERS);
    l.set_pending(l.entry(1) as u64);
    l.set_lock(1, TID | WAITERS);
    assert_eq!(l.walk(), vec![l.lock_addr(0), l.lock_addr(1)]);
    assert_eq!(l.lock(1), WAITERS | DIED);
}

#[test]
fn a_pending_lock_that_is_also_on_the_list_is_handled_once() {
    let l = List::new(1);
    l.link(&[0]);
    l.set_pending(l.entry(0) as u64);
    l.set_lock(0, TID | WAITERS);
    assert_eq!(l.walk(), vec![l.lock_addr(0)]);
}

#[test]
fn a_released_pending_lock_gets_the_lost_wake_without_owner_died() {
    // The thread died between storing 0 and calling FUTEX_WAKE.
    let l = List::new(1);
    l.link(&[]);
    l.set_pending(l.entry(0) as u64);
    l.set_lock(0, WAITERS);
    assert_eq!(l.walk(), vec![l.lock_addr(0)]);
    assert_eq!(l.lock(0), WAITERS, "a consistent free lock stays as it is");
    // Not so for a PI lock (bit 0 of the pointer), nor on the list itself.
    l.set_pending(l.entry(0) as u64 | 1);
    assert_eq!(l.walk(), Vec::<usize>::new());
    l.set_pending(0);
    l.link(&[0]);
    assert_eq!(l.walk(), Vec::<usize>::new());
}

#[test]
fn another_owners_lock_is_untouched_and_not_woken() {
    let l = List::new(2);
    l.link(&[0]);
    l.set_lock(0, OTHER | WAITERS);
    l.set_pending(l.entry(1) as u64);
    l.set_lock(1, (TID + 1) | WAITERS);
    assert_eq!(l.walk(), Vec::<usize>::new());
    assert_eq!(l.lock(0), OTHER | WAITERS);
    assert_eq!(l.lock(1), (TID + 1) | WAITERS);
}

#[test]
fn pi_entries_are_unmasked_marked_and_not_woken() {
    let l = List::new(2);
    l.link(&[0, 1]);
    l.mem.set_u64(HEAD, l.entry(0) as u64 | 1);
    l.set_lock(0, TID | WAITERS);
    l.set_lock(1, TID | WAITERS);
    // Entry 0 is PI (the flag sits in the pointer to it), entry 1 is not.
    assert_eq!(l.walk(), vec![l.lock_addr(1)]);
    assert_eq!(l.lock(0), WAITERS | DIED);
    assert_eq!(l.lock(1), WAITERS | DIED);
}

#[test]
fn an_unreadable_next_pointer_stops_the_walk_after_the_current_entry() {
    let l = List::new(3);
    l.link(&[0, 1]);
    l.set_raw_next(0, 0xdead_0000);
    l.set_lock(0, TID);
    l.set_lock(1, TID);
    // Linux returns without the pending op in this case.
    l.set_pending(l.entry(2) as u64);
    l.set_lock(2, TID);
    l.walk();
    assert_eq!(l.lock(0), DIED);
    assert_eq!(l.lock(1), TID);
    assert_eq!(l.lock(2), TID);
}

#[test]
fn an_entry_whose_lock_word_is_unmapped_stops_the_walk() {
    let l = List::new(2);
    l.link(&[0, 1]);
    l.mem.set_u64(HEAD, 0x10); // NULL page entry
    l.set_lock(1, TID);
    l.walk();
    assert_eq!(l.lock(1), TID);
}

#[test]
fn a_misaligned_lock_word_stops_the_walk() {
    let l = List::new(2);
    l.link(&[0, 1]);
    l.mem.set_u64(HEAD + 2, 9);
    l.set_lock(0, TID);
    l.set_lock(1, TID);
    l.set_pending(l.entry(1) as u64);
    l.walk();
    assert_eq!(l.lock(0), TID);
    assert_eq!(l.lock(1), TID);
}

#[test]
fn a_bad_head_or_length_does_nothing() {
    let l = List::new(1);
    l.link(&[0]);
    l.set_lock(0, TID);
    let mut woken = 0;
    walk_robust_list(&*l.mem, 0, ROBUST_LIST_HEAD_LEN, TID, |_| woken += 1);
    walk_robust_list(&*l.mem, l.mem.end(), ROBUST_LIST_HEAD_LEN, TID, |_| {
        woken += 1
    });
    walk_robust_list(&*l.mem, l.mem.end() - 8, ROBUST_LIST_HEAD_LEN, TID, |_| {
        woken += 1
    });
    walk_robust_list(&*l.mem, l.head(), ROBUST_LIST_HEAD_LEN + 8, TID, |_| {
        woken += 1
    });
    assert_eq!(woken, 0);
    assert_eq!(l.lock(0), TID);
}

#[test]
fn garbage_lists_never_panic() {
    // Fill a small address space with pseudo-random words, half of them pointers into
    // it, and walk from every word.
    let mem = FakeMemory::new(256);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..256 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = if x & 1 == 0 {
            (BASE as u64 + (x >> 8) % 1100) as u32
        } else {
            x as u32
        };
        mem.set(i, v);
    }
    for i in 0..256 {
        walk_robust_list(&*mem, mem.addr(i), ROBUST_LIST_HEAD_LEN, TID, |_| {});
        walk_robust_list(&*mem, mem.addr(i) + 2, ROBUST_LIST_HEAD_LEN, TID, |_| {});
    }
}

#[test]
fn a_waiter_blocked_on_a_dead_owners_lock_is_woken_by_a_shared_wake() {
    let table: Arc<FutexTable<Thread>> = Arc::new(FutexTable::new());
    let host = StdHost::new();
    let l = List::new(1);
    l.link(&[0]);
    l.set_lock(0, TID | WAITERS);
    let lock = l.lock_addr(0);
    let waiter = {
        let (table, host, mem) = (table.clone(), host.clone(), l.mem.clone());
        // glibc's robust mutex waits shared, with the owner's tid and WAITERS as value.
        thread::spawn(move || {
            table.futex(&*host, &*mem, 1, lock, FUTEX_WAIT, TID | WAITERS, 0, 0, 0)
        })
    };
    host.wait_parked(1);
    let mut woke = 0;
    walk_robust_list(&*l.mem, l.head(), ROBUST_LIST_HEAD_LEN, TID, |uaddr| {
        woke += table.wake(
            &*host,
            FutexKey::shared(1, uaddr),
            1,
            FUTEX_BITSET_MATCH_ANY,
        );
    });
    assert_eq!(woke, 1);
    assert_eq!(waiter.join().expect("waiter"), Ok(0));
    assert_eq!(l.lock(0), WAITERS | DIED);
}
