//! Handle inheritance: an end handed to a child process (`bInheritHandle`) by an `npfs4` token.

use super::*;

impl PipeHandle {
    /// Prepare this end to be inherited by a child process (a handle created with
    /// `bInheritHandle`): clears close-on-exec on its descriptors and returns a token for the
    /// child to pass to [`PipeHandle::from_inherited`] (for example in an environment
    /// variable). Make one token per child. This handle stays usable; both processes then
    /// share the end, as inherited handles do on Windows, and it stays open until every
    /// process has closed it. A server end must be connected (`ERROR_PIPE_NOT_CONNECTED`);
    /// in the child it carries data, not ConnectNamedPipe/DisconnectNamedPipe.
    pub fn inherit_token(&self) -> Result<String> {
        use std::os::fd::AsRawFd;
        let link = self.link(
            Win32Error::PIPE_NOT_CONNECTED,
            Win32Error::PIPE_NOT_CONNECTED,
        )?;
        let conn = &link.conn;
        let sock = conn.sock().ok_or(Win32Error::INVALID_HANDLE)?;
        let [r0, r1] = conn.ring_fds();
        let bell = conn.end_bell_or_make()?;
        for fd in [
            sock.as_fd(),
            conn.shm_fd().as_fd(),
            r0.as_fd(),
            r1.as_fd(),
            bell.as_fd(),
        ] {
            rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())
                .map_err(|_| Win32Error::INVALID_HANDLE)?;
        }
        // The child holds the end from now on, whether or not it ever takes it over.
        conn.reserve_holder();
        let a = conn.attrs();
        let rights = conn.rights();
        Ok(format!(
            "npfs4;{};{};{};{};{};{};{}{};{};{};{};{};{};{};{};{};{};{}",
            if conn.is_server_end() { 's' } else { 'c' },
            sock.as_raw_fd(),
            conn.shm_fd().as_raw_fd(),
            r0.as_raw_fd(),
            r1.as_raw_fd(),
            bell.as_raw_fd(),
            u8::from(rights.writes),
            u8::from(rights.peer_writes),
            u8::from(a.pipe_type == PipeType::Message),
            a.direction.as_open_mode(),
            a.max_instances,
            a.out_quota,
            a.in_quota,
            a.default_timeout_ms,
            conn.server_pid,
            conn.client_pid,
            self.inner.access,
            self.inner.name.full()
        ))
    }

    /// Take over an end inherited from the parent process, from the token its
    /// [`PipeHandle::inherit_token`] made. `ERROR_INVALID_HANDLE` if the token is malformed or
    /// names descriptors this process does not have.
    ///
    /// # Safety
    ///
    /// The token names descriptors by number: the caller promises that they are the ones a
    /// parent passed for this token (inherited across exec), and that nothing else in this
    /// process owns them; this handle takes ownership of them. Call it once per token.
    pub unsafe fn from_inherited(token: &str) -> Result<PipeHandle> {
        use std::os::fd::{FromRawFd, OwnedFd, RawFd};
        let bad = Win32Error::INVALID_HANDLE;
        // npfs4;END;SOCK;SHM;RING0;RING1;BELL;RIGHTS;...: the descriptors are fields 2..=6.
        let f: Vec<&str> = token.splitn(18, ';').collect();
        if f.len() != 18 || f[0] != "npfs4" {
            return Err(bad);
        }
        let end = match f[1] {
            "s" => End::Server,
            "c" => End::Client,
            _ => return Err(bad),
        };
        let n = |i: usize| f[i].parse::<u32>().map_err(|_| bad);
        let fd = |i: usize| -> Result<RawFd> {
            let v = f[i].parse::<RawFd>().map_err(|_| bad)?;
            if v < 0 {
                return Err(bad);
            }
            // SAFETY: borrowing for the duration of one fcntl call; no ownership is taken.
            let b = unsafe { std::os::fd::BorrowedFd::borrow_raw(v) };
            rustix::io::fcntl_getfd(b).map_err(|_| bad)?;
            Ok(v)
        };
        let raw = [fd(2)?, fd(3)?, fd(4)?, fd(5)?, fd(6)?];
        if !crate::sys::is_eventfd(raw[4]) {
            return Err(bad);
        }
        for (k, a) in raw.iter().enumerate() {
            if raw[..k].contains(a) {
                return Err(bad);
            }
        }
        let rights = match f[7] {
            "00" | "01" | "10" | "11" => DataRights {
                writes: f[7].as_bytes()[0] == b'1',
                peer_writes: f[7].as_bytes()[1] == b'1',
            },
            _ => return Err(bad),
        };
        let attrs = PipeAttributes {
            direction: config::Direction::from_open_mode(n(9)?).ok_or(bad)?,
            pipe_type: if n(8)? == 1 {
                PipeType::Message
            } else {
                PipeType::Byte
            },
            max_instances: n(10)?,
            out_quota: n(11)?,
            in_quota: n(12)?,
            default_timeout_ms: n(13)?,
        };
        let access = n(16)?;
        let name = PipeName::parse(f[17]).map_err(|_| bad)?;
        let info = ConnInfo {
            conn_id: 0,
            attrs,
            server_pid: n(14)?,
            client_pid: n(15)?,
            instance_id: 0,
            client_access: 0,
        };
        // SAFETY: the caller's promise: the token names five distinct open descriptors
        // (checked above) that this process inherited for it and nobody else owns; from here
        // on this handle owns them.
        let [sock, shm, r0, r1, bell] = raw.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
        for fd in [&sock, &shm, &r0, &r1, &bell] {
            let _ = rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC);
        }
        let fds = ConnFds {
            sock,
            shm,
            rings: [r0, r1],
        };
        let link = Arc::new(Link::adopt(fds, &info, end, rights)?);
        link.conn.adopt_end_bell(bell);
        Ok(PipeHandle::for_client(name, attrs, access, link))
    }
}

impl PipeClient {
    /// Prepare this client end for a child process: see [`PipeHandle::inherit_token`].
    pub fn inherit_token(&self) -> Result<String> {
        self.handle.inherit_token()
    }

    /// Take over a client end inherited from the parent process (see
    /// [`PipeHandle::from_inherited`]); `ERROR_INVALID_HANDLE` if the token is for a server end.
    ///
    /// # Safety
    ///
    /// As [`PipeHandle::from_inherited`].
    pub unsafe fn from_inherited(token: &str) -> Result<PipeClient> {
        // SAFETY: the caller's promise, passed on.
        let handle = unsafe { PipeHandle::from_inherited(token)? };
        if handle.is_server() {
            return Err(Win32Error::INVALID_HANDLE);
        }
        Ok(PipeClient { handle })
    }
}
