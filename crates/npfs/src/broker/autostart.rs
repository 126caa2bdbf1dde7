//! Connecting to the broker, starting it first when nobody answers.
//!
//! Every connect is bounded ([`socket::connect`]): a broker whose backlog stays full (one
//! that accepts nothing) fails the connect with `TimedOut` after
//! [`socket::BROKER_DEADLINE`] instead of blocking.
//!
//! A system-wide broker ([`BrokerConfig::system_dir`]) is tried first and never started;
//! a broker of [`BrokerConfig::shared`] is only connected to.
//!
//! The broker program is found as [`super::locate`] describes. It is spawned with `--runtime-dir DIR` and daemonizes: its first process exits once the
//! socket accepts connections. Concurrent starts are safe: the broker's lock lets one win and
//! the others exit quietly, and every caller retries connecting.

use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use npfs_proto::runtime::{ensure_dir, SOCKET_NAME};

use super::{locate, socket, BrokerConfig};

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
            match socket::connect(&path, socket::BROKER_DEADLINE) {
                Ok(s) => return Ok(s),
                Err(e) => tracing::debug!("system broker at {}: {e}", path.display()),
            }
        }
    }
    if !cfg.autostart {
        let path = cfg.runtime_dir.join(SOCKET_NAME);
        return socket::connect(&path, socket::BROKER_DEADLINE).map_err(|e| {
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
        let left = CONNECT_BUDGET
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(100));
        let err = match socket::connect(&path, left.min(socket::BROKER_DEADLINE)) {
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

/// Start a broker for `cfg` and wait for its first process to exit (it exits once the
/// socket accepts connections). The launcher's stderr is read until it closes, so a broker
/// that cannot start says why: its words become the error.
fn spawn(cfg: &BrokerConfig) -> std::io::Result<()> {
    let program = locate::find(cfg)
        .map_err(|nf| std::io::Error::new(std::io::ErrorKind::NotFound, nf.to_string()))?;
    let mut cmd = Command::new(&program.exe);
    cmd.args(&program.leading_args);
    cmd.arg("--runtime-dir").arg(&cfg.runtime_dir);
    if let Some(ms) = cfg.idle_exit_ms {
        cmd.arg("--idle-exit-ms").arg(ms.to_string());
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot run the npfs broker {}: {e}", program.exe.display()),
            )
        })?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let said = read_until_closed(stderr, Instant::now() + CONNECT_BUDGET);
    let said = match said {
        Ok(text) => text,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                e.kind(),
                format!(
                    "the npfs broker {} did not start within {} s",
                    program.exe.display(),
                    CONNECT_BUDGET.as_secs()
                ),
            ));
        }
    };
    let status = child.wait()?;
    tracing::debug!(?status, "npfsd launcher exited");
    if !status.success() {
        let said = said.trim();
        return Err(std::io::Error::other(format!(
            "the npfs broker {} failed to start ({status}){}{said}",
            program.exe.display(),
            if said.is_empty() { "" } else { ": " },
        )));
    }
    Ok(())
}

/// Read `pipe` until every writer has closed it (the launcher exited and the daemon it forked
/// redirected its stderr), waiting in poll(2) for each chunk, at most until `deadline`.
fn read_until_closed(
    pipe: std::process::ChildStderr,
    deadline: Instant,
) -> std::io::Result<String> {
    use rustix::event::{poll, PollFd, PollFlags};
    use std::io::Read;
    let mut pipe = pipe;
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        let ts = rustix::time::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos().into(),
        };
        let mut fds = [PollFd::new(&pipe, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(0) => return Err(std::io::ErrorKind::TimedOut.into()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        match pipe.read(&mut buf) {
            Ok(0) => return Ok(String::from_utf8_lossy(&out).into_owned()),
            Ok(n) => {
                // Keep the first few KiB: enough for any message, bounded for any launcher.
                if out.len() < 4096 {
                    out.extend_from_slice(&buf[..n]);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
