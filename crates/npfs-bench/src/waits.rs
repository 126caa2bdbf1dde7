//! What waiting costs: the CPU an idle server burns while its instances wait for clients
//! (every wait must sleep until its event, never tick), and how many threads a process needs
//! for many pending overlapped operations through the C ABI (one completion driver, no thread
//! per operation).

use std::io;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use crate::child::{ChildArgs, ChildProc, Parent};
use crate::transport::npfs::{unique_name, w32};

/// CPU used by an idle server: `instances` instances, each with a thread blocked in
/// ConnectNamedPipe, over `secs` seconds.
#[derive(Clone, Debug)]
pub struct IdleCpu {
    /// Instances listening.
    pub instances: usize,
    /// Length of the measurement (s).
    pub secs: f64,
    /// User + system CPU of the server process over it (ms).
    pub cpu_ms: f64,
}

/// Threads of one process with many overlapped reads pending through the C ABI.
#[derive(Clone, Debug)]
pub struct PendingThreads {
    /// Reads pending.
    pub reads: usize,
    /// Threads of the process meanwhile.
    pub threads: usize,
}

/// Run the idle-server child and read what it measured on itself.
pub fn idle_cpu(instances: usize, secs: f64) -> io::Result<IdleCpu> {
    let name = unique_name("idlecpu");
    let mut child = ChildProc::spawn(
        &[
            "idle-instances".into(),
            "--name".into(),
            name,
            "--count".into(),
            instances.to_string(),
            "--secs".into(),
            secs.to_string(),
        ],
        Vec::new(),
    )?;
    let line = child.line()?;
    let cpu_us: f64 = line
        .strip_prefix("cpu_us ")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::other(format!("idle-instances said {line:?}")))?;
    child.finish()?;
    Ok(IdleCpu {
        instances,
        secs,
        cpu_ms: cpu_us / 1000.0,
    })
}

/// CPU this process used so far, every thread, user and system (µs).
fn cpu_us() -> io::Result<f64> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Ok(t.tv_sec as f64 * 1e6 + t.tv_nsec as f64 / 1e3)
}

/// The child: `--count` instances of `--name`, each with a thread in ConnectNamedPipe (as
/// `npfs serve` has), settled for a moment, then its own CPU over `--secs` seconds.
pub fn idle_instances_child(args: &ChildArgs) -> io::Result<()> {
    crate::sys::raise_nofile();
    let name = args.get("name")?.to_string();
    let count: usize = args.num("count")?;
    let secs: f64 = args.num("secs")?;
    let mut parent = Parent::new();
    let mut servers = Vec::with_capacity(count);
    for _ in 0..count {
        servers.push(Arc::new(
            npfs::ServerOptions::new()
                .create(&name)
                .map_err(w32("CreateNamedPipe"))?,
        ));
    }
    for s in &servers {
        let s = s.clone();
        std::thread::spawn(move || {
            let _ = s.connect();
        });
    }
    // Let every thread reach its wait.
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_us()?;
    std::thread::sleep(Duration::from_secs_f64(secs));
    let after = cpu_us()?;
    parent.say(&format!("cpu_us {}", after - before))?;
    // Let the parent read the line; the process ends with its instances.
    let _ = parent.hear();
    std::process::exit(0);
}

/// Build tests/c/conformance/manypending.c against target/release/libnpfs.so under `work`
/// and run it with `pipes` pipes of 10 pending reads each; its output names the thread count.
pub fn pending_threads(work: &Path, pipes: usize) -> io::Result<PendingThreads> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let exe = work.join("manypending");
    if !exe.exists() {
        crate::wine::build_against_libnpfs(
            &root.join("tests/c/conformance/manypending.c"),
            &exe,
            work,
        )?;
    }
    let out = Command::new(&exe)
        .env("NPFS_PENDING_PIPES", pipes.to_string())
        .env("NPFS_PENDING_READS", "10")
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "manypending failed: {}",
            text.lines().last().unwrap_or("")
        )));
    }
    // "ok 4 - with N reads pending the process runs on T threads (<= 16)"
    let threads = text
        .lines()
        .find_map(|l| {
            let rest = l.split(" runs on ").nth(1)?;
            rest.split_whitespace().next()?.parse::<usize>().ok()
        })
        .ok_or_else(|| io::Error::other("manypending printed no thread count"))?;
    Ok(PendingThreads {
        reads: pipes * 10,
        threads,
    })
}
