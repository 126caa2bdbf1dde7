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

use npfs_proto::shm::{HEADER_SIZE, SEGMENT_SIZE};

const NPFS: &str = env!("CARGO_BIN_EXE_npfs");
const LIMIT: Duration = Duration::from_secs(30);

/// A mapping of a segment this (hostile) process was handed; unmapped on drop.
struct Mapped {
    base: *mut u32,
}

impl Mapped {
    fn new(fd: std::os::fd::BorrowedFd<'_>) -> Mapped {
        // SAFETY: a fresh shared mapping of the broker's memfd, which is SEGMENT_SIZE bytes
        // and sealed against shrinking; this test writes into it on purpose, with volatile
        // stores only, and never forms references into it.
        let p = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                SEGMENT_SIZE,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
                fd,
                0,
            )
        }
        .expect("map the segment");
        Mapped { base: p.cast() }
    }

    /// Store `f(i)` into word `i` of the first `bytes` bytes.
    fn fill(&self, bytes: usize, mut f: impl FnMut(usize) -> u32) {
        for i in 0..bytes / 4 {
            // SAFETY: i * 4 < bytes <= SEGMENT_SIZE, inside the mapping; volatile, because
            // other processes read this memory.
            unsafe { self.base.add(i).write_volatile(f(i)) };
        }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: exactly the range mapped in `new`.
        unsafe {
            let _ = rustix::mm::munmap(self.base.cast(), SEGMENT_SIZE);
        }
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

#[test]
fn a_client_scribbling_on_its_shared_memory_harms_nobody_else() {
    let dir = tempfile::tempdir().expect("temp dir");
    let name = "hostile";
    let mut server = Command::new(NPFS)
        .env("NPFS_RUNTIME_DIR", dir.path())
        .args(["serve", name, "--message", "--instances", "4", "--echo"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start npfs serve");
    // The server is up once a call gets through.
    let t0 = Instant::now();
    while !call(dir.path(), name, "warm-up").0 {
        assert!(t0.elapsed() < LIMIT, "npfs serve did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }

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
                let seg = Mapped::new(fds.shm.as_fd());
                let pattern = patterns[k % patterns.len()];
                k += 1;
                // Scribble for a while: the header over and over (lock, flags, positions,
                // entries, records), the rings once.
                seg.fill(SEGMENT_SIZE, |_| pattern.unwrap_or_else(&mut random));
                let until = Instant::now() + Duration::from_millis(300);
                while Instant::now() < until {
                    seg.fill(HEADER_SIZE, |_| pattern.unwrap_or_else(&mut random));
                }
                rounds.fetch_add(1, Ordering::SeqCst);
                drop(seg);
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
    let pid = rustix::process::Pid::from_raw(server.id() as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    let t0 = Instant::now();
    loop {
        if let Some(status) = server.try_wait().expect("wait npfs serve") {
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
