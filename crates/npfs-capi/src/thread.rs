//! Threads as handle objects see them: the calling thread's object (made on first use for
//! threads CreateThread did not start), its APC queue and its exit (the `HandleObject` side
//! is in [`crate::sync`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::signal;
use crate::types::*;

/// A queued asynchronous procedure call.
pub type Apc = Box<dyn FnOnce() + Send>;

/// A thread (CreateThread, or any thread that touched the ABI).
pub struct ThreadObj {
    /// Suspend count (CREATE_SUSPENDED, ResumeThread).
    pub(crate) suspended: Mutex<u32>,
    pub(crate) resumed: std::sync::Condvar,
    pub(crate) id: AtomicU32,
    /// The cancel token of the synchronous call the thread is blocked in (CancelSynchronousIo).
    pub(crate) sync_io: Mutex<Option<Arc<npfs_lib::ffi::CancelToken>>>,
    pub(crate) done: AtomicBool,
    pub(crate) exit_code: AtomicU32,
    pub(crate) apcs: Mutex<VecDeque<Apc>>,
}

impl ThreadObj {
    pub(crate) fn new() -> Arc<ThreadObj> {
        Arc::new(ThreadObj {
            suspended: Mutex::new(0),
            resumed: std::sync::Condvar::new(),
            id: AtomicU32::new(gettid()),
            done: AtomicBool::new(false),
            exit_code: AtomicU32::new(STILL_ACTIVE),
            apcs: Mutex::new(VecDeque::new()),
            sync_io: Mutex::new(None),
        })
    }

    /// Record (or clear) the synchronous call this thread is blocked in.
    pub fn set_sync_io(&self, token: Option<Arc<npfs_lib::ffi::CancelToken>>) {
        *self.sync_io.lock().unwrap_or_else(|e| e.into_inner()) = token;
    }

    /// The synchronous call this thread is blocked in.
    pub fn sync_io(&self) -> Option<Arc<npfs_lib::ffi::CancelToken>> {
        self.sync_io
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn wait_resumed(&self) {
        let mut n = self.suspended.lock().unwrap_or_else(|e| e.into_inner());
        while *n > 0 {
            n = self.resumed.wait(n).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Queue `apc` to run in this thread's next alertable wait.
    pub fn queue_apc(&self, apc: Apc) {
        self.apcs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(apc);
        signal::notify();
    }

    /// Whether APCs are queued.
    pub fn has_apcs(&self) -> bool {
        !self
            .apcs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Run every queued APC, in order. Returns true if any ran.
    pub fn run_apcs(&self) -> bool {
        let mut ran = false;
        loop {
            let next = self
                .apcs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front();
            match next {
                Some(f) => {
                    f();
                    ran = true;
                }
                None => return ran,
            }
        }
    }

    pub(crate) fn finish(&self, code: DWORD) {
        self.exit_code.store(code, Ordering::SeqCst);
        self.done.store(true, Ordering::SeqCst);
        signal::notify();
    }
}

fn gettid() -> u32 {
    rustix::thread::gettid().as_raw_nonzero().get() as u32
}

/// Make `t` the calling thread's object (a thread CreateThread started, at its start).
pub(crate) fn start_as(t: &Arc<ThreadObj>) {
    t.id.store(gettid(), Ordering::SeqCst);
    register(t);
    CURRENT.with(|c| *c.borrow_mut() = Some(t.clone()));
}

thread_local! {
    static CURRENT: std::cell::RefCell<Option<Arc<ThreadObj>>> = const { std::cell::RefCell::new(None) };
}

static BY_ID: Mutex<Vec<(u32, std::sync::Weak<ThreadObj>)>> = Mutex::new(Vec::new());

fn register(t: &Arc<ThreadObj>) {
    let mut v = BY_ID.lock().unwrap_or_else(|e| e.into_inner());
    v.retain(|(_, w)| w.strong_count() > 0);
    v.push((t.id.load(Ordering::SeqCst), Arc::downgrade(t)));
}

/// The thread object of thread `id` (to queue a completion routine to its issuer).
pub fn thread_by_id(id: u32) -> Option<Arc<ThreadObj>> {
    let v = BY_ID.lock().unwrap_or_else(|e| e.into_inner());
    v.iter()
        .rev()
        .find(|(i, _)| *i == id)
        .and_then(|(_, w)| w.upgrade())
}

/// The calling thread's object (made on first use for threads CreateThread did not start).
pub fn current_thread() -> Arc<ThreadObj> {
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(t) = c.as_ref() {
            return t.clone();
        }
        let t = ThreadObj::new();
        register(&t);
        *c = Some(t.clone());
        t
    })
}
