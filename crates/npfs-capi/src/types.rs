//! The Win32 scalar types and constants the ABI uses (values as in the Windows SDK).

use std::ffi::c_void;

/// `BOOL`.
pub type BOOL = i32;
/// `DWORD`.
pub type DWORD = u32;
/// `HANDLE`.
pub type HANDLE = *mut c_void;
/// `ULONG` (32 bits on LP64 Linux, as on Windows).
pub type ULONG = u32;
/// `ULONG_PTR`: an unsigned integer the size of a pointer.
#[allow(non_camel_case_types)] // the SDK's name
pub type ULONG_PTR = usize;
/// `TRUE`.
pub const TRUE: BOOL = 1;
/// `FALSE`.
pub const FALSE: BOOL = 0;
/// `INVALID_HANDLE_VALUE`.
pub const INVALID_HANDLE_VALUE: HANDLE = usize::MAX as HANDLE;
/// `INFINITE`.
pub const INFINITE: DWORD = 0xFFFF_FFFF;
/// `WAIT_OBJECT_0`.
pub const WAIT_OBJECT_0: DWORD = 0;
/// `WAIT_ABANDONED_0`.
pub const WAIT_ABANDONED_0: DWORD = 0x80;
/// `WAIT_IO_COMPLETION`.
pub const WAIT_IO_COMPLETION: DWORD = 0xC0;
/// `WAIT_TIMEOUT`.
pub const WAIT_TIMEOUT: DWORD = 258;
/// `WAIT_FAILED`.
pub const WAIT_FAILED: DWORD = 0xFFFF_FFFF;
/// `MAXIMUM_WAIT_OBJECTS`.
pub const MAXIMUM_WAIT_OBJECTS: DWORD = 64;
/// `HANDLE_FLAG_INHERIT`.
pub const HANDLE_FLAG_INHERIT: DWORD = 1;
/// `HANDLE_FLAG_PROTECT_FROM_CLOSE`.
pub const HANDLE_FLAG_PROTECT_FROM_CLOSE: DWORD = 2;
/// `DUPLICATE_CLOSE_SOURCE`.
pub const DUPLICATE_CLOSE_SOURCE: DWORD = 1;
/// `DUPLICATE_SAME_ACCESS`.
pub const DUPLICATE_SAME_ACCESS: DWORD = 2;
/// `STILL_ACTIVE`.
pub const STILL_ACTIVE: DWORD = 259;

/// `OVERLAPPED`, laid out as the SDK lays it out on 64-bit Windows.
#[repr(C)]
pub struct OVERLAPPED {
    /// `Internal`: the NTSTATUS of the operation (`STATUS_PENDING` while pending).
    pub Internal: usize,
    /// `InternalHigh`: the byte count.
    pub InternalHigh: usize,
    /// `Offset`.
    pub Offset: DWORD,
    /// `OffsetHigh`.
    pub OffsetHigh: DWORD,
    /// `hEvent`.
    pub hEvent: HANDLE,
}

/// `LPOVERLAPPED_COMPLETION_ROUTINE`.
pub type CompletionRoutine = Option<unsafe extern "C" fn(DWORD, DWORD, *mut OVERLAPPED)>;

/// `SECURITY_ATTRIBUTES`.
#[repr(C)]
pub struct SECURITY_ATTRIBUTES {
    /// `nLength`.
    pub nLength: DWORD,
    /// `lpSecurityDescriptor`.
    pub lpSecurityDescriptor: *mut c_void,
    /// `bInheritHandle`.
    pub bInheritHandle: BOOL,
}

/// `OVERLAPPED_ENTRY` (GetQueuedCompletionStatusEx).
#[repr(C)]
pub struct OVERLAPPED_ENTRY {
    /// `lpCompletionKey`.
    pub lpCompletionKey: usize,
    /// `lpOverlapped`.
    pub lpOverlapped: *mut OVERLAPPED,
    /// `Internal`.
    pub Internal: usize,
    /// `dwNumberOfBytesTransferred`.
    pub dwNumberOfBytesTransferred: DWORD,
}

/// `STARTUPINFOA` (CreateProcessA); `STARTUPINFOW` has the same layout with wide strings.
#[repr(C)]
pub struct STARTUPINFOA {
    /// `cb`: the structure's size.
    pub cb: DWORD,
    /// `lpReserved`.
    pub lpReserved: *mut u8,
    /// `lpDesktop`.
    pub lpDesktop: *mut u8,
    /// `lpTitle`.
    pub lpTitle: *mut u8,
    /// `dwX`.
    pub dwX: DWORD,
    /// `dwY`.
    pub dwY: DWORD,
    /// `dwXSize`.
    pub dwXSize: DWORD,
    /// `dwYSize`.
    pub dwYSize: DWORD,
    /// `dwXCountChars`.
    pub dwXCountChars: DWORD,
    /// `dwYCountChars`.
    pub dwYCountChars: DWORD,
    /// `dwFillAttribute`.
    pub dwFillAttribute: DWORD,
    /// `dwFlags`: which of the other members count (`STARTF_*`).
    pub dwFlags: DWORD,
    /// `wShowWindow`.
    pub wShowWindow: u16,
    /// `cbReserved2`.
    pub cbReserved2: u16,
    /// `lpReserved2`.
    pub lpReserved2: *mut u8,
    /// `hStdInput`.
    pub hStdInput: HANDLE,
    /// `hStdOutput`.
    pub hStdOutput: HANDLE,
    /// `hStdError`.
    pub hStdError: HANDLE,
}

/// `PROCESS_INFORMATION` (CreateProcess's output).
#[repr(C)]
pub struct PROCESS_INFORMATION {
    /// `hProcess`.
    pub hProcess: HANDLE,
    /// `hThread`.
    pub hThread: HANDLE,
    /// `dwProcessId`.
    pub dwProcessId: DWORD,
    /// `dwThreadId`.
    pub dwThreadId: DWORD,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapped_layout_matches_the_sdk() {
        assert_eq!(std::mem::size_of::<OVERLAPPED>(), 32);
        assert_eq!(std::mem::offset_of!(OVERLAPPED, hEvent), 24);
        assert_eq!(std::mem::size_of::<SECURITY_ATTRIBUTES>(), 24);
        assert_eq!(std::mem::size_of::<OVERLAPPED_ENTRY>(), 32);
        assert_eq!(std::mem::size_of::<STARTUPINFOA>(), 104);
        assert_eq!(std::mem::offset_of!(STARTUPINFOA, dwFlags), 60);
        assert_eq!(std::mem::offset_of!(STARTUPINFOA, wShowWindow), 64);
        assert_eq!(std::mem::offset_of!(STARTUPINFOA, lpReserved2), 72);
        assert_eq!(std::mem::offset_of!(STARTUPINFOA, hStdError), 96);
        assert_eq!(std::mem::size_of::<PROCESS_INFORMATION>(), 24);
        assert_eq!(std::mem::offset_of!(PROCESS_INFORMATION, dwThreadId), 20);
    }
}
