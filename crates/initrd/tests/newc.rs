//! Round trips through `Writer` and `Archive`, hostile archives, and the host's `cpio`.

use initrd::{Archive, CpioError, HEADER_LEN, WriteError, Writer, pack, same_path};
use std::process::{Command, Stdio};

fn sample() -> Vec<u8> {
    pack([
        ("/bin/hello", 0o755, &b"\x7fELF hello"[..]),
        ("etc/motd", 0o644, b"hi\n"),
        ("empty", 0o600, b""),
        ("a/b/c/three", 0o644, b"abc"),
    ])
    .unwrap()
}

#[test]
fn packed_files_read_back_with_data_and_mode() {
    let bytes = sample();
    assert_eq!(bytes.len() % 512, 0);
    let archive = Archive::parse(&bytes).unwrap();
    let hello = archive.find("bin/hello").unwrap();
    assert_eq!(hello.data, b"\x7fELF hello");
    assert_eq!(hello.mode, 0o100755);
    assert!(hello.is_file());
    assert_eq!(archive.file("etc/motd"), Some(&b"hi\n"[..]));
    assert_eq!(archive.file("empty"), Some(&b""[..]));
    assert_eq!(archive.file("a/b/c/three"), Some(&b"abc"[..]));
}

#[test]
fn parent_directories_are_added_once_before_their_children() {
    let bytes = sample();
    let archive = Archive::parse(&bytes).unwrap();
    let names: Vec<&[u8]> = archive.iter().map(|e| e.name).collect();
    assert_eq!(
        names,
        [
            &b"bin"[..],
            b"bin/hello",
            b"etc",
            b"etc/motd",
            b"empty",
            b"a",
            b"a/b",
            b"a/b/c",
            b"a/b/c/three"
        ]
    );
    assert!(archive.find("a/b").unwrap().is_dir());
    assert_eq!(archive.file("a/b"), None, "a directory is not a file");
}

#[test]
fn lookup_ignores_leading_slash_dot_and_doubled_slashes() {
    let bytes = sample();
    let archive = Archive::parse(&bytes).unwrap();
    for path in [
        "/bin/hello",
        "./bin/hello",
        "bin//hello",
        "/./bin/./hello",
        "bin/hello/",
    ] {
        assert!(archive.find(path).is_some(), "{path}");
    }
    assert!(archive.find("bin/hell").is_none());
    assert!(archive.find("hello").is_none());
    assert!(same_path(b"./x", b"/x"));
    assert!(!same_path(b"x/y", b"xy"));
}

#[test]
fn later_entry_with_the_same_path_wins() {
    let bytes = pack([("f", 0o644, &b"old"[..]), ("./f", 0o644, b"new")]).unwrap();
    assert_eq!(
        Archive::parse(&bytes).unwrap().file("/f"),
        Some(&b"new"[..])
    );
}

#[test]
fn data_of_every_length_stays_aligned() {
    let blobs: Vec<Vec<u8>> = (0..9).map(|n| vec![n as u8; n]).collect();
    let names: Vec<String> = (0..9).map(|n| format!("d/{}", "x".repeat(n + 1))).collect();
    let bytes = pack(
        names
            .iter()
            .zip(&blobs)
            .map(|(n, b)| (n.as_str(), 0o644, b.as_slice())),
    )
    .unwrap();
    let archive = Archive::parse(&bytes).unwrap();
    for (name, blob) in names.iter().zip(&blobs) {
        let data = archive.file(name).unwrap();
        assert_eq!(data, blob.as_slice());
        assert_eq!((data.as_ptr() as usize - bytes.as_ptr() as usize) % 4, 0);
    }
}

#[test]
fn writer_refuses_paths_that_name_no_member() {
    let mut w = Writer::new();
    for bad in ["", "/", "./.", "a/../b", "nul\0", "TRAILER!!!"] {
        assert!(
            matches!(w.add_file(bad, 0o644, b""), Err(WriteError::BadPath(_))),
            "{bad:?}"
        );
    }
    w.add_dir("/usr/lib", 0o700).unwrap();
    let bytes = w.finish();
    let archive = Archive::parse(&bytes).unwrap();
    assert_eq!(archive.find("usr/lib").unwrap().mode, 0o40700);
}

