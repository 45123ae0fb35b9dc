//! The alternate signal stack of a thread: sigaltstack(2).

use linux_raw_sys::general::{MINSIGSTKSZ, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK};
use syscall::Errno;

/// `stack_t`: where handlers with `SA_ONSTACK` run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AltStack {
    pub sp: u64,
    /// `SS_DISABLE`, or 0 (plus `SS_AUTODISARM` as given).
    pub flags: u32,
    pub size: u64,
}

impl Default for AltStack {
    fn default() -> Self {
        AltStack::disabled()
    }
}

impl AltStack {
    /// No alternate stack (the state of a new thread).
    pub const fn disabled() -> AltStack {
        AltStack {
            sp: 0,
            flags: SS_DISABLE,
            size: 0,
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.flags & SS_DISABLE == 0 && self.size != 0
    }

    /// Whether `rsp` lies on this stack.
    pub fn contains(&self, rsp: u64) -> bool {
        self.is_enabled() && rsp > self.sp && rsp - self.sp <= self.size
    }

    /// What `sigaltstack(2)` reports as the old stack, seen from a thread at `rsp`.
    pub fn report(&self, rsp: u64) -> AltStack {
        if self.contains(rsp) {
            AltStack {
                flags: self.flags | SS_ONSTACK,
                ..*self
            }
        } else if self.is_enabled() {
            *self
        } else {
            AltStack {
                sp: 0,
                flags: SS_DISABLE,
                size: 0,
            }
        }
    }

    /// Installs `new` as sigaltstack(2) does, for a thread at `rsp`: EPERM while running
    /// on the current stack, EINVAL for unknown flags, ENOMEM below MINSIGSTKSZ.
    pub fn set(&mut self, new: AltStack, rsp: u64) -> Result<(), Errno> {
        if self.contains(rsp) {
            return Err(Errno::EPERM);
        }
        let mode = new.flags & !SS_AUTODISARM;
        if mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK {
            return Err(Errno::EINVAL);
        }
        if mode == SS_DISABLE {
            *self = AltStack::disabled();
            return Ok(());
        }
        if new.size < MINSIGSTKSZ as u64 {
            return Err(Errno::ENOMEM);
        }
        *self = AltStack {
            sp: new.sp,
            flags: new.flags & SS_AUTODISARM,
            size: new.size,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_small_a_stack_is_enomem() {
        let mut a = AltStack::disabled();
        let new = AltStack {
            sp: 0x1000,
            flags: 0,
            size: 100,
        };
        assert_eq!(a.set(new, 0x7000_0000), Err(Errno::ENOMEM));
    }

    #[test]
    fn changing_the_stack_while_on_it_is_eperm() {
        let mut a = AltStack::disabled();
        a.set(
            AltStack {
                sp: 0x10000,
                flags: 0,
                size: 0x4000,
            },
            0x7000_0000,
        )
        .unwrap();
        assert!(a.contains(0x12000));
        assert_eq!(a.report(0x12000).flags, SS_ONSTACK);
        assert_eq!(a.set(AltStack::disabled(), 0x12000), Err(Errno::EPERM));
        assert_eq!(a.set(AltStack::disabled(), 0x7000_0000), Ok(()));
        assert_eq!(a.report(0).flags, SS_DISABLE);
    }

    #[test]
    fn unknown_flags_are_einval() {
        let mut a = AltStack::disabled();
        let new = AltStack {
            sp: 0x10000,
            flags: 0x40,
            size: 0x4000,
        };
        assert_eq!(a.set(new, 0), Err(Errno::EINVAL));
    }
}
