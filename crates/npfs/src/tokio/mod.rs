//! The async API: tokio's `tokio::net::windows::named_pipe`, on Linux, with Windows'
//! behaviour — and what tokio's module lacks.
//!
//! Code written for tokio's module needs one line changed:
//!
//! ```no_run
//! // use tokio::net::windows::named_pipe::{ClientOptions, ServerOptions};
//! use npfs::tokio::{ClientOptions, ServerOptions};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! const PIPE_NAME: &str = r"\\.\pipe\npfs-doc-echo";
//!
//! # #[tokio::main] async fn main() -> std::io::Result<()> {
//! let server = ServerOptions::new().first_pipe_instance(true).create(PIPE_NAME)?;
//! let mut client = ClientOptions::new().open(PIPE_NAME)?;
//! server.connect().await?;
//! client.write_all(b"ping").await?;
//! let mut buf = [0u8; 4];
//! let mut server = server;
//! server.read_exact(&mut buf).await?;
//! assert_eq!(&buf, b"ping");
//! # Ok(()) }
//! ```
//!
//! # What is the same as tokio's module
//!
//! [`ServerOptions`] has every setter of tokio's (each sets the same `CreateNamedPipe` flag,
//! documented on the setter), with tokio's defaults: duplex, byte pipe, 65536-byte buffers,
//! unlimited instances, remote clients rejected. [`ClientOptions`] opens with `GENERIC_READ |
//! GENERIC_WRITE` and does not wait: a busy pipe is `ERROR_PIPE_BUSY`, a missing one
//! `ERROR_FILE_NOT_FOUND` ([`std::io::ErrorKind::NotFound`]). [`NamedPipeServer`] and
//! [`NamedPipeClient`] implement `AsyncRead` and `AsyncWrite` and have `readable`,
//! `writable`, `ready`, the `poll_*_ready` functions, `try_read`, `try_write` and their
//! vectored forms, and `info`; the server has `connect` and `disconnect`.
//!
//! Errors are [`std::io::Error`]s whose `raw_os_error()` is the **Win32 error code**, as on
//! Windows, so `e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32)` works unchanged (the
//! constants are here: [`ERROR_PIPE_BUSY`] and others) — also when a Linux call failed
//! underneath: its errno is turned into the Win32 code Windows would give. On Linux the
//! standard library interprets a raw code as an errno for `kind()` and `Display`, which is
//! right only by coincidence (2, `ERROR_FILE_NOT_FOUND`, is `ENOENT`); the [`Win32IoError`]
//! trait gives the code as a [`Win32Error`] (`win32_error`), its proper kind (`win32_kind`)
//! and a message naming it (`win32_display`). `WouldBlock` from `try_*` is the standard
//! kind without a code, as in tokio.
//!
//! # What npfs adds
//!
//! - [`wait_named_pipe`] (WaitNamedPipe) and [`ClientOptions::open_wait`], a client open
//!   that waits for a free instance without polling in a sleep loop.
//! - Message-level operations with Windows' exact semantics, built on the same operation
//!   engine as the blocking API: `recv_msg` (ReadFile: a partial message is the value
//!   `ReadOutcome { more_data: true }`, not an error), `write_msg` (WriteFile: completes
//!   when the reader's quota holds it), `transact` (TransactNamedPipe), `flush`
//!   (FlushFileBuffers: waits until the other end has read everything), `peek`
//!   (PeekNamedPipe), and the process ids of both ends.
//! - [`PipeListener`]: keeps N instances listening and replaces each one the moment a client
//!   takes it, so bursts of clients do not see `ERROR_PIPE_BUSY`.
//! - [`ServerOptions::default_timeout`], [`ServerOptions::nowait`],
//!   [`ServerOptions::read_mode`].
//!
//! # Reads and writes: futures are operations, the stream is best effort
//!
//! `recv_msg`, `write_msg`, `transact` and `flush` are *operations*: each is one ReadFile,
//! WriteFile, ... that completes once, in the FIFO of waiting reads shared with every
//! thread and process holding the end. Dropping the future cancels it as CancelIoEx does:
//! a cancelled read consumes nothing; a cancelled pending write's unread bytes leave the
//! pipe; a cancelled transaction's request stays written.
//!
//! `AsyncRead::poll_read` and `try_read` must be cancel-safe (tokio may drop a read between
//! polls), so they never leave a read waiting in the queue: each attempt is a *try* read (a
//! ReadFile in nowait mode) that takes data only when no waiting ReadFile is ahead of it,
//! and otherwise waits for a change and tries again. They stand outside the FIFO of waiting
//! ReadFile calls: when a blocking or `recv_msg` read waits on the same end, it is served
//! first. On a message pipe in message read mode a stream read returns at most one message
//! (the rest of a long one comes with the next read); an empty message reads as 0 bytes,
//! which `AsyncRead` users take as end of stream — as with tokio on Windows; use `recv_msg`
//! on message pipes.
//!
//! `AsyncWrite::poll_write` and `try_write` give backpressure instead of queuing without
//! bound: a write goes in when the unread bytes plus it fit the reader's quota (a byte
//! write may be partial), and otherwise waits while unread data is there. A message larger
//! than the whole quota goes in when the pipe is empty and is reported written; the next
//! write, `poll_flush` or `poll_shutdown` waits until it completes (tokio on Windows
//! behaves the same way, with a buffer of its own). Dropping the handle before then removes
//! its unread bytes, as closing a handle with a pending WriteFile does.
//!
//! # How waiting works
//!
//! A pending operation counts itself as an async waiter of its end in the connection's
//! shared memory; the other end, in whatever process, then writes a byte to this end's
//! connection socket after each change (the *doorbell*), which the tokio reactor watches.
//! Changes made by this process wake the waiting tasks directly. A change made by *another
//! process holding the same end* (an inherited handle) writes the end's *bell*, an eventfd
//! every holder of the end shares, which the waiters of such a shared end watch as well. A
//! crashed peer and a process that exits with an operation pending are announced by the
//! library's watcher thread. No wait re-checks on a timer.
//!
//! Creating an instance, opening, disconnecting and closing are short synchronous requests
//! to the broker, as the corresponding Win32 calls are synchronous. `connect` waits on the
//! instance's control socket through the reactor. [`wait_named_pipe`] and
//! [`ClientOptions::open_wait`] run the broker's WaitNamedPipe on tokio's blocking pool, in
//! slices of at most one second so that a dropped future releases its thread soon.

