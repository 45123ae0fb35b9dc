//! The robust-futex list a thread registers with set_robust_list(2), walked when the
//! thread dies, as `Documentation/locking/robust-futex-ABI.rst` specifies.
//!
//! User space keeps a circular list of the robust locks the thread holds, threaded
//! through `struct robust_list` entries that sit at a fixed `futex_offset` from each lock
//! word, plus `list_op_pending`, the lock it is in the middle of taking or releasing. At
//! death the kernel marks every word the thread still owns `FUTEX_OWNER_DIED` and wakes one
//! waiter, so that the next `pthread_mutex_lock` returns `EOWNERDEAD` instead of hanging.
//! The list is user memory: it may be corrupt, circular or unmapped, and the walk must
//! stop quietly rather than fail.

use core::mem::{offset_of, size_of};

use linux_raw_sys::general::{
    FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS, ROBUST_LIST_LIMIT, robust_list,
    robust_list_head,
};
use syscall::UserMemory;

/// The only `len` set_robust_list(2) accepts (`sizeof(struct robust_list_head)`, 24);
/// any other is `EINVAL`.
pub const ROBUST_LIST_HEAD_LEN: usize = size_of::<robust_list_head>();

const NEXT: usize = offset_of!(robust_list, next);
const HEAD_NEXT: usize = offset_of!(robust_list_head, list) + NEXT;
const HEAD_FUTEX_OFFSET: usize = offset_of!(robust_list_head, futex_offset);
const HEAD_OP_PENDING: usize = offset_of!(robust_list_head, list_op_pending);

/// Releases the robust locks of a dying thread `tid` whose registered list head is at
/// `head` (with the `len` it registered).
///
/// For every list entry, and then for `list_op_pending`, the lock word at
/// `entry + futex_offset` is handled as Linux's `handle_futex_death` does: if its owner
/// bits (`FUTEX_TID_MASK`) are `tid`, it atomically becomes
/// `(word & FUTEX_WAITERS) | FUTEX_OWNER_DIED`, and if `FUTEX_WAITERS` was set, `wake` is
/// called with the word's address. A pending non-PI lock whose owner bits are 0 (the
/// thread died between unlocking and waking) is woken without being changed.
///
/// `wake(uaddr)` must do a **shared** futex wake of one waiter,
/// `table.wake(host, FutexKey::shared(as_id, uaddr), 1, FUTEX_BITSET_MATCH_ANY)`: Linux
/// wakes robust waiters with a shared wake, which is why glibc waits on them shared.
///
/// Bit 0 of an entry pointer marks a PI futex: it is masked off, and a PI lock is marked
/// but not woken here (Linux wakes PI waiters through their PI state; Spindle has no PI
/// waiters since `FUTEX_LOCK_PI` is `ENOSYS`).
///
/// The walk stops at the head, after `ROBUST_LIST_LIMIT` (2048) entries, which also ends
/// cycles, or at the first unreadable pointer or misaligned or unwritable lock word.
pub fn walk_robust_list(
    mem: &dyn UserMemory,
    head: usize,
    len: usize,
    tid: u32,
    mut wake: impl FnMut(usize),
) {
    if head == 0 || len != ROBUST_LIST_HEAD_LEN {
        return;
    }
    let Ok(first) = mem.read_u64(head.wrapping_add(HEAD_NEXT)) else {
        return stopped("list head unreadable", head);
    };
    let Ok(futex_offset) = mem.read_u64(head.wrapping_add(HEAD_FUTEX_OFFSET)) else {
        return stopped("futex_offset unreadable", head);
    };
    let Ok(pending) = mem.read_u64(head.wrapping_add(HEAD_OP_PENDING)) else {
        return stopped("list_op_pending unreadable", head);
    };
    // futex_offset is a signed long: the lock word may sit before its list entry.
    let lock_word = |entry: usize| entry.wrapping_add(futex_offset as usize);
    let (pending, pending_pi) = split_pi(pending);

    let (mut entry, mut pi) = split_pi(first);
    let mut limit = ROBUST_LIST_LIMIT;
    while entry != head {
        // Read the link before the lock word is released: once it is, another thread
        // may take the lock and reuse the entry.
        let next = mem.read_u64(entry.wrapping_add(NEXT));
        // The pending lock may already be on the list; handle it once, below.
        if entry != pending
            && handle_futex_death(mem, lock_word(entry), tid, pi, false, &mut wake).is_err()
        {
            return stopped("lock word unusable", entry);
        }
        let Ok(next) = next else {
            return stopped("list entry unreadable", entry);
        };
        (entry, pi) = split_pi(next);
        limit -= 1;
        if limit == 0 {
            break;
        }
    }

    if pending != 0 {
        // Best effort, like the list: a bad pending word only ends the walk.
        let _ = handle_futex_death(mem, lock_word(pending), tid, pending_pi, true, &mut wake);
    }
}

/// Splits an entry pointer into its address and the PI flag in bit 0.
fn split_pi(raw: u64) -> (usize, bool) {
    ((raw & !1) as usize, raw & 1 != 0)
}

fn stopped(what: &str, addr: usize) {
    tracing::debug!("futex: robust list walk stopped: {what} at {addr:#x}");
}

/// Releases one lock word of the dead thread. `Err` means the word is misaligned or not
/// readable and writable, which ends the walk as in Linux.
fn handle_futex_death(
    mem: &dyn UserMemory,
    uaddr: usize,
    tid: u32,
    pi: bool,
    pending_op: bool,
    wake: &mut impl FnMut(usize),
) -> Result<(), ()> {
    if !uaddr.is_multiple_of(4) {
        return Err(());
    }
    let word = mem.read_u32(uaddr).map_err(drop)?;
    let owner = word & FUTEX_TID_MASK;

    // The thread died after releasing a plain lock and before waking its waiter, or a
    // woken waiter died before taking the lock: the word is consistent (owner 0), so only
    // the lost wake is redone, without OWNER_DIED, which would mislead the next owner.
    if pending_op && !pi && owner == 0 {
        wake(uaddr);
        return Ok(());
    }
    if owner != tid {
        return Ok(());
    }

    // Atomic against user space, which may set FUTEX_WAITERS or take the lock meanwhile:
    // the update only happens if the dead thread still owns the word at that instant.
    let mut changed = false;
    let old = mem
        .update_u32(uaddr, &mut |cur| {
            changed = cur & FUTEX_TID_MASK == tid;
            if changed {
                (cur & FUTEX_WAITERS) | FUTEX_OWNER_DIED
            } else {
                cur
            }
        })
        .map_err(drop)?;

    // Woken even if OWNER_DIED was already set: a waiter may itself have died holding it.
    if changed && !pi && old & FUTEX_WAITERS != 0 {
        wake(uaddr);
    }
    Ok(())
}
