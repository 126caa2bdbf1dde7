//! [`InstanceChannel`]: the control channel of one server instance.

use std::collections::VecDeque;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use npfs_core::config::{CreateParams, PipeAttributes};
use npfs_core::name::PipeName;
use npfs_core::namespace::server_desired_access;
use npfs_core::security::STANDARD_SECURITY_INFORMATION;
use npfs_proto::broker::{ClientSecurity, CreateRequest, Reply, Request};

use super::client::{is_gone, unexpected, RETRIES};
use super::socket::{FrameSocket, BROKER_DEADLINE};
use super::{autostart, fds_from, BrokerConfig, BrokerError, ConnFds, ConnInfo, InstanceState};

/// What [`InstanceChannel::create`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreatedInfo {
    /// The instance, as numbered by the broker.
    pub instance_id: u64,
    /// The pipe's effective attributes (the first instance's).
    pub attrs: PipeAttributes,
    /// Other instances already existed: CreateNamedPipe sets `ERROR_ALREADY_EXISTS`.
    pub already_existed: bool,
}

/// Something that happened to an instance.
#[derive(Debug)]
#[non_exhaustive]
pub enum ChannelEvent {
    /// A client opened the instance (possibly before ConnectNamedPipe was called).
    Connected {
        /// The server's end of the connection.
        fds: ConnFds,
        /// About the connection.
        info: ConnInfo,
        /// The listen epoch the client connected in.
        epoch: u64,
    },
    /// The broker went away (crash, kill). The instance's connections stay valid; call
    /// [`InstanceChannel::reregister`] to publish the instance again.
    BrokerGone,
}

/// Who a connected client is, as the broker knows it from the kernel (or from the privileged
/// bridge that opened on a remote client's behalf): for ImpersonateNamedPipeClient and
/// GetNamedPipeHandleState's user name. See [`InstanceChannel::client_credentials`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// The connection ([`ConnInfo::conn_id`]).
    pub conn_id: u64,
    /// The client's process id (the bridge's for a remote client).
    pub pid: u32,
    /// The client's user id (65534 for an anonymous remote client).
    pub uid: u32,
    /// Primary group, supplementary groups, remote and anonymous flags, SQOS bits (all
    /// default from a broker that does not send them).
    pub security: ClientSecurity,
}

/// How many clients' credentials an [`InstanceChannel`] remembers.
const CREDENTIALS_KEPT: usize = 16;

/// How long dropping an [`InstanceChannel`] waits for the broker to confirm the close.
const CLOSE_DEADLINE: Duration = Duration::from_secs(1);

/// The control channel of one server instance. Dropping it closes the instance, synchronously
/// as CloseHandle on Windows: the drop tells the broker ([`Request::Close`]) and waits (at
/// most about a second) for its answer, so an open issued after the drop returned is never
/// paired with this instance. A client connection that raced in just before is hung up on.
///
/// # Deadlines
///
/// Creating (connect, request, reply) and every control request (listen, disconnect,
/// security) wait at most 5 s for each step; one that passes its deadline fails with
/// [`BrokerError::Io`] of kind `TimedOut` (`ERROR_NO_SYSTEM_RESOURCES`, 1450, at the Win32
/// API). A control channel whose request timed out is closed (the broker then drops the
/// instance) and reports [`ChannelEvent::BrokerGone`], so the instance is registered again
/// over a new connection. Events ([`InstanceChannel::poll_event`]) wait as long as the caller
/// says: they are clients arriving, not replies.
#[derive(Debug)]
pub struct InstanceChannel {
    cfg: BrokerConfig,
    name: PipeName,
    attrs: PipeAttributes,
    instance_id: u64,
    sock: FrameSocket,
    events: VecDeque<ChannelEvent>,
    gone: bool,
    /// Credentials of the latest clients, newest last.
    clients: VecDeque<ClientCredentials>,
    /// The pipe's descriptor as this instance last knew it (for reregistration).
    sddl: Option<String>,
    /// `PIPE_REJECT_REMOTE_CLIENTS` and the access asked for (for reregistration).
    reject_remote: bool,
    desired_access: u32,
}

impl InstanceChannel {
    /// CreateNamedPipe: create an instance (LISTENING) of `name` with the broker of
    /// [`BrokerConfig::from_env`], starting the broker if needed.
    ///
    /// # Errors
    ///
    /// `ERROR_PIPE_BUSY` (instance limit reached), `ERROR_ACCESS_DENIED`
    /// (FILE_FLAG_FIRST_PIPE_INSTANCE and the pipe exists, or another direction),
    /// `ERROR_INVALID_NAME`; [`BrokerError::Io`] when no broker can be reached.
    pub fn create(
        name: &PipeName,
        params: &CreateParams,
    ) -> Result<(InstanceChannel, CreatedInfo), BrokerError> {
        InstanceChannel::create_secure(name, params, None)
    }

