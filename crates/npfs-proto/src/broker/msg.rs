//! The messages: [`Request`] (client → broker) and [`Reply`] (broker → client).

use npfs_core::config::{
    CreateParams, Direction, InstanceOptions, PipeAttributes, PipeType, ReadMode,
};
use npfs_core::consts::PIPE_UNLIMITED_INSTANCES;
use npfs_core::namespace::{
    Identity, InstanceInfo, InstanceState, PipeDetail, PipeSummary, WaitTimeout,
};
use npfs_core::Win32Error;

use super::codec::{Reader, Writer};
use super::frame::{encode_frame, Frame};
use super::ProtoError;

/// CreateNamedPipe as sent to the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// The full pipe name as given (`\\.\pipe\NAME`); the broker parses and folds it.
    pub name: String,
    /// The decoded arguments.
    pub params: CreateParams,
    /// The security descriptor of `lpSecurityAttributes`, as SDDL (user and group names are
    /// resolved by the broker); `None` for the default descriptor. Refused with
    /// `ERROR_ACCESS_DENIED` when the pipe already exists. Optional trailing field.
    pub sddl: Option<String>,
}

/// Most supplementary groups carried in one frame ([`RemoteClient::User`],
/// [`ClientSecurity::groups`]).
pub const MAX_WIRE_GROUPS: usize = 4096;

/// Longest remote computer name a bridge may give ([`Request::Open`]), in bytes.
pub const MAX_COMPUTER_NAME: usize = 255;

/// Who a remote client is, as a privileged peer (root: a future SMB bridge) vouches for it
/// in [`Request::Open`]. Any other peer setting it gets `ERROR_ACCESS_DENIED`: identities
/// come from the kernel, never from messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteClient {
    /// An unauthenticated (null session) client: Anonymous, Everyone, Network.
    Anonymous,
    /// An authenticated remote user, mapped to these Unix credentials; its token holds
    /// Network (`NU`) instead of Interactive (`IU`).
    User {
        /// User id.
        uid: u32,
        /// Primary group id.
        gid: u32,
        /// Supplementary groups (at most [`MAX_WIRE_GROUPS`]).
        groups: Vec<u32>,
    },
}

/// The credentials of a connected client, pushed to the server with [`Reply::Connected`]
/// (for ImpersonateNamedPipeClient and GetNamedPipeHandleState's user name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientSecurity {
    /// Primary group id (65534 for an anonymous remote client).
    pub gid: u32,
    /// Supplementary groups (the kernel's, at most [`MAX_WIRE_GROUPS`]).
    pub groups: Vec<u32>,
    /// The client is remote (opened through a privileged bridge).
    pub remote: bool,
    /// The client is an anonymous remote one (uid and gid are then 65534, "nobody").
    pub anonymous: bool,
    /// The SQOS bits of the client's CreateFile `dwFlagsAndAttributes`
    /// (`SECURITY_SQOS_PRESENT | level << 16 | CONTEXT_TRACKING | EFFECTIVE_ONLY`), 0 when
    /// none were given; the broker passes them through.
    pub sqos: u32,
    /// The access the client's handle holds (generic rights mapped); 0 from a broker that
    /// does not say. The server's library reads nothing a client without
    /// `FILE_WRITE_DATA` could have written. Optional trailing field.
    pub granted_access: u32,
    /// A remote client's computer name as the bridge that opened for it reported it
    /// (through Samba: the SMB client's IP address), for GetNamedPipeClientComputerName;
    /// empty for a local client. Optional trailing field.
    pub computer_name: String,
}

