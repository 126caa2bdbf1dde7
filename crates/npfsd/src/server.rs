//! The broker's event loop: accept connections (with caps), run the waiter timer, exit when
//! idle or on SIGTERM/SIGINT.
//!
//! # At the descriptor limit
//!
//! accept(2) fails with `EMFILE`/`ENFILE` while the connection stays queued, so retrying at
//! once spins. The loop holds a *reserve descriptor* (`/dev/null`): at the limit it closes
//! it, accepts the pending connection, answers it `ERROR_NO_SYSTEM_RESOURCES` and closes it,
//! then reopens the reserve. When that does not work either (the reserve cannot be reopened),
//! it stops accepting until one of its descriptors is freed — a connection closes or an open
//! in flight ends ([`Shared::fd_freed`]) — or, at the latest, [`PAUSE_PROBE`] later. Each
//! episode is logged once, when it begins and when it ends.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener as StdUnixListener, UnixStream as StdUnixStream};
use std::time::{Duration, Instant};

use npfs_core::Win32Error;
use npfs_proto::broker::Reply;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::net::{SendFlags, SocketFlags};
use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::io::Interest;
use tokio::net::UnixListener;
use tracing::{debug, error, info, warn};

use crate::state::{Admission, Policy, Shared};

/// Run the broker on `listener` until it has been idle for `idle_exit` or a termination
/// signal arrives, with the default policy.
pub async fn run(listener: UnixListener, idle_exit: Duration) {
    run_with(listener, idle_exit, Policy::default()).await;
}

