//! Shared helpers of the broker's integration tests: a private runtime directory per test,
//! a broker started from `CARGO_BIN_EXE_npfsd`, time limits on everything.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use npfs::broker::BrokerConfig;
use npfs_core::config::{parse_create, CreateParams};
use npfs_core::consts::*;
use npfs_core::name::PipeName;

/// The broker executable under test.
pub const NPFSD: &str = env!("CARGO_BIN_EXE_npfsd");

/// A private runtime directory; kills the broker that served it on drop.
pub struct TestDir {
    pub cfg: BrokerConfig,
}

impl TestDir {
    pub fn new(tag: &str) -> TestDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "npfsd-t-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TestDir {
            cfg: BrokerConfig {
                runtime_dir: dir,
                system_dir: None,
                autostart: true,
                broker_exe: Some(PathBuf::from(NPFSD)),
                idle_exit_ms: Some(5000),
            },
        }
    }

    pub fn path(&self) -> &Path {
        &self.cfg.runtime_dir
    }

    /// Pid of the daemonized broker, from its pid file.
    pub fn broker_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.path().join("npfsd.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if let Some(pid) = self.broker_pid() {
            kill9(pid);
        }
        let _ = std::fs::remove_dir_all(self.path());
    }
}

pub fn kill9(pid: i32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

/// Whether a process exists.
pub fn alive(pid: i32) -> bool {
    rustix::process::Pid::from_raw(pid)
        .is_some_and(|p| rustix::process::test_kill_process(p).is_ok())
}

/// Run `f` on a thread; fail the test if it takes longer than `limit`.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            handle.join().unwrap();
            v
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // The body panicked: re-raise its panic.
            match handle.join() {
                Err(p) => std::panic::resume_unwind(p),
                Ok(()) => unreachable!(),
            }
        }
        Err(_) => panic!("test step did not finish within {limit:?}"),
    }
}

/// Poll `cond` until it holds or `limit` passes (for states that have no event to await,
/// such as a process having exited).
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

pub fn name(s: &str) -> PipeName {
    PipeName::parse_for_create(Some(&format!("\\\\.\\pipe\\{s}"))).unwrap()
}

pub fn params(open_mode: u32, max: u32) -> CreateParams {
    parse_create(open_mode, PIPE_TYPE_BYTE, max, 4096, 4096, 0).unwrap()
}

pub fn duplex(max: u32) -> CreateParams {
    params(PIPE_ACCESS_DUPLEX, max)
}

pub const RW: u32 = GENERIC_READ | GENERIC_WRITE;
pub const LIMIT: Duration = Duration::from_secs(30);
pub const EVENT: Option<Duration> = Some(Duration::from_secs(10));

// ------------------------------------------------------------------ brokers under measurement

/// A broker run in the foreground (so its pid is the child's), logging at `info` to a file,
/// optionally under a lower `RLIMIT_NOFILE`; killed on drop.
pub struct ForegroundBroker {
    pub child: std::process::Child,
    pub dir: PathBuf,
    pub log: PathBuf,
    /// Connect only (never start a broker).
    pub cfg: BrokerConfig,
}

