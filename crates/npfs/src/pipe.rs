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

mod remote_client;

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

    /// The pipe's attributes.
    pub(crate) fn attributes(&self) -> PipeAttributes {
        self.inner.attrs
    }

    /// ReadFile: read up to `buf.len()` bytes; in message read mode at most one message, with
    /// `more_data` when it did not fit (the rest stays for the next read, by any thread or
    /// process). Blocks while the pipe is empty unless the handle is in `PIPE_NOWAIT` mode
    /// (then `ERROR_NO_DATA`).
    #[doc(alias = "ReadFile")]
    pub fn read(&self, buf: &mut [u8]) -> Result<ReadOutcome> {
        self.check_access(AccessNeed::Read)?;
        if let Some(r) = self.remote() {
            return r.read(buf);
        }
        let link = self.link(Win32Error::PIPE_LISTENING, Win32Error::PIPE_NOT_CONNECTED)?;
        let m = self.modes();
        let conn = &link.conn;
        let mut op = ReadOp::new(m.read_mode == ReadMode::Message, m.nowait);
        let r = engine::block(conn, None, || op.step(conn, buf), || false)?;
        Ok(r.into())
    }

    /// WriteFile: write `data` (one message on a message pipe). Returns when the unread bytes
    /// up to its end fit the reader's quota. In `PIPE_NOWAIT` mode it never waits and returns
    /// what was written (spec/api.md §4.4).
    #[doc(alias = "WriteFile")]
    pub fn write(&self, data: &[u8]) -> Result<usize> {
        self.check_access(AccessNeed::Write)?;
        if let Some(r) = self.remote() {
            return r.write(data);
        }
        let link = self.link(Win32Error::PIPE_LISTENING, Win32Error::PIPE_NOT_CONNECTED)?;
        let conn = &link.conn;
        let mut op = WriteOp::new(self.modes().nowait);
        engine::block(conn, None, || op.step(conn, data), || false)
    }

    /// ReadFile with a limit: when `timeout` passes first, the read is cancelled (it consumed
    /// nothing) and fails with `ERROR_OPERATION_ABORTED`, as CancelIoEx would make it.
    pub fn read_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<ReadOutcome> {
        self.check_access(AccessNeed::Read)?;
        let link = self.link(Win32Error::PIPE_LISTENING, Win32Error::PIPE_NOT_CONNECTED)?;
        let m = self.modes();
        let conn = &link.conn;
        let mut op = ReadOp::new(m.read_mode == ReadMode::Message, m.nowait);
        let deadline = std::time::Instant::now() + timeout;
        let op = std::cell::RefCell::new(&mut op);
        let r = engine::block(
            conn,
            Some(deadline),
            || op.borrow_mut().step(conn, buf),
            || op.borrow_mut().cancel(conn),
        )?;
        Ok(r.into())
    }

    /// WriteFile with a limit: when `timeout` passes before the write completes, it is
    /// cancelled — its unread bytes leave the pipe — and fails with `ERROR_OPERATION_ABORTED`.
    pub fn write_timeout(&self, data: &[u8], timeout: Duration) -> Result<usize> {
        self.check_access(AccessNeed::Write)?;
        if let Some(r) = self.remote() {
            return r.write(data); // an SMB2 WRITE to a pipe completes without waiting
        }
        let link = self.link(Win32Error::PIPE_LISTENING, Win32Error::PIPE_NOT_CONNECTED)?;
        let conn = &link.conn;
        let op = std::cell::RefCell::new(WriteOp::new(self.modes().nowait));
        let deadline = std::time::Instant::now() + timeout;
        engine::block(
            conn,
            Some(deadline),
            || op.borrow_mut().step(conn, data),
            || op.borrow_mut().cancel(conn),
        )
    }

    /// TransactNamedPipe with a limit on the wait for the reply (the request stays written,
    /// as when a pending transaction is cancelled on Windows).
    pub fn transact_timeout(
        &self,
        request: &[u8],
        reply: &mut [u8],
        timeout: Duration,
    ) -> Result<ReadOutcome> {
        self.check_access(AccessNeed::ReadWrite)?;
        let link = self.link(Win32Error::BAD_PIPE, Win32Error::BAD_PIPE)?;
        if self.inner.attrs.pipe_type != PipeType::Message
            || self.modes().read_mode != ReadMode::Message
        {
            return Err(Win32Error::BAD_PIPE);
        }
        let conn = &link.conn;
        let op = std::cell::RefCell::new(TransactOp::new());
        let deadline = std::time::Instant::now() + timeout;
        let r = engine::block(
            conn,
            Some(deadline),
            || op.borrow_mut().step(conn, request, reply),
            || op.borrow_mut().cancel(conn),
        )?;
        Ok(r.into())
    }

    /// PeekNamedPipe: copy unread data without removing it; never waits.
    #[doc(alias = "PeekNamedPipe")]
    pub fn peek(&self, buf: &mut [u8]) -> Result<PeekOutcome> {
        self.check_access(AccessNeed::Read)?;
        let link = match &self.inner.kind {
            Kind::Client(l) => l.clone(),
            _ => self.link(Win32Error::BAD_PIPE, Win32Error::BAD_PIPE)?,
        };
        let p = link.conn.peek(buf)?;
        let read = p.info.read as u32;
        Ok(PeekOutcome {
            bytes_read: read,
            total_bytes_avail: p.info.avail.min(u64::from(u32::MAX)) as u32,
            bytes_left_this_message: (p.info.message_len as u32).wrapping_sub(read),
        })
    }

    /// TransactNamedPipe: write one message and read one reply. Needs a message pipe, this
    /// handle in message read mode and nothing unread (`ERROR_BAD_PIPE`, `ERROR_PIPE_BUSY`).
    #[doc(alias = "TransactNamedPipe")]
    pub fn transact(&self, request: &[u8], reply: &mut [u8]) -> Result<ReadOutcome> {
        self.check_access(AccessNeed::ReadWrite)?;
        if let Some(r) = self.remote() {
            return r.transact(request, reply);
        }
        let link = self.link(Win32Error::BAD_PIPE, Win32Error::BAD_PIPE)?;
        if self.inner.attrs.pipe_type != PipeType::Message
            || self.modes().read_mode != ReadMode::Message
        {
            return Err(Win32Error::BAD_PIPE);
        }
        let conn = &link.conn;
        let mut op = TransactOp::new();
        let r = engine::block(conn, None, || op.step(conn, request, reply), || false)?;
        Ok(r.into())
    }

    /// FlushFileBuffers: wait until the other end has read everything written here.
    #[doc(alias = "FlushFileBuffers")]
    pub fn flush(&self) -> Result<()> {
        self.check_access(AccessNeed::Write)?;
        if self.remote().is_some() {
            return Ok(()); // remote writes are write-through: nothing is buffered here
        }
        match self.link(Win32Error::SUCCESS, Win32Error::SUCCESS) {
            Ok(l) => {
                let mut op = FlushOp::default();
                engine::block(&l.conn, None, || op.step(&l.conn), || false)
            }
            Err(e) if e == Win32Error::SUCCESS => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// GetNamedPipeInfo.
    #[doc(alias = "GetNamedPipeInfo")]
    pub fn info(&self) -> Result<PipeInfo> {
        self.check_access(AccessNeed::QueryState)?;
        if let Kind::Client(l) = &self.inner.kind {
            if l.conn.state() == LinkState::Disconnected {
                return Err(Win32Error::PIPE_NOT_CONNECTED);
            }
        }
        let a = &self.inner.attrs;
        let mut flags = if self.is_server() {
            PIPE_SERVER_END
        } else {
            PIPE_CLIENT_END
        };
        if a.pipe_type == PipeType::Message {
            flags |= PIPE_TYPE_MESSAGE;
        }
        Ok(PipeInfo {
            flags,
            out_buffer_size: a.out_quota,
            in_buffer_size: a.in_quota,
            max_instances: a.max_instances,
        })
    }

    /// GetNamedPipeHandleState's `*lpState`: `PIPE_NOWAIT` and/or `PIPE_READMODE_MESSAGE`.
    #[doc(alias = "GetNamedPipeHandleState")]
    pub fn handle_mode(&self) -> Result<u32> {
        self.check_access(AccessNeed::QueryState)?;
        self.check_attached()?;
        let m = self.modes();
        let read = if m.read_mode == ReadMode::Message {
            PIPE_READMODE_MESSAGE
        } else {
            0
        };
        Ok((u32::from(m.nowait) * PIPE_NOWAIT) | read)
    }

    /// GetNamedPipeHandleState's `*lpCurInstances`: the pipe's current instance count.
    #[doc(alias = "GetNamedPipeHandleState")]
    pub fn current_instances(&self) -> Result<u32> {
        self.check_access(AccessNeed::QueryState)?;
        self.check_attached()?;
        if self.remote().is_some() {
            return Err(Win32Error::NOT_SUPPORTED);
        }
        let mut b = BrokerConn::connect().map_err(broker_err)?;
        Ok(b.instance_count(&self.inner.name)
            .map_err(broker_err)?
            .min(255))
    }

    /// SetNamedPipeHandleState with `*lpMode`: read mode and wait mode of this handle.
    #[doc(alias = "SetNamedPipeHandleState")]
    pub fn set_handle_mode(&self, mode: u32) -> Result<()> {
        // kernelbase refuses unknown bits before it asks the file system (Wine's order), which
        // checks the handle's access first, then the mode against the pipe type.
        if mode & !config::VALID_HANDLE_MODE_BITS != 0 {
            return Err(Win32Error::INVALID_PARAMETER);
        }
        self.check_access(AccessNeed::SetState)?;
        self.check_attached()?;
        let (read_mode, nowait) = config::parse_handle_mode(mode, self.inner.attrs.pipe_type)?;
        *lock(&self.inner.modes) = Modes { read_mode, nowait };
        Ok(())
    }

    fn check_attached(&self) -> Result<()> {
        if let Kind::Client(l) = &self.inner.kind {
            if l.conn.state() == LinkState::Disconnected {
                return Err(Win32Error::PIPE_NOT_CONNECTED);
            }
        }
        Ok(())
    }

    fn pids(&self) -> Result<(u32, u32)> {
        match &self.inner.kind {
            Kind::Client(l) => {
                if l.conn.state() == LinkState::Disconnected {
                    return Err(Win32Error::PIPE_NOT_CONNECTED);
                }
                Ok((l.conn.client_pid, l.conn.server_pid))
            }
            Kind::Server(s) => {
                let mut s = lock(s);
                let _ = poll_channel(&mut s, Some(Duration::ZERO));
                match &s.link {
                    ServerLink::Connected(l) => Ok((l.conn.client_pid, l.conn.server_pid)),
                    _ => Err(Win32Error::NOT_FOUND),
                }
            }
            Kind::Remote(_) => Err(Win32Error::NOT_SUPPORTED),
        }
    }

    /// GetNamedPipeClientProcessId.
    #[doc(alias = "GetNamedPipeClientProcessId")]
    pub fn client_process_id(&self) -> Result<u32> {
        self.pids().map(|p| p.0)
    }

    /// GetNamedPipeServerProcessId.
    #[doc(alias = "GetNamedPipeServerProcessId")]
    pub fn server_process_id(&self) -> Result<u32> {
        match self.pids() {
            Ok(p) => Ok(p.1),
            Err(e) if e == Win32Error::NOT_FOUND => Ok(crate::sys::my_pid()),
            Err(e) => Err(e),
        }
    }

    /// GetNamedPipeClientSessionId: the session of the client's process — the Unix session,
    /// which npfs reports for both ends as this process's (one per login). Fails as
    /// [`PipeHandle::client_process_id`] does (`ERROR_NOT_FOUND` on a server with no client,
    /// `ERROR_PIPE_NOT_CONNECTED` on a detached client).
    #[doc(alias = "GetNamedPipeClientSessionId")]
    pub fn client_session_id(&self) -> Result<u32> {
        self.client_process_id().map(|_| crate::sys::session_id())
    }

    /// GetNamedPipeServerSessionId: as [`PipeHandle::client_session_id`], failing as
    /// [`PipeHandle::server_process_id`] does (a server end always answers).
    #[doc(alias = "GetNamedPipeServerSessionId")]
    pub fn server_session_id(&self) -> Result<u32> {
        self.server_process_id().map(|_| crate::sys::session_id())
    }

    /// The handle's connection state (`FILE_PIPE_*_STATE`).
    pub fn state(&self) -> PipeState {
        match &self.inner.kind {
            Kind::Client(l) => link_state(&l.conn),
            Kind::Remote(_) => PipeState::Connected,
            Kind::Server(s) => {
                let mut s = lock(s);
                let _ = poll_channel(&mut s, Some(Duration::ZERO));
                match &s.link {
                    ServerLink::Listening => PipeState::Listening,
                    ServerLink::Disconnected => PipeState::Disconnected,
                    ServerLink::Connected(l) => link_state(&l.conn),
                }
            }
        }
    }

    /// ReadDataAvailable: unread bytes waiting for this end.
    #[doc(alias = "PeekNamedPipe")]
    pub fn available(&self) -> u64 {
        self.link(Win32Error::SUCCESS, Win32Error::SUCCESS)
            .map(|l| l.conn.available())
            .unwrap_or(0)
    }

    /// Prepare this end to be inherited by a child process (a handle created with
    /// `bInheritHandle`): clears close-on-exec on its descriptors and returns a token for the
    /// child to pass to [`PipeHandle::from_inherited`] (for example in an environment
    /// variable). Make one token per child. This handle stays usable; both processes then
    /// share the end, as inherited handles do on Windows, and it stays open until every
    /// process has closed it. A server end must be connected (`ERROR_PIPE_NOT_CONNECTED`);
    /// in the child it carries data, not ConnectNamedPipe/DisconnectNamedPipe.
    pub fn inherit_token(&self) -> Result<String> {
        use std::os::fd::AsRawFd;
        let link = self.link(
            Win32Error::PIPE_NOT_CONNECTED,
            Win32Error::PIPE_NOT_CONNECTED,
        )?;
        let conn = &link.conn;
        let sock = conn.sock().ok_or(Win32Error::INVALID_HANDLE)?;
        let [r0, r1] = conn.ring_fds();
        let bell = conn.end_bell_or_make()?;
        for fd in [
            sock.as_fd(),
            conn.shm_fd().as_fd(),
            r0.as_fd(),
            r1.as_fd(),
            bell.as_fd(),
        ] {
            rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())
                .map_err(|_| Win32Error::INVALID_HANDLE)?;
        }
        // The child holds the end from now on, whether or not it ever takes it over.
        conn.reserve_holder();
        let a = conn.attrs();
        let rights = conn.rights();
        Ok(format!(
            "npfs4;{};{};{};{};{};{};{}{};{};{};{};{};{};{};{};{};{};{}",
            if conn.is_server_end() { 's' } else { 'c' },
            sock.as_raw_fd(),
            conn.shm_fd().as_raw_fd(),
            r0.as_raw_fd(),
            r1.as_raw_fd(),
            bell.as_raw_fd(),
            u8::from(rights.writes),
            u8::from(rights.peer_writes),
            u8::from(a.pipe_type == PipeType::Message),
            a.direction.as_open_mode(),
            a.max_instances,
            a.out_quota,
            a.in_quota,
            a.default_timeout_ms,
            conn.server_pid,
            conn.client_pid,
            self.inner.access,
            self.inner.name.full()
        ))
    }

    /// Take over an end inherited from the parent process, from the token its
    /// [`PipeHandle::inherit_token`] made. `ERROR_INVALID_HANDLE` if the token is malformed or
    /// names descriptors this process does not have.
    ///
    /// # Safety
    ///
    /// The token names descriptors by number: the caller promises that they are the ones a
    /// parent passed for this token (inherited across exec), and that nothing else in this
    /// process owns them; this handle takes ownership of them. Call it once per token.
    pub unsafe fn from_inherited(token: &str) -> Result<PipeHandle> {
        use std::os::fd::{FromRawFd, OwnedFd, RawFd};
        let bad = Win32Error::INVALID_HANDLE;
        // npfs4;END;SOCK;SHM;RING0;RING1;BELL;RIGHTS;...: the descriptors are fields 2..=6.
        let f: Vec<&str> = token.splitn(18, ';').collect();
        if f.len() != 18 || f[0] != "npfs4" {
            return Err(bad);
        }
        let end = match f[1] {
            "s" => End::Server,
            "c" => End::Client,
            _ => return Err(bad),
        };
        let n = |i: usize| f[i].parse::<u32>().map_err(|_| bad);
        let fd = |i: usize| -> Result<RawFd> {
            let v = f[i].parse::<RawFd>().map_err(|_| bad)?;
            if v < 0 {
                return Err(bad);
            }
            // SAFETY: borrowing for the duration of one fcntl call; no ownership is taken.
            let b = unsafe { std::os::fd::BorrowedFd::borrow_raw(v) };
            rustix::io::fcntl_getfd(b).map_err(|_| bad)?;
            Ok(v)
        };
        let raw = [fd(2)?, fd(3)?, fd(4)?, fd(5)?, fd(6)?];
        if !crate::sys::is_eventfd(raw[4]) {
            return Err(bad);
        }
        for (k, a) in raw.iter().enumerate() {
            if raw[..k].contains(a) {
                return Err(bad);
            }
        }
        let rights = match f[7] {
            "00" | "01" | "10" | "11" => DataRights {
                writes: f[7].as_bytes()[0] == b'1',
                peer_writes: f[7].as_bytes()[1] == b'1',
            },
            _ => return Err(bad),
        };
        let attrs = PipeAttributes {
            direction: config::Direction::from_open_mode(n(9)?).ok_or(bad)?,
            pipe_type: if n(8)? == 1 {
                PipeType::Message
            } else {
                PipeType::Byte
            },
            max_instances: n(10)?,
            out_quota: n(11)?,
            in_quota: n(12)?,
            default_timeout_ms: n(13)?,
        };
        let access = n(16)?;
        let name = PipeName::parse(f[17]).map_err(|_| bad)?;
        let info = ConnInfo {
            conn_id: 0,
            attrs,
            server_pid: n(14)?,
            client_pid: n(15)?,
            instance_id: 0,
            client_access: 0,
        };
        // SAFETY: the caller's promise: the token names five distinct open descriptors
        // (checked above) that this process inherited for it and nobody else owns; from here
        // on this handle owns them.
        let [sock, shm, r0, r1, bell] = raw.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
        for fd in [&sock, &shm, &r0, &r1, &bell] {
            let _ = rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC);
        }
        let fds = ConnFds {
            sock,
            shm,
            rings: [r0, r1],
        };
        let link = Arc::new(Link::adopt(fds, &info, end, rights)?);
        link.conn.adopt_end_bell(bell);
        Ok(PipeHandle::for_client(name, attrs, access, link))
    }

    /// GetSecurityInfo: the parts `info` (`OWNER_SECURITY_INFORMATION` 1,
    /// `GROUP_SECURITY_INFORMATION` 2, `DACL_SECURITY_INFORMATION` 4,
    /// `SACL_SECURITY_INFORMATION` 8) of the pipe's descriptor, shared by all its instances.
    #[doc(alias = "GetSecurityInfo")]
    pub fn security(&self, info: u32) -> Result<SecurityDescriptor> {
        let sddl = match &self.inner.kind {
            Kind::Server(s) => lock(s).channel.get_security(info).map_err(broker_err)?,
            Kind::Client(_) | Kind::Remote(_) => {
                self.check_attached()?;
                let mut b = BrokerConn::connect().map_err(broker_err)?;
                b.get_security(&self.inner.name, info).map_err(broker_err)?
            }
        };
        SecurityDescriptor::from_sddl(&sddl, &npfs_core::security::NoNames)
    }

    /// SetSecurityInfo: replace the parts `info` of the pipe's descriptor (needs `WRITE_DAC`
    /// for the DACL, `WRITE_OWNER` for owner and group).
    #[doc(alias = "SetSecurityInfo")]
    pub fn set_security(&self, info: u32, sd: &SecurityDescriptor) -> Result<()> {
        let sddl = sd.to_sddl();
        match &self.inner.kind {
            Kind::Server(s) => lock(s)
                .channel
                .set_security(info, &sddl)
                .map_err(broker_err),
            Kind::Client(_) | Kind::Remote(_) => {
                self.check_attached()?;
                let mut b = BrokerConn::connect().map_err(broker_err)?;
                b.set_security(&self.inner.name, info, &sddl)
                    .map_err(broker_err)
            }
        }
    }

    /// The pipe's full name (`\\.\pipe\NAME`).
    pub fn name(&self) -> String {
        self.inner.name.full()
    }
}

