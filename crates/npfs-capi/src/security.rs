//! Security in the C ABI: SECURITY_ATTRIBUTES' descriptor (absolute or self-relative), SDDL
//! conversions (sddl.h), GetSecurityInfo / SetSecurityInfo on pipe handles (aclapi.h),
//! LocalAlloc / LocalFree for what they return.

use std::ffi::{c_char, c_void, CStr};

use npfs_core::security::{Acl, NameResolver, SecurityDescriptor};
use npfs_lib::Win32Error;

use crate::error::*;
use crate::handles;
use crate::pipes::PipeObj;
use crate::sd::{acl_at, read_descriptor, sid_at};
use crate::types::*;

/// SDDL names through the system's user and group databases.
pub struct SystemNames;

impl NameResolver for SystemNames {
    fn user(&self, name: &str) -> Option<u32> {
        let c = std::ffi::CString::new(name).ok()?;
        // SAFETY: getpwnam with a NUL-terminated name; the result is read at once.
        let pw = unsafe { libc::getpwnam(c.as_ptr()) };
        // SAFETY: a non-null result points to a valid passwd.
        (!pw.is_null()).then(|| unsafe { (*pw).pw_uid })
    }
    fn group(&self, name: &str) -> Option<u32> {
        let c = std::ffi::CString::new(name).ok()?;
        // SAFETY: as above, for groups.
        let gr = unsafe { libc::getgrnam(c.as_ptr()) };
        // SAFETY: a non-null result points to a valid group.
        (!gr.is_null()).then(|| unsafe { (*gr).gr_gid })
    }
}

fn alloc_copy(bytes: &[u8]) -> *mut c_void {
    // SAFETY: plain allocation, filled below; freed with LocalFree.
    let p = unsafe { libc::malloc(bytes.len().max(1)) }.cast::<u8>();
    if !p.is_null() {
        // SAFETY: `p` has room for `bytes`.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
    }
    p.cast()
}

/// LocalAlloc (LMEM_FIXED; LMEM_ZEROINIT zeroes).
#[no_mangle]
pub extern "C" fn LocalAlloc(flags: u32, size: usize) -> *mut c_void {
    crate::misc::GlobalAlloc(flags, size)
}

/// LocalFree: NULL on success.
#[no_mangle]
pub unsafe extern "C" fn LocalFree(p: *mut c_void) -> *mut c_void {
    // SAFETY: `p` came from LocalAlloc or a function documented to return LocalFree memory.
    unsafe { libc::free(p) };
    std::ptr::null_mut()
}

unsafe fn string_to_sd(s: Option<String>, out: *mut *mut c_void, size: *mut u32) -> BOOL {
    let Some(s) = s else {
        return fail(ERROR_INVALID_PARAMETER);
    };
    if out.is_null() {
        return fail(ERROR_INVALID_PARAMETER);
    }
    match SecurityDescriptor::from_sddl(&s, &SystemNames) {
        Ok(sd) => {
            let b = sd.to_self_relative();
            // SAFETY: the caller's out-pointers (out checked, size optional).
            unsafe {
                *out = alloc_copy(&b);
                if !size.is_null() {
                    *size = b.len() as u32;
                }
            }
            TRUE
        }
        Err(e) => fail(e.0),
    }
}

/// ConvertStringSecurityDescriptorToSecurityDescriptorA (free the result with LocalFree).
#[no_mangle]
pub unsafe extern "C" fn ConvertStringSecurityDescriptorToSecurityDescriptorA(
    s: *const c_char,
    _rev: DWORD,
    out: *mut *mut c_void,
    size: *mut u32,
) -> BOOL {
    guard(FALSE, || {
        // SAFETY: a NUL-terminated string or NULL.
        let s = (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned());
        // SAFETY: forwarded out-pointers.
        unsafe { string_to_sd(s, out, size) }
    })
}

