//! SECURITY_INFORMATION: which parts of a descriptor GetSecurityInfo / SetSecurityInfo read
//! or write, the rights each needs, and who may become an owner.

use super::access::Token;
use super::descriptor::SecurityDescriptor;
use super::sid::Sid;
use crate::consts::{ACCESS_SYSTEM_SECURITY, READ_CONTROL, WRITE_DAC, WRITE_OWNER};
use crate::error::Win32Error;

/// `OWNER_SECURITY_INFORMATION`.
pub const OWNER_SECURITY_INFORMATION: u32 = 0x1;
/// `GROUP_SECURITY_INFORMATION`.
pub const GROUP_SECURITY_INFORMATION: u32 = 0x2;
/// `DACL_SECURITY_INFORMATION`.
pub const DACL_SECURITY_INFORMATION: u32 = 0x4;
/// `SACL_SECURITY_INFORMATION`.
pub const SACL_SECURITY_INFORMATION: u32 = 0x8;
/// Owner, group and DACL: what `GetSecurityInfo` callers usually ask for.
pub const STANDARD_SECURITY_INFORMATION: u32 =
    OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
/// Every part npfs knows.
pub const ALL_SECURITY_INFORMATION: u32 = STANDARD_SECURITY_INFORMATION | SACL_SECURITY_INFORMATION;

/// `ERROR_INVALID_OWNER` (1307): the SID may not be the owner of an object (the caller is
/// not that user, not a member of that group and not an administrator).
pub const ERROR_INVALID_OWNER: Win32Error = Win32Error(1307);

/// The rights reading `info` needs (NtQuerySecurityObject): `READ_CONTROL` for owner, group
/// and DACL, `ACCESS_SYSTEM_SECURITY` for the SACL.
pub fn access_to_query(info: u32) -> u32 {
    let mut a = 0;
    if info & STANDARD_SECURITY_INFORMATION != 0 {
        a |= READ_CONTROL;
    }
    if info & SACL_SECURITY_INFORMATION != 0 {
        a |= ACCESS_SYSTEM_SECURITY;
    }
    a
}

/// The rights writing `info` needs (NtSetSecurityObject): `WRITE_OWNER` for owner and group,
/// `WRITE_DAC` for the DACL, `ACCESS_SYSTEM_SECURITY` for the SACL.
pub fn access_to_set(info: u32) -> u32 {
    let mut a = 0;
    if info & (OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION) != 0 {
        a |= WRITE_OWNER;
    }
    if info & DACL_SECURITY_INFORMATION != 0 {
        a |= WRITE_DAC;
    }
    if info & SACL_SECURITY_INFORMATION != 0 {
        a |= ACCESS_SYSTEM_SECURITY;
    }
    a
}

/// Check a SECURITY_INFORMATION value: no bits but the four parts, at least one of them.
///
/// # Errors
///
/// `ERROR_INVALID_PARAMETER`.
pub fn check_info(info: u32) -> Result<(), Win32Error> {
    if info == 0 || info & !ALL_SECURITY_INFORMATION != 0 {
        return Err(Win32Error::INVALID_PARAMETER);
    }
    Ok(())
}

impl SecurityDescriptor {
    /// Only the parts of `info` (GetSecurityInfo's output).
    pub fn parts(&self, info: u32) -> SecurityDescriptor {
        SecurityDescriptor {
            owner: self
                .owner
                .clone()
                .filter(|_| info & OWNER_SECURITY_INFORMATION != 0),
            group: self
                .group
                .clone()
                .filter(|_| info & GROUP_SECURITY_INFORMATION != 0),
            dacl: self
                .dacl
                .clone()
                .filter(|_| info & DACL_SECURITY_INFORMATION != 0),
            sacl: self
                .sacl
                .clone()
                .filter(|_| info & SACL_SECURITY_INFORMATION != 0),
        }
    }

    /// SetSecurityInfo: replace the parts of `info` by those of `from`. An owner or group
    /// named in `info` must be present in `from`; an absent DACL or SACL in `from` removes
    /// it (an absent DACL grants everything, as a NULL one).
    ///
    /// # Errors
    ///
    /// `ERROR_INVALID_PARAMETER` for a bad `info` or a missing owner or group;
    /// [`ERROR_INVALID_OWNER`] when `token` may not make the new owner the owner.
    pub fn apply(
        &mut self,
        info: u32,
        from: &SecurityDescriptor,
        token: &Token,
    ) -> Result<(), Win32Error> {
        check_info(info)?;
        if info & OWNER_SECURITY_INFORMATION != 0 {
            let owner = from.owner.as_ref().ok_or(Win32Error::INVALID_PARAMETER)?;
            if !token.may_own(owner) {
                return Err(ERROR_INVALID_OWNER);
            }
        }
        if info & GROUP_SECURITY_INFORMATION != 0 && from.group.is_none() {
            return Err(Win32Error::INVALID_PARAMETER);
        }
        if info & OWNER_SECURITY_INFORMATION != 0 {
            self.owner = from.owner.clone();
        }
        if info & GROUP_SECURITY_INFORMATION != 0 {
            self.group = from.group.clone();
        }
        if info & DACL_SECURITY_INFORMATION != 0 {
            self.dacl = from.dacl.clone();
        }
        if info & SACL_SECURITY_INFORMATION != 0 {
            self.sacl = from.sacl.clone();
        }
        Ok(())
    }
}

impl Token {
    /// Whether this token may name `sid` as an object's owner: its own user, one of its Unix
    /// groups, or anything for LocalSystem and Administrators (who hold
    /// SeRestorePrivilege / SeTakeOwnershipPrivilege on Windows).
    pub fn may_own(&self, sid: &Sid) -> bool {
        self.is_admin()
            || *sid == self.user
            || (sid.as_unix_group().is_some() && self.groups.contains(sid))
    }
}
