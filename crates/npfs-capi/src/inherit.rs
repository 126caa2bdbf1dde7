//! Handle inheritance across exec, as CreateProcess does it: a Win32 program marks a handle
//! inheritable (`bInheritHandle`, `SetHandleInformation(HANDLE_FLAG_INHERIT)`), starts a child
//! with `CreateProcess(..., bInheritHandles = TRUE, ...)` ([`crate::process`]) and tells it the
//! handle's value, usually on the command line. The child finds the handle valid at the same
//! value.
//!
//! libnpfs never changes its own environment (setenv is not thread-safe, and the C programs
//! that use libnpfs are threaded). What a child inherits is described when the child is
//! started: CreateProcess puts one entry `NPFS_HANDLES=...` in the *child's* environment,
//! computed at that moment from the inheritable pipe handles, and hands the child their
//! descriptors; with `bInheritHandles = FALSE` the child gets neither. Programs that start
//! children themselves (posix_spawn, fork+exec) get the same entry from
//! [`NpfsInheritanceEnvironment`] and put it in the environment they pass.
//!
//! The child reads `NPFS_HANDLES` once, before its first handle exists ([`init`]), and adopts
//! each entry whose descriptors are still the files the parent named.

use std::ffi::{c_char, CString};
use std::os::fd::RawFd;
use std::sync::{Once, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::*;
use crate::handles;
use crate::types::*;

/// The environment variable listing inherited handles. Its value is a comma-separated list of
/// entries `HANDLE=HEXTOKEN/DEV:INO/DEV:INO...` (all numbers in hex): the handle value, the
/// library's inheritance token of the end (prefixed with `o` for an overlapped handle, `s`
/// for a synchronous one, then hex-encoded), and the identity (`st_dev`, `st_ino`) of each
/// descriptor the token names, in the token's order, as the parent saw them.
pub const ENV: &str = "NPFS_HANDLES";

/// Held (shared) by the operations that may close a live pipe end's descriptors
/// (DisconnectNamedPipe), and exclusively while descriptors are being handed to a child, so
/// that a descriptor number named to a child stays the file it was named for.
static FDS: RwLock<()> = RwLock::new(());

/// Keep the descriptors of pipe ends from changing under a child's start (see [`FDS`]).
pub fn fds_stable() -> RwLockReadGuard<'static, ()> {
    FDS.read().unwrap_or_else(|e| e.into_inner())
}

/// Exclusive access to the pipe ends' descriptors, for the whole start of a child.
pub fn handing_over() -> RwLockWriteGuard<'static, ()> {
    FDS.write().unwrap_or_else(|e| e.into_inner())
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// The descriptors an inheritance token names, all distinct: the `;`-separated fields after
/// the version and the end's letter, two in an `npfs2` token (connection socket, shared
/// segment), four in an `npfs3` token (then the two rings), five in an `npfs4` token (then
/// the end's bell). None for a token of a version this code does not know: such an end is
/// not handed over, rather than handed over in part.
fn token_fds(token: &str) -> Option<Vec<RawFd>> {
    let mut f = token.split(';');
    let count = match f.next()? {
        "npfs2" => 2,
        "npfs3" => 4,
        "npfs4" => 5,
        _ => return None,
    };
    f.next()?;
    let fds: Option<Vec<RawFd>> = f
        .take(count)
        .map(|s| s.parse::<RawFd>().ok().filter(|v| *v >= 0))
        .collect();
    let fds = fds.filter(|v| v.len() == count)?;
    let distinct = fds.iter().enumerate().all(|(k, a)| !fds[..k].contains(a));
    distinct.then_some(fds)
}

/// The identity (`st_dev`, `st_ino`) of the open file `fd` names, if it names one.
fn identity(fd: RawFd) -> Option<(u64, u64)> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat only reads the descriptor table entry and writes the stat buffer we pass;
    // it takes no ownership, and a number that names nothing gives EBADF.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: fstat succeeded, so it filled the buffer.
    let st = unsafe { st.assume_init() };
    Some((st.st_dev, st.st_ino))
}

/// What one child is given: the environment entry and the descriptors it names.
pub struct Inheritance {
    /// `NPFS_HANDLES=...`, or `None` when no pipe handle is inheritable.
    pub entry: Option<CString>,
    /// The descriptors the entry names; a child must receive them at the same numbers.
    pub fds: Vec<RawFd>,
}

