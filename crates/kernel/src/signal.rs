//! Signal generation and delivery: the glue between the `signal` crate's rules and
//! Spindle's threads, user memory and register state.
//!
//! - A signal is *sent* to a thread (tgkill, a fault) or to the process (kill): a bit in
//!   the pending set, then the target is made to notice — woken if it sleeps (its
//!   syscall ends with EINTR), interrupted by an IPI if it runs on another CPU.
//! - It is *delivered* on the way back to ring 3 (end of a syscall, end of a trap):
//!   ignored, the default action (for the fatal ones: the program ends with status
//!   128 + signal), or a handler frame built on the user stack.
//! - A fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) is delivered at once; when the
//!   signal is blocked or ignored, the default action applies, as Linux forces it.

use crate::process::{self, CurrentUser};
use crate::thread::{self, Thread};
use core::sync::atomic::Ordering;
use signal::frame::{self, FaultInfo};
use signal::{Disposition, SigInfo, sigbit};
use syscall::{Errno, Frame, UserMemory};

/// Signals `t` could take now: its own and the process's, minus its blocked ones and
/// those whose action is to ignore them (those interrupt nothing).
pub fn deliverable(t: &Thread) -> u64 {
    let pending =
        t.sig_pending.load(Ordering::Acquire) | process::get().sig_pending.load(Ordering::Acquire);
    let ready = pending & !(t.sigmask.load(Ordering::Relaxed) & !signal::UNBLOCKABLE);
    if ready == 0 {
        return 0;
    }
    let actions = process::get().actions.lock();
    (1..=signal::NSIG)
        .filter(|&sig| ready & sigbit(sig) != 0)
        .filter(|&sig| signal::disposition(&actions[sig - 1], sig) != Disposition::Ignore)
        .fold(0, |set, sig| set | sigbit(sig))
}

/// Sends `sig` to thread `t` (tgkill, tkill). Ignored signals are dropped at once, as
/// Linux does for a signal whose action is SIG_IGN.
pub fn send_to_thread(t: &Thread, sig: usize, info: SigInfo) {
    // Linux discards an ignored signal when it is sent, unless the target blocks it
    // (then it stays pending, for a handler installed before it is unblocked).
    if ignored(sig) && t.sigmask.load(Ordering::Relaxed) & sigbit(sig) == 0 {
        return;
    }
    {
        let mut infos = t.sig_info.lock();
        if t.sig_pending.fetch_or(sigbit(sig), Ordering::AcqRel) & sigbit(sig) == 0 {
            infos.retain(|i| i.signo() != sig);
            infos.push(info);
        }
    }
    thread::notify(t);
}

/// Sends `sig` to the process (kill): any thread that does not block it takes it.
pub fn send_to_process(sig: usize) {
    if ignored(sig) && !thread::any_blocks(sigbit(sig)) {
        return;
    }
    process::get()
        .sig_pending
        .fetch_or(sigbit(sig), Ordering::AcqRel);
    thread::notify_all();
}

fn ignored(sig: usize) -> bool {
    let action = process::get().actions.lock()[sig - 1];
    signal::disposition(&action, sig) == Disposition::Ignore
}

/// Ends the program as `sig`'s default action does, with a one-line report (the
/// faulting address and rip for a fault).
pub fn die(sig: usize, detail: Option<(u64, u64)>) -> ! {
    match detail {
        Some((addr, rip)) => crate::kprintln!(
            "program killed by {} at address {:#x}, rip {:#x} (thread {})",
            signal::name(sig),
            addr,
            rip,
            thread::current_tid()
        ),
        None => crate::kprintln!("program killed by {} (signal {sig})", signal::name(sig)),
    }
    process::exit_program(128 + sig as i32)
}

