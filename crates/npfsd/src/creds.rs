//! Who a peer is, from the kernel only: `SO_PEERCRED` (pid, uid, gid) and `SO_PEERGROUPS`
//! (its supplementary groups, as they were when it connected), made into a
//! [`Caller`] with the broker's administrator groups; and the system's user and group
//! names for SDDL ([`SystemNames`]).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd};

use npfs_core::namespace::{Caller, Identity};
use npfs_core::security::NameResolver;

/// The peer's supplementary groups (`getsockopt(SOL_SOCKET, SO_PEERGROUPS)`, Linux ≥ 4.13),
/// captured by the kernel at `connect` time, so pid reuse cannot confuse them.
///
/// # Errors
///
/// The socket's error (`ENOPROTOOPT` on kernels without `SO_PEERGROUPS`).
pub fn peer_groups(sock: impl AsFd) -> std::io::Result<Vec<u32>> {
    let fd = sock.as_fd().as_raw_fd();
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: `groups` has room for `len` bytes; the kernel writes at most that many and
        // reports the size it needs (ERANGE) when they do not fit.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if r == 0 {
            groups.truncate(len as usize / std::mem::size_of::<libc::gid_t>());
            return Ok(groups);
        }
        let err = std::io::Error::last_os_error();
        let needed = len as usize / std::mem::size_of::<libc::gid_t>();
        if err.raw_os_error() == Some(libc::ERANGE) && needed > groups.len() && needed <= 65536 {
            groups.resize(needed, 0);
            continue;
        }
        return Err(err);
    }
}

/// The peer of an accepted connection, from `SO_PEERCRED` and `SO_PEERGROUPS`.
///
/// # Errors
///
/// The socket's error; a peer whose groups cannot be read is refused (its token would lack
/// deny ACEs' groups).
pub fn peer_caller(sock: impl AsFd, admin_gids: &[u32]) -> std::io::Result<Caller> {
    let cred = rustix::net::sockopt::socket_peercred(&sock)?;
    let identity = Identity {
        pid: cred.pid.as_raw_nonzero().get() as u32,
        uid: cred.uid.as_raw(),
        gid: cred.gid.as_raw(),
    };
    let groups = peer_groups(&sock)?;
    Ok(Caller::local(identity, &groups, admin_gids))
}

/// User and group names from the system's databases (`getpwnam_r`, `getgrnam_r`: files,
/// LDAP, whatever NSS is configured with).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemNames;

impl NameResolver for SystemNames {
    fn user(&self, name: &str) -> Option<u32> {
        user_id(name)
    }
    fn group(&self, name: &str) -> Option<u32> {
        group_id(name)
    }
}

/// The uid of user `name`.
pub fn user_id(name: &str) -> Option<u32> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: a zeroed passwd is a valid out-parameter; `buf` outlives the call and the
        // result pointer is only compared, never dereferenced past the call.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        let r = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pw,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut out,
            )
        };
        if r == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        return (r == 0 && !out.is_null()).then_some(pw.pw_uid);
    }
}

/// The gid of group `name`.
pub fn group_id(name: &str) -> Option<u32> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: as in `user_id`.
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut out: *mut libc::group = std::ptr::null_mut();
        let r = unsafe {
            libc::getgrnam_r(
                cname.as_ptr(),
                &mut gr,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut out,
            )
        };
        if r == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        return (r == 0 && !out.is_null()).then_some(gr.gr_gid);
    }
}

/// The gids of the administrator groups `names` that exist (unknown names are skipped).
pub fn admin_gids(names: &[String]) -> Vec<u32> {
    let mut out = Vec::new();
    for n in names {
        let gid = n.parse::<u32>().ok().or_else(|| group_id(n));
        if let Some(g) = gid {
            if !out.contains(&g) {
                out.push(g);
            }
        }
    }
    out
}

/// The default administrator groups: `sudo` and `wheel`, those that exist.
pub const DEFAULT_ADMIN_GROUPS: &[&str] = &["sudo", "wheel"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_groups() {
        assert_eq!(user_id("root"), Some(0));
        assert_eq!(group_id("root"), Some(0));
        assert_eq!(user_id("no-such-user-npfs"), None);
        assert_eq!(user_id("nul\0byte"), None);
        assert_eq!(
            admin_gids(&["root".into(), "0".into(), "nope-npfs".into()]),
            vec![0]
        );
    }

    #[test]
    fn peer_groups_of_a_socketpair() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mine: Vec<u32> = rustix::process::getgroups()
            .unwrap()
            .into_iter()
            .map(|g| g.as_raw())
            .collect();
        let mut got = peer_groups(&a).unwrap();
        let mut want = mine;
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want);
        let c = peer_caller(&a, &[]).unwrap();
        assert_eq!(c.identity.uid, rustix::process::getuid().as_raw());
    }
}