/// Prepare every inheritable pipe handle of this process for one child: one inheritance token
/// each (reserving the child's hold on the end), described in an `NPFS_HANDLES` entry.
///
/// Making a token clears close-on-exec on the end's descriptors. With `only_this_child`
/// (CreateProcess, which passes [`Inheritance::fds`] to the child itself) close-on-exec is set
/// again at once, so other children started meanwhile do not get them; otherwise (the helper
/// for posix_spawn and fork+exec callers) the descriptors stay inheritable.
///
/// Call with [`handing_over`] held. A server end that is not connected cannot be inherited and
/// is left out, as is any object that is not a pipe.
pub fn prepare(only_this_child: bool) -> Inheritance {
    init();
    let mut live = handles::inheritable();
    live.sort_by_key(|(h, _, _)| *h);
    let mut entries = Vec::new();
    let mut fds = Vec::new();
    for (h, obj, narrowed) in live {
        let Some((tok, overlapped)) = crate::pipes::token_of(&obj) else {
            continue;
        };
        // A DuplicateHandle copy that holds less than its end passes on what it holds.
        let tok = match narrowed {
            Some(access) => narrow_token(&tok, access),
            None => tok,
        };
        let Some(named) = token_fds(&tok) else {
            continue;
        };
        if only_this_child {
            for &fd in &named {
                // SAFETY: `fd` is a descriptor of the pipe end `obj`, which we hold, and the
                // handing-over lock keeps it open; setting its close-on-exec flag back is what
                // the library had before the token cleared it.
                unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            }
        }
        let ids: Option<Vec<(u64, u64)>> = named.iter().map(|&fd| identity(fd)).collect();
        let Some(ids) = ids else {
            continue;
        };
        let kind = if overlapped { "o" } else { "s" };
        let mut entry = format!("{h:x}={}", hex(&format!("{kind}{tok}")));
        for (dev, ino) in ids {
            entry.push_str(&format!("/{dev:x}:{ino:x}"));
        }
        entries.push(entry);
        fds.extend(named);
    }
    let entry = (!entries.is_empty())
        .then(|| CString::new(format!("{ENV}={}", entries.join(","))).ok())
        .flatten();
    Inheritance { entry, fds }
}

/// `tok` (an `npfs3` or `npfs4` inheritance token) with its access field (the one before the
/// last: 16th of 17 `;`-separated fields, or 17th of 18; the last, the pipe's name, may
/// itself hold `;`) ANDed with `access`.
fn narrow_token(tok: &str, access: u32) -> String {
    let fields = match tok.split(';').next() {
        Some("npfs3") => 17,
        Some("npfs4") => 18,
        _ => return tok.to_owned(),
    };
    let mut f: Vec<String> = tok.splitn(fields, ';').map(str::to_owned).collect();
    if f.len() == fields {
        if let Ok(full) = f[fields - 2].parse::<u32>() {
            f[fields - 2] = (full & access).to_string();
            return f.join(";");
        }
    }
    tok.to_owned()
}

/// One parsed `NPFS_HANDLES` entry.
struct Entry {
    handle: usize,
    overlapped: bool,
    token: String,
    ids: Vec<(u64, u64)>,
}

