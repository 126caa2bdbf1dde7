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
    /// /tmp/npfs-UID).
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

/// The options of a broker shared between users (`npfsd` parses them next to [`Args`]; a
/// broker built into another program with [`crate::startup::main`] is a per-user one).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SharedArgs {
    /// The system-wide broker: requires root; runtime directory /run/npfs (unless
    /// --runtime-dir), shared as with --shared, never exits when idle. Run it as the
    /// systemd service `npfsd.service`.
    #[arg(long)]
    pub system: bool,
    /// Serve every user: the runtime directory is 0755 and the socket 0666 (identities
    /// still come from the kernel). Without it the directory is 0700 (one user).
    #[arg(long)]
    pub shared: bool,
    /// A group whose members are Administrators (BA) in access checks; repeatable. Default:
    /// `sudo` and `wheel`, those that exist. A number is taken as a gid.
    #[arg(long = "admin-group", value_name = "NAME")]
    pub admin_groups: Vec<String>,
    /// Serve remote clients through Samba's smbd (4.16 or later): listen in smbd's socket
    /// directory DIR, `<ncalrpc dir>/np` (Debian: /run/samba/ncalrpc/np), for every pipe that
    /// accepts remote clients, so that SMB clients reach `\\HOST\pipe\NAME`. Requires
    /// --system; DIR is created root-owned 0700 if missing. Default: $NPFS_SAMBA_NP_DIR.
    #[arg(long, value_name = "DIR")]
    pub samba_np_dir: Option<PathBuf>,
}

impl SharedArgs {
    /// The directory is shared between users (`--shared` or `--system`).
    pub fn is_shared(&self) -> bool {
        self.shared || self.system
    }

    /// smbd's socket directory to serve remote clients in: `--samba-np-dir`, else
    /// `$NPFS_SAMBA_NP_DIR` (when set and not empty), else none.
    pub fn samba_np_dir(&self) -> Option<PathBuf> {
        self.samba_np_dir.clone().or_else(|| {
            std::env::var_os("NPFS_SAMBA_NP_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
    }

    /// The administrator gids: the `--admin-group` ones, else `sudo` and `wheel`.
    pub fn admin_gids(&self) -> Vec<u32> {
        if self.admin_groups.is_empty() {
            let defaults: Vec<String> = crate::creds::DEFAULT_ADMIN_GROUPS
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            crate::creds::admin_gids(&defaults)
        } else {
            crate::creds::admin_gids(&self.admin_groups)
        }
    }
}

/// The whole command line of the `npfsd` binary.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "npfsd",
    version,
    about = "npfs broker: the named-pipe namespace of one user, or of the system (--system)"
)]
pub struct Cli {
    /// Per-user options.
    #[command(flatten)]
    pub args: Args,
    /// Sharing and security options.
    #[command(flatten)]
    pub shared: SharedArgs,
}
