//! futex(2) itself: decoding `op` into a command and flags, reading the timeout, the
//! `FUTEX_WAKE_OP` encoding, and the order in which Linux reports errors.

use core::mem::offset_of;
use core::sync::atomic::{AtomicBool, Ordering};

use linux_raw_sys::general::{
    __kernel_timespec, FUTEX_BITSET_MATCH_ANY, FUTEX_CLOCK_REALTIME, FUTEX_CMP_REQUEUE,
    FUTEX_LOCK_PI, FUTEX_LOCK_PI2, FUTEX_OP_ADD, FUTEX_OP_ANDN, FUTEX_OP_CMP_EQ, FUTEX_OP_CMP_GE,
    FUTEX_OP_CMP_GT, FUTEX_OP_CMP_LE, FUTEX_OP_CMP_LT, FUTEX_OP_CMP_NE, FUTEX_OP_OPARG_SHIFT,
    FUTEX_OP_OR, FUTEX_OP_SET, FUTEX_OP_XOR, FUTEX_PRIVATE_FLAG, FUTEX_REQUEUE, FUTEX_WAIT,
    FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI, FUTEX_WAKE, FUTEX_WAKE_BITSET, FUTEX_WAKE_OP,
};
use syscall::{Errno, SysResult, UserMemory};

use crate::host::{Clock, FutexHost};
use crate::table::{FutexKey, FutexTable};

/// The end of the user half on x86_64 with 4-level paging: Linux's `TASK_SIZE_MAX`,
/// 2^47 minus one guard page. A futex word at or beyond it fails `access_ok` (EFAULT) even
/// for private futexes, whose keys are otherwise made without touching memory.
const TASK_SIZE_MAX: usize = (1 << 47) - 4096;

const NSEC_PER_SEC: u64 = 1_000_000_000;

/// Set once the first PI or unknown command has been logged.
static WARNED_UNSUPPORTED: AtomicBool = AtomicBool::new(false);