fn link_state(c: &Conn) -> PipeState {
    match c.state() {
        LinkState::Connected => PipeState::Connected,
        LinkState::Closing => PipeState::Closing,
        LinkState::Disconnected => PipeState::Disconnected,
    }
}

/// Take in a connection the broker pushed, if any. Stale ones (from before a disconnect) are
/// disconnected at once, so their client sees `ERROR_PIPE_NOT_CONNECTED`.
fn poll_channel(s: &mut ServerSide, timeout: Option<Duration>) -> Result<bool> {
    if !matches!(s.link, ServerLink::Listening) {
        return Ok(false);
    }
    loop {
        match s.channel.poll_event(timeout).map_err(broker_err)? {
            None => return Ok(false),
            Some(ChannelEvent::BrokerGone) => {
                reregister(s)?;
                if timeout == Some(Duration::ZERO) {
                    return Ok(false);
                }
            }
            Some(ChannelEvent::Connected { fds, info, epoch }) => {
                let stale = s.disconnected_epoch.is_some_and(|d| epoch <= d) || epoch != s.epoch;
                let link = match Link::new(fds, &info, End::Server, info.client_access) {
                    Ok(link) => Arc::new(link),
                    Err(e) if !stale => {
                        // The segment is refused (wrong size, seals or stamp: a hostile or
                        // broken peer got at it first). Drop that client, as one that came
                        // and went, and keep listening: the instance must not stay paired
                        // with a connection nobody can use.
                        tracing::warn!("npfs: refused a connection's segment: {e}");
                        let epoch = s.epoch;
                        s.disconnected_epoch = Some(epoch);
                        s.channel.disconnect(epoch).map_err(broker_err)?;
                        s.epoch = s.channel.listen().map_err(broker_err)?;
                        continue;
                    }
                    Err(_) => continue,
                };
                if stale {
                    link.conn.disconnect();
                    continue;
                }
                s.link = ServerLink::Connected(link);
                s.conn_id = info.conn_id;
                return Ok(true);
            }
        }
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

    /// ConnectNamedPipe: wait for a client. `Ok(())` when one connected after the call began;
    /// `Err(ERROR_PIPE_CONNECTED)` when one was already there (the connection is good);
    /// `ERROR_NO_DATA` when the client already left; `ERROR_PIPE_LISTENING` in nowait mode.
    #[doc(alias = "ConnectNamedPipe")]
    pub fn connect(&self) -> Result<()> {
        self.connect_timeout(None)
    }

    /// ConnectNamedPipe with a limit: `ERROR_SEM_TIMEOUT` when no client came in time (the
    /// instance keeps listening).
    #[doc(alias = "ConnectNamedPipe")]
    pub fn connect_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        use rustix::event::{poll, PollFd, PollFlags};
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        self.connect_start()?;
        loop {
            // Look under the lock, then wait without it: woken by the channel (a pushed
            // connection, or the broker's hang-up), by another thread changing the link
            // (the instance's eventfd), or by the deadline — never by a tick.
            let (channel, wake) = {
                let mut s = lock(self.side());
                match s.link {
                    ServerLink::Listening => {}
                    ServerLink::Connected(_) => return Ok(()),
                    ServerLink::Disconnected => return Err(Win32Error::PIPE_NOT_CONNECTED),
                }
                if poll_channel(&mut s, Some(Duration::ZERO))? {
                    return Ok(());
                }
                let dup = |fd: std::os::fd::BorrowedFd<'_>| {
                    fd.try_clone_to_owned()
                        .map_err(|_| Win32Error::NO_SYSTEM_RESOURCES)
                };
                // The channel is duplicated: it is replaced when the instance registers
                // with a new broker; the eventfd never is.
                (dup(s.channel.as_fd())?, s.wake.clone())
            };
            let left = match deadline {
                Some(d) => {
                    let now = std::time::Instant::now();
                    if now >= d {
                        return Err(Win32Error::SEM_TIMEOUT);
                    }
                    Some(d - now)
                }
                None => None,
            };
            let ts = left.map(|l| rustix::event::Timespec {
                tv_sec: l.as_secs().min(i64::MAX as u64) as i64,
                tv_nsec: l.subsec_nanos().into(),
            });
            let mut fds = [
                PollFd::new(&channel, PollFlags::IN),
                PollFd::new(&*wake, PollFlags::IN),
            ];
            match poll(&mut fds, ts.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(_) => return Err(Win32Error::NO_SYSTEM_RESOURCES),
            }
            if fds[1].revents().contains(PollFlags::IN) {
                let mut b = [0u8; 8];
                let _ = rustix::io::read(&*wake, &mut b);
            }
        }
    }

    /// The part of ConnectNamedPipe that never waits: `Err(ERROR_PIPE_CONNECTED)` (and the
    /// other outcomes of a connection already there), a disconnected instance listening
    /// again, `ERROR_PIPE_LISTENING` in nowait mode. `Ok` means: now wait for a client.
    pub(crate) fn connect_start(&self) -> Result<()> {
        {
            let mut s = lock(self.side());
            poll_channel(&mut s, Some(Duration::ZERO))?;
            match &s.link {
                ServerLink::Connected(l) => {
                    // A client whose process ended without closing shows only as the socket's
                    // hang-up, which the watcher thread may not have acted on yet: look now.
                    if l.conn.state() == LinkState::Connected
                        && l.conn.sock().is_some_and(crate::sys::socket_hung_up)
                    {
                        l.conn.peer_gone();
                    }
                    return Err(match l.conn.state() {
                        LinkState::Connected => Win32Error::PIPE_CONNECTED,
                        LinkState::Closing => Win32Error::NO_DATA,
                        LinkState::Disconnected => Win32Error::PIPE_NOT_CONNECTED,
                    });
                }
                ServerLink::Disconnected => {
                    s.epoch = s.channel.listen().map_err(broker_err)?;
                    s.link = ServerLink::Listening;
                }
                ServerLink::Listening => {}
            }
            if self.modes().nowait {
                return Err(Win32Error::PIPE_LISTENING);
            }
        }
        Ok(())
    }

    /// One non-blocking look for a client (after [`PipeServer::connect_start`]): `Ok(true)`
    /// when connected, `Ok(false)` while listening, `ERROR_PIPE_NOT_CONNECTED` when
    /// disconnected meanwhile.
    pub(crate) fn connect_check(&self) -> Result<bool> {
        let mut s = lock(self.side());
        match s.link {
            ServerLink::Listening => poll_channel(&mut s, Some(Duration::ZERO)),
            ServerLink::Connected(_) => Ok(true),
            ServerLink::Disconnected => Err(Win32Error::PIPE_NOT_CONNECTED),
        }
    }

    /// The instance's control socket, duplicated (readable: a pushed connection; HUP: the
    /// broker is gone), with the id of the registration it belongs to (it changes when the
    /// instance registers again with a new broker).
    pub(crate) fn channel_fd(&self) -> Result<(u64, std::os::fd::OwnedFd)> {
        let s = lock(self.side());
        let fd = s
            .channel
            .as_fd()
            .try_clone_to_owned()
            .map_err(|_| Win32Error::NO_SYSTEM_RESOURCES)?;
        Ok((s.channel.instance_id(), fd))
    }

    /// The instance's eventfd that wakes a waiting ConnectNamedPipe (written by whoever
    /// changes the link, and by a cancel).
    pub(crate) fn wake_fd(&self) -> Arc<std::os::fd::OwnedFd> {
        lock(self.side()).wake.clone()
    }

    /// Whether the instance is listening (no client yet).
    #[allow(dead_code)] // used by the tokio module
    pub(crate) fn is_listening(&self) -> bool {
        let s = lock(self.side());
        matches!(s.link, ServerLink::Listening)
    }

    /// ImpersonateNamedPipeClient: the calling thread takes the identity of the client (its
    /// uid, gid and groups, for file access) until [`crate::revert_to_self`].
    /// `ERROR_CANNOT_IMPERSONATE` before anything was read from the pipe (or with no client);
    /// `ERROR_PRIVILEGE_NOT_HELD` (1314) when this process may not take another user's
    /// identity (it is not root). A client that opened with SQOS Anonymous or Identification
    /// is impersonated as nobody (65534): its identity is not lent for access.
    #[doc(alias = "ImpersonateNamedPipeClient")]
    pub fn impersonate_client(&self) -> Result<()> {
        let mut s = lock(self.side());
        let _ = poll_channel(&mut s, Some(Duration::ZERO));
        let ServerLink::Connected(l) = &s.link else {
            return Err(Win32Error::CANNOT_IMPERSONATE);
        };
        if !l.conn.has_read() {
            return Err(Win32Error::CANNOT_IMPERSONATE);
        }
        let Some(c) = s.channel.client_credentials(s.conn_id) else {
            return Err(Win32Error::CANNOT_IMPERSONATE);
        };
        let sqos = c.security.sqos;
        let level = if sqos & SECURITY_SQOS_PRESENT != 0 {
            (sqos >> 16) & 3
        } else {
            2
        };
        if level < 2 || c.security.anonymous {
            return crate::impersonate::impersonate(
                crate::impersonate::NOBODY,
                crate::impersonate::NOBODY,
                &[],
            );
        }
        crate::impersonate::impersonate(c.uid, c.security.gid, &c.security.groups)
    }

    /// The client's user name (GetNamedPipeHandleState's `lpUserName`): its Unix user name,
    /// or its SID string if it has none. Needs a connected client.
    #[doc(alias = "GetNamedPipeHandleState")]
    pub fn client_user_name(&self) -> Result<String> {
        let mut s = lock(self.side());
        let _ = poll_channel(&mut s, Some(Duration::ZERO));
        let ServerLink::Connected(_) = &s.link else {
            return Err(Win32Error::PIPE_NOT_CONNECTED);
        };
        let Some(c) = s.channel.client_credentials(s.conn_id) else {
            return Err(Win32Error::CANNOT_IMPERSONATE);
        };
        Ok(user_name(c.uid))
    }

    /// DisconnectNamedPipe: end the connection (or stop listening). Unread data in both
    /// directions is discarded and the client's handle is detached.
    #[doc(alias = "DisconnectNamedPipe")]
    pub fn disconnect(&self) -> Result<()> {
        let mut s = lock(self.side());
        poll_channel(&mut s, Some(Duration::ZERO))?;
        match std::mem::replace(&mut s.link, ServerLink::Disconnected) {
            ServerLink::Disconnected => Err(Win32Error::PIPE_NOT_CONNECTED),
            old => {
                s.wake_waiters();
                if let ServerLink::Connected(l) = old {
                    l.conn.disconnect();
                }
                let epoch = s.epoch;
                s.disconnected_epoch = Some(epoch);
                s.channel.disconnect(epoch).map_err(broker_err)?;
                // A client may have been paired just before the broker saw the disconnect.
                poll_channel_stale(&mut s)?;
                Ok(())
            }
        }
    }
}