    /// [`InstanceChannel::create`] with an explicit configuration.
    ///
    /// # Errors
    ///
    /// As [`InstanceChannel::create`].
    pub fn create_with(
        cfg: &BrokerConfig,
        name: &PipeName,
        params: &CreateParams,
    ) -> Result<(InstanceChannel, CreatedInfo), BrokerError> {
        InstanceChannel::create_secure_with(cfg, name, params, None)
    }

    /// CreateNamedPipe with `lpSecurityAttributes`' descriptor as SDDL (`None`: the default
    /// descriptor — full control for LocalSystem, Administrators and the creator, read for
    /// Everyone and Anonymous), with the broker of [`BrokerConfig::from_env`].
    ///
    /// The descriptor applies to the whole pipe: it is taken when this call creates the pipe
    /// (`CO` / `CG` become the caller's user and primary group, an absent owner or group is
    /// the caller's); user and group names are resolved by the broker.
    ///
    /// # Errors
    ///
    /// As [`InstanceChannel::create`], and `ERROR_ACCESS_DENIED` when the pipe exists and
    /// either its DACL does not grant the caller `FILE_CREATE_PIPE_INSTANCE` (plus the
    /// instance's access) or `sddl` is `Some` (an additional instance may not bring its own
    /// descriptor); `ERROR_INVALID_PARAMETER` for malformed SDDL or unknown names;
    /// `ERROR_INVALID_OWNER` (1307) for an owner the caller may not give.
    pub fn create_secure(
        name: &PipeName,
        params: &CreateParams,
        sddl: Option<&str>,
    ) -> Result<(InstanceChannel, CreatedInfo), BrokerError> {
        // Over one of this process's kept broker connections, the channel coming with the
        // reply: no connect and no accept per instance. A broker too old to know the request
        // drops the connection: then the classic way, a connection that becomes the channel.
        match super::with_kept(|b| b.create_instance(name, params, sddl)) {
            Ok(created) => Ok(created),
            Err(BrokerError::Io(_)) => {
                InstanceChannel::create_secure_with(&BrokerConfig::from_env()?, name, params, sddl)
            }
            Err(e) => Err(e),
        }
    }

    /// The channel of a new instance `info` over `sock`.
    pub(super) fn over(
        cfg: BrokerConfig,
        name: &PipeName,
        params: &CreateParams,
        sddl: Option<&str>,
        sock: FrameSocket,
        info: &CreatedInfo,
    ) -> (InstanceChannel, CreatedInfo) {
        let chan = InstanceChannel {
            cfg,
            name: name.clone(),
            attrs: info.attrs,
            instance_id: info.instance_id,
            sock,
            events: VecDeque::new(),
            gone: false,
            clients: VecDeque::new(),
            sddl: sddl.map(str::to_owned),
            reject_remote: params.options.reject_remote,
            desired_access: server_desired_access(params),
        };
        (chan, *info)
    }

    /// [`InstanceChannel::create_secure`] with an explicit configuration.
    ///
    /// # Errors
    ///
    /// As [`InstanceChannel::create_secure`].
    pub fn create_secure_with(
        cfg: &BrokerConfig,
        name: &PipeName,
        params: &CreateParams,
        sddl: Option<&str>,
    ) -> Result<(InstanceChannel, CreatedInfo), BrokerError> {
        let req = Request::Create(CreateRequest {
            name: name.full(),
            params: *params,
            sddl: sddl.map(str::to_owned),
        });
        let (sock, info) = register(cfg, &req)?;
        Ok(InstanceChannel::over(
            cfg.clone(),
            name,
            params,
            sddl,
            sock,
            &info,
        ))
    }

    /// GetSecurityInfo on the server handle: the parts `info` of the pipe's descriptor, as
    /// SDDL. A server handle always holds `READ_CONTROL`; the SACL needs
    /// `ACCESS_SYSTEM_SECURITY` in the open mode (and root).
    ///
    /// # Errors
    ///
    /// `ERROR_INVALID_PARAMETER` (bad `info`), `ERROR_ACCESS_DENIED`; [`BrokerError::Io`]
    /// when the broker is gone.
    pub fn get_security(&mut self, info: u32) -> Result<String, BrokerError> {
        match self.call(&Request::GetSecurity { name: None, info })? {
            Reply::Security { sddl } => Ok(sddl),
            other => Err(unexpected(other)),
        }
    }

