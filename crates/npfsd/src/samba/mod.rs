//! Remote pipes through Samba (`--samba-np-dir DIR`): SMB clients reach `\\host\pipe\NAME`
//! through smbd, which forwards every open on `IPC$` to the Unix socket `DIR/<lowercased
//! name>` (Samba ≥ 4.16; facts: /work/shared/spec/smb.md).
//!
//! - [`run`] keeps one listening socket in DIR for every pipe that accepts remote clients
//!   (created without `PIPE_REJECT_REMOTE_CLIENTS`), woken by the namespace's changes
//!   ([`crate::state::Broker::pipes_changed`]): bound when the pipe's first instance is
//!   created, removed when its last instance closes (or the broker exits). No socket means
//!   the SMB client's open fails with STATUS_OBJECT_NAME_NOT_FOUND.
//! - Each connection smbd makes is one remote client: [`handshake`] reads smbd's
//!   named_pipe_auth request (the SMB session's identity), the broker opens the pipe on
//!   that identity's behalf as a network logon (through its own socket, as root, the
//!   ordinary open path: DACL, pairing, the server's `Connected` event with the client's
//!   uid and groups, so ImpersonateNamedPipeClient takes the SMB user's Unix ids), answers
//!   with the pipe's type, and [`relay`] moves the data. A refused open (DACL, no instance
//!   listening, the broker's caps) closes smbd's connection before the reply: smbd cannot
//!   carry ACCESS_DENIED or PIPE_BUSY, its client sees STATUS_CONNECTION_DISCONNECTED.
//!
//! Everything about one connection runs in its own task, so a hostile or stuck smbd
//! connection ends only itself; the handshake has a deadline, and the open — a blocking
//! round trip to the broker's own socket — runs on the blocking pool.

pub mod handshake;
pub mod relay;

use std::collections::HashMap;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use npfs::broker::RemoteClient;
use npfs_core::consts::{GENERIC_READ, GENERIC_WRITE};
use npfs_core::name::PipeName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::conn::ANONYMOUS_ID;
use crate::state::{Admission, Shared};
use handshake::{RemoteIdentity, FILE_TYPE_BYTE_MODE_PIPE, FILE_TYPE_MESSAGE_MODE_PIPE};

/// How long smbd has to send its whole request, and to take our reply.
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// The longest socket path (`sun_path` holds 108 bytes with its NUL).
const MAX_SUN_PATH: usize = 107;

/// Where the broker serves remote clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SambaConfig {
    /// smbd's `<ncalrpc dir>/np` (Debian: `/run/samba/ncalrpc/np`).
    pub np_dir: PathBuf,
    /// The broker's own runtime directory (its socket), which remote opens go through.
    pub broker_dir: PathBuf,
}

/// Make sure `dir` is a directory owned by root, mode 0700 (what smbd and samba-dcerpcd
/// expect of `np/`): create it (and its parents, 0755) if missing.
///
/// # Errors
///
/// It cannot be created, is not a directory (a symlink is refused), belongs to another
/// user, or is open to others (group or world bits).
pub fn prepare_np_dir(dir: &Path) -> std::io::Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    let euid = rustix::process::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != euid || meta.mode() & 0o077 != 0 {
        return Err(std::io::Error::other(format!(
            "{}: must be a directory of uid {euid} with mode 0700 (smbd's np directory)",
            dir.display()
        )));
    }
    Ok(())
}

/// The socket name smbd connects to for a pipe: the name after `\\.\pipe\`, lowercased;
/// `None` for names smbd cannot reach (`/`, `..`, empty).
pub fn socket_name(display_name: &str) -> Option<String> {
    let name = PipeName::parse(display_name).ok()?;
    let lower = name.name.to_lowercase();
    if lower.is_empty() || lower == "." || lower == ".." || lower.contains(['/', '\0']) {
        return None;
    }
    Some(lower)
}

/// One pipe's listening socket.
struct Active {
    /// The namespace key of the pipe it serves.
    key: String,
    path: PathBuf,
    task: JoinHandle<()>,
}

/// The sockets bound so far; dropping it (the broker exits) removes them all.
#[derive(Default)]
struct Sockets(HashMap<String, Active>);

impl Sockets {
    fn remove(&mut self, sock: &str) {
        if let Some(a) = self.0.remove(sock) {
            let _ = std::fs::remove_file(&a.path);
            a.task.abort();
            debug!(socket = %a.path.display(), "remote endpoint removed");
        }
    }
}

