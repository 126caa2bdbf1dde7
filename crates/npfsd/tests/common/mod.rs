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
