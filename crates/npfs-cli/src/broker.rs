//! The broker built into `npfs`: how the library finds it, and `npfs daemon`.
//!
//! `npfs` needs no `npfsd` executable: at start-up it registers itself with the library
//! ([`npfs::broker::set_fallback_broker`]) as `npfs npfsd ARGS`, a hidden subcommand that runs
//! the broker with `npfsd`'s command line. An installed `npfsd` is still preferred when the
//! library finds one. Nothing is written anywhere for this, and the environment is not
//! changed.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use npfs::broker::{BrokerProgram, BUILTIN_BROKER_SUBCOMMAND};

/// The broker's executable name.
const NPFSD: &str = "npfsd";

/// This process was started to be the broker: as `npfs npfsd ARGS` (what the library runs)
/// or under the name `npfsd` (a link to `npfs`). Returns `npfsd`'s arguments, program name
/// first.
pub fn broker_invocation() -> Option<Vec<OsString>> {
    let mut args = std::env::args_os();
    let argv0 = args.next()?;
    if PathBuf::from(&argv0)
        .file_name()
        .is_some_and(|n| n == NPFSD)
    {
        return Some(std::iter::once(argv0).chain(args).collect());
    }
    let first = args.next()?;
    (first == BUILTIN_BROKER_SUBCOMMAND)
        .then(|| std::iter::once(OsString::from(NPFSD)).chain(args).collect())
}

/// Run the built-in broker with `npfsd`'s command line `args`; returns the exit status.
pub fn run_builtin(args: Vec<OsString>) -> i32 {
    use clap::Parser;
    let cli = npfsd::cli::Cli::parse_from(args);
    npfsd::startup::main_with(cli.args, cli.shared)
}

/// Tell the library that this executable can be the broker (when it finds no `npfsd`).
pub fn register_builtin() {
    if let Ok(me) = std::env::current_exe() {
        npfs::broker::set_fallback_broker(BrokerProgram::npfs_command(me));
    }
}

/// What the library will start as the broker, in words (for the demo).
pub fn describe() -> String {
    match npfs::broker::find_broker_program() {
        Ok(p) if p.leading_args.is_empty() => p.exe.display().to_string(),
        Ok(p) => format!("built into {} (no npfsd executable found)", p.exe.display()),
        Err(e) => format!("none: {e}"),
    }
}

/// `npfs daemon`: exec the `npfsd` the library would start, with the options; when there is
/// none, run the broker built into this executable. Returns the exit status (only when not
/// exec'd).
pub fn daemon(
    foreground: bool,
    system: bool,
    runtime_dir: Option<PathBuf>,
    samba_np_dir: Option<PathBuf>,
) -> i32 {
    if system && !rustix::process::geteuid().is_root() {
        eprintln!(
            "npfs daemon --system: the system broker serves every user from {} and must run \
             as root; run `sudo npfs daemon --system`, or enable the systemd units \
             (`systemctl enable --now npfsd.socket`). A broker of your own needs no option: \
             `npfs daemon`.",
            npfs::broker::SYSTEM_RUNTIME_DIR
        );
        return 1;
    }
    let mut args: Vec<OsString> = vec![NPFSD.into()];
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
    if let Some(dir) = &samba_np_dir {
        args.push("--samba-np-dir".into());
        args.push(dir.into());
    }
    match npfs::broker::find_broker_program() {
        Ok(p) if p.leading_args.is_empty() => {
            let err = Command::new(&p.exe).args(&args[1..]).exec();
            eprintln!("npfs: cannot run {}: {err}", p.exe.display());
            1
        }
        _ => run_builtin(args),
    }
}
