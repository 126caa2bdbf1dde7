//! `npfs connect` on a remote pipe (`\\HOST\pipe\NAME`, over SMB). An SMB2 READ of a pipe
//! can be neither polled for readiness nor cancelled, so the pipe is read by a thread of its
//! own that blocks in ReadFile; stdin is written by another (as for local pipes), and the
//! session waits on a channel for either, with the grace time as the channel's time-out.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use npfs::{PipeClient, Win32Error};

use crate::connect::{is_pipe_eof, stdin_to_pipe, ConnectArgs, StdinEvent};
use crate::{exit, out};

/// What the two threads tell the session.
enum Event {
    Stdin(StdinEvent),
    /// Bytes read, and whether the message goes on.
    Data(Vec<u8>, bool),
    /// The pipe ended (the server closed) or failed.
    PipeEnd(Option<Win32Error>),
}

/// The session, from the open pipe to the exit status.
pub(crate) fn session(client: PipeClient, reads: bool, writes: bool, a: &ConnectArgs) -> i32 {
    let client = Arc::new(client);
    let (tx, rx) = mpsc::channel();
    if writes {
        let (client, a, tx) = (client.clone(), a.clone(), tx.clone());
        // Ends with the process when the session ends first.
        std::thread::spawn(move || {
            let _ = tx.send(Event::Stdin(stdin_to_pipe(&client, &a)));
        });
    }
    if reads {
        let (client, tx) = (client.clone(), tx.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let ev = match client.read(&mut buf) {
                    Ok(r) => Event::Data(buf[..r.len].to_vec(), r.more_data),
                    Err(e) if is_pipe_eof(e) => Event::PipeEnd(None),
                    Err(e) => Event::PipeEnd(Some(e)),
                };
                let end = matches!(ev, Event::PipeEnd(_));
                if tx.send(ev).is_err() || end {
                    return;
                }
            }
        });
    }
    drop(tx);
    let grace = a.grace();
    let (mut stdin_done, mut pipe_done) = (!writes, !reads);
    let mut stdin_end: Option<Instant> = None;
    let mut last_data = Instant::now();
    let mut unsent: Option<(Win32Error, u64)> = None;
    let mut msg = Vec::new();
    while !(pipe_done && (stdin_done || a.exit_on_pipe_eof)) {
        let quiet_until = match (stdin_end, grace) {
            (Some(end), Some(g)) if !pipe_done => Some(end.max(last_data) + g),
            _ => None,
        };
        let ev = match quiet_until {
            Some(q) => match rx.recv_timeout(q.saturating_duration_since(Instant::now())) {
                Ok(ev) => ev,
                Err(_) => break, // quiet for the grace time (or both threads gone)
            },
            None => match rx.recv() {
                Ok(ev) => ev,
                Err(_) => break,
            },
        };
        match ev {
            Event::Data(data, more) => {
                last_data = Instant::now();
                let res = if a.message {
                    msg.extend_from_slice(&data);
                    if more {
                        continue;
                    }
                    msg.push(b'\n');
                    let r = out::write(&msg);
                    msg.clear();
                    r
                } else {
                    out::write(&data)
                };
                match res {
                    Ok(()) => {}
                    Err(e) if out::is_closed(&e) => return exit::OK,
                    Err(e) => return exit::fail(format_args!("writing stdout: {e}")),
                }
            }
            Event::PipeEnd(None) => pipe_done = true,
            Event::PipeEnd(Some(e)) => {
                return exit::fail(format_args!(
                    "{}: reading the pipe: {}",
                    e.label(),
                    e.describe()
                ))
            }
            Event::Stdin(ev) => {
                stdin_done = true;
                stdin_end = Some(Instant::now());
                match ev {
                    StdinEvent::Ended => {}
                    StdinEvent::ServerGone { error, sent } => {
                        if a.exit_on_pipe_eof {
                            return exit::OK;
                        }
                        unsent = Some((error, sent));
                    }
                    StdinEvent::Failed(m) => return exit::fail(m),
                }
            }
        }
    }
    match unsent {
        Some((e, sent)) if !a.exit_on_pipe_eof => {
            eprintln!(
                "npfs: {}: the server closed {} before all of stdin was sent ({sent} bytes sent)",
                e.label(),
                a.name
            );
            exit::FAILED
        }
        _ => exit::OK,
    }
}
