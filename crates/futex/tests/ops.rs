//! futex(2) through `FutexTable::futex`, with real threads: each test states one Linux
//! behaviour. Errno expectations were checked against a Linux 6.18 host with raw calls.

mod common;

use std::sync::Arc;
use std::thread::{self, JoinHandle, Thread};
use std::time::Instant;

use common::{FakeMemory, StdHost};
use futex::{Clock, FutexHost, FutexKey, FutexTable, Wakeup};
use linux_raw_sys::general::{
    FUTEX_BITSET_MATCH_ANY as ANY, FUTEX_CLOCK_REALTIME, FUTEX_CMP_REQUEUE, FUTEX_FD,
    FUTEX_LOCK_PI, FUTEX_OP_ADD, FUTEX_OP_ANDN, FUTEX_OP_CMP_EQ, FUTEX_OP_CMP_GT,
    FUTEX_OP_OPARG_SHIFT, FUTEX_OP_OR, FUTEX_OP_SET, FUTEX_OP_XOR, FUTEX_PRIVATE_FLAG,
    FUTEX_REQUEUE, FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI, FUTEX_WAIT, FUTEX_WAIT_BITSET,
    FUTEX_WAIT_REQUEUE_PI, FUTEX_WAKE, FUTEX_WAKE_BITSET, FUTEX_WAKE_OP,
};
use syscall::{Errno, SysResult, UserMemory};

const AS: u64 = 7;
const P: u32 = FUTEX_PRIVATE_FLAG;
const RT: u32 = FUTEX_CLOCK_REALTIME;
/// Word index of a scratch `struct timespec` (two u64s).
const TS: usize = 32;
const ALL: u32 = i32::MAX as u32;

#[derive(Clone)]
struct Ctx {
    table: Arc<FutexTable<Thread>>,
    host: Arc<StdHost>,
    mem: Arc<FakeMemory>,
}

impl Ctx {
    fn new() -> Ctx {
        Ctx {
            table: Arc::new(FutexTable::new()),
            host: StdHost::new(),
            mem: FakeMemory::new(64),
        }
    }

    fn a(&self, i: usize) -> usize {
        self.mem.addr(i)
    }

    fn futex(
        &self,
        uaddr: usize,
        op: u32,
        val: u32,
        t: usize,
        uaddr2: usize,
        val3: u32,
    ) -> SysResult {
        self.table
            .futex(&*self.host, &*self.mem, AS, uaddr, op, val, t, uaddr2, val3)
    }

    fn wake(&self, i: usize, op: u32, n: u32) -> SysResult {
        self.futex(self.a(i), op, n, 0, 0, 0)
    }

    /// Writes `struct timespec { sec, nsec }` at [`TS`] and returns its address.
    fn timespec(&self, sec: i64, nsec: i64) -> usize {
        self.mem.set_u64(TS, sec as u64);
        self.mem.set_u64(TS + 2, nsec as u64);
        self.a(TS)
    }

    fn spawn(&self, f: impl FnOnce(&Ctx) -> SysResult + Send + 'static) -> JoinHandle<SysResult> {
        let ctx = self.clone();
        thread::spawn(move || f(&ctx))
    }

    /// Starts `n` threads waiting on word `i` with `op` (value 0, no timeout) and `val3`,
    /// and returns once all of them are queued.
    fn waiters(&self, i: usize, op: u32, val3: u32, n: usize) -> Vec<JoinHandle<SysResult>> {
        let before = self.host.parked();
        let handles = (0..n)
            .map(|_| self.spawn(move |c| c.futex(c.a(i), op, 0, 0, 0, val3)))
            .collect();
        self.host.wait_parked(before + n);
        handles
    }
}

fn join_all(handles: Vec<JoinHandle<SysResult>>) -> Vec<SysResult> {
    handles
        .into_iter()
        .map(|h| h.join().expect("waiter thread"))
        .collect()
}

fn elapsed_ms(start: Instant) -> u128 {
    start.elapsed().as_millis()
}