fn parse_entry(entry: &str) -> Option<Entry> {
    let (h, rest) = entry.split_once('=')?;
    let mut parts = rest.split('/');
    let t = unhex(parts.next()?)?;
    let ids = parts
        .map(|p| {
            let (d, i) = p.split_once(':')?;
            Some((
                u64::from_str_radix(d, 16).ok()?,
                u64::from_str_radix(i, 16).ok()?,
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    let (overlapped, token) = match t.split_at_checked(1)? {
        ("o", rest) => (true, rest),
        ("s", rest) => (false, rest),
        _ => return None,
    };
    Some(Entry {
        handle: usize::from_str_radix(h, 16).ok()?,
        overlapped,
        token: token.to_owned(),
        ids,
    })
}

/// Adopt the handles a parent left for us (once per process, before the first handle of this
/// process exists: every path into the handle table calls this first).
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(v) = std::env::var(ENV) else { return };
        let mut taken: Vec<RawFd> = Vec::new();
        for entry in v.split(',') {
            let Some(e) = parse_entry(entry) else {
                continue;
            };
            let Some(fds) = token_fds(&e.token) else {
                continue;
            };
            // Each descriptor is adopted once, and only while it is still the very file the
            // parent described (the variable may be stale: passed on by a process that did not
            // hand over the descriptors, whose numbers may now name other files).
            if fds.len() != e.ids.len()
                || fds.iter().any(|fd| taken.contains(fd))
                || fds
                    .iter()
                    .zip(&e.ids)
                    .any(|(&fd, &id)| identity(fd) != Some(id))
            {
                continue;
            }
            // SAFETY: the parent that started us (CreateProcess, or a spawner that used
            // NpfsInheritanceEnvironment) named these descriptors for this end and left them
            // open across exec; we just checked that each is still the file it described (same
            // device and inode) and that no earlier entry took any of them. This runs once, before this process has any pipe handle, so nothing in
            // libnpfs owns them yet, and no other code has a reason to: they are ours to adopt.
            let adopted = unsafe { npfs_lib::PipeHandle::from_inherited(&e.token) };
            if let Ok(pipe) = adopted {
                taken.extend(fds);
                crate::pipes::adopt(e.handle as HANDLE, pipe, e.overlapped);
            }
        }
    });
}

/// NpfsInheritanceEnvironment (npfs only; Windows has no counterpart, as its children inherit
/// through CreateProcess): the `NPFS_HANDLES=...` environment entry that gives a child started
/// with posix_spawn or fork+exec this process's inheritable pipe handles, at the same values.
///
/// Put the string in the environment passed to the child (instead of any `NPFS_HANDLES` entry
/// already there) and free it with `free` or `LocalFree`. Call it once per child, right before
/// starting it: each call reserves one hold on every inheritable end for the child it is
/// meant for. The descriptors it names are left without close-on-exec, so every child started
/// afterwards gets them too (CreateProcess sets close-on-exec back). With no inheritable pipe
/// handle the entry is `NPFS_HANDLES=` (nothing to adopt). NULL with `ERROR_NOT_ENOUGH_MEMORY`
/// if the string cannot be allocated.
#[no_mangle]
pub extern "C" fn NpfsInheritanceEnvironment() -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        let inh = {
            let _held = handing_over();
            prepare(false)
        };
        let entry = inh
            .entry
            .unwrap_or_else(|| CString::new(format!("{ENV}=")).unwrap_or_default());
        let bytes = entry.as_bytes_with_nul();
        // SAFETY: a plain C allocation of the string's size, filled below; the caller frees it.
        let p = unsafe { libc::malloc(bytes.len()) }.cast::<c_char>();
        if p.is_null() {
            set_last_error(ERROR_NOT_ENOUGH_MEMORY);
            return p;
        }
        // SAFETY: `p` has room for `bytes.len()` bytes and does not overlap `bytes`.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr().cast(), p, bytes.len()) };
        p
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let tok = "npfs3;c;7;9;11;12;10;1;3;1;4096;4096;50;10;11;3221225472;\\\\.\\pipe\\x";
        let e = format!("1a4={}/8:64/9:c8/8:1/8:2", hex(&format!("o{tok}")));
        let p = parse_entry(&e).unwrap();
        assert_eq!(p.handle, 0x1a4);
        assert!(p.overlapped);
        assert_eq!(p.token, tok);
        assert_eq!(p.ids, [(8, 100), (9, 200), (8, 1), (8, 2)]);
        assert_eq!(token_fds(tok), Some(vec![7, 9, 11, 12]));
        assert_eq!(token_fds("npfs2;s;3;4;1;3"), Some(vec![3, 4]));
        let tok4 = "npfs4;s;7;9;11;12;13;10;1;3;1;4096;4096;50;10;11;3221225472;\\\\.\\pipe\\x";
        assert_eq!(token_fds(tok4), Some(vec![7, 9, 11, 12, 13]));
    }

    #[test]
    fn malformed_entries_are_refused() {
        assert!(parse_entry("zz=00").is_none());
        assert!(parse_entry("100=7330/1:2/x").is_none()); // not an identity
        assert!(parse_entry("100=7830/1:2/3:4").is_none()); // neither `o` nor `s`
        assert!(parse_entry("100=733/1:2/3:4").is_none()); // odd hex
        assert_eq!(token_fds("npfs2;c;5;5;rest"), None); // one descriptor twice
        assert_eq!(token_fds("npfs3;c;5;6;7;5;10"), None);
        assert_eq!(token_fds("npfs2;c;-1;5"), None);
        assert_eq!(token_fds("npfs3;c;3;4"), None); // too few
        assert_eq!(token_fds("npfs9;c;3;4;5;6"), None); // a version we do not know
    }

    #[test]
    fn a_narrowed_duplicate_passes_on_what_it_holds() {
        // The access field is the 16th; the name (last) may hold `;`.
        let tok = "npfs3;c;3;4;5;6;10;1;3;1;512;512;0;100;200;1180063;\\\\.\\pipe\\a;b";
        let narrowed = narrow_token(tok, 0x0012_0089); // FILE_GENERIC_READ
        let f: Vec<&str> = narrowed.splitn(17, ';').collect();
        assert_eq!(f[15], (1_180_063u32 & 0x0012_0089).to_string());
        assert_eq!(f[16], "\\\\.\\pipe\\a;b");
        assert_eq!(f[..15], tok.splitn(17, ';').collect::<Vec<_>>()[..15]);
        // npfs4 (the end's bell after the rings): the access field is the 17th of 18.
        let tok = "npfs4;c;3;4;5;6;7;10;1;3;1;512;512;0;100;200;1180063;\\\\.\\pipe\\a;b";
        let narrowed = narrow_token(tok, 0x0012_0089);
        let f: Vec<&str> = narrowed.splitn(18, ';').collect();
        assert_eq!(f[16], (1_180_063u32 & 0x0012_0089).to_string());
        assert_eq!(f[17], "\\\\.\\pipe\\a;b");
        // A token of another shape is passed on unchanged.
        assert_eq!(narrow_token("npfs3;c;3", 1), "npfs3;c;3");
        assert_eq!(narrow_token("npfs4;c;3", 1), "npfs4;c;3");
    }

    #[test]
    fn identity_is_device_and_inode() {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        assert!(identity(-1).is_none());
        let f = std::fs::File::open("/proc/self/exe").unwrap();
        let m = f.metadata().unwrap();
        assert_eq!(identity(f.as_raw_fd()), Some((m.dev(), m.ino())));
    }
}
