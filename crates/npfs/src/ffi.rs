//! Operations for the Win32 C ABI (`npfs-capi`): the engine's operations over raw buffers
//! that the C caller keeps alive until completion (OVERLAPPED I/O), with a cancel token that
//! another thread can fire (CancelIo, CancelIoEx, CancelSynchronousIo).
//!
//! Not a stable Rust API: Rust programs use [`crate::PipeHandle`] or [`crate::tokio`].

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Instant;

use npfs_core::Win32Error;

use crate::conn::Conn;
use crate::conn::WaitOn;
use crate::engine::{FlushOp, ReadOp, Step, TransactOp, WriteOp};
use crate::outcome::ReadOutcome;
use crate::pipe::{DataCall, Link, PipeHandle, PipeServer, Target};

/// Fired by CancelIo / CancelIoEx / CancelSynchronousIo (and the last CloseHandle). Firing
/// wakes what the operation sleeps on — the connection's futex (a blocking read, write or
/// transact), the instance's eventfd (a blocking ConnectNamedPipe), or the task of an
/// operation pending on the completion driver — so the operation notices at once.
#[derive(Default)]
pub struct CancelToken {
    fired: AtomicBool,
    sleeper: Mutex<Sleeper>,
}

/// What an operation sleeps on, for [`CancelToken::cancel`] to wake.
#[derive(Default)]
enum Sleeper {
    #[default]
    Awake,
    Conn(Arc<Conn>, usize),
    Fd(Arc<OwnedFd>),
    Task(Waker),
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("fired", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl CancelToken {
    /// Ask the operation to cancel, and wake it.
    #[doc(alias = "CancelIoEx")]
    #[doc(alias = "CancelSynchronousIo")]
    pub fn cancel(&self) {
        self.fired.store(true, Ordering::SeqCst);
        let sleeper = std::mem::take(&mut *self.sleeper.lock().unwrap_or_else(|e| e.into_inner()));
        match sleeper {
            Sleeper::Awake => {}
            Sleeper::Conn(conn, dir) => conn.kick(dir),
            Sleeper::Fd(fd) => {
                let _ = rustix::io::write(&*fd, &1u64.to_ne_bytes());
            }
            Sleeper::Task(w) => w.wake(),
        }
    }

    /// Whether cancellation was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// Say what the operation is about to sleep on. False if the token fired already (then
    /// it must not sleep). Whatever `cancel` finds here it wakes, so a cancel that comes
    /// between this and the sleep is not lost: the futex counter or the eventfd moved.
    fn sleep_on(&self, s: Sleeper) -> bool {
        *self.sleeper.lock().unwrap_or_else(|e| e.into_inner()) = s;
        !self.is_cancelled()
    }

    fn awake(&self) {
        *self.sleeper.lock().unwrap_or_else(|e| e.into_inner()) = Sleeper::Awake;
    }

    /// A pending operation's task: a cancel wakes it.
    pub(crate) fn park_task(&self, w: &Waker) {
        let mut g = self.sleeper.lock().unwrap_or_else(|e| e.into_inner());
        if !matches!(&*g, Sleeper::Task(old) if old.will_wake(w)) {
            *g = Sleeper::Task(w.clone());
        }
    }
}

/// How an operation handed to the completion driver ended.
#[derive(Debug)]
pub enum Finished {
    /// It completed (successfully or not).
    Done(Result<Completion, Win32Error>),
    /// Its token fired while it was still pending, and it was withdrawn: nothing was
    /// transferred.
    Cancelled,
}

enum Kind {
    Read(ReadOp),
    Write(WriteOp),
    Transact(TransactOp),
    Flush(FlushOp),
    Connect(PipeServer),
    Remote(RemoteOp),
}

/// Which call a [`RemoteOp`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RemoteCall {
    Read,
    Write,
    Transact,
}

/// What a remote call returns: the bytes read (empty for a write) and its completion.
type RemoteResult = Result<(Vec<u8>, Completion), Win32Error>;

/// An operation on a handle to a remote pipe (`\\HOST\pipe\NAME`): the synchronous SMB call
/// runs on the completion driver's blocking pool (the SMB client is synchronous), and the
/// driver's task completes the operation when it returns.
struct RemoteOp {
    handle: PipeHandle,
    call: RemoteCall,
    /// A read's fate: cancelled first, or its data delivered first.
    fate: Arc<crate::remote::ReadFate>,
    /// What the call reads (a buffer size) and sends (a copy), once the first step saw the
    /// caller's buffers.
    args: Option<(usize, Vec<u8>)>,
    #[cfg(feature = "tokio")]
    running: Option<::tokio::task::JoinHandle<RemoteResult>>,
}

/// Run `call` on `h`: a read of up to `len` bytes (whose `fate` a cancel may decide), or a
/// write / transaction of `data`.
fn remote_call(
    h: &PipeHandle,
    call: RemoteCall,
    len: usize,
    data: &[u8],
    fate: &crate::remote::ReadFate,
) -> RemoteResult {
    let done = |v: Vec<u8>, r: ReadOutcome| {
        (
            v,
            Completion {
                bytes: r.len,
                more_data: r.more_data,
            },
        )
    };
    match call {
        RemoteCall::Read => {
            let mut v = vec![0u8; len];
            let r = h.remote_read_for(&mut v, fate)?;
            v.truncate(r.len);
            Ok(done(v, r))
        }
        RemoteCall::Write => h.write(data).map(|n| {
            (
                Vec::new(),
                Completion {
                    bytes: n,
                    more_data: false,
                },
            )
        }),
        RemoteCall::Transact => {
            let mut v = vec![0u8; len];
            let r = h.transact(data, &mut v)?;
            v.truncate(r.len);
            Ok(done(v, r))
        }
    }
}

/// What an operation completed with: bytes transferred and whether a message continues
/// (STATUS_BUFFER_OVERFLOW / ERROR_MORE_DATA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Bytes transferred (read, or written).
    pub bytes: usize,
    /// A partial message read.
    pub more_data: bool,
}

