//! Win32 error codes and NTSTATUS values of the named-pipe family, the mapping between them
//! (spec/api.md §7), and to [`std::io::ErrorKind`].

use std::fmt;

/// A Win32 error code, as `GetLastError` returns it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Win32Error(pub u32);

macro_rules! win32_codes {
    ($( $(#[$doc:meta])* $name:ident = $value:expr, $text:expr; )*) => {
        impl Win32Error {
            $( $(#[$doc])* pub const $name: Win32Error = Win32Error($value); )*

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
                    _ => "unknown error",
                }
            }
        }
    };
}

win32_codes! {
    /// `ERROR_SUCCESS` (0).
    SUCCESS = 0, "the operation completed successfully";
    /// `ERROR_INVALID_FUNCTION` (1): the operation does not apply to this handle.
    INVALID_FUNCTION = 1, "the operation does not apply to this end of the pipe";
    /// `ERROR_FILE_NOT_FOUND` (2): no pipe of that name.
    FILE_NOT_FOUND = 2, "no pipe of that name exists";
    /// `ERROR_PATH_NOT_FOUND` (3).
    PATH_NOT_FOUND = 3, "the path was not found";
    /// `ERROR_ACCESS_DENIED` (5).
    ACCESS_DENIED = 5, "access is denied";
    /// `ERROR_INVALID_HANDLE` (6).
    INVALID_HANDLE = 6, "the handle is invalid";
    /// `ERROR_NOT_ENOUGH_MEMORY` (8).
    NOT_ENOUGH_MEMORY = 8, "not enough memory";
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
    MORE_DATA = 234, "more data is available";
    /// `WAIT_TIMEOUT` (258), reported as an error by GetOverlappedResultEx.
    WAIT_TIMEOUT = 258, "the wait timed out";
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
    /// `ERROR_NO_SYSTEM_RESOURCES` (1450).
    NO_SYSTEM_RESOURCES = 1450, "insufficient system resources";
    /// `ERROR_NOT_FOUND` (1168).
    NOT_FOUND = 1168, "element not found";
    /// `ERROR_CANNOT_IMPERSONATE` (1368).
    CANNOT_IMPERSONATE = 1368, "unable to impersonate the client before it has written";
    /// `ERROR_NOT_SUPPORTED` (50).
    NOT_SUPPORTED = 50, "the request is not supported";
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
    /// The closest [`std::io::ErrorKind`] for this code.
    pub fn io_kind(self) -> std::io::ErrorKind {
        use std::io::ErrorKind as K;
        match self {
            Win32Error::FILE_NOT_FOUND | Win32Error::PATH_NOT_FOUND | Win32Error::NOT_FOUND => {
                K::NotFound
            }
            Win32Error::ACCESS_DENIED => K::PermissionDenied,
            Win32Error::INVALID_PARAMETER
            | Win32Error::INVALID_NAME
            | Win32Error::BAD_PATHNAME
            | Win32Error::INVALID_HANDLE
            | Win32Error::INVALID_FUNCTION => K::InvalidInput,
            Win32Error::BROKEN_PIPE | Win32Error::NO_DATA => K::BrokenPipe,
            Win32Error::PIPE_NOT_CONNECTED => K::NotConnected,
            Win32Error::SEM_TIMEOUT | Win32Error::WAIT_TIMEOUT => K::TimedOut,
            Win32Error::PIPE_BUSY | Win32Error::PIPE_LISTENING | Win32Error::IO_PENDING => {
                K::WouldBlock
            }
            Win32Error::ALREADY_EXISTS | Win32Error::PIPE_CONNECTED => K::AlreadyExists,
            Win32Error::OPERATION_ABORTED => K::Interrupted,
            Win32Error::NOT_ENOUGH_MEMORY | Win32Error::NO_SYSTEM_RESOURCES => K::OutOfMemory,
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
}

impl fmt::Debug for Win32Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

impl fmt::Display for Win32Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.label(), self.describe())
    }
}

impl std::error::Error for Win32Error {}

impl From<Win32Error> for std::io::Error {
    fn from(e: Win32Error) -> Self {
        std::io::Error::new(e.io_kind(), e)
    }
}

/// An NTSTATUS value, as NPFS completes requests with it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct NtStatus(pub u32);

impl NtStatus {
    /// `STATUS_SUCCESS`.
    pub const SUCCESS: NtStatus = NtStatus(0);
    /// `STATUS_PENDING`.
    pub const PENDING: NtStatus = NtStatus(0x103);
    /// `STATUS_BUFFER_OVERFLOW` (a warning: partial message read).
    pub const BUFFER_OVERFLOW: NtStatus = NtStatus(0x8000_0005);
    /// `STATUS_INVALID_HANDLE`.
    pub const INVALID_HANDLE: NtStatus = NtStatus(0xC000_0008);
    /// `STATUS_INVALID_PARAMETER`.
    pub const INVALID_PARAMETER: NtStatus = NtStatus(0xC000_000D);
    /// `STATUS_ACCESS_DENIED`.
    pub const ACCESS_DENIED: NtStatus = NtStatus(0xC000_0022);
    /// `STATUS_BUFFER_TOO_SMALL`.
    pub const BUFFER_TOO_SMALL: NtStatus = NtStatus(0xC000_0023);
    /// `STATUS_OBJECT_NAME_INVALID`.
    pub const OBJECT_NAME_INVALID: NtStatus = NtStatus(0xC000_0033);
    /// `STATUS_OBJECT_NAME_NOT_FOUND`.
    pub const OBJECT_NAME_NOT_FOUND: NtStatus = NtStatus(0xC000_0034);
    /// `STATUS_OBJECT_PATH_SYNTAX_BAD`.
    pub const OBJECT_PATH_SYNTAX_BAD: NtStatus = NtStatus(0xC000_003B);
    /// `STATUS_INSUFFICIENT_RESOURCES`.
    pub const INSUFFICIENT_RESOURCES: NtStatus = NtStatus(0xC000_009A);
    /// `STATUS_INSTANCE_NOT_AVAILABLE`.
    pub const INSTANCE_NOT_AVAILABLE: NtStatus = NtStatus(0xC000_00AB);
    /// `STATUS_PIPE_NOT_AVAILABLE`.
    pub const PIPE_NOT_AVAILABLE: NtStatus = NtStatus(0xC000_00AC);
    /// `STATUS_INVALID_PIPE_STATE`.
    pub const INVALID_PIPE_STATE: NtStatus = NtStatus(0xC000_00AD);
    /// `STATUS_PIPE_BUSY`.
    pub const PIPE_BUSY: NtStatus = NtStatus(0xC000_00AE);
    /// `STATUS_ILLEGAL_FUNCTION`.
    pub const ILLEGAL_FUNCTION: NtStatus = NtStatus(0xC000_00AF);
    /// `STATUS_PIPE_DISCONNECTED`.
    pub const PIPE_DISCONNECTED: NtStatus = NtStatus(0xC000_00B0);
    /// `STATUS_PIPE_CLOSING`.
    pub const PIPE_CLOSING: NtStatus = NtStatus(0xC000_00B1);
    /// `STATUS_PIPE_CONNECTED`.
    pub const PIPE_CONNECTED: NtStatus = NtStatus(0xC000_00B2);
    /// `STATUS_PIPE_LISTENING`.
    pub const PIPE_LISTENING: NtStatus = NtStatus(0xC000_00B3);
    /// `STATUS_INVALID_READ_MODE`.
    pub const INVALID_READ_MODE: NtStatus = NtStatus(0xC000_00B4);
    /// `STATUS_IO_TIMEOUT`.
    pub const IO_TIMEOUT: NtStatus = NtStatus(0xC000_00B5);
    /// `STATUS_INVALID_DEVICE_REQUEST`.
    pub const INVALID_DEVICE_REQUEST: NtStatus = NtStatus(0xC000_0010);
    /// `STATUS_PIPE_EMPTY`.
    pub const PIPE_EMPTY: NtStatus = NtStatus(0xC000_00D9);
    /// `STATUS_CANCELLED`.
    pub const CANCELLED: NtStatus = NtStatus(0xC000_0120);
    /// `STATUS_PIPE_BROKEN`.
    pub const PIPE_BROKEN: NtStatus = NtStatus(0xC000_014B);
    /// `STATUS_NOT_FOUND`.
    pub const NOT_FOUND: NtStatus = NtStatus(0xC000_0225);
    /// `STATUS_CANNOT_IMPERSONATE`.
    pub const CANNOT_IMPERSONATE: NtStatus = NtStatus(0xC000_010D);

    /// The Win32 code `RtlNtStatusToDosError` gives for this status (spec/api.md §7).
    pub fn to_win32(self) -> Win32Error {
        let w = match self {
            NtStatus::SUCCESS => 0,
            NtStatus::PENDING => 997,
            NtStatus::BUFFER_OVERFLOW => 234,
            NtStatus::INVALID_HANDLE => 6,
            NtStatus::INVALID_PARAMETER => 87,
            NtStatus::ACCESS_DENIED => 5,
            NtStatus::BUFFER_TOO_SMALL => 122,
            NtStatus::OBJECT_NAME_INVALID => 123,
            NtStatus::OBJECT_NAME_NOT_FOUND => 2,
            NtStatus::OBJECT_PATH_SYNTAX_BAD => 161,
            NtStatus::INSUFFICIENT_RESOURCES => 1450,
            NtStatus::INSTANCE_NOT_AVAILABLE | NtStatus::PIPE_NOT_AVAILABLE => 231,
            NtStatus::PIPE_BUSY => 231,
            NtStatus::INVALID_PIPE_STATE | NtStatus::INVALID_READ_MODE => 230,
            NtStatus::ILLEGAL_FUNCTION | NtStatus::INVALID_DEVICE_REQUEST => 1,
            NtStatus::PIPE_DISCONNECTED => 233,
            NtStatus::PIPE_CLOSING | NtStatus::PIPE_EMPTY => 232,
            NtStatus::PIPE_CONNECTED => 535,
            NtStatus::PIPE_LISTENING => 536,
            NtStatus::IO_TIMEOUT => 121,
            NtStatus::CANCELLED => 995,
            NtStatus::PIPE_BROKEN => 109,
            NtStatus::NOT_FOUND => 1168,
            NtStatus::CANNOT_IMPERSONATE => 1368,
            _ => 317, // ERROR_MR_MID_NOT_FOUND, as RtlNtStatusToDosError does for unknown codes
        };
        Win32Error(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_matches_spec_section_7() {
        let table = [
            (NtStatus::PIPE_BROKEN, 109),
            (NtStatus::PIPE_CLOSING, 232),
            (NtStatus::PIPE_EMPTY, 232),
            (NtStatus::PIPE_DISCONNECTED, 233),
            (NtStatus::PIPE_LISTENING, 536),
            (NtStatus::PIPE_CONNECTED, 535),
            (NtStatus::PIPE_NOT_AVAILABLE, 231),
            (NtStatus::INSTANCE_NOT_AVAILABLE, 231),
            (NtStatus::PIPE_BUSY, 231),
            (NtStatus::INVALID_PIPE_STATE, 230),
            (NtStatus::INVALID_READ_MODE, 230),
            (NtStatus::BUFFER_OVERFLOW, 234),
            (NtStatus::IO_TIMEOUT, 121),
            (NtStatus::CANCELLED, 995),
            (NtStatus::PENDING, 997),
            (NtStatus::OBJECT_NAME_NOT_FOUND, 2),
            (NtStatus::OBJECT_NAME_INVALID, 123),
            (NtStatus::OBJECT_PATH_SYNTAX_BAD, 161),
            (NtStatus::ACCESS_DENIED, 5),
            (NtStatus::ILLEGAL_FUNCTION, 1),
            (NtStatus::INVALID_DEVICE_REQUEST, 1),
            (NtStatus::INVALID_PARAMETER, 87),
            (NtStatus::INVALID_HANDLE, 6),
            (NtStatus::CANNOT_IMPERSONATE, 1368),
            (NtStatus::BUFFER_TOO_SMALL, 122),
        ];
        for (st, w) in table {
            assert_eq!(st.to_win32(), Win32Error(w), "{st:?}");
        }
    }

    #[test]
    fn names_and_kinds() {
        assert_eq!(Win32Error::PIPE_BUSY.name(), Some("ERROR_PIPE_BUSY"));
        assert_eq!(Win32Error::PIPE_BUSY.label(), "ERROR_PIPE_BUSY (231)");
        assert_eq!(Win32Error(4242).name(), None);
        assert_eq!(
            std::io::Error::from(Win32Error::BROKEN_PIPE).kind(),
            std::io::ErrorKind::BrokenPipe
        );
        assert_eq!(
            Win32Error::SEM_TIMEOUT.io_kind(),
            std::io::ErrorKind::TimedOut
        );
    }
}
