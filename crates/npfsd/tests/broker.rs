//! The real broker binary, driven through `npfs::broker` (and raw sockets for hostile
//! peers). Every test has its own runtime directory and broker; every step has a time limit.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use npfs::broker::{
    BrokerConn, BrokerError, ChannelEvent, InstanceChannel, InstanceState, WaitTimeout,
};
use npfs_core::consts::*;
use npfs_core::Win32Error;
use rustix::event::{poll, PollFd, PollFlags};

fn win32(r: Result<impl std::fmt::Debug, BrokerError>) -> Win32Error {
    match r {
        Err(BrokerError::Win32(e)) => e,
        other => panic!("expected a Win32 error, got {other:?}"),
    }
}

fn expect_connected(
    chan: &mut InstanceChannel,
) -> (npfs::broker::ConnFds, npfs::broker::ConnInfo, u64) {
    match chan.poll_event(EVENT).unwrap() {
        Some(ChannelEvent::Connected { fds, info, epoch }) => (fds, info, epoch),
        other => panic!("expected Connected, got {other:?}"),
    }
}

/// §2.1/§2.4: create, open, PIPE_BUSY when no instance listens, FILE_NOT_FOUND for unknown
/// names, the instance limit, counts and listing.
#[test]
fn create_open_busy_not_found() {
    within(LIMIT, || {
        let t = TestDir::new("basic");
        let n = name("basic");
        let (mut chan, info) = InstanceChannel::create_with(&t.cfg, &n, &duplex(1)).unwrap();
        assert!(!info.already_existed);
        // The instance limit (1) is reached.
        let r = InstanceChannel::create_with(&t.cfg, &n, &duplex(1));
        assert_eq!(win32(r.map(|_| ())), Win32Error::PIPE_BUSY);

        let mut client = BrokerConn::connect_with(&t.cfg).unwrap();
        assert_eq!(client.instance_count(&n).unwrap(), 1);
        let (_fds, cinfo) = client.open(&n, RW).unwrap();
        assert_eq!(cinfo.instance_id, info.instance_id);
        assert_eq!(cinfo.client_pid, std::process::id());
        assert_eq!(cinfo.server_pid, std::process::id());
        let (_sfds, sinfo, epoch) = expect_connected(&mut chan);
        assert_eq!(sinfo.conn_id, cinfo.conn_id);
        assert_eq!(epoch, 0);

        assert_eq!(win32(client.open(&n, RW)), Win32Error::PIPE_BUSY);
        assert_eq!(
            win32(client.open(&name("nope"), RW)),
            Win32Error::FILE_NOT_FOUND
        );
        // A pipe that does not exist (any more) has no instances.
        assert_eq!(client.instance_count(&name("nope")).unwrap(), 0);
        let list = client.list().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!((list[0].instances, list[0].connected), (1, 1));

        // Closing the channel closes the instance, and the pipe with it, before the drop
        // returns.
        drop(chan);
        assert_eq!(client.instance_count(&n).unwrap(), 0);
        assert_eq!(win32(client.open(&n, RW)), Win32Error::FILE_NOT_FOUND);
    });
}

/// §2.1: another direction → ACCESS_DENIED; FIRST_PIPE_INSTANCE on an existing name →
/// ACCESS_DENIED; a second instance reports already_existed; the access must fit.
#[test]
fn create_rules_and_access() {
    within(LIMIT, || {
        let t = TestDir::new("rules");
        let n = name("Rules");
        let (_a, _) =
            InstanceChannel::create_with(&t.cfg, &n, &params(PIPE_ACCESS_OUTBOUND, 3)).unwrap();
        let (_b, info) =
            InstanceChannel::create_with(&t.cfg, &name("RULES"), &params(PIPE_ACCESS_OUTBOUND, 3))
                .unwrap();
        assert!(info.already_existed, "names are case-insensitive");
        let r = InstanceChannel::create_with(&t.cfg, &n, &params(PIPE_ACCESS_INBOUND, 3));
        assert_eq!(win32(r.map(|_| ())), Win32Error::ACCESS_DENIED);
        let first = params(PIPE_ACCESS_OUTBOUND | FILE_FLAG_FIRST_PIPE_INSTANCE, 3);
        let r = InstanceChannel::create_with(&t.cfg, &n, &first);
        assert_eq!(win32(r.map(|_| ())), Win32Error::ACCESS_DENIED);
        let mut client = BrokerConn::connect_with(&t.cfg).unwrap();
        assert_eq!(
            win32(client.open(&n, GENERIC_WRITE)),
            Win32Error::ACCESS_DENIED
        );
        client.open(&n, GENERIC_READ).unwrap();
    });
}

