//! CreateNamedPipe (`ServerOptions`), CreateFile (`PipeClient::open`), CreatePipe.

use super::*;

impl PipeClient {
    /// CreateFile on a pipe name with `dwDesiredAccess` (`GENERIC_READ`, `GENERIC_WRITE`, ...).
    /// The handle starts in byte read mode and blocking mode. Errors: `ERROR_FILE_NOT_FOUND`,
    /// `ERROR_PIPE_BUSY` (no instance listening), `ERROR_ACCESS_DENIED` (direction).
    #[doc(alias = "CreateFile")]
    #[doc(alias = "CreateFileA")]
    #[doc(alias = "CreateFileW")]
    pub fn open(name: &str, desired_access: u32) -> Result<PipeClient> {
        Self::open_with_flags(name, desired_access, 0)
    }

    /// CreateFile with `dwFlagsAndAttributes`: its SQOS bits (`SECURITY_SQOS_PRESENT`, the
    /// impersonation level, `SECURITY_CONTEXT_TRACKING`, `SECURITY_EFFECTIVE_ONLY`) limit what
    /// the server may do with the client's identity.
    #[doc(alias = "CreateFile")]
    pub fn open_with_flags(name: &str, desired_access: u32, flags: u32) -> Result<PipeClient> {
        let name = PipeName::parse(name)?;
        if let npfs_core::name::Server::Remote(host) = &name.server {
            let pipe = crate::remote::RemotePipe::open(host, &name.name)?;
            let access =
                config::client_granted_access(desired_access | SYNCHRONIZE | FILE_READ_ATTRIBUTES);
            return Ok(PipeClient {
                handle: PipeHandle::for_remote(name, access, pipe),
            });
        }
        let opts = broker::OpenOptions {
            sqos: flags & 0x001F_0000,
            ..broker::OpenOptions::default()
        };
        // What kernelbase's CreateFileW asks of NtCreateFile: the DACL must allow these too.
        let desired_access = desired_access | SYNCHRONIZE | FILE_READ_ATTRIBUTES;
        let opened = with_broker(|b| b.open_with(&name, desired_access, &opts))?;
        let access = match opened.granted_access {
            0 => config::client_granted_access(desired_access),
            a => a,
        };
        let link = Arc::new(Link::new(opened.fds, &opened.info, End::Client, access)?);
        Ok(PipeClient {
            handle: PipeHandle::for_client(name, opened.info.attrs, access, link),
        })
    }

    /// CreateFile with read and write access.
    #[doc(alias = "CreateFile")]
    pub fn open_duplex(name: &str) -> Result<PipeClient> {
        Self::open(name, GENERIC_READ | GENERIC_WRITE)
    }
}

/// CreateNamedPipe's arguments, with the names of tokio's `ServerOptions`.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// The descriptor of a new pipe (lpSecurityAttributes), as SDDL.
    sddl: Option<String>,
    open_mode: u32,
    pipe_mode: u32,
    max_instances: u32,
    out_buffer_size: u32,
    in_buffer_size: u32,
    default_timeout: u32,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions::new()
    }
}

impl ServerOptions {
    /// Duplex, byte type, byte read mode, blocking, unlimited instances, 4096-byte buffers,
    /// default time-out 50 ms.
    pub fn new() -> Self {
        ServerOptions {
            sddl: None,
            open_mode: PIPE_ACCESS_DUPLEX,
            pipe_mode: 0,
            max_instances: PIPE_UNLIMITED_INSTANCES,
            out_buffer_size: 4096,
            in_buffer_size: 4096,
            default_timeout: 0,
        }
    }

    /// Exactly CreateNamedPipe's `dwOpenMode`, `dwPipeMode`, `nMaxInstances`,
    /// `nOutBufferSize`, `nInBufferSize` and `nDefaultTimeOut`.
    pub fn from_raw(
        open_mode: u32,
        pipe_mode: u32,
        max_instances: u32,
        out: u32,
        inb: u32,
        timeout: u32,
    ) -> Self {
        ServerOptions {
            sddl: None,
            open_mode,
            pipe_mode,
            max_instances,
            out_buffer_size: out,
            in_buffer_size: inb,
            default_timeout: timeout,
        }
    }

