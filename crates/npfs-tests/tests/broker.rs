//! The broker (`npfsd`) killed under live pipes (ARCHITECTURE: the namespace lives in the
//! broker; data flows directly between the ends): established connections keep working and
//! server instances register again with the next broker, so new clients can open them.
//!
//! This file is its own test binary, so killing the broker here does not disturb the other
//! conformance tests (each binary has its own broker).
mod common;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

/// The tests here kill the shared broker: run them one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The pid of this binary's broker, from `npfsd.pid` in the runtime directory.
fn broker_pid() -> u32 {
    let path = runtime_dir().join("npfsd.pid");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.trim().parse().expect("pid")
}

fn kill_broker() -> u32 {
    let pid = broker_pid();
    let st = std::process::Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(st.success());
    // Wait until it is gone (/proc entry disappears once reaped by init, or becomes a zombie).
    let start = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z"))
            .unwrap_or(true)
    {
        assert!(start.elapsed() < LIMIT, "broker {pid} did not die");
        std::thread::sleep(Duration::from_millis(10));
    }
    pid
}

// Killing the broker: established connections (both ways, both types) keep working; a
// listening instance registers again and a new client can open it (polling open() for a few
// seconds); the server handle of the old connection can still disconnect and re-listen.
#[test]
fn broker_killed_connections_survive_and_instances_reregister() {
    let _serial = serial();
    let name = pipe_name("broker");
    let o = opts(true, true, 2, 4096, 4096);
    let a = Arc::new(o.create(&name).unwrap());
    let b = Arc::new(o.create(&name).unwrap());
    let c = client(&name);
    settle(&a);
    c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
    let old = kill_broker();

    // The established connection still works, message boundaries included.
    c.write(b"after").unwrap();
    c.write(b"kill").unwrap();
    assert_eq!(read_n(&a, 64), (b"after".to_vec(), ro(5, false)));
    assert_eq!(read_n(&a, 64), (b"kill".to_vec(), ro(4, false)));
    a.write(b"reply").unwrap();
    let c = Arc::new(c);
    let c2 = c.clone();
    assert_eq!(with_timeout(LIMIT, move || read_n(&c2, 64).0), b"reply");

    // The listening instance b comes back under a new broker: a client can open it.
    let start = Instant::now();
    let c3 = loop {
        match PipeClient::open_duplex(&name) {
            Ok(c) => break c,
            Err(e) => {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "instance not re-registered: {e:?}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    assert_ne!(broker_pid(), old, "a new broker runs");
    settle(&b);
    c3.write(b"new").unwrap();
    assert_eq!(read_n(&b, 16).0, b"new");

    // The old connection's server can disconnect and take a new client.
    drop(c);
    a.disconnect().unwrap();
    let a2 = a.clone();
    let conn = bg(move || a2.connect());
    let c4 = open_retry(&name);
    assert_eq!(conn.join("connect"), Ok(()));
    c4.write(b"again").unwrap();
    assert_eq!(read_n(&a, 16).0, b"again");
}

// A pipe created after the broker was killed starts a new broker and works.
#[test]
fn new_pipe_after_broker_killed() {
    let _serial = serial();
    let name = pipe_name("brokernew");
    {
        let _s = byte_server(&name);
    }
    let first = pipe_name("brokernew-first");
    let _keep = byte_server(&first);
    kill_broker();
    let s = byte_server(&name);
    let c = client(&name);
    settle(&s);
    c.write(b"x").unwrap();
    assert_eq!(read_n(&s, 4).0, b"x");
}
