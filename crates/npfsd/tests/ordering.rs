//! Ordering guarantees that Windows gives synchronously: a server's channel holds the
//! Connected event once the client's open returned, and a dropped instance is out of the
//! namespace once the drop returned. Every step has a time limit.

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;
use npfs::broker::{BrokerConn, BrokerError, ChannelEvent, InstanceChannel};
use npfs_core::Win32Error;
use npfs_proto::broker::{CreateRequest, Request};
use rustix::event::{poll, PollFd, PollFlags};

fn win32(r: Result<impl std::fmt::Debug, BrokerError>) -> Win32Error {
    match r {
        Err(BrokerError::Win32(e)) => e,
        other => panic!("expected a Win32 error, got {other:?}"),
    }
}

/// The Connected event is already in the channel: a zero-time poll finds it.
fn connected_now(chan: &mut InstanceChannel) -> u64 {
    match chan.poll_event(Some(Duration::ZERO)).unwrap() {
        Some(ChannelEvent::Connected { info, .. }) => info.conn_id,
        other => panic!("the server's Connected must be there when open returns: {other:?}"),
    }
}

/// Whether `fd` reports a hang-up within `limit`.
fn hangs_up(fd: &std::os::fd::OwnedFd, limit: Duration) -> bool {
    let mut pfd = [PollFd::new(fd, PollFlags::IN)];
    let ts = rustix::event::Timespec {
        tv_sec: limit.as_secs() as i64,
        tv_nsec: limit.subsec_nanos().into(),
    };
    if poll(&mut pfd, Some(&ts)).unwrap() == 0 {
        return false;
    }
    if pfd[0]
        .revents()
        .intersects(PollFlags::HUP | PollFlags::RDHUP)
    {
        return true;
    }
    let mut b = [0u8; 1];
    rustix::io::read(fd, &mut b).unwrap() == 0
}

