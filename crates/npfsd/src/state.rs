//! The broker's shared state: the namespace plus what the runtime hangs on it (the control
//! channel of every instance, the reply slot of every pending wait, connection counters and
//! the caps they are held to: [`Limits`]).

use std::collections::{HashMap, HashSet};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use npfs_core::namespace::{InstanceId, Namespace, WaiterId};
use npfs_core::Win32Error;
use npfs_proto::broker::Reply;
use tokio::sync::{mpsc, oneshot, Notify};

/// Most connections the broker serves at once, whatever its descriptor limit (memory: an
/// idle connection costs the broker about 3 KiB, see docs/SECURITY.md).
pub const MAX_CONNS: usize = 32768;

/// A uid holding fewer connections than this may use the reserve ([`Limits::reserve`]).
pub const LIGHT_USER_CONNS: usize = 16;

/// Descriptors an open holds at most while it is in flight: both ends' descriptors
/// ([`npfs_proto::broker::CONN_FDS`] each) and the ones they are made from.
pub const FDS_PER_OPEN: usize = 4 * npfs_proto::broker::CONN_FDS;

/// The caps on connections and on opens in flight, derived from the broker's descriptor
/// limit (`RLIMIT_NOFILE`, read once the broker raised it to its hard limit) so that the
/// broker never runs out of descriptors because of its connections, and so that one or a
/// few users flooding it leave room for everyone else:
///
/// - `headroom = min(64 + nofile/16, nofile/2)` descriptors are never given to
///   connections: the listener, log, lock, epoll and the reserve descriptor, and the four
///   descriptors an open holds while it is in flight (socketpair, memfd and its duplicate);
/// - [`Limits::total`] `= min(nofile - headroom, MAX_CONNS)` connections at once;
/// - on a broker shared between users, one uid holds at most [`Limits::per_uid`] `= total/4`
///   of them (root is exempt); on a per-user broker only its user and root can connect and
///   the cap is `total`;
/// - the last [`Limits::reserve`] `= total/8` connections go only to root and to uids
///   holding fewer than [`LIGHT_USER_CONNS`] connections, so even four or more users at their
///   cap cannot lock out a user who needs a handful;
/// - at most [`Limits::opens`] `= max(headroom / (2 * FDS_PER_OPEN), 4)` opens are in
///   flight at once (half the headroom), [`Limits::opens_per_uid`] `= max(opens/4, 2)` per
///   uid on a shared broker; an open waits for a slot (at most [`OPEN_SLOT_WAIT`]).
///
/// | `RLIMIT_NOFILE` | total | per uid (shared) | reserve | opens in flight (per uid) |
/// |---|---|---|---|---|
/// | 524288 (systemd's hard limit) | 32768 | 8192 | 4096 | 1026 (256) |
/// | 20000 | 18686 | 4671 | 2335 | 41 (10) |
/// | 1024 | 896 | 224 | 112 | 4 (2) |
///
/// (opens for four descriptors per end, [`npfs_proto::broker::CONN_FDS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The descriptor limit the caps were derived from.
    pub nofile: u64,
    /// Most connections at once.
    pub total: usize,
    /// Most connections of one uid (root: no cap of its own).
    pub per_uid: usize,
    /// The last connections of `total`, kept for root and light users.
    pub reserve: usize,
    /// Most opens in flight.
    pub opens: usize,
    /// Most opens in flight of one uid.
    pub opens_per_uid: usize,
}

impl Limits {
    /// The caps for a descriptor limit of `nofile`; `shared` when the broker serves every
    /// user (`--shared`, `--system`).
    pub fn for_nofile(nofile: u64, shared: bool) -> Limits {
        let n = usize::try_from(nofile).unwrap_or(usize::MAX).min(1 << 24);
        let headroom = (64 + n / 16).min(n / 2);
        let total = (n - headroom).clamp(1, MAX_CONNS);
        let opens = (headroom / (2 * FDS_PER_OPEN)).max(4);
        Limits {
            nofile,
            total,
            per_uid: if shared { (total / 4).max(1) } else { total },
            reserve: total / 8,
            opens,
            opens_per_uid: if shared { (opens / 4).max(2) } else { opens },
        }
    }

