//! Finding the broker program to start, with nothing configured.
//!
//! The search, first match wins:
//!
//! 1. [`BrokerConfig::broker_exe`], then `$NPFS_BROKER` (an override: when set it is the only
//!    candidate).
//! 2. Beside the code that is running: the directory of the object holding this library (the
//!    program, or `libnpfs.so` for C programs) and of the executable — `npfsd` there and in
//!    the parent directory (`target/debug/deps/test-xxx` finds `target/debug/npfsd`), and the
//!    install layout around a library directory (`LIB/../libexec/npfs/npfsd`).
//! 3. The libexec directory this library was built for (`make install` passes it as
//!    `NPFS_LIBEXECDIR` at build time), then `/usr/local/libexec/npfs` and `/usr/libexec/npfs`.
//! 4. `npfsd` on `$PATH`, then `PREFIX/libexec/npfs/npfsd` of an `npfs` command found on
//!    `$PATH` in `PREFIX/bin`.
//! 5. The program registered with [`set_fallback_broker`] (the `npfs` command registers
//!    itself, so it needs no `npfsd`).
//! 6. The `npfs` command on `$PATH` or in cargo's bin directory, run as `npfs npfsd ARGS`.
//!
//! When nothing is found, [`NotFound`] lists every place that was looked at, for the message
//! the library prints.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::BrokerConfig;

/// The broker's executable name.
pub(crate) const NPFSD: &str = "npfsd";
/// The `npfs` command, which carries the broker built in (`npfs npfsd ARGS`).
const NPFS_CLI: &str = "npfs";
/// The hidden subcommand of `npfs` that runs the built-in broker with `npfsd`'s arguments.
pub const BUILTIN_BROKER_SUBCOMMAND: &str = "npfsd";

/// A program that runs the broker: `exe`, then `leading_args`, then `npfsd`'s own arguments
/// (`--runtime-dir DIR ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerProgram {
    /// The executable.
    pub exe: PathBuf,
    /// Arguments before `npfsd`'s (for `npfs`: the hidden subcommand `npfsd`).
    pub leading_args: Vec<OsString>,
}

impl BrokerProgram {
    /// An `npfsd` executable.
    pub fn npfsd(exe: impl Into<PathBuf>) -> BrokerProgram {
        BrokerProgram {
            exe: exe.into(),
            leading_args: Vec::new(),
        }
    }

    /// The `npfs` command at `exe`, running its built-in broker (`npfs npfsd ARGS`).
    pub fn npfs_command(exe: impl Into<PathBuf>) -> BrokerProgram {
        BrokerProgram {
            exe: exe.into(),
            leading_args: vec![BUILTIN_BROKER_SUBCOMMAND.into()],
        }
    }
}

static FALLBACK: OnceLock<BrokerProgram> = OnceLock::new();

/// Register the program to start as the broker when no `npfsd` executable is found
/// (search step 5 of the module documentation). The first registration wins. The `npfs`
/// command registers itself this way instead of changing its environment.
pub fn set_fallback_broker(program: BrokerProgram) {
    let _ = FALLBACK.set(program);
}

/// The program the library would start as the broker with the environment's configuration
/// ([`BrokerConfig::from_env`]), found as the module documentation describes.
///
/// # Errors
///
/// `NotFound`, in words: where it looked and how to fix it.
pub fn find_broker_program() -> std::io::Result<BrokerProgram> {
    let cfg = BrokerConfig::from_env()?;
    find(&cfg).map_err(|nf| std::io::Error::new(std::io::ErrorKind::NotFound, nf.to_string()))
}

/// No broker program was found.
#[derive(Debug)]
pub(crate) struct NotFound {
    /// `$NPFS_BROKER` was set to this, and it is not an executable file.
    pub(crate) bad_override: Option<PathBuf>,
    /// Every path that was tried, in order.
    pub(crate) searched: Vec<PathBuf>,
}

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(p) = &self.bad_override {
            return write!(
                f,
                "NPFS_BROKER is set to {}, which is not an executable file; point it at the \
                 npfsd executable, or unset it to let npfs find its broker",
                p.display()
            );
        }
        write!(
            f,
            "no npfs broker program (npfsd, or the npfs command) was found; looked for"
        )?;
        for (i, p) in self.searched.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{}", p.display())?;
        }
        write!(
            f,
            ". Fix: install npfs (`make install`, the npfs Debian package, or `cargo install \
             --locked --path crates/npfs-cli`, which puts `npfs` in ~/.cargo/bin: have that \
             on PATH), or set NPFS_BROKER to the npfsd executable"
        )
    }
}

