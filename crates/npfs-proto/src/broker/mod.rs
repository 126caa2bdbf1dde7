//! The broker protocol: what the library and `npfsd` say to each other over the broker's
//! Unix stream socket.
//!
//! # Framing
//!
//! Every message is one frame:
//!
//! ```text
//! u32 LE  length of what follows (version + opcode + body), 2..=MAX_FRAME
//! u8      VERSION
//! u8      opcode
//! ...     body: fixed-width little-endian integers, strings as u16 LE length + UTF-8 bytes
//! ```
//!
//! Some messages end in *optional trailing fields* (marked so in their documentation): an
//! encoder leaves them out when they hold their default, a decoder takes their absence as the
//! default. Frames of older peers that do not know them stay valid.
//!
//! [`Request`]s go from a client to the broker, [`Reply`]s (answers and pushed events) from
//! the broker to a client. Three replies carry file descriptors in an `SCM_RIGHTS` control
//! message sent with the frame's bytes ([`Reply::fd_count`]): [`Reply::CreatedChannel`] one,
//! the instance's control channel; [`Reply::Opened`] and [`Reply::Connected`] each exactly
//! [`CONN_FDS`] descriptors — the connection's socket end, its shared header, then
//! the rings of direction 0 (server → client) and 1 (client → server), each opened
//! read-write or read-only as that end's rights allow (see [`crate::shm`]). The decoder never panics: any malformed input is a [`ProtoError`], after which
//! the connection is dropped.
//!
//! # Conversation
//!
//! A fresh connection carries requests one at a time, each answered by one reply (an
//! [`Reply::Error`] with a Win32 code when the operation fails). [`Request::Create`] and
//! [`Request::Reregister`], when they succeed, turn the connection into that instance's
//! *control channel*: from then on the client may only send [`Request::Listen`],
//! [`Request::Disconnect`], [`Request::GetSecurity`], [`Request::SetSecurity`] (both without
//! a name: they mean the instance's pipe) and [`Request::Close`], the broker answers them in order and may
//! push [`Reply::Connected`] at any time; closing the channel closes the instance.
//! [`Request::CreateDetached`] creates an instance without that change: its channel is a
//! socket pair the broker makes, whose other end comes with the reply
//! ([`Reply::CreatedChannel`]), and the connection goes on taking requests.
//!
//! # Ordering
//!
//! The broker answers a client's [`Request::Open`] only after the server's
//! [`Reply::Connected`] (with its descriptors) has been written into the instance's control
//! channel, so a server looking at its channel after the client's open returned finds the
//! connection, as on Windows. A [`Request::Close`] is answered ([`Reply::Closed`]) only after
//! the instance left the namespace, so an open issued after the server's close returned can
//! never be paired with it. Closing the channel without [`Request::Close`] also closes the
//! instance, but asynchronously.
//!
//! # Security
//!
//! The broker knows each peer from the kernel (`SO_PEERCRED`, `SO_PEERGROUPS`), never from a
//! message. [`Request::Create`] may carry the pipe's descriptor as SDDL; [`Request::Open`] is
//! checked against it; [`Request::GetSecurity`] and [`Request::SetSecurity`] read and change
//! it. Only a root peer may open on behalf of a remote client ([`RemoteClient`]).

mod codec;
mod frame;
mod msg;
#[cfg(test)]
mod tests;

pub use frame::{decode_frame, encode_frame, Frame, FRAME_HEADER, MAX_FRAME, VERSION};
pub use msg::{
    ClientSecurity, CreateRequest, RemoteClient, Reply, Request, MAX_COMPUTER_NAME, MAX_WIRE_GROUPS,
};

/// Number of descriptors carried by [`Reply::Opened`] and [`Reply::Connected`].
pub const CONN_FDS: usize = 4;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// The length prefix is below the minimum or above [`MAX_FRAME`].
    #[error("bad frame length {0}")]
    BadLength(u32),
    /// The frame's version is not [`VERSION`].
    #[error("unsupported protocol version {0}")]
    BadVersion(u8),
    /// The opcode is unknown (in this direction).
    #[error("unknown opcode {0:#x}")]
    UnknownOpcode(u8),
    /// The body ended early.
    #[error("truncated body")]
    Truncated,
    /// The body has bytes after the message.
    #[error("trailing bytes in body")]
    Trailing,
    /// A field holds a value outside its range.
    #[error("invalid value for {0}")]
    InvalidValue(&'static str),
    /// The message does not fit in a frame.
    #[error("message too large")]
    TooLarge,
}
