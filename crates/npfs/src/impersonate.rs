//! ImpersonateNamedPipeClient and RevertToSelf on Linux: the calling *thread* takes the
//! client's uid, gid and supplementary groups for file access (Linux credentials are
//! per-thread at the system-call level; only the effective ids change, so the saved ids keep
//! the way back), and gives them back.

use npfs_core::Win32Error;
use rustix::process::{Gid, Uid};

/// `ERROR_PRIVILEGE_NOT_HELD`: the server may not take another user's identity (it is not
/// root; Windows' SeImpersonatePrivilege).
pub const ERROR_PRIVILEGE_NOT_HELD: Win32Error = Win32Error::PRIVILEGE_NOT_HELD;

/// The uid and gid an anonymous or identification-level client is impersonated as: nobody.
pub const NOBODY: u32 = 65534;

/// The thread's own identity, while it impersonates.
struct Saved {
    euid: u32,
    egid: u32,
    groups: Vec<Gid>,
}

thread_local! {
    static SAVED: std::cell::RefCell<Option<Saved>> = const { std::cell::RefCell::new(None) };
}

fn denied(_e: rustix::io::Errno) -> Win32Error {
    ERROR_PRIVILEGE_NOT_HELD
}

/// Take `uid`, `gid` and `groups` as this thread's effective identity.
pub(crate) fn impersonate(uid: u32, gid: u32, groups: &[u32]) -> Result<(), Win32Error> {
    // Back to our own identity first (so that we have the privilege to switch again).
    revert()?;
    let own = Saved {
        euid: rustix::process::geteuid().as_raw(),
        egid: rustix::process::getegid().as_raw(),
        groups: rustix::process::getgroups().unwrap_or_default(),
    };
    if uid == own.euid && gid == own.egid {
        // Impersonating ourselves: nothing to change.
        return Ok(());
    }
    SAVED.with(|s| *s.borrow_mut() = Some(own));
    let gids: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
    let r = rustix::thread::set_thread_groups(&gids)
        .and_then(|()| rustix::thread::set_thread_res_gid(None, Some(Gid::from_raw(gid)), None))
        .and_then(|()| rustix::thread::set_thread_res_uid(None, Some(Uid::from_raw(uid)), None));
    if let Err(e) = r {
        let _ = revert();
        return Err(denied(e));
    }
    Ok(())
}

/// Give the thread its own identity back (a no-op when not impersonating).
pub(crate) fn revert() -> Result<(), Win32Error> {
    let Some(saved) = SAVED.with(|s| s.borrow_mut().take()) else {
        return Ok(());
    };
    rustix::thread::set_thread_res_uid(None, Some(Uid::from_raw(saved.euid)), None)
        .map_err(denied)?;
    rustix::thread::set_thread_res_gid(None, Some(Gid::from_raw(saved.egid)), None)
        .map_err(denied)?;
    rustix::thread::set_thread_groups(&saved.groups).map_err(denied)?;
    Ok(())
}

/// RevertToSelf: the calling thread stops impersonating.
pub fn revert_to_self() -> Result<(), Win32Error> {
    revert()
}
