//! `plan` on hand-built images (one rule per test) and on real static binaries built
//! with the host's gcc / musl-gcc, including truncated and bit-flipped copies.

use elf_loader::{DEFAULT_PIE_BASE, ElfKind, LoadError, Prot, USER_SPACE_END, plan};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
const PT_TLS: u32 = 7;
const PT_GNU_STACK: u32 = 0x6474_e551;
const R: u32 = 4;
const W: u32 = 2;
const X: u32 = 1;

#[derive(Clone, Copy)]
struct Ph {
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

fn load(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
    Ph {
        p_type: PT_LOAD,
        flags,
        offset,
        vaddr,
        filesz,
        memsz,
        align: 0x1000,
    }
}

/// An ELF64 image: header, program headers at offset 64, then zeros up to `len`.
fn image(e_type: u16, entry: u64, phdrs: &[Ph], len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len.max(64 + 56 * phdrs.len())];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // ELFCLASS64
    f[5] = 1; // ELFDATA2LSB
    f[6] = 1; // EV_CURRENT
    f[16..18].copy_from_slice(&e_type.to_le_bytes());
    f[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[24..32].copy_from_slice(&entry.to_le_bytes());
    f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    f[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
    for (i, ph) in phdrs.iter().enumerate() {
        let o = 64 + 56 * i;
        f[o..o + 4].copy_from_slice(&ph.p_type.to_le_bytes());
        f[o + 4..o + 8].copy_from_slice(&ph.flags.to_le_bytes());
        f[o + 8..o + 16].copy_from_slice(&ph.offset.to_le_bytes());
        f[o + 16..o + 24].copy_from_slice(&ph.vaddr.to_le_bytes());
        f[o + 24..o + 32].copy_from_slice(&ph.vaddr.to_le_bytes());
        f[o + 32..o + 40].copy_from_slice(&ph.filesz.to_le_bytes());
        f[o + 40..o + 48].copy_from_slice(&ph.memsz.to_le_bytes());
        f[o + 48..o + 56].copy_from_slice(&ph.align.to_le_bytes());
    }
    f
}

/// A minimal valid ET_EXEC: headers and code in one R+X page at 0x400000, data + bss in
/// an RW segment at 0x401000.
fn exec_image() -> Vec<u8> {
    image(
        2,
        0x400100,
        &[
            load(R | X, 0, 0x400000, 0x200, 0x200),
            load(R | W, 0x1000, 0x401000, 0x80, 0x3000),
        ],
        0x1080,
    )
}

#[test]
fn exec_image_gives_segments_entry_phdr_and_brk() {
    let p = plan(&exec_image(), DEFAULT_PIE_BASE).unwrap();
    assert_eq!(p.kind, ElfKind::Executable);
    assert_eq!(p.base, 0);
    assert_eq!(p.entry, 0x400100);
    assert_eq!(p.segments.len(), 2);
    let data = p.segments[1];
    assert_eq!(
        (data.vaddr, data.memsz, data.file_offset, data.filesz),
        (0x401000, 0x3000, 0x1000, 0x80)
    );
    assert_eq!(
        data.prot,
        Prot {
            read: true,
            write: true,
            exec: false
        }
    );
    assert_eq!(data.prot.to_mmap_prot(), 3);
    assert_eq!(
        p.phdr_vaddr, 0x400040,
        "table at file offset 64 inside the first PT_LOAD"
    );
    assert_eq!((p.phnum, p.phent), (2, 56));
    assert_eq!(p.brk_start, 0x404000);
    assert_eq!(p.tls, None);
}

#[test]
fn static_pie_is_placed_at_the_requested_base() {
    let f = image(3, 0x100, &[load(R | X, 0, 0, 0x200, 0x200)], 0x200);
    let p = plan(&f, DEFAULT_PIE_BASE).unwrap();
    assert_eq!(p.kind, ElfKind::StaticPie);
    assert_eq!(p.base, DEFAULT_PIE_BASE);
    assert_eq!(p.entry, DEFAULT_PIE_BASE + 0x100);
    assert_eq!(p.segments[0].vaddr, DEFAULT_PIE_BASE);
    assert_eq!(p.phdr_vaddr, DEFAULT_PIE_BASE + 64);
}

#[test]
fn static_pie_base_is_rounded_up_to_segment_alignment() {
    let mut seg = load(R | X, 0, 0, 0x200, 0x200);
    seg.align = 0x20_0000;
    let p = plan(&image(3, 0x100, &[seg], 0x200), 0x1000_1000).unwrap();
    assert_eq!(p.base, 0x1020_0000);
}

#[test]
fn unaligned_pie_base_is_refused() {
    let f = image(3, 0x100, &[load(R | X, 0, 0, 0x200, 0x200)], 0x200);
    assert_eq!(plan(&f, 0x1234), Err(LoadError::BadBase(0x1234)));
}

#[test]
fn pt_phdr_gives_at_phdr_when_present() {
    let phdr = Ph {
        p_type: PT_PHDR,
        flags: R,
        offset: 64,
        vaddr: 0x400040,
        filesz: 112,
        memsz: 112,
        align: 8,
    };
    let f = image(
        2,
        0x400100,
        &[phdr, load(R | X, 0, 0x400000, 0x200, 0x200)],
        0x200,
    );
    assert_eq!(plan(&f, 0).unwrap().phdr_vaddr, 0x400040);
}

#[test]
fn program_headers_outside_every_load_are_refused() {
    let f = image(
        2,
        0x401100,
        &[load(R | X, 0x1000, 0x401000, 0x200, 0x200)],
        0x1200,
    );
    assert!(matches!(
        plan(&f, 0),
        Err(LoadError::BadProgramHeaderTable(_))
    ));
}

#[test]
fn dynamically_linked_file_is_refused_naming_its_interpreter() {
    let interp = Ph {
        p_type: PT_INTERP,
        flags: R,
        offset: 0x180,
        vaddr: 0x400180,
        filesz: 28,
        memsz: 28,
        align: 1,
    };
    let mut f = image(3, 0x100, &[interp, load(R | X, 0, 0, 0x200, 0x200)], 0x200);
    f[0x180..0x180 + 28].copy_from_slice(b"/lib64/ld-linux-x86-64.so.2\0");
    let err = plan(&f, DEFAULT_PIE_BASE).unwrap_err();
    assert_eq!(
        err,
        LoadError::DynamicallyLinked {
            interpreter: "/lib64/ld-linux-x86-64.so.2".into()
        }
    );
    assert!(err.to_string().contains("/lib64/ld-linux-x86-64.so.2"));
    assert_eq!(err.errno(), syscall::Errno::ENOEXEC);
}

#[test]
fn wrong_class_endianness_machine_version_and_type_are_refused() {
    let good = exec_image();
    let mut f = good.clone();
    f[4] = 1;
    assert_eq!(plan(&f, 0), Err(LoadError::WrongClass(1)));
    let mut f = good.clone();
    f[5] = 2;
    assert_eq!(plan(&f, 0), Err(LoadError::WrongEndianness(2)));
    let mut f = good.clone();
    f[18] = 3; // EM_386
    assert_eq!(plan(&f, 0), Err(LoadError::WrongMachine(3)));
    let mut f = good.clone();
    f[6] = 0;
    assert_eq!(plan(&f, 0), Err(LoadError::WrongVersion));
    let mut f = good.clone();
    f[16] = 1; // ET_REL
    assert_eq!(plan(&f, 0), Err(LoadError::WrongType(1)));
    let mut f = good;
    f[0] = b'X';
    assert_eq!(plan(&f, 0), Err(LoadError::NotElf));
}

#[test]
fn truncated_headers_are_refused() {
    let f = exec_image();
    assert_eq!(plan(&f[..40], 0), Err(LoadError::Truncated("ELF header")));
    assert_eq!(
        plan(&f[..100], 0),
        Err(LoadError::Truncated("program header table"))
    );
    assert_eq!(plan(&[], 0), Err(LoadError::Truncated("ELF header")));
}

#[test]
fn bad_program_header_table_sizes_are_refused() {
    let mut f = exec_image();
    f[54] = 32; // e_phentsize
    assert!(matches!(
        plan(&f, 0),
        Err(LoadError::BadProgramHeaderTable(_))
    ));
    let mut f = exec_image();
    f[56..58].copy_from_slice(&0u16.to_le_bytes());
    assert!(matches!(
        plan(&f, 0),
        Err(LoadError::BadProgramHeaderTable(_))
    ));
    let mut f = exec_image();
    f[56..58].copy_from_slice(&0xffffu16.to_le_bytes());
    assert!(matches!(
        plan(&f, 0),
        Err(LoadError::BadProgramHeaderTable(_))
    ));
    let mut f = exec_image();
    f[32..40].copy_from_slice(&u64::MAX.to_le_bytes()); // e_phoff
    assert!(matches!(plan(&f, 0), Err(LoadError::Truncated(_))));
}

#[test]
fn segment_past_end_of_file_is_refused() {
    let f = image(
        2,
        0x400100,
        &[load(R | X, 0, 0x400000, 0x2000, 0x2000)],
        0x200,
    );
    assert_eq!(plan(&f, 0), Err(LoadError::SegmentOutsideFile { index: 0 }));
    let f = image(
        2,
        0x400100,
        &[load(R | X, u64::MAX - 8, 0x400ff7, 0x10, 0x10)],
        0x200,
    );
    assert_eq!(plan(&f, 0), Err(LoadError::SegmentOutsideFile { index: 0 }));
}

#[test]
fn memsz_below_filesz_is_refused() {
    let f = image(
        2,
        0x400100,
        &[load(R | X, 0, 0x400000, 0x200, 0x100)],
        0x200,
    );
    assert_eq!(
        plan(&f, 0),
        Err(LoadError::MemSizeBelowFileSize { index: 0 })
    );
}

#[test]
fn addresses_that_wrap_or_leave_user_space_are_refused() {
    let f = image(
        2,
        0x400100,
        &[load(R | X, 0, 0x400000, 0x200, u64::MAX - 0x1000)],
        0x200,
    );
    assert_eq!(
        plan(&f, 0),
        Err(LoadError::SegmentOutsideUserSpace { index: 0 })
    );
    let f = image(
        2,
        0x400100,
        &[load(R | X, 0, 0x7fff_ffff_e000, 0x200, 0x2000)],
        0x200,
    );
    assert_eq!(
        plan(&f, 0),
        Err(LoadError::SegmentOutsideUserSpace { index: 0 })
    );
    let f = image(2, 0x100, &[load(R | X, 0, 0, 0x200, 0x200)], 0x200);
    assert_eq!(
        plan(&f, 0),
        Err(LoadError::SegmentOutsideUserSpace { index: 0 }),
        "page 0"
    );
    // A static-PIE whose bias pushes it past the end of user space.
    let f = image(3, 0x100, &[load(R | X, 0, 0, 0x200, 0x200)], 0x200);
    assert_eq!(
        plan(&f, USER_SPACE_END),
        Err(LoadError::SegmentOutsideUserSpace { index: 0 })
    );
}

#[test]
fn overlapping_or_unsorted_loads_are_refused() {
    let f = image(
        2,
        0x400100,
        &[
            load(R | X, 0, 0x400000, 0x200, 0x1800),
            load(R | W, 0x1000, 0x401000, 0x10, 0x10),
        ],
        0x1010,
    );
    assert_eq!(
        plan(&f, 0),
        Err(LoadError::OverlappingSegments {
            first: 0,
            second: 1
        })
    );
    let f = image(
        2,
        0x400100,
        &[
            load(R | W, 0x1000, 0x401000, 0x10, 0x10),
            load(R | X, 0, 0x400000, 0x200, 0x200),
        ],
        0x1010,
    );
    assert_eq!(
        plan(&f, 0),
        Err(LoadError::OverlappingSegments {
            first: 0,
            second: 1
        })
    );
}

#[test]
fn segments_may_share_a_page_without_overlapping() {
    let f = image(
        2,
        0x400100,
        &[
            load(R | X, 0, 0x400000, 0x800, 0x800),
            load(R | W, 0x800, 0x400800, 0x10, 0x100),
        ],
        0x810,
    );
    let p = plan(&f, 0).unwrap();
    assert_eq!(
        p.segments[0].page_end(),
        p.segments[1].page_start() + 0x1000
    );
}

#[test]
fn offset_and_vaddr_not_congruent_modulo_page_are_refused() {
    let f = image(
        2,
        0x400100,
        &[load(R | X, 0, 0x400010, 0x200, 0x200)],
        0x200,
    );
    assert_eq!(plan(&f, 0), Err(LoadError::BadAlignment { index: 0 }));
    let mut seg = load(R | X, 0, 0x400000, 0x200, 0x200);
    seg.align = 0x3000;
    assert_eq!(
        plan(&image(2, 0x400100, &[seg], 0x200), 0),
        Err(LoadError::BadAlignment { index: 0 })
    );
}

#[test]
fn file_without_load_segments_is_refused() {
    let stack = Ph {
        p_type: PT_GNU_STACK,
        flags: R | W,
        offset: 0,
        vaddr: 0,
        filesz: 0,
        memsz: 0,
        align: 16,
    };
    assert_eq!(
        plan(&image(2, 0x400100, &[stack], 0x200), 0),
        Err(LoadError::NoLoadableSegment)
    );
    let empty = load(R | X, 0, 0x400000, 0, 0);
    assert_eq!(
        plan(&image(2, 0x400100, &[empty], 0x200), 0),
        Err(LoadError::NoLoadableSegment)
    );
}

#[test]
fn entry_outside_executable_segments_is_refused() {
    let f = image(2, 0x401000, &exec_phdrs(), 0x1080);
    assert_eq!(plan(&f, 0), Err(LoadError::EntryOutsideCode(0x401000)));
}

fn exec_phdrs() -> [Ph; 2] {
    [
        load(R | X, 0, 0x400000, 0x200, 0x200),
        load(R | W, 0x1000, 0x401000, 0x80, 0x3000),
    ]
}

#[test]
fn tls_template_and_stack_flags_are_reported() {
    let [text, data] = exec_phdrs();
    let tls = Ph {
        p_type: PT_TLS,
        flags: R,
        offset: 0x1000,
        vaddr: 0x401000,
        filesz: 0x10,
        memsz: 0x40,
        align: 64,
    };
    let stack = Ph {
        p_type: PT_GNU_STACK,
        flags: R | W | X,
        offset: 0,
        vaddr: 0,
        filesz: 0,
        memsz: 0,
        align: 16,
    };
    let p = plan(&image(2, 0x400100, &[text, data, tls, stack], 0x1080), 0).unwrap();
    let t = p.tls.unwrap();
    assert_eq!(
        (t.vaddr, t.filesz, t.memsz, t.align),
        (0x401000, 0x10, 0x40, 64)
    );
    assert!(p.executable_stack);

    let bad = Ph { memsz: 0x8, ..tls };
    assert_eq!(
        plan(&image(2, 0x400100, &[text, data, bad], 0x1080), 0),
        Err(LoadError::BadTls)
    );
}

/// Builds `source` with `compiler flags`, or None when the compiler is missing.
fn compile(name: &str, compiler: &str, flags: &[&str]) -> Option<Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("elf-loader-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let src = dir.join("hello.c");
    std::fs::write(&src, "#include <stdio.h>\n__thread int t = 1;\nint main(void) { printf(\"hi %d\\n\", t); return 0; }\n").ok()?;
    let out: PathBuf = dir.join(name);
    let status = Command::new(compiler)
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    std::fs::read(out).ok()
}

fn gcc_static() -> Option<&'static [u8]> {
    static BIN: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    BIN.get_or_init(|| compile("static", "gcc", &["-static", "-O1"]))
        .as_deref()
}

#[test]
fn gcc_static_binary_is_planned_like_linux_loads_it() {
    let Some(bin) = gcc_static() else {
        eprintln!("gcc -static unavailable; skipped");
        return;
    };
    let p = plan(bin, DEFAULT_PIE_BASE).unwrap();
    assert_eq!(p.kind, ElfKind::Executable);
    assert!(p.segments.iter().any(|s| s.prot.exec));
    assert!(
        p.segments
            .iter()
            .any(|s| s.prot.write && s.memsz > s.filesz),
        "bss"
    );
    assert!(p.tls.is_some(), "__thread variable");
    assert!(!p.executable_stack);
    assert_eq!(p.brk_start % 4096, 0);
    assert!(p.segments.iter().all(|s| s.end() <= p.brk_start));
}

#[test]
fn gcc_static_pie_and_musl_binaries_are_accepted() {
    if let Some(bin) = compile("static-pie", "gcc", &["-static-pie", "-fPIE", "-O1"]) {
        let p = plan(&bin, DEFAULT_PIE_BASE).unwrap();
        assert_eq!(p.kind, ElfKind::StaticPie);
        assert_eq!(p.base, DEFAULT_PIE_BASE);
    }
    if let Some(bin) = compile("musl", "musl-gcc", &["-static", "-O1"]) {
        assert_eq!(
            plan(&bin, DEFAULT_PIE_BASE).unwrap().kind,
            ElfKind::Executable
        );
    }
}

#[test]
fn gcc_dynamic_binary_is_refused_naming_its_interpreter() {
    let Some(bin) = compile("dynamic", "gcc", &["-O1"]) else {
        return;
    };
    match plan(&bin, DEFAULT_PIE_BASE) {
        Err(LoadError::DynamicallyLinked { interpreter }) => {
            assert!(interpreter.contains("ld-linux"))
        }
        other => panic!("expected DynamicallyLinked, got {other:?}"),
    }
}

/// Every truncation of the headers and every single-bit flip in them, plus random flips
/// anywhere, must give Ok or Err, never a panic.
#[test]
fn truncated_and_bit_flipped_real_binary_never_panics() {
    let fallback = exec_image();
    let bin = gcc_static().unwrap_or(&fallback);
    let headers = (64 + 56 * usize::from(u16::from_le_bytes([bin[56], bin[57]]))).min(bin.len());

    for len in (0..headers + 64).chain((headers..bin.len()).step_by(997)) {
        let _ = plan(&bin[..len.min(bin.len())], DEFAULT_PIE_BASE);
    }
    let mut copy = bin.to_vec();
    for byte in 0..headers {
        for bit in 0..8 {
            copy[byte] ^= 1 << bit;
            let _ = plan(&copy, DEFAULT_PIE_BASE);
            copy[byte] ^= 1 << bit;
        }
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..2000 {
        let mut copy = bin.to_vec();
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed as usize) % headers;
            copy[at] = (seed >> 32) as u8;
        }
        let _ = plan(&copy, DEFAULT_PIE_BASE);
    }
    // Unaligned input (as from a cpio archive) is fine too.
    let mut shifted = vec![0u8; 1];
    shifted.extend_from_slice(bin);
    assert_eq!(
        plan(&shifted[1..], DEFAULT_PIE_BASE),
        plan(bin, DEFAULT_PIE_BASE)
    );
}
