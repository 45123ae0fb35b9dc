//! From an ELF image to a [`LoadPlan`]: what to map where, checked against everything a
//! hostile or damaged file can say.

use alloc::string::String;
use alloc::vec::Vec;
use elf::abi;
use elf::endian::LittleEndian;
use elf::file::{Class, FileHeader, parse_ident};
use elf::segment::{ProgramHeader, SegmentTable};

use crate::LoadError;

/// The page size the plan is aligned to (`AT_PAGESZ`).
pub const PAGE_SIZE: u64 = 4096;

/// One past the highest user address: Linux's `TASK_SIZE_MAX` on x86_64 with 4-level
/// paging (the last page below 2^47 stays unmapped so no user access crosses into the
/// non-canonical hole).
pub const USER_SPACE_END: u64 = 0x7fff_ffff_f000;

/// The lowest address a segment may use: Linux's default `vm.mmap_min_addr`, which keeps
/// page 0 unmapped so a NULL dereference faults.
pub const MIN_LOAD_ADDR: u64 = 0x1_0000;

/// Where Linux puts a PIE without randomisation: `ELF_ET_DYN_BASE`, 2/3 of the 47-bit
/// user space, page-aligned (as seen under `setarch -R`).
pub const DEFAULT_PIE_BASE: u64 = 0x5555_5555_4000;

/// Linux refuses a program header table larger than 64 KiB (`load_elf_phdrs`).
const MAX_PHNUM: usize = 65536 / PHDR_SIZE;

/// `sizeof(Elf64_Phdr)`; Linux requires `e_phentsize` to be exactly this.
const PHDR_SIZE: usize = 56;

/// `sizeof(Elf64_Ehdr)`.
const EHDR_SIZE: usize = 64;

/// The largest `PT_LOAD` alignment honoured when placing a static-PIE (1 GiB pages).
const MAX_SEGMENT_ALIGN: u64 = 1 << 30;

/// Memory protection of a segment, from its `p_flags` (`PF_R`, `PF_W`, `PF_X`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Prot {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl Prot {
    fn from_p_flags(flags: u32) -> Prot {
        Prot {
            read: flags & abi::PF_R != 0,
            write: flags & abi::PF_W != 0,
            exec: flags & abi::PF_X != 0,
        }
    }

    /// The same protection as mmap(2) `PROT_*` bits.
    pub fn to_mmap_prot(self) -> u32 {
        use linux_raw_sys::general::{PROT_EXEC, PROT_READ, PROT_WRITE};
        let mut prot = 0;
        if self.read {
            prot |= PROT_READ;
        }
        if self.write {
            prot |= PROT_WRITE;
        }
        if self.exec {
            prot |= PROT_EXEC;
        }
        prot
    }
}

/// What kind of executable the image is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfKind {
    /// `ET_EXEC`: linked at fixed addresses (`gcc -static`, `musl-gcc -static`).
    Executable,
    /// `ET_DYN` without `PT_INTERP`: a static-PIE that relocates itself (`gcc
    /// -static-pie`, Rust `crt-static`), placed at [`LoadPlan::base`].
    StaticPie,
}

/// One `PT_LOAD` segment, with the load bias already added to its address.
///
/// The kernel maps `[page_start(), page_end())` with `prot`, copies `filesz` bytes from
/// `file_offset` to `vaddr`, and zero-fills the rest (the bss, and the bytes of the first
/// and last page outside the segment). Two segments never overlap, but the last page of
/// one may be the first page of the next; that page needs both protections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub file_offset: u64,
    pub filesz: u64,
    pub prot: Prot,
}

impl Segment {
    /// The first page the segment touches.
    pub fn page_start(&self) -> u64 {
        self.vaddr & !(PAGE_SIZE - 1)
    }

    /// One past the last page the segment touches (never above [`USER_SPACE_END`]).
    pub fn page_end(&self) -> u64 {
        align_up(self.end())
    }

    /// One past the last byte of the segment in memory.
    pub fn end(&self) -> u64 {
        self.vaddr.saturating_add(self.memsz)
    }

    /// The byte range of the image that is copied to `vaddr` (checked against the image
    /// length by [`plan`]).
    pub fn file_range(&self) -> core::ops::Range<usize> {
        let start = self.file_offset as usize;
        start..start.saturating_add(self.filesz as usize)
    }
}

/// The `PT_TLS` template, for logs and for a kernel that sets up the main thread's TLS
/// itself (libcs do it from `AT_PHDR`, so the kernel normally does not need it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tls {
    /// Address of the initialisation image, load bias included.
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