/// A message from a client to the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// CreateNamedPipe. Answer: [`Reply::Created`]; the connection becomes the instance's
    /// control channel.
    Create(CreateRequest),
    /// CreateNamedPipe over a connection that stays a request connection. Answer:
    /// [`Reply::CreatedChannel`], which carries the instance's control channel (one end of a
    /// socket pair the broker made) as its one descriptor; an error as for
    /// [`Request::Create`]. Spares the library a new connection per instance.
    CreateDetached(CreateRequest),
    /// CreateFile on a pipe name. Answer: [`Reply::Opened`] with the client's descriptors.
    /// The access is checked against the pipe's DACL (generic rights mapped, minus
    /// `FILE_CREATE_PIPE_INSTANCE`) and the pipe's direction.
    Open {
        /// Full pipe name.
        name: String,
        /// CreateFile's `dwDesiredAccess`.
        desired_access: u32,
        /// A remote open on behalf of this client (privileged peers only). Optional trailing
        /// field.
        remote: Option<RemoteClient>,
        /// The SQOS bits of CreateFile's `dwFlagsAndAttributes`, passed to the server in
        /// [`ClientSecurity::sqos`]. Optional trailing field.
        sqos: u32,
        /// The remote client's computer name (with `remote` only; at most
        /// [`MAX_COMPUTER_NAME`] bytes), passed to the server in
        /// [`ClientSecurity::computer_name`]; empty for none. Optional trailing field.
        computer_name: String,
    },
    /// WaitNamedPipe. Answer: [`Reply::WaitDone`] or [`Reply::Error`], when the wait ends.
    Wait {
        /// Full pipe name.
        name: String,
        /// `nTimeOut`.
        timeout: WaitTimeout,
    },
    /// Number of instances of a pipe. Answer: [`Reply::Count`] (0 when no pipe of that name
    /// exists: the count a client still holding a handle sees after the last server closed).
    InstanceCount {
        /// Full pipe name.
        name: String,
    },
    /// Every pipe. Answer: one or more [`Reply::PipeList`] frames, the last with
    /// `more == false`.
    List,
    /// A live instance registering again after a broker restart. Answer: [`Reply::Created`];
    /// the connection becomes the instance's control channel.
    Reregister {
        /// Full pipe name.
        name: String,
        /// The pipe's attributes as the instance knows them.
        attrs: PipeAttributes,
        /// The instance's state.
        state: InstanceState,
        /// The instance's listen epoch.
        epoch: u64,
        /// The pipe's descriptor as the instance last knew it (SDDL; `None`: default).
        /// Optional trailing field, with the two next.
        sddl: Option<String>,
        /// `PIPE_REJECT_REMOTE_CLIENTS` of the pipe.
        reject_remote: bool,
        /// The access the instance asked for at creation (as kernelbase passes it; 0: the
        /// broker assumes `GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE`).
        desired_access: u32,
    },
    /// The details of one pipe (`Some(name)`: [`Reply::Error`] with `ERROR_FILE_NOT_FOUND`
    /// when it does not exist) or of every pipe (`None`): remote-client flag and the state,
    /// server and client of each instance. Answer: one or more [`Reply::PipeDetails`]
    /// frames, the last with `more == false`.
    Describe {
        /// Full pipe name, or `None` for every pipe.
        name: Option<String>,
    },
    /// Control channel: ConnectNamedPipe. Answer: [`Reply::Listening`] or [`Reply::Error`].
    Listen,
    /// Control channel: DisconnectNamedPipe for the given epoch. Answer:
    /// [`Reply::Disconnected`].
    Disconnect {
        /// The epoch the server disconnects.
        epoch: u64,
    },
    /// GetSecurityInfo: the parts `info` (SECURITY_INFORMATION bits) of a pipe's descriptor.
    /// On a fresh connection `name` is required and the caller's token needs `READ_CONTROL`
    /// (`ACCESS_SYSTEM_SECURITY` for the SACL) in the DACL; on a control channel `name` must
    /// be `None` and the instance's access is checked. Answer: [`Reply::Security`].
    GetSecurity {
        /// Full pipe name (fresh connection), or `None` (control channel: its pipe).
        name: Option<String>,
        /// SECURITY_INFORMATION.
        info: u32,
    },
    /// SetSecurityInfo: replace the parts `info` of a pipe's descriptor by those of `sddl`.
    /// Needs `WRITE_OWNER` (owner, group), `WRITE_DAC` (DACL), `ACCESS_SYSTEM_SECURITY`
    /// (SACL): in the DACL for the caller's token on a fresh connection (`name` required),
    /// in the instance's access on a control channel (`name` `None`). Answer:
    /// [`Reply::SecuritySet`].
    SetSecurity {
        /// Full pipe name (fresh connection), or `None` (control channel: its pipe).
        name: Option<String>,
        /// SECURITY_INFORMATION.
        info: u32,
        /// The new parts, as SDDL.
        sddl: String,
    },
    /// Control channel: CloseHandle of the server end. The broker removes the instance at
    /// once and answers [`Reply::Closed`]; a client opening after that answer can no longer
    /// be paired with the instance. A [`Reply::Connected`] pushed before the answer belongs
    /// to a client the server hangs up on by closing.
    Close,
}

