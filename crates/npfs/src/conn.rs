//! One connection between a server instance and a client: the shared segment, the liveness
//! socket, and every data operation (ReadFile, WriteFile, PeekNamedPipe, TransactNamedPipe,
//! FlushFileBuffers, DisconnectNamedPipe) as steps of the sans-IO queue run under the
//! connection lock, with blocking waits on the segment's futexes.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::broker::ConnFds;
use npfs_core::config::{PipeAttributes, PipeType};
use npfs_core::queue::{OpId, PeekInfo, Queue, SharedQueue};
use npfs_core::Win32Error;

use crate::shm::{
    Segment, ShmRing, CLIENT_GONE, CLIENT_GONE_DRAINED, DISCONNECTED, SERVER_GONE,
    SERVER_GONE_DRAINED, TO_CLIENT, TO_SERVER,
};
use crate::sys;

/// Which end of the connection this process holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The end CreateNamedPipe returned.
    Server,
    /// The end CreateFile returned.
    Client,
}

/// State of a connection seen from one end (spec/api.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkState {
    /// Both ends open.
    Connected,
    /// The other end closed (FILE_PIPE_CLOSING_STATE).
    Closing,
    /// The server disconnected this connection.
    Disconnected,
}

/// What one end may do with the data (as the kernel enforces it on the rings, see
/// [`npfs_proto::shm`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DataRights {
    /// This end may write its outgoing direction (its ring is mapped writable).
    pub writes: bool,
    /// The other end may write the direction towards this one; if not, nothing in it is read.
    pub peer_writes: bool,
}

impl DataRights {
    /// The rights of `end`: a server's follow from the pipe's direction and, for what it
    /// reads, the client's access (`client_access`, 0 when not known); a client's from the
    /// direction and its own access (`client_access`).
    pub(crate) fn of(end: End, attrs: &PipeAttributes, client_access: u32) -> DataRights {
        use npfs_core::consts::FILE_WRITE_DATA;
        let dir = attrs.direction;
        let client_writes =
            dir.server_reads() && (client_access == 0 || client_access & FILE_WRITE_DATA != 0);
        match end {
            End::Server => DataRights {
                writes: dir.server_writes(),
                peer_writes: client_writes,
            },
            End::Client => DataRights {
                writes: client_writes,
                peer_writes: dir.server_writes(),
            },
        }
    }
}

/// Outcome of a PeekNamedPipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Peeked {
    pub info: PeekInfo,
    pub state: LinkState,
}

/// What a pending operation waits for: a change of direction `dir` of a connection after
/// `seq` (its change counter, which every change moves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WaitOn {
    /// The direction whose change counter to watch.
    pub dir: usize,
    /// Its value when the operation last looked, under the lock.
    pub seq: u32,
}

/// One connection.
pub(crate) struct Conn {
    seg: Segment,
    sock: Option<OwnedFd>,
    _shm: OwnedFd,
    _rings: [OwnedFd; 2],
    end: End,
    attrs: PipeAttributes,
    rights: DataRights,
    /// The incoming direction when the peer may not write it: a private queue in place of
    /// the shared one.
    silent_in: Option<Box<SharedQueue>>,
    /// Process ids recorded by the broker.
    pub server_pid: u32,
    /// Process id of the client that opened this connection.
    pub client_pid: u32,
    seen_close: AtomicU32,
    /// Current spin budget before sleeping, in ns (adaptive).
    spin_ns: AtomicU64,
    /// Sleeps since the budget dropped to zero (to probe again now and then).
    spin_probe: AtomicU32,
    /// When this process last looked for dead processes' pending operations (ms).
    last_reap: AtomicU64,
    /// Something was read on this end (ImpersonateNamedPipeClient needs it).
    read_any: std::sync::atomic::AtomicBool,
    /// Async tasks of this process waiting on this connection.
    local_wakers: std::sync::Mutex<Vec<std::task::Waker>>,
    /// Threads of this process blocked in [`Conn::wait_blocking`], per direction: kept here
    /// as well as in the shared header, so that a change made in this process wakes them
    /// whatever the peer wrote over the shared count.
    local_waiters: [AtomicU32; 2],
    /// The watcher saw the socket hang up: the next holder of the lock applies it.
    hangup_seen: std::sync::atomic::AtomicBool,
    /// The watcher saw a process with pending operations here exit: the next holder of the
    /// lock reaps what it left.
    reap_due: std::sync::atomic::AtomicBool,
    /// The connection's lock could not be had in time: it is never touched again.
    broken: std::sync::atomic::AtomicBool,
    /// This connection, for the watcher's process watches (set by its owner, see
    /// [`Conn::set_watched`]), and the process whose watcher watches its socket.
    me: std::sync::OnceLock<(std::sync::Weak<Conn>, u32)>,
    /// Other processes with operations pending here that the watcher watches for us: (pid,
    /// watcher token). Bounded: pids come from shared memory, which a peer may scribble.
    pid_watches: std::sync::Mutex<Vec<(u32, u64)>>,
    /// The *end bell*: an eventfd shared by every process that holds this end, made when the
    /// end is first inherited ([`Conn::end_bell_or_make`]) and passed on with it. A change
    /// made here while the end is shared and has async waiters writes it, which wakes the
    /// async waiters of the other holders (the doorbell only carries the other end's
    /// changes). Never read: each write is a new edge for every holder's epoll, and a read by
    /// one holder would take the readiness from the others.
    end_bell: std::sync::OnceLock<OwnedFd>,
}

