//! `npfs connect`: bridge stdin and stdout to a pipe, like socat or npiperelay.
//!
//! Bytes read from stdin are written to the pipe, bytes read from the pipe go to stdout. In
//! `--message` mode each line of stdin (without its newline) is one message, and each
//! message read is printed as a line.
//!
//! When the session ends:
//!
//! - stdin ended and the server closed or disconnected: at once;
//! - stdin ended and the pipe has then been quiet for the grace time (`-t`, like socat's;
//!   0.5 s by default; in `--message` mode only with `--ei` or `-t`, else the server's end
//!   is waited for): every byte that arrived is written out first;
//! - `--ep`: when the server closed or disconnected, even if stdin has more;
//! - stdout closed (nobody reads the output any more): at once, quietly, status 0.
//!
//! When the server went away before all of stdin was sent, the status is 1 and a message
//! says how much was sent (`--ep` asked for that ending: status 0).
//!
//! Stdin is read and written to the pipe by a thread of its own (blocking reads and
//! writes). The pipe is read on a tokio current-thread runtime: its readiness wakes the
//! session, and so do stdin's end and the grace timer, with no polling. The data itself is
//! taken with the blocking API's ReadFile with a short time-out, which either returns data
//! (all of it is then written out before anything else happens) or is cancelled having
//! consumed nothing; so no byte is lost when the grace time ends the session.

