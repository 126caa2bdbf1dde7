//! The binary forms Win32 programs hand over: SIDs, ACLs and self-relative security
//! descriptors (SECURITY_DESCRIPTOR_RELATIVE), as `ConvertStringSecurityDescriptorTo...`,
//! `GetSecurityInfo` and `SECURITY_ATTRIBUTES.lpSecurityDescriptor` carry them. Decoding never
//! trusts a length or offset it was given.

use super::descriptor::*;
use super::sid::{Sid, MAX_SUB_AUTHORITIES};
use crate::error::Win32Error;

/// `SE_DACL_PRESENT`.
pub const SE_DACL_PRESENT: u16 = 0x0004;
/// `SE_SACL_PRESENT`.
pub const SE_SACL_PRESENT: u16 = 0x0010;
/// `SE_DACL_AUTO_INHERIT_REQ`.
pub const SE_DACL_AUTO_INHERIT_REQ: u16 = 0x0100;
/// `SE_SACL_AUTO_INHERIT_REQ`.
pub const SE_SACL_AUTO_INHERIT_REQ: u16 = 0x0200;
/// `SE_DACL_AUTO_INHERITED`.
pub const SE_DACL_AUTO_INHERITED: u16 = 0x0400;
/// `SE_SACL_AUTO_INHERITED`.
pub const SE_SACL_AUTO_INHERITED: u16 = 0x0800;
/// `SE_DACL_PROTECTED`.
pub const SE_DACL_PROTECTED: u16 = 0x1000;
/// `SE_SACL_PROTECTED`.
pub const SE_SACL_PROTECTED: u16 = 0x2000;
/// `SE_SELF_RELATIVE`.
pub const SE_SELF_RELATIVE: u16 = 0x8000;

fn bad() -> Win32Error {
    Win32Error(1338) // ERROR_INVALID_SECURITY_DESCR
}

impl Sid {
    /// The binary SID.
    pub fn to_bytes(&self) -> Vec<u8> {
        let subs = self.sub_authorities();
        let mut v = vec![1u8, subs.len() as u8];
        v.extend_from_slice(&self.authority().to_be_bytes()[2..]);
        for s in subs {
            v.extend_from_slice(&s.to_le_bytes());
        }
        v
    }

    /// Parse a binary SID at the start of `b`; returns it and its length.
    pub fn from_bytes(b: &[u8]) -> Result<(Sid, usize), Win32Error> {
        if b.len() < 8 || b[0] != 1 || b[1] as usize > MAX_SUB_AUTHORITIES {
            return Err(Win32Error(1337)); // ERROR_INVALID_SID
        }
        let n = b[1] as usize;
        let len = 8 + 4 * n;
        if b.len() < len {
            return Err(Win32Error(1337));
        }
        let mut auth = [0u8; 8];
        auth[2..].copy_from_slice(&b[2..8]);
        let subs: Vec<u32> = (0..n)
            .map(|i| u32::from_le_bytes([b[8 + 4 * i], b[9 + 4 * i], b[10 + 4 * i], b[11 + 4 * i]]))
            .collect();
        let sid = Sid::new(u64::from_be_bytes(auth), &subs).ok_or(Win32Error(1337))?;
        Ok((sid, len))
    }
}

fn ace_type_code(t: AceType) -> u8 {
    match t {
        AceType::Allow => 0,
        AceType::Deny => 1,
        AceType::Audit => 2,
        AceType::MandatoryLabel => 0x11,
    }
}

impl Acl {
    /// The binary ACL (revision 2).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut aces = Vec::new();
        for a in &self.aces {
            let sid = a.sid.to_bytes();
            let size = (8 + sid.len()) as u16;
            aces.push(ace_type_code(a.ace_type));
            aces.push(a.flags);
            aces.extend_from_slice(&size.to_le_bytes());
            aces.extend_from_slice(&a.mask.to_le_bytes());
            aces.extend_from_slice(&sid);
        }
        let size = (8 + aces.len()) as u16;
        let mut v = vec![2u8, 0];
        v.extend_from_slice(&size.to_le_bytes());
        v.extend_from_slice(&(self.aces.len() as u16).to_le_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend(aces);
        v
    }

