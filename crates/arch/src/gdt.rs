//! GDT and TSS, one pair per CPU.
//!
//! Layout (Intel SDM vol. 3, 3.4.5 and 7.2.3): null, kernel code (0x08), kernel data
//! (0x10), user data (0x18|3), user code (0x20|3), then the 16-byte TSS descriptor (0x28).
//! The user selectors are in the order `sysret` requires (STAR[63:48] + 8 / + 16).

use core::arch::asm;

#[repr(C, align(16))]
pub struct Gdt {
    entries: [u64; 7],
}

/// The 64-bit TSS: `rsp0` for entries from ring 3, and the IST stacks.
#[repr(C, packed(4))]
pub struct Tss {
    _reserved0: u32,
    pub rsp0: u64,
    _rsp1: u64,
    _rsp2: u64,
    _reserved1: u64,
    /// IST1..IST7.
    pub ist: [u64; 7],
    _reserved2: u64,
    _reserved3: u16,
    pub iomap_base: u16,
}

/// IST slots (1-based in the IDT, 0-based in `Tss::ist`).
pub const IST_NMI: u8 = 1;
pub const IST_DOUBLE_FAULT: u8 = 2;
pub const IST_MACHINE_CHECK: u8 = 3;

impl Tss {
    pub const fn new() -> Self {
        Tss {
            _reserved0: 0,
            rsp0: 0,
            _rsp1: 0,
            _rsp2: 0,
            _reserved1: 0,
            ist: [0; 7],
            _reserved2: 0,
            _reserved3: 0,
            iomap_base: core::mem::size_of::<Tss>() as u16,
        }
    }
}

impl Default for Tss {
    fn default() -> Self {
        Self::new()
    }
}

impl Gdt {
    pub const fn new() -> Self {
        Gdt {
            entries: [
                0,
                0x00af_9a00_0000_ffff, // kernel code: L, P, DPL0
                0x00cf_9200_0000_ffff, // kernel data
                0x00cf_f200_0000_ffff, // user data: DPL3
                0x00af_fa00_0000_ffff, // user code: L, DPL3
                0,
                0,
            ],
        }
    }
}

impl Default for Gdt {
    fn default() -> Self {
        Self::new()
    }
}

/// Loads `gdt` with a TSS descriptor for `tss`, reloads the segment registers and the
/// task register.
///
/// # Safety
/// Both must live forever (they belong to this CPU's per-CPU block).
pub unsafe fn load(gdt: &'static mut Gdt, tss: &'static Tss) {
    let base = tss as *const Tss as u64;
    let limit = (core::mem::size_of::<Tss>() - 1) as u64;
    gdt.entries[5] = limit & 0xffff
        | (base & 0xff_ffff) << 16
        | 0x89 << 40 // present, 64-bit available TSS
        | ((limit >> 16) & 0xf) << 48
        | ((base >> 24) & 0xff) << 56;
    gdt.entries[6] = base >> 32;
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let ptr = Pointer {
        limit: (core::mem::size_of::<Gdt>() - 1) as u16,
        base: gdt as *const Gdt as u64,
    };
    // SAFETY: the GDT is valid and 'static; the far return reloads CS with the kernel
    // code selector of the new table, the data selectors follow, then the TSS.
    unsafe {
        asm!(
            "lgdt [{ptr}]",
            "push 0x08",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov {tmp:e}, 0x10",
            "mov ds, {tmp:e}",
            "mov es, {tmp:e}",
            "mov ss, {tmp:e}",
            "mov {tmp:e}, 0x28",
            "ltr {tmp:x}",
            ptr = in(reg) &ptr,
            tmp = out(reg) _,
        );
    }
}
