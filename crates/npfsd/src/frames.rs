//! Reading request frames from a peer: a frame is taken from the socket only once all of it
//! has arrived, and a peer that started one must finish it within [`FRAME_DEADLINE`].
//!
//! Until a frame is complete its bytes stay in the kernel, in the peer's socket, charged to
//! the *sender's* socket buffer: the broker holds at most the first
//! [`FRAME_HEADER`]` + 1` bytes of a frame in progress (its length and version, checked as soon
//! as they arrive, so a hostile length is refused before anything else is read), and a whole
//! frame (at most [`FRAME_HEADER`]` + `[`MAX_FRAME`] bytes) only while it is decoded. Two
//! thousand peers each holding a 64 KiB partial frame therefore cost the broker nothing but
//! their connections. A frame of the largest size fits in a Unix socket's default buffer
//! (`net.core.wmem_default`, 208 KiB); the library raises its own send buffer to hold two.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use npfs_proto::broker::{decode_frame, ProtoError, Request, FRAME_HEADER, MAX_FRAME};
use rustix::io::Errno;
use rustix::net::RecvFlags;
use tokio::io::Interest;
use tokio::net::UnixStream;

use crate::conn::ConnError;

/// How long a peer has, from the first byte of a frame, to send the rest of it; then the
/// connection is dropped. A connection with no partial frame may stay idle for as long as it
/// likes (only the number of connections is capped, [`crate::state::Limits`]).
pub const FRAME_DEADLINE: Duration = Duration::from_secs(5);

/// The bytes of a frame read before the rest has arrived: its length and its version.
const HEAD: usize = FRAME_HEADER + 1;

/// What [`FrameReader::pull`] found.
enum Pulled {
    /// `buf` holds one whole frame.
    Frame,
    /// The peer closed its end.
    Eof,
}

/// Reads request frames from a stream; cancel-safe (what was read stays in the reader).
#[derive(Debug, Default)]
pub struct FrameReader {
    /// The current frame as far as it was read: at most [`HEAD`] bytes while the frame
    /// arrives, then all of it.
    buf: Vec<u8>,
    /// When the first byte of the current frame was read.
    started: Option<Instant>,
}

impl FrameReader {
    /// The next request, or `None` at a clean end of stream.
    ///
    /// # Errors
    ///
    /// Malformed input, a stream ending inside a frame, a frame not completed within
    /// [`FRAME_DEADLINE`] ([`ConnError::FrameDeadline`]), or a socket error.
    pub async fn next(&mut self, stream: &UnixStream) -> Result<Option<Request>, ConnError> {
        loop {
            let ready = match self.started {
                None => stream.ready(Interest::READABLE).await?,
                // Boxed: only a connection in the middle of a frame carries a timer.
                Some(t) => Box::pin(tokio::time::timeout_at(
                    (t + FRAME_DEADLINE).into(),
                    stream.ready(Interest::READABLE),
                ))
                .await
                .map_err(|_| ConnError::FrameDeadline)??,
            };
            // A frame that is not complete yet reports WouldBlock, which clears the
            // readiness: the next bytes to arrive wake this task again.
            match stream.try_io(Interest::READABLE, || self.pull(stream.as_fd())) {
                Ok(Ok(Pulled::Frame)) => {
                    let frame = std::mem::take(&mut self.buf);
                    self.started = None;
                    let Some((f, _)) = decode_frame(&frame)? else {
                        return Err(ProtoError::Truncated.into());
                    };
                    return Ok(Some(Request::decode(f)?));
                }
                Ok(Ok(Pulled::Eof)) if self.started.is_none() => return Ok(None),
                Ok(Ok(Pulled::Eof)) => return Err(ProtoError::Truncated.into()),
                Ok(Err(e)) => return Err(e.into()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if ready.is_read_closed() && self.started.is_some() {
                        // The peer is gone and the rest of the frame with it.
                        return Err(ProtoError::Truncated.into());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Read what can be read without waiting: the frame's head, then — once the socket holds
    /// the rest of the frame — the rest. `WouldBlock` when the frame is not complete yet.
    fn pull(&mut self, fd: BorrowedFd<'_>) -> std::io::Result<Result<Pulled, ProtoError>> {
        loop {
            if self.buf.len() < HEAD {
                let mut head = [0u8; HEAD];
                let want = HEAD - self.buf.len();
                let n = recv(fd, &mut head[..want])?;
                if n == 0 {
                    return Ok(Ok(Pulled::Eof));
                }
                self.started.get_or_insert_with(Instant::now);
                self.buf.extend_from_slice(&head[..n]);
                // Length and version are refused as soon as they are there.
                if let Err(e) = decode_frame(&self.buf) {
                    return Ok(Err(e));
                }
                continue;
            }
            let len = u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
            let total = FRAME_HEADER + (len as usize).min(MAX_FRAME);
            let have = self.buf.len();
            if have >= total {
                return Ok(Ok(Pulled::Frame));
            }
            let queued = usize::try_from(rustix::io::ioctl_fionread(fd)?).unwrap_or(usize::MAX);
            if queued < total - have {
                return Err(std::io::ErrorKind::WouldBlock.into());
            }
            self.buf.resize(total, 0);
            let n = match recv(fd, &mut self.buf[have..]) {
                Ok(n) => n,
                Err(e) => {
                    self.buf.truncate(have);
                    return Err(e);
                }
            };
            self.buf.truncate(have + n);
            if n == 0 {
                return Ok(Ok(Pulled::Eof));
            }
        }
    }
}

/// `recv(MSG_DONTWAIT)`, retried on `EINTR`. Descriptors a peer attaches are discarded by the
/// kernel (no control buffer).
fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match rustix::net::recv(fd, &mut *buf, RecvFlags::DONTWAIT) {
            Ok((n, _)) => return Ok(n),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