pub(crate) mod driver;
mod handle;
mod listener;
#[doc(hidden)]
pub mod remote;
mod remote_io;
mod sides;

use std::ffi::OsStr;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub use crate::error::{Win32Display, Win32IoError};
use ::tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};
use npfs_core::consts::*;
pub use npfs_core::Win32Error;

pub use crate::pipe::{PeekOutcome, PipeState, ReadOutcome};
pub use listener::PipeListener;

use handle::{Core, Pipe};

/// The `io::Error` of a Win32 error: `raw_os_error()` is the Win32 code, as on Windows.
pub(crate) fn to_io(e: Win32Error) -> io::Error {
    e.into()
}

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $v:ident;)*) => {
        $( $(#[$doc])* pub const $name: u32 = Win32Error::$v.0; )*
    };
}

codes! {
    /// `ERROR_FILE_NOT_FOUND` (2): no pipe of that name.
    ERROR_FILE_NOT_FOUND = FILE_NOT_FOUND;
    /// `ERROR_ACCESS_DENIED` (5).
    ERROR_ACCESS_DENIED = ACCESS_DENIED;
    /// `ERROR_BROKEN_PIPE` (109): the other end closed (stream reads report it as end of
    /// stream).
    ERROR_BROKEN_PIPE = BROKEN_PIPE;
    /// `ERROR_SEM_TIMEOUT` (121): WaitNamedPipe timed out.
    ERROR_SEM_TIMEOUT = SEM_TIMEOUT;
    /// `ERROR_BAD_PIPE` (230): TransactNamedPipe on a byte pipe or handle.
    ERROR_BAD_PIPE = BAD_PIPE;
    /// `ERROR_PIPE_BUSY` (231): every instance is busy.
    ERROR_PIPE_BUSY = PIPE_BUSY;
    /// `ERROR_NO_DATA` (232): writing to a pipe whose reader closed; a client that came and
    /// left before ConnectNamedPipe.
    ERROR_NO_DATA = NO_DATA;
    /// `ERROR_PIPE_NOT_CONNECTED` (233): the server disconnected.
    ERROR_PIPE_NOT_CONNECTED = PIPE_NOT_CONNECTED;
    /// `ERROR_MORE_DATA` (234) (npfs reports it as `ReadOutcome::more_data`).
    ERROR_MORE_DATA = MORE_DATA;
    /// `ERROR_PIPE_CONNECTED` (535).
    ERROR_PIPE_CONNECTED = PIPE_CONNECTED;
    /// `ERROR_PIPE_LISTENING` (536): no client yet.
    ERROR_PIPE_LISTENING = PIPE_LISTENING;
    /// `ERROR_OPERATION_ABORTED` (995).
    ERROR_OPERATION_ABORTED = OPERATION_ABORTED;
}

/// The pipe mode: `PIPE_TYPE_*` with the matching `PIPE_READMODE_*` (as tokio's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PipeMode {
    /// `PIPE_TYPE_BYTE` (and `PIPE_READMODE_BYTE`): a stream of bytes; write boundaries
    /// are not kept.
    Byte,
    /// `PIPE_TYPE_MESSAGE` (and `PIPE_READMODE_MESSAGE`): every write is one message; a read
    /// returns at most one, and a message longer than the buffer is `ERROR_MORE_DATA` on
    /// Windows (`ReadOutcome::more_data` here).
    Message,
}

