//! The one `io::Error` form of npfs, and how to read it.
//!
//! Every `io::Error` that npfs returns — from the tokio API ([`crate::tokio`]) and from the
//! blocking API's `std::io::Read` / `Write` impls and its [`Win32Error`] results converted
//! with `?` — is `io::Error::from_raw_os_error(code)` with `code` the **Win32 error code**,
//! exactly as tokio's `named_pipe` module on Windows makes them. So
//! `e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32)` from tokio's documentation works
//! unchanged. A failed Linux call never puts its errno there: npfs turns it into the Win32 code
//! Windows would report ([`Win32Error::from_errno`], one table).
//!
//! The standard library derives `kind()` and `Display` of such an error from Linux's errno
//! tables, and gives no way to change that: `ERROR_PIPE_BUSY` (231) prints as
//! "Unknown error 231 (os error 231)". [`Win32IoError`] reads the error right:
//!
//! ```
//! use npfs::{Win32Error, Win32IoError};
//! let e = std::io::Error::from(Win32Error::PIPE_BUSY);
//! assert_eq!(e.raw_os_error(), Some(231));
//! assert_eq!(e.win32_error(), Some(Win32Error::PIPE_BUSY));
//! assert_eq!(e.win32_kind(), std::io::ErrorKind::ResourceBusy);
//! assert_eq!(
//!     e.win32_display().to_string(),
//!     "All pipe instances are busy. (ERROR_PIPE_BUSY, 231)"
//! );
//! ```
//!
//! The one other form: `try_read` / `try_write` and the like report "not ready" as the plain
//! kind `io::ErrorKind::WouldBlock` without a code, as tokio does on Windows.
//! (`npfs::broker`, the broker protocol's own plumbing rather than a pipe API, reports transport
//! failures as `BrokerError::Io` with the OS error as it came.)

use std::fmt;
use std::io;

pub use npfs_core::Win32Error;

/// Reading an `io::Error` of npfs as the Win32 error it is.
///
/// Implemented for [`std::io::Error`]. Every `io::Error` npfs returns carries the Win32 code as
/// `raw_os_error()` (as tokio on Windows); this trait reads its kind and names it, which
/// `io::Error` itself cannot on Linux (it takes the code for an errno).
pub trait Win32IoError {
    /// The Win32 code (`raw_os_error()`, which npfs makes the Win32 code); `None` for an error
    /// without one, such as the `WouldBlock` of `try_read`.
    #[doc(alias = "GetLastError")]
    fn win32_error(&self) -> Option<Win32Error>;

    /// The right [`io::ErrorKind`] for the Win32 code ([`Win32Error::io_kind`]):
    /// `ERROR_FILE_NOT_FOUND` is `NotFound`, `ERROR_PIPE_BUSY` `ResourceBusy`,
    /// `ERROR_BROKEN_PIPE` and `ERROR_NO_DATA` `BrokenPipe`, `ERROR_PIPE_NOT_CONNECTED`
    /// `NotConnected`, `ERROR_SEM_TIMEOUT` `TimedOut`, ... For an error without a code, its own
    /// `kind()`.
    fn win32_kind(&self) -> io::ErrorKind;

    /// Something to print that names the error: `All pipe instances are busy.
    /// (ERROR_PIPE_BUSY, 231)`. An error without a code prints as it does itself.
    #[doc(alias = "FormatMessage")]
    fn win32_display(&self) -> Win32Display<'_>;
}

impl Win32IoError for io::Error {
    fn win32_error(&self) -> Option<Win32Error> {
        match self.raw_os_error() {
            Some(c) if c >= 0 => Some(Win32Error(c as u32)),
            _ => None,
        }
    }

    fn win32_kind(&self) -> io::ErrorKind {
        match self.win32_error() {
            Some(w) => w.io_kind(),
            None => self.kind(),
        }
    }

    fn win32_display(&self) -> Win32Display<'_> {
        Win32Display(self)
    }
}

/// The `Display` of [`Win32IoError::win32_display`].
pub struct Win32Display<'a>(&'a io::Error);

impl fmt::Display for Win32Display<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.win32_error() {
            Some(w) => fmt::Display::fmt(&w, f),
            None => fmt::Display::fmt(self.0, f),
        }
    }
}

impl fmt::Debug for Win32Display<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The npfs form of an `io::Error` from a failed OS call (or from a library that made one):
/// its errno becomes the Win32 code Windows would give ([`Win32Error::from_os_error`]).
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) fn from_os(e: impl Into<io::Error>) -> io::Error {
    Win32Error::from_os_error(&e.into()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_never_keep_their_errno() {
        let e = from_os(io::Error::from_raw_os_error(libc::EMFILE));
        assert_eq!(e.raw_os_error(), Some(4));
        assert_eq!(e.win32_error(), Some(Win32Error::TOO_MANY_OPEN_FILES));
        let e = from_os(io::Error::other("no reactor"));
        assert_eq!(e.win32_error(), Some(Win32Error::GEN_FAILURE));
    }

    #[test]
    fn kinds_and_text() {
        let cases = [
            (Win32Error::FILE_NOT_FOUND, io::ErrorKind::NotFound),
            (Win32Error::ACCESS_DENIED, io::ErrorKind::PermissionDenied),
            (Win32Error::PIPE_BUSY, io::ErrorKind::ResourceBusy),
            (Win32Error::BROKEN_PIPE, io::ErrorKind::BrokenPipe),
            (Win32Error::NO_DATA, io::ErrorKind::BrokenPipe),
            (Win32Error::SEM_TIMEOUT, io::ErrorKind::TimedOut),
            (Win32Error::INVALID_PARAMETER, io::ErrorKind::InvalidInput),
            (Win32Error::PIPE_NOT_CONNECTED, io::ErrorKind::NotConnected),
            (Win32Error::MORE_DATA, io::ErrorKind::Other),
        ];
        for (w, k) in cases {
            let e = io::Error::from(w);
            assert_eq!(e.raw_os_error(), Some(w.0 as i32));
            assert_eq!(e.win32_kind(), k, "{w:?}");
            assert_eq!(e.win32_display().to_string(), w.to_string());
        }
        let e = io::Error::from(Win32Error::PIPE_NOT_CONNECTED);
        assert_eq!(
            e.win32_display().to_string(),
            "No process is on the other end of the pipe. (ERROR_PIPE_NOT_CONNECTED, 233)"
        );
        let wb = io::Error::from(io::ErrorKind::WouldBlock);
        assert_eq!(wb.win32_error(), None);
        assert_eq!(wb.win32_kind(), io::ErrorKind::WouldBlock);
        assert_eq!(wb.win32_display().to_string(), wb.to_string());
    }
}
