//! `npfs demo`: one server process, several client processes, two pipes.
//!
//! The server (this process) creates the message pipe `\\.\pipe\npfs-demo-<pid>` (up to
//! [`INSTANCES`] instances, an echo service that upper-cases every message) and the byte pipe
//! `\\.\pipe\npfs-demo-<pid>-bytes` (a sink that counts and checksums a stream). Like a
//! Windows multi-instance server it serves each connection in a thread and creates the next
//! instance at once. It then starts the clients, copies of this executable
//! (`npfs demo-client NAME ID`); each one
//!
//! 1. opens the message pipe (waiting with `wait_named_pipe` while every instance is busy),
//!    switches to message read mode, sends a few messages and checks the echoes;
//! 2. reads one long reply through a small buffer (`more_data`, Windows' `ERROR_MORE_DATA`),
//!    then the rest of it;
//! 3. streams [`STREAM_LEN`] bytes through the byte pipe and compares checksums;
//! 4. calls the message pipe once with `call_named_pipe`.
//!
//! Every wait is bounded: after [`TIMEOUT`] the demo fails.

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use npfs::consts::*;
use npfs::{call_named_pipe, wait_named_pipe, PipeClient, PipeHandle, PipeServer};
use npfs::{ServerOptions, Win32Error};

use crate::broker;
use crate::out::outln;

/// Client processes started by default.
pub const DEFAULT_CLIENTS: u32 = 4;
/// Maximum instances of the message pipe (and of the byte pipe).
pub const INSTANCES: u32 = 4;
/// Bytes each client streams through the byte pipe.
pub const STREAM_LEN: u64 = 1 << 20;
/// Limit of the whole demo, in every process.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Connections each client makes to the message pipe: its session and one `call_named_pipe`.
const MESSAGE_CONNECTIONS_PER_CLIENT: usize = 2;
/// Chunk size of the byte stream.
const CHUNK: usize = 64 * 1024;

type Result<T> = std::result::Result<T, String>;

/// Attach what was being done to a pipe error.
trait Context<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, Win32Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| format!("{}: {e}", what()))
    }
}

/// Client processes, for the final wait and for clean-up on failure.
static CHILDREN: Mutex<Vec<(u32, Child)>> = Mutex::new(Vec::new());

/// Kill and reap the client processes.
fn stop_clients() {
    if let Ok(mut children) = CHILDREN.lock() {
        for (_, c) in children.iter_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Stop the demo: report, kill the clients, clean up, exit 1.
fn fail(msg: &str) -> ! {
    eprintln!("[server] FAILED: {msg}");
    stop_clients();
    std::process::exit(1);
}

/// Fail the process once `deadline` passes.
fn start_watchdog(deadline: Instant, on_timeout: fn(&str) -> !) {
    std::thread::spawn(move || {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        on_timeout(&format!("timed out after {} s", TIMEOUT.as_secs()));
    });
}

fn remaining(deadline: Instant) -> Result<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("timed out after {} s", TIMEOUT.as_secs()))
}

/// The name of the byte pipe that goes with message pipe `name`.
fn bytes_name(name: &str) -> String {
    format!("{name}-bytes")
}