/// One I/O operation on a pipe handle.
pub struct IoOp {
    link: Option<Arc<Link>>,
    kind: Kind,
    wait_on: Option<WaitOn>,
    token: Arc<CancelToken>,
}

/// The raw buffers of an operation: `buf` receives data (read, transact), `data` is sent
/// (write, transact).
#[derive(Clone, Copy, Debug)]
pub struct RawBufs {
    /// Receive buffer.
    pub buf: *mut u8,
    /// Its size.
    pub buf_len: usize,
    /// Bytes to send.
    pub data: *const u8,
    /// Their number.
    pub data_len: usize,
}

// SAFETY: the pointers are the C caller's buffers, which the Win32 contract keeps alive and
// untouched until the operation completes; only the thread running the operation uses them.
unsafe impl Send for RawBufs {}

impl IoOp {
    fn new(link: Option<Arc<Link>>, kind: Kind) -> IoOp {
        IoOp {
            link,
            kind,
            wait_on: None,
            token: Arc::new(CancelToken::default()),
        }
    }

    /// An operation on a remote handle.
    fn remote(h: &PipeHandle, call: RemoteCall) -> IoOp {
        Self::new(
            None,
            Kind::Remote(RemoteOp {
                handle: h.shared(),
                call,
                fate: Arc::default(),
                args: None,
                #[cfg(feature = "tokio")]
                running: None,
            }),
        )
    }

    /// ReadFile.
    pub fn read(h: &PipeHandle) -> Result<IoOp, Win32Error> {
        let link = match h.begin(DataCall::Read)? {
            Target::Link(link) => link,
            _ => return Ok(Self::remote(h, RemoteCall::Read)),
        };
        Ok(Self::new(
            Some(link),
            Kind::Read(ReadOp::new(h.message_read_mode(), h.is_nowait())),
        ))
    }

    /// WriteFile.
    pub fn write(h: &PipeHandle) -> Result<IoOp, Win32Error> {
        let link = match h.begin(DataCall::Write)? {
            Target::Link(link) => link,
            _ => return Ok(Self::remote(h, RemoteCall::Write)),
        };
        Ok(Self::new(
            Some(link),
            Kind::Write(WriteOp::new(h.is_nowait())),
        ))
    }

    /// TransactNamedPipe (checks the pipe type and read mode: `ERROR_BAD_PIPE`).
    pub fn transact(h: &PipeHandle) -> Result<IoOp, Win32Error> {
        match h.begin(DataCall::Transact)? {
            Target::Link(link) => Ok(Self::new(Some(link), Kind::Transact(TransactOp::new()))),
            // Sent whatever the handle's mode: the server decides (docs/DEVIATIONS.md).
            _ => Ok(Self::remote(h, RemoteCall::Transact)),
        }
    }

    /// FlushFileBuffers (`None`: nothing to flush, it succeeds at once).
    pub fn flush(h: &PipeHandle) -> Result<Option<IoOp>, Win32Error> {
        match h.begin(DataCall::Flush)? {
            Target::Link(link) => Ok(Some(Self::new(Some(link), Kind::Flush(FlushOp::default())))),
            Target::Remote | Target::Done => Ok(None),
        }
    }