impl Drop for Sockets {
    fn drop(&mut self) {
        for a in self.0.values() {
            let _ = std::fs::remove_file(&a.path);
            a.task.abort();
        }
    }
}

/// Keep DIR's sockets in step with the namespace, until the broker exits.
pub async fn run(shared: Shared, cfg: SambaConfig) {
    info!(dir = %cfg.np_dir.display(), "serving remote clients through Samba");
    let changed = shared.lock().pipes_changed.clone();
    let mut sockets = Sockets::default();
    loop {
        // Registered before looking, so a change made meanwhile is not missed.
        let notified = changed.notified();
        reconcile(&shared, &cfg, &mut sockets).await;
        notified.await;
    }
}

/// Bind the sockets of new remote-reachable pipes, remove those of pipes gone.
async fn reconcile(shared: &Shared, cfg: &SambaConfig, sockets: &mut Sockets) {
    // socket name → (key, full name), for every pipe that accepts remote clients.
    let mut want: HashMap<String, (String, String)> = HashMap::new();
    {
        let b = shared.lock();
        for d in b.ns.details() {
            if d.reject_remote || d.summary.instances == 0 {
                continue;
            }
            let Ok(name) = PipeName::parse(&d.summary.display_name) else {
                continue;
            };
            if let Some(sock) = socket_name(&d.summary.display_name) {
                want.entry(sock)
                    .or_insert_with(|| (name.key(), d.summary.display_name.clone()));
            }
        }
    }
    let gone: Vec<String> = sockets
        .0
        .iter()
        .filter(|(s, a)| want.get(*s).is_none_or(|(key, _)| *key != a.key))
        .map(|(s, _)| s.clone())
        .collect();
    for s in gone {
        sockets.remove(&s);
    }
    for (sock, (key, full_name)) in want {
        if sockets.0.contains_key(&sock) {
            continue;
        }
        let path = cfg.np_dir.join(&sock);
        if path.as_os_str().len() > MAX_SUN_PATH {
            warn!(pipe = %full_name, "pipe name too long for a socket in {}: not reachable through Samba", cfg.np_dir.display());
            continue;
        }
        match bind(&path).await {
            Ok(Some(listener)) => {
                debug!(socket = %path.display(), "remote endpoint bound");
                let task = tokio::spawn(accept_loop(
                    listener,
                    shared.clone(),
                    cfg.broker_dir.clone(),
                    key.clone(),
                    full_name,
                ));
                sockets.0.insert(sock, Active { key, path, task });
            }
            Ok(None) => {
                warn!(socket = %path.display(), "another process serves this socket (samba-dcerpcd?): pipe {full_name} not reachable through Samba");
            }
            Err(e) => warn!(socket = %path.display(), "cannot bind: {e}"),
        }
    }
}

/// Bind `path` (0600), replacing a stale socket left by a broker that died; `None` when a
/// live process listens there (samba-dcerpcd's own pipes are never taken over).
async fn bind(path: &Path) -> std::io::Result<Option<UnixListener>> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                return Err(std::io::Error::other("exists and is not a socket"));
            }
            if UnixStream::connect(path).await.is_ok() {
                return Ok(None);
            }
            std::fs::remove_file(path)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(Some(listener))
}

/// Accept smbd's connections to one pipe's socket; each is served in its own task.
async fn accept_loop(
    listener: UnixListener,
    shared: Shared,
    broker_dir: PathBuf,
    key: String,
    full_name: String,
) {
    loop {
        match listener.accept().await {
            Ok((sock, _)) => {
                let shared = shared.clone();
                let dir = broker_dir.clone();
                let key = key.clone();
                let full_name = full_name.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(sock, &shared, &dir, &key, &full_name).await {
                        debug!(pipe = %full_name, "remote client ended: {e}");
                    }
                });
            }
            Err(e) => {
                // Out of descriptors (or worse): go on once the broker freed one, rather
                // than retrying at once.
                warn!(pipe = %full_name, "accept: {e}");
                shared.fd_freed.notified().await;
            }
        }
    }
}

