//! The resources of one connection: a socketpair (liveness), the shared header memfd and one
//! ring memfd per direction, handed to each end with the access its rights allow
//! (see [`npfs_proto::shm`]).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use npfs_proto::broker::CONN_FDS;
use npfs_proto::shm::{HEADER_SIZE, RING_SIZE};
use rustix::fs::{MemfdFlags, Mode, OFlags, SealFlags};
use rustix::net::{AddressFamily, SocketFlags, SocketType};

/// What one end may do with the data: read the direction towards it, write the one away
/// from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rights {
    /// The end may read (a server of an inbound or duplex pipe; a client with
    /// `FILE_READ_DATA`).
    pub reads: bool,
    /// The end may write (a server of an outbound or duplex pipe; a client with
    /// `FILE_WRITE_DATA`).
    pub writes: bool,
}

/// What each side of a new connection receives.
#[derive(Debug)]
pub struct EndFds {
    /// This side's end of the socketpair.
    pub sock: OwnedFd,
    /// The shared header (the same memfd for both sides, read-write).
    pub shm: OwnedFd,
    /// The rings of direction 0 (server → client) and 1 (client → server): read-write where
    /// this side writes, read-only where it reads, an empty ring where it may do neither.
    pub rings: [OwnedFd; 2],
}

impl EndFds {
    /// The descriptors in the order of the protocol ([`CONN_FDS`]).
    pub fn as_fds(&self) -> [BorrowedFd<'_>; CONN_FDS] {
        [
            self.sock.as_fd(),
            self.shm.as_fd(),
            self.rings[0].as_fd(),
            self.rings[1].as_fd(),
        ]
    }

    /// The descriptors in the order of the protocol, owned.
    pub fn into_fds(self) -> [OwnedFd; CONN_FDS] {
        let [r0, r1] = self.rings;
        [self.sock, self.shm, r0, r1]
    }
}

/// A connection's resources before they are shared out, every descriptor an end may get
/// made already (so that [`Connection::split`] makes none in the common case).
#[derive(Debug)]
pub struct Connection {
    socks: (OwnedFd, OwnedFd),
    header: OwnedFd,
    /// Per direction: the ring's read-write description (the memfd as created), for its
    /// writer.
    rw: [OwnedFd; 2],
    /// Per direction: a read-only description of the ring, for its reader.
    ro: [OwnedFd; 2],
    /// A read-only description of an empty ring, for an end without a right.
    empty: OwnedFd,
}

/// A sealed memfd of `size` bytes, mode 0600 (only its owner, the broker's user, may open it
/// again through /proc, and so widen a read-only descriptor).
fn sealed_memfd(name: &str, size: usize) -> std::io::Result<OwnedFd> {
    let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o600))?;
    rustix::fs::ftruncate(&fd, size as u64)?;
    Ok(fd)
}

fn seal(fd: &OwnedFd) -> std::io::Result<()> {
    rustix::fs::fcntl_add_seals(fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)?;
    Ok(())
}

