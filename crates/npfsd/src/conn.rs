//! One client connection: requests on a fresh connection, then, after a successful create or
//! reregistration, the instance's control channel.
//!
//! Any protocol violation (garbage, truncated or oversized frames, unknown opcodes, wrong
//! version, a request not allowed in the connection's role) drops the connection; dropping
//! a control channel closes its instance.

use std::os::fd::AsFd;
use std::time::Duration;

use npfs_core::consts::{
    FILE_READ_DATA, FILE_WRITE_DATA, GENERIC_READ, GENERIC_WRITE, SYNCHRONIZE,
};
use npfs_core::name::{PipeName, Server};
use npfs_core::namespace::{Caller, Identity, InstanceId, Reregistration, WaitStart};
use npfs_core::security::{SecurityDescriptor, Token, MAX_SDDL_LEN};
use npfs_core::Win32Error;
use npfs_proto::broker::{
    ClientSecurity, CreateRequest, ProtoError, RemoteClient, Reply, Request, MAX_COMPUTER_NAME,
    MAX_WIRE_GROUPS,
};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::creds::SystemNames;
use crate::fdpass::{write_all, write_with_fds};
use crate::resources::Rights;
use crate::state::{Admission, OpenSlot, Push, Shared};

/// Pipes per [`Reply::PipeList`] frame (names are at most 256 characters).
const LIST_CHUNK: usize = 32;

/// Pipes per [`Reply::PipeDetails`] frame, and instances listed per pipe: 4 pipes of 256
/// characters with 255 instances (42 bytes each) stay below
/// [`npfs_proto::broker::MAX_FRAME`]. A pipe with more
/// instances (possible only through reregistration) lists its first 255; its summary still
/// counts them all.
const DETAIL_CHUNK: usize = 4;
const DETAIL_MAX_INSTANCES: usize = 255;

