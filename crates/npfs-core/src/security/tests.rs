//! Tests of the security model: SDDL, the default DACL, the access check (issue 4 §1, §6).

use super::*;
use crate::consts::*;
use proptest::prelude::*;

struct Names;
impl NameResolver for Names {
    fn user(&self, name: &str) -> Option<u32> {
        match name {
            "alice" => Some(1001),
            "bob" => Some(1002),
            _ => None,
        }
    }
    fn group(&self, name: &str) -> Option<u32> {
        match name {
            "pipers" => Some(2000),
            _ => None,
        }
    }
}

fn alice() -> Token {
    Token::from_unix(1001, 1001, &[], &[27])
}
fn bob() -> Token {
    Token::from_unix(1002, 1002, &[2000], &[27])
}
fn root() -> Token {
    Token::from_unix(0, 0, &[], &[27])
}

#[test]
fn parses_the_service_idiom() {
    // issue 4 §1: `D:P(A;;GA;;;SY)(A;;GRGW;;;AU)`.
    let sd = SecurityDescriptor::from_sddl("D:P(A;;GA;;;SY)(A;;GRGW;;;AU)", &NoNames).unwrap();
    let d = sd.dacl.as_ref().unwrap();
    assert!(d.flags.protected);
    assert_eq!(d.aces.len(), 2);
    assert_eq!(
        d.aces[0],
        Ace::allow(GENERIC_ALL, well_known::local_system())
    );
    assert_eq!(d.aces[1].mask, GENERIC_READ | GENERIC_WRITE);
    assert_eq!(
        sd.to_sddl(),
        "D:P(A;;GA;;;SY)(A;;0xc0000000;;;AU)".replace("0xc0000000", "GRGW")
    );
}

#[test]
fn parses_owner_group_hex_sid_strings_and_names() {
    let sd = SecurityDescriptor::from_sddl(
        "O:alice G:pipers D:(D;;0x2;;;bob)(A;OICI;FR;;;S-1-22-2-2000)(A;;0x120116;;;WD)",
        &Names,
    )
    .unwrap();
    assert_eq!(sd.owner, Some(Sid::unix_user(1001)));
    assert_eq!(sd.group, Some(Sid::unix_group(2000)));
    let d = sd.dacl.unwrap();
    assert_eq!(d.aces[0], Ace::deny(FILE_WRITE_DATA, Sid::unix_user(1002)));
    assert_eq!(d.aces[1].flags, OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE);
    assert_eq!(d.aces[1].mask, FILE_GENERIC_READ);
    assert_eq!(d.aces[2].mask, FILE_GENERIC_WRITE);
}

#[test]
fn the_doc_example_parses() {
    // security-descriptor-string-format's example, with directory-service rights.
    let sd =
        SecurityDescriptor::from_sddl("O:AOG:DAD:(A;;RPWPCCDCLCSWRCWDWOGA;;;S-1-0-0)", &NoNames);
    // AO and DA are domain aliases npfs does not know: a clear error, no panic.
    assert_eq!(sd, Err(crate::Win32Error::INVALID_PARAMETER));
    let sd =
        SecurityDescriptor::from_sddl("O:SYG:BAD:(A;;RPWPCCDCLCSWRCWDWOGA;;;S-1-0-0)", &NoNames)
            .unwrap();
    assert_eq!(
        sd.dacl.unwrap().aces[0].mask,
        0x10 | 0x20 | 1 | 2 | 4 | 8 | 0x20000 | 0x40000 | 0x80000 | GENERIC_ALL
    );
}

#[test]
fn null_and_empty_dacls() {
    let null = SecurityDescriptor::from_sddl("D:NO_ACCESS_CONTROL", &NoNames).unwrap();
    assert_eq!(
        access_check(&null, &bob(), GENERIC_WRITE, &PIPE_MAPPING),
        Ok(FILE_GENERIC_WRITE)
    );
    let empty = SecurityDescriptor::from_sddl("D:", &NoNames).unwrap();
    assert_eq!(
        access_check(&empty, &bob(), GENERIC_READ, &PIPE_MAPPING),
        Err(crate::Win32Error::ACCESS_DENIED)
    );
    assert_eq!(empty.to_sddl(), "D:");
    assert_eq!(null.to_sddl(), "D:NO_ACCESS_CONTROL");
}

