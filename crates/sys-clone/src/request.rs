//! Decoding: `clone`'s registers and `clone3`'s `struct clone_args` into one request.

use linux_raw_sys::general as g;
use syscall::{Errno, UserMemory};

/// Size of the first `struct clone_args` (up to `tls`); smaller is `EINVAL`.
pub const CLONE_ARGS_SIZE_VER0: usize = g::CLONE_ARGS_SIZE_VER0 as usize;
/// Size with `set_tid` and `set_tid_size` (Linux 5.5).
pub const CLONE_ARGS_SIZE_VER1: usize = g::CLONE_ARGS_SIZE_VER1 as usize;
/// Size with `cgroup` (Linux 5.7): the whole struct this crate knows.
pub const CLONE_ARGS_SIZE_VER2: usize = g::CLONE_ARGS_SIZE_VER2 as usize;
/// Largest `size` `clone3` reads: one page (`PAGE_SIZE`); larger is `E2BIG`.
pub const CLONE3_MAX_SIZE: usize = 4096;
/// Most pid-namespace levels `set_tid` may name (Linux's `MAX_PID_NS_LEVEL`).
pub const MAX_PID_NS_LEVEL: usize = 32;

const _: () = assert!(core::mem::size_of::<g::clone_args>() == CLONE_ARGS_SIZE_VER2);

/// Which system call a request came from; some rules differ between the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloneSyscall {
    Clone,
    Clone3,
}

/// One `clone` or `clone3` call, decoded.
///
/// Fields carry the caller's values unchanged (after Linux's own decoding: legacy
/// `clone` keeps only the low 32 bits of its flags and splits off `CSIGNAL`); the
/// methods answer what they mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloneRequest {
    pub syscall: CloneSyscall,
    /// `CLONE_*` bits, without the exit signal.
    pub flags: u64,
    /// Signal sent to the parent when a non-thread child ends (0: none).
    pub exit_signal: u64,
    /// `clone`: the child's stack pointer (0: the parent's). `clone3`: the lowest
    /// address of the child's stack, whose size is `stack_size`.
    pub stack: u64,
    pub stack_size: u64,
    /// The child's FS base when `CLONE_SETTLS`.
    pub tls: u64,
    /// Where `CLONE_PARENT_SETTID` stores the child's tid (an `int`).
    pub parent_tid: usize,
    /// Where `CLONE_CHILD_SETTID` stores, and `CLONE_CHILD_CLEARTID` clears, the tid.
    pub child_tid: usize,
    /// Where `CLONE_PIDFD` stores the pidfd (legacy `clone`: the `parent_tid` argument).
    pub pidfd: usize,
    /// `clone3` `set_tid` values, copied from user memory; `set_tid_size` are valid.
    pub set_tid: [i32; MAX_PID_NS_LEVEL],
    pub set_tid_size: usize,
    /// `clone3` cgroup directory descriptor for `CLONE_INTO_CGROUP`.
    pub cgroup: u64,
}

impl CloneRequest {
    /// Decodes legacy `clone(flags, newsp, parent_tid, child_tid, tls)`.
    ///
    /// As Linux does: only the low 32 bits of `flags` count, the low byte (`CSIGNAL`) is
    /// the exit signal and is not checked, and the pidfd goes to `parent_tid`.
    pub fn from_clone(
        flags: u64,
        newsp: u64,
        parent_tid: usize,
        child_tid: usize,
        tls: u64,
    ) -> CloneRequest {
        let low = flags & u64::from(u32::MAX);
        let csignal = u64::from(g::CSIGNAL);
        CloneRequest {
            syscall: CloneSyscall::Clone,
            flags: low & !csignal,
            exit_signal: low & csignal,
            stack: newsp,
            stack_size: 0,
            tls,
            parent_tid,
            child_tid,
            pidfd: parent_tid,
            set_tid: [0; MAX_PID_NS_LEVEL],
            set_tid_size: 0,
            cgroup: 0,
        }
    }