#[test]
fn wait_returns_eagain_when_the_word_differs() {
    let c = Ctx::new();
    c.mem.set(0, 5);
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT | P, 4, 0, 0, 0),
        Err(Errno::EAGAIN)
    );
    assert_eq!(c.futex(c.a(0), FUTEX_WAIT, 4, 0, 0, 0), Err(Errno::EAGAIN));
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT_BITSET | P, 4, 0, 0, ANY),
        Err(Errno::EAGAIN)
    );
}

#[test]
fn wake_wakes_a_blocked_waiter_and_returns_one() {
    let c = Ctx::new();
    let w = c.waiters(0, FUTEX_WAIT | P, ANY, 1);
    assert_eq!(c.wake(0, FUTEX_WAKE | P, 1), Ok(1));
    assert_eq!(join_all(w), vec![Ok(0)]);
    assert_eq!(c.wake(0, FUTEX_WAKE | P, 1), Ok(0));
}

#[test]
fn wake_returns_the_number_woken_up_to_the_count() {
    let c = Ctx::new();
    let w = c.waiters(0, FUTEX_WAIT | P, ANY, 5);
    assert_eq!(c.wake(0, FUTEX_WAKE | P, 2), Ok(2));
    c.host.wait_parked(3);
    assert_eq!(c.wake(0, FUTEX_WAKE | P, ALL), Ok(3));
    assert!(join_all(w).iter().all(|r| *r == Ok(0)));
}

#[test]
fn wake_with_count_zero_or_negative_still_wakes_one_as_linux_does() {
    let c = Ctx::new();
    let w = c.waiters(0, FUTEX_WAIT | P, ANY, 3);
    assert_eq!(c.wake(0, FUTEX_WAKE | P, 0), Ok(1));
    assert_eq!(c.wake(0, FUTEX_WAKE | P, u32::MAX), Ok(1));
    assert_eq!(c.wake(0, FUTEX_WAKE | P, 1), Ok(1));
    join_all(w);
}

#[test]
fn waiters_are_woken_oldest_first() {
    let c = Ctx::new();
    let first = c.waiters(0, FUTEX_WAIT_BITSET | P, 1, 1);
    let second = c.waiters(0, FUTEX_WAIT_BITSET | P, 2, 1);
    assert_eq!(c.wake(0, FUTEX_WAKE | P, 1), Ok(1));
    assert_eq!(join_all(first), vec![Ok(0)]);
    assert_eq!(c.host.parked(), 1);
    assert_eq!(c.wake(0, FUTEX_WAKE | P, 1), Ok(1));
    join_all(second);
}

#[test]
fn private_and_shared_futexes_on_one_word_are_distinct() {
    let c = Ctx::new();
    let shared = c.waiters(0, FUTEX_WAIT, ANY, 1);
    assert_eq!(c.wake(0, FUTEX_WAKE | P, ALL), Ok(0));
    let private = c.waiters(0, FUTEX_WAIT | P, ANY, 1);
    assert_eq!(c.wake(0, FUTEX_WAKE, ALL), Ok(1));
    assert_eq!(join_all(shared), vec![Ok(0)]);
    assert_eq!(c.wake(0, FUTEX_WAKE | P, ALL), Ok(1));
    assert_eq!(join_all(private), vec![Ok(0)]);
}

#[test]
fn kernel_shared_wake_wakes_a_shared_waiter_only() {
    // The clear-child-tid wake at thread exit: glibc's pthread_join waits shared.
    let c = Ctx::new();
    let private = c.waiters(0, FUTEX_WAIT | P, ANY, 1);
    let join = c.waiters(0, FUTEX_WAIT_BITSET | RT, ANY, 1);
    let key = FutexKey::shared(AS, c.a(0));
    assert_eq!(c.table.wake(&*c.host, key, 1, ANY), 1);
    assert_eq!(join_all(join), vec![Ok(0)]);
    assert_eq!(c.table.wake(&*c.host, key, 1, ANY), 0);
    assert_eq!(c.wake(0, FUTEX_WAKE | P, 1), Ok(1));
    join_all(private);
}

#[test]
fn address_spaces_do_not_share_futexes() {
    let c = Ctx::new();
    let w = c.waiters(0, FUTEX_WAIT | P, ANY, 1);
    let other = FutexKey::private(AS + 1, c.a(0));
    assert_eq!(c.table.wake(&*c.host, other, 1, ANY), 0);
    assert_eq!(
        c.table
            .wake(&*c.host, FutexKey::private(AS, c.a(0)), 1, ANY),
        1
    );
    join_all(w);
}

