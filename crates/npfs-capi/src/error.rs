//! The per-thread last error (GetLastError / SetLastError) and the panic guard every export
//! runs inside.

use std::cell::Cell;

use crate::types::*;

thread_local! {
    static LAST_ERROR: Cell<DWORD> = const { Cell::new(0) };
}

/// Set the calling thread's last error.
pub fn set_last_error(code: DWORD) {
    LAST_ERROR.with(|c| c.set(code));
}

/// The calling thread's last error.
pub fn last_error() -> DWORD {
    LAST_ERROR.with(|c| c.get())
}

/// GetLastError.
#[no_mangle]
pub extern "C" fn GetLastError() -> DWORD {
    last_error()
}

/// SetLastError.
#[no_mangle]
pub extern "C" fn SetLastError(code: DWORD) {
    set_last_error(code)
}

/// `ERROR_INVALID_HANDLE`.
pub const ERROR_INVALID_HANDLE: DWORD = 6;
/// `ERROR_INVALID_PARAMETER`.
pub const ERROR_INVALID_PARAMETER: DWORD = 87;
/// `ERROR_NOACCESS`: an invalid output pointer.
pub const ERROR_NOACCESS: DWORD = 998;
/// `ERROR_NOT_ENOUGH_MEMORY`.
pub const ERROR_NOT_ENOUGH_MEMORY: DWORD = 8;
/// `ERROR_INTERNAL_ERROR`.
pub const ERROR_INTERNAL_ERROR: DWORD = 1359;

/// Run `f`, turning a panic into `fallback` with `ERROR_INTERNAL_ERROR`: no panic ever crosses
/// the ABI.
pub fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            set_last_error(ERROR_INTERNAL_ERROR);
            fallback
        }
    }
}

/// Fail with `code`: set it and return FALSE.
pub fn fail(code: DWORD) -> BOOL {
    set_last_error(code);
    FALSE
}
