//! A blocking frame socket to the broker: requests out, replies (with descriptors) in, each
//! step within a deadline.
//!
//! Nothing waits for the broker without a bound: connecting ([`connect`], `SO_SNDTIMEO`:
//! the kernel wakes the connect when the broker's backlog has room, or at the deadline),
//! sending (`SO_SNDTIMEO`), and every reply ([`FrameSocket::recv_reply`], `poll` with the
//! deadline). [`BROKER_DEADLINE`] bounds each of them; a WaitNamedPipe's reply gets its own
//! time-out plus [`WAIT_MARGIN`]. A step that passes its deadline fails with
//! `io::ErrorKind::TimedOut`, which the Win32 API reports as `ERROR_NO_SYSTEM_RESOURCES`
//! (1450), as every broker that cannot be reached; the connection is then not used again (a
//! late reply must not be taken for the next request's).

use std::collections::VecDeque;
use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use npfs_core::Win32Error;
use npfs_proto::broker::{decode_frame, Reply, Request, FRAME_HEADER, MAX_FRAME};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::{
    sockopt, AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendFlags,
    SocketAddrUnix, SocketFlags, SocketType,
};

use super::protocol_error;

/// How long the broker has to accept a connection, to take a request, and to answer it.
/// Its own waits are shorter (an open that meets a stuck server gives up on it after 2 s).
pub(crate) const BROKER_DEADLINE: Duration = Duration::from_secs(5);

/// What a WaitNamedPipe's reply may take beyond the wait's own time-out.
pub(crate) const WAIT_MARGIN: Duration = Duration::from_secs(5);

/// The error of a step that passed its deadline.
pub(crate) fn timed_out(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!(
            "the npfs broker {what} within {} s",
            BROKER_DEADLINE.as_secs()
        ),
    )
}

/// Connect to the broker's socket at `path`, waiting at most `timeout` for room in its
/// backlog (a broker that accepts nothing).
///
/// # Errors
///
/// The connect's error (`NotFound`, `ConnectionRefused`, ...), `TimedOut` when the time
/// passed.
pub(crate) fn connect(path: &Path, timeout: Duration) -> std::io::Result<UnixStream> {
    let deadline = Instant::now() + timeout;
    let addr = SocketAddrUnix::new(path)?;
    let sock = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out("did not accept the connection"));
        }
        // A blocking connect to a full backlog sleeps until there is room or until the send
        // time-out passes (EAGAIN).
        sockopt::set_socket_timeout(&sock, sockopt::Timeout::Send, Some(left))?;
        match rustix::net::connect(&sock, &addr) {
            Ok(()) => return Ok(UnixStream::from(sock)),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Err(timed_out("did not accept the connection")),
            Err(e) => return Err(e.into()),
        }
    }
}

/// One connection to the broker.
#[derive(Debug)]
pub(crate) struct FrameSocket {
    stream: UnixStream,
    buf: Vec<u8>,
    fds: VecDeque<OwnedFd>,
}

/// The send buffer the library asks for: two frames of the largest size, so a whole request
/// is always in the broker's socket at once (the broker reads a request only once all of it
/// arrived).
const SEND_BUFFER: usize = 2 * (FRAME_HEADER + MAX_FRAME);