#[test]
fn wake_bitset_wakes_only_waiters_whose_bitset_overlaps() {
    let c = Ctx::new();
    let low = c.waiters(0, FUTEX_WAIT_BITSET | P, 0b01, 1);
    let high = c.waiters(0, FUTEX_WAIT_BITSET | P, 0b10, 1);
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAKE_BITSET | P, ALL, 0, 0, 0b100),
        Ok(0)
    );
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAKE_BITSET | P, ALL, 0, 0, 0b10),
        Ok(1)
    );
    assert_eq!(join_all(high), vec![Ok(0)]);
    // A plain FUTEX_WAKE matches every bitset.
    assert_eq!(c.wake(0, FUTEX_WAKE | P, ALL), Ok(1));
    assert_eq!(join_all(low), vec![Ok(0)]);
}

#[test]
fn plain_wait_is_woken_by_any_wake_bitset() {
    let c = Ctx::new();
    let w = c.waiters(0, FUTEX_WAIT | P, 0, 1);
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAKE_BITSET | P, 1, 0, 0, 0x8000_0000),
        Ok(1)
    );
    join_all(w);
}

#[test]
fn zero_bitset_is_einval_for_wait_and_wake_before_the_address_is_checked() {
    let c = Ctx::new();
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT_BITSET | P, 0, 0, 0, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAKE_BITSET | P, 1, 0, 0, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        c.futex(0x10, FUTEX_WAIT_BITSET, 0, 0, 0, 0),
        Err(Errno::EINVAL)
    );
}

#[test]
fn misaligned_addresses_are_einval() {
    let c = Ctx::new();
    for op in [FUTEX_WAIT, FUTEX_WAIT | P, FUTEX_WAKE, FUTEX_WAKE | P] {
        assert_eq!(
            c.futex(c.a(0) + 2, op, 0, 0, 0, 0),
            Err(Errno::EINVAL),
            "op {op:#x}"
        );
    }
    // Misalignment wins over a value mismatch.
    c.mem.set(0, 9);
    assert_eq!(
        c.futex(c.a(0) + 1, FUTEX_WAIT | P, 0, 0, 0, 0),
        Err(Errno::EINVAL)
    );
}

#[test]
fn unmapped_words_are_efault_except_for_a_private_wake() {
    let c = Ctx::new();
    let unmapped = c.mem.end() + 0x1000;
    assert_eq!(
        c.futex(unmapped, FUTEX_WAIT | P, 0, 0, 0, 0),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        c.futex(unmapped, FUTEX_WAIT, 0, 0, 0, 0),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        c.futex(unmapped, FUTEX_WAKE, 1, 0, 0, 0),
        Err(Errno::EFAULT)
    );
    // A private key is made without touching memory, so Linux answers 0 here.
    assert_eq!(c.futex(unmapped, FUTEX_WAKE | P, 1, 0, 0, 0), Ok(0));
    // ... but not for a kernel address.
    assert_eq!(
        c.futex(0xffff_8000_0000_0000, FUTEX_WAKE | P, 1, 0, 0, 0),
        Err(Errno::EFAULT)
    );
}

#[test]
fn invalid_timespecs_are_einval_and_checked_before_the_value() {
    let c = Ctx::new();
    c.mem.set(0, 1);
    for (sec, nsec) in [(0, 1_000_000_000), (0, -1), (-1, 0), (i64::MIN, 5)] {
        let t = c.timespec(sec, nsec);
        assert_eq!(
            c.futex(c.a(0), FUTEX_WAIT | P, 0, t, 0, 0),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            c.futex(c.a(0), FUTEX_WAIT_BITSET, 0, t, 0, ANY),
            Err(Errno::EINVAL)
        );
    }
}

