//! What the server and client handles share: every operation on a connection.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::{Interest, ReadBuf, Ready};
use npfs_core::Win32Error;

use crate::engine::{FlushOp, ReadOp, Step, TransactOp, WriteOp};
use crate::pipe::{DataCall, PeekOutcome, PipeHandle, ReadOutcome, Target};

use super::driver::{drive, LinkIo, OpGuard, Waiter};
use super::remote_io::{self, RemoteStream};
use super::sides::{ReadSide, Try, WriteSide};
use super::to_io;

pub(crate) enum Pipe {
    Server(crate::PipeServer),
    Client(crate::PipeClient),
}

/// The state of one async handle.
pub(crate) struct Core {
    pub(crate) pipe: Pipe,
    io: Mutex<Option<Arc<LinkIo>>>,
    read: Mutex<ReadSide>,
    write: Mutex<WriteSide>,
    ready_r: Mutex<Waiter>,
    ready_w: Mutex<Waiter>,
    /// The stream of a client of a remote pipe (unused otherwise).
    remote: Mutex<RemoteStream>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

const LISTENING: Win32Error = Win32Error::PIPE_LISTENING;
const NOT_CONNECTED: Win32Error = Win32Error::PIPE_NOT_CONNECTED;

fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

impl Core {
    pub(crate) fn new(pipe: Pipe) -> Core {
        Core {
            pipe,
            io: Mutex::new(None),
            read: Mutex::default(),
            write: Mutex::default(),
            ready_r: Mutex::default(),
            ready_w: Mutex::default(),
            remote: Mutex::default(),
        }
    }

    /// A client of a remote pipe (its operations: [`remote_io`]).
    fn is_remote(&self) -> bool {
        self.handle().is_remote()
    }

    /// [`PipeHandle::begin`] for a stream operation: the connection's doorbell registration,
    /// or `None` for a remote handle.
    fn begin(&self, call: DataCall) -> io::Result<Option<Arc<LinkIo>>> {
        match self.handle().begin(call).map_err(to_io)? {
            Target::Link(link) => self.io_of(link).map(Some),
            Target::Remote | Target::Done => Ok(None),
        }
    }

    /// What a remote handle cannot do ([`remote_io`]).
    fn local_only(&self) -> io::Result<()> {
        if self.is_remote() {
            return Err(to_io(Win32Error::NOT_SUPPORTED));
        }
        Ok(())
    }

    pub(crate) fn handle(&self) -> &PipeHandle {
        match &self.pipe {
            Pipe::Server(s) => s,
            Pipe::Client(c) => c,
        }
    }

    fn server(&self) -> Option<&crate::PipeServer> {
        match &self.pipe {
            Pipe::Server(s) => Some(s),
            Pipe::Client(_) => None,
        }
    }

    /// The current connection with its doorbell registration (made once per connection).
    fn io_for(&self, listening: Win32Error, disconnected: Win32Error) -> io::Result<Arc<LinkIo>> {
        let link = self.handle().link(listening, disconnected).map_err(to_io)?;
        self.io_of(link)
    }

    /// The doorbell registration of `link` (made once per connection).
    fn io_of(&self, link: Arc<crate::pipe::Link>) -> io::Result<Arc<LinkIo>> {
        let mut g = lock(&self.io);
        if let Some(io) = g.as_ref() {
            if Arc::ptr_eq(&io.link, &link) {
                return Ok(io.clone());
            }
        }
        let io = LinkIo::new(link)?;
        *g = Some(io.clone());
        Ok(io)
    }

    fn io(&self) -> io::Result<Arc<LinkIo>> {
        self.io_for(LISTENING, NOT_CONNECTED)
    }

    fn message_read(&self) -> bool {
        self.handle().message_read_mode()
    }

    // ----- server: connecting -----------------------------------------------------------

    /// Wait until a client is connected to this (listening) server instance.
    pub(crate) async fn wait_client(&self) -> io::Result<()> {
        let Some(server) = self.server() else {
            return Ok(());
        };
        let mut reg: Option<(u64, AsyncFd<OwnedFd>)> = None;
        loop {
            if server.connect_check().map_err(to_io)? {
                return Ok(());
            }
            let (id, fd) = server.channel_fd().map_err(to_io)?;
            if reg.as_ref().is_none_or(|(i, _)| *i != id) {
                // SAFETY: the AsyncFd owns this descriptor (a duplicate) until it is dropped.
                let afd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
                    .map_err(crate::error::from_os)?;
                reg = Some((id, afd));
            }
            let afd = &reg.as_ref().expect("registered").1;
            // The channel's socket says when the broker pushes a connection (or goes away:
            // the watcher then registers the instance again, under a new id).
            afd.readable().await?.clear_ready();
        }
    }

    pub(crate) async fn connect(&self) -> io::Result<()> {
        let server = self.server().expect("server");
        match server.connect_start() {
            Ok(()) => {}
            Err(e) if e == Win32Error::PIPE_CONNECTED => return Ok(()),
            Err(e) => return Err(to_io(e)),
        }
        self.wait_client().await
    }

