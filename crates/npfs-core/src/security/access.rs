//! Tokens made from Unix credentials, and the access check (AccessCheck for pipes).

use super::descriptor::*;
use super::sid::{well_known, Sid};
use crate::consts::*;
use crate::error::Win32Error;

/// The identity a check is made for (a Windows access token, built from kernel credentials).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The user: `S-1-22-1-<uid>`, or a well-known SID.
    pub user: Sid,
    /// The primary group.
    pub primary_group: Sid,
    /// Every group the token is a member of (the primary group included).
    pub groups: Vec<Sid>,
}

impl Token {
    /// The token of a local Unix process: its user and groups, Everyone, Authenticated Users
    /// and Interactive; root is LocalSystem and an Administrator; a member of any of
    /// `admin_gids` (the configurable group, `sudo` or `wheel` by default) is an Administrator.
    pub fn from_unix(uid: u32, gid: u32, supplementary: &[u32], admin_gids: &[u32]) -> Token {
        let mut groups = vec![Sid::unix_group(gid)];
        for g in supplementary {
            let s = Sid::unix_group(*g);
            if !groups.contains(&s) {
                groups.push(s);
            }
        }
        groups.push(well_known::everyone());
        groups.push(well_known::authenticated_users());
        groups.push(well_known::interactive());
        let admin = uid == 0
            || std::iter::once(&gid)
                .chain(supplementary)
                .any(|g| admin_gids.contains(g));
        if uid == 0 {
            groups.push(well_known::local_system());
        }
        if admin {
            groups.push(well_known::administrators());
        }
        Token {
            user: Sid::unix_user(uid),
            primary_group: Sid::unix_group(gid),
            groups,
        }
    }

    /// The token of an authenticated remote client (a future SMB bridge vouches for the
    /// user): as [`Token::from_unix`], but Network (`NU`) instead of Interactive (`IU`).
    pub fn remote(uid: u32, gid: u32, supplementary: &[u32], admin_gids: &[u32]) -> Token {
        let mut t = Token::from_unix(uid, gid, supplementary, admin_gids);
        let iu = well_known::interactive();
        for g in &mut t.groups {
            if *g == iu {
                *g = well_known::network();
            }
        }
        t
    }

    /// The token of an anonymous remote client (SMB null session): Anonymous, Everyone,
    /// Network.
    pub fn anonymous_remote() -> Token {
        Token {
            user: well_known::anonymous(),
            primary_group: well_known::anonymous(),
            groups: vec![well_known::everyone(), well_known::network()],
        }
    }

    /// Whether the token holds `sid` (as its user or one of its groups).
    pub fn has(&self, sid: &Sid) -> bool {
        &self.user == sid || self.groups.contains(sid)
    }

    /// LocalSystem or a member of Administrators.
    pub fn is_admin(&self) -> bool {
        self.is_system() || self.has(&well_known::administrators())
    }

    /// A remote client (member of Network, `NU`).
    pub fn is_remote(&self) -> bool {
        self.has(&well_known::network())
    }

    /// LocalSystem (root).
    pub fn is_system(&self) -> bool {
        self.has(&well_known::local_system())
    }
}

/// AccessCheck: the rights of `desired` (generic bits mapped with `mapping`; `MAXIMUM_ALLOWED`
/// asks for everything the DACL grants) that `token` gets from `sd`, or
/// `ERROR_ACCESS_DENIED` if any asked-for right is not granted. ACEs apply in order; a deny
/// ACE for an asked-for right that is not yet granted denies; inherit-only ACEs are skipped;
/// the owner holds READ_CONTROL and WRITE_DAC unless an OWNER RIGHTS ACE says otherwise;
/// LocalSystem and Administrators hold WRITE_OWNER (SeTakeOwnershipPrivilege) when they ask
/// for it; a
/// NULL or absent DACL grants everything; `ACCESS_SYSTEM_SECURITY` needs LocalSystem.
pub fn access_check(
    sd: &SecurityDescriptor,
    token: &Token,
    desired: u32,
    mapping: &GenericMapping,
) -> Result<u32, Win32Error> {
    let maximum = desired & MAXIMUM_ALLOWED != 0;
    let wanted = mapping.map(desired & !MAXIMUM_ALLOWED);
    if wanted & ACCESS_SYSTEM_SECURITY != 0 && !token.is_system() {
        return Err(Win32Error::ACCESS_DENIED);
    }
    let wanted_dacl = wanted & !ACCESS_SYSTEM_SECURITY;
    let all = mapping.all
        | if token.is_system() {
            ACCESS_SYSTEM_SECURITY
        } else {
            0
        };
    let dacl = match &sd.dacl {
        None => return Ok(if maximum { all } else { wanted }),
        Some(d) if d.null => return Ok(if maximum { all } else { wanted }),
        Some(d) => d,
    };
    let owner_rights = well_known::owner_rights();
    let is_owner = sd.owner.as_ref().is_some_and(|o| token.has(o));
    let mut granted = 0u32;
    let mut denied = 0u32;
    if is_owner && !dacl.aces.iter().any(|a| a.sid == owner_rights) {
        granted |= READ_CONTROL | WRITE_DAC;
    }
    // SeTakeOwnershipPrivilege: LocalSystem and Administrators may always take ownership.
    if token.is_admin() && wanted_dacl & WRITE_OWNER != 0 {
        granted |= WRITE_OWNER;
    }
    for ace in &dacl.aces {
        if ace.flags & INHERIT_ONLY_ACE != 0 {
            continue;
        }
        let applies = token.has(&ace.sid) || (is_owner && ace.sid == owner_rights);
        if !applies {
            continue;
        }
        let m = mapping.map(ace.mask);
        match ace.ace_type {
            AceType::Allow => granted |= m & !denied,
            AceType::Deny => denied |= m & !granted,
            AceType::Audit | AceType::MandatoryLabel => {}
        }
        if !maximum && wanted_dacl & !granted == 0 {
            break;
        }
        if !maximum && wanted_dacl & denied != 0 {
            return Err(Win32Error::ACCESS_DENIED);
        }
    }
    let extra = wanted & ACCESS_SYSTEM_SECURITY;
    if maximum {
        if granted == 0 && wanted_dacl == 0 {
            return Err(Win32Error::ACCESS_DENIED);
        }
        if wanted_dacl & !granted != 0 {
            return Err(Win32Error::ACCESS_DENIED);
        }
        return Ok(granted | extra);
    }
    if wanted_dacl & !granted != 0 {
        return Err(Win32Error::ACCESS_DENIED);
    }
    Ok(wanted)
}
