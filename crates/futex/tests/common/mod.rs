//! Test doubles: a [`StdHost`] that parks real std threads, and a [`FakeMemory`] of
//! atomic words that stands in for a user address space.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use futex::{Clock, FutexHost, Wakeup};
use syscall::{Errno, UserMemory};

/// Where the fake address space's mapped words start.
pub const BASE: usize = 0x1000_0000;

/// The realtime clock runs this far ahead of the monotonic one, so that a deadline on the
/// wrong clock is off by decades and a conversion bug cannot hide.
pub const REALTIME_OFFSET_NS: u64 = 1_700_000_000 * 1_000_000_000;

/// Parks std threads; counts the threads inside `park`, which tells a test that they are
/// queued (a waiter only parks after it is enqueued).
pub struct StdHost {
    start: Instant,
    parked: AtomicUsize,
}

impl StdHost {
    pub fn new() -> Arc<StdHost> {
        Arc::new(StdHost {
            start: Instant::now(),
            parked: AtomicUsize::new(0),
        })
    }

    /// Number of threads currently inside `park`.
    pub fn parked(&self) -> usize {
        self.parked.load(Ordering::SeqCst)
    }

    /// Waits (up to 10 s) until exactly `n` threads are parked.
    pub fn wait_parked(&self, n: usize) {
        let until = Instant::now() + Duration::from_secs(10);
        while self.parked() != n {
            assert!(
                Instant::now() < until,
                "expected {n} parked threads, have {}",
                self.parked()
            );
            thread::sleep(Duration::from_millis(1));
        }
    }

    fn mono(&self) -> u64 {
        // Start at 1 s so that a deadline of 0 is plainly in the past.
        1_000_000_000 + self.start.elapsed().as_nanos() as u64
    }
}

impl FutexHost for StdHost {
    type Waiter = Thread;

    fn current(&self) -> Thread {
        thread::current()
    }

    fn park(&self, waiter: &Thread, deadline_ns: Option<u64>) -> Wakeup {
        assert_eq!(
            waiter.id(),
            thread::current().id(),
            "park on behalf of another thread"
        );
        self.parked.fetch_add(1, Ordering::SeqCst);
        let result = match deadline_ns {
            None => {
                thread::park();
                Wakeup::Woken
            }
            Some(deadline) => {
                let now = self.mono();
                if now >= deadline {
                    Wakeup::TimedOut
                } else {
                    thread::park_timeout(Duration::from_nanos(deadline - now));
                    if self.mono() >= deadline {
                        Wakeup::TimedOut
                    } else {
                        Wakeup::Woken
                    }
                }
            }
        };
        self.parked.fetch_sub(1, Ordering::SeqCst);
        result
    }

    fn unpark(&self, waiter: &Thread) {
        waiter.unpark();
    }

    fn now_ns(&self, clock: Clock) -> u64 {
        match clock {
            Clock::Monotonic => self.mono(),
            Clock::Realtime => self.mono() + REALTIME_OFFSET_NS,
        }
    }
}

/// A user address space of `n` mapped 32-bit words at [`BASE`]; every other address is
/// unmapped (EFAULT).
pub struct FakeMemory {
    words: Vec<AtomicU32>,
}

impl FakeMemory {
    pub fn new(n: usize) -> Arc<FakeMemory> {
        Arc::new(FakeMemory {
            words: (0..n).map(|_| AtomicU32::new(0)).collect(),
        })
    }

    /// The user address of word `i`.
    pub fn addr(&self, i: usize) -> usize {
        BASE + 4 * i
    }

    /// One past the last mapped address.
    pub fn end(&self) -> usize {
        BASE + 4 * self.words.len()
    }

    pub fn get(&self, i: usize) -> u32 {
        self.words[i].load(Ordering::SeqCst)
    }

    pub fn set(&self, i: usize, v: u32) {
        self.words[i].store(v, Ordering::SeqCst)
    }

    /// Writes a user pointer (a u64) at word `i`.
    pub fn set_u64(&self, i: usize, v: u64) {
        self.write_u64(self.addr(i), v).expect("mapped");
    }

    fn word(&self, addr: usize) -> Result<&AtomicU32, Errno> {
        if addr < BASE || addr >= self.end() {
            return Err(Errno::EFAULT);
        }
        Ok(&self.words[(addr - BASE) / 4])
    }

    fn check(&self, addr: usize, len: usize) -> Result<(), Errno> {
        let end = addr.checked_add(len).ok_or(Errno::EFAULT)?;
        if addr < BASE || end > self.end() {
            return Err(Errno::EFAULT);
        }
        Ok(())
    }
}

impl UserMemory for FakeMemory {
    fn read_bytes(&self, addr: usize, dst: &mut [u8]) -> Result<(), Errno> {
        self.check(addr, dst.len())?;
        for (i, b) in dst.iter_mut().enumerate() {
            let a = addr + i;
            *b = self.word(a)?.load(Ordering::SeqCst).to_ne_bytes()[(a - BASE) % 4];
        }
        Ok(())
    }

    fn write_bytes(&self, addr: usize, src: &[u8]) -> Result<(), Errno> {
        self.check(addr, src.len())?;
        for (i, b) in src.iter().enumerate() {
            let a = addr + i;
            let shift = 8 * ((a - BASE) % 4);
            let _ = self
                .word(a)?
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| {
                    let mut bytes = w.to_ne_bytes();
                    bytes[shift / 8] = *b;
                    Some(u32::from_ne_bytes(bytes))
                });
        }
        Ok(())
    }

    fn read_u32(&self, addr: usize) -> Result<u32, Errno> {
        if !addr.is_multiple_of(4) {
            let mut b = [0; 4];
            self.read_bytes(addr, &mut b)?;
            return Ok(u32::from_ne_bytes(b));
        }
        Ok(self.word(addr)?.load(Ordering::SeqCst))
    }

    fn update_u32(&self, addr: usize, op: &mut dyn FnMut(u32) -> u32) -> Result<u32, Errno> {
        if !addr.is_multiple_of(4) {
            return Err(Errno::EFAULT);
        }
        let word = self.word(addr)?;
        Ok(word
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(op(v)))
            .unwrap_or_else(|v| v))
    }
}

/// Runs `f` on its own thread and fails the test if it does not finish in `secs`: a lost
/// wake-up shows up as a hang, and this turns the hang into a failure.
pub fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung for {secs} s: a wake-up was lost"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the workload panicked"),
    }
}
