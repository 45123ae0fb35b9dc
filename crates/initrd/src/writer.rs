//! Writing newc archives (for xtask and tests; needs only `alloc`).

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::fmt::Write as _;
use linux_raw_sys::general::{S_IFDIR, S_IFMT, S_IFREG};

use crate::TRAILER;

/// Why an entry cannot be packed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// The path is empty (after dropping `/` and `.`), holds a NUL or a `..` component.
    BadPath(String),
    /// The file is larger than the 4 GiB a newc header can describe.
    TooLarge(String),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::BadPath(p) => write!(f, "cpio: unusable path `{p}`"),
            WriteError::TooLarge(p) => write!(f, "cpio: `{p}` exceeds 4 GiB"),
        }
    }
}

/// Builds a newc archive in memory. Paths are stored relative (`bin/hello`); parent
/// directories are added (mode 0755) before their first child, as the Linux initramfs
/// unpacker needs them to exist.
#[derive(Debug, Default)]
pub struct Writer {
    out: Vec<u8>,
    next_ino: u32,
    dirs: BTreeSet<String>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    /// Adds a regular file. `mode` holds the permission bits (`0o755`); file-type bits,
    /// if any, are replaced by `S_IFREG`.
    pub fn add_file(&mut self, path: &str, mode: u32, data: &[u8]) -> Result<(), WriteError> {
        let path = normalise(path)?;
        let size = u32::try_from(data.len()).map_err(|_| WriteError::TooLarge(path.clone()))?;
        self.add_parents(&path);
        self.entry(&path, S_IFREG | (mode & !S_IFMT), size, data);
        Ok(())
    }

    /// Adds a directory (and its missing parents).
    pub fn add_dir(&mut self, path: &str, mode: u32) -> Result<(), WriteError> {
        let path = normalise(path)?;
        self.add_parents(&path);
        if self.dirs.insert(path.clone()) {
            self.entry(&path, S_IFDIR | (mode & !S_IFMT), 0, &[]);
        }
        Ok(())
    }

    /// Appends the trailer and returns the archive, padded to 512 bytes as `cpio` does.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry(TRAILER, 0, 0, &[]);
        self.out.resize(self.out.len().next_multiple_of(512), 0);
        self.out
    }

    fn add_parents(&mut self, path: &str) {
        let mut end = 0;
        while let Some(slash) = path[end..].find('/') {
            end += slash;
            let parent = &path[..end];
            if self.dirs.insert(parent.into()) {
                self.entry(parent, S_IFDIR | 0o755, 0, &[]);
            }
            end += 1;
        }
    }

    fn entry(&mut self, name: &str, mode: u32, size: u32, data: &[u8]) {
        // The trailer conventionally has inode 0; real entries count from 1.
        let ino = if name == TRAILER {
            0
        } else {
            self.next_ino.wrapping_add(1)
        };
        self.next_ino = self.next_ino.wrapping_add(u32::from(name != TRAILER));
        let nlink = if mode & S_IFMT == S_IFDIR { 2 } else { 1 };
        let namesize = (name.len() as u32).saturating_add(1);
        let mut header = String::with_capacity(110);
        header.push_str("070701");
        for value in [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, namesize, 0] {
            // Writing to a String cannot fail.
            let _ = write!(header, "{value:08X}");
        }
        self.out.extend_from_slice(header.as_bytes());
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        pad4(&mut self.out);
        self.out.extend_from_slice(data);
        pad4(&mut self.out);
    }
}

/// Packs `(path, mode, bytes)` files into a finished archive.
pub fn pack<'a>(
    files: impl IntoIterator<Item = (&'a str, u32, &'a [u8])>,
) -> Result<Vec<u8>, WriteError> {
    let mut writer = Writer::new();
    for (path, mode, data) in files {
        writer.add_file(path, mode, data)?;
    }
    Ok(writer.finish())
}

/// `/bin//./x` → `bin/x`; refuses what cannot name a member.
fn normalise(path: &str) -> Result<String, WriteError> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.is_empty() || path.contains('\0') || parts.contains(&"..") || parts == [TRAILER] {
        return Err(WriteError::BadPath(path.into()));
    }
    Ok(parts.join("/"))
}

fn pad4(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(4), 0);
}