    /// The caps for this process's current `RLIMIT_NOFILE` (no limit counts as the
    /// kernel's `nr_open` default, 1048576).
    pub fn current(shared: bool) -> Limits {
        let lim = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        Limits::for_nofile(lim.current.unwrap_or(1 << 20), shared)
    }
}

impl Default for Limits {
    /// The caps of a per-user broker with 1024 descriptors.
    fn default() -> Self {
        Limits::for_nofile(1024, false)
    }
}

/// Why [`Broker::admit`] refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// [`Limits::total`] connections are open.
    Total,
    /// The uid holds [`Limits::per_uid`] connections.
    PerUid,
    /// Only the reserve is left, and the uid is neither root nor a light user.
    Reserve,
}

/// [`Broker::admit`]'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Counted; serve it.
    Admitted,
    /// Refused; `first` when this starts an episode of refusals for this uid (log it once).
    Refused {
        /// Which cap.
        why: Refusal,
        /// The first refusal of this uid since it was last well below its caps.
        first: bool,
    },
}

/// Longest an open waits for a slot ([`Limits::opens`]) before it fails with
/// `ERROR_NO_SYSTEM_RESOURCES`.
pub const OPEN_SLOT_WAIT: Duration = Duration::from_secs(2);

/// An event pushed to an instance's control channel: a [`Reply::Connected`] and the server's
/// descriptors (socket end, memfd).
#[derive(Debug)]
pub struct Push {
    /// The frame to send.
    pub reply: Reply,
    /// The server's descriptors.
    pub fds: [OwnedFd; npfs_proto::broker::CONN_FDS],
    /// Fired once the frame and its descriptors are in the server's socket. Dropped unfired
    /// when the push could not be delivered (the channel ended or the write failed).
    pub delivered: oneshot::Sender<()>,
}

/// Everything behind the broker's lock.
#[derive(Debug)]
pub struct Broker {
    /// The namespace.
    pub ns: Namespace,
    /// Control channel of each instance.
    pub channels: HashMap<InstanceId, mpsc::UnboundedSender<Box<Push>>>,
    /// The control socket of each instance whose channel runs, to notice a server that is
    /// gone (its socket hung up) before the channel's task has run ([`State::evict_hung_up`]).
    pub channel_socks: HashMap<InstanceId, Arc<tokio::net::UnixStream>>,
    /// Reply slot of each pending wait.
    pub waiters: HashMap<WaiterId, oneshot::Sender<Result<(), Win32Error>>>,
    /// Open client connections, in total and per uid.
    pub conns: usize,
    conns_per_uid: HashMap<u32, usize>,
    /// Uids refused since they were last well below their caps (logged once).
    refusing: HashSet<u32>,
    /// Opens in flight, in total and per uid.
    opens: usize,
    opens_per_uid: HashMap<u32, usize>,
    /// The caps.
    pub limits: Limits,
    /// Notified (one permit) whenever an instance is created or removed: wakes the Samba
    /// endpoint's bookkeeping ([`crate::samba`]).
    pub pipes_changed: Arc<Notify>,
    next_conn_id: u64,
    start: Instant,
}

/// The broker's security settings, fixed at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Members of these groups are Administrators (BA) in access checks.
    pub admin_gids: Vec<u32>,
    /// The caps on connections and opens ([`Limits::current`] at start-up).
    pub limits: Limits,
    /// Serve remote clients through Samba (`--samba-np-dir`).
    pub samba: Option<crate::samba::SambaConfig>,
}

/// The state shared by all tasks.
#[derive(Debug, Clone)]
pub struct Shared {
    inner: Arc<Mutex<Broker>>,
    /// Wakes the timer task when a new deadline may be earlier.
    pub timer: Arc<Notify>,
    /// Notified (one permit) whenever a connection or an open in flight let go of its
    /// descriptors: wakes an accept loop that stopped at the descriptor limit.
    pub fd_freed: Arc<Notify>,
    /// A connection ended: the broker may have become idle (its idle exit looks).
    pub idle_check: Arc<Notify>,
    /// Notified (all waiters) when an open in flight ends: wakes opens waiting for a slot.
    pub open_slots: Arc<Notify>,
    /// The security settings.
    pub policy: Arc<Policy>,
    /// The next open's connection resources, made after the previous open was answered.
    pub spare: Arc<crate::resources::Spare>,
}