/// `npfs demo`: returns the exit status.
pub fn run_server(clients: u32) -> i32 {
    let deadline = Instant::now() + TIMEOUT;
    let broker_desc = broker::describe();
    // Nobody reads the output any more (`npfs demo | head`): stop quietly.
    crate::out::on_closed(stop_clients);
    start_watchdog(deadline, fail);
    match serve(clients, deadline, &broker_desc) {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

fn message_options() -> ServerOptions {
    let mut o = ServerOptions::new();
    o.message_type(true)
        .message_read_mode(true)
        .max_instances(INSTANCES)
        .default_timeout(1000);
    o
}

fn byte_options() -> ServerOptions {
    let mut o = ServerOptions::new();
    o.max_instances(INSTANCES)
        .in_buffer_size(CHUNK as u32)
        .out_buffer_size(4096)
        .default_timeout(1000);
    o
}

fn serve(clients: u32, deadline: Instant, broker_desc: &str) -> Result<()> {
    let pid = std::process::id();
    let name = format!(r"\\.\pipe\npfs-demo-{pid}");
    let bname = bytes_name(&name);
    let runtime = npfs::broker::runtime_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|e| format!("(unavailable: {e})"));
    outln!("[server] pid {pid}; runtime dir {runtime}; broker {broker_desc}");

    let started = Instant::now();
    let mopts = message_options();
    let bopts = byte_options();
    let first_msg = mopts.create(&name).ctx(|| format!("creating {name}"))?;
    let first_bytes = bopts.create(&bname).ctx(|| format!("creating {bname}"))?;
    outln!(
        "[server] created {name} (message pipe, up to {INSTANCES} instances, echo in upper case)"
    );
    outln!("[server] created {bname} (byte pipe, up to {INSTANCES} instances, checksum sink)");

    let n = clients as usize;
    let msg_total = n * MESSAGE_CONNECTIONS_PER_CLIENT;
    let msg_acceptor = {
        let name = name.clone();
        std::thread::spawn(move || {
            accept_loop(
                &name,
                mopts,
                first_msg,
                msg_total,
                deadline,
                "",
                serve_messages,
            )
        })
    };
    let byte_acceptor = {
        let bname = bname.clone();
        std::thread::spawn(move || {
            accept_loop(
                &bname,
                bopts,
                first_bytes,
                n,
                deadline,
                "byte ",
                serve_bytes,
            )
        })
    };

    let exe = std::env::current_exe().map_err(|e| format!("locating this executable: {e}"))?;
    for id in 1..=clients {
        let child = Command::new(&exe)
            .arg("demo-client")
            .arg(&name)
            .arg(id.to_string())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting client {id}: {e}"))?;
        outln!("[server] started client {id} as pid {}", child.id());
        CHILDREN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, child));
    }

    wait_children(deadline)?;
    join(msg_acceptor, "message acceptor")?;
    join(byte_acceptor, "byte acceptor")?;
    outln!(
        "[server] OK: {clients} client processes, {msg_total} message-pipe connections, \
         {clients} byte streams of {STREAM_LEN} bytes, all checked, in {} ms",
        started.elapsed().as_millis()
    );
    Ok(())
}

