//! Finding the broker executable, and standing in for it when there is none.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The broker's executable name.
const NPFSD: &str = "npfsd";

/// This process was started under the name `npfsd` (a symbolic link to `npfs`).
pub fn invoked_as_broker() -> bool {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n == NPFSD))
        .unwrap_or(false)
}

/// Run the built-in broker with `npfsd`'s own command line; returns the exit status.
pub fn run_builtin_from_args() -> i32 {
    use clap::Parser;
    npfsd::startup::main(npfsd::cli::Args::parse())
}

/// The `npfsd` executable, searched as the library does: `$NPFS_BROKER`, next to the current
/// executable, in the parent of its directory, then `$PATH`.
pub fn find_npfsd() -> Option<PathBuf> {
    if let Some(exe) = std::env::var_os("NPFS_BROKER").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(exe));
    }
    let mut candidates = Vec::new();
    if let Ok(me) = std::env::current_exe() {
        if let Some(dir) = me.parent() {
            candidates.push(dir.join(NPFSD));
            if let Some(up) = dir.parent() {
                candidates.push(up.join(NPFSD));
            }
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join(NPFSD)));
    }
    candidates.into_iter().find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A private directory holding an `npfsd` symbolic link to this executable; removed on drop.
pub struct BuiltinBroker {
    dir: PathBuf,
}

impl BuiltinBroker {
    /// Make the link and point `$NPFS_BROKER` at it, for this process and its children.
    /// Must run before any thread is started (it sets an environment variable).
    pub fn install() -> std::io::Result<BuiltinBroker> {
        let me = std::env::current_exe()?;
        let dir = std::env::temp_dir().join(format!("npfs-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let link = dir.join(NPFSD);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&me, &link)?;
        std::env::set_var("NPFS_BROKER", &link);
        Ok(BuiltinBroker { dir })
    }

    /// Remove the link and its directory (a running broker is not affected).
    pub fn remove(&self) {
        let _ = std::fs::remove_file(self.dir.join(NPFSD));
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl Drop for BuiltinBroker {
    fn drop(&mut self) {
        self.remove();
    }
}

/// `npfs daemon`: exec `npfsd` with the options, or run the built-in broker when there is no
/// `npfsd` executable. Returns the exit status (only when not exec'd).
pub fn daemon(foreground: bool, system: bool, runtime_dir: Option<PathBuf>) -> i32 {
    let mut args: Vec<OsString> = Vec::new();
    if foreground {
        args.push("--foreground".into());
    }
    if system {
        args.push("--system".into());
    }
    if let Some(dir) = &runtime_dir {
        args.push("--runtime-dir".into());
        args.push(dir.into());
    }
    match find_npfsd() {
        Some(exe) => {
            let err = Command::new(&exe).args(&args).exec();
            eprintln!("npfs: cannot run {}: {err}", exe.display());
            1
        }
        None => npfsd::startup::main(npfsd::cli::Args {
            runtime_dir,
            foreground,
            idle_exit_ms: None,
        }),
    }
}