    /// SetSecurityInfo on the server handle: replace the parts `info` of the pipe's
    /// descriptor (shared by every instance) by those of `sddl`. The handle must hold
    /// `WRITE_OWNER` (owner, group) / `WRITE_DAC` (DACL): CreateNamedPipe's open mode asks
    /// for them.
    ///
    /// # Errors
    ///
    /// `ERROR_ACCESS_DENIED`, `ERROR_INVALID_PARAMETER`, `ERROR_INVALID_OWNER` (1307);
    /// [`BrokerError::Io`] when the broker is gone.
    pub fn set_security(&mut self, info: u32, sddl: &str) -> Result<(), BrokerError> {
        let req = Request::SetSecurity {
            name: None,
            info,
            sddl: sddl.to_owned(),
        };
        match self.call(&req)? {
            Reply::SecuritySet => {}
            other => return Err(unexpected(other)),
        }
        // Remember the whole descriptor for a reregistration.
        if let Ok(sd) = self.get_security(STANDARD_SECURITY_INFORMATION) {
            self.sddl = Some(sd);
        }
        Ok(())
    }

    /// The credentials of the client of connection `conn_id` (from
    /// [`ChannelEvent::Connected`]'s [`ConnInfo::conn_id`]); the latest few are kept.
    pub fn client_credentials(&self, conn_id: u64) -> Option<&ClientCredentials> {
        self.clients.iter().rev().find(|c| c.conn_id == conn_id)
    }

    /// The instance id given by the current broker.
    pub fn instance_id(&self) -> u64 {
        self.instance_id
    }

    /// The pipe's attributes.
    pub fn attrs(&self) -> PipeAttributes {
        self.attrs
    }

    /// ConnectNamedPipe as the broker sees it: a DISCONNECTED instance goes back to
    /// LISTENING (new epoch, wakes WaitNamedPipe waiters); a LISTENING one stays. Returns the
    /// current epoch. Connected events that arrive meanwhile are kept for
    /// [`InstanceChannel::poll_event`].
    ///
    /// # Errors
    ///
    /// `ERROR_PIPE_CONNECTED` when a client is connected (its event is, or will be, queued);
    /// [`BrokerError::Io`] when the broker is gone.
    pub fn listen(&mut self) -> Result<u64, BrokerError> {
        match self.call(&Request::Listen)? {
            Reply::Listening { epoch } => Ok(epoch),
            other => Err(unexpected(other)),
        }
    }