impl ForegroundBroker {
    /// Start `npfsd --foreground` (with `--shared` when `shared`) in a private directory; with
    /// `nofile`, under that `RLIMIT_NOFILE` (soft and hard), which the broker derives its caps
    /// from.
    pub fn start(tag: &str, shared: bool, nofile: Option<u64>) -> ForegroundBroker {
        use std::os::unix::process::CommandExt;
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "npfsd-x-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let log = dir.with_extension("log");
        // `NPFS_TEST_NPFSD` runs another build (say, an older one, to see a test fail).
        let exe =
            std::env::var_os("NPFS_TEST_NPFSD").map_or_else(|| PathBuf::from(NPFSD), PathBuf::from);
        let mut cmd = std::process::Command::new(exe);
        cmd.args(["--foreground", "--idle-exit-ms", "600000"]);
        if shared {
            cmd.arg("--shared");
        }
        cmd.arg("--runtime-dir")
            .arg(&dir)
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(n) = nofile {
            // SAFETY: only setrlimit (async-signal-safe) between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = rustix::process::Rlimit {
                        current: Some(n),
                        maximum: Some(n),
                    };
                    rustix::process::setrlimit(rustix::process::Resource::Nofile, lim)?;
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().unwrap();
        let sock = dir.join("npfsd.sock");
        assert!(
            eventually(Duration::from_secs(10), || {
                std::os::unix::net::UnixStream::connect(&sock).is_ok()
            }),
            "npfsd did not start"
        );
        ForegroundBroker {
            child,
            cfg: BrokerConfig::shared(&dir),
            dir,
            log,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("npfsd.sock")
    }

    /// What the broker logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Set the broker's soft `RLIMIT_NOFILE` (its hard limit stays).
    pub fn set_soft_nofile(&self, n: u64) {
        let pid = rustix::process::Pid::from_raw(self.pid()).unwrap();
        // prlimit(2) through rustix always sets: keep the hard limit as /proc says it is.
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", self.pid())).unwrap();
        let hard = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(4)?.parse::<u64>().ok())
            .expect("hard RLIMIT_NOFILE");
        let lim = rustix::process::Rlimit {
            current: Some(n),
            maximum: Some(hard),
        };
        rustix::process::prlimit(Some(pid), rustix::process::Resource::Nofile, lim).unwrap();
    }
}

impl Drop for ForegroundBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: i32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// User plus system CPU time of a process, in clock ticks (1/100 s: `USER_HZ`).
pub fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces and parentheses).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); `rest` starts at field 3.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// The descriptors a process holds.
pub fn open_fds(pid: i32) -> Vec<i32> {
    let mut v: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    v.sort_unstable();
    v
}

/// Raise this process's soft `RLIMIT_NOFILE` to its hard limit; returns the new soft limit.
pub fn raise_own_nofile() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    lim.current = lim.maximum;
    let _ = setrlimit(Resource::Nofile, lim);
    getrlimit(Resource::Nofile).current.unwrap_or(1 << 20)
}

/// Read one reply frame from a raw connection within `limit`; `None` on time-out, end of
/// stream or a broken frame.
pub fn read_reply(
    s: &mut std::os::unix::net::UnixStream,
    limit: Duration,
) -> Option<npfs_proto::broker::Reply> {
    use std::io::Read;
    let end = Instant::now() + limit;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Ok(Some((f, _))) = npfs_proto::broker::decode_frame(&buf) {
            return npfs_proto::broker::Reply::decode(f).ok();
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Where a peer process (this test binary re-run as `peer_main` under another identity)
/// finds the broker's runtime directory.
pub const PEER_DIR_ENV: &str = "NPFS_PEER_DIR";

/// A peer process: this test binary re-run as its `peer_main` test with dropped privileges,
/// reading one command a line on stdin and answering `@@ ANSWER` on stdout.
pub struct Peer {
    pub child: std::process::Child,
    pub stdin: std::process::ChildStdin,
    pub stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Peer {
    /// Start a peer as `uid`/`gid` with the supplementary `groups`, for the broker of `dir`.
    pub fn spawn(dir: &Path, uid: u32, gid: u32, groups: Vec<u32>) -> Peer {
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "peer_main",
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(PEER_DIR_ENV, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        // SAFETY: only async-signal-safe system calls between fork and exec; `groups` was
        // allocated before the fork.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        Peer {
            child,
            stdin,
            stdout,
        }
    }

    /// Run one command; its answer (without the `@@ ` prefix). The test's `within` bounds it.
    pub fn cmd(&mut self, line: &str) -> String {
        use std::io::{BufRead, Write};
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let mut l = String::new();
        loop {
            l.clear();
            assert!(
                self.stdout.read_line(&mut l).unwrap() > 0,
                "peer died during {line:?}"
            );
            if let Some(ans) = l.trim_end().strip_prefix("@@ ") {
                return ans.to_owned();
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        use std::io::Write;
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