/// Find the broker program for `cfg` (see the module documentation).
pub(crate) fn find(cfg: &BrokerConfig) -> Result<BrokerProgram, NotFound> {
    if let Some(exe) = &cfg.broker_exe {
        return Ok(BrokerProgram::npfsd(exe));
    }
    if let Some(exe) = std::env::var_os("NPFS_BROKER").filter(|v| !v.is_empty()) {
        let exe = PathBuf::from(exe);
        return if is_executable(&exe) {
            Ok(BrokerProgram::npfsd(exe))
        } else {
            Err(NotFound {
                bad_override: Some(exe),
                searched: Vec::new(),
            })
        };
    }
    let mut searched = Vec::new();
    for candidate in npfsd_candidates() {
        if is_executable(&candidate) {
            return Ok(BrokerProgram::npfsd(candidate));
        }
        push_unique(&mut searched, candidate);
    }
    if let Some(p) = FALLBACK.get() {
        return Ok(p.clone());
    }
    for candidate in npfs_command_candidates() {
        if is_executable(&candidate) {
            return Ok(BrokerProgram::npfs_command(candidate));
        }
        push_unique(&mut searched, candidate);
    }
    Err(NotFound {
        bad_override: None,
        searched,
    })
}

/// Where an `npfsd` executable may be, in search order (steps 2 to 4).
fn npfsd_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(obj) = crate::sys::object_path_of_this_library() {
        if let Some(dir) = obj.parent() {
            dirs.push(dir.to_path_buf());
        }
    }
    if let Ok(me) = std::env::current_exe() {
        if let Some(dir) = me.parent() {
            dirs.push(dir.to_path_buf());
        }
    }
    for dir in &dirs {
        push_unique(&mut out, dir.join(NPFSD));
        if let Some(up) = dir.parent() {
            push_unique(&mut out, up.join(NPFSD));
            // LIB/../libexec/npfs/npfsd: a library or program in PREFIX/lib or PREFIX/bin.
            push_unique(&mut out, up.join("libexec").join("npfs").join(NPFSD));
            // Debian's multiarch LIB is PREFIX/lib/<triplet>.
            if let Some(up2) = up.parent() {
                if dir.parent().and_then(Path::file_name) == Some("lib".as_ref()) {
                    push_unique(&mut out, up2.join("libexec").join("npfs").join(NPFSD));
                }
            }
        }
    }
    if let Some(libexec) = option_env!("NPFS_LIBEXECDIR").filter(|d| !d.is_empty()) {
        push_unique(&mut out, Path::new(libexec).join("npfs").join(NPFSD));
    }
    for libexec in ["/usr/local/libexec", "/usr/libexec"] {
        push_unique(&mut out, Path::new(libexec).join("npfs").join(NPFSD));
    }
    out.extend(on_path(NPFSD));
    // An install whose bin directory is on $PATH (`make install PREFIX=$HOME/.local`, say):
    // its broker is in PREFIX/libexec/npfs beside the `npfs` command.
    for npfs in on_path(NPFS_CLI) {
        if let Some(prefix) = npfs.parent().and_then(Path::parent) {
            if is_executable(&npfs) {
                push_unique(&mut out, prefix.join("libexec").join("npfs").join(NPFSD));
            }
        }
    }
    out
}

/// Where the `npfs` command may be (step 6): `$PATH`, then cargo's bin directory.
fn npfs_command_candidates() -> Vec<PathBuf> {
    let mut out = on_path(NPFS_CLI);
    let cargo_home = std::env::var_os("CARGO_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cargo"))
        });
    if let Some(home) = cargo_home {
        push_unique(&mut out, home.join("bin").join(NPFS_CLI));
    }
    out
}

fn on_path(name: &str) -> Vec<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .filter(|d| d.is_absolute())
                .map(|d| d.join(name))
                .collect()
        })
        .unwrap_or_default()
}

fn push_unique(v: &mut Vec<PathBuf>, p: PathBuf) {
    if !v.contains(&p) {
        v.push(p);
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_exe_wins() {
        let mut cfg = BrokerConfig::with_runtime_dir("/nonexistent");
        cfg.broker_exe = Some("/opt/x/npfsd".into());
        assert_eq!(find(&cfg).unwrap(), BrokerProgram::npfsd("/opt/x/npfsd"));
    }

    #[test]
    fn candidates_include_the_install_layouts() {
        let c = npfsd_candidates();
        assert!(c.contains(&PathBuf::from("/usr/libexec/npfs/npfsd")));
        assert!(c.contains(&PathBuf::from("/usr/local/libexec/npfs/npfsd")));
        // The test binary's own directory comes before the fixed places.
        let me = std::env::current_exe().unwrap();
        let beside = me.parent().unwrap().join(NPFSD);
        let pos = |p: &Path| c.iter().position(|x| x == p).unwrap();
        assert!(pos(&beside) < pos(Path::new("/usr/libexec/npfs/npfsd")));
    }

    #[test]
    fn not_found_names_every_place_and_the_fix() {
        let nf = NotFound {
            bad_override: None,
            searched: vec!["/a/npfsd".into(), "/b/npfs".into()],
        };
        let s = nf.to_string();
        assert!(s.contains("/a/npfsd, /b/npfs"), "{s}");
        assert!(s.contains("make install"), "{s}");
        assert!(s.contains("NPFS_BROKER"), "{s}");
        let bad = NotFound {
            bad_override: Some("/x/y".into()),
            searched: vec![],
        };
        assert!(bad.to_string().contains("NPFS_BROKER is set to /x/y"));
    }
}
