//! The blocking API: pipe handles and the operations of the Win32 named-pipe family.

use std::ops::Deref;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use npfs_core::config::{self, AccessNeed, CreateParams, PipeAttributes, PipeType, ReadMode};
use npfs_core::consts::*;
use npfs_core::name::PipeName;
use npfs_core::security::SecurityDescriptor;
use npfs_core::Win32Error;

use crate::broker::{
    self, BrokerConn, BrokerError, ChannelEvent, ConnFds, ConnInfo, InstanceChannel, InstanceState,
};
use crate::conn::{Conn, DataRights, End, LinkState};
use crate::engine::{self, FlushOp, ReadOp, TransactOp, WriteOp};
pub use crate::outcome::{PeekOutcome, ReadOutcome};
use crate::watcher::{self, Watched};
pub use create::{create_pipe, ServerOptions};
pub use wait::{call_named_pipe, wait_named_pipe};

/// Result of every pipe operation: the Win32 error code on failure.
pub type Result<T> = std::result::Result<T, Win32Error>;

pub(crate) fn broker_err(e: BrokerError) -> Win32Error {
    match e {
        BrokerError::Win32(w) => w,
        // The broker could not be reached or started: not a fact about the pipe.
        BrokerError::Io(io) => broker::unavailable(&io),
    }
}

/// GetNamedPipeInfo's outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipeInfo {
    /// `PIPE_SERVER_END` or `PIPE_CLIENT_END`, ORed with `PIPE_TYPE_MESSAGE` for message pipes.
    pub flags: u32,
    /// nOutBufferSize as given at creation.
    pub out_buffer_size: u32,
    /// nInBufferSize as given at creation.
    pub in_buffer_size: u32,
    /// nMaxInstances (255 = `PIPE_UNLIMITED_INSTANCES`).
    pub max_instances: u32,
}

/// The connection state of a handle (`FILE_PIPE_*_STATE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PipeState {
    /// `FILE_PIPE_DISCONNECTED_STATE` (1).
    Disconnected,
    /// `FILE_PIPE_LISTENING_STATE` (2).
    Listening,
    /// `FILE_PIPE_CONNECTED_STATE` (3).
    Connected,
    /// `FILE_PIPE_CLOSING_STATE` (4): the other end closed.
    Closing,
}

impl PipeState {
    /// The NT value.
    pub fn as_nt(self) -> u32 {
        match self {
            PipeState::Disconnected => FILE_PIPE_DISCONNECTED_STATE,
            PipeState::Listening => FILE_PIPE_LISTENING_STATE,
            PipeState::Connected => FILE_PIPE_CONNECTED_STATE,
            PipeState::Closing => FILE_PIPE_CLOSING_STATE,
        }
    }
}

/// A connection held by a handle, with its watcher registration.
pub(crate) struct Link {
    pub(crate) conn: Arc<Conn>,
    token: Option<u64>,
}

impl Watched for Conn {
    fn hung_up(&self) {
        self.hangup_noticed();
    }
    fn process_exited(&self, pid: u32) {
        self.process_gone(pid);
    }
}

impl Link {
    /// A link over the broker's descriptors. `client_access`: on a server end the client's
    /// access as the broker reported it, on a client end the handle's own (see
    /// [`DataRights::of`]).
    pub(crate) fn new(fds: ConnFds, info: &ConnInfo, end: End, client_access: u32) -> Result<Link> {
        Self::make(
            fds,
            info,
            end,
            false,
            DataRights::of(end, &info.attrs, client_access),
        )
    }

    /// A link over descriptors inherited from a parent, whose holder slot it reserved.
    fn adopt(fds: ConnFds, info: &ConnInfo, end: End, rights: DataRights) -> Result<Link> {
        Self::make(fds, info, end, true, rights)
    }

    fn make(
        fds: ConnFds,
        info: &ConnInfo,
        end: End,
        reserved: bool,
        rights: DataRights,
    ) -> Result<Link> {
        let conn = Arc::new(Conn::new(
            fds,
            end,
            info.attrs,
            info.server_pid,
            info.client_pid,
            reserved,
            rights,
        )?);
        let weak: Weak<dyn Watched> = Arc::downgrade(&conn) as Weak<dyn Watched>;
        let token = conn.sock().and_then(|s| watcher::watch(s.as_fd(), weak));
        if token.is_some() {
            conn.set_watched();
        }
        Ok(Link { conn, token })
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let (Some(t), Some(s)) = (self.token, self.conn.sock()) {
            watcher::unwatch(s.as_fd(), t);
        }
        self.conn.unwatch_processes();
    }
}

/// Where a server instance stands.
enum ServerLink {
    Listening,
    Connected(Arc<Link>),
    Disconnected,
}