/// ConvertStringSecurityDescriptorToSecurityDescriptorW.
#[no_mangle]
pub unsafe extern "C" fn ConvertStringSecurityDescriptorToSecurityDescriptorW(
    s: *const u16,
    _rev: DWORD,
    out: *mut *mut c_void,
    size: *mut u32,
) -> BOOL {
    guard(FALSE, || {
        // SAFETY: a NUL-terminated UTF-16 string or NULL.
        let s = unsafe { wide(s) };
        // SAFETY: forwarded out-pointers.
        unsafe { string_to_sd(s, out, size) }
    })
}

unsafe fn wide(p: *const u16) -> Option<String> {
    if p.is_null() {
        return None;
    }
    let mut n = 0;
    // SAFETY: NUL-terminated.
    unsafe {
        while *p.add(n) != 0 {
            n += 1;
        }
        Some(String::from_utf16_lossy(std::slice::from_raw_parts(p, n)))
    }
}

fn only(sd: SecurityDescriptor, info: u32) -> SecurityDescriptor {
    SecurityDescriptor {
        owner: sd.owner.filter(|_| info & 1 != 0),
        group: sd.group.filter(|_| info & 2 != 0),
        dacl: sd.dacl.filter(|_| info & 4 != 0),
        sacl: sd.sacl.filter(|_| info & 8 != 0),
    }
}

/// ConvertSecurityDescriptorToStringSecurityDescriptorA.
#[no_mangle]
pub unsafe extern "C" fn ConvertSecurityDescriptorToStringSecurityDescriptorA(
    sd: *const c_void,
    _rev: DWORD,
    info: DWORD,
    out: *mut *mut c_char,
    len: *mut u32,
) -> BOOL {
    guard(FALSE, || {
        if sd.is_null() || out.is_null() {
            return fail(ERROR_INVALID_PARAMETER);
        }
        // SAFETY: the caller's descriptor.
        match unsafe { read_descriptor(sd) } {
            Ok(d) => {
                let mut s = only(d, info).to_sddl().into_bytes();
                s.push(0);
                // SAFETY: the caller's out-pointers.
                unsafe {
                    *out = alloc_copy(&s).cast();
                    if !len.is_null() {
                        *len = s.len() as u32;
                    }
                }
                TRUE
            }
            Err(e) => fail(e.0),
        }
    })
}

/// ConvertSecurityDescriptorToStringSecurityDescriptorW.
#[no_mangle]
pub unsafe extern "C" fn ConvertSecurityDescriptorToStringSecurityDescriptorW(
    sd: *const c_void,
    _rev: DWORD,
    info: DWORD,
    out: *mut *mut u16,
    len: *mut u32,
) -> BOOL {
    guard(FALSE, || {
        if sd.is_null() || out.is_null() {
            return fail(ERROR_INVALID_PARAMETER);
        }
        // SAFETY: the caller's descriptor.
        match unsafe { read_descriptor(sd) } {
            Ok(d) => {
                let mut w: Vec<u16> = only(d, info).to_sddl().encode_utf16().collect();
                w.push(0);
                let bytes: Vec<u8> = w.iter().flat_map(|u| u.to_le_bytes()).collect();
                // SAFETY: the caller's out-pointers.
                unsafe {
                    *out = alloc_copy(&bytes).cast();
                    if !len.is_null() {
                        *len = w.len() as u32;
                    }
                }
                TRUE
            }
            Err(e) => fail(e.0),
        }
    })
}

fn pipe(h: HANDLE) -> Result<std::sync::Arc<PipeObj>, DWORD> {
    handles::get_as::<PipeObj>(h).ok_or(ERROR_INVALID_HANDLE)
}

