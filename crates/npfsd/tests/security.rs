//! Security enforced by a broker shared between real users (issue 4 §6): run as root, with
//! the users `npfs-test-a` and `npfs-test-b` (and the group `npfs-test-g`, of which only B is
//! a member) created when missing. Each test starts `npfsd --shared` in a 0755 directory and
//! drives *peers*: this test binary re-executed (`peer_main`) with dropped privileges
//! (setgroups, setgid, setuid in `pre_exec`), reading commands on stdin and answering
//! `@@ ...` lines. Without root the tests are skipped (CI runs them as root).

mod common;

use std::io::{BufRead, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Peer, PEER_DIR_ENV};
use npfs::broker::{
    BrokerConfig, BrokerConn, BrokerError, ChannelEvent, InstanceChannel, OpenOptions, RemoteClient,
};
use npfs_core::config::parse_create;
use npfs_core::consts::*;
use npfs_core::name::PipeName;
use npfs_core::security::{SecurityDescriptor, Sid};
use npfs_proto::broker::{decode_frame, CreateRequest, Reply, Request};

const NPFSD: &str = env!("CARGO_BIN_EXE_npfsd");
const USER_A: &str = "npfs-test-a";
const USER_B: &str = "npfs-test-b";
const GROUP: &str = "npfs-test-g";

// ------------------------------------------------------------------ the peer side

/// Not a test: the body of a peer process (runs only with `NPFS_PEER_DIR` set).
#[test]
fn peer_main() {
    let Some(dir) = std::env::var_os(PEER_DIR_ENV) else {
        return;
    };
    let cfg = BrokerConfig::shared(PathBuf::from(dir));
    let mut chans: Vec<InstanceChannel> = Vec::new();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        let w: Vec<&str> = line.split(' ').collect();
        let out = match w[0] {
            "quit" => std::process::exit(0),
            "create" => {
                // create NAME OPENMODE PIPEMODE SDDL|-
                let params = parse_create(hex(w[2]), hex(w[3]), 4, 4096, 4096, 0).unwrap();
                let sddl = (w[4] != "-").then(|| w[4..].join(" "));
                match InstanceChannel::create_secure_with(
                    &cfg,
                    &pipe(w[1]),
                    &params,
                    sddl.as_deref(),
                ) {
                    Ok((c, _)) => {
                        chans.push(c);
                        format!("ok {}", chans.len() - 1)
                    }
                    Err(e) => err(e),
                }
            }
            "open" => {
                // open NAME ACCESS
                let r = BrokerConn::connect_with(&cfg)
                    .and_then(|mut b| b.open_with(&pipe(w[1]), hex(w[2]), &OpenOptions::default()));
                match r {
                    Ok(o) => format!("ok {:x}", o.granted_access),
                    Err(e) => err(e),
                }
            }
            "getsec" => {
                let r = BrokerConn::connect_with(&cfg)
                    .and_then(|mut b| b.get_security(&pipe(w[1]), hex(w[2])));
                match r {
                    Ok(s) => format!("ok {s}"),
                    Err(e) => err(e),
                }
            }
            "setsec" => {
                let r = BrokerConn::connect_with(&cfg)
                    .and_then(|mut b| b.set_security(&pipe(w[1]), hex(w[2]), &w[3..].join(" ")));
                match r {
                    Ok(()) => "ok".to_owned(),
                    Err(e) => err(e),
                }
            }
            "cgetsec" => match chans[w[1].parse::<usize>().unwrap()].get_security(hex(w[2])) {
                Ok(s) => format!("ok {s}"),
                Err(e) => err(e),
            },
            "csetsec" => {
                let c = &mut chans[w[1].parse::<usize>().unwrap()];
                match c.set_security(hex(w[2]), &w[3..].join(" ")) {
                    Ok(()) => "ok".to_owned(),
                    Err(e) => err(e),
                }
            }
            "event" => {
                let c = &mut chans[w[1].parse::<usize>().unwrap()];
                match c.poll_event(Some(Duration::from_secs(10))) {
                    Ok(Some(ChannelEvent::Connected { info, .. })) => {
                        let cr = c.client_credentials(info.conn_id).unwrap();
                        format!(
                            "ok uid={} gid={} remote={} anon={}",
                            cr.uid, cr.security.gid, cr.security.remote, cr.security.anonymous
                        )
                    }
                    other => format!("bad {other:?}"),
                }
            }
            "forge" => {
                // forge NAME UID: an Open claiming to be remote user UID.
                let req = Request::Open {
                    name: full(w[1]),
                    desired_access: GENERIC_READ | GENERIC_WRITE,
                    remote: Some(RemoteClient::User {
                        uid: w[2].parse().unwrap(),
                        gid: w[2].parse().unwrap(),
                        groups: vec![0],
                    }),
                    sqos: 0,
                    computer_name: String::new(),
                };
                raw_call(&cfg, &req)
            }
            "forge-anon" => {
                let req = Request::Open {
                    name: full(w[1]),
                    desired_access: GENERIC_READ,
                    remote: Some(RemoteClient::Anonymous),
                    sqos: 0,
                    computer_name: String::new(),
                };
                raw_call(&cfg, &req)
            }
            "rereg" => {
                // A reregistration (after a "broker restart") of somebody else's pipe.
                let req = Request::Reregister {
                    name: full(w[1]),
                    attrs: parse_create(3, 0, 4, 4096, 4096, 0).unwrap().attrs,
                    state: npfs::broker::InstanceState::Listening,
                    epoch: 0,
                    sddl: None,
                    reject_remote: false,
                    desired_access: 0,
                };
                raw_call(&cfg, &req)
            }
            other => format!("unknown command {other}"),
        };
        println!("@@ {out}");
        std::io::stdout().flush().unwrap();
    }
    std::process::exit(0);
}