#[test]
fn malformed_sddl_is_invalid_parameter() {
    for s in [
        "X:",
        "D:(A;;GA;;;)",
        "D:(A;;GA;;SY)",
        "D:(Q;;GA;;;SY)",
        "D:(A;ZZ;GA;;;SY)",
        "D:(A;;QQ;;;SY)",
        "D:(A;;GA;;;SY",
        "D:(A;;GA;{guid};;;SY)",
        "O:SYO:SY",
        "D:(A;;GA;;;nobody)",
        "junk",
        "D:NO_ACCESS_CONTROL(A;;GA;;;SY)",
    ] {
        assert_eq!(
            SecurityDescriptor::from_sddl(s, &Names),
            Err(crate::Win32Error::INVALID_PARAMETER),
            "{s}"
        );
    }
}

// CreateNamedPipe page: the default DACL grants full control to LocalSystem, Administrators and
// the creator owner, read to Everyone and Anonymous. issue 4 §2: "a user with the default DACL
// can open another user's pipe for reading only".
#[test]
fn default_dacl_lets_others_read_only() {
    let a = alice();
    let sd = SecurityDescriptor::default_for_pipe(a.user.clone(), a.primary_group.clone());
    assert_eq!(
        access_check(&sd, &bob(), GENERIC_READ, &PIPE_MAPPING),
        Ok(FILE_GENERIC_READ)
    );
    assert_eq!(
        access_check(&sd, &bob(), GENERIC_READ | GENERIC_WRITE, &PIPE_MAPPING),
        Err(crate::Win32Error::ACCESS_DENIED)
    );
    assert_eq!(
        access_check(&sd, &bob(), FILE_WRITE_DATA, &PIPE_MAPPING),
        Err(crate::Win32Error::ACCESS_DENIED)
    );
    // Squatting: another user may not add an instance (FILE_CREATE_PIPE_INSTANCE).
    assert_eq!(
        access_check(&sd, &bob(), FILE_CREATE_PIPE_INSTANCE, &PIPE_MAPPING),
        Err(crate::Win32Error::ACCESS_DENIED)
    );
    // The owner, root and administrators may.
    assert!(access_check(
        &sd,
        &a,
        GENERIC_READ | GENERIC_WRITE | FILE_CREATE_PIPE_INSTANCE,
        &PIPE_MAPPING
    )
    .is_ok());
    assert!(access_check(&sd, &root(), GENERIC_ALL, &PIPE_MAPPING).is_ok());
    let admin = Token::from_unix(1003, 1003, &[27], &[27]);
    assert!(access_check(&sd, &admin, FILE_CREATE_PIPE_INSTANCE, &PIPE_MAPPING).is_ok());
    assert_eq!(
        sd.to_sddl(),
        "O:S-1-22-1-1001G:S-1-22-2-1001D:(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;S-1-22-1-1001)(A;;GR;;;WD)(A;;GR;;;AN)"
    );
}

// issue 4 §6: deny ACEs before allow.
#[test]
fn deny_before_allow_wins() {
    let sd = SecurityDescriptor::from_sddl("D:(D;;FW;;;bob)(A;;GA;;;WD)", &Names).unwrap();
    assert_eq!(
        access_check(&sd, &bob(), GENERIC_WRITE, &PIPE_MAPPING),
        Err(crate::Win32Error::ACCESS_DENIED)
    );
    assert!(access_check(&sd, &alice(), GENERIC_WRITE, &PIPE_MAPPING).is_ok());
    // An allow before the deny already granted the right: the deny comes too late.
    let sd = SecurityDescriptor::from_sddl("D:(A;;GA;;;WD)(D;;FW;;;bob)", &Names).unwrap();
    assert!(access_check(&sd, &bob(), GENERIC_WRITE, &PIPE_MAPPING).is_ok());
}

// issue 4 §6: custom SDDL granting a group.
#[test]
fn group_grant() {
    let sd =
        SecurityDescriptor::from_sddl("D:(A;;GA;;;alice)(A;;0x12019b;;;pipers)", &Names).unwrap();
    assert!(access_check(&sd, &bob(), GENERIC_READ | FILE_WRITE_DATA, &PIPE_MAPPING).is_ok());
    assert_eq!(
        access_check(&sd, &bob(), FILE_CREATE_PIPE_INSTANCE, &PIPE_MAPPING),
        Err(crate::Win32Error::ACCESS_DENIED)
    );
    assert_eq!(
        access_check(
            &sd,
            &Token::from_unix(1004, 1004, &[], &[]),
            GENERIC_READ,
            &PIPE_MAPPING
        ),
        Err(crate::Win32Error::ACCESS_DENIED)
    );
}