/// GetSecurityInfo on a pipe handle: returns a Win32 code (0 on success); the parts asked for
/// point into `*sd`, one LocalFree block.
#[no_mangle]
pub unsafe extern "C" fn GetSecurityInfo(
    h: HANDLE,
    _objtype: u32,
    info: DWORD,
    owner: *mut *mut c_void,
    group: *mut *mut c_void,
    dacl: *mut *mut c_void,
    sacl: *mut *mut c_void,
    sd: *mut *mut c_void,
) -> DWORD {
    guard(ERROR_INTERNAL_ERROR, || {
        let obj = match pipe(h) {
            Ok(o) => o,
            Err(e) => return e,
        };
        let d = match obj.handle().security(info) {
            Ok(d) => only(d, info),
            Err(e) => return e.0,
        };
        let b = d.to_self_relative();
        let block = alloc_copy(&b).cast::<u8>();
        if block.is_null() {
            return ERROR_NOT_ENOUGH_MEMORY;
        }
        let off = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
        // SAFETY: the caller's optional out-pointers; the parts lie inside `block`.
        unsafe {
            for (p, o) in [
                (owner, off(4)),
                (group, off(8)),
                (sacl, off(12)),
                (dacl, off(16)),
            ] {
                if !p.is_null() {
                    *p = if o == 0 {
                        std::ptr::null_mut()
                    } else {
                        block.add(o).cast()
                    };
                }
            }
            if !sd.is_null() {
                *sd = block.cast();
            } else {
                // Without ppSecurityDescriptor the caller cannot free the block; Windows
                // returns the parts anyway (and leaks). Keep it alive the same way.
            }
        }
        0
    })
}

/// SetSecurityInfo on a pipe handle: returns a Win32 code (0 on success).
#[no_mangle]
pub unsafe extern "C" fn SetSecurityInfo(
    h: HANDLE,
    _objtype: u32,
    info: DWORD,
    owner: *const c_void,
    group: *const c_void,
    dacl: *const c_void,
    sacl: *const c_void,
) -> DWORD {
    guard(ERROR_INTERNAL_ERROR, || {
        let obj = match pipe(h) {
            Ok(o) => o,
            Err(e) => return e,
        };
        // SAFETY (all reads): the caller's SIDs and ACLs, per the API contract.
        let built = (|| -> Result<SecurityDescriptor, Win32Error> {
            Ok(SecurityDescriptor {
                owner: if info & 1 != 0 {
                    unsafe { sid_at(owner.cast())? }
                } else {
                    None
                },
                group: if info & 2 != 0 {
                    unsafe { sid_at(group.cast())? }
                } else {
                    None
                },
                dacl: if info & 4 != 0 {
                    Some(if dacl.is_null() {
                        Acl {
                            null: true,
                            ..Acl::default()
                        }
                    } else {
                        unsafe { acl_at(dacl.cast())? }
                    })
                } else {
                    None
                },
                sacl: if info & 8 != 0 && !sacl.is_null() {
                    Some(unsafe { acl_at(sacl.cast())? })
                } else {
                    None
                },
            })
        })();
        match built.and_then(|sd| obj.handle().set_security(info, &sd)) {
            Ok(()) => 0,
            Err(e) => e.0,
        }
    })
}

/// GetSecurityDescriptorDacl: where the DACL of a descriptor is (a pointer into it).
#[no_mangle]
pub unsafe extern "C" fn GetSecurityDescriptorDacl(
    sd: *const c_void,
    present: *mut BOOL,
    dacl: *mut *const c_void,
    defaulted: *mut BOOL,
) -> BOOL {
    guard(FALSE, || {
        if sd.is_null() || present.is_null() || dacl.is_null() {
            return fail(ERROR_INVALID_PARAMETER);
        }
        let b = sd.cast::<u8>();
        // SAFETY: every descriptor starts with Revision, Sbz1, Control.
        let control = unsafe { u16::from_le_bytes([*b.add(2), *b.add(3)]) };
        let has = control & npfs_core::security::SE_DACL_PRESENT != 0;
        // SAFETY: the caller's descriptor and out-pointers (checked non-null).
        unsafe {
            *present = BOOL::from(has);
            *dacl = if !has {
                std::ptr::null()
            } else if control & npfs_core::security::SE_SELF_RELATIVE != 0 {
                let off =
                    u32::from_le_bytes([*b.add(16), *b.add(17), *b.add(18), *b.add(19)]) as usize;
                if off == 0 {
                    std::ptr::null()
                } else {
                    b.add(off).cast()
                }
            } else {
                std::ptr::read_unaligned(b.add(32).cast::<*const c_void>())
            };
            if !defaulted.is_null() {
                *defaulted = BOOL::from(control & 0x8 != 0);
            }
        }
        TRUE
    })
}