/// Wait for every client process; any non-zero exit is a failure.
fn wait_children(deadline: Instant) -> Result<()> {
    loop {
        // Printed once the lock is released (a closed stdout stops the clients, under it).
        let mut exited = Vec::new();
        let all_done = {
            let mut children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
            let mut i = 0;
            while i < children.len() {
                let (id, child) = &mut children[i];
                match child.try_wait() {
                    Ok(Some(status)) if status.success() => {
                        exited.push((*id, child.id()));
                        children.remove(i);
                    }
                    Ok(Some(status)) => {
                        let id = *id;
                        children.remove(i);
                        return Err(format!("client {id} failed ({status})"));
                    }
                    Ok(None) => i += 1,
                    Err(e) => return Err(format!("waiting for client {id}: {e}")),
                }
            }
            children.is_empty()
        };
        for (id, pid) in exited {
            outln!("[server] client {id} (pid {pid}) exited with 0");
        }
        if all_done {
            return Ok(());
        }
        remaining(deadline)?;
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn join(h: JoinHandle<Result<()>>, what: &str) -> Result<()> {
    h.join().map_err(|_| format!("{what} panicked"))?
}

/// A serving function: the connected instance and its number.
type Serve = fn(PipeServer, usize) -> Result<()>;

/// The multi-instance server loop: wait for a client on the listening instance, serve it in a
/// thread, create the next instance (waiting while all [`INSTANCES`] are in use). Stops after
/// `total` connections and their service.
fn accept_loop(
    name: &str,
    opts: ServerOptions,
    first: PipeServer,
    total: usize,
    deadline: Instant,
    kind: &'static str,
    serve: Serve,
) -> Result<()> {
    let mut next = Some(first);
    let mut workers = Vec::new();
    for no in 1..=total {
        let inst = next
            .take()
            .ok_or_else(|| "no listening instance".to_string())?;
        match inst.connect_timeout(Some(remaining(deadline)?)) {
            Ok(()) => {}
            Err(e) if e == Win32Error::PIPE_CONNECTED => {}
            Err(e) => return Err(format!("{kind}instance {no}: ConnectNamedPipe: {e}")),
        }
        let pid = inst
            .client_process_id()
            .ctx(|| format!("{kind}instance {no}: client pid"))?;
        outln!("[server] {kind}instance {no} connected: client pid {pid}");
        workers.push(std::thread::spawn(move || {
            let r = serve(inst, no);
            if let Err(e) = &r {
                // Fail at once rather than leave the client waiting.
                fail(e);
            }
            r
        }));
        if no < total {
            next = Some(create_instance(name, &opts, deadline)?);
        }
    }
    for w in workers {
        join(w, "server thread")?;
    }
    Ok(())
}

/// CreateNamedPipe for the next instance; `ERROR_PIPE_BUSY` means all instances are in use,
/// so try again once one is closed.
fn create_instance(name: &str, opts: &ServerOptions, deadline: Instant) -> Result<PipeServer> {
    loop {
        match opts.create(name) {
            Ok(s) => return Ok(s),
            Err(e) if e == Win32Error::PIPE_BUSY => {
                remaining(deadline)?;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(format!("creating an instance of {name}: {e}")),
        }
    }
}

/// ReadFile until the end of one message (a message longer than the buffer comes in pieces,
/// each with `more_data`).
fn read_message(h: &PipeHandle) -> std::result::Result<Vec<u8>, Win32Error> {
    let mut msg = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let r = h.read(&mut buf)?;
        msg.extend_from_slice(&buf[..r.len]);
        if !r.more_data {
            return Ok(msg);
        }
    }
}

/// ReadFile until `buf` is full (byte pipes).
fn read_exact(h: &PipeHandle, buf: &mut [u8]) -> std::result::Result<(), Win32Error> {
    let mut at = 0;
    while at < buf.len() {
        at += h.read(&mut buf[at..])?.len;
    }
    Ok(())
}

/// WriteFile until all of `data` is written (byte pipes).
fn write_all(h: &PipeHandle, data: &[u8]) -> std::result::Result<(), Win32Error> {
    let mut at = 0;
    while at < data.len() {
        at += h.write(&data[at..])?;
    }
    Ok(())
}

/// The echo service: upper-case every message until the client closes its end.
fn serve_messages(inst: PipeServer, no: usize) -> Result<()> {
    let mut count = 0;
    loop {
        let msg = match read_message(&inst) {
            Ok(m) => m,
            Err(e) if e == Win32Error::BROKEN_PIPE => break,
            Err(e) => return Err(format!("instance {no}: ReadFile: {e}")),
        };
        inst.write(&msg.to_ascii_uppercase())
            .ctx(|| format!("instance {no}: WriteFile"))?;
        count += 1;
    }
    inst.disconnect()
        .ctx(|| format!("instance {no}: DisconnectNamedPipe"))?;
    outln!("[server] instance {no}: client closed after {count} message(s); disconnected");
    Ok(())
}

/// The byte sink: header (client id u32, length u64), the data, its FNV-1a checksum (u64);
/// replies with the count and checksum it computed.
fn serve_bytes(inst: PipeServer, no: usize) -> Result<()> {
    let what = |op: &str| format!("byte instance {no}: {op}");
    let mut header = [0u8; 12];
    read_exact(&inst, &mut header).ctx(|| what("reading the header"))?;
    let id = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
    let len = u64::from_le_bytes(header[4..].try_into().expect("8 bytes"));
    let mut sum = Fnv::new();
    let mut got = 0u64;
    let mut buf = vec![0u8; CHUNK];
    while got < len {
        let want = (len - got).min(CHUNK as u64) as usize;
        let r = inst
            .read(&mut buf[..want])
            .ctx(|| what("reading the stream"))?;
        sum.update(&buf[..r.len]);
        got += r.len as u64;
    }
    let mut trailer = [0u8; 8];
    read_exact(&inst, &mut trailer).ctx(|| what("reading the checksum"))?;
    let theirs = u64::from_le_bytes(trailer);
    let mine = sum.finish();
    let mut reply = [0u8; 16];
    reply[..8].copy_from_slice(&got.to_le_bytes());
    reply[8..].copy_from_slice(&mine.to_le_bytes());
    write_all(&inst, &reply).ctx(|| what("writing the reply"))?;
    // Wait for the client to close its end (it does once it has the reply), then disconnect:
    // DisconnectNamedPipe discards whatever the client has not read yet.
    let mut probe = [0u8; 1];
    match inst.read(&mut probe) {
        Err(e) if e == Win32Error::BROKEN_PIPE => {}
        Ok(_) => return Err(what("unexpected data after the checksum")),
        Err(e) => return Err(format!("{}: {e}", what("waiting for the client to close"))),
    }
    inst.disconnect().ctx(|| what("DisconnectNamedPipe"))?;
    if mine != theirs {
        return Err(format!(
            "byte instance {no}: client {id} checksum {theirs:#018x}, received data gives {mine:#018x}"
        ));
    }
    outln!(
        "[server] byte instance {no}: received {got} bytes from client {id}, checksum {mine:#018x} OK"
    );
    Ok(())
}

/// FNV-1a, 64 bits.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Client `id`'s stream: xorshift bytes, different for every client.
fn stream_chunk(state: &mut u64, buf: &mut [u8]) {
    for b in buf {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *b = (*state >> 24) as u8;
    }
}

fn client_fail(msg: &str) -> ! {
    eprintln!("[client] FAILED: {msg}");
    std::process::exit(1);
}

/// `npfs demo-client NAME ID`: returns the exit status.
pub fn run_client(name: &str, id: u32) -> i32 {
    let deadline = Instant::now() + TIMEOUT;
    start_watchdog(deadline, client_fail);
    match client(name, id, deadline) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("[client {id}] FAILED: {e}");
            1
        }
    }
}