#[test]
fn presets() {
    let a = alice();
    let only = SecurityDescriptor::owner_only(a.user.clone());
    assert!(access_check(&only, &a, GENERIC_ALL, &PIPE_MAPPING).is_ok());
    assert!(access_check(&only, &bob(), GENERIC_READ, &PIPE_MAPPING).is_err());
    let ug = SecurityDescriptor::user_and_group(a.user.clone(), Sid::unix_group(2000));
    assert!(access_check(&ug, &bob(), GENERIC_READ | FILE_WRITE_DATA, &PIPE_MAPPING).is_ok());
    let world = SecurityDescriptor::world(a.user.clone());
    assert!(access_check(
        &world,
        &Token::from_unix(5, 5, &[], &[]),
        GENERIC_READ | FILE_WRITE_DATA,
        &PIPE_MAPPING
    )
    .is_ok());
    assert!(access_check(
        &world,
        &Token::from_unix(5, 5, &[], &[]),
        FILE_CREATE_PIPE_INSTANCE,
        &PIPE_MAPPING
    )
    .is_err());
}

#[test]
fn owner_implicit_rights_and_owner_rights_ace() {
    let a = alice();
    let sd = SecurityDescriptor::from_sddl("O:alice D:(A;;FR;;;bob)", &Names).unwrap();
    assert!(access_check(&sd, &a, WRITE_DAC | READ_CONTROL, &PIPE_MAPPING).is_ok());
    let sd = SecurityDescriptor::from_sddl("O:alice D:(A;;RC;;;OW)", &Names).unwrap();
    assert_eq!(
        access_check(&sd, &a, WRITE_DAC, &PIPE_MAPPING),
        Err(crate::Win32Error::ACCESS_DENIED)
    );
}

#[test]
fn inherit_only_aces_do_not_apply() {
    let sd = SecurityDescriptor::from_sddl("D:(A;IO;GA;;;WD)", &NoNames).unwrap();
    assert!(access_check(&sd, &bob(), GENERIC_READ, &PIPE_MAPPING).is_err());
}

#[test]
fn maximum_allowed_and_system_security() {
    let a = alice();
    let sd = SecurityDescriptor::default_for_pipe(a.user.clone(), a.primary_group.clone());
    assert_eq!(
        access_check(&sd, &bob(), MAXIMUM_ALLOWED, &PIPE_MAPPING),
        Ok(FILE_GENERIC_READ)
    );
    assert_eq!(
        access_check(&sd, &a, ACCESS_SYSTEM_SECURITY, &PIPE_MAPPING),
        Err(crate::Win32Error::ACCESS_DENIED)
    );
    assert!(access_check(&sd, &root(), ACCESS_SYSTEM_SECURITY, &PIPE_MAPPING).is_ok());
}

#[test]
fn creator_owner_is_replaced_on_assign() {
    let sd = SecurityDescriptor::from_sddl("D:(A;;GA;;;CO)(A;;GR;;;CG)", &NoNames).unwrap();
    let sd = sd.assign(&Sid::unix_user(7), &Sid::unix_group(8));
    assert_eq!(sd.owner, Some(Sid::unix_user(7)));
    assert_eq!(sd.dacl.as_ref().unwrap().aces[0].sid, Sid::unix_user(7));
    assert_eq!(sd.dacl.as_ref().unwrap().aces[1].sid, Sid::unix_group(8));
}

#[test]
fn anonymous_remote_token() {
    let t = Token::anonymous_remote();
    let a = alice();
    let sd = SecurityDescriptor::default_for_pipe(a.user.clone(), a.primary_group.clone());
    assert!(access_check(&sd, &t, GENERIC_READ, &PIPE_MAPPING).is_ok());
    let deny_net = SecurityDescriptor::from_sddl("D:(D;;GA;;;NU)(A;;GA;;;WD)", &NoNames).unwrap();
    assert!(access_check(&deny_net, &t, GENERIC_READ, &PIPE_MAPPING).is_err());
    assert!(access_check(&deny_net, &a, GENERIC_READ, &PIPE_MAPPING).is_ok());
}

fn arb_sid() -> impl Strategy<Value = Sid> {
    prop_oneof![
        prop::sample::select(vec![
            "WD", "AN", "AU", "SY", "BA", "BU", "CO", "CG", "OW", "IU", "NU", "LS", "NS"
        ])
        .prop_map(|a| Sid::from_alias(a).unwrap()),
        any::<u32>().prop_map(Sid::unix_user),
        any::<u32>().prop_map(Sid::unix_group),
        (
            0u64..(1 << 48),
            proptest::collection::vec(any::<u32>(), 0..=15)
        )
            .prop_map(|(a, s)| Sid::new(a, &s).unwrap()),
    ]
}