/// A message from the broker to a client: an answer, or an event pushed on a control
/// channel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// The request failed with this Win32 code.
    Error(Win32Error),
    /// An instance was created (or reregistered).
    Created {
        /// The new instance.
        instance_id: u64,
        /// The pipe's effective attributes.
        attrs: PipeAttributes,
        /// Other instances already existed (`ERROR_ALREADY_EXISTS`).
        already_existed: bool,
    },
    /// An instance was created by [`Request::CreateDetached`]; carries its control channel
    /// (one descriptor: the library's end of a socket pair), from then on used exactly as a
    /// connection that [`Request::Create`] turned into a channel.
    CreatedChannel {
        /// The new instance.
        instance_id: u64,
        /// The pipe's effective attributes.
        attrs: PipeAttributes,
        /// Other instances already existed (`ERROR_ALREADY_EXISTS`).
        already_existed: bool,
    },
    /// The open succeeded; carries the client's socket end and shared-memory segment.
    Opened {
        /// Broker-unique id of the connection.
        conn_id: u64,
        /// The instance the client got.
        instance_id: u64,
        /// The pipe's attributes.
        attrs: PipeAttributes,
        /// Process id of the instance's server.
        server_pid: u32,
        /// Process id of the client (as the kernel reported it to the broker).
        client_pid: u32,
        /// The listen epoch of the instance.
        epoch: u64,
        /// The access the client's handle holds (generic rights mapped); 0 from a broker
        /// that does not say. Optional trailing field.
        granted_access: u32,
    },
    /// The wait succeeded.
    WaitDone,
    /// Number of instances.
    Count(u32),
    /// Part of a pipe listing.
    PipeList {
        /// More [`Reply::PipeList`] frames follow.
        more: bool,
        /// The pipes in this part.
        pipes: Vec<PipeSummary>,
    },
    /// Part of the answer to [`Request::Describe`].
    PipeDetails {
        /// More [`Reply::PipeDetails`] frames follow.
        more: bool,
        /// The pipes in this part.
        pipes: Vec<PipeDetail>,
    },
    /// Control channel: the instance is listening in this epoch.
    Listening {
        /// Current epoch.
        epoch: u64,
    },
    /// Control channel: the disconnect was processed (`applied == false` for a stale
    /// epoch).
    Disconnected {
        /// Whether the epoch was current.
        applied: bool,
    },
    /// Control channel: the instance is removed (answer to [`Request::Close`]); the broker
    /// closes the channel after it.
    Closed,
    /// Answer to [`Request::GetSecurity`]: the asked-for parts, as SDDL (SIDs as strings and
    /// aliases, never names).
    Security {
        /// The descriptor.
        sddl: String,
    },
    /// Answer to [`Request::SetSecurity`]: the descriptor is changed.
    SecuritySet,
    /// Control channel, pushed: a client opened the instance; carries the server's socket
    /// end and shared-memory segment.
    Connected {
        /// Broker-unique id of the connection.
        conn_id: u64,
        /// The epoch the client connected in.
        epoch: u64,
        /// The pipe's attributes.
        attrs: PipeAttributes,
        /// Process id of the server (as registered).
        server_pid: u32,
        /// Process id of the client.
        client_pid: u32,
        /// User id of the client (65534 for an anonymous remote client).
        client_uid: u32,
        /// The rest of the client's credentials. Optional trailing field (default when
        /// absent).
        client: ClientSecurity,
    },
}

mod op {
    pub const CREATE: u8 = 0x01;
    pub const OPEN: u8 = 0x02;
    pub const WAIT: u8 = 0x03;
    pub const INSTANCE_COUNT: u8 = 0x04;
    pub const LIST: u8 = 0x05;
    pub const REREGISTER: u8 = 0x06;
    pub const LISTEN: u8 = 0x07;
    pub const DISCONNECT: u8 = 0x08;
    pub const CLOSE: u8 = 0x09;
    pub const DESCRIBE: u8 = 0x0A;
    pub const GET_SECURITY: u8 = 0x0B;
    pub const SET_SECURITY: u8 = 0x0C;
    pub const CREATE_DETACHED: u8 = 0x0D;

