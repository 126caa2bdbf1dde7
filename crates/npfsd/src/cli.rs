//! Command-line options of `npfsd`.

use std::path::PathBuf;

/// Default idle time before the broker exits, in milliseconds.
pub const DEFAULT_IDLE_EXIT_MS: u64 = 10_000;

/// `npfsd [--runtime-dir DIR] [--foreground] [--idle-exit-ms N]`
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "npfsd",
    version,
    about = "npfs broker: the named-pipe namespace of one user"
)]
pub struct Args {
    /// Runtime directory (default: $NPFS_RUNTIME_DIR, else $XDG_RUNTIME_DIR/npfs, else
    /// /tmp/npfs-<uid>).
    #[arg(long)]
    pub runtime_dir: Option<PathBuf>,
    /// Stay in the foreground and log to stderr (default: daemonize, log to DIR/npfsd.log).
    #[arg(long)]
    pub foreground: bool,
    /// Exit after this many milliseconds without pipes, clients or waiters (default: 10000,
    /// or $NPFS_IDLE_EXIT_MS).
    #[arg(long)]
    pub idle_exit_ms: Option<u64>,
}

impl Args {
    /// The idle time-out: the option, else `$NPFS_IDLE_EXIT_MS`, else the default.
    pub fn idle_exit_ms(&self) -> u64 {
        self.idle_exit_ms
            .or_else(|| std::env::var("NPFS_IDLE_EXIT_MS").ok()?.parse().ok())
            .unwrap_or(DEFAULT_IDLE_EXIT_MS)
    }
}