/// §2.4 [WINE]: clients get listening instances in the order they entered LISTENING.
#[test]
fn fifo_across_two_instances() {
    within(LIMIT, || {
        let t = TestDir::new("fifo");
        let n = name("fifo");
        let (mut a, ia) = InstanceChannel::create_with(&t.cfg, &n, &duplex(2)).unwrap();
        let (mut b, ib) = InstanceChannel::create_with(&t.cfg, &n, &duplex(2)).unwrap();
        let mut client = BrokerConn::connect_with(&t.cfg).unwrap();
        assert_eq!(client.open(&n, RW).unwrap().1.instance_id, ia.instance_id);
        assert_eq!(client.open(&n, RW).unwrap().1.instance_id, ib.instance_id);
        let (_, _, ea) = expect_connected(&mut a);
        expect_connected(&mut b);
        // a disconnects and listens again: it is now behind nobody, then b re-listens.
        a.disconnect(ea).unwrap();
        assert_eq!(win32(client.open(&n, RW)), Win32Error::PIPE_BUSY);
        assert_eq!(a.listen().unwrap(), 1);
        b.disconnect(0).unwrap();
        assert_eq!(b.listen().unwrap(), 1);
        assert_eq!(client.open(&n, RW).unwrap().1.instance_id, ia.instance_id);
        assert_eq!(client.open(&n, RW).unwrap().1.instance_id, ib.instance_id);
        assert!(matches!(
            a.poll_event(EVENT).unwrap(),
            Some(ChannelEvent::Connected { epoch: 1, .. })
        ));
    });
}

/// test_wait_pipe: not found at once, immediate success with a listener, SEM_TIMEOUT when
/// every instance is connected.
#[test]
fn wait_not_found_ready_timeout() {
    within(LIMIT, || {
        let t = TestDir::new("wait1");
        let n = name("wait1");
        let mut client = BrokerConn::connect_with(&t.cfg).unwrap();
        assert_eq!(
            win32(client.wait(&n, WaitTimeout::Millis(0))),
            Win32Error::FILE_NOT_FOUND
        );
        let (_a, _) = InstanceChannel::create_with(&t.cfg, &n, &duplex(2)).unwrap();
        client.wait(&n, WaitTimeout::Millis(1)).unwrap();
        client.wait(&n, WaitTimeout::Forever).unwrap();
        let _conn = client.open(&n, RW).unwrap();
        let start = Instant::now();
        assert_eq!(
            win32(client.wait(&n, WaitTimeout::Millis(50))),
            Win32Error::SEM_TIMEOUT
        );
        assert!(start.elapsed() >= Duration::from_millis(45));
        // The default time-out is the pipe's (0 → 50 ms).
        assert_eq!(
            win32(client.wait(&n, WaitTimeout::Default)),
            Win32Error::SEM_TIMEOUT
        );
    });
}

/// test_wait_pipe: a waiter is woken by a new instance, and by ConnectNamedPipe on a
/// disconnected one.
#[test]
fn wait_woken_by_create_and_listen() {
    within(LIMIT, || {
        let t = TestDir::new("wait2");
        let n = name("wait2");
        let (mut a, _) = InstanceChannel::create_with(&t.cfg, &n, &duplex(2)).unwrap();
        let mut client = BrokerConn::connect_with(&t.cfg).unwrap();
        let _c = client.open(&n, RW).unwrap();
        let (_, _, epoch) = expect_connected(&mut a);

        let cfg = t.cfg.clone();
        let n2 = n.clone();
        let waiter = std::thread::spawn(move || {
            let mut c = BrokerConn::connect_with(&cfg).unwrap();
            let start = Instant::now();
            c.wait(&n2, WaitTimeout::Millis(8000))
                .map(|()| start.elapsed())
        });
        // Head start for the waiter; the test is correct either way (a wait that starts
        // after the create succeeds at once).
        std::thread::sleep(Duration::from_millis(100));
        let (_b, _) = InstanceChannel::create_with(&t.cfg, &n, &duplex(2)).unwrap();
        assert!(waiter.join().unwrap().unwrap() < Duration::from_secs(5));

        // Take b too, then disconnect a: nothing listens; listen wakes the waiter.
        let _c2 = client.open(&n, RW).unwrap();
        a.disconnect(epoch).unwrap();
        let cfg = t.cfg.clone();
        let n2 = n.clone();
        let waiter = std::thread::spawn(move || {
            let mut c = BrokerConn::connect_with(&cfg).unwrap();
            c.wait(&n2, WaitTimeout::Millis(8000))
        });
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(a.listen().unwrap(), epoch + 1);
        waiter.join().unwrap().unwrap();
    });
}

