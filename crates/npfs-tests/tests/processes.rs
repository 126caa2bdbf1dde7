//! Cross-process behaviour, with `npfs-test-child` as the other process (conformance §3
//! test_namedpipe_process_id, test_overlapped_transport, test_NamedPipe_2; api.md §2.4–§2.6,
//! §2.12, §2.19, §3.2): traffic between processes, processes killed mid-transfer, and a
//! pending write that dies with its process.
mod common;
use std::sync::Arc;
use std::time::Duration;

use common::*;

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// Read exactly `n` bytes (several reads if needed), each step bounded.
fn read_exact(h: &Arc<PipeServer>, n: usize) -> Vec<u8> {
    let h = h.clone();
    with_timeout(LIMIT, move || {
        let mut got = Vec::new();
        while got.len() < n {
            let (d, _) = read_n(&h, n - got.len());
            got.extend(d);
        }
        got
    })
}

/// Wait (bounded) for a server to be connected to a child. A child that already wrote and
/// exited leaves the instance CLOSING, where ConnectNamedPipe reports ERROR_NO_DATA (api.md
/// §3.3): that too means the child was connected.
fn accept(s: &Arc<PipeServer>) {
    let s2 = s.clone();
    let r = with_timeout(LIMIT, move || s2.connect());
    assert!(
        r.is_ok() || r == Err(Win32Error::PIPE_CONNECTED) || r == Err(Win32Error::NO_DATA),
        "connect: {r:?}"
    );
}

// conformance §3 test_namedpipe_process_id: `Cross-process: a child opening the pipe sees
// ClientProcessId == its own pid and ServerProcessId == parent pid`.
#[test]
fn process_ids_across_processes() {
    let name = pipe_name("xpids");
    let s = Arc::new(byte_server(&name));
    let (mut ch, out) = child_piped(&["pids", &name]);
    accept(&s);
    let line = out.line();
    let v: Vec<u32> = line.split(' ').map(|x| x.parse().unwrap()).collect();
    let me = std::process::id();
    assert_eq!(v[0], ch.pid());
    assert_eq!(v[1], ch.pid(), "client pid seen by the child");
    assert_eq!(v[2], me, "server pid seen by the child");
    assert_eq!(s.client_process_id(), Ok(ch.pid()));
    assert_eq!(s.server_process_id(), Ok(me));
    assert_eq!(read_exact(&s, line.len()), line.as_bytes());
    drop(s);
    ch.expect_success();
}

// api.md §2.4 / §4: several client processes exchange byte traffic with one server process, one
// instance each.
#[test]
fn byte_traffic_with_several_client_processes() {
    let name = pipe_name("xbyte");
    let o = opts(false, false, 4, 4096, 4096);
    let servers: Vec<Arc<PipeServer>> =
        (0..4).map(|_| Arc::new(o.create(&name).unwrap())).collect();
    let mut children: Vec<ChildGuard> = (0..4)
        .map(|_| child(&["client-echo", &name, "3"]))
        .collect();
    let workers: Vec<_> = servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let s = s.clone();
            bg(move || {
                match s.connect() {
                    Ok(()) => {}
                    Err(e) => assert_eq!(e, Win32Error::PIPE_CONNECTED),
                }
                for round in 0..3 {
                    let msg = vec![(i * 10 + round) as u8; 100 + i * 50 + round];
                    s.write(&msg).unwrap();
                    let mut got = Vec::new();
                    while got.len() < msg.len() {
                        got.extend(read_n(&s, 65536).0);
                    }
                    assert_eq!(got, msg);
                }
            })
        })
        .collect();
    for w in workers {
        w.join("server instance");
    }
    for c in &mut children {
        c.expect_success();
    }
}

