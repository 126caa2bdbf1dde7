//! The pipe namespace: pipes, server instances and their broker-visible states, the FIFO of
//! listening instances, and WaitNamedPipe waiters — what the broker (`npfsd`) runs.
//!
//! This is the FCB/CCB layer of NPFS (spec/api.md §3, spec/conformance.md §1 "Connect /
//! instances", "Instance limits", "WaitNamedPipe") without any I/O: the caller passes the
//! current time in milliseconds and drains completed waits with
//! [`Namespace::poll_wait_completion`].
//!
//! The namespace sees three instance states: [`InstanceState::Listening`],
//! [`InstanceState::Connected`] and [`InstanceState::Disconnected`]. CLOSING (one end closed)
//! is a property of the data path and is only ever reported to the broker as `Connected`
//! until the server disconnects or closes the instance.
//!
//! # Epochs
//!
//! Every instance carries a *listen epoch*. It starts at [`INITIAL_EPOCH`] and grows by one
//! each time the instance goes from DISCONNECTED back to LISTENING. A client open returns the
//! epoch it connected in; a disconnect names the epoch it means, so a disconnect that crossed
//! a later listen on the wire is recognised as stale and ignored.
//!
//! # Security
//!
//! Every pipe holds one [`SecurityDescriptor`], shared by all its instances (spec/api.md
//! §6): the first instance's (assigned: `CO` / `CG` replaced by the creator), or
//! [`SecurityDescriptor::default_for_pipe`] of the creator's user and primary group. The
//! `*_as` operations take a [`Caller`] — the kernel identity and the [`Token`] made from it —
//! and check it as NPFS does: an additional instance needs `FILE_CREATE_PIPE_INSTANCE` (the
//! server's access `| 0x4`) and may not bring its own descriptor; a client open checks its
//! access (`& !0x4`) against the DACL; a remote open of a `PIPE_REJECT_REMOTE_CLIENTS` pipe
//! is refused; reading and changing the descriptor need `READ_CONTROL`, `WRITE_DAC` and
//! `WRITE_OWNER`. WaitNamedPipe needs no access. The plain operations ([`Namespace::open`],
//! [`Namespace::create_instance`], ...) are the same with [`Caller::local`] of the identity
//! alone (no supplementary groups, no administrators).

use std::collections::{BTreeSet, HashMap, VecDeque};

use crate::config::{check_client_access, CreateParams, Direction, PipeAttributes};
use crate::consts::{
    FILE_CREATE_PIPE_INSTANCE, GENERIC_READ, GENERIC_WRITE, PIPE_UNLIMITED_INSTANCES, SYNCHRONIZE,
};
use crate::error::Win32Error;
use crate::security::{
    access_check, access_to_query, access_to_set, check_info, SecurityDescriptor, Token,
    PIPE_MAPPING,
};

/// The listen epoch of a freshly created instance.
pub const INITIAL_EPOCH: u64 = 0;

/// Identifier of a server instance, unique for the life of a [`Namespace`] (never reused).
pub type InstanceId = u64;

/// Identifier of a pending WaitNamedPipe, unique for the life of a [`Namespace`].
pub type WaiterId = u64;

/// Who did something: the kernel credentials of a peer (SO_PEERCRED), never taken from a
/// message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Identity {
    /// Process id.
    pub pid: u32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// Who asks for something, for the access checks: the kernel identity and the token made
/// from it (with its supplementary groups and administrator membership).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The peer's kernel credentials.
    pub identity: Identity,
    /// Its token: a local user ([`Token::from_unix`]), or a remote client vouched for by a
    /// privileged peer ([`Token::remote`], [`Token::anonymous_remote`]).
    pub token: Token,
}

impl Caller {
    /// A local process: [`Token::from_unix`] of its uid, gid and `supplementary` groups;
    /// members of `admin_gids` are Administrators.
    pub fn local(identity: Identity, supplementary: &[u32], admin_gids: &[u32]) -> Caller {
        Caller {
            identity,
            token: Token::from_unix(identity.uid, identity.gid, supplementary, admin_gids),
        }
    }

    /// A remote client (its token holds Network, `NU`).
    pub fn is_remote(&self) -> bool {
        self.token.is_remote()
    }
}

/// The access a server instance asks for, as kernelbase's CreateNamedPipeW passes it:
/// `SYNCHRONIZE`, `GENERIC_READ` for an inbound or duplex pipe, `GENERIC_WRITE` for an
/// outbound or duplex one, and the `WRITE_DAC | WRITE_OWNER | ACCESS_SYSTEM_SECURITY` bits of
/// the open mode.
pub fn server_desired_access(params: &CreateParams) -> u32 {
    let mut a = SYNCHRONIZE | params.options.extra_access;
    if params.attrs.direction != Direction::Outbound {
        a |= GENERIC_READ;
    }
    if params.attrs.direction != Direction::Inbound {
        a |= GENERIC_WRITE;
    }
    a
}

/// State of a server instance as the broker knows it (spec/api.md §3.1, without CLOSING).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstanceState {
    /// `FILE_PIPE_LISTENING_STATE`: waiting for a client; in the listener FIFO.
    Listening,
    /// `FILE_PIPE_CONNECTED_STATE` (or CLOSING, which the broker does not see).
    Connected,
    /// `FILE_PIPE_DISCONNECTED_STATE`: after DisconnectNamedPipe, until ConnectNamedPipe.
    Disconnected,
}

/// The `nTimeOut` of WaitNamedPipe (spec/api.md §2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitTimeout {
    /// `NMPWAIT_USE_DEFAULT_WAIT`: the pipe's `nDefaultTimeOut`.
    Default,
    /// `NMPWAIT_WAIT_FOREVER`: no limit.
    Forever,
    /// A number of milliseconds.
    Millis(u32),
}

/// Result of a successful [`Namespace::create_instance`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Created {
    /// The new instance.
    pub instance: InstanceId,
    /// The pipe's effective attributes (the first instance's, which may differ from the ones
    /// this call asked for).
    pub attrs: PipeAttributes,
    /// Other instances of the name already existed: the caller sets `ERROR_ALREADY_EXISTS` as
    /// last error.
    pub already_existed: bool,
}

/// Result of a successful [`Namespace::open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The instance the client got (now CONNECTED).
    pub instance: InstanceId,
    /// The pipe's attributes.
    pub attrs: PipeAttributes,
    /// Who created that instance.
    pub server: Identity,
    /// The instance's listen epoch the connection belongs to.
    pub epoch: u64,
    /// The access the client's handle holds: its desired access with generic rights mapped
    /// (`MAXIMUM_ALLOWED`: what the DACL grants).
    pub granted: u32,
}

/// Outcome of [`Namespace::wait`] when it did not fail at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStart {
    /// A listening instance exists: WaitNamedPipe succeeds immediately.
    Ready,
    /// The waiter is queued; its result comes out of [`Namespace::poll_wait_completion`].
    Pending(WaiterId),
}

/// A finished wait, drained with [`Namespace::poll_wait_completion`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitCompletion {
    /// Which waiter.
    pub waiter: WaiterId,
    /// `Ok` when an instance became available, `Err(ERROR_SEM_TIMEOUT)` at the deadline.
    pub result: Result<(), Win32Error>,
}

/// One pipe in a [`Namespace::list`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipeSummary {
    /// The name as the first instance spelled it (full form, `\\.\pipe\NAME`).
    pub display_name: String,
    /// The pipe's attributes.
    pub attrs: PipeAttributes,
    /// Number of instances.
    pub instances: u32,
    /// Instances in LISTENING.
    pub listening: u32,
    /// Instances in CONNECTED.
    pub connected: u32,
    /// uid of the process that created the pipe.
    pub owner_uid: u32,
}

/// One instance in [`Namespace::instance_states`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstanceInfo {
    /// The instance.
    pub id: InstanceId,
    /// Its state.
    pub state: InstanceState,
    /// Its listen epoch.
    pub epoch: u64,
    /// Who created it.
    pub server: Identity,
    /// The client connected to it: set by [`Namespace::open`] while the instance is
    /// CONNECTED; `None` otherwise, and for a connected instance reregistered after a broker
    /// restart (the new broker never saw its client).
    pub client: Option<Identity>,
}

/// Everything the broker knows about one pipe ([`Namespace::detail`]): what `npfs info`
/// and `npfs list` show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipeDetail {
    /// The pipe's summary, as in [`Namespace::list`].
    pub summary: PipeSummary,
    /// The first instance asked for `PIPE_REJECT_REMOTE_CLIENTS` (a pipe reregistered after a
    /// broker restart reports `false`: the flag is not part of the reregistration).
    pub reject_remote: bool,
    /// Its instances, in creation order.
    pub instances: Vec<InstanceInfo>,
}

/// A pipe object (NPFS FCB).
#[derive(Debug)]
struct Pipe {
    display_name: String,
    attrs: PipeAttributes,
    owner: Identity,
    /// The one descriptor of the pipe, shared by all its instances.
    sd: SecurityDescriptor,
    /// `PIPE_REJECT_REMOTE_CLIENTS` of the first instance.
    reject_remote: bool,
    /// Every instance of the pipe, in creation order.
    instances: Vec<InstanceId>,
    /// LISTENING instances, earliest to enter LISTENING first.
    listeners: VecDeque<InstanceId>,
}

/// A server instance (NPFS CCB), as far as the namespace cares.
#[derive(Debug)]
struct Instance {
    key: String,
    state: InstanceState,
    epoch: u64,
    server: Identity,
    /// The connected client (see [`InstanceInfo::client`]).
    client: Option<Identity>,
    /// The access the server's handle holds (mapped): what it asked for.
    granted: u32,
}

/// A pending WaitNamedPipe.
#[derive(Debug)]
struct Waiter {
    key: String,
    deadline: Option<u64>,
}

/// The namespace of pipes of one broker.
#[derive(Debug, Default)]
pub struct Namespace {
    pipes: HashMap<String, Pipe>,
    instances: HashMap<InstanceId, Instance>,
    waiters: HashMap<WaiterId, Waiter>,
    /// Waiters by pipe key (kept even when the pipe disappears).
    waiters_by_key: HashMap<String, BTreeSet<WaiterId>>,
    /// Waiters with a deadline, earliest first.
    deadlines: BTreeSet<(u64, WaiterId)>,
    completions: VecDeque<WaitCompletion>,
    next_instance: InstanceId,
    next_waiter: WaiterId,
}

impl Namespace {
    /// An empty namespace.
    pub fn new() -> Namespace {
        Namespace {
            next_instance: 1,
            next_waiter: 1,
            ..Namespace::default()
        }
    }

