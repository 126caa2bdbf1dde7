//! Shared helpers of the conformance tests: one broker per test binary, unique pipe names,
//! bounded waits, and child processes that are killed when a test fails.
#![allow(dead_code)]

use std::cell::RefCell;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use npfs::consts::*;
#[allow(unused_imports)]
pub use npfs::{
    call_named_pipe, create_pipe, wait_named_pipe, PeekOutcome, PipeClient, PipeHandle, PipeInfo,
    PipeServer, PipeState, ReadOutcome, ServerOptions, Win32Error,
};

/// Longest time any single blocking step may take before the test fails.
pub const LIMIT: Duration = Duration::from_secs(10);
/// How long to watch a step that must *not* complete.
pub const PENDING: Duration = Duration::from_millis(100);

static INIT: Once = Once::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Longest time one test may run before the watchdog ends the whole test binary (so that a
/// hang in a blocking call the test could not bound becomes a failure, not a stuck run).
pub const TEST_LIMIT: Duration = Duration::from_secs(60);

static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Cancels the watchdog of a test thread when the thread (the test) ends.
struct Watchdog(Arc<AtomicBool>);

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

thread_local! {
    static WATCHDOG: RefCell<Option<Watchdog>> = const { RefCell::new(None) };
}

/// Arm the watchdog of the calling test thread (once per thread).
fn arm_watchdog() {
    let name = match std::thread::current().name() {
        Some(n) if n != "main" => n.to_owned(),
        _ => return,
    };
    WATCHDOG.with(|w| {
        let mut w = w.borrow_mut();
        if w.is_some() {
            return;
        }
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < TEST_LIMIT {
                if flag.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            eprintln!("watchdog: test {name} still running after {TEST_LIMIT:?}; aborting");
            for pid in CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
            std::process::exit(101);
        });
        *w = Some(Watchdog(done));
    });
}

/// Point this test binary at its own broker: a fresh runtime directory unique to the process.
/// Called by every helper that hands out names, before any npfs call. Also arms the watchdog
/// of the calling test.
pub fn init() {
    arm_watchdog();
    INIT.call_once(|| {
        let exe = std::env::current_exe().ok();
        let stem = exe
            .as_ref()
            .and_then(|p| p.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "t".into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("npfs-tests-{stem}-{}-{nanos}", std::process::id()));
        // Set once, before any thread of this binary touches npfs (every test calls `init`
        // through `pipe_name` first, and `Once` makes the others wait).
        std::env::set_var("NPFS_RUNTIME_DIR", &dir);
    });
}

/// The runtime directory of this binary's broker.
pub fn runtime_dir() -> std::path::PathBuf {
    init();
    std::path::PathBuf::from(std::env::var_os("NPFS_RUNTIME_DIR").expect("set by init"))
}

/// A pipe name no other test uses: `\\.\pipe\npfs-tests\<tag>-<pid>-<n>`.
pub fn pipe_name(tag: &str) -> String {
    init();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(r"\\.\pipe\npfs-tests\{tag}-{}-{n}", std::process::id())
}

/// Run `f` in a thread; panic if it takes longer than `limit`.
pub fn with_timeout<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("step did not finish within {limit:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("step panicked"),
    }
}

/// A blocking operation running in its own thread.
pub struct Bg<T> {
    rx: mpsc::Receiver<T>,
    _thread: JoinHandle<()>,
}

/// Start `f` in a thread.
pub fn bg<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Bg<T> {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    Bg {
        rx,
        _thread: thread,
    }
}

impl<T> Bg<T> {
    /// Panic unless the operation is still running after `d`.
    pub fn assert_pending_for(&self, d: Duration, what: &str) {
        match self.rx.recv_timeout(d) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Ok(_) => panic!("{what}: completed but should still be pending"),
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: thread panicked"),
        }
    }

    /// Panic unless the operation is still running after [`PENDING`].
    pub fn assert_pending(&self, what: &str) {
        self.assert_pending_for(PENDING, what);
    }

    /// The result; panic if it does not arrive within [`LIMIT`].
    pub fn join(self, what: &str) -> T {
        self.join_within(LIMIT, what)
    }

    /// The result; panic if it does not arrive within `d`.
    pub fn join_within(self, d: Duration, what: &str) -> T {
        match self.rx.recv_timeout(d) {
            Ok(v) => v,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: did not complete in {d:?}"),
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: thread panicked"),
        }
    }

    /// The result if it is there already (or within `d`).
    pub fn try_join(&self, d: Duration) -> Option<T> {
        self.rx.recv_timeout(d).ok()
    }
}

/// Options of a duplex pipe: `message` type (and server message read mode when `msg_read`),
/// `max` instances, out/in quotas.
pub fn opts(message: bool, msg_read: bool, max: u32, out: u32, inb: u32) -> ServerOptions {
    let mut o = ServerOptions::new();
    o.message_type(message)
        .message_read_mode(msg_read)
        .max_instances(max)
        .out_buffer_size(out)
        .in_buffer_size(inb);
    o
}

/// A byte pipe server (1 instance, 4096/4096).
pub fn byte_server(name: &str) -> PipeServer {
    opts(false, false, 1, 4096, 4096).create(name).unwrap()
}

/// A message pipe server in message read mode (1 instance, 4096/4096).
pub fn msg_server(name: &str) -> PipeServer {
    opts(true, true, 1, 4096, 4096).create(name).unwrap()
}