/// CreateFile, waiting with WaitNamedPipe while every instance is busy.
fn open_with_retry(name: &str, id: u32, deadline: Instant) -> Result<PipeClient> {
    loop {
        match PipeClient::open_duplex(name) {
            Ok(c) => return Ok(c),
            Err(e) if e == Win32Error::PIPE_BUSY => {
                let ms = remaining(deadline)?.as_millis().clamp(1, 1000) as u32;
                outln!("[client {id}] {name} is busy; waiting for a free instance");
                match wait_named_pipe(name, ms) {
                    Ok(()) => {}
                    Err(e) if e == Win32Error::SEM_TIMEOUT || e == Win32Error::FILE_NOT_FOUND => {}
                    Err(e) => return Err(format!("WaitNamedPipe({name}): {e}")),
                }
            }
            // Between two instances of the pipe: try again shortly.
            Err(e) if e == Win32Error::FILE_NOT_FOUND => {
                remaining(deadline)?;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(format!("CreateFile({name}): {e}")),
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn client(name: &str, id: u32, deadline: Instant) -> Result<()> {
    let pid = std::process::id();

    // 1. Message exchange.
    let pipe = open_with_retry(name, id, deadline)?;
    let server_pid = pipe.server_process_id().ctx(|| "server pid".into())?;
    pipe.set_handle_mode(PIPE_READMODE_MESSAGE)
        .ctx(|| "SetNamedPipeHandleState(PIPE_READMODE_MESSAGE)".into())?;
    outln!(
        "[client {id}] pid {pid}: connected to {name} (server pid {server_pid}), message read mode"
    );
    let messages = [
        format!("hello from {id}"),
        format!("client {id} says: this is a Windows named pipe on Linux"),
        format!("message 3 of client {id}"),
    ];
    for m in &messages {
        pipe.write(m.as_bytes()).ctx(|| "WriteFile".into())?;
        let reply = read_message(&pipe).ctx(|| "ReadFile".into())?;
        let expect = m.to_ascii_uppercase();
        if reply != expect.as_bytes() {
            return Err(format!(
                "sent {m:?}, got {:?}, expected {expect:?}",
                text(&reply)
            ));
        }
        outln!("[client {id}] sent {m:?}, got {:?}", text(&reply));
    }

    // 2. A reply longer than the buffer.
    let long = format!("a longer message from client {id}, read through a small buffer");
    pipe.write(long.as_bytes()).ctx(|| "WriteFile".into())?;
    let mut small = [0u8; 16];
    let first = pipe.read(&mut small).ctx(|| "ReadFile".into())?;
    if !first.more_data || first.len != small.len() {
        return Err(format!(
            "16-byte read of a {}-byte message gave {first:?}, expected 16 bytes and more_data",
            long.len()
        ));
    }
    let rest = read_message(&pipe).ctx(|| "ReadFile (rest)".into())?;
    let mut whole = small.to_vec();
    whole.extend_from_slice(&rest);
    if whole != long.to_ascii_uppercase().as_bytes() {
        return Err(format!("partial reads reassembled {:?}", text(&whole)));
    }
    outln!(
        "[client {id}] partial read: 16-byte buffer got {:?} + more_data (ERROR_MORE_DATA), \
         next read got the other {} bytes {:?}",
        text(&small),
        rest.len(),
        text(&rest)
    );

    // TransactNamedPipe: write and read in one call.
    let request = format!("transact {id}");
    let mut buf = [0u8; 64];
    let r = pipe
        .transact(request.as_bytes(), &mut buf)
        .ctx(|| "TransactNamedPipe".into())?;
    if buf[..r.len] != *request.to_ascii_uppercase().as_bytes() || r.more_data {
        return Err(format!("transact got {:?}", text(&buf[..r.len])));
    }
    outln!(
        "[client {id}] transact {request:?} -> {:?}",
        text(&buf[..r.len])
    );
    drop(pipe);

    // 3. Byte stream.
    let bname = bytes_name(name);
    let bytes = open_with_retry(&bname, id, deadline)?;
    let mut header = [0u8; 12];
    header[..4].copy_from_slice(&id.to_le_bytes());
    header[4..].copy_from_slice(&STREAM_LEN.to_le_bytes());
    write_all(&bytes, &header).ctx(|| "WriteFile (header)".into())?;
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(id);
    let mut sum = Fnv::new();
    let mut chunk = vec![0u8; CHUNK];
    let mut sent = 0u64;
    let started = Instant::now();
    while sent < STREAM_LEN {
        let n = (STREAM_LEN - sent).min(CHUNK as u64) as usize;
        stream_chunk(&mut state, &mut chunk[..n]);
        sum.update(&chunk[..n]);
        write_all(&bytes, &chunk[..n]).ctx(|| "WriteFile (stream)".into())?;
        sent += n as u64;
    }
    let mine = sum.finish();
    write_all(&bytes, &mine.to_le_bytes()).ctx(|| "WriteFile (checksum)".into())?;
    let mut reply = [0u8; 16];
    read_exact(&bytes, &mut reply).ctx(|| "ReadFile (reply)".into())?;
    let counted = u64::from_le_bytes(reply[..8].try_into().expect("8 bytes"));
    let theirs = u64::from_le_bytes(reply[8..].try_into().expect("8 bytes"));
    if counted != STREAM_LEN || theirs != mine {
        return Err(format!(
            "server counted {counted} bytes, checksum {theirs:#018x}; sent {STREAM_LEN}, {mine:#018x}"
        ));
    }
    outln!(
        "[client {id}] streamed {STREAM_LEN} bytes through {bname} in {} ms; server counted \
         {counted}, checksum {theirs:#018x} matches",
        started.elapsed().as_millis()
    );
    drop(bytes);

    // 4. CallNamedPipe.
    let request = format!("call from {id}");
    let mut buf = [0u8; 64];
    let r = loop {
        let ms = remaining(deadline)?.as_millis().clamp(1, 1000) as u32;
        match call_named_pipe(name, request.as_bytes(), &mut buf, ms) {
            Ok(r) => break r,
            Err(e)
                if e == Win32Error::PIPE_BUSY
                    || e == Win32Error::SEM_TIMEOUT
                    || e == Win32Error::FILE_NOT_FOUND =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(format!("CallNamedPipe: {e}")),
        }
    };
    if buf[..r.len] != *request.to_ascii_uppercase().as_bytes() || r.more_data {
        return Err(format!("call_named_pipe got {:?}", text(&buf[..r.len])));
    }
    outln!(
        "[client {id}] call_named_pipe({request:?}) -> {:?}",
        text(&buf[..r.len])
    );
    Ok(())
}
