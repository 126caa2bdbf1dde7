//! npfs only: memory per idle connection, and the broker's RSS with many connected pipes.
//!
//! Server processes create instances and adopt their connections (ConnectNamedPipe), client
//! processes open them; nothing is written. Each child first warms the library up (one
//! connection of its own, so the watcher thread and the broker connection exist), reports
//! "base", and the parent reads `/proc/PID/smaps_rollup` of every process before and after.

use std::io;
use std::time::Duration;

use npfs::{PipeClient, PipeServer, Win32Error};

use crate::child::{ChildArgs, ChildProc, Parent};
use crate::sys;
use crate::transport::npfs::{unique_name, w32};

/// Memory cost of idle connections.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdleMemory {
    /// Connections measured.
    pub conns: usize,
    /// Server process RSS delta per connection, bytes.
    pub server_rss: f64,
    /// Server process PSS delta per connection, bytes.
    pub server_pss: f64,
    /// Client process RSS delta per connection, bytes.
    pub client_rss: f64,
    /// Client process PSS delta per connection, bytes.
    pub client_pss: f64,
    /// Broker RSS delta per connection, bytes.
    pub broker_rss: f64,
    /// Descriptors per connection: server + client processes.
    pub fds: f64,
}

/// Broker footprint with many pipes connected at once.
#[derive(Debug, Clone, Default)]
pub struct BrokerLoad {
    /// Pipes asked for.
    pub wanted: usize,
    /// Pipes connected (fewer when a limit stopped the children).
    pub connected: usize,
    /// Server processes (and as many client processes).
    pub procs: usize,
    /// Broker VmRSS before the pipes were made, bytes.
    pub rss_before: u64,
    /// Broker VmRSS with every pipe connected, bytes.
    pub rss_after: u64,
    /// Broker descriptors with every pipe connected.
    pub broker_fds: usize,
    /// The first error a child reported, if any.
    pub error: Option<String>,
}

/// A pair of children holding `per` idle connections on pipe `name`.
struct Pair {
    server: ChildProc,
    client: ChildProc,
}

fn spawn_pair(name: &str, per: usize) -> io::Result<Pair> {
    let args = |role: &str| {
        vec![
            role.to_string(),
            "--name".into(),
            name.to_string(),
            "--count".into(),
            per.to_string(),
        ]
    };
    let mut server = ChildProc::spawn(&args("idle-server"), Vec::new())?;
    server.expect("base")?;
    let mut client = ChildProc::spawn(&args("idle-client"), Vec::new())?;
    client.expect("base")?;
    Ok(Pair { server, client })
}

/// Run the create / open / adopt steps; returns how many connections were made and the
/// first error.
fn connect_pairs(pairs: &mut [Pair]) -> (usize, Option<String>) {
    let mut err = None;
    let mut note = |e: io::Error| {
        if err.is_none() {
            err = Some(e.to_string());
        }
    };
    for p in pairs.iter_mut() {
        if let Err(e) = p
            .server
            .send("create")
            .and_then(|_| p.server.expect("created"))
        {
            note(e);
        }
    }
    let mut total = 0;
    for p in pairs.iter_mut() {
        match p.client.send("open").and_then(|_| p.client.line()) {
            Ok(l) => {
                let mut it = l.strip_prefix("opened ").unwrap_or("0").splitn(2, ' ');
                total += it.next().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
                if let Some(e) = it.next() {
                    note(io::Error::other(e.to_string()));
                }
            }
            Err(e) => note(e),
        }
    }
    for p in pairs.iter_mut() {
        if let Err(e) = p
            .server
            .send("adopt")
            .and_then(|_| p.server.expect("adopted"))
        {
            note(e);
        }
    }
    (total, err)
}

/// Memory per idle connection, from `conns` connections in one server and one client.
pub fn idle(conns: usize, broker_pid: impl Fn() -> Option<u32>) -> io::Result<IdleMemory> {
    sys::pin(&[])?;
    let name = unique_name("idle");
    let mut pairs = vec![spawn_pair(&name, conns)?];
    let (sp, cp) = (pairs[0].server.pid(), pairs[0].client.pid());
    let bpid = broker_pid().ok_or_else(|| io::Error::other("no broker pid"))?;
    let (s0, c0, b0) = (sys::mem_of(sp)?, sys::mem_of(cp)?, sys::vm_rss(bpid)?);
    let (f0, g0) = (sys::fd_count(sp), sys::fd_count(cp));
    let (made, err) = connect_pairs(&mut pairs);
    if let Some(e) = err {
        return Err(io::Error::other(e));
    }
    let (s1, c1, b1) = (sys::mem_of(sp)?, sys::mem_of(cp)?, sys::vm_rss(bpid)?);
    let fds = (sys::fd_count(sp) + sys::fd_count(cp)) as f64 - (f0 + g0) as f64;
    for p in pairs {
        p.server.finish()?;
        p.client.finish()?;
    }
    let per = |d: i64| d as f64 / made.max(1) as f64;
    let (srss, spss) = s1 - s0;
    let (crss, cpss) = c1 - c0;
    Ok(IdleMemory {
        conns: made,
        server_rss: per(srss),
        server_pss: per(spss),
        client_rss: per(crss),
        client_pss: per(cpss),
        broker_rss: per(b1 as i64 - b0 as i64),
        fds: fds / made.max(1) as f64,
    })
}