/// The descriptors: a socketpair whose survivor sees HUP when the other end closes (the
/// broker kept no copy), one sealed header memfd of HEADER_SIZE shared by both sides, and
/// per direction one sealed ring memfd, shared, writable only by its writer.
#[test]
fn connection_fds() {
    within(LIMIT, || {
        let t = TestDir::new("fds");
        let n = name("fds");
        let (mut chan, _) = InstanceChannel::create_with(&t.cfg, &n, &duplex(1)).unwrap();
        let mut client = BrokerConn::connect_with(&t.cfg).unwrap();
        let (cfds, _) = client.open(&n, RW).unwrap();
        let (sfds, _, _) = expect_connected(&mut chan);
        let cs = rustix::fs::fstat(&cfds.shm).unwrap();
        let ss = rustix::fs::fstat(&sfds.shm).unwrap();
        assert_eq!(cs.st_size as usize, npfs_proto::shm::HEADER_SIZE);
        assert_eq!((cs.st_dev, cs.st_ino), (ss.st_dev, ss.st_ino));
        for dir in 0..2 {
            let c = rustix::fs::fstat(&cfds.rings[dir]).unwrap();
            let s = rustix::fs::fstat(&sfds.rings[dir]).unwrap();
            assert_eq!(c.st_size as usize, npfs_proto::shm::RING_SIZE);
            assert_eq!(
                (c.st_dev, c.st_ino),
                (s.st_dev, s.st_ino),
                "one ring, both ends"
            );
            // The writer's descriptor is read-write, the reader's read-only.
            let (writer, reader) = if dir == 0 {
                (&sfds, &cfds)
            } else {
                (&cfds, &sfds)
            };
            let mode = |fd| rustix::fs::fcntl_getfl(fd).unwrap() & rustix::fs::OFlags::ACCMODE;
            assert_eq!(mode(&writer.rings[dir]), rustix::fs::OFlags::RDWR);
            assert_eq!(mode(&reader.rings[dir]), rustix::fs::OFlags::RDONLY);
        }
        let seals = rustix::fs::fcntl_get_seals(&cfds.shm).unwrap();
        assert!(seals.contains(
            rustix::fs::SealFlags::GROW
                | rustix::fs::SealFlags::SHRINK
                | rustix::fs::SealFlags::SEAL
        ));
        // The two socket ends talk to each other.
        rustix::io::write(&cfds.sock, b"x").unwrap();
        let mut b = [0u8; 1];
        rustix::io::read(&sfds.sock, &mut b).unwrap();
        assert_eq!(&b, b"x");
        // Closing the client end: the server end sees HUP.
        drop(cfds);
        let mut pfd = [PollFd::new(&sfds.sock, PollFlags::IN)];
        let ts = rustix::event::Timespec {
            tv_sec: 10,
            tv_nsec: 0,
        };
        assert_eq!(poll(&mut pfd, Some(&ts)).unwrap(), 1);
        assert!(
            pfd[0]
                .revents()
                .intersects(PollFlags::HUP | PollFlags::RDHUP)
                || {
                    let mut b = [0u8; 1];
                    rustix::io::read(&sfds.sock, &mut b).unwrap() == 0
                }
        );
    });
}

fn raw(t: &TestDir) -> UnixStream {
    // Make sure a broker runs, then talk to it directly.
    drop(BrokerConn::connect_with(&t.cfg).unwrap());
    let s = UnixStream::connect(t.path().join("npfsd.sock")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// The broker closes the connection (read returns EOF, not a time-out).
fn assert_dropped(mut s: UnixStream) {
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("connection not dropped: {e}"),
        }
    }
}