impl Shared {
    /// A fresh state with the default policy (no administrator groups but root).
    pub fn new() -> Shared {
        Shared::with_policy(Policy::default())
    }

    /// A fresh state with `policy`.
    pub fn with_policy(policy: Policy) -> Shared {
        // Connection ids differ across broker restarts: start from the wall clock.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_micros() as u64)
            << 8;
        Shared {
            inner: Arc::new(Mutex::new(Broker {
                ns: Namespace::new(),
                channels: HashMap::new(),
                channel_socks: HashMap::new(),
                waiters: HashMap::new(),
                conns: 0,
                conns_per_uid: HashMap::new(),
                refusing: HashSet::new(),
                opens: 0,
                opens_per_uid: HashMap::new(),
                limits: policy.limits,
                pipes_changed: Arc::new(Notify::new()),
                next_conn_id: seed,
                start: Instant::now(),
            })),
            timer: Arc::new(Notify::new()),
            fd_freed: Arc::new(Notify::new()),
            idle_check: Arc::new(Notify::new()),
            open_slots: Arc::new(Notify::new()),
            policy: Arc::new(policy),
            spare: Arc::default(),
        }
    }

    /// The caps on connections and opens.
    pub fn limits(&self) -> Limits {
        self.policy.limits
    }

    /// Lock the state (never held across an await). A poisoned lock is taken over: every
    /// mutation keeps the namespace consistent before it can panic.
    pub fn lock(&self) -> MutexGuard<'_, Broker> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A slot for an open in flight ([`Limits::opens`]); dropping it gives the slot back and
/// wakes whoever waits for one (and an accept loop stopped at the descriptor limit).
#[derive(Debug)]
pub struct OpenSlot {
    shared: Shared,
    uid: u32,
}

impl OpenSlot {
    /// Take a slot for an open of `uid`, waiting (woken when a slot is given back) at most
    /// [`OPEN_SLOT_WAIT`]; `None` when none came free in that time.
    pub async fn take(shared: &Shared, uid: u32) -> Option<OpenSlot> {
        let wait = async {
            loop {
                // Registered before the check, so a slot given back in between is not missed.
                let freed = shared.open_slots.notified();
                if shared.lock().begin_open(uid) {
                    return;
                }
                freed.await;
            }
        };
        tokio::time::timeout(OPEN_SLOT_WAIT, wait).await.ok()?;
        Some(OpenSlot {
            shared: shared.clone(),
            uid,
        })
    }
}

impl Drop for OpenSlot {
    fn drop(&mut self) {
        self.shared.lock().end_open(self.uid);
        self.shared.open_slots.notify_waiters();
        self.shared.fd_freed.notify_one();
    }
}

impl Default for Shared {
    fn default() -> Self {
        Shared::new()
    }
}

impl Broker {
    /// Milliseconds since the broker started: the namespace's clock.
    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// The instant of a namespace time.
    pub fn instant_of(&self, ms: u64) -> Instant {
        self.start + std::time::Duration::from_millis(ms)
    }

    /// A new broker-unique connection id.
    pub fn next_conn_id(&mut self) -> u64 {
        self.next_conn_id += 1;
        self.next_conn_id
    }

    /// Register the control channel of a new instance. Done under the same lock as the
    /// instance's creation, so that an instance in the namespace always has a channel to push
    /// to (pushes queue until the channel's task runs).
    pub fn register_channel(&mut self, instance: InstanceId) -> mpsc::UnboundedReceiver<Box<Push>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.channels.insert(instance, tx);
        self.pipes_changed.notify_one();
        rx
    }

