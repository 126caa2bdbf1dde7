//! The data phase of a remote client: between smbd's socket and the client end the broker
//! holds for it (smb.md §1.5).
//!
//! - Message pipes: every message either way is a u16 little-endian length and that many
//!   bytes. A length of 0 from smbd is a protocol error (the connection ends). A server
//!   message longer than 65535 bytes goes to smbd in 65535-byte parts (each read returns
//!   at most that much; the rest stays in the pipe, `ERROR_MORE_DATA`), and a zero-length
//!   message cannot be framed and is dropped (docs/DEVIATIONS.md).
//! - Byte pipes: raw bytes both ways.
//!
//! Both directions run in one task, each waiting on its own event (the socket's readiness,
//! the pipe's doorbell); whichever side ends ends both: smbd closing its socket (the SMB
//! client closed its handle, or its session died) closes the client end, and the pipe
//! breaking (the server closed or disconnected the instance) closes smbd's socket, which
//! the SMB client sees as STATUS_PIPE_DISCONNECTED. Buffers are taken when data is there,
//! so an idle connection holds none.
//!
//! smbd drops data when it sees the socket hang up before its read has finished (its read
//! checks for the hang-up first; verified with smbd 4.17.12: a listener that writes and
//! closes at once is read as STATUS_PIPE_DISCONNECTED without the data). Its read also asks
//! the socket once more after taking the bytes — whether more are pending, which on a hung-up
//! socket is an error that throws away what it took — so even a socket whose bytes were all
//! read must stay open until that read has returned (seen 1 time in 800 under load when it
//! was closed as soon as the bytes were taken). So when the pipe ends, the socket is closed
//! once smbd has taken everything written to it and then [`DRAIN_GRACE`] passed with the
//! bytes taken ([`linger`]), or smbd closed it, or [`LINGER`] passed. The grace is a single
//! deadline at the end of a connection, not a polling tick: nothing in smbd's protocol tells
//! when its read has returned.

use std::io;

use npfs::tokio::NamedPipeClient;
use npfs_core::Win32Error;
use std::os::fd::AsRawFd;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::unix::{ReadHalf, WriteHalf};
use tokio::net::UnixStream;

/// Largest message smbd carries (its u16 length).
pub const MAX_MESSAGE: usize = 65535;

/// Longest the socket stays open after the pipe ended, for smbd to take the data still in
/// it (an SMB client that never reads again must not pin the connection).
pub const LINGER: Duration = Duration::from_secs(10);

/// How long the socket stays open after smbd took the last bytes, for its read to return
/// before it can see the hang-up (a few system calls, longer when smbd is preempted).
pub const DRAIN_GRACE: Duration = Duration::from_millis(100);

/// Relay until either side ends. `Ok` for an orderly end (either side closed), `Err` for a
/// protocol violation or an I/O error.
pub async fn relay(mut sock: UnixStream, pipe: NamedPipeClient, message: bool) -> io::Result<()> {
    let (mut sent_up, mut sent_down) = (0u64, 0u64);
    let pipe_ended = {
        let (rd, wr) = sock.split();
        let up = to_pipe(rd, &pipe, message, &mut sent_up);
        let down = from_pipe(&pipe, wr, message, &mut sent_down);
        tokio::select! {
            r = up => { r?; false }
            r = down => { r?; true }
        }
    };
    // The client end closes now (the server sees the client gone); smbd's socket once smbd
    // has what was written to it.
    drop(pipe);
    let unread = if pipe_ended { linger(&sock).await } else { 0 };
    tracing::debug!(
        ended_by = if pipe_ended { "the pipe" } else { "smbd" },
        to_pipe = sent_up,
        to_smbd = sent_down,
        unread_by_smbd = unread,
        "remote client relay ended"
    );
    Ok(())
}