/// Why one remote client was dropped.
#[derive(Debug, thiserror::Error)]
enum RemoteError {
    #[error("handshake: {0}")]
    Handshake(#[from] handshake::NpaError),
    #[error("handshake not completed within {HANDSHAKE_DEADLINE:?}")]
    Deadline,
    #[error("refused at the broker's connection caps")]
    Caps,
    #[error("open refused: {0}")]
    Open(npfs_core::Win32Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// A remote client counted against the broker's connection caps (as its uid).
struct Admitted {
    shared: Shared,
    uid: u32,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.shared.lock().release(self.uid);
        self.shared.fd_freed.notify_one();
    }
}

/// One connection from smbd: handshake, open on the client's behalf, reply, relay.
async fn serve(
    mut sock: UnixStream,
    shared: &Shared,
    broker_dir: &Path,
    key: &str,
    full_name: &str,
) -> Result<(), RemoteError> {
    let req = tokio::time::timeout(HANDSHAKE_DEADLINE, read_request(&mut sock))
        .await
        .map_err(|_| RemoteError::Deadline)??;
    let identity = req.identity().inspect_err(|e| {
        warn!(pipe = %full_name, "dropping smbd connection: {e}");
    })?;
    let (uid, remote) = match identity {
        RemoteIdentity::Anonymous => (ANONYMOUS_ID, RemoteClient::Anonymous),
        RemoteIdentity::User(u) => {
            let mut groups: Vec<u32> = u.groups.into_iter().filter(|&g| g != u.gid).collect();
            groups.sort_unstable();
            groups.dedup();
            groups.truncate(npfs_proto::broker::MAX_WIRE_GROUPS);
            (
                u.uid,
                RemoteClient::User {
                    uid: u.uid,
                    gid: u.gid,
                    groups,
                },
            )
        }
    };
    let _admitted = match shared.lock().admit(uid) {
        Admission::Admitted => Admitted {
            shared: shared.clone(),
            uid,
        },
        Admission::Refused { .. } => return Err(RemoteError::Caps),
    };
    // The access a client of this pipe's direction can have (smbd does not pass the SMB
    // client's DesiredAccess).
    let desired = match shared.lock().ns.attributes(key) {
        Some(a) => {
            let d = a.direction;
            (if d.client_reads() { GENERIC_READ } else { 0 })
                | (if d.server_reads() { GENERIC_WRITE } else { 0 })
        }
        None => return Err(RemoteError::Open(npfs_core::Win32Error::FILE_NOT_FOUND)),
    };
    let dir = broker_dir.to_path_buf();
    let name = full_name.to_owned();
    // GetNamedPipeClientComputerName: smbd passes the client's address, not its name.
    let mut computer = req.remote_client_addr.clone().unwrap_or_default();
    if computer.len() > npfs_proto::broker::MAX_COMPUTER_NAME {
        computer.clear();
    }
    let opened = tokio::task::spawn_blocking(move || {
        npfs::tokio::remote::open_for_remote(&dir, &name, desired, remote, &computer)
    })
    .await
    .map_err(std::io::Error::other)?
    .map_err(RemoteError::Open)?;
    let message = opened.message;
    let pipe = npfs::tokio::remote::into_async(opened.pipe)?;
    let file_type = if message {
        FILE_TYPE_MESSAGE_MODE_PIPE
    } else {
        FILE_TYPE_BYTE_MODE_PIPE
    };
    let reply = handshake::encode_reply(req.level, file_type);
    tokio::time::timeout(HANDSHAKE_DEADLINE, sock.write_all(&reply))
        .await
        .map_err(|_| RemoteError::Deadline)??;
    debug!(
        pipe = %full_name,
        uid,
        addr = req.remote_client_addr.as_deref().unwrap_or("?"),
        port = req.remote_client_port,
        "remote client connected"
    );
    relay::relay(sock, pipe, message).await?;
    Ok(())
}

/// smbd's request: the length word, then that many bytes.
async fn read_request(sock: &mut UnixStream) -> Result<handshake::Request, RemoteError> {
    let mut head = [0u8; 4];
    sock.read_exact(&mut head).await?;
    let n = handshake::body_len(head)?;
    let mut buf = vec![0u8; 4 + n];
    buf[..4].copy_from_slice(&head);
    sock.read_exact(&mut buf[4..]).await?;
    Ok(handshake::parse_request(&buf)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_names() {
        assert_eq!(
            socket_name(r"\\.\pipe\EchoPipe").as_deref(),
            Some("echopipe")
        );
        assert_eq!(socket_name(r"\\.\PIPE\a\B").as_deref(), Some(r"a\b"));
        assert_eq!(socket_name(r"\\.\pipe\a/b"), None);
        assert_eq!(socket_name(r"\\.\pipe\.."), None);
    }

    #[test]
    fn np_dir_is_made_private() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("ncalrpc").join("np");
        prepare_np_dir(&dir).unwrap();
        let m = std::fs::metadata(&dir).unwrap();
        assert_eq!(m.mode() & 0o777, 0o700);
        // Open to others: refused.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(prepare_np_dir(&dir).is_err());
    }
}
