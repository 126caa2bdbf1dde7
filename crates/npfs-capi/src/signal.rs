//! The one process-wide condition every waitable change notifies (SetEvent, a completion, a
//! posted packet, a queued APC, a thread's or child's exit), on which the waits of
//! [`crate::wait`] sleep; and the count of children whose exit no thread announces.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// The change counter, moved by every [`notify`].
pub(crate) static GEN: Mutex<u64> = Mutex::new(0);
/// Signalled by every [`notify`].
pub(crate) static CV: Condvar = Condvar::new();

/// Something changed that a waiter may care about.
pub fn notify() {
    let mut g = GEN.lock().unwrap_or_else(|e| e.into_inner());
    *g = g.wrapping_add(1);
    CV.notify_all();
}

/// Children that have no watcher thread (it could not be started) and have not been seen to
/// exit.
static UNWATCHED: AtomicUsize = AtomicUsize::new(0);

/// Whether some child's exit is announced by no thread, so that waits must look again now
/// and then (the one timed path of the waits, taken only when a thread could not start).
pub fn unwatched_children() -> bool {
    UNWATCHED.load(Ordering::SeqCst) > 0
}

/// One more child whose exit no thread announces.
pub fn unwatched_child_added() {
    UNWATCHED.fetch_add(1, Ordering::SeqCst);
}

/// A child whose exit no thread announced was seen to exit (or let go of).
pub fn unwatched_child_gone() {
    UNWATCHED.fetch_sub(1, Ordering::SeqCst);
}
