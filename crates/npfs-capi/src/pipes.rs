//! The pipe family: CreateNamedPipe, ConnectNamedPipe, CreateFile on pipe names, ReadFile,
//! WriteFile (synchronous and OVERLAPPED), the Ex forms with completion routines, the
//! completion-port packets, GetOverlappedResult(Ex), cancellation, and the query functions.
//!
//! Every data operation is an [`npfs_lib::ffi::IoOp`] of the library's engine. It is stepped
//! once on the calling thread: if it completes, the call completes at once (OVERLAPPED written,
//! event set, completion packet posted — or, for an immediate failure, nothing touched but the
//! last error). Otherwise it is handed to a worker thread that waits for it and completes the
//! OVERLAPPED exactly as the kernel would.

use std::any::Any;
use std::ffi::{c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use npfs_lib::ffi::{CancelToken, Completion, Finished, IoOp, RawBufs};
use npfs_lib::{AccessNeed, PipeClient, PipeHandle, PipeServer, ServerOptions, Win32Error};

use crate::error::*;
use crate::handles::{self, HandleObject};
use crate::port::{Packet, Port};
use crate::status::{self, STATUS_BUFFER_OVERFLOW, STATUS_PENDING};
use crate::sync;
use crate::thread::current_thread;
use crate::types::*;

const FILE_FLAG_OVERLAPPED: DWORD = 0x4000_0000;
const ERROR_IO_PENDING: DWORD = 997;
const ERROR_IO_INCOMPLETE: DWORD = 996;
const ERROR_MORE_DATA: DWORD = 234;
const ERROR_NOT_FOUND: DWORD = 1168;
const ERROR_INVALID_FUNCTION: DWORD = 1;
const ERROR_PATH_NOT_FOUND: DWORD = 3;
const ERROR_INSUFFICIENT_BUFFER: DWORD = 122;
const ERROR_ALREADY_EXISTS: DWORD = 183;

/// `FILE_SKIP_COMPLETION_PORT_ON_SUCCESS`: an overlapped call that succeeds at once queues no
/// packet to the handle's completion port.
#[doc(alias = "SetFileCompletionNotificationModes")]
pub const FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: u8 = 0x1;
/// `FILE_SKIP_SET_EVENT_ON_HANDLE`: completions do not signal the file handle itself.
#[doc(alias = "SetFileCompletionNotificationModes")]
pub const FILE_SKIP_SET_EVENT_ON_HANDLE: u8 = 0x2;
/// `FILE_SKIP_SET_USER_EVENT_ON_FAST_IO` (wdm.h): accepted, without effect (there is no fast
/// I/O path here).
const FILE_SKIP_SET_USER_EVENT_ON_FAST_IO: u8 = 0x4;

enum End {
    Server(PipeServer),
    Client(PipeClient),
    Inherited(PipeHandle),
}

/// A count of pending operations that one can wait to see reach zero.
#[derive(Default)]
struct InFlight {
    n: Mutex<usize>,
    idle: std::sync::Condvar,
}

impl InFlight {
    fn start(&self) {
        *self.n.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }
    fn finish(&self) {
        let mut n = self.n.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        if *n == 0 {
            self.idle.notify_all();
        }
    }
    /// Wait until none is pending, or `limit` passed.
    fn wait_idle(&self, limit: std::time::Duration) {
        let n = self.n.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self
            .idle
            .wait_timeout_while(n, limit, |n| *n > 0)
            .unwrap_or_else(|e| e.into_inner());
    }
}

struct Pending {
    ov: usize,
    thread: u32,
    token: Arc<CancelToken>,
    cancelled: bool,
}

/// A pipe handle's object.
pub struct PipeObj {
    end: End,
    overlapped: bool,
    /// The handle's own signal: set when idle, reset while an overlapped operation pends.
    signalled: AtomicBool,
    pending: Mutex<Vec<Pending>>,
    port: Mutex<Option<(Arc<Port>, usize)>>,
    /// The last handle was closed.
    closed: AtomicBool,
    /// Operations pending on the completion driver (they hold references to this object
    /// and the pipe); the last CloseHandle waits for them to finish.
    in_flight: Arc<InFlight>,
    /// SetFileCompletionNotificationModes' flags (`FILE_SKIP_*`), cumulative.
    notify_modes: AtomicU8,
}

impl PipeObj {
    fn new(end: End, overlapped: bool) -> Arc<PipeObj> {
        Arc::new(PipeObj {
            end,
            overlapped,
            signalled: AtomicBool::new(true),
            pending: Mutex::new(Vec::new()),
            port: Mutex::new(None),
            closed: AtomicBool::new(false),
            in_flight: Arc::default(),
            notify_modes: AtomicU8::new(0),
        })
    }

    fn skips(&self, mode: u8) -> bool {
        self.notify_modes.load(Ordering::SeqCst) & mode != 0
    }

    /// An operation without an event completed: the handle itself is signalled, unless
    /// `FILE_SKIP_SET_EVENT_ON_HANDLE` is set.
    fn signal_completion(&self) {
        if !self.skips(FILE_SKIP_SET_EVENT_ON_HANDLE) {
            self.signalled.store(true, Ordering::SeqCst);
        }
    }

    /// The completion port bound to this file, if any.
    fn port(&self) -> Option<(Arc<Port>, usize)> {
        self.port.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// The pipe handle behind this object.
    pub fn handle(&self) -> &PipeHandle {
        match &self.end {
            End::Server(s) => s,
            End::Client(c) => c,
            End::Inherited(h) => h,
        }
    }

    fn server(&self) -> Option<&PipeServer> {
        match &self.end {
            End::Server(s) => Some(s),
            _ => None,
        }
    }
}

impl HandleObject for PipeObj {
    fn signalled(&self) -> Option<bool> {
        if !self.signalled.load(Ordering::SeqCst) {
            return Some(false);
        }
        // A client detached by DisconnectNamedPipe is not signalled.
        let detached = matches!(self.end, End::Client(_) | End::Inherited(_))
            && self.handle().state() == npfs_lib::PipeState::Disconnected;
        Some(!detached)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn closing(&self, last: bool) {
        if !last {
            return;
        }
        // The last handle closes: its pending I/O is cancelled, and completes before
        // CloseHandle returns (so the instance is gone by then, as on Windows).
        self.closed.store(true, Ordering::SeqCst);
        for p in self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            p.token.cancel();
        }
        // Wait for the cancelled operations to complete and let go of the pipe, so that the
        // instance is gone when CloseHandle returns (woken by the last one; the limit only
        // bounds a driver that cannot run).
        self.in_flight.wait_idle(std::time::Duration::from_secs(2));
        // A remote handle's cancelled READ runs on in the completion driver's pool (smbd
        // cannot cancel it): close the SMB side now, as CloseHandle does on Windows.
        self.handle().close_remote();
    }
    fn associate(&self, port: Arc<Port>, key: usize) -> bool {
        *self.port.lock().unwrap_or_else(|e| e.into_inner()) = Some((port, key));
        true
    }
    fn granted_access(&self) -> Option<DWORD> {
        Some(self.handle().granted_access())
    }
}

fn new_handle(end: End, overlapped: bool, inherit: bool) -> HANDLE {
    handles::insert(
        PipeObj::new(end, overlapped),
        if inherit { HANDLE_FLAG_INHERIT } else { 0 },
    )
}

fn pipe(h: HANDLE) -> Result<Arc<PipeObj>, DWORD> {
    handles::get_as::<PipeObj>(h).ok_or(ERROR_INVALID_HANDLE)
}

/// The pipe `h` names, if the handle holds what `need` names (`ERROR_ACCESS_DENIED`
/// otherwise): its end's access, narrowed for a DuplicateHandle copy that asked for less.
/// Checked before anything else, as the I/O manager checks a handle's access.
fn pipe_for(h: HANDLE, need: AccessNeed) -> Result<Arc<PipeObj>, DWORD> {
    let obj = pipe(h)?;
    check_access(h, &obj, need)?;
    Ok(obj)
}

/// `ERROR_ACCESS_DENIED` unless handle `h` (naming `obj`) holds what `need` names.
fn check_access(h: HANDLE, obj: &PipeObj, need: AccessNeed) -> Result<(), DWORD> {
    let held = handles::narrowed_access(h).unwrap_or_else(|| obj.handle().granted_access());
    if npfs_core::config::access_allows(held, need) {
        Ok(())
    } else {
        Err(Win32Error::ACCESS_DENIED.0)
    }
}

/// Every overlapped call resets the OVERLAPPED's event on entry, once the handle (and its
/// access) passed the checks: the I/O manager clears it before the file system sees the
/// request, so an immediate failure leaves it reset too.
fn reset_ov_event(ov: *const OVERLAPPED) {
    if !ov.is_null() {
        // SAFETY: the caller's OVERLAPPED, valid for the call (Win32 contract).
        sync::reset_event_handle(unsafe { (*ov).hEvent });
    }
}

unsafe fn cstr(p: *const u8) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: a NUL-terminated string, as the API requires.
    Some(
        unsafe { CStr::from_ptr(p.cast()) }
            .to_string_lossy()
            .into_owned(),
    )
}

unsafe fn wstr(p: *const u16) -> Option<String> {
    if p.is_null() {
        return None;
    }
    let mut n = 0;
    // SAFETY: a NUL-terminated UTF-16 string, as the API requires.
    unsafe {
        while *p.add(n) != 0 {
            n += 1;
        }
        Some(String::from_utf16_lossy(std::slice::from_raw_parts(p, n)))
    }
}

/// The descriptor of a SECURITY_ATTRIBUTES, if it has one.
unsafe fn descriptor_of(
    sa: *const SECURITY_ATTRIBUTES,
) -> Result<Option<npfs_lib::SecurityDescriptor>, Win32Error> {
    // SAFETY: a valid SECURITY_ATTRIBUTES or NULL.
    if sa.is_null() || unsafe { (*sa).lpSecurityDescriptor }.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's descriptor.
    unsafe { crate::sd::read_descriptor((*sa).lpSecurityDescriptor) }.map(Some)
}

unsafe fn inherit_of(sa: *const SECURITY_ATTRIBUTES) -> bool {
    // SAFETY: a valid SECURITY_ATTRIBUTES or NULL.
    !sa.is_null() && unsafe { (*sa).bInheritHandle } != 0
}

#[allow(clippy::too_many_arguments)]
fn create_named_pipe(
    sd: Option<npfs_lib::SecurityDescriptor>,
    name: Option<String>,
    open_mode: DWORD,
    pipe_mode: DWORD,
    max: DWORD,
    out: DWORD,
    inb: DWORD,
    timeout: DWORD,
    inherit: bool,
) -> HANDLE {
    let Some(name) = name else {
        set_last_error(ERROR_PATH_NOT_FOUND);
        return INVALID_HANDLE_VALUE;
    };
    let mut opts = ServerOptions::from_raw(open_mode, pipe_mode, max, out, inb, timeout);
    if let Some(sd) = &sd {
        opts.security_descriptor(sd);
    }
    match opts.create(&name) {
        Ok(s) => {
            let existed = s.already_existed();
            let h = new_handle(
                End::Server(s),
                open_mode & FILE_FLAG_OVERLAPPED != 0,
                inherit,
            );
            set_last_error(if existed { ERROR_ALREADY_EXISTS } else { 0 });
            h
        }
        Err(e) => {
            set_last_error(e.0);
            INVALID_HANDLE_VALUE
        }
    }
}

/// CreateNamedPipeA.
#[no_mangle]
pub unsafe extern "C" fn CreateNamedPipeA(
    name: *const u8,
    open_mode: DWORD,
    pipe_mode: DWORD,
    max: DWORD,
    out: DWORD,
    inb: DWORD,
    timeout: DWORD,
    sa: *const SECURITY_ATTRIBUTES,
) -> HANDLE {
    // SAFETY: the caller's strings and attributes, per the API contract.
    guard(INVALID_HANDLE_VALUE, || unsafe {
        let sd = match descriptor_of(sa) {
            Ok(sd) => sd,
            Err(e) => {
                set_last_error(e.0);
                return INVALID_HANDLE_VALUE;
            }
        };
        create_named_pipe(
            sd,
            cstr(name),
            open_mode,
            pipe_mode,
            max,
            out,
            inb,
            timeout,
            inherit_of(sa),
        )
    })
}

/// CreateNamedPipeW.
#[no_mangle]
pub unsafe extern "C" fn CreateNamedPipeW(
    name: *const u16,
    open_mode: DWORD,
    pipe_mode: DWORD,
    max: DWORD,
    out: DWORD,
    inb: DWORD,
    timeout: DWORD,
    sa: *const SECURITY_ATTRIBUTES,
) -> HANDLE {
    // SAFETY: as above.
    guard(INVALID_HANDLE_VALUE, || unsafe {
        let sd = match descriptor_of(sa) {
            Ok(sd) => sd,
            Err(e) => {
                set_last_error(e.0);
                return INVALID_HANDLE_VALUE;
            }
        };
        create_named_pipe(
            sd,
            wstr(name),
            open_mode,
            pipe_mode,
            max,
            out,
            inb,
            timeout,
            inherit_of(sa),
        )
    })
}

fn create_file(name: Option<String>, access: DWORD, flags: DWORD, inherit: bool) -> HANDLE {
    let Some(name) = name else {
        set_last_error(ERROR_PATH_NOT_FOUND);
        return INVALID_HANDLE_VALUE;
    };
    match PipeClient::open(&name, access) {
        Ok(c) => {
            let h = new_handle(End::Client(c), flags & FILE_FLAG_OVERLAPPED != 0, inherit);
            set_last_error(0);
            h
        }
        Err(e) => {
            set_last_error(e.0);
            INVALID_HANDLE_VALUE
        }
    }
}

/// CreateFileA (pipe names: `\\.\pipe\NAME`).
#[no_mangle]
pub unsafe extern "C" fn CreateFileA(
    name: *const u8,
    access: DWORD,
    _share: DWORD,
    sa: *const SECURITY_ATTRIBUTES,
    _disposition: DWORD,
    flags: DWORD,
    _template: HANDLE,
) -> HANDLE {
    // SAFETY: the caller's string and attributes.
    guard(INVALID_HANDLE_VALUE, || unsafe {
        create_file(cstr(name), access, flags, inherit_of(sa))
    })
}

/// CreateFileW.
#[no_mangle]
pub unsafe extern "C" fn CreateFileW(
    name: *const u16,
    access: DWORD,
    _share: DWORD,
    sa: *const SECURITY_ATTRIBUTES,
    _disposition: DWORD,
    flags: DWORD,
    _template: HANDLE,
) -> HANDLE {
    // SAFETY: as above.
    guard(INVALID_HANDLE_VALUE, || unsafe {
        create_file(wstr(name), access, flags, inherit_of(sa))
    })
}

/// Adopt an inherited end (see [`crate::inherit`]).
pub fn adopt(handle: HANDLE, h: PipeHandle, overlapped: bool) {
    handles::insert_at(
        handle,
        PipeObj::new(End::Inherited(h), overlapped),
        HANDLE_FLAG_INHERIT,
    );
}

/// The inheritance token of a pipe handle (for a child process).
pub fn token_of(obj: &Arc<dyn HandleObject>) -> Option<(String, bool)> {
    let p = obj.as_any().downcast_ref::<PipeObj>()?;
    p.handle().inherit_token().ok().map(|t| (t, p.overlapped))
}

// ----- completing operations ------------------------------------------------------------------

/// How an operation reports its completion.
#[derive(Clone, Copy)]
struct Report {
    ov: *mut OVERLAPPED,
    routine: CompletionRoutine,
    thread: u32,
}

// SAFETY: the OVERLAPPED belongs to the caller, who keeps it alive until completion; only the
// completing thread writes it.
unsafe impl Send for Report {}

fn nt_status(r: &Result<Completion, Win32Error>) -> (u32, usize) {
    match r {
        Ok(c) if c.more_data => (STATUS_BUFFER_OVERFLOW, c.bytes),
        Ok(c) => (0, c.bytes),
        Err(e) => (status::from_win32(e.0), 0),
    }
}

/// Write the result into the OVERLAPPED, signal, post the packet (unless `skip_port`: an
/// immediate success under `FILE_SKIP_COMPLETION_PORT_ON_SUCCESS`), queue the routine.
fn complete(obj: &Arc<PipeObj>, rep: Report, r: &Result<Completion, Win32Error>, skip_port: bool) {
    let (st, bytes) = nt_status(r);
    // Where the completion goes is settled before anything shows it: a caller that sees the
    // OVERLAPPED written (or its event set) and then binds the handle to a port must not get a
    // packet for this operation.
    let port = obj.port().filter(|_| !skip_port);
    let event = if rep.ov.is_null() || rep.routine.is_some() {
        std::ptr::null_mut()
    } else {
        // SAFETY: the caller's OVERLAPPED, alive until completion (Win32 contract); read
        // before the completion is visible, after which the caller may reuse it.
        unsafe { (*rep.ov).hEvent }
    };
    if !rep.ov.is_null() {
        // SAFETY: the caller's OVERLAPPED, alive until completion (Win32 contract).
        unsafe {
            std::ptr::write_volatile(&mut (*rep.ov).InternalHigh, bytes);
            std::ptr::write_volatile(&mut (*rep.ov).Internal, st as usize);
        }
    }
    obj.pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|p| p.ov != rep.ov as usize);
    if event.is_null() {
        // Without an event, the file handle itself is what signals completion.
        obj.signal_completion();
    } else {
        sync::set_event_handle(event);
    }
    if let Some(routine) = rep.routine {
        let ov = rep.ov as usize;
        let err = status::to_win32(st);
        if let Some(t) = crate::thread::thread_by_id(rep.thread) {
            t.queue_apc(Box::new(move || {
                // SAFETY: the application's completion routine with its own OVERLAPPED.
                unsafe { routine(err, bytes as DWORD, ov as *mut OVERLAPPED) }
            }));
        }
    } else if let Some((port, key)) = port {
        port.post(Packet {
            key,
            overlapped: rep.ov as usize,
            bytes: bytes as DWORD,
            status: st,
        });
    }
    crate::signal::notify();
}

