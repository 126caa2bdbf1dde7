//! Writing frames to a client, with descriptors attached through `SCM_RIGHTS`. A peer that
//! does not take what it is sent within [`WRITE_DEADLINE`] gets a `TimedOut` error (and its
//! connection is dropped), so a client that never reads cannot hold a task and the
//! descriptors it was about to receive.

use std::future::Future;
use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use tokio::io::Interest;
use tokio::net::UnixStream;

/// Longest a write to a peer may wait for room in its socket.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(5);

async fn within_deadline(write: impl Future<Output = std::io::Result<()>>) -> std::io::Result<()> {
    // Boxed: the timer stays out of the state of every task that may write, idle
    // connections included.
    Box::pin(tokio::time::timeout(WRITE_DEADLINE, write))
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the peer did not take its reply in time",
            ))
        })
}

/// Write all of `bytes`.
///
/// # Errors
///
/// The socket's error; `TimedOut` after [`WRITE_DEADLINE`].
pub async fn write_all(stream: &UnixStream, bytes: &[u8]) -> std::io::Result<()> {
    within_deadline(write_rest(stream, bytes)).await
}

async fn write_rest(stream: &UnixStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Write all of `bytes`, with `fds` attached to the first byte (`sendmsg` with
/// `SCM_RIGHTS`).
///
/// # Errors
///
/// The socket's error; `TimedOut` after [`WRITE_DEADLINE`].
pub async fn write_with_fds(
    stream: &UnixStream,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
) -> std::io::Result<()> {
    within_deadline(write_fds(stream, bytes, fds)).await
}

async fn write_fds(
    stream: &UnixStream,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
) -> std::io::Result<()> {
    let sent = stream
        .async_io(Interest::WRITABLE, || {
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
            let mut control = SendAncillaryBuffer::new(&mut space);
            if !control.push(SendAncillaryMessage::ScmRights(fds)) {
                return Err(std::io::Error::other("too many descriptors"));
            }
            rustix::net::sendmsg(
                stream,
                &[IoSlice::new(bytes)],
                &mut control,
                SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
            )
            .map_err(std::io::Error::from)
        })
        .await?;
    write_rest(stream, &bytes[sent..]).await
}