#[test]
fn unreadable_timeout_pointer_is_efault_before_anything_else() {
    let c = Ctx::new();
    let bad = c.mem.end();
    c.mem.set(0, 1);
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT | P, 0, bad, 0, 0),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        c.futex(c.a(0) + 1, FUTEX_WAIT_BITSET, 0, bad, 0, 0),
        Err(Errno::EFAULT)
    );
    // ... even when the flags are then refused.
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT | RT, 0, bad, 0, 0),
        Err(Errno::EFAULT)
    );
    // A pointer at the very top of the address space must not overflow.
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT | P, 0, usize::MAX - 3, 0, 0),
        Err(Errno::EFAULT)
    );
    // A wake has no timeout: the pointer is not read.
    assert_eq!(c.futex(c.a(0), FUTEX_WAKE | P, 1, bad, 0, 0), Ok(0));
}

#[test]
fn relative_timeout_ends_a_wait_with_etimedout() {
    let c = Ctx::new();
    let t = c.timespec(0, 50_000_000);
    let start = Instant::now();
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT | P, 0, t, 0, 0),
        Err(Errno::ETIMEDOUT)
    );
    let ms = elapsed_ms(start);
    assert!((50..2000).contains(&ms), "waited {ms} ms");
}

#[test]
fn zero_timeout_times_out_at_once_but_a_value_mismatch_wins() {
    let c = Ctx::new();
    let t = c.timespec(0, 0);
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT | P, 0, t, 0, 0),
        Err(Errno::ETIMEDOUT)
    );
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT | P, 1, t, 0, 0),
        Err(Errno::EAGAIN)
    );
}

#[test]
fn wait_bitset_takes_an_absolute_monotonic_deadline() {
    let c = Ctx::new();
    let deadline = c.host.now_ns(Clock::Monotonic) + 50_000_000;
    let t = c.timespec(
        (deadline / 1_000_000_000) as i64,
        (deadline % 1_000_000_000) as i64,
    );
    let start = Instant::now();
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT_BITSET | P, 0, t, 0, ANY),
        Err(Errno::ETIMEDOUT)
    );
    let ms = elapsed_ms(start);
    assert!((45..2000).contains(&ms), "waited {ms} ms");

    // A deadline in the past times out at once.
    let t = c.timespec(0, 0);
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT_BITSET | P, 0, t, 0, ANY),
        Err(Errno::ETIMEDOUT)
    );
}

#[test]
fn wait_bitset_with_clock_realtime_takes_an_absolute_realtime_deadline() {
    let c = Ctx::new();
    let deadline = c.host.now_ns(Clock::Realtime) + 50_000_000;
    let t = c.timespec(
        (deadline / 1_000_000_000) as i64,
        (deadline % 1_000_000_000) as i64,
    );
    let start = Instant::now();
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT_BITSET | P | RT, 0, t, 0, ANY),
        Err(Errno::ETIMEDOUT)
    );
    let ms = elapsed_ms(start);
    assert!((45..2000).contains(&ms), "waited {ms} ms");

    // The monotonic "now" read as a realtime deadline lies decades in the past.
    let mono = c.host.now_ns(Clock::Monotonic) + 10_000_000_000;
    let t = c.timespec((mono / 1_000_000_000) as i64, 0);
    let start = Instant::now();
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT_BITSET | RT, 0, t, 0, ANY),
        Err(Errno::ETIMEDOUT)
    );
    assert!(elapsed_ms(start) < 1000);
}

#[test]
fn a_woken_timed_waiter_returns_zero_before_its_deadline() {
    let c = Ctx::new();
    let w = c.spawn(|c| {
        let t = c.timespec(30, 0);
        c.futex(c.a(0), FUTEX_WAIT | P, 0, t, 0, 0)
    });
    c.host.wait_parked(1);
    assert_eq!(c.wake(0, FUTEX_WAKE | P, 1), Ok(1));
    assert_eq!(w.join().expect("waiter"), Ok(0));
}

#[test]
fn a_timed_out_waiter_leaves_the_queue() {
    let c = Ctx::new();
    let t = c.timespec(0, 1_000_000);
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT | P, 0, t, 0, 0),
        Err(Errno::ETIMEDOUT)
    );
    assert_eq!(c.wake(0, FUTEX_WAKE | P, ALL), Ok(0));
}