    /// ConnectNamedPipe: `Err` for the outcomes that never wait (ERROR_PIPE_CONNECTED,
    /// ERROR_NO_DATA, ERROR_PIPE_LISTENING in nowait mode), else an operation that completes
    /// when a client connects.
    pub fn connect(s: &PipeServer) -> Result<IoOp, Win32Error> {
        s.connect_start()?;
        Ok(Self::new(None, Kind::Connect(s.clone_handle())))
    }

    /// Whether this is a ConnectNamedPipe.
    pub fn is_connect(&self) -> bool {
        matches!(self.kind, Kind::Connect(_))
    }

    /// The token that cancels this operation from another thread.
    pub fn token(&self) -> Arc<CancelToken> {
        self.token.clone()
    }

    /// The listening instance, for a ConnectNamedPipe.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn connect_server(&self) -> Option<&PipeServer> {
        match &self.kind {
            Kind::Connect(s) => Some(s),
            _ => None,
        }
    }

    /// The connection a data operation runs on.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn link(&self) -> Option<&Arc<Link>> {
        self.link.as_ref()
    }

    /// What the last step said to wait for.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn waits_on(&self) -> Option<WaitOn> {
        self.wait_on
    }

    /// One step. `Some` when the operation completed.
    ///
    /// # Safety
    /// `bufs` describes valid buffers that stay alive and unaliased until completion.
    pub unsafe fn step(&mut self, bufs: RawBufs) -> Option<Result<Completion, Win32Error>> {
        let conn = self.link.as_ref().map(|l| l.conn.clone());
        // SAFETY: the caller's contract above.
        let (buf, data) = unsafe {
            (
                if bufs.buf.is_null() {
                    &mut [][..]
                } else {
                    std::slice::from_raw_parts_mut(bufs.buf, bufs.buf_len)
                },
                if bufs.data.is_null() {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(bufs.data, bufs.data_len)
                },
            )
        };
        let step = match (&mut self.kind, conn.as_deref()) {
            (Kind::Read(op), Some(c)) => map(op.step(c, buf), |d| Completion {
                bytes: d.len,
                more_data: d.more_data,
            }),
            (Kind::Write(op), Some(c)) => map(op.step(c, data), |n| Completion {
                bytes: n,
                more_data: false,
            }),
            (Kind::Transact(op), Some(c)) => map(op.step(c, data, buf), |d| Completion {
                bytes: d.len,
                more_data: d.more_data,
            }),
            (Kind::Flush(op), Some(c)) => map(op.step(c), |()| Completion {
                bytes: 0,
                more_data: false,
            }),
            (Kind::Remote(r), _) => return r.start(buf.len(), data),
            (Kind::Connect(s), _) => {
                return match s.connect_check() {
                    Ok(true) => Some(Ok(Completion {
                        bytes: 0,
                        more_data: false,
                    })),
                    Ok(false) => None,
                    Err(e) => Some(Err(e)),
                }
            }
            _ => return Some(Err(Win32Error::INVALID_HANDLE)),
        };
        match step {
            Step::Done(r) => Some(r),
            Step::Wait(on) => {
                self.wait_on = Some(on);
                None
            }
        }
    }

    /// Block until the operation may have progressed, its token fired, or `deadline`: woken
    /// by the event itself (the connection's futex, the instance's channel or eventfd, a
    /// cancel), never by a timer.
    pub fn wait(&self, deadline: Option<Instant>) {
        match (&self.kind, &self.link, self.wait_on) {
            (Kind::Connect(s), _, _) => {
                use rustix::event::{poll, PollFd, PollFlags};
                let Ok((_, channel)) = s.channel_fd() else {
                    return;
                };
                let wake = s.wake_fd();
                if !self.token.sleep_on(Sleeper::Fd(wake.clone())) {
                    return;
                }
                let ts = deadline.map(|d| {
                    let left = d.saturating_duration_since(Instant::now());
                    rustix::time::Timespec {
                        tv_sec: left.as_secs().min(i64::MAX as u64) as i64,
                        tv_nsec: left.subsec_nanos().into(),
                    }
                });
                let mut fds = [
                    PollFd::new(&channel, PollFlags::IN),
                    PollFd::new(&*wake, PollFlags::IN),
                ];
                let _ = poll(&mut fds, ts.as_ref());
                if fds[1].revents().contains(PollFlags::IN) {
                    let mut b = [0u8; 8];
                    let _ = rustix::io::read(&*wake, &mut b);
                }
                self.token.awake();
            }
            (_, Some(l), Some(on)) => {
                if self.token.sleep_on(Sleeper::Conn(l.conn.clone(), on.dir)) {
                    l.conn.wait_blocking(on, deadline);
                }
                self.token.awake();
            }
            // Nothing to wait on: the next step decides.
            _ => {}
        }
    }

    /// CancelIoEx on this operation: true if it was still pending (it then completes with
    /// ERROR_OPERATION_ABORTED); false if it had completed already.
    pub fn cancel(&mut self) -> bool {
        if let Kind::Remote(r) = &mut self.kind {
            return r.abandon();
        }
        let Some(l) = &self.link else {
            // A pending connect: nothing was consumed; the instance keeps listening.
            return true;
        };
        let c = &l.conn;
        match &mut self.kind {
            Kind::Read(op) => op.cancel(c),
            Kind::Write(op) => op.cancel(c),
            Kind::Transact(op) => op.cancel(c),
            Kind::Flush(_) | Kind::Connect(_) | Kind::Remote(_) => true,
        }
    }

    /// Run to completion on this thread (a synchronous handle), unless the token fires first.
    ///
    /// # Safety
    /// As [`IoOp::step`].
    pub unsafe fn run(&mut self, bufs: RawBufs) -> Result<Completion, Win32Error> {
        loop {
            // SAFETY: forwarded contract.
            if let Some(r) = unsafe { self.step(bufs) } {
                return r;
            }
            if self.token.is_cancelled() && self.cancel() {
                return Err(Win32Error::OPERATION_ABORTED);
            }
            self.wait(None);
        }
    }
}

