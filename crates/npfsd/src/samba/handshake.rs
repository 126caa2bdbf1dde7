//! The named_pipe_auth ("NPA") handshake smbd sends on every connection to a socket in its
//! `np/` directory, and our reply (facts: /work/shared/spec/smb.md §1.3, §1.4; Samba's
//! `librpc/idl/named_pipe_auth.idl`, `auth.idl`, `security.idl`).
//!
//! The request is NDR32 little-endian, except its first field, the big-endian length of the
//! rest. Levels 5 (Samba 4.16.0–4.17.8), 7 (4.17.9–4.19) and 8 (4.20 and later) are
//! understood; the reply echoes the level. From the session info only the security token
//! (its SIDs) and the Unix token (uid, gid, groups) are read: both come before the user
//! info, which is not needed.
//!
//! The request comes from another process: every length, count and offset is checked, and
//! anything malformed is an [`NpaError`] (the caller drops that connection), never a panic.

use npfs_core::security::Sid;

/// Largest request accepted, in bytes after the length word. Samba's own readers cap it at
/// 0x00FF_FFFF; a real one is under 1 KiB plus 28 bytes per group SID and 8 per Unix group,
/// so 1 MiB leaves room for thousands of groups.
pub const MAX_REQUEST: usize = 1 << 20;

/// Most SIDs in a session's security token, and groups in its Unix token.
pub const MAX_TOKEN_ENTRIES: usize = 8192;

/// Longest string field (host names, addresses).
pub const MAX_STRING: usize = 4096;

/// `FILE_TYPE_BYTE_MODE_PIPE`: smbd relays raw bytes.
pub const FILE_TYPE_BYTE_MODE_PIPE: u16 = 1;
/// `FILE_TYPE_MESSAGE_MODE_PIPE`: smbd frames each message with a u16 little-endian length.
pub const FILE_TYPE_MESSAGE_MODE_PIPE: u16 = 2;

/// The device state Samba's own servers send (smbd ignores it).
const DEVICE_STATE: u16 = 0x05ff;
/// The allocation size Samba's own servers send (smbd ignores it).
const ALLOCATION_SIZE: u64 = 4096;

/// Size of a reply.
pub const REPLY_LEN: usize = 36;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpaError {
    /// The request ended before a field.
    #[error("truncated at offset {0}")]
    Truncated(usize),
    /// The length word does not match, or exceeds [`MAX_REQUEST`].
    #[error("bad length {0}")]
    Length(usize),
    /// Not `NPAM`.
    #[error("bad magic")]
    Magic,
    /// A level other than 5, 7 or 8, or a union discriminant that differs from it.
    #[error("unsupported level {0}")]
    Level(u32),
    /// An inconsistent field (string counts, array sizes, SID layout).
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// The Unix identity of the SMB session (`security_unix_token`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixToken {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// What the request says about the SMB session (`auth_session_info`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Session {
    /// The SIDs of the session's security token.
    pub sids: Vec<Sid>,
    /// Its Unix token, when smbd sent one.
    pub unix: Option<UnixToken>,
}

/// A decoded `named_pipe_auth_req`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// The level (5, 7 or 8), echoed in the reply.
    pub level: u32,
    /// The transport (1: NCACN_NP).
    pub transport: u8,
    /// smbd passes its own host name here (not the client's).
    pub remote_client_name: Option<String>,
    /// The SMB client's IP address.
    pub remote_client_addr: Option<String>,
    /// The SMB client's TCP port.
    pub remote_client_port: u16,
    /// smbd's host name.
    pub local_server_name: Option<String>,
    /// The address smbd accepted the SMB connection on.
    pub local_server_addr: Option<String>,
    /// The port smbd accepted the SMB connection on.
    pub local_server_port: u16,
    /// The session, when present.
    pub session: Option<Session>,
}

/// Who a remote client is, for the access check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteIdentity {
    /// A null or guest session: ANONYMOUS LOGON.
    Anonymous,
    /// An authenticated user mapped to these Unix ids.
    User(UnixToken),
}