struct ServerSide {
    channel: InstanceChannel,
    /// The handle itself, for the watcher (set once the handle exists).
    me: Option<Weak<dyn Watched>>,
    /// Watcher registration of the channel.
    token: Option<u64>,
    epoch: u64,
    /// Epoch of the last DisconnectNamedPipe: connections of that or an older cycle are stale.
    disconnected_epoch: Option<u64>,
    link: ServerLink,
    /// The broker's id of the current connection (to find the client's credentials).
    conn_id: u64,
    /// An eventfd made readable when another thread changes the instance's link
    /// (DisconnectNamedPipe), so that a ConnectNamedPipe waiting without the lock wakes.
    wake: Arc<std::os::fd::OwnedFd>,
}

impl ServerSide {
    /// Wake a ConnectNamedPipe waiting on this instance (it re-checks the link).
    fn wake_waiters(&self) {
        let _ = rustix::io::write(&self.wake, &1u64.to_ne_bytes());
    }
}

impl Drop for ServerSide {
    fn drop(&mut self) {
        if let Some(t) = self.token {
            watcher::unwatch(self.channel.as_fd(), t);
        }
    }
}

enum Kind {
    Server(Box<Mutex<ServerSide>>),
    Client(Arc<Link>),
    /// A client of a pipe on another machine, over SMB (crate::remote).
    Remote(Box<crate::remote::RemotePipe>),
}

/// Per-handle modes (SetNamedPipeHandleState).
#[derive(Clone, Copy)]
struct Modes {
    read_mode: ReadMode,
    nowait: bool,
}

pub(crate) struct Inner {
    name: PipeName,
    attrs: PipeAttributes,
    /// The access mask the handle holds (FileAccessInformation), checked by every operation.
    access: u32,
    kind: Kind,
    modes: Mutex<Modes>,
}

mod begin;
mod connect;
pub(crate) use begin::{DataCall, Target};
use connect::poll_channel;
mod create;
mod inherit;
mod io;
mod remote_client;
mod security;
mod state;
mod wait;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Watched for Inner {
    /// The broker went away: register this instance again with a new one.
    fn hung_up(&self) {
        if let Kind::Server(s) = &self.kind {
            let mut s = lock(s);
            let _ = reregister(&mut s);
        }
    }
}

fn reregister(s: &mut ServerSide) -> Result<()> {
    let state = match s.link {
        ServerLink::Listening => InstanceState::Listening,
        ServerLink::Connected(_) => InstanceState::Connected,
        ServerLink::Disconnected => InstanceState::Disconnected,
    };
    s.channel.reregister(state, s.epoch).map_err(broker_err)?;
    // The new channel's hang-up must be noticed too (the next broker may die as well).
    if let Some(me) = s.me.clone() {
        s.token = watcher::watch(s.channel.as_fd(), me);
    }
    Ok(())
}

/// A handle to one end of a pipe: the operations both ends share (ReadFile, WriteFile,
/// PeekNamedPipe, TransactNamedPipe, FlushFileBuffers, GetNamedPipeInfo, ...).
pub struct PipeHandle {
    inner: Arc<Inner>,
}

impl PipeHandle {
    /// A handle of a client end (or an adopted end): byte read mode, blocking, as CreateFile
    /// leaves a new client.
    pub(crate) fn for_client(
        name: PipeName,
        attrs: PipeAttributes,
        access: u32,
        link: Arc<Link>,
    ) -> PipeHandle {
        PipeHandle {
            inner: Arc::new(Inner {
                name,
                attrs,
                access,
                kind: Kind::Client(link),
                modes: Mutex::new(Modes {
                    read_mode: ReadMode::Byte,
                    nowait: false,
                }),
            }),
        }
    }

    /// A handle of a remote client end (crate::remote).
    fn for_remote(name: PipeName, access: u32, pipe: crate::remote::RemotePipe) -> PipeHandle {
        PipeHandle {
            inner: Arc::new(Inner {
                name,
                attrs: crate::remote::attributes(),
                access,
                kind: Kind::Remote(Box::new(pipe)),
                modes: Mutex::new(Modes {
                    read_mode: ReadMode::Byte,
                    nowait: false,
                }),
            }),
        }
    }

    /// The handle is a client of a pipe on another machine (`\\HOST\pipe\NAME`, over SMB):
    /// reads, writes and TransactNamedPipe go to the SMB server; PeekNamedPipe, time-outs
    /// on reads and the process ids answer `ERROR_NOT_SUPPORTED` (docs/DEVIATIONS.md).
    pub fn is_remote(&self) -> bool {
        self.remote().is_some()
    }

    /// Another handle to the same end (the async API's remote operations run on a copy).
    pub(crate) fn shared(&self) -> PipeHandle {
        PipeHandle {
            inner: self.inner.clone(),
        }
    }

    /// ReadFile on a remote handle for an operation a cancel may overtake
    /// ([`crate::remote::RemotePipe::read_for`]).
    pub(crate) fn remote_read_for(
        &self,
        buf: &mut [u8],
        fate: &crate::remote::ReadFate,
    ) -> Result<ReadOutcome> {
        self.check_access(AccessNeed::Read)?;
        match self.remote() {
            Some(r) => r.read_for(buf, Some(fate)),
            None => Err(Win32Error::INVALID_HANDLE),
        }
    }

