//! The shared-memory segment of one connection.
//!
//! The broker creates its memfds together with the connection's socketpair and hands them to
//! both ends; it never maps them. Each is sealed against shrinking, growing and further
//! sealing:
//!
//! - the *header* ([`HEADER_SIZE`] bytes, all zero but for [`MAGIC`] and [`LAYOUT_VERSION`]
//!   at the start), which both ends map read-write:
//!
//!   ```text
//!   0                         connection header (MAGIC, LAYOUT_VERSION, lock, flags, ...)
//!   QUEUE_OFF                 queue of direction 0 (server → client)
//!   QUEUE_OFF + QUEUE_STRIDE  queue of direction 1 (client → server)
//!   ```
//!
//! - one *ring* per direction ([`RING_SIZE`] bytes of data). The kernel enforces who may
//!   write it: the end that writes a direction, when its access allows writing, gets a
//!   descriptor opened read-write; the end that reads it, when its access allows reading, a
//!   descriptor opened read-only (which cannot be mapped writable, nor reopened writable by
//!   another user: the memfd's mode is 0600); an end with no right on a direction gets a
//!   read-only descriptor of an empty ring instead of the real one.
//!
//! What the connection header holds is the library's (`npfs::shm`); the queues are
//! `npfs_core::queue::SharedQueue`s. Both ends treat everything in the header as hostile
//! input.

/// The first word of a segment: "npfs" in little-endian ASCII.
pub const MAGIC: u32 = u32::from_le_bytes(*b"npfs");
/// The second word: the layout version. A segment of another version is refused.
pub const LAYOUT_VERSION: u32 = 3;
/// Offset of the two change counters (one `u32` per direction, direction 0 first): every
/// change to a direction bumps its counter and wakes the futex waiters sleeping on it.
pub const SEQ_OFF: usize = 20;
/// Offset of the queue header of direction 0.
pub const QUEUE_OFF: usize = 4096;
/// Distance between the two queue headers (page-aligned).
pub const QUEUE_STRIDE: usize =
    (std::mem::size_of::<npfs_core::queue::SharedQueue>() + 4095) & !4095;

/// The bytes the broker writes at offset 0 of a fresh header.
pub fn header_stamp() -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&MAGIC.to_ne_bytes());
    b[4..].copy_from_slice(&LAYOUT_VERSION.to_ne_bytes());
    b
}

/// Bytes of the header memfd: the connection header and both queue headers.
pub const HEADER_SIZE: usize = 64 * 1024;
/// Bytes of the data ring of each direction: twice a 1 MiB quota, so that the writer of one
/// 1 MiB message can fill half the ring while the reader empties the other half. Pages are
/// touched only as data passes through them.
pub const RING_SIZE: usize = 1 << 21;

const _: () = assert!(QUEUE_OFF + 2 * QUEUE_STRIDE <= HEADER_SIZE);