/// Start `op`; complete it at once or hand it to a worker. Returns the Win32 result of the
/// call itself. The caller has reset the OVERLAPPED's event (see [`reset_ov_event`]).
fn start(
    obj: Arc<PipeObj>,
    mut op: IoOp,
    bufs: RawBufs,
    ov: *mut OVERLAPPED,
    routine: CompletionRoutine,
    out_bytes: *mut DWORD,
) -> BOOL {
    // SAFETY: buffers and OVERLAPPED per the Win32 contract.
    let first = unsafe { op.step(bufs) };
    let rep = Report {
        ov,
        routine,
        thread: current_thread_id(),
    };
    // A request with an event leaves the handle itself unsignalled: the I/O manager resets
    // the file's own event as every request starts and sets it only for one without an event.
    // SAFETY: the caller's OVERLAPPED.
    let has_event = !ov.is_null() && routine.is_none() && !unsafe { (*ov).hEvent }.is_null();
    match first {
        Some(Err(e)) => fail(e.0),
        Some(r) if op.is_connect() => {
            // The instance was listening when the call began (connect_start saw no client)
            // and a client arrived since: on Windows that client completes the pending
            // listen, so an overlapped ConnectNamedPipe never returns TRUE. It is pending,
            // completed already: event set, packet posted.
            if has_event {
                obj.signalled.store(false, Ordering::SeqCst);
            }
            complete(&obj, rep, &r, false);
            fail(ERROR_IO_PENDING)
        }
        Some(r) => {
            let c = r.unwrap_or(Completion {
                bytes: 0,
                more_data: false,
            });
            // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: a success at once queues no packet. A
            // partial message read (a warning, STATUS_BUFFER_OVERFLOW) is reported as pending
            // instead, with its packet, as Windows 8 and later do (conformance.md
            // test_completion), so that a port-driven caller still learns of it.
            let skipping = routine.is_none()
                && obj.skips(FILE_SKIP_COMPLETION_PORT_ON_SUCCESS)
                && obj.port().is_some();
            if skipping && c.more_data {
                if has_event {
                    obj.signalled.store(false, Ordering::SeqCst);
                }
                complete(&obj, rep, &r, false);
                return fail(ERROR_IO_PENDING);
            }
            // Immediate completion: event set, packet posted, routine queued.
            if has_event {
                obj.signalled.store(false, Ordering::SeqCst);
            }
            complete(&obj, rep, &r, skipping);
            if c.more_data {
                if routine.is_some() {
                    set_last_error(ERROR_MORE_DATA);
                    return TRUE;
                }
                return fail(ERROR_MORE_DATA);
            }
            if !out_bytes.is_null() {
                // SAFETY: the caller's DWORD out-pointer.
                unsafe { *out_bytes = c.bytes as DWORD };
            }
            set_last_error(0);
            TRUE
        }
        None => {
            obj.signalled.store(false, Ordering::SeqCst);
            obj.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Pending {
                    ov: ov as usize,
                    thread: rep.thread,
                    token: op.token(),
                    cancelled: false,
                });
            let done_obj = obj.clone();
            obj.in_flight.start();
            // SAFETY: the caller keeps the buffers alive until the operation completes (the
            // Win32 contract for overlapped I/O).
            let submitted = unsafe {
                npfs_lib::completion::submit(op, bufs, move |op, finished| {
                    let r = match finished {
                        Finished::Done(r) => r,
                        // A listen ended by closing the server handle completes with
                        // STATUS_PIPE_BROKEN; everything else with STATUS_CANCELLED.
                        Finished::Cancelled => Err(
                            if done_obj.closed.load(Ordering::SeqCst) && op.is_connect() {
                                Win32Error::BROKEN_PIPE
                            } else {
                                Win32Error::OPERATION_ABORTED
                            },
                        ),
                    };
                    complete(&done_obj, rep, &r, false);
                    drop(op);
                    let in_flight = done_obj.in_flight.clone();
                    drop(done_obj);
                    in_flight.finish();
                })
            };
            if submitted.is_err() {
                obj.in_flight.finish();
                return fail(ERROR_NOT_ENOUGH_MEMORY);
            }
            if routine.is_some() {
                set_last_error(0);
                return TRUE;
            }
            fail(ERROR_IO_PENDING)
        }
    }
}

