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

/// The broker executable the library would find (`$NPFS_BROKER`, next to this executable,
/// its parent directory, `$PATH`).
fn find_npfsd() -> Option<PathBuf> {
    if let Some(exe) = std::env::var_os("NPFS_BROKER").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(exe));
    }
    let me = std::env::current_exe().ok()?;
    let mut cands = Vec::new();
    if let Some(dir) = me.parent() {
        cands.push(dir.join("npfsd"));
        if let Some(up) = dir.parent() {
            cands.push(up.join("npfsd"));
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        cands.extend(std::env::split_paths(&path).map(|d| d.join("npfsd")));
    }
    cands.into_iter().find(|p| p.is_file())
}

impl PrivateBroker {
    /// Make the directory, point `$NPFS_RUNTIME_DIR` (and, when no `npfsd` executable
    /// exists, `$NPFS_BROKER`: a link named `npfsd` to this program, which then runs the
    /// built-in broker) at it, and start the broker. Call before any thread starts.
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
        if find_npfsd().is_none() {
            let link = b.dir.join("npfsd");
            std::os::unix::fs::symlink(std::env::current_exe()?, &link)?;
            std::env::set_var("NPFS_BROKER", &link);
        }
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
