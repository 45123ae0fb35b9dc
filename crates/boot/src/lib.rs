//! PVH entry: from QEMU's 32-bit hand-off to Rust in long mode, and the boot information.
//!
//! QEMU (`-kernel` on `-M microvm`) finds the entry point in the ELF note of type
//! `XEN_ELFNOTE_PHYS32_ENTRY` (18) and jumps there in 32-bit protected mode, paging off,
//! with `ebx` holding the physical address of `struct hvm_start_info` (Xen's
//! `arch-x86/hvm/start_info.h`, "PVH boot ABI"). This crate owns:
//!
//! - the note and the 32-bit entry stub, which builds early page tables, enables PAE,
//!   long mode and NX, and jumps to the kernel's high half;
//! - the 64-bit stub, which enables SSE and the XSAVE/AVX state (the prebuilt `core` uses
//!   SSE everywhere, libcs pick AVX code paths from CPUID and XCR0) before any Rust runs;
//! - [`ap`]: the real-mode trampoline that brings an application processor to long mode
//!   (with the same FPU/XSAVE set-up) and into a kernel entry point;
//! - [`BootInfo`]: the memory map, command line and initrd copied out of `hvm_start_info`
//!   (which lies in ordinary RAM and would otherwise be handed out by the allocator).
//!
//! Memory layout set up here (the kernel replaces none of it):
//!
//! - the kernel image, linked at `KERNEL_BASE + 1 MiB`, loaded at physical 1 MiB;
//! - the first 4 GiB of physical memory mapped at [`PHYS_OFFSET`] with 2 MiB pages
//!   (the part above 3 GiB uncached: that is where the APICs live), and identity-mapped
//!   for the jump to high addresses and for application-processor start-up.
//!
//! It does not set up the GDT, IDT or TSS (the `arch` crate does) and calls
//! `kernel_main(&BootInfo)`, which the kernel crate defines.
#![no_std]

pub mod ap;
mod entry;
pub mod info;

pub use info::{BootInfo, MAX_REGIONS, MemoryRegion};

/// Where the kernel image is linked (top 2 GiB, code model `kernel`).
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;

/// Where physical memory is mapped: physical address `p` is at `PHYS_OFFSET + p`.
pub const PHYS_OFFSET: u64 = 0xffff_8000_0000_0000;

/// How much physical memory the boot page tables map at [`PHYS_OFFSET`].
pub const PHYS_MAPPED: u64 = 4 << 30;

/// The boot PML4's physical address (the kernel half of every address space copies it).
pub fn boot_pml4_phys() -> u64 {
    unsafe extern "C" {
        static boot_pml4: u8;
    }
    let virt = &raw const boot_pml4 as u64;
    virt - KERNEL_BASE
}
