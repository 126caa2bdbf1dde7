//! The completion driver of the Win32 C ABI: an operation that pends (an overlapped
//! ReadFile, WriteFile, TransactNamedPipe, FlushFileBuffers or ConnectNamedPipe) becomes a
//! task on one thread per process, which runs a tokio reactor and nothing else. A task sleeps
//! until what it waits for happens — the connection's doorbell (the other end changed
//! something), this process's local wakers (a change made here), the instance's control
//! channel or eventfd (a client pushed by the broker, DisconnectNamedPipe), its cancel token
//! (CancelIo, CancelIoEx, the handle's last close) — then steps the operation again and, once
//! it completed, hands the outcome to the C ABI, which writes the OVERLAPPED, sets the event,
//! posts the completion packet or queues the APC. No timer and no thread per operation: a
//! thousand pending reads are a thousand small tasks on this one thread.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, Weak};
use std::task::Poll;

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;
use ::tokio::runtime::{Builder, Handle};
use npfs_core::Win32Error;

use crate::ffi::{Finished, IoOp, RawBufs};
use crate::pipe::Link;
use crate::tokio::driver::{LinkIo, Waiter};

/// The driver of this process: its pid (a forked child starts its own) and the runtime.
static DRIVER: Mutex<Option<(u32, Handle)>> = Mutex::new(None);

/// The doorbell registrations the driver holds, one per connection, shared by the pending
/// operations on it (keyed by the link's address; an entry lives while an operation holds it).
type LinkIos = HashMap<usize, Weak<LinkIo>>;
static LINK_IOS: Mutex<Option<(u32, LinkIos)>> = Mutex::new(None);

fn driver() -> Result<Handle, Win32Error> {
    let mut g = DRIVER.lock().unwrap_or_else(|e| e.into_inner());
    let pid = crate::sys::my_pid();
    if let Some((p, h)) = g.as_ref() {
        if *p == pid {
            return Ok(h.clone());
        }
    }
    let rt = Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|_| Win32Error::NO_SYSTEM_RESOURCES)?;
    let handle = rt.handle().clone();
    std::thread::Builder::new()
        .name("npfs-completion".into())
        .spawn(move || rt.block_on(std::future::pending::<()>()))
        .map_err(|_| Win32Error::NO_SYSTEM_RESOURCES)?;
    // In a forked child the parent's runtime has no thread: its handle is let go of without
    // running any of its teardown.
    if let Some(old) = g.replace((pid, handle.clone())) {
        std::mem::forget(old);
    }
    Ok(handle)
}

/// The driver's doorbell registration for `link` (made once per connection, on the driver).
fn link_io(link: &Arc<Link>) -> Result<Arc<LinkIo>, Win32Error> {
    let key = Arc::as_ptr(link) as usize;
    let pid = crate::sys::my_pid();
    let mut g = LINK_IOS.lock().unwrap_or_else(|e| e.into_inner());
    if g.as_ref().is_none_or(|(p, _)| *p != pid) {
        *g = Some((pid, HashMap::new()));
    }
    let (_, map) = g.as_mut().expect("set above");
    if let Some(io) = map.get(&key).and_then(Weak::upgrade) {
        if Arc::ptr_eq(&io.link, link) {
            return Ok(io);
        }
    }
    let io = LinkIo::new(link.clone()).map_err(|_| Win32Error::NO_SYSTEM_RESOURCES)?;
    if map.len() >= 64 {
        map.retain(|_, w| w.strong_count() > 0);
    }
    map.insert(key, Arc::downgrade(&io));
    Ok(io)
}

/// Hand an operation that pended (its first [`IoOp::step`] gave `None`) to the process's
/// completion driver, which steps it whenever what it waits for happens, and calls `done` on
/// the driver's thread with the operation and its outcome. No thread per operation, no
/// timer.
///
/// # Safety
/// `bufs` describes valid buffers that stay alive and unaliased until `done` is called.
pub unsafe fn submit(
    mut op: IoOp,
    bufs: RawBufs,
    done: impl FnOnce(IoOp, Finished) + Send + 'static,
) -> Result<(), Win32Error> {
    let handle = driver()?;
    handle.spawn(async move {
        let finished = drive(&mut op, bufs).await;
        done(op, finished);
    });
    Ok(())
}