fn current_thread_id() -> u32 {
    crate::sync::GetCurrentThreadId()
}

/// Run `op` on this thread (a synchronous call), cancellable by CancelSynchronousIo. The
/// handle is not signalled while the call waits.
fn run_sync(obj: &PipeObj, mut op: IoOp, bufs: RawBufs) -> Result<Completion, Win32Error> {
    // SAFETY: the caller's buffers, alive for the call.
    if let Some(r) = unsafe { op.step(bufs) } {
        return r;
    }
    let me = current_thread();
    me.set_sync_io(Some(op.token()));
    obj.signalled.store(false, Ordering::SeqCst);
    // SAFETY: as above.
    let r = unsafe { op.run(bufs) };
    obj.signal_completion();
    me.set_sync_io(None);
    crate::signal::notify();
    r
}

/// A call with an OVERLAPPED on a synchronous handle completed: the I/O manager writes the
/// status block (the OVERLAPPED) and sets its event, as for any completion.
fn sync_completed(ov: *mut OVERLAPPED, r: &Result<Completion, Win32Error>) {
    let (st, bytes) = nt_status(r);
    // SAFETY: the caller's OVERLAPPED, valid for the call.
    unsafe {
        (*ov).Internal = st as usize;
        (*ov).InternalHigh = bytes;
        sync::set_event_handle((*ov).hEvent);
    }
    crate::signal::notify();
}

