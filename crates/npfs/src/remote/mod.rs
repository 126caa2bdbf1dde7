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

use crate::ReadOutcome;

/// The largest SMB2 READ, WRITE or TRANSCEIVE output npfs asks for: smbd passes at most
/// 65535 bytes per message and per read.
pub(crate) const MAX_IO: usize = 0xFFFF;

/// An open remote pipe.
pub(crate) struct RemotePipe {
    file: session::RemoteFile,
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
        })
    }

    /// ReadFile: one SMB2 READ of at most `buf.len()` (≤ 65535) bytes; waits for data.
    pub(crate) fn read(&self, buf: &mut [u8]) -> Result<ReadOutcome, Win32Error> {
        if buf.is_empty() {
            return Ok(ReadOutcome {
                len: 0,
                more_data: false,
            });
        }
        let want = buf.len().min(MAX_IO);
        let (data, more) = self.file.read(want as u32)?;
        let len = data.len().min(want);
        buf[..len].copy_from_slice(&data[..len]);
        Ok(ReadOutcome {
            len,
            more_data: more,
        })
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
