//! The program: its address space, files, signal dispositions, futexes, and how it
//! starts and ends.
//!
//! Spindle runs one program per boot, so there is one process; it ends the VM when it
//! ends (exit_group, the last thread's exit, or a fatal signal), reporting its status.

use crate::memory::{UserPageTable, user_range_ok};
use crate::thread::{self, Thread};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use mm::{AddressSpace, Fault, Layout, Prot, VmaKind};
use spin::{Mutex, MutexGuard, Once};
use syscall::{Errno, UserMemory};

/// Where a static-PIE program is loaded (Linux puts ET_DYN programs near 2/3 of the
/// address space; any free, aligned spot works).
const PIE_BASE: u64 = 0x5555_5555_4000;
/// The main thread's stack: 8 MiB (RLIMIT_STACK's default) below the top of user space,
/// demand-paged.
pub const STACK_SIZE: usize = 8 << 20;
const STACK_TOP: u64 = mm::TASK_SIZE as u64;

pub struct Process {
    pub pid: u32,
    pub mm: Mutex<AddressSpace<UserPageTable>>,
    pub pml4: u64,
    pub futexes: futex::FutexTable<Arc<Thread>>,
    pub files: Mutex<crate::files::FdTable>,
    pub exe: String,
    /// Signal dispositions (rt_sigaction), shared by all threads (CLONE_SIGHAND).
    pub actions: Mutex<[signal::SigAction; signal::NSIG]>,
    /// Signals sent to the process (kill) and not yet taken by a thread.
    pub sig_pending: core::sync::atomic::AtomicU64,
    exiting: AtomicBool,
}

static PROCESS: Once<Process> = Once::new();

/// The running program (panics if asked before one started: only kernel bugs do).
pub fn get() -> &'static Process {
    match PROCESS.get() {
        Some(p) => p,
        None => panic!("process: no program yet"),
    }
}

/// The running program, if one started.
pub fn try_get() -> Option<&'static Process> {
    PROCESS.get()
}

/// `/proc/self/maps` (proc(5)): one line per VMA. glibc's `pthread_getattr_np` finds
/// the main thread's stack here, and Rust's std uses that to recognise a stack overflow.
pub fn maps() -> Vec<u8> {
    use core::fmt::Write;
    let p = get();
    let mut out = String::new();
    for v in p.lock_mm().vmas() {
        let r = if v.prot.readable() { 'r' } else { '-' };
        let w = if v.prot.writable() { 'w' } else { '-' };
        let x = if v.prot.executable() { 'x' } else { '-' };
        let name = match v.kind {
            VmaKind::Stack if v.end as u64 == STACK_TOP => "[stack]",
            VmaKind::Heap => "[heap]",
            VmaKind::Elf => p.exe.as_str(),
            _ => "",
        };
        let offset = v.backing.as_ref().map_or(0, |b| b.offset);
        let _ = writeln!(
            out,
            "{:08x}-{:08x} {r}{w}{x}p {offset:08x} 00:00 0 {:>20}{name}",
            v.start, v.end, ""
        );
    }
    out.into_bytes()
}

/// The address-space id futex keys use.
pub const AS_ID: u64 = 1;

impl Process {
    /// Locks the address space; while waiting, keeps answering TLB shootdowns, because
    /// the holder may be waiting for this CPU's acknowledgement.
    pub fn lock_mm(&self) -> MutexGuard<'_, AddressSpace<UserPageTable>> {
        loop {
            if let Some(g) = self.mm.try_lock() {
                return g;
            }
            crate::smp::serve_requests();
            core::hint::spin_loop();
        }
    }
}

/// Loads the current address space on this CPU (every thread shares the one).
pub fn activate_address_space() {
    if let Some(p) = PROCESS.get()
        && arch::cpu::cr3() & !0xfff != p.pml4
    {
        // SAFETY: the PML4 shares the kernel half with the current one.
        unsafe { arch::cpu::write_cr3(p.pml4) };
    }
}

/// Demand paging for a fault at `addr` (from ring 3, or from a user copy).
pub fn handle_user_fault(addr: u64, access: mm::Access) -> Result<(), Fault> {
    let Some(p) = PROCESS.get() else {
        return Err(Fault::MapErr);
    };
    if addr >= crate::memory::USER_TOP {
        return Err(Fault::MapErr);
    }
    p.lock_mm().handle_fault(addr as usize, access)
}

/// Ends the program with `status` (exit_group, last exit, fatal signal): ends the VM.
pub fn exit_program(status: i32) -> ! {
    if let Some(p) = PROCESS.get()
        && p.exiting.swap(true, Ordering::SeqCst)
    {
        // Another thread is already ending the program; stop here.
        crate::smp::park_this_cpu();
    }
    crate::smp::stop_other_cpus();
    crate::exit_vm(status)
}

/// The user memory of the running program, for the logic crates.
pub struct CurrentUser;

impl UserMemory for CurrentUser {
    fn read_bytes(&self, addr: usize, dst: &mut [u8]) -> Result<(), Errno> {
        if !user_range_ok(addr as u64, dst.len() as u64) {
            return Err(Errno::EFAULT);
        }
        // SAFETY: the user range is checked to lie in the user half; a fault there is
        // recovered by the page-fault handler and reported as a short copy.
        let left =
            unsafe { arch::entry::copy_user_raw(dst.as_mut_ptr(), addr as *const u8, dst.len()) };
        if left == 0 {
            Ok(())
        } else {
            Err(Errno::EFAULT)
        }
    }