enum Io {
    Read,
    Write,
    Transact,
}

fn remote_kind(k: &Io) -> crate::remote::RemoteIo {
    match k {
        Io::Read => crate::remote::RemoteIo::Read,
        Io::Write => crate::remote::RemoteIo::Write,
        Io::Transact => crate::remote::RemoteIo::Transact,
    }
}

#[allow(clippy::too_many_arguments)]
unsafe fn do_io(
    h: HANDLE,
    kind: Io,
    bufs: RawBufs,
    out_bytes: *mut DWORD,
    ov: *mut OVERLAPPED,
    routine: CompletionRoutine,
    ex: bool,
) -> BOOL {
    if !out_bytes.is_null() {
        // SAFETY: the caller's DWORD out-pointer: zeroed before any work, as Windows does.
        unsafe { *out_bytes = 0 };
    }
    let obj = match pipe(h) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    if ex && !obj.overlapped {
        return fail(ERROR_INVALID_PARAMETER);
    }
    if !ov.is_null() {
        // kernel32 marks the OVERLAPPED pending before anything else.
        // SAFETY: the caller's OVERLAPPED.
        unsafe { std::ptr::write_volatile(&mut (*ov).Internal, STATUS_PENDING as usize) };
    } else if out_bytes.is_null() {
        return fail(ERROR_INVALID_PARAMETER);
    }
    let need = match kind {
        Io::Read => AccessNeed::Read,
        Io::Write => AccessNeed::Write,
        Io::Transact => AccessNeed::ReadWrite,
    };
    if let Err(e) = check_access(h, &obj, need) {
        return fail(e);
    }
    // A completion routine and a completion port exclude each other (NtReadFile with an APC
    // on a handle bound to a port: STATUS_INVALID_PARAMETER).
    if ex && obj.port().is_some() {
        return fail(ERROR_INVALID_PARAMETER);
    }
    // The Ex forms leave hEvent to the application; the others reset it now.
    if routine.is_none() {
        reset_ov_event(ov);
    }
    let handle = obj.handle();
    if handle.is_remote() && !(ex || (obj.overlapped && !ov.is_null())) {
        // A synchronous call on a remote handle: the SMB call on this thread. Overlapped
        // (and Ex) calls take the common path below: their SMB call runs on the completion
        // driver's blocking pool.
        // SAFETY: the caller's buffers and out-pointer, as for a local handle.
        return unsafe { crate::remote::io(handle, remote_kind(&kind), bufs, out_bytes) };
    }
    let op = match kind {
        Io::Read => IoOp::read(handle),
        Io::Write => IoOp::write(handle),
        Io::Transact => IoOp::transact(handle),
    };
    let op = match op {
        Ok(op) => op,
        Err(e) => return fail(e.0),
    };
    if obj.overlapped && !ov.is_null() {
        return start(obj, op, bufs, ov, routine, out_bytes);
    }
    // A synchronous handle (or no OVERLAPPED): the call completes here.
    let r = run_sync(&obj, op, bufs);
    if !ov.is_null() && r.is_ok() {
        sync_completed(ov, &r);
    }
    match r {
        Ok(c) => {
            if !out_bytes.is_null() && (ov.is_null() || !c.more_data) {
                // SAFETY: the caller's DWORD out-pointer.
                unsafe { *out_bytes = c.bytes as DWORD };
            }
            if c.more_data {
                fail(ERROR_MORE_DATA)
            } else {
                set_last_error(0);
                TRUE
            }
        }
        Err(e) => fail(e.0),
    }
}

/// ReadFile.
#[no_mangle]
pub unsafe extern "C" fn ReadFile(
    h: HANDLE,
    buf: *mut c_void,
    len: DWORD,
    read: *mut DWORD,
    ov: *mut OVERLAPPED,
) -> BOOL {
    let bufs = RawBufs {
        buf: buf.cast(),
        buf_len: len as usize,
        data: std::ptr::null(),
        data_len: 0,
    };
    // SAFETY: forwarded contract.
    guard(FALSE, || unsafe {
        do_io(h, Io::Read, bufs, read, ov, None, false)
    })
}