/// Drain connections pushed for a cycle that is already over.
fn poll_channel_stale(s: &mut ServerSide) -> Result<()> {
    while let Some(ev) = s
        .channel
        .poll_event(Some(Duration::ZERO))
        .map_err(broker_err)?
    {
        match ev {
            ChannelEvent::Connected { fds, info, .. } => {
                // A refused segment needs no disconnect: dropping it ends the connection.
                if let Ok(link) = Link::new(fds, &info, End::Server, info.client_access) {
                    link.conn.disconnect();
                }
            }
            ChannelEvent::BrokerGone => {
                reregister(s)?;
                break;
            }
        }
    }
    Ok(())
}

/// CreateNamedPipe's arguments, with the names of tokio's `ServerOptions`.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// The descriptor of a new pipe (lpSecurityAttributes), as SDDL.
    sddl: Option<String>,
    open_mode: u32,
    pipe_mode: u32,
    max_instances: u32,
    out_buffer_size: u32,
    in_buffer_size: u32,
    default_timeout: u32,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions::new()
    }
}

impl ServerOptions {
    /// Duplex, byte type, byte read mode, blocking, unlimited instances, 4096-byte buffers,
    /// default time-out 50 ms.
    pub fn new() -> Self {
        ServerOptions {
            sddl: None,
            open_mode: PIPE_ACCESS_DUPLEX,
            pipe_mode: 0,
            max_instances: PIPE_UNLIMITED_INSTANCES,
            out_buffer_size: 4096,
            in_buffer_size: 4096,
            default_timeout: 0,
        }
    }

