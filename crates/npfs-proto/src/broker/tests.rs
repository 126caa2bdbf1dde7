//! Byte fixtures, round trips and robustness of the broker protocol.

use super::*;
use npfs_core::config::{
    CreateParams, Direction, InstanceOptions, PipeAttributes, PipeType, ReadMode,
};
use npfs_core::namespace::{
    Identity, InstanceInfo, InstanceState, PipeDetail, PipeSummary, WaitTimeout,
};
use npfs_core::Win32Error;
use proptest::prelude::*;

fn decode_request(bytes: &[u8]) -> Result<Option<(Request, usize)>, ProtoError> {
    match decode_frame(bytes)? {
        None => Ok(None),
        Some((f, n)) => Ok(Some((Request::decode(f)?, n))),
    }
}

fn decode_reply(bytes: &[u8]) -> Result<Option<(Reply, usize)>, ProtoError> {
    match decode_frame(bytes)? {
        None => Ok(None),
        Some((f, n)) => Ok(Some((Reply::decode(f)?, n))),
    }
}

#[test]
fn listen_fixture() {
    let bytes = Request::Listen.encode().unwrap();
    assert_eq!(bytes, [2, 0, 0, 0, VERSION, 0x07]);
    assert_eq!(decode_request(&bytes), Ok(Some((Request::Listen, 6))));
}