    fn flag(&mut self, bit: u32, on: bool) -> &mut Self {
        if on {
            self.open_mode |= bit;
        } else {
            self.open_mode &= !bit;
        }
        self
    }

    /// `PIPE_ACCESS_INBOUND` part of the direction: the server reads (default true).
    pub fn access_inbound(&mut self, on: bool) -> &mut Self {
        self.flag(PIPE_ACCESS_INBOUND, on)
    }

    /// `PIPE_ACCESS_OUTBOUND` part of the direction: the server writes (default true).
    pub fn access_outbound(&mut self, on: bool) -> &mut Self {
        self.flag(PIPE_ACCESS_OUTBOUND, on)
    }

    /// `FILE_FLAG_FIRST_PIPE_INSTANCE`: fail with `ERROR_ACCESS_DENIED` if the pipe exists.
    pub fn first_pipe_instance(&mut self, on: bool) -> &mut Self {
        self.flag(FILE_FLAG_FIRST_PIPE_INSTANCE, on)
    }

    /// `WRITE_DAC` access on the handle.
    pub fn write_dac(&mut self, on: bool) -> &mut Self {
        self.flag(WRITE_DAC, on)
    }

    /// `WRITE_OWNER` access on the handle (same bit as FILE_FLAG_FIRST_PIPE_INSTANCE).
    pub fn write_owner(&mut self, on: bool) -> &mut Self {
        self.flag(WRITE_OWNER, on)
    }

    /// `ACCESS_SYSTEM_SECURITY` access on the handle.
    pub fn access_system_security(&mut self, on: bool) -> &mut Self {
        self.flag(ACCESS_SYSTEM_SECURITY, on)
    }

    /// `FILE_FLAG_WRITE_THROUGH` (accepted; only meaningful for remote byte pipes).
    pub fn write_through(&mut self, on: bool) -> &mut Self {
        self.flag(FILE_FLAG_WRITE_THROUGH, on)
    }

    /// `PIPE_TYPE_MESSAGE` (true) or `PIPE_TYPE_BYTE`.
    pub fn message_type(&mut self, on: bool) -> &mut Self {
        self.pipe_mode =
            (self.pipe_mode & !PIPE_TYPE_MESSAGE) | if on { PIPE_TYPE_MESSAGE } else { 0 };
        self
    }

    /// `PIPE_READMODE_MESSAGE` (true) or `PIPE_READMODE_BYTE` for the server end.
    pub fn message_read_mode(&mut self, on: bool) -> &mut Self {
        self.pipe_mode =
            (self.pipe_mode & !PIPE_READMODE_MESSAGE) | if on { PIPE_READMODE_MESSAGE } else { 0 };
        self
    }

    /// `PIPE_NOWAIT` (true) or `PIPE_WAIT` for the server end.
    pub fn nowait(&mut self, on: bool) -> &mut Self {
        self.pipe_mode = (self.pipe_mode & !PIPE_NOWAIT) | u32::from(on);
        self
    }

    /// `PIPE_REJECT_REMOTE_CLIENTS`.
    pub fn reject_remote_clients(&mut self, on: bool) -> &mut Self {
        self.pipe_mode = (self.pipe_mode & !PIPE_REJECT_REMOTE_CLIENTS)
            | if on { PIPE_REJECT_REMOTE_CLIENTS } else { 0 };
        self
    }

    /// nMaxInstances: 1..=254, or 255 (`PIPE_UNLIMITED_INSTANCES`).
    pub fn max_instances(&mut self, n: u32) -> &mut Self {
        self.max_instances = n;
        self
    }

    /// nInBufferSize: the quota of the client → server direction.
    pub fn in_buffer_size(&mut self, n: u32) -> &mut Self {
        self.in_buffer_size = n;
        self
    }

    /// nOutBufferSize: the quota of the server → client direction.
    pub fn out_buffer_size(&mut self, n: u32) -> &mut Self {
        self.out_buffer_size = n;
        self
    }

    /// nDefaultTimeOut in ms, for WaitNamedPipe with `NMPWAIT_USE_DEFAULT_WAIT` (0 = 50 ms).
    pub fn default_timeout(&mut self, ms: u32) -> &mut Self {
        self.default_timeout = ms;
        self
    }