    /// Exactly CreateNamedPipe's `dwOpenMode`, `dwPipeMode`, `nMaxInstances`,
    /// `nOutBufferSize`, `nInBufferSize` and `nDefaultTimeOut`.
    pub fn from_raw(
        open_mode: u32,
        pipe_mode: u32,
        max_instances: u32,
        out: u32,
        inb: u32,
        timeout: u32,
    ) -> Self {
        ServerOptions {
            sddl: None,
            open_mode,
            pipe_mode,
            max_instances,
            out_buffer_size: out,
            in_buffer_size: inb,
            default_timeout: timeout,
        }
    }

    fn flag(&mut self, bit: u32, on: bool) -> &mut Self {
        if on {
            self.open_mode |= bit;
        } else {
            self.open_mode &= !bit;
        }
        self
    }

    /// `PIPE_ACCESS_INBOUND` part of the direction: the server reads (default true).
    pub fn access_inbound(&mut self, on: bool) -> &mut Self {
        self.flag(PIPE_ACCESS_INBOUND, on)
    }

    /// `PIPE_ACCESS_OUTBOUND` part of the direction: the server writes (default true).
    pub fn access_outbound(&mut self, on: bool) -> &mut Self {
        self.flag(PIPE_ACCESS_OUTBOUND, on)
    }

