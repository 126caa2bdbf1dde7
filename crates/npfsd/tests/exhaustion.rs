//! The broker under exhaustion (docs/SECURITY.md, "The broker under exhaustion"), with real
//! processes and measured figures:
//!
//! - `caps_leave_room_for_others` (root: CI runs as root; skipped otherwise): users flood a
//!   shared broker started with `RLIMIT_NOFILE` 1024 with idle connections; a third user's
//!   and root's CreateNamedPipe and CreateFile still succeed within 2 s;
//! - `descriptor_limit_does_not_spin`: the broker's own descriptor limit is lowered under it
//!   (prlimit); at EMFILE it refuses through its reserve descriptor with
//!   ERROR_NO_SYSTEM_RESOURCES, then stops accepting without using CPU, and resumes as soon
//!   as a descriptor is freed; one log line per episode;
//! - `slow_frames_are_dropped_and_cost_little`: 2,000 connections each holding a 64 KiB
//!   partial frame are dropped after the frame deadline, with the broker's peak RSS under
//!   64 MiB.

mod common;

use std::io::{BufRead, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use npfs::broker::{BrokerConfig, BrokerConn, BrokerError, InstanceChannel};
use npfs_core::consts::*;
use npfs_core::Win32Error;
use npfs_proto::broker::{Reply, Request, FRAME_HEADER, MAX_FRAME, VERSION};

const USER_A: &str = "npfs-test-a";
const USER_B: &str = "npfs-test-b";
const USER_C: &str = "npfs-test-c";
/// Two more flooders: uids without a name (the broker needs none).
const EXTRA_UIDS: [u32; 2] = [61_001, 61_002];
/// What the third user and root must be served within.
const SERVED_WITHIN: Duration = Duration::from_secs(2);

// ------------------------------------------------------------------ the peer side

/// Not a test: the body of a peer process (runs only with `PEER_DIR_ENV` set).
/// Commands on stdin, answers as `@@ ...` lines:
/// `flood N` (N idle connections, each checked with one request: `ok ADMITTED REFUSED`),
/// `create NAME`, `open NAME` (read access; `ok µS` with the time taken, or `err ...`).
#[test]
fn peer_main() {
    let Some(dir) = std::env::var_os(PEER_DIR_ENV) else {
        return;
    };
    let cfg = BrokerConfig::shared(PathBuf::from(dir));
    let mut held: Vec<BrokerConn> = Vec::new();
    let mut chans: Vec<InstanceChannel> = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let w: Vec<&str> = line.split(' ').collect();
        let out = match w[0] {
            "quit" => std::process::exit(0),
            "flood" => {
                let n: usize = w[1].parse().unwrap();
                let (mut admitted, mut refused) = (0, 0);
                let mut other = String::new();
                for _ in 0..n {
                    let r = BrokerConn::connect_with(&cfg)
                        .and_then(|mut c| c.instance_count(&name("probe")).map(|_| c));
                    match r {
                        Ok(c) => {
                            held.push(c);
                            admitted += 1;
                        }
                        Err(BrokerError::Win32(Win32Error::NO_SYSTEM_RESOURCES)) => refused += 1,
                        Err(e) => other = format!(" {e}"),
                    }
                }
                format!("ok {admitted} {refused}{other}")
            }
            "instances" => {
                // N instances of one pipe over one kept connection, each channel detached.
                let n: usize = w[1].parse().unwrap();
                let (mut admitted, mut refused) = (0, 0);
                let mut other = String::new();
                match BrokerConn::connect_with(&cfg) {
                    Ok(mut b) => {
                        for _ in 0..n {
                            match b.create_instance(&name(w[2]), &duplex(255), None) {
                                Ok((c, _)) => {
                                    chans.push(c);
                                    admitted += 1;
                                }
                                Err(BrokerError::Win32(Win32Error::NO_SYSTEM_RESOURCES)) => {
                                    refused += 1
                                }
                                Err(e) => other = format!(" {e}"),
                            }
                        }
                        held.push(b);
                    }
                    Err(e) => other = format!(" {e}"),
                }
                format!("ok {admitted} {refused}{other}")
            }
            "create" => {
                let start = Instant::now();
                match InstanceChannel::create_with(&cfg, &name(w[1]), &duplex(4)) {
                    Ok((c, _)) => {
                        chans.push(c);
                        format!("ok {}", start.elapsed().as_micros())
                    }
                    Err(e) => format!("err {e}"),
                }
            }
            "open" => {
                let start = Instant::now();
                let r = BrokerConn::connect_with(&cfg)
                    .and_then(|mut b| b.open(&name(w[1]), GENERIC_READ));
                match r {
                    Ok(_) => format!("ok {}", start.elapsed().as_micros()),
                    Err(e) => format!("err {e}"),
                }
            }
            other => format!("unknown command {other}"),
        };
        println!("@@ {out}");
        std::io::stdout().flush().unwrap();
    }
    std::process::exit(0);
}

