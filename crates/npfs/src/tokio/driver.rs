//! How the async API waits: the engine's operations are stepped in poll functions, and a
//! pending step is woken by the connection's doorbell (changes made by the other end, in
//! any process), by this process's local wakers (changes made here), by the watcher thread
//! (a crashed peer, an exited process that left something pending), or — while another
//! process holds the same end — by the end's bell (that process's changes). No timer.

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;
use npfs_core::Win32Error;

use crate::conn::Conn;
use crate::conn::WaitOn;
use crate::engine::{ReadOp, Step, TransactOp, WriteOp};
use crate::pipe::Link;

/// One connection as the async API uses it: the link and the doorbell's registration.
pub(crate) struct LinkIo {
    pub(crate) link: Arc<Link>,
    afd: AsyncFd<OwnedFd>,
    /// The end's bell (a duplicate), registered the first time a waiter finds the end
    /// shared with another process.
    end_bell: OnceLock<AsyncFd<OwnedFd>>,
}

impl LinkIo {
    /// Register the connection socket (a duplicate) with the runtime's reactor.
    pub(crate) fn new(link: Arc<Link>) -> io::Result<Arc<LinkIo>> {
        let sock = link
            .conn
            .sock()
            .ok_or_else(|| io::Error::from(Win32Error::INVALID_HANDLE))?
            .try_clone()
            .map_err(crate::error::from_os)?;
        // SAFETY: the AsyncFd owns this descriptor (a duplicate) until it is dropped.
        let afd = unsafe { AsyncFd::register_with_interest(sock, Interest::READABLE) }
            .map_err(crate::error::from_os)?;
        Ok(Arc::new(LinkIo {
            link,
            afd,
            end_bell: OnceLock::new(),
        }))
    }

    pub(crate) fn conn(&self) -> &Conn {
        &self.link.conn
    }

    /// The end's bell with the runtime's reactor, registered now if need be; `None` when the
    /// end has no bell (it was never inherited) or it cannot be registered.
    fn end_bell(&self) -> Option<&AsyncFd<OwnedFd>> {
        if let Some(b) = self.end_bell.get() {
            return Some(b);
        }
        let fd = self.conn().end_bell()?.try_clone().ok()?;
        // SAFETY: the AsyncFd owns this descriptor (a duplicate) until it is dropped.
        let afd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.ok()?;
        Some(self.end_bell.get_or_init(|| afd))
    }
}

type BoxFut = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The waiting state of one pending operation (or one poll-based consumer).
#[derive(Default)]
pub(crate) struct Waiter {
    armed: Option<Arc<LinkIo>>,
    /// Waiting for the doorbell of this connection.
    bell: Option<(Arc<LinkIo>, BoxFut)>,
    /// Waiting for the end's bell (only while the end is shared).
    end_bell: Option<(Arc<LinkIo>, BoxFut)>,
}

/// A future that is ready at the next readiness of `afd` (of `io`), clearing it.
fn readiness(io: &Arc<LinkIo>, afd: fn(&LinkIo) -> Option<&AsyncFd<OwnedFd>>) -> BoxFut {
    let io = io.clone();
    Box::pin(async move {
        match afd(&io) {
            Some(fd) => match fd.readable().await {
                Ok(mut g) => g.clear_ready(),
                // No reactor any more: nothing can wake this wait.
                Err(_) => std::future::pending::<()>().await,
            },
            None => std::future::pending::<()>().await,
        }
    })
}

/// Poll the wait `slot` holds for `io` (making it with `make` if it is for another link):
/// true when it fired (the slot is empty again).
fn fired(
    slot: &mut Option<(Arc<LinkIo>, BoxFut)>,
    io: &Arc<LinkIo>,
    make: impl FnOnce() -> BoxFut,
    cx: &mut Context<'_>,
) -> bool {
    if !slot.as_ref().is_some_and(|(b, _)| Arc::ptr_eq(b, io)) {
        *slot = Some((io.clone(), make()));
    }
    let ready = slot
        .as_mut()
        .is_some_and(|(_, fut)| fut.as_mut().poll(cx).is_ready());
    if ready {
        *slot = None;
    }
    ready
}

impl Waiter {
    /// Undo the arming of the last wait (call before stepping again).
    pub(crate) fn disarm(&mut self) {
        if let Some(io) = self.armed.take() {
            io.conn().disarm_async();
        }
    }

    /// Forget everything (the operation completed).
    pub(crate) fn reset(&mut self) {
        self.disarm();
        self.bell = None;
        self.end_bell = None;
    }

    /// After a step said `Wait(on)`: `Ready` means step again now, `Pending` that the task
    /// will be woken when something may have changed.
    pub(crate) fn poll_wait(
        &mut self,
        io: &Arc<LinkIo>,
        on: WaitOn,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        self.poll_wait2(io, on, None, cx)
    }

    /// [`Waiter::poll_wait`] for a change of either of two counters.
    pub(crate) fn poll_wait2(
        &mut self,
        io: &Arc<LinkIo>,
        on: WaitOn,
        also: Option<WaitOn>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        self.disarm();
        let conn = io.conn();
        if !conn.arm_async(on, cx.waker()) {
            conn.disarm_async();
            return Poll::Ready(());
        }
        self.armed = Some(io.clone());
        if let Some(also) = also {
            if conn.wait_on_now(also.dir) != also {
                self.disarm();
                return Poll::Ready(());
            }
        }
        if fired(&mut self.bell, io, || readiness(io, |l| Some(&l.afd)), cx) {
            conn.drain_doorbell();
            self.disarm();
            return Poll::Ready(());
        }
        // Changes made by the other end ring the doorbell, changes made here wake the local
        // wakers, a crashed peer or an exited sibling is announced by the watcher thread, and
        // changes made by another process holding this same end (an inherited handle) write
        // the end's bell, watched while the end is shared.
        if conn.end_shared() {
            if fired(
                &mut self.end_bell,
                io,
                || readiness(io, LinkIo::end_bell),
                cx,
            ) {
                self.disarm();
                return Poll::Ready(());
            }
        } else {
            self.end_bell = None;
        }
        Poll::Pending
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// An operation that CancelIoEx can cancel.
pub(crate) trait Cancel {
    fn cancel_op(&mut self, conn: &Conn);
}

impl Cancel for ReadOp {
    fn cancel_op(&mut self, conn: &Conn) {
        self.cancel(conn);
    }
}

impl Cancel for WriteOp {
    fn cancel_op(&mut self, conn: &Conn) {
        self.cancel(conn);
    }
}

impl Cancel for TransactOp {
    fn cancel_op(&mut self, conn: &Conn) {
        self.cancel(conn);
    }
}

/// An operation in flight: dropping it before it completed cancels it.
pub(crate) struct OpGuard<'a, O: Cancel> {
    pub(crate) conn: &'a Conn,
    pub(crate) op: O,
    pub(crate) done: bool,
}

impl<O: Cancel> Drop for OpGuard<'_, O> {
    fn drop(&mut self) {
        if !self.done {
            self.op.cancel_op(self.conn);
        }
    }
}

/// Step an operation until it completes.
pub(crate) async fn drive<T>(
    io: &Arc<LinkIo>,
    mut step: impl FnMut(&Conn) -> Step<T>,
) -> Result<T, Win32Error> {
    let mut w = Waiter::default();
    std::future::poll_fn(|cx| loop {
        w.disarm();
        match step(io.conn()) {
            Step::Done(r) => return Poll::Ready(r),
            Step::Wait(on) => {
                if w.poll_wait(io, on, cx).is_pending() {
                    return Poll::Pending;
                }
            }
        }
    })
    .await
}
