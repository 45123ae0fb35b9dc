//! The initrd format shared by xtask (which packs the test programs) and the kernel
//! (which runs them): cpio "newc" archives, as `cpio -H newc` writes them and Linux's
//! initramfs reads them.
//!
//! [`Archive`] checks a whole archive once and then hands out entries and file data as
//! slices of the original bytes (no copy, no allocation). [`Writer`] packs
//! `(path, mode, bytes)` entries into an archive; it only needs `alloc`, so xtask and
//! host tests use the very code whose output the kernel reads.
//!
//! Format (see the `cpio(5)` man page, "New ASCII Format", and Linux's
//! `Documentation/driver-api/early-userspace/buffer-format.rst`): each entry is a 110-byte
//! header — magic `070701` (or `070702`, which adds a checksum this reader ignores), then
//! 13 fields of 8 ASCII hex digits: ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
//! devminor, rdevmajor, rdevminor, namesize (NUL included), check — then the name, padded
//! with NULs to a multiple of 4 from the entry start, then the data, padded to 4. The
//! entry named `TRAILER!!!` ends the archive.
//!
//! Not handled: hard links whose data sits on another entry of the set (the reader shows
//! the data-less entries as empty files), and path resolution beyond ignoring empty and
//! `.` components (no `..`, no symlink following): that belongs to a file-system layer.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod reader;
mod writer;

pub use reader::{Archive, CpioError, Entry, Iter, same_path};
pub use writer::{WriteError, Writer, pack};

/// Size of a newc header.
pub const HEADER_LEN: usize = 110;

/// The name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";
