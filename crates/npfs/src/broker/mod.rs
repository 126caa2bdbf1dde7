//! Talking to the broker (`npfsd`): the client side of the broker protocol
//! ([`npfs_proto::broker`]), blocking.
//!
//! - [`BrokerConn`]: one connection for client operations (CreateFile's open,
//!   WaitNamedPipe, instance counts, listings). It starts the broker when none answers.
//! - [`InstanceChannel`]: the control channel of one server instance (CreateNamedPipe,
//!   ConnectNamedPipe, DisconnectNamedPipe); clients connecting to the instance arrive as
//!   [`ChannelEvent::Connected`] with the server's descriptors; closing the channel closes the
//!   instance.
//!
//! Both locate the broker with a [`BrokerConfig`]; the plain constructors use
//! [`BrokerConfig::from_env`]: `$NPFS_RUNTIME_DIR` alone when it is set; otherwise the
//! system-wide broker (`/run/npfs/npfsd.sock`, `npfsd --system`) when it accepts the
//! connection, else the user's own broker, started on demand. The system broker is never
//! started from here.
//!
//! # Security
//!
//! Each pipe has one security descriptor, exchanged as SDDL:
//! [`InstanceChannel::create_secure`] gives it (first instance only),
//! [`InstanceChannel::get_security`] / [`InstanceChannel::set_security`] read and change it
//! through a server handle, [`BrokerConn::get_security`] / [`BrokerConn::set_security`] by
//! name with the caller's own rights. [`BrokerConn::open_with`] reports the access the new
//! client handle holds; the server learns the client's credentials with
//! [`InstanceChannel::client_credentials`].

mod autostart;
mod channel;
mod client;
mod locate;
mod pool;
mod socket;

use std::os::fd::OwnedFd;
use std::path::PathBuf;

pub use channel::{ChannelEvent, ClientCredentials, CreatedInfo, InstanceChannel};
pub use client::{BrokerConn, OpenOptions, OpenedInfo};
pub use locate::{
    find_broker_program, set_fallback_broker, BrokerProgram, BUILTIN_BROKER_SUBCOMMAND,
};
pub use npfs_core::namespace::{InstanceState, PipeSummary, WaitTimeout};
pub use npfs_core::security::{
    ALL_SECURITY_INFORMATION, DACL_SECURITY_INFORMATION, GROUP_SECURITY_INFORMATION,
    OWNER_SECURITY_INFORMATION, SACL_SECURITY_INFORMATION, STANDARD_SECURITY_INFORMATION,
};
pub use npfs_proto::broker::{ClientSecurity, RemoteClient};
pub use npfs_proto::runtime::SYSTEM_RUNTIME_DIR;
pub(crate) use pool::with_kept;

/// The runtime directory of the broker, created 0700: `$NPFS_RUNTIME_DIR`, else
/// `$XDG_RUNTIME_DIR/npfs`, else `/tmp/npfs-<uid>`.
///
/// # Errors
///
/// The directory cannot be created, or belongs to another user.
pub fn runtime_dir() -> std::io::Result<PathBuf> {
    npfs_proto::runtime::runtime_dir()
}

/// Where the broker is and how to start it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// The runtime directory (holds `npfsd.sock`).
    pub runtime_dir: PathBuf,
    /// A shared broker's directory to try first, never started from here (the system
    /// broker's [`SYSTEM_RUNTIME_DIR`] in [`BrokerConfig::from_env`] when
    /// `$NPFS_RUNTIME_DIR` is unset); `None` goes straight to `runtime_dir`.
    pub system_dir: Option<PathBuf>,
    /// Start a broker for `runtime_dir` when none answers (and create the directory 0700).
    /// `false` for a broker someone else runs ([`BrokerConfig::shared`]).
    pub autostart: bool,
    /// The `npfsd` executable; `None` searches for it (`$NPFS_BROKER`, beside the program or
    /// library, the install's libexec directory, `$PATH`, the `npfs` command: see
    /// [`set_fallback_broker`] and the search order in the crate's README).
    pub broker_exe: Option<PathBuf>,
    /// `--idle-exit-ms` for a broker started from here; `None` leaves the broker's default
    /// (or `$NPFS_IDLE_EXIT_MS`).
    pub idle_exit_ms: Option<u64>,
}