// api.md §2.15 / §2.16: message traffic between processes keeps message boundaries (message read
// mode at both ends).
#[test]
fn message_traffic_with_client_processes() {
    let name = pipe_name("xmsg");
    let o = opts(true, true, 2, 4096, 4096);
    let servers: Vec<Arc<PipeServer>> =
        (0..2).map(|_| Arc::new(o.create(&name).unwrap())).collect();
    let mut children: Vec<ChildGuard> = (0..2)
        .map(|_| child(&["client-msg-echo", &name, "3"]))
        .collect();
    for s in &servers {
        accept(s);
    }
    for s in &servers {
        for len in [1usize, 0, 3000] {
            s.write(&pattern(len)).unwrap();
        }
    }
    for s in &servers {
        let s = s.clone();
        let got = with_timeout(LIMIT, move || {
            (0..3).map(|_| read_n(&s, 65536)).collect::<Vec<_>>()
        });
        assert_eq!(got[0], (pattern(1), ro(1, false)));
        assert_eq!(got[1], (vec![], ro(0, false)));
        assert_eq!(got[2], (pattern(3000), ro(3000, false)));
    }
    for c in &mut children {
        c.expect_success();
    }
}

// conformance §1: "Closing one end moves the peer to CLOSING: queued data stays readable, ...
// reads on an empty queue return ERROR_BROKEN_PIPE, writes return ERROR_NO_DATA" — with the
// client process killed (kill -9) mid-transfer; the instance is then released for a new client.
#[test]
fn client_process_killed_mid_transfer() {
    let name = pipe_name("xkillc");
    let s = Arc::new(byte_server(&name));
    let (mut ch, out) = child_piped(&["write-then-hold", &name, "3000"]);
    accept(&s);
    out.expect("wrote");
    assert_eq!(read_exact(&s, 1000), pattern(3000)[..1000]);
    ch.kill();
    eventually(LIMIT, "server CLOSING", || s.state() == PipeState::Closing);
    assert_eq!(read_exact(&s, 2000), pattern(3000)[1000..]);
    assert_eq!(s.read(&mut [0u8; 16]), Err(Win32Error::BROKEN_PIPE));
    assert_eq!(s.write(b"x"), Err(Win32Error::NO_DATA));
    assert_eq!(
        PipeClient::open_duplex(&name).err(),
        Some(Win32Error::PIPE_BUSY),
        "not released before DisconnectNamedPipe"
    );
    s.disconnect().unwrap();
    let s2 = s.clone();
    let conn = bg(move || s2.connect());
    let (mut ch2, out2) = child_piped(&["hold-and-sleep", &name]);
    assert_eq!(conn.join("connect"), Ok(()));
    out2.expect("ready");
    assert_eq!(s.client_process_id(), Ok(ch2.pid()));
    ch2.kill();
}

// api.md §3.2: "Close of either end ... CLOSING" — the server process killed: the client reads
// the data left, then ERROR_BROKEN_PIPE; the name disappears with the last instance.
#[test]
fn server_process_killed() {
    let name = pipe_name("xkills");
    let (mut ch, out) = child_piped(&["server-write-hold", &name, "3000"]);
    out.expect("ready");
    let c = Arc::new(open_retry(&name));
    out.expect("wrote");
    ch.kill();
    eventually(LIMIT, "client CLOSING", || c.state() == PipeState::Closing);
    let c2 = c.clone();
    let got = with_timeout(LIMIT, move || {
        let mut got = Vec::new();
        while got.len() < 3000 {
            got.extend(read_n(&c2, 65536).0);
        }
        got
    });
    assert_eq!(got, pattern(3000));
    assert_eq!(c.read(&mut [0u8; 16]), Err(Win32Error::BROKEN_PIPE));
    assert_eq!(c.write(b"x"), Err(Win32Error::NO_DATA));
    eventually(LIMIT, "name gone", || {
        PipeClient::open_duplex(&name).err() == Some(Win32Error::FILE_NOT_FOUND)
    });
}

