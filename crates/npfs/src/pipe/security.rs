//! Security: GetSecurityInfo, SetSecurityInfo, ImpersonateNamedPipeClient,
//! GetNamedPipeClientUserName.

use super::*;

impl PipeHandle {
    /// GetSecurityInfo: the parts `info` (`OWNER_SECURITY_INFORMATION` 1,
    /// `GROUP_SECURITY_INFORMATION` 2, `DACL_SECURITY_INFORMATION` 4,
    /// `SACL_SECURITY_INFORMATION` 8) of the pipe's descriptor, shared by all its instances.
    #[doc(alias = "GetSecurityInfo")]
    pub fn security(&self, info: u32) -> Result<SecurityDescriptor> {
        let sddl = match &self.inner.kind {
            Kind::Server(s) => lock(s).channel.get_security(info).map_err(broker_err)?,
            Kind::Client(_) | Kind::Remote(_) => {
                self.check_attached()?;
                let mut b = BrokerConn::connect().map_err(broker_err)?;
                b.get_security(&self.inner.name, info).map_err(broker_err)?
            }
        };
        SecurityDescriptor::from_sddl(&sddl, &npfs_core::security::NoNames)
    }

    /// SetSecurityInfo: replace the parts `info` of the pipe's descriptor (needs `WRITE_DAC`
    /// for the DACL, `WRITE_OWNER` for owner and group).
    #[doc(alias = "SetSecurityInfo")]
    pub fn set_security(&self, info: u32, sd: &SecurityDescriptor) -> Result<()> {
        let sddl = sd.to_sddl();
        match &self.inner.kind {
            Kind::Server(s) => lock(s)
                .channel
                .set_security(info, &sddl)
                .map_err(broker_err),
            Kind::Client(_) | Kind::Remote(_) => {
                self.check_attached()?;
                let mut b = BrokerConn::connect().map_err(broker_err)?;
                b.set_security(&self.inner.name, info, &sddl)
                    .map_err(broker_err)
            }
        }
    }
}

impl PipeServer {
    /// ImpersonateNamedPipeClient: the calling thread takes the identity of the client (its
    /// uid, gid and groups, for file access) until [`crate::revert_to_self`].
    /// `ERROR_CANNOT_IMPERSONATE` before anything was read from the pipe (or with no client);
    /// `ERROR_PRIVILEGE_NOT_HELD` (1314) when this process may not take another user's
    /// identity (it is not root). A client that opened with SQOS Anonymous or Identification
    /// is impersonated as nobody (65534): its identity is not lent for access.
    #[doc(alias = "ImpersonateNamedPipeClient")]
    pub fn impersonate_client(&self) -> Result<()> {
        let mut s = lock(self.side());
        let _ = poll_channel(&mut s, Some(Duration::ZERO));
        let ServerLink::Connected(l) = &s.link else {
            return Err(Win32Error::CANNOT_IMPERSONATE);
        };
        if !l.conn.has_read() {
            return Err(Win32Error::CANNOT_IMPERSONATE);
        }
        let Some(c) = s.channel.client_credentials(s.conn_id) else {
            return Err(Win32Error::CANNOT_IMPERSONATE);
        };
        let sqos = c.security.sqos;
        let level = if sqos & SECURITY_SQOS_PRESENT != 0 {
            (sqos >> 16) & 3
        } else {
            2
        };
        if level < 2 || c.security.anonymous {
            return crate::impersonate::impersonate(
                crate::impersonate::NOBODY,
                crate::impersonate::NOBODY,
                &[],
            );
        }
        crate::impersonate::impersonate(c.uid, c.security.gid, &c.security.groups)
    }

    /// The client's user name (GetNamedPipeHandleState's `lpUserName`): its Unix user name,
    /// or its SID string if it has none. Needs a connected client.
    #[doc(alias = "GetNamedPipeHandleState")]
    pub fn client_user_name(&self) -> Result<String> {
        let mut s = lock(self.side());
        let _ = poll_channel(&mut s, Some(Duration::ZERO));
        let ServerLink::Connected(_) = &s.link else {
            return Err(Win32Error::PIPE_NOT_CONNECTED);
        };
        let Some(c) = s.channel.client_credentials(s.conn_id) else {
            return Err(Win32Error::CANNOT_IMPERSONATE);
        };
        Ok(user_name(c.uid))
    }
}

/// `SECURITY_SQOS_PRESENT`.
const SECURITY_SQOS_PRESENT: u32 = 0x0010_0000;

/// The Unix name of user `uid`, or its SID string.
pub(super) fn user_name(uid: u32) -> String {
    let mut buf = vec![0u8; 4096];
    let mut pw: libc::passwd = unsafe_zeroed_passwd();
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r with a buffer we own and out-pointers to locals.
    let rc =
        unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut out) };
    if rc == 0 && !out.is_null() && !pw.pw_name.is_null() {
        // SAFETY: getpwuid_r filled pw_name with a NUL-terminated string inside `buf`.
        return unsafe { std::ffi::CStr::from_ptr(pw.pw_name) }
            .to_string_lossy()
            .into_owned();
    }
    npfs_core::security::Sid::unix_user(uid).to_string()
}

fn unsafe_zeroed_passwd() -> libc::passwd {
    // SAFETY: libc::passwd is a plain C struct of integers and pointers; all-zero is valid.
    unsafe { std::mem::zeroed() }
}