/// [`run`] with a security policy (`idle_exit` of `Duration::MAX`: never exit when idle).
pub async fn run_with(listener: UnixListener, idle_exit: Duration, policy: Policy) {
    let shared = Shared::with_policy(policy);
    // Accepted by hand (accept4 on the raw socket) so that the loop decides what to do at the
    // descriptor limit instead of retrying at once.
    let listener = match listener.into_std().and_then(|l| {
        // SAFETY: the AsyncFd owns the listener, so its descriptor stays open and the same
        // until the AsyncFd is dropped.
        unsafe { AsyncFd::register_with_interest(l, Interest::READABLE) }.map_err(Into::into)
    }) {
        Ok(l) => l,
        Err(e) => {
            error!("listener: {e}");
            return;
        }
    };
    tokio::spawn(timer(shared.clone()));
    if let Some(samba) = shared.policy.samba.clone() {
        tokio::spawn(crate::samba::run(shared.clone(), samba));
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    // Idle exit without a tick: the broker becomes idle only when a connection ends (pipes
    // and waiters belong to connections), which notifies `idle_check`; while idle it sleeps
    // until the idle time is up, and any accept ends the idle stretch.
    let mut idle_since: Option<Instant> = shared.lock().is_idle().then(Instant::now);
    let mut acceptor = Acceptor::new(shared.limits().nofile);
    loop {
        let paused = acceptor.paused;
        let probe = paused.unwrap_or_else(Instant::now);
        tokio::select! {
            ready = listener.readable(), if paused.is_none() => match ready {
                Ok(mut guard) => {
                    idle_since = None;
                    acceptor.accept_one(&mut guard, &shared);
                }
                Err(e) => {
                    error!("listener: {e}");
                    return;
                }
            },
            // Stopped at the descriptor limit: go on once a descriptor was freed.
            _ = shared.fd_freed.notified(), if paused.is_some() => acceptor.resume(),
            _ = tokio::time::sleep_until(probe.into()), if paused.is_some() => acceptor.resume(),
            _ = idle_wait(&shared, idle_since, idle_exit) => {
                if shared.lock().is_idle() {
                    let since = *idle_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= idle_exit {
                        info!("idle for {idle_exit:?}, exiting");
                        return;
                    }
                } else {
                    idle_since = None;
                }
            }
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {
                info!("SIGTERM, exiting");
                return;
            }
            _ = tokio::signal::ctrl_c() => {
                info!("SIGINT, exiting");
                return;
            }
        }
    }
}

/// What the idle exit waits for: while idle since `since`, the end of the idle time (never,
/// for `Duration::MAX`); otherwise a connection's end, which may make the broker idle.
async fn idle_wait(shared: &Shared, since: Option<Instant>, idle_exit: Duration) {
    match since {
        Some(since) => match since.checked_add(idle_exit) {
            Some(at) => tokio::time::sleep_until(at.into()).await,
            None => std::future::pending().await,
        },
        None => shared.idle_check.notified().await,
    }
}

/// While paused at the descriptor limit, try again after this long even without a freed
/// descriptor of ours: descriptors freed by other processes (ENFILE) or a raised limit
/// announce nothing.
pub const PAUSE_PROBE: Duration = Duration::from_secs(5);

/// Episodes of refusals at the descriptor limit closer than this are logged as one.
const EPISODE_GAP: Duration = Duration::from_secs(10);

/// The accept side of the loop: the reserve descriptor, and whether (and since when) the
/// broker is at its descriptor limit.
#[derive(Debug)]
struct Acceptor {
    /// An open `/dev/null`, closed to make room for one accept at the limit.
    reserve: Option<OwnedFd>,
    /// Stopped accepting; try again at this instant at the latest.
    paused: Option<Instant>,
    /// The current episode at the limit: when it began and how many connections were
    /// refused.
    episode: Option<(Instant, u64)>,
    /// When the last episode ended.
    last_end: Option<Instant>,
    nofile: u64,
}

impl Acceptor {
    fn new(nofile: u64) -> Acceptor {
        Acceptor {
            reserve: open_reserve(),
            paused: None,
            episode: None,
            last_end: None,
            nofile,
        }
    }

    /// Accept one connection (or learn there is none, or that the limit is reached).
    fn accept_one(&mut self, guard: &mut AsyncFdReadyGuard<'_, StdUnixListener>, shared: &Shared) {
        if self.reserve.is_none() {
            self.reserve = open_reserve();
        }
        match rustix::net::accept_with(
            guard.get_inner(),
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        ) {
            Ok(fd) => {
                self.end_episode();
                accept(fd, shared);
            }
            Err(Errno::AGAIN) => guard.clear_ready(),
            // The connection went away before we took it, or a signal: just go on.
            Err(Errno::INTR | Errno::CONNABORTED | Errno::PROTO) => {}
            // EMFILE, ENFILE, ENOBUFS, ENOMEM, or anything else that would fail again at
            // once.
            Err(e) => self.at_limit(e, guard),
        }
    }

    /// accept failed with `e` (descriptor limit and the like): refuse the pending connection
    /// through the reserve descriptor, else stop accepting until a descriptor is freed.
    fn at_limit(&mut self, e: Errno, guard: &mut AsyncFdReadyGuard<'_, StdUnixListener>) {
        let now = Instant::now();
        if self.episode.is_none() {
            let recent = self.last_end.is_some_and(|t| now - t < EPISODE_GAP);
            if recent {
                debug!("accept: {e}: at the descriptor limit again");
            } else {
                warn!(
                    nofile = self.nofile,
                    "accept: {e}: at the descriptor limit; new connections are refused \
                     (ERROR_NO_SYSTEM_RESOURCES) until descriptors are freed"
                );
            }
            self.episode = Some((now, 0));
        }
        if let Some(reserve) = self.reserve.take() {
            drop(reserve);
            let taken = rustix::net::accept_with(
                guard.get_inner(),
                SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            );
            self.reserve = match taken {
                Ok(fd) => {
                    refuse(fd.as_fd());
                    drop(fd);
                    if let Some((_, refused)) = &mut self.episode {
                        *refused += 1;
                    }
                    open_reserve()
                }
                Err(Errno::AGAIN) => {
                    // Nothing was pending: the readiness was stale (accept fails at the
                    // limit before it looks at the queue).
                    guard.clear_ready();
                    open_reserve()
                }
                Err(_) => open_reserve(),
            };
            if self.reserve.is_some() {
                return;
            }
        }
        self.paused = Some(now + PAUSE_PROBE);
    }

    /// A descriptor was freed (or the probe time came): accept again.
    fn resume(&mut self) {
        self.paused = None;
    }

    /// A connection was accepted normally: an episode at the limit is over once the reserve
    /// is back.
    fn end_episode(&mut self) {
        if self.reserve.is_none() {
            return;
        }
        if let Some((since, refused)) = self.episode.take() {
            info!(
                refused,
                "accepting connections again after {:.1} s at the descriptor limit",
                since.elapsed().as_secs_f64()
            );
            self.last_end = Some(Instant::now());
        }
    }
}

/// The reserve descriptor: `/dev/null`, read-only, close-on-exec.
fn open_reserve() -> Option<OwnedFd> {
    rustix::fs::open("/dev/null", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()
}

/// Tell a refused peer why (`ERROR_NO_SYSTEM_RESOURCES`, the answer to whatever it asks)
/// before its connection is closed; never blocks.
fn refuse(fd: BorrowedFd<'_>) {
    if let Ok(bytes) = Reply::Error(Win32Error::NO_SYSTEM_RESOURCES).encode() {
        let _ = rustix::net::send(fd, &bytes, SendFlags::DONTWAIT | SendFlags::NOSIGNAL);
    }
}

/// Admit one connection: identify the peer by SO_PEERCRED and SO_PEERGROUPS (never by
/// anything it sends), apply the caps ([`crate::state::Limits`]), spawn its task. A refused
/// peer is told `ERROR_NO_SYSTEM_RESOURCES`; each uid's refusals are logged once per episode.
fn accept(fd: OwnedFd, shared: &Shared) {
    let stream = match tokio::net::UnixStream::from_std(StdUnixStream::from(fd)) {
        Ok(s) => s,
        Err(e) => {
            debug!("register connection: {e}");
            return;
        }
    };
    let caller = match crate::creds::peer_caller(&stream, &shared.policy.admin_gids) {
        Ok(c) => c,
        Err(e) => {
            debug!("peer credentials: {e}");
            return;
        }
    };
    let peer = caller.identity;
    let admission = shared.lock().admit(peer.uid);
    if let Admission::Refused { why, first } = admission {
        if first {
            let l = shared.limits();
            warn!(
                pid = peer.pid,
                uid = peer.uid,
                ?why,
                total = l.total,
                per_uid = l.per_uid,
                reserve = l.reserve,
                "connection cap reached; refusing this uid's new connections (logged once)"
            );
        }
        refuse(stream.as_fd());
        return;
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        crate::conn::serve(stream, shared.clone(), caller).await;
        crate::conn::release_of(&shared, peer.uid);
    });
}

/// Time out waiters at their deadlines.
async fn timer(shared: Shared) {
    loop {
        let next = {
            let mut b = shared.lock();
            let now = b.now_ms();
            b.ns.expire(now);
            b.dispatch_waits();
            b.ns.next_deadline().map(|d| b.instant_of(d))
        };
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = shared.timer.notified() => {}
                }
            }
            None => shared.timer.notified().await,
        }
    }
}
