//! Physical memory, the kernel heap, page tables and kernel stacks.
//!
//! - Frames come from `pmem`'s allocator over the PVH memory map, minus the kernel
//!   image, the initrd, the low 1 MiB and the heap.
//! - Every address space shares the kernel half of the boot PML4 (entries 256..511):
//!   the physical map, the kernel image and the kernel-stack area, whose top-level
//!   tables are all created before the first user address space is.
//! - Kernel stacks live in their own area with an unmapped guard page below each, so an
//!   overflow faults (and, with no stack left to push on, double-faults onto an IST
//!   stack) instead of corrupting memory.

use boot::{BootInfo, PHYS_OFFSET};
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags as Flags, PhysFrame,
    Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

pub const PAGE_SIZE: u64 = 4096;
/// One past the highest user address (Linux x86_64, 4-level paging: `TASK_SIZE`).
pub const USER_TOP: u64 = mm::TASK_SIZE as u64;

/// Kernel stacks: one slot of `STACK_SLOT` bytes per thread, the lowest page a guard.
const STACK_AREA: u64 = 0xffff_c000_0000_0000;
const STACK_SLOT: u64 = 64 * 1024;
/// Usable bytes of a kernel stack.
pub const KERNEL_STACK_SIZE: u64 = STACK_SLOT - PAGE_SIZE;

static FRAMES: Mutex<Option<pmem::FrameAllocator<'static>>> = Mutex::new(None);
static TOTAL_FRAMES: AtomicU64 = AtomicU64::new(0);

/// The kernel virtual address of physical address `pa`.
pub fn phys_to_virt(pa: u64) -> u64 {
    PHYS_OFFSET + pa
}

/// A fresh frame, zero-filled.
pub fn alloc_zeroed_frame() -> Option<u64> {
    let pa = FRAMES.lock().as_mut()?.alloc()?;
    // SAFETY: the frame was just handed out and lies in the physical map.
    unsafe { core::ptr::write_bytes(phys_to_virt(pa) as *mut u8, 0, PAGE_SIZE as usize) };
    Some(pa)
}

/// Returns a frame to the allocator.
pub fn free_frame(pa: u64) {
    if let Some(frames) = FRAMES.lock().as_mut()
        && frames.free(pa).is_err()
    {
        tracing::error!("memory: bad free of frame {pa:#x}");
    }
}

/// Free and total frames.
pub fn frame_counts() -> (u64, u64) {
    let free = FRAMES.lock().as_ref().map_or(0, |f| f.free_frames());
    (free, TOTAL_FRAMES.load(Ordering::Relaxed))
}

struct KernelFrames;

// SAFETY: hands out frames no one else owns (the allocator's invariant), zero-filled as
// the mapper expects of new page tables.
unsafe impl FrameAllocator<Size4KiB> for KernelFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame> {
        alloc_zeroed_frame().map(|pa| PhysFrame::containing_address(PhysAddr::new(pa)))
    }
}

/// The mapper for the page table rooted at physical `pml4`.
///
/// # Safety
/// `pml4` must be a live PML4 whose tables nobody else edits while the mapper is used.
unsafe fn mapper(pml4: u64) -> OffsetPageTable<'static> {
    // SAFETY: the caller guarantees exclusive access; the physical map covers all RAM.
    unsafe {
        OffsetPageTable::new(
            &mut *(phys_to_virt(pml4) as *mut PageTable),
            VirtAddr::new(PHYS_OFFSET),
        )
    }
}

