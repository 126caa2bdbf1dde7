//! What the reading calls report: ReadFile's and PeekNamedPipe's outputs (shared by local
//! and remote handles).

use npfs_core::queue::ReadDone;

/// The outcome of a read (ReadFile): how many bytes arrived, and whether the message goes on
/// (`ERROR_MORE_DATA` on Windows — a normal result here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Bytes read (`*lpNumberOfBytesRead`).
    pub len: usize,
    /// The message was longer than the buffer; the rest stays in the pipe (`ERROR_MORE_DATA`).
    pub more_data: bool,
}

impl From<ReadDone> for ReadOutcome {
    fn from(d: ReadDone) -> Self {
        ReadOutcome {
            len: d.len,
            more_data: d.more_data,
        }
    }
}

/// PeekNamedPipe's three outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeekOutcome {
    /// `*lpBytesRead`: bytes copied.
    pub bytes_read: u32,
    /// `*lpTotalBytesAvail`: every unread byte.
    pub total_bytes_avail: u32,
    /// `*lpBytesLeftThisMessage`: first message length − bytes copied; on byte pipes this
    /// wraps (0 − bytes copied), as Windows computes it.
    pub bytes_left_this_message: u32,
}