// api.md §3.2 / Windows: a killed process's handles are closed by the time it has been reaped —
// the name of its only pipe is gone at once.
#[test]
fn server_process_killed_name_gone_at_once() {
    let name = pipe_name("xkills2");
    let (mut ch, out) = child_piped(&["server-write-hold", &name, "10"]);
    out.expect("ready");
    let _c = open_retry(&name);
    out.expect("wrote");
    ch.kill();
    assert_eq!(
        PipeClient::open_duplex(&name).err(),
        Some(Win32Error::FILE_NOT_FOUND)
    );
}

// conformance §3 test_overlapped_transport: "A child process (inherited client handle) issues a
// 10000-byte ... write that pends; parent ReadFile(server,10) gets 10 ... After TerminateProcess
// of the child, the pending write is gone and the buffer is empty: a new read pends until the
// parent writes 1 byte, then returns 1."
#[test]
fn pending_write_of_killed_process_vanishes() {
    let name = pipe_name("xpendw");
    let s = Arc::new(opts(true, true, 1, 5000, 6000).create(&name).unwrap());
    let c = client(&name);
    settle(&s);
    let token = c.inherit_token().unwrap();
    let (mut ch, out) = {
        // child_piped with the token in the environment.
        std::env::var_os("NPFS_RUNTIME_DIR").expect("runtime dir");
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_npfs-test-child"));
        cmd.args(["inherited-write", "10000"])
            .env("NPFS_TEST_TOKEN", &token)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped());
        spawn_piped(cmd)
    };
    out.expect("start");
    eventually(LIMIT, "10000 bytes queued", || s.available() == 10000);
    assert_eq!(read_n(&s, 10), (pattern(10), ro(10, true)));
    ch.kill();
    // The process is gone (killed and reaped); give the system a moment to notice.
    std::thread::sleep(Duration::from_millis(300));
    let s2 = s.clone();
    let r = bg(move || read_n(&s2, 100));
    r.assert_pending("read after the writer died (its unread data must be gone)");
    assert_eq!(s.available(), 0);
    c.write(b"1").unwrap();
    assert_eq!(r.join("read"), (b"1".to_vec(), ro(1, false)));
}

// issue 2 §7 / api.md §2.1 (handles inherit): "A handle inherited by a child process works
// there" — here the server end: the child serves the client while the parent has closed its
// own copy (the end lives while any process holds it), and the end goes with the child.
#[test]
fn inherited_server_end_serves_in_child() {
    let name = pipe_name("xinhs");
    let s = opts(true, true, 1, 4096, 4096).create(&name).unwrap();
    let c = client(&name);
    settle(&s);
    let token = s.inherit_token().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_npfs-test-child"));
    cmd.args(["inherited-server-echo"])
        .env("NPFS_TEST_TOKEN", &token)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped());
    let (mut ch, out) = spawn_piped(cmd);
    out.expect("start");
    drop(s);
    assert_eq!(c.state(), PipeState::Connected);
    c.write(b"ping").unwrap();
    let c = Arc::new(c);
    let c2 = c.clone();
    let r = with_timeout(LIMIT, move || read_n(&c2, 16));
    assert_eq!(r, (b"PING".to_vec(), ro(4, false)));
    out.expect("echoed");
    ch.expect_success();
    eventually(LIMIT, "CLOSING after the child exited", || {
        c.state() == PipeState::Closing
    });
    assert_eq!(c.read(&mut [0u8; 4]), Err(Win32Error::BROKEN_PIPE));
}

// conformance §3 test_CreatePipe-like lifetime across processes: data written by a process that
// then exits normally stays readable, then ERROR_BROKEN_PIPE.
#[test]
fn data_of_exited_client_process_stays_readable() {
    let name = pipe_name("xexit");
    let s = Arc::new(byte_server(&name));
    let mut ch = child(&["write-then-exit", &name, "1500"]);
    accept(&s);
    ch.expect_success();
    assert_eq!(read_exact(&s, 1500), pattern(1500));
    eventually(LIMIT, "CLOSING", || s.state() == PipeState::Closing);
    assert_eq!(s.read(&mut [0u8; 16]), Err(Win32Error::BROKEN_PIPE));
}