    pub const ERROR: u8 = 0x81;
    pub const CREATED: u8 = 0x82;
    pub const OPENED: u8 = 0x83;
    pub const WAIT_DONE: u8 = 0x84;
    pub const COUNT: u8 = 0x85;
    pub const PIPE_LIST: u8 = 0x86;
    pub const LISTENING: u8 = 0x87;
    pub const DISCONNECTED: u8 = 0x88;
    pub const CONNECTED: u8 = 0x89;
    pub const CLOSED: u8 = 0x8A;
    pub const PIPE_DETAILS: u8 = 0x8B;
    pub const SECURITY: u8 = 0x8C;
    pub const SECURITY_SET: u8 = 0x8D;
    pub const CREATED_CHANNEL: u8 = 0x8E;
}

impl Request {
    /// Encode as one complete frame.
    ///
    /// # Errors
    ///
    /// [`ProtoError::TooLarge`] when a string or the frame is too long.
    pub fn encode(&self) -> Result<Vec<u8>, ProtoError> {
        let mut w = Writer::default();
        let opcode = match self {
            Request::Create(c) | Request::CreateDetached(c) => {
                w.str(&c.name)?;
                put_attrs(&mut w, &c.params.attrs);
                put_options(&mut w, &c.params.options);
                if let Some(sddl) = &c.sddl {
                    w.str(sddl)?;
                }
                if matches!(self, Request::Create(_)) {
                    op::CREATE
                } else {
                    op::CREATE_DETACHED
                }
            }
            Request::Open {
                name,
                desired_access,
                remote,
                sqos,
                computer_name,
            } => {
                w.str(name)?;
                w.u32(*desired_access);
                if remote.is_some() || *sqos != 0 || !computer_name.is_empty() {
                    w.u32(*sqos);
                    match remote {
                        None => w.u8(0),
                        Some(RemoteClient::Anonymous) => w.u8(1),
                        Some(RemoteClient::User { uid, gid, groups }) => {
                            w.u8(2);
                            w.u32(*uid);
                            w.u32(*gid);
                            put_groups(&mut w, groups)?;
                        }
                    }
                    if !computer_name.is_empty() {
                        w.str(computer_name)?;
                    }
                }
                op::OPEN
            }
            Request::Wait { name, timeout } => {
                w.str(name)?;
                let (kind, ms) = match timeout {
                    WaitTimeout::Default => (0, 0),
                    WaitTimeout::Forever => (1, 0),
                    WaitTimeout::Millis(ms) => (2, *ms),
                };
                w.u8(kind);
                w.u32(ms);
                op::WAIT
            }
            Request::InstanceCount { name } => {
                w.str(name)?;
                op::INSTANCE_COUNT
            }
            Request::List => op::LIST,
            Request::Reregister {
                name,
                attrs,
                state,
                epoch,
                sddl,
                reject_remote,
                desired_access,
            } => {
                w.str(name)?;
                put_attrs(&mut w, attrs);
                w.u8(state_code(*state));
                w.u64(*epoch);
                if sddl.is_some() || *reject_remote || *desired_access != 0 {
                    put_opt_str(&mut w, sddl.as_deref())?;
                    w.bool(*reject_remote);
                    w.u32(*desired_access);
                }
                op::REREGISTER
            }
            Request::Describe { name } => {
                match name {
                    None => w.bool(false),
                    Some(n) => {
                        w.bool(true);
                        w.str(n)?;
                    }
                }
                op::DESCRIBE
            }
            Request::GetSecurity { name, info } => {
                put_opt_str(&mut w, name.as_deref())?;
                w.u32(*info);
                op::GET_SECURITY
            }
            Request::SetSecurity { name, info, sddl } => {
                put_opt_str(&mut w, name.as_deref())?;
                w.u32(*info);
                w.str(sddl)?;
                op::SET_SECURITY
            }
            Request::Listen => op::LISTEN,
            Request::Disconnect { epoch } => {
                w.u64(*epoch);
                op::DISCONNECT
            }
            Request::Close => op::CLOSE,
        };
        encode_frame(opcode, &w.buf)
    }