#[test]
fn malformed_archives_give_errors() {
    let good = sample();
    let mut bad = good.clone();
    bad[0] = b'1';
    assert_eq!(
        Archive::parse(&bad).unwrap_err(),
        CpioError::BadMagic { offset: 0 }
    );
    let mut bad = good.clone();
    bad[6 + 8 * 6] = b'g'; // filesize digit
    assert_eq!(
        Archive::parse(&bad).unwrap_err(),
        CpioError::BadField { offset: 0 }
    );
    let mut bad = good.clone();
    bad[6 + 8 * 11..6 + 8 * 12].copy_from_slice(b"00000000"); // namesize 0
    assert_eq!(
        Archive::parse(&bad).unwrap_err(),
        CpioError::BadName { offset: 0 }
    );
    let mut bad = good.clone();
    bad[6 + 8 * 6..6 + 8 * 7].copy_from_slice(b"FFFFFFFF"); // filesize past the end
    assert_eq!(
        Archive::parse(&bad).unwrap_err(),
        CpioError::Truncated { offset: 0 }
    );
    assert_eq!(Archive::parse(&[]).unwrap_err(), CpioError::MissingTrailer);
    assert_eq!(
        Archive::parse(&good[..HEADER_LEN - 1]).unwrap_err(),
        CpioError::Truncated { offset: 0 }
    );
}

#[test]
fn every_truncation_and_bit_flip_gives_an_error_or_a_consistent_archive() {
    let good = sample();
    let trailer_end = good.iter().rposition(|&b| b != 0).unwrap() + 1;
    // The trailer entry ends with its name's NUL and the padding to 4 bytes.
    let archive_end = (trailer_end + 1).next_multiple_of(4);
    for len in 0..good.len() {
        let result = Archive::parse(&good[..len]);
        assert_eq!(result.is_ok(), len >= archive_end, "len {len}");
    }
    let mut copy = good.clone();
    for byte in 0..trailer_end {
        for bit in 0..8 {
            copy[byte] ^= 1 << bit;
            if let Ok(archive) = Archive::parse(&copy) {
                for entry in archive.iter() {
                    let _ = (entry.data.len(), archive.find(entry.name));
                }
            }
            copy[byte] ^= 1 << bit;
        }
    }
}

fn have_cpio() -> bool {
    Command::new("cpio")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok()
}

#[test]
fn host_cpio_extracts_what_writer_packs() {
    if !have_cpio() {
        eprintln!("cpio not installed; skipped");
        return;
    }
    let dir = tempdir("extract");
    let mut child = Command::new("cpio")
        .args(["-i", "-d", "--quiet"])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &sample()).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        std::fs::read(dir.join("bin/hello")).unwrap(),
        b"\x7fELF hello"
    );
    assert_eq!(std::fs::read(dir.join("a/b/c/three")).unwrap(), b"abc");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("bin/hello"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[test]
fn archive_reads_what_host_cpio_packs() {
    if !have_cpio() {
        eprintln!("cpio not installed; skipped");
        return;
    }
    let dir = tempdir("create");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/file.txt"), b"hello from cpio").unwrap();
    std::fs::write(dir.join("odd"), b"12345").unwrap();
    let mut child = Command::new("cpio")
        .args(["-o", "-H", "newc", "--quiet"])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        b".\n./sub\n./sub/file.txt\n./odd\n",
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let archive = Archive::parse(&out.stdout).unwrap();
    assert_eq!(archive.file("/sub/file.txt"), Some(&b"hello from cpio"[..]));
    assert_eq!(archive.file("odd"), Some(&b"12345"[..]));
    assert!(archive.find("sub").unwrap().is_dir());
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("initrd-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
