//! How the async API waits: the engine's operations are stepped in poll functions, and a
//! pending step is woken by the connection's doorbell (changes made by the other end, in
//! any process), by this process's local wakers (changes made here), by the watcher thread
//! (a crashed peer, an exited process that left something pending), or — only while another
//! process holds the same end, whose changes announce nothing here — by a periodic re-check.

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;
use npfs_core::Win32Error;

use crate::conn::Conn;
use crate::engine::{ReadOp, Step, TransactOp, WaitOn, WriteOp};
use crate::pipe::Link;

/// Re-check period of a waiter whose end is also held by another process (whose changes
/// ring no doorbell here); no other waiter re-checks.
pub(crate) const SHARED_RECHECK: Duration = Duration::from_millis(50);

/// One connection as the async API uses it: the link and the doorbell's registration.
pub(crate) struct LinkIo {
    pub(crate) link: Arc<Link>,
    afd: AsyncFd<OwnedFd>,
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
        Ok(Arc::new(LinkIo { link, afd }))
    }

    pub(crate) fn conn(&self) -> &Conn {
        &self.link.conn
    }
}

type BoxFut = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The waiting state of one pending operation (or one poll-based consumer).
#[derive(Default)]
pub(crate) struct Waiter {
    armed: Option<Arc<LinkIo>>,
    bell: Option<(Arc<LinkIo>, BoxFut)>,
    tick: Option<u64>,
    /// The ticker generation this waiter's task is registered for (once per generation).
    registered: Option<u64>,
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
        self.tick = None;
        self.registered = None;
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
        if !self.bell.as_ref().is_some_and(|(b, _)| Arc::ptr_eq(b, io)) {
            let io2 = io.clone();
            let fut: BoxFut = Box::pin(async move {
                match io2.afd.readable().await {
                    Ok(mut g) => g.clear_ready(),
                    // No reactor any more: rely on the re-check.
                    Err(_) => std::future::pending::<()>().await,
                }
            });
            self.bell = Some((io.clone(), fut));
        }
        if let Some((_, bell)) = &mut self.bell {
            if bell.as_mut().poll(cx).is_ready() {
                self.bell = None;
                conn.drain_doorbell();
                self.disarm();
                return Poll::Ready(());
            }
        }
        // Changes made by the other end ring the doorbell, changes made here wake the local
        // wakers, a crashed peer or an exited sibling is announced by the watcher thread.
        // Only changes made by another process holding this same end (an inherited handle)
        // announce nothing here: while the end is shared, the waiter re-checks on the ticker.
        if !conn.end_shared() {
            self.tick = None;
            self.registered = None;
            return Poll::Pending;
        }
        match self.tick {
            Some(start) if ticker::epoch() > start => {
                self.tick = None;
                self.disarm();
                conn.recheck();
                return Poll::Ready(());
            }
            Some(_) => {}
            None => self.tick = Some(ticker::epoch()),
        }
        let generation = ticker::epoch();
        if self.registered != Some(generation) {
            self.registered = Some(generation);
            ticker::register(cx.waker());
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

/// The bounded fallback: a process-wide ticker that wakes every registered waiter each
/// [`SHARED_RECHECK`]; waiters look at the epoch to decide whether to re-check.
pub(crate) mod ticker {
    use super::*;

    struct State {
        pid: u32,
        waiting: Vec<Waker>,
    }

    static EPOCH: AtomicU64 = AtomicU64::new(0);
    static STATE: Mutex<Option<State>> = Mutex::new(None);
    static CV: Condvar = Condvar::new();

    pub(crate) fn epoch() -> u64 {
        EPOCH.load(Ordering::Acquire)
    }

    /// Wake `w` at the next tick.
    pub(crate) fn register(w: &Waker) {
        let mut g = STATE.lock().unwrap_or_else(|e| e.into_inner());
        let pid = crate::sys::my_pid();
        if g.as_ref().is_none_or(|s| s.pid != pid) {
            // First use in this process (or in a forked child): start the ticker.
            if std::thread::Builder::new()
                .name("npfs-ticker".into())
                .spawn(run)
                .is_err()
            {
                return;
            }
            *g = Some(State {
                pid,
                waiting: Vec::new(),
            });
        }
        if let Some(s) = g.as_mut() {
            // Each waiter registers once per generation (see `Waiter::registered`).
            s.waiting.push(w.clone());
        }
        CV.notify_one();
    }

    fn run() {
        let me = crate::sys::my_pid();
        loop {
            let mut g = STATE.lock().unwrap_or_else(|e| e.into_inner());
            while g
                .as_ref()
                .is_some_and(|s| s.pid == me && s.waiting.is_empty())
            {
                g = CV.wait(g).unwrap_or_else(|e| e.into_inner());
            }
            if g.as_ref().is_none_or(|s| s.pid != me) {
                return;
            }
            drop(g);
            std::thread::sleep(SHARED_RECHECK);
            EPOCH.fetch_add(1, Ordering::AcqRel);
            let wakers = {
                let mut g = STATE.lock().unwrap_or_else(|e| e.into_inner());
                g.as_mut()
                    .map(|s| std::mem::take(&mut s.waiting))
                    .unwrap_or_default()
            };
            for w in wakers {
                w.wake();
            }
        }
    }
}