    /// `FILE_FLAG_FIRST_PIPE_INSTANCE`: fail with `ERROR_ACCESS_DENIED` if the pipe exists.
    pub fn first_pipe_instance(&mut self, on: bool) -> &mut Self {
        self.flag(FILE_FLAG_FIRST_PIPE_INSTANCE, on)
    }

    /// `WRITE_DAC` access on the handle.
    pub fn write_dac(&mut self, on: bool) -> &mut Self {
        self.flag(WRITE_DAC, on)
    }

    /// `WRITE_OWNER` access on the handle (same bit as FILE_FLAG_FIRST_PIPE_INSTANCE).
    pub fn write_owner(&mut self, on: bool) -> &mut Self {
        self.flag(WRITE_OWNER, on)
    }

    /// `ACCESS_SYSTEM_SECURITY` access on the handle.
    pub fn access_system_security(&mut self, on: bool) -> &mut Self {
        self.flag(ACCESS_SYSTEM_SECURITY, on)
    }

    /// `FILE_FLAG_WRITE_THROUGH` (accepted; only meaningful for remote byte pipes).
    pub fn write_through(&mut self, on: bool) -> &mut Self {
        self.flag(FILE_FLAG_WRITE_THROUGH, on)
    }

    /// `PIPE_TYPE_MESSAGE` (true) or `PIPE_TYPE_BYTE`.
    pub fn message_type(&mut self, on: bool) -> &mut Self {
        self.pipe_mode =
            (self.pipe_mode & !PIPE_TYPE_MESSAGE) | if on { PIPE_TYPE_MESSAGE } else { 0 };
        self
    }