impl IoOp {
    /// A remote operation's SMB call, polled by the completion driver's task: `None` for a
    /// local operation; once it returned, the bytes read are copied into the caller's
    /// buffer.
    ///
    /// # Safety
    /// As [`IoOp::step`].
    #[cfg(feature = "tokio")]
    pub(crate) unsafe fn poll_remote(
        &mut self,
        cx: &mut std::task::Context<'_>,
        bufs: RawBufs,
    ) -> Option<std::task::Poll<Result<Completion, Win32Error>>> {
        use std::future::Future;
        let Kind::Remote(r) = &mut self.kind else {
            return None;
        };
        if r.running.is_none() {
            // Started here, on the driver (this task's runtime): its blocking pool.
            let Some((len, data)) = r.args.take() else {
                return Some(std::task::Poll::Ready(Err(Win32Error::INVALID_HANDLE)));
            };
            let (h, call, fate) = (r.handle.shared(), r.call, r.fate.clone());
            r.running = Some(::tokio::task::spawn_blocking(move || {
                remote_call(&h, call, len, &data, &fate)
            }));
        }
        let running = r.running.as_mut()?;
        let joined = match std::pin::Pin::new(running).poll(cx) {
            std::task::Poll::Pending => return Some(std::task::Poll::Pending),
            std::task::Poll::Ready(j) => j,
        };
        r.running = None;
        let result = match joined {
            Ok(r) => r,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => Err(Win32Error::OPERATION_ABORTED),
            },
        };
        Some(std::task::Poll::Ready(result.map(|(data, done)| {
            let n = data.len().min(bufs.buf_len);
            if n > 0 && !bufs.buf.is_null() {
                // SAFETY: the caller's receive buffer of `buf_len` bytes, alive until this
                // operation completes (now); `data` is ours.
                unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), bufs.buf, n) };
            }
            done
        })))
    }
}

impl RemoteOp {
    /// The first step: note what the SMB call reads and sends (a copy); the completion
    /// driver starts it on its blocking pool ([`IoOp::poll_remote`]) and it pends until then.
    fn start(&mut self, len: usize, data: &[u8]) -> Option<Result<Completion, Win32Error>> {
        if !cfg!(feature = "tokio") {
            return Some(Err(Win32Error::NOT_SUPPORTED));
        }
        #[cfg(feature = "tokio")]
        let started = self.running.is_some();
        #[cfg(not(feature = "tokio"))]
        let started = false;
        if !started && self.args.is_none() {
            self.args = Some((len, data.to_vec()));
        }
        None
    }

    /// CancelIoEx: true if the operation is cancelled (it completes with
    /// `ERROR_OPERATION_ABORTED`), false if it completed first. The SMB call itself cannot be
    /// cancelled (smbd) and runs on: a cancelled read's READ keeps what it brings for the
    /// handle's next read ([`crate::remote::ReadFate`]); a write or transaction goes through.
    fn abandon(&mut self) -> bool {
        if self.call == RemoteCall::Read && !self.fate.abandon() {
            return false;
        }
        #[cfg(feature = "tokio")]
        {
            self.running = None;
        }
        true
    }
}

fn map<T>(s: Step<T>, f: impl FnOnce(T) -> Completion) -> Step<Completion> {
    match s {
        Step::Done(r) => Step::Done(r.map(f)),
        Step::Wait(w) => Step::Wait(w),
    }
}