/// Most processes one connection asks the watcher to watch (honest ones: the few that
/// inherited one of its ends).
const MAX_PID_WATCHES: usize = 16;

static NEXT_OP: AtomicU64 = AtomicU64::new(1);

/// Lock-hold snapshot used to decide whether waiters must be woken.
type Snapshot = [[u64; 6]; 2];

/// The connection lock, held.
pub(crate) struct Guard<'a> {
    conn: &'a Conn,
    before: Snapshot,
    touched: bool,
    /// The rings the current `Queue` views borrow.
    rings: [Option<ShmRing>; 2],
}

impl Guard<'_> {
    fn snapshot(conn: &Conn) -> Snapshot {
        let mut s = [[0; 6]; 2];
        for (dir, slot) in s.iter_mut().enumerate() {
            let p = conn.seg.queue_parts(dir).0.positions();
            *slot = [p.end, p.filled, p.assigned, p.freed, p.e_head, p.r_head];
        }
        s
    }

    /// The queue of direction `dir`.
    pub(crate) fn queue(&mut self, dir: usize) -> Queue<'_, ShmRing> {
        let quota = if dir == TO_CLIENT {
            self.conn.attrs.out_quota
        } else {
            self.conn.attrs.in_quota
        };
        let (shared, ring) = self.conn.seg.queue_parts(dir);
        let h = match &self.conn.silent_in {
            Some(private) if dir & 1 == self.conn.in_dir() => &**private,
            _ => shared,
        };
        let ring = self.rings[dir & 1].insert(ring);
        Queue::new(
            h,
            ring,
            quota,
            self.conn.attrs.pipe_type == PipeType::Message,
        )
    }

    pub(crate) fn flags(&self) -> u32 {
        self.conn.seg.header().flags.load(Ordering::Acquire)
    }

    /// What an operation on direction `dir` waits for, seen now (under the lock).
    pub(crate) fn wait_on(&self, dir: usize) -> WaitOn {
        let dir = dir & 1;
        WaitOn {
            dir,
            seq: self.conn.seg.header().seq[dir].load(Ordering::SeqCst),
        }
    }

    fn set_flags(&mut self, f: u32) {
        self.conn.seg.header().flags.fetch_or(f, Ordering::AcqRel);
        self.touched = true;
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let hdr = self.conn.seg.header();
        let after = Self::snapshot(self.conn);
        let mut wake = [false; 2];
        for dir in 0..2 {
            if self.touched || after[dir] != self.before[dir] {
                hdr.seq[dir].fetch_add(1, Ordering::SeqCst);
                wake[dir] = true;
            }
        }
        let changed = wake[0] || wake[1];
        if hdr.lock.swap(0, Ordering::Release) == 2 {
            sys::futex_wake_one(&hdr.lock);
        }
        for (dir, wake) in wake.into_iter().enumerate() {
            if wake
                && (hdr.waiters[dir].load(Ordering::SeqCst) > 0
                    || self.conn.local_waiters[dir].load(Ordering::SeqCst) > 0)
            {
                sys::futex_wake_all(&hdr.seq[dir]);
            }
        }
        if changed {
            self.conn.wake_async();
        }
    }
}

/// The spin policy of [`Conn::worth_spinning`]: spin for incoming data only, and only while
/// the peer was last seen waiting (`peer_cpu`, 1 + CPU, 0 unknown) on a CPU other than ours.
fn spin_pays(for_incoming: bool, my_cpu: u32, peer_cpu: u32) -> bool {
    for_incoming && peer_cpu != 0 && peer_cpu != my_cpu
}

/// How many times a lock waiter spins before it sleeps: a few on one CPU (the holder cannot
/// run meanwhile), many more where it may be running on another.
fn lock_spins() -> u32 {
    if sys::spin_max_ns() == 0 {
        64
    } else {
        20_000
    }
}

/// Least time between two rounds of liveness checks on one connection.
const REAP_INTERVAL_MS: u64 = 50;

/// How long a blocking waiter sleeps before it re-checks for a crashed peer, in the one case
/// where nothing announces it: a forked child (without exec) using a connection its parent
/// registered with the parent's watcher thread, which the child does not have.
const FORKED_RECHECK: Duration = Duration::from_millis(200);

/// Longest wait for the connection lock before the connection counts as broken: far above
/// any honest hold (one copy), short enough that a hostile peer holding it costs the
/// operation that noticed half a second.
pub(crate) const LOCK_DEADLINE: Duration = Duration::from_millis(500);