    pub(crate) fn disconnect(&self) -> io::Result<()> {
        let server = self.server().expect("server");
        lock(&self.read).forget();
        lock(&self.write).forget();
        server.disconnect().map_err(to_io)
    }

    // ----- messages (ReadFile, WriteFile, TransactNamedPipe, FlushFileBuffers) -------------

    pub(crate) async fn recv_msg(&self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
        let io = match self.handle().begin(DataCall::Read).map_err(to_io)? {
            Target::Link(link) => self.io_of(link)?,
            _ => {
                return std::future::poll_fn(|cx| {
                    lock(&self.remote).poll_recv(self.handle(), cx, buf)
                })
                .await
            }
        };
        let h = self.handle();
        let mut g = OpGuard {
            conn: io.conn(),
            op: ReadOp::new(h.message_read_mode(), h.is_nowait()),
            done: false,
        };
        let r = drive(&io, |c| {
            let s = g.op.step(c, buf);
            g.done = matches!(s, Step::Done(_));
            s
        })
        .await;
        r.map(ReadOutcome::from).map_err(to_io)
    }

    pub(crate) async fn write_msg(&self, data: &[u8]) -> io::Result<usize> {
        let io = match self.handle().begin(DataCall::Write).map_err(to_io)? {
            Target::Link(link) => self.io_of(link)?,
            _ => return remote_io::write_msg(self.handle(), data).await,
        };
        let mut g = OpGuard {
            conn: io.conn(),
            op: WriteOp::new(self.handle().is_nowait()),
            done: false,
        };
        drive(&io, |c| {
            let s = g.op.step(c, data);
            g.done = matches!(s, Step::Done(_));
            s
        })
        .await
        .map_err(to_io)
    }

    pub(crate) async fn transact(
        &self,
        request: &[u8],
        reply: &mut [u8],
    ) -> io::Result<ReadOutcome> {
        let io = match self.handle().begin(DataCall::Transact).map_err(to_io)? {
            Target::Link(link) => self.io_of(link)?,
            _ => return remote_io::transact(self.handle(), request, reply).await,
        };
        let mut g = OpGuard {
            conn: io.conn(),
            op: TransactOp::new(),
            done: false,
        };
        let r = drive(&io, |c| {
            let s = g.op.step(c, request, reply);
            g.done = matches!(s, Step::Done(_));
            s
        })
        .await;
        r.map(ReadOutcome::from).map_err(to_io)
    }

    pub(crate) async fn flush(&self) -> io::Result<()> {
        let io = match self.handle().begin(DataCall::Flush).map_err(to_io)? {
            Target::Link(link) => self.io_of(link)?,
            Target::Done if !self.is_remote() => return Ok(()),
            // The stream's WRITE in flight; SMB writes to a pipe are write-through.
            _ => return std::future::poll_fn(|cx| lock(&self.remote).poll_flush(cx)).await,
        };
        // The stream half's write in flight first (with a waiter of this future's own), then
        // FlushFileBuffers.
        let mut w = Waiter::default();
        std::future::poll_fn(|cx| loop {
            w.disarm();
            let r = lock(&self.write).finish(&io.link);
            match r {
                Err(e) => return Poll::Ready(Err(to_io(e))),
                Ok(Try::Block(on)) => {
                    if w.poll_wait(&io, on, cx).is_pending() {
                        return Poll::Pending;
                    }
                }
                Ok(_) => return Poll::Ready(Ok(())),
            }
        })
        .await?;
        drop(w);
        let mut op = FlushOp::default();
        drive(&io, |c| op.step(c)).await.map_err(to_io)
    }

    pub(crate) fn peek(&self, buf: &mut [u8]) -> io::Result<PeekOutcome> {
        self.handle().peek(buf).map_err(to_io)
    }

    // ----- the stream: try_*, poll_* ------------------------------------------------------

    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(io) = self.begin(DataCall::Read)? else {
            return Err(to_io(Win32Error::NOT_SUPPORTED));
        };
        let mut side = lock(&self.read);
        match side
            .try_read(&io.link, self.message_read(), buf)
            .map_err(to_io)?
        {
            Try::Done(n) => Ok(n),
            Try::Eof => Ok(0),
            Try::Block(_) => Err(would_block()),
        }
    }

