//! The initial process stack, laid out as the x86_64 psABI §3.4.1 ("Initial Stack and
//! Register State") and Linux's `create_elf_tables` do.
//!
//! From `rsp` upwards:
//!
//! ```text
//! rsp ->  argc
//!         argv[0] .. argv[argc-1], NULL
//!         envp[0] .. envp[n-1], NULL
//!         auxv pairs (type, value) .. AT_NULL
//!         padding to 16 bytes
//!         16 AT_RANDOM bytes, "x86_64\0" (AT_PLATFORM)
//!         argument strings, environment strings, execfn string (AT_EXECFN)
//!         8 zero bytes (end marker)
//! stack_top
//! ```
//!
//! `rsp` is 16-byte aligned, as the psABI requires at process entry (no return address
//! is pushed).

use alloc::vec;
use alloc::vec::Vec;
use linux_raw_sys::auxvec as at;
use syscall::Errno;

use crate::{LoadPlan, PAGE_SIZE, USER_SPACE_END};

/// The longest single argument or environment string: Linux's `MAX_ARG_STRLEN` (32
/// pages); a longer one makes `execve` fail with `E2BIG`.
pub const MAX_ARG_STRLEN: usize = 32 * PAGE_SIZE as usize;

/// The largest stack image: a quarter of the default 8 MiB `RLIMIT_STACK`, Linux's
/// limit on argument and environment strings.
pub const MAX_STACK_IMAGE: usize = 2 << 20;

/// `AT_PLATFORM` on x86_64.
pub const PLATFORM: &[u8] = b"x86_64";

/// The auxiliary-vector values that are plain numbers (the string and random-byte
/// entries are placed by [`build_initial_stack`] itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuxValues {
    pub phdr: u64,
    pub phent: u64,
    pub phnum: u64,
    pub pagesz: u64,
    pub flags: u64,
    pub entry: u64,
    pub uid: u64,
    pub euid: u64,
    pub gid: u64,
    pub egid: u64,
    pub secure: u64,
    /// CPUID leaf 1 EDX on x86_64.
    pub hwcap: u64,
    /// Bit 1 (`HWCAP2_FSGSBASE`) when the kernel enabled FSGSBASE for user mode.
    pub hwcap2: u64,
    pub clktck: u64,
    /// The smallest signal stack the kernel's signal frame fits in.
    pub minsigstksz: u64,
}

impl AuxValues {
    /// Values for `plan` run as root with no hardware capabilities announced; the kernel
    /// overwrites `hwcap`, `hwcap2` and `minsigstksz` with what the CPU has.
    pub fn for_plan(plan: &LoadPlan) -> AuxValues {
        AuxValues {
            phdr: plan.phdr_vaddr,
            phent: u64::from(plan.phent),
            phnum: u64::from(plan.phnum),
            pagesz: PAGE_SIZE,
            flags: 0,
            entry: plan.entry,
            uid: 0,
            euid: 0,
            gid: 0,
            egid: 0,
            secure: 0,
            hwcap: 0,
            hwcap2: 0,
            // USER_HZ, what times(2) and /proc count in.
            clktck: 100,
            minsigstksz: u64::from(linux_raw_sys::general::MINSIGSTKSZ),
        }
    }
}

/// What the program starts with.
#[derive(Clone, Copy, Debug)]
pub struct StackParams<'a> {
    /// One past the highest stack byte; 16-byte aligned.
    pub stack_top: u64,
    pub argv: &'a [&'a [u8]],
    pub envp: &'a [&'a [u8]],
    /// The path the program was started as (`AT_EXECFN`).
    pub execfn: &'a [u8],
    /// `AT_RANDOM`: 16 bytes from a real random source (libcs seed stack protectors and
    /// pointer guards with them).
    pub random: [u8; 16],
    pub aux: AuxValues,
}

/// The bytes to copy to `[rsp, stack_top)` and the initial `rsp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialStack {
    pub rsp: u64,
    pub bytes: Vec<u8>,
}

