//! The signal frame: what the kernel pushes on the user stack to run a handler, and
//! what `rt_sigreturn(2)` reads back.
//!
//! Layout (x86_64, `struct rt_sigframe` in arch/x86/include/asm/sigframe.h, with
//! `struct ucontext` and `struct sigcontext` from the uapi headers):
//!
//! ```text
//! frame + 0    pretcode        return address of the handler: sa_restorer
//! frame + 8    ucontext        uc_flags, uc_link, uc_stack, uc_mcontext, uc_sigmask
//! frame + 312  siginfo         128 bytes
//! fpstate      XSAVE image     64-byte aligned, above the frame; its address is in
//!                              uc_mcontext.fpstate
//! ```
//!
//! The handler starts with `rsp = frame`, `rsp + 8` 16-byte aligned as after a `call`
//! (x86_64 psABI 3.2.2), `rdi = sig`, `rsi = &siginfo`, `rdx = &ucontext`. Its `ret`
//! lands on `sa_restorer`, which calls `rt_sigreturn` with `rsp = &ucontext`.

use crate::set::{SigSet, UNBLOCKABLE, sigbit};
use crate::{AltStack, SigAction, SigInfo};
use alloc::vec::Vec;
use linux_raw_sys::general::{SA_NODEFER, SA_ONSTACK, SA_RESTORER, SS_AUTODISARM, SS_ONSTACK};
use syscall::{Errno, Frame};

/// Bytes of `struct rt_sigframe` without the FPU image.
pub const FRAME_SIZE: u64 = 440;
/// Bytes of `struct ucontext` (what `rt_sigreturn` reads).
pub const UCONTEXT_SIZE: usize = 304;
const UC: usize = 8;
const MCONTEXT: usize = 40;
const SIGMASK: usize = 296;
const SIGINFO: u64 = 312;
/// The x86_64 red zone below `rsp` that a handler's frame must not overwrite.
const RED_ZONE: u64 = 128;

/// `uc_flags` bits (arch/x86/include/uapi/asm/ucontext.h).
const UC_FP_XSTATE: u64 = 1;
const UC_SIGCONTEXT_SS: u64 = 2;
const UC_STRICT_RESTORE_SS: u64 = 4;

/// `_fpx_sw_bytes` markers of an XSAVE-format image (asm/sigcontext.h).
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
const SW_BYTES: usize = 464;

/// RFLAGS bits a handler may change through its ucontext (`FIX_EFLAGS`).
const FIX_EFLAGS: u64 = 0x50dd5;
/// RFLAGS bits cleared for the handler: TF, DF, RF.
const HANDLER_CLEARS: u64 = 0x100 | 0x400 | 0x10000;

/// Offsets of the general registers in `struct sigcontext`, in its order.
const GREGS: usize = 18;

fn put(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}

fn get(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(w)
}

fn gregs(f: &Frame) -> [u64; GREGS] {
    [
        f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15, f.rdi, f.rsi, f.rbp, f.rbx, f.rdx,
        f.rax, f.rcx, f.rsp, f.rip, f.rflags,
    ]
}

/// Details of a fault for `uc_mcontext` (err, trapno, cr2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultInfo {
    pub error_code: u64,
    pub trapno: u64,
    pub cr2: u64,
}

/// Everything delivery needs.
pub struct Delivery<'a> {
    /// The thread's user registers now (what the handler interrupts).
    pub regs: &'a Frame,
    pub sig: usize,
    pub info: &'a SigInfo,
    pub action: &'a SigAction,
    /// The mask to restore at `rt_sigreturn`.
    pub blocked: SigSet,
    pub altstack: &'a AltStack,
    /// The thread's extended state as an XSAVE image (standard format), or a 512-byte
    /// FXSAVE image on a CPU without XSAVE.
    pub fpstate: &'a [u8],
    /// XCR0 (the components the image may hold); 0 for FXSAVE.
    pub xfeatures: u64,
    pub fault: FaultInfo,
}

/// A frame ready to be written to user memory.
pub struct Built {
    pub frame_addr: u64,
    pub frame: Vec<u8>,
    pub fpstate_addr: u64,
    pub fpstate: Vec<u8>,
    /// The registers the handler starts with.
    pub regs: Frame,
    /// The thread's mask while the handler runs.
    pub blocked: SigSet,
    /// `SS_AUTODISARM`: the alternate stack is to be disabled while the handler runs.
    pub disarm_altstack: bool,
}

