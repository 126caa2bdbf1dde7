//! Connecting to the broker, starting it first when nobody answers.
//!
//! A system-wide broker ([`BrokerConfig::system_dir`]) is tried first and never started;
//! a broker of [`BrokerConfig::shared`] is only connected to.
//!
//! The broker is found through `$NPFS_BROKER`, next to the current executable, in the parent
//! of its directory (`target/debug/deps/test-xxx` finds `target/debug/npfsd`), then `$PATH`.
//! It is spawned with `--runtime-dir DIR` and daemonizes: its first process exits once the
//! socket accepts connections. Concurrent starts are safe: the broker's lock lets one win and
//! the others exit quietly, and every caller retries connecting.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use npfs_proto::runtime::{ensure_dir, SOCKET_NAME};

use super::BrokerConfig;

/// How long to keep trying to reach a broker.
const CONNECT_BUDGET: Duration = Duration::from_secs(5);
/// Least time between two start attempts.
const RESPAWN_EVERY: Duration = Duration::from_millis(500);

/// Connect to the broker of `cfg`: the shared one of [`BrokerConfig::system_dir`] if it
/// accepts the connection, else the one of [`BrokerConfig::runtime_dir`], started if needed
/// (when [`BrokerConfig::autostart`]).
pub(crate) fn connect(cfg: &BrokerConfig) -> std::io::Result<UnixStream> {
    if let Some(sys) = &cfg.system_dir {
        let path = sys.join(SOCKET_NAME);
        // No socket file (the usual case without a system broker) costs one failed stat.
        if std::fs::symlink_metadata(&path).is_ok() {
            match UnixStream::connect(&path) {
                Ok(s) => return Ok(s),
                Err(e) => tracing::debug!("system broker at {}: {e}", path.display()),
            }
        }
    }
    if !cfg.autostart {
        let path = cfg.runtime_dir.join(SOCKET_NAME);
        return UnixStream::connect(&path).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot reach npfsd at {}: {e}", path.display()),
            )
        });
    }
    // A shared broker's directory (0755) stays as it is; ours is made (or tightened to) 0700.
    let shared = std::fs::metadata(&cfg.runtime_dir).is_ok_and(|m| {
        use std::os::unix::fs::PermissionsExt;
        m.is_dir() && m.permissions().mode() & 0o7777 == 0o755
    });
    if !shared {
        ensure_dir(&cfg.runtime_dir)?;
    }
    let path = cfg.runtime_dir.join(SOCKET_NAME);
    let start = Instant::now();
    let mut last_spawn: Option<Instant> = None;
    let mut backoff = Duration::from_millis(2);
    loop {
        let err = match UnixStream::connect(&path) {
            Ok(s) => return Ok(s),
            Err(e) => e,
        };
        let startable = matches!(
            err.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
        );
        if !startable || start.elapsed() >= CONNECT_BUDGET {
            return Err(std::io::Error::new(
                err.kind(),
                format!("cannot reach npfsd at {}: {err}", path.display()),
            ));
        }
        let spawn_due = match last_spawn {
            None => true,
            Some(t) => t.elapsed() >= RESPAWN_EVERY,
        };
        if spawn_due {
            last_spawn = Some(Instant::now());
            spawn(cfg)?;
            continue;
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_millis(100));
    }
}

/// Start a broker for `cfg` and wait for its first process to exit.
fn spawn(cfg: &BrokerConfig) -> std::io::Result<()> {
    let exe = find_broker(cfg)?;
    let mut cmd = Command::new(&exe);
    cmd.arg("--runtime-dir").arg(&cfg.runtime_dir);
    if let Some(ms) = cfg.idle_exit_ms {
        cmd.arg("--idle-exit-ms").arg(ms.to_string());
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| std::io::Error::new(e.kind(), format!("starting {}: {e}", exe.display())))?;
    let deadline = Instant::now() + CONNECT_BUDGET;
    loop {
        if let Some(status) = child.try_wait()? {
            tracing::debug!(?status, "npfsd launcher exited");
            return Ok(());
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "npfsd did not start in time",
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Locate the `npfsd` executable.
fn find_broker(cfg: &BrokerConfig) -> std::io::Result<PathBuf> {
    if let Some(exe) = &cfg.broker_exe {
        return Ok(exe.clone());
    }
    if let Some(exe) = std::env::var_os("NPFS_BROKER").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(exe));
    }
    let mut candidates = Vec::new();
    if let Ok(me) = std::env::current_exe() {
        if let Some(dir) = me.parent() {
            candidates.push(dir.join("npfsd"));
            if let Some(up) = dir.parent() {
                candidates.push(up.join("npfsd"));
            }
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("npfsd")));
    }
    candidates
        .into_iter()
        .find(|p| is_executable(p))
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "npfsd not found (set NPFS_BROKER)",
            )
        })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
