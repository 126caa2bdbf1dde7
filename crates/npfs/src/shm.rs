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
use npfs_proto::shm::{HEADER_SIZE, LAYOUT_VERSION, MAGIC, QUEUE_OFF, QUEUE_STRIDE, RING_SIZE};

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
const _: () = assert!(std::mem::offset_of!(ConnHeader, seq) == npfs_proto::shm::SEQ_OFF);
const _: () = assert!(QUEUE_OFF + 2 * QUEUE_STRIDE <= HEADER_SIZE);
const _: () = assert!(QUEUE_OFF.is_multiple_of(std::mem::align_of::<SharedQueue>()));
const _: () = assert!(QUEUE_STRIDE.is_multiple_of(std::mem::align_of::<SharedQueue>()));

/// One mapping of a sealed memfd; unmapped on drop.
struct Mapping {
    base: NonNull<u8>,
    len: usize,
    writable: bool,
}

impl Mapping {
    /// Map `fd` after checking it: exactly `len` bytes, sealed against shrinking, growing and
    /// further sealing (so that nobody can cut the mapping short under us). `writable` asks
    /// for a writable mapping, which the kernel grants only for a descriptor opened
    /// read-write.
    fn new(fd: BorrowedFd<'_>, len: usize, writable: bool) -> Result<Mapping, Win32Error> {
        use rustix::fs::SealFlags;
        use rustix::mm::ProtFlags;
        let bad = Win32Error::INVALID_HANDLE;
        let st = rustix::fs::fstat(fd).map_err(|_| bad)?;
        if st.st_size as u64 != len as u64 {
            return Err(bad);
        }
        let seals = rustix::fs::fcntl_get_seals(fd).map_err(|_| bad)?;
        if !seals.contains(SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL) {
            return Err(bad);
        }
        let prot = if writable {
            ProtFlags::READ | ProtFlags::WRITE
        } else {
            ProtFlags::READ
        };
        // SAFETY: a fresh shared mapping of a memfd whose size is checked and sealed, so the
        // whole range stays backed; nothing else in this process aliases it.
        let p = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                rustix::mm::MapFlags::SHARED,
                fd.as_fd(),
                0,
            )
        }
        .map_err(|e| {
            if e == rustix::io::Errno::ACCESS {
                bad
            } else {
                Win32Error::NOT_ENOUGH_MEMORY
            }
        })?;
        let base = NonNull::new(p.cast::<u8>()).ok_or(Win32Error::NOT_ENOUGH_MEMORY)?;
        Ok(Mapping {
            base,
            len,
            writable,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: exactly the range mapped in `new`; no reference into it outlives the
        // mapping (the segment hands out atomics and raw copies only).
        unsafe {
            let _ = rustix::mm::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}

/// A mapped connection: the shared header and the two data rings.
pub(crate) struct Segment {
    header: Mapping,
    rings: [Mapping; 2],
}

// SAFETY: the segment is shared memory reached only through atomics (the connection header,
// the queues) and raw copies (the rings), which any thread may use concurrently.
unsafe impl Send for Segment {}
// SAFETY: as above.
unsafe impl Sync for Segment {}

impl Segment {
    /// Map the header (read-write) and the rings, each checked for its size and seals: ring
    /// `write_dir` writable (the direction this end writes, when it may), the other read-only.
    /// A header without [`MAGIC`] and [`LAYOUT_VERSION`], or a ring whose descriptor does
    /// not allow what this end needs, is refused (`ERROR_INVALID_HANDLE`).
    pub(crate) fn map(
        header: BorrowedFd<'_>,
        rings: [BorrowedFd<'_>; 2],
        write_dir: Option<usize>,
    ) -> Result<Segment, Win32Error> {
        let header = Mapping::new(header, HEADER_SIZE, true)?;
        let ring = |dir: usize| Mapping::new(rings[dir], RING_SIZE, write_dir == Some(dir));
        let seg = Segment {
            header,
            rings: [ring(0)?, ring(1)?],
        };
        let h = seg.header();
        if h.magic.load(Ordering::Acquire) != MAGIC
            || h.version.load(Ordering::Acquire) != LAYOUT_VERSION
        {
            return Err(Win32Error::INVALID_HANDLE);
        }
        Ok(seg)
    }

    /// The connection header.
    pub(crate) fn header(&self) -> &ConnHeader {
        // SAFETY: offset 0 is inside the header mapping, page-aligned, and ConnHeader is all
        // atomics, valid for any bit pattern and for changes by any process.
        unsafe { &*self.header.base.as_ptr().cast::<ConnHeader>() }
    }

    /// The shared queue and the ring of direction `dir`.
    pub(crate) fn queue_parts(&self, dir: usize) -> (&SharedQueue, ShmRing) {
        let dir = dir & 1;
        // SAFETY: the queue lies inside the header mapping (the const asserts above),
        // suitably aligned; SharedQueue is atomics only, valid for any bit
        // pattern and for concurrent changes by any process.
        let q = unsafe {
            &*self
                .header
                .base
                .as_ptr()
                .add(QUEUE_OFF + dir * QUEUE_STRIDE)
                .cast::<SharedQueue>()
        };
        (q, self.ring(dir))
    }

    /// The ring of direction `dir`.
    pub(crate) fn ring(&self, dir: usize) -> ShmRing {
        let m = &self.rings[dir & 1];
        ShmRing {
            base: m.base.as_ptr(),
            writable: m.writable,
        }
    }
}

/// One direction's data ring in shared memory, accessed through raw copies only (never as a
/// Rust slice or reference): writers fill it under the connection lock, readers copy their
/// claimed bytes out of it, with or without the lock. A hostile peer may change bytes at any
/// time; a copy then carries garbage, never more. A ring mapped read-only ignores writes
/// (the kernel would fault them).
pub(crate) struct ShmRing {
    base: *mut u8,
    writable: bool,
}

impl npfs_core::queue::Ring for ShmRing {
    fn len(&self) -> usize {
        RING_SIZE
    }

    fn writable(&self) -> bool {
        self.writable
    }

    fn read_at(&self, off: usize, dst: &mut [u8]) {
        let n = dst.len().min(RING_SIZE.saturating_sub(off));
        // SAFETY: `off + n` ≤ RING_SIZE keeps the copy inside the ring mapping; `dst` is a
        // distinct private buffer; a raw copy forms no reference to the shared bytes.
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(off), dst.as_mut_ptr(), n) }
    }

    fn write_at(&mut self, off: usize, src: &[u8]) {
        if !self.writable {
            return;
        }
        let n = src.len().min(RING_SIZE.saturating_sub(off));
        // SAFETY: inside the ring as above, and the mapping is writable; writes happen under
        // the connection lock.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.base.add(off), n) }
    }
}