/// Brings up physical memory: frame allocator and heap. Returns the heap size.
pub fn init(info: &BootInfo) -> u64 {
    unsafe extern "C" {
        static __kernel_end: u8;
    }
    let kernel_end = &raw const __kernel_end as u64 - boot::KERNEL_BASE;
    let mut entries = [pmem::HvmMemmapEntry::default(); boot::MAX_REGIONS];
    for (e, r) in entries.iter_mut().zip(info.regions()) {
        *e = pmem::HvmMemmapEntry {
            addr: r.addr,
            size: r.size,
            kind: r.kind,
            reserved: 0,
        };
    }
    let map = pmem::MemoryMap::from_entries(&entries[..info.regions().len()]);
    let Ok(mut map) = map else {
        panic!("memory: unusable memory map")
    };
    // Keep out: real-mode memory (the AP trampoline lives there), the kernel image, the
    // initrd, and anything beyond the boot physical map.
    let mut keep_out = alloc_free_ranges(kernel_end, info);
    for (start, end) in keep_out.drain() {
        if map.reserve(start, end).is_err() {
            panic!("memory: cannot reserve {start:#x}-{end:#x}");
        }
    }
    let total = map.total_bytes();
    // The heap: an eighth of memory, between 16 and 256 MiB, in one contiguous run.
    let heap_size = (total / 8).clamp(16 << 20, 256 << 20);
    let Some(heap_pa) = map.carve(heap_size) else {
        panic!("memory: no room for a {heap_size:#x}-byte heap")
    };
    let words = pmem::FrameAllocator::bitmap_words(&map) as u64;
    let Some(bitmap_pa) = map.carve(words * 8) else {
        panic!("memory: no room for the frame bitmap")
    };
    // SAFETY: the bitmap's range was just carved out of the map, so only the allocator
    // will ever use it; it lies in the physical map.
    let storage = unsafe {
        core::slice::from_raw_parts_mut(phys_to_virt(bitmap_pa) as *mut u64, words as usize)
    };
    let frames = match pmem::FrameAllocator::new(map, storage) {
        Ok(f) => f,
        Err(e) => panic!("memory: frame allocator: {e:?}"),
    };
    TOTAL_FRAMES.store(frames.total_frames(), Ordering::Relaxed);
    *FRAMES.lock() = Some(frames);
    // SAFETY: the run was carved out of the map, so nothing else uses it.
    unsafe { crate::heap::init(phys_to_virt(heap_pa), heap_size) };
    prepare_kernel_half();
    heap_size
}

/// The physical ranges the allocator must never hand out.
fn alloc_free_ranges(kernel_end: u64, info: &BootInfo) -> heapless_ranges::Ranges {
    let mut r = heapless_ranges::Ranges::new();
    r.push(0, 0x10_0000);
    r.push(0x10_0000, kernel_end);
    if let Some((start, size)) = info.initrd {
        r.push(start, start + size);
    }
    r.push(boot::PHYS_MAPPED, u64::MAX);
    r
}

/// Creates the PDPT behind the kernel-stack area's PML4 entry, so every address space
/// created later shares it.
fn prepare_kernel_half() {
    let pml4 = boot::boot_pml4_phys();
    let page = Page::<Size4KiB>::containing_address(VirtAddr::new(STACK_AREA));
    // SAFETY: boot CPU, before any other CPU or address space exists.
    let mut m = unsafe { mapper(pml4) };
    let frame = alloc_zeroed_frame().map(|pa| PhysFrame::containing_address(PhysAddr::new(pa)));
    let Some(frame) = frame else {
        panic!("memory: out of frames at boot")
    };
    // Map and unmap one page: leaves the intermediate tables in place.
    // SAFETY: the stack area is unused so far.
    let flush = unsafe {
        m.map_to(
            page,
            frame,
            Flags::PRESENT | Flags::WRITABLE,
            &mut KernelFrames,
        )
    };
    match flush {
        Ok(f) => f.flush(),
        Err(e) => panic!("memory: cannot prepare the stack area: {e:?}"),
    }
    if let Ok((frame, f)) = m.unmap(page) {
        f.flush();
        free_frame(frame.start_address().as_u64());
    }
}

