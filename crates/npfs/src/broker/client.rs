//! [`BrokerConn`]: client operations.

use std::time::{Duration, Instant};

use npfs_core::config::CreateParams;
use npfs_core::name::PipeName;
use npfs_core::namespace::PipeDetail;
use npfs_proto::broker::{CreateRequest, RemoteClient, Reply, Request};

use super::socket::{FrameSocket, BROKER_DEADLINE, WAIT_MARGIN};
use super::{
    autostart, fds_from, protocol_error, BrokerConfig, BrokerError, ConnFds, ConnInfo, CreatedInfo,
    InstanceChannel, PipeSummary, WaitTimeout,
};

/// Options of [`BrokerConn::open_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Open on behalf of a remote client (a bridge running as root only; anyone else gets
    /// `ERROR_ACCESS_DENIED`).
    pub remote: Option<RemoteClient>,
    /// The SQOS bits of CreateFile's `dwFlagsAndAttributes` (`SECURITY_SQOS_PRESENT`, the
    /// impersonation level, `SECURITY_CONTEXT_TRACKING`, `SECURITY_EFFECTIVE_ONLY`), passed
    /// to the server ([`super::ClientCredentials::security`]); 0 when none.
    pub sqos: u32,
    /// With `remote`: the remote client's computer name, for the server's
    /// GetNamedPipeClientComputerName ([`super::ClientSecurity::computer_name`]); empty for
    /// none.
    pub computer_name: String,
}

/// What [`BrokerConn::open_with`] returns.
#[derive(Debug)]
pub struct OpenedInfo {
    /// The client's end of the connection.
    pub fds: ConnFds,
    /// About the connection.
    pub info: ConnInfo,
    /// The access the client handle holds: the desired access with generic rights mapped
    /// (0 from a broker that does not report it).
    pub granted_access: u32,
}

/// One connection to the broker for client operations, auto-starting the broker.
///
/// Requests are answered in order, one at a time. Holding the connection keeps the broker
/// from exiting when idle: drop it when done.
///
/// # Deadlines
///
/// No call waits for the broker without a bound: connecting, sending a request and each
/// reply frame have 5 s each; [`BrokerConn::wait`] has its time-out plus 5 s
/// (`NMPWAIT_USE_DEFAULT_WAIT`: the longest `nDefaultTimeOut`, `u32::MAX` ms, plus 5 s;
/// `NMPWAIT_WAIT_FOREVER`: no bound, as on Windows). A call whose deadline passes fails with
/// [`BrokerError::Io`] of kind `TimedOut` — `ERROR_NO_SYSTEM_RESOURCES` (1450) at the Win32
/// API, as for every broker that cannot be reached — and the next call uses a new
/// connection. A broker at its connection caps answers `ERROR_NO_SYSTEM_RESOURCES` as a
/// [`BrokerError::Win32`].
#[derive(Debug)]
pub struct BrokerConn {
    cfg: BrokerConfig,
    /// `None` after a failure left the connection in an unknown state: the next call
    /// connects again.
    sock: Option<FrameSocket>,
}

impl BrokerConn {
    /// Connect to the broker of [`BrokerConfig::from_env`]; if none answers, start one and
    /// retry with backoff for up to about 5 s.
    ///
    /// # Errors
    ///
    /// [`BrokerError::Io`] when no broker can be reached or started.
    pub fn connect() -> Result<BrokerConn, BrokerError> {
        BrokerConn::connect_with(&BrokerConfig::from_env()?)
    }

    /// [`BrokerConn::connect`] with an explicit configuration.
    ///
    /// # Errors
    ///
    /// As [`BrokerConn::connect`].
    pub fn connect_with(cfg: &BrokerConfig) -> Result<BrokerConn, BrokerError> {
        let stream = autostart::connect(cfg)?;
        Ok(BrokerConn {
            cfg: cfg.clone(),
            sock: Some(FrameSocket::new(stream)),
        })
    }

