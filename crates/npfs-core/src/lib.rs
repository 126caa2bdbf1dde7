//! Sans-IO semantics of Windows named pipes.
//!
//! Everything in this crate is pure: no system calls, no threads, no clock of its own. The
//! broker (`npfsd`) drives [`namespace`], the library drives [`queue`] over shared memory,
//! and both validate what callers pass with [`name`] and [`config`]. Errors are Win32 codes
//! ([`error::Win32Error`]), exactly as Windows reports them; [`ntstatus`] holds the one
//! NTSTATUS ↔ Win32 table.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod consts;
pub mod error;
pub mod name;
pub mod namespace;
pub mod ntstatus;
pub mod queue;
pub mod security;

pub use error::{NtStatus, Win32Error};