// ------------------------------------------------------------------ the harness

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The uid and gid of `user`, created when missing (serialized within this binary).
fn user(name: &str) -> (u32, u32) {
    static SETUP: Mutex<()> = Mutex::new(());
    let _g = SETUP.lock().unwrap_or_else(|p| p.into_inner());
    if run("id", &["-u", name]).is_none() {
        run("useradd", &["-M", "-s", "/usr/sbin/nologin", name])
            .unwrap_or_else(|| panic!("useradd {name}"));
    }
    let n = |flag: &str| -> u32 { run("id", &[flag, name]).unwrap().parse().unwrap() };
    (n("-u"), n("-g"))
}

impl Peer {
    /// `flood N`: (admitted, refused).
    fn flood(&mut self, n: usize) -> (usize, usize) {
        let a = self.cmd(&format!("flood {n}"));
        let w: Vec<&str> = a.split(' ').collect();
        assert!(w[0] == "ok" && w.len() == 3, "flood: {a}");
        (w[1].parse().unwrap(), w[2].parse().unwrap())
    }

    /// `instances N PIPE`: (admitted, refused).
    fn instances(&mut self, n: usize, pipe: &str) -> (usize, usize) {
        let a = self.cmd(&format!("instances {n} {pipe}"));
        let w: Vec<&str> = a.split(' ').collect();
        assert!(w[0] == "ok" && w.len() == 3, "instances: {a}");
        (w[1].parse().unwrap(), w[2].parse().unwrap())
    }

    /// `create`/`open`: the time it took; panics on failure.
    fn timed(&mut self, line: &str) -> Duration {
        let a = self.cmd(line);
        let us = a
            .strip_prefix("ok ")
            .unwrap_or_else(|| panic!("{line}: {a}"));
        Duration::from_micros(us.parse().unwrap())
    }
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let r = f();
    (r, start.elapsed())
}

/// Root's CreateNamedPipe of `mine` and CreateFile of `theirs` (read access), each timed.
fn root_create_and_open(
    cfg: &BrokerConfig,
    mine: &str,
    theirs: &str,
) -> (InstanceChannel, Duration, Duration) {
    let (r, create) = timed(|| InstanceChannel::create_with(cfg, &name(mine), &duplex(4)));
    let chan = r.expect("root's CreateNamedPipe under flood").0;
    let (r, open) = timed(|| {
        BrokerConn::connect_with(cfg).and_then(|mut b| b.open(&name(theirs), GENERIC_READ))
    });
    r.expect("root's CreateFile under flood");
    (chan, create, open)
}

// ------------------------------------------------------------------ the tests