#[test]
fn disconnect_fixture() {
    let bytes = Request::Disconnect { epoch: 0x0102 }.encode().unwrap();
    assert_eq!(bytes, [10, 0, 0, 0, VERSION, 0x08, 2, 1, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn close_fixture() {
    let bytes = Request::Close.encode().unwrap();
    assert_eq!(bytes, [2, 0, 0, 0, VERSION, 0x09]);
    assert_eq!(decode_request(&bytes), Ok(Some((Request::Close, 6))));
    // Close has no body; a body is refused, and it is not a reply.
    let f = encode_frame(0x09, &[0]).unwrap();
    assert_eq!(decode_request(&f), Err(ProtoError::Trailing));
    assert_eq!(decode_reply(&bytes), Err(ProtoError::UnknownOpcode(0x09)));
}

#[test]
fn closed_fixture() {
    let bytes = Reply::Closed.encode().unwrap();
    assert_eq!(bytes, [2, 0, 0, 0, VERSION, 0x8A]);
    assert_eq!(decode_reply(&bytes), Ok(Some((Reply::Closed, 6))));
    assert!(!Reply::Closed.carries_fds());
    let chan = Reply::CreatedChannel {
        instance_id: 7,
        attrs: PipeAttributes {
            direction: Direction::Duplex,
            pipe_type: PipeType::Message,
            max_instances: 255,
            out_quota: 512,
            in_quota: 512,
            default_timeout_ms: 50,
        },
        already_existed: false,
    };
    assert_eq!(chan.fd_count(), 1);
    let chan_bytes = chan.encode().unwrap();
    assert_eq!(chan_bytes[5], 0x8E);
    assert_eq!(
        decode_reply(&chan_bytes),
        Ok(Some((chan, chan_bytes.len())))
    );
    let f = encode_frame(0x8A, &[1]).unwrap();
    assert_eq!(decode_reply(&f), Err(ProtoError::Trailing));
    assert_eq!(decode_request(&bytes), Err(ProtoError::UnknownOpcode(0x8A)));
}

#[test]
fn describe_fixture() {
    let all = Request::Describe { name: None }.encode().unwrap();
    assert_eq!(all, [3, 0, 0, 0, VERSION, 0x0A, 0]);
    assert_eq!(
        decode_request(&all),
        Ok(Some((Request::Describe { name: None }, 7)))
    );
    let one = Request::Describe {
        name: Some("ab".into()),
    }
    .encode()
    .unwrap();
    assert_eq!(one, [7, 0, 0, 0, VERSION, 0x0A, 1, 2, 0, b'a', b'b']);
    // A flag other than 0/1 is refused; a missing name is truncated; not a reply.
    let f = encode_frame(0x0A, &[2]).unwrap();
    assert_eq!(decode_request(&f), Err(ProtoError::InvalidValue("bool")));
    let f = encode_frame(0x0A, &[1]).unwrap();
    assert_eq!(decode_request(&f), Err(ProtoError::Truncated));
    assert_eq!(decode_reply(&all), Err(ProtoError::UnknownOpcode(0x0A)));
}

#[test]
fn pipe_details_fixture() {
    let empty = Reply::PipeDetails {
        more: false,
        pipes: Vec::new(),
    };
    let bytes = empty.encode().unwrap();
    assert_eq!(bytes, [7, 0, 0, 0, VERSION, 0x8B, 0, 0, 0, 0, 0]);
    assert_eq!(decode_reply(&bytes), Ok(Some((empty, 11))));
    assert!(!Reply::PipeDetails {
        more: true,
        pipes: vec![]
    }
    .carries_fds());
    let d = sample_detail("p".into());
    let rep = Reply::PipeDetails {
        more: true,
        pipes: vec![d.clone(), d],
    };
    let bytes = rep.encode().unwrap();
    assert_eq!(decode_reply(&bytes), Ok(Some((rep, bytes.len()))));
    // Every shorter body is truncated, never a panic.
    let f = decode_frame(&bytes).unwrap().unwrap().0;
    for cut in 0..f.body.len() {
        let short = Frame {
            opcode: 0x8B,
            body: &f.body[..cut],
        };
        assert!(Reply::decode(short).is_err(), "cut at {cut}");
    }
    // An instance state out of range is refused.
    let one = Reply::PipeDetails {
        more: false,
        pipes: vec![sample_detail("q".into())],
    }
    .encode()
    .unwrap();
    // header 6, more 1, count 4, summary (2+1 name, 18 attrs, 16 counts), reject 1,
    // instance count 4, id 8, then the state.
    let state_at = 6 + 1 + 4 + 3 + 18 + 16 + 1 + 4 + 8;
    let mut bad = one.clone();
    bad[state_at] = 9;
    assert_eq!(
        decode_reply(&bad),
        Err(ProtoError::InvalidValue("instance state"))
    );
    assert_eq!(decode_request(&one), Err(ProtoError::UnknownOpcode(0x8B)));
}

#[test]
fn error_fixture() {
    let bytes = Reply::Error(Win32Error::PIPE_BUSY).encode().unwrap();
    assert_eq!(bytes, [6, 0, 0, 0, VERSION, 0x81, 231, 0, 0, 0]);
}

#[test]
fn open_fixture() {
    let bytes = Request::Open {
        name: "ab".into(),
        desired_access: 0x8000_0000,
        remote: None,
        sqos: 0,
        computer_name: String::new(),
    }
    .encode()
    .unwrap();
    // Without the optional trailing fields: the frame of protocol revisions before them.
    assert_eq!(
        bytes,
        [10, 0, 0, 0, VERSION, 0x02, 2, 0, b'a', b'b', 0, 0, 0, 0x80]
    );
    let remote = Request::Open {
        name: "ab".into(),
        desired_access: 0x8000_0000,
        remote: Some(RemoteClient::User {
            uid: 5,
            gid: 6,
            groups: vec![7],
        }),
        sqos: 0x0012_0000,
        computer_name: String::new(),
    };
    let bytes = remote.encode().unwrap();
    assert_eq!(
        bytes,
        [
            29, 0, 0, 0, VERSION, 0x02, 2, 0, b'a', b'b', 0, 0, 0, 0x80, 0, 0, 0x12, 0, 2, 5, 0, 0,
            0, 6, 0, 0, 0, 1, 0, 7, 0, 0, 0
        ]
    );
    assert_eq!(decode_request(&bytes), Ok(Some((remote, bytes.len()))));
    let anon = encode_frame(0x02, &[0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]).unwrap();
    assert_eq!(
        decode_request(&anon).unwrap().unwrap().0,
        Request::Open {
            name: String::new(),
            desired_access: 1,
            remote: Some(RemoteClient::Anonymous),
            sqos: 0,
            computer_name: String::new(),
        }
    );
    // A remote client's computer name: one more string after the remote client.
    let named = encode_frame(0x02, &[0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, b'1', b'0']).unwrap();
    assert_eq!(
        decode_request(&named).unwrap().unwrap().0,
        Request::Open {
            name: String::new(),
            desired_access: 1,
            remote: Some(RemoteClient::Anonymous),
            sqos: 0,
            computer_name: "10".into(),
        }
    );
    // Unknown remote kinds, too many groups and half an extension are refused.
    let bad = encode_frame(0x02, &[0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3]).unwrap();
    assert_eq!(
        decode_request(&bad),
        Err(ProtoError::InvalidValue("remote client"))
    );
    let mut many = vec![0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 1, 0, 0, 0];
    many.extend_from_slice(&0xFFFFu16.to_le_bytes());
    let many = encode_frame(0x02, &many).unwrap();
    assert_eq!(
        decode_request(&many),
        Err(ProtoError::InvalidValue("group count"))
    );
    let half = encode_frame(0x02, &[0, 0, 1, 0, 0, 0, 9]).unwrap();
    assert_eq!(decode_request(&half), Err(ProtoError::Truncated));
}

#[test]
fn security_fixtures() {
    let get = Request::GetSecurity {
        name: Some("p".into()),
        info: 4,
    };
    let bytes = get.encode().unwrap();
    assert_eq!(
        bytes,
        [10, 0, 0, 0, VERSION, 0x0B, 1, 1, 0, b'p', 4, 0, 0, 0]
    );
    assert_eq!(decode_request(&bytes), Ok(Some((get, bytes.len()))));
    let set = Request::SetSecurity {
        name: None,
        info: 2,
        sddl: "G:WD".into(),
    };
    let bytes = set.encode().unwrap();
    assert_eq!(
        bytes,
        [13, 0, 0, 0, VERSION, 0x0C, 0, 2, 0, 0, 0, 4, 0, b'G', b':', b'W', b'D']
    );
    assert_eq!(decode_request(&bytes), Ok(Some((set, bytes.len()))));
    let sec = Reply::Security { sddl: "D:".into() };
    let bytes = sec.encode().unwrap();
    assert_eq!(bytes, [6, 0, 0, 0, VERSION, 0x8C, 2, 0, b'D', b':']);
    assert_eq!(decode_reply(&bytes), Ok(Some((sec, bytes.len()))));
    let done = Reply::SecuritySet.encode().unwrap();
    assert_eq!(done, [2, 0, 0, 0, VERSION, 0x8D]);
    assert!(!Reply::SecuritySet.carries_fds());
    // Directions: a request is not a reply and vice versa.
    assert_eq!(decode_reply(&bytes[..0]), Ok(None));
    assert_eq!(decode_request(&done), Err(ProtoError::UnknownOpcode(0x8D)));
    assert_eq!(
        decode_reply(
            &Request::GetSecurity {
                name: None,
                info: 1
            }
            .encode()
            .unwrap()
        ),
        Err(ProtoError::UnknownOpcode(0x0B))
    );
}

#[test]
fn create_with_sddl_fixture() {
    let plain = Request::Create(CreateRequest {
        name: "x".into(),
        params: sample_params(),
        sddl: None,
    })
    .encode()
    .unwrap();
    let with = Request::Create(CreateRequest {
        name: "x".into(),
        params: sample_params(),
        sddl: Some("D:".into()),
    })
    .encode()
    .unwrap();
    assert_eq!(with.len(), plain.len() + 4);
    assert_eq!(&with[plain.len()..], &[2, 0, b'D', b':']);
    assert_eq!(&with[4..plain.len()], &plain[4..]);
}

#[test]
fn connected_with_credentials_fixture() {
    let a = PipeAttributes {
        direction: Direction::Duplex,
        pipe_type: PipeType::Byte,
        max_instances: 1,
        out_quota: 0,
        in_quota: 0,
        default_timeout_ms: 0,
    };
    let plain = Reply::Connected {
        conn_id: 1,
        epoch: 2,
        attrs: a,
        server_pid: 3,
        client_pid: 4,
        client_uid: 5,
        client: ClientSecurity::default(),
    };
    let with = Reply::Connected {
        conn_id: 1,
        epoch: 2,
        attrs: a,
        server_pid: 3,
        client_pid: 4,
        client_uid: 5,
        client: ClientSecurity {
            gid: 6,
            groups: vec![7, 8],
            remote: true,
            anonymous: true,
            sqos: 0x0010_0000,
            granted_access: 0x0012_019f,
            computer_name: String::new(),
        },
    };
    let p = plain.encode().unwrap();
    let w = with.encode().unwrap();
    assert_eq!(
        &w[p.len()..],
        &[6, 0, 0, 0, 2, 0, 7, 0, 0, 0, 8, 0, 0, 0, 3, 0, 0, 0x10, 0, 0x9f, 0x01, 0x12, 0]
    );
    assert_eq!(decode_reply(&w), Ok(Some((with, w.len()))));
    assert_eq!(decode_reply(&p), Ok(Some((plain, p.len()))));
    let mut bad = w.clone();
    let flags_at = w.len() - 9;
    bad[flags_at] = 4;
    assert_eq!(
        decode_reply(&bad),
        Err(ProtoError::InvalidValue("client flags"))
    );
}

#[test]
fn incomplete_frames_need_more() {
    let bytes = Request::Disconnect { epoch: 9 }.encode().unwrap();
    for cut in 0..bytes.len() {
        assert_eq!(decode_request(&bytes[..cut]), Ok(None), "cut at {cut}");
    }
}

#[test]
fn oversized_length_refused_at_once() {
    let len = (MAX_FRAME as u32 + 1).to_le_bytes();
    assert_eq!(
        decode_frame(&len),
        Err(ProtoError::BadLength(MAX_FRAME as u32 + 1))
    );
    assert_eq!(decode_frame(&[0, 0, 0, 0]), Err(ProtoError::BadLength(0)));
    assert_eq!(decode_frame(&[1, 0, 0, 0]), Err(ProtoError::BadLength(1)));
}

#[test]
fn wrong_version_refused_at_once() {
    assert_eq!(
        decode_frame(&[200, 0, 0, 0, 9]),
        Err(ProtoError::BadVersion(9))
    );
}

#[test]
fn unknown_opcode_and_direction() {
    let f = encode_frame(0x55, &[]).unwrap();
    assert_eq!(decode_request(&f), Err(ProtoError::UnknownOpcode(0x55)));
    // A reply opcode is not a request.
    let f = Reply::WaitDone.encode().unwrap();
    assert_eq!(decode_request(&f), Err(ProtoError::UnknownOpcode(0x84)));
}

#[test]
fn trailing_and_truncated_bodies() {
    let f = encode_frame(0x07, &[1]).unwrap();
    assert_eq!(decode_request(&f), Err(ProtoError::Trailing));
    let f = encode_frame(0x08, &[1, 2]).unwrap();
    assert_eq!(decode_request(&f), Err(ProtoError::Truncated));
}

#[test]
fn invalid_fields() {
    // max_instances 0 in a Create.
    let mut req = Request::Create(CreateRequest {
        name: "x".into(),
        params: sample_params(),
        sddl: None,
    })
    .encode()
    .unwrap();
    // name: 2+1 bytes after the 6-byte header; then direction, type, max_instances.
    let max_at = 6 + 3 + 2;
    req[max_at..max_at + 4].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(
        decode_request(&req),
        Err(ProtoError::InvalidValue("max instances"))
    );
    req[max_at - 2] = 7;
    assert_eq!(
        decode_request(&req),
        Err(ProtoError::InvalidValue("direction"))
    );
    let bad_utf8 = encode_frame(0x04, &[1, 0, 0xFF]).unwrap();
    assert_eq!(
        decode_request(&bad_utf8),
        Err(ProtoError::InvalidValue("utf-8 string"))
    );
}

#[test]
fn too_large_messages_refused_by_encoder() {
    let long = "x".repeat(70_000);
    assert_eq!(
        Request::InstanceCount { name: long }.encode(),
        Err(ProtoError::TooLarge)
    );
    let many = vec![sample_summary("y".repeat(1000)); 100];
    assert_eq!(
        Reply::PipeList {
            more: false,
            pipes: many
        }
        .encode(),
        Err(ProtoError::TooLarge)
    );
}

#[test]
fn frames_decode_back_to_back() {
    let mut bytes = Request::Listen.encode().unwrap();
    bytes.extend(Request::Disconnect { epoch: 3 }.encode().unwrap());
    let (a, n) = decode_request(&bytes).unwrap().unwrap();
    assert_eq!(a, Request::Listen);
    let (b, m) = decode_request(&bytes[n..]).unwrap().unwrap();
    assert_eq!(b, Request::Disconnect { epoch: 3 });
    assert_eq!(n + m, bytes.len());
}

fn sample_params() -> CreateParams {
    CreateParams {
        attrs: PipeAttributes {
            direction: Direction::Duplex,
            pipe_type: PipeType::Message,
            max_instances: 4,
            out_quota: 1,
            in_quota: 2,
            default_timeout_ms: 50,
        },
        options: InstanceOptions {
            first_instance: true,
            write_through: false,
            overlapped: true,
            read_mode: ReadMode::Message,
            nowait: false,
            reject_remote: true,
            extra_access: 0x40000,
        },
    }
}

fn sample_summary(name: String) -> PipeSummary {
    PipeSummary {
        display_name: name,
        attrs: sample_params().attrs,
        instances: 3,
        listening: 1,
        connected: 2,
        owner_uid: 1000,
    }
}

fn sample_detail(name: String) -> PipeDetail {
    let server = Identity {
        pid: 10,
        uid: 1000,
        gid: 100,
    };
    PipeDetail {
        summary: sample_summary(name),
        reject_remote: true,
        instances: vec![
            InstanceInfo {
                id: 1,
                state: InstanceState::Connected,
                epoch: 2,
                server,
                client: Some(Identity {
                    pid: 11,
                    uid: 1000,
                    gid: 100,
                }),
            },
            InstanceInfo {
                id: 2,
                state: InstanceState::Listening,
                epoch: 0,
                server,
                client: None,
            },
        ],
    }
}

// ------------------------------------------------------------------ strategies

fn attrs() -> impl Strategy<Value = PipeAttributes> {
    (
        0..3u8,
        any::<bool>(),
        1..=255u32,
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(d, m, max, o, i, t)| PipeAttributes {
            direction: [Direction::Inbound, Direction::Outbound, Direction::Duplex][d as usize],
            pipe_type: if m { PipeType::Message } else { PipeType::Byte },
            max_instances: max,
            out_quota: o,
            in_quota: i,
            default_timeout_ms: t,
        })
}

fn params() -> impl Strategy<Value = CreateParams> {
    (attrs(), any::<[bool; 6]>(), any::<u32>()).prop_map(|(attrs, b, extra)| CreateParams {
        attrs,
        options: InstanceOptions {
            first_instance: b[0],
            write_through: b[1],
            overlapped: b[2],
            read_mode: if b[3] && attrs.pipe_type == PipeType::Message {
                ReadMode::Message
            } else {
                ReadMode::Byte
            },
            nowait: b[4],
            reject_remote: b[5],
            extra_access: extra,
        },
    })
}

fn timeout() -> impl Strategy<Value = WaitTimeout> {
    prop_oneof![
        Just(WaitTimeout::Default),
        Just(WaitTimeout::Forever),
        any::<u32>().prop_map(WaitTimeout::Millis),
    ]
}

fn state() -> impl Strategy<Value = InstanceState> {
    prop_oneof![
        Just(InstanceState::Listening),
        Just(InstanceState::Connected),
        Just(InstanceState::Disconnected),
    ]
}

fn identity() -> impl Strategy<Value = Identity> {
    any::<[u32; 3]>().prop_map(|n| Identity {
        pid: n[0],
        uid: n[1],
        gid: n[2],
    })
}

fn instance_info() -> impl Strategy<Value = InstanceInfo> {
    (
        any::<[u64; 2]>(),
        state(),
        identity(),
        proptest::option::of(identity()),
    )
        .prop_map(|(n, state, server, client)| InstanceInfo {
            id: n[0],
            state,
            epoch: n[1],
            server,
            client,
        })
}

fn detail() -> impl Strategy<Value = PipeDetail> {
    (
        name(),
        attrs(),
        any::<[u32; 4]>(),
        any::<bool>(),
        proptest::collection::vec(instance_info(), 0..6),
    )
        .prop_map(
            |(display_name, attrs, n, reject_remote, instances)| PipeDetail {
                summary: PipeSummary {
                    display_name,
                    attrs,
                    instances: n[0],
                    listening: n[1],
                    connected: n[2],
                    owner_uid: n[3],
                },
                reject_remote,
                instances,
            },
        )
}

fn name() -> impl Strategy<Value = String> {
    "\\PC{0,300}"
}

fn sddl() -> impl Strategy<Value = String> {
    "[A-Z:;()0-9x-]{0,80}"
}

fn groups() -> impl Strategy<Value = Vec<u32>> {
    proptest::collection::vec(any::<u32>(), 0..20)
}

fn remote_client() -> impl Strategy<Value = RemoteClient> {
    prop_oneof![
        Just(RemoteClient::Anonymous),
        (any::<u32>(), any::<u32>(), groups()).prop_map(|(uid, gid, groups)| RemoteClient::User {
            uid,
            gid,
            groups
        }),
    ]
}

fn client_security() -> impl Strategy<Value = ClientSecurity> {
    (
        any::<u32>(),
        groups(),
        any::<[bool; 2]>(),
        any::<u32>(),
        any::<u32>(),
        "[a-z0-9.:]{0,16}",
    )
        .prop_map(
            |(gid, groups, f, sqos, granted_access, computer_name)| ClientSecurity {
                gid,
                groups,
                remote: f[0],
                anonymous: f[1],
                sqos,
                granted_access,
                computer_name,
            },
        )
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (name(), params(), proptest::option::of(sddl())).prop_map(|(name, params, sddl)| {
            Request::Create(CreateRequest { name, params, sddl })
        }),
        (name(), params(), proptest::option::of(sddl())).prop_map(|(name, params, sddl)| {
            Request::CreateDetached(CreateRequest { name, params, sddl })
        }),
        (
            name(),
            any::<u32>(),
            proptest::option::of(remote_client()),
            any::<u32>(),
            "[a-z0-9.:]{0,16}",
        )
            .prop_map(|(name, desired_access, remote, sqos, computer_name)| {
                Request::Open {
                    name,
                    desired_access,
                    remote,
                    sqos,
                    computer_name,
                }
            }),
        (name(), timeout()).prop_map(|(name, timeout)| Request::Wait { name, timeout }),
        name().prop_map(|name| Request::InstanceCount { name }),
        Just(Request::List),
        (
            (name(), attrs(), state(), any::<u64>()),
            (proptest::option::of(sddl()), any::<bool>(), any::<u32>())
        )
            .prop_map(
                |((name, attrs, state, epoch), (sddl, reject_remote, desired_access))| {
                    Request::Reregister {
                        name,
                        attrs,
                        state,
                        epoch,
                        sddl,
                        reject_remote,
                        desired_access,
                    }
                }
            ),
        (proptest::option::of(name()), any::<u32>())
            .prop_map(|(name, info)| Request::GetSecurity { name, info }),
        (proptest::option::of(name()), any::<u32>(), sddl())
            .prop_map(|(name, info, sddl)| Request::SetSecurity { name, info, sddl }),
        proptest::option::of(name()).prop_map(|name| Request::Describe { name }),
        Just(Request::Listen),
        any::<u64>().prop_map(|epoch| Request::Disconnect { epoch }),
        Just(Request::Close),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        any::<u32>().prop_map(|c| Reply::Error(Win32Error(c))),
        (any::<u64>(), attrs(), any::<bool>()).prop_map(|(instance_id, attrs, already_existed)| {
            Reply::Created {
                instance_id,
                attrs,
                already_existed,
            }
        }),
        (any::<u64>(), attrs(), any::<bool>()).prop_map(|(instance_id, attrs, already_existed)| {
            Reply::CreatedChannel {
                instance_id,
                attrs,
                already_existed,
            }
        }),
        (any::<[u64; 3]>(), attrs(), any::<[u32; 3]>()).prop_map(|(ids, attrs, n)| {
            Reply::Opened {
                conn_id: ids[0],
                instance_id: ids[1],
                attrs,
                server_pid: n[0],
                client_pid: n[1],
                epoch: ids[2],
                granted_access: n[2],
            }
        }),
        sddl().prop_map(|sddl| Reply::Security { sddl }),
        Just(Reply::SecuritySet),
        Just(Reply::WaitDone),
        any::<u32>().prop_map(Reply::Count),
        (
            any::<bool>(),
            proptest::collection::vec((name(), attrs(), any::<[u32; 4]>()), 0..8)
        )
            .prop_map(|(more, v)| Reply::PipeList {
                more,
                pipes: v
                    .into_iter()
                    .map(|(display_name, attrs, n)| PipeSummary {
                        display_name,
                        attrs,
                        instances: n[0],
                        listening: n[1],
                        connected: n[2],
                        owner_uid: n[3],
                    })
                    .collect(),
            }),
        (any::<bool>(), proptest::collection::vec(detail(), 0..4))
            .prop_map(|(more, pipes)| Reply::PipeDetails { more, pipes }),
        any::<u64>().prop_map(|epoch| Reply::Listening { epoch }),
        any::<bool>().prop_map(|applied| Reply::Disconnected { applied }),
        Just(Reply::Closed),
        (
            any::<[u64; 2]>(),
            attrs(),
            any::<[u32; 3]>(),
            client_security()
        )
            .prop_map(|(ids, attrs, n, client)| {
                Reply::Connected {
                    conn_id: ids[0],
                    epoch: ids[1],
                    attrs,
                    server_pid: n[0],
                    client_pid: n[1],
                    client_uid: n[2],
                    client,
                }
            }),
    ]
}

proptest! {
    /// Every request decodes back to itself and uses exactly its frame.
    #[test]
    fn request_round_trip(req in request()) {
        let bytes = req.encode().unwrap();
        prop_assert_eq!(decode_request(&bytes), Ok(Some((req, bytes.len()))));
    }

    /// Every reply decodes back to itself and uses exactly its frame.
    #[test]
    fn reply_round_trip(rep in reply()) {
        let bytes = rep.encode().unwrap();
        prop_assert_eq!(decode_reply(&bytes), Ok(Some((rep, bytes.len()))));
    }

    /// The decoders never panic on arbitrary bytes, and never claim more bytes than given.
    #[test]
    fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(Some((_, n))) = decode_request(&bytes) { prop_assert!(n <= bytes.len()); }
        if let Ok(Some((_, n))) = decode_reply(&bytes) { prop_assert!(n <= bytes.len()); }
    }

    /// Arbitrary bodies behind a valid header never panic either (reaches the body parsers).
    #[test]
    fn body_decoder_never_panics(opcode in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let f = Frame { opcode, body: &body };
        let _ = Request::decode(f);
        let _ = Reply::decode(f);
    }

    /// Mutating one byte of a valid reply never panics the decoder.
    #[test]
    fn mutated_replies_never_panic(rep in reply(), at in any::<usize>(), val in any::<u8>()) {
        let mut bytes = rep.encode().unwrap();
        let i = at % bytes.len();
        bytes[i] = val;
        let _ = decode_request(&bytes);
        let _ = decode_reply(&bytes);
    }

    /// Mutating one byte of a valid frame never panics the decoder.
    #[test]
    fn mutated_frames_never_panic(req in request(), at in any::<usize>(), val in any::<u8>()) {
        let mut bytes = req.encode().unwrap();
        let i = at % bytes.len();
        bytes[i] = val;
        let _ = decode_request(&bytes);
        let _ = decode_reply(&bytes);
    }
}