/// A new open file description of `fd`'s memfd with the access `flags` (the only way to
/// narrow a descriptor to read-only).
fn reopen(fd: &OwnedFd, flags: OFlags) -> std::io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    Ok(rustix::fs::open(
        path.as_str(),
        flags | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Create a connection: `socketpair(AF_UNIX, SOCK_STREAM, CLOEXEC)`, the header memfd of
/// [`HEADER_SIZE`] bytes stamped with the layout's magic and version, two ring memfds of
/// [`RING_SIZE`] bytes and an empty one, each sealed against shrinking, growing and further
/// sealing.
///
/// # Errors
///
/// The failing system call's error.
pub fn new_connection() -> std::io::Result<Connection> {
    let socks = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    let header = sealed_memfd("npfs-conn", HEADER_SIZE)?;
    // The layout's magic and version; the broker never maps the header.
    let stamp = npfs_proto::shm::header_stamp();
    if rustix::io::pwrite(&header, &stamp, 0)? != stamp.len() {
        return Err(std::io::Error::other(
            "short write of the connection header",
        ));
    }
    seal(&header)?;
    let rw = [
        sealed_memfd("npfs-ring", RING_SIZE)?,
        sealed_memfd("npfs-ring", RING_SIZE)?,
    ];
    let empty = sealed_memfd("npfs-ring-none", RING_SIZE)?;
    for fd in rw.iter().chain([&empty]) {
        seal(fd)?;
    }
    let ro = [
        reopen(&rw[0], OFlags::RDONLY)?,
        reopen(&rw[1], OFlags::RDONLY)?,
    ];
    let empty = reopen(&empty, OFlags::RDONLY)?;
    Ok(Connection {
        socks,
        header,
        rw,
        ro,
        empty,
    })
}

impl Connection {
    /// The two ends' descriptors, (server side, client side), for ends with these rights.
    /// Direction 0 is written by the server and read by the client; direction 1 the other
    /// way round. Each ring description goes to one end only; an end without a right gets
    /// a duplicate of the empty ring's read-only one.
    ///
    /// # Errors
    ///
    /// The failing system call's error (a duplicate of the header or the empty ring).
    pub fn split(self, server: Rights, client: Rights) -> std::io::Result<(EndFds, EndFds)> {
        let Connection {
            socks,
            header,
            rw: [rw0, rw1],
            ro: [ro0, ro1],
            empty,
        } = self;
        let pick = |fd: OwnedFd, allowed: bool| -> std::io::Result<OwnedFd> {
            if allowed {
                Ok(fd)
            } else {
                empty.try_clone()
            }
        };
        let server_end = EndFds {
            sock: socks.0,
            shm: header.try_clone()?,
            rings: [pick(rw0, server.writes)?, pick(ro1, server.reads)?],
        };
        let client_end = EndFds {
            sock: socks.1,
            shm: header,
            rings: [pick(ro0, client.reads)?, pick(rw1, client.writes)?],
        };
        Ok((server_end, client_end))
    }
}

/// Connection resources made ahead of the open that needs them, so that an open finds one
/// ready (the making is a score of system calls: the socket pair, four memfds, their seals,
/// three read-only descriptors).
#[derive(Debug, Default)]
pub struct Spare {
    ready: std::sync::Mutex<Option<Connection>>,
}

impl Spare {
    /// The spare connection, or a new one.
    ///
    /// # Errors
    ///
    /// As [`new_connection`].
    pub fn take(&self) -> std::io::Result<Connection> {
        let spare = self.ready.lock().unwrap_or_else(|e| e.into_inner()).take();
        spare.map_or_else(new_connection, Ok)
    }

    /// Make the next spare if there is none (after an open was answered); a failure is left
    /// for the next open to meet.
    pub fn refill(&self) {
        if self
            .ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            return;
        }
        if let Ok(c) = new_connection() {
            let mut g = self.ready.lock().unwrap_or_else(|e| e.into_inner());
            if g.is_none() {
                *g = Some(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Rights = Rights {
        reads: true,
        writes: true,
    };

    fn writable_mapping(fd: &OwnedFd) -> bool {
        // SAFETY: a fresh mapping of a sealed memfd of RING_SIZE bytes, unmapped at once.
        unsafe {
            match rustix::mm::mmap(
                std::ptr::null_mut(),
                RING_SIZE,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
                fd,
                0,
            ) {
                Ok(p) => {
                    let _ = rustix::mm::munmap(p, RING_SIZE);
                    true
                }
                Err(_) => false,
            }
        }
    }

    #[test]
    fn sealed_header_of_the_right_size_with_its_stamp() {
        let (s, c) = new_connection().unwrap().split(ALL, ALL).unwrap();
        let st = rustix::fs::fstat(&c.shm).unwrap();
        assert_eq!(st.st_size as usize, HEADER_SIZE);
        let seals = rustix::fs::fcntl_get_seals(&s.shm).unwrap();
        assert!(seals.contains(SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL));
        assert!(rustix::fs::ftruncate(&s.shm, 1).is_err());
        let mut stamp = [0u8; 8];
        rustix::io::pread(&c.shm, &mut stamp, 0).unwrap();
        assert_eq!(stamp, npfs_proto::shm::header_stamp());
    }

    #[test]
    fn each_end_may_write_only_the_ring_it_writes() {
        let (s, c) = new_connection().unwrap().split(ALL, ALL).unwrap();
        assert!(writable_mapping(&s.rings[0]), "server writes direction 0");
        assert!(
            !writable_mapping(&s.rings[1]),
            "server only reads direction 1"
        );
        assert!(
            !writable_mapping(&c.rings[0]),
            "client only reads direction 0"
        );
        assert!(writable_mapping(&c.rings[1]), "client writes direction 1");
        for fd in s.rings.iter().chain(c.rings.iter()) {
            assert_eq!(rustix::fs::fstat(fd).unwrap().st_size as usize, RING_SIZE);
        }
    }

    #[test]
    fn an_end_without_a_right_gets_the_empty_ring() {
        let read_only = Rights {
            reads: true,
            writes: false,
        };
        let (s, c) = new_connection().unwrap().split(ALL, read_only).unwrap();
        assert!(
            !writable_mapping(&c.rings[1]),
            "a read-only client cannot write"
        );
        // Not the ring the server reads: another memfd altogether.
        let ino = |fd: &OwnedFd| rustix::fs::fstat(fd).unwrap().st_ino;
        assert_ne!(ino(&c.rings[1]), ino(&s.rings[1]));
        let write_only = Rights {
            reads: false,
            writes: true,
        };
        let (s, c) = new_connection().unwrap().split(ALL, write_only).unwrap();
        assert_ne!(ino(&c.rings[0]), ino(&s.rings[0]), "nothing to read for it");
    }
}
