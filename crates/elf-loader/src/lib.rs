//! Loading static x86_64 Linux executables: from the bytes of an ELF file to a
//! [`LoadPlan`] (which segments to map where, with which protection, where the program
//! break starts, what goes in the auxiliary vector), and the initial stack
//! ([`build_initial_stack`]): argc, argv, envp, auxv and their strings.
//!
//! It owns the validation of everything the file says: a damaged or hostile image gives
//! a [`LoadError`] (errno `ENOEXEC`), never a panic. It does not map memory, allocate
//! frames or copy bytes into an address space: the kernel does that from the plan.
//!
//! Accepted: `ET_EXEC` and static-PIE `ET_DYN` (no `PT_INTERP`), 64-bit, little-endian,
//! `EM_X86_64`. Refused: dynamically linked programs (the error names the interpreter).
//!
//! Follows: the System V gABI (ELF header and program headers), the x86_64 psABI §3.4
//! (process initialisation, initial stack, auxiliary vector), and what Linux's
//! `fs/binfmt_elf.c` enforces (`e_phentsize`, table size, `mmap_min_addr`,
//! `TASK_SIZE_MAX`). Header parsing uses the `elf` crate, which never panics nor needs
//! an aligned buffer (the initrd hands out file data that is only 4-byte aligned).
//!
//! The kernel calls `plan(image, DEFAULT_PIE_BASE)`, maps each [`Segment`], then
//! `build_initial_stack` with `AuxValues::for_plan(&plan)` (plus the CPU's `hwcap`),
//! copies `bytes` to `rsp` and enters `plan.entry` with that `rsp` and `rdx = 0`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod error;
mod plan;
mod stack;

pub use error::LoadError;
pub use plan::{
    DEFAULT_PIE_BASE, ElfKind, LoadPlan, MIN_LOAD_ADDR, PAGE_SIZE, Prot, Segment, Tls,
    USER_SPACE_END, plan,
};
pub use stack::{
    AuxValues, InitialStack, MAX_ARG_STRLEN, MAX_STACK_IMAGE, PLATFORM, StackParams,
    build_initial_stack,
};
