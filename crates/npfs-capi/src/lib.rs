//! The Win32 C ABI of npfs: `libnpfs.so` and `libnpfs.a`, declared by `include/windows.h`.
//!
//! Win32 pipe programs compile unchanged against `include/` and link with `-lnpfs`. Every
//! exported function catches panics (none may cross the ABI) and sets the calling thread's
//! last error exactly as Windows does. Handles are small integers in a process-wide table
//! ([`handles`]); waitable objects (events, threads, pipe handles, completion ports) share one
//! wait mechanism ([`wait`]), which also runs the APCs of alertable waits.
#![allow(non_snake_case, clippy::missing_safety_doc)]

pub mod error;
pub mod handles;
pub mod inherit;
pub mod misc;
pub mod pipes;
pub mod port;
pub mod process;
mod remote;
mod sd;
pub mod security;
pub mod signal;
pub mod status;
pub mod sync;
pub mod thread;
pub mod types;
pub mod wait;
