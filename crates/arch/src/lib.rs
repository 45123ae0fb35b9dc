//! x86_64 CPU plumbing: descriptor tables, entry stubs, context switch, user copies, APIC.
//!
//! With `boot`, this is the only crate that executes privileged instructions. It owns:
//!
//! - [`percpu`]: the per-CPU block reached through `GS` (kernel GS base), whose first
//!   fields the assembly reads at fixed offsets;
//! - [`gdt`]: a GDT and TSS per CPU (IST stacks for NMI, double fault, machine check);
//! - [`idt`]: 256 interrupt stubs that save a [`syscall::Frame`] and the `xsave` area
//!   and call the kernel's `trap_handler`;
//! - [`entry`]: the `syscall` entry (`LSTAR`), the return to ring 3 (`sysretq`, or
//!   `iretq` when `sysretq` is unsafe), the kernel context switch, and the user-copy
//!   routines whose faults the page-fault handler turns into `EFAULT`;
//! - [`cpu`]: CPUID features, control registers, MSRs, TSC;
//! - [`apic`]: the local APIC (timer, IPIs, EOI) in xAPIC MMIO mode.
//!
//! Invariants (Intel SDM vol. 3, ch. 5–6 and 7; AMD APM vol. 2 for `syscall`):
//! kernel code runs with interrupts off except in the idle loop; user state (general
//! registers and the full `xsave` area) is saved on every entry from ring 3 before any
//! Rust runs, because the prebuilt `core` uses SSE; while in the kernel, `GS.base` is
//! the per-CPU block and `IA32_KERNEL_GS_BASE` holds the user's GS base.
#![no_std]

pub mod apic;
pub mod cpu;
pub mod entry;
pub mod gdt;
pub mod idt;
pub mod percpu;

/// Selectors (GDT layout fixed by `sysret`: user data = STAR.base + 8, user code + 16).
pub const KERNEL_CS: u16 = 0x08;
pub const KERNEL_DS: u16 = 0x10;
pub const USER_DS: u16 = 0x1b;
pub const USER_CS: u16 = 0x23;
pub const TSS_SEL: u16 = 0x28;