    pub(crate) fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        match bufs.iter_mut().find(|b| !b.is_empty()) {
            Some(b) => self.try_read(b),
            None => Ok(0),
        }
    }

    pub(crate) fn try_write(&self, data: &[u8]) -> io::Result<usize> {
        let Some(io) = self.begin(DataCall::Write)? else {
            return Err(to_io(Win32Error::NOT_SUPPORTED));
        };
        let mut side = lock(&self.write);
        match side.try_write(&io.link, data).map_err(to_io)? {
            Try::Done(n) => Ok(n),
            Try::Eof | Try::Block(_) => Err(would_block()),
        }
    }

    pub(crate) fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        // One write, one message: the slices are gathered first.
        let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        self.try_write(&all)
    }

    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let io = match self.begin(DataCall::Read) {
            Ok(Some(io)) => io,
            Ok(None) => return lock(&self.remote).poll_read(self.handle(), cx, buf),
            Err(e) => return Poll::Ready(Err(e)),
        };
        let mm = self.message_read();
        let mut side = lock(&self.read);
        loop {
            side.waiter.disarm();
            let n = buf.remaining();
            if n == 0 {
                return Poll::Ready(Ok(()));
            }
            let slice = buf.initialize_unfilled_to(n);
            match side.try_read(&io.link, mm, slice) {
                Err(e) => {
                    side.waiter.reset();
                    return Poll::Ready(Err(to_io(e)));
                }
                Ok(Try::Done(k)) => {
                    buf.advance(k);
                    side.waiter.reset();
                    return Poll::Ready(Ok(()));
                }
                Ok(Try::Eof) => {
                    side.waiter.reset();
                    return Poll::Ready(Ok(()));
                }
                Ok(Try::Block(on)) => {
                    if side.waiter.poll_wait(&io, on, cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let io = match self.begin(DataCall::Write) {
            Ok(Some(io)) => io,
            Ok(None) => return lock(&self.remote).poll_write(self.handle(), cx, data),
            Err(e) => return Poll::Ready(Err(e)),
        };
        let mut side = lock(&self.write);
        loop {
            side.waiter.disarm();
            match side.try_write(&io.link, data) {
                Err(e) => {
                    side.waiter.reset();
                    return Poll::Ready(Err(to_io(e)));
                }
                Ok(Try::Done(n)) => {
                    side.waiter.reset();
                    return Poll::Ready(Ok(n));
                }
                Ok(Try::Eof) => return Poll::Ready(Ok(0)),
                Ok(Try::Block(on)) => {
                    if side.waiter.poll_wait(&io, on, cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        self.poll_write(cx, &all)
    }

    /// Wait for the write in flight (a message above the quota) to complete.
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.is_remote() {
            return lock(&self.remote).poll_flush(cx);
        }
        let io = match self.io_for(Win32Error::SUCCESS, Win32Error::SUCCESS) {
            Ok(io) => io,
            Err(e) if e.raw_os_error() == Some(0) => return Poll::Ready(Ok(())),
            Err(e) => return Poll::Ready(Err(e)),
        };
        let mut side = lock(&self.write);
        loop {
            side.waiter.disarm();
            match side.finish(&io.link) {
                Err(e) => {
                    side.waiter.reset();
                    return Poll::Ready(Err(to_io(e)));
                }
                Ok(Try::Block(on)) => {
                    if side.waiter.poll_wait(&io, on, cx).is_pending() {
                        return Poll::Pending;
                    }
                }
                Ok(_) => {
                    side.waiter.reset();
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }

    // ----- readiness ----------------------------------------------------------------------

    fn poll_ready_with(
        &self,
        waiter: &Mutex<Waiter>,
        interest: Interest,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Ready>> {
        if let Err(e) = self.local_only() {
            return Poll::Ready(Err(e));
        }
        let io = match self.io() {
            Ok(io) => io,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let conn = io.conn();
        let mut w = lock(waiter);
        loop {
            w.disarm();
            let mut ready = Ready::EMPTY;
            let mut ons = Vec::with_capacity(2);
            if interest.is_readable() {
                let (r, on) = conn.read_readiness();
                if r {
                    ready |= Ready::READABLE;
                }
                ons.push(on);
            }
            if interest.is_writable() {
                let (r, on) = conn.write_readiness();
                if r {
                    ready |= Ready::WRITABLE;
                }
                ons.push(on);
            }
            if !ready.is_empty() {
                w.reset();
                return Poll::Ready(Ok(ready));
            }
            if w.poll_wait2(&io, ons[0], ons.get(1).copied(), cx)
                .is_pending()
            {
                return Poll::Pending;
            }
        }
    }

    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready_with(&self.ready_r, Interest::READABLE, cx)
            .map_ok(|_| ())
    }

    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready_with(&self.ready_w, Interest::WRITABLE, cx)
            .map_ok(|_| ())
    }

    pub(crate) async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.local_only()?;
        if self.server().is_some_and(|s| s.is_listening()) {
            self.wait_client().await?;
        }
        let w = Mutex::new(Waiter::default());
        std::future::poll_fn(|cx| self.poll_ready_with(&w, interest, cx)).await
    }
}

impl Drop for Core {
    /// A remote handle's READ or WRITE in flight runs on the blocking pool and holds the
    /// handle: close the SMB side now, so that the server sees its client go.
    fn drop(&mut self) {
        if self.is_remote() {
            self.handle().close_remote();
        }
    }
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedPipe")
            .field("name", &self.handle().name())
            .field("state", &self.handle().state())
            .finish()
    }
}
