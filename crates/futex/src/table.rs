//! The futex table: hashed buckets of queued waiters, and the wait, wake, requeue and
//! wake-op primitives that futex(2) decodes into.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use linux_raw_sys::general::FUTEX_BITSET_MATCH_ANY;
use spin::{Mutex, MutexGuard};
use syscall::{Errno, SysResult, UserMemory};

use crate::host::{Clock, FutexHost, Wakeup};
use crate::op::WakeOp;

/// Number of hash buckets; a power of two. Waiters on different keys that share a
/// bucket only cost each other a longer scan.
const BUCKETS: usize = 256;

/// What a futex word is identified by.
///
/// Linux keys a private futex by (mm, address) and a shared one, on private anonymous
/// memory, by (mm, address) as well, but flagged shared: the two never match, so a
/// `FUTEX_WAKE_PRIVATE` does not wake a `FUTEX_WAIT` waiter on the same word. Spindle has
/// no shared file mappings, so this is the whole key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FutexKey {
    /// Set for calls without `FUTEX_PRIVATE_FLAG` and for the kernel's own wakes.
    pub shared: bool,
    /// The address space the word lives in, as the kernel numbers them.
    pub as_id: u64,
    /// The user address of the 32-bit word.
    pub uaddr: usize,
}

impl FutexKey {
    /// The key of a `FUTEX_*_PRIVATE` call.
    pub const fn private(as_id: u64, uaddr: usize) -> FutexKey {
        FutexKey {
            shared: false,
            as_id,
            uaddr,
        }
    }

    /// The key of a call without `FUTEX_PRIVATE_FLAG`, and of the kernel's clear-child-tid
    /// and robust-list wakes.
    pub const fn shared(as_id: u64, uaddr: usize) -> FutexKey {
        FutexKey {
            shared: true,
            as_id,
            uaddr,
        }
    }

    fn bucket(&self) -> usize {
        // Fibonacci hashing of the mixed fields; the top bits are the well-mixed ones.
        let mixed = (self.uaddr as u64 >> 2)
            ^ self.as_id.rotate_left(29)
            ^ u64::from(self.shared).rotate_left(61);
        (mixed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - BUCKETS.trailing_zeros())) as usize
    }
}

/// What a queued waiter and the threads that wake or requeue it share.
struct WaitState {
    /// The key the waiter is queued under now; a requeue changes it while holding both
    /// bucket locks, so a waiter that holds the bucket lock of the key it read can trust it.
    key: Mutex<FutexKey>,
    /// Set, under the bucket lock, by the thread that dequeued the waiter to wake it.
    woken: AtomicBool,
}

struct Queued<W> {
    key: FutexKey,
    bitset: u32,
    waiter: W,
    state: Arc<WaitState>,
}

type Bucket<W> = VecDeque<Queued<W>>;

/// The futex wait queues of the whole machine.
///
/// `W` is the host's [`FutexHost::Waiter`]. One table serves every address space: keys
/// carry the address-space id.
pub struct FutexTable<W> {
    buckets: [Mutex<Bucket<W>>; BUCKETS],
}

impl<W> FutexTable<W> {
    /// An empty table; `const` so that the kernel can keep it in a `static`.
    pub const fn new() -> FutexTable<W> {
        FutexTable {
            buckets: [const { Mutex::new(VecDeque::new()) }; BUCKETS],
        }
    }

    fn bucket(&self, key: &FutexKey) -> MutexGuard<'_, Bucket<W>> {
        self.buckets[key.bucket()].lock()
    }

    /// Locks the buckets of two keys in index order, so that two requeues in opposite
    /// directions cannot deadlock. The second guard is `None` when both share a bucket.
    fn lock_pair(
        &self,
        first: &FutexKey,
        second: &FutexKey,
    ) -> (MutexGuard<'_, Bucket<W>>, Option<MutexGuard<'_, Bucket<W>>>) {
        let (a, b) = (first.bucket(), second.bucket());
        if a == b {
            (self.buckets[a].lock(), None)
        } else if a < b {
            let ga = self.buckets[a].lock();
            (ga, Some(self.buckets[b].lock()))
        } else {
            let gb = self.buckets[b].lock();
            (self.buckets[a].lock(), Some(gb))
        }
    }
}

