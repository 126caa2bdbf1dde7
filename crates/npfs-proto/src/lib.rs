//! Wire formats of npfs: the broker protocol ([`broker`]), where the broker lives
//! ([`runtime`]) and the size of the shared-memory segment of a connection ([`shm`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod broker;
pub mod runtime;
pub mod shm;
