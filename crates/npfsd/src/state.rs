//! The broker's shared state: the namespace plus what the runtime hangs on it (the control
//! channel of every instance, the reply slot of every pending wait, connection counters).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use npfs_core::namespace::{InstanceId, Namespace, WaiterId};
use npfs_core::Win32Error;
use npfs_proto::broker::Reply;
use tokio::sync::{mpsc, oneshot, Notify};

/// Most connections one user may hold open to the broker.
pub const MAX_CONNS_PER_UID: usize = 16384;
/// Most connections the broker serves at once.
pub const MAX_CONNS: usize = 32768;

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
    /// Reply slot of each pending wait.
    pub waiters: HashMap<WaiterId, oneshot::Sender<Result<(), Win32Error>>>,
    /// Open client connections, in total and per uid.
    pub conns: usize,
    conns_per_uid: HashMap<u32, usize>,
    next_conn_id: u64,
    start: Instant,
}

/// The broker's security settings, fixed at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Members of these groups are Administrators (BA) in access checks.
    pub admin_gids: Vec<u32>,
}

/// The state shared by all tasks.
#[derive(Debug, Clone)]
pub struct Shared {
    inner: Arc<Mutex<Broker>>,
    /// Wakes the timer task when a new deadline may be earlier.
    pub timer: Arc<Notify>,
    /// The security settings.
    pub policy: Arc<Policy>,
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
                waiters: HashMap::new(),
                conns: 0,
                conns_per_uid: HashMap::new(),
                next_conn_id: seed,
                start: Instant::now(),
            })),
            timer: Arc::new(Notify::new()),
            policy: Arc::new(policy),
        }
    }

    /// Lock the state (never held across an await). A poisoned lock is taken over: every
    /// mutation keeps the namespace consistent before it can panic.
    pub fn lock(&self) -> MutexGuard<'_, Broker> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
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
        rx
    }

    /// Remove an instance and its channel: the server closed it, or it cannot be reached.
    /// Dropping the channel's sender ends the channel's task (its socket closes). Unknown ids
    /// are ignored.
    pub fn evict(&mut self, instance: InstanceId) {
        self.ns.close_instance(instance);
        self.channels.remove(&instance);
    }

    /// Hand every finished wait to its waiting connection.
    pub fn dispatch_waits(&mut self) {
        while let Some(c) = self.ns.poll_wait_completion() {
            if let Some(tx) = self.waiters.remove(&c.waiter) {
                let _ = tx.send(c.result);
            }
        }
    }

    /// Count a new connection of `uid`; `false` when a cap is reached.
    pub fn admit(&mut self, uid: u32) -> bool {
        let per_uid = self.conns_per_uid.entry(uid).or_insert(0);
        if self.conns >= MAX_CONNS || *per_uid >= MAX_CONNS_PER_UID {
            return false;
        }
        *per_uid += 1;
        self.conns += 1;
        true
    }

    /// Forget a connection counted by [`Broker::admit`].
    pub fn release(&mut self, uid: u32) {
        self.conns -= 1;
        if let Some(n) = self.conns_per_uid.get_mut(&uid) {
            *n -= 1;
            if *n == 0 {
                self.conns_per_uid.remove(&uid);
            }
        }
    }

    /// Nothing to serve: no connections, pipes or waiters.
    pub fn is_idle(&self) -> bool {
        self.conns == 0 && self.ns.is_idle()
    }
}
