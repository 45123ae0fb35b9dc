//! Per-CPU bring-up shared by the boot CPU and the application processors.

use alloc::boxed::Box;
use arch::percpu::PerCpu;
use core::sync::atomic::Ordering;
use spin::Once;

static FEATURES: Once<arch::cpu::Features> = Once::new();

/// The features read on the boot CPU (all CPUs are alike under QEMU).
pub fn features() -> &'static arch::cpu::Features {
    FEATURES.call_once(arch::cpu::features)
}

/// Bytes of an IST stack.
const IST_SIZE: usize = 16 * 1024;

/// Sets up this CPU: features, GDT/TSS with IST stacks, IDT, syscall MSRs, GS.
pub fn init_this_cpu(cpu_id: u64, apic_id: u64) {
    let f = *features();
    arch::cpu::enable_features(&f);
    let block: &'static mut PerCpu = Box::leak(Box::new(PerCpu::new(cpu_id, apic_id)));
    for ist in 0..3 {
        let stack: &'static mut [u8] = Box::leak(alloc::vec![0u8; IST_SIZE].into_boxed_slice());
        let top = (stack.as_ptr() as u64 + IST_SIZE as u64) & !15;
        block.tss.ist[ist] = top;
    }
    // SAFETY: the block is leaked ('static) and belongs to this CPU; its GDT and TSS
    // stay in place forever.
    unsafe {
        let gdt = &mut *(&raw mut block.gdt);
        let tss = &*(&raw const block.tss);
        arch::gdt::load(gdt, tss);
        arch::percpu::install(block);
    }
    arch::idt::load();
    arch::entry::init_syscall();
}

/// The extended state a new program starts with: the CPU's state after `fninit` and
/// the default MXCSR (captured once; XSAVE writes the header the area needs).
static INITIAL_EXT: Once<alloc::vec::Vec<u8>> = Once::new();

fn initial_ext() -> &'static [u8] {
    INITIAL_EXT.call_once(|| {
        let size = arch::cpu::XSAVE_SIZE.load(Ordering::Relaxed) as usize;
        let mut area = alloc::vec![0u8; size + 64];
        let off = area.as_ptr().align_offset(64);
        let p = area[off..].as_mut_ptr();
        let xsave = arch::cpu::HAS_XSAVE.load(Ordering::Relaxed);
        // SAFETY: `p` is 64-byte aligned with `size` bytes, header zeroed above; the
        // x87/SSE state is reset first so the image is the architectural initial state.
        unsafe {
            core::arch::asm!(
                "fninit",
                "sub rsp, 8",
                "mov dword ptr [rsp], 0x1f80",
                "ldmxcsr [rsp]",
                "add rsp, 8"
            );
            if xsave {
                core::arch::asm!("xsave64 [{}]", in(reg) p, in("eax") u32::MAX, in("edx") u32::MAX);
            } else {
                core::arch::asm!("fxsave64 [{}]", in(reg) p);
            }
        }
        area[off..off + size].to_vec()
    })
}

/// Writes the initial extended state into a new thread's save areas: XMM registers
/// zero and MXCSR at its default (0x1f80: all exceptions masked, round to nearest) in
/// the SSE area, the architectural initial state in the xsave area.
///
/// # Safety
/// `sse` must be writable for `SSE_AREA_SIZE` bytes, `ext` for `XSAVE_SIZE` bytes.
pub unsafe fn write_initial_ext_state(sse: *mut u8, ext: *mut u8) {
    let src = initial_ext();
    // SAFETY: forwarded from the caller; `src` holds XSAVE_SIZE bytes; MXCSR sits at
    // offset 0x100 of the SSE area (see arch::entry).
    unsafe {
        core::ptr::write_bytes(sse, 0, arch::entry::SSE_AREA_SIZE as usize);
        core::ptr::write_unaligned(sse.add(0x100) as *mut u32, 0x1f80);
        core::ptr::copy_nonoverlapping(src.as_ptr(), ext, src.len());
    }
}

/// FS/GS base access for the `tls` crate.
pub struct HwSegments;

impl tls::SegmentBases for HwSegments {
    fn write_fs_base(&self, value: u64) {
        arch::cpu::write_fs_base(value);
    }

    fn write_gs_base(&self, value: u64) {
        arch::cpu::write_user_gs_base(value);
    }

    fn read_fs_base(&self) -> u64 {
        arch::cpu::read_fs_base()
    }

    fn read_gs_base(&self) -> u64 {
        arch::cpu::read_user_gs_base()
    }
}

/// AT_HWCAP: CPUID.1:EDX, as Linux reports it on x86.
pub fn hwcap() -> u64 {
    core::arch::x86_64::__cpuid(1).edx as u64
}