    /// `PIPE_READMODE_MESSAGE` (true) or `PIPE_READMODE_BYTE` for the server end.
    pub fn message_read_mode(&mut self, on: bool) -> &mut Self {
        self.pipe_mode =
            (self.pipe_mode & !PIPE_READMODE_MESSAGE) | if on { PIPE_READMODE_MESSAGE } else { 0 };
        self
    }

    /// `PIPE_NOWAIT` (true) or `PIPE_WAIT` for the server end.
    pub fn nowait(&mut self, on: bool) -> &mut Self {
        self.pipe_mode = (self.pipe_mode & !PIPE_NOWAIT) | u32::from(on);
        self
    }

    /// `PIPE_REJECT_REMOTE_CLIENTS`.
    pub fn reject_remote_clients(&mut self, on: bool) -> &mut Self {
        self.pipe_mode = (self.pipe_mode & !PIPE_REJECT_REMOTE_CLIENTS)
            | if on { PIPE_REJECT_REMOTE_CLIENTS } else { 0 };
        self
    }

    /// nMaxInstances: 1..=254, or 255 (`PIPE_UNLIMITED_INSTANCES`).
    pub fn max_instances(&mut self, n: u32) -> &mut Self {
        self.max_instances = n;
        self
    }

    /// nInBufferSize: the quota of the client → server direction.
    pub fn in_buffer_size(&mut self, n: u32) -> &mut Self {
        self.in_buffer_size = n;
        self
    }