/// A new PML4 sharing the kernel half of the boot one.
pub fn new_user_pml4() -> Option<u64> {
    let pa = alloc_zeroed_frame()?;
    let src = phys_to_virt(boot::boot_pml4_phys()) as *const u64;
    let dst = phys_to_virt(pa) as *mut u64;
    // SAFETY: both are whole 4 KiB tables in the physical map; entries 256..512 are the
    // kernel half, never changed after `prepare_kernel_half`.
    unsafe { core::ptr::copy_nonoverlapping(src.add(256), dst.add(256), 256) };
    Some(pa)
}

fn user_flags(prot: mm::Prot) -> Flags {
    let mut f = Flags::PRESENT | Flags::USER_ACCESSIBLE;
    if !prot.readable() {
        // Keep the frame but make every access fault: not present to the CPU.
        return Flags::BIT_9;
    }
    if prot.writable() {
        f |= Flags::WRITABLE;
    }
    if !prot.executable() {
        f |= Flags::NO_EXECUTE;
    }
    f
}

/// The hardware page table of one address space, as `mm` drives it.
pub struct UserPageTable {
    pub pml4: u64,
    /// Frames unmapped but not yet flushed from every TLB: freed by `flush`.
    pending_free: alloc::vec::Vec<u64>,
}

impl UserPageTable {
    pub fn new(pml4: u64) -> Self {
        UserPageTable {
            pml4,
            pending_free: alloc::vec::Vec::new(),
        }
    }
}

impl mm::PageTable for UserPageTable {
    fn map_zeroed(&mut self, va: usize, prot: mm::Prot) -> Result<(), syscall::Errno> {
        self.map_filled(va, prot, &mut |_| Ok(()))
    }

    fn map_filled(
        &mut self,
        va: usize,
        prot: mm::Prot,
        fill: &mut dyn FnMut(&mut [u8; 4096]) -> Result<(), syscall::Errno>,
    ) -> Result<(), syscall::Errno> {
        let pa = alloc_zeroed_frame().ok_or(syscall::Errno::ENOMEM)?;
        // Fill the frame before the PTE exists: other threads may touch the page as soon
        // as it is mapped.
        // SAFETY: the frame was just allocated, so nothing else refers to it; it lies in
        // the physical map.
        let frame = unsafe { &mut *(phys_to_virt(pa) as *mut [u8; 4096]) };
        if let Err(e) = fill(frame) {
            free_frame(pa);
            return Err(e);
        }
        // SAFETY: the address-space lock is held by the caller.
        let mut m = unsafe { mapper(self.pml4) };
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(va as u64));
        let frame = PhysFrame::containing_address(PhysAddr::new(pa));
        let parents = Flags::PRESENT | Flags::WRITABLE | Flags::USER_ACCESSIBLE;
        // SAFETY: `va` is a user page that is not mapped (mm's contract).
        let r = unsafe {
            m.map_to_with_table_flags(page, frame, user_flags(prot), parents, &mut KernelFrames)
        };
        match r {
            Ok(f) => {
                f.ignore();
                Ok(())
            }
            Err(_) => {
                free_frame(pa);
                Err(syscall::Errno::ENOMEM)
            }
        }
    }

    fn unmap_range(&mut self, start: usize, end: usize) -> bool {
        let mut any = false;
        let pending = &mut self.pending_free;
        walk_present(self.pml4, start as u64, end as u64, |pte| {
            pending.push(*pte & 0x000f_ffff_ffff_f000);
            *pte = 0;
            any = true;
        });
        any
    }

    fn protect_range(&mut self, start: usize, end: usize, prot: mm::Prot) -> bool {
        let mut any = false;
        let flags = user_flags(prot).bits();
        walk_present(self.pml4, start as u64, end as u64, |pte| {
            *pte = (*pte & 0x000f_ffff_ffff_f000) | flags;
            any = true;
        });
        any
    }

    fn is_mapped(&self, va: usize) -> bool {
        let mut any = false;
        let va = va as u64;
        walk_present(self.pml4, va, va + PAGE_SIZE, |_| any = true);
        any
    }

    fn page_mut(&mut self, va: usize) -> Option<&mut [u8; 4096]> {
        let mut pa = None;
        let va = va as u64;
        walk_present(self.pml4, va, va + PAGE_SIZE, |pte| {
            pa = Some(*pte & 0x000f_ffff_ffff_f000)
        });
        // SAFETY: the frame belongs to this address space, whose lock the caller holds.
        pa.map(|pa| unsafe { &mut *(phys_to_virt(pa) as *mut [u8; 4096]) })
    }

    fn flush(&mut self, start: usize, end: usize) {
        crate::smp::flush_tlb(start as u64, end as u64);
        for pa in self.pending_free.drain(..) {
            free_frame(pa);
        }
    }
}