/// Builds the frame for a handler. `EFAULT` when the action has no `sa_restorer` (which
/// x86_64 requires) or the stack pointer would wrap: the kernel then kills the thread
/// with SIGSEGV, as Linux does when it cannot set up a frame.
pub fn build(d: &Delivery<'_>) -> Result<Built, Errno> {
    let a = d.action;
    if a.flags & SA_RESTORER as u64 == 0 {
        return Err(Errno::EFAULT);
    }
    let rsp = d.regs.rsp;
    let on_alt = d.altstack.contains(rsp);
    let mut sp = if a.flags & SA_ONSTACK as u64 != 0 && d.altstack.is_enabled() && !on_alt {
        d.altstack
            .sp
            .checked_add(d.altstack.size)
            .ok_or(Errno::EFAULT)?
    } else {
        rsp.checked_sub(RED_ZONE).ok_or(Errno::EFAULT)?
    };

    let xsave = d.xfeatures != 0 && d.fpstate.len() > 512;
    let mut fp = d.fpstate.to_vec();
    if xsave {
        let len = fp.len() as u32;
        fp[SW_BYTES..SW_BYTES + 48].fill(0);
        fp[SW_BYTES..SW_BYTES + 4].copy_from_slice(&FP_XSTATE_MAGIC1.to_ne_bytes());
        fp[SW_BYTES + 4..SW_BYTES + 8].copy_from_slice(&(len + 4).to_ne_bytes());
        fp[SW_BYTES + 8..SW_BYTES + 16].copy_from_slice(&d.xfeatures.to_ne_bytes());
        fp[SW_BYTES + 16..SW_BYTES + 20].copy_from_slice(&len.to_ne_bytes());
        fp.extend_from_slice(&FP_XSTATE_MAGIC2.to_ne_bytes());
    }
    sp = sp.checked_sub(fp.len() as u64).ok_or(Errno::EFAULT)? & !63;
    let fpstate_addr = sp;
    sp = sp.checked_sub(FRAME_SIZE).ok_or(Errno::EFAULT)?;
    let frame_addr = (sp & !15).checked_sub(8).ok_or(Errno::EFAULT)?;

    let mut f = alloc::vec![0u8; FRAME_SIZE as usize];
    put(&mut f, 0, a.restorer);
    let flags = UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS | if xsave { UC_FP_XSTATE } else { 0 };
    put(&mut f, UC, flags);
    let reported = d.altstack.report(rsp);
    put(&mut f, UC + 16, reported.sp);
    f[UC + 24..UC + 28].copy_from_slice(&reported.flags.to_ne_bytes());
    put(&mut f, UC + 32, reported.size);
    let mc = UC + MCONTEXT;
    for (i, v) in gregs(d.regs).iter().enumerate() {
        put(&mut f, mc + i * 8, *v);
    }
    f[mc + 144..mc + 146].copy_from_slice(&(d.regs.cs as u16).to_ne_bytes());
    f[mc + 150..mc + 152].copy_from_slice(&(d.regs.ss as u16).to_ne_bytes());
    put(&mut f, mc + 152, d.fault.error_code);
    put(&mut f, mc + 160, d.fault.trapno);
    put(&mut f, mc + 168, d.blocked);
    put(&mut f, mc + 176, d.fault.cr2);
    put(&mut f, mc + 184, fpstate_addr);
    put(&mut f, UC + SIGMASK, d.blocked);
    f[SIGINFO as usize..].copy_from_slice(&d.info.0);

    let mut regs = *d.regs;
    regs.rip = a.handler;
    regs.rsp = frame_addr;
    regs.rdi = d.sig as u64;
    regs.rsi = frame_addr + SIGINFO;
    regs.rdx = frame_addr + UC as u64;
    regs.rax = 0;
    regs.rflags &= !HANDLER_CLEARS;

    let mut blocked = d.blocked | a.mask;
    if a.flags & SA_NODEFER as u64 == 0 {
        blocked |= sigbit(d.sig);
    }
    Ok(Built {
        frame_addr,
        frame: f,
        fpstate_addr,
        fpstate: fp,
        regs,
        blocked: blocked & !UNBLOCKABLE,
        disarm_altstack: reported.flags & SS_AUTODISARM != 0 && reported.flags & SS_ONSTACK == 0,
    })
}

/// What `rt_sigreturn` restores from a `struct ucontext`.
pub struct Restored {
    pub regs: Frame,
    pub blocked: SigSet,
    pub altstack: AltStack,
    /// Where the FPU image is (0: none; the FPU state is reset).
    pub fpstate_addr: u64,
}

