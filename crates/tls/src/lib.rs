//! Thread-local storage bases: the FS and GS base of each user thread, and `arch_prctl`.
//!
//! # What this crate is for
//!
//! On x86_64 a thread finds its thread-local storage through the FS segment base. The
//! x86_64 psABI (§3.4.6 / the TLS appendix) uses TLS *variant II*: the thread pointer
//! points at the end of the static TLS block, at the thread control block, and
//!
//! > `%fs:0` holds the thread pointer itself
//!
//! so that code can load the thread pointer with `mov %fs:0, %rax` without a system call.
//! Ulrich Drepper's "ELF Handling For Thread-Local Storage" (§3.4.2 for variant II, §4.3
//! for the x86-64 access models) describes the layout. The C library builds that block
//! and tells the kernel where it is with `arch_prctl(ARCH_SET_FS, tp)` (the main thread)
//! or `clone(CLONE_SETTLS, .., tls = tp)` (new threads); the kernel only has to keep the
//! base per thread and load it whenever the thread runs.
//!
//! # What it owns
//!
//! - [`ThreadTls`]: the saved FS and GS base of one thread, which the kernel keeps in its
//!   thread record, loads when it switches to the thread ([`ThreadTls::load`]) and saves
//!   when it switches away ([`ThreadTls::save`]).
//! - [`arch_prctl`]: the system call, with Linux's semantics (arch_prctl(2) and
//!   `do_arch_prctl_64` in Linux's arch/x86/kernel/process_64.c).
//! - [`check_user_base`]: Linux's rule for a new base, shared with `clone(CLONE_SETTLS)`.
//!
//! # What it does not do
//!
//! It never touches the hardware itself: the kernel implements [`SegmentBases`] with
//! `WRFSBASE`/`WRGSBASE` (CR4.FSGSBASE) or the `IA32_FS_BASE`/`IA32_KERNEL_GS_BASE` MSRs,
//! and tests fake it. Segment selectors are not modelled: Spindle's user threads always
//! run with null FS/GS selectors, which is also what Linux leaves after ARCH_SET_FS.
//! The 32-bit `set_thread_area`/GDT TLS entries are not provided.
#![cfg_attr(not(test), no_std)]

use syscall::{Errno, SysResult, UserMemory};

/// `ARCH_SET_GS`: set the GS base of the calling thread (asm/prctl.h).
pub const ARCH_SET_GS: u32 = 0x1001;
/// `ARCH_SET_FS`: set the FS base of the calling thread, i.e. its thread pointer.
pub const ARCH_SET_FS: u32 = linux_raw_sys::general::ARCH_SET_FS;
/// `ARCH_GET_FS`: store the FS base at the user address given (asm/prctl.h).
pub const ARCH_GET_FS: u32 = 0x1003;
/// `ARCH_GET_GS`: store the GS base at the user address given (asm/prctl.h).
pub const ARCH_GET_GS: u32 = 0x1004;
/// `ARCH_GET_CPUID`: whether the `cpuid` instruction is enabled for the thread.
pub const ARCH_GET_CPUID: u32 = 0x1011;
/// `ARCH_SET_CPUID`: enable or disable `cpuid` (needs CPUID faulting).
pub const ARCH_SET_CPUID: u32 = 0x1012;

// linux-raw-sys 0.12 exports only ARCH_SET_FS; the other codes above are the values of
// Linux's arch/x86/include/uapi/asm/prctl.h, defined here once.
const _: () = assert!(ARCH_SET_FS == 0x1002);

/// Linux's `TASK_SIZE_MAX` with 4-level paging: `(1 << 47) - PAGE_SIZE`, the first
/// address above the user half (minus the guard page Linux keeps below the hole).
///
/// A TLS base at or above it is refused with `EPERM` (`do_arch_prctl_64`), and user
/// ranges (a `clone3` stack) must end at or below it. Spindle uses 4-level paging, as
/// does the Linux host these rules were checked on.
pub const TASK_SIZE_MAX: u64 = (1 << 47) - 4096;

