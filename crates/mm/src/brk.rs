//! brk(2) and the initial program break.

use crate::space::PendingFlush;
use crate::{AddressSpace, PAGE_SIZE, PageTable, Prot, VmaKind, page_align_up};

impl<P: PageTable> AddressSpace<P> {
    /// Sets where the heap begins: the loader calls it with the end of the highest
    /// `PT_LOAD` segment (end of `.bss`). Both the heap start and the break become that
    /// address rounded up to a page, as Linux's `mm->start_brk = mm->brk` after loading
    /// (without randomisation). An existing heap is not moved.
    pub fn set_brk_start(&mut self, image_end: usize) {
        let start = page_align_up(image_end).unwrap_or(self.layout.task_size);
        self.brk_start = start;
        self.brk = start;
    }

    /// The start of the heap (0 before [`set_brk_start`](Self::set_brk_start)).
    pub fn brk_start(&self) -> usize {
        self.brk_start
    }

    /// The current break.
    pub fn current_brk(&self) -> usize {
        self.brk
    }

    /// brk(2), the raw syscall: moves the break to `new` and returns the new break, or
    /// returns the unchanged break when `new` is 0, below the heap start, or cannot be
    /// satisfied (another mapping in the way, no memory). It never fails with an errno;
    /// the dispatcher returns the value as it is.
    ///
    /// The break may be unaligned: it is kept exactly as asked, and the heap area covers
    /// it rounded up to a page. Growing needs the pages up to the new break and one page
    /// beyond free of other mappings (Linux's gap before the next area). Shrinking frees
    /// the pages above the new break.
    pub fn brk(&mut self, new: usize) -> usize {
        if self.brk_start == 0 || new < self.brk_start {
            return self.brk;
        }
        let (Some(new_top), Some(old_top)) = (page_align_up(new), page_align_up(self.brk)) else {
            return self.brk;
        };
        if new_top == old_top {
            self.brk = new;
            return new;
        }
        if new <= self.brk {
            let mut flush = PendingFlush::default();
            if self.ensure_room(1).is_err() {
                return self.brk;
            }
            self.remove_range(new_top, old_top, &mut flush);
            flush.finish(&mut self.pt);
            self.brk = new;
            return new;
        }

        // Unsupported: RLIMIT_DATA; the heap may grow until it meets another mapping.
        let Some(guard_end) = new_top.checked_add(PAGE_SIZE) else {
            return self.brk;
        };
        if new_top > self.layout.task_size
            || !self.vmas.is_free(old_top, guard_end)
            || self.ensure_room(1).is_err()
        {
            return self.brk;
        }
        self.replace(old_top, new_top, Prot::READ_WRITE, VmaKind::Heap, None);
        self.brk = new;
        new
    }
}
