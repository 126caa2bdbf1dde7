//! Wire formats of npfs: the broker protocol ([`broker`]) and the size of the shared-memory
//! segment of a connection ([`shm`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod broker;
pub mod shm;
