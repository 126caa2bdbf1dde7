//! Handle inheritance across exec: a Win32 program marks a handle inheritable
//! (`bInheritHandle`, `SetHandleInformation(HANDLE_FLAG_INHERIT)`), starts a child
//! (posix_spawn here, CreateProcess on Windows) and tells it the handle's value, usually on
//! the command line. libnpfs keeps the environment variable `NPFS_HANDLES` describing every
//! inheritable pipe handle of the process, so any child started with this environment finds
//! them: on its first use of a handle it adopts each one at the same value.

use std::sync::{Mutex, Once};

use crate::handles;
use crate::types::*;

/// The environment variable listing inherited handles: `HANDLE=HEXTOKEN` entries joined by
/// commas (the token is the library's inheritance token, hex-encoded).
pub const ENV: &str = "NPFS_HANDLES";

static TOKENS: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// The set of inheritable handles may have changed: rewrite `NPFS_HANDLES`.
pub fn changed() {
    let mut tokens = TOKENS.lock().unwrap_or_else(|e| e.into_inner());
    let live = handles::inheritable();
    tokens.retain(|(h, _)| live.iter().any(|(l, _)| l == h));
    for (h, obj) in live {
        if tokens.iter().any(|(t, _)| *t == h) {
            continue;
        }
        // One token per handle: it reserves the child's hold on the end once.
        if let Some((tok, overlapped)) = crate::pipes::token_of(&obj) {
            tokens.push((h, format!("{}{}", if overlapped { "o" } else { "s" }, tok)));
        }
    }
    let v: Vec<String> = tokens
        .iter()
        .map(|(h, t)| format!("{h:x}={}", hex(t)))
        .collect();
    if v.is_empty() {
        std::env::remove_var(ENV);
    } else {
        std::env::set_var(ENV, v.join(","));
    }
}

/// Adopt the handles a parent left for us (once per process).
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(v) = std::env::var(ENV) else { return };
        for entry in v.split(',') {
            let Some((h, t)) = entry.split_once('=') else {
                continue;
            };
            let (Ok(h), Some(t)) = (usize::from_str_radix(h, 16), unhex(t)) else {
                continue;
            };
            let (overlapped, tok) = match t.split_at_checked(1) {
                Some(("o", rest)) => (true, rest),
                Some(("s", rest)) => (false, rest),
                _ => continue,
            };
            if let Ok(pipe) = npfs_lib::PipeHandle::from_inherited(tok) {
                crate::pipes::adopt(h as HANDLE, pipe, overlapped);
            }
        }
    });
}