/// Users flooding a shared broker with idle connections hit their caps (224 each at
/// `RLIMIT_NOFILE` 1024, refused with ERROR_NO_SYSTEM_RESOURCES); a third user and root
/// still create and open pipes within 2 s — also once four flooders fill the general pool
/// and only the reserve is left. Each flooding uid is logged once.
#[test]
fn caps_leave_room_for_others() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: the cross-user exhaustion test needs root (CI runs it as root)");
        return;
    }
    within(LIMIT, || {
        let (a, ga) = user(USER_A);
        let (b, gb) = user(USER_B);
        let (c, gc) = user(USER_C);
        let broker = ForegroundBroker::start("caps", true, Some(1024));
        let limits = npfsd::state::Limits::for_nofile(1024, true);
        let mut pa = Peer::spawn(&broker.dir, a, ga, Vec::new());
        let mut pb = Peer::spawn(&broker.dir, b, gb, Vec::new());
        let mut pc = Peer::spawn(&broker.dir, c, gc, Vec::new());

        // Two users flood: each stops at its cap.
        let ((fa, fb), flood_time) = timed(|| (pa.flood(300), pb.flood(300)));
        assert_eq!(fa, (limits.per_uid, 300 - limits.per_uid), "user A's flood");
        assert_eq!(fb, (limits.per_uid, 300 - limits.per_uid), "user B's flood");
        let c_create = pc.timed("create c-pipe");
        let (_root_chan, r_create, r_open) = root_create_and_open(&broker.cfg, "r-pipe", "c-pipe");
        let c_open = pc.timed("open r-pipe");
        let two = [c_create, c_open, r_create, r_open];
        eprintln!(
            "two users flooding ({} + {} idle connections, made in {flood_time:.2?}): third \
             user create {c_create:?} open {c_open:?}, root create {r_create:?} open {r_open:?}",
            fa.0, fb.0
        );
        assert!(two.iter().all(|t| *t < SERVED_WITHIN), "{two:?}");

        // Two more flooders fill the general pool: the rest is the reserve.
        let mut extra: Vec<Peer> = EXTRA_UIDS
            .iter()
            .map(|&u| Peer::spawn(&broker.dir, u, u, Vec::new()))
            .collect();
        let fx: Vec<(usize, usize)> = extra.iter_mut().map(|p| p.flood(300)).collect();
        let flooded = fa.0 + fb.0 + fx.iter().map(|f| f.0).sum::<usize>();
        assert!(
            flooded <= limits.total - limits.reserve,
            "flooders got into the reserve: {flooded}"
        );
        assert!(
            fx[1].0 < limits.per_uid,
            "the fourth flooder should have met the reserve: {fx:?}"
        );
        let c_create = pc.timed("create c-pipe2");
        let (_root_chan2, r_create, r_open) =
            root_create_and_open(&broker.cfg, "r-pipe2", "c-pipe2");
        let c_open = pc.timed("open r-pipe2");
        let four = [c_create, c_open, r_create, r_open];
        eprintln!(
            "four flooders ({flooded} connections, general pool {} of {}): third user create \
             {c_create:?} open {c_open:?}, root create {r_create:?} open {r_open:?}",
            limits.total - limits.reserve,
            limits.total
        );
        assert!(four.iter().all(|t| *t < SERVED_WITHIN), "{four:?}");

        // One line per flooding uid, however many connections it was refused.
        let log = broker.log_text();
        for uid in [a, b].into_iter().chain(EXTRA_UIDS) {
            let n = log
                .lines()
                .filter(|l| {
                    l.contains("connection cap reached") && l.contains(&format!("uid={uid} "))
                })
                .count();
            assert_eq!(n, 1, "uid {uid} logged {n} times:\n{log}");
        }
        drop(extra);
    });
}

/// Channels that come with CreateNamedPipe's reply over one kept connection count against
/// the caps as connections do: a user creating instances without end over one connection is
/// refused (ERROR_NO_SYSTEM_RESOURCES) at its cap — the connection itself holds one slot —
/// and root is still served within 2 s.
#[test]
fn detached_channels_count_against_the_caps() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: the cross-user exhaustion test needs root (CI runs it as root)");
        return;
    }
    within(LIMIT, || {
        let (a, ga) = user(USER_A);
        let broker = ForegroundBroker::start("detcaps", true, Some(1024));
        let limits = npfsd::state::Limits::for_nofile(1024, true);
        let mut pa = Peer::spawn(&broker.dir, a, ga, Vec::new());
        let (admitted, refused) = pa.instances(300, "a-many");
        assert_eq!(
            (admitted, refused),
            (limits.per_uid - 1, 300 - (limits.per_uid - 1)),
            "user A's instances over one connection"
        );
        let (_chan, create, open) = root_create_and_open(&broker.cfg, "r-det", "a-many");
        assert!(
            create < SERVED_WITHIN && open < SERVED_WITHIN,
            "root: create {create:?} open {open:?}"
        );
    });
}