/// CreateNamedPipe over a kept request connection (`Request::CreateDetached`): each
/// instance's channel comes with the reply, the connection goes on taking requests, the
/// channels work as connection-made ones (a client's open is pushed to the right one), and
/// closing a channel closes its instance only.
#[test]
fn detached_creates_keep_the_request_connection() {
    within(LIMIT, || {
        let t = TestDir::new("detached");
        let n = name("detached");
        let mut b = BrokerConn::connect_with(&t.cfg).unwrap();
        let (mut first, info) = b.create_instance(&n, &duplex(2), None).unwrap();
        assert!(!info.already_existed);
        let (second, info2) = b.create_instance(&n, &duplex(2), None).unwrap();
        assert!(info2.already_existed);
        assert_ne!(info.instance_id, info2.instance_id);
        assert_eq!(b.instance_count(&n).unwrap(), 2);
        assert_eq!(
            win32(b.create_instance(&n, &duplex(2), None)),
            Win32Error::PIPE_BUSY
        );
        // The connection still answers, and the first instance (FIFO) gets the client.
        let (_cfds, _) = b.open(&n, RW).unwrap();
        let (_sfds, _, _) = expect_connected(&mut first);
        drop(second);
        assert!(eventually(Duration::from_secs(10), || {
            b.instance_count(&n).unwrap() == 1
        }));
        drop(first);
        assert!(eventually(Duration::from_secs(10), || {
            b.instance_count(&n).unwrap() == 0
        }));
    });
}

/// Hostile peers: garbage, oversized, wrong version, unknown opcode, truncated frames and
/// requests out of place are dropped; other clients keep being served.
#[test]
fn hostile_frames_do_not_disturb_others() {
    within(LIMIT, || {
        let t = TestDir::new("hostile");
        let n = name("hostile");
        let (mut chan, _) = InstanceChannel::create_with(&t.cfg, &n, &duplex(255)).unwrap();
        let mut client = BrokerConn::connect_with(&t.cfg).unwrap();
        let hostile: Vec<Vec<u8>> = vec![
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            vec![0xFF, 0xFF, 0xFF, 0x7F, 1, 2],
            vec![2, 0, 0, 0, 99, 0x07],
            vec![2, 0, 0, 0, 1, 0x7E],
            vec![10, 0, 0, 0, 1, 0x08, 1],
            npfs_proto::broker::Request::Listen.encode().unwrap(),
            vec![0, 0, 0, 0],
        ];
        for bytes in hostile {
            let mut s = raw(&t);
            s.write_all(&bytes).unwrap();
            if bytes.len() == 7 && bytes[0] == 10 {
                // Truncated: the broker waits for the rest until we hang up.
                s.shutdown(std::net::Shutdown::Write).unwrap();
            }
            assert_dropped(s);
            let (_fds, _) = client.open(&n, RW).unwrap();
            let (_, _, epoch) = expect_connected(&mut chan);
            chan.disconnect(epoch).unwrap();
            chan.listen().unwrap();
        }
        // Garbage on an instance channel closes that instance only.
        let mut s = raw(&t);
        let req = npfs_proto::broker::Request::Create(npfs_proto::broker::CreateRequest {
            name: "\\\\.\\pipe\\hostile2".into(),
            params: duplex(1),
            sddl: None,
        });
        s.write_all(&req.encode().unwrap()).unwrap();
        let mut hdr = [0u8; 4];
        s.read_exact(&mut hdr).unwrap();
        let mut body = vec![0u8; u32::from_le_bytes(hdr) as usize];
        s.read_exact(&mut body).unwrap();
        assert_eq!(client.instance_count(&name("hostile2")).unwrap(), 1);
        s.write_all(b"\x01garbage").unwrap();
        assert_dropped(s);
        assert!(eventually(Duration::from_secs(10), || {
            client.instance_count(&name("hostile2")).unwrap() == 0
        }));
        assert_eq!(client.instance_count(&n).unwrap(), 1);
    });
}

/// A flood of idle connections from one process does not stop another client.
#[test]
fn connection_flood() {
    within(LIMIT, || {
        let t = TestDir::new("flood");
        let n = name("flood");
        let (_chan, _) = InstanceChannel::create_with(&t.cfg, &n, &duplex(1)).unwrap();
        let mut flood = Vec::new();
        for _ in 0..300 {
            flood.push(UnixStream::connect(t.path().join("npfsd.sock")).unwrap());
        }
        // Half of them send half a frame and stall.
        for s in flood.iter_mut().step_by(2) {
            s.write_all(&[200, 0, 0, 0, 1]).unwrap();
        }
        let mut client = BrokerConn::connect_with(&t.cfg).unwrap();
        client.open(&n, RW).unwrap();
        assert_eq!(client.list().unwrap().len(), 1);
        drop(flood);
        client.wait(&n, WaitTimeout::Millis(1)).unwrap_err();
    });
}

