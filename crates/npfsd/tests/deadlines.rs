//! Every library call to the broker has a deadline (docs/SECURITY.md, "The broker under
//! exhaustion"): against a "broker" that accepts and never answers, or one whose backlog is
//! full, calls fail with `TimedOut` (ERROR_NO_SYSTEM_RESOURCES, 1450, at the Win32 API)
//! after the 5 s deadline instead of hanging. The fake brokers are listeners in a private
//! runtime directory; nothing here needs root.

mod common;

use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;
use npfs::broker::{BrokerConfig, BrokerConn, BrokerError, InstanceChannel, WaitTimeout};
use npfs_core::consts::*;

/// The library's deadline for a broker's answer (`BROKER_DEADLINE`).
const DEADLINE: Duration = Duration::from_secs(5);
/// How late past its deadline a call may return on a busy machine.
const SLACK: Duration = Duration::from_secs(3);

/// A private directory holding a fake broker socket.
struct FakeDir(PathBuf);

impl FakeDir {
    fn new(tag: &str) -> FakeDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "npfsd-fake-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        FakeDir(dir)
    }

    fn sock(&self) -> PathBuf {
        self.0.join("npfsd.sock")
    }

    fn cfg(&self) -> BrokerConfig {
        BrokerConfig::shared(&self.0)
    }
}

impl Drop for FakeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A listener that accepts every connection and keeps it, reading and answering nothing,
/// for `life`.
fn silent_broker(path: &Path, life: Duration) {
    let l = UnixListener::bind(path).unwrap();
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let end = Instant::now() + life;
        let mut held = Vec::new();
        while Instant::now() < end {
            let left = end.saturating_duration_since(Instant::now());
            let ts = rustix::event::Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: left.subsec_nanos().into(),
            };
            let mut pfd = [rustix::event::PollFd::new(&l, rustix::event::PollFlags::IN)];
            let _ = rustix::event::poll(&mut pfd, Some(&ts));
            while let Ok((s, _)) = l.accept() {
                held.push(s);
            }
        }
    });
}

fn assert_timed_out<T: std::fmt::Debug>(r: Result<T, BrokerError>, took: Duration, what: &str) {
    match r {
        Err(BrokerError::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut => {}
        other => panic!("{what}: expected a time-out, got {other:?}"),
    }
    assert!(
        took >= DEADLINE - Duration::from_millis(100) && took <= DEADLINE + SLACK,
        "{what}: failed after {took:?}, not at its {DEADLINE:?} deadline"
    );
    eprintln!("{what}: TimedOut after {took:.2?}");
}

/// A broker that accepts and never answers: open, create and a control request fail with
/// `TimedOut` at the 5 s deadline (and the connection is not used again).
#[test]
fn silent_broker_open_and_create_time_out() {
    within(LIMIT, || {
        let d = FakeDir::new("silent");
        silent_broker(&d.sock(), Duration::from_secs(20));
        let cfg = d.cfg();
        let create = std::thread::spawn({
            let cfg = cfg.clone();
            move || {
                let start = Instant::now();
                let r = InstanceChannel::create_with(&cfg, &name("silent"), &duplex(1));
                (r.map(|_| ()), start.elapsed())
            }
        });
        let start = Instant::now();
        let mut conn = BrokerConn::connect_with(&cfg).unwrap();
        let r = conn.open(&name("silent"), RW);
        assert_timed_out(r.map(|_| ()), start.elapsed(), "CreateFile (open)");
        let (r, took) = create.join().unwrap();
        assert_timed_out(r, took, "CreateNamedPipe (create)");
    });
}

/// WaitNamedPipe's reply is bounded by its own time-out plus the margin (5 s).
#[test]
fn silent_broker_wait_times_out_after_its_timeout_and_margin() {
    within(LIMIT, || {
        let d = FakeDir::new("wait");
        silent_broker(&d.sock(), Duration::from_secs(20));
        let mut conn = BrokerConn::connect_with(&d.cfg()).unwrap();
        let start = Instant::now();
        let r = conn.wait(&name("wait"), WaitTimeout::Millis(1000));
        let took = start.elapsed();
        // Not before the wait's own time-out plus the margin.
        assert!(
            took >= Duration::from_millis(5900),
            "gave up early: {took:?}"
        );
        assert_timed_out(r, took - Duration::from_millis(1000), "WaitNamedPipe (1 s)");
    });
}

/// A broker whose backlog is full (it accepts nothing): the connect itself times out.
#[test]
fn full_backlog_connect_times_out() {
    within(LIMIT, || {
        let d = FakeDir::new("backlog");
        use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
        let l = rustix::net::socket(AddressFamily::UNIX, SocketType::STREAM, None).unwrap();
        let addr = SocketAddrUnix::new(d.sock()).unwrap();
        rustix::net::bind(&l, &addr).unwrap();
        rustix::net::listen(&l, 0).unwrap();
        // Fill the backlog with connections nobody accepts.
        let mut filler: Vec<OwnedFd> = Vec::new();
        for _ in 0..64 {
            let s = rustix::net::socket_with(
                AddressFamily::UNIX,
                SocketType::STREAM,
                SocketFlags::NONBLOCK,
                None,
            )
            .unwrap();
            match rustix::net::connect(&s, &addr) {
                Ok(()) => filler.push(s),
                Err(rustix::io::Errno::AGAIN) => break,
                Err(e) => panic!("filler connect: {e}"),
            }
        }
        assert!(!filler.is_empty());
        let start = Instant::now();
        let r = BrokerConn::connect_with(&d.cfg());
        assert_timed_out(r.map(|_| ()), start.elapsed(), "connect (full backlog)");
        drop(l);
    });
}

/// Not a test: the body of a child process (runs only with `NPFS_DEADLINE_CHILD` set) that
/// opens a pipe through the public Win32-style API, its `NPFS_RUNTIME_DIR` pointing at a
/// silent broker, and prints the error code.
#[test]
fn child_open_main() {
    if std::env::var_os("NPFS_DEADLINE_CHILD").is_none() {
        return;
    }
    let start = Instant::now();
    let r = npfs::PipeClient::open(r"\\.\pipe\silent-child", GENERIC_READ);
    let code = r.err().map_or(0, |e| e.0);
    println!("@@ {code} {}", start.elapsed().as_millis());
    std::process::exit(0);
}

/// Through the Win32-style API (`PipeClient::open`, i.e. CreateFile) the time-out is
/// ERROR_NO_SYSTEM_RESOURCES (1450).
#[test]
fn silent_broker_createfile_fails_with_1450() {
    within(LIMIT, || {
        let d = FakeDir::new("child");
        silent_broker(&d.sock(), Duration::from_secs(20));
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["child_open_main", "--exact", "--nocapture", "-q"])
            .env("NPFS_DEADLINE_CHILD", "1")
            .env("NPFS_RUNTIME_DIR", &d.0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let line = out
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("@@ ").map(str::to_owned))
            .expect("child answered");
        let _ = child.wait();
        let mut w = line.split(' ');
        let code: u32 = w.next().unwrap().parse().unwrap();
        let ms: u64 = w.next().unwrap().parse().unwrap();
        assert_eq!(code, 1450, "CreateFile against a silent broker");
        let took = Duration::from_millis(ms);
        assert!(took >= DEADLINE - Duration::from_millis(100) && took <= DEADLINE + SLACK);
        eprintln!("CreateFile: ERROR_NO_SYSTEM_RESOURCES after {took:.2?}");
    });
}