    /// Remove an instance and its channel: the server closed it, or it cannot be reached.
    /// Dropping the channel's sender ends the channel's task (its socket closes). Unknown ids
    /// are ignored.
    pub fn evict(&mut self, instance: InstanceId) {
        self.ns.close_instance(instance);
        self.channels.remove(&instance);
        self.channel_socks.remove(&instance);
        self.pipes_changed.notify_one();
    }

    /// Evict the instances of pipe `key` whose server is gone: its control socket hung up
    /// (the process closed it or was killed) though the channel's task has not seen it yet.
    /// An open that found every instance busy calls this, so that a killed server's pipe is
    /// gone at once, as on Windows. Returns whether any was evicted.
    pub fn evict_hung_up(&mut self, key: &str) -> bool {
        use rustix::event::{poll, PollFd, PollFlags};
        use std::os::fd::AsFd;
        let mut gone = Vec::new();
        for info in self.ns.instance_states(key) {
            let Some(sock) = self.channel_socks.get(&info.id) else {
                continue;
            };
            let fd = sock.as_fd();
            let mut pfd = [PollFd::new(&fd, PollFlags::RDHUP)];
            let zero = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            if poll(&mut pfd, Some(&zero)).is_ok_and(|n| n > 0)
                && pfd[0]
                    .revents()
                    .intersects(PollFlags::RDHUP | PollFlags::HUP | PollFlags::ERR)
            {
                gone.push(info.id);
            }
        }
        for id in &gone {
            self.evict(*id);
        }
        !gone.is_empty()
    }

    /// Hand every finished wait to its waiting connection.
    pub fn dispatch_waits(&mut self) {
        while let Some(c) = self.ns.poll_wait_completion() {
            if let Some(tx) = self.waiters.remove(&c.waiter) {
                let _ = tx.send(c.result);
            }
        }
    }

    /// Count a new connection of `uid`, or refuse it at a cap ([`Limits`]).
    pub fn admit(&mut self, uid: u32) -> Admission {
        let l = self.limits;
        let mine = self.conns_per_uid.get(&uid).copied().unwrap_or(0);
        let why = if self.conns >= l.total {
            Some(Refusal::Total)
        } else if uid != 0 && mine >= l.per_uid {
            Some(Refusal::PerUid)
        } else if uid != 0 && mine >= LIGHT_USER_CONNS && self.conns >= l.total - l.reserve {
            Some(Refusal::Reserve)
        } else {
            None
        };
        if let Some(why) = why {
            let first = self.refusing.insert(uid);
            return Admission::Refused { why, first };
        }
        *self.conns_per_uid.entry(uid).or_insert(0) += 1;
        self.conns += 1;
        Admission::Admitted
    }

    /// Forget a connection counted by [`Broker::admit`]. A uid that was refused starts a
    /// new episode (is logged again) only once the broker fell to three quarters of its
    /// general pool and the uid to three quarters of its cap.
    pub fn release(&mut self, uid: u32) {
        self.conns = self.conns.saturating_sub(1);
        if let Some(n) = self.conns_per_uid.get_mut(&uid) {
            *n -= 1;
            if *n == 0 {
                self.conns_per_uid.remove(&uid);
            }
        }
        if !self.refusing.is_empty() {
            let l = self.limits;
            if self.conns <= (l.total - l.reserve) / 4 * 3 {
                let per_uid = &self.conns_per_uid;
                let calm = l.per_uid / 4 * 3;
                self.refusing
                    .retain(|u| per_uid.get(u).copied().unwrap_or(0) > calm);
            }
        }
    }

    /// Take a slot for an open in flight of `uid`; `false` when [`Limits::opens`] or
    /// [`Limits::opens_per_uid`] are taken.
    pub fn begin_open(&mut self, uid: u32) -> bool {
        let mine = self.opens_per_uid.get(&uid).copied().unwrap_or(0);
        if self.opens >= self.limits.opens || mine >= self.limits.opens_per_uid {
            return false;
        }
        self.opens += 1;
        *self.opens_per_uid.entry(uid).or_insert(0) += 1;
        true
    }