/// Which end of a pipe instance a handle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PipeEnd {
    /// `PIPE_CLIENT_END`.
    Client,
    /// `PIPE_SERVER_END`.
    Server,
}

/// GetNamedPipeInfo, as tokio reports it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PipeInfo {
    /// The pipe type (`PIPE_TYPE_MESSAGE` or not).
    pub mode: PipeMode,
    /// This handle's end.
    pub end: PipeEnd,
    /// nMaxInstances (255: unlimited).
    pub max_instances: u32,
    /// nOutBufferSize: the quota of the server → client direction.
    pub out_buffer_size: u32,
    /// nInBufferSize: the quota of the client → server direction.
    pub in_buffer_size: u32,
}

fn name_of(addr: &OsStr) -> io::Result<&str> {
    addr.to_str().ok_or_else(|| to_io(Win32Error::INVALID_NAME))
}

/// CreateNamedPipe's arguments, with tokio's setters and defaults.
///
/// Defaults (tokio's): `PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED`, `PIPE_TYPE_BYTE |
/// PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS`, `PIPE_UNLIMITED_INSTANCES`,
/// 65536-byte buffers, default time-out 0 (50 ms). Note that the blocking
/// [`crate::ServerOptions`] defaults to 4096-byte buffers and accepts remote clients, as
/// CreateNamedPipe's callers usually pass.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    access_inbound: bool,
    access_outbound: bool,
    first_pipe_instance: bool,
    write_dac: bool,
    write_owner: bool,
    access_system_security: bool,
    pipe_mode: PipeMode,
    read_mode: Option<PipeMode>,
    nowait: bool,
    reject_remote_clients: bool,
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
    /// The defaults above.
    pub fn new() -> ServerOptions {
        ServerOptions {
            access_inbound: true,
            access_outbound: true,
            first_pipe_instance: false,
            write_dac: false,
            write_owner: false,
            access_system_security: false,
            pipe_mode: PipeMode::Byte,
            read_mode: None,
            nowait: false,
            reject_remote_clients: true,
            max_instances: PIPE_UNLIMITED_INSTANCES,
            out_buffer_size: 65536,
            in_buffer_size: 65536,
            default_timeout: 0,
        }
    }

    /// `dwPipeMode`'s `PIPE_TYPE_*` and `PIPE_READMODE_*` together (default
    /// [`PipeMode::Byte`]), as tokio's. [`ServerOptions::read_mode`] changes the read mode
    /// alone.
    pub fn pipe_mode(&mut self, pipe_mode: PipeMode) -> &mut Self {
        self.pipe_mode = pipe_mode;
        self
    }

    /// Not in tokio: the server handle's `PIPE_READMODE_*` on its own, for example a message
    /// pipe read as bytes. `PIPE_READMODE_MESSAGE` on a byte pipe makes `create` fail with
    /// `ERROR_INVALID_PARAMETER`, as on Windows.
    pub fn read_mode(&mut self, read_mode: PipeMode) -> &mut Self {
        self.read_mode = Some(read_mode);
        self
    }

    /// `PIPE_ACCESS_INBOUND` in `dwOpenMode`: the server may read (default true). With
    /// `access_outbound(false)` the pipe is inbound only.
    pub fn access_inbound(&mut self, allowed: bool) -> &mut Self {
        self.access_inbound = allowed;
        self
    }

    /// `PIPE_ACCESS_OUTBOUND` in `dwOpenMode`: the server may write (default true). With
    /// `access_inbound(false)` the pipe is outbound only. Both false fails with
    /// `ERROR_INVALID_PARAMETER`, as on Windows.
    pub fn access_outbound(&mut self, allowed: bool) -> &mut Self {
        self.access_outbound = allowed;
        self
    }

    /// `FILE_FLAG_FIRST_PIPE_INSTANCE`: fail with `ERROR_ACCESS_DENIED` when the pipe
    /// exists already (default false). It is the same bit as `WRITE_OWNER`, on Windows too.
    pub fn first_pipe_instance(&mut self, first: bool) -> &mut Self {
        self.first_pipe_instance = first;
        self
    }

    /// `WRITE_DAC` in `dwOpenMode` (default false). Accepted and ignored: npfs has no
    /// security descriptors yet (docs/DEVIATIONS.md).
    pub fn write_dac(&mut self, requested: bool) -> &mut Self {
        self.write_dac = requested;
        self
    }

    /// `WRITE_OWNER` in `dwOpenMode` (default false) — the same bit as
    /// `FILE_FLAG_FIRST_PIPE_INSTANCE`, so it has that effect, on Windows too.
    pub fn write_owner(&mut self, requested: bool) -> &mut Self {
        self.write_owner = requested;
        self
    }

    /// `ACCESS_SYSTEM_SECURITY` in `dwOpenMode` (default false). Accepted and ignored.
    pub fn access_system_security(&mut self, requested: bool) -> &mut Self {
        self.access_system_security = requested;
        self
    }

    /// `PIPE_REJECT_REMOTE_CLIENTS` (true, tokio's default) or `PIPE_ACCEPT_REMOTE_CLIENTS`.
    /// Recorded (`npfs info` shows it); npfs has no remote clients yet, so either way only
    /// local clients connect. The blocking [`crate::ServerOptions`] defaults to accepting,
    /// CreateNamedPipe's zero value.
    pub fn reject_remote_clients(&mut self, reject: bool) -> &mut Self {
        self.reject_remote_clients = reject;
        self
    }

    /// Not in tokio: `PIPE_NOWAIT` (true) or `PIPE_WAIT` for the server handle. In nowait
    /// mode `connect` fails with `ERROR_PIPE_LISTENING` instead of waiting, `recv_msg` with
    /// `ERROR_NO_DATA` on an empty pipe, and `write_msg` writes what fits the quota at once
    /// (spec/api.md §4.4). The stream functions behave the same in both modes.
    pub fn nowait(&mut self, nowait: bool) -> &mut Self {
        self.nowait = nowait;
        self
    }

    /// nMaxInstances: 1 to 254 (default unlimited, `PIPE_UNLIMITED_INSTANCES`). Every
    /// instance of a pipe gets the first instance's value; creating one more than the limit
    /// fails with `ERROR_PIPE_BUSY`.
    ///
    /// # Panics
    ///
    /// Above 254, as tokio's (leave it unset for no limit).
    #[track_caller]
    pub fn max_instances(&mut self, instances: usize) -> &mut Self {
        assert!(instances < 255, "cannot specify more than 254 instances");
        self.max_instances = instances as u32;
        self
    }

    /// nOutBufferSize (default 65536): the quota of the server → client direction. Writes
    /// beyond it wait for the client to read (npfs keeps Windows' exact quota accounting).
    pub fn out_buffer_size(&mut self, buffer: u32) -> &mut Self {
        self.out_buffer_size = buffer;
        self
    }

    /// nInBufferSize (default 65536): the quota of the client → server direction.
    pub fn in_buffer_size(&mut self, buffer: u32) -> &mut Self {
        self.in_buffer_size = buffer;
        self
    }

    /// Not a tokio setter (tokio always passes 0): nDefaultTimeOut in milliseconds, the
    /// time WaitNamedPipe waits with `NMPWAIT_USE_DEFAULT_WAIT` (0 means 50 ms).
    pub fn default_timeout(&mut self, ms: u32) -> &mut Self {
        self.default_timeout = ms;
        self
    }

    fn raw(&self) -> crate::ServerOptions {
        let mut open_mode = FILE_FLAG_OVERLAPPED;
        for (on, bit) in [
            (self.access_inbound, PIPE_ACCESS_INBOUND),
            (self.access_outbound, PIPE_ACCESS_OUTBOUND),
            (self.first_pipe_instance, FILE_FLAG_FIRST_PIPE_INSTANCE),
            (self.write_dac, WRITE_DAC),
            (self.write_owner, WRITE_OWNER),
            (self.access_system_security, ACCESS_SYSTEM_SECURITY),
        ] {
            if on {
                open_mode |= bit;
            }
        }
        let mut pipe_mode = match self.pipe_mode {
            PipeMode::Message => PIPE_TYPE_MESSAGE,
            PipeMode::Byte => PIPE_TYPE_BYTE,
        };
        if self.read_mode.unwrap_or(self.pipe_mode) == PipeMode::Message {
            pipe_mode |= PIPE_READMODE_MESSAGE;
        }
        if self.nowait {
            pipe_mode |= PIPE_NOWAIT;
        }
        if self.reject_remote_clients {
            pipe_mode |= PIPE_REJECT_REMOTE_CLIENTS;
        }
        crate::ServerOptions::from_raw(
            open_mode,
            pipe_mode,
            self.max_instances,
            self.out_buffer_size,
            self.in_buffer_size,
            self.default_timeout,
        )
    }

    /// CreateNamedPipe: the pipe `addr` (`\\.\pipe\NAME`), or one more instance of it. The
    /// instance listens at once: clients can open it before [`NamedPipeServer::connect`].
    /// Unlike tokio's, it needs no runtime (the runtime is needed by the first async use).
    ///
    /// # Errors
    ///
    /// `ERROR_ACCESS_DENIED` (first instance requested and the pipe exists, or another
    /// direction), `ERROR_PIPE_BUSY` (instance limit), `ERROR_INVALID_NAME`,
    /// `ERROR_INVALID_PARAMETER`.
    #[doc(alias = "CreateNamedPipe")]
    #[doc(alias = "CreateNamedPipeW")]
    pub fn create(&self, addr: impl AsRef<OsStr>) -> io::Result<NamedPipeServer> {
        let name = name_of(addr.as_ref())?;
        let pipe = self.raw().create(name).map_err(to_io)?;
        Ok(NamedPipeServer {
            core: Core::new(Pipe::Server(pipe)),
        })
    }
}