    /// Decode a request frame.
    ///
    /// # Errors
    ///
    /// Any [`ProtoError`] but the framing ones; never panics.
    pub fn decode(frame: Frame<'_>) -> Result<Request, ProtoError> {
        let mut r = Reader::new(frame.body);
        let req = match frame.opcode {
            op::CREATE | op::CREATE_DETACHED => {
                let name = r.str()?;
                let attrs = get_attrs(&mut r)?;
                let options = get_options(&mut r)?;
                if attrs.pipe_type == PipeType::Byte && options.read_mode == ReadMode::Message {
                    return Err(ProtoError::InvalidValue("read mode"));
                }
                let sddl = if r.is_empty() { None } else { Some(r.str()?) };
                let c = CreateRequest {
                    name,
                    params: CreateParams { attrs, options },
                    sddl,
                };
                if frame.opcode == op::CREATE {
                    Request::Create(c)
                } else {
                    Request::CreateDetached(c)
                }
            }
            op::OPEN => {
                let name = r.str()?;
                let desired_access = r.u32()?;
                let (remote, sqos, computer_name) = if r.is_empty() {
                    (None, 0, String::new())
                } else {
                    let sqos = r.u32()?;
                    let remote = match r.u8()? {
                        0 => None,
                        1 => Some(RemoteClient::Anonymous),
                        2 => Some(RemoteClient::User {
                            uid: r.u32()?,
                            gid: r.u32()?,
                            groups: get_groups(&mut r)?,
                        }),
                        _ => return Err(ProtoError::InvalidValue("remote client")),
                    };
                    let computer_name = if r.is_empty() {
                        String::new()
                    } else {
                        r.str()?
                    };
                    (remote, sqos, computer_name)
                };
                Request::Open {
                    name,
                    desired_access,
                    remote,
                    sqos,
                    computer_name,
                }
            }
            op::WAIT => {
                let name = r.str()?;
                let kind = r.u8()?;
                let ms = r.u32()?;
                let timeout = match kind {
                    0 => WaitTimeout::Default,
                    1 => WaitTimeout::Forever,
                    2 => WaitTimeout::Millis(ms),
                    _ => return Err(ProtoError::InvalidValue("wait timeout")),
                };
                Request::Wait { name, timeout }
            }
            op::INSTANCE_COUNT => Request::InstanceCount { name: r.str()? },
            op::LIST => Request::List,
            op::REREGISTER => {
                let name = r.str()?;
                let attrs = get_attrs(&mut r)?;
                let state = get_state(&mut r)?;
                let epoch = r.u64()?;
                let (sddl, reject_remote, desired_access) = if r.is_empty() {
                    (None, false, 0)
                } else {
                    (get_opt_str(&mut r)?, r.bool()?, r.u32()?)
                };
                Request::Reregister {
                    name,
                    attrs,
                    state,
                    epoch,
                    sddl,
                    reject_remote,
                    desired_access,
                }
            }
            op::GET_SECURITY => Request::GetSecurity {
                name: get_opt_str(&mut r)?,
                info: r.u32()?,
            },
            op::SET_SECURITY => Request::SetSecurity {
                name: get_opt_str(&mut r)?,
                info: r.u32()?,
                sddl: r.str()?,
            },
            op::DESCRIBE => Request::Describe {
                name: if r.bool()? { Some(r.str()?) } else { None },
            },
            op::LISTEN => Request::Listen,
            op::DISCONNECT => Request::Disconnect { epoch: r.u64()? },
            op::CLOSE => Request::Close,
            other => return Err(ProtoError::UnknownOpcode(other)),
        };
        r.finish()?;
        Ok(req)
    }
}

impl Reply {
    /// Whether this reply carries descriptors ([`Reply::fd_count`]).
    pub fn carries_fds(&self) -> bool {
        self.fd_count() > 0
    }

    /// How many descriptors come with this reply: [`super::CONN_FDS`] with
    /// [`Reply::Opened`] and [`Reply::Connected`], one with [`Reply::CreatedChannel`].
    pub fn fd_count(&self) -> usize {
        match self {
            Reply::Opened { .. } | Reply::Connected { .. } => super::CONN_FDS,
            Reply::CreatedChannel { .. } => 1,
            _ => 0,
        }
    }

