//! Not a public API (`#[doc(hidden)]`): what the broker's SMB bridge (npfsd's `samba`
//! module) uses to become the client of a pipe on behalf of a remote client, and to move
//! that client end onto the async API it relays with.
//!
//! The bridge runs as root inside the broker. It opens the pipe through the broker's own
//! socket like any client (so the open takes the ordinary path: DACL check, pairing, the
//! server's `Connected` event), vouching for the remote identity
//! ([`RemoteClient`], accepted from root peers only), and keeps the client end in its
//! process, where it relays between smbd's socket and the pipe's shared memory.

use std::io;
use std::path::Path;
use std::sync::Arc;

use npfs_core::config::{self, PipeType};
use npfs_core::consts::{FILE_READ_ATTRIBUTES, PIPE_READMODE_MESSAGE, SYNCHRONIZE};
use npfs_core::name::PipeName;
use npfs_core::Win32Error;

use super::handle::{Core, Pipe};
use super::NamedPipeClient;
use crate::broker::{BrokerConfig, BrokerConn, OpenOptions, RemoteClient};
use crate::conn::End;
use crate::pipe::{broker_err, Link, PipeClient, PipeHandle};

/// A pipe opened for a remote client ([`open_for_remote`]).
#[allow(missing_debug_implementations)]
pub struct RemoteOpened {
    /// The client end, blocking; move it onto the runtime with [`into_async`].
    pub pipe: PipeClient,
    /// The pipe is a message pipe (`PIPE_TYPE_MESSAGE`); the handle is then in message read
    /// mode already.
    pub message: bool,
}

/// CreateFile on `name` (`\\.\pipe\NAME`) on behalf of `remote` on `computer_name` (what
/// the server's GetNamedPipeClientComputerName then reports), through the broker whose
/// runtime directory is `runtime_dir` (never started from here). Blocking: one round trip to
/// the broker, so a broker calling this must run it off its own event loop
/// (`spawn_blocking`).
///
/// # Errors
///
/// The open's Win32 error: `ERROR_FILE_NOT_FOUND`, `ERROR_PIPE_BUSY`, `ERROR_ACCESS_DENIED`
/// (the DACL, `PIPE_REJECT_REMOTE_CLIENTS`, or a caller that is not root), and
/// `ERROR_NO_SYSTEM_RESOURCES` when the broker cannot be reached.
#[doc(alias = "CreateFile")]
pub fn open_for_remote(
    runtime_dir: &Path,
    name: &str,
    desired_access: u32,
    remote: RemoteClient,
    computer_name: &str,
) -> Result<RemoteOpened, Win32Error> {
    let name = PipeName::parse(name)?;
    if !name.is_local() {
        return Err(Win32Error::BAD_NETPATH);
    }
    let cfg = BrokerConfig::shared(runtime_dir);
    let mut broker = BrokerConn::connect_with(&cfg).map_err(broker_err)?;
    let opts = OpenOptions {
        remote: Some(remote),
        sqos: 0,
        computer_name: computer_name.to_owned(),
    };
    let desired_access = desired_access | SYNCHRONIZE | FILE_READ_ATTRIBUTES;
    let opened = broker
        .open_with(&name, desired_access, &opts)
        .map_err(broker_err)?;
    drop(broker);
    let access = match opened.granted_access {
        0 => config::client_granted_access(desired_access),
        a => a,
    };
    let attrs = opened.info.attrs;
    let link = Arc::new(Link::new(opened.fds, &opened.info, End::Client, access)?);
    let pipe = PipeClient {
        handle: PipeHandle::for_client(name, attrs, access, link),
    };
    let message = attrs.pipe_type == PipeType::Message;
    if message {
        pipe.set_handle_mode(PIPE_READMODE_MESSAGE)?;
    }
    Ok(RemoteOpened { pipe, message })
}

/// The async client over a blocking client end (must be called inside a tokio runtime, as
/// [`super::ClientOptions::open`]).
pub fn into_async(pipe: PipeClient) -> io::Result<NamedPipeClient> {
    Ok(NamedPipeClient {
        core: Core::new(Pipe::Client(pipe)),
    })
}