impl FrameSocket {
    /// A frame socket over a connected `stream`: sends time out after [`BROKER_DEADLINE`].
    pub(crate) fn new(stream: UnixStream) -> FrameSocket {
        // Best effort: a socket without its send time-out still has every reply's deadline,
        // and the default send buffer (208 KiB) already holds a frame.
        let _ = stream.set_write_timeout(Some(BROKER_DEADLINE));
        if sockopt::socket_send_buffer_size(&stream).is_ok_and(|n| n < SEND_BUFFER) {
            let _ = sockopt::set_socket_send_buffer_size(&stream, SEND_BUFFER);
        }
        FrameSocket {
            stream,
            buf: Vec::new(),
            fds: VecDeque::new(),
        }
    }

    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }

    /// Send one request. A broker that is gone is `BrokenPipe` (never `SIGPIPE`); one that
    /// does not take it within the send time-out ([`BROKER_DEADLINE`]) is `TimedOut`.
    pub(crate) fn send(&mut self, req: &Request) -> std::io::Result<()> {
        let bytes = req
            .encode()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            match rustix::net::send(&self.stream, rest, SendFlags::NOSIGNAL) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return Err(timed_out("did not take the request")),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Shut the connection down both ways: the broker sees its end, and this socket reports
    /// a hang-up to anyone polling it.
    pub(crate) fn shutdown(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }

    /// Bound how long [`FrameSocket::send`] may block (`None`: no bound).
    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        self.stream.set_write_timeout(t)
    }

    /// The reply to a request and its descriptors, waiting until `deadline` (`None`: as long
    /// as it takes, for a wait without a time-out).
    ///
    /// # Errors
    ///
    /// `TimedOut` when the deadline passed, `UnexpectedEof` when the broker closed.
    pub(crate) fn recv_reply(
        &mut self,
        deadline: Option<Instant>,
    ) -> std::io::Result<(Reply, Vec<OwnedFd>)> {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        self.recv(timeout)?
            .ok_or_else(|| timed_out("did not answer"))
    }

    /// After a failed send: the error the broker said before it closed the connection (a
    /// refused connection is answered `ERROR_NO_SYSTEM_RESOURCES` and closed at once), if
    /// it is there.
    pub(crate) fn parting_error(&mut self) -> Option<Win32Error> {
        match self.recv(Some(Duration::ZERO)) {
            Ok(Some((Reply::Error(e), _))) => Some(e),
            _ => None,
        }
    }

    /// The next reply and its descriptors; `Ok(None)` when `timeout` passed first (`None`
    /// blocks). End of stream is `UnexpectedEof`.
    pub(crate) fn recv(
        &mut self,
        timeout: Option<Duration>,
    ) -> std::io::Result<Option<(Reply, Vec<OwnedFd>)>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(r) = self.decode()? {
                return Ok(Some(r));
            }
            if !self.wait_readable(deadline)? {
                return Ok(None);
            }
            self.fill()?;
        }
    }

    fn decode(&mut self) -> std::io::Result<Option<(Reply, Vec<OwnedFd>)>> {
        let Some((frame, used)) =
            decode_frame(&self.buf).map_err(|e| protocol_error(&e.to_string()))?
        else {
            return Ok(None);
        };
        let reply = Reply::decode(frame).map_err(|e| protocol_error(&e.to_string()))?;
        self.buf.drain(..used);
        let mut fds = Vec::new();
        let count = reply.fd_count();
        if count > 0 {
            if self.fds.len() < count {
                return Err(protocol_error("descriptors missing"));
            }
            fds.extend(self.fds.drain(..count));
        }
        Ok(Some((reply, fds)))
    }

    fn wait_readable(&self, deadline: Option<Instant>) -> std::io::Result<bool> {
        loop {
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let ts = remaining.map(|r| rustix::event::Timespec {
                tv_sec: r.as_secs() as i64,
                tv_nsec: r.subsec_nanos().into(),
            });
            let mut pfd = [PollFd::new(&self.stream, PollFlags::IN)];
            match poll(&mut pfd, ts.as_ref()) {
                Ok(0) => {
                    if remaining.is_some_and(|r| r.is_zero()) {
                        return Ok(false);
                    }
                }
                Ok(_) => return Ok(true),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
        }
    }

    fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 8192];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(8))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let n = loop {
            match rustix::net::recvmsg(
                &self.stream,
                &mut [IoSliceMut::new(&mut chunk)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            ) {
                Ok(r) => break r.bytes,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        };
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(fds) = msg {
                self.fds.extend(fds);
            }
        }
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "broker closed the connection",
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}
