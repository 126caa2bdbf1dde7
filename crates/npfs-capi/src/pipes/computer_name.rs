//! GetNamedPipeClientComputerNameA/W.

use super::{pipe, ERROR_MORE_DATA, ERROR_PIPE_LOCAL};
use crate::error::*;
use crate::types::*;

/// Where the name goes: the caller's buffer of `len` bytes, narrow or wide.
pub(super) enum NameBuf {
    Narrow(*mut u8, ULONG),
    Wide(*mut u16, ULONG),
}

/// GetNamedPipeClientComputerName, both forms. A remote client (opened through the broker's
/// Samba bridge) gives its computer name as smbd passed it — the SMB client's IP address —
/// NUL-terminated; a buffer too small for it (its length is in bytes, NUL included) fails
/// with `ERROR_MORE_DATA` (234; unverified on Windows), a NULL one with
/// `ERROR_INVALID_PARAMETER`. Every local client fails with `ERROR_PIPE_LOCAL` (229) — what
/// callers test for before they fall back to the process id (spec/api.md §2.12;
/// docs/DEVIATIONS.md). A client end, or an unconnected handle, gets the process-id query's
/// error.
///
/// # Safety
///
/// The buffer, when not NULL, must be writable for `len` bytes.
pub(super) unsafe fn query(h: HANDLE, buf: NameBuf) -> BOOL {
    let obj = match pipe(h) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let name = match obj.server().map(|s| s.client_computer_name()) {
        Some(Ok(Some(name))) => name,
        Some(Ok(None)) => return fail(ERROR_PIPE_LOCAL),
        // Not connected, or a client end: the process-id query's error, as before.
        Some(Err(_)) | None => {
            return match obj.handle().client_process_id() {
                Ok(_) => fail(ERROR_PIPE_LOCAL),
                Err(e) => fail(e.0),
            }
        }
    };
    // SAFETY: the caller's buffer of `len` bytes, checked non-null and large enough.
    unsafe {
        match buf {
            NameBuf::Narrow(p, len) => {
                if p.is_null() {
                    return fail(ERROR_INVALID_PARAMETER);
                }
                if (len as usize) < name.len() + 1 {
                    return fail(ERROR_MORE_DATA);
                }
                std::ptr::copy_nonoverlapping(name.as_ptr(), p, name.len());
                *p.add(name.len()) = 0;
            }
            NameBuf::Wide(p, len) => {
                if p.is_null() {
                    return fail(ERROR_INVALID_PARAMETER);
                }
                let w: Vec<u16> = name.encode_utf16().collect();
                if (len as usize) < 2 * (w.len() + 1) {
                    return fail(ERROR_MORE_DATA);
                }
                std::ptr::copy_nonoverlapping(w.as_ptr(), p, w.len());
                *p.add(w.len()) = 0;
            }
        }
    }
    TRUE
}
