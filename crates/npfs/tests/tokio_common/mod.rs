//! Helpers of the async tests: one broker per test binary, unique names, bounded awaits,
//! and child processes (the test binary itself, started in a role).
#![allow(dead_code)]

use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

/// Longest time any awaited step may take.
pub const LIMIT: Duration = Duration::from_secs(10);
/// How long to watch a step that must *not* complete.
pub const PENDING: Duration = Duration::from_millis(100);

static INIT: Once = Once::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The environment variable that makes the test binary a child in a role.
pub const CHILD_ENV: &str = "NPFS_TOKIO_CHILD";

/// Point this binary at its own broker (children inherit the parent's).
pub fn init() {
    INIT.call_once(|| {
        if std::env::var_os(CHILD_ENV).is_some() {
            return;
        }
        let stem = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "t".into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("npfs-tokio-{stem}-{}-{nanos}", std::process::id()));
        std::env::set_var("NPFS_RUNTIME_DIR", &dir);
    });
}

/// A unique pipe name.
pub fn pipe_name(tag: &str) -> String {
    init();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(r"\\.\pipe\npfs-tokio\{tag}-{}-{n}", std::process::id())
}

/// Await `f` for at most [`LIMIT`]. The deadline is looked at first: `f` is not polled once
/// more when it passed (the deadline's own wake-up must not stand in for the event `f`
/// waits for, as it does with `tokio::time::timeout`).
pub async fn t<F: Future>(f: F) -> F::Output {
    tokio::select! {
        biased;
        () = tokio::time::sleep(LIMIT) => panic!("step did not finish within {LIMIT:?}"),
        v = f => v,
    }
}

/// Assert that `f` does not complete within [`PENDING`] (it is dropped: cancelled).
pub async fn assert_pending<F: Future>(f: F, what: &str) {
    if tokio::time::timeout(PENDING, f).await.is_ok() {
        panic!("{what}: completed but should be pending");
    }
}

/// The Win32 code of an io::Error of npfs::tokio.
pub fn code(e: &std::io::Error) -> u32 {
    npfs::Win32IoError::win32_error(e)
        .map(|w| w.0)
        .unwrap_or_else(|| panic!("not a Win32 error: {e:?}"))
}

/// A child process (this test binary in a role) that is killed if the test fails.
pub struct Kid {
    pub child: Option<Child>,
}

impl Kid {
    /// Start this binary's `child_main` test with `role` in [`CHILD_ENV`].
    pub fn spawn(role: &str) -> Kid {
        init();
        let exe = std::env::current_exe().expect("current exe");
        let child = Command::new(exe)
            .args(["--exact", "child_main", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, role)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        Kid { child: Some(child) }
    }

    /// Wait (bounded) for the child to finish; its `RESULT:` lines.
    pub fn finish(mut self, limit: Duration) -> Vec<String> {
        let mut child = self.child.take().expect("child");
        let start = Instant::now();
        loop {
            match child.try_wait().expect("try_wait") {
                Some(_) => break,
                None if start.elapsed() > limit => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("child did not finish within {limit:?}");
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        let out = child.wait_with_output().expect("output");
        assert!(out.status.success(), "child failed: {:?}", out.status);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.find("RESULT: ").map(|i| l[i + 8..].to_owned()))
            .collect()
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Print a result line for the parent.
pub fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "RESULT: {line}");
    let _ = out.flush();
}

/// Peak resident set size of this process, in KiB (VmHWM).
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