/// How long an open waits for the server's [`Reply::Connected`] to be written into the
/// instance's control channel; an instance that cannot take it in that time is dropped.
const PUSH_DEADLINE: Duration = Duration::from_secs(2);

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The peer sent something invalid.
    #[error("protocol: {0}")]
    Proto(#[from] ProtoError),
    /// The peer sent a request that is not allowed here.
    #[error("request not allowed on this connection")]
    Unexpected,
    /// The peer started a frame and did not finish it in time
    /// ([`crate::frames::FRAME_DEADLINE`]).
    #[error("frame not completed within {:?}", crate::frames::FRAME_DEADLINE)]
    FrameDeadline,
    /// Socket error.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

pub use crate::frames::FrameReader;

/// uid and gid standing for an anonymous remote client ("nobody").
pub const ANONYMOUS_ID: u32 = 65534;

/// Serve one accepted connection of `caller` (its kernel credentials) until it ends.
pub async fn serve(stream: UnixStream, shared: Shared, caller: Caller) {
    let stream = std::sync::Arc::new(stream);
    let mut reader = FrameReader::default();
    let peer = caller.identity;
    // Each phase runs boxed: the task of an idle instance then holds only the (small)
    // channel loop, not the largest request handler's state.
    let requests = Box::pin(serve_requests(&stream, &shared, &caller, &mut reader)).await;
    match requests {
        Ok(Some((instance, rx))) => {
            Box::pin(run_channel(stream, &shared, &caller, instance, reader, rx)).await;
        }
        Ok(None) => {}
        Err(ConnError::Proto(e)) => warn!(pid = peer.pid, "dropping connection: {e}"),
        Err(e) => debug!(pid = peer.pid, "connection ended: {e}"),
    }
}

/// The life of an instance's control channel over `stream`: served until it ends, then the
/// instance goes.
async fn run_channel(
    stream: std::sync::Arc<UnixStream>,
    shared: &Shared,
    caller: &Caller,
    instance: InstanceId,
    reader: FrameReader,
    rx: PushRx,
) {
    {
        let mut b = shared.lock();
        // Unless the instance is gone already (evicted while its reply was sent).
        if b.channels.contains_key(&instance) {
            b.channel_socks.insert(instance, stream.clone());
        }
    }
    if let Err(e) = serve_channel(&stream, shared, caller, instance, reader, rx).await {
        debug!(
            pid = caller.identity.pid,
            instance, "control channel ended: {e}"
        );
    }
    shared.lock().evict(instance);
    debug!(instance, "instance closed");
}

/// CreateNamedPipe's work in the namespace: the new instance and its channel's receiver.
fn create_instance(
    shared: &Shared,
    caller: &Caller,
    c: &CreateRequest,
) -> Result<(npfs_core::namespace::Created, PushRx), Win32Error> {
    let sd = parse_optional_sddl(c.sddl.as_deref())?;
    let name = PipeName::parse_for_create(Some(&c.name))?;
    let mut b = shared.lock();
    let r =
        b.ns.create_instance_as(&name.key(), &name.full(), &c.params, caller, sd)
            .map(|created| {
                let rx = b.register_channel(created.instance);
                (created, rx)
            });
    b.dispatch_waits();
    r
}

/// [`Request::CreateDetached`]: the new instance's channel is a socket pair made here (its
/// slot among the caller's connections taken already); one end is served as the channel,
/// the other goes to the caller with the reply. The request connection stays one.
async fn detach_channel(
    stream: &UnixStream,
    shared: &Shared,
    caller: &Caller,
    created: &npfs_core::namespace::Created,
    rx: PushRx,
) -> Result<(), ConnError> {
    let instance = created.instance;
    let uid = caller.identity.uid;
    let release = || release_of(shared, uid);
    let pair = channel_pair();
    let (ours, theirs) = match pair {
        Ok(p) => p,
        Err(e) => {
            warn!("cannot make a control channel: {e}");
            shared.lock().evict(instance);
            release();
            return send(stream, &Reply::Error(Win32Error::NO_SYSTEM_RESOURCES)).await;
        }
    };
    let reply = Reply::CreatedChannel {
        instance_id: instance,
        attrs: created.attrs,
        already_existed: created.already_existed,
    };
    let sent = match reply.encode() {
        Ok(bytes) => write_with_fds(stream, &bytes, &[theirs.as_fd()])
            .await
            .map_err(ConnError::from),
        Err(e) => Err(e.into()),
    };
    drop(theirs);
    if let Err(e) = sent {
        shared.lock().evict(instance);
        release();
        return Err(e);
    }
    let (shared, caller) = (shared.clone(), caller.clone());
    tokio::spawn(async move {
        let ours = std::sync::Arc::new(ours);
        run_channel(ours, &shared, &caller, instance, FrameReader::default(), rx).await;
        release_of(&shared, uid);
    });
    Ok(())
}

/// A connection of `uid` ended: give its slot back, and let whoever waits for one know.
pub(crate) fn release_of(shared: &Shared, uid: u32) {
    shared.lock().release(uid);
    shared.fd_freed.notify_one();
    shared.idle_check.notify_one();
}

/// A connected socket pair for a detached channel: the broker's end (non-blocking, with the
/// runtime) and the caller's (blocking, as its library uses it).
fn channel_pair() -> std::io::Result<(UnixStream, std::os::fd::OwnedFd)> {
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
    let (ours, theirs) = socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    let ours = std::os::unix::net::UnixStream::from(ours);
    ours.set_nonblocking(true)?;
    Ok((UnixStream::from_std(ours)?, theirs))
}

/// Requests on a fresh connection. Returns the instance (and the receiving end of its
/// channel) when the connection became a control channel.
async fn serve_requests(
    stream: &UnixStream,
    shared: &Shared,
    caller: &Caller,
    reader: &mut FrameReader,
) -> Result<Option<(InstanceId, PushRx)>, ConnError> {
    while let Some(req) = reader.next(stream).await? {
        match req {
            Request::Create(c) => match create_instance(shared, caller, &c) {
                Ok((created, rx)) => return become_channel(stream, shared, &created, rx).await,
                Err(e) => send(stream, &Reply::Error(e)).await?,
            },
            Request::CreateDetached(c) => {
                // The channel counts as a connection of the caller (the caps): admitted
                // before the instance exists, so that a refusal never shows one to anybody.
                let admission = shared.lock().admit(caller.identity.uid);
                if let Admission::Refused { .. } = admission {
                    send(stream, &Reply::Error(Win32Error::NO_SYSTEM_RESOURCES)).await?;
                    continue;
                }
                match create_instance(shared, caller, &c) {
                    Ok((created, rx)) => {
                        detach_channel(stream, shared, caller, &created, rx).await?
                    }
                    Err(e) => {
                        release_of(shared, caller.identity.uid);
                        send(stream, &Reply::Error(e)).await?
                    }
                }
            }
            Request::Reregister {
                name,
                attrs,
                state,
                epoch,
                sddl,
                reject_remote,
                desired_access,
            } => {
                let sd = parse_optional_sddl(sddl.as_deref());
                let r = sd.and_then(|sd| {
                    let name = PipeName::parse_for_create(Some(&name))?;
                    let how = Reregistration {
                        desired: if desired_access == 0 {
                            GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE
                        } else {
                            desired_access
                        },
                        sd,
                        reject_remote,
                    };
                    let mut b = shared.lock();
                    let r = b.ns.reregister_as(
                        &name.key(),
                        &name.full(),
                        attrs,
                        state,
                        epoch,
                        caller,
                        how,
                    );
                    let r = r.map(|created| {
                        let rx = b.register_channel(created.instance);
                        (created, rx)
                    });
                    b.dispatch_waits();
                    r
                });
                match r {
                    Ok((created, rx)) => return become_channel(stream, shared, &created, rx).await,
                    Err(e) => send(stream, &Reply::Error(e)).await?,
                }
            }
            Request::Open {
                name,
                desired_access,
                remote,
                sqos,
                computer_name,
            } => {
                let remote = remote.map(|r| (r, computer_name));
                let who = match on_behalf_of(caller, remote, sqos, &shared.policy.admin_gids) {
                    Ok(who) => who,
                    Err(e) => {
                        warn!(
                            pid = caller.identity.pid,
                            uid = caller.identity.uid,
                            "refused: an unprivileged peer claimed a remote identity"
                        );
                        send(stream, &Reply::Error(e)).await?;
                        continue;
                    }
                };
                // Boxed: an idle connection's task need not hold room for an open's state.
                Box::pin(open(stream, shared, &who, &name, desired_access)).await?
            }
            Request::GetSecurity { name, info } => {
                let r = name
                    .ok_or(Win32Error::INVALID_PARAMETER)
                    .and_then(|n| local_key(&n))
                    .and_then(|key| shared.lock().ns.query_security(&key, info, caller));
                let reply = match r {
                    Ok(sd) => Reply::Security { sddl: sd.to_sddl() },
                    Err(e) => Reply::Error(e),
                };
                send(stream, &reply).await?;
            }
            Request::SetSecurity { name, info, sddl } => {
                let r = parse_sddl(&sddl).and_then(|sd| {
                    let key = local_key(&name.ok_or(Win32Error::INVALID_PARAMETER)?)?;
                    shared.lock().ns.set_security(&key, info, &sd, caller)
                });
                let reply = match r {
                    Ok(()) => Reply::SecuritySet,
                    Err(e) => Reply::Error(e),
                };
                send(stream, &reply).await?;
            }
            Request::Wait { name, timeout } => {
                let start = local_key(&name).and_then(|key| {
                    let mut b = shared.lock();
                    let now = b.now_ms();
                    match b.ns.wait(&key, timeout, now)? {
                        WaitStart::Ready => Ok(None),
                        WaitStart::Pending(id) => {
                            let (tx, rx) = oneshot::channel();
                            b.waiters.insert(id, tx);
                            Ok(Some((id, rx)))
                        }
                    }
                });
                match start {
                    Err(e) => send(stream, &Reply::Error(e)).await?,
                    Ok(None) => send(stream, &Reply::WaitDone).await?,
                    Ok(Some((id, rx))) => {
                        shared.timer.notify_one();
                        let result = wait_or_hangup(stream, rx).await;
                        let Some(result) = result else {
                            let mut b = shared.lock();
                            b.ns.cancel_wait(id);
                            b.waiters.remove(&id);
                            return Ok(None);
                        };
                        let reply = match result {
                            Ok(()) => Reply::WaitDone,
                            Err(e) => Reply::Error(e),
                        };
                        send(stream, &reply).await?;
                    }
                }
            }
            Request::InstanceCount { name } => {
                // A pipe that does not exist (any more) has no instances: what
                // GetNamedPipeHandleState reports to a client whose server closed.
                let r =
                    local_key(&name).map(|key| shared.lock().ns.instance_count(&key).unwrap_or(0));
                let reply = match r {
                    Ok(n) => Reply::Count(n),
                    Err(e) => Reply::Error(e),
                };
                send(stream, &reply).await?;
            }
            Request::List => {
                let pipes = shared.lock().ns.list();
                let mut chunks = pipes.chunks(LIST_CHUNK).peekable();
                if chunks.peek().is_none() {
                    send(
                        stream,
                        &Reply::PipeList {
                            more: false,
                            pipes: Vec::new(),
                        },
                    )
                    .await?;
                }
                while let Some(chunk) = chunks.next() {
                    let more = chunks.peek().is_some();
                    let reply = Reply::PipeList {
                        more,
                        pipes: chunk.to_vec(),
                    };
                    send(stream, &reply).await?;
                }
            }
            Request::Describe { name } => {
                let details = match name {
                    None => Ok(shared.lock().ns.details()),
                    Some(name) => local_key(&name).and_then(|key| {
                        shared
                            .lock()
                            .ns
                            .detail(&key)
                            .map(|d| vec![d])
                            .ok_or(Win32Error::FILE_NOT_FOUND)
                    }),
                };
                match details {
                    Err(e) => send(stream, &Reply::Error(e)).await?,
                    Ok(mut pipes) => {
                        for d in &mut pipes {
                            d.instances.truncate(DETAIL_MAX_INSTANCES);
                        }
                        let mut chunks = pipes.chunks(DETAIL_CHUNK).peekable();
                        if chunks.peek().is_none() {
                            let reply = Reply::PipeDetails {
                                more: false,
                                pipes: Vec::new(),
                            };
                            send(stream, &reply).await?;
                        }
                        while let Some(chunk) = chunks.next() {
                            let reply = Reply::PipeDetails {
                                more: chunks.peek().is_some(),
                                pipes: chunk.to_vec(),
                            };
                            send(stream, &reply).await?;
                        }
                    }
                }
            }
            Request::Listen | Request::Disconnect { .. } | Request::Close => {
                return Err(ConnError::Unexpected)
            }
            _ => return Err(ConnError::Unexpected),
        }
    }
    Ok(None)
}

/// Wait for a wait's result while watching the client: `None` when the client hung up (or
/// sent anything, which is a violation while a request is pending).
async fn wait_or_hangup(
    stream: &UnixStream,
    mut rx: oneshot::Receiver<Result<(), Win32Error>>,
) -> Option<Result<(), Win32Error>> {
    loop {
        tokio::select! {
            r = &mut rx => return r.ok(),
            r = stream.readable() => {
                r.ok()?;
                let mut probe = [0u8; 1];
                match stream.try_read(&mut probe) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    _ => return None,
                }
            }
        }
    }
}