impl Conn {
    /// Note that a read completed on this end.
    pub(crate) fn mark_read(&self) {
        self.read_any.store(true, Ordering::Relaxed);
    }

    /// Whether a read completed on this end.
    pub(crate) fn has_read(&self) -> bool {
        self.read_any.load(Ordering::Relaxed)
    }

    /// The data ring of direction `dir` (for copies outside the lock of bytes a read claimed).
    pub(crate) fn ring(&self, dir: usize) -> ShmRing {
        self.seg.ring(dir)
    }

    /// A fresh operation id (unique in this process).
    pub(crate) fn new_op() -> OpId {
        OpId {
            pid: sys::my_pid(),
            seq: NEXT_OP.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Build a connection from the broker's descriptors, with this end's rights on the data.
    pub(crate) fn new(
        fds: ConnFds,
        end: End,
        attrs: PipeAttributes,
        server_pid: u32,
        client_pid: u32,
        reserved: bool,
        rights: DataRights,
    ) -> Result<Conn, Win32Error> {
        use std::os::fd::AsFd;
        let out_dir = if end == End::Server {
            TO_CLIENT
        } else {
            TO_SERVER
        };
        let seg = Segment::map(
            fds.shm.as_fd(),
            [fds.rings[0].as_fd(), fds.rings[1].as_fd()],
            rights.writes.then_some(out_dir),
        )?;
        let seen = seg.header().close_count.load(Ordering::Relaxed);
        if !reserved {
            seg.header().holders[end_index(end)].fetch_add(1, Ordering::AcqRel);
        }
        Ok(Conn {
            seg,
            sock: Some(fds.sock),
            _shm: fds.shm,
            _rings: fds.rings,
            end,
            attrs,
            server_pid,
            client_pid,
            rights,
            // Whatever a peer without write access puts in the shared memory of the
            // direction towards us is never read: that direction is a private, empty queue.
            silent_in: (!rights.peer_writes).then(Box::<SharedQueue>::default),
            seen_close: AtomicU32::new(seen),
            spin_ns: AtomicU64::new(sys::spin_max_ns()),
            spin_probe: AtomicU32::new(0),
            local_wakers: std::sync::Mutex::new(Vec::new()),
            local_waiters: [AtomicU32::new(0), AtomicU32::new(0)],
            hangup_seen: std::sync::atomic::AtomicBool::new(false),
            reap_due: std::sync::atomic::AtomicBool::new(false),
            read_any: std::sync::atomic::AtomicBool::new(false),
            last_reap: AtomicU64::new(0),
            broken: std::sync::atomic::AtomicBool::new(false),
            me: std::sync::OnceLock::new(),
            pid_watches: std::sync::Mutex::new(Vec::new()),
            end_bell: std::sync::OnceLock::new(),
        })
    }

    /// Record the `Arc` this connection lives in, once its socket is registered with this
    /// process's watcher: waits then rely on the watcher for hang-ups and dead processes.
    pub(crate) fn set_watched(self: &std::sync::Arc<Self>) {
        let _ = self
            .me
            .set((std::sync::Arc::downgrade(self), sys::my_pid()));
    }

    /// Whether this process's watcher thread announces this connection's events (not so in a
    /// forked child, or when the watcher could not be started).
    fn watcher_covers(&self) -> bool {
        self.me.get().is_some_and(|(_, pid)| *pid == sys::my_pid())
    }

    /// Ask the watcher to watch the other processes that have operations pending in
    /// direction `dir` (when one exits, [`Conn::process_gone`] reaps what it left): a waiter
    /// calls this before it sleeps, so that a dead sibling's pending read or write never
    /// holds it up and no wait needs a timer to look for one.
    pub(crate) fn watch_foreign(&self, dir: usize) {
        let Some((me, _)) = self.me.get().filter(|_| self.watcher_covers()) else {
            return;
        };
        let my_pid = sys::my_pid();
        let pids = {
            let Ok(mut g) = self.lock() else { return };
            let q = g.queue(dir & 1);
            if !q.has_foreign(my_pid) {
                return;
            }
            q.foreign_pids(my_pid)
        };
        let mut gone = false;
        {
            let mut w = self.pid_watches.lock().unwrap_or_else(|e| e.into_inner());
            for pid in pids {
                if w.len() >= MAX_PID_WATCHES {
                    break;
                }
                if w.iter().any(|(p, _)| *p == pid) {
                    continue;
                }
                let item: std::sync::Weak<dyn crate::watcher::Watched> = me.clone();
                match crate::watcher::watch_pid(pid, item) {
                    Some(token) => w.push((pid, token)),
                    // No such process (or no pidfd): reap at once.
                    None => gone = true,
                }
            }
        }
        if gone {
            self.reap();
        }
    }

    /// A process the watcher watched for us exited: wake this process's waiters, and the
    /// next holder of the lock drops what it left pending. No lock is taken here (see
    /// [`Conn::hangup_noticed`]).
    pub(crate) fn process_gone(&self, pid: u32) {
        self.pid_watches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(p, _)| *p != pid);
        self.reap_due.store(true, Ordering::Release);
        self.wake_local();
    }

    /// Wake every waiter of this process on this connection, without the lock: blocking
    /// waiters (the counters move, the futexes are woken) and async tasks.
    fn wake_local(&self) {
        let hdr = self.seg.header();
        for dir in 0..2 {
            hdr.seq[dir].fetch_add(1, Ordering::SeqCst);
            sys::futex_wake_all(&hdr.seq[dir]);
        }
        let wakers =
            std::mem::take(&mut *self.local_wakers.lock().unwrap_or_else(|e| e.into_inner()));
        for w in wakers {
            w.wake();
        }
    }

    /// Withdraw the process watches (the connection is being let go of).
    pub(crate) fn unwatch_processes(&self) {
        let w = std::mem::take(&mut *self.pid_watches.lock().unwrap_or_else(|e| e.into_inner()));
        for (_, token) in w {
            crate::watcher::unwatch_pid(token);
        }
    }

    /// This end's rights on the data.
    pub(crate) fn rights(&self) -> DataRights {
        self.rights
    }

    /// The ring descriptors (for inheritance).
    pub(crate) fn ring_fds(&self) -> &[OwnedFd; 2] {
        &self._rings
    }

    /// The liveness socket (for the watcher).
    pub(crate) fn sock(&self) -> Option<&OwnedFd> {
        self.sock.as_ref()
    }

    /// Whether this is the server end.
    pub(crate) fn is_server_end(&self) -> bool {
        self.end == End::Server
    }

    /// Count one more process holding this end (a child about to inherit it).
    pub(crate) fn reserve_holder(&self) {
        self.seg.header().holders[end_index(self.end)].fetch_add(1, Ordering::AcqRel);
    }

    /// This end's bell (see the field), made now if the end has none yet (it is about to be
    /// inherited).
    pub(crate) fn end_bell_or_make(&self) -> Result<&OwnedFd, Win32Error> {
        if let Some(b) = self.end_bell.get() {
            return Ok(b);
        }
        let fd = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )
        .map_err(|e| Win32Error::from_errno(e.raw_os_error()))?;
        // A racing maker's descriptor wins; ours is closed.
        Ok(self.end_bell.get_or_init(|| fd))
    }

