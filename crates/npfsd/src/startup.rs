//! Process start-up: runtime directory, single-instance lock, the listening socket (bound
//! here, or passed by systemd: [`crate::activation`]), daemonizing, logging,
//! file-descriptor limit, and the runtime.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use npfs_proto::runtime::{self, LOCK_NAME, LOG_NAME, PID_NAME, SOCKET_NAME, SYSTEM_RUNTIME_DIR};
use rustix::fs::FlockOperation;
use tracing::info;

use crate::cli::{Args, SharedArgs};
use crate::state::{Limits, Policy};

/// What start-up prepared before forking.
struct Prepared {
    dir: PathBuf,
    _lock: File,
    listener: UnixListener,
    /// The socket came from the service manager, which keeps it (and its path).
    activated: bool,
}

/// Run a per-user broker with `args`; returns the process exit status.
pub fn main(args: Args) -> i32 {
    main_with(args, SharedArgs::default())
}

/// Run the broker with `args` and the sharing options `shared` (`--system`, `--shared`,
/// `--admin-group`); returns the process exit status.
pub fn main_with(mut args: Args, shared: SharedArgs) -> i32 {
    if shared.system {
        if !rustix::process::geteuid().is_root() {
            eprintln!("npfsd: --system requires root");
            return 1;
        }
        args.runtime_dir
            .get_or_insert_with(|| PathBuf::from(SYSTEM_RUNTIME_DIR));
    }
    let idle = if shared.system {
        Duration::MAX
    } else {
        Duration::from_millis(args.idle_exit_ms())
    };
    let mut policy = Policy {
        admin_gids: shared.admin_gids(),
        limits: Limits::default(),
        samba: None,
    };
    let samba_np_dir = shared.samba_np_dir();
    if samba_np_dir.is_some() && !shared.system {
        eprintln!("npfsd: --samba-np-dir (or NPFS_SAMBA_NP_DIR) requires --system");
        return 1;
    }
    // SAFETY: start-up: nothing in this process has opened or adopted descriptor 3 yet (the
    // callers, npfsd's and npfs's main, call this first).
    let activated = match unsafe { crate::activation::take_listener() } {
        Ok(a) => a,
        Err(e) => {
            eprintln!("npfsd: {e}");
            return 1;
        }
    };
    // The service manager tracks the process it started: no daemonizing under activation.
    let foreground = args.foreground || activated.is_some();
    let prepared = match prepare(&args, shared.is_shared(), activated) {
        Ok(Some(p)) => p,
        // Another broker serves this directory.
        Ok(None) => return 0,
        Err(e) => {
            eprintln!("npfsd: {e}");
            return 1;
        }
    };
    if !foreground {
        match daemonize(&prepared.dir) {
            Ok(true) => {}
            // The parent: the socket is bound and listening, clients can connect now.
            Ok(false) => return 0,
            Err(e) => {
                eprintln!("npfsd: daemonize: {e}");
                return 1;
            }
        }
    }
    init_logging(&prepared.dir, foreground);
    if let Some(np_dir) = samba_np_dir {
        if let Err(e) = crate::samba::prepare_np_dir(&np_dir) {
            tracing::error!("--samba-np-dir: {e}");
            eprintln!("npfsd: --samba-np-dir: {e}");
            return 1;
        }
        policy.samba = Some(crate::samba::SambaConfig {
            np_dir,
            broker_dir: prepared.dir.clone(),
        });
    }
    raise_nofile_limit();
    // The caps follow the limit the broker actually runs with (docs/SECURITY.md, "The broker
    // under exhaustion").
    policy.limits = Limits::current(shared.is_shared());
    info!(
        nofile = policy.limits.nofile,
        total = policy.limits.total,
        per_uid = policy.limits.per_uid,
        reserve = policy.limits.reserve,
        "connection caps"
    );
    let status = serve(&prepared, idle, policy);
    // We still hold the lock: nobody else can have bound a new socket at this path. An
    // activation socket belongs to the service manager, which keeps listening on it.
    if !prepared.activated {
        let _ = std::fs::remove_file(prepared.dir.join(SOCKET_NAME));
    }
    if !foreground {
        let _ = std::fs::remove_file(prepared.dir.join(PID_NAME));
    }
    status
}

