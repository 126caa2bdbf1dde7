//! Windows named pipes on Linux, with Windows' behaviour.
//!
//! ```no_run
//! use npfs::{PipeClient, ServerOptions};
//! let server = ServerOptions::new().message_type(true).message_read_mode(true).create(r"\\.\pipe\demo")?;
//! let client = PipeClient::open_duplex(r"\\.\pipe\demo")?;
//! client.write(b"hello")?;
//! let mut buf = [0u8; 16];
//! let got = server.read(&mut buf)?;
//! assert_eq!(&buf[..got.len], b"hello");
//! # Ok::<(), npfs::Win32Error>(())
//! ```
//!
//! The pipe namespace belongs to a broker process (`npfsd`) that the library starts on first
//! use; data flows directly between the two ends through shared memory.
//!
//! # Errors
//!
//! The blocking API returns [`Win32Error`]s. Every `std::io::Error` npfs returns (the tokio API,
//! the blocking handles' `Read` / `Write`, a `Win32Error` turned into one with `?`) has the
//! Win32 code as its `raw_os_error()`, as tokio on Windows; read its kind and message with
//! [`Win32IoError`] (`win32_kind`, `win32_display`), since `io::Error` itself takes the code
//! for a Linux errno.
#![warn(missing_docs)]

pub mod broker;
#[cfg(feature = "tokio")]
pub mod completion;
mod conn;
mod engine;
mod error;
#[doc(hidden)]
pub mod ffi;
mod impersonate;
mod outcome;
mod pipe;
mod remote;
mod shm;
mod sys;
#[cfg(feature = "tokio")]
pub mod tokio;
mod watcher;

pub use error::{Win32Display, Win32IoError};
pub use impersonate::revert_to_self;
pub use npfs_core::config::AccessNeed;
pub use npfs_core::consts;
pub use npfs_core::security::{self, SecurityDescriptor};
pub use npfs_core::Win32Error;
pub use pipe::{
    call_named_pipe, create_pipe, wait_named_pipe, PeekOutcome, PipeClient, PipeHandle, PipeInfo,
    PipeServer, PipeState, ReadOutcome, Result, ServerOptions,
};
pub use sys::process_session_id;
