//! CPUID features, control registers, MSRs and the TSC.

use core::arch::asm;
use core::arch::x86_64::__cpuid_count;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub const MSR_EFER: u32 = 0xc000_0080;
pub const MSR_STAR: u32 = 0xc000_0081;
pub const MSR_LSTAR: u32 = 0xc000_0082;
pub const MSR_SFMASK: u32 = 0xc000_0084;
pub const MSR_FS_BASE: u32 = 0xc000_0100;
pub const MSR_GS_BASE: u32 = 0xc000_0101;
pub const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;
pub const MSR_APIC_BASE: u32 = 0x1b;

/// CPU features Spindle uses, read once on the boot CPU.
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    pub xsave: bool,
    pub avx: bool,
    pub smep: bool,
    pub smap: bool,
    pub fsgsbase: bool,
    pub nx: bool,
    pub rdrand: bool,
    pub x2apic: bool,
    /// Bytes of the `xsave` area for the components enabled in XCR0 (512 for `fxsave`).
    pub xsave_size: u32,
    pub xcr0: u64,
}

/// Whether `stac`/`clac` must bracket user accesses (SMAP is on).
pub static SMAP_ON: AtomicBool = AtomicBool::new(false);
/// Whether thread switches use `xsave` (else `fxsave`).
pub static HAS_XSAVE: AtomicBool = AtomicBool::new(false);
/// XCR0 as the boot stub set it (the components XSAVE handles).
pub static XCR0: AtomicU64 = AtomicU64::new(0);
/// Size of a thread's `xsave` area (64-byte multiple); the entry stubs skip it.
#[unsafe(no_mangle)]
pub static XSAVE_SIZE: AtomicU64 = AtomicU64::new(512);

fn cpuid(leaf: u32, sub: u32) -> (u32, u32, u32, u32) {
    let r = __cpuid_count(leaf, sub);
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// Reads the features of this CPU.
pub fn features() -> Features {
    let (max, ..) = cpuid(0, 0);
    let (_, _, c1, _) = cpuid(1, 0);
    let (_, b7, _, _) = if max >= 7 { cpuid(7, 0) } else { (0, 0, 0, 0) };
    let (maxext, ..) = cpuid(0x8000_0000, 0);
    let (_, _, _, dext) = if maxext >= 0x8000_0001 {
        cpuid(0x8000_0001, 0)
    } else {
        (0, 0, 0, 0)
    };
    let xsave = c1 & (1 << 26) != 0;
    let mut f = Features {
        xsave,
        avx: c1 & (1 << 28) != 0,
        smep: b7 & (1 << 7) != 0,
        smap: b7 & (1 << 20) != 0,
        fsgsbase: b7 & 1 != 0,
        nx: dext & (1 << 20) != 0,
        rdrand: c1 & (1 << 30) != 0,
        x2apic: c1 & (1 << 21) != 0,
        xsave_size: 512,
        xcr0: 0,
    };
    if xsave {
        // XCR0 was set by the boot stub; leaf 0xd EBX is the size for what XCR0 enables.
        let (_, size, ..) = cpuid(0xd, 0);
        f.xsave_size = (size + 63) & !63;
        f.xcr0 = xgetbv0();
    }
    f
}

fn xgetbv0() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: only called when CPUID reports XSAVE and CR4.OSXSAVE was set at boot.
    unsafe { asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (hi as u64) << 32 | lo as u64
}

/// Enables SMEP, SMAP and FSGSBASE where present, records the save-area size, and turns
/// on `syscall` in EFER. Runs on every CPU.
pub fn enable_features(f: &Features) {
    let mut cr4: u64;
    // SAFETY: reading CR4 has no side effect.
    unsafe { asm!("mov {}, cr4", out(reg) cr4, options(nomem, nostack)) };
    if f.smep {
        cr4 |= 1 << 20;
    }
    if f.smap {
        cr4 |= 1 << 21;
    }
    if f.fsgsbase {
        cr4 |= 1 << 16;
    }
    // SAFETY: sets only bits for features CPUID reports; SMAP is honoured by the copy
    // routines through SMAP_ON, stored before any user access happens.
    unsafe { asm!("mov cr4, {}", in(reg) cr4, options(nomem, nostack)) };
    SMAP_ON.store(f.smap, Ordering::Relaxed);
    crate::entry::set_smap(f.smap);
    HAS_XSAVE.store(f.xsave, Ordering::Relaxed);
    XSAVE_SIZE.store(f.xsave_size as u64, Ordering::Relaxed);
    XCR0.store(f.xcr0, Ordering::Relaxed);
    // SAFETY: EFER.SCE enables the syscall instruction; NXE was set by the boot stub.
    unsafe { wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1) };
}

/// # Safety
/// `msr` must exist on this CPU.
pub unsafe fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: forwarded from the caller.
    unsafe { asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (hi as u64) << 32 | lo as u64
}

/// # Safety
/// `msr` must exist and `value` must be valid for it; the effect is the caller's concern.
pub unsafe fn wrmsr(msr: u32, value: u64) {
    // SAFETY: forwarded from the caller.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32,
             options(nomem, nostack))
    };
}

/// The time-stamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc is unprivileged unless CR4.TSD is set, which Spindle never sets.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// A hardware random number, if the CPU has RDRAND and it delivers.
pub fn rdrand() -> Option<u64> {
    for _ in 0..16 {
        let (v, ok): (u64, u8);
        // SAFETY: only called after CPUID reported RDRAND.
        unsafe {
            asm!("rdrand {}", "setc {}", out(reg) v, out(reg_byte) ok, options(nomem, nostack))
        };
        if ok != 0 {
            return Some(v);
        }
    }
    None
}

