//! `-p` of `npfs wait`, `npfs call` and `npfs connect`: wait until the pipe exists, then do
//! what the command does without `-p`, all within one time-out.
//!
//! Neither the library nor the broker's protocol can wait for a pipe to be *created*:
//! WaitNamedPipe fails at once with `ERROR_FILE_NOT_FOUND` for a name that does not exist
//! (Windows' rule, which `npfs wait` keeps without `-p`). So `-p` retries the operation while
//! the pipe is missing, sleeping between tries with a backoff from [`FIRST_PAUSE`] up to
//! [`LAST_PAUSE`], never past the time-out. That is a poll, and an acceptable one for a
//! command-line tool waiting for a server to start: at most five looks a second, each one
//! connection to the broker. Once the pipe exists, waiting for a free instance is the
//! broker's event-driven WaitNamedPipe, not a poll.

use std::time::{Duration, Instant};

use npfs::consts::{NMPWAIT_USE_DEFAULT_WAIT, NMPWAIT_WAIT_FOREVER};
use npfs::Win32Error;

use crate::exit;
use crate::simple::Timeout;

/// The first pause between two looks for a missing pipe.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// The longest pause between two looks (the pauses double up to it).
const LAST_PAUSE: Duration = Duration::from_millis(200);

/// What is left of a command-line time-out.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    /// When it passes; `None`: no limit of ours.
    until: Option<Instant>,
    /// `default`: the pipe's nDefaultTimeOut, which is known only once the pipe exists.
    pipe_default: bool,
}

impl Deadline {
    /// The deadline of `t`, from now. `default` and `forever` put no limit on the wait for
    /// the pipe to exist; after that, `default` is the pipe's nDefaultTimeOut.
    pub fn new(t: Timeout) -> Deadline {
        match t.0 {
            NMPWAIT_USE_DEFAULT_WAIT => Deadline {
                until: None,
                pipe_default: true,
            },
            NMPWAIT_WAIT_FOREVER => Deadline {
                until: None,
                pipe_default: false,
            },
            ms => Deadline {
                until: Some(Instant::now() + Duration::from_millis(ms.into())),
                pipe_default: false,
            },
        }
    }

    /// Time left; `Some(None)`: no limit; `None`: it passed.
    fn left(&self) -> Option<Option<Duration>> {
        match self.until {
            None => Some(None),
            Some(d) => d
                .checked_duration_since(Instant::now())
                .filter(|l| !l.is_zero())
                .map(Some),
        }
    }

    /// What is left as a WaitNamedPipe / CallNamedPipe time-out (milliseconds,
    /// `NMPWAIT_USE_DEFAULT_WAIT` or `NMPWAIT_WAIT_FOREVER`); `None` when it passed.
    pub fn left_ms(&self) -> Option<u32> {
        if self.pipe_default {
            return Some(NMPWAIT_USE_DEFAULT_WAIT);
        }
        match self.left()? {
            None => Some(NMPWAIT_WAIT_FOREVER),
            // At least 2 ms: 0 means the pipe's default, and 1 is NMPWAIT_NOWAIT for
            // CallNamedPipe.
            Some(l) => Some(l.as_millis().clamp(2, u128::from(u32::MAX - 1)) as u32),
        }
    }
}

/// Why an operation under `-p` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The time-out passed while no pipe of that name existed.
    NeverAppeared,
    /// The operation failed (with `ERROR_SEM_TIMEOUT` when the time-out passed after the
    /// pipe appeared).
    Win32(Win32Error),
}

impl Failure {
    /// Print what went wrong with `name` and return the exit status.
    pub fn report(self, name: &str) -> i32 {
        match self {
            Failure::NeverAppeared => {
                eprintln!(
                    "npfs: {}: no pipe named {name} appeared before the time-out",
                    Win32Error::SEM_TIMEOUT.label()
                );
                exit::TIMED_OUT
            }
            Failure::Win32(e) => exit::report(e, name),
        }
    }
}

/// Run `attempt` (given what is left of the time-out, as [`Deadline::left_ms`] says it) until
/// it does not fail with `ERROR_FILE_NOT_FOUND`, pausing between tries (see the module
/// docs), at most until `deadline`. One try is always made.
///
/// # Errors
///
/// [`Failure::NeverAppeared`] when the time-out passed while the pipe did not exist, else
/// the error of the last try.
pub fn until_exists<T>(
    deadline: &Deadline,
    mut attempt: impl FnMut(u32) -> Result<T, Win32Error>,
) -> Result<T, Failure> {
    let mut pause = FIRST_PAUSE;
    let mut first = true;
    loop {
        let ms = match deadline.left_ms() {
            Some(ms) => ms,
            None if first => 2,
            None => return Err(Failure::NeverAppeared),
        };
        first = false;
        match attempt(ms) {
            Err(e) if e == Win32Error::FILE_NOT_FOUND => {
                let sleep = match deadline.left() {
                    None => return Err(Failure::NeverAppeared),
                    Some(None) => pause,
                    Some(Some(left)) => pause.min(left),
                };
                std::thread::sleep(sleep);
                pause = (pause * 2).min(LAST_PAUSE);
            }
            r => return r.map_err(Failure::Win32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_left() {
        assert_eq!(
            Deadline::new(Timeout(NMPWAIT_USE_DEFAULT_WAIT)).left_ms(),
            Some(NMPWAIT_USE_DEFAULT_WAIT)
        );
        assert_eq!(
            Deadline::new(Timeout(NMPWAIT_WAIT_FOREVER)).left_ms(),
            Some(NMPWAIT_WAIT_FOREVER)
        );
        let ms = Deadline::new(Timeout(60_000)).left_ms().unwrap();
        assert!((50_000..=60_000).contains(&ms), "{ms}");
        // Never 0 (the pipe's default) or 1 (NMPWAIT_NOWAIT) while time is left.
        let d = Deadline::new(Timeout(5));
        if let Some(ms) = d.left_ms() {
            assert!(ms >= 2);
        }
    }

    #[test]
    fn retries_only_while_the_pipe_is_missing() {
        let d = Deadline::new(Timeout(60_000));
        let mut tries = 0;
        let r = until_exists(&d, |_| {
            tries += 1;
            if tries < 3 {
                Err(Win32Error::FILE_NOT_FOUND)
            } else {
                Ok(tries)
            }
        });
        assert_eq!(r, Ok(3));
        let r: Result<(), _> = until_exists(&d, |_| Err(Win32Error::PIPE_BUSY));
        assert_eq!(r, Err(Failure::Win32(Win32Error::PIPE_BUSY)));
        let started = Instant::now();
        let d = Deadline::new(Timeout(100));
        let r: Result<(), _> = until_exists(&d, |_| Err(Win32Error::FILE_NOT_FOUND));
        assert_eq!(r, Err(Failure::NeverAppeared));
        assert!(started.elapsed() >= Duration::from_millis(90));
    }
}
