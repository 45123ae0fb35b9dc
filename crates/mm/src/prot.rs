//! Page protections (`PROT_*`) and the kinds of access a fault reports.

use core::fmt;
use core::ops::BitOr;
use linux_raw_sys::general::{PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE};

/// The protection of a mapping: a set of `PROT_READ`, `PROT_WRITE`, `PROT_EXEC`.
///
/// The bits are kept as the program asked for them; what they allow follows x86_64, where a
/// writable or executable page is also readable (no execute-only or write-only pages
/// without protection keys), as on Linux.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Prot(u32);

impl Prot {
    /// `PROT_NONE`: no access; the page faults with `SEGV_ACCERR`.
    pub const NONE: Prot = Prot(PROT_NONE);
    /// `PROT_READ`.
    pub const READ: Prot = Prot(PROT_READ);
    /// `PROT_WRITE`.
    pub const WRITE: Prot = Prot(PROT_WRITE);
    /// `PROT_EXEC`.
    pub const EXEC: Prot = Prot(PROT_EXEC);
    /// `PROT_READ | PROT_WRITE`, the protection of heaps and stacks.
    pub const READ_WRITE: Prot = Prot(PROT_READ | PROT_WRITE);

    const ALL: u32 = PROT_READ | PROT_WRITE | PROT_EXEC;

    /// The read/write/exec bits of `bits`; every other bit is dropped, as mmap(2) ignores
    /// them.
    pub const fn from_bits_truncate(bits: u32) -> Prot {
        Prot(bits & Self::ALL)
    }

    /// The `PROT_*` bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Prot) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether a page with this protection may be read (x86_64: any of R, W, X).
    pub const fn readable(self) -> bool {
        self.0 & Self::ALL != 0
    }

    /// Whether a page with this protection may be written.
    pub const fn writable(self) -> bool {
        self.0 & PROT_WRITE != 0
    }

    /// Whether code on a page with this protection may run (the kernel sets NX otherwise).
    pub const fn executable(self) -> bool {
        self.0 & PROT_EXEC != 0
    }

    /// Whether this protection permits `access`.
    pub const fn allows(self, access: Access) -> bool {
        match access {
            Access::Read => self.readable(),
            Access::Write => self.writable(),
            Access::Exec => self.executable(),
        }
    }
}

impl BitOr for Prot {
    type Output = Prot;

    fn bitor(self, rhs: Prot) -> Prot {
        Prot(self.0 | rhs.0)
    }
}

impl fmt::Debug for Prot {
    /// As `/proc/self/maps` writes it: `rw-`, `r-x`, `---`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = |set: bool, c: char| if set { c } else { '-' };
        write!(
            f,
            "{}{}{}",
            flag(self.0 & PROT_READ != 0, 'r'),
            flag(self.writable(), 'w'),
            flag(self.executable(), 'x'),
        )
    }
}

/// What a faulting instruction tried to do: the kernel derives it from the x86 page-fault
/// error code (bit 1 set: write; bit 4 set: instruction fetch; otherwise read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Exec,
}
