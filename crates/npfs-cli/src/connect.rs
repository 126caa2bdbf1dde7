//! `npfs connect`: bridge stdin and stdout to a pipe, like socat or npiperelay.
//!
//! Bytes read from stdin are written to the pipe, bytes read from the pipe go to stdout. In
//! `--message` mode each line of stdin (without its newline) is one message, and each
//! message read is printed as a line. The session ends, as with npiperelay, when both
//! directions have ended (stdin reached end-of-file, and the server closed or disconnected),
//! or at the first of them with `--ei` / `--ep`.

use std::io::{BufRead, Read, Write};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use npfs::consts::{GENERIC_READ, GENERIC_WRITE, NMPWAIT_WAIT_FOREVER, PIPE_READMODE_MESSAGE};
use npfs::{wait_named_pipe, PipeClient, PipeHandle, Win32Error};

use crate::exit;

/// What `npfs connect` was asked to do.
#[derive(Debug, Clone)]
pub struct ConnectArgs {
    /// Full pipe name.
    pub name: String,
    /// Message read mode; lines are messages.
    pub message: bool,
    /// Wait up to this many ms for a free instance when all are busy.
    pub wait_ms: Option<u32>,
    /// Poll until the pipe exists (and an instance is free).
    pub poll: bool,
    /// Send a zero-length message when stdin ends.
    pub send_zero: bool,
    /// End the session when the pipe reaches end-of-file.
    pub exit_on_pipe_eof: bool,
    /// End the session when stdin reaches end-of-file.
    pub exit_on_stdin_eof: bool,
}

/// The error codes that mean "the server end is gone": end-of-file of the pipe.
fn is_pipe_eof(e: Win32Error) -> bool {
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

/// Open the pipe: `-p` polls while it does not exist, `--wait` (or `-p`) waits while every
/// instance is busy.
fn open(a: &ConnectArgs) -> Result<(PipeClient, bool, bool), Win32Error> {
    let deadline = a
        .wait_ms
        .map(|ms| Instant::now() + Duration::from_millis(ms.into()));
    let left = || -> Option<u32> {
        match deadline {
            None => Some(NMPWAIT_WAIT_FOREVER),
            Some(d) => {
                let left = d.checked_duration_since(Instant::now())?;
                // 0 would mean "the pipe's default": wait at least 1 ms.
                Some((left.as_millis() as u32).max(1))
            }
        }
    };
    loop {
        match open_once(&a.name) {
            Ok(c) => return Ok(c),
            Err(e) if e == Win32Error::FILE_NOT_FOUND && a.poll => {
                left().ok_or(Win32Error::SEM_TIMEOUT)?;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) if e == Win32Error::PIPE_BUSY && (a.poll || a.wait_ms.is_some()) => {
                // Bounded slices, so that a pipe that vanishes meanwhile is noticed.
                let ms = left().ok_or(Win32Error::SEM_TIMEOUT)?.min(1000);
                match wait_named_pipe(&a.name, ms) {
                    Ok(()) => {}
                    Err(e) if e == Win32Error::SEM_TIMEOUT => {}
                    Err(e) if e == Win32Error::FILE_NOT_FOUND && a.poll => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

enum Event {
    StdinEnded,
    PipeEnded,
    Failed(String),
}

/// `npfs connect`: returns the exit status.
pub fn run(a: ConnectArgs) -> i32 {
    let (client, reads, writes) = match open(&a) {
        Ok(c) => c,
        Err(e) => {
            let code = exit::report(e, &a.name);
            if e == Win32Error::FILE_NOT_FOUND && !a.poll {
                eprintln!("npfs: (-p waits until the pipe exists)");
            }
            return code;
        }
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
    let client = Arc::new(client);
    let (tx, rx) = mpsc::channel::<Event>();

    if writes {
        let (client, tx, a) = (client.clone(), tx.clone(), a.clone());
        std::thread::spawn(move || {
            let _ = tx.send(stdin_to_pipe(&client, &a));
        });
    } else {
        let _ = tx.send(Event::StdinEnded);
    }
    if reads {
        let (client, tx, message) = (client.clone(), tx.clone(), a.message);
        std::thread::spawn(move || {
            let _ = tx.send(pipe_to_stdout(&client, message));
        });
    } else {
        let _ = tx.send(Event::PipeEnded);
    }
    drop(tx);

    let (mut stdin_done, mut pipe_done) = (false, false);
    while let Ok(ev) = rx.recv() {
        match ev {
            Event::StdinEnded => {
                if a.exit_on_stdin_eof {
                    return exit::OK;
                }
                stdin_done = true;
            }
            Event::PipeEnded => {
                if a.exit_on_pipe_eof {
                    return exit::OK;
                }
                pipe_done = true;
            }
            Event::Failed(msg) => {
                eprintln!("npfs: {msg}");
                return exit::FAILED;
            }
        }
        if stdin_done && pipe_done {
            return exit::OK;
        }
    }
    exit::OK
}

fn stdin_to_pipe(client: &PipeClient, a: &ConnectArgs) -> Event {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let write = |data: &[u8]| -> Result<(), Win32Error> {
        let mut at = 0;
        loop {
            at += PipeHandle::write(client, &data[at..])?;
            if at >= data.len() {
                return Ok(());
            }
        }
    };
    let sent = if a.message {
        let mut line = Vec::new();
        loop {
            line.clear();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => break Ok(()),
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    if let Err(e) = PipeHandle::write(client, &line) {
                        break Err(e);
                    }
                }
                Err(e) => return Event::Failed(format!("reading stdin: {e}")),
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
                Err(e) => return Event::Failed(format!("reading stdin: {e}")),
            }
        }
    };
    match sent {
        Ok(()) => {
            if a.send_zero {
                match PipeHandle::write(client, &[]) {
                    Ok(_) => {}
                    Err(e) if is_pipe_eof(e) => {}
                    Err(e) => return Event::Failed(exit::message(e, &a.name)),
                }
            }
            Event::StdinEnded
        }
        // The server went away: nothing more can be written.
        Err(e) if is_pipe_eof(e) => Event::StdinEnded,
        Err(e) => Event::Failed(exit::message(e, &a.name)),
    }
}

fn pipe_to_stdout(client: &PipeClient, message: bool) -> Event {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut buf = vec![0u8; 64 * 1024];
    let mut msg = Vec::new();
    loop {
        match PipeHandle::read(client, &mut buf) {
            Ok(r) => {
                let res = if message {
                    msg.extend_from_slice(&buf[..r.len]);
                    if r.more_data {
                        continue;
                    }
                    msg.push(b'\n');
                    let res = out.write_all(&msg).and_then(|()| out.flush());
                    msg.clear();
                    res
                } else {
                    if r.len == 0 {
                        continue;
                    }
                    out.write_all(&buf[..r.len]).and_then(|()| out.flush())
                };
                if res.is_err() {
                    // Nobody reads our output any more: this direction is over.
                    return Event::PipeEnded;
                }
            }
            Err(e) if is_pipe_eof(e) => return Event::PipeEnded,
            Err(e) => {
                return Event::Failed(format!("{}: reading the pipe: {}", e.label(), e.describe()))
            }
        }
    }
}
