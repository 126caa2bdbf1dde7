//! One thread per process that watches the liveness sockets of every connection (and the
//! control channels of server instances) held here, and reacts when the other side hangs
//! up: a crashed or closed peer moves the connection to CLOSING at once, a dead broker makes
//! live instances register again. It also watches, through pidfds, the other processes that
//! have operations pending in a queue this process waits on (a sibling holding the same end
//! by inheritance, say): when one exits, what it left pending is reaped and the waiters woken,
//! so that no wait has to wake up now and then to look for dead processes.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, Weak};

use rustix::event::epoll;

/// Something the watcher tells about a hang-up.
pub(crate) trait Watched: Send + Sync {
    /// The watched descriptor's peer hung up.
    fn hung_up(&self);
    /// Process `pid`, watched with [`watch_pid`], exited.
    fn process_exited(&self, _pid: u32) {}
}

/// What a token stands for: the item to tell, and the pidfd the watcher owns for a process
/// watch (closed once it fired or was withdrawn).
struct Item {
    item: Weak<dyn Watched>,
    pidfd: Option<OwnedFd>,
    /// The process a process watch stands for.
    pid: Option<u32>,
}

type Items = Arc<Mutex<HashMap<u64, Item>>>;

struct Watcher {
    pid: u32,
    epfd: Arc<OwnedFd>,
    items: Items,
    next: u64,
}

static WATCHER: Mutex<Option<Watcher>> = Mutex::new(None);

fn run(epfd: Arc<OwnedFd>, items: Items) {
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
            if let Some(it) = item {
                if let Some(fd) = &it.pidfd {
                    let _ = epoll::delete(&*epfd, fd);
                }
                if let Some(w) = it.item.upgrade() {
                    match it.pid {
                        Some(pid) => w.process_exited(pid),
                        None => w.hung_up(),
                    }
                }
            }
        }
    }
}

/// Watch `fd` (a socket) and call `item.hung_up()` once when its peer goes away. Returns a
/// token for [`unwatch`].
pub(crate) fn watch(fd: BorrowedFd<'_>, item: Weak<dyn Watched>) -> Option<u64> {
    let flags = epoll::EventFlags::RDHUP | epoll::EventFlags::ONESHOT;
    add(fd, item, None, flags)
}

/// Watch process `pid` and call `item.hung_up()` once when it exits (at once if it is gone
/// already). Returns a token for [`unwatch_pid`], or None when the process cannot be watched.
pub(crate) fn watch_pid(pid: u32, item: Weak<dyn Watched>) -> Option<u64> {
    let p = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
    let fd = rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()?;
    // A pidfd is readable once the process has exited.
    let flags = epoll::EventFlags::IN | epoll::EventFlags::ONESHOT;
    let token = add(fd.as_fd(), item, Some(pid), flags)?;
    // The watcher owns the pidfd from now on (closing it also takes it out of the epoll set).
    // Should the process have exited already, the event may have been handled meanwhile:
    // then the entry is gone and the pidfd is simply closed here.
    let guard = WATCHER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(w) = guard.as_ref() {
        if let Some(it) = w
            .items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&token)
        {
            it.pidfd = Some(fd);
        }
    }
    Some(token)
}

/// Stop watching a process (registered with `token`).
pub(crate) fn unwatch_pid(token: u64) {
    let guard = WATCHER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(w) = guard.as_ref() {
        if w.pid == crate::sys::my_pid() {
            let it = w
                .items
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&token);
            if let Some(fd) = it.and_then(|it| it.pidfd) {
                let _ = epoll::delete(&*w.epfd, &fd);
            }
        }
    }
}

fn add(
    fd: BorrowedFd<'_>,
    item: Weak<dyn Watched>,
    watched_pid: Option<u32>,
    flags: epoll::EventFlags,
) -> Option<u64> {
    let mut guard = WATCHER.lock().unwrap_or_else(|e| e.into_inner());
    let pid = crate::sys::my_pid();
    if guard.as_ref().is_none_or(|w| w.pid != pid) {
        // First use in this process (or in a forked child, which must not share the
        // parent's epoll set): start a watcher.
        let epfd = Arc::new(epoll::create(epoll::CreateFlags::CLOEXEC).ok()?);
        let items: Items = Arc::default();
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
    w.items.lock().unwrap_or_else(|e| e.into_inner()).insert(
        token,
        Item {
            item,
            pidfd: None,
            pid: watched_pid,
        },
    );
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
