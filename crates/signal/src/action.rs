//! Dispositions: `struct kernel_sigaction` and the default actions of signal(7).

use crate::{
    SIGABRT, SIGBUS, SIGCHLD, SIGCONT, SIGFPE, SIGILL, SIGKILL, SIGQUIT, SIGSEGV, SIGSTOP, SIGSYS,
    SIGTRAP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGWINCH, SIGXCPU, SIGXFSZ,
};

pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;

/// `struct sigaction` as `rt_sigaction(2)` passes it on x86_64 (handler, flags,
/// restorer, mask: 32 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

const _: () = assert!(core::mem::size_of::<SigAction>() == 32);

/// What the default disposition of a signal does (signal(7), "Standard signals").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    /// Terminate and dump core (Spindle dumps nothing; the status is the same).
    CoreDump,
    Ignore,
    Stop,
    Continue,
}

/// The default action of `sig`. Real-time signals (32..=64) terminate.
pub fn default_action(sig: usize) -> DefaultAction {
    match sig {
        SIGCHLD | SIGURG | SIGWINCH => DefaultAction::Ignore,
        SIGCONT => DefaultAction::Continue,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU | SIGXFSZ
        | SIGSYS => DefaultAction::CoreDump,
        _ => DefaultAction::Terminate,
    }
}

/// What delivering a signal does, given its action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    Ignore,
    Default(DefaultAction),
    Handler(SigAction),
}

/// The disposition of `sig` under `action` (SIGKILL and SIGSTOP always take the default).
pub fn disposition(action: &SigAction, sig: usize) -> Disposition {
    if sig == SIGKILL || sig == SIGSTOP {
        return Disposition::Default(default_action(sig));
    }
    match action.handler {
        // Linux's sig_kernel_ignore(): SIGCONT's default does nothing to a running
        // process, so it counts as ignored like SIGCHLD, SIGURG and SIGWINCH.
        SIG_DFL => match default_action(sig) {
            DefaultAction::Ignore | DefaultAction::Continue => Disposition::Ignore,
            d => Disposition::Default(d),
        },
        SIG_IGN => Disposition::Ignore,
        _ => Disposition::Handler(*action),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fatal_faults_dump_core_and_sigchld_is_ignored() {
        assert_eq!(default_action(SIGSEGV), DefaultAction::CoreDump);
        assert_eq!(default_action(SIGCHLD), DefaultAction::Ignore);
        assert_eq!(default_action(crate::SIGTERM), DefaultAction::Terminate);
        assert_eq!(default_action(40), DefaultAction::Terminate);
    }

    #[test]
    fn sigkill_ignores_a_handler() {
        let a = SigAction {
            handler: 0x1234,
            ..Default::default()
        };
        assert_eq!(
            disposition(&a, SIGKILL),
            Disposition::Default(DefaultAction::Terminate)
        );
        assert_eq!(disposition(&a, SIGSEGV), Disposition::Handler(a));
    }

    #[test]
    fn default_ignore_is_ignore() {
        assert_eq!(
            disposition(&SigAction::default(), SIGWINCH),
            Disposition::Ignore
        );
        let ign = SigAction {
            handler: SIG_IGN,
            ..Default::default()
        };
        assert_eq!(disposition(&ign, SIGSEGV), Disposition::Ignore);
    }
}