    /// Take the bell of an end inherited from a parent (its token's eventfd).
    pub(crate) fn adopt_end_bell(&self, fd: OwnedFd) {
        let _ = self.end_bell.set(fd);
    }

    /// This end's bell, if it was ever inherited (for the async waiters of a shared end).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn end_bell(&self) -> Option<&OwnedFd> {
        self.end_bell.get()
    }

    /// The shared segment's descriptor.
    pub(crate) fn shm_fd(&self) -> &OwnedFd {
        &self._shm
    }

    /// The pipe's attributes.
    pub(crate) fn attrs(&self) -> PipeAttributes {
        self.attrs
    }

    fn sock_hung_up(&self) -> bool {
        self.sock.as_ref().is_some_and(sys::socket_hung_up)
    }

    pub(crate) fn out_dir(&self) -> usize {
        if self.end == End::Server {
            TO_CLIENT
        } else {
            TO_SERVER
        }
    }

    pub(crate) fn in_dir(&self) -> usize {
        1 - self.out_dir()
    }

    fn peer_gone_flag(&self) -> u32 {
        if self.end == End::Server {
            CLIENT_GONE
        } else {
            SERVER_GONE
        }
    }

    /// Take the connection lock, within [`LOCK_DEADLINE`].
    ///
    /// The lock word is in shared memory, so a hostile or crashed peer can hold it for ever
    /// (or pretend to). An honest holder keeps it for one copy at most; one that cannot be
    /// had within the deadline means the connection is broken: it is marked so in this
    /// process (never touched again), and this and every later operation on it fail with
    /// `ERROR_BROKEN_PIPE`. Nothing else waits on it.
    pub(crate) fn lock(&self) -> Result<Guard<'_>, Win32Error> {
        if self.broken.load(Ordering::Acquire) {
            return Err(Win32Error::BROKEN_PIPE);
        }
        let hdr = self.seg.header();
        let mut spins = 0;
        let mut deadline = None;
        while hdr
            .lock
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // The lock is held for one copy at most (64 KiB or so): on more than one CPU,
            // waiting it out beats a sleep and a wake-up.
            if spins < lock_spins() {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            if hdr.lock.swap(2, Ordering::Acquire) == 0 {
                break;
            }
            let now = std::time::Instant::now();
            let until = *deadline.get_or_insert(now + LOCK_DEADLINE);
            if now >= until || self.broken.load(Ordering::Acquire) {
                self.mark_broken();
                return Err(Win32Error::BROKEN_PIPE);
            }
            // Woken by the holder's release (FUTEX_WAKE), or by the deadline.
            sys::futex_wait(&hdr.lock, 2, Some(until - now));
        }
        let mut g = Guard {
            rings: [None, None],
            conn: self,
            before: Guard::snapshot(self),
            touched: false,
        };
        self.check_hangup(&mut g);
        Ok(g)
    }

    /// The connection cannot be trusted any more (its lock was held past the deadline): fail
    /// everything on it from now on, and wake this process's waiters so that they see it.
    fn mark_broken(&self) {
        if !self.broken.swap(true, Ordering::AcqRel) {
            tracing::warn!("npfs: connection lock held past the deadline; connection broken");
            let hdr = self.seg.header();
            for dir in 0..2 {
                sys::futex_wake_all(&hdr.seq[dir]);
            }
            let wakers =
                std::mem::take(&mut *self.local_wakers.lock().unwrap_or_else(|e| e.into_inner()));
            for w in wakers {
                w.wake();
            }
        }
    }

    /// Notice a peer that closed since we last looked (cheap unless a close happened).
    fn check_hangup(&self, g: &mut Guard<'_>) {
        if self.reap_due.swap(false, Ordering::AcqRel) {
            for dir in 0..2 {
                g.queue(dir).reap(&mut |p| sys::pid_alive(p));
            }
            g.touched = true;
        }
        if self.hangup_seen.swap(false, Ordering::AcqRel) {
            if g.flags() & self.peer_gone_flag() == 0 {
                self.apply_peer_gone(g);
            }
            // Waiters look again whatever the flags said (a peer may have written them).
            g.touched = true;
        }
        let cc = self.seg.header().close_count.load(Ordering::Acquire);
        if cc != self.seen_close.load(Ordering::Relaxed) {
            self.seen_close.store(cc, Ordering::Relaxed);
            if g.flags() & self.peer_gone_flag() == 0 && self.sock_hung_up() {
                self.apply_peer_gone(g);
            }
        }
    }

    /// The watcher saw the other end's socket hang up. It takes no lock (a lock a hostile
    /// peer left held would stall the watcher, which serves every connection of the
    /// process): it notes the fact and wakes this process's waiters, and whoever takes the
    /// lock next — the woken waiter, usually — moves the connection to CLOSING.
    pub(crate) fn hangup_noticed(&self) {
        self.hangup_seen.store(true, Ordering::Release);
        self.wake_local();
    }

    /// The other end's last descriptor closed (seen by a check).
    pub(crate) fn peer_gone(&self) {
        let Ok(mut g) = self.lock() else { return };
        if g.flags() & self.peer_gone_flag() == 0 {
            self.apply_peer_gone(&mut g);
        }
        // Wake this end's waiters whatever the flags said: a peer may have written them
        // itself, and a waiter must look again now that it is gone (nothing else will wake
        // it).
        g.touched = true;
    }

    fn apply_peer_gone(&self, g: &mut Guard<'_>) {
        let peer = match self.end {
            End::Server => End::Client,
            End::Client => End::Server,
        };
        end_gone(g, peer);
    }

    /// Whether a flush that was waiting when the peer went away saw its data read first.
    pub(crate) fn peer_gone_drained(&self, g: &Guard<'_>) -> bool {
        let f = if self.end == End::Server {
            CLIENT_GONE_DRAINED
        } else {
            SERVER_GONE_DRAINED
        };
        g.flags() & f != 0
    }

    /// Called when this process drops a handle of this connection: tell whoever shares the
    /// segment to check for a hang-up.
    pub(crate) fn note_close(&self) {
        let hdr = self.seg.header();
        hdr.close_count.fetch_add(1, Ordering::AcqRel);
        for dir in 0..2 {
            hdr.seq[dir].fetch_add(1, Ordering::Release);
            sys::futex_wake_all(&hdr.seq[dir]);
        }
    }

    pub(crate) fn state_of(&self, g: &Guard<'_>) -> LinkState {
        let f = g.flags();
        if f & DISCONNECTED != 0 {
            LinkState::Disconnected
        } else if f & self.peer_gone_flag() != 0 {
            LinkState::Closing
        } else {
            LinkState::Connected
        }
    }

    /// Current state.
    pub(crate) fn state(&self) -> LinkState {
        match self.lock() {
            Ok(g) => self.state_of(&g),
            // A broken connection reads as one whose peer closed.
            Err(_) => LinkState::Closing,
        }
    }

    /// Block this thread until `on` changes (after an adaptive spin), [`Conn::kick`] or
    /// `deadline`. Returns false once the deadline has passed.
    ///
    /// Every change to the connection wakes the futex; a crashed peer or a sibling that
    /// exited is announced by this process's watcher thread, which then changes the
    /// connection. Only a forked child without a watcher of its own re-checks on a timer.
    pub(crate) fn wait_blocking(&self, on: WaitOn, deadline: Option<std::time::Instant>) -> bool {
        let hdr = self.seg.header();
        let dir = on.dir & 1;
        let covered = self.watcher_covers();
        let mut timeout = (!covered).then_some(FORKED_RECHECK);
        if let Some(d) = deadline {
            let now = std::time::Instant::now();
            if now >= d {
                return false;
            }
            timeout = Some(timeout.map_or(d - now, |t| t.min(d - now)));
        }
        hdr.waiters[dir].fetch_add(1, Ordering::SeqCst);
        self.local_waiters[dir].fetch_add(1, Ordering::SeqCst);
        if !self.worth_spinning(dir) || !self.spin(&hdr.seq[dir], on.seq) {
            if covered {
                self.watch_foreign(dir);
            }
            sys::futex_wait(&hdr.seq[dir], on.seq, timeout);
        }
        self.local_waiters[dir].fetch_sub(1, Ordering::SeqCst);
        hdr.waiters[dir].fetch_sub(1, Ordering::SeqCst);
        if !covered && hdr.seq[dir].load(Ordering::Acquire) == on.seq {
            // Nothing announces a crashed peer here: look for one, and for pending
            // operations left behind by processes that no longer exist.
            self.reap();
        }
        true
    }

    /// Wake this process's blocking waiters on direction `dir` without changing anything
    /// (CancelSynchronousIo: the waiter looks at its cancel token).
    pub(crate) fn kick(&self, dir: usize) {
        // The counter moves so that a waiter about to sleep does not (a bare wake could slip
        // in between its look at the token and its sleep).
        let seq = &self.seg.header().seq[dir & 1];
        seq.fetch_add(1, Ordering::SeqCst);
        sys::futex_wake_all(seq);
    }

    /// Async waiting, step 1: count this end as having an async waiter (so that changes made
    /// by the other end ring this end's doorbell) and register `waker` for changes made in
    /// this process. Returns false if `on` already changed (poll again at once). Pair with
    /// [`Conn::disarm_async`].
    #[allow(dead_code)] // used by the tokio module
    pub(crate) fn arm_async(&self, on: WaitOn, waker: &std::task::Waker) -> bool {
        {
            let mut w = self.local_wakers.lock().unwrap_or_else(|e| e.into_inner());
            if !w.iter().any(|x| x.will_wake(waker)) {
                w.push(waker.clone());
            }
        }
        let hdr = self.seg.header();
        hdr.async_waiters[end_index(self.end)].fetch_add(1, Ordering::SeqCst);
        if hdr.seq[on.dir & 1].load(Ordering::SeqCst) != on.seq {
            return false;
        }
        self.watch_foreign(on.dir);
        hdr.seq[on.dir & 1].load(Ordering::SeqCst) == on.seq
    }

    /// Async waiting, step 2: undo [`Conn::arm_async`]'s count once woken.
    #[allow(dead_code)] // used by the tokio module
    pub(crate) fn disarm_async(&self) {
        let hdr = self.seg.header();
        let _ = hdr.async_waiters[end_index(self.end)].fetch_update(
            Ordering::SeqCst,
            Ordering::SeqCst,
            |v| v.checked_sub(1),
        );
    }

    /// Something changed: wake async waiters of this process, ring the other end's doorbell
    /// if it has async waiters (one byte on the liveness socket; a full socket buffer means
    /// it is ringing already), and this end's bell if another process holds this end too and
    /// async waiters wait on it (which may be that process's).
    fn wake_async(&self) {
        let hdr = self.seg.header();
        let me = end_index(self.end);
        if hdr.async_waiters[1 - me].load(Ordering::SeqCst) > 0 {
            if let Some(sock) = &self.sock {
                let _ = rustix::net::send(
                    sock,
                    &[1],
                    rustix::net::SendFlags::DONTWAIT | rustix::net::SendFlags::NOSIGNAL,
                );
            }
        }
        if hdr.async_waiters[me].load(Ordering::SeqCst) > 0 && self.end_shared() {
            if let Some(bell) = self.end_bell.get() {
                // Non-blocking; it fails only once 2^64 - 2 rings are counted.
                let _ = rustix::io::write(bell, &1u64.to_ne_bytes());
            }
        }
        // This process's own wakers are woken from its own list, never on the strength of the
        // shared count (which the peer may have overwritten).
        let wakers =
            std::mem::take(&mut *self.local_wakers.lock().unwrap_or_else(|e| e.into_inner()));
        for w in wakers {
            w.wake();
        }
    }

    /// What an operation on direction `dir` would wait for, seen now without the lock (the
    /// counter only grows after a change, so a change made after this read is never missed).
    #[allow(dead_code)] // used by the tokio module
    pub(crate) fn wait_on_now(&self, dir: usize) -> WaitOn {
        let dir = dir & 1;
        WaitOn {
            dir,
            seq: self.seg.header().seq[dir].load(Ordering::SeqCst),
        }
    }

    /// Whether another process holds this end too (inherited): its changes ring no doorbell
    /// here but this end's bell, which async waiters then watch as well.
    pub(crate) fn end_shared(&self) -> bool {
        self.seg.header().holders[end_index(self.end)].load(Ordering::Acquire) > 1
    }

    /// Readiness for reading: a read would not find the pipe empty (data, an unread empty
    /// message, or a state that makes reads fail at once), and what to wait for otherwise.
    #[allow(dead_code)] // used by the tokio module
    pub(crate) fn read_readiness(&self) -> (bool, WaitOn) {
        let dir = self.in_dir();
        let Ok(mut g) = self.lock() else {
            return (true, self.wait_on_now(dir));
        };
        let on = g.wait_on(dir);
        if self.state_of(&g) != LinkState::Connected {
            return (true, on);
        }
        self.reap_dead(&mut g, dir);
        let ready = !g.queue(dir).is_drained();
        (ready, on)
    }

    /// Readiness for writing: the unread bytes of the outgoing queue are below the reader's
    /// quota (or the state makes writes fail at once), and what to wait for otherwise.
    #[allow(dead_code)] // used by the tokio module
    pub(crate) fn write_readiness(&self) -> (bool, WaitOn) {
        let dir = self.out_dir();
        let Ok(mut g) = self.lock() else {
            return (true, self.wait_on_now(dir));
        };
        let on = g.wait_on(dir);
        if self.state_of(&g) != LinkState::Connected {
            return (true, on);
        }
        let quota = if dir == TO_CLIENT {
            self.attrs.out_quota
        } else {
            self.attrs.in_quota
        };
        let avail = g.queue(dir).avail();
        (avail == 0 || avail < u64::from(quota), on)
    }

    /// Unread bytes of the outgoing queue (what the other end has not read yet).
    #[allow(dead_code)] // used by the tokio module
    pub(crate) fn out_available(&self) -> u64 {
        let Ok(mut g) = self.lock() else { return 0 };
        let dir = self.out_dir();
        let out = g.queue(dir).avail();
        out
    }

    /// Empty the doorbell bytes the other end sent to this end's socket.
    #[allow(dead_code)] // used by the tokio module
    pub(crate) fn drain_doorbell(&self) {
        if let Some(sock) = &self.sock {
            let mut buf = [0u8; 256];
            while let Ok((n, _)) =
                rustix::net::recv(sock, &mut buf, rustix::net::RecvFlags::DONTWAIT)
            {
                if n == 0 {
                    break;
                }
            }
        }
    }

    /// Whether a wait on direction `dir` should spin before it sleeps, and a note of the CPU
    /// this end waits on for the peer's own decision. Only waits for incoming data spin (a
    /// request's reply): a writer waiting for room would only contend with the reader that
    /// drains it, which costs streams more than the wake-up it saves. And only while the peer
    /// was last seen waiting on another CPU; on this one it cannot answer during the spin.
    fn worth_spinning(&self, dir: usize) -> bool {
        let hdr = self.seg.header();
        let me = end_index(self.end);
        let cpu = rustix::thread::sched_getcpu() as u32 + 1;
        if hdr.wait_cpu[me].load(Ordering::Relaxed) != cpu {
            hdr.wait_cpu[me].store(cpu, Ordering::Relaxed);
        }
        let peer = hdr.wait_cpu[1 - me].load(Ordering::Relaxed);
        spin_pays(dir == self.in_dir(), cpu, peer)
    }

    /// Adaptive brief spinning before sleeping: on a machine with more than one CPU, watch
    /// `word` for a change for up to the current budget. The budget doubles (up to
    /// [`sys::spin_max_ns`]) when a spin saw the change and drops to a quarter when it did
    /// not, so an idle or slow peer costs next to nothing, and a busy one on another core is
    /// answered without a sleep and a wake-up. Returns true when the word changed.
    fn spin(&self, word: &AtomicU32, seen: u32) -> bool {
        let max = sys::spin_max_ns();
        let budget = self.spin_ns.load(Ordering::Relaxed).min(max);
        if budget == 0 {
            // Probe again now and then: the peer's pace may have changed.
            let n = self.spin_probe.fetch_add(1, Ordering::Relaxed);
            if max == 0 || !n.is_multiple_of(64) {
                return false;
            }
        }
        let budget = budget.max(1_000);
        let start = std::time::Instant::now();
        let mut i = 0u32;
        loop {
            if word.load(Ordering::Acquire) != seen {
                let grown = (budget * 2).min(max);
                self.spin_ns.store(grown, Ordering::Relaxed);
                return true;
            }
            std::hint::spin_loop();
            i = i.wrapping_add(1);
            if i.is_multiple_of(64) && start.elapsed().as_nanos() as u64 >= budget {
                self.spin_ns.store(budget / 4, Ordering::Relaxed);
                return false;
            }
        }
    }

    fn reap(&self) {
        if self.sock_hung_up() {
            self.peer_gone();
        }
        let Ok(mut g) = self.lock() else { return };
        let me = sys::my_pid();
        for dir in 0..2 {
            let pids = g.queue(dir).foreign_pids(me);
            if !pids.is_empty() {
                g.queue(dir).reap(&mut |p| sys::pid_alive(p));
            }
        }
    }

    /// Drop what dead processes left pending in direction `dir` (a write blocked on quota in a
    /// process that was killed: its unread data leaves the pipe, as on Windows). Costs a
    /// liveness check only while another process has something pending there.
    pub(crate) fn reap_dead(&self, g: &mut Guard<'_>, dir: usize) {
        if !g.queue(dir).has_foreign(sys::my_pid()) {
            return;
        }
        // Liveness checks cost system calls (and a /proc read for zombies): at most one
        // round per REAP_INTERVAL per connection, so a busy cross-process stream does not pay
        // them on every read.
        let now = sys::monotonic_ms();
        let last = self.last_reap.load(Ordering::Relaxed);
        if now.saturating_sub(last) < REAP_INTERVAL_MS {
            return;
        }
        self.last_reap.store(now, Ordering::Relaxed);
        let pids = g.queue(dir).foreign_pids(sys::my_pid());
        if pids.iter().any(|&p| !sys::pid_alive(p)) {
            g.queue(dir).reap(&mut |p| sys::pid_alive(p));
        }
    }

    /// PeekNamedPipe on this end's incoming queue.
    pub(crate) fn peek(&self, buf: &mut [u8]) -> Result<Peeked, Win32Error> {
        let mut g = self.lock()?;
        let state = self.state_of(&g);
        if state == LinkState::Disconnected {
            return Err(Win32Error::PIPE_NOT_CONNECTED);
        }
        let dir = self.in_dir();
        self.reap_dead(&mut g, dir);
        let mut q = g.queue(dir);
        let info = q.peek(buf);
        if state == LinkState::Closing && q.is_drained() {
            return Err(Win32Error::BROKEN_PIPE);
        }
        Ok(Peeked { info, state })
    }

    /// Unread bytes in this end's incoming queue (ReadDataAvailable).
    pub(crate) fn available(&self) -> u64 {
        let Ok(mut g) = self.lock() else { return 0 };
        let dir = self.in_dir();
        self.reap_dead(&mut g, dir);
        let out = g.queue(dir).avail();
        out
    }

    /// DisconnectNamedPipe (server end): discard everything, fail everything pending, detach
    /// the client.
    pub(crate) fn disconnect(&self) {
        let Ok(mut g) = self.lock() else { return };
        g.set_flags(DISCONNECTED);
        g.queue(TO_CLIENT).disconnect();
        g.queue(TO_SERVER).disconnect();
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // The last process holding this end lets go: the end is gone now, for everyone.
        if self.seg.header().holders[end_index(self.end)].fetch_sub(1, Ordering::AcqRel) == 1 {
            // A broken connection is left alone: the peer sees the socket close.
            if let Ok(mut g) = self.lock() {
                let gone = if self.end == End::Server {
                    SERVER_GONE
                } else {
                    CLIENT_GONE
                };
                if g.flags() & gone == 0 {
                    end_gone(&mut g, self.end);
                }
            }
        }
        // Close the socket before the hint, so that whoever the hint wakes sees the hang-up.
        drop(self.sock.take());
        self.note_close();
    }
}