/// WriteFile.
#[no_mangle]
pub unsafe extern "C" fn WriteFile(
    h: HANDLE,
    buf: *const c_void,
    len: DWORD,
    written: *mut DWORD,
    ov: *mut OVERLAPPED,
) -> BOOL {
    let bufs = RawBufs {
        buf: std::ptr::null_mut(),
        buf_len: 0,
        data: buf.cast(),
        data_len: len as usize,
    };
    // SAFETY: forwarded contract.
    guard(FALSE, || unsafe {
        do_io(h, Io::Write, bufs, written, ov, None, false)
    })
}

/// ReadFileEx: the routine runs in the issuing thread's next alertable wait.
#[no_mangle]
pub unsafe extern "C" fn ReadFileEx(
    h: HANDLE,
    buf: *mut c_void,
    len: DWORD,
    ov: *mut OVERLAPPED,
    routine: CompletionRoutine,
) -> BOOL {
    let bufs = RawBufs {
        buf: buf.cast(),
        buf_len: len as usize,
        data: std::ptr::null(),
        data_len: 0,
    };
    if ov.is_null() || routine.is_none() {
        return fail(ERROR_INVALID_PARAMETER);
    }
    // SAFETY: forwarded contract.
    guard(FALSE, || unsafe {
        do_io(h, Io::Read, bufs, std::ptr::null_mut(), ov, routine, true)
    })
}

/// WriteFileEx.
#[no_mangle]
pub unsafe extern "C" fn WriteFileEx(
    h: HANDLE,
    buf: *const c_void,
    len: DWORD,
    ov: *mut OVERLAPPED,
    routine: CompletionRoutine,
) -> BOOL {
    let bufs = RawBufs {
        buf: std::ptr::null_mut(),
        buf_len: 0,
        data: buf.cast(),
        data_len: len as usize,
    };
    if ov.is_null() || routine.is_none() {
        return fail(ERROR_INVALID_PARAMETER);
    }
    // SAFETY: forwarded contract.
    guard(FALSE, || unsafe {
        do_io(h, Io::Write, bufs, std::ptr::null_mut(), ov, routine, true)
    })
}

/// TransactNamedPipe.
#[no_mangle]
pub unsafe extern "C" fn TransactNamedPipe(
    h: HANDLE,
    inbuf: *const c_void,
    inlen: DWORD,
    outbuf: *mut c_void,
    outlen: DWORD,
    read: *mut DWORD,
    ov: *mut OVERLAPPED,
) -> BOOL {
    let bufs = RawBufs {
        buf: outbuf.cast(),
        buf_len: outlen as usize,
        data: inbuf.cast(),
        data_len: inlen as usize,
    };
    // SAFETY: forwarded contract.
    guard(FALSE, || unsafe {
        do_io(h, Io::Transact, bufs, read, ov, None, false)
    })
}

/// ConnectNamedPipe: FALSE with `ERROR_PIPE_CONNECTED` when a client is there already,
/// `ERROR_NO_DATA` when it came and went (closed, or its process ended), `ERROR_PIPE_LISTENING`
/// on a `PIPE_NOWAIT` handle with no client (nothing stays pending); otherwise it waits for a
/// client (TRUE), or with an OVERLAPPED on an overlapped handle returns FALSE with
/// `ERROR_IO_PENDING` — never TRUE — and completes when one arrives. The OVERLAPPED's event
/// is reset on entry, whatever the outcome.
#[no_mangle]
pub unsafe extern "C" fn ConnectNamedPipe(h: HANDLE, ov: *mut OVERLAPPED) -> BOOL {
    guard(FALSE, || {
        let obj = match pipe(h) {
            Ok(o) => o,
            Err(e) => return fail(e),
        };
        if !ov.is_null() {
            // kernel32 marks the OVERLAPPED pending before anything else, and the I/O
            // manager resets its event before the file system sees the request.
            // SAFETY: the caller's OVERLAPPED.
            unsafe { std::ptr::write_volatile(&mut (*ov).Internal, STATUS_PENDING as usize) };
            reset_ov_event(ov);
        }
        let Some(server) = obj.server() else {
            return fail(ERROR_INVALID_FUNCTION);
        };
        let op = match IoOp::connect(server) {
            Ok(op) => op,
            Err(e) => return fail(e.0),
        };
        let none = RawBufs {
            buf: std::ptr::null_mut(),
            buf_len: 0,
            data: std::ptr::null(),
            data_len: 0,
        };
        if obj.overlapped && !ov.is_null() {
            return start(obj.clone(), op, none, ov, None, std::ptr::null_mut());
        }
        let r = run_sync(&obj, op, none);
        if !ov.is_null() && r.is_ok() {
            sync_completed(ov, &r);
        }
        match r {
            Ok(_) => {
                set_last_error(0);
                TRUE
            }
            Err(e) => fail(e.0),
        }
    })
}

/// DisconnectNamedPipe.
#[no_mangle]
pub extern "C" fn DisconnectNamedPipe(h: HANDLE) -> BOOL {
    guard(FALSE, || {
        let obj = match pipe(h) {
            Ok(o) => o,
            Err(e) => return fail(e),
        };
        let Some(server) = obj.server() else {
            return fail(ERROR_INVALID_FUNCTION);
        };
        // Disconnecting closes the connection's descriptors: not while a child is being
        // handed them (CreateProcess).
        let _stable = crate::inherit::fds_stable();
        match server.disconnect() {
            Ok(()) => TRUE,
            Err(e) => fail(e.0),
        }
    })
}

/// FlushFileBuffers (waits even on an overlapped handle, as on Windows).
#[no_mangle]
pub extern "C" fn FlushFileBuffers(h: HANDLE) -> BOOL {
    guard(FALSE, || {
        let obj = match pipe_for(h, AccessNeed::Write) {
            Ok(o) => o,
            Err(e) => return fail(e),
        };
        let none = RawBufs {
            buf: std::ptr::null_mut(),
            buf_len: 0,
            data: std::ptr::null(),
            data_len: 0,
        };
        match IoOp::flush(obj.handle()) {
            Ok(None) => TRUE,
            Ok(Some(op)) => match run_sync(&obj, op, none) {
                Ok(_) => TRUE,
                Err(e) => fail(e.0),
            },
            Err(e) => fail(e.0),
        }
    })
}

fn read_status(ov: *const OVERLAPPED) -> (usize, usize) {
    // SAFETY: the caller's OVERLAPPED; the completing thread writes it with volatile stores.
    unsafe {
        (
            std::ptr::read_volatile(&(*ov).Internal),
            std::ptr::read_volatile(&(*ov).InternalHigh),
        )
    }
}

fn overlapped_result(ov: *const OVERLAPPED, bytes: *mut DWORD) -> BOOL {
    let (st, n) = read_status(ov);
    if !bytes.is_null() {
        // SAFETY: the caller's DWORD out-pointer.
        unsafe { *bytes = n as DWORD };
    }
    if st == 0 {
        set_last_error(0);
        TRUE
    } else {
        fail(status::to_win32(st as u32))
    }
}

