//! One thread per process that watches the liveness sockets of every connection (and the
//! control channels of server instances) held here, and reacts when the other side hangs
//! up: a crashed or closed peer moves the connection to CLOSING at once, a dead broker makes
//! live instances register again.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, Weak};

use rustix::event::epoll;

/// Something the watcher tells about a hang-up.
pub(crate) trait Watched: Send + Sync {
    /// The watched descriptor's peer hung up.
    fn hung_up(&self);
}

struct Watcher {
    pid: u32,
    epfd: Arc<OwnedFd>,
    items: Arc<Mutex<HashMap<u64, Weak<dyn Watched>>>>,
    next: u64,
}

static WATCHER: Mutex<Option<Watcher>> = Mutex::new(None);

fn run(epfd: Arc<OwnedFd>, items: Arc<Mutex<HashMap<u64, Weak<dyn Watched>>>>) {
    let mut events = Vec::with_capacity(64);
    loop {
        events.clear();
        if epoll::wait(&*epfd, rustix::buffer::spare_capacity(&mut events), None).is_err() {
            continue;
        }
        for ev in events.iter() {
            let token = ev.data.u64();
            let item = items
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&token);
            if let Some(w) = item.and_then(|w| w.upgrade()) {
                w.hung_up();
            }
        }
    }
}

/// Watch `fd` (a socket) and call `item.hung_up()` once when its peer goes away. Returns a
/// token for [`unwatch`].
pub(crate) fn watch(fd: BorrowedFd<'_>, item: Weak<dyn Watched>) -> Option<u64> {
    let mut guard = WATCHER.lock().unwrap_or_else(|e| e.into_inner());
    let pid = crate::sys::my_pid();
    if guard.as_ref().is_none_or(|w| w.pid != pid) {
        // First use in this process (or in a forked child, which must not share the
        // parent's epoll set): start a watcher.
        let epfd = Arc::new(epoll::create(epoll::CreateFlags::CLOEXEC).ok()?);
        let items: Arc<Mutex<HashMap<u64, Weak<dyn Watched>>>> = Arc::default();
        let (e2, i2) = (epfd.clone(), items.clone());
        std::thread::Builder::new()
            .name("npfs-watcher".into())
            .spawn(move || run(e2, i2))
            .ok()?;
        *guard = Some(Watcher {
            pid,
            epfd,
            items,
            next: 1,
        });
    }
    let w = guard.as_mut()?;
    let token = w.next;
    w.next += 1;
    w.items
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(token, item);
    let flags = epoll::EventFlags::RDHUP | epoll::EventFlags::ONESHOT;
    if epoll::add(
        &*w.epfd,
        fd.as_fd(),
        epoll::EventData::new_u64(token),
        flags,
    )
    .is_err()
    {
        w.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&token);
        return None;
    }
    Some(token)
}

/// Stop watching `fd` (registered with `token`).
pub(crate) fn unwatch(fd: BorrowedFd<'_>, token: u64) {
    let guard = WATCHER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(w) = guard.as_ref() {
        if w.pid == crate::sys::my_pid() {
            let _ = epoll::delete(&*w.epfd, fd);
            w.items
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&token);
        }
    }
}
