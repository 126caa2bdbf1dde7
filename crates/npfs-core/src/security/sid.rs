//! Security identifiers: the well-known SIDs services use, and Unix users and groups as
//! `S-1-22-1-<uid>` / `S-1-22-2-<gid>` (Samba's mapping).

use std::fmt;

/// A SID: revision 1, a 48-bit identifier authority and up to 15 sub-authorities.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    authority: u64,
    subs: Vec<u32>,
}

/// Most sub-authorities a SID may have (`SID_MAX_SUB_AUTHORITIES`).
pub const MAX_SUB_AUTHORITIES: usize = 15;

impl Sid {
    /// A SID from its identifier authority and sub-authorities; `None` if the authority does
    /// not fit 48 bits or there are more than 15 sub-authorities.
    pub fn new(authority: u64, subs: &[u32]) -> Option<Sid> {
        (authority < (1 << 48) && subs.len() <= MAX_SUB_AUTHORITIES).then(|| Sid {
            authority,
            subs: subs.to_vec(),
        })
    }

    /// The identifier authority.
    pub fn authority(&self) -> u64 {
        self.authority
    }

    /// The sub-authorities.
    pub fn sub_authorities(&self) -> &[u32] {
        &self.subs
    }

    /// `S-1-22-1-<uid>`: a Unix user.
    pub fn unix_user(uid: u32) -> Sid {
        Sid {
            authority: 22,
            subs: vec![1, uid],
        }
    }

    /// `S-1-22-2-<gid>`: a Unix group.
    pub fn unix_group(gid: u32) -> Sid {
        Sid {
            authority: 22,
            subs: vec![2, gid],
        }
    }

    /// The uid if this is `S-1-22-1-<uid>`.
    pub fn as_unix_user(&self) -> Option<u32> {
        match (self.authority, self.subs.as_slice()) {
            (22, [1, uid]) => Some(*uid),
            _ => None,
        }
    }

    /// The gid if this is `S-1-22-2-<gid>`.
    pub fn as_unix_group(&self) -> Option<u32> {
        match (self.authority, self.subs.as_slice()) {
            (22, [2, gid]) => Some(*gid),
            _ => None,
        }
    }

    /// Parse the `S-1-...` form (decimal authority, or `0x` hex for large ones).
    pub fn parse(s: &str) -> Option<Sid> {
        let rest = s.strip_prefix("S-1-").or_else(|| s.strip_prefix("s-1-"))?;
        let mut parts = rest.split('-');
        let auth = parts.next()?;
        let authority = if let Some(h) = auth.strip_prefix("0x").or_else(|| auth.strip_prefix("0X"))
        {
            u64::from_str_radix(h, 16).ok()?
        } else {
            auth.parse::<u64>().ok()?
        };
        let mut subs = Vec::new();
        for p in parts {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            subs.push(p.parse::<u32>().ok()?);
        }
        Sid::new(authority, &subs)
    }

    /// The SDDL alias of a well-known SID (`"WD"`), if it has one.
    pub fn alias(&self) -> Option<&'static str> {
        WELL_KNOWN
            .iter()
            .find(|(_, a, s)| self.authority == *a && self.subs == *s)
            .map(|w| w.0)
    }

    /// The well-known SID of an SDDL alias (`"SY"` → `S-1-5-18`).
    pub fn from_alias(alias: &str) -> Option<Sid> {
        WELL_KNOWN
            .iter()
            .find(|(a, _, _)| a.eq_ignore_ascii_case(alias))
            .map(|(_, auth, subs)| Sid {
                authority: *auth,
                subs: subs.to_vec(),
            })
    }
}

/// SDDL aliases of the well-known SIDs npfs knows: (alias, authority, sub-authorities).
const WELL_KNOWN: &[(&str, u64, &[u32])] = &[
    ("WD", 1, &[0]),
    ("CO", 3, &[0]),
    ("CG", 3, &[1]),
    ("OW", 3, &[4]),
    ("NU", 5, &[2]),
    ("IU", 5, &[4]),
    ("AN", 5, &[7]),
    ("AU", 5, &[11]),
    ("SY", 5, &[18]),
    ("LS", 5, &[19]),
    ("NS", 5, &[20]),
    ("BA", 5, &[32, 544]),
    ("BU", 5, &[32, 545]),
    ("BG", 5, &[32, 546]),
    ("AC", 15, &[2, 1]),
    ("LW", 16, &[4096]),
    ("ME", 16, &[8192]),
    ("HI", 16, &[12288]),
    ("SI", 16, &[16384]),
];

/// Well-known SIDs as constructors.
pub mod well_known {
    use super::Sid;

    fn of(alias: &str) -> Sid {
        Sid::from_alias(alias).unwrap_or(Sid {
            authority: 0,
            subs: vec![0],
        })
    }

    /// `WD`: Everyone (S-1-1-0).
    pub fn everyone() -> Sid {
        of("WD")
    }
    /// `AN`: Anonymous (S-1-5-7).
    pub fn anonymous() -> Sid {
        of("AN")
    }
    /// `AU`: Authenticated Users (S-1-5-11).
    pub fn authenticated_users() -> Sid {
        of("AU")
    }
    /// `SY`: LocalSystem (S-1-5-18).
    pub fn local_system() -> Sid {
        of("SY")
    }
    /// `BA`: Builtin Administrators (S-1-5-32-544).
    pub fn administrators() -> Sid {
        of("BA")
    }
    /// `CO`: Creator Owner (S-1-3-0), replaced by the owner when a descriptor is assigned.
    pub fn creator_owner() -> Sid {
        of("CO")
    }
    /// `CG`: Creator Group (S-1-3-1).
    pub fn creator_group() -> Sid {
        of("CG")
    }
    /// `OW`: Owner Rights (S-1-3-4).
    pub fn owner_rights() -> Sid {
        of("OW")
    }
    /// `IU`: Interactive (S-1-5-4).
    pub fn interactive() -> Sid {
        of("IU")
    }
    /// `NU`: Network (S-1-5-2): remote clients.
    pub fn network() -> Sid {
        of("NU")
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.authority < (1 << 32) {
            write!(f, "S-1-{}", self.authority)?;
        } else {
            write!(f, "S-1-0x{:012X}", self.authority)?;
        }
        for s in &self.subs {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        for s in [
            "S-1-1-0",
            "S-1-5-32-544",
            "S-1-22-1-1000",
            "S-1-5-21-1-2-3-500",
            "S-1-0-0",
        ] {
            assert_eq!(Sid::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(
            Sid::parse("S-1-0x1000000000FF-1").unwrap().to_string(),
            "S-1-0x1000000000FF-1"
        );
        for bad in [
            "S-1",
            "S-2-1-0",
            "S-1-x",
            "S-1-5--1",
            "S-1-5-4294967296",
            "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16",
        ] {
            assert!(Sid::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn aliases() {
        assert_eq!(Sid::from_alias("SY").unwrap().to_string(), "S-1-5-18");
        assert_eq!(Sid::from_alias("ba").unwrap().to_string(), "S-1-5-32-544");
        assert_eq!(Sid::parse("S-1-5-11").unwrap().alias(), Some("AU"));
        assert_eq!(well_known::network().alias(), Some("NU"));
        assert_eq!(Sid::unix_user(1000).as_unix_user(), Some(1000));
        assert_eq!(Sid::unix_group(27).as_unix_group(), Some(27));
        assert_eq!(Sid::unix_group(27).as_unix_user(), None);
    }
}
