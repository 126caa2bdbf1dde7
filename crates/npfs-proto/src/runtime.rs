//! Where the broker lives: the runtime directory and the files in it.
//!
//! The directory of a per-user broker is `$NPFS_RUNTIME_DIR` if set, else
//! `$XDG_RUNTIME_DIR/npfs`, else `/run/user/<uid>/npfs` when logind made `/run/user/<uid>`,
//! else `/tmp/npfs-<uid>`. It is created with mode 0700 and must
//! belong to the calling user.
//!
//! The system-wide broker (`npfsd --system`, root) lives in [`SYSTEM_RUNTIME_DIR`], a 0755
//! directory whose socket every user may connect to (0666); identities come from the kernel.
//! `npfsd --shared` does the same in another directory ([`ensure_shared_dir`]).

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// File name of the broker's listening socket inside the runtime directory.
pub const SOCKET_NAME: &str = "npfsd.sock";
/// File name of the lock that makes the broker single-instance per directory.
pub const LOCK_NAME: &str = "npfsd.lock";
/// File name holding the daemonized broker's process id.
pub const PID_NAME: &str = "npfsd.pid";
/// File name of the daemonized broker's log.
pub const LOG_NAME: &str = "npfsd.log";

/// The runtime directory of the system-wide broker.
pub const SYSTEM_RUNTIME_DIR: &str = "/run/npfs";

/// The runtime directory from the environment (not created).
pub fn runtime_dir_from_env() -> PathBuf {
    if let Some(dir) = std::env::var_os("NPFS_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("npfs");
    }
    let uid = rustix::process::getuid().as_raw();
    // The directory systemd-logind makes for the user's sessions, as XDG_RUNTIME_DIR would
    // name it: a cron job or `su` shell without the variable still finds the session's broker.
    let session_dir = PathBuf::from(format!("/run/user/{uid}"));
    if std::fs::symlink_metadata(&session_dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
    {
        return session_dir.join("npfs");
    }
    // The last resort, tmux's convention: a fixed name in /tmp, used only when it is a real
    // directory of ours with mode 0700 (ensure_dir refuses anything else, in words).
    PathBuf::from(format!("/tmp/npfs-{uid}"))
}

/// `dir` (described by `meta`) is a directory that belongs to the calling user.
fn check_owned_dir(dir: &Path, meta: &std::fs::Metadata) -> std::io::Result<()> {
    if !meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!(
                "the npfs runtime directory {} is not a directory (a symbolic link or a file \
                 is refused); remove it, or set NPFS_RUNTIME_DIR",
                dir.display()
            ),
        ));
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "the npfs runtime directory {} belongs to another user (uid {}), so it is not \
                 used; remove it, or set XDG_RUNTIME_DIR or NPFS_RUNTIME_DIR to a directory \
                 of yours",
                dir.display(),
                meta.uid()
            ),
        ));
    }
    Ok(())
}

/// Create `dir` (and its parents) with mode 0700 if missing, and check that it belongs to the
/// calling user; a directory of ours with looser permissions is tightened to 0700.
///
/// # Errors
///
/// I/O errors, or `PermissionDenied` when the directory belongs to someone else.
pub fn ensure_dir(dir: &Path) -> std::io::Result<()> {
    // The usual case, one stat: the directory is there, ours, and private.
    if let Ok(meta) = std::fs::symlink_metadata(dir) {
        if meta.is_dir()
            && meta.uid() == rustix::process::geteuid().as_raw()
            && meta.mode() & 0o077 == 0
        {
            return Ok(());
        }
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // Not followed: a link put in our place (in /tmp, by anyone) is refused, not trusted.
    let meta = std::fs::symlink_metadata(dir)?;
    check_owned_dir(dir, &meta)?;
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Create `dir` (and its parents) with mode 0755 if missing, for a broker every user
/// connects to: it must belong to the calling user, and write access for group and others is
/// removed (nobody else may replace the socket).
///
/// # Errors
///
/// I/O errors, or `PermissionDenied` when the directory belongs to someone else.
pub fn ensure_shared_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    check_owned_dir(dir, &meta)?;
    if meta.mode() & 0o7777 != 0o755 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// The runtime directory from the environment, created 0700.
///
/// # Errors
///
/// See [`ensure_dir`].
pub fn runtime_dir() -> std::io::Result<PathBuf> {
    let dir = runtime_dir_from_env();
    ensure_dir(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_private_dir_and_tightens() {
        let base = std::env::temp_dir().join(format!("npfs-proto-rt-{}", std::process::id()));
        let dir = base.join("a/b");
        ensure_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn shared_dir_is_0755() {
        let base = std::env::temp_dir().join(format!("npfs-proto-sh-{}", std::process::id()));
        let dir = base.join("s");
        ensure_shared_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o755);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        ensure_shared_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o755);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
