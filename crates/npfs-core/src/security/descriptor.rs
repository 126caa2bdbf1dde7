//! Security descriptors: ACEs, ACLs, owner and group, as Windows models them for a pipe
//! (one descriptor per pipe, shared by all its instances).

use super::sid::{well_known, Sid};
use crate::consts::*;

/// An ACE's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AceType {
    /// `A`: ACCESS_ALLOWED_ACE_TYPE.
    Allow,
    /// `D`: ACCESS_DENIED_ACE_TYPE.
    Deny,
    /// `AU`: SYSTEM_AUDIT_ACE_TYPE (kept, never affects access).
    Audit,
    /// `ML`: SYSTEM_MANDATORY_LABEL_ACE_TYPE (kept, never affects access).
    MandatoryLabel,
}

/// ACE flag `OI`: OBJECT_INHERIT_ACE.
pub const OBJECT_INHERIT_ACE: u8 = 0x01;
/// ACE flag `CI`: CONTAINER_INHERIT_ACE.
pub const CONTAINER_INHERIT_ACE: u8 = 0x02;
/// ACE flag `NP`: NO_PROPAGATE_INHERIT_ACE.
pub const NO_PROPAGATE_INHERIT_ACE: u8 = 0x04;
/// ACE flag `IO`: INHERIT_ONLY_ACE (the ACE does not apply to this object).
pub const INHERIT_ONLY_ACE: u8 = 0x08;
/// ACE flag `ID`: INHERITED_ACE.
pub const INHERITED_ACE: u8 = 0x10;
/// ACE flag `SA`: SUCCESSFUL_ACCESS_ACE_FLAG.
pub const SUCCESSFUL_ACCESS_ACE_FLAG: u8 = 0x40;
/// ACE flag `FA`: FAILED_ACCESS_ACE_FLAG.
pub const FAILED_ACCESS_ACE_FLAG: u8 = 0x80;

/// One access control entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ace {
    /// Allow, deny, audit or label.
    pub ace_type: AceType,
    /// The inheritance and audit flags (`OBJECT_INHERIT_ACE`, ...).
    pub flags: u8,
    /// The access mask (generic rights allowed; mapped at check time).
    pub mask: u32,
    /// Whom it is about.
    pub sid: Sid,
}

impl Ace {
    /// An allow ACE.
    pub fn allow(mask: u32, sid: Sid) -> Ace {
        Ace {
            ace_type: AceType::Allow,
            flags: 0,
            mask,
            sid,
        }
    }

    /// A deny ACE.
    pub fn deny(mask: u32, sid: Sid) -> Ace {
        Ace {
            ace_type: AceType::Deny,
            flags: 0,
            mask,
            sid,
        }
    }
}

/// ACL control flags from SDDL (`P`, `AI`, `AR`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AclFlags {
    /// `P`: SE_DACL_PROTECTED / SE_SACL_PROTECTED.
    pub protected: bool,
    /// `AI`: SE_DACL_AUTO_INHERITED.
    pub auto_inherited: bool,
    /// `AR`: SE_DACL_AUTO_INHERIT_REQ.
    pub auto_inherit_req: bool,
}

/// An access control list. `null` is `NO_ACCESS_CONTROL` (a NULL DACL: everyone gets
/// everything); an empty, non-null list denies everyone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Acl {
    /// Control flags.
    pub flags: AclFlags,
    /// `NO_ACCESS_CONTROL`.
    pub null: bool,
    /// The entries, in order.
    pub aces: Vec<Ace>,
}

/// A security descriptor (SECURITY_DESCRIPTOR), self-contained.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SecurityDescriptor {
    /// `O:` the owner.
    pub owner: Option<Sid>,
    /// `G:` the primary group.
    pub group: Option<Sid>,
    /// `D:` the DACL; `None` when absent (which, like a NULL DACL, grants everything).
    pub dacl: Option<Acl>,
    /// `S:` the SACL (kept and formatted; audit and labels are not enforced).
    pub sacl: Option<Acl>,
}

/// The generic mapping of file objects, pipes included (spec/api.md §1, §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenericMapping {
    /// GENERIC_READ →.
    pub read: u32,
    /// GENERIC_WRITE →.
    pub write: u32,
    /// GENERIC_EXECUTE →.
    pub execute: u32,
    /// GENERIC_ALL →.
    pub all: u32,
}

/// `FILE_ALL_ACCESS`.
pub const FILE_ALL_ACCESS: u32 = 0x001F_01FF;
/// `FILE_GENERIC_EXECUTE`.
pub const FILE_GENERIC_EXECUTE: u32 = READ_CONTROL | 0x20 | FILE_READ_ATTRIBUTES | SYNCHRONIZE;
/// `MAXIMUM_ALLOWED`.
pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;