    /// Parse a binary ACL at the start of `b`.
    pub fn from_bytes(b: &[u8]) -> Result<Acl, Win32Error> {
        let inval = Win32Error(1336); // ERROR_INVALID_ACL
        if b.len() < 8 || !(2..=4).contains(&b[0]) {
            return Err(inval);
        }
        let size = u16::from_le_bytes([b[2], b[3]]) as usize;
        let count = u16::from_le_bytes([b[4], b[5]]) as usize;
        if size < 8 || size > b.len() {
            return Err(inval);
        }
        let body = &b[..size];
        let mut off = 8;
        let mut aces = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            if off + 8 > body.len() {
                return Err(inval);
            }
            let t = body[off];
            let flags = body[off + 1];
            let ace_size = u16::from_le_bytes([body[off + 2], body[off + 3]]) as usize;
            if ace_size < 16 || off + ace_size > body.len() {
                return Err(inval);
            }
            let mask =
                u32::from_le_bytes([body[off + 4], body[off + 5], body[off + 6], body[off + 7]]);
            let (sid, _) = Sid::from_bytes(&body[off + 8..off + ace_size])?;
            let ace_type = match t {
                0 => AceType::Allow,
                1 => AceType::Deny,
                2 => AceType::Audit,
                0x11 => AceType::MandatoryLabel,
                _ => return Err(inval),
            };
            aces.push(Ace {
                ace_type,
                flags,
                mask,
                sid,
            });
            off += ace_size;
        }
        Ok(Acl {
            flags: AclFlags::default(),
            null: false,
            aces,
        })
    }
}

impl SecurityDescriptor {
    /// The self-relative binary descriptor (SECURITY_DESCRIPTOR_RELATIVE).
    pub fn to_self_relative(&self) -> Vec<u8> {
        let mut control = SE_SELF_RELATIVE;
        let mut tail = Vec::new();
        let mut place = |bytes: Vec<u8>| -> u32 {
            let off = 20 + tail.len();
            tail.extend(bytes);
            off as u32
        };
        let owner = self.owner.as_ref().map_or(0, |s| place(s.to_bytes()));
        let group = self.group.as_ref().map_or(0, |s| place(s.to_bytes()));
        let mut acl_off = |acl: &Option<Acl>,
                           present: u16,
                           prot: u16,
                           ai: u16,
                           ar: u16,
                           control: &mut u16|
         -> u32 {
            let Some(a) = acl else { return 0 };
            *control |= present;
            if a.flags.protected {
                *control |= prot;
            }
            if a.flags.auto_inherited {
                *control |= ai;
            }
            if a.flags.auto_inherit_req {
                *control |= ar;
            }
            if a.null {
                0
            } else {
                place(a.to_bytes())
            }
        };
        let sacl = acl_off(
            &self.sacl,
            SE_SACL_PRESENT,
            SE_SACL_PROTECTED,
            SE_SACL_AUTO_INHERITED,
            SE_SACL_AUTO_INHERIT_REQ,
            &mut control,
        );
        let dacl = acl_off(
            &self.dacl,
            SE_DACL_PRESENT,
            SE_DACL_PROTECTED,
            SE_DACL_AUTO_INHERITED,
            SE_DACL_AUTO_INHERIT_REQ,
            &mut control,
        );
        let mut v = vec![1u8, 0];
        v.extend_from_slice(&control.to_le_bytes());
        for o in [owner, group, sacl, dacl] {
            v.extend_from_slice(&o.to_le_bytes());
        }
        v.extend(tail);
        v
    }

    /// Parse a self-relative binary descriptor.
    pub fn from_self_relative(b: &[u8]) -> Result<SecurityDescriptor, Win32Error> {
        if b.len() < 20 || b[0] != 1 {
            return Err(bad());
        }
        let control = u16::from_le_bytes([b[2], b[3]]);
        if control & SE_SELF_RELATIVE == 0 {
            return Err(bad());
        }
        let off = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
        let at = |o: usize| -> Result<&[u8], Win32Error> {
            b.get(o..).filter(|_| o >= 20).ok_or_else(bad)
        };
        let sid_at = |o: usize| -> Result<Option<Sid>, Win32Error> {
            if o == 0 {
                return Ok(None);
            }
            Ok(Some(Sid::from_bytes(at(o)?)?.0))
        };
        let acl_at = |o: usize,
                      present: u16,
                      prot: u16,
                      ai: u16,
                      ar: u16|
         -> Result<Option<Acl>, Win32Error> {
            if control & present == 0 {
                return Ok(None);
            }
            let mut acl = if o == 0 {
                Acl {
                    null: true,
                    ..Acl::default()
                }
            } else {
                Acl::from_bytes(at(o)?)?
            };
            acl.flags = AclFlags {
                protected: control & prot != 0,
                auto_inherited: control & ai != 0,
                auto_inherit_req: control & ar != 0,
            };
            Ok(Some(acl))
        };
        Ok(SecurityDescriptor {
            owner: sid_at(off(4))?,
            group: sid_at(off(8))?,
            sacl: acl_at(
                off(12),
                SE_SACL_PRESENT,
                SE_SACL_PROTECTED,
                SE_SACL_AUTO_INHERITED,
                SE_SACL_AUTO_INHERIT_REQ,
            )?,
            dacl: acl_at(
                off(16),
                SE_DACL_PRESENT,
                SE_DACL_PROTECTED,
                SE_DACL_AUTO_INHERITED,
                SE_DACL_AUTO_INHERIT_REQ,
            )?,
        })
    }
}