/// Reads back a ucontext (`uc`, the bytes at the `rsp` of `rt_sigreturn`) onto the
/// current user registers `current`. Segment selectors stay the kernel's; only the
/// RFLAGS bits a program may change are taken.
pub fn parse(uc: &[u8; UCONTEXT_SIZE], current: &Frame) -> Restored {
    let mc = MCONTEXT;
    let g: [u64; GREGS] = core::array::from_fn(|i| get(uc, mc + i * 8));
    let mut regs = *current;
    [
        regs.r8, regs.r9, regs.r10, regs.r11, regs.r12, regs.r13, regs.r14, regs.r15, regs.rdi,
        regs.rsi, regs.rbp, regs.rbx, regs.rdx, regs.rax, regs.rcx, regs.rsp, regs.rip,
    ] = [
        g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13],
        g[14], g[15], g[16],
    ];
    regs.rflags = (current.rflags & !FIX_EFLAGS) | (g[17] & FIX_EFLAGS);
    let flags = u32::from_ne_bytes([uc[24], uc[25], uc[26], uc[27]]);
    Restored {
        regs,
        blocked: get(uc, SIGMASK) & !UNBLOCKABLE,
        altstack: AltStack {
            sp: get(uc, 16),
            flags: flags & !SS_ONSTACK,
            size: get(uc, 32),
        },
        fpstate_addr: get(uc, mc + 184),
    }
}

/// The format of a user-supplied FPU image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FpFormat {
    /// 512 bytes: x87 and SSE only.
    Fxsave,
    /// The whole XSAVE image (`xsave_size` bytes).
    Xsave,
}

