//! The shared-memory segment of one connection: the connection header and the mapping.
//!
//! The layout is npfs-proto's ([`npfs_proto::shm`]); the broker stamps a fresh segment with
//! its magic and layout version, and a segment that lacks them, has another size, or is not
//! sealed against resizing is refused before it is mapped. Past the stamp, an all-zero
//! segment is an empty, connected pipe. Everything in it may be written by the peer at any
//! moment: this module hands out only atomics ([`ConnHeader`], [`SharedQueue`]) and raw
//! copies of ring bytes ([`ShmRing`]), never a reference to a plain value.

use std::os::fd::{AsFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use npfs_core::queue::SharedQueue;
use npfs_core::Win32Error;
use npfs_proto::shm::{
    HEADER_SIZE, LAYOUT_VERSION, MAGIC, QUEUE_OFF, QUEUE_STRIDE, RING_SIZE, SEGMENT_SIZE,
};

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
    /// [`MAGIC`], written by the broker.
    pub magic: AtomicU32,
    /// [`LAYOUT_VERSION`], written by the broker.
    pub version: AtomicU32,
    /// Futex mutex: 0 free, 1 locked, 2 locked with waiters. Either end (any process holding
    /// one) may hold it, so a hostile peer can too: it is taken with a deadline
    /// (`Conn::lock`), and a connection whose lock cannot be had in time is broken.
    pub lock: AtomicU32,
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

const _: () = assert!(std::mem::size_of::<ConnHeader>() <= QUEUE_OFF);
const _: () = assert!(QUEUE_OFF + 2 * QUEUE_STRIDE <= HEADER_SIZE);
const _: () = assert!(QUEUE_OFF.is_multiple_of(std::mem::align_of::<SharedQueue>()));
const _: () = assert!(QUEUE_STRIDE.is_multiple_of(std::mem::align_of::<SharedQueue>()));

/// A mapped connection segment.
pub(crate) struct Segment {
    base: NonNull<u8>,
}

// SAFETY: the segment is shared memory reached only through atomics (the connection header,
// the queues) and raw copies (the rings), which any thread may use concurrently.
unsafe impl Send for Segment {}
// SAFETY: as above.
unsafe impl Sync for Segment {}

impl Segment {
    /// Map the memfd the broker handed over, after checking it: exactly [`SEGMENT_SIZE`]
    /// bytes, sealed against shrinking, growing and further sealing (so that no process can
    /// cut the mapping short under us), stamped with [`MAGIC`] and [`LAYOUT_VERSION`].
    pub(crate) fn map(fd: BorrowedFd<'_>) -> Result<Segment, Win32Error> {
        use rustix::fs::SealFlags;
        let bad = Win32Error::INVALID_HANDLE;
        let st = rustix::fs::fstat(fd).map_err(|_| bad)?;
        if st.st_size as u64 != SEGMENT_SIZE as u64 {
            return Err(bad);
        }
        let seals = rustix::fs::fcntl_get_seals(fd).map_err(|_| bad)?;
        if !seals.contains(SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL) {
            return Err(bad);
        }
        // SAFETY: a fresh shared mapping of a memfd whose size is checked and sealed, so the
        // whole range stays backed; nothing else in this process aliases it.
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
        let seg = Segment { base };
        let h = seg.header();
        if h.magic.load(Ordering::Acquire) != MAGIC
            || h.version.load(Ordering::Acquire) != LAYOUT_VERSION
        {
            return Err(bad);
        }
        Ok(seg)
    }

    /// The connection header.
    pub(crate) fn header(&self) -> &ConnHeader {
        // SAFETY: offset 0 is inside the mapping, page-aligned, and ConnHeader is all atomics.
        unsafe { &*self.base.as_ptr().cast::<ConnHeader>() }
    }

    /// The shared queue and the ring of direction `dir`.
    pub(crate) fn queue_parts(&self, dir: usize) -> (&SharedQueue, ShmRing) {
        let dir = dir & 1;
        // SAFETY: the queue lies inside the mapping (the const asserts above and
        // SEGMENT_SIZE), suitably aligned; SharedQueue is atomics only, valid for any bit
        // pattern and for concurrent changes by any process.
        let q = unsafe {
            &*self
                .base
                .as_ptr()
                .add(QUEUE_OFF + dir * QUEUE_STRIDE)
                .cast::<SharedQueue>()
        };
        (q, self.ring(dir))
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
