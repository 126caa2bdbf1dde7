//! NTSTATUS values as the OVERLAPPED's `Internal` holds them, and their Win32 codes: both
//! directions are npfs-core's one table ([`npfs_core::ntstatus`]).

use npfs_core::{NtStatus, Win32Error};

use crate::types::DWORD;

/// `STATUS_PENDING`.
pub const STATUS_PENDING: u32 = NtStatus::PENDING.0;
/// `STATUS_BUFFER_OVERFLOW`.
pub const STATUS_BUFFER_OVERFLOW: u32 = NtStatus::BUFFER_OVERFLOW.0;

/// RtlNtStatusToDosError: the Win32 code GetOverlappedResult reports for `status`.
pub fn to_win32(status: u32) -> DWORD {
    NtStatus(status).to_win32().0
}

/// The NTSTATUS a completion with Win32 code `code` stores in `OVERLAPPED.Internal`: the
/// table's preferred status for the code, so that [`to_win32`] gives `code` back.
pub fn from_win32(code: DWORD) -> u32 {
    NtStatus::from_win32(Win32Error(code)).0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an asynchronous completion stores reads back unchanged through
    /// GetOverlappedResult, for every code npfs produces (1450 read back as 87 before).
    #[test]
    fn completion_codes_round_trip() {
        for &w in Win32Error::ALL {
            assert_eq!(to_win32(from_win32(w.0)), w.0, "{w:?}");
        }
        assert_eq!(from_win32(1450), NtStatus::INSUFFICIENT_RESOURCES.0);
        assert_eq!(to_win32(from_win32(1450)), 1450);
        assert_eq!(from_win32(0), 0);
        assert_eq!(from_win32(234), STATUS_BUFFER_OVERFLOW);
    }
}