impl Request {
    /// The identity to check the open with: a session whose token holds ANONYMOUS LOGON
    /// (S-1-5-7), or lacks Authenticated Users (S-1-5-11: Samba leaves it out of guest
    /// tokens), or no session at all, is anonymous; otherwise the Unix token, else the
    /// `S-1-22-1-uid` / `S-1-22-2-gid` SIDs (the first group SID is the primary group).
    ///
    /// # Errors
    ///
    /// [`NpaError::Malformed`] for an authenticated session without any Unix user.
    pub fn identity(&self) -> Result<RemoteIdentity, NpaError> {
        let Some(s) = &self.session else {
            return Ok(RemoteIdentity::Anonymous);
        };
        let anonymous = Sid::new(5, &[7]);
        let authenticated = Sid::new(5, &[11]);
        let has = |sid: &Option<Sid>| sid.as_ref().is_some_and(|x| s.sids.contains(x));
        if has(&anonymous) || !has(&authenticated) {
            return Ok(RemoteIdentity::Anonymous);
        }
        if let Some(u) = &s.unix {
            return Ok(RemoteIdentity::User(u.clone()));
        }
        let uid = s.sids.iter().find_map(|x| x.as_unix_user());
        let mut gids = s.sids.iter().filter_map(|x| x.as_unix_group());
        match (uid, gids.next()) {
            (Some(uid), Some(gid)) => Ok(RemoteIdentity::User(UnixToken {
                uid,
                gid,
                groups: gids.collect(),
            })),
            _ => Err(NpaError::Malformed("session without a Unix identity")),
        }
    }
}

/// The reply: `file_type` ([`FILE_TYPE_BYTE_MODE_PIPE`] or [`FILE_TYPE_MESSAGE_MODE_PIPE`])
/// at the request's `level`, status success.
pub fn encode_reply(level: u32, file_type: u16) -> [u8; REPLY_LEN] {
    let mut out = [0u8; REPLY_LEN];
    out[0..4].copy_from_slice(&((REPLY_LEN - 4) as u32).to_be_bytes());
    out[4..8].copy_from_slice(b"NPAM");
    out[8..12].copy_from_slice(&level.to_le_bytes());
    out[12..16].copy_from_slice(&level.to_le_bytes());
    out[16..18].copy_from_slice(&file_type.to_le_bytes());
    out[18..20].copy_from_slice(&DEVICE_STATE.to_le_bytes());
    // 20..24: padding before the 8-aligned hyper.
    out[24..32].copy_from_slice(&ALLOCATION_SIZE.to_le_bytes());
    // 32..36: NTSTATUS 0 (smbd ignores it).
    out
}

/// The length of the request following its 4-byte length word, from that word.
///
/// # Errors
///
/// [`NpaError::Length`] for 0 or more than [`MAX_REQUEST`].
pub fn body_len(head: [u8; 4]) -> Result<usize, NpaError> {
    let n = u32::from_be_bytes(head) as usize;
    if !(12..=MAX_REQUEST).contains(&n) {
        return Err(NpaError::Length(n));
    }
    Ok(n)
}

/// Decode a whole request (its length word included).
///
/// # Errors
///
/// An [`NpaError`] for anything that does not follow the layout.
pub fn parse_request(buf: &[u8]) -> Result<Request, NpaError> {
    let mut r = Ndr { buf, pos: 0 };
    let head: [u8; 4] = r.bytes(4)?.try_into().map_err(|_| NpaError::Truncated(0))?;
    let len = u32::from_be_bytes(head) as usize;
    if len > MAX_REQUEST || len != buf.len() - 4 {
        return Err(NpaError::Length(len));
    }
    if r.bytes(4)? != b"NPAM" {
        return Err(NpaError::Magic);
    }
    let level = r.u32()?;
    let disc = r.u32()?;
    if !matches!(level, 5 | 7 | 8) {
        return Err(NpaError::Level(level));
    }
    if disc != level {
        return Err(NpaError::Level(disc));
    }
    // The info struct's scalars.
    let transport = r.u8()?;
    let p_rcn = r.ptr()?;
    let p_rca = r.ptr()?;
    let remote_client_port = r.u16()?;
    let p_lsn = r.ptr()?;
    let p_lsa = r.ptr()?;
    let local_server_port = r.u16()?;
    let p_session = r.ptr()?;
    if level == 5 {
        let _need_idle_server = r.u8()?;
    }
    r.align(4)?;
    // The deferred bodies, in order.
    let remote_client_name = p_rcn.then(|| r.string()).transpose()?;
    let remote_client_addr = p_rca.then(|| r.string()).transpose()?;
    let local_server_name = p_lsn.then(|| r.string()).transpose()?;
    let local_server_addr = p_lsa.then(|| r.string()).transpose()?;
    let session = if p_session {
        let at = r.pos;
        // Samba versions differ in whether `auth_session_info` ends with `ticket_type`; the
        // layout that gives consistent tokens wins.
        match r.session(true) {
            Ok(s) => Some(s),
            Err(first) => {
                r.pos = at;
                Some(r.session(false).map_err(|_| first)?)
            }
        }
    } else {
        None
    };
    Ok(Request {
        level,
        transport,
        remote_client_name,
        remote_client_addr,
        remote_client_port,
        local_server_name,
        local_server_addr,
        local_server_port,
        session,
    })
}

