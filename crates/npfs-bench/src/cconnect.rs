//! The connect pair through the C ABI, beside its AF_UNIX anchor in the same run:
//! `winconnect.c` (CreateFile on a listening instance until the client holds the server's
//! first byte; the server makes its next instance in between, as servers do) built with gcc
//! against libnpfs, and `udsconnect.c` (connect until the client holds the server's first
//! byte). Both are the sources of `../shared/bench/`, embedded; each runs as two processes, a
//! server and a client, pinned as the placement says (the broker runs where the scheduler
//! puts it, as an installed one does).

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::placement::Placement;
use crate::stats;

const WINCONNECT_C: &str = include_str!("winconnect.c");
const UDSCONNECT_C: &str = include_str!("udsconnect.c");

/// One side of the pair: medians over the runs of each run's p50 and p99, µs.
#[derive(Clone, Debug)]
pub struct Latency {
    /// Median of the runs' p50.
    pub p50: stats::Summary,
    /// Median of the runs' p99.
    pub p99: stats::Summary,
    /// Connects per run.
    pub per_run: usize,
}

/// The pair at one placement.
#[derive(Clone, Debug)]
pub struct ConnectPair {
    /// Where the processes ran.
    pub placement: Placement,
    /// npfs through the C ABI (winconnect.c).
    pub npfs: Result<Latency, String>,
    /// AF_UNIX (udsconnect.c).
    pub uds: Result<Latency, String>,
}

impl ConnectPair {
    /// npfs p50 over AF_UNIX p50, when both were measured.
    pub fn ratio(&self) -> Option<f64> {
        match (&self.npfs, &self.uds) {
            (Ok(n), Ok(u)) if u.p50.median > 0.0 => Some(n.p50.median / u.p50.median),
            _ => None,
        }
    }
}

/// The two programs, built under `work`.
pub struct Programs {
    winconnect: PathBuf,
    udsconnect: PathBuf,
    work: PathBuf,
}

impl Programs {
    /// Build winconnect against `target/release/libnpfs.so` and udsconnect natively.
    pub fn build(work: &Path) -> io::Result<Programs> {
        std::fs::create_dir_all(work)?;
        let win_src = work.join("winconnect.c");
        std::fs::write(&win_src, WINCONNECT_C)?;
        let winconnect = work.join("winconnect-npfs");
        crate::wine::build_against_libnpfs(&win_src, &winconnect, work)?;
        let uds_src = work.join("udsconnect.c");
        std::fs::write(&uds_src, UDSCONNECT_C)?;
        let udsconnect = work.join("udsconnect");
        crate::wine::run_limited(
            Command::new("gcc")
                .args(["-std=gnu11", "-O2", "-o"])
                .arg(&udsconnect)
                .arg(&uds_src),
            Duration::from_secs(120),
            None,
        )?;
        Ok(Programs {
            winconnect,
            udsconnect,
            work: work.to_owned(),
        })
    }

    /// Both programs at `place`, `runs` runs of `per_run` connects each, alternating npfs
    /// and AF_UNIX so that a change in the machine's state hits both alike. The broker and
    /// runtime directory come from this process's environment (the suite's private broker).
    pub fn run(&self, place: Placement, runs: usize, per_run: usize) -> ConnectPair {
        let (mut npfs, mut uds) = (Vec::new(), Vec::new());
        let (mut npfs_err, mut uds_err) = (None, None);
        for run in 0..runs.max(1) {
            let pipe = format!(r"\\.\pipe\npfs-bench-connect-{}-{run}", std::process::id());
            match self.one(place, &self.winconnect, &pipe, per_run, Ready::Pipe(&pipe)) {
                Ok(r) => npfs.push(r),
                Err(e) => npfs_err = Some(e.to_string()),
            }
            let sock = self.work.join(format!("uds-{run}.sock"));
            let path = sock.to_string_lossy().into_owned();
            match self.one(
                place,
                &self.udsconnect,
                &path,
                per_run,
                Ready::Socket(&sock),
            ) {
                Ok(r) => uds.push(r),
                Err(e) => uds_err = Some(e.to_string()),
            }
            let _ = std::fs::remove_file(&sock);
        }
        let _ = crate::sys::pin(&[]);
        let summarize = |v: Vec<(f64, f64)>, err: Option<String>| -> Result<Latency, String> {
            if let Some(e) = err {
                return Err(e);
            }
            let mut p50: Vec<f64> = v.iter().map(|r| r.0).collect();
            let mut p99: Vec<f64> = v.iter().map(|r| r.1).collect();
            match (stats::Summary::of(&mut p50), stats::Summary::of(&mut p99)) {
                (Some(p50), Some(p99)) => Ok(Latency { p50, p99, per_run }),
                _ => Err("no run".into()),
            }
        };
        ConnectPair {
            placement: place,
            npfs: summarize(npfs, npfs_err),
            uds: summarize(uds, uds_err),
        }
    }

    /// One run: start the server, wait until it listens, run the client; (p50, p99) µs. Same
    /// core: both on CPU 0; cross core: the server on CPU 1, the client on CPU 0 (each
    /// inherits this process's affinity, set before it starts).
    fn one(
        &self,
        place: Placement,
        exe: &Path,
        name: &str,
        count: usize,
        ready: Ready<'_>,
    ) -> io::Result<(f64, f64)> {
        let (server_cpu, client_cpu) = match place {
            Placement::Same => (0, 0),
            Placement::Cross => (1, 0),
        };
        crate::sys::pin(&[server_cpu])?;
        let server = Command::new(exe)
            .args(["-r", "server", "-n", name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let server = Reaped(server);
        ready.wait(Duration::from_secs(10))?;
        crate::sys::pin(&[client_cpu])?;
        let out = Command::new(exe)
            .args(["-r", "client", "-n", name, "-c", &count.to_string()])
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()?;
        drop(server);
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "{}: {}",
                exe.display(),
                out.status
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let field = |key: &str| -> Option<f64> {
            text.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|v| v.parse().ok())
        };
        match (field("p50_us="), field("p99_us=")) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err(io::Error::other(format!("no RESULT line in {text:?}"))),
        }
    }
}

/// What tells that a server listens.
enum Ready<'a> {
    /// The pipe has an instance (WaitNamedPipe succeeds).
    Pipe(&'a str),
    /// The socket file exists.
    Socket(&'a Path),
}

impl Ready<'_> {
    fn wait(&self, limit: Duration) -> io::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let up = match self {
                Ready::Pipe(name) => npfs::wait_named_pipe(name, 100).is_ok(),
                Ready::Socket(p) => p.exists(),
            };
            if up {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::other("the server did not start listening"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A server process, killed and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