    /// CreateFile on a pipe name: connect to the instance that has been listening longest.
    ///
    /// # Errors
    ///
    /// `ERROR_FILE_NOT_FOUND` (no such pipe), `ERROR_PIPE_BUSY` (no instance listening),
    /// `ERROR_ACCESS_DENIED` (the access does not fit the pipe's direction).
    pub fn open(
        &mut self,
        name: &PipeName,
        desired_access: u32,
    ) -> Result<(ConnFds, ConnInfo), BrokerError> {
        let o = self.open_with(name, desired_access, &OpenOptions::default())?;
        Ok((o.fds, o.info))
    }

    /// CreateFile on a pipe name with SQOS flags or on behalf of a remote client, reporting
    /// the access the handle holds.
    ///
    /// The broker checks `desired_access` (generic rights mapped, `FILE_CREATE_PIPE_INSTANCE`
    /// left out) against the pipe's DACL for the caller's kernel credentials, then against
    /// the pipe's direction. Pass the access kernelbase's CreateFileW passes
    /// (`dwDesiredAccess | SYNCHRONIZE | FILE_READ_ATTRIBUTES`) to check exactly what Windows
    /// checks.
    ///
    /// # Errors
    ///
    /// As [`BrokerConn::open`]; `ERROR_ACCESS_DENIED` also when the DACL refuses the access,
    /// for a remote open of a `PIPE_REJECT_REMOTE_CLIENTS` pipe, and for a remote open asked
    /// by a peer that is not root.
    pub fn open_with(
        &mut self,
        name: &PipeName,
        desired_access: u32,
        opts: &OpenOptions,
    ) -> Result<OpenedInfo, BrokerError> {
        let req = Request::Open {
            name: name.full(),
            desired_access,
            remote: opts.remote.clone(),
            sqos: opts.sqos,
            computer_name: opts.computer_name.clone(),
        };
        let (reply, fds) = self.call(&req)?;
        match reply {
            Reply::Opened {
                conn_id,
                instance_id,
                attrs,
                server_pid,
                client_pid,
                epoch: _,
                granted_access,
            } => Ok(OpenedInfo {
                fds: fds_from(fds)?,
                info: ConnInfo {
                    conn_id,
                    attrs,
                    server_pid,
                    client_pid,
                    instance_id,
                    client_access: granted_access,
                },
                granted_access,
            }),
            other => Err(unexpected(other)),
        }
    }

    /// GetSecurityInfo by name: the parts `info` (`OWNER_SECURITY_INFORMATION`, ...) of the
    /// pipe's descriptor, as SDDL (SIDs, never names). The caller's own kernel credentials
    /// need `READ_CONTROL` in the DACL (`ACCESS_SYSTEM_SECURITY`, i.e. root, for the SACL),
    /// as if it opened the pipe for that access.
    ///
    /// # Errors
    ///
    /// `ERROR_FILE_NOT_FOUND` (no such pipe, also once its last instance closed),
    /// `ERROR_ACCESS_DENIED`, `ERROR_INVALID_PARAMETER` (bad `info`), `ERROR_BAD_NETPATH`.
    pub fn get_security(&mut self, name: &PipeName, info: u32) -> Result<String, BrokerError> {
        let req = Request::GetSecurity {
            name: Some(name.full()),
            info,
        };
        match self.call(&req)?.0 {
            Reply::Security { sddl } => Ok(sddl),
            other => Err(unexpected(other)),
        }
    }