/// Calls `f` on every leaf PTE in `[start, end)` that holds a frame (present, or a
/// PROT_NONE page kept with bit 9), skipping absent tables whole.
fn walk_present(pml4: u64, start: u64, end: u64, mut f: impl FnMut(&mut u64)) {
    const ADDR: u64 = 0x000f_ffff_ffff_f000;
    let table = |pa: u64| phys_to_virt(pa) as *mut u64;
    let mut va = start;
    while va < end {
        let idx = [
            (va >> 39) & 511,
            (va >> 30) & 511,
            (va >> 21) & 511,
            (va >> 12) & 511,
        ];
        let mut t = table(pml4);
        let mut level = 0;
        let mut skipped = false;
        while level < 3 {
            // SAFETY: `t` is a page table of this address space (lock held by the caller);
            // indices are < 512.
            let e = unsafe { *t.add(idx[level] as usize) };
            if e & 1 == 0 {
                // Skip the whole range this entry covers.
                let span = 1u64 << (39 - 9 * level as u64);
                va = (va & !(span - 1)) + span;
                skipped = true;
                break;
            }
            t = table(e & ADDR);
            level += 1;
        }
        if skipped {
            continue;
        }
        // SAFETY: as above; the leaf table is live.
        let pte = unsafe { &mut *t.add(idx[3] as usize) };
        if *pte & (1 | (1 << 9)) != 0 {
            f(pte);
        }
        va += PAGE_SIZE;
    }
}