unsafe fn get_overlapped_result(
    h: HANDLE,
    ov: *mut OVERLAPPED,
    bytes: *mut DWORD,
    ms: DWORD,
    alertable: bool,
) -> BOOL {
    if ov.is_null() {
        return fail(ERROR_INVALID_PARAMETER);
    }
    if read_status(ov).0 != STATUS_PENDING as usize {
        return overlapped_result(ov, bytes);
    }
    if ms == 0 {
        // Still pending, not waited for: ERROR_IO_INCOMPLETE, and no byte count yet (0).
        if !bytes.is_null() {
            // SAFETY: the caller's DWORD out-pointer.
            unsafe { *bytes = 0 };
        }
        return fail(ERROR_IO_INCOMPLETE);
    }
    // SAFETY: the caller's OVERLAPPED.
    let event = unsafe { (*ov).hEvent };
    let obj = handles::get(if event.is_null() { h } else { event });
    let r = crate::wait::wait_until(ms, alertable, || {
        (read_status(ov).0 != STATUS_PENDING as usize).then_some(())
    });
    if let (Ok(()), Some(o)) = (&r, obj) {
        o.acquire();
    }
    match r {
        Ok(()) => overlapped_result(ov, bytes),
        Err(code) => fail(code),
    }
}

/// GetOverlappedResult: the result of the operation `ov` started. While it is still pending,
/// `bWait` FALSE fails with `ERROR_IO_INCOMPLETE` and sets `*lpNumberOfBytesTransferred` to 0;
/// TRUE waits on `ov->hEvent`, or on the handle itself when there is none.
#[no_mangle]
pub unsafe extern "C" fn GetOverlappedResult(
    h: HANDLE,
    ov: *mut OVERLAPPED,
    bytes: *mut DWORD,
    wait: BOOL,
) -> BOOL {
    // SAFETY: forwarded contract.
    guard(FALSE, || unsafe {
        get_overlapped_result(h, ov, bytes, if wait != 0 { INFINITE } else { 0 }, false)
    })
}

/// GetOverlappedResultEx.
#[no_mangle]
pub unsafe extern "C" fn GetOverlappedResultEx(
    h: HANDLE,
    ov: *mut OVERLAPPED,
    bytes: *mut DWORD,
    ms: DWORD,
    alertable: BOOL,
) -> BOOL {
    // SAFETY: forwarded contract.
    guard(FALSE, || unsafe {
        get_overlapped_result(h, ov, bytes, ms, alertable != 0)
    })
}

fn cancel(h: HANDLE, pick: impl Fn(&Pending) -> bool) -> BOOL {
    let obj = match pipe(h) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let mut any = false;
    for p in obj
        .pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter_mut()
    {
        if !p.cancelled && pick(p) {
            p.cancelled = true;
            p.token.cancel();
            any = true;
        }
    }
    if any {
        TRUE
    } else {
        fail(ERROR_NOT_FOUND)
    }
}

/// CancelIo: the calling thread's pending I/O on `h`.
#[no_mangle]
pub extern "C" fn CancelIo(h: HANDLE) -> BOOL {
    guard(FALSE, || {
        let me = current_thread_id();
        match cancel(h, |p| p.thread == me) {
            FALSE if last_error() == ERROR_NOT_FOUND => {
                set_last_error(0);
                TRUE
            }
            r => r,
        }
    })
}

/// CancelIoEx: every pending operation on `h` (NULL), or those using `ov`.
#[no_mangle]
pub extern "C" fn CancelIoEx(h: HANDLE, ov: *mut OVERLAPPED) -> BOOL {
    guard(FALSE, || cancel(h, |p| ov.is_null() || p.ov == ov as usize))
}

/// CancelSynchronousIo: the synchronous call `thread` is blocked in.
#[no_mangle]
pub extern "C" fn CancelSynchronousIo(thread: HANDLE) -> BOOL {
    guard(FALSE, || {
        let Some(t) = handles::get_as::<crate::thread::ThreadObj>(thread) else {
            return fail(ERROR_INVALID_HANDLE);
        };
        match t.sync_io() {
            Some(token) => {
                token.cancel();
                TRUE
            }
            None => fail(ERROR_NOT_FOUND),
        }
    })
}

/// SetFileCompletionNotificationModes: how the file behind `h` (a pipe end, shared by its
/// DuplicateHandle copies) reports completions from now on. `FILE_SKIP_COMPLETION_PORT_ON_SUCCESS`
/// (1): an overlapped call that succeeds at once queues no packet to the completion port (a
/// partial message read is reported pending instead, with its packet); operations that pend
/// still queue theirs. `FILE_SKIP_SET_EVENT_ON_HANDLE` (2): completions no longer signal the
/// handle itself (the OVERLAPPED's event still is), and the handle is unsignalled from this
/// call on. Flags add up; none can be cleared. `ERROR_INVALID_HANDLE` for anything but a pipe,
/// `ERROR_INVALID_PARAMETER` for a handle opened without `FILE_FLAG_OVERLAPPED`.
#[no_mangle]
pub extern "C" fn SetFileCompletionNotificationModes(h: HANDLE, flags: u8) -> BOOL {
    guard(FALSE, || {
        let obj = match pipe(h) {
            Ok(o) => o,
            Err(e) => return fail(e),
        };
        // The modes are about asynchronous completions: a synchronous handle has none
        // (wineserver's answer, STATUS_INVALID_PARAMETER).
        if !obj.overlapped {
            return fail(ERROR_INVALID_PARAMETER);
        }
        let known = FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
            | FILE_SKIP_SET_EVENT_ON_HANDLE
            | FILE_SKIP_SET_USER_EVENT_ON_FAST_IO;
        obj.notify_modes.fetch_or(flags & known, Ordering::SeqCst);
        // Skipping the handle's own event leaves it unsignalled from now on
        // (conformance.md test_completion).
        if flags & FILE_SKIP_SET_EVENT_ON_HANDLE != 0 {
            obj.signalled.store(false, Ordering::SeqCst);
        }
        TRUE
    })
}

/// PeekNamedPipe.
#[no_mangle]
pub unsafe extern "C" fn PeekNamedPipe(
    h: HANDLE,
    buf: *mut c_void,
    size: DWORD,
    read: *mut DWORD,
    avail: *mut DWORD,
    left: *mut DWORD,
) -> BOOL {
    guard(FALSE, || {
        let obj = match pipe_for(h, AccessNeed::Read) {
            Ok(o) => o,
            Err(e) => return fail(e),
        };
        let mut tmp;
        let slice: &mut [u8] = if buf.is_null() || size == 0 {
            tmp = [];
            &mut tmp
        } else {
            // SAFETY: the caller's buffer of `size` bytes.
            unsafe { std::slice::from_raw_parts_mut(buf.cast(), size as usize) }
        };
        match obj.handle().peek(slice) {
            Ok(p) => {
                // SAFETY: the caller's optional out-pointers, each checked non-null.
                unsafe {
                    if !read.is_null() {
                        *read = p.bytes_read;
                    }
                    if !avail.is_null() {
                        *avail = p.total_bytes_avail;
                    }
                    if !left.is_null() {
                        *left = p.bytes_left_this_message;
                    }
                }
                TRUE
            }
            Err(e) => fail(e.0),
        }
    })
}

