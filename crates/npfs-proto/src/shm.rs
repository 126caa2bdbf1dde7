//! The shared-memory segment of one connection.
//!
//! The broker creates it (a sealed memfd of [`SEGMENT_SIZE`] bytes, all zero but for
//! [`MAGIC`] and [`LAYOUT_VERSION`] at the start) together with the connection's socketpair,
//! and hands it to both ends; it never maps it. This module fixes the layout: where the
//! connection header, the two queue headers and the two rings lie. What the connection header
//! holds is the library's (`npfs::shm`); the queues are `npfs_core::queue::SharedQueue`s.
//! Both ends treat everything in the segment as hostile input.
//!
//! ```text
//! 0                         connection header (MAGIC, LAYOUT_VERSION, lock, flags, ...)
//! QUEUE_OFF                 queue of direction 0 (server → client)
//! QUEUE_OFF + QUEUE_STRIDE  queue of direction 1 (client → server)
//! HEADER_SIZE               ring of direction 0 (RING_SIZE bytes)
//! HEADER_SIZE + RING_SIZE   ring of direction 1
//! ```

/// The first word of a segment: "npfs" in little-endian ASCII.
pub const MAGIC: u32 = u32::from_le_bytes(*b"npfs");
/// The second word: the layout version. A segment of another version is refused.
pub const LAYOUT_VERSION: u32 = 3;
/// Offset of the queue header of direction 0.
pub const QUEUE_OFF: usize = 4096;
/// Distance between the two queue headers (page-aligned).
pub const QUEUE_STRIDE: usize =
    (std::mem::size_of::<npfs_core::queue::SharedQueue>() + 4095) & !4095;

/// The bytes the broker writes at offset 0 of a fresh segment.
pub fn header_stamp() -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&MAGIC.to_ne_bytes());
    b[4..].copy_from_slice(&LAYOUT_VERSION.to_ne_bytes());
    b
}

/// Bytes reserved at the start of the segment for the connection header and both queue
/// headers.
pub const HEADER_SIZE: usize = 64 * 1024;
/// Bytes of the data ring of each direction: twice a 1 MiB quota, so that the writer of one
/// 1 MiB message can fill half the ring while the reader empties the other half. Pages are
/// touched only as data passes through them.
pub const RING_SIZE: usize = 1 << 21;
/// Total size of the segment: header plus one ring per direction.
pub const SEGMENT_SIZE: usize = HEADER_SIZE + 2 * RING_SIZE;

const _: () = assert!(QUEUE_OFF + 2 * QUEUE_STRIDE <= HEADER_SIZE);