    /// Reads and decodes `clone3(uargs, size)`, with every check Linux makes on the
    /// struct itself, in Linux's order (`copy_clone_args_from_user`, then
    /// `clone3_args_valid`):
    ///
    /// - `size` above one page: `E2BIG`; below [`CLONE_ARGS_SIZE_VER0`]: `EINVAL`;
    /// - a struct larger than this crate knows is accepted only if the unknown tail is
    ///   zero (`E2BIG` otherwise); a smaller one reads as zero-extended;
    /// - anything unreadable (the struct, its tail, the `set_tid` array): `EFAULT`;
    /// - then the `set_tid`, `exit_signal`, `cgroup`, flag and stack rules: `EINVAL`.
    pub fn from_clone3(
        mem: &dyn UserMemory,
        uargs: usize,
        size: usize,
    ) -> Result<CloneRequest, Errno> {
        let args = read_clone_args(mem, uargs, size)?;

        // copy_clone_args_from_user: set_tid needs a size and a size needs set_tid.
        if args.set_tid_size > MAX_PID_NS_LEVEL as u64
            || (args.set_tid == 0 && args.set_tid_size > 0)
            || (args.set_tid != 0 && args.set_tid_size == 0)
        {
            return Err(Errno::EINVAL);
        }
        // The exit signal must be a valid signal (at most _NSIG), upper bits clear.
        if args.exit_signal > u64::from(g::_NSIG) {
            return Err(Errno::EINVAL);
        }
        // The cgroup is an int fd, and only a VER2 struct has the field.
        let into_cgroup = args.flags & g::CLONE_INTO_CGROUP != 0;
        if into_cgroup && (args.cgroup > i32::MAX as u64 || size < CLONE_ARGS_SIZE_VER2) {
            return Err(Errno::EINVAL);
        }

        // The set_tid array is copied whole, like Linux's copy_from_user (any alignment).
        let set_tid_size = args.set_tid_size as usize;
        let mut raw_tids = [0u8; 4 * MAX_PID_NS_LEVEL];
        if set_tid_size > 0 {
            mem.read_bytes(args.set_tid as usize, &mut raw_tids[..4 * set_tid_size])?;
        }
        let mut set_tid = [0i32; MAX_PID_NS_LEVEL];
        for (slot, b) in set_tid.iter_mut().zip(raw_tids.chunks_exact(4)) {
            *slot = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        }

        let req = CloneRequest {
            syscall: CloneSyscall::Clone3,
            flags: args.flags,
            exit_signal: args.exit_signal,
            stack: args.stack,
            stack_size: args.stack_size,
            tls: args.tls,
            parent_tid: args.parent_tid as usize,
            child_tid: args.child_tid as usize,
            pidfd: args.pidfd as usize,
            set_tid,
            set_tid_size,
            cgroup: args.cgroup,
        };
        req.check_clone3_args()?;
        Ok(req)
    }