#[test]
fn clock_realtime_is_enosys_except_on_wait_bitset() {
    let c = Ctx::new();
    let t = c.timespec(0, 1_000);
    // Linux 4.5 accepted FUTEX_WAIT|FUTEX_CLOCK_REALTIME; 5.13 and later refuse it again.
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT | RT, 0, t, 0, 0),
        Err(Errno::ENOSYS)
    );
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAIT | P | RT, 0, 0, 0, 0),
        Err(Errno::ENOSYS)
    );
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAKE | RT, 1, 0, 0, 0),
        Err(Errno::ENOSYS)
    );
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAKE_BITSET | RT, 1, 0, 0, ANY),
        Err(Errno::ENOSYS)
    );
    assert_eq!(
        c.futex(c.a(0), FUTEX_REQUEUE | RT, 1, 0, c.a(1), 0),
        Err(Errno::ENOSYS)
    );
}

#[test]
fn pi_and_unknown_commands_are_enosys() {
    let c = Ctx::new();
    for cmd in [
        FUTEX_FD,
        FUTEX_LOCK_PI,
        FUTEX_UNLOCK_PI,
        FUTEX_TRYLOCK_PI,
        FUTEX_WAIT_REQUEUE_PI,
        13,
        14,
        0x400 | FUTEX_WAKE,
    ] {
        assert_eq!(
            c.futex(c.a(0), cmd | P, 0, 0, c.a(1), 0),
            Err(Errno::ENOSYS),
            "cmd {cmd}"
        );
    }
    assert_eq!(c.mem.get(0), 0, "a PI trylock must not take the lock");
}

#[test]
fn requeue_wakes_some_and_moves_the_rest_to_the_second_word() {
    let c = Ctx::new();
    let w = c.waiters(0, FUTEX_WAIT | P, ANY, 4);
    // nr_wake 1, nr_requeue 2: one woken, two moved, one left.
    assert_eq!(c.futex(c.a(0), FUTEX_REQUEUE | P, 1, 2, c.a(1), 0), Ok(3));
    c.host.wait_parked(3);
    assert_eq!(c.wake(0, FUTEX_WAKE | P, ALL), Ok(1));
    assert_eq!(c.wake(1, FUTEX_WAKE | P, ALL), Ok(2));
    assert!(join_all(w).iter().all(|r| *r == Ok(0)));
}

#[test]
fn requeue_with_nr_wake_zero_wakes_nobody() {
    let c = Ctx::new();
    let w = c.waiters(0, FUTEX_WAIT | P, ANY, 1);
    assert_eq!(c.futex(c.a(0), FUTEX_REQUEUE | P, 0, 0, c.a(1), 0), Ok(0));
    assert_eq!(c.futex(c.a(0), FUTEX_REQUEUE | P, 0, 1, c.a(1), 0), Ok(1));
    assert_eq!(c.wake(0, FUTEX_WAKE | P, ALL), Ok(0));
    assert_eq!(c.wake(1, FUTEX_WAKE | P, ALL), Ok(1));
    join_all(w);
}

#[test]
fn requeued_waiters_keep_their_bitset() {
    let c = Ctx::new();
    let w = c.waiters(0, FUTEX_WAIT_BITSET | P, 0b10, 1);
    assert_eq!(c.futex(c.a(0), FUTEX_REQUEUE | P, 0, 1, c.a(1), 0), Ok(1));
    assert_eq!(c.futex(c.a(1), FUTEX_WAKE_BITSET | P, 1, 0, 0, 0b01), Ok(0));
    assert_eq!(c.futex(c.a(1), FUTEX_WAKE_BITSET | P, 1, 0, 0, 0b10), Ok(1));
    join_all(w);
}

#[test]
fn requeue_onto_the_same_word_keeps_every_waiter() {
    let c = Ctx::new();
    let w = c.waiters(0, FUTEX_WAIT | P, ANY, 3);
    assert_eq!(
        c.futex(c.a(0), FUTEX_REQUEUE | P, 0, ALL as usize, c.a(0), 0),
        Ok(3)
    );
    assert_eq!(c.wake(0, FUTEX_WAKE | P, ALL), Ok(3));
    join_all(w);
}