    /// nOutBufferSize: the quota of the server → client direction.
    pub fn out_buffer_size(&mut self, n: u32) -> &mut Self {
        self.out_buffer_size = n;
        self
    }

    /// nDefaultTimeOut in ms, for WaitNamedPipe with `NMPWAIT_USE_DEFAULT_WAIT` (0 = 50 ms).
    pub fn default_timeout(&mut self, ms: u32) -> &mut Self {
        self.default_timeout = ms;
        self
    }

    /// `lpSecurityAttributes->lpSecurityDescriptor`: the descriptor of a new pipe (without
    /// one, the default DACL of the CreateNamedPipe page). Creating an *additional* instance
    /// with a descriptor fails with `ERROR_ACCESS_DENIED`, as on Windows.
    pub fn security_descriptor(&mut self, sd: &SecurityDescriptor) -> &mut Self {
        self.sddl = Some(sd.to_sddl());
        self
    }

    /// [`ServerOptions::security_descriptor`] given as SDDL (names of users and groups are
    /// resolved by the broker).
    pub fn sddl(&mut self, sddl: &str) -> &mut Self {
        self.sddl = Some(sddl.to_owned());
        self
    }

    /// CreateNamedPipe: create the pipe or another instance of it. The instance listens at
    /// once; clients may connect before [`PipeServer::connect`].
    #[doc(alias = "CreateNamedPipe")]
    #[doc(alias = "CreateNamedPipeA")]
    #[doc(alias = "CreateNamedPipeW")]
    pub fn create(&self, name: &str) -> Result<PipeServer> {
        self.create_with_access(name, None)
    }

    /// [`ServerOptions::create`], the handle holding `access` instead of what the direction
    /// and the access bits of the open mode give (CreatePipe's read end:
    /// `FILE_GENERIC_READ | FILE_WRITE_ATTRIBUTES`, whatever flags made it).
    fn create_with_access(&self, name: &str, access: Option<u32>) -> Result<PipeServer> {
        let name = PipeName::parse_for_create(Some(name))?;
        let params: CreateParams = config::parse_create(
            self.open_mode,
            self.pipe_mode,
            self.max_instances,
            self.out_buffer_size,
            self.in_buffer_size,
            self.default_timeout,
        )?;
        let (channel, created) =
            InstanceChannel::create_secure(&name, &params, self.sddl.as_deref())
                .map_err(broker_err)?;
        let access = access.unwrap_or_else(|| {
            config::server_granted_access(created.attrs.direction, params.options.extra_access)
        });
        let wake = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )
        .map_err(|_| Win32Error::NO_SYSTEM_RESOURCES)?;
        let inner = Arc::new(Inner {
            name,
            attrs: created.attrs,
            access,
            kind: Kind::Server(Box::new(Mutex::new(ServerSide {
                channel,
                me: None,
                token: None,
                epoch: 0,
                disconnected_epoch: None,
                link: ServerLink::Listening,
                conn_id: 0,
                wake: Arc::new(wake),
            }))),
            modes: Mutex::new(Modes {
                read_mode: params.options.read_mode,
                nowait: params.options.nowait,
            }),
        });
        if let Kind::Server(s) = &inner.kind {
            let mut s = lock(s);
            let weak: Weak<dyn Watched> = Arc::downgrade(&inner) as Weak<dyn Watched>;
            s.token = watcher::watch(s.channel.as_fd(), weak.clone());
            s.me = Some(weak);
        }
        Ok(PipeServer {
            handle: PipeHandle { inner },
            already_existed: created.already_existed,
        })
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

impl PipeClient {
    /// CreateFile on a pipe name with `dwDesiredAccess` (`GENERIC_READ`, `GENERIC_WRITE`, ...).
    /// The handle starts in byte read mode and blocking mode. Errors: `ERROR_FILE_NOT_FOUND`,
    /// `ERROR_PIPE_BUSY` (no instance listening), `ERROR_ACCESS_DENIED` (direction).
    #[doc(alias = "CreateFile")]
    #[doc(alias = "CreateFileA")]
    #[doc(alias = "CreateFileW")]
    pub fn open(name: &str, desired_access: u32) -> Result<PipeClient> {
        Self::open_with_flags(name, desired_access, 0)
    }

    /// Prepare this client end for a child process: see [`PipeHandle::inherit_token`].
    pub fn inherit_token(&self) -> Result<String> {
        self.handle.inherit_token()
    }

    /// Take over a client end inherited from the parent process (see
    /// [`PipeHandle::from_inherited`]); `ERROR_INVALID_HANDLE` if the token is for a server end.
    ///
    /// # Safety
    ///
    /// As [`PipeHandle::from_inherited`].
    pub unsafe fn from_inherited(token: &str) -> Result<PipeClient> {
        // SAFETY: the caller's promise, passed on.
        let handle = unsafe { PipeHandle::from_inherited(token)? };
        if handle.is_server() {
            return Err(Win32Error::INVALID_HANDLE);
        }
        Ok(PipeClient { handle })
    }

    /// CreateFile with `dwFlagsAndAttributes`: its SQOS bits (`SECURITY_SQOS_PRESENT`, the
    /// impersonation level, `SECURITY_CONTEXT_TRACKING`, `SECURITY_EFFECTIVE_ONLY`) limit what
    /// the server may do with the client's identity.
    #[doc(alias = "CreateFile")]
    pub fn open_with_flags(name: &str, desired_access: u32, flags: u32) -> Result<PipeClient> {
        let name = PipeName::parse(name)?;
        if let npfs_core::name::Server::Remote(host) = &name.server {
            let pipe = crate::remote::RemotePipe::open(host, &name.name)?;
            let access =
                config::client_granted_access(desired_access | SYNCHRONIZE | FILE_READ_ATTRIBUTES);
            return Ok(PipeClient {
                handle: PipeHandle::for_remote(name, access, pipe),
            });
        }
        let opts = broker::OpenOptions {
            sqos: flags & 0x001F_0000,
            ..broker::OpenOptions::default()
        };
        // What kernelbase's CreateFileW asks of NtCreateFile: the DACL must allow these too.
        let desired_access = desired_access | SYNCHRONIZE | FILE_READ_ATTRIBUTES;
        let opened = with_broker(|b| b.open_with(&name, desired_access, &opts))?;
        let access = match opened.granted_access {
            0 => config::client_granted_access(desired_access),
            a => a,
        };
        let link = Arc::new(Link::new(opened.fds, &opened.info, End::Client, access)?);
        Ok(PipeClient {
            handle: PipeHandle::for_client(name, opened.info.attrs, access, link),
        })
    }