impl<W: Clone> FutexTable<W> {
    /// Runs one futex(2) call for the calling thread, whose address space the kernel
    /// numbers `as_id`.
    ///
    /// The arguments are the syscall's registers: `uaddr` (rdi), `op` (rsi), `val` (rdx),
    /// `timeout_or_val2` (r10: a `struct timespec *` for the waits, the count `val2` for
    /// REQUEUE, CMP_REQUEUE and WAKE_OP), `uaddr2` (r8) and `val3` (r9); `op`, `val` and
    /// `val3` are the low 32 bits of their registers, as Linux takes them.
    ///
    /// Returns what the syscall returns: 0 after a wait, the number of woken (and
    /// requeued) waiters for the others, or the errno Linux gives for the same call.
    #[allow(clippy::too_many_arguments)]
    pub fn futex<H: FutexHost<Waiter = W>>(
        &self,
        host: &H,
        mem: &dyn UserMemory,
        as_id: u64,
        uaddr: usize,
        op: u32,
        val: u32,
        timeout_or_val2: usize,
        uaddr2: usize,
        val3: u32,
    ) -> SysResult {
        let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
        let shared = op & FUTEX_PRIVATE_FLAG == 0;
        let realtime = op & FUTEX_CLOCK_REALTIME != 0;

        // Linux reads and validates the timeout before it looks at anything else, so a
        // bad timespec beats a misaligned address or a wrong value.
        let deadline = if has_timeout(cmd) && timeout_or_val2 != 0 {
            let (sec, nsec) = read_timespec(mem, timeout_or_val2)?;
            deadline_ns(host, cmd, realtime, sec, nsec)?
        } else {
            None
        };

        // FUTEX_CLOCK_REALTIME names the clock of an absolute deadline. Linux 4.5 also
        // allowed it on FUTEX_WAIT; Linux 5.13 took that back (ENOSYS, as measured).
        if realtime
            && !matches!(
                cmd,
                FUTEX_WAIT_BITSET | FUTEX_WAIT_REQUEUE_PI | FUTEX_LOCK_PI2
            )
        {
            return Err(Errno::ENOSYS);
        }

        // Linux declares the counts as C ints, and val2 is the timeout pointer truncated.
        let count = val as i32;
        let count2 = timeout_or_val2 as u32 as i32;
        let key = |addr| futex_key(mem, shared, as_id, addr);
        match cmd {
            FUTEX_WAIT | FUTEX_WAIT_BITSET => {
                let bitset = if cmd == FUTEX_WAIT {
                    FUTEX_BITSET_MATCH_ANY
                } else {
                    val3
                };
                if bitset == 0 {
                    return Err(Errno::EINVAL);
                }
                self.wait(host, mem, key(uaddr)?, val, deadline, bitset)
            }
            FUTEX_WAKE | FUTEX_WAKE_BITSET => {
                let bitset = if cmd == FUTEX_WAKE {
                    FUTEX_BITSET_MATCH_ANY
                } else {
                    val3
                };
                if bitset == 0 {
                    return Err(Errno::EINVAL);
                }
                Ok(self.wake(host, key(uaddr)?, wake_count(count), bitset))
            }
            FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
                if count < 0 || count2 < 0 {
                    return Err(Errno::EINVAL);
                }
                let (from, to) = (key(uaddr)?, key(uaddr2)?);
                let expected = (cmd == FUTEX_CMP_REQUEUE).then_some(val3);
                self.requeue(
                    host,
                    mem,
                    from,
                    to,
                    count as usize,
                    count2 as usize,
                    expected,
                )
            }
            FUTEX_WAKE_OP => {
                let (first, second) = (key(uaddr)?, key(uaddr2)?);
                let op = WakeOp::decode(val3)?;
                let (n1, n2) = (wake_count(count), wake_count(count2));
                self.wake_op(host, mem, first, second, n1, n2, op)
            }
            _ => {
                // Unsupported: PI futexes (FUTEX_LOCK_PI, FUTEX_WAIT_REQUEUE_PI, ...);
                // a program sees ENOSYS, as from a kernel built without them. FUTEX_FD
                // and unknown commands are ENOSYS on Linux too.
                if !WARNED_UNSUPPORTED.swap(true, Ordering::Relaxed) {
                    tracing::warn!("futex: unsupported command {cmd} (op {op:#x}): ENOSYS");
                }
                Err(Errno::ENOSYS)
            }
        }
    }
}

/// The commands whose fourth argument is a timeout pointer, in Linux's list.
fn has_timeout(cmd: u32) -> bool {
    matches!(
        cmd,
        FUTEX_WAIT | FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_WAIT_BITSET | FUTEX_WAIT_REQUEUE_PI
    )
}

/// The key of the word at `uaddr`, with Linux's checks: a misaligned word is EINVAL, a
/// kernel address EFAULT, and a shared key faults the page in (EFAULT if unmapped), while
/// a private key is made without touching memory.
fn futex_key(
    mem: &dyn UserMemory,
    shared: bool,
    as_id: u64,
    uaddr: usize,
) -> Result<FutexKey, Errno> {
    if !uaddr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    if uaddr > TASK_SIZE_MAX - 4 {
        return Err(Errno::EFAULT);
    }
    if shared {
        mem.read_u32(uaddr)?;
        return Ok(FutexKey::shared(as_id, uaddr));
    }
    Ok(FutexKey::private(as_id, uaddr))
}

/// The waker's count: Linux wakes one waiter before it compares with the count, so 0 and
/// negative counts still wake one.
fn wake_count(count: i32) -> usize {
    count.max(1) as usize
}

fn read_timespec(mem: &dyn UserMemory, addr: usize) -> Result<(i64, i64), Errno> {
    let sec = mem.read_u64(addr.wrapping_add(offset_of!(__kernel_timespec, tv_sec)))?;
    let nsec = mem.read_u64(addr.wrapping_add(offset_of!(__kernel_timespec, tv_nsec)))?;
    Ok((sec as i64, nsec as i64))
}