fn end_index(end: End) -> usize {
    match end {
        End::Server => 0,
        End::Client => 1,
    }
}

/// `end`'s last descriptor closed: the queue towards it is dropped (pending writes to it fail
/// with ERROR_BROKEN_PIPE) and what it wrote stays readable, then reads fail.
fn end_gone(g: &mut Guard<'_>, end: End) {
    let (gone, drained_flag, to_end) = match end {
        End::Server => (SERVER_GONE, SERVER_GONE_DRAINED, TO_SERVER),
        End::Client => (CLIENT_GONE, CLIENT_GONE_DRAINED, TO_CLIENT),
    };
    if g.flags() & DISCONNECTED != 0 {
        // A detached connection: everything pending already failed with
        // ERROR_PIPE_NOT_CONNECTED and the queues are empty.
        g.set_flags(gone);
        return;
    }
    let mut flags = gone;
    if g.queue(to_end).is_drained() {
        flags |= drained_flag;
    }
    g.set_flags(flags);
    g.queue(to_end).reader_closed();
    g.queue(1 - to_end).writer_closed();
}

#[cfg(test)]
mod tests {
    use super::spin_pays;

    #[test]
    fn spins_only_for_replies_from_a_peer_on_another_cpu() {
        assert!(spin_pays(true, 1, 2), "reply awaited from another CPU");
        assert!(
            !spin_pays(true, 1, 1),
            "peer on this CPU cannot answer during a spin"
        );
        assert!(!spin_pays(true, 1, 0), "peer never waited: unknown CPU");
        assert!(!spin_pays(false, 1, 2), "a writer waiting for room sleeps");
    }
}