    /// Encode as one complete frame.
    ///
    /// # Errors
    ///
    /// [`ProtoError::TooLarge`] when the frame is too long (split long listings).
    pub fn encode(&self) -> Result<Vec<u8>, ProtoError> {
        let mut w = Writer::default();
        let opcode = match self {
            Reply::Error(e) => {
                w.u32(e.0);
                op::ERROR
            }
            Reply::Created {
                instance_id,
                attrs,
                already_existed,
            }
            | Reply::CreatedChannel {
                instance_id,
                attrs,
                already_existed,
            } => {
                w.u64(*instance_id);
                put_attrs(&mut w, attrs);
                w.bool(*already_existed);
                if matches!(self, Reply::Created { .. }) {
                    op::CREATED
                } else {
                    op::CREATED_CHANNEL
                }
            }
            Reply::Opened {
                conn_id,
                instance_id,
                attrs,
                server_pid,
                client_pid,
                epoch,
                granted_access,
            } => {
                w.u64(*conn_id);
                w.u64(*instance_id);
                put_attrs(&mut w, attrs);
                w.u32(*server_pid);
                w.u32(*client_pid);
                w.u64(*epoch);
                if *granted_access != 0 {
                    w.u32(*granted_access);
                }
                op::OPENED
            }
            Reply::WaitDone => op::WAIT_DONE,
            Reply::Count(n) => {
                w.u32(*n);
                op::COUNT
            }
            Reply::PipeList { more, pipes } => {
                w.bool(*more);
                let n = u16::try_from(pipes.len()).map_err(|_| ProtoError::TooLarge)?;
                w.u32(n.into());
                for p in pipes {
                    put_summary(&mut w, p)?;
                }
                op::PIPE_LIST
            }
            Reply::PipeDetails { more, pipes } => {
                w.bool(*more);
                let n = u16::try_from(pipes.len()).map_err(|_| ProtoError::TooLarge)?;
                w.u32(n.into());
                for d in pipes {
                    put_summary(&mut w, &d.summary)?;
                    w.bool(d.reject_remote);
                    let n = u16::try_from(d.instances.len()).map_err(|_| ProtoError::TooLarge)?;
                    w.u32(n.into());
                    for i in &d.instances {
                        w.u64(i.id);
                        w.u8(state_code(i.state));
                        w.u64(i.epoch);
                        put_identity(&mut w, &i.server);
                        match &i.client {
                            None => w.bool(false),
                            Some(c) => {
                                w.bool(true);
                                put_identity(&mut w, c);
                            }
                        }
                    }
                }
                op::PIPE_DETAILS
            }
            Reply::Listening { epoch } => {
                w.u64(*epoch);
                op::LISTENING
            }
            Reply::Disconnected { applied } => {
                w.bool(*applied);
                op::DISCONNECTED
            }
            Reply::Closed => op::CLOSED,
            Reply::Security { sddl } => {
                w.str(sddl)?;
                op::SECURITY
            }
            Reply::SecuritySet => op::SECURITY_SET,
            Reply::Connected {
                conn_id,
                epoch,
                attrs,
                server_pid,
                client_pid,
                client_uid,
                client,
            } => {
                w.u64(*conn_id);
                w.u64(*epoch);
                put_attrs(&mut w, attrs);
                w.u32(*server_pid);
                w.u32(*client_pid);
                w.u32(*client_uid);
                if *client != ClientSecurity::default() {
                    w.u32(client.gid);
                    put_groups(&mut w, &client.groups)?;
                    w.u8(u8::from(client.remote) | u8::from(client.anonymous) << 1);
                    w.u32(client.sqos);
                    if client.granted_access != 0 || !client.computer_name.is_empty() {
                        w.u32(client.granted_access);
                        if !client.computer_name.is_empty() {
                            w.str(&client.computer_name)?;
                        }
                    }
                }
                op::CONNECTED
            }
        };
        encode_frame(opcode, &w.buf)
    }