// api.md §2.6: CallNamedPipe from another process.
#[test]
fn call_named_pipe_from_child() {
    let name = pipe_name("xcall");
    let s = Arc::new(msg_server(&name));
    let (mut ch, out) = child_piped(&["call", &name, "hello"]);
    accept(&s);
    let s2 = s.clone();
    let got = with_timeout(LIMIT, move || {
        let (m, _) = read_n(&s2, 64);
        s2.write(b"HELLO").unwrap();
        m
    });
    assert_eq!(got, b"hello");
    out.expect("HELLO");
    ch.expect_success();
}

// conformance §3 test_NamedPipe_2 across processes: a server process reusing one instance
// (connect, read, write, flush, disconnect) for successive CallNamedPipe clients, which wait
// while it is busy.
#[test]
fn call_named_pipe_to_server_process() {
    let name = pipe_name("xsrvecho");
    let (mut ch, out) = child_piped(&["server-echo", &name, "3"]);
    out.expect("ready");
    for req in ["one", "two", "three"] {
        let n = name.clone();
        let r = with_timeout(LIMIT, move || {
            let mut buf = [0u8; 64];
            call_named_pipe(&n, req.as_bytes(), &mut buf, NMPWAIT_WAIT_FOREVER)
                .map(|r| buf[..r.len].to_vec())
        });
        assert_eq!(r, Ok(req.as_bytes().to_vec()));
    }
    out.expect("done");
    ch.expect_success();
}

// conformance §3 test_wait_pipe across processes: a child blocked in WaitNamedPipe is woken when
// the server re-listens after a disconnect.
#[test]
fn wait_named_pipe_in_child_woken_by_relisten() {
    let name = pipe_name("xwait");
    let s = Arc::new(byte_server(&name));
    let c = client(&name);
    settle(&s);
    let (mut ch, out) = child_piped(&["wait", &name, "10000"]);
    std::thread::sleep(Duration::from_millis(200));
    drop(c);
    s.disconnect().unwrap();
    let s2 = s.clone();
    let conn = bg(move || s2.connect());
    out.expect("ok");
    ch.expect_success();
    let _c2 = client(&name);
    assert_eq!(conn.join("connect"), Ok(()));
}

// api.md §2.4 errors across processes: ERROR_PIPE_BUSY when the only instance is connected,
// ERROR_FILE_NOT_FOUND for an unknown name.
#[test]
fn open_errors_in_child() {
    let name = pipe_name("xbusy");
    let s = byte_server(&name);
    let _c = client(&name);
    settle(&s);
    let (mut ch, out) = child_piped(&["open", &name]);
    out.expect("231");
    ch.expect_success();
    let (mut ch, out) = child_piped(&["open", &pipe_name("xnone")]);
    out.expect("2");
    ch.expect_success();
    let (mut ch, out) = child_piped(&["wait", &pipe_name("xnone2"), "5000"]);
    out.expect("2");
    ch.expect_success();
}

// api.md §3.2: a client process killed while idle: the server sees CLOSING (read
// ERROR_BROKEN_PIPE), and after DisconnectNamedPipe + ConnectNamedPipe the instance serves a new
// client process.
#[test]
fn idle_client_process_killed_instance_reused() {
    let name = pipe_name("xidle");
    let s = Arc::new(byte_server(&name));
    let (mut ch, out) = child_piped(&["hold-and-sleep", &name]);
    accept(&s);
    out.expect("ready");
    ch.kill();
    eventually(LIMIT, "CLOSING", || s.state() == PipeState::Closing);
    assert_eq!(s.read(&mut [0u8; 4]), Err(Win32Error::BROKEN_PIPE));
    assert_eq!(s.connect(), Err(Win32Error::NO_DATA));
    s.disconnect().unwrap();
    let s2 = s.clone();
    let conn = bg(move || s2.connect());
    let mut ch2 = child(&["write-then-exit", &name, "5"]);
    assert_eq!(conn.join("connect"), Ok(()));
    assert_eq!(read_exact(&s, 5), pattern(5));
    ch2.expect_success();
}