/// Lays out argc, argv, envp, auxv and their strings below `stack_top`.
///
/// Errors: `E2BIG` when a string is longer than [`MAX_ARG_STRLEN`] or everything is
/// larger than [`MAX_STACK_IMAGE`] (as execve(2)); `EINVAL` for a string holding a NUL
/// byte (it cannot be represented) or a misaligned or non-user `stack_top`.
pub fn build_initial_stack(params: &StackParams<'_>) -> Result<InitialStack, Errno> {
    let top = params.stack_top;
    if !top.is_multiple_of(16) || top > USER_SPACE_END || top < MAX_STACK_IMAGE as u64 {
        return Err(Errno::EINVAL);
    }
    for s in params
        .argv
        .iter()
        .chain(params.envp)
        .chain([&params.execfn])
    {
        if s.len() > MAX_ARG_STRLEN {
            return Err(Errno::E2BIG);
        }
        if s.contains(&0) {
            return Err(Errno::EINVAL);
        }
    }
    // Strings plus a pointer each, plus execfn, platform, random bytes, auxv and padding:
    // bounding this first keeps every subtraction below `stack_top` from underflowing.
    let string_bytes: usize = params
        .argv
        .iter()
        .chain(params.envp)
        .map(|s| s.len() + 1)
        .sum();
    let pointers = params.argv.len() + params.envp.len() + 3;
    let fixed = params.execfn.len() + PLATFORM.len() + 2 + 16 + 8 + 2 * 8 * 32 + 32;
    if string_bytes + 8 * pointers + fixed > MAX_STACK_IMAGE {
        return Err(Errno::E2BIG);
    }

    // The block of strings, in ascending address order, ending at stack_top.
    let mut block = Vec::with_capacity(string_bytes + params.execfn.len() + 40);
    block.extend_from_slice(&params.random);
    let platform_offset = block.len();
    push_c_string(&mut block, PLATFORM);
    let argv_offsets = push_strings(&mut block, params.argv);
    let envp_offsets = push_strings(&mut block, params.envp);
    let execfn_offset = block.len();
    push_c_string(&mut block, params.execfn);
    block.extend_from_slice(&[0; 8]);
    let block_start = top - block.len() as u64;
    let at = |offset: usize| block_start + offset as u64;

    let auxv = [
        (at::AT_MINSIGSTKSZ, params.aux.minsigstksz),
        (at::AT_HWCAP, params.aux.hwcap),
        (at::AT_PAGESZ, params.aux.pagesz),
        (at::AT_CLKTCK, params.aux.clktck),
        (at::AT_PHDR, params.aux.phdr),
        (at::AT_PHENT, params.aux.phent),
        (at::AT_PHNUM, params.aux.phnum),
        // The interpreter's base: a static program has none.
        (at::AT_BASE, 0),
        (at::AT_FLAGS, params.aux.flags),
        (at::AT_ENTRY, params.aux.entry),
        (at::AT_UID, params.aux.uid),
        (at::AT_EUID, params.aux.euid),
        (at::AT_GID, params.aux.gid),
        (at::AT_EGID, params.aux.egid),
        (at::AT_SECURE, params.aux.secure),
        (at::AT_RANDOM, at(0)),
        (at::AT_HWCAP2, params.aux.hwcap2),
        (at::AT_EXECFN, at(execfn_offset)),
        (at::AT_PLATFORM, at(platform_offset)),
        (at::AT_NULL, 0),
    ];

    let mut words: Vec<u64> = Vec::new();
    words.push(params.argv.len() as u64);
    words.extend(argv_offsets.iter().map(|&o| at(o)));
    words.push(0);
    words.extend(envp_offsets.iter().map(|&o| at(o)));
    words.push(0);
    for (key, value) in auxv {
        words.extend([u64::from(key), value]);
    }

    let rsp = (block_start & !15) - 8 * words.len() as u64;
    let rsp = rsp & !15;
    let size = (top - rsp) as usize;
    let mut bytes = vec![0u8; size];
    for (i, word) in words.iter().enumerate() {
        bytes[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
    }
    let block_at = (block_start - rsp) as usize;
    bytes[block_at..].copy_from_slice(&block);
    Ok(InitialStack { rsp, bytes })
}

fn push_c_string(block: &mut Vec<u8>, s: &[u8]) {
    block.extend_from_slice(s);
    block.push(0);
}

fn push_strings(block: &mut Vec<u8>, strings: &[&[u8]]) -> Vec<usize> {
    strings
        .iter()
        .map(|s| {
            let offset = block.len();
            push_c_string(block, s);
            offset
        })
        .collect()
}