fn wait_named_pipe(name: Option<String>, timeout: DWORD) -> BOOL {
    let Some(name) = name else {
        return fail(ERROR_PATH_NOT_FOUND);
    };
    match npfs_lib::wait_named_pipe(&name, timeout) {
        Ok(()) => TRUE,
        Err(e) => fail(e.0),
    }
}

/// WaitNamedPipeA.
#[no_mangle]
pub unsafe extern "C" fn WaitNamedPipeA(name: *const u8, timeout: DWORD) -> BOOL {
    // SAFETY: the caller's string.
    guard(FALSE, || wait_named_pipe(unsafe { cstr(name) }, timeout))
}

/// WaitNamedPipeW.
#[no_mangle]
pub unsafe extern "C" fn WaitNamedPipeW(name: *const u16, timeout: DWORD) -> BOOL {
    // SAFETY: the caller's string.
    guard(FALSE, || wait_named_pipe(unsafe { wstr(name) }, timeout))
}

#[allow(clippy::too_many_arguments)]
unsafe fn call_named_pipe(
    name: Option<String>,
    inbuf: *const c_void,
    inlen: DWORD,
    outbuf: *mut c_void,
    outlen: DWORD,
    read: *mut DWORD,
    timeout: DWORD,
) -> BOOL {
    let Some(name) = name else {
        return fail(ERROR_PATH_NOT_FOUND);
    };
    // SAFETY: the caller's buffers.
    let (req, reply) = unsafe {
        (
            if inbuf.is_null() {
                &[][..]
            } else {
                std::slice::from_raw_parts(inbuf.cast::<u8>(), inlen as usize)
            },
            if outbuf.is_null() {
                &mut [][..]
            } else {
                std::slice::from_raw_parts_mut(outbuf.cast::<u8>(), outlen as usize)
            },
        )
    };
    let r = npfs_lib::call_named_pipe(&name, req, reply, timeout);
    if let Ok(o) = &r {
        if !read.is_null() {
            // SAFETY: the caller's DWORD out-pointer.
            unsafe { *read = o.len as DWORD };
        }
    }
    match r {
        Ok(o) if o.more_data => fail(ERROR_MORE_DATA),
        Ok(_) => TRUE,
        Err(e) => fail(e.0),
    }
}

/// CallNamedPipeA.
#[no_mangle]
pub unsafe extern "C" fn CallNamedPipeA(
    name: *const u8,
    inbuf: *const c_void,
    inlen: DWORD,
    outbuf: *mut c_void,
    outlen: DWORD,
    read: *mut DWORD,
    timeout: DWORD,
) -> BOOL {
    // SAFETY: the caller's string and buffers.
    guard(FALSE, || unsafe {
        call_named_pipe(cstr(name), inbuf, inlen, outbuf, outlen, read, timeout)
    })
}

/// CallNamedPipeW.
#[no_mangle]
pub unsafe extern "C" fn CallNamedPipeW(
    name: *const u16,
    inbuf: *const c_void,
    inlen: DWORD,
    outbuf: *mut c_void,
    outlen: DWORD,
    read: *mut DWORD,
    timeout: DWORD,
) -> BOOL {
    // SAFETY: the caller's string and buffers.
    guard(FALSE, || unsafe {
        call_named_pipe(wstr(name), inbuf, inlen, outbuf, outlen, read, timeout)
    })
}

/// GetNamedPipeInfo.
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeInfo(
    h: HANDLE,
    flags: *mut DWORD,
    out: *mut DWORD,
    inb: *mut DWORD,
    max: *mut DWORD,
) -> BOOL {
    guard(FALSE, || {
        let obj = match pipe_for(h, AccessNeed::QueryState) {
            Ok(o) => o,
            Err(e) => return fail(e),
        };
        match obj.handle().info() {
            Ok(i) => {
                // SAFETY: the caller's optional out-pointers, each checked non-null.
                unsafe {
                    for (p, v) in [
                        (flags, i.flags),
                        (out, i.out_buffer_size),
                        (inb, i.in_buffer_size),
                        (max, i.max_instances),
                    ] {
                        if !p.is_null() {
                            *p = v;
                        }
                    }
                }
                TRUE
            }
            Err(e) => fail(e.0),
        }
    })
}

enum UserBuf {
    None,
    Narrow(*mut u8, DWORD),
    Wide(*mut u16, DWORD),
}

unsafe fn get_handle_state(
    h: HANDLE,
    state: *mut DWORD,
    cur: *mut DWORD,
    coll: *mut DWORD,
    timeout: *mut DWORD,
    user: UserBuf,
) -> BOOL {
    let obj = match pipe(h) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let wants_any = !state.is_null()
        || !cur.is_null()
        || !coll.is_null()
        || !timeout.is_null()
        || !matches!(user, UserBuf::None);
    // NtQueryInformationFile checks FILE_READ_ATTRIBUTES before it looks at the request.
    if wants_any {
        if let Err(e) = check_access(h, &obj, AccessNeed::QueryState) {
            return fail(e);
        }
    }
    // The remote-only outputs on a local pipe.
    if !coll.is_null() || !timeout.is_null() {
        return fail(ERROR_INVALID_PARAMETER);
    }
    let handle = obj.handle();
    if !state.is_null() {
        match handle.handle_mode() {
            // SAFETY: checked non-null.
            Ok(m) => unsafe { *state = m },
            Err(e) => return fail(e.0),
        }
    }
    if !cur.is_null() {
        match handle.current_instances() {
            // SAFETY: checked non-null.
            Ok(n) => unsafe { *cur = n },
            Err(e) => return fail(e.0),
        }
    }
    if !matches!(user, UserBuf::None) {
        // Server end only: the client's user name.
        let Some(server) = obj.server() else {
            return fail(ERROR_INVALID_PARAMETER);
        };
        let name = match server.client_user_name() {
            Ok(n) => n,
            Err(e) => return fail(e.0),
        };
        // SAFETY: the caller's buffer of `size` characters.
        unsafe {
            match user {
                UserBuf::Narrow(p, size) => {
                    if (size as usize) < name.len() + 1 {
                        return fail(ERROR_INSUFFICIENT_BUFFER);
                    }
                    std::ptr::copy_nonoverlapping(name.as_ptr(), p, name.len());
                    *p.add(name.len()) = 0;
                }
                UserBuf::Wide(p, size) => {
                    let w: Vec<u16> = name.encode_utf16().collect();
                    if (size as usize) < w.len() + 1 {
                        return fail(ERROR_INSUFFICIENT_BUFFER);
                    }
                    std::ptr::copy_nonoverlapping(w.as_ptr(), p, w.len());
                    *p.add(w.len()) = 0;
                }
                UserBuf::None => {}
            }
        }
    }
    TRUE
}

