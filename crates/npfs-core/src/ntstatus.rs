//! NTSTATUS values of the named-pipe family and the one table between them and Win32 codes.
//!
//! NPFS completes every request with an NTSTATUS; the Win32 layer reports the code
//! `RtlNtStatusToDosError` gives for it. npfs keeps both directions in [`TABLE`]:
//!
//! - **NTSTATUS → Win32** ([`NtStatus::to_win32`]) is `RtlNtStatusToDosError` for the rows of
//!   the table (each value checked against mingw-w64's `ntstatus.h` and `winerror.h`, the
//!   mapping against spec/api.md §7 and the documented RtlNtStatusToDosError results). A status
//!   of facility `FACILITY_NTWIN32` (7) with warning severity, `0x8007xxxx`, maps to its low
//!   word, as RtlNtStatusToDosError does; any other status outside the table maps to
//!   `ERROR_MR_MID_NOT_FOUND` (317), RtlNtStatusToDosError's answer for an unknown status.
//! - **Win32 → NTSTATUS** ([`NtStatus::from_win32`]) is defined by the same table: each Win32
//!   code that appears in it has exactly one row marked `preferred`, and that row's status is
//!   the answer. A Win32 code without a row is carried as `0x8007xxxx`. So every 16-bit Win32
//!   code comes back unchanged from `to_win32(from_win32(code))`; nothing falls back to
//!   `STATUS_INVALID_PARAMETER`.

use std::fmt;

use crate::error::Win32Error;

/// An NTSTATUS value, as NPFS completes requests with it (and as `OVERLAPPED.Internal`
/// holds it).
#[doc(alias = "NTSTATUS")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NtStatus(pub u32);

/// Warning severity with `FACILITY_NTWIN32` (7): the status form of a Win32 code that has no
/// NTSTATUS of its own.
const NTWIN32_WARNING: u32 = 0x8007_0000;