/// Takes the next deliverable signal off the pending sets, with its siginfo.
fn dequeue(t: &Thread) -> Option<(usize, SigInfo)> {
    loop {
        let blocked = t.sigmask.load(Ordering::Relaxed);
        let own = t.sig_pending.load(Ordering::Acquire);
        let p = process::get();
        let shared = p.sig_pending.load(Ordering::Acquire);
        let sig = signal::next_pending(own | shared, blocked)?;
        let bit = sigbit(sig);
        if own & bit != 0 {
            let mut infos = t.sig_info.lock();
            t.sig_pending.fetch_and(!bit, Ordering::AcqRel);
            let pos = infos.iter().position(|i| i.signo() == sig);
            let info = pos.map(|i| infos.remove(i));
            return Some((
                sig,
                info.unwrap_or_else(|| SigInfo::sent(sig, signal::info::code::SI_TKILL, 1, 0)),
            ));
        }
        // A process-directed signal: only one thread may take it.
        if p.sig_pending.fetch_and(!bit, Ordering::AcqRel) & bit != 0 {
            return Some((sig, SigInfo::sent(sig, signal::info::code::SI_USER, 1, 0)));
        }
    }
}

/// Delivers pending signals before the current thread returns to ring 3 with `frame`.
pub fn deliver_pending(frame: &mut Frame) {
    deliver(frame);
    // A return address outside the user half (from a forged sigreturn frame or a bogus
    // handler address) would fault in `iretq`, in ring 0: Linux turns that fault into
    // SIGSEGV for the program, and so does Spindle, before trying.
    if frame.rip >= crate::memory::USER_TOP {
        die(signal::SIGSEGV, Some((frame.rip, frame.rip)));
    }
}

fn deliver(frame: &mut Frame) {
    let Some(p) = process::try_get() else { return };
    let me = thread::current();
    while deliverable(&me) != 0 {
        let Some((sig, info)) = dequeue(&me) else {
            break;
        };
        let action = p.actions.lock()[sig - 1];
        match signal::disposition(&action, sig) {
            Disposition::Ignore => {}
            Disposition::Default(
                signal::DefaultAction::Terminate | signal::DefaultAction::CoreDump,
            ) => die(sig, None),
            // No job control: stop and continue do nothing.
            Disposition::Default(_) => {}
            Disposition::Handler(a) => {
                // The interrupted syscall restarts after the handler with SA_RESTART.
                let restart = me.restart_nr.swap(0, Ordering::Relaxed);
                if restart != 0 && a.flags & linux_raw_sys::general::SA_RESTART as u64 != 0 {
                    rewind_syscall(frame, restart - 1);
                }
                let mask = me
                    .saved_mask
                    .lock()
                    .take()
                    .unwrap_or(me.sigmask.load(Ordering::Relaxed));
                if setup_frame(&me, frame, sig, &info, &a, mask, FaultInfo::default()).is_err() {
                    die(signal::SIGSEGV, None);
                }
                // Linux goes on with the next pending signal that the handler's mask
                // lets through: its frame goes on top and its handler runs first.
            }
        }
    }
    // No handler ran: an interrupted restartable syscall simply goes on.
    let restart = me.restart_nr.swap(0, Ordering::Relaxed);
    if restart != 0 {
        rewind_syscall(frame, restart - 1);
    }
    // sigsuspend(2) ended without running a handler: its mask goes away too.
    if let Some(mask) = me.saved_mask.lock().take() {
        me.sigmask.store(mask, Ordering::Relaxed);
    }
}

/// Makes the thread execute syscall `nr` again (its arguments are still in the frame):
/// back over the two-byte `syscall` instruction, with the number in rax.
fn rewind_syscall(frame: &mut Frame, nr: usize) {
    frame.rax = nr as u64;
    frame.rip -= 2;
}

