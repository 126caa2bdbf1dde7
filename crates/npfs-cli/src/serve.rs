//! `npfs serve`: a multi-instance server that runs a command for every connection (stdin and
//! stdout bound to the pipe, as inetd or socat's EXEC do) or echoes.
//!
//! Every instance is served by its own thread: ConnectNamedPipe, the session,
//! DisconnectNamedPipe, and again; so `--instances N` instances are always either serving or
//! ready. SIGINT and SIGTERM stop it cleanly: the instances are disconnected (which ends
//! their sessions' reads), the commands get SIGTERM, the threads are joined (bounded) and the
//! instances closed, so the pipe is gone when `npfs serve` exits with status 0.
//!
//! Once the pipe exists and every instance listens, `--ready-fd` and `$NOTIFY_SOCKET` are
//! told ([`crate::ready`]).
//!
//! In `--message` mode, every message a client sends is written to the command's stdin as a
//! line, and every line the command writes becomes one message. A zero-length message (what
//! `npfs connect -s` sends when its stdin ends) closes the command's stdin; so does the
//! client closing its end.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use npfs::{PipeHandle, PipeServer, ServerOptions, Win32Error};

use crate::{exit, ready};

/// What `npfs serve` was asked to do.
#[derive(Debug, Clone)]
pub struct ServeArgs {
    /// The pipe's security descriptor, as SDDL (`--sddl`).
    pub sddl: Option<String>,
    /// Full pipe name.
    pub name: String,
    /// Message pipe, message read mode.
    pub message: bool,
    /// Instances (nMaxInstances), each always serving or ready.
    pub instances: u32,
    /// The server only reads (PIPE_ACCESS_INBOUND).
    pub inbound: bool,
    /// The server only writes (PIPE_ACCESS_OUTBOUND).
    pub outbound: bool,
    /// nInBufferSize.
    pub in_buffer: u32,
    /// nOutBufferSize.
    pub out_buffer: u32,
    /// nDefaultTimeOut (ms).
    pub timeout: u32,
    /// PIPE_REJECT_REMOTE_CLIENTS.
    pub reject_remote: bool,
    /// Echo instead of running a command.
    pub echo: bool,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// `--ready-fd`: the descriptor to write `READY` to once serving.
    pub ready_fd: Option<u32>,
}

impl ServeArgs {
    fn reads(&self) -> bool {
        !self.outbound
    }
    fn writes(&self) -> bool {
        !self.inbound
    }
}

/// How long a session's command may run on after its client left, before SIGTERM.
const GRACE: Duration = Duration::from_secs(2);
/// How long shutdown waits for the instance threads.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(5);

