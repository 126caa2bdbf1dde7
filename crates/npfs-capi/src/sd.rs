//! SECURITY_ATTRIBUTES' descriptor read from C memory (absolute or self-relative) into
//! npfs-core's `SecurityDescriptor`: what CreateNamedPipe and SetSecurityInfo take.

use std::ffi::c_void;

use npfs_core::security::{Acl, SecurityDescriptor, Sid};
use npfs_lib::Win32Error;

use crate::types::*;

/// `ERROR_INVALID_SECURITY_DESCR`.
const ERROR_INVALID_SECURITY_DESCR: DWORD = 1338;

pub(crate) unsafe fn sid_at(p: *const u8) -> Result<Option<Sid>, Win32Error> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: a SID header is 8 bytes; its sub-authority count says how many follow.
    let n = unsafe { *p.add(1) } as usize;
    // SAFETY: the caller's SID of 8 + 4n bytes.
    let b = unsafe { std::slice::from_raw_parts(p, 8 + 4 * n.min(15)) };
    Ok(Some(Sid::from_bytes(b)?.0))
}

pub(crate) unsafe fn acl_at(p: *const u8) -> Result<Acl, Win32Error> {
    // SAFETY: an ACL header is 8 bytes; AclSize says the whole length.
    let size = unsafe { u16::from_le_bytes([*p.add(2), *p.add(3)]) } as usize;
    // SAFETY: the caller's ACL of AclSize bytes.
    Acl::from_bytes(unsafe { std::slice::from_raw_parts(p, size.max(8)) })
}

/// Read a SECURITY_DESCRIPTOR the caller passes: self-relative, or absolute (the 64-bit
/// layout: Revision, Sbz1, Control, then four pointers at 8, 16, 24, 32).
///
/// # Safety
/// `p` points to a valid descriptor.
pub unsafe fn read_descriptor(p: *const c_void) -> Result<SecurityDescriptor, Win32Error> {
    let b = p.cast::<u8>();
    // SAFETY: every descriptor starts with Revision, Sbz1, Control.
    let (rev, control) = unsafe { (*b, u16::from_le_bytes([*b.add(2), *b.add(3)])) };
    if rev != 1 {
        return Err(Win32Error(ERROR_INVALID_SECURITY_DESCR));
    }
    if control & SE_SELF_RELATIVE != 0 {
        // Its length: the end of the furthest part.
        // SAFETY: the 20-byte relative header.
        let head = unsafe { std::slice::from_raw_parts(b, 20) };
        let off = |i: usize| {
            u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]) as usize
        };
        let mut end = 20;
        for (i, is_acl) in [(4, false), (8, false), (12, true), (16, true)] {
            let o = off(i);
            if o == 0 {
                continue;
            }
            // SAFETY: a part at offset `o` of the caller's descriptor.
            let len = unsafe {
                if is_acl {
                    u16::from_le_bytes([*b.add(o + 2), *b.add(o + 3)]) as usize
                } else {
                    8 + 4 * (*b.add(o + 1) as usize).min(15)
                }
            };
            end = end.max(o + len);
        }
        // SAFETY: the descriptor spans `end` bytes.
        return SecurityDescriptor::from_self_relative(unsafe {
            std::slice::from_raw_parts(b, end)
        });
    }
    // SAFETY: the absolute layout's pointers.
    let ptr = |off: usize| unsafe { std::ptr::read_unaligned(b.add(off).cast::<*const u8>()) };
    let present = |bit: u16| control & bit != 0;
    let flags = |prot: u16, ai: u16, ar: u16| npfs_core::security::AclFlags {
        protected: control & prot != 0,
        auto_inherited: control & ai != 0,
        auto_inherit_req: control & ar != 0,
    };
    let read_acl = |p: *const u8, bits: (u16, u16, u16)| -> Result<Acl, Win32Error> {
        let mut a = if p.is_null() {
            Acl {
                null: true,
                ..Acl::default()
            }
        } else {
            // SAFETY: the caller's ACL.
            unsafe { acl_at(p)? }
        };
        a.flags = flags(bits.0, bits.1, bits.2);
        Ok(a)
    };
    use npfs_core::security::*;
    Ok(SecurityDescriptor {
        // SAFETY: the caller's SIDs.
        owner: unsafe { sid_at(ptr(8))? },
        // SAFETY: as above.
        group: unsafe { sid_at(ptr(16))? },
        sacl: if present(SE_SACL_PRESENT) {
            Some(read_acl(
                ptr(24),
                (
                    SE_SACL_PROTECTED,
                    SE_SACL_AUTO_INHERITED,
                    SE_SACL_AUTO_INHERIT_REQ,
                ),
            )?)
        } else {
            None
        },
        dacl: if present(SE_DACL_PRESENT) {
            Some(read_acl(
                ptr(32),
                (
                    SE_DACL_PROTECTED,
                    SE_DACL_AUTO_INHERITED,
                    SE_DACL_AUTO_INHERIT_REQ,
                ),
            )?)
        } else {
            None
        },
    })
}