    /// Give back a slot taken by [`Broker::begin_open`].
    pub fn end_open(&mut self, uid: u32) {
        self.opens = self.opens.saturating_sub(1);
        if let Some(n) = self.opens_per_uid.get_mut(&uid) {
            *n -= 1;
            if *n == 0 {
                self.opens_per_uid.remove(&uid);
            }
        }
    }

    /// Nothing to serve: no connections, pipes or waiters.
    pub fn is_idle(&self) -> bool {
        self.conns == 0 && self.ns.is_idle()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_descriptor_limit() {
        for (nofile, shared) in [(524_288, true), (20_000, true), (1024, true), (1024, false)] {
            let l = Limits::for_nofile(nofile, shared);
            // Connections and opens in flight never need more descriptors than there are.
            assert!(l.total as u64 + (l.opens * FDS_PER_OPEN) as u64 + 16 < nofile);
            assert!(l.reserve > 0 && l.reserve < l.total);
            if shared {
                assert!(l.per_uid * 2 <= l.total - l.reserve, "two users leave room");
            }
        }
        let l = Limits::for_nofile(20_000, true);
        assert_eq!((l.total, l.per_uid, l.reserve), (18_686, 4671, 2335));
        assert_eq!(Limits::for_nofile(524_288, true).total, MAX_CONNS);
        // Tiny limits still leave something to serve.
        assert!(Limits::for_nofile(16, true).total >= 1);
        assert!(Limits::for_nofile(0, true).total >= 1);
    }

    #[test]
    fn caps_leave_room_for_others() {
        let shared = Shared::with_policy(Policy {
            admin_gids: Vec::new(),
            limits: Limits::for_nofile(1024, true),
            samba: None,
        });
        let mut b = shared.lock();
        let l = b.limits;
        let admit = |b: &mut Broker, uid| b.admit(uid) == Admission::Admitted;
        // One user reaches its cap; the refusal is reported once.
        for _ in 0..l.per_uid {
            assert!(admit(&mut b, 1000));
        }
        assert_eq!(
            b.admit(1000),
            Admission::Refused {
                why: Refusal::PerUid,
                first: true
            }
        );
        assert_eq!(
            b.admit(1000),
            Admission::Refused {
                why: Refusal::PerUid,
                first: false
            }
        );
        // More users fill the general pool; then only root and light users get in.
        let mut uid = 2000;
        while b.conns < l.total - l.reserve {
            if !admit(&mut b, uid) {
                uid += 1;
            }
        }
        assert!(matches!(
            b.admit(uid),
            Admission::Refused {
                why: Refusal::Reserve,
                ..
            }
        ));
        for _ in 0..LIGHT_USER_CONNS {
            assert!(admit(&mut b, 3000));
        }
        assert!(!admit(&mut b, 3000));
        assert!(admit(&mut b, 0));
        // Root alone can fill the rest, never beyond the total.
        while b.conns < l.total {
            assert!(admit(&mut b, 0));
        }
        assert_eq!(
            b.admit(0),
            Admission::Refused {
                why: Refusal::Total,
                first: true
            }
        );
        // Once well below the caps, a refused uid's next refusal is reported again.
        for _ in 0..l.total {
            let u = *b.conns_per_uid.keys().next().unwrap();
            b.release(u);
        }
        assert_eq!(b.conns, 0);
        assert!(b.refusing.is_empty());
    }

    #[test]
    fn open_slots() {
        let shared = Shared::with_policy(Policy {
            admin_gids: Vec::new(),
            limits: Limits::for_nofile(1024, true),
            samba: None,
        });
        let mut b = shared.lock();
        let l = b.limits;
        for _ in 0..l.opens_per_uid {
            assert!(b.begin_open(1));
        }
        assert!(!b.begin_open(1));
        let mut uid = 2;
        let mut taken = l.opens_per_uid;
        while taken < l.opens {
            if b.begin_open(uid) {
                taken += 1;
            } else {
                uid += 1;
            }
        }
        assert!(!b.begin_open(99));
        b.end_open(1);
        assert!(b.begin_open(99));
    }
}