/// The FS and GS base of one user thread.
///
/// `fs_base` is the thread pointer of the psABI (variant II: the word at `fs_base` holds
/// `fs_base` itself); `gs_base` is unused by the C libraries but kept, as Linux does,
/// for programs that set it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadTls {
    pub fs_base: u64,
    pub gs_base: u64,
}

/// The hardware side of the FS and GS bases of the thread running on this CPU.
///
/// The values are the ones *user mode* sees. While the CPU is in the kernel after
/// `swapgs`, the user GS base sits in `IA32_KERNEL_GS_BASE` (GSBASE holds the per-CPU
/// pointer), so `write_gs_base` must write that MSR, not the live GS base.
pub trait SegmentBases {
    /// Makes `value` the FS base user mode will run with (WRFSBASE or `IA32_FS_BASE`).
    fn write_fs_base(&self, value: u64);

    /// Makes `value` the GS base user mode will run with (`IA32_KERNEL_GS_BASE` while
    /// in the kernel).
    fn write_gs_base(&self, value: u64);

    /// The FS base user mode runs with now. With CR4.FSGSBASE a program may change it
    /// itself with WRFSBASE, so the kernel reads it back instead of trusting its copy.
    fn read_fs_base(&self) -> u64;

    /// The GS base user mode runs with now (see [`SegmentBases::read_fs_base`]).
    fn read_gs_base(&self) -> u64;
}

/// Linux's rule for a new FS or GS base: below [`TASK_SIZE_MAX`], else `EPERM`.
///
/// This also refuses every non-canonical address, which would make WRFSBASE or the
/// WRMSR fault in the kernel.
pub fn check_user_base(base: u64) -> Result<(), Errno> {
    if base >= TASK_SIZE_MAX {
        return Err(Errno::EPERM);
    }
    Ok(())
}

impl ThreadTls {
    /// Bases of a thread that has not set any: both zero, as after `execve`.
    pub const fn new() -> ThreadTls {
        ThreadTls {
            fs_base: 0,
            gs_base: 0,
        }
    }

    /// The bases of a thread created by `clone`: the parent's, except that
    /// `CLONE_SETTLS` (`new_tls = Some(tp)`) replaces the FS base.
    ///
    /// The caller passes the parent's bases as they are now (after [`ThreadTls::save`]
    /// if the parent is running) and checks `tp` with [`check_user_base`] first.
    pub fn for_child(&self, new_tls: Option<u64>) -> ThreadTls {
        ThreadTls {
            fs_base: new_tls.unwrap_or(self.fs_base),
            gs_base: self.gs_base,
        }
    }

    /// Loads both bases into the hardware: called when the thread is switched in.
    pub fn load(&self, hw: &dyn SegmentBases) {
        hw.write_fs_base(self.fs_base);
        hw.write_gs_base(self.gs_base);
    }

    /// Reads both bases back from the hardware: called when the thread is switched out,
    /// so a base the program changed with WRFSBASE/WRGSBASE survives the switch.
    pub fn save(&mut self, hw: &dyn SegmentBases) {
        self.fs_base = hw.read_fs_base();
        self.gs_base = hw.read_gs_base();
    }

    /// Sets the FS base of the calling thread, in the record and in the hardware at
    /// once, so the thread returns to user mode with it.
    pub fn set_fs_base(&mut self, base: u64, hw: &dyn SegmentBases) -> Result<(), Errno> {
        check_user_base(base)?;
        self.fs_base = base;
        hw.write_fs_base(base);
        Ok(())
    }

    /// Sets the GS base of the calling thread (see [`ThreadTls::set_fs_base`]).
    pub fn set_gs_base(&mut self, base: u64, hw: &dyn SegmentBases) -> Result<(), Errno> {
        check_user_base(base)?;
        self.gs_base = base;
        hw.write_gs_base(base);
        Ok(())
    }
}

