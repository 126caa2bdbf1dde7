//! The shared-memory segment of one connection: its layout and its mapping.
//!
//! ```text
//! 0          ConnHeader: lock, flags, per-direction wake-up words
//! QUEUE_OFF  QueueHeader of direction 0 (server → client)
//!            QueueHeader of direction 1 (client → server)
//! HEADER_SIZE               ring of direction 0 (RING_SIZE bytes)
//! HEADER_SIZE + RING_SIZE   ring of direction 1
//! ```
//! An all-zero segment (what the broker's fresh memfd holds) is an empty, connected pipe.

use std::os::fd::{AsFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU32;

use npfs_core::queue::QueueHeader;
use npfs_core::Win32Error;
use npfs_proto::shm::{HEADER_SIZE, RING_SIZE, SEGMENT_SIZE};

/// Direction 0: server → client (outbound, quota nOutBufferSize).
pub(crate) const TO_CLIENT: usize = 0;
/// Direction 1: client → server (inbound, quota nInBufferSize).
pub(crate) const TO_SERVER: usize = 1;

/// Flag: the server end's last descriptor closed.
pub(crate) const SERVER_GONE: u32 = 1;
/// Flag: the client end's last descriptor closed.
pub(crate) const CLIENT_GONE: u32 = 2;
/// Flag: the server called DisconnectNamedPipe.
pub(crate) const DISCONNECTED: u32 = 4;
/// Flag: when the server end went away, everything it had been sent was already read.
pub(crate) const SERVER_GONE_DRAINED: u32 = 8;
/// Flag: when the client end went away, everything it had been sent was already read.
pub(crate) const CLIENT_GONE_DRAINED: u32 = 16;

/// The connection header at offset 0.
#[repr(C)]
pub(crate) struct ConnHeader {
    /// Futex mutex: 0 free, 1 locked, 2 locked with waiters.
    pub lock: AtomicU32,
    /// Process holding the lock (to recover from a holder killed inside it).
    pub lock_pid: AtomicU32,
    /// `SERVER_GONE | CLIENT_GONE | DISCONNECTED`.
    pub flags: AtomicU32,
    /// Bumped by every process that drops a handle of either end: a hint to check for hang-up.
    pub close_count: AtomicU32,
    /// Per direction: bumped on every change; waiters sleep on it.
    pub seq: [AtomicU32; 2],
    /// Per direction: number of sleepers.
    pub waiters: [AtomicU32; 2],
    /// Per end (0 server, 1 client): processes that adopted the end (the broker's handover,
    /// or an inherited handle taken over). When it drops to zero the end is gone at once; a
    /// crash is seen through the socket's hang-up instead.
    pub holders: [AtomicU32; 2],
    /// Per end: async tasks waiting; changes made by the other end then ring this end's
    /// doorbell (a byte on the connection socket).
    pub async_waiters: [AtomicU32; 2],
    /// Per end: 1 + the CPU this end last waited on (0: it has not waited yet). A waiter
    /// spins only while its peer was last seen on another CPU: on the same CPU the peer
    /// cannot run until the spinner gives the CPU up.
    pub wait_cpu: [AtomicU32; 2],
}

const QUEUE_OFF: usize = 4096;
const QUEUE_STRIDE: usize = (std::mem::size_of::<QueueHeader>() + 4095) & !4095;
const _: () = assert!(std::mem::size_of::<ConnHeader>() <= QUEUE_OFF);
const _: () = assert!(QUEUE_OFF + 2 * QUEUE_STRIDE <= HEADER_SIZE);

/// A mapped connection segment.
pub(crate) struct Segment {
    base: NonNull<u8>,
}

// SAFETY: the segment is shared memory; every field that several threads touch concurrently
// is an atomic, and the queue headers and rings are only accessed with the connection lock
// held (see `Guard`).
unsafe impl Send for Segment {}
// SAFETY: as above.
unsafe impl Sync for Segment {}

impl Segment {
    /// Map the memfd the broker handed over, after checking that it is big enough.
    pub(crate) fn map(fd: BorrowedFd<'_>) -> Result<Segment, Win32Error> {
        let st = rustix::fs::fstat(fd).map_err(|_| Win32Error::INVALID_HANDLE)?;
        if (st.st_size as u64) < SEGMENT_SIZE as u64 {
            return Err(Win32Error::INVALID_HANDLE);
        }
        // SAFETY: a fresh shared mapping of a file we checked is large enough; nothing else in
        // this process aliases it.
        let p = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                SEGMENT_SIZE,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
                fd.as_fd(),
                0,
            )
        }
        .map_err(|_| Win32Error::NOT_ENOUGH_MEMORY)?;
        let base = NonNull::new(p.cast::<u8>()).ok_or(Win32Error::NOT_ENOUGH_MEMORY)?;
        Ok(Segment { base })
    }

    /// The connection header.
    pub(crate) fn header(&self) -> &ConnHeader {
        // SAFETY: offset 0 is inside the mapping, page-aligned, and ConnHeader is all atomics.
        unsafe { &*self.base.as_ptr().cast::<ConnHeader>() }
    }

    /// The queue header and the ring of direction `dir`.
    ///
    /// # Safety
    /// The caller holds the connection lock and creates no other reference to the header
    /// while the returned one lives. The ring is not a Rust reference: its bytes are also
    /// read by readers outside the lock (see [`ShmRing`]).
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn queue_parts(&self, dir: usize) -> (&mut QueueHeader, ShmRing) {
        let dir = dir & 1;
        // SAFETY: both ranges lie inside the mapping (checked by the const asserts above and
        // SEGMENT_SIZE); QueueHeader is plain integers, valid for any bit pattern; exclusivity
        // is the caller's promise.
        unsafe {
            let h = self
                .base
                .as_ptr()
                .add(QUEUE_OFF + dir * QUEUE_STRIDE)
                .cast::<QueueHeader>();
            (&mut *h, self.ring(dir))
        }
    }

    /// The ring of direction `dir`.
    pub(crate) fn ring(&self, dir: usize) -> ShmRing {
        // SAFETY: the ring lies inside the mapping (HEADER_SIZE + 2 × RING_SIZE = SEGMENT_SIZE).
        let base = unsafe { self.base.as_ptr().add(HEADER_SIZE + (dir & 1) * RING_SIZE) };
        ShmRing { base }
    }
}

/// One direction's data ring in shared memory, accessed through raw copies only (never as a
/// Rust slice): writers fill it under the connection lock, readers may copy their claimed
/// bytes out of it without the lock, and those ranges never overlap (the queue guarantees it).
pub(crate) struct ShmRing {
    base: *mut u8,
}

impl npfs_core::queue::Ring for ShmRing {
    fn len(&self) -> usize {
        RING_SIZE
    }

    fn read_at(&self, off: usize, dst: &mut [u8]) {
        let n = dst.len().min(RING_SIZE.saturating_sub(off));
        // SAFETY: `off + n` ≤ RING_SIZE keeps the copy inside the ring; `dst` is a distinct
        // private buffer. Concurrent writers never touch the bytes a reader was given.
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(off), dst.as_mut_ptr(), n) }
    }

    fn write_at(&mut self, off: usize, src: &[u8]) {
        let n = src.len().min(RING_SIZE.saturating_sub(off));
        // SAFETY: inside the ring as above; writes happen under the connection lock, into
        // bytes no reader has been given.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.base.add(off), n) }
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: we mapped exactly this range in `map`, and no reference into it outlives
        // the segment.
        unsafe {
            let _ = rustix::mm::munmap(self.base.as_ptr().cast(), SEGMENT_SIZE);
        }
    }
}
