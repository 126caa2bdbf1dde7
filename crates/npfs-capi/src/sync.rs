//! Events, threads (with their APC queues) and I/O completion ports.

use std::any::Any;
use std::collections::VecDeque;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::*;
use crate::handles::{self, HandleObject};
use crate::port::Port;
use crate::signal;
use crate::thread::{current_thread, ThreadObj};
use crate::types::*;

/// An event (CreateEvent).
pub struct Event {
    manual: bool,
    state: AtomicBool,
}

impl Event {
    /// A new event.
    pub fn new(manual: bool, initial: bool) -> Arc<Event> {
        Arc::new(Event {
            manual,
            state: AtomicBool::new(initial),
        })
    }

    /// SetEvent.
    pub fn set(&self) {
        self.state.store(true, Ordering::SeqCst);
        signal::notify();
    }

    /// ResetEvent.
    pub fn reset(&self) {
        self.state.store(false, Ordering::SeqCst);
    }
}

impl HandleObject for Event {
    fn signalled(&self) -> Option<bool> {
        Some(self.state.load(Ordering::SeqCst))
    }
    fn acquire(&self) -> bool {
        self.manual
            || self
                .state
                .compare_exchange(true, false, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Set the event named by `h`, if it is one (used when operations complete).
pub fn set_event_handle(h: HANDLE) {
    if let Some(e) = handles::get_as::<Event>(h) {
        e.set();
    }
}

/// Reset the event named by `h`, if it is one (operations reset it when they start).
pub fn reset_event_handle(h: HANDLE) {
    if let Some(e) = handles::get_as::<Event>(h) {
        e.reset();
    }
}

/// CreateEventA.
#[no_mangle]
pub extern "C" fn CreateEventA(
    _sa: *mut SECURITY_ATTRIBUTES,
    manual: BOOL,
    initial: BOOL,
    _name: *const u8,
) -> HANDLE {
    guard(std::ptr::null_mut(), || {
        set_last_error(0);
        handles::insert(Event::new(manual != 0, initial != 0), 0)
    })
}

/// CreateEventW.
#[no_mangle]
pub extern "C" fn CreateEventW(
    sa: *mut SECURITY_ATTRIBUTES,
    manual: BOOL,
    initial: BOOL,
    _name: *const u16,
) -> HANDLE {
    CreateEventA(sa, manual, initial, std::ptr::null())
}

/// SetEvent.
#[no_mangle]
pub extern "C" fn SetEvent(h: HANDLE) -> BOOL {
    guard(FALSE, || match handles::get_as::<Event>(h) {
        Some(e) => {
            e.set();
            TRUE
        }
        None => fail(ERROR_INVALID_HANDLE),
    })
}

/// ResetEvent.
#[no_mangle]
pub extern "C" fn ResetEvent(h: HANDLE) -> BOOL {
    guard(FALSE, || match handles::get_as::<Event>(h) {
        Some(e) => {
            e.reset();
            TRUE
        }
        None => fail(ERROR_INVALID_HANDLE),
    })
}

/// `LPTHREAD_START_ROUTINE`. "C-unwind": ExitThread ends the thread by forced unwinding.
type StartRoutine = unsafe extern "C-unwind" fn(*mut c_void) -> DWORD;

struct Start {
    func: StartRoutine,
    arg: *mut c_void,
    thread: Arc<ThreadObj>,
    /// Set to the kernel thread id once the thread runs (CreateThread reports it).
    started: Arc<(Mutex<bool>, std::sync::Condvar)>,
}

extern "C-unwind" fn trampoline(p: *mut c_void) -> *mut c_void {
    // SAFETY: `p` is the Box<Start> CreateThread leaked for this thread.
    let start = unsafe { Box::from_raw(p.cast::<Start>()) };
    let (func, arg) = (start.func, start.arg);
    crate::thread::start_as(&start.thread);
    {
        let (lock, cv) = &*start.started;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }
    start.thread.wait_resumed();
    drop(start);
    // SAFETY: calling the application's LPTHREAD_START_ROUTINE with its own argument.
    let code = unsafe { func(arg) };
    current_thread().finish(code);
    std::ptr::null_mut()
}

/// `PAPCFUNC`: a user APC routine.
pub type UserApc = unsafe extern "C" fn(ULONG_PTR);

/// QueueUserAPC: queue `func(data)` to run in `thread`'s next alertable wait (SleepEx,
/// WaitForSingleObjectEx, WaitForMultipleObjectsEx, GetQueuedCompletionStatusEx with
/// `bAlertable`), after the APCs already queued, never during a non-alertable call. Returns
/// nonzero; 0 with `ERROR_INVALID_HANDLE` for a handle that is not a thread, or with
/// `ERROR_INVALID_PARAMETER` for a null routine.
#[no_mangle]
pub extern "C" fn QueueUserAPC(func: Option<UserApc>, thread: HANDLE, data: ULONG_PTR) -> DWORD {
    guard(0, || {
        let Some(t) = handles::get_as::<ThreadObj>(thread) else {
            set_last_error(ERROR_INVALID_HANDLE);
            return 0;
        };
        let Some(func) = func else {
            set_last_error(ERROR_INVALID_PARAMETER);
            return 0;
        };
        // SAFETY: the caller's routine, called with its own argument in the target thread's
        // alertable wait, as QueueUserAPC promises.
        t.queue_apc(Box::new(move || unsafe { func(data) }));
        1
    })
}

/// CreateThread.
#[no_mangle]
pub unsafe extern "C" fn CreateThread(
    _sa: *mut SECURITY_ATTRIBUTES,
    _stack: usize,
    func: Option<StartRoutine>,
    arg: *mut c_void,
    flags: DWORD,
    id: *mut DWORD,
) -> HANDLE {
    guard(std::ptr::null_mut(), || {
        let Some(func) = func else {
            set_last_error(ERROR_INVALID_PARAMETER);
            return std::ptr::null_mut();
        };
        let thread = Arc::new(ThreadObj {
            suspended: Mutex::new(u32::from(flags & CREATE_SUSPENDED != 0)),
            resumed: std::sync::Condvar::new(),
            id: AtomicU32::new(0),
            done: AtomicBool::new(false),
            exit_code: AtomicU32::new(STILL_ACTIVE),
            apcs: Mutex::new(VecDeque::new()),
            sync_io: Mutex::new(None),
        });
        let started = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let start = Box::into_raw(Box::new(Start {
            func,
            arg,
            thread: thread.clone(),
            started: started.clone(),
        }));
        let mut tid: libc::pthread_t = 0;
        // SAFETY: "C" and "C-unwind" share the machine ABI; the trampoline is "C-unwind" so
        // that ExitThread's forced unwind may leave it.
        let entry = unsafe {
            std::mem::transmute::<
                extern "C-unwind" fn(*mut c_void) -> *mut c_void,
                extern "C" fn(*mut c_void) -> *mut c_void,
            >(trampoline)
        };
        // SAFETY: a plain pthread with our trampoline, which takes back the Box.
        let rc = unsafe { libc::pthread_create(&mut tid, std::ptr::null(), entry, start.cast()) };
        if rc != 0 {
            // SAFETY: the thread was not created, so the Box is still ours.
            drop(unsafe { Box::from_raw(start) });
            set_last_error(ERROR_NOT_ENOUGH_MEMORY);
            return std::ptr::null_mut();
        }
        // SAFETY: detaching the thread we just created; its handle tracks its end.
        unsafe { libc::pthread_detach(tid) };
        let (lock, cv) = &*started;
        let mut ok = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !*ok {
            ok = cv.wait(ok).unwrap_or_else(|e| e.into_inner());
        }
        drop(ok);
        if !id.is_null() {
            // SAFETY: the caller's DWORD out-pointer (checked non-null).
            unsafe { *id = thread.id.load(Ordering::SeqCst) };
        }
        handles::insert(thread, 0)
    })
}

/// `CREATE_SUSPENDED`.
const CREATE_SUSPENDED: DWORD = 0x4;

/// ResumeThread: returns the previous suspend count.
#[no_mangle]
pub extern "C" fn ResumeThread(h: HANDLE) -> DWORD {
    guard(u32::MAX, || {
        let Some(t) = handles::get_as::<ThreadObj>(h) else {
            set_last_error(ERROR_INVALID_HANDLE);
            return u32::MAX;
        };
        let mut n = t.suspended.lock().unwrap_or_else(|e| e.into_inner());
        let prev = *n;
        *n = n.saturating_sub(1);
        t.resumed.notify_all();
        prev
    })
}

/// ExitThread: end the calling thread with `code` (by pthread_exit's forced unwinding, which
/// only crosses frames that own nothing).
#[no_mangle]
pub extern "C-unwind" fn ExitThread(code: DWORD) -> ! {
    let me = current_thread();
    me.finish(code);
    drop(me);
    // SAFETY: ending the calling thread; no Rust frame with a destructor is live above us
    // (the trampoline dropped everything before calling the start routine).
    unsafe { libc::pthread_exit(std::ptr::null_mut()) }
}

/// GetCurrentThreadId.
#[no_mangle]
pub extern "C" fn GetCurrentThreadId() -> DWORD {
    current_thread().id.load(Ordering::SeqCst)
}

impl HandleObject for ThreadObj {
    fn signalled(&self) -> Option<bool> {
        Some(self.done.load(Ordering::SeqCst))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl HandleObject for Port {
    fn signalled(&self) -> Option<bool> {
        None
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