/// Everything the kernel needs to map a static program and fill its auxiliary vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan {
    pub kind: ElfKind,
    /// The load bias added to every `p_vaddr`: 0 for `ET_EXEC`. (This is not `AT_BASE`,
    /// which is the interpreter's base and 0 for a static program.)
    pub base: u64,
    /// `AT_ENTRY` and the initial `rip`, bias included.
    pub entry: u64,
    /// The non-empty `PT_LOAD` segments, sorted by address, not overlapping.
    pub segments: Vec<Segment>,
    /// `AT_PHDR`: where the program header table is in memory.
    pub phdr_vaddr: u64,
    /// `AT_PHNUM`.
    pub phnum: u16,
    /// `AT_PHENT`.
    pub phent: u16,
    /// The initial program break: the page-aligned end of the highest segment.
    pub brk_start: u64,
    pub tls: Option<Tls>,
    /// `PT_GNU_STACK` asks for an executable stack (absent means non-executable here,
    /// unlike Linux's legacy default, since every toolchain emits the header).
    pub executable_stack: bool,
}

/// Parses and validates a static x86_64 executable and says how to load it.
///
/// `pie_base` is where a static-PIE's lowest page goes (rounded up to its largest
/// `PT_LOAD` alignment); [`DEFAULT_PIE_BASE`] is Linux's choice without randomisation.
/// It is ignored for `ET_EXEC`. Section headers are not read, as Linux does not read
/// them either.
pub fn plan(image: &[u8], pie_base: u64) -> Result<LoadPlan, LoadError> {
    let ehdr = parse_file_header(image)?;
    let kind = match ehdr.e_type {
        abi::ET_EXEC => ElfKind::Executable,
        abi::ET_DYN => ElfKind::StaticPie,
        other => return Err(LoadError::WrongType(other)),
    };
    if ehdr.e_machine != abi::EM_X86_64 {
        return Err(LoadError::WrongMachine(ehdr.e_machine));
    }
    if ehdr.version != u32::from(abi::EV_CURRENT) {
        return Err(LoadError::WrongVersion);
    }
    let phdrs = program_headers(image, &ehdr)?;

    // A PT_INTERP is the most likely mistake (a binary built without -static), so it is
    // reported before any other complaint about the segments.
    if let Some(interp) = phdrs.iter().find(|ph| ph.p_type == abi::PT_INTERP) {
        let interpreter = interpreter_name(image, interp);
        return Err(LoadError::DynamicallyLinked { interpreter });
    }

    let base = match kind {
        ElfKind::Executable => 0,
        ElfKind::StaticPie => pie_bias(&phdrs, pie_base)?,
    };
    let segments = load_segments(image, &phdrs, base)?;

    let entry = ehdr.e_entry.saturating_add(base);
    let entry_is_code = segments
        .iter()
        .any(|s| s.prot.exec && s.vaddr <= entry && entry < s.end());
    if !entry_is_code {
        return Err(LoadError::EntryOutsideCode(entry));
    }

    let phdr_vaddr = phdr_address(&ehdr, &phdrs, base)?;
    let brk_start = segments.iter().map(Segment::page_end).max().unwrap_or(0);
    let tls = tls_template(image, &phdrs, base)?;
    let executable_stack = phdrs
        .iter()
        .any(|ph| ph.p_type == abi::PT_GNU_STACK && ph.p_flags & abi::PF_X != 0);

    Ok(LoadPlan {
        kind,
        base,
        entry,
        segments,
        phdr_vaddr,
        phnum: ehdr.e_phnum,
        phent: ehdr.e_phentsize,
        brk_start,
        tls,
        executable_stack,
    })
}

/// Checks the identification bytes by hand (for precise errors), then lets the `elf`
/// crate decode the rest of the header.
fn parse_file_header(image: &[u8]) -> Result<FileHeader<LittleEndian>, LoadError> {
    if image.len() >= 4 && image[..4] != abi::ELFMAGIC {
        return Err(LoadError::NotElf);
    }
    let (Some(ident), Some(tail)) = (
        image.get(..abi::EI_NIDENT),
        image.get(abi::EI_NIDENT..EHDR_SIZE),
    ) else {
        return Err(LoadError::Truncated("ELF header"));
    };
    if ident[abi::EI_CLASS] != abi::ELFCLASS64 {
        return Err(LoadError::WrongClass(ident[abi::EI_CLASS]));
    }
    if ident[abi::EI_DATA] != abi::ELFDATA2LSB {
        return Err(LoadError::WrongEndianness(ident[abi::EI_DATA]));
    }
    if ident[abi::EI_VERSION] != abi::EV_CURRENT {
        return Err(LoadError::WrongVersion);
    }
    let ident = parse_ident::<LittleEndian>(ident).map_err(|_| LoadError::NotElf)?;
    FileHeader::parse_tail(ident, tail).map_err(|_| LoadError::Truncated("ELF header"))
}

