//! NTSTATUS values as the OVERLAPPED's `Internal` holds them, and their Win32 codes.

use npfs_core::NtStatus;

use crate::types::DWORD;

/// `STATUS_PENDING`.
pub const STATUS_PENDING: u32 = 0x103;
/// `STATUS_BUFFER_OVERFLOW`.
pub const STATUS_BUFFER_OVERFLOW: u32 = 0x8000_0005;

/// RtlNtStatusToDosError for the statuses pipes produce.
pub fn to_win32(status: u32) -> DWORD {
    NtStatus(status).to_win32().0
}

/// The NTSTATUS a Win32 pipe error comes from (the inverse, for the codes npfs reports).
pub fn from_win32(code: DWORD) -> u32 {
    match code {
        0 => 0,
        109 => NtStatus::PIPE_BROKEN.0,
        232 => NtStatus::PIPE_CLOSING.0,
        233 => NtStatus::PIPE_DISCONNECTED.0,
        536 => NtStatus::PIPE_LISTENING.0,
        535 => NtStatus::PIPE_CONNECTED.0,
        231 => NtStatus::PIPE_BUSY.0,
        230 => NtStatus::INVALID_PIPE_STATE.0,
        234 => STATUS_BUFFER_OVERFLOW,
        121 => NtStatus::IO_TIMEOUT.0,
        995 => NtStatus::CANCELLED.0,
        2 => NtStatus::OBJECT_NAME_NOT_FOUND.0,
        123 => NtStatus::OBJECT_NAME_INVALID.0,
        5 => NtStatus::ACCESS_DENIED.0,
        1 => NtStatus::ILLEGAL_FUNCTION.0,
        87 => NtStatus::INVALID_PARAMETER.0,
        6 => NtStatus::INVALID_HANDLE.0,
        1368 => NtStatus::CANNOT_IMPERSONATE.0,
        122 => NtStatus::BUFFER_TOO_SMALL.0,
        _ => NtStatus::INVALID_PARAMETER.0,
    }
}