    /// Linux's `clone3_args_valid`: rules that exist only for `clone3`.
    fn check_clone3_args(&self) -> Result<(), Errno> {
        let known = u64::from(u32::MAX) | g::CLONE_CLEAR_SIGHAND | g::CLONE_INTO_CGROUP;
        let sighand_both = u64::from(g::CLONE_SIGHAND) | g::CLONE_CLEAR_SIGHAND;
        // Unknown bits are refused so that they can be given a meaning later.
        let unknown = self.flags & !known != 0;
        // The CSIGNAL byte and CLONE_DETACHED are kept free for reuse in clone3.
        let reserved = self.flags & u64::from(g::CLONE_DETACHED | g::CSIGNAL) != 0;
        // Sharing the handlers and resetting them contradict each other.
        let sighand_clash = self.flags & sighand_both == sighand_both;
        // A thread or a CLONE_PARENT sibling signals no one: a signal is a mistake.
        let signal_unused = self.has(g::CLONE_THREAD | g::CLONE_PARENT) && self.exit_signal != 0;
        if unknown || reserved || sighand_clash || signal_unused || !self.clone3_stack_valid() {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// Linux's `clone3_stack_valid`: no stack and no size, or a non-empty range inside
    /// the user address space (`access_ok`).
    fn clone3_stack_valid(&self) -> bool {
        if self.stack == 0 {
            return self.stack_size == 0;
        }
        match self.stack.checked_add(self.stack_size) {
            Some(end) => self.stack_size != 0 && end <= tls::TASK_SIZE_MAX,
            None => false,
        }
    }

    /// Whether any of the `CLONE_*` bits in `bits` is set.
    pub fn has(&self, bits: u32) -> bool {
        self.flags & u64::from(bits) != 0
    }

    /// The stack pointer the child starts with, or `None` to keep the parent's.
    ///
    /// `clone` passes the pointer itself; `clone3` passes the stack's lowest address
    /// and size, and the stack grows down from their sum.
    pub fn child_stack_pointer(&self) -> Option<u64> {
        match (self.syscall, self.stack) {
            (_, 0) => None,
            (CloneSyscall::Clone, sp) => Some(sp),
            // The sum cannot wrap: from_clone3 checked it.
            (CloneSyscall::Clone3, low) => Some(low.wrapping_add(self.stack_size)),
        }
    }

    /// The child's FS base, when `CLONE_SETTLS` asks for one.
    pub fn new_tls(&self) -> Option<u64> {
        self.has(g::CLONE_SETTLS).then_some(self.tls)
    }

    /// Where the parent stores the child's tid before the child runs
    /// (`CLONE_PARENT_SETTID`).
    pub fn parent_tid_ptr(&self) -> Option<usize> {
        self.has(g::CLONE_PARENT_SETTID).then_some(self.parent_tid)
    }

    /// Where the child stores its own tid when it first runs (`CLONE_CHILD_SETTID`).
    pub fn child_settid_ptr(&self) -> Option<usize> {
        self.has(g::CLONE_CHILD_SETTID).then_some(self.child_tid)
    }

    /// The child's clear-child-tid word (`CLONE_CHILD_CLEARTID`), zeroed and
    /// futex-woken when it exits, as `set_tid_address` would have set it.
    pub fn clear_child_tid_ptr(&self) -> Option<usize> {
        self.has(g::CLONE_CHILD_CLEARTID).then_some(self.child_tid)
    }

    /// The `set_tid` values given to `clone3` (empty for `clone`).
    pub fn set_tid_values(&self) -> &[i32] {
        &self.set_tid[..self.set_tid_size.min(MAX_PID_NS_LEVEL)]
    }
}

/// Linux's `copy_struct_from_user` for `struct clone_args`: checks `size`, requires a
/// zero tail beyond the known struct, and zero-extends a shorter one.
fn read_clone_args(
    mem: &dyn UserMemory,
    uargs: usize,
    size: usize,
) -> Result<g::clone_args, Errno> {
    if size > CLONE3_MAX_SIZE {
        return Err(Errno::E2BIG);
    }
    if size < CLONE_ARGS_SIZE_VER0 {
        return Err(Errno::EINVAL);
    }
    if size > CLONE_ARGS_SIZE_VER2 {
        let tail = uargs
            .checked_add(CLONE_ARGS_SIZE_VER2)
            .ok_or(Errno::EFAULT)?;
        require_zero(mem, tail, size - CLONE_ARGS_SIZE_VER2)?;
    }
    let mut raw = [0u8; CLONE_ARGS_SIZE_VER2];
    let known = size.min(CLONE_ARGS_SIZE_VER2);
    mem.read_bytes(uargs, &mut raw[..known])?;

    let field = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&raw[i * 8..i * 8 + 8]);
        u64::from_ne_bytes(b)
    };
    // Field order of struct clone_args (include/uapi/linux/sched.h).
    Ok(g::clone_args {
        flags: field(0),
        pidfd: field(1),
        child_tid: field(2),
        parent_tid: field(3),
        exit_signal: field(4),
        stack: field(5),
        stack_size: field(6),
        tls: field(7),
        set_tid: field(8),
        set_tid_size: field(9),
        cgroup: field(10),
    })
}

