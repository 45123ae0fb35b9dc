//! No lost wake-ups: futex-based locks and handoffs hammered by real threads. A lost
//! wake-up shows up as a hang, which [`common::within`] turns into a failure.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, Thread};

use common::{FakeMemory, StdHost, within};
use futex::FutexTable;
use linux_raw_sys::general::{
    FUTEX_BITSET_MATCH_ANY as ANY, FUTEX_CMP_REQUEUE, FUTEX_PRIVATE_FLAG as P, FUTEX_WAIT,
    FUTEX_WAIT_BITSET, FUTEX_WAKE,
};
use syscall::{Errno, SysResult, UserMemory};

const AS: u64 = 1;

struct World {
    table: FutexTable<Thread>,
    host: Arc<StdHost>,
    mem: Arc<FakeMemory>,
}

impl World {
    fn new() -> Arc<World> {
        Arc::new(World {
            table: FutexTable::new(),
            host: StdHost::new(),
            mem: FakeMemory::new(16),
        })
    }

    fn futex(&self, i: usize, op: u32, val: u32, t: usize, i2: usize, val3: u32) -> SysResult {
        let (a, a2) = (self.mem.addr(i), self.mem.addr(i2));
        self.table
            .futex(&*self.host, &*self.mem, AS, a, op, val, t, a2, val3)
    }

    fn cas(&self, i: usize, old: u32, new: u32) -> Result<u32, u32> {
        let mut seen = 0;
        self.mem
            .update_u32(self.mem.addr(i), &mut |v| {
                seen = v;
                if v == old { new } else { v }
            })
            .expect("mapped");
        if seen == old { Ok(seen) } else { Err(seen) }
    }

    fn swap(&self, i: usize, new: u32) -> u32 {
        self.mem
            .update_u32(self.mem.addr(i), &mut |_| new)
            .expect("mapped")
    }

    /// Drepper's "futexes are tricky" mutex 2: 0 free, 1 locked, 2 locked with waiters.
    fn lock(&self, i: usize, op: u32) {
        if let Err(mut c) = self.cas(i, 0, 1) {
            if c != 2 {
                c = self.swap(i, 2);
            }
            while c != 0 {
                let r = self.futex(i, op, 2, 0, 0, ANY);
                assert!(matches!(r, Ok(0) | Err(Errno::EAGAIN)), "wait gave {r:?}");
                c = self.swap(i, 2);
            }
        }
    }

    /// Takes the lock as a waiter that may have been requeued onto it: always marks it
    /// contended, so that its unlock wakes the next requeued waiter (glibc and musl do
    /// the same after a condvar wait).
    fn lock_contended(&self, i: usize, op: u32) {
        while self.swap(i, 2) != 0 {
            let r = self.futex(i, op, 2, 0, 0, ANY);
            assert!(matches!(r, Ok(0) | Err(Errno::EAGAIN)), "wait gave {r:?}");
        }
    }

    fn unlock(&self, i: usize, op: u32) {
        if self.swap(i, 0) == 2 {
            self.futex(i, op, 1, 0, 0, ANY).expect("wake");
        }
    }
}

fn mutex_stress(wait: u32, wake: u32) {
    const THREADS: usize = 8;
    const ROUNDS: usize = 3000;
    let w = World::new();
    let counter = Arc::new(AtomicUsize::new(0));
    let total = within(120, {
        let (w, counter) = (w.clone(), counter.clone());
        move || {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    let (w, counter) = (w.clone(), counter.clone());
                    thread::spawn(move || {
                        for _ in 0..ROUNDS {
                            w.lock(0, wait);
                            // A non-atomic read-modify-write, made safe only by the lock.
                            let v = counter.load(Ordering::Relaxed);
                            thread::yield_now();
                            counter.store(v + 1, Ordering::Relaxed);
                            w.unlock(0, wake);
                        }
                    })
                })
                .collect();
            handles.into_iter().for_each(|h| h.join().expect("worker"));
            counter.load(Ordering::SeqCst)
        }
    });
    assert_eq!(total, THREADS * ROUNDS);
    assert_eq!(w.mem.get(0), 0);
}

#[test]
fn a_futex_mutex_never_loses_a_wakeup_private() {
    mutex_stress(FUTEX_WAIT | P, FUTEX_WAKE | P);
}

#[test]
fn a_futex_mutex_never_loses_a_wakeup_shared_bitset() {
    mutex_stress(FUTEX_WAIT_BITSET, FUTEX_WAKE);
}

#[test]
fn ping_pong_handoffs_never_lose_a_wakeup() {
    // Word 0 says whose turn it is; each side waits until it is its own.
    const ROUNDS: u32 = 20_000;
    let w = World::new();
    within(120, move || {
        let other = {
            let w = w.clone();
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    while w.mem.get(0) != 1 {
                        let _ = w.futex(0, FUTEX_WAIT | P, 0, 0, 0, 0);
                    }
                    w.mem.set(0, 0);
                    w.futex(0, FUTEX_WAKE | P, 1, 0, 0, 0).expect("wake");
                }
            })
        };
        for _ in 0..ROUNDS {
            w.mem.set(0, 1);
            w.futex(0, FUTEX_WAKE | P, 1, 0, 0, 0).expect("wake");
            while w.mem.get(0) != 0 {
                let _ = w.futex(0, FUTEX_WAIT | P, 1, 0, 0, 0);
            }
        }
        other.join().expect("other side");
    });
}

