//! The small helpers the Microsoft samples use: heap and global memory, string length and
//! copy, tick count, process id, `_getch`.

use std::ffi::c_void;

use crate::error::*;
use crate::types::*;

/// `HEAP_ZERO_MEMORY`.
const HEAP_ZERO_MEMORY: DWORD = 0x8;
/// `GMEM_ZEROINIT`.
const GMEM_ZEROINIT: u32 = 0x40;
/// The process heap's pseudo handle.
const PROCESS_HEAP: usize = 0x0000_0000_4845_4150; // "HEAP"

/// GetProcessHeap.
#[no_mangle]
pub extern "C" fn GetProcessHeap() -> HANDLE {
    PROCESS_HEAP as HANDLE
}

/// HeapAlloc.
#[no_mangle]
pub extern "C" fn HeapAlloc(_heap: HANDLE, flags: DWORD, size: usize) -> *mut c_void {
    let size = size.max(1);
    // SAFETY: plain C allocation; the caller frees it with HeapFree.
    unsafe {
        if flags & HEAP_ZERO_MEMORY != 0 {
            libc::calloc(1, size)
        } else {
            libc::malloc(size)
        }
    }
}

/// HeapFree.
#[no_mangle]
pub unsafe extern "C" fn HeapFree(_heap: HANDLE, _flags: DWORD, p: *mut c_void) -> BOOL {
    // SAFETY: `p` came from HeapAlloc (malloc/calloc), as the API requires.
    unsafe { libc::free(p) };
    TRUE
}

/// GlobalAlloc (GMEM_FIXED memory; GPTR zeroes it).
#[no_mangle]
pub extern "C" fn GlobalAlloc(flags: u32, size: usize) -> *mut c_void {
    HeapAlloc(
        std::ptr::null_mut(),
        if flags & GMEM_ZEROINIT != 0 {
            HEAP_ZERO_MEMORY
        } else {
            0
        },
        size,
    )
}

/// GlobalFree: NULL on success.
#[no_mangle]
pub unsafe extern "C" fn GlobalFree(p: *mut c_void) -> *mut c_void {
    // SAFETY: `p` came from GlobalAlloc.
    unsafe { libc::free(p) };
    std::ptr::null_mut()
}

/// lstrlenA (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn lstrlenA(s: *const u8) -> i32 {
    if s.is_null() {
        return 0;
    }
    // SAFETY: a NUL-terminated string, as the API requires.
    unsafe { libc::strlen(s.cast()) as i32 }
}

/// lstrlenW (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn lstrlenW(s: *const u16) -> i32 {
    if s.is_null() {
        return 0;
    }
    let mut n = 0usize;
    // SAFETY: a NUL-terminated UTF-16 string, as the API requires.
    unsafe {
        while *s.add(n) != 0 {
            n += 1;
        }
    }
    n as i32
}

/// `S_OK`.
const S_OK: i32 = 0;
/// `STRSAFE_E_INVALID_PARAMETER`.
const STRSAFE_E_INVALID_PARAMETER: i32 = 0x8007_0057_u32 as i32;
/// `STRSAFE_E_INSUFFICIENT_BUFFER`.
const STRSAFE_E_INSUFFICIENT_BUFFER: i32 = 0x8007_007A_u32 as i32;
/// `STRSAFE_MAX_CCH`.
const STRSAFE_MAX_CCH: usize = 2_147_483_647;

unsafe fn cch_copy<T: Copy + Default + PartialEq>(dst: *mut T, cch: usize, src: *const T) -> i32 {
    if dst.is_null() || cch == 0 || cch > STRSAFE_MAX_CCH {
        return STRSAFE_E_INVALID_PARAMETER;
    }
    let zero = T::default();
    let mut i = 0;
    // SAFETY: `dst` has room for `cch` units and `src` is NUL-terminated (API contract).
    unsafe {
        if !src.is_null() {
            while i + 1 < cch && *src.add(i) != zero {
                *dst.add(i) = *src.add(i);
                i += 1;
            }
        }
        *dst.add(i) = zero;
        if !src.is_null() && *src.add(i) != zero {
            return STRSAFE_E_INSUFFICIENT_BUFFER;
        }
    }
    S_OK
}

/// StringCchCopyA: copy with truncation; STRSAFE_E_INSUFFICIENT_BUFFER when cut.
#[no_mangle]
pub unsafe extern "C" fn StringCchCopyA(dst: *mut u8, cch: usize, src: *const u8) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { cch_copy(dst, cch, src) }
}

/// StringCchCopyW.
#[no_mangle]
pub unsafe extern "C" fn StringCchCopyW(dst: *mut u16, cch: usize, src: *const u16) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { cch_copy(dst, cch, src) }
}

/// GetTickCount: milliseconds since boot (wraps after 49.7 days).
#[no_mangle]
pub extern "C" fn GetTickCount() -> DWORD {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    (t.tv_sec as u64 * 1000 + t.tv_nsec as u64 / 1_000_000) as DWORD
}

/// GetTickCount64.
#[no_mangle]
pub extern "C" fn GetTickCount64() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    t.tv_sec as u64 * 1000 + t.tv_nsec as u64 / 1_000_000
}

/// GetCurrentProcessId.
#[no_mangle]
pub extern "C" fn GetCurrentProcessId() -> DWORD {
    rustix::process::getpid().as_raw_nonzero().get() as DWORD
}

/// ProcessIdToSessionId: the session of process `pid` — its Unix session id, the value
/// GetNamedPipeClientSessionId and GetNamedPipeServerSessionId report (a session led from
/// outside this PID namespace reads as 0). `ERROR_INVALID_PARAMETER` for a process that does
/// not exist, `ERROR_NOACCESS` for a null output.
///
/// # Safety
/// `session` is null or points to a writable DWORD.
#[no_mangle]
pub unsafe extern "C" fn ProcessIdToSessionId(pid: DWORD, session: *mut DWORD) -> BOOL {
    guard(FALSE, || {
        if session.is_null() {
            return fail(ERROR_NOACCESS);
        }
        match npfs_lib::process_session_id(pid) {
            Ok(sid) => {
                // SAFETY: checked non-null; the caller's DWORD.
                unsafe { *session = sid };
            }
            Err(e) => return fail(e.0),
        }
        TRUE
    })
}

/// `_getch`: one character from the console without echo (stdin; -1 at end of input).
#[no_mangle]
pub extern "C" fn _getch() -> i32 {
    guard(-1, || {
        let mut b = [0u8; 1];
        match std::io::Read::read(&mut std::io::stdin(), &mut b) {
            Ok(1) => i32::from(b[0]),
            _ => -1,
        }
    })
}