/// CreateFile's arguments for a pipe client, with tokio's setters and defaults.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    read: bool,
    write: bool,
    security_qos_flags: u32,
    pipe_mode: PipeMode,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions::new()
    }
}

/// `SECURITY_IDENTIFICATION` (`SecurityIdentification << 16`).
const SECURITY_IDENTIFICATION: u32 = 1 << 16;
/// `SECURITY_SQOS_PRESENT`.
const SECURITY_SQOS_PRESENT: u32 = 0x0010_0000;

impl ClientOptions {
    /// `GENERIC_READ | GENERIC_WRITE`, byte read mode, `SECURITY_IDENTIFICATION |
    /// SECURITY_SQOS_PRESENT` (tokio's defaults).
    pub fn new() -> ClientOptions {
        ClientOptions {
            read: true,
            write: true,
            security_qos_flags: SECURITY_IDENTIFICATION | SECURITY_SQOS_PRESENT,
            pipe_mode: PipeMode::Byte,
        }
    }

    /// `GENERIC_READ` in `dwDesiredAccess` (default true). Without it, on an outbound
    /// pipe the open fails with `ERROR_ACCESS_DENIED` unless writing is asked for instead.
    pub fn read(&mut self, allowed: bool) -> &mut Self {
        self.read = allowed;
        self
    }

