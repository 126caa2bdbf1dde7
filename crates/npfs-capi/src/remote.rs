//! ReadFile, WriteFile and TransactNamedPipe on a handle to a remote pipe
//! (`\\HOST\pipe\NAME`, opened over SMB by CreateFile): synchronous only. An SMB2 READ of a
//! pipe cannot be cancelled, so overlapped I/O (and the Ex forms) on such a handle fails with
//! `ERROR_NOT_SUPPORTED` (docs/DEVIATIONS.md). CreateFile, CallNamedPipe, WaitNamedPipe and
//! CloseHandle need nothing here: the library does them.

use npfs_lib::ffi::RawBufs;
use npfs_lib::{PipeHandle, ReadOutcome, Win32Error};

use crate::error::{fail, set_last_error};
use crate::types::*;

/// What [`io`] does.
pub(crate) enum RemoteIo {
    Read,
    Write,
    Transact,
}

/// One synchronous operation on remote handle `h` (the access check already done), with
/// Windows' results: `*out_bytes`, `ERROR_MORE_DATA` for a cut reply.
///
/// # Safety
///
/// `bufs` are the caller's buffers, valid for the call; `out_bytes` is null or valid.
pub(crate) unsafe fn io(
    h: &PipeHandle,
    kind: RemoteIo,
    bufs: RawBufs,
    out_bytes: *mut DWORD,
    overlapped: bool,
) -> BOOL {
    if overlapped {
        return fail(Win32Error::NOT_SUPPORTED.0);
    }
    // SAFETY: the caller's buffers (null only with a zero length).
    let (buf, data) = unsafe {
        (
            if bufs.buf.is_null() || bufs.buf_len == 0 {
                &mut [][..]
            } else {
                std::slice::from_raw_parts_mut(bufs.buf, bufs.buf_len)
            },
            if bufs.data.is_null() || bufs.data_len == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(bufs.data, bufs.data_len)
            },
        )
    };
    let r = match kind {
        RemoteIo::Read => h.read(buf),
        RemoteIo::Write => h.write(data).map(|len| ReadOutcome {
            len,
            more_data: false,
        }),
        RemoteIo::Transact => h.transact(data, buf),
    };
    match r {
        Ok(o) => {
            if !out_bytes.is_null() {
                // SAFETY: the caller's DWORD out-pointer.
                unsafe { *out_bytes = o.len as DWORD };
            }
            if o.more_data {
                fail(Win32Error::MORE_DATA.0)
            } else {
                set_last_error(0);
                TRUE
            }
        }
        Err(e) => fail(e.0),
    }
}
