//! The resources of one connection: a socketpair (liveness) and a sealed memfd (data).

use std::os::fd::OwnedFd;

use npfs_proto::shm::SEGMENT_SIZE;
use rustix::fs::{MemfdFlags, SealFlags};
use rustix::net::{AddressFamily, SocketFlags, SocketType};

/// What each side of a new connection receives.
#[derive(Debug)]
pub struct EndFds {
    /// This side's end of the socketpair.
    pub sock: OwnedFd,
    /// The shared-memory segment (the same memfd for both sides).
    pub shm: OwnedFd,
}

/// Create a connection: `socketpair(AF_UNIX, SOCK_STREAM, CLOEXEC)` and
/// `memfd_create("npfs-conn", MFD_CLOEXEC | MFD_ALLOW_SEALING)` of [`SEGMENT_SIZE`] bytes
/// sealed against shrinking, growing and further sealing. Returns (server side, client side).
///
/// # Errors
///
/// The failing system call's error.
pub fn new_connection() -> std::io::Result<(EndFds, EndFds)> {
    let (a, b) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    let shm =
        rustix::fs::memfd_create("npfs-conn", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
    rustix::fs::ftruncate(&shm, SEGMENT_SIZE as u64)?;
    // The layout's magic and version; the broker never maps the segment.
    let stamp = npfs_proto::shm::header_stamp();
    if rustix::io::pwrite(&shm, &stamp, 0)? != stamp.len() {
        return Err(std::io::Error::other("short write of the segment header"));
    }
    rustix::fs::fcntl_add_seals(&shm, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)?;
    let shm2 = shm.try_clone()?;
    Ok((EndFds { sock: a, shm }, EndFds { sock: b, shm: shm2 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_segment_of_the_right_size() {
        let (s, c) = new_connection().unwrap();
        let st = rustix::fs::fstat(&c.shm).unwrap();
        assert_eq!(st.st_size as usize, SEGMENT_SIZE);
        let seals = rustix::fs::fcntl_get_seals(&s.shm).unwrap();
        assert!(seals.contains(SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL));
        assert!(rustix::fs::ftruncate(&s.shm, 1).is_err());
    }
}