    /// `GENERIC_WRITE` in `dwDesiredAccess` (default true). On an outbound pipe (the server
    /// only writes) ask for `write(false)`, as on Windows.
    pub fn write(&mut self, allowed: bool) -> &mut Self {
        self.write = allowed;
        self
    }

    /// `SECURITY_SQOS_PRESENT` and impersonation-level flags in `dwFlagsAndAttributes`
    /// (default `SECURITY_IDENTIFICATION`, as tokio's): what ImpersonateNamedPipeClient lends
    /// the server (docs/SECURITY.md).
    pub fn security_qos_flags(&mut self, flags: u32) -> &mut Self {
        self.security_qos_flags = flags;
        self
    }

    /// The client handle's read mode: [`PipeMode::Message`] calls SetNamedPipeHandleState
    /// with `PIPE_READMODE_MESSAGE` after the open (which fails with
    /// `ERROR_INVALID_PARAMETER` on a byte pipe, as on Windows).
    pub fn pipe_mode(&mut self, pipe_mode: PipeMode) -> &mut Self {
        self.pipe_mode = pipe_mode;
        self
    }

    fn access(&self) -> u32 {
        (u32::from(self.read) * GENERIC_READ) | (u32::from(self.write) * GENERIC_WRITE)
    }

    /// CreateFile: connect to an instance of `addr` that is listening, without waiting. A
    /// remote name (`\\HOST\pipe\NAME`) opens the pipe on that SMB server (credentials:
    /// `NPFS_SMB_USER` and the rest, as for the blocking API); the handle then does the
    /// message operations and the stream, not readiness (docs/DEVIATIONS.md).
    ///
    /// # Errors
    ///
    /// `ERROR_FILE_NOT_FOUND` (no such pipe: `kind()` is `NotFound`), `ERROR_PIPE_BUSY`
    /// (no instance listening: wait with [`wait_named_pipe`], or use
    /// [`ClientOptions::open_wait`]), `ERROR_ACCESS_DENIED`; for a remote name also
    /// `ERROR_LOGON_FAILURE` and `ERROR_BAD_NETPATH` (no SMB server there).
    #[doc(alias = "CreateFile")]
    #[doc(alias = "CreateFileW")]
    pub fn open(&self, addr: impl AsRef<OsStr>) -> io::Result<NamedPipeClient> {
        let name = name_of(addr.as_ref())?;
        // A remote name (`\\HOST\pipe\NAME`) connects and logs on to its SMB server here,
        // blocking the calling thread for that long (as CreateFile does on Windows); its
        // operations then run on the blocking pool (docs/DEVIATIONS.md).
        let pipe = crate::PipeClient::open_with_flags(name, self.access(), self.security_qos_flags)
            .map_err(to_io)?;
        if self.pipe_mode == PipeMode::Message {
            pipe.set_handle_mode(PIPE_READMODE_MESSAGE).map_err(to_io)?;
        }
        Ok(NamedPipeClient {
            core: Core::new(Pipe::Client(pipe)),
        })
    }