impl<W> Default for FutexTable<W> {
    fn default() -> Self {
        FutexTable::new()
    }
}

/// Dequeues up to `max` waiters on `key` whose bitset shares a bit with `bitset`, oldest
/// first, marks them woken and collects their handles for unparking after the unlock.
fn dequeue_matching<W: Clone>(
    queue: &mut Bucket<W>,
    key: &FutexKey,
    bitset: u32,
    max: usize,
    woken: &mut Vec<W>,
) -> usize {
    let mut count = 0;
    let mut i = 0;
    while i < queue.len() && count < max {
        let matches = queue
            .get(i)
            .is_some_and(|q| q.key == *key && q.bitset & bitset != 0);
        if !matches {
            i += 1;
            continue;
        }
        if let Some(q) = queue.remove(i) {
            q.state.woken.store(true, Ordering::Release);
            woken.push(q.waiter);
            count += 1;
        }
    }
    count
}

impl<W: Clone> FutexTable<W> {
    /// Wakes up to `nr_wake` waiters on `key` whose wait bitset shares a bit with
    /// `bitset` (`FUTEX_BITSET_MATCH_ANY` for all), oldest first, and returns how many.
    ///
    /// The kernel calls it directly for the clear-child-tid wake at thread exit and for
    /// robust-list wakes, both with `FutexKey::shared(as_id, uaddr)` and `nr_wake` 1. A
    /// misaligned address simply has no waiters. Unlike the syscall, `nr_wake` 0 wakes
    /// nobody.
    pub fn wake<H: FutexHost<Waiter = W>>(
        &self,
        host: &H,
        key: FutexKey,
        nr_wake: usize,
        bitset: u32,
    ) -> usize {
        let mut woken = Vec::new();
        let count = dequeue_matching(&mut self.bucket(&key), &key, bitset, nr_wake, &mut woken);
        unpark_all(host, &woken);
        count
    }

    /// Sleeps on `key` if the word at `key.uaddr` still holds `val`: the core of
    /// `FUTEX_WAIT` and `FUTEX_WAIT_BITSET`. `bitset` is non-zero; `deadline_ns` is on the
    /// monotonic clock. Returns 0 when woken.
    pub(crate) fn wait<H: FutexHost<Waiter = W>>(
        &self,
        host: &H,
        mem: &dyn UserMemory,
        key: FutexKey,
        val: u32,
        deadline_ns: Option<u64>,
        bitset: u32,
    ) -> SysResult {
        let me = host.current();
        let state = Arc::new(WaitState {
            key: Mutex::new(key),
            woken: AtomicBool::new(false),
        });

        // Linux's ordering rule: read the word and enqueue under one bucket lock, so a
        // waker that changes the word and then wakes either sees us queued or made us
        // read the new value (EAGAIN).
        {
            let mut queue = self.bucket(&key);
            if mem.read_u32(key.uaddr)? != val {
                return Err(Errno::EAGAIN);
            }
            let entry = Queued {
                key,
                bitset,
                waiter: me.clone(),
                state: state.clone(),
            };
            queue.push_back(entry);
        }

        loop {
            let wakeup = host.park(&me, deadline_ns);
            if state.woken.load(Ordering::Acquire) {
                return Ok(0);
            }
            let failure = match wakeup {
                Wakeup::TimedOut => Errno::ETIMEDOUT,
                Wakeup::Interrupted => Errno::EINTR,
                Wakeup::Woken => match deadline_ns {
                    Some(d) if host.now_ns(Clock::Monotonic) >= d => Errno::ETIMEDOUT,
                    // A leftover permit or a spurious host wake: we are still queued,
                    // so a real wake will still find us.
                    _ => continue,
                },
            };
            // A waker may have dequeued us between the park's return and now: then the
            // wake is ours and the call succeeds, as in Linux, so no wake is spent on a
            // waiter that reports failure.
            return if self.unqueue(&state) {
                Err(failure)
            } else {
                Ok(0)
            };
        }
    }

