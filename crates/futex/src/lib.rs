//! Linux futexes for Spindle: the wait-queue table behind futex(2) and the robust-list
//! walk a dying thread owes its lock waiters.
//!
//! # What this crate owns
//!
//! - [`FutexTable`]: hashed buckets of waiters keyed by [`FutexKey`], and
//!   [`FutexTable::futex`], which decodes and runs one futex(2) call: `FUTEX_WAIT`,
//!   `FUTEX_WAKE`, `FUTEX_WAIT_BITSET`, `FUTEX_WAKE_BITSET`, `FUTEX_REQUEUE`,
//!   `FUTEX_CMP_REQUEUE` and `FUTEX_WAKE_OP`, each with or without `FUTEX_PRIVATE_FLAG`,
//!   with `FUTEX_CLOCK_REALTIME` where Linux accepts it.
//! - [`FutexTable::wake`], the wake the kernel itself issues: the clear-child-tid wake at
//!   thread exit and the robust-list wakes are shared wakes of one waiter.
//! - [`walk_robust_list`], which marks every robust lock a dead thread held
//!   `FUTEX_OWNER_DIED` and reports which words need a wake.
//!
//! # What it does not do
//!
//! It never touches hardware, page tables or the scheduler. User memory is reached through
//! [`syscall::UserMemory`]; sleeping and waking threads and reading clocks through
//! [`FutexHost`], which the kernel implements and the host tests fake with std threads.
//! PI futexes (`FUTEX_LOCK_PI`, `FUTEX_WAIT_REQUEUE_PI`, …) and `futex_waitv` are not
//! implemented: such calls get `ENOSYS`, as from a Linux built without PI support.
//!
//! # The rule that matters
//!
//! > The value check and the enqueue happen under the bucket lock; a waker dequeues under
//! > the same lock before it unparks. So no wake falls between "the value still says
//! > sleep" and "the waiter is queued".
//!
//! Parking happens after the lock is released; [`FutexHost::park`] has permit semantics
//! (an unpark that comes first makes the next park return at once), which closes the
//! window between the unlock and the sleep.
//!
//! # Keys
//!
//! Spindle has only private anonymous memory, so a key is the address-space id the caller
//! gives plus the user address, and a "shared" bit: as in Linux, a `FUTEX_WAKE_PRIVATE`
//! never wakes a `FUTEX_WAIT` (shared) waiter on the same word, and the reverse. glibc's
//! `pthread_join` and musl's thread-list lock rely on the kernel's exit-time wake being
//! shared.
//!
//! # References
//!
//! futex(2) and futex(7); the Linux sources `kernel/futex/` (behaviour only, no code);
//! `Documentation/locking/robust-futexes.rst` and `robust-futex-ABI.rst`. Where the man page
//! and today's kernels differ, the behaviour was measured on a Linux 6.18 host (for example
//! `FUTEX_WAIT | FUTEX_CLOCK_REALTIME` is `ENOSYS` again since Linux 5.13).
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod host;
mod op;
mod robust;
mod table;

pub use host::{Clock, FutexHost, Wakeup};
pub use robust::{ROBUST_LIST_HEAD_LEN, walk_robust_list};
pub use table::{FutexKey, FutexTable};
