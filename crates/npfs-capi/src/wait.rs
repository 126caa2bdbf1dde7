//! Waiting: WaitForSingleObject(Ex), WaitForMultipleObjects(Ex), SleepEx and the completion
//! port waits, on one process-wide condition that every signal change notifies (SetEvent, a
//! completion, a posted packet, a queued APC, a thread's or child's exit). A wait sleeps until
//! that notification or its own timeout, never on a tick. Alertable waits run the calling
//! thread's queued APCs, in order, and return WAIT_IO_COMPLETION.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::*;
use crate::handles::{self, HandleObject};
use crate::port::{Packet, Port};
use crate::signal::{self, CV, GEN};
use crate::thread::current_thread;
use crate::types::*;

/// How often a wait looks at children whose exit no thread watches (see
/// [`signal::unwatched_children`]).
const UNWATCHED_RECHECK: Duration = Duration::from_millis(100);

fn deadline(ms: DWORD) -> Option<Instant> {
    (ms != INFINITE).then(|| Instant::now() + Duration::from_millis(u64::from(ms)))
}

/// Wait until `ready` returns Some, an APC runs (when `alertable`), or `ms` passes.
/// Returns Ok(value), Err(WAIT_IO_COMPLETION) or Err(WAIT_TIMEOUT).
pub fn wait_until<T>(
    ms: DWORD,
    alertable: bool,
    mut ready: impl FnMut() -> Option<T>,
) -> Result<T, DWORD> {
    let end = deadline(ms);
    let me = current_thread();
    loop {
        let mut g = GEN.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = ready() {
            return Ok(v);
        }
        if alertable && me.has_apcs() {
            drop(g);
            me.run_apcs();
            return Err(WAIT_IO_COMPLETION);
        }
        let now = Instant::now();
        if end.is_some_and(|e| now >= e) {
            return Err(WAIT_TIMEOUT);
        }
        // Only a child process that no thread watches (its watcher could not be started)
        // changes without a notification: then, and only then, look again now and then.
        let recheck = signal::unwatched_children().then_some(UNWATCHED_RECHECK);
        let left = match (end, recheck) {
            (Some(e), Some(r)) => Some((e - now).min(r)),
            (Some(e), None) => Some(e - now),
            (None, r) => r,
        };
        let seen = *g;
        while *g == seen {
            match left {
                Some(left) => {
                    let (ng, to) = CV.wait_timeout(g, left).unwrap_or_else(|e| e.into_inner());
                    g = ng;
                    if to.timed_out() {
                        break;
                    }
                }
                None => g = CV.wait(g).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }
}

fn objects(handles_: &[HANDLE]) -> Result<Vec<Arc<dyn HandleObject>>, DWORD> {
    handles_
        .iter()
        .map(|&h| match handles::get(h) {
            Some(o) if o.signalled().is_some() => Ok(o),
            Some(_) => Err(ERROR_INVALID_HANDLE),
            None => Err(ERROR_INVALID_HANDLE),
        })
        .collect()
}

fn wait_multiple(hs: &[HANDLE], all: bool, ms: DWORD, alertable: bool) -> DWORD {
    let objs = match objects(hs) {
        Ok(o) => o,
        Err(e) => {
            set_last_error(e);
            return WAIT_FAILED;
        }
    };
    let r = wait_until(ms, alertable, || {
        if all {
            if objs.iter().all(|o| o.signalled() == Some(true)) {
                // Acquire all at once (under the wait lock, so no other waiter interleaves).
                for o in &objs {
                    o.acquire();
                }
                return Some(WAIT_OBJECT_0);
            }
            None
        } else {
            for (i, o) in objs.iter().enumerate() {
                if o.signalled() == Some(true) && o.acquire() {
                    return Some(WAIT_OBJECT_0 + i as DWORD);
                }
            }
            None
        }
    });
    r.unwrap_or_else(|code| code)
}

/// WaitForSingleObject.
#[no_mangle]
pub extern "C" fn WaitForSingleObject(h: HANDLE, ms: DWORD) -> DWORD {
    guard(WAIT_FAILED, || wait_multiple(&[h], false, ms, false))
}

/// WaitForSingleObjectEx.
#[no_mangle]
pub extern "C" fn WaitForSingleObjectEx(h: HANDLE, ms: DWORD, alertable: BOOL) -> DWORD {
    guard(WAIT_FAILED, || {
        wait_multiple(&[h], false, ms, alertable != 0)
    })
}

/// WaitForMultipleObjects.
#[no_mangle]
pub unsafe extern "C" fn WaitForMultipleObjects(
    n: DWORD,
    hs: *const HANDLE,
    all: BOOL,
    ms: DWORD,
) -> DWORD {
    // SAFETY: forwarded; see WaitForMultipleObjectsEx.
    unsafe { WaitForMultipleObjectsEx(n, hs, all, ms, FALSE) }
}

/// WaitForMultipleObjectsEx.
#[no_mangle]
pub unsafe extern "C" fn WaitForMultipleObjectsEx(
    n: DWORD,
    hs: *const HANDLE,
    all: BOOL,
    ms: DWORD,
    alertable: BOOL,
) -> DWORD {
    guard(WAIT_FAILED, || {
        if n == 0 || n > MAXIMUM_WAIT_OBJECTS || hs.is_null() {
            set_last_error(ERROR_INVALID_PARAMETER);
            return WAIT_FAILED;
        }
        // SAFETY: the caller passes an array of `n` handles (checked non-null, n ≤ 64).
        let hs = unsafe { std::slice::from_raw_parts(hs, n as usize) };
        wait_multiple(hs, all != 0, ms, alertable != 0)
    })
}

/// SleepEx: returns WAIT_IO_COMPLETION (0xC0) if an APC ran in an alertable sleep, else 0.
#[no_mangle]
pub extern "C" fn SleepEx(ms: DWORD, alertable: BOOL) -> DWORD {
    guard(0, || match wait_until::<()>(ms, alertable != 0, || None) {
        Err(WAIT_IO_COMPLETION) => WAIT_IO_COMPLETION,
        _ => 0,
    })
}

/// Sleep.
#[no_mangle]
pub extern "C" fn Sleep(ms: DWORD) {
    if ms == INFINITE {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    std::thread::sleep(Duration::from_millis(u64::from(ms)));
}

/// CreateIoCompletionPort: make a port (`file` = INVALID_HANDLE_VALUE) or associate `file`
/// with `existing` (or a new port) under `key`.
#[no_mangle]
pub extern "C" fn CreateIoCompletionPort(
    file: HANDLE,
    existing: HANDLE,
    key: usize,
    _threads: DWORD,
) -> HANDLE {
    guard(std::ptr::null_mut(), || {
        let (port, h) = if existing.is_null() {
            let p = Arc::new(Port::new());
            let h = handles::insert(p.clone(), 0);
            (p, h)
        } else {
            match handles::get_as::<Port>(existing) {
                Some(p) => (p, existing),
                None => {
                    set_last_error(ERROR_INVALID_PARAMETER);
                    return std::ptr::null_mut();
                }
            }
        };
        if file != INVALID_HANDLE_VALUE {
            let Some(f) = handles::get(file) else {
                set_last_error(ERROR_INVALID_HANDLE);
                return std::ptr::null_mut();
            };
            if !f.associate(port, key) {
                set_last_error(ERROR_INVALID_PARAMETER);
                return std::ptr::null_mut();
            }
        }
        h
    })
}

/// GetQueuedCompletionStatus.
#[no_mangle]
pub unsafe extern "C" fn GetQueuedCompletionStatus(
    port: HANDLE,
    bytes: *mut DWORD,
    key: *mut usize,
    overlapped: *mut *mut OVERLAPPED,
    ms: DWORD,
) -> BOOL {
    guard(FALSE, || {
        let Some(p) = handles::get_as::<Port>(port) else {
            return fail(ERROR_INVALID_HANDLE);
        };
        let got = wait_until(ms, false, || p.pop());
        // SAFETY (all writes below): the caller passes valid out-pointers; each is checked
        // non-null before use.
        match got {
            Ok(pk) => unsafe {
                if !bytes.is_null() {
                    *bytes = pk.bytes;
                }
                if !key.is_null() {
                    *key = pk.key;
                }
                if !overlapped.is_null() {
                    *overlapped = pk.overlapped as *mut OVERLAPPED;
                }
                if pk.status == 0 {
                    TRUE
                } else {
                    fail(crate::status::to_win32(pk.status))
                }
            },
            Err(_) => unsafe {
                if !overlapped.is_null() {
                    *overlapped = std::ptr::null_mut();
                }
                fail(WAIT_TIMEOUT)
            },
        }
    })
}

/// GetQueuedCompletionStatusEx.
#[no_mangle]
pub unsafe extern "C" fn GetQueuedCompletionStatusEx(
    port: HANDLE,
    entries: *mut OVERLAPPED_ENTRY,
    count: u32,
    removed: *mut u32,
    ms: DWORD,
    alertable: BOOL,
) -> BOOL {
    guard(FALSE, || {
        let Some(p) = handles::get_as::<Port>(port) else {
            return fail(ERROR_INVALID_HANDLE);
        };
        if entries.is_null() || count == 0 || removed.is_null() {
            return fail(ERROR_INVALID_PARAMETER);
        }
        match wait_until(ms, alertable != 0, || p.pop()) {
            Ok(first) => {
                let mut n = 0usize;
                let mut next = Some(first);
                while let Some(pk) = next {
                    // SAFETY: `entries` has room for `count` entries; n < count.
                    unsafe {
                        *entries.add(n) = OVERLAPPED_ENTRY {
                            lpCompletionKey: pk.key,
                            lpOverlapped: pk.overlapped as *mut OVERLAPPED,
                            Internal: pk.status as usize,
                            dwNumberOfBytesTransferred: pk.bytes,
                        };
                    }
                    n += 1;
                    next = if n < count as usize { p.pop() } else { None };
                }
                // SAFETY: checked non-null above.
                unsafe { *removed = n as u32 };
                TRUE
            }
            Err(code) => {
                // SAFETY: checked non-null above.
                unsafe { *removed = 0 };
                fail(code)
            }
        }
    })
}

/// PostQueuedCompletionStatus.
#[no_mangle]
pub extern "C" fn PostQueuedCompletionStatus(
    port: HANDLE,
    bytes: DWORD,
    key: usize,
    overlapped: *mut OVERLAPPED,
) -> BOOL {
    guard(FALSE, || {
        let Some(p) = handles::get_as::<Port>(port) else {
            return fail(ERROR_INVALID_HANDLE);
        };
        p.post(Packet {
            key,
            overlapped: overlapped as usize,
            bytes,
            status: 0,
        });
        TRUE
    })
}