/// Reads the program header table, refusing the sizes Linux refuses.
fn program_headers(
    image: &[u8],
    ehdr: &FileHeader<LittleEndian>,
) -> Result<Vec<ProgramHeader>, LoadError> {
    if usize::from(ehdr.e_phentsize) != PHDR_SIZE {
        return Err(LoadError::BadProgramHeaderTable("e_phentsize is not 56"));
    }
    let phnum = usize::from(ehdr.e_phnum);
    if phnum == 0 || phnum > MAX_PHNUM {
        return Err(LoadError::BadProgramHeaderTable(
            "e_phnum is 0 or above 1170",
        ));
    }
    let table = usize::try_from(ehdr.e_phoff)
        .ok()
        .and_then(|start| Some(start..start.checked_add(phnum * PHDR_SIZE)?))
        .and_then(|range| image.get(range))
        .ok_or(LoadError::Truncated("program header table"))?;
    let table = SegmentTable::new(LittleEndian, Class::ELF64, table);
    (0..phnum)
        .map(|i| {
            table
                .get(i)
                .map_err(|_| LoadError::Truncated("program header table"))
        })
        .collect()
}

/// The interpreter path, for the error message only (lossy, bounded, NUL stripped).
fn interpreter_name(image: &[u8], ph: &ProgramHeader) -> String {
    let bytes = usize::try_from(ph.p_offset)
        .ok()
        .zip(usize::try_from(ph.p_filesz.min(256)).ok())
        .and_then(|(start, len)| image.get(start..start.checked_add(len)?))
        .unwrap_or(b"?");
    let bytes = bytes.split(|&b| b == 0).next().unwrap_or(b"?");
    String::from_utf8_lossy(bytes).into_owned()
}

/// The load bias for a static-PIE: `pie_base` rounded up to the largest `PT_LOAD`
/// alignment, minus the lowest segment's aligned address.
fn pie_bias(phdrs: &[ProgramHeader], pie_base: u64) -> Result<u64, LoadError> {
    if !pie_base.is_multiple_of(PAGE_SIZE) {
        return Err(LoadError::BadBase(pie_base));
    }
    let mut align = PAGE_SIZE;
    let mut lowest = u64::MAX;
    for (index, ph) in phdrs.iter().enumerate() {
        if ph.p_type != abi::PT_LOAD {
            continue;
        }
        if ph.p_align > 1 && !ph.p_align.is_power_of_two() {
            return Err(LoadError::BadAlignment { index });
        }
        align = align.max(ph.p_align.min(MAX_SEGMENT_ALIGN));
        lowest = lowest.min(ph.p_vaddr);
    }
    if lowest == u64::MAX {
        return Err(LoadError::NoLoadableSegment);
    }
    let start = pie_base
        .checked_add(align - 1)
        .map(|b| b & !(align - 1))
        .ok_or(LoadError::BadBase(pie_base))?;
    start
        .checked_sub(lowest & !(align - 1))
        .ok_or(LoadError::BadBase(pie_base))
}

/// Validates every `PT_LOAD` and returns the non-empty ones, biased.
fn load_segments(
    image: &[u8],
    phdrs: &[ProgramHeader],
    base: u64,
) -> Result<Vec<Segment>, LoadError> {
    let mut segments: Vec<Segment> = Vec::new();
    let mut previous: Option<(usize, u64)> = None;
    for (index, ph) in phdrs.iter().enumerate() {
        if ph.p_type != abi::PT_LOAD {
            continue;
        }
        let segment = check_load_segment(image, index, ph, base)?;

        // The ELF specification orders PT_LOAD by ascending p_vaddr; checking each
        // against the previous one then rules out every overlap.
        if let Some((first, previous_end)) = previous
            && segment.vaddr < previous_end
        {
            return Err(LoadError::OverlappingSegments {
                first,
                second: index,
            });
        }
        if segment.memsz == 0 {
            continue;
        }
        previous = Some((index, segment.end()));
        segments.push(segment);
    }
    if segments.is_empty() {
        return Err(LoadError::NoLoadableSegment);
    }
    Ok(segments)
}