/// A client's open: pair it with the earliest listening instance.
///
/// The client's reply is sent only once the server's [`Reply::Connected`] has been written
/// into the instance's control channel (the channel's task acknowledges the write). An
/// instance whose channel cannot take the push (gone, write failed, stuck past
/// [`PUSH_DEADLINE`]) is treated as closed: it is evicted and the next listening instance is
/// tried, so a client never gets a connection to a dead instance.
async fn open(
    stream: &UnixStream,
    shared: &Shared,
    who: &OpenAs,
    name: &str,
    desired_access: u32,
) -> Result<(), ConnError> {
    let peer = who.caller.identity;
    let key = match local_key(name) {
        Ok(k) => k,
        Err(e) => return send(stream, &Reply::Error(e)).await,
    };
    // The descriptors an open holds in flight are capped (`Limits::opens`); declared first,
    // so that the slot is given back after them.
    let Some(_slot) = OpenSlot::take(shared, peer.uid).await else {
        return send(stream, &Reply::Error(Win32Error::NO_SYSTEM_RESOURCES)).await;
    };
    // Every failed attempt evicts an instance, so this ends.
    'attempts: loop {
        // Create the resources first, so that a failure cannot leave the namespace with a
        // CONNECTED instance nobody knows about.
        let resources = match shared.spare.take() {
            Ok(p) => p,
            Err(e) => {
                warn!("cannot create connection resources: {e}");
                return send(stream, &Reply::Error(Win32Error::NO_SYSTEM_RESOURCES)).await;
            }
        };
        let (delivered, acked) = oneshot::channel();
        let mut client_end = None;
        let attempt = {
            let mut b = shared.lock();
            let mut result = b.ns.open_as(&key, desired_access, &who.caller);
            // Every instance busy: one may belong to a server that is gone (killed, its
            // socket hung up) while its channel's task has not run yet. Windows closes a
            // dead process's handles before anyone can look: so do we, then try again.
            if result.as_ref().err() == Some(&Win32Error::PIPE_BUSY) && b.evict_hung_up(&key) {
                b.dispatch_waits();
                result = b.ns.open_as(&key, desired_access, &who.caller);
            }
            match result {
                Ok(opened) => 'paired: {
                    let conn_id = b.next_conn_id();
                    let dir = opened.attrs.direction;
                    let server_rights = Rights {
                        reads: dir.server_reads(),
                        writes: dir.server_writes(),
                    };
                    let client_rights = Rights {
                        reads: opened.granted & FILE_READ_DATA != 0 && dir.client_reads(),
                        writes: opened.granted & FILE_WRITE_DATA != 0 && dir.server_reads(),
                    };
                    let (server_end, end) = match resources.split(server_rights, client_rights) {
                        Ok(ends) => ends,
                        Err(e) => {
                            warn!("cannot share out connection resources: {e}");
                            b.evict(opened.instance);
                            break 'paired Err(Win32Error::NO_SYSTEM_RESOURCES);
                        }
                    };
                    client_end = Some(end);
                    let mut client = who.client.clone();
                    client.granted_access = opened.granted;
                    let push = Push {
                        reply: Reply::Connected {
                            conn_id,
                            epoch: opened.epoch,
                            attrs: opened.attrs,
                            server_pid: opened.server.pid,
                            client_pid: peer.pid,
                            client_uid: peer.uid,
                            client,
                        },
                        fds: server_end.into_fds(),
                        delivered,
                    };
                    let queued = b
                        .channels
                        .get(&opened.instance)
                        .is_some_and(|tx| tx.send(Box::new(push)).is_ok());
                    if !queued {
                        debug!(instance = opened.instance, "open: channel gone, evicting");
                        b.evict(opened.instance);
                        continue 'attempts;
                    }
                    Ok((
                        opened.instance,
                        Reply::Opened {
                            conn_id,
                            instance_id: opened.instance,
                            attrs: opened.attrs,
                            server_pid: opened.server.pid,
                            client_pid: peer.pid,
                            epoch: opened.epoch,
                            granted_access: opened.granted,
                        },
                    ))
                }
                Err(e) => Err(e),
            }
        };
        let (instance, reply) = match attempt {
            Ok(a) => a,
            Err(e) => return send(stream, &Reply::Error(e)).await,
        };
        match tokio::time::timeout(PUSH_DEADLINE, acked).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                debug!(instance, "open: push not delivered, evicting");
                shared.lock().evict(instance);
                continue;
            }
            Err(_) => {
                warn!(
                    instance,
                    "open: server channel stuck, evicting the instance"
                );
                shared.lock().evict(instance);
                continue;
            }
        }
        let Some(client_end) = client_end else {
            return send(stream, &Reply::Error(Win32Error::NO_SYSTEM_RESOURCES)).await;
        };
        let bytes = reply.encode()?;
        // The client takes a reply once its whole frame is in: send all but its last byte
        // with the descriptors, let go of the broker's copies, then the last byte. By the
        // time the client's open returns, its descriptors are the only ones, so a client
        // process that exits at once is seen as gone by the server (a hang-up).
        let (head, last) = bytes.split_at(bytes.len() - 1);
        write_with_fds(stream, head, &client_end.as_fds()).await?;
        drop(client_end);
        write_all(stream, last).await?;
        // The next open's resources, now that this one is answered.
        shared.spare.refill();
        return Ok(());
    }
}

