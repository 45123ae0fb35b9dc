//! Why an image cannot be loaded.

use alloc::string::String;
use core::fmt;
use syscall::Errno;

/// A reason to refuse an executable image. Every variant maps to `ENOEXEC`, as Linux's
/// `load_elf_binary` answers for a file it cannot run; the message is for the log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// Shorter than the part of the file named (ELF header, program header table).
    Truncated(&'static str),
    /// The first four bytes are not `\x7fELF`.
    NotElf,
    /// `EI_CLASS` is not `ELFCLASS64`.
    WrongClass(u8),
    /// `EI_DATA` is not `ELFDATA2LSB`.
    WrongEndianness(u8),
    /// `EI_VERSION` or `e_version` is not `EV_CURRENT`.
    WrongVersion,
    /// `e_machine` is not `EM_X86_64`.
    WrongMachine(u16),
    /// `e_type` is neither `ET_EXEC` nor `ET_DYN` (a relocatable object, a core file).
    WrongType(u16),
    /// The file has a `PT_INTERP`: it needs this dynamic linker, which Spindle lacks.
    DynamicallyLinked { interpreter: String },
    /// `e_phentsize` or `e_phnum` is unusable.
    BadProgramHeaderTable(&'static str),
    /// The file bytes of program header `index` lie (partly) past the end of the file.
    SegmentOutsideFile { index: usize },
    /// Program header `index` has `p_memsz < p_filesz`.
    MemSizeBelowFileSize { index: usize },
    /// Program header `index` wraps around or ends above the user address space, or
    /// starts below the lowest mappable address.
    SegmentOutsideUserSpace { index: usize },
    /// Program header `index` has a bad alignment: not a power of two, or `p_offset` and
    /// `p_vaddr` not congruent modulo the page size (so it cannot be mapped page-wise).
    BadAlignment { index: usize },
    /// `PT_LOAD` entries `first` and `second` cover the same addresses, or are out of
    /// ascending `p_vaddr` order (which the ELF specification requires).
    OverlappingSegments { first: usize, second: usize },
    /// No `PT_LOAD` entry: nothing to map.
    NoLoadableSegment,
    /// `e_entry` does not lie inside an executable `PT_LOAD`.
    EntryOutsideCode(u64),
    /// The `PT_TLS` template is inconsistent (size, alignment or file range).
    BadTls,
    /// The `pie_base` given for a static-PIE is not page-aligned.
    BadBase(u64),
}

impl LoadError {
    /// The errno `execve` would return for this image.
    pub fn errno(&self) -> Errno {
        Errno::ENOEXEC
    }
}

impl From<LoadError> for Errno {
    fn from(e: LoadError) -> Errno {
        e.errno()
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Truncated(what) => write!(f, "file too short for its {what}"),
            LoadError::NotElf => write!(f, "not an ELF file (bad magic)"),
            LoadError::WrongClass(c) => write!(f, "not a 64-bit ELF file (EI_CLASS {c})"),
            LoadError::WrongEndianness(d) => {
                write!(f, "not a little-endian ELF file (EI_DATA {d})")
            }
            LoadError::WrongVersion => write!(f, "unknown ELF version"),
            LoadError::WrongMachine(m) => write!(f, "not an x86_64 ELF file (e_machine {m})"),
            LoadError::WrongType(t) => {
                write!(f, "not an executable (e_type {t}; need ET_EXEC or ET_DYN)")
            }
            LoadError::DynamicallyLinked { interpreter } => write!(
                f,
                "dynamically linked (interpreter `{interpreter}`); only static programs run"
            ),
            LoadError::BadProgramHeaderTable(why) => write!(f, "bad program header table: {why}"),
            LoadError::SegmentOutsideFile { index } => {
                write!(
                    f,
                    "program header {index}: file range past the end of the file"
                )
            }
            LoadError::MemSizeBelowFileSize { index } => {
                write!(f, "program header {index}: p_memsz smaller than p_filesz")
            }
            LoadError::SegmentOutsideUserSpace { index } => {
                write!(f, "program header {index}: addresses outside user space")
            }
            LoadError::BadAlignment { index } => {
                write!(f, "program header {index}: bad alignment")
            }
            LoadError::OverlappingSegments { first, second } => write!(
                f,
                "PT_LOAD {first} and {second} overlap or are not sorted by address"
            ),
            LoadError::NoLoadableSegment => write!(f, "no PT_LOAD segment"),
            LoadError::EntryOutsideCode(e) => {
                write!(f, "entry point {e:#x} outside the executable segments")
            }
            LoadError::BadTls => write!(f, "inconsistent PT_TLS segment"),
            LoadError::BadBase(b) => write!(f, "static-PIE base {b:#x} is not page-aligned"),
        }
    }
}