/// The monotonic deadline of a timed wait, or `None` if it lies beyond what `u64`
/// nanoseconds can say (Linux saturates at `KTIME_MAX` and never fires: the same).
///
/// `FUTEX_WAIT` takes a relative timeout, measured on the monotonic clock; the other
/// waits take an absolute deadline on CLOCK_MONOTONIC, or CLOCK_REALTIME when the flag is
/// set. A realtime deadline is converted once, at the call; Linux would also follow a
/// later `clock_settime`, which Spindle does not offer.
fn deadline_ns<H: FutexHost>(
    host: &H,
    cmd: u32,
    realtime: bool,
    sec: i64,
    nsec: i64,
) -> Result<Option<u64>, Errno> {
    // timespec64_valid(): no negative seconds, nanoseconds within [0, 1e9).
    if sec < 0 || !(0..NSEC_PER_SEC as i64).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    let Some(ns) = (sec as u64)
        .checked_mul(NSEC_PER_SEC)
        .and_then(|s| s.checked_add(nsec as u64))
    else {
        return Ok(None);
    };
    let mono_now = host.now_ns(Clock::Monotonic);
    let deadline = if cmd == FUTEX_WAIT {
        mono_now.checked_add(ns)
    } else if realtime {
        let real_now = host.now_ns(Clock::Realtime);
        mono_now.checked_add(ns.saturating_sub(real_now))
    } else {
        Some(ns)
    };
    Ok(deadline)
}

/// A decoded `FUTEX_WAKE_OP` operation (futex(2): `val3` packs op, cmp, oparg, cmparg).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WakeOp {
    op: u32,
    oparg: u32,
    cmp: u32,
    cmparg: i32,
}

impl WakeOp {
    /// Decodes `val3`; an unknown operation is ENOSYS before anything is written, while
    /// an unknown comparison is only found after the update (see [`WakeOp::compare`]).
    pub(crate) fn decode(encoded: u32) -> Result<WakeOp, Errno> {
        let op = (encoded >> 28) & 0x7;
        let cmp = (encoded >> 24) & 0xf;
        let mut oparg = sign_extend_12(encoded >> 12);
        let cmparg = sign_extend_12(encoded);
        if encoded & (FUTEX_OP_OPARG_SHIFT << 28) != 0 {
            // Linux masks an out-of-range shift to 0..=31 (with a log line) rather than
            // failing, "until userspace is sane again".
            oparg = 1u32.wrapping_shl(oparg as u32 & 31) as i32;
        }
        if op > FUTEX_OP_XOR {
            return Err(Errno::ENOSYS);
        }
        Ok(WakeOp {
            op,
            oparg: oparg as u32,
            cmp,
            cmparg,
        })
    }

    /// The new value of the word: `*uaddr2 = *uaddr2 OP oparg`.
    pub(crate) fn apply(&self, old: u32) -> u32 {
        match self.op {
            FUTEX_OP_SET => self.oparg,
            FUTEX_OP_ADD => old.wrapping_add(self.oparg),
            FUTEX_OP_OR => old | self.oparg,
            FUTEX_OP_ANDN => old & !self.oparg,
            FUTEX_OP_XOR => old ^ self.oparg,
            _ => old,
        }
    }

    /// Whether waiters on `uaddr2` are woken too: `oldval CMP cmparg`, compared as signed
    /// ints as Linux does.
    pub(crate) fn compare(&self, old: u32) -> Result<bool, Errno> {
        let old = old as i32;
        let arg = self.cmparg;
        match self.cmp {
            FUTEX_OP_CMP_EQ => Ok(old == arg),
            FUTEX_OP_CMP_NE => Ok(old != arg),
            FUTEX_OP_CMP_LT => Ok(old < arg),
            FUTEX_OP_CMP_LE => Ok(old <= arg),
            FUTEX_OP_CMP_GT => Ok(old > arg),
            FUTEX_OP_CMP_GE => Ok(old >= arg),
            _ => Err(Errno::ENOSYS),
        }
    }
}