/// Send the Created reply of a new (or reregistered) instance; the connection becomes its
/// control channel. If the reply cannot be sent the instance goes away again.
async fn become_channel(
    stream: &UnixStream,
    shared: &Shared,
    created: &npfs_core::namespace::Created,
    rx: PushRx,
) -> Result<Option<(InstanceId, PushRx)>, ConnError> {
    if let Err(e) = send(stream, &created_reply(created)).await {
        shared.lock().evict(created.instance);
        return Err(e);
    }
    Ok(Some((created.instance, rx)))
}

/// The receiving end of an instance's channel.
type PushRx = mpsc::UnboundedReceiver<Box<Push>>;

/// The control channel of `instance`: Listen, Disconnect and Close from the server, Connected
/// events to it. Ends when the server closes (or drops) the channel, or when the instance was
/// evicted (its sender dropped).
async fn serve_channel(
    stream: &UnixStream,
    shared: &Shared,
    caller: &Caller,
    instance: InstanceId,
    mut reader: FrameReader,
    mut rx: PushRx,
) -> Result<(), ConnError> {
    loop {
        tokio::select! {
            req = reader.next(stream) => {
                let reply = match req? {
                    None => return Ok(()),
                    Some(Request::Listen) => {
                        let mut b = shared.lock();
                        let r = b.ns.listen(instance);
                        b.dispatch_waits();
                        match r {
                            Ok(epoch) => Reply::Listening { epoch },
                            Err(e) => Reply::Error(e),
                        }
                    }
                    Some(Request::Disconnect { epoch }) => {
                        match shared.lock().ns.disconnect(instance, epoch) {
                            Ok(applied) => Reply::Disconnected { applied },
                            Err(e) => Reply::Error(e),
                        }
                    }
                    Some(Request::GetSecurity { name: None, info }) => {
                        match shared.lock().ns.query_security_of(instance, info) {
                            Ok(sd) => Reply::Security { sddl: sd.to_sddl() },
                            Err(e) => Reply::Error(e),
                        }
                    }
                    Some(Request::SetSecurity { name: None, info, sddl }) => {
                        let r = parse_sddl(&sddl).and_then(|sd| {
                            shared.lock().ns.set_security_of(instance, info, &sd, caller)
                        });
                        match r {
                            Ok(()) => Reply::SecuritySet,
                            Err(e) => Reply::Error(e),
                        }
                    }
                    // On a control channel the descriptor is the instance's pipe's.
                    Some(Request::GetSecurity { .. } | Request::SetSecurity { .. }) => {
                        Reply::Error(Win32Error::INVALID_PARAMETER)
                    }
                    Some(Request::Close) => {
                        // Out of the namespace before the answer: an open after the server's
                        // close returned cannot reach this instance. Pushes still queued are
                        // dropped with `rx` (their opens try the next instance).
                        shared.lock().evict(instance);
                        send(stream, &Reply::Closed).await?;
                        return Ok(());
                    }
                    Some(_) => return Err(ConnError::Unexpected),
                };
                send(stream, &reply).await?;
            }
            push = rx.recv() => {
                let Some(push) = push else {
                    debug!(instance, "instance evicted, closing its channel");
                    return Ok(());
                };
                let bytes = push.reply.encode()?;
                let fds = push.fds.each_ref().map(|fd| fd.as_fd());
                write_with_fds(stream, &bytes, &fds).await?;
                let _ = push.delivered.send(());
            }
        }
    }
}