    /// Not in tokio: open, waiting up to `timeout` for an instance to listen when all are
    /// busy (WaitNamedPipe, then CreateFile, again if another client was faster). No sleep
    /// loop: the broker answers when an instance listens.
    ///
    /// # Errors
    ///
    /// As [`ClientOptions::open`]; `ERROR_SEM_TIMEOUT` when no instance came in time.
    #[doc(alias = "WaitNamedPipe")]
    pub async fn open_wait(
        &self,
        addr: impl AsRef<OsStr>,
        timeout: Duration,
    ) -> io::Result<NamedPipeClient> {
        let name = name_of(addr.as_ref())?.to_owned();
        let deadline = Instant::now().checked_add(timeout);
        loop {
            match self.open(&name) {
                Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32) => {
                    let left = match deadline {
                        Some(d) => d.saturating_duration_since(Instant::now()),
                        None => Duration::MAX,
                    };
                    if left.is_zero() {
                        return Err(to_io(Win32Error::SEM_TIMEOUT));
                    }
                    wait_named_pipe(&name, left).await?;
                }
                r => return r,
            }
        }
    }
}

/// WaitNamedPipe: wait until an instance of `name` is listening, for at most `timeout`
/// (`Duration::MAX`: forever). It does not reserve the instance: open it next (or use
/// [`ClientOptions::open_wait`]).
///
/// # Errors
///
/// `ERROR_FILE_NOT_FOUND` at once when no such pipe exists, `ERROR_SEM_TIMEOUT`,
/// `ERROR_BAD_PATHNAME`.
#[doc(alias = "WaitNamedPipe")]
#[doc(alias = "WaitNamedPipeW")]
pub async fn wait_named_pipe(name: impl AsRef<OsStr>, timeout: Duration) -> io::Result<()> {
    let name = name_of(name.as_ref())?.to_owned();
    let deadline = Instant::now().checked_add(timeout);
    // In slices of at most a second on the blocking pool, so that a dropped future frees
    // its thread soon.
    loop {
        let left = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::MAX,
        };
        if left.is_zero() {
            return Err(to_io(Win32Error::SEM_TIMEOUT));
        }
        let slice = left.min(Duration::from_secs(1));
        let ms = (slice.as_millis() as u32).max(1);
        let n = name.clone();
        let r = ::tokio::task::spawn_blocking(move || crate::wait_named_pipe(&n, ms))
            .await
            .map_err(|e| match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                // The runtime is shutting down: the wait was cancelled.
                Err(_) => to_io(Win32Error::OPERATION_ABORTED),
            })?;
        match r {
            Ok(()) => return Ok(()),
            Err(e) if e == Win32Error::SEM_TIMEOUT && slice < left => {}
            Err(e) => return Err(to_io(e)),
        }
    }
}

