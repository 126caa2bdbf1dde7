//! The transports measured by the two-process harness: npfs (byte and message mode) and its
//! raw Unix anchors, behind one [`Endpoint`] interface.
//!
//! Each run builds a fresh channel: [`prepare`] makes the parent's end and tells how the
//! child reaches the other one (arguments, inherited descriptors); the child calls [`open`].

pub mod npfs;
mod pipe2;
pub mod unix;

use std::io;
use std::os::fd::OwnedFd;

use crate::child::ChildArgs;

/// One side of a channel: whole-message send and exact-length receive.
pub trait Endpoint {
    /// Send `buf` as one message (one write call; byte streams loop on short writes).
    fn send(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Receive exactly `buf.len()` bytes: one read for message transports, a loop of reads
    /// for byte streams.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()>;
    /// The child has opened its end (the npfs server waits for its client here).
    fn peer_ready(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The transports, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// npfs, `PIPE_TYPE_BYTE`, byte read mode.
    NpfsByte,
    /// npfs, `PIPE_TYPE_MESSAGE`, message read mode on both ends.
    NpfsMsg,
    /// AF_UNIX SOCK_STREAM socketpair.
    UnixStream,
    /// AF_UNIX SOCK_SEQPACKET socketpair.
    SeqPacket,
    /// Two pipe(2)s, one per direction.
    Pipe,
}

impl Kind {
    /// Every kind the harness runs.
    pub const ALL: [Kind; 5] = [
        Kind::NpfsByte,
        Kind::NpfsMsg,
        Kind::UnixStream,
        Kind::SeqPacket,
        Kind::Pipe,
    ];

    /// Short name (command lines, JSON).
    pub fn id(self) -> &'static str {
        match self {
            Kind::NpfsByte => "npfs-byte",
            Kind::NpfsMsg => "npfs-msg",
            Kind::UnixStream => "unix-stream",
            Kind::SeqPacket => "unix-seqpacket",
            Kind::Pipe => "pipe",
        }
    }

    /// Name in the table.
    pub fn label(self) -> &'static str {
        match self {
            Kind::NpfsByte => "npfs, byte mode",
            Kind::NpfsMsg => "npfs, message mode",
            Kind::UnixStream => "AF_UNIX SOCK_STREAM",
            Kind::SeqPacket => "AF_UNIX SOCK_SEQPACKET",
            Kind::Pipe => "pipe(2)",
        }
    }

    /// The kind with short name `id`.
    pub fn from_id(id: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.id() == id)
    }
}

/// The parent's end of a fresh channel, and what the child needs to open the other end.
pub struct Prepared {
    /// The parent's end.
    pub endpoint: Box<dyn Endpoint>,
    /// Arguments for the child (`--fd`, `--name`, ...).
    pub child_args: Vec<String>,
    /// Descriptors the child inherits.
    pub inherit: Vec<OwnedFd>,
}

/// Make a channel of `kind` for messages of `size` bytes.
pub fn prepare(kind: Kind, size: usize) -> io::Result<Prepared> {
    match kind {
        Kind::NpfsByte => npfs::prepare(false),
        Kind::NpfsMsg => npfs::prepare(true),
        Kind::UnixStream => unix::prepare(false, size),
        Kind::SeqPacket => unix::prepare(true, size),
        Kind::Pipe => pipe2::prepare(),
    }
}

/// The child's end of a channel of `kind`, from its arguments.
pub fn open(kind: Kind, args: &ChildArgs) -> io::Result<Box<dyn Endpoint>> {
    match kind {
        Kind::NpfsByte => npfs::open(false, args),
        Kind::NpfsMsg => npfs::open(true, args),
        Kind::UnixStream => unix::open(false, args),
        Kind::SeqPacket => unix::open(true, args),
        Kind::Pipe => pipe2::open(args),
    }
}

/// Take over descriptor number `raw`, inherited from the parent.
fn inherited_fd(raw: i32) -> io::Result<OwnedFd> {
    use std::os::fd::{BorrowedFd, FromRawFd};
    // Validate before taking ownership: fcntl on a closed number fails.
    // SAFETY: `raw` is only borrowed for the duration of the check.
    let borrowed = unsafe { BorrowedFd::borrow_raw(raw) };
    rustix::io::fcntl_getfd(borrowed)?;
    // SAFETY: the parent passed this descriptor to us for our exclusive use, and it was just
    // checked to be open; nothing else in this process owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Read exactly `buf.len()` bytes from a byte stream.
fn read_exact_fd(fd: &OwnedFd, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match rustix::io::read(fd, &mut *buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf = &mut buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Write all of `buf` to a byte stream.
fn write_all_fd(fd: &OwnedFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match rustix::io::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