    fn write_bytes(&self, addr: usize, src: &[u8]) -> Result<(), Errno> {
        if !user_range_ok(addr as u64, src.len() as u64) {
            return Err(Errno::EFAULT);
        }
        // SAFETY: as for read_bytes.
        let left = unsafe { arch::entry::copy_user_raw(addr as *mut u8, src.as_ptr(), src.len()) };
        if left == 0 {
            Ok(())
        } else {
            Err(Errno::EFAULT)
        }
    }

    fn update_u32(&self, addr: usize, op: &mut dyn FnMut(u32) -> u32) -> Result<u32, Errno> {
        if !addr.is_multiple_of(4) || !user_range_ok(addr as u64, 4) {
            return Err(Errno::EFAULT);
        }
        let mut old = self.read_u32(addr)?;
        loop {
            let new = op(old);
            // SAFETY: aligned and in the user half; faults are recovered.
            match unsafe { arch::entry::cmpxchg_user_raw(addr as *mut u32, old, new) } {
                Ok(seen) if seen == old => return Ok(old),
                Ok(seen) => old = seen,
                Err(()) => return Err(Errno::EFAULT),
            }
        }
    }
}

/// Reads a NUL-terminated string of at most `max` bytes from user memory.
pub fn read_c_string(addr: usize, max: usize) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 64];
    let mut at = addr;
    loop {
        // Read up to the end of the page, so an unmapped next page does not fault early.
        let page_left = 4096 - (at % 4096);
        let n = chunk.len().min(page_left);
        CurrentUser.read_bytes(at, &mut chunk[..n])?;
        if let Some(pos) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..pos]);
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        if out.len() > max {
            return Err(Errno::ENAMETOOLONG);
        }
        at += n;
    }
}

/// Loads the program at `path` from the initrd and starts its main thread.
pub fn start(path: &str, argv: &[String], envp: &[String]) -> Result<(), String> {
    let image = crate::files::initrd_file(path)
        .ok_or_else(|| alloc::format!("{path}: no such file in the initrd"))?;
    let plan = elf_loader::plan(image, PIE_BASE).map_err(|e| alloc::format!("{path}: {e}"))?;
    let pml4 = crate::memory::new_user_pml4().ok_or("out of memory")?;
    let mut space = AddressSpace::new(UserPageTable::new(pml4), Layout::linux_default());

    // PT_LOAD segments are mapped from the image and paged in on first touch, as on Linux:
    // a page dropped by MADV_DONTNEED reads the file again. mm handles pages two segments
    // share and the .bss tail of the last file page.
    let segments: Vec<mm::ElfSegment> = plan
        .segments
        .iter()
        .map(|seg| mm::ElfSegment {
            vaddr: seg.vaddr as usize,
            memsz: seg.memsz as usize,
            offset: seg.file_offset,
            filesz: seg.filesz,
            prot: Prot::from_bits_truncate(seg.prot.to_mmap_prot()),
        })
        .collect();
    let file = crate::memory::initrd_file_handle(image);
    space
        .map_elf_segments(&file, &segments)
        .map_err(|e| alloc::format!("{path}: cannot map the segments: {e}"))?;
    space.set_brk_start(plan.brk_start as usize);

    let stack_base = STACK_TOP as usize - STACK_SIZE;
    // PT_GNU_STACK asks for an executable stack (gcc's nested-function trampolines live
    // there); Linux then maps the main stack with PROT_EXEC.
    let stack_prot = if plan.executable_stack {
        Prot::READ_WRITE | Prot::EXEC
    } else {
        Prot::READ_WRITE
    };
    space
        .map_fixed_region(stack_base, STACK_SIZE, stack_prot, VmaKind::Stack)
        .map_err(|e| alloc::format!("stack: {e}"))?;
    let mut aux = elf_loader::AuxValues::for_plan(&plan);
    aux.hwcap = crate::cpu::hwcap();
    aux.hwcap2 = 0;
    let argv_b: Vec<&[u8]> = argv.iter().map(|s| s.as_bytes()).collect();
    let envp_b: Vec<&[u8]> = envp.iter().map(|s| s.as_bytes()).collect();
    let mut random = [0u8; 16];
    crate::random::fill(&mut random);
    let params = elf_loader::StackParams {
        stack_top: STACK_TOP - 4096,
        argv: &argv_b,
        envp: &envp_b,
        execfn: path.as_bytes(),
        random,
        aux,
    };
    let stack = elf_loader::build_initial_stack(&params)
        .map_err(|e| alloc::format!("initial stack: {e}"))?;
    space
        .populate(stack.rsp as usize, &stack.bytes)
        .map_err(|e| alloc::format!("initial stack: {e}"))?;

    PROCESS.call_once(|| Process {
        pid: 1,
        mm: Mutex::new(space),
        pml4,
        futexes: futex::FutexTable::new(),
        files: Mutex::new(crate::files::FdTable::with_console()),
        exe: String::from(path),
        actions: Mutex::new([signal::SigAction::default(); signal::NSIG]),
        sig_pending: core::sync::atomic::AtomicU64::new(0),
        exiting: AtomicBool::new(false),
    });
    let frame = syscall::Frame {
        rip: plan.entry,
        rsp: stack.rsp,
        cs: arch::USER_CS as u64,
        ss: arch::USER_DS as u64,
        rflags: 0x202,
        vector: u64::MAX,
        ..Default::default()
    };
    let main = thread::spawn_stopped(&frame, None, tls::ThreadTls::new())
        .map_err(|e| alloc::format!("main thread: {e}"))?;
    thread::start(&main, None);
    Ok(())
}