/// `E2BIG` unless the `len` user bytes at `addr` are all zero (`EFAULT` if unreadable).
fn require_zero(mem: &dyn UserMemory, addr: usize, len: usize) -> Result<(), Errno> {
    let mut chunk = [0u8; 64];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len());
        let at = addr.checked_add(done).ok_or(Errno::EFAULT)?;
        mem.read_bytes(at, &mut chunk[..n])?;
        if chunk[..n].iter().any(|&b| b != 0) {
            return Err(Errno::E2BIG);
        }
        done += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_memory::{ArgsBuilder, TestMemory};

    const THREAD: u64 = (g::CLONE_VM
        | g::CLONE_FS
        | g::CLONE_FILES
        | g::CLONE_SIGHAND
        | g::CLONE_THREAD
        | g::CLONE_SYSVSEM) as u64;

    #[test]
    fn clone_decodes_x86_64_argument_order() {
        let flags = THREAD | u64::from(g::CLONE_SETTLS | g::CLONE_PARENT_SETTID);
        let req = CloneRequest::from_clone(flags, 0x7000, 0x1000, 0x2000, 0x3000);
        assert_eq!(req.syscall, CloneSyscall::Clone);
        assert_eq!(req.flags, flags);
        assert_eq!(req.stack, 0x7000);
        assert_eq!(
            (req.parent_tid, req.child_tid, req.tls),
            (0x1000, 0x2000, 0x3000)
        );
        assert_eq!(
            req.pidfd, 0x1000,
            "legacy clone returns the pidfd through parent_tid"
        );
        assert_eq!(req.child_stack_pointer(), Some(0x7000));
        assert_eq!(req.new_tls(), Some(0x3000));
        assert_eq!(req.parent_tid_ptr(), Some(0x1000));
        assert_eq!(req.child_settid_ptr(), None);
    }

    #[test]
    fn clone_splits_exit_signal_from_flags_and_drops_high_bits() {
        let req = CloneRequest::from_clone((1 << 40) | 200 | u64::from(g::CLONE_VM), 0, 0, 0, 0);
        assert_eq!(
            req.exit_signal, 200,
            "legacy clone does not check the signal"
        );
        assert_eq!(req.flags, u64::from(g::CLONE_VM));
    }

    #[test]
    fn clone_without_stack_keeps_parents_stack_pointer() {
        let req = CloneRequest::from_clone(17, 0, 0, 0, 0);
        assert_eq!(req.child_stack_pointer(), None);
    }

    #[test]
    fn clone3_reads_every_field_of_a_ver2_struct() {
        let mem = TestMemory::new();
        let tids = mem.put(&7i32.to_ne_bytes());
        let args = ArgsBuilder::thread()
            .flags(THREAD | u64::from(g::CLONE_CHILD_CLEARTID))
            .child_tid(0x2222)
            .parent_tid(0x3333)
            .tls(0x4444)
            .set_tid(tids as u64, 1)
            .pidfd(0x5555)
            .build();
        let at = mem.put(&args);
        let req = CloneRequest::from_clone3(&mem, at, 88).unwrap();
        assert_eq!(req.syscall, CloneSyscall::Clone3);
        assert_eq!(req.flags, THREAD | u64::from(g::CLONE_CHILD_CLEARTID));
        assert_eq!(
            (req.child_tid, req.parent_tid, req.pidfd),
            (0x2222, 0x3333, 0x5555)
        );
        assert_eq!(req.tls, 0x4444);
        assert_eq!(req.set_tid_values(), &[7]);
        assert_eq!(req.clear_child_tid_ptr(), Some(0x2222));
        assert_eq!(req.new_tls(), None, "tls only counts with CLONE_SETTLS");
    }

    #[test]
    fn clone3_stack_pointer_is_top_of_stack() {
        let mem = TestMemory::new();
        let at = mem.put(&ArgsBuilder::thread().stack(0x10_0000, 0x1_0000).build());
        let req = CloneRequest::from_clone3(&mem, at, 88).unwrap();
        assert_eq!(req.child_stack_pointer(), Some(0x11_0000));
    }

    #[test]
    fn clone3_accepts_every_size_from_ver0_to_a_page_with_zero_tail() {
        let mem = TestMemory::new();
        let mut bytes = ArgsBuilder::thread().build().to_vec();
        bytes.resize(CLONE3_MAX_SIZE, 0);
        let at = mem.put(&bytes);
        for size in CLONE_ARGS_SIZE_VER0..=CLONE3_MAX_SIZE {
            let req = CloneRequest::from_clone3(&mem, at, size);
            assert!(req.is_ok(), "size {size}: {req:?}");
        }
    }

    #[test]
    fn clone3_short_struct_reads_as_zero_extended() {
        let mem = TestMemory::new();
        // A VER0 caller's struct followed by garbage that must not be read as set_tid.
        let mut bytes = ArgsBuilder::thread().build()[..64].to_vec();
        bytes.extend_from_slice(&[0xff; 24]);
        let at = mem.put(&bytes);
        let req = CloneRequest::from_clone3(&mem, at, 64).unwrap();
        assert_eq!((req.set_tid_size, req.cgroup), (0, 0));
    }

    #[test]
    fn clone3_size_below_ver0_is_einval() {
        let mem = TestMemory::new();
        let at = mem.put(&ArgsBuilder::thread().build());
        for size in [0, 1, 8, 63] {
            assert_eq!(
                CloneRequest::from_clone3(&mem, at, size),
                Err(Errno::EINVAL)
            );
        }
    }

    #[test]
    fn clone3_size_above_a_page_is_e2big_before_reading() {
        let mem = TestMemory::new();
        for size in [4097, 8192, usize::MAX] {
            assert_eq!(CloneRequest::from_clone3(&mem, 0, size), Err(Errno::E2BIG));
        }
    }

    #[test]
    fn clone3_nonzero_tail_beyond_known_struct_is_e2big() {
        let mem = TestMemory::new();
        let mut bytes = ArgsBuilder::thread().build().to_vec();
        bytes.resize(200, 0);
        bytes[150] = 1;
        let at = mem.put(&bytes);
        assert_eq!(CloneRequest::from_clone3(&mem, at, 200), Err(Errno::E2BIG));
        assert!(
            CloneRequest::from_clone3(&mem, at, 150).is_ok(),
            "the byte is beyond size"
        );
    }

    #[test]
    fn clone3_unreadable_struct_or_tail_is_efault() {
        let mem = TestMemory::new();
        assert_eq!(CloneRequest::from_clone3(&mem, 0, 88), Err(Errno::EFAULT));
        let at = mem.put_at_end(&ArgsBuilder::thread().build());
        assert!(CloneRequest::from_clone3(&mem, at, 88).is_ok());
        assert_eq!(CloneRequest::from_clone3(&mem, at, 96), Err(Errno::EFAULT));
        let at64 = mem.put_at_end(&ArgsBuilder::thread().build()[..64]);
        assert_eq!(
            CloneRequest::from_clone3(&mem, at64, 72),
            Err(Errno::EFAULT)
        );
    }

    #[test]
    fn clone3_set_tid_rules() {
        let mem = TestMemory::new();
        let tids = mem.put(&[1u8; 4 * 33]);
        let cases = [
            (tids as u64, 33, Err(Errno::EINVAL)),
            (0, 1, Err(Errno::EINVAL)),
            (tids as u64, 0, Err(Errno::EINVAL)),
            (8, 1, Err(Errno::EFAULT)),
            (tids as u64, 32, Ok(32)),
        ];
        for (ptr, n, want) in cases {
            let at = mem.put(&ArgsBuilder::thread().set_tid(ptr, n).build());
            let got = CloneRequest::from_clone3(&mem, at, 88).map(|r| r.set_tid_values().len());
            assert_eq!(got, want, "set_tid {ptr:#x} size {n}");
        }
    }

    #[test]
    fn clone3_exit_signal_rules() {
        let mem = TestMemory::new();
        let cases = [
            (0, 64, true),
            (0, 65, false),
            (0, (1 << 32) | 17, false),
            (
                u64::from(g::CLONE_THREAD | g::CLONE_SIGHAND | g::CLONE_VM),
                17,
                false,
            ),
            (u64::from(g::CLONE_PARENT), 17, false),
            (u64::from(g::CLONE_PARENT), 0, true),
        ];
        for (flags, sig, ok) in cases {
            let args = ArgsBuilder::thread().flags(flags).exit_signal(sig).build();
            let got = CloneRequest::from_clone3(&mem, mem.put(&args), 88);
            assert_eq!(
                got.is_ok(),
                ok,
                "flags {flags:#x} exit_signal {sig}: {got:?}"
            );
        }
    }

    #[test]
    fn clone3_rejects_unknown_and_reserved_flag_bits() {
        let mem = TestMemory::new();
        let bad = [1 << 34, 1 << 63, 17, u64::from(g::CLONE_DETACHED)];
        for extra in bad {
            let args = ArgsBuilder::thread().flags(THREAD | extra).build();
            let got = CloneRequest::from_clone3(&mem, mem.put(&args), 88);
            assert_eq!(got, Err(Errno::EINVAL), "extra flag {extra:#x}");
        }
    }

    #[test]
    fn clone3_sighand_with_clear_sighand_is_einval() {
        let mem = TestMemory::new();
        let args = ArgsBuilder::thread()
            .flags(THREAD | g::CLONE_CLEAR_SIGHAND)
            .build();
        let got = CloneRequest::from_clone3(&mem, mem.put(&args), 88);
        assert_eq!(got, Err(Errno::EINVAL));
    }

    #[test]
    fn clone3_stack_and_size_must_agree_and_fit_user_space() {
        let mem = TestMemory::new();
        let top = tls::TASK_SIZE_MAX;
        let cases = [
            (0, 0, true),
            (0, 4096, false),
            (0x1000, 0, false),
            (top - 0x1000, 0x1000, true),
            (top - 0x1000, 0x1001, false),
            (u64::MAX - 0xfff, 0x2000, false),
        ];
        for (stack, size, ok) in cases {
            let args = ArgsBuilder::thread().stack(stack, size).build();
            let got = CloneRequest::from_clone3(&mem, mem.put(&args), 88);
            assert_eq!(got.is_ok(), ok, "stack {stack:#x} size {size:#x}: {got:?}");
        }
    }

    #[test]
    fn clone3_into_cgroup_needs_ver2_and_an_int_fd() {
        let mem = TestMemory::new();
        let flags = THREAD | g::CLONE_INTO_CGROUP;
        let big = ArgsBuilder::thread().flags(flags).cgroup(1 << 31).build();
        assert_eq!(
            CloneRequest::from_clone3(&mem, mem.put(&big), 88),
            Err(Errno::EINVAL)
        );
        let ok = ArgsBuilder::thread().flags(flags).cgroup(3).build();
        let at = mem.put(&ok);
        assert_eq!(CloneRequest::from_clone3(&mem, at, 80), Err(Errno::EINVAL));
        assert!(CloneRequest::from_clone3(&mem, at, 88).is_ok());
    }
}
