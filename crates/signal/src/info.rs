//! `siginfo_t` (128 bytes): signal number, errno, code, then a union whose layout
//! depends on the code (`include/uapi/asm-generic/siginfo.h`).

/// The `si_code` values Spindle produces.
pub mod code {
    /// Sent by kill(2).
    pub const SI_USER: i32 = 0;
    /// Raised by the kernel (e.g. a general-protection fault).
    pub const SI_KERNEL: i32 = 0x80;
    /// Sent by tkill(2) or tgkill(2).
    pub const SI_TKILL: i32 = -6;
    pub const SEGV_MAPERR: i32 = 1;
    pub const SEGV_ACCERR: i32 = 2;
    pub const BUS_ADRALN: i32 = 1;
    pub const ILL_ILLOPN: i32 = 2;
    pub const FPE_INTDIV: i32 = 1;
    pub const FPE_FLTINV: i32 = 7;
    pub const TRAP_BRKPT: i32 = 1;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigInfo(pub [u8; 128]);

impl SigInfo {
    fn header(sig: usize, code: i32) -> SigInfo {
        let mut b = [0u8; 128];
        b[0..4].copy_from_slice(&(sig as i32).to_ne_bytes());
        b[8..12].copy_from_slice(&code.to_ne_bytes());
        SigInfo(b)
    }

    /// A fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) at `addr` (`si_addr`).
    pub fn fault(sig: usize, code: i32, addr: u64) -> SigInfo {
        let mut i = SigInfo::header(sig, code);
        i.0[16..24].copy_from_slice(&addr.to_ne_bytes());
        i
    }

    /// A signal sent by process `pid` (user `uid`) with kill (`SI_USER`) or tgkill
    /// (`SI_TKILL`).
    pub fn sent(sig: usize, code: i32, pid: u32, uid: u32) -> SigInfo {
        let mut i = SigInfo::header(sig, code);
        i.0[16..20].copy_from_slice(&pid.to_ne_bytes());
        i.0[20..24].copy_from_slice(&uid.to_ne_bytes());
        i
    }

    pub fn signo(&self) -> usize {
        i32::from_ne_bytes([self.0[0], self.0[1], self.0[2], self.0[3]]) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_info_carries_the_address_at_offset_16() {
        let i = SigInfo::fault(11, code::SEGV_MAPERR, 0xdead_b000);
        assert_eq!(i.signo(), 11);
        assert_eq!(i32::from_ne_bytes(i.0[8..12].try_into().unwrap()), 1);
        assert_eq!(
            u64::from_ne_bytes(i.0[16..24].try_into().unwrap()),
            0xdead_b000
        );
    }
}
