//! The register frame saved when a thread enters the kernel from ring 3.
//!
//! The layout is shared with the assembly entry stubs (syscall and interrupts): they push
//! the general registers in this order below the hardware `iretq` frame, so a `Frame` is
//! also what `iretq` needs to return. Offsets are asserted below.

/// General registers and the hardware interrupt frame of a thread in user mode.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// Exception vector (interrupt entries) or `u64::MAX` for a syscall.
    pub vector: u64,
    /// Error code pushed by the CPU, or 0.
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

impl Frame {
    /// The syscall number (`rax` at entry).
    pub fn syscall_number(&self) -> usize {
        self.rax as usize
    }

    /// The six syscall arguments in ABI order: rdi, rsi, rdx, r10, r8, r9.
    pub fn syscall_args(&self) -> [usize; 6] {
        [
            self.rdi as usize,
            self.rsi as usize,
            self.rdx as usize,
            self.r10 as usize,
            self.r8 as usize,
            self.r9 as usize,
        ]
    }
}

const _: () = {
    assert!(core::mem::offset_of!(Frame, rax) == 14 * 8);
    assert!(core::mem::offset_of!(Frame, vector) == 15 * 8);
    assert!(core::mem::offset_of!(Frame, rip) == 17 * 8);
    assert!(core::mem::size_of::<Frame>() == 22 * 8);
};
