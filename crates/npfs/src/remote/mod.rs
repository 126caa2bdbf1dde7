//! Remote pipes: `\\HOST\pipe\NAME` with `HOST` other than `.`, opened on that machine's SMB
//! server (Samba's smbd, or Windows) as an SMB2/3 client.
//!
//! One open is one SMB connection, session and IPC$ tree, then a CREATE of `NAME`; ReadFile
//! is an SMB2 READ, WriteFile an SMB2 WRITE, TransactNamedPipe an FSCTL_PIPE_TRANSCEIVE
//! (a reply longer than the buffer gives `ERROR_MORE_DATA`, its rest readable with ReadFile),
//! CloseHandle an SMB2 CLOSE and log-off. Credentials: [`creds`]. WaitNamedPipe has nothing
//! to wait on (smbd answers no FSCTL_PIPE_WAIT): [`wait`] retries the open until its time-out.
//! The limits smbd puts on pipes are in docs/DEVIATIONS.md ("Remote pipes").

#![cfg_attr(not(feature = "smb"), allow(dead_code))]

mod creds;
#[cfg(feature = "smb")]
mod session;
#[cfg(not(feature = "smb"))]
#[path = "nosmb.rs"]
mod session;
mod status;

use std::time::{Duration, Instant};

use npfs_core::config::{Direction, PipeAttributes, PipeType};
use npfs_core::consts::{NMPWAIT_USE_DEFAULT_WAIT, NMPWAIT_WAIT_FOREVER};
use npfs_core::Win32Error;

use crate::outcome::ReadOutcome;

/// The largest SMB2 READ, WRITE or TRANSCEIVE output npfs asks for: smbd passes at most
/// 65535 bytes per message and per read.
pub(crate) const MAX_IO: usize = 0xFFFF;

/// An open remote pipe.
pub(crate) struct RemotePipe {
    file: session::RemoteFile,
    /// The reads of this handle: one SMB READ at a time, and what a READ brought after the
    /// operation that asked for it was cancelled (smbd cannot cancel a READ).
    reads: std::sync::Mutex<Reads>,
    /// Signalled when a READ returns (a read waiting for its turn looks again).
    read_done: std::sync::Condvar,
}

/// The read state of a remote handle.
#[derive(Default)]
struct Reads {
    /// An SMB READ is in flight.
    reading: bool,
    /// Bytes a cancelled operation's READ brought: the next read's, so that nothing is lost.
    kept: Kept,
}

/// Bytes a READ brought that no read has taken yet, and whether the message goes on beyond
/// them (the READ said STATUS_BUFFER_OVERFLOW).
#[derive(Debug, Default)]
pub(crate) struct Kept {
    bytes: Vec<u8>,
    more: bool,
}

impl Kept {
    /// Nothing is kept.
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Keep what a READ brought (after what is kept already).
    pub(crate) fn keep(&mut self, data: &[u8], more: bool) {
        self.bytes.extend_from_slice(data);
        self.more = more;
    }

    /// Take as much as fits `buf`: a read's outcome, `more_data` while the message goes on.
    pub(crate) fn take(&mut self, buf: &mut [u8]) -> ReadOutcome {
        let k = self.bytes.len().min(buf.len());
        buf[..k].copy_from_slice(&self.bytes[..k]);
        self.bytes.drain(..k);
        let more_data = !self.bytes.is_empty() || self.more;
        if self.bytes.is_empty() {
            self.more = false;
        }
        ReadOutcome { len: k, more_data }
    }
}

/// The fate of one cancellable read ([`RemotePipe::read_for`]): whether its operation was
/// cancelled before the READ returned, or its data was delivered to it. Whichever comes
/// first decides, under the lock: a cancel after the delivery fails (the operation completes
/// with its data, as a CancelIoEx that lost the race does on Windows).
#[derive(Debug, Default)]
pub(crate) struct ReadFate {
    /// (cancelled, delivered)
    state: std::sync::Mutex<(bool, bool)>,
}

impl ReadFate {
    /// Cancel the read: true if its data was not delivered yet (it is then kept for the
    /// handle's next read).
    pub(crate) fn abandon(&self) -> bool {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if g.1 {
            return false;
        }
        g.0 = true;
        true
    }

    /// The read has its data: true unless it was cancelled first.
    fn deliver(&self) -> bool {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        g.1 = !g.0;
        g.1
    }

    fn cancelled(&self) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

/// What a remote handle reports as the pipe's attributes: the SMB server does not say the
/// pipe's type or quotas, so a duplex message pipe with unknown (0) quotas (message read mode
/// is then allowed; the server decides what a read returns).
pub(crate) fn attributes() -> PipeAttributes {
    PipeAttributes {
        direction: Direction::Duplex,
        pipe_type: PipeType::Message,
        max_instances: 255,
        out_quota: 0,
        in_quota: 0,
        default_timeout_ms: 50,
    }
}

impl RemotePipe {
    /// CreateFile on `\\host\pipe\name`.
    pub(crate) fn open(host: &str, name: &str) -> Result<RemotePipe, Win32Error> {
        let creds = creds::get()?;
        Ok(RemotePipe {
            file: session::RemoteFile::open(host, name, creds)?,
            reads: std::sync::Mutex::default(),
            read_done: std::sync::Condvar::new(),
        })
    }

