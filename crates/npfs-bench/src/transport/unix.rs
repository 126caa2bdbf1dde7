//! AF_UNIX socketpairs, SOCK_STREAM and SOCK_SEQPACKET, with default buffers — except that a
//! SEQPACKET message that cannot fit the default `sk_sndbuf` (212992 bytes) gets
//! `SO_SNDBUF = 2 × size + 64 KiB`, as the anchors in `../shared/bench` do.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use rustix::net::{socketpair, sockopt, AddressFamily, SocketFlags, SocketType};

use super::{inherited_fd, read_exact_fd, write_all_fd, Endpoint, Prepared};
use crate::child::ChildArgs;

struct Sock {
    fd: OwnedFd,
    seqpacket: bool,
}

impl Endpoint for Sock {
    fn send(&mut self, buf: &[u8]) -> io::Result<()> {
        if !self.seqpacket {
            return write_all_fd(&self.fd, buf);
        }
        let n = rustix::io::write(&self.fd, buf)?;
        if n != buf.len() {
            return Err(io::Error::other("short seqpacket write"));
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        if !self.seqpacket {
            return read_exact_fd(&self.fd, buf);
        }
        let n = rustix::io::read(&self.fd, &mut *buf)?;
        if n != buf.len() {
            return Err(io::Error::other("short seqpacket read"));
        }
        Ok(())
    }
}

/// The SO_SNDBUF a SEQPACKET message of `size` bytes needs, if the default is too small.
pub fn seqpacket_sndbuf(size: usize) -> Option<usize> {
    (size + 4096 > 200_000).then_some(2 * size + 65536)
}

pub(super) fn prepare(seqpacket: bool, size: usize) -> io::Result<Prepared> {
    let ty = if seqpacket {
        SocketType::SEQPACKET
    } else {
        SocketType::STREAM
    };
    let (a, b) = socketpair(AddressFamily::UNIX, ty, SocketFlags::CLOEXEC, None)?;
    if seqpacket {
        if let Some(sz) = seqpacket_sndbuf(size) {
            sockopt::set_socket_send_buffer_size(&a, sz)?;
            sockopt::set_socket_send_buffer_size(&b, sz)?;
        }
    }
    Ok(Prepared {
        child_args: vec!["--fd".into(), b.as_raw_fd().to_string()],
        inherit: vec![b],
        endpoint: Box::new(Sock { fd: a, seqpacket }),
    })
}

pub(super) fn open(seqpacket: bool, args: &ChildArgs) -> io::Result<Box<dyn Endpoint>> {
    let fd = inherited_fd(args.num("fd")?)?;
    Ok(Box::new(Sock { fd, seqpacket }))
}
