//! Standard output for scripts: a closed stdout ends the command quietly.
//!
//! The standard library ignores SIGPIPE, so writing to a pipe whose reader has gone (`npfs
//! list | head -1`) fails with `EPIPE` instead of killing the process, and `println!` would
//! panic on it. Everything `npfs` prints to stdout goes through here instead: a closed
//! stdout (`ErrorKind::BrokenPipe`) ends the command with status 0 and no message, as users
//! of `| head` expect. The disposition of SIGPIPE is left as the standard library set it
//! (ignored) in this process; the commands `npfs serve` runs get the default disposition
//! back, as `std::process::Command` resets it in every child it starts.

use std::io::{self, Write};
use std::sync::OnceLock;

use crate::exit;

/// What to do before a quiet exit on a closed stdout (the demo stops its clients).
static ON_CLOSED: OnceLock<fn()> = OnceLock::new();

/// Run `f` before the process ends because its stdout was closed.
pub fn on_closed(f: fn()) {
    let _ = ON_CLOSED.set(f);
}

/// Whether `e` means that nobody reads stdout any more.
pub fn is_closed(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// Write all of `bytes` to stdout and flush it.
///
/// # Errors
///
/// The write's error, `ErrorKind::BrokenPipe` when the reader is gone.
pub fn write(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes).and_then(|()| out.flush())
}

/// Print `text`; returns the exit status: [`exit::OK`] when it was written or when stdout
/// is closed (quietly), [`exit::FAILED`] with a message for any other error.
pub fn print(text: impl AsRef<[u8]>) -> i32 {
    match write(text.as_ref()) {
        Ok(()) => exit::OK,
        Err(e) if is_closed(&e) => exit::OK,
        Err(e) => exit::fail(format_args!("writing to stdout: {e}")),
    }
}

/// End the process quietly with status 0 because stdout is closed.
pub fn closed_exit() -> ! {
    if let Some(f) = ON_CLOSED.get() {
        f();
    }
    std::process::exit(exit::OK)
}

/// Print one line (progress output of long-running commands): a closed stdout ends the
/// process quietly with status 0 ([`closed_exit`]); other errors are ignored, as progress
/// output is not the command's result.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let r = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = r {
        if is_closed(&e) {
            drop(out);
            closed_exit();
        }
    }
}

/// `println!` through [`line`]: a closed stdout ends the process quietly instead of a panic.
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::out::line(format_args!($($t)*))
    };
}
pub(crate) use outln;
