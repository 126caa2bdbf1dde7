//! How `npfs serve` tells a script or a service manager that it is ready: its pipe exists
//! and every instance is listening.
//!
//! - `--ready-fd N`: `READY\n` is written to file descriptor N, which is then closed (the
//!   reader sees the line, then end-of-file), like s6's notification-fd. N is checked with
//!   `fcntl(F_GETFD)` before anything else happens, so that a descriptor this process opens
//!   itself later can never be taken for it; only once it is known to be open is it treated
//!   as ours. Descriptors 0, 1 and 2 are pointed to `/dev/null` instead of closed, so that
//!   the number stays taken.
//! - `$NOTIFY_SOCKET`: `READY=1` is sent to it as sd_notify(3) does (an `AF_UNIX` datagram;
//!   a path starting with `@` is an abstract socket), and `STOPPING=1` when a signal stops
//!   the server. The commands `npfs serve` runs do not see the variable: they are not the
//!   service.

use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// What `--ready-fd` writes.
pub const READY_LINE: &[u8] = b"READY\n";
/// The variable of the service manager's notification socket.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Take descriptor `n` for `--ready-fd`, if it is open.
///
/// # Errors
///
/// A message when `n` is not an open descriptor.
pub fn take_fd(n: u32) -> Result<OwnedFd, String> {
    let raw = i32::try_from(n).map_err(|_| format!("--ready-fd {n}: no such descriptor"))?;
    // SAFETY: fcntl(F_GETFD) only reads the descriptor's flags; for a number that is not an
    // open descriptor it fails with EBADF and changes nothing.
    if unsafe { libc::fcntl(raw, libc::F_GETFD) } < 0 {
        return Err(format!(
            "--ready-fd {n}: descriptor {n} is not open (open it for npfs, e.g. {n}>FILE)"
        ));
    }
    // SAFETY: `raw` is open (F_GETFD succeeded) and was handed to this process for this
    // use: this runs before `npfs serve` opens anything, so no other owner exists here.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // Not for the commands serve runs (it is closed before they start anyway).
    let _ = rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC);
    Ok(fd)
}

/// Write [`READY_LINE`] to the `--ready-fd` descriptor and close it (0, 1 and 2: point them
/// to `/dev/null` instead). A failure is reported on stderr, and serving goes on.
pub fn signal_fd(fd: OwnedFd) {
    let mut file = File::from(fd);
    if let Err(e) = file.write_all(READY_LINE) {
        eprintln!("npfs serve: --ready-fd: cannot write to the descriptor: {e}");
    }
    let mut fd = OwnedFd::from(file);
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    if raw <= 2 {
        match File::options().read(true).write(true).open("/dev/null") {
            Ok(null) => {
                if rustix::io::dup2(&null, &mut fd).is_ok() {
                    // The standard descriptor stays open, on /dev/null.
                    let _ = fd.into_raw_fd();
                }
            }
            Err(e) => eprintln!("npfs serve: --ready-fd {raw}: cannot open /dev/null: {e}"),
        }
    }
}

/// Send `state` (`READY=1`, `STOPPING=1`) to `$NOTIFY_SOCKET`, when it is set. A failure is
/// reported on stderr, and serving goes on.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os(NOTIFY_SOCKET) else {
        return;
    };
    if let Err(e) = send(path.as_bytes(), state.as_bytes()) {
        eprintln!(
            "npfs serve: cannot notify {} ({NOTIFY_SOCKET}) of {state}: {e}",
            path.to_string_lossy()
        );
    }
}

fn send(path: &[u8], state: &[u8]) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    let addr = match path.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None if path.starts_with(b"/") => {
            SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(path))?
        }
        None => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "not a socket path (an absolute path, or @ and an abstract name)",
            ))
        }
    };
    sock.send_to_addr(state, &addr).map(drop)
}