fn created_reply(c: &npfs_core::namespace::Created) -> Reply {
    Reply::Created {
        instance_id: c.instance,
        attrs: c.attrs,
        already_existed: c.already_existed,
    }
}

/// Who an open is for, and what the server is told about it.
#[derive(Debug, Clone)]
struct OpenAs {
    /// Checked against the pipe's descriptor.
    caller: Caller,
    /// Pushed to the server with the connection.
    client: ClientSecurity,
}

/// The caller of an open: the peer itself (from the kernel), or — only when the peer is root
/// — the remote client it vouches for, with its computer name.
///
/// # Errors
///
/// `ERROR_ACCESS_DENIED` when an unprivileged peer claims a remote identity,
/// `ERROR_INVALID_PARAMETER` for a computer name longer than [`MAX_COMPUTER_NAME`].
fn on_behalf_of(
    peer: &Caller,
    remote: Option<(RemoteClient, String)>,
    sqos: u32,
    admin_gids: &[u32],
) -> Result<OpenAs, Win32Error> {
    let Some(remote) = remote else {
        let mut groups: Vec<u32> = peer
            .token
            .groups
            .iter()
            .filter_map(|g| g.as_unix_group())
            .filter(|&g| g != peer.identity.gid)
            .collect();
        groups.truncate(MAX_WIRE_GROUPS);
        return Ok(OpenAs {
            caller: peer.clone(),
            client: ClientSecurity {
                gid: peer.identity.gid,
                groups,
                remote: false,
                anonymous: false,
                sqos,
                granted_access: 0,
                computer_name: String::new(),
            },
        });
    };
    let (remote, computer_name) = remote;
    if peer.identity.uid != 0 {
        return Err(Win32Error::ACCESS_DENIED);
    }
    if computer_name.len() > MAX_COMPUTER_NAME {
        return Err(Win32Error::INVALID_PARAMETER);
    }
    Ok(match remote {
        RemoteClient::Anonymous => OpenAs {
            caller: Caller {
                identity: Identity {
                    pid: peer.identity.pid,
                    uid: ANONYMOUS_ID,
                    gid: ANONYMOUS_ID,
                },
                token: Token::anonymous_remote(),
            },
            client: ClientSecurity {
                gid: ANONYMOUS_ID,
                groups: Vec::new(),
                remote: true,
                anonymous: true,
                sqos,
                granted_access: 0,
                computer_name: computer_name.clone(),
            },
        },
        RemoteClient::User { uid, gid, groups } => OpenAs {
            caller: Caller {
                identity: Identity {
                    pid: peer.identity.pid,
                    uid,
                    gid,
                },
                token: Token::remote(uid, gid, &groups, admin_gids),
            },
            client: ClientSecurity {
                gid,
                groups,
                remote: true,
                anonymous: false,
                sqos,
                granted_access: 0,
                computer_name: computer_name.clone(),
            },
        },
    })
}

/// Parse an SDDL string of a request, resolving user and group names with the system's
/// databases.
///
/// # Errors
///
/// `ERROR_INVALID_PARAMETER` for malformed SDDL or unknown names.
fn parse_sddl(sddl: &str) -> Result<SecurityDescriptor, Win32Error> {
    if sddl.len() > MAX_SDDL_LEN {
        return Err(Win32Error::INVALID_PARAMETER);
    }
    SecurityDescriptor::from_sddl(sddl, &SystemNames)
}

fn parse_optional_sddl(sddl: Option<&str>) -> Result<Option<SecurityDescriptor>, Win32Error> {
    sddl.map(parse_sddl).transpose()
}

/// The namespace key of a client-side name; remote names are not served here.
fn local_key(name: &str) -> Result<String, Win32Error> {
    let name = PipeName::parse(name)?;
    match name.server {
        Server::Local => Ok(name.key()),
        Server::Remote(_) => Err(Win32Error::BAD_NETPATH),
    }
}

async fn send(stream: &UnixStream, reply: &Reply) -> Result<(), ConnError> {
    let bytes = reply.encode()?;
    write_all(stream, &bytes).await?;
    Ok(())
}
