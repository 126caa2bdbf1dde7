//! The async operations of a client of a remote pipe (`\\HOST\pipe\NAME`, over SMB). The SMB
//! client underneath is synchronous, so each operation runs on tokio's blocking pool: one
//! pool thread per operation in flight on a remote handle (local pipes never do this). What
//! a remote handle cannot do — readiness (`ready`, `try_*`, `poll_*_ready`), PeekNamedPipe,
//! the process ids — fails with `ERROR_NOT_SUPPORTED` (docs/DEVIATIONS.md).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::tokio::io::ReadBuf;
use ::tokio::task::JoinHandle;
use npfs_core::Win32Error;

use super::to_io;
use crate::pipe::{PipeHandle, ReadOutcome};
use crate::remote::Kept;

/// What one SMB2 READ brought: the bytes, and whether the server said the message goes on.
type ReadResult = Result<(Vec<u8>, bool), Win32Error>;

/// The read and write state of a remote handle: a READ or WRITE in flight, and what a READ
/// brought that no read has taken yet. A READ cannot be cancelled (smbd), so one whose
/// future was dropped keeps running, and what it brings waits here for the next read of
/// either kind (`recv_msg` or the stream): no data is lost.
#[derive(Default)]
pub(crate) struct RemoteStream {
    read: Option<JoinHandle<ReadResult>>,
    staged: Kept,
    write: Option<JoinHandle<Result<usize, Win32Error>>>,
}

/// The largest READ the stream asks for at once (what smbd passes per read).
const STREAM_READ: usize = crate::remote::MAX_IO;

/// Run `f` on the blocking pool with a handle sharing `h`.
pub(crate) async fn run<T: Send + 'static>(
    h: &PipeHandle,
    f: impl FnOnce(&PipeHandle) -> Result<T, Win32Error> + Send + 'static,
) -> io::Result<T> {
    let h = h.shared();
    joined(::tokio::task::spawn_blocking(move || f(&h)).await)
}

fn joined<T>(r: Result<Result<T, Win32Error>, ::tokio::task::JoinError>) -> io::Result<T> {
    match r {
        Ok(r) => r.map_err(to_io),
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // The runtime is shutting down: the operation was cancelled.
            Err(_) => Err(to_io(Win32Error::OPERATION_ABORTED)),
        },
    }
}

/// WriteFile: one SMB2 WRITE.
pub(crate) async fn write_msg(h: &PipeHandle, data: &[u8]) -> io::Result<usize> {
    let data = data.to_vec();
    run(h, move |h| h.write(&data)).await
}

/// TransactNamedPipe: one FSCTL_PIPE_TRANSCEIVE.
pub(crate) async fn transact(
    h: &PipeHandle,
    request: &[u8],
    reply: &mut [u8],
) -> io::Result<ReadOutcome> {
    let (request, n) = (request.to_vec(), reply.len());
    let (data, outcome) = run(h, move |h| {
        let mut v = vec![0u8; n];
        let r = h.transact(&request, &mut v)?;
        v.truncate(r.len);
        Ok((v, r))
    })
    .await?;
    reply[..data.len()].copy_from_slice(&data);
    Ok(outcome)
}

/// A finished end of stream: the server closed (or disconnected) and everything was read.
fn is_eof(e: Win32Error) -> bool {
    matches!(
        e,
        Win32Error::BROKEN_PIPE | Win32Error::PIPE_NOT_CONNECTED | Win32Error::NO_DATA
    )
}

impl RemoteStream {
    /// Staged bytes, else the result of the READ in flight (started now for up to `len`
    /// bytes if none is): `Ready(Ok(None))` when bytes were staged by it, to be taken next;
    /// `Ready(Ok(Some(more)))` for an empty message.
    fn poll_fill(
        &mut self,
        h: &PipeHandle,
        cx: &mut Context<'_>,
        len: usize,
    ) -> Poll<io::Result<Option<bool>>> {
        let read = self.read.get_or_insert_with(|| {
            let h = h.shared();
            let len = len.min(crate::remote::MAX_IO);
            ::tokio::task::spawn_blocking(move || {
                let mut v = vec![0u8; len];
                let r = h.read(&mut v)?;
                v.truncate(r.len);
                Ok((v, r.more_data))
            })
        });
        let done = match Pin::new(read).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        self.read = None;
        match joined(done) {
            Ok((v, more)) if v.is_empty() => Poll::Ready(Ok(Some(more))),
            Ok((v, more)) => {
                self.staged.keep(&v, more);
                Poll::Ready(Ok(None))
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// ReadFile (`recv_msg`): staged bytes first, else one SMB2 READ of up to `buf.len()`
    /// bytes.
    pub(crate) fn poll_recv(
        &mut self,
        h: &PipeHandle,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<ReadOutcome>> {
        loop {
            if !self.staged.is_empty() {
                return Poll::Ready(Ok(self.staged.take(buf)));
            }
            match self.poll_fill(h, cx, buf.len()) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(Some(more_data))) => {
                    return Poll::Ready(Ok(ReadOutcome { len: 0, more_data }))
                }
                Poll::Ready(Ok(None)) => {}
            }
        }
    }

    /// AsyncRead: staged bytes first, else one SMB2 READ (of up to 65535 bytes); the end of
    /// the stream once the server closed.
    pub(crate) fn poll_read(
        &mut self,
        h: &PipeHandle,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.staged.is_empty() {
                let got = self.staged.take(buf.initialize_unfilled());
                buf.advance(got.len);
                return Poll::Ready(Ok(()));
            }
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            match self.poll_fill(h, cx, STREAM_READ) {
                Poll::Pending => return Poll::Pending,
                // An empty message reads as nothing: the stream goes on.
                Poll::Ready(Ok(Some(_))) => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(None)) => {}
                Poll::Ready(Err(e)) if npfs_win32(&e).is_some_and(is_eof) => {
                    return Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// AsyncWrite: the WRITE in flight's count when it completes, else a new WRITE of `data`.
    pub(crate) fn poll_write(
        &mut self,
        h: &PipeHandle,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let write = self.write.get_or_insert_with(|| {
            let (h, data) = (h.shared(), data.to_vec());
            ::tokio::task::spawn_blocking(move || h.write(&data))
        });
        let done = match Pin::new(write).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        self.write = None;
        Poll::Ready(joined(done))
    }

    /// `poll_flush` / `poll_shutdown`: the WRITE in flight, if any (SMB writes to a pipe are
    /// write-through: nothing else is buffered).
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(write) = self.write.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let done = match Pin::new(write).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        self.write = None;
        Poll::Ready(joined(done).map(|_| ()))
    }
}

fn npfs_win32(e: &io::Error) -> Option<Win32Error> {
    crate::Win32IoError::win32_error(e)
}