    /// SetSecurityInfo by name: replace the parts `info` of the pipe's descriptor by those of
    /// `sddl` (user and group names are resolved by the broker). The caller's kernel
    /// credentials need `WRITE_OWNER` (owner, group), `WRITE_DAC` (DACL) in the DACL — the
    /// owner always holds `WRITE_DAC` unless an `OW` ACE says otherwise. Every instance and
    /// later open sees the change at once.
    ///
    /// # Errors
    ///
    /// `ERROR_FILE_NOT_FOUND`, `ERROR_ACCESS_DENIED`, `ERROR_INVALID_PARAMETER` (bad `info`
    /// or SDDL), `ERROR_INVALID_OWNER` (1307: an owner the caller may not give).
    pub fn set_security(
        &mut self,
        name: &PipeName,
        info: u32,
        sddl: &str,
    ) -> Result<(), BrokerError> {
        let req = Request::SetSecurity {
            name: Some(name.full()),
            info,
            sddl: sddl.to_owned(),
        };
        match self.call(&req)?.0 {
            Reply::SecuritySet => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// WaitNamedPipe: returns when an instance of the pipe listens.
    ///
    /// The broker's answer may take the time-out plus 5 s (see [Deadlines](BrokerConn#deadlines)).
    ///
    /// # Errors
    ///
    /// `ERROR_FILE_NOT_FOUND` at once when the pipe does not exist, `ERROR_SEM_TIMEOUT` when
    /// the time-out passes; [`BrokerError::Io`] (`TimedOut`) when the broker did not answer
    /// within the time-out and the margin.
    pub fn wait(&mut self, name: &PipeName, timeout: WaitTimeout) -> Result<(), BrokerError> {
        let req = Request::Wait {
            name: name.full(),
            timeout,
        };
        match self.call(&req)?.0 {
            Reply::WaitDone => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Number of instances of the pipe (GetNamedPipeHandleState's `lpCurInstances`); 0 when
    /// the pipe does not exist (any more), as a client whose server closed sees it.
    ///
    /// # Errors
    ///
    /// `ERROR_BAD_NETPATH` for a remote name; [`BrokerError::Io`] only otherwise.
    pub fn instance_count(&mut self, name: &PipeName) -> Result<u32, BrokerError> {
        let req = Request::InstanceCount { name: name.full() };
        match self.call(&req)?.0 {
            Reply::Count(n) => Ok(n),
            other => Err(unexpected(other)),
        }
    }

    /// Every pipe of the broker, sorted by name.
    ///
    /// # Errors
    ///
    /// [`BrokerError::Io`] only.
    pub fn list(&mut self) -> Result<Vec<PipeSummary>, BrokerError> {
        let mut out = Vec::new();
        let (mut reply, _) = self.call(&Request::List)?;
        loop {
            match reply {
                Reply::PipeList { more, pipes } => {
                    out.extend(pipes);
                    if !more {
                        return Ok(out);
                    }
                }
                other => return Err(unexpected(other)),
            }
            reply = self.recv()?.0;
        }
    }

    /// The details of one pipe: its summary, whether it rejects remote clients, and the
    /// state, server and client of each instance (`npfs info`).
    ///
    /// # Errors
    ///
    /// `ERROR_FILE_NOT_FOUND` when the pipe does not exist, `ERROR_INVALID_NAME` /
    /// `ERROR_BAD_NETPATH` for a name the broker cannot serve; [`BrokerError::Io`] otherwise.
    pub fn describe(&mut self, name: &PipeName) -> Result<PipeDetail, BrokerError> {
        let mut all = self.describe_request(Some(name.full()))?;
        match (all.pop(), all.is_empty()) {
            (Some(d), true) => Ok(d),
            _ => Err(BrokerError::Io(protocol_error(
                "describe: not exactly one pipe",
            ))),
        }
    }

    /// [`BrokerConn::describe`] for every pipe of the broker, sorted by name (`npfs list`).
    ///
    /// # Errors
    ///
    /// [`BrokerError::Io`] only.
    pub fn describe_all(&mut self) -> Result<Vec<PipeDetail>, BrokerError> {
        self.describe_request(None)
    }

    fn describe_request(&mut self, name: Option<String>) -> Result<Vec<PipeDetail>, BrokerError> {
        let mut out = Vec::new();
        let (mut reply, _) = self.call(&Request::Describe { name })?;
        loop {
            match reply {
                Reply::PipeDetails { more, pipes } => {
                    out.extend(pipes);
                    if !more {
                        return Ok(out);
                    }
                }
                other => return Err(unexpected(other)),
            }
            reply = self.recv()?.0;
        }
    }

    /// CreateNamedPipe over this connection, which stays one for requests: the new
    /// instance's control channel comes with the broker's reply (a socket pair it made), so
    /// no connection is made per instance. Errors as [`InstanceChannel::create_secure`]; a
    /// broker that does not know the request drops the connection
    /// ([`BrokerError::Io`]).
    #[doc(alias = "CreateNamedPipe")]
    pub fn create_instance(
        &mut self,
        name: &PipeName,
        params: &CreateParams,
        sddl: Option<&str>,
    ) -> Result<(InstanceChannel, CreatedInfo), BrokerError> {
        let req = Request::CreateDetached(CreateRequest {
            name: name.full(),
            params: *params,
            sddl: sddl.map(str::to_owned),
        });
        let (reply, mut fds) = self.call(&req)?;
        match reply {
            Reply::CreatedChannel {
                instance_id,
                attrs,
                already_existed,
            } => {
                let fd = fds
                    .pop()
                    .ok_or_else(|| protocol_error("no control channel"))?;
                let sock = FrameSocket::new(std::os::unix::net::UnixStream::from(fd));
                let info = CreatedInfo {
                    instance_id,
                    attrs,
                    already_existed,
                };
                Ok(InstanceChannel::over(
                    self.cfg.clone(),
                    name,
                    params,
                    sddl,
                    sock,
                    &info,
                ))
            }
            other => Err(unexpected(other)),
        }
    }

    /// Send one request and read its reply (within its deadline, [`reply_deadline`]); an
    /// error reply becomes [`BrokerError::Win32`]. If the broker went away (idle exit, crash)
    /// before answering, reconnect — starting a new broker — and try again, a few times; a
    /// broker that refused the connection with an error frame is not asked again.
    fn call(&mut self, req: &Request) -> Result<(Reply, Vec<std::os::fd::OwnedFd>), BrokerError> {
        let mut attempt = 0;
        let (reply, fds) = loop {
            let sock = self.sock()?;
            let result = sock
                .send(req)
                .and_then(|()| sock.recv_reply(reply_deadline(req)));
            match result {
                Ok(r) => break r,
                Err(e) if is_gone(&e) => {
                    if let Some(code) = sock.parting_error() {
                        self.sock = None;
                        return Err(code.into());
                    }
                    if attempt >= RETRIES {
                        self.sock = None;
                        return Err(e.into());
                    }
                    attempt += 1;
                    self.sock = Some(FrameSocket::new(autostart::connect(&self.cfg)?));
                }
                Err(e) => {
                    // Timed out or garbled: a late reply must not answer the next request.
                    self.sock = None;
                    return Err(e.into());
                }
            }
        };
        match reply {
            Reply::Error(e) => Err(e.into()),
            r => Ok((r, fds)),
        }
    }

    /// The connection, made again if a failure dropped it.
    fn sock(&mut self) -> Result<&mut FrameSocket, BrokerError> {
        let sock = match self.sock.take() {
            Some(s) => s,
            None => FrameSocket::new(autostart::connect(&self.cfg)?),
        };
        Ok(self.sock.insert(sock))
    }

    /// The next frame of a multi-frame reply, within [`BROKER_DEADLINE`].
    fn recv(&mut self) -> Result<(Reply, Vec<std::os::fd::OwnedFd>), BrokerError> {
        let deadline = Some(Instant::now() + BROKER_DEADLINE);
        let sock = self
            .sock
            .as_mut()
            .ok_or_else(|| protocol_error("no reply"))?;
        sock.recv_reply(deadline).map_err(|e| {
            self.sock = None;
            e.into()
        })
    }
}

/// How long the reply to `req` may take: [`BROKER_DEADLINE`], but a wait's time-out plus
/// [`WAIT_MARGIN`] for WaitNamedPipe (`None`: a wait without a time-out).
pub(crate) fn reply_deadline(req: &Request) -> Option<Instant> {
    let bound = match req {
        Request::Wait { timeout, .. } => match timeout {
            WaitTimeout::Millis(ms) => Duration::from_millis((*ms).into()) + WAIT_MARGIN,
            WaitTimeout::Default => Duration::from_millis(u32::MAX.into()) + WAIT_MARGIN,
            WaitTimeout::Forever => return None,
        },
        _ => BROKER_DEADLINE,
    };
    Instant::now().checked_add(bound)
}

/// How many times a request is sent again to a new broker when the old one vanished.
pub(crate) const RETRIES: u32 = 3;

/// The broker connection ended (as opposed to a protocol error).
pub(crate) fn is_gone(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::UnexpectedEof | K::BrokenPipe | K::ConnectionReset | K::ConnectionAborted
    )
}

pub(crate) fn unexpected(reply: Reply) -> BrokerError {
    BrokerError::Io(protocol_error(&format!("unexpected reply {reply:?}")))
}