/// The broker is killed: the channel reports BrokerGone; reregistering starts a new broker
/// and the pipe is openable again, with connections made before still intact.
#[test]
fn broker_killed_then_reregister() {
    within(LIMIT, || {
        let t = TestDir::new("kill");
        let n = name("kill");
        let (mut chan, _) = InstanceChannel::create_with(&t.cfg, &n, &duplex(2)).unwrap();
        let mut client = BrokerConn::connect_with(&t.cfg).unwrap();
        let (cfds, _) = client.open(&n, RW).unwrap();
        let (sfds, _, epoch) = expect_connected(&mut chan);
        drop(client);
        let pid = t.broker_pid().expect("daemon pid file");
        kill9(pid);
        assert!(matches!(
            chan.poll_event(EVENT).unwrap(),
            Some(ChannelEvent::BrokerGone)
        ));
        assert!(matches!(
            chan.poll_event(Some(Duration::ZERO)).unwrap(),
            Some(ChannelEvent::BrokerGone)
        ));
        // The existing connection survives the broker.
        rustix::io::write(&cfds.sock, b"y").unwrap();
        let mut b = [0u8; 1];
        rustix::io::read(&sfds.sock, &mut b).unwrap();

        // Disconnected, then reregistered: a new broker takes over.
        chan.reregister(InstanceState::Disconnected, epoch).unwrap();
        let new_pid = t.broker_pid().unwrap();
        assert_ne!(new_pid, pid);
        let mut client = BrokerConn::connect_with(&t.cfg).unwrap();
        assert_eq!(win32(client.open(&n, RW)), Win32Error::PIPE_BUSY);
        assert_eq!(chan.listen().unwrap(), epoch + 1);
        let (_c2, info) = client.open(&n, RW).unwrap();
        assert_eq!(info.instance_id, chan.instance_id());
        match chan.poll_event(EVENT).unwrap() {
            Some(ChannelEvent::Connected { epoch: e, .. }) => assert_eq!(e, epoch + 1),
            other => panic!("{other:?}"),
        }
        let _ = chan.as_fd();
    });
}

/// Many processes' worth of concurrent auto-starts end with one broker serving everyone.
#[test]
fn concurrent_autostart() {
    within(LIMIT, || {
        let t = TestDir::new("race");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let cfg = t.cfg.clone();
                std::thread::spawn(move || {
                    BrokerConn::connect_with(&cfg).map(|mut c| c.list().map(|l| l.len()))
                })
            })
            .collect();
        for th in threads {
            assert_eq!(th.join().unwrap().unwrap().unwrap(), 0);
        }
    });
}

/// A foreground broker with nothing to do exits by itself (status 0) and removes its
/// socket; a second broker on the same directory exits at once with status 0.
#[test]
fn idle_exit_and_single_instance() {
    within(LIMIT, || {
        let t = TestDir::new("idle");
        std::fs::create_dir_all(t.path()).unwrap();
        let mut first = Command::new(NPFSD)
            .args(["--foreground", "--idle-exit-ms", "1500", "--runtime-dir"])
            .arg(t.path())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let sock = t.path().join("npfsd.sock");
        assert!(eventually(Duration::from_secs(10), || UnixStream::connect(
            &sock
        )
        .is_ok()));
        let second = Command::new(NPFSD)
            .args(["--foreground", "--runtime-dir"])
            .arg(t.path())
            .status()
            .unwrap();
        assert!(second.success());
        // Busy while a pipe exists...
        let n = name("idle");
        let mut cfg = t.cfg.clone();
        cfg.broker_exe = Some("/nonexistent/npfsd".into());
        let (chan, _) = InstanceChannel::create_with(&cfg, &n, &duplex(1)).unwrap();
        std::thread::sleep(Duration::from_millis(2000));
        assert!(
            first.try_wait().unwrap().is_none(),
            "exited while a pipe existed"
        );
        drop(chan);
        // ...then idle: exits by itself.
        let start = Instant::now();
        let status = loop {
            if let Some(s) = first.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "did not exit when idle"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success());
        assert!(!sock.exists());
    });
}