    /// CloseHandle of a remote handle whose operations may outlive it (the async forms'
    /// SMB calls run on a pool and hold the handle): close the SMB side now, so that the
    /// server sees its client go as it would on Windows. Nothing for a local handle.
    #[doc(hidden)]
    pub fn close_remote(&self) {
        if let Some(r) = self.remote() {
            r.shutdown();
        }
    }

    /// The remote pipe behind a handle [`PipeHandle::begin`] found remote.
    fn remote_pipe(&self) -> Result<&crate::remote::RemotePipe> {
        self.remote().ok_or(Win32Error::INVALID_HANDLE)
    }

    /// The remote pipe behind this handle, if it is one.
    fn remote(&self) -> Option<&crate::remote::RemotePipe> {
        match &self.inner.kind {
            Kind::Remote(r) => Some(r),
            _ => None,
        }
    }

    fn is_server(&self) -> bool {
        match &self.inner.kind {
            Kind::Server(_) => true,
            Kind::Client(l) => l.conn.is_server_end(),
            Kind::Remote(_) => false,
        }
    }

    /// The connection to operate on, or the error the handle's state gives for `op`.
    pub(crate) fn link(
        &self,
        listening: Win32Error,
        disconnected: Win32Error,
    ) -> Result<Arc<Link>> {
        match &self.inner.kind {
            Kind::Client(l) => Ok(l.clone()),
            Kind::Remote(_) => Err(Win32Error::NOT_SUPPORTED),
            Kind::Server(s) => {
                let mut s = lock(s);
                poll_channel(&mut s, Some(Duration::ZERO))?;
                match &s.link {
                    ServerLink::Connected(l) => Ok(l.clone()),
                    ServerLink::Listening => Err(listening),
                    ServerLink::Disconnected => Err(disconnected),
                }
            }
        }
    }

    fn modes(&self) -> Modes {
        *lock(&self.inner.modes)
    }

    /// The handle is in message read mode (`PIPE_READMODE_MESSAGE`).
    /// The access mask this handle holds (what NtQueryInformationFile's
    /// FileAccessInformation reports): CreateNamedPipe's `FILE_GENERIC_READ` and/or
    /// `FILE_GENERIC_WRITE` by direction, CreateFile's mapped `dwDesiredAccess` plus
    /// `SYNCHRONIZE | FILE_READ_ATTRIBUTES`.
    pub fn granted_access(&self) -> u32 {
        self.inner.access
    }

    /// `ERROR_ACCESS_DENIED` unless the handle holds what `need` names (spec/api.md, "Rights
    /// needed per API"); every operation checks it before anything else, as the I/O manager
    /// does, and the C ABI checks it before its own parameter checks.
    pub fn check_access(&self, need: AccessNeed) -> Result<()> {
        if config::access_allows(self.inner.access, need) {
            Ok(())
        } else {
            Err(Win32Error::ACCESS_DENIED)
        }
    }

    pub(crate) fn message_read_mode(&self) -> bool {
        self.modes().read_mode == ReadMode::Message
    }

    /// The handle is in `PIPE_NOWAIT` mode.
    pub(crate) fn is_nowait(&self) -> bool {
        self.modes().nowait
    }

    /// The pipe's full name (`\\.\pipe\NAME`).
    pub fn name(&self) -> String {
        self.inner.name.full()
    }
}

/// The server end of a pipe instance, as CreateNamedPipe returns it.
pub struct PipeServer {
    handle: PipeHandle,
    already_existed: bool,
}

impl Deref for PipeServer {
    type Target = PipeHandle;
    fn deref(&self) -> &PipeHandle {
        &self.handle
    }
}

impl PipeServer {
    /// Other instances of the pipe existed when this one was created (CreateNamedPipe then
    /// sets `ERROR_ALREADY_EXISTS` as the last error).
    pub fn already_existed(&self) -> bool {
        self.already_existed
    }

    /// Another reference to the same instance (for operations that outlive a borrow).
    pub(crate) fn clone_handle(&self) -> PipeServer {
        PipeServer {
            handle: PipeHandle {
                inner: self.handle.inner.clone(),
            },
            already_existed: self.already_existed,
        }
    }

    fn side(&self) -> &Mutex<ServerSide> {
        match &self.handle.inner.kind {
            Kind::Server(s) => s,
            _ => unreachable!("a PipeServer always holds a server side"),
        }
    }
}

/// The client end of a pipe, as CreateFile returns it.
pub struct PipeClient {
    pub(crate) handle: PipeHandle,
}

impl Deref for PipeClient {
    type Target = PipeHandle;
    fn deref(&self) -> &PipeHandle {
        &self.handle
    }
}

impl PipeClient {}

/// Run a broker request on a kept connection ([`broker::with_kept`]).
fn with_broker<T>(
    f: impl FnOnce(&mut BrokerConn) -> std::result::Result<T, BrokerError>,
) -> Result<T> {
    broker::with_kept(f).map_err(broker_err)
}