/// Broker RSS with `total` pipes connected at once, spread over `procs` server and `procs`
/// client processes (each connection costs descriptors in both, and the server's instances
/// each hold a control channel to the broker).
pub fn broker_load(
    total: usize,
    procs: usize,
    broker_pid: impl Fn() -> Option<u32>,
) -> io::Result<BrokerLoad> {
    sys::pin(&[])?;
    let per = total.div_ceil(procs);
    let mut pairs = Vec::new();
    for i in 0..procs {
        pairs.push(spawn_pair(&format!("{}-{i}", unique_name("load")), per)?);
    }
    let bpid = broker_pid().ok_or_else(|| io::Error::other("no broker pid"))?;
    let rss_before = sys::vm_rss(bpid)?;
    let (connected, error) = connect_pairs(&mut pairs);
    let rss_after = sys::vm_rss(bpid)?;
    let broker_fds = sys::fd_count(bpid);
    drop(pairs);
    Ok(BrokerLoad {
        wanted: per * procs,
        connected,
        procs,
        rss_before,
        rss_after,
        broker_fds,
        error,
    })
}

/// Child: `idle-server --name N --count K`.
pub fn server_child(args: &ChildArgs) -> io::Result<()> {
    sys::raise_nofile();
    let name = args.get("name")?;
    let count: usize = args.num("count")?;
    let mut parent = Parent::new();
    // Warm-up: one connection of our own (watcher thread, broker connection, mappings).
    let warm_name = format!("{name}-warm");
    let warm = npfs::ServerOptions::new()
        .create(&warm_name)
        .map_err(w32("CreateNamedPipe"))?;
    let warm_client = PipeClient::open_duplex(&warm_name).map_err(w32("CreateFile"))?;
    let _ = warm.connect();
    parent.say("base")?;
    let mut servers: Vec<PipeServer> = Vec::with_capacity(count);
    let mut failed = None;
    parent.wait_for("create")?;
    for _ in 0..count {
        match npfs::ServerOptions::new().create(name) {
            Ok(s) => servers.push(s),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    match failed {
        None => parent.say("created")?,
        Some(e) => parent.say(&format!(
            "error CreateNamedPipe failed after {} instances: {e:?}",
            servers.len()
        ))?,
    }
    parent.wait_for("adopt")?;
    // Adopt the connections that exist; an instance no client reached (the broker refused
    // it) stays listening instead of blocking here.
    for s in &servers {
        match s.connect_timeout(Some(Duration::ZERO)) {
            Ok(()) | Err(Win32Error::PIPE_CONNECTED) | Err(Win32Error::SEM_TIMEOUT) => {}
            Err(e) => return Err(w32("ConnectNamedPipe")(e)),
        }
    }
    parent.say("adopted")?;
    let _ = parent.hear();
    drop((warm, warm_client));
    Ok(())
}

/// Child: `idle-client --name N --count K`.
pub fn client_child(args: &ChildArgs) -> io::Result<()> {
    sys::raise_nofile();
    let name = args.get("name")?;
    let count: usize = args.num("count")?;
    let mut parent = Parent::new();
    // Warm-up: a connection of our own, on a pipe of our own.
    let warm_name = format!("{name}-cwarm");
    let warm = npfs::ServerOptions::new()
        .create(&warm_name)
        .map_err(w32("CreateNamedPipe"))?;
    let warm_client = PipeClient::open_duplex(&warm_name).map_err(w32("CreateFile"))?;
    parent.say("base")?;
    parent.wait_for("open")?;
    let mut clients = Vec::with_capacity(count);
    let mut failed = None;
    for _ in 0..count {
        match PipeClient::open_duplex(name) {
            Ok(c) => clients.push(c),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    match failed {
        None => parent.say(&format!("opened {}", clients.len()))?,
        Some(e) => parent.say(&format!(
            "opened {n} CreateFile failed after {n} opens: {e:?}",
            n = clients.len()
        ))?,
    }
    let _ = parent.hear();
    drop((warm, warm_client));
    Ok(())
}
