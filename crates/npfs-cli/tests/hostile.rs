//! A hostile client of `npfs serve`, across real processes: it opens connections through the
//! broker as any client would, maps the shared segment it is handed and writes patterns over
//! every word of it (0, 1, 2, !0, its own pid, a dead pid, random) — lock words, flags,
//! positions, entries, read records, ring bytes — while well-behaved clients keep calling the
//! same server. They must get correct answers, each within 1 s; afterwards the server serves a
//! new client within 2 s and stops on SIGTERM within 3 s.

use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use npfs_proto::shm::{HEADER_SIZE, RING_SIZE};

const NPFS: &str = env!("CARGO_BIN_EXE_npfs");
const LIMIT: Duration = Duration::from_secs(30);

/// A mapping of a memfd this (hostile) process was handed; unmapped on drop.
struct Mapped {
    base: *mut u32,
    len: usize,
}

impl Mapped {
    /// Map `len` bytes of `fd`, writable if the kernel allows it (`None` if it does not).
    fn writable(fd: std::os::fd::BorrowedFd<'_>, len: usize) -> Option<Mapped> {
        // SAFETY: a fresh shared mapping of a sealed memfd of at least `len` bytes; this
        // test writes into it on purpose, with volatile stores only, and never forms
        // references into it.
        let p = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
                fd,
                0,
            )
        }
        .ok()?;
        Some(Mapped {
            base: p.cast(),
            len,
        })
    }

    /// Store `f(i)` into every word.
    fn fill(&self, f: impl FnMut(usize) -> u32) {
        self.fill_from(0, f)
    }

    /// Store `f(i)` into every word from word `first` on.
    fn fill_from(&self, first: usize, mut f: impl FnMut(usize) -> u32) {
        for i in first..self.len / 4 {
            // SAFETY: i * 4 < len, inside the mapping; volatile, because other processes
            // read this memory.
            unsafe { self.base.add(i).write_volatile(f(i)) };
        }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: exactly the range mapped in `writable`.
        unsafe {
            let _ = rustix::mm::munmap(self.base.cast(), self.len);
        }
    }
}

/// A child process killed when the test ends, however it ends (a failed assertion must not
/// leave a server holding the test's output open).
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A pid that is certainly not running: a child that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().expect("spawn true");
    let pid = c.id();
    c.wait().expect("wait true");
    pid
}

