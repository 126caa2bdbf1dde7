//! Win32 error codes of the named-pipe family, their names and meaning, their
//! [`std::io::ErrorKind`], the one `io::Error` form npfs gives them, and the one table from
//! Linux errno values to them. (NTSTATUS values and their table are in [`crate::ntstatus`].)

use std::fmt;

pub use crate::ntstatus::NtStatus;

/// A Win32 error code, as `GetLastError` returns it.
///
/// Its `Display` names it in npfs's own words with the SDK name and number:
/// `All pipe instances are busy. (ERROR_PIPE_BUSY, 231)`. It converts into the one
/// `io::Error` form of npfs, `io::Error::from_raw_os_error(code)` (see the `From` impl).
#[doc(alias = "GetLastError")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Win32Error(pub u32);

macro_rules! win32_codes {
    ($( $(#[$doc:meta])* $name:ident = $value:expr, $text:expr; )*) => {
        impl Win32Error {
            $( $(#[$doc])* pub const $name: Win32Error = Win32Error($value); )*

            /// Every code npfs names: all the Win32 errors npfs itself produces.
            pub const ALL: &'static [Win32Error] = &[ $( Win32Error($value), )* ];

            /// The SDK name of the code (`"ERROR_PIPE_BUSY"`), if it is one npfs knows.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some(concat!("ERROR_", stringify!($name))), )*
                    _ => None,
                }
            }

            /// What the code means, in plain words.
            pub fn describe(self) -> &'static str {
                match self.0 {
                    $( $value => $text, )*
                    _ => "an error npfs does not name",
                }
            }
        }
    };
}

win32_codes! {
    /// `ERROR_SUCCESS` (0).
    SUCCESS = 0, "the operation succeeded";
    /// `ERROR_INVALID_FUNCTION` (1): the operation does not apply to this handle.
    INVALID_FUNCTION = 1, "the operation does not apply to this end of the pipe";
    /// `ERROR_FILE_NOT_FOUND` (2): no pipe of that name.
    FILE_NOT_FOUND = 2, "no pipe of that name exists";
    /// `ERROR_PATH_NOT_FOUND` (3).
    PATH_NOT_FOUND = 3, "the path was not found";
    /// `ERROR_TOO_MANY_OPEN_FILES` (4): the process has no descriptor left.
    TOO_MANY_OPEN_FILES = 4, "the process has too many files open";
    /// `ERROR_ACCESS_DENIED` (5).
    ACCESS_DENIED = 5, "the caller lacks the access this needs";
    /// `ERROR_INVALID_HANDLE` (6).
    INVALID_HANDLE = 6, "the handle is not valid";
    /// `ERROR_NOT_ENOUGH_MEMORY` (8).
    NOT_ENOUGH_MEMORY = 8, "there is not enough memory";
    /// `ERROR_GEN_FAILURE` (31): a system failure with no closer Win32 code.
    GEN_FAILURE = 31, "the system failed the operation";
    /// `ERROR_NOT_SUPPORTED` (50).
    NOT_SUPPORTED = 50, "the operation is not supported";
    /// `ERROR_BAD_NETPATH` (53): a remote server name that cannot be reached.
    BAD_NETPATH = 53, "the network path was not found";
    /// `ERROR_INVALID_PARAMETER` (87).
    INVALID_PARAMETER = 87, "an argument is invalid";
    /// `ERROR_BROKEN_PIPE` (109): the other end closed and no data is left.
    BROKEN_PIPE = 109, "the other end of the pipe was closed";
    /// `ERROR_SEM_TIMEOUT` (121): WaitNamedPipe timed out.
    SEM_TIMEOUT = 121, "the wait timed out";
    /// `ERROR_INSUFFICIENT_BUFFER` (122).
    INSUFFICIENT_BUFFER = 122, "the buffer is too small";
    /// `ERROR_INVALID_NAME` (123).
    INVALID_NAME = 123, "the pipe name is not valid";
    /// `ERROR_BAD_PATHNAME` (161).
    BAD_PATHNAME = 161, "the path name is not valid";
    /// `ERROR_ALREADY_EXISTS` (183): set on success when other instances exist.
    ALREADY_EXISTS = 183, "other instances of the pipe already exist";
    /// `ERROR_FILENAME_EXCED_RANGE` (206): a name or path is too long.
    FILENAME_EXCED_RANGE = 206, "the name is too long";
    /// `ERROR_PIPE_LOCAL` (229).
    PIPE_LOCAL = 229, "the pipe is local";
    /// `ERROR_BAD_PIPE` (230): the pipe state does not allow the operation.
    BAD_PIPE = 230, "the pipe state is invalid for this operation";
    /// `ERROR_PIPE_BUSY` (231): all instances are busy.
    PIPE_BUSY = 231, "all pipe instances are busy";
    /// `ERROR_NO_DATA` (232): the pipe is being closed, or is empty in nowait mode.
    NO_DATA = 232, "the pipe is being closed (or has no data in nowait mode)";
    /// `ERROR_PIPE_NOT_CONNECTED` (233).
    PIPE_NOT_CONNECTED = 233, "no process is on the other end of the pipe";
    /// `ERROR_MORE_DATA` (234): a message was longer than the buffer.
    MORE_DATA = 234, "the message is longer than the buffer (the rest is waiting)";
    /// `WAIT_TIMEOUT` (258), reported as an error by GetOverlappedResultEx.
    WAIT_TIMEOUT = 258, "the wait timed out";
    /// `ERROR_MR_MID_NOT_FOUND` (317): RtlNtStatusToDosError's answer for a status it does
    /// not know.
    MR_MID_NOT_FOUND = 317, "the status has no Win32 equivalent";
    /// `ERROR_PIPE_CONNECTED` (535): a client is already connected.
    PIPE_CONNECTED = 535, "a client is already connected to the pipe";
    /// `ERROR_PIPE_LISTENING` (536): waiting for a client.
    PIPE_LISTENING = 536, "the pipe is waiting for a client to connect";
    /// `ERROR_OPERATION_ABORTED` (995).
    OPERATION_ABORTED = 995, "the operation was cancelled";
    /// `ERROR_IO_INCOMPLETE` (996).
    IO_INCOMPLETE = 996, "the overlapped operation is not complete";
    /// `ERROR_IO_PENDING` (997).
    IO_PENDING = 997, "the overlapped operation is in progress";
    /// `ERROR_NOACCESS` (998): a buffer address is not valid.
    NOACCESS = 998, "a buffer address is not valid";
    /// `ERROR_NO_SYSTEM_RESOURCES` (1450).
    NO_SYSTEM_RESOURCES = 1450, "the system lacks the resources for this (or the npfs broker is unreachable)";
    /// `ERROR_NOT_FOUND` (1168).
    NOT_FOUND = 1168, "the item was not found";
    /// `ERROR_CANNOT_IMPERSONATE` (1368).
    CANNOT_IMPERSONATE = 1368, "unable to impersonate the client before it has written";
    /// `ERROR_PRIVILEGE_NOT_HELD` (1314): the process may not take another user's identity.
    PRIVILEGE_NOT_HELD = 1314, "the process lacks the privilege for this";
    /// `ERROR_INTERNAL_ERROR` (1359): npfs failed inside (a panic caught at the C ABI).
    INTERNAL_ERROR = 1359, "npfs failed internally";
    /// `ERROR_BAD_NET_RESP` (58): a remote (SMB) server answered something unexpected.
    BAD_NET_RESP = 58, "the remote server cannot perform the request";
    /// `ERROR_UNEXP_NET_ERR` (59): the SMB connection failed.
    UNEXP_NET_ERR = 59, "an unexpected network error occurred";
    /// `ERROR_NETNAME_DELETED` (64): the SMB connection to the remote server was lost.
    NETNAME_DELETED = 64, "the network connection to the remote server was lost";
    /// `ERROR_BAD_NET_NAME` (67): the server has no such share (IPC$).
    BAD_NET_NAME = 67, "the network name cannot be found";
    /// `ERROR_LOGON_FAILURE` (1326): the SMB server refused the user name or password.
    LOGON_FAILURE = 1326, "the user name or password is incorrect";
}

impl Win32Error {
    /// The [`std::io::ErrorKind`] of this code: `NotFound`, `PermissionDenied`, `BrokenPipe`
    /// (`ERROR_BROKEN_PIPE`, `ERROR_NO_DATA`), `TimedOut`, `InvalidInput` as the standard
    /// library gives them on Windows, `ResourceBusy` for `ERROR_PIPE_BUSY`, `NotConnected` for
    /// `ERROR_PIPE_NOT_CONNECTED` and `ERROR_PIPE_LISTENING`, and otherwise the closest stable
    /// kind (`Other` when none fits).
    ///
    /// `io::Error::kind()` cannot give it for an npfs error on Linux (the standard library
    /// reads the raw code as an errno there); `npfs::Win32IoError::win32_kind` does.
    pub fn io_kind(self) -> std::io::ErrorKind {
        use std::io::ErrorKind as K;
        match self {
            Win32Error::FILE_NOT_FOUND
            | Win32Error::PATH_NOT_FOUND
            | Win32Error::NOT_FOUND
            | Win32Error::BAD_NETPATH => K::NotFound,
            Win32Error::ACCESS_DENIED | Win32Error::PRIVILEGE_NOT_HELD => K::PermissionDenied,
            Win32Error::INVALID_PARAMETER
            | Win32Error::INVALID_NAME
            | Win32Error::BAD_PATHNAME
            | Win32Error::FILENAME_EXCED_RANGE
            | Win32Error::INVALID_HANDLE
            | Win32Error::INVALID_FUNCTION
            | Win32Error::INSUFFICIENT_BUFFER
            | Win32Error::NOACCESS => K::InvalidInput,
            Win32Error::BROKEN_PIPE | Win32Error::NO_DATA => K::BrokenPipe,
            Win32Error::PIPE_NOT_CONNECTED | Win32Error::PIPE_LISTENING => K::NotConnected,
            Win32Error::SEM_TIMEOUT | Win32Error::WAIT_TIMEOUT => K::TimedOut,
            Win32Error::PIPE_BUSY | Win32Error::BAD_PIPE => K::ResourceBusy,
            Win32Error::IO_PENDING | Win32Error::IO_INCOMPLETE => K::WouldBlock,
            Win32Error::ALREADY_EXISTS | Win32Error::PIPE_CONNECTED => K::AlreadyExists,
            Win32Error::NOT_ENOUGH_MEMORY | Win32Error::NO_SYSTEM_RESOURCES => K::OutOfMemory,
            Win32Error::NOT_SUPPORTED => K::Unsupported,
            // OPERATION_ABORTED is not `Interrupted`: `read_exact` and `write_all` would retry
            // a cancelled operation.
            _ => K::Other,
        }
    }

    /// `NAME (code)`, e.g. `ERROR_PIPE_BUSY (231)`.
    pub fn label(self) -> String {
        match self.name() {
            Some(n) => format!("{n} ({})", self.0),
            None => format!("Win32 error {}", self.0),
        }
    }

    /// The Win32 code Windows reports where Linux reports the errno `errno`: the one table
    /// from errno values to Win32 codes, for every place an OS failure becomes an npfs error.
    ///
    /// | errno | Win32 |
    /// |---|---|
    /// | `ENOENT`, `ELOOP` | `ERROR_FILE_NOT_FOUND` (2) |
    /// | `ENOTDIR` | `ERROR_PATH_NOT_FOUND` (3) |
    /// | `EMFILE`, `ENFILE` | `ERROR_TOO_MANY_OPEN_FILES` (4) |
    /// | `EACCES`, `EPERM`, `EISDIR`, `EROFS` | `ERROR_ACCESS_DENIED` (5) |
    /// | `EBADF` | `ERROR_INVALID_HANDLE` (6) |
    /// | `ENOMEM` | `ERROR_NOT_ENOUGH_MEMORY` (8) |
    /// | `ENOSYS`, `EOPNOTSUPP` | `ERROR_NOT_SUPPORTED` (50) |
    /// | `EINVAL` | `ERROR_INVALID_PARAMETER` (87) |
    /// | `EPIPE`, `ECONNRESET` | `ERROR_BROKEN_PIPE` (109) |
    /// | `ETIMEDOUT` | `ERROR_SEM_TIMEOUT` (121) |
    /// | `EEXIST` | `ERROR_ALREADY_EXISTS` (183) |
    /// | `ENAMETOOLONG` | `ERROR_FILENAME_EXCED_RANGE` (206) |
    /// | `EAGAIN` | `ERROR_NO_DATA` (232: nothing to read now, as a nowait pipe says) |
    /// | `ENOTCONN` | `ERROR_PIPE_NOT_CONNECTED` (233) |
    /// | `EINTR`, `ECANCELED` | `ERROR_OPERATION_ABORTED` (995) |
    /// | `EFAULT` | `ERROR_NOACCESS` (998) |
    /// | `ENOSPC`, `ENOBUFS`, `EDQUOT` | `ERROR_NO_SYSTEM_RESOURCES` (1450) |
    /// | anything else | `ERROR_GEN_FAILURE` (31) |
    ///
    /// A caller whose context gives an errno another meaning (fork's `EAGAIN` is a lack of
    /// memory) decides that case first and asks this table for the rest.
    pub fn from_errno(errno: i32) -> Win32Error {
        match errno {
            libc::ENOENT | libc::ELOOP => Win32Error::FILE_NOT_FOUND,
            libc::ENOTDIR => Win32Error::PATH_NOT_FOUND,
            libc::EMFILE | libc::ENFILE => Win32Error::TOO_MANY_OPEN_FILES,
            libc::EACCES | libc::EPERM | libc::EISDIR | libc::EROFS => Win32Error::ACCESS_DENIED,
            libc::EBADF => Win32Error::INVALID_HANDLE,
            libc::ENOMEM => Win32Error::NOT_ENOUGH_MEMORY,
            libc::ENOSYS | libc::EOPNOTSUPP => Win32Error::NOT_SUPPORTED,
            libc::EINVAL => Win32Error::INVALID_PARAMETER,
            libc::EPIPE | libc::ECONNRESET => Win32Error::BROKEN_PIPE,
            libc::ETIMEDOUT => Win32Error::SEM_TIMEOUT,
            libc::EEXIST => Win32Error::ALREADY_EXISTS,
            libc::ENAMETOOLONG => Win32Error::FILENAME_EXCED_RANGE,
            libc::EAGAIN => Win32Error::NO_DATA,
            libc::ENOTCONN => Win32Error::PIPE_NOT_CONNECTED,
            libc::EINTR | libc::ECANCELED => Win32Error::OPERATION_ABORTED,
            libc::EFAULT => Win32Error::NOACCESS,
            libc::ENOSPC | libc::ENOBUFS | libc::EDQUOT => Win32Error::NO_SYSTEM_RESOURCES,
            _ => Win32Error::GEN_FAILURE,
        }
    }

    /// The Win32 code of a failed OS call's `io::Error`: its errno through
    /// [`Win32Error::from_errno`]; an error without an errno (one the standard library or a
    /// crate made) by its kind, as the same table would have mapped the errno behind it.
    pub fn from_os_error(e: &std::io::Error) -> Win32Error {
        use std::io::ErrorKind as K;
        if let Some(errno) = e.raw_os_error() {
            return Win32Error::from_errno(errno);
        }
        match e.kind() {
            K::NotFound => Win32Error::FILE_NOT_FOUND,
            K::PermissionDenied => Win32Error::ACCESS_DENIED,
            K::OutOfMemory => Win32Error::NOT_ENOUGH_MEMORY,
            K::InvalidInput => Win32Error::INVALID_PARAMETER,
            K::BrokenPipe => Win32Error::BROKEN_PIPE,
            K::TimedOut => Win32Error::SEM_TIMEOUT,
            K::Unsupported => Win32Error::NOT_SUPPORTED,
            K::Interrupted => Win32Error::OPERATION_ABORTED,
            _ => Win32Error::GEN_FAILURE,
        }
    }
}

impl fmt::Debug for Win32Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// `All pipe instances are busy. (ERROR_PIPE_BUSY, 231)`: the meaning as a sentence, then the
/// SDK name and the number.
impl fmt::Display for Win32Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.describe();
        let mut chars = text.chars();
        if let Some(first) = chars.next() {
            write!(f, "{}{}.", first.to_uppercase(), chars.as_str())?;
        }
        match self.name() {
            Some(n) => write!(f, " ({n}, {})", self.0),
            None => write!(f, " (Win32 error {})", self.0),
        }
    }
}