fn arb_ace() -> impl Strategy<Value = Ace> {
    (
        prop::sample::select(vec![
            AceType::Allow,
            AceType::Deny,
            AceType::Audit,
            AceType::MandatoryLabel,
        ]),
        any::<u8>().prop_map(|f| f & !0x20),
        any::<u32>(),
        arb_sid(),
    )
        .prop_map(|(ace_type, flags, mask, sid)| Ace {
            ace_type,
            flags,
            mask,
            sid,
        })
}

fn arb_acl() -> impl Strategy<Value = Acl> {
    (
        any::<[bool; 4]>(),
        proptest::collection::vec(arb_ace(), 0..6),
    )
        .prop_map(|(f, aces)| Acl {
            flags: AclFlags {
                protected: f[0],
                auto_inherited: f[1],
                auto_inherit_req: f[2],
            },
            null: f[3] && aces.is_empty(),
            aces,
        })
}

proptest! {
    /// The self-relative binary form round-trips too, and its parser never panics.
    #[test]
    fn binary_round_trips(owner in proptest::option::of(arb_sid()), group in proptest::option::of(arb_sid()),
                          dacl in proptest::option::of(arb_acl()), sacl in proptest::option::of(arb_acl())) {
        let sd = SecurityDescriptor { owner, group, dacl, sacl };
        let b = sd.to_self_relative();
        prop_assert_eq!(SecurityDescriptor::from_self_relative(&b), Ok(sd));
        for cut in [0, 1, 19, 20, b.len() / 2, b.len().saturating_sub(1)] {
            let _ = SecurityDescriptor::from_self_relative(&b[..cut.min(b.len())]);
        }
    }

    #[test]
    fn binary_parser_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = SecurityDescriptor::from_self_relative(&b);
        let _ = Acl::from_bytes(&b);
        let _ = Sid::from_bytes(&b);
    }

    /// issue 4 §6: SDDL round-trips.
    #[test]
    fn sddl_round_trips(owner in proptest::option::of(arb_sid()), group in proptest::option::of(arb_sid()),
                        dacl in proptest::option::of(arb_acl()), sacl in proptest::option::of(arb_acl())) {
        let sd = SecurityDescriptor { owner, group, dacl, sacl };
        let s = sd.to_sddl();
        prop_assert_eq!(SecurityDescriptor::from_sddl(&s, &NoNames), Ok(sd), "{}", s);
    }

    /// The parser never panics, whatever it is given.
    #[test]
    fn sddl_parser_never_panics(s in ".{0,200}") {
        let _ = SecurityDescriptor::from_sddl(&s, &Names);
    }

    /// Nor on near-valid input.
    #[test]
    fn sddl_parser_never_panics_on_mutations(pos in 0usize..60, byte in any::<u8>()) {
        let mut v = b"O:SYG:BAD:P(A;OICI;GA;;;SY)(D;;0x2;;;S-1-22-1-5)S:(ML;;NW;;;LW)".to_vec();
        let i = pos % v.len();
        v[i] = byte;
        if let Ok(s) = std::str::from_utf8(&v) {
            let _ = SecurityDescriptor::from_sddl(s, &Names);
        }
    }
}

#[test]
fn administrators_may_take_ownership() {
    let sd = SecurityDescriptor::from_sddl("O:alice D:(A;;GR;;;alice)", &Names).unwrap();
    assert!(access_check(&sd, &root(), WRITE_OWNER, &PIPE_MAPPING).is_ok());
    let admin = Token::from_unix(1003, 1003, &[27], &[27]);
    assert!(access_check(&sd, &admin, WRITE_OWNER, &PIPE_MAPPING).is_ok());
    assert!(access_check(&sd, &admin, WRITE_DAC, &PIPE_MAPPING).is_err());
    assert!(access_check(&sd, &bob(), WRITE_OWNER, &PIPE_MAPPING).is_err());
}

/// Found by the fuzz target `sddl`: a multi-byte character right after `S` in a SID
/// position panicked (slicing inside a character).
#[test]
fn non_ascii_after_s_is_an_error() {
    for s in [
        "O:S\u{4cc}-0x6042",
        "O:O\u{1ac}\u{4b1}S-%",
        "G:S\u{e9}",
        "D:(A;;GA;;;S\u{e9}-1)",
    ] {
        assert_eq!(
            SecurityDescriptor::from_sddl(s, &Names),
            Err(crate::Win32Error::INVALID_PARAMETER),
            "{s}"
        );
    }
}