/// Checks an FPU image from user memory before the kernel loads it: reserved MXCSR bits
/// clear (else `ldmxcsr`/`xrstor` would fault in the kernel) and, for an XSAVE image,
/// a header XRSTOR accepts (no component outside `xcr0`, standard format, reserved bytes
/// zero). `image` holds at least 512 bytes, and `xsave_size` more when they are
/// readable. `EFAULT` for anything else: rt_sigreturn then kills with SIGSEGV.
pub fn check_fpstate(image: &[u8], xcr0: u64, xsave_size: usize) -> Result<FpFormat, Errno> {
    if image.len() < 512 {
        return Err(Errno::EFAULT);
    }
    let mxcsr = u32::from_ne_bytes([image[24], image[25], image[26], image[27]]);
    if mxcsr & !0xffff != 0 {
        return Err(Errno::EFAULT);
    }
    let magic1 = u32::from_ne_bytes([
        image[SW_BYTES],
        image[SW_BYTES + 1],
        image[SW_BYTES + 2],
        image[SW_BYTES + 3],
    ]);
    if xcr0 == 0 || magic1 != FP_XSTATE_MAGIC1 || image.len() < xsave_size || xsave_size < 576 {
        return Ok(FpFormat::Fxsave);
    }
    let xstate_bv = get(image, 512);
    if xstate_bv & !xcr0 != 0 || image[520..576].iter().any(|&b| b != 0) {
        return Err(Errno::EFAULT);
    }
    Ok(FpFormat::Xsave)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::code;

    fn regs() -> Frame {
        Frame {
            rsp: 0x7fff_0000_1234,
            rip: 0x40_1000,
            rax: 7,
            rbx: 8,
            r15: 15,
            rflags: 0x246 | 0x400,
            cs: 0x23,
            ss: 0x1b,
            ..Default::default()
        }
    }

    fn action() -> SigAction {
        SigAction {
            handler: 0x40_2000,
            flags: SA_RESTORER as u64,
            restorer: 0x40_3000,
            mask: 1 << 9,
        }
    }

    fn deliver<'a>(
        r: &'a Frame,
        a: &'a SigAction,
        alt: &'a AltStack,
        info: &'a SigInfo,
        fp: &'a [u8],
    ) -> Built {
        build(&Delivery {
            regs: r,
            sig: 11,
            info,
            action: a,
            blocked: 1,
            altstack: alt,
            fpstate: fp,
            xfeatures: 0x7,
            fault: FaultInfo {
                error_code: 4,
                trapno: 14,
                cr2: 0x10,
            },
        })
        .unwrap()
    }

    #[test]
    fn handler_starts_with_the_abi_registers_and_alignment() {
        let (r, a, alt) = (regs(), action(), AltStack::disabled());
        let info = SigInfo::fault(11, code::SEGV_MAPERR, 0x10);
        let b = deliver(&r, &a, &alt, &info, &[0u8; 832]);
        assert_eq!(
            (b.regs.rsp + 8) % 16,
            0,
            "rsp + 8 is 16-byte aligned, as after a call"
        );
        assert!(b.regs.rsp + FRAME_SIZE <= b.fpstate_addr);
        assert!(b.fpstate_addr + b.fpstate.len() as u64 <= r.rsp - RED_ZONE);
        assert_eq!(b.fpstate_addr % 64, 0);
        assert_eq!((b.regs.rip, b.regs.rdi), (0x40_2000, 11));
        assert_eq!(b.regs.rsi, b.frame_addr + 312);
        assert_eq!(b.regs.rdx, b.frame_addr + 8);
        assert_eq!(b.regs.rflags & 0x400, 0, "DF is cleared for the handler");
        assert_eq!(
            get(&b.frame, 0),
            0x40_3000,
            "the handler returns into sa_restorer"
        );
        assert_eq!(
            b.blocked,
            1 | (1 << 9) | (1 << 10),
            "old mask + sa_mask + the signal"
        );
        assert_eq!(b.fpstate.len(), 836, "XSAVE image plus FP_XSTATE_MAGIC2");
    }

    #[test]
    fn sigreturn_restores_what_delivery_saved() {
        let (r, a, alt) = (regs(), action(), AltStack::disabled());
        let info = SigInfo::fault(11, code::SEGV_MAPERR, 0x10);
        let b = deliver(&r, &a, &alt, &info, &[0u8; 832]);
        let mut uc = [0u8; UCONTEXT_SIZE];
        uc.copy_from_slice(&b.frame[8..8 + UCONTEXT_SIZE]);
        let back = parse(&uc, &b.regs);
        assert_eq!(back.regs, r);
        assert_eq!(back.blocked, 1);
        assert_eq!(back.fpstate_addr, b.fpstate_addr);
    }

    #[test]
    fn sa_onstack_moves_to_the_alternate_stack_once() {
        let r = regs();
        let a = SigAction {
            flags: a_flags(),
            ..action()
        };
        let alt = AltStack {
            sp: 0x10_0000,
            flags: 0,
            size: 0x8000,
        };
        let info = SigInfo::fault(11, code::SEGV_MAPERR, 0);
        let b = deliver(&r, &a, &alt, &info, &[0u8; 512]);
        assert!(alt.contains(b.regs.rsp));
        // A nested signal on the alternate stack stays below the current frame.
        let nested = deliver(&b.regs, &a, &alt, &info, &[0u8; 512]);
        assert!(nested.regs.rsp < b.regs.rsp);
    }

    fn a_flags() -> u64 {
        SA_RESTORER as u64 | SA_ONSTACK as u64
    }

    #[test]
    fn no_restorer_cannot_be_delivered() {
        let (r, alt) = (regs(), AltStack::disabled());
        let a = SigAction {
            flags: 0,
            ..action()
        };
        let info = SigInfo::sent(10, code::SI_TKILL, 1, 0);
        let d = Delivery {
            regs: &r,
            sig: 10,
            info: &info,
            action: &a,
            blocked: 0,
            altstack: &alt,
            fpstate: &[0u8; 512],
            xfeatures: 0,
            fault: FaultInfo::default(),
        };
        assert_eq!(build(&d).err(), Some(Errno::EFAULT));
    }

    #[test]
    fn sa_nodefer_leaves_the_signal_unblocked() {
        let (r, alt) = (regs(), AltStack::disabled());
        let a = SigAction {
            flags: (SA_RESTORER | SA_NODEFER) as u64,
            mask: 0,
            ..action()
        };
        let info = SigInfo::fault(11, code::SEGV_MAPERR, 0);
        assert_eq!(deliver(&r, &a, &alt, &info, &[0u8; 512]).blocked, 1);
    }

    #[test]
    fn sigreturn_keeps_the_kernel_selectors_and_privileged_flags() {
        let r = regs();
        let mut uc = [0u8; UCONTEXT_SIZE];
        put(&mut uc, MCONTEXT + 17 * 8, 0x3000 | 0x200 | 0x1); // IOPL 3, IF, CF
        put(&mut uc, SIGMASK, u64::MAX);
        let back = parse(&uc, &r);
        assert_eq!(back.regs.rflags & 0x3000, 0, "IOPL cannot be raised");
        assert_eq!(back.regs.rflags & 1, 1, "CF is the program's");
        assert_eq!(back.regs.rflags & 0x200, 0x200, "IF stays on");
        assert_eq!((back.regs.cs, back.regs.ss), (0x23, 0x1b));
        assert_eq!(back.blocked & crate::UNBLOCKABLE, 0);
    }

    #[test]
    fn forged_fpu_images_are_refused() {
        let mut img = alloc::vec![0u8; 832];
        img[SW_BYTES..SW_BYTES + 4].copy_from_slice(&FP_XSTATE_MAGIC1.to_ne_bytes());
        assert_eq!(check_fpstate(&img, 7, 832), Ok(FpFormat::Xsave));
        img[512] = 0x80; // a component outside XCR0
        assert_eq!(check_fpstate(&img, 7, 832), Err(Errno::EFAULT));
        img[512] = 0;
        img[527] = 0x80; // compacted format
        assert_eq!(check_fpstate(&img, 7, 832), Err(Errno::EFAULT));
        img[527] = 0;
        img[26] = 1; // reserved MXCSR bit
        assert_eq!(check_fpstate(&img, 7, 832), Err(Errno::EFAULT));
        assert_eq!(check_fpstate(&img[..100], 7, 832), Err(Errno::EFAULT));
        assert_eq!(check_fpstate(&[0u8; 512], 7, 832), Ok(FpFormat::Fxsave));
    }
}
