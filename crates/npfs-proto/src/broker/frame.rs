//! Frames: `u32 LE length` + version + opcode + body.

use super::ProtoError;

/// Protocol version carried by every frame.
pub const VERSION: u8 = 1;
/// Bytes of the length prefix.
pub const FRAME_HEADER: usize = 4;
/// Largest value of the length prefix (version + opcode + body).
pub const MAX_FRAME: usize = 64 * 1024;

/// One decoded frame, borrowing its body from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The message type.
    pub opcode: u8,
    /// The message fields.
    pub body: &'a [u8],
}

/// Encode one frame.
///
/// # Errors
///
/// [`ProtoError::TooLarge`] when the body does not fit in [`MAX_FRAME`].
pub fn encode_frame(opcode: u8, body: &[u8]) -> Result<Vec<u8>, ProtoError> {
    let len = body.len() + 2;
    if len > MAX_FRAME {
        return Err(ProtoError::TooLarge);
    }
    let mut out = Vec::with_capacity(FRAME_HEADER + len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.push(VERSION);
    out.push(opcode);
    out.extend_from_slice(body);
    Ok(out)
}

/// Decode the frame at the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, `Ok(Some((frame, used)))` with the number
/// of bytes the frame occupies. The length and version are checked as soon as they are
/// available, so a hostile length is refused before anything is buffered.
///
/// # Errors
///
/// [`ProtoError::BadLength`] or [`ProtoError::BadVersion`].
pub fn decode_frame(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, ProtoError> {
    let Some(prefix) = buf.get(..FRAME_HEADER) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    if !(2..=MAX_FRAME as u32).contains(&len) {
        return Err(ProtoError::BadLength(len));
    }
    if let Some(&version) = buf.get(FRAME_HEADER) {
        if version != VERSION {
            return Err(ProtoError::BadVersion(version));
        }
    }
    let total = FRAME_HEADER + len as usize;
    let Some(frame) = buf.get(FRAME_HEADER..total) else {
        return Ok(None);
    };
    Ok(Some((
        Frame {
            opcode: frame[1],
            body: &frame[2..],
        },
        total,
    )))
}
