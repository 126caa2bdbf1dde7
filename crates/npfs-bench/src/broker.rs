//! A private broker for the run: its own runtime directory (so its RSS is the suite's alone),
//! started through the library's auto-start and stopped at the end.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The run's runtime directory and broker; stops the broker and removes the directory on
/// drop.
pub struct PrivateBroker {
    dir: PathBuf,
}

impl PrivateBroker {
    /// Make the directory, point `$NPFS_RUNTIME_DIR` at it (inherited by the suite's child
    /// processes), and start the broker (the library finds it; this program registered
    /// itself as the fallback). Call at start-up, before any thread starts.
    pub fn start() -> io::Result<PrivateBroker> {
        let dir = std::env::temp_dir().join(format!(
            "npfs-bench.{}.{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let b = PrivateBroker { dir };
        std::env::set_var("NPFS_RUNTIME_DIR", b.dir.join("run"));
        // The suite runs for minutes with quiet stretches (Wine): keep the broker up.
        std::env::set_var("NPFS_IDLE_EXIT_MS", "3600000");
        drop(npfs::broker::BrokerConn::connect().map_err(io::Error::other)?);
        Ok(b)
    }

    /// The runtime directory.
    pub fn runtime_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// The broker's pid, from its pid file.
    pub fn pid(&self) -> Option<u32> {
        pid_in(&self.runtime_dir())
    }
}

fn pid_in(dir: &Path) -> Option<u32> {
    std::fs::read_to_string(dir.join("npfsd.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        if let Some(pid) = self
            .pid()
            .and_then(|p| rustix::process::Pid::from_raw(p as i32))
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