macro_rules! statuses {
    ($( $(#[$doc:meta])* $name:ident = $value:literal => $win:ident $(, $pref:ident)?; )*) => {
        impl NtStatus {
            $( $(#[$doc])* pub const $name: NtStatus = NtStatus($value); )*

            /// The SDK name of the status (`"STATUS_PIPE_BUSY"`), if it is one npfs knows.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some(concat!("STATUS_", stringify!($name))), )*
                    _ => None,
                }
            }
        }

        /// The one table: `(status, Win32 code RtlNtStatusToDosError gives for it, preferred)`.
        /// `preferred` marks the row [`NtStatus::from_win32`] answers for that Win32 code.
        pub const TABLE: &[(NtStatus, Win32Error, bool)] = &[
            $( (NtStatus($value), Win32Error::$win, statuses!(@pref $($pref)?)), )*
        ];
    };
    (@pref) => { false };
    (@pref preferred) => { true };
}

statuses! {
    /// `STATUS_SUCCESS`.
    SUCCESS = 0x0000_0000 => SUCCESS, preferred;
    /// `STATUS_PENDING`: the operation is in progress.
    PENDING = 0x0000_0103 => IO_PENDING, preferred;
    /// `STATUS_BUFFER_OVERFLOW`: a warning, not an error — a message read in part
    /// (`InternalHigh` holds the count).
    BUFFER_OVERFLOW = 0x8000_0005 => MORE_DATA, preferred;
    /// `STATUS_UNSUCCESSFUL`.
    UNSUCCESSFUL = 0xC000_0001 => GEN_FAILURE, preferred;
    /// `STATUS_ACCESS_VIOLATION` (an invalid buffer address).
    ACCESS_VIOLATION = 0xC000_0005 => NOACCESS, preferred;
    /// `STATUS_INVALID_HANDLE`.
    INVALID_HANDLE = 0xC000_0008 => INVALID_HANDLE, preferred;
    /// `STATUS_INVALID_PARAMETER`.
    INVALID_PARAMETER = 0xC000_000D => INVALID_PARAMETER, preferred;
    /// `STATUS_INVALID_DEVICE_REQUEST`: an FSCTL the file system does not have.
    INVALID_DEVICE_REQUEST = 0xC000_0010 => INVALID_FUNCTION;
    /// `STATUS_NO_MEMORY`.
    NO_MEMORY = 0xC000_0017 => NOT_ENOUGH_MEMORY, preferred;
    /// `STATUS_ACCESS_DENIED`.
    ACCESS_DENIED = 0xC000_0022 => ACCESS_DENIED, preferred;
    /// `STATUS_BUFFER_TOO_SMALL`.
    BUFFER_TOO_SMALL = 0xC000_0023 => INSUFFICIENT_BUFFER, preferred;
    /// `STATUS_OBJECT_NAME_INVALID`.
    OBJECT_NAME_INVALID = 0xC000_0033 => INVALID_NAME, preferred;
    /// `STATUS_OBJECT_NAME_NOT_FOUND`: no pipe of that name.
    OBJECT_NAME_NOT_FOUND = 0xC000_0034 => FILE_NOT_FOUND, preferred;
    /// `STATUS_OBJECT_NAME_COLLISION`.
    OBJECT_NAME_COLLISION = 0xC000_0035 => ALREADY_EXISTS, preferred;
    /// `STATUS_OBJECT_PATH_NOT_FOUND`.
    OBJECT_PATH_NOT_FOUND = 0xC000_003A => PATH_NOT_FOUND, preferred;
    /// `STATUS_OBJECT_PATH_SYNTAX_BAD`.
    OBJECT_PATH_SYNTAX_BAD = 0xC000_003B => BAD_PATHNAME, preferred;
    /// `STATUS_PRIVILEGE_NOT_HELD`.
    PRIVILEGE_NOT_HELD = 0xC000_0061 => PRIVILEGE_NOT_HELD, preferred;
    /// `STATUS_INSUFFICIENT_RESOURCES`.
    INSUFFICIENT_RESOURCES = 0xC000_009A => NO_SYSTEM_RESOURCES, preferred;
    /// `STATUS_INSTANCE_NOT_AVAILABLE`: the instance limit is reached.
    INSTANCE_NOT_AVAILABLE = 0xC000_00AB => PIPE_BUSY;
    /// `STATUS_PIPE_NOT_AVAILABLE`: no instance is listening.
    PIPE_NOT_AVAILABLE = 0xC000_00AC => PIPE_BUSY;
    /// `STATUS_INVALID_PIPE_STATE`.
    INVALID_PIPE_STATE = 0xC000_00AD => BAD_PIPE, preferred;
    /// `STATUS_PIPE_BUSY`.
    PIPE_BUSY = 0xC000_00AE => PIPE_BUSY, preferred;
    /// `STATUS_ILLEGAL_FUNCTION`.
    ILLEGAL_FUNCTION = 0xC000_00AF => INVALID_FUNCTION, preferred;
    /// `STATUS_PIPE_DISCONNECTED`.
    PIPE_DISCONNECTED = 0xC000_00B0 => PIPE_NOT_CONNECTED, preferred;
    /// `STATUS_PIPE_CLOSING`: the other end closed.
    PIPE_CLOSING = 0xC000_00B1 => NO_DATA, preferred;
    /// `STATUS_PIPE_CONNECTED`.
    PIPE_CONNECTED = 0xC000_00B2 => PIPE_CONNECTED, preferred;
    /// `STATUS_PIPE_LISTENING`.
    PIPE_LISTENING = 0xC000_00B3 => PIPE_LISTENING, preferred;
    /// `STATUS_INVALID_READ_MODE`.
    INVALID_READ_MODE = 0xC000_00B4 => BAD_PIPE;
    /// `STATUS_IO_TIMEOUT`: WaitNamedPipe's time-out.
    IO_TIMEOUT = 0xC000_00B5 => SEM_TIMEOUT, preferred;
    /// `STATUS_NOT_SUPPORTED`.
    NOT_SUPPORTED = 0xC000_00BB => NOT_SUPPORTED, preferred;
    /// `STATUS_BAD_NETWORK_PATH`.
    BAD_NETWORK_PATH = 0xC000_00BE => BAD_NETPATH, preferred;
    /// `STATUS_PIPE_EMPTY`: a nowait read found nothing.
    PIPE_EMPTY = 0xC000_00D9 => NO_DATA;
    /// `STATUS_INTERNAL_ERROR`.
    INTERNAL_ERROR = 0xC000_00E5 => INTERNAL_ERROR, preferred;
    /// `STATUS_CANNOT_IMPERSONATE`.
    CANNOT_IMPERSONATE = 0xC000_010D => CANNOT_IMPERSONATE, preferred;
    /// `STATUS_TOO_MANY_OPENED_FILES`.
    TOO_MANY_OPENED_FILES = 0xC000_011F => TOO_MANY_OPEN_FILES, preferred;
    /// `STATUS_CANCELLED`: CancelIo / CancelIoEx.
    CANCELLED = 0xC000_0120 => OPERATION_ABORTED, preferred;
    /// `STATUS_PIPE_BROKEN`: the other end closed and nothing is left to read.
    PIPE_BROKEN = 0xC000_014B => BROKEN_PIPE, preferred;
    /// `STATUS_NOT_FOUND`.
    NOT_FOUND = 0xC000_0225 => NOT_FOUND, preferred;
}

impl NtStatus {
    /// The Win32 code `RtlNtStatusToDosError` gives for this status (see the module docs).
    #[doc(alias = "RtlNtStatusToDosError")]
    pub fn to_win32(self) -> Win32Error {
        if let Some(&(_, w, _)) = TABLE.iter().find(|(s, _, _)| *s == self) {
            return w;
        }
        if self.0 & 0xFFFF_0000 == NTWIN32_WARNING {
            return Win32Error(self.0 & 0xFFFF);
        }
        Win32Error::MR_MID_NOT_FOUND
    }

    /// The status a Win32 code comes from: the table's preferred row for it, else the
    /// `FACILITY_NTWIN32` form `0x8007xxxx`, so that [`NtStatus::to_win32`] gives the code
    /// back. (Codes above 0xFFFF are no Win32 codes; they become `STATUS_UNSUCCESSFUL`.)
    pub fn from_win32(code: Win32Error) -> NtStatus {
        if let Some(&(s, _, _)) = TABLE.iter().find(|(_, w, p)| *p && *w == code) {
            return s;
        }
        if code.0 <= 0xFFFF {
            NtStatus(NTWIN32_WARNING | code.0)
        } else {
            NtStatus::UNSUCCESSFUL
        }
    }

    /// `NT_SUCCESS`: a success or informational status (not a warning or an error).
    #[doc(alias = "NT_SUCCESS")]
    pub fn is_success(self) -> bool {
        (self.0 as i32) >= 0
    }
}

impl fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({:#010x})", self.0),
            None => write!(f, "NTSTATUS {:#010x}", self.0),
        }
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
            (NtStatus::INSUFFICIENT_RESOURCES, 1450),
            (NtStatus::CANNOT_IMPERSONATE, 1368),
            (NtStatus::BUFFER_TOO_SMALL, 122),
        ];
        for (st, w) in table {
            assert_eq!(st.to_win32(), Win32Error(w), "{st:?}");
        }
    }

    /// The values as mingw-w64's ntstatus.h defines them.
    #[test]
    fn values_match_the_sdk_headers() {
        let sdk = [
            (NtStatus::SUCCESS, 0x0000_0000),
            (NtStatus::PENDING, 0x0000_0103),
            (NtStatus::BUFFER_OVERFLOW, 0x8000_0005),
            (NtStatus::UNSUCCESSFUL, 0xC000_0001),
            (NtStatus::INVALID_PARAMETER, 0xC000_000D),
            (NtStatus::NO_MEMORY, 0xC000_0017),
            (NtStatus::ACCESS_DENIED, 0xC000_0022),
            (NtStatus::OBJECT_NAME_NOT_FOUND, 0xC000_0034),
            (NtStatus::INSUFFICIENT_RESOURCES, 0xC000_009A),
            (NtStatus::PIPE_BUSY, 0xC000_00AE),
            (NtStatus::PIPE_LISTENING, 0xC000_00B3),
            (NtStatus::IO_TIMEOUT, 0xC000_00B5),
            (NtStatus::PIPE_EMPTY, 0xC000_00D9),
            (NtStatus::CANCELLED, 0xC000_0120),
            (NtStatus::PIPE_BROKEN, 0xC000_014B),
        ];
        for (st, v) in sdk {
            assert_eq!(st.0, v, "{st:?}");
        }
        assert_eq!(NtStatus::PIPE_BUSY.name(), Some("STATUS_PIPE_BUSY"));
    }

    #[test]
    fn table_is_one_to_one_where_it_must_be() {
        for (i, (s, w, p)) in TABLE.iter().enumerate() {
            assert!(
                TABLE[..i].iter().all(|(t, _, _)| t != s),
                "{s:?} has two rows"
            );
            let preferred = TABLE.iter().filter(|(_, v, q)| *q && v == w).count();
            assert_eq!(preferred, 1, "{w:?} needs exactly one preferred status");
            if *p {
                assert_eq!(NtStatus::from_win32(*w), *s);
            }
        }
    }

    /// Every Win32 code npfs names (all it can produce) comes back from its NTSTATUS; those
    /// with a status of their own use it, not the FACILITY_NTWIN32 carrier.
    #[test]
    fn every_npfs_code_round_trips() {
        for &w in Win32Error::ALL {
            let st = NtStatus::from_win32(w);
            assert_eq!(st.to_win32(), w, "{w:?} via {st:?}");
            if TABLE.iter().any(|(_, v, _)| *v == w) {
                assert!(st.name().is_some(), "{w:?} travels as {st:?}");
            }
        }
        // The completion that read back as 87 before.
        assert_eq!(
            NtStatus::from_win32(Win32Error::NO_SYSTEM_RESOURCES),
            NtStatus::INSUFFICIENT_RESOURCES
        );
    }

    #[test]
    fn every_16_bit_code_round_trips() {
        for c in 0..=0xFFFFu32 {
            assert_eq!(
                NtStatus::from_win32(Win32Error(c)).to_win32(),
                Win32Error(c)
            );
        }
    }

    #[test]
    fn unknown_statuses() {
        assert_eq!(
            NtStatus(0xC000_7777).to_win32(),
            Win32Error::MR_MID_NOT_FOUND
        );
        assert_eq!(NtStatus(0x8007_0102).to_win32(), Win32Error::WAIT_TIMEOUT);
        assert_eq!(
            NtStatus::from_win32(Win32Error(0x1_0000)),
            NtStatus::UNSUCCESSFUL
        );
        assert!(NtStatus::PENDING.is_success());
        assert!(!NtStatus::BUFFER_OVERFLOW.is_success());
    }

    proptest::proptest! {
        #[test]
        fn any_status_maps_to_a_code_that_maps_back_to_it(s in proptest::prelude::any::<u32>()) {
            // Whatever a status means in Win32 terms, its preferred status means the same.
            let w = NtStatus(s).to_win32();
            proptest::prop_assert_eq!(NtStatus::from_win32(w).to_win32(), w);
        }
    }
}