macro_rules! common {
    ($ty:ident, $end:literal) => {
        impl $ty {
            /// GetNamedPipeInfo: type, end, instance limit and buffer sizes.
            ///
            /// # Errors
            ///
            /// `ERROR_PIPE_NOT_CONNECTED` on a client the server disconnected.
            #[doc(alias = "GetNamedPipeInfo")]
            pub fn info(&self) -> io::Result<PipeInfo> {
                let i = self.core.handle().info().map_err(to_io)?;
                Ok(PipeInfo {
                    mode: if i.flags & PIPE_TYPE_MESSAGE != 0 {
                        PipeMode::Message
                    } else {
                        PipeMode::Byte
                    },
                    end: if i.flags & PIPE_SERVER_END != 0 {
                        PipeEnd::Server
                    } else {
                        PipeEnd::Client
                    },
                    max_instances: i.max_instances,
                    out_buffer_size: i.out_buffer_size,
                    in_buffer_size: i.in_buffer_size,
                })
            }

            /// Wait until the pipe is ready for any of `interest` (readable: data, an
            /// unread empty message, or a state in which a read fails at once — end of
            /// stream, disconnection; writable: the unread bytes are below the reader's
            /// quota, or a write fails at once). As in tokio, readiness can be stale by the
            /// time it is used: `try_*` may still say `WouldBlock`.
            #[doc = concat!("On a ", $end, " that is not connected yet, waits for the connection first.")]
            pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
                self.core.ready(interest).await
            }

            /// `ready(Interest::READABLE)`.
            pub async fn readable(&self) -> io::Result<()> {
                self.core.ready(Interest::READABLE).await.map(|_| ())
            }

            /// `ready(Interest::WRITABLE)`.
            pub async fn writable(&self) -> io::Result<()> {
                self.core.ready(Interest::WRITABLE).await.map(|_| ())
            }

            /// Poll for read readiness. As in tokio, only the waker of the latest call is
            /// woken (one task polls it).
            pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.core.poll_read_ready(cx)
            }

            /// Poll for write readiness (one task polls it).
            pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.core.poll_write_ready(cx)
            }

            /// Read what is there without waiting: `WouldBlock` when nothing is, `Ok(0)` at
            /// end of stream (the other end closed and everything was read) or for an
            /// empty message. A *try* read: it takes data only when no waiting ReadFile of
            /// this end is ahead of it (see the module docs).
            pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                self.core.try_read(buf)
            }

            /// [`Self::try_read`] into the first non-empty buffer.
            pub fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
                self.core.try_read_vectored(bufs)
            }

            /// Write without waiting: what fits the reader's quota now (a message whole, a
            /// byte write possibly in part), else `WouldBlock` while unread data is there.
            pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                self.core.try_write(buf)
            }

            /// [`Self::try_write`] of the buffers gathered into one write (one message on a
            /// message pipe).
            pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
                self.core.try_write_vectored(bufs)
            }

            /// Not in tokio: ReadFile — read one message (message read mode) or up to
            /// `buf.len()` bytes, waiting in the FIFO of this end's reads. A message longer
            /// than `buf` gives `more_data: true` (Windows' `ERROR_MORE_DATA`); the rest is
            /// the next read's. Dropping the future cancels the read; it consumed nothing.
            ///
            /// # Errors
            ///
            /// `ERROR_BROKEN_PIPE` (the other end closed, nothing left),
            /// `ERROR_PIPE_NOT_CONNECTED`, `ERROR_PIPE_LISTENING`, `ERROR_NO_DATA` (nowait
            /// mode, empty pipe).
            #[doc(alias = "ReadFile")]
            pub async fn recv_msg(&self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
                self.core.recv_msg(buf).await
            }

            /// Not in tokio: WriteFile — write `data` as one message (message pipes), and
            /// complete when the unread bytes up to its end fit the reader's quota. Dropping
            /// the future while it waits cancels it: its unread bytes leave the pipe.
            ///
            /// # Errors
            ///
            /// `ERROR_NO_DATA` (the reader closed), `ERROR_PIPE_NOT_CONNECTED`,
            /// `ERROR_BROKEN_PIPE` (the reader closed while the write waited).
            pub async fn write_msg(&self, data: &[u8]) -> io::Result<usize> {
                self.core.write_msg(data).await
            }

            /// Not in tokio: TransactNamedPipe — write one message and read one reply. The
            /// handle must be in message read mode on a message pipe (`ERROR_BAD_PIPE`),
            /// with nothing unread (`ERROR_PIPE_BUSY`). A reply longer than `reply` gives
            /// `more_data`. Dropping the future leaves the request written and cancels the
            /// reply's read.
            #[doc(alias = "TransactNamedPipe")]
            pub async fn transact(&self, request: &[u8], reply: &mut [u8]) -> io::Result<ReadOutcome> {
                self.core.transact(request, reply).await
            }

            /// Not in tokio: FlushFileBuffers — wait until the other end has read everything
            /// written here. This inherent method shadows `AsyncWriteExt::flush`, whose
            /// `poll_flush` only completes the stream's write in flight (call it as
            /// `AsyncWriteExt::flush(&mut pipe)` for that).
            ///
            /// # Errors
            ///
            /// `ERROR_BROKEN_PIPE` when the other end closed before reading it all.
            #[doc(alias = "FlushFileBuffers")]
            pub async fn flush(&self) -> io::Result<()> {
                self.core.flush().await
            }

            /// Not in tokio: PeekNamedPipe — copy unread data without removing it; never
            /// waits.
            #[doc(alias = "PeekNamedPipe")]
            pub fn peek(&self, buf: &mut [u8]) -> io::Result<PeekOutcome> {
                self.core.peek(buf)
            }

            /// Not in tokio: GetNamedPipeClientProcessId.
            #[doc(alias = "GetNamedPipeClientProcessId")]
            pub fn client_process_id(&self) -> io::Result<u32> {
                self.core.handle().client_process_id().map_err(to_io)
            }

            /// Not in tokio: GetNamedPipeServerProcessId.
            #[doc(alias = "GetNamedPipeServerProcessId")]
            pub fn server_process_id(&self) -> io::Result<u32> {
                self.core.handle().server_process_id().map_err(to_io)
            }

            /// The blocking handle underneath, for what this type does not wrap (state,
            /// SetNamedPipeHandleState, available bytes, inheritance). Its blocking calls
            /// block the thread: keep them off the runtime's workers.
            pub fn as_blocking(&self) -> &crate::PipeHandle {
                self.core.handle()
            }
        }

        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                self.core.poll_read(cx, buf)
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.core.poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.core.poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.core.poll_flush(cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.core.poll_flush(cx)
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.core.fmt(f)
            }
        }
    };
}

