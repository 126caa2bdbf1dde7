//! SDDL: parse and format the subset services use for pipes
//! (`O:..G:..D:P(A;;GA;;;SY)(A;;GRGW;;;AU)`, hex masks, SID strings, aliases, user and group
//! names through a [`NameResolver`]).

use super::descriptor::*;
use super::sid::Sid;
use crate::error::Win32Error;

/// Looks up Unix user and group names (the broker answers from the system's databases; the
/// core stays free of I/O).
pub trait NameResolver {
    /// The uid of user `name`.
    fn user(&self, name: &str) -> Option<u32>;
    /// The gid of group `name`.
    fn group(&self, name: &str) -> Option<u32>;
}

/// A resolver that knows no names.
pub struct NoNames;

impl NameResolver for NoNames {
    fn user(&self, _: &str) -> Option<u32> {
        None
    }
    fn group(&self, _: &str) -> Option<u32> {
        None
    }
}

/// Longest SDDL string accepted (bounds the work a hostile string can cause).
pub const MAX_SDDL_LEN: usize = 64 * 1024;

/// Rights aliases: the combined ones first (they are what formatting prefers).
const RIGHTS: &[(&str, u32)] = &[
    ("FA", FILE_ALL_ACCESS),
    ("FR", 0x0012_0089),
    ("FW", 0x0012_0116),
    ("FX", 0x0012_00A0),
    ("GA", 0x1000_0000),
    ("GR", 0x8000_0000),
    ("GW", 0x4000_0000),
    ("GX", 0x2000_0000),
    ("RC", 0x0002_0000),
    ("SD", 0x0001_0000),
    ("WD", 0x0004_0000),
    ("WO", 0x0008_0000),
    ("RP", 0x10),
    ("WP", 0x20),
    ("CC", 0x1),
    ("DC", 0x2),
    ("LC", 0x4),
    ("SW", 0x8),
    ("LO", 0x80),
    ("DT", 0x40),
    ("CR", 0x100),
];

const LABEL_RIGHTS: &[(&str, u32)] = &[("NW", 0x1), ("NR", 0x2), ("NX", 0x4)];

const ACE_FLAGS: &[(&str, u8)] = &[
    ("OI", OBJECT_INHERIT_ACE),
    ("CI", CONTAINER_INHERIT_ACE),
    ("NP", NO_PROPAGATE_INHERIT_ACE),
    ("IO", INHERIT_ONLY_ACE),
    ("ID", INHERITED_ACE),
    ("SA", SUCCESSFUL_ACCESS_ACE_FLAG),
    ("FA", FAILED_ACCESS_ACE_FLAG),
];

fn bad() -> Win32Error {
    Win32Error::INVALID_PARAMETER
}

fn parse_sid(s: &str, names: &dyn NameResolver) -> Result<Sid, Win32Error> {
    let s = s.trim();
    if s.len() == 2 {
        if let Some(sid) = Sid::from_alias(s) {
            return Ok(sid);
        }
    }
    if s.len() > 2 && s.as_bytes()[..2].eq_ignore_ascii_case(b"S-") {
        return Sid::parse(s).ok_or_else(bad);
    }
    if s.is_empty() {
        return Err(bad());
    }
    if let Some(uid) = names.user(s) {
        return Ok(Sid::unix_user(uid));
    }
    if let Some(gid) = names.group(s) {
        return Ok(Sid::unix_group(gid));
    }
    Err(bad())
}

fn parse_two_letter_list<T: Copy>(
    s: &str,
    table: &[(&str, T)],
    mut add: impl FnMut(T),
) -> Result<(), Win32Error> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return Err(bad());
    }
    for i in (0..s.len()).step_by(2) {
        let tok = &s[i..i + 2];
        let v = table
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(tok))
            .ok_or_else(bad)?
            .1;
        add(v);
    }
    Ok(())
}

fn parse_mask(s: &str, label: bool) -> Result<u32, Win32Error> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u32::from_str_radix(h, 16).map_err(|_| bad());
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u32>().map_err(|_| bad());
    }
    let mut m = 0u32;
    let table = if label { LABEL_RIGHTS } else { RIGHTS };
    parse_two_letter_list(s, table, |v| m |= v)?;
    Ok(m)
}

fn parse_ace(body: &str, names: &dyn NameResolver) -> Result<Ace, Win32Error> {
    let f: Vec<&str> = body.split(';').collect();
    if f.len() != 6 {
        return Err(bad());
    }
    let ace_type = match f[0].trim().to_ascii_uppercase().as_str() {
        "A" => AceType::Allow,
        "D" => AceType::Deny,
        "AU" => AceType::Audit,
        "ML" => AceType::MandatoryLabel,
        _ => return Err(bad()),
    };
    let mut flags = 0u8;
    parse_two_letter_list(f[1].trim(), ACE_FLAGS, |v| flags |= v)?;
    let mask = parse_mask(f[2], ace_type == AceType::MandatoryLabel)?;
    if !f[3].trim().is_empty() || !f[4].trim().is_empty() {
        // Object ACEs (GUIDs) belong to directory objects, never to pipes.
        return Err(bad());
    }
    let sid = parse_sid(f[5], names)?;
    Ok(Ace {
        ace_type,
        flags,
        mask,
        sid,
    })
}