impl std::error::Error for Win32Error {}

/// The one `io::Error` form of npfs (blocking and tokio APIs alike):
/// `io::Error::from_raw_os_error(code)`, so that `raw_os_error()` is the Win32 code, as with
/// tokio on Windows. `kind()` and `Display` of such an error are the standard library's, which
/// read the code as a Linux errno; `npfs::Win32IoError` gives the right ones.
impl From<Win32Error> for std::io::Error {
    fn from(e: Win32Error) -> Self {
        std::io::Error::from_raw_os_error(e.0 as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_kinds() {
        assert_eq!(Win32Error::PIPE_BUSY.name(), Some("ERROR_PIPE_BUSY"));
        assert_eq!(Win32Error::PIPE_BUSY.label(), "ERROR_PIPE_BUSY (231)");
        assert_eq!(Win32Error(4242).name(), None);
        assert_eq!(
            std::io::Error::from(Win32Error::PIPE_BUSY).raw_os_error(),
            Some(231)
        );
        assert_eq!(
            Win32Error::PIPE_BUSY.io_kind(),
            std::io::ErrorKind::ResourceBusy
        );
        assert_eq!(
            Win32Error::PIPE_BUSY.to_string(),
            "All pipe instances are busy. (ERROR_PIPE_BUSY, 231)"
        );
        assert_eq!(
            Win32Error(4242).to_string(),
            "An error npfs does not name. (Win32 error 4242)"
        );
        assert_eq!(
            Win32Error::SEM_TIMEOUT.io_kind(),
            std::io::ErrorKind::TimedOut
        );
    }

    #[test]
    fn errno_table() {
        let cases = [
            (libc::ENOENT, Win32Error::FILE_NOT_FOUND),
            (libc::EACCES, Win32Error::ACCESS_DENIED),
            (libc::EPERM, Win32Error::ACCESS_DENIED),
            (libc::ENOMEM, Win32Error::NOT_ENOUGH_MEMORY),
            (libc::EMFILE, Win32Error::TOO_MANY_OPEN_FILES),
            (libc::ENFILE, Win32Error::TOO_MANY_OPEN_FILES),
            (libc::EPIPE, Win32Error::BROKEN_PIPE),
            (libc::EAGAIN, Win32Error::NO_DATA),
            (libc::ETIMEDOUT, Win32Error::SEM_TIMEOUT),
            (libc::EINVAL, Win32Error::INVALID_PARAMETER),
            (libc::EBADF, Win32Error::INVALID_HANDLE),
            (libc::ENOTDIR, Win32Error::PATH_NOT_FOUND),
            (libc::EIO, Win32Error::GEN_FAILURE),
        ];
        for (errno, w) in cases {
            assert_eq!(Win32Error::from_errno(errno), w, "errno {errno}");
        }
        let os = std::io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(
            Win32Error::from_os_error(&os),
            Win32Error::TOO_MANY_OPEN_FILES
        );
        let made = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        assert_eq!(Win32Error::from_os_error(&made), Win32Error::SEM_TIMEOUT);
    }

    proptest::proptest! {
        /// Every errno lands on a code npfs names.
        #[test]
        fn errno_maps_to_a_named_code(errno in 0i32..4096) {
            proptest::prop_assert!(Win32Error::from_errno(errno).name().is_some());
        }
    }
}