/// A fault in ring 3: the handler runs now, or the program ends (default action, also
/// when the signal is blocked or ignored: Linux's force_sig_fault).
pub fn fault(frame: &mut Frame, sig: usize, code: i32, addr: u64) {
    let me = thread::current();
    let action = process::get().actions.lock()[sig - 1];
    let blocked = me.sigmask.load(Ordering::Relaxed) & sigbit(sig) != 0;
    let info = SigInfo::fault(sig, code, addr);
    let fault = FaultInfo {
        error_code: frame.error_code,
        trapno: frame.vector,
        cr2: addr,
    };
    match signal::disposition(&action, sig) {
        Disposition::Handler(a) if !blocked => {
            let mask = me.sigmask.load(Ordering::Relaxed);
            if setup_frame(&me, frame, sig, &info, &a, mask, fault).is_err() {
                die(sig, Some((addr, frame.rip)));
            }
        }
        _ => die(sig, Some((addr, frame.rip))),
    }
}

/// Builds the handler's frame on the user stack and points `frame` at the handler.
fn setup_frame(
    me: &Thread,
    frame: &mut Frame,
    sig: usize,
    info: &SigInfo,
    a: &signal::SigAction,
    blocked: u64,
    fault: FaultInfo,
) -> Result<(), Errno> {
    let image = thread::fpu_image(me);
    let altstack = *me.altstack.lock();
    let xcr0 = if arch::cpu::HAS_XSAVE.load(Ordering::Relaxed) {
        arch::cpu::XCR0.load(Ordering::Relaxed)
    } else {
        0
    };
    let built = frame::build(&frame::Delivery {
        regs: frame,
        sig,
        info,
        action: a,
        blocked,
        altstack: &altstack,
        fpstate: &image,
        xfeatures: xcr0,
        fault,
    })?;
    CurrentUser.write_bytes(built.fpstate_addr as usize, &built.fpstate)?;
    CurrentUser.write_bytes(built.frame_addr as usize, &built.frame)?;
    *frame = built.regs;
    me.sigmask.store(built.blocked, Ordering::Relaxed);
    if built.disarm_altstack {
        *me.altstack.lock() = signal::AltStack::disabled();
    }
    // SA_RESETHAND: the handler runs once, then the default is back.
    if a.flags & linux_raw_sys::general::SA_RESETHAND as u64 != 0 {
        process::get().actions.lock()[sig - 1] = signal::SigAction::default();
    }
    Ok(())
}

/// rt_sigreturn(2): restores what the handler interrupted. A frame that cannot be read
/// or holds a forged FPU image kills the program with SIGSEGV, as on Linux.
pub fn sigreturn(frame: &mut Frame) {
    let me = thread::current();
    let mut uc = [0u8; frame::UCONTEXT_SIZE];
    if CurrentUser.read_bytes(frame.rsp as usize, &mut uc).is_err() {
        die(signal::SIGSEGV, Some((frame.rsp, frame.rip)));
    }
    let r = frame::parse(&uc, frame);
    if r.fpstate_addr != 0 {
        let size = arch::cpu::XSAVE_SIZE.load(Ordering::Relaxed) as usize;
        let mut image = alloc::vec![0u8; size.max(512)];
        if CurrentUser
            .read_bytes(r.fpstate_addr as usize, &mut image[..512])
            .is_err()
        {
            die(signal::SIGSEGV, Some((r.fpstate_addr, frame.rip)));
        }
        let full = size > 512
            && CurrentUser
                .read_bytes(r.fpstate_addr as usize + 512, &mut image[512..])
                .is_ok();
        let len = if full { image.len() } else { 512 };
        let xcr0 = if arch::cpu::HAS_XSAVE.load(Ordering::Relaxed) {
            arch::cpu::XCR0.load(Ordering::Relaxed)
        } else {
            0
        };
        match frame::check_fpstate(&image[..len], xcr0, size) {
            Ok(format) => thread::load_fpu_image(&me, &image, format),
            Err(_) => die(signal::SIGSEGV, Some((r.fpstate_addr, frame.rip))),
        }
    }
    *frame = r.regs;
    me.sigmask.store(r.blocked, Ordering::Relaxed);
    // Linux restores the alternate stack too (restore_altstack), ignoring errors.
    let _ = me.altstack.lock().set(r.altstack, frame.rsp);
}