/// A file's bytes as the backing of a mapping: initrd files live for the whole run, and
/// synthetic files (such as /proc/self/maps) are copied, as they are made at open.
pub enum MappedFile {
    Initrd(&'static [u8]),
    Copy(alloc::vec::Vec<u8>),
}

impl mm::MapFile for MappedFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, syscall::Errno> {
        let bytes = match self {
            MappedFile::Initrd(b) => b,
            MappedFile::Copy(v) => v.as_slice(),
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }
}

/// The backing of an initrd file mapped whole (the program's ELF image).
pub fn initrd_file_handle(bytes: &'static [u8]) -> mm::FileHandle {
    alloc::sync::Arc::new(MappedFile::Initrd(bytes))
}

/// Whether `[addr, addr + len)` lies in the user half without wrapping.
pub fn user_range_ok(addr: u64, len: u64) -> bool {
    addr.checked_add(len).is_some_and(|end| end <= USER_TOP)
}

/// Translates the x86 page-fault error code into the access `mm` checks.
pub fn access_from_error_code(code: u64) -> mm::Access {
    if code & (1 << 4) != 0 {
        mm::Access::Exec
    } else if code & (1 << 1) != 0 {
        mm::Access::Write
    } else {
        mm::Access::Read
    }
}

/// A kernel stack with a guard page below it.
pub struct KernelStack {
    slot: u64,
}

static STACK_SLOTS: Mutex<StackSlots> = Mutex::new(StackSlots {
    next: 0,
    free: alloc::vec::Vec::new(),
});

struct StackSlots {
    next: u64,
    free: alloc::vec::Vec<u64>,
}

impl KernelStack {
    /// Allocates and maps a kernel stack; `None` when memory runs out.
    pub fn new() -> Option<KernelStack> {
        let slot = {
            let mut s = STACK_SLOTS.lock();
            if let Some(slot) = s.free.pop() {
                return Some(KernelStack { slot });
            }
            s.next += 1;
            s.next - 1
        };
        let stack = KernelStack { slot };
        let base = stack.bottom();
        // A failure below abandons this slot (it is not pushed back to the free list).
        let stack = core::mem::ManuallyDrop::new(stack);
        let mut m = KERNEL_PT.lock();
        for i in 0..KERNEL_STACK_SIZE / PAGE_SIZE {
            let frame =
                alloc_zeroed_frame().map(|pa| PhysFrame::containing_address(PhysAddr::new(pa)));
            let Some(frame) = frame else {
                drop(m);
                unmap_stack_pages(base, i);
                return None;
            };
            let page = Page::<Size4KiB>::containing_address(VirtAddr::new(base + i * PAGE_SIZE));
            let flags = Flags::PRESENT | Flags::WRITABLE | Flags::NO_EXECUTE;
            // SAFETY: the slot is ours alone; its pages are unmapped (freed slots are
            // unmapped whole by Drop).
            match unsafe { m.mapper().map_to(page, frame, flags, &mut KernelFrames) } {
                Ok(f) => f.ignore(),
                Err(_) => {
                    free_frame(frame.start_address().as_u64());
                    drop(m);
                    unmap_stack_pages(base, i);
                    return None;
                }
            }
        }
        Some(core::mem::ManuallyDrop::into_inner(stack))
    }

    fn bottom(&self) -> u64 {
        STACK_AREA + self.slot * STACK_SLOT + PAGE_SIZE
    }

    /// The top of the stack (64-byte aligned).
    pub fn top(&self) -> u64 {
        self.bottom() + KERNEL_STACK_SIZE
    }
}

impl Drop for KernelStack {
    /// Freed stacks stay mapped and go to a free list for the next thread: unmapping
    /// would need a TLB shootdown on every CPU before the slot could be reused.
    fn drop(&mut self) {
        STACK_SLOTS.lock().free.push(self.slot);
    }
}

/// Undoes a partly mapped stack (its first `pages` pages) after running out of memory;
/// the slot is never used again (nobody ran on it, so no TLB holds it).
fn unmap_stack_pages(base: u64, pages: u64) {
    let mut m = KERNEL_PT.lock();
    for i in 0..pages {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(base + i * PAGE_SIZE));
        if let Ok((frame, f)) = m.mapper().unmap(page) {
            f.flush();
            free_frame(frame.start_address().as_u64());
        }
    }
}

/// The kernel half's page tables (shared by every address space), edited under a lock.
static KERNEL_PT: Mutex<KernelPt> = Mutex::new(KernelPt);

struct KernelPt;

impl KernelPt {
    fn mapper(&mut self) -> OffsetPageTable<'static> {
        // SAFETY: the kernel-stack area's tables are only edited under KERNEL_PT's lock.
        unsafe { mapper(boot::boot_pml4_phys()) }
    }
}

mod heapless_ranges {
    /// A small fixed list of physical ranges to keep out of the allocator.
    pub struct Ranges {
        items: [(u64, u64); 8],
        len: usize,
    }

    impl Ranges {
        pub fn new() -> Self {
            Ranges {
                items: [(0, 0); 8],
                len: 0,
            }
        }

        pub fn push(&mut self, start: u64, end: u64) {
            if self.len < self.items.len() {
                self.items[self.len] = (start, end);
                self.len += 1;
            }
        }

        pub fn drain(&mut self) -> impl Iterator<Item = (u64, u64)> + '_ {
            let n = core::mem::take(&mut self.len);
            self.items[..n].iter().copied()
        }
    }
}