/// The low 12 bits of `bits` as a signed number.
fn sign_extend_12(bits: u32) -> i32 {
    ((bits << 20) as i32) >> 20
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_op_fields_are_sign_extended_12_bit_numbers() {
        // op ADD, cmp LT, oparg -1 (0xfff), cmparg -2 (0xffe).
        let op = WakeOp::decode((FUTEX_OP_ADD << 28) | (FUTEX_OP_CMP_LT << 24) | 0xfff_ffe)
            .expect("valid op");
        assert_eq!(op.apply(5), 4);
        assert_eq!(op.compare(-3i32 as u32), Ok(true));
        assert_eq!(op.compare(-2i32 as u32), Ok(false));
    }

    #[test]
    fn wake_op_has_the_six_linux_comparisons() {
        let cmp = |c: u32, old: i32, arg: u32| {
            WakeOp::decode((c << 24) | (arg & 0xfff))
                .expect("valid")
                .compare(old as u32)
        };
        let cases = [
            (FUTEX_OP_CMP_EQ, [false, true, false]),
            (FUTEX_OP_CMP_NE, [true, false, true]),
            (FUTEX_OP_CMP_LT, [true, false, false]),
            (FUTEX_OP_CMP_LE, [true, true, false]),
            (FUTEX_OP_CMP_GT, [false, false, true]),
            (FUTEX_OP_CMP_GE, [false, true, true]),
        ];
        for (c, expected) in cases {
            // old value below, equal to and above cmparg 3
            for (old, want) in [2, 3, 4].into_iter().zip(expected) {
                assert_eq!(cmp(c, old, 3), Ok(want), "cmp {c} old {old}");
            }
        }
        assert_eq!(cmp(6, 0, 0), Err(Errno::ENOSYS));
        assert_eq!(cmp(15, 0, 0), Err(Errno::ENOSYS));
    }

    #[test]
    fn wake_op_shift_flag_turns_oparg_into_a_bit_and_masks_big_shifts() {
        let shift = FUTEX_OP_OPARG_SHIFT << 28;
        let op = WakeOp::decode(shift | (FUTEX_OP_OR << 28) | (31 << 12)).expect("valid");
        assert_eq!(op.apply(0), 0x8000_0000);
        let op = WakeOp::decode(shift | (FUTEX_OP_SET << 28) | (33 << 12)).expect("valid");
        assert_eq!(op.apply(0), 2);
    }

    #[test]
    fn deadline_rejects_invalid_timespecs() {
        struct Clocks;
        impl FutexHost for Clocks {
            type Waiter = ();
            fn current(&self) {}
            fn park(&self, _: &(), _: Option<u64>) -> crate::Wakeup {
                crate::Wakeup::Woken
            }
            fn unpark(&self, _: &()) {}
            fn now_ns(&self, clock: Clock) -> u64 {
                match clock {
                    Clock::Monotonic => 1_000,
                    Clock::Realtime => 5_000_000_000,
                }
            }
        }
        let d = |cmd, rt, s, ns| deadline_ns(&Clocks, cmd, rt, s, ns);
        assert_eq!(d(FUTEX_WAIT, false, -1, 0), Err(Errno::EINVAL));
        assert_eq!(d(FUTEX_WAIT, false, 0, -1), Err(Errno::EINVAL));
        assert_eq!(d(FUTEX_WAIT, false, 0, 1_000_000_000), Err(Errno::EINVAL));
        assert_eq!(d(FUTEX_WAIT, false, 1, 5), Ok(Some(1_000_001_005)));
        assert_eq!(d(FUTEX_WAIT_BITSET, false, 2, 0), Ok(Some(2_000_000_000)));
        // Realtime 6 s is 1 s after realtime "now": monotonic now + 1 s.
        assert_eq!(d(FUTEX_WAIT_BITSET, true, 6, 0), Ok(Some(1_000_001_000)));
        // A realtime deadline in the past is "now".
        assert_eq!(d(FUTEX_WAIT_BITSET, true, 1, 0), Ok(Some(1_000)));
        assert_eq!(d(FUTEX_WAIT_BITSET, false, i64::MAX, 0), Ok(None));
        // Relative timeouts that overflow when added to "now" never fire.
        assert_eq!(
            d(
                FUTEX_WAIT,
                false,
                (u64::MAX / NSEC_PER_SEC) as i64,
                709_551_000
            ),
            Ok(None)
        );
    }
}
