//! Synchronous ReadFile, WriteFile and TransactNamedPipe on a handle to a remote pipe
//! (`\\HOST\pipe\NAME`, opened over SMB by CreateFile): the SMB call on the caller's thread.
//! Overlapped calls (and the Ex forms) go the way of every other handle's (the library's
//! `IoOp`, whose SMB call runs on the completion driver's blocking pool). CreateFile,
//! CallNamedPipe, WaitNamedPipe and CloseHandle need nothing here: the library does them.

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
) -> BOOL {
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
