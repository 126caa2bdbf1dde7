//! A blocking frame socket to the broker: requests out, replies (with descriptors) in.

use std::collections::VecDeque;
use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use npfs_proto::broker::{decode_frame, Reply, Request, CONN_FDS};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendFlags};

use super::protocol_error;

/// One connection to the broker.
#[derive(Debug)]
pub(crate) struct FrameSocket {
    stream: UnixStream,
    buf: Vec<u8>,
    fds: VecDeque<OwnedFd>,
}

impl FrameSocket {
    pub(crate) fn new(stream: UnixStream) -> FrameSocket {
        FrameSocket {
            stream,
            buf: Vec::new(),
            fds: VecDeque::new(),
        }
    }

    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }

    /// Send one request. A broker that is gone is `BrokenPipe` (never `SIGPIPE`).
    pub(crate) fn send(&mut self, req: &Request) -> std::io::Result<()> {
        let bytes = req
            .encode()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            match rustix::net::send(&self.stream, rest, SendFlags::NOSIGNAL) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Bound how long [`FrameSocket::send`] may block (`None`: no bound).
    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        self.stream.set_write_timeout(t)
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
        if reply.carries_fds() {
            if self.fds.len() < CONN_FDS {
                return Err(protocol_error("descriptors missing"));
            }
            fds.extend(self.fds.drain(..CONN_FDS));
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