/// A server instance created over a raw socket that then stops receiving (SHUT_RD): the
/// broker cannot deliver a Connected to it.
fn deaf_instance(t: &TestDir, pipe: &str) -> UnixStream {
    drop(BrokerConn::connect_with(&t.cfg).unwrap());
    let mut s = UnixStream::connect(t.path().join("npfsd.sock")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = Request::Create(CreateRequest {
        name: format!("\\\\.\\pipe\\{pipe}"),
        params: duplex(4),
        sddl: None,
    });
    s.write_all(&req.encode().unwrap()).unwrap();
    let mut hdr = [0u8; 4];
    s.read_exact(&mut hdr).unwrap();
    let mut body = vec![0u8; u32::from_le_bytes(hdr) as usize];
    s.read_exact(&mut body).unwrap();
    assert_eq!(body[1], 0x82, "Created");
    s.shutdown(Shutdown::Read).unwrap();
    s
}

/// Open returns only after the server's Connected (with its descriptors) is in the server's
/// control socket, for a first connection and for later listen cycles.
#[test]
fn connected_is_in_the_channel_when_open_returns() {
    within(LIMIT, || {
        let t = TestDir::new("order");
        let mut client = BrokerConn::connect_with(&t.cfg).unwrap();
        for i in 0..50 {
            let n = name(&format!("order{i}"));
            let (mut chan, _) = InstanceChannel::create_with(&t.cfg, &n, &duplex(1)).unwrap();
            let (_c, info) = client.open(&n, RW).unwrap();
            assert_eq!(connected_now(&mut chan), info.conn_id);
        }
        let n = name("cycles");
        let (mut chan, _) = InstanceChannel::create_with(&t.cfg, &n, &duplex(1)).unwrap();
        let mut epoch = chan.listen().unwrap();
        for _ in 0..50 {
            let (_c, info) = client.open(&n, RW).unwrap();
            assert_eq!(connected_now(&mut chan), info.conn_id);
            chan.disconnect(epoch).unwrap();
            epoch = chan.listen().unwrap();
        }
    });
}

/// An instance that cannot take its Connected is treated as closed: the open goes on to the
/// next listening instance, or fails as if the dead instance had not been there.
#[test]
fn undeliverable_instance_is_skipped() {
    within(LIMIT, || {
        let t = TestDir::new("deaf");
        let n = name("deaf");
        let _a = deaf_instance(&t, "deaf");
        let (mut b, ib) = InstanceChannel::create_with(&t.cfg, &n, &duplex(4)).unwrap();
        let mut client = BrokerConn::connect_with(&t.cfg).unwrap();
        assert_eq!(client.instance_count(&n).unwrap(), 2);
        // a listens longer, but cannot be reached: b gets the client.
        let (_c, info) = client.open(&n, RW).unwrap();
        assert_eq!(info.instance_id, ib.instance_id);
        assert_eq!(connected_now(&mut b), info.conn_id);
        assert_eq!(client.instance_count(&n).unwrap(), 1);

        // Only a dead instance listens (b is connected): busy.
        let _c2 = deaf_instance(&t, "deaf");
        assert_eq!(win32(client.open(&n, RW)), Win32Error::PIPE_BUSY);
        assert_eq!(client.instance_count(&n).unwrap(), 1);

        // The dead instance was the pipe's only one: the pipe is gone with it.
        let _d = deaf_instance(&t, "deafonly");
        assert_eq!(
            win32(client.open(&name("deafonly"), RW)),
            Win32Error::FILE_NOT_FOUND
        );
        assert_eq!(client.instance_count(&name("deafonly")).unwrap(), 0);
    });
}

/// Dropping a listening instance takes it out of the line before the drop returns: the next
/// open goes to the remaining instance, every time.
#[test]
fn dropped_instance_leaves_the_line_at_once() {
    within(LIMIT, || {
        let t = TestDir::new("closeline");
        let mut client = BrokerConn::connect_with(&t.cfg).unwrap();
        for i in 0..30 {
            let n = name(&format!("closeline{i}"));
            let (a, _) = InstanceChannel::create_with(&t.cfg, &n, &duplex(2)).unwrap();
            let (mut b, ib) = InstanceChannel::create_with(&t.cfg, &n, &duplex(2)).unwrap();
            drop(a);
            assert_eq!(client.instance_count(&n).unwrap(), 1);
            let (_c, info) = client.open(&n, RW).unwrap();
            assert_eq!(info.instance_id, ib.instance_id);
            assert_eq!(connected_now(&mut b), info.conn_id);
            // The last instance: the pipe goes with it, at once.
            drop(b);
            assert_eq!(client.instance_count(&n).unwrap(), 0);
            assert_eq!(win32(client.open(&n, RW)), Win32Error::FILE_NOT_FOUND);
        }
    });
}

/// A client that connected just before the server dropped the instance (its Connected still
/// unread in the channel) is hung up on; the drop still completes with the broker's answer,
/// not by running out of time.
#[test]
fn drop_with_an_unread_connection_hangs_up_on_the_client() {
    within(LIMIT, || {
        let t = TestDir::new("dropconn");
        let n = name("dropconn");
        let mut client = BrokerConn::connect_with(&t.cfg).unwrap();
        for _ in 0..10 {
            let (chan, _) = InstanceChannel::create_with(&t.cfg, &n, &duplex(1)).unwrap();
            let (cfds, _) = client.open(&n, RW).unwrap();
            let start = Instant::now();
            drop(chan);
            assert!(
                start.elapsed() < Duration::from_millis(800),
                "the close was confirmed, not timed out: {:?}",
                start.elapsed()
            );
            assert!(hangs_up(&cfds.sock, Duration::from_secs(10)));
            assert_eq!(client.instance_count(&n).unwrap(), 0);
        }
    });
}

/// Dropping a channel never hangs on a broker that is gone or stuck.
#[test]
fn drop_is_bounded_without_a_broker() {
    within(LIMIT, || {
        let t = TestDir::new("dropgone");
        let (chan, _) =
            InstanceChannel::create_with(&t.cfg, &name("dropgone"), &duplex(2)).unwrap();
        let (chan2, _) =
            InstanceChannel::create_with(&t.cfg, &name("dropgone"), &duplex(2)).unwrap();
        let pid = t.broker_pid().expect("daemon pid file");
        let stopped = rustix::process::Pid::from_raw(pid).unwrap();
        // Stuck: the answer never comes; the drop gives up after about a second.
        rustix::process::kill_process(stopped, rustix::process::Signal::STOP).unwrap();
        let start = Instant::now();
        drop(chan);
        let took = start.elapsed();
        rustix::process::kill_process(stopped, rustix::process::Signal::CONT).unwrap();
        assert!(took < Duration::from_secs(3), "drop took {took:?}");
        // Gone: the drop returns at once.
        kill9(pid);
        assert!(eventually(Duration::from_secs(10), || !alive(pid)));
        let start = Instant::now();
        drop(chan2);
        assert!(start.elapsed() < Duration::from_secs(1));
    });
}

/// Close is a control-channel request only: on a fresh connection it is a violation.
#[test]
fn close_on_a_fresh_connection_is_refused() {
    within(LIMIT, || {
        let t = TestDir::new("closefresh");
        drop(BrokerConn::connect_with(&t.cfg).unwrap());
        let mut s = UnixStream::connect(t.path().join("npfsd.sock")).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&Request::Close.encode().unwrap()).unwrap();
        let mut buf = [0u8; 16];
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("connection not dropped: {other:?}"),
        }
    });
}