/// GetNamedPipeHandleStateA.
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeHandleStateA(
    h: HANDLE,
    state: *mut DWORD,
    cur: *mut DWORD,
    coll: *mut DWORD,
    timeout: *mut DWORD,
    user: *mut u8,
    user_size: DWORD,
) -> BOOL {
    // SAFETY: forwarded contract.
    guard(FALSE, || unsafe {
        get_handle_state(
            h,
            state,
            cur,
            coll,
            timeout,
            if user.is_null() {
                UserBuf::None
            } else {
                UserBuf::Narrow(user, user_size)
            },
        )
    })
}

/// GetNamedPipeHandleStateW.
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeHandleStateW(
    h: HANDLE,
    state: *mut DWORD,
    cur: *mut DWORD,
    coll: *mut DWORD,
    timeout: *mut DWORD,
    user: *mut u16,
    user_size: DWORD,
) -> BOOL {
    // SAFETY: forwarded contract.
    guard(FALSE, || unsafe {
        get_handle_state(
            h,
            state,
            cur,
            coll,
            timeout,
            if user.is_null() {
                UserBuf::None
            } else {
                UserBuf::Wide(user, user_size)
            },
        )
    })
}

/// SetNamedPipeHandleState.
#[no_mangle]
pub unsafe extern "C" fn SetNamedPipeHandleState(
    h: HANDLE,
    mode: *const DWORD,
    coll: *const DWORD,
    timeout: *const DWORD,
) -> BOOL {
    guard(FALSE, || {
        let obj = match pipe(h) {
            Ok(o) => o,
            Err(e) => return fail(e),
        };
        // kernelbase: the mode first (PipeHandle::set_handle_mode checks its bits, then the
        // handle's FILE_WRITE_ATTRIBUTES, then the mode against the pipe type), then the
        // remote-only values, which a local pipe refuses after the same access check.
        if !mode.is_null() {
            // SAFETY: the caller's optional pointer, checked non-null.
            let mode = unsafe { *mode };
            if mode & !npfs_core::config::VALID_HANDLE_MODE_BITS == 0 {
                if let Err(e) = check_access(h, &obj, AccessNeed::SetState) {
                    return fail(e);
                }
            }
            if let Err(e) = obj.handle().set_handle_mode(mode) {
                return fail(e.0);
            }
        }
        if !coll.is_null() || !timeout.is_null() {
            if let Err(e) = check_access(h, &obj, AccessNeed::SetState) {
                return fail(e);
            }
            return fail(ERROR_INVALID_PARAMETER);
        }
        TRUE
    })
}

unsafe fn pid_query(
    h: HANDLE,
    out: *mut u32,
    f: impl Fn(&PipeHandle) -> Result<u32, Win32Error>,
) -> BOOL {
    let obj = match pipe(h) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    if out.is_null() {
        return fail(ERROR_INSUFFICIENT_BUFFER);
    }
    match f(obj.handle()) {
        Ok(v) => {
            // SAFETY: checked non-null.
            unsafe { *out = v };
            TRUE
        }
        Err(e) => fail(e.0),
    }
}

/// GetNamedPipeClientProcessId.
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeClientProcessId(h: HANDLE, out: *mut u32) -> BOOL {
    // SAFETY: forwarded contract.
    guard(FALSE, || unsafe {
        pid_query(h, out, |p| p.client_process_id())
    })
}

/// GetNamedPipeServerProcessId.
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeServerProcessId(h: HANDLE, out: *mut u32) -> BOOL {
    // SAFETY: forwarded contract.
    guard(FALSE, || unsafe {
        pid_query(h, out, |p| p.server_process_id())
    })
}

/// GetNamedPipeClientSessionId.
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeClientSessionId(h: HANDLE, out: *mut u32) -> BOOL {
    // SAFETY: forwarded contract.
    guard(FALSE, || unsafe {
        pid_query(h, out, |p| p.client_session_id())
    })
}

/// GetNamedPipeServerSessionId.
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeServerSessionId(h: HANDLE, out: *mut u32) -> BOOL {
    // SAFETY: forwarded contract.
    guard(FALSE, || unsafe {
        pid_query(h, out, |p| p.server_session_id())
    })
}

const ERROR_PIPE_LOCAL: DWORD = 229;

mod computer_name;

/// GetNamedPipeClientComputerNameA (see `computer_name::query`).
///
/// # Safety
///
/// `name`, when not NULL, must be writable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeClientComputerNameA(
    h: HANDLE,
    name: *mut u8,
    len: ULONG,
) -> BOOL {
    // SAFETY: forwarded contract.
    guard(FALSE, || unsafe {
        computer_name::query(h, computer_name::NameBuf::Narrow(name, len))
    })
}

/// GetNamedPipeClientComputerNameW (see `computer_name::query`).
///
/// # Safety
///
/// `name`, when not NULL, must be writable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeClientComputerNameW(
    h: HANDLE,
    name: *mut u16,
    len: ULONG,
) -> BOOL {
    // SAFETY: forwarded contract.
    guard(FALSE, || unsafe {
        computer_name::query(h, computer_name::NameBuf::Wide(name, len))
    })
}

/// CreatePipe: an anonymous pipe (read end, write end).
#[no_mangle]
pub unsafe extern "C" fn CreatePipe(
    read: *mut HANDLE,
    write: *mut HANDLE,
    sa: *const SECURITY_ATTRIBUTES,
    size: DWORD,
) -> BOOL {
    guard(FALSE, || {
        if read.is_null() || write.is_null() {
            return fail(ERROR_NOACCESS);
        }
        // SAFETY: the caller's attributes.
        let inherit = unsafe { inherit_of(sa) };
        match npfs_lib::create_pipe(size) {
            Ok((r, w)) => {
                // SAFETY: checked non-null.
                unsafe {
                    *read = new_handle(End::Server(r), false, inherit);
                    *write = new_handle(End::Client(w), false, inherit);
                }
                TRUE
            }
            Err(e) => fail(e.0),
        }
    })
}

/// ImpersonateNamedPipeClient: the calling thread takes the client's identity (server end
/// only: `ERROR_INVALID_FUNCTION` on a client end).
#[no_mangle]
pub extern "C" fn ImpersonateNamedPipeClient(h: HANDLE) -> BOOL {
    guard(FALSE, || {
        let obj = match pipe(h) {
            Ok(o) => o,
            Err(e) => return fail(e),
        };
        let Some(server) = obj.server() else {
            return fail(ERROR_INVALID_FUNCTION);
        };
        match server.impersonate_client() {
            Ok(()) => TRUE,
            Err(e) => fail(e.0),
        }
    })
}

/// RevertToSelf.
#[no_mangle]
pub extern "C" fn RevertToSelf() -> BOOL {
    guard(FALSE, || match npfs_lib::revert_to_self() {
        Ok(()) => TRUE,
        Err(e) => fail(e.0),
    })
}