    /// CreateNamedPipe: a new instance of `key` in LISTENING, appended to the listener FIFO;
    /// wakes every waiter of the name.
    ///
    /// `display_name` is kept for listings when this call creates the pipe.
    ///
    /// # Errors
    ///
    /// Checked in NPFS's order (`NpCreateExistingNamedPipe`):
    /// - `ERROR_PIPE_BUSY`: the pipe already has `max_instances` instances (255 = unlimited).
    /// - `ERROR_ACCESS_DENIED`: `FILE_FLAG_FIRST_PIPE_INSTANCE` and the name exists.
    /// - `ERROR_ACCESS_DENIED`: the direction differs from the pipe's.
    ///
    /// Type, maximum instances, quotas and time-out of later instances are not compared.
    ///
    /// This is [`Namespace::create_instance_as`] with [`Caller::local`] of `server` and the
    /// default descriptor.
    pub fn create_instance(
        &mut self,
        key: &str,
        display_name: &str,
        params: &CreateParams,
        server: Identity,
    ) -> Result<Created, Win32Error> {
        self.create_instance_as(
            key,
            display_name,
            params,
            &Caller::local(server, &[], &[]),
            None,
        )
    }

    /// CreateNamedPipe by `caller`, with the descriptor of its `lpSecurityAttributes`
    /// (`None`: the default one).
    ///
    /// A new pipe takes `sd` assigned to the caller (`CO` / `CG` replaced, an absent owner
    /// or group filled in), or [`SecurityDescriptor::default_for_pipe`] of the caller's user
    /// and primary group. The caller's instance holds the access it asks for
    /// ([`server_desired_access`]).
    ///
    /// # Errors
    ///
    /// As [`Namespace::create_instance`], and, when the pipe exists, after the instance
    /// limit and FIRST_PIPE_INSTANCE:
    /// - `ERROR_ACCESS_DENIED`: the pipe's DACL does not grant the caller its access plus
    ///   `FILE_CREATE_PIPE_INSTANCE` (no squatting on another user's pipe);
    /// - `ERROR_ACCESS_DENIED`: `sd` is given (an additional instance may not bring its own
    ///   descriptor, conformance test_security_info).
    ///
    /// For a new pipe: [`crate::security::ERROR_INVALID_OWNER`] when `sd` names an owner the
    /// caller may not give ([`Token::may_own`]).
    pub fn create_instance_as(
        &mut self,
        key: &str,
        display_name: &str,
        params: &CreateParams,
        caller: &Caller,
        sd: Option<SecurityDescriptor>,
    ) -> Result<Created, Win32Error> {
        let desired = server_desired_access(params);
        let (already_existed, granted) = if let Some(pipe) = self.pipes.get(key) {
            if !below_limit(&pipe.attrs, pipe.instances.len()) {
                return Err(Win32Error::PIPE_BUSY);
            }
            if params.options.first_instance {
                return Err(Win32Error::ACCESS_DENIED);
            }
            let granted = access_check(
                &pipe.sd,
                &caller.token,
                desired | FILE_CREATE_PIPE_INSTANCE,
                &PIPE_MAPPING,
            )?;
            if sd.is_some() {
                return Err(Win32Error::ACCESS_DENIED);
            }
            if pipe.attrs.direction != params.attrs.direction {
                return Err(Win32Error::ACCESS_DENIED);
            }
            (true, granted & !FILE_CREATE_PIPE_INSTANCE)
        } else {
            let sd = new_descriptor(&caller.token, sd)?;
            let mut pipe = Pipe::new(display_name, params.attrs, caller.identity, sd);
            pipe.reject_remote = params.options.reject_remote;
            self.pipes.insert(key.to_owned(), pipe);
            (false, PIPE_MAPPING.map(desired))
        };
        let instance = self.add_instance(
            key,
            InstanceState::Listening,
            INITIAL_EPOCH,
            caller.identity,
            granted,
        );
        let attrs = self.pipes[key].attrs;
        Ok(Created {
            instance,
            attrs,
            already_existed,
        })
    }

    /// A live server instance registering again after a broker restart, with the pipe's
    /// attributes, its listen epoch and its state as the server knows them.
    ///
    /// If the pipe does not exist it is created with `attrs` (there is no FIRST_PIPE_INSTANCE
    /// check: the instance existed before). Otherwise the instance joins it; the instance
    /// limit is **not** applied (the instance already existed, refusing it would destroy a
    /// live pipe end), but the direction must match the pipe's, else `ERROR_ACCESS_DENIED`
    /// (a different pipe took the name meanwhile). A LISTENING instance enters the FIFO behind
    /// the current listeners and wakes waiters.
    ///
    /// This is [`Namespace::reregister_as`] with [`Caller::local`] of `server`, no descriptor,
    /// the server's full access and no remote-client flag.
    pub fn reregister(
        &mut self,
        key: &str,
        display_name: &str,
        attrs: PipeAttributes,
        state: InstanceState,
        epoch: u64,
        server: Identity,
    ) -> Result<Created, Win32Error> {
        let access = Reregistration {
            desired: GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE,
            sd: None,
            reject_remote: false,
        };
        self.reregister_as(
            key,
            display_name,
            attrs,
            state,
            epoch,
            &Caller::local(server, &[], &[]),
            access,
        )
    }

    /// [`Namespace::reregister`] by `caller`, with what the instance knows of the pipe's
    /// security. A pipe created by the reregistration takes `how.sd` (assigned, or the
    /// default descriptor) and `how.reject_remote`. Joining an existing pipe needs
    /// `FILE_CREATE_PIPE_INSTANCE` (plus `how.desired`) in its DACL, as creating an instance
    /// does; the descriptor the instance brings is then ignored (the pipe's wins).
    ///
    /// # Errors
    ///
    /// As [`Namespace::reregister`]; `ERROR_ACCESS_DENIED` when the pipe's DACL refuses the
    /// caller; [`crate::security::ERROR_INVALID_OWNER`] as in
    /// [`Namespace::create_instance_as`].
    #[allow(clippy::too_many_arguments)]
    pub fn reregister_as(
        &mut self,
        key: &str,
        display_name: &str,
        attrs: PipeAttributes,
        state: InstanceState,
        epoch: u64,
        caller: &Caller,
        how: Reregistration,
    ) -> Result<Created, Win32Error> {
        let (already_existed, granted) = if let Some(pipe) = self.pipes.get(key) {
            if pipe.attrs.direction != attrs.direction {
                return Err(Win32Error::ACCESS_DENIED);
            }
            let granted = access_check(
                &pipe.sd,
                &caller.token,
                how.desired | FILE_CREATE_PIPE_INSTANCE,
                &PIPE_MAPPING,
            )?;
            (true, granted & !FILE_CREATE_PIPE_INSTANCE)
        } else {
            let sd = new_descriptor(&caller.token, how.sd)?;
            let mut pipe = Pipe::new(display_name, attrs, caller.identity, sd);
            pipe.reject_remote = how.reject_remote;
            self.pipes.insert(key.to_owned(), pipe);
            (false, PIPE_MAPPING.map(how.desired))
        };
        let instance = self.add_instance(key, state, epoch, caller.identity, granted);
        let attrs = self.pipes[key].attrs;
        Ok(Created {
            instance,
            attrs,
            already_existed,
        })
    }

    fn add_instance(
        &mut self,
        key: &str,
        state: InstanceState,
        epoch: u64,
        server: Identity,
        granted: u32,
    ) -> InstanceId {
        let id = self.next_instance;
        self.next_instance += 1;
        self.instances.insert(
            id,
            Instance {
                key: key.to_owned(),
                state,
                epoch,
                server,
                client: None,
                granted,
            },
        );
        let pipe = self.pipes.get_mut(key).expect("pipe exists");
        pipe.instances.push(id);
        if state == InstanceState::Listening {
            pipe.listeners.push_back(id);
            self.wake_waiters(key);
        }
        id
    }

    /// A client's CreateFile: the listening instance that entered LISTENING earliest becomes
    /// CONNECTED.
    ///
    /// # Errors
    ///
    /// - `ERROR_FILE_NOT_FOUND`: no pipe of that name.
    /// - `ERROR_ACCESS_DENIED`: `desired_access` does not fit the pipe's direction.
    /// - `ERROR_PIPE_BUSY`: no instance is listening.
    ///
    /// This is [`Namespace::open_as`] with [`Caller::local`] of `client`.
    pub fn open(
        &mut self,
        key: &str,
        desired_access: u32,
        client: Identity,
    ) -> Result<Opened, Win32Error> {
        self.open_as(key, desired_access, &Caller::local(client, &[], &[]))
    }

    /// A client's CreateFile by `caller`, checked against the pipe's descriptor.
    ///
    /// # Errors
    ///
    /// In this order:
    /// - `ERROR_FILE_NOT_FOUND`: no pipe of that name.
    /// - `ERROR_ACCESS_DENIED`: a remote caller and the pipe has `PIPE_REJECT_REMOTE_CLIENTS`.
    /// - `ERROR_ACCESS_DENIED`: the DACL does not grant `desired_access` (generic rights
    ///   mapped, then `& !0x4`: NPFS leaves `FILE_CREATE_PIPE_INSTANCE`, which
    ///   `FILE_GENERIC_WRITE` holds as `FILE_APPEND_DATA`, out for clients).
    /// - `ERROR_ACCESS_DENIED`: `desired_access` does not fit the pipe's direction.
    /// - `ERROR_PIPE_BUSY`: no instance is listening.
    pub fn open_as(
        &mut self,
        key: &str,
        desired_access: u32,
        caller: &Caller,
    ) -> Result<Opened, Win32Error> {
        let client = caller.identity;
        let pipe = self.pipes.get_mut(key).ok_or(Win32Error::FILE_NOT_FOUND)?;
        if pipe.reject_remote && caller.is_remote() {
            return Err(Win32Error::ACCESS_DENIED);
        }
        // The DACL is asked for everything but FILE_CREATE_PIPE_INSTANCE (NPFS); the handle
        // still holds that bit (FILE_APPEND_DATA) when it was asked for (CreatePipe's write end).
        let checked = access_check(
            &pipe.sd,
            &caller.token,
            PIPE_MAPPING.map(desired_access) & !FILE_CREATE_PIPE_INSTANCE,
            &PIPE_MAPPING,
        )?;
        let granted = checked | (PIPE_MAPPING.map(desired_access) & FILE_CREATE_PIPE_INSTANCE);
        check_client_access(pipe.attrs.direction, desired_access)?;
        let id = pipe.listeners.pop_front().ok_or(Win32Error::PIPE_BUSY)?;
        let attrs = pipe.attrs;
        let inst = self.instances.get_mut(&id).expect("listener exists");
        debug_assert_eq!(inst.state, InstanceState::Listening);
        inst.state = InstanceState::Connected;
        inst.client = Some(client);
        Ok(Opened {
            instance: id,
            attrs,
            server: inst.server,
            epoch: inst.epoch,
            granted,
        })
    }

    /// ConnectNamedPipe as the broker sees it: DISCONNECTED → LISTENING (new epoch, back of
    /// the FIFO, wakes waiters); LISTENING stays as it is. Returns the current epoch.
    ///
    /// # Errors
    ///
    /// - `ERROR_INVALID_HANDLE`: no such instance.
    /// - `ERROR_PIPE_CONNECTED`: a client is connected (the server will hear about it).
    pub fn listen(&mut self, instance: InstanceId) -> Result<u64, Win32Error> {
        let inst = self
            .instances
            .get_mut(&instance)
            .ok_or(Win32Error::INVALID_HANDLE)?;
        match inst.state {
            InstanceState::Listening => Ok(inst.epoch),
            InstanceState::Connected => Err(Win32Error::PIPE_CONNECTED),
            InstanceState::Disconnected => {
                inst.state = InstanceState::Listening;
                inst.client = None;
                inst.epoch += 1;
                let epoch = inst.epoch;
                let key = inst.key.clone();
                let pipe = self.pipes.get_mut(&key).expect("pipe exists");
                pipe.listeners.push_back(instance);
                self.wake_waiters(&key);
                Ok(epoch)
            }
        }
    }