    /// ReadFile: one SMB2 READ of at most `buf.len()` (≤ 65535) bytes; waits for data.
    pub(crate) fn read(&self, buf: &mut [u8]) -> Result<ReadOutcome, Win32Error> {
        self.read_for(buf, None)
    }

    /// [`RemotePipe::read`] for an operation that may be cancelled while its READ is in
    /// flight (`fate`): the READ then goes on, and what it brings is kept for the next read
    /// (this one fails with `ERROR_OPERATION_ABORTED`). Bytes kept from a cancelled READ come
    /// first; a read waits while another READ of this handle is in flight (it may be a
    /// cancelled one, whose bytes are then this read's).
    pub(crate) fn read_for(
        &self,
        buf: &mut [u8],
        fate: Option<&ReadFate>,
    ) -> Result<ReadOutcome, Win32Error> {
        if buf.is_empty() {
            return Ok(ReadOutcome {
                len: 0,
                more_data: false,
            });
        }
        let lock = || self.reads.lock().unwrap_or_else(|e| e.into_inner());
        let mut g = lock();
        loop {
            if fate.is_some_and(ReadFate::cancelled) {
                return Err(Win32Error::OPERATION_ABORTED);
            }
            if !g.kept.is_empty() {
                if fate.is_some_and(|f| !f.deliver()) {
                    return Err(Win32Error::OPERATION_ABORTED);
                }
                return Ok(g.kept.take(buf));
            }
            if !g.reading {
                break;
            }
            g = self.read_done.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        g.reading = true;
        drop(g);
        let want = buf.len().min(MAX_IO);
        let r = self.file.read(want as u32);
        let mut g = lock();
        g.reading = false;
        self.read_done.notify_all();
        let (data, more) = r?;
        if fate.is_some_and(|f| !f.deliver()) {
            g.kept.keep(&data, more);
            return Err(Win32Error::OPERATION_ABORTED);
        }
        drop(g);
        let len = data.len().min(want);
        buf[..len].copy_from_slice(&data[..len]);
        Ok(ReadOutcome {
            len,
            more_data: more,
        })
    }

    /// The last handle closed while an operation of it may still run (a READ smbd cannot
    /// cancel): CLOSE and log off now, so that the server sees its client go; a READ in
    /// flight then fails.
    pub(crate) fn shutdown(&self) {
        self.file.shutdown();
    }

    /// WriteFile: one SMB2 WRITE (one message on a message pipe; at most 65535 bytes through
    /// smbd). A zero-length write sends nothing (smbd refuses empty messages).
    pub(crate) fn write(&self, data: &[u8]) -> Result<usize, Win32Error> {
        if data.is_empty() {
            return Ok(0);
        }
        Ok(self.file.write(data)? as usize)
    }

    /// TransactNamedPipe: FSCTL_PIPE_TRANSCEIVE; `more_data` when the reply did not fit.
    pub(crate) fn transact(
        &self,
        request: &[u8],
        reply: &mut [u8],
    ) -> Result<ReadOutcome, Win32Error> {
        let max = reply.len().min(MAX_IO);
        let (data, more) = self.file.transceive(request, max as u32)?;
        let len = data.len().min(max);
        reply[..len].copy_from_slice(&data[..len]);
        Ok(ReadOutcome {
            len,
            more_data: more,
        })
    }
}

/// The first and the longest pause between two opens in [`wait`].
const FIRST_PAUSE: Duration = Duration::from_millis(10);
const MAX_PAUSE: Duration = Duration::from_millis(500);

/// WaitNamedPipe on a remote name. There is no event to wait on (smbd answers
/// FSCTL_PIPE_WAIT with STATUS_FS_DRIVER_REQUIRED), so this is a retry: it opens the pipe,
/// and while the open says `ERROR_PIPE_BUSY` tries again with a doubling pause (10 ms up to
/// 500 ms) until `timeout_ms` (`NMPWAIT_USE_DEFAULT_WAIT`: 50 ms; `NMPWAIT_WAIT_FOREVER`).
/// A successful open is closed at once (the server sees a client come and go). Other
/// errors, `ERROR_FILE_NOT_FOUND` among them, are returned at once; the time-out is
/// `ERROR_SEM_TIMEOUT`.
pub(crate) fn wait(host: &str, name: &str, timeout_ms: u32) -> Result<(), Win32Error> {
    let deadline = match timeout_ms {
        NMPWAIT_WAIT_FOREVER => None,
        NMPWAIT_USE_DEFAULT_WAIT => Some(Instant::now() + Duration::from_millis(50)),
        ms => Some(Instant::now() + Duration::from_millis(u64::from(ms))),
    };
    let mut pause = FIRST_PAUSE;
    loop {
        match RemotePipe::open(host, name) {
            Ok(_) => return Ok(()),
            Err(e) if e == Win32Error::PIPE_BUSY => {}
            Err(e) => return Err(e),
        }
        let nap = match deadline {
            None => pause,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Win32Error::SEM_TIMEOUT);
                }
                pause.min(left)
            }
        };
        std::thread::sleep(nap);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