    /// `lpSecurityAttributes->lpSecurityDescriptor`: the descriptor of a new pipe (without
    /// one, the default DACL of the CreateNamedPipe page). Creating an *additional* instance
    /// with a descriptor fails with `ERROR_ACCESS_DENIED`, as on Windows.
    pub fn security_descriptor(&mut self, sd: &SecurityDescriptor) -> &mut Self {
        self.sddl = Some(sd.to_sddl());
        self
    }

    /// [`ServerOptions::security_descriptor`] given as SDDL (names of users and groups are
    /// resolved by the broker).
    pub fn sddl(&mut self, sddl: &str) -> &mut Self {
        self.sddl = Some(sddl.to_owned());
        self
    }

    /// CreateNamedPipe: create the pipe or another instance of it. The instance listens at
    /// once; clients may connect before [`PipeServer::connect`].
    #[doc(alias = "CreateNamedPipe")]
    #[doc(alias = "CreateNamedPipeA")]
    #[doc(alias = "CreateNamedPipeW")]
    pub fn create(&self, name: &str) -> Result<PipeServer> {
        self.create_with_access(name, None)
    }

    /// [`ServerOptions::create`], the handle holding `access` instead of what the direction
    /// and the access bits of the open mode give (CreatePipe's read end:
    /// `FILE_GENERIC_READ | FILE_WRITE_ATTRIBUTES`, whatever flags made it).
    fn create_with_access(&self, name: &str, access: Option<u32>) -> Result<PipeServer> {
        let name = PipeName::parse_for_create(Some(name))?;
        let params: CreateParams = config::parse_create(
            self.open_mode,
            self.pipe_mode,
            self.max_instances,
            self.out_buffer_size,
            self.in_buffer_size,
            self.default_timeout,
        )?;
        let (channel, created) =
            InstanceChannel::create_secure(&name, &params, self.sddl.as_deref())
                .map_err(broker_err)?;
        let access = access.unwrap_or_else(|| {
            config::server_granted_access(created.attrs.direction, params.options.extra_access)
        });
        let wake = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )
        .map_err(|_| Win32Error::NO_SYSTEM_RESOURCES)?;
        let inner = Arc::new(Inner {
            name,
            attrs: created.attrs,
            access,
            kind: Kind::Server(Box::new(Mutex::new(ServerSide {
                channel,
                me: None,
                token: None,
                epoch: 0,
                disconnected_epoch: None,
                link: ServerLink::Listening,
                conn_id: 0,
                wake: Arc::new(wake),
            }))),
            modes: Mutex::new(Modes {
                read_mode: params.options.read_mode,
                nowait: params.options.nowait,
            }),
        });
        if let Kind::Server(s) = &inner.kind {
            let mut s = lock(s);
            let weak: Weak<dyn Watched> = Arc::downgrade(&inner) as Weak<dyn Watched>;
            s.token = watcher::watch(s.channel.as_fd(), weak.clone());
            s.me = Some(weak);
        }
        Ok(PipeServer {
            handle: PipeHandle { inner },
            already_existed: created.already_existed,
        })
    }
}

static ANON: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// CreatePipe: an anonymous pipe, returned as (read end, write end). It is a byte pipe of one
/// instance whose quota is `size`, or 4096 when `size` is 0.
#[doc(alias = "CreatePipe")]
pub fn create_pipe(size: u32) -> Result<(PipeServer, PipeClient)> {
    let size = if size == 0 { 4096 } else { size };
    let n = ANON.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!(
        "\\\\.\\pipe\\Win32Pipes.{:08x}.{:08x}",
        crate::sys::my_pid(),
        n
    );
    let server = ServerOptions::from_raw(
        PIPE_ACCESS_INBOUND | FILE_FLAG_FIRST_PIPE_INSTANCE,
        0,
        1,
        size,
        size,
        120_000,
    )
    .create_with_access(&name, Some(FILE_GENERIC_READ | FILE_WRITE_ATTRIBUTES))?;
    let client = PipeClient::open(&name, GENERIC_WRITE | FILE_READ_ATTRIBUTES)?;
    server.connect().or_else(|e| {
        if e == Win32Error::PIPE_CONNECTED {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    Ok((server, client))
}