/// The mapping NPFS uses for pipes.
pub const PIPE_MAPPING: GenericMapping = GenericMapping {
    read: FILE_GENERIC_READ,
    write: FILE_GENERIC_WRITE,
    execute: FILE_GENERIC_EXECUTE,
    all: FILE_ALL_ACCESS,
};

impl GenericMapping {
    /// Replace generic bits by the specific rights they stand for (MapGenericMask).
    pub fn map(&self, mask: u32) -> u32 {
        let mut m = mask & !(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL);
        if mask & GENERIC_READ != 0 {
            m |= self.read;
        }
        if mask & GENERIC_WRITE != 0 {
            m |= self.write;
        }
        if mask & GENERIC_EXECUTE != 0 {
            m |= self.execute;
        }
        if mask & GENERIC_ALL != 0 {
            m |= self.all;
        }
        m
    }
}

impl SecurityDescriptor {
    /// The descriptor CreateNamedPipe gives a pipe when `lpSecurityAttributes` is NULL (the
    /// CreateNamedPipe page): full control for LocalSystem, Administrators and the creator
    /// owner; read for Everyone and Anonymous. `owner` is the creator; `group` its primary
    /// group.
    pub fn default_for_pipe(owner: Sid, group: Sid) -> SecurityDescriptor {
        SecurityDescriptor {
            dacl: Some(Acl {
                flags: AclFlags::default(),
                null: false,
                aces: vec![
                    Ace::allow(GENERIC_ALL, well_known::local_system()),
                    Ace::allow(GENERIC_ALL, well_known::administrators()),
                    Ace::allow(GENERIC_ALL, owner.clone()),
                    Ace::allow(GENERIC_READ, well_known::everyone()),
                    Ace::allow(GENERIC_READ, well_known::anonymous()),
                ],
            }),
            owner: Some(owner),
            group: Some(group),
            sacl: None,
        }
    }

    /// Preset: only `user` (and LocalSystem) may do anything.
    pub fn owner_only(user: Sid) -> SecurityDescriptor {
        SecurityDescriptor {
            dacl: Some(Acl {
                flags: AclFlags {
                    protected: true,
                    ..AclFlags::default()
                },
                null: false,
                aces: vec![
                    Ace::allow(GENERIC_ALL, well_known::local_system()),
                    Ace::allow(GENERIC_ALL, user.clone()),
                ],
            }),
            owner: Some(user),
            group: None,
            sacl: None,
        }
    }

    /// Preset: `user` has full control, `group` may connect for reading and writing (but not
    /// create instances: `FILE_CREATE_PIPE_INSTANCE` is left out, as the pipe-security page
    /// advises).
    pub fn user_and_group(user: Sid, group: Sid) -> SecurityDescriptor {
        let mut sd = Self::owner_only(user);
        if let Some(d) = sd.dacl.as_mut() {
            d.aces.push(Ace::allow(CLIENT_READ_WRITE, group.clone()));
        }
        sd.group = Some(group);
        sd
    }

    /// Preset: `user` has full control, everyone may connect for reading and writing (not
    /// create instances).
    pub fn world(user: Sid) -> SecurityDescriptor {
        let mut sd = Self::owner_only(user);
        if let Some(d) = sd.dacl.as_mut() {
            d.aces
                .push(Ace::allow(CLIENT_READ_WRITE, well_known::everyone()));
        }
        sd
    }

    /// Assign this descriptor to a new object created by `owner` / `group`: fill in an absent
    /// owner and group, and replace `CO` / `CG` in the ACEs by them.
    pub fn assign(mut self, owner: &Sid, group: &Sid) -> SecurityDescriptor {
        let co = well_known::creator_owner();
        let cg = well_known::creator_group();
        for acl in [self.dacl.as_mut(), self.sacl.as_mut()]
            .into_iter()
            .flatten()
        {
            for ace in &mut acl.aces {
                if ace.sid == co {
                    ace.sid = owner.clone();
                } else if ace.sid == cg {
                    ace.sid = group.clone();
                }
            }
        }
        self.owner.get_or_insert_with(|| owner.clone());
        self.group.get_or_insert_with(|| group.clone());
        self
    }
}

/// Read and write for clients without FILE_CREATE_PIPE_INSTANCE:
/// FILE_GENERIC_READ | FILE_WRITE_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES.
pub const CLIENT_READ_WRITE: u32 =
    FILE_GENERIC_READ | FILE_WRITE_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES;
