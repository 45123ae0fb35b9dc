//! `Errno`: a Linux error number, as errno(3) lists them.

use core::fmt;
use linux_raw_sys::errno as e;

/// A Linux error number (always positive; the dispatcher negates it for `rax`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(u16);

macro_rules! errnos {
    ($($name:ident),* $(,)?) => {
        impl Errno {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                pub const $name: Errno = Errno(e::$name as u16);
            )*

            /// The symbolic name (`"EINVAL"`), or `"E?"` for a number not listed here.
            pub fn name(self) -> &'static str {
                match self {
                    $(Errno::$name => stringify!($name),)*
                    _ => "E?",
                }
            }
        }
    };
}

errnos!(
    EPERM,
    ENOENT,
    ESRCH,
    EINTR,
    EIO,
    ENXIO,
    E2BIG,
    ENOEXEC,
    EBADF,
    ECHILD,
    EAGAIN,
    ENOMEM,
    EACCES,
    EFAULT,
    EBUSY,
    EEXIST,
    EXDEV,
    ENODEV,
    ENOTDIR,
    EISDIR,
    EINVAL,
    ENFILE,
    EMFILE,
    ENOTTY,
    EFBIG,
    ENOSPC,
    ESPIPE,
    EROFS,
    EMLINK,
    EPIPE,
    EDOM,
    ERANGE,
    EDEADLK,
    ENAMETOOLONG,
    ENOSYS,
    ENOTEMPTY,
    ELOOP,
    ENODATA,
    EOVERFLOW,
    EOWNERDEAD,
    ENOTRECOVERABLE,
    ETIMEDOUT,
    EOPNOTSUPP,
    ESTALE,
);

impl Errno {
    /// The errno with number `n` (for numbers this crate does not name).
    pub const fn from_raw(n: u16) -> Errno {
        Errno(n)
    }

    /// The positive error number.
    pub const fn raw(self) -> u16 {
        self.0
    }

    /// The value a syscall returns in `rax` for this error: `-errno`.
    pub const fn to_return_value(self) -> usize {
        (-(self.0 as isize)) as usize
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_numbers_match_linux() {
        assert_eq!(Errno::EPERM.raw(), 1);
        assert_eq!(Errno::EAGAIN.raw(), 11);
        assert_eq!(Errno::EINVAL.raw(), 22);
        assert_eq!(Errno::ENOSYS.raw(), 38);
        assert_eq!(Errno::ETIMEDOUT.raw(), 110);
        assert_eq!(Errno::EOWNERDEAD.raw(), 130);
    }

    #[test]
    fn return_value_is_negated_errno() {
        assert_eq!(Errno::EFAULT.to_return_value() as isize, -14);
        assert_eq!(Errno::EINVAL.name(), "EINVAL");
    }
}