/// Create the directory, take the lock (`Ok(None)` if another broker holds it), replace a
/// stale socket and bind. A `shared` broker's directory is 0755 and its socket 0666. With an
/// activation socket, its directory is the runtime directory (unless `--runtime-dir`) and
/// nothing is bound.
fn prepare(
    args: &Args,
    shared: bool,
    activated: Option<crate::activation::Activated>,
) -> std::io::Result<Option<Prepared>> {
    let dir = match (&args.runtime_dir, &activated) {
        (Some(d), _) => d.clone(),
        (None, Some(a)) => a
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(runtime::runtime_dir_from_env),
        (None, None) => runtime::runtime_dir_from_env(),
    };
    if shared {
        runtime::ensure_shared_dir(&dir)?;
    } else {
        runtime::ensure_dir(&dir)?;
    }
    let dir = dir.canonicalize()?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_NAME))?;
    match rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) if activated.is_some() => {
            return Err(std::io::Error::other(format!(
                "another broker already serves {} (started by hand?); stop it, and let the \
                 socket unit start npfsd",
                dir.display()
            )));
        }
        Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    if let Some(a) = activated {
        return Ok(Some(Prepared {
            dir,
            _lock: lock,
            listener: a.listener,
            activated: true,
        }));
    }
    let path = dir.join(SOCKET_NAME);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(&path)?;
    if shared {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?;
    }
    Ok(Some(Prepared {
        dir,
        _lock: lock,
        listener,
        activated: false,
    }))
}

/// Fork; the child detaches (setsid, stdio to /dev/null, cwd /) and records its pid.
/// Returns `true` in the child, `false` in the parent.
fn daemonize(dir: &Path) -> std::io::Result<bool> {
    // SAFETY: the process is single-threaded here (no runtime, no logging thread yet), so
    // the child may run arbitrary code after fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid > 0 {
        return Ok(false);
    }
    rustix::process::setsid()?;
    let null = File::options().read(true).write(true).open("/dev/null")?;
    for target in 0..=2 {
        // SAFETY: dup2 on two valid descriptors; replacing stdio is the intent.
        if unsafe { libc::dup2(null.as_raw_fd(), target) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    std::env::set_current_dir("/")?;
    std::fs::write(dir.join(PID_NAME), format!("{}\n", std::process::id()))?;
    Ok(true)
}

fn init_logging(dir: &Path, foreground: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    if foreground {
        // Colours only for a person at a terminal, never into a journal or a file.
        use std::io::IsTerminal;
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .try_init();
    } else if let Ok(file) = File::options()
        .create(true)
        .append(true)
        .open(dir.join(LOG_NAME))
    {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .try_init();
    }
}

/// Raise the soft RLIMIT_NOFILE to the hard limit (each connection holds a descriptor).
fn raise_nofile_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        lim.current = lim.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, lim) {
            tracing::warn!("cannot raise RLIMIT_NOFILE: {e}");
        }
    }
}

fn serve(prepared: &Prepared, idle: Duration, policy: Policy) -> i32 {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("runtime: {e}");
            return 1;
        }
    };
    let result = rt.block_on(async {
        let std_listener = prepared.listener.try_clone()?;
        std_listener.set_nonblocking(true)?;
        let listener = tokio::net::UnixListener::from_std(std_listener)?;
        info!(dir = %prepared.dir.display(), "npfsd serving");
        crate::server::run_with(listener, idle, policy).await;
        Ok::<(), std::io::Error>(())
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e}");
            1
        }
    }
}