impl BrokerConfig {
    /// The configuration from the environment, with the runtime directory created:
    /// `$NPFS_RUNTIME_DIR` only, when set (tests, private brokers); else the system broker
    /// first, then the user's own (see the module documentation).
    ///
    /// # Errors
    ///
    /// See [`runtime_dir`].
    pub fn from_env() -> std::io::Result<BrokerConfig> {
        let explicit = std::env::var_os("NPFS_RUNTIME_DIR").is_some_and(|d| !d.is_empty());
        // A directory a shared broker made (mode 0755, `npfsd --shared`) is used as it is:
        // never tightened to 0700, and never given a broker of ours if someone else owns it.
        use std::os::unix::fs::MetadataExt;
        let dir = npfs_proto::runtime::runtime_dir_from_env();
        let meta = std::fs::metadata(&dir).ok();
        let shared = meta
            .as_ref()
            .is_some_and(|m| m.is_dir() && m.mode() & 0o7777 == 0o755);
        let mine = meta
            .as_ref()
            .is_none_or(|m| m.uid() == rustix::process::geteuid().as_raw());
        let runtime_dir = if shared { dir } else { runtime_dir()? };
        Ok(BrokerConfig {
            runtime_dir,
            system_dir: (!explicit).then(|| PathBuf::from(SYSTEM_RUNTIME_DIR)),
            autostart: !shared || mine,
            broker_exe: None,
            idle_exit_ms: None,
        })
    }

    /// A configuration for `runtime_dir` (created 0700 when used), started on demand; no
    /// system broker.
    pub fn with_runtime_dir(runtime_dir: impl Into<PathBuf>) -> BrokerConfig {
        BrokerConfig {
            runtime_dir: runtime_dir.into(),
            system_dir: None,
            autostart: true,
            broker_exe: None,
            idle_exit_ms: None,
        }
    }

    /// The broker someone else runs in `runtime_dir` (`npfsd --system` or `--shared`): never
    /// started from here, its directory never created or checked.
    pub fn shared(runtime_dir: impl Into<PathBuf>) -> BrokerConfig {
        BrokerConfig {
            runtime_dir: runtime_dir.into(),
            system_dir: None,
            autostart: false,
            broker_exe: None,
            idle_exit_ms: None,
        }
    }
}

/// The descriptors of one end of a connection.
#[derive(Debug)]
pub struct ConnFds {
    /// This end of the connection's socketpair (liveness: HUP when the peer's last
    /// descriptor closes).
    pub sock: OwnedFd,
    /// The connection's shared header (a sealed memfd of [`npfs_proto::shm::HEADER_SIZE`]
    /// bytes), read-write for both ends.
    pub shm: OwnedFd,
    /// The data rings of direction 0 (server → client) and 1 (client → server), each a sealed
    /// memfd of [`npfs_proto::shm::RING_SIZE`] bytes, opened read-write where this end may
    /// write, read-only elsewhere (see [`npfs_proto::shm`]).
    pub rings: [OwnedFd; 2],
}

/// What the broker says about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnInfo {
    /// Broker-unique id of the connection.
    pub conn_id: u64,
    /// The pipe's attributes.
    pub attrs: npfs_core::config::PipeAttributes,
    /// Process id of the server that created the instance.
    pub server_pid: u32,
    /// Process id of the client (from the kernel).
    pub client_pid: u32,
    /// The instance (as numbered by the current broker).
    pub instance_id: u64,
    /// On the server end: the access the client's handle holds (0: not known). A client
    /// without `FILE_WRITE_DATA` cannot have written anything, so nothing is read from it.
    pub client_access: u32,
}

/// Failure of a broker operation.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The operation failed as on Windows.
    #[error(transparent)]
    Win32(#[from] npfs_core::Win32Error),
    /// The broker could not be reached, or broke the protocol.
    #[error("broker: {0}")]
    Io(#[from] std::io::Error),
}

/// Say once per process, on stderr, why the broker cannot be used, and return the Win32 code
/// every call fails with then: `ERROR_NO_SYSTEM_RESOURCES` (1450, as documented in the
/// README). The message is the error's own words: what was looked for, where, and the fix.
pub(crate) fn unavailable(e: &std::io::Error) -> npfs_core::Win32Error {
    static SAID: std::sync::Once = std::sync::Once::new();
    tracing::warn!("npfs broker unavailable: {e}");
    SAID.call_once(|| {
        use std::io::Write;
        // A closed stderr is no reason to fail differently.
        let _ = writeln!(
            std::io::stderr(),
            "npfs: named pipes are unavailable, calls fail with ERROR_NO_SYSTEM_RESOURCES \
             (1450): {e}"
        );
    });
    npfs_core::Win32Error::NO_SYSTEM_RESOURCES
}

fn fds_from(fds: Vec<OwnedFd>) -> std::io::Result<ConnFds> {
    if fds.len() != npfs_proto::broker::CONN_FDS {
        return Err(protocol_error("wrong number of descriptors"));
    }
    let mut fds = fds.into_iter();
    let mut next = || fds.next().expect("CONN_FDS descriptors");
    let (sock, shm, r0, r1) = (next(), next(), next(), next());
    Ok(ConnFds {
        sock,
        shm,
        rings: [r0, r1],
    })
}

fn protocol_error(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("broker protocol: {what}"),
    )
}