/// `arch_prctl(code, addr)` for the calling thread, whose bases are `tls` and whose CPU
/// registers `hw` reaches.
///
/// - `ARCH_SET_FS`/`ARCH_SET_GS`: `addr` is the new base; `EPERM` when it is not below
///   [`TASK_SIZE_MAX`]. The change takes effect before the thread returns.
/// - `ARCH_GET_FS`/`ARCH_GET_GS`: write the 64-bit base to user address `addr`;
///   `EFAULT` when that fails.
/// - `ARCH_GET_CPUID`: 1, `cpuid` is always enabled.
/// - `ARCH_SET_CPUID`: `ENODEV`, as Linux answers on a CPU without CPUID faulting (the
///   only kind Spindle drives).
/// - Anything else, including the XSTATE, shadow-stack, LAM and vDSO-mapping codes that
///   Linux also knows: `EINVAL`, as Linux answers for an unknown code. No static glibc,
///   musl or Rust program measured for Spindle uses them.
///
/// Like Linux, which declares the code an `int`, only the low 32 bits of `code` count.
pub fn arch_prctl(
    tls: &mut ThreadTls,
    hw: &dyn SegmentBases,
    mem: &dyn UserMemory,
    code: usize,
    addr: usize,
) -> SysResult {
    match code as u32 {
        ARCH_SET_FS => tls.set_fs_base(addr as u64, hw).map(|()| 0),
        ARCH_SET_GS => tls.set_gs_base(addr as u64, hw).map(|()| 0),
        ARCH_GET_FS => {
            // Read the live base: the program may have moved it with WRFSBASE.
            tls.fs_base = hw.read_fs_base();
            mem.write_u64(addr, tls.fs_base).map(|()| 0)
        }
        ARCH_GET_GS => {
            tls.gs_base = hw.read_gs_base();
            mem.write_u64(addr, tls.gs_base).map(|()| 0)
        }
        ARCH_GET_CPUID => Ok(1),
        ARCH_SET_CPUID => Err(Errno::ENODEV),
        _ => Err(Errno::EINVAL),
    }
}