fn hex(s: &str) -> u32 {
    u32::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

fn full(name: &str) -> String {
    format!("\\\\.\\pipe\\{name}")
}

fn pipe(name: &str) -> PipeName {
    PipeName::parse_for_create(Some(&full(name))).unwrap()
}

fn err(e: BrokerError) -> String {
    match e {
        BrokerError::Win32(w) => format!("err {}", w.0),
        BrokerError::Io(e) => format!("io {e}"),
    }
}

/// Send one raw request on a fresh connection; the reply as `ok ...`, `err N` or `closed`.
fn raw_call(cfg: &BrokerConfig, req: &Request) -> String {
    let mut s = UnixStream::connect(cfg.runtime_dir.join("npfsd.sock")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&req.encode().unwrap()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Ok(Some((f, _))) = decode_frame(&buf) {
            return match Reply::decode(f) {
                Ok(Reply::Error(e)) => format!("err {}", e.0),
                Ok(r) => format!("ok {r:?}"),
                Err(e) => format!("bad {e}"),
            };
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return "closed".to_owned(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

// ------------------------------------------------------------------ the harness

/// A test user: name, uid, primary gid, supplementary gids.
#[derive(Clone, Debug)]
struct User {
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Create the group and users when missing (idempotent; serialized within this binary).
fn users() -> (User, User) {
    static SETUP: Mutex<()> = Mutex::new(());
    let _g = SETUP.lock().unwrap_or_else(|p| p.into_inner());
    if run("getent", &["group", GROUP]).is_none() {
        run("groupadd", &["-f", GROUP]).expect("groupadd");
    }
    for (u, extra) in [(USER_A, None), (USER_B, Some(GROUP))] {
        if run("id", &["-u", u]).is_none() {
            let mut args = vec!["-M", "-s", "/usr/sbin/nologin"];
            if let Some(g) = extra {
                args.extend(["-G", g]);
            }
            args.push(u);
            run("useradd", &args).unwrap_or_else(|| panic!("useradd {u}"));
        }
        if let Some(g) = extra {
            run("usermod", &["-aG", g, u]).expect("usermod");
        }
    }
    let user = |name: &str| {
        let n = |flag: &str| -> u32 { run("id", &[flag, name]).unwrap().parse().unwrap() };
        User {
            uid: n("-u"),
            gid: n("-g"),
            groups: run("id", &["-G", name])
                .unwrap()
                .split_whitespace()
                .map(|g| g.parse().unwrap())
                .collect(),
        }
    };
    (user(USER_A), user(USER_B))
}

fn gid_of(group: &str) -> u32 {
    run("getent", &["group", group])
        .unwrap()
        .split(':')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap()
}

/// A broker shared between users (`npfsd --shared`) in its own 0755 directory.
struct Broker {
    dir: PathBuf,
    child: Child,
    cfg: BrokerConfig,
}

impl Broker {
    fn start(tag: &str) -> Broker {
        let dir = std::env::temp_dir().join(format!("npfsd-sec-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let child = Command::new(NPFSD)
            .args([
                "--shared",
                "--foreground",
                "--idle-exit-ms",
                "600000",
                "--runtime-dir",
            ])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let sock = dir.join("npfsd.sock");
        let end = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&sock).is_err() {
            assert!(Instant::now() < end, "npfsd --shared did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Broker {
            cfg: BrokerConfig::shared(&dir),
            dir,
            child,
        }
    }

    fn peer(&self, u: &User) -> Peer {
        Peer::spawn(&self.dir, u.uid, u.gid, u.groups.clone())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Skip (with a note) unless root; else the users and a fresh shared broker.
fn setup(tag: &str) -> Option<(User, User, Broker)> {
    if !is_root() {
        eprintln!("skipped: the cross-user security tests need root (CI runs them as root)");
        return None;
    }
    let (a, b) = users();
    Some((a, b, Broker::start(tag)))
}

const DUPLEX: &str = "3";
const BYTE: &str = "0";
const GR: &str = "80000000";
const GW: &str = "40000000";
const GRW: &str = "c0000000";
const DENIED: &str = "err 5";

// ------------------------------------------------------------------ the tests

/// Squatting refused; the default DACL gives other users read access only; the default
/// descriptor's owner is the creator and its group the creator's primary group
/// (conformance test_security_info); `npfs list` shows the owner.
#[test]
fn squatting_refused_and_default_dacl_read_only() {
    let Some((a, b, broker)) = setup("default") else {
        return;
    };
    let mut pa = broker.peer(&a);
    let mut pb = broker.peer(&b);
    assert_eq!(pa.cmd(&format!("create sq {DUPLEX} {BYTE} -")), "ok 0");
    assert_eq!(pa.cmd(&format!("create sq {DUPLEX} {BYTE} -")), "ok 1");
    // B cannot add an instance to A's pipe (nor by reregistering it).
    assert_eq!(pb.cmd(&format!("create sq {DUPLEX} {BYTE} -")), DENIED);
    assert_eq!(pb.cmd(&format!("create sq 1 {BYTE} -")), DENIED);
    assert_eq!(pb.cmd("rereg sq"), DENIED);
    // B may read, not write.
    assert_eq!(pb.cmd(&format!("open sq {GW}")), DENIED);
    assert_eq!(pb.cmd(&format!("open sq {GRW}")), DENIED);
    assert_eq!(
        pb.cmd(&format!("open sq {GR}")),
        format!("ok {FILE_GENERIC_READ:x}")
    );
    // A itself may write.
    assert!(pa.cmd(&format!("open sq {GRW}")).starts_with("ok "));
    // Root (LocalSystem, Administrators) may add an instance.
    let mut params = parse_create(3, 0, 4, 4096, 4096, 0).unwrap();
    params.options.extra_access = 0;
    let (_root_chan, _) = InstanceChannel::create_with(&broker.cfg, &pipe("sq"), &params).unwrap();
    // The descriptor: owner A, group A's primary group, the documented DACL.
    let mut root = BrokerConn::connect_with(&broker.cfg).unwrap();
    let sddl = root.get_security(&pipe("sq"), 7).unwrap();
    assert_eq!(
        sddl,
        format!(
            "O:S-1-22-1-{u}G:S-1-22-2-{g}D:(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;S-1-22-1-{u})(A;;GR;;;WD)(A;;GR;;;AN)",
            u = a.uid,
            g = a.gid
        )
    );
    let list = root.list().unwrap();
    let sq = list
        .iter()
        .find(|p| p.display_name.ends_with("\\sq"))
        .unwrap();
    assert_eq!(sq.owner_uid, a.uid);
    assert_eq!(sq.instances, 3);
}

/// A custom SDDL granting a group (resolved by name): B, a member, may read and write; B
/// without its supplementary groups may not — the broker reads them from the kernel
/// (SO_PEERGROUPS). The group may not create instances.
#[test]
fn custom_sddl_grants_a_group() {
    let Some((a, b, broker)) = setup("group") else {
        return;
    };
    assert!(b.groups.contains(&gid_of(GROUP)));
    let mut pa = broker.peer(&a);
    let mut pb = broker.peer(&b);
    let mut pb_bare = Peer::spawn(&broker.dir, b.uid, b.gid, vec![b.gid]);
    let sddl = format!("D:P(A;;GA;;;CO)(A;;0x12019b;;;{GROUP})");
    assert_eq!(pa.cmd(&format!("create g {DUPLEX} {BYTE} {sddl}")), "ok 0");
    assert_eq!(pa.cmd(&format!("create g {DUPLEX} {BYTE} -")), "ok 1");
    assert!(pb.cmd(&format!("open g {GRW}")).starts_with("ok "));
    assert_eq!(pb_bare.cmd(&format!("open g {GR}")), DENIED);
    assert_eq!(pb.cmd(&format!("create g {DUPLEX} {BYTE} -")), DENIED);
    // The name was stored as the group's SID; CO became A.
    let got = pa.cmd("getsec g 4");
    assert_eq!(
        got,
        format!(
            "ok D:P(A;;GA;;;S-1-22-1-{})(A;;0x12019b;;;S-1-22-2-{})",
            a.uid,
            gid_of(GROUP)
        )
    );
}

/// Deny ACEs come before allow ACEs: Everyone may connect, but not B.
#[test]
fn deny_ace_before_allow() {
    let Some((a, b, broker)) = setup("deny") else {
        return;
    };
    let mut pa = broker.peer(&a);
    let mut pb = broker.peer(&b);
    let sddl = format!("D:(D;;GA;;;{USER_B})(A;;GA;;;WD)");
    assert_eq!(pa.cmd(&format!("create d {DUPLEX} {BYTE} {sddl}")), "ok 0");
    assert_eq!(pa.cmd(&format!("create d {DUPLEX} {BYTE} -")), "ok 1");
    assert_eq!(pb.cmd(&format!("open d {GR}")), DENIED);
    let mut root = BrokerConn::connect_with(&broker.cfg).unwrap();
    root.open(&pipe("d"), GENERIC_READ | GENERIC_WRITE).unwrap();
}

/// The owner-only preset: nobody else but LocalSystem.
#[test]
fn owner_only_preset() {
    let Some((a, b, broker)) = setup("owner") else {
        return;
    };
    let mut pa = broker.peer(&a);
    let mut pb = broker.peer(&b);
    let sddl = SecurityDescriptor::owner_only(Sid::unix_user(a.uid)).to_sddl();
    assert_eq!(pa.cmd(&format!("create o {DUPLEX} {BYTE} {sddl}")), "ok 0");
    assert_eq!(pa.cmd(&format!("create o {DUPLEX} {BYTE} -")), "ok 1");
    assert_eq!(pb.cmd(&format!("open o {GR}")), DENIED);
    assert_eq!(pb.cmd("getsec o 4"), DENIED);
    assert!(pa.cmd(&format!("open o {GRW}")).starts_with("ok "));
    let mut root = BrokerConn::connect_with(&broker.cfg).unwrap();
    root.open(&pipe("o"), GENERIC_READ).unwrap();
}

/// A client cannot forge its identity: a frame claiming to be another (remote) user or an
/// anonymous remote client is refused for anyone but root, and the server learns the
/// client's kernel uid and gid.
#[test]
fn identity_cannot_be_forged() {
    let Some((a, b, broker)) = setup("forge") else {
        return;
    };
    let mut pa = broker.peer(&a);
    let mut pb = broker.peer(&b);
    let sddl = format!("D:(A;;GA;;;{USER_A})(A;;GR;;;{USER_B})");
    assert_eq!(pa.cmd(&format!("create f {DUPLEX} {BYTE} {sddl}")), "ok 0");
    assert_eq!(pb.cmd(&format!("forge f {}", a.uid)), DENIED);
    assert_eq!(pb.cmd("forge f 0"), DENIED);
    assert_eq!(pb.cmd("forge-anon f"), DENIED);
    // Its own open works, and A's server sees B's real credentials.
    assert!(pb.cmd(&format!("open f {GR}")).starts_with("ok "));
    assert_eq!(
        pa.cmd("event 0"),
        format!("ok uid={} gid={} remote=false anon=false", b.uid, b.gid)
    );
    // Hostile bytes claiming root after a valid frame only drop that connection.
    let mut s = UnixStream::connect(broker.dir.join("npfsd.sock")).unwrap();
    let mut junk = Request::Create(CreateRequest {
        name: full("f"),
        params: parse_create(3, 0, 4, 4096, 4096, 0).unwrap(),
        sddl: None,
    })
    .encode()
    .unwrap();
    junk.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
    junk[0] = junk[0].wrapping_add(8);
    s.write_all(&junk).unwrap();
    assert!(pb.cmd(&format!("open f {GW}")) == DENIED);
}

/// GetSecurity / SetSecurity permissions, by name and through a server handle; one
/// descriptor for the whole pipe (conformance test_security_info).
#[test]
fn get_and_set_security_permissions() {
    let Some((a, b, broker)) = setup("getset") else {
        return;
    };
    let mut pa = broker.peer(&a);
    let mut pb = broker.peer(&b);
    // Instance 0 asks for WRITE_OWNER (0x80000), instance 1 for nothing extra.
    assert_eq!(pa.cmd(&format!("create s 80003 {BYTE} -")), "ok 0");
    assert_eq!(pa.cmd(&format!("create s {DUPLEX} {BYTE} -")), "ok 1");
    // Everyone reads the default descriptor (READ_CONTROL is in GENERIC_READ).
    assert!(pb.cmd("getsec s 7").starts_with("ok O:"));
    // B may not change it.
    assert_eq!(pb.cmd("setsec s 4 D:(A;;GA;;;WD)"), DENIED);
    assert_eq!(pb.cmd("setsec s 2 G:WD"), DENIED);
    // Through the handle with WRITE_OWNER: the group, seen by the other instance and by B.
    assert_eq!(pa.cmd("csetsec 0 2 G:WD"), "ok");
    assert_eq!(pa.cmd("cgetsec 1 2"), "ok G:WD");
    assert_eq!(pb.cmd("getsec s 2"), "ok G:WD");
    // A handle without WRITE_DAC cannot change the DACL; by name the owner can.
    assert_eq!(pa.cmd("csetsec 1 4 D:(A;;GA;;;WD)"), DENIED);
    assert_eq!(pa.cmd("csetsec 0 4 D:(A;;GA;;;WD)"), DENIED);
    let dacl = format!("D:(A;;GA;;;{USER_A})(A;;0x12019b;;;{USER_B})");
    assert_eq!(pa.cmd(&format!("setsec s 4 {dacl}")), "ok");
    assert!(pb.cmd(&format!("open s {GRW}")).starts_with("ok "));
    // Owner: A may not give the pipe to B; root may.
    assert_eq!(pa.cmd(&format!("setsec s 1 O:{USER_B}")), "err 1307");
    let mut root = BrokerConn::connect_with(&broker.cfg).unwrap();
    root.set_security(&pipe("s"), 1, &format!("O:S-1-22-1-{}", b.uid))
        .unwrap();
    let list = root.list().unwrap();
    assert_eq!(list[0].owner_uid, b.uid);
    // A still holds WRITE_OWNER through its GA ACE, but Everyone cannot own anything.
    assert_eq!(pa.cmd("setsec s 1 O:WD"), "err 1307");
    // B, now the owner, holds WRITE_DAC implicitly but no WRITE_OWNER.
    assert_eq!(pb.cmd(&format!("setsec s 1 O:{USER_B}")), DENIED);
    assert_eq!(pb.cmd("setsec s 4 D:(A;;GA;;;WD)"), "ok");
    assert_eq!(pa.cmd("getsec s 0"), "err 87");
}

/// Another instance created WITH its own descriptor while the pipe exists fails with
/// ERROR_ACCESS_DENIED (conformance test_security_info), even for the owner and root; once
/// the pipe is gone the same call succeeds with that descriptor.
#[test]
fn additional_instance_with_descriptor_denied() {
    let Some((a, _b, broker)) = setup("addsd") else {
        return;
    };
    let mut pa = broker.peer(&a);
    let params = parse_create(3, 0, 4, 4096, 4096, 0).unwrap();
    let (first, _) = InstanceChannel::create_with(&broker.cfg, &pipe("x"), &params).unwrap();
    assert_eq!(pa.cmd(&format!("create x {DUPLEX} {BYTE} G:WD")), DENIED);
    let r = InstanceChannel::create_secure_with(&broker.cfg, &pipe("x"), &params, Some("G:WD"));
    assert!(matches!(r, Err(BrokerError::Win32(e)) if e.0 == 5));
    drop(first);
    assert_eq!(pa.cmd(&format!("create x {DUPLEX} {BYTE} G:WD")), "ok 0");
    assert_eq!(pa.cmd("getsec x 3"), format!("ok O:S-1-22-1-{}G:WD", a.uid));
}

/// PIPE_REJECT_REMOTE_CLIENTS refuses remote opens (only root may open on a remote
/// client's behalf); an anonymous remote client gets the default DACL's read access.
#[test]
fn remote_clients() {
    let Some((a, _b, broker)) = setup("remote") else {
        return;
    };
    let mut pa = broker.peer(&a);
    assert_eq!(pa.cmd(&format!("create r {DUPLEX} 8 -")), "ok 0");
    assert_eq!(pa.cmd(&format!("create open {DUPLEX} {BYTE} -")), "ok 1");
    assert_eq!(pa.cmd(&format!("create open {DUPLEX} {BYTE} -")), "ok 2");
    let mut root = BrokerConn::connect_with(&broker.cfg).unwrap();
    let anon = OpenOptions {
        remote: Some(RemoteClient::Anonymous),
        sqos: 0,
        computer_name: String::new(),
    };
    let as_a = OpenOptions {
        remote: Some(RemoteClient::User {
            uid: a.uid,
            gid: a.gid,
            groups: Vec::new(),
        }),
        sqos: 0x0012_0000,
        computer_name: String::new(),
    };
    let code = |r: Result<npfs::broker::OpenedInfo, BrokerError>| match r {
        Err(BrokerError::Win32(e)) => e.0,
        Ok(_) => 0,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(code(root.open_with(&pipe("r"), GENERIC_READ, &anon)), 5);
    assert_eq!(code(root.open_with(&pipe("r"), GENERIC_READ, &as_a)), 5);
    // A local open of the same pipe works.
    assert_eq!(
        code(root.open_with(&pipe("r"), GENERIC_READ, &OpenOptions::default())),
        0
    );
    // Anonymous: read only (AN in the default DACL).
    assert_eq!(code(root.open_with(&pipe("open"), GENERIC_WRITE, &anon)), 5);
    assert_eq!(code(root.open_with(&pipe("open"), GENERIC_READ, &anon)), 0);
    assert_eq!(
        pa.cmd("event 1"),
        "ok uid=65534 gid=65534 remote=true anon=true"
    );
    // A remote A is still the owner.
    assert_eq!(
        code(root.open_with(&pipe("open"), GENERIC_READ | GENERIC_WRITE, &as_a)),
        0
    );
    assert_eq!(
        pa.cmd("event 2"),
        format!("ok uid={} gid={} remote=true anon=false", a.uid, a.gid)
    );
}

/// `--shared`: a 0755 directory and a 0666 socket; `--system` needs root.
#[test]
fn shared_modes_and_system_needs_root() {
    let Some((_a, b, broker)) = setup("modes") else {
        return;
    };
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&broker.dir), 0o755);
    assert_eq!(mode(&broker.dir.join("npfsd.sock")), 0o666);
    let dir = broker.dir.join("sys");
    let (uid, gid) = (b.uid, b.gid);
    let mut cmd = Command::new(NPFSD);
    cmd.args(["--system", "--foreground", "--runtime-dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: async-signal-safe calls only.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("requires root"));
    assert!(!dir.exists());
}