fn check_load_segment(
    image: &[u8],
    index: usize,
    ph: &ProgramHeader,
    base: u64,
) -> Result<Segment, LoadError> {
    if ph.p_memsz < ph.p_filesz {
        return Err(LoadError::MemSizeBelowFileSize { index });
    }
    let file_end = ph.p_offset.checked_add(ph.p_filesz);
    if file_end.is_none_or(|end| end > image.len() as u64) {
        return Err(LoadError::SegmentOutsideFile { index });
    }
    // Linux maps file pages at `p_offset - p_vaddr % PAGE_SIZE`: both must agree.
    let bad_align = ph.p_align > 1 && !ph.p_align.is_power_of_two();
    if bad_align || ph.p_vaddr % PAGE_SIZE != ph.p_offset % PAGE_SIZE {
        return Err(LoadError::BadAlignment { index });
    }
    let vaddr = ph.p_vaddr.checked_add(base);
    let end = vaddr.and_then(|v| v.checked_add(ph.p_memsz));
    let (Some(vaddr), Some(end)) = (vaddr, end) else {
        return Err(LoadError::SegmentOutsideUserSpace { index });
    };
    if vaddr < MIN_LOAD_ADDR || end > USER_SPACE_END {
        return Err(LoadError::SegmentOutsideUserSpace { index });
    }
    Ok(Segment {
        vaddr,
        memsz: ph.p_memsz,
        file_offset: ph.p_offset,
        filesz: ph.p_filesz,
        prot: Prot::from_p_flags(ph.p_flags),
    })
}

/// `AT_PHDR`: from `PT_PHDR` when present, else from the `PT_LOAD` whose file bytes hold
/// the table (what Linux does since 5.18; musl needs a correct value to find `PT_TLS`).
fn phdr_address(
    ehdr: &FileHeader<LittleEndian>,
    phdrs: &[ProgramHeader],
    base: u64,
) -> Result<u64, LoadError> {
    let table_size = u64::from(ehdr.e_phnum) * PHDR_SIZE as u64;
    if let Some(ph) = phdrs.iter().find(|ph| ph.p_type == abi::PT_PHDR) {
        let inside_load = phdrs.iter().any(|load| {
            load.p_type == abi::PT_LOAD
                && load.p_vaddr <= ph.p_vaddr
                && ph.p_vaddr.saturating_add(table_size)
                    <= load.p_vaddr.saturating_add(load.p_filesz)
        });
        if !inside_load {
            return Err(LoadError::BadProgramHeaderTable(
                "PT_PHDR outside every PT_LOAD",
            ));
        }
        return Ok(ph.p_vaddr + base);
    }
    let table_end = ehdr.e_phoff.saturating_add(table_size);
    phdrs
        .iter()
        .find(|load| {
            load.p_type == abi::PT_LOAD
                && load.p_offset <= ehdr.e_phoff
                && table_end <= load.p_offset.saturating_add(load.p_filesz)
        })
        .map(|load| load.p_vaddr + (ehdr.e_phoff - load.p_offset) + base)
        .ok_or(LoadError::BadProgramHeaderTable(
            "not loaded by any PT_LOAD",
        ))
}

fn tls_template(
    image: &[u8],
    phdrs: &[ProgramHeader],
    base: u64,
) -> Result<Option<Tls>, LoadError> {
    let Some(ph) = phdrs.iter().find(|ph| ph.p_type == abi::PT_TLS) else {
        return Ok(None);
    };
    let file_end = ph.p_offset.checked_add(ph.p_filesz);
    let in_file = file_end.is_some_and(|end| end <= image.len() as u64);
    let align_ok = ph.p_align <= 1 || ph.p_align.is_power_of_two();
    let vaddr = ph.p_vaddr.checked_add(base);
    let in_user = vaddr
        .and_then(|v| v.checked_add(ph.p_memsz))
        .is_some_and(|end| end <= USER_SPACE_END);
    match vaddr {
        Some(vaddr) if in_file && align_ok && in_user && ph.p_filesz <= ph.p_memsz => {
            Ok(Some(Tls {
                vaddr,
                filesz: ph.p_filesz,
                memsz: ph.p_memsz,
                align: ph.p_align.max(1),
            }))
        }
        _ => Err(LoadError::BadTls),
    }
}

fn align_up(addr: u64) -> u64 {
    addr.checked_next_multiple_of(PAGE_SIZE)
        .unwrap_or(!(PAGE_SIZE - 1))
}