    /// Decode a reply frame.
    ///
    /// # Errors
    ///
    /// Any [`ProtoError`] but the framing ones; never panics.
    pub fn decode(frame: Frame<'_>) -> Result<Reply, ProtoError> {
        let mut r = Reader::new(frame.body);
        let reply = match frame.opcode {
            op::ERROR => Reply::Error(Win32Error(r.u32()?)),
            op::CREATED => Reply::Created {
                instance_id: r.u64()?,
                attrs: get_attrs(&mut r)?,
                already_existed: r.bool()?,
            },
            op::CREATED_CHANNEL => Reply::CreatedChannel {
                instance_id: r.u64()?,
                attrs: get_attrs(&mut r)?,
                already_existed: r.bool()?,
            },
            op::OPENED => Reply::Opened {
                conn_id: r.u64()?,
                instance_id: r.u64()?,
                attrs: get_attrs(&mut r)?,
                server_pid: r.u32()?,
                client_pid: r.u32()?,
                epoch: r.u64()?,
                granted_access: if r.is_empty() { 0 } else { r.u32()? },
            },
            op::WAIT_DONE => Reply::WaitDone,
            op::COUNT => Reply::Count(r.u32()?),
            op::PIPE_LIST => {
                let more = r.bool()?;
                let n = r.u32()?;
                if n > u32::from(u16::MAX) {
                    return Err(ProtoError::InvalidValue("pipe count"));
                }
                let mut pipes = Vec::new();
                for _ in 0..n {
                    pipes.push(get_summary(&mut r)?);
                }
                Reply::PipeList { more, pipes }
            }
            op::PIPE_DETAILS => {
                let more = r.bool()?;
                let n = r.u32()?;
                if n > u32::from(u16::MAX) {
                    return Err(ProtoError::InvalidValue("pipe count"));
                }
                let mut pipes = Vec::new();
                for _ in 0..n {
                    let summary = get_summary(&mut r)?;
                    let reject_remote = r.bool()?;
                    let count = r.u32()?;
                    if count > u32::from(u16::MAX) {
                        return Err(ProtoError::InvalidValue("instance count"));
                    }
                    let mut instances = Vec::new();
                    for _ in 0..count {
                        instances.push(InstanceInfo {
                            id: r.u64()?,
                            state: get_state(&mut r)?,
                            epoch: r.u64()?,
                            server: get_identity(&mut r)?,
                            client: if r.bool()? {
                                Some(get_identity(&mut r)?)
                            } else {
                                None
                            },
                        });
                    }
                    pipes.push(PipeDetail {
                        summary,
                        reject_remote,
                        instances,
                    });
                }
                Reply::PipeDetails { more, pipes }
            }
            op::LISTENING => Reply::Listening { epoch: r.u64()? },
            op::DISCONNECTED => Reply::Disconnected { applied: r.bool()? },
            op::CLOSED => Reply::Closed,
            op::SECURITY => Reply::Security { sddl: r.str()? },
            op::SECURITY_SET => Reply::SecuritySet,
            op::CONNECTED => Reply::Connected {
                conn_id: r.u64()?,
                epoch: r.u64()?,
                attrs: get_attrs(&mut r)?,
                server_pid: r.u32()?,
                client_pid: r.u32()?,
                client_uid: r.u32()?,
                client: if r.is_empty() {
                    ClientSecurity::default()
                } else {
                    let gid = r.u32()?;
                    let groups = get_groups(&mut r)?;
                    let flags = r.u8()?;
                    if flags & !3 != 0 {
                        return Err(ProtoError::InvalidValue("client flags"));
                    }
                    ClientSecurity {
                        gid,
                        groups,
                        remote: flags & 1 != 0,
                        anonymous: flags & 2 != 0,
                        sqos: r.u32()?,
                        granted_access: if r.is_empty() { 0 } else { r.u32()? },
                        computer_name: if r.is_empty() {
                            String::new()
                        } else {
                            r.str()?
                        },
                    }
                },
            },
            other => return Err(ProtoError::UnknownOpcode(other)),
        };
        r.finish()?;
        Ok(reply)
    }
}

fn put_opt_str(w: &mut Writer, s: Option<&str>) -> Result<(), ProtoError> {
    match s {
        None => w.bool(false),
        Some(s) => {
            w.bool(true);
            w.str(s)?;
        }
    }
    Ok(())
}

fn get_opt_str(r: &mut Reader<'_>) -> Result<Option<String>, ProtoError> {
    Ok(if r.bool()? { Some(r.str()?) } else { None })
}

fn put_groups(w: &mut Writer, groups: &[u32]) -> Result<(), ProtoError> {
    if groups.len() > MAX_WIRE_GROUPS {
        return Err(ProtoError::TooLarge);
    }
    w.buf
        .extend_from_slice(&(groups.len() as u16).to_le_bytes());
    for g in groups {
        w.u32(*g);
    }
    Ok(())
}

fn get_groups(r: &mut Reader<'_>) -> Result<Vec<u32>, ProtoError> {
    let n = usize::from(r.u16()?);
    if n > MAX_WIRE_GROUPS {
        return Err(ProtoError::InvalidValue("group count"));
    }
    let mut out = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        out.push(r.u32()?);
    }
    Ok(out)
}

fn put_summary(w: &mut Writer, p: &PipeSummary) -> Result<(), ProtoError> {
    w.str(&p.display_name)?;
    put_attrs(w, &p.attrs);
    w.u32(p.instances);
    w.u32(p.listening);
    w.u32(p.connected);
    w.u32(p.owner_uid);
    Ok(())
}