#[cfg(all(test, target_arch = "x86_64", target_os = "linux"))]
mod host_linux;

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    /// CPU registers of the calling thread, as the kernel's WRFSBASE/MSR code would see.
    #[derive(Default)]
    struct FakeCpu {
        fs_base: Cell<u64>,
        gs_base: Cell<u64>,
    }

    impl SegmentBases for FakeCpu {
        fn write_fs_base(&self, value: u64) {
            self.fs_base.set(value);
        }
        fn write_gs_base(&self, value: u64) {
            self.gs_base.set(value);
        }
        fn read_fs_base(&self) -> u64 {
            self.fs_base.get()
        }
        fn read_gs_base(&self) -> u64 {
            self.gs_base.get()
        }
    }

    /// One page of user memory at `BASE`; everything else faults.
    struct FakeUser {
        bytes: RefCell<Vec<u8>>,
    }

    const BASE: usize = 0x1000;

    impl FakeUser {
        fn new() -> FakeUser {
            FakeUser {
                bytes: RefCell::new(vec![0; 4096]),
            }
        }

        fn range(&self, addr: usize, len: usize) -> Result<core::ops::Range<usize>, Errno> {
            let start = addr.checked_sub(BASE).ok_or(Errno::EFAULT)?;
            let end = start.checked_add(len).ok_or(Errno::EFAULT)?;
            if end > 4096 {
                return Err(Errno::EFAULT);
            }
            Ok(start..end)
        }

        fn u64_at(&self, addr: usize) -> u64 {
            self.read_u64(addr).unwrap()
        }
    }

    impl UserMemory for FakeUser {
        fn read_bytes(&self, addr: usize, dst: &mut [u8]) -> Result<(), Errno> {
            let r = self.range(addr, dst.len())?;
            dst.copy_from_slice(&self.bytes.borrow()[r]);
            Ok(())
        }
        fn write_bytes(&self, addr: usize, src: &[u8]) -> Result<(), Errno> {
            let r = self.range(addr, src.len())?;
            self.bytes.borrow_mut()[r].copy_from_slice(src);
            Ok(())
        }
        fn update_u32(&self, _: usize, _: &mut dyn FnMut(u32) -> u32) -> Result<u32, Errno> {
            Err(Errno::EFAULT)
        }
    }

    fn call(tls: &mut ThreadTls, cpu: &FakeCpu, code: u32, addr: usize) -> SysResult {
        arch_prctl(tls, cpu, &FakeUser::new(), code as usize, addr)
    }

    #[test]
    fn set_fs_updates_record_and_hardware_at_once() {
        let (mut tls, cpu) = (ThreadTls::new(), FakeCpu::default());
        assert_eq!(call(&mut tls, &cpu, ARCH_SET_FS, 0x7f00_1234_5000), Ok(0));
        assert_eq!(tls.fs_base, 0x7f00_1234_5000);
        assert_eq!(cpu.fs_base.get(), 0x7f00_1234_5000);
        assert_eq!(cpu.gs_base.get(), 0, "ARCH_SET_FS leaves GS alone");
    }

    #[test]
    fn set_gs_updates_record_and_hardware_at_once() {
        let (mut tls, cpu) = (ThreadTls::new(), FakeCpu::default());
        assert_eq!(call(&mut tls, &cpu, ARCH_SET_GS, 0x5000), Ok(0));
        assert_eq!((tls.gs_base, cpu.gs_base.get()), (0x5000, 0x5000));
        assert_eq!(tls.fs_base, 0);
    }

    #[test]
    fn set_base_at_or_above_task_size_max_is_eperm_and_changes_nothing() {
        let (mut tls, cpu) = (ThreadTls::new(), FakeCpu::default());
        for bad in [TASK_SIZE_MAX, 1 << 47, 0xffff_8000_0000_0000, u64::MAX] {
            assert_eq!(
                call(&mut tls, &cpu, ARCH_SET_FS, bad as usize),
                Err(Errno::EPERM)
            );
            assert_eq!(
                call(&mut tls, &cpu, ARCH_SET_GS, bad as usize),
                Err(Errno::EPERM)
            );
        }
        assert_eq!(tls, ThreadTls::new());
        assert_eq!((cpu.fs_base.get(), cpu.gs_base.get()), (0, 0));
    }

    #[test]
    fn set_base_just_below_task_size_max_and_zero_are_accepted() {
        let (mut tls, cpu) = (ThreadTls::new(), FakeCpu::default());
        let top = (TASK_SIZE_MAX - 1) as usize;
        assert_eq!(call(&mut tls, &cpu, ARCH_SET_FS, top), Ok(0));
        assert_eq!(call(&mut tls, &cpu, ARCH_SET_FS, 0), Ok(0));
        assert_eq!(tls.fs_base, 0);
    }

    #[test]
    fn get_fs_and_gs_write_the_64_bit_base_through_the_pointer() {
        let (mut tls, cpu, mem) = (ThreadTls::new(), FakeCpu::default(), FakeUser::new());
        tls.set_fs_base(0x7fff_dead_b000, &cpu).unwrap();
        tls.set_gs_base(0x1234_5678_9000, &cpu).unwrap();
        let fs_out = BASE + 8;
        let gs_out = BASE + 16;
        let get =
            |tls: &mut ThreadTls, code: u32, at| arch_prctl(tls, &cpu, &mem, code as usize, at);
        assert_eq!(get(&mut tls, ARCH_GET_FS, fs_out), Ok(0));
        assert_eq!(get(&mut tls, ARCH_GET_GS, gs_out), Ok(0));
        assert_eq!(mem.u64_at(fs_out), 0x7fff_dead_b000);
        assert_eq!(mem.u64_at(gs_out), 0x1234_5678_9000);
    }

    #[test]
    fn get_fs_reports_a_base_the_program_changed_with_wrfsbase() {
        let (mut tls, cpu, mem) = (ThreadTls::new(), FakeCpu::default(), FakeUser::new());
        cpu.fs_base.set(0x4242_0000);
        assert_eq!(
            arch_prctl(&mut tls, &cpu, &mem, ARCH_GET_FS as usize, BASE),
            Ok(0)
        );
        assert_eq!(mem.u64_at(BASE), 0x4242_0000);
        assert_eq!(tls.fs_base, 0x4242_0000);
    }

    #[test]
    fn get_through_bad_pointer_is_efault() {
        let (mut tls, cpu, mem) = (ThreadTls::new(), FakeCpu::default(), FakeUser::new());
        for bad in [0, 8, BASE + 4096 - 4, usize::MAX - 3] {
            let r = arch_prctl(&mut tls, &cpu, &mem, ARCH_GET_FS as usize, bad);
            assert_eq!(r, Err(Errno::EFAULT), "ARCH_GET_FS to {bad:#x}");
            let r = arch_prctl(&mut tls, &cpu, &mem, ARCH_GET_GS as usize, bad);
            assert_eq!(r, Err(Errno::EFAULT), "ARCH_GET_GS to {bad:#x}");
        }
    }

    #[test]
    fn unknown_code_is_einval() {
        let (mut tls, cpu) = (ThreadTls::new(), FakeCpu::default());
        for code in [0, 0x1000, 0x1005, 0x1021, 0x2001, 0x4001, 0x5001, 0x9999] {
            assert_eq!(
                call(&mut tls, &cpu, code, BASE),
                Err(Errno::EINVAL),
                "{code:#x}"
            );
        }
    }

    #[test]
    fn only_low_32_bits_of_code_count() {
        let (mut tls, cpu, mem) = (ThreadTls::new(), FakeCpu::default(), FakeUser::new());
        let code = (1usize << 32) | ARCH_SET_GS as usize;
        assert_eq!(arch_prctl(&mut tls, &cpu, &mem, code, 0x9000), Ok(0));
        assert_eq!(tls.gs_base, 0x9000);
    }

    #[test]
    fn cpuid_is_enabled_and_cannot_be_disabled() {
        let (mut tls, cpu) = (ThreadTls::new(), FakeCpu::default());
        assert_eq!(call(&mut tls, &cpu, ARCH_GET_CPUID, 0), Ok(1));
        assert_eq!(call(&mut tls, &cpu, ARCH_SET_CPUID, 0), Err(Errno::ENODEV));
        assert_eq!(call(&mut tls, &cpu, ARCH_SET_CPUID, 1), Err(Errno::ENODEV));
    }

    #[test]
    fn child_inherits_bases_unless_settls_replaces_fs() {
        let parent = ThreadTls {
            fs_base: 0x1000,
            gs_base: 0x2000,
        };
        assert_eq!(parent.for_child(None), parent);
        let child = parent.for_child(Some(0x3000));
        assert_eq!((child.fs_base, child.gs_base), (0x3000, 0x2000));
    }

    #[test]
    fn switch_out_and_in_preserves_each_threads_bases() {
        let cpu = FakeCpu::default();
        let mut a = ThreadTls::new();
        let b = ThreadTls {
            fs_base: 0xb000,
            gs_base: 0xb100,
        };
        a.set_fs_base(0xa000, &cpu).unwrap();
        // The program moves its own base while running.
        cpu.gs_base.set(0xa100);
        a.save(&cpu);
        b.load(&cpu);
        assert_eq!((cpu.fs_base.get(), cpu.gs_base.get()), (0xb000, 0xb100));
        a.load(&cpu);
        assert_eq!((cpu.fs_base.get(), cpu.gs_base.get()), (0xa000, 0xa100));
    }
}