#[test]
fn cmp_requeue_is_eagain_when_the_word_differs_and_moves_nobody() {
    let c = Ctx::new();
    let w = c.waiters(0, FUTEX_WAIT | P, ANY, 2);
    c.mem.set(0, 1);
    assert_eq!(
        c.futex(c.a(0), FUTEX_CMP_REQUEUE | P, 1, 1, c.a(1), 0),
        Err(Errno::EAGAIN)
    );
    assert_eq!(c.host.parked(), 2);
    assert_eq!(
        c.futex(c.a(0), FUTEX_CMP_REQUEUE | P, 1, 1, c.a(1), 1),
        Ok(2)
    );
    assert_eq!(c.wake(1, FUTEX_WAKE | P, ALL), Ok(1));
    join_all(w);
}

#[test]
fn requeue_argument_errors_match_linux() {
    let c = Ctx::new();
    let (a, b) = (c.a(0), c.a(1));
    assert_eq!(
        c.futex(a, FUTEX_REQUEUE | P, u32::MAX, 1, b, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        c.futex(a, FUTEX_REQUEUE | P, 1, usize::MAX, b, 0),
        Err(Errno::EINVAL)
    );
    // val2 is the timeout register truncated to 32 bits.
    assert_eq!(c.futex(a, FUTEX_REQUEUE | P, 1, 0x1_0000_0001, b, 0), Ok(0));
    assert_eq!(
        c.futex(a, FUTEX_CMP_REQUEUE | P, 1, 1, b + 1, 0),
        Err(Errno::EINVAL)
    );
    let unmapped = c.mem.end();
    assert_eq!(
        c.futex(unmapped, FUTEX_CMP_REQUEUE | P, 1, 1, b, 0),
        Err(Errno::EFAULT)
    );
    assert_eq!(c.futex(a, FUTEX_CMP_REQUEUE | P, 1, 1, unmapped, 0), Ok(0));
    assert_eq!(
        c.futex(a, FUTEX_CMP_REQUEUE, 1, 1, unmapped, 0),
        Err(Errno::EFAULT)
    );
}

#[test]
fn a_requeued_waiter_times_out_from_its_new_queue() {
    let c = Ctx::new();
    let w = c.spawn(|c| {
        let t = c.timespec(0, 200_000_000);
        c.futex(c.a(0), FUTEX_WAIT | P, 0, t, 0, 0)
    });
    c.host.wait_parked(1);
    assert_eq!(c.futex(c.a(0), FUTEX_REQUEUE | P, 0, 1, c.a(1), 0), Ok(1));
    assert_eq!(w.join().expect("waiter"), Err(Errno::ETIMEDOUT));
    assert_eq!(c.wake(1, FUTEX_WAKE | P, ALL), Ok(0));
}

fn encode_op(op: u32, oparg: u32, cmp: u32, cmparg: u32) -> u32 {
    (op << 28) | (cmp << 24) | ((oparg & 0xfff) << 12) | (cmparg & 0xfff)
}

#[test]
fn wake_op_applies_each_operation_to_the_second_word() {
    let c = Ctx::new();
    let shift = FUTEX_OP_OPARG_SHIFT;
    let cases = [
        (FUTEX_OP_SET, 7, 0xffff, 7),
        (FUTEX_OP_ADD, 7, 10, 17),
        (FUTEX_OP_ADD, 0xfff, 10, 9), // oparg -1
        (FUTEX_OP_OR, 0b100, 0b011, 0b111),
        (FUTEX_OP_ANDN, 0b010, 0b111, 0b101),
        (FUTEX_OP_XOR, 0b110, 0b011, 0b101),
        (FUTEX_OP_OR | shift, 4, 1, 0b10001),
        (FUTEX_OP_SET | shift, 31, 0, 0x8000_0000),
    ];
    for (op, oparg, old, new) in cases {
        c.mem.set(1, old);
        let val3 = encode_op(op, oparg, FUTEX_OP_CMP_EQ, 0);
        assert_eq!(
            c.futex(c.a(0), FUTEX_WAKE_OP | P, 1, 1, c.a(1), val3),
            Ok(0)
        );
        assert_eq!(c.mem.get(1), new, "op {op:#x} oparg {oparg} on {old:#x}");
    }
}

#[test]
fn wake_op_wakes_the_second_word_only_when_the_old_value_compares_true() {
    let c = Ctx::new();
    let first = c.waiters(0, FUTEX_WAIT | P, ANY, 2);
    let second = c.waiters(1, FUTEX_WAIT | P, ANY, 2);
    // Old value 0 > 0 is false: only the first word's waiter.
    let gt_zero = encode_op(FUTEX_OP_SET, 5, FUTEX_OP_CMP_GT, 0);
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAKE_OP | P, 1, 1, c.a(1), gt_zero),
        Ok(1)
    );
    // Now the old value is 5 > 0: one more on the first word and both on the second
    // (queued waiters are not re-checked against the new value).
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAKE_OP | P, 1, 2, c.a(1), gt_zero),
        Ok(3)
    );
    assert!(
        join_all(first)
            .iter()
            .chain(&join_all(second))
            .all(|r| *r == Ok(0))
    );
}

