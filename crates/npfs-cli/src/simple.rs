//! `npfs call` (CallNamedPipe) and `npfs wait` (WaitNamedPipe), each with `-p` to wait
//! until the pipe exists first ([`crate::appear`]).

use npfs::consts::{NMPWAIT_USE_DEFAULT_WAIT, NMPWAIT_WAIT_FOREVER};
use npfs::{call_named_pipe, wait_named_pipe, Win32Error};

use crate::appear::{until_exists, Deadline, Failure};
use crate::{exit, out};

/// A time-out argument: milliseconds, `default` (the pipe's nDefaultTimeOut) or `forever`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub u32);

/// clap parser for [`Timeout`].
///
/// # Errors
///
/// A value that is neither a number of milliseconds nor `default` / `forever`.
pub fn parse_timeout(s: &str) -> Result<Timeout, String> {
    match s {
        "default" => Ok(Timeout(NMPWAIT_USE_DEFAULT_WAIT)),
        "forever" => Ok(Timeout(NMPWAIT_WAIT_FOREVER)),
        _ => s.parse::<u32>().map(Timeout).map_err(|_| {
            format!("{s:?} is not a time-out: give milliseconds, `default` or `forever`")
        }),
    }
}

/// `npfs call NAME MESSAGE`: returns the exit status. With `poll` (`-p`), first wait until
/// the pipe exists, within `timeout`.
pub fn call(name: &str, message: &str, timeout: Timeout, reply_size: usize, poll: bool) -> i32 {
    let mut reply = vec![0u8; reply_size];
    let r = if poll {
        until_exists(&Deadline::new(timeout), |ms| {
            call_named_pipe(name, message.as_bytes(), &mut reply, ms)
        })
    } else {
        call_named_pipe(name, message.as_bytes(), &mut reply, timeout.0).map_err(Failure::Win32)
    };
    match r {
        Ok(r) => {
            let mut text = reply[..r.len].to_vec();
            text.push(b'\n');
            let code = out::print(text);
            if code != exit::OK {
                return code;
            }
            if r.more_data {
                eprintln!(
                    "npfs: {}: the reply from {name} was longer than {reply_size} bytes and was \
                     cut short (the rest is lost); try a larger --reply-size",
                    Win32Error::MORE_DATA.label()
                );
                return exit::MORE_DATA;
            }
            exit::OK
        }
        Err(Failure::Win32(e)) if e == Win32Error::INVALID_PARAMETER => {
            eprintln!(
                "npfs: {}: {name} is not a message pipe; CallNamedPipe needs one (use connect)",
                e.label()
            );
            exit::FAILED
        }
        Err(f) => not_found_hint(f, name, poll),
    }
}

/// `npfs wait NAME`: returns the exit status. With `poll` (`-p`), first wait until the pipe
/// exists, within `timeout`; without it, a missing pipe fails at once (WaitNamedPipe).
pub fn wait(name: &str, timeout: Timeout, poll: bool) -> i32 {
    let r = if poll {
        until_exists(&Deadline::new(timeout), |ms| wait_named_pipe(name, ms))
    } else {
        wait_named_pipe(name, timeout.0).map_err(Failure::Win32)
    };
    match r {
        Ok(()) => exit::OK,
        Err(Failure::Win32(e)) if e == Win32Error::SEM_TIMEOUT => {
            eprintln!(
                "npfs: {}: no instance of {name} was listening before the time-out",
                e.label()
            );
            exit::TIMED_OUT
        }
        Err(f) => not_found_hint(f, name, poll),
    }
}

/// Report `f`; for a missing pipe without `-p`, say that `-p` waits for it.
pub fn not_found_hint(f: Failure, name: &str, poll: bool) -> i32 {
    let code = f.report(name);
    if f == Failure::Win32(Win32Error::FILE_NOT_FOUND) && !poll {
        eprintln!("npfs: (-p waits until the pipe exists)");
    }
    code
}