    /// DisconnectNamedPipe as the broker sees it: the instance goes to DISCONNECTED (and
    /// leaves the FIFO) if `epoch` is its current epoch. A stale epoch is ignored and reported
    /// as `false`.
    ///
    /// # Errors
    ///
    /// - `ERROR_INVALID_HANDLE`: no such instance.
    pub fn disconnect(&mut self, instance: InstanceId, epoch: u64) -> Result<bool, Win32Error> {
        let inst = self
            .instances
            .get_mut(&instance)
            .ok_or(Win32Error::INVALID_HANDLE)?;
        if inst.epoch != epoch {
            return Ok(false);
        }
        if inst.state == InstanceState::Listening {
            let pipe = self.pipes.get_mut(&inst.key).expect("pipe exists");
            pipe.listeners.retain(|&id| id != instance);
        }
        inst.state = InstanceState::Disconnected;
        inst.client = None;
        Ok(true)
    }

    /// The server closed the instance: it is removed, and the pipe with its last instance (a
    /// later CreateNamedPipe starts a fresh pipe). Unknown ids are ignored.
    pub fn close_instance(&mut self, instance: InstanceId) {
        let Some(inst) = self.instances.remove(&instance) else {
            return;
        };
        let pipe = self.pipes.get_mut(&inst.key).expect("pipe exists");
        pipe.instances.retain(|&id| id != instance);
        pipe.listeners.retain(|&id| id != instance);
        if pipe.instances.is_empty() {
            self.pipes.remove(&inst.key);
        }
    }

    /// WaitNamedPipe at time `now_ms`.
    ///
    /// # Errors
    ///
    /// - `ERROR_FILE_NOT_FOUND`: no pipe of that name, whatever the time-out (also 0).
    pub fn wait(
        &mut self,
        key: &str,
        timeout: WaitTimeout,
        now_ms: u64,
    ) -> Result<WaitStart, Win32Error> {
        let pipe = self.pipes.get(key).ok_or(Win32Error::FILE_NOT_FOUND)?;
        if !pipe.listeners.is_empty() {
            return Ok(WaitStart::Ready);
        }
        let deadline = match timeout {
            WaitTimeout::Default => {
                Some(now_ms.saturating_add(pipe.attrs.default_timeout_ms.into()))
            }
            WaitTimeout::Forever => None,
            WaitTimeout::Millis(ms) => Some(now_ms.saturating_add(ms.into())),
        };
        let id = self.next_waiter;
        self.next_waiter += 1;
        self.waiters.insert(
            id,
            Waiter {
                key: key.to_owned(),
                deadline,
            },
        );
        self.waiters_by_key
            .entry(key.to_owned())
            .or_default()
            .insert(id);
        if let Some(d) = deadline {
            self.deadlines.insert((d, id));
        }
        Ok(WaitStart::Pending(id))
    }

    /// Forget a pending waiter (its client went away). Unknown ids are ignored; an already
    /// queued completion stays queued.
    pub fn cancel_wait(&mut self, waiter: WaiterId) {
        self.remove_waiter(waiter);
    }

    /// Complete every waiter whose deadline is at or before `now_ms` with `ERROR_SEM_TIMEOUT`.
    pub fn expire(&mut self, now_ms: u64) {
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now_ms {
                break;
            }
            self.remove_waiter(id);
            self.completions.push_back(WaitCompletion {
                waiter: id,
                result: Err(Win32Error::SEM_TIMEOUT),
            });
        }
    }

    /// The earliest waiter deadline, if any: call [`Namespace::expire`] then.
    #[must_use]
    pub fn next_deadline(&self) -> Option<u64> {
        self.deadlines.first().map(|&(d, _)| d)
    }

    /// The next finished wait, in completion order.
    #[must_use]
    pub fn poll_wait_completion(&mut self) -> Option<WaitCompletion> {
        self.completions.pop_front()
    }

    fn wake_waiters(&mut self, key: &str) {
        let Some(ids) = self.waiters_by_key.remove(key) else {
            return;
        };
        for id in ids {
            if let Some(w) = self.waiters.remove(&id) {
                if let Some(d) = w.deadline {
                    self.deadlines.remove(&(d, id));
                }
                self.completions.push_back(WaitCompletion {
                    waiter: id,
                    result: Ok(()),
                });
            }
        }
    }

    fn remove_waiter(&mut self, id: WaiterId) {
        let Some(w) = self.waiters.remove(&id) else {
            return;
        };
        if let Some(d) = w.deadline {
            self.deadlines.remove(&(d, id));
        }
        if let Some(set) = self.waiters_by_key.get_mut(&w.key) {
            set.remove(&id);
            if set.is_empty() {
                self.waiters_by_key.remove(&w.key);
            }
        }
    }

    /// The descriptor of pipe `key`, if it exists (no access check: for the broker's own
    /// use and tests).
    pub fn security(&self, key: &str) -> Option<&SecurityDescriptor> {
        self.pipes.get(key).map(|p| &p.sd)
    }

    /// GetSecurityInfo by name: the parts `info` of the pipe's descriptor, if the DACL grants
    /// `caller` what reading them needs (`READ_CONTROL`; `ACCESS_SYSTEM_SECURITY` for the
    /// SACL) — as if the caller opened the pipe for exactly that access.
    ///
    /// # Errors
    ///
    /// `ERROR_INVALID_PARAMETER` (bad `info`), `ERROR_FILE_NOT_FOUND`, `ERROR_ACCESS_DENIED`.
    pub fn query_security(
        &self,
        key: &str,
        info: u32,
        caller: &Caller,
    ) -> Result<SecurityDescriptor, Win32Error> {
        check_info(info)?;
        let pipe = self.pipes.get(key).ok_or(Win32Error::FILE_NOT_FOUND)?;
        access_check(
            &pipe.sd,
            &caller.token,
            access_to_query(info),
            &PIPE_MAPPING,
        )?;
        Ok(pipe.sd.parts(info))
    }

    /// GetSecurityInfo on a server handle: the parts `info` of its pipe's descriptor, if the
    /// instance's access holds what reading them needs.
    ///
    /// # Errors
    ///
    /// `ERROR_INVALID_PARAMETER`, `ERROR_INVALID_HANDLE` (no such instance),
    /// `ERROR_ACCESS_DENIED`.
    pub fn query_security_of(
        &self,
        instance: InstanceId,
        info: u32,
    ) -> Result<SecurityDescriptor, Win32Error> {
        check_info(info)?;
        let inst = self
            .instances
            .get(&instance)
            .ok_or(Win32Error::INVALID_HANDLE)?;
        if inst.granted & access_to_query(info) != access_to_query(info) {
            return Err(Win32Error::ACCESS_DENIED);
        }
        Ok(self.pipes[&inst.key].sd.parts(info))
    }

    /// SetSecurityInfo by name: replace the parts `info` of the pipe's descriptor by those of
    /// `new`, if the DACL grants `caller` what writing them needs (`WRITE_OWNER` for owner
    /// and group, `WRITE_DAC` for the DACL, `ACCESS_SYSTEM_SECURITY` for the SACL). Every
    /// instance (and every later open) sees the change at once.
    ///
    /// # Errors
    ///
    /// `ERROR_INVALID_PARAMETER`, `ERROR_FILE_NOT_FOUND`, `ERROR_ACCESS_DENIED`,
    /// [`crate::security::ERROR_INVALID_OWNER`] (see [`SecurityDescriptor::apply`]).
    pub fn set_security(
        &mut self,
        key: &str,
        info: u32,
        new: &SecurityDescriptor,
        caller: &Caller,
    ) -> Result<(), Win32Error> {
        check_info(info)?;
        let pipe = self.pipes.get_mut(key).ok_or(Win32Error::FILE_NOT_FOUND)?;
        access_check(&pipe.sd, &caller.token, access_to_set(info), &PIPE_MAPPING)?;
        pipe.sd.apply(info, new, &caller.token)
    }

    /// SetSecurityInfo on a server handle, by `caller` (who owns the handle): the instance's
    /// access must hold what writing `info` needs (it asked for `WRITE_DAC` / `WRITE_OWNER`
    /// in CreateNamedPipe's open mode).
    ///
    /// # Errors
    ///
    /// `ERROR_INVALID_PARAMETER`, `ERROR_INVALID_HANDLE`, `ERROR_ACCESS_DENIED`,
    /// [`crate::security::ERROR_INVALID_OWNER`].
    pub fn set_security_of(
        &mut self,
        instance: InstanceId,
        info: u32,
        new: &SecurityDescriptor,
        caller: &Caller,
    ) -> Result<(), Win32Error> {
        check_info(info)?;
        let inst = self
            .instances
            .get(&instance)
            .ok_or(Win32Error::INVALID_HANDLE)?;
        if inst.granted & access_to_set(info) != access_to_set(info) {
            return Err(Win32Error::ACCESS_DENIED);
        }
        let pipe = self.pipes.get_mut(&inst.key).expect("pipe exists");
        pipe.sd.apply(info, new, &caller.token)
    }

    /// The access the server handle of `instance` holds (mapped).
    pub fn instance_access(&self, instance: InstanceId) -> Option<u32> {
        self.instances.get(&instance).map(|i| i.granted)
    }

    /// The name key of the pipe `instance` belongs to.
    pub fn instance_key(&self, instance: InstanceId) -> Option<&str> {
        self.instances.get(&instance).map(|i| i.key.as_str())
    }

    /// Every pipe, sorted by display name.
    pub fn list(&self) -> Vec<PipeSummary> {
        let mut out: Vec<PipeSummary> = self.pipes.values().map(|p| self.summary(p)).collect();
        out.sort_by(|a, b| a.display_name.cmp(&b.display_name));
        out
    }

    fn summary(&self, p: &Pipe) -> PipeSummary {
        let count = |s| {
            p.instances
                .iter()
                .filter(|id| self.instances[id].state == s)
                .count() as u32
        };
        PipeSummary {
            display_name: p.display_name.clone(),
            attrs: p.attrs,
            instances: p.instances.len() as u32,
            listening: count(InstanceState::Listening),
            connected: count(InstanceState::Connected),
            owner_uid: p
                .sd
                .owner
                .as_ref()
                .and_then(|o| o.as_unix_user())
                .unwrap_or(p.owner.uid),
        }
    }

    fn detail_of(&self, p: &Pipe) -> PipeDetail {
        PipeDetail {
            summary: self.summary(p),
            reject_remote: p.reject_remote,
            instances: p.instances.iter().map(|&id| self.info(id)).collect(),
        }
    }

    /// Summary, remote-client flag and instance states of `key`, if the pipe exists.
    pub fn detail(&self, key: &str) -> Option<PipeDetail> {
        self.pipes.get(key).map(|p| self.detail_of(p))
    }

    /// [`Namespace::detail`] of every pipe, sorted by display name.
    pub fn details(&self) -> Vec<PipeDetail> {
        let mut out: Vec<PipeDetail> = self.pipes.values().map(|p| self.detail_of(p)).collect();
        out.sort_by(|a, b| a.summary.display_name.cmp(&b.summary.display_name));
        out
    }

    /// Number of instances of `key` (GetNamedPipeHandleState's `lpCurInstances`); `None` when
    /// the pipe does not exist.
    pub fn instance_count(&self, key: &str) -> Option<u32> {
        self.pipes.get(key).map(|p| p.instances.len() as u32)
    }

    /// The pipe's attributes, if it exists.
    pub fn attributes(&self, key: &str) -> Option<PipeAttributes> {
        self.pipes.get(key).map(|p| p.attrs)
    }

    /// The instances of `key`, in creation order (empty when the pipe does not exist).
    pub fn instance_states(&self, key: &str) -> Vec<InstanceInfo> {
        self.pipes
            .get(key)
            .map(|p| p.instances.iter().map(|&id| self.info(id)).collect())
            .unwrap_or_default()
    }

    /// One instance, if it exists.
    pub fn instance(&self, id: InstanceId) -> Option<InstanceInfo> {
        self.instances.contains_key(&id).then(|| self.info(id))
    }

    fn info(&self, id: InstanceId) -> InstanceInfo {
        let i = &self.instances[&id];
        InstanceInfo {
            id,
            state: i.state,
            epoch: i.epoch,
            server: i.server,
            client: i.client,
        }
    }

    /// Number of pending waiters.
    pub fn waiter_count(&self) -> usize {
        self.waiters.len()
    }

    /// No pipes and no pending waiters (the broker may exit when it also has no clients).
    pub fn is_idle(&self) -> bool {
        self.pipes.is_empty() && self.waiters.is_empty()
    }

    /// Check every internal invariant; panics with a description when one is broken. For
    /// tests and debug assertions.
    pub fn check_invariants(&self) {
        let mut seen = 0usize;
        for (key, pipe) in &self.pipes {
            assert!(!pipe.instances.is_empty(), "pipe {key} without instances");
            seen += pipe.instances.len();
            let listening: Vec<_> = pipe
                .instances
                .iter()
                .copied()
                .filter(|id| self.instances[id].state == InstanceState::Listening)
                .collect();
            assert_eq!(
                listening.len(),
                pipe.listeners.len(),
                "FIFO of {key} does not hold exactly its listening instances"
            );
            for id in &pipe.listeners {
                assert!(
                    listening.contains(id),
                    "non-listening {id} in FIFO of {key}"
                );
            }
            for id in &pipe.instances {
                let inst = &self.instances[id];
                assert_eq!(&inst.key, key, "instance {id} in wrong pipe");
                assert!(
                    inst.client.is_none() || inst.state == InstanceState::Connected,
                    "instance {id} has a client but is not connected"
                );
            }
            if !pipe.listeners.is_empty() {
                assert!(
                    !self.waiters_by_key.contains_key(key),
                    "waiters on {key} while an instance listens"
                );
            }
        }
        assert_eq!(seen, self.instances.len(), "orphan instances");
        assert!(
            self.waiters_by_key.values().all(|s| !s.is_empty()),
            "empty waiter set kept"
        );
        let indexed: usize = self.waiters_by_key.values().map(|s| s.len()).sum();
        assert_eq!(indexed, self.waiters.len(), "waiter index out of sync");
        let timed = self
            .waiters
            .values()
            .filter(|w| w.deadline.is_some())
            .count();
        assert_eq!(timed, self.deadlines.len(), "deadline index out of sync");
    }
}

