//! Host-side check that a file is a static x86_64 ELF executable Spindle can run.
//!
//! Reads only the ELF header and program headers (System V gABI, "ELF Header" and
//! "Program Header"): 64-bit little-endian, `e_machine` EM_X86_64, `e_type` ET_EXEC or
//! ET_DYN (static-PIE), and no PT_INTERP, which marks a dynamically linked program.
//! The kernel's loader does the full validation; this only refuses early and clearly.

use std::fmt;

const EM_X86_64: u16 = 62;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const PT_INTERP: u32 = 3;
const EHDR_SIZE: usize = 64;

/// Why a file is not something Spindle can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotElf,
    Not64BitLittleEndian,
    NotX86_64(u16),
    NotExecutable(u16),
    Truncated,
    /// Dynamically linked: names the interpreter from PT_INTERP.
    Dynamic(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotElf => f.write_str("is not an ELF file"),
            Refusal::Not64BitLittleEndian => f.write_str("is not a 64-bit little-endian ELF"),
            Refusal::NotX86_64(m) => write!(f, "is not an x86_64 ELF (e_machine {m})"),
            Refusal::NotExecutable(t) => write!(f, "is not an executable (e_type {t})"),
            Refusal::Truncated => f.write_str("is a truncated ELF file"),
            Refusal::Dynamic(interp) => write!(
                f,
                "is dynamically linked (interpreter {interp}); Spindle runs static \
                 executables only: link it with -static"
            ),
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Accepts a static x86_64 executable (ET_EXEC or static-PIE ET_DYN without PT_INTERP).
pub fn check_static_x86_64(bytes: &[u8]) -> Result<(), Refusal> {
    if bytes.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err(Refusal::NotElf);
    }
    if bytes.len() < EHDR_SIZE {
        return Err(Refusal::Truncated);
    }
    // EI_CLASS = ELFCLASS64, EI_DATA = ELFDATA2LSB.
    if bytes[4] != 2 || bytes[5] != 1 {
        return Err(Refusal::Not64BitLittleEndian);
    }
    let e_type = u16_at(bytes, 16).ok_or(Refusal::Truncated)?;
    let e_machine = u16_at(bytes, 18).ok_or(Refusal::Truncated)?;
    if e_machine != EM_X86_64 {
        return Err(Refusal::NotX86_64(e_machine));
    }
    if e_type != ET_EXEC && e_type != ET_DYN {
        return Err(Refusal::NotExecutable(e_type));
    }
    let phoff = u64_at(bytes, 32).ok_or(Refusal::Truncated)?;
    let phentsize = u16_at(bytes, 54).ok_or(Refusal::Truncated)? as u64;
    let phnum = u16_at(bytes, 56).ok_or(Refusal::Truncated)? as u64;
    // The whole program header table must lie inside the file.
    let table_end = phentsize
        .checked_mul(phnum)
        .and_then(|size| size.checked_add(phoff));
    if table_end.is_none_or(|end| end > bytes.len() as u64) || (phnum > 0 && phentsize < 56) {
        return Err(Refusal::Truncated);
    }
    for i in 0..phnum {
        let at = phentsize
            .checked_mul(i)
            .and_then(|off| off.checked_add(phoff))
            .and_then(|at| usize::try_from(at).ok())
            .ok_or(Refusal::Truncated)?;
        let p_type = u32_at(bytes, at).ok_or(Refusal::Truncated)?;
        if p_type == PT_INTERP {
            let offset = u64_at(bytes, at.checked_add(8).ok_or(Refusal::Truncated)?)
                .ok_or(Refusal::Truncated)?;
            let size = u64_at(bytes, at.checked_add(32).ok_or(Refusal::Truncated)?)
                .ok_or(Refusal::Truncated)?;
            let interp = usize::try_from(offset)
                .ok()
                .zip(usize::try_from(size).ok())
                .and_then(|(o, s)| bytes.get(o..o.checked_add(s)?))
                .map(|raw| {
                    String::from_utf8_lossy(raw)
                        .trim_end_matches('\0')
                        .to_string()
                })
                .unwrap_or_else(|| "<unreadable>".to_string());
            return Err(Refusal::Dynamic(interp));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A minimal ELF header with `phnum` program headers of the given types.
    fn elf(e_type: u16, p_types: &[u32], interp: &str) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[16..18].copy_from_slice(&e_type.to_le_bytes());
        b[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&(p_types.len() as u16).to_le_bytes());
        let interp_off = 64 + 56 * p_types.len() as u64;
        for &t in p_types {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&t.to_le_bytes());
            ph[8..16].copy_from_slice(&interp_off.to_le_bytes());
            ph[32..40].copy_from_slice(&(interp.len() as u64 + 1).to_le_bytes());
            b.extend(ph);
        }
        b.extend(interp.as_bytes());
        b.push(0);
        b
    }

    #[test]
    fn static_executable_is_accepted() {
        assert_eq!(check_static_x86_64(&elf(ET_EXEC, &[1, 1, 4], "")), Ok(()));
    }

    #[test]
    fn static_pie_with_pt_dynamic_is_accepted() {
        assert_eq!(check_static_x86_64(&elf(ET_DYN, &[6, 1, 2], "")), Ok(()));
    }

    #[test]
    fn pt_interp_is_refused_naming_the_interpreter() {
        let refusal = check_static_x86_64(&elf(ET_DYN, &[6, 3, 1], "/lib64/ld.so")).unwrap_err();
        assert_eq!(refusal, Refusal::Dynamic("/lib64/ld.so".to_string()));
        assert!(refusal.to_string().contains("dynamically linked"));
    }

    #[test]
    fn non_elf_and_truncated_files_are_refused() {
        assert_eq!(check_static_x86_64(b"#!/bin/sh\n"), Err(Refusal::NotElf));
        assert_eq!(
            check_static_x86_64(b"\x7fELF\x02\x01"),
            Err(Refusal::Truncated)
        );
        let mut cut = elf(ET_EXEC, &[1, 1], "");
        cut.truncate(64 + 60);
        assert_eq!(check_static_x86_64(&cut), Err(Refusal::Truncated));
    }

    #[test]
    fn absurd_program_header_offset_is_truncated_not_a_panic() {
        let mut b = elf(ET_EXEC, &[1], "");
        b[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(check_static_x86_64(&b), Err(Refusal::Truncated));
    }

    #[test]
    fn other_machines_and_relocatable_objects_are_refused() {
        let mut arm = elf(ET_EXEC, &[1], "");
        arm[18..20].copy_from_slice(&183u16.to_le_bytes());
        assert_eq!(check_static_x86_64(&arm), Err(Refusal::NotX86_64(183)));
        assert_eq!(
            check_static_x86_64(&elf(1, &[], "")),
            Err(Refusal::NotExecutable(1))
        );
    }

    #[test]
    fn this_hosts_dynamic_binaries_are_refused() {
        // Debian's coreutils are dynamically linked: a real-world check of PT_INTERP.
        let path = Path::new("/bin/ls");
        if let Ok(bytes) = std::fs::read(path) {
            assert!(matches!(
                check_static_x86_64(&bytes),
                Err(Refusal::Dynamic(_))
            ));
        }
    }
}