fn get_summary(r: &mut Reader<'_>) -> Result<PipeSummary, ProtoError> {
    Ok(PipeSummary {
        display_name: r.str()?,
        attrs: get_attrs(r)?,
        instances: r.u32()?,
        listening: r.u32()?,
        connected: r.u32()?,
        owner_uid: r.u32()?,
    })
}

fn put_identity(w: &mut Writer, i: &Identity) {
    w.u32(i.pid);
    w.u32(i.uid);
    w.u32(i.gid);
}

fn get_identity(r: &mut Reader<'_>) -> Result<Identity, ProtoError> {
    Ok(Identity {
        pid: r.u32()?,
        uid: r.u32()?,
        gid: r.u32()?,
    })
}

fn put_attrs(w: &mut Writer, a: &PipeAttributes) {
    w.u8(match a.direction {
        Direction::Inbound => 0,
        Direction::Outbound => 1,
        Direction::Duplex => 2,
    });
    w.u8(match a.pipe_type {
        PipeType::Byte => 0,
        PipeType::Message => 1,
    });
    w.u32(a.max_instances);
    w.u32(a.out_quota);
    w.u32(a.in_quota);
    w.u32(a.default_timeout_ms);
}

fn get_attrs(r: &mut Reader<'_>) -> Result<PipeAttributes, ProtoError> {
    let direction = match r.u8()? {
        0 => Direction::Inbound,
        1 => Direction::Outbound,
        2 => Direction::Duplex,
        _ => return Err(ProtoError::InvalidValue("direction")),
    };
    let pipe_type = match r.u8()? {
        0 => PipeType::Byte,
        1 => PipeType::Message,
        _ => return Err(ProtoError::InvalidValue("pipe type")),
    };
    let max_instances = r.u32()?;
    if !(1..=PIPE_UNLIMITED_INSTANCES).contains(&max_instances) {
        return Err(ProtoError::InvalidValue("max instances"));
    }
    Ok(PipeAttributes {
        direction,
        pipe_type,
        max_instances,
        out_quota: r.u32()?,
        in_quota: r.u32()?,
        default_timeout_ms: r.u32()?,
    })
}

const OPT_FIRST: u8 = 1;
const OPT_WRITE_THROUGH: u8 = 2;
const OPT_OVERLAPPED: u8 = 4;
const OPT_READ_MESSAGE: u8 = 8;
const OPT_NOWAIT: u8 = 16;
const OPT_REJECT_REMOTE: u8 = 32;

fn put_options(w: &mut Writer, o: &InstanceOptions) {
    let mut f = 0;
    for (on, bit) in [
        (o.first_instance, OPT_FIRST),
        (o.write_through, OPT_WRITE_THROUGH),
        (o.overlapped, OPT_OVERLAPPED),
        (o.read_mode == ReadMode::Message, OPT_READ_MESSAGE),
        (o.nowait, OPT_NOWAIT),
        (o.reject_remote, OPT_REJECT_REMOTE),
    ] {
        if on {
            f |= bit;
        }
    }
    w.u8(f);
    w.u32(o.extra_access);
}

fn get_options(r: &mut Reader<'_>) -> Result<InstanceOptions, ProtoError> {
    let f = r.u8()?;
    if f & !0x3F != 0 {
        return Err(ProtoError::InvalidValue("instance options"));
    }
    Ok(InstanceOptions {
        first_instance: f & OPT_FIRST != 0,
        write_through: f & OPT_WRITE_THROUGH != 0,
        overlapped: f & OPT_OVERLAPPED != 0,
        read_mode: if f & OPT_READ_MESSAGE != 0 {
            ReadMode::Message
        } else {
            ReadMode::Byte
        },
        nowait: f & OPT_NOWAIT != 0,
        reject_remote: f & OPT_REJECT_REMOTE != 0,
        extra_access: r.u32()?,
    })
}

fn state_code(s: InstanceState) -> u8 {
    match s {
        InstanceState::Listening => 0,
        InstanceState::Connected => 1,
        InstanceState::Disconnected => 2,
    }
}

fn get_state(r: &mut Reader<'_>) -> Result<InstanceState, ProtoError> {
    match r.u8()? {
        0 => Ok(InstanceState::Listening),
        1 => Ok(InstanceState::Connected),
        2 => Ok(InstanceState::Disconnected),
        _ => Err(ProtoError::InvalidValue("instance state")),
    }
}