fn call(dir: &std::path::Path, name: &str, msg: &str) -> (bool, Duration) {
    let t0 = Instant::now();
    let out = Command::new(NPFS)
        .env("NPFS_RUNTIME_DIR", dir)
        .args(["call", name, msg, "--timeout", "5000"])
        .stdin(Stdio::null())
        .output()
        .expect("run npfs call");
    let ok = out.status.success() && String::from_utf8_lossy(&out.stdout).trim_end() == msg;
    if !ok {
        eprintln!(
            "call {msg}: status {:?}, stdout {:?}, stderr {:?}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (ok, t0.elapsed())
}

/// `npfs serve NAME --message --instances N --echo` in runtime directory `dir`, once a call
/// gets through.
fn echo_server(dir: &std::path::Path, name: &str, instances: u32) -> Reaped {
    let server = Reaped(
        Command::new(NPFS)
            .env("NPFS_RUNTIME_DIR", dir)
            .args(["serve", name, "--message", "--instances"])
            .arg(instances.to_string())
            .arg("--echo")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start npfs serve"),
    );
    let t0 = Instant::now();
    while !call(dir, name, "warm-up").0 {
        assert!(t0.elapsed() < LIMIT, "npfs serve did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

#[test]
fn a_client_scribbling_on_its_shared_memory_harms_nobody_else() {
    let dir = tempfile::tempdir().expect("temp dir");
    let name = "hostile";
    let mut server = echo_server(dir.path(), name, 4);

    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU32::new(0));
    let attacker = {
        let stop = stop.clone();
        let rounds = rounds.clone();
        let dir = dir.path().to_path_buf();
        std::thread::spawn(move || {
            let cfg = npfs::broker::BrokerConfig::with_runtime_dir(&dir);
            let pipe =
                npfs_core::name::PipeName::parse(&format!(r"\\.\pipe\{name}")).expect("name");
            let me = std::process::id();
            let dead = dead_pid();
            let mut seed = 0x9e37_79b9_u32;
            let mut random = move || {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed
            };
            let patterns: [Option<u32>; 7] = [
                Some(0),
                Some(1),
                Some(2),
                Some(!0),
                Some(me),
                Some(dead),
                None,
            ];
            let mut k = 0;
            while !stop.load(Ordering::SeqCst) {
                let mut b = match npfs::broker::BrokerConn::connect_with(&cfg) {
                    Ok(b) => b,
                    Err(_) => continue,
                };
                // GENERIC_READ | GENERIC_WRITE: a client with every right, and every word.
                let Ok((fds, _)) = b.open(&pipe, 0xC000_0000) else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let header = Mapped::writable(fds.shm.as_fd(), HEADER_SIZE).expect("header");
                // Direction 1 (client → server) is ours to write; direction 0 the kernel
                // keeps read-only for us.
                let ring = Mapped::writable(fds.rings[1].as_fd(), RING_SIZE).expect("our ring");
                assert!(
                    Mapped::writable(fds.rings[0].as_fd(), RING_SIZE).is_none(),
                    "a client could map the server's ring writable"
                );
                let pattern = patterns[k % patterns.len()];
                k += 1;
                // Scribble for a while: the header over and over (lock, flags, positions,
                // entries, records), the ring once.
                ring.fill(|_| pattern.unwrap_or_else(&mut random));
                let until = Instant::now() + Duration::from_millis(300);
                while Instant::now() < until {
                    header.fill(|_| pattern.unwrap_or_else(&mut random));
                }
                rounds.fetch_add(1, Ordering::SeqCst);
                drop((header, ring));
                drop(fds);
            }
        })
    };

    // Well-behaved clients, one after another, while the attacker works.
    let started = Instant::now();
    let mut calls = 0;
    let mut worst = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(5) {
        let (ok, took) = call(dir.path(), name, &format!("good {calls}"));
        if took > Duration::from_millis(300) {
            eprintln!("call {calls} at {:?} took {took:?}", started.elapsed());
        }
        assert!(ok, "a well-behaved client got a wrong answer or none");
        assert!(
            took < Duration::from_secs(1),
            "a well-behaved client waited {took:?}"
        );
        worst = worst.max(took);
        calls += 1;
    }
    stop.store(true, Ordering::SeqCst);
    attacker.join().expect("attacker thread");
    let rounds = rounds.load(Ordering::SeqCst);
    eprintln!("{calls} good calls, slowest {worst:?}, {rounds} scribbled connections");
    assert!(
        rounds >= 3,
        "the attacker got only {rounds} connections: not a test"
    );

    // The server still serves a new client within 2 s.
    let (ok, took) = call(dir.path(), name, "after");
    assert!(
        ok && took < Duration::from_secs(2),
        "after the attack: {ok} in {took:?}"
    );

    // And stops on SIGTERM within 3 s, cleanly.
    let pid = rustix::process::Pid::from_raw(server.0.id() as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    let t0 = Instant::now();
    loop {
        if let Some(status) = server.0.try_wait().expect("wait npfs serve") {
            assert!(status.success(), "npfs serve exited with {status:?}");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "npfs serve did not stop within 3 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The shared queue of direction `dir` in a mapped header.
fn queue(header: &Mapped, dir: usize) -> &npfs_core::queue::SharedQueue {
    use npfs_proto::shm::{QUEUE_OFF, QUEUE_STRIDE};
    // SAFETY: the queue lies inside the header mapping at the layout's offset, aligned;
    // SharedQueue is atomics only, valid for any bit pattern and concurrent changes; the
    // reference does not outlive `header`.
    unsafe {
        &*header
            .base
            .cast::<u8>()
            .add(QUEUE_OFF + dir * QUEUE_STRIDE)
            .cast()
    }
}

/// What the injection attempt saw.
#[derive(Debug, PartialEq, Eq)]
enum Injection {
    /// The server echoed the forged message: it read bytes the client put in memory.
    Echoed,
    /// Nothing came back within the wait.
    Ignored,
}

/// Open `name` with `access` through the broker of `cfg`, forge one 4-byte message ("evil")
/// in the client → server queue by writing shared memory directly (the ring if the kernel
/// lets us map it writable, else only the header), and watch the server → client queue for
/// an echo for a second.
fn inject(cfg: &npfs::broker::BrokerConfig, name: &str, access: u32) -> Injection {
    use npfs_core::queue::{Entry, SharedQueue};
    let pipe = npfs_core::name::PipeName::parse(&format!(r"\\.\pipe\{name}")).expect("name");
    let mut b = npfs::broker::BrokerConn::connect_with(cfg).expect("broker");
    let (fds, _) = b.open(&pipe, access).expect("open");
    let header = Mapped::writable(fds.shm.as_fd(), HEADER_SIZE).expect("header");
    let ring = Mapped::writable(fds.rings[1].as_fd(), RING_SIZE);
    if access & npfs_core::consts::FILE_WRITE_DATA == 0 && access & 0x4000_0000 == 0 {
        assert!(
            ring.is_none(),
            "a read-only client mapped the request ring writable"
        );
        let owner = rustix::fs::fstat(&fds.rings[1]).expect("fstat").st_uid;
        if owner != rustix::process::geteuid().as_raw() {
            use std::os::fd::AsRawFd;
            let path = format!("/proc/self/fd/{}", fds.rings[1].as_raw_fd());
            assert!(
                rustix::fs::open(
                    path.as_str(),
                    rustix::fs::OFlags::RDWR,
                    rustix::fs::Mode::empty()
                )
                .is_err(),
                "another user reopened the request ring read-write"
            );
        }
    }
    let q: &SharedQueue = queue(&header, 1);
    let before = q.positions();
    if let Some(ring) = &ring {
        let at = (before.end as usize) % RING_SIZE;
        // SAFETY: four bytes inside the writable ring mapping (RING_SIZE is a multiple of 4
        // and `at` of 1: copy byte by byte, volatile).
        for (k, byte) in b"evil".iter().enumerate() {
            unsafe {
                ring.base
                    .cast::<u8>()
                    .add((at + k) % RING_SIZE)
                    .write_volatile(*byte)
            };
        }
    }
    q.set_entry(
        (before.e_tail % npfs_core::queue::MAX_ENTRIES as u64) as usize,
        &Entry {
            start: before.end,
            len: 4,
            op: 7,
            pid: std::process::id(),
            flags: 0,
        },
    );
    let mut after = before;
    after.end += 4;
    after.filled += 4;
    after.e_tail += 1;
    q.set_positions(&after, &before);
    // Ring like a writer: bump the direction's change counter and wake its sleepers (a
    // waiting reader sleeps until the counter moves; nothing looks on a timer).
    {
        // SAFETY: the counter of direction 1 lies inside the header mapping at the layout's
        // offset, 4-aligned; AtomicU32 is valid for any bit pattern and concurrent changes.
        let seq: &std::sync::atomic::AtomicU32 = unsafe {
            &*header
                .base
                .cast::<u8>()
                .add(npfs_proto::shm::SEQ_OFF + 4)
                .cast()
        };
        seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _ = rustix::thread::futex::wake(
            seq,
            rustix::thread::futex::Flags::empty(),
            i32::MAX as u32,
        );
    }
    let replies = queue(&header, 0);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(1) {
        if replies.positions().end > 0 {
            return Injection::Echoed;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Injection::Ignored
}

/// The role of this test binary when re-run as another user: the read-only attacker.
const ATTACKER_ENV: &str = "NPFS_HOSTILE_ATTACKER_DIR";

#[test]
fn a_read_only_client_cannot_write_into_the_server() {
    if let Some(run) = std::env::var_os(ATTACKER_ENV) {
        // The attacker, started by the test below as another Unix user.
        let cfg = npfs::broker::BrokerConfig::shared(run);
        let seen = inject(&cfg, "readonly", npfs_core::consts::GENERIC_READ);
        println!("ATTACKER-RESULT {seen:?}");
        return;
    }
    let root = rustix::process::geteuid().is_root();
    let dir = tempfile::tempdir().expect("temp dir");
    let run = dir.path().join("run");
    let mut broker = None;
    if root {
        // A broker shared between users (as the system broker is), so that another user
        // can reach the pipe with the read access the default DACL gives Everyone.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        broker = Some(Reaped(
            Command::new(NPFS)
                .args(["npfsd", "--shared", "--foreground", "--runtime-dir"])
                .arg(&run)
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start a shared broker"),
        ));
        let t0 = Instant::now();
        while !run.join("npfsd.sock").exists() {
            assert!(t0.elapsed() < LIMIT, "the shared broker did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _server = echo_server(&run, "readonly", 2);
    let cfg = if root {
        npfs::broker::BrokerConfig::shared(&run)
    } else {
        npfs::broker::BrokerConfig::with_runtime_dir(&run)
    };
    // The control: a client with write access that forges a message in shared memory gets
    // it echoed (so the probe sees an echo when there is one).
    assert_eq!(
        inject(&cfg, "readonly", 0xC000_0000),
        Injection::Echoed,
        "the probe does not see a forged message from a read-write client"
    );
    // A read-only client of the same user: nothing it writes reaches the server.
    assert_eq!(
        inject(&cfg, "readonly", npfs_core::consts::GENERIC_READ),
        Injection::Ignored
    );
    if root {
        // Another Unix user, allowed only to read: no writable mapping, no reopening the ring
        // read-write through /proc (the memfd is the broker's, mode 0600), nothing echoed.
        let user = "npfs-test-m";
        if Command::new("id")
            .arg(user)
            .output()
            .is_ok_and(|o| !o.status.success())
        {
            let _ = Command::new("useradd")
                .args(["-M", "-s", "/usr/sbin/nologin", user])
                .status();
        }
        let out = Command::new("setpriv")
            .args([
                &format!("--reuid={user}"),
                &format!("--regid={user}"),
                "--clear-groups",
            ])
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_read_only_client_cannot_write_into_the_server",
                "--nocapture",
            ])
            .env(ATTACKER_ENV, &run)
            .output()
            .expect("run the attacker as another user");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("ATTACKER-RESULT Ignored"),
            "the other user's attempt: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The server is unharmed.
    assert!(call(&run, "readonly", "after").0);
    drop(broker);
}

/// Roles swapped: a hostile server. It creates instances through the broker as any server
/// would, and once a client is paired, scribbles over every word it can map (the header, its
/// own ring) while `npfs call` waits for its answer, then goes away (as a crashed server
/// would). The client must neither crash nor stay hung once the server is gone: it ends with
/// an error, never a panic, never with data the server had no right to send. (A server that
/// stays connected and silent leaves its client waiting, scribbled or not, as any silent
/// server does on Windows: waits are woken by events, not by timers.) On an inbound pipe the
/// server has no right to write towards the client, and the kernel gives it no writable ring
/// to do it.
#[test]
fn a_scribbling_server_cannot_hang_crash_or_feed_its_client() {
    use npfs::broker::{ChannelEvent, InstanceChannel};
    use npfs_core::consts::*;
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = npfs::broker::BrokerConfig::with_runtime_dir(dir.path());
    for (open_mode, label) in [
        (PIPE_ACCESS_DUPLEX, "duplex"),
        (PIPE_ACCESS_INBOUND, "inbound"),
    ] {
        let name = format!("hostile-server-{label}");
        let pipe = npfs_core::name::PipeName::parse(&format!(r"\\.\pipe\{name}")).unwrap();
        let params = npfs_core::config::parse_create(
            open_mode,
            PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
            1,
            4096,
            4096,
            0,
        )
        .unwrap();
        let (mut chan, _) = InstanceChannel::create_with(&cfg, &pipe, &params).expect("create");
        let _ = chan.listen().expect("listen");
        // The victim: CallNamedPipe on a duplex pipe, a plain writer on an inbound one.
        let victim_args: Vec<&str> = if open_mode == PIPE_ACCESS_DUPLEX {
            vec!["call", &name, "hello", "--timeout", "3000"]
        } else {
            vec!["connect", &name, "--message", "-t", "1"]
        };
        let mut victim = Reaped(
            Command::new(NPFS)
                .env("NPFS_RUNTIME_DIR", dir.path())
                .args(&victim_args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start the victim"),
        );
        if let Some(mut stdin) = victim.0.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(b"hello\n");
        }
        let fds = match chan.poll_event(Some(LIMIT)).expect("event") {
            Some(ChannelEvent::Connected { fds, .. }) => fds,
            other => panic!("no client came: {other:?}"),
        };
        let header = Mapped::writable(fds.shm.as_fd(), HEADER_SIZE).expect("header");
        let own_ring = Mapped::writable(fds.rings[0].as_fd(), RING_SIZE);
        if open_mode == PIPE_ACCESS_INBOUND {
            assert!(
                own_ring.is_none(),
                "the server of an inbound pipe mapped a ring towards its client writable"
            );
        }
        assert!(
            Mapped::writable(fds.rings[1].as_fd(), RING_SIZE).is_none(),
            "a server mapped its client's ring writable"
        );
        let mut seed = 0x1234_5678_u32;
        let until = Instant::now() + Duration::from_secs(2);
        let mut k = 0u32;
        while Instant::now() < until {
            let v = match k % 4 {
                0 => 2,
                1 => !0,
                2 => 1,
                _ => {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed
                }
            };
            // Past the stamp (magic, version), so that the client maps the header and then
            // meets everything else: lock, flags, positions, entries, records.
            header.fill_from(2, |_| v);
            if let Some(r) = &own_ring {
                r.fill(|_| v);
            }
            k += 1;
        }
        // The server goes away, as a crashed one would: its client learns it from the
        // connection's hang-up, whatever the shared memory now says.
        drop((header, own_ring, fds));
        // The victim ends by itself within 10 s.
        let t0 = Instant::now();
        let status = loop {
            if let Some(st) = victim.0.try_wait().expect("wait victim") {
                break st;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "{label}: the client of a scribbling server hung"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        let mut out = Vec::new();
        use std::io::Read;
        let _ = victim.0.stderr.take().unwrap().read_to_string(&mut err);
        let _ = victim.0.stdout.take().unwrap().read_to_end(&mut out);
        assert!(
            !err.contains("panicked"),
            "{label}: the client panicked: {err}"
        );
        assert_ne!(
            status.code(),
            Some(101),
            "{label}: the client panicked: {err}"
        );
        if open_mode == PIPE_ACCESS_INBOUND {
            assert!(out.is_empty(), "{label}: the server fed its client {out:?}");
        }
        eprintln!(
            "{label}: victim ended with {status:?} after the attack: {}",
            err.trim()
        );
        drop(chan);
    }
}