    /// Removes a timed-out or interrupted waiter from whatever queue it is on now.
    /// Returns false if a waker dequeued it first.
    fn unqueue(&self, state: &Arc<WaitState>) -> bool {
        loop {
            let key = *state.key.lock();
            let mut queue = self.bucket(&key);
            if state.woken.load(Ordering::Acquire) {
                return false;
            }
            // A requeue between our read of the key and the bucket lock moved us.
            if *state.key.lock() != key {
                continue;
            }
            if let Some(i) = queue.iter().position(|q| Arc::ptr_eq(&q.state, state)) {
                queue.remove(i);
            }
            return true;
        }
    }

    /// `FUTEX_REQUEUE` and `FUTEX_CMP_REQUEUE`: wakes up to `nr_wake` waiters on `from`,
    /// moves up to `nr_requeue` more to `to`, and returns both counts summed. With
    /// `expected`, the word at `from.uaddr` is compared under the locks first (EAGAIN).
    /// Bitsets are ignored and kept, as in Linux.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn requeue<H: FutexHost<Waiter = W>>(
        &self,
        host: &H,
        mem: &dyn UserMemory,
        from: FutexKey,
        to: FutexKey,
        nr_wake: usize,
        nr_requeue: usize,
        expected: Option<u32>,
    ) -> SysResult {
        let mut woken = Vec::new();
        let count = {
            let (mut first, mut second) = self.lock_pair(&from, &to);
            if let Some(expected) = expected
                && mem.read_u32(from.uaddr)? != expected
            {
                return Err(Errno::EAGAIN);
            }
            let woke = dequeue_matching(
                &mut first,
                &from,
                FUTEX_BITSET_MATCH_ANY,
                nr_wake,
                &mut woken,
            );

            // Collected first and appended after, so that a requeue onto the same bucket
            // does not meet the moved waiters again.
            let mut moved = Vec::new();
            let mut i = 0;
            while i < first.len() && moved.len() < nr_requeue {
                if first.get(i).is_some_and(|q| q.key == from) {
                    if let Some(q) = first.remove(i) {
                        moved.push(q);
                    }
                } else {
                    i += 1;
                }
            }
            let requeued = moved.len();
            let target = match second.as_mut() {
                Some(guard) => guard,
                None => &mut first,
            };
            for mut q in moved {
                q.key = to;
                *q.state.key.lock() = to;
                target.push_back(q);
            }
            woke + requeued
        };
        unpark_all(host, &woken);
        Ok(count)
    }

    /// `FUTEX_WAKE_OP`: under both bucket locks, atomically applies `op` to the word at
    /// `second.uaddr`, wakes up to `nr_wake` waiters on `first`, and, if the old value
    /// passed `op`'s comparison, up to `nr_wake2` on `second`. Returns the total woken.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn wake_op<H: FutexHost<Waiter = W>>(
        &self,
        host: &H,
        mem: &dyn UserMemory,
        first: FutexKey,
        second: FutexKey,
        nr_wake: usize,
        nr_wake2: usize,
        op: WakeOp,
    ) -> SysResult {
        let mut woken = Vec::new();
        let count = {
            let (mut g1, mut g2) = self.lock_pair(&first, &second);
            let old = mem.update_u32(second.uaddr, &mut |old| op.apply(old))?;
            // Linux checks the comparison only after the update, so an unknown
            // comparison leaves the word changed and fails with ENOSYS.
            let wake_second = op.compare(old)?;
            let any = FUTEX_BITSET_MATCH_ANY;
            let mut count = dequeue_matching(&mut g1, &first, any, nr_wake, &mut woken);
            if wake_second {
                let q2 = match g2.as_mut() {
                    Some(guard) => guard,
                    None => &mut g1,
                };
                count += dequeue_matching(q2, &second, any, nr_wake2, &mut woken);
            }
            count
        };
        unpark_all(host, &woken);
        Ok(count)
    }
}

/// Unparks dequeued waiters; always called with no bucket lock held, because the host's
/// unpark may take scheduler locks.
fn unpark_all<H: FutexHost>(host: &H, woken: &[H::Waiter]) {
    for waiter in woken {
        host.unpark(waiter);
    }
}