/// One raw request on a new connection; the reply within `limit`.
fn raw_request(b: &ForegroundBroker, limit: Duration) -> (UnixStream, Option<Reply>) {
    let mut s = UnixStream::connect(b.socket()).unwrap();
    let req = Request::InstanceCount {
        name: r"\\.\pipe\probe".into(),
    };
    // A refused connection may be closed before the request is written (EPIPE): its
    // answer is there all the same.
    let _ = s.write_all(&req.encode().unwrap());
    let r = read_reply(&mut s, limit);
    (s, r)
}

/// At EMFILE the broker refuses new connections through its reserve descriptor
/// (ERROR_NO_SYSTEM_RESOURCES at once, not a hang); when even that is impossible it stops
/// accepting, using no CPU, until a descriptor is freed — woken by that, long before its
/// 5 s probe. Existing connections are served throughout. One warning per episode.
#[test]
fn descriptor_limit_does_not_spin() {
    within(LIMIT, || {
        let broker = ForegroundBroker::start("emfile", false, Some(256));
        let pid = broker.pid();
        let mut idle: Vec<BrokerConn> = (0..20)
            .map(|_| {
                let mut c = BrokerConn::connect_with(&broker.cfg).unwrap();
                c.instance_count(&name("probe")).unwrap();
                c
            })
            .collect();

        // The limit at the lowest free descriptor: the next accept fails with EMFILE, and
        // only the reserve makes room.
        let fds = open_fds(pid);
        let lowest_free = (0..).find(|i| !fds.contains(i)).unwrap();
        broker.set_soft_nofile(lowest_free as u64);
        let mut worst = Duration::ZERO;
        for _ in 0..10 {
            let ((_s, r), took) = timed(|| raw_request(&broker, Duration::from_secs(2)));
            assert!(
                matches!(r, Some(Reply::Error(Win32Error::NO_SYSTEM_RESOURCES))),
                "refused at EMFILE: {r:?}"
            );
            worst = worst.max(took);
        }
        // Through the library: the broker's parting words become the Win32 code.
        let r = BrokerConn::connect_with(&broker.cfg).and_then(|mut c| c.list());
        assert!(
            matches!(r, Err(BrokerError::Win32(Win32Error::NO_SYSTEM_RESOURCES))),
            "{r:?}"
        );
        // Existing connections are still served.
        assert_eq!(idle[0].instance_count(&name("probe")).unwrap(), 0);

        // The limit below every descriptor: the reserve cannot even be reopened. Pending
        // connections wait in the backlog and the broker sleeps.
        broker.set_soft_nofile(3);
        let pending: Vec<UnixStream> = (0..5)
            .map(|_| {
                let mut s = UnixStream::connect(broker.socket()).unwrap();
                let req = Request::InstanceCount {
                    name: r"\\.\pipe\probe".into(),
                };
                s.write_all(&req.encode().unwrap()).unwrap();
                s
            })
            .collect();
        let paused_at = Instant::now();
        std::thread::sleep(Duration::from_millis(300));
        let cpu0 = cpu_ticks(pid);
        std::thread::sleep(Duration::from_millis(1500));
        let cpu1 = cpu_ticks(pid);
        eprintln!(
            "at EMFILE with {} connections pending: {} ms of CPU in 1.5 s; refusals through \
             the reserve took at most {worst:.2?}",
            pending.len(),
            (cpu1 - cpu0) * 10
        );
        assert!(
            cpu1 - cpu0 <= 5,
            "the broker spins at EMFILE: {} ticks",
            cpu1 - cpu0
        );
        for s in &pending {
            let mut pfd = [rustix::event::PollFd::new(s, rustix::event::PollFlags::IN)];
            let zero = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            assert_eq!(rustix::event::poll(&mut pfd, Some(&zero)).unwrap(), 0);
        }

        // Room again (nothing announces that), and one descriptor freed (that wakes it).
        broker.set_soft_nofile(256);
        let freed_at = Instant::now();
        drop(idle.pop());
        for mut s in pending {
            let r = read_reply(&mut s, Duration::from_secs(3));
            assert!(matches!(r, Some(Reply::Count(0))), "served after: {r:?}");
        }
        let woke = freed_at.elapsed();
        eprintln!("accepting again {woke:.2?} after a descriptor was freed");
        assert!(
            paused_at.elapsed() < npfsd::server::PAUSE_PROBE - Duration::from_millis(500),
            "woken by the probe, not by the freed descriptor ({woke:?})"
        );

        // One episode: one warning when it began, one line when it ended.
        let log = broker.log_text();
        let began = log.matches("at the descriptor limit;").count();
        let ended = log.matches("accepting connections again").count();
        assert_eq!((began, ended), (1, 1), "{log}");
    });
}