/// What a reregistering instance knows of its pipe's security
/// ([`Namespace::reregister_as`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reregistration {
    /// The access the instance asks for ([`server_desired_access`] of its creation).
    pub desired: u32,
    /// The pipe's descriptor as the instance last knew it (`None`: the default one).
    pub sd: Option<SecurityDescriptor>,
    /// `PIPE_REJECT_REMOTE_CLIENTS` of the pipe.
    pub reject_remote: bool,
}

/// The descriptor of a new pipe created by `token`: `sd` assigned, or the default one.
fn new_descriptor(
    token: &Token,
    sd: Option<SecurityDescriptor>,
) -> Result<SecurityDescriptor, Win32Error> {
    match sd {
        None => Ok(SecurityDescriptor::default_for_pipe(
            token.user.clone(),
            token.primary_group.clone(),
        )),
        Some(sd) => {
            if let Some(owner) = &sd.owner {
                if !token.may_own(owner) {
                    return Err(crate::security::ERROR_INVALID_OWNER);
                }
            }
            Ok(sd.assign(&token.user, &token.primary_group))
        }
    }
}

impl Pipe {
    fn new(
        display_name: &str,
        attrs: PipeAttributes,
        owner: Identity,
        sd: SecurityDescriptor,
    ) -> Pipe {
        Pipe {
            display_name: display_name.to_owned(),
            attrs,
            owner,
            sd,
            reject_remote: false,
            instances: Vec::new(),
            listeners: VecDeque::new(),
        }
    }
}

