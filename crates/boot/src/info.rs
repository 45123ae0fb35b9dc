//! `BootInfo`: what the kernel needs from `hvm_start_info`, copied into kernel memory.
//!
//! Layout from Xen's `public/arch-x86/hvm/start_info.h` (version 1): the magic
//! 0x336ec578, `nr_modules`, `modlist_paddr`, `cmdline_paddr`, `rsdp_paddr`,
//! `memmap_paddr`, `memmap_entries`. Every field is read unaligned and bounded: on
//! microvm the module list is only 4-byte aligned and the memory map may end with an
//! all-zero entry.

use crate::PHYS_OFFSET;

/// The most memory-map entries kept (QEMU gives a handful).
pub const MAX_REGIONS: usize = 64;
const MAX_CMDLINE: usize = 4096;
const HVM_START_MAGIC: u32 = 0x336e_c578;

/// One entry of the firmware memory map (`hvm_memmap_table_entry`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryRegion {
    pub addr: u64,
    pub size: u64,
    /// E820 type: 1 = usable RAM, 2 = reserved, 3 = ACPI reclaimable, ...
    pub kind: u32,
}

/// Everything the kernel keeps from the boot loader.
pub struct BootInfo {
    pub regions: [MemoryRegion; MAX_REGIONS],
    pub region_count: usize,
    pub cmdline: [u8; MAX_CMDLINE],
    pub cmdline_len: usize,
    /// Physical range of the first module (the initrd), if any.
    pub initrd: Option<(u64, u64)>,
    /// Physical address of the ACPI RSDP, if the loader gave one.
    pub rsdp: Option<u64>,
    /// Physical address of `hvm_start_info` itself (a boot structure to keep out of the
    /// allocator until the copy is done — it is, by the time the kernel runs).
    pub start_info: u64,
}

impl BootInfo {
    /// The memory map.
    pub fn regions(&self) -> &[MemoryRegion] {
        &self.regions[..self.region_count]
    }

    /// The kernel command line (lossy: invalid UTF-8 becomes empty).
    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }
}

/// Reads `T` from physical address `phys` through the boot physical map, or 0 when the
/// range lies outside it. `T` is an integer type: any bit pattern is valid.
fn read_phys<T: Copy + Default>(phys: u64) -> T {
    if !in_boot_map(phys, core::mem::size_of::<T>() as u64) {
        return T::default();
    }
    // SAFETY: the range lies in the boot physical map (checked above), which maps all
    // memory below 4 GiB; unaligned reads are allowed.
    unsafe { core::ptr::read_unaligned((PHYS_OFFSET + phys) as *const T) }
}

fn in_boot_map(phys: u64, len: u64) -> bool {
    phys.checked_add(len)
        .is_some_and(|end| end <= crate::PHYS_MAPPED)
}

static mut BOOT_INFO: BootInfo = BootInfo {
    regions: [MemoryRegion {
        addr: 0,
        size: 0,
        kind: 0,
    }; MAX_REGIONS],
    region_count: 0,
    cmdline: [0; MAX_CMDLINE],
    cmdline_len: 0,
    initrd: None,
    rsdp: None,
    start_info: 0,
};

unsafe extern "Rust" {
    /// The kernel's main function; it never returns.
    fn kernel_main(info: &'static BootInfo) -> !;
}

/// Called by the 64-bit stub with the physical address of `hvm_start_info`.
#[unsafe(no_mangle)]
extern "C" fn boot_rust_entry(start_info: u64) -> ! {
    // SAFETY: runs once, on the boot CPU, before anything else reads BOOT_INFO.
    let info = unsafe { &mut *(&raw mut BOOT_INFO) };
    info.start_info = start_info;
    copy_start_info(info, start_info);
    // SAFETY: `kernel_main` is defined by the kernel crate with this signature.
    unsafe { kernel_main(info) }
}

fn copy_start_info(info: &mut BootInfo, si: u64) {
    let magic: u32 = read_phys(si);
    if magic != HVM_START_MAGIC {
        return;
    }
    let version: u32 = read_phys(si + 4);
    let nr_modules: u32 = read_phys(si + 12);
    let modlist: u64 = read_phys(si + 16);
    let cmdline: u64 = read_phys(si + 24);
    let rsdp: u64 = read_phys(si + 32);

    if cmdline != 0 {
        let mut n = 0;
        while n < MAX_CMDLINE && in_boot_map(cmdline + n as u64, 1) {
            let b: u8 = read_phys(cmdline + n as u64);
            if b == 0 {
                break;
            }
            info.cmdline[n] = b;
            n += 1;
        }
        info.cmdline_len = n;
    }
    if nr_modules > 0 && in_boot_map(modlist, 32) {
        let paddr: u64 = read_phys(modlist);
        let size: u64 = read_phys(modlist + 8);
        if size > 0 && in_boot_map(paddr, size) {
            info.initrd = Some((paddr, size));
        }
    }
    if rsdp != 0 {
        info.rsdp = Some(rsdp);
    }
    if version >= 1 && in_boot_map(si, 56) {
        let memmap: u64 = read_phys(si + 40);
        let entries: u32 = read_phys(si + 48);
        let mut n = 0;
        for i in 0..entries.min(MAX_REGIONS as u32) as u64 {
            let e = memmap + i * 24;
            if !in_boot_map(e, 24) {
                break;
            }
            let addr: u64 = read_phys(e);
            let size: u64 = read_phys(e + 8);
            let kind: u32 = read_phys(e + 16);
            if size == 0 && addr == 0 && kind == 0 {
                continue;
            }
            info.regions[n] = MemoryRegion { addr, size, kind };
            n += 1;
        }
        info.region_count = n;
    }
}
