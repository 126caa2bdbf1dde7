//! Socket activation: the listening socket handed over by systemd (`npfsd.socket`), or by
//! anything else that speaks the same protocol (`systemd-socket-activate`).
//!
//! The protocol: the service manager binds and listens, then starts the broker with the socket
//! as descriptor 3 and sets `LISTEN_PID` to the broker's pid and `LISTEN_FDS` to the number of
//! descriptors passed. The variables are honoured only when `LISTEN_PID` names this process,
//! so a child that inherited them ignores them. Descriptor 3 is used only after the kernel
//! confirms it is a listening `AF_UNIX` stream socket.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

/// The first descriptor of the protocol (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: i32 = 3;

/// The activation socket, with the path it is bound to.
#[derive(Debug)]
pub struct Activated {
    /// The listening socket.
    pub listener: UnixListener,
    /// The socket's path (its directory is the broker's runtime directory unless
    /// `--runtime-dir` says otherwise).
    pub path: PathBuf,
}

/// Why the passed socket cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// `LISTEN_FDS` is not 1: the broker listens on exactly one socket.
    #[error("socket activation passed {0} descriptors (LISTEN_FDS); npfsd takes exactly one")]
    Count(String),
    /// Descriptor 3 is not a listening Unix stream socket bound to a path.
    #[error("socket activation: descriptor 3 is not a listening AF_UNIX stream socket bound to a path ({0})")]
    NotUnixListener(String),
}

/// Take the socket systemd passed, if the environment says this process was activated.
///
/// # Errors
///
/// The variables name this process, but the descriptors are not one listening `AF_UNIX`
/// stream socket with a path.
///
/// # Safety
///
/// When `LISTEN_PID` names this process, descriptor 3 is adopted: call this once, at
/// start-up, before anything in the process has opened or adopted descriptor 3.
pub unsafe fn take_listener() -> Result<Option<Activated>, ActivationError> {
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    if !for_us {
        return Ok(None);
    }
    let count = std::env::var("LISTEN_FDS").unwrap_or_default();
    if count.trim() != "1" {
        return Err(ActivationError::Count(count));
    }
    check_listening_unix_socket()?;
    // SAFETY: LISTEN_PID names this process, so the service manager passed descriptor 3 to it
    // for this purpose; the checks above confirmed the kernel holds an open listening socket
    // there, and nothing else in this process owns it (this runs once, at start-up).
    let fd = unsafe { OwnedFd::from_raw_fd(LISTEN_FDS_START) };
    let _ = rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC);
    let listener = UnixListener::from(fd);
    let path = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(PathBuf::from))
        .ok_or_else(|| ActivationError::NotUnixListener("it has no path".into()))?;
    Ok(Some(Activated { listener, path }))
}

/// Check descriptor 3 with the kernel without taking ownership of it.
fn check_listening_unix_socket() -> Result<(), ActivationError> {
    use rustix::net::{sockopt, AddressFamily, SocketType};
    // SAFETY: the borrow lives only inside this function, while descriptor 3 stays open (no
    // code here closes descriptors); the calls below fail cleanly if it is not open.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(LISTEN_FDS_START) };
    let bad = |what: String| ActivationError::NotUnixListener(what);
    rustix::io::fcntl_getfd(fd).map_err(|e| bad(format!("not open: {e}")))?;
    let domain = sockopt::socket_domain(fd).map_err(|e| bad(e.to_string()))?;
    if domain != AddressFamily::UNIX {
        return Err(bad(format!("family {}", domain.as_raw())));
    }
    let ty = sockopt::socket_type(fd).map_err(|e| bad(e.to_string()))?;
    if ty != SocketType::STREAM {
        return Err(bad(format!("type {}", ty.as_raw())));
    }
    if !sockopt::socket_acceptconn(fd).map_err(|e| bad(e.to_string()))? {
        return Err(bad("not listening".into()));
    }
    Ok(())
}
