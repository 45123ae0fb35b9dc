//! Reading newc archives without trusting them.

use core::fmt;
use linux_raw_sys::general::{S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};

use crate::{HEADER_LEN, TRAILER};

/// Why an archive is refused; `offset` is where the bad entry starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpioError {
    /// The archive ends inside a header, name or file data.
    Truncated { offset: usize },
    /// The header does not start with `070701` or `070702`.
    BadMagic { offset: usize },
    /// A header field is not 8 hex digits.
    BadField { offset: usize },
    /// `namesize` is 0 or the name is not NUL-terminated where `namesize` says.
    BadName { offset: usize },
    /// The bytes ran out before the `TRAILER!!!` entry.
    MissingTrailer,
}

impl fmt::Display for CpioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpioError::Truncated { offset } => write!(f, "cpio: entry at {offset} truncated"),
            CpioError::BadMagic { offset } => write!(f, "cpio: no newc magic at {offset}"),
            CpioError::BadField { offset } => write!(f, "cpio: bad header field at {offset}"),
            CpioError::BadName { offset } => write!(f, "cpio: bad name at {offset}"),
            CpioError::MissingTrailer => write!(f, "cpio: no TRAILER!!! entry"),
        }
    }
}

/// One archive member. `name` is as stored (e.g. `./bin/hello`); compare paths with
/// [`same_path`] or look them up with [`Archive::find`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub name: &'a [u8],
    pub ino: u32,
    /// File type and permission bits, as `st_mode`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    /// The file contents (for a symlink: its target).
    pub data: &'a [u8],
}

impl Entry<'_> {
    pub fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }

    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }
}

/// A checked newc archive.
#[derive(Clone, Copy, Debug)]
pub struct Archive<'a> {
    /// The bytes up to (not including) the trailer entry.
    body: &'a [u8],
}

impl<'a> Archive<'a> {
    /// Checks every entry up to `TRAILER!!!`; bytes after the trailer (the zero padding
    /// `cpio` adds to a 512-byte block) are ignored.
    pub fn parse(data: &'a [u8]) -> Result<Archive<'a>, CpioError> {
        let mut offset = 0;
        loop {
            if offset >= data.len() {
                return Err(CpioError::MissingTrailer);
            }
            let (entry, next) = parse_entry(data, offset)?;
            if entry.name == TRAILER.as_bytes() {
                return Ok(Archive {
                    body: &data[..offset],
                });
            }
            offset = next;
        }
    }

    /// The entries in archive order, the trailer excluded.
    pub fn iter(&self) -> Iter<'a> {
        Iter {
            body: self.body,
            offset: 0,
        }
    }

    /// The entry whose path equals `path` after normalisation (see [`same_path`]).
    /// If a path occurs twice the later entry wins, as when unpacking.
    pub fn find(&self, path: impl AsRef<[u8]>) -> Option<Entry<'a>> {
        let path = path.as_ref();
        self.iter().filter(|e| same_path(e.name, path)).last()
    }

    /// The contents of the regular file at `path`.
    pub fn file(&self, path: impl AsRef<[u8]>) -> Option<&'a [u8]> {
        self.find(path).filter(Entry::is_file).map(|e| e.data)
    }
}

impl<'a> IntoIterator for &Archive<'a> {
    type Item = Entry<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over the entries of an [`Archive`].
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    body: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.offset >= self.body.len() {
            return None;
        }
        // `Archive::parse` checked every entry of `body`, so this cannot fail; if it
        // did, ending the iteration is still safe.
        let (entry, next) = parse_entry(self.body, self.offset).ok()?;
        self.offset = next;
        Some(entry)
    }
}

/// Whether two paths name the same archive member: leading `/` and `./`, doubled
/// slashes, `.` components and a trailing `/` do not matter (`/bin/x` = `./bin/x` =
/// `bin//x`).
pub fn same_path(a: &[u8], b: &[u8]) -> bool {
    components(a).eq(components(b))
}

fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&c| c == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
}

/// Parses the entry at `offset`; returns it and the offset of the next one.
fn parse_entry(data: &[u8], offset: usize) -> Result<(Entry<'_>, usize), CpioError> {
    let truncated = CpioError::Truncated { offset };
    let header = data.get(offset..offset + HEADER_LEN).ok_or(truncated)?;
    if &header[..6] != b"070701" && &header[..6] != b"070702" {
        return Err(CpioError::BadMagic { offset });
    }
    let field =
        |i: usize| parse_hex(&header[6 + 8 * i..14 + 8 * i]).ok_or(CpioError::BadField { offset });
    let (ino, mode, uid, gid, nlink, mtime) = (
        field(0)?,
        field(1)?,
        field(2)?,
        field(3)?,
        field(4)?,
        field(5)?,
    );
    let filesize = field(6)? as usize;
    let namesize = field(11)? as usize;

    let name_start = offset + HEADER_LEN;
    let name = data
        .get(name_start..name_start + namesize)
        .ok_or(truncated)?;
    let Some((&0, name)) = name.split_last() else {
        return Err(CpioError::BadName { offset });
    };
    if name.contains(&0) {
        return Err(CpioError::BadName { offset });
    }
    let data_start = align4(name_start + namesize);
    let data_end = data_start.checked_add(filesize).ok_or(truncated)?;
    let file_data = data.get(data_start..data_end).ok_or(truncated)?;
    let entry = Entry {
        name,
        ino,
        mode,
        uid,
        gid,
        nlink,
        mtime,
        data: file_data,
    };
    Ok((entry, align4(data_end)))
}

fn parse_hex(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |acc, &d| {
        let v = (d as char).to_digit(16)?;
        Some(acc << 4 | v)
    })
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}
