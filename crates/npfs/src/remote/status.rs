//! NTSTATUS values an SMB server answers, to Win32 error codes (what `RtlNtStatusToDosError`
//! gives). The named-pipe statuses come from npfs-core's table ([`NtStatus::to_win32`]); this
//! file adds the network and logon ones only an SMB client meets.

use npfs_core::error::NtStatus;
use npfs_core::Win32Error;

/// `STATUS_LOGON_FAILURE`.
pub(crate) const LOGON_FAILURE: u32 = 0xC000_006D;
/// `STATUS_OBJECT_NAME_NOT_FOUND`: no such pipe (smbd: no socket in its `np/` directory).
pub(crate) const OBJECT_NAME_NOT_FOUND: u32 = 0xC000_0034;
/// `STATUS_PIPE_DISCONNECTED`.
pub(crate) const PIPE_DISCONNECTED: u32 = 0xC000_00B0;
/// `STATUS_CONNECTION_REFUSED`: smbd found the socket but nobody listens on it.
pub(crate) const CONNECTION_REFUSED: u32 = 0xC000_0236;
/// `STATUS_CONNECTION_DISCONNECTED`: the server side accepted and closed (no instance).
pub(crate) const CONNECTION_DISCONNECTED: u32 = 0xC000_020C;

/// The table: (NTSTATUS, Win32 code).
const TABLE: &[(u32, u32)] = &[
    (LOGON_FAILURE, 1326),         // ERROR_LOGON_FAILURE
    (0xC000_0064, 1326),           // STATUS_NO_SUCH_USER: ERROR_LOGON_FAILURE, as SMB servers say
    (0xC000_006A, 1326),           // STATUS_WRONG_PASSWORD (Windows: ERROR_INVALID_PASSWORD 86)
    (0xC000_0072, 1331),           // STATUS_ACCOUNT_DISABLED: ERROR_ACCOUNT_DISABLED
    (0xC000_0022, 5),              // STATUS_ACCESS_DENIED: ERROR_ACCESS_DENIED
    (0xC000_00CC, 67),             // STATUS_BAD_NETWORK_NAME: ERROR_BAD_NET_NAME (no IPC$)
    (0xC000_00BE, 53),             // STATUS_BAD_NETWORK_PATH: ERROR_BAD_NETPATH
    (CONNECTION_REFUSED, 1225),    // ERROR_CONNECTION_REFUSED
    (CONNECTION_DISCONNECTED, 64), // ERROR_NETNAME_DELETED
    (0xC000_0203, 64),             // STATUS_USER_SESSION_DELETED: ERROR_NETNAME_DELETED
    (0xC000_002F, 87),             // STATUS_PORT_MESSAGE_TOO_LONG (smbd: message > 65535 bytes)
    (0xC000_00BB, 50),             // STATUS_NOT_SUPPORTED: ERROR_NOT_SUPPORTED
    (0xC000_019C, 50),             // STATUS_FS_DRIVER_REQUIRED (smbd: PEEK, WAIT); Windows: 588
    (0xC000_0185, 1117),           // STATUS_IO_DEVICE_ERROR: ERROR_IO_DEVICE
    (OBJECT_NAME_NOT_FOUND, 2),    // ERROR_FILE_NOT_FOUND
];

/// The Win32 code for an NTSTATUS from an SMB server.
pub(crate) fn to_win32(status: u32) -> Win32Error {
    match TABLE.iter().find(|(s, _)| *s == status) {
        Some(&(_, w)) => Win32Error(w),
        None => NtStatus(status).to_win32(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_and_pipe_statuses() {
        for (st, w) in [
            (LOGON_FAILURE, Win32Error::LOGON_FAILURE),
            (OBJECT_NAME_NOT_FOUND, Win32Error::FILE_NOT_FOUND),
            (PIPE_DISCONNECTED, Win32Error::PIPE_NOT_CONNECTED),
            (0xC000_014B, Win32Error::BROKEN_PIPE),
            (0x8000_0005, Win32Error::MORE_DATA),
            (0xC000_00AE, Win32Error::PIPE_BUSY),
            (0xC000_00CC, Win32Error::BAD_NET_NAME),
            (0xC000_0022, Win32Error::ACCESS_DENIED),
        ] {
            assert_eq!(to_win32(st), w, "{st:#x}");
        }
    }
}