/// Wait until smbd has read everything written to `sock` and [`DRAIN_GRACE`] has passed
/// since, or smbd closed it, or [`LINGER`]; the bytes it left unread. Woken by the kernel: a
/// Unix socket's writer is woken (write readiness) each time its peer consumes queued data;
/// [`unread_by_peer`] tells when nothing is left.
async fn linger(sock: &UnixStream) -> usize {
    let wait = async {
        let mut drained_at = None;
        loop {
            // Clear the readiness first, so a consumption after the check still wakes us.
            let _ = sock.try_io(Interest::WRITABLE, || {
                Err::<(), _>(io::ErrorKind::WouldBlock.into())
            });
            let drained = unread_by_peer(sock) == 0;
            let grace_end = if drained {
                *drained_at.get_or_insert_with(tokio::time::Instant::now) + DRAIN_GRACE
            } else {
                drained_at = None;
                // Never reached while bytes are unread (LINGER ends the wait first).
                tokio::time::Instant::now() + LINGER
            };
            tokio::select! {
                () = tokio::time::sleep_until(grace_end), if drained => return,
                r = sock.writable(), if !drained => if r.is_err() { return },
                r = sock.readable() => {
                    if r.is_err() {
                        return;
                    }
                    // smbd wrote (dropped: the pipe is gone) or hung up.
                    let mut junk = [0u8; 4096];
                    match sock.try_read(&mut junk) {
                        Ok(0) => return,
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => return,
                    }
                }
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, wait).await;
    unread_by_peer(sock)
}

/// Bytes written to `sock` that its peer has not read yet (`SIOCOUTQ`); 0 when unknown.
fn unread_by_peer(sock: &UnixStream) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ) on a socket we own writes one int through the pointer.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    if r == 0 {
        usize::try_from(n).unwrap_or(0)
    } else {
        0
    }
}

/// smbd → pipe.
async fn to_pipe(
    mut rd: ReadHalf<'_>,
    pipe: &NamedPipeClient,
    message: bool,
    sent: &mut u64,
) -> io::Result<()> {
    loop {
        let data = if message {
            let mut head = [0u8; 2];
            match rd.read_exact(&mut head).await {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
            let n = usize::from(u16::from_le_bytes(head));
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "zero-length message frame from smbd",
                ));
            }
            let mut data = vec![0u8; n];
            rd.read_exact(&mut data).await?;
            data
        } else {
            rd.readable().await?;
            let mut data = vec![0u8; MAX_MESSAGE];
            let n = rd.read(&mut data).await?;
            if n == 0 {
                return Ok(());
            }
            data.truncate(n);
            data
        };
        match pipe.write_msg(&data).await {
            Ok(_) => *sent += data.len() as u64,
            Err(e) if is_end(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// pipe → smbd.
async fn from_pipe(
    pipe: &NamedPipeClient,
    mut wr: WriteHalf<'_>,
    message: bool,
    sent: &mut u64,
) -> io::Result<()> {
    loop {
        match pipe.readable().await {
            Ok(()) => {}
            Err(e) if is_end(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut buf = vec![0u8; 2 + MAX_MESSAGE];
        let got = match pipe.recv_msg(&mut buf[2..]).await {
            Ok(got) => got,
            Err(e) if is_end(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        let n = got.len;
        if n == 0 {
            if message {
                // A zero-length message: smbd's framing cannot carry it.
                continue;
            }
            return Ok(());
        }
        let out = if message {
            buf[..2].copy_from_slice(&(n as u16).to_le_bytes());
            &buf[..2 + n]
        } else {
            &buf[2..2 + n]
        };
        wr.write_all(out).await?;
        *sent += n as u64;
    }
}

/// The other end went away: the relay ends normally.
fn is_end(e: &io::Error) -> bool {
    matches!(
        npfs::Win32IoError::win32_error(e),
        Some(Win32Error::BROKEN_PIPE | Win32Error::PIPE_NOT_CONNECTED | Win32Error::NO_DATA)
    ) || matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    )
}