/// Room for one more instance under the pipe's limit (255 = unlimited).
fn below_limit(attrs: &PipeAttributes, count: usize) -> bool {
    attrs.max_instances >= PIPE_UNLIMITED_INSTANCES || count < attrs.max_instances as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Direction, InstanceOptions, PipeType, ReadMode};
    use crate::consts::{GENERIC_READ, GENERIC_WRITE};
    use proptest::prelude::*;

    const RW: u32 = GENERIC_READ | GENERIC_WRITE;
    const SERVER: Identity = Identity {
        pid: 100,
        uid: 1000,
        gid: 1000,
    };
    const CLIENT: Identity = Identity {
        pid: 200,
        uid: 1000,
        gid: 1000,
    };

    fn attrs(direction: Direction, max_instances: u32) -> PipeAttributes {
        PipeAttributes {
            direction,
            pipe_type: PipeType::Byte,
            max_instances,
            out_quota: 1024,
            in_quota: 1024,
            default_timeout_ms: 50,
        }
    }

    fn params(direction: Direction, max_instances: u32) -> CreateParams {
        CreateParams {
            attrs: attrs(direction, max_instances),
            options: InstanceOptions {
                first_instance: false,
                write_through: false,
                overlapped: false,
                read_mode: ReadMode::Byte,
                nowait: false,
                reject_remote: false,
                extra_access: 0,
            },
        }
    }

    fn duplex(max: u32) -> CreateParams {
        params(Direction::Duplex, max)
    }

    fn create(ns: &mut Namespace, key: &str, p: &CreateParams) -> Result<Created, Win32Error> {
        let r = ns.create_instance(key, &format!("\\\\.\\pipe\\{key}"), p, SERVER);
        ns.check_invariants();
        r
    }

    fn completions(ns: &mut Namespace) -> Vec<WaitCompletion> {
        std::iter::from_fn(|| ns.poll_wait_completion()).collect()
    }

    fn state(ns: &Namespace, id: InstanceId) -> InstanceState {
        ns.instance(id).unwrap().state
    }

    // ---------------------------------------------------------------- CreateNamedPipe

    /// `detail` reports the remote-client flag and each instance's state, server and client.
    #[test]
    fn detail_reports_instances_and_clients() {
        let mut ns = Namespace::new();
        let mut p = duplex(3);
        p.options.reject_remote = true;
        let a = create(&mut ns, "d", &p).unwrap();
        let b = create(&mut ns, "d", &duplex(3)).unwrap();
        let o = ns.open("d", RW, CLIENT).unwrap();
        assert_eq!(o.instance, a.instance);
        ns.check_invariants();
        let d = ns.detail("d").unwrap();
        assert!(d.reject_remote, "the first instance's flag wins");
        assert_eq!(d.summary, ns.list()[0]);
        assert_eq!(d.instances.len(), 2);
        assert_eq!(d.instances[0].id, a.instance);
        assert_eq!(d.instances[0].state, InstanceState::Connected);
        assert_eq!(d.instances[0].server, SERVER);
        assert_eq!(d.instances[0].client, Some(CLIENT));
        assert_eq!(d.instances[1].id, b.instance);
        assert_eq!(d.instances[1].state, InstanceState::Listening);
        assert_eq!(d.instances[1].client, None);
        assert!(ns.disconnect(a.instance, o.epoch).unwrap());
        ns.check_invariants();
        assert_eq!(ns.detail("d").unwrap().instances[0].client, None);
        assert_eq!(ns.details(), vec![ns.detail("d").unwrap()]);
        assert_eq!(ns.detail("nope"), None);
        assert!(!create(&mut ns, "e", &duplex(1))
            .map(|_| ns.detail("e").unwrap().reject_remote)
            .unwrap());
    }

    /// §3.2: a new instance starts in LISTENING; a client may connect before
    /// ConnectNamedPipe.
    #[test]
    fn create_starts_listening_and_is_openable() {
        let mut ns = Namespace::new();
        let c = create(&mut ns, "a", &duplex(1)).unwrap();
        assert!(!c.already_existed);
        assert_eq!(state(&ns, c.instance), InstanceState::Listening);
        assert_eq!(ns.instance(c.instance).unwrap().epoch, INITIAL_EPOCH);
        let o = ns.open("a", RW, CLIENT).unwrap();
        assert_eq!(o.instance, c.instance);
        assert_eq!(o.server, SERVER);
        assert_eq!(o.epoch, INITIAL_EPOCH);
        assert_eq!(state(&ns, c.instance), InstanceState::Connected);
        ns.check_invariants();
    }

    /// instances_must_match: two identical instances with nMaxInstances=2 both succeed, and
    /// kernelbase reports ERROR_ALREADY_EXISTS for the second.
    #[test]
    fn second_instance_reports_already_existed() {
        let mut ns = Namespace::new();
        assert!(!create(&mut ns, "a", &duplex(2)).unwrap().already_existed);
        assert!(create(&mut ns, "a", &duplex(2)).unwrap().already_existed);
        assert_eq!(ns.instance_count("a"), Some(2));
    }

    /// instances_must_match: nMaxInstances=1 and a second instance → ERROR_PIPE_BUSY.
    #[test]
    fn over_instance_limit_is_busy() {
        let mut ns = Namespace::new();
        create(&mut ns, "a", &duplex(1)).unwrap();
        assert_eq!(create(&mut ns, "a", &duplex(1)), Err(Win32Error::PIPE_BUSY));
        assert_eq!(ns.instance_count("a"), Some(1));
    }

    /// §2.1: 255 means unlimited.
    #[test]
    fn unlimited_instances() {
        let mut ns = Namespace::new();
        for _ in 0..300 {
            create(&mut ns, "a", &duplex(255)).unwrap();
        }
        assert_eq!(ns.instance_count("a"), Some(300));
    }

    /// instances_must_match: first DUPLEX, second INBOUND → ERROR_ACCESS_DENIED.
    #[test]
    fn different_direction_is_denied() {
        let mut ns = Namespace::new();
        create(&mut ns, "a", &duplex(2)).unwrap();
        let r = create(&mut ns, "a", &params(Direction::Inbound, 2));
        assert_eq!(r, Err(Win32Error::ACCESS_DENIED));
    }

    /// test_pipe_local_info: a different direction while the instance limit is reached gives
    /// STATUS_INSTANCE_NOT_AVAILABLE — the limit is checked before the direction (NPFS).
    #[test]
    fn limit_checked_before_direction() {
        let mut ns = Namespace::new();
        create(&mut ns, "a", &params(Direction::Outbound, 1)).unwrap();
        let r = create(&mut ns, "a", &params(Direction::Inbound, 1));
        assert_eq!(r, Err(Win32Error::PIPE_BUSY));
    }

    /// §2.1: FILE_FLAG_FIRST_PIPE_INSTANCE and the pipe exists → ERROR_ACCESS_DENIED; on a new
    /// name it succeeds.
    #[test]
    fn first_pipe_instance() {
        let mut ns = Namespace::new();
        let mut p = duplex(3);
        p.options.first_instance = true;
        create(&mut ns, "a", &p).unwrap();
        assert_eq!(create(&mut ns, "a", &p), Err(Win32Error::ACCESS_DENIED));
        assert_eq!(ns.instance_count("a"), Some(1));
    }

    /// NPFS: the instance limit is checked before FILE_CREATE (first instance).
    #[test]
    fn limit_checked_before_first_instance() {
        let mut ns = Namespace::new();
        create(&mut ns, "a", &duplex(1)).unwrap();
        let mut p = duplex(1);
        p.options.first_instance = true;
        assert_eq!(create(&mut ns, "a", &p), Err(Win32Error::PIPE_BUSY));
    }

    /// instances_must_match: type, max instances, quotas and time-out of a later instance are
    /// not compared; the first instance's values (and limit) govern.
    #[test]
    fn first_instance_attributes_win() {
        let mut ns = Namespace::new();
        let first = duplex(4);
        create(&mut ns, "a", &first).unwrap();
        let mut second = duplex(3);
        second.attrs.pipe_type = PipeType::Message;
        second.attrs.out_quota = 102;
        second.attrs.in_quota = 24;
        second.attrs.default_timeout_ms = 1234;
        let c = create(&mut ns, "a", &second).unwrap();
        assert_eq!(c.attrs, first.attrs);
        assert_eq!(ns.attributes("a"), Some(first.attrs));
        // The limit of the first (4) governs, not the second's 3.
        create(&mut ns, "a", &second).unwrap();
        create(&mut ns, "a", &second).unwrap();
        assert_eq!(create(&mut ns, "a", &second), Err(Win32Error::PIPE_BUSY));
    }

    /// Wine: the name disappears with its last instance; a new CreateNamedPipe starts a fresh
    /// pipe whose attributes (even direction) may differ (test_pipe_local_info).
    #[test]
    fn pipe_disappears_with_last_instance() {
        let mut ns = Namespace::new();
        let a = create(&mut ns, "a", &params(Direction::Outbound, 1)).unwrap();
        ns.open("a", GENERIC_READ, CLIENT).unwrap();
        ns.close_instance(a.instance);
        ns.check_invariants();
        assert_eq!(ns.instance_count("a"), None);
        assert_eq!(ns.open("a", RW, CLIENT), Err(Win32Error::FILE_NOT_FOUND));
        let b = create(&mut ns, "a", &params(Direction::Inbound, 2)).unwrap();
        assert!(!b.already_existed);
        assert_eq!(b.attrs.direction, Direction::Inbound);
        assert!(!ns.is_idle());
    }

    /// Closing one of several instances keeps the pipe.
    #[test]
    fn close_one_of_two_keeps_pipe() {
        let mut ns = Namespace::new();
        let a = create(&mut ns, "a", &duplex(2)).unwrap();
        let b = create(&mut ns, "a", &duplex(2)).unwrap();
        ns.close_instance(a.instance);
        ns.check_invariants();
        assert_eq!(ns.instance_count("a"), Some(1));
        assert_eq!(ns.open("a", RW, CLIENT).unwrap().instance, b.instance);
        // Closing twice, or an unknown id, is harmless.
        ns.close_instance(a.instance);
        ns.close_instance(9999);
        ns.check_invariants();
    }

    // ---------------------------------------------------------------- security

    use crate::consts::{FILE_READ_ATTRIBUTES, READ_CONTROL, WRITE_DAC, WRITE_OWNER};
    use crate::security::{
        Sid, DACL_SECURITY_INFORMATION, ERROR_INVALID_OWNER, GROUP_SECURITY_INFORMATION,
        OWNER_SECURITY_INFORMATION, STANDARD_SECURITY_INFORMATION,
    };

    fn user(uid: u32, gid: u32, groups: &[u32]) -> Caller {
        Caller::local(
            Identity {
                pid: uid + 10_000,
                uid,
                gid,
            },
            groups,
            &[27],
        )
    }

    fn sddl(s: &str) -> SecurityDescriptor {
        SecurityDescriptor::from_sddl(s, &crate::security::NoNames).unwrap()
    }

    fn create_as(
        ns: &mut Namespace,
        key: &str,
        p: &CreateParams,
        who: &Caller,
        sd: Option<&str>,
    ) -> Result<Created, Win32Error> {
        let r = ns.create_instance_as(key, key, p, who, sd.map(sddl));
        ns.check_invariants();
        r
    }

    /// issue 4 §2: another user cannot add an instance to a pipe with the default DACL
    /// (FILE_CREATE_PIPE_INSTANCE), the owner, root and administrators can.
    #[test]
    fn squatting_refused() {
        let mut ns = Namespace::new();
        let (a, b) = (user(1001, 1001, &[]), user(1002, 1002, &[]));
        create_as(&mut ns, "p", &duplex(9), &a, None).unwrap();
        assert_eq!(
            create_as(&mut ns, "p", &duplex(9), &b, None),
            Err(Win32Error::ACCESS_DENIED)
        );
        // Inbound-only asks for GENERIC_READ | SYNCHRONIZE | 0x4: still refused.
        assert_eq!(ns.instance_count("p"), Some(1));
        assert!(
            create_as(&mut ns, "p", &duplex(9), &a, None)
                .unwrap()
                .already_existed
        );
        create_as(&mut ns, "p", &duplex(9), &user(0, 0, &[]), None).unwrap();
        create_as(&mut ns, "p", &duplex(9), &user(1003, 1003, &[27]), None).unwrap();
        assert_eq!(ns.instance_count("p"), Some(4));
    }

    /// issue 4 §2: the default DACL lets other users open for reading only.
    #[test]
    fn default_dacl_read_only_for_others() {
        let mut ns = Namespace::new();
        let (a, b) = (user(1001, 1001, &[]), user(1002, 1002, &[]));
        create_as(&mut ns, "p", &duplex(9), &a, None).unwrap();
        create_as(&mut ns, "p", &duplex(9), &a, None).unwrap();
        assert_eq!(
            ns.open_as("p", GENERIC_WRITE, &b),
            Err(Win32Error::ACCESS_DENIED)
        );
        assert_eq!(ns.open_as("p", RW, &b), Err(Win32Error::ACCESS_DENIED));
        let o = ns
            .open_as("p", GENERIC_READ | FILE_READ_ATTRIBUTES, &b)
            .unwrap();
        assert_eq!(o.granted, crate::consts::FILE_GENERIC_READ);
        // FILE_CREATE_PIPE_INSTANCE is left out of a client's check.
        ns.open_as("p", GENERIC_READ | FILE_CREATE_PIPE_INSTANCE, &b)
            .unwrap();
        ns.check_invariants();
    }

    /// conformance test_security_info: the default descriptor's owner is the creator and its
    /// group the creator's primary group; `npfs list` shows the owner.
    #[test]
    fn default_descriptor_owner_and_group() {
        let mut ns = Namespace::new();
        let a = user(1001, 500, &[600]);
        create_as(&mut ns, "p", &duplex(9), &a, None).unwrap();
        let sd = ns.security("p").unwrap();
        assert_eq!(sd.owner, Some(Sid::unix_user(1001)));
        assert_eq!(sd.group, Some(Sid::unix_group(500)));
        assert_eq!(ns.list()[0].owner_uid, 1001);
    }

    /// conformance test_security_info: another instance WITH its own descriptor while the
    /// pipe exists → ERROR_ACCESS_DENIED, even for the owner; after the last instance is gone
    /// it succeeds and its descriptor applies.
    #[test]
    fn additional_instance_with_descriptor_denied() {
        let mut ns = Namespace::new();
        let a = user(1001, 1001, &[]);
        let first = create_as(&mut ns, "p", &duplex(9), &a, None).unwrap();
        assert_eq!(
            create_as(&mut ns, "p", &duplex(9), &a, Some("G:WD")),
            Err(Win32Error::ACCESS_DENIED)
        );
        ns.close_instance(first.instance);
        create_as(&mut ns, "p", &duplex(9), &a, Some("G:WDD:(A;;GA;;;CO)")).unwrap();
        let sd = ns.security("p").unwrap();
        assert_eq!(sd.group, Some(crate::security::well_known::everyone()));
        assert_eq!(sd.owner, Some(Sid::unix_user(1001)));
        assert_eq!(sd.dacl.as_ref().unwrap().aces[0].sid, Sid::unix_user(1001));
    }

    /// An explicit owner must be the creator (or one of its groups) unless it is an
    /// administrator.
    #[test]
    fn explicit_owner_checked() {
        let mut ns = Namespace::new();
        let a = user(1001, 1001, &[2000]);
        assert_eq!(
            create_as(&mut ns, "p", &duplex(9), &a, Some("O:S-1-22-1-1002")),
            Err(ERROR_INVALID_OWNER)
        );
        create_as(&mut ns, "p", &duplex(9), &a, Some("O:S-1-22-2-2000")).unwrap();
        create_as(
            &mut ns,
            "q",
            &duplex(9),
            &user(0, 0, &[]),
            Some("O:S-1-22-1-1002"),
        )
        .unwrap();
        assert_eq!(ns.security("q").unwrap().owner, Some(Sid::unix_user(1002)));
        assert!(ns.list().iter().any(|p| p.owner_uid == 1002));
    }

    /// issue 4 §6: a custom DACL granting a group, deny before allow, owner only.
    #[test]
    fn custom_dacls() {
        let mut ns = Namespace::new();
        let a = user(1001, 1001, &[]);
        let b = user(1002, 1002, &[2000]);
        let c = user(1003, 1003, &[]);
        create_as(
            &mut ns,
            "g",
            &duplex(9),
            &a,
            Some("D:(A;;GA;;;CO)(A;;0x12019b;;;S-1-22-2-2000)"),
        )
        .unwrap();
        create_as(&mut ns, "g", &duplex(9), &a, None).unwrap();
        ns.open_as("g", RW, &b).unwrap();
        assert_eq!(
            ns.open_as("g", GENERIC_READ, &c),
            Err(Win32Error::ACCESS_DENIED)
        );
        // The group may connect but not create instances.
        assert_eq!(
            create_as(&mut ns, "g", &duplex(9), &b, None),
            Err(Win32Error::ACCESS_DENIED)
        );
        create_as(
            &mut ns,
            "d",
            &duplex(9),
            &a,
            Some("D:(D;;GA;;;S-1-22-1-1002)(A;;GA;;;WD)"),
        )
        .unwrap();
        assert_eq!(
            ns.open_as("d", GENERIC_READ, &b),
            Err(Win32Error::ACCESS_DENIED)
        );
        ns.open_as("d", GENERIC_READ, &c).unwrap();
        let only = SecurityDescriptor::owner_only(a.token.user.clone());
        ns.create_instance_as("o", "o", &duplex(9), &a, Some(only))
            .unwrap();
        assert_eq!(
            ns.open_as("o", GENERIC_READ, &b),
            Err(Win32Error::ACCESS_DENIED)
        );
        ns.open_as("o", RW, &a).unwrap();
        ns.check_invariants();
    }

    /// issue 4 §5: PIPE_REJECT_REMOTE_CLIENTS refuses remote opens, anonymous ones included;
    /// an anonymous remote client gets the default DACL's read access otherwise.
    #[test]
    fn reject_remote_clients() {
        let mut ns = Namespace::new();
        let a = user(1001, 1001, &[]);
        let mut p = duplex(9);
        p.options.reject_remote = true;
        create_as(&mut ns, "r", &p, &a, None).unwrap();
        create_as(&mut ns, "open", &duplex(9), &a, None).unwrap();
        let anon = Caller {
            identity: Identity::default(),
            token: Token::anonymous_remote(),
        };
        let remote_a = Caller {
            identity: a.identity,
            token: Token::remote(1001, 1001, &[], &[]),
        };
        assert_eq!(
            ns.open_as("r", GENERIC_READ, &anon),
            Err(Win32Error::ACCESS_DENIED)
        );
        assert_eq!(
            ns.open_as("r", RW, &remote_a),
            Err(Win32Error::ACCESS_DENIED)
        );
        assert_eq!(
            ns.open_as("open", RW, &anon),
            Err(Win32Error::ACCESS_DENIED)
        );
        ns.open_as("open", GENERIC_READ, &anon).unwrap();
        ns.open_as("r", RW, &a).unwrap();
    }

    /// GetSecurityInfo / SetSecurityInfo: by name with the caller's DACL rights, by instance
    /// with the server handle's access; the change is seen by every instance.
    #[test]
    fn get_and_set_security() {
        let mut ns = Namespace::new();
        let a = user(1001, 1001, &[]);
        let b = user(1002, 1002, &[]);
        let mut p = duplex(9);
        p.options.extra_access = WRITE_OWNER;
        let first = create_as(&mut ns, "s", &p, &a, None).unwrap().instance;
        let plain = create_as(&mut ns, "s", &duplex(9), &a, None)
            .unwrap()
            .instance;
        // READ_CONTROL is in FILE_GENERIC_READ: everyone may read the default descriptor.
        let got = ns
            .query_security("s", STANDARD_SECURITY_INFORMATION, &b)
            .unwrap();
        assert_eq!(&got, ns.security("s").unwrap());
        assert_eq!(
            ns.query_security("s", GROUP_SECURITY_INFORMATION, &b)
                .unwrap()
                .owner,
            None
        );
        assert_eq!(
            ns.query_security("s", 0, &b),
            Err(Win32Error::INVALID_PARAMETER)
        );
        // B holds neither WRITE_DAC nor WRITE_OWNER.
        let open_all = sddl("D:(A;;GA;;;WD)");
        assert_eq!(
            ns.set_security("s", DACL_SECURITY_INFORMATION, &open_all, &b),
            Err(Win32Error::ACCESS_DENIED)
        );
        // The server handle with WRITE_OWNER sets the group (test_security_info).
        ns.set_security_of(first, GROUP_SECURITY_INFORMATION, &sddl("G:WD"), &a)
            .unwrap();
        assert_eq!(
            ns.query_security_of(plain, GROUP_SECURITY_INFORMATION)
                .unwrap()
                .group,
            Some(crate::security::well_known::everyone())
        );
        // A handle without WRITE_DAC may not change the DACL, even the owner's.
        assert_eq!(
            ns.set_security_of(plain, DACL_SECURITY_INFORMATION, &open_all, &a),
            Err(Win32Error::ACCESS_DENIED)
        );
        // By name, the owner has WRITE_DAC (GA, and implicitly).
        ns.set_security("s", DACL_SECURITY_INFORMATION, &open_all, &a)
            .unwrap();
        ns.open_as("s", RW, &b).unwrap();
        // Now B has GA: it may change the owner, but only to itself.
        assert_eq!(
            ns.set_security(
                "s",
                OWNER_SECURITY_INFORMATION,
                &sddl("O:S-1-22-1-1003"),
                &b
            ),
            Err(ERROR_INVALID_OWNER)
        );
        ns.set_security(
            "s",
            OWNER_SECURITY_INFORMATION,
            &sddl("O:S-1-22-1-1002"),
            &b,
        )
        .unwrap();
        assert_eq!(ns.list()[0].owner_uid, 1002);
        assert_eq!(
            ns.query_security_of(999, READ_CONTROL),
            Err(Win32Error::INVALID_PARAMETER)
        );
        assert_eq!(
            ns.query_security_of(999, DACL_SECURITY_INFORMATION),
            Err(Win32Error::INVALID_HANDLE)
        );
        assert_eq!(ns.instance_access(first).unwrap() & WRITE_DAC, 0);
        assert_eq!(ns.instance_key(first), Some("s"));
    }

    /// Reregistration carries the descriptor and the remote flag; joining needs
    /// FILE_CREATE_PIPE_INSTANCE.
    #[test]
    fn reregister_with_security() {
        let mut ns = Namespace::new();
        let a = user(1001, 1001, &[]);
        let b = user(1002, 1002, &[]);
        let how = Reregistration {
            desired: server_desired_access(&duplex(9)),
            sd: Some(sddl("D:(A;;GA;;;CO)")),
            reject_remote: true,
        };
        ns.reregister_as(
            "r",
            "r",
            duplex(9).attrs,
            InstanceState::Listening,
            3,
            &a,
            how.clone(),
        )
        .unwrap();
        assert!(ns.detail("r").unwrap().reject_remote);
        assert_eq!(
            ns.reregister_as(
                "r",
                "r",
                duplex(9).attrs,
                InstanceState::Listening,
                3,
                &b,
                how.clone()
            ),
            Err(Win32Error::ACCESS_DENIED)
        );
        assert_eq!(
            ns.open_as("r", GENERIC_READ, &b),
            Err(Win32Error::ACCESS_DENIED)
        );
        ns.reregister_as(
            "r",
            "r",
            duplex(9).attrs,
            InstanceState::Listening,
            3,
            &a,
            how,
        )
        .unwrap();
        ns.check_invariants();
    }

    // ---------------------------------------------------------------- client open

    /// §2.4: no pipe of that name → ERROR_FILE_NOT_FOUND.
    #[test]
    fn open_unknown_is_not_found() {
        let mut ns = Namespace::new();
        assert_eq!(ns.open("x", RW, CLIENT), Err(Win32Error::FILE_NOT_FOUND));
    }

    /// §2.4: instances exist but none listens → ERROR_PIPE_BUSY.
    #[test]
    fn open_when_all_connected_is_busy() {
        let mut ns = Namespace::new();
        create(&mut ns, "a", &duplex(1)).unwrap();
        ns.open("a", RW, CLIENT).unwrap();
        assert_eq!(ns.open("a", RW, CLIENT), Err(Win32Error::PIPE_BUSY));
    }

    /// §2.4 / NPFS: the direction must allow the access: reading an inbound pipe or writing
    /// an outbound pipe → ERROR_ACCESS_DENIED, and the instance stays LISTENING.
    #[test]
    fn open_access_vs_direction() {
        let mut ns = Namespace::new();
        let i = create(&mut ns, "in", &params(Direction::Inbound, 1)).unwrap();
        assert_eq!(
            ns.open("in", GENERIC_READ, CLIENT),
            Err(Win32Error::ACCESS_DENIED)
        );
        assert_eq!(state(&ns, i.instance), InstanceState::Listening);
        ns.open("in", GENERIC_WRITE, CLIENT).unwrap();
        create(&mut ns, "out", &params(Direction::Outbound, 1)).unwrap();
        assert_eq!(
            ns.open("out", GENERIC_WRITE, CLIENT),
            Err(Win32Error::ACCESS_DENIED)
        );
        ns.open("out", GENERIC_READ, CLIENT).unwrap();
    }

    /// Wine: access is checked before availability (STATUS_ACCESS_DENIED, not PIPE_BUSY,
    /// when nothing listens and the access does not fit).
    #[test]
    fn access_checked_before_busy() {
        let mut ns = Namespace::new();
        create(&mut ns, "in", &params(Direction::Inbound, 1)).unwrap();
        ns.open("in", GENERIC_WRITE, CLIENT).unwrap();
        assert_eq!(
            ns.open("in", GENERIC_READ, CLIENT),
            Err(Win32Error::ACCESS_DENIED)
        );
    }

    /// Names are case-insensitive: the caller folds them into the key.
    #[test]
    fn keys_are_exact_after_folding() {
        let mut ns = Namespace::new();
        create(&mut ns, "abc", &duplex(1)).unwrap();
        assert_eq!(ns.open("ABC", RW, CLIENT), Err(Win32Error::FILE_NOT_FOUND));
        ns.open("abc", RW, CLIENT).unwrap();
    }

    /// §2.4 [WINE]: with several listening instances clients get them in the order they
    /// entered LISTENING (creation for fresh ones).
    #[test]
    fn listeners_served_fifo_by_creation() {
        let mut ns = Namespace::new();
        let a = create(&mut ns, "p", &duplex(3)).unwrap().instance;
        let b = create(&mut ns, "p", &duplex(3)).unwrap().instance;
        let c = create(&mut ns, "p", &duplex(3)).unwrap().instance;
        assert_eq!(ns.open("p", RW, CLIENT).unwrap().instance, a);
        assert_eq!(ns.open("p", RW, CLIENT).unwrap().instance, b);
        assert_eq!(ns.open("p", RW, CLIENT).unwrap().instance, c);
    }

    /// §2.4 [WINE]: a re-listened instance enters the FIFO when ConnectNamedPipe is called,
    /// behind instances already listening.
    #[test]
    fn relistened_instance_goes_to_back() {
        let mut ns = Namespace::new();
        let a = create(&mut ns, "p", &duplex(2)).unwrap().instance;
        assert_eq!(ns.open("p", RW, CLIENT).unwrap().instance, a);
        assert!(ns.disconnect(a, INITIAL_EPOCH).unwrap());
        let b = create(&mut ns, "p", &duplex(2)).unwrap().instance;
        assert_eq!(ns.listen(a), Ok(INITIAL_EPOCH + 1));
        ns.check_invariants();
        assert_eq!(ns.open("p", RW, CLIENT).unwrap().instance, b);
        let o = ns.open("p", RW, CLIENT).unwrap();
        assert_eq!(o.instance, a);
        assert_eq!(o.epoch, INITIAL_EPOCH + 1);
    }

    /// §2.4: a pending ConnectNamedPipe on a LISTENING instance does not move it ahead.
    #[test]
    fn listen_on_listening_keeps_position() {
        let mut ns = Namespace::new();
        let a = create(&mut ns, "p", &duplex(2)).unwrap().instance;
        let b = create(&mut ns, "p", &duplex(2)).unwrap().instance;
        assert_eq!(ns.listen(b), Ok(INITIAL_EPOCH));
        assert_eq!(ns.listen(a), Ok(INITIAL_EPOCH));
        assert_eq!(ns.open("p", RW, CLIENT).unwrap().instance, a);
        assert_eq!(ns.open("p", RW, CLIENT).unwrap().instance, b);
    }

    // ---------------------------------------------------------------- listen / disconnect

    /// §3.2: DisconnectNamedPipe from LISTENING → DISCONNECTED; a disconnected instance is not
    /// listening, clients get ERROR_PIPE_BUSY until ConnectNamedPipe.
    #[test]
    fn disconnected_instance_is_busy_until_listen() {
        let mut ns = Namespace::new();
        let a = create(&mut ns, "p", &duplex(1)).unwrap().instance;
        assert!(ns.disconnect(a, INITIAL_EPOCH).unwrap());
        ns.check_invariants();
        assert_eq!(state(&ns, a), InstanceState::Disconnected);
        assert_eq!(ns.open("p", RW, CLIENT), Err(Win32Error::PIPE_BUSY));
        assert_eq!(ns.listen(a), Ok(1));
        ns.open("p", RW, CLIENT).unwrap();
    }

    /// §3.2: DisconnectNamedPipe from CONNECTED → DISCONNECTED.
    #[test]
    fn disconnect_connected() {
        let mut ns = Namespace::new();
        let a = create(&mut ns, "p", &duplex(1)).unwrap().instance;
        let o = ns.open("p", RW, CLIENT).unwrap();
        assert!(ns.disconnect(a, o.epoch).unwrap());
        assert_eq!(state(&ns, a), InstanceState::Disconnected);
        ns.check_invariants();
    }

    /// A disconnect naming an older epoch (it crossed a later listen) is ignored.
    #[test]
    fn stale_disconnect_ignored() {
        let mut ns = Namespace::new();
        let a = create(&mut ns, "p", &duplex(1)).unwrap().instance;
        ns.disconnect(a, 0).unwrap();
        assert_eq!(ns.listen(a), Ok(1));
        assert_eq!(ns.disconnect(a, 0), Ok(false));
        assert_eq!(state(&ns, a), InstanceState::Listening);
        ns.check_invariants();
    }

    /// ConnectNamedPipe while CONNECTED → ERROR_PIPE_CONNECTED, no change.
    #[test]
    fn listen_while_connected() {
        let mut ns = Namespace::new();
        let a = create(&mut ns, "p", &duplex(1)).unwrap().instance;
        ns.open("p", RW, CLIENT).unwrap();
        assert_eq!(ns.listen(a), Err(Win32Error::PIPE_CONNECTED));
        assert_eq!(state(&ns, a), InstanceState::Connected);
    }

    /// Operations on unknown instances fail cleanly.
    #[test]
    fn unknown_instance() {
        let mut ns = Namespace::new();
        assert_eq!(ns.listen(7), Err(Win32Error::INVALID_HANDLE));
        assert_eq!(ns.disconnect(7, 0), Err(Win32Error::INVALID_HANDLE));
        assert_eq!(ns.instance(7), None);
    }

    // ---------------------------------------------------------------- WaitNamedPipe

    /// test_wait_pipe: WaitNamedPipe on a nonexistent name → ERROR_FILE_NOT_FOUND at once,
    /// whatever the time-out (also 0).
    #[test]
    fn wait_unknown_is_not_found() {
        let mut ns = Namespace::new();
        for t in [
            WaitTimeout::Millis(0),
            WaitTimeout::Millis(1000),
            WaitTimeout::Default,
            WaitTimeout::Forever,
        ] {
            assert_eq!(ns.wait("x", t, 0), Err(Win32Error::FILE_NOT_FOUND));
        }
        assert!(ns.is_idle());
    }

    /// test_wait_pipe: with a listening instance WaitNamedPipe(1) succeeds immediately.
    #[test]
    fn wait_with_listener_is_ready() {
        let mut ns = Namespace::new();
        create(&mut ns, "p", &duplex(2)).unwrap();
        assert_eq!(
            ns.wait("p", WaitTimeout::Millis(1), 0),
            Ok(WaitStart::Ready)
        );
        // Waiting does not reserve the instance.
        assert_eq!(
            ns.wait("p", WaitTimeout::Millis(1), 0),
            Ok(WaitStart::Ready)
        );
        ns.open("p", RW, CLIENT).unwrap();
    }

    /// test_wait_pipe: all instances connected → ERROR_SEM_TIMEOUT after the time-out.
    #[test]
    fn wait_times_out() {
        let mut ns = Namespace::new();
        create(&mut ns, "p", &duplex(1)).unwrap();
        ns.open("p", RW, CLIENT).unwrap();
        let WaitStart::Pending(w) = ns.wait("p", WaitTimeout::Millis(1), 10).unwrap() else {
            panic!("should pend")
        };
        ns.check_invariants();
        assert_eq!(ns.next_deadline(), Some(11));
        ns.expire(10);
        assert!(completions(&mut ns).is_empty());
        ns.expire(11);
        assert_eq!(
            completions(&mut ns),
            vec![WaitCompletion {
                waiter: w,
                result: Err(Win32Error::SEM_TIMEOUT)
            }]
        );
        assert_eq!(ns.next_deadline(), None);
        ns.check_invariants();
    }

    /// §2.5: NMPWAIT_USE_DEFAULT_WAIT uses the pipe's nDefaultTimeOut (0 already became 50).
    #[test]
    fn wait_default_uses_pipe_timeout() {
        let mut ns = Namespace::new();
        let mut p = duplex(1);
        p.attrs.default_timeout_ms = 1234;
        create(&mut ns, "p", &p).unwrap();
        ns.open("p", RW, CLIENT).unwrap();
        ns.wait("p", WaitTimeout::Default, 100).unwrap();
        assert_eq!(ns.next_deadline(), Some(1334));
    }

    /// §2.5: NMPWAIT_WAIT_FOREVER has no deadline.
    #[test]
    fn wait_forever_has_no_deadline() {
        let mut ns = Namespace::new();
        create(&mut ns, "p", &duplex(2)).unwrap();
        ns.open("p", RW, CLIENT).unwrap();
        let WaitStart::Pending(w) = ns.wait("p", WaitTimeout::Forever, 0).unwrap() else {
            panic!()
        };
        assert_eq!(ns.next_deadline(), None);
        ns.expire(u64::MAX);
        assert!(completions(&mut ns).is_empty());
        create(&mut ns, "p", &duplex(2)).unwrap();
        assert_eq!(completions(&mut ns)[0].waiter, w);
    }

    /// test_wait_pipe: a blocked waiter is woken when a new instance is created; NPFS wakes
    /// every waiter of the name.
    #[test]
    fn create_wakes_all_waiters() {
        let mut ns = Namespace::new();
        create(&mut ns, "p", &duplex(3)).unwrap();
        ns.open("p", RW, CLIENT).unwrap();
        let mut ids = Vec::new();
        for _ in 0..3 {
            match ns.wait("p", WaitTimeout::Millis(1000), 0).unwrap() {
                WaitStart::Pending(w) => ids.push(w),
                WaitStart::Ready => panic!(),
            }
        }
        // A waiter on another name is not touched.
        create(&mut ns, "q", &duplex(1)).unwrap();
        ns.open("q", RW, CLIENT).unwrap();
        let other = ns.wait("q", WaitTimeout::Millis(1000), 0).unwrap();
        create(&mut ns, "p", &duplex(3)).unwrap();
        let done = completions(&mut ns);
        assert_eq!(done.len(), 3);
        for (c, id) in done.iter().zip(&ids) {
            assert_eq!(c.waiter, *id);
            assert_eq!(c.result, Ok(()));
        }
        assert_eq!(ns.waiter_count(), 1);
        assert!(matches!(other, WaitStart::Pending(_)));
        ns.check_invariants();
    }

    /// test_wait_pipe: after DisconnectNamedPipe the instance is not waitable; ConnectNamedPipe
    /// (DISCONNECTED → LISTENING) wakes the waiter.
    #[test]
    fn listen_wakes_waiters() {
        let mut ns = Namespace::new();
        let a = create(&mut ns, "p", &duplex(1)).unwrap().instance;
        ns.open("p", RW, CLIENT).unwrap();
        ns.disconnect(a, 0).unwrap();
        let WaitStart::Pending(w) = ns.wait("p", WaitTimeout::Millis(1000), 0).unwrap() else {
            panic!()
        };
        ns.listen(a).unwrap();
        assert_eq!(
            completions(&mut ns),
            vec![WaitCompletion {
                waiter: w,
                result: Ok(())
            }]
        );
        assert_eq!(ns.next_deadline(), None);
    }

    /// Re-listening an instance that is already LISTENING does not wake anyone (there are no
    /// waiters while an instance listens) and does not change the epoch.
    #[test]
    fn wait_pending_only_without_listener() {
        let mut ns = Namespace::new();
        let a = create(&mut ns, "p", &duplex(1)).unwrap().instance;
        assert_eq!(ns.wait("p", WaitTimeout::Forever, 0), Ok(WaitStart::Ready));
        assert_eq!(ns.listen(a), Ok(0));
        assert!(completions(&mut ns).is_empty());
    }

    /// Spec decision: if the pipe disappears while a client waits, the waiter keeps waiting
    /// until its deadline (a new pipe of that name may appear) and then gets
    /// ERROR_SEM_TIMEOUT; a new pipe of the name wakes it.
    #[test]
    fn waiter_survives_pipe_disappearing() {
        let mut ns = Namespace::new();
        let a = create(&mut ns, "p", &duplex(1)).unwrap().instance;
        ns.open("p", RW, CLIENT).unwrap();
        let WaitStart::Pending(w1) = ns.wait("p", WaitTimeout::Millis(100), 0).unwrap() else {
            panic!()
        };
        let WaitStart::Pending(w2) = ns.wait("p", WaitTimeout::Millis(500), 0).unwrap() else {
            panic!()
        };
        ns.close_instance(a);
        ns.check_invariants();
        assert!(!ns.is_idle(), "waiters keep the broker busy");
        ns.expire(100);
        assert_eq!(
            completions(&mut ns),
            vec![WaitCompletion {
                waiter: w1,
                result: Err(Win32Error::SEM_TIMEOUT)
            }]
        );
        create(&mut ns, "p", &duplex(1)).unwrap();
        assert_eq!(
            completions(&mut ns),
            vec![WaitCompletion {
                waiter: w2,
                result: Ok(())
            }]
        );
        ns.check_invariants();
    }

    /// A cancelled waiter is neither woken nor timed out.
    #[test]
    fn cancel_wait() {
        let mut ns = Namespace::new();
        create(&mut ns, "p", &duplex(2)).unwrap();
        ns.open("p", RW, CLIENT).unwrap();
        let WaitStart::Pending(w) = ns.wait("p", WaitTimeout::Millis(10), 0).unwrap() else {
            panic!()
        };
        ns.cancel_wait(w);
        ns.cancel_wait(w);
        ns.check_invariants();
        ns.expire(100);
        create(&mut ns, "p", &duplex(2)).unwrap();
        assert!(completions(&mut ns).is_empty());
        assert_eq!(ns.waiter_count(), 0);
    }

    /// Deadlines expire in order; several at the same instant all expire.
    #[test]
    fn expire_in_deadline_order() {
        let mut ns = Namespace::new();
        create(&mut ns, "p", &duplex(1)).unwrap();
        ns.open("p", RW, CLIENT).unwrap();
        let mut ids = Vec::new();
        for t in [30, 10, 20, 10] {
            if let WaitStart::Pending(w) = ns.wait("p", WaitTimeout::Millis(t), 0).unwrap() {
                ids.push((t, w));
            }
        }
        ns.expire(1000);
        let done: Vec<_> = completions(&mut ns).iter().map(|c| c.waiter).collect();
        ids.sort();
        assert_eq!(done, ids.iter().map(|x| x.1).collect::<Vec<_>>());
    }

    /// Huge time-outs do not overflow.
    #[test]
    fn deadline_saturates() {
        let mut ns = Namespace::new();
        create(&mut ns, "p", &duplex(1)).unwrap();
        ns.open("p", RW, CLIENT).unwrap();
        ns.wait("p", WaitTimeout::Millis(u32::MAX - 1), u64::MAX - 5)
            .unwrap();
        assert_eq!(ns.next_deadline(), Some(u64::MAX));
    }

    // ---------------------------------------------------------------- reregistration

    /// After a broker restart a live instance registers again: the pipe is created with the
    /// given attributes without a FIRST_INSTANCE check, with the given state and epoch.
    #[test]
    fn reregister_creates_pipe() {
        let mut ns = Namespace::new();
        let a = attrs(Direction::Duplex, 1);
        let r = ns
            .reregister(
                "p",
                "\\\\.\\pipe\\p",
                a,
                InstanceState::Connected,
                7,
                SERVER,
            )
            .unwrap();
        ns.check_invariants();
        assert!(!r.already_existed);
        let i = ns.instance(r.instance).unwrap();
        assert_eq!((i.state, i.epoch), (InstanceState::Connected, 7));
        assert_eq!(ns.open("p", RW, CLIENT), Err(Win32Error::PIPE_BUSY));
        ns.disconnect(r.instance, 7).unwrap();
        assert_eq!(ns.listen(r.instance), Ok(8));
    }

    /// A reregistering instance joins an existing pipe even over its instance limit (it
    /// existed before; refusing it would kill a live pipe end), keeps the existing pipe's
    /// attributes, queues behind current listeners, and wakes waiters when LISTENING.
    #[test]
    fn reregister_joins_even_over_limit() {
        let mut ns = Namespace::new();
        let a = attrs(Direction::Duplex, 1);
        let first = ns
            .reregister("p", "P", a, InstanceState::Connected, 0, SERVER)
            .unwrap();
        let WaitStart::Pending(w) = ns.wait("p", WaitTimeout::Forever, 0).unwrap() else {
            panic!()
        };
        let mut other = a;
        other.max_instances = 5;
        let second = ns
            .reregister("p", "P", other, InstanceState::Listening, 3, SERVER)
            .unwrap();
        ns.check_invariants();
        assert!(second.already_existed);
        assert_eq!(second.attrs, a);
        assert_eq!(ns.instance_count("p"), Some(2));
        assert_eq!(completions(&mut ns)[0].waiter, w);
        let o = ns.open("p", RW, CLIENT).unwrap();
        assert_eq!((o.instance, o.epoch), (second.instance, 3));
        let _ = first;
        // The normal instance limit still applies to CreateNamedPipe.
        assert_eq!(create(&mut ns, "p", &duplex(1)), Err(Win32Error::PIPE_BUSY));
    }

    /// Reregistration into a pipe of another direction (someone took the name meanwhile) is
    /// refused with ERROR_ACCESS_DENIED.
    #[test]
    fn reregister_direction_mismatch() {
        let mut ns = Namespace::new();
        create(&mut ns, "p", &duplex(5)).unwrap();
        let r = ns.reregister(
            "p",
            "P",
            attrs(Direction::Inbound, 5),
            InstanceState::Listening,
            0,
            SERVER,
        );
        assert_eq!(r, Err(Win32Error::ACCESS_DENIED));
        ns.check_invariants();
    }

    // ---------------------------------------------------------------- queries

    /// list/instance_count/instance_states report the pipes with their counts.
    #[test]
    fn queries() {
        let mut ns = Namespace::new();
        let a = create(&mut ns, "b", &duplex(3)).unwrap().instance;
        let b = create(&mut ns, "b", &duplex(3)).unwrap().instance;
        let c = create(&mut ns, "b", &duplex(3)).unwrap().instance;
        create(&mut ns, "a", &params(Direction::Inbound, 1)).unwrap();
        ns.open("b", RW, CLIENT).unwrap();
        ns.disconnect(c, 0).unwrap();
        let l = ns.list();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].display_name, "\\\\.\\pipe\\a");
        assert_eq!(l[1].display_name, "\\\\.\\pipe\\b");
        assert_eq!(
            (
                l[1].instances,
                l[1].listening,
                l[1].connected,
                l[1].owner_uid
            ),
            (3, 1, 1, 1000)
        );
        assert_eq!(ns.instance_count("b"), Some(3));
        assert_eq!(ns.instance_count("zz"), None);
        let st: Vec<_> = ns
            .instance_states("b")
            .iter()
            .map(|i| (i.id, i.state))
            .collect();
        assert_eq!(
            st,
            vec![
                (a, InstanceState::Connected),
                (b, InstanceState::Listening),
                (c, InstanceState::Disconnected)
            ]
        );
        assert!(ns.instance_states("zz").is_empty());
    }

    /// The namespace is idle with no pipes and no waiters.
    #[test]
    fn idle() {
        let mut ns = Namespace::new();
        assert!(ns.is_idle());
        let a = create(&mut ns, "p", &duplex(1)).unwrap().instance;
        assert!(!ns.is_idle());
        ns.close_instance(a);
        assert!(ns.is_idle());
    }

    // ---------------------------------------------------------------- properties

    #[derive(Clone, Debug)]
    enum Op {
        Create(u8, u8, u8, bool),
        Open(u8, bool),
        Listen(u8),
        Disconnect(u8, bool),
        Close(u8),
        Wait(u8, u8),
        Cancel(u8),
        Tick(u8),
        Reregister(u8, u8, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..3u8, 0..3u8, 1..4u8, any::<bool>()).prop_map(|(k, d, m, f)| Op::Create(k, d, m, f)),
            (0..3u8, any::<bool>()).prop_map(|(k, r)| Op::Open(k, r)),
            any::<u8>().prop_map(Op::Listen),
            (any::<u8>(), any::<bool>()).prop_map(|(i, s)| Op::Disconnect(i, s)),
            any::<u8>().prop_map(Op::Close),
            (0..3u8, 0..4u8).prop_map(|(k, t)| Op::Wait(k, t)),
            any::<u8>().prop_map(Op::Cancel),
            any::<u8>().prop_map(Op::Tick),
            (0..3u8, 0..3u8, 0..3u8).prop_map(|(k, d, s)| Op::Reregister(k, d, s)),
        ]
    }

    const DIRS: [Direction; 3] = [Direction::Inbound, Direction::Outbound, Direction::Duplex];

    proptest! {
        /// Random operation sequences keep the invariants: the FIFO holds exactly the
        /// LISTENING instances, counts are consistent, no pipe lives without instances, no
        /// waiter waits on a name that has a listener, and the instance limit is never
        /// exceeded by CreateNamedPipe.
        #[test]
        fn random_ops_keep_invariants(ops in proptest::collection::vec(op(), 1..200)) {
            let mut ns = Namespace::new();
            let mut now = 0u64;
            let mut ids: Vec<InstanceId> = Vec::new();
            let mut waiters: Vec<WaiterId> = Vec::new();
            let pick = |v: &Vec<u64>, i: u8| if v.is_empty() { 12345 } else { v[i as usize % v.len()] };
            for op in ops {
                match op {
                    Op::Create(k, d, m, f) => {
                        let key = format!("k{k}");
                        let before = ns.instance_count(&key);
                        let mut p = params(DIRS[d as usize], m.into());
                        p.options.first_instance = f;
                        match ns.create_instance(&key, &key, &p, SERVER) {
                            Ok(c) => {
                                ids.push(c.instance);
                                prop_assert_eq!(c.already_existed, before.is_some());
                                prop_assert!(ns.instance_count(&key).unwrap() <= c.attrs.max_instances);
                            }
                            Err(e) => {
                                prop_assert!(before.is_some());
                                prop_assert!(e == Win32Error::PIPE_BUSY || e == Win32Error::ACCESS_DENIED);
                                prop_assert_eq!(ns.instance_count(&key), before);
                            }
                        }
                    }
                    Op::Open(k, read) => {
                        let key = format!("k{k}");
                        let access = if read { GENERIC_READ } else { GENERIC_WRITE };
                        let listening_before = ns.instance_states(&key).iter()
                            .filter(|i| i.state == InstanceState::Listening).count();
                        match ns.open(&key, access, CLIENT) {
                            Ok(o) => prop_assert_eq!(ns.instance(o.instance).unwrap().state, InstanceState::Connected),
                            Err(Win32Error::PIPE_BUSY) => prop_assert_eq!(listening_before, 0),
                            Err(_) => {}
                        }
                    }
                    Op::Listen(i) => { let _ = ns.listen(pick(&ids, i)); }
                    Op::Disconnect(i, stale) => {
                        let id = pick(&ids, i);
                        let epoch = ns.instance(id).map_or(0, |x| x.epoch);
                        let _ = ns.disconnect(id, if stale { epoch.wrapping_sub(1) } else { epoch });
                    }
                    Op::Close(i) => { ns.close_instance(pick(&ids, i)); }
                    Op::Wait(k, t) => {
                        let timeout = [WaitTimeout::Default, WaitTimeout::Forever, WaitTimeout::Millis(0), WaitTimeout::Millis(30)][t as usize];
                        if let Ok(WaitStart::Pending(w)) = ns.wait(&format!("k{k}"), timeout, now) {
                            waiters.push(w);
                        }
                    }
                    Op::Cancel(i) => ns.cancel_wait(pick(&waiters, i)),
                    Op::Tick(dt) => {
                        now += u64::from(dt);
                        ns.expire(now);
                        if let Some(d) = ns.next_deadline() { prop_assert!(d > now); }
                    }
                    Op::Reregister(k, d, s) => {
                        let st = [InstanceState::Listening, InstanceState::Connected, InstanceState::Disconnected][s as usize];
                        if let Ok(c) = ns.reregister(&format!("k{k}"), "x", attrs(DIRS[d as usize], 2), st, 5, SERVER) {
                            ids.push(c.instance);
                        }
                    }
                }
                ns.check_invariants();
                while let Some(c) = ns.poll_wait_completion() {
                    prop_assert!(waiters.contains(&c.waiter));
                }
            }
        }
    }
}
