//! Signal sets (`sigset_t` as the kernel has it: 64 bits, bit `n - 1` for signal `n`).

use crate::{SIGBUS, SIGFPE, SIGILL, SIGKILL, SIGSEGV, SIGSTOP, SIGSYS, SIGTRAP};

pub type SigSet = u64;

/// The bit of signal `sig` (1..=64).
pub const fn sigbit(sig: usize) -> SigSet {
    1 << (sig - 1)
}

/// SIGKILL and SIGSTOP can be neither blocked, caught nor ignored.
pub const UNBLOCKABLE: SigSet = sigbit(SIGKILL) | sigbit(SIGSTOP);

/// Signals a fault raises; Linux delivers them before any other pending signal, so the
/// handler sees the fault's context (`SYNCHRONOUS_MASK` in kernel/signal.c).
pub const SYNCHRONOUS: SigSet = sigbit(SIGSEGV)
    | sigbit(SIGBUS)
    | sigbit(SIGILL)
    | sigbit(SIGTRAP)
    | sigbit(SIGFPE)
    | sigbit(SIGSYS);

/// The signal to deliver next from `pending`, skipping `blocked` ones: a synchronous
/// one first, then the lowest numbered.
pub fn next_pending(pending: SigSet, blocked: SigSet) -> Option<usize> {
    let ready = pending & !(blocked & !UNBLOCKABLE);
    if ready == 0 {
        return None;
    }
    let sync = ready & SYNCHRONOUS;
    let pick = if sync != 0 { sync } else { ready };
    Some(pick.trailing_zeros() as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SIGINT, SIGUSR1};

    #[test]
    fn lowest_unblocked_signal_goes_first() {
        let pending = sigbit(SIGUSR1) | sigbit(SIGINT);
        assert_eq!(next_pending(pending, 0), Some(SIGINT));
        assert_eq!(next_pending(pending, sigbit(SIGINT)), Some(SIGUSR1));
        assert_eq!(next_pending(pending, pending), None);
    }

    #[test]
    fn synchronous_signals_go_before_lower_numbers() {
        let pending = sigbit(SIGINT) | sigbit(SIGSEGV);
        assert_eq!(next_pending(pending, 0), Some(SIGSEGV));
    }

    #[test]
    fn sigkill_cannot_be_blocked() {
        assert_eq!(next_pending(sigbit(SIGKILL), u64::MAX), Some(SIGKILL));
    }

    #[test]
    fn realtime_signals_are_bits_32_to_63() {
        assert_eq!(sigbit(64), 1 << 63);
        assert_eq!(next_pending(sigbit(64), 0), Some(64));
    }
}