#[test]
fn a_condvar_built_on_cmp_requeue_never_loses_a_wakeup() {
    // musl-style condition variable: a sequence word (1), waiters requeued onto the mutex
    // word (0) on broadcast. Producers push tokens, consumers take them; every token must
    // be consumed.
    const CONSUMERS: usize = 4;
    const TOKENS: usize = 4000;
    let w = World::new();
    let queue = Arc::new(AtomicUsize::new(0));
    let consumed = Arc::new(AtomicUsize::new(0));
    let done = within(120, {
        let (w, queue, consumed) = (w.clone(), queue.clone(), consumed.clone());
        move || {
            let consumers: Vec<_> = (0..CONSUMERS)
                .map(|_| {
                    let (w, queue, consumed) = (w.clone(), queue.clone(), consumed.clone());
                    thread::spawn(move || {
                        loop {
                            w.lock(0, FUTEX_WAIT | P);
                            while queue.load(Ordering::SeqCst) == 0 {
                                if consumed.load(Ordering::SeqCst) >= TOKENS {
                                    w.unlock(0, FUTEX_WAKE | P);
                                    return;
                                }
                                let seq = w.mem.get(1);
                                w.unlock(0, FUTEX_WAKE | P);
                                let _ = w.futex(1, FUTEX_WAIT | P, seq, 0, 0, 0);
                                w.lock_contended(0, FUTEX_WAIT | P);
                            }
                            queue.fetch_sub(1, Ordering::SeqCst);
                            consumed.fetch_add(1, Ordering::SeqCst);
                            w.unlock(0, FUTEX_WAKE | P);
                        }
                    })
                })
                .collect();
            for n in 0..=TOKENS {
                w.lock(0, FUTEX_WAIT | P);
                if n < TOKENS {
                    queue.fetch_add(1, Ordering::SeqCst);
                }
                let seq = w.mem.get(1).wrapping_add(1);
                w.mem.set(1, seq);
                // Broadcast: wake one, move the rest onto the mutex, whose unlock wakes
                // them one at a time. Mark the mutex contended first so that it does.
                w.swap(0, 2);
                let r = w.futex(1, FUTEX_CMP_REQUEUE | P, 1, i32::MAX as usize, 0, seq);
                assert!(
                    matches!(r, Ok(_) | Err(Errno::EAGAIN)),
                    "cmp_requeue gave {r:?}"
                );
                w.unlock(0, FUTEX_WAKE | P);
                if n % 64 == 0 {
                    thread::yield_now();
                }
            }
            // Wake stragglers until every consumer has seen the end.
            while consumers.iter().any(|h| !h.is_finished()) {
                w.lock(0, FUTEX_WAIT | P);
                let seq = w.mem.get(1).wrapping_add(1);
                w.mem.set(1, seq);
                w.unlock(0, FUTEX_WAKE | P);
                let _ = w.futex(1, FUTEX_WAKE | P, i32::MAX as u32, 0, 0, 0);
                thread::yield_now();
            }
            consumers
                .into_iter()
                .for_each(|h| h.join().expect("consumer"));
            consumed.load(Ordering::SeqCst)
        }
    });
    assert_eq!(done, TOKENS);
}

#[test]
fn a_wake_racing_a_timeout_is_never_spent_on_a_waiter_that_times_out() {
    // Each round: a waiter with a ~0-1 ms timeout and a waker that fires at about the same
    // moment. Whatever wins, a wake that reports 1 must be matched by a waiter returning 0.
    const ROUNDS: usize = 2000;
    let w = World::new();
    let (reported, succeeded) = within(120, move || {
        let mut reported = 0;
        let mut succeeded = 0;
        for round in 0..ROUNDS {
            let ts = 8; // word index of the timespec
            w.mem.set_u64(ts, 0);
            w.mem.set_u64(ts + 2, (round % 7) as u64 * 150_000);
            let waiter = {
                let w = w.clone();
                let t = w.mem.addr(ts);
                thread::spawn(move || w.futex(0, FUTEX_WAIT | P, 0, t, 0, 0))
            };
            for _ in 0..(round % 5) * 20 {
                std::hint::spin_loop();
            }
            reported += w.futex(0, FUTEX_WAKE | P, 1, 0, 0, 0).expect("wake");
            match waiter.join().expect("waiter") {
                Ok(0) => succeeded += 1,
                Err(Errno::ETIMEDOUT) => {}
                other => panic!("waiter returned {other:?}"),
            }
            // Whoever lost must not linger in the queue.
            assert_eq!(w.futex(0, FUTEX_WAKE | P, i32::MAX as u32, 0, 0, 0), Ok(0));
        }
        (reported, succeeded)
    });
    // A waiter returns 0 only when a waker dequeued it, and each dequeue is counted by
    // exactly one wake's return value.
    assert_eq!(reported, succeeded);
}