/// A frame's length and version, promising `MAX_FRAME` bytes, and all but 536 of them.
fn partial_frame() -> Vec<u8> {
    let mut f = (MAX_FRAME as u32).to_le_bytes().to_vec();
    f.push(VERSION);
    f.resize(FRAME_HEADER + MAX_FRAME - 536, 0x55);
    f
}

/// 2,000 connections (fewer when this process may not open that many) each send a 64 KiB
/// partial frame and stall: the broker's peak RSS stays under 64 MiB, none is dropped before
/// the 5 s frame deadline and all are by it (the socket sees its end); a frame completed in
/// time is answered, and other clients are served meanwhile.
#[test]
fn slow_frames_are_dropped_and_cost_little() {
    within(LIMIT, || {
        let own = raise_own_nofile();
        let n = 2000.min(own.saturating_sub(200) as usize / 2);
        let broker = ForegroundBroker::start("slow", false, None);
        let pid = broker.pid();
        let mut client = BrokerConn::connect_with(&broker.cfg).unwrap();
        client.list().unwrap();
        let rss0 = status_kib(pid, "VmRSS");

        // One slow but punctual client: half a request now, the rest in a second.
        let req = Request::InstanceCount {
            name: r"\\.\pipe\probe".into(),
        }
        .encode()
        .unwrap();
        let mut punctual = UnixStream::connect(broker.socket()).unwrap();
        punctual.write_all(&req[..req.len() / 2]).unwrap();

        let frame = partial_frame();
        let (slow, sent_in) = timed(|| {
            (0..n)
                .map(|_| {
                    let mut s = UnixStream::connect(broker.socket()).unwrap();
                    s.write_all(&frame).unwrap();
                    s
                })
                .collect::<Vec<_>>()
        });
        let sent = Instant::now();
        // The broker has seen them all once it answers a request sent after them.
        let (r, served) = timed(|| client.list());
        r.unwrap();
        assert!(served < SERVED_WITHIN, "a client waited {served:?}");
        std::thread::sleep(Duration::from_millis(1000));
        punctual.write_all(&req[req.len() / 2..]).unwrap();
        assert!(matches!(
            read_reply(&mut punctual, Duration::from_secs(3)),
            Some(Reply::Count(0))
        ));
        let rss = status_kib(pid, "VmRSS");

        // None dropped before the deadline (less what this test spent), all by it.
        let early = slow.iter().filter(|s| {
            let mut pfd = [rustix::event::PollFd::new(*s, rustix::event::PollFlags::IN)];
            let zero = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            rustix::event::poll(&mut pfd, Some(&zero)).unwrap() > 0
        });
        if sent.elapsed() < npfsd::frames::FRAME_DEADLINE - Duration::from_millis(500) {
            assert_eq!(early.count(), 0, "dropped before the deadline");
        }
        let end = sent + npfsd::frames::FRAME_DEADLINE + Duration::from_secs(10);
        for mut s in slow {
            let left = end
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            s.set_read_timeout(Some(left)).unwrap();
            let mut b = [0u8; 16];
            match s.read(&mut b) {
                Ok(0) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                other => panic!("a slow connection was not dropped: {other:?}"),
            }
        }
        let dropped_after = sent.elapsed();
        let peak = status_kib(pid, "VmHWM");
        eprintln!(
            "{n} connections with a 64 KiB partial frame each (sent in {sent_in:.2?}): broker \
             RSS {} KiB before, {} KiB with them, peak {} KiB; all dropped {dropped_after:.2?} \
             after; another client served in {served:.2?}",
            rss0, rss, peak
        );
        assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
        assert!(dropped_after >= npfsd::frames::FRAME_DEADLINE - Duration::from_millis(500));
        // Still serving.
        assert_eq!(client.list().unwrap().len(), 0);
    });
}
