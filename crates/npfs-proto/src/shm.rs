//! The shared-memory segment of one connection.
//!
//! The broker creates it (a sealed memfd of [`SEGMENT_SIZE`] bytes, all zero) together with
//! the connection's socketpair, and hands it to both ends. An all-zero segment is a valid,
//! empty connection; the library (`npfs::shm`) owns the layout inside it.

/// Bytes reserved at the start of the segment for the connection header and both queue
/// headers.
pub const HEADER_SIZE: usize = 64 * 1024;
/// Bytes of the data ring of each direction: twice a 1 MiB quota, so that the writer of one
/// 1 MiB message can fill half the ring while the reader empties the other half. Pages are
/// touched only as data passes through them.
pub const RING_SIZE: usize = 1 << 21;
/// Total size of the segment: header plus one ring per direction.
pub const SEGMENT_SIZE: usize = HEADER_SIZE + 2 * RING_SIZE;