/// A pipe instance's server end ([`ServerOptions::create`]), as tokio's `NamedPipeServer`.
///
/// To never leave clients without a listening instance, create the next instance before
/// handing a connected one to a task (tokio's accept loop), or use [`PipeListener`].
pub struct NamedPipeServer {
    core: Core,
}

impl NamedPipeServer {
    /// ConnectNamedPipe: wait for a client. Returns at once when one connected already
    /// (Windows' `ERROR_PIPE_CONNECTED`, which tokio turns into success too); a
    /// disconnected instance listens again first. Dropping the future stops waiting; the
    /// instance keeps listening. Does not block the runtime: it waits on the instance's
    /// control socket.
    ///
    /// # Errors
    ///
    /// `ERROR_NO_DATA` (a client connected and already closed), `ERROR_PIPE_LISTENING`
    /// (nowait mode, no client), `ERROR_PIPE_NOT_CONNECTED` (disconnected meanwhile).
    #[doc(alias = "ConnectNamedPipe")]
    pub async fn connect(&self) -> io::Result<()> {
        self.core.connect().await
    }

    /// DisconnectNamedPipe: end the connection (or stop listening). Unread data in both
    /// directions is discarded and the client's handle is detached (its operations fail
    /// with `ERROR_PIPE_NOT_CONNECTED`). `connect` makes the instance listen again.
    ///
    /// # Errors
    ///
    /// `ERROR_PIPE_NOT_CONNECTED` when already disconnected.
    #[doc(alias = "DisconnectNamedPipe")]
    pub fn disconnect(&self) -> io::Result<()> {
        self.core.disconnect()
    }

    /// The blocking server handle underneath.
    pub fn as_blocking_server(&self) -> &crate::PipeServer {
        match &self.core.pipe {
            Pipe::Server(s) => s,
            Pipe::Client(_) => unreachable!("a NamedPipeServer holds a server"),
        }
    }
}

common!(NamedPipeServer, "server");

/// Not in tokio: take a blocking server handle into the async API — for example one made by
/// [`crate::ServerOptions::from_raw`] with exact Win32 arguments.
impl From<crate::PipeServer> for NamedPipeServer {
    fn from(pipe: crate::PipeServer) -> Self {
        NamedPipeServer {
            core: Core::new(Pipe::Server(pipe)),
        }
    }
}

/// Not in tokio: take a blocking client handle (its read mode and wait mode carry over)
/// into the async API.
impl From<crate::PipeClient> for NamedPipeClient {
    fn from(pipe: crate::PipeClient) -> Self {
        NamedPipeClient {
            core: Core::new(Pipe::Client(pipe)),
        }
    }
}

/// A pipe's client end ([`ClientOptions::open`]), as tokio's `NamedPipeClient`.
pub struct NamedPipeClient {
    core: Core,
}

common!(NamedPipeClient, "client");