struct Shared {
    args: ServeArgs,
    stop: Arc<AtomicBool>,
    /// Process ids of the running commands (not yet reaped, so the ids are theirs).
    children: Mutex<HashSet<u32>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn terminate(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory effects; `pid` is an unreaped child of ours.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

/// `npfs serve`: returns the exit status.
pub fn run(args: ServeArgs) -> i32 {
    if args.echo && (args.inbound || args.outbound) {
        eprintln!("npfs: --echo needs a duplex pipe (drop --inbound / --outbound)");
        return exit::USAGE;
    }
    // First of all, before this process opens any descriptor of its own that could be
    // taken for it.
    let ready_fd = match args.ready_fd.map(ready::take_fd).transpose() {
        Ok(fd) => fd,
        Err(msg) => {
            eprintln!("npfs: {msg}");
            return exit::USAGE;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    // The main thread sleeps until a signal or the end of an instance thread writes a byte
    // into this pipe: no tick.
    let (wake_r, wake_w) = match rustix::pipe::pipe_with(
        rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
    ) {
        Ok(p) => p,
        Err(e) => return exit::fail(format_args!("cannot make a pipe: {e}")),
    };
    let wake_w = Arc::new(wake_w);
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let registered = signal_hook::flag::register(sig, stop.clone()).and_then(|_| {
            let fd = wake_w.try_clone()?;
            signal_hook::low_level::pipe::register(sig, fd)
        });
        if let Err(e) = registered {
            return exit::fail(format_args!("cannot handle signal {sig}: {e}"));
        }
    }
    let mut opts = ServerOptions::new();
    opts.message_type(args.message)
        .message_read_mode(args.message)
        .max_instances(args.instances)
        .in_buffer_size(args.in_buffer)
        .out_buffer_size(args.out_buffer)
        .default_timeout(args.timeout)
        .reject_remote_clients(args.reject_remote);
    if args.inbound {
        opts.access_outbound(false);
    }
    if args.outbound {
        opts.access_inbound(false);
    }
    let mut instances = Vec::new();
    let mut first = opts.clone();
    if let Some(sddl) = &args.sddl {
        // The descriptor belongs to the pipe: only the instance that creates it brings one.
        first.sddl(sddl);
    }
    for i in 0..args.instances {
        let o = if i == 0 { &first } else { &opts };
        match o.create(&args.name) {
            Ok(s) => instances.push(Arc::new(s)),
            Err(e) => {
                let code = exit::report(e, &args.name);
                if e == Win32Error::PIPE_BUSY {
                    eprintln!(
                        "npfs: (the pipe already has as many instances as its maximum allows)"
                    );
                }
                return code;
            }
        }
    }
    let what = if args.echo {
        "echo".to_string()
    } else {
        args.command.join(" ")
    };
    eprintln!(
        "npfs serve: {} ready: {} pipe, {} instance(s), {}",
        args.name,
        if args.message { "message" } else { "byte" },
        args.instances,
        what
    );
    // Every instance listens from its creation on: the pipe is ready.
    if let Some(fd) = ready_fd {
        ready::signal_fd(fd);
    }
    ready::notify("READY=1");
    let shared = Arc::new(Shared {
        args,
        stop: stop.clone(),
        children: Mutex::new(HashSet::new()),
    });
    let ended = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<JoinHandle<()>> = instances
        .iter()
        .enumerate()
        .map(|(no, inst)| {
            let (inst, shared) = (inst.clone(), shared.clone());
            let (ended, wake_w) = (ended.clone(), wake_w.clone());
            std::thread::spawn(move || {
                serve_instance(&inst, no + 1, &shared);
                ended.fetch_add(1, Ordering::SeqCst);
                let _ = rustix::io::write(&*wake_w, &[1]);
            })
        })
        .collect();

    while !stop.load(Ordering::SeqCst) && ended.load(Ordering::SeqCst) < workers.len() {
        let mut fds = [rustix::event::PollFd::new(
            &wake_r,
            rustix::event::PollFlags::IN,
        )];
        let _ = rustix::event::poll(&mut fds, None);
        let mut drain = [0u8; 64];
        while rustix::io::read(&wake_r, &mut drain).is_ok_and(|n| n > 0) {}
    }
    stop.store(true, Ordering::SeqCst);
    ready::notify("STOPPING=1");
    // End every session: a disconnect fails the reads blocked on the instance, and the
    // commands are asked to stop.
    for inst in &instances {
        let _ = inst.disconnect();
    }
    for &pid in lock(&shared.children).iter() {
        terminate(pid);
    }
    let limit = Instant::now() + SHUTDOWN_LIMIT;
    while workers.iter().any(|w| !w.is_finished()) && Instant::now() < limit {
        std::thread::sleep(Duration::from_millis(20));
        // An instance thread that was between its stop check and ConnectNamedPipe listened
        // again after the first disconnect: disconnect it again (shutdown only).
        for inst in &instances {
            let _ = inst.disconnect();
        }
    }
    let stuck = workers.iter().filter(|w| !w.is_finished()).count();
    for w in workers {
        if w.is_finished() {
            let _ = w.join();
        }
    }
    if stuck > 0 {
        eprintln!("npfs serve: {stuck} session(s) did not end in time");
        return exit::FAILED;
    }
    // The last references: each drop closes its instance before it returns.
    drop(instances);
    eprintln!("npfs serve: stopped");
    exit::OK
}

fn serve_instance(inst: &Arc<PipeServer>, no: usize, shared: &Shared) {
    let name = &shared.args.name;
    while !shared.stop.load(Ordering::SeqCst) {
        // Woken by a client, or by the disconnect that stops the server.
        match inst.connect() {
            Ok(()) => {}
            Err(e) if e == Win32Error::PIPE_CONNECTED => {}
            Err(e) if e == Win32Error::NO_DATA => {
                // The client came and left already.
                let _ = inst.disconnect();
                continue;
            }
            Err(_) if shared.stop.load(Ordering::SeqCst) => break,
            Err(e) if e == Win32Error::PIPE_NOT_CONNECTED => continue,
            Err(e) => {
                eprintln!("npfs serve: instance {no}: {}", exit::message(e, name));
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        }
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let client = inst.client_process_id().unwrap_or(0);
        let r = if shared.args.echo {
            echo(inst, shared.args.message)
        } else {
            run_command(inst, client, shared)
        };
        if let Err(msg) = r {
            eprintln!("npfs serve: instance {no} (client pid {client}): {msg}");
        }
        let _ = inst.disconnect();
    }
}

/// The other end is gone (closed, or the instance was disconnected for shutdown).
fn is_end(e: Win32Error) -> bool {
    e == Win32Error::BROKEN_PIPE || e == Win32Error::PIPE_NOT_CONNECTED || e == Win32Error::NO_DATA
}

fn write_all(h: &PipeHandle, data: &[u8]) -> Result<(), Win32Error> {
    let mut at = 0;
    loop {
        at += PipeHandle::write(h, &data[at..])?;
        if at >= data.len() {
            return Ok(());
        }
    }
}

/// Echo until the client leaves or sends a zero-length message: messages as they came, bytes
/// as they come.
fn echo(inst: &PipeServer, message: bool) -> Result<(), String> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut msg = Vec::new();
    loop {
        let r = match PipeHandle::read(inst, &mut buf) {
            Ok(r) => r,
            Err(e) if is_end(e) => return Ok(()),
            Err(e) => return Err(format!("reading: {}", e.label())),
        };
        if r.len == 0 && !r.more_data && msg.is_empty() {
            // A zero-length message (`npfs connect -s`): the client's input ended. Let it
            // read every echo, then end the session.
            let _ = PipeHandle::flush(inst);
            return Ok(());
        }
        let res = if message {
            msg.extend_from_slice(&buf[..r.len]);
            if r.more_data {
                continue;
            }
            let res = PipeHandle::write(inst, &msg).map(drop);
            msg.clear();
            res
        } else {
            write_all(inst, &buf[..r.len])
        };
        match res {
            Ok(()) => {}
            Err(e) if is_end(e) => return Ok(()),
            Err(e) => return Err(format!("writing: {}", e.label())),
        }
    }
}

/// Run the command for one connection, its stdin and stdout bridged to the pipe.
fn run_command(inst: &Arc<PipeServer>, client: u32, shared: &Shared) -> Result<(), String> {
    let a = &shared.args;
    let mut cmd = Command::new(&a.command[0]);
    cmd.args(&a.command[1..])
        .env("NPFS_PIPE_NAME", &a.name)
        .env("NPFS_CLIENT_PID", client.to_string())
        // A remote client's computer name (GetNamedPipeClientComputerName; through Samba its
        // address), empty for a local one.
        .env(
            "NPFS_CLIENT_COMPUTER",
            inst.client_computer_name()
                .ok()
                .flatten()
                .unwrap_or_default(),
        )
        // The service is `npfs serve`, not its commands.
        .env_remove(ready::NOTIFY_SOCKET)
        .stdin(if a.reads() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(if a.writes() {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
        .stderr(Stdio::inherit());
    let mut child: Child = {
        // Registered under the lock, so shutdown cannot miss a child being started.
        let mut children = lock(&shared.children);
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {:?}: {e}", a.command[0]))?;
        children.insert(child.id());
        child
    };
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));

    // Pipe -> the command's stdin.
    let feeder = child.stdin.take().map(|stdin| {
        let (inst, done, message) = (inst.clone(), done.clone(), a.message);
        std::thread::spawn(move || feed(&inst, stdin, message, pid, &done))
    });

    // The command's stdout -> pipe.
    if let Some(stdout) = child.stdout.take() {
        if let Err(e) = drain(inst, stdout, a.message) {
            if !is_end(e) {
                eprintln!("npfs serve: writing to {}: {}", a.name, e.label());
            }
            // Nobody to write to any more.
            terminate(pid);
        } else {
            // Everything the command wrote must reach the client before the disconnect.
            let _ = PipeHandle::flush(inst);
        }
    }
    let status = child.wait();
    done.store(true, Ordering::SeqCst);
    lock(&shared.children).remove(&pid);
    // Ends the feeder's read, if it is still waiting for the client.
    let _ = inst.disconnect();
    if let Some(f) = feeder {
        let _ = f.join();
    }
    match status {
        Ok(s) if !s.success() && !shared.stop.load(Ordering::SeqCst) => {
            eprintln!(
                "npfs serve: {:?} (client pid {client}) ended with {s}",
                a.command[0]
            );
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(format!("waiting for the command: {e}")),
    }
}

/// Copy the pipe into the command's stdin until the client sends a zero-length message or
/// leaves; then close stdin, and if the client left and the command does not end within
/// [`GRACE`], terminate it.
fn feed(
    inst: &PipeServer,
    mut stdin: std::process::ChildStdin,
    message: bool,
    pid: u32,
    done: &AtomicBool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut client_left = false;
    loop {
        match PipeHandle::read(inst, &mut buf) {
            Ok(r) if r.len == 0 && !r.more_data => break,
            Ok(r) => {
                let mut res = stdin.write_all(&buf[..r.len]);
                if message && !r.more_data && res.is_ok() {
                    res = stdin.write_all(b"\n");
                }
                if res.and_then(|()| stdin.flush()).is_err() {
                    // The command closed its stdin: nothing more to feed.
                    break;
                }
            }
            Err(e) => {
                client_left = is_end(e) && !done.load(Ordering::SeqCst);
                break;
            }
        }
    }
    drop(stdin);
    if client_left {
        let limit = Instant::now() + GRACE;
        while !done.load(Ordering::SeqCst) {
            if Instant::now() >= limit {
                terminate(pid);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Copy the command's stdout into the pipe (lines as messages in message mode).
fn drain(
    inst: &PipeServer,
    stdout: std::process::ChildStdout,
    message: bool,
) -> Result<(), Win32Error> {
    let mut out = BufReader::with_capacity(64 * 1024, stdout);
    if message {
        let mut line = Vec::new();
        loop {
            line.clear();
            match out.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return Ok(()),
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    PipeHandle::write(inst, &line)?;
                }
            }
        }
    } else {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match out.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => write_all(inst, &buf[..n])?,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Ok(()),
            }
        }
    }
}