    /// CreateFile with read and write access.
    #[doc(alias = "CreateFile")]
    pub fn open_duplex(name: &str) -> Result<PipeClient> {
        Self::open(name, GENERIC_READ | GENERIC_WRITE)
    }
}

/// WaitNamedPipe: wait until an instance of the pipe is listening. `timeout_ms` is
/// `NMPWAIT_USE_DEFAULT_WAIT` (0), `NMPWAIT_WAIT_FOREVER` or milliseconds. Errors:
/// `ERROR_FILE_NOT_FOUND` at once when no such pipe exists, `ERROR_SEM_TIMEOUT`.
#[doc(alias = "WaitNamedPipe")]
#[doc(alias = "WaitNamedPipeA")]
#[doc(alias = "WaitNamedPipeW")]
pub fn wait_named_pipe(name: &str, timeout_ms: u32) -> Result<()> {
    let name = PipeName::parse(name).map_err(|_| Win32Error::BAD_PATHNAME)?;
    if let npfs_core::name::Server::Remote(host) = &name.server {
        return crate::remote::wait(host, &name.name, timeout_ms); // a retry: see crate::remote
    }
    let timeout = match timeout_ms {
        NMPWAIT_USE_DEFAULT_WAIT => broker::WaitTimeout::Default,
        NMPWAIT_WAIT_FOREVER => broker::WaitTimeout::Forever,
        ms => broker::WaitTimeout::Millis(ms),
    };
    let mut b = BrokerConn::connect().map_err(broker_err)?;
    b.wait(&name, timeout).map_err(broker_err)
}

/// CallNamedPipe: open a message pipe (waiting once if busy), send `request`, read one reply
/// into `reply`, close. `more_data` in the outcome means the reply was cut short (the rest is
/// lost with the handle, as on Windows).
#[doc(alias = "CallNamedPipe")]
#[doc(alias = "CallNamedPipeA")]
#[doc(alias = "CallNamedPipeW")]
pub fn call_named_pipe(
    name: &str,
    request: &[u8],
    reply: &mut [u8],
    timeout_ms: u32,
) -> Result<ReadOutcome> {
    let client = match PipeClient::open_duplex(name) {
        Ok(c) => c,
        Err(e) if e == Win32Error::PIPE_BUSY && timeout_ms != NMPWAIT_NOWAIT => {
            wait_named_pipe(name, timeout_ms)?;
            PipeClient::open_duplex(name)?
        }
        Err(e) => return Err(e),
    };
    client.set_handle_mode(PIPE_READMODE_MESSAGE)?;
    client.transact(request, reply)
}

static ANON: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// CreatePipe: an anonymous pipe, returned as (read end, write end). It is a byte pipe of one
/// instance whose quota is `size`, or 4096 when `size` is 0.
#[doc(alias = "CreatePipe")]
pub fn create_pipe(size: u32) -> Result<(PipeServer, PipeClient)> {
    let size = if size == 0 { 4096 } else { size };
    let n = ANON.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!(
        "\\\\.\\pipe\\Win32Pipes.{:08x}.{:08x}",
        crate::sys::my_pid(),
        n
    );
    let server = ServerOptions::from_raw(
        PIPE_ACCESS_INBOUND | FILE_FLAG_FIRST_PIPE_INSTANCE,
        0,
        1,
        size,
        size,
        120_000,
    )
    .create_with_access(&name, Some(FILE_GENERIC_READ | FILE_WRITE_ATTRIBUTES))?;
    let client = PipeClient::open(&name, GENERIC_WRITE | FILE_READ_ATTRIBUTES)?;
    server.connect().or_else(|e| {
        if e == Win32Error::PIPE_CONNECTED {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    Ok((server, client))
}

impl std::io::Read for &PipeHandle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match PipeHandle::read(self, buf) {
            Ok(o) => Ok(o.len),
            Err(e) if e == Win32Error::BROKEN_PIPE => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}

impl std::io::Write for &PipeHandle {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(PipeHandle::write(self, buf)?)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(PipeHandle::flush(self)?)
    }
}

macro_rules! io_impls {
    ($t:ty) => {
        impl std::io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::io::Read::read(&mut &**self, buf)
            }
        }
        impl std::io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &**self, buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                std::io::Write::flush(&mut &**self)
            }
        }
    };
}
io_impls!(PipeServer);
io_impls!(PipeClient);

/// `SECURITY_SQOS_PRESENT`.
const SECURITY_SQOS_PRESENT: u32 = 0x0010_0000;

/// The Unix name of user `uid`, or its SID string.
fn user_name(uid: u32) -> String {
    let mut buf = vec![0u8; 4096];
    let mut pw: libc::passwd = unsafe_zeroed_passwd();
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r with a buffer we own and out-pointers to locals.
    let rc =
        unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut out) };
    if rc == 0 && !out.is_null() && !pw.pw_name.is_null() {
        // SAFETY: getpwuid_r filled pw_name with a NUL-terminated string inside `buf`.
        return unsafe { std::ffi::CStr::from_ptr(pw.pw_name) }
            .to_string_lossy()
            .into_owned();
    }
    npfs_core::security::Sid::unix_user(uid).to_string()
}

fn unsafe_zeroed_passwd() -> libc::passwd {
    // SAFETY: libc::passwd is a plain C struct of integers and pointers; all-zero is valid.
    unsafe { std::mem::zeroed() }
}

/// Run a broker request on a kept connection ([`broker::with_kept`]).
fn with_broker<T>(
    f: impl FnOnce(&mut BrokerConn) -> std::result::Result<T, BrokerError>,
) -> Result<T> {
    broker::with_kept(f).map_err(broker_err)
}