/// Open a duplex client.
pub fn client(name: &str) -> PipeClient {
    PipeClient::open_duplex(name).unwrap()
}

/// A connected pair made from `o`.
pub fn pair_with(o: &ServerOptions, tag: &str) -> (PipeServer, PipeClient, String) {
    let name = pipe_name(tag);
    let s = o.create(&name).unwrap();
    let c = client(&name);
    settle(&s);
    (s, c, name)
}

/// Setup step after a client opened `s`: wait until the server end reports the connection
/// (the exact result of ConnectNamedPipe at that point is checked by the connect tests).
pub fn settle(s: &PipeServer) {
    eventually(LIMIT, "server connected", || {
        matches!(s.state(), PipeState::Connected | PipeState::Closing)
    });
}

/// A connected byte pipe pair.
pub fn byte_pair(tag: &str) -> (PipeServer, PipeClient) {
    let (s, c, _) = pair_with(&opts(false, false, 1, 4096, 4096), tag);
    (s, c)
}

/// A connected message pipe pair; the server in message read mode, the client in byte mode.
pub fn msg_pair(tag: &str) -> (PipeServer, PipeClient) {
    let (s, c, _) = pair_with(&opts(true, true, 1, 4096, 4096), tag);
    (s, c)
}

/// Read with a `len`-byte buffer; the bytes and the outcome.
pub fn read_n(h: &PipeHandle, len: usize) -> (Vec<u8>, ReadOutcome) {
    let mut buf = vec![0u8; len];
    let r = h.read(&mut buf).unwrap();
    buf.truncate(r.len);
    (buf, r)
}

/// Peek with a `len`-byte buffer: the bytes and the three outputs.
pub fn peek_n(h: &PipeHandle, len: usize) -> (Vec<u8>, PeekOutcome) {
    let mut buf = vec![0u8; len];
    let p = h.peek(&mut buf).unwrap();
    buf.truncate(p.bytes_read as usize);
    (buf, p)
}

/// A PeekOutcome literal.
pub fn pk(read: u32, avail: u32, left: u32) -> PeekOutcome {
    PeekOutcome {
        bytes_read: read,
        total_bytes_avail: avail,
        bytes_left_this_message: left,
    }
}

/// A ReadOutcome literal.
pub fn ro(len: usize, more_data: bool) -> ReadOutcome {
    ReadOutcome { len, more_data }
}

/// Poll `f` every 20 ms until it returns true; panic after `limit`.
pub fn eventually(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        if start.elapsed() > limit {
            panic!("{what}: not reached within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed (and reaped) when dropped, so a failing test leaves none behind.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Kill -9 the child and reap it.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Wait for the child to exit by itself; panic after `limit`. Returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(st) = self.0.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            if start.elapsed() > limit {
                panic!("child {} did not exit within {limit:?}", self.0.id());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait for the child's exit and panic unless it succeeded.
    pub fn expect_success(&mut self) {
        let code = self.wait_exit(LIMIT);
        assert_eq!(code, 0, "child failed (exit code {code})");
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
        let pid = self.0.id();
        CHILDREN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| *p != pid);
    }
}

fn guard(c: Child) -> ChildGuard {
    CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(c.id());
    ChildGuard(c)
}

/// Start `npfs-test-child` with `args` (same broker: it inherits `NPFS_RUNTIME_DIR`).
pub fn child(args: &[&str]) -> ChildGuard {
    child_env(args, &[])
}

/// Start `npfs-test-child` with `args` and extra environment variables.
pub fn child_env(args: &[&str], env: &[(&str, &str)]) -> ChildGuard {
    init();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_npfs-test-child"));
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    guard(cmd.spawn().expect("start npfs-test-child"))
}

/// Start a child whose stdout is piped; returns the guard and a line reader.
pub fn child_piped(args: &[&str]) -> (ChildGuard, LineReader) {
    init();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_npfs-test-child"));
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped());
    spawn_piped(cmd)
}

/// Spawn `cmd` (stdout piped); returns the guard and a line reader.
pub fn spawn_piped(mut cmd: Command) -> (ChildGuard, LineReader) {
    init();
    let mut c = cmd.spawn().expect("start npfs-test-child");
    let out = c.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (guard(c), LineReader(rx))
}

/// Lines printed by a child.
pub struct LineReader(mpsc::Receiver<String>);

impl LineReader {
    /// The next line; panic if none comes within [`LIMIT`].
    pub fn line(&self) -> String {
        self.0
            .recv_timeout(LIMIT)
            .expect("child printed no line in time")
    }

    /// Wait for a line equal to `want`.
    pub fn expect(&self, want: &str) {
        let got = self.line();
        assert_eq!(got, want, "child output");
    }
}

/// Retry `PipeClient::open` while it fails with `ERROR_FILE_NOT_FOUND` or
/// `ERROR_PIPE_BUSY` (a child's server is not up yet), bounded by [`LIMIT`].
pub fn open_retry(name: &str) -> PipeClient {
    let start = Instant::now();
    loop {
        match PipeClient::open_duplex(name) {
            Ok(c) => return c,
            Err(e) if e == Win32Error::FILE_NOT_FOUND || e == Win32Error::PIPE_BUSY => {
                assert!(start.elapsed() < LIMIT, "{name}: could not open: {e:?}");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("{name}: open failed: {e:?}"),
        }
    }
}