    /// DisconnectNamedPipe as the broker sees it: the instance leaves LISTENING/CONNECTED
    /// for DISCONNECTED if `epoch` is current (a stale epoch is ignored).
    ///
    /// # Errors
    ///
    /// [`BrokerError::Io`] when the broker is gone.
    pub fn disconnect(&mut self, epoch: u64) -> Result<(), BrokerError> {
        match self.call(&Request::Disconnect { epoch })? {
            Reply::Disconnected { .. } => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// The next event: `None` blocks, `Some(Duration::ZERO)` only checks. `Ok(None)` when
    /// the time-out passed. After the broker went away every call reports
    /// [`ChannelEvent::BrokerGone`] until [`InstanceChannel::reregister`].
    ///
    /// # Errors
    ///
    /// [`BrokerError::Io`] when the broker broke the protocol.
    pub fn poll_event(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<ChannelEvent>, BrokerError> {
        if let Some(ev) = self.events.pop_front() {
            return Ok(Some(ev));
        }
        if self.gone {
            return Ok(Some(ChannelEvent::BrokerGone));
        }
        match self.sock.recv(timeout) {
            Ok(None) => Ok(None),
            Ok(Some((reply, fds))) => match self.event_of(reply, fds)? {
                Ok(ev) => Ok(Some(ev)),
                Err(other) => Err(unexpected(other)),
            },
            Err(e) if is_gone(&e) => {
                self.gone = true;
                Ok(Some(ChannelEvent::BrokerGone))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The channel's socket, for a watcher thread's epoll (readable: an event; HUP: the
    /// broker is gone).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    /// After [`ChannelEvent::BrokerGone`]: connect to a broker (starting one) and register
    /// the instance again with its `state` and listen `epoch`. The instance id changes (see
    /// [`InstanceChannel::instance_id`]).
    ///
    /// # Errors
    ///
    /// `ERROR_ACCESS_DENIED` when another pipe of that name with another direction was
    /// created meanwhile; [`BrokerError::Io`] when no broker can be reached.
    pub fn reregister(&mut self, state: InstanceState, epoch: u64) -> Result<(), BrokerError> {
        let req = Request::Reregister {
            name: self.name.full(),
            attrs: self.attrs,
            state,
            epoch,
            sddl: self.sddl.clone(),
            reject_remote: self.reject_remote,
            desired_access: self.desired_access,
        };
        let (sock, info) = register(&self.cfg, &req)?;
        self.sock = sock;
        self.instance_id = info.instance_id;
        self.gone = false;
        Ok(())
    }

    /// Send a control request and wait for its answer (at most [`BROKER_DEADLINE`]),
    /// queueing pushed events.
    fn call(&mut self, req: &Request) -> Result<Reply, BrokerError> {
        if self.gone {
            return Err(gone_error());
        }
        let deadline = Instant::now() + BROKER_DEADLINE;
        let result = self.sock.send(req).and_then(|()| loop {
            let (reply, fds) = self.sock.recv_reply(Some(deadline))?;
            match self.event_of(reply, fds)? {
                Ok(ev) => self.events.push_back(ev),
                Err(reply) => break Ok(reply),
            }
        });
        match result {
            Ok(Reply::Error(e)) => Err(e.into()),
            Ok(r) => Ok(r),
            Err(e) => {
                if is_gone(&e) {
                    self.gone = true;
                } else if e.kind() == std::io::ErrorKind::TimedOut {
                    // The answer may still come, and would be taken for the next one's: close
                    // the channel (the broker drops the instance) and register it again.
                    tracing::warn!(instance = self.instance_id, "{e}; registering again");
                    self.sock.shutdown();
                    self.gone = true;
                }
                Err(e.into())
            }
        }
    }
}

impl Drop for InstanceChannel {
    fn drop(&mut self) {
        if self.gone {
            return;
        }
        let deadline = Instant::now() + CLOSE_DEADLINE;
        if self.sock.set_write_timeout(Some(CLOSE_DEADLINE)).is_err()
            || self.sock.send(&Request::Close).is_err()
        {
            return;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::debug!(
                    instance = self.instance_id,
                    "broker did not confirm the close in time"
                );
                return;
            }
            match self.sock.recv(Some(left)) {
                Ok(Some((Reply::Closed, _))) => return,
                // A connection pushed before the close: its descriptors close here and its
                // client sees the hang-up.
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return,
            }
        }
    }
}

/// Connect (starting the broker) and send a Create or Reregister, each step within
/// [`BROKER_DEADLINE`]. A broker that vanishes before answering (it was exiting, or was
/// killed and its socket still accepted) is replaced: connect again, a few times. A timed
/// out registration drops its connection, so an instance the broker created late goes away
/// with it.
fn register(cfg: &BrokerConfig, req: &Request) -> Result<(FrameSocket, CreatedInfo), BrokerError> {
    let mut attempt = 0;
    let (sock, reply) = loop {
        let mut sock = FrameSocket::new(autostart::connect(cfg)?);
        let reply = sock
            .send(req)
            .and_then(|()| sock.recv_reply(Some(Instant::now() + BROKER_DEADLINE)));
        match reply {
            Ok((reply, _)) => break (sock, reply),
            Err(e) if is_gone(&e) => {
                // A broker at its caps says so, then closes.
                if let Some(code) = sock.parting_error() {
                    return Err(code.into());
                }
                if attempt >= RETRIES {
                    return Err(e.into());
                }
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    };
    match reply {
        Reply::Created {
            instance_id,
            attrs,
            already_existed,
        } => Ok((
            sock,
            CreatedInfo {
                instance_id,
                attrs,
                already_existed,
            },
        )),
        Reply::Error(e) => Err(e.into()),
        other => Err(unexpected(other)),
    }
}

impl InstanceChannel {
    /// A pushed event (its client's credentials remembered), or (as `Err`) the reply it is
    /// not.
    fn event_of(
        &mut self,
        reply: Reply,
        fds: Vec<OwnedFd>,
    ) -> std::io::Result<Result<ChannelEvent, Reply>> {
        if let Reply::Connected {
            conn_id,
            client_pid,
            client_uid,
            client,
            ..
        } = &reply
        {
            if self.clients.len() >= CREDENTIALS_KEPT {
                self.clients.pop_front();
            }
            self.clients.push_back(ClientCredentials {
                conn_id: *conn_id,
                pid: *client_pid,
                uid: *client_uid,
                security: client.clone(),
            });
        }
        event_of(reply, fds, self.instance_id)
    }
}

/// A pushed event, or (as `Err`) the reply it is not.
fn event_of(
    reply: Reply,
    fds: Vec<OwnedFd>,
    instance_id: u64,
) -> std::io::Result<Result<ChannelEvent, Reply>> {
    match reply {
        Reply::Connected {
            conn_id,
            epoch,
            attrs,
            server_pid,
            client_pid,
            client,
            ..
        } => Ok(Ok(ChannelEvent::Connected {
            fds: fds_from(fds)?,
            info: ConnInfo {
                conn_id,
                attrs,
                server_pid,
                client_pid,
                instance_id,
                client_access: client.granted_access,
            },
            epoch,
        })),
        other => Ok(Err(other)),
    }
}

fn gone_error() -> BrokerError {
    BrokerError::Io(std::io::Error::new(
        std::io::ErrorKind::BrokenPipe,
        "the broker is gone; reregister the instance",
    ))
}