use std::io::{BufRead, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use npfs::consts::{
    GENERIC_READ, GENERIC_WRITE, NMPWAIT_USE_DEFAULT_WAIT, NMPWAIT_WAIT_FOREVER,
    PIPE_READMODE_MESSAGE,
};
use npfs::tokio::NamedPipeClient;
use npfs::{wait_named_pipe, PipeClient, PipeHandle, Win32Error, Win32IoError};
use tokio::sync::mpsc;

use crate::appear::{until_exists, Deadline, Failure};
use crate::simple::{not_found_hint, Timeout};
use crate::{exit, out};

/// The grace time when none is given (`-t`).
pub const DEFAULT_GRACE: Duration = Duration::from_millis(500);

/// How long one look at the pipe waits for data once it was said to be readable (readiness
/// can be stale; the ReadFile is then cancelled, having consumed nothing).
const TAKE: Duration = Duration::from_millis(20);

/// The longest grace time `-t` takes, in seconds (`forever` is for longer).
const MAX_GRACE_SECS: f64 = 1e6;

/// `-t`: how long the pipe must be quiet after stdin's end for the session to end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grace(pub Option<Duration>);

/// clap parser for [`Grace`]: seconds (decimals allowed) or `forever`.
///
/// # Errors
///
/// Anything else, or a negative or too large number.
pub fn parse_grace(s: &str) -> Result<Grace, String> {
    if s == "forever" {
        return Ok(Grace(None));
    }
    match s.parse::<f64>() {
        Ok(secs) if (0.0..=MAX_GRACE_SECS).contains(&secs) => {
            Ok(Grace(Some(Duration::from_secs_f64(secs))))
        }
        _ => Err(format!(
            "{s:?} is not a grace time: give seconds (0 to {MAX_GRACE_SECS}, e.g. 0.5) or \
             `forever`"
        )),
    }
}

/// What `npfs connect` was asked to do.
#[derive(Debug, Clone)]
pub struct ConnectArgs {
    /// Full pipe name.
    pub name: String,
    /// Message read mode; lines are messages.
    pub message: bool,
    /// Wait this long for a free instance when all are busy (with `-p`: for the pipe too).
    pub wait: Option<Timeout>,
    /// Wait until the pipe exists (and an instance is free).
    pub poll: bool,
    /// Send a zero-length message when stdin ends.
    pub send_zero: bool,
    /// End the session when the pipe reaches end-of-file.
    pub exit_on_pipe_eof: bool,
    /// End the session after stdin's end and the grace time, in message mode too.
    pub exit_on_stdin_eof: bool,
    /// `-t`, when given.
    pub grace: Option<Grace>,
}

impl ConnectArgs {
    /// The grace time in force: `-t`; else [`DEFAULT_GRACE`], except in `--message` mode
    /// without `--ei`, where the server's end is waited for (`None`).
    pub(crate) fn grace(&self) -> Option<Duration> {
        match self.grace {
            Some(g) => g.0,
            None if self.message && !self.exit_on_stdin_eof => None,
            None => Some(DEFAULT_GRACE),
        }
    }
}

/// The error codes that mean "the server end is gone": end-of-file of the pipe.
pub(crate) fn is_pipe_eof(e: Win32Error) -> bool {
    e == Win32Error::BROKEN_PIPE || e == Win32Error::PIPE_NOT_CONNECTED || e == Win32Error::NO_DATA
}

/// CreateFile with the widest access the pipe's direction allows.
fn open_once(name: &str) -> Result<(PipeClient, bool, bool), Win32Error> {
    match PipeClient::open(name, GENERIC_READ | GENERIC_WRITE) {
        Ok(c) => Ok((c, true, true)),
        Err(e) if e == Win32Error::ACCESS_DENIED => match PipeClient::open(name, GENERIC_WRITE) {
            Ok(c) => Ok((c, false, true)),
            Err(e) if e == Win32Error::ACCESS_DENIED => {
                PipeClient::open(name, GENERIC_READ).map(|c| (c, true, false))
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// Open the pipe: `-p` waits while it does not exist, `--wait` (or `-p`) while every
/// instance is busy, all within `--wait` (`-p` without `--wait`: forever).
fn open(a: &ConnectArgs) -> Result<(PipeClient, bool, bool), Failure> {
    let waits = a.poll || a.wait.is_some();
    let deadline = Deadline::new(a.wait.unwrap_or(Timeout(NMPWAIT_WAIT_FOREVER)));
    let open_waiting = |_: u32| loop {
        match open_once(&a.name) {
            Err(e) if e == Win32Error::PIPE_BUSY && waits => {
                let ms = deadline.left_ms().ok_or(Win32Error::SEM_TIMEOUT)?;
                // Bounded slices, so that a pipe that vanishes meanwhile is noticed.
                let slice = if ms == NMPWAIT_USE_DEFAULT_WAIT {
                    ms
                } else {
                    ms.min(1000)
                };
                match wait_named_pipe(&a.name, slice) {
                    Ok(()) => {}
                    // The pipe's own time-out passed.
                    Err(e) if e == Win32Error::SEM_TIMEOUT && slice == NMPWAIT_USE_DEFAULT_WAIT => {
                        return Err(e)
                    }
                    // A slice passed: the deadline is looked at again.
                    Err(e) if e == Win32Error::SEM_TIMEOUT => {}
                    // ERROR_FILE_NOT_FOUND included: under -p, waited for again.
                    Err(e) => return Err(e),
                }
            }
            r => return r,
        }
    };
    if a.poll {
        until_exists(&deadline, open_waiting)
    } else {
        open_waiting(0).map_err(Failure::Win32)
    }
}

/// What the stdin thread tells the session.
#[derive(Debug)]
pub(crate) enum StdinEvent {
    /// Stdin ended and all of it was written to the pipe.
    Ended,
    /// The server went away before all of stdin was written (`sent` bytes were).
    ServerGone { error: Win32Error, sent: u64 },
    /// Reading stdin or writing the pipe failed otherwise.
    Failed(String),
}

/// `npfs connect`: returns the exit status.
pub fn run(a: ConnectArgs) -> i32 {
    let (client, reads, writes) = match open(&a) {
        Ok(c) => c,
        Err(f) => return not_found_hint(f, &a.name, a.poll),
    };
    if a.message {
        if let Err(e) = client.set_handle_mode(PIPE_READMODE_MESSAGE) {
            eprintln!(
                "npfs: {}: --message needs a message pipe, and {} is a byte pipe",
                e.label(),
                a.name
            );
            return exit::FAILED;
        }
    }
    if client.is_remote() {
        return crate::remote::session(client, reads, writes, &a); // over SMB: no readiness
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return exit::fail(format_args!("cannot start the event loop: {e}")),
    };
    rt.block_on(session(client, reads, writes, &a))
}

/// The session, from the open pipe to the exit status.
async fn session(client: PipeClient, reads: bool, writes: bool, a: &ConnectArgs) -> i32 {
    let client = Arc::new(NamedPipeClient::from(client));
    let (tx, mut rx) = mpsc::unbounded_channel();
    if writes {
        let (client, a) = (client.clone(), a.clone());
        // Ends with the process when the session ends first.
        std::thread::spawn(move || {
            let _ = tx.send(stdin_to_pipe(client.as_blocking(), &a));
        });
    }
    let h = client.as_blocking();
    let grace = a.grace();
    let mut stdin_done = !writes;
    // When stdin really ended (a pipe this end cannot write to has no grace time).
    let mut stdin_end: Option<Instant> = None;
    let mut unsent: Option<(Win32Error, u64)> = None;
    let mut pipe_done = !reads;
    let mut last_data = Instant::now();
    let mut look = reads;
    let mut reader = PipeToStdout::new(a.message);
    loop {
        if look && !pipe_done {
            match reader.drain(h) {
                Drained::Some => last_data = Instant::now(),
                Drained::Nothing => {}
                Drained::PipeEnded => pipe_done = true,
                Drained::StdoutClosed => return exit::OK,
                Drained::Failed(msg) => return exit::fail(msg),
            }
        }
        look = false;
        if pipe_done && (stdin_done || a.exit_on_pipe_eof) {
            break;
        }
        let quiet_until = match (stdin_end, grace) {
            (Some(end), Some(g)) if !pipe_done => Some(end.max(last_data) + g),
            _ => None,
        };
        if quiet_until.is_some_and(|q| q <= Instant::now()) {
            break;
        }
        let timer = tokio::time::sleep_until(quiet_until.unwrap_or_else(Instant::now).into());
        tokio::select! {
            r = client.readable(), if !pipe_done => match r {
                Ok(()) => look = true,
                Err(e) => {
                    return exit::fail(format_args!(
                        "waiting for {}: {}",
                        a.name,
                        e.win32_display()
                    ))
                }
            },
            ev = rx.recv(), if !stdin_done => {
                stdin_done = true;
                stdin_end = Some(Instant::now());
                match ev {
                    Some(StdinEvent::Ended) | None => {}
                    Some(StdinEvent::ServerGone { error, sent }) => {
                        if a.exit_on_pipe_eof {
                            return exit::OK;
                        }
                        unsent = Some((error, sent));
                    }
                    Some(StdinEvent::Failed(msg)) => return exit::fail(msg),
                }
            },
            () = timer, if quiet_until.is_some() => look = true,
        }
    }
    match unsent {
        Some((e, sent)) if !a.exit_on_pipe_eof => {
            let how = if e == Win32Error::PIPE_NOT_CONNECTED {
                "disconnected"
            } else {
                "closed"
            };
            eprintln!(
                "npfs: {}: the server {how} {} before all of stdin was sent ({sent} bytes sent)",
                e.label(),
                a.name
            );
            exit::FAILED
        }
        _ => exit::OK,
    }
}

/// Stdin to the pipe, until stdin ends; then the zero-length message of `-s`.
pub(crate) fn stdin_to_pipe(client: &PipeHandle, a: &ConnectArgs) -> StdinEvent {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut sent = 0u64;
    let mut write = |data: &[u8]| -> Result<(), Win32Error> {
        let mut at = 0;
        loop {
            let n = client.write(&data[at..])?;
            at += n;
            sent += n as u64;
            if at >= data.len() {
                return Ok(());
            }
        }
    };
    let result = if a.message {
        let mut line = Vec::new();
        loop {
            line.clear();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => break Ok(()),
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    // One message, whole (or an error).
                    if let Err(e) = write(&line) {
                        break Err(e);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return StdinEvent::Failed(format!("reading stdin: {e}")),
            }
        }
    } else {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match input.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    if let Err(e) = write(&buf[..n]) {
                        break Err(e);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return StdinEvent::Failed(format!("reading stdin: {e}")),
            }
        }
    };
    match result {
        Ok(()) => {
            if a.send_zero {
                match client.write(&[]) {
                    Ok(_) => {}
                    // Everything was sent; the server leaving now is its business.
                    Err(e) if is_pipe_eof(e) => {}
                    Err(e) => return StdinEvent::Failed(exit::message(e, &a.name)),
                }
            }
            StdinEvent::Ended
        }
        Err(error) if is_pipe_eof(error) => StdinEvent::ServerGone { error, sent },
        Err(e) => StdinEvent::Failed(exit::message(e, &a.name)),
    }
}

/// What one look at the pipe found.
enum Drained {
    /// Data, all of it written to stdout.
    Some,
    /// Nothing (stale readiness).
    Nothing,
    /// The server closed or disconnected, and everything before that was written out.
    PipeEnded,
    /// Nobody reads stdout any more.
    StdoutClosed,
    /// Reading the pipe failed.
    Failed(String),
}

/// The pipe to stdout: bytes as they come, or each message as a line.
struct PipeToStdout {
    message: bool,
    buf: Vec<u8>,
    /// The message being put together from parts (`more_data`).
    msg: Vec<u8>,
}

impl PipeToStdout {
    fn new(message: bool) -> PipeToStdout {
        PipeToStdout {
            message,
            buf: vec![0u8; 64 * 1024],
            msg: Vec::new(),
        }
    }

    /// Read what the pipe has and write it out, until it has nothing for [`TAKE`].
    fn drain(&mut self, h: &PipeHandle) -> Drained {
        let mut got = false;
        loop {
            let r = match h.read_timeout(&mut self.buf, TAKE) {
                Ok(r) => r,
                // Cancelled: it consumed nothing.
                Err(e) if e == Win32Error::OPERATION_ABORTED => {
                    return if got { Drained::Some } else { Drained::Nothing };
                }
                Err(e) if is_pipe_eof(e) => return Drained::PipeEnded,
                Err(e) => {
                    return Drained::Failed(format!(
                        "{}: reading the pipe: {}",
                        e.label(),
                        e.describe()
                    ))
                }
            };
            got = true;
            let res = if self.message {
                self.msg.extend_from_slice(&self.buf[..r.len]);
                if r.more_data {
                    continue;
                }
                self.msg.push(b'\n');
                let res = out::write(&self.msg);
                self.msg.clear();
                res
            } else if r.len == 0 {
                continue;
            } else {
                out::write(&self.buf[..r.len])
            };
            match res {
                Ok(()) => {}
                Err(e) if out::is_closed(&e) => return Drained::StdoutClosed,
                Err(e) => return Drained::Failed(format!("writing to stdout: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_times() {
        assert_eq!(parse_grace("0.5"), Ok(Grace(Some(DEFAULT_GRACE))));
        assert_eq!(parse_grace("2"), Ok(Grace(Some(Duration::from_secs(2)))));
        assert_eq!(parse_grace("0"), Ok(Grace(Some(Duration::ZERO))));
        assert_eq!(parse_grace("forever"), Ok(Grace(None)));
        for bad in ["-1", "", "soon", "NaN", "inf", "1e9"] {
            assert!(parse_grace(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn grace_in_force() {
        let mut a = ConnectArgs {
            name: r"\\.\pipe\x".into(),
            message: false,
            wait: None,
            poll: false,
            send_zero: false,
            exit_on_pipe_eof: false,
            exit_on_stdin_eof: false,
            grace: None,
        };
        assert_eq!(a.grace(), Some(DEFAULT_GRACE));
        a.message = true;
        assert_eq!(a.grace(), None, "message mode waits for the server");
        a.exit_on_stdin_eof = true;
        assert_eq!(a.grace(), Some(DEFAULT_GRACE));
        a.grace = Some(Grace(None));
        assert_eq!(a.grace(), None);
        a.grace = Some(Grace(Some(Duration::from_secs(3))));
        assert_eq!(a.grace(), Some(Duration::from_secs(3)));
    }
}
