//! `npfs call` (CallNamedPipe) and `npfs wait` (WaitNamedPipe).

use std::io::Write;

use npfs::consts::{NMPWAIT_USE_DEFAULT_WAIT, NMPWAIT_WAIT_FOREVER};
use npfs::{call_named_pipe, wait_named_pipe};

use crate::exit;

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

/// `npfs call NAME MESSAGE`: returns the exit status.
pub fn call(name: &str, message: &str, timeout: Timeout, reply_size: usize) -> i32 {
    let mut reply = vec![0u8; reply_size];
    match call_named_pipe(name, message.as_bytes(), &mut reply, timeout.0) {
        Ok(r) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&reply[..r.len]);
            let _ = out.write_all(b"\n");
            let _ = out.flush();
            if r.more_data {
                eprintln!(
                    "npfs: {}: the reply from {name} was longer than {reply_size} bytes and was \
                     cut short (the rest is lost); try a larger --reply-size",
                    npfs::Win32Error::MORE_DATA.label()
                );
                return exit::MORE_DATA;
            }
            exit::OK
        }
        Err(e) if e == npfs::Win32Error::INVALID_PARAMETER => {
            eprintln!(
                "npfs: {}: {name} is not a message pipe; CallNamedPipe needs one (use connect)",
                e.label()
            );
            exit::FAILED
        }
        Err(e) => exit::report(e, name),
    }
}

/// `npfs wait NAME`: returns the exit status.
pub fn wait(name: &str, timeout: Timeout) -> i32 {
    match wait_named_pipe(name, timeout.0) {
        Ok(()) => exit::OK,
        Err(e) if e == npfs::Win32Error::SEM_TIMEOUT => {
            eprintln!(
                "npfs: {}: no instance of {name} was listening before the time-out",
                e.label()
            );
            exit::TIMED_OUT
        }
        Err(e) => exit::report(e, name),
    }
}