/// Current CR2 (faulting linear address of the last page fault).
pub fn cr2() -> u64 {
    let v: u64;
    // SAFETY: reading CR2 has no side effect.
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nomem, nostack)) };
    v
}

/// Current CR3.
pub fn cr3() -> u64 {
    let v: u64;
    // SAFETY: reading CR3 has no side effect.
    unsafe { asm!("mov {}, cr3", out(reg) v, options(nomem, nostack)) };
    v
}

/// Loads CR3 (switches address space, flushing non-global TLB entries).
///
/// # Safety
/// `pml4` must be a valid PML4 that maps the kernel half exactly like the current one.
pub unsafe fn write_cr3(pml4: u64) {
    // SAFETY: forwarded from the caller.
    unsafe { asm!("mov cr3, {}", in(reg) pml4, options(nostack)) };
}

/// Invalidates the TLB entry for `va` on this CPU.
pub fn invlpg(va: u64) {
    // SAFETY: invlpg has no effect beyond dropping a cached translation.
    unsafe { asm!("invlpg [{}]", in(reg) va, options(nostack)) };
}

/// Writes this thread's FS base (`wrfsbase` needs CR4.FSGSBASE; the MSR always works).
pub fn write_fs_base(v: u64) {
    // SAFETY: IA32_FS_BASE exists on every x86_64 CPU; the value is canonical (checked
    // by arch_prctl and clone before it gets here).
    unsafe { wrmsr(MSR_FS_BASE, v) };
}

/// Reads this CPU's FS base.
pub fn read_fs_base() -> u64 {
    // SAFETY: IA32_FS_BASE exists on every x86_64 CPU.
    unsafe { rdmsr(MSR_FS_BASE) }
}

/// While in the kernel, the user's GS base sits in IA32_KERNEL_GS_BASE (see `swapgs`).
pub fn write_user_gs_base(v: u64) {
    // SAFETY: as for write_fs_base.
    unsafe { wrmsr(MSR_KERNEL_GS_BASE, v) };
}

/// Reads the user's GS base (valid while in the kernel).
pub fn read_user_gs_base() -> u64 {
    // SAFETY: the MSR exists on every x86_64 CPU.
    unsafe { rdmsr(MSR_KERNEL_GS_BASE) }
}

/// Interrupts on, halt until one arrives, interrupts off: the idle loop's only wait.
pub fn idle_wait() {
    // SAFETY: `sti; hlt` is atomic with respect to interrupts (the sti shadow), so no
    // wake-up interrupt is lost between the check and the halt; handlers save all state.
    unsafe { asm!("sti", "hlt", "cli", options(nomem, nostack)) };
}

/// Disables interrupts.
pub fn cli() {
    // SAFETY: masking interrupts cannot break memory safety.
    unsafe { asm!("cli", options(nomem, nostack)) };
}

/// Stops this CPU for good.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: as for cli; hlt with interrupts off parks the CPU.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

/// Writes a byte to an I/O port.
///
/// # Safety
/// The port write must not break memory safety (device programming is the caller's).
pub unsafe fn outb(port: u16, v: u8) {
    // SAFETY: forwarded from the caller.
    unsafe { asm!("out dx, al", in("dx") port, in("al") v, options(nomem, nostack)) };
}

/// Writes a 32-bit value to an I/O port.
///
/// # Safety
/// As for [`outb`].
pub unsafe fn outl(port: u16, v: u32) {
    // SAFETY: forwarded from the caller.
    unsafe { asm!("out dx, eax", in("dx") port, in("eax") v, options(nomem, nostack)) };
}

/// Reads a byte from an I/O port.
///
/// # Safety
/// As for [`outb`].
pub unsafe fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: forwarded from the caller.
    unsafe { asm!("in al, dx", in("dx") port, out("al") v, options(nomem, nostack)) };
    v
}

/// The components the entry stubs leave live in the CPU (all but SSE).
fn upper_mask() -> u64 {
    XCR0.load(Ordering::Relaxed) & !2
}

/// Saves the extended-state components the entry stubs do not (x87, AVX, ...) into a
/// thread's `xsave` area, when it is switched out or cloned.
///
/// # Safety
/// `area` must be the thread's 64-byte-aligned save area of `XSAVE_SIZE` bytes.
pub unsafe fn save_upper_state(area: *mut u8) {
    if !HAS_XSAVE.load(Ordering::Relaxed) {
        // SAFETY: as below; FXSAVE writes 512 bytes (x87 and SSE; the SSE part is unused).
        unsafe { asm!("fxsave64 [{}]", in(reg) area, options(nostack)) };
        return;
    }
    let m = upper_mask();
    // SAFETY: forwarded from the caller; XSAVE with this mask writes only the listed
    // components and their XSTATE_BV bits.
    unsafe {
        asm!("xsave64 [{}]", in(reg) area, in("eax") m as u32, in("edx") (m >> 32) as u32,
             options(nostack))
    };
}

/// Loads what [`save_upper_state`] saved, when a thread is switched in.
///
/// # Safety
/// `area` must be a save area written by the entry stubs and `save_upper_state` (or a
/// copy of one).
pub unsafe fn restore_upper_state(area: *const u8) {
    if !HAS_XSAVE.load(Ordering::Relaxed) {
        // SAFETY: as below; the XMM values it loads are replaced on the way out by the
        // entry stub's SSE area.
        unsafe { asm!("fxrstor64 [{}]", in(reg) area, options(nostack)) };
        return;
    }
    let m = upper_mask();
    // SAFETY: forwarded from the caller: the area's header is valid for XRSTOR.
    unsafe {
        asm!("xrstor64 [{}]", in(reg) area, in("eax") m as u32, in("edx") (m >> 32) as u32,
             options(nostack))
    };
}