#[test]
fn wake_op_compares_as_signed_ints() {
    let c = Ctx::new();
    let w = c.waiters(1, FUTEX_WAIT | P, ANY, 1);
    c.mem.set(1, u32::MAX); // -1
    let lt_zero = encode_op(FUTEX_OP_ADD, 0, linux_raw_sys::general::FUTEX_OP_CMP_LT, 0);
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAKE_OP | P, 1, 1, c.a(1), lt_zero),
        Ok(1)
    );
    join_all(w);
}

#[test]
fn wake_op_errors_match_linux() {
    let c = Ctx::new();
    c.mem.set(1, 10);
    // An unknown operation fails before the word is touched.
    let bad_op = encode_op(5, 1, FUTEX_OP_CMP_EQ, 0);
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAKE_OP | P, 1, 1, c.a(1), bad_op),
        Err(Errno::ENOSYS)
    );
    assert_eq!(c.mem.get(1), 10);
    // An unknown comparison is found only after the update.
    let bad_cmp = encode_op(FUTEX_OP_ADD, 1, 6, 0);
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAKE_OP | P, 1, 1, c.a(1), bad_cmp),
        Err(Errno::ENOSYS)
    );
    assert_eq!(c.mem.get(1), 11);
    let ok = encode_op(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0);
    let unmapped = c.mem.end();
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAKE_OP | P, 1, 1, unmapped, ok),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        c.futex(c.a(0), FUTEX_WAKE_OP | P, 1, 1, c.a(1) + 1, bad_op),
        Err(Errno::EINVAL)
    );
}

/// A host whose every park is cut short by a signal.
struct SignalledHost(Arc<StdHost>);

impl FutexHost for SignalledHost {
    type Waiter = Thread;
    fn current(&self) -> Thread {
        self.0.current()
    }
    fn park(&self, _: &Thread, _: Option<u64>) -> Wakeup {
        Wakeup::Interrupted
    }
    fn unpark(&self, w: &Thread) {
        self.0.unpark(w)
    }
    fn now_ns(&self, clock: Clock) -> u64 {
        self.0.now_ns(clock)
    }
}

#[test]
fn an_interrupted_wait_is_eintr_and_leaves_the_queue() {
    let c = Ctx::new();
    let host = SignalledHost(c.host.clone());
    let r = c
        .table
        .futex(&host, &*c.mem, AS, c.a(0), FUTEX_WAIT | P, 0, 0, 0, 0);
    assert_eq!(r, Err(Errno::EINTR));
    assert_eq!(c.wake(0, FUTEX_WAKE | P, ALL), Ok(0));
}

#[test]
fn the_fake_memory_reads_what_it_wrote() {
    // Guards the test double itself: the tests above rely on it.
    let m = FakeMemory::new(8);
    m.write_u64(m.addr(2), 0x1122_3344_5566_7788)
        .expect("mapped");
    assert_eq!(m.read_u64(m.addr(2)), Ok(0x1122_3344_5566_7788));
    assert_eq!(m.read_u32(m.addr(3)), Ok(0x1122_3344));
    assert_eq!(m.read_u32(m.end()), Err(Errno::EFAULT));
    assert_eq!(m.read_u64(m.end() - 4), Err(Errno::EFAULT));
}