/// What a listening instance waits on: its control channel (a pushed client, the broker's
/// hang-up) under the registration id it belongs to, and its eventfd (another thread changed
/// the link).
struct ConnectWait {
    id: u64,
    channel: AsyncFd<OwnedFd>,
    wake: AsyncFd<OwnedFd>,
}

async fn drive(op: &mut IoOp, bufs: RawBufs) -> Finished {
    let mut waiter = Waiter::default();
    let mut link_reg: Option<Arc<LinkIo>> = None;
    let mut connect: Option<ConnectWait> = None;
    let mut tried_cancel = false;
    std::future::poll_fn(move |cx| loop {
        if op.token().is_cancelled() && !tried_cancel {
            tried_cancel = true;
            if op.cancel() {
                return Poll::Ready(Finished::Cancelled);
            }
        }
        waiter.disarm();
        // SAFETY: the C caller keeps the buffers alive and untouched until completion.
        if let Some(r) = unsafe { op.step(bufs) } {
            return Poll::Ready(Finished::Done(r));
        }
        // From here a cancel wakes this task.
        op.token().park_task(cx.waker());
        if op.token().is_cancelled() && !tried_cancel {
            continue;
        }
        // SAFETY: as for the step above.
        if let Some(p) = unsafe { op.poll_remote(cx, bufs) } {
            return p.map(Finished::Done);
        }
        if let Some(server) = op.connect_server() {
            let (id, channel) = match server.channel_fd() {
                Ok(c) => c,
                Err(e) => return Poll::Ready(Finished::Done(Err(e))),
            };
            if connect.as_ref().is_none_or(|c| c.id != id) {
                let wake = match server.wake_fd().try_clone() {
                    Ok(w) => w,
                    Err(_) => {
                        return Poll::Ready(Finished::Done(Err(Win32Error::NO_SYSTEM_RESOURCES)))
                    }
                };
                // SAFETY: each AsyncFd owns its descriptor (a duplicate) until it is dropped.
                let regs = unsafe {
                    (
                        AsyncFd::register_with_interest(channel, Interest::READABLE),
                        AsyncFd::register_with_interest(wake, Interest::READABLE),
                    )
                };
                match regs {
                    (Ok(channel), Ok(wake)) => connect = Some(ConnectWait { id, channel, wake }),
                    _ => return Poll::Ready(Finished::Done(Err(Win32Error::NO_SYSTEM_RESOURCES))),
                }
            }
            let c = connect.as_ref().expect("registered above");
            let mut moved = false;
            for fd in [&c.channel, &c.wake] {
                match fd.poll_read_ready(cx) {
                    Poll::Ready(Ok(mut g)) => {
                        g.clear_ready();
                        moved = true;
                    }
                    Poll::Ready(Err(_)) => {
                        return Poll::Ready(Finished::Done(Err(Win32Error::NO_SYSTEM_RESOURCES)))
                    }
                    Poll::Pending => {}
                }
            }
            if moved {
                continue;
            }
            return Poll::Pending;
        }
        let (Some(link), Some(on)) = (op.link(), op.waits_on()) else {
            return Poll::Ready(Finished::Done(Err(Win32Error::INVALID_HANDLE)));
        };
        if link_reg
            .as_ref()
            .is_none_or(|io| !Arc::ptr_eq(&io.link, link))
        {
            match link_io(link) {
                Ok(io) => link_reg = Some(io),
                Err(e) => return Poll::Ready(Finished::Done(Err(e))),
            }
        }
        let io = link_reg.as_ref().expect("registered above");
        if waiter.poll_wait(io, on, cx).is_pending() {
            return Poll::Pending;
        }
    })
    .await
}
