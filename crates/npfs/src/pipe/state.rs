//! The state calls: GetNamedPipeInfo, GetNamedPipeHandleState, SetNamedPipeHandleState, the process
//! and session ids, the link state, the bytes available.

use super::*;

impl PipeHandle {
    /// GetNamedPipeInfo.
    #[doc(alias = "GetNamedPipeInfo")]
    pub fn info(&self) -> Result<PipeInfo> {
        self.check_access(AccessNeed::QueryState)?;
        if let Kind::Client(l) = &self.inner.kind {
            if l.conn.state() == LinkState::Disconnected {
                return Err(Win32Error::PIPE_NOT_CONNECTED);
            }
        }
        let a = &self.inner.attrs;
        let mut flags = if self.is_server() {
            PIPE_SERVER_END
        } else {
            PIPE_CLIENT_END
        };
        if a.pipe_type == PipeType::Message {
            flags |= PIPE_TYPE_MESSAGE;
        }
        Ok(PipeInfo {
            flags,
            out_buffer_size: a.out_quota,
            in_buffer_size: a.in_quota,
            max_instances: a.max_instances,
        })
    }

    /// GetNamedPipeHandleState's `*lpState`: `PIPE_NOWAIT` and/or `PIPE_READMODE_MESSAGE`.
    #[doc(alias = "GetNamedPipeHandleState")]
    pub fn handle_mode(&self) -> Result<u32> {
        self.check_access(AccessNeed::QueryState)?;
        self.check_attached()?;
        let m = self.modes();
        let read = if m.read_mode == ReadMode::Message {
            PIPE_READMODE_MESSAGE
        } else {
            0
        };
        Ok((u32::from(m.nowait) * PIPE_NOWAIT) | read)
    }

    /// GetNamedPipeHandleState's `*lpCurInstances`: the pipe's current instance count.
    #[doc(alias = "GetNamedPipeHandleState")]
    pub fn current_instances(&self) -> Result<u32> {
        self.check_access(AccessNeed::QueryState)?;
        self.check_attached()?;
        if self.remote().is_some() {
            return Err(Win32Error::NOT_SUPPORTED);
        }
        let mut b = BrokerConn::connect().map_err(broker_err)?;
        Ok(b.instance_count(&self.inner.name)
            .map_err(broker_err)?
            .min(255))
    }

    /// SetNamedPipeHandleState with `*lpMode`: read mode and wait mode of this handle.
    #[doc(alias = "SetNamedPipeHandleState")]
    pub fn set_handle_mode(&self, mode: u32) -> Result<()> {
        // kernelbase refuses unknown bits before it asks the file system (Wine's order), which
        // checks the handle's access first, then the mode against the pipe type.
        if mode & !config::VALID_HANDLE_MODE_BITS != 0 {
            return Err(Win32Error::INVALID_PARAMETER);
        }
        self.check_access(AccessNeed::SetState)?;
        self.check_attached()?;
        let (read_mode, nowait) = config::parse_handle_mode(mode, self.inner.attrs.pipe_type)?;
        *lock(&self.inner.modes) = Modes { read_mode, nowait };
        Ok(())
    }

    pub(super) fn check_attached(&self) -> Result<()> {
        if let Kind::Client(l) = &self.inner.kind {
            if l.conn.state() == LinkState::Disconnected {
                return Err(Win32Error::PIPE_NOT_CONNECTED);
            }
        }
        Ok(())
    }

    pub(super) fn pids(&self) -> Result<(u32, u32)> {
        match &self.inner.kind {
            Kind::Client(l) => {
                if l.conn.state() == LinkState::Disconnected {
                    return Err(Win32Error::PIPE_NOT_CONNECTED);
                }
                Ok((l.conn.client_pid, l.conn.server_pid))
            }
            Kind::Server(s) => {
                let mut s = lock(s);
                let _ = poll_channel(&mut s, Some(Duration::ZERO));
                match &s.link {
                    ServerLink::Connected(l) => Ok((l.conn.client_pid, l.conn.server_pid)),
                    _ => Err(Win32Error::NOT_FOUND),
                }
            }
            Kind::Remote(_) => Err(Win32Error::NOT_SUPPORTED),
        }
    }

    /// GetNamedPipeClientProcessId.
    #[doc(alias = "GetNamedPipeClientProcessId")]
    pub fn client_process_id(&self) -> Result<u32> {
        self.pids().map(|p| p.0)
    }

    /// GetNamedPipeServerProcessId.
    #[doc(alias = "GetNamedPipeServerProcessId")]
    pub fn server_process_id(&self) -> Result<u32> {
        match self.pids() {
            Ok(p) => Ok(p.1),
            Err(e) if e == Win32Error::NOT_FOUND => Ok(crate::sys::my_pid()),
            Err(e) => Err(e),
        }
    }

    /// GetNamedPipeClientSessionId: the session of the client's process — the Unix session,
    /// which npfs reports for both ends as this process's (one per login). Fails as
    /// [`PipeHandle::client_process_id`] does (`ERROR_NOT_FOUND` on a server with no client,
    /// `ERROR_PIPE_NOT_CONNECTED` on a detached client).
    #[doc(alias = "GetNamedPipeClientSessionId")]
    pub fn client_session_id(&self) -> Result<u32> {
        self.client_process_id().map(|_| crate::sys::session_id())
    }

    /// GetNamedPipeServerSessionId: as [`PipeHandle::client_session_id`], failing as
    /// [`PipeHandle::server_process_id`] does (a server end always answers).
    #[doc(alias = "GetNamedPipeServerSessionId")]
    pub fn server_session_id(&self) -> Result<u32> {
        self.server_process_id().map(|_| crate::sys::session_id())
    }

    /// The handle's connection state (`FILE_PIPE_*_STATE`).
    pub fn state(&self) -> PipeState {
        match &self.inner.kind {
            Kind::Client(l) => link_state(&l.conn),
            Kind::Remote(_) => PipeState::Connected,
            Kind::Server(s) => {
                let mut s = lock(s);
                let _ = poll_channel(&mut s, Some(Duration::ZERO));
                match &s.link {
                    ServerLink::Listening => PipeState::Listening,
                    ServerLink::Disconnected => PipeState::Disconnected,
                    ServerLink::Connected(l) => link_state(&l.conn),
                }
            }
        }
    }

    /// ReadDataAvailable: unread bytes waiting for this end.
    #[doc(alias = "PeekNamedPipe")]
    pub fn available(&self) -> u64 {
        self.link(Win32Error::SUCCESS, Win32Error::SUCCESS)
            .map(|l| l.conn.available())
            .unwrap_or(0)
    }
}

pub(super) fn link_state(c: &Conn) -> PipeState {
    match c.state() {
        LinkState::Connected => PipeState::Connected,
        LinkState::Closing => PipeState::Closing,
        LinkState::Disconnected => PipeState::Disconnected,
    }
}
