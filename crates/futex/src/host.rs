//! What the futex table needs from the kernel: parking and unparking threads, and clocks.

/// The clocks futex deadlines are measured against (clock_gettime(2) names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// `CLOCK_MONOTONIC`: every deadline handed to [`FutexHost::park`] is on this clock.
    Monotonic,
    /// `CLOCK_REALTIME`: only read to convert `FUTEX_CLOCK_REALTIME` deadlines.
    Realtime,
}

/// Why [`FutexHost::park`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wakeup {
    /// A permit was consumed, or the host woke the thread for no reason it can name.
    /// The table re-checks whether a waker really dequeued the waiter, so a spurious
    /// `Woken` is harmless.
    Woken,
    /// The monotonic deadline passed.
    TimedOut,
    /// A signal is pending for the thread: the wait ends with `EINTR` unless a waker
    /// already dequeued it.
    Interrupted,
}

/// The kernel side of futex waits: one implementation per kernel, one fake in the tests.
///
/// # Permit semantics
///
/// Each thread has one permit, like `std::thread::park`. [`unpark`](Self::unpark) sets
/// it; [`park`](Self::park) consumes it and returns at once if it was set, else sleeps
/// until it is set, the deadline passes or a signal arrives. A waker unparks *after*
/// releasing the bucket lock, so the unpark may land before the waiter's park: the permit
/// makes that order safe. A permit may also be left over (the waiter timed out in the
/// meantime); the next park of that thread then returns early, which every caller of
/// `park` must tolerate by re-checking its condition.
pub trait FutexHost {
    /// A handle that names a thread and keeps it unparkable: a waker may still hold and
    /// unpark it after the waiter has returned (an `Arc` of the thread, say).
    type Waiter: Clone;

    /// The calling thread.
    fn current(&self) -> Self::Waiter;

    /// Sleeps the calling thread, which `waiter` names, as described above.
    /// `deadline_ns` is absolute on [`Clock::Monotonic`]; `None` means no deadline.
    /// Called with no futex lock held.
    fn park(&self, waiter: &Self::Waiter, deadline_ns: Option<u64>) -> Wakeup;

    /// Sets `waiter`'s permit and wakes it if it sleeps in [`park`](Self::park).
    /// Called with no futex lock held.
    fn unpark(&self, waiter: &Self::Waiter);

    /// Nanoseconds on `clock` (monotonic: since boot; realtime: since the Unix epoch).
    fn now_ns(&self, clock: Clock) -> u64;
}