/// A bounds-checked NDR32 little-endian reader; alignment is relative to the start of the
/// request.
struct Ndr<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Ndr<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], NpaError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(NpaError::Truncated(self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn align(&mut self, n: usize) -> Result<(), NpaError> {
        let pad = (n - self.pos % n) % n;
        self.bytes(pad).map(|_| ())
    }

    fn u8(&mut self) -> Result<u8, NpaError> {
        Ok(self.bytes(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, NpaError> {
        self.align(2)?;
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, NpaError> {
        self.align(4)?;
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn hyper(&mut self) -> Result<u64, NpaError> {
        self.align(8)?;
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A unique pointer's referent id: whether the pointee follows.
    fn ptr(&mut self) -> Result<bool, NpaError> {
        Ok(self.u32()? != 0)
    }

    /// A DATA_BLOB: u32 length, then the bytes.
    fn blob(&mut self) -> Result<&'a [u8], NpaError> {
        let n = self.u32()? as usize;
        self.bytes(n)
    }

    /// A conformant varying string of 8-bit characters, NUL included.
    fn string(&mut self) -> Result<String, NpaError> {
        let max = self.u32()? as usize;
        let offset = self.u32()?;
        let actual = self.u32()? as usize;
        if offset != 0 || actual > max || actual > MAX_STRING {
            return Err(NpaError::Malformed("string"));
        }
        let b = self.bytes(actual)?;
        let b = b.strip_suffix(&[0]).unwrap_or(b);
        Ok(String::from_utf8_lossy(b).into_owned())
    }

    /// A `dom_sid`: revision, count, 6-byte authority, sub-authorities.
    fn sid(&mut self) -> Result<Sid, NpaError> {
        self.align(4)?;
        let rev = self.u8()?;
        let count = self.u8()? as usize;
        if rev != 1 || count > 15 {
            return Err(NpaError::Malformed("sid"));
        }
        let auth = self
            .bytes(6)?
            .iter()
            .fold(0u64, |a, &b| (a << 8) | u64::from(b));
        let mut subs = Vec::with_capacity(count);
        for _ in 0..count {
            subs.push(self.u32()?);
        }
        Sid::new(auth, &subs).ok_or(NpaError::Malformed("sid"))
    }

    /// `auth_session_info_transport`, then `auth_session_info` up to its Unix token.
    fn session(&mut self, ticket_type: bool) -> Result<Session, NpaError> {
        // auth_session_info_transport: pointer, exported GSSAPI credentials.
        self.align(4)?;
        let p_info = self.ptr()?;
        let _gssapi = self.blob()?;
        self.align(4)?;
        if !p_info {
            return Ok(Session::default());
        }
        // auth_session_info's scalars.
        let p_token = self.ptr()?;
        let p_unix = self.ptr()?;
        let _p_user = self.ptr()?;
        let _p_unix_info = self.ptr()?;
        let _p_torture = self.ptr()?;
        let _session_key = self.blob()?;
        let _p_credentials = self.ptr()?;
        let _guid = {
            self.align(4)?;
            self.bytes(16)?
        };
        if ticket_type {
            let _ = self.u32()?;
        }
        self.align(4)?;
        let mut session = Session::default();
        if p_token {
            // security_token: conformance, num_sids, the SIDs, privilege_mask (hyper,
            // 8-aligned), rights_mask; no padding around the struct (verified on a
            // capture of smbd 4.17.12: testdata/).
            let size = self.u32()? as usize;
            let num = self.u32()? as usize;
            if size != num || num > MAX_TOKEN_ENTRIES {
                return Err(NpaError::Malformed("security token"));
            }
            for _ in 0..num {
                session.sids.push(self.sid()?);
            }
            let _privileges = self.hyper()?;
            let _rights = self.u32()?;
        }
        if p_unix {
            // security_unix_token: conformance, then uid, gid (hypers), ngroups, groups.
            let size = self.u32()? as usize;
            let uid = id32(self.hyper()?)?;
            let gid = id32(self.hyper()?)?;
            let n = self.u32()? as usize;
            if size != n || n > MAX_TOKEN_ENTRIES {
                return Err(NpaError::Malformed("unix token"));
            }
            let mut groups = Vec::with_capacity(n);
            for _ in 0..n {
                groups.push(id32(self.hyper()?)?);
            }
            session.unix = Some(UnixToken { uid, gid, groups });
        }
        Ok(session)
    }
}

/// A Unix id carried as a hyper: it must fit 32 bits (and not be -1).
fn id32(v: u64) -> Result<u32, NpaError> {
    u32::try_from(v)
        .ok()
        .filter(|&x| x != u32::MAX)
        .ok_or(NpaError::Malformed("unix id"))
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
