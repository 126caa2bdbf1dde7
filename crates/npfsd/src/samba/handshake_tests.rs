//! Tests of the NPA request parser and reply encoder, on requests captured from smbd 4.17.12
//! (Debian bookworm; level 7): an authenticated session of root, and an anonymous one.

use super::*;
use proptest::prelude::*;

const USER: &[u8] = include_bytes!("testdata/npa-level7-user.bin");
const ANON: &[u8] = include_bytes!("testdata/npa-level7-anonymous.bin");

fn sid(s: &str) -> Sid {
    Sid::parse(s).unwrap()
}

#[test]
fn authenticated_session() {
    let r = parse_request(USER).unwrap();
    assert_eq!(r.level, 7);
    assert_eq!(r.transport, 1);
    assert_eq!(r.remote_client_addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(r.local_server_addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(r.local_server_port, 4456);
    assert_ne!(r.remote_client_port, 0);
    // smbd passes its own name as the client's.
    assert_eq!(r.remote_client_name, r.local_server_name);
    let s = r.session.as_ref().unwrap();
    assert_eq!(s.sids.len(), 9);
    for want in ["S-1-22-1-0", "S-1-22-2-0", "S-1-5-2", "S-1-5-11", "S-1-1-0"] {
        assert!(s.sids.contains(&sid(want)), "{want} in {:?}", s.sids);
    }
    assert_eq!(
        s.unix,
        Some(UnixToken {
            uid: 0,
            gid: 0,
            groups: vec![0]
        })
    );
    assert_eq!(
        r.identity().unwrap(),
        RemoteIdentity::User(UnixToken {
            uid: 0,
            gid: 0,
            groups: vec![0]
        })
    );
}

#[test]
fn anonymous_session() {
    let r = parse_request(ANON).unwrap();
    assert_eq!(r.level, 7);
    let s = r.session.as_ref().unwrap();
    assert!(s.sids.contains(&sid("S-1-5-7")), "{:?}", s.sids);
    assert!(!s.sids.contains(&sid("S-1-5-11")));
    assert_eq!(r.identity().unwrap(), RemoteIdentity::Anonymous);
}

/// The same request at another level (8 has level 7's layout).
fn relevel(req: &[u8], level: u32) -> Vec<u8> {
    let mut v = req.to_vec();
    v[8..12].copy_from_slice(&level.to_le_bytes());
    v[12..16].copy_from_slice(&level.to_le_bytes());
    v
}

#[test]
fn levels() {
    assert_eq!(parse_request(&relevel(USER, 8)).unwrap().level, 8);
    for bad in [0, 4, 6, 9, u32::MAX] {
        assert_eq!(
            parse_request(&relevel(USER, bad)),
            Err(NpaError::Level(bad))
        );
    }
    // A discriminant that differs from the level.
    let mut v = USER.to_vec();
    v[12] = 8;
    assert_eq!(parse_request(&v), Err(NpaError::Level(8)));
}

#[test]
fn level5_has_need_idle_server() {
    // Level 5: one more byte after the session pointer; the strings then start 4-aligned
    // at the same place, so the capture reads the same at level 5 with that byte zero.
    let v = relevel(USER, 5);
    assert_eq!(
        v[48], 3,
        "the byte read as need_idle_server is the string's count"
    );
    let r = parse_request(&v);
    // Level 7's layout read as 5 is misaligned by a field: refused, not misread.
    assert!(r.is_err() || r.unwrap().level == 5);
    // A synthetic level-5 request: no strings, no session.
    let mut b = Vec::new();
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(b"NPAM");
    b.extend_from_slice(&5u32.to_le_bytes());
    b.extend_from_slice(&5u32.to_le_bytes());
    b.extend_from_slice(&[1, 0, 0, 0]); // transport + padding
    b.extend_from_slice(&0u32.to_le_bytes()); // remote_client_name
    b.extend_from_slice(&0u32.to_le_bytes()); // remote_client_addr
    b.extend_from_slice(&[0x39, 0x30, 0, 0]); // remote_client_port 12345
    b.extend_from_slice(&0u32.to_le_bytes()); // local_server_name
    b.extend_from_slice(&0u32.to_le_bytes()); // local_server_addr
    b.extend_from_slice(&[0xbd, 0x01, 0, 0]); // local_server_port 445
    b.extend_from_slice(&0u32.to_le_bytes()); // session_info
    b.extend_from_slice(&[1, 0, 0, 0]); // need_idle_server + padding
    let n = (b.len() - 4) as u32;
    b[0..4].copy_from_slice(&n.to_be_bytes());
    let r = parse_request(&b).unwrap();
    assert_eq!(
        (r.level, r.remote_client_port, r.local_server_port),
        (5, 12345, 445)
    );
    assert_eq!(r.session, None);
    assert_eq!(r.identity().unwrap(), RemoteIdentity::Anonymous);
}

#[test]
fn reply_layout() {
    let r = encode_reply(7, FILE_TYPE_MESSAGE_MODE_PIPE);
    let want: [u8; 36] = [
        0, 0, 0, 32, b'N', b'P', b'A', b'M', 7, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0xff, 0x05, 0, 0, 0, 0,
        0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(r, want);
    let b = encode_reply(8, FILE_TYPE_BYTE_MODE_PIPE);
    assert_eq!((b[8], b[12], b[16]), (8, 8, 1));
}

#[test]
fn malformed() {
    // Every truncation is refused.
    for n in 0..USER.len() {
        assert!(parse_request(&USER[..n]).is_err(), "truncated to {n}");
    }
    // A length word that does not match.
    let mut v = USER.to_vec();
    v[3] ^= 1;
    assert!(matches!(parse_request(&v), Err(NpaError::Length(_))));
    // Bad magic.
    let mut v = USER.to_vec();
    v[4] = b'X';
    assert_eq!(parse_request(&v), Err(NpaError::Magic));
    // A string with a non-zero offset.
    let mut v = USER.to_vec();
    v[0x34] = 1;
    assert!(parse_request(&v).is_err());
    // A security token whose count disagrees with its conformance.
    let mut v = USER.to_vec();
    v[0xcc] = 200;
    assert!(parse_request(&v).is_err());
    // Trailing garbage after the length: the length word decides.
    let mut v = USER.to_vec();
    v.push(0);
    assert!(parse_request(&v).is_err());
    assert!(body_len([0, 0, 0, 0]).is_err());
    assert!(body_len([0xff, 0xff, 0xff, 0xff]).is_err());
    assert_eq!(body_len([0, 0, 2, 0xd9]), Ok(0x2d9));
}

#[test]
fn sid_identity_without_unix_token() {
    let s = Session {
        sids: [
            "S-1-22-1-1000",
            "S-1-22-2-100",
            "S-1-22-2-27",
            "S-1-5-11",
            "S-1-5-2",
        ]
        .iter()
        .map(|x| sid(x))
        .collect(),
        unix: None,
    };
    let r = Request {
        session: Some(s),
        ..Request::default()
    };
    assert_eq!(
        r.identity().unwrap(),
        RemoteIdentity::User(UnixToken {
            uid: 1000,
            gid: 100,
            groups: vec![27]
        })
    );
    let r = Request {
        session: Some(Session {
            sids: vec![sid("S-1-5-11")],
            unix: None,
        }),
        ..Request::default()
    };
    assert!(r.identity().is_err());
}

proptest! {
    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let _ = parse_request(&bytes);
    }

    #[test]
    fn corrupted_captures_never_panic(
        at in 0usize..USER.len(),
        val in any::<u8>(),
        cut in 0usize..USER.len(),
    ) {
        let mut v = USER.to_vec();
        v[at] = val;
        let _ = parse_request(&v);
        let r = parse_request(&v[..cut]);
        prop_assert!(r.is_err());
        if let Ok(r) = parse_request(&v) {
            let _ = r.identity();
        }
    }
}
