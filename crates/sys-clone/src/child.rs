//! The child's registers.

use crate::request::CloneRequest;
use syscall::Frame;

/// The register frame a new thread starts with: the parent's registers at the syscall
/// (so it resumes right after the `syscall` instruction, at the same `rip`, with the same
/// `rcx`/`r11` and flags), `rax = 0` so the libc can tell child from parent, and the
/// requested stack pointer when one was given (`clone3`: `stack + stack_size`).
///
/// The FS base is not a register of the frame: it comes from `tls::ThreadTls::for_child`
/// with [`CloneRequest::new_tls`].
pub fn child_frame(parent: &Frame, req: &CloneRequest) -> Frame {
    let mut child = *parent;
    child.rax = 0;
    if let Some(sp) = req.child_stack_pointer() {
        child.rsp = sp;
    }
    child
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_memory::{ArgsBuilder, TestMemory};

    fn parent() -> Frame {
        Frame {
            rax: 56,
            rdi: 0x3d0f00,
            rsi: 0x7000_0000,
            rcx: 0x40_1234,
            r11: 0x246,
            rip: 0x40_1234,
            rsp: 0x7ffd_0000,
            rbx: 0xb,
            r15: 0xf,
            vector: u64::MAX,
            ..Frame::default()
        }
    }

    #[test]
    fn child_gets_parents_registers_with_rax_zero_and_new_stack() {
        let req = CloneRequest::from_clone(0x3d0f00, 0x7000_0000, 0, 0, 0);
        let child = child_frame(&parent(), &req);
        assert_eq!(child.rax, 0);
        assert_eq!(child.rsp, 0x7000_0000);
        let expected = Frame {
            rax: 0,
            rsp: 0x7000_0000,
            ..parent()
        };
        assert_eq!(child, expected);
    }

    #[test]
    fn child_without_stack_keeps_parents_rsp() {
        let req = CloneRequest::from_clone(0x3d0f00, 0, 0, 0, 0);
        assert_eq!(child_frame(&parent(), &req).rsp, 0x7ffd_0000);
    }

    #[test]
    fn clone3_child_stack_is_stack_plus_size() {
        let mem = TestMemory::new();
        let at = mem.put(&ArgsBuilder::thread().stack(0x7000_0000, 0x80_0000).build());
        let req = CloneRequest::from_clone3(&mem, at, 88).unwrap();
        assert_eq!(child_frame(&parent(), &req).rsp, 0x7080_0000);
    }
}