fn parse_acl(s: &str, names: &dyn NameResolver) -> Result<Acl, Win32Error> {
    let mut acl = Acl::default();
    let mut rest = s.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("NO_ACCESS_CONTROL") {
            acl.null = true;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("AR") {
            acl.flags.auto_inherit_req = true;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("AI") {
            acl.flags.auto_inherited = true;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('P') {
            acl.flags.protected = true;
            rest = r;
        } else {
            break;
        }
    }
    while let Some(r) = rest.trim_start().strip_prefix('(') {
        let close = r.find(')').ok_or_else(bad)?;
        acl.aces.push(parse_ace(&r[..close], names)?);
        rest = &r[close + 1..];
    }
    if !rest.trim().is_empty() || (acl.null && !acl.aces.is_empty()) {
        return Err(bad());
    }
    Ok(acl)
}

/// Find the start of the next `X:` component at or after `from` (outside parentheses).
fn next_component(s: &str, from: usize) -> usize {
    let b = s.as_bytes();
    let mut depth = 0i32;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            c if depth == 0
                && i + 1 < b.len()
                && b[i + 1] == b':'
                && matches!(c, b'O' | b'G' | b'D' | b'S') =>
            {
                return i
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

impl SecurityDescriptor {
    /// ConvertStringSecurityDescriptorToSecurityDescriptor for the pipe subset. Errors are
    /// `ERROR_INVALID_PARAMETER` (malformed) — never a panic.
    pub fn from_sddl(s: &str, names: &dyn NameResolver) -> Result<SecurityDescriptor, Win32Error> {
        if s.len() > MAX_SDDL_LEN {
            return Err(bad());
        }
        let s = s.trim();
        let mut sd = SecurityDescriptor::default();
        let mut i = 0;
        if next_component(s, 0) != 0 && !s.is_empty() {
            return Err(bad());
        }
        while i < s.len() {
            let kind = s.as_bytes()[i];
            let start = i + 2;
            let end = next_component(s, start);
            let body = &s[start..end];
            match kind {
                b'O' if sd.owner.is_none() => sd.owner = Some(parse_sid(body, names)?),
                b'G' if sd.group.is_none() => sd.group = Some(parse_sid(body, names)?),
                b'D' if sd.dacl.is_none() => sd.dacl = Some(parse_acl(body, names)?),
                b'S' if sd.sacl.is_none() => sd.sacl = Some(parse_acl(body, names)?),
                _ => return Err(bad()),
            }
            i = end;
        }
        Ok(sd)
    }

    /// ConvertSecurityDescriptorToStringSecurityDescriptor: SIDs as aliases where they have
    /// one, masks as the rights aliases when they spell it exactly, else hex.
    pub fn to_sddl(&self) -> String {
        let mut out = String::new();
        if let Some(o) = &self.owner {
            out += &format!("O:{}", sid_str(o));
        }
        if let Some(g) = &self.group {
            out += &format!("G:{}", sid_str(g));
        }
        if let Some(d) = &self.dacl {
            out += "D:";
            acl_str(d, &mut out);
        }
        if let Some(sa) = &self.sacl {
            out += "S:";
            acl_str(sa, &mut out);
        }
        out
    }
}

fn sid_str(s: &Sid) -> String {
    s.alias()
        .map(str::to_string)
        .unwrap_or_else(|| s.to_string())
}

fn acl_str(acl: &Acl, out: &mut String) {
    if acl.flags.protected {
        out.push('P');
    }
    if acl.flags.auto_inherit_req {
        out.push_str("AR");
    }
    if acl.flags.auto_inherited {
        out.push_str("AI");
    }
    if acl.null {
        out.push_str("NO_ACCESS_CONTROL");
    }
    for ace in &acl.aces {
        let t = match ace.ace_type {
            AceType::Allow => "A",
            AceType::Deny => "D",
            AceType::Audit => "AU",
            AceType::MandatoryLabel => "ML",
        };
        let mut flags = String::new();
        for (a, v) in ACE_FLAGS {
            if ace.flags & v != 0 {
                flags.push_str(a);
            }
        }
        let table = if ace.ace_type == AceType::MandatoryLabel {
            LABEL_RIGHTS
        } else {
            RIGHTS
        };
        out.push_str(&format!(
            "({t};{flags};{};;;{})",
            mask_str(ace.mask, table),
            sid_str(&ace.sid)
        ));
    }
}

fn mask_str(mask: u32, table: &[(&str, u32)]) -> String {
    if let Some((a, _)) = table.iter().find(|(_, v)| *v == mask) {
        return a.to_string();
    }
    // Single-bit aliases only (the combined ones would double-count).
    let mut rest = mask;
    let mut s = String::new();
    for (a, v) in table {
        if v.count_ones() == 1 && rest & v != 0 {
            s.push_str(a);
            rest &= !v;
        }
    }
    if rest == 0 && mask != 0 {
        s
    } else {
        format!("0x{mask:x}")
    }
}
