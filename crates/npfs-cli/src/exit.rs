//! Exit codes and error messages of the `npfs` command.
//!
//! Every failure names the Win32 code and says what it means in plain words, with the pipe's
//! name and, where it helps, what to try:
//! `npfs: ERROR_PIPE_BUSY (231): all instances of \\.\pipe\x are busy; try --wait`.

use npfs::Win32Error;

/// Success.
pub const OK: i32 = 0;
/// Any other failure (a Win32 error without a code of its own, the broker cannot be
/// reached, a command that cannot be started).
pub const FAILED: i32 = 1;
/// Bad usage: unknown flag, malformed value or pipe name (`ERROR_INVALID_NAME`). Also
/// what clap uses for its own usage errors.
pub const USAGE: i32 = 2;
/// No pipe of that name (`ERROR_FILE_NOT_FOUND`).
pub const NOT_FOUND: i32 = 3;
/// All instances are busy (`ERROR_PIPE_BUSY`).
pub const BUSY: i32 = 4;
/// A wait timed out (`ERROR_SEM_TIMEOUT`).
pub const TIMED_OUT: i32 = 5;
/// The reply was cut short (`ERROR_MORE_DATA`); what arrived was printed.
pub const MORE_DATA: i32 = 6;

/// The exit-code table, as `--help` and the README show it.
pub const TABLE: &str = "\
Exit status:
  0  success; also when stdout was closed early (`| head`)
  1  failure (other Win32 errors, broker unreachable, command cannot be started;
     connect: the server went away before all of stdin was sent)
  2  bad usage: unknown flag, malformed value or pipe name (ERROR_INVALID_NAME),
     --ready-fd not open
  3  no pipe of that name (ERROR_FILE_NOT_FOUND)
  4  all instances of the pipe are busy (ERROR_PIPE_BUSY)
  5  timed out (ERROR_SEM_TIMEOUT), also when -p waited for a pipe that never appeared
  6  the reply was cut short (ERROR_MORE_DATA)";

/// The exit code of a failed pipe operation.
pub fn code_of(e: Win32Error) -> i32 {
    match e {
        Win32Error::FILE_NOT_FOUND => NOT_FOUND,
        Win32Error::PIPE_BUSY => BUSY,
        Win32Error::SEM_TIMEOUT => TIMED_OUT,
        Win32Error::MORE_DATA => MORE_DATA,
        Win32Error::INVALID_NAME | Win32Error::BAD_PATHNAME => USAGE,
        _ => FAILED,
    }
}

/// What `e` means for the pipe `name`, in plain words.
pub fn explain(e: Win32Error, name: &str) -> String {
    match e {
        Win32Error::FILE_NOT_FOUND => format!("no pipe named {name} exists"),
        Win32Error::PIPE_BUSY => format!("all instances of {name} are busy; try --wait"),
        Win32Error::SEM_TIMEOUT => {
            format!("no instance of {name} was free before the time-out")
        }
        Win32Error::ACCESS_DENIED => format!(
            "access to {name} is denied (the pipe's direction does not allow it, or the \
             instance limit or first-instance flag refused a new instance)"
        ),
        Win32Error::INVALID_NAME | Win32Error::BAD_PATHNAME => {
            format!("{name} is not a valid pipe name")
        }
        Win32Error::MORE_DATA => format!("the reply from {name} was cut short"),
        Win32Error::BROKEN_PIPE | Win32Error::PIPE_NOT_CONNECTED | Win32Error::NO_DATA => {
            format!("{name}: {}", e.describe())
        }
        Win32Error::NO_SYSTEM_RESOURCES => format!(
            "the broker (npfsd) cannot be reached; see npfsd.log in the runtime directory \
             ({name})"
        ),
        other => format!("{name}: {}", other.describe()),
    }
}

/// The full message for `e` on `name`, with the code's label first.
pub fn message(e: Win32Error, name: &str) -> String {
    format!("{}: {}", e.label(), explain(e, name))
}

/// Print the message for `e` on `name` to stderr and return its exit code.
pub fn report(e: Win32Error, name: &str) -> i32 {
    eprintln!("npfs: {}", message(e, name));
    code_of(e)
}

/// Print a failure that is not a Win32 error; returns [`FAILED`].
pub fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("npfs: {msg}");
    FAILED
}
